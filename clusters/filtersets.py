"""Server-side filters of the clusters API, and Kubernetes label selectors as JSONB queries.

Filtering happens in PostgreSQL, never in Python, so a 100k-pod list costs what one page costs.
Label selectors use Kubernetes syntax (``app=web,tier!=db,env in (a,b),!canary``) so people can
paste what they would give ``kubectl -l``; each requirement becomes a containment (``@>``, served
by the GIN index on ``labels``) or a key test on :attr:`KubeObject.labels`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import django_filters
from django.db import connections
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from rest_framework.exceptions import ValidationError

from clusters.models import Cluster, ClusterStatus, KubeObject, Provider, Stage
from portal.filtersets import StrictBooleanFilter

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
LABEL_KEY = re.compile(rf"^({_PREFIX}/)?{_NAME}$")
LABEL_VALUE = re.compile(rf"^({_NAME})?$")

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")


def label_key_error(key: str) -> str | None:
    """Why ``key`` is not a valid Kubernetes label key, or None."""
    prefix, _, name = key.rpartition("/")
    if not LABEL_KEY.match(key) or len(name) > 63 or len(prefix) > 253:
        return (f"'{key[:80]}' is not a valid label key: an optional DNS prefix and '/', then up to 63 "
                "letters, digits, '-', '_' or '.', starting and ending with a letter or digit.")
    return None


def label_value_error(value: str) -> str | None:
    if len(value) > 63 or not LABEL_VALUE.match(value):
        return (f"'{value[:80]}' is not a valid label value: up to 63 letters, digits, '-', '_' or '.', "
                "starting and ending with a letter or digit.")
    return None


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def q(self) -> Q:
        def has(value: str) -> Q:
            return Q(labels__contains={self.key: value})

        if self.operator == "=":
            return has(self.values[0])
        if self.operator == "!=":  # Kubernetes: also matches objects without the key
            return ~has(self.values[0])
        if self.operator == "in":
            out = Q()
            for value in self.values:
                out |= has(value)
            return out
        if self.operator == "notin":
            out = Q()
            for value in self.values:
                out &= ~has(value)
            return out
        if self.operator == "exists":
            return Q(labels__has_key=self.key)
        return ~Q(labels__has_key=self.key)


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced ')'")
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise ValueError("unbalanced '('")
    parts.append("".join(current))
    return parts


_SET_RE = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQ_RE = re.compile(r"^(?P<key>[^=!\s]+)\s*(?P<op>==|=|!=)\s*(?P<value>\S*)$")


def parse_label_selector(selector: str) -> list[Requirement]:
    """Parse a Kubernetes label selector; raise ``ValueError`` with a message naming the problem."""
    selector = selector.strip()
    if not selector:
        return []
    if len(selector) > 4096:
        raise ValueError("The label selector is longer than 4096 characters.")
    requirements: list[Requirement] = []
    for raw in _split_top_level(selector):
        part = raw.strip()
        if not part:
            raise ValueError("The label selector has an empty requirement (two commas in a row?).")
        match = _SET_RE.match(part)
        if match:
            values = tuple(v.strip() for v in match["values"].split(","))
            if not values or any(not v for v in values):
                raise ValueError(f"'{part}': give at least one value in the parentheses, separated by commas.")
            requirement = Requirement(match["key"], match["op"], values)
        elif (match := _EQ_RE.match(part)) is not None:
            requirement = Requirement(match["key"], "!=" if match["op"] == "!=" else "=", (match["value"],))
        elif part.startswith("!"):
            requirement = Requirement(part[1:].strip(), "!exists")
        elif re.fullmatch(r"\S+", part):
            requirement = Requirement(part, "exists")
        else:
            raise ValueError(f"'{part}' is not a label requirement: use key=value, key!=value, "
                             "key in (a,b), key notin (a,b), key or !key.")
        error = label_key_error(requirement.key)
        if error is None:
            error = next((e for v in requirement.values if (e := label_value_error(v))), None)
        if error:
            raise ValueError(error)
        requirements.append(requirement)
    return requirements


def label_selector_q(selector: str) -> Q:
    """The selector as a ``Q`` on ``labels``; a DRF ValidationError on ``label_selector`` if invalid."""
    try:
        requirements = parse_label_selector(selector)
    except ValueError as exc:
        raise ValidationError({"label_selector": [str(exc)]}) from exc
    out = Q()
    for requirement in requirements:
        out &= requirement.q()
    return out


class ClusterFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", help_text="Part of the name or display name, or a label value.")
    status = django_filters.ChoiceFilter(choices=ClusterStatus.choices)
    provider = django_filters.ChoiceFilter(choices=Provider.choices)
    stage = django_filters.ChoiceFilter(choices=Stage.choices)
    region = django_filters.CharFilter()
    label = django_filters.CharFilter(method="filter_label", help_text="A label as key=value (or just key).")

    class Meta:
        model = Cluster
        fields = ("q", "status", "provider", "stage", "region", "label")

    def filter_q(self, queryset: QuerySet[Cluster], name: str, value: str) -> QuerySet[Cluster]:
        value = value.strip()
        label_value_matches = RawSQL(
            "EXISTS (SELECT 1 FROM jsonb_each_text(clusters_cluster.labels) AS l WHERE l.value ILIKE %s)",
            (f"%{value}%",), output_field=BooleanField(),
        )
        return queryset.filter(Q(name__icontains=value) | Q(display_name__icontains=value) | Q(label_value_matches))

    def filter_label(self, queryset: QuerySet[Cluster], name: str, value: str) -> QuerySet[Cluster]:
        key, sep, label_value = value.partition("=")
        if not sep:
            return queryset.filter(labels__has_key=key.strip())
        return queryset.filter(labels__contains={key.strip(): label_value.strip()})


class NamespaceFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", help_text="Part of the name.")

    class Meta:
        model = KubeObject
        fields = ("q",)


class NamespacedFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", help_text="Part of the name.")
    namespace = django_filters.CharFilter()

    class Meta:
        model = KubeObject
        fields = ("q", "namespace")


class NodeFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", help_text="Part of the name.")
    ready = StrictBooleanFilter(method="filter_data_bool", help_text="Nodes whose Ready condition is True.")
    unschedulable = StrictBooleanFilter(method="filter_data_bool", help_text="Cordoned nodes.")

    class Meta:
        model = KubeObject
        fields = ("q", "ready", "unschedulable")

    def filter_data_bool(self, queryset: QuerySet[KubeObject], name: str, value: bool) -> QuerySet[KubeObject]:
        if value:
            return queryset.filter(**{f"data__{name}": True})
        return queryset.exclude(**{f"data__{name}": True})


# (kind, kind of its controlling owner) pairs where the owner is a workload the same list shows:
# a Deployment's ReplicaSets and a CronJob's Jobs. Pods stay on the pods list.
CONTROLLED_WORKLOADS = (("ReplicaSet", "Deployment"), ("Job", "CronJob"))


def controlled_q() -> Q:
    """Workloads another listed workload controls (``data.owner`` is the controlling owner the
    projection stored). A condition on columns of the row being read, so it costs nothing beyond
    the rows a page reads: no join, no subquery, whatever the size of the cluster. Containment
    (``@>``) rather than ``data->'owner'->'kind' =``: it is false, not NULL, for a row without an
    owner, so the negation keeps those rows."""
    out = Q()
    for kind, owner in CONTROLLED_WORKLOADS:
        out |= Q(kind=kind, data__contains={"owner": {"kind": owner}})
    return out


class WorkloadFilterSet(NamespacedFilterSet):
    kind = django_filters.MultipleChoiceFilter(
        choices=[(k, k) for k in WORKLOAD_KINDS], help_text="One or more workload kinds (repeat the parameter)."
    )
    top_level = StrictBooleanFilter(
        method="filter_top_level",
        help_text="true: leave out the workloads another listed workload controls (a Deployment's ReplicaSets, "
                  "a CronJob's Jobs), as other consoles do; false: only those. Absent: all.",
    )

    class Meta:
        model = KubeObject
        fields = ("q", "namespace", "kind", "top_level")

    def filter_top_level(self, queryset: QuerySet[KubeObject], name: str, value: bool | None) -> QuerySet[KubeObject]:
        if value is None:
            return queryset
        return queryset.exclude(controlled_q()) if value else queryset.filter(controlled_q())


@functools.cache
def _codepoint_collation(alias: str = "default") -> bool:
    """True when the database sorts text by code point (C / POSIX / C.UTF-8)."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT datcollate FROM pg_database WHERE datname = current_database()")
        row = cursor.fetchone()
    return bool(row) and str(row[0]).split(".")[0] in ("C", "POSIX")


def filter_name_prefix(queryset: QuerySet[KubeObject], name: str, value: str) -> QuerySet[KubeObject]:
    """Names starting with ``value``, as an index range the planner can estimate and seek.

    ``LIKE 'prefix%'`` cannot use a btree index under a non-C collation, and PostgreSQL guesses its
    selectivity badly (it then sorts a sequential scan instead of walking the name index). Under a
    code-point collation, ``prefix <= name < prefix-with-last-character-incremented`` is exactly the
    same set; elsewhere only the lower bound (true of every string with the prefix) is added.
    """
    if not value:
        return queryset
    bounds = Q(name__gte=value)
    if _codepoint_collation(queryset.db):
        bounds &= Q(name__lt=value[:-1] + chr(ord(value[-1]) + 1))
    return queryset.filter(bounds, name__startswith=value)


class PodFilterSet(django_filters.FilterSet):
    namespace = django_filters.CharFilter()
    node = django_filters.CharFilter(field_name="node_name")
    phase = django_filters.CharFilter(help_text="Pending, Running, Succeeded, Failed or Unknown.")
    name_prefix = django_filters.CharFilter(method=filter_name_prefix, help_text="Names starting with this.")
    label_selector = django_filters.CharFilter(
        method="filter_label_selector", help_text="Kubernetes label selector: app=web,tier!=db,env in (a,b),!canary."
    )

    class Meta:
        model = KubeObject
        fields = ("namespace", "node", "phase", "name_prefix", "label_selector")

    def filter_label_selector(self, queryset: QuerySet[KubeObject], name: str, value: str) -> QuerySet[KubeObject]:
        return queryset.filter(label_selector_q(value))


class EventFilterSet(django_filters.FilterSet):
    namespace = django_filters.CharFilter()
    type = django_filters.ChoiceFilter(field_name="phase", choices=[("Normal", "Normal"), ("Warning", "Warning")])
    involved_kind = django_filters.CharFilter(field_name="data__involved__kind")
    involved_name = django_filters.CharFilter(field_name="data__involved__name")

    class Meta:
        model = KubeObject
        fields = ("namespace", "type", "involved_kind", "involved_name")


class SearchFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method=filter_name_prefix, help_text="Name prefix.")
    label_selector = django_filters.CharFilter(
        method="filter_label_selector", help_text="Kubernetes label selector: app=web,tier!=db."
    )
    namespace = django_filters.CharFilter()

    class Meta:
        model = KubeObject
        fields = ("q", "label_selector", "namespace")

    def filter_label_selector(self, queryset: QuerySet[KubeObject], name: str, value: str) -> QuerySet[KubeObject]:
        return queryset.filter(label_selector_q(value))

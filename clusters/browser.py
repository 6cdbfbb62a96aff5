"""The generic resource browser: every kind a cluster serves, custom resources included.

Operators expect to browse everything ``kubectl api-resources`` lists (issue 21 §2). This module
answers the three questions of the browser, through the client layer only:

* **What does the cluster serve?** Its discovery (:mod:`clusters.kube.discovery`), cached briefly
  per cluster in the shared cache, so opening the kind picker costs the cluster nothing most times.
* **A page of one kind**: kinds the watcher keeps in the read model are read from PostgreSQL
  (``source: read_model``: fast, no call to the cluster); every other kind is asked live, through
  the view's :class:`clusters.gateway.LiveRead` (its strict time budget) and the server's paging and selectors (``source: live``), as the server's
  ``meta.k8s.io/v1`` Table, so the columns are the ones ``kubectl get`` prints, a CRD's printer
  columns included.
* **One object**, always live (the read model keeps projections, not objects), without
  ``managedFields``.

Secrets never leave here with their values: a Secret is shown with its metadata, type and key
names; the ``last-applied-configuration`` annotation (which carries the values in clear) is
dropped from Secrets in lists and details alike. Authorization is the caller's business
(:mod:`clusters.api.resources`, through :mod:`clusters.access`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, QuerySet

from clusters.filtersets import parse_label_selector
from clusters.gateway import LiveRead
from clusters.kube.discovery import ApiResource, get_object, list_table, served_resources
from clusters.kube.kinds import WATCHED_KINDS
from clusters.models import Cluster, KubeObject
from clusters.readmodel import kind_freshness

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
CORE = "core"  # how the core ("") group is written in the portal's URLs

# Preferred versions of the read model's kinds, so a read-model page needs no discovery.
_READ_MODEL_VERSIONS = {"": "v1", "apps": "v1", "batch": "v1", "networking.k8s.io": "v1", "storage.k8s.io": "v1",
                        "autoscaling": "v2"}
# (group, plural) -> (kind, namespaced, version); promoted kinds (PORTAL_WATCH_EXTRA_RESOURCES) included
READ_MODEL_KINDS: dict[tuple[str, str], tuple[str, bool, str]] = {
    (k.group, k.resource): (k.kind, k.namespaced, getattr(k, "version", "") or _READ_MODEL_VERSIONS.get(k.group, "v1"))
    for k in WATCHED_KINDS
}


class BrowserProblem(Exception):
    """Bad input to the browser: ``code`` is stable, the message says what to change."""

    def __init__(self, code: str, message: str, *, status: int = 400, field: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.field = field


def discovery_ttl() -> float:
    return float(getattr(settings, "PORTAL_RESOURCE_DISCOVERY_TTL", 60.0))


def _cache_key(cluster: Cluster) -> str:
    # the credentials may change what is served (RBAC): a new connection, a new entry
    stamp = f"{cluster.server}|{cluster.credentials_encrypted}"
    return f"clusters:resources:{cluster.pk}:{hashlib.sha256(stamp.encode()).hexdigest()[:16]}"


def _read_model_resource(group: str, plural: str) -> ApiResource | None:
    found = READ_MODEL_KINDS.get((group, plural))
    if found is None:
        return None
    kind, namespaced, version = found
    return ApiResource(group=group, version=version, plural=plural, kind=kind, namespaced=namespaced,
                       verbs=("get", "list", "watch"))


def read_model_resources() -> list[ApiResource]:
    """The read model's kinds, browsable without asking the cluster."""
    return [r for (group, plural) in READ_MODEL_KINDS if (r := _read_model_resource(group, plural)) is not None]


def served(cluster: Cluster, read: LiveRead, *, refresh: bool = False) -> list[ApiResource]:
    """The cluster's listable kinds (cached for :func:`discovery_ttl` seconds). Raises the
    client layer's typed errors (and DecryptionError) when the cluster must be asked (inside
    :func:`clusters.gateway.live_read` they become the portal's errors)."""
    key = _cache_key(cluster)
    cached = None if refresh else cache.get(key)
    if cached is not None:
        return [ApiResource(**{**r, "verbs": tuple(r["verbs"]), "short_names": tuple(r["short_names"]),
                               "categories": tuple(r["categories"])}) for r in cached]
    resources = served_resources(read.client, timeout=read.budget)
    cache.set(key, [r.as_dict() for r in resources], discovery_ttl())
    return resources


def source_of(resource: ApiResource) -> str:
    return "read_model" if (resource.group, resource.plural) in READ_MODEL_KINDS else "live"


def resolve(cluster: Cluster, read: LiveRead, group: str, version: str, plural: str) -> ApiResource:
    """The served resource the URL names (``core`` for the core group). Kinds of the read model
    resolve without asking the cluster; others need discovery (404 ``unknown_resource`` when the
    cluster does not serve them)."""
    api_group = "" if group == CORE else group
    local = _read_model_resource(api_group, plural)
    if local is not None and local.version == version:
        return local
    for r in served(cluster, read):
        if (r.group, r.version, r.plural) == (api_group, version, plural):
            return r
    for r in served(cluster, read, refresh=True):  # a CRD created a moment ago
        if (r.group, r.version, r.plural) == (api_group, version, plural):
            return r
    raise BrowserProblem("unknown_resource", f"The cluster does not serve {plural} in "
                                             f"{(api_group + '/') if api_group else ''}{version}.", status=404)


# ---------------------------------------------------------------------------- paging and selectors


def parse_limit(text: str | None) -> int:
    if text in (None, ""):
        return DEFAULT_LIMIT
    try:
        value = int(str(text))
    except ValueError as exc:
        raise BrowserProblem("invalid_limit", f"limit must be a whole number from 1 to {MAX_LIMIT}.",
                             field="limit") from exc
    if not 1 <= value <= MAX_LIMIT:
        raise BrowserProblem("invalid_limit", f"limit must be a whole number from 1 to {MAX_LIMIT}.", field="limit")
    return value


def check_label_selector(text: str) -> None:
    try:
        parse_label_selector(text)
    except ValueError as exc:
        raise BrowserProblem("invalid_label_selector", f"labelSelector: {exc}", field="labelSelector") from exc


_FIELD_REQ = re.compile(r"^\s*(?P<field>[A-Za-z0-9_.]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^,]*?)\s*$")


def parse_field_selector(text: str) -> list[tuple[str, str, str]]:
    """``a=b,c!=d`` as (field, op, value) triples; a 400 ``invalid_field_selector`` otherwise."""
    out = []
    for part in text.split(","):
        if not part.strip():
            continue
        match = _FIELD_REQ.match(part)
        if match is None:
            raise BrowserProblem("invalid_field_selector", f"fieldSelector: '{part.strip()}' is not field=value, "
                                 "field==value or field!=value.", field="fieldSelector")
        out.append((match["field"], "!=" if match["op"] == "!=" else "=", match["value"]))
    return out


# ---------------------------------------------------------------------------- pages


@dataclass
class Page:
    source: str
    resource: ApiResource
    columns: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    continue_token: str = ""
    remaining: int | None = None
    freshness: dict[str, Any] | None = None  # read-model pages: how fresh the watcher's copy is

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "resource": {**self.resource.as_dict(), "source": self.source},
                "columns": self.columns, "rows": self.rows, "continue": self.continue_token,
                "remaining": self.remaining, "freshness": self.freshness}


_READ_MODEL_FIELDS = {"metadata.name": "name", "metadata.namespace": "namespace", "spec.nodeName": "node_name",
                      "status.phase": "phase"}


def _encode_cursor(namespace: str, name: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([namespace, name]).encode()).decode()


def _decode_cursor(token: str) -> tuple[str, str]:
    try:
        namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(namespace), str(name)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise BrowserProblem("invalid_continue", "continue is not a token this list gave out; start from the "
                                                 "first page.", field="continue") from exc


def read_model_page(cluster: Cluster, resource: ApiResource, *, namespaces: list[str] | None, namespace: str,
                    label_selector: str, field_selector: str, limit: int, continue_token: str) -> Page:
    """A page of a read-model kind, shaped like the live Table (Name, Namespace, Status, Age)."""
    from clusters.filtersets import label_selector_q

    kind = READ_MODEL_KINDS[(resource.group, resource.plural)][0]
    objects: QuerySet[KubeObject] = KubeObject.objects.filter(cluster=cluster, kind=kind)
    if namespaces is not None:
        objects = objects.filter(name__in=namespaces) if kind == "Namespace" else objects.filter(
            namespace__in=namespaces)
    if namespace and resource.namespaced:
        objects = objects.filter(namespace=namespace)
    if label_selector:
        check_label_selector(label_selector)
        objects = objects.filter(label_selector_q(label_selector))
    for fld, op, value in parse_field_selector(field_selector):
        column = _READ_MODEL_FIELDS.get(fld)
        if column is None:
            raise BrowserProblem("invalid_field_selector", f'fieldSelector: "{fld}" is not a supported field '
                                 f"selector for {kind}; use one of {', '.join(_READ_MODEL_FIELDS)}.",
                                 field="fieldSelector")
        condition = Q(**{column: value})
        objects = objects.exclude(condition) if op == "!=" else objects.filter(condition)
    if continue_token:
        after_ns, after_name = _decode_cursor(continue_token)
        objects = objects.filter(Q(namespace__gt=after_ns) | Q(namespace=after_ns, name__gt=after_name))
    rows_qs = list(objects.order_by("namespace", "name")[: limit + 1])
    more = len(rows_qs) > limit
    rows_qs = rows_qs[:limit]
    columns = [{"name": "Name", "type": "string", "format": "name", "priority": 0, "description": "Name"}]
    if resource.namespaced:
        columns.append({"name": "Namespace", "type": "string", "format": "", "priority": 0,
                        "description": "Namespace"})
    columns += [{"name": "Status", "type": "string", "format": "", "priority": 0, "description": "Status"},
                {"name": "Age", "type": "date", "format": "", "priority": 0, "description": "Created"}]
    rows = []
    for o in rows_qs:
        cells: list[Any] = [o.name] + ([o.namespace] if resource.namespaced else [])
        cells += [o.phase or None, o.created.isoformat() if o.created else None]
        rows.append({"name": o.name, "namespace": o.namespace, "cells": cells, "labels": o.labels})
    token = _encode_cursor(rows_qs[-1].namespace, rows_qs[-1].name) if more and rows_qs else ""
    fresh = kind_freshness(cluster, [kind])
    last = fresh.get("last_event")
    return Page("read_model", resource, columns, rows, token, freshness={
        "state": fresh["state"], "last_event": last.isoformat() if last is not None else None})


def _clean_metadata(resource: ApiResource, metadata: dict[str, Any]) -> dict[str, Any]:
    md = dict(metadata)
    md.pop("managedFields", None)
    if resource.group == "" and resource.plural == "secrets" and isinstance(md.get("annotations"), dict):
        md["annotations"] = {k: v for k, v in md["annotations"].items() if k != LAST_APPLIED}
    return md


def live_page(read: LiveRead, resource: ApiResource, *, namespace: str, label_selector: str,
              field_selector: str, limit: int, continue_token: str) -> Page:
    """A page of any kind, asked of the cluster as a Table. Raises the client layer's typed errors."""
    if label_selector:
        check_label_selector(label_selector)
    parse_field_selector(field_selector)
    table = list_table(read.client, resource, namespace=namespace if resource.namespaced else "",
                       label_selector=label_selector, field_selector=field_selector, limit=limit,
                       continue_token=continue_token, timeout=read.budget)
    columns = [{"name": str(c.get("name", "")), "type": str(c.get("type", "string")),
                "format": str(c.get("format", "")), "priority": int(c.get("priority") or 0),
                "description": str(c.get("description", ""))} for c in table.get("columnDefinitions") or []]
    rows = []
    for row in table.get("rows") or []:
        md = _clean_metadata(resource, ((row.get("object") or {}).get("metadata")) or {})
        rows.append({"name": md.get("name", ""), "namespace": md.get("namespace", ""),
                     "cells": list(row.get("cells") or []), "labels": md.get("labels") or {}})
    meta = table.get("metadata") or {}
    remaining = meta.get("remainingItemCount")
    return Page("live", resource, columns, rows, str(meta.get("continue") or ""),
                int(remaining) if isinstance(remaining, int) else None)


def fetch_object(read: LiveRead, resource: ApiResource, name: str, *, namespace: str) -> dict[str, Any]:
    """One object, live, without ``managedFields``; a Secret keeps its key names only (``data``
    and ``stringData`` values are never returned: ``secret_keys`` lists the keys)."""
    obj = get_object(read.client, resource, name, namespace=namespace if resource.namespaced else "",
                     timeout=read.budget)
    obj["metadata"] = _clean_metadata(resource, obj.get("metadata") or {})
    if resource.group == "" and resource.plural == "secrets":
        keys = sorted({*(obj.get("data") or {}), *(obj.get("stringData") or {})})
        obj.pop("data", None)
        obj.pop("stringData", None)
        return {"object": obj, "secret_keys": keys}
    return {"object": obj, "secret_keys": None}

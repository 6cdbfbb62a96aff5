"""The timeline's pure rules: the query a caller may give, one order over every source, the cursor
that pages through that order, the k-way merge of a page, and the diffs of recorded changes.

No I/O: :mod:`activity.sources` runs one query per source (each already in this order, at most a
page plus one row after the cursor) and :func:`merge` cuts the page, so a page costs a fixed number
of queries whatever the depth and however many rows each source holds.

The order is newest first by ``(time, rank, pk)``: ``rank`` is the table's fixed rank (so rows of
two tables at the same instant still have one order, and an event that a change caused in the
same second shows above it), ``pk`` the row's id within its table. The cursor is the key of the
last row served; each source continues strictly below it (:func:`seek`).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import difflib
import heapq
import itertools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.db.models import Q

from portal import errors

# What the caller filters by (``source=``) and the tables behind each.
SOURCES: tuple[str, ...] = ("portal", "event", "release", "outside", "exec")
TABLES_OF_SOURCE: dict[str, tuple[str, ...]] = {
    "portal": ("portal",), "event": ("event",), "release": ("revision", "rollout"), "outside": ("outside",),
    "exec": ("exec",),
}
# Ties at one instant: higher ranks are newer (an event above the change that caused it).
RANK: dict[str, int] = {"exec": 0, "portal": 1, "outside": 2, "revision": 3, "rollout": 4, "event": 5}
TABLE_OF_RANK = {rank: table for table, rank in RANK.items()}

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,62}$")


# ----------------------------------------------------------------------------- the query


@dataclass(frozen=True)
class Query:
    """What a caller asked for, checked for shape (not yet for visibility: see activity.access)."""

    cluster: int | None = None
    namespace: str | None = None
    kind: str = ""
    name: str = ""
    service_map: int | None = None
    workspace: int | None = None
    sources: frozenset[str] = frozenset(SOURCES)
    cursor: Key | None = None
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def scope(self) -> str:
        if self.service_map is not None:
            return "service_map"
        if self.workspace is not None:
            return "workspace"
        return "object" if self.name else "cluster"


def _invalid(param: str, message: str) -> errors.Invalid:
    return errors.Invalid(message, code="activity_param_invalid", params={"param": param}, errors={param: [message]})


def _id(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name, "")
    if value == "":
        return None
    if not value.isdigit() or len(value) > 18:
        raise _invalid(name, f"{name} must be an id (a whole number).")
    return int(value)


def parse_query(params: Mapping[str, str]) -> Query:
    """The query of ``?cluster=&namespace=&kind=&name=`` | ``?service_map=`` | ``?workspace=``, with
    ``source=`` (comma-separated), ``cursor`` and ``page_size``. Raises :class:`portal.errors.Invalid`
    with a stable code naming what is wrong."""
    cluster, service_map, workspace = _id(params, "cluster"), _id(params, "service_map"), _id(params, "workspace")
    given = [n for n, v in (("cluster", cluster), ("service_map", service_map), ("workspace", workspace))
             if v is not None]
    if not given:
        raise errors.Invalid("Give a scope: cluster (with namespace, kind and name for one object), service_map "
                             "or workspace.", code="activity_scope_required")
    if len(given) > 1:
        raise errors.Invalid(f"Give one scope, not {' and '.join(given)}.", code="activity_scope_conflict",
                             params={"scopes": given})
    namespace = params.get("namespace")
    kind, name = params.get("kind", ""), params.get("name", "")
    if cluster is None and (namespace is not None or kind or name):
        raise _invalid("namespace" if namespace is not None else ("kind" if kind else "name"),
                       "namespace, kind and name narrow a cluster's timeline; give cluster too.")
    if namespace and (len(namespace) > 63 or not _NAME.match(namespace)):
        raise _invalid("namespace", "namespace must be a Kubernetes namespace name.")
    if kind and not _KIND.match(kind):
        raise _invalid("kind", "kind must be a Kubernetes kind such as Deployment.")
    if name and (len(name) > 253 or not _NAME.match(name)):
        raise _invalid("name", "name must be a Kubernetes object name.")
    if bool(kind) != bool(name):
        raise _invalid("name" if kind else "kind", "Give kind and name together for one object's timeline.")
    sources = frozenset(SOURCES)
    raw_sources = params.get("source", "")
    if raw_sources:
        wanted = {s.strip() for s in raw_sources.split(",") if s.strip()}
        unknown = sorted(wanted - set(SOURCES))
        if unknown or not wanted:
            raise errors.Invalid(f"Unknown source {', '.join(unknown) or raw_sources!r}; choose from "
                                 f"{', '.join(SOURCES)}.", code="activity_source_invalid",
                                 params={"source": ", ".join(unknown), "choices": ", ".join(SOURCES)},
                                 errors={"source": [f"Choose from {', '.join(SOURCES)}."]})
        sources = frozenset(wanted)
    size_text = params.get("page_size", "")
    page_size = DEFAULT_PAGE_SIZE
    if size_text:
        if not size_text.isdigit() or not 1 <= int(size_text) <= MAX_PAGE_SIZE:
            raise _invalid("page_size", f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}.")
        page_size = int(size_text)
    cursor_text = params.get("cursor", "")
    # One object: "" is a cluster-scoped one. A cluster's timeline: no namespace means all of them.
    scoped_namespace = (namespace or "") if name else (namespace or None)
    return Query(cluster=cluster, namespace=scoped_namespace, kind=kind, name=name, service_map=service_map, workspace=workspace,
                 sources=sources, cursor=decode_cursor(cursor_text) if cursor_text else None, page_size=page_size)


# ----------------------------------------------------------------------------- order and cursor


@dataclass(frozen=True, order=True)
class Key:
    """A row's place in the order (compared as a tuple: newest is the largest)."""

    time: datetime.datetime
    rank: int
    pk: int


def encode_cursor(key: Key) -> str:
    raw = json.dumps({"t": key.time.isoformat(), "r": key.rank, "p": key.pk}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Key:
    bad = errors.Invalid("Invalid cursor; start again from the first page.", code="cursor_invalid",
                         errors={"cursor": ["Invalid cursor; start again from the first page."]})
    if len(text) > 200:
        raise bad
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        key = Key(datetime.datetime.fromisoformat(data["t"]), int(data["r"]), int(data["p"]))
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise bad from exc
    if key.time.tzinfo is None or key.rank not in TABLE_OF_RANK:
        raise bad
    return key


def seek(cursor: Key | None, table: str, time: str, pk: str = "pk") -> Q:
    """Rows of ``table`` strictly below ``cursor`` in the order, as a filter on its ``time`` and ``pk``
    columns (an index on ``(..., time, id)`` answers it by seeking)."""
    if cursor is None:
        return Q()
    rank = RANK[table]
    if rank < cursor.rank:  # at the cursor's instant this table sorts below the cursor's row
        return Q(**{f"{time}__lte": cursor.time})
    if rank > cursor.rank:
        return Q(**{f"{time}__lt": cursor.time})
    return Q(**{f"{time}__lt": cursor.time}) | Q(**{time: cursor.time, f"{pk}__lt": cursor.pk})


# ----------------------------------------------------------------------------- entries and the merge


@dataclass
class Entry:
    """One line of a timeline (the API's entry, see docs/activity.md)."""

    table: str
    pk: int
    time: datetime.datetime
    source: str
    actor: str = ""
    cluster: int | None = None
    namespace: str = ""
    kind: str = ""
    name: str = ""
    action: str = ""
    status: str = ""
    summary: str = ""
    message_code: str = ""
    message_params: dict[str, Any] = field(default_factory=dict)
    type: str = "Normal"
    has_diff: bool = False
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.table}:{self.pk}"

    @property
    def key(self) -> Key:
        return Key(self.time, RANK[self.table], self.pk)


def merge(streams: Iterable[Iterable[Entry]], size: int) -> tuple[list[Entry], Key | None]:
    """The first ``size`` entries of the streams (each newest first), and the cursor of the next
    page (None when nothing is left)."""
    merged = heapq.merge(*streams, key=lambda e: e.key, reverse=True)
    page = list(itertools.islice(merged, size + 1))
    if len(page) > size:
        return page[:size], page[size - 1].key
    return page, None


def parse_entry_id(text: str) -> tuple[str, int]:
    """``"<table>:<pk>"`` of an entry; raises NotFound for anything else (ids are opaque)."""
    table, _, pk = text.partition(":")
    if table not in RANK or not pk.isdigit() or len(pk) > 18:
        raise errors.NotFound("No such timeline entry.", code="activity_entry_not_found")
    return table, int(pk)


# ----------------------------------------------------------------------------- changes outside the portal


def manager_matches(manager: str, patterns: Iterable[str]) -> bool:
    """``manager`` is one of ``patterns`` (a trailing ``*`` matches any rest)."""
    for pattern in patterns:
        if pattern.endswith("*") and manager.startswith(pattern[:-1]):
            return True
        if manager == pattern:
            return True
    return False


# The spec side of each edited kind's projection: what a change by a person is about. Status
# figures (ready replicas, conditions) are left out so a diff shows the edit, not the weather.
SPEC_FIELDS: dict[str, tuple[str, ...]] = {
    "Deployment": ("replicas", "images", "selector", "strategy"),
    "StatefulSet": ("replicas", "images", "selector", "strategy"),
    "DaemonSet": ("images", "selector", "strategy"),
    "Job": ("completions", "parallelism"),
    "CronJob": ("schedule", "suspend"),
    "Service": ("type", "ports", "selector", "external_ips"),
    "Ingress": ("class_name", "rules", "tls_hosts"),
    "HorizontalPodAutoscaler": ("target", "min_replicas", "max_replicas", "metrics"),
}


def snapshot(kind: str, labels: Mapping[str, str], data: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a read-model row that a change to the object's spec shows in."""
    out: dict[str, Any] = {"labels": dict(labels)}
    for key in SPEC_FIELDS.get(kind, ()):
        if key in data:
            out[key] = data[key]
    return out


def _yaml(value: Mapping[str, Any] | None) -> list[str]:
    if not value:
        return []
    return yaml.safe_dump(dict(value), sort_keys=True, default_flow_style=False).splitlines(keepends=True)


def snapshot_diff(before: Mapping[str, Any] | None, after: Mapping[str, Any], *, label: str) -> str:
    """A unified diff of two snapshots (before: None when none was recorded)."""
    return "".join(difflib.unified_diff(_yaml(before), _yaml(after), fromfile=f"{label} (before)",
                                        tofile=f"{label} (after)"))


_SECRET_BLOCK = re.compile(r"^[ +\-](data|stringData):\s*$")
_TOP_LEVEL = re.compile(r"^[ +\-]\S")
_VALUE = re.compile(r"^([ +\-]\s+[^:\s][^:]*:)\s*(\S.*)$")


def mask_secret_diff(diff: str) -> str:
    """A diff of a Secret's YAML with every value under ``data``/``stringData`` replaced by ``***``
    (the portal never shows a Secret's values; its writer masks them already, this is the guard)."""
    out: list[str] = []
    inside = False
    for line in diff.splitlines(keepends=True):
        if line.startswith(("---", "+++", "@@")):
            inside = False
            out.append(line)
            continue
        if _SECRET_BLOCK.match(line.rstrip("\n")):
            inside = True
            out.append(line)
            continue
        if inside and _TOP_LEVEL.match(line):
            inside = False
        if inside:
            match = _VALUE.match(line.rstrip("\n"))
            line = f"{match[1]} '***'\n" if match else line[:1] + "  ***\n"
        out.append(line)
    return "".join(out)

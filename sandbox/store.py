"""The per-cluster object store: the sandbox's etcd + apiserver registry in one class.

Why it looks like this
----------------------
One process holds up to ~100 clusters x 1,000s of objects, serves lists over
HTTP and fans watch events out to many watchers.  So every object is stored
**once, as its serialized JSON bytes** (plus a tiny label/field index).  That
makes the hot paths cheap and safe:

* HTTP list = join the stored byte strings (no decode, no copy);
* a watch event is serialized once and the same line goes to every watcher;
* callers can never mutate stored state: every read decodes a fresh dict.

API (stable; extended only compatibly)
--------------------------------------
Resource types come from :mod:`sandbox.resources` (``PODS``, ``DEPLOYMENTS``,
``lookup("deployments.apps")`` ...).  All methods are synchronous and must be
called from the cluster's event-loop thread (the HTTP server and the
controllers run there).  Errors are :class:`sandbox.errors.ApiError`
subclasses (NotFound, AlreadyExists, Conflict, Invalid, Forbidden, ...), the
same ones the HTTP layer renders as ``Status`` objects.

Reads (each returns a *fresh copy* the caller owns):
    ``get(rt, namespace, name) -> dict | None``
    ``list(rt, namespace=None, label_selector=None, field_selector=None) -> (list[dict], resource_version)``
    ``count(rt, namespace=None) -> int``;  ``resource_version -> int`` (current, cluster-wide)
    Selectors are strings in apiserver syntax (``"app=web,tier in (a,b)"``,
    ``"spec.nodeName=node-1"``) or pre-parsed objects from :mod:`sandbox.selectors`.
    Cluster-scoped types take ``namespace=None`` (or "").

Writes (return the stored object as a fresh dict; ``dry_run=True`` validates
and admits but does not store):
    ``create(rt, obj, *, dry_run=False, field_manager=None)``
        runs defaulting + validation (422), namespace existence (404),
        LimitRange defaults and ResourceQuota (403 "exceeded quota") - so pods a
        controller creates are held by quotas exactly like a real cluster.
        ``metadata.generateName`` is honoured.
    ``update(rt, obj, *, subresource=None, dry_run=False, field_manager=None)``
        409 Conflict if ``metadata.resourceVersion`` is set and stale (omit it
        to force).  For kinds with a status subresource the main resource
        ignores ``status`` and ``subresource="status"`` changes only ``status``.
        ``metadata.generation`` increments when anything outside metadata/status
        changes.  A write that changes nothing commits nothing (no event).
    ``update_status(rt, obj, *, dry_run=False)`` = ``update(..., subresource="status")``
    ``mutate(rt, namespace, name, fn, *, subresource=None, field_manager=None)``
        read-modify-write helper for controllers: ``fn`` gets a fresh copy,
        mutates it in place (or returns a replacement); no Conflict possible.
    ``patch(rt, namespace, name, patch_type, body, *, subresource=None,
            field_manager=None, force=False, dry_run=False)``
        patch_type is a content type: ``application/json-patch+json``,
        ``application/merge-patch+json``, ``application/strategic-merge-patch+json``
        or ``application/apply-patch+yaml`` (server-side apply; creates if absent).
    ``delete(rt, namespace, name, *, propagation_policy=None,
             grace_period_seconds=None, preconditions=None, dry_run=False)``
        ``propagation_policy``: "Background" (default) | "Foreground" |
        "Orphan"; dependents are found by ``metadata.ownerReferences[].uid``.
        Scheduled, running pods are deleted gracefully: they get
        ``deletionTimestamp`` and disappear after
        ``min(grace, store.pod_shutdown_seconds)`` seconds (the simulated
        container exits promptly on SIGTERM); a controller may finalize earlier
        with ``grace_period_seconds=0``.  Objects with finalizers stay until
        the finalizers are removed by an update.
    ``delete_collection(rt, namespace, *, label_selector=None, field_selector=None, ...)``

Change notifications:
    ``subscribe(callback, *, resources=None) -> unsubscribe`` where
    ``callback(event_type, rt, obj)`` is called synchronously after each
    committed change (of one of ``resources`` if given) with event_type
    "ADDED" | "MODIFIED" | "DELETED".  ``obj`` is one decoded dict *shared by
    all subscribers of that event: treat it as read-only*.  Callbacks may write
    to the store: nested notifications are queued and delivered in order after
    the current ones (never re-entrantly).  Exceptions are logged and swallowed.
    ``watch(...) -> Watcher`` is the apiserver-style watch used by the HTTP layer
    (bounded history; ``Gone`` when the requested resourceVersion is too old).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import builtins
import collections
import contextlib
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from sandbox import admission, managedfields, patch
from sandbox.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Gone,
    already_exists,
    conflict,
    expired,
    forbidden,
    namespace_not_found,
    not_found,
)
from sandbox.resources import NAMESPACES, PODS, ResourceType, lookup, stored_types
from sandbox.selectors import (
    FIELD_EXTRACTORS,
    FieldSelector,
    LabelSelector,
    parse_field_selector,
    parse_label_selector,
    supported_fields,
)

log = logging.getLogger(__name__)

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"

Callback = Callable[[str, ResourceType, dict[str, Any]], None]
PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes (the one serializer used for stored objects): orjson, which is several
    times faster than the standard library (stored objects are written, copied and read back at
    every write of every simulated cluster); the standard library for what orjson refuses (an
    integer beyond 64 bits that a client sent), so nothing a client may store is lost."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def loads(raw: bytes | str) -> Any:
    """The value of JSON written by :func:`dumps` (orjson; the standard library for what it refuses)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def copy_obj(obj: Any) -> Any:
    """Deep copy of a JSON-shaped value (faster than ``copy.deepcopy`` for these)."""
    return loads(dumps(obj))


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass(slots=True)
class _Entry:
    raw: bytes
    rv: int
    labels: dict[str, str]
    fields: dict[str, str]
    uid: str
    owners: tuple[str, ...]


@dataclass(slots=True)
class WatchEvent:
    """One committed change as kept in the history window and sent to watchers."""

    rv: int
    storage_key: str
    namespace: str
    name: str
    type: str
    raw: bytes
    labels: dict[str, str]
    fields: dict[str, str]
    prev_labels: dict[str, str] | None = None
    prev_fields: dict[str, str] | None = None
    _line: bytes | None = None

    def line(self, event_type: str | None = None) -> bytes:
        """``{"type":...,"object":...}\\n``, serialized once and cached."""
        if event_type is None or event_type == self.type:
            if self._line is None:
                self._line = b'{"type":"' + self.type.encode() + b'","object":' + self.raw + b"}\n"
            return self._line
        return b'{"type":"' + event_type.encode() + b'","object":' + self.raw + b"}\n"


class Watcher:
    """A registered watch: filtered events land in ``queue`` as ``(type, WatchEvent)``.

    ``None`` in the queue means the server closed the watch (fault injection,
    overflow or store shutdown).
    """

    def __init__(self, store: Store, storage_key: str, namespace: str | None, labels: LabelSelector,
                 fields: FieldSelector, max_queue: int) -> None:
        self.store = store
        self.storage_key = storage_key
        self.namespace = namespace or None
        self.label_selector = labels
        self.field_selector = fields
        self.name = fields.exact_name()
        self.queue: asyncio.Queue[tuple[str, WatchEvent] | None] = asyncio.Queue()
        self.max_queue = max_queue
        self.closed = False
        self.last_rv = 0

    def _match(self, ev: WatchEvent, labels: dict[str, str] | None, fields: dict[str, str] | None) -> bool:
        if labels is None or fields is None:
            return False
        if not self.label_selector.empty and not self.label_selector.matches(labels):
            return False
        if not self.field_selector.empty:
            full = dict(fields)
            full["metadata.name"] = ev.name
            full["metadata.namespace"] = ev.namespace
            return self.field_selector.matches(full)
        return True

    def offer(self, ev: WatchEvent) -> None:
        if self.closed:
            return
        if self.namespace is not None and ev.namespace != self.namespace:
            return
        if self.name is not None and ev.name != self.name:
            return
        now = self._match(ev, ev.labels, ev.fields)
        if ev.type == ADDED:
            etype = ADDED if now else ""
        elif ev.type == DELETED:
            etype = DELETED if now else ""
        else:
            before = self._match(ev, ev.prev_labels, ev.prev_fields)
            etype = MODIFIED if (now and before) else ADDED if now else DELETED if before else ""
        if not etype:
            return
        if self.queue.qsize() >= self.max_queue:
            log.warning("watch queue overflow on %s; closing watch", self.storage_key)
            self.close()
            return
        self.queue.put_nowait((etype, ev))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)
            self.store._drop_watcher(self)


@dataclass(slots=True)
class ListPage:
    """Raw result of :meth:`Store.list_raw` (used by the HTTP layer)."""

    items: list[bytes]
    resource_version: int
    continue_token: str = ""
    remaining: int | None = None


@dataclass(slots=True)
class _Snapshot:
    rv: int
    items: list[tuple[str, str, bytes]]
    created: float = field(default_factory=time.monotonic)


class Store:
    """All objects of one simulated cluster.  See the module docstring for the API."""

    SNAPSHOT_TTL = 300.0
    MAX_SNAPSHOTS = 128

    def __init__(self, *, history_size: int = 5000, pod_shutdown_seconds: float = 0.5,
                 watch_queue_limit: int = 100000) -> None:
        self._objects: dict[str, dict[str, dict[str, _Entry]]] = {rt.storage_key: {} for rt in stored_types()}
        self._rv = 1
        self._history: collections.deque[WatchEvent] = collections.deque()
        self.history_size = history_size
        self._history_floor = 1
        self._watchers: dict[str, set[Watcher]] = collections.defaultdict(set)
        # Per stored type, the resourceVersion of the last event this process committed (the
        # apiserver's cacher calls it lastProcessedResourceVersion and sends no bookmark while it
        # is 0, i.e. for a kind nothing happened to since the server started).
        self.progress: dict[str, int] = {}
        # The apiserver keeps a watch window per kind: resuming a quiet kind is 410 Gone only if
        # an event of that kind fell out of the window (or the whole history was forgotten).
        self._dropped: dict[str, int] = {}
        self._expired_at = 0
        self._subscribers: builtins.list[Callback] = []
        self._subscriber_kinds: dict[int, frozenset[str]] = {}
        self._uids: dict[str, tuple[str, str, str]] = {}
        self._dependents: dict[str, set[tuple[str, str, str]]] = collections.defaultdict(set)
        self._snapshots: collections.OrderedDict[str, _Snapshot] = collections.OrderedDict()
        self._pending: collections.deque[tuple[str, ResourceType, bytes]] = collections.deque()
        self._dispatching = False
        self._timers: set[asyncio.TimerHandle] = set()
        self.pod_shutdown_seconds = pod_shutdown_seconds
        self.watch_queue_limit = watch_queue_limit
        # allocators and guards used by sandbox.admission
        self.next_service_ip = 10
        self.next_node_port = 30000
        self.in_quota_update = False

    # ------------------------------------------------------------------ reads

    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def history_floor(self) -> int:
        """Oldest resourceVersion every watch may resume from without 410 Gone (a kind none of
        whose events fell out of the window may resume from older ones, as on a real server)."""
        return self._history_floor

    def _bucket(self, rt: ResourceType) -> dict[str, dict[str, _Entry]]:
        if not rt.stored:
            raise BadRequest(f"{rt.key} is not a stored resource")
        return self._objects.setdefault(rt.storage_key, {})  # custom resources get a bucket on first use

    @staticmethod
    def _ns(rt: ResourceType, namespace: str | None) -> str:
        return (namespace or "") if rt.namespaced else ""

    def _entry(self, rt: ResourceType, namespace: str | None, name: str) -> _Entry | None:
        b = self._bucket(rt).get(self._ns(rt, namespace))
        return b.get(name) if b else None

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        """A fresh copy of the object, or None."""
        e = self._entry(rt, namespace, name)
        return loads(e.raw) if e else None

    def get_raw(self, rt: ResourceType, namespace: str | None, name: str) -> bytes | None:
        """The stored JSON bytes (immutable), or None."""
        e = self._entry(rt, namespace, name)
        return e.raw if e else None

    def count(self, rt: ResourceType, namespace: str | None = None) -> int:
        bucket = self._bucket(rt)
        if rt.namespaced and namespace:
            return len(bucket.get(namespace, {}))
        return sum(len(v) for v in bucket.values())

    def namespaces_with(self, rt: ResourceType) -> builtins.list[str]:
        return [ns for ns, objs in self._bucket(rt).items() if objs]

    def _select(self, rt: ResourceType, namespace: str | None, label_selector: str | LabelSelector | None,
                field_selector: str | FieldSelector | None) -> builtins.list[tuple[str, str, _Entry]]:
        ls = label_selector if isinstance(label_selector, LabelSelector) else parse_label_selector(label_selector)
        fs = (field_selector if isinstance(field_selector, FieldSelector)
              else parse_field_selector(field_selector, supported_fields(rt.storage_key)))
        bucket = self._bucket(rt)
        if rt.namespaced and namespace:
            sources: Iterable[tuple[str, dict[str, _Entry]]] = [(namespace, bucket.get(namespace, {}))]
        else:
            sources = sorted(bucket.items())
        out: builtins.list[tuple[str, str, _Entry]] = []
        want_name = fs.exact_name()
        for ns, objs in sources:
            if want_name is not None:
                items: Iterable[tuple[str, _Entry]] = [(want_name, objs[want_name])] if want_name in objs else []
            else:
                items = sorted(objs.items())
            for name, e in items:
                if not ls.empty and not ls.matches(e.labels):
                    continue
                if not fs.empty:
                    f = dict(e.fields)
                    f["metadata.name"] = name
                    f["metadata.namespace"] = ns
                    if not fs.matches(f):
                        continue
                out.append((ns, name, e))
        return out

    def list(self, rt: ResourceType, namespace: str | None = None,
             label_selector: str | LabelSelector | None = None,
             field_selector: str | FieldSelector | None = None) -> tuple[list[dict[str, Any]], int]:
        """Fresh copies of the matching objects (sorted by namespace/name) and the list resourceVersion."""
        return [loads(e.raw) for _, _, e in self._select(rt, namespace, label_selector, field_selector)], self._rv

    def list_raw(self, rt: ResourceType, namespace: str | None = None,
                 label_selector: str | LabelSelector | None = None,
                 field_selector: str | FieldSelector | None = None,
                 limit: int | None = None, continue_token: str | None = None) -> ListPage:
        """Stored bytes of matching objects with limit/continue paging over a consistent snapshot."""
        if continue_token:
            snap_id, offset = self._decode_continue(continue_token)
            snap = self._snapshots.get(snap_id)
            if snap is None or time.monotonic() - snap.created > self.SNAPSHOT_TTL:
                raise expired(
                    "The provided continue parameter is too old to display a consistent list result. You can "
                    "start a new list without the continue parameter, or use the continue token in this "
                    "response to retrieve the remainder of the results. Continuing with the provided token "
                    "results in an inconsistent list - objects that were created, modified, or deleted between "
                    "the time the first chunk was returned and now may show up in the list."
                )
            return self._page(snap_id, snap, offset, limit)
        rows = self._select(rt, namespace, label_selector, field_selector)
        if not limit or limit >= len(rows):
            return ListPage([e.raw for _, _, e in rows], self._rv)
        snap = _Snapshot(self._rv, [(ns, name, e.raw) for ns, name, e in rows])
        snap_id = secrets.token_hex(8)
        self._snapshots[snap_id] = snap
        while len(self._snapshots) > self.MAX_SNAPSHOTS:
            self._snapshots.popitem(last=False)
        return self._page(snap_id, snap, 0, limit)

    def _page(self, snap_id: str, snap: _Snapshot, offset: int, limit: int | None) -> ListPage:
        end = len(snap.items) if not limit else min(len(snap.items), offset + limit)
        items = [raw for _, _, raw in snap.items[offset:end]]
        if end >= len(snap.items):
            self._snapshots.pop(snap_id, None)
            return ListPage(items, snap.rv)
        token_body = {"v": "meta.k8s.io/v1", "rv": snap.rv, "start": f"{snap.items[end][0]}/{snap.items[end][1]}",
                      "id": snap_id, "off": end}
        token = base64.urlsafe_b64encode(json.dumps(token_body).encode()).decode().rstrip("=")
        return ListPage(items, snap.rv, token, len(snap.items) - end)

    @staticmethod
    def _decode_continue(token: str) -> tuple[str, int]:
        try:
            body = loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            return str(body["id"]), int(body["off"])
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise BadRequest("continue key is not valid: incorrect encoded start resourceVersion (version "
                             "meta.k8s.io/v1)") from exc

    # ------------------------------------------------------------------ writes

    def _prepare_identity(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise BadRequest("the object to store must be a JSON object")
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if api_version and api_version != rt.api_version:
            raise BadRequest(f"the API version in the data ({api_version}) does not match the expected API "
                             f"version ({rt.api_version})")
        if kind and kind != rt.kind:
            raise BadRequest(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")
        obj["kind"] = rt.kind
        obj["apiVersion"] = rt.api_version
        md = obj.get("metadata")
        if md is None:
            md = obj["metadata"] = {}
        if not isinstance(md, dict):
            raise BadRequest("metadata must be an object")
        if not rt.namespaced:
            md.pop("namespace", None)
        return md

    def create(self, rt: ResourceType, obj: dict[str, Any], *, dry_run: bool = False,
               field_manager: str | None = None, _owned: bool = False,
               _applied: bool = False) -> dict[str, Any]:
        obj = obj if _owned else copy_obj(obj)
        md = self._prepare_identity(rt, obj)
        ns = md.get("namespace") or ""
        if rt.namespaced and not ns:
            raise BadRequest("the namespace of the object must be set")
        if not md.get("name") and md.get("generateName"):
            md["name"] = _generate_name(str(md["generateName"]))
            while self._entry(rt, ns, md["name"]) is not None:
                md["name"] = _generate_name(str(md["generateName"]))
        name = str(md.get("name") or "")
        for key in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            md.pop(key, None)
        applied_mf = md.pop("managedFields", None) if _applied else None
        if rt.has_status and rt is not lookup("nodes"):
            obj.pop("status", None)
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now_iso()
        admission.default_and_validate(self, rt, obj, None)
        if rt.namespaced:
            nse = self._entry(NAMESPACES, None, ns)
            if nse is None:
                raise namespace_not_found(ns)
            if b'"deletionTimestamp"' in nse.raw:
                raise forbidden(rt, name, f"unable to create new content in namespace {ns} because it is "
                                          "being terminated")
        if self._entry(rt, ns, name) is not None:
            raise already_exists(rt, name)
        admission.admit_create(self, rt, obj)
        if "spec" in obj or rt.has_status:
            md["generation"] = 1
        if applied_mf:
            md["managedFields"] = applied_mf
        else:
            managedfields.track_update(obj, None, field_manager, subresource=None)
        if dry_run:
            return obj
        self._commit(rt, ns, name, obj, ADDED, None)
        return obj  # owned by us and identical to what was stored

    def update(self, rt: ResourceType, obj: dict[str, Any], *, subresource: str | None = None,
               dry_run: bool = False, field_manager: str | None = None, _owned: bool = False,
               _operation: str = "Update") -> dict[str, Any]:
        obj = obj if _owned else copy_obj(obj)
        md = self._prepare_identity(rt, obj)
        ns = self._ns(rt, md.get("namespace"))
        name = str(md.get("name") or "")
        if not name:
            raise BadRequest("name is required for update")
        prev = self._entry(rt, ns, name)
        if prev is None:
            raise not_found(rt, name)
        want_rv = md.get("resourceVersion")
        if want_rv not in (None, "") and str(want_rv) != str(prev.rv):
            raise conflict(rt, name)
        old = loads(prev.raw)
        new = self._merge_for_update(rt, old, obj, subresource)
        if subresource != "status":
            admission.default_and_validate(self, rt, new, old)
        if subresource != "status":
            admission.admit_update(self, rt, new, old)
        if _operation == "Update":
            managedfields.track_update(new, old, field_manager, subresource=subresource)
        return self._finish_update(rt, ns, name, old, new, prev, dry_run)

    def _merge_for_update(self, rt: ResourceType, old: dict[str, Any], obj: dict[str, Any],
                          subresource: str | None) -> dict[str, Any]:
        omd = old["metadata"]
        if subresource == "status":
            new = dict(old)
            new["metadata"] = dict(omd)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            return new
        new = obj
        md = new["metadata"]
        for key in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp",
                    "deletionGracePeriodSeconds", "generation"):
            if key in omd:
                md[key] = omd[key]
            else:
                md.pop(key, None)
        if "managedFields" not in md and "managedFields" in omd:
            md["managedFields"] = omd["managedFields"]
        if (rt.has_status and rt.kind != "Node") or rt.kind == "Namespace":
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        return new

    def _finish_update(self, rt: ResourceType, ns: str, name: str, old: dict[str, Any], new: dict[str, Any],
                       prev: _Entry, dry_run: bool) -> dict[str, Any]:
        md = new["metadata"]
        if "generation" in old["metadata"] and _spec_of(old) != _spec_of(new):
            md["generation"] = int(old["metadata"]["generation"]) + 1
        md["resourceVersion"] = str(prev.rv)
        if _same_ignoring_mf_time(old, new):
            return old
        if dry_run:
            return new
        if md.get("deletionTimestamp") and not md.get("finalizers") and not _awaiting_grace(rt, new) \
                and not (rt is NAMESPACES and (new.get("spec") or {}).get("finalizers")):
            self._commit(rt, ns, name, new, MODIFIED, prev)
            self._remove(rt, ns, name, "Background")
            return loads(self._last_raw)
        self._commit(rt, ns, name, new, MODIFIED, prev)
        return new  # owned by us and identical to what was stored

    def update_status(self, rt: ResourceType, obj: dict[str, Any], *, dry_run: bool = False,
                      field_manager: str | None = None) -> dict[str, Any]:
        return self.update(rt, obj, subresource="status", dry_run=dry_run, field_manager=field_manager)

    def mutate(self, rt: ResourceType, namespace: str | None, name: str,
               fn: Callable[[dict[str, Any]], dict[str, Any] | None], *, subresource: str | None = None,
               field_manager: str | None = None) -> dict[str, Any]:
        cur = self.get(rt, namespace, name)
        if cur is None:
            raise not_found(rt, name)
        res = fn(cur)
        new = res if res is not None else cur
        new.setdefault("metadata", {})["resourceVersion"] = cur["metadata"]["resourceVersion"]
        return self.update(rt, new, subresource=subresource, field_manager=field_manager, _owned=True)

    def patch(self, rt: ResourceType, namespace: str | None, name: str, patch_type: str, body: Any, *,
              subresource: str | None = None, field_manager: str | None = None, force: bool = False,
              dry_run: bool = False) -> dict[str, Any]:
        ns = self._ns(rt, namespace)
        prev = self._entry(rt, ns, name)
        if patch_type.startswith("application/apply-patch"):
            if not field_manager:
                raise BadRequest("PATCH, application/apply-patch+yaml requires fieldManager parameter")
            if not isinstance(body, dict):
                raise BadRequest("apply patch must be an object")
            if prev is None:
                if subresource:
                    raise not_found(rt, name)
                applied = copy_obj(body)
                md = applied.setdefault("metadata", {})
                if rt.namespaced:
                    md.setdefault("namespace", ns)
                if md.get("name") and md["name"] != name:
                    raise BadRequest("the name of the object does not match the name on the URL")
                md["name"] = name
                created = managedfields.apply_create(applied, field_manager)
                return self.create(rt, created, dry_run=dry_run, _owned=True, _applied=True)
            old = loads(prev.raw)
            new = managedfields.apply(rt, old, body, field_manager, force=force, subresource=subresource)
            new["metadata"]["resourceVersion"] = str(prev.rv)
            return self.update(rt, new, subresource=subresource, dry_run=dry_run, _owned=True,
                               _operation="Apply")
        if prev is None:
            raise not_found(rt, name)
        old = loads(prev.raw)
        new = patch.apply_patch(patch_type, old, body, kind=rt.kind)
        if not isinstance(new, dict):
            raise BadRequest("patched object is not a JSON object")
        nmd = new.setdefault("metadata", {})
        if not isinstance(nmd, dict):
            raise BadRequest("metadata must be an object")
        if nmd.get("resourceVersion") in (None, "") or nmd.get("resourceVersion") == str(prev.rv):
            nmd["resourceVersion"] = str(prev.rv)
        nmd["name"] = name
        if rt.namespaced:
            nmd["namespace"] = ns
        return self.update(rt, new, subresource=subresource, dry_run=dry_run, field_manager=field_manager,
                           _owned=True)

    # ------------------------------------------------------------------ delete

    def delete(self, rt: ResourceType, namespace: str | None, name: str, *,
               propagation_policy: str | None = None, grace_period_seconds: int | None = None,
               preconditions: dict[str, Any] | None = None, dry_run: bool = False) -> dict[str, Any]:
        """Delete (or start deleting) an object; returns the object as last stored."""
        ns = self._ns(rt, namespace)
        prev = self._entry(rt, ns, name)
        if prev is None:
            raise not_found(rt, name)
        policy = propagation_policy or "Background"
        if policy not in ("Background", "Foreground", "Orphan"):
            raise BadRequest(f"propagationPolicy: Unsupported value: {policy!r}")
        if preconditions:
            if preconditions.get("uid") and preconditions["uid"] != prev.uid:
                raise Conflict(f'Precondition failed: UID in precondition: {preconditions["uid"]}, UID in '
                               f"object meta: {prev.uid}")
            if preconditions.get("resourceVersion") and str(preconditions["resourceVersion"]) != str(prev.rv):
                raise Conflict(f"Precondition failed: ResourceVersion in precondition: "
                               f"{preconditions['resourceVersion']}, ResourceVersion in object meta: {prev.rv}")
        obj = loads(prev.raw)
        if rt is NAMESPACES and name in PROTECTED_NAMESPACES:
            raise forbidden(rt, name, "this namespace may not be deleted")
        if dry_run:
            return obj
        md = obj["metadata"]
        if rt is NAMESPACES:
            return self._delete_namespace(name, obj, prev)
        if rt.storage_key == "pods":
            grace = grace_period_seconds
            if grace is None:
                grace = int((obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
            phase = (obj.get("status") or {}).get("phase")
            running = bool((obj.get("spec") or {}).get("nodeName")) and phase not in ("Succeeded", "Failed")
            if grace > 0 and running:
                if md.get("deletionTimestamp"):
                    return obj
                md["deletionTimestamp"] = _iso_in(grace)
                md["deletionGracePeriodSeconds"] = grace
                self._commit(rt, ns, name, obj, MODIFIED, prev)
                self._schedule_finalize(rt, ns, name, prev.uid, min(float(grace), self.pod_shutdown_seconds))
                return loads(self._entry(rt, ns, name).raw)  # type: ignore[union-attr]
        if md.get("finalizers"):
            if not md.get("deletionTimestamp"):
                md["deletionTimestamp"] = now_iso()
                md["deletionGracePeriodSeconds"] = 0
                self._commit(rt, ns, name, obj, MODIFIED, prev)
            return loads(self._entry(rt, ns, name).raw)  # type: ignore[union-attr]
        return self._remove(rt, ns, name, policy)

    def delete_collection(self, rt: ResourceType, namespace: str | None, *,
                          label_selector: str | LabelSelector | None = None,
                          field_selector: str | FieldSelector | None = None,
                          propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                          dry_run: bool = False) -> builtins.list[dict[str, Any]]:
        out = []
        for ns, name, _ in self._select(rt, namespace, label_selector, field_selector):
            with contextlib.suppress(ApiError):
                out.append(self.delete(rt, ns, name, propagation_policy=propagation_policy,
                                       grace_period_seconds=grace_period_seconds, dry_run=dry_run))
        return out

    def _type_for_key(self, key: str) -> ResourceType | None:
        """The type stored under ``key``: a built-in one, or one an established CRD serves (a custom
        resource can own, and be owned by, others); ``None`` if neither knows it any more."""
        try:
            return lookup(key)
        except KeyError:
            from sandbox.crds import custom_types  # crds imports the store's module for typing only

            return next((t for t in custom_types(self) if t.storage_key == key), None)

    def _remove(self, rt: ResourceType, ns: str, name: str, policy: str) -> dict[str, Any]:
        prev = self._entry(rt, ns, name)
        if prev is None:
            raise not_found(rt, name)
        deps = list(self._dependents.get(prev.uid, ()))
        if policy == "Foreground":
            for dkey, dns, dname in deps:
                frt = self._type_for_key(dkey)
                if frt is not None:
                    with contextlib.suppress(ApiError):
                        self.delete(frt, dns, dname, propagation_policy="Foreground")
        obj = loads(prev.raw)
        self._commit(rt, ns, name, obj, DELETED, prev)
        final = self._last_raw
        if policy == "Background":
            for dkey, dns, dname in deps:
                brt = self._type_for_key(dkey)
                e = self._entry(brt, dns, dname) if brt is not None else None
                if brt is not None and e is not None and prev.uid in e.owners:
                    with contextlib.suppress(ApiError):
                        self.delete(brt, dns, dname, propagation_policy="Background")
        elif policy == "Orphan":
            for dkey, dns, dname in deps:
                drt = self._type_for_key(dkey)
                e = self._entry(drt, dns, dname) if drt is not None else None
                if drt is None or e is None:
                    continue
                dobj = loads(e.raw)
                refs = [r for r in dobj["metadata"].get("ownerReferences", []) if r.get("uid") != prev.uid]
                if refs:
                    dobj["metadata"]["ownerReferences"] = refs
                else:
                    dobj["metadata"].pop("ownerReferences", None)
                self._commit(drt, dns, dname, dobj, MODIFIED, e)
        return loads(final)

    # The namespace lifecycle, as the apiserver and the namespace controller run it: the first
    # DELETE marks the namespace Terminating (deletionTimestamp, phase); the controller deletes its
    # content with the ordinary semantics (pods get their grace period, objects with finalizers stay
    # until those are removed) and reports what remains in status.conditions; once nothing is left it
    # removes the ``kubernetes`` finalizer from spec.finalizers, and the namespace goes when no
    # finalizer (spec or metadata) remains.  A second DELETE while that runs is a 409, as on a real server.

    NAMESPACE_SWEEP_SECONDS = 0.5
    _NS_CONDITIONS = (
        ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered", "All resources successfully discovered"),
        ("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions",
         "All legacy kube types successfully parsed"),
        ("NamespaceDeletionContentFailure", "ContentDeleted",
         "All content successfully deleted, may be waiting on finalization"),
        ("NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"),
        ("NamespaceFinalizersRemaining", "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
    )

    def _delete_namespace(self, name: str, obj: dict[str, Any], prev: _Entry) -> dict[str, Any]:
        md = obj["metadata"]
        if md.get("deletionTimestamp"):
            raise Conflict(f'Operation cannot be fulfilled on namespaces "{name}": The system is ensuring all '
                           "content is removed from this namespace.  Upon completion, this namespace will "
                           "automatically be purged by the system.", details=_ns_details(name))
        md["deletionTimestamp"] = now_iso()
        md["deletionGracePeriodSeconds"] = 0
        obj.setdefault("status", {})["phase"] = "Terminating"
        self._commit(NAMESPACES, "", name, obj, MODIFIED, prev)
        terminating = loads(self._entry(NAMESPACES, "", name).raw)  # type: ignore[union-attr]
        self._schedule_call(0.0, self._sweep_namespace, name, prev.uid)
        return terminating

    def _sweep_namespace(self, name: str, uid: str) -> None:
        """One pass of the namespace controller over a Terminating namespace."""
        e = self._entry(NAMESPACES, "", name)
        if e is None or e.uid != uid:
            return
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        from sandbox.crds import custom_types

        for rt in [*stored_types(), *custom_types(self)]:
            if not rt.namespaced:
                continue
            for oname in list(self._bucket(rt).get(name, {})):
                entry = self._entry(rt, name, oname)
                if entry is None:
                    continue
                if b'"deletionTimestamp"' not in entry.raw:
                    with contextlib.suppress(ApiError):
                        self.delete(rt, name, oname, propagation_policy="Background")
                entry = self._entry(rt, name, oname)
                if entry is None:
                    continue
                label = f"{rt.plural}.{rt.group}"
                remaining[label] = remaining.get(label, 0) + 1
                for fin in loads(entry.raw)["metadata"].get("finalizers") or ():
                    finalizers[fin] = finalizers.get(fin, 0) + 1
        e = self._entry(NAMESPACES, "", name)
        if e is None or e.uid != uid:
            return
        obj = loads(e.raw)
        if not remaining:
            spec = obj.setdefault("spec", {})
            spec["finalizers"] = [f for f in spec.get("finalizers") or () if f != "kubernetes"]
            if not spec["finalizers"]:
                spec.pop("finalizers")
        failing: dict[str, tuple[str, str]] = {}
        if remaining:
            failing["NamespaceContentRemaining"] = (
                "SomeResourcesRemain", "Some resources are remaining: " + ", ".join(
                    f"{k} has {n} resource instances" for k, n in sorted(remaining.items())))
        if finalizers:
            failing["NamespaceFinalizersRemaining"] = (
                "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: " + ", ".join(
                    f"{k} in {n} resource instances" for k, n in sorted(finalizers.items())))
        status = obj.setdefault("status", {})
        old = {c.get("type"): c for c in status.get("conditions") or ()}
        conditions = []
        for ctype, ok_reason, ok_message in self._NS_CONDITIONS:
            reason, message = failing.get(ctype, (ok_reason, ok_message))
            cstatus = "True" if ctype in failing else "False"
            prior = old.get(ctype)
            since = prior["lastTransitionTime"] if prior and prior.get("status") == cstatus else now_iso()
            conditions.append({"type": ctype, "status": cstatus, "lastTransitionTime": since,
                               "reason": reason, "message": message})
        status["conditions"] = conditions
        if obj != loads(e.raw):
            self._commit(NAMESPACES, "", name, obj, MODIFIED, e)
        if remaining:
            try:  # look again shortly (only with a loop: without one, the next delete or load sweeps)
                asyncio.get_running_loop()
            except RuntimeError:
                return
            self._schedule_call(self.NAMESPACE_SWEEP_SECONDS, self._sweep_namespace, name, uid)
            return
        if not obj["metadata"].get("finalizers"):
            with contextlib.suppress(ApiError):
                self._remove(NAMESPACES, "", name, "Background")

    def finalize_namespace(self, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """PUT namespaces/<name>/finalize: only spec.finalizers changes; the namespace goes once it
        is Terminating and no finalizer remains."""
        name = str((obj.get("metadata") or {}).get("name") or "")
        e = self._entry(NAMESPACES, "", name)
        if e is None:
            raise not_found(NAMESPACES, name)
        cur = loads(e.raw)
        fins = (obj.get("spec") or {}).get("finalizers") or []
        if not isinstance(fins, list) or not all(isinstance(f, str) for f in fins):
            raise BadRequest("spec.finalizers must be a list of strings")
        spec = cur.setdefault("spec", {})
        if fins:
            spec["finalizers"] = list(fins)
        else:
            spec.pop("finalizers", None)
        if dry_run:
            return cur
        self._commit(NAMESPACES, "", name, cur, MODIFIED, e)
        if cur["metadata"].get("deletionTimestamp") and not fins and not cur["metadata"].get("finalizers"):
            self._remove(NAMESPACES, "", name, "Background")
        return loads(self._last_raw)

    def _schedule_finalize(self, rt: ResourceType, ns: str, name: str, uid: str, delay: float) -> None:
        self._schedule_call(delay, self._finalize, rt, ns, name, uid)

    def _schedule_call(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            fn(*args)
            return
        handle: asyncio.TimerHandle

        def run() -> None:
            self._timers.discard(handle)
            try:
                fn(*args)
            except Exception:
                log.exception("scheduled store operation failed")

        handle = loop.call_later(delay, run)
        self._timers.add(handle)

    def _finalize(self, rt: ResourceType, ns: str, name: str, uid: str) -> None:
        e = self._entry(rt, ns, name)
        if e is None or e.uid != uid:
            return
        obj = loads(e.raw)
        if obj["metadata"].get("finalizers"):
            return
        self._remove(rt, ns, name, "Background")

    def close(self) -> None:
        """Cancel timers and close all watches (cluster shutdown)."""
        for h in list(self._timers):
            h.cancel()
        self._timers.clear()
        self.close_watches()

    # ------------------------------------------------------------------ commit + fan-out

    _last_raw: bytes = b""

    def _commit(self, rt: ResourceType, ns: str, name: str, obj: dict[str, Any], etype: str,
                prev: _Entry | None) -> None:
        self._rv += 1
        rv = self._rv
        md = obj["metadata"]
        md["resourceVersion"] = str(rv)
        raw = dumps(obj)
        self._last_raw = raw
        skey = rt.storage_key
        labels = dict(md.get("labels") or {})
        extractor = FIELD_EXTRACTORS.get(skey)
        fields = extractor(obj) if extractor else {}
        uid = str(md.get("uid", ""))
        owners = tuple(str(r.get("uid")) for r in md.get("ownerReferences") or () if r.get("uid"))
        bucket = self._bucket(rt)
        if prev is not None:
            for o in prev.owners:
                deps = self._dependents.get(o)
                if deps is not None:
                    deps.discard((skey, ns, name))
                    if not deps:
                        del self._dependents[o]
        if etype == DELETED:
            objs = bucket.get(ns)
            if objs is not None:
                objs.pop(name, None)
                if not objs:
                    del bucket[ns]
            self._uids.pop(uid, None)
        else:
            bucket.setdefault(ns, {})[name] = _Entry(raw, rv, labels, fields, uid, owners)
            self._uids[uid] = (skey, ns, name)
            for o in owners:
                self._dependents[o].add((skey, ns, name))
        ev = WatchEvent(rv, skey, ns, name, etype, raw, labels, fields,
                        prev.labels if prev else None, prev.fields if prev else None)
        self._history.append(ev)
        self.progress[skey] = rv
        while len(self._history) > self.history_size:
            dropped = self._history.popleft()
            self._history_floor = dropped.rv
            self._dropped[dropped.storage_key] = dropped.rv
        for w in list(self._watchers.get(skey, ())):
            w.offer(ev)
        if self._subscribers:
            self._pending.append((etype, rt, raw))
        # quota status writes commit nested events; queue ours first so subscribers see commit order
        admission.on_change(self, rt, ns, etype, prev.fields if prev else None, fields)
        if self._pending:
            self._drain()

    def _wants(self, cb: Callback, rt: ResourceType) -> bool:
        kinds = self._subscriber_kinds.get(id(cb))
        return kinds is None or rt.storage_key in kinds

    def _drain(self) -> None:
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._pending:
                etype, rt, raw = self._pending.popleft()
                obj: dict[str, Any] | None = None
                for cb in list(self._subscribers):
                    if not self._wants(cb, rt):
                        continue
                    if obj is None:
                        obj = loads(raw)
                    try:
                        cb(etype, rt, obj)
                    except Exception:
                        log.exception("store subscriber failed on %s %s", etype, rt.key)
        finally:
            self._dispatching = False

    def subscribe(self, callback: Callback, *,
                  resources: Iterable[ResourceType] | None = None) -> Callable[[], None]:
        """Register a change callback; returns a function that unregisters it.

        ``resources`` limits the callback to those types (the object is then
        only decoded when someone wants it).
        """
        self._subscribers.append(callback)
        if resources is not None:
            self._subscriber_kinds[id(callback)] = frozenset(rt.storage_key for rt in resources)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)
            self._subscriber_kinds.pop(id(callback), None)

        return unsubscribe

    # ------------------------------------------------------------------ watch

    def watch(self, rt: ResourceType, *, namespace: str | None = None,
              label_selector: str | LabelSelector | None = None,
              field_selector: str | FieldSelector | None = None,
              resource_version: str | None = None) -> Watcher:
        """Register a watcher and pre-fill its queue (initial state or history replay).

        ``resource_version`` unset/"0"/"": synthetic ADDED for every current
        matching object, then live events.  Otherwise events after that
        version; raises :class:`Gone` if it is older than the history window.
        """
        ls = label_selector if isinstance(label_selector, LabelSelector) else parse_label_selector(label_selector)
        fs = (field_selector if isinstance(field_selector, FieldSelector)
              else parse_field_selector(field_selector, supported_fields(rt.storage_key)))
        ns = self._ns(rt, namespace) or None
        w = Watcher(self, rt.storage_key, ns, ls, fs, self.watch_queue_limit)
        if resource_version in (None, "", "0"):
            for ens, ename, e in self._select(rt, ns, ls, fs):
                w.queue.put_nowait((ADDED, WatchEvent(e.rv, rt.storage_key, ens, ename, ADDED, e.raw, e.labels,
                                                      e.fields)))
        else:
            try:
                since = int(str(resource_version))
            except ValueError as exc:
                raise BadRequest(f'invalid resource version "{resource_version}"') from exc
            if since < self._expired_at or self._dropped.get(rt.storage_key, 0) > since:
                raise Gone(f"too old resource version: {since} ({self._history_floor + 1})")
            for ev in self._history:
                if ev.rv > since and ev.storage_key == rt.storage_key:
                    w.offer(ev)
        self._watchers[rt.storage_key].add(w)
        return w

    def _drop_watcher(self, w: Watcher) -> None:
        self._watchers.get(w.storage_key, set()).discard(w)

    def close_watches(self) -> int:
        """Close every open watch (clients see the stream end and re-watch)."""
        n = 0
        for ws in list(self._watchers.values()):
            for w in list(ws):
                w.close()
                n += 1
        return n

    def watcher_count(self) -> int:
        return sum(len(ws) for ws in self._watchers.values())

    def expire_history(self) -> None:
        """Forget the watch history: every resume from an older version gets 410 Gone."""
        self._history.clear()
        self._history_floor = self._rv
        self._expired_at = self._rv

    def storage_keys(self) -> builtins.list[str]:
        return builtins.list(self._objects)

    def drop_storage(self, key: str) -> None:
        """Forget every object under ``key`` and end its watches (a deleted CRD's custom resources)."""
        for objs in self._objects.pop(key, {}).values():
            for e in objs.values():
                self._uids.pop(e.uid, None)
        for w in builtins.list(self._watchers.get(key, ())):
            w.close()

    # ------------------------------------------------------------------ snapshots

    def dump(self) -> dict[str, Any]:
        """JSON-serializable snapshot of every object (for save-on-shutdown)."""
        objects: dict[str, list[Any]] = {}
        for skey, bucket in self._objects.items():
            objects[skey] = [loads(e.raw) for objs in bucket.values() for e in objs.values()]
        return {"resourceVersion": self._rv, "objects": objects}

    def load(self, data: dict[str, Any]) -> None:
        """Replace the contents with a :meth:`dump` (no events are emitted)."""
        for bucket in self._objects.values():
            bucket.clear()
        self._uids.clear()
        self._dependents.clear()
        for skey, items in data.get("objects", {}).items():
            if skey not in self._objects and "." not in skey:
                continue
            self._objects.setdefault(skey, {})  # custom resources (their CRDs are loaded too)
            extractor = FIELD_EXTRACTORS.get(skey)
            for obj in items:
                md = obj["metadata"]
                ns = md.get("namespace", "")
                rv = int(md.get("resourceVersion") or 0)
                owners = tuple(str(r.get("uid")) for r in md.get("ownerReferences") or () if r.get("uid"))
                e = _Entry(dumps(obj), rv, dict(md.get("labels") or {}), extractor(obj) if extractor else {},
                           str(md.get("uid", "")), owners)
                self._objects[skey].setdefault(ns, {})[md["name"]] = e
                self._uids[e.uid] = (skey, ns, md["name"])
                for o in owners:
                    self._dependents[o].add((skey, ns, md["name"]))
        self._rv = max(self._rv, int(data.get("resourceVersion", 1)))
        self._history.clear()
        self._history_floor = self._rv
        self._expired_at = self._rv
        # The namespace controller picks up where it was: Terminating namespaces go on being swept.
        for name, entry in list(self._objects[NAMESPACES.storage_key].get("", {}).items()):
            if b'"deletionTimestamp"' in entry.raw:
                self._schedule_call(0.0, self._sweep_namespace, name, entry.uid)


_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def _generate_name(prefix: str) -> str:
    return prefix[:58] + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))


def _iso_in(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


def _spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


def _same_ignoring_mf_time(old: dict[str, Any], new: dict[str, Any]) -> bool:
    if old == new:
        return True
    a = dict(old)
    b = dict(new)
    am = dict(a.get("metadata") or {})
    bm = dict(b.get("metadata") or {})
    am.pop("managedFields", None)
    bm.pop("managedFields", None)
    a["metadata"], b["metadata"] = am, bm
    return a == b


def _ns_details(name: str) -> dict[str, Any]:
    return {"name": name, "kind": "namespaces"}


def _awaiting_grace(rt: ResourceType, obj: dict[str, Any]) -> bool:
    return rt is PODS and bool(obj["metadata"].get("deletionGracePeriodSeconds"))

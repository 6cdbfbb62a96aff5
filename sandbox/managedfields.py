"""Server-side apply and ``metadata.managedFields`` tracking.

The portal (and ``kubectl apply --server-side``) rely on field ownership: an
apply by one manager must conflict (409) when another manager owns a field and
wants a different value, fields a manager stops applying must be removed, and
plain updates move ownership of the fields they change.  This module keeps
``managedFields`` in the real FieldsV1 shape and produces the apiserver's
conflict messages.

Model: an object is flattened into leaves keyed by a path of FieldsV1 elements
(``f:spec``, ``k:{"name":"web"}``, ``v:"x"``, and ``.`` for "the list item
itself").  Scalars, atomic lists and empty maps are leaves.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from sandbox.errors import Conflict
from sandbox.patch import MERGE_KEYS, SET_LISTS, merge_key_for
from sandbox.resources import ResourceType

Path = tuple[str, ...]
_MISSING = object()
_META_TRACKED = ("labels", "annotations", "ownerReferences", "finalizers")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _item_key(field: str, item: dict[str, Any], key: str) -> dict[str, Any]:
    k: dict[str, Any] = {key: item.get(key)}
    if field == "ports" and "protocol" in item:
        k["protocol"] = item["protocol"]
    return k


def _flatten(value: Any, path: Path, out: dict[Path, Any], field: str = "") -> None:
    if isinstance(value, dict):
        if not value and path:
            out[path] = {}
            return
        for k, v in value.items():
            _flatten(v, (*path, "f:" + k), out, k)
        return
    if isinstance(value, list):
        if field in SET_LISTS and all(not isinstance(x, (dict, list)) for x in value):
            for x in value:
                out[(*path, "v:" + json.dumps(x))] = x
            return
        key = merge_key_for(field, value) if field in MERGE_KEYS else None
        if key and value and all(isinstance(i, dict) for i in value):
            for item in value:
                kp = (*path, "k:" + json.dumps(_item_key(field, item, key), separators=(",", ":"), sort_keys=True))
                out[(*kp, ".")] = item.get(key)
                for ik, iv in item.items():
                    _flatten(iv, (*kp, "f:" + ik), out, ik)
            return
    out[path] = value


def flatten(obj: dict[str, Any], subresource: str | None = None) -> dict[Path, Any]:
    """Leaves of the fields a manager can own (metadata limited to labels/annotations/owners/finalizers)."""
    out: dict[Path, Any] = {}
    if subresource == "status":
        if "status" in obj:
            _flatten(obj["status"], ("f:status",), out, "status")
        return out
    md = obj.get("metadata") or {}
    for k in _META_TRACKED:
        if k in md:
            _flatten(md[k], ("f:metadata", "f:" + k), out, k)
    for k, v in obj.items():
        if k in ("metadata", "status", "kind", "apiVersion"):
            continue
        _flatten(v, ("f:" + k,), out, k)
    return out


def to_fields_v1(paths: set[Path] | dict[Path, Any]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for p in sorted(paths):
        cur = root
        for el in p:
            cur = cur.setdefault(el, {})
    return root


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for k, v in tree.items():
        p = (*prefix, k)
        if isinstance(v, dict) and v:
            out |= from_fields_v1(v, p)
        else:
            out.add(p)
    return out


class _Entry:
    __slots__ = ("api_version", "manager", "operation", "paths", "subresource", "time")

    def __init__(self, manager: str, operation: str, api_version: str, subresource: str, paths: set[Path],
                 time_: str) -> None:
        self.manager = manager
        self.operation = operation
        self.api_version = api_version
        self.subresource = subresource
        self.paths = paths
        self.time = time_

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version,
                             "time": self.time, "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(self.paths)}
        if self.subresource:
            d["subresource"] = self.subresource
        return d

    def describe(self) -> str:
        """The manager as the apiserver names it in conflicts: from its identifier, which never holds
        the time (``BuildManagerIdentifier``), so an Update manager is ``"x" using apps/v1``."""
        s = json.dumps(self.manager)
        if self.subresource:
            s += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            s += f" using {self.api_version}"
        return s


def _entries(obj: dict[str, Any]) -> list[_Entry]:
    out = []
    for e in (obj.get("metadata") or {}).get("managedFields") or []:
        if not isinstance(e, dict):
            continue
        out.append(_Entry(str(e.get("manager", "")), str(e.get("operation", "Update")), str(e.get("apiVersion", "")),
                          str(e.get("subresource", "")), from_fields_v1(e.get("fieldsV1") or {}),
                          str(e.get("time", ""))))
    return out


def _store_entries(obj: dict[str, Any], entries: list[_Entry]) -> None:
    # the apiserver's order (sortEncodedManagedFields): Apply before Update, then by time, manager,
    # apiVersion, subresource
    entries = sorted(entries, key=lambda e: (e.operation, e.time, e.manager, e.api_version, e.subresource))
    kept = [e.to_dict() for e in entries if e.paths]
    md = obj.setdefault("metadata", {})
    if kept:
        md["managedFields"] = kept
    else:
        md.pop("managedFields", None)


def track_update(new: dict[str, Any], old: dict[str, Any] | None, manager: str | None, *,
                 subresource: str | None) -> None:
    """Record a non-apply write by ``manager`` in ``new``'s managedFields (in place).

    Without a manager the previous managedFields are carried over unchanged.
    """
    if old is not None:
        new.setdefault("metadata", {})["managedFields"] = copy.deepcopy(
            (old.get("metadata") or {}).get("managedFields") or [])
    if not manager:
        if old is None:
            new.setdefault("metadata", {}).pop("managedFields", None)
        return
    sub = subresource or ""
    scope = "status" if sub == "status" else None
    new_flat = flatten(new, scope)
    old_flat = flatten(old, scope) if old is not None else {}
    changed = {p for p, v in new_flat.items() if old_flat.get(p, _MISSING) != v}
    removed = set(old_flat) - set(new_flat)
    if not changed and not removed and old is not None:
        return
    entries = _entries(new) if old is not None else []
    mine: _Entry | None = None
    for e in entries:
        if e.manager == manager and e.operation == "Update" and e.subresource == sub:
            mine = e
        else:
            e.paths -= changed | removed
    if mine is None:
        mine = _Entry(manager, "Update", str(new.get("apiVersion", "")), sub, set(), _now())
        entries.append(mine)
    mine.paths = (mine.paths | changed) - removed
    mine.time = _now()
    _store_entries(new, entries)


def apply_create(applied: dict[str, Any], manager: str) -> dict[str, Any]:
    """The object to create for an apply on a missing object, with the manager's entry."""
    obj = copy.deepcopy(applied)
    paths = set(flatten(applied))
    entry = _Entry(manager, "Apply", str(applied.get("apiVersion", "")), "", paths, _now())
    obj.setdefault("metadata", {})["managedFields"] = [entry.to_dict()]
    return obj


def format_path(path: Path) -> str:
    out = ""
    for el in path:
        if el == ".":
            continue
        if el.startswith("f:"):
            out += "." + el[2:]
        elif el.startswith("k:"):
            key = json.loads(el[2:])
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in key.items()) + "]"
        elif el.startswith("v:"):
            out += "[" + el[2:] + "]"
    return out


def _conflict_error(conflicts: list[tuple[_Entry, Path]]) -> Conflict:
    causes = [{"type": "FieldManagerConflict", "message": f"conflict with {e.describe()}", "field": format_path(p)}
              for e, p in conflicts]
    if len(conflicts) == 1:
        e, p = conflicts[0]
        msg = f"Apply failed with 1 conflict: conflict with {e.describe()}: {format_path(p)}"
    else:
        by_mgr: dict[str, list[Path]] = {}
        for e, p in conflicts:
            by_mgr.setdefault(e.describe(), []).append(p)
        lines = []
        for m in sorted(by_mgr):
            lines.append(f"conflicts with {m}:")
            lines.extend(f"- {format_path(p)}" for p in by_mgr[m])
        msg = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return Conflict(msg, details={"causes": causes})


def _delete_path(obj: Any, path: Path) -> None:
    """Remove the leaf (or list item, for a trailing ``.``) at ``path``; prune emptied maps."""
    parents: list[tuple[Any, Any]] = []
    cur = obj
    field = ""
    for i, el in enumerate(path):
        if el == ".":
            # remove the list item itself
            if parents:
                container, idx = parents[-1]
                if isinstance(container, list):
                    container.pop(idx)
            return
        if el.startswith("f:"):
            if not isinstance(cur, dict) or el[2:] not in cur:
                return
            field = el[2:]
            if i == len(path) - 1:
                del cur[field]
                _prune(parents)
                return
            parents.append((cur, field))
            cur = cur[field]
        elif el.startswith(("k:", "v:")):
            if not isinstance(cur, list):
                return
            if el.startswith("v:"):
                val = json.loads(el[2:])
                if val in cur:
                    cur.remove(val)
                return
            key = json.loads(el[2:])
            idx = next((n for n, it in enumerate(cur)
                        if isinstance(it, dict) and all(it.get(k) == v for k, v in key.items())), None)
            if idx is None:
                return
            parents.append((cur, idx))
            cur = cur[idx]


def _prune(parents: list[tuple[Any, Any]]) -> None:
    for container, key in reversed(parents):
        val = container[key]
        if isinstance(val, dict) and not val and isinstance(container, dict):
            del container[key]
        else:
            break


def _merge_applied(live: Any, applied: Any, field: str = "") -> Any:
    if isinstance(applied, dict):
        base = live if isinstance(live, dict) else {}
        out = dict(base)
        for k, v in applied.items():
            out[k] = _merge_applied(base.get(k), v, k)
        return out
    if isinstance(applied, list):
        if field in SET_LISTS and isinstance(live, list):
            return list(live) + [x for x in applied if x not in live]
        key = merge_key_for(field, applied) if field in MERGE_KEYS else None
        if key and isinstance(live, list) and all(isinstance(i, dict) for i in applied):
            out_list = [copy.deepcopy(i) for i in live]
            for item in applied:
                ident = _item_key(field, item, key)
                idx = next((n for n, it in enumerate(out_list) if isinstance(it, dict)
                            and all(it.get(k, "TCP" if k == "protocol" else None) == v for k, v in ident.items())),
                           None)
                if idx is None:
                    out_list.append(copy.deepcopy(item))
                else:
                    out_list[idx] = _merge_applied(out_list[idx], item)
            return out_list
        return copy.deepcopy(applied)
    return applied


def apply(rt: ResourceType, live: dict[str, Any], applied: dict[str, Any], manager: str, *, force: bool,
          subresource: str | None) -> dict[str, Any]:
    """Server-side apply ``applied`` by ``manager`` onto ``live``; returns the new object.

    Raises :class:`Conflict` (409, real message format) unless ``force``.
    """
    sub = "status" if subresource == "status" else ""
    applied_flat = flatten(applied, sub or None)
    live_flat = flatten(live, sub or None)
    entries = _entries(live)
    mine: _Entry | None = None
    for e in entries:
        if e.manager == manager and e.operation == "Apply" and e.subresource == sub:
            mine = e
    conflicts: list[tuple[_Entry, Path]] = []
    for e in entries:
        if e is mine or ("status" if e.subresource == "status" else "") != sub:
            continue
        for p in sorted(e.paths & set(applied_flat)):
            if live_flat.get(p, _MISSING) != applied_flat[p] and p[-1] != ".":
                conflicts.append((e, p))
    if conflicts and not force:
        raise _conflict_error(conflicts)
    conflict_paths = {p for _, p in conflicts}
    previously = mine.paths if mine else set()
    others: set[Path] = set()
    for e in entries:
        if e is not mine:
            e.paths -= conflict_paths
            others |= e.paths
    to_remove = previously - set(applied_flat) - others
    new = copy.deepcopy(live)
    if sub:
        new["status"] = _merge_applied(live.get("status"), applied.get("status", {}), "status")
    else:
        body = {k: v for k, v in applied.items() if k not in ("status", "kind", "apiVersion", "metadata")}
        merged = _merge_applied({k: v for k, v in live.items() if k in body}, body)
        new.update(merged)
        amd = applied.get("metadata") or {}
        nmd = new.setdefault("metadata", {})
        for k in _META_TRACKED:
            if k in amd:
                nmd[k] = _merge_applied(nmd.get(k), amd[k], k)
    # A list item whose "." nobody else owns goes as a whole (unless another manager owns a field in it);
    # its own leaves are then not removed one by one (that could strip the item's key first).
    whole = set()
    for p in to_remove:
        if p[-1] == ".":
            prefix = p[:-1]
            if not any(o[:len(prefix)] == prefix for o in others):
                whole.add(prefix)
    leaves = [p for p in to_remove if p[-1] != "." and not any(p[:len(w)] == w for w in whole)]
    for prefix in sorted(whole, key=len, reverse=True):
        _delete_path(new, (*prefix, "."))
    for p in sorted(leaves, key=len, reverse=True):
        _delete_path(new, p)
    if mine is None:
        mine = _Entry(manager, "Apply", str(applied.get("apiVersion") or rt.api_version), sub, set(), _now())
        entries.append(mine)
    mine.paths = set(applied_flat)
    mine.time = _now()
    _store_entries(new, entries)
    return new

"""JSON patch, JSON merge patch and strategic merge patch on plain dicts.

kubectl uses all three (``label``/``cordon``/``set image``/``scale``/``rollout``
send strategic merge patches; ``patch --type json|merge`` the others), so the
sandbox must apply them like the apiserver, including the list merge keys of
the built-in types (containers by name, ports by port, ...).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from sandbox.errors import ApiError, BadRequest, Invalid, UnsupportedMediaType

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)

# field name -> merge key(s); the first key that is present in the items wins
MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "volumes": ("name",),
    "env": ("name",),
    "ports": ("containerPort", "port"),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",),
    "hostAliases": ("ip",),
    "conditions": ("type",),
    "ownerReferences": ("uid",),
    "topologySpreadConstraints": ("topologyKey",),
    "resourceClaims": ("name",),
    "readinessGates": ("conditionType",),
}
# primitive lists merged as sets
SET_LISTS = frozenset({"finalizers"})


def unsupported_media_type(content_type: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(PATCH_TYPES)}"
    )


def apply_patch(patch_type: str, target: dict[str, Any], body: Any, *, kind: str = "") -> Any:
    """Apply a JSON/merge/strategic patch to a copy of ``target`` and return it."""
    base = patch_type.split(";")[0].strip()
    if base == JSON_PATCH:
        if not isinstance(body, list):
            raise BadRequest("json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp")
        return json_patch(target, body)
    if base == MERGE_PATCH:
        return merge_patch(copy.deepcopy(target), body)
    if base == STRATEGIC_PATCH:
        if not isinstance(body, dict):
            raise BadRequest("strategic merge patch must be a JSON object")
        return strategic_merge(copy.deepcopy(target), body)
    raise unsupported_media_type(patch_type)


# ----------------------------------------------------------------- JSON patch (RFC 6902)


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise Invalid(f'the server rejected our request due to an error in our request: invalid path "{path}"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise Invalid(f"the server rejected our request due to an error in our request: "
                              f"doc is missing path: \"{path}\": missing value")
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError) as exc:
                raise Invalid(f"the server rejected our request due to an error in our request: "
                              f"doc is missing path: \"{path}\"") from exc
        else:
            raise Invalid(f"the server rejected our request due to an error in our request: "
                          f"doc is missing path: \"{path}\"")
    return cur


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                idx = int(last)
            except ValueError as exc:
                raise Invalid(f"the server rejected our request due to an error in our request: bad index "
                              f"in \"{path}\"") from exc
            if idx < 0 or idx > len(parent):
                raise Invalid("the server rejected our request due to an error in our request: "
                              f"add operation does not apply: doc is missing path: \"{path}\"")
            parent.insert(idx, value)
    else:
        raise Invalid(f"the server rejected our request due to an error in our request: doc is missing path: "
                      f"\"{path}\"")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    parts = _pointer(path)
    if not parts:
        raise Invalid("the server rejected our request due to an error in our request: cannot remove root")
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return doc, parent.pop(last)
    if isinstance(parent, list):
        try:
            return doc, parent.pop(int(last))
        except (ValueError, IndexError):
            pass
    raise Invalid(f"the server rejected our request due to an error in our request: "
                  f"remove operation does not apply: doc is missing path: \"{path}\"")


def json_patch(target: Any, ops: list[Any]) -> Any:
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise BadRequest("invalid JSON patch operation")
        kind = op["op"]
        path = str(op.get("path", ""))
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            _walk(doc, _pointer(path), path)
            if _pointer(path):
                doc, _ = _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "move":
            doc, val = _remove(doc, str(op.get("from", "")))
            doc = _add(doc, path, val)
        elif kind == "copy":
            val = copy.deepcopy(_walk(doc, _pointer(str(op.get("from", ""))), str(op.get("from", ""))))
            doc = _add(doc, path, val)
        elif kind == "test":
            if _walk(doc, _pointer(path), path) != op.get("value"):
                raise Invalid(f"the server rejected our request due to an error in our request: "
                              f"testing value {path} failed")
        else:
            raise BadRequest(f"Unexpected kind: {kind}")
    return doc


# ----------------------------------------------------------------- merge patch (RFC 7386)


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


# ----------------------------------------------------------------- strategic merge patch


def merge_key_for(field: str, items: list[Any]) -> str | None:
    keys = MERGE_KEYS.get(field)
    if not keys:
        return None
    for k in keys:
        if any(isinstance(i, dict) and k in i for i in items):
            return k
    return keys[0]


def strategic_merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            if isinstance(target.get(field), list) and isinstance(v, list):
                target[field] = [x for x in target[field] if x not in v]
            continue
        if v is None:
            target.pop(k, None)
            continue
        cur = target.get(k)
        if isinstance(v, dict):
            target[k] = strategic_merge(cur if isinstance(cur, dict) else {}, v)
        elif isinstance(v, list):
            target[k] = _merge_list(k, cur if isinstance(cur, list) else [], v)
        else:
            target[k] = v
    for k, v in patch.items():
        # kubectl edit/apply send the list's new order: items named there follow it, server-only
        # items stay after the item they followed
        if k.startswith("$setElementOrder/") and isinstance(v, list) and v:
            field = k.split("/", 1)[1]
            if isinstance(target.get(field), list):
                target[field] = _ordered(target[field], v)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):  # e.g. a Deployment strategy switching type clears the other type's fields
        for key in [key for key in target if key not in retain]:
            del target[key]
    return target


def _ordered(items: list[Any], order: list[Any]) -> list[Any]:
    """``items`` in the order of ``$setElementOrder`` (entries are merge keys, or primitive values)."""
    if isinstance(order[0], dict):
        keys = list(order[0])

        def ident(x: Any) -> str | None:
            return json.dumps([x.get(k) for k in keys]) if isinstance(x, dict) else None
        wanted = [json.dumps([o.get(k) for k in keys]) for o in order if isinstance(o, dict)]
    else:
        def ident(x: Any) -> str | None:
            return json.dumps(x, sort_keys=True)
        wanted = [json.dumps(o, sort_keys=True) for o in order]
    pos = {w: i for i, w in enumerate(wanted)}
    result = sorted((x for x in items if ident(x) in pos), key=lambda x: pos[ident(x) or ""])
    at = 0
    for x in items:
        if ident(x) in pos:
            at = next(i for i, y in enumerate(result) if y is x) + 1
        else:
            result.insert(at, x)
            at += 1
    return result


def _merge_list(field: str, cur: list[Any], patch: list[Any]) -> list[Any]:
    if field in SET_LISTS:
        out = list(cur)
        for x in patch:
            if x not in out:
                out.append(x)
        return out
    key = merge_key_for(field, patch + cur)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return copy.deepcopy([i for i in patch if not (isinstance(i, dict) and i.get("$patch"))])
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return copy.deepcopy([i for i in patch if i.get("$patch") != "replace"])
    out = copy.deepcopy(cur)
    for item in patch:
        kval = item.get(key)
        idx = next((n for n, c in enumerate(out) if isinstance(c, dict) and c.get(key) == kval), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(strategic_merge({}, item))
        else:
            out[idx] = strategic_merge(out[idx], item)
    return out


def ensure_patch_ok(exc: Exception) -> ApiError:
    """Wrap an unexpected exception raised while patching as a 422."""
    return Invalid(f"the server rejected our request due to an error in our request: {exc}")

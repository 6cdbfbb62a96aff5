"""CustomResourceDefinitions and the custom resources they serve.

A real apiserver (apiextensions-apiserver) starts serving ``/apis/<group>/<version>/<plural>``
as soon as a CRD is created and established; the portal's resource browser and
``kubectl get <custom>`` depend on that, so the sandbox does the same: the CRD objects live
in the ordinary store (``customresourcedefinitions.apiextensions.k8s.io``) and the served
custom types are derived from them per cluster (:func:`custom_types`), cached until a CRD
changes.  What a custom resource gets, as on a real server:

- discovery entries (``/apis``, ``/apis/<g>``, ``/apis/<g>/<v>``) and an OpenAPI v3 path;
- the CRD's ``additionalPrinterColumns`` in ``Table`` responses, evaluated by JSONPath
  (``date`` columns printed as an age; no columns -> Name, Age);
- ``openAPIV3Schema`` validation (types, required, enum, items, nested properties, pruning of
  unknown fields unless ``x-kubernetes-preserve-unknown-fields``) answered as 422 Invalid with
  the apiserver's wording (``spec.size in body must be of type integer: "big"``);
- the ``status`` subresource when the CRD declares it (status ignored on the main resource);
- cluster or namespaced scope; deleting the CRD deletes its custom resources.

Not modelled: conversion webhooks (all versions share one storage, objects keep the
apiVersion they were written with), CEL validation rules, defaults, the ``scale`` subresource.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sandbox.errors import FieldError, Invalid
from sandbox.resources import ALL_VERBS, ResourceType, lookup

if TYPE_CHECKING:
    from sandbox.store import Store

CRDS_KEY = "customresourcedefinitions.apiextensions.k8s.io"
_SCHEMA_TYPES = ("object", "array", "string", "integer", "number", "boolean")


@dataclass(frozen=True, slots=True)
class CustomType(ResourceType):
    """A served custom resource: a :class:`ResourceType` plus what its CRD says about printing and
    validation (kept as JSON text so the type stays hashable)."""

    columns_json: str = "[]"
    schema_json: str = "{}"
    custom: bool = True

    def printer(self) -> tuple[list[tuple[str, str, int, str]], Any]:
        """(columns, row function) for :func:`sandbox.tables.table`."""
        from sandbox.tables import age

        cols = json.loads(self.columns_json)
        if not cols:
            cols = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
        defs: list[tuple[str, str, int, str]] = [("Name", "string", 0, "name")]
        defs += [(c["name"], c.get("type", "string"), int(c.get("priority") or 0), c.get("format", ""))
                 for c in cols]

        def row(obj: dict[str, Any]) -> list[Any]:
            cells: list[Any] = [obj["metadata"]["name"]]
            for c in cols:
                found = jsonpath(obj, str(c.get("jsonPath", "")))
                if not found:
                    cells.append(None)
                    continue
                value = found[0]
                if c.get("type") == "date" and isinstance(value, str):
                    value = age(value)
                elif isinstance(value, (dict, list)):
                    value = json.dumps(value, separators=(",", ":"))
                cells.append(value)
            return cells

        return defs, row


# ---------------------------------------------------------------- the served types

_CACHE_ATTR = "_sandbox_custom_types"


def custom_types(store: Store) -> list[CustomType]:
    """Every (group, version, plural) the cluster's established CRDs serve (kept on the store until
    a CRD changes)."""
    progress = store.progress.get(CRDS_KEY, -1)
    hit: tuple[int, list[CustomType]] | None = getattr(store, _CACHE_ATTR, None)
    if hit is not None and hit[0] == progress:
        return hit[1]
    out: list[CustomType] = []
    crds, _ = store.list(lookup(CRDS_KEY))
    for crd in crds:
        if crd["metadata"].get("deletionTimestamp"):
            continue
        out.extend(types_of(crd))
    setattr(store, _CACHE_ATTR, (progress, out))
    return out


def types_of(crd: dict[str, Any]) -> list[CustomType]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for v in spec.get("versions") or []:
        if not v.get("served", True):
            continue
        subs = tuple(k for k in ("status",) if k in (v.get("subresources") or {}))
        schema = ((v.get("schema") or {}).get("openAPIV3Schema")) or {}
        out.append(CustomType(
            group=spec["group"], version=v["name"], plural=names["plural"], kind=names["kind"],
            namespaced=spec.get("scope") == "Namespaced", singular=names.get("singular") or "",
            short_names=tuple(names.get("shortNames") or ()), categories=tuple(names.get("categories") or ()),
            verbs=ALL_VERBS, subresources=subs, has_status="status" in subs,
            list_kind=names.get("listKind") or "",
            columns_json=json.dumps(v.get("additionalPrinterColumns") or []),
            schema_json=json.dumps(schema)))
    return out


def lookup_custom(store: Store, group: str, version: str, plural: str) -> CustomType | None:
    for t in custom_types(store):
        if (t.group, t.version, t.plural) == (group, version, plural):
            return t
    return None


def all_types(store: Store | None) -> list[ResourceType]:
    """Built-in types followed by the cluster's custom ones (discovery order)."""
    from sandbox.resources import RESOURCE_TYPES

    return [*RESOURCE_TYPES, *(custom_types(store) if store is not None else [])]


# ---------------------------------------------------------------- JSONPath (printer columns)

_TOKEN = re.compile(r"\.([A-Za-z0-9_\-/]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*['\"]([^'\"]*)['\"]\)\]"
                    r"|\.\*")


def jsonpath(obj: Any, path: str) -> list[Any]:
    """The values ``path`` selects (the subset printer columns use: ``.a.b``, ``[0]``, ``[*]``,
    ``[?(@.type=="Ready")]``).  Missing paths select nothing."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    current = [obj]
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None:
            return []
        pos = m.end()
        nxt: list[Any] = []
        for c in current:
            if m.group(1) is not None:
                if isinstance(c, dict) and m.group(1) in c:
                    nxt.append(c[m.group(1)])
            elif m.group(2) is not None:
                if isinstance(c, list):
                    if m.group(2) == "*":
                        nxt.extend(c)
                    elif int(m.group(2)) < len(c):
                        nxt.append(c[int(m.group(2))])
            elif m.group(3) is not None:
                if isinstance(c, list):
                    for item in c:
                        got = jsonpath(item, "." + m.group(3))
                        if got and str(got[0]) == m.group(4):
                            nxt.append(item)
            elif isinstance(c, dict):
                nxt.extend(c.values())
        current = nxt
    return [c for c in current if c is not None]


# ---------------------------------------------------------------- CRD defaults and validation


def default_and_validate_crd(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    """What apiextensions validation says about a CRD (the common mistakes, not all of it)."""
    errs: list[FieldError] = []
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [FieldError("Required", "spec")]
    group = spec.get("group")
    names: dict[str, Any] = spec["names"] if isinstance(spec.get("names"), dict) else {}
    if not group or not isinstance(group, str):
        errs.append(FieldError("Required", "spec.group"))
    elif "." not in group:
        errs.append(FieldError("Invalid", "spec.group", group, "should be a domain with at least one dot"))
    plural, kind = names.get("plural"), names.get("kind")
    if not plural:
        errs.append(FieldError("Required", "spec.names.plural"))
    elif not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", str(plural)):
        errs.append(FieldError("Invalid", "spec.names.plural", plural,
                               "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                               "or '-', and must start and end with an alphanumeric character"))
    if not kind:
        errs.append(FieldError("Required", "spec.names.kind"))
    names.setdefault("singular", str(kind or "").lower())
    names.setdefault("listKind", f"{kind}List")
    name = (obj.get("metadata") or {}).get("name")
    if plural and group and name != f"{plural}.{group}":
        errs.append(FieldError("Invalid", "metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        errs.append(FieldError("NotSupported", "spec.scope", scope, 'supported values: "Cluster", "Namespaced"')
                    if scope else FieldError("Required", "spec.scope"))
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        errs.append(FieldError("Invalid", "spec.versions", versions, "must have exactly one version marked as "
                                                                     "storage version"))
        return errs
    if sum(1 for v in versions if isinstance(v, dict) and v.get("storage")) != 1:
        errs.append(FieldError("Invalid", "spec.versions", versions,
                               "must have exactly one version marked as storage version"))
    for i, v in enumerate(versions):
        if not isinstance(v, dict) or not v.get("name"):
            errs.append(FieldError("Required", f"spec.versions[{i}].name"))
            continue
        v.setdefault("served", True)
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            errs.append(FieldError("Required", f"spec.versions[{i}].schema.openAPIV3Schema",
                                   None, "schemas are required"))
        elif isinstance(schema, dict) and schema.get("type") not in (None, "object"):
            errs.append(FieldError("Invalid", f"spec.versions[{i}].schema.openAPIV3Schema.type",
                                   schema.get("type"), "must be object at the root"))
        for j, col in enumerate(v.get("additionalPrinterColumns") or []):
            field = f"spec.versions[{i}].additionalPrinterColumns[{j}]"
            if not isinstance(col, dict):
                errs.append(FieldError("Invalid", field, col, "must be an object"))
                continue
            for key in ("name", "type", "jsonPath"):
                if not col.get(key):
                    errs.append(FieldError("Required", f"{field}.{key}"))
            if col.get("type") and col["type"] not in ("integer", "number", "string", "boolean", "date"):
                errs.append(FieldError("NotSupported", f"{field}.type", col["type"],
                                       'supported values: "boolean", "date", "integer", "number", "string"'))
    if old is not None:
        ospec = old.get("spec") or {}
        if ospec.get("scope") != spec.get("scope"):
            errs.append(FieldError("Invalid", "spec.scope", spec.get("scope"), "field is immutable"))
        if (ospec.get("group"), (ospec.get("names") or {}).get("plural")) != (group, plural):
            errs.append(FieldError("Invalid", "spec.group", group, "field is immutable"))
    return errs


def crd_status(obj: dict[str, Any]) -> dict[str, Any]:
    """The status apiextensions-apiserver writes once names are accepted: established at once."""
    from sandbox.store import now_iso

    spec = obj.get("spec") or {}
    now = now_iso()
    conds = [{"type": t, "status": "True", "lastTransitionTime": now, "reason": r, "message": m}
             for t, r, m in (("NamesAccepted", "NoConflicts", "no conflicts found"),
                             ("Established", "InitialNamesAccepted", "the initial names have been accepted"))]
    return {"acceptedNames": dict(spec.get("names") or {}), "conditions": conds,
            "storedVersions": [v["name"] for v in spec.get("versions") or [] if v.get("storage")]}


# ---------------------------------------------------------------- custom resource validation


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _type_ok(want: str, value: Any) -> bool:
    got = _type_name(value)
    return got == want or (want == "number" and got == "integer")


def _go(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":")) if isinstance(value, (dict, list)) else str(value)


def _validate(value: Any, schema: dict[str, Any], path: str, errs: list[FieldError]) -> Any:
    """Check ``value`` against a structural schema; returns it pruned of unknown fields."""
    if value is None:
        if schema.get("nullable"):
            return None
        want = schema.get("type")
        if want:
            errs.append(FieldError("Invalid", path, None, f"{path} in body must be of type {want}: \"null\""))
        return None
    want = schema.get("type")
    if want in _SCHEMA_TYPES and not _type_ok(want, value) and not schema.get("x-kubernetes-int-or-string"):
        errs.append(FieldError("Invalid", path, value, f"{path} in body must be of type {want}: "
                                                       f"\"{_type_name(value)}\""))
        return value
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        errs.append(FieldError("NotSupported", path, value,
                               "supported values: " + ", ".join(_go(e) for e in enum)))
    if isinstance(value, dict):
        props = schema.get("properties")
        for req in schema.get("required") or []:
            if req not in value:
                errs.append(FieldError("Required", f"{path}.{req}" if path else req))
        out: dict[str, Any] = {}
        for k, v in value.items():
            child = f"{path}.{k}" if path else k
            if isinstance(props, dict) and k in props:
                out[k] = _validate(v, props[k], child, errs)
            elif isinstance(schema.get("additionalProperties"), dict):
                out[k] = _validate(v, schema["additionalProperties"], child, errs)
            elif (schema.get("x-kubernetes-preserve-unknown-fields") or schema.get("additionalProperties") is True
                  or (props is None and want != "object")):
                out[k] = v
            # anything else is pruned, as the apiserver does for structural schemas
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_validate(v, schema["items"], f"{path}[{i}]", errs) for i, v in enumerate(value)]
    if isinstance(value, str):
        if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
            errs.append(FieldError("Invalid", path, value, f"{path} in body should be at most "
                                                           f"{schema['maxLength']} chars long"))
        if schema.get("pattern") and re.search(str(schema["pattern"]), value) is None:
            errs.append(FieldError("Invalid", path, value, f"{path} in body should match '{schema['pattern']}'"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(schema.get("minimum"), (int, float)) and value < schema["minimum"]:
            errs.append(FieldError("Invalid", path, value, f"{path} in body should be greater than or equal "
                                                           f"to {schema['minimum']}"))
        if isinstance(schema.get("maximum"), (int, float)) and value > schema["maximum"]:
            errs.append(FieldError("Invalid", path, value, f"{path} in body should be less than or equal "
                                                           f"to {schema['maximum']}"))
    return value


def validate_custom(rt: CustomType, obj: dict[str, Any]) -> None:
    """Validate and prune ``obj`` (in place) against its version's schema; 422 Invalid on errors."""
    schema = json.loads(rt.schema_json)
    errs: list[FieldError] = []
    if schema:
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        root = dict(schema)
        props = dict(root.get("properties") or {})
        for k in ("apiVersion", "kind", "metadata"):
            props.pop(k, None)
        root["properties"] = props
        root.pop("required", None)
        pruned = _validate(body, root, "", errs)
        for req in schema.get("required") or []:
            if req not in ("apiVersion", "kind", "metadata") and req not in body:
                errs.append(FieldError("Required", req))
        for k in list(obj):
            if k not in ("apiVersion", "kind", "metadata") and k not in pruned:
                del obj[k]
        obj.update(pruned)
    if errs:
        name = str((obj.get("metadata") or {}).get("name") or "")
        parts = [f"{e.field}: {e.message()}" for e in errs]
        joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
        raise Invalid(f'{rt.kind}.{rt.group} "{name}" is invalid: {joined}',
                      details={"name": name, "group": rt.group, "kind": rt.kind,
                               "causes": [e.cause() for e in errs]})


def drop_orphans(store: Store) -> None:
    """After a CRD is deleted: its custom resources go with it (the apiserver's
    customresourcecleanup finalizer), and watches on them end."""
    served = {t.storage_key for t in custom_types(store)}
    from sandbox.resources import stored_types

    builtin = {t.storage_key for t in stored_types()}
    for key in [k for k in store.storage_keys() if k not in builtin and k not in served]:
        store.drop_storage(key)

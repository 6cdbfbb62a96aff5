"""Discovery documents (/api, /apis, /apis/<g>/<v>) and the minimal OpenAPI kubectl asks for.

Generated from the resource registry so discovery can never disagree with what
the router serves.  ``kubectl api-resources`` and the client's RESTMapper are
built from these answers.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox.crds import all_types
from sandbox.errors import NotFound
from sandbox.resources import ResourceType

if TYPE_CHECKING:
    from sandbox.cluster import SimCluster
    from sandbox.store import Store


def groups(store: Store | None = None) -> list[tuple[str, str]]:
    """Served (group, version) pairs, core group excluded: built-in ones, then the CRDs' ones."""
    out: list[tuple[str, str]] = []
    for rt in all_types(store):
        if rt.group and (rt.group, rt.version) not in out:
            out.append((rt.group, rt.version))
    return out

_SUBRESOURCE_INFO: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    # name -> (group, version, kind ("" = parent kind), verbs)
    "status": ("", "", "", ("get", "patch", "update")),
    "scale": ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    "log": ("", "", "", ("get",)),
    "eviction": ("policy", "v1", "Eviction", ("create",)),
    "binding": ("", "", "Binding", ("create",)),
    "exec": ("", "", "PodExecOptions", ("create", "get")),
    "finalize": ("", "", "", ("update",)),
    "token": ("authentication.k8s.io", "v1", "TokenRequest", ("create",)),
}


def _hash(rt: ResourceType) -> str:
    return hashlib.sha256(rt.key.encode()).digest()[:8].hex()


def api_versions(cluster: SimCluster) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{cluster.port}"}]}


def _group_entry(group: str, store: Store | None = None) -> dict[str, Any]:
    versions = [v for g, v in groups(store) if g == group]
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(store: Store | None = None) -> dict[str, Any]:
    seen: list[str] = []
    for g, _ in groups(store):
        if g not in seen:
            seen.append(g)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group_entry(g, store) for g in seen]}


def api_group(group: str, store: Store | None = None) -> dict[str, Any] | None:
    if not any(g == group for g, _ in groups(store)):
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, store)}


def resource_list(group: str, version: str, store: Store | None = None) -> dict[str, Any] | None:
    types = [rt for rt in all_types(store) if rt.group == group and rt.version == version]
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for rt in types:
        entry: dict[str, Any] = {"name": rt.plural, "singularName": rt.singular_name(), "namespaced": rt.namespaced,
                                 "kind": rt.kind, "verbs": list(rt.verbs)}
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        if rt.stored:
            entry["storageVersionHash"] = _hash(rt)
        resources.append(entry)
        for sub in rt.subresources:
            g, v, kind, verbs = _SUBRESOURCE_INFO[sub]
            s: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                                 "kind": kind or rt.kind, "verbs": list(verbs)}
            if g:
                s["group"] = g
                s["version"] = v
            resources.append(s)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": resources}


AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def aggregated_version(accept: str) -> str | None:
    """The aggregated discovery version the ``Accept`` header asks for first ("v2", "v2beta1"),
    or None for the legacy documents (kubectl 1.26+ and client-go ask for v2, then v2beta1)."""
    for entry in accept.split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in entry.split(";")[1:])}
        if params.get("as") == "APIGroupDiscoveryList" and params.get("g") == "apidiscovery.k8s.io" \
                and params.get("v") in ("v2", "v2beta1"):
            return params["v"]
    return None


def _resource_discovery(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {"resource": rt.plural, "responseKind": {"group": "", "version": "", "kind": rt.kind},
                             "scope": "Namespaced" if rt.namespaced else "Cluster",
                             "singularResource": rt.singular_name(), "verbs": list(rt.verbs)}
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    subs = []
    for sub in rt.subresources:
        g, v, kind, verbs = _SUBRESOURCE_INFO[sub]
        subs.append({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": kind or rt.kind},
                     "verbs": list(verbs)})
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(store: Store | None, *, core: bool, version: str = "v2") -> dict[str, Any]:
    """``/api`` or ``/apis`` as aggregated discovery (``APIGroupDiscoveryList``): every group with
    its versions (preferred first) and their resources, in one document."""
    types = all_types(store)
    names = [""] if core else [g for g in dict.fromkeys(g for g, _ in groups(store))]
    items = []
    for name in names:
        versions = ["v1"] if core else [v for g, v in groups(store) if g == name]
        items.append({"metadata": {"name": name, "creationTimestamp": None} if name else {"creationTimestamp": None},
                      "versions": [{"version": v, "freshness": "Current",
                                    "resources": [_resource_discovery(rt) for rt in types
                                                  if rt.group == name and rt.version == v]}
                                   for v in versions]})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}", "metadata": {},
            "items": items}


def openapi(request: web.Request, segs: list[str], cluster: SimCluster) -> web.Response:
    """OpenAPI v3 index and per-group documents (paths only, no schemas).

    kubectl reads ``/openapi/v3`` to learn that the server supports
    ``fieldValidation``; v2 (protobuf only in kubectl) is answered 404 so kubectl
    relies on server-side validation.
    """
    from sandbox.server import json_response

    if segs == ["openapi", "v3"]:
        paths = {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=sandbox"}}
        for g, v in groups(cluster.store):
            paths[f"apis/{g}/{v}"] = {"serverRelativeURL": f"/openapi/v3/apis/{g}/{v}?hash=sandbox"}
        return json_response({"paths": paths})
    if len(segs) >= 4 and segs[:2] == ["openapi", "v3"]:
        gv = segs[2:]
        if gv[0] == "api":
            group, version = "", gv[1] if len(gv) > 1 else ""
        else:
            group, version = (gv[1], gv[2]) if len(gv) > 2 else ("", "")
        doc = _openapi_doc(group, version, cluster.store)
        if doc is None:
            raise NotFound("the server could not find the requested resource")
        return json_response(doc)
    raise NotFound("the server could not find the requested resource")


def _openapi_doc(group: str, version: str, store: Store | None = None) -> dict[str, Any] | None:
    types = [rt for rt in all_types(store) if rt.group == group and rt.version == version]
    if not types:
        return None
    params = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
              {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
              {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}}]
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for rt in types:
        prefix = rt.group_path + ("/namespaces/{namespace}" if rt.namespaced else "")
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        ref_name = f"io.k8s.sandbox.{rt.group or 'core'}.{rt.version}.{rt.kind}"
        schemas[ref_name] = {"type": "object", "x-kubernetes-group-version-kind": [gvk],
                             "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                            "metadata": {"type": "object"}}}
        op = {"parameters": params, "x-kubernetes-group-version-kind": gvk,
              "responses": {"200": {"content": {"application/json": {
                  "schema": {"$ref": f"#/components/schemas/{ref_name}"}}}}}}
        paths[f"{prefix}/{rt.plural}"] = {"post": {**op, "x-kubernetes-action": "post"},
                                          "get": {**op, "x-kubernetes-action": "list"}}
        paths[f"{prefix}/{rt.plural}/{{name}}"] = {"put": {**op, "x-kubernetes-action": "put"},
                                                   "patch": {**op, "x-kubernetes-action": "patch"},
                                                   "get": {**op, "x-kubernetes-action": "get"}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "unversioned"}, "paths": paths,
            "components": {"schemas": schemas}}

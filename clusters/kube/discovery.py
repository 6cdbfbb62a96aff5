"""Discovery and server-side printing (``Table``) for any kind a cluster serves.

The resource browser shows everything ``kubectl api-resources`` lists, custom resources
included, with the columns the API server prints (``kubectl get``'s own source of truth). This
module is the client layer's part of that: what the cluster serves (aggregated discovery when the
server answers it, else ``/api`` + ``/apis`` + one request per preferred group version), a list as
a ``meta.k8s.io/v1`` Table with the server's paging and selectors, and one object. Every call is a
single attempt with the caller's time budget: a person is waiting, and a slow cluster must not
hold a web worker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from clusters.kube.client import KubeClient
from clusters.kube.errors import ApiError, NotFound

TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
AGGREGATED_ACCEPT = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                     "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")


@dataclass(frozen=True)
class ApiResource:
    """One group/version/plural a cluster serves (its preferred version of the group)."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, *, namespace: str = "", name: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        return f"{base}/{self.plural}" + (f"/{quote(name, safe='')}" if name else "")

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, "version": self.version, "plural": self.plural, "kind": self.kind,
                "namespaced": self.namespaced, "verbs": list(self.verbs), "short_names": list(self.short_names),
                "categories": list(self.categories)}


def _get(client: KubeClient, path: str, *, accept: str = "application/json", timeout: float,
         query: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """GET ``path`` with an ``Accept`` header of our choice, one attempt, as a dict."""

    def request(**kwargs: Any) -> Any:
        return client.api_client.call_api(
            path, "GET", path_params={}, query_params=query or [], header_params={"Accept": accept},
            auth_settings=["BearerToken"], response_type=None, _return_http_data_only=True, **kwargs)

    return client.get_json(request, timeout=timeout, attempts=1)


def _entry(group: str, version: str, item: dict[str, Any]) -> ApiResource | None:
    name = str(item.get("name") or item.get("resource") or "")
    if not name or "/" in name:
        return None  # a subresource
    kind = item.get("kind") or (item.get("responseKind") or {}).get("kind") or ""
    namespaced = bool(item["namespaced"]) if "namespaced" in item else item.get("scope") == "Namespaced"
    return ApiResource(group=group, version=version, plural=name, kind=str(kind), namespaced=namespaced,
                       verbs=tuple(item.get("verbs") or ()), short_names=tuple(item.get("shortNames") or ()),
                       categories=tuple(item.get("categories") or ()))


def _from_aggregated(body: dict[str, Any]) -> list[ApiResource]:
    out: list[ApiResource] = []
    for group in body.get("items") or []:
        name = str((group.get("metadata") or {}).get("name") or "")
        versions = group.get("versions") or []
        if not versions:
            continue
        preferred = versions[0]  # the server lists versions in preference order
        for item in preferred.get("resources") or []:
            entry = _entry(name, str(preferred.get("version")), item)
            if entry is not None:
                out.append(entry)
    return out


def served_resources(client: KubeClient, *, timeout: float, aggregated: bool = True) -> list[ApiResource]:
    """Every listable kind the cluster serves, in its preferred version per group.

    Aggregated discovery (one request for ``/api`` and one for ``/apis``) when served (v1.26+
    answers v2beta1, v1.30+ v2) and ``aggregated``; otherwise the legacy walk. Raises the
    client's typed errors.
    """
    core = _get(client, "/api", accept=AGGREGATED_ACCEPT if aggregated else "application/json", timeout=timeout)
    if core.get("kind") == "APIGroupDiscoveryList":
        apis = _get(client, "/apis", accept=AGGREGATED_ACCEPT, timeout=timeout)
        resources = _from_aggregated(core) + _from_aggregated(apis)
    else:
        resources = []
        for item in _get(client, "/api/v1", timeout=timeout).get("resources") or []:
            entry = _entry("", "v1", item)
            if entry is not None:
                resources.append(entry)
        for group in _get(client, "/apis", timeout=timeout).get("groups") or []:
            preferred = group.get("preferredVersion") or (group.get("versions") or [{}])[0]
            version = str(preferred.get("version") or "")
            if not version:
                continue
            try:
                body = _get(client, f"/apis/{group['name']}/{version}", timeout=timeout)
            except NotFound:
                continue  # a group removed between the two requests
            for item in body.get("resources") or []:
                entry = _entry(str(group["name"]), version, item)
                if entry is not None:
                    resources.append(entry)
    return [r for r in resources if "list" in r.verbs]


def list_table(client: KubeClient, resource: ApiResource, *, namespace: str = "", label_selector: str = "",
               field_selector: str = "", limit: int = 100, continue_token: str = "",
               timeout: float) -> dict[str, Any]:
    """One page of ``resource`` as the server's ``meta.k8s.io/v1`` Table (rows carry the objects'
    metadata). A server that answers a plain list (no Table support) gets its items wrapped in a
    Name/Age table, as kubectl does."""
    query: list[tuple[str, str]] = [("limit", str(limit))]
    for key, value in (("labelSelector", label_selector), ("fieldSelector", field_selector),
                       ("continue", continue_token)):
        if value:
            query.append((key, value))
    body = _get(client, resource.path(namespace=namespace), accept=TABLE_ACCEPT, timeout=timeout, query=query)
    if body.get("kind") == "Table":
        return body
    if not isinstance(body.get("items"), list):
        raise ApiError("The cluster answered the list with neither a Table nor a list.")
    rows = [{"cells": [(i.get("metadata") or {}).get("name", ""), (i.get("metadata") or {}).get(
        "creationTimestamp", "")], "object": {"metadata": i.get("metadata") or {}}} for i in body["items"]]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": body.get("metadata") or {},
            "columnDefinitions": [{"name": "Name", "type": "string", "format": "name", "priority": 0},
                                  {"name": "Created At", "type": "date", "format": "", "priority": 0}],
            "rows": rows}


def get_object(client: KubeClient, resource: ApiResource, name: str, *, namespace: str = "",
               timeout: float) -> dict[str, Any]:
    """The object as the server has it (``managedFields`` left for the caller to strip)."""
    body = _get(client, resource.path(namespace=namespace, name=name), timeout=timeout)
    if not isinstance(body.get("metadata"), dict):
        raise ApiError(f"The cluster answered with something that is not an object: {json.dumps(body)[:200]}")
    return body

"""EndpointSlices mirrored from Endpoints.

``kubectl describe service`` (and newer clients) read
``discovery.k8s.io/v1`` EndpointSlices, while the sandbox's endpoints
controller writes core Endpoints.  Each cluster mirrors every Endpoints object
into one EndpointSlice named ``<service>-<5 chars>`` (stable per service),
labelled ``kubernetes.io/service-name`` and owned by the Service, as the
EndpointSlice controller would.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import TYPE_CHECKING, Any

from sandbox.errors import ApiError
from sandbox.resources import ENDPOINTSLICES, SERVICES

if TYPE_CHECKING:
    from sandbox.store import Store

_CHARS = "bcdfghjklmnpqrstvwxz2456789"
MANAGER = "endpointslice-controller"


def slice_name(service: str) -> str:
    digest = hashlib.sha256(service.encode()).digest()
    return service[:57] + "-" + "".join(_CHARS[b % len(_CHARS)] for b in digest[:5])


def build_slice(endpoints: dict[str, Any], service: dict[str, Any] | None) -> dict[str, Any]:
    md = endpoints["metadata"]
    name, ns = md["name"], md["namespace"]
    eps: list[dict[str, Any]] = []
    ports: list[dict[str, Any]] = []
    for subset in endpoints.get("subsets") or []:
        for ready, key in ((True, "addresses"), (False, "notReadyAddresses")):
            for addr in subset.get(key) or []:
                ep: dict[str, Any] = {"addresses": [addr.get("ip")],
                                      "conditions": {"ready": ready, "serving": ready, "terminating": False}}
                for field in ("nodeName", "targetRef", "hostname"):
                    if addr.get(field):
                        ep[field] = addr[field]
                eps.append(ep)
        for p in subset.get("ports") or []:
            port = {"name": p.get("name", ""), "port": p.get("port"), "protocol": p.get("protocol", "TCP")}
            if port not in ports:
                ports.append(port)
    labels = {"kubernetes.io/service-name": name, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    meta: dict[str, Any] = {"name": slice_name(name), "namespace": ns, "labels": labels,
                            "generateName": f"{name}-"}
    if service is not None:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Service", "name": name,
                                    "uid": service["metadata"]["uid"], "controller": True,
                                    "blockOwnerDeletion": True}]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta, "addressType": "IPv4",
            "endpoints": eps, "ports": ports}


def mirror(store: Store, event_type: str, endpoints: dict[str, Any]) -> None:
    """Create, update or delete the EndpointSlice that mirrors ``endpoints``."""
    md = endpoints["metadata"]
    ns, name = md["namespace"], md["name"]
    sname = slice_name(name)
    current = store.get(ENDPOINTSLICES, ns, sname)
    with contextlib.suppress(ApiError):
        if event_type == "DELETED":
            if current is not None:
                store.delete(ENDPOINTSLICES, ns, sname)
            return
        desired = build_slice(endpoints, store.get(SERVICES, ns, name))
        if current is None:
            store.create(ENDPOINTSLICES, desired, field_manager=MANAGER, _owned=True)
            return
        for key in ("endpoints", "ports"):
            current[key] = desired[key]
        current["metadata"]["labels"] = {**(current["metadata"].get("labels") or {}), **desired["metadata"]["labels"]}
        store.update(ENDPOINTSLICES, current, field_manager=MANAGER, _owned=True)

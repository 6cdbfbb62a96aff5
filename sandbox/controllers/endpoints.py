"""Endpoints controller: each Service with a selector gets an Endpoints object listing its pods.

Ready pods go to ``addresses``, running-but-unready ones to
``notReadyAddresses``, with ``targetRef`` and ``nodeName`` like the real
controller; named ``targetPort``s are resolved through the pods' container
ports.  Recomputation is coalesced per Service (``endpoints_batch_seconds``)
so pod churn in a namespace does not cost one full pass per pod event.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from sandbox.controllers.cache import PodInfo
from sandbox.errors import ApiError
from sandbox.resources import ENDPOINTS, SERVICES
from sandbox.selectors import LabelSelector, Requirement

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager


def _selector(sel: dict[str, str]) -> LabelSelector:
    return LabelSelector(tuple(Requirement(k, "=", (str(v),)) for k, v in sel.items()))


class EndpointsController:
    def __init__(self, manager: ControllerManager) -> None:
        self.m = manager
        self.q = manager.queue("endpoints", self.sync)
        # namespace -> service name -> selector
        self.selectors: dict[str, dict[str, LabelSelector]] = {}
        manager.on_kind(SERVICES, self.on_service)
        manager.on_pod(self.on_pod)

    def on_service(self, etype: str, obj: dict[str, Any]) -> None:
        md = obj["metadata"]
        ns, name = md["namespace"], md["name"]
        sel = (obj.get("spec") or {}).get("selector")
        by_ns = self.selectors.setdefault(ns, {})
        if etype == "DELETED" or not sel:
            had = by_ns.pop(name, None)
            if etype == "DELETED" and had is not None:
                with contextlib.suppress(ApiError):
                    self.m.store.delete(ENDPOINTS, ns, name)
            if not by_ns:
                self.selectors.pop(ns, None)
            return
        by_ns[name] = _selector(sel)
        self.q.add((ns, name))

    def on_pod(self, etype: str, old: PodInfo | None, new: PodInfo | None) -> None:
        p = new or old
        assert p is not None
        services = self.selectors.get(p.ns)
        if not services:
            return
        if old is not None and new is not None and (old.ready, old.ip, old.deleting, old.phase, old.node) == (
                new.ready, new.ip, new.deleting, new.phase, new.node) and old.labels == new.labels:
            return
        for name, sel in services.items():
            if (new is not None and sel.matches(new.labels)) or (old is not None and sel.matches(old.labels)):
                self.q.add_after((p.ns, name), self.m.config.endpoints_batch_seconds)

    def sync(self, key: tuple[str, str]) -> None:
        ns, name = key
        svc = self.m.store.get(SERVICES, ns, name)
        sel = self.selectors.get(ns, {}).get(name)
        if svc is None or sel is None:
            return
        pods = sorted((p for p in self.m.pods.in_namespace(ns)
                       if p.ip and not p.deleting and p.phase not in ("Succeeded", "Failed")
                       and sel.matches(p.labels)), key=lambda p: p.ip)
        svc_ports = (svc.get("spec") or {}).get("ports") or []
        publish_not_ready = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
        ready: list[dict[str, Any]] = []
        not_ready: list[dict[str, Any]] = []
        for p in pods:
            addr = {"ip": p.ip, "nodeName": p.node,
                    "targetRef": {"kind": "Pod", "namespace": ns, "name": p.name, "uid": p.uid}}
            (ready if p.ready or publish_not_ready else not_ready).append(addr)
        ports = []
        for sp in svc_ports:
            target = sp.get("targetPort", sp.get("port"))
            if isinstance(target, str) and not target.isdigit():
                resolved = next((c.ports[target] for p in pods for c in p.containers if target in c.ports), None)
                if resolved is None:
                    continue
                target = resolved
            port: dict[str, Any] = {"port": int(target), "protocol": sp.get("protocol", "TCP")}
            if sp.get("name"):
                port["name"] = sp["name"]
            if sp.get("appProtocol"):
                port["appProtocol"] = sp["appProtocol"]
            ports.append(port)
        subsets: list[dict[str, Any]] = []
        if (ready or not_ready) and ports:
            subset: dict[str, Any] = {}
            if ready:
                subset["addresses"] = ready
            if not_ready:
                subset["notReadyAddresses"] = not_ready
            subset["ports"] = ports
            subsets.append(subset)
        labels = dict(svc["metadata"].get("labels") or {})
        labels["endpoints.kubernetes.io/managed-by"] = "endpoint-controller"
        cur = self.m.store.get(ENDPOINTS, ns, name)
        body: dict[str, Any] = {"metadata": {"name": name, "namespace": ns, "labels": labels}}
        if subsets:
            body["subsets"] = subsets
        try:
            if cur is None:
                self.m.store.create(ENDPOINTS, body)
            elif cur.get("subsets") != body.get("subsets") or cur["metadata"].get("labels") != labels:
                cur["subsets"] = subsets
                if not subsets:
                    cur.pop("subsets")
                cur["metadata"]["labels"] = labels
                self.m.store.update(ENDPOINTS, cur)
        except ApiError:
            return

"""Disruption controller: keeps PodDisruptionBudget status current so ``kubectl get pdb`` is truthful.

The core's eviction endpoint decides evictions from live pod counts; this
controller publishes the same numbers as the real one does in
``status`` (expectedPods, currentHealthy, desiredHealthy, disruptionsAllowed
and the DisruptionAllowed condition), recomputed when matching pods change.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from sandbox.controllers.base import int_or_percent, now_iso, set_condition
from sandbox.controllers.cache import PodInfo
from sandbox.errors import ApiError
from sandbox.resources import PDBS
from sandbox.selectors import LabelSelector, selector_from_match

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager


class DisruptionController:
    def __init__(self, manager: ControllerManager) -> None:
        self.m = manager
        self.q = manager.queue("disruption", self.sync)
        self.selectors: dict[str, dict[str, LabelSelector]] = {}
        manager.on_kind(PDBS, self.on_pdb)
        manager.on_pod(self.on_pod)

    def on_pdb(self, etype: str, obj: dict[str, Any]) -> None:
        md = obj["metadata"]
        ns, name = md["namespace"], md["name"]
        by_ns = self.selectors.setdefault(ns, {})
        sel = selector_from_match((obj.get("spec") or {}).get("selector"))
        if etype == "DELETED" or sel is None:
            by_ns.pop(name, None)
            if not by_ns:
                self.selectors.pop(ns, None)
            return
        by_ns[name] = sel
        self.q.add((ns, name))

    def on_pod(self, etype: str, old: PodInfo | None, new: PodInfo | None) -> None:
        p = new or old
        assert p is not None
        pdbs = self.selectors.get(p.ns)
        if not pdbs:
            return
        if old is not None and new is not None and (old.ready, old.deleting, old.phase) == (
                new.ready, new.deleting, new.phase) and old.labels == new.labels:
            return
        for name, sel in pdbs.items():
            if (new is not None and sel.matches(new.labels)) or (old is not None and sel.matches(old.labels)):
                self.q.add_after((p.ns, name), self.m.config.endpoints_batch_seconds)

    def sync(self, key: tuple[str, str]) -> None:
        ns, name = key
        pdb = self.m.store.get(PDBS, ns, name)
        sel = self.selectors.get(ns, {}).get(name)
        if pdb is None or sel is None:
            return
        spec = pdb.get("spec") or {}
        pods = [p for p in self.m.pods.in_namespace(ns) if not p.deleting and p.phase not in ("Succeeded", "Failed")
                and not sel.empty and sel.matches(p.labels)]
        expected = len(pods)
        healthy = sum(1 for p in pods if p.ready)
        if spec.get("minAvailable") is not None:
            desired = int_or_percent(spec["minAvailable"], expected, round_up=True)
        elif spec.get("maxUnavailable") is not None:
            desired = max(0, expected - int_or_percent(spec["maxUnavailable"], expected, round_up=True))
        else:
            desired = expected
        allowed = max(0, healthy - desired)
        old = pdb.get("status") or {}
        conds = [dict(c) for c in old.get("conditions") or ()]
        set_condition(conds, "DisruptionAllowed", "True" if allowed else "False",
                      "SufficientPods" if allowed else "InsufficientPods", now=now_iso())
        for c in conds:
            c.setdefault("message", "")
            c["observedGeneration"] = pdb["metadata"].get("generation", 1)
        status = {"observedGeneration": pdb["metadata"].get("generation", 1), "disruptionsAllowed": allowed,
                  "currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected, "conditions": conds}
        if status == old:
            return
        pdb["status"] = status
        with contextlib.suppress(ApiError):
            self.m.store.update(PDBS, pdb, subresource="status")

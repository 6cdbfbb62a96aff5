"""PodDisruptionBudget status and the eviction decision.

Evictions (``kubectl drain``) must respect PDBs, and the portal shows a PDB's
``status`` (healthy/desired/allowed).  A real cluster's disruption controller
keeps that status; here the store refreshes it whenever pods or PDBs of a
namespace change, and the eviction subresource uses the same arithmetic.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sandbox.resources import PDBS, PODS, ResourceType
from sandbox.selectors import LabelSelector, selector_from_match

if TYPE_CHECKING:
    from sandbox.store import Store


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _healthy_expected(store: Store, ns: str, sel: LabelSelector) -> tuple[int, int]:
    pods, _ = store.list(PODS, ns, label_selector=sel)
    expected = healthy = 0
    for p in pods:
        if p["metadata"].get("deletionTimestamp") or (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        expected += 1
        conds = {c.get("type"): c.get("status") for c in (p.get("status") or {}).get("conditions") or []}
        if conds.get("Ready") == "True":
            healthy += 1
    return healthy, expected


def _desired(spec: dict[str, Any], expected: int) -> int:
    def resolve(v: Any) -> int:
        if isinstance(v, str) and v.endswith("%"):
            frac = int(v[:-1]) * expected / 100
            return int(-(-frac // 1))
        return int(v)

    if "minAvailable" in spec:
        return resolve(spec["minAvailable"])
    if "maxUnavailable" in spec:
        return max(0, expected - resolve(spec["maxUnavailable"]))
    return 0


def budget(store: Store, pdb: dict[str, Any]) -> tuple[int, int, int]:
    """(currentHealthy, desiredHealthy, expectedPods) of one PDB."""
    spec = pdb.get("spec") or {}
    sel = selector_from_match(spec.get("selector"))
    if sel is None:
        return 0, 0, 0
    healthy, expected = _healthy_expected(store, pdb["metadata"]["namespace"], sel)
    return healthy, _desired(spec, expected), expected


def blocking_budget(store: Store, pod: dict[str, Any]) -> tuple[str, int, int] | None:
    """The first PDB that forbids evicting ``pod`` as (name, desired, healthy), or None."""
    labels = pod["metadata"].get("labels") or {}
    ns = pod["metadata"]["namespace"]
    pdbs, _ = store.list(PDBS, ns)
    for pdb in pdbs:
        sel = selector_from_match((pdb.get("spec") or {}).get("selector"))
        if sel is None or sel.empty or not sel.matches(labels):
            continue
        healthy, desired, _ = budget(store, pdb)
        if healthy - desired <= 0:
            return pdb["metadata"]["name"], desired, healthy
    return None


def on_change(store: Store, rt: ResourceType, ns: str) -> None:
    """Refresh the status of the namespace's PDBs after a pod or PDB change."""
    if not ns or (rt is not PODS and rt is not PDBS) or store.in_pdb_update or not store.count(PDBS, ns):
        return
    store.in_pdb_update = True
    try:
        pdbs, _ = store.list(PDBS, ns)
        for pdb in pdbs:
            healthy, desired, expected = budget(store, pdb)
            allowed = max(0, healthy - desired)
            old = pdb.get("status") or {}
            old_cond: dict[str, Any] = next(
                (c for c in old.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), {})
            cond_status = "True" if allowed > 0 else "False"
            gen = pdb["metadata"].get("generation", 1)
            status = {
                "observedGeneration": gen,
                "disruptionsAllowed": allowed,
                "currentHealthy": healthy,
                "desiredHealthy": desired,
                "expectedPods": expected,
                "conditions": [{
                    "type": "DisruptionAllowed", "status": cond_status,
                    "reason": "SufficientPods" if allowed > 0 else "InsufficientPods", "message": "",
                    "observedGeneration": gen,
                    "lastTransitionTime": old_cond.get("lastTransitionTime") if old_cond.get("status") == cond_status
                    else now_iso()}],
            }
            if old != status:
                pdb["status"] = status
                store.update(PDBS, pdb, subresource="status", field_manager="disruption-controller", _owned=True)
    finally:
        store.in_pdb_update = False

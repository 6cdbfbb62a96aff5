"""The eviction decision: does a PodDisruptionBudget forbid evicting this pod?

Evictions (``kubectl drain``) must respect PDBs whoever asks, so the API
server decides from the live pods (the same arithmetic as the disruption
controller in ``sandbox/controllers``, which keeps the PDBs' ``status``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.resources import PDBS, PODS
from sandbox.selectors import LabelSelector, selector_from_match

if TYPE_CHECKING:
    from sandbox.store import Store


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
    return expected


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

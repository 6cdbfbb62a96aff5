"""Building pods from a workload's pod template, and ranking pods for scale-down.

Every workload controller (ReplicaSet, StatefulSet, DaemonSet, Job) turns
``spec.template`` into pods the same way the real controllers do: template
labels and annotations, a controller ownerReference, the template's spec.
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.controllers.base import owner_ref
from sandbox.controllers.cache import PodInfo


def pod_from_template(owner: dict[str, Any], template: dict[str, Any], *, name: str = "",
                      generate_name: str = "", extra_labels: dict[str, str] | None = None) -> dict[str, Any]:
    tmd = template.get("metadata") or {}
    labels = dict(tmd.get("labels") or {})
    if extra_labels:
        labels.update(extra_labels)
    md: dict[str, Any] = {"namespace": owner["metadata"]["namespace"], "labels": labels,
                          "ownerReferences": [owner_ref(owner)]}
    if tmd.get("annotations"):
        md["annotations"] = dict(tmd["annotations"])
    if name:
        md["name"] = name
    else:
        md["generateName"] = generate_name or owner["metadata"]["name"] + "-"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": json.loads(json.dumps(template.get("spec") or {}))}


def deletion_rank(p: PodInfo) -> tuple[int, int, int, int, float]:
    """Lower ranks are deleted first: unscheduled, pending, not ready, restarted more, newest."""
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(p.phase, 0)
    return (1 if p.node else 0, phase_rank, 1 if p.ready else 0, -p.restarts, -p.created)

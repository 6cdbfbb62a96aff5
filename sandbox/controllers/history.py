"""ControllerRevisions of StatefulSets and DaemonSets, kept as their controllers keep them.

``kubectl rollout history|undo statefulset|daemonset`` read these: revisions controlled by the
workload (ownerReference with ``controller: true``) and matching its selector, numbered by
``revision``, whose ``data`` is the strategic merge patch that restores the pod template
(``{"spec": {"template": {..., "$patch": "replace"}}}``, what kubectl applies on undo). Going back to an
earlier template reuses that revision and renumbers it to the next number, as the controllers do;
old revisions beyond ``revisionHistoryLimit`` are deleted.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

from sandbox.controllers.base import owner_ref
from sandbox.errors import ApiError
from sandbox.resources import CONTROLLERREVISIONS


def revision_data(template: dict[str, Any]) -> dict[str, Any]:
    """The patch kubectl applies to roll back to ``template``."""
    return {"spec": {"template": {**copy.deepcopy(template), "$patch": "replace"}}}


def ensure_revision(store: Any, owner: dict[str, Any], *, name: str, hash_label: str, hash_value: str,
                    keep: frozenset[str] = frozenset()) -> int:
    """Make ``name`` the owner's newest ControllerRevision (created, or renumbered when an older
    equivalent one exists); returns its revision number. ``keep`` names revisions still in use."""
    md = owner["metadata"]
    ns = md["namespace"]
    template = (owner.get("spec") or {}).get("template") or {}
    revs, _ = store.list(CONTROLLERREVISIONS, ns)
    mine = [r for r in revs if any(o.get("uid") == md["uid"] and o.get("controller")
                                   for o in r["metadata"].get("ownerReferences") or ())]
    top = max((int(r.get("revision", 0)) for r in mine), default=0)
    current = next((r for r in mine if r["metadata"]["name"] == name), None)
    if current is not None:
        number = int(current.get("revision", 0))
        if number < top:
            def renumber(r: dict[str, Any]) -> None:
                r["revision"] = top + 1

            with contextlib.suppress(ApiError):
                store.mutate(CONTROLLERREVISIONS, ns, name, renumber)
                number = top + 1
        return number
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    labels[hash_label] = hash_value
    body: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                            "metadata": {"name": name, "namespace": ns, "labels": labels,
                                         "ownerReferences": [owner_ref(owner)]},
                            "data": revision_data(template), "revision": top + 1}
    if md.get("annotations"):
        body["metadata"]["annotations"] = dict(md["annotations"])
    with contextlib.suppress(ApiError):
        store.create(CONTROLLERREVISIONS, body)
    limit = int((owner.get("spec") or {}).get("revisionHistoryLimit", 10))
    old = sorted((r for r in mine if r["metadata"]["name"] not in keep), key=lambda r: int(r.get("revision", 0)))
    for r in old[:max(0, len(old) - limit)]:
        with contextlib.suppress(ApiError):
            store.delete(CONTROLLERREVISIONS, ns, r["metadata"]["name"])
    return top + 1

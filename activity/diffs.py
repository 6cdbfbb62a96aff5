"""The diff behind a timeline entry: what a portal change applied (``ObjectAction.diff``, written
by its operation with a Secret's values masked) or what a change outside the portal changed (its
recorded snapshot against the previous snapshot of the same object). Never a Secret's value.

Entries of other sources have no diff (404 ``activity_diff_not_found``); an entry the caller may
not see answers 404 as if it did not exist.
"""

from __future__ import annotations

from typing import Any

from activity import access
from activity.models import ObjectChange
from activity.timeline import mask_secret_diff, parse_entry_id, snapshot_diff
from clusters.models import ObjectAction
from portal import errors


def _none() -> errors.NotFound:
    return errors.NotFound("This timeline entry has no diff.", code="activity_diff_not_found")


def diff_of(user: Any, entry_id: str) -> dict[str, Any]:
    """``{id, diff, before}`` of the entry ``entry_id`` (``"<table>:<pk>"``)."""
    table, pk = parse_entry_id(entry_id)
    if table == "portal":
        row = ObjectAction.objects.filter(pk=pk).values("cluster_id", "namespace", "kind", "diff", "params").first()
        spanned = (row["params"] or {}).get("namespaces") if row is not None and isinstance(row["params"], dict) else None
        if row is None or not access.may_see(user, row["cluster_id"], row["namespace"],
                                             spanned if isinstance(spanned, list) else ()):
            raise errors.NotFound("No such timeline entry.", code="activity_entry_not_found")
        if not row["diff"]:
            raise _none()
        # A create of several documents has no kind: when one may be a Secret, every data block is masked.
        secret = row["kind"] == "Secret" or (row["kind"] == "" and "Secret" in row["diff"])
        diff = mask_secret_diff(row["diff"]) if secret else row["diff"]
        return {"id": entry_id, "diff": diff, "before": None}
    if table == "outside":
        change = ObjectChange.objects.filter(pk=pk).first()
        if change is None or not change.outside or not access.may_see(user, change.cluster_id, change.namespace):
            raise errors.NotFound("No such timeline entry.", code="activity_entry_not_found")
        previous = (ObjectChange.objects.filter(cluster_id=change.cluster_id, kind=change.kind,
                                                namespace=change.namespace, name=change.name)
                    .filter(time__lte=change.time).exclude(pk=change.pk)
                    .exclude(time=change.time, pk__gt=change.pk)
                    .order_by("-time", "-id").values("time", "manager", "snapshot").first())
        label = f"{change.kind} {change.namespace + '/' if change.namespace else ''}{change.name}"
        before = {"time": previous["time"], "manager": previous["manager"]} if previous else None
        return {"id": entry_id, "diff": snapshot_diff(previous["snapshot"] if previous else None, change.snapshot,
                                                      label=label), "before": before}
    if table in ("event", "exec", "revision", "rollout"):
        raise _none()
    raise _none()

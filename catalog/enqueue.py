"""The names of the catalog's release and rollout tasks, for enqueueing them through
:mod:`portal.enqueue` (after commit, robustly: a broker failure is logged and the beat task
``catalog.reconcile_releases`` picks the intent up).

The modules that write releases and rollouts (:mod:`catalog.releases`, :mod:`catalog.rollouts`)
sit below the tasks that run them (:mod:`catalog.tasks_deploy`, which calls back into them): they
name the task instead of importing it, so nothing imports upward (issue 12).
"""

from __future__ import annotations

from portal.enqueue import note, on_commit, send, started, take

DEPLOY_REVISION = "catalog.deploy_revision"
DELETE_RELEASE = "catalog.delete_release"
ADVANCE_ROLLOUT = "catalog.advance_rollout"
PUBLISH_ROLLOUT = "catalog.publish_rollout"
PUBLISH_RELEASE_ROWS = "catalog.publish_release_rows"
# The Redis set of releases whose rows are due (portal.enqueue.note), and its task's coalescing key
RELEASE_ROWS_KEY = "catalog:release-rows-due"


def advance_key(rollout_id: int) -> str:
    """The coalescing key of a rollout's advance (:func:`portal.enqueue.on_commit`): the targets of a
    wave finishing together queue one advance, not one each."""
    return f"catalog:advance-rollout:{int(rollout_id)}"


def advance_soon_key(rollout_id: int) -> str:
    """The coalescing key of a rollout's unhurried advance (a target started rolling out, which
    changes nothing but the ledger's words): the targets of a wave applied together queue one
    advance a moment later, apart from the advance a finished target queues at once."""
    return f"catalog:advance-rollout-soon:{int(rollout_id)}"


def publish_key(rollout_id: int) -> str:
    """The coalescing key of a rollout's row (:func:`catalog.rollouts.publish_rollout_soon`): the
    steps of a wide wave publish one row per :data:`catalog.rollouts.PUBLISH_DELAY`, not one each."""
    return f"catalog:publish-rollout:{int(rollout_id)}"


__all__ = ["ADVANCE_ROLLOUT", "DELETE_RELEASE", "DEPLOY_REVISION", "PUBLISH_RELEASE_ROWS", "PUBLISH_ROLLOUT",
           "RELEASE_ROWS_KEY", "advance_key", "advance_soon_key", "note", "on_commit", "publish_key", "send",
           "started", "take"]

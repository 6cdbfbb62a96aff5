"""Celery tasks of releases and rollouts: thin wrappers over :mod:`catalog.deploy` and
:mod:`catalog.rollouts` that take ids; each converges when run twice. Imported by the app's
``ready()`` so the worker registers them."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from catalog import deploy, releases, rollouts
from catalog.enqueue import advance_key, advance_soon_key
from portal import enqueue

BUSY_RETRY_SECONDS = 2.0  # a deploy another worker holds the release for: an apply takes a while
# A look or an advance that found another one holding the release (or rollout) comes back this
# soon: the other one holds it for milliseconds, and may have read before the change that sent
# this one (a rollout that ended would otherwise wait to be recorded). A look busy twice (a deploy
# holds the release for its apply) waits BUSY_RETRY_SECONDS / 2.
LOOK_BUSY_RETRY_SECONDS = 0.1


@shared_task(name="catalog.deploy_revision", ignore_result=True, acks_late=True)
def deploy_revision(release_id: int, number: int) -> str:
    """Apply a revision and look at its rollout once; then watch it without holding the worker.
    Whether it may contain cluster-scoped objects was decided when the revision was created
    (``Revision.allow_cluster_scoped``, from who asked); the task only reads it."""
    result = deploy.deploy_revision(release_id, number)  # with the first look at the rollout
    if result == "watching":  # the watcher's hook tells sooner; the chain is the backstop
        watch_revision.apply_async((release_id, number), countdown=deploy.watch_interval())
    elif result == "polling":
        watch_revision.apply_async((release_id, number), countdown=deploy.poll_interval())
    elif result == "busy":  # another worker holds the release: try again shortly
        deploy_revision.apply_async((release_id, number), countdown=BUSY_RETRY_SECONDS)
    return result


@shared_task(name="catalog.watch_revision", ignore_result=True, acks_late=True)
def watch_revision(release_id: int | str, number: int | None = None, retried: bool = False) -> str:
    """Look at a rollout once. With ``number``: the task's own chain, which looks again after
    :func:`catalog.deploy.watch_interval` while the read model answers (the watcher's hook tells
    sooner) or :func:`catalog.deploy.poll_interval` while it had to read the cluster. Without:
    the watcher's hook saw the release's workloads change (``release_id`` is the label's value);
    one look, no chain (the chain keeps its own schedule). ``retried``: this look found the
    release busy once already (a deploy holding it for its apply): the next try waits longer."""
    if number is None:
        result = deploy.observe_release(release_id)
        if result == "busy":  # another look holds the release and may have read before this change
            enqueue.send(deploy.WATCH_TASK, release_id, None, True,
                         countdown=BUSY_RETRY_SECONDS / 2 if retried else LOOK_BUSY_RETRY_SECONDS)
        return result
    result = deploy.watch_revision(int(release_id), number)
    if result == "progressing":
        watch_revision.apply_async((release_id, number), countdown=deploy.watch_interval())
    elif result in ("polling", "busy"):
        watch_revision.apply_async((release_id, number), countdown=deploy.poll_interval())
    return result


@shared_task(name="catalog.delete_release", ignore_result=True, acks_late=True)
def delete_release(release_id: int) -> str:
    return deploy.delete_release_objects(release_id)


@shared_task(name="catalog.advance_rollout", ignore_result=True, acks_late=True)
def advance_rollout(rollout_id: int, soon: bool = False) -> str:
    """Advance a rollout (:func:`catalog.rollouts.advance`); ``soon``: the unhurried advance a
    target that started rolling out queued (its own coalescing key)."""
    # a target moving from now on queues another look
    enqueue.started(advance_soon_key(rollout_id) if soon else advance_key(rollout_id))
    result = rollouts.advance(rollout_id)
    if result == "busy":  # another advance holds the rollout: look again after it
        advance_rollout.apply_async((rollout_id,), countdown=LOOK_BUSY_RETRY_SECONDS)
    return result


@shared_task(name="catalog.publish_rollout", ignore_result=True)
def publish_rollout(rollout_id: int) -> str:
    """Publish a running rollout's row, coalesced (:func:`catalog.rollouts.publish_rollout_soon`)."""
    return rollouts.publish_queued_rollout(rollout_id)


@shared_task(name="catalog.publish_release_rows", ignore_result=True)
def publish_release_rows() -> int:
    """Publish the rows of the releases deploys moved, coalesced (:func:`catalog.releases.publish_due_rows`)."""
    return releases.publish_due_rows()


@shared_task(name="catalog.reconcile_releases", ignore_result=True)
def reconcile_releases() -> int:
    """Periodic (beat): settle releases a killed worker left disagreeing with their finished
    revision (:func:`catalog.releases.repair_stuck`), pick up revisions a lost or killed task left
    behind, deploys waiting for a cluster, deletes, and running rollouts. Returns how many
    releases it repaired plus how many tasks it enqueued."""
    count = releases.repair_stuck()
    stale = float(getattr(settings, "PORTAL_DEPLOY_RETRY_SECONDS", 30))
    for release_id, number, what in deploy.due_revisions(stale_after=stale):
        if what == "deploy":
            deploy_revision.delay(release_id, number)
        elif what == "watch":
            watch_revision.delay(release_id, number)
        else:
            delete_release.delay(release_id)
        count += 1
    for rollout_id in rollouts.running_rollouts():
        advance_rollout.delay(rollout_id)
        count += 1
    return count

"""Celery tasks of the catalog: thin wrappers that take ids and call :mod:`catalog.sources` (sources
and their archives) or converge a cluster intent (:mod:`catalog.intents`: config and autoscaler
changes, plans and drift checks). Release and rollout tasks live in :mod:`catalog.tasks_deploy`."""

from __future__ import annotations

from celery import shared_task

from catalog import config, intents, planning, sources
from catalog.models import IntentKind, PackageVersion
from clusters.kube.errors import KubeError
from clusters.kube.messages import explain
from portal import enqueue, errors
from portal.crypto import DecryptionError


@shared_task(name="catalog.refresh_source", ignore_result=True, acks_late=True)
def refresh_source(source_id: int) -> str:
    """Read the source's repository index into packages and versions (converges when run twice)."""
    return sources.refresh(source_id)


@shared_task(name="catalog.refresh_due", ignore_result=True)
def refresh_due() -> int:
    """Periodic (beat): queue the refresh of repositories whose ``refresh_minutes`` have passed."""
    return sources.enqueue_due(refresh_source.delay)


# ---------------------------------------------------------------------------- cluster intents

_CONVERGE = {
    IntentKind.CONFIG_SAVE: config.apply_config,
    IntentKind.CONFIG_DELETE: config.remove_config,
    IntentKind.HPA_SET: config.apply_autoscaler,
    IntentKind.HPA_DELETE: config.remove_autoscaler,
    IntentKind.PLAN: planning.run_plan,
    IntentKind.DRIFT: planning.run_drift,
}


@shared_task(name="catalog.converge_intent", ignore_result=True, acks_late=True)
def converge_intent(intent_id: int) -> str:
    """Do what a :class:`~catalog.models.ClusterIntent` asks of its cluster and record the outcome
    (a refusal of the cluster or of the input is an outcome too: the intent fails with its code)."""
    intent = intents.start(intent_id)
    if intent is None:
        return "finished"
    try:
        _CONVERGE[IntentKind(intent.kind)](intent)
    except errors.PortalError as exc:
        intents.finish(intent_id, ok=False, message=exc.message, code=exc.code, params=exc.params, errors=exc.errors)
    except (KubeError, DecryptionError) as exc:
        explained = explain(exc)
        intents.finish(intent_id, ok=False, code="cluster_call_failed", params={"reason": explained.code},
                       message=f"The cluster call failed: {explained.message}")
    return "done"


@shared_task(name="catalog.reconcile_intents", ignore_result=True)
def reconcile_intents() -> int:
    """Periodic (beat): enqueue again the intents whose task never arrived or died, and forget
    finished ones after a day."""
    intents.prune()
    due = intents.due()
    for intent_id in due:
        enqueue.send("catalog.converge_intent", intent_id)
    return len(due)


# ---------------------------------------------------------------------------- package archives


@shared_task(name="catalog.fetch_archive", ignore_result=True, acks_late=True)
def fetch_archive(version_id: int) -> str:
    """Fetch a repository's chart archive into storage once (a GET of the version never does);
    a failure is kept on the version, for the console to show, until a later fetch succeeds."""
    version = PackageVersion.objects.filter(pk=version_id).first()
    if version is None:
        return "gone"
    try:
        sources.ensure_archive(version)
    except sources.SourceError as exc:
        PackageVersion.objects.filter(pk=version_id).update(archive_message=str(exc)[:2000],
                                                             archive_message_code="archive_fetch_failed")
        return "failed"
    PackageVersion.objects.filter(pk=version_id).update(archive_message="", archive_message_code="")
    return "stored"

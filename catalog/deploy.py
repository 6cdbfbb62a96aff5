"""Releases against the clusters: apply a revision's manifest, prune what it no longer has, watch
the rollout, and answer "what would change" (dry-run diff) and "what drifted".

A revision's manifest is rendered and checked once, when it is created (:mod:`catalog.releases`);
here it is only applied. The manifests as plain data (stamp, dump, load, redacted views) are
:mod:`catalog.manifests`. Every step converges when repeated: server-side apply under one field
manager, pruning by the release label, progress read from the cluster each time. Two workers
never deploy one release at once: :func:`deploy_revision` holds a PostgreSQL advisory lock on the
release for the apply, and a newer revision supersedes an older one that has not finished.

Waiting for a rollout does not hold a worker: :func:`watch_revision` looks once and the task
re-enqueues itself until the workloads are ready, failed, or out of time. It looks at the read
model, not the cluster, whenever the read model can answer: the watcher holds every workload's
state (:func:`clusters.workloads.workload_state`, the one rule) and sends ``catalog.watch_revision``
for the release when one of its labelled workloads changes (:func:`install_watch_hook`: at once
when the rollout ended, at most once a second while it only progresses), so completion is learned
from the watcher within moments of the read model seeing it, and the task's own schedule is only
a slow fallback (``PORTAL_DEPLOY_WATCH_INTERVAL``). A workload the read model cannot answer for
(its kinds stale, its row missing, older than the generation the deploy applied, or written
before rows carried the state) is read from the cluster, and the task then looks again soon
(``PORTAL_DEPLOY_POLL_INTERVAL``), since no watcher will tell.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import time
from collections.abc import Hashable, Iterator, Mapping
from datetime import timedelta
from typing import Any, cast

import yaml
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from catalog import image_hooks, redaction, releases, strategies
from catalog.manifests import (  # noqa: F401 - re-exported: callers use them from catalog.deploy
    CLUSTER_SCOPED_KINDS,
    RELEASE_LABEL,
    REVISION_ANNOTATION,
    digest,
    dump,
    key_of,
    load,
    parsed,
    resources,
    secrets_of,
    shown_manifest,
    shown_values,
    stamp,
    without_nulls,
)
from catalog.models import Release, ReleaseStatus, Revision, RevisionStatus
from clusters.kube.client import KubeClient, shared_client
from clusters.kube.errors import Invalid, KubeError, NotFound, UnknownKind, Unreachable
from clusters.models import Cluster, KubeObject
from clusters.readmodel import kind_freshness
from clusters.workloads import WorkloadState
from portal.crypto import DecryptionError
from portal.joined import Join, JoinedQuery
from workspaces.models import ServiceMap, Workspace

logger = logging.getLogger("catalog")

FIELD_MANAGER = "cluster-portal"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
CALL_TIMEOUT = 10.0


def deploy_timeout() -> float:
    return float(getattr(settings, "PORTAL_DEPLOY_TIMEOUT", 300))


def watch_interval() -> float:
    """Seconds between looks while the read model answers (the watcher's hook tells sooner)."""
    return float(getattr(settings, "PORTAL_DEPLOY_WATCH_INTERVAL", 10.0))


def poll_interval() -> float:
    """Seconds between looks while some workload had to be read from the cluster (no hook will tell)."""
    return float(getattr(settings, "PORTAL_DEPLOY_POLL_INTERVAL", 1.0))


WATCH_TASK = "catalog.watch_revision"
NOTIFY_WINDOW = 1.0  # progress is looked at once per window per release; an ended rollout at once


def install_watch_hook() -> None:
    """Have the watcher send ``catalog.watch_revision(<release id>)`` when a workload carrying
    the release label changes (:func:`clusters.watcher.hooks.on_label`); called by the app's
    ``ready()``."""
    from clusters.watcher import hooks

    hooks.on_label(RELEASE_LABEL, WATCH_TASK, kinds=set(WORKLOAD_KINDS), window=NOTIFY_WINDOW,
                   significant=look_signature, urgent=look_urgent, quiet=look_quiet)


def look_quiet(row: Mapping[str, Any]) -> bool:
    """Every change but a finished or failed rollout (:func:`look_urgent`): a look that would only
    record progress waits for the end of the hook's window (:data:`NOTIFY_WINDOW`) and sees every
    change until then. The deploy's own first look recorded the state the apply left; a rollout
    then moves several times a second, and the figures it records are shown, not acted on. Never
    raises (it runs on the watcher)."""
    return not look_urgent(row)


def look_urgent(row: Mapping[str, Any]) -> bool:
    """A workload whose rollout ended (done or failed): the look that finishes the revision goes
    at once, not at the end of the hook's window. Never raises (it runs on the watcher)."""
    data = row.get("data")
    rollout = data.get("rollout") if isinstance(data, Mapping) else None
    return isinstance(rollout, Mapping) and bool(rollout.get("done") or rollout.get("failed"))


def look_signature(row: Mapping[str, Any]) -> Hashable:
    """What a look (:func:`from_read_model`) reads of a workload's read-model row besides the
    release label (the hook compares that itself): the object (its uid), the generation, the
    phase and the recorded rollout state. A
    change that leaves all of them as they were (a condition's timestamp, ``updatedReplicas``
    before any pod is ready) gives no look anything new, so the watcher's hook sends none for it.
    Never raises: it runs on the watcher for every such change."""
    data = row.get("data")
    data = data if isinstance(data, Mapping) else {}
    rollout = data.get("rollout")
    return (row.get("uid"), repr(data.get("generation")), row.get("phase"),
            json.dumps(rollout, sort_keys=True, default=str) if rollout is not None else None)


# ---------------------------------------------------------------------------- progress


def workload_progress(obj: dict[str, Any]) -> dict[str, Any]:
    """``{"state": "progressing"|"ready"|"failed", "ready", "desired", "message"}`` of a live workload,
    from :func:`clusters.workloads.workload_state` (the rule the read model's phase uses too)."""
    from clusters.workloads import workload_state

    return state_progress(workload_state(obj))


def state_progress(state: WorkloadState) -> dict[str, Any]:
    """A revision's ``progress`` entry: the figures, and what is awaited in English with its code
    and params (``workload_*``/``job_*``, :mod:`clusters.workloads`)."""
    waiting = not state.done
    return {"state": state.progress_state, "ready": state.ready, "desired": state.desired,
            "message": state.message if waiting else "", "message_code": state.code if waiting else "",
            "message_params": dict(state.params) if waiting else {}}


# ---------------------------------------------------------------------------- locking


@contextlib.contextmanager
def release_lock(release_id: int) -> Iterator[bool]:
    """A session advisory lock on the release: True if this process holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [7031, release_id])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [7031, release_id])


# ---------------------------------------------------------------------------- deploy


def _kube(release: Release) -> KubeClient:
    """This process's client of the release's cluster (:func:`clusters.kube.client.shared_client`:
    its connections and discovery outlive the task); never closed here."""
    return shared_client(release.service_map.cluster.connection_spec(), read_timeout=CALL_TIMEOUT,
                         connect_timeout=3.0)


PROBE_SKIP_SECONDS = 5.0


def _probe(client: KubeClient) -> None:
    """One quick call, so a cluster that does not answer is told apart at once (Unreachable);
    none when the cluster answered this process's client in the last :data:`PROBE_SKIP_SECONDS`
    (a wave's deploys and looks keep it busy)."""
    if not client.answered_within(PROBE_SKIP_SECONDS):
        client.version(attempts=1, timeout=5.0)


_JOINS = (Join(Revision, "rv"), Join(Release, "rl", "rl.id = rv.release_id"),
          Join(ServiceMap, "sm", "sm.id = rl.service_map_id"), Join(Cluster, "cl", "cl.id = sm.cluster_id"),
          Join(Workspace, "ws", "ws.id = sm.workspace_id"))
# A deploy and every look load these: the query is written once per process, not compiled each time.
_BY_NUMBER = JoinedQuery(_JOINS, "rv.release_id = %s AND rv.number = %s")
_CURRENT = JoinedQuery(_JOINS, "rv.release_id = %s AND rv.number = rl.revision")


def _load(release_id: int, number: int | None = None) -> tuple[Release, Revision] | None:
    """The release (with its service map, cluster and workspace) and revision ``number`` (None:
    the release's current one), in one query (:mod:`portal.joined`)."""
    found = (_CURRENT.first([release_id]) if number is None else _BY_NUMBER.first([release_id, number]))
    if found is None:
        return None
    revision, release, sm = cast(Revision, found[0]), cast(Release, found[1]), cast(ServiceMap, found[2])
    cluster, workspace = cast(Cluster, found[3]), cast(Workspace, found[4])
    sm.cluster, sm.workspace = cluster, workspace
    release.service_map = sm
    if release.workspace_id == sm.workspace_id:  # always: a release lives in its map's workspace
        release.workspace = workspace  # the audit record names it without a query
    revision.release = release
    return release, revision


def deploy_revision(release_id: int, number: int, *, allow_cluster_scoped: bool | None = None) -> str:
    """Apply revision ``number`` of the release (dry-run first, then for real), prune what it no
    longer has, and take the first look at its rollout (:func:`watch_revision` takes the next).
    Returns what happened: ``"watching"`` (rolling out; the read model answers, so the
    watcher's hook will tell), ``"polling"`` (rolling out, read from the cluster: look again
    soon), ``"deployed"``, ``"failed"``, ``"pending"`` (cluster away), ``"busy"`` (another worker
    holds the release), ``"superseded"`` or ``"done"`` (nothing to do). ``allow_cluster_scoped``:
    None (the task's way) reads what was decided when the revision was created."""
    loaded = _load(release_id, number)
    if loaded is None:
        return "gone"
    release, revision = loaded
    if allow_cluster_scoped is None:
        allow_cluster_scoped = bool(revision.allow_cluster_scoped)
    if revision.status in (RevisionStatus.DEPLOYED, RevisionStatus.FAILED, RevisionStatus.SUPERSEDED):
        return "done"
    if release.revision != number:
        releases.finish_revision(release, revision, RevisionStatus.SUPERSEDED,
                                 f"Superseded by revision {release.revision} before it finished.",
                                 code="revision_superseded", params={"number": number, "by": release.revision})
        return "superseded"
    with release_lock(release_id) as held:
        if not held:
            return "busy"
        status = next(iter(Revision.objects.filter(pk=revision.pk).order_by().values_list("status", flat=True)), None)
        if status not in (RevisionStatus.PENDING, RevisionStatus.APPLYING):
            return "done"  # another run applied it while this one waited for the lock
        revision.status = status
        objects = list(parsed(revision.manifest))  # read only: applied as they are
        releases.revision_started(release, revision)
        try:
            client = _kube(release)
            _probe(client)
            # the pull secrets its pods name, before a pod asks for one (catalog.image_hooks)
            image_hooks.ensure_pull_secrets(release.service_map, objects, client)
            for obj in objects:
                _check_scope(client, obj, allow_cluster_scoped)
            # Nothing is applied unless every object passes: each is dry-run before the first is
            # applied, but for the first itself, whose apply is the first write (refused, it
            # leaves nothing applied, as its refused dry-run would have).
            for obj in objects[1:]:
                client.apply(obj, field_manager=FIELD_MANAGER, dry_run=True, timeout=CALL_TIMEOUT)
            generations: dict[str, int | None] = {}
            answers: dict[str, dict[str, Any]] = {}
            for obj in objects:
                answers[key_of(obj)] = applied = client.apply(obj, field_manager=FIELD_MANAGER, timeout=CALL_TIMEOUT)
                generations[key_of(obj)] = _generation(applied)
            # and what the strategy still needs (a blue/green's old color until confirmed). A
            # release's first revision has nothing to prune: every object carrying its label
            # came from this manifest (three list calls saved on each install).
            pruned = [] if number == 1 else prune(client, release, keep={key_of(o) for o in objects} | (
                strategies.keep(release.strategy_state or {})))
        except Unreachable as exc:
            releases.revision_waiting(release, revision, f"Waiting for the cluster: {exc} It is retried.",
                                      code="deploy_waiting_for_cluster", params=_error(revision, number, exc))
            return "pending"
        except (Invalid, UnknownKind, ScopeError) as exc:
            releases.finish_revision(release, revision, RevisionStatus.FAILED,
                                     f"The cluster refused the manifest (nothing was applied): {exc}",
                                     code="deploy_refused", params=_error(revision, number, exc))
            return "failed"
        except (KubeError, DecryptionError) as exc:
            releases.finish_revision(release, revision, RevisionStatus.FAILED, f"The deploy failed: {exc}",
                                     code="deploy_failed", params=_error(revision, number, exc))
            return "failed"
        # Each workload's progress as the API server answered the apply (the freshest state there
        # is), with the generation the apply gave it: the read model answers for the workload
        # once its row shows that generation (an older row describes the previous spec).
        progress: dict[str, dict[str, Any]] = {key_of(o): {
            "state": "progressing" if o.get("kind") in WORKLOAD_KINDS else "ready",
            "ready": 0, "desired": 0, "message": "", "message_code": "", "message_params": {},
            **({**_answered(answers.get(key_of(o))), "generation": generations.get(key_of(o))}
               if o.get("kind") in WORKLOAD_KINDS else {})}
            for o in objects}
        releases.revision_applied(
            release, revision, progress,
            f"Applied {len(objects)} object(s)" + (f", pruned {len(pruned)}" if pruned else "") + ".",
            code="revision_applied_pruned" if pruned else "revision_applied_objects",
            params={"number": number, "objects": len(objects), **({"pruned": len(pruned)} if pruned else {})})
        if revision.status != RevisionStatus.PROGRESSING:
            return "done"  # finished or superseded meanwhile
        # The first look at once, under the same lock, on that progress (a release without
        # workloads is done now); then the task's chain and the watcher's hook.
        cache.set(watching_key(release_id, number), 1, timeout=watch_mark_seconds())
        looked = _look(release, revision, client=client, first=True)
    return "watching" if looked == "progressing" else looked


def _answered(applied: Any) -> dict[str, Any]:
    """A workload's progress from the object the API server answered to its apply ({} if none)."""
    return workload_progress(applied) if isinstance(applied, dict) else {}


def _scrub(revision: Revision, text: str) -> str:
    """A cluster's words as a message's param: without the revision's Secret values (the English
    message is scrubbed by :mod:`catalog.releases`; its params are stored as given)."""
    return redaction.scrub(text, parsed(revision.manifest)) if text and revision.manifest else text


def _error(revision: Revision, number: int, exc: BaseException) -> dict[str, Any]:
    return {"number": number, "error": _scrub(revision, str(exc))}


def _generation(obj: Any) -> int | None:
    value = ((obj or {}).get("metadata") or {}).get("generation") if isinstance(obj, dict) else None
    return int(value) if isinstance(value, int) else None


class ScopeError(Exception):
    """An object that must not be applied in a service map (cluster-scoped)."""


def _check_scope(client: KubeClient, obj: dict[str, Any], allow_cluster_scoped: bool) -> None:
    resource = client.resource(str(obj.get("apiVersion")), str(obj.get("kind")), timeout=CALL_TIMEOUT)
    if not resource.namespaced and not allow_cluster_scoped:
        raise ScopeError(f"{resource.kind} {key_of(obj)} is cluster-scoped; only system admins may deploy those.")


def prune(client: KubeClient, release: Release, *, keep: set[str]) -> list[str]:
    """Delete objects labelled with the release that ``keep`` lacks, among the kinds any of its
    revisions ever had."""
    kinds: dict[str, str] = {}
    for listed in Revision.objects.filter(release=release).values_list("resources", flat=True):
        for item in listed or []:
            kinds[str(item.get("kind"))] = str(item.get("apiVersion"))
    deleted = []
    namespace = release.service_map.namespace
    for kind, api_version in sorted(kinds.items()):
        try:
            live = client.list_objects(kind, namespace, api_version=api_version,
                                       label_selector=f"{RELEASE_LABEL}={release.pk}", timeout=CALL_TIMEOUT)
        except (UnknownKind, NotFound):
            continue
        for obj in live:
            if key_of(obj) not in keep:
                with contextlib.suppress(NotFound):
                    client.delete_object(kind, str(obj["metadata"]["name"]), namespace, api_version=api_version,
                                         timeout=CALL_TIMEOUT)
                deleted.append(key_of(obj))
    return deleted


def watch_revision(release_id: int, number: int, *, chained: bool = True) -> str:
    """Look once at the revision's workloads; record progress. Returns ``"deployed"``,
    ``"failed"``, ``"progressing"`` (every workload answered by the read model: the watcher will
    tell when they move), ``"polling"`` (some had to be read from the cluster: look again soon),
    ``"busy"`` (another look holds the release), ``"pending"`` or ``"done"``.

    ``chained``: the look of the task's own schedule, which marks the revision as watched for the
    beat task (:func:`due_revisions`); a look the watcher's hook asked for does not."""
    status = next(iter(Revision.objects.filter(release_id=release_id, number=number).order_by().values_list(
        "status", flat=True)), None)
    if status is None:
        return "gone"
    if status != RevisionStatus.PROGRESSING:  # one small query for the looks that come after the end
        return "done"
    return _watch_progressing(release_id, number, chained=chained)


def _watch_progressing(release_id: int, number: int, *, chained: bool) -> str:
    """:func:`watch_revision` for a revision last seen progressing."""
    loaded = _load(release_id, number)
    if loaded is None:
        return "gone"
    return _watch_loaded(*loaded, chained=chained)


def _watch_loaded(release: Release, revision: Revision, *, chained: bool) -> str:
    if revision.status != RevisionStatus.PROGRESSING:
        return "done"
    if chained:
        cache.set(watching_key(release.pk, revision.number), 1, timeout=watch_mark_seconds())
    if release.revision != revision.number:
        releases.finish_revision(release, revision, RevisionStatus.SUPERSEDED,
                                 f"Superseded by revision {release.revision} before it finished.",
                                 code="revision_superseded", params={"number": revision.number,
                                                                     "by": release.revision})
        return "done"
    with release_lock(release.pk) as held:
        if not held:
            return "busy"
        # Not read again under the lock: if another look finished the revision meanwhile, the
        # writes below see it (a finish locks the row and checks; progress is written only while
        # the revision is progressing), so this look changes nothing, and every look saves a query.
        return _look(release, revision)


def _look(release: Release, revision: Revision, *, client: KubeClient | None = None, first: bool = False) -> str:
    """Record the progress of the revision's workloads, from the read model where it answers, else
    from the cluster (through ``client`` when the caller has one open); finish the revision when
    they are all ready, one failed, or the deploy timed out.

    ``first``: the deploy's own look, right after it stored each workload's progress from the
    apply's answers (the freshest state there is). Neither the read model (the watcher has not
    seen them yet) nor the cluster is read; the answer is ``"polling"`` unless the read model's
    kinds are synced, since only then will the watcher's hook tell when they move."""
    objects = [o for o in parsed(revision.manifest) if o.get("kind") in WORKLOAD_KINDS]
    progress = dict(revision.progress or {})
    if first:
        answered = {key_of(o): progress[key_of(o)] for o in objects if key_of(o) in progress}
        watched = not objects or _watched(release.service_map.cluster, {str(o.get("kind")) for o in objects})
    else:
        answered = from_read_model(release, objects, progress)
        watched = True
    progress.update(answered)
    unanswered = [o for o in objects if key_of(o) not in answered]
    try:
        if unanswered:
            client = client or _kube(release)
            for obj in unanswered:
                applied = (progress.get(key_of(obj)) or {}).get("generation")
                try:
                    live = client.get_object(str(obj["kind"]), str(obj["metadata"]["name"]),
                                             release.service_map.namespace, api_version=str(obj["apiVersion"]),
                                             timeout=CALL_TIMEOUT, attempts=1)
                except NotFound:
                    progress[key_of(obj)] = {"state": "progressing", "ready": 0, "desired": 0,
                                             "message": "not created yet", "message_code": "workload_not_created",
                                             "message_params": {}, "generation": applied}
                    continue
                progress[key_of(obj)] = {**workload_progress(live), "generation": applied}
    except (Unreachable, KubeError, DecryptionError) as exc:
        releases.revision_progress(release, revision, progress, f"Cannot read the rollout right now: {exc}",
                                   code="rollout_unreadable", params=_error(revision, revision.number, exc))
        return "polling"
    states = {p["state"] for p in progress.values()}
    if "failed" in states:
        failed = "; ".join(f"{k}: {p['message']}" for k, p in progress.items() if p["state"] == "failed")
        releases.finish_revision(release, revision, RevisionStatus.FAILED, f"Rollout failed: {failed}",
                                 progress=progress, code="revision_rollout_failed",
                                 params={"number": revision.number, "objects": _scrub(revision, failed)})
        return "failed"
    if states <= {"ready"}:
        releases.finish_revision(release, revision, RevisionStatus.DEPLOYED, "All objects are ready.",
                                 progress=progress, code="revision_ready", params={"number": revision.number})
        return "deployed"
    started = revision.started or revision.created
    if timezone.now() - started > timedelta(seconds=deploy_timeout()):
        slow = "; ".join(f"{k}: {p['message']}" for k, p in progress.items() if p["state"] != "ready")
        releases.finish_revision(release, revision, RevisionStatus.FAILED,
                                 f"Not ready after {deploy_timeout():g} s: {slow}", progress=progress,
                                 code="revision_timed_out", params={"number": revision.number,
                                                                    "seconds": float(f"{deploy_timeout():g}"),
                                                                    "objects": _scrub(revision, slow)})
        return "failed"
    if first:  # the deploy recorded this progress with its own words: keep them
        releases.revision_progress(release, revision, progress, revision.message, code=revision.message_code,
                                   params=revision.message_params)
    else:
        releases.revision_progress(release, revision, progress, "")
    return "polling" if unanswered or not watched else "progressing"


SYNCED_KEPT_SECONDS = 5.0
_synced_at: dict[tuple[int, str, frozenset[str]], float] = {}


def _watched(cluster: Cluster, kinds: set[str]) -> bool:
    """Whether the read model's ``kinds`` of the cluster are synced (:func:`kind_freshness`), so
    the watcher's hook will tell when the workloads move. A synced answer is kept for
    :data:`SYNCED_KEPT_SECONDS` by the process: every deploy's first look asks, and the answer
    only decides how soon the task's own chain looks again (a look that reads the read model
    asks :func:`kind_freshness` itself)."""
    key = (cluster.pk, cluster.name, frozenset(kinds))
    now = time.monotonic()
    if now - _synced_at.get(key, -SYNCED_KEPT_SECONDS) < SYNCED_KEPT_SECONDS:
        return True
    synced = kind_freshness(cluster, kinds)["state"] == "synced"
    if synced:
        if len(_synced_at) > 10_000:
            _synced_at.clear()
        _synced_at[key] = now
    return synced


def from_read_model(release: Release, objects: list[dict[str, Any]],
                    progress: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Progress of the workloads the read model can answer for, by key: their kinds are fresh
    (:func:`clusters.readmodel.kind_freshness`: a live watcher would know of a change), and the
    row carries the release label, the workload state and at least the generation this revision
    applied (``progress[key]["generation"]``). Objects left out are to be read from the cluster.
    Reads the database only."""
    if not objects:
        return {}
    sm = release.service_map
    kinds = {str(o.get("kind")) for o in objects}
    if kind_freshness(sm.cluster, kinds)["state"] != "synced":
        return {}
    rows = {(r.kind, r.name): r for r in KubeObject.objects.filter(
        cluster_id=sm.cluster_id, namespace=sm.namespace, kind__in=kinds,
        name__in={str((o.get("metadata") or {}).get("name")) for o in objects})}
    answered: dict[str, dict[str, Any]] = {}
    for obj in objects:
        key = key_of(obj)
        applied = (progress.get(key) or {}).get("generation")
        row = rows.get((str(obj.get("kind")), str((obj.get("metadata") or {}).get("name"))))
        if row is None or applied is None or row.labels.get(RELEASE_LABEL) != str(release.pk):
            continue
        generation = (row.data or {}).get("generation")
        state = WorkloadState.from_data(row.phase, row.data)
        if state is None or not isinstance(generation, int) or generation < applied:
            continue  # the row describes an older spec, or was written before rows carried the state
        answered[key] = {**state_progress(state), "generation": applied}
    return answered


def observe_release(value: Any) -> str:
    """What the watcher's hook asks for (``catalog.watch_revision`` with only the release label's
    value): look once at the release's current revision if it is rolling out. A label value that
    is no release id, or a release not rolling out, is nothing to do."""
    try:
        release_id = int(str(value))
    except ValueError:
        return "gone"
    loaded = _load(release_id)  # the release's current revision, with what a look needs, in one query
    if loaded is None:
        return "gone"
    return _watch_loaded(*loaded, chained=False)


def delete_release_objects(release_id: int) -> str:
    """Delete every object of the release in the cluster, then the release."""
    release = Release.objects.select_related("service_map__cluster").filter(pk=release_id).first()
    if release is None:
        return "gone"
    if release.status != ReleaseStatus.DELETING:
        return str(release.status)
    try:
        prune(_kube(release), release, keep=set())
    except Unreachable as exc:
        releases.release_message(release, f"Waiting for the cluster to delete the objects: {exc}",
                                 code="release_delete_waiting", params={"error": str(exc)})
        return "deleting"
    except (KubeError, DecryptionError) as exc:
        releases.release_message(release, f"The cluster refused to delete the objects: {exc}",
                                 code="release_delete_refused", params={"error": str(exc)})
        return "deleting"
    releases.release_deleted(release)
    return "deleted"


# ---------------------------------------------------------------------------- diff and drift


_VOLATILE_META = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")


def _normalise(obj: dict[str, Any] | None) -> dict[str, Any]:
    if obj is None:
        return {}
    obj = yaml.safe_load(yaml.safe_dump(obj))
    obj.pop("status", None)
    meta = obj.get("metadata") or {}
    for key in _VOLATILE_META:
        meta.pop(key, None)
    annotations = meta.get("annotations") or {}
    annotations.pop("deployment.kubernetes.io/revision", None)
    annotations.pop(REVISION_ANNOTATION, None)
    if not annotations:
        meta.pop("annotations", None)
    return obj


def diff_against_live(client: KubeClient, objects: list[dict[str, Any]], *,
                      reveal: bool = False) -> tuple[str, list[str]]:
    """``(unified diff, changed keys)`` of what applying ``objects`` would change, from a
    server-side dry-run of each (what ``kubectl diff`` does). Secret values are redacted
    (:func:`catalog.redaction.redact_pair`: only the keys that change show) unless ``reveal``."""
    chunks: list[str] = []
    changed: list[str] = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        try:
            live: dict[str, Any] | None = client.get_object(
                str(obj["kind"]), str(meta["name"]), str(meta.get("namespace", "")),
                api_version=str(obj["apiVersion"]), timeout=CALL_TIMEOUT, attempts=1)
        except NotFound:
            live = None
        would = client.apply(obj, field_manager=FIELD_MANAGER, dry_run=True, timeout=CALL_TIMEOUT, attempts=1)
        old_obj: dict[str, Any] | None = _normalise(live) if live else None
        new_obj: dict[str, Any] | None = _normalise(would)
        if not reveal:
            old_obj, new_obj = redaction.redact_pair(old_obj, new_obj)
        before = yaml.safe_dump(old_obj, sort_keys=True, allow_unicode=True).splitlines(keepends=True) if old_obj else []
        after = yaml.safe_dump(new_obj, sort_keys=True, allow_unicode=True).splitlines(keepends=True)
        lines = list(difflib.unified_diff(before, after, fromfile=f"live/{key_of(obj)}",
                                          tofile=f"new/{key_of(obj)}"))
        if lines:
            changed.append(key_of(obj))
            chunks.extend(lines)
    return "".join(chunks), changed


def drift(release: Release, *, reveal: bool = False) -> dict[str, Any]:
    """Objects of the deployed revision that differ in the cluster from what was applied
    (``objects``: changed or missing; ``missing``: those of them gone from the cluster). Secret
    values are redacted unless ``reveal``."""
    revision = Revision.objects.filter(release=release, number=release.deployed_revision).first()
    if revision is None:
        return {"checked": False, "objects": [], "missing": [], "diff": "", "message": "Nothing deployed yet."}
    objects = load(revision.manifest)
    try:
        client = _kube(release)
        missing = []
        present = []
        for obj in objects:
            try:
                client.get_object(str(obj["kind"]), str(obj["metadata"]["name"]), release.service_map.namespace,
                                  api_version=str(obj["apiVersion"]), timeout=CALL_TIMEOUT, attempts=1)
                present.append(obj)
            except NotFound:
                missing.append(key_of(obj))
        text, changed = diff_against_live(client, present, reveal=reveal)
    except (Unreachable, KubeError, DecryptionError) as exc:
        return {"checked": False, "objects": [], "missing": [], "diff": "",
                "message": redaction.scrub(f"Cannot compare with the cluster: {exc}", objects)}
    return {"checked": True, "objects": sorted(changed + missing), "missing": missing, "diff": text,
            "message": "" if changed or missing else "The cluster matches the deployed revision."}


def revision_diff(a: str, b: str, *, label_a: str, label_b: str, reveal: bool = False) -> str:
    """Unified diff of two revisions' manifests; Secret values redacted unless ``reveal`` (the
    keys whose values differ show as changed)."""
    before, after = load(a), load(b)
    if not reveal:
        before, after = redaction.redact_many(before, after)
    a, b = dump(before), dump(after)  # printed again: older stored manifests escaped non-ASCII
    return "".join(difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                        fromfile=label_a, tofile=label_b))


WATCH_MARK_SECONDS = 30


def watch_mark_seconds() -> float:
    """How long a look marks the revision as watched: longer than the gap to the next look."""
    return max(WATCH_MARK_SECONDS, 3 * max(watch_interval(), poll_interval()))


def watching_key(release_id: int, number: int) -> str:
    """Set by every watch pass: the beat task starts no second watch chain while it is fresh."""
    return f"catalog:watching:{release_id}:{number}"


def due_revisions(stale_after: float = 60.0) -> list[tuple[int, int, str]]:
    """(release, revision, what to run) of revisions a lost task left behind."""
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    out: list[tuple[int, int, str]] = []
    for release in Release.objects.filter(status__in=[ReleaseStatus.PENDING, ReleaseStatus.DEPLOYING,
                                                      ReleaseStatus.DELETING], updated__lt=cutoff):
        if release.status == ReleaseStatus.DELETING:
            out.append((release.pk, 0, "delete"))
            continue
        revision = Revision.objects.filter(release=release, number=release.revision).first()
        if revision is None:
            continue
        if revision.status in (RevisionStatus.PENDING, RevisionStatus.APPLYING):
            out.append((release.pk, revision.number, "deploy"))
        elif revision.status == RevisionStatus.PROGRESSING and not cache.get(watching_key(release.pk, revision.number)):
            out.append((release.pk, revision.number, "watch"))
    return out


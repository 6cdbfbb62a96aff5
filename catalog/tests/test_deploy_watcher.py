"""Deploy completion learned from the watcher's read model (issue 12, "one workload state").

A rollout is decided from the read model whenever it can answer: the workload's kinds are fresh
(a live watcher holds the cluster and heard from them), and its row carries the release label,
the workload state and at least the generation the deploy applied. The cluster below has an
address nothing answers at, so a look that reads the cluster says so ("Cannot read the rollout")
and one that decides from the read model completes without it. The rows are what the watcher
writes (:func:`clusters.watcher.projection.project` of objects shaped as the API serves them).
"""

from __future__ import annotations

import itertools
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from catalog import deploy
from catalog.manifests import RELEASE_LABEL, dump
from catalog.models import (
    CatalogSource,
    Package,
    PackageVersion,
    Release,
    Revision,
    RevisionStatus,
    SourceKind,
)
from clusters.models import Cluster, ClusterStatus, KindSync, KubeObject, SyncState, WatcherLease
from clusters.watcher import hooks
from clusters.watcher.projection import project
from clusters.workloads import WorkloadState
from workspaces.models import ServiceMap, Workspace

pytestmark = pytest.mark.django_db
_n = itertools.count(1)


def deployment(release_id: int, *, generation: int = 1, observed: int = 1, ready: int = 2,
               reason: str = "NewReplicaSetAvailable", label: str | None = None) -> dict[str, Any]:
    """A Deployment of 2 replicas as the API server serves it (status as the controller writes it)."""
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "generation": generation, "resourceVersion": "7",
                         "uid": "u-web", "labels": {RELEASE_LABEL: label or str(release_id)}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
            "status": {"observedGeneration": observed, "replicas": 2, "updatedReplicas": 2, "readyReplicas": ready,
                       "availableReplicas": ready,
                       "conditions": [{"type": "Progressing", "status": "False" if "Deadline" in reason else "True",
                                       "reason": reason, "message": f"the rollout: {reason}"}]}}


def setup_release(*, applied_generation: int | None = 1) -> tuple[Release, Revision]:
    n = next(_n)
    # Nothing listens there: any cluster call fails at once (connection refused).
    cluster = Cluster.objects.create(name=f"rm-{n}", server="https://127.0.0.1:9", status=ClusterStatus.CONNECTED)
    workspace = Workspace.objects.create(name=f"rm-{n}")
    sm = ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace="shop")
    source = CatalogSource.objects.create(name=f"rm-{n}", kind=SourceKind.UPLOAD, workspace=workspace)
    version = PackageVersion.objects.create(package=Package.objects.create(source=source, name="shop"),
                                            version="1.0.0", archive=b"", digest="sha256:test")
    release = Release.objects.create(workspace=workspace, service_map=sm, name="shop", package_version=version,
                                     revision=1, status="deploying")
    manifest = deployment(release.pk)
    for key in ("status", "uid", "resourceVersion", "generation"):
        manifest.pop(key, None)
        manifest["metadata"].pop(key, None)
    revision = Revision.objects.create(
        release=release, number=1, package_version=version, manifest=dump([manifest]),
        status=RevisionStatus.PROGRESSING, started=timezone.now(),
        progress={"Deployment/web": {"state": "progressing", "ready": 0, "desired": 0, "message": "",
                                     "generation": applied_generation}})
    watched(cluster)
    return release, revision


def watched(cluster: Cluster, *, heard: float = 0.0, lease: float = 30.0) -> None:
    """The watcher's rows for a cluster it holds and whose workload kinds it heard from ``heard`` s ago."""
    now = timezone.now()
    WatcherLease.objects.update_or_create(cluster=cluster, defaults={
        "holder": "test", "expires": now + timedelta(seconds=lease)})
    for kind in deploy.WORKLOAD_KINDS:
        KindSync.objects.update_or_create(cluster=cluster, kind=kind, defaults={
            "state": SyncState.SYNCED, "last_event": now - timedelta(seconds=heard), "last_list": now})


def store(release: Release, obj: dict[str, Any]) -> None:
    KubeObject.objects.update_or_create(cluster_id=release.service_map.cluster_id, kind="Deployment",
                                        namespace="shop", name="web", defaults=dict(project("Deployment", obj)))


def look(release: Release, revision: Revision) -> str:
    result = deploy.watch_revision(release.pk, revision.number)
    revision.refresh_from_db()
    return result


def test_the_deploys_load_is_what_the_orm_loads() -> None:
    """:func:`deploy._load` writes its query once per process (:mod:`portal.joined`): the
    revision, release, service map, cluster (credentials decrypted) and workspace it builds hold
    exactly what the ORM's ``select_related`` gives, JSON decoded, and are wired to each other."""
    from django.forms.models import model_to_dict

    from clusters.kube.connection import Credentials

    release, revision = setup_release()
    cluster = release.service_map.cluster
    cluster.set_credentials(Credentials(token="s3cret-token"))
    cluster.save()
    Revision.objects.create(release=release, number=2, package_version=revision.package_version,
                            manifest=revision.manifest, status=RevisionStatus.PENDING, progress={"a": [1, "x"]})
    orm = Revision.objects.select_related("release__service_map__cluster", "release__service_map__workspace")

    def fields(obj: Any) -> dict[str, Any]:
        return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}

    for number, expected in ((1, orm.get(release=release, number=1)), (2, orm.get(release=release, number=2))):
        loaded = deploy._load(release.pk, number)
        assert loaded is not None
        got_release, got = loaded
        assert fields(got) == fields(expected)
        assert got.release is got_release
        assert fields(got_release) == fields(expected.release)
        assert fields(got_release.service_map) == fields(expected.release.service_map)
        assert fields(got_release.service_map.cluster) == fields(expected.release.service_map.cluster)
        assert fields(got_release.service_map.workspace) == fields(expected.release.service_map.workspace)
        assert got_release.workspace is got_release.service_map.workspace
        assert got._state.adding is False
        assert model_to_dict(got)["progress"] == expected.progress
    assert deploy._load(release.pk, 2)[1].progress == {"a": [1, "x"]}  # type: ignore[index]
    assert deploy._load(release.pk)[1].number == 1  # type: ignore[index]  # the release's current revision
    assert deploy._load(release.pk)[0].service_map.cluster.get_credentials().token == "s3cret-token"  # type: ignore[index]
    assert deploy._load(release.pk, 3) is None
    assert deploy._load(10**9) is None


def test_a_fresh_current_row_decides_without_the_cluster() -> None:
    release, revision = setup_release()
    store(release, deployment(release.pk))
    assert look(release, revision) == "deployed"
    assert revision.status == RevisionStatus.DEPLOYED
    assert revision.progress["Deployment/web"] == {"state": "ready", "ready": 2, "desired": 2, "message": "",
                                                   "message_code": "", "message_params": {}, "generation": 1}
    assert (revision.message, revision.message_code, revision.message_params) == (
        "All objects are ready.", "revision_ready", {"number": 1})
    release.refresh_from_db()
    assert (release.status, release.deployed_revision) == ("deployed", 1)


def test_a_row_still_rolling_out_is_progressing_and_waits_for_the_watcher() -> None:
    release, revision = setup_release()
    store(release, deployment(release.pk, ready=1, reason="ReplicaSetUpdated"))
    # "progressing" (not "polling"): the read model answered, the watcher's hook will tell.
    assert look(release, revision) == "progressing"
    assert revision.status == RevisionStatus.PROGRESSING
    assert revision.progress["Deployment/web"]["state"] == "progressing"
    assert revision.message == ""


def test_a_notified_look_that_finds_the_release_busy_comes_back_soon_then_later(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Another look holds the release for milliseconds and may have read before the change that
    sent this one: the notified look comes back 0.1 s later; busy again (a deploy holds the
    release for its apply), it waits a second."""
    import psycopg
    from django.db import connection

    from catalog import tasks_deploy
    from portal.celery import app as celery_app

    release, _ = setup_release()
    sent: list[tuple[str, list[Any], float | None]] = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args=None, kwargs=None, countdown=None, **kw:
                        sent.append((name, list(args or []), countdown)))
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"],
                         dbname=db["NAME"], autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [7031, release.pk])
        assert tasks_deploy.watch_revision.run(str(release.pk)) == "busy"
        assert tasks_deploy.watch_revision.run(str(release.pk), None, True) == "busy"
    assert sent == [("catalog.watch_revision", [str(release.pk), None, True], tasks_deploy.LOOK_BUSY_RETRY_SECONDS),
                    ("catalog.watch_revision", [str(release.pk), None, True], tasks_deploy.BUSY_RETRY_SECONDS / 2)]


def test_a_stuck_rollout_in_the_read_model_fails_the_revision() -> None:
    release, revision = setup_release()
    store(release, deployment(release.pk, ready=1, reason="ProgressDeadlineExceeded"))
    assert look(release, revision) == "failed"
    assert revision.status == RevisionStatus.FAILED
    assert "ProgressDeadlineExceeded" in revision.message
    assert revision.message_code == "revision_rollout_failed"
    assert revision.message_params == {"number": 1, "objects": "Deployment/web: the rollout: ProgressDeadlineExceeded"}
    assert revision.progress["Deployment/web"]["message_code"] == "workload_deadline_exceeded"


@pytest.mark.parametrize("case", ["older generation", "not observed", "stale kinds", "no lease", "no row",
                                  "other release", "row without state", "applied generation unknown"])
def test_what_the_read_model_cannot_answer_is_read_from_the_cluster(case: str) -> None:
    release, revision = setup_release(applied_generation=None if case == "applied generation unknown" else 2)
    obj = deployment(release.pk, generation=1 if case == "older generation" else 2,
                     observed=1 if case in ("older generation", "not observed") else 2,
                     label="999999" if case == "other release" else None)
    if case != "no row":
        store(release, obj)
    if case == "stale kinds":
        watched(release.service_map.cluster, heard=3600)
    if case == "no lease":
        watched(release.service_map.cluster, lease=-1)
    if case == "row without state":  # written before rows carried the workload state
        row = KubeObject.objects.get(kind="Deployment", name="web", cluster_id=release.service_map.cluster_id)
        row.data.pop("rollout")
        row.save()
    if case == "not observed":
        # Fresh and current, but the controller has not observed it: the read model answers
        # "progressing" (a new spec's old status never counts as done).
        assert look(release, revision) == "progressing"
        assert revision.progress["Deployment/web"]["message"] == "Waiting for the controller to observe the new spec."
        return
    # The cluster is asked (nothing answers there): the look says so and will look again soon.
    assert look(release, revision) == "polling"
    assert revision.status == RevisionStatus.PROGRESSING
    assert revision.message.startswith("Cannot read the rollout right now")
    assert revision.message_code == "rollout_unreadable"
    assert set(revision.message_params) == {"number", "error"}


def test_the_watchers_notification_looks_once_without_marking_the_chain() -> None:
    release, _revision = setup_release()
    store(release, deployment(release.pk, ready=1, reason="ReplicaSetUpdated"))
    cache.delete(deploy.watching_key(release.pk, 1))
    assert deploy.observe_release(str(release.pk)) == "progressing"
    # The beat task still sees no chain watching it (the hook's look is not the chain).
    assert cache.get(deploy.watching_key(release.pk, 1)) is None
    store(release, deployment(release.pk))
    assert deploy.observe_release(str(release.pk)) == "deployed"
    assert deploy.observe_release(str(release.pk)) == "done"
    assert deploy.observe_release("not-a-release") == "gone"
    assert deploy.observe_release("0") == "gone"


def test_the_beat_task_settles_a_release_a_killed_worker_left_behind() -> None:
    """The revision says deployed, its release still says deploying (written before reports were
    atomic): the beat task's pass settles it."""
    from catalog import tasks_deploy

    release, revision = setup_release()
    Revision.objects.filter(pk=revision.pk).update(status=RevisionStatus.DEPLOYED, finished=timezone.now())
    assert tasks_deploy.reconcile_releases.run() >= 1
    release.refresh_from_db()
    assert (release.status, release.deployed_revision) == ("deployed", 1)


def test_the_catalog_registers_its_label_hook() -> None:
    """The app's ready() registered the release label with the watcher, by task name."""
    hook = next(h for h in hooks._label_hooks if h.label == RELEASE_LABEL)
    assert hook.task == "catalog.watch_revision"
    assert {"Deployment", "StatefulSet", "DaemonSet", "Job"} <= hook.kinds
    assert hook.significant is deploy.look_signature
    assert hook.urgent is deploy.look_urgent
    assert hook.quiet is deploy.look_quiet


def test_a_look_at_a_finished_or_failed_rollout_is_urgent() -> None:
    """The hook sends the look that can finish the revision at once, not at its window's end;
    a look that would only record progress waits for the window's end (quiet)."""
    assert not deploy.look_urgent(_deployment_row(ready=1))
    assert deploy.look_urgent(_deployment_row(ready=2))
    stuck = project("Deployment", deployment(4, ready=0, reason="ProgressDeadlineExceeded"))
    assert deploy.look_urgent(stuck)
    assert not deploy.look_urgent({"data": None})
    assert not deploy.look_urgent({})
    assert deploy.look_quiet(_deployment_row(ready=0))
    assert deploy.look_quiet(_deployment_row(ready=1))
    assert not deploy.look_quiet(_deployment_row(ready=2))
    assert not deploy.look_quiet(stuck)
    assert deploy.look_quiet({})


def _deployment_row(uid: str = "u1", generation: int = 1, ready: int = 0, stamp: str = "t1") -> Any:
    return project("Deployment", {
        "metadata": {"name": "web", "namespace": "ns", "uid": uid, "generation": generation,
                     "labels": {RELEASE_LABEL: "4"}},
        "spec": {"replicas": 2},
        "status": {"observedGeneration": generation, "replicas": 2, "updatedReplicas": 2, "readyReplicas": ready,
                   "availableReplicas": ready, "conditions": [{"type": "Progressing", "status": "True",
                                                               "lastUpdateTime": stamp}]}})


def test_the_look_signature_changes_with_what_a_look_reads_and_only_with_it() -> None:
    """The watcher's hook sends a look only when this changes: every field from_read_model reads
    (the rollout state, the generation, the phase, the object) is in it; a condition's time is not."""
    base = deploy.look_signature(_deployment_row())
    assert deploy.look_signature(_deployment_row(stamp="t2")) == base
    for other in (_deployment_row(ready=1), _deployment_row(generation=2), _deployment_row(uid="u2")):
        assert deploy.look_signature(other) != base
    assert deploy.look_signature({"uid": "x"}) == deploy.look_signature({"uid": "x", "data": None})  # never raises


# ---------------------------------------------------------------------------- against the sandbox

WEB_CHART = {
    "values.yaml": "replicas: 2\nimage: nginx:1.27\ndeadline: 600\n",
    "templates/deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: {{ .Values.replicas }}
  progressDeadlineSeconds: {{ .Values.deadline }}
  selector:
    matchLabels: {app: {{ .Release.Name }}-web}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-web}
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
          resources:
            requests: {cpu: 50m, memory: 32Mi}
""",
}


def sandbox_service_map(sandbox: Any) -> tuple[Cluster, ServiceMap, Any, PackageVersion]:
    """A sandbox cluster (registered directly: the watcher needs no check), a service map with a
    quota, a developer of its workspace and a package version of :data:`WEB_CHART`."""
    from catalog import helm
    from clusters.tests.helpers import register
    from portal.testing import make_user, unique
    from workspaces import quota as q
    from workspaces import services as ws_services
    from workspaces.models import ClusterAllocation, Membership, Role

    cluster = register(sandbox, "cluster-1")
    name = unique("rmw")
    workspace = Workspace.objects.create(name=name)
    developer = make_user(f"{name}dev")
    Role.ensure_builtin()
    Membership.objects.create(workspace=workspace, user=developer, role=Role.objects.get(key="developer"))
    quota = q.dump(q.parse({"requests.cpu": "2", "requests.memory": "2Gi", "pods": "10"}))
    ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, quota=quota, status="ready")
    sm = ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=name, quota=quota)
    assert ws_services.apply_service_map(sm.pk) == "ready"
    sm = ServiceMap.objects.select_related("workspace", "cluster").get(pk=sm.pk)
    source = CatalogSource.objects.create(name=name, kind=SourceKind.UPLOAD, workspace=workspace)
    archive = helm.build_archive("web", "1.0.0", WEB_CHART)
    info = helm.inspect(archive)
    version = PackageVersion.objects.create(package=Package.objects.create(source=source, name="web"),
                                            version="1.0.0", archive=archive, digest="sha256:test",
                                            values_yaml=info.values_yaml, values_schema=info.schema)
    return cluster, sm, developer, version


def start_deploy(driver: Any, release: Release) -> str:
    """Run the release's deploy task (queued by the write); what it returned."""
    from catalog import tasks_deploy

    wanted = (tasks_deploy.deploy_revision, (release.pk, release.revision))
    assert wanted in driver.queue
    driver.queue.remove(wanted)
    return str(wanted[0].run(*wanted[1]))


def run_notified(driver: Any, release: Release, until: Any) -> int:
    """Run the watcher's notifications of ``release`` as they arrive (after their countdown), drop
    the task's own looks, until ``until()``; how many notifications ran."""
    from portal.testing import wait_for

    notified = 0

    def done() -> bool:
        nonlocal notified
        while driver.queue:
            task, args = driver.queue.popleft()
            if args == (str(release.pk),):  # the watcher's notification
                notified += 1
                time.sleep(deploy.NOTIFY_WINDOW)  # its countdown (the driver runs tasks at once)
                task.run(*args)
            # else the chain's looks (dropped, so only the watcher can finish the deploy), or
            # notifications of other tests' releases still in the sandbox
        return bool(until())

    wait_for(done, timeout=30, what="the watcher's notifications finished the deploy")
    return notified


@pytest.mark.django_db(transaction=True)
def test_the_watcher_tells_a_deploy_that_it_is_done(sandbox: Any, driver: Any) -> None:
    """A real watcher engine watches the sandbox cluster; after the deploy's first look, the
    task's own schedule is dropped, so only the watcher's notifications (``catalog.watch_revision``
    with the release label's value) can finish the deploy, and they do, from the read model. The
    row the watcher stored agrees with :func:`clusters.workloads.workload_state` of the live object."""
    from catalog import releases
    from clusters.tests.helpers import client_for, engine, synced
    from clusters.workloads import workload_state
    from portal.testing import wait_for

    cluster, sm, developer, version = sandbox_service_map(sandbox)
    with engine(holder=sm.namespace):
        wait_for(lambda: synced(cluster), what="the cluster synced")
        release = releases.create_release(sm=sm, name="web", version=version, values={}, strategy={},
                                          user=developer, request=None)
        assert start_deploy(driver, release) in ("watching", "polling")  # its first look
        assert run_notified(driver, release, lambda: Release.objects.get(pk=release.pk).status == "deployed") >= 1
        revision = Revision.objects.get(release=release, number=1)
        assert revision.progress["Deployment/web-web"]["state"] == "ready"
        objects = [o for o in deploy.load(revision.manifest) if o["kind"] == "Deployment"]
        assert set(deploy.from_read_model(release, objects, revision.progress)) == {"Deployment/web-web"}
        # The row holds what the one rule says of the live object.
        with client_for(sandbox, "cluster-1") as kube:
            live = kube.get_object("Deployment", "web-web", sm.namespace)
        row = KubeObject.objects.get(cluster=cluster, kind="Deployment", namespace=sm.namespace, name="web-web")
        assert row.data["generation"] == live["metadata"]["generation"]
        assert WorkloadState.from_data(row.phase, row.data) == workload_state(live)


@pytest.mark.django_db(transaction=True)
def test_a_rollout_past_its_progress_deadline_fails_the_revision(sandbox: Any, driver: Any) -> None:
    """The sandbox's controller marks a Deployment whose image cannot be pulled
    ``Progressing=False/ProgressDeadlineExceeded`` after ``progressDeadlineSeconds``; the watcher's
    row says failed, its notification fails the revision with the codes the console translates."""
    from catalog import releases
    from clusters.tests.helpers import engine, synced
    from portal.testing import wait_for

    cluster, sm, developer, version = sandbox_service_map(sandbox)
    with engine(holder=sm.namespace):
        wait_for(lambda: synced(cluster), what="the cluster synced")
        release = releases.create_release(sm=sm, name="web", version=version, strategy={}, user=developer,
                                          values={"image": "nginx:doesnotexist", "deadline": 2}, request=None)
        assert start_deploy(driver, release) in ("watching", "polling")  # its first look
        run_notified(driver, release, lambda: Release.objects.get(pk=release.pk).status == "failed")
    revision = Revision.objects.get(release=release, number=1)
    assert revision.status == "failed"
    assert revision.message_code == "revision_rollout_failed"
    assert "ProgressDeadlineExceeded" not in revision.message  # the controller's words, not its reason
    assert "has timed out progressing" in revision.message_params["objects"]
    entry = revision.progress["Deployment/web-web"]
    assert (entry["state"], entry["message_code"]) == ("failed", "workload_deadline_exceeded")

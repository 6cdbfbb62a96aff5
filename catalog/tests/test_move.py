"""Moving a service map to another cluster and back (docs/moves.md), against two sandbox clusters
over HTTPS, real PostgreSQL and the session's real Celery worker (service map applies, deploys,
config intents): plan, start, the ledger, a release, a ConfigMap, a Secret (never shown, encrypted
again at rest on the target) and an autoscaler on the target, the source untouched until it is
retired in a separate confirmed step; and every bad input answered with its stable code before
anything is written.

The move's own passes are driven here with :func:`catalog.moving.advance` (the task's body) as well
as by the worker's chain when it has them registered: both at once is what "safe to run twice"
means, and the advisory lock keeps them from overlapping."""

from __future__ import annotations

import base64
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from catalog import moving
from catalog.models import ConfigVersion, Move, MoveRelease, Release, Revision
from catalog.tests.helpers import CHART_FILES, add_version
from catalog.tests.intents import result
from clusters.kube.errors import NotFound
from clusters.tests.helpers import client_for
from portal.models import AuditRecord
from portal.testing import make_user, register_cluster, unique, wait_for
from workspaces import quota as q
from workspaces import services as ws_services
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker_process")]

SECRET_VALUE = "s3cret-move-pass"
QUOTA = {"requests.cpu": "2", "requests.memory": "2Gi", "pods": "10", "services": "5"}


def api_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def world(admin_api: APIClient, sandbox: Any, *, clusters: tuple[str, ...] = ("cluster-1", "cluster-2"),
          allocate: tuple[str, ...] | None = None, quotas: dict[str, dict[str, str]] | None = None
          ) -> dict[str, Any]:
    """A workspace with a manager, a viewer and a developer, allocations on ``allocate`` (default:
    every cluster), a ready service map on the first, and the shop chart uploaded to it."""
    from catalog.models import CatalogSource, Package, SourceKind

    name = unique("mv")
    workspace = Workspace.objects.create(name=name)
    Role.ensure_builtin()
    users = {role: make_user(f"{name}-{role}") for role in ("manager", "viewer", "developer")}
    for role, user in users.items():
        Membership.objects.create(workspace=workspace, user=user, role=Role.objects.get(key=role))
    ids = {c: register_cluster(admin_api, sandbox.cluster(c).kubeconfig.read_text(), f"{name}-{c}")
           for c in clusters}
    for c in allocate if allocate is not None else clusters:
        quota = (quotas or {}).get(c, QUOTA)
        ClusterAllocation.objects.create(workspace=workspace, cluster_id=ids[c], quota=q.dump(q.parse(quota)),
                                         status="ready")
    sm = ServiceMap.objects.create(workspace=workspace, cluster_id=ids[clusters[0]], namespace=name,
                                   quota=q.dump(q.parse(QUOTA)))
    assert ws_services.apply_service_map(sm.pk) == "ready"
    source = CatalogSource.objects.create(name=f"up-{name}", kind=SourceKind.UPLOAD, workspace=workspace)
    version = add_version(Package.objects.create(source=source, name="shop"), "1.0.0", CHART_FILES,
                          digest="sha256:test")
    return {"workspace": workspace, "users": users, "ids": ids, "sm": sm, "version": version,
            "api": {role: api_for(user) for role, user in users.items()}}


def deploy(api: APIClient, sm: ServiceMap, version: Any, name: str = "web") -> Release:
    created = api.post("/api/catalog/releases/", {"service_map": sm.pk, "name": name, "package_version": version.pk,
                                                  "values": {"message": "moved"}}, format="json")
    assert created.status_code == 202, created.content
    release = Release.objects.get(pk=created.json()["id"])
    wait_for(lambda: Release.objects.get(pk=release.pk).status == "deployed", timeout=90, what="release deployed")
    return release


def drive(move_id: int, until: tuple[str, ...], timeout: float = 120.0) -> Move:
    """Run the move's passes (as the task does) until its status is one of ``until``."""
    deadline = time.monotonic() + timeout
    while True:
        move = Move.objects.get(pk=move_id)
        if move.status in until:
            return move
        assert time.monotonic() < deadline, f"move {move_id} still {move.status}: {move.steps}"
        moving.advance(move_id)
        time.sleep(0.2)


def list_queries(api: APIClient, workspace: int) -> int:
    """Queries of one page of the workspace's moves (the same for one move as for many)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        got = api.get(f"/api/catalog/moves/?workspace={workspace}")
    assert got.status_code == 200
    return len(queries)


def namespace_gone(sandbox: Any, cluster: str, namespace: str) -> bool:
    with client_for(sandbox, cluster) as kube:
        try:
            kube.get_object("Namespace", namespace)
        except NotFound:
            return True
    return False


def test_move_a_service_map_there_and_back_and_retire_the_source(admin_api: APIClient, sandbox: Any) -> None:
    w = world(admin_api, sandbox)
    manager, sm, ids = w["api"]["manager"], w["sm"], w["ids"]
    release = deploy(manager, sm, w["version"])
    base = f"/api/catalog/configs/{sm.pk}/"
    assert result(manager, manager.post(base, {"kind": "ConfigMap", "name": "app-config",
                                               "data": {"mode": "blue"}}, format="json"))["version"] == 1
    assert result(manager, manager.post(base, {"kind": "Secret", "name": "db",
                                               "data": {"user": "shop", "password": SECRET_VALUE}},
                                        format="json"))["version"] == 1
    assert result(manager, manager.put(f"/api/catalog/autoscalers/{sm.pk}/Deployment/web-web/",
                                       {"min_replicas": 1, "max_replicas": 3, "cpu_percent": 70},
                                       format="json"))["max_replicas"] == 3

    # The plan: what would be copied (names and keys, never values), the dry-run, the quota room.
    body = {"service_map": sm.pk, "target_cluster": ids["cluster-2"]}
    planned = manager.post("/api/catalog/moves/plan/", body, format="json")
    assert planned.status_code == 200, planned.content
    plan = planned.json()
    assert plan["ok"] is True, plan["problems"]
    assert SECRET_VALUE not in planned.content.decode()
    assert {(c["kind"], c["name"]) for c in plan["configs"]} == {("ConfigMap", "app-config"), ("Secret", "db")}
    assert next(c for c in plan["configs"] if c["name"] == "db")["keys"] == ["password", "user"]
    assert [(r["name"], r["version"], r["ok"], r["dry_run"]["ok"]) for r in plan["releases"]] == [
        ("web", "1.0.0", True, True)]
    assert plan["autoscalers"] == [{"name": "web-web", "kind": "Deployment", "workload": "web-web",
                                    "min_replicas": 1, "max_replicas": 3}]
    assert plan["quota"]["ok"] is True
    assert plan["target"] == {"namespace": sm.namespace, "cluster": ids["cluster-2"],
                              "cluster_name": plan["target"]["cluster_name"]}
    assert not Move.objects.exists()  # a plan writes nothing

    started = manager.post("/api/catalog/moves/", body, format="json")
    assert started.status_code == 202, started.content
    row = started.json()
    assert row["status"] == "running"
    assert [s["key"] for s in row["steps"]] == ["plan", "service_map", "configs", "releases", "healthy",
                                                "autoscalers", "retire"]
    assert row["steps"][0]["state"] == "done"
    assert [(r["name"], r["source_revision"]) for r in row["releases"]] == [("web", 1)]
    again = manager.post("/api/catalog/moves/", body, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "move_in_progress")

    # The real worker's chain alone takes it there (catalog.advance_move, re-sent step by step).
    wait_for(lambda: Move.objects.get(pk=row["id"]).status in ("healthy", "failed"), timeout=150,
             what="the worker to finish the move")
    move = Move.objects.get(pk=row["id"])
    assert move.status == "healthy", (move.message, move.steps)
    assert [s["state"] for s in move.steps] == ["done"] * 6 + ["pending"]
    assert move.target_id is not None
    target = ServiceMap.objects.get(pk=move.target_id)
    assert (target.cluster_id, target.namespace, target.quota) == (ids["cluster-2"], sm.namespace, sm.quota)
    moved = Release.objects.get(service_map=target, name="web")
    assert (moved.status, moved.package_version_id) == ("deployed", release.package_version_id)
    assert Revision.objects.get(release=moved, number=1).values == {"message": "moved"}
    line = MoveRelease.objects.get(move=move)
    assert (line.state, line.target_release_id) == ("healthy", moved.pk)

    with client_for(sandbox, "cluster-2") as kube:
        assert kube.get_object("ConfigMap", "app-config", sm.namespace)["data"] == {"mode": "blue"}
        secret = kube.get_object("Secret", "db", sm.namespace)
        assert base64.b64decode(secret["data"]["password"]).decode() == SECRET_VALUE
        assert kube.get_object("HorizontalPodAutoscaler", "web-web", sm.namespace)["spec"]["maxReplicas"] == 3
        assert kube.get_object("Deployment", "web-web", sm.namespace)
    copied = ConfigVersion.objects.get(service_map=target, kind="Secret", name="db")
    assert (copied.message_code, copied.data, copied.keys) == ("config_moved", {}, ["password", "user"])
    assert SECRET_VALUE not in copied.data_encrypted  # encrypted again, bound to the target's row
    assert copied.get_secret_data()["password"] == SECRET_VALUE
    # The source is untouched until it is retired.
    with client_for(sandbox, "cluster-1") as kube:
        assert kube.get_object("Deployment", "web-web", sm.namespace)
        assert kube.get_object("Secret", "db", sm.namespace)
    assert Release.objects.get(pk=release.pk).status == "deployed"

    # Running the finished move's pass again changes nothing; nor does a worker killed after it
    # copied the configs and installed the release but before it recorded them (the steps run again,
    # find the target release and the copied config versions, and make nothing twice).
    assert moving.advance(move.pk) == "healthy"
    steps = [dict(s, state="pending", finished=None) if s["key"] in ("configs", "releases", "healthy",
                                                                     "autoscalers") else s for s in move.steps]
    Move.objects.filter(pk=move.pk).update(status="running", steps=steps, finished=None,
                                           updated=timezone.now() - timedelta(minutes=5))
    MoveRelease.objects.filter(move=move).update(target_release=None, revision=None, state="pending")
    assert move.pk in moving.due(stale_after=60)  # what the beat sends again
    move = drive(move.pk, ("healthy", "failed"))
    assert move.status == "healthy", (move.message, move.steps)
    assert ConfigVersion.objects.filter(service_map=target, name="db").count() == 1
    assert list(Release.objects.filter(service_map=target).values_list("pk", "revision")) == [(moved.pk, 1)]
    assert MoveRelease.objects.get(move=move).target_release_id == moved.pk
    with moving.move_lock(move.pk) as held:  # another pass holds the move: this one leaves it alone
        assert held
        from django.db import connections

        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [7033, move.pk])
                assert cursor.fetchone()[0] is False
        finally:
            other.close()
    detail = manager.get(f"/api/catalog/moves/{move.pk}/")
    assert detail.status_code == 200
    assert detail.json()["status"] == "healthy"
    listed = manager.get(f"/api/catalog/moves/?service_map={sm.pk}").json()["results"]
    assert [m["id"] for m in listed] == [move.pk]
    one_move = list_queries(manager, w["workspace"].pk)
    for text in (detail.content.decode(), str(AuditRecord.objects.filter(action__startswith="move.").values_list(
            "detail", flat=True))):
        assert SECRET_VALUE not in text

    # Never retire the only copy: a moved release deleted on the target since (its row gone: the line's
    # target is cleared) keeps the source, whatever is typed; nothing is written.
    MoveRelease.objects.filter(move=move).update(target_release=None)
    lost = manager.post(f"/api/catalog/moves/{move.pk}/retire-source/", {"confirm": sm.namespace}, format="json")
    assert (lost.status_code, lost.json()["code"], lost.json()["params"]["releases"]) == (
        409, "move_target_incomplete", "web"), lost.content
    assert (Move.objects.get(pk=move.pk).status, ServiceMap.objects.get(pk=sm.pk).status) == ("healthy", "ready")
    MoveRelease.objects.filter(move=move).update(target_release=moved)

    # Retiring: a separate, confirmed step.
    wrong = manager.post(f"/api/catalog/moves/{move.pk}/retire-source/", {"confirm": "nope"}, format="json")
    assert (wrong.status_code, wrong.json()["code"]) == (400, "confirm_mismatch")
    assert w["api"]["developer"].post(f"/api/catalog/moves/{move.pk}/retire-source/",
                                      {"confirm": sm.namespace}, format="json").status_code == 403
    retiring = manager.post(f"/api/catalog/moves/{move.pk}/retire-source/", {"confirm": sm.namespace}, format="json")
    assert retiring.status_code == 202, retiring.content
    assert retiring.json()["status"] == "retiring"
    move = drive(move.pk, ("retired",))
    assert move.steps[-1]["state"] == "done"
    assert move.source_id is None
    assert not ServiceMap.objects.filter(pk=sm.pk).exists()
    assert namespace_gone(sandbox, "cluster-1", sm.namespace)
    assert AuditRecord.objects.filter(action="move.retire_source", detail__move=move.pk).exists()

    # And back to the first cluster (the namespace there is free again).
    back = manager.post("/api/catalog/moves/", {"service_map": target.pk, "target_cluster": ids["cluster-1"]},
                        format="json")
    assert back.status_code == 202, back.content
    returned = drive(back.json()["id"], ("healthy", "failed"))
    assert returned.status == "healthy", (returned.message, returned.steps)
    assert list_queries(manager, w["workspace"].pk) == one_move  # no query per move or per release line
    assert returned.target_id is not None
    home = ServiceMap.objects.get(pk=returned.target_id)
    assert home.cluster_id == ids["cluster-1"]
    assert Release.objects.get(service_map=home, name="web").status == "deployed"
    with client_for(sandbox, "cluster-1") as kube:
        secret = kube.get_object("Secret", "db", home.namespace)
        assert base64.b64decode(secret["data"]["password"]).decode() == SECRET_VALUE
        assert kube.get_object("ConfigMap", "app-config", home.namespace)["data"] == {"mode": "blue"}


def test_bad_moves_are_refused_before_anything_is_written(admin_api: APIClient, sandbox: Any) -> None:
    w = world(admin_api, sandbox, clusters=("cluster-1", "cluster-2", "cluster-3"),
              allocate=("cluster-1", "cluster-2", "cluster-3"),
              quotas={"cluster-3": {"requests.cpu": "1", "requests.memory": "2Gi", "pods": "10", "services": "5"}})
    manager, sm, ids = w["api"]["manager"], w["sm"], w["ids"]
    url = "/api/catalog/moves/"

    def refused(body: dict[str, Any], status: int, code: str, api: APIClient = manager) -> dict[str, Any]:
        for path in (url, url + "plan/"):
            got = api.post(path, body, format="json")
            if path.endswith("plan/") and got.status_code == 200:  # the plan lists the problem instead
                assert code in [p["code"] for p in got.json()["problems"]], got.json()
                continue
            assert (got.status_code, got.json().get("code")) == (status, code), got.content
        return dict(got.json())

    refused({"service_map": sm.pk, "target_cluster": ids["cluster-1"]}, 400, "move_same_cluster")
    ClusterAllocation.objects.filter(workspace=w["workspace"], cluster_id=ids["cluster-3"]).delete()
    refused({"service_map": sm.pk, "target_cluster": ids["cluster-3"]}, 400, "move_no_allocation")
    ClusterAllocation.objects.create(workspace=w["workspace"], cluster_id=ids["cluster-3"], status="ready",
                                     quota=q.dump(q.parse({"requests.cpu": "1", "requests.memory": "2Gi",
                                                           "pods": "10", "services": "5"})))
    short = refused({"service_map": sm.pk, "target_cluster": ids["cluster-3"]}, 400, "move_quota_exceeded")
    assert "requests.cpu" in str(short)
    refused({"service_map": sm.pk, "target_cluster": ids["cluster-2"], "target_namespace": "kube-x"}, 400,
            "namespace_reserved")
    refused({"service_map": sm.pk, "target_cluster": ids["cluster-2"], "target_namespace": "Bad_Name"}, 400,
            "namespace_invalid")
    taken = ServiceMap.objects.create(workspace=w["workspace"], cluster_id=ids["cluster-2"], namespace="taken-here",
                                      quota={})
    refused({"service_map": sm.pk, "target_cluster": ids["cluster-2"], "target_namespace": taken.namespace}, 409,
            "move_target_exists")
    # Who may: a viewer and a developer lack grants; an outsider does not see the service map.
    viewer = w["api"]["viewer"].post(url, {"service_map": sm.pk, "target_cluster": ids["cluster-2"]}, format="json")
    assert (viewer.status_code, viewer.json()["code"]) == (403, "grant_missing")
    developer = w["api"]["developer"].post(url, {"service_map": sm.pk, "target_cluster": ids["cluster-2"]},
                                           format="json")
    assert (developer.status_code, developer.json()["params"]["grant"]) == (403, "servicemaps.manage")
    outsider = api_for(make_user(unique("outsider")))
    assert outsider.post(url, {"service_map": sm.pk, "target_cluster": ids["cluster-2"]},
                         format="json").status_code == 400
    assert manager.post(url, {"service_map": sm.pk, "target_cluster": ids["cluster-2"], "extra": 1},
                        format="json").status_code == 400
    # A manager of another workspace, allocated on the same target cluster, sees nothing of this one.
    other = Workspace.objects.create(name=unique("mvo"))
    stranger = make_user(unique("stranger"))
    Membership.objects.create(workspace=other, user=stranger, role=Role.objects.get(key="manager"))
    ClusterAllocation.objects.create(workspace=other, cluster_id=ids["cluster-2"], quota=q.dump(q.parse(QUOTA)),
                                     status="ready")
    foreign = api_for(stranger)
    for path in (url, url + "plan/"):
        got = foreign.post(path, {"service_map": sm.pk, "target_cluster": ids["cluster-2"]}, format="json")
        assert (got.status_code, got.json()["errors"].keys()) == (400, {"service_map"}), got.content
    assert not Move.objects.exists()
    assert not ServiceMap.objects.filter(cluster_id=ids["cluster-2"], namespace=sm.namespace).exists()

    # A refusal of the dry-run that quotes a value never shows a Secret's value (the plan is shown to
    # people): here a label the target refuses carries the same text as a Secret of the release.
    checked = moving.check(user=w["users"]["manager"], source=sm, target_cluster_id=ids["cluster-2"],
                           target_namespace=unique("leak"))
    checked.releases.append({"name": "leaky", "ok": True, "problems": [], "dry_run": None, "pull_secrets": []})
    checked.objects["leaky"] = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pw"}, "stringData": {"password": SECRET_VALUE}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "echo", "labels": {"pw": f"x!{SECRET_VALUE}"}}}]
    with moving._client(checked.target_cluster) as kube:
        moving._dry_run(kube, checked)
    leaky = checked.releases[-1]
    assert (leaky["ok"], leaky["dry_run"]["ok"]) == (False, False)
    assert "metadata.labels" in leaky["dry_run"]["message"]
    assert "x!" in leaky["dry_run"]["message"]
    assert SECRET_VALUE not in str(leaky) + str([p.row() for p in checked.problems])
    assert "move_dry_run_failed" in [p.code for p in checked.problems]

    # A move whose target namespace the cluster already has (made outside the portal) fails at the
    # target step; the source is untouched and the move says what happened where.
    with client_for(sandbox, "cluster-2") as kube:
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": sm.namespace}},
                   field_manager="test")
    try:
        # The worker's chain would fail this move within a moment; while the test holds the move's
        # lock its passes find it busy, so the move is surely in progress for the two refusals.
        with connection.cursor() as cursor:
            cursor.execute("SELECT last_value + CASE WHEN is_called THEN 1 ELSE 0 END FROM "
                           "catalog_move_id_seq")
            next_id = cursor.fetchone()[0]
        with moving.move_lock(next_id) as held:
            assert held
            started = manager.post(url, {"service_map": sm.pk, "target_cluster": ids["cluster-2"]}, format="json")
            assert started.status_code == 202, started.content
            move_id = started.json()["id"]
            assert move_id == next_id
            early = manager.post(f"{url}{move_id}/retire-source/", {"confirm": sm.namespace}, format="json")
            assert (early.status_code, early.json()["code"]) == (409, "move_not_finished")
            busy = manager.post(url, {"service_map": sm.pk, "target_cluster": ids["cluster-2"],
                                      "target_namespace": "other-ns"}, format="json")
            assert (busy.status_code, busy.json()["code"]) == (409, "move_in_progress")
        move = drive(move_id, ("failed", "healthy"))
        assert move.status == "failed"
        assert move.message_code == "move_failed"
        assert move.message_params["step"] == "service_map"
        assert sm.namespace in move.message
        assert "untouched" in move.message
        step = next(s for s in move.steps if s["key"] == "service_map")
        assert (step["state"], step["message_code"]) == ("failed", "move_target_refused")
        assert ServiceMap.objects.get(pk=sm.pk).status == "ready"  # the source is untouched
        after = manager.post(f"{url}{move_id}/retire-source/", {"confirm": sm.namespace}, format="json")
        assert (after.status_code, after.json()["code"]) == (409, "move_not_finished")
        assert outsider.get(f"{url}{move_id}/").status_code == 404
        assert outsider.get(url).json()["results"] == []
        assert foreign.get(f"{url}{move_id}/").status_code == 404
        assert foreign.get(f"{url}?service_map={sm.pk}").json()["results"] == []
        assert foreign.get(f"{url}?workspace={w['workspace'].pk}").json()["results"] == []
        assert foreign.post(f"{url}{move_id}/retire-source/", {"confirm": sm.namespace},
                            format="json").status_code == 404
    finally:
        with client_for(sandbox, "cluster-2") as kube:
            kube.delete_object("Namespace", sm.namespace)


def test_a_target_that_does_not_answer_keeps_the_move_waiting_not_failed(admin_api: APIClient, sandbox: Any) -> None:
    w = world(admin_api, sandbox)
    manager, sm, ids = w["api"]["manager"], w["sm"], w["ids"]
    with client_for(sandbox, "cluster-1") as kube:
        kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain", "namespace": sm.namespace},
                    "data": {"k": "v"}}, field_manager="test")
    sandbox.inject_fault("cluster-2", blackhole=True)
    try:
        started = manager.post("/api/catalog/moves/", {"service_map": sm.pk, "target_cluster": ids["cluster-2"]},
                               format="json")
        assert started.status_code == 202, started.content  # no cluster call before the answer
        move_id = started.json()["id"]

        def waiting() -> bool:
            # the ledger mirrors the target service map's own state, which its apply task rewrites between
            # tries (pending, then cluster_waiting again): look until a pass recorded the cluster's silence
            moving.advance(move_id)
            move = Move.objects.get(pk=move_id)
            assert move.status == "running", (move.message, move.steps)  # waiting, never failed
            step = next(s for s in move.steps if s["key"] == "service_map")
            return (step["state"], step["message_code"]) == ("running", "cluster_waiting")

        wait_for(waiting, timeout=60, what="the move to wait for the target's cluster")
    finally:
        sandbox.clear_faults("cluster-2")
    target = ServiceMap.objects.get(cluster_id=ids["cluster-2"], namespace=sm.namespace)
    assert ws_services.apply_service_map(target.pk) == "ready"  # what the workspaces beat does every minute
    move = drive(move_id, ("healthy", "failed"))
    assert move.status == "healthy", (move.message, move.steps)
    with client_for(sandbox, "cluster-2") as kube:
        assert kube.get_object("ConfigMap", "plain", sm.namespace)["data"] == {"k": "v"}
    assert ConfigVersion.objects.get(service_map=target, name="plain").message_params["move"] == move_id
    # The source is never retired while the target is going away: it would be the only copy left.
    ServiceMap.objects.filter(pk=target.pk).update(status="deleting")
    refused = manager.post(f"/api/catalog/moves/{move_id}/retire-source/", {"confirm": sm.namespace}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "move_target_gone")
    assert ServiceMap.objects.get(pk=sm.pk).status == "ready"

"""``GET /api/dashboard/``: each role gets its tiles, a user with several roles the union ordered
by attention, every figure is what the user may see, live figures from the sandbox fleet through
the watcher, worker heartbeats from a real Celery worker, and a query count that does not grow
with the fleet."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from clusters.models import Cluster, KubeObject
from clusters.tests.helpers import engine, register, seed, synced
from dashboards import heartbeat
from monitoring.testing import seed_alert
from portal.models import User
from portal.testing import make_user, unique, wait_for
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace


def _client(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def _tiles(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["key"]: t for t in body["tiles"]}


def _get(user: User) -> dict[str, Any]:
    response = _client(user).get("/api/dashboard/")
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


class World:
    """Two workspaces on one cluster, a developer in one of them."""

    def __init__(self, cluster: Cluster | None = None) -> None:
        self.cluster = cluster or Cluster.objects.create(name=unique("c"), server="https://127.0.0.1:1",
                                                         status="connected")
        self.team = Workspace.objects.create(name=unique("team"))
        self.other = Workspace.objects.create(name=unique("other"))
        self.ns = unique("shop")
        for ws, ns in ((self.team, self.ns), (self.other, unique("bank"))):
            ClusterAllocation.objects.create(workspace=ws, cluster=self.cluster, status="ready",
                                             quota={"requests.cpu": "4", "requests.memory": "8Gi"})
            ServiceMap.objects.create(workspace=ws, cluster=self.cluster, namespace=ns, status="ready",
                                      quota={"requests.cpu": "2"})
        self.sm = ServiceMap.objects.get(workspace=self.team)
        self.other_sm = ServiceMap.objects.get(workspace=self.other)
        self.developer = self.member(self.team, "developer")

    @staticmethod
    def member(ws: Workspace, role: str, user: User | None = None) -> User:
        user = user or make_user(unique(role))
        Membership.objects.create(workspace=ws, user=user, role=Role.objects.get(key=role))
        return user


@pytest.mark.django_db
def test_anonymous_is_refused() -> None:
    assert APIClient().get("/api/dashboard/").status_code in (401, 403)


@pytest.mark.django_db
def test_a_user_without_role_or_workspace_gets_no_tiles() -> None:
    body = _get(make_user(unique("nobody")))
    assert body["roles"] == []
    assert body["tiles"] == []
    assert body["generated_at"]


@pytest.mark.django_db
def test_developer_sees_only_their_workspaces() -> None:
    w = World()
    seed_alert(workspace=w.team, service_map=w.sm, cluster=w.cluster, severity="critical")
    seed_alert(workspace=w.other, service_map=w.other_sm, cluster=w.cluster, severity="critical")
    seed_alert(cluster=w.cluster, severity="critical")  # about the cluster itself: operators only
    body = _get(w.developer)
    assert body["roles"] == ["developer"]
    assert body["groups"] == [f"workspace.{w.team.pk}", f"cluster.{w.cluster.pk}.ns.{w.ns}"]
    tiles = _tiles(body)
    assert set(tiles) == {"service_maps", "releases", "builds", "my_quota"}
    maps = tiles["service_maps"]["data"]["service_maps"]
    assert [m["id"] for m in maps] == [w.sm.pk]
    assert maps[0]["alerts"] == {"open": 1, "firing": 1}
    assert tiles["service_maps"]["attention"] == 3
    assert body["tiles"][0]["key"] == "service_maps"  # what needs action first
    assert tiles["service_maps"]["link"] == f"/servicemaps?workspace={w.team.pk}"
    assert maps[0]["link"] == f"/workspaces/{w.team.pk}/servicemaps/{w.sm.pk}"
    quota = tiles["my_quota"]["data"]["allocations"]
    assert [(a["workspace"]["id"], a["cluster"]["id"]) for a in quota] == [(w.team.pk, w.cluster.pk)]
    assert tiles["releases"]["link"] == f"/releases?workspace={w.team.pk}"
    assert tiles["builds"]["link"] == f"/builds?workspace={w.team.pk}"
    for tile in body["tiles"]:
        assert tile["role"] == "developer"
        assert 0 <= tile["attention"] <= 3
        assert tile["link"].startswith("/")


@pytest.mark.django_db
def test_operator_gets_the_operator_tiles_and_no_admin_ones() -> None:
    w = World()
    seed_alert(cluster=w.cluster, severity="warning")
    operator = make_user(unique("op"), role="operator")
    body = _get(operator)
    assert body["roles"] == ["operator"]
    assert body["groups"] == ["fleet", "alerts"]
    tiles = _tiles(body)
    assert set(tiles) == {"clusters", "capacity", "firing", "events", "nodes"}
    assert tiles["firing"]["data"]["count"] == 1
    assert tiles["firing"]["attention"] == 2
    assert tiles["firing"]["link"] == "/alerts?state=firing"
    assert tiles["events"]["link"] == "/monitoring/events?type=Warning"


@pytest.mark.django_db
def test_auditor_reads_as_an_operator() -> None:
    World()
    body = _get(make_user(unique("aud"), role="auditor"))
    assert body["roles"] == ["operator"]
    assert "audit" not in _tiles(body)
    assert "portal_health" not in _tiles(body)


@pytest.mark.django_db
def test_admin_who_is_a_member_sees_the_union_ordered_by_attention() -> None:
    w = World()
    admin = make_user(unique("adm"), role="admin")
    World.member(w.team, "developer", admin)
    seed_alert(workspace=w.team, service_map=w.sm, cluster=w.cluster, severity="critical")
    w.cluster.api_cert_not_after = timezone.now() + datetime.timedelta(days=3)
    w.cluster.save(update_fields=["api_cert_not_after"])
    body = _get(admin)
    assert body["roles"] == ["admin", "operator", "developer"]
    tiles = _tiles(body)
    assert {"fleet", "quota", "cost", "alerts", "audit", "portal_health", "capacity", "firing", "events", "nodes",
            "service_maps", "releases", "builds", "my_quota"} <= set(tiles)
    assert "clusters" not in tiles  # the fleet tile says it for admins
    attention = [t["attention"] for t in body["tiles"]]
    assert attention == sorted(attention, reverse=True)
    # Only the member workspace in "my" tiles, though the admin sees every workspace.
    assert [m["id"] for m in tiles["service_maps"]["data"]["service_maps"]] == [w.sm.pk]
    assert {a["workspace"]["id"] for a in tiles["quota"]["data"]["allocations"]} >= {w.team.pk, w.other.pk}
    fleet = tiles["fleet"]
    assert fleet["attention"] == 3
    assert [c["id"] for c in fleet["data"]["certificates"]["expiring"]] == [w.cluster.pk]
    assert tiles["alerts"]["data"]["by_severity"]["critical"]["firing"] == 1
    assert tiles["alerts"]["link"] == "/alerts?state=open&severity=critical"
    assert tiles["audit"]["link"].startswith("/admin/audit")
    assert tiles["cost"]["link"] == "/monitoring/metering?group=workspace"


@pytest.mark.django_db
def test_nodes_under_pressure_are_listed() -> None:
    w = World()
    now = timezone.now()
    KubeObject.objects.create(cluster=w.cluster, kind="Node", name="n1", uid=unique("u"), resource_version="1",
                              phase="Ready", created=now, data={"ready": True, "conditions": [
                                  {"type": "MemoryPressure", "status": "True"}]})
    KubeObject.objects.create(cluster=w.cluster, kind="Node", name="n2", uid=unique("u"), resource_version="1",
                              phase="Ready", created=now, data={"ready": True, "conditions": [
                                  {"type": "MemoryPressure", "status": "False"}]})
    tiles = _tiles(_get(make_user(unique("op"), role="operator")))
    nodes = tiles["nodes"]["data"]
    assert nodes["count"] == 1
    assert nodes["nodes"][0]["name"] == "n1"
    assert nodes["nodes"][0]["conditions"] == ["MemoryPressure"]
    assert tiles["nodes"]["link"] == f"/clusters/{w.cluster.pk}/nodes"


@pytest.mark.django_db
def test_query_count_does_not_grow_with_the_fleet() -> None:
    admin = make_user(unique("adm"), role="admin")
    first = World()
    World.member(first.team, "developer", admin)

    def count() -> int:
        client = _client(admin)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/dashboard/").status_code == 200
        return len(captured)

    small = count()
    assert small <= 50  # about 40 for an admin who is also a member (docs/dashboards.md)
    for _ in range(4):
        w = World()
        World.member(w.team, "developer", admin)
        seed_alert(workspace=w.team, service_map=w.sm, cluster=w.cluster)
    assert count() == small


@pytest.mark.django_db
def test_worker_heartbeats_tell_alive_and_lost_workers() -> None:
    from portal.redis import client

    client().delete(heartbeat.KEY)
    now = timezone.now().timestamp()
    heartbeat.beat("alive@host", ["control"], at=now - 2)
    heartbeat.beat("lost@host", ["deploys"], at=now - 600)
    heartbeat.beat("gone@host", ["long"], at=now - 3 * 86400)
    admin = make_user(unique("adm"), role="admin")
    workers = _tiles(_get(admin))["portal_health"]["data"]["workers"]
    assert workers["alive"] == 1
    assert workers["total"] == 2
    assert {w["name"]: w["alive"] for w in workers["list"]} == {"alive@host": True, "lost@host": False}
    assert client().hget(heartbeat.KEY, "gone@host") is None
    client().delete(heartbeat.KEY)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_beats(celery_worker_process: Any) -> None:
    admin = make_user(unique("adm"), role="admin")
    wait_for(lambda: _tiles(_get(admin))["portal_health"]["data"]["workers"]["alive"] >= 1, timeout=30,
             what="the worker's heartbeat")


@pytest.mark.django_db(transaction=True)
def test_live_figures_from_the_watched_sandbox_fleet(sandbox: Any) -> None:
    clusters = [register(sandbox, name) for name in ("cluster-1", "cluster-2")]
    ns = unique("dash")
    seed(sandbox, "cluster-1", ns)
    w = World(clusters[0])
    ServiceMap.objects.filter(pk=w.sm.pk).update(namespace=ns)
    admin = make_user(unique("adm"), role="admin")
    with engine():
        wait_for(lambda: all(synced(c) for c in clusters), what="clusters synced")
        wait_for(lambda: (Cluster.objects.get(pk=clusters[0].pk).summary or {}).get("nodes_total") == 3,
                 what="summary")
        wait_for(lambda: _tiles(_get(admin))["fleet"]["data"]["nodes"]["total"] >= 6, what="nodes counted")
        tiles = _tiles(_get(admin))
        ours = [c for c in tiles["capacity"]["data"]["clusters"] if c["id"] in {c.pk for c in clusters}]
        assert len(ours) == 2
        assert all(c["cpu"]["allocatable"] > 0 for c in ours)
        assert tiles["fleet"]["as_of"] is not None
        maps = _tiles(_get(w.developer))["service_maps"]["data"]["service_maps"]
        wait_for(lambda: _tiles(_get(w.developer))["service_maps"]["data"]["service_maps"][0]["workloads"]["total"]
                 >= 3, what="workloads of the service map")
        assert maps[0]["namespace"] == ns

        sandbox.inject_fault("cluster-2", blackhole=True)
        wait_for(lambda: _tiles(_get(admin))["fleet"]["link"] == "/clusters?status=unreachable", timeout=15,
                 what="the fleet tile says a cluster is unreachable")
        fleet = _tiles(_get(admin))["fleet"]
        assert fleet["attention"] == 3
        assert clusters[1].pk in [c["id"] for c in fleet["data"]["attention"]]


@pytest.mark.django_db
def test_failed_deploys_and_builds_come_first_for_the_developer() -> None:
    from builds.models import BuildDefinition, BuildRun, Registry
    from catalog.models import CatalogSource, Package, PackageVersion, Release

    w = World()
    source = CatalogSource.objects.create(name=unique("charts"), kind="upload")
    version = PackageVersion.objects.create(package=Package.objects.create(source=source, name="web"), version="1.0.0")
    ok = Release.objects.create(workspace=w.team, service_map=w.sm, name="ok", package_version=version,
                                status="deployed")
    bad = Release.objects.create(workspace=w.team, service_map=w.sm, name="bad", package_version=version,
                                 status="failed", message_code="revision_failed")
    Release.objects.create(workspace=w.other, service_map=w.other_sm, name="theirs", package_version=version,
                           status="failed")
    registry = Registry.objects.create(name=unique("reg"), host=f"{unique('reg')}.example.com")
    definition = BuildDefinition.objects.create(workspace=w.team, name="api", git_url="https://git.example.com/a.git",
                                                registry=registry, repository="team/api", cluster=w.cluster,
                                                service_map=w.sm)
    BuildRun.objects.create(definition=definition, workspace=w.team, number=1, status="succeeded")
    failed = BuildRun.objects.create(definition=definition, workspace=w.team, number=2, status="failed")
    tiles = _tiles(_get(w.developer))
    releases = tiles["releases"]
    assert releases["attention"] == 2
    assert [r["id"] for r in releases["data"]["releases"]] == [bad.pk, ok.pk]
    assert releases["data"]["by_status"] == {"deployed": 1, "failed": 1}
    assert releases["data"]["releases"][0]["link"] == f"/releases/{bad.pk}"
    builds = tiles["builds"]
    assert builds["attention"] == 2
    assert builds["data"]["failed"] == 1
    assert builds["data"]["runs"][0]["id"] == failed.pk
    assert builds["link"] == f"/builds?workspace={w.team.pk}&status=failed"


@pytest.mark.django_db
def test_cost_tile_is_the_metering_report_by_workspace() -> None:
    from dashboards.tiles import Context
    from dashboards.tiles.monitoring import cost_tile
    from monitoring.tests import metering_seed as seed

    f = seed.fleet()
    seed.prices(f)
    seed.october(f)
    admin = make_user(unique("adm"), role="admin")
    tile = cost_tile(Context(user=admin, now=seed.at(31, 23)))
    data = tile.data
    assert data["month"] == "2026-10"
    assert data["total"] == seed.TOTALS["costs"]
    named = [(r["workspace"] or {}).get("name") for r in data["workspaces"]]
    assert named[:2] == ["blog", "shop"]  # KRW 480 before KRW 290 (+ USD 0.24, never added to won)
    shop = next(r for r in data["workspaces"] if (r["workspace"] or {}).get("name") == "shop")
    assert shop["costs"] == seed.WORKSPACES["shop"]["costs"]
    assert shop["link"] == f"/monitoring/metering?group=workspace&workspace={f.shop.pk}"
    assert tile.link == "/monitoring/metering?group=workspace"

"""Markers of a chart: catalog revisions (deploys and rollbacks), object actions asked through the
portal (scale …) and alerts of the same scope, inside the chart's range and not outside, through
the chart API and :func:`monitoring.markers.for_chart`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog.models import CatalogSource, Package, PackageVersion, Release, Revision
from clusters.models import ObjectAction
from monitoring import markers
from monitoring.models import Alert
from monitoring.tests.chart_helpers import World, aligned_now, api_for, make_world
from workspaces.models import ServiceMap

pytestmark = pytest.mark.django_db

URL = "/api/monitoring/charts/"


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def t0() -> datetime:
    return aligned_now(60) - timedelta(hours=1)


def release(sm: ServiceMap, name: str = "web") -> tuple[Release, PackageVersion]:
    source, _ = CatalogSource.objects.get_or_create(name="charts", kind="upload", workspace=None)
    package, _ = Package.objects.get_or_create(source=source, name=name)
    version, _ = PackageVersion.objects.get_or_create(package=package, version="1.2.0")
    return Release.objects.create(workspace=sm.workspace, service_map=sm, name=name, package_version=version), version


def revision(rel: Release, version: PackageVersion, number: int, at: datetime, user: Any = None,
             **fields: Any) -> Revision:
    return Revision.objects.create(release=rel, number=number, package_version=version, created=at,
                                   created_by=user, status="succeeded",
                                   resources=[{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                                              {"apiVersion": "v1", "kind": "Service", "name": "web"}], **fields)


def scale(world: World, at: datetime, *, namespace: str, name: str = "web", status: str = "succeeded") -> ObjectAction:
    return ObjectAction.objects.create(cluster=world.a, group="apps", version="v1", plural="deployments",
                                       kind="Deployment", namespace=namespace, name=name, action="scale",
                                       params={"replicas": 3}, status=status, requested_username="dev-1", created=at)


def alert(world: World, at: datetime, resolved: datetime | None = None) -> Alert:
    return Alert.objects.create(fingerprint="f" * 64, state="resolved" if resolved else "firing", severity="critical",
                                cluster=world.a, workspace=world.workspace, service_map=world.shop,
                                namespace=world.shop.namespace, subject_kind="Deployment", subject_name="web",
                                started_at=at, fired_at=at, last_seen_at=at, resolved_at=resolved)


def chart_markers(client: APIClient, t0: datetime, **params: Any) -> list[dict[str, Any]]:
    start = int(t0.timestamp())
    response = client.get(URL, {"start": start, "end": start + 3600, "step": "60", **params})
    assert response.status_code == 200, response.json()
    return response.json()["markers"]


def test_a_deploy_shows_within_range_and_not_outside(world: World, t0: datetime) -> None:
    rel, version = release(world.shop)
    revision(rel, version, 1, t0 - timedelta(minutes=5), world.developer)  # before the range
    revision(rel, version, 2, t0 + timedelta(minutes=10), world.developer)
    revision(rel, version, 3, t0 + timedelta(minutes=20), world.developer, action="rollback", rollback_of=1)
    revision(rel, version, 4, t0 + timedelta(minutes=70), world.developer)  # after it
    found = chart_markers(api_for(world.developer), t0, level="servicemap", service_map=world.shop.pk)
    assert [(m["kind"], m["params"]["revision"]) for m in found] == [("deploy", 2), ("rollback", 3)]
    deploy = found[0]
    assert deploy["at"] == int((t0 + timedelta(minutes=10)).timestamp())
    assert deploy["actor"] == world.developer.username
    assert deploy["link"] == f"/releases/{rel.pk}"
    assert deploy["severity"] == "info"
    assert deploy["title"] == "Install of web: revision 2 (web 1.2.0)"

    ns = world.shop.namespace
    # the workload the revision names, and a pod of it (placed by its series' owner), have it too
    workload = chart_markers(api_for(world.developer), t0, level="workload", cluster=world.a.pk, namespace=ns,
                             workload_kind="Deployment", workload_name="web")
    assert [m["kind"] for m in workload] == ["deploy", "rollback"]
    pod = chart_markers(api_for(world.developer), t0, level="pod", cluster=world.a.pk, namespace=ns, pod="web-1")
    assert [m["kind"] for m in pod] == ["deploy", "rollback"]
    # a workload the revision does not name, another workspace's service map, a node: none
    assert chart_markers(api_for(world.developer), t0, level="workload", cluster=world.a.pk, namespace=ns,
                         workload_kind="StatefulSet", workload_name="api") == []
    assert chart_markers(api_for(world.outsider), t0, level="servicemap", service_map=world.other.pk) == []
    # the workspace's chart and the cluster's (for an admin) have it
    assert len(chart_markers(api_for(world.developer), t0, level="workspace", workspace=world.workspace.pk)) == 2


def test_scale_and_alerts_are_markers(admin_api: APIClient, world: World, t0: datetime) -> None:
    ns = world.shop.namespace
    scale(world, t0 + timedelta(minutes=5), namespace=ns)
    scale(world, t0 + timedelta(minutes=6), namespace=ns, status="failed")  # changed nothing
    scale(world, t0 + timedelta(minutes=7), namespace=world.other.namespace, name="batch")
    alert(world, t0 + timedelta(minutes=30), resolved=t0 + timedelta(minutes=45))

    workload = chart_markers(api_for(world.developer), t0, level="workload", cluster=world.a.pk, namespace=ns,
                             workload_kind="Deployment", workload_name="web")
    assert [(m["kind"], m.get("params", {}).get("event")) for m in workload] == [
        ("scale", None), ("alert", "fired"), ("alert", "resolved")]
    scaled = workload[0]
    assert scaled["actor"] == "dev-1"
    assert scaled["title"] == f"Scale Deployment {ns}/web to 3 replicas"
    assert scaled["link"] == f"/clusters/{world.a.pk}/objects/apps/v1/deployments/web?namespace={ns}"
    assert workload[1]["severity"] == "critical"
    assert workload[1]["link"].startswith("/alerts/")

    sm = chart_markers(api_for(world.developer), t0, level="servicemap", service_map=world.shop.pk)
    assert [m["kind"] for m in sm] == ["scale", "alert", "alert"]
    other = chart_markers(api_for(world.outsider), t0, level="servicemap", service_map=world.other.pk)
    assert [m["kind"] for m in other] == ["scale"]  # their own batch job only

    cluster = chart_markers(admin_api, t0, level="cluster", cluster=world.a.pk)
    assert [m["kind"] for m in cluster] == ["scale", "scale", "alert", "alert"]
    assert chart_markers(admin_api, t0, level="cluster", cluster=world.b.pk) == []
    assert chart_markers(admin_api, t0, level="node", cluster=world.a.pk, node="node-1") == []


def test_markers_are_capped_to_the_newest(world: World, t0: datetime) -> None:
    for i in range(30):
        scale(world, t0 + timedelta(seconds=10 * i), namespace=world.shop.namespace)
    found = markers.for_chart(level="cluster", start=t0, end=t0 + timedelta(hours=1), cluster_id=world.a.pk, limit=10)
    assert len(found) == 10
    assert found[0]["at"] == int((t0 + timedelta(seconds=200)).timestamp())
    assert [m["at"] for m in found] == sorted(m["at"] for m in found)

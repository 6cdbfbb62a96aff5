"""Deploy strategies against real sandbox clusters: rolling parameters and recreate land on the
Deployments; blue/green brings the new color up beside the old one, switches the Service on
promote, deletes the old color on confirm, and goes back to it on abort; a canary runs beside the
main Deployment behind the same Service until it is promoted or aborted; the old/new/canary view
of pods; a bad strategy is a 400 naming the field.

Reuses :class:`~catalog.tests.test_deploy.Driver` (the Celery tasks run in this process) and the
test chart of ``test_deploy``. The read model is filled from the sandbox with the watcher's own
projection, as the watcher would.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog import releases, strategies
from catalog.models import Release, Revision
from catalog.tests.helpers import Driver
from catalog.tests.helpers import release_state as _state
from catalog.tests.helpers import setup_service_maps as _setup
from clusters.kube.errors import NotFound
from clusters.models import KubeObject
from clusters.tests.helpers import client_for
from clusters.watcher.projection import project
from portal.errors import Conflict
from portal.models import AuditRecord
from portal.testing import make_user
from workspaces.models import Membership, Role, ServiceMap

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def driver(monkeypatch: pytest.MonkeyPatch) -> Driver:
    return Driver(monkeypatch)


def _api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _post(api: APIClient, release: Release, what: str) -> Release:
    response = api.post(f"/api/catalog/releases/{release.pk}/{what}/", {}, format="json")
    assert response.status_code == 202, response.content
    return Release.objects.get(pk=release.pk)


def _deployment(sandbox: Any, sm: ServiceMap, name: str) -> dict[str, Any]:
    with client_for(sandbox, "cluster-1") as kube:
        return kube.get_object("Deployment", name, sm.namespace)


def _gone(sandbox: Any, sm: ServiceMap, name: str) -> bool:
    try:
        _deployment(sandbox, sm, name)
    except NotFound:
        return True
    return False


def _selector(sandbox: Any, sm: ServiceMap) -> dict[str, str]:
    with client_for(sandbox, "cluster-1") as kube:
        return dict(kube.get_object("Service", "shop-web", sm.namespace)["spec"]["selector"])


def _image(deployment: dict[str, Any]) -> str:
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def _sync_read_model(sandbox: Any, sm: ServiceMap) -> None:
    """What the watcher would write: the namespace's pods and ReplicaSets, projected."""
    with client_for(sandbox, "cluster-1") as kube:
        for kind in ("Pod", "ReplicaSet"):
            KubeObject.objects.filter(cluster_id=sm.cluster_id, kind=kind, namespace=sm.namespace).delete()
            for obj in kube.list_objects(kind, sm.namespace):
                if (obj.get("metadata") or {}).get("deletionTimestamp"):
                    continue
                KubeObject.objects.create(cluster_id=sm.cluster_id, **project(kind, obj))


def _pods(api: APIClient, release: Release) -> dict[str, list[str]]:
    response = api.get(f"/api/catalog/releases/{release.pk}/pods/")
    assert response.status_code == 200, response.content
    body = response.json()
    return {group: sorted(p["name"] for p in body[group]) for group in ("old", "new", "canary")}


def test_rolling_parameters_and_recreate(admin_api: APIClient, sandbox: Any, driver: Driver) -> None:
    _workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-1",))
    release = releases.create_release(sm=sm, name="shop", version=version, values={},
                                      strategy={"type": "rolling", "max_surge": 1, "max_unavailable": "0%"},
                                      user=developer, request=None)
    assert release.strategy == {"type": "rolling", "max_surge": 1, "max_unavailable": "0%", "canary_replicas": 1}
    driver.run(until=lambda: _state(release) == ("deployed", 1))
    strategy = _deployment(sandbox, sm, "shop-web")["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "0%"}}

    release = releases.upgrade_release(release=release, version=None, values={"image": "nginx:1.28"},
                                       strategy={"type": "recreate"}, user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 2))
    live = _deployment(sandbox, sm, "shop-web")
    assert live["spec"]["strategy"]["type"] == "Recreate"
    assert "rollingUpdate" not in live["spec"]["strategy"]
    assert _image(live) == "nginx:1.28"
    assert release.strategy_state == {"type": "recreate", "phase": "stable"}
    # Nothing to promote in a rolling or recreate release.
    with pytest.raises(Conflict, match="nothing to promote"):
        releases.promote_release(release=release, user=developer, request=None)


def test_blue_green_upgrade_promote_confirm_and_abort(admin_api: APIClient, sandbox: Any, driver: Driver) -> None:
    _workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-1",))
    api = _api(developer)
    release = releases.create_release(sm=sm, name="shop", version=version, values={"replicas": 2},
                                      strategy={"type": "bluegreen"}, user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 1))
    assert release.strategy_state == {"type": "bluegreen", "phase": "stable", "active": "blue"}
    blue = _deployment(sandbox, sm, "shop-web-blue")
    assert blue["spec"]["template"]["metadata"]["labels"][strategies.COLOR_LABEL] == "blue"
    assert _gone(sandbox, sm, "shop-web")
    assert _selector(sandbox, sm) == {"app": "shop-web", strategies.COLOR_LABEL: "blue"}

    # Upgrade: green comes up beside blue; the Service still selects blue.
    release = releases.upgrade_release(release=release, version=None, values={"replicas": 2, "image": "nginx:1.28"},
                                       strategy=None, user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 2))
    release.refresh_from_db()
    assert release.strategy_state == {"type": "bluegreen", "phase": "awaiting_promotion", "active": "blue",
                                      "preview": "green", "from_revision": 1, "keep": ["Deployment/shop-web-blue"]}
    assert _image(_deployment(sandbox, sm, "shop-web-green")) == "nginx:1.28"
    assert _image(_deployment(sandbox, sm, "shop-web-blue")) == "nginx:1.27"
    assert _selector(sandbox, sm)[strategies.COLOR_LABEL] == "blue"
    row = api.get(f"/api/catalog/releases/{release.pk}/").json()
    assert row["strategy_state"]["phase"] == "awaiting_promotion"
    with pytest.raises(Conflict, match="promote, confirm or abort"):
        releases.upgrade_release(release=release, version=None, values={"replicas": 1}, strategy=None,
                                 user=developer, request=None)

    # The live view: blue's pods are old, green's new.
    _sync_read_model(sandbox, sm)
    pods = _pods(api, release)
    assert len(pods["old"]) == 2
    assert all(p.startswith("shop-web-blue-") for p in pods["old"])
    assert len(pods["new"]) == 2
    assert all(p.startswith("shop-web-green-") for p in pods["new"])
    assert pods["canary"] == []

    # Promote: the Service switches to green; blue is kept for an instant rollback.
    release = _post(api, release, "promote")
    assert release.strategy_state["phase"] == "awaiting_confirmation"
    driver.run(until=lambda: _state(release) == ("deployed", 3))
    assert _selector(sandbox, sm)[strategies.COLOR_LABEL] == "green"
    assert not _gone(sandbox, sm, "shop-web-blue")
    assert Revision.objects.get(release=release, number=3).action == "promote"

    # Confirm: blue is deleted.
    release = _post(api, release, "confirm")
    driver.run(until=lambda: _state(release) == ("deployed", 4))
    assert _gone(sandbox, sm, "shop-web-blue")
    assert _selector(sandbox, sm)[strategies.COLOR_LABEL] == "green"
    release.refresh_from_db()
    assert release.strategy_state == {"type": "bluegreen", "phase": "stable", "active": "green"}

    # Another upgrade brings up blue; abort deletes it and green keeps serving.
    release = releases.upgrade_release(release=release, version=None, values={"replicas": 2, "image": "nginx:1.29"},
                                       strategy=None, user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 5))
    release.refresh_from_db()
    assert (release.strategy_state["active"], release.strategy_state["preview"]) == ("green", "blue")
    assert _image(_deployment(sandbox, sm, "shop-web-blue")) == "nginx:1.29"
    release = _post(api, release, "abort")
    driver.run(until=lambda: _state(release) == ("deployed", 6))
    assert _gone(sandbox, sm, "shop-web-blue")
    assert _image(_deployment(sandbox, sm, "shop-web-green")) == "nginx:1.28"
    assert _selector(sandbox, sm)[strategies.COLOR_LABEL] == "green"
    release.refresh_from_db()
    assert release.values == {"replicas": 2, "image": "nginx:1.28"}
    assert release.strategy_state == {"type": "bluegreen", "phase": "stable", "active": "green"}
    sixth = Revision.objects.get(release=release, number=6)
    assert (sixth.action, sixth.rollback_of) == ("abort", 4)
    assert set(AuditRecord.objects.filter(action__in=["release.promote", "release.confirm", "release.abort"])
               .values_list("action", flat=True)) == {"release.promote", "release.confirm", "release.abort"}
    assert api.post(f"/api/catalog/releases/{release.pk}/confirm/", {}, format="json").status_code == 409


def test_blue_green_abort_after_promote_switches_back(admin_api: APIClient, sandbox: Any, driver: Driver) -> None:
    _workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-1",))
    release = releases.create_release(sm=sm, name="shop", version=version, values={},
                                      strategy={"type": "bluegreen"}, user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 1))
    release = releases.upgrade_release(release=release, version=None, values={"message": "v2"}, strategy=None,
                                       user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 2))
    release = releases.promote_release(release=release, user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 3))
    assert _selector(sandbox, sm)[strategies.COLOR_LABEL] == "green"
    release = releases.abort_release(release=release, user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 4))
    assert _selector(sandbox, sm)[strategies.COLOR_LABEL] == "blue"
    assert _gone(sandbox, sm, "shop-web-green")
    with client_for(sandbox, "cluster-1") as kube:
        assert kube.get_object("ConfigMap", "shop-config", sm.namespace)["data"]["message"] == "hello"
    release.refresh_from_db()
    assert release.strategy_state == {"type": "bluegreen", "phase": "stable", "active": "blue"}


def test_canary_promote_and_abort(admin_api: APIClient, sandbox: Any, driver: Driver) -> None:
    _workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-1",))
    api = _api(developer)
    release = releases.create_release(sm=sm, name="shop", version=version, values={"replicas": 2},
                                      strategy={"type": "canary", "canary_replicas": 1}, user=developer,
                                      request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 1))
    assert release.strategy_state == {"type": "canary", "phase": "stable"}
    assert _gone(sandbox, sm, "shop-web-canary")

    # Upgrade: a canary with the new template and 1 replica behind the same Service.
    release = releases.upgrade_release(release=release, version=None, values={"replicas": 2, "image": "nginx:1.28"},
                                       strategy=None, user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 2))
    release.refresh_from_db()
    assert release.strategy_state == {"type": "canary", "phase": "awaiting_promotion",
                                      "canary": ["Deployment/shop-web-canary"], "from_revision": 1}
    canary = _deployment(sandbox, sm, "shop-web-canary")
    assert canary["spec"]["replicas"] == 1
    assert _image(canary) == "nginx:1.28"
    assert canary["spec"]["template"]["metadata"]["labels"]["app"] == "shop-web"
    main = _deployment(sandbox, sm, "shop-web")
    assert main["spec"]["replicas"] == 2
    assert _image(main) == "nginx:1.27"
    assert _selector(sandbox, sm) == {"app": "shop-web"}
    _sync_read_model(sandbox, sm)
    pods = _pods(api, release)
    assert len(pods["canary"]) == 1
    assert pods["canary"][0].startswith("shop-web-canary-")
    assert len(pods["old"]) == 2
    assert pods["new"] == []

    # Promote: the main Deployment gets the new template; the canary goes.
    release = _post(api, release, "promote")
    driver.run(until=lambda: _state(release) == ("deployed", 3))
    main = _deployment(sandbox, sm, "shop-web")
    assert _image(main) == "nginx:1.28"
    assert main["spec"]["replicas"] == 2
    assert strategies.TRACK_LABEL not in main["spec"]["template"]["metadata"]["labels"]
    assert _gone(sandbox, sm, "shop-web-canary")
    release.refresh_from_db()
    assert release.strategy_state == {"type": "canary", "phase": "stable"}
    _sync_read_model(sandbox, sm)
    pods = _pods(api, release)
    assert len(pods["new"]) == 2
    assert pods["canary"] == []

    # Another canary, aborted: it is deleted and the main Deployment keeps 1.28.
    release = releases.upgrade_release(release=release, version=None, values={"replicas": 2, "image": "nginx:1.29"},
                                       strategy=None, user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 4))
    assert _image(_deployment(sandbox, sm, "shop-web-canary")) == "nginx:1.29"
    release = _post(api, release, "abort")
    driver.run(until=lambda: _state(release) == ("deployed", 5))
    assert _gone(sandbox, sm, "shop-web-canary")
    assert _image(_deployment(sandbox, sm, "shop-web")) == "nginx:1.28"
    release.refresh_from_db()
    assert release.values["image"] == "nginx:1.28"
    assert api.post(f"/api/catalog/releases/{release.pk}/abort/", {}, format="json").status_code == 409


def test_bad_strategy_is_a_400_naming_the_field(admin_api: APIClient, sandbox: Any, driver: Driver) -> None:
    workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-1",))
    api = _api(developer)
    body = {"service_map": sm.pk, "name": "shop", "package_version": version.pk, "values": {}}
    for strategy, field in (({"type": "magic"}, "strategy.type"), ({"max_surge": "lots"}, "strategy.max_surge"),
                            ({"type": "canary", "canary_replicas": 0}, "strategy.canary_replicas"),
                            ({"max_surge": 0, "max_unavailable": 0}, "strategy.max_unavailable"),
                            ({"colour": "blue"}, "strategy.colour"), ("rolling", "strategy")):
        response = api.post("/api/catalog/releases/", {**body, "strategy": strategy}, format="json")
        assert response.status_code == 400, (strategy, response.content)
        assert field in response.json()["errors"], (strategy, response.json())
    assert not Release.objects.exists()
    assert not driver.queue

    release = releases.create_release(sm=sm, name="shop", version=version, values={}, strategy={}, user=developer,
                                      request=None)
    assert release.strategy["type"] == "rolling"
    driver.run(until=lambda: _state(release) == ("deployed", 1))
    response = api.post(f"/api/catalog/releases/{release.pk}/upgrade/", {"strategy": {"type": "canary",
                                                                                       "canary_replicas": "x"}},
                        format="json")
    assert response.status_code == 400
    assert "strategy.canary_replicas" in response.json()["errors"]
    assert Release.objects.get(pk=release.pk).revision == 1
    assert api.post(f"/api/catalog/releases/{release.pk}/promote/", {}, format="json").status_code == 409
    viewer = make_user(f"viewer{release.pk}")
    Membership.objects.create(workspace=workspace, user=viewer, role=Role.objects.get(key="viewer"))
    for action in ("promote", "confirm", "abort"):  # workloads.rollback is needed
        assert _api(viewer).post(f"/api/catalog/releases/{release.pk}/{action}/", {},
                                 format="json").status_code == 403


def test_leaving_blue_green_and_rolling_back_reshape_the_objects(admin_api: APIClient, sandbox: Any,
                                                                 driver: Driver) -> None:
    _workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-1",))
    release = releases.create_release(sm=sm, name="shop", version=version, values={},
                                      strategy={"type": "bluegreen"}, user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 1))
    release = releases.upgrade_release(release=release, version=None, values={"message": "v2"},
                                       strategy={"type": "rolling"}, user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 2))
    assert _gone(sandbox, sm, "shop-web-blue")
    assert _selector(sandbox, sm) == {"app": "shop-web"}
    assert _deployment(sandbox, sm, "shop-web")["spec"]["strategy"]["type"] == "RollingUpdate"

    # Rolling back to the blue/green revision 1 applies its objects in the release's shape now.
    release = releases.rollback_release(release=release, to=1, user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 3))
    assert _gone(sandbox, sm, "shop-web-blue")
    assert _selector(sandbox, sm) == {"app": "shop-web"}
    with client_for(sandbox, "cluster-1") as kube:
        assert kube.get_object("ConfigMap", "shop-config", sm.namespace)["data"]["message"] == "hello"


def test_the_default_strategy_leaves_a_chart_strategy_alone() -> None:
    from catalog import strategies

    chart = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "db"},
              "spec": {"strategy": {"type": "Recreate"}}},
             {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {}}]
    shaped = strategies.plan(chart, strategy={}, state={}, current=None, from_revision=0).objects
    assert shaped[0]["spec"]["strategy"] == {"type": "Recreate"}
    assert shaped[1]["spec"]["strategy"]["type"] == "RollingUpdate"
    chosen = strategies.plan(chart, strategy={"type": "rolling", "max_surge": 1}, state={}, current=None,
                             from_revision=0).objects
    assert chosen[0]["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 1

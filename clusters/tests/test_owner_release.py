"""The release that owns an object, as the object views name it (issue 15): a real catalog release
installed into a sandbox cluster labels its objects with its pk, and the edit view, a workload
action's 202 body and the dependents name that release (id, name, service map), through the
resolver the catalog registers (:mod:`clusters.owners`). A label is only a number anyone who may
edit the object can write: one naming no release, a release in another namespace, or one the
caller may not view, is null rather than a guess."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog import releases
from catalog.models import Release
from catalog.tests.helpers import Driver, release_state, setup_service_maps
from clusters import owners
from clusters.models import KubeObject
from clusters.tests.helpers import client_for
from clusters.watcher.projection import project
from portal.testing import make_user, unique
from workspaces.models import Membership, Role, ServiceMap, Workspace

pytestmark = pytest.mark.django_db(transaction=True)

SANDBOX_CLUSTER = "cluster-3"


def api_of(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def object_url(cluster_id: int, path: str, name: str, ns: str, verb: str = "") -> str:
    return f"/api/clusters/{cluster_id}/objects/{path}/{name}/" + (f"{verb}/" if verb else "") + f"?namespace={ns}"


def test_objects_of_a_release_name_it_and_a_label_that_names_no_visible_release_is_null(
        admin_api: APIClient, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    driver = Driver(monkeypatch)
    workspace, (sm,), developer, version = setup_service_maps(admin_api, sandbox, (SANDBOX_CLUSTER,))
    release = releases.create_release(sm=sm, name="shop", version=version, values={}, strategy={}, user=developer,
                                      request=None)
    driver.run(until=lambda: release_state(release) == ("deployed", 1))
    cluster_id, ns = sm.cluster_id, sm.namespace
    owner = {"id": release.pk, "name": "shop", "service_map_id": sm.pk}
    dev = api_of(developer)

    # The edit view of the release's Deployment names the release, as do the dependents (from the
    # read model: the Deployment's row as the watcher writes it).
    with client_for(sandbox, SANDBOX_CLUSTER) as kube:
        row = project("Deployment", kube.get_object("Deployment", "shop-web", ns))
    KubeObject.objects.update_or_create(cluster_id=cluster_id, kind="Deployment", namespace=ns, name="shop-web",
                                        defaults={k: v for k, v in row.items() if k not in ("kind", "namespace",
                                                                                             "name")})
    got = dev.get(object_url(cluster_id, "apps/v1/deployments", "shop-web", ns))
    assert got.status_code == 200, got.json()
    assert got.json()["owner_release"] == owner
    dependents = dev.get(object_url(cluster_id, "apps/v1/deployments", "shop-web", ns, "dependents"))
    assert dependents.status_code == 200, dependents.json()
    assert dependents.json()["owner_release"] == owner
    # A workload action's 202 says the release's next deploy puts the change back.
    scaled = dev.post(object_url(cluster_id, "apps/v1/deployments", "shop-web", ns, "scale"), {"replicas": 1},
                      format="json")
    assert scaled.status_code == 202, scaled.json()
    assert scaled.json()["owner_release"] == owner
    assert "owned_by_release" in scaled.json()["warnings"]
    # A viewer of the workspace sees the release too; an operator as well.
    Role.ensure_builtin()
    viewer = make_user(unique("viewer"))
    Membership.objects.create(workspace=workspace, user=viewer, role=Role.objects.get(key="viewer"))
    operator = make_user(unique("oper"), role="operator")
    for user in (viewer, operator):
        assert api_of(user).get(object_url(cluster_id, "core/v1/configmaps", "shop-config", ns)).json()[
            "owner_release"] == owner

    # Labels that name no release the caller may see here: another team's release on the same
    # cluster (in its own namespace), a release that does not exist, and not a number.
    other = Workspace.objects.create(name=unique("other"))
    other_sm = ServiceMap.objects.create(workspace=other, cluster_id=cluster_id, namespace=unique("other"))
    foreign = Release.objects.create(workspace=other, service_map=other_sm, name="secret-project",
                                     package_version=version)
    labels = {"foreign": str(foreign.pk), "missing": str(foreign.pk + 1000), "junk": "shop"}
    with client_for(sandbox, SANDBOX_CLUSTER) as kube:
        for name, value in labels.items():
            kube.apply({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": name, "namespace": ns, "labels": {owners.RELEASE_LABEL: value}},
                        "data": {"k": "v"}}, field_manager="kubectl")
    for user in (developer, operator):  # the operator may view the foreign release, but it is not this namespace's
        for name in labels:
            body = api_of(user).get(object_url(cluster_id, "core/v1/configmaps", name, ns)).json()
            assert body["owner_release"] is None, (user.username, name, body)
            assert "secret-project" not in str(body)
    # Resolved from the database each time: a release deleted since leaves its objects unowned.
    Release.objects.filter(pk=release.pk).delete()
    assert dev.get(object_url(cluster_id, "apps/v1/deployments", "shop-web", ns)).json()["owner_release"] is None

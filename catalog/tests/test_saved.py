"""A running service map saved as a package (images and replicas as parameters, secrets by
reference) and deployed again into another service map on another cluster."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from rest_framework.test import APIClient

from catalog import helm, releases
from catalog.models import PackageVersion, Release
from catalog.tests.helpers import Driver
from catalog.tests.helpers import release_state as _state
from catalog.tests.helpers import setup_service_maps as _setup
from clusters.tests.helpers import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_save_a_service_map_and_deploy_it_elsewhere(admin_api: APIClient, sandbox: Any, driver: Driver) -> None:
    _workspace, (one, two), developer, version = _setup(admin_api, sandbox, ("cluster-1", "cluster-2"))
    release = releases.create_release(sm=one, name="shop", version=version, values={"replicas": 2}, strategy={},
                                      user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 1))
    with client_for(sandbox, "cluster-1") as kube:  # something added by hand, using a secret
        kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": one.namespace},
                    "data": {"password": "czNjcmV0"}}, field_manager="test")
        kube.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "worker", "namespace":
                    one.namespace}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "worker"}},
                    "template": {"metadata": {"labels": {"app": "worker"}}, "spec": {"containers": [{
                        "name": "w", "image": "busybox:1.36", "resources": {"requests": {"cpu": "10m",
                                                                                         "memory": "16Mi"}},
                        "envFrom": [{"secretRef": {"name": "db"}}]}]}}}}, field_manager="test")

    client = APIClient()
    client.force_authenticate(developer)
    saved = client.post(f"/api/catalog/servicemaps/{one.pk}/package/", {"name": "shop-snapshot", "version": "1.0.0"},
                        format="json")
    assert saved.status_code == 201, saved.content
    again = client.post(f"/api/catalog/servicemaps/{one.pk}/package/", {"name": "shop-snapshot", "version": "1.0.0"},
                        format="json")
    assert again.status_code == 409
    snapshot = PackageVersion.objects.get(pk=saved.json()["version"])
    info = helm.inspect(bytes(snapshot.archive or b""))
    values = yaml.safe_load(info.values_yaml)
    assert values["images"]["shop_web"] == {"web": "nginx:1.27"}
    assert values["replicas"] == {"shop_web": 2, "worker": 1}
    assert "db" in info.readme  # the secret is referenced, not copied
    objects = helm.render(bytes(snapshot.archive or b""), {}, release="x", namespace=two.namespace)
    kinds = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects)
    assert kinds == ["ConfigMap/shop-config", "Deployment/shop-web", "Deployment/worker", "Service/shop-web"]
    service = next(o for o in objects if o["kind"] == "Service")
    assert "clusterIP" not in service["spec"]
    assert all("portal.cluster-portal.io/release" not in (o["metadata"].get("labels") or {}) for o in objects)

    # Deployed into a service map on another cluster, with a parameter changed.
    with client_for(sandbox, "cluster-2") as kube:
        kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": two.namespace},
                    "data": {"password": "czNjcmV0"}}, field_manager="test")
    copy = releases.create_release(sm=two, name="snapshot", version=snapshot, values={"replicas": {"worker": 2}},
                                   strategy={}, user=developer, request=None)
    driver.run(until=lambda: _state(copy) == ("deployed", 1))
    with client_for(sandbox, "cluster-2") as kube:
        assert kube.get_object("Deployment", "worker", two.namespace)["spec"]["replicas"] == 2
    assert Release.objects.count() == 2

"""The resource browser's main path in a real Chromium: on a sandbox cluster with a CRD, pick the
custom kind in the Resources tab, see its objects with the CRD's printer columns, open one and
read its YAML. The portal asks the sandbox live (custom resources are not in the read model).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from portal.testing import make_user

pytestmark = pytest.mark.browser

CLUSTER = "sandbox-busan"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.shop.example.com"},
    "spec": {"group": "shop.example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "additionalPrinterColumns": [
                               {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                               {"name": "Color", "type": "string", "jsonPath": ".spec.color"}],
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
                               "type": "object", "properties": {"size": {"type": "integer"},
                                                                "color": {"type": "string"}}}}}}}]},
}


@pytest.fixture
def fleet(tmp_path: Any) -> Iterator[Any]:
    from sandbox.testing import running_sandbox

    with running_sandbox(clusters=1, nodes=1, names=[CLUSTER], state_dir=tmp_path / "sandbox",
                         enable_controllers=False) as running:
        yield running


def test_list_a_crds_custom_resources_and_open_one(portal_server: str, fleet: Any, page: Any) -> None:
    from playwright.sync_api import expect

    from clusters.kube.connection import Credentials
    from clusters.models import Cluster
    from sandbox.resources import lookup

    def seed(c: Any) -> None:
        c.store.create(lookup("customresourcedefinitions.apiextensions.k8s.io"), CRD)
        for name, size, color in (("blue-widget", 3, "blue"), ("red-widget", 7, "red")):
            c.store.create(_custom(c), {"apiVersion": "shop.example.com/v1", "kind": "Widget",
                                        "metadata": {"name": name, "namespace": "default"},
                                        "spec": {"size": size, "color": color}})

    fleet.in_cluster(CLUSTER, seed)
    handle = fleet.cluster(CLUSTER)
    cluster = Cluster.objects.create(name=CLUSTER, server=handle.server, ca_pem=handle.ca_path.read_text(),
                                     status="connected")
    cluster.set_credentials(Credentials(token=handle.token))
    cluster.save()
    make_user("dana", role="admin", password="correct-horse-battery")

    page.goto(portal_server + "/")
    page.fill("input[name=username]", "dana")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("dashboard")).to_be_visible()

    page.goto(f"{portal_server}/clusters/{cluster.pk}/nodes")
    page.get_by_test_id("tab-resources").click()
    expect(page.get_by_test_id("resources-pick")).to_be_visible(timeout=15_000)
    page.get_by_test_id("kind-search").fill("widget")
    expect(page.get_by_test_id("kind-group-shop.example.com")).to_be_visible()
    page.get_by_test_id("kind-shop.example.com/v1/widgets").click()

    table = page.get_by_test_id("resources-table")
    expect(table).to_be_visible(timeout=15_000)
    expect(table.locator("thead th")).to_have_text(["Namespace", "Name", "Size", "Color"])
    expect(page.get_by_test_id("resource-row-default-red-widget")).to_contain_text("7")
    expect(page.get_by_test_id("resource-row-default-red-widget")).to_contain_text("red")
    expect(page.get_by_test_id("resource-source")).to_have_attribute("data-source", "live")

    page.get_by_test_id("resource-row-default-blue-widget").click()
    yaml = page.get_by_test_id("resource-yaml")
    expect(yaml).to_contain_text("kind: Widget", timeout=15_000)
    expect(yaml).to_contain_text("color: blue")
    expect(yaml).not_to_contain_text("managedFields")


def _custom(c: Any) -> Any:
    from sandbox.crds import lookup_custom

    found = lookup_custom(c.store, "shop.example.com", "v1", "widgets")
    assert found is not None, "the CRD does not serve widgets"
    return found

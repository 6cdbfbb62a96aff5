"""The generic resource browser against a sandbox cluster: every served kind (a CRD's included),
a CRD's custom resources with their printer columns, ConfigMaps, a Secret's key names only,
paging, selectors, errors with stable codes, and a member seeing only their namespaces."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from clusters.kube.connection import Credentials
from clusters.models import Cluster, KubeObject
from clusters.tests.helpers import kube
from portal.models import User
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

pytestmark = pytest.mark.django_db

SUFFIX = str(int(time.time() * 1000))[-7:]
GROUP = f"rb{SUFFIX}.example.com"
NS = f"rb-mine-{SUFFIX}"
OTHER_NS = f"rb-other-{SUFFIX}"
SECRET_VALUE = "hunter2-super-secret"


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {"group": GROUP, "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "additionalPrinterColumns": [
                               {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                               {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                               {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
                               "type": "object", "properties": {"size": {"type": "integer"},
                                                                "color": {"type": "string"}}}}}}}]},
}


@pytest.fixture(scope="module")
def seeded(sandbox_fleet: Any) -> Any:
    """Namespaces, a CRD with three widgets, config maps and a secret on cluster-3."""
    handle = sandbox_fleet.cluster("cluster-3")
    for ns in (NS, OTHER_NS):
        assert kube(handle, "POST", "/api/v1/namespaces", {"metadata": {"name": ns}})[0] == 201
    status, body = kube(handle, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
    assert status == 201, body
    for i, ns in enumerate((NS, NS, OTHER_NS)):
        status, body = kube(handle, "POST", f"/apis/{GROUP}/v1/namespaces/{ns}/widgets", {
            "apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": f"w{i}"},
            "spec": {"size": i + 1, "color": "red"}})
        assert status == 201, body
    for ns in (NS, OTHER_NS):
        for name, labels in (("app-config", {"app": "shop"}), ("other-config", {"app": "blog"})):
            kube(handle, "POST", f"/api/v1/namespaces/{ns}/configmaps",
                 {"metadata": {"name": name, "labels": labels}, "data": {"greeting": "hi"}})
    last_applied = json.dumps({"stringData": {"password": SECRET_VALUE}})
    status, body = kube(handle, "POST", f"/api/v1/namespaces/{NS}/secrets", {
        "metadata": {"name": "db", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied}},
        "type": "Opaque", "stringData": {"password": SECRET_VALUE, "user": "shop"}})
    assert status == 201, body
    return handle


@pytest.fixture
def cluster(seeded: Any) -> Cluster:
    c = Cluster.objects.create(name=f"rb-{SUFFIX}", server=seeded.server, ca_pem=seeded.ca_path.read_text(),
                               status="connected")
    c.set_credentials(Credentials(token=seeded.token))
    c.save()
    return c


def client_for(user: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.fixture
def member(cluster: Cluster) -> User:
    """A developer of a workspace whose only service map on the cluster is NS."""
    user = User.objects.create_user(username=f"rb-dev-{SUFFIX}", password=None, email="dev@example.com")
    workspace = Workspace.objects.create(name=f"rb-ws-{SUFFIX}")
    Membership.objects.create(workspace=workspace, user=user, role=Role.objects.get(key="developer"))
    ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, quota={"pods": "10"}, status="ready")
    ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=NS, quota={"pods": "10"},
                              status="ready")
    return user


def test_kinds_include_builtin_and_custom_with_their_source(admin_user: User, cluster: Cluster) -> None:
    response = client_for(admin_user).get(f"/api/clusters/{cluster.pk}/resources/")
    assert response.status_code == 200, response.json()
    assert response.json()["discovery_error"] is None
    kinds = {(r["group"], r["plural"]): r for r in response.json()["resources"]}
    assert kinds[(GROUP, "widgets")]["kind"] == "Widget"
    assert kinds[(GROUP, "widgets")]["namespaced"] is True
    assert kinds[(GROUP, "widgets")]["source"] == "live"
    assert kinds[("", "configmaps")]["source"] == "live"
    assert kinds[("", "pods")]["source"] == "read_model"
    assert kinds[("", "nodes")]["namespaced"] is False
    assert ("", "pods/status") not in kinds, "subresources are not kinds"


def test_aggregated_and_legacy_discovery_agree(seeded: Any) -> None:
    """The one-request (aggregated) and the per-group (legacy, older clusters) paths find the same kinds."""
    from clusters.kube.client import KubeClient
    from clusters.kube.connection import ConnectionSpec
    from clusters.kube.discovery import served_resources

    spec = ConnectionSpec(server=seeded.server, credentials=Credentials(token=seeded.token),
                          ca_pem=seeded.ca_path.read_text())
    with KubeClient(spec) as client:
        aggregated = served_resources(client, timeout=5, aggregated=True)
        legacy = served_resources(client, timeout=5, aggregated=False)
    assert sorted(aggregated, key=repr) == sorted(legacy, key=repr)
    widgets = next(r for r in legacy if r.plural == "widgets")
    assert (widgets.group, widgets.version, widgets.kind, widgets.namespaced) == (GROUP, "v1", "Widget", True)


def test_custom_resources_with_printer_columns_and_paging(admin_user: User, cluster: Cluster) -> None:
    api = client_for(admin_user)
    base = f"/api/clusters/{cluster.pk}/resources/{GROUP}/v1/widgets/"
    response = api.get(base, {"namespace": NS})
    assert response.status_code == 200, response.json()
    page = response.json()
    assert page["source"] == "live"
    assert page["freshness"] is None
    assert [c["name"] for c in page["columns"]] == ["Name", "Size", "Color", "Age"]
    assert [(r["name"], r["namespace"], r["cells"][1:3]) for r in page["rows"]] == [
        ("w0", NS, [1, "red"]), ("w1", NS, [2, "red"])]
    everywhere = api.get(base).json()
    assert {r["namespace"] for r in everywhere["rows"]} == {NS, OTHER_NS}
    first = api.get(base, {"limit": 2}).json()
    assert len(first["rows"]) == 2
    assert first["continue"]
    second = api.get(base, {"limit": 2, "continue": first["continue"]}).json()
    assert [r["name"] for r in second["rows"]] == ["w2"]
    assert second["continue"] == ""
    detail = api.get(f"{base}w1/", {"namespace": NS})
    assert detail.status_code == 200, detail.json()
    obj = detail.json()["object"]
    assert obj["spec"] == {"size": 2, "color": "red"}
    assert "managedFields" not in obj["metadata"]
    assert detail.json()["secret_keys"] is None


def test_configmaps_with_selectors(admin_user: User, cluster: Cluster) -> None:
    api = client_for(admin_user)
    base = f"/api/clusters/{cluster.pk}/resources/core/v1/configmaps/"
    page = api.get(base, {"namespace": NS, "labelSelector": "app=shop"}).json()
    assert [c["name"] for c in page["columns"]] == ["Name", "Data", "Age"]
    assert [(r["name"], r["cells"][1]) for r in page["rows"]] == [("app-config", 1)]
    by_field = api.get(base, {"namespace": NS, "fieldSelector": "metadata.name=other-config"}).json()
    assert [r["name"] for r in by_field["rows"]] == ["other-config"]


def test_secret_shows_key_names_never_values(admin_user: User, cluster: Cluster) -> None:
    api = client_for(admin_user)
    base = f"/api/clusters/{cluster.pk}/resources/core/v1/secrets/"
    listed = api.get(base, {"namespace": NS})
    assert listed.status_code == 200
    assert [r["name"] for r in listed.json()["rows"]] == ["db"]
    detail = api.get(f"{base}db/", {"namespace": NS})
    assert detail.status_code == 200
    assert detail.json()["secret_keys"] == ["password", "user"]
    assert "data" not in detail.json()["object"]
    for body in (listed.content, detail.content):
        assert SECRET_VALUE.encode() not in body
        assert b"aHVudGVy" not in body  # base64 of the value's start
        assert b"last-applied-configuration" not in body


def test_bad_input_has_stable_codes(admin_user: User, cluster: Cluster) -> None:
    api = client_for(admin_user)
    root = f"/api/clusters/{cluster.pk}/resources"
    cases = [
        (f"{root}/core/v1/gadgets/", {}, 404, "unknown_resource"),
        (f"{root}/{GROUP}/v9/widgets/", {}, 404, "unknown_resource"),
        (f"{root}/core/v1/configmaps/", {"labelSelector": "app in (a"}, 400, "invalid_label_selector"),
        (f"{root}/core/v1/configmaps/", {"fieldSelector": "nonsense"}, 400, "invalid_field_selector"),
        (f"{root}/core/v1/configmaps/", {"fieldSelector": "spec.nope=1"}, 400, "rejected_by_cluster"),
        (f"{root}/core/v1/configmaps/", {"limit": "0"}, 400, "invalid_limit"),
        (f"{root}/core/v1/pods/", {"fieldSelector": "spec.nope=1"}, 400, "invalid_field_selector"),
        (f"{root}/core/v1/pods/", {"continue": "!!"}, 400, "invalid_continue"),
        (f"{root}/core/v1/configmaps/nope/", {"namespace": NS}, 404, "object_not_found"),
        (f"{root}/core/v1/configmaps/app-config/", {}, 400, "namespace_required"),
    ]
    for path, query, status, code in cases:
        response = api.get(path, query)
        assert (response.status_code, response.json().get("code")) == (status, code), (path, query, response.json())


def test_read_model_kinds_come_from_the_read_model(admin_user: User, member: User, cluster: Cluster) -> None:
    for ns in (NS, OTHER_NS):
        KubeObject.objects.create(cluster=cluster, kind="Pod", namespace=ns, name=f"pod-{ns}", uid=f"u-{ns}",
                                  resource_version="1", phase="Running", created=timezone.now(),
                                  labels={"app": "shop"})
    Cluster.objects.filter(pk=cluster.pk).update(server="https://127.0.0.1:9")  # the cluster is not asked
    cluster.refresh_from_db()
    path = f"/api/clusters/{cluster.pk}/resources/core/v1/pods/"
    page = client_for(admin_user).get(path, {"labelSelector": "app=shop"}).json()
    assert page["source"] == "read_model"
    assert page["freshness"]["state"] in ("syncing", "unreachable", "stale")  # no watcher ran: never "fresh"
    assert [c["name"] for c in page["columns"]] == ["Name", "Namespace", "Status", "Age"]
    assert [r["name"] for r in page["rows"]] == [f"pod-{NS}", f"pod-{OTHER_NS}"]
    first = client_for(admin_user).get(path, {"limit": 1}).json()
    assert client_for(admin_user).get(path, {"limit": 1, "continue": first["continue"]}).json()["rows"][0][
        "name"] == f"pod-{OTHER_NS}"
    mine = client_for(member).get(path).json()
    assert [r["name"] for r in mine["rows"]] == [f"pod-{NS}"]
    unreachable = client_for(admin_user).get(f"/api/clusters/{cluster.pk}/resources/core/v1/configmaps/")
    assert unreachable.status_code == 503
    assert unreachable.json()["code"] == "cluster_unreachable"
    assert unreachable.json()["params"]["reason"] == "connection_refused"
    kinds = client_for(admin_user).get(f"/api/clusters/{cluster.pk}/resources/").json()
    assert kinds["discovery_error"]["code"] == "cluster_unreachable"
    assert kinds["discovery_error"]["status"] == 503
    assert {(r["group"], r["plural"], r["source"]) for r in kinds["resources"]} >= {("", "pods", "read_model")}
    assert all(r["source"] == "read_model" for r in kinds["resources"])


def test_member_sees_only_their_namespaces(member: User, cluster: Cluster) -> None:
    api = client_for(member)
    root = f"/api/clusters/{cluster.pk}/resources"
    kinds = {(r["group"], r["plural"]) for r in api.get(f"{root}/").json()["resources"]}
    assert (GROUP, "widgets") in kinds
    assert ("", "configmaps") in kinds
    assert ("", "namespaces") in kinds
    assert ("", "nodes") not in kinds
    assert ("apiextensions.k8s.io", "customresourcedefinitions") not in kinds
    widgets = api.get(f"{root}/{GROUP}/v1/widgets/")  # their only namespace is chosen for them
    assert widgets.status_code == 200
    assert {r["namespace"] for r in widgets.json()["rows"]} == {NS}
    other = api.get(f"{root}/{GROUP}/v1/widgets/", {"namespace": OTHER_NS})
    assert (other.status_code, other.json()["code"]) == (403, "namespace_forbidden")
    detail = api.get(f"{root}/{GROUP}/v1/widgets/w2/", {"namespace": OTHER_NS})
    assert (detail.status_code, detail.json()["code"]) == (403, "namespace_forbidden")
    crds = api.get(f"{root}/apiextensions.k8s.io/v1/customresourcedefinitions/")
    assert (crds.status_code, crds.json()["code"]) == (403, "cluster_scoped_forbidden")
    assert api.get(f"{root}/core/v1/nodes/").status_code == 403
    assert api.get(f"{root}/{GROUP}/v1/widgets/w0/", {"namespace": NS}).status_code == 200
    stranger = User.objects.create_user(username=f"rb-stranger-{SUFFIX}", password=None, email="s@example.com")
    assert client_for(stranger).get(f"{root}/").status_code == 404
    assert client_for(stranger).get(f"{root}/core/v1/configmaps/").status_code == 404

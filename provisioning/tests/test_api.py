"""The provisioning API's contract without a cluster: who sees and does what, cluster templates
(versions, render, archive, delete), management clusters (mark, unmark), and every bad input of a
create answered with its stable code before anything is written."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from clusters.models import Cluster
from portal.testing import make_user
from provisioning.models import (
    CheckStatus,
    ClusterTemplate,
    ManagementCluster,
    ProvisionedCluster,
    ProvisioningOperation,
)
from provisioning.templates import builtin_templates

pytestmark = pytest.mark.django_db
SANDBOX_FILES = next(b.files for b in builtin_templates() if b.name == "sandbox")


def client(role: str) -> APIClient:
    api = APIClient()
    api.force_authenticate(make_user(f"{role}-prov", role=role))
    return api


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def registered(name: str) -> Cluster:
    return Cluster.objects.create(name=name, server=f"https://{name}.example.test:6443")


def management(name: str = "mgmt", *, ready: bool = True, providers: tuple[str, ...] = ("sandbox",)) -> ManagementCluster:
    return ManagementCluster.objects.create(
        cluster=registered(name), namespace="capi", status=CheckStatus.READY if ready else CheckStatus.ERROR,
        infrastructure_providers=list(providers), control_plane_providers=["kubeadm"],
        message="" if ready else "Cluster API is not installed.")


def sandbox_template() -> ClusterTemplate:
    template = ClusterTemplate.objects.filter(name="sandbox", builtin=True).order_by("-version").first()
    assert template is not None
    return template


def create_body(mc: ManagementCluster, template: ClusterTemplate, **overrides: Any) -> dict[str, Any]:
    return {"name": "new-one", "management": mc.pk, "template": template.pk,
            "parameters": {"controlPlane": {"replicas": 3, "machineSize": "medium"}}, **overrides}


# ---------------------------------------------------------------------------- who sees what


def test_members_see_nothing_and_only_admins_write(admin_api: APIClient) -> None:
    mc = management()
    template = sandbox_template()
    member = client("user")
    assert member.get("/api/provisioning/management-clusters/").json() == []
    assert member.get("/api/provisioning/templates/").json() == []
    assert member.get("/api/provisioning/clusters/").json()["results"] == []
    error(member.get(f"/api/provisioning/templates/{template.pk}/"), 404, "not_found")
    error(member.get(f"/api/provisioning/management-clusters/{mc.pk}/"), 404, "not_found")
    for role in ("operator", "auditor"):
        reader = client(role)
        assert [r["id"] for r in reader.get("/api/provisioning/management-clusters/").json()] == [mc.pk]
        assert reader.get(f"/api/provisioning/templates/{template.pk}/").status_code == 200
        error(reader.post("/api/provisioning/clusters/", create_body(mc, template), format="json"), 403,
              "admin_required")
        error(reader.post("/api/provisioning/templates/", {"name": "x", "provider": "sandbox",
                                                           "files": SANDBOX_FILES}, format="json"), 403,
              "admin_required")
        error(reader.post(f"/api/provisioning/management-clusters/{mc.pk}/check/"), 403, "admin_required")
    error(member.post("/api/provisioning/management-clusters/", {"cluster": mc.cluster_id}, format="json"), 403,
          "admin_required")
    assert not ProvisionedCluster.objects.exists()


# ---------------------------------------------------------------------------- templates


def test_templates_list_detail_and_filters(admin_api: APIClient) -> None:
    rows = admin_api.get("/api/provisioning/templates/").json()
    assert {r["name"] for r in rows if r["builtin"]} == {"sandbox", "docker", "openstack", "aws"}
    assert [r["provider"] for r in admin_api.get("/api/provisioning/templates/?provider=aws").json()] == ["aws"]
    error(admin_api.get("/api/provisioning/templates/?provider=gcp"), 400, "invalid")
    error(admin_api.get("/api/provisioning/templates/?archived=maybe"), 400, "invalid")
    detail = admin_api.get(f"/api/provisioning/templates/{sandbox_template().pk}/").json()
    assert detail["defaults"]["kubernetesVersion"] == "v1.30.4"
    assert detail["schema"]["properties"]["controlPlane"]["properties"]["replicas"]["enum"] == [1, 3, 5]
    assert detail["machine_sizes"] == ["small", "medium", "large", "xlarge"]
    assert "templates/cluster.yaml" in detail["files"]
    assert {f["path"] for f in detail["form"]} >= {"kubernetesVersion", "controlPlane.replicas", "nodePools"}
    assert detail["clusters_count"] == 0


def test_templates_are_versioned_archived_and_deleted_with_guards(admin_api: APIClient) -> None:
    first = admin_api.post("/api/provisioning/templates/", {"name": "team-sandbox", "provider": "sandbox",
                                                            "display_name": "Team", "files": SANDBOX_FILES},
                           format="json")
    assert first.status_code == 201, first.content
    assert (first.json()["version"], first.json()["builtin"]) == (1, False)
    second = admin_api.post(f"/api/provisioning/templates/{first.json()['id']}/versions/",
                            {"files": {**SANDBOX_FILES, "README.md": "v2\n"}, "description": "notes"}, format="json")
    assert second.status_code == 201, second.content
    assert (second.json()["name"], second.json()["version"]) == ("team-sandbox", 2)
    again = admin_api.post("/api/provisioning/templates/", {"name": "team-sandbox", "provider": "sandbox",
                                                            "files": SANDBOX_FILES}, format="json")
    assert again.json()["version"] == 3

    archived = admin_api.patch(f"/api/provisioning/templates/{first.json()['id']}/", {"archived": True}, format="json")
    assert archived.json()["archived"] is True
    current = admin_api.get("/api/provisioning/templates/?archived=false").json()
    assert first.json()["id"] not in [r["id"] for r in current]

    error(admin_api.delete(f"/api/provisioning/templates/{sandbox_template().pk}/"), 409, "template_builtin")
    used = ClusterTemplate.objects.get(pk=second.json()["id"])
    ProvisionedCluster.objects.create(name="made", management=management(), namespace="capi", template=used)
    error(admin_api.delete(f"/api/provisioning/templates/{used.pk}/"), 409, "template_in_use")
    assert admin_api.delete(f"/api/provisioning/templates/{first.json()['id']}/").status_code == 204


BAD_CLUSTER = """apiVersion: cluster.x-k8s.io/v1beta1
kind: Cluster
metadata:
  name: {{ .Release.Name }}
spec: {}
"""


def test_bad_templates_are_refused_before_they_are_stored(admin_api: APIClient) -> None:
    before = ClusterTemplate.objects.count()
    body = error(admin_api.post("/api/provisioning/templates/", {"name": "bad", "provider": "sandbox", "files": {
        "values.yaml": "a: 1\n", "values.schema.json": "{not json", "templates/c.yaml": BAD_CLUSTER}},
        format="json"), 400, "template_invalid")
    assert "files.values.schema.json" in body["errors"]
    body = error(admin_api.post("/api/provisioning/templates/", {"name": "bad", "provider": "sandbox", "files": {
        "values.yaml": "a: 1\n", "values.schema.json": "{}", "templates/c.yaml": BAD_CLUSTER}}, format="json"),
        400, "template_render_failed")
    assert any("controlPlaneRef" in m for m in body["errors"]["template"])
    error(admin_api.post("/api/provisioning/templates/", {"name": "bad", "provider": "sandbox", "files": {
        "values.yaml": "", "values.schema.json": "{}", "templates/c.yaml": "{{ .Values.nope.deeper }}"}},
        format="json"), 400, "template_render_failed")
    error(admin_api.post("/api/provisioning/templates/", {"name": "Bad Name", "provider": "sandbox",
                                                          "files": SANDBOX_FILES}, format="json"), 400, "invalid")
    error(admin_api.post("/api/provisioning/templates/", {"name": "bad", "provider": "gcp",
                                                          "files": SANDBOX_FILES}, format="json"), 400, "invalid_choice")
    error(admin_api.post("/api/provisioning/templates/", {"name": "bad", "provider": "sandbox", "files": SANDBOX_FILES,
                                                          "surprise": 1}, format="json"), 400, "invalid")
    assert ClusterTemplate.objects.count() == before


def test_render_shows_objects_or_the_parameters_at_fault(admin_api: APIClient) -> None:
    url = f"/api/provisioning/templates/{sandbox_template().pk}/render/"
    ok = admin_api.post(url, {"name": "demo", "parameters": {"nodePools": [
        {"name": "a", "machineSize": "large", "replicas": 4}]}}, format="json")
    assert ok.status_code == 200, ok.content
    assert ("MachineDeployment", "demo-a") in {(o["kind"], o["name"]) for o in ok.json()["objects"]}
    assert "kind: KubeadmControlPlane" in ok.json()["manifest"]
    body = error(admin_api.post(url, {"name": "demo", "parameters": {"controlPlane": {"replicas": 4}}},
                                format="json"), 400, "template_parameters_invalid")
    assert "parameters.controlPlane.replicas" in body["errors"]
    error(admin_api.post(url, {"name": "Not_A_Name"}, format="json"), 400, "invalid")
    assert client("auditor").post(url, {"name": "demo"}, format="json").status_code == 200  # reading, not writing


# ---------------------------------------------------------------------------- management clusters


def test_management_clusters_are_marked_once_and_unmarked_when_unused(admin_api: APIClient) -> None:
    cluster = registered("hub")
    response = admin_api.post("/api/provisioning/management-clusters/", {"cluster": cluster.pk}, format="json")
    assert response.status_code == 201, response.content
    row = response.json()
    assert (row["cluster_name"], row["namespace"], row["status"]) == ("hub", "portal-provisioning", "pending")
    assert row["message_code"] == "management_checking"
    error(admin_api.post("/api/provisioning/management-clusters/", {"cluster": cluster.pk}, format="json"), 409,
          "management_cluster_exists")
    error(admin_api.post("/api/provisioning/management-clusters/", {"cluster": 99999}, format="json"), 400,
          "management_cluster_not_registered")
    error(admin_api.post("/api/provisioning/management-clusters/", {"cluster": registered("hub2").pk,
                                                                    "namespace": "Bad_NS"}, format="json"), 400,
          "invalid")
    assert admin_api.post(f"/api/provisioning/management-clusters/{row['id']}/check/").status_code == 202
    assert admin_api.delete(f"/api/provisioning/management-clusters/{row['id']}/").status_code == 204
    assert not ManagementCluster.objects.filter(pk=row["id"]).exists()
    assert Cluster.objects.filter(pk=cluster.pk).exists()  # the cluster stays registered


# ---------------------------------------------------------------------------- create: bad input


def test_every_bad_create_is_refused_with_its_code_before_anything_is_written(admin_api: APIClient) -> None:
    mc, template = management(), sandbox_template()
    url = "/api/provisioning/clusters/"
    body = error(admin_api.post(url, create_body(mc, template, parameters={
        "controlPlane": {"replicas": 2, "machineSize": "medium"}, "nodePools": [{"name": "w", "machineSize": "tiny",
                                                                                 "replicas": 1}]}), format="json"),
        400, "template_parameters_invalid")
    assert set(body["errors"]) == {"parameters.controlPlane.replicas", "parameters.nodePools.0.machineSize"}
    registered("taken")
    body = error(admin_api.post(url, create_body(mc, template, name="taken"), format="json"), 409,
                 "cluster_name_taken")
    assert body["params"] == {"name": "taken"}
    ProvisionedCluster.objects.create(name="in-flight", management=mc, namespace="capi", template=template)
    error(admin_api.post(url, create_body(mc, template, name="in-flight"), format="json"), 409, "cluster_name_taken")
    body = error(admin_api.post(url, create_body(management("hub-down", ready=False), template), format="json"), 409,
                 "management_not_ready")
    assert body["params"]["management"] == "hub-down"
    body = error(admin_api.post(url, create_body(management("hub-aws", providers=("aws",)), template), format="json"),
                 400, "management_provider_missing")
    assert body["params"] == {"provider": "sandbox", "management": "hub-aws"}
    archived = ClusterTemplate.objects.create(name="old", version=1, provider="sandbox", files=SANDBOX_FILES,
                                              archived=True)
    error(admin_api.post(url, create_body(mc, archived), format="json"), 400, "template_archived")
    fussy = ClusterTemplate.objects.create(name="fussy", version=1, provider="sandbox", files={
        **SANDBOX_FILES, "templates/guard.yaml": '{{ if eq .Values.region "nowhere" }}{{ fail "no such region" }}'
                                                 '{{ end }}'})
    body = error(admin_api.post(url, create_body(mc, fussy, parameters={"region": "nowhere"}), format="json"), 400,
                 "template_render_failed")
    assert "no such region" in body["detail"]
    error(admin_api.post(url, create_body(mc, template, name="Not Valid"), format="json"), 400, "invalid")
    error(admin_api.post(url, create_body(mc, template, management=99999), format="json"), 400,
          "management_not_found")
    error(admin_api.post(url, {**create_body(mc, template), "template": 99999}, format="json"), 400,
          "template_not_found")
    error(admin_api.post(url, create_body(mc, template, labels={"bad key!": "x"}), format="json"), 400, "invalid")
    error(admin_api.post(url, create_body(mc, template, stage="qa"), format="json"), 400, "invalid_choice")
    error(admin_api.post(url, create_body(mc, template, surprise=True), format="json"), 400, "invalid")
    error(admin_api.get(f"{url}?phase=exploding"), 400, "invalid")
    error(admin_api.get(f"{url}?management=abc"), 400, "invalid")
    assert set(ProvisionedCluster.objects.values_list("name", flat=True)) == {"in-flight"}
    assert not ProvisioningOperation.objects.exists()


def test_a_create_stores_the_intent_and_its_operation(admin_api: APIClient) -> None:
    mc, template = management(), sandbox_template()
    response = admin_api.post("/api/provisioning/clusters/", create_body(mc, template, stage="prod",
                                                                         labels={"team": "a"}), format="json")
    assert response.status_code == 202, response.content
    row, op = response.json()["provisioned"], response.json()["operation"]
    assert (row["phase"], row["stage"], row["labels"], row["kubernetes_version"]) == ("pending", "prod", {"team": "a"},
                                                                                      "v1.30.4")
    assert (op["kind"], op["status"]) == ("create", "pending")
    pc = ProvisionedCluster.objects.get(pk=row["id"])
    assert "kind: Cluster" in pc.manifest
    assert {o["kind"] for o in pc.applied_objects} >= {"Cluster", "KubeadmControlPlane", "MachineDeployment"}
    detail = admin_api.get(f"/api/provisioning/clusters/{pc.pk}/").json()
    assert [o["id"] for o in detail["operations"]] == [op["id"]]
    assert detail["upgrade_versions"] == ["v1.31.1"]
    # a second create while the first runs: one operation at a time is the writer's rule; the name is taken anyway
    error(admin_api.post("/api/provisioning/clusters/", create_body(mc, template), format="json"), 409,
          "cluster_name_taken")
    assert [r["id"] for r in admin_api.get(f"/api/provisioning/clusters/?management={mc.pk}&phase=pending")
            .json()["results"]] == [pc.pk]
    error(admin_api.delete(f"/api/provisioning/management-clusters/{mc.pk}/"), 409, "management_cluster_in_use")


def test_delete_on_a_provisioned_cluster_is_routed_to_the_lifecycle_mixin(admin_api: APIClient) -> None:
    pc = ProvisionedCluster.objects.create(name="going", management=management(), namespace="capi",
                                           template=sandbox_template(), phase="provisioned")
    error(admin_api.delete(f"/api/provisioning/clusters/{pc.pk}/", {"confirm": "not-it"}, format="json"), 400,
          "confirm_mismatch")
    error(client("operator").delete(f"/api/provisioning/clusters/{pc.pk}/", {"confirm": "going"}, format="json"),
          403, "admin_required")
    error(client("user").delete(f"/api/provisioning/clusters/{pc.pk}/", {"confirm": "going"}, format="json"), 404,
          "provisioned_not_found")

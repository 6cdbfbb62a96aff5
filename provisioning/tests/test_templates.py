"""Cluster templates: every builtin renders valid Cluster API objects through the catalog's Helm
engine, parameters are validated by the template's schema, bad templates are refused before they
are stored, and builtins are synced idempotently (a changed builtin is a new version)."""

from __future__ import annotations

from typing import Any

import pytest

from provisioning import actions, capi, templates
from provisioning.models import ClusterTemplate

BUILTINS = {b.name: b for b in templates.builtin_templates()}
INFRA = {"sandbox": ("SandboxCluster", "SandboxMachineTemplate", capi.INFRASTRUCTURE_API),
         "docker": ("DockerCluster", "DockerMachineTemplate", capi.INFRASTRUCTURE_API),
         "openstack": ("OpenStackCluster", "OpenStackMachineTemplate", capi.INFRASTRUCTURE_API),
         "aws": ("AWSCluster", "AWSMachineTemplate", "infrastructure.cluster.x-k8s.io/v1beta2")}


def render(name: str, parameters: dict[str, Any] | None = None, cluster: str = "demo-1") -> list[dict[str, Any]]:
    b = BUILTINS[name]
    return templates.render(b.files, template_name=b.name, template_version=1, name=cluster, namespace="capi",
                            parameters=parameters or {})


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_the_portal_ships_sandbox_docker_openstack_and_aws_templates() -> None:
    assert {n: b.provider for n, b in BUILTINS.items()} == {
        "sandbox": "sandbox", "docker": "docker", "openstack": "openstack", "aws": "aws"}
    for b in BUILTINS.values():
        assert b.display_name
        assert b.description
        assert {"values.yaml", "values.schema.json"} <= set(b.files)


@pytest.mark.parametrize("name", sorted(INFRA))
def test_each_builtin_renders_valid_cluster_api_objects(name: str) -> None:
    sizes = templates.machine_sizes(BUILTINS[name].files)
    params = {"controlPlane": {"replicas": 3, "machineSize": sizes[0]}, "kubernetesVersion": "v1.31.1",
              "nodePools": [{"name": "a", "machineSize": sizes[-1], "replicas": 2},
                            {"name": "b", "machineSize": sizes[0], "replicas": 0}],
              "podCIDR": "10.244.0.0/16", "serviceCIDR": "10.96.0.0/12"}
    objects = render(name, params)
    cluster_kind, machine_kind, infra_api = INFRA[name]
    for obj in objects:  # every object is the portal's and names the cluster
        assert obj["metadata"]["namespace"] == "capi"
        assert obj["metadata"]["labels"][capi.CLUSTER_NAME_LABEL] == "demo-1"
        assert obj["metadata"]["labels"][capi.MANAGED_BY_LABEL] == "demo-1"
    (cluster,) = by_kind(objects, "Cluster")
    assert cluster["apiVersion"] == capi.CLUSTER_API
    assert cluster["spec"]["clusterNetwork"]["pods"]["cidrBlocks"] == ["10.244.0.0/16"]
    assert cluster["spec"]["clusterNetwork"]["services"]["cidrBlocks"] == ["10.96.0.0/12"]
    assert cluster["spec"]["infrastructureRef"]["kind"] == cluster_kind
    assert cluster["spec"]["infrastructureRef"]["apiVersion"] == infra_api
    (kcp,) = by_kind(objects, "KubeadmControlPlane")
    assert kcp["apiVersion"] == capi.CONTROL_PLANE_API
    assert kcp["spec"]["replicas"] == 3
    assert kcp["spec"]["version"] == "v1.31.1"
    assert kcp["spec"]["machineTemplate"]["infrastructureRef"]["kind"] == machine_kind
    mds = by_kind(objects, "MachineDeployment")
    assert [md["metadata"]["name"] for md in mds] == ["demo-1-a", "demo-1-b"]
    assert [md["spec"]["replicas"] for md in mds] == [2, 0]
    for md in mds:
        assert md["spec"]["clusterName"] == "demo-1"
        assert md["spec"]["template"]["spec"]["version"] == "v1.31.1"
        assert md["spec"]["template"]["spec"]["bootstrap"]["configRef"]["kind"] == "KubeadmConfigTemplate"
        assert md["spec"]["template"]["spec"]["infrastructureRef"]["kind"] == machine_kind
        selector = md["spec"]["selector"]["matchLabels"]
        assert selector.items() <= md["spec"]["template"]["metadata"]["labels"].items()
    assert len(by_kind(objects, machine_kind)) == 3  # control plane + one per pool
    templates.check_objects(objects, name="demo-1", namespace="capi")  # every reference resolves


def test_provider_specific_sizes_and_regions() -> None:
    aws = render("aws", {"region": "eu-west-1", "nodePools": [{"name": "w", "machineSize": "large", "replicas": 1}]})
    assert by_kind(aws, "AWSCluster")[0]["spec"]["region"] == "eu-west-1"
    assert {t["spec"]["template"]["spec"]["instanceType"] for t in by_kind(aws, "AWSMachineTemplate")} == {
        "t3.large", "m5.xlarge"}
    openstack = render("openstack", {"region": "RegionTwo"})
    assert by_kind(openstack, "OpenStackCluster")[0]["spec"]["identityRef"]["region"] == "RegionTwo"
    docker = render("docker")
    assert by_kind(docker, "DockerMachineTemplate")[0]["spec"]["template"]["spec"]["customImage"] == \
        "kindest/node:v1.30.4"
    sandbox = render("sandbox", {"machineLimit": 2, "provisionSeconds": 0.3,
                                 "nodePools": [{"name": "w", "machineSize": "small", "replicas": 1,
                                                "fault": "BootstrapFailure"}]})
    assert by_kind(sandbox, "SandboxCluster")[0]["spec"] == {"machineLimit": 2}
    pool_template = [t for t in by_kind(sandbox, "SandboxMachineTemplate") if t["metadata"]["name"] == "demo-1-w-small"]
    assert pool_template[0]["spec"]["template"]["spec"] == {"size": "small", "provisionSeconds": 0.3,
                                                            "fault": "BootstrapFailure"}


def test_parameters_outside_the_schema_are_refused_field_by_field() -> None:
    with pytest.raises(templates.TemplateError) as caught:
        render("sandbox", {"kubernetesVersion": "v1.99.0", "controlPlane": {"replicas": 2, "machineSize": "small"},
                           "nodePools": [{"name": "Bad_Name", "machineSize": "huge", "replicas": -1}],
                           "podCIDR": "not-a-cidr", "surprise": True})
    exc = caught.value
    assert exc.code == "template_parameters_invalid"
    assert set(exc.errors) >= {"parameters.kubernetesVersion", "parameters.controlPlane.replicas",
                               "parameters.nodePools.0.name", "parameters.nodePools.0.machineSize",
                               "parameters.nodePools.0.replicas", "parameters.podCIDR", "parameters"}
    with pytest.raises(templates.TemplateError) as caught:
        render("sandbox", {"nodePools": []})
    assert caught.value.code == "template_parameters_invalid"
    with pytest.raises(templates.TemplateError) as caught:
        templates.render(BUILTINS["sandbox"].files, template_name="sandbox", template_version=1, name="x", namespace="n",
                         parameters=["not", "an", "object"])  # type: ignore[arg-type]
    assert caught.value.code == "template_parameters_invalid"


def test_versions_and_sizes_come_from_the_schema() -> None:
    files = BUILTINS["sandbox"].files
    assert templates.kubernetes_versions(files) == ["v1.28.13", "v1.29.8", "v1.30.4", "v1.31.1"]
    assert templates.upgrade_versions(files, "v1.29.8") == ["v1.30.4"]  # one minor at most
    assert templates.upgrade_versions(files, "v1.30.4") == ["v1.31.1"]
    assert templates.upgrade_versions(files, "v1.31.1") == []
    assert templates.machine_sizes(files) == ["small", "medium", "large", "xlarge"]
    assert templates.machine_sizes(BUILTINS["docker"].files) == ["standard"]
    form = {f["path"]: f for f in templates.form_of(files)}
    assert form["controlPlane.replicas"]["enum"] == [1, 3, 5]
    assert form["nodePools"]["type"] == "array"


def test_render_pool_gives_one_pools_objects() -> None:
    b = BUILTINS["sandbox"]
    t = ClusterTemplate(name="sandbox", version=1, provider="sandbox", files=b.files)
    objects = templates.render_pool(t, {"kubernetesVersion": "v1.29.8"}, cluster_name="demo-1", namespace="capi",
                                    pool={"name": "gpu", "replicas": 2, "machine_size": "xlarge"})
    assert sorted((o["kind"], o["metadata"]["name"]) for o in objects) == [
        ("KubeadmConfigTemplate", "demo-1-gpu"), ("MachineDeployment", "demo-1-gpu"),
        ("SandboxMachineTemplate", "demo-1-gpu-xlarge")]
    md = by_kind(objects, "MachineDeployment")[0]
    assert md["spec"]["template"]["spec"]["version"] == "v1.29.8"
    assert md["metadata"]["labels"][capi.MANAGED_BY_LABEL] == "demo-1"


BROKEN_CLUSTER = """apiVersion: cluster.x-k8s.io/v1beta1
kind: Cluster
metadata:
  name: {{ .Release.Name }}
spec:
  infrastructureRef:
    apiVersion: infrastructure.cluster.x-k8s.io/v1beta1
    kind: SandboxCluster
    name: nowhere
"""


def test_templates_that_do_not_render_valid_objects_are_refused() -> None:
    files = {"values.yaml": "x: 1\n", "values.schema.json": "{}", "templates/c.yaml": BROKEN_CLUSTER}
    with pytest.raises(templates.TemplateError) as caught:
        templates.render(files, template_name="broken", template_version=1, name="c1", namespace="n", parameters={})
    assert caught.value.code == "template_render_failed"
    text = " ".join(caught.value.errors["template"])
    assert "controlPlaneRef is missing" in text
    assert "SandboxCluster/nowhere" in text
    with pytest.raises(templates.TemplateError) as caught:
        templates.render({**files, "templates/c.yaml": "{{ .Values.x | fail }}"}, template_name="broken",
                         template_version=1, name="c1", namespace="n", parameters={})
    assert caught.value.code == "template_render_failed"
    with pytest.raises(templates.TemplateError) as caught:
        templates.check_files({"values.yaml": "a: [", "values.schema.json": "{", "../etc/passwd": "x"})
    assert caught.value.code == "template_invalid"
    assert {"files.../etc/passwd"} <= set(caught.value.errors)


@pytest.mark.django_db
def test_builtins_are_synced_idempotently_and_a_changed_one_is_a_new_version(monkeypatch: pytest.MonkeyPatch) -> None:
    actions.sync_builtin_templates()  # migrate did it already; again changes nothing
    before = {(t.name, t.version) for t in ClusterTemplate.objects.filter(builtin=True)}
    assert {name for name, _ in before} == set(BUILTINS)
    assert actions.sync_builtin_templates() == []
    changed = dict(BUILTINS)
    sandbox = changed["sandbox"]
    changed["sandbox"] = templates.Builtin(name="sandbox", provider="sandbox", display_name=sandbox.display_name,
                                           description=sandbox.description,
                                           files={**sandbox.files, "README.md": "new notes\n"})
    monkeypatch.setattr(templates, "builtin_templates", lambda: list(changed.values()))
    created = actions.sync_builtin_templates()
    latest = max(v for n, v in before if n == "sandbox")
    assert [(t.name, t.version, t.builtin) for t in created] == [("sandbox", latest + 1, True)]
    assert actions.sync_builtin_templates() == []
    assert ClusterTemplate.objects.filter(name="sandbox", version=latest).exists()  # the old version stays

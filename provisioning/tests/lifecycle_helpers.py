"""Rows for the lifecycle tests: a management cluster, a template whose schema offers versions and
machine sizes, and a provisioned cluster whose stored progress is what the follow step writes
(provisioning.capi.summarize), made by hand so validation and the API are tested without a
management cluster."""

from __future__ import annotations

import itertools
import json
from typing import Any

from clusters.models import Cluster
from provisioning import templates
from provisioning.actions import sync_builtin_templates
from provisioning.models import (
    ClusterTemplate,
    ManagementCluster,
    Phase,
    ProvisionedCluster,
    ProvisioningOperation,
)

SIZES = ["small", "medium", "large", "xlarge"]
# A template of another provider whose schema names no machine sizes (the portal cannot resize its pools).
SIZELESS_SCHEMA = {
    "type": "object",
    "properties": {
        "kubernetesVersion": {"type": "string", "enum": ["v1.29.8", "v1.30.4", "v1.31.1"]},
        "nodePools": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "replicas": {"type": "integer"}}}},
    },
}
_n = itertools.count(1)


def make_management(name: str | None = None, server: str = "https://203.0.113.10") -> ManagementCluster:
    cluster = Cluster.objects.create(name=name or f"mgmt-{next(_n)}", server=server)
    return ManagementCluster.objects.create(cluster=cluster, namespace="portal-provisioning", status="ready")


def builtin_sandbox() -> ClusterTemplate:
    """The shipped sandbox template (stored after migrations and after every flush)."""
    found = ClusterTemplate.objects.filter(name="sandbox", builtin=True).order_by("-version").first()
    if found is None:
        sync_builtin_templates()
        found = ClusterTemplate.objects.filter(name="sandbox", builtin=True).order_by("-version").first()
    assert found is not None
    return found


def make_template(provider: str = "sandbox") -> ClusterTemplate:
    if provider == "sandbox":
        return builtin_sandbox()
    return ClusterTemplate.objects.create(
        name=f"tmpl-{next(_n)}", provider=provider,
        files={"Chart.yaml": "name: t\nversion: 0.1.0\n", "values.yaml": "nodePools: []\n",
               "values.schema.json": json.dumps(SIZELESS_SCHEMA)})


def parameters_for(template: ClusterTemplate, name: str, pools: list[tuple[str, int]], version: str,
                   size: str = "medium") -> dict[str, Any]:
    """The template's defaults with these pools (short names) and version, as the create stores them."""
    return {**templates.defaults_of(template.files), "kubernetesVersion": version,
            "nodePools": [{"name": p.removeprefix(f"{name}-"), "replicas": r, "machineSize": size} for p, r in pools]}


def machine(name: str, *, pool: str = "", control_plane: bool = False, phase: str = "Running",
            version: str = "v1.30.4", draining: bool = False) -> dict[str, Any]:
    return {"name": name, "pool": pool, "control_plane": control_plane, "phase": phase, "node": name,
            "version": version, "ready": phase == "Running", "node_healthy": phase == "Running",
            "draining": draining, "deleting": False, "reason": "Draining" if draining else "", "message": "",
            "created": "2026-12-02T21:00:00Z"}


def progress(name: str, pools: list[tuple[str, int]], version: str = "v1.30.4") -> dict[str, Any]:
    machines = [machine(f"{name}-cp-abcde", control_plane=True, version=version)]
    rows = []
    for pool, replicas in pools:
        rows.append({"name": pool, "replicas": replicas, "ready": replicas, "available": replicas,
                     "updated": replicas, "unavailable": 0, "phase": "Running", "version": version,
                     "infrastructure_template": pool, "deleting": False})
        machines += [machine(f"{pool}-7f9c-{i:05d}", pool=pool, version=version) for i in range(replicas)]
    return {"exists": True, "cluster": {"phase": "Provisioned", "ready": True},
            "control_plane": {"name": f"{name}-cp", "replicas": 1, "ready": 1, "updated": 1, "version": version,
                              "initialized": True},
            "pools": rows, "machines": machines, "machines_total": len(machines),
            "machines_running": len(machines), "nodes_ready": len(machines), "kubeconfig": True, "failure": None}


def make_provisioned(*, name: str | None = None, pools: list[tuple[str, int]] | None = None,
                     version: str = "v1.30.4", phase: str = Phase.PROVISIONED, registered: bool = True,
                     management: ManagementCluster | None = None, provider: str = "sandbox") -> ProvisionedCluster:
    name = name or f"pc-{next(_n)}"
    pools = [(f"{name}-md-0", 3)] if pools is None else pools
    cluster = Cluster.objects.create(name=name, server=f"https://203.0.113.{next(_n) % 250}") if registered else None
    template = make_template(provider)
    return ProvisionedCluster.objects.create(
        name=name, management=management or make_management(), namespace="portal-provisioning",
        template=template, kubernetes_version=version, phase=phase, cluster=cluster,
        parameters=parameters_for(template, name, pools, version),
        progress=progress(name, pools, version) if phase != Phase.PENDING else {})


def provision(admin_api: Any, mc: ManagementCluster, *, pools: list[dict[str, Any]] | None = None,
              version: str = "v1.30.4", prefix: str = "life") -> ProvisionedCluster:
    """Provision a cluster from the builtin sandbox template through PROVISION's API and wait until
    its create operation succeeded (registered, every machine running)."""
    from portal.testing import unique
    from provisioning.models import OperationStatus
    from provisioning.tests.provision_helpers import body, finished

    name = unique(prefix)
    request = body(name, mc, kubernetesVersion=version,
                   nodePools=pools or [{"name": "workers", "machineSize": "small", "replicas": 2}])
    created = admin_api.post("/api/provisioning/clusters/", request, format="json")
    assert created.status_code == 202, created.content
    op_id, pc_id = created.json()["operation"]["id"], created.json()["provisioned"]["id"]
    try:
        op = finished(op_id, timeout=90)
    except AssertionError as exc:
        row = ProvisionedCluster.objects.get(pk=pc_id)
        raise AssertionError(f"{exc}: create of {name} did not finish: {row.phase} {row.message_code} {row.message} "
                             f"{ProvisioningOperation.objects.filter(pk=op_id).values().first()}") from exc
    assert op.status == OperationStatus.SUCCEEDED, (op.message_code, op.message)
    pc = ProvisionedCluster.objects.select_related("cluster", "management__cluster", "template").get(
        pk=created.json()["provisioned"]["id"])
    assert pc.cluster is not None
    return pc


def settled(op_id: int, timeout: float = 90) -> Any:
    """The operation once it finished (succeeded or failed)."""
    from provisioning.tests.provision_helpers import finished

    return finished(op_id, timeout=timeout)

"""Cluster API as the portal reads it: the kinds, labels and names it relies on, and
:func:`summarize`, which turns the objects of one provisioned cluster into the progress the
console shows. Pure: data in, data out (the objects come from the management cluster through
the client layer).

The vocabulary is Cluster API's own (v1beta1): phases ``Pending``, ``Provisioning``,
``Provisioned``, ``Running``, ``Deleting``, ``Failed``; conditions ``Ready``,
``ControlPlaneInitialized``, ``ControlPlaneReady``, ``InfrastructureReady``, ``BootstrapReady``,
``NodeHealthy``, ``DrainingSucceeded``; labels ``cluster.x-k8s.io/cluster-name``,
``cluster.x-k8s.io/deployment-name``, ``cluster.x-k8s.io/control-plane``; the kubeconfig Secret
``<cluster>-kubeconfig`` with the kubeconfig under the key ``value``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CLUSTER_GROUP = "cluster.x-k8s.io"
CONTROL_PLANE_GROUP = "controlplane.cluster.x-k8s.io"
BOOTSTRAP_GROUP = "bootstrap.cluster.x-k8s.io"
INFRASTRUCTURE_GROUP = "infrastructure.cluster.x-k8s.io"
VERSION = "v1beta1"

CLUSTER_API = f"{CLUSTER_GROUP}/{VERSION}"
CONTROL_PLANE_API = f"{CONTROL_PLANE_GROUP}/{VERSION}"
BOOTSTRAP_API = f"{BOOTSTRAP_GROUP}/{VERSION}"
INFRASTRUCTURE_API = f"{INFRASTRUCTURE_GROUP}/{VERSION}"

# The kinds a management cluster must serve (cluster.x-k8s.io/v1beta1) ...
REQUIRED_KINDS = ("Cluster", "MachineDeployment", "MachineSet", "Machine")
# ... and at least one control-plane provider's kind.
CONTROL_PLANE_KINDS = ("KubeadmControlPlane",)

# clusterctl labels every provider's CRDs with cluster.x-k8s.io/provider: <type>-<name>
# (cluster-api, control-plane-kubeadm, bootstrap-kubeadm, infrastructure-docker, ...).
PROVIDER_LABEL = "cluster.x-k8s.io/provider"
INFRASTRUCTURE_PREFIX = "infrastructure-"
# Infrastructure kinds by provider, for management clusters whose CRDs lack the label.
INFRASTRUCTURE_KINDS = {
    "sandbox": "SandboxCluster",
    "docker": "DockerCluster",
    "vsphere": "VSphereCluster",
    "openstack": "OpenStackCluster",
    "aws": "AWSCluster",
}

CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name"
DEPLOYMENT_NAME_LABEL = "cluster.x-k8s.io/deployment-name"
CONTROL_PLANE_LABEL = "cluster.x-k8s.io/control-plane"
KUBECONFIG_KEY = "value"
# Objects the portal writes carry this label (and the Cluster API cluster-name label), so
# everything it made for one provisioned cluster can be listed and deleted by selector.
MANAGED_BY_LABEL = "portal.kubeportal.io/provisioned-cluster"


def kubeconfig_secret_name(cluster_name: str) -> str:
    return f"{cluster_name}-kubeconfig"


def condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return dict(cond)
    return None


def is_true(obj: dict[str, Any], ctype: str) -> bool:
    cond = condition(obj, ctype)
    return bool(cond and cond.get("status") == "True")


def failing_condition(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The first condition that is False with severity Error (Cluster API's way of saying
    something failed rather than is still in progress), else ``None``."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("status") == "False" and cond.get("severity") == "Error":
            return dict(cond)
    return None


@dataclass(frozen=True)
class Objects:
    """The Cluster API objects of one provisioned cluster, as listed from the management cluster."""

    cluster: dict[str, Any] | None
    control_plane: dict[str, Any] | None = None
    machine_deployments: tuple[dict[str, Any], ...] = ()
    machines: tuple[dict[str, Any], ...] = ()
    kubeconfig_present: bool = False


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _machine_row(machine: dict[str, Any]) -> dict[str, Any]:
    meta, spec, status = machine.get("metadata") or {}, machine.get("spec") or {}, machine.get("status") or {}
    labels = meta.get("labels") or {}
    failing = failing_condition(machine)
    draining = condition(machine, "DrainingSucceeded")
    row: dict[str, Any] = {
        "name": _name(machine),
        "pool": labels.get(DEPLOYMENT_NAME_LABEL, ""),
        "control_plane": CONTROL_PLANE_LABEL in labels,
        "phase": status.get("phase") or "Pending",
        "node": ((status.get("nodeRef") or {}).get("name")) or "",
        "version": spec.get("version") or "",
        "ready": is_true(machine, "Ready"),
        "node_healthy": is_true(machine, "NodeHealthy"),
        "draining": bool(draining and draining.get("status") == "False" and draining.get("reason") == "Draining"),
        "deleting": bool(meta.get("deletionTimestamp")),
        "reason": "",
        "message": "",
        "created": meta.get("creationTimestamp") or "",
    }
    if status.get("failureReason") or status.get("failureMessage"):
        row["reason"], row["message"] = status.get("failureReason") or "", status.get("failureMessage") or ""
    elif failing:
        row["reason"], row["message"] = failing.get("reason") or "", failing.get("message") or ""
    elif row["draining"] and draining:
        row["reason"], row["message"] = draining.get("reason") or "", draining.get("message") or ""
    return row


def _pool_row(md: dict[str, Any]) -> dict[str, Any]:
    spec, status = md.get("spec") or {}, md.get("status") or {}
    template = (spec.get("template") or {}).get("spec") or {}
    return {
        "name": _name(md),
        "replicas": int(spec.get("replicas") or 0),
        "ready": int(status.get("readyReplicas") or 0),
        "available": int(status.get("availableReplicas") or 0),
        "updated": int(status.get("updatedReplicas") or 0),
        "unavailable": int(status.get("unavailableReplicas") or 0),
        "phase": status.get("phase") or "",
        "version": template.get("version") or "",
        "infrastructure_template": ((template.get("infrastructureRef") or {}).get("name")) or "",
        "deleting": bool((md.get("metadata") or {}).get("deletionTimestamp")),
    }


def summarize(objs: Objects) -> dict[str, Any]:
    """Progress of one provisioned cluster: the Cluster's phase and readiness, the control plane,
    the pools (MachineDeployments), every Machine (pool, phase, node, version, drain, the failing
    condition's reason) and the first failure found."""
    cluster = objs.cluster or {}
    status = cluster.get("status") or {}
    cp = objs.control_plane or {}
    cp_spec, cp_status = cp.get("spec") or {}, cp.get("status") or {}
    machines = sorted((_machine_row(m) for m in objs.machines), key=lambda r: (not r["control_plane"], r["pool"], r["name"]))
    pools = sorted((_pool_row(md) for md in objs.machine_deployments), key=lambda r: r["name"])
    failure: dict[str, Any] | None = None
    if status.get("failureReason") or status.get("failureMessage"):
        failure = {"object": f"Cluster/{_name(cluster)}", "reason": status.get("failureReason") or "",
                   "message": status.get("failureMessage") or ""}
    else:
        for obj, label in ((cluster, "Cluster"), (cp, "KubeadmControlPlane")):
            cond = failing_condition(obj) if obj else None
            if cond:
                failure = {"object": f"{label}/{_name(obj)}", "reason": cond.get("reason") or "",
                           "message": cond.get("message") or ""}
                break
    if failure is None:
        for row in machines:
            if row["phase"] == "Failed" or (row["reason"] and not row["draining"]):
                failure = {"object": f"Machine/{row['name']}", "reason": row["reason"], "message": row["message"]}
                break
    return {
        "exists": objs.cluster is not None,
        "cluster": {
            "phase": status.get("phase") or ("" if objs.cluster is None else "Pending"),
            "infrastructure_ready": bool(status.get("infrastructureReady")) or is_true(cluster, "InfrastructureReady"),
            "control_plane_initialized": is_true(cluster, "ControlPlaneInitialized"),
            "control_plane_ready": bool(status.get("controlPlaneReady")) or is_true(cluster, "ControlPlaneReady"),
            "ready": is_true(cluster, "Ready"),
            "deleting": bool((cluster.get("metadata") or {}).get("deletionTimestamp")),
        },
        "control_plane": {
            "name": _name(cp),
            "replicas": int(cp_spec.get("replicas") or 0),
            "ready": int(cp_status.get("readyReplicas") or 0),
            "updated": int(cp_status.get("updatedReplicas") or 0),
            "version": cp_spec.get("version") or "",
            "initialized": bool(cp_status.get("initialized")),
        } if cp else None,
        "pools": pools,
        "machines": machines,
        "machines_total": len(machines),
        "machines_running": sum(1 for r in machines if r["phase"] == "Running"),
        "nodes_ready": sum(1 for r in machines if r["node"] and r["node_healthy"]),
        "kubeconfig": objs.kubeconfig_present,
        "failure": failure,
    }

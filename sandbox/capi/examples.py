"""Example Cluster API objects for the sandbox (used by its tests, handy for demos): one cluster =
Cluster + SandboxCluster + KubeadmControlPlane + SandboxMachineTemplates + KubeadmConfigTemplate +
MachineDeployment, in Cluster API's own v1beta1 shape."""

from __future__ import annotations

from typing import Any

CAPI = "cluster.x-k8s.io/v1beta1"
CP = "controlplane.cluster.x-k8s.io/v1beta1"
BOOT = "bootstrap.cluster.x-k8s.io/v1beta1"
INFRA = "infrastructure.cluster.x-k8s.io/v1beta1"


def machine_template(name: str, ns: str, size: str = "small", fault: str = "",
                     provision_seconds: float | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"size": size}
    if fault:
        spec["fault"] = fault
    if provision_seconds is not None:
        spec["provisionSeconds"] = provision_seconds
    return {"apiVersion": INFRA, "kind": "SandboxMachineTemplate", "metadata": {"name": name, "namespace": ns},
            "spec": {"template": {"spec": spec}}}


def pool(cluster: str, ns: str, name: str, replicas: int, template: str, version: str = "v1.30.4"
         ) -> dict[str, Any]:
    return {
        "apiVersion": CAPI, "kind": "MachineDeployment", "metadata": {"name": name, "namespace": ns},
        "spec": {"clusterName": cluster, "replicas": replicas,
                 "selector": {"matchLabels": {"pool": name}},
                 "template": {"metadata": {"labels": {"pool": name}},
                              "spec": {"clusterName": cluster, "version": version,
                                       "bootstrap": {"configRef": {"apiVersion": BOOT, "kind": "KubeadmConfigTemplate",
                                                                   "name": f"{cluster}-workers"}},
                                       "infrastructureRef": {"apiVersion": INFRA, "kind": "SandboxMachineTemplate",
                                                             "name": template}}}}}


def cluster_objects(name: str, ns: str, *, workers: int = 1, cp_replicas: int = 1, version: str = "v1.30.4",
                    worker_fault: str = "", machine_limit: int | None = None) -> list[dict[str, Any]]:
    sandbox_cluster: dict[str, Any] = {"apiVersion": INFRA, "kind": "SandboxCluster",
                                       "metadata": {"name": name, "namespace": ns}, "spec": {}}
    if machine_limit is not None:
        sandbox_cluster["spec"]["machineLimit"] = machine_limit
    return [
        {"apiVersion": CAPI, "kind": "Cluster", "metadata": {"name": name, "namespace": ns},
         "spec": {"clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]},
                                     "services": {"cidrBlocks": ["10.128.0.0/12"]}},
                  "controlPlaneRef": {"apiVersion": CP, "kind": "KubeadmControlPlane", "name": f"{name}-control-plane"},
                  "infrastructureRef": {"apiVersion": INFRA, "kind": "SandboxCluster", "name": name}}},
        sandbox_cluster,
        machine_template(f"{name}-control-plane", ns, "medium"),
        {"apiVersion": CP, "kind": "KubeadmControlPlane", "metadata": {"name": f"{name}-control-plane", "namespace": ns},
         "spec": {"replicas": cp_replicas, "version": version,
                  "machineTemplate": {"infrastructureRef": {"apiVersion": INFRA, "kind": "SandboxMachineTemplate",
                                                            "name": f"{name}-control-plane"}},
                  "kubeadmConfigSpec": {"clusterConfiguration": {"apiServer": {"certSANs": ["localhost"]}},
                                        "initConfiguration": {"nodeRegistration": {}},
                                        "joinConfiguration": {"nodeRegistration": {}}}}},
        machine_template(f"{name}-small", ns, "small", fault=worker_fault),
        {"apiVersion": BOOT, "kind": "KubeadmConfigTemplate", "metadata": {"name": f"{name}-workers", "namespace": ns},
         "spec": {"template": {"spec": {"joinConfiguration": {"nodeRegistration": {"kubeletExtraArgs": {}}}}}}},
        pool(name, ns, f"{name}-md-0", workers, f"{name}-small", version),
    ]

"""The Cluster API CustomResourceDefinitions a management cluster serves (v1beta1), installed
through the cluster's own CRD API (:mod:`sandbox.crds`), as ``clusterctl init`` would.

Schemas are structural: the fields the controllers read are typed (so a bad write is the
apiserver's 422), everything else in ``spec`` is preserved (``x-kubernetes-preserve-unknown-fields``),
``status`` is free-form.  Printer columns follow Cluster API's own CRDs; columns that Cluster API
reads from a label with escaped dots (``.metadata.labels['cluster\\.x-k8s\\.io/cluster-name']``) read
the owner reference instead (the same name; the sandbox's JSONPath has no bracket-quoted keys).
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.crds import CRDS_KEY
from sandbox.errors import AlreadyExists
from sandbox.resources import lookup
from sandbox.store import Store

VERSION = "v1beta1"
CLUSTER_GROUP = "cluster.x-k8s.io"
CONTROL_PLANE_GROUP = "controlplane.cluster.x-k8s.io"
BOOTSTRAP_GROUP = "bootstrap.cluster.x-k8s.io"
INFRASTRUCTURE_GROUP = "infrastructure.cluster.x-k8s.io"

PROVIDER_LABEL = "cluster.x-k8s.io/provider"
PROVIDERS = {CLUSTER_GROUP: "cluster-api", CONTROL_PLANE_GROUP: "control-plane-kubeadm",
             BOOTSTRAP_GROUP: "bootstrap-kubeadm", INFRASTRUCTURE_GROUP: "infrastructure-sandbox"}

_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
        "description": "Time duration since creation"}
_FREE = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_STR = {"type": "string"}
_INT = {"type": "integer"}
_REF = {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {
    "apiVersion": _STR, "kind": _STR, "name": _STR, "namespace": _STR, "uid": _STR}}
_SELECTOR = {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {
    "matchLabels": {"type": "object", "additionalProperties": _STR}}}
_META = {"type": "object", "properties": {
    "labels": {"type": "object", "additionalProperties": _STR},
    "annotations": {"type": "object", "additionalProperties": _STR}}}
_INT_OR_STRING = {"x-kubernetes-int-or-string": True}


def _spec(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    s: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": props}
    if required:
        s["required"] = required
    return s


def _owner(kind: str) -> str:
    return f'.metadata.ownerReferences[?(@.kind=="{kind}")].name'


_MACHINE_SPEC = _spec({
    "clusterName": _STR, "version": _STR, "providerID": _STR, "failureDomain": _STR,
    "bootstrap": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                  "properties": {"configRef": _REF, "dataSecretName": _STR}},
    "infrastructureRef": _REF}, ["clusterName", "bootstrap", "infrastructureRef"])

_SIZES = ["small", "medium", "large", "xlarge"]
_FAULTS = ["", "NeverReady", "BootstrapFailure"]
_SANDBOX_MACHINE_SPEC = _spec({
    "size": {"type": "string", "enum": _SIZES},
    "provisionSeconds": {"type": "number", "minimum": 0, "maximum": 3600},
    "fault": {"type": "string", "enum": _FAULTS},
    "providerID": _STR})

# (group, kind, plural, shortNames, spec schema, printer columns)
KINDS: list[tuple[str, str, str, list[str], dict[str, Any], list[dict[str, Any]]]] = [
    (CLUSTER_GROUP, "Cluster", "clusters", ["cl"], _spec({
        "paused": {"type": "boolean"},
        "clusterNetwork": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {
            "pods": {"type": "object", "properties": {"cidrBlocks": {"type": "array", "items": _STR}}},
            "services": {"type": "object", "properties": {"cidrBlocks": {"type": "array", "items": _STR}}},
            "serviceDomain": _STR, "apiServerPort": _INT}},
        "controlPlaneEndpoint": {"type": "object", "properties": {"host": _STR, "port": _INT}},
        "controlPlaneRef": _REF, "infrastructureRef": _REF, "topology": _FREE}), [
        {"name": "ClusterClass", "type": "string", "jsonPath": ".spec.topology.class",
         "description": "ClusterClass of this Cluster, empty if the Cluster is not using a ClusterClass"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase",
         "description": "Cluster status such as Pending/Provisioning/Provisioned/Deleting/Failed"},
        _AGE,
        {"name": "Version", "type": "string", "jsonPath": ".spec.topology.version",
         "description": "Kubernetes version associated with this Cluster"}]),
    (CLUSTER_GROUP, "MachineDeployment", "machinedeployments", ["md"], _spec({
        "clusterName": _STR, "replicas": {"type": "integer", "minimum": 0},
        "selector": _SELECTOR, "minReadySeconds": _INT, "paused": {"type": "boolean"},
        "strategy": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {
            "type": {"type": "string", "enum": ["RollingUpdate", "OnDelete"]},
            "rollingUpdate": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {
                "maxSurge": _INT_OR_STRING, "maxUnavailable": _INT_OR_STRING,
                "deletePolicy": {"type": "string", "enum": ["Random", "Newest", "Oldest"]}}}}},
        "template": {"type": "object", "properties": {"metadata": _META, "spec": _MACHINE_SPEC}}},
        ["clusterName", "selector", "template"]), [
        {"name": "Cluster", "type": "string", "jsonPath": ".spec.clusterName",
         "description": "Cluster"},
        {"name": "Replicas", "type": "integer", "jsonPath": ".status.replicas",
         "description": "Total number of non-terminated machines targeted by this MachineDeployment"},
        {"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas",
         "description": "Total number of ready machines targeted by this MachineDeployment"},
        {"name": "Updated", "type": "integer", "jsonPath": ".status.updatedReplicas",
         "description": "Total number of non-terminated machines targeted by this deployment that have the "
                        "desired template spec"},
        {"name": "Unavailable", "type": "integer", "jsonPath": ".status.unavailableReplicas",
         "description": "Total number of unavailable machines targeted by this MachineDeployment"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase",
         "description": "MachineDeployment status such as ScalingUp/ScalingDown/Running/Failed/Unknown"},
        _AGE,
        {"name": "Version", "type": "string", "jsonPath": ".spec.template.spec.version",
         "description": "Kubernetes version associated with this MachineDeployment"}]),
    (CLUSTER_GROUP, "MachineSet", "machinesets", ["ms"], _spec({
        "clusterName": _STR, "replicas": {"type": "integer", "minimum": 0}, "selector": _SELECTOR,
        "deletePolicy": {"type": "string", "enum": ["Random", "Newest", "Oldest"]},
        "template": {"type": "object", "properties": {"metadata": _META, "spec": _MACHINE_SPEC}}},
        ["clusterName", "selector"]), [
        {"name": "Cluster", "type": "string", "jsonPath": ".spec.clusterName", "description": "Cluster"},
        {"name": "Desired", "type": "integer", "jsonPath": ".spec.replicas",
         "description": "Total number of machines desired by this machineset", "priority": 10},
        {"name": "Replicas", "type": "integer", "jsonPath": ".status.replicas",
         "description": "Total number of non-terminated machines targeted by this machineset"},
        {"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas",
         "description": "Total number of ready machines targeted by this machineset."},
        {"name": "Available", "type": "integer", "jsonPath": ".status.availableReplicas",
         "description": "Total number of available machines (ready for at least minReadySeconds)"},
        _AGE,
        {"name": "Version", "type": "string", "jsonPath": ".spec.template.spec.version",
         "description": "Kubernetes version associated with this MachineSet"}]),
    (CLUSTER_GROUP, "Machine", "machines", ["ma"], _MACHINE_SPEC, [
        {"name": "Cluster", "type": "string", "jsonPath": ".spec.clusterName",
         "description": "Cluster"},
        {"name": "NodeName", "type": "string", "jsonPath": ".status.nodeRef.name",
         "description": "Node name associated with this machine"},
        {"name": "ProviderID", "type": "string", "jsonPath": ".spec.providerID",
         "description": "Provider ID"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase",
         "description": "Machine status such as Terminating/Pending/Running/Failed etc"},
        _AGE,
        {"name": "Version", "type": "string", "jsonPath": ".spec.version",
         "description": "Kubernetes version associated with this Machine"}]),
    (CONTROL_PLANE_GROUP, "KubeadmControlPlane", "kubeadmcontrolplanes", ["kcp"], _spec({
        # a real KubeadmControlPlane webhook refuses even replica counts (stacked etcd quorum)
        "replicas": {"type": "integer", "enum": [1, 3, 5, 7, 9]},
        "version": {"type": "string", "pattern": r"^v\d+\.\d+\.\d+"},
        "machineTemplate": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {
            "metadata": _META, "infrastructureRef": _REF}, "required": ["infrastructureRef"]},
        "kubeadmConfigSpec": _FREE,
        "rolloutStrategy": _FREE}, ["version", "machineTemplate", "kubeadmConfigSpec"]), [
        {"name": "Cluster", "type": "string", "jsonPath": _owner("Cluster"),
         "description": "Cluster"},
        {"name": "Initialized", "type": "boolean", "jsonPath": ".status.initialized",
         "description": "This denotes whether or not the control plane has the uploaded kubeadm-config "
                        "configmap"},
        {"name": "API Server Available", "type": "boolean", "jsonPath": ".status.ready",
         "description": "KubeadmControlPlane API Server is ready to receive requests"},
        {"name": "Replicas", "type": "integer", "jsonPath": ".status.replicas",
         "description": "Total number of non-terminated machines targeted by this control plane"},
        {"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas",
         "description": "Total number of fully running and ready control plane machines"},
        {"name": "Updated", "type": "integer", "jsonPath": ".status.updatedReplicas",
         "description": "Total number of non-terminated machines targeted by this control plane that have "
                        "the desired template spec"},
        {"name": "Unavailable", "type": "integer", "jsonPath": ".status.unavailableReplicas",
         "description": "Total number of unavailable machines targeted by this control plane"},
        _AGE,
        {"name": "Version", "type": "string", "jsonPath": ".spec.version",
         "description": "Kubernetes version associated with this control plane"}]),
    (BOOTSTRAP_GROUP, "KubeadmConfigTemplate", "kubeadmconfigtemplates", [], _spec({
        "template": {"type": "object", "properties": {"spec": _FREE}}}), [_AGE]),
    (BOOTSTRAP_GROUP, "KubeadmConfig", "kubeadmconfigs", [], _FREE, [
        {"name": "Machine", "type": "string", "jsonPath": _owner("Machine"), "description": "Machine"},
        {"name": "Ready", "type": "boolean", "jsonPath": ".status.ready", "description": "Bootstrap data ready"},
        _AGE]),
    (INFRASTRUCTURE_GROUP, "SandboxCluster", "sandboxclusters", [], _spec({
        "machineLimit": {"type": "integer", "minimum": 0},
        "controlPlaneEndpoint": {"type": "object", "properties": {"host": _STR, "port": _INT}}}), [
        {"name": "Cluster", "type": "string", "jsonPath": _owner("Cluster"), "description": "Cluster"},
        {"name": "Ready", "type": "boolean", "jsonPath": ".status.ready", "description": "Infrastructure ready"},
        {"name": "Endpoint", "type": "string", "jsonPath": ".status.server",
         "description": "API server URL of the simulated cluster"},
        _AGE]),
    (INFRASTRUCTURE_GROUP, "SandboxMachineTemplate", "sandboxmachinetemplates", [], _spec({
        "template": {"type": "object", "properties": {"metadata": _META, "spec": _SANDBOX_MACHINE_SPEC}}},
        ["template"]), [
        {"name": "Size", "type": "string", "jsonPath": ".spec.template.spec.size", "description": "Machine size"},
        _AGE]),
    (INFRASTRUCTURE_GROUP, "SandboxMachine", "sandboxmachines", [], _SANDBOX_MACHINE_SPEC, [
        {"name": "Machine", "type": "string", "jsonPath": _owner("Machine"), "description": "Machine"},
        {"name": "Size", "type": "string", "jsonPath": ".spec.size", "description": "Machine size"},
        {"name": "ProviderID", "type": "string", "jsonPath": ".spec.providerID", "description": "Provider ID"},
        {"name": "Ready", "type": "boolean", "jsonPath": ".status.ready", "description": "Machine ready"},
        _AGE]),
]


def crd_objects() -> list[dict[str, Any]]:
    """The CustomResourceDefinition objects, labelled as clusterctl labels a provider's CRDs."""
    out = []
    for group, kind, plural, short, spec_schema, columns in KINDS:
        out.append({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}",
                         "labels": {PROVIDER_LABEL: PROVIDERS[group], "cluster.x-k8s.io/v1beta1": VERSION,
                                    "clusterctl.cluster.x-k8s.io": ""},
                         "annotations": {"sandbox.k8s.io/simulated": "true"}},
            "spec": {
                "group": group, "scope": "Namespaced",
                "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower(),
                          "shortNames": list(short), "categories": ["cluster-api"]},
                "versions": [{
                    "name": VERSION, "served": True, "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": copy.deepcopy(columns),
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "description": f"{kind} (Cluster API {VERSION}, simulated by the sandbox)",
                        "properties": {"apiVersion": _STR, "kind": _STR, "metadata": {"type": "object"},
                                       "spec": copy.deepcopy(spec_schema), "status": copy.deepcopy(_FREE)}}},
                }],
            },
        })
    return out


def install(store: Store) -> int:
    """Create the CRDs that are missing (through the store's CRD admission); returns how many were created."""
    rt = lookup(CRDS_KEY)
    created = 0
    for crd in crd_objects():
        if store.get(rt, None, crd["metadata"]["name"]) is not None:
            continue
        try:
            store.create(rt, crd, field_manager="clusterctl")
            created += 1
        except AlreadyExists:
            pass
    return created

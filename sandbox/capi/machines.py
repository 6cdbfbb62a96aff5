"""The Machine reconcile, with the kubeadm bootstrap provider (KubeadmConfig → bootstrap data
Secret) and the sandbox infrastructure provider (SandboxMachine → an instance that boots for
``provisionSeconds`` and joins the provisioned cluster as a Node) folded in; and the deletion:
cordon, drain through evictions that respect PodDisruptionBudgets, delete the Node, release the
infrastructure.

Fault markers (``SandboxMachine.spec.fault``): ``NeverReady`` — the instance never comes up (the
Machine stays ``Provisioning``); ``BootstrapFailure`` — cloud-init fails (``Failed``,
``failureReason: BootstrapFailed``).  ``SandboxCluster.spec.machineLimit`` caps the instances a
cluster may hold: the ones beyond it wait with ``InsufficientQuota``.
"""

from __future__ import annotations

import base64
import contextlib
import copy
from typing import TYPE_CHECKING, Any

from sandbox.capi.controllers import (
    CONTROL_PLANE_LABEL,
    DEPLOYMENT_NAME_LABEL,
    MACHINE_FINALIZER,
    SECRET_TYPE,
    SIZES,
    _cond,
    _deleting,
    _sorted,
    _summary,
)
from sandbox.capi.provider import CLUSTER_NAME_LABEL
from sandbox.controllers.base import now_iso, owner_ref
from sandbox.disruption import blocking_budget
from sandbox.errors import ApiError
from sandbox.resources import NODES, PODS, SECRETS

if TYPE_CHECKING:
    from sandbox.capi.controllers import Controllers
    from sandbox.cluster import SimCluster

COMPONENT = "machine-controller"
EXCLUDE_DRAIN = "machine.cluster.x-k8s.io/exclude-node-draining"


def reconcile_machine(c: Controllers, key: tuple[str, str]) -> None:
    ns, name = key
    p = c.p
    m = p.get("Machine", ns, name)
    if m is None:
        c._boot.pop(key, None)
        return
    if _deleting(m):
        _delete(c, m)
        return
    m2 = c._finalize("Machine", m, MACHINE_FINALIZER, True)
    if m2 is None:
        return
    m = m2
    spec = m.get("spec") or {}
    cluster_name = str(spec.get("clusterName") or "")
    if (m["metadata"].get("labels") or {}).get(CLUSTER_NAME_LABEL) != cluster_name:
        m2 = p.mutate("Machine", m, lambda o: o["metadata"].setdefault("labels", {}).__setitem__(
            CLUSTER_NAME_LABEL, cluster_name))
        if m2 is None:
            return
        m = m2
    cluster, infra_cluster, cp = c.cluster_parts(ns, cluster_name)
    st = dict(m.get("status") or {})
    conds = [dict(x) for x in st.get("conditions") or ()]
    is_cp = CONTROL_PLANE_LABEL in (m["metadata"].get("labels") or {})
    wl = c.workload_of(ns, cluster_name) if cluster is not None else None
    cp_initialized = bool(((cp or {}).get("status") or {}).get("initialized"))

    # ---- bootstrap (kubeadm): data secret once the cluster's infrastructure (and, for workers and
    # joining control-plane machines, an initialized control plane) is there
    boot = spec.get("bootstrap") or {}
    data_secret = str(boot.get("dataSecretName") or "")
    cfg_ref = boot.get("configRef") or {}
    cfg = p.get("KubeadmConfig", ns, str(cfg_ref.get("name") or "")) if cfg_ref else None
    if not data_secret and cfg is not None:
        joining = not is_cp or "initConfiguration" not in (cfg.get("spec") or {})
        if wl is None:
            _cond(conds, "BootstrapReady", "False", "WaitingForClusterInfrastructure", "", "Info")
        elif joining and not cp_initialized:
            _cond(conds, "BootstrapReady", "False", "WaitingForControlPlaneAvailable", "", "Info")
        else:
            data_secret = _bootstrap_data(c, cfg, cluster_name, "join" if joining else "init")
            if data_secret:
                m2 = p.mutate("Machine", m, lambda o: o["spec"].setdefault("bootstrap", {}).__setitem__(
                    "dataSecretName", data_secret))
                if m2 is None:
                    return
                m = m2
    elif not data_secret:
        _cond(conds, "BootstrapReady", "False", "WaitingForBootstrapData", "", "Info")
    bootstrap_ready = bool(data_secret)
    failure: tuple[str, str] | None = None
    if st.get("failureReason"):
        failure = (str(st["failureReason"]), str(st.get("failureMessage") or ""))

    # ---- infrastructure (sandbox): boot the instance, join the Node
    sm_ref = spec.get("infrastructureRef") or {}
    sm = p.get("SandboxMachine", ns, str(sm_ref.get("name") or ""))
    infra_ready = bool(sm and (sm.get("status") or {}).get("ready"))
    node: dict[str, Any] | None = None
    if bootstrap_ready and failure is None:
        _cond(conds, "BootstrapReady", "True")
    if sm is None:
        _cond(conds, "InfrastructureReady", "False", "WaitingForInfrastructure",
              f"SandboxMachine {sm_ref.get('name')} not found", "Info")
    elif bootstrap_ready and failure is None and wl is not None:
        failure, infra_ready, node = _infrastructure(c, m, sm, wl, conds, is_cp, infra_cluster)
    elif not bootstrap_ready:
        _cond(conds, "InfrastructureReady", "False", "WaitingForBootstrapData", "", "Info")
    if failure is not None:
        st["failureReason"], st["failureMessage"] = failure
        _cond(conds, "BootstrapReady", "False", "BootstrapFailed", failure[1], "Error")
    if node is None and infra_ready and wl is not None:
        node = wl.store.get(NODES, None, name)
    if infra_ready and sm is not None and (sm.get("spec") or {}).get("providerID") and \
            spec.get("providerID") != sm["spec"]["providerID"]:
        pid = sm["spec"]["providerID"]
        m2 = p.mutate("Machine", m, lambda o: o["spec"].__setitem__("providerID", pid))
        if m2 is None:
            return
        m = m2

    # ---- node health
    if node is not None:
        ready_cond = next((x for x in (node.get("status") or {}).get("conditions") or ()
                           if x.get("type") == "Ready"), None)
        if ready_cond and ready_cond.get("status") == "True":
            _cond(conds, "NodeHealthy", "True")
        else:
            _cond(conds, "NodeHealthy", "False", "NodeConditionsFailed",
                  f"Node {name}: {(ready_cond or {}).get('message') or 'not ready'}", "Warning")
        st["nodeRef"] = {"apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"]}
        st["nodeInfo"] = (node.get("status") or {}).get("nodeInfo") or {}
        st["addresses"] = (node.get("status") or {}).get("addresses") or []
    elif st.get("nodeRef"):
        _cond(conds, "NodeHealthy", "False", "NodeNotFound", f"Node {name} not found", "Error")
    elif not (m.get("spec") or {}).get("providerID"):  # as Cluster API's noderef reconcile says it
        _cond(conds, "NodeHealthy", "False", "WaitingForNodeRef", "", "Info")
    else:
        _cond(conds, "NodeHealthy", "False", "NodeProvisioning", "", "Warning")
    _summary(conds, ("BootstrapReady", "InfrastructureReady", "NodeHealthy"))
    if failure is not None:
        phase = "Failed"
    elif st.get("nodeRef") and infra_ready:
        phase = "Running"
    elif infra_ready:
        phase = "Provisioned"
    elif bootstrap_ready:
        phase = "Provisioning"
    else:
        phase = "Pending"
    if phase != st.get("phase"):
        st["lastUpdated"] = now_iso()
    st.update({"phase": phase, "bootstrapReady": bootstrap_ready, "infrastructureReady": infra_ready,
               "observedGeneration": m["metadata"].get("generation", 1), "conditions": _sorted(conds)})
    p.write_status("Machine", m, st)


def _bootstrap_data(c: Controllers, cfg: dict[str, Any], cluster_name: str, mode: str) -> str:
    """The KubeadmConfig controller: write the bootstrap data Secret, mark the config ready."""
    p = c.p
    md = cfg["metadata"]
    ns, name = md["namespace"], md["name"]
    if p.store.get(SECRETS, ns, name) is None:
        cloud = ("## template: jinja\n#cloud-config\nruncmd:\n"
                 f"  - 'kubeadm {mode} --config /run/kubeadm/kubeadm.yaml'\n"
                 "  - 'echo success > /run/cluster-api/bootstrap-success.complete'\n")
        with contextlib.suppress(ApiError):
            p.store.create(SECRETS, {
                "apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
                "metadata": {"name": name, "namespace": ns, "labels": {CLUSTER_NAME_LABEL: cluster_name},
                             "ownerReferences": [owner_ref(cfg)]},
                "data": {"value": base64.b64encode(cloud.encode()).decode(),
                         "format": base64.b64encode(b"cloud-config").decode()}}, field_manager="capi-kubeadmconfig")
    st = dict(cfg.get("status") or {})
    conds = [dict(x) for x in st.get("conditions") or ()]
    _cond(conds, "DataSecretAvailable", "True")
    _cond(conds, "CertificatesAvailable", "True")
    _summary(conds, ("DataSecretAvailable", "CertificatesAvailable"))
    st.update({"ready": True, "dataSecretName": name, "observedGeneration": md.get("generation", 1),
               "conditions": _sorted(conds)})
    p.write_status("KubeadmConfig", cfg, st)
    return str(name)


def _infrastructure(c: Controllers, m: dict[str, Any], sm: dict[str, Any], wl: SimCluster,
                    conds: list[dict[str, Any]], is_cp: bool, infra_cluster: dict[str, Any] | None
                    ) -> tuple[tuple[str, str] | None, bool, dict[str, Any] | None]:
    """The SandboxMachine controller.  Returns (failure, infrastructure ready, the Node)."""
    p = c.p
    md = m["metadata"]
    ns, name = md["namespace"], md["name"]
    key = (ns, name)
    sspec = sm.get("spec") or {}
    sst = dict(sm.get("status") or {})
    sconds = [dict(x) for x in sst.get("conditions") or ()]
    fault = str(sspec.get("fault") or "")
    delay = float(sspec.get("provisionSeconds", p.config.provision_seconds))
    failure: tuple[str, str] | None = None
    node: dict[str, Any] | None = None
    ready = bool(sst.get("ready"))
    if fault == "BootstrapFailure":
        failure = ("BootstrapFailed", f"cloud-init failed on {name}: 'kubeadm join' exited with status 1 "
                                      "(sandbox fault BootstrapFailure)")
        _cond(sconds, "Ready", "False", "BootstrapFailed", failure[1], "Error")
        _cond(conds, "InfrastructureReady", "False", "BootstrapFailed", failure[1], "Error")
        sst.update({"ready": False, "failureReason": "BootstrapFailed", "failureMessage": failure[1],
                    "instanceState": "failed"})
        c._boot.pop(key, None)
    elif not ready and key not in c._boot and not _has_slot(c, m, infra_cluster):
        limit = ((infra_cluster or {}).get("spec") or {}).get("machineLimit")
        msg = f"provider quota exceeded: the cluster may hold {limit} machines"
        _cond(sconds, "Ready", "False", "InsufficientQuota", msg, "Error")
        _cond(conds, "InfrastructureReady", "False", "InsufficientQuota", msg, "Error")
        sst.update({"ready": False, "instanceState": "quota-exceeded"})
    else:
        now = p.now()
        if not ready and key not in c._boot:
            c._boot[key] = now
        started = c._boot.get(key, now)
        if fault == "NeverReady":
            _cond(sconds, "Ready", "False", "InstanceProvisioning", "waiting for the instance to come up", "Info")
            _cond(conds, "InfrastructureReady", "False", "InstanceProvisioning",
                  "waiting for the instance to come up", "Info")
            sst.update({"ready": False, "instanceState": "pending"})
        elif not ready and now < started + delay * 0.75:
            _cond(sconds, "Ready", "False", "InstanceProvisioning", "waiting for the instance to come up", "Info")
            _cond(conds, "InfrastructureReady", "False", "InstanceProvisioning",
                  "waiting for the instance to come up", "Info")
            sst.update({"ready": False, "instanceState": "pending"})
            c.machine_q.add_after(key, started + delay * 0.75 - now + 0.01)
        else:
            if not sspec.get("providerID"):
                pid = f"sandbox://{wl.name}/{name}"
                sm2 = p.mutate("SandboxMachine", sm, lambda o: o.setdefault("spec", {}).__setitem__(
                    "providerID", pid))
                if sm2 is not None:
                    sm = sm2
            ready = True
            _cond(sconds, "Ready", "True")
            _cond(conds, "InfrastructureReady", "True")
            sst.update({"ready": True, "instanceState": "running",
                        "addresses": [{"type": "InternalIP", "address": _ip(wl, name)},
                                      {"type": "Hostname", "address": name}]})
            node = wl.store.get(NODES, None, name)
            if node is None:
                if now >= started + delay or key not in c._boot:
                    node = _join_node(c, m, sm, wl, is_cp)
                else:
                    c.machine_q.add_after(key, started + delay - now + 0.01)
    sst["conditions"] = _sorted(sconds)
    p.write_status("SandboxMachine", sm, sst)
    return failure, ready, node


def _has_slot(c: Controllers, m: dict[str, Any], infra_cluster: dict[str, Any] | None) -> bool:
    """Whether ``SandboxCluster.spec.machineLimit`` leaves room for this machine's instance
    (instances already up or booting hold a slot, until their Machine is gone)."""
    limit = ((infra_cluster or {}).get("spec") or {}).get("machineLimit")
    if limit is None:
        return True
    ns = m["metadata"]["namespace"]
    cluster_name = (m.get("spec") or {}).get("clusterName")
    held = 0
    for other in c.p.select("SandboxMachine", ns, {CLUSTER_NAME_LABEL: str(cluster_name)}):
        if other["metadata"]["name"] == m["metadata"]["name"]:
            continue
        state = (other.get("status") or {}).get("instanceState")
        if state in ("pending", "running") or (ns, other["metadata"]["name"]) in c._boot:
            held += 1
    return held < int(limit)


def _ip(wl: SimCluster, name: str) -> str:
    h = sum(name.encode()) % 250 + 2
    return f"10.{100 + wl.spec.index % 100}.{len(name) % 250}.{h}"


def _join_node(c: Controllers, m: dict[str, Any], sm: dict[str, Any], wl: SimCluster,
               is_cp: bool) -> dict[str, Any] | None:
    """kubelet registers: a Node named as the Machine, with the size's capacity and the Machine's version."""
    from sandbox.cluster import NodeConfig, node_object

    name = m["metadata"]["name"]
    ns = m["metadata"]["namespace"]
    size = str((sm.get("spec") or {}).get("size") or "medium")
    cpu, mem = SIZES.get(size, SIZES["medium"])
    spec = copy.copy(wl.spec)
    spec.nodes = NodeConfig(count=0, cpu=cpu, memory=mem, instance_type=f"sandbox.{size}")
    spec.version = str((m.get("spec") or {}).get("version") or wl.spec.version)
    n = sum(1 for _ in wl.store.list(NODES)[0]) + 1
    obj = node_object(spec, n)
    obj["metadata"]["name"] = name
    labels = obj["metadata"]["labels"]
    labels["kubernetes.io/hostname"] = name
    labels["node.kubernetes.io/instance-type"] = f"sandbox.{size}"
    tmeta_labels = (m["metadata"].get("labels") or {})
    for k, v in tmeta_labels.items():  # Cluster API syncs node-role / node-restriction labels
        if k.startswith(("node-role.kubernetes.io/", "node-restriction.kubernetes.io/", "node.cluster.x-k8s.io/")):
            labels[k] = v
    if is_cp:
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        obj["spec"]["taints"] = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    owner: dict[str, Any] = next((r for r in m["metadata"].get("ownerReferences") or () if r.get("controller")), {})
    obj["metadata"]["annotations"].update({
        "cluster.x-k8s.io/cluster-name": str((m.get("spec") or {}).get("clusterName") or ""),
        "cluster.x-k8s.io/cluster-namespace": ns, "cluster.x-k8s.io/machine": name,
        "cluster.x-k8s.io/owner-kind": str(owner.get("kind") or ""),
        "cluster.x-k8s.io/owner-name": str(owner.get("name") or "")})
    if (m["metadata"].get("labels") or {}).get(DEPLOYMENT_NAME_LABEL):
        obj["metadata"]["annotations"]["cluster.x-k8s.io/deployment-name"] = m["metadata"]["labels"][
            DEPLOYMENT_NAME_LABEL]
    obj["spec"]["providerID"] = f"sandbox://{wl.name}/{name}"
    for a in obj["status"]["addresses"]:
        if a["type"] == "Hostname":
            a["address"] = name
        elif a["type"] == "InternalIP":
            a["address"] = _ip(wl, name)
    try:
        node = wl.store.create(NODES, obj, field_manager="kubelet")
    except ApiError:
        return wl.store.get(NODES, None, name)
    c.p.record(m, "Normal", "NodeJoined", f"Node {name} joined cluster {wl.name}", COMPONENT)
    return node


# ---------------------------------------------------------------- deletion


def _delete(c: Controllers, m: dict[str, Any]) -> None:
    p = c.p
    md = m["metadata"]
    ns, name = md["namespace"], md["name"]
    spec = m.get("spec") or {}
    cluster_name = str(spec.get("clusterName") or "")
    cluster = p.get("Cluster", ns, cluster_name)
    wl = c.workload_of(ns, cluster_name)
    st = dict(m.get("status") or {})
    conds = [dict(x) for x in st.get("conditions") or ()]
    if st.get("phase") != "Deleting":
        st["phase"] = "Deleting"
        st["lastUpdated"] = now_iso()
    node = wl.store.get(NODES, None, name) if wl is not None else None
    cluster_going = cluster is None or _deleting(cluster)
    if node is not None and not cluster_going and EXCLUDE_DRAIN not in (md.get("annotations") or {}):
        assert wl is not None
        left, blocked = _drain(wl, name)
        if left:
            msg = f"Draining Node {name}: waiting for {len(left)} pod(s) to go: {', '.join(left[:10])}"
            if blocked:
                msg += "; Cannot evict pod as it would violate the pod's disruption budget: " + ", ".join(blocked[:10])
            _cond(conds, "DrainingSucceeded", "False", "Draining", msg, "Info")
            st["conditions"] = _sorted(conds)
            p.write_status("Machine", m, st)
            c.machine_q.add_after((ns, name), p.config.drain_retry_seconds)
            return
        _cond(conds, "DrainingSucceeded", "True")
    if node is not None and wl is not None:
        with contextlib.suppress(ApiError):
            wl.store.delete(NODES, None, name)
        p.record(m, "Normal", "NodeDeleted", f"Node {name} deleted from cluster {wl.name}", COMPONENT)
    st["conditions"] = _sorted(conds)
    m = p.write_status("Machine", m, st)
    # release the infrastructure and the bootstrap data, then let the Machine go
    for kind, ref in (("SandboxMachine", spec.get("infrastructureRef") or {}),
                      ("KubeadmConfig", (spec.get("bootstrap") or {}).get("configRef") or {})):
        if ref.get("name"):
            obj = p.get(kind, ns, str(ref["name"]))
            if obj is not None:
                if kind == "KubeadmConfig":
                    with contextlib.suppress(ApiError):
                        p.store.delete(SECRETS, ns, str(ref["name"]))
                p.delete(kind, ns, str(ref["name"]))
    c._boot.pop((ns, name), None)
    c._finalize("Machine", m, MACHINE_FINALIZER, False)


def _drain(wl: SimCluster, node_name: str) -> tuple[list[str], list[str]]:
    """Cordon the node and evict its pods as ``kubectl drain`` does (DaemonSet and mirror pods are
    left alone; PodDisruptionBudgets respected).  Returns (pods still there, pods a budget refused)."""
    store = wl.store
    node = store.get(NODES, None, node_name)
    if node is not None and not (node.get("spec") or {}).get("unschedulable"):
        with contextlib.suppress(ApiError):
            store.mutate(NODES, None, node_name, lambda n: n.setdefault("spec", {}).__setitem__("unschedulable", True))
    pods, _ = store.list(PODS, field_selector=f"spec.nodeName={node_name}")
    left: list[str] = []
    blocked: list[str] = []
    for pod in pods:
        pmd = pod["metadata"]
        if any(r.get("kind") == "DaemonSet" for r in pmd.get("ownerReferences") or ()) or \
                "kubernetes.io/config.mirror" in (pmd.get("annotations") or {}):
            continue
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            continue
        ref = f"{pmd['namespace']}/{pmd['name']}"
        left.append(ref)
        if pmd.get("deletionTimestamp"):
            continue
        # the eviction subresource's decision (sandbox.server._evict)
        if phase != "Pending" and blocking_budget(store, pod) is not None:
            blocked.append(ref)
            continue
        with contextlib.suppress(ApiError):
            store.delete(PODS, pmd["namespace"], pmd["name"])
    return left, blocked


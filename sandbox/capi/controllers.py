"""The simulated Cluster API controllers: Cluster, KubeadmControlPlane, MachineDeployment,
MachineSet, Machine (with the kubeadm bootstrap and the sandbox infrastructure provider folded
into the Machine's reconcile) and SandboxCluster.

They behave like Cluster API's (phases, condition names and reasons, owner references,
finalizers, one-machine-at-a-time rollouts, cordon + drain before a Node goes), against the
management cluster's store; the provisioned cluster is a :class:`sandbox.cluster.SimCluster` of
the same fleet whose Nodes the Machine controller creates and deletes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import string
from typing import TYPE_CHECKING, Any

import yaml

from sandbox.capi.provider import CLUSTER_NAME_LABEL, FLEET_ANNOTATION, PLURALS
from sandbox.controllers.base import int_or_percent, owner_ref, set_condition, template_hash
from sandbox.errors import ApiError
from sandbox.resources import SECRETS

if TYPE_CHECKING:
    from sandbox.capi.provider import CapiProvider
    from sandbox.cluster import SimCluster

DEPLOYMENT_NAME_LABEL = "cluster.x-k8s.io/deployment-name"
SET_NAME_LABEL = "cluster.x-k8s.io/set-name"
CONTROL_PLANE_LABEL = "cluster.x-k8s.io/control-plane"
CONTROL_PLANE_NAME_LABEL = "cluster.x-k8s.io/control-plane-name"
TEMPLATE_HASH_LABEL = "machine-template-hash"
DELETE_MACHINE_ANNOTATION = "cluster.x-k8s.io/delete-machine"
TEMPLATE_ANNOTATION = "sandbox.cluster.x-k8s.io/infrastructure-template"
SECRET_TYPE = "cluster.x-k8s.io/secret"
SERVER_ANNOTATION = "sandbox.k8s.io/server"
CLUSTER_CONFIGURATION_ANNOTATION = "controlplane.cluster.x-k8s.io/kubeadm-cluster-configuration"

CLUSTER_FINALIZER = "cluster.cluster.x-k8s.io"
KCP_FINALIZER = "kubeadm.controlplane.cluster.x-k8s.io"
MD_FINALIZER = "cluster.x-k8s.io/machinedeployment"  # Cluster API v1beta1's own names
MS_FINALIZER = "cluster.x-k8s.io/machineset"
# names an earlier sandbox used (objects in a saved snapshot may carry them): dropped with the current one
LEGACY_FINALIZERS = {MD_FINALIZER: "machinedeployment.cluster.x-k8s.io", MS_FINALIZER: "machineset.cluster.x-k8s.io"}
MACHINE_FINALIZER = "machine.cluster.x-k8s.io"
SC_FINALIZER = "sandboxcluster.infrastructure.cluster.x-k8s.io"

# SandboxMachineTemplate sizes -> Node capacity
SIZES = {"small": ("2", "4Gi"), "medium": ("4", "8Gi"), "large": ("8", "16Gi"), "xlarge": ("16", "32Gi")}


def _rand5() -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=5))


def _cond(conds: list[dict[str, Any]], ctype: str, status: str, reason: str = "", message: str = "",
          severity: str = "") -> None:
    """Set a Cluster API condition (``severity`` only on False ones), keeping transition times."""
    set_condition(conds, ctype, status, reason, message)
    for c in conds:
        if c.get("type") == ctype:
            if status == "False" and severity:
                c["severity"] = severity
            else:
                c.pop("severity", None)


def _sorted(conds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(conds, key=lambda c: (c.get("type") != "Ready", str(c.get("type"))))


def _get_cond(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any] | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or ():
        if c.get("type") == ctype:
            return dict(c)
    return None


def _true(obj: dict[str, Any] | None, ctype: str) -> bool:
    c = _get_cond(obj, ctype)
    return bool(c and c.get("status") == "True")


def _summary(conds: list[dict[str, Any]], types: tuple[str, ...]) -> None:
    """``Ready`` = all of ``types`` True, else the first one that is not (its reason and severity)."""
    for t in types:
        c = next((c for c in conds if c.get("type") == t), None)
        if c is None or c.get("status") != "True":
            if c is None:
                _cond(conds, "Ready", "False", f"WaitingFor{t}", "", "Info")
            else:
                _cond(conds, "Ready", "False", str(c.get("reason") or ""), str(c.get("message") or ""),
                      str(c.get("severity") or "Info"))
            return
    _cond(conds, "Ready", "True")


def _owned_by(obj: dict[str, Any], uid: str) -> bool:
    return any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or ())


def _owner_name(obj: dict[str, Any], kind: str) -> str:
    for r in obj["metadata"].get("ownerReferences") or ():
        if r.get("kind") == kind:
            return str(r.get("name") or "")
    return ""


def _deleting(obj: dict[str, Any] | None) -> bool:
    return bool(obj and obj["metadata"].get("deletionTimestamp"))


def _created(obj: dict[str, Any]) -> tuple[str, str]:
    return (str(obj["metadata"].get("creationTimestamp") or ""), obj["metadata"]["name"])


def _machine_ready(m: dict[str, Any]) -> bool:
    return not _deleting(m) and (m.get("status") or {}).get("phase") == "Running" and _true(m, "NodeHealthy")


def _version_key(v: str) -> tuple[int, ...]:
    parts = []
    for p in v.lstrip("v").split("-")[0].split("."):
        parts.append(int(p) if p.isdigit() else 0)
    return tuple(parts)


def _failed(m: dict[str, Any]) -> bool:
    st = m.get("status") or {}
    return bool(st.get("failureReason") or st.get("phase") == "Failed")


class Controllers:
    def __init__(self, p: CapiProvider) -> None:
        self.p = p
        self.cluster_q = p.queue("cluster", self.sync_cluster)
        self.sc_q = p.queue("sandboxcluster", self.sync_sandbox_cluster)
        self.kcp_q = p.queue("kubeadmcontrolplane", self.sync_kcp)
        self.md_q = p.queue("machinedeployment", self.sync_md)
        self.ms_q = p.queue("machineset", self.sync_ms)
        self.machine_q = p.queue("machine", self.sync_machine)
        self._starting: set[str] = set()  # fleet names being started
        self._stopping: set[str] = set()
        self._boot: dict[tuple[str, str], float] = {}  # machine -> monotonic time its instance started

    # ------------------------------------------------------------ dispatch

    def enqueue(self, kind: str, obj: dict[str, Any]) -> None:
        md = obj["metadata"]
        key = (md.get("namespace", ""), md["name"])
        q = {"Cluster": self.cluster_q, "SandboxCluster": self.sc_q, "KubeadmControlPlane": self.kcp_q,
             "MachineDeployment": self.md_q, "MachineSet": self.ms_q, "Machine": self.machine_q}.get(kind)
        if q is not None:
            q.add(key)

    def _enqueue_cluster_objects(self, ns: str, cluster: str) -> None:
        for kind in ("KubeadmControlPlane", "MachineDeployment", "MachineSet", "Machine", "SandboxCluster"):
            for obj in self.p.select(kind, ns, {CLUSTER_NAME_LABEL: cluster}):
                self.enqueue(kind, obj)

    def _cluster_of(self, kind: str, obj: dict[str, Any]) -> str:
        if kind in ("KubeadmControlPlane", "SandboxCluster"):
            return _owner_name(obj, "Cluster") or str((obj["metadata"].get("labels") or {}).get(CLUSTER_NAME_LABEL, ""))
        return str((obj.get("spec") or {}).get("clusterName") or "")

    def on_change(self, kind: str, etype: str, obj: dict[str, Any]) -> None:
        md = obj["metadata"]
        ns = md.get("namespace", "")
        self.enqueue(kind, obj)
        if kind == "Cluster":
            self._enqueue_cluster_objects(ns, md["name"])
        elif kind in ("KubeadmControlPlane", "MachineDeployment", "SandboxCluster"):
            cl = self._cluster_of(kind, obj)
            if cl:
                self.cluster_q.add((ns, cl))
            if kind == "SandboxCluster" and cl:
                for m in self.p.select("Machine", ns, {CLUSTER_NAME_LABEL: cl}):
                    self.enqueue("Machine", m)
        elif kind == "MachineSet":
            owner = _owner_name(obj, "MachineDeployment")
            if owner:
                self.md_q.add((ns, owner))
        elif kind == "Machine":
            for okind, q in (("MachineSet", self.ms_q), ("KubeadmControlPlane", self.kcp_q)):
                owner = _owner_name(obj, okind)
                if owner:
                    q.add((ns, owner))
            dep = (md.get("labels") or {}).get(DEPLOYMENT_NAME_LABEL)
            if dep:
                self.md_q.add((ns, dep))
            cl = str((obj.get("spec") or {}).get("clusterName") or "")
            if cl:
                self.cluster_q.add((ns, cl))
                if etype == "DELETED":  # a freed quota slot
                    for m in self.p.select("Machine", ns, {CLUSTER_NAME_LABEL: cl}):
                        self.enqueue("Machine", m)
        elif kind in ("SandboxMachine", "KubeadmConfig"):
            owner = _owner_name(obj, "Machine")
            if owner:
                self.machine_q.add((ns, owner))

    # ------------------------------------------------------------ shared helpers

    def _finalize(self, kind: str, obj: dict[str, Any], finalizer: str, add: bool) -> dict[str, Any] | None:
        legacy = LEGACY_FINALIZERS.get(finalizer)
        current = obj["metadata"].get("finalizers") or []
        has = finalizer in current
        if has == add and (add or legacy not in current):
            return obj

        def change(o: dict[str, Any]) -> None:
            fins = [f for f in o["metadata"].get("finalizers") or [] if f not in (finalizer, legacy)]
            if add:
                fins.append(finalizer)
            if fins:
                o["metadata"]["finalizers"] = fins
            else:
                o["metadata"].pop("finalizers", None)

        return self.p.mutate(kind, obj, change)

    def _ensure_labels_owner(self, kind: str, obj: dict[str, Any], labels: dict[str, str],
                             owner: dict[str, Any] | None) -> dict[str, Any] | None:
        md = obj["metadata"]
        need_labels = any((md.get("labels") or {}).get(k) != v for k, v in labels.items())
        need_owner = owner is not None and not _owned_by(obj, owner["metadata"]["uid"])
        if not need_labels and not need_owner:
            return obj

        def change(o: dict[str, Any]) -> None:
            o["metadata"].setdefault("labels", {}).update(labels)
            if owner is not None and not _owned_by(o, owner["metadata"]["uid"]):
                ref = owner_ref(owner, controller=False)
                o["metadata"]["ownerReferences"] = [*(o["metadata"].get("ownerReferences") or []), ref]

        return self.p.mutate(kind, obj, change)

    def cluster_parts(self, ns: str, name: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None,
                                                         dict[str, Any] | None]:
        """(Cluster, SandboxCluster, KubeadmControlPlane) of one cluster name."""
        c = self.p.get("Cluster", ns, name)
        if c is None:
            return None, None, None
        spec = c.get("spec") or {}
        infra_ref = spec.get("infrastructureRef") or {}
        cp_ref = spec.get("controlPlaneRef") or {}
        infra = self.p.get("SandboxCluster", ns, infra_ref.get("name", "")) \
            if infra_ref.get("kind") == "SandboxCluster" else None
        cp = self.p.get("KubeadmControlPlane", ns, cp_ref.get("name", "")) \
            if cp_ref.get("kind") == "KubeadmControlPlane" else None
        return c, infra, cp

    def workload_of(self, ns: str, cluster_name: str) -> SimCluster | None:
        _, infra, _ = self.cluster_parts(ns, cluster_name)
        if infra is None:
            return None
        fname = (infra["metadata"].get("annotations") or {}).get(FLEET_ANNOTATION)
        return self.p.workload(fname) if fname else None

    # ------------------------------------------------------------ Cluster

    def sync_cluster(self, key: tuple[str, str]) -> None:
        ns, name = key
        c, infra, cp = self.cluster_parts(ns, name)
        if c is None:
            return
        if _deleting(c):
            self._delete_cluster(c, infra, cp)
            return
        c2 = self._finalize("Cluster", c, CLUSTER_FINALIZER, True)
        if c2 is None:
            return
        c = c2
        for kind, obj in (("SandboxCluster", infra), ("KubeadmControlPlane", cp)):
            if obj is not None and not _deleting(obj):
                self._ensure_labels_owner(kind, obj, {CLUSTER_NAME_LABEL: name}, c)
        st = dict(c.get("status") or {})
        conds = [dict(x) for x in st.get("conditions") or ()]
        infra_ready = bool(infra and (infra.get("status") or {}).get("ready"))
        cp_status = (cp or {}).get("status") or {}
        initialized = bool(cp_status.get("initialized"))
        cp_ready = bool(cp is not None and _true(cp, "MachinesReady") and initialized
                        and int(cp_status.get("readyReplicas") or 0) >= int((cp.get("spec") or {}).get("replicas", 1)))
        endpoint = (infra or {}).get("spec", {}).get("controlPlaneEndpoint") or {}
        if endpoint.get("host") and not (c.get("spec") or {}).get("controlPlaneEndpoint", {}).get("host"):
            c2 = self.p.mutate("Cluster", c, lambda o: o["spec"].__setitem__("controlPlaneEndpoint", dict(endpoint)))
            if c2 is None:
                return
            c = c2
        if infra is None:
            _cond(conds, "InfrastructureReady", "False", "WaitingForInfrastructure", "", "Info")
        elif infra_ready:
            _cond(conds, "InfrastructureReady", "True")
        else:
            ic = _get_cond(infra, "Ready") or {}
            _cond(conds, "InfrastructureReady", "False", str(ic.get("reason") or "WaitingForInfrastructure"),
                  str(ic.get("message") or ""), str(ic.get("severity") or "Info"))
        if initialized:
            _cond(conds, "ControlPlaneInitialized", "True")
        else:
            _cond(conds, "ControlPlaneInitialized", "False", "WaitingForControlPlaneProviderInitialized",
                  "Waiting for control plane provider to indicate the control plane has been initialized", "Info")
        if cp_ready:
            _cond(conds, "ControlPlaneReady", "True")
        else:
            cc = _get_cond(cp, "Ready") or {}
            _cond(conds, "ControlPlaneReady", "False", str(cc.get("reason") or "WaitingForControlPlane"),
                  str(cc.get("message") or ""), str(cc.get("severity") or "Info"))
        machines = [m for m in self.p.select("Machine", ns, {CLUSTER_NAME_LABEL: name})
                    if (m.get("spec") or {}).get("clusterName") == name]
        _summary(conds, ("InfrastructureReady", "ControlPlaneReady"))
        if _true({"status": {"conditions": conds}}, "Ready"):
            not_ready = sorted(m["metadata"]["name"] for m in machines if not _true(m, "Ready"))
            failed = [m for m in machines if _failed(m) or any(
                x.get("status") == "False" and x.get("severity") == "Error"
                for x in (m.get("status") or {}).get("conditions") or ())]
            if not machines or not_ready:
                _cond(conds, "Ready", "False", "MachinesNotReady" if machines else "WaitingForMachines",
                      f"Machines not ready: {', '.join(not_ready[:10])}" if not_ready else "",
                      "Error" if failed else "Info")
        phase = "Provisioning" if infra is not None or cp is not None else "Pending"
        if infra_ready and initialized:
            phase = "Provisioned"
        st.update({"phase": phase, "infrastructureReady": infra_ready, "controlPlaneReady": cp_ready,
                   "observedGeneration": c["metadata"].get("generation", 1), "conditions": _sorted(conds)})
        self.p.write_status("Cluster", c, st)

    def _delete_cluster(self, c: dict[str, Any], infra: dict[str, Any] | None, cp: dict[str, Any] | None) -> None:
        md = c["metadata"]
        ns, name = md["namespace"], md["name"]
        st = dict(c.get("status") or {})
        if st.get("phase") != "Deleting":
            st["phase"] = "Deleting"
            c = self.p.write_status("Cluster", c, st)
            self.p.record(c, "Normal", "Deleting", f"Cluster {name} is being deleted", "cluster-controller")
        # Cluster API's order (cluster_controller reconcileDelete): the workers first (MachineDeployments,
        # MachineSets, worker Machines: what the Cluster owns is deleted, the rest goes with its owner),
        # then the control plane (KCP deletes its Machines), then the infrastructure, then the finalizer.
        left = 0
        for kind in ("MachineDeployment", "MachineSet", "Machine"):
            for obj in self.p.list(kind, ns):
                if self._cluster_of(kind, obj) != name:
                    continue
                if kind == "Machine" and CONTROL_PLANE_LABEL in (obj["metadata"].get("labels") or {}):
                    continue
                left += 1
                if not _deleting(obj) and (kind == "MachineDeployment" or not obj["metadata"].get("ownerReferences")):
                    self.p.delete(kind, ns, obj["metadata"]["name"])
        if left:
            return
        for kcp in self.p.list("KubeadmControlPlane", ns):
            is_cp = cp is not None and kcp["metadata"]["name"] == cp["metadata"]["name"]
            if self._cluster_of("KubeadmControlPlane", kcp) != name and not is_cp:
                continue
            left += 1
            if not _deleting(kcp):
                self.p.delete("KubeadmControlPlane", ns, kcp["metadata"]["name"])
        for m in self.p.select("Machine", ns, {CLUSTER_NAME_LABEL: name}):
            if CONTROL_PLANE_LABEL in (m["metadata"].get("labels") or {}):
                left += 1  # KCP's machines go with it; orphans (no owner) are deleted here
                if not _deleting(m) and not m["metadata"].get("ownerReferences"):
                    self.p.delete("Machine", ns, m["metadata"]["name"])
        if left:
            return
        if infra is not None:
            if not _deleting(infra):
                self.p.delete("SandboxCluster", ns, infra["metadata"]["name"])
            return
        with contextlib.suppress(ApiError):
            self.p.store.delete(SECRETS, ns, f"{name}-kubeconfig")
        self._finalize("Cluster", c, CLUSTER_FINALIZER, False)

    # ------------------------------------------------------------ SandboxCluster (infrastructure)

    def sync_sandbox_cluster(self, key: tuple[str, str]) -> None:
        ns, name = key
        sc = self.p.get("SandboxCluster", ns, name)
        if sc is None:
            return
        fname = str((sc["metadata"].get("annotations") or {}).get(FLEET_ANNOTATION, ""))
        if _deleting(sc):
            wl = self.p.workload(fname) if fname else None
            if wl is not None:
                if fname not in self._stopping:
                    self._stopping.add(fname)
                    self.p.forget_workload(fname)
                    self.p.spawn(self.p.fleet.remove_cluster(fname), lambda: self._stopped(fname, ns, name))
                return
            if fname in self._stopping or fname in self._starting:
                return
            self._finalize("SandboxCluster", sc, SC_FINALIZER, False)
            return
        sc2 = self._finalize("SandboxCluster", sc, SC_FINALIZER, True)
        if sc2 is None:
            return
        sc = sc2
        st = dict(sc.get("status") or {})
        conds = [dict(x) for x in st.get("conditions") or ()]
        cluster_name = _owner_name(sc, "Cluster")
        if not cluster_name:
            _cond(conds, "Ready", "False", "WaitingForClusterOwnerRef", "waiting for the Cluster controller to "
                  "set the owner reference", "Info")
            st.update({"ready": False, "conditions": _sorted(conds)})
            self.p.write_status("SandboxCluster", sc, st)
            return
        if not fname:
            fname = self._free_name(cluster_name)

            def annotate(o: dict[str, Any]) -> None:
                o["metadata"].setdefault("annotations", {})[FLEET_ANNOTATION] = fname

            sc2 = self.p.mutate("SandboxCluster", sc, annotate)
            if sc2 is None:
                return
            sc = sc2
        wl = self.p.workload(fname)
        if wl is None:
            if fname not in self._starting and fname not in self.p.fleet.clusters:
                self._start_workload(sc, fname, cluster_name)
            _cond(conds, "Ready", "False", "ClusterProvisioning", f"starting simulated cluster {fname}", "Info")
            st.update({"ready": False, "conditions": _sorted(conds)})
            self.p.write_status("SandboxCluster", sc, st)
            return
        self.p.watch_nodes(wl)
        endpoint = {"host": "127.0.0.1", "port": wl.port}
        if (sc.get("spec") or {}).get("controlPlaneEndpoint") != endpoint:
            sc2 = self.p.mutate("SandboxCluster", sc, lambda o: o.setdefault("spec", {}).__setitem__(
                "controlPlaneEndpoint", endpoint))
            if sc2 is None:
                return
            sc = sc2
        _cond(conds, "Ready", "True")
        st.update({"ready": True, "server": wl.url, "fleetCluster": fname, "conditions": _sorted(conds)})
        self.p.write_status("SandboxCluster", sc, st)

    def _free_name(self, cluster_name: str) -> str:
        taken = set(self.p.fleet.clusters) | self._starting
        if cluster_name not in taken:
            return cluster_name
        while True:
            cand = f"{cluster_name[:57]}-{_rand5()}"
            if cand not in taken:
                return cand

    def _start_workload(self, sc: dict[str, Any], fname: str, cluster_name: str) -> None:
        ns = sc["metadata"]["namespace"]
        _, _, cp = self.cluster_parts(ns, cluster_name)
        version = str(((cp or {}).get("spec") or {}).get("version") or "") or None
        mgmt = self.p.cluster
        self._starting.add(fname)
        cluster = self.p.get("Cluster", ns, cluster_name) or {"metadata": {}}
        region = (cluster["metadata"].get("labels") or {}).get("topology.kubernetes.io/region") or mgmt.spec.region
        kwargs: dict[str, Any] = {"nodes": 0, "provider": mgmt.spec.provider, "region": str(region),
                                  "provisioned_by": {"management": mgmt.name, "namespace": ns,
                                                     "name": cluster_name}}
        if version:
            kwargs["version"] = version

        def done() -> None:
            self._starting.discard(fname)
            if fname in self.p.fleet.clusters:
                self.sc_q.add((ns, sc["metadata"]["name"]))
                self.cluster_q.add((ns, cluster_name))
            else:  # could not start (logged): try again later
                self.sc_q.add_after((ns, sc["metadata"]["name"]), self.p.config.resync_seconds)

        self.p.spawn(self.p.fleet.add_cluster(fname, **kwargs), done)
        self.p.record(sc, "Normal", "Provisioning", f"starting simulated cluster {fname}", "sandbox-infrastructure")

    def _stopped(self, fname: str, ns: str, name: str) -> None:
        self._stopping.discard(fname)
        self.sc_q.add((ns, name))

    # ------------------------------------------------------------ machines from templates

    def _new_machine(self, owner: dict[str, Any], name: str, cluster: str, spec: dict[str, Any],
                     labels: dict[str, str], bootstrap_spec: dict[str, Any] | None,
                     annotations: dict[str, str] | None = None) -> str | None:
        """Clone the infrastructure template into a SandboxMachine, the bootstrap spec into a
        KubeadmConfig, and create the Machine that refers to both.  Returns an error message when
        a template is missing (the Machine is then not created)."""
        ns = owner["metadata"]["namespace"]
        infra_ref = spec.get("infrastructureRef") or {}
        tmpl = self.p.get("SandboxMachineTemplate", ns, str(infra_ref.get("name") or "")) \
            if infra_ref.get("kind") == "SandboxMachineTemplate" else None
        if tmpl is None:
            return f"failed to retrieve {infra_ref.get('kind') or 'infrastructure template'} " \
                   f"{ns}/{infra_ref.get('name')}: not found"
        boot = spec.get("bootstrap") or {}
        if bootstrap_spec is None and not boot.get("dataSecretName"):
            ref = boot.get("configRef") or {}
            btmpl = self.p.get("KubeadmConfigTemplate", ns, str(ref.get("name") or "")) \
                if ref.get("kind") == "KubeadmConfigTemplate" else None
            if btmpl is None:
                return f"failed to retrieve {ref.get('kind') or 'bootstrap template'} {ns}/{ref.get('name')}: " \
                       "not found"
            bootstrap_spec = dict(((btmpl.get("spec") or {}).get("template") or {}).get("spec") or {})
        mspec: dict[str, Any] = {"clusterName": cluster, "version": spec.get("version", ""),
                                 "infrastructureRef": {"apiVersion": tmpl["apiVersion"], "kind": "SandboxMachine",
                                                       "name": name, "namespace": ns},
                                 "bootstrap": {}}
        if bootstrap_spec is not None:
            mspec["bootstrap"]["configRef"] = {"apiVersion": f"{PLURALS['KubeadmConfig'][0]}/v1beta1",
                                               "kind": "KubeadmConfig", "name": name, "namespace": ns}
        else:
            mspec["bootstrap"]["dataSecretName"] = boot["dataSecretName"]
        for k in ("failureDomain", "nodeDrainTimeout", "nodeDeletionTimeout"):
            if k in spec:
                mspec[k] = spec[k]
        machine = self.p.create("Machine", {
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels),
                         "annotations": {TEMPLATE_ANNOTATION: tmpl["metadata"]["name"], **(annotations or {})},
                         "ownerReferences": [owner_ref(owner)], "finalizers": [MACHINE_FINALIZER]},
            "spec": mspec})
        base_labels = {CLUSTER_NAME_LABEL: cluster}
        tmeta = ((tmpl.get("spec") or {}).get("template") or {}).get("metadata") or {}
        self.p.create("SandboxMachine", {
            "metadata": {"name": name, "namespace": ns, "labels": {**(tmeta.get("labels") or {}), **base_labels},
                         "annotations": {"cluster.x-k8s.io/cloned-from-name": tmpl["metadata"]["name"],
                                         "cluster.x-k8s.io/cloned-from-groupkind":
                                             "SandboxMachineTemplate.infrastructure.cluster.x-k8s.io"},
                         "ownerReferences": [owner_ref(machine)]},
            "spec": dict(((tmpl.get("spec") or {}).get("template") or {}).get("spec") or {})})
        if bootstrap_spec is not None:
            self.p.create("KubeadmConfig", {
                "metadata": {"name": name, "namespace": ns, "labels": base_labels,
                             "ownerReferences": [owner_ref(machine)]},
                "spec": bootstrap_spec})
        return None

    # ------------------------------------------------------------ KubeadmControlPlane

    def sync_kcp(self, key: tuple[str, str]) -> None:
        ns, name = key
        kcp = self.p.get("KubeadmControlPlane", ns, name)
        if kcp is None:
            return
        uid = kcp["metadata"]["uid"]
        machines = [m for m in self.p.select("Machine", ns, {CONTROL_PLANE_NAME_LABEL: name}) if _owned_by(m, uid)]
        if _deleting(kcp):
            for m in machines:
                if not _deleting(m):
                    self.p.delete("Machine", ns, m["metadata"]["name"])
            if not machines:
                self._finalize("KubeadmControlPlane", kcp, KCP_FINALIZER, False)
            return
        kcp2 = self._finalize("KubeadmControlPlane", kcp, KCP_FINALIZER, True)
        if kcp2 is None:
            return
        kcp = kcp2
        spec = kcp.get("spec") or {}
        cluster_name = _owner_name(kcp, "Cluster")
        desired = int(spec.get("replicas", 1))
        version = str(spec.get("version") or "")
        tmpl_name = str(((spec.get("machineTemplate") or {}).get("infrastructureRef") or {}).get("name") or "")
        st = dict(kcp.get("status") or {})
        conds = [dict(x) for x in st.get("conditions") or ()]
        initialized = bool(st.get("initialized")) or any(
            (m.get("status") or {}).get("nodeRef") for m in machines)

        cluster_config = json.dumps((spec.get("kubeadmConfigSpec") or {}).get("clusterConfiguration") or {},
                                    sort_keys=True, separators=(",", ":"))

        def up_to_date(m: dict[str, Any]) -> bool:
            ann = m["metadata"].get("annotations") or {}
            return ((m.get("spec") or {}).get("version") == version and ann.get(TEMPLATE_ANNOTATION) == tmpl_name
                    and ann.get(CLUSTER_CONFIGURATION_ANNOTATION, cluster_config) == cluster_config)

        active = sorted((m for m in machines if not _deleting(m)), key=_created)
        wl = self.workload_of(ns, cluster_name) if cluster_name else None
        error = ""
        if cluster_name and wl is not None:
            create = delete = None
            outdated = [m for m in active if not up_to_date(m)]
            if not initialized:
                create = not active
            elif any(_deleting(m) for m in machines) or any(not _machine_ready(m) for m in active):
                pass  # one machine at a time: wait for the one in flight
            elif len(active) < desired or (outdated and len(active) <= desired):
                create = True
            elif outdated:
                delete = outdated[0]
            elif len(active) > desired:
                delete = active[0]
            if create:
                mname = f"{name}-{_rand5()}"
                labels = {CLUSTER_NAME_LABEL: cluster_name, CONTROL_PLANE_LABEL: "",
                          CONTROL_PLANE_NAME_LABEL: name,
                          **(((spec.get("machineTemplate") or {}).get("metadata") or {}).get("labels") or {})}
                boot = dict(spec.get("kubeadmConfigSpec") or {})
                if active or initialized:  # kubeadm join
                    boot.pop("initConfiguration", None)
                    boot.pop("clusterConfiguration", None)
                    boot["joinConfiguration"] = {**(boot.get("joinConfiguration") or {}), "controlPlane": {}}
                else:  # kubeadm init
                    boot.pop("joinConfiguration", None)
                    boot.setdefault("initConfiguration", {})
                mspec = {"version": version, "infrastructureRef": (spec.get("machineTemplate") or {}).get(
                    "infrastructureRef") or {}}
                err = self._new_machine(kcp, mname, cluster_name, mspec, labels, boot,
                                        {CLUSTER_CONFIGURATION_ANNOTATION: cluster_config})
                if err:
                    error = err
                else:
                    self.p.record(kcp, "Normal", "SuccessfulCreate", f"Created machine {mname}",
                                  "kubeadm-control-plane-controller")
            if delete is not None:
                self.p.delete("Machine", ns, delete["metadata"]["name"])
                self.p.record(kcp, "Normal", "SuccessfulDelete", f"Deleted machine {delete['metadata']['name']}",
                              "kubeadm-control-plane-controller")
        machines = [m for m in self.p.select("Machine", ns, {CONTROL_PLANE_NAME_LABEL: name}) if _owned_by(m, uid)]
        ready = [m for m in machines if _machine_ready(m)]
        updated = [m for m in machines if up_to_date(m) and not _deleting(m)]
        versions = sorted({str((m.get("spec") or {}).get("version") or "") for m in machines} - {""},
                          key=_version_key)
        if initialized:
            self._ensure_kubeconfig(ns, cluster_name, wl)
        if wl is not None and initialized and ready and all(up_to_date(m) for m in machines) \
                and len(ready) == len(machines) and wl.spec.version != version:
            wl.spec.version = version  # /version follows the control plane once it has rolled
            self.p.fleet.write_index()
        if error:
            _cond(conds, "MachinesCreated", "False", "InfrastructureTemplateCloningFailed", error, "Error")
        else:
            _cond(conds, "MachinesCreated", "True")
        _cond(conds, "Available", "True" if initialized else "False",
              "" if initialized else "WaitingForKubeadmInit", "", "Info")
        _cond(conds, "CertificatesAvailable", "True")
        if len(machines) > desired and all(up_to_date(m) for m in machines):
            _cond(conds, "Resized", "False", "ScalingDown", f"Scaling down control plane to {desired} replicas "
                  f"(actual {len(machines)})", "Warning")
        elif len(machines) < desired:
            _cond(conds, "Resized", "False", "ScalingUp", f"Scaling up control plane to {desired} replicas "
                  f"(actual {len(machines)})", "Warning")
        else:
            _cond(conds, "Resized", "True")
        if len(updated) < len(machines) or (len(updated) < desired and any(not up_to_date(m) for m in machines)):
            _cond(conds, "MachinesSpecUpToDate", "False", "RollingUpdateInProgress",
                  f"Rolling {len(machines)} replicas with outdated spec ({len(machines) - len(updated)} replicas "
                  "up to date)", "Warning")
        else:
            _cond(conds, "MachinesSpecUpToDate", "True")
        bad = [m for m in machines if not _machine_ready(m) and not _deleting(m)]
        if bad:
            worst = next((m for m in bad if _failed(m)), bad[0])
            rc = _get_cond(worst, "Ready") or {}
            _cond(conds, "MachinesReady", "False", str(rc.get("reason") or "WaitingForMachines"),
                  str(rc.get("message") or f"Machine {worst['metadata']['name']} is not ready"),
                  str(rc.get("severity") or "Info"))
        elif machines:
            _cond(conds, "MachinesReady", "True")
        else:
            _cond(conds, "MachinesReady", "False", "WaitingForMachines", "", "Info")
        _summary(conds, ("Available", "MachinesReady", "Resized", "MachinesSpecUpToDate"))
        st.update({"replicas": len(machines), "readyReplicas": len(ready), "updatedReplicas": len(updated),
                   "unavailableReplicas": max(0, len(machines) - len(ready)), "initialized": initialized,
                   "ready": bool(initialized and ready), "selector": f"{CLUSTER_NAME_LABEL}={cluster_name},"
                                                                     f"{CONTROL_PLANE_LABEL}",
                   "observedGeneration": kcp["metadata"].get("generation", 1), "conditions": _sorted(conds)})
        if versions:
            st["version"] = versions[0]
        self.p.write_status("KubeadmControlPlane", kcp, st)

    def _ensure_kubeconfig(self, ns: str, cluster_name: str, wl: SimCluster | None) -> None:
        """``<cluster>-kubeconfig``: what Cluster API writes once the control plane is initialized."""
        secret_name = f"{cluster_name}-kubeconfig"
        if wl is None:
            return
        existing = self.p.store.get(SECRETS, ns, secret_name)
        if existing is not None:
            if (existing["metadata"].get("annotations") or {}).get(SERVER_ANNOTATION, wl.url) == wl.url:
                return
            with contextlib.suppress(ApiError):  # the simulated cluster came back on another port
                self.p.store.delete(SECRETS, ns, secret_name)
        cluster = self.p.get("Cluster", ns, cluster_name)
        if cluster is None or _deleting(cluster):
            return
        from sandbox.certs import mint_client_cert

        state = self.p.fleet.state_dir
        cert, key = mint_client_cert(state, "kubernetes-admin", ["system:masters"])
        ca = (state / "ca.crt").read_bytes()
        user = f"{cluster_name}-admin"
        cfg = {"apiVersion": "v1", "kind": "Config",
               "clusters": [{"name": cluster_name, "cluster": {
                   "server": wl.url, "certificate-authority-data": base64.b64encode(ca).decode()}}],
               "contexts": [{"name": f"{user}@{cluster_name}", "context": {"cluster": cluster_name, "user": user}}],
               "current-context": f"{user}@{cluster_name}", "preferences": {},
               "users": [{"name": user, "user": {"client-certificate-data": base64.b64encode(cert).decode(),
                                                 "client-key-data": base64.b64encode(key).decode()}}]}
        text = yaml.safe_dump(cfg, sort_keys=False)
        ref = owner_ref(cluster)
        with contextlib.suppress(ApiError):
            self.p.store.create(SECRETS, {
                "apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
                "metadata": {"name": secret_name, "namespace": ns, "labels": {CLUSTER_NAME_LABEL: cluster_name},
                             "annotations": {SERVER_ANNOTATION: wl.url}, "ownerReferences": [ref]},
                "data": {"value": base64.b64encode(text.encode()).decode()}}, field_manager="capi-kubeconfig")

    # ------------------------------------------------------------ MachineDeployment

    def sync_md(self, key: tuple[str, str]) -> None:
        ns, name = key
        md = self.p.get("MachineDeployment", ns, name)
        if md is None:
            return
        uid = md["metadata"]["uid"]
        sets = [s for s in self.p.select("MachineSet", ns, {DEPLOYMENT_NAME_LABEL: name}) if _owned_by(s, uid)]
        if _deleting(md):
            for s in sets:
                if not _deleting(s):
                    self.p.delete("MachineSet", ns, s["metadata"]["name"])
            if not sets:
                self._finalize("MachineDeployment", md, MD_FINALIZER, False)
            return
        spec = md.get("spec") or {}
        cluster_name = str(spec.get("clusterName") or "")
        cluster = self.p.get("Cluster", ns, cluster_name)
        md2 = self._finalize("MachineDeployment", md, MD_FINALIZER, True)
        if md2 is None:
            return
        md2 = self._ensure_labels_owner("MachineDeployment", md2, {CLUSTER_NAME_LABEL: cluster_name},
                                        cluster if cluster is not None and not _deleting(cluster) else None)
        if md2 is None:
            return
        md = md2
        desired = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        thash = template_hash(template)
        new = next((s for s in sets if (s["metadata"].get("labels") or {}).get(TEMPLATE_HASH_LABEL) == thash
                    and not _deleting(s)), None)
        olds = sorted((s for s in sets if s is not new and not _deleting(s)), key=_created)
        ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        surge = int_or_percent(ru.get("maxSurge", 1), desired, round_up=True)
        unavailable = int_or_percent(ru.get("maxUnavailable", 0), desired, round_up=False)
        if surge == 0 and unavailable == 0:
            surge = 1

        def replicas(s: dict[str, Any]) -> int:
            return int((s.get("spec") or {}).get("replicas", 0))

        def available(s: dict[str, Any]) -> int:
            return int((s.get("status") or {}).get("availableReplicas") or 0)

        old_total = sum(replicas(s) for s in olds)
        if new is None:
            start = desired if old_total == 0 else max(0, min(desired, desired + surge - old_total))
            new = self._create_ms(md, cluster_name, thash, template, start)
            if new is None:
                return
        elif old_total == 0:
            if replicas(new) != desired:
                self._scale_ms(new, desired)
        else:
            total = old_total + replicas(new)
            room = desired + surge - total
            if room > 0 and replicas(new) < desired:
                new = self._scale_ms(new, replicas(new) + min(room, desired - replicas(new))) or new
            min_available = desired - unavailable
            new_unavailable = max(0, replicas(new) - available(new))
            can_remove = old_total + replicas(new) - min_available - new_unavailable
            for s in olds:
                if can_remove <= 0:
                    break
                if replicas(s) == 0:
                    continue
                # machines of the old set that are not available can go at once
                cut = min(replicas(s), can_remove)
                self._scale_ms(s, replicas(s) - cut)
                can_remove -= cut
        for s in olds:
            if replicas(s) == 0 and int((s.get("status") or {}).get("replicas") or 0) == 0:
                self.p.delete("MachineSet", ns, s["metadata"]["name"])
        sets = [s for s in self.p.select("MachineSet", ns, {DEPLOYMENT_NAME_LABEL: name}) if _owned_by(s, uid)]
        self._md_status(md, sets, thash, desired, unavailable)

    def _create_ms(self, md: dict[str, Any], cluster_name: str, thash: str, template: dict[str, Any],
                   replicas: int) -> dict[str, Any] | None:
        ns, name = md["metadata"]["namespace"], md["metadata"]["name"]
        labels = {**((template.get("metadata") or {}).get("labels") or {}), CLUSTER_NAME_LABEL: cluster_name,
                  DEPLOYMENT_NAME_LABEL: name, TEMPLATE_HASH_LABEL: thash}
        ms_name = f"{name[:50]}-{thash}"[:63]
        if self.p.get("MachineSet", ns, ms_name) is not None:
            ms_name = f"{name[:44]}-{thash}-{_rand5()}"[:63]
        tmeta = dict(template.get("metadata") or {})
        tmeta["labels"] = labels
        ru = ((md.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
        delete_policy = str(ru.get("deletePolicy") or "Newest")
        try:
            ms = self.p.create("MachineSet", {
                "metadata": {"name": ms_name, "namespace": ns, "labels": labels,
                             "ownerReferences": [owner_ref(md)], "finalizers": [MS_FINALIZER]},
                "spec": {"clusterName": cluster_name, "replicas": replicas, "deletePolicy": delete_policy,
                         "selector": {"matchLabels": {CLUSTER_NAME_LABEL: cluster_name,
                                                      DEPLOYMENT_NAME_LABEL: name, TEMPLATE_HASH_LABEL: thash}},
                         "template": {"metadata": tmeta, "spec": dict(template.get("spec") or {})}}})
        except ApiError as exc:
            self.p.record(md, "Warning", "FailedCreate", f"Failed to create MachineSet: {exc.message}",
                          "machinedeployment-controller")
            return None
        self.p.record(md, "Normal", "SuccessfulCreate", f"Created MachineSet {ms_name}",
                      "machinedeployment-controller")
        return ms

    def _scale_ms(self, ms: dict[str, Any], replicas: int) -> dict[str, Any] | None:
        return self.p.mutate("MachineSet", ms, lambda o: o.setdefault("spec", {}).__setitem__("replicas", replicas))

    def _md_status(self, md: dict[str, Any], sets: list[dict[str, Any]], thash: str, desired: int,
                   max_unavailable: int) -> None:
        def n(s: dict[str, Any], k: str) -> int:
            return int((s.get("status") or {}).get(k) or 0)

        total = sum(n(s, "replicas") for s in sets)
        ready = sum(n(s, "readyReplicas") for s in sets)
        avail = sum(n(s, "availableReplicas") for s in sets)
        updated = sum(n(s, "replicas") for s in sets
                      if (s["metadata"].get("labels") or {}).get(TEMPLATE_HASH_LABEL) == thash)
        ns = md["metadata"]["namespace"]
        machines = self.p.select("Machine", ns, {DEPLOYMENT_NAME_LABEL: md["metadata"]["name"]})
        if any(_failed(m) for m in machines):
            phase = "Failed"
        elif ready < desired:
            phase = "ScalingUp"
        elif total > desired:
            phase = "ScalingDown"
        else:
            phase = "Running"
        st = dict(md.get("status") or {})
        conds = [dict(x) for x in st.get("conditions") or ()]
        if avail >= desired - max_unavailable:
            _cond(conds, "Available", "True")
        else:
            _cond(conds, "Available", "False", "WaitingForAvailableMachines",
                  f"Minimum availability requires {desired - max_unavailable} replicas, current {avail} available",
                  "Warning")
        bad = [m for m in machines if not _machine_ready(m) and not _deleting(m)]
        if bad:
            worst = next((m for m in bad if _failed(m)), bad[0])
            rc = _get_cond(worst, "Ready") or {}
            _cond(conds, "MachineSetReady", "False", str(rc.get("reason") or "WaitingForMachines"),
                  str(rc.get("message") or ""), str(rc.get("severity") or "Info"))
        else:
            _cond(conds, "MachineSetReady", "True")
        _summary(conds, ("Available",))
        labels = ",".join(f"{k}={v}" for k, v in sorted(
            (((md.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}).items()))
        st.update({"replicas": total, "readyReplicas": ready, "availableReplicas": avail, "updatedReplicas": updated,
                   "unavailableReplicas": max(0, max(desired, total) - avail), "phase": phase,
                   "selector": labels, "observedGeneration": md["metadata"].get("generation", 1),
                   "conditions": _sorted(conds)})
        self.p.write_status("MachineDeployment", md, st)

    # ------------------------------------------------------------ MachineSet

    def sync_ms(self, key: tuple[str, str]) -> None:
        ns, name = key
        ms = self.p.get("MachineSet", ns, name)
        if ms is None:
            return
        uid = ms["metadata"]["uid"]
        machines = [m for m in self.p.select("Machine", ns, {SET_NAME_LABEL: name}) if _owned_by(m, uid)]
        if _deleting(ms):
            for m in machines:
                if not _deleting(m):
                    self.p.delete("Machine", ns, m["metadata"]["name"])
            if not machines:
                self._finalize("MachineSet", ms, MS_FINALIZER, False)
            return
        ms2 = self._finalize("MachineSet", ms, MS_FINALIZER, True)
        if ms2 is None:
            return
        ms = ms2
        spec = ms.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        cluster_name = str(spec.get("clusterName") or "")
        active = [m for m in machines if not _deleting(m)]
        diff = len(active) - desired
        st = dict(ms.get("status") or {})
        conds = [dict(x) for x in st.get("conditions") or ()]
        error = ""
        if diff < 0:
            template = spec.get("template") or {}
            labels = {**((template.get("metadata") or {}).get("labels") or {}), CLUSTER_NAME_LABEL: cluster_name,
                      SET_NAME_LABEL: name}
            for _ in range(-diff):
                mname = f"{name[:57]}-{_rand5()}"
                err = self._new_machine(ms, mname, cluster_name, dict(template.get("spec") or {}), labels, None)
                if err:
                    error = err
                    self.p.record(ms, "Warning", "FailedCreate", f"Failed to create machine: {err}",
                                  "machineset-controller")
                    break
                self.p.record(ms, "Normal", "SuccessfulCreate", f"Created machine {mname}", "machineset-controller")
        elif diff > 0:
            # as Cluster API's delete policies: machines annotated cluster.x-k8s.io/delete-machine first, then
            # failed ones, then the newest (deletePolicy Newest, the sandbox's default) or the oldest
            marked = [m for m in active if DELETE_MACHINE_ANNOTATION in (m["metadata"].get("annotations") or {})]
            failed_first = [m for m in active if _failed(m) and m not in marked]
            rest = sorted((m for m in active if not _failed(m) and m not in marked), key=_created,
                          reverse=spec.get("deletePolicy") != "Oldest")
            for m in (marked + failed_first + rest)[:diff]:
                self.p.delete("Machine", ns, m["metadata"]["name"])
                self.p.record(ms, "Normal", "SuccessfulDelete", f"Deleted machine {m['metadata']['name']}",
                              "machineset-controller")
        if error:
            kind = "Bootstrap" if "bootstrap" in error.lower() or "KubeadmConfig" in error else "Infrastructure"
            _cond(conds, "MachinesCreated", "False", f"{kind}TemplateCloningFailed", error, "Error")
        else:
            _cond(conds, "MachinesCreated", "True")
        machines = [m for m in self.p.select("Machine", ns, {SET_NAME_LABEL: name}) if _owned_by(m, uid)]
        ready = sum(1 for m in machines if _machine_ready(m))
        bad = [m for m in machines if not _machine_ready(m) and not _deleting(m)]
        if bad:
            rc = _get_cond(bad[0], "Ready") or {}
            _cond(conds, "MachinesReady", "False", str(rc.get("reason") or "WaitingForMachines"),
                  str(rc.get("message") or ""), str(rc.get("severity") or "Info"))
        else:
            _cond(conds, "MachinesReady", "True")
        if len(active) != desired:
            _cond(conds, "Resized", "False", "ScalingUp" if len(active) < desired else "ScalingDown", "", "Warning")
        else:
            _cond(conds, "Resized", "True")
        _summary(conds, ("MachinesCreated", "Resized", "MachinesReady"))
        sel = ",".join(f"{k}={v}" for k, v in sorted(((spec.get("selector") or {}).get("matchLabels") or {}).items()))
        st.update({"replicas": len(machines), "fullyLabeledReplicas": len(machines), "readyReplicas": ready,
                   "availableReplicas": ready, "selector": sel,
                   "observedGeneration": ms["metadata"].get("generation", 1), "conditions": _sorted(conds)})
        self.p.write_status("MachineSet", ms, st)

    # ------------------------------------------------------------ Machine

    def sync_machine(self, key: tuple[str, str]) -> None:
        from sandbox.capi.machines import reconcile_machine

        reconcile_machine(self, key)

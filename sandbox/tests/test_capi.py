"""The sandbox's Cluster API slice, judged by the real kubectl and the official client: the CRDs are
served and discoverable with their printer columns; a Cluster with its control plane and
infrastructure becomes a new simulated cluster with a working kubeconfig Secret; Machines become
Nodes; pools scale up and down (cordon + drain, PodDisruptionBudgets respected); versions roll one
machine at a time; deleting the Cluster tears it down; the fault markers fail the way they say."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.capi.examples import cluster_objects, machine_template, pool
from sandbox.controllers.config import fast
from sandbox.testing import SandboxFleet, running_sandbox
from sandbox.tests.helpers import KUBECTL
from sandbox.tests.helpers import kubectl as run_kubectl

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")

G = "cluster.x-k8s.io"
V = "v1beta1"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxFleet]:
    with running_sandbox(clusters=2, nodes=1, state_dir=tmp_path_factory.mktemp("capi"), cluster_api=["cluster-1"],
                         controller_config=fast(), pod_shutdown_seconds=0.05) as f:
        yield f


@pytest.fixture(scope="module")
def kc(fleet: SandboxFleet) -> Path:
    return fleet.cluster("cluster-1").kubeconfig


@pytest.fixture(scope="module")
def api(kc: Path) -> Iterator[Any]:
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=str(kc))
    yield client.CustomObjectsApi(api_client)
    api_client.close()


def kubectl(kubeconfig: Path, *args: str, input_text: str | None = None, check: bool = True) -> str:
    """stdout of a kubectl run (stdout + stderr when ``check`` is off)."""
    out = run_kubectl(kubeconfig, *args, input_text=input_text, check=check)
    return out.stdout if check else out.stdout + out.stderr


def wait(pred: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def apply(kc: Path, objs: list[dict[str, Any]], ns: str) -> None:
    kubectl(kc, "create", "namespace", ns, check=False)
    kubectl(kc, "apply", "-f", "-", input_text=yaml.safe_dump_all(objs))


def items(api: Any, plural: str, ns: str, group: str = G, selector: str = "") -> list[dict[str, Any]]:
    return list(api.list_namespaced_custom_object(group, V, ns, plural, label_selector=selector)["items"])


def get(api: Any, plural: str, ns: str, name: str, group: str = G) -> dict[str, Any] | None:
    from kubernetes.client.exceptions import ApiException

    try:
        return dict(api.get_namespaced_custom_object(group, V, ns, plural, name))
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def cond(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any]:
    for c in ((obj or {}).get("status") or {}).get("conditions") or ():
        if c.get("type") == ctype:
            return dict(c)
    return {}


def machines(api: Any, ns: str, cluster: str, pool_name: str | None = None) -> list[dict[str, Any]]:
    sel = f"cluster.x-k8s.io/cluster-name={cluster}"
    if pool_name:
        sel += f",cluster.x-k8s.io/deployment-name={pool_name}"
    return items(api, "machines", ns, selector=sel)


def running(api: Any, ns: str, cluster: str, count: int, pool_name: str | None = None) -> list[dict[str, Any]]:
    ms = machines(api, ns, cluster, pool_name)
    ok = [m for m in ms if (m.get("status") or {}).get("phase") == "Running" and not m["metadata"].get(
        "deletionTimestamp")]
    return ok if len(ok) == count and len(ms) == count else []


def workload_kubeconfig(kc: Path, ns: str, cluster: str, tmp: Path) -> Path:
    data = json.loads(kubectl(kc, "get", "secret", f"{cluster}-kubeconfig", "-n", ns, "-o", "json"))
    path = tmp / f"{cluster}.kubeconfig"
    path.write_bytes(base64.b64decode(data["data"]["value"]))
    return path


def provision(kc: Path, api: Any, ns: str, name: str, workers: int = 1, **kw: Any) -> None:
    apply(kc, cluster_objects(name, ns, workers=workers, **kw), ns)
    wait(lambda: running(api, ns, name, workers + kw.get("cp_replicas", 1)), what=f"{name} machines Running")


# ---------------------------------------------------------------- served and discoverable


def test_crds_are_served_discoverable_and_labelled(kc: Path, fleet: SandboxFleet) -> None:
    out = kubectl(kc, "api-resources", "-o", "wide")
    for line in ("clusters", "cl", "machinedeployments", "md", "machinesets", "ms", "machines", "ma",
                 "kubeadmcontrolplanes", "kcp", "kubeadmconfigtemplates", "kubeadmconfigs", "sandboxclusters",
                 "sandboxmachinetemplates", "sandboxmachines"):
        assert f" {line} " in f" {out} ".replace("\n", " "), line
    crds = json.loads(kubectl(kc, "get", "crd", "-o", "json"))["items"]
    providers = {c["metadata"]["name"]: c["metadata"]["labels"]["cluster.x-k8s.io/provider"] for c in crds}
    assert providers["clusters.cluster.x-k8s.io"] == "cluster-api"
    assert providers["kubeadmcontrolplanes.controlplane.cluster.x-k8s.io"] == "control-plane-kubeadm"
    assert providers["kubeadmconfigs.bootstrap.cluster.x-k8s.io"] == "bootstrap-kubeadm"
    assert providers["sandboxmachines.infrastructure.cluster.x-k8s.io"] == "infrastructure-sandbox"
    assert "No resources found" in kubectl(kc, "get", "clusters,machines", "-A", check=False)
    # only the management cluster serves them
    other = fleet.cluster("cluster-2").kubeconfig
    assert "clusters.cluster.x-k8s.io" not in kubectl(other, "get", "crd")
    index = json.loads((fleet.state_dir / "fleet.json").read_text())
    assert {c["name"]: c["cluster_api"] for c in index["clusters"]} == {"cluster-1": True, "cluster-2": False}


def test_even_control_plane_replicas_are_refused(kc: Path) -> None:
    objs = cluster_objects("even", "even", cp_replicas=1)
    kcp = next(o for o in objs if o["kind"] == "KubeadmControlPlane")
    kcp["spec"]["replicas"] = 2
    kubectl(kc, "create", "namespace", "even")
    out = kubectl(kc, "apply", "-f", "-", input_text=yaml.safe_dump(kcp), check=False)
    assert "spec.replicas" in out
    assert "Unsupported value: 2" in out


# ---------------------------------------------------------------- provisioning


def test_cluster_becomes_a_new_simulated_cluster(kc: Path, api: Any, fleet: SandboxFleet, tmp_path: Path) -> None:
    ns = "team-a"
    provision(kc, api, ns, "alpha", workers=2)
    cluster = wait(lambda: (c := get(api, "clusters", ns, "alpha")) and
                   (c.get("status") or {}).get("phase") == "Provisioned" and cond(c, "Ready").get("status") == "True"
                   and c, what="Cluster Provisioned and Ready")
    for t in ("InfrastructureReady", "ControlPlaneInitialized", "ControlPlaneReady"):
        assert cond(cluster, t)["status"] == "True", t
    assert cluster["status"]["infrastructureReady"] is True
    assert cluster["status"]["controlPlaneReady"] is True
    assert "cluster.cluster.x-k8s.io" in cluster["metadata"]["finalizers"]
    # every kind with Cluster API's own finalizer name (v1beta1)
    for plural, group, finalizer in (
            ("machinedeployments", G, "cluster.x-k8s.io/machinedeployment"),
            ("machinesets", G, "cluster.x-k8s.io/machineset"), ("machines", G, "machine.cluster.x-k8s.io"),
            ("kubeadmcontrolplanes", "controlplane.cluster.x-k8s.io", "kubeadm.controlplane.cluster.x-k8s.io")):
        for obj in items(api, plural, ns, group):
            assert obj["metadata"]["finalizers"] == [finalizer], (plural, obj["metadata"]["finalizers"])
    # the fleet knows it
    assert fleet.provisioned()["alpha"] == {"management": "cluster-1", "namespace": ns, "name": "alpha"}
    index = json.loads((fleet.state_dir / "fleet.json").read_text())
    entry = next(c for c in index["clusters"] if c["name"] == "alpha")
    assert entry["provisioned_by"] == {"management": "cluster-1", "namespace": ns, "name": "alpha"}
    assert cluster["spec"]["controlPlaneEndpoint"] == {"host": "127.0.0.1", "port": entry["port"]}
    # the kubeconfig Secret, as Cluster API writes it
    secret = json.loads(kubectl(kc, "get", "secret", "alpha-kubeconfig", "-n", ns, "-o", "json"))
    assert secret["type"] == "cluster.x-k8s.io/secret"
    assert secret["metadata"]["labels"]["cluster.x-k8s.io/cluster-name"] == "alpha"
    assert secret["metadata"]["ownerReferences"][0]["kind"] == "Cluster"
    cfg = yaml.safe_load(base64.b64decode(secret["data"]["value"]))
    assert "client-certificate-data" in cfg["users"][0]["user"]
    assert "token" not in cfg["users"][0]["user"]
    wl = workload_kubeconfig(kc, ns, "alpha", tmp_path)
    nodes = json.loads(kubectl(wl, "get", "nodes", "-o", "json"))["items"]
    ms = machines(api, ns, "alpha")
    assert sorted(n["metadata"]["name"] for n in nodes) == sorted(m["metadata"]["name"] for m in ms)
    by_name = {n["metadata"]["name"]: n for n in nodes}
    for m in ms:
        node = by_name[m["status"]["nodeRef"]["name"]]
        assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.30.4"
        assert m["spec"]["providerID"] == node["spec"]["providerID"]
        for t in ("InfrastructureReady", "BootstrapReady", "NodeHealthy", "Ready"):
            assert cond(m, t)["status"] == "True", (m["metadata"]["name"], t)
        if "cluster.x-k8s.io/control-plane" in m["metadata"]["labels"]:
            assert node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == ""
            assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in node["spec"]["taints"]
            assert node["status"]["capacity"]["cpu"] == "4"  # medium
            assert json.loads(m["metadata"]["annotations"][
                "controlplane.cluster.x-k8s.io/kubeadm-cluster-configuration"]) == {"apiServer": {"certSANs": ["localhost"]}}
        else:
            assert m["metadata"]["labels"]["cluster.x-k8s.io/deployment-name"] == "alpha-md-0"
            assert m["metadata"]["name"].startswith("alpha-md-0-")
            assert node["status"]["capacity"]["cpu"] == "2"
            assert node["status"]["capacity"]["memory"] == "4Gi"
    assert "Server Version: v1.30.4" in kubectl(wl, "version")
    # printer columns, as kubectl shows them
    out = kubectl(kc, "get", "clusters,kcp,md,machines", "-n", ns)
    assert "PHASE" in out
    assert "Provisioned" in out
    assert "INITIALIZED" in out
    assert "API SERVER AVAILABLE" in out
    assert "UNAVAILABLE" in out
    assert "alpha-md-0" in out
    assert "NODENAME" in out
    assert "PROVIDERID" in out
    assert "sandbox://alpha/" in out
    md = get(api, "machinedeployments", ns, "alpha-md-0")
    assert md is not None
    assert {k: md["status"][k] for k in ("replicas", "readyReplicas", "availableReplicas", "updatedReplicas",
                                          "unavailableReplicas", "phase")} == {
        "replicas": 2, "readyReplicas": 2, "availableReplicas": 2, "updatedReplicas": 2, "unavailableReplicas": 0,
        "phase": "Running"}
    kcp = get(api, "kubeadmcontrolplanes", ns, "alpha-control-plane", "controlplane.cluster.x-k8s.io")
    assert kcp is not None
    assert {k: kcp["status"][k] for k in ("replicas", "readyReplicas", "updatedReplicas", "unavailableReplicas",
                                           "initialized", "ready", "version")} == {
        "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1, "unavailableReplicas": 0, "initialized": True,
        "ready": True, "version": "v1.30.4"}


def test_name_taken_in_the_fleet_gets_a_suffix(kc: Path, api: Any, fleet: SandboxFleet) -> None:
    provision(kc, api, "team-b", "cluster-2", workers=0)
    sc = get(api, "sandboxclusters", "team-b", "cluster-2", "infrastructure.cluster.x-k8s.io")
    assert sc is not None
    fleet_name = sc["status"]["fleetCluster"]
    assert fleet_name.startswith("cluster-2-")
    assert len(fleet_name) == len("cluster-2-") + 5
    assert fleet.provisioned()[fleet_name]["name"] == "cluster-2"


# ---------------------------------------------------------------- scaling


def test_scale_up_and_down_with_drain_respecting_pdbs(kc: Path, api: Any, tmp_path: Path) -> None:
    ns = "team-c"
    provision(kc, api, ns, "gamma", workers=1)
    kubectl(kc, "patch", "md", "gamma-md-0", "-n", ns, "--type=merge", "-p", '{"spec":{"replicas":3}}')
    up = wait(lambda: running(api, ns, "gamma", 3, "gamma-md-0"), what="three workers")
    wl = workload_kubeconfig(kc, ns, "gamma", tmp_path)
    assert len(json.loads(kubectl(wl, "get", "nodes", "-o", "json"))["items"]) == 4
    newest = max(up, key=lambda m: (m["metadata"]["creationTimestamp"], m["metadata"]["name"]))
    node = newest["status"]["nodeRef"]["name"]
    # a pod on the node that goes first, guarded by a budget that allows no disruption
    kubectl(wl, "apply", "-f", "-", input_text=yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "guarded", "namespace": "default",
                                                         "labels": {"app": "guarded"}},
         "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx:1.27"}]}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "guarded",
                                                                              "namespace": "default"},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}}}]))
    wait(lambda: "true" in kubectl(wl, "get", "pod", "guarded", "-o",
                                   "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}").lower(),
         what="guarded pod ready")
    kubectl(kc, "patch", "md", "gamma-md-0", "-n", ns, "--type=merge", "-p", '{"spec":{"replicas":2}}')
    draining = wait(lambda: (m := get(api, "machines", ns, newest["metadata"]["name"])) and
                    cond(m, "DrainingSucceeded").get("reason") == "Draining" and m, what="drain blocked by the PDB")
    assert draining["status"]["phase"] == "Deleting"
    msg = cond(draining, "DrainingSucceeded")["message"]
    assert "default/guarded" in msg
    assert "disruption budget" in msg
    assert cond(draining, "DrainingSucceeded").get("severity") != "Error"
    assert json.loads(kubectl(wl, "get", "node", node, "-o", "json"))["spec"]["unschedulable"] is True
    md = get(api, "machinedeployments", ns, "gamma-md-0")
    assert md is not None
    assert md["status"]["phase"] == "ScalingDown"
    time.sleep(0.5)  # the budget keeps holding it
    assert get(api, "machines", ns, newest["metadata"]["name"]) is not None
    kubectl(wl, "delete", "pdb", "guarded")
    wait(lambda: running(api, ns, "gamma", 2, "gamma-md-0"), what="two workers")
    wait(lambda: node not in kubectl(wl, "get", "nodes"), what="node deleted")
    assert "guarded" not in kubectl(wl, "get", "pods", "-A")
    # deleted newest first: the older machines remain
    remaining = {m["metadata"]["name"] for m in machines(api, ns, "gamma", "gamma-md-0")}
    assert newest["metadata"]["name"] not in remaining
    # unless a machine is marked for deletion (cluster.x-k8s.io/delete-machine): that one goes first
    oldest = min(machines(api, ns, "gamma", "gamma-md-0"),
                 key=lambda m: (m["metadata"]["creationTimestamp"], m["metadata"]["name"]))["metadata"]["name"]
    kubectl(kc, "annotate", "machine", oldest, "-n", ns, "cluster.x-k8s.io/delete-machine=yes")
    kubectl(kc, "patch", "md", "gamma-md-0", "-n", ns, "--type=merge", "-p", '{"spec":{"replicas":1}}')
    wait(lambda: running(api, ns, "gamma", 1, "gamma-md-0"), what="one worker")
    assert {m["metadata"]["name"] for m in machines(api, ns, "gamma", "gamma-md-0")} == remaining - {oldest}
    kubectl(kc, "patch", "md", "gamma-md-0", "-n", ns, "--type=merge", "-p", '{"spec":{"replicas":0}}')
    wait(lambda: not machines(api, ns, "gamma", "gamma-md-0"), what="pool emptied")
    md = wait(lambda: (d := get(api, "machinedeployments", ns, "gamma-md-0")) and
              d["status"].get("replicas") == 0 and d, what="md status 0")
    assert md["status"]["phase"] == "Running"
    # infrastructure and bootstrap objects go with their machines
    assert len(items(api, "sandboxmachines", ns, "infrastructure.cluster.x-k8s.io")) == 1  # the control plane
    assert len(items(api, "kubeadmconfigs", ns, "bootstrap.cluster.x-k8s.io")) == 1


# ---------------------------------------------------------------- rolling changes


def test_template_change_rolls_the_pool_one_machine_at_a_time(kc: Path, api: Any) -> None:
    ns = "team-d"
    provision(kc, api, ns, "delta", workers=2)
    old = {m["metadata"]["name"] for m in machines(api, ns, "delta", "delta-md-0")}
    apply(kc, [machine_template("delta-large", ns, "large")], ns)
    kubectl(kc, "patch", "md", "delta-md-0", "-n", ns, "--type=merge", "-p", json.dumps(
        {"spec": {"template": {"spec": {"version": "v1.31.0", "infrastructureRef": {"name": "delta-large"}}}}}))
    most = 0
    deadline = time.monotonic() + 30
    while True:
        ms = machines(api, ns, "delta", "delta-md-0")
        most = max(most, len(ms))
        done = [m for m in ms if m["spec"]["version"] == "v1.31.0" and m["status"].get("phase") == "Running"]
        if len(ms) == 2 and len(done) == 2:
            break
        assert time.monotonic() < deadline, "rollout did not finish"
        time.sleep(0.05)
    assert most <= 3  # maxSurge 1, maxUnavailable 0
    assert not old & {m["metadata"]["name"] for m in ms}
    sets = items(api, "machinesets", ns, selector="cluster.x-k8s.io/deployment-name=delta-md-0")
    wait(lambda: len(items(api, "machinesets", ns, selector="cluster.x-k8s.io/deployment-name=delta-md-0")) == 1,
         what="old MachineSet removed")
    sandbox_machines = items(api, "sandboxmachines", ns, "infrastructure.cluster.x-k8s.io")
    assert {m["spec"]["size"] for m in sandbox_machines if m["metadata"]["name"].startswith("delta-md-0")} == {"large"}
    md = wait(lambda: (d := get(api, "machinedeployments", ns, "delta-md-0")) and
              d["status"].get("updatedReplicas") == 2 and d["status"].get("phase") == "Running" and d,
              what="md settled")
    assert md["status"]["replicas"] == 2
    assert sets


def test_control_plane_upgrade_rolls_and_the_cluster_version_follows(kc: Path, api: Any, tmp_path: Path) -> None:
    ns = "team-e"
    provision(kc, api, ns, "epsilon", workers=0, cp_replicas=3)
    wl = workload_kubeconfig(kc, ns, "epsilon", tmp_path)
    assert "Server Version: v1.30.4" in kubectl(wl, "version")
    kubectl(kc, "patch", "kcp", "epsilon-control-plane", "-n", ns, "--type=merge", "-p",
            '{"spec":{"version":"v1.31.0"}}')
    most = 0
    deadline = time.monotonic() + 40
    while True:
        ms = machines(api, ns, "epsilon")
        most = max(most, len(ms))
        if len(ms) == 3 and all(m["spec"]["version"] == "v1.31.0" and m["status"].get("phase") == "Running"
                                for m in ms):
            break
        assert time.monotonic() < deadline, "control plane rollout did not finish"
        time.sleep(0.05)
    assert most <= 4
    wait(lambda: "Server Version: v1.31.0" in kubectl(wl, "version"), what="/version follows")
    kcp = wait(lambda: (k := get(api, "kubeadmcontrolplanes", ns, "epsilon-control-plane",
                                 "controlplane.cluster.x-k8s.io")) and k["status"].get("updatedReplicas") == 3 and k,
               what="kcp status")
    assert kcp["status"]["version"] == "v1.31.0"
    assert cond(kcp, "MachinesSpecUpToDate")["status"] == "True"
    nodes = json.loads(kubectl(wl, "get", "nodes", "-o", "json"))["items"]
    assert {n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes} == {"v1.31.0"}
    assert len(nodes) == 3


# ---------------------------------------------------------------- deletion


def test_deleting_a_pool_and_then_the_cluster_tears_everything_down(kc: Path, api: Any, fleet: SandboxFleet) -> None:
    ns = "team-f"
    provision(kc, api, ns, "zeta", workers=1)
    apply(kc, [pool("zeta", ns, "zeta-md-1", 1, "zeta-small")], ns)
    wait(lambda: running(api, ns, "zeta", 1, "zeta-md-1"), what="second pool")
    kubectl(kc, "delete", "md", "zeta-md-1", "-n", ns, "--wait=false")
    wait(lambda: not machines(api, ns, "zeta", "zeta-md-1") and get(api, "machinedeployments", ns, "zeta-md-1") is None,
         what="pool deleted")
    assert "zeta" in fleet.provisioned()
    kubectl(kc, "delete", "cluster", "zeta", "-n", ns, "--wait=false")
    c = get(api, "clusters", ns, "zeta")
    assert c is None or c["status"]["phase"] == "Deleting"
    wait(lambda: get(api, "clusters", ns, "zeta") is None, what="Cluster gone")
    assert "zeta" not in fleet.provisioned()
    assert "zeta" not in json.loads((fleet.state_dir / "fleet.json").read_text())["clusters"].__repr__()
    for plural, group in (("machines", G), ("machinesets", G), ("machinedeployments", G),
                          ("kubeadmcontrolplanes", "controlplane.cluster.x-k8s.io"),
                          ("sandboxclusters", "infrastructure.cluster.x-k8s.io"),
                          ("sandboxmachines", "infrastructure.cluster.x-k8s.io"),
                          ("kubeadmconfigs", "bootstrap.cluster.x-k8s.io")):
        assert items(api, plural, ns, group) == [], plural
    secrets = json.loads(kubectl(kc, "get", "secrets", "-n", ns, "-o", "json"))["items"]
    assert [s["metadata"]["name"] for s in secrets if s["type"] == "cluster.x-k8s.io/secret"] == []


def test_cluster_deletion_removes_the_workers_before_the_control_plane(kc: Path, api: Any,
                                                                        fleet: SandboxFleet) -> None:
    """Cluster API's order: MachineDeployments and worker Machines first; the KubeadmControlPlane (and so
    the control-plane Machines and the simulated cluster) only once no worker is left."""
    ns = "team-order"
    provision(kc, api, ns, "omega", workers=1)
    worker = machines(api, ns, "omega", "omega-md-0")[0]["metadata"]["name"]
    hold = '{"metadata": {"finalizers": ["example.com/hold", "machine.cluster.x-k8s.io"]}}'
    kubectl(kc, "patch", "machine", worker, "-n", ns, "--type=merge", "-p", hold)
    kubectl(kc, "delete", "cluster", "omega", "-n", ns, "--wait=false")
    wait(lambda: (get(api, "machinedeployments", ns, "omega-md-0") or {"metadata": {"deletionTimestamp": "x"}})
         ["metadata"].get("deletionTimestamp")
         and (get(api, "machines", ns, worker) or {}).get("metadata", {}).get("deletionTimestamp"),
         what="the pool and the worker Machine deleting")
    time.sleep(1.0)  # give a wrong order every chance to show
    kcp = get(api, "kubeadmcontrolplanes", ns, "omega-control-plane", group="controlplane.cluster.x-k8s.io")
    assert kcp is not None
    assert not kcp["metadata"].get("deletionTimestamp")
    cp_machines = [m for m in machines(api, ns, "omega") if "cluster.x-k8s.io/control-plane" in m["metadata"]["labels"]]
    assert [m["metadata"].get("deletionTimestamp") for m in cp_machines] == [None]
    assert "omega" in fleet.provisioned()
    kubectl(kc, "patch", "machine", worker, "-n", ns, "--type=json", "-p",
            '[{"op": "remove", "path": "/metadata/finalizers/0"}]')
    wait(lambda: get(api, "clusters", ns, "omega") is None, what="Cluster gone")
    assert "omega" not in fleet.provisioned()
    assert items(api, "machines", ns) == []


# ---------------------------------------------------------------- fault markers


def test_never_ready_machine_stays_provisioning(kc: Path, api: Any) -> None:
    ns = "team-g"
    apply(kc, cluster_objects("eta", ns, workers=1, worker_fault="NeverReady"), ns)
    wait(lambda: running(api, ns, "eta", 1) or [m for m in machines(api, ns, "eta")
                                                if "cluster.x-k8s.io/control-plane" in m["metadata"]["labels"]
                                                and m["status"].get("phase") == "Running"], what="control plane")
    worker = wait(lambda: next((m for m in machines(api, ns, "eta", "eta-md-0")
                                if m.get("status", {}).get("phase") == "Provisioning"), None), what="worker")
    time.sleep(1.0)  # several provisionSeconds later, still not there
    worker = get(api, "machines", ns, worker["metadata"]["name"])
    assert worker is not None
    assert worker["status"]["phase"] == "Provisioning"
    assert cond(worker, "InfrastructureReady")["status"] == "False"
    assert cond(worker, "BootstrapReady")["status"] == "True"
    # no providerID yet: Cluster API's noderef reconcile says WaitingForNodeRef (Info)
    assert (cond(worker, "NodeHealthy")["reason"], cond(worker, "NodeHealthy")["severity"]) == (
        "WaitingForNodeRef", "Info")
    md = get(api, "machinedeployments", ns, "eta-md-0")
    assert md is not None
    assert md["status"]["phase"] == "ScalingUp"


def test_provisioned_machine_waits_for_its_node_with_cluster_api_reasons(kc: Path, api: Any) -> None:
    """Between the instance running (providerID set, phase Provisioned) and its Node joining, NodeHealthy
    is False with reason NodeProvisioning, severity Warning — as Cluster API reports it."""
    ns = "team-noderef"
    provision(kc, api, ns, "nu", workers=0)
    apply(kc, [machine_template("nu-slow", ns, "small", provision_seconds=8),
               pool("nu", ns, "nu-md-slow", 1, "nu-slow")], ns)
    worker = wait(lambda: next((m for m in machines(api, ns, "nu", "nu-md-slow")
                                if (m.get("status") or {}).get("phase") == "Provisioned"), None),
                  what="the worker Provisioned", timeout=30)
    assert worker["spec"]["providerID"] == f"sandbox://nu/{worker['metadata']['name']}"
    health = cond(worker, "NodeHealthy")
    assert (health["status"], health["reason"], health["severity"]) == ("False", "NodeProvisioning", "Warning")
    wait(lambda: running(api, ns, "nu", 1, "nu-md-slow"), what="the worker Running", timeout=30)
    assert cond(get(api, "machines", ns, worker["metadata"]["name"]), "NodeHealthy")["status"] == "True"


def test_bootstrap_failure_fails_the_machine(kc: Path, api: Any) -> None:
    ns = "team-h"
    apply(kc, cluster_objects("theta", ns, workers=1, worker_fault="BootstrapFailure"), ns)
    worker = wait(lambda: next((m for m in machines(api, ns, "theta", "theta-md-0")
                                if m.get("status", {}).get("phase") == "Failed"), None), what="failed worker")
    assert worker["status"]["failureReason"] == "BootstrapFailed"
    assert worker["status"]["failureMessage"]
    c = cond(worker, "BootstrapReady")
    assert (c["status"], c["severity"], c["reason"]) == ("False", "Error", "BootstrapFailed")
    md = wait(lambda: (d := get(api, "machinedeployments", ns, "theta-md-0")) and
              d["status"].get("phase") == "Failed" and d, what="md Failed")
    assert md["status"]["readyReplicas"] == 0


def test_machine_limit_leaves_machines_beyond_it_waiting_for_quota(kc: Path, api: Any) -> None:
    ns = "team-i"
    apply(kc, cluster_objects("iota", ns, workers=2, machine_limit=2), ns)
    waiting = wait(lambda: next((m for m in machines(api, ns, "iota", "iota-md-0")
                                 if cond(m, "InfrastructureReady").get("reason") == "InsufficientQuota"), None),
                   what="a machine over quota")
    c = cond(waiting, "InfrastructureReady")
    assert (c["status"], c["severity"]) == ("False", "Error")
    assert "provider quota exceeded" in c["message"]
    assert waiting["status"]["phase"] == "Provisioning"
    wait(lambda: len([m for m in machines(api, ns, "iota") if m["status"].get("phase") == "Running"]) == 2,
         what="two machines within the limit")
    # raising the limit lets it through
    kubectl(kc, "patch", "sandboxcluster", "iota", "-n", ns, "--type=merge", "-p", '{"spec":{"machineLimit":3}}')
    wait(lambda: running(api, ns, "iota", 3), what="third machine after the limit was raised")


def test_missing_machine_template_is_reported_on_the_machine_set(kc: Path, api: Any) -> None:
    ns = "team-j"
    provision(kc, api, ns, "kappa", workers=0)
    apply(kc, [pool("kappa", ns, "kappa-md-1", 1, "no-such-template")], ns)
    ms = wait(lambda: next((s for s in items(api, "machinesets", ns,
                                             selector="cluster.x-k8s.io/deployment-name=kappa-md-1")
                            if cond(s, "MachinesCreated").get("status") == "False"), None),
              what="MachinesCreated False")
    c = cond(ms, "MachinesCreated")
    assert (c["reason"], c["severity"]) == ("InfrastructureTemplateCloningFailed", "Error")
    assert "no-such-template" in c["message"]
    assert machines(api, ns, "kappa", "kappa-md-1") == []


# ---------------------------------------------------------------- enabling


def test_admin_api_makes_a_management_cluster_and_removing_it_removes_what_it_provisioned(
        fleet: SandboxFleet, tmp_path: Path) -> None:
    import urllib.request

    req = urllib.request.Request(f"{fleet.admin_url}/clusters", method="POST",
                                 data=json.dumps({"name": "mgmt-2", "nodes": 1, "cluster_api": True}).encode(),
                                 headers={"Authorization": f"Bearer {fleet.admin_token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        entry = json.loads(resp.read())
    assert resp.status == 201
    assert entry["cluster_api"] is True
    assert entry["provisioned_by"] is None
    mkc = fleet.cluster("mgmt-2").kubeconfig
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=str(mkc))
    try:
        api = client.CustomObjectsApi(api_client)
        provision(mkc, api, "ops", "lambda", workers=0)
    finally:
        api_client.close()
    assert fleet.provisioned()["lambda"]["management"] == "mgmt-2"
    fleet.remove_cluster("mgmt-2")
    assert "lambda" not in fleet.clusters
    assert "lambda" not in fleet.provisioned()


def test_add_cluster_command_line_flag(fleet: SandboxFleet) -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "sandbox", "add-cluster", "--state-dir", str(fleet.state_dir),
                          "--name", "mgmt-cli", "--nodes", "1", "--cluster-api"],
                         capture_output=True, text=True, timeout=60, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert json.loads(out.stdout)["cluster_api"] is True
    served = kubectl(fleet.cluster("mgmt-cli").kubeconfig, "api-resources", "--api-group", "cluster.x-k8s.io")
    assert "machinedeployments" in served
    fleet.remove_cluster("mgmt-cli")


def test_snapshot_restores_management_and_provisioned_clusters(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with running_sandbox(clusters=1, nodes=1, state_dir=state, cluster_api=["cluster-1"], controller_config=fast(),
                         snapshot=True) as f:
        kc = f.cluster("cluster-1").kubeconfig
        apply(kc, cluster_objects("mu", "snap", workers=1), "snap")
        wait(lambda: kubectl(kc, "get", "machines", "-n", "snap").count("Running") == 2, what="machines Running")
        before = f.cluster("mu").port
    with running_sandbox(clusters=1, nodes=1, state_dir=state, cluster_api=["cluster-1"], controller_config=fast(),
                         snapshot=True) as f:
        assert f.provisioned() == {"mu": {"management": "cluster-1", "namespace": "snap", "name": "mu"}}
        assert f.cluster("mu").port == before
        kubectl(kc, "patch", "md", "mu-md-0", "-n", "snap", "--type=merge", "-p", '{"spec":{"replicas":2}}')
        wait(lambda: kubectl(kc, "get", "machines", "-n", "snap").count("Running") == 3, what="adopted and scaled")
        assert len(f.provisioned()) == 1


def test_drained_workload_pods_move_to_the_remaining_nodes(kc: Path, api: Any, tmp_path: Path) -> None:
    ns = "team-k"
    provision(kc, api, ns, "xi", workers=2)
    wl = workload_kubeconfig(kc, ns, "xi", tmp_path)
    kubectl(wl, "create", "deployment", "web", "--image=nginx:1.27", "--replicas=4")
    kubectl(wl, "create", "poddisruptionbudget", "web", "--selector=app=web", "--min-available=3")

    def ready_pods() -> list[dict[str, Any]]:
        pods = json.loads(kubectl(wl, "get", "pods", "-l", "app=web", "-o", "json"))["items"]
        return [p for p in pods if not p["metadata"].get("deletionTimestamp") and any(
            c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or ())]

    wait(lambda: len(ready_pods()) == 4, what="web ready")
    kubectl(kc, "patch", "md", "xi-md-0", "-n", ns, "--type=merge", "-p", '{"spec":{"replicas":1}}')
    left = wait(lambda: running(api, ns, "xi", 1, "xi-md-0"), what="one worker left")
    node = left[0]["status"]["nodeRef"]["name"]
    pods = wait(lambda: (r := ready_pods()) and len(r) == 4 and all(p["spec"]["nodeName"] == node for p in r) and r,
                what="pods on the remaining node")
    assert len(pods) == 4
    assert len(json.loads(kubectl(wl, "get", "nodes", "-o", "json"))["items"]) == 2  # control plane + one worker

"""Object actions as the portal and kubectl perform them (issue 15), checked with the real kubectl and raw
requests: server-side apply conflicts (409 body as the apiserver words it), ``kubectl edit``'s managedFields,
dry runs, force; scale, rollout restart/pause/resume/undo and cascading deletes for Deployments,
StatefulSets and DaemonSets; ``kubectl logs`` of current and previous containers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.controllers.config import fast
from sandbox.testing import ClusterHandle, running_sandbox
from sandbox.tests.helpers import Raw

KUBECTL = shutil.which("kubectl")
pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine; fidelity test not run"),
]
NS = "obj"
APPLY = "application/apply-patch+yaml"


def _deployment(name: str, replicas: int = 2, image: str = "nginx:1.25") -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}}}


WORKLOADS = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: obj}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: pg, image: "postgres:16"}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: obj}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: a, image: "agent:1"}]}
"""


@pytest.fixture(scope="module")
def handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterHandle]:
    with running_sandbox(clusters=1, nodes=2, state_dir=tmp_path_factory.mktemp("kubectl-objects"),
                         pod_shutdown_seconds=0.1) as fleet:
        fleet.in_cluster("cluster-1", lambda c: setattr(c.controllers, "config", fast()))
        h = fleet.cluster("cluster-1")
        kubectl(h, "create", "namespace", NS, namespaced=False)
        yield h


def kubectl(h: ClusterHandle, *args: str, input_text: str | None = None, check: bool = True,
            env_extra: dict[str, str] | None = None, namespaced: bool = True) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    env = {**os.environ, "KUBECONFIG": str(h.kubeconfig), "HOME": str(Path(h.kubeconfig).parent),
           **(env_extra or {})}
    argv = [KUBECTL, *(("-n", NS) if namespaced else ()), *args]
    out = subprocess.run(argv, capture_output=True, text=True, input=input_text, env=env, timeout=60)
    if check:
        assert out.returncode == 0, f"kubectl {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out


def get(h: ClusterHandle, *what: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(kubectl(h, "get", *what, "-o", "json", "--show-managed-fields").stdout)
    return parsed


def wait(pred: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def yaml_apply(raw: Raw, path: str, body: dict[str, Any], manager: str, *, force: bool = False,
               dry_run: bool = False) -> tuple[int, Any]:
    q = f"?fieldManager={manager}" + ("&force=true" if force else "") + ("&dryRun=All" if dry_run else "")
    status, out, _ = raw.request("PATCH", path + q, json.dumps(body).encode(), content_type=APPLY)
    return status, out


# ---------------------------------------------------------------- server-side apply, edit, dry run


def test_ssa_conflict_with_kubectl_edit_then_dry_run_and_force(handle: ClusterHandle) -> None:
    raw = Raw(handle)
    path = f"/apis/apps/v1/namespaces/{NS}/deployments/edited"
    status, body = yaml_apply(raw, path, _deployment("edited"), "portal:alice")
    assert status == 201, body
    # kubectl edit sends a strategic merge patch with fieldManager=kubectl-edit
    out = kubectl(handle, "edit", "deployment/edited", env_extra={"EDITOR": "sed -i s/replicas:\\ 2/replicas:\\ 3/"})
    assert "deployment.apps/edited edited" in out.stdout
    live = get(handle, "deployment/edited")
    assert live["spec"]["replicas"] == 3
    edit = [m for m in live["metadata"]["managedFields"] if m["manager"] == "kubectl-edit"]
    assert len(edit) == 1
    assert edit[0]["operation"] == "Update"
    assert edit[0]["apiVersion"] == "apps/v1"
    assert edit[0]["time"].endswith("Z")
    assert edit[0]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    mine = next(m for m in live["metadata"]["managedFields"] if m["manager"] == "portal:alice")
    assert "f:replicas" not in mine["fieldsV1"]["f:spec"]  # the edit took the field over

    status, body = yaml_apply(raw, path, _deployment("edited", replicas=5), "portal:alice")
    assert status == 409
    assert body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Conflict", "code": 409,
        "message": 'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas',
        "details": {"causes": [{"type": "FieldManagerConflict", "message": 'conflict with "kubectl-edit" using apps/v1',
                                "field": ".spec.replicas"}]}}
    # dry run with force answers the result and changes nothing
    status, body = yaml_apply(raw, path, _deployment("edited", replicas=5), "portal:alice", force=True, dry_run=True)
    assert status == 200, body
    assert body["spec"]["replicas"] == 5
    assert get(handle, "deployment/edited")["spec"]["replicas"] == 3
    # forcing takes the field: kubectl-edit owns nothing any more and its entry is gone
    status, body = yaml_apply(raw, path, _deployment("edited", replicas=5), "portal:alice", force=True)
    assert status == 200, body
    assert body["spec"]["replicas"] == 5
    assert [m["manager"] for m in body["metadata"]["managedFields"]] == ["portal:alice"]


def test_managed_fields_in_the_apiserver_order(handle: ClusterHandle) -> None:
    raw = Raw(handle)
    kubectl(handle, "create", "configmap", "ordered", "--from-literal=a=1")
    path = f"/api/v1/namespaces/{NS}/configmaps/ordered"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ordered", "namespace": NS},
            "data": {"b": "2"}}
    status, out = yaml_apply(raw, path, body, "portal:bob")
    assert status == 200, out
    # Apply entries come before Update ones whatever their age (sortEncodedManagedFields)
    assert [(m["manager"], m["operation"]) for m in out["metadata"]["managedFields"]] == [
        ("portal:bob", "Apply"), ("kubectl-create", "Update")]


def test_ssa_conflicts_with_several_managers(handle: ClusterHandle) -> None:
    raw = Raw(handle)
    path = f"/apis/apps/v1/namespaces/{NS}/deployments/multi"
    assert yaml_apply(raw, path, _deployment("multi"), "portal:alice")[0] == 201
    kubectl(handle, "scale", "deployment/multi", "--replicas=4")
    kubectl(handle, "set", "image", "deployment/multi", "web=nginx:1.26")
    status, body = yaml_apply(raw, path, _deployment("multi", replicas=1, image="nginx:1.27"), "portal:alice")
    assert status == 409
    assert body["message"] == (
        'Apply failed with 2 conflicts: conflicts with "kubectl" with subresource "scale" using apps/v1:\n'
        "- .spec.replicas\n"
        'conflicts with "kubectl-set" using apps/v1:\n'
        '- .spec.template.spec.containers[name="web"].image')
    assert body["details"]["causes"] == [
        # kubectl scale sends no fieldManager: the apiserver names it after the User-Agent
        {"type": "FieldManagerConflict", "message": 'conflict with "kubectl" with subresource "scale" using apps/v1',
         "field": ".spec.replicas"},
        {"type": "FieldManagerConflict", "message": 'conflict with "kubectl-set" using apps/v1',
         "field": '.spec.template.spec.containers[name="web"].image'}]


EDIT_SCRIPT = """\
import sys, yaml
path = sys.argv[1]
obj = yaml.safe_load(open(path))
c = obj["spec"]["template"]["spec"]["containers"][0]
c["env"].insert(1, {"name": "X", "value": "9"})
obj["spec"]["strategy"] = {"type": "Recreate"}
open(path, "w").write(yaml.safe_dump(obj))
"""


def test_kubectl_edit_keeps_list_order_and_retains_keys(handle: ClusterHandle, tmp_path: Path) -> None:
    import sys

    dep = _deployment("ordered-env")
    dep["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    kubectl(handle, "apply", "-f", "-", input_text=json.dumps(dep))
    script = tmp_path / "edit.py"
    script.write_text(EDIT_SCRIPT)
    # kubectl edit sends $setElementOrder/env (X goes between A and B) and $retainKeys on the strategy
    kubectl(handle, "edit", "deployment/ordered-env", env_extra={"EDITOR": f"{sys.executable} {script}"})
    live = get(handle, "deployment/ordered-env")
    assert [e["name"] for e in live["spec"]["template"]["spec"]["containers"][0]["env"]] == ["A", "X", "B"]
    assert live["spec"]["strategy"] == {"type": "Recreate"}


def test_dry_run_delete_keeps_the_object(handle: ClusterHandle) -> None:
    raw = Raw(handle)
    path = f"/apis/apps/v1/namespaces/{NS}/deployments/keep"
    assert yaml_apply(raw, path, _deployment("keep", replicas=1), "portal:alice")[0] == 201
    out = kubectl(handle, "delete", "deployment/keep", "--dry-run=server")
    assert "deployment.apps \"keep\" deleted (server dry run)" in out.stdout
    status, body, _ = raw.request("DELETE", path + "?dryRun=All")
    assert status == 200, body
    assert body["status"] == "Success"
    assert body["details"]["name"] == "keep"
    assert raw.request("GET", path)[0] == 200


# ---------------------------------------------------------------- logs


def test_logs_previous_and_limit_bytes(handle: ClusterHandle) -> None:
    kubectl(handle, "run", "crashy", "--image=busybox:crashloop")
    kubectl(handle, "run", "steady", "--image=nginx:1.25")

    def restarted() -> bool:
        cs = (get(handle, "pod/crashy").get("status") or {}).get("containerStatuses") or [{}]
        return int(cs[0].get("restartCount") or 0) >= 1

    wait(restarted, "crashy to restart")
    previous = kubectl(handle, "logs", "crashy", "-p").stdout.splitlines()
    assert previous[0] == "busybox: starting (sandbox simulated container, image busybox:crashloop)"
    assert previous[-1] == "panic: simulated crash (sandbox crashloop marker); exiting with status 1"
    wait(lambda: kubectl(handle, "logs", "steady", check=False).returncode == 0, "steady to log")
    none = kubectl(handle, "logs", "steady", "-p", check=False)
    assert none.returncode != 0
    assert 'previous terminated container "steady" in pod "steady" not found' in none.stderr
    assert kubectl(handle, "logs", "steady", "--limit-bytes=12").stdout == "nginx: start"
    kubectl(handle, "delete", "pod", "crashy", "steady", "--wait=false")


# ---------------------------------------------------------------- workload actions


def _history(h: ClusterHandle, what: str) -> list[str]:
    lines = kubectl(h, "rollout", "history", what).stdout.splitlines()
    return [line.split()[0] for line in lines[2:] if line.strip()]


def _replicasets(h: ClusterHandle, app: str) -> dict[str, dict[str, Any]]:
    items = get(h, "rs", "-l", f"app={app}")["items"]
    return {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs for rs in items}


def test_deployment_scale_restart_pause_resume_undo(handle: ClusterHandle) -> None:
    kubectl(handle, "apply", "-f", "-", input_text=json.dumps(_deployment("roll")))
    kubectl(handle, "rollout", "status", "deployment/roll", "--timeout=30s")
    assert "deployment.apps/roll scaled" in kubectl(handle, "scale", "deployment/roll", "--replicas=3").stdout
    kubectl(handle, "rollout", "status", "deployment/roll", "--timeout=30s")
    assert get(handle, "deployment/roll")["status"]["readyReplicas"] == 3

    assert "deployment.apps/roll restarted" in kubectl(handle, "rollout", "restart", "deployment/roll").stdout
    kubectl(handle, "rollout", "status", "deployment/roll", "--timeout=30s")
    rss = _replicasets(handle, "roll")
    assert sorted(rss) == ["1", "2"]  # the restart annotation changed the template: a new ReplicaSet
    assert "kubectl.kubernetes.io/restartedAt" in rss["2"]["spec"]["template"]["metadata"]["annotations"]
    assert (rss["1"]["spec"]["replicas"], rss["2"]["spec"]["replicas"]) == (0, 3)
    # what happened next, as a timeline shows it: the kubelet stopped the old pods' containers
    # (this deployment's pods only: another test of the module deletes its own pods on the same cluster)
    killing = wait(lambda: [e for e in get(handle, "events", "--field-selector", "reason=Killing")["items"]
                            if e["involvedObject"]["name"].startswith("roll-")], "Killing events")
    assert {e["message"] for e in killing} == {"Stopping container web"}
    assert {e["source"]["component"] for e in killing} == {"kubelet"}

    assert "deployment.apps/roll paused" in kubectl(handle, "rollout", "pause", "deployment/roll").stdout
    kubectl(handle, "set", "image", "deployment/roll", "web=nginx:1.26")
    time.sleep(0.5)
    assert sorted(_replicasets(handle, "roll")) == ["1", "2"]  # paused: no rollout of the new template
    conds = {c["type"]: c for c in get(handle, "deployment/roll")["status"]["conditions"]}
    assert conds["Progressing"]["reason"] == "DeploymentPaused"
    assert "deployment.apps/roll resumed" in kubectl(handle, "rollout", "resume", "deployment/roll").stdout
    kubectl(handle, "rollout", "status", "deployment/roll", "--timeout=30s")
    assert _history(handle, "deployment/roll") == ["1", "2", "3"]

    assert "rolled back" in kubectl(handle, "rollout", "undo", "deployment/roll", "--to-revision=1").stdout
    kubectl(handle, "rollout", "status", "deployment/roll", "--timeout=30s")
    assert _history(handle, "deployment/roll") == ["2", "3", "4"]
    rss = _replicasets(handle, "roll")
    assert rss["4"]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert "annotations" not in rss["4"]["spec"]["template"]["metadata"]


def _sts_revisions(h: ClusterHandle, app: str) -> dict[int, dict[str, Any]]:
    return {int(r["revision"]): r for r in get(h, "controllerrevisions", "-l", f"app={app}")["items"]}


def _pods(h: ClusterHandle, app: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get(h, "pods", "-l", f"app={app}")["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def test_statefulset_and_daemonset_restart_history_undo(handle: ClusterHandle) -> None:
    kubectl(handle, "apply", "-f", "-", input_text=WORKLOADS)
    kubectl(handle, "rollout", "status", "statefulset/db", "--timeout=30s")
    kubectl(handle, "rollout", "status", "daemonset/agent", "--timeout=30s")
    assert "statefulset.apps/db scaled" in kubectl(handle, "scale", "statefulset/db", "--replicas=3").stdout
    kubectl(handle, "rollout", "status", "statefulset/db", "--timeout=30s")
    for kind, name in (("statefulset", "db"), ("daemonset", "agent")):
        app = name

        def pod_label(rev: dict[str, Any], kind: str = kind) -> str:
            """What a pod of that revision carries in ``controller-revision-hash``: the revision's name
            for a StatefulSet, the bare hash (also on the revision) for a DaemonSet."""
            if kind == "statefulset":
                assert rev["metadata"]["name"] == f"db-{rev['metadata']['labels']['controller.kubernetes.io/hash']}"
                return str(rev["metadata"]["name"])
            return str(rev["metadata"]["labels"]["controller-revision-hash"])

        before = _sts_revisions(handle, app)
        assert list(before) == [1], (kind, before)
        assert before[1]["data"]["spec"]["template"]["$patch"] == "replace"
        first_hash = pod_label(before[1])
        assert f"{kind}.apps/{name} restarted" in kubectl(handle, "rollout", "restart", f"{kind}/{name}").stdout
        kubectl(handle, "rollout", "status", f"{kind}/{name}", "--timeout=30s")
        revs = _sts_revisions(handle, app)
        assert sorted(revs) == [1, 2]
        second_hash = pod_label(revs[2])
        assert {p["metadata"]["labels"]["controller-revision-hash"] for p in _pods(handle, app)} == {second_hash}
        assert _history(handle, f"{kind}/{name}") == ["1", "2"]
        assert "rolled back" in kubectl(handle, "rollout", "undo", f"{kind}/{name}").stdout
        kubectl(handle, "rollout", "status", f"{kind}/{name}", "--timeout=30s")
        live = get(handle, f"{kind}/{name}")
        assert "annotations" not in live["spec"]["template"]["metadata"]  # back to revision 1's template
        # the equivalent old revision is reused and renumbered, as the controllers do
        assert _history(handle, f"{kind}/{name}") == ["2", "3"]
        assert {p["metadata"]["labels"]["controller-revision-hash"] for p in _pods(handle, app)} == {first_hash}
    paused = kubectl(handle, "rollout", "pause", "statefulset/db", check=False)
    assert paused.returncode != 0
    assert "pausing is not supported" in paused.stderr


def test_delete_cascade_orphan_background_foreground(handle: ClusterHandle) -> None:
    for name in ("orphaned", "background", "foreground"):
        kubectl(handle, "apply", "-f", "-", input_text=json.dumps(_deployment(name, replicas=1)))
    for name in ("orphaned", "background", "foreground"):
        kubectl(handle, "rollout", "status", f"deployment/{name}", "--timeout=30s")
    kubectl(handle, "delete", "deployment/orphaned", "--cascade=orphan")
    rs = wait(lambda: [r for r in get(handle, "rs", "-l", "app=orphaned")["items"]
                       if not r["metadata"].get("ownerReferences")], "the ReplicaSet to be orphaned")
    assert len(rs) == 1
    assert len(_pods(handle, "orphaned")) == 1  # the ReplicaSet keeps its pods
    # an orphaned ReplicaSet is nobody's: scaling it sticks
    assert "scaled" in kubectl(handle, "scale", f"rs/{rs[0]['metadata']['name']}", "--replicas=2").stdout
    wait(lambda: len(_pods(handle, "orphaned")) == 2, "the orphaned ReplicaSet to scale")
    kubectl(handle, "delete", "deployment/background", "--cascade=background")
    wait(lambda: not get(handle, "rs", "-l", "app=background")["items"], "background GC of the ReplicaSet")
    wait(lambda: not _pods(handle, "background"), "background GC of the pods")
    out = kubectl(handle, "delete", "deployment/foreground", "--cascade=foreground")
    assert 'deployment.apps "foreground" deleted' in out.stdout
    assert not get(handle, "rs", "-l", "app=foreground")["items"]
    assert kubectl(handle, "get", "deployment/foreground", check=False).returncode != 0
    kubectl(handle, "delete", "rs", "-l", "app=orphaned")

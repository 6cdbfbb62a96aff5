"""Node operations against a sandbox cluster over HTTPS: cordon, uncordon and drain through the
API, the task's work checked inside the cluster (the node unschedulable, pods evicted, a
PodDisruptionBudget that blocks eviction reported by pod), convergence when run twice, a drain
held by a budget as short re-enqueued steps (no worker waits), and operations carried out by a
real Celery worker after the request commits."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from clusters import services, tasks
from clusters.kube.connection import spec_from_kubeconfig
from clusters.models import Cluster, KubeObject, NodeOperation
from portal.models import AuditRecord
from portal.testing import Subscriber as EventTap
from portal.testing import wait_for
from sandbox.resources import DAEMONSETS, NAMESPACES, NODES, PDBS, PODS

SANDBOX_CLUSTER = "nodeops"
# Budgets refusing are asked again every 0.1 s, and the drain gives up after 1 s.
FAST = services.DrainPolicy(step_delay=0.1, timeout=1.0)
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def fleet(sandbox_fleet: Any) -> Iterator[Any]:
    """A cluster of its own: cordoning and draining must not disturb other tests' clusters."""
    sandbox_fleet.add_cluster(SANDBOX_CLUSTER, nodes=3)
    yield sandbox_fleet
    sandbox_fleet.remove_cluster(SANDBOX_CLUSTER)


@pytest.fixture
def operator_api(operator_user: object) -> APIClient:
    client = APIClient()
    client.force_authenticate(operator_user)  # type: ignore[arg-type]
    return client


def node_name(n: int) -> str:
    return f"{SANDBOX_CLUSTER}-node-{n}"


def registered(fleet: Any) -> Cluster:
    """A cluster row for the sandbox cluster, with its nodes in the read model (as the watcher
    would have them): node operations refuse nodes the portal does not know."""
    spec, _ = spec_from_kubeconfig(fleet.cluster(SANDBOX_CLUSTER).kubeconfig.read_text())
    cluster = Cluster.objects.create(name=f"nodeops-{os.getpid()}-{next(_ids)}", server=spec.server,
                                     ca_pem=spec.ca_pem, status="connected")
    cluster.set_credentials(spec.credentials)
    cluster.save()
    for n in (1, 2, 3):
        KubeObject.objects.create(cluster=cluster, kind="Node", name=node_name(n), uid=f"n{n}", resource_version="1",
                                  data={"ready": True})
    return cluster


def node_in_cluster(fleet: Any, name: str) -> dict[str, Any]:
    return dict(fleet.in_cluster(SANDBOX_CLUSTER, lambda c: c.store.get(NODES, None, name)))


def running_pod(fleet: Any, ns: str, name: str, node: str, labels: dict[str, str], *, controlled: bool = True,
                volumes: list[dict[str, Any]] | None = None) -> None:
    """A Running pod on ``node``; ``controlled`` gives it a controller (a ReplicaSet) as most pods
    have; without one it is a bare pod, which a drain may evict only with force."""
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels}
    if controlled:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{name}-rs",
                                    "uid": f"rs-{ns}-{name}", "controller": True, "blockOwnerDeletion": True}]
    spec: dict[str, Any] = {"nodeName": node, "containers": [{"name": "app", "image": "nginx:1"}]}
    if volumes:
        spec["volumes"] = volumes

    def make(c: Any) -> None:
        c.store.create(PODS, {"metadata": meta, "spec": spec})
        c.store.mutate(PODS, ns, name, lambda p: p.__setitem__("status", {
            "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0,
                                   "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}),
            subresource="status")

    fleet.in_cluster(SANDBOX_CLUSTER, make)


def pod_state(fleet: Any, ns: str, name: str) -> str:
    pod = fleet.in_cluster(SANDBOX_CLUSTER, lambda c: c.store.get(PODS, ns, name))
    if pod is None:
        return "gone"
    return "terminating" if pod["metadata"].get("deletionTimestamp") else "present"


def operate(api: APIClient, cluster: Cluster, node: str, kind: str) -> dict[str, Any]:
    response = api.post(f"/api/clusters/{cluster.pk}/nodes/{node}/{kind}/")
    assert response.status_code == 202, response.json()
    body = dict(response.json())
    assert body["status"] == "pending"
    assert body["kind"] == kind
    assert body["node"] == node
    return body


@pytest.mark.django_db
def test_cordon_and_uncordon(fleet: Any, operator_api: APIClient) -> None:
    cluster = registered(fleet)
    node = node_name(1)
    op = operate(operator_api, cluster, node, "cordon")
    # Another operation on the same node waits for this one.
    busy = operator_api.post(f"/api/clusters/{cluster.pk}/nodes/{node}/drain/")
    assert busy.status_code == 409
    assert "still pending" in busy.json()["detail"]

    assert services.run_node_operation(op["id"]) == "succeeded"
    assert node_in_cluster(fleet, node)["spec"]["unschedulable"] is True
    detail = operator_api.get(f"/api/clusters/{cluster.pk}/operations/{op['id']}/").json()
    assert detail["status"] == "succeeded"
    assert "cordoned" in detail["message"]
    assert detail["finished"] is not None
    assert services.run_node_operation(op["id"]) == "succeeded"  # converged; nothing more to do

    op = operate(operator_api, cluster, node, "uncordon")
    assert services.run_node_operation(op["id"]) == "succeeded"
    assert not node_in_cluster(fleet, node)["spec"].get("unschedulable")
    actions = set(AuditRecord.objects.filter(target_id=str(cluster.pk)).values_list("action", flat=True))
    assert {"node.cordon", "node.cordon.finished", "node.uncordon", "node.uncordon.finished"} <= actions


@pytest.mark.django_db
def test_drain_evicts_and_reports_what_a_pdb_blocks(fleet: Any, operator_api: APIClient) -> None:
    cluster = registered(fleet)
    node, ns = node_name(2), f"drain-{next(_ids)}"
    fleet.in_cluster(SANDBOX_CLUSTER, lambda c: c.store.create(NAMESPACES, {"metadata": {"name": ns}}))
    for i in range(2):
        running_pod(fleet, ns, f"free-{i}", node, {"app": "free"})
    running_pod(fleet, ns, "guarded", node, {"app": "guarded"})
    fleet.in_cluster(SANDBOX_CLUSTER, lambda c: c.store.create(PDBS, {
        "metadata": {"name": "keep-one", "namespace": ns},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}}}))
    agent = {"app": f"agent-{ns}"}
    fleet.in_cluster(SANDBOX_CLUSTER, lambda c: c.store.create(DAEMONSETS, {
        "metadata": {"name": "agent", "namespace": ns},
        "spec": {"selector": {"matchLabels": agent}, "template": {
            "metadata": {"labels": agent}, "spec": {"containers": [{"name": "agent", "image": "agent:1"}]}}}}))

    def agent_on_node() -> str | None:
        pods, _ = fleet.in_cluster(SANDBOX_CLUSTER, lambda c: c.store.list(PODS, ns, field_selector=f"spec.nodeName={node}"))
        return next((p["metadata"]["name"] for p in pods if p["metadata"]["name"].startswith("agent")), None)

    agent_pod = wait_for(agent_on_node, what="the DaemonSet's pod on the node")

    op = operate(operator_api, cluster, node, "drain")
    assert services.run_node_operation(op["id"], policy=FAST) == "failed"

    assert node_in_cluster(fleet, node)["spec"]["unschedulable"] is True
    for name in ("free-0", "free-1"):
        assert pod_state(fleet, ns, name) in ("terminating", "gone"), name
    assert pod_state(fleet, ns, "guarded") == "present"
    assert pod_state(fleet, ns, agent_pod) == "present"

    done = NodeOperation.objects.get(pk=op["id"])
    assert done.status == "failed"
    assert {f"{ns}/free-0", f"{ns}/free-1"} <= set(done.progress["evicted"])
    assert [f["pod"] for f in done.progress["failed"]] == [f"{ns}/guarded"]
    assert "PodDisruptionBudget" in done.progress["failed"][0]["reason"]
    assert "disruption budget" in done.progress["failed"][0]["reason"]
    assert done.progress["remaining"] == 0
    assert {"pod": f"{ns}/{agent_pod}", "reason": "DaemonSet pod"} in done.progress["skipped"]
    assert f"{ns}/guarded" in done.message
    record = AuditRecord.objects.get(action="node.drain.finished", target_id=str(cluster.pk))
    assert record.outcome == "failure"

    # Once the budget allows it, draining again evicts the rest.
    fleet.in_cluster(SANDBOX_CLUSTER, lambda c: c.store.delete(PDBS, ns, "keep-one"))
    again = operate(operator_api, cluster, node, "drain")
    assert services.run_node_operation(again["id"], policy=FAST) == "succeeded"
    assert pod_state(fleet, ns, "guarded") in ("terminating", "gone")
    assert f"{ns}/guarded" in NodeOperation.objects.get(pk=again["id"]).progress["evicted"]
    op = operate(operator_api, cluster, node, "uncordon")
    assert services.run_node_operation(op["id"]) == "succeeded"


@pytest.mark.django_db
def test_drain_refuses_bare_and_emptydir_pods_unless_asked(fleet: Any, operator_api: APIClient,
                                                           user_api: APIClient) -> None:
    """As kubectl drain: a pod no controller recreates needs force, a pod with emptyDir data needs
    delete_emptydir_data; without them nothing is evicted and the blocking pods are listed."""
    cluster = registered(fleet)
    node, ns = node_name(3), f"bare-{next(_ids)}"
    fleet.in_cluster(SANDBOX_CLUSTER, lambda c: c.store.create(NAMESPACES, {"metadata": {"name": ns}}))
    running_pod(fleet, ns, "managed", node, {"app": "managed"})
    running_pod(fleet, ns, "bare", node, {"app": "bare"}, controlled=False)
    running_pod(fleet, ns, "cache", node, {"app": "cache"}, volumes=[{"name": "tmp", "emptyDir": {}}])
    base = f"/api/clusters/{cluster.pk}/nodes/{node}"

    # The dialog's preview: what would block, what would be lost.
    assert user_api.get(f"{base}/drain-preview/").status_code in (403, 404)
    preview = operator_api.get(f"{base}/drain-preview/")
    assert preview.status_code == 200, preview.content
    plan = {p["pod"]: p for p in preview.json()["pods"]}
    assert plan[f"{ns}/managed"]["action"] == "evict"
    assert plan[f"{ns}/managed"]["controller"] == "ReplicaSet/managed-rs"
    assert (plan[f"{ns}/bare"]["action"], plan[f"{ns}/bare"]["needs"]) == ("blocked", ["force"])
    assert (plan[f"{ns}/cache"]["action"], plan[f"{ns}/cache"]["needs"]) == ("blocked", ["delete_emptydir_data"])
    assert preview.json()["blocked"] >= 2
    both = operator_api.get(f"{base}/drain-preview/?force=true&delete_emptydir_data=true").json()
    assert {f"{ns}/bare", f"{ns}/cache"} <= set(both["lost"])
    assert both["blocked"] == 0
    assert operator_api.post(f"{base}/drain/", {"force": "maybe"}, format="json").status_code == 400
    assert operator_api.post(f"{base}/drain/", {"forced": True}, format="json").status_code == 400

    # Without the options: cordoned, nothing evicted, the blocking pods listed.
    op = operate(operator_api, cluster, node, "drain")
    assert services.run_node_operation(op["id"], policy=FAST) == "failed"
    assert node_in_cluster(fleet, node)["spec"]["unschedulable"] is True
    for name in ("managed", "bare", "cache"):
        assert pod_state(fleet, ns, name) == "present", name
    done = NodeOperation.objects.get(pk=op["id"])
    blocked = {b["pod"]: b["reason"] for b in done.progress["blocked"]}
    assert "use force" in blocked[f"{ns}/bare"]
    assert "use delete_emptydir_data" in blocked[f"{ns}/cache"]
    assert done.progress["evicted"] == []
    assert done.progress["options"] == {"force": False, "delete_emptydir_data": False}
    assert "stopped before evicting anything" in done.message
    assert f"{ns}/bare" in done.message

    # force alone still stops at the emptyDir pod.
    response = operator_api.post(f"{base}/drain/", {"force": True}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["progress"]["options"] == {"force": True, "delete_emptydir_data": False}
    assert services.run_node_operation(response.json()["id"], policy=FAST) == "failed"
    assert [b["pod"] for b in NodeOperation.objects.get(pk=response.json()["id"]).progress["blocked"]] == [
        f"{ns}/cache"]
    assert pod_state(fleet, ns, "bare") == "present"

    # Both: everything goes, and the message names what will not come back.
    response = operator_api.post(f"{base}/drain/", {"force": True, "delete_emptydir_data": True}, format="json")
    assert services.run_node_operation(response.json()["id"], policy=FAST) == "succeeded"
    for name in ("managed", "bare", "cache"):
        assert pod_state(fleet, ns, name) in ("terminating", "gone"), name
    done = NodeOperation.objects.get(pk=response.json()["id"])
    assert done.progress["blocked"] == []
    assert f"{ns}/bare" in done.message
    record = AuditRecord.objects.filter(action="node.drain", target_id=str(cluster.pk)).order_by("-pk").first()
    assert record is not None
    assert record.detail["options"] == {"force": True, "delete_emptydir_data": True}
    op = operate(operator_api, cluster, node, "uncordon")
    assert services.run_node_operation(op["id"]) == "succeeded"


@pytest.mark.django_db
def test_who_may_operate_and_unknown_nodes(fleet: Any, user_api: APIClient, operator_api: APIClient) -> None:
    cluster = registered(fleet)
    assert user_api.post(f"/api/clusters/{cluster.pk}/nodes/{node_name(1)}/cordon/").status_code == 404
    assert operator_api.post(f"/api/clusters/{cluster.pk}/nodes/no-such-node/cordon/").status_code == 404
    assert operator_api.get(f"/api/clusters/{cluster.pk}/operations/999999/").status_code == 404
    assert not NodeOperation.objects.filter(cluster=cluster).exists()


@pytest.mark.django_db
def test_an_operation_no_worker_started_does_not_block_the_node(fleet: Any, operator_api: APIClient) -> None:
    from datetime import timedelta

    from django.utils import timezone

    cluster = registered(fleet)
    lost = operate(operator_api, cluster, node_name(1), "cordon")
    NodeOperation.objects.filter(pk=lost["id"]).update(created=timezone.now() - timedelta(hours=1))
    op = operate(operator_api, cluster, node_name(1), "uncordon")
    assert NodeOperation.objects.get(pk=lost["id"]).status == "failed"
    assert "No worker started" in NodeOperation.objects.get(pk=lost["id"]).message
    assert services.run_node_operation(op["id"]) == "succeeded"


@pytest.mark.django_db
def test_a_node_gone_from_the_cluster_fails_the_operation(fleet: Any, operator_api: APIClient) -> None:
    cluster = registered(fleet)
    KubeObject.objects.create(cluster=cluster, kind="Node", name="ghost", uid="g", resource_version="1")
    op = operate(operator_api, cluster, "ghost", "cordon")
    assert services.run_node_operation(op["id"]) == "failed"
    assert "no longer exists" in NodeOperation.objects.get(pk=op["id"]).message


def guarded_pod(fleet: Any, node: str) -> str:
    """A namespace with one pod on ``node`` that a PodDisruptionBudget (minAvailable 1) keeps from
    being evicted; returns the namespace."""
    ns = f"pdb-{next(_ids)}"
    fleet.in_cluster(SANDBOX_CLUSTER, lambda c: c.store.create(NAMESPACES, {"metadata": {"name": ns}}))
    running_pod(fleet, ns, "guarded", node, {"app": "guarded"})
    fleet.in_cluster(SANDBOX_CLUSTER, lambda c: c.store.create(PDBS, {
        "metadata": {"name": "keep-one", "namespace": ns},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}}}))
    return ns


@pytest.mark.django_db
def test_a_drain_held_by_a_budget_is_short_steps_not_a_waiting_worker(fleet: Any, operator_api: APIClient) -> None:
    """Before: one task evicted, slept and retried for as long as a budget refused, holding its
    worker. Now each step is one pass that records what waits and returns at once with when to
    look again; a later step finishes the drain once the budget allows it."""
    cluster = registered(fleet)
    node = node_name(1)
    ns = guarded_pod(fleet, node)
    policy = services.DrainPolicy(step_delay=5.0, timeout=120.0)
    op = operate(operator_api, cluster, node, "drain")

    started = time.monotonic()
    first = services.node_operation_step(op["id"], policy=policy)
    assert time.monotonic() - started < 4.0  # one pass: no sleeping between refusals
    assert (first.status, first.again_in, first.step) == ("running", 5.0, 1)
    row = NodeOperation.objects.get(pk=op["id"])
    assert row.status == "running"
    assert row.step == 1
    assert row.deadline is not None
    assert row.next_step_at is not None
    assert [w["pod"] for w in row.progress["waiting"]] == [f"{ns}/guarded"]
    assert "disruption budget" in row.progress["waiting"][0]["reason"]
    assert row.message_code == "drain_waiting"
    assert row.message_params["pods"] == [f"{ns}/guarded"]
    assert "PodDisruptionBudget" in row.message
    assert pod_state(fleet, ns, "guarded") == "present"
    detail = operator_api.get(f"/api/clusters/{cluster.pk}/operations/{op['id']}/").json()
    assert (detail["status"], detail["message_code"]) == ("running", "drain_waiting")
    # A stale copy of the first step (a redelivered message) leaves at once without a pass.
    assert services.node_operation_step(op["id"], step=0, policy=policy) == services.Step("running")
    # Uncordon waits for the drain: the node is still busy.
    assert operator_api.post(f"/api/clusters/{cluster.pk}/nodes/{node}/uncordon/").status_code == 409

    fleet.in_cluster(SANDBOX_CLUSTER, lambda c: c.store.delete(PDBS, ns, "keep-one"))
    done = services.node_operation_step(op["id"], step=first.step, policy=policy)
    assert done == services.Step("succeeded")
    assert pod_state(fleet, ns, "guarded") in ("terminating", "gone")
    row = NodeOperation.objects.get(pk=op["id"])
    assert f"{ns}/guarded" in row.progress["evicted"]
    assert (row.progress["waiting"], row.message_code, row.message_params["node"]) == ([], "drain_succeeded", node)
    # Finished: a late copy of any step leaves it alone.
    assert services.node_operation_step(op["id"], step=first.step, policy=policy) == services.Step("succeeded")
    op = operate(operator_api, cluster, node, "uncordon")
    assert services.run_node_operation(op["id"]) == "succeeded"


@pytest.mark.django_db
def test_a_drain_past_its_deadline_fails_with_the_pods_that_were_refused(fleet: Any, operator_api: APIClient
                                                                         ) -> None:
    cluster = registered(fleet)
    node = node_name(2)
    ns = guarded_pod(fleet, node)
    op = operate(operator_api, cluster, node, "drain")
    try:
        assert services.node_operation_step(op["id"], policy=FAST).again_in == 0.1
        NodeOperation.objects.filter(pk=op["id"]).update(deadline=timezone.now() - timedelta(seconds=1))
        row = NodeOperation.objects.get(pk=op["id"])
        # The beat rescues a chain whose next step is long overdue (its message lost).
        NodeOperation.objects.filter(pk=op["id"]).update(next_step_at=timezone.now() - timedelta(minutes=5))
        assert ("clusters.drain_step", row.pk, row.step) in services.overdue_node_operations()
        assert services.node_operation_step(op["id"], step=row.step, policy=FAST).status == "failed"
        row = NodeOperation.objects.get(pk=op["id"])
        assert row.message_code == "drain_deadline_passed"
        # other tests' pods may share the node (the fleet is the session's): those were evicted
        evicted = row.message_params.pop("evicted")
        assert evicted == len(row.progress.get("evicted", [])), row.progress
        assert row.message_params == {"node": node, "seconds": 1, "pods": [f"{ns}/guarded"]}
        assert [f["pod"] for f in row.progress["failed"]] == [f"{ns}/guarded"]
        assert "within the drain's 1 s" in row.progress["failed"][0]["reason"]
        assert row.next_step_at is None
        assert (row.pk, row.step) not in [(pk, step) for _, pk, step in services.overdue_node_operations()]
    finally:  # leave the node as the next test expects it, whatever happened above
        fleet.in_cluster(SANDBOX_CLUSTER, lambda c: c.store.delete(PDBS, ns, "keep-one"))
        op = operate(operator_api, cluster, node, "uncordon")
        assert services.run_node_operation(op["id"]) == "succeeded"


# ---------------------------------------------------------------------------- through a real worker


@pytest.fixture
def worker_on_test_db(transactional_db: None, celery_worker_process: Any) -> Any:
    """The session's real Celery worker (``--pool=solo``: one task at a time, every queue), which
    reads the *test* database."""
    return celery_worker_process


def test_cordon_runs_in_a_real_worker_after_commit(fleet: Any, worker_on_test_db: Any, operator_user: Any) -> None:
    client = APIClient()
    client.force_authenticate(operator_user)
    cluster = registered(fleet)
    node = node_name(3)
    tap = EventTap(f"cluster.{cluster.pk}")
    try:
        op = operate(client, cluster, node, "cordon")

        def finished() -> str | None:
            status = NodeOperation.objects.get(pk=op["id"]).status
            return status if status in ("succeeded", "failed") else None

        assert wait_for(finished, timeout=60, what="the worker to run the operation") == "succeeded"
        # Progress went out on the cluster's group after each commit, ending with the result.
        done = tap.wait(lambda e: e["type"] == "node_operation.updated" and e["data"]["id"] == op["id"]
                        and e["data"]["status"] == "succeeded")
        assert done["group"] == f"cluster.{cluster.pk}"
        assert done["data"]["node"] == node
        statuses = [e["data"]["status"] for e in tap.seen if e["type"] == "node_operation.updated"]
        assert statuses[0] == "pending"
        assert "running" in statuses
    finally:
        tap.close()
    assert node_in_cluster(fleet, node)["spec"]["unschedulable"] is True
    op = operate(client, cluster, node, "uncordon")
    assert wait_for(finished, timeout=60, what="the uncordon") == "succeeded"
    assert not node_in_cluster(fleet, node)["spec"].get("unschedulable")


def test_a_budget_blocked_drain_leaves_the_worker_free(fleet: Any, worker_on_test_db: Any, operator_user: Any
                                                       ) -> None:
    """Through the real (single-threaded) worker: while a budget refuses, the drain waits as a
    countdown on the ``long`` queue, the worker meanwhile cordons another node, and the
    re-enqueued step finishes the drain once the budget allows it."""
    client = APIClient()
    client.force_authenticate(operator_user)
    cluster = registered(fleet)
    node, other = node_name(2), node_name(3)
    ns = guarded_pod(fleet, node)
    op = operate(client, cluster, node, "drain")

    def state(op_id: int) -> tuple[str, str]:
        row = NodeOperation.objects.get(pk=op_id)
        return str(row.status), str(row.message_code)

    wait_for(lambda: state(op["id"]) == ("running", "drain_waiting"), timeout=60, what="the drain's first step")
    cordon = operate(client, cluster, other, "cordon")
    wait_for(lambda: state(cordon["id"])[0] == "succeeded", timeout=30, what="the cordon, while the drain waits")
    assert state(op["id"]) == ("running", "drain_waiting")

    fleet.in_cluster(SANDBOX_CLUSTER, lambda c: c.store.delete(PDBS, ns, "keep-one"))
    wait_for(lambda: state(op["id"]) == ("succeeded", "drain_succeeded"), timeout=60,
             what="a later step to finish the drain")
    assert NodeOperation.objects.get(pk=op["id"]).step >= 1
    assert pod_state(fleet, ns, "guarded") in ("terminating", "gone")
    for name in (node, other):
        op = operate(client, cluster, name, "uncordon")
        def uncordoned(op_id: int = op["id"]) -> bool:
            return state(op_id)[0] == "succeeded"

        wait_for(uncordoned, timeout=60, what="the uncordon")


def test_tasks_route_drains_to_the_long_queue() -> None:
    from portal.enqueue import queue_for

    assert queue_for(tasks.drain_node.name) == queue_for(tasks.drain_step.name) == "long"
    assert queue_for(tasks.run_node_operation.name) == "control"

"""The ObjectAction machinery against a sandbox cluster over HTTPS: the writer stores the intent
with its audit record and event, the operation applies it with server-side apply under the
requester's field manager, a second run changes nothing, a Secret's manifest is stored
encrypted and its values never reach the diff, and a real Celery worker runs the task after the
request commits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from clusters import object_actions, object_ops
from clusters.kube.client import KubeClient
from clusters.models import Cluster, ObjectAction
from clusters.tests.helpers import register
from portal.models import AuditRecord
from portal.testing import Subscriber, make_user, unique, wait_for
from sandbox.resources import DEPLOYMENTS, NAMESPACES, SECRETS

SANDBOX_CLUSTER = "objactions"


@pytest.fixture(scope="module")
def fleet(sandbox_fleet: Any) -> Iterator[Any]:
    sandbox_fleet.add_cluster(SANDBOX_CLUSTER, nodes=1)
    yield sandbox_fleet
    sandbox_fleet.remove_cluster(SANDBOX_CLUSTER)


def deployment(fleet: Any, ns: str, name: str, replicas: int = 1) -> None:
    labels = {"app": name}

    def make(c: Any) -> None:
        if c.store.get(NAMESPACES, None, ns) is None:
            c.store.create(NAMESPACES, {"metadata": {"name": ns}})
        c.store.create(DEPLOYMENTS, {"metadata": {"name": name, "namespace": ns, "labels": labels},
                                     "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                                              "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                                                  {"name": "web", "image": "nginx:1.27"}]}}}})

    fleet.in_cluster(SANDBOX_CLUSTER, make)


def live(fleet: Any, rt: Any, ns: str, name: str) -> dict[str, Any]:
    return dict(fleet.in_cluster(SANDBOX_CLUSTER, lambda c: c.store.get(rt, ns, name)))


def edited(ns: str, name: str, replicas: int) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
  labels:
    app: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: web
        image: nginx:1.27
"""


@pytest.mark.django_db
def test_apply_is_recorded_applied_under_the_requesters_manager_and_converges(fleet: Any) -> None:
    cluster = register(fleet, SANDBOX_CLUSTER)
    alice = make_user(unique("alice"), role="operator")
    ns, name = unique("ed"), "web"
    deployment(fleet, ns, name, replicas=1)
    action = object_actions.request_action(
        alice, cluster, group="apps", version="v1", plural="deployments", kind="Deployment", namespace=ns,
        name=name, action="apply", params={"force": False}, manifest=edited(ns, name, 3))
    assert action.status == "pending"
    audit = AuditRecord.objects.get(action="object.apply")
    assert audit.detail == {"cluster": cluster.pk, "namespace": ns, "kind": "Deployment", "name": name,
                            "action_id": action.pk, "params": {"force": False}}

    assert object_ops.run(action.pk) == "succeeded"
    action.refresh_from_db()
    assert action.message_code == "object_applied"
    assert "-  replicas: 1" in action.diff
    assert "+  replicas: 3" in action.diff
    assert action.result["resource_version"]
    assert action.attempts == 1
    obj = live(fleet, DEPLOYMENTS, ns, name)
    assert obj["spec"]["replicas"] == 3
    assert f"portal:{alice.username}" in [m["manager"] for m in obj["metadata"]["managedFields"]]

    # A finished action is left alone; the same change applied again changes nothing.
    assert object_ops.run(action.pk) == "succeeded"
    again = object_actions.request_action(
        alice, cluster, group="apps", version="v1", plural="deployments", kind="Deployment", namespace=ns,
        name=name, action="apply", manifest=edited(ns, name, 3))
    before = live(fleet, DEPLOYMENTS, ns, name)["metadata"]["resourceVersion"]
    assert object_ops.run(again.pk) == "succeeded"
    again.refresh_from_db()
    assert again.message_code == "object_unchanged"
    assert again.diff == ""
    assert live(fleet, DEPLOYMENTS, ns, name)["metadata"]["resourceVersion"] == before


@pytest.mark.django_db
def test_a_running_action_whose_worker_died_runs_again_and_converges(fleet: Any) -> None:
    cluster = register(fleet, SANDBOX_CLUSTER)
    bob = make_user(unique("bob"), role="operator")
    ns, name = unique("rerun"), "web"
    deployment(fleet, ns, name, replicas=1)
    action = object_actions.request_action(
        bob, cluster, group="apps", version="v1", plural="deployments", kind="Deployment", namespace=ns,
        name=name, action="apply", manifest=edited(ns, name, 2))
    # A run claims the action: a second copy of the task arriving meanwhile leaves it to that run.
    claimed = object_actions.begin(action.pk)
    assert claimed is not None
    assert object_ops.run(action.pk) == "running"
    assert action.pk not in object_ops.overdue_actions()
    # That run applied, then its worker died before recording: past the lease the row is sent
    # again by the beat, and the next run converges.
    with KubeClient(cluster.connection_spec()) as client:
        object_ops.apply_object(claimed, client)
    ObjectAction.objects.filter(pk=action.pk).update(status="running", finished=None, diff="",
                                                     started=timezone.now() - object_actions.RUNNING_LEASE * 2)
    assert action.pk in object_ops.overdue_actions()
    assert object_ops.run(action.pk) == "succeeded"
    action.refresh_from_db()
    assert action.attempts == 2
    assert live(fleet, DEPLOYMENTS, ns, name)["spec"]["replicas"] == 2


@pytest.mark.django_db
def test_a_pending_action_whose_enqueue_was_lost_is_sent_again(fleet: Any) -> None:
    cluster = register(fleet, SANDBOX_CLUSTER)
    erin = make_user(unique("erin"), role="operator")
    action = object_actions.request_action(
        erin, cluster, group="apps", version="v1", plural="deployments", kind="Deployment", namespace="x",
        name="web", action="apply", manifest=edited("x", "web", 2))
    assert action.pk not in object_ops.overdue_actions()  # just written: its task is on the way
    ObjectAction.objects.filter(pk=action.pk).update(created=timezone.now() - object_ops.PENDING_GRACE * 2)
    assert action.pk in object_ops.overdue_actions()


@pytest.mark.django_db
def test_a_secret_manifest_is_stored_encrypted_and_its_values_never_reach_the_diff(fleet: Any) -> None:
    cluster = register(fleet, SANDBOX_CLUSTER)
    carol = make_user(unique("carol"), role="operator")
    ns = unique("sec")
    fleet.in_cluster(SANDBOX_CLUSTER, lambda c: (
        c.store.create(NAMESPACES, {"metadata": {"name": ns}}),
        c.store.create(SECRETS, {"metadata": {"name": "db", "namespace": ns},
                                 "data": {"password": "b2xkLXNlY3JldA==", "user": "YWRtaW4="}})))
    # "(hidden)" keeps the live value; a typed value replaces it.
    manifest = f"""apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: {ns}
data:
  password: bmV3LXNlY3JldA==
  user: (hidden)
"""
    action = object_actions.request_action(
        carol, cluster, group="", version="v1", plural="secrets", kind="Secret", namespace=ns, name="db",
        action="apply", params={"force": True}, manifest=manifest)
    stored = ObjectAction.objects.get(pk=action.pk)
    assert stored.manifest_encrypted
    assert "bmV3LXNlY3JldA==" not in stored.manifest
    assert stored.get_manifest() == manifest
    assert object_ops.run(action.pk) == "succeeded"
    stored.refresh_from_db()
    secret = live(fleet, SECRETS, ns, "db")
    assert secret["data"] == {"password": "bmV3LXNlY3JldA==", "user": "YWRtaW4="}
    for clear in ("bmV3LXNlY3JldA==", "b2xkLXNlY3JldA==", "YWRtaW4="):
        assert clear not in stored.diff
    assert "password: (hidden, changed)" in stored.diff


@pytest.fixture
def worker_on_test_db(transactional_db: None, celery_worker_process: Any) -> Any:
    return celery_worker_process


def test_the_task_runs_in_a_real_worker_after_commit(fleet: Any, worker_on_test_db: Any) -> None:
    cluster: Cluster = register(fleet, SANDBOX_CLUSTER)
    dave = make_user(unique("dave"), role="operator")
    ns, name = unique("worker"), "web"
    deployment(fleet, ns, name, replicas=1)
    tap = Subscriber(f"cluster.{cluster.pk}.ns.{ns}")
    try:
        action = object_actions.request_action(
            dave, cluster, group="apps", version="v1", plural="deployments", kind="Deployment", namespace=ns,
            name=name, action="apply", manifest=edited(ns, name, 4))

        def finished() -> str | None:
            status = ObjectAction.objects.get(pk=action.pk).status
            return status if status not in ("pending", "running") else None

        assert wait_for(finished, timeout=60, what="the worker to apply") == "succeeded"
        # The row went out on the namespace's group after each commit, ending with the outcome.
        done = tap.wait(lambda e: e["type"] == "objects.action" and e["data"]["id"] == action.pk
                        and e["data"]["status"] == "succeeded")
        assert done["data"]["diff"]
        statuses = [e["data"]["status"] for e in tap.seen if e["type"] == "objects.action"]
        assert statuses[0] == "pending"
        assert "running" in statuses
    finally:
        tap.close()
    assert live(fleet, DEPLOYMENTS, ns, name)["spec"]["replicas"] == 4

"""The watcher listener that records changes outside the portal, fed real :class:`Changes` of
rows projected from objects as the API server serves them (managedFields included): who wrote
last (not a status write) decides; the portal and controllers are recorded as the base of later
diffs but stay off the timeline; a second delivery records nothing twice; kubectl's changes are
announced on the namespace's socket group."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

import pytest
from django.utils import timezone

from activity import recorder
from activity.models import ObjectChange
from activity.tests.helpers import Scene, scene
from clusters.watcher import hooks
from clusters.watcher.projection import changed_by, project
from clusters.watcher.writer import Changes
from portal.testing import Subscriber

pytestmark = pytest.mark.django_db(transaction=True)
_rv = itertools.count(100)


def stamp(seconds_ago: float) -> str:
    return (timezone.now() - datetime.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry(manager: str, time: str, *, operation: str = "Update", subresource: str = "") -> dict[str, Any]:
    out = {"manager": manager, "operation": operation, "apiVersion": "apps/v1", "time": time,
           "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
    if subresource:
        out["subresource"] = subresource
    return out


def deployment(ns: str, replicas: int, *managed: dict[str, Any], name: str = "web") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": str(next(_rv)), "labels": {"app": name},
                         "managedFields": list(managed)},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
            "status": {"readyReplicas": 1}}


def changes(cluster_id: int, kind: str, *objects: dict[str, Any]) -> Changes:
    out = Changes()
    for obj in objects:
        row = project(kind, obj)
        out.upserts.setdefault((cluster_id, kind), {})[(row["namespace"], row["name"])] = row
    return out


@pytest.fixture
def s() -> Scene:
    recorder.forget()
    return scene()


def test_changed_by_is_the_newest_write_that_is_not_a_status_write() -> None:
    meta = {"managedFields": [entry("portal:alice", "2026-03-01T12:00:00Z", operation="Apply"),
                              entry("kube-controller-manager", "2026-03-01T12:00:09Z", subresource="status"),
                              entry("kubectl", "2026-03-01T12:00:05Z", subresource="scale")]}
    assert changed_by(meta) == {"manager": "kubectl", "operation": "Update", "time": "2026-03-01T12:00:05Z"}
    assert changed_by({"managedFields": [entry("x", "", subresource="status")]}) is None
    assert changed_by({}) is None
    row = project("Deployment", deployment("ns", 2, entry("kubectl-edit", "2026-03-01T12:00:00Z")))
    assert row["data"]["changed_by"]["manager"] == "kubectl-edit"
    for kind in ("Pod", "ReplicaSet"):  # not edited by people: no changed_by to compute on the hot path
        assert "changed_by" not in project(kind, {"metadata": {"name": "p", "managedFields": [
            entry("kubelet", "2026-03-01T12:00:00Z")]}})["data"]


def test_kubectl_changes_are_recorded_once_and_announced_portal_ones_kept_off_the_timeline(s: Scene) -> None:
    cid, ns = s.cluster.pk, s.ns
    sub = Subscriber(f"cluster.{cid}.ns.{ns}")
    portal_time, kubectl_time = stamp(30), stamp(5)
    applied = entry("portal:alice", portal_time, operation="Apply")

    # The portal applies (and the controller reports status): recorded, not on the timeline.
    recorder.record_changes(changes(cid, "Deployment", deployment(ns, 3, applied, entry(
        "kube-controller-manager", stamp(1), subresource="status"))))
    # kubectl edits the replicas; the same change delivered again (a relist) and a status-only
    # update afterwards record nothing more.
    edited = deployment(ns, 5, applied, entry("kubectl-edit", kubectl_time))
    for _ in range(2):
        recorder.record_changes(changes(cid, "Deployment", edited))
    recorder.forget()  # a restarted watcher process: the database's unique key keeps it once
    recorder.record_changes(changes(cid, "Deployment", edited))
    recorder.record_changes(changes(cid, "Deployment", deployment(ns, 5, applied, entry("kubectl-edit", kubectl_time),
                                                                  entry("kcm", stamp(0), subresource="status"))))

    rows = list(ObjectChange.objects.filter(cluster_id=cid).order_by("time").values_list(
        "manager", "outside", "snapshot"))
    assert [(m, o) for m, o, _ in rows] == [("portal:alice", False), ("kubectl-edit", True)]
    assert [r[2]["replicas"] for r in rows] == [3, 5]
    assert "ready_replicas" not in rows[1][2]

    event = sub.wait(lambda e: e["type"] == "activity.entry")
    assert event["data"]["entries"] == [{"cluster": cid, "namespace": ns, "kind": "Deployment", "name": "web",
                                         "manager": "kubectl-edit", "time": event["data"]["entries"][0]["time"],
                                         "source": "outside"}]
    while (more := sub.receive(timeout=0.5)) is not None:
        sub.history.append(more)
    assert [e["type"] for e in sub.history].count("activity.entry") == 1
    sub.close()


def test_controllers_other_kinds_and_old_changes(s: Scene, settings: Any) -> None:
    cid, ns = s.cluster.pk, s.ns
    recorder.record_changes(changes(cid, "Deployment",
                                    deployment(ns, 2, entry("kube-controller-manager", stamp(3)), name="scaled"),
                                    deployment(ns, 2, entry("helm", stamp(86_400)), name="old"),
                                    deployment(ns, 2, name="unmanaged")))
    recorder.record_changes(changes(cid, "Pod", {"metadata": {"name": "p", "namespace": ns, "managedFields": [
        entry("kubectl-run", stamp(2))]}}))
    got = dict(ObjectChange.objects.filter(cluster_id=cid).values_list("name", "outside"))
    assert got == {"scaled": False, "old": True}  # a day-old helm change is history, Pods are not tracked

    settings.PORTAL_ACTIVITY_INTERNAL_MANAGERS = ["helm", "portal:*"]
    recorder.record_changes(changes(cid, "Service", {
        "metadata": {"name": "svc", "namespace": ns, "managedFields": [entry("kube-controller-manager", stamp(1))]},
        "spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}))
    svc = ObjectChange.objects.get(cluster_id=cid, name="svc")
    assert svc.outside
    assert svc.snapshot["ports"][0]["port"] == 80


def test_the_listener_is_registered_for_the_edited_kinds_and_survives_a_failure(s: Scene) -> None:
    batch = changes(s.cluster.pk, "Deployment", deployment(s.ns, 2, entry("kubectl-edit", stamp(1))))
    assert hooks.wanted(batch)
    hooks.notify(batch)
    assert ObjectChange.objects.filter(cluster_id=s.cluster.pk, manager="kubectl-edit").count() == 1
    recorder.forget()
    broken = changes(s.cluster.pk + 10_000, "Deployment", deployment(s.ns, 2, entry("kubectl-edit", stamp(1))))
    hooks.notify(broken)  # no such cluster: the insert fails, logged by the hook runner, not raised

"""Workload actions end to end: through the API (202 and an ObjectAction row), carried out by the
session's real Celery worker against a sandbox cluster over HTTPS, checked inside the cluster, and
run a second time (a worker that died mid-way) to show each converges: scale (Deployment,
StatefulSet, ReplicaSet through the scale subresource), restart (``restartedAt`` fixed at the
request), pause/resume, rollback to a ReplicaSet or a ControllerRevision, delete with
type-to-confirm and each propagation policy. Then every bad input (nothing written), the grants
per role, a release's warning, revisions and dependents."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from clusters import tasks
from clusters.models import Cluster, KubeObject, ObjectAction
from clusters.tests.helpers import register
from clusters.watcher.projection import project
from portal.models import AuditRecord, User
from portal.testing import Subscriber, make_user, unique, wait_for
from sandbox.resources import (
    CONTROLLERREVISIONS,
    DAEMONSETS,
    DEPLOYMENTS,
    NAMESPACES,
    PODS,
    REPLICASETS,
    STATEFULSETS,
)
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker_process")]

SANDBOX_CLUSTER = "wlactions"
RELEASE_LABEL = "portal.cluster-portal.io/release"
_n = itertools.count(1)


@pytest.fixture(scope="module")
def fleet(sandbox_fleet: Any) -> Iterator[Any]:
    """A cluster of its own: these tests delete and roll back objects."""
    sandbox_fleet.add_cluster(SANDBOX_CLUSTER, nodes=2)
    yield sandbox_fleet
    sandbox_fleet.remove_cluster(SANDBOX_CLUSTER)


@pytest.fixture
def operator(db: None) -> User:
    return make_user(unique("oper"), role="operator")


def client_of(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# ---------------------------------------------------------------------------- the cluster side


def in_cluster(fleet: Any, fn: Any) -> Any:
    return fleet.in_cluster(SANDBOX_CLUSTER, fn)


def namespace(fleet: Any) -> str:
    ns = f"wl-{next(_n)}-{unique('x')[-6:]}".lower()
    in_cluster(fleet, lambda c: c.store.create(NAMESPACES, {"metadata": {"name": ns}}))
    return ns


def workload(fleet: Any, rt: Any, ns: str, name: str, *, image: str = "nginx:1", replicas: int = 1,
             labels: dict[str, str] | None = None) -> None:
    selector = {"app": name}
    spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": selector},
                            "template": {"metadata": {"labels": selector},
                                         "spec": {"containers": [{"name": "app", "image": image}]}}}
    if rt is STATEFULSETS:
        spec["serviceName"] = name
    if rt is DAEMONSETS:
        del spec["replicas"]
    meta = {"name": name, "namespace": ns, "labels": {**selector, **(labels or {})}}
    in_cluster(fleet, lambda c: c.store.create(rt, {"metadata": meta, "spec": spec}))


def get(fleet: Any, rt: Any, ns: str | None, name: str) -> dict[str, Any] | None:
    found = in_cluster(fleet, lambda c: c.store.get(rt, ns, name))
    return dict(found) if found is not None else None


def items(fleet: Any, rt: Any, ns: str) -> list[dict[str, Any]]:
    return list(in_cluster(fleet, lambda c: c.store.list(rt, ns)[0]))


def set_image(fleet: Any, rt: Any, ns: str, name: str, image: str) -> None:
    def change(obj: dict[str, Any]) -> None:
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = image

    in_cluster(fleet, lambda c: c.store.mutate(rt, ns, name, change))


def owned_replicasets(fleet: Any, ns: str, name: str) -> dict[str, str]:
    """ReplicaSet name -> revision annotation of a Deployment's ReplicaSets."""
    return {rs["metadata"]["name"]: (rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision",
                                                                                  "")
            for rs in items(fleet, REPLICASETS, ns) if rs["metadata"]["name"].startswith(f"{name}-")}


def mirror(fleet: Any, cluster: Cluster, ns: str) -> None:
    """Put the namespace's objects into the read model as the watcher would (projected rows)."""
    for kind, rt in (("Deployment", DEPLOYMENTS), ("ReplicaSet", REPLICASETS), ("Pod", PODS),
                     ("StatefulSet", STATEFULSETS)):
        for obj in items(fleet, rt, ns):
            row = project(kind, obj)
            KubeObject.objects.update_or_create(cluster=cluster, kind=kind, namespace=ns, name=row["name"],
                                                defaults={k: v for k, v in row.items()
                                                          if k not in ("kind", "namespace", "name")})
    ns_obj = get(fleet, NAMESPACES, None, ns)
    assert ns_obj is not None
    row = project("Namespace", ns_obj)
    KubeObject.objects.update_or_create(cluster=cluster, kind="Namespace", namespace="", name=ns,
                                        defaults={k: v for k, v in row.items() if k not in ("kind", "namespace",
                                                                                             "name")})


# ---------------------------------------------------------------------------- the API side


def url(cluster: Cluster, plural: str, name: str, verb: str, ns: str = "", group: str = "apps") -> str:
    return (f"/api/clusters/{cluster.pk}/objects/{group}/v1/{plural}/{name}/{verb}/"
            + (f"?namespace={ns}" if ns else ""))


def accepted(client: APIClient, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post(path, body or {}, format="json")
    assert response.status_code == 202, response.json()
    answer = dict(response.json())
    assert answer["status"] == "pending"
    return answer


def refused(client: APIClient, path: str, body: dict[str, Any] | None, status: int, code: str) -> dict[str, Any]:
    before = ObjectAction.objects.count()
    response = client.post(path, body or {}, format="json")
    assert response.status_code == status, response.json()
    answer = dict(response.json())
    assert answer["code"] == code, answer
    assert ObjectAction.objects.count() == before  # nothing written, nothing enqueued
    return answer


def finished(action_id: int) -> ObjectAction:
    def done() -> ObjectAction | None:
        row = ObjectAction.objects.get(pk=action_id)
        return row if row.status in ("succeeded", "failed", "conflict") else None

    row: ObjectAction = wait_for(done, timeout=60, what=f"the worker to finish action {action_id}")
    return row


def run_again(action_id: int) -> ObjectAction:
    """The task delivered a second time after its worker died mid-way: the row still ``running``,
    its run's lease long past (clusters.object_actions.begin takes it again)."""
    ObjectAction.objects.filter(pk=action_id).update(status="running", finished=None,
                                                     started=timezone.now() - timedelta(hours=1))
    assert tasks.run_object_action(action_id) in ("succeeded", "failed")
    return ObjectAction.objects.get(pk=action_id)


def version(fleet: Any, rt: Any, ns: str, name: str) -> int:
    """The object's generation: it moves with every change of its spec, and not with the status
    the controllers keep writing (so a second run that changes nothing leaves it where it was)."""
    obj = get(fleet, rt, ns, name)
    assert obj is not None
    return int(obj["metadata"]["generation"])


# ---------------------------------------------------------------------------- actions


def test_scale_each_kind_through_the_scale_subresource(fleet: Any, operator: User) -> None:
    cluster = register(fleet, SANDBOX_CLUSTER)
    api = client_of(operator)
    ns = namespace(fleet)
    for rt, plural in ((DEPLOYMENTS, "deployments"), (STATEFULSETS, "statefulsets"), (REPLICASETS, "replicasets")):
        name = f"s-{plural[:4]}"
        if rt is REPLICASETS:
            selector = {"app": name}
            in_cluster(fleet, lambda c, n=name, s=selector: c.store.create(REPLICASETS, {
                "metadata": {"name": n, "namespace": ns},
                "spec": {"replicas": 1, "selector": {"matchLabels": s}, "template": {
                    "metadata": {"labels": s}, "spec": {"containers": [{"name": "app", "image": "nginx:1"}]}}}}))
        else:
            workload(fleet, rt, ns, name)
        answer = accepted(api, url(cluster, plural, name, "scale", ns), {"replicas": 3})
        assert answer["action"] == "scale"
        assert answer["params"] == {"replicas": 3, "previous": 1}
        assert answer["owner_release"] is None
        assert answer["controller"] is None
        assert answer["warnings"] == []
        row = finished(answer["id"])
        assert (row.status, row.message_code) == ("succeeded", "workload_scaled"), row.message
        assert row.message_params == {"kind": row.kind, "name": name, "namespace": ns, "replicas": 3}
        obj = get(fleet, rt, ns, name)
        assert obj is not None
        assert obj["spec"]["replicas"] == 3
        scale_writes = [m for m in obj["metadata"]["managedFields"] if m.get("subresource") == "scale"]
        assert [m["manager"] for m in scale_writes] == [f"portal:{operator.username}"]
        # delivered again: the same value, nothing changes
        before = version(fleet, rt, ns, name)
        assert run_again(row.pk).status == "succeeded"
        assert version(fleet, rt, ns, name) == before
    audit = AuditRecord.objects.filter(action="workload.scale").order_by("pk").last()
    assert audit is not None
    assert audit.detail["namespace"] == ns


def test_restart_pause_and_resume(fleet: Any, operator: User) -> None:
    cluster = register(fleet, SANDBOX_CLUSTER)
    api = client_of(operator)
    ns = namespace(fleet)
    workload(fleet, DEPLOYMENTS, ns, "web")
    wait_for(lambda: owned_replicasets(fleet, ns, "web"), what="the first ReplicaSet")

    answer = accepted(api, url(cluster, "deployments", "web", "restart", ns))
    stamp = answer["params"]["restarted_at"]
    assert stamp.endswith("Z")
    row = finished(answer["id"])
    assert (row.status, row.message_code) == ("succeeded", "workload_restarted"), row.message
    obj = get(fleet, DEPLOYMENTS, ns, "web")
    assert obj is not None
    assert obj["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] == stamp
    # the controller rolls out a new ReplicaSet, as after kubectl rollout restart
    wait_for(lambda: len(owned_replicasets(fleet, ns, "web")) == 2, what="the restart's ReplicaSet")
    before = version(fleet, DEPLOYMENTS, ns, "web")
    assert run_again(row.pk).status == "succeeded"  # the same timestamp: no second restart
    assert version(fleet, DEPLOYMENTS, ns, "web") == before
    assert len(owned_replicasets(fleet, ns, "web")) == 2

    tap = Subscriber(f"cluster.{cluster.pk}.ns.{ns}")
    try:
        row = finished(accepted(api, url(cluster, "deployments", "web", "pause", ns))["id"])
        assert (row.status, row.message_code) == ("succeeded", "rollout_paused")
        # the row's progress reaches the namespace's socket group after each commit, ending with the outcome
        done = tap.wait(lambda e: e["type"] == "objects.action" and e["data"]["id"] == row.pk
                        and e["data"]["status"] == "succeeded")
        assert done["data"]["message_code"] == "rollout_paused"
        assert next(e["data"]["status"] for e in tap.seen if e["type"] == "objects.action") == "pending"
    finally:
        tap.close()
    obj = get(fleet, DEPLOYMENTS, ns, "web")
    assert obj is not None
    assert obj["spec"]["paused"] is True
    # kubectl refuses to restart or roll back a paused Deployment; so does the portal, before writing anything
    answer = refused(api, url(cluster, "deployments", "web", "restart", ns), None, 409, "deployment_paused")
    assert answer["params"]["action"] == "restart"
    refused(api, url(cluster, "deployments", "web", "rollback", ns), {"revision": 1}, 409, "deployment_paused")
    row = finished(accepted(api, url(cluster, "deployments", "web", "resume", ns))["id"])
    assert (row.status, row.message_code) == ("succeeded", "rollout_resumed")
    obj = get(fleet, DEPLOYMENTS, ns, "web")
    assert obj is not None
    assert obj["spec"]["paused"] is False
    assert set(AuditRecord.objects.filter(detail__namespace=ns).values_list("action", flat=True)) >= {
        "workload.restart", "workload.pause", "workload.resume"}


def test_rollback_a_deployment_to_an_earlier_replicaset(fleet: Any, operator: User) -> None:
    cluster = register(fleet, SANDBOX_CLUSTER)
    api = client_of(operator)
    ns = namespace(fleet)
    workload(fleet, DEPLOYMENTS, ns, "web", image="nginx:1")
    first = wait_for(lambda: owned_replicasets(fleet, ns, "web"), what="revision 1")
    set_image(fleet, DEPLOYMENTS, ns, "web", "nginx:2")
    wait_for(lambda: "2" in owned_replicasets(fleet, ns, "web").values(), what="revision 2")

    revisions = api.get(url(cluster, "deployments", "web", "revisions", ns)).json()["revisions"]
    assert [(r["revision"], r["images"], r["current"]) for r in revisions] == [
        (2, ["nginx:2"], True), (1, ["nginx:1"], False)]
    assert revisions[1]["name"] == next(iter(first))

    refused(api, url(cluster, "deployments", "web", "rollback", ns), {"revision": 9}, 400, "revision_not_found")
    answer = accepted(api, url(cluster, "deployments", "web", "rollback", ns), {"revision": 0})  # the previous one
    assert answer["params"] == {"revision": 1, "target": revisions[1]["name"]}
    row = finished(answer["id"])
    assert (row.status, row.message_code) == ("succeeded", "workload_rolled_back"), row.message
    obj = get(fleet, DEPLOYMENTS, ns, "web")
    assert obj is not None
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
    assert "pod-template-hash" not in obj["spec"]["template"]["metadata"]["labels"]
    # the controller makes the old ReplicaSet the newest revision again (kubectl rollout undo)
    wait_for(lambda: owned_replicasets(fleet, ns, "web")[revisions[1]["name"]] == "3", what="revision 3")
    # delivered again: the pinned ReplicaSet already runs, nothing changes (revision 1 is now 3)
    before = version(fleet, DEPLOYMENTS, ns, "web")
    again = run_again(row.pk)
    assert (again.status, again.message_code) == ("succeeded", "rollback_skipped")
    assert version(fleet, DEPLOYMENTS, ns, "web") == before
    assert AuditRecord.objects.filter(action="workload.rollback", detail__action_id=row.pk).exists()


def test_rollback_a_statefulset_to_a_controllerrevision(fleet: Any, operator: User) -> None:
    cluster = register(fleet, SANDBOX_CLUSTER)
    api = client_of(operator)
    ns = namespace(fleet)
    workload(fleet, STATEFULSETS, ns, "db", image="db:1")

    def revisions_kept() -> int:
        return len([r for r in items(fleet, CONTROLLERREVISIONS, ns) if r["metadata"]["name"].startswith("db-")])

    wait_for(lambda: revisions_kept() == 1, what="the first ControllerRevision")
    set_image(fleet, STATEFULSETS, ns, "db", "db:2")
    wait_for(lambda: revisions_kept() == 2, what="the second ControllerRevision")

    revisions = api.get(url(cluster, "statefulsets", "db", "revisions", ns)).json()["revisions"]
    assert [(r["revision"], r["images"]) for r in revisions] == [(2, ["db:2"]), (1, ["db:1"])]
    answer = accepted(api, url(cluster, "statefulsets", "db", "rollback", ns), {"revision": 1})
    row = finished(answer["id"])
    assert (row.status, row.message_code) == ("succeeded", "workload_rolled_back"), row.message
    obj = get(fleet, STATEFULSETS, ns, "db")
    assert obj is not None
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "db:1"
    before = version(fleet, STATEFULSETS, ns, "db")
    again = run_again(row.pk)
    assert (again.status, again.message_code) == ("succeeded", "rollback_skipped")
    assert version(fleet, STATEFULSETS, ns, "db") == before


def test_restart_and_rollback_a_daemonset(fleet: Any, operator: User) -> None:
    """A DaemonSet restarts like the others, and rolls back to a ControllerRevision. The sandbox
    does not write a DaemonSet's ControllerRevisions (yet; its StatefulSets have them): when it
    has none, they are created here as kube-controller-manager writes them (``<ds>-<hash>``, the
    template under ``data.spec.template`` with ``$patch: replace``, a controller ownerReference)."""
    cluster = register(fleet, SANDBOX_CLUSTER)
    api = client_of(operator)
    ns = namespace(fleet)
    workload(fleet, DAEMONSETS, ns, "agent", image="agent:1")
    first = get(fleet, DAEMONSETS, ns, "agent")
    assert first is not None
    set_image(fleet, DAEMONSETS, ns, "agent", "agent:2")
    ds = get(fleet, DAEMONSETS, ns, "agent")
    assert ds is not None
    if not [r for r in items(fleet, CONTROLLERREVISIONS, ns) if r["metadata"]["name"].startswith("agent-")]:
        owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": ds["metadata"]["uid"],
                 "controller": True, "blockOwnerDeletion": True}
        for number, template in ((1, first["spec"]["template"]), (2, ds["spec"]["template"])):
            in_cluster(fleet, lambda c, n=number, t=template: c.store.create(CONTROLLERREVISIONS, {
                "metadata": {"name": f"agent-{n}abc", "namespace": ns, "labels": {"app": "agent"},
                             "ownerReferences": [owner]},
                "data": {"spec": {"template": {**t, "$patch": "replace"}}}, "revision": n}))

    revisions = api.get(url(cluster, "daemonsets", "agent", "revisions", ns)).json()["revisions"]
    assert [(r["revision"], r["images"], r["current"]) for r in revisions][-2:] == [
        (2, ["agent:2"], True), (1, ["agent:1"], False)]
    row = finished(accepted(api, url(cluster, "daemonsets", "agent", "rollback", ns), {"revision": 1})["id"])
    assert (row.status, row.message_code) == ("succeeded", "workload_rolled_back"), row.message
    obj = get(fleet, DAEMONSETS, ns, "agent")
    assert obj is not None
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "agent:1"
    assert "$patch" not in obj["spec"]["template"]
    before = version(fleet, DAEMONSETS, ns, "agent")
    assert run_again(row.pk).message_code == "rollback_skipped"
    assert version(fleet, DAEMONSETS, ns, "agent") == before

    answer = accepted(api, url(cluster, "daemonsets", "agent", "restart", ns))
    row = finished(answer["id"])
    assert (row.status, row.message_code) == ("succeeded", "workload_restarted"), row.message
    obj = get(fleet, DAEMONSETS, ns, "agent")
    assert obj is not None
    assert obj["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] == \
        answer["params"]["restarted_at"]


def test_delete_with_confirm_and_each_propagation(fleet: Any, operator: User) -> None:
    cluster = register(fleet, SANDBOX_CLUSTER)
    api = client_of(operator)
    ns = namespace(fleet)
    for name in ("orphaned", "cascaded"):
        workload(fleet, DEPLOYMENTS, ns, name)

        def has_replicaset(n: str = name) -> dict[str, str]:
            return owned_replicasets(fleet, ns, n)

        wait_for(has_replicaset, what=f"{name}'s ReplicaSet")

    refused(api, url(cluster, "deployments", "orphaned", "delete", ns), {"confirm": "orphane"}, 400,
            "confirm_mismatch")
    refused(api, url(cluster, "deployments", "orphaned", "delete", ns), {"confirm": "orphaned", "propagation": "all"},
            400, "propagation_invalid")

    answer = accepted(api, url(cluster, "deployments", "orphaned", "delete", ns),
                      {"confirm": "orphaned", "propagation": "Orphan"})
    assert answer["params"]["propagation"] == "Orphan"
    row = finished(answer["id"])
    assert (row.status, row.message_code) == ("succeeded", "object_deleted"), row.message
    assert get(fleet, DEPLOYMENTS, ns, "orphaned") is None
    left = [rs for rs in items(fleet, REPLICASETS, ns) if rs["metadata"]["name"].startswith("orphaned-")]
    assert left
    assert all(not rs["metadata"].get("ownerReferences") for rs in left)  # orphaned, not deleted
    assert run_again(row.pk).message_code == "object_deleted"  # already gone: done

    row = finished(accepted(api, url(cluster, "deployments", "cascaded", "delete", ns),
                            {"confirm": "cascaded", "propagation": "Foreground"})["id"])
    assert row.status == "succeeded", row.message
    wait_for(lambda: get(fleet, DEPLOYMENTS, ns, "cascaded") is None
             and not any(rs["metadata"]["name"].startswith("cascaded-") for rs in items(fleet, REPLICASETS, ns)),
             what="the Deployment and its ReplicaSets to go")

    # deleted and created again since the request: the new object is left alone
    workload(fleet, DEPLOYMENTS, ns, "again")
    answer = accepted(api, url(cluster, "deployments", "again", "delete", ns), {"confirm": "again"})
    assert answer["params"]["propagation"] == "Background"
    # (the worker may already have run it; either way the replacement below must survive a second run)
    finished(answer["id"])
    workload(fleet, DEPLOYMENTS, ns, "again", image="nginx:2")
    again = run_again(answer["id"])
    assert (again.status, again.message_code) == ("failed", "object_replaced")
    assert get(fleet, DEPLOYMENTS, ns, "again") is not None
    assert AuditRecord.objects.filter(action="object.delete", detail__namespace=ns).count() == 3

    # a Namespace no service map holds: deleted with what is in it (it terminates first)
    answer = accepted(api, url(cluster, "namespaces", ns, "delete", group="core"), {"confirm": ns})
    assert (answer["namespace"], answer["kind"], answer["group"]) == ("", "Namespace", "")
    row = finished(answer["id"])
    assert row.status == "succeeded", row.message
    assert row.message_code in ("object_deleting", "object_deleted")
    wait_for(lambda: get(fleet, NAMESPACES, None, ns) is None, what="the namespace to go")
    assert get(fleet, DEPLOYMENTS, ns, "again") is None


# ---------------------------------------------------------------------------- bad input


def test_bad_input_is_refused_before_anything_is_written(fleet: Any, operator: User, settings: Any) -> None:
    settings.PORTAL_MAX_REPLICAS = 50
    cluster = register(fleet, SANDBOX_CLUSTER)
    api = client_of(operator)
    ns = namespace(fleet)
    workload(fleet, DEPLOYMENTS, ns, "web")
    scale = url(cluster, "deployments", "web", "scale", ns)
    for replicas in (-1, 51, 10**12, "many", None, 2.5):
        answer = refused(api, scale, {"replicas": replicas}, 400, "replicas_invalid")
        assert answer["params"] == {"maximum": 50}
        assert "replicas" in answer["errors"]
    refused(api, scale, {}, 400, "replicas_invalid")
    refused(api, scale, {"replicas": 2, "force": True}, 400, "invalid")
    refused(api, url(cluster, "daemonsets", "agent", "scale", ns), {"replicas": 2}, 400, "not_scalable")
    refused(api, url(cluster, "statefulsets", "db", "pause", ns), None, 400, "action_not_supported")
    refused(api, url(cluster, "deployments", "web", "scale"), {"replicas": 2}, 400, "namespace_required")
    refused(api, url(cluster, "deployments", "nothere", "scale", ns), {"replicas": 2}, 404, "object_not_found")
    refused(api, url(cluster, "deployments", "web", "rollback", ns), {"revision": -2}, 400, "revision_not_found")
    refused(api, url(cluster, "deployments", "web", "rollback", ns), {"revision": 4}, 400, "revision_not_found")
    refused(api, f"/api/clusters/{cluster.pk}/objects/apps/v1/widgets/x/delete/?namespace={ns}", {"confirm": "x"},
            404, "unknown_resource")

    # a namespace that holds a service map cannot be deleted (delete the service map instead)
    workspace = Workspace.objects.create(name=unique("ws"))
    ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=ns, status="ready", display_name="Shop")
    answer = refused(api, url(cluster, "namespaces", ns, "delete", group="core"), {"confirm": ns}, 400,
                     "namespace_protected")
    assert answer["params"] == {"namespace": ns, "service_map": "Shop"}
    assert get(fleet, NAMESPACES, None, ns) is not None


# ---------------------------------------------------------------------------- grants


def test_grants_per_role(fleet: Any, operator: User) -> None:
    cluster = register(fleet, SANDBOX_CLUSTER)
    ns, other_ns = namespace(fleet), namespace(fleet)
    workload(fleet, DEPLOYMENTS, ns, "web")
    workload(fleet, DEPLOYMENTS, other_ns, "web")
    team, other = Workspace.objects.create(name=unique("team")), Workspace.objects.create(name=unique("other"))
    for ws, where in ((team, ns), (other, other_ns)):
        ClusterAllocation.objects.create(workspace=ws, cluster=cluster, status="ready")
        ServiceMap.objects.create(workspace=ws, cluster=cluster, namespace=where, status="ready")
    developer = Role.objects.get(key="developer")
    no_scale = Role.objects.create(key=unique("no-scale"), name="Developer without scale",
                                   grants=[g for g in developer.grants if g != "workloads.scale"])
    members: dict[str, User] = {}
    for who, role in (("no_scale", no_scale), ("viewer", Role.objects.get(key="viewer")), ("developer", developer)):
        members[who] = make_user(unique(who))
        Membership.objects.create(workspace=team, user=members[who], role=role)
    auditor = make_user(unique("audit"), role="auditor")
    scale = url(cluster, "deployments", "web", "scale", ns)

    answer = refused(client_of(members["no_scale"]), scale, {"replicas": 2}, 403, "grant_missing")
    assert answer["params"]["grant"] == "workloads.scale"
    # a developer who may not scale may still restart
    row = finished(accepted(client_of(members["no_scale"]), url(cluster, "deployments", "web", "restart", ns))["id"])
    assert row.status == "succeeded"
    assert row.requested_username == members["no_scale"].username
    refused(client_of(members["viewer"]), url(cluster, "deployments", "web", "restart", ns), None, 403,
            "grant_missing")
    refused(client_of(members["viewer"]), url(cluster, "deployments", "web", "delete", ns), {"confirm": "web"}, 403,
            "grant_missing")
    # another workspace's namespace: nothing is told, not even that the object exists
    answer = refused(client_of(members["developer"]), url(cluster, "deployments", "web", "scale", other_ns),
                     {"replicas": 2}, 404, "object_not_found")
    assert other_ns not in str(answer)
    refused(client_of(members["developer"]), url(cluster, "deployments", "web", "scale"), {"replicas": 2}, 404,
            "object_not_found")  # no namespace given
    # their own Namespace is a cluster-scoped object: operators only
    refused(client_of(members["developer"]), url(cluster, "namespaces", ns, "delete", group="core"), {"confirm": ns},
            403, "operator_required")
    # an auditor reads everything and changes nothing
    refused(client_of(auditor), scale, {"replicas": 2}, 403, "operator_required")
    assert client_of(auditor).get(url(cluster, "deployments", "web", "revisions", ns)).status_code == 200
    # a developer scales; the operator acts anywhere
    assert finished(accepted(client_of(members["developer"]), scale, {"replicas": 2})["id"]).status == "succeeded"
    assert finished(accepted(client_of(operator), url(cluster, "deployments", "web", "scale", other_ns),
                             {"replicas": 2})["id"]).status == "succeeded"
    # reads need only to see the namespace
    assert client_of(members["viewer"]).get(url(cluster, "deployments", "web", "dependents", ns)).status_code == 200
    assert client_of(members["viewer"]).get(
        url(cluster, "deployments", "web", "dependents", other_ns)).json()["code"] == "object_not_found"
    assert client_of(members["viewer"]).get(
        url(cluster, "deployments", "web", "revisions", other_ns)).json()["code"] == "object_not_found"
    outsider = make_user(unique("outsider"))
    assert client_of(outsider).post(scale, {"replicas": 2}, format="json").status_code == 404  # no such cluster


# ---------------------------------------------------------------------------- releases and dependents


def test_release_warning_and_dependents(fleet: Any, operator: User) -> None:
    cluster = register(fleet, SANDBOX_CLUSTER)
    api = client_of(operator)
    ns = namespace(fleet)
    workload(fleet, DEPLOYMENTS, ns, "shop", replicas=2, labels={RELEASE_LABEL: "41"})
    workload(fleet, DEPLOYMENTS, ns, "lone")
    wait_for(lambda: len([p for p in items(fleet, PODS, ns) if p["metadata"]["name"].startswith("shop-")]) == 2,
             what="shop's pods")
    mirror(fleet, cluster, ns)

    # A release label that names no release (here: none with that pk on this cluster and namespace)
    # is not guessed at; a real release's objects are named in test_owner_release.
    answer = accepted(api, url(cluster, "deployments", "shop", "scale", ns), {"replicas": 1})
    assert answer["owner_release"] is None
    assert answer["warnings"] == []
    finished(answer["id"])
    # a ReplicaSet its Deployment controls: the Deployment would scale it back
    lone_rs = next(iter(wait_for(lambda: owned_replicasets(fleet, ns, "lone"), what="lone's ReplicaSet")))
    answer = accepted(api, url(cluster, "replicasets", lone_rs, "scale", ns), {"replicas": 2})
    assert answer["controller"] == {"kind": "Deployment", "name": "lone"}
    assert answer["warnings"] == ["owned_by_controller"]
    finished(answer["id"])

    body = api.get(url(cluster, "deployments", "shop", "dependents", ns)).json()
    kinds = [d["kind"] for d in body["dependents"]]
    assert kinds.count("ReplicaSet") == 1
    assert kinds.count("Pod") == 2
    assert body["total"] == 3
    assert all(d["namespace"] == ns for d in body["dependents"])
    assert body["owner_release"] is None
    assert body["protected_by_service_map"] is None
    lone = api.get(url(cluster, "deployments", "lone", "dependents", ns)).json()
    assert lone["owner_release"] is None
    assert [d["kind"] for d in lone["dependents"]] == ["ReplicaSet"] + ["Pod"] * (lone["total"] - 1)

    ns_body = api.get(url(cluster, "namespaces", ns, "dependents", group="core")).json()
    assert {("Deployment", "shop"), ("Deployment", "lone")} <= {(d["kind"], d["name"]) for d in ns_body["dependents"]}
    assert ns_body["protected_by_service_map"] is None
    ServiceMap.objects.create(workspace=Workspace.objects.create(name=unique("ws")), cluster=cluster, namespace=ns,
                              status="ready")
    assert api.get(url(cluster, "namespaces", ns, "dependents", group="core")).json()[
        "protected_by_service_map"] == ns

"""A create from YAML that spans namespaces, against a sandbox cluster over HTTPS (review 15, H1
and M1): each document is applied exactly in the namespace the request checked for it (one
without a namespace in ``?namespace=``, never in ``default``), the task asks the requester's
grants again and applies nothing once one is gone, and the ``objects.action`` row goes whole
only to the cluster's group; each namespace's group gets its own documents and no diff."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from clusters import object_ops
from clusters.models import Cluster, ObjectAction
from clusters.tests.helpers import register
from portal.testing import Subscriber, make_user, unique
from sandbox.resources import CONFIGMAPS, NAMESPACES
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

SANDBOX_CLUSTER = "objcreatens"


@pytest.fixture(scope="module")
def fleet(sandbox_fleet: Any) -> Iterator[Any]:
    sandbox_fleet.add_cluster(SANDBOX_CLUSTER, nodes=1)
    yield sandbox_fleet
    sandbox_fleet.remove_cluster(SANDBOX_CLUSTER)


def in_cluster(fleet: Any, fn: Any) -> Any:
    return fleet.in_cluster(SANDBOX_CLUSTER, fn)


def namespace(fleet: Any, ns: str) -> None:
    in_cluster(fleet, lambda c: c.store.get(NAMESPACES, None, ns) or c.store.create(NAMESPACES,
                                                                                   {"metadata": {"name": ns}}))


def configmap(fleet: Any, ns: str, name: str) -> Any:
    return in_cluster(fleet, lambda c: c.store.get(CONFIGMAPS, ns, name))


@pytest.fixture
def cluster(fleet: Any, db: None) -> Cluster:
    return register(fleet, SANDBOX_CLUSTER)


@pytest.fixture
def two_teams(fleet: Any, cluster: Cluster) -> dict[str, Any]:
    """A developer (objects.edit) in two workspaces, each with a service map of its own namespace."""
    dev = make_user(unique("dev"))
    out: dict[str, Any] = {"developer": dev, "memberships": {}}
    for key in ("a", "b"):
        ws = Workspace.objects.create(name=unique(f"team-{key}"))
        ns = unique(f"team-{key}")
        namespace(fleet, ns)
        ClusterAllocation.objects.create(workspace=ws, cluster=cluster, status="ready")
        ServiceMap.objects.create(workspace=ws, cluster=cluster, namespace=ns, status="ready")
        out[key] = ns
        out["memberships"][key] = Membership.objects.create(workspace=ws, user=dev,
                                                            role=Role.objects.get(key="developer"))
    return out


def documents(team_b: str, name: str) -> str:
    """doc 1 in team-b by its own metadata, doc 2 with no namespace (it goes where ?namespace= says)."""
    return (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-b\n  namespace: {team_b}\n"
            f"data:\n  secret-b: only-b-may-read\n---\n"
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-a\ndata:\n  mode: fast\n")


def create(dev: Any, cluster: Cluster, team_a: str, text: str) -> int:
    api = APIClient()
    api.force_authenticate(dev)
    accepted = api.post(f"/api/clusters/{cluster.pk}/objects/create/?namespace={team_a}", {"yaml": text},
                        format="json")
    assert accepted.status_code == 202, accepted.json()
    return int(accepted.json()["id"])


def test_a_document_without_namespace_goes_where_the_request_checked_it(fleet: Any, cluster: Cluster,
                                                                        two_teams: dict[str, Any]) -> None:
    team_a, team_b, name = two_teams["a"], two_teams["b"], unique("cm")
    action_id = create(two_teams["developer"], cluster, team_a, documents(team_b, name))
    stored = ObjectAction.objects.get(pk=action_id)
    assert stored.namespace == ""
    assert stored.params["targets"] == [{"index": 0, "namespace": team_b}, {"index": 1, "namespace": team_a}]

    assert object_ops.run(action_id) == "succeeded"
    stored.refresh_from_db()
    assert [(d["name"], d["namespace"], d["status"]) for d in stored.result["documents"]] == [
        (f"{name}-b", team_b, "created"), (f"{name}-a", team_a, "created")]
    assert configmap(fleet, team_a, f"{name}-a")["data"] == {"mode": "fast"}
    assert configmap(fleet, team_b, f"{name}-b") is not None
    assert configmap(fleet, "default", f"{name}-a") is None  # before the fix it landed here, unchecked


def test_the_task_asks_the_grants_again_and_applies_nothing_once_one_is_gone(
        fleet: Any, cluster: Cluster, two_teams: dict[str, Any]) -> None:
    team_a, team_b, name = two_teams["a"], two_teams["b"], unique("cm")
    action_id = create(two_teams["developer"], cluster, team_a, documents(team_b, name))
    two_teams["memberships"]["b"].delete()  # removed from team b between the request and the task

    assert object_ops.run(action_id) == "failed"
    stored = ObjectAction.objects.get(pk=action_id)
    assert stored.message_code == "namespace_forbidden"
    assert stored.message_params["namespace"] == team_b
    assert [(d["namespace"], d["status"]) for d in stored.result["documents"]] == [
        (team_b, "failed"), (team_a, "not_applied")]
    assert configmap(fleet, team_b, f"{name}-b") is None
    assert configmap(fleet, team_a, f"{name}-a") is None


def test_each_namespace_group_gets_only_its_documents_and_no_diff(
        fleet: Any, cluster: Cluster, two_teams: dict[str, Any],
        django_capture_on_commit_callbacks: Any) -> None:
    team_a, team_b, name = two_teams["a"], two_teams["b"], unique("cm")
    groups = {"cluster": f"cluster.{cluster.pk}", "a": f"cluster.{cluster.pk}.ns.{team_a}",
              "b": f"cluster.{cluster.pk}.ns.{team_b}"}
    taps = {key: Subscriber(group) for key, group in groups.items()}
    try:
        with django_capture_on_commit_callbacks(execute=True):
            action_id = create(two_teams["developer"], cluster, team_a, documents(team_b, name))
        with django_capture_on_commit_callbacks(execute=True):
            assert object_ops.run(action_id) == "succeeded"

        def done(key: str) -> dict[str, Any]:
            event = taps[key].wait(lambda e: e["type"] == "objects.action" and e["data"]["id"] == action_id
                                   and e["data"]["status"] == "succeeded")
            return dict(event["data"])

        whole, seen_a, seen_b = done("cluster"), done("a"), done("b")
        # The cluster's group (those who read every namespace) has the whole row.
        assert "only-b-may-read" in whole["diff"]
        assert [d["namespace"] for d in whole["result"]["documents"]] == [team_b, team_a]
        # Each namespace's group: its own document, no diff, no word of the other namespace.
        assert [(d["name"], d["namespace"]) for d in seen_a["result"]["documents"]] == [(f"{name}-a", team_a)]
        assert [(d["name"], d["namespace"]) for d in seen_b["result"]["documents"]] == [(f"{name}-b", team_b)]
        for seen, other in ((seen_a, team_b), (seen_b, team_a)):
            assert seen["diff"] == ""
            assert "targets" not in seen["params"]
            assert other not in str(seen)
        assert "only-b-may-read" not in str(seen_a)
        # Every event on a namespace's group (pending, running, succeeded) is trimmed.
        for key, other in (("a", team_b), ("b", team_a)):
            rows = [e["data"] for e in taps[key].seen if e["type"] == "objects.action"
                    and e["data"]["id"] == action_id]
            assert rows[0]["status"] == "pending"
            assert all(r["diff"] == "" and other not in str(r) for r in rows)
    finally:
        for tap in taps.values():
            tap.close()

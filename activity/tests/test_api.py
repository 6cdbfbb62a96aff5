"""The timeline API against PostgreSQL: every source merged newest first under one keyset, pages
that neither skip nor repeat across sources, each scope, what a member may see (never another
team's namespace), the diff endpoint, and bad parameters refused with stable codes."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from activity.tests.helpers import (
    Scene,
    action,
    at,
    event,
    exec_session,
    ids,
    outside,
    release,
    rollout,
    scene,
)
from clusters.models import ObjectAction
from portal.models import User

pytestmark = pytest.mark.django_db


def client(user: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def get(user: User, **params: Any) -> Any:
    response = client(user).get("/api/activity/", params)
    assert response.status_code == 200, response.content
    return response.json()


def all_pages(user: User, **params: Any) -> list[dict[str, Any]]:
    body = get(user, **params)
    out = list(body["results"])
    while body["next"]:
        response = client(user).get(body["next"])
        assert response.status_code == 200, response.content
        body = response.json()
        out += body["results"]
    return out


@pytest.fixture
def s() -> Scene:
    return scene()


def test_every_source_merges_newest_first_and_pages_without_gaps(s: Scene) -> None:
    a = action(s, at(0), namespace=s.ns, diff="--- a\n+++ b\n-replicas: 2\n+replicas: 3\n")
    e1 = event(s, at(1), namespace=s.ns)
    o = outside(s, at(2), namespace=s.ns)
    x = exec_session(s, at(3), namespace=s.ns)
    e2 = event(s, at(3), namespace=s.ns, reason="BackOff", type_="Warning", message="Back-off")  # same instant
    rel = release(s, at(4), numbers=2)
    ro = rollout(s, at(6))
    outside(s, at(7), namespace=s.ns, manager="kube-controller-manager", is_outside=False)  # not on the timeline
    revisions = list(rel.revisions.order_by("number").values_list("pk", flat=True))
    expected = [f"rollout:{ro.pk}", f"revision:{revisions[1]}", f"revision:{revisions[0]}", f"event:{e2.pk}",
                f"exec:{x.pk}", f"outside:{o.pk}", f"event:{e1.pk}", f"portal:{a.pk}"]

    first = get(s.member, service_map=s.mine.pk)
    assert ids(first) == expected
    by_id = {e["id"]: e for e in first["results"]}
    portal = by_id[f"portal:{a.pk}"]
    assert (portal["source"], portal["actor"], portal["kind"], portal["name"], portal["action"], portal["has_diff"]) \
        == ("portal", s.member.username, "Deployment", "web", "apply", True)
    assert (by_id[f"event:{e2.pk}"]["type"], by_id[f"event:{e2.pk}"]["summary"]) == ("Warning", "Back-off")
    assert by_id[f"outside:{o.pk}"]["actor"] == "kubectl-edit"
    assert by_id[f"outside:{o.pk}"]["message_code"] == "changed_outside_portal"
    assert by_id[f"exec:{x.pk}"]["detail"] == {"container": "web", "command": "/bin/sh", "seconds": 12}
    assert {by_id[f"revision:{revisions[1]}"]["source"], by_id[f"rollout:{ro.pk}"]["source"]} == {"release"}
    assert first["groups"] == [f"cluster.{s.cluster.pk}.ns.{s.ns}", f"workspace.{s.workspace.pk}"]

    # Pages of every size walk the same order once, ties across sources included.
    for size in (1, 2, 3, 5):
        assert [e["id"] for e in all_pages(s.member, service_map=s.mine.pk, page_size=size)] == expected

    # An entry added above the cursor while paging does not shift the next page.
    page = get(s.member, service_map=s.mine.pk, page_size=3)
    event(s, at(100), namespace=s.ns)
    rest = client(s.member).get(page["next"]).json()
    assert ids(rest)[:3] == expected[3:6]


def test_a_member_never_sees_another_teams_namespace(s: Scene) -> None:
    mine = [action(s, at(0), namespace=s.ns), event(s, at(1), namespace=s.ns), outside(s, at(2), namespace=s.ns),
            exec_session(s, at(3), namespace=s.ns)]
    theirs = [action(s, at(0), namespace=s.other_ns, user=s.outsider), event(s, at(1), namespace=s.other_ns),
              outside(s, at(2), namespace=s.other_ns), exec_session(s, at(3), namespace=s.other_ns, user=s.outsider)]
    release(s, at(4), sm=s.theirs, name="theirs")
    node_event = event(s, at(5), namespace="default", kind="Node", name="node-1", reason="NodeNotReady")
    mine_ids = {f"{t}:{r.pk}" for t, r in zip(("portal", "event", "outside", "exec"), mine, strict=True)}
    their_ids = {f"{t}:{r.pk}" for t, r in zip(("portal", "event", "outside", "exec"), theirs, strict=True)}

    # The cluster's timeline: a member sees their namespace only, an operator everything.
    assert {e["id"] for e in all_pages(s.member, cluster=s.cluster.pk)} == mine_ids
    everything = {e["id"] for e in all_pages(s.operator, cluster=s.cluster.pk)}
    assert mine_ids | their_ids | {f"event:{node_event.pk}"} <= everything
    assert get(s.member, cluster=s.cluster.pk)["groups"] == [f"cluster.{s.cluster.pk}.ns.{s.ns}"]
    assert get(s.operator, cluster=s.cluster.pk)["groups"] == [f"cluster.{s.cluster.pk}"]

    # Asking for the other namespace, object, service map or workspace: 404, as for what does not exist.
    api = client(s.member)
    scopes: list[dict[str, Any]] = [
                   {"cluster": s.cluster.pk, "namespace": s.other_ns},
                   {"cluster": s.cluster.pk, "namespace": s.other_ns, "kind": "Deployment", "name": "web"},
                   {"cluster": s.cluster.pk, "namespace": "", "kind": "Node", "name": "node-1"},
                   {"service_map": s.theirs.pk}, {"workspace": s.theirs.workspace_id}]
    for params in scopes:
        response = api.get("/api/activity/", params)
        assert response.status_code == 404, (params, response.content)
        assert response.json()["code"] == "not_found"
    # A cluster they are not allocated: 404 too.
    stranger = User.objects.create_user(username=f"stranger-{s.cluster.pk}", password="x" * 12)
    response = client(stranger).get("/api/activity/", {"cluster": s.cluster.pk})
    assert response.status_code == 404

    # The diff of another team's change is not theirs either.
    for entry in (f"portal:{theirs[0].pk}", f"outside:{theirs[2].pk}"):
        assert api.get(f"/api/activity/diff/{entry}/").status_code == 404


def test_a_create_across_namespaces_is_seen_by_who_sees_every_one_of_them(s: Scene) -> None:
    mine = action(s, at(0), namespace="", kind="", name="", act="create", diff="--- a\n+++ b\n+kind: ConfigMap\n")
    both = action(s, at(1), namespace="", kind="", name="", act="create", diff="--- a\n+++ b\n+kind: ConfigMap\n")
    ObjectAction.objects.filter(pk=mine.pk).update(params={"namespaces": [s.ns], "documents": 2})
    ObjectAction.objects.filter(pk=both.pk).update(params={"namespaces": [s.ns, s.other_ns], "documents": 2})
    assert ids(get(s.member, cluster=s.cluster.pk)) == [f"portal:{mine.pk}"]
    assert ids(get(s.member, service_map=s.mine.pk)) == [f"portal:{mine.pk}"]
    assert ids(get(s.operator, cluster=s.cluster.pk)) == [f"portal:{both.pk}", f"portal:{mine.pk}"]
    api = client(s.member)
    assert api.get(f"/api/activity/diff/portal:{mine.pk}/").status_code == 200
    assert api.get(f"/api/activity/diff/portal:{both.pk}/").status_code == 404

    # One of a create's documents is a Secret: its values never come back.
    ObjectAction.objects.filter(pk=mine.pk).update(diff=(
        "--- a\n+++ b\n@@ -0,0 +1,8 @@\n+kind: Secret\n+stringData:\n+  password: hunter2\n+---\n"
        "+kind: ConfigMap\n+data:\n+  mode: blue\n"))
    masked = api.get(f"/api/activity/diff/portal:{mine.pk}/").json()["diff"]
    assert "hunter2" not in masked
    assert "+  password: '***'" in masked


def test_object_scope_has_its_own_entries_and_a_cluster_scoped_object_is_for_operators(s: Scene) -> None:
    a = action(s, at(0), namespace=s.ns)
    action(s, at(0), namespace=s.ns, name="other")
    e = event(s, at(1), namespace=s.ns)
    event(s, at(1), namespace=s.ns, name="other")
    o = outside(s, at(2), namespace=s.ns)
    exec_session(s, at(3), namespace=s.ns)  # a pod's, not the deployment's
    release(s, at(4))  # releases belong to service maps and workspaces, not to one object
    body = get(s.member, cluster=s.cluster.pk, namespace=s.ns, kind="Deployment", name="web")
    assert ids(body) == [f"outside:{o.pk}", f"event:{e.pk}", f"portal:{a.pk}"]
    pod = get(s.member, cluster=s.cluster.pk, namespace=s.ns, kind="Pod", name="web-1")
    assert [x["source"] for x in pod["results"]] == ["exec"]

    node_event = event(s, at(5), namespace="default", kind="Node", name="node-1", reason="NodeNotReady")
    cordon = action(s, at(4), namespace="", kind="Node", name="node-1", user=s.operator)
    body = get(s.operator, cluster=s.cluster.pk, namespace="", kind="Node", name="node-1")
    assert ids(body) == [f"event:{node_event.pk}", f"portal:{cordon.pk}"]
    assert body["groups"] == [f"cluster.{s.cluster.pk}"]


def test_source_filter_and_workspace_scope(s: Scene) -> None:
    a = action(s, at(0), namespace=s.ns)
    event(s, at(1), namespace=s.ns)
    rel = release(s, at(2))
    ro = rollout(s, at(3))
    action(s, at(0), namespace=s.other_ns, user=s.outsider)
    body = get(s.member, workspace=s.workspace.pk, source="portal,release")
    revision = rel.revisions.get()
    assert ids(body) == [f"rollout:{ro.pk}", f"revision:{revision.pk}", f"portal:{a.pk}"]
    assert body["groups"] == [f"workspace.{s.workspace.pk}", f"cluster.{s.cluster.pk}.ns.{s.ns}"]
    assert {e["source"] for e in get(s.member, workspace=s.workspace.pk, source="event")["results"]} == {"event"}


def test_the_diff_of_a_portal_change_and_of_a_change_outside_the_portal(s: Scene) -> None:
    applied = action(s, at(0), namespace=s.ns, diff="--- live\n+++ applied\n@@ -1 +1 @@\n-replicas: 2\n+replicas: 3\n")
    secret = action(s, at(0), namespace=s.ns, kind="Secret", name="creds", diff=(
        "--- live\n+++ applied\n@@ -1,4 +1,4 @@\n data:\n-  password: aHVudGVyMg==\n+  password: c2VjcmV0\n"
        "   user: YWRtaW4=\n kind: Secret\n"))
    outside(s, at(1), namespace=s.ns, manager="portal:" + s.member.username, replicas=3, is_outside=False)
    kubectl = outside(s, at(2), namespace=s.ns, replicas=5)
    first = outside(s, at(3), namespace=s.ns, name="fresh", replicas=1)
    plain = action(s, at(0), namespace=s.ns, name="nodiff")
    api = client(s.member)

    body = api.get(f"/api/activity/diff/portal:{applied.pk}/").json()
    assert body["diff"].endswith("-replicas: 2\n+replicas: 3\n")
    masked = api.get(f"/api/activity/diff/portal:{secret.pk}/").json()["diff"]
    for value in ("aHVudGVyMg", "c2VjcmV0", "YWRtaW4"):
        assert value not in masked
    assert "+  password: '***'" in masked
    assert "kind: Secret" in masked

    body = api.get(f"/api/activity/diff/outside:{kubectl.pk}/").json()
    assert "-replicas: 3\n+replicas: 5\n" in body["diff"]
    assert body["before"]["manager"] == "portal:" + s.member.username
    body = api.get(f"/api/activity/diff/outside:{first.pk}/").json()
    assert body["before"] is None
    assert "+replicas: 1\n" in body["diff"]

    for entry, code in ((f"portal:{plain.pk}", "activity_diff_not_found"),
                        (f"event:{event(s, at(4), namespace=s.ns).pk}", "activity_diff_not_found"),
                        ("portal:999999999", "activity_entry_not_found"),
                        ("portal:x1", "activity_entry_not_found"),
                        ("nothing:1", "activity_entry_not_found")):
        response = api.get(f"/api/activity/diff/{entry}/")
        assert response.status_code == 404, entry
        assert response.json()["code"] == code, entry


@pytest.mark.parametrize(("params", "code"), [
    ({}, "activity_scope_required"),
    ({"cluster": "1", "workspace": "1"}, "activity_scope_conflict"),
    ({"cluster": "one"}, "activity_param_invalid"),
    ({"cluster": "1", "kind": "Deployment"}, "activity_param_invalid"),
    ({"cluster": "1", "namespace": "Not_A_Namespace"}, "activity_param_invalid"),
    ({"service_map": "1", "namespace": "x"}, "activity_param_invalid"),
    ({"cluster": "1", "source": "portal,gossip"}, "activity_source_invalid"),
    ({"cluster": "1", "page_size": "0"}, "activity_param_invalid"),
    ({"cluster": "1", "page_size": "1000"}, "activity_param_invalid"),
    ({"cluster": "1", "cursor": "bm90IGEgY3Vyc29y"}, "cursor_invalid"),
    ({"cluster": "1", "cursor": "!!!"}, "cursor_invalid"),
])
def test_bad_parameters_are_refused_with_a_code(s: Scene, params: dict[str, str], code: str) -> None:
    response = client(s.admin).get("/api/activity/", params)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code


def test_anonymous_callers_are_refused() -> None:
    assert APIClient().get("/api/activity/", {"cluster": 1}).status_code in (401, 403)
    assert APIClient().get("/api/activity/diff/portal:1/").status_code in (401, 403)


def test_time_ties_across_tables_keep_one_order(s: Scene) -> None:
    when = at(10)
    rows = [action(s, when, namespace=s.ns), outside(s, when, namespace=s.ns), event(s, when, namespace=s.ns),
            exec_session(s, when, namespace=s.ns)]
    expected = [f"event:{rows[2].pk}", f"outside:{rows[1].pk}", f"portal:{rows[0].pk}", f"exec:{rows[3].pk}"]
    assert [e["id"] for e in all_pages(s.member, cluster=s.cluster.pk, page_size=1)] == expected
    assert datetime.datetime.fromisoformat(get(s.member, cluster=s.cluster.pk)["results"][0]["time"]) == when


def test_the_portals_own_times_are_compared_to_the_second_as_kubernetes_records_them(s: Scene) -> None:
    """An apply at 12:00:20.700 and the event it caused, which Kubernetes stamps 12:00:20: the event
    is the newer (same second, higher rank), and the portal's entry shows the second too."""
    applied = action(s, at(20.7), namespace=s.ns)
    caused = event(s, at(20), namespace=s.ns)
    shell = exec_session(s, at(20.9), namespace=s.ns)
    body = get(s.member, cluster=s.cluster.pk)
    assert ids(body) == [f"event:{caused.pk}", f"portal:{applied.pk}", f"exec:{shell.pk}"]
    assert {e["time"] for e in body["results"]} == {at(20).isoformat()}


def test_refused_and_failed_shells_are_not_shown_as_opened(s: Scene) -> None:
    opened = exec_session(s, at(0), namespace=s.ns, detail={"seconds": 4.2, "exit_code": 0, "ended": "exit"})
    refused = exec_session(s, at(1), namespace=s.ns, outcome="denied", detail={"reason": "grant_missing"})
    failed = exec_session(s, at(2), namespace=s.ns, outcome="failure",
                          detail={"seconds": 0.3, "exit_code": None, "ended": "failed"})
    body = get(s.member, cluster=s.cluster.pk, namespace=s.ns, kind="Pod", name="web-1", source="exec")
    assert ids(body) == [f"exec:{failed.pk}", f"exec:{refused.pk}", f"exec:{opened.pk}"]
    by_id = {e["id"]: e for e in body["results"]}

    session = by_id[f"exec:{opened.pk}"]
    assert (session["status"], session["type"], session["message_code"]) == ("success", "Normal", "")
    assert session["summary"] == f"{s.member.username} opened a shell in web-1/web"
    assert session["detail"] == {"container": "web", "command": "/bin/sh", "seconds": 4.2, "exit_code": 0,
                                 "ended": "exit"}

    denied = by_id[f"exec:{refused.pk}"]
    assert (denied["status"], denied["type"], denied["message_code"], denied["message_params"]) == (
        "denied", "Warning", "exec_refused", {"pod": "web-1", "container": "web", "reason": "grant_missing"})
    assert "opened" not in denied["summary"]
    assert denied["summary"] == f"{s.member.username} was refused a shell in web-1/web (grant_missing)"
    assert denied["detail"]["reason"] == "grant_missing"

    broken = by_id[f"exec:{failed.pk}"]
    assert (broken["status"], broken["type"], broken["message_code"], broken["message_params"]) == (
        "failure", "Warning", "exec_session_failed", {"pod": "web-1", "container": "web", "ended": "failed"})
    assert "opened" not in broken["summary"]

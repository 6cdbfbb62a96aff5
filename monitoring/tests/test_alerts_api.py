"""The alert, rule and silence API (monitoring/api/alerts.py): who sees and acts on what (a member
with and without alerts.manage, an operator, another workspace's member: 404), the lifecycle
through the API with its conflicts, filters and their 400s, rules (custom in a member's service
map; built-ins only retuned by operators; every bad field a 400 with a code) and silences."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from clusters.models import Cluster
from monitoring import alert_actions, rules
from monitoring.models import Alert, AlertRule, AlertState
from portal.models import User
from portal.testing import make_user, unique
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

pytestmark = pytest.mark.django_db


def _client(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


class World:
    def __init__(self) -> None:
        self.cluster = Cluster.objects.create(name=unique("c"), server="https://127.0.0.1:1", status="connected")
        self.team = Workspace.objects.create(name=unique("team"))
        self.other = Workspace.objects.create(name=unique("other"))
        for ws, ns in ((self.team, "shop"), (self.other, "bank")):
            ClusterAllocation.objects.create(workspace=ws, cluster=self.cluster, status="ready")
            ServiceMap.objects.create(workspace=ws, cluster=self.cluster, namespace=ns, status="ready")
        self.sm = ServiceMap.objects.get(workspace=self.team)
        self.developer = self.member(self.team, "developer")
        self.viewer = self.member(self.team, "viewer")
        self.outsider = self.member(self.other, "manager")
        self.operator = make_user(unique("op"), role="operator")
        self.rule = AlertRule.objects.create(name="busy", metric="cpu_usage", aggregation="avg", operator=">",
                                             threshold=0.5, workspace=self.team)
        self.alert = self.fire("web-1", workspace=True)
        self.infra = self.fire("node-1", workspace=False)

    @staticmethod
    def member(ws: Workspace, role: str) -> User:
        user = make_user(unique(role))
        Membership.objects.create(workspace=ws, user=user, role=Role.objects.get(key=role))
        return user

    def fire(self, name: str, *, workspace: bool) -> Alert:
        labels = {"cluster": str(self.cluster.pk), "name": name}
        f = rules.Finding(rule_id=self.rule.pk, fingerprint=rules.fingerprint(self.rule.pk, labels), labels=labels,
                          cluster_id=self.cluster.pk, workspace_id=self.team.pk if workspace else None,
                          service_map_id=self.sm.pk if workspace else None, namespace="shop" if workspace else "",
                          kind="Pod" if workspace else "Node", name=name, message=f"{name} busy",
                          message_code="alert_custom_threshold")
        alert_actions.apply_findings(self.rule, [*self._open_findings(), f])
        return Alert.objects.get(fingerprint=f.fingerprint, state=AlertState.FIRING)

    def _open_findings(self) -> list[rules.Finding]:
        return [rules.Finding(rule_id=a.rule_id or 0, fingerprint=a.fingerprint, labels=a.labels,
                              cluster_id=a.cluster_id, workspace_id=a.workspace_id, service_map_id=a.service_map_id,
                              namespace=a.namespace, kind=a.subject_kind, name=a.subject_name)
                for a in Alert.objects.filter(rule=self.rule, state__in=["pending", "firing", "acknowledged"])]


@pytest.fixture
def world() -> World:
    return World()


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_who_sees_which_alerts(world: World, admin_api: APIClient) -> None:
    assert ids(_client(world.developer).get("/api/monitoring/alerts/")) == {world.alert.pk}
    assert ids(_client(world.viewer).get("/api/monitoring/alerts/")) == {world.alert.pk}
    assert ids(_client(world.outsider).get("/api/monitoring/alerts/")) == set()
    assert ids(_client(world.operator).get("/api/monitoring/alerts/")) >= {world.alert.pk, world.infra.pk}
    for user in (world.outsider,):
        assert _client(user).get(f"/api/monitoring/alerts/{world.alert.pk}/").status_code == 404
        r = _client(user).post(f"/api/monitoring/alerts/{world.alert.pk}/acknowledge/", {}, format="json")
        assert r.status_code == 404
    r = _client(world.developer).get(f"/api/monitoring/alerts/{world.infra.pk}/")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    detail = _client(world.developer).get(f"/api/monitoring/alerts/{world.alert.pk}/").json()
    assert detail["permissions"] == {"act": True}
    assert [t["to_state"] for t in detail["transitions"]] == ["firing"]
    assert detail["workspace"]["id"] == world.team.pk
    assert detail["service_map"]["namespace"] == "shop"
    assert _client(world.viewer).get(f"/api/monitoring/alerts/{world.alert.pk}/").json()["permissions"] == {
        "act": False}


def test_acknowledge_and_resolve_permissions_and_conflicts(world: World) -> None:
    url = f"/api/monitoring/alerts/{world.alert.pk}/"
    r = _client(world.viewer).post(url + "acknowledge/", {"note": "mine"}, format="json")
    assert (r.status_code, r.json()["code"]) == (403, "grant_missing")
    r = _client(world.developer).post(url + "acknowledge/", {"note": "on it"}, format="json")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["state"], body["acknowledged_by"], body["acknowledge_note"]) == (
        "acknowledged", world.developer.username, "on it")
    assert [t["to_state"] for t in body["transitions"]] == ["firing", "acknowledged"]
    r = _client(world.developer).post(url + "acknowledge/", {}, format="json")
    assert (r.status_code, r.json()["code"]) == (409, "alert_already_acknowledged")
    r = _client(world.developer).post(url + "acknowledge/", {"note": 5}, format="json")
    assert r.status_code == 400
    r = _client(world.developer).post(url + "acknowledge/", {"nope": "x"}, format="json")
    assert r.status_code == 400
    r = _client(world.developer).post(url + "resolve/", {"note": "fixed"}, format="json")
    assert r.status_code == 200
    assert r.json()["resolved_by"] == world.developer.username
    r = _client(world.developer).post(url + "acknowledge/", {}, format="json")
    assert (r.status_code, r.json()["code"]) == (409, "alert_resolved")
    r = _client(world.developer).post(url + "resolve/", {}, format="json")
    assert (r.status_code, r.json()["code"]) == (409, "alert_resolved")

    # a cluster-level alert: operators only (members do not even see it)
    infra = f"/api/monitoring/alerts/{world.infra.pk}/"
    assert _client(world.developer).post(infra + "acknowledge/", {}, format="json").status_code == 404
    r = _client(world.operator).post(infra + "acknowledge/", {"note": "ops"}, format="json")
    assert r.status_code == 200
    assert r.json()["state"] == "acknowledged"


def test_alert_filters_and_bad_filters(world: World) -> None:
    op = _client(world.operator)
    assert ids(op.get(f"/api/monitoring/alerts/?workspace={world.team.pk}")) == {world.alert.pk}
    assert ids(op.get(f"/api/monitoring/alerts/?service_map={world.sm.pk}")) == {world.alert.pk}
    assert ids(op.get("/api/monitoring/alerts/?state=resolved")) == set()
    assert {world.alert.pk, world.infra.pk} <= ids(op.get("/api/monitoring/alerts/?open=true&severity=warning"))
    for bad in ("state=burning", "severity=loud", "cluster=x", "open=maybe", "ordering=nope", "cursor=zzz",
                "page_size=0"):
        r = op.get(f"/api/monitoring/alerts/?{bad}")
        assert r.status_code == 400, (bad, r.content)
    page = op.get("/api/monitoring/alerts/?page_size=1").json()
    assert len(page["results"]) == 1
    assert page["next"]
    assert ids(op.get(page["next"])) - {page["results"][0]["id"]}


def test_rules_member_scope_builtins_operators_only(world: World) -> None:
    dev = _client(world.developer)
    body = {"name": "hot pods", "metric": "cpu_usage", "aggregation": "max", "operator": ">=", "threshold": 0.8,
            "window_seconds": 300, "for_seconds": 120, "service_map": world.sm.pk, "level": "pod"}
    r = dev.post("/api/monitoring/rules/", body, format="json")
    assert r.status_code == 201, r.content
    made = r.json()
    assert (made["workspace"]["id"], made["service_map"]["id"], made["level"], made["permissions"]) == (
        world.team.pk, world.sm.pk, "pod", {"change": True, "delete": True})
    r = dev.patch(f"/api/monitoring/rules/{made['id']}/", {"threshold": 0.9}, format="json")
    assert r.status_code == 200
    assert r.json()["threshold"] == 0.9

    # the viewer lacks the grant; the outsider does not see it; fleet scope is for operators
    r = _client(world.viewer).post("/api/monitoring/rules/", body, format="json")
    assert (r.status_code, r.json()["code"]) == (403, "grant_missing")
    assert _client(world.outsider).get(f"/api/monitoring/rules/{made['id']}/").status_code == 404
    r = dev.post("/api/monitoring/rules/", {**body, "service_map": None}, format="json")
    assert (r.status_code, r.json()["code"]) == (403, "operator_required")
    r = dev.post("/api/monitoring/rules/", {**body, "cluster": world.cluster.pk}, format="json")
    assert r.status_code == 400
    assert "cluster" in r.json()["errors"]
    other_sm = ServiceMap.objects.get(workspace=world.other)
    r = dev.post("/api/monitoring/rules/", {**body, "service_map": other_sm.pk}, format="json")
    assert r.status_code == 400
    assert "service_map" in r.json()["errors"]
    r = dev.post("/api/monitoring/rules/", {**body, "workspace": world.other.pk}, format="json")
    assert r.status_code == 400
    assert "workspace" in r.json()["errors"]
    r = dev.post("/api/monitoring/rules/", {**body, "level": "node"}, format="json")
    assert (r.status_code, r.json()["code"], list(r.json()["errors"])) == (400, "rule_level_scope", ["level"])
    r = dev.post("/api/monitoring/rules/", {**body, "workload_kind": "Deployment"}, format="json")
    assert r.status_code == 400
    assert r.json()["code"] == "rule_workload_incomplete"
    r = dev.post("/api/monitoring/rules/", {**body, "metric": "cpu_fun"}, format="json")
    assert r.status_code == 400
    assert "metric" in r.json()["errors"]
    r = dev.post("/api/monitoring/rules/", {**body, "threshold": "hot"}, format="json")
    assert r.status_code == 400
    assert "threshold" in r.json()["errors"]

    # built-ins: listed (made on demand), retuned by operators only, never deleted
    op = _client(world.operator)
    listed = op.get("/api/monitoring/rules/?builtin=true&page_size=50").json()["results"]
    assert {row["builtin"] for row in listed} == set(rules.BUILTINS)
    pending = next(row for row in listed if row["builtin"] == "pod_pending")
    assert pending["param_specs"][0]["name"] == "pending_seconds"
    assert _client(world.developer).get(f"/api/monitoring/rules/{pending['id']}/").status_code == 404
    url = f"/api/monitoring/rules/{pending['id']}/"
    r = op.patch(url, {"params": {"pending_seconds": 900}, "severity": "critical", "enabled": False}, format="json")
    assert r.status_code == 200
    assert r.json()["params"] == {"pending_seconds": 900}
    assert not r.json()["enabled"]
    r = op.patch(url, {"params": {"pending_seconds": 1}}, format="json")
    assert (r.status_code, r.json()["code"]) == (400, "rule_param_invalid")
    assert list(r.json()["errors"]) == ["params.pending_seconds"]
    r = op.patch(url, {"name": "renamed"}, format="json")
    assert (r.status_code, r.json()["code"]) == (400, "rule_builtin_field")
    r = op.delete(url)
    assert (r.status_code, r.json()["code"]) == (409, "rule_builtin_undeletable")
    assert dev.delete(f"/api/monitoring/rules/{made['id']}/").status_code == 204
    assert not AlertRule.objects.filter(pk=made["id"]).exists()


def test_silences(world: World) -> None:
    dev = _client(world.developer)
    ends = (timezone.now() + timedelta(hours=2)).isoformat()
    r = _client(world.viewer).post("/api/monitoring/silences/", {"fingerprint": world.alert.fingerprint,
                                                                 "reason": "deploy", "ends_at": ends}, format="json")
    assert (r.status_code, r.json()["code"]) == (403, "grant_missing")
    r = dev.post("/api/monitoring/silences/", {"fingerprint": world.alert.fingerprint, "reason": "deploy",
                                               "ends_at": ends}, format="json")
    assert r.status_code == 201, r.content
    silence = r.json()
    assert silence["active"]
    assert silence["workspace"]["id"] == world.team.pk
    assert ids(dev.get("/api/monitoring/silences/?active=true")) == {silence["id"]}
    assert ids(_client(world.outsider).get("/api/monitoring/silences/")) == set()
    assert _client(world.outsider).post(f"/api/monitoring/silences/{silence['id']}/expire/").status_code == 404
    r = dev.patch(f"/api/monitoring/silences/{silence['id']}/", {"reason": "longer deploy"}, format="json")
    assert r.status_code == 200
    assert r.json()["reason"] == "longer deploy"
    r = dev.post(f"/api/monitoring/silences/{silence['id']}/expire/")
    assert r.status_code == 200
    assert not r.json()["active"]
    r = dev.post(f"/api/monitoring/silences/{silence['id']}/expire/")
    assert (r.status_code, r.json()["code"]) == (409, "silence_ended")
    r = dev.post("/api/monitoring/silences/", {"reason": "x", "ends_at": ends}, format="json")
    assert r.status_code == 403  # no matcher: a fleet-wide silence is for operators
    r = _client(world.operator).post("/api/monitoring/silences/", {"reason": "x", "ends_at": ends}, format="json")
    assert (r.status_code, r.json()["code"]) == (400, "silence_matchers_missing")
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    r = dev.post("/api/monitoring/silences/", {"workspace": world.team.pk, "reason": "x", "ends_at": past},
                 format="json")
    assert (r.status_code, r.json()["code"]) == (400, "silence_ends_invalid")
    r = dev.post("/api/monitoring/silences/", {"fingerprint": "0" * 64, "reason": "x", "ends_at": ends},
                 format="json")
    assert r.status_code == 400
    assert "fingerprint" in r.json()["errors"]
    assert dev.delete(f"/api/monitoring/silences/{silence['id']}/").status_code == 204

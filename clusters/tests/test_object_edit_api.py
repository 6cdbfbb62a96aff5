"""Editing and creating objects through the API against a sandbox cluster over HTTPS (issue 15):
the edit view, the dry-run preview and its diff, apply as an ObjectAction carried out under the
user's own field manager, an SSA conflict with another manager resolved both ways (back out:
nothing changes; force: applied), create from several documents with per-document results, and
every bad input of the issue answered with a 4xx and a stable code, nothing applied."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from rest_framework.test import APIClient

from clusters import object_ops
from clusters.kube.client import KubeClient
from clusters.models import Cluster, ObjectAction
from clusters.tests.helpers import register
from portal.models import AuditRecord, User
from portal.testing import make_user, unique
from sandbox.resources import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, SECRETS
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

SANDBOX_CLUSTER = "objedit"
DEPLOY = "apps/v1/deployments"


@pytest.fixture(scope="module")
def fleet(sandbox_fleet: Any) -> Iterator[Any]:
    sandbox_fleet.add_cluster(SANDBOX_CLUSTER, nodes=1)
    yield sandbox_fleet
    sandbox_fleet.remove_cluster(SANDBOX_CLUSTER)


def client_for(user: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def in_cluster(fleet: Any, fn: Any) -> Any:
    return fleet.in_cluster(SANDBOX_CLUSTER, fn)


def namespace(fleet: Any, ns: str) -> None:
    in_cluster(fleet, lambda c: c.store.get(NAMESPACES, None, ns) or c.store.create(NAMESPACES,
                                                                                   {"metadata": {"name": ns}}))


def deployment(fleet: Any, ns: str, name: str = "web", replicas: int = 1) -> None:
    namespace(fleet, ns)
    labels = {"app": name}
    in_cluster(fleet, lambda c: c.store.create(DEPLOYMENTS, {
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}))


def live(fleet: Any, rt: Any, ns: str, name: str) -> Any:
    return in_cluster(fleet, lambda c: c.store.get(rt, ns, name))


def url(cluster: Cluster, name: str = "web", path: str = DEPLOY, verb: str = "", ns: str = "") -> str:
    return f"/api/clusters/{cluster.pk}/objects/{path}/{name}/" + (f"{verb}/" if verb else "") + \
        (f"?namespace={ns}" if ns else "")


def with_replicas(text: str, replicas: int) -> str:
    obj = yaml.safe_load(text)
    obj["spec"]["replicas"] = replicas
    return yaml.safe_dump(obj, sort_keys=False)


def run(action_id: int) -> dict[str, Any]:
    """The task's work, here (the row was committed by the request; on_commit does not fire in
    these transaction-wrapped tests, the real worker is shown in test_object_actions)."""
    object_ops.run(action_id)
    row = ObjectAction.objects.get(pk=action_id)
    return {"status": row.status, "code": row.message_code, "result": row.result, "diff": row.diff}


@pytest.fixture
def cluster(fleet: Any, db: None) -> Cluster:
    return register(fleet, SANDBOX_CLUSTER)


@pytest.fixture
def operator(db: None) -> User:
    return make_user(unique("oper"), role="operator")


# ---------------------------------------------------------------------------- edit


def test_edit_a_deployments_replicas_preview_then_apply(fleet: Any, cluster: Cluster, operator: User) -> None:
    ns = unique("edit")
    deployment(fleet, ns, replicas=1)
    api = client_for(operator)

    got = api.get(url(cluster, ns=ns))
    assert got.status_code == 200, got.json()
    body = got.json()
    assert (body["api_version"], body["kind"], body["namespace"], body["name"]) == ("apps/v1", "Deployment", ns, "web")
    assert body["yaml"].splitlines()[:3] == ["apiVersion: apps/v1", "kind: Deployment", "metadata:"]
    edit = yaml.safe_load(body["yaml"])
    assert "status" not in edit
    assert not {"managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"} & set(edit["metadata"])
    assert body["resource_version"]
    assert body["owner_release"] is None
    assert body["permissions"]["objects.edit"]["allowed"] is True

    text = with_replicas(body["yaml"], 3)
    preview = api.post(url(cluster, verb="preview", ns=ns), {"yaml": text}, format="json")
    assert preview.status_code == 200, preview.json()
    shown = preview.json()
    assert shown["changed"] is True
    assert "-  replicas: 1" in shown["diff"]
    assert "+  replicas: 3" in shown["diff"]
    assert shown["conflicts"] == []
    assert yaml.safe_load(shown["result_yaml"])["spec"]["replicas"] == 3
    assert live(fleet, DEPLOYMENTS, ns, "web")["spec"]["replicas"] == 1  # a dry run changes nothing

    accepted = api.post(url(cluster, verb="apply", ns=ns), {"yaml": text}, format="json")
    assert accepted.status_code == 202, accepted.json()
    action = accepted.json()
    assert (action["action"], action["status"], action["kind"], action["namespace"]) == ("apply", "pending",
                                                                                        "Deployment", ns)
    assert action["requested_by"] == operator.username
    assert AuditRecord.objects.filter(action="object.apply", detail__action_id=action["id"]).exists()
    assert run(action["id"])["status"] == "succeeded"

    obj = live(fleet, DEPLOYMENTS, ns, "web")
    assert obj["spec"]["replicas"] == 3
    managers = {m["manager"]: m for m in obj["metadata"]["managedFields"]}
    assert managers[f"portal:{operator.username}"]["operation"] == "Apply"
    done = api.get(f"/api/clusters/actions/{action['id']}/").json()
    assert done["status"] == "succeeded"
    assert "+  replicas: 3" in done["diff"]
    listed = api.get(f"/api/clusters/{cluster.pk}/actions/?namespace={ns}&kind=Deployment&name=web").json()
    assert [r["id"] for r in listed["results"]] == [action["id"]]
    # The editor now names the portal user among the managers.
    after = api.get(url(cluster, ns=ns)).json()
    assert f"portal:{operator.username}" in [m["manager"] for m in after["managers"]]


def test_the_editor_starts_as_kubectl_edit_and_an_edit_without_the_type_is_accepted(
        fleet: Any, cluster: Cluster, operator: User) -> None:
    ns = unique("head")
    deployment(fleet, ns, replicas=1)
    in_cluster(fleet, lambda c: c.store.create(CONFIGMAPS, {"metadata": {"name": "cfg", "namespace": ns},
                                                            "data": {"k": "v"}}))
    api = client_for(operator)
    shown = api.get(url(cluster, "cfg", "core/v1/configmaps", ns=ns)).json()["yaml"]
    assert [line.split(":")[0] for line in shown.splitlines() if not line.startswith(" ")] == [
        "apiVersion", "kind", "metadata", "data"]
    text = api.get(url(cluster, ns=ns)).json()["yaml"]
    assert text.splitlines()[:3] == ["apiVersion: apps/v1", "kind: Deployment", "metadata:"]
    assert [line.split(":")[0] for line in text.splitlines() if not line.startswith(" ")] == [
        "apiVersion", "kind", "metadata", "spec"]

    # The form the editor showed before (no apiVersion/kind: the URL names them) and the type last.
    edited = yaml.safe_load(with_replicas(text, 2))
    untyped = yaml.safe_dump({k: v for k, v in edited.items() if k not in ("apiVersion", "kind")}, sort_keys=False)
    assert not untyped.startswith(("apiVersion", "kind"))
    typed_last = untyped + "kind: Deployment\napiVersion: apps/v1\n"
    diffs = []
    for form in (untyped, typed_last):
        preview = api.post(url(cluster, verb="preview", ns=ns), {"yaml": form}, format="json")
        assert preview.status_code == 200, preview.json()
        body = preview.json()
        assert body["changed"] is True
        assert "+  replicas: 2" in body["diff"]
        for side in ("live_yaml", "result_yaml"):
            assert body[side].splitlines()[:3] == ["apiVersion: apps/v1", "kind: Deployment", "metadata:"]
        diffs.append(body["diff"])
    assert diffs[0] == diffs[1]
    # Given, the type must still be the object's.
    refused = api.post(url(cluster, verb="preview", ns=ns), {"yaml": "kind: StatefulSet\n" + untyped}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (400, "kind_changed")

    accepted = api.post(url(cluster, verb="apply", ns=ns), {"yaml": untyped}, format="json")
    assert accepted.status_code == 202, accepted.json()
    assert run(accepted.json()["id"])["status"] == "succeeded"
    assert live(fleet, DEPLOYMENTS, ns, "web")["spec"]["replicas"] == 2


def kubectl_edit(cluster: Cluster, ns: str, replicas: int) -> None:
    """What ``kubectl edit``/``kubectl scale`` does: a strategic merge patch under its own manager."""
    with KubeClient(cluster.connection_spec()) as client:
        client.patch_object("Deployment", "web", ns, {"spec": {"replicas": replicas}}, api_version="apps/v1",
                            field_manager="kubectl-edit")


def test_an_ssa_conflict_with_another_manager_backed_out_or_forced(fleet: Any, cluster: Cluster,
                                                                  operator: User) -> None:
    ns = unique("conflict")
    deployment(fleet, ns, replicas=1)
    api = client_for(operator)
    text = with_replicas(api.get(url(cluster, ns=ns)).json()["yaml"], 3)
    # The portal user owns spec.replicas after a first apply; then someone scales with kubectl.
    first = api.post(url(cluster, verb="apply", ns=ns), {"yaml": with_replicas(text, 2)}, format="json").json()
    assert run(first["id"])["status"] == "succeeded"
    kubectl_edit(cluster, ns, 5)

    preview = api.post(url(cluster, verb="preview", ns=ns), {"yaml": text}, format="json").json()
    assert preview["conflicts"] == [{"field": ".spec.replicas", "manager": "kubectl-edit",
                                     "message": preview["conflicts"][0]["message"]}]
    assert "kubectl-edit" in preview["conflicts"][0]["message"]
    assert "+  replicas: 3" in preview["diff"]  # what forcing would do

    # Without force: the action ends in conflict, field by field; the live object is unchanged.
    backed = api.post(url(cluster, verb="apply", ns=ns), {"yaml": text}, format="json").json()
    outcome = run(backed["id"])
    assert outcome["status"] == "conflict"
    assert outcome["code"] == "apply_conflict"
    assert [(c["field"], c["manager"]) for c in outcome["result"]["conflicts"]] == [(".spec.replicas",
                                                                                   "kubectl-edit")]
    assert live(fleet, DEPLOYMENTS, ns, "web")["spec"]["replicas"] == 5

    # The user chooses to force: applied, and the portal user owns the field again.
    forced = api.post(url(cluster, verb="apply", ns=ns), {"yaml": text, "force": True}, format="json").json()
    assert forced["params"] == {"force": True}
    assert run(forced["id"])["status"] == "succeeded"
    obj = live(fleet, DEPLOYMENTS, ns, "web")
    assert obj["spec"]["replicas"] == 3
    owners = [m["manager"] for m in obj["metadata"]["managedFields"] if "f:replicas" in str(m.get("fieldsV1"))]
    assert owners == [f"portal:{operator.username}"]


def test_a_secret_is_edited_with_its_values_hidden(fleet: Any, cluster: Cluster, operator: User) -> None:
    ns = unique("secret")
    namespace(fleet, ns)
    in_cluster(fleet, lambda c: c.store.create(SECRETS, {
        "metadata": {"name": "db", "namespace": ns}, "data": {"password": "czNjcjN0", "user": "YWRtaW4="}}))
    api = client_for(operator)
    body = api.get(url(cluster, "db", "core/v1/secrets", ns=ns)).json()
    assert "czNjcjN0" not in body["yaml"]
    assert "YWRtaW4=" not in body["yaml"]
    edit = yaml.safe_load(body["yaml"])
    assert edit["data"] == {"password": "(hidden)", "user": "(hidden)"}
    edit["data"]["password"] = "bmV3"  # a new value typed; user left hidden: kept
    text = yaml.safe_dump(edit)
    preview = api.post(url(cluster, "db", "core/v1/secrets", "preview", ns=ns), {"yaml": text}, format="json")
    assert preview.status_code == 200, preview.json()
    shown = preview.json()
    for clear in ("czNjcjN0", "YWRtaW4=", "bmV3"):
        assert clear not in str(shown)
    assert "+  password: (hidden, changed)" in shown["diff"]
    accepted = api.post(url(cluster, "db", "core/v1/secrets", "apply", ns=ns), {"yaml": text}, format="json")
    assert accepted.status_code == 202
    assert run(accepted.json()["id"])["status"] == "succeeded"
    assert live(fleet, SECRETS, ns, "db")["data"] == {"password": "bmV3", "user": "YWRtaW4="}
    assert "bmV3" not in str(api.get(f"/api/clusters/actions/{accepted.json()['id']}/").json())


# ---------------------------------------------------------------------------- create from YAML


def manifests(ns: str, *, replicas: int = 1) -> str:
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: {ns}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: api}}
  template:
    metadata:
      labels: {{app: api}}
    spec:
      containers:
      - name: api
        image: api:1
---
apiVersion: v1
kind: Secret
metadata:
  name: token
stringData:
  token: very-secret
"""


def test_create_from_several_documents_with_per_document_results(fleet: Any, cluster: Cluster,
                                                                  operator: User) -> None:
    ns = unique("create")
    namespace(fleet, ns)
    api = client_for(operator)
    preview = api.post(f"/api/clusters/{cluster.pk}/objects/preview/?namespace={ns}", {"yaml": manifests(ns)},
                       format="json")
    assert preview.status_code == 200, preview.json()
    docs = preview.json()["documents"]
    assert [(d["kind"], d["namespace"], d["name"], d["exists"], d["line"]) for d in docs] == [
        ("ConfigMap", ns, "settings", False, 1), ("Deployment", ns, "api", False, 8),
        ("Secret", ns, "token", False, 25)]
    assert all(d["changed"] and not d["errors"] and not d["conflicts"] for d in docs)
    assert "very-secret" not in str(docs)
    assert live(fleet, CONFIGMAPS, ns, "settings") is None

    accepted = api.post(f"/api/clusters/{cluster.pk}/objects/create/?namespace={ns}", {"yaml": manifests(ns)},
                        format="json")
    assert accepted.status_code == 202, accepted.json()
    stored = ObjectAction.objects.get(pk=accepted.json()["id"])
    assert stored.action == "create"
    assert stored.manifest_encrypted  # it holds a Secret
    assert (stored.namespace, stored.params["namespaces"], stored.params["documents"]) == (ns, [ns], 3)
    outcome = run(stored.pk)
    assert outcome["status"] == "succeeded", outcome
    assert [(d["kind"], d["status"]) for d in outcome["result"]["documents"]] == [
        ("ConfigMap", "created"), ("Deployment", "created"), ("Secret", "created")]
    assert "very-secret" not in outcome["diff"]
    assert live(fleet, CONFIGMAPS, ns, "settings")["data"] == {"mode": "fast"}
    assert live(fleet, DEPLOYMENTS, ns, "api")["spec"]["replicas"] == 1

    # Again, with one change: configured, unchanged.
    again = api.post(f"/api/clusters/{cluster.pk}/objects/create/?namespace={ns}",
                     {"yaml": manifests(ns, replicas=2)}, format="json").json()
    assert [d["status"] for d in run(again["id"])["result"]["documents"]] == ["unchanged", "configured", "unchanged"]

    # One document the API server refuses: nothing of the batch is applied.
    bad = manifests(ns, replicas=-1).replace("mode: fast", "mode: slow")
    refused = api.post(f"/api/clusters/{cluster.pk}/objects/preview/?namespace={ns}", {"yaml": bad}, format="json")
    assert refused.json()["documents"][1]["errors"][0]["field"] == "spec.replicas"
    assert refused.json()["documents"][1]["errors"][0]["line"] == 14
    failed = api.post(f"/api/clusters/{cluster.pk}/objects/create/?namespace={ns}", {"yaml": bad}, format="json").json()
    outcome = run(failed["id"])
    assert outcome["status"] == "failed"
    assert [d["status"] for d in outcome["result"]["documents"]] == ["not_applied", "failed", "not_applied"]
    assert live(fleet, CONFIGMAPS, ns, "settings")["data"] == {"mode": "fast"}


# ---------------------------------------------------------------------------- bad input


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.json()
    body = dict(response.json())
    assert body["code"] == code, body
    return body


def test_every_bad_input_is_a_4xx_with_its_code_and_nothing_is_applied(fleet: Any, cluster: Cluster,
                                                                       operator: User) -> None:
    ns = unique("bad")
    deployment(fleet, ns, replicas=1)
    api = client_for(operator)
    good = api.get(url(cluster, ns=ns)).json()["yaml"]
    before = live(fleet, DEPLOYMENTS, ns, "web")["metadata"]["generation"]  # the status moves on; the spec not
    cases = {
        "yaml_invalid": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: a: b\n",
        "multiple_documents": good + "---\n" + good,
        "name_changed": good.replace("name: web\n", "name: web2\n", 1),
        "kind_changed": good.replace("kind: Deployment", "kind: StatefulSet"),
        "api_version_changed": good.replace("apiVersion: apps/v1", "apiVersion: apps/v1beta2"),
        "namespace_changed": good.replace(f"namespace: {ns}", "namespace: elsewhere"),
        "api_invalid": with_replicas(good, -1),
    }
    for code, text in cases.items():
        for verb in ("preview", "apply"):
            body = refused(api.post(url(cluster, verb=verb, ns=ns), {"yaml": text}, format="json"), 400, code)
            if code == "yaml_invalid":
                assert body["params"]["lines"][0]["line"] == 5
                assert body["errors"]["yaml"] == [body["params"]["lines"][0]["message"]]  # the one error shape
            if code == "api_invalid":
                line = text.splitlines().index("  replicas: -1") + 1  # under apiVersion, kind, metadata
                assert line == 11
                assert body["params"]["lines"] == [{"field": "spec.replicas", "line": line,
                                                    "message": body["params"]["lines"][0]["message"]}]
                assert body["errors"]["yaml"] == [body["params"]["lines"][0]["message"]]
                assert "greater than or equal to 0" in body["errors"]["yaml"][0]
    refused(api.post(url(cluster, verb="apply", ns=ns), {"yaml": ""}, format="json"), 400, "yaml_invalid")
    refused(api.post(url(cluster, verb="apply", ns=ns), {"yaml": "- a list\n"}, format="json"), 400, "yaml_invalid")
    refused(api.post(url(cluster, verb="apply"), {"yaml": good}, format="json"), 400, "namespace_required")
    refused(api.post(url(cluster, "nope", verb="apply", ns=ns), {"yaml": good.replace("name: web\n", "name: nope\n",
                                                                                          1)}, format="json"), 404,
            "object_not_found")
    refused(api.post(url(cluster, path="example.com/v1/widgets", verb="apply", ns=ns), {"yaml": good},
                     format="json"), 404, "unknown_resource")
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
    body = refused(api.post(f"/api/clusters/{cluster.pk}/objects/create/?namespace={ns}",
                            {"yaml": good + "---\n" + widget}, format="json"), 400, "kind_not_served")
    assert body["params"]["document"] == 1
    refused(api.post(f"/api/clusters/{cluster.pk}/objects/preview/", {"yaml": "a: [1"}, format="json"), 400,
            "yaml_invalid")
    assert not ObjectAction.objects.filter(cluster=cluster).exists()
    obj = live(fleet, DEPLOYMENTS, ns, "web")
    assert obj["metadata"]["generation"] == before
    assert not [m for m in obj["metadata"]["managedFields"] if m["manager"].startswith("portal:")]


@pytest.fixture
def team(cluster: Cluster) -> dict[str, Any]:
    """A workspace whose service map holds one namespace of the cluster, with a developer (may
    edit, may not reveal secrets) and a viewer."""
    ws = Workspace.objects.create(name=unique("team"))
    ns = unique("team-ns")
    ClusterAllocation.objects.create(workspace=ws, cluster=cluster, status="ready")
    ServiceMap.objects.create(workspace=ws, cluster=cluster, namespace=ns, status="ready")
    users = {}
    for key in ("developer", "viewer"):
        users[key] = make_user(unique(key))
        Membership.objects.create(workspace=ws, user=users[key], role=Role.objects.get(key=key))
    return {"namespace": ns, **users}


def test_members_edit_only_in_their_service_maps_and_as_their_role_allows(fleet: Any, cluster: Cluster,
                                                                         team: dict[str, Any]) -> None:
    ns = team["namespace"]
    deployment(fleet, ns)
    other = unique("not-theirs")
    deployment(fleet, other)
    in_cluster(fleet, lambda c: c.store.create(SECRETS, {"metadata": {"name": "db", "namespace": ns},
                                                         "data": {"k": "dg=="}}))
    dev, viewer = client_for(team["developer"]), client_for(team["viewer"])
    text = with_replicas(dev.get(url(cluster, ns=ns)).json()["yaml"], 2)
    assert dev.get(url(cluster, ns=ns)).json()["permissions"]["secrets.reveal"]["allowed"] is False

    # A namespace outside their service maps: not even readable.
    refused(dev.get(url(cluster, ns=other)), 404, "object_not_found")
    refused(dev.post(url(cluster, verb="apply", ns=other), {"yaml": text.replace(ns, other)}, format="json"), 404,
            "object_not_found")
    create = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: {other}\n"
    refused(dev.post(f"/api/clusters/{cluster.pk}/objects/create/?namespace={ns}", {"yaml": create}, format="json"),
            403, "namespace_forbidden")
    refused(dev.post(f"/api/clusters/{cluster.pk}/objects/create/?namespace={other}", {"yaml": "a: [1"},
                     format="json"), 403, "namespace_forbidden")  # before the body is read
    cluster_scoped = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: mine-now\n"
    refused(dev.post(f"/api/clusters/{cluster.pk}/objects/create/?namespace={ns}", {"yaml": cluster_scoped},
                     format="json"), 403, "operator_required")
    # Members name the namespace they create in: without one, only operators may.
    refused(dev.post(f"/api/clusters/{cluster.pk}/objects/preview/", {"yaml": create}, format="json"), 403,
            "operator_required")
    # The viewer may read but not edit; the developer may edit but not a Secret (no secrets.reveal).
    refused(viewer.post(url(cluster, verb="apply", ns=ns), {"yaml": text}, format="json"), 403, "grant_missing")
    secret = dev.get(url(cluster, "db", "core/v1/secrets", ns=ns)).json()["yaml"]
    refused(dev.post(url(cluster, "db", "core/v1/secrets", "apply", ns=ns), {"yaml": secret}, format="json"), 403,
            "grant_missing")
    accepted = dev.post(url(cluster, verb="apply", ns=ns), {"yaml": text}, format="json")
    assert accepted.status_code == 202, accepted.json()
    assert run(accepted.json()["id"])["status"] == "succeeded"
    assert live(fleet, DEPLOYMENTS, ns, "web")["spec"]["replicas"] == 2
    # Their action is theirs to follow; the viewer of the same service map sees it too, others do not.
    assert viewer.get(f"/api/clusters/actions/{accepted.json()['id']}/").status_code == 200
    outsider = client_for(make_user(unique("outsider")))
    assert outsider.get(f"/api/clusters/actions/{accepted.json()['id']}/").status_code == 404

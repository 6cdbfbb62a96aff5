"""The REST API over HTTPS through the official Python client and raw requests: auth, discovery, CRUD,
patches, SSA, selectors, paging, watch (bookmarks, 410 + relist), deletion and bad input."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from sandbox.resources import PODS
from sandbox.testing import SandboxFleet
from sandbox.tests.helpers import Raw


def _pod(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}


def _status(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


@pytest.fixture(scope="module")
def ns(api_client: Any) -> str:
    core = client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": "api-test"}})
    return "api-test"


def test_auth_required(raw: Raw) -> None:
    status, body, _ = raw.request("GET", "/api/v1/namespaces", token="wrong")
    assert status == 401
    assert body["kind"] == "Status"
    assert body["reason"] == "Unauthorized"
    assert body["code"] == 401
    status, body, _ = raw.request("GET", "/healthz", token="")
    assert status == 200


def test_discovery(api_client: Any, raw: Raw) -> None:
    version = client.VersionApi(api_client).get_code()
    assert version.git_version == "v1.32.4"
    assert version.major == "1"
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert {"apps", "batch", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io", "storage.k8s.io",
            "events.k8s.io", "policy", "metrics.k8s.io", "authorization.k8s.io"} <= groups
    _, core, _ = raw.request("GET", "/api/v1")
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["pods"]["shortNames"] == ["po"]
    assert by_name["pods"]["namespaced"] is True
    assert "pods/log" in by_name
    assert by_name["pods/exec"]["kind"] == "PodExecOptions"
    assert by_name["pods/exec"]["verbs"] == ["create", "get"]
    assert "pods/eviction" in by_name
    assert by_name["nodes"]["namespaced"] is False
    assert by_name["pods/eviction"]["group"] == "policy"
    _, apps, _ = raw.request("GET", "/apis/apps/v1")
    scale = next(r for r in apps["resources"] if r["name"] == "deployments/scale")
    assert scale["kind"] == "Scale"
    assert scale["group"] == "autoscaling"
    status, body, _ = raw.request("GET", "/apis/nope.example.com/v1")
    assert status == 404
    assert body["reason"] == "NotFound"


def test_crud_and_conflict(api_client: Any, ns: str) -> None:
    core = client.CoreV1Api(api_client)
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    assert cm.metadata.uid
    assert cm.metadata.resource_version
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "cfg"}})
    assert exc.value.status == 409
    assert _status(exc.value)["reason"] == "AlreadyExists"
    cm.data["a"] = "2"
    updated = core.replace_namespaced_config_map("cfg", ns, cm)
    assert updated.data["a"] == "2"
    cm.data["a"] = "3"
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("cfg", ns, cm)  # stale resourceVersion
    assert exc.value.status == 409
    assert _status(exc.value)["reason"] == "Conflict"
    dry = core.create_namespaced_config_map(ns, {"metadata": {"name": "dry"}}, dry_run="All")
    assert dry.metadata.name == "dry"
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("dry", ns)
    assert exc.value.status == 404
    assert _status(exc.value)["message"] == 'configmaps "dry" not found'
    core.delete_namespaced_config_map("cfg", ns)
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("cfg", ns)


def test_patch_types_and_scale(api_client: Any, ns: str) -> None:
    apps = client.AppsV1Api(api_client)
    labels = {"app": "web"}
    apps.create_namespaced_deployment(ns, {"metadata": {"name": "web"}, "spec": {
        "replicas": 1, "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": "nginx:1"}]}}}})
    # the Python client sends strategic merge patch for dict bodies
    d = apps.patch_namespaced_deployment("web", ns, {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:2"}]}}}})
    assert d.spec.template.spec.containers[0].image == "nginx:2"
    assert d.metadata.generation == 2
    d = apps.patch_namespaced_deployment("web", ns, [{"op": "replace", "path": "/spec/replicas", "value": 2}])
    assert d.spec.replicas == 2
    api_client.set_default_header("Content-Type", "application/merge-patch+json")
    try:
        d = apps.patch_namespaced_deployment("web", ns, {"metadata": {"labels": {"tier": "front"}}})
    finally:
        api_client.default_headers.pop("Content-Type", None)
    assert d.metadata.labels == {"tier": "front"}
    scale = apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 4}})
    assert scale.spec.replicas == 4
    assert scale.status.selector == "app=web"
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 4
    st = apps.patch_namespaced_deployment_status("web", ns, {"status": {"replicas": 4, "readyReplicas": 4}})
    assert st.status.ready_replicas == 4
    assert st.spec.replicas == 4


def test_server_side_apply_conflict_over_http(raw: Raw, ns: str) -> None:
    cfg = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa", "namespace": ns},
           "data": {"key": "a"}}
    path = f"/api/v1/namespaces/{ns}/configmaps/ssa"
    status, body, _ = raw.request("PATCH", path + "?fieldManager=alice", cfg, content_type="application/apply-patch+yaml")
    assert status == 201, body
    status, body, _ = raw.request("PATCH", path + "?fieldManager=bob", {**cfg, "data": {"key": "b"}},
                                  content_type="application/apply-patch+yaml")
    assert status == 409
    assert body["reason"] == "Conflict"
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "alice": .data.key'
    assert body["details"]["causes"] == [{"type": "FieldManagerConflict", "message": 'conflict with "alice"',
                                          "field": ".data.key"}]
    status, body, _ = raw.request("PATCH", path + "?fieldManager=bob&force=true", {**cfg, "data": {"key": "b"}},
                                  content_type="application/apply-patch+yaml")
    assert status == 200
    assert body["data"]["key"] == "b"
    assert [m["manager"] for m in body["metadata"]["managedFields"]] == ["bob"]
    yaml_body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  key: b\n  other: c\n"
    status, body, _ = raw.request("PATCH", path + "?fieldManager=bob", yaml_body,
                                  content_type="application/apply-patch+yaml")
    assert status == 200
    assert body["data"] == {"key": "b", "other": "c"}
    status, body, _ = raw.request("PATCH", path, cfg, content_type="application/apply-patch+yaml")
    assert status == 400
    assert "fieldManager" in body["message"]


def test_list_selectors_and_paging(api_client: Any, ns: str, fleet: SandboxFleet) -> None:
    core = client.CoreV1Api(api_client)
    for i in range(6):
        core.create_namespaced_pod(ns, _pod(f"sel-{i}", {"app": "sel", "tier": "a" if i < 3 else "b"}))
    fleet.in_cluster("cluster-1", lambda c: c.store.mutate(
        PODS, ns, "sel-0", lambda p: p.setdefault("spec", {}).__setitem__("nodeName", "cluster-1-node-1")))
    names = lambda pods: [p.metadata.name for p in pods.items]  # noqa: E731
    assert names(core.list_namespaced_pod(ns, label_selector="app=sel,tier in (b)")) == ["sel-3", "sel-4", "sel-5"]
    assert names(core.list_namespaced_pod(ns, label_selector="tier notin (b),app")) == ["sel-0", "sel-1", "sel-2"]
    assert names(core.list_pod_for_all_namespaces(field_selector="spec.nodeName=cluster-1-node-1")) == ["sel-0"]
    assert len(core.list_namespaced_pod(ns, field_selector="status.phase=Pending", label_selector="app=sel").items) == 6
    first = core.list_namespaced_pod(ns, label_selector="app=sel", limit=4)
    assert len(first.items) == 4
    assert first.metadata._continue
    assert first.metadata.remaining_item_count == 2
    rest = core.list_namespaced_pod(ns, label_selector="app=sel", limit=4, _continue=first.metadata._continue)
    assert names(rest) == ["sel-4", "sel-5"]
    assert not rest.metadata._continue
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_pod(ns, label_selector="a in (b")
    assert exc.value.status == 400


def test_watch_events_and_bookmarks(raw: Raw, ns: str, fleet: SandboxFleet) -> None:
    import http.client

    rv = fleet.in_cluster("cluster-1", lambda c: c.store.resource_version)
    conn = http.client.HTTPSConnection("127.0.0.1", raw.handle.port, context=raw.ctx, timeout=10)
    conn.request("GET", f"/api/v1/namespaces/{ns}/configmaps?watch=1&resourceVersion={rv}"
                        "&allowWatchBookmarks=true&timeoutSeconds=3",
                 headers={"Authorization": f"Bearer {raw.handle.token}"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Transfer-Encoding") == "chunked"

    def writer() -> None:
        time.sleep(0.2)
        raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                                    "metadata": {"name": "w1"}})
        raw.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/w1", {"data": {"x": "1"}},
                    content_type="application/merge-patch+json")
        raw.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/w1")

    t = threading.Thread(target=writer)
    t.start()
    events = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    t.join()
    conn.close()
    types = [e["type"] for e in events]
    assert types[:3] == ["ADDED", "MODIFIED", "DELETED"]
    assert "BOOKMARK" in types
    bm = next(e for e in events if e["type"] == "BOOKMARK")
    assert int(bm["object"]["metadata"]["resourceVersion"]) >= int(events[2]["object"]["metadata"]["resourceVersion"])


def test_watch_410_and_relist_with_python_client(api_client: Any, ns: str, fleet: SandboxFleet) -> None:
    core = client.CoreV1Api(api_client)
    listed = core.list_namespaced_config_map(ns)
    rv = listed.metadata.resource_version
    fleet.inject_fault("cluster-1", expire_next_watch=True)
    w = watch.Watch()
    with pytest.raises(ApiException) as exc:
        for _ in w.stream(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=2):
            pass
    assert exc.value.status == 410
    # the client relists and resumes from the fresh resourceVersion
    relisted = core.list_namespaced_config_map(ns)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "after-410"}})
    seen = []
    for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=relisted.metadata.resource_version,
                       timeout_seconds=1):
        seen.append((ev["type"], ev["object"].metadata.name))
    assert ("ADDED", "after-410") in seen
    # a real expiry: history forgotten, resuming from the old version is 410 Gone
    fleet.inject_fault("cluster-1", expire_history=True)
    with pytest.raises(ApiException) as exc:
        for _ in w.stream(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=1):
            pass
    assert exc.value.status == 410


def test_single_object_watch(raw: Raw, ns: str) -> None:
    raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                                "metadata": {"name": "one"}})
    raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                                "metadata": {"name": "two"}})
    _, body, _ = raw.request(
        "GET", f"/api/v1/namespaces/{ns}/configmaps?watch=true&fieldSelector=metadata.name%3Done&timeoutSeconds=1")
    events = [json.loads(line) for line in body.splitlines() if line.strip()] if isinstance(body, str) else [body]
    assert [e["object"]["metadata"]["name"] for e in events] == ["one"]


def test_delete_propagation_over_http(api_client: Any, ns: str, fleet: SandboxFleet) -> None:
    apps = client.AppsV1Api(api_client)
    labels = {"app": "gc"}
    dep = apps.create_namespaced_deployment(ns, {"metadata": {"name": "gc"}, "spec": {
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "a", "image": "x:1"}]}}}})
    rs = apps.create_namespaced_replica_set(ns, {"metadata": {"name": "gc-1", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gc", "uid": dep.metadata.uid, "controller": True}]},
        "spec": {"selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "a", "image": "x:1"}]}}}})
    assert rs.metadata.owner_references[0].uid == dep.metadata.uid
    apps.delete_namespaced_deployment("gc", ns, propagation_policy="Background")
    with pytest.raises(ApiException) as exc:
        apps.read_namespaced_replica_set("gc-1", ns)
    assert exc.value.status == 404


def test_graceful_pod_deletion(api_client: Any, ns: str, fleet: SandboxFleet) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(ns, _pod("graceful"))
    fleet.in_cluster("cluster-1", lambda c: c.store.mutate(
        PODS, ns, "graceful", lambda p: p["spec"].__setitem__("nodeName", "cluster-1-node-2")))
    core.delete_namespaced_pod("graceful", ns)
    pod = core.read_namespaced_pod("graceful", ns)
    assert pod.metadata.deletion_timestamp is not None
    deadline = time.time() + 5
    gone = None
    while time.time() < deadline and gone is None:
        try:
            core.read_namespaced_pod("graceful", ns)
        except ApiException as exc:
            gone = exc.status
        time.sleep(0.05)
    assert gone == 404, "pod was not removed after its grace period"


def test_bad_input(raw: Raw, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    status, body, _ = raw.request("POST", base, b"{not json")
    assert status == 400
    assert body["reason"] == "BadRequest"
    status, body, _ = raw.request("POST", base, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}})
    assert status == 400
    assert "does not match the expected kind" in body["message"]
    status, body, _ = raw.request("POST", base, {"apiVersion": "v2", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert status == 400
    assert "the API version in the data (v2)" in body["message"]
    status, body, _ = raw.request("POST", base, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad!"}})
    assert status == 422
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    status, body, _ = raw.request("POST", "/api/v1/namespaces/missing/configmaps",
                                  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert status == 404
    assert body["message"] == 'namespaces "missing" not found'
    status, body, _ = raw.request("POST", base, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
                                                 "data": {"x": "a" * (3 * 1024 * 1024 + 10)}})
    assert status == 413
    assert body["reason"] == "RequestEntityTooLarge"
    status, body, _ = raw.request("PATCH", f"{base}/x", {"a": 1}, content_type="text/plain")
    assert status == 415
    assert body["reason"] == "UnsupportedMediaType"
    status, body, _ = raw.request("GET", "/api/v1/bogus")
    assert status == 404
    status, body, _ = raw.request("PUT", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews/x", {})
    assert status == 405
    assert body["reason"] == "MethodNotAllowed"
    status, body, _ = raw.request("POST", f"/api/v1/namespaces/{ns}/pods",
                                  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b c"}},
                                   "spec": {"containers": [{"name": "c"}]}})
    assert status == 422
    fields = {c["field"] for c in body["details"]["causes"]}
    assert fields == {"metadata.labels", "spec.containers[0].image"}
    status, _, _ = raw.request("GET", "/version")
    assert status == 200  # still serving


def test_access_reviews_and_metrics(raw: Raw) -> None:
    status, body, _ = raw.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                  {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                                   "spec": {"resourceAttributes": {"verb": "*", "resource": "*"}}})
    assert status == 201
    assert body["status"]["allowed"] is True
    status, body, _ = raw.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes")
    assert status == 200
    assert body["kind"] == "NodeMetricsList"
    assert len(body["items"]) == 3
    assert set(body["items"][0]["usage"]) == {"cpu", "memory"}


def test_events_v1_view(raw: Raw, ns: str) -> None:
    status, _, _ = raw.request("POST", f"/api/v1/namespaces/{ns}/events", {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"}, "type": "Warning", "reason": "Test",
        "message": "hello", "involvedObject": {"kind": "Pod", "name": "p", "namespace": ns}})
    assert status == 201
    status, body, _ = raw.request("GET", f"/apis/events.k8s.io/v1/namespaces/{ns}/events/e1")
    assert status == 200
    assert body["note"] == "hello"
    assert body["regarding"]["name"] == "p"
    status, body, _ = raw.request("GET", f"/api/v1/namespaces/{ns}/events?fieldSelector=involvedObject.name%3Dp,"
                                         "type%3DWarning")
    assert [e["metadata"]["name"] for e in body["items"]] == ["e1"]
    status, body, _ = raw.request("GET", f"/apis/events.k8s.io/v1/namespaces/{ns}/events?fieldSelector="
                                         "regarding.name%3Dp")
    assert status == 200
    assert [e["note"] for e in body["items"]] == ["hello"]


def test_table_output(raw: Raw) -> None:
    status, body, _ = raw.request("GET", "/api/v1/nodes", headers={
        "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
    assert status == 200
    assert body["kind"] == "Table"
    assert [c["name"] for c in body["columnDefinitions"]][:5] == ["Name", "Status", "Roles", "Age", "Version"]
    assert body["rows"][0]["cells"][1] == "Ready"


def _running_pod(fleet: SandboxFleet, ns: str, name: str, labels: dict[str, str], ready: bool = True) -> None:
    def make(c: Any) -> None:
        c.store.create(PODS, {"metadata": {"name": name, "namespace": ns, "labels": labels},
                              "spec": {"nodeName": "cluster-1-node-1",
                                       "containers": [{"name": "app", "image": "nginx:1"}]}})
        c.store.mutate(PODS, ns, name, lambda p: p.__setitem__("status", {
            "phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "app", "ready": ready, "restartCount": 0,
                                   "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}),
            subresource="status")

    fleet.in_cluster("cluster-1", make)


def test_eviction_honours_pdb(raw: Raw, ns: str, fleet: SandboxFleet) -> None:
    labels = {"app": "guarded"}
    for i in range(2):
        _running_pod(fleet, ns, f"guarded-{i}", labels)
    status, _, _ = raw.request("POST", f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": labels}}})
    assert status == 201
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "guarded-0", "namespace": ns}}
    status, body, _ = raw.request("POST", f"/api/v1/namespaces/{ns}/pods/guarded-0/eviction", eviction)
    assert status == 429
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["details"]["causes"][0]["reason"] == "DisruptionBudget"
    raw.request("PATCH", f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/pdb", {"spec": {"minAvailable": 1}},
                content_type="application/merge-patch+json")
    status, body, _ = raw.request("POST", f"/api/v1/namespaces/{ns}/pods/guarded-0/eviction", eviction)
    assert status == 201
    assert body["status"] == "Success"
    _, pod, _ = raw.request("GET", f"/api/v1/namespaces/{ns}/pods/guarded-0")
    assert pod["metadata"].get("deletionTimestamp")


def test_logs_parameters(raw: Raw, ns: str, fleet: SandboxFleet) -> None:
    _running_pod(fleet, ns, "talker", {"app": "talker"})
    status, body, headers = raw.request("GET", f"/api/v1/namespaces/{ns}/pods/talker/log?tailLines=2")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    assert len(body.splitlines()) == 2
    status, body, _ = raw.request("GET", f"/api/v1/namespaces/{ns}/pods/talker/log?tailLines=1&timestamps=true")
    assert body.split(" ", 1)[0].endswith("Z")
    status, body, _ = raw.request("GET", f"/api/v1/namespaces/{ns}/pods/talker/log?container=nope")
    assert status == 400
    assert body["message"] == "container nope is not valid for pod talker"
    status, body, _ = raw.request("GET", f"/api/v1/namespaces/{ns}/pods/absent/log")
    assert status == 404


def test_deletecollection(raw: Raw, ns: str) -> None:
    for i in range(3):
        raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"bulk-{i}", "labels": {"bulk": "yes"}}})
    status, body, _ = raw.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps?labelSelector=bulk%3Dyes")
    assert status == 200
    assert sorted(i["metadata"]["name"] for i in body["items"]) == ["bulk-0", "bulk-1", "bulk-2"]
    _, left, _ = raw.request("GET", f"/api/v1/namespaces/{ns}/configmaps?labelSelector=bulk%3Dyes")
    assert left["items"] == []


def test_table_watch(raw: Raw, ns: str) -> None:
    status, body, _ = raw.request(
        "GET", f"/api/v1/namespaces/{ns}/configmaps?watch=1&timeoutSeconds=1",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
    assert status == 200
    first = json.loads(body.splitlines()[0])
    assert first["type"] == "ADDED"
    assert first["object"]["kind"] == "Table"
    assert len(first["object"]["rows"]) == 1


@pytest.mark.parametrize(("method", "path", "body", "ctype"), [
    ("POST", "pods", {"kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": "abc"}}, "application/json"),
    ("POST", "pods", {"kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": [5]}}, "application/json"),
    ("POST", "configmaps", {"kind": "ConfigMap", "metadata": {"name": "x", "ownerReferences": "x"}},
     "application/json"),
    ("POST", "configmaps", {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": 5}}, "application/json"),
    ("POST", "configmaps", b"k8s\x00garbage", "application/vnd.kubernetes.protobuf"),
    ("PUT", "configmaps/x", {"kind": "ConfigMap", "metadata": []}, "application/json"),
    ("PATCH", "configmaps/x", [1, 2], "application/merge-patch+json"),
    ("PATCH", "configmaps/x?fieldManager=m", b": : :", "application/apply-patch+yaml"),
    ("POST", "pods/x/binding", {"target": "node"}, "application/json"),
    ("GET", "pods?watch=1&resourceVersion=abc", None, "application/json"),
    ("GET", "pods?continue=garbage", None, "application/json"),
])
def test_malformed_shapes_are_client_errors(raw: Raw, ns: str, method: str, path: str, body: Any,
                                            ctype: str) -> None:
    raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", {"kind": "ConfigMap", "metadata": {"name": "x"}})
    raw.request("POST", f"/api/v1/namespaces/{ns}/pods", _pod("x"))
    status, reply, _ = raw.request(method, f"/api/v1/namespaces/{ns}/{path}", body, content_type=ctype)
    assert 400 <= status < 500, reply
    assert reply["kind"] == "Status"


def test_endpoints_are_mirrored_to_endpointslices(raw: Raw, ns: str) -> None:
    raw.request("POST", f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "mirror"},
        "spec": {"selector": {"app": "mirror"}, "ports": [{"name": "http", "port": 80}]}})
    status, _, _ = raw.request("POST", f"/api/v1/namespaces/{ns}/endpoints", {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "mirror"},
        "subsets": [{"addresses": [{"ip": "10.244.0.5", "nodeName": "cluster-1-node-1"}],
                     "notReadyAddresses": [{"ip": "10.244.0.6"}],
                     "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]})
    assert status == 201
    _, slices, _ = raw.request("GET", f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
                                      "?labelSelector=kubernetes.io%2Fservice-name%3Dmirror")
    assert len(slices["items"]) == 1
    eps = slices["items"][0]
    assert eps["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert [(e["addresses"], e["conditions"]["ready"]) for e in eps["endpoints"]] == [
        (["10.244.0.5"], True), (["10.244.0.6"], False)]
    assert eps["metadata"]["ownerReferences"][0]["kind"] == "Service"
    raw.request("DELETE", f"/api/v1/namespaces/{ns}/endpoints/mirror")
    _, slices, _ = raw.request("GET", f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
                                      "?labelSelector=kubernetes.io%2Fservice-name%3Dmirror")
    assert slices["items"] == []


def test_attach_is_refused_with_a_reason(raw: Raw, ns: str) -> None:
    status, body, _ = raw.request("POST", f"/api/v1/namespaces/{ns}/pods/x/attach?stdout=true")
    assert status == 400
    assert "not supported by the sandbox" in body["message"]
    # exec is served (sandbox/tests/test_exec.py); a missing pod is the apiserver's 404
    status, body, _ = raw.request("POST", f"/api/v1/namespaces/{ns}/pods/no-such-pod/exec?command=ls")
    assert (status, body["message"]) == (404, 'pods "no-such-pod" not found')


def test_logs_previous_without_a_restart_is_refused(raw: Raw, ns: str, fleet: SandboxFleet) -> None:
    _running_pod(fleet, ns, "noprev", {"app": "noprev"})
    status, body, _ = raw.request("GET", f"/api/v1/namespaces/{ns}/pods/noprev/log?previous=true")
    assert status == 400
    assert body["message"].startswith("previous terminated container")
    status, body, _ = raw.request("GET", f"/api/v1/namespaces/{ns}/pods/noprev/log?limitBytes=5")
    assert (status, len(body)) == (200, 5)


def test_logs_since_time(raw: Raw, ns: str, fleet: SandboxFleet) -> None:
    _running_pod(fleet, ns, "since", {"app": "since"})
    status, body, _ = raw.request("GET", f"/api/v1/namespaces/{ns}/pods/since/log?sinceTime=2026-01-01T00:00:00Z")
    assert status == 200
    assert body
    status, body, _ = raw.request("GET", f"/api/v1/namespaces/{ns}/pods/since/log?sinceTime=yesterday")
    assert status == 400


def test_server_side_apply_through_python_client(api_client: Any, ns: str) -> None:
    apps = client.AppsV1Api(api_client)
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "applied", "namespace": ns},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "applied"}},
                     "template": {"metadata": {"labels": {"app": "applied"}},
                                  "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}}

    def apply(**kwargs: Any) -> Any:
        api_client.set_default_header("Content-Type", "application/apply-patch+yaml")
        try:
            return apps.patch_namespaced_deployment("applied", ns, body, field_manager="portal", **kwargs)
        finally:
            api_client.default_headers.pop("Content-Type", None)

    created = apply()
    assert created.metadata.managed_fields[0].manager == "portal"
    apps.patch_namespaced_deployment_scale("applied", ns, {"spec": {"replicas": 5}})
    with pytest.raises(ApiException) as exc:
        apply()
    assert exc.value.status == 409
    assert ".spec.replicas" in _status(exc.value)["message"]
    assert apply(force=True).spec.replicas == 2


def test_a_body_that_arrives_in_pieces_is_read_whole(raw: Raw, ns: str) -> None:
    """A request body sent in several writes (a large manifest spans many TLS records; a slow
    client sends it over time) is read to its end before it is decoded, as the API server reads
    it: reading what had arrived so far answered 400 with a truncated JSON document."""
    import http.client

    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "in-pieces"},
                       "data": {"payload": "x" * 40_000}}).encode()

    def pieces() -> Any:
        yield body[:100]
        time.sleep(0.3)  # the server has the first piece, and nothing more, for a while
        yield body[100:]

    conn = http.client.HTTPSConnection("127.0.0.1", raw.handle.port, context=raw.ctx, timeout=10)
    conn.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body=pieces(),
                 headers={"Authorization": f"Bearer {raw.handle.token}", "Content-Type": "application/json",
                          "Content-Length": str(len(body))})
    resp = conn.getresponse()
    answer = json.loads(resp.read())
    conn.close()
    assert resp.status == 201, answer
    status, stored, _ = raw.request("GET", f"/api/v1/namespaces/{ns}/configmaps/in-pieces")
    assert status == 200
    assert stored["data"]["payload"] == "x" * 40_000

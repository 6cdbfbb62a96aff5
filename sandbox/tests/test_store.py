"""Store semantics without HTTP: CRUD, conflicts, selectors, paging, GC, admission, patches and SSA."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.cluster import ClusterSpec, NodeConfig, SimCluster
from sandbox.errors import AlreadyExists, BadRequest, Conflict, Forbidden, Gone, Invalid, NotFound
from sandbox.quantity import parse_quantity
from sandbox.resources import (
    CONFIGMAPS,
    DEPLOYMENTS,
    LIMITRANGES,
    NAMESPACES,
    NODES,
    PODS,
    REPLICASETS,
    RESOURCEQUOTAS,
    SERVICEACCOUNTS,
    SERVICES,
)
from sandbox.store import Store


@pytest.fixture
def store() -> Store:
    return SimCluster(ClusterSpec("unit", nodes=NodeConfig(count=2)), enable_controllers=False).store


def pod(name: str, ns: str = "default", labels: dict[str, str] | None = None, **container: Any) -> dict[str, Any]:
    c = {"name": "app", "image": "nginx:1.27", **container}
    return {"metadata": {"name": name, "namespace": ns, "labels": labels or {}}, "spec": {"containers": [c]}}


def deployment(name: str, ns: str = "default", replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}}


def test_bootstrap_objects(store: Store) -> None:
    names = [n["metadata"]["name"] for n in store.list(NODES)[0]]
    assert names == ["unit-node-1", "unit-node-2"]
    node = store.get(NODES, None, "unit-node-1")
    assert node is not None
    assert node["status"]["capacity"]["pods"] == "110"
    assert node["metadata"]["labels"]["topology.kubernetes.io/zone"].endswith("-a")
    assert {n["metadata"]["name"] for n in store.list(NAMESPACES)[0]} >= {"default", "kube-system", "kube-public",
                                                                           "kube-node-lease"}
    assert store.get(SERVICES, "default", "kubernetes") is not None
    assert store.get(SERVICEACCOUNTS, "kube-system", "default") is not None


def test_reads_are_copies(store: Store) -> None:
    store.create(CONFIGMAPS, {"metadata": {"name": "c", "namespace": "default"}, "data": {"a": "1"}})
    got = store.get(CONFIGMAPS, "default", "c")
    assert got is not None
    got["data"]["a"] = "mutated"
    again = store.get(CONFIGMAPS, "default", "c")
    assert again is not None
    assert again["data"]["a"] == "1"


def test_create_update_conflict_and_generation(store: Store) -> None:
    d = store.create(DEPLOYMENTS, deployment("web"))
    assert d["metadata"]["generation"] == 1
    with pytest.raises(AlreadyExists, match=r'deployments\.apps "web" already exists'):
        store.create(DEPLOYMENTS, deployment("web"))
    d["spec"]["replicas"] = 3
    d2 = store.update(DEPLOYMENTS, d)
    assert d2["metadata"]["generation"] == 2
    assert int(d2["metadata"]["resourceVersion"]) > int(d["metadata"]["resourceVersion"])
    with pytest.raises(Conflict, match="the object has been modified"):
        store.update(DEPLOYMENTS, d)  # stale resourceVersion
    # status-only writes keep spec/generation, main writes ignore status
    d2["status"] = {"replicas": 3}
    d3 = store.update_status(DEPLOYMENTS, d2)
    assert d3["status"] == {"replicas": 3}
    assert d3["metadata"]["generation"] == 2
    d3["status"] = {"replicas": 99}
    d4 = store.update(DEPLOYMENTS, d3)
    assert d4["status"] == {"replicas": 3}
    # a no-op write commits nothing
    assert store.update(DEPLOYMENTS, d4)["metadata"]["resourceVersion"] == d4["metadata"]["resourceVersion"]


def test_validation_and_missing_namespace(store: Store) -> None:
    with pytest.raises(Invalid) as exc:
        store.create(PODS, {"metadata": {"name": "Bad_Name", "namespace": "default"}, "spec": {}})
    assert exc.value.details["causes"][0]["field"] == "metadata.name"
    assert "spec.containers: Required value" in exc.value.message
    with pytest.raises(Invalid, match="a valid label must be an empty string"):
        store.create(PODS, pod("p", labels={"app": "bad value!"}))
    with pytest.raises(NotFound, match='namespaces "nope" not found'):
        store.create(PODS, pod("p", ns="nope"))
    with pytest.raises(AlreadyExists):
        store.create(NAMESPACES, {"metadata": {"name": "default"}})


def test_selectors_and_paging(store: Store) -> None:
    for i in range(7):
        store.create(PODS, pod(f"p{i}", labels={"app": "web" if i % 2 else "db", "idx": str(i)}))
    names = lambda objs: [o["metadata"]["name"] for o in objs]  # noqa: E731
    assert names(store.list(PODS, "default", "app=web")[0]) == ["p1", "p3", "p5"]
    assert names(store.list(PODS, "default", "app==db,idx notin (0,2)")[0]) == ["p4", "p6"]
    assert names(store.list(PODS, "default", "app!=web,idx in (2,3)")[0]) == ["p2"]
    assert len(store.list(PODS, "default", "idx")[0]) == 7
    assert store.list(PODS, "default", "!idx")[0] == []
    assert names(store.list(PODS, None, field_selector="metadata.name=p3")[0]) == ["p3"]
    assert len(store.list(PODS, None, field_selector="status.phase=Pending,metadata.namespace=default")[0]) == 7
    with pytest.raises(BadRequest, match="field label not supported"):
        store.list(PODS, None, field_selector="spec.bogus=x")
    page = store.list_raw(PODS, "default", limit=3)
    assert len(page.items) == 3
    assert page.continue_token
    assert page.remaining == 4
    store.create(PODS, pod("p00"))  # not visible in the snapshot being paged
    seen = len(page.items)
    while page.continue_token:
        page = store.list_raw(PODS, "default", limit=3, continue_token=page.continue_token)
        seen += len(page.items)
    assert seen == 7


def test_delete_propagation(store: Store) -> None:
    d = store.create(DEPLOYMENTS, deployment("web"))
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": d["metadata"]["uid"],
             "controller": True}
    rs_body = deployment("web-1")
    rs_body["metadata"]["ownerReferences"] = [owner]
    rs = store.create(REPLICASETS, rs_body)
    p = pod("web-1-a", labels={"app": "web-1"})
    p["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
                                         "uid": rs["metadata"]["uid"], "controller": True}]
    store.create(PODS, p)
    store.delete(DEPLOYMENTS, "default", "web", propagation_policy="Foreground")
    assert store.get(REPLICASETS, "default", "web-1") is None
    assert store.get(PODS, "default", "web-1-a") is None
    # orphan keeps dependents and strips the owner reference
    d = store.create(DEPLOYMENTS, deployment("web"))
    rs_body["metadata"]["ownerReferences"] = [dict(owner, uid=d["metadata"]["uid"])]
    store.create(REPLICASETS, rs_body)
    store.delete(DEPLOYMENTS, "default", "web", propagation_policy="Orphan")
    left = store.get(REPLICASETS, "default", "web-1")
    assert left is not None
    assert "ownerReferences" not in left["metadata"]


def test_namespace_deletion_removes_contents(store: Store) -> None:
    store.create(NAMESPACES, {"metadata": {"name": "tmp"}})
    store.create(CONFIGMAPS, {"metadata": {"name": "c", "namespace": "tmp"}})
    store.delete(NAMESPACES, None, "tmp")
    assert store.get(CONFIGMAPS, "tmp", "c") is None
    assert store.get(NAMESPACES, None, "tmp") is None
    with pytest.raises(Forbidden, match="may not be deleted"):
        store.delete(NAMESPACES, None, "default")


def test_quota_messages_and_usage(store: Store) -> None:
    store.create(NAMESPACES, {"metadata": {"name": "q"}})
    store.create(RESOURCEQUOTAS, {"metadata": {"name": "compute", "namespace": "q"},
                                  "spec": {"hard": {"pods": "2", "limits.cpu": "1", "limits.memory": "1Gi"}}})
    with pytest.raises(Forbidden) as exc:
        store.create(PODS, pod("nolimits", ns="q"))
    assert exc.value.message == ('pods "nolimits" is forbidden: failed quota: compute: must specify '
                                 "limits.cpu for: app; limits.memory for: app")
    lim: dict[str, Any] = {"resources": {"limits": {"cpu": "400m", "memory": "256Mi"}}}
    store.create(PODS, pod("a", ns="q", **lim))
    store.create(PODS, pod("b", ns="q", **lim))
    quota = store.get(RESOURCEQUOTAS, "q", "compute")
    assert quota is not None
    assert quota["status"]["used"] == {"pods": "2", "limits.cpu": "800m", "limits.memory": "512Mi"}
    with pytest.raises(Forbidden) as exc:
        store.create(PODS, pod("c", ns="q", **lim))
    assert exc.value.message == ('pods "c" is forbidden: exceeded quota: compute, requested: limits.cpu=400m,'
                                 "pods=1, used: limits.cpu=800m,pods=2, limited: limits.cpu=1,pods=2")
    store.delete(PODS, "q", "b")
    quota = store.get(RESOURCEQUOTAS, "q", "compute")
    assert quota is not None
    assert quota["status"]["used"]["pods"] == "1"
    store.create(PODS, pod("c", ns="q", **lim))


def test_limitrange_defaults(store: Store) -> None:
    store.create(LIMITRANGES, {"metadata": {"name": "lr", "namespace": "default"},
                               "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
                                                    "defaultRequest": {"cpu": "100m"}}]}})
    p = store.create(PODS, pod("lr-pod"))
    res = p["spec"]["containers"][0]["resources"]
    assert res["limits"] == {"cpu": "500m", "memory": "256Mi"}
    assert res["requests"] == {"cpu": "100m", "memory": "256Mi"}
    assert "LimitRanger plugin set" in p["metadata"]["annotations"]["kubernetes.io/limit-ranger"]


def test_patch_types(store: Store) -> None:
    d = store.create(DEPLOYMENTS, deployment("web"))
    d["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox:1"})
    store.update(DEPLOYMENTS, d)
    smp = store.patch(DEPLOYMENTS, "default", "web", "application/strategic-merge-patch+json",
                      {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox:2",
                                                                       "env": [{"name": "A", "value": "1"}]}]}}}})
    cs = smp["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in cs] == ["app", "side"]
    assert cs[1]["image"] == "busybox:2"
    merge = store.patch(DEPLOYMENTS, "default", "web", "application/merge-patch+json",
                        {"metadata": {"labels": {"tier": "front"}}, "spec": {"replicas": 4}})
    assert merge["spec"]["replicas"] == 4
    assert merge["metadata"]["labels"] == {"tier": "front"}
    jp = store.patch(DEPLOYMENTS, "default", "web", "application/json-patch+json",
                     [{"op": "replace", "path": "/spec/replicas", "value": 2},
                      {"op": "remove", "path": "/metadata/labels/tier"}])
    assert jp["spec"]["replicas"] == 2
    assert not jp["metadata"].get("labels")
    with pytest.raises(Invalid):
        store.patch(DEPLOYMENTS, "default", "web", "application/json-patch+json",
                    [{"op": "test", "path": "/spec/replicas", "value": 5}])
    deleted = store.patch(DEPLOYMENTS, "default", "web", "application/strategic-merge-patch+json",
                          {"spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}})
    assert [c["name"] for c in deleted["spec"]["template"]["spec"]["containers"]] == ["app"]


def test_server_side_apply(store: Store) -> None:
    cfg: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa", "namespace": "default"},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "ssa"}},
                    "template": {"metadata": {"labels": {"app": "ssa"}},
                                 "spec": {"containers": [{"name": "app", "image": "nginx:1"}]}}}}
    created = store.patch(DEPLOYMENTS, "default", "ssa", "application/apply-patch+yaml", cfg, field_manager="alice")
    assert created["metadata"]["managedFields"][0]["manager"] == "alice"
    assert created["metadata"]["managedFields"][0]["operation"] == "Apply"
    store.patch(DEPLOYMENTS, "default", "ssa", "application/merge-patch+json", {"spec": {"replicas": 5}},
                field_manager="hpa")
    with pytest.raises(Conflict) as exc:
        store.patch(DEPLOYMENTS, "default", "ssa", "application/apply-patch+yaml", cfg, field_manager="alice")
    assert exc.value.message.startswith('Apply failed with 1 conflict: conflict with "hpa" using apps/v1')
    assert exc.value.message.endswith(": .spec.replicas")
    assert exc.value.details["causes"][0] == {"type": "FieldManagerConflict", "field": ".spec.replicas",
                                              "message": exc.value.details["causes"][0]["message"]}
    forced = store.patch(DEPLOYMENTS, "default", "ssa", "application/apply-patch+yaml", cfg, field_manager="alice",
                         force=True)
    assert forced["spec"]["replicas"] == 2
    assert [m["manager"] for m in forced["metadata"]["managedFields"]] == ["alice"]
    # fields a manager stops applying are removed
    cfg2: dict[str, Any] = {**cfg, "metadata": {"name": "ssa", "labels": {"team": "a"}}}
    store.patch(DEPLOYMENTS, "default", "ssa", "application/apply-patch+yaml", cfg2, field_manager="alice")
    del cfg2["metadata"]["labels"]
    out = store.patch(DEPLOYMENTS, "default", "ssa", "application/apply-patch+yaml", cfg2, field_manager="alice")
    assert "team" not in (out["metadata"].get("labels") or {})
    # a second manager applying the same value shares ownership without conflict
    store.patch(DEPLOYMENTS, "default", "ssa", "application/apply-patch+yaml",
                {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa"},
                 "spec": {"replicas": 2}}, field_manager="bob")


def test_watch_history_window_and_gone(store: Store) -> None:
    small = Store(history_size=5)
    small.create(NAMESPACES, {"metadata": {"name": "default"}})
    start = small.resource_version
    for i in range(3):
        small.create(CONFIGMAPS, {"metadata": {"name": f"c{i}", "namespace": "default"}})
    w = small.watch(CONFIGMAPS, resource_version=str(start))
    assert w.queue.qsize() == 3
    w.close()
    for i in range(3, 10):
        small.create(CONFIGMAPS, {"metadata": {"name": f"c{i}", "namespace": "default"}})
    with pytest.raises(Gone, match="too old resource version"):
        small.watch(CONFIGMAPS, resource_version=str(start))
    # The window is per kind, as the apiserver's watch cache keeps it: a quiet kind resumes from
    # its old version while another kind churns, and sees what happened to it since.
    small.create(NAMESPACES, {"metadata": {"name": "later"}})
    w = small.watch(NAMESPACES, resource_version=str(start))
    assert w.queue.qsize() == 1
    w.close()
    small.expire_history()
    with pytest.raises(Gone):
        small.watch(NAMESPACES, resource_version=str(start))


def test_subscribers_see_commits_in_order(store: Store) -> None:
    seen: list[tuple[str, str]] = []

    def cb(event: str, rt: Any, obj: dict[str, Any]) -> None:
        seen.append((event, obj["metadata"]["name"]))
        if event == "ADDED" and obj["metadata"]["name"] == "first":
            store.create(CONFIGMAPS, {"metadata": {"name": "second", "namespace": "default"}})

    unsubscribe = store.subscribe(cb)
    store.create(CONFIGMAPS, {"metadata": {"name": "first", "namespace": "default"}})
    unsubscribe()
    store.create(CONFIGMAPS, {"metadata": {"name": "third", "namespace": "default"}})
    assert seen == [("ADDED", "first"), ("ADDED", "second")]


def test_quantities() -> None:
    assert str(parse_quantity("0.5")) == "500m"
    assert str(parse_quantity("1536Mi")) == "1536Mi"
    assert str(parse_quantity("1000")) == "1k"
    assert parse_quantity("1e3").value == 1000
    assert parse_quantity("1Gi").value == 1024**3
    assert parse_quantity("100m").milli == 100
    with pytest.raises(ValueError):
        parse_quantity("abc")


def test_quota_follows_pod_phase_only_when_it_matters(store: Store) -> None:
    store.create(NAMESPACES, {"metadata": {"name": "qp"}})
    store.create(RESOURCEQUOTAS, {"metadata": {"name": "q", "namespace": "qp"}, "spec": {"hard": {"pods": "1"}}})
    store.create(PODS, pod("a", ns="qp"))
    quota_rv = store.get(RESOURCEQUOTAS, "qp", "q")["metadata"]["resourceVersion"]  # type: ignore[index]
    store.mutate(PODS, "qp", "a", lambda p: p.__setitem__("status", {"phase": "Running"}), subresource="status")
    assert store.get(RESOURCEQUOTAS, "qp", "q")["metadata"]["resourceVersion"] == quota_rv  # type: ignore[index]
    with pytest.raises(Forbidden, match="exceeded quota"):
        store.create(PODS, pod("b", ns="qp"))
    store.mutate(PODS, "qp", "a", lambda p: p.__setitem__("status", {"phase": "Succeeded"}), subresource="status")
    assert store.get(RESOURCEQUOTAS, "qp", "q")["status"]["used"] == {"pods": "0"}  # type: ignore[index]
    store.create(PODS, pod("b", ns="qp"))


def test_apply_removes_list_items_it_stops_applying(store: Store) -> None:
    def cfg(names: list[str], env: list[dict[str, str]]) -> dict[str, Any]:
        cs: list[dict[str, Any]] = [{"name": n, "image": f"img:{n}"} for n in names]
        cs[0]["env"] = env
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"a": "b"}},
                         "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": cs}}}}

    apply = "application/apply-patch+yaml"
    store.patch(DEPLOYMENTS, "default", "d", apply,
                cfg(["a", "b"], [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]), field_manager="m")
    out = store.patch(DEPLOYMENTS, "default", "d", apply, cfg(["a"], [{"name": "X", "value": "1"}]),
                      field_manager="m")
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["env"]) for c in containers] == [("a", [{"name": "X", "value": "1"}])]
    # an item added by another manager survives the next apply
    store.patch(DEPLOYMENTS, "default", "d", "application/strategic-merge-patch+json",
                {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "s:1"}]}}}},
                field_manager="other")
    out = store.patch(DEPLOYMENTS, "default", "d", apply, cfg(["a"], [{"name": "X", "value": "1"}]),
                      field_manager="m")
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["a", "side"]


def test_watch_selector_transitions(store: Store) -> None:
    store.create(CONFIGMAPS, {"metadata": {"name": "m", "namespace": "default", "labels": {"tier": "a"}}})
    w = store.watch(CONFIGMAPS, namespace="default", label_selector="tier=a",
                    resource_version=str(store.resource_version))
    store.patch(CONFIGMAPS, "default", "m", "application/merge-patch+json", {"metadata": {"labels": {"tier": "b"}}})
    store.patch(CONFIGMAPS, "default", "m", "application/merge-patch+json", {"metadata": {"labels": {"tier": "a"}}})
    store.patch(CONFIGMAPS, "default", "m", "application/merge-patch+json", {"data": {"x": "1"}})
    store.delete(CONFIGMAPS, "default", "m")
    seen = []
    while not w.queue.empty():
        item = w.queue.get_nowait()
        assert item is not None
        seen.append(item[0])
    assert seen == ["DELETED", "ADDED", "MODIFIED", "DELETED"]
    w.close()


def test_immutable_fields_and_quota_on_update(store: Store) -> None:
    d = store.create(DEPLOYMENTS, deployment("imm"))
    d["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    d["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(Invalid, match=r"spec\.selector: Invalid value: .*field is immutable"):
        store.update(DEPLOYMENTS, d)
    cm = store.create(CONFIGMAPS, {"metadata": {"name": "frozen", "namespace": "default"}, "data": {"a": "1"},
                                   "immutable": True})
    cm["data"]["a"] = "2"
    with pytest.raises(Invalid, match="field is immutable when `immutable` is set"):
        store.update(CONFIGMAPS, cm)
    svc = store.create(SERVICES, {"metadata": {"name": "s", "namespace": "default"},
                                  "spec": {"ports": [{"port": 80}]}})
    svc["spec"]["clusterIP"] = "10.96.99.99"
    svc["spec"]["clusterIPs"] = ["10.96.99.99"]
    with pytest.raises(Invalid, match="may not change once set"):
        store.update(SERVICES, svc)
    store.create(RESOURCEQUOTAS, {"metadata": {"name": "lb", "namespace": "default"},
                                  "spec": {"hard": {"services.loadbalancers": "0"}}})
    with pytest.raises(Forbidden, match=r"exceeded quota: lb, requested: services\.loadbalancers=1"):
        store.patch(SERVICES, "default", "s", "application/merge-patch+json", {"spec": {"type": "LoadBalancer"}})

"""ResourceQuota admission for claims and services: per-storage-class keys, object counts and zero hard limits."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.cluster import ClusterSpec, NodeConfig, SimCluster
from sandbox.controllers import ControllerManager
from sandbox.errors import Forbidden
from sandbox.resources import (
    CONFIGMAPS,
    NAMESPACES,
    PERSISTENTVOLUMECLAIMS,
    PERSISTENTVOLUMES,
    RESOURCEQUOTAS,
    SERVICES,
    STORAGECLASSES,
)
from sandbox.store import Store
from sandbox.tests.helpers import wait_for

FAST = "fast.storageclass.storage.k8s.io/"
STANDARD = "standard.storageclass.storage.k8s.io/"


@pytest.fixture
def store() -> Store:
    s = SimCluster(ClusterSpec("unit", nodes=NodeConfig(count=1)), enable_controllers=False).store
    s.create(NAMESPACES, {"metadata": {"name": "portal"}})
    return s


def pvc(name: str, size: str, storage_class: str | None = None, ns: str = "portal",
        annotations: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    md: dict[str, Any] = {"name": name, "namespace": ns}
    if annotations:
        md["annotations"] = annotations
    return {"metadata": md, "spec": spec}


def quota(name: str, hard: dict[str, str], ns: str = "portal") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"hard": hard}}


def used(store: Store, name: str, ns: str = "portal") -> dict[str, str]:
    q = store.get(RESOURCEQUOTAS, ns, name)
    assert q is not None
    return dict(q["status"]["used"])


def test_storage_class_quota_refuses_with_the_apiserver_message(store: Store) -> None:
    store.create(RESOURCEQUOTAS, quota("portal-quota", {FAST + "requests.storage": "0"}))
    with pytest.raises(Forbidden) as exc:
        store.create(PERSISTENTVOLUMECLAIMS, pvc("data", "5Gi", "fast"))
    assert exc.value.code == 403
    assert exc.value.message == (
        'persistentvolumeclaims "data" is forbidden: exceeded quota: portal-quota, '
        "requested: fast.storageclass.storage.k8s.io/requests.storage=5Gi, "
        "used: fast.storageclass.storage.k8s.io/requests.storage=0, "
        "limited: fast.storageclass.storage.k8s.io/requests.storage=0")
    # other classes, "" (static binding) and claims naming no class are not charged to "fast"
    store.create(PERSISTENTVOLUMECLAIMS, pvc("slow", "5Gi", "standard"))
    store.create(PERSISTENTVOLUMECLAIMS, pvc("static", "5Gi", ""))
    store.create(PERSISTENTVOLUMECLAIMS, pvc("plain", "5Gi"))
    assert used(store, "portal-quota") == {FAST + "requests.storage": "0"}
    assert store.get(PERSISTENTVOLUMECLAIMS, "portal", "data") is None


def test_storage_class_usage_and_limits(store: Store) -> None:
    store.create(RESOURCEQUOTAS, quota("storage", {
        STANDARD + "requests.storage": "10Gi", STANDARD + "persistentvolumeclaims": "2",
        FAST + "persistentvolumeclaims": "1", "persistentvolumeclaims": "5", "requests.storage": "100Gi"}))
    assert used(store, "storage") == {STANDARD + "requests.storage": "0", STANDARD + "persistentvolumeclaims": "0",
                                      FAST + "persistentvolumeclaims": "0", "persistentvolumeclaims": "0",
                                      "requests.storage": "0"}
    store.create(PERSISTENTVOLUMECLAIMS, pvc("a", "4Gi", "standard"))
    store.create(PERSISTENTVOLUMECLAIMS, pvc("b", "3Gi"))
    assert used(store, "storage") == {STANDARD + "requests.storage": "4Gi", STANDARD + "persistentvolumeclaims": "1",
                                      FAST + "persistentvolumeclaims": "0", "persistentvolumeclaims": "2",
                                      "requests.storage": "7Gi"}
    with pytest.raises(Forbidden) as exc:
        store.create(PERSISTENTVOLUMECLAIMS, pvc("c", "7Gi", "standard"))
    assert exc.value.message == (
        'persistentvolumeclaims "c" is forbidden: exceeded quota: storage, '
        "requested: standard.storageclass.storage.k8s.io/requests.storage=7Gi, "
        "used: standard.storageclass.storage.k8s.io/requests.storage=4Gi, "
        "limited: standard.storageclass.storage.k8s.io/requests.storage=10Gi")
    # the beta annotation names the class too (and wins over the spec, as in the apiserver)
    store.create(PERSISTENTVOLUMECLAIMS, pvc("c", "6Gi", "fast",
                                             annotations={"volume.beta.kubernetes.io/storage-class": "standard"}))
    assert used(store, "storage")[STANDARD + "requests.storage"] == "10Gi"
    assert used(store, "storage")[FAST + "persistentvolumeclaims"] == "0"
    with pytest.raises(Forbidden) as exc:
        store.create(PERSISTENTVOLUMECLAIMS, pvc("d", "1Mi", "standard"))
    assert exc.value.message == (
        'persistentvolumeclaims "d" is forbidden: exceeded quota: storage, '
        "requested: standard.storageclass.storage.k8s.io/persistentvolumeclaims=1,"
        "standard.storageclass.storage.k8s.io/requests.storage=1Mi, "
        "used: standard.storageclass.storage.k8s.io/persistentvolumeclaims=2,"
        "standard.storageclass.storage.k8s.io/requests.storage=10Gi, "
        "limited: standard.storageclass.storage.k8s.io/persistentvolumeclaims=2,"
        "standard.storageclass.storage.k8s.io/requests.storage=10Gi")
    store.create(PERSISTENTVOLUMECLAIMS, pvc("d", "1Gi", "fast"))
    with pytest.raises(Forbidden, match=r"exceeded quota: storage, requested: "
                                        r"fast\.storageclass\.storage\.k8s\.io/persistentvolumeclaims=1,"):
        store.create(PERSISTENTVOLUMECLAIMS, pvc("e", "1Gi", "fast"))
    # an update moving a claim into a full class is refused like a create
    with pytest.raises(Forbidden, match=r'persistentvolumeclaims "b" is forbidden: exceeded quota: storage, '
                                        r"requested: standard\.storageclass\.storage\.k8s\.io/persistentvolumeclaims=1"):
        store.mutate(PERSISTENTVOLUMECLAIMS, "portal", "b", lambda c: c["spec"].__setitem__("storageClassName",
                                                                                            "standard"))
    store.delete(PERSISTENTVOLUMECLAIMS, "portal", "a")
    assert used(store, "storage") == {STANDARD + "requests.storage": "6Gi", STANDARD + "persistentvolumeclaims": "1",
                                      FAST + "persistentvolumeclaims": "1", "persistentvolumeclaims": "3",
                                      "requests.storage": "10Gi"}
    store.create(PERSISTENTVOLUMECLAIMS, pvc("f", "4Gi", "standard"))


def test_quota_created_after_claims_counts_them(store: Store) -> None:
    store.create(PERSISTENTVOLUMECLAIMS, pvc("a", "1Gi", "fast"))
    store.create(PERSISTENTVOLUMECLAIMS, pvc("b", "500Mi", "fast"))
    store.create(PERSISTENTVOLUMECLAIMS, pvc("other", "1Gi", "fast", ns="default"))
    store.create(RESOURCEQUOTAS, quota("late", {FAST + "requests.storage": "2Gi", FAST + "persistentvolumeclaims": "2"}))
    assert used(store, "late") == {FAST + "requests.storage": "1524Mi", FAST + "persistentvolumeclaims": "2"}
    with pytest.raises(Forbidden, match="exceeded quota: late"):
        store.create(PERSISTENTVOLUMECLAIMS, pvc("c", "1Mi", "fast"))


def test_zero_hard_limits_block_creation(store: Store) -> None:
    store.create(RESOURCEQUOTAS, quota("none", {"persistentvolumeclaims": "0", "services.loadbalancers": "0",
                                                "count/configmaps": "0"}))
    with pytest.raises(Forbidden) as exc:
        store.create(PERSISTENTVOLUMECLAIMS, pvc("data", "1Gi"))
    assert exc.value.message == ('persistentvolumeclaims "data" is forbidden: exceeded quota: none, '
                                 "requested: persistentvolumeclaims=1, used: persistentvolumeclaims=0, "
                                 "limited: persistentvolumeclaims=0")
    with pytest.raises(Forbidden) as exc:
        store.create(SERVICES, {"metadata": {"name": "lb", "namespace": "portal"},
                                "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    assert exc.value.message == ('services "lb" is forbidden: exceeded quota: none, '
                                 "requested: services.loadbalancers=1, used: services.loadbalancers=0, "
                                 "limited: services.loadbalancers=0")
    # (the namespace already holds kube-root-ca.crt, published before the quota existed)
    with pytest.raises(Forbidden, match=r'configmaps "c" is forbidden: exceeded quota: none, '
                                        r"requested: count/configmaps=1, used: count/configmaps=1, "
                                        r"limited: count/configmaps=0"):
        store.create(CONFIGMAPS, {"metadata": {"name": "c", "namespace": "portal"}})
    store.create(SERVICES, {"metadata": {"name": "internal", "namespace": "portal"},
                            "spec": {"ports": [{"port": 80}]}})  # a ClusterIP service is not a load balancer
    assert used(store, "none") == {"persistentvolumeclaims": "0", "services.loadbalancers": "0",
                                   "count/configmaps": "1"}


def test_claim_and_load_balancer_counts(store: Store) -> None:
    store.create(RESOURCEQUOTAS, quota("counts", {"persistentvolumeclaims": "2", "services.loadbalancers": "1",
                                                  "services": "3", "services.nodeports": "2"}))
    store.create(PERSISTENTVOLUMECLAIMS, pvc("a", "1Gi"))
    store.create(PERSISTENTVOLUMECLAIMS, pvc("b", "1Gi", "fast"))
    with pytest.raises(Forbidden, match=r"requested: persistentvolumeclaims=1, used: persistentvolumeclaims=2, "
                                        r"limited: persistentvolumeclaims=2"):
        store.create(PERSISTENTVOLUMECLAIMS, pvc("c", "1Gi"))
    store.create(SERVICES, {"metadata": {"name": "lb", "namespace": "portal"},
                            "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    store.create(SERVICES, {"metadata": {"name": "ip", "namespace": "portal"}, "spec": {"ports": [{"port": 80}]}})
    assert used(store, "counts") == {"persistentvolumeclaims": "2", "services.loadbalancers": "1", "services": "2",
                                     "services.nodeports": "1"}
    with pytest.raises(Forbidden, match=r"requested: services\.loadbalancers=1, used: services\.loadbalancers=1, "
                                        r"limited: services\.loadbalancers=1"):
        store.create(SERVICES, {"metadata": {"name": "lb2", "namespace": "portal"},
                                "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    store.delete(SERVICES, "portal", "lb")
    store.delete(PERSISTENTVOLUMECLAIMS, "portal", "a")
    assert used(store, "counts") == {"persistentvolumeclaims": "1", "services.loadbalancers": "0", "services": "1",
                                     "services.nodeports": "0"}
    store.create(SERVICES, {"metadata": {"name": "lb2", "namespace": "portal"},
                            "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    store.create(PERSISTENTVOLUMECLAIMS, pvc("c", "1Gi"))


async def test_default_class_is_assigned_by_an_admitted_update(sim: tuple[SimCluster, ControllerManager]) -> None:
    c, _ = sim
    s = c.store
    s.create(NAMESPACES, {"metadata": {"name": "portal"}})
    s.create(RESOURCEQUOTAS, quota("std", {STANDARD + "requests.storage": "3Gi", STANDARD + "persistentvolumeclaims": "5"}))

    def claim(name: str) -> dict[str, Any]:
        return s.get(PERSISTENTVOLUMECLAIMS, "portal", name) or {}

    # the sandbox does not default storageClassName on create: the PV controller writes the default class later
    s.create(PERSISTENTVOLUMECLAIMS, pvc("small", "2Gi"))
    await wait_for(lambda: claim("small").get("status", {}).get("phase") == "Bound", what="small bound")
    assert claim("small")["spec"]["storageClassName"] == "standard"
    await wait_for(lambda: used(s, "std") == {STANDARD + "requests.storage": "2Gi",
                                              STANDARD + "persistentvolumeclaims": "1"}, what="usage of the class")
    # a claim that does not fit gets no class and no volume: the assignment is refused by the quota
    s.create(PERSISTENTVOLUMECLAIMS, pvc("big", "2Gi"))
    with pytest.raises(AssertionError):
        await wait_for(lambda: claim("big")["spec"].get("storageClassName"), timeout=0.5)
    assert claim("big")["status"]["phase"] == "Pending"
    assert s.get(PERSISTENTVOLUMES, None, f"pvc-{claim('big')['metadata']['uid']}") is None
    assert used(s, "std")[STANDARD + "requests.storage"] == "2Gi"
    # naming the class explicitly is refused at once
    with pytest.raises(Forbidden, match=r"exceeded quota: std, requested: "
                                        r"standard\.storageclass\.storage\.k8s\.io/requests\.storage=2Gi, "
                                        r"used: standard\.storageclass\.storage\.k8s\.io/requests\.storage=2Gi, "
                                        r"limited: standard\.storageclass\.storage\.k8s\.io/requests\.storage=3Gi"):
        s.create(PERSISTENTVOLUMECLAIMS, pvc("named", "2Gi", "standard"))
    s.create(STORAGECLASSES, {"metadata": {"name": "fast"}, "provisioner": "sandbox.k8s.io/hostpath"})
    s.create(PERSISTENTVOLUMECLAIMS, pvc("quick", "2Gi", "fast"))
    await wait_for(lambda: claim("quick").get("status", {}).get("phase") == "Bound", what="fast claim bound")


def test_limit_range_default_request_may_not_exceed_the_default_limit(store: Store) -> None:
    from sandbox.errors import Invalid
    from sandbox.resources import LIMITRANGES

    bad = {"metadata": {"name": "limits", "namespace": "portal"}, "spec": {"limits": [
        {"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "1"}}]}}
    with pytest.raises(Invalid) as exc:
        store.create(LIMITRANGES, bad)
    assert "default request value 1 must be less than or equal to default limit value 500m" in str(exc.value)
    good = {"metadata": {"name": "limits", "namespace": "portal"}, "spec": {"limits": [
        {"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"}}]}}
    store.create(LIMITRANGES, good)


def test_usage_recounts_only_what_a_change_counts_towards(store: Store) -> None:
    """A change recounts the keys its resource counts towards and keeps the others (as the
    apiserver's evaluators do): the quota ends where a full recount would, and a change of a
    resource the quota does not count leaves it alone."""
    from sandbox import admission
    from sandbox.resources import PODS, SECRETS

    hard = {"pods": "10", "requests.cpu": "4", "services": "5", "count/configmaps": "9",
            "persistentvolumeclaims": "3"}
    store.create(RESOURCEQUOTAS, quota("portal-quota", hard))
    store.create(SERVICES, {"metadata": {"name": "web", "namespace": "portal"},
                            "spec": {"ports": [{"port": 80}]}})
    for i in range(2):
        store.create(PODS, {"metadata": {"name": f"p{i}", "namespace": "portal"},
                            "spec": {"containers": [{"name": "c", "image": "nginx",
                                                     "resources": {"requests": {"cpu": "250m"}}}]}})
    store.create(CONFIGMAPS, {"metadata": {"name": "conf", "namespace": "portal"}, "data": {}})
    store.delete(PODS, "portal", "p0")
    configmaps = len(store.list(CONFIGMAPS, "portal")[0])  # ours and kube-root-ca.crt
    assert used(store, "portal-quota") == {"pods": "1", "requests.cpu": "250m", "services": "1",
                                           "count/configmaps": str(configmaps), "persistentvolumeclaims": "0"}
    assert used(store, "portal-quota") == admission._format_usage(admission._usage(store, "portal", set(hard)), hard)

    before = store.get(RESOURCEQUOTAS, "portal", "portal-quota")
    assert before is not None
    store.create(SECRETS, {"metadata": {"name": "s", "namespace": "portal"}, "data": {}})
    after = store.get(RESOURCEQUOTAS, "portal", "portal-quota")
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]

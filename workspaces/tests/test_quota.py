"""Unit tests of workspaces.quota: parsing, canonical forms, arithmetic and what manifests take."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from workspaces import quota as q

D = Decimal
GI = 1024**3
MI = 1024**2
DEFAULTS = {"default_request": {"cpu": "100m", "memory": "128Mi"}, "default": {"cpu": "500m", "memory": "512Mi"}}


# ---------------------------------------------------------------------------- parse


@pytest.mark.parametrize(("key", "text", "value"), [
    ("requests.cpu", "500m", D("0.5")),
    ("requests.cpu", "2", D(2)),
    ("limits.cpu", "1.5", D("1.5")),
    ("requests.memory", "4Gi", D(4 * GI)),
    ("limits.memory", "512Mi", D(512 * MI)),
    ("pods", "20", D(20)),
    ("services", "0", D(0)),
    ("requests.storage", "100Gi", D(100 * GI)),
    ("fast.storageclass.storage.k8s.io/requests.storage", "10Gi", D(10 * GI)),
    ("fast-ssd.storageclass.storage.k8s.io/persistentvolumeclaims", "3", D(3)),
    ("pods", 7, D(7)),  # a JSON number is a quantity too
])
def test_parse_accepts_quantities(key: str, text: Any, value: Decimal) -> None:
    assert q.parse({key: text}) == {key: value}


def test_parse_accepts_several_keys_and_empty() -> None:
    assert q.parse({}) == {}
    parsed = q.parse({"requests.cpu": "8", "requests.memory": "16Gi", "pods": "100"})
    assert parsed == {"requests.cpu": D(8), "requests.memory": D(16 * GI), "pods": D(100)}


@pytest.mark.parametrize(("key", "text", "words"), [
    ("requests.cpu", "2 cores", "not a Kubernetes quantity"),
    ("requests.memory", "-1Gi", "not a Kubernetes quantity"),
    ("requests.cpu", "1e400", "out of range"),
    ("requests.cpu", "", "not a Kubernetes quantity"),
    ("requests.cpu", "abc", "not a Kubernetes quantity"),
    ("requests.cpu", None, "not a Kubernetes quantity"),
    ("requests.cpu", True, "not a Kubernetes quantity"),
    ("requests.cpu", ["2"], "not a Kubernetes quantity"),
    ("pods", "1.5", "whole number"),
    ("pods", "500m", "whole number"),
    ("fast.storageclass.storage.k8s.io/persistentvolumeclaims", "2.5", "whole number"),
    ("cpu", "2", "Unknown quota key"),
    ("requests.gpu", "1", "Unknown quota key"),
    ("count/deployments.apps", "1", "Unknown quota key"),
    ("fast.storageclass.storage.k8s.io/limits.storage", "1Gi", "Unknown quota key"),
])
def test_parse_refuses_with_the_key_named(key: str, text: Any, words: str) -> None:
    with pytest.raises(q.QuotaError) as info:
        q.parse({key: text})
    assert list(info.value.errors) == [f"quota.{key}"]
    assert words in info.value.errors[f"quota.{key}"]


def test_parse_reports_every_bad_key_at_once_and_uses_the_field_prefix() -> None:
    with pytest.raises(q.QuotaError) as info:
        q.parse({"requests.cpu": "2 cores", "pods": "3", "nope": "1"}, field="limits")
    assert set(info.value.errors) == {"limits.requests.cpu", "limits.nope"}
    assert "limits.requests.cpu" in str(info.value)


@pytest.mark.parametrize("raw", [None, [], "requests.cpu=2", 3, [("pods", "2")]])
def test_parse_refuses_non_objects(raw: Any) -> None:
    with pytest.raises(q.QuotaError) as info:
        q.parse(raw)
    assert list(info.value.errors) == ["quota"]


def test_keys_classification() -> None:
    assert q.storage_class_of("fast.storageclass.storage.k8s.io/requests.storage") == "fast"
    assert q.storage_class_of("requests.storage") is None
    assert q.is_count("pods")
    assert q.is_count("x.storageclass.storage.k8s.io/persistentvolumeclaims")
    assert not q.is_count("requests.cpu")
    assert q.is_bytes("requests.memory")
    assert q.is_bytes("x.storageclass.storage.k8s.io/requests.storage")
    assert not q.is_bytes("limits.cpu")


# ---------------------------------------------------------------------------- canonical forms


@pytest.mark.parametrize(("key", "value", "text"), [
    ("requests.cpu", D("1.5"), "1500m"),
    ("requests.cpu", D(2), "2"),
    ("requests.cpu", D("2.000"), "2"),
    ("limits.cpu", D("0.1"), "100m"),
    ("requests.cpu", D(0), "0"),
    ("requests.memory", D(16 * GI), "16Gi"),
    ("requests.memory", D(1536 * MI), "1536Mi"),
    ("limits.memory", D(1024 * GI), "1Ti"),
    ("requests.memory", D(1024), "1Ki"),
    ("requests.memory", D(1000), "1000"),
    ("requests.memory", D(0), "0"),
    ("requests.storage", D(10 * GI), "10Gi"),
    ("fast.storageclass.storage.k8s.io/requests.storage", D(5 * GI), "5Gi"),
    ("pods", D(20), "20"),
    ("pods", D("20.0"), "20"),
    ("services", D(0), "0"),
])
def test_fmt(key: str, value: Decimal, text: str) -> None:
    assert q.fmt(key, value) == text


def test_round_trip_through_parse_and_dump_is_canonical() -> None:
    raw = {"requests.cpu": "1500m", "limits.cpu": "2000m", "requests.memory": "1024Mi", "pods": "10",
           "requests.storage": "0.5Gi"}
    assert q.dump(q.parse(raw)) == {"limits.cpu": "2", "pods": "10", "requests.cpu": "1500m",
                                    "requests.memory": "1Gi", "requests.storage": "512Mi"}
    assert list(q.dump(q.parse(raw))) == sorted(raw)
    assert q.load(q.dump(q.parse(raw))) == q.parse(raw)


def test_load_skips_garbage() -> None:
    assert q.load({"requests.cpu": "2", "pods": "lots"}) == {"requests.cpu": D(2)}
    assert q.load(None) == {}


def test_add_subtract_human() -> None:
    a = {"requests.cpu": D("1.5"), "pods": D(3)}
    b = {"requests.cpu": D("0.5"), "requests.memory": D(GI)}
    assert q.add(a, b) == {"requests.cpu": D(2), "pods": D(3), "requests.memory": D(GI)}
    assert q.add() == {}
    assert q.subtract(a, b) == {"requests.cpu": D(1), "pods": D(3)}  # only a's keys
    assert q.subtract(b, a) == {"requests.cpu": D("-1"), "requests.memory": D(GI)}
    assert q.human("requests.cpu", D("-1.5")) == "-1500m"
    assert q.human("requests.memory", D(GI)) == "1Gi"


# ---------------------------------------------------------------------------- object_use


def container(name: str = "app", requests: dict[str, str] | None = None,
              limits: dict[str, str] | None = None) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "image": "nginx", "resources": resources}


def pod_spec(*containers: dict[str, Any], init: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": list(containers)}
    if init:
        spec["initContainers"] = init
    return spec


def use(obj: dict[str, Any], defaults: Any = None, ready_nodes: int = 3, default_class: str = "") -> dict[str, str]:
    return q.dump(q.object_use(obj, defaults=defaults if defaults is not None else {}, ready_nodes=ready_nodes,
                               default_storage_class=default_class))


FULL = container(requests={"cpu": "200m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "512Mi"})


def test_bare_pod() -> None:
    assert use({"kind": "Pod", "spec": pod_spec(FULL)}) == {
        "pods": "1", "requests.cpu": "200m", "requests.memory": "256Mi", "limits.cpu": "1",
        "limits.memory": "512Mi"}


def test_deployment_times_replicas() -> None:
    obj = {"kind": "Deployment", "spec": {"replicas": 3, "template": {"spec": pod_spec(FULL, FULL)}}}
    assert use(obj) == {"pods": "3", "requests.cpu": "1200m", "requests.memory": "1536Mi", "limits.cpu": "6",
                        "limits.memory": "3Gi"}


def test_deployment_without_replicas_is_one_and_zero_is_zero() -> None:
    one = {"kind": "Deployment", "spec": {"template": {"spec": pod_spec(FULL)}}}
    assert use(one)["pods"] == "1"
    zero = {"kind": "Deployment", "spec": {"replicas": 0, "template": {"spec": pod_spec(FULL)}}}
    assert use(zero) == {"pods": "0", "requests.cpu": "0", "requests.memory": "0", "limits.cpu": "0",
                         "limits.memory": "0"}


@pytest.mark.parametrize("kind", ["StatefulSet", "ReplicaSet", "ReplicationController"])
def test_other_replicated_owners(kind: str) -> None:
    obj = {"kind": kind, "spec": {"replicas": 2, "template": {"spec": pod_spec(FULL)}}}
    assert use(obj)["pods"] == "2"
    assert use(obj)["requests.cpu"] == "400m"


def test_daemonset_times_ready_nodes() -> None:
    obj = {"kind": "DaemonSet", "spec": {"template": {"spec": pod_spec(FULL)}}}
    assert use(obj, ready_nodes=4) == {"pods": "4", "requests.cpu": "800m", "requests.memory": "1Gi",
                                       "limits.cpu": "4", "limits.memory": "2Gi"}
    assert use(obj, ready_nodes=0)["pods"] == "0"


def test_job_times_parallelism() -> None:
    job = {"kind": "Job", "spec": {"parallelism": 3, "template": {"spec": pod_spec(FULL)}}}
    assert use(job)["pods"] == "3"
    assert use(job)["requests.cpu"] == "600m"
    single = {"kind": "Job", "spec": {"template": {"spec": pod_spec(FULL)}}}
    assert use(single)["pods"] == "1"


def test_cronjob_counts_one_run() -> None:
    obj = {"kind": "CronJob", "spec": {"schedule": "* * * * *", "jobTemplate": {
        "spec": {"parallelism": 2, "template": {"spec": pod_spec(FULL)}}}}}
    assert use(obj)["pods"] == "2"
    assert use(obj)["limits.memory"] == "1Gi"


def test_limitrange_defaults_for_containers_without_resources() -> None:
    obj = {"kind": "Pod", "spec": pod_spec({"name": "bare", "image": "nginx"})}
    assert use(obj, DEFAULTS) == {"pods": "1", "requests.cpu": "100m", "requests.memory": "128Mi",
                                  "limits.cpu": "500m", "limits.memory": "512Mi"}
    # Without a LimitRange nothing but the pod is counted.
    assert use(obj) == {"pods": "1"}


def test_defaults_fill_only_what_is_missing() -> None:
    obj = {"kind": "Pod", "spec": pod_spec(container(requests={"cpu": "300m"}))}
    assert use(obj, DEFAULTS) == {"pods": "1", "requests.cpu": "300m", "requests.memory": "128Mi",
                                  "limits.cpu": "500m", "limits.memory": "512Mi"}


def test_limit_only_container_requests_its_limit() -> None:
    obj = {"kind": "Pod", "spec": pod_spec(container(limits={"cpu": "2", "memory": "1Gi"}))}
    expected = {"pods": "1", "requests.cpu": "2", "requests.memory": "1Gi", "limits.cpu": "2", "limits.memory": "1Gi"}
    assert use(obj) == expected
    assert use(obj, DEFAULTS) == expected  # the limit wins over the default request


def test_init_containers_count_as_their_maximum() -> None:
    small = container("small", requests={"cpu": "100m", "memory": "64Mi"})
    big_init = container("init", requests={"cpu": "1", "memory": "32Mi"})
    other_init = container("init2", requests={"cpu": "500m", "memory": "16Mi"})
    obj = {"kind": "Pod", "spec": pod_spec(small, small, init=[big_init, other_init])}
    # cpu: max(200m, 1, 500m) = 1; memory: max(128Mi, 32Mi, 16Mi) = 128Mi
    assert use(obj) == {"pods": "1", "requests.cpu": "1", "requests.memory": "128Mi"}


def test_service_and_load_balancer() -> None:
    assert use({"kind": "Service", "spec": {"type": "ClusterIP"}}) == {"services": "1"}
    assert use({"kind": "Service", "spec": {}}) == {"services": "1"}
    assert use({"kind": "Service", "spec": {"type": "LoadBalancer"}}) == {"services": "1",
                                                                          "services.loadbalancers": "1"}


def test_pvc_with_storage_class() -> None:
    obj = {"kind": "PersistentVolumeClaim",
           "spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "10Gi"}}}}
    assert use(obj, default_class="standard") == {
        "persistentvolumeclaims": "1", "requests.storage": "10Gi",
        "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
        "fast.storageclass.storage.k8s.io/requests.storage": "10Gi"}


def test_pvc_takes_the_default_class() -> None:
    obj = {"kind": "PersistentVolumeClaim", "spec": {"resources": {"requests": {"storage": "1Gi"}}}}
    assert use(obj, default_class="standard") == {
        "persistentvolumeclaims": "1", "requests.storage": "1Gi",
        "standard.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
        "standard.storageclass.storage.k8s.io/requests.storage": "1Gi"}
    assert use(obj) == {"persistentvolumeclaims": "1", "requests.storage": "1Gi"}


@pytest.mark.parametrize("obj", [
    {"kind": "ConfigMap", "data": {"a": "b"}},
    {"kind": "Deployment", "spec": {}},
    {"kind": "Deployment"},
    {},
])
def test_objects_that_take_nothing(obj: dict[str, Any]) -> None:
    assert use(obj) == {}

"""The pure rules (monitoring/rules.py): every built-in on hand-made snapshots, the params and
custom-rule validators (each error a 400 naming its field with a stable code), fingerprints and
custom-rule comparisons. No database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitoring import rules
from monitoring.rules import (
    BuildSnap,
    ClusterSnap,
    ContainerSnap,
    DeploymentSnap,
    NodeSnap,
    Place,
    PodSnap,
    PvcSnap,
    QuotaSnap,
    RuleSpec,
    ScopeFacts,
    SeriesValue,
    Snapshot,
)
from portal import errors

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def spec(key: str, **params: Any) -> RuleSpec:
    return RuleSpec(id=7, builtin=key, params=params)


def snap(**parts: Any) -> Snapshot:
    return Snapshot(now=NOW, **parts)


def test_catalogue_has_every_builtin_with_defaults() -> None:
    assert set(rules.BUILTINS) == {"cluster_unreachable", "node_not_ready", "node_pressure", "pod_crash_looping",
                                   "pod_pending", "deployment_not_progressing", "quota_usage_high",
                                   "pvc_nearly_full", "api_cert_expiring", "build_failing"}
    assert set(rules.EVALUATORS) == set(rules.BUILTINS)
    assert rules.BUILTINS["pod_pending"].defaults() == {"pending_seconds": 300}
    assert rules.BUILTINS["pod_crash_looping"].defaults() == {"restarts": 3, "window_seconds": 600}
    assert rules.BUILTINS["quota_usage_high"].defaults() == {"ratio": 0.9}
    assert rules.BUILTINS["api_cert_expiring"].defaults() == {"days": 14}
    assert rules.BUILTINS["build_failing"].defaults() == {"runs": 3}


def test_fingerprint_is_sha256_of_rule_and_sorted_labels() -> None:
    a = rules.fingerprint(1, {"cluster": "3", "namespace": "shop", "name": "web"})
    b = rules.fingerprint(1, {"name": "web", "namespace": "shop", "cluster": "3"})
    assert a == b
    assert len(a) == 64
    assert int(a, 16) >= 0
    assert rules.fingerprint(2, {"cluster": "3", "namespace": "shop", "name": "web"}) != a
    assert rules.fingerprint(1, {"cluster": "3", "namespace": "shop", "name": "api"}) != a


def test_cluster_unreachable_only_enabled_unreachable_clusters() -> None:
    s = snap(clusters=[ClusterSnap(1, "a", "unreachable", status_message="refused"), ClusterSnap(2, "b", "connected"),
                       ClusterSnap(3, "c", "unreachable", enabled=False)])
    found = rules.evaluate_builtin(spec("cluster_unreachable"), s)
    assert [(f.cluster_id, f.labels, f.message_code) for f in found] == [
        (1, {"cluster": "1"}, "alert_cluster_unreachable")]
    assert "refused" in found[0].message


def test_nodes_not_ready_and_pressure() -> None:
    s = snap(nodes=[NodeSnap(1, "n1", False), NodeSnap(1, "n2", True, (("MemoryPressure", "True"),
                                                                       ("DiskPressure", "False"),
                                                                       ("PIDPressure", "True")))])
    assert [f.name for f in rules.evaluate_builtin(spec("node_not_ready"), s)] == ["n1"]
    pressure = rules.evaluate_builtin(spec("node_pressure"), s)
    assert sorted(f.labels["condition"] for f in pressure) == ["MemoryPressure", "PIDPressure"]
    assert len({f.fingerprint for f in pressure}) == 2


def test_pod_crash_looping_by_reason_or_rising_restarts() -> None:
    place = Place(service_map_id=5, workspace_id=9)
    pods = [
        PodSnap(1, "shop", "web-1", "Running", containers=(ContainerSnap("web", "waiting", "CrashLoopBackOff", 4),),
                restarts=4),
        PodSnap(1, "shop", "web-2", "Running", containers=(ContainerSnap("web", "running"),), restarts=9,
                restarts_rise=3),
        PodSnap(1, "shop", "web-3", "Running", containers=(ContainerSnap("web", "running"),), restarts=9,
                restarts_rise=2),
        PodSnap(1, "other", "x", "Running", containers=(ContainerSnap("c", "waiting", "ImagePullBackOff"),)),
    ]
    found = rules.evaluate_builtin(spec("pod_crash_looping"), snap(pods=pods, places={(1, "shop"): place}))
    assert sorted(f.name for f in found) == ["web-1", "web-2"]
    one = next(f for f in found if f.name == "web-1")
    assert (one.workspace_id, one.service_map_id, one.namespace, one.kind) == (9, 5, "shop", "Pod")
    assert one.labels == {"cluster": "1", "namespace": "shop", "kind": "Pod", "name": "web-1"}
    assert one.message_params["container"] == "web"
    assert "CrashLoopBackOff" in one.message
    # running for a moment between two back-offs: still crash-looping while its last crash is recent
    between = PodSnap(1, "shop", "web-4", "Running", restarts=5, containers=(ContainerSnap(
        "web", "running", restart_count=5, last_reason="Error", last_finished=NOW - timedelta(seconds=20)),))
    stable = PodSnap(1, "shop", "web-5", "Running", restarts=5, containers=(ContainerSnap(
        "web", "running", restart_count=5, last_reason="Error", last_finished=NOW - timedelta(hours=2)),))
    assert [f.name for f in rules.evaluate_builtin(spec("pod_crash_looping"), snap(pods=[between, stable]))] == [
        "web-4"]
    # hysteresis: once open, one recent crash keeps it (a young loop runs between back-offs)
    young = PodSnap(1, "shop", "web-6", "Running", restarts=1, containers=(ContainerSnap(
        "web", "running", restart_count=1, last_reason="Error", last_finished=NOW - timedelta(seconds=5)),))
    assert rules.evaluate_builtin(spec("pod_crash_looping"), snap(pods=[young])) == []
    fp = rules.fingerprint(7, {"cluster": "1", "namespace": "shop", "kind": "Pod", "name": "web-6"})
    assert [f.fingerprint for f in rules.evaluate_builtin(spec("pod_crash_looping"),
                                                          snap(pods=[young], open_fingerprints={fp}))] == [fp]
    # a stricter rule: a rise of 3 is not enough
    assert [f.name for f in rules.evaluate_builtin(spec("pod_crash_looping", restarts=5),
                                                   snap(pods=pods))] == ["web-1"]


def test_pod_pending_longer_than_the_param() -> None:
    pods = [PodSnap(1, "ns", "old", "Pending", created=NOW - timedelta(seconds=301)),
            PodSnap(1, "ns", "young", "Pending", created=NOW - timedelta(seconds=299)),
            PodSnap(1, "ns", "running", "Running", created=NOW - timedelta(days=1))]
    assert [f.name for f in rules.evaluate_builtin(spec("pod_pending"), snap(pods=pods))] == ["old"]
    assert sorted(f.name for f in rules.evaluate_builtin(spec("pod_pending", pending_seconds=60),
                                                         snap(pods=pods))) == ["old", "young"]


def test_deployment_not_progressing() -> None:
    deps = [DeploymentSnap(1, "ns", "stuck", (("Progressing", "False", "ProgressDeadlineExceeded"),)),
            DeploymentSnap(1, "ns", "fine", (("Progressing", "True", "NewReplicaSetAvailable"),)),
            DeploymentSnap(1, "ns", "quota", (("ReplicaFailure", "True", "FailedCreate"),))]
    assert sorted(f.name for f in rules.evaluate_builtin(spec("deployment_not_progressing"),
                                                         snap(deployments=deps))) == ["quota", "stuck"]


def test_quota_usage_per_resource_at_or_above_ratio() -> None:
    q = QuotaSnap(1, "ns", "portal-quota", hard={"requests.cpu": 2.0, "requests.memory": 100.0, "pods": 0},
                  used={"requests.cpu": 1.8, "requests.memory": 50.0, "pods": 3})
    found = rules.evaluate_builtin(spec("quota_usage_high"), snap(quotas=[q]))
    assert [(f.labels["resource"], f.value, f.message_params["percent"]) for f in found] == [
        ("requests.cpu", 0.9, 90)]
    assert rules.evaluate_builtin(spec("quota_usage_high", ratio=0.95), snap(quotas=[q])) == []


def test_pvc_nearly_full_needs_the_metric() -> None:
    pvcs = [PvcSnap(1, "ns", "data", 0.93), PvcSnap(1, "ns", "logs", 0.5), PvcSnap(1, "ns", "none", None)]
    assert [f.name for f in rules.evaluate_builtin(spec("pvc_nearly_full"), snap(pvcs=pvcs))] == ["data"]


def test_api_cert_expiring_within_days() -> None:
    clusters = [ClusterSnap(1, "soon", "connected", api_cert_not_after=NOW + timedelta(days=10)),
                ClusterSnap(2, "later", "connected", api_cert_not_after=NOW + timedelta(days=40)),
                ClusterSnap(3, "gone", "connected", api_cert_not_after=NOW - timedelta(days=1)),
                ClusterSnap(4, "unknown", "connected")]
    found = {f.name: f for f in rules.evaluate_builtin(spec("api_cert_expiring"), snap(clusters=clusters))}
    assert set(found) == {"soon", "gone"}
    assert found["soon"].message_code == "alert_api_cert_expiring"
    assert found["soon"].message_params["days"] == 10
    assert found["gone"].message_code == "alert_api_cert_expired"


def test_build_failing_last_runs() -> None:
    builds = [BuildSnap(1, "api", 9, 1, "ns", ("failed", "failed", "failed", "succeeded"), service_map_id=5),
              BuildSnap(2, "web", 9, 1, "ns", ("failed", "failed", "succeeded")),
              BuildSnap(3, "new", 9, 1, "ns", ("failed", "failed"))]
    found = rules.evaluate_builtin(spec("build_failing"), snap(builds=builds))
    assert [(f.name, f.workspace_id, f.service_map_id) for f in found] == [("api", 9, 5)]
    assert sorted(f.name for f in rules.evaluate_builtin(spec("build_failing", runs=2), snap(builds=builds))) == [
        "api", "new", "web"]


# ---------------------------------------------------------------------------- validators


def _code(exc: pytest.ExceptionInfo[errors.Invalid]) -> tuple[str, list[str]]:
    return exc.value.code, list(exc.value.errors)


def test_builtin_params_validated_and_merged() -> None:
    assert rules.validate_builtin_params("pod_pending", {"pending_seconds": 600}) == {"pending_seconds": 600}
    assert rules.validate_builtin_params("pod_crash_looping", {"restarts": 5}, {"window_seconds": 1200}) == {
        "restarts": 5, "window_seconds": 1200}
    with pytest.raises(errors.Invalid) as exc:
        rules.validate_builtin_params("pod_pending", {"pending": 5})
    assert _code(exc) == ("rule_param_unknown", ["params.pending"])
    for bad in ("300", 10, 10**9, 1.5, True, float("nan")):
        with pytest.raises(errors.Invalid) as exc:
            rules.validate_builtin_params("pod_pending", {"pending_seconds": bad})
        assert _code(exc) == ("rule_param_invalid", ["params.pending_seconds"])
    with pytest.raises(errors.Invalid) as exc:
        rules.validate_builtin_params("quota_usage_high", {"ratio": 1.5})
    assert _code(exc) == ("rule_param_invalid", ["params.ratio"])
    with pytest.raises(errors.Invalid) as exc:
        rules.validate_builtin_params("quota_usage_high", [1])
    assert _code(exc) == ("rule_params_invalid", ["params"])


GOOD = {"metric": "cpu_usage", "aggregation": "avg", "operator": ">", "threshold": 0.5, "window_seconds": 300,
        "for_seconds": 60}


def test_custom_rule_valid() -> None:
    c = rules.validate_custom(GOOD, ScopeFacts(workspace_id=1))
    assert (c.metric, c.aggregation, c.operator, c.threshold, c.window_seconds, c.for_seconds, c.level) == (
        "cpu_usage", "avg", ">", 0.5, 300, 60, "pod")
    assert rules.validate_custom({**GOOD, "metric": "restarts", "aggregation": "last"}, ScopeFacts()).metric == \
        "restarts"


@pytest.mark.parametrize(("change", "field", "code"), [
    ({"metric": "cpu_whatever"}, "metric", "rule_metric_unknown"),
    ({"aggregation": "sum"}, "aggregation", "rule_aggregation_invalid"),
    ({"operator": "=="}, "operator", "rule_operator_invalid"),
    ({"threshold": None}, "threshold", "rule_threshold_invalid"),
    ({"threshold": "high"}, "threshold", "rule_threshold_invalid"),
    ({"window_seconds": 5}, "window_seconds", "rule_window_seconds_invalid"),
    ({"window_seconds": 90.5}, "window_seconds", "rule_window_seconds_invalid"),
    ({"for_seconds": -1}, "for_seconds", "rule_for_seconds_invalid"),
    ({"level": "galaxy"}, "level", "rule_level_invalid"),
])
def test_custom_rule_errors_name_the_field(change: dict[str, Any], field: str, code: str) -> None:
    with pytest.raises(errors.Invalid) as exc:
        rules.validate_custom({**GOOD, **change}, ScopeFacts())
    assert _code(exc) == (code, [field])


@pytest.mark.parametrize(("scope", "level", "field", "code"), [
    (ScopeFacts(workspace_id=1, service_map_id=3, service_map_workspace_id=2, service_map_cluster_id=4), "pod",
     "service_map", "rule_scope_mismatch"),
    (ScopeFacts(cluster_id=1, service_map_id=3, service_map_workspace_id=2, service_map_cluster_id=4), "pod",
     "service_map", "rule_scope_mismatch"),
    (ScopeFacts(workload_namespace="ns", workload_kind="Deployment"), "pod", "workload_name",
     "rule_workload_incomplete"),
    (ScopeFacts(workload_namespace="ns", workload_kind="Deployment", workload_name="web"), "pod", "cluster",
     "rule_workload_needs_cluster"),
    (ScopeFacts(cluster_id=1, workload_namespace="ns", workload_kind="Pod", workload_name="web"), "pod",
     "workload_kind", "rule_workload_kind_invalid"),
    (ScopeFacts(cluster_id=1, workload_namespace="ns", workload_kind="Deployment", workload_name="web"), "node",
     "level", "rule_level_scope"),
    (ScopeFacts(workspace_id=1), "node", "level", "rule_level_scope"),
])
def test_custom_rule_scope_consistency(scope: ScopeFacts, level: str, field: str, code: str) -> None:
    with pytest.raises(errors.Invalid) as exc:
        rules.validate_custom({**GOOD, "level": level}, scope)
    assert _code(exc) == (code, [field])


def test_workload_scope_through_a_service_map_needs_no_cluster_id() -> None:
    scope = ScopeFacts(service_map_id=3, service_map_workspace_id=2, service_map_cluster_id=4,
                       workload_namespace="ns", workload_kind="Deployment", workload_name="web")
    assert rules.validate_custom({**GOOD, "level": "workload"}, scope).level == "workload"


def test_custom_evaluation_compares_each_series() -> None:
    rule = RuleSpec(id=3, metric="cpu_usage", aggregation="avg", operator=">=", threshold=0.5, name="busy")
    values = [SeriesValue(1, "pod", "shop", "web-1", "", 0.7, "Deployment", "web", 5, 9),
              SeriesValue(1, "pod", "shop", "web-2", "", 0.5, "Deployment", "web", 5, 9),
              SeriesValue(1, "pod", "shop", "web-3", "", 0.2, "Deployment", "web", 5, 9)]
    found = rules.evaluate_custom(rule, values)
    assert sorted(f.name for f in found) == ["web-1", "web-2"]
    f = next(f for f in found if f.name == "web-1")
    assert (f.workspace_id, f.service_map_id, f.kind, f.value, f.message_code) == (9, 5, "Pod", 0.7,
                                                                                   "alert_custom_threshold")
    assert f.labels == {"cluster": "1", "level": "pod", "namespace": "shop", "name": "web-1"}
    for op, expected in ((">", [0.7]), ("<", [0.2]), ("<=", [0.5, 0.2])):
        got = rules.evaluate_custom(RuleSpec(id=3, metric="cpu_usage", aggregation="avg", operator=op,
                                             threshold=0.5), values)
        assert sorted((g.value or 0.0 for g in got), reverse=True) == sorted(expected, reverse=True)

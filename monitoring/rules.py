"""Pure: the built-in rules and custom-rule conditions, from snapshots to findings with fingerprints (ALERTS).

The evaluator (:mod:`monitoring.evaluate`) reads the read model and the sample tables into the
plain snapshots below and hands them here; this module decides what is wrong and names it as a
:class:`Finding`, and the writer (:mod:`monitoring.alert_actions`) turns findings into alerts. No
I/O here, so every rule is tested with hand-made snapshots (``monitoring/tests/test_rules.py``).

* :data:`BUILTINS`: the catalogue. Each built-in has a key (``AlertRule.builtin``), a default
  severity and for-duration, and typed params with defaults and bounds
  (:func:`validate_builtin_params`).
* :func:`validate_custom`: a custom rule's metric (a sample column or a named point metric),
  aggregation, operator, threshold, window, for-duration, level and scope; every problem is a 400
  (:class:`portal.errors.Invalid`) whose ``errors`` name the field and whose ``code`` says what.
* :func:`evaluate_builtin` / :func:`evaluate_custom`: snapshots in, findings out.
* :func:`fingerprint`: sha256 hex of the rule id and the subject's sorted labels; at most one open
  alert per fingerprint (the partial unique constraint on ``Alert``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from portal import errors

# ---------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Finding:
    """One subject for which a rule's condition holds now."""

    rule_id: int
    fingerprint: str
    labels: dict[str, str]
    cluster_id: int | None = None
    workspace_id: int | None = None
    service_map_id: int | None = None
    namespace: str = ""
    kind: str = ""
    name: str = ""
    value: float | None = None
    message: str = ""
    message_code: str = ""
    message_params: dict[str, Any] = field(default_factory=dict)


def fingerprint(rule_id: int, labels: Mapping[str, Any]) -> str:
    """sha256 hex (64) of the rule id and the sorted subject labels."""
    text = json.dumps([int(rule_id), sorted((str(k), str(v)) for k, v in labels.items())], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _finding(rule: RuleSpec, labels: dict[str, str], *, cluster_id: int | None, place: Place | None = None,
             namespace: str = "", kind: str = "", name: str = "", value: float | None = None, message: str,
             code: str, params: dict[str, Any], workspace_id: int | None = None) -> Finding:
    return Finding(rule_id=rule.id, fingerprint=fingerprint(rule.id, labels), labels=labels, cluster_id=cluster_id,
                   workspace_id=place.workspace_id if place else workspace_id,
                   service_map_id=place.service_map_id if place else None, namespace=namespace, kind=kind,
                   name=name, value=value, message=message, message_code=code, message_params=params)


# ---------------------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class Place:
    """The service map (and its workspace) holding a namespace of a cluster."""

    service_map_id: int
    workspace_id: int


@dataclass(frozen=True)
class ClusterSnap:
    id: int
    name: str
    status: str
    enabled: bool = True
    status_message: str = ""
    api_cert_not_after: datetime | None = None


@dataclass(frozen=True)
class NodeSnap:
    cluster_id: int
    name: str
    ready: bool
    conditions: tuple[tuple[str, str], ...] = ()  # (type, status)


@dataclass(frozen=True)
class ContainerSnap:
    name: str
    state: str = ""  # running | waiting | terminated
    reason: str = ""
    restart_count: int = 0
    last_reason: str = ""
    last_finished: datetime | None = None  # when its previous run ended


@dataclass(frozen=True)
class PodSnap:
    cluster_id: int
    namespace: str
    name: str
    phase: str
    created: datetime | None = None
    containers: tuple[ContainerSnap, ...] = ()
    restarts: int = 0
    restarts_rise: int | None = None  # restarts gained within the crash window (from the `restarts` points)
    owner_kind: str = ""
    owner_name: str = ""


@dataclass(frozen=True)
class DeploymentSnap:
    cluster_id: int
    namespace: str
    name: str
    conditions: tuple[tuple[str, str, str], ...] = ()  # (type, status, reason)
    failed: bool = False
    message: str = ""


@dataclass(frozen=True)
class QuotaSnap:
    cluster_id: int
    namespace: str
    name: str
    hard: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PvcSnap:
    cluster_id: int
    namespace: str
    name: str
    used_ratio: float | None = None


@dataclass(frozen=True)
class BuildSnap:
    definition_id: int
    definition_name: str
    workspace_id: int
    cluster_id: int | None
    namespace: str
    recent: tuple[str, ...] = ()
    service_map_id: int | None = None  # statuses of the newest finished runs, newest first


@dataclass
class Snapshot:
    """What the built-in rules look at, as one evaluation run read it."""

    now: datetime
    clusters: list[ClusterSnap] = field(default_factory=list)
    nodes: list[NodeSnap] = field(default_factory=list)
    pods: list[PodSnap] = field(default_factory=list)
    deployments: list[DeploymentSnap] = field(default_factory=list)
    quotas: list[QuotaSnap] = field(default_factory=list)
    pvcs: list[PvcSnap] = field(default_factory=list)
    builds: list[BuildSnap] = field(default_factory=list)
    places: dict[tuple[int, str], Place] = field(default_factory=dict)
    open_fingerprints: set[str] = field(default_factory=set)  # alerts open now (hysteresis: see crash loops)

    def place(self, cluster_id: int, namespace: str) -> Place | None:
        return self.places.get((cluster_id, namespace))


@dataclass(frozen=True)
class RuleSpec:
    """What evaluation needs of an :class:`~monitoring.models.AlertRule`."""

    id: int
    builtin: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    metric: str = ""
    aggregation: str = ""
    operator: str = ""
    threshold: float | None = None
    level: str = "pod"
    name: str = ""

    @classmethod
    def of(cls, rule: Any) -> RuleSpec:
        params = dict(rule.params or {})
        return cls(id=int(rule.pk), builtin=str(rule.builtin), params=params, metric=str(rule.metric),
                   aggregation=str(rule.aggregation), operator=str(rule.operator), threshold=rule.threshold,
                   level=str(params.get("level") or "pod"), name=str(rule.name))


# ---------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "int" | "float"
    default: float
    minimum: float
    maximum: float
    description: str


@dataclass(frozen=True)
class Builtin:
    key: str
    name: str
    description: str
    severity: str
    for_seconds: int
    params: tuple[Param, ...] = ()
    reads_cluster: bool = True  # reads a cluster's read model or samples: not resolved while it is stale

    def defaults(self) -> dict[str, Any]:
        return {p.name: (int(p.default) if p.kind == "int" else p.default) for p in self.params}


_RATIO = Param("ratio", "float", 0.9, 0.01, 1.0, "Fires at or above this share of the limit (0.9 = 90 %).")

BUILTINS: dict[str, Builtin] = {b.key: b for b in (
    Builtin("cluster_unreachable", "Cluster unreachable",
            "The portal's connectivity check or watcher cannot reach the cluster's API server.",
            "critical", 60, reads_cluster=False),
    Builtin("node_not_ready", "Node not ready", "A node's Ready condition is not True.", "critical", 60),
    Builtin("node_pressure", "Node under pressure",
            "A node reports MemoryPressure, DiskPressure or PIDPressure.", "warning", 60),
    Builtin("pod_crash_looping", "Pod crash-looping",
            "A container waits in CrashLoopBackOff, or failed within `window_seconds` after at least `restarts` "
            "restarts, or the pod's restarts rose by `restarts` within `window_seconds` (the restarts metric).",
            "critical", 0,
            (Param("restarts", "int", 3, 1, 1000, "Restarts within the window that count as a crash loop."),
             Param("window_seconds", "int", 600, 60, 86400, "The window the restarts are counted in."))),
    Builtin("pod_pending", "Pod pending too long", "A pod has been Pending for longer than `pending_seconds`.",
            "warning", 0, (Param("pending_seconds", "int", 300, 30, 86400, "Seconds a pod may stay Pending."),)),
    Builtin("deployment_not_progressing", "Deployment not progressing",
            "A Deployment's rollout failed (Progressing=False with ProgressDeadlineExceeded, or ReplicaFailure).",
            "warning", 0),
    Builtin("quota_usage_high", "Quota nearly used up",
            "A ResourceQuota's use of a resource reached `ratio` of its hard limit.", "warning", 0, (_RATIO,)),
    Builtin("pvc_nearly_full", "Volume nearly full",
            "A PersistentVolumeClaim is `ratio` full (needs the pvc_used_ratio metric, from Prometheus).",
            "warning", 0, (_RATIO,)),
    Builtin("api_cert_expiring", "API certificate expiring",
            "The cluster API server's serving certificate expires within `days` days.", "warning", 0,
            (Param("days", "int", 14, 1, 365, "Days before expiry to warn."),), reads_cluster=False),
    Builtin("build_failing", "Build failing repeatedly", "The last `runs` runs of a build definition failed.",
            "warning", 0, (Param("runs", "int", 3, 1, 50, "Consecutive failed runs."),), reads_cluster=False),
)}

# Custom rules -----------------------------------------------------------------

SAMPLE_METRICS: dict[str, str] = {  # column -> unit
    "cpu_usage": "cores", "mem_usage": "bytes", "cpu_request": "cores", "mem_request": "bytes",
    "cpu_limit": "cores", "mem_limit": "bytes", "cpu_billed": "cores", "mem_billed": "bytes",
    "cpu_allocatable": "cores", "mem_allocatable": "bytes", "cpu_capacity": "cores", "mem_capacity": "bytes",
    "pods": "count",
}
POINT_METRICS: dict[str, str] = {
    "restarts": "count", "net_rx_bytes_per_second": "bytes/s", "net_tx_bytes_per_second": "bytes/s",
    "fs_used_bytes": "bytes", "pvc_used_ratio": "ratio",
}
AGGREGATIONS = ("avg", "max", "min", "last")
OPERATORS = (">", ">=", "<", "<=")
LEVELS = ("cluster", "node", "namespace", "workload", "pod", "container")
INFRASTRUCTURE_LEVELS = ("cluster", "node")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet")
WINDOW_MIN, WINDOW_MAX = 60, 7 * 86400
FOR_MAX = 7 * 86400


def _invalid(field_name: str, message: str, code: str, params: dict[str, Any] | None = None) -> errors.Invalid:
    return errors.Invalid(f"Invalid input: {field_name}: {message}", code=code, params=params or {},
                          errors={field_name: [message]})


def validate_builtin_params(key: str, raw: Any, current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The params of built-in ``key``: ``raw`` (a partial object) over ``current`` over the
    defaults, each checked for type and bounds. 400 ``rule_params_invalid`` (not an object),
    ``rule_param_unknown`` or ``rule_param_invalid`` naming ``params.<name>``."""
    builtin = BUILTINS[key]
    if not isinstance(raw, Mapping):
        raise _invalid("params", "Give an object of parameters.", "rule_params_invalid")
    known = {p.name: p for p in builtin.params}
    out = builtin.defaults()
    out.update({k: v for k, v in (current or {}).items() if k in known})
    for name, value in raw.items():
        param = known.get(str(name))
        if param is None:
            names = ", ".join(known) or "none"
            raise _invalid(f"params.{name}", f"{builtin.name} has no parameter {str(name)[:64]} (it takes: {names}).",
                           "rule_param_unknown", {"param": str(name)[:64], "known": names})
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _invalid(f"params.{name}", "Give a number.", "rule_param_invalid", {"param": name})
        if param.kind == "int" and float(value) != int(value):
            raise _invalid(f"params.{name}", "Give a whole number.", "rule_param_invalid", {"param": name})
        if not param.minimum <= value <= param.maximum:
            raise _invalid(f"params.{name}", f"Give a value from {param.minimum:g} to {param.maximum:g}.",
                           "rule_param_invalid", {"param": name, "min": param.minimum, "max": param.maximum})
        out[name] = int(value) if param.kind == "int" else float(value)
    return out


@dataclass(frozen=True)
class ScopeFacts:
    """What the writer looked up about a custom rule's scope, for :func:`validate_custom` to judge:
    the ids given and the cluster and workspace of the service map given."""

    workspace_id: int | None = None
    cluster_id: int | None = None
    service_map_id: int | None = None
    service_map_workspace_id: int | None = None
    service_map_cluster_id: int | None = None
    workload_namespace: str = ""
    workload_kind: str = ""
    workload_name: str = ""


@dataclass(frozen=True)
class CustomCondition:
    metric: str
    aggregation: str
    operator: str
    threshold: float
    window_seconds: int
    for_seconds: int
    level: str


def _number(field_name: str, value: Any, *, whole: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
        raise _invalid(field_name, "Give a number.", f"rule_{field_name}_invalid")
    if whole and float(value) != int(value):
        raise _invalid(field_name, "Give a whole number of seconds.", f"rule_{field_name}_invalid")
    return float(value)


def validate_custom(data: Mapping[str, Any], scope: ScopeFacts) -> CustomCondition:
    """Check a custom rule's condition and scope; 400 naming the field otherwise."""
    metric = data.get("metric")
    if not isinstance(metric, str) or (metric not in SAMPLE_METRICS and metric not in POINT_METRICS):
        known = ", ".join([*SAMPLE_METRICS, *POINT_METRICS])
        raise _invalid("metric", f"Name a stored metric: one of {known}.", "rule_metric_unknown",
                       {"metric": str(metric)[:64]})
    aggregation = data.get("aggregation") or "avg"
    if aggregation not in AGGREGATIONS:
        raise _invalid("aggregation", f"One of {', '.join(AGGREGATIONS)}.", "rule_aggregation_invalid")
    operator = data.get("operator")
    if operator not in OPERATORS:
        raise _invalid("operator", f"One of {' '.join(OPERATORS)}.", "rule_operator_invalid")
    if data.get("threshold") is None:
        raise _invalid("threshold", "Give the threshold to compare with.", "rule_threshold_invalid")
    threshold = _number("threshold", data.get("threshold"))
    window = _number("window_seconds", data.get("window_seconds", 300), whole=True)
    if not WINDOW_MIN <= window <= WINDOW_MAX:
        raise _invalid("window_seconds", f"Give {WINDOW_MIN} to {WINDOW_MAX} seconds.", "rule_window_seconds_invalid")
    for_seconds = _number("for_seconds", data.get("for_seconds", 0), whole=True)
    if not 0 <= for_seconds <= FOR_MAX:
        raise _invalid("for_seconds", f"Give 0 to {FOR_MAX} seconds.", "rule_for_seconds_invalid")
    level = data.get("level") or "pod"
    if level not in LEVELS:
        raise _invalid("level", f"One of {', '.join(LEVELS)}.", "rule_level_invalid")
    _check_scope(scope, str(level))
    return CustomCondition(metric=metric, aggregation=str(aggregation), operator=str(operator), threshold=threshold,
                           window_seconds=int(window), for_seconds=int(for_seconds), level=str(level))


def _check_scope(scope: ScopeFacts, level: str) -> None:
    if scope.service_map_id is not None:
        if scope.workspace_id is not None and scope.workspace_id != scope.service_map_workspace_id:
            raise _invalid("service_map", "This service map belongs to another workspace than the one given.",
                           "rule_scope_mismatch")
        if scope.cluster_id is not None and scope.cluster_id != scope.service_map_cluster_id:
            raise _invalid("service_map", "This service map is on another cluster than the one given.",
                           "rule_scope_mismatch")
    workload = (scope.workload_namespace, scope.workload_kind, scope.workload_name)
    if any(workload):
        for name, value in zip(("workload_namespace", "workload_kind", "workload_name"), workload, strict=True):
            if not value:
                raise _invalid(name, "A workload scope needs its namespace, kind and name.", "rule_workload_incomplete")
        if scope.workload_kind not in WORKLOAD_KINDS:
            raise _invalid("workload_kind", f"One of {', '.join(WORKLOAD_KINDS)}.", "rule_workload_kind_invalid")
        if scope.cluster_id is None and scope.service_map_cluster_id is None:
            raise _invalid("cluster", "A workload scope needs the cluster it runs on.", "rule_workload_needs_cluster")
        if level not in ("workload", "pod", "container"):
            raise _invalid("level", "A workload scope looks at the workload, its pods or their containers.",
                           "rule_level_scope")
    if level in INFRASTRUCTURE_LEVELS and (scope.workspace_id is not None or scope.service_map_id is not None):
        raise _invalid("level", "Cluster and node figures belong to no workspace: scope such a rule to a cluster "
                                "or the fleet.", "rule_level_scope")


# ---------------------------------------------------------------------------- built-in evaluation


def _param(rule: RuleSpec, name: str) -> Any:
    value = rule.params.get(name)
    return BUILTINS[rule.builtin].defaults()[name] if value is None else value


def _cluster_unreachable(rule: RuleSpec, snap: Snapshot) -> list[Finding]:
    return [_finding(rule, {"cluster": str(c.id)}, cluster_id=c.id, kind="Cluster", name=c.name,
                     message=f"Cluster {c.name} is unreachable: {c.status_message}".rstrip(": "),
                     code="alert_cluster_unreachable", params={"cluster": c.name})
            for c in snap.clusters if c.enabled and c.status == "unreachable"]


def _node_not_ready(rule: RuleSpec, snap: Snapshot) -> list[Finding]:
    return [_finding(rule, {"cluster": str(n.cluster_id), "kind": "Node", "name": n.name}, cluster_id=n.cluster_id,
                     kind="Node", name=n.name, message=f"Node {n.name} is not ready.", code="alert_node_not_ready",
                     params={"node": n.name})
            for n in snap.nodes if not n.ready]


PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")


def _node_pressure(rule: RuleSpec, snap: Snapshot) -> list[Finding]:
    out = []
    for n in snap.nodes:
        for kind, status in n.conditions:
            if kind in PRESSURES and status == "True":
                out.append(_finding(rule, {"cluster": str(n.cluster_id), "kind": "Node", "name": n.name,
                                           "condition": kind}, cluster_id=n.cluster_id, kind="Node", name=n.name,
                                    message=f"Node {n.name} reports {kind}.", code="alert_node_pressure",
                                    params={"node": n.name, "condition": kind}))
    return out


def _pod_labels(p: PodSnap) -> dict[str, str]:
    return {"cluster": str(p.cluster_id), "namespace": p.namespace, "kind": "Pod", "name": p.name}


def _pod_crash_looping(rule: RuleSpec, snap: Snapshot) -> list[Finding]:
    rise = int(_param(rule, "restarts"))
    window = float(_param(rule, "window_seconds"))

    def crashed_lately(c: ContainerSnap, least: int) -> bool:
        # Between two back-offs a crash-looping container runs for a moment: it still counts while
        # its last run failed within the window and it has restarted at least `least` times.
        return (bool(c.last_reason) and c.last_reason != "Completed" and c.last_finished is not None
                and (snap.now - c.last_finished).total_seconds() <= window and c.restart_count >= least)

    out = []
    for p in snap.pods:
        # An open alert stays open until the container ran `window_seconds` without crashing (as
        # the kubelet resets its back-off), so a loop's short runs do not resolve and reopen it.
        least = 1 if fingerprint(rule.id, _pod_labels(p)) in snap.open_fingerprints else rise
        looping = [c.name for c in p.containers
                   if (c.state == "waiting" and c.reason == "CrashLoopBackOff") or crashed_lately(c, least)]
        rising = p.restarts_rise is not None and p.restarts_rise >= rise
        if not looping and not rising:
            continue
        container = looping[0] if looping else ""
        out.append(_finding(
            rule, _pod_labels(p), cluster_id=p.cluster_id, place=snap.place(p.cluster_id, p.namespace),
            namespace=p.namespace, kind="Pod", name=p.name, value=float(p.restarts),
            message=(f"Pod {p.name} in {p.namespace} is crash-looping ("
                     + (f"container {container} in CrashLoopBackOff, " if container else "")
                     + f"{p.restarts} restarts)."),
            code="alert_pod_crash_looping",
            params={"pod": p.name, "namespace": p.namespace, "container": container, "restarts": p.restarts}))
    return out


def _pod_pending(rule: RuleSpec, snap: Snapshot) -> list[Finding]:
    limit = float(_param(rule, "pending_seconds"))
    out = []
    for p in snap.pods:
        if p.phase != "Pending" or p.created is None:
            continue
        age = (snap.now - p.created).total_seconds()
        if age > limit:
            out.append(_finding(rule, _pod_labels(p), cluster_id=p.cluster_id,
                                place=snap.place(p.cluster_id, p.namespace), namespace=p.namespace, kind="Pod",
                                name=p.name, value=round(age),
                                message=f"Pod {p.name} in {p.namespace} has been pending for {int(age)} s.",
                                code="alert_pod_pending",
                                params={"pod": p.name, "namespace": p.namespace, "seconds": int(age)}))
    return out


def _deployment_not_progressing(rule: RuleSpec, snap: Snapshot) -> list[Finding]:
    out = []
    for d in snap.deployments:
        stuck = any(t == "Progressing" and s == "False" and r == "ProgressDeadlineExceeded"
                    for t, s, r in d.conditions) or any(t == "ReplicaFailure" and s == "True"
                                                        for t, s, _ in d.conditions) or d.failed
        if stuck:
            out.append(_finding(
                rule, {"cluster": str(d.cluster_id), "namespace": d.namespace, "kind": "Deployment", "name": d.name},
                cluster_id=d.cluster_id, place=snap.place(d.cluster_id, d.namespace), namespace=d.namespace,
                kind="Deployment", name=d.name,
                message=f"Deployment {d.name} in {d.namespace} is not progressing. {d.message}".strip(),
                code="alert_deployment_not_progressing", params={"deployment": d.name, "namespace": d.namespace}))
    return out


def _quota_usage_high(rule: RuleSpec, snap: Snapshot) -> list[Finding]:
    ratio = float(_param(rule, "ratio"))
    out = []
    for q in snap.quotas:
        for resource, hard in sorted(q.hard.items()):
            used = q.used.get(resource)
            if used is None or hard <= 0:
                continue
            share = used / hard
            if share >= ratio:
                out.append(_finding(
                    rule, {"cluster": str(q.cluster_id), "namespace": q.namespace, "kind": "ResourceQuota",
                           "name": q.name, "resource": resource},
                    cluster_id=q.cluster_id, place=snap.place(q.cluster_id, q.namespace), namespace=q.namespace,
                    kind="ResourceQuota", name=q.name, value=round(share, 4),
                    message=f"Quota {q.name} in {q.namespace}: {resource} is {share:.0%} used.",
                    code="alert_quota_usage_high",
                    params={"quota": q.name, "namespace": q.namespace, "resource": resource,
                            "percent": round(share * 100)}))
    return out


def _pvc_nearly_full(rule: RuleSpec, snap: Snapshot) -> list[Finding]:
    ratio = float(_param(rule, "ratio"))
    return [_finding(rule, {"cluster": str(v.cluster_id), "namespace": v.namespace, "kind": "PersistentVolumeClaim",
                            "name": v.name},
                     cluster_id=v.cluster_id, place=snap.place(v.cluster_id, v.namespace), namespace=v.namespace,
                     kind="PersistentVolumeClaim", name=v.name, value=round(v.used_ratio, 4),
                     message=f"Volume claim {v.name} in {v.namespace} is {v.used_ratio:.0%} full.",
                     code="alert_pvc_nearly_full",
                     params={"claim": v.name, "namespace": v.namespace, "percent": round(v.used_ratio * 100)})
            for v in snap.pvcs if v.used_ratio is not None and v.used_ratio >= ratio]


def _api_cert_expiring(rule: RuleSpec, snap: Snapshot) -> list[Finding]:
    days = float(_param(rule, "days"))
    out = []
    for c in snap.clusters:
        if not c.enabled or c.api_cert_not_after is None:
            continue
        left = (c.api_cert_not_after - snap.now).total_seconds() / 86400
        if left <= days:
            whole = math.floor(left)
            out.append(_finding(rule, {"cluster": str(c.id)}, cluster_id=c.id, kind="Cluster", name=c.name,
                                value=round(left, 2),
                                message=(f"The API certificate of cluster {c.name} expired." if left <= 0 else
                                         f"The API certificate of cluster {c.name} expires in {whole} days "
                                         f"({c.api_cert_not_after:%Y-%m-%d})."),
                                code="alert_api_cert_expired" if left <= 0 else "alert_api_cert_expiring",
                                params={"cluster": c.name, "days": whole,
                                        "not_after": c.api_cert_not_after.isoformat()}))
    return out


def _build_failing(rule: RuleSpec, snap: Snapshot) -> list[Finding]:
    runs = int(_param(rule, "runs"))
    return [_finding(rule, {"kind": "BuildDefinition", "definition": str(b.definition_id)}, cluster_id=b.cluster_id,
                     place=Place(b.service_map_id, b.workspace_id) if b.service_map_id else None,
                     workspace_id=b.workspace_id, namespace=b.namespace, kind="BuildDefinition",
                     name=b.definition_name, value=float(runs),
                     message=f"The last {runs} builds of {b.definition_name} failed.", code="alert_build_failing",
                     params={"definition": b.definition_name, "runs": runs})
            for b in snap.builds if len(b.recent) >= runs and all(s == "failed" for s in b.recent[:runs])]


EVALUATORS = {
    "cluster_unreachable": _cluster_unreachable,
    "node_not_ready": _node_not_ready,
    "node_pressure": _node_pressure,
    "pod_crash_looping": _pod_crash_looping,
    "pod_pending": _pod_pending,
    "deployment_not_progressing": _deployment_not_progressing,
    "quota_usage_high": _quota_usage_high,
    "pvc_nearly_full": _pvc_nearly_full,
    "api_cert_expiring": _api_cert_expiring,
    "build_failing": _build_failing,
}


def evaluate_builtin(rule: RuleSpec, snap: Snapshot) -> list[Finding]:
    """The findings of built-in ``rule`` over ``snap`` (deduplicated by fingerprint)."""
    found = EVALUATORS[rule.builtin](rule, snap)
    return list({f.fingerprint: f for f in found}.values())


# ---------------------------------------------------------------------------- custom evaluation


@dataclass(frozen=True)
class SeriesValue:
    """A custom rule's metric, aggregated over its window, for one series."""

    cluster_id: int
    level: str
    namespace: str
    name: str
    container: str
    value: float
    workload_kind: str = ""
    workload_name: str = ""
    service_map_id: int | None = None
    workspace_id: int | None = None


def compare(value: float, operator: str, threshold: float) -> bool:
    return {">": value > threshold, ">=": value >= threshold, "<": value < threshold,
            "<=": value <= threshold}[operator]


def evaluate_custom(rule: RuleSpec, values: Iterable[SeriesValue]) -> list[Finding]:
    """One finding per series whose aggregated value satisfies the rule's comparison."""
    assert rule.threshold is not None
    out: dict[str, Finding] = {}
    for v in values:
        if not compare(v.value, rule.operator, rule.threshold):
            continue
        labels = {"cluster": str(v.cluster_id), "level": v.level}
        for key, value in (("namespace", v.namespace), ("name", v.name), ("container", v.container)):
            if value:
                labels[key] = value
        kind = {"pod": "Pod", "container": "Pod", "node": "Node", "cluster": "Cluster", "namespace": "Namespace",
                "workload": v.workload_kind}.get(v.level, v.level)
        what = " ".join(x for x in (v.level, v.name or "", f"({v.container})" if v.container else "") if x)
        f = Finding(rule_id=rule.id, fingerprint=fingerprint(rule.id, labels), labels=labels,
                    cluster_id=v.cluster_id, workspace_id=v.workspace_id, service_map_id=v.service_map_id,
                    namespace=v.namespace, kind=kind, name=v.name, value=round(v.value, 6),
                    message=(f"{rule.name}: {rule.aggregation} {rule.metric} of {what} is {v.value:.4g} "
                             f"({rule.operator} {rule.threshold:g})."),
                    message_code="alert_custom_threshold",
                    message_params={"rule": rule.name, "metric": rule.metric, "aggregation": rule.aggregation,
                            "operator": rule.operator, "threshold": rule.threshold, "value": round(v.value, 6),
                            "level": v.level, "name": v.name, "namespace": v.namespace})
        out[f.fingerprint] = f
    return list(out.values())


def sample_or_point(metric: str) -> str:
    """``sample`` for a resource column, ``point`` for a named point metric."""
    return "sample" if metric in SAMPLE_METRICS else "point"


def builtin_keys() -> Sequence[str]:
    return tuple(BUILTINS)

"""Operation: gather what the rules look at and run them, under one lock per run (ALERTS).

:func:`run` is the whole evaluation: take the PostgreSQL advisory lock (a second evaluator, on
another worker, returns at once instead of racing), make sure the built-in rules exist, read one
:class:`~monitoring.rules.Snapshot` of the read model (clusters and their freshness, nodes, the
pods and deployments that look wrong, quotas, build runs, the restarts and volume metrics), run
every enabled rule (:mod:`monitoring.rules`) and hand each rule's findings to
:func:`monitoring.alert_actions.apply_findings` (one transaction per rule).

A run that dies half-way (a killed worker) has committed the rules it finished and none of the
rule it was in; the next run reads the same state and converges: an open alert is found again
by its fingerprint, never opened twice (the partial unique constraint), a resolved one stays
resolved. Clusters whose read model is not fresh (unreachable, stale, still syncing) are not
looked at by the rules that read it, and their open alerts are kept, not resolved.

Custom rules read the sample tables (``monitoring_sample`` / ``monitoring_point``, written by
:mod:`monitoring.store`) with one aggregate query per rule over its window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from builds.models import BuildRun, RunStatus
from clusters.models import Cluster, KubeObject
from clusters.readmodel import cluster_freshness
from clusters.watcher.projection import quantity
from monitoring import alert_actions, rules
from monitoring.models import OPEN_STATES, Alert, AlertRule
from workspaces.models import ServiceMap

logger = logging.getLogger(__name__)

LOCK_KEY = 0x6D6F6E5F616C7274 & 0x7FFFFFFFFFFFFFFF  # "mon_alrt": one evaluator at a time
BUILD_LOOKBACK = timedelta(days=30)
PVC_LOOKBACK = timedelta(minutes=15)


@contextmanager
def advisory_lock(key: int = LOCK_KEY) -> Iterator[bool]:
    """Hold the session-level advisory lock ``key`` for the block; yields False (and holds
    nothing) when another session holds it. A dead worker's session ends, and its lock with it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        got = bool(cursor.fetchone()[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


# ---------------------------------------------------------------------------- snapshot


def _places() -> dict[tuple[int, str], rules.Place]:
    return {(row["cluster_id"], row["namespace"]): rules.Place(row["id"], row["workspace_id"])
            for row in ServiceMap.objects.values("id", "cluster_id", "namespace", "workspace_id")}


def _float(value: Any) -> float | None:
    q = quantity(value)
    return None if q is None else float(q)


def _restart_rises(window_seconds: int, now: datetime) -> dict[tuple[int, str, str], int]:
    """Per (cluster, namespace, pod): how much the ``restarts`` point metric rose within the window."""
    sql = ("SELECT s.cluster_id, s.namespace, s.name, max(p.value) - min(p.value) "
           "FROM monitoring_point p JOIN monitoring_metricseries s ON s.id = p.series_id "
           "WHERE p.metric = 'restarts' AND s.level = 'pod' AND p.ts > %s AND p.ts <= %s "
           "GROUP BY s.cluster_id, s.namespace, s.name HAVING max(p.value) - min(p.value) > 0")
    with connection.cursor() as cursor:
        cursor.execute(sql, [now - timedelta(seconds=window_seconds), now])
        return {(int(c), str(ns), str(name)): int(rise or 0) for c, ns, name, rise in cursor.fetchall()}


def _pvc_ratios(now: datetime) -> list[rules.PvcSnap]:
    """The newest ``pvc_used_ratio`` per claim (a namespace-level series named after the claim)."""
    sql = ("SELECT DISTINCT ON (p.series_id) s.cluster_id, s.namespace, s.name, p.value "
           "FROM monitoring_point p JOIN monitoring_metricseries s ON s.id = p.series_id "
           "WHERE p.metric = 'pvc_used_ratio' AND p.ts > %s AND p.ts <= %s AND p.value IS NOT NULL "
           "ORDER BY p.series_id, p.ts DESC")
    with connection.cursor() as cursor:
        cursor.execute(sql, [now - PVC_LOOKBACK, now])
        return [rules.PvcSnap(int(c), str(ns), str(name), float(v)) for c, ns, name, v in cursor.fetchall()]


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _pod(row: Mapping[str, Any], rise: int | None) -> rules.PodSnap:
    data = row["data"] or {}
    containers = tuple(rules.ContainerSnap(name=str(c.get("name", "")), state=str(c.get("state", "")),
                                           reason=str(c.get("reason", "")),
                                           restart_count=int(c.get("restart_count") or 0),
                                           last_reason=str(c.get("last_reason", "")),
                                           last_finished=_when(c.get("last_finished")))
                       for c in data.get("containers") or [] if isinstance(c, dict))
    owner = data.get("owner") or {}
    return rules.PodSnap(cluster_id=row["cluster_id"], namespace=row["namespace"], name=row["name"],
                         phase=row["phase"], created=row["created"], containers=containers,
                         restarts=int(data.get("restarts") or 0), restarts_rise=rise,
                         owner_kind=str(owner.get("kind", "")), owner_name=str(owner.get("name", "")))


def _builds(now: datetime, most: int) -> list[rules.BuildSnap]:
    """Definitions with a failed run lately, with the statuses of their newest finished runs."""
    finished = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)
    candidates = set(BuildRun.objects.filter(status=RunStatus.FAILED, created__gte=now - BUILD_LOOKBACK)
                     .values_list("definition_id", flat=True).distinct())
    out = []
    for definition_id in sorted(candidates):
        runs = list(BuildRun.objects.filter(definition_id=definition_id, status__in=finished)
                    .select_related("definition").order_by("-number")[:most])
        if not runs:
            continue
        d = runs[0].definition
        out.append(rules.BuildSnap(definition_id=d.pk, definition_name=d.name, workspace_id=d.workspace_id,
                                   cluster_id=d.cluster_id, namespace=runs[0].namespace,
                                   recent=tuple(str(r.status) for r in runs), service_map_id=d.service_map_id))
    return out


def gather(now: datetime, enabled: list[AlertRule]) -> tuple[rules.Snapshot, set[int]]:
    """The snapshot the enabled built-in rules need, and the enabled clusters whose read model
    is not fresh (their objects are left out and their alerts kept)."""
    keys = {r.builtin for r in enabled if r.builtin}
    clusters = list(Cluster.objects.all())
    freshness = cluster_freshness(clusters)
    fresh = {c.pk for c in clusters if c.enabled and freshness[c.pk]["freshness"] == "fresh"}
    stale = {c.pk for c in clusters if c.enabled} - fresh
    snap = rules.Snapshot(now=now, places=_places())
    snap.clusters = [rules.ClusterSnap(id=c.pk, name=c.name, status=str(c.status), enabled=c.enabled,
                                       status_message=c.status_message, api_cert_not_after=c.api_cert_not_after)
                     for c in clusters]
    objects = KubeObject.objects.filter(cluster_id__in=fresh)
    if keys & {"node_not_ready", "node_pressure"}:
        for row in objects.filter(kind="Node").values("cluster_id", "name", "data"):
            data = row["data"] or {}
            snap.nodes.append(rules.NodeSnap(
                cluster_id=row["cluster_id"], name=row["name"], ready=bool(data.get("ready")),
                conditions=tuple((str(c.get("type", "")), str(c.get("status", "")))
                                 for c in data.get("conditions") or [] if isinstance(c, dict))))
    if keys & {"pod_crash_looping", "pod_pending"}:
        crash_rule = next((r for r in enabled if r.builtin == "pod_crash_looping"), None)
        window = int((crash_rule.params or {}).get("window_seconds") or 600) if crash_rule else 600
        least = int((crash_rule.params or {}).get("restarts") or 3) if crash_rule else 3
        rises = {k: v for k, v in _restart_rises(window, now).items() if k[0] in fresh} if crash_rule else {}
        wanted = Q(phase="Pending") | Q(data__contains={"containers": [{"reason": "CrashLoopBackOff"}]})
        if crash_rule:
            wanted |= Q(data__restarts__gte=least)
            for fp, cid, ns, name in Alert.objects.filter(rule=crash_rule, state__in=OPEN_STATES).values_list(
                    "fingerprint", "cluster_id", "namespace", "subject_name"):
                snap.open_fingerprints.add(fp)
                wanted |= Q(cluster_id=cid, namespace=ns, name=name)
        for cid, ns, name in rises:
            wanted |= Q(cluster_id=cid, namespace=ns, name=name)
        for row in objects.filter(wanted, kind="Pod").values("cluster_id", "namespace", "name", "phase", "created",
                                                             "data"):
            snap.pods.append(_pod(row, rises.get((row["cluster_id"], row["namespace"], row["name"]))))
    if "deployment_not_progressing" in keys:
        wanted = (Q(data__rollout__failed=True)
                  | Q(data__contains={"conditions": [{"type": "Progressing", "status": "False"}]})
                  | Q(data__contains={"conditions": [{"type": "ReplicaFailure", "status": "True"}]}))
        for row in objects.filter(wanted, kind="Deployment").values("cluster_id", "namespace", "name", "data"):
            data = row["data"] or {}
            rollout = data.get("rollout") or {}
            snap.deployments.append(rules.DeploymentSnap(
                cluster_id=row["cluster_id"], namespace=row["namespace"], name=row["name"],
                conditions=tuple((str(c.get("type", "")), str(c.get("status", "")), str(c.get("reason", "")))
                                 for c in data.get("conditions") or [] if isinstance(c, dict)),
                failed=bool(rollout.get("failed")), message=str(rollout.get("message") or "")))
    if "quota_usage_high" in keys:
        for row in objects.filter(kind="ResourceQuota").values("cluster_id", "namespace", "name", "data"):
            data = row["data"] or {}
            hard = {str(k): v for k, raw in (data.get("hard") or {}).items() if (v := _float(raw)) is not None}
            used = {str(k): v for k, raw in (data.get("used") or {}).items() if (v := _float(raw)) is not None}
            snap.quotas.append(rules.QuotaSnap(row["cluster_id"], row["namespace"], row["name"], hard, used))
    if "pvc_nearly_full" in keys:
        snap.pvcs = [p for p in _pvc_ratios(now) if p.cluster_id in fresh]
    if "build_failing" in keys:
        rule = next(r for r in enabled if r.builtin == "build_failing")
        snap.builds = _builds(now, int((rule.params or {}).get("runs") or 3))
    return snap, stale


# ---------------------------------------------------------------------------- custom rules

_AGG = {"avg": "avg({c})", "max": "max({c})", "min": "min({c})", "last": "(array_agg({c} ORDER BY x.ts DESC))[1]"}


def custom_values(rule: AlertRule, now: datetime) -> list[rules.SeriesValue]:
    """``rule``'s metric aggregated over its window, per series in its scope and level."""
    spec = rules.RuleSpec.of(rule)
    if spec.metric in rules.SAMPLE_METRICS:
        args: list[Any] = []
        table, column, where = "monitoring_sample", f"x.{spec.metric}", [f"x.{spec.metric} IS NOT NULL"]
    elif spec.metric in rules.POINT_METRICS:
        table, column, where = "monitoring_point", "x.value", ["x.metric = %s", "x.value IS NOT NULL"]
        args = [spec.metric]
    else:
        return []
    agg = _AGG.get(spec.aggregation, _AGG["avg"]).format(c=column)
    where += ["x.ts > %s", "x.ts <= %s", "s.level = %s"]
    args += [now - timedelta(seconds=rule.window_seconds), now, spec.level]
    for column_name, value in (("s.workspace_id", rule.workspace_id), ("s.cluster_id", rule.cluster_id),
                               ("s.service_map_id", rule.service_map_id)):
        if value is not None:
            where.append(f"{column_name} = %s")
            args.append(value)
    if rule.workload_name:
        where += ["s.namespace = %s", "s.workload_kind = %s", "s.workload_name = %s"]
        args += [rule.workload_namespace, rule.workload_kind, rule.workload_name]
    # Identifiers come from the fixed tables above and rules.SAMPLE_METRICS (a whitelist); values are bound.
    sql = ("SELECT s.cluster_id, s.level, s.namespace, s.name, s.container, s.workload_kind, s.workload_name, "  # noqa: S608
           f"s.service_map_id, s.workspace_id, {agg} FROM {table} x "
           f"JOIN monitoring_metricseries s ON s.id = x.series_id WHERE {' AND '.join(where)} "
           "GROUP BY s.id")
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        return [rules.SeriesValue(cluster_id=int(r[0]), level=str(r[1]), namespace=str(r[2]), name=str(r[3]),
                                  container=str(r[4]), workload_kind=str(r[5]), workload_name=str(r[6]),
                                  service_map_id=r[7], workspace_id=r[8], value=float(r[9]))
                for r in cursor.fetchall() if r[9] is not None]


# ---------------------------------------------------------------------------- the run


def run(*, now: datetime | None = None, checkpoint: Callable[[AlertRule], None] | None = None
        ) -> dict[str, Any] | None:
    """One evaluation of every rule; the counts, or None when another evaluator holds the lock.
    ``checkpoint(rule)`` runs inside each rule's transaction (tests kill a run there)."""
    with advisory_lock() as got:
        if not got:
            logger.info("alert evaluation skipped: another evaluator is running")
            return None
        now = now or timezone.now()
        alert_actions.ensure_builtin_rules()
        all_rules = list(AlertRule.objects.select_related("workspace", "cluster", "service_map").order_by("id"))
        enabled = [r for r in all_rules if r.enabled]
        snap, stale = gather(now, enabled)
        total = alert_actions.Applied()
        evaluated = 0
        for rule in all_rules:
            keep: set[int] = set()
            if not rule.enabled:
                findings: list[rules.Finding] = []
            elif rule.builtin:
                builtin = rules.BUILTINS.get(rule.builtin)
                if builtin is None:
                    continue
                findings = rules.evaluate_builtin(rules.RuleSpec.of(rule), snap)
                keep = stale if builtin.reads_cluster else set()
                evaluated += 1
            else:
                if rule.threshold is None or rule.operator not in rules.OPERATORS:
                    continue
                findings = rules.evaluate_custom(rules.RuleSpec.of(rule), custom_values(rule, now))
                keep = stale
                evaluated += 1
            total.add(alert_actions.apply_findings(rule, findings, now=now, keep_clusters=keep,
                                                   checkpoint=checkpoint))
        return {"rules": evaluated, "stale_clusters": len(stale), **asdict(total)}

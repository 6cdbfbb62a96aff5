"""The alert lifecycle against PostgreSQL (monitoring/alert_actions.py, monitoring/evaluate.py):
pending → firing → acknowledged → resolved with a transition each, de-duplication by fingerprint,
two evaluators at once making one alert, a run killed half-way and rerun losing and duplicating
nothing, stale clusters keeping their alerts, disabled rules resolving theirs, silences muting
notifications but not evaluation, and the built-in rules made once."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from clusters.models import Cluster
from monitoring import alert_actions, evaluate, rules
from monitoring.models import (
    Alert,
    AlertRule,
    AlertState,
    AlertTransition,
    ChannelKind,
    Notification,
    NotificationChannel,
    Silence,
)
from portal import errors
from portal.models import AuditRecord
from portal.testing import make_user, unique
from workspaces.models import ClusterAllocation, ServiceMap, Workspace


def _cluster(status: str = "connected") -> Cluster:
    return Cluster.objects.create(name=unique("c"), server="https://127.0.0.1:1", status=status)


def _rule(for_seconds: int = 0, **extra: Any) -> AlertRule:
    return AlertRule.objects.create(name=unique("rule"), metric="cpu_usage", aggregation="avg", operator=">",
                                    threshold=0.5, for_seconds=for_seconds, **extra)


def _finding(rule: AlertRule, cluster: Cluster, name: str, *, workspace: Workspace | None = None,
             value: float = 1.0) -> rules.Finding:
    labels = {"cluster": str(cluster.pk), "namespace": "shop", "kind": "Pod", "name": name}
    return rules.Finding(rule_id=rule.pk, fingerprint=rules.fingerprint(rule.pk, labels), labels=labels,
                         cluster_id=cluster.pk, workspace_id=workspace.pk if workspace else None, namespace="shop",
                         kind="Pod", name=name, value=value, message=f"{name} is busy", message_code="alert_x")


def _states(alert: Alert) -> list[tuple[str, str]]:
    return list(AlertTransition.objects.filter(alert=alert).order_by("id").values_list("from_state", "to_state"))


@pytest.mark.django_db
def test_pending_firing_acknowledged_resolved_with_transitions() -> None:
    cluster, rule = _cluster(), _rule(for_seconds=60)
    user = make_user(unique("oncall"))
    t0 = timezone.now()
    done = alert_actions.apply_findings(rule, [_finding(rule, cluster, "web-1")], now=t0)
    assert (done.opened, done.fired) == (1, 0)
    alert = Alert.objects.get(rule=rule)
    assert alert.state == AlertState.PENDING
    assert alert.fired_at is None
    assert len(alert.fingerprint) == 64

    with pytest.raises(errors.Conflict) as exc:  # not yet firing
        alert_actions.acknowledge(alert, user=user, note="early")
    assert exc.value.code == "alert_pending"

    alert_actions.apply_findings(rule, [_finding(rule, cluster, "web-1", value=2.0)], now=t0 + timedelta(seconds=30))
    alert.refresh_from_db()
    assert alert.state == AlertState.PENDING
    assert alert.value == 2.0
    done = alert_actions.apply_findings(rule, [_finding(rule, cluster, "web-1")], now=t0 + timedelta(seconds=61))
    assert done.fired == 1
    alert.refresh_from_db()
    assert alert.state == AlertState.FIRING
    assert alert.fired_at == t0 + timedelta(seconds=61)

    alert_actions.acknowledge(alert, user=user, note="looking at it")
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by, alert.acknowledge_note) == (AlertState.ACKNOWLEDGED, user,
                                                                            "looking at it")
    with pytest.raises(errors.Conflict) as exc:
        alert_actions.acknowledge(alert, user=user)
    assert exc.value.code == "alert_already_acknowledged"
    assert AuditRecord.objects.filter(action="alert.acknowledge", target_id=str(alert.pk)).exists()

    # still true: acknowledged stays acknowledged; then the condition clears: resolved by the evaluator
    alert_actions.apply_findings(rule, [_finding(rule, cluster, "web-1")], now=t0 + timedelta(seconds=90))
    alert.refresh_from_db()
    assert alert.state == AlertState.ACKNOWLEDGED
    done = alert_actions.apply_findings(rule, [], now=t0 + timedelta(seconds=120))
    assert done.resolved == 1
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED
    assert alert.resolved_by is None
    assert _states(alert) == [("", "pending"), ("pending", "firing"), ("firing", "acknowledged"),
                              ("acknowledged", "resolved")]
    ack = AlertTransition.objects.get(alert=alert, to_state="acknowledged")
    assert (ack.actor, ack.note) == (user, "looking at it")
    with pytest.raises(errors.Conflict) as exc:
        alert_actions.acknowledge(alert, user=user)
    assert exc.value.code == "alert_resolved"

    # it comes back: a new alert, same fingerprint, the old one stays resolved
    alert_actions.apply_findings(rule, [_finding(rule, cluster, "web-1")], now=t0 + timedelta(seconds=200))
    assert Alert.objects.filter(fingerprint=alert.fingerprint).count() == 2
    assert Alert.objects.filter(fingerprint=alert.fingerprint, state=AlertState.PENDING).count() == 1


@pytest.mark.django_db
def test_dedup_by_fingerprint_and_resolve_by_hand() -> None:
    cluster, rule = _cluster(), _rule()
    for _ in range(3):
        alert_actions.apply_findings(rule, [_finding(rule, cluster, "a"), _finding(rule, cluster, "a"),
                                            _finding(rule, cluster, "b")])
    assert Alert.objects.filter(rule=rule).count() == 2
    alert = Alert.objects.get(rule=rule, subject_name="a")
    assert alert.state == AlertState.FIRING
    assert _states(alert) == [("", "firing")]
    user = make_user(unique("ops"))
    alert_actions.resolve(alert, user=user, note="fixed by hand")
    alert.refresh_from_db()
    assert (alert.state, alert.resolved_by) == (AlertState.RESOLVED, user)
    with pytest.raises(errors.Conflict) as exc:
        alert_actions.resolve(alert, user=user)
    assert exc.value.code == "alert_resolved"


@pytest.mark.django_db
def test_stale_cluster_keeps_its_alerts_and_disabled_rule_resolves() -> None:
    dark, live, rule = _cluster("unreachable"), _cluster(), _rule()
    alert_actions.apply_findings(rule, [_finding(rule, dark, "x"), _finding(rule, live, "y")])
    done = alert_actions.apply_findings(rule, [], keep_clusters=[dark.pk])
    assert done.resolved == 1
    assert Alert.objects.get(cluster=dark).state == AlertState.FIRING
    assert Alert.objects.get(cluster=live).state == AlertState.RESOLVED
    user = make_user(unique("ops"))
    alert_actions.update_rule(rule, {"enabled": False}, user=user)
    assert Alert.objects.get(cluster=dark).state == AlertState.RESOLVED


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_evaluations_make_one_alert() -> None:
    cluster = _cluster("unreachable")
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def evaluator(run: bool) -> None:
        try:
            barrier.wait()
            if run:
                results.append(evaluate.run())
            else:  # without the lock: the partial unique constraint decides
                rule = AlertRule.objects.get(builtin="cluster_unreachable")
                labels = {"cluster": str(cluster.pk)}
                f = rules.Finding(rule_id=rule.pk, fingerprint=rules.fingerprint(rule.pk, labels), labels=labels,
                                  cluster_id=cluster.pk, kind="Cluster", name=cluster.name,
                                  message_code="alert_cluster_unreachable")
                results.append(alert_actions.apply_findings(rule, [f]))
        finally:
            connection.close()

    alert_actions.ensure_builtin_rules()
    threads = [threading.Thread(target=evaluator, args=(i < 2,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 4
    rule = AlertRule.objects.get(builtin="cluster_unreachable")
    assert Alert.objects.filter(rule=rule).count() == 1
    alert = Alert.objects.get(rule=rule)
    assert AlertTransition.objects.filter(alert=alert).count() == 1
    assert alert.cluster_id == cluster.pk
    assert alert.message_code == "alert_cluster_unreachable"


@pytest.mark.django_db(transaction=True)
def test_a_run_killed_half_way_then_rerun_loses_and_duplicates_nothing() -> None:
    for _ in range(3):
        _cluster("unreachable")
    alert_actions.ensure_builtin_rules()
    AlertRule.objects.filter(builtin="cluster_unreachable").update(for_seconds=0)
    api_cert = AlertRule.objects.get(builtin="api_cert_expiring")
    soon = timezone.now() + timedelta(days=3)
    Cluster.objects.update(api_cert_not_after=soon)

    class Killed(Exception):
        pass

    def kill(rule: AlertRule) -> None:
        if rule.pk == api_cert.pk:
            raise Killed

    with pytest.raises(Killed):
        evaluate.run(checkpoint=kill)
    # the rule it died in wrote nothing; the rules before it committed
    assert not Alert.objects.filter(rule=api_cert).exists()
    before = Alert.objects.filter(rule__builtin="cluster_unreachable").count()
    assert before == 3
    # the lock was released with the run
    counts = evaluate.run()
    assert counts is not None
    counts = evaluate.run()
    assert counts is not None
    assert counts["opened"] == 0
    assert counts["resolved"] == 0
    assert Alert.objects.filter(rule__builtin="cluster_unreachable").count() == 3
    assert Alert.objects.filter(rule=api_cert, state=AlertState.FIRING).count() == 3
    for alert in Alert.objects.all():
        assert AlertTransition.objects.filter(alert=alert).count() == 1


@pytest.mark.django_db
def test_silence_mutes_notifications_not_evaluation_and_expires() -> None:
    workspace = Workspace.objects.create(name=unique("team"))
    cluster = _cluster()
    ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, status="ready")
    ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace="shop", status="ready")
    NotificationChannel.objects.create(name="team mail", kind=ChannelKind.EMAIL, workspace=workspace,
                                       recipients=["team@example.com"])
    rule, user = _rule(), make_user(unique("lead"))
    silence = alert_actions.create_silence({"reason": "maintenance", "ends_at": timezone.now() + timedelta(hours=1)},
                                           user=user, workspace=workspace)
    alert_actions.apply_findings(rule, [_finding(rule, cluster, "a", workspace=workspace)])
    alert = Alert.objects.get(rule=rule)
    assert alert.state == AlertState.FIRING  # evaluated as ever
    assert not Notification.objects.filter(alert=alert).exists()  # but nobody is told

    alert_actions.expire_silence(silence, user=user)
    silence.refresh_from_db()
    assert silence.expired_early_at is not None
    with pytest.raises(errors.Conflict) as exc:
        alert_actions.expire_silence(silence, user=user)
    assert exc.value.code == "silence_ended"
    alert_actions.apply_findings(rule, [_finding(rule, cluster, "b", workspace=workspace)])
    other = Alert.objects.get(rule=rule, subject_name="b")
    assert Notification.objects.filter(alert=other, event="firing").count() == 1
    assert AuditRecord.objects.filter(action__in=["silence.create", "silence.expire"]).count() == 2

    with pytest.raises(errors.Invalid) as invalid:
        alert_actions.create_silence({"reason": "x", "ends_at": timezone.now() - timedelta(hours=1)}, user=user,
                                     workspace=workspace)
    assert invalid.value.code == "silence_ends_invalid"
    with pytest.raises(errors.Invalid) as invalid:
        alert_actions.create_silence({"reason": "x", "ends_at": timezone.now() + timedelta(hours=1)}, user=user)
    assert invalid.value.code == "silence_matchers_missing"
    assert Silence.objects.count() == 1


@pytest.mark.django_db
def test_builtin_rules_made_once_and_only_retuned() -> None:
    # post_migrate made them (monitoring.apps); made again only when missing, once.
    assert AlertRule.objects.exclude(builtin="").count() == len(rules.BUILTINS)
    AlertRule.objects.filter(builtin="pod_pending").delete()
    assert alert_actions.ensure_builtin_rules() == 1
    assert alert_actions.ensure_builtin_rules() == 0
    assert AlertRule.objects.exclude(builtin="").count() == len(rules.BUILTINS)
    rule = AlertRule.objects.get(builtin="pod_pending")
    assert rule.params == {"pending_seconds": 300}
    user = make_user(unique("ops"), role="operator")
    alert_actions.update_rule(rule, {"params": {"pending_seconds": 120}, "severity": "critical"}, user=user)
    rule.refresh_from_db()
    assert (rule.params, rule.severity) == ({"pending_seconds": 120}, "critical")
    with pytest.raises(errors.Invalid) as exc:
        alert_actions.update_rule(rule, {"metric": "cpu_usage"}, user=user)
    assert (exc.value.code, list(exc.value.errors)) == ("rule_builtin_field", ["metric"])
    with pytest.raises(errors.Conflict) as conflict:
        alert_actions.delete_rule(rule, user=user)
    assert conflict.value.code == "rule_builtin_undeletable"


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_evaluates_on_a_real_worker(celery_worker_process: Any) -> None:
    from django.conf import settings

    from portal import enqueue
    from portal.testing import wait_for

    schedule = settings.CELERY_BEAT_SCHEDULE["monitoring.evaluate_alerts"]
    assert schedule == {"task": "monitoring.evaluate_alerts", "schedule": settings.PORTAL_ALERT_EVAL_SECONDS}
    cluster = _cluster("unreachable")
    alert_actions.ensure_builtin_rules()
    AlertRule.objects.filter(builtin="cluster_unreachable").update(for_seconds=0)
    assert enqueue.send("monitoring.evaluate_alerts")
    alert = wait_for(lambda: Alert.objects.filter(cluster=cluster, rule__builtin="cluster_unreachable").first(),
                     timeout=30, what="the worker's evaluation")
    assert alert.state == AlertState.FIRING

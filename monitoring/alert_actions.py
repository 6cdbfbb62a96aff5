"""Writer: alert lifecycle (pending, firing, acknowledged, resolved), transitions, silences, rules (ALERTS).

Every change of an alert's state writes an :class:`~monitoring.models.AlertTransition` in the same
transaction, and a change to ``firing``, ``acknowledged`` or ``resolved`` asks
:func:`monitoring.outbox.record` for its notifications inside it too, so a transition and its
notifications commit together or not at all. ``alert.updated`` (the alert row) goes to the
``alerts`` group and to ``workspace.<id>`` after commit.

:func:`apply_findings` is the evaluator's half: for one rule it opens alerts for new findings
(``pending``, or ``firing`` at once when the rule has no for-duration), promotes pending ones whose
for-duration has passed, refreshes ``last_seen_at`` and the value, and resolves the rule's open
alerts whose condition no longer holds, except those of clusters whose read model is stale (an
unreachable cluster must not resolve its pods' alerts). One transaction per rule; a second
evaluator inserting the same fingerprint meets the partial unique constraint and takes the row
the first one wrote, so a rerun after a crash converges instead of duplicating.

The rest are people's actions (acknowledge, resolve by hand, silences, rules), each audited: with
the request (``audit.describe``) from the API, ``audit.record`` otherwise. Who may do them is
decided in :mod:`monitoring.access` (the views ask it before calling here).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from clusters.models import Cluster
from monitoring import outbox, rules
from monitoring.models import OPEN_STATES, Alert, AlertRule, AlertState, AlertTransition, Severity, Silence
from portal import audit, errors
from portal.events import publish
from portal.models import AuditOutcome
from workspaces.models import ServiceMap, Workspace

ROW_RELATED = ("rule", "cluster", "workspace", "service_map", "acknowledged_by", "resolved_by")
NOTE_MAX = 2000
SILENCE_MAX = timedelta(days=366)


# ---------------------------------------------------------------------------- rows


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def alert_row(alert: Alert) -> dict[str, Any]:
    """An alert as the API lists it and ``alert.updated`` carries it."""
    return {
        "id": alert.pk,
        "rule": ({"id": alert.rule.pk, "name": alert.rule.name, "builtin": alert.rule.builtin}
                 if alert.rule is not None else None),
        "fingerprint": alert.fingerprint,
        "state": alert.state,
        "severity": alert.severity,
        "cluster": {"id": alert.cluster.pk, "name": alert.cluster.name} if alert.cluster is not None else None,
        "workspace": ({"id": alert.workspace.pk, "name": alert.workspace.name}
                      if alert.workspace is not None else None),
        "service_map": ({"id": alert.service_map.pk, "namespace": alert.service_map.namespace}
                        if alert.service_map is not None else None),
        "namespace": alert.namespace,
        "subject_kind": alert.subject_kind,
        "subject_name": alert.subject_name,
        "labels": alert.labels,
        "value": alert.value,
        "message": alert.message,
        "message_code": alert.message_code,
        "message_params": alert.message_params,
        "started_at": _iso(alert.started_at),
        "fired_at": _iso(alert.fired_at),
        "last_seen_at": _iso(alert.last_seen_at),
        "acknowledged_by": _username(alert.acknowledged_by),
        "acknowledged_at": _iso(alert.acknowledged_at),
        "acknowledge_note": alert.acknowledge_note,
        "resolved_at": _iso(alert.resolved_at),
        "resolved_by": _username(alert.resolved_by),
        "updated": _iso(alert.updated),
    }


def transition_row(t: AlertTransition) -> dict[str, Any]:
    return {"id": t.pk, "from_state": t.from_state, "to_state": t.to_state, "actor": _username(t.actor),
            "note": t.note, "at": _iso(t.at)}


def _publish(alert: Alert) -> None:
    fresh = Alert.objects.select_related(*ROW_RELATED).get(pk=alert.pk)
    row = alert_row(fresh)
    publish("alerts", "alert.updated", row)
    if fresh.workspace_id is not None:
        publish(f"workspace.{fresh.workspace_id}", "alert.updated", row)


def _transition(alert: Alert, to_state: str, *, now: datetime, actor: Any = None, note: str = "",
                from_state: str | None = None) -> AlertTransition:
    before = alert.state if from_state is None else from_state
    alert.state = to_state
    return AlertTransition.objects.create(alert=alert, from_state=before, to_state=to_state, actor=actor,
                                          note=note[:NOTE_MAX], at=now)


def _audit(request: HttpRequest | None, *, action: str, target: Any, user: Any = None,
           detail: dict[str, Any] | None = None) -> None:
    if request is not None:
        audit.describe(request, action=action, target=target, detail=detail or {})
    else:
        audit.record(action=action, outcome=AuditOutcome.SUCCESS, actor=user, target=target, detail=detail or {},
                     actor_username="" if user is not None else "alert-evaluator")


def _audit_now(request: HttpRequest | None, *, action: str, target: Any, user: Any,
               detail: dict[str, Any]) -> None:
    """Audit a deletion while the target still has its id (the request's record is then this one)."""
    audit.record(action=action, outcome=AuditOutcome.SUCCESS, request=request, actor=user, target=target,
                 detail=detail)
    if request is not None:
        audit.describe(request, handled=True)


def _invalid(field_name: str, message: str, code: str, params: dict[str, Any] | None = None) -> errors.Invalid:
    return errors.Invalid(f"Invalid input: {field_name}: {message}", code=code, params=params or {},
                          errors={field_name: [message]})


# ---------------------------------------------------------------------------- built-in rules


def ensure_builtin_rules() -> int:
    """Create the built-in rules that do not exist yet (idempotent, safe to race); the number made."""
    existing = set(AlertRule.objects.exclude(builtin="").values_list("builtin", flat=True))
    missing = [AlertRule(name=b.name, description=b.description, builtin=b.key, severity=b.severity,
                         params=b.defaults(), for_seconds=b.for_seconds)
               for b in rules.BUILTINS.values() if b.key not in existing]
    if not missing:
        return 0
    made = AlertRule.objects.bulk_create(missing, ignore_conflicts=True)
    return len(made)


# ---------------------------------------------------------------------------- evaluation


@dataclass
class Applied:
    opened: int = 0
    fired: int = 0
    refreshed: int = 0
    resolved: int = 0

    def add(self, other: Applied) -> None:
        self.opened += other.opened
        self.fired += other.fired
        self.refreshed += other.refreshed
        self.resolved += other.resolved


def _fire(alert: Alert, now: datetime) -> None:
    alert.fired_at = now
    _transition(alert, AlertState.FIRING, now=now)
    alert.save()
    outbox.record(alert, "firing")


def _open(rule: AlertRule, f: rules.Finding, now: datetime) -> Alert | None:
    """Insert the alert of a new finding; None when a concurrent evaluator's open alert of the
    same fingerprint won (the caller then refreshes that one)."""
    try:
        with transaction.atomic():  # a savepoint: the unique violation must not end the run's transaction
            alert = Alert.objects.create(
                rule=rule, fingerprint=f.fingerprint, state=AlertState.PENDING, severity=rule.severity,
                cluster_id=f.cluster_id, workspace_id=f.workspace_id, service_map_id=f.service_map_id,
                namespace=f.namespace, subject_kind=f.kind, subject_name=f.name, labels=f.labels, value=f.value,
                message=f.message, message_code=f.message_code, message_params=f.message_params,
                started_at=now, last_seen_at=now)
    except IntegrityError:
        return None
    if rule.for_seconds <= 0:
        alert.fired_at = now
        _transition(alert, AlertState.FIRING, now=now, from_state="")
        alert.save()
        outbox.record(alert, "firing")
    else:
        _transition(alert, AlertState.PENDING, now=now, from_state="")
    return alert


def _refresh(rule: AlertRule, alert: Alert, f: rules.Finding, now: datetime) -> bool:
    """Update a still-true alert; True when its state changed (promoted to firing)."""
    alert.last_seen_at = now
    alert.value, alert.message = f.value, f.message
    alert.message_code, alert.message_params = f.message_code, f.message_params
    alert.severity = rule.severity
    if alert.state == AlertState.PENDING and (now - alert.started_at).total_seconds() >= rule.for_seconds:
        _fire(alert, now)
        return True
    alert.save(update_fields=["last_seen_at", "value", "message", "message_code", "message_params", "severity",
                              "updated"])
    return False


def _resolve(alert: Alert, now: datetime, *, actor: Any = None, note: str = "") -> None:
    was = alert.state
    alert.resolved_at = now
    alert.resolved_by = actor
    _transition(alert, AlertState.RESOLVED, now=now, actor=actor, note=note)
    alert.save()
    if was in (AlertState.FIRING, AlertState.ACKNOWLEDGED):  # a pending alert never notified anyone
        outbox.record(alert, "resolved")


def apply_findings(rule: AlertRule, findings: Iterable[rules.Finding], *, now: datetime | None = None,
                   keep_clusters: Iterable[int] = (), checkpoint: Any = None) -> Applied:
    """Bring ``rule``'s alerts in line with ``findings`` (what holds now), in one transaction.
    Open alerts without a finding are resolved unless their cluster is in ``keep_clusters`` (a
    stale read model says nothing about them). ``checkpoint(rule)``, when given, runs inside the
    transaction after the writes (tests raise there to kill a run half-way)."""
    now = now or timezone.now()
    keep = set(keep_clusters)
    done = Applied()
    changed: list[Alert] = []
    with transaction.atomic():
        found = AlertRule.objects.filter(pk=rule.pk).first()
        if found is None:  # deleted meanwhile: its alerts were resolved with it
            return done
        rule = found
        wanted = {f.fingerprint: f for f in findings}
        current = {a.fingerprint: a for a in Alert.objects.select_for_update().filter(
            rule=rule, state__in=OPEN_STATES).order_by("id")}
        for fp, f in wanted.items():
            alert = current.get(fp)
            if alert is None:
                alert = _open(rule, f, now)
                if alert is not None:
                    done.opened += 1
                    done.fired += alert.state == AlertState.FIRING
                    changed.append(alert)
                    continue
                alert = Alert.objects.select_for_update().get(fingerprint=fp, state__in=OPEN_STATES)
            if _refresh(rule, alert, f, now):
                done.fired += 1
                changed.append(alert)
            else:
                done.refreshed += 1
        for fp, alert in current.items():
            if fp in wanted or (alert.cluster_id is not None and alert.cluster_id in keep):
                continue
            _resolve(alert, now, note="The condition no longer holds.")
            done.resolved += 1
            changed.append(alert)
        if checkpoint is not None:
            checkpoint(rule)
        for alert in changed:
            _publish(alert)
    return done


def resolve_rule_alerts(rule: AlertRule, *, note: str, now: datetime | None = None, actor: Any = None) -> int:
    """Resolve every open alert of ``rule`` (it was disabled or deleted); inside the caller's
    transaction when there is one."""
    now = now or timezone.now()
    count = 0
    with transaction.atomic():
        for alert in Alert.objects.select_for_update().filter(rule=rule, state__in=OPEN_STATES).order_by("id"):
            _resolve(alert, now, actor=actor, note=note)
            _publish(alert)
            count += 1
    return count


# ---------------------------------------------------------------------------- people's actions


def _locked(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().get(pk=alert.pk)


def _clean_note(note: Any) -> str:
    if note is None:
        return ""
    if not isinstance(note, str) or len(note) > NOTE_MAX:
        raise _invalid("note", f"Give a note of at most {NOTE_MAX} characters.", "alert_note_invalid")
    return note.strip()


def acknowledge(alert: Alert, *, user: Any, note: str = "", request: HttpRequest | None = None) -> Alert:
    """A person takes a firing alert: ``acknowledged`` by them, with their note. 409
    ``alert_resolved`` / ``alert_already_acknowledged`` / ``alert_pending`` otherwise."""
    note = _clean_note(note)
    with transaction.atomic():
        alert = _locked(alert)
        if alert.state == AlertState.RESOLVED:
            raise errors.Conflict("This alert is resolved; there is nothing to acknowledge.", code="alert_resolved")
        if alert.state == AlertState.ACKNOWLEDGED:
            raise errors.Conflict(f"This alert was already acknowledged by "
                                  f"{_username(alert.acknowledged_by) or 'someone'}.",
                                  code="alert_already_acknowledged",
                                  params={"user": _username(alert.acknowledged_by) or ""})
        if alert.state == AlertState.PENDING:
            raise errors.Conflict("This alert is still pending (its condition has not held for the rule's "
                                  "for-duration yet); acknowledge it once it fires.", code="alert_pending")
        now = timezone.now()
        alert.acknowledged_by, alert.acknowledged_at, alert.acknowledge_note = user, now, note
        _transition(alert, AlertState.ACKNOWLEDGED, now=now, actor=user, note=note)
        alert.save()
        outbox.record(alert, "acknowledged")
        _audit(request, action="alert.acknowledge", target=alert, user=user,
               detail={"fingerprint": alert.fingerprint, "note": note[:500]})
        _publish(alert)
    return alert


def resolve(alert: Alert, *, user: Any, note: str = "", request: HttpRequest | None = None) -> Alert:
    """A person resolves an open alert by hand. If its condition still holds, the next evaluation
    opens a new alert. 409 ``alert_resolved`` when it is resolved already."""
    note = _clean_note(note)
    with transaction.atomic():
        alert = _locked(alert)
        if alert.state == AlertState.RESOLVED:
            raise errors.Conflict("This alert is resolved already.", code="alert_resolved")
        _resolve(alert, timezone.now(), actor=user, note=note)
        _audit(request, action="alert.resolve", target=alert, user=user,
               detail={"fingerprint": alert.fingerprint, "note": note[:500]})
        _publish(alert)
    return alert


# ---------------------------------------------------------------------------- rules


CUSTOM_FIELDS = ("metric", "aggregation", "operator", "threshold", "window_seconds", "for_seconds")
SCOPE_FIELDS = ("workspace", "cluster", "service_map", "workload_namespace", "workload_kind", "workload_name")
BUILTIN_CHANGEABLE = ("enabled", "severity", "params")


def _scope_facts(workspace: Workspace | None, cluster: Cluster | None, service_map: ServiceMap | None,
                 data: Mapping[str, Any]) -> rules.ScopeFacts:
    return rules.ScopeFacts(
        workspace_id=workspace.pk if workspace else None, cluster_id=cluster.pk if cluster else None,
        service_map_id=service_map.pk if service_map else None,
        service_map_workspace_id=service_map.workspace_id if service_map else None,
        service_map_cluster_id=service_map.cluster_id if service_map else None,
        workload_namespace=str(data.get("workload_namespace") or ""),
        workload_kind=str(data.get("workload_kind") or ""), workload_name=str(data.get("workload_name") or ""))


def _check_name(data: Mapping[str, Any], required: bool) -> None:
    if "name" not in data and not required:
        return
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise _invalid("name", "Give the rule a name of 1 to 100 characters.", "rule_name_invalid")


def _check_severity(value: Any) -> str:
    if value not in Severity.values:
        raise _invalid("severity", f"One of {', '.join(Severity.values)}.", "rule_severity_invalid")
    return str(value)


def _apply_custom(rule: AlertRule, data: Mapping[str, Any], *, workspace: Workspace | None, cluster: Cluster | None,
                  service_map: ServiceMap | None) -> None:
    merged: dict[str, Any] = {"metric": rule.metric, "aggregation": rule.aggregation, "operator": rule.operator,
                              "threshold": rule.threshold, "window_seconds": rule.window_seconds,
                              "for_seconds": rule.for_seconds, "level": (rule.params or {}).get("level") or "pod",
                              "workload_namespace": rule.workload_namespace, "workload_kind": rule.workload_kind,
                              "workload_name": rule.workload_name}
    if "params" in data:
        params = data["params"]
        if not isinstance(params, Mapping) or set(params) - {"level"}:
            raise _invalid("params", "A custom rule takes only {\"level\": ...} here.", "rule_params_invalid")
        if "level" in params:
            merged["level"] = params["level"]
    merged.update({k: data[k] for k in (*CUSTOM_FIELDS, "level", "workload_namespace", "workload_kind",
                                        "workload_name") if k in data})
    condition = rules.validate_custom(merged, _scope_facts(workspace, cluster, service_map, merged))
    rule.metric, rule.aggregation, rule.operator = condition.metric, condition.aggregation, condition.operator
    rule.threshold, rule.window_seconds, rule.for_seconds = (condition.threshold, condition.window_seconds,
                                                             condition.for_seconds)
    rule.params = {"level": condition.level}
    rule.workspace, rule.cluster, rule.service_map = workspace, cluster, service_map
    if service_map is not None:
        rule.workspace = service_map.workspace
        rule.cluster = cluster or service_map.cluster
    rule.workload_namespace = str(merged.get("workload_namespace") or "")
    rule.workload_kind = str(merged.get("workload_kind") or "")
    rule.workload_name = str(merged.get("workload_name") or "")


def create_rule(data: Mapping[str, Any], *, user: Any, workspace: Workspace | None = None,
                cluster: Cluster | None = None, service_map: ServiceMap | None = None,
                request: HttpRequest | None = None) -> AlertRule:
    """A custom rule (built-ins are made by :func:`ensure_builtin_rules` only). ``workspace``,
    ``cluster`` and ``service_map`` were looked up (and checked for access) by the caller."""
    _check_name(data, True)
    rule = AlertRule(name=str(data["name"]).strip(), description=str(data.get("description") or ""),
                     enabled=bool(data.get("enabled", True)),
                     severity=_check_severity(data.get("severity", Severity.WARNING)), created_by=user)
    _apply_custom(rule, data, workspace=workspace, cluster=cluster, service_map=service_map)
    with transaction.atomic():
        rule.save()
        _audit(request, action="alert_rule.create", target=rule, user=user,
               detail={"metric": rule.metric, "operator": rule.operator, "threshold": rule.threshold})
    return rule


def update_rule(rule: AlertRule, data: Mapping[str, Any], *, user: Any, request: HttpRequest | None = None,
                workspace: Workspace | None = None, cluster: Cluster | None = None,
                service_map: ServiceMap | None = None) -> AlertRule:
    """Change a rule. A built-in takes only ``enabled``, ``severity`` and ``params`` (400
    ``rule_builtin_field`` naming any other field). A rule disabled has its open alerts resolved."""
    with transaction.atomic():
        rule = AlertRule.objects.select_for_update(of=("self",)).select_related(
            "workspace", "cluster", "service_map").get(pk=rule.pk)
        was_enabled = rule.enabled
        if rule.builtin:
            for key in data:
                if key not in BUILTIN_CHANGEABLE:
                    raise _invalid(key, "A built-in rule takes only enabled, severity and params.",
                                   "rule_builtin_field", {"field": key})
            if "params" in data:
                rule.params = rules.validate_builtin_params(rule.builtin, data["params"], rule.params)
        else:
            _check_name(data, False)
            if "name" in data:
                rule.name = str(data["name"]).strip()
            if "description" in data:
                rule.description = str(data["description"] or "")
            scope_given = any(k in data for k in ("workspace", "cluster", "service_map"))
            _apply_custom(rule, data,
                          workspace=workspace if scope_given else rule.workspace,
                          cluster=cluster if scope_given else rule.cluster,
                          service_map=service_map if scope_given else rule.service_map)
        if "enabled" in data:
            if not isinstance(data["enabled"], bool):
                raise _invalid("enabled", "Give true or false.", "rule_enabled_invalid")
            rule.enabled = data["enabled"]
        if "severity" in data:
            rule.severity = _check_severity(data["severity"])
        rule.save()
        _audit(request, action="alert_rule.update", target=rule, user=user,
               detail={"fields": sorted(str(k) for k in data)})
        if was_enabled and not rule.enabled:
            resolve_rule_alerts(rule, note="The rule was disabled.", actor=user)
    return rule


def delete_rule(rule: AlertRule, *, user: Any, request: HttpRequest | None = None) -> None:
    """Delete a custom rule, resolving its open alerts first (history stays). 409
    ``rule_builtin_undeletable`` for a built-in (disable it instead)."""
    if rule.builtin:
        raise errors.Conflict("Built-in rules cannot be deleted; disable the rule instead.",
                              code="rule_builtin_undeletable")
    with transaction.atomic():
        rule = AlertRule.objects.select_for_update().get(pk=rule.pk)
        resolve_rule_alerts(rule, note="The rule was deleted.", actor=user)
        _audit_now(request, action="alert_rule.delete", target=rule, user=user, detail={"name": rule.name})
        rule.delete()


# ---------------------------------------------------------------------------- silences


def _check_reason(data: Mapping[str, Any], required: bool) -> str | None:
    if "reason" not in data and not required:
        return None
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > NOTE_MAX:
        raise _invalid("reason", f"Say why (1 to {NOTE_MAX} characters).", "silence_reason_invalid")
    return reason.strip()


def _check_window(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if ends_at <= starts_at or ends_at <= now:
        raise _invalid("ends_at", "A silence must end in the future and after it starts.", "silence_ends_invalid")
    if ends_at - starts_at > SILENCE_MAX:
        raise _invalid("ends_at", "A silence may last at most 366 days.", "silence_too_long")


def create_silence(data: Mapping[str, Any], *, user: Any, rule: AlertRule | None = None,
                   cluster: Cluster | None = None, workspace: Workspace | None = None,
                   service_map: ServiceMap | None = None, fingerprint: str = "",
                   request: HttpRequest | None = None) -> Silence:
    """Mute the notifications of matching alerts until ``ends_at`` (every matcher given must match).
    400 ``silence_matchers_missing`` without any matcher, ``silence_ends_invalid`` for a past end."""
    reason = _check_reason(data, True)
    now = timezone.now()
    starts_at = data.get("starts_at") or now
    ends_at = data.get("ends_at")
    if not isinstance(ends_at, datetime) or not isinstance(starts_at, datetime):
        raise _invalid("ends_at", "Give when the silence ends.", "silence_ends_invalid")
    _check_window(starts_at, ends_at, now)
    if not any((rule, cluster, workspace, service_map, fingerprint)):
        raise _invalid("rule", "Say what to silence: a rule, cluster, workspace, service map or alert fingerprint.",
                       "silence_matchers_missing")
    if service_map is not None and workspace is not None and service_map.workspace_id != workspace.pk:
        raise _invalid("service_map", "This service map belongs to another workspace than the one given.",
                       "silence_scope_mismatch")
    silence = Silence(rule=rule, cluster=cluster, workspace=workspace or (service_map.workspace if service_map
                                                                          else None),
                      service_map=service_map, fingerprint=fingerprint, reason=reason or "",
                      starts_at=starts_at, ends_at=ends_at, created_by=user)
    with transaction.atomic():
        silence.save()
        _audit(request, action="silence.create", target=silence, user=user,
               detail={"ends_at": ends_at.isoformat(), "reason": (reason or "")[:500]})
    return silence


def update_silence(silence: Silence, data: Mapping[str, Any], *, user: Any,
                   request: HttpRequest | None = None) -> Silence:
    """Change a silence's reason or end (its matchers stay: make a new silence for others)."""
    with transaction.atomic():
        silence = Silence.objects.select_for_update().get(pk=silence.pk)
        if silence.expired_early_at is not None or silence.ends_at <= timezone.now():
            raise errors.Conflict("This silence has ended; create a new one.", code="silence_ended")
        reason = _check_reason(data, False)
        if reason is not None:
            silence.reason = reason
        if "ends_at" in data:
            if not isinstance(data["ends_at"], datetime):
                raise _invalid("ends_at", "Give when the silence ends.", "silence_ends_invalid")
            _check_window(silence.starts_at, data["ends_at"], timezone.now())
            silence.ends_at = data["ends_at"]
        silence.save()
        _audit(request, action="silence.update", target=silence, user=user,
               detail={"fields": sorted(str(k) for k in data)})
    return silence


def expire_silence(silence: Silence, *, user: Any, request: HttpRequest | None = None) -> Silence:
    """End a silence now. 409 ``silence_ended`` when it has ended already."""
    with transaction.atomic():
        silence = Silence.objects.select_for_update().get(pk=silence.pk)
        now = timezone.now()
        if silence.expired_early_at is not None or silence.ends_at <= now:
            raise errors.Conflict("This silence has ended already.", code="silence_ended")
        silence.expired_early_at = now
        silence.save(update_fields=["expired_early_at"])
        _audit(request, action="silence.expire", target=silence, user=user, detail={})
    return silence


def delete_silence(silence: Silence, *, user: Any, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        _audit_now(request, action="silence.delete", target=silence, user=user,
                   detail={"reason": silence.reason[:500]})
        silence.delete()

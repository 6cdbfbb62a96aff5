"""Routing an alert transition into the outbox (monitoring.outbox.record): by workspace and
severity, resolved only where wanted, nothing while a silence matches, and nothing recorded twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring import outbox
from monitoring.models import AlertRule, AlertTransition, Notification, Silence
from monitoring.testing import seed_alert, seed_channel
from portal.testing import unique
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db


def _ws() -> Workspace:
    return Workspace.objects.create(name=unique("ws"))


def _channels_of(alert_id: int, event: str = "firing") -> set[int]:
    return set(Notification.objects.filter(alert_id=alert_id, event=event).values_list("channel_id", flat=True))


def test_routes_to_the_workspace_and_global_channels_by_severity() -> None:
    team, other = _ws(), _ws()
    team_info = seed_channel(workspace=team, url="https://hooks.example.com/a", min_severity="info")
    team_critical = seed_channel(workspace=team, url="https://hooks.example.com/b", min_severity="critical")
    other_channel = seed_channel(workspace=other, url="https://hooks.example.com/c", min_severity="info")
    global_warning = seed_channel(url="https://hooks.example.com/d", min_severity="warning")
    seed_channel(workspace=team, url="https://hooks.example.com/e", min_severity="info", enabled=False)

    warning = seed_alert(workspace=team, severity="warning")
    assert outbox.record(warning, "firing") == 2
    assert _channels_of(warning.pk) == {team_info.pk, global_warning.pk}

    critical = seed_alert(workspace=team, severity="critical")
    assert outbox.record(critical, "firing") == 3
    assert _channels_of(critical.pk) == {team_info.pk, team_critical.pk, global_warning.pk}

    info = seed_alert(workspace=team, severity="info")
    assert outbox.record(info, "firing") == 1
    assert _channels_of(info.pk) == {team_info.pk}

    cluster_wide = seed_alert(workspace=None, severity="critical")  # no workspace: global channels only
    assert outbox.record(cluster_wide, "firing") == 1
    assert _channels_of(cluster_wide.pk) == {global_warning.pk}
    assert not Notification.objects.filter(channel=other_channel).exists()


def test_rows_keys_and_resolved_only_where_wanted() -> None:
    team = _ws()
    wants = seed_channel(workspace=team, url="https://hooks.example.com/a")
    quiet = seed_channel(workspace=team, url="https://hooks.example.com/b", notify_resolved=False)
    alert = seed_alert(workspace=team)
    transition = AlertTransition.objects.filter(alert=alert).latest("id")
    before = timezone.now()
    assert outbox.record(alert, "firing") == 2
    row = Notification.objects.get(alert=alert, channel=wants)
    assert row.idempotency_key == f"alert:{alert.pk}:firing:{transition.pk}:channel:{wants.pk}"
    assert (row.state, row.attempts, row.event) == ("pending", 0, "firing")
    assert before - timedelta(seconds=1) <= row.next_attempt_at <= timezone.now()

    resolved = AlertTransition.objects.create(alert=alert, from_state="firing", to_state="resolved", at=timezone.now())
    alert.state = "resolved"
    alert.save()
    assert outbox.record(alert, "resolved") == 1
    row = Notification.objects.get(alert=alert, event="resolved")
    assert row.channel_id == wants.pk
    assert row.idempotency_key == f"alert:{alert.pk}:resolved:{resolved.pk}:channel:{wants.pk}"
    assert not Notification.objects.filter(alert=alert, event="resolved", channel=quiet).exists()


def test_a_repeated_call_records_nothing_twice() -> None:
    team = _ws()
    seed_channel(workspace=team, url="https://hooks.example.com/a")
    seed_channel(kind="email", workspace=team, recipients=["ops@example.com"])
    alert = seed_alert(workspace=team)
    assert outbox.record(alert, "firing") == 2
    assert outbox.record(alert, "firing") == 0
    assert Notification.objects.filter(alert=alert).count() == 2
    # A later transition (acknowledged, then firing again) is a new notification, with its own key.
    AlertTransition.objects.create(alert=alert, from_state="acknowledged", to_state="firing", at=timezone.now())
    assert outbox.record(alert, "firing") == 2
    assert Notification.objects.filter(alert=alert).count() == 4


def test_unknown_events_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown notification event"):
        outbox.record(seed_alert(), "exploded")


def _silence(**matchers: object) -> Silence:
    now = timezone.now()
    defaults: dict[str, object] = {"reason": "maintenance", "starts_at": now - timedelta(minutes=1),
                                   "ends_at": now + timedelta(hours=1)}
    defaults.update(matchers)
    return Silence.objects.create(**defaults)


def test_silences_mute_matching_alerts_only() -> None:
    team, other = _ws(), _ws()
    seed_channel(url="https://hooks.example.com/global")
    rule = AlertRule.objects.create(name="custom", metric="cpu_usage")
    other_rule = AlertRule.objects.create(name="other", metric="mem_usage")

    silence = _silence(workspace=team, rule=rule)  # both matchers must match
    assert outbox.record(seed_alert(workspace=team, rule=rule), "firing") == 0
    assert outbox.record(seed_alert(workspace=team, rule=other_rule), "firing") == 1
    assert outbox.record(seed_alert(workspace=other, rule=rule), "firing") == 1

    silence.expired_early_at = timezone.now()  # expired by hand: no longer mutes
    silence.save()
    assert outbox.record(seed_alert(workspace=team, rule=rule), "firing") == 1

    muted = seed_alert(workspace=other, rule=other_rule)
    _silence(fingerprint=muted.fingerprint)
    assert outbox.record(muted, "firing") == 0

    now = timezone.now()
    _silence(workspace=other, starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2))  # not yet
    _silence(workspace=other, starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1))  # over
    assert outbox.record(seed_alert(workspace=other, rule=rule), "firing") == 1
    assert not outbox.silenced(seed_alert(workspace=other))
    _silence()  # a silence with no matcher matches nothing
    assert outbox.record(seed_alert(workspace=other, rule=rule), "firing") == 1

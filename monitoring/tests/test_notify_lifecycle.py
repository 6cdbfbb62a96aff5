"""An alert's life notifies each step once, through the alerts part's own writers: firing,
acknowledged (by whom, with the note), resolved; a repeated acknowledgement is refused and
records nothing; a silence mutes the rest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring import alert_actions, deliver, outbox
from monitoring.models import Notification, Silence
from monitoring.testing import HttpReceiver, seed_alert, seed_channel
from portal import errors
from portal.testing import make_user, unique
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db


def _deliver_all() -> None:
    for pk in Notification.objects.filter(state="pending").order_by("id").values_list("id", flat=True):
        assert deliver.deliver(pk) == "delivered"


def test_firing_acknowledged_resolved_each_notify_once() -> None:
    team = Workspace.objects.create(name=unique("life"))
    oncall = make_user(unique("oncall"), role="operator")
    with HttpReceiver() as receiver:
        seed_channel(workspace=team, url=receiver.url("/hook"))
        alert = seed_alert(workspace=team, severity="critical")
        assert outbox.record(alert, "firing") == 1
        _deliver_all()
        alert_actions.acknowledge(alert, user=oncall, note="on it")
        with pytest.raises(errors.Conflict):
            alert_actions.acknowledge(alert, user=oncall, note="again")
        _deliver_all()
        alert_actions.resolve(alert, user=oncall, note="fixed")
        _deliver_all()
        bodies = [r.json() for r in receiver.accepted]
        assert [b["event"] for b in bodies] == ["firing", "acknowledged", "resolved"]
        assert len({b["idempotency_key"] for b in bodies}) == 3
        assert bodies[1]["alert"]["acknowledged_by"] == oncall.username
        assert bodies[1]["alert"]["acknowledge_note"] == "on it"
        assert bodies[2]["alert"]["state"] == "resolved"
        assert bodies[2]["alert"]["resolved_at"] is not None


def test_a_silence_mutes_the_acknowledgement() -> None:
    team = Workspace.objects.create(name=unique("life"))
    oncall = make_user(unique("oncall"), role="operator")
    seed_channel(workspace=team, url="https://hooks.example.com/x")
    alert = seed_alert(workspace=team)
    now = timezone.now()
    Silence.objects.create(workspace=team, reason="maintenance", starts_at=now - timedelta(minutes=1),
                           ends_at=now + timedelta(hours=1))
    alert_actions.acknowledge(alert, user=oncall, note="")
    assert not Notification.objects.filter(alert=alert).exists()

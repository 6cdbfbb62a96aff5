"""Retention of recorded object changes (activity.retention, the beat task activity.prune_changes):
rows older than PORTAL_ACTIVITY_RETENTION_DAYS go in batches, each object's newest older row stays
(the base of its next diff, or its newest snapshot), a second run deletes nothing, 0 keeps all."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from activity import retention, tasks
from activity.models import ObjectChange
from activity.tests.helpers import Scene, outside, scene
from portal.enqueue import BEAT, queue_for

pytestmark = pytest.mark.django_db


def days_ago(days: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)


def alive(*rows: ObjectChange) -> list[bool]:
    return [ObjectChange.objects.filter(pk=r.pk).exists() for r in rows]


@pytest.fixture
def s() -> Scene:
    return scene()


def test_old_changes_go_but_each_objects_newest_older_snapshot_stays(s: Scene, settings: object) -> None:
    # web: three changes older than 90 days, one inside the window.
    web_200 = outside(s, days_ago(200), namespace=s.ns, replicas=1)
    web_100 = outside(s, days_ago(100), namespace=s.ns, replicas=2, manager="portal:alice", is_outside=False)
    web_95 = outside(s, days_ago(95), namespace=s.ns, replicas=3, manager="kube-controller-manager",
                     is_outside=False)
    web_10 = outside(s, days_ago(10), namespace=s.ns, replicas=5)
    # api: edited once long ago; db: twice in the same second long ago (the later id is the newer).
    api_300 = outside(s, days_ago(300), namespace=s.ns, name="api")
    same = days_ago(120).replace(microsecond=0)
    db_first = outside(s, same, namespace=s.ns, name="db", manager="helm")
    db_second = outside(s, same, namespace=s.ns, name="db", manager="kubectl-edit")
    # the same name in another namespace is another object
    other_200 = outside(s, days_ago(200), namespace=s.other_ns, replicas=1)
    other_150 = outside(s, days_ago(150), namespace=s.other_ns, replicas=2)

    assert retention.prune_changes(batch=1) == 4  # one row per statement still reaches the end
    assert alive(web_200, web_100, web_95, web_10) == [False, False, True, True]
    assert alive(api_300) == [True]
    assert alive(db_first, db_second) == [False, True]
    assert alive(other_200, other_150) == [False, True]

    # The change inside the window keeps its diff against the state before it.
    api = APIClient()
    api.force_authenticate(s.member)
    body = api.get(f"/api/activity/diff/outside:{web_10.pk}/").json()
    assert body["before"]["manager"] == "kube-controller-manager"
    assert "-replicas: 3\n+replicas: 5\n" in body["diff"]

    # Idempotent: nothing more to delete.
    assert retention.prune_changes() == 0
    assert ObjectChange.objects.filter(cluster=s.cluster).count() == 5  # 9 recorded, 4 pruned


def test_the_setting_decides_and_zero_keeps_everything(s: Scene, settings: object) -> None:
    a, b, c = (outside(s, days_ago(d), namespace=s.ns, replicas=d) for d in (40, 35, 1))
    setattr(settings, "PORTAL_ACTIVITY_RETENTION_DAYS", 0)
    assert tasks.prune_changes() == 0
    assert alive(a, b, c) == [True, True, True]
    setattr(settings, "PORTAL_ACTIVITY_RETENTION_DAYS", 30)
    assert tasks.prune_changes() == 1  # the task prunes by the setting
    assert alive(a, b, c) == [False, True, True]


def test_the_task_is_scheduled_on_the_beat_queue() -> None:
    assert retention.retention_days() == settings.PORTAL_ACTIVITY_RETENTION_DAYS == 90
    entry = settings.CELERY_BEAT_SCHEDULE["activity.prune_changes"]
    assert entry["task"] == tasks.prune_changes.name == "activity.prune_changes"
    assert queue_for(entry["task"]) == BEAT

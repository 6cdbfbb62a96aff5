"""The periodic re-check finds clusters whose check is old or never happened."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from clusters.models import Cluster, ClusterStatus
from clusters.services import enqueue_due_checks

pytestmark = pytest.mark.django_db


def make(name: str, **fields: object) -> Cluster:
    return Cluster.objects.create(name=name, server="https://203.0.113.1", **fields)


def test_due_clusters_are_enqueued_once() -> None:
    old = timezone.now() - timedelta(hours=1)
    lost = make("lost", status=ClusterStatus.PENDING, created=old)
    stale = make("stale", status=ClusterStatus.CONNECTED, last_checked=old)
    make("fresh", status=ClusterStatus.CONNECTED, last_checked=timezone.now())
    make("new", status=ClusterStatus.PENDING)  # its own check is still on the way
    make("off", enabled=False, last_checked=old)
    enqueued: list[int] = []
    assert enqueue_due_checks(enqueue=enqueued.append) == 2
    assert sorted(enqueued) == sorted([lost.pk, stale.pk])
    assert settings.CELERY_BEAT_SCHEDULE["clusters.recheck"]["task"] == "clusters.recheck_clusters"

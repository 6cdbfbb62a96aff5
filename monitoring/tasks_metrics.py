"""Celery tasks of metric collection, roll-ups and retention (issue 14, METRICS; docs/metrics.md).

* ``monitoring.collect_due`` (beat, every ``PORTAL_METRICS_INTERVAL_SECONDS``): one
  ``monitoring.collect_cluster`` per enabled, connected cluster, so one slow cluster never delays
  the others. A collection repeated within an interval writes nothing (aligned ``ts``).
* ``monitoring.collect_cluster(cluster_id)``: :func:`monitoring.collect.collect_cluster` (a message
  that runs late stamps the interval it runs in; never two rows for one interval).
* ``monitoring.rollup`` (beat, 60 s): partitions ahead and raw → 5 min → 1 h (:func:`monitoring.store.rollup`).
* ``monitoring.prune_partitions`` (beat, hourly): drop partitions past retention.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from clusters.models import Cluster, ClusterStatus
from monitoring import collect, store
from portal import enqueue

logger = logging.getLogger("monitoring.collect")

COLLECT = "monitoring.collect_cluster"


@shared_task(name="monitoring.collect_due", ignore_result=True)
def collect_due() -> int:
    """Send one collection per enabled, connected cluster; the number sent."""
    ids = list(Cluster.objects.filter(enabled=True, status=ClusterStatus.CONNECTED).values_list("pk", flat=True))
    for pk in ids:
        enqueue.send(COLLECT, pk)
    return len(ids)


@shared_task(name="monitoring.collect_cluster", ignore_result=True)
def collect_cluster(cluster_id: int) -> str:
    return collect.collect_cluster(cluster_id).status


@shared_task(name="monitoring.rollup", ignore_result=True)
def rollup() -> dict[str, int]:
    now = timezone.now()
    store.ensure_partitions(now)
    return store.rollup(now)


@shared_task(name="monitoring.prune_partitions", ignore_result=True)
def prune_partitions() -> list[str]:
    now = timezone.now()
    store.ensure_partitions(now)
    return store.drop_expired(now)

"""Leases: which watcher process watches which cluster, so replicas split the fleet.

A cluster is watched by the holder of its unexpired :class:`~clusters.models.WatcherLease` row.
Each process, every poll, in one transaction: renews its own leases, drops those of clusters
that were disabled or deleted, takes expired leases of others (``SELECT ... FOR UPDATE SKIP
LOCKED``, so two processes never take the same row) and unowned clusters (``INSERT ... ON
CONFLICT DO NOTHING``), up to a fair share: the enabled clusters divided by the live watcher
processes. Live processes announce themselves with a Redis key that expires with the lease, so a
process that joins is counted at once and the others hand over their surplus; a process that
dies stops renewing, and its clusters are taken within one lease period: each poll also says
when the next lease or announcement of another process runs out (``LeaseView.next_change``),
and a process polls again then instead of up to a poll interval later.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from clusters.models import Cluster, WatcherLease
from portal.redis import client as redis_client

logger = logging.getLogger("clusters.watcher")



def _holder_prefix() -> str:
    """Holders are counted per database: a test run or benchmark sharing the Redis with another
    portal database must not shrink that one's fair share."""
    return f"portal:watcher:{connection.settings_dict.get('NAME', '')}:holder:"


@dataclass(frozen=True)
class LeaseView:
    """What this process should watch now: cluster id -> connection fingerprint, and what to hand over."""

    clusters: dict[int, str]
    surplus: list[int]
    live_holders: int
    # Seconds until another holder's lease or announcement runs out (a dead process's clusters are
    # free then), or None when none does sooner than ``ttl``.
    next_change: float | None = None


def fingerprint(cluster: Cluster) -> str:
    """Changes whenever the connection does (credentials, CA, server) or the check finds other
    permissions (which kinds, which namespaces): the watch restarts then.
    A digest, so nothing secret is kept or logged."""
    plan = json.dumps({k: [v.get("scope"), v.get("namespaces")] for k, v in
                       ((cluster.permissions or {}).get("kinds") or {}).items()}, sort_keys=True)
    material = "\0".join([cluster.server, cluster.ca_pem, cluster.tls_server_name,
                          str(cluster.insecure_skip_tls_verify), cluster.credentials_encrypted, plan])
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def announce(holder: str, ttl: float) -> tuple[int, float | None]:
    """Mark ``holder`` alive for ``ttl`` seconds; return how many holders are alive (at least 1)
    and the seconds until another holder's announcement runs out (None: there is none)."""
    try:
        r = redis_client()
        prefix = _holder_prefix()
        mine = prefix + holder
        r.set(mine, "1", px=max(1, int(ttl * 1000)))
        keys = list(r.scan_iter(prefix + "*", count=1000))
        others = [k for k in keys if (k.decode() if isinstance(k, bytes) else k) != mine]
        left = [ms for ms in (r.pttl(k) for k in others) if isinstance(ms, int) and ms >= 0]
        return max(1, len(keys)), (min(left) / 1000 if left else None)
    except Exception:  # Redis down: behave as if alone; leases in PostgreSQL still prevent doubles
        logger.warning("watcher could not announce itself in Redis; assuming it is the only one")
        return 1, None


def retire(holder: str) -> None:
    try:
        redis_client().delete(_holder_prefix() + holder)
    except Exception:
        logger.warning("watcher could not remove its Redis announcement")


def sync_leases(
    holder: str, *, ttl: float, max_clusters: int = 0, only: Iterable[int] | None = None,
    now: datetime.datetime | None = None,
) -> LeaseView:
    """Renew, take and hand over leases for ``holder`` (see the module docstring)."""
    live, announcement_left = announce(holder, ttl)
    now = now or timezone.now()
    expires = now + datetime.timedelta(seconds=ttl)
    enabled = Cluster.objects.filter(enabled=True)
    if only is not None:
        enabled = enabled.filter(pk__in=list(only))
    with transaction.atomic():
        total = enabled.count()
        cap = math.ceil(total / live) if total else 0
        if max_clusters > 0:
            cap = min(cap, max_clusters)
        WatcherLease.objects.filter(holder=holder).exclude(cluster_id__in=enabled.values("pk")).delete()
        WatcherLease.objects.filter(holder=holder).update(expires=expires)
        mine = list(WatcherLease.objects.filter(holder=holder).order_by("cluster_id")
                    .values_list("cluster_id", flat=True))
        surplus = mine[cap:]
        need = cap - len(mine)
        if need > 0:
            expired = list(
                WatcherLease.objects.select_for_update(skip_locked=True)
                .filter(expires__lt=now, cluster_id__in=enabled.values("pk")).exclude(holder=holder)
                .order_by("cluster_id").values_list("cluster_id", flat=True)[:need]
            )
            if expired:
                WatcherLease.objects.filter(cluster_id__in=expired, expires__lt=now).update(
                    holder=holder, acquired=now, expires=expires)
                need -= len(expired)
        if need > 0:
            free = list(enabled.filter(lease__isnull=True).order_by("pk").values_list("pk", flat=True)[:need])
            WatcherLease.objects.bulk_create(
                [WatcherLease(cluster_id=pk, holder=holder, acquired=now, expires=expires) for pk in free],
                ignore_conflicts=True)
        held = set(WatcherLease.objects.filter(holder=holder).values_list("cluster_id", flat=True)) - set(surplus)
        clusters = {c.pk: fingerprint(c) for c in Cluster.objects.filter(pk__in=held, enabled=True)}
    # When another holder's lease runs out: live holders renew theirs every poll, so only a
    # process that stopped has one running out before the next poll.
    soonest = WatcherLease.objects.exclude(holder=holder).filter(expires__gt=now).aggregate(
        soonest=Min("expires"))["soonest"]
    lease_left = (soonest - now).total_seconds() if soonest is not None else None
    left = [x for x in (lease_left, announcement_left) if x is not None and x < ttl]
    return LeaseView(clusters=clusters, surplus=surplus, live_holders=live, next_change=min(left) if left else None)


def release(holder: str, cluster_ids: Iterable[int] | None = None) -> int:
    """Give up leases (all of ``holder``'s when ``cluster_ids`` is None) so another process takes them now."""
    qs = WatcherLease.objects.filter(holder=holder)
    if cluster_ids is not None:
        qs = qs.filter(cluster_id__in=list(cluster_ids))
    deleted, _ = qs.delete()
    return deleted

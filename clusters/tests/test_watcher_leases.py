"""Lease polls say when another holder's lease runs out (``LeaseView.next_change``), so a
survivor polls again right then and takes a stopped process's clusters within one lease period,
not up to a poll interval after it."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from clusters.models import Cluster, WatcherLease
from clusters.watcher import leases

pytestmark = pytest.mark.django_db


def _cluster(name: str) -> Cluster:
    return Cluster.objects.create(name=name, server=f"https://{name}.example:6443")


def test_a_lease_running_out_before_the_next_poll_is_when_to_poll_again() -> None:
    now = timezone.now()
    one, two = _cluster("lease-1"), _cluster("lease-2")
    WatcherLease.objects.create(cluster=one, holder="gone", acquired=now, expires=now + datetime.timedelta(seconds=2))
    WatcherLease.objects.create(cluster=two, holder="alive", acquired=now, expires=now + datetime.timedelta(seconds=14))
    try:
        view = leases.sync_leases("me", ttl=15, now=now)
        assert view.next_change == pytest.approx(2.0, abs=0.01)
        assert view.clusters == {}  # nothing free yet: both leases are held

        later = now + datetime.timedelta(seconds=2.05)  # the poll it asked for: "gone"'s lease ran out
        view = leases.sync_leases("me", ttl=15, now=later)
        assert one.pk in view.clusters
        assert WatcherLease.objects.get(cluster=one).holder == "me"
        assert view.next_change == pytest.approx(11.95, abs=0.01)  # "alive" renews before that
    finally:
        leases.retire("me")


def test_no_other_lease_means_no_early_poll() -> None:
    _cluster("lease-alone")
    try:
        assert leases.sync_leases("me-alone", ttl=15).next_change is None
    finally:
        leases.retire("me-alone")

"""Freshness means "we would know if it changed" (issue 10 §1), against a sandbox that sends
bookmarks as kube-apiserver does (none for a kind nothing happened to).

* A silent, healthy cluster stays ``fresh`` for longer than the freshness limit: its empty kinds
  get no events and no bookmarks, but their watches are renewed every ``watch_timeout`` seconds
  (the server ends them normally) and the probe answers. The cluster row and the inventory lists
  say the same thing at every sample.
* A cut stream (``stall_watches``: open watches go silent and never end, new ones get no answer,
  while ``/version`` still answers) turns the cluster ``stale`` (not ``unreachable``) within the
  documented time, ``watch_timeout + watch_grace`` (the watch's read timeout), and it is
  ``fresh`` again once watches work.

Intervals are shortened through the settings (``PORTAL_WATCHER_WATCH_TIMEOUT`` and friends),
which the API reads too, so the API judges freshness by the same limit as the engine.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from clusters.kube.kinds import WATCHED_KINDS
from clusters.tests.helpers import FAST, register, synced
from clusters.watcher.config import WatcherConfig
from clusters.watcher.engine import Engine, EngineThread
from portal.testing import Subscriber, wait_for
from sandbox.resources import CRONJOBS, HPAS, INGRESSES, PERSISTENTVOLUMECLAIMS, STATEFULSETS

pytestmark = pytest.mark.django_db(transaction=True)

SHORT = {"PORTAL_WATCHER_WATCH_TIMEOUT": 2, "PORTAL_WATCHER_WATCH_GRACE": 1.5, "PORTAL_WATCHER_FRESH_SECONDS": 4}
# Lists of kinds an idle sandbox cluster has few or none of, and their freshness as the API says.
LISTS = ("workloads/?kind=StatefulSet&kind=Job&kind=CronJob", "ingresses/", "hpas/", "claims/", "volumes/",
         "storageclasses/")


def fast_engine() -> EngineThread:
    fields = {k: v for k, v in FAST.as_dict().items() if k not in ("watch_timeout", "watch_grace", "fresh_seconds")}
    return EngineThread(Engine(config=WatcherConfig.from_settings(**fields), holder="fresh-test"))


def views(api: APIClient, cluster_id: int) -> dict[str, str]:
    """Every list's freshness and then the cluster row's, read back to back. The cluster row is
    the worst of all kinds, so while freshness only worsens (a cut) it is stale whenever a list
    read before it was."""
    out = {}
    for path in LISTS:
        body = api.get(f"/api/clusters/{cluster_id}/{path}").json()
        out[path] = body["freshness"]["state"]
    out["cluster"] = api.get(f"/api/clusters/{cluster_id}/").json()["freshness"]
    return out


def progress(fleet: Any, name: str) -> dict[str, int]:
    keys = [rt.storage_key for rt in (STATEFULSETS, CRONJOBS, INGRESSES, HPAS, PERSISTENTVOLUMECLAIMS)]
    return fleet.in_cluster(name, lambda c: {k: c.store.progress.get(k, 0) for k in keys})


@override_settings(**SHORT)
def test_silent_healthy_cluster_stays_fresh_and_a_cut_stream_turns_stale(admin_api: APIClient, sandbox: Any) -> None:
    config = WatcherConfig.from_settings()
    assert config.fresh_limit == 4.0
    assert config.read_timeout == 3.5
    cluster = register(sandbox, "cluster-2")
    sub = Subscriber("fleet")
    try:
        with fast_engine() as thread:
            wait_for(lambda: synced(cluster), what="every kind synced")
            wait_for(lambda: set(views(admin_api, cluster.pk).values()) == {"fresh", "synced"}, timeout=10,
                     what="fresh everywhere")

            # Silent and healthy for three freshness limits: fresh at every sample, everywhere.
            before = progress(sandbox, "cluster-2")
            rv0 = sandbox.in_cluster("cluster-2", lambda c: c.store.resource_version)
            window = 3 * config.fresh_limit
            end = time.monotonic() + window
            samples = 0
            while time.monotonic() < end:
                seen = views(admin_api, cluster.pk)
                assert set(seen.values()) == {"fresh", "synced"}, seen
                samples += 1
                time.sleep(0.3)
            assert samples >= 10
            after = progress(sandbox, "cluster-2")
            silent = [k for k, v in after.items() if v <= rv0 and v == before[k]]
            assert silent, f"no kind stayed silent (no event, hence no bookmark) during the window: {after}"
            # Nothing was cut for being quiet: no stream failed during the window.
            streams = thread.engine.clusters[cluster.pk].streams
            assert len(streams) == len(WATCHED_KINDS)
            assert all(s.errors == 0 for s in streams.values()), {k: s.errors for k, s in streams.items()}

            # Cut every watch stream while the cluster still answers its probe.
            sandbox.inject_fault("cluster-2", stall_watches=True)
            cut = time.monotonic()
            first: float | None = None
            while True:
                seen = views(admin_api, cluster.pk)
                lists = {v for k, v in seen.items() if k != "cluster"}
                if "stale" in lists:
                    assert seen["cluster"] == "stale", seen  # never a stale list under a fresh cluster
                if seen["cluster"] == "stale" and first is None:
                    first = time.monotonic() - cut
                if lists == {"stale"}:
                    break
                assert time.monotonic() - cut < 15, seen
                time.sleep(0.2)
            every = time.monotonic() - cut
            # Documented: each kind is stale within watch_timeout + watch_grace of the cut (the
            # read timeout of its silent watch), never later than the freshness limit after it was
            # last heard from; the cluster with its first kind.
            assert first is not None
            assert first <= config.read_timeout + 1.5, first
            assert every <= config.read_timeout + 1.5, every
            sub.wait(lambda e: e["type"] == "cluster.updated" and e["data"]["id"] == cluster.pk
                     and e["data"]["freshness"] == "stale", timeout=5)
            assert admin_api.get(f"/api/clusters/{cluster.pk}/").json()["status"] == "connected"

            sub.history.clear()
            sandbox.clear_faults("cluster-2")
            wait_for(lambda: set(views(admin_api, cluster.pk).values()) == {"fresh", "synced"}, timeout=15,
                     what="fresh again")
            sub.wait(lambda e: e["type"] == "cluster.updated" and e["data"]["id"] == cluster.pk
                     and e["data"]["freshness"] == "fresh", timeout=5)
    finally:
        sub.close()


@override_settings(**SHORT)
def test_no_watcher_means_stale(admin_api: APIClient, sandbox: Any) -> None:
    """The same rule without a live watcher (its lease lapsed): nobody would notice a change."""
    cluster = register(sandbox, "cluster-3")
    with fast_engine():
        wait_for(lambda: synced(cluster), what="every kind synced")
        wait_for(lambda: views(admin_api, cluster.pk)["cluster"] == "fresh", timeout=10, what="fresh")
    # The engine stopped and released its lease.
    seen = views(admin_api, cluster.pk)
    assert set(seen.values()) == {"stale"}, seen

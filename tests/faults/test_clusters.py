"""Cluster faults, all in one place (issue 18): one sandbox fleet, one running watcher, and for each
fault the sandbox can inject into a cluster:

* **blackhole** (TCP accepted, no HTTP answer ever), **slow** (every request waits longer than the
  watcher's timeouts), **500** and **429 with Retry-After** on every request: the cluster turns
  ``unreachable`` (status and freshness, in the API and on the ``fleet`` socket group);
* **every watch dropped**, again and again (the server ends each one as it opens): the watcher
  re-watches from its stored resourceVersion and changes still arrive while the fault lasts;
* **every watch stalled** (a proxy that stopped forwarding; ``/version`` still answers): the
  cluster turns ``stale``, not ``unreachable``;
* **410 Gone** for every resume (the server forgot its watch history): the kinds are listed again
  (``last_relist_reason = gone``) and nothing is lost.

In every case the other cluster stays current (a change made there during the fault reaches the
read model and the cluster stays ``connected`` and ``fresh``), and once the fault clears the faulty
cluster recovers by itself: ``connected`` and ``fresh`` again, every kind ``synced``, and a change
made inside it *during* the fault is in the read model.

The single-fault tests of the clusters app stay where they are (the client's retry of 429 and 5xx
in ``clusters/tests/test_kube_client.py``, the freshness timing in ``test_watcher_freshness.py``,
the 410 relist in ``test_watcher.py``); this suite walks every fault through the same scenario.
The watcher runs in-process with short intervals (``clusters.tests.helpers.FAST``) and the watch
renewal shortened through the settings, which the API reads too, so both judge freshness alike.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from clusters.models import Cluster, KindSync, KubeObject
from clusters.tests.helpers import FAST, register, synced
from clusters.watcher.config import WatcherConfig
from clusters.watcher.engine import Engine, EngineThread
from portal.testing import Subscriber, unique, wait_for
from sandbox.resources import NAMESPACES, SERVICES

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

FAULTY, HEALTHY = "cluster-3", "cluster-1"
# Watches renewed every 2 s and judged dead 1.5 s past that, a kind stale after 4 s without news:
# a stalled stream shows within seconds instead of the production 5 minutes.
SHORT = {"PORTAL_WATCHER_WATCH_TIMEOUT": 2, "PORTAL_WATCHER_WATCH_GRACE": 1.5, "PORTAL_WATCHER_FRESH_SECONDS": 4}


@dataclass(frozen=True)
class Fault:
    name: str
    settings: dict[str, Any]
    status: str  # the faulty cluster's status while the fault lasts
    freshness: str  # ... and its freshness
    repeat: dict[str, Any] = field(default_factory=dict)  # a one-shot action applied again and again
    relisted: str = ""  # a kind must record this relist reason

    def __str__(self) -> str:
        return self.name


FAULTS = [
    Fault("blackhole", {"blackhole": True}, "unreachable", "unreachable"),
    # Slower than the probe's timeout (1 s here, 5 s in production) and a list page's (3 s here).
    Fault("slow", {"latency_ms": 3500}, "unreachable", "unreachable"),
    Fault("http-500", {"error_rate": 1.0, "error_codes": [500]}, "unreachable", "unreachable"),
    Fault("http-429-retry-after", {"error_rate": 1.0, "error_codes": [429], "retry_after": 1},
          "unreachable", "unreachable"),
    Fault("watches-dropped", {}, "connected", "fresh", repeat={"close_watches": True}),
    Fault("watches-stalled", {"stall_watches": True}, "connected", "stale"),
    Fault("410-gone", {}, "connected", "fresh", repeat={"expire_history": True, "close_watches": True},
          relisted="gone"),
]


def service(name: str, ns: str) -> Callable[[Any], None]:
    def create(c: Any) -> None:
        c.store.create(SERVICES, {"metadata": {"name": name, "namespace": ns}, "spec": {"ports": [{"port": 80}]}})

    return create


def has_row(cluster: Cluster, name: str, ns: str) -> bool:
    return KubeObject.objects.filter(cluster=cluster, kind="Service", namespace=ns, name=name).exists()


def view(api: APIClient, cluster: Cluster) -> tuple[str, str]:
    body = api.get(f"/api/clusters/{cluster.pk}/").json()
    return body["status"], body["freshness"]


class Repeater:
    """Applies a one-shot fault action (``close_watches``, ``expire_history``) every ``interval``
    seconds until stopped: "every watch is dropped", not just the open ones."""

    def __init__(self, fleet: Any, name: str, action: dict[str, Any], interval: float = 0.3) -> None:
        self.fleet, self.name, self.action, self.interval = fleet, name, action, interval
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.done.is_set():
            self.fleet.inject_fault(self.name, **self.action)
            self.done.wait(self.interval)

    def __enter__(self) -> Repeater:
        if self.action:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        if self.thread.is_alive():
            self.thread.join(5)


@pytest.fixture
def watched(sandbox: Any, admin_api: APIClient) -> Iterator[tuple[Cluster, Cluster, str, EngineThread]]:
    """Both clusters registered, a namespace in each, one watcher running and everything synced."""
    ns = unique("faults")
    for name in (FAULTY, HEALTHY):
        sandbox.in_cluster(name, lambda c: c.store.create(NAMESPACES, {"metadata": {"name": ns}}))
    faulty, healthy = register(sandbox, FAULTY), register(sandbox, HEALTHY)
    with override_settings(**SHORT):
        fields = {k: v for k, v in FAST.as_dict().items() if k not in ("watch_timeout", "watch_grace", "fresh_seconds")}
        with EngineThread(Engine(config=WatcherConfig.from_settings(**fields), holder="faults-clusters")) as thread:
            wait_for(lambda: synced(faulty) and synced(healthy), timeout=30, what="both clusters synced")
            wait_for(lambda: view(admin_api, faulty) == view(admin_api, healthy) == ("connected", "fresh"),
                     timeout=15, what="both clusters connected and fresh")
            yield faulty, healthy, ns, thread


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_a_faulty_cluster_is_marked_the_others_stay_current_and_it_recovers(
        fault: Fault, sandbox: Any, admin_api: APIClient, watched: tuple[Cluster, Cluster, str, EngineThread]) -> None:
    faulty, healthy, ns, _ = watched
    relists_before = dict(KindSync.objects.filter(cluster=faulty).values_list("kind", "relists"))
    sub = Subscriber("fleet")
    try:
        if fault.settings:
            sandbox.inject_fault(FAULTY, **fault.settings)
        with Repeater(sandbox, FAULTY, fault.repeat):
            started = time.monotonic()
            # A change inside the faulty cluster while the fault lasts.
            sandbox.in_cluster(FAULTY, service("during", ns))

            # The faulty cluster is marked, in the API and to browsers on the fleet group.
            wait_for(lambda: view(admin_api, faulty) == (fault.status, fault.freshness), timeout=20,
                     what=f"{FAULTY} {fault.status}/{fault.freshness} under {fault}")
            if fault.freshness != "fresh":
                sub.wait(lambda e: e["type"] == "cluster.updated" and e["data"]["id"] == faulty.pk
                         and e["data"]["freshness"] == fault.freshness, timeout=10)
                assert KubeObject.objects.filter(cluster=faulty, kind="Node").count() == 3, "last-known rows stay"

            # The other cluster stays current meanwhile: its change reaches the read model at once.
            sandbox.in_cluster(HEALTHY, service("elsewhere", ns))
            wait_for(lambda: has_row(healthy, "elsewhere", ns), timeout=5, what="the healthy cluster's change")
            assert view(admin_api, healthy) == ("connected", "fresh")

            if fault.freshness == "fresh":
                # Watches come and go, but the watcher keeps up while the fault lasts.
                wait_for(lambda: has_row(faulty, "during", ns), timeout=20,
                         what=f"the faulty cluster's change under {fault}")
                # (a repeated 410 relists the kinds, so "syncing" may show for a moment between relists)
                wait_for(lambda: view(admin_api, faulty) == ("connected", "fresh"), timeout=20,
                         what=f"{FAULTY} connected and fresh under {fault}")
            if fault.relisted:
                wait_for(lambda: KindSync.objects.filter(cluster=faulty, kind="Service",
                                                         last_relist_reason=fault.relisted).exists(),
                         timeout=45, what=f"Service listed again ({fault.relisted})")  # each kind waits for its watch to be closed
            assert time.monotonic() - started < 90

        # The fault clears: the cluster recovers by itself, with what changed meanwhile.
        sandbox.clear_faults(FAULTY)
        wait_for(lambda: view(admin_api, faulty) == ("connected", "fresh"), timeout=30,
                 what=f"{FAULTY} connected and fresh again after {fault}")
        wait_for(lambda: has_row(faulty, "during", ns), timeout=15, what="the change made during the fault")
        wait_for(lambda: synced(faulty), timeout=15, what="every kind synced again")
        sandbox.in_cluster(FAULTY, service("after", ns))
        wait_for(lambda: has_row(faulty, "after", ns), timeout=10, what="a change after recovery")
        if fault.name in ("blackhole", "http-500", "slow", "http-429-retry-after"):
            # Only a 410 lists again: an outage resumes from the stored resourceVersions.
            relists_after = dict(KindSync.objects.filter(cluster=faulty).values_list("kind", "relists"))
            assert relists_after == relists_before, {k: (relists_before.get(k), v) for k, v in relists_after.items()
                                                     if v != relists_before.get(k)}
    finally:
        sub.close()

"""Watcher replicas split the fleet by leases; one is killed (issue 18, fast version of
``bench/watcher_takeover.py``).

Two ``manage.py runwatchers`` processes on a private PostgreSQL and Redis share four sandbox
clusters (two each) with a 3 s lease renewed every 0.5 s. A browser socket (a real web process,
the Redis channel layer) listens to the namespaces of the clusters of the replica that will die.
That replica is SIGKILLed: it releases nothing. While it is dead, things change inside its
clusters: a Service created and then relabelled twice, another deleted. Checked:

* the survivor takes every one of the dead replica's clusters within one lease period of the
  moment the lease ran out (as stored: its ``acquired`` against the old lease's ``expires``), so
  no later than a lease period plus a poll after the kill;
* no change is lost: the read model ends with the final labels and without the deleted Service,
  the survivor resumed from the stored resourceVersions (no kind listed again), and the socket
  received the final state of each change and the delete, with no ``seq`` gap.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from portal.testing import wait_for
from sandbox.resources import NAMESPACES, SERVICES
from sandbox.testing import running_sandbox
from tests.faults.procs import Stack
from tests.faults.storm_helpers import (
    FAST_WATCHER_ENV,
    EventCollector,
    all_synced,
    leases,
    make_sessions,
    register_clusters,
    relists,
    service_labels,
    webs,
)

pytestmark = pytest.mark.faults

NS = "takeover"
LEASE_S = float(FAST_WATCHER_ENV["PORTAL_WATCHER_LEASE_SECONDS"])
POLL_S = float(FAST_WATCHER_ENV["PORTAL_WATCHER_POLL_INTERVAL"])
SLACK_S = 3.0  # a loaded 2-core machine: a poll may start late


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_sandbox(clusters=4, nodes=1, state_dir=tmp_path_factory.mktemp("takeover")) as sb:
        for name in sb.clusters:
            sb.in_cluster(name, lambda c: c.store.create(NAMESPACES, {"metadata": {"name": NS}}))
        yield sb


def svc(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": NS, "labels": labels or {}}, "spec": {"ports": [{"port": 80}]}}


def relabel(name: str, value: str) -> Any:
    def change(c: Any) -> None:
        c.store.mutate(SERVICES, NS, name, lambda s: s["metadata"].setdefault("labels", {}).update(v=value))

    return change


def test_a_killed_watcher_s_clusters_are_taken_over_within_a_lease_and_nothing_is_lost(
        stack: Stack, fleet: Any) -> None:
    ids = register_clusters(stack, {name: h.kubeconfig.read_text() for name, h in fleet.clusters.items()})
    for name in ids:  # one to delete while its watcher is dead
        fleet.in_cluster(name, lambda c: c.store.create(SERVICES, svc("doomed")))
    a = stack.watcher("replica-a", **FAST_WATCHER_ENV)
    b = stack.watcher("replica-b", **FAST_WATCHER_ENV)
    a.start()
    b.start()
    wait_for(lambda: sorted(h for h, _, _ in leases(stack).values()) == ["replica-a"] * 2 + ["replica-b"] * 2,
             timeout=60, what=f"the four clusters split two and two\n{stack.logs(10)}")
    wait_for(lambda: all_synced(stack, ids.values()), timeout=60, what="every cluster synced")
    wait_for(lambda: all("doomed" in service_labels(stack, cid, NS) for cid in ids.values()), timeout=20,
             what="the doomed Services in the read model")

    doomed_held = {cid for cid, (holder, _, _) in leases(stack).items() if holder == "replica-a"}
    names = {cid: name for name, cid in ids.items()}
    [web] = webs(stack, 1)
    [session] = make_sessions(stack, 1, role="admin")
    before = relists(stack, ids.values())
    groups = [f"cluster.{cid}.ns.{NS}" for cid in sorted(doomed_held)]
    with EventCollector(web.base_url, session, groups) as socket:
        expires_before = {cid: leases(stack)[cid][2] for cid in doomed_held}
        a.kill()  # SIGKILL: no release, no goodbye
        [(killed_at,)] = stack.sql("SELECT now()")

        # Changes while the replica is dead, in each of its clusters.
        for cid in doomed_held:
            fleet.in_cluster(names[cid], lambda c: c.store.create(SERVICES, svc("born-dead", {"v": "1"})))
            fleet.in_cluster(names[cid], relabel("born-dead", "2"))
            fleet.in_cluster(names[cid], lambda c: c.store.delete(SERVICES, NS, "doomed"))
            fleet.in_cluster(names[cid], relabel("born-dead", "3"))

        wait_for(lambda: all(leases(stack)[cid][0] == "replica-b" for cid in doomed_held),
                 timeout=LEASE_S * 4 + 10, what=f"the survivor holds every cluster\n{b.log_tail(20)}")
        taken = leases(stack)
        for cid in doomed_held:
            acquired = taken[cid][1]
            assert acquired >= expires_before[cid] - datetime.timedelta(seconds=0.1), (acquired, expires_before[cid])
            # Taken at the survivor's first poll after the lease ran out ...
            assert (acquired - expires_before[cid]).total_seconds() <= POLL_S + SLACK_S, (acquired, expires_before)
            # ... so within one lease period (and a poll) of the kill.
            assert (acquired - killed_at).total_seconds() <= LEASE_S + POLL_S + SLACK_S, (acquired, killed_at)

        # Nothing lost: the read model and the socket end with the final state.
        def converged() -> bool:
            for cid in doomed_held:
                rows = service_labels(stack, cid, NS)
                if rows.get("born-dead", {}).get("v") != "3" or "doomed" in rows:
                    return False
            return True

        wait_for(converged, timeout=20, what="the changes made while it was dead in the read model")
        wait_for(lambda: all_synced(stack, ids.values()), timeout=20, what="every cluster synced under the survivor")
        wait_for(lambda: len([r for r in socket.upserts("Service", "born-dead") if r["labels"].get("v") == "3"])
                 >= len(doomed_held) and socket.deleted("Service", "doomed"), timeout=20,
                 what="the final states on the socket")
        final = {r["cluster"]: r["labels"]["v"] for r in socket.upserts("Service", "born-dead")}
        assert final == dict.fromkeys(doomed_held, "3"), final
        assert not socket.seq_gaps(), socket.events[-10:]
    assert relists(stack, ids.values()) == before, "the survivor resumed from the stored resourceVersions"
    assert b.alive

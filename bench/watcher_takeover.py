"""Watcher takeover benchmark (issue 18): two watcher replicas share the fleet by leases; one is
SIGKILLed, again and again. How long until the survivor holds the dead one's clusters, and is
any change lost?

Run by hand (never from the test suite); a private PostgreSQL and Redis are started for it
(``tests/faults/procs.py``), the sandbox fleet runs in this process::

    .venv/bin/python bench/watcher_takeover.py                       # 10 clusters x 200 pods, 15 s lease, 4 kills
    .venv/bin/python bench/watcher_takeover.py --lease 3 --poll 0.5 --name watcher_takeover_short

Each round: the replica holding leases that is next in turn is SIGKILLed (it releases nothing);
right after, ``--changes`` pods in each of its clusters are relabelled (``round=<n>``) inside the
sandbox. Measured from PostgreSQL's clock: takeover (the kill to the survivor holding the last of
the dead replica's clusters; goal: within one lease period plus a poll), how long after its old
lease ran out each cluster was taken, catch-up (the kill to every relabelled pod in the read model),
changes lost (goal: none; the survivor resumes from the stored resourceVersions, relists are
counted), then the killed replica is started again and the time until the leases are split evenly
once more is measured. Per process (each watcher, PostgreSQL with its backends, Redis): CPU
seconds, cores and memory, in the steady state with both replicas and for the survivor during
each takeover. Results: ``bench/results/<name>.json`` (default ``watcher_takeover``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import watcher_common as wc  # noqa: E402

from tests.faults.procs import Watcher, running_stack  # noqa: E402
from tests.faults.storm_helpers import (  # noqa: E402
    FAST_WATCHER_ENV,
    Usage,
    all_synced,
    leases,
    register_clusters,
    relists,
)


def wait(check: Any, timeout: float, what: str) -> float:
    """Poll ``check`` every 50 ms; seconds it took (SystemExit naming ``what`` on timeout)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if check():
            return time.monotonic() - t0
        time.sleep(0.05)
    raise SystemExit(f"timed out after {timeout} s waiting for {what}")


def relabel(sb: Any, names: list[str], pods: int, changes: int, value: str) -> int:
    """On the fleet's loop: relabel ``changes`` pods of each cluster in ``names``; how many."""
    from sandbox.resources import PODS

    async def run(fleet: Any) -> int:
        done = 0
        for name in names:
            for n in range(changes):
                pod = wc.pod_body(name, (n * 7) % pods, 1)["metadata"]["name"]
                fleet.clusters[name].store.mutate(
                    PODS, "bench", pod, lambda p: p["metadata"].setdefault("labels", {}).update(round=value))
                done += 1
            await asyncio.sleep(0)
        return done

    return int(sb.run(run, timeout=120))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--pods", type=int, default=200, help="pods per cluster")
    parser.add_argument("--rounds", type=int, default=4, help="kills")
    parser.add_argument("--changes", type=int, default=20, help="pods relabelled per dead cluster per round")
    parser.add_argument("--lease", type=float, default=15.0, help="PORTAL_WATCHER_LEASE_SECONDS (production: 15)")
    parser.add_argument("--poll", type=float, default=3.0, help="PORTAL_WATCHER_POLL_INTERVAL (production: 3)")
    parser.add_argument("--steady", type=float, default=20.0, help="seconds of steady state measured")
    parser.add_argument("--name", default="watcher_takeover")
    args = parser.parse_args()
    # The sandbox logs every watch a killed watcher leaves behind; that is the point here.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)

    env = {**FAST_WATCHER_ENV, "PORTAL_WATCHER_LEASE_SECONDS": str(args.lease),
           "PORTAL_WATCHER_POLL_INTERVAL": str(args.poll), "LOG_LEVEL": "INFO"}
    rounds: list[dict[str, Any]] = []
    with running_stack() as stack, tempfile.TemporaryDirectory() as tmp, \
            wc.sandbox_fleet(args.clusters, args.nodes, args.pods, tmp) as sb:
        ids = register_clusters(stack, {n: h.kubeconfig.read_text() for n, h in sb.clusters.items()})
        names = {cid: n for n, cid in ids.items()}
        replicas: dict[str, Watcher] = {h: stack.watcher(h, **env) for h in ("replica-a", "replica-b")}
        t0 = time.monotonic()
        for w in replicas.values():
            w.start()
        half = args.clusters // 2

        def split() -> bool:
            held = [h for h, _, _ in leases(stack).values()]
            return len(held) == args.clusters and all(held.count(h) >= half for h in replicas)

        wait(split, 120, "the clusters split between the replicas")
        first_sync = wait(lambda: all_synced(stack, ids.values()), 600, "every cluster synced") + (
            time.monotonic() - t0)
        with Usage({**{h: w.pid or 0 for h, w in replicas.items()}, "postgres": stack.postgres.pid or 0,
                    "redis": stack.redis.pid or 0}) as steady:
            time.sleep(args.steady)
        relists_before = relists(stack, ids.values())

        order = list(replicas)
        for n in range(args.rounds):
            victim_name = order[n % 2]
            survivor_name = order[(n + 1) % 2]
            victim, survivor = replicas[victim_name], replicas[survivor_name]
            before = leases(stack)
            held = sorted(cid for cid, (h, _, _) in before.items() if h == victim_name)
            value = f"r{n + 1}"
            with Usage({survivor_name: survivor.pid or 0, "postgres": stack.postgres.pid or 0,
                        "redis": stack.redis.pid or 0}) as during:
                victim.kill()
                [(killed_at,)] = stack.sql("SELECT now()")
                changed = relabel(sb, [names[c] for c in held], args.pods, args.changes, value)
                wait(lambda held=held, survivor_name=survivor_name: all(
                    leases(stack)[c][0] == survivor_name for c in held), args.lease * 4 + 30, "the takeover")
                taken = leases(stack)

                def caught_up(held: list[int] = held, value: str = value, changed: int = changed) -> bool:
                    [(count,)] = stack.sql(
                        "SELECT count(*) FROM clusters_kubeobject WHERE kind = 'Pod' AND namespace = 'bench' "
                        "AND labels->>'round' = %s AND cluster_id = ANY(%s)", value, held)
                    return int(count) >= changed

                wait(caught_up, 120, "the changes made while it was dead")
                [(caught_at,)] = stack.sql("SELECT now()")
            takeover = max((taken[c][1] - killed_at).total_seconds() for c in held)
            after_expiry = [(taken[c][1] - before[c][2]).total_seconds() for c in held]
            victim.start()
            rebalance = wait(split, args.lease * 4 + 60, "the leases split evenly again")
            wait(lambda: all_synced(stack, ids.values()), 120, "every cluster synced after the rebalance")
            [(lost,)] = stack.sql(
                "SELECT %s - count(*) FROM clusters_kubeobject WHERE kind = 'Pod' AND namespace = 'bench' "
                "AND labels->>'round' = %s AND cluster_id = ANY(%s)", changed, value, held)
            rounds.append({
                "killed": victim_name, "clusters_taken": len(held), "changes_while_dead": changed,
                "takeover_s": round(takeover, 2),
                "taken_after_lease_expiry_s": {"min": round(min(after_expiry), 2), "max": round(max(after_expiry), 2)},
                "catch_up_s": round((caught_at - killed_at).total_seconds(), 2),
                "changes_lost": int(lost), "rebalance_after_restart_s": round(rebalance, 2),
                "survivor_during_takeover": during.report(),
            })
            print(f"round {n + 1}: killed {victim_name} ({len(held)} clusters): taken in {takeover:.2f} s, "
                  f"caught up in {rounds[-1]['catch_up_s']} s, lost {lost}, rebalanced in {rebalance:.1f} s")
        relists_after = relists(stack, ids.values())
        for w in replicas.values():
            w.stop()

    takeovers = [r["takeover_s"] for r in rounds]
    goal = args.lease + args.poll
    payload: dict[str, Any] = {
        "size": {"clusters": args.clusters, "nodes_per_cluster": args.nodes, "pods_per_cluster": args.pods,
                 "rounds": args.rounds, "changes_per_dead_cluster": args.changes,
                 "lease_seconds": args.lease, "poll_interval": args.poll},
        "first_sync_s": round(first_sync, 1),
        "takeover_s": {"min": min(takeovers), "median": round(statistics.median(takeovers), 2), "max": max(takeovers)},
        "changes_lost": sum(r["changes_lost"] for r in rounds),
        "relists_during_run": sum(relists_after.values()) - sum(relists_before.values()),
        "steady_state": steady.report(), "steady_seconds": args.steady,
        "rounds": rounds,
        "goals": {"takeover_within_one_lease_and_a_poll": max(takeovers) <= goal,
                  "no_change_lost": all(r["changes_lost"] == 0 for r in rounds)},
        "load_average": os.getloadavg(),
    }
    path = wc.write_results(args.name, payload)
    print(f"takeover {payload['takeover_s']} s (goal <= {goal} s), lost {payload['changes_lost']}, "
          f"relists {payload['relists_during_run']}; steady: " + ", ".join(
              f"{k} {v['cores']:.3f} cores {v['rss_mb']['after']:.0f} MB" for k, v in payload["steady_state"].items()))
    print(f"written to {path}")
    if not all(payload["goals"].values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()

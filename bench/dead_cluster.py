"""Dead-cluster benchmark: do blackholed and slow clusters hurt the healthy ones, and how fast
do the dead ones show Unreachable?

Run by hand, with PostgreSQL and Redis up::

    .venv/bin/python bench/dead_cluster.py                      # 20 clusters x 5 nodes x 200 pods
    .venv/bin/python bench/dead_cluster.py --clusters 100 --nodes 20 --pods 1000   # the issue's size

One watcher subprocess (``manage.py runwatchers``, production intervals: probe every 10 s with a
5 s timeout) watches the whole fleet. Phase 1 (clean): pod changes at ``--rate`` per second in
every cluster for ``--seconds``; change -> DB latency of the healthy set. Phase 2: 10 % of the
clusters are blackholed (requests held open, never answered) and 10 % slowed by ``--slow-ms``;
the same changes run in the healthy set again and the time until each blackholed cluster shows
``unreachable`` in PostgreSQL is measured from the injection. Results go to
``bench/results/dead_cluster.json``.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import watcher_common as wc


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clusters", type=int, default=20)
    p.add_argument("--nodes", type=int, default=5)
    p.add_argument("--pods", type=int, default=200)
    p.add_argument("--rate", type=float, default=20.0, help="pod changes per second per healthy cluster")
    p.add_argument("--seconds", type=float, default=30.0, help="length of each measuring phase")
    p.add_argument("--slow-ms", type=float, default=5000.0)
    p.add_argument("--name", default="dead_cluster", help="results file: bench/results/<name>.json")
    p.add_argument("--database", default="portal_bench_dead")
    args = p.parse_args()

    wc.RESULTS.mkdir(parents=True, exist_ok=True)
    wc.prepare_database(args.database)
    from clusters.models import Cluster

    with tempfile.TemporaryDirectory(prefix="bench-dead-") as tmp, \
            wc.sandbox_fleet(args.clusters, args.nodes, args.pods, tmp) as sb:
        ids = wc.register_all(sb)
        names = sorted(ids, key=lambda n: ids[n])
        k = max(1, math.ceil(args.clusters * 0.1))
        dead, slow = names[:k], names[k:2 * k]
        healthy = names[2 * k:]
        proc = wc.start_watcher()
        try:
            deadline = time.monotonic() + 900
            while not wc.all_synced(args.clusters * args.pods, list(ids.values())):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the watcher did not sync; see {wc.WATCHER_LOG}")
                time.sleep(0.2)
            print(f"synced {args.clusters} clusters; dead={len(dead)} slow={len(slow)} healthy={len(healthy)}",
                  flush=True)
            probe = wc.LatencyProbe(sb, ids)
            probe.subscribe()
            time.sleep(2.0)

            probe.drive(healthy, args.rate, args.seconds, args.pods)
            clean = probe.results(set(healthy))
            probe.reset()
            print(f"clean: change -> DB p50/p99 {clean['change_to_db_ms']['p50']}/{clean['change_to_db_ms']['p99']} ms",
                  flush=True)

            injected = time.monotonic()
            for name in dead:
                sb.inject_fault(name, blackhole=True)
            for name in slow:
                sb.inject_fault(name, latency_ms=args.slow_ms)
            unreachable_after: dict[str, float] = {}
            statuses: dict[str, str] = {}

            def watch_status() -> None:
                end = injected + max(120.0, args.seconds + 60)
                while time.monotonic() < end and len(unreachable_after) < len(dead):
                    for c in Cluster.objects.filter(pk__in=[ids[n] for n in dead + slow]).values("name", "status"):
                        statuses[c["name"]] = c["status"]
                        if c["name"] in dead and c["status"] == "unreachable" and c["name"] not in unreachable_after:
                            unreachable_after[c["name"]] = time.monotonic() - injected
                    time.sleep(0.2)
                from django.db import connection

                connection.close()

            watcher = threading.Thread(target=watch_status, daemon=True)
            watcher.start()
            probe.drive(healthy, args.rate, args.seconds, args.pods)
            faulty = probe.results(set(healthy))
            watcher.join(180)
            slow_status = {n: statuses.get(n, "?") for n in slow}
            probe.close()
            for name in dead + slow:
                sb.clear_faults(name)
        finally:
            shutdown = wc.stop_watcher(proc)

    times = sorted(unreachable_after.values())
    result: dict[str, Any] = {
        "size": {"clusters": args.clusters, "nodes_per_cluster": args.nodes, "pods_per_cluster": args.pods,
                 "blackholed": len(dead), "slowed": len(slow), "slow_ms": args.slow_ms,
                 "changes_per_second_per_healthy_cluster": args.rate, "seconds_per_phase": args.seconds},
        "healthy_change_to_db_ms": {"clean": clean["change_to_db_ms"], "with_faults": faulty["change_to_db_ms"]},
        "healthy_change_to_ws_ms": {"clean": clean["change_to_ws_ms"], "with_faults": faulty["change_to_ws_ms"]},
        "p99_change_to_db_worse_by_ms": (round(faulty["change_to_db_ms"]["p99"] - clean["change_to_db_ms"]["p99"], 1)
                                         if faulty["change_to_db_ms"]["p99"] is not None
                                         and clean["change_to_db_ms"]["p99"] is not None else None),
        "changes_seen": {"clean": f"{clean['received']}/{clean['changes']}",
                         "with_faults": f"{faulty['received']}/{faulty['changes']}"},
        "blackholed_unreachable_after_s": {"min": round(times[0], 1) if times else None,
                                           "max": round(times[-1], 1) if times else None,
                                           "all_unreachable": len(times) == len(dead)},
        "slowed_cluster_status": slow_status,
        "clean_shutdown_s": round(shutdown, 2),
    }
    path = wc.write_results(args.name, result)
    print(f"with faults: change -> DB p50/p99 {faulty['change_to_db_ms']['p50']}/{faulty['change_to_db_ms']['p99']} ms "
          f"(p99 worse by {result['p99_change_to_db_worse_by_ms']} ms)")
    print(f"blackholed clusters unreachable after {result['blackholed_unreachable_after_s']} s; "
          f"slowed clusters: {slow_status}")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

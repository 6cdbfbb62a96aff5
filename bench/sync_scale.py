"""Watcher scale benchmark: first full sync, steady-state cost, change -> DB and -> WebSocket latency.

Run by hand (never from the test suite), with PostgreSQL and Redis up (``scripts/services.sh``)::

    .venv/bin/python bench/sync_scale.py                       # 20 clusters x 10 nodes x 500 pods
    .venv/bin/python bench/sync_scale.py --clusters 100 --nodes 20 --pods 1000 --rate 20   # the issue's size

A sandbox fleet runs in this process; the real ``manage.py runwatchers`` runs as a subprocess
against a fresh database (``portal_bench_sync``), so the CPU and memory figures are the watcher's
alone. Reports the time from the watcher's start until every kind of every cluster is synced and
every pod is in PostgreSQL, then drives ``--rate`` pod changes per second per cluster for
``--seconds`` and reports the watcher's CPU and RSS during that window and p50/p99 latency from
the change in the sandbox to the committed row and to ``--browsers`` WebSocket clients of the real
web process (uvicorn), each subscribed to ``fleet`` and its share of the clusters as a console on a
cluster's pods is. Results go to ``bench/results/sync_scale.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import watcher_common as wc

from tests.faults.storm_helpers import Usage


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clusters", type=int, default=20)
    p.add_argument("--nodes", type=int, default=10)
    p.add_argument("--pods", type=int, default=500, help="pods per cluster")
    p.add_argument("--rate", type=float, default=20.0, help="pod changes per second per cluster")
    p.add_argument("--seconds", type=float, default=30.0, help="length of the steady-state window")
    p.add_argument("--writer-threads", type=int, default=None, help="passed to runwatchers")
    p.add_argument("--name", default="sync_scale", help="results file: bench/results/<name>.json")
    p.add_argument("--database", default="portal_bench_sync")
    p.add_argument("--replay", action="store_true",
                   help="load from bench/replay_server.py (prepared bytes, its own process) instead of the sandbox")
    p.add_argument("--watchers", type=int, default=1, help="watcher processes (leases split the clusters)")
    p.add_argument("--kill-at", type=float, default=None,
                   help="SIGKILL the first watcher this many seconds into the changes; the others take over")
    p.add_argument("--browsers", type=int, default=1,
                   help="WebSocket clients on the real web process, each on fleet and its share of the clusters")
    p.add_argument("--profile", action="store_true",
                   help="record py-spy flame graphs of the watcher (first sync, steady state) into bench/results/")
    args = p.parse_args()

    wc.RESULTS.mkdir(parents=True, exist_ok=True)
    wc.prepare_database(args.database)
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        t0 = time.perf_counter()
        replay = wc.ReplayFleet(args.clusters, args.nodes, args.pods, args.rate, args.seconds, tmp) if args.replay else None
        with contextlib.ExitStack() as stack:
            if replay is not None:
                stack.callback(replay.close)
                ids = replay.register()
                generator_pid = replay.proc.pid
            else:
                sb = stack.enter_context(wc.sandbox_fleet(args.clusters, args.nodes, args.pods, tmp))
                ids = wc.register_all(sb)
                generator_pid = os.getpid()
            print(f"{'replay' if replay else 'sandbox'}: {args.clusters} clusters x {args.nodes} nodes x {args.pods} "
                  f"pods up in {time.perf_counter() - t0:.1f} s", flush=True)
            total_pods = args.clusters * args.pods

            t_start = time.perf_counter()
            extra = ["--writer-threads", str(args.writer_threads)] if args.writer_threads else []
            watchers = [wc.start_watcher("--holder", f"bench-w{i + 1}", *extra,
                                         log_path=wc.WATCHER_LOG.with_name(f"bench-watcher-{i + 1}.log")
                                         if args.watchers > 1 else wc.WATCHER_LOG)
                        for i in range(args.watchers)]
            proc = watchers[0]
            wnames = ["watcher"] if args.watchers == 1 else [f"watcher-{i + 1}" for i in range(args.watchers)]
            procs = {**{n: w.pid for n, w in zip(wnames, watchers, strict=True)}, "generator": generator_pid,
                     **wc.service_pids()}
            sync_usage = Usage(procs, trees=("postgres",)).__enter__()
            spy = wc.py_spy(proc.pid, 600, f"{args.name}_first_sync") if args.profile else None
            try:
                deadline = time.monotonic() + 900
                while not wc.all_synced(total_pods, list(ids.values())):
                    if any(w.poll() is not None for w in watchers):
                        raise SystemExit(f"a watcher exited; see {wc.WATCHER_LOG}")
                    if time.monotonic() > deadline:
                        raise SystemExit("no full sync within 900 s")
                    time.sleep(0.2)
                first_sync = time.perf_counter() - t_start
                sync_usage.__exit__(None, None, None)
                if spy is not None:
                    spy.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
                    spy.wait(60)
                print(f"first full sync: {first_sync:.1f} s ({total_pods} pods)", flush=True)
                rss_after_sync = wc.proc_rss_mb(proc.pid)
                split = wc.lease_split()
                if args.watchers > 1:
                    print(f"clusters per watcher: {split}", flush=True)

                probe = wc.LatencyProbe(None if replay else sb, ids)
                probe.subscribe(args.browsers)
                time.sleep(3.0)  # let the post-sync summaries and events settle
                spy = wc.py_spy(proc.pid, args.seconds, f"{args.name}_steady") if args.profile else None
                names = wc.thread_names(proc.pid)
                threads0 = wc.thread_cpu(proc.pid)
                cpu0 = sum(wc.proc_cpu_seconds(w.pid) for w in watchers)
                w0 = time.perf_counter()
                kill = wc.KillOne(watchers[0], "bench-w1", args.kill_at, list(ids.values())) \
                    if args.kill_at is not None else None
                with Usage({**procs, "web": probe.web.pid, "browsers": int(probe.proc.pid or 0)},
                           trees=("postgres",)) as steady_usage:
                    if kill is not None:
                        kill.start()
                    if replay is not None:
                        changes = replay.drive(probe)
                    else:
                        changes = probe.drive(list(ids), args.rate, args.seconds, args.pods)
                cpu1 = sum(wc.proc_cpu_seconds(w.pid) for w in watchers if w.poll() is None) + (
                    kill.cpu_at_kill if kill is not None else 0.0)
                w1 = time.perf_counter()
                threads = wc.thread_groups(names, threads0, wc.thread_cpu(proc.pid)) if proc.poll() is None else {}
                if spy is not None:
                    spy.wait(120)
                latency = probe.results(settle=60.0 if kill is not None else 5.0)
                web_messages = probe.messages
                final = probe.final_states(args.pods, ids)
                takeover = kill.report() if kill is not None else None
                probe.close()
                rss, peak = wc.proc_rss_mb(proc.pid) if proc.poll() is None else (0.0, 0.0)
                cpu_pct = round(100 * (cpu1 - cpu0) / (w1 - w0), 1)
            finally:
                shutdown = max(wc.stop_watcher(w) for w in watchers)

    result = {
        "size": {"clusters": args.clusters, "nodes_per_cluster": args.nodes, "pods_per_cluster": args.pods,
                 "pods_total": total_pods, "changes_per_second_per_cluster": args.rate, "seconds": args.seconds},
        "generator": "bench/replay_server.py (its own process)" if args.replay else "sandbox (this process)",
        "code": wc.code_version(),
        "watchers": args.watchers,
        "browsers": args.browsers,
        "clusters_per_watcher": split,
        "writer_threads": args.writer_threads or "default",
        "first_full_sync_s": round(first_sync, 2),
        "first_sync_processes": sync_usage.report(),
        "watcher_cpu_us_per_object_first_sync": round(
            sum(sync_usage.report()[n]["cpu_seconds"] for n in wnames) * 1e6 / total_pods, 1),
        "steady_state": {"watcher_cpu_percent_of_one_core": cpu_pct, "watcher_rss_mb": rss,
                         "watcher_peak_rss_mb": peak, "watcher_rss_after_first_sync_mb": rss_after_sync[0],
                         "changes_driven": changes,
                         "watcher_cpu_us_per_change": round((cpu1 - cpu0) * 1e6 / max(changes, 1), 1),
                         "web_cpu_us_per_delivered_message": round(
                             steady_usage.report()["web"]["cpu_seconds"] * 1e6 / max(web_messages, 1), 1),
                         "generator_cpu_us_per_change": round(
                             steady_usage.report()["generator"]["cpu_seconds"] * 1e6 / max(changes, 1), 1),
                         "processes": steady_usage.report(),
                         "whole_stack_peak_memory_mb": round(sum(
                             u["rss_mb"]["peak"] for u in steady_usage.report().values()), 1),
                         "watcher_threads_cpu_seconds": threads},
        "latency": latency,
        "final_states": final,
        "takeover": takeover,
        "clean_shutdown_s": round(shutdown, 2),
        "watcher_exit_codes": [w.returncode for w in watchers],
    }
    path = wc.write_results(args.name, result)
    steady = result["steady_state"]
    print(f"steady state: watcher CPU {cpu_pct}% of one core, {steady['watcher_cpu_us_per_change']} us per change "
          f"(generator {steady['generator_cpu_us_per_change']} us), RSS {rss} MiB (peak {peak} MiB)")
    print(f"  watcher threads (CPU s): {steady['watcher_threads_cpu_seconds']}")
    for name, usage in steady["processes"].items():
        print(f"  {name:10s} {usage['cores']:.3f} cores, peak {usage['rss_mb']['peak']} MB")
    print(f"change -> DB p50/p99: {latency['change_to_db_ms']['p50']}/{latency['change_to_db_ms']['p99']} ms; "
          f"change -> WebSocket p50/p99: {latency['change_to_ws_ms']['p50']}/{latency['change_to_ws_ms']['p99']} ms "
          f"({latency['received']}/{latency['changes']} changes seen)")
    print(f"final states: {final}")
    if takeover is not None:
        print(f"takeover: {takeover}")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

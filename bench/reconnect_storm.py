"""Reconnect storm benchmark (issue 18): 1,000 WebSocket clients reconnecting within 10 seconds.

Run by hand (never from the test suite); it needs nothing shared: a private PostgreSQL and Redis
are started for it (``tests/faults/procs.py``)::

    .venv/bin/python bench/reconnect_storm.py                      # 1,000 clients, 2 web processes
    .venv/bin/python bench/reconnect_storm.py --clients 200 --name reconnect_storm_quick

Stage: ``--web`` web processes (uvicorn ``portal.asgi:application``, as the Procfile runs it) on
the private stack, sharing the Redis channel layer; ``--sessions`` operators signed in; one
cluster row whose description the clients show. The load script (this process, asyncio +
aiohttp, loopback) connects ``--clients`` sockets spread over the web processes, each subscribed
to ``cluster.<id>`` and holding the description it fetched. The storm: every socket drops at
once and each client reconnects at a random moment within ``--window`` seconds (retrying with
backoff if refused), while the description is changed ``--changes`` times through the API.
A client that sees a ``seq`` that does not follow on from its last refetches the cluster over
HTTP, as the console does (``tests/faults/storm_helpers.py`` has the client).

Reported (and written to ``bench/results/<name>.json``): how many clients reconnected and were
served (holding the final state) and when (p50/p99/max seconds after the drop; goal: all within
30 s), clients left stale (goal: none), refetches and events applied, connect and fetch
failures, and per process (each web process, Redis, PostgreSQL with its backends, the load
script) CPU seconds, average cores and RSS before/after/peak during the storm.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import watcher_common as wc  # noqa: E402

from tests.faults.procs import running_stack  # noqa: E402
from tests.faults.storm_helpers import (  # noqa: E402
    Usage,
    make_cluster_row,
    make_sessions,
    pids,
    reconnect_storm,
    webs,
)

GOAL_SERVED_S = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--web", type=int, default=2, help="web processes")
    parser.add_argument("--sessions", type=int, default=20, help="signed-in users the clients are spread over")
    parser.add_argument("--window", type=float, default=10.0, help="seconds within which every client reconnects")
    parser.add_argument("--changes", type=int, default=4, help="changes made through the API during the storm")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds after the drop to wait for every client")
    parser.add_argument("--web-settings", default="",
                        help="DJANGO_SETTINGS_MODULE of the web processes (default: the stack's, portal.settings); "
                             "portal.settings_test differs in CONN_MAX_AGE=0, for an A/B of persistent connections")
    parser.add_argument("--web-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment of the web processes (e.g. PYTHONPATH for a settings module to A/B)")
    parser.add_argument("--name", default="reconnect_storm")
    args = parser.parse_args()

    with running_stack() as stack:
        web_env = dict(item.split("=", 1) for item in args.web_env)
        if args.web_settings:
            web_env["DJANGO_SETTINGS_MODULE"] = args.web_settings
        servers = webs(stack, args.web, **web_env)
        sessions = make_sessions(stack, args.sessions)
        cluster_id = make_cluster_row(stack)
        token = stack.api_token("storm-admin", role="admin")
        procs = {**pids(servers), "redis": stack.redis.pid or 0, "postgres": stack.postgres.pid or 0,
                 "load_script": os.getpid()}
        with Usage(procs) as usage:
            result = asyncio.run(reconnect_storm(base_urls=[w.base_url for w in servers], sessions=sessions,
                                                 cluster_id=cluster_id, token=token, clients=args.clients,
                                                 window=args.window, changes=args.changes, settle=args.settle))
        alive = {w.name: w.alive for w in servers}
        max_connections = stack.sql("SHOW max_connections")[0][0]
    served_max = result["served_s"]["max"]
    goals = {
        "all_served_within_30s": result["served"] == args.clients and served_max is not None
        and served_max <= GOAL_SERVED_S,
        "no_stale_client": result["stale_count"] == 0,
        "no_client_stale_while_connected": result["stale_while_connected"] == 0,
        "no_process_died": all(alive.values()),
    }
    processes: dict[str, Any] = usage.report()
    payload: dict[str, Any] = {"size": {"clients": args.clients, "web_processes": args.web, "sessions": args.sessions,
                        "window_s": args.window, "changes": args.changes,
                        "web_settings": args.web_settings or "portal.settings", "web_env": args.web_env,
                        "postgres_max_connections": max_connections},
               "result": result, "processes": processes, "storm_seconds_measured": round(usage.seconds, 1),
               "web_alive_after": alive, "goals": goals, "load_average": os.getloadavg()}
    path = wc.write_results(args.name, payload)
    print(f"clients {args.clients}: reconnected {result['reconnected']}, served {result['served']} "
          f"(p50 {result['served_s']['p50']} s, p99 {result['served_s']['p99']} s, max {served_max} s), "
          f"stale {result['stale_count']} ({result['stale_while_connected']} of them connected), refetches {result['refetches_after_gap']}, "
          f"connect failures {result['connect_failures']}")
    for name, figures in processes.items():
        print(f"  {name:12} cpu {figures['cpu_seconds']:7.2f} s ({figures['cores']:.2f} cores)  "
              f"rss {figures['rss_mb']['before']:.0f} -> peak {figures['rss_mb']['peak']:.0f} MB")
    print(f"goals: {goals}\nwritten to {path}")
    if not all(goals.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()

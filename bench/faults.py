"""Fault suite, long versions (issue 18; the fast versions are tests/faults/, docs/reliability.md).

Run by hand as root (PostgreSQL runs as the ``postgres`` user, the disk mode mounts a tmpfs); it
starts its own PostgreSQL, Redis, portal processes and a three-cluster sandbox, never the shared
services::

    .venv/bin/python bench/faults.py workers --kills 100      # SIGKILL a worker during 3-cluster rollouts
    .venv/bin/python bench/faults.py redis --restarts 10      # restart Redis during rollouts
    .venv/bin/python bench/faults.py postgres --restarts 10   # stop/start PostgreSQL under API reads and writes
    .venv/bin/python bench/faults.py disk --rounds 5          # fill and free the tablespace's tmpfs
    .venv/bin/python bench/faults.py all --quick              # a reduced run of each

Prints the figures and writes them to ``bench/results/<name>.json`` (default ``faults``): kills or
restarts survived (the rollout succeeded and every invariant of ``tests/faults/deploys.problems``
held), recovery times (kill or restart → rollout finished / API answering again), status codes
seen during outages (a 500 is a failure), and per-process CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("PORTAL_ENV", "test")

RESULTS = ROOT / "bench" / "results"
FAST = {"PORTAL_DEPLOY_RETRY_SECONDS": "2", "PORTAL_DEPLOY_POLL_INTERVAL": "0.5"}


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {"min": round(ordered[0], 2), "p50": round(statistics.median(ordered), 2),
            "p95": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2),
            "max": round(ordered[-1], 2), "mean": round(statistics.fmean(ordered), 2)}


def _cpu(procs: dict[str, Any], spent: dict[str, float]) -> None:
    from tests.faults.procs import cpu_seconds

    for name, proc in procs.items():
        spent[name] = spent.get(name, 0.0) + cpu_seconds(proc)


def bench_workers(stack: Any, fleet: Any, kills: int, seed: int) -> dict[str, Any]:
    from tests.faults import deploys

    worker = stack.worker("bench-deployer", PORTAL_DEPLOY_RETRY_SECONDS=FAST["PORTAL_DEPLOY_RETRY_SECONDS"],
                          PORTAL_DEPLOY_POLL_INTERVAL=FAST["PORTAL_DEPLOY_POLL_INTERVAL"]).start()
    beat = stack.beat(PORTAL_DEPLOY_RETRY_SECONDS=FAST["PORTAL_DEPLOY_RETRY_SECONDS"]).start()
    worker.wait_ready(90)
    beat.wait_ready(60)
    scenario = deploys.setup(stack, fleet)
    rng = random.Random(seed)
    recoveries: list[float] = []
    failures: list[dict[str, Any]] = []
    cpu: dict[str, float] = {}
    landed = 0
    started = time.monotonic()
    for n in range(kills):
        message = f"kill-{n}"
        rollout = deploys.start_rollout_and_catch(stack, scenario, message)
        if rollout is None:
            continue
        time.sleep(rng.uniform(0.0, 1.5))
        if deploys.rollout_status(stack, rollout) != "running":
            continue
        _cpu({"worker": worker}, cpu)
        worker.kill()
        killed_at = time.monotonic()
        landed += 1
        worker.start()
        worker.wait_ready(90)
        status = deploys.wait_finished(stack, rollout, timeout=180)
        recoveries.append(time.monotonic() - killed_at)
        found = deploys.problems(stack, fleet, scenario, rollout, message) if status == "succeeded" else [status]
        if found:
            failures.append({"kill": n, "rollout": rollout, "problems": found[:10]})
        print(f"  kill {n + 1}/{kills}: rollout {rollout} {status} {recoveries[-1]:.1f} s after the kill"
              f"{' PROBLEMS: ' + '; '.join(found[:3]) if found else ''}", flush=True)
    _cpu({"worker": worker, "beat": beat, "postgres": stack.postgres, "redis": stack.redis}, cpu)
    for proc in (worker, beat):
        proc.stop()
    return {"kills_attempted": kills, "kills_landed": landed, "survived": landed - len(failures),
            "failures": failures, "recovery_seconds": _summary(recoveries),
            "wall_seconds": round(time.monotonic() - started, 1),
            "cpu_seconds": {k: round(v, 1) for k, v in cpu.items()}}


def bench_redis(stack: Any, fleet: Any, restarts: int) -> dict[str, Any]:
    from tests.faults import deploys

    web = stack.web().start()
    worker = stack.worker("bench-redis", PORTAL_DEPLOY_RETRY_SECONDS=FAST["PORTAL_DEPLOY_RETRY_SECONDS"],
                          PORTAL_DEPLOY_POLL_INTERVAL=FAST["PORTAL_DEPLOY_POLL_INTERVAL"]).start()
    beat = stack.beat(PORTAL_DEPLOY_RETRY_SECONDS=FAST["PORTAL_DEPLOY_RETRY_SECONDS"]).start()
    for proc in (web, worker, beat):
        proc.wait_ready(90)
    scenario = deploys.setup(stack, fleet)
    pids = {p.name: p.pid for p in (web, worker, beat)}
    recoveries: list[float] = []
    failures: list[dict[str, Any]] = []
    done = 0
    for n in range(restarts):
        message = f"redis-{n}"
        rollout = deploys.start_rollout_and_catch(stack, scenario, message)
        if rollout is None:
            continue
        stack.redis.stop()
        restarted_at = time.monotonic()
        time.sleep(1.0)
        stack.redis.start()
        stack.redis.wait_ready()
        done += 1
        status = deploys.wait_finished(stack, rollout, timeout=180)
        recoveries.append(time.monotonic() - restarted_at)
        found = deploys.problems(stack, fleet, scenario, rollout, message) if status == "succeeded" else [status]
        if found:
            failures.append({"restart": n, "rollout": rollout, "problems": found[:10]})
        print(f"  redis restart {n + 1}/{restarts}: rollout {rollout} {status} {recoveries[-1]:.1f} s after",
              flush=True)
    cpu: dict[str, float] = {}
    _cpu({"web": web, "worker": worker, "beat": beat, "redis": stack.redis}, cpu)
    restarted = [name for name, pid in pids.items() if {p.name: p.pid for p in (web, worker, beat)}[name] != pid]
    for proc in (web, worker, beat):
        proc.stop()
    return {"restarts": done, "survived": done - len(failures), "failures": failures,
            "processes_restarted": restarted, "recovery_seconds": _summary(recoveries),
            "cpu_seconds": {k: round(v, 1) for k, v in cpu.items()}}


def _api(web: Any, token: str, method: str = "GET", path: str = "/api/workspaces/",
         body: dict[str, Any] | None = None) -> int:
    from tests.faults.procs import ProcError

    try:
        status, _ = web.get(path, method=method, body=json.dumps(body).encode() if body else None, timeout=15,
                            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    except ProcError:
        return 0
    return status


def bench_postgres(stack: Any, restarts: int, outage: float) -> dict[str, Any]:
    web = stack.web().start()
    worker = stack.worker("bench-pg").start()
    watcher = stack.watcher("bench-pg")
    watcher.start()
    for proc in (web, worker, watcher):
        proc.wait_ready(90)
    token = stack.api_token("bench-admin")
    statuses: dict[str, int] = {}
    recoveries: list[float] = []
    pids = {p.name: p.pid for p in (web, worker, watcher)}
    for n in range(restarts):
        stack.postgres.stop()
        stopped = time.monotonic()
        while time.monotonic() - stopped < outage:
            for status in (_api(web, token), _api(web, token, "POST", body={"name": f"pg-{n}-{time.time_ns()}"})):
                statuses[str(status)] = statuses.get(str(status), 0) + 1
            time.sleep(0.2)
        stack.postgres.start()
        stack.postgres.wait_ready()
        back = time.monotonic()
        while _api(web, token) != 200 and time.monotonic() - back < 60:
            time.sleep(0.1)
        recoveries.append(time.monotonic() - back)
        print(f"  postgres restart {n + 1}/{restarts}: API answering {recoveries[-1]:.2f} s after it was back",
              flush=True)
    cpu: dict[str, float] = {}
    _cpu({"web": web, "worker": worker, "watcher": watcher, "postgres": stack.postgres}, cpu)
    restarted = [p.name for p in (web, worker, watcher) if p.pid != pids[p.name] or not p.alive]
    for proc in (web, worker, watcher):
        proc.stop()
    return {"restarts": restarts, "outage_seconds": outage, "statuses_during_outage": statuses,
            "http_500": statuses.get("500", 0), "processes_restarted": restarted,
            "api_back_after_seconds": _summary(recoveries), "cpu_seconds": {k: round(v, 1) for k, v in cpu.items()}}


def bench_disk(stack: Any, rounds: int, size_mb: int) -> dict[str, Any]:
    from tests.faults.procs import fill_filesystem, small_tmpfs

    table = "workspaces_workspace"
    statuses: dict[str, int] = {}
    half_written = 0
    recoveries: list[float] = []
    with small_tmpfs(size_mb) as mount:
        space = mount / "pg"
        space.mkdir()
        account = stack.postgres.popen_kwargs()
        if account:
            os.chown(space, account["user"], account["group"])
        stack.sql(f"CREATE TABLESPACE bench_small LOCATION '{space}'")
        stack.sql(f"ALTER TABLE {table} SET TABLESPACE bench_small")
        web = stack.web().start()
        web.wait_ready(90)
        token = stack.api_token("bench-disk")
        try:
            for n in range(rounds):
                filler = fill_filesystem(mount)
                refused: list[str] = []
                for i in range(2000):
                    name = f"disk-{n}-{i}"
                    status = _api(web, token, "POST", body={"name": name, "description": "x" * 900})
                    statuses[str(status)] = statuses.get(str(status), 0) + 1
                    if status == 503:
                        refused.append(name)
                        if len(refused) >= 5:
                            break
                stored = {row[0] for row in stack.sql(f"SELECT name FROM {table}")}
                half_written += len(stored & set(refused))
                filler.unlink()
                freed = time.monotonic()
                while _api(web, token, "POST", body={"name": f"disk-{n}-back"}) != 201 and time.monotonic() - freed < 60:
                    time.sleep(0.1)
                recoveries.append(time.monotonic() - freed)
                print(f"  disk round {n + 1}/{rounds}: {len(refused)} refused, writing again "
                      f"{recoveries[-1]:.2f} s after space returned", flush=True)
        finally:
            web.stop()
            stack.sql(f"ALTER TABLE {table} SET TABLESPACE pg_default")
            stack.sql("DROP TABLESPACE bench_small")
    return {"rounds": rounds, "tmpfs_mb": size_mb, "statuses": statuses, "http_500": statuses.get("500", 0),
            "refused_rows_found": half_written, "write_back_after_seconds": _summary(recoveries)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("workers", "redis", "postgres", "disk", "all"))
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--outage", type=float, default=5.0, help="seconds PostgreSQL stays down each time")
    parser.add_argument("--tmpfs-mb", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="10 kills, 3 restarts, 2 disk rounds")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--name", default="faults", help="results file: bench/results/<name>.json")
    args = parser.parse_args()
    if args.quick:
        args.kills, args.restarts, args.rounds = min(args.kills, 10), min(args.restarts, 3), min(args.rounds, 2)
    if os.geteuid() != 0:
        print("run as root: PostgreSQL runs as the postgres user and the disk mode mounts a tmpfs", file=sys.stderr)
        return 2

    import django

    django.setup()
    from sandbox.testing import running_sandbox
    from tests.faults.procs import running_stack

    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               "cpus": os.cpu_count(), "args": vars(args)}
    modes = ("workers", "redis", "postgres", "disk") if args.mode == "all" else (args.mode,)
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp, \
            running_sandbox(clusters=3, nodes=3, state_dir=tmp) as fleet:
        for mode in modes:
            print(f"== {mode}", flush=True)
            with running_stack() as stack:
                if mode == "workers":
                    results[mode] = bench_workers(stack, fleet, args.kills, args.seed)
                elif mode == "redis":
                    results[mode] = bench_redis(stack, fleet, args.restarts)
                elif mode == "postgres":
                    results[mode] = bench_postgres(stack, args.restarts, args.outage)
                else:
                    results[mode] = bench_disk(stack, args.rounds, args.tmpfs_mb)
            print(json.dumps(results[mode], indent=2), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{args.name}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")
    bad = [m for m in modes if results[m].get("failures") or results[m].get("http_500")
           or results[m].get("refused_rows_found") or results[m].get("processes_restarted")]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

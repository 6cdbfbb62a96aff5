"""What one Celery task costs apart from its work: the floor under any design with a task per target.

Run by hand (never from the test suite), with PostgreSQL and Redis up (``scripts/services.sh``)::

    .venv/bin/python bench/celery_task_cost.py               # 3,000 tasks, the deploys worker's settings

Starts a worker as ``bench/fanout.py`` does (``--pool threads --concurrency 16``, the portal's
settings: late acks, prefetch 1, the Redis transport) on a Redis database of its own, with
``bench/celery_noop.py`` included, sends ``--tasks`` tasks that do nothing through
``portal.enqueue.send`` (as the portal sends a deploy), waits until the queue and the transport's
unacked set are empty, and reports the worker's CPU per task (its idle CPU, measured first,
subtracted) and the sender's CPU per send. Results go to ``bench/results/<name>.json``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import watcher_common as wc

LOG = Path(tempfile.gettempdir()) / "bench-celery-task-cost-worker.log"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, default=3000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--redis", default="redis://127.0.0.1:63799/12")
    p.add_argument("--database", default="portal_bench_fanout")
    p.add_argument("--name", default="celery_task_cost")
    args = p.parse_args()

    wc.REDIS_URL = args.redis
    wc.prepare_database(args.database)
    import django
    import redis

    django.setup()
    from portal import enqueue
    from portal.celery import app

    r = redis.Redis.from_url(args.redis)
    r.flushdb()
    env = wc.with_bench_on_path({**os.environ, "LOG_LEVEL": "WARNING"})
    with open(LOG, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=threads",
             f"--concurrency={args.concurrency}", "--loglevel=WARNING", "--without-gossip", "--without-mingle",
             "--include", "celery_noop", "-Q", enqueue.CONTROL, "-n", f"bench-task-cost-{os.getpid()}@%h"],
            cwd=wc.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while not (app.control.ping(timeout=0.5) or []):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the worker did not start; see {LOG}")

        def drained() -> bool:
            return not r.llen(enqueue.CONTROL) and not r.hlen("unacked")

        for _ in range(200):  # warm: the first tasks import and connect
            enqueue.send("bench.noop")
        while not drained():
            time.sleep(0.1)
        time.sleep(1.0)
        idle0, t_idle = wc.proc_cpu_seconds(worker.pid), time.monotonic()
        time.sleep(3.0)
        idle_rate = (wc.proc_cpu_seconds(worker.pid) - idle0) / (time.monotonic() - t_idle)

        cpu0, t0, send0 = wc.proc_cpu_seconds(worker.pid), time.monotonic(), time.thread_time()
        for _ in range(args.tasks):
            enqueue.send("bench.noop")
        send_cpu = time.thread_time() - send0
        while not drained():
            time.sleep(0.02)
        wall = time.monotonic() - t0
        busy = wc.proc_cpu_seconds(worker.pid) - cpu0 - idle_rate * wall
    finally:
        worker.terminate()
        worker.wait(30)
    result = {
        "code": wc.code_version(),
        "worker": {"pool": "threads", "concurrency": args.concurrency, "settings": "the portal's (late acks)"},
        "tasks": args.tasks, "wall_s": round(wall, 2),
        "worker_idle_cores": round(idle_rate, 4),
        "worker_cpu_us_per_task": round(busy / args.tasks * 1e6, 1),
        "sender_cpu_us_per_send": round(send_cpu / args.tasks * 1e6, 1),
    }
    print(f"{args.tasks} tasks that do nothing in {wall:.2f} s: worker {result['worker_cpu_us_per_task']} us of CPU "
          f"per task (idle {idle_rate:.3f} cores subtracted), sender {result['sender_cpu_us_per_send']} us per send")
    path = wc.write_results(args.name, result)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

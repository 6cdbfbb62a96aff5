"""Log fan-out benchmark (issue 14): one pod writing 2,000 lines a second, followed by 50 browsers
over ``/ws/logs/``, one of them deliberately slow. Does the server's memory stay flat, do the fast
followers keep up, and is the slow one bounded and told what it missed?

Run by hand (never from the test suite), with PostgreSQL and Redis up (``scripts/services.sh``)::

    .venv/bin/python bench/logs_fanout.py              # 50 followers (1 slow), 2,000 lines/s, 60 s
    .venv/bin/python bench/logs_fanout.py --quick      # 10 followers, 500 lines/s, 20 s
    .venv/bin/python bench/logs_fanout.py --followers 20 --rate 1000 --seconds 30 --name logs_fanout_20

The stage: a fresh database (``portal_bench_logs``), a one-cluster sandbox in this process whose
pod has the annotation ``sandbox.k8s.io/log-rate`` (sandbox/controllers/README.md), the cluster
registered from its kubeconfig, an operator's session, and the real web process
(``uvicorn portal.asgi:application --ws websockets``) as a subprocess, so its memory and CPU are
its own. The followers run in another subprocess (``--followers-only``, asyncio + aiohttp
WebSocket clients, so they compete neither with the sandbox nor with the portal for a GIL); each
sends ``follow`` with ``tailLines: 0`` (``--tail N``: N) and counts what arrives. Fast followers read as fast as they
can; the slow one reads one message a second through a 4 KiB receive window.

Reported (``bench/results/<name>.json``): the web process's RSS every second (and its growth
after the first ``--warmup`` seconds: flat is the goal), its CPU seconds and CPU per delivered
line, per fast follower the lines per second received and the lag (arrival time minus the line's
own timestamp: p50/p95/max), the slow follower's ``skipped`` counts and lines received.
The web process shares one stream from the API server among every socket following the pod
(``monitoring.consumers.LogHub``; each follower with ``--tail`` also makes one one-shot read of its
tail), so the sandbox serves ``rate`` lines a second whatever the number of followers; its CPU is
reported (``other_cpu_seconds.sandbox_and_driver``: the sandbox runs in this process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:63799/4")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import watcher_common as wc

UVICORN_LOG = Path(tempfile.gettempdir()) / "bench-logs-uvicorn.log"
SEQ = re.compile(r" seq=(\d+) ")
NAMESPACE = "chatty"
POD = "talker"


# ---------------------------------------------------------------------------- followers (subprocess)


def _parse_ts(value: str) -> float | None:
    from monitoring.logs import parse_rfc3339

    return parse_rfc3339(value) if value else None


async def _follow(index: int, *, slow: bool, url: str, cookie: str, origin: str, request: dict[str, Any],
                  seconds: float, warmup: float) -> dict[str, Any]:
    import aiohttp

    def small_window(addr: Any) -> socket.socket:
        sock = socket.socket(addr[0], addr[1], addr[2])
        if slow:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        return sock

    lines = skipped = messages = 0
    last_seq: int | None = None
    duplicates = gaps = 0  # by the pod's seq=N: a line twice, or lines missing with no skipped before them
    after_skip = False
    started: float | None = None
    counted_lines = 0
    lags: list[float] = []
    skipped_events: list[int] = []
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    await asyncio.sleep(index * 0.05)  # browsers arrive one after another, not in one instant
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=None)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(socket_factory=small_window),
                                     timeout=timeout) as session, \
            session.ws_connect(url, origin=origin, headers={"Cookie": f"sessionid={cookie}"},
                               max_msg_size=16 * 1024 * 1024) as ws:
        await ws.send_str(json.dumps(request))
        start = loop.time()
        end = start + seconds
        measured_from = start + warmup
        while loop.time() < end:
            try:
                message = await ws.receive(timeout=max(0.1, end - loop.time()))
            except TimeoutError:
                break
            if message.type != aiohttp.WSMsgType.TEXT:
                errors.append({"closed": str(message.type)})
                break
            frame = json.loads(message.data)
            messages += 1
            now = time.time()
            if frame["type"] == "lines":
                n = len(frame["lines"])
                for item in frame["lines"]:
                    found = SEQ.search(item["text"])
                    if found is None:
                        continue
                    seq = int(found.group(1))
                    if last_seq is not None:
                        if seq <= last_seq:
                            duplicates += 1
                        elif seq > last_seq + 1 and not after_skip:
                            gaps += seq - last_seq - 1
                    last_seq, after_skip = max(seq, last_seq or 0), False
                lines += n
                if loop.time() >= measured_from:
                    counted_lines += n
                    at = _parse_ts(frame["lines"][-1]["ts"])
                    if at is not None:
                        lags.append(now - at)
            elif frame["type"] == "skipped":
                skipped += frame["count"]
                after_skip = True
                skipped_events.append(frame["count"])
            elif frame["type"] == "error":
                errors.append(frame)
            elif frame["type"] == "started":
                started = loop.time() - start
            if slow:
                await asyncio.sleep(1.0)
    measured = max(0.001, seconds - warmup)
    return {"index": index, "slow": slow, "started_after_s": None if started is None else round(started, 2),
            "messages": messages, "lines": lines,
            "lines_per_second": round(counted_lines / measured, 1),
            "lag_ms": {"p50": _ms(_pct(lags, 0.5)), "p95": _ms(_pct(lags, 0.95)), "max": _ms(max(lags) if lags else None)},
            "skipped": skipped, "skipped_messages": len(skipped_events), "duplicates": duplicates, "gaps": gaps,
            "errors": errors[:3]}


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def followers_main(args: argparse.Namespace) -> None:
    spec = json.loads(Path(args.followers_only).read_text())

    async def run() -> list[dict[str, Any]]:
        tasks = [asyncio.create_task(asyncio.wait_for(
            _follow(i, slow=i < spec["slow"], url=spec["url"], cookie=spec["cookie"], origin=spec["origin"],
                    request=spec["request"], seconds=spec["seconds"], warmup=spec["warmup"]),
            spec["seconds"] + 40)) for i in range(spec["followers"])]
        done = await asyncio.gather(*tasks, return_exceptions=True)
        return [r if isinstance(r, dict) else
                {"index": i, "slow": i < spec["slow"], "messages": 0, "lines": 0, "lines_per_second": 0.0,
                 "lag_ms": {"p50": None, "p95": None, "max": None}, "skipped": 0, "skipped_messages": 0,
                 "errors": [{"exception": repr(r)[:300]}]}
                for i, r in enumerate(done)]

    import resource

    results = asyncio.run(run())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    Path(spec["out"]).write_text(json.dumps({"followers": results, "cpu_seconds": usage.ru_utime + usage.ru_stime}))


# ---------------------------------------------------------------------------- the stage


def start_portal(port: int) -> subprocess.Popen[bytes]:
    return wc.start_portal(port, UVICORN_LOG, PORTAL_LOG_MAX_SOCKETS_PER_USER="1000", PORTAL_LOG_MAX_PODS="50")


def make_chatty_pod(sb: Any, rate: int) -> None:
    from portal.testing import wait_for
    from sandbox.resources import NAMESPACES, PODS

    def create(c: Any) -> None:
        c.store.create(NAMESPACES, {"metadata": {"name": NAMESPACE}})
        c.store.create(PODS, {"metadata": {"name": POD, "namespace": NAMESPACE,
                                           "annotations": {"sandbox.k8s.io/log-rate": str(rate)}},
                              "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]}})

    name = next(iter(sb.clusters))
    sb.in_cluster(name, create)

    def running() -> bool:
        pod = sb.in_cluster(name, lambda c: c.store.get(PODS, NAMESPACE, POD)) or {}
        return any("running" in (s.get("state") or {}) for s in (pod.get("status") or {}).get("containerStatuses")
                   or [])

    wait_for(running, timeout=60, what="the chatty pod running")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--followers", type=int, default=50)
    parser.add_argument("--slow", type=int, default=1, help="how many of the followers read slowly")
    parser.add_argument("--rate", type=int, default=2000, help="lines a second the pod writes")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before rates and growth are measured")
    parser.add_argument("--tail", type=int, default=0, help="tailLines of each follow (its own one-shot read)")
    parser.add_argument("--quick", action="store_true", help="10 followers, 500 lines/s, 20 s")
    parser.add_argument("--name", default="")
    parser.add_argument("--followers-only", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.followers_only:
        followers_main(args)
        return
    if args.quick:
        args.followers, args.rate, args.seconds, args.warmup = 10, 500, 20.0, 5.0
    name = args.name or ("logs_fanout_quick" if args.quick else "logs_fanout")

    wc.prepare_database("portal_bench_logs")
    from sandbox.testing import running_sandbox

    results: list[dict[str, Any]] = []
    samples: list[dict[str, float]] = []
    facts: dict[str, Any] = {}
    try:
        run_stage(args, running_sandbox, results, samples, facts)
    except TimeoutError:  # the sandbox's stop, with many streams just closed, can outlast its 30 s
        print("(the sandbox was slow to stop; the measurements are kept)", file=sys.stderr)
    wall, cpu_total, cpu0, rss0 = facts["wall"], facts["cpu_total"], facts["cpu0"], facts["rss0"]
    cpu_at_warmup, sandbox_cpu, followers_cpu = facts["cpu_at_warmup"], facts["sandbox_cpu"], facts["followers_cpu"]
    report(args, name, results, samples, wall=wall, cpu_total=cpu_total, cpu0=cpu0, rss0=rss0,
           cpu_at_warmup=cpu_at_warmup, sandbox_cpu=sandbox_cpu, followers_cpu=followers_cpu)


def run_stage(args: argparse.Namespace, running_sandbox: Any, results: list[dict[str, Any]],
              samples: list[dict[str, float]], facts: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp, running_sandbox(clusters=1, nodes=2, state_dir=tmp) as sb:
        make_chatty_pod(sb, args.rate)
        cluster_id = wc.register_all(sb)[next(iter(sb.clusters))]
        cookie = wc.session_cookie("bench-logs", "operator")
        port = wc.free_port()
        portal = start_portal(port)
        try:
            spec = {"url": f"http://127.0.0.1:{port}/ws/logs/", "origin": f"http://127.0.0.1:{port}",
                    "cookie": cookie, "followers": args.followers, "slow": args.slow, "seconds": args.seconds,
                    "warmup": args.warmup, "out": str(Path(tmp) / "followers.json"),
                    "request": {"type": "follow", "cluster": cluster_id, "namespace": NAMESPACE, "pod": POD,
                                "tailLines": args.tail}}
            spec_path = Path(tmp) / "spec.json"
            spec_path.write_text(json.dumps(spec))
            cpu0 = wc.proc_cpu_seconds(portal.pid)
            sandbox_cpu0 = time.process_time()
            rss0 = wc.proc_rss_mb(portal.pid)[0]
            t0 = time.monotonic()
            followers = subprocess.Popen([sys.executable, __file__, "--followers-only", str(spec_path)], cwd=wc.ROOT)
            cpu_at_warmup: float | None = None
            while followers.poll() is None:
                time.sleep(1.0)
                elapsed = time.monotonic() - t0
                cpu = wc.proc_cpu_seconds(portal.pid)
                if cpu_at_warmup is None and elapsed >= args.warmup:
                    cpu_at_warmup = cpu
                samples.append({"t": round(elapsed, 1), "rss_mb": wc.proc_rss_mb(portal.pid)[0],
                                "cpu_s": round(cpu - cpu0, 2)})
            wall = time.monotonic() - t0
            cpu_total = wc.proc_cpu_seconds(portal.pid) - cpu0
            sandbox_cpu = time.process_time() - sandbox_cpu0
            out = json.loads(Path(spec["out"]).read_text()) if followers.returncode == 0 else {}
            results.extend(out.get("followers", []))
            facts.update(wall=wall, cpu_total=cpu_total, cpu0=cpu0, rss0=rss0, cpu_at_warmup=cpu_at_warmup,
                         sandbox_cpu=sandbox_cpu, followers_cpu=out.get("cpu_seconds"))
        finally:
            portal.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                portal.wait(20)
            if portal.poll() is None:
                portal.kill()


def report(args: argparse.Namespace, name: str, results: list[dict[str, Any]], samples: list[dict[str, float]], *,
           wall: float, cpu_total: float, cpu0: float, rss0: float, cpu_at_warmup: float | None,
           sandbox_cpu: float, followers_cpu: float | None) -> None:
    fast = [r for r in results if not r["slow"]]
    slow = [r for r in results if r["slow"]]
    delivered = sum(r["lines"] for r in results)
    after = [s["rss_mb"] for s in samples if s["t"] >= args.warmup]
    measured_cpu = (samples[-1]["cpu_s"] + cpu0 - cpu_at_warmup) if samples and cpu_at_warmup is not None else None
    measured_seconds = max(0.001, (samples[-1]["t"] if samples else wall) - args.warmup)
    rates = [r["lines_per_second"] for r in fast]
    payload = {
        "config": {"followers": args.followers, "slow": args.slow, "rate": args.rate, "seconds": args.seconds,
                   "warmup": args.warmup, "tail_lines": args.tail},
        "server": {
            "rss_mb_start": rss0, "rss_mb_after_warmup": after[0] if after else None,
            "rss_mb_end": samples[-1]["rss_mb"] if samples else None, "rss_mb_max": max(after) if after else None,
            "rss_growth_after_warmup_mb": round(after[-1] - after[0], 1) if after else None,
            "cpu_seconds": round(cpu_total, 2),
            "cpu_cores_busy_after_warmup": round(measured_cpu / measured_seconds, 2) if measured_cpu else None,
            "cpu_us_per_delivered_line": round(cpu_total * 1e6 / delivered, 2) if delivered else None,
            "rss_samples": samples,
        },
        "fast_followers": {
            "count": len(fast),
            "lines_per_second": {"min": min(rates) if rates else None,
                                 "median": statistics.median(rates) if rates else None,
                                 "max": max(rates) if rates else None},
            "keeping_up": sum(1 for r in rates if r >= 0.95 * args.rate),
            "lag_ms_p50_median": statistics.median([r["lag_ms"]["p50"] for r in fast if r["lag_ms"]["p50"] is not None])
            if fast else None,
            "lag_ms_p95_max": max((r["lag_ms"]["p95"] for r in fast if r["lag_ms"]["p95"] is not None), default=None),
            "lag_ms_max": max((r["lag_ms"]["max"] for r in fast if r["lag_ms"]["max"] is not None), default=None),
            "skipped_total": sum(r["skipped"] for r in fast),
            "duplicates_total": sum(r.get("duplicates", 0) for r in results),
            "gaps_total": sum(r.get("gaps", 0) for r in results),
            "errors": [e for r in fast for e in r["errors"]][:5],
        },
        "slow_followers": slow,
        "followers": [{k: r.get(k) for k in ("index", "started_after_s", "messages", "lines", "lines_per_second",
                                             "lag_ms", "skipped", "duplicates", "gaps", "errors")}
                      for r in fast],
        "delivered_lines": delivered,
        "other_cpu_seconds": {"sandbox_and_driver": round(sandbox_cpu, 2),
                              "followers": round(followers_cpu, 2) if followers_cpu is not None else None},
        "wall_seconds": round(wall, 1),
    }
    path = wc.write_results(name, payload)
    summary = {k: v for k, v in payload["server"].items() if k != "rss_samples"}
    print(json.dumps({"server": summary, "fast": payload["fast_followers"], "other_cpu": payload["other_cpu_seconds"],
                      "slow": [{k: r[k] for k in ("lines", "skipped", "skipped_messages")} for r in slow]}, indent=2))
    print(f"results: {path}")


if __name__ == "__main__":
    main()

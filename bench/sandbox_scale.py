"""Scale benchmark for the sandbox: one process holding many clusters, nodes and pods.

Run by hand (never from the test suite)::

    .venv/bin/python bench/sandbox_scale.py                # 100 clusters x 20 nodes x 1,000 pods
    .venv/bin/python bench/sandbox_scale.py --clusters 10  # a quicker look

Reports startup time (fleet up, nodes and pods created), resident memory,
latency of listing 1,000 pods over the HTTPS API (p50/p99) and the watch
events per second delivered to concurrent watchers while pods change.  The
fleet runs in a background thread (``sandbox.testing.running_sandbox``); the
HTTP clients run in the main thread's event loop, so client overhead is part
of the figures (they are conservative).  Results go to
``bench/results/sandbox_scale.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.fleet import Fleet
from sandbox.resources import NAMESPACES, PODS
from sandbox.testing import SandboxFleet, running_sandbox

RESULTS = Path(__file__).resolve().parent / "results" / "sandbox_scale.json"


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB."""
    cur = peak = 0.0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return cur, peak


def pod_body(cluster: str, n: int, nodes: int) -> dict[str, Any]:
    rs = f"web-{n // 100:03d}-7d9c5b"
    return {
        "metadata": {"name": f"{rs}-{n:05d}", "namespace": "bench",
                     "labels": {"app": f"web-{n // 100:03d}", "pod-template-hash": "7d9c5b", "tier": "frontend"},
                     "annotations": {"bench.sandbox/index": str(n)}},
        "spec": {"nodeName": f"{cluster}-node-{n % nodes + 1}",
                 "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                                 "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                                               "limits": {"cpu": "100m", "memory": "64Mi"}},
                                 "env": [{"name": "MODE", "value": "bench"}]}]},
    }


def running_status(n: int) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    cond = [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
            for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")]
    return {"phase": "Running", "conditions": cond, "hostIP": "10.0.0.1", "podIP": f"10.244.{n // 250}.{n % 250}",
            "podIPs": [{"ip": f"10.244.{n // 250}.{n % 250}"}], "startTime": now, "qosClass": "Burstable",
            "containerStatuses": [{"name": "web", "ready": True, "restartCount": 0, "started": True,
                                   "image": "docker.io/library/nginx:1.27",
                                   "imageID": "docker.io/library/nginx@sha256:" + "0" * 64,
                                   "containerID": f"containerd://{n:064d}",
                                   "state": {"running": {"startedAt": now}}}]}


async def populate(fleet: Fleet, pods: int, nodes: int) -> None:
    for name, cluster in fleet.clusters.items():
        store = cluster.store
        store.create(NAMESPACES, {"metadata": {"name": "bench"}})
        for n in range(pods):
            created = store.create(PODS, pod_body(name, n, nodes), _owned=True)
            created["status"] = running_status(n)
            store.update_status(PODS, created)
        await asyncio.sleep(0)


async def list_latency(handles: list[Any], ssl_ctx: ssl.SSLContext, requests: int) -> dict[str, float]:
    timings: list[float] = []
    sizes: list[int] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_ctx, limit=16)) as session:
        for _ in range(requests):
            h = random.choice(handles)
            t0 = time.perf_counter()
            async with session.get(f"{h.server}/api/v1/namespaces/bench/pods",
                                   headers={"Authorization": f"Bearer {h.token}"}) as resp:
                body = await resp.read()
                assert resp.status == 200, resp.status
            timings.append((time.perf_counter() - t0) * 1000)
            sizes.append(len(body))
    timings.sort()
    return {"requests": requests, "p50_ms": round(statistics.median(timings), 2),
            "p99_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.99))], 2),
            "mean_ms": round(statistics.fmean(timings), 2), "response_bytes": int(statistics.median(sizes))}


async def watch_throughput(sb: SandboxFleet, handles: list[Any], ssl_ctx: ssl.SSLContext, watchers: int,
                           seconds: float, pods: int, *, fanout: bool = False) -> dict[str, Any]:
    """Watchers spread over the clusters (one write = one event), or with ``fanout`` all on one cluster
    (one write = an event for every watcher, serialized once)."""
    if fanout:
        handles = handles[:1]
    received = 0
    ready = 0
    stop = asyncio.Event()

    async def watcher(i: int, session: aiohttp.ClientSession) -> None:
        nonlocal received, ready
        h = handles[i % len(handles)]
        rv = sb.in_cluster(h.name, lambda c: c.store.resource_version)
        url = f"{h.server}/api/v1/namespaces/bench/pods?watch=1&resourceVersion={rv}&timeoutSeconds={int(seconds) + 30}"
        async with session.get(url, headers={"Authorization": f"Bearer {h.token}"},
                               timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as resp:
            ready += 1
            buf = b""
            async for chunk in resp.content.iter_any():
                buf += chunk
                lines = buf.split(b"\n")
                buf = lines.pop()
                received += len(lines)
                if stop.is_set():
                    return

    async def writer(fleet: Fleet) -> int:
        """Runs on the fleet loop: keep modifying pods round-robin over the watched clusters."""
        names = [h.name for h in handles[:watchers]]
        if fanout:
            names = names[:1]
        writes = 0
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            for name in names:
                store = fleet.clusters[name].store
                pname = pod_body(name, n % pods, 1)["metadata"]["name"]

                def bump(p: dict[str, Any], n: int = n) -> None:
                    p["metadata"].setdefault("annotations", {})["bench.sandbox/tick"] = str(n)

                store.mutate(PODS, "bench", pname, bump)
                writes += 1
            n += 1
            await asyncio.sleep(0)
        return writes

    connector = aiohttp.TCPConnector(ssl=ssl_ctx, limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [asyncio.create_task(watcher(i, session)) for i in range(watchers)]
        while ready < watchers:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        start_count = received
        t0 = time.perf_counter()
        loop = asyncio.get_running_loop()
        writes = await loop.run_in_executor(None, lambda: sb.run(writer, timeout=seconds + 60))
        await asyncio.sleep(1.0)  # let in-flight events arrive
        elapsed = time.perf_counter() - t0
        delivered = received - start_count
        stop.set()
        sb.call(lambda f: [c.store.close_watches() for c in f.clusters.values()])
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"watchers": watchers, "clusters_watched": len({h.name for h in handles[:watchers]}),
            "seconds": round(elapsed, 2), "writes": writes, "events_delivered": delivered,
            "events_per_second": round(delivered / elapsed, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clusters", type=int, default=100)
    p.add_argument("--nodes", type=int, default=20)
    p.add_argument("--pods", type=int, default=1000, help="pods per cluster")
    p.add_argument("--list-requests", type=int, default=200)
    p.add_argument("--watchers", type=int, default=100)
    p.add_argument("--watch-seconds", type=float, default=10.0)
    p.add_argument("--controllers", action="store_true", help="run the controllers too (default: API only)")
    p.add_argument("--output", default=str(RESULTS))
    args = p.parse_args()

    base_rss, _ = rss_mb()
    load_at_start = os.getloadavg()  # other work on the machine skews every figure; it is recorded
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        t0 = time.perf_counter()
        with running_sandbox(clusters=args.clusters, nodes=args.nodes, state_dir=tmp, start_timeout=600,
                             enable_controllers=args.controllers, history_size=5000) as sb:
            t_fleet = time.perf_counter() - t0
            sb.run(lambda f: populate(f, args.pods, args.nodes), timeout=3600)
            startup = time.perf_counter() - t0
            rss, peak = rss_mb()
            print(f"startup: fleet {t_fleet:.1f}s, with {args.clusters * args.pods} pods {startup:.1f}s; "
                  f"rss {rss:.0f} MiB (peak {peak:.0f} MiB)", flush=True)
            handles = list(sb.clusters.values())
            ssl_ctx = ssl.create_default_context(cafile=str(handles[0].ca_path))
            lat = asyncio.run(list_latency(handles, ssl_ctx, args.list_requests))
            print(f"list {args.pods} pods: p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms "
                  f"({lat['response_bytes'] / 1e6:.1f} MB per response)", flush=True)
            watchers = min(args.watchers, 10 * len(handles))
            wt = asyncio.run(watch_throughput(sb, handles, ssl_ctx, watchers, args.watch_seconds, args.pods))
            print(f"watch: {wt['events_per_second']} events/s to {watchers} watchers on "
                  f"{wt['clusters_watched']} clusters ({wt['writes']} writes in {args.watch_seconds}s)", flush=True)
            fan = asyncio.run(watch_throughput(sb, handles, ssl_ctx, args.watchers, args.watch_seconds, args.pods,
                                               fanout=True))
            print(f"watch fan-out: {fan['events_per_second']} events/s to {args.watchers} watchers of one "
                  f"cluster ({fan['writes']} writes in {args.watch_seconds}s)", flush=True)
            rss_after, peak_after = rss_mb()
    result = {
        "benchmark": "sandbox_scale",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
                 "loadavg_at_start": [round(x, 2) for x in load_at_start],
                 "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]},
        "params": {"clusters": args.clusters, "nodes_per_cluster": args.nodes, "pods_per_cluster": args.pods,
                   "controllers": args.controllers},
        "startup_seconds": {"fleet": round(t_fleet, 2), "with_pods": round(startup, 2)},
        "memory_mib": {"baseline": round(base_rss), "after_populate": round(rss), "peak": round(max(peak, peak_after)),
                       "after_bench": round(rss_after), "goal": 3072},
        "list_1000_pods": lat,
        "watch": wt,
        "watch_fanout_one_cluster": fan,
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

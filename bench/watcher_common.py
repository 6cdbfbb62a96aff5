"""Shared plumbing of the watcher benchmarks (``sync_scale.py``, ``dead_cluster.py``).

Both need the same stage: a database of their own (created fresh, migrated), a sandbox fleet in
this process with pods in every cluster, the clusters registered in that database, the real
``manage.py runwatchers`` as a subprocess (so its CPU and memory are its own), a driver that
changes pods inside the sandbox at a steady rate, and a Channels subscriber that times each
change's arrival. Change -> DB is the ``updated`` stamp the watcher puts on the published row
right after its transaction committed; change -> WebSocket is when the subscriber received it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
WATCHER_LOG = Path(tempfile.gettempdir()) / "bench-watcher.log"  # the watcher's JSON log lines, heartbeat included
WEB_LOG = Path(tempfile.gettempdir()) / "bench-watcher-web.log"
BASE_DB_URL = os.environ.get("BENCH_DATABASE_BASE", "postgres://portal:portal@127.0.0.1:54329")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:63799/0")


def prepare_database(name: str) -> str:
    """Drop and create ``name``, migrate it, and point this process's Django at it."""
    import psycopg

    with psycopg.connect(f"{BASE_DB_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{BASE_DB_URL}/{name}"
    # DEBUG off, as deployed: with DEBUG on Django records every SQL statement of the watcher.
    os.environ.update(DATABASE_URL=url, PORTAL_ENV="development", DJANGO_SETTINGS_MODULE="portal.settings",
                      REDIS_URL=REDIS_URL, LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"), DEBUG="false")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, check=True, env=os.environ.copy())
    import logging

    import django

    django.setup()
    # The sandbox logs every watch the watcher closes at shutdown; that is expected here.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    return url


def pod_body(cluster: str, n: int, nodes: int) -> dict[str, Any]:
    rs = f"web-{n // 100:03d}-7d9c5b"
    return {
        "metadata": {"name": f"{rs}-{n:05d}", "namespace": "bench",
                     "labels": {"app": f"web-{n // 100:03d}", "pod-template-hash": "7d9c5b"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs,
                                          "uid": f"rs-{n // 100}", "controller": True}]},
        "spec": {"nodeName": f"{cluster}-node-{n % nodes + 1}",
                 "containers": [{"name": "web", "image": "nginx:1.27",
                                 "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                                               "limits": {"cpu": "100m", "memory": "64Mi"}}}]},
    }


def running_status(n: int) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"phase": "Running", "hostIP": "10.0.0.1", "podIP": f"10.244.{n // 250}.{n % 250}", "startTime": now,
            "qosClass": "Burstable",
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "containerStatuses": [{"name": "web", "ready": True, "restartCount": 0, "image": "nginx:1.27",
                                   "state": {"running": {"startedAt": now}}}]}


async def populate(fleet: Any, pods: int, nodes: int) -> None:
    from sandbox.resources import NAMESPACES, PODS

    for name, cluster in fleet.clusters.items():
        store = cluster.store
        store.create(NAMESPACES, {"metadata": {"name": "bench"}})
        for n in range(pods):
            created = store.create(PODS, pod_body(name, n, nodes), _owned=True)
            created["status"] = running_status(n)
            store.update_status(PODS, created)
        await asyncio.sleep(0)


@contextmanager
def sandbox_fleet(clusters: int, nodes: int, pods: int, tmp: str) -> Iterator[Any]:
    from sandbox.testing import running_sandbox

    with running_sandbox(clusters=clusters, nodes=nodes, state_dir=tmp, start_timeout=900,
                         enable_controllers=False, history_size=50_000, bookmark_interval=30.0) as sb:
        sb.run(lambda f: populate(f, pods, nodes), timeout=1800)
        yield sb


def register_all(sb: Any) -> dict[str, int]:
    """Register every sandbox cluster (as the API would, through its kubeconfig); name -> id."""
    from clusters.kube.connection import spec_from_kubeconfig
    from clusters.models import Cluster

    ids: dict[str, int] = {}
    for name, handle in sb.clusters.items():
        spec, _ = spec_from_kubeconfig(handle.kubeconfig.read_text())
        cluster = Cluster.objects.create(name=name, server=spec.server, ca_pem=spec.ca_pem,
                                         tls_server_name=spec.tls_server_name, provider=handle.provider)
        cluster.set_credentials(spec.credentials)
        cluster.save()
        ids[name] = cluster.pk
    return ids


def start_watcher(*extra: str, log_path: Path = WATCHER_LOG) -> subprocess.Popen[bytes]:
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen([sys.executable, "manage.py", "runwatchers", "--heartbeat", "5", *extra], cwd=ROOT,
                            env={**os.environ, "LOG_LEVEL": "INFO"}, stdout=log, stderr=subprocess.STDOUT)


def stop_watcher(proc: subprocess.Popen[bytes]) -> float:
    """SIGTERM and wait; returns seconds the clean shutdown took."""
    t0 = time.monotonic()
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return time.monotonic() - t0


def all_synced(expected_pods: int, cluster_ids: list[int] | None = None) -> bool:
    from clusters.kube.kinds import WATCHED_KINDS
    from clusters.models import KindSync, KubeObject

    syncs = KindSync.objects.all()
    objects = KubeObject.objects.filter(kind="Pod", namespace="bench")
    if cluster_ids is not None:
        syncs = syncs.filter(cluster_id__in=cluster_ids)
        objects = objects.filter(cluster_id__in=cluster_ids)
    n = len(cluster_ids) if cluster_ids is not None else None
    want = (n or 0) * len(WATCHED_KINDS)
    states = list(syncs.values_list("state", flat=True))
    if n is not None and len(states) != want:
        return False
    return bool(states) and all(s == "synced" for s in states) and objects.count() >= expected_pods


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs so far."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return float(sum(fields) - idle), float(sum(fields))


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def proc_rss_mb(pid: int) -> tuple[float, float]:
    cur = peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            cur = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return round(cur, 1), round(peak, 1)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_portal(port: int, log_path: Path, **env: str) -> subprocess.Popen[bytes]:
    """The real web process (uvicorn, ``portal.asgi``) on ``port``, once its /healthz answers."""
    environ = {**os.environ, "LOG_LEVEL": os.environ.get("BENCH_PORTAL_LOG_LEVEL", "WARNING"), **env}
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1",
                             "--port", str(port), "--ws", "websockets", "--no-access-log"],
                            cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"uvicorn exited with {proc.returncode}; see {log_path}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                                                  timeout=1) as response:
            if response.status == 200:
                return proc
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"uvicorn did not answer within 60 s; see {log_path}")


def session_cookie(username: str, role: str) -> str:
    """A signed-in session of a new user with ``role``: the value of its ``sessionid`` cookie."""
    from django.test import Client

    from portal.testing import make_user

    client = Client()
    client.force_login(make_user(username, role=role))
    return str(client.cookies["sessionid"].value)


def _browser_main(spec: dict[str, Any], out: Any, stop: Any, ready: Any) -> None:
    """In a child process (the sandbox's threads would otherwise skew receive times): open
    ``spec["browsers"]`` WebSocket connections to the web process, as that many browsers, each
    subscribed to its share of the groups, and report (seq, time received, row's ``updated``) for
    every upserted pod row each one receives, as a browser does: parsing every frame."""
    import aiohttp

    groups: list[list[str]] = spec["groups"]
    connected = [0]

    async def browser(session: Any, mine: list[str]) -> None:
        async with session.ws_connect(spec["url"], headers={"Cookie": f"sessionid={spec['cookie']}"},
                                      max_msg_size=0) as ws:
            for group in mine:
                await ws.send_json({"type": "subscribe", "group": group})
            pending = set(mine)
            while pending:
                reply = json.loads((await ws.receive()).data)
                if reply.get("type") == "subscribed":
                    pending.discard(reply["group"])
                elif reply.get("type") == "error":
                    raise RuntimeError(f"subscription refused: {reply}")
            connected[0] += 1
            if connected[0] == len(groups):
                ready.set()
            unreported = 0  # frames received since the last report ("#", count, 0)
            while not stop.is_set():
                try:
                    message = await ws.receive(timeout=0.5)
                except TimeoutError:
                    if unreported:
                        out.put([("#", float(unreported), 0.0)])
                        unreported = 0
                    continue
                if message.type != aiohttp.WSMsgType.TEXT:
                    return
                now = time.time()
                unreported += 1
                event = json.loads(message.data)
                found: list[tuple[str, float, float]] = []
                for change in (event.get("data") or {}).get("changes", []):
                    if change.get("truncated"):  # a browser refetches the group's objects
                        found.append(("", now, float(event.get("group", "cluster.0").split(".")[1])))
                    for row in change.get("upserts", []):
                        seq = (row.get("labels") or {}).get("bench-seq")
                        if seq is not None:
                            found.append((seq, now, datetime.fromisoformat(row["updated"]).timestamp()))
                if found or unreported >= 50:
                    out.put([*found, ("#", float(unreported), 0.0)])
                    unreported = 0

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(browser(session, mine) for mine in groups))

    asyncio.run(run())


class LatencyProbe:
    """Changes pods inside the sandbox at a steady rate and times their arrival in browsers: the
    real web process, and WebSocket clients in a child process (:func:`_browser_main`)."""

    def __init__(self, sb: Any, ids: dict[str, int]) -> None:
        self.sb = sb
        self.ids = ids
        self.sent: dict[str, tuple[float, str]] = {}  # seq -> (time of change, cluster name)
        self.db_ms: dict[str, float] = {}
        self.ws_ms: dict[str, float] = {}  # the first browser to receive the change
        self.deliveries_ms: list[float] = []  # every browser's receipt of every change
        self.messages = 0  # frames the browsers received
        self.refetches: dict[int, float] = {}  # cluster id -> first "truncated" notice (time received)

    def subscribe(self, browsers: int = 1) -> None:
        """Start the web process and ``browsers`` sockets. Each subscribes to ``fleet`` and to the
        cluster and ``bench`` namespace groups of its share of the clusters (at least one; every
        cluster has at least one browser), as a console on a cluster's pod list does."""
        import multiprocessing

        port = free_port()
        self.web = start_portal(port, WEB_LOG)
        cookie = session_cookie(f"bench-browser-{port}", "admin")
        cids = list(self.ids.values())
        groups = []
        for i in range(browsers):
            mine = {cids[k] for k in range(len(cids)) if k % browsers == i} | {cids[i % len(cids)]}
            groups.append(["fleet", *(g for cid in sorted(mine) for g in (f"cluster.{cid}", f"cluster.{cid}.ns.bench"))])
        ctx = multiprocessing.get_context("spawn")
        self.out: Any = ctx.Queue()
        self.stop_flag: Any = ctx.Event()
        ready = ctx.Event()
        spec = {"url": f"ws://127.0.0.1:{port}/ws/", "cookie": cookie, "groups": groups}
        self.proc = ctx.Process(target=_browser_main, args=(spec, self.out, self.stop_flag, ready), daemon=True)
        self.proc.start()
        if not ready.wait(120):
            raise RuntimeError("the browsers did not all subscribe")

    def _collect(self) -> None:
        import queue

        while True:
            try:
                batch = self.out.get_nowait()
            except queue.Empty:
                return
            for seq, received, updated in batch:
                if seq == "#":  # frames received, whatever they carried
                    self.messages += int(received)
                    continue
                if not seq:  # a truncated notice: updated is the cluster id
                    self.refetches.setdefault(int(updated), received)
                    continue
                if seq in self.sent:
                    t0 = self.sent[seq][0]
                    self.deliveries_ms.append((received - t0) * 1000)
                    if seq not in self.ws_ms:
                        self.ws_ms[seq] = (received - t0) * 1000
                        self.db_ms[seq] = (updated - t0) * 1000

    def drive(self, names: list[str], rate: float, seconds: float, pods: int) -> int:
        """On the fleet's loop: every 1/rate s change one pod in each cluster of ``names``."""
        from sandbox.resources import PODS

        counter = [len(self.sent)]

        async def run(fleet: Any) -> int:
            interval = 1.0 / rate
            start = time.monotonic()
            tick = 0
            while time.monotonic() - start < seconds:
                for name in names:
                    counter[0] += 1
                    seq = f"{id(self)}-{counter[0]}"
                    pod = pod_body(name, counter[0] % pods, 1)["metadata"]["name"]

                    def label(p: dict[str, Any], seq: str = seq) -> None:
                        p["metadata"].setdefault("labels", {})["bench-seq"] = seq

                    self.sent[seq] = (time.time(), name)
                    fleet.clusters[name].store.mutate(PODS, "bench", pod, label)
                tick += 1
                await asyncio.sleep(max(0.0, start + tick * interval - time.monotonic()))
            return counter[0]

        return int(self.sb.run(run, timeout=seconds + 120))

    def results(self, names: set[str] | None = None, settle: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + settle
        want = [s for s, (_, n) in self.sent.items() if names is None or n in names]
        self._collect()
        while time.monotonic() < deadline and any(s not in self.ws_ms for s in want):
            time.sleep(0.1)
            self._collect()
        db = [self.db_ms[s] for s in want if s in self.db_ms]
        ws = [self.ws_ms[s] for s in want if s in self.ws_ms]
        # p99 per 5 s of the window (by send time): a steady lag and a stall look different.
        start = min((self.sent[s][0] for s in want), default=0.0)
        buckets: dict[int, list[float]] = {}
        for s in want:
            if s in self.db_ms:
                buckets.setdefault(int((self.sent[s][0] - start) // 5), []).append(self.db_ms[s])
        return {"changes": len(want), "received": len(ws),
                "change_to_db_p99_per_5s_ms": [percentile(buckets[k], 0.99) for k in sorted(buckets)],
                "change_to_db_ms": {"p50": percentile(db, 0.5), "p99": percentile(db, 0.99), "max": percentile(db, 1)},
                "change_to_ws_ms": {"p50": percentile(ws, 0.5), "p99": percentile(ws, 0.99), "max": percentile(ws, 1)},
                "every_delivery_ms": {"count": len(self.deliveries_ms), "p50": percentile(self.deliveries_ms, 0.5),
                                      "p99": percentile(self.deliveries_ms, 0.99)}}

    def final_states(self, pods: int, cluster_ids: dict[str, int]) -> dict[str, int]:
        """Did the last change of every pod changed reach PostgreSQL and the subscriber? (Coalescing
        may drop a pod's intermediate states, never its last one.) A change's seq ends in its
        number n; it changed pod n % ``pods`` of its cluster, as both drives do."""
        from clusters.models import KubeObject

        last: dict[tuple[str, str], tuple[int, str]] = {}
        for seq, (_at, cluster) in self.sent.items():
            n = int(seq.rsplit("-", 1)[1])
            key = (cluster, pod_body(cluster, n % pods, 1)["metadata"]["name"])
            if key not in last or n > last[key][0]:
                last[key] = (n, seq)
        names = {cid: name for name, cid in cluster_ids.items()}
        stored = {(names[cid], name): (labels or {}).get("bench-seq") for cid, name, labels in
                  KubeObject.objects.filter(kind="Pod", namespace="bench", cluster_id__in=list(names))
                  .values_list("cluster_id", "name", "labels")}
        ids = {name: cid for cid, name in names.items()}
        return {"objects_changed": len(last),
                "final_state_in_db": sum(1 for key, (_n, seq) in last.items() if stored.get(key) == seq),
                "final_state_on_socket": sum(1 for _n, seq in last.values() if seq in self.ws_ms),
                # not received as a row, but the group said "truncated" (a browser refetches the rows)
                "final_state_by_refetch": sum(1 for (cluster, _pod), (_n, seq) in last.items()
                                              if seq not in self.ws_ms and ids[cluster] in self.refetches
                                              and stored.get((cluster, _pod)) == seq)}

    def reset(self) -> None:
        self._collect()
        self.sent.clear()
        self.db_ms.clear()
        self.ws_ms.clear()
        self.deliveries_ms.clear()
        self.messages = 0

    def close(self) -> None:
        self.stop_flag.set()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
        stop_watcher(self.web)


def _cpu_jiffies() -> list[int]:
    return [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]


_JIFFIES_AT_IMPORT = _cpu_jiffies()  # for the steal figure of the run that imported this module


def reference_cpu_ms(repeats: int = 5) -> float:
    """CPU milliseconds of a fixed workload shaped like the portal's own (JSON in and out of a
    pod-sized object, dicts, strings), best of ``repeats``.

    The machines these benchmarks run on change from one session to the next and are shared: the
    same code measured 1.7-2x the CPU per change on one machine as on another. Every result
    records this figure so that a change of machine is told apart from a change of code; it is
    measured after the run, outside the load."""
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "web-7c9f6d5b8-x2k4p", "namespace": "team-a", "uid": "0" * 36,
                        "resourceVersion": "123456", "labels": {"app": "web", "pod-template-hash": "7c9f6d5b8"},
                        "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7c9f6d5b8", "uid": "1" * 36}]},
           "spec": {"nodeName": "node-3", "containers": [{"name": "web", "image": "nginx:1.27",
                                                          "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
           "status": {"phase": "Running", "podIP": "10.0.3.17",
                      "conditions": [{"type": t, "status": "True"} for t in ("PodScheduled", "Initialized", "Ready")]}}
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for i in range(2000):
            obj = json.loads(json.dumps(pod))
            obj["metadata"]["resourceVersion"] = str(i)
            key = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in obj["status"]["conditions"])
            _ = {k: v for k, v in sorted(obj["metadata"]["labels"].items())}, key.split("/"), ready
        best = min(best, time.process_time() - start)
    return round(best * 1000, 1)


def steal_percent_since_import() -> float:
    """Share of the machine's CPU time the hypervisor gave to other guests since this module was
    imported (``steal`` in ``/proc/stat``): high values mean a shared, busy host."""
    now = _cpu_jiffies()
    delta = [b - a for a, b in zip(_JIFFIES_AT_IMPORT, now, strict=False)]
    total = sum(delta[:8]) or 1
    return round(100.0 * (delta[7] if len(delta) > 7 else 0) / total, 2)


def machine_facts() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "")
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "platform": platform.platform(), "reference_cpu_ms": reference_cpu_ms(),
            "steal_percent": steal_percent_since_import()}


def with_bench_on_path(env: dict[str, str]) -> dict[str, str]:
    """``env`` with ``bench/`` first on ``PYTHONPATH``: a subprocess can then load a bench-only
    module (``celery worker --include ...``) that the portal never imports."""
    return {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "bench"), env.get("PYTHONPATH", "")]))}


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "when": datetime.now().astimezone().isoformat(timespec="seconds"),
               "machine": machine_facts(), **payload}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def service_pids() -> dict[str, int]:
    """PostgreSQL's postmaster and Redis started by ``scripts/services.sh`` (their pid files under
    ``var/``); measured with :class:`tests.faults.storm_helpers.Usage`, PostgreSQL with its backends."""
    out: dict[str, int] = {}
    pg = ROOT / "var" / "postgres" / "postmaster.pid"
    redis = ROOT / "var" / "redis" / "redis.pid"
    if pg.exists():
        out["postgres"] = int(pg.read_text().split()[0])
    if redis.exists():
        out["redis"] = int(redis.read_text().split()[0])
    return out


def py_spy(pid: int, seconds: float, name: str) -> subprocess.Popen[bytes] | None:
    """Record a flame graph of ``pid`` for ``seconds`` into ``bench/results/<name>.svg`` (py-spy,
    if installed: ``pip install py-spy``); returns the recorder to wait for, or None."""
    exe = Path(sys.executable).with_name("py-spy")
    if not exe.exists():
        print("py-spy not installed: no profile recorded", flush=True)
        return None
    RESULTS.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([str(exe), "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100", "--gil",
                             "--nonblocking", "--output", str(RESULTS / f"{name}.svg")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def thread_names(pid: int) -> dict[int, str]:
    """OS thread id -> Python thread name of a running Python process (``py-spy dump``)."""
    import re

    exe = Path(sys.executable).with_name("py-spy")
    if not exe.exists():
        return {}
    out = subprocess.run([str(exe), "dump", "--pid", str(pid), "--nonblocking"], capture_output=True, text=True,
                         timeout=120).stdout
    return {int(tid, 0): name for tid, name in re.findall(r'^Thread (\S+) \([^)]*\): "([^"]*)"', out, re.M)}


def thread_cpu(pid: int) -> dict[int, float]:
    """OS thread id -> CPU seconds so far, for every thread of ``pid``."""
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def thread_groups(names: dict[int, str], before: dict[int, float], after: dict[int, float]) -> dict[str, float]:
    """CPU seconds between two :func:`thread_cpu` samples, summed by thread role: the name with its
    cluster, kind and index numbers taken out (``watch-12-Pod`` -> ``watch``)."""
    import re

    groups: dict[str, float] = {}
    for tid, cpu in after.items():
        name = names.get(tid, "(unnamed)")
        role = re.sub(r"[-_]\d.*$", "", name) or name
        groups[role] = groups.get(role, 0.0) + cpu - before.get(tid, 0.0)
    return {k: round(v, 2) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])}


class ReplayFleet:
    """``bench/replay_server.py`` in a process of its own: N clusters served from prepared bytes
    (the cheap load generator), registered like the sandbox's."""

    def __init__(self, clusters: int, nodes: int, pods: int, rate: float, seconds: float, tmp: str) -> None:
        self.state = Path(tmp) / "replay"
        self.state.mkdir(parents=True, exist_ok=True)
        self.rate, self.seconds = rate, seconds
        self.log = open(self.state / "server.log", "wb")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "replay_server.py"), "--state", str(self.state), "--clusters",
             str(clusters), "--nodes", str(nodes), "--pods", str(pods), "--rate", str(rate), "--seconds",
             str(seconds)], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 900
        while not (self.state / "ready.json").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the replay server did not start; see {self.state / 'server.log'}")
            time.sleep(0.2)
        self.ready = json.loads((self.state / "ready.json").read_text())

    def register(self) -> dict[str, int]:
        from clusters.kube.connection import Credentials
        from clusters.models import Cluster

        ids: dict[str, int] = {}
        for name, port in self.ready["ports"].items():
            cluster = Cluster.objects.create(name=name, server=f"https://127.0.0.1:{port}", ca_pem=self.ready["ca_pem"],
                                             provider="replay")
            cluster.set_credentials(Credentials(token=self.ready["token"]))
            cluster.save()
            ids[name] = cluster.pk
        return ids

    def drive(self, probe: LatencyProbe) -> int:
        """Start the server's drive, wait for it, and tell ``probe`` when each change was sent."""
        import signal

        self.proc.send_signal(signal.SIGUSR1)
        sent_file = self.state / "sent.json"
        deadline = time.monotonic() + self.seconds + 120
        while not sent_file.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"the replay drive did not finish; see {self.state / 'server.log'}")
            time.sleep(0.2)
        sent = json.loads(sent_file.read_text())
        for seq, at in sent.items():
            probe.sent[seq] = (at, seq.rsplit("-", 1)[0])
        return len(sent)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def code_version() -> str:
    """The commit measured (``+dirty`` with uncommitted changes)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    return head.strip() + ("+dirty" if dirty else "")


def lease_split() -> dict[str, int]:
    """Clusters held per watcher (lease holder)."""
    from django.db.models import Count

    from clusters.models import WatcherLease

    return {row["holder"]: row["n"] for row in
            WatcherLease.objects.values("holder").annotate(n=Count("cluster")).order_by("holder")}


class KillOne:
    """SIGKILL one watcher ``at`` seconds from :meth:`start` and time how long until every cluster
    is held by another holder again (polling the lease table from a thread)."""

    def __init__(self, proc: subprocess.Popen[bytes], holder: str, at: float, cluster_ids: list[int]) -> None:
        import threading

        self.proc, self.holder, self.at, self.cluster_ids = proc, holder, at, cluster_ids
        self.cpu_at_kill = 0.0
        self.killed_at: float | None = None
        self.orphans: list[int] = []
        self.taken_after: float | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        import signal

        from django.db import connection

        from clusters.models import WatcherLease

        time.sleep(self.at)
        self.orphans = list(WatcherLease.objects.filter(holder=self.holder).values_list("cluster_id", flat=True))
        self.cpu_at_kill = proc_cpu_seconds(self.proc.pid)
        self.proc.send_signal(signal.SIGKILL)
        self.killed_at = time.monotonic()
        deadline = self.killed_at + 120
        while time.monotonic() < deadline:
            held = dict(WatcherLease.objects.filter(cluster_id__in=self.cluster_ids)
                        .values_list("cluster_id", "holder"))
            if len(held) == len(self.cluster_ids) and self.holder not in held.values():
                self.taken_after = time.monotonic() - self.killed_at
                break
            time.sleep(0.25)
        connection.close()

    def report(self) -> dict[str, Any]:
        self.thread.join(130)
        return {"killed_after_s": self.at, "clusters_of_the_killed_watcher": len(self.orphans),
                "every_cluster_held_again_after_s": None if self.taken_after is None else round(self.taken_after, 1)}

"""Helpers of STORM's fault tests and their long versions in ``bench/`` (``reconnect_storm.py``,
``watcher_takeover.py``): per-process CPU and memory from ``/proc``, clusters and sessions made on a
private stack (``tests/faults/procs.py``), and the reconnect storm's WebSocket clients.

**The reconnect storm.** Each client is what the console does with one live view: it opens
``/ws/`` with a session cookie, subscribes to ``cluster.<id>``, fetches the cluster once over HTTP
and then keeps its copy current from ``cluster.updated`` events. Each event carries ``seq``, one
more than the group's previous event; a socket's ``subscribed`` answer carries the group's current
``seq``. Whenever what it sees does not follow on from what it has (a ``subscribed`` seq other than
its last, an event more than one ahead), the client fetches the cluster again. At the storm every
client drops its socket and reconnects at a random moment within the window, while the cluster is
changed a few times through the API. Afterwards each client must hold the final state; the time
from the storm's start until it does is its "served" time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.faults.procs import Proc, Stack, WebServer

# ---------------------------------------------------------------------------- /proc figures


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """User + system CPU seconds of one process so far; with ``reaped``, plus those of its children
    that exited and were waited for (PostgreSQL's finished backends)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of one process in MB."""
    cur = peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            cur = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return round(cur, 1), round(peak, 1)


def tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (PostgreSQL's backends, a server's workers)."""
    out = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                out.extend(tree(int(child)))
    return out


def pss_mb(pid: int) -> float:
    """Proportional set size of one process in MB: shared pages (PostgreSQL's shared buffers)
    split between the processes that map them, so a sum over a process tree means something."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Usage:
    """CPU seconds and memory of named processes over an interval, sampled every ``every``
    seconds in a thread so the peak is seen even if a process shrinks. A name listed in ``trees``
    counts the process with its descendants (PostgreSQL and its backends), memory as the sum of
    their PSS; any other is the process alone, memory as its RSS."""

    def __init__(self, procs: dict[str, int], every: float = 0.5, trees: Iterable[str] = ("postgres",)) -> None:
        self.procs = procs
        self.trees = set(trees)
        self.every = every
        self.start_cpu: dict[str, float] = {}
        self.peak_rss: dict[str, float] = dict.fromkeys(procs, 0.0)
        self.start_rss: dict[str, float] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.t0 = 0.0
        self.seconds = 0.0

    def _members(self, name: str) -> list[int]:
        pid = self.procs[name]
        return tree(pid) if name in self.trees else [pid]

    def _cpu(self, name: str) -> float:
        total = 0.0
        for p in self._members(name):
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += cpu_seconds(p, reaped=name in self.trees)
        return total

    def _rss(self, name: str) -> float:
        if name not in self.trees:
            with contextlib.suppress(OSError, ValueError):
                return rss_mb(self.procs[name])[0]
            return 0.0
        total = 0.0
        for p in self._members(name):
            with contextlib.suppress(OSError, ValueError):
                total += pss_mb(p)
        return total

    def _sample(self) -> None:
        while not self.done.wait(self.every):
            for name in self.procs:
                self.peak_rss[name] = max(self.peak_rss[name], self._rss(name))

    def __enter__(self) -> Usage:
        self.t0 = time.monotonic()
        for name in self.procs:
            self.start_cpu[name] = self._cpu(name)
            self.start_rss[name] = self._rss(name)
            self.peak_rss[name] = self.start_rss[name]
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(5)
        self.seconds = time.monotonic() - self.t0
        self.end_cpu = {name: self._cpu(name) for name in self.procs}
        self.end_rss = {name: self._rss(name) for name in self.procs}

    def report(self) -> dict[str, Any]:
        """Per process: CPU seconds used, average cores, memory before / after / peak (MB; RSS, or
        PSS summed over the tree for ``trees``)."""
        out = {}
        for name in self.procs:
            used = self.end_cpu[name] - self.start_cpu[name]
            out[name] = {"cpu_seconds": round(used, 2), "cores": round(used / max(self.seconds, 1e-6), 3),
                         "memory": "pss_tree" if name in self.trees else "rss",
                         "rss_mb": {"before": round(self.start_rss[name], 1), "after": round(self.end_rss[name], 1),
                                    "peak": round(max(self.peak_rss[name], self.end_rss[name]), 1)}}
        return out


def pids(procs: Iterable[Proc]) -> dict[str, int]:
    return {p.name: p.pid for p in procs if p.pid is not None and p.alive}


def webs(stack: Stack, count: int, **env: str) -> list[WebServer]:
    """``count`` web processes on the stack, each with a name and log of its own, started and ready."""
    out = []
    for i in range(count):
        web = stack.web(**env)
        web.name = f"web-{i + 1}"
        web.log = web.workdir / f"{web.safe_name}.log"
        out.append(web)
    for web in out:
        web.start()
    for web in out:
        web.wait_ready(120)
    return out


# ---------------------------------------------------------------------------- the private stack


def register_clusters(stack: Stack, kubeconfigs: dict[str, str]) -> dict[str, int]:
    """Register clusters in the stack's database from their kubeconfigs, as the API would store
    them (credentials sealed); name -> id."""
    return {k: int(v) for k, v in stack.run_django(f"""
from clusters.kube.connection import spec_from_kubeconfig
from clusters.models import Cluster
result = {{}}
for name, text in {kubeconfigs!r}.items():
    spec, _ = spec_from_kubeconfig(text)
    cluster = Cluster.objects.create(name=name, server=spec.server, ca_pem=spec.ca_pem,
                                     tls_server_name=spec.tls_server_name)
    cluster.set_credentials(spec.credentials)
    cluster.save()
    result[name] = cluster.pk
""").items()}


def make_sessions(stack: Stack, users: int, role: str = "operator") -> list[str]:
    """``users`` users of ``role`` signed in, as a browser would be: their session keys."""
    return [str(k) for k in stack.run_django(f"""
from django.test import Client
from portal.models import User
result = []
for i in range({users}):
    name = "storm-%s-%d" % ({role!r}, i)
    user = User.objects.filter(username=name).first() or User.objects.create_user(
        username=name, password="correct-horse-battery", role={role!r}, email=name + "@example.com")
    client = Client()
    client.force_login(user)
    result.append(client.cookies["sessionid"].value)
""")]


def make_cluster_row(stack: Stack, name: str = "storm-target") -> int:
    """A disabled cluster row (nothing watches it): the object the storm's clients keep current."""
    return int(stack.run_django(f"""
from clusters.models import Cluster
result = Cluster.objects.create(name={name!r}, server="https://127.0.0.1:9", enabled=False,
                                description="v0").pk
"""))


def api(base_url: str, token: str, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Any:
    """One API request with an API token; returns the decoded JSON body (raises on HTTP errors)."""
    req = urllib.request.Request(f"{base_url}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                          "Host": "localhost"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


# ---------------------------------------------------------------------------- the storm's clients


@dataclass
class Client:
    index: int
    base_url: str
    session_key: str
    cluster_id: int
    state: str | None = None  # the cluster's description as this client knows it
    last_seq: int = -1
    refetches: int = 0
    events_applied: int = 0
    gaps: int = 0
    connects: int = 0
    connect_failures: int = 0
    fetch_failures: int = 0
    reconnected_at: float | None = None  # monotonic: "subscribed" after the storm's drop
    served_at: float | None = None  # monotonic: holding the final state after the storm's drop
    errors: list[str] = field(default_factory=list)
    ws: Any = None
    reader: asyncio.Task[None] | None = None

    @property
    def group(self) -> str:
        return f"cluster.{self.cluster_id}"

    @property
    def host(self) -> str:
        return self.base_url.split("://", 1)[1]

    def headers(self) -> dict[str, str]:
        return {"Cookie": f"sessionid={self.session_key}"}

    async def fetch(self, http: aiohttp.ClientSession) -> None:
        """GET the cluster (what the console does on a gap), retried while the server is busy."""
        delay = 0.2
        for _ in range(20):
            try:
                async with http.get(f"{self.base_url}/api/clusters/{self.cluster_id}/", headers=self.headers(),
                                    timeout=aiohttp.ClientTimeout(total=30)) as resp:
                    if resp.status == 200:
                        self.state = (await resp.json())["description"]
                        self.refetches += 1
                        return
                    self.errors.append(f"GET {resp.status}")
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.errors.append(f"GET {type(exc).__name__}")
            self.fetch_failures += 1
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 3.0)
        raise RuntimeError(f"client {self.index} could not fetch the cluster")

    async def connect(self, http: aiohttp.ClientSession, final: Callable[[], str | None]) -> None:
        """Open the socket and subscribe (retrying with backoff as the console does), refetch if
        the group moved on, then keep reading events in a task."""
        delay = 0.2
        while True:
            self.connects += 1
            ws: Any = None
            try:
                ws = await http.ws_connect(f"{self.base_url}/ws/", headers=self.headers(),
                                           origin=self.base_url, heartbeat=None, autoping=True,
                                           timeout=aiohttp.ClientWSTimeout(ws_close=5))
                await ws.send_json({"type": "subscribe", "group": self.group})
                while True:
                    msg = await asyncio.wait_for(ws.receive(), 30)
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        raise ConnectionError(f"socket ended before subscribed: {msg.type}")
                    data = json.loads(msg.data)
                    if data.get("type") == "subscribed" and data.get("group") == self.group:
                        break
                    if data.get("type") == "error":
                        raise ConnectionError(f"subscribe refused: {data}")
                break
            except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
                self.connect_failures += 1
                self.errors.append(f"connect {type(exc).__name__}: {str(exc)[:80]}")
                if ws is not None:
                    with contextlib.suppress(Exception):
                        await ws.close()
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 5.0)
        self.ws = ws
        seq = int(data["seq"])
        if self.state is None or seq != self.last_seq:
            if self.last_seq >= 0:
                self.gaps += 1
            await self.fetch(http)
        self.last_seq = max(self.last_seq, seq)
        self.reconnected_at = time.monotonic()
        self._check_served(final)
        self.reader = asyncio.create_task(self._read(http, final))

    def _check_served(self, final: Callable[[], str | None]) -> None:
        want = final()
        if self.served_at is None and want is not None and self.state == want and self.reconnected_at is not None:
            self.served_at = time.monotonic()

    async def _read(self, http: aiohttp.ClientSession, final: Callable[[], str | None]) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            event = json.loads(msg.data)
            if event.get("group") != self.group or event.get("type") != "cluster.updated":
                continue
            seq = int(event["seq"])
            if seq <= self.last_seq:
                continue  # already covered by a fetch made after it
            if seq == self.last_seq + 1:
                self.state = event["data"]["description"]
                self.events_applied += 1
            else:
                self.gaps += 1
                await self.fetch(http)
            self.last_seq = seq
            self._check_served(final)

    async def drop(self) -> None:
        """Close the socket as a network blip or a restarted server would."""
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader
            self.reader = None
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
            self.ws = None
        self.reconnected_at = None
        self.served_at = None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 2)


async def reconnect_storm(*, base_urls: list[str], sessions: list[str], cluster_id: int, token: str,
                          clients: int, window: float = 10.0, changes: int = 4, settle: float = 30.0,
                          connect_concurrency: int = 100, seed: int = 18) -> dict[str, Any]:
    """Connect ``clients`` sockets (spread over ``base_urls`` and ``sessions``), then the storm:
    every socket drops and reconnects at a random moment within ``window`` seconds while the
    cluster's description is changed ``changes`` times through the API (the last one near the end
    of the window). Waits up to ``settle`` seconds after the storm's start for every client to
    hold the final state; returns the figures (nothing is asserted here)."""
    rng = random.Random(seed)
    final: list[str | None] = [None]
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as http:
        pool = [Client(i, base_urls[i % len(base_urls)], sessions[i % len(sessions)], cluster_id)
                for i in range(clients)]
        gate = asyncio.Semaphore(connect_concurrency)

        async def first(c: Client) -> None:
            async with gate:
                await c.connect(http, lambda: final[0])

        t0 = time.monotonic()
        await asyncio.gather(*(first(c) for c in pool))
        initial_connect = time.monotonic() - t0
        initial = {c.state for c in pool}

        loop = asyncio.get_running_loop()

        def change(value: str) -> None:
            api(base_urls[0], token, "PATCH", f"/api/clusters/{cluster_id}/", {"description": value})

        async def changer() -> list[float]:
            at = []
            for k in range(changes):
                await asyncio.sleep(window / (changes + 0.5) if k else window * 0.1)
                value = f"storm-{k + 1}"
                if k == changes - 1:
                    final[0] = value
                await loop.run_in_executor(None, change, value)
                at.append(round(time.monotonic() - start, 2))
            return at

        async def bounce(c: Client, when: float) -> None:
            await asyncio.sleep(when)
            await c.drop()
            await c.connect(http, lambda: final[0])

        start = time.monotonic()
        for c in pool:  # every socket drops at once (a restarted server, a network blip) ...
            await c.drop()
        # ... and each client comes back at a moment of its own within the window.
        storm = [asyncio.create_task(bounce(c, rng.uniform(0, window))) for c in pool]
        changes_at = await changer()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*storm), timeout=max(1.0, settle - (time.monotonic() - start)))
        while time.monotonic() - start < settle and any(c.served_at is None for c in pool):
            for c in pool:
                c._check_served(lambda: final[0])
            await asyncio.sleep(0.1)
        reconnected = [c.reconnected_at - start for c in pool if c.reconnected_at is not None]
        served = [c.served_at - start for c in pool if c.served_at is not None]
        stale = [c.index for c in pool if c.state != final[0]]
        # Stale while showing itself connected: the silent kind of stale (a client still
        # reconnecting knows it is behind, as the console's banner says).
        stale_connected = [c.index for c in pool if c.state != final[0] and c.reconnected_at is not None]
        result = {
            "clients": clients, "web_processes": len(base_urls), "sessions": len(sessions), "window_s": window,
            "initial_connect_s": round(initial_connect, 2), "initial_states": sorted(s or "" for s in initial),
            "changes_at_s": changes_at, "final_state": final[0],
            "reconnected": len(reconnected), "served": len(served),
            "reconnect_s": {"p50": percentile(reconnected, 0.5), "p99": percentile(reconnected, 0.99),
                            "max": percentile(reconnected, 1.0)},
            "served_s": {"p50": percentile(served, 0.5), "p99": percentile(served, 0.99),
                         "max": percentile(served, 1.0)},
            "stale_clients": stale[:20], "stale_count": len(stale), "stale_while_connected": len(stale_connected),
            "refetches_after_gap": sum(c.gaps for c in pool),
            "events_applied": sum(c.events_applied for c in pool),
            "connect_failures": sum(c.connect_failures for c in pool),
            "fetch_failures": sum(c.fetch_failures for c in pool),
            "errors_sample": sorted({e for c in pool for e in c.errors})[:10],
        }
        for c in pool:
            await c.drop()
    return result


# ---------------------------------------------------------------------------- watcher takeover

# Watcher intervals for takeover runs: a 3 s lease renewed every 0.5 s, quick probes.
FAST_WATCHER_ENV = {
    "PORTAL_WATCHER_LEASE_SECONDS": "3", "PORTAL_WATCHER_POLL_INTERVAL": "0.5",
    "PORTAL_WATCHER_PROBE_INTERVAL": "0.5", "PORTAL_WATCHER_PROBE_TIMEOUT": "1", "PORTAL_WATCHER_REQUEST_TIMEOUT": "3",
    "PORTAL_WATCHER_BACKOFF_BASE": "0.2", "PORTAL_WATCHER_BACKOFF_MAX": "2", "PORTAL_WATCHER_SUMMARY_INTERVAL": "0.3",
    "PORTAL_WATCHER_FLUSH_INTERVAL": "0.02", "PORTAL_WATCHER_PUBLISH_INTERVAL": "0.2",
}


def leases(stack: Stack) -> dict[int, tuple[str, Any, Any]]:
    """cluster id -> (holder, acquired, expires) as stored, live or not."""
    return {int(r[0]): (str(r[1]), r[2], r[3]) for r in
            stack.sql("SELECT cluster_id, holder, acquired, expires FROM clusters_watcherlease")}


def all_synced(stack: Stack, cluster_ids: Iterable[int]) -> bool:
    from clusters.kube.kinds import WATCHED_KINDS

    ids = list(cluster_ids)
    rows = stack.sql("SELECT state FROM clusters_kindsync WHERE cluster_id = ANY(%s)", ids)
    return len(rows) == len(ids) * len(WATCHED_KINDS) and all(r[0] == "synced" for r in rows)


def relists(stack: Stack, cluster_ids: Iterable[int]) -> dict[tuple[int, str], int]:
    return {(int(r[0]), str(r[1])): int(r[2]) for r in stack.sql(
        "SELECT cluster_id, kind, relists FROM clusters_kindsync WHERE cluster_id = ANY(%s)", list(cluster_ids))}


def service_labels(stack: Stack, cluster_id: int, ns: str) -> dict[str, dict[str, str]]:
    """Service name -> labels in the read model of one cluster's namespace."""
    return {str(r[0]): dict(r[1] or {}) for r in stack.sql(
        "SELECT name, labels FROM clusters_kubeobject WHERE cluster_id = %s AND kind = 'Service' AND namespace = %s",
        cluster_id, ns)}


class EventCollector:
    """One browser socket (``/ws/`` with a session cookie) subscribed to ``groups``, in a thread of
    its own; every event received is kept in ``events``."""

    def __init__(self, base_url: str, session_key: str, groups: list[str]) -> None:
        self.base_url, self.session_key, self.groups = base_url, session_key, groups
        self.events: list[dict[str, Any]] = []
        self.subscribed: set[str] = set()
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.stop_flag: asyncio.Event | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._run(),), daemon=True)

    async def _run(self) -> None:
        self.stop_flag = asyncio.Event()
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http, http.ws_connect(
                f"{self.base_url}/ws/", headers={"Cookie": f"sessionid={self.session_key}"},
                origin=self.base_url) as ws:
            for group in self.groups:
                await ws.send_json({"type": "subscribe", "group": group})
            stop = asyncio.create_task(self.stop_flag.wait())
            while not self.stop_flag.is_set():
                receive = asyncio.create_task(ws.receive())
                await asyncio.wait({receive, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not receive.done():
                    receive.cancel()
                    break
                msg = receive.result()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                event = json.loads(msg.data)
                with self.lock:
                    if event.get("type") == "subscribed":
                        self.subscribed.add(str(event.get("group")))
                    self.events.append(event)

    def __enter__(self) -> EventCollector:
        self.thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.subscribed != set(self.groups):
            if not self.thread.is_alive():
                break
            time.sleep(0.05)
        if self.subscribed != set(self.groups):
            raise RuntimeError(f"socket not subscribed to {self.groups}: {self.events[-5:]}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.stop_flag is not None:
            self.loop.call_soon_threadsafe(self.stop_flag.set)
        self.thread.join(10)

    def upserts(self, kind: str, name: str) -> list[dict[str, Any]]:
        """Rows of ``kind``/``name`` received in ``objects.changed`` events, in order."""
        with self.lock:
            events = list(self.events)
        return [row for e in events if e.get("type") == "objects.changed"
                for change in e["data"].get("changes", []) if change.get("kind") == kind
                for row in change.get("upserts", []) if row.get("name") == name]

    def deleted(self, kind: str, name: str) -> bool:
        with self.lock:
            events = list(self.events)
        return any(d.get("name") == name for e in events if e.get("type") == "objects.changed"
                   for change in e["data"].get("changes", []) if change.get("kind") == kind
                   for d in change.get("deletes", []))

    def seq_gaps(self) -> list[str]:
        """Groups whose events' seq did not follow on (the console would refetch)."""
        last: dict[str, int] = {}
        gaps = []
        with self.lock:
            events = list(self.events)
        for e in events:
            group, seq = e.get("group"), e.get("seq")
            if not isinstance(group, str) or not isinstance(seq, int):
                continue
            if group in last and seq != last[group] + 1 and e.get("type") != "subscribed":
                gaps.append(group)
            last[group] = seq
        return gaps

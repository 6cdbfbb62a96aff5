"""Replay load server for the watcher benchmarks (``sync_scale.py --replay``).

The sandbox is a faithful API server: every change it makes goes through its store, admission,
``managedFields`` and a fresh JSON encoding per watcher, which costs about 300 us of CPU per
change; at 2,000 changes/s it took a third of the benchmark machine. This server is the cheap
stand-in for measuring the *portal*: it serves only what the watcher reads, from bytes prepared
before the clock starts, so its own CPU per change is a few tens of microseconds, and it runs
in a process of its own so the benchmark reports it apart.

What it simulates, per cluster (one HTTPS port each, TLS on as in production, bearer token):

* ``GET /version``: a Kubernetes version document;
* ``GET`` the list path of every kind the watcher keeps (``clusters.kube.kinds``): ``nodes``
  (``--nodes``), ``namespaces`` (``default``, ``bench``), ``pods`` (``--pods`` in ``bench``, pages
  of the requested ``limit`` with ``continue`` tokens), every other kind an empty list; each
  list carries the version of the last change sent (the items are as they were before the
  drive: the benchmarks list only before it);
* ``GET ...?watch=true``: a chunked stream of newline-delimited JSON events, as the API server
  sends it. Pod watches get the replayed ``MODIFIED`` events while a drive runs; every watch
  ends at its ``timeoutSeconds``. A pod watch from a ``resourceVersion`` first gets every change
  already sent after that version, as an API server replays its watch cache (a watcher that took
  over a dead one's clusters resumes there and loses nothing); a version older than the drive
  starts at the drive's first change.

Driving: on SIGUSR1 the server changes ``--rate`` pods per second in every cluster for
``--seconds`` (pod *n* gets label ``bench-seq=<cluster>-<i>``, a new resourceVersion and the
Running status), each event serialised in advance, and then writes the send time of every
change to ``<state>/sent.json``. ``<state>/ready.json`` (ports, CA, token) appears once it listens.

Run by the benchmark, not by hand: ``python bench/replay_server.py --state DIR --clusters 100 ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import signal
import ssl
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TOKEN = "replay-bench-token"  # a benchmark's loopback server
LIST_PATHS = {  # the list paths the watcher reads (clusters.kube.kinds), without the namespace form
    "/api/v1/nodes": "Node", "/api/v1/namespaces": "Namespace", "/api/v1/pods": "Pod",
    "/apis/apps/v1/deployments": "Deployment", "/apis/apps/v1/statefulsets": "StatefulSet",
    "/apis/apps/v1/daemonsets": "DaemonSet", "/apis/apps/v1/replicasets": "ReplicaSet",
    "/apis/batch/v1/jobs": "Job", "/apis/batch/v1/cronjobs": "CronJob", "/api/v1/services": "Service",
    "/apis/networking.k8s.io/v1/ingresses": "Ingress", "/api/v1/persistentvolumes": "PersistentVolume",
    "/api/v1/persistentvolumeclaims": "PersistentVolumeClaim", "/apis/storage.k8s.io/v1/storageclasses": "StorageClass",
    "/api/v1/resourcequotas": "ResourceQuota",
    "/apis/autoscaling/v2/horizontalpodautoscalers": "HorizontalPodAutoscaler", "/api/v1/events": "Event",
}


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _response(status: str, body: bytes, *, close: bool = False) -> bytes:
    head = (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n")
    return head.encode() + body


class Cluster:
    def __init__(self, name: str, nodes: int, pods: int) -> None:
        import watcher_common as wc

        self.name = name
        self.rv = 1000
        self.pods: list[dict[str, Any]] = []
        created = "2026-01-01T00:00:00Z"
        for n in range(pods):
            pod = wc.pod_body(name, n, nodes)
            pod["metadata"].update(uid=f"{name}-pod-{n}", resourceVersion=str(self.rv), creationTimestamp=created)
            pod["status"] = wc.running_status(n)
            self.pods.append(pod)
        self.nodes = [{"metadata": {"name": f"{name}-node-{i + 1}", "uid": f"{name}-node-{i + 1}",
                                    "resourceVersion": str(self.rv), "creationTimestamp": created,
                                    "labels": {"kubernetes.io/hostname": f"{name}-node-{i + 1}"}},
                       "spec": {},
                       "status": {"capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                                  "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                                  "conditions": [{"type": "Ready", "status": "True"}],
                                  "nodeInfo": {"kubeletVersion": "v1.31.0"}}} for i in range(nodes)]
        self.namespaces = [{"metadata": {"name": ns, "uid": f"{name}-ns-{ns}", "resourceVersion": str(self.rv),
                                         "creationTimestamp": created}, "status": {"phase": "Active"}}
                           for ns in ("default", "bench")]
        self.pod_watches: set[asyncio.StreamWriter] = set()
        self.events: list[tuple[str, bytes]] = []  # (seq, chunk) prepared for the drive
        self.first_rv = 0  # resourceVersion of events[0]
        self.sent = 0  # events[:sent] went out

    def current_rv(self) -> int:
        """The version of the last change sent (the items listed are those before the drive)."""
        return self.first_rv - 1 + self.sent if self.events else self.rv

    def items(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        if kind == "Pod":
            return self.pods if namespace in ("", "bench") else []
        if kind == "Node":
            return self.nodes
        if kind == "Namespace":
            return self.namespaces
        return []

    def prepare(self, count: int, nodes: int) -> None:
        """Serialise ``count`` pod changes now, so sending one costs only the write."""
        import copy

        self.first_rv = self.rv + 1
        for i in range(count):
            self.rv += 1
            pod = copy.deepcopy(self.pods[i % len(self.pods)]) if self.pods else {"metadata": {}}
            seq = f"{self.name}-{i}"
            pod["metadata"]["labels"]["bench-seq"] = seq
            pod["metadata"]["resourceVersion"] = str(self.rv)
            line = json.dumps({"type": "MODIFIED", "object": pod}, separators=(",", ":")).encode() + b"\n"
            self.events.append((seq, _chunk(line)))


class ReplayServer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.state = Path(args.state)
        self.clusters = [Cluster(f"replay-{i + 1}", args.nodes, args.pods) for i in range(args.clusters)]
        self.sent: dict[str, float] = {}
        self.drive_task: asyncio.Task[None] | None = None

    async def handle(self, cluster: Cluster, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                if "content-length" in headers:
                    await reader.readexactly(int(headers["content-length"]))
                close = headers.get("connection", "").lower() == "close"
                if headers.get("authorization") != f"Bearer {TOKEN}":
                    writer.write(_response("401 Unauthorized", json.dumps(
                        {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "Unauthorized",
                         "reason": "Unauthorized", "code": 401}).encode(), close=close))
                    await writer.drain()
                    if close:
                        break
                    continue
                url = urlsplit(target)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                if query.get("watch", "").lower() in ("true", "1", "t"):  # Go's ParseBool, as the API server
                    await self.watch(cluster, url.path, query, reader, writer)
                    break
                writer.write(self.answer(cluster, method, url.path, query, close))
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, ValueError):
            pass
        finally:
            writer.close()

    def answer(self, cluster: Cluster, method: str, path: str, query: dict[str, str], close: bool) -> bytes:
        if path.rstrip("/") == "/version":
            return _response("200 OK", b'{"major":"1","minor":"31","gitVersion":"v1.31.0-replay","platform":'
                                       b'"linux/amd64"}', close=close)
        kind, namespace = self.kind_of(path)
        if method != "GET" or kind is None:
            return _response("404 Not Found", json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                                          "message": f"{path} not found", "reason": "NotFound",
                                                          "code": 404}).encode(), close=close)
        items = cluster.items(kind, namespace)
        start = int(query.get("continue") or 0)
        limit = int(query.get("limit") or 0) or len(items) or 1
        page = items[start:start + limit]
        meta: dict[str, Any] = {"resourceVersion": str(cluster.current_rv())}
        if start + limit < len(items):
            meta["continue"] = str(start + limit)
        body = json.dumps({"kind": f"{kind}List", "apiVersion": "v1", "metadata": meta, "items": page},
                          separators=(",", ":")).encode()
        return _response("200 OK", body, close=close)

    @staticmethod
    def kind_of(path: str) -> tuple[str | None, str]:
        if path in LIST_PATHS:
            return LIST_PATHS[path], ""
        parts = path.split("/")
        # /api/v1/namespaces/<ns>/<plural> or /apis/<group>/<version>/namespaces/<ns>/<plural>
        if "namespaces" in parts:
            i = parts.index("namespaces")
            if len(parts) == i + 3:
                base = "/".join([*parts[:i], parts[i + 2]])
                if base in LIST_PATHS:
                    return LIST_PATHS[base], parts[i + 1]
        return None, ""

    async def watch(self, cluster: Cluster, path: str, query: dict[str, str], reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        kind, namespace = self.kind_of(path)
        if kind is None:
            writer.write(_response("404 Not Found", b'{"kind":"Status","code":404}', close=True))
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                     b"Connection: close\r\n\r\n")
        await writer.drain()
        pods = kind == "Pod" and namespace in ("", "bench")
        if pods:
            since = int(query.get("resourceVersion") or 0)
            for index in range(max(0, since - cluster.first_rv + 1), cluster.sent):
                writer.write(cluster.events[index][1])  # the watch cache: what was sent after ``since``
            cluster.pod_watches.add(writer)
        # Until timeoutSeconds, or until the client goes away (it sends nothing more: EOF).
        ended = asyncio.ensure_future(asyncio.sleep(float(query.get("timeoutSeconds") or 300)))
        gone = asyncio.ensure_future(reader.read())
        try:
            await asyncio.wait([ended, gone], return_when=asyncio.FIRST_COMPLETED)
            if ended.done():
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        finally:
            ended.cancel()
            gone.cancel()
            cluster.pod_watches.discard(writer)

    async def drive(self) -> None:
        """Every 1/rate s, one prepared change per cluster to its open pod watches."""
        rate, seconds = self.args.rate, self.args.seconds
        total = int(rate * seconds)
        interval = 1.0 / rate
        start = time.monotonic()
        for tick in range(total):
            now = time.time()
            for cluster in self.clusters:
                seq, chunk = cluster.events[tick]
                for writer in cluster.pod_watches:
                    writer.write(chunk)
                cluster.sent = tick + 1
                self.sent[seq] = now
            await asyncio.sleep(max(0.0, start + (tick + 1) * interval - time.monotonic()))
        (self.state / "sent.json.tmp").write_text(json.dumps(self.sent))
        (self.state / "sent.json.tmp").rename(self.state / "sent.json")  # whole, never half-written

    async def run(self) -> None:
        from sandbox.certs import ensure_tls

        tls = ensure_tls(self.state / "tls")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls.cert_path), str(tls.key_path))
        servers = []
        ports = {}
        for cluster in self.clusters:
            cluster.prepare(int(self.args.rate * self.args.seconds) + 1, self.args.nodes)
            server = await asyncio.start_server(
                functools.partial(self.handle, cluster), "127.0.0.1", 0, ssl=context, limit=1 << 20)
            servers.append(server)
            ports[cluster.name] = server.sockets[0].getsockname()[1]
        # The prepared events are about a million objects: a full collection over them takes about
        # 0.3 s of this loop, and the changes it is sending meanwhile arrive late. Keep them out of
        # collections, and say in the log if a long one happens anyway. (Three of fourteen runs
        # showed a ~2 s stall in the drive's first 5 s, change -> DB p99 only, with the watcher's
        # own read -> commit fine: this rules the generator's collections out or in next time.)
        took = time.perf_counter()
        gc.collect()
        gc.freeze()
        print(f"replay server: a full collection over the prepared events took {time.perf_counter() - took:.3f} s; "
              "they are frozen now", file=sys.stderr, flush=True)
        gc.callbacks.append(_log_long_collections())
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, self.start_drive)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        ready = {"ports": ports, "ca_pem": tls.ca_pem.decode(), "token": TOKEN, "pid": os.getpid()}
        (self.state / "ready.json.tmp").write_text(json.dumps(ready))
        (self.state / "ready.json.tmp").rename(self.state / "ready.json")
        await stop.wait()
        for server in servers:
            server.close()

    def start_drive(self) -> None:
        if self.drive_task is None or self.drive_task.done():
            (self.state / "sent.json").unlink(missing_ok=True)
            self.drive_task = asyncio.get_running_loop().create_task(self.drive())


def _log_long_collections() -> Any:
    started: list[float] = []

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started and (took := time.perf_counter() - started[0]) > 0.05:
            print(f"replay server: a generation-{info.get('generation')} collection took {took:.3f} s",
                  file=sys.stderr, flush=True)

    return callback


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state", required=True)
    p.add_argument("--clusters", type=int, default=20)
    p.add_argument("--nodes", type=int, default=10)
    p.add_argument("--pods", type=int, default=500)
    p.add_argument("--rate", type=float, default=20.0, help="pod changes per second per cluster while driving")
    p.add_argument("--seconds", type=float, default=30.0)
    asyncio.run(ReplayServer(p.parse_args()).run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

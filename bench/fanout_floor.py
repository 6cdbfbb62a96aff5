"""The floor under the fan-out goal: how long do the Kubernetes calls of a rollout take on this
machine, with none of the portal's own work?

Run by hand (never from the test suite), with PostgreSQL up (``scripts/services.sh``)::

    .venv/bin/python bench/fanout_floor.py                      # 20 clusters (+1 for the single target)
    .venv/bin/python bench/fanout_floor.py --rounds 5 --name fanout_floor

``bench/fanout.py`` measures the portal: a rollout request, Celery deploys, the watcher, the
database. This benchmark keeps only what no portal can skip: for each target, server-side apply
the chart's objects (the same ``hello-web`` chart, rendered once) and wait until its Deployment is
rolled out (a watch on the Deployment, as ``kubectl rollout status`` does). It runs on the same
sandbox fleet (``--clusters`` + 1 clusters x ``--nodes`` nodes, controllers on, in this process)
and does the calls from a child process (one thread per target, clients connected and discovery
done before the clock starts), so the clusters keep this process's GIL to themselves.

Two client modes, each measured for 1 target and for ``--clusters`` targets at once:

* ``bare``: apply each object once, then watch. Nothing a deploy could leave out.
* ``portal-calls``: the calls ``catalog.deploy.deploy_revision`` makes, from a new client per
  target (``/version`` probe, discovery, a dry-run of every object but the first before any is
  applied: the first one's own apply is the deploy's first write), then
  the watch. Still no database, no task queue, no watcher, no rollout request.

If the ratio of ``bare`` (20 targets over 1) already exceeds the goal of ``bench/fanout.py``
(1.5), no change to the portal can meet that goal on this machine: the clusters' own work is the
bound. Results go to ``bench/results/<name>.json`` with per-process CPU (the sandbox, the client).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import watcher_common as wc

GOAL = 1.5
FIELD_MANAGER = "bench-floor"


# ---------------------------------------------------------------------------- the client process


def _rolled_out(obj: dict[str, Any]) -> bool:
    """``kubectl rollout status`` for a Deployment: the controller saw this generation, every
    replica is updated and available."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    want = int(spec.get("replicas", 1))
    return (int(status.get("observedGeneration", 0)) >= int(meta.get("generation", 0))
            and int(status.get("updatedReplicas", 0)) == want
            and int(status.get("availableReplicas", 0)) == want
            and int(status.get("replicas", 0)) == want)


def _one_target(client: Any, objects: list[dict[str, Any]], namespace: str, mode: str) -> dict[str, float]:
    """Apply ``objects`` in ``namespace`` and wait for the Deployment; seconds from the start."""
    from clusters.kube.client import KubeClient

    t0 = time.perf_counter()
    own = None
    if mode == "portal-calls":  # what deploy_revision does before its applies
        own = KubeClient(client.spec, read_timeout=10.0, connect_timeout=3.0)
        own.version(attempts=1, timeout=5.0)
        for index, obj in enumerate(objects):
            own.resource(str(obj["apiVersion"]), str(obj["kind"]), timeout=10.0)
            if index == 0:
                continue
            own.apply({**obj, "metadata": {**obj["metadata"], "namespace": namespace}},
                      field_manager=FIELD_MANAGER, dry_run=True, timeout=10.0)
        client = own
    deployment: dict[str, Any] = {}
    for obj in objects:
        applied = client.apply({**obj, "metadata": {**obj["metadata"], "namespace": namespace}},
                               field_manager=FIELD_MANAGER, timeout=10.0)
        if obj["kind"] == "Deployment":
            deployment = applied
    applied_at = time.perf_counter() - t0
    name = deployment["metadata"]["name"]
    if not _rolled_out(deployment):
        for event in client.watch(client.apps.list_namespaced_deployment, namespace=namespace,
                                  resource_version=deployment["metadata"]["resourceVersion"],
                                  field_selector=f"metadata.name={name}", timeout_seconds=60):
            if event.get("type") in ("ADDED", "MODIFIED") and _rolled_out(event["object"]):
                break
    if own is not None:
        own.close()
    return {"applied": round(applied_at, 4), "ready": round(time.perf_counter() - t0, 4)}


def _client_main(conn: Any, kubeconfigs: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from clusters.kube.client import KubeClient
    from clusters.kube.connection import spec_from_kubeconfig

    clients = []
    for text in kubeconfigs:
        spec, _ = spec_from_kubeconfig(text)
        client = KubeClient(spec, read_timeout=10.0, connect_timeout=3.0)
        client.version()  # connected, discovery warm: the clock measures the calls, not the set-up
        for api_version, kind in (("v1", "ConfigMap"), ("v1", "Service"), ("apps/v1", "Deployment"),
                                  ("v1", "Namespace")):
            client.resource(api_version, kind)
        clients.append(client)
    conn.send(os.getpid())
    while (job := conn.recv()) is not None:
        conn.send(_round(clients, job))


def _round(clients: list[Any], job: dict[str, Any]) -> dict[str, Any]:
    """One measured round: every target of ``job`` at once, a thread each, started together."""
    objects, namespace, mode, which = job["objects"], job["namespace"], job["mode"], job["clusters"]
    for index in which:  # the namespace first (not timed: a service map exists before a rollout)
        clients[index].apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                             field_manager=FIELD_MANAGER)
    results: list[dict[str, float] | str] = [""] * len(which)
    start = threading.Barrier(len(which) + 1)

    def run(slot: int, index: int) -> None:
        start.wait()
        try:
            results[slot] = _one_target(clients[index], objects, namespace, mode)
        except Exception as exc:  # reported to the parent, which stops
            results[slot] = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=run, args=(slot, index)) for slot, index in enumerate(which)]
    for thread in threads:
        thread.start()
    cpu0 = wc.proc_cpu_seconds(os.getpid())
    t0 = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    return {"wall_s": round(time.perf_counter() - t0, 4), "targets": results,
            "client_cpu_s": round(wc.proc_cpu_seconds(os.getpid()) - cpu0, 3)}


# ---------------------------------------------------------------------------- the benchmark


def render_objects() -> list[dict[str, Any]]:
    """The ``hello-web`` chart (a Deployment with 2 replicas, a Service, a ConfigMap) as
    ``bench/fanout.py`` deploys it, rendered once."""
    from catalog import helm
    from catalog.demo import DEMO_CHARTS, chart_from_directory

    objects = helm.render(chart_from_directory(DEMO_CHARTS / "hello-web"), {}, release="floor", namespace="floor")
    for obj in objects:
        obj["metadata"].pop("namespace", None)
    return sorted(objects, key=lambda o: o["kind"] == "Deployment")  # the workload last, as a deploy does


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clusters", type=int, default=20, help="targets at once (one more cluster for the single target)")
    p.add_argument("--nodes", type=int, default=2, help="nodes per sandbox cluster")
    p.add_argument("--rounds", type=int, default=3, help="rounds per mode; medians are reported")
    p.add_argument("--name", default="fanout_floor", help="results file: bench/results/<name>.json")
    p.add_argument("--database", default="portal_bench_floor")
    args = p.parse_args()

    import multiprocessing

    wc.prepare_database(args.database)  # Django for the render and the client layer; nothing is stored
    objects = render_objects()
    from sandbox.testing import running_sandbox

    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp, \
            running_sandbox(clusters=args.clusters + 1, nodes=args.nodes, state_dir=tmp, start_timeout=300) as sb:
        names = sorted(sb.clusters)
        ctx = multiprocessing.get_context("spawn")
        conn, child = ctx.Pipe()
        proc = ctx.Process(target=_client_main, args=(child, [sb.clusters[n].kubeconfig.read_text() for n in names]))
        proc.start()
        client_pid = int(conn.recv())
        print(f"stage: {len(names)} sandbox clusters x {args.nodes} nodes; client process ready", flush=True)

        def measure(mode: str, which: list[int], namespace: str) -> dict[str, Any]:
            sandbox0, busy0 = wc.proc_cpu_seconds(os.getpid()), wc.machine_busy()
            conn.send({"objects": objects, "namespace": namespace, "mode": mode, "clusters": which})
            answer = conn.recv()
            failed = [t for t in answer["targets"] if isinstance(t, str)]
            if failed:
                raise SystemExit(f"{mode} {namespace}: {failed[0]}")
            busy = wc.machine_busy()
            answer["sandbox_cpu_s"] = round(wc.proc_cpu_seconds(os.getpid()) - sandbox0, 3)
            answer["machine_busy_percent"] = round(100 * (busy[0] - busy0[0]) / max(1.0, busy[1] - busy0[1]), 1)
            ready = [t["ready"] for t in answer["targets"]]
            applied = [t["applied"] for t in answer["targets"]]
            answer["applied_p50_max_s"] = [round(statistics.median(applied), 3), round(max(applied), 3)]
            answer["ready_p50_max_s"] = [round(statistics.median(ready), 3), round(max(ready), 3)]
            n = len(which)
            print(f"  {mode:13s} {n:2d} target(s) {answer['wall_s']:.2f} s | applied p50/max "
                  f"{answer['applied_p50_max_s'][0]:.2f}/{answer['applied_p50_max_s'][1]:.2f} s, ready p50/max "
                  f"{answer['ready_p50_max_s'][0]:.2f}/{answer['ready_p50_max_s'][1]:.2f} s | CPU per target: "
                  f"client {1000 * answer['client_cpu_s'] / n:.0f} ms, sandbox {1000 * answer['sandbox_cpu_s'] / n:.0f} ms;"
                  f" machine {answer['machine_busy_percent']:.0f}% busy", flush=True)
            return answer

        results: dict[str, Any] = {}
        try:
            # A cluster's first rollouts pull the image on its nodes (the sandbox's kubelet waits
            # image_pull_seconds): two rounds on every cluster before the clock counts.
            for n in (1, 2):
                measure("bare", list(range(args.clusters + 1)), f"floor-warmup-{n}")
            for mode in ("bare", "portal-calls"):
                singles, fans = [], []
                for n in range(1, args.rounds + 1):
                    singles.append(measure(mode, [args.clusters], f"floor-{mode}-{n}"))
                    fans.append(measure(mode, list(range(args.clusters)), f"floor-{mode}-{n}"))
                a = statistics.median(r["wall_s"] for r in singles)
                b = statistics.median(r["wall_s"] for r in fans)
                results[mode] = {"single_s": round(a, 3), "fanout_s": round(b, 3), "ratio": round(b / a, 2),
                                 "rounds_single": singles, "rounds_fanout": fans}
                print(f"{mode}: 1 target {a:.2f} s, {args.clusters} targets {b:.2f} s, ratio {b / a:.2f} "
                      f"(the portal's goal is <= {GOAL})", flush=True)
        finally:
            with contextlib.suppress(OSError):
                conn.send(None)
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    path = wc.write_results(args.name, {
        "size": {"clusters": args.clusters, "nodes_per_cluster": args.nodes, "rounds": args.rounds,
                 "chart": "hello-web: Deployment (2 replicas), Service, ConfigMap"},
        "client": f"one process (pid {client_pid}), a thread per target",
        "code": wc.code_version(),
        "goal_of_bench_fanout": GOAL,
        **results,
    })
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

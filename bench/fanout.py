"""Fan-out deploy benchmark: is a rollout to 20 clusters about as fast as a deploy to one?

Run by hand (never from the test suite), with PostgreSQL and Redis up (``scripts/services.sh``)::

    .venv/bin/python bench/fanout.py                           # 20 clusters (+1 for the single deploy)
    .venv/bin/python bench/fanout.py --clusters 5 --rounds 1   # a quicker look
    .venv/bin/python bench/fanout.py --concurrency 16 --pool prefork --name fanout_prefork16

A sandbox fleet of ``--clusters`` + 1 clusters (few nodes, controllers on, so Deployments really
roll out) runs in this process; the clusters are registered from their kubeconfigs in a fresh
database (``portal_bench_fanout``), a workspace gets an allocation and a service map on each
(applied with ``workspaces.services.apply_service_map``) and an upload chart (a Deployment with 2
replicas, a Service, a ConfigMap). Real Celery workers (``celery -A portal worker``, ``--pool`` /
``--concurrency``) and, unless ``--no-beat``, ``celery beat`` run as subprocesses on their own
Redis database. Each round measures, from the call of ``catalog.rollouts.create_rollout`` (what
POST /rollouts does) to the rollout's ``succeeded``:

(a) a rollout to the one extra cluster's service map, and
(b) a rollout to the ``--clusters`` service maps in one wave (``batch_size`` = all of them),

and reports b/a (goal <= 1.5), per-target time to healthy (p50/p95) and where the time of (b) went:
the request-side checks (``create_rollout`` renders and checks every target and stores the first
wave's revisions from those renders), queueing until each deploy task starts applying, apply + watch until healthy, and the lag until the rollout is
marked succeeded. Every round installs a release of its own (``shop-r<n>``), so each one is a
fresh install. Results go to ``bench/results/<name>.json`` (default ``fanout``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import watcher_common as wc

GOAL = 1.5
WORKER_LOG = Path(tempfile.gettempdir()) / "bench-fanout-worker.log"
BEAT_LOG = Path(tempfile.gettempdir()) / "bench-fanout-beat.log"



# ---------------------------------------------------------------------------- processes


def start_celery(args: argparse.Namespace, tmp: str) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    if args.watch_interval is not None:
        env["PORTAL_DEPLOY_WATCH_INTERVAL"] = str(args.watch_interval)
    include: list[str] = []
    if args.extra_deploy_cpu_ms:  # the sensitivity probe (bench/fanout_burn.py)
        env = wc.with_bench_on_path({**env, "FANOUT_BURN_MS": str(args.extra_deploy_cpu_ms)})
        include = ["--include", "fanout_burn"]
    procs = []
    worker_log = open(WORKER_LOG, "wb")  # noqa: SIM115 - lives as long as the process
    # (queues, concurrency) of each worker process: all queues in each, or the Procfile's layout
    # (deploys workers, and one for the control, beat and long queues)
    layout = ([("deploys", args.concurrency)] * args.worker_processes + [("control,beat,long", 16)]
              if args.queues == "procfile" else [("control,deploys,long,beat", args.concurrency)] * args.worker_processes)
    for n, (queues, concurrency) in enumerate(layout):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", f"--pool={args.pool}",
             f"--concurrency={concurrency}", *([f"--prefetch-multiplier={args.prefetch_multiplier}"]
                                               if args.prefetch_multiplier else []), "--loglevel=WARNING",
             "--without-gossip", "--without-mingle", *include, "-Q", queues,
             "-n", f"bench-fanout-{os.getpid()}-{n}@%h"],
            cwd=wc.ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT))
    args.worker_count = len(layout)
    if args.beat:
        beat_log = open(BEAT_LOG, "wb")  # noqa: SIM115
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel=WARNING",
             "--schedule", str(Path(tmp) / "celerybeat-schedule")],
            cwd=wc.ROOT, env=env, stdout=beat_log, stderr=subprocess.STDOUT))
    from portal.celery import app

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for proc in procs[:args.worker_count]:
            if proc.poll() is not None:
                raise SystemExit(f"a Celery worker exited with {proc.returncode}; see {WORKER_LOG}")
        if len(app.control.ping(timeout=0.5) or []) >= args.worker_count:
            return procs
    stop_all(procs)
    raise SystemExit(f"the Celery worker did not answer within 90 s; see {WORKER_LOG}")


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------- the stage


def setup_stage(sb: Any) -> tuple[Any, list[Any], Any, Any]:
    """Workspace, developer, an allocation and an applied service map on every cluster, and an
    upload package version; returns (workspace, maps in cluster order, developer, version)."""
    from catalog import helm
    from catalog.demo import DEMO_CHARTS, chart_from_directory
    from catalog.models import CatalogSource, Package, PackageVersion, SourceKind
    from portal.testing import make_user
    from workspaces import quota as q
    from workspaces import services as ws_services
    from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

    ids = wc.register_all(sb)
    workspace = Workspace.objects.create(name="fanout")
    developer = make_user("fanout-dev")
    Role.ensure_builtin()
    Membership.objects.create(workspace=workspace, user=developer, role=Role.objects.get(key="developer"))
    quota = q.dump(q.parse({"requests.cpu": "4", "requests.memory": "4Gi", "pods": "40", "services": "20"}))
    maps = []
    for name in sorted(ids, key=lambda n: ids[n]):
        ClusterAllocation.objects.create(workspace=workspace, cluster_id=ids[name], quota=quota, status="ready")
        sm = ServiceMap.objects.create(workspace=workspace, cluster_id=ids[name], namespace="fanout", quota=quota)
        status = ws_services.apply_service_map(sm.pk)
        if status != "ready":
            raise SystemExit(f"service map on {name} is {status}")
        maps.append(ServiceMap.objects.select_related("workspace", "cluster").get(pk=sm.pk))
    source = CatalogSource.objects.create(name="uploads", kind=SourceKind.UPLOAD, workspace=workspace)
    package = Package.objects.create(source=source, name="shop")
    archive = chart_from_directory(DEMO_CHARTS / "hello-web")
    info = helm.inspect(archive)
    version = PackageVersion.objects.create(package=package, version="1.0.0", archive=archive,
                                            digest="sha256:bench", values_yaml=info.values_yaml,
                                            values_schema=info.schema)
    return workspace, maps, developer, version


def render_cost(version: Any, sm: Any, n: int = 10) -> dict[str, float]:
    """ms per ``helm.render`` and per ``releases.prepare`` (render + checks + quota preflight) of
    this chart, in this process (the pool is warm after the first call)."""
    from catalog import helm, releases

    archive = bytes(version.archive)
    helm.render(archive, {}, release="warm", namespace=sm.namespace)
    t0 = time.perf_counter()
    for i in range(n):
        helm.render(archive, {}, release=f"r{i}", namespace=sm.namespace)
    render_ms = (time.perf_counter() - t0) * 1000 / n
    t0 = time.perf_counter()
    for i in range(n):
        releases.prepare(sm=sm, name=f"p{i}", version=version, values={}, user=None, number=1, upgrade=False)
    prepare_ms = (time.perf_counter() - t0) * 1000 / n
    return {"render_ms": round(render_ms, 1), "prepare_ms": round(prepare_ms, 1)}


# ---------------------------------------------------------------------------- one rollout


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its live descendants (prefork children, render processes)."""
    total = 0.0
    with contextlib.suppress(OSError):
        total += wc.proc_cpu_seconds(pid)
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += tree_cpu_seconds(int(child))
    return total


class Tracker:
    """Polled every 50 ms during a rollout: the rollout's status, when each target's revision was
    first seen in each status (PostgreSQL), and when each target's Deployment was available in its
    sandbox cluster (read from the store on the fleet's loop)."""

    def __init__(self, sb: Any, workspace: Any, maps: list[Any], release: str) -> None:
        self.sb = sb
        self.workspace = workspace
        self.release = release
        self.where = {sm.pk: (sm.cluster.name, sm.namespace) for sm in maps}
        self.seen: dict[tuple[int, str], float] = {}  # (service map, revision status) -> first seen
        self.ready: dict[int, float] = {}  # service map -> Deployment available in the cluster

    def poll(self) -> None:
        from catalog.models import Revision
        from sandbox.resources import DEPLOYMENTS

        now = time.time()
        for sm_id, status in Revision.objects.filter(release__service_map_id__in=list(self.where),
                                                     release__name=self.release).values_list(
                "release__service_map_id", "status"):
            self.seen.setdefault((sm_id, status), now)
        waiting = {k: v for k, v in self.where.items() if k not in self.ready}
        if not waiting:
            return
        name = f"{self.release}-hello"

        def look(fleet: Any) -> list[int]:
            done = []
            for sm_id, (cluster, namespace) in waiting.items():
                obj = fleet.clusters[cluster].store.get(DEPLOYMENTS, namespace, name)
                if obj is None:
                    continue
                status = obj.get("status") or {}
                if (int(status.get("availableReplicas") or 0) >= int(obj.get("spec", {}).get("replicas", 1))
                        and (status.get("observedGeneration") or 0) >= obj["metadata"].get("generation", 0)):
                    done.append(sm_id)
            return done

        for sm_id in self.sb.call(look):
            self.ready[sm_id] = time.time()


class Requester:
    """A child process standing in for the web process that serves POST /rollouts/: it calls
    ``catalog.rollouts.create_rollout`` (what the view calls) and publishes after commit there, not
    in this process, whose GIL the sandbox's clusters need."""

    def __init__(self) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_requester_main, args=(child,))  # not a daemon: it has a render pool
        self.proc.start()
        self.pid = int(self.conn.recv())

    def create_rollout(self, **job: Any) -> tuple[int, float]:
        """(rollout id, time the call returned)."""
        self.conn.send(job)
        answer = self.conn.recv()
        if isinstance(answer, str):
            raise SystemExit(f"create_rollout failed in the request process: {answer}")
        return int(answer[0]), float(answer[1])

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()


def _requester_main(conn: Any) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from catalog import rollouts
    from catalog.models import PackageVersion
    from workspaces.models import Workspace

    conn.send(os.getpid())
    while (job := conn.recv()) is not None:
        try:
            rollout = rollouts.create_rollout(
                workspace=Workspace.objects.get(pk=job["workspace"]), release_name=job["release"],
                version=PackageVersion.objects.get(pk=job["version"]), values=job["values"],
                targets=[{"service_map": pk} for pk in job["maps"]], canary=None, batch_size=len(job["maps"]),
                max_failures=0, user=get_user_model().objects.get(pk=job["user"]), request=None)
        except Exception as exc:  # reported to the benchmark, which stops
            conn.send(f"{type(exc).__name__}: {exc}")
            continue
        conn.send((rollout.pk, time.time()))


def run_rollout(sb: Any, workspace: Any, maps: list[Any], developer: Any, version: Any, release: str,
                timeout: float, worker_pids: list[int], watcher_pid: int | None, requester: Requester) -> dict[str, Any]:
    """Create a rollout to ``maps`` (one wave), wait for it to end, and take its timings apart."""
    from catalog.models import Revision, Rollout, RolloutTarget
    from portal.metrics import FLUSH_SECONDS, task_stats

    tracker = Tracker(sb, workspace, maps, release)
    tasks0 = task_stats()
    services = wc.service_pids()
    # this process alone (the sandbox's clusters and the tracker): the worker, the watcher and the
    # request process are its children, and counted on their own
    cpu_worker, cpu_self, busy0 = sum(map(tree_cpu_seconds, worker_pids)), wc.proc_cpu_seconds(os.getpid()), wc.machine_busy()
    cpu_services = {name: tree_cpu_seconds(pid) for name, pid in services.items()}
    cpu_watcher = tree_cpu_seconds(watcher_pid) if watcher_pid else 0.0
    cpu_web = tree_cpu_seconds(requester.pid)
    t0 = time.time()
    rollout_id, t_created = requester.create_rollout(
        workspace=workspace.pk, release=release, version=version.pk, values={"greeting": release, "replicaCount": 2},
        maps=[sm.pk for sm in maps], user=developer.pk)
    rollout = Rollout.objects.get(pk=rollout_id)
    deadline = time.monotonic() + timeout
    status = "running"
    while status == "running":
        if time.monotonic() > deadline:
            raise SystemExit(f"rollout {release} to {len(maps)} target(s) still running after {timeout:g} s")
        time.sleep(0.05)
        tracker.poll()
        status = str(Rollout.objects.filter(pk=rollout.pk).values_list("status", flat=True).first())
    t_seen = time.time()
    wall = t_seen - t0
    busy1 = wc.machine_busy()
    worker_cpu = sum(map(tree_cpu_seconds, worker_pids)) - cpu_worker
    cpu = {"worker_percent_of_one_core": round(100 * worker_cpu / wall, 1),
           "worker_cpu_ms_per_target": round(1000 * worker_cpu / len(maps), 1),
           "watcher_percent_of_one_core": (round(100 * (tree_cpu_seconds(watcher_pid) - cpu_watcher) / wall, 1)
                                           if watcher_pid else None),
           "web_percent_of_one_core": round(100 * (tree_cpu_seconds(requester.pid) - cpu_web) / wall, 1),
           "web_cpu_ms_per_target": round(1000 * (tree_cpu_seconds(requester.pid) - cpu_web) / len(maps), 1),
           "sandbox_and_tracker_percent_of_one_core": round(100 * (wc.proc_cpu_seconds(os.getpid()) - cpu_self) / wall,
                                                            1),
           **{f"{name}_percent_of_one_core": round(100 * (tree_cpu_seconds(pid) - cpu_services[name]) / wall, 1)
              for name, pid in services.items()},
           "machine_busy_percent": round(100 * (busy1[0] - busy0[0]) / max(1.0, busy1[1] - busy0[1]), 1)}
    rollout.refresh_from_db()
    if status != "succeeded":
        states = list(RolloutTarget.objects.filter(rollout=rollout).values_list("state", "reason"))
        raise SystemExit(f"rollout {release} ended {status}: {rollout.message} {states[:3]}")
    finished = rollout.finished.timestamp() if rollout.finished else t_seen
    revisions = {r.release.service_map_id: r for r in Revision.objects.filter(
        release__service_map__in=maps, release__name=release).select_related("release")}

    def rel(ts: float) -> float:
        return round(ts - t0, 3)

    rows = []
    for sm_id, r in revisions.items():
        if r.started is None or r.finished is None:
            raise SystemExit(f"revision of {release} on service map {sm_id} has no start or finish time")
        started, done = r.started.timestamp(), r.finished.timestamp()
        applied = tracker.seen.get((sm_id, "progressing"), started)
        ready = tracker.ready.get(sm_id, done)
        rows.append({"stored": rel(r.created.timestamp()), "started": rel(started), "applied": rel(applied),
                     "cluster_ready": rel(ready), "healthy": rel(done)})
    advance_done = max(x["stored"] for x in rows)
    healthy = [x["healthy"] for x in rows]

    def seg(a: str, b: str) -> dict[str, float]:
        values = [x[b] - x[a] for x in rows]
        return {"p50": pct(values, 0.5), "max": round(max(values), 3)}

    time.sleep(FLUSH_SECONDS + 0.3)  # a worker writes its tasks' figures every FLUSH_SECONDS
    tasks1 = task_stats()
    per_task: dict[str, dict[str, float | int | None]] = {}
    for name, fields in sorted(tasks1.items()):
        before = tasks0.get(name, {})
        runs = int(float(fields.get("count", 0))) - int(float(before.get("count", 0)))
        if runs > 0 and "cpu" not in fields:  # a portal older than portal_task_cpu_seconds
            per_task[name] = {"runs": runs, "cpu_ms_per_run": None, "cpu_ms_per_target": None}
        elif runs > 0:
            spent = float(fields.get("cpu", 0)) - float(before.get("cpu", 0))
            per_task[name] = {"runs": runs, "cpu_ms_per_run": round(1000 * spent / runs, 1),
                              "cpu_ms_per_target": round(1000 * spent / len(maps), 1)}
    return {
        "targets": len(maps),
        "total_s": round(finished - t0, 3),
        "observed_s": round(wall, 3),
        "phases_s": {
            "create_rollout_call": round(t_created - t0, 3),
            "advance_started_wave_at": round(advance_done, 3),
            "first_apply_started": round(min(x["started"] for x in rows), 3),
            "last_apply_started": round(max(x["started"] for x in rows), 3),
            "last_target_healthy": round(max(healthy), 3),
            "rollout_marked_after_last_healthy": round(finished - t0 - max(healthy), 3),
        },
        "per_target_segments_s": {
            "queued_after_wave_start": {"p50": pct([x["started"] - advance_done for x in rows], 0.5),
                                        "max": round(max(x["started"] - advance_done for x in rows), 3)},
            "apply": seg("started", "applied"),
            "cluster_rollout": seg("applied", "cluster_ready"),
            "watch_noticed_after": seg("cluster_ready", "healthy"),
        },
        "time_to_healthy_s": {"p50": pct(healthy, 0.5), "p95": pct(healthy, 0.95), "max": max(healthy)},
        "cpu": cpu,
        "tasks": per_task,  # from portal_task_cpu_seconds (the worker thread's CPU per task run)
        "per_target": sorted(rows, key=lambda x: x["healthy"]),
    }


def code_version() -> str:
    """The commit measured (``BENCH_COMMIT`` when run from an exported tree), "+dirty" if tracked
    files differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=wc.ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=wc.ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get("BENCH_COMMIT", "unknown")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 3)


def show(label: str, r: dict[str, Any]) -> None:
    ph, sg, cpu = r["phases_s"], r["per_target_segments_s"], r["cpu"]
    print(f"  {label:<11} {r['total_s']:6.2f} s | create_rollout {ph['create_rollout_call']:.2f} s, wave started at "
          f"{ph['advance_started_wave_at']:.2f} s, applies begin {ph['first_apply_started']:.2f}.."
          f"{ph['last_apply_started']:.2f} s, healthy p50/p95 {r['time_to_healthy_s']['p50']:.2f}/"
          f"{r['time_to_healthy_s']['p95']:.2f} s, rollout marked +{ph['rollout_marked_after_last_healthy']:.2f} s",
          flush=True)
    print(f"  {'':<11} per target p50/max: queued {sg['queued_after_wave_start']['p50']:.2f}/"
          f"{sg['queued_after_wave_start']['max']:.2f}, apply {sg['apply']['p50']:.2f}/{sg['apply']['max']:.2f}, "
          f"cluster rollout {sg['cluster_rollout']['p50']:.2f}/{sg['cluster_rollout']['max']:.2f}, watch noticed "
          f"after {sg['watch_noticed_after']['p50']:.2f}/{sg['watch_noticed_after']['max']:.2f} s; CPU worker "
          f"{cpu['worker_percent_of_one_core']}% ({cpu['worker_cpu_ms_per_target']} ms per target), web (request) "
          f"{cpu['web_percent_of_one_core']}% ({cpu['web_cpu_ms_per_target']} ms per target), sandbox "
          f"{cpu['sandbox_and_tracker_percent_of_one_core']}%, postgres {cpu.get('postgres_percent_of_one_core')}%"
          + (f", watcher {cpu['watcher_percent_of_one_core']}%" if cpu.get("watcher_percent_of_one_core") is not None
             else "") + f", machine {cpu['machine_busy_percent']}% busy", flush=True)
    tasks = ", ".join(f"{name.split('.')[-1]} {t['runs']}x {t['cpu_ms_per_run'] or '?'} ms"
                      for name, t in r["tasks"].items())
    print(f"  {'':<11} task runs and CPU per run: {tasks}", flush=True)


# ---------------------------------------------------------------------------- main


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clusters", type=int, default=20, help="targets of the fan-out rollout (one more is started)")
    p.add_argument("--nodes", type=int, default=2, help="nodes per sandbox cluster")
    p.add_argument("--concurrency", type=int, default=16,
                   help="Celery worker concurrency (16: the deploys worker of the Procfile and the Helm chart)")
    p.add_argument("--worker-processes", type=int, default=1,
                   help="Celery worker processes, each with --pool/--concurrency (the Helm chart scales workers "
                        "horizontally; their CPU is summed)")
    p.add_argument("--queues", default="all", choices=["all", "procfile"],
                   help="all: every worker process serves every queue; procfile: as the Procfile and the Helm "
                        "chart run them, deploys workers (--worker-processes) and one worker for the control, "
                        "beat and long queues")
    p.add_argument("--pool", default="threads", choices=["threads", "prefork", "solo"], help="Celery worker pool")
    p.add_argument("--prefetch-multiplier", type=int, default=None,
                   help="worker's --prefetch-multiplier (default: CELERY_WORKER_PREFETCH_MULTIPLIER, 1)")
    p.add_argument("--beat", action=argparse.BooleanOptionalAction, default=True,
                   help="run celery beat too (reconcile_releases every 15 s, as deployed)")
    p.add_argument("--extra-deploy-cpu-ms", type=float, default=0.0,
                   help="a sensitivity probe, not the portal: the worker spends this much more CPU (Python, GIL "
                        "held) before every deploy (bench/fanout_burn.py), to measure what a millisecond per "
                        "deploy costs the ratio")
    p.add_argument("--watch-interval", type=float, default=None,
                   help="PORTAL_DEPLOY_WATCH_INTERVAL of the worker (default: the settings', as deployed; it only "
                        "matters with --watcher: without one, a deploy looks every PORTAL_DEPLOY_POLL_INTERVAL)")
    p.add_argument("--watcher", action=argparse.BooleanOptionalAction, default=False,
                   help="run the watcher (manage.py runwatchers) too, as deployed: a deploy then learns its "
                        "workloads are ready from the read model, told by the watcher's hook, instead of its "
                        "own schedule of looks")
    p.add_argument("--rounds", type=int, default=2, help="single + fan-out rollouts measured, each a fresh install")
    p.add_argument("--timeout", type=float, default=120.0, help="per rollout")
    p.add_argument("--name", default="fanout", help="results file: bench/results/<name>.json")
    p.add_argument("--database", default="portal_bench_fanout")
    p.add_argument("--redis", default=os.environ.get("BENCH_FANOUT_REDIS", "redis://127.0.0.1:63799/11"))
    args = p.parse_args()

    wall0 = time.perf_counter()
    load_at_start = os.getloadavg()
    wc.REDIS_URL = args.redis
    wc.prepare_database(args.database)
    import redis

    redis.Redis.from_url(args.redis).flushdb()  # this benchmark's own Redis database: stale tasks out
    from sandbox.testing import running_sandbox

    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        t0 = time.perf_counter()
        with running_sandbox(clusters=args.clusters + 1, nodes=args.nodes, state_dir=tmp, start_timeout=300) as sb:
            workspace, maps, developer, version = setup_stage(sb)
            fan_maps, single_map = maps[:args.clusters], maps[args.clusters]
            print(f"stage: {args.clusters + 1} sandbox clusters x {args.nodes} nodes, registered, service maps "
                  f"applied in {time.perf_counter() - t0:.1f} s", flush=True)
            cost = render_cost(version, single_map)
            print(f"helm render {cost['render_ms']} ms, releases.prepare {cost['prepare_ms']} ms per target "
                  "(this process, warm pool)", flush=True)
            procs = start_celery(args, tmp)
            watcher = None
            if args.watcher:
                watcher = wc.start_watcher("--holder", "bench-fanout")
                deadline = time.monotonic() + 120
                cluster_ids = [sm.cluster_id for sm in maps]
                while not wc.all_synced(0, cluster_ids):
                    if time.monotonic() > deadline or watcher.poll() is not None:
                        stop_all(procs)
                        wc.stop_watcher(watcher)
                        raise SystemExit(f"the watcher did not sync the {len(maps)} clusters; see {wc.WATCHER_LOG}")
                    time.sleep(0.5)
                print(f"watcher: {len(maps)} clusters synced", flush=True)
            watcher_pid = watcher.pid if watcher is not None else None
            worker_pids = [proc.pid for proc in procs[:args.worker_count]]
            requester = Requester()
            try:
                warm = run_rollout(sb, workspace, [single_map], developer, version, "warmup", args.timeout,
                                   worker_pids, watcher_pid, requester)
                print(f"warm-up rollout (worker's render pool starts): {warm['total_s']:.2f} s", flush=True)
                # The fan-out's clusters too: a first rollout pulls the image on their nodes (the
                # sandbox's kubelet takes image_pull_seconds), which the single target did above.
                warm_fan = run_rollout(sb, workspace, fan_maps, developer, version, "warmup", args.timeout,
                                       worker_pids, watcher_pid, requester)
                print(f"warm-up rollout of the {len(fan_maps)} fan-out targets: {warm_fan['total_s']:.2f} s", flush=True)
                singles, fans = [], []
                for n in range(1, args.rounds + 1):
                    print(f"round {n}:", flush=True)
                    singles.append(run_rollout(sb, workspace, [single_map], developer, version, f"shop-r{n}",
                                               args.timeout, worker_pids, watcher_pid, requester))
                    show("1 target", singles[-1])
                    fans.append(run_rollout(sb, workspace, fan_maps, developer, version, f"shop-r{n}", args.timeout,
                                            worker_pids, watcher_pid, requester))
                    show(f"{args.clusters} targets", fans[-1])
            finally:
                requester.stop()
                stop_all(procs)
                if watcher is not None:
                    wc.stop_watcher(watcher)

    a = statistics.median(r["total_s"] for r in singles)
    b = statistics.median(r["total_s"] for r in fans)
    ratio = round(b / a, 2)
    healthy = [t["healthy"] for r in fans for t in r["per_target"]]
    result = {
        "size": {"clusters": args.clusters, "nodes_per_cluster": args.nodes, "rounds": args.rounds,
                 "chart": "Deployment (2 replicas), Service, ConfigMap"},
        "worker": {"processes": args.worker_processes, "queues": args.queues, "pool": args.pool, "concurrency": args.concurrency,
                   "prefetch_multiplier": args.prefetch_multiplier or "settings (1)", "beat": args.beat,
                   "watch_interval_s": args.watch_interval or "settings", "watcher": args.watcher,
                   **({"extra_deploy_cpu_ms_probe": args.extra_deploy_cpu_ms} if args.extra_deploy_cpu_ms else {})},
        "code": code_version(),
        "host": {"loadavg_at_start": [round(x, 2) for x in load_at_start],
                 "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]},
        "render_cost_ms": cost,
        "single_s": round(a, 3),
        "fanout_s": round(b, 3),
        "ratio": ratio,
        "goal": GOAL,
        "meets_goal": ratio <= GOAL,
        "fanout_time_to_healthy_s": {"p50": pct(healthy, 0.5), "p95": pct(healthy, 0.95), "max": max(healthy)},
        "rounds_single": singles,
        "rounds_fanout": fans,
        "warmup_s": warm["total_s"],
        "bench_wall_s": round(time.perf_counter() - wall0, 1),
    }
    path = wc.write_results(args.name, result)
    print(f"1 target: {a:.2f} s; {args.clusters} targets: {b:.2f} s (medians of {args.rounds} round(s))")
    print(f"fan-out per-target time to healthy p50/p95: {result['fanout_time_to_healthy_s']['p50']:.2f}/"
          f"{result['fanout_time_to_healthy_s']['p95']:.2f} s")
    print(f"ratio {ratio} (goal <= {GOAL}: {'met' if ratio <= GOAL else 'MISSED'})")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

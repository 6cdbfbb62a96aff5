"""Builds benchmark (issue 13): 20 builds queued at once across 3 sandbox clusters, through the
portal's own writer (``builds.actions.create_run``, what the API's run endpoint calls) and real
Celery workers; one worker is SIGKILLed mid-run and replaced.

Run by hand, with PostgreSQL and Redis up (``scripts/services.sh start``)::

    .venv/bin/python bench/build_runs.py                       # 20 builds, 3 clusters, 2 workers
    .venv/bin/python bench/build_runs.py --builds 40 --workers 3

Stage: a fresh database of its own, a sandbox fleet in this process (its kubelet runs the clone,
BuildKit and Trivy containers as ``sandbox/programs`` simulates them), a git repository served on
loopback by git itself, a registry (Debian's ``docker-registry``, HTTPS with its own CA, htpasswd),
one workspace per cluster with a service map there and a build definition; the beat's
``builds.reconcile_runs`` is called from here every few seconds (no other beat tasks, so the
workers' CPU is the builds' own).

Reported: time from trigger (``create_run``) to the image's tag in the registry (p50/p95/max, by
polling the registry's tag lists), the workers' CPU seconds per build (``/proc``; the killed
worker's CPU up to its death included), and that no build is lost or run twice: every run
succeeded, each repository holds exactly the runs' tags, each run's Job made one pod and its stored
build log holds one build. Results: ``bench/results/builds.json``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:63799/2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import watcher_common as wc

DOCKERFILE = """FROM scratch
ARG GREETING=hello
LABEL org.opencontainers.image.title="bench"
WORKDIR /app
COPY app.txt /app/app.txt
COPY static/ /app/static/
ENV GREETING=${GREETING}
RUN echo logged, no layer
CMD ["/app/app.txt"]
"""
FILES: dict[str, str | bytes] = {"Dockerfile": DOCKERFILE, "app.txt": "hello from the bench\n",
                                 "static/index.html": "<h1>bench</h1>\n" * 50}
REG_USER, REG_PASSWORD = "bench", "bench-registry-pw"


def start_worker(name: str, env: dict[str, str], concurrency: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=threads",
         f"--concurrency={concurrency}", "--loglevel=WARNING", "--without-gossip", "--without-mingle",
         "-n", f"{name}@%h"], cwd=wc.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def setup(sb: Any, cluster_ids: dict[str, int], registry: Any, git_url: str) -> list[Any]:
    """One workspace per cluster: a developer, the cluster allocated, a ready service map, the
    registry prefix, and a build definition of the loopback repository into it."""
    from builds.models import BuildDefinition, Registry
    from portal.testing import make_user
    from workspaces import quota as q
    from workspaces import services as ws_services
    from workspaces.models import (
        ClusterAllocation,
        Membership,
        RegistryAllocation,
        Role,
        ServiceMap,
        Workspace,
    )

    Role.ensure_builtin()
    row = Registry.objects.create(name="bench", kind="generic", host=registry.host, ca_pem=registry.ca_pem,
                                  username=REG_USER)
    row.set_password(REG_PASSWORD)
    row.save()
    quota = q.dump(q.parse({"requests.cpu": "40", "requests.memory": "80Gi", "pods": "200"}))
    definitions = []
    for i, (name, cluster_id) in enumerate(sorted(cluster_ids.items()), 1):
        workspace = Workspace.objects.create(name=f"bench-{i}")
        developer = make_user(f"benchdev{i}")
        Membership.objects.create(workspace=workspace, user=developer, role=Role.objects.get(key="developer"))
        ClusterAllocation.objects.create(workspace=workspace, cluster_id=cluster_id, quota=quota, status="ready")
        sm = ServiceMap.objects.create(workspace=workspace, cluster_id=cluster_id, namespace=f"bench-{i}", quota=quota)
        if ws_services.apply_service_map(sm.pk) != "ready":
            raise SystemExit(f"the service map on {name} did not become ready")
        RegistryAllocation.objects.create(workspace=workspace, registry=f"{registry.host}/bench-{i}")
        definitions.append((BuildDefinition.objects.create(
            workspace=workspace, name=f"app-{i}", git_url=git_url, git_ref="main", registry=row,
            repository=f"bench-{i}/app", cluster_id=cluster_id, service_map=sm, timeout_seconds=300, scan=False,
            created_by=developer, resources={"requests": {"cpu": "100m", "memory": "128Mi"}}), developer))
    return definitions


class TagWatcher:
    """Polls each repository's tag list; records when each awaited tag first shows."""

    def __init__(self, registry: Any, wanted: dict[tuple[str, str], int]) -> None:
        self.registry = registry
        self.wanted = wanted  # (repository, tag) -> run id
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        import requests

        repos = sorted({r for r, _ in self.wanted})
        session = requests.Session()
        while not self.stop.is_set() and len(self.seen) < len(self.wanted):
            for repo in repos:
                try:
                    answer = session.get(f"{self.registry.url}/v2/{repo}/tags/list", auth=self.registry.auth,
                                         verify=self.registry.verify, timeout=5)
                except requests.RequestException:
                    continue
                now = time.time()
                for tag in (answer.json().get("tags") or []) if answer.status_code == 200 else []:
                    run_id = self.wanted.get((repo, tag))
                    if run_id is not None and run_id not in self.seen:
                        self.seen[run_id] = now
            self.stop.wait(0.25)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--builds", type=int, default=20)
    p.add_argument("--clusters", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=4, help="threads per Celery worker")
    p.add_argument("--kill-when-running", type=int, default=5, help="SIGKILL a worker (mid-run) once this many "
                   "steps are running; 0: no kill (the clean numbers)")
    p.add_argument("--kill-after", type=int, default=4, help="... or at the latest once this many images are pushed")
    p.add_argument("--lease-seconds", type=float, default=10.0, help="PORTAL_BUILD_LEASE_SECONDS of the workers")
    p.add_argument("--name", default="builds", help="results file: bench/results/<name>.json")
    p.add_argument("--database", default="portal_bench_builds")
    args = p.parse_args()

    wc.prepare_database(args.database)
    from builds import actions, tasks
    from builds.models import BuildRun, BuildStep, RunStatus, StepStatus
    from sandbox.resources import PODS
    from sandbox.testing import git_server, make_repo, registry_server, running_sandbox

    env = {**os.environ, "PORTAL_BUILD_LEASE_SECONDS": str(args.lease_seconds), "PORTAL_BUILD_POLL_SECONDS": "1"}
    with tempfile.TemporaryDirectory(prefix="bench-builds-") as tmp, \
            running_sandbox(clusters=args.clusters, nodes=2, state_dir=Path(tmp) / "sandbox") as sb, \
            git_server(Path(tmp) / "git") as git, \
            registry_server(Path(tmp) / "registry", htpasswd_user=REG_USER, password=REG_PASSWORD, tls=True) as reg:
        make_repo(git.root, "app", FILES)
        ids = wc.register_all(sb)
        definitions = setup(sb, ids, reg, git.url_for("app"))
        workers = [start_worker(f"bench-{i}", env, args.concurrency) for i in range(args.workers)]
        cpu_of: dict[int, float] = {}
        try:
            from portal.celery import app

            deadline = time.monotonic() + 60
            while len(app.control.ping(timeout=0.5) or []) < len(workers):
                if time.monotonic() > deadline:
                    raise SystemExit("the Celery workers did not answer")
            print(f"{len(workers)} workers up; queueing {args.builds} builds across {args.clusters} clusters",
                  flush=True)
            triggered: dict[int, float] = {}
            runs = []
            for n in range(args.builds):
                definition, developer = definitions[n % len(definitions)]
                t = time.time()
                run = actions.create_run(definition, trigger="manual", user=developer)
                triggered[run.pk] = t
                runs.append(run)
            queued_in = time.time() - min(triggered.values())
            watcher = TagWatcher(reg, {(r.image_repository.split("/", 1)[1], r.image_tag): r.pk for r in runs})
            watcher.thread.start()
            killed: dict[str, Any] = {}
            last_beat = time.monotonic()
            end = time.monotonic() + 900
            while time.monotonic() < end:
                for w in workers:
                    if w.poll() is None:
                        cpu_of[w.pid] = wc.proc_cpu_seconds(w.pid)
                if not killed and args.kill_when_running > 0 and (len(watcher.seen) >= args.kill_after or BuildStep.objects.filter(
                        run_id__in=triggered, status=StepStatus.RUNNING).count() >= args.kill_when_running):
                    victim = workers[0]
                    active = BuildRun.objects.filter(pk__in=triggered, status=RunStatus.RUNNING).count()
                    os.kill(victim.pid, signal.SIGKILL)
                    victim.wait()
                    killed = {"images_pushed_then": len(watcher.seen), "runs_running_then": active,
                              "at_s": round(time.time() - min(triggered.values()), 1)}
                    print(f"killed worker {victim.pid} with {active} runs running", flush=True)
                    workers.append(start_worker("bench-replacement", env, args.concurrency))
                if time.monotonic() - last_beat >= 5:  # the beat's pick-up of runs whose lease ran out
                    tasks.reconcile_runs.delay()
                    last_beat = time.monotonic()
                finished = BuildRun.objects.filter(pk__in=triggered).exclude(
                    status__in=[RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLING]).count()
                if finished == len(triggered) and len(watcher.seen) >= sum(
                        1 for r in BuildRun.objects.filter(pk__in=triggered, status=RunStatus.SUCCEEDED)):
                    break
                time.sleep(0.5)
            watcher.stop.set()
            for w in workers:
                if w.poll() is None:
                    cpu_of[w.pid] = wc.proc_cpu_seconds(w.pid)
        finally:
            for w in workers:
                stop(w)

        # ---------------------------------------------------------------- checks
        import requests

        runs_now = {r.pk: r for r in BuildRun.objects.filter(pk__in=triggered)}
        statuses: dict[str, int] = {}
        for r in runs_now.values():
            statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
        expected_tags: dict[str, set[str]] = {}
        for r in runs_now.values():
            expected_tags.setdefault(r.image_repository.split("/", 1)[1], set()).add(r.image_tag)
        extra_or_missing = {}
        for repo, tags in expected_tags.items():
            got = requests.get(f"{reg.url}/v2/{repo}/tags/list", auth=reg.auth, verify=reg.verify, timeout=10)
            have = set(got.json().get("tags") or []) if got.status_code == 200 else set()
            if have != tags:
                extra_or_missing[repo] = {"extra": sorted(have - tags), "missing": sorted(tags - have)}

        def pods_per_run(c: Any) -> dict[str, int]:
            out: dict[str, int] = {}
            for pod in c.store.list(PODS)[0]:
                labels = pod["metadata"].get("labels") or {}
                if labels.get("builds.cluster-portal.io/step") == "source":
                    run = labels.get("builds.cluster-portal.io/run", "")
                    out[run] = out.get(run, 0) + 1
            return out

        pods: dict[str, int] = {}
        for name in sb.clusters:
            pods.update(sb.in_cluster(name, pods_per_run))
        twice = sorted(int(k) for k, v in pods.items() if v != 1 and int(k) in triggered)
        logs_twice = [s.run_id for s in BuildStep.objects.filter(run_id__in=triggered, name="build")
                      if s.log.count("load build definition from Dockerfile\n") != 1]

    latencies = sorted(watcher.seen[k] - triggered[k] for k in watcher.seen)
    recorded = sorted(r.finished.timestamp() - triggered[pk] for pk, r in runs_now.items() if r.finished)
    cpu_total = sum(cpu_of.values())
    succeeded = statuses.get(str(RunStatus.SUCCEEDED), 0)
    result: dict[str, Any] = {
        "size": {"builds": args.builds, "clusters": args.clusters, "workers": args.workers,
                 "threads_per_worker": args.concurrency, "lease_seconds": args.lease_seconds, "poll_seconds": 1},
        "queued_all_in_s": round(queued_in, 2),
        "trigger_to_image_in_registry_s": {
            "min": _round(latencies[0] if latencies else None),
            "p50": _round(wc.percentile(latencies, 0.5)), "p95": _round(wc.percentile(latencies, 0.95)),
            "max": _round(latencies[-1] if latencies else None), "images_seen": len(latencies),
            "all": [_round(v) for v in latencies]},
        "trigger_to_run_recorded_done_s": {  # the portal's own view (includes the killed worker's lease)
            "p50": _round(wc.percentile(recorded, 0.5)), "p95": _round(wc.percentile(recorded, 0.95)),
            "max": _round(recorded[-1] if recorded else None)},
        "portal_worker_cpu_s": {"total": round(cpu_total, 2),
                                "per_build": round(cpu_total / max(succeeded, 1), 3)},
        "worker_killed": killed,
        "run_statuses": statuses,
        "lost": [pk for pk, r in runs_now.items() if r.status != RunStatus.SUCCEEDED],
        "run_twice": twice,
        "logs_with_two_builds": logs_twice,
        "registry_tags_mismatch": extra_or_missing,
        "no_build_lost_or_run_twice": (succeeded == args.builds and not twice and not logs_twice
                                       and not extra_or_missing),
    }
    path = wc.write_results(args.name, result)
    print(f"trigger -> image in registry p50/p95/max {result['trigger_to_image_in_registry_s']['p50']}/"
          f"{result['trigger_to_image_in_registry_s']['p95']}/{result['trigger_to_image_in_registry_s']['max']} s; "
          f"worker CPU per build {result['portal_worker_cpu_s']['per_build']} s")
    print(f"statuses {statuses}; killed {killed}; no build lost or run twice: {result['no_build_lost_or_run_twice']}")
    print(f"results: {path}")
    return 0 if result["no_build_lost_or_run_twice"] else 1


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


if __name__ == "__main__":
    raise SystemExit(main())

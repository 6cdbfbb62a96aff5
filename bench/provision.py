"""Provisioning benchmark (issue 17): provision 10 clusters of 3 nodes at once through the
sandbox's Cluster API slice and time them to Connected; scale one pool 3 → 20 → 3 and time it.

Run by hand (never from the test suite); it needs nothing shared: a private PostgreSQL and Redis
are started for it (``tests/faults/procs.py``) and a sandbox fleet runs in this process::

    .venv/bin/python bench/provision.py                         # 10 clusters, scale to 20
    .venv/bin/python bench/provision.py --clusters 3 --peak 8 --name provision_quick

Stage: the web server (uvicorn, as the Procfile runs it), ``--workers`` Celery workers (every
queue, prefork) and the beat on the private stack; a sandbox fleet whose ``cluster-1`` serves the
Cluster API slice (machines join after the controllers' default delay, 2 s), registered through
the API and marked as a management cluster. Everything goes through the API as an admin would:
``--clusters`` creates from the builtin sandbox template (one control-plane machine and a pool of
two workers: 3 nodes each) sent back to back; then one cluster's pool, brought to 3 machines, is
scaled to ``--peak`` machines and back to 3 (``PATCH .../pools/<pool>/``), each timed until its operation
succeeded (every machine Running and ready, the removed ones drained and gone).

Reported (and written to ``bench/results/<name>.json``): seconds from the first create to each
cluster Connected in the portal (registered automatically from its kubeconfig, checked), p50 /
max / all; seconds for the scale up and the scale down to settle; per process (web, each worker
with its pool children, beat, Redis, PostgreSQL with its backends, this process with the sandbox
fleet) CPU seconds, average cores and memory during the provisioning and during the scaling.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.testing import running_sandbox  # noqa: E402
from tests.faults.procs import Stack, WebServer, running_stack  # noqa: E402
from tests.faults.storm_helpers import Usage  # noqa: E402


class Api:
    def __init__(self, web: WebServer, token: str) -> None:
        self.web, self.token = web, token

    def call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)) -> Any:
        status, raw = self.web.get(path, method=method, timeout=30,
                                   headers={"Authorization": f"Bearer {self.token}",
                                            "Content-Type": "application/json"},
                                   body=json.dumps(body).encode() if body is not None else None)
        if status not in expect:
            raise RuntimeError(f"{method} {path} answered {status}: {raw[:500]!r}")
        return json.loads(raw) if raw else None


def wait(check: Any, timeout: float, what: str, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def operation_done(stack: Stack, op_id: int) -> str | None:
    rows = stack.sql("SELECT status, message FROM provisioning_provisioningoperation WHERE id = %s", op_id)
    if rows and rows[0][0] in ("succeeded", "failed"):
        if rows[0][0] == "failed":
            raise RuntimeError(f"operation {op_id} failed: {rows[0][1]}")
        return str(rows[0][0])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--peak", type=int, default=20, help="machines of the pool at the top of the scale")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--name", default="provision")
    args = parser.parse_args()

    with running_stack() as stack, running_sandbox(clusters=1, nodes=1, cluster_api=["cluster-1"],
                                                   state_dir=tempfile.mkdtemp(prefix="bench-provision-")) as fleet:
        web = stack.web()
        web.start()
        workers = [stack.worker(f"w{i + 1}") for i in range(args.workers)]
        for worker in workers:
            worker.start()
        beat = stack.beat().start()
        for proc in (web, *workers, beat):
            proc.wait_ready(120)
        api = Api(web, stack.api_token("bench-admin", role="admin"))
        # the builtin templates are stored after migrations; a cached migrated database may predate them
        stack.run_django("from provisioning.actions import sync_builtin_templates\n"
                         "result = len(sync_builtin_templates())")

        mgmt = api.call("POST", "/api/clusters/", {"name": "bench-mgmt",
                                                   "kubeconfig": fleet.cluster("cluster-1").kubeconfig.read_text()},
                        expect=(202,))
        wait(lambda: api.call("GET", f"/api/clusters/{mgmt['id']}/")["status"] == "connected", 60, "mgmt connected")
        mc = api.call("POST", "/api/provisioning/management-clusters/", {"cluster": mgmt["id"], "namespace": "bench"},
                      expect=(201,))
        wait(lambda: api.call("GET", f"/api/provisioning/management-clusters/{mc['id']}/")["status"] == "ready", 60,
             "management cluster ready")
        listed = api.call("GET", "/api/provisioning/templates/?provider=sandbox")
        templates = listed["results"] if isinstance(listed, dict) else listed
        template = max((t for t in templates if t["name"] == "sandbox"), key=lambda t: t["version"])

        procs = {"web": web.pid or 0, **{w.name: w.pid or 0 for w in workers}, "beat": beat.pid or 0,
                 "redis": stack.redis.pid or 0, "postgres": stack.postgres.pid or 0,
                 "bench_and_sandbox": os.getpid()}
        trees = ("postgres", *(w.name for w in workers))

        # ---- provision N clusters at once
        names = [f"bench-{i + 1:02d}" for i in range(args.clusters)]
        connected: dict[str, float] = {}
        with Usage(procs, trees=trees) as provisioning:
            t0 = time.monotonic()
            created = {}
            for name in names:
                body = {"name": name, "management": mc["id"], "template": template["id"], "stage": "dev",
                        "parameters": {"nodePools": [{"name": "workers", "machineSize": "small", "replicas": 2}]}}
                created[name] = api.call("POST", "/api/provisioning/clusters/", body, expect=(202,))
            sent = time.monotonic() - t0
            deadline = time.monotonic() + args.timeout
            while len(connected) < len(names) and time.monotonic() < deadline:
                rows = stack.sql("SELECT p.name FROM provisioning_provisionedcluster p JOIN clusters_cluster c "
                                 "ON c.id = p.cluster_id WHERE c.status = 'connected'")
                for (name,) in rows:
                    connected.setdefault(name, round(time.monotonic() - t0, 2))
                time.sleep(0.5)
        if len(connected) < len(names):
            raise RuntimeError(f"only {len(connected)} of {len(names)} clusters connected: {stack.logs()}")
        creates_ok = stack.sql("SELECT count(*) FROM provisioning_provisioningoperation WHERE kind = 'create' "
                               "AND status = 'succeeded'")[0][0]

        # ---- scale one pool 3 -> peak -> 3 (the pool has 2 workers; with the control plane, 3 machines)
        first = created[names[0]]["provisioned"]["id"]
        pool = f"{names[0]}-workers"
        wait(lambda: operation_done(stack, created[names[0]]["operation"]["id"]), args.timeout, "create finished")
        scale: dict[str, Any] = {}
        op = api.call("PATCH", f"/api/provisioning/clusters/{first}/pools/{pool}/", {"replicas": 3},
                      expect=(202,))["operation"]  # the pool starts at 3 machines (untimed)
        wait(lambda: operation_done(stack, op["id"]), args.timeout, "scale to 3", every=0.2)
        with Usage(procs, trees=trees) as scaling:
            for label, replicas in (("up", args.peak), ("down", 3)):
                t1 = time.monotonic()
                op = api.call("PATCH", f"/api/provisioning/clusters/{first}/pools/{pool}/", {"replicas": replicas},
                              expect=(202,))["operation"]
                wait(lambda op_id=op["id"]: operation_done(stack, op_id), args.timeout, f"scale {label}", every=0.2)
                scale[label] = {"replicas": replicas, "seconds": round(time.monotonic() - t1, 2)}
        progress = stack.sql("SELECT progress FROM provisioning_provisionedcluster WHERE id = %s", first)[0][0]
        running = (json.loads(progress) if isinstance(progress, str) else progress).get("machines_running")
        running -= 1  # the control-plane machine

        times = sorted(connected.values())
        result = {
            "clusters": args.clusters, "nodes_per_cluster": 3, "workers": args.workers,
            "creates_sent_seconds": round(sent, 2), "creates_succeeded": creates_ok,
            "connected_seconds": {"p50": round(statistics.median(times), 2), "max": times[-1], "all": connected},
            "provisioning_usage": provisioning.report(),
            "scale": {**scale, "pool": pool, "pool_machines_running_after": running},
            "scaling_usage": scaling.report(),
            "notes": "Sandbox machines join after 2 s (the controllers' default provisionSeconds); the sandbox "
                     "fleet runs in the bench process (bench_and_sandbox). Worker CPU includes the prefork "
                     "children; PostgreSQL includes its backends.",
        }
        out = ROOT / "bench" / "results" / f"{args.name}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: v for k, v in result.items() if not k.endswith("_usage")}, indent=2))
        print(f"written to {out}")


if __name__ == "__main__":
    main()

"""Helpers of the build runner's tests: a workspace with a service map on a sandbox cluster, a
registry allocated to it, a build definition over a git repository served on loopback, and runs
made as ``builds.actions.create_run`` makes them. Test modules import them from here, never from
another test module (tests/test_test_layout.py)."""

from __future__ import annotations

import itertools
import time
from collections import deque
from typing import Any

import pytest
from rest_framework.test import APIClient

from builds.models import BuildDefinition, BuildRun, BuildStep, Registry, RunStatus, StepStatus
from clusters.kube.client import KubeClient
from clusters.kube.connection import spec_from_kubeconfig
from portal.celery import app as celery_app
from portal.testing import make_user, register_cluster
from workspaces import quota as q
from workspaces import services as ws_services
from workspaces.models import ClusterAllocation, Membership, RegistryAllocation, Role, ServiceMap, Workspace

_n = itertools.count(1)

DOCKERFILE = """FROM scratch
ARG GREETING=hello
LABEL org.opencontainers.image.title="app"
COPY app.txt /app/app.txt
ENV GREETING=${GREETING}
CMD ["/app/app.txt"]
"""


def setup_definition(admin_api: APIClient, sandbox: Any, cluster: str, registry: Registry, git_url: str,
                     **fields: Any) -> tuple[BuildDefinition, Any]:
    """A build definition of a new workspace (with a developer, returned too) building ``git_url`` on
    a ready service map of the sandbox ``cluster`` into ``registry`` under the workspace's prefix."""
    n = f"{next(_n)}{int(time.time() * 1000) % 1000000}"
    workspace = Workspace.objects.create(name=f"bld-{n}")
    developer = make_user(f"blddev{n}")
    Role.ensure_builtin()
    Membership.objects.create(workspace=workspace, user=developer, role=Role.objects.get(key="developer"))
    cluster_id = register_cluster(admin_api, sandbox.cluster(cluster).kubeconfig.read_text(), f"bld-{cluster}-{n}")
    quota = q.dump(q.parse({"requests.cpu": "4", "requests.memory": "8Gi", "pods": "20"}))
    ClusterAllocation.objects.create(workspace=workspace, cluster_id=cluster_id, quota=quota, status="ready")
    sm = ServiceMap.objects.create(workspace=workspace, cluster_id=cluster_id, namespace=f"bld-{n}", quota=quota)
    assert ws_services.apply_service_map(sm.pk) == "ready"
    RegistryAllocation.objects.create(workspace=workspace, registry=f"{registry.host}/bld-{n}")
    values: dict[str, Any] = {
        "workspace": workspace, "name": f"app-{n}", "git_url": git_url, "git_ref": "main", "registry": registry,
        "repository": f"bld-{n}/app", "cluster_id": cluster_id, "service_map": sm, "timeout_seconds": 120,
        "scan": False, "created_by": developer,
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    }
    values.update(fields)
    return BuildDefinition.objects.create(**values), developer


def new_run(definition: BuildDefinition, user: Any, **kwargs: Any) -> BuildRun:
    """A queued run, made by DEFS's writer (``builds.start_run`` is sent after commit)."""
    from builds import actions

    return actions.create_run(definition, trigger="manual", user=user, **kwargs)


def steps(run: BuildRun) -> dict[str, BuildStep]:
    return {s.name: s for s in BuildStep.objects.filter(run=run)}


def state(run: BuildRun) -> tuple[str, dict[str, str]]:
    run.refresh_from_db()
    return str(run.status), {name: str(step.status) for name, step in steps(run).items()}


def finished(run: BuildRun) -> bool:
    run.refresh_from_db()
    return run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


def step_done(run: BuildRun, name: str) -> bool:
    return steps(run)[name].status in (StepStatus.SUCCEEDED, StepStatus.FAILED)


def cluster_client(sandbox: Any, name: str) -> KubeClient:
    return KubeClient(spec_from_kubeconfig(sandbox.cluster(name).kubeconfig.read_text())[0])


def objects_of(client: KubeClient, run: BuildRun) -> dict[str, list[str]]:
    """The run's objects in its namespace, by kind (pods included)."""
    selector = f"builds.cluster-portal.io/run={run.pk}"
    out: dict[str, list[str]] = {}
    for kind in ("Job", "Pod", "Secret", "ConfigMap"):
        items = client.list_objects(kind, run.namespace, label_selector=selector)
        live = [i for i in items if not (i.get("metadata") or {}).get("deletionTimestamp")]
        out[kind] = sorted(str(i["metadata"]["name"]) for i in live)
    return out


def offline_definition(**fields: Any) -> tuple[BuildDefinition, Any, Any]:
    """A definition whose cluster is never called (the API's own tests): rows only. Returns the
    definition, a developer (builds.run) and a viewer of its workspace."""
    from clusters.models import Cluster

    n = f"{next(_n)}{int(time.time() * 1000) % 1000000}"
    workspace = Workspace.objects.create(name=f"bldapi-{n}")
    Role.ensure_builtin()
    developer, viewer = make_user(f"blddev{n}"), make_user(f"bldview{n}")
    Membership.objects.create(workspace=workspace, user=developer, role=Role.objects.get(key="developer"))
    Membership.objects.create(workspace=workspace, user=viewer, role=Role.objects.get(key="viewer"))
    cluster = Cluster.objects.create(name=f"bldapi-{n}", server="https://127.0.0.1:9")
    ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, status="ready")
    sm = ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=f"bldapi-{n}")
    registry = Registry.objects.create(name=f"reg-{n}", host=f"registry-{n}.test:5000")
    RegistryAllocation.objects.create(workspace=workspace, registry=f"{registry.host}/bldapi-{n}")
    values: dict[str, Any] = {
        "workspace": workspace, "name": f"app-{n}", "git_url": "http://127.0.0.1:9/app.git", "registry": registry,
        "repository": f"bldapi-{n}/app", "cluster": cluster, "service_map": sm, "scan": True, "created_by": developer,
    }
    values.update(fields)
    return BuildDefinition.objects.create(**values), developer, viewer


class Tasks:
    """Captures the builds tasks the code sends by name (after commit), to run them in this process
    in order, as a worker would (other apps' tasks go to the broker as usual)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.queue: deque[tuple[str, tuple[Any, ...]]] = deque()
        original = celery_app.send_task

        def send(name: str, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
            if name.startswith("builds."):
                self.queue.append((name, tuple(args or ())))
                return None
            return original(name, args, kwargs, **options)

        monkeypatch.setattr(celery_app, "send_task", send)

    def names(self) -> list[str]:
        return [name for name, _ in self.queue]

    def run_next(self) -> str:
        name, args = self.queue.popleft()
        return str(celery_app.tasks[name].run(*args))

    def drain(self, until: Any, timeout: float = 120.0) -> None:
        """Run the queued tasks (and those they send) until ``until()`` holds."""
        deadline = time.monotonic() + timeout
        while self.queue and not until() and time.monotonic() < deadline:
            self.run_next()
            time.sleep(0.1)
        assert until(), f"not reached in time; queue {list(self.queue)}"

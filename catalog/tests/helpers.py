"""Helpers shared by the catalog's test modules: the small ``shop`` chart, a :class:`Driver` that
runs the catalog's Celery tasks in the test's process, and a workspace with service maps on
sandbox clusters and an uploaded version of the chart. Test modules import them from here (and
get fixtures from conftest), never from another ``test_*`` module (tests/test_test_layout.py)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml
from rest_framework.test import APIClient

from catalog import helm, tasks_deploy
from catalog.models import CatalogSource, Package, PackageVersion, Release, SourceKind
from portal import enqueue as portal_enqueue
from portal.celery import app as celery_app
from portal.testing import make_user, register_cluster
from workspaces import quota as q
from workspaces import services as ws_services
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

_n = itertools.count(1)

CHART_FILES = {
    "values.yaml": "replicas: 1\nimage: nginx:1.27\nmessage: hello\nservice:\n  enabled: true\n",
    "values.schema.json": '{"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 0},'
                          ' "image": {"type": "string"}, "message": {"type": "string"}}}',
    "templates/deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}-web}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-web}
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
          resources:
            requests: {cpu: 50m, memory: 32Mi}
""",
    "templates/config.yaml": """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  message: {{ .Values.message | quote }}
""",
    "templates/service.yaml": """{{- if .Values.service.enabled }}
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector: {app: {{ .Release.Name }}-web}
  ports: [{port: 80}]
{{- end }}
""",
}


class Driver:
    """Runs the catalog's Celery tasks in this process, in the order they were enqueued, whether
    sent by name (``send_task``, as the writes do) or through the task (``delay``, as the tasks
    chain). Names in ``at_once`` run as soon as they are sent instead."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.queue: deque[tuple[Any, tuple[Any, ...]]] = deque()
        self.at_once: set[str] = set()
        by_name: dict[str, Any] = {}
        for name in ("deploy_revision", "watch_revision", "delete_release", "advance_rollout", "publish_rollout",
                     "publish_release_rows"):
            task = getattr(tasks_deploy, name)
            by_name[task.name] = task
            monkeypatch.setattr(task, "delay", lambda *args, _t=task: self.queue.append((_t, args)))
            monkeypatch.setattr(task, "apply_async",
                                lambda args=(), countdown=None, _t=task, **kw: self.queue.append((_t, tuple(args))))
        send_task = celery_app.send_task

        def send(name: str, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
            task = by_name.get(name)
            if task is None:
                return send_task(name, args, kwargs, **options)
            if name in self.at_once:
                task.run(*(args or ()))
            else:
                self.queue.append((task, tuple(args or ())))
            return None

        monkeypatch.setattr(celery_app, "send_task", send)
        # Tests drop queued messages on purpose (a lost task) and run the rest in their own order;
        # a coalescing key left by a dropped message would hold back the next send for a minute.
        # Coalescing itself is tested against Redis in portal/tests/test_enqueue_coalesce.py.
        monkeypatch.setattr(portal_enqueue, "_claim", lambda key: True)

    def run(self, until: Any = None, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.queue and time.monotonic() < deadline:
            if until is not None and until():
                return
            task, args = self.queue.popleft()
            if task is tasks_deploy.watch_revision:
                time.sleep(0.2)  # let the sandbox's controllers move
            task.run(*args)
        if until is not None:
            assert until(), "the deploy did not reach the expected state in time"


def add_version(package: Package, version: str, files: dict[str, str], digest: str = "") -> PackageVersion:
    """``files`` built into a chart archive, stored as ``version`` of ``package`` (as an upload is)."""
    archive = helm.build_archive(package.name, version, files)
    info = helm.inspect(archive)
    return PackageVersion.objects.create(package=package, version=version, archive=archive,
                                         digest=digest or f"sha256:{version}", values_yaml=info.values_yaml,
                                         values_schema=info.schema)


def setup_service_maps(admin_api: APIClient, sandbox: Any, clusters: tuple[str, ...]) -> tuple[
        Workspace, list[ServiceMap], Any, PackageVersion]:
    """A workspace with a developer, a ready service map on each of the sandbox ``clusters``
    (registered through the API), and version 1.0.0 of the shop chart uploaded to it."""
    n = f"{next(_n)}{int(time.time()) % 100000}"
    workspace = Workspace.objects.create(name=f"cat-{n}")
    developer = make_user(f"catdev{n}")
    Role.ensure_builtin()
    Membership.objects.create(workspace=workspace, user=developer, role=Role.objects.get(key="developer"))
    maps = []
    for name in clusters:
        cluster_id = register_cluster(admin_api, sandbox.cluster(name).kubeconfig.read_text(), f"cat-{name}-{n}")
        quota = q.dump(q.parse({"requests.cpu": "2", "requests.memory": "2Gi", "pods": "10", "services": "5"}))
        ClusterAllocation.objects.create(workspace=workspace, cluster_id=cluster_id, quota=quota, status="ready")
        sm = ServiceMap.objects.create(workspace=workspace, cluster_id=cluster_id, namespace=f"shop-{n}", quota=quota)
        assert ws_services.apply_service_map(sm.pk) == "ready"
        maps.append(ServiceMap.objects.select_related("workspace", "cluster").get(pk=sm.pk))
    source = CatalogSource.objects.create(name=f"uploads-{n}", kind=SourceKind.UPLOAD, workspace=workspace)
    package = Package.objects.create(source=source, name="shop")
    version = add_version(package, "1.0.0", CHART_FILES, digest="sha256:test")
    return workspace, maps, developer, version


def release_state(release: Release) -> tuple[str, int]:
    release.refresh_from_db()
    return release.status, release.deployed_revision


# The basic-auth account of the chart repository the tests serve (:class:`Repo`).
USER, PASSWORD = "reader", "s3cret-pass"


class Repo:
    """A Helm chart repository over HTTP with basic auth, in a thread."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        repo = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                repo.requests.append(self.path)
                expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="charts"')
                    self.end_headers()
                    return
                body = repo.files.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/charts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, charts: dict[str, list[tuple[str, bytes]]], *, digests: bool = True) -> None:
        """Serve these archives and an index.yaml listing them (relative URLs, sha256 digests)."""
        entries: dict[str, list[dict[str, Any]]] = {}
        for name, versions in charts.items():
            for version, data in versions:
                path = f"{name}-{version}.tgz"
                self.files[f"/charts/{path}"] = data
                entry = {"apiVersion": "v2", "name": name, "version": version, "appVersion": "2.4.1",
                         "description": f"{name} {version}", "keywords": ["web"], "urls": [path],
                         "created": "2026-01-02T03:04:05.123456789Z"}
                if digests:
                    entry["digest"] = hashlib.sha256(data).hexdigest()
                entries.setdefault(name, []).append(entry)
        index = {"apiVersion": "v1", "entries": entries, "generated": "2026-01-02T03:04:05Z"}
        self.files["/charts/index.yaml"] = yaml.safe_dump(index).encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

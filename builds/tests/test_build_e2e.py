"""A build from a git repository on loopback to an image in the built-in registry, end to end, on a
sandbox cluster with a real Celery worker: the steps and their logs arrive over the run's socket
group as they happen, the image is in the registry with the digest and size the run recorded, the
scan's findings are stored for that digest; and a worker killed in the middle of a run loses
nothing and pushes nothing twice."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings
from django.db import transaction
from django.test import override_settings
from rest_framework.test import APIClient

from builds import run_actions, tasks
from builds.models import BuildDefinition, BuildRun, ImageScan, RunStatus
from builds.tests.runner_helpers import (
    Tasks,
    cluster_client,
    finished,
    new_run,
    setup_definition,
    state,
    steps,
)
from portal.testing import Subscriber, backend_env, wait_for
from sandbox.testing import git_server, make_repo

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]

VULNERABLE = ("CVE-2024-0001:CRITICAL:openssl:3.0.1:3.0.13;CVE-2024-0002:LOW:zlib:1.2.13:")
DOCKERFILE = f"""FROM scratch
ARG GREETING=hello
LABEL sandbox.cluster-portal.io/vulnerabilities="{VULNERABLE}"
WORKDIR /app
COPY app.txt /app/app.txt
COPY static/ /app/static/
ENV GREETING=${{GREETING}}
RUN echo this is logged and makes no layer
CMD ["/app/app.txt"]
"""
FILES: dict[str, str | bytes] = {"Dockerfile": DOCKERFILE, "app.txt": "hello from the e2e build\n", "static/index.html": "<h1>hi</h1>\n"}


@pytest.fixture
def git(tmp_path: Path) -> Any:
    with git_server(tmp_path / "git") as server:
        yield server


def _registry_get(path: str, accept: str = "") -> requests.Response:
    password = Path(settings.PORTAL_BUILTIN_REGISTRY_PASSWORD_FILE).read_text().strip()
    headers = {"Accept": accept} if accept else {}
    return requests.get(f"https://{settings.PORTAL_BUILTIN_REGISTRY_HOST}{path}", headers=headers, timeout=10,
                        auth=(settings.PORTAL_BUILTIN_REGISTRY_USERNAME, password),
                        verify=settings.PORTAL_BUILTIN_REGISTRY_CA_FILE)


def _manifest(repository: str, reference: str) -> tuple[bytes, dict[str, Any]]:
    response = _registry_get(f"/v2/{repository}/manifests/{reference}",
                             accept="application/vnd.oci.image.manifest.v1+json")
    assert response.status_code == 200, response.text
    return response.content, response.json()


def test_a_build_runs_end_to_end_live_over_the_socket(admin_api: APIClient, sandbox: Any, builtin_registry: Any,
                                                      git: Any, celery_worker_process: Any) -> None:
    sha = make_repo(git.root, "app", FILES)
    definition, developer = setup_definition(admin_api, sandbox, "cluster-1", builtin_registry, git.url_for("app"),
                                             scan=True, build_args={"GREETING": "annyeong"})
    workspace_events = Subscriber(f"workspace.{definition.workspace_id}")
    with transaction.atomic():  # the run's group is joined before the worker can start it
        run = new_run(definition, developer)
        events = Subscriber(f"buildrun.{run.pk}")
    try:
        wait_for(lambda: finished(run), timeout=120, what="the build to finish")
        assert state(run) == ("succeeded", {"clone": "succeeded", "build": "succeeded", "scan": "succeeded"}), \
            run.message
        # Steps arrived live: running before succeeded, for each step, on the run's group.
        events.wait(lambda e: e["type"] == "buildrun.updated" and e["data"]["status"] == "succeeded")
        updates = [e["data"] for e in events.history if e["type"] == "buildrun.updated"]
        for name in ("clone", "build", "scan"):
            seen = [next(s["status"] for s in u["steps"] if s["name"] == name) for u in updates]
            assert "running" in seen, (name, seen)
            assert seen.index("running") < seen.index("succeeded"), (name, seen)
        assert workspace_events.wait(lambda e: e["type"] == "buildrun.updated" and e["data"]["id"] == run.pk
                                     and e["data"]["status"] == "succeeded")["data"]["steps_done"] == 3
        # Log lines arrived live and, offset by offset, make up the kept log.
        kept = steps(run)
        for name in ("clone", "build"):
            chunks = [e["data"] for e in events.history if e["type"] == "buildrun.log" and e["data"]["step"] == name]
            assert chunks, f"no {name} log over the socket"
            text = ""
            for chunk in chunks:
                assert chunk["offset"] == len(text.encode()), "no gap, no overlap"
                text += chunk["text"]
            assert text == kept[name].log
        assert "Cloning into '/workspace/src'..." in kept["clone"].log
        assert "COPY app.txt /app/app.txt" in kept["build"].log
        assert "pushing manifest" in kept["build"].log

        # The image is in the registry, by the digest the run recorded, with the size it recorded.
        assert run.git_commit == sha
        repository = definition.repository
        assert run.image_repository == f"{builtin_registry.host}/{repository}"
        assert run.image_tag == "1.0.B000001"
        body, manifest = _manifest(repository, run.image_tag)
        assert run.image_digest == "sha256:" + hashlib.sha256(body).hexdigest()
        assert run.image_size == manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])
        assert len(manifest["layers"]) == 2, "one layer per COPY; RUN makes none"
        config = _registry_get(f"/v2/{repository}/blobs/{manifest['config']['digest']}").json()
        assert "GREETING=annyeong" in config["config"]["Env"]

        # The scan's findings are stored for that digest, worst first.
        scan = ImageScan.objects.get(registry=builtin_registry, repository=repository, digest=run.image_digest)
        assert scan.run_id == run.pk
        assert scan.counts["CRITICAL"] == 1
        assert scan.counts["LOW"] == 1
        assert [(f["id"], f["package"], f["fixed_version"]) for f in scan.findings] == [
            ("CVE-2024-0001", "openssl", "3.0.13"), ("CVE-2024-0002", "zlib", "")]
        assert kept["scan"].message_code == "build_scanned"

        # The run's Secrets and ConfigMap are gone; its finished Jobs stay for their TTL.
        with cluster_client(sandbox, "cluster-1") as client:
            selector = f"builds.cluster-portal.io/run={run.pk}"
            assert client.list_objects("Secret", run.namespace, label_selector=selector) == []
            assert client.list_objects("ConfigMap", run.namespace, label_selector=selector) == []
            assert len(client.list_objects("Job", run.namespace, label_selector=selector)) == 2
    finally:
        events.close()
        workspace_events.close()


def _pushes(repository: str) -> list[str]:
    response = _registry_get(f"/v2/{repository}/tags/list")
    assert response.status_code == 200, response.text
    return sorted(response.json().get("tags") or [])


def test_a_worker_killed_mid_run_loses_nothing_and_pushes_once(
        admin_api: APIClient, sandbox: Any, builtin_registry: Any, git: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    make_repo(git.root, "app", FILES)
    definition, developer = setup_definition(admin_api, sandbox, "cluster-2", builtin_registry, git.url_for("app"))
    sent = Tasks(monkeypatch)
    run = new_run(definition, developer)
    sent.queue.clear()
    # The "worker" follows the run with the real tasks and SIGKILLs itself as soon as the build
    # step's first log lines are stored: mid-run, its lease held, the push under way or done.
    code = f"""
import os, signal, time
import django
django.setup()
from builds import run_actions, tasks
real = run_actions.append_log
def append_log(run_id, name, data, **kwargs):
    out = real(run_id, name, data, **kwargs)
    if name == "build":
        os.kill(os.getpid(), signal.SIGKILL)
    return out
run_actions.append_log = append_log
from portal import enqueue
enqueue.send = lambda name, *args, countdown=None, **kw: time.sleep(countdown or 0) or tasks.follow(*args)
tasks.start_run.run({run.pk})
"""
    worker = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False, timeout=180,
                            env=backend_env(PORTAL_BUILD_LEASE_SECONDS="2"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert worker.returncode == -signal.SIGKILL, worker.stderr.decode()[-2000:]
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    assert steps(run)["build"].log, "the killed worker had stored part of the build's log"
    assert run.lease_until is not None
    # Its lease runs out; the beat's reconcile sends the run again and another worker finishes it.
    wait_for(lambda: run.pk in run_actions.lapsed(), timeout=10, what="the killed worker's lease to run out")
    assert tasks.reconcile_runs.run() >= 1
    sent.drain(lambda: finished(run))
    assert state(run) == ("succeeded", {"clone": "succeeded", "build": "succeeded"}), run.message
    assert run.image_digest.startswith("sha256:")
    assert _pushes(definition.repository) == [run.image_tag], "one image, one tag"
    with cluster_client(sandbox, "cluster-2") as client:
        selector = f"builds.cluster-portal.io/run={run.pk}"
        (job,) = client.list_objects("Job", run.namespace, label_selector=selector)
        assert job["status"].get("succeeded") == 1
        assert len(client.list_objects("Pod", run.namespace, label_selector=selector)) == 1, "the build ran once"
    log = steps(run)["build"].log
    assert log.count("load build definition from Dockerfile\n") == 1, "no line stored twice"
    assert log.count("pushing manifest for") == 2, "one push (BuildKit logs its start and its end)"


def test_copies_of_a_runs_task_racing_make_one_pass(admin_api: APIClient, sandbox: Any, builtin_registry: Any,
                                                    git: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Copies of the run's task delivered at once (a redelivery and the beat's pick-up of a lapsed
    lease) never make two passes together: one takes the lease, the others leave; the run then
    ends once, its log stored once, one image pushed."""
    make_repo(git.root, "app", FILES)
    definition, developer = setup_definition(admin_api, sandbox, "cluster-3", builtin_registry, git.url_for("app"))
    sent = Tasks(monkeypatch)
    run = new_run(definition, developer)
    sent.queue.clear()
    assert tasks.start_run.run(run.pk) == "running"
    BuildRun.objects.filter(pk=run.pk).update(lease_until=None)  # as if the lease ran out
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def copy() -> None:
        from django.db import connection

        try:
            barrier.wait(10)
            outcomes.append(tasks.advance_run.run(run.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=copy) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes).count("busy-or-finished") >= 2, outcomes
    with override_settings(PORTAL_BUILD_POLL_SECONDS=0.05):
        sent.drain(lambda: finished(run))
    assert state(run) == ("succeeded", {"clone": "succeeded", "build": "succeeded"}), run.message
    assert steps(run)["build"].log.count("load build definition from Dockerfile\n") == 1
    assert _pushes(definition.repository) == [run.image_tag]


def test_a_build_deploys_its_image_pinned_by_digest_with_the_pull_secret(
        admin_api: APIClient, sandbox: Any, builtin_registry: Any, git: Any, celery_worker_process: Any) -> None:
    """The deploy step upgrades the release through the catalog's normal path: a new revision whose
    workload runs the image by digest (tag shown beside it), pulled with the portal's pull secret."""
    from catalog import releases
    from catalog.models import Revision
    from catalog.tests.helpers import setup_service_maps
    from workspaces.models import RegistryAllocation

    make_repo(git.root, "app", FILES)
    workspace, (sm,), developer, version = setup_service_maps(admin_api, sandbox, ("cluster-3",))
    release = releases.create_release(sm=sm, name="shop", version=version, values={}, strategy={}, user=developer,
                                      request=None)
    wait_for(lambda: Revision.objects.filter(release=release, number=1, status="deployed").exists(), timeout=60,
             what="the release's first revision")
    RegistryAllocation.objects.create(workspace=workspace, registry=f"{builtin_registry.host}/{workspace.name}")
    definition = BuildDefinition.objects.create(
        workspace=workspace, name="shop-image", git_url=git.url_for("app"), registry=builtin_registry,
        repository=f"{workspace.name}/shop", cluster=sm.cluster, service_map=sm, scan=False, timeout_seconds=120,
        deploy_release=release, deploy_image_path="image", deploy_image_format="reference", created_by=developer)
    run = new_run(definition, developer)
    wait_for(lambda: finished(run), timeout=150, what="the build and its deploy")
    assert state(run) == ("succeeded", {"clone": "succeeded", "build": "succeeded", "deploy": "succeeded"}), \
        run.message
    reference = f"{run.image_repository}:{run.image_tag}@{run.image_digest}"
    assert (run.deployed_release_id, run.deployed_revision) == (release.pk, 2)
    revision = Revision.objects.get(release=release, number=2)
    assert revision.values["image"] == reference
    with cluster_client(sandbox, "cluster-3") as client:
        deployment = client.get_object("Deployment", "shop-web", sm.namespace)
        pod_spec = deployment["spec"]["template"]["spec"]
        assert pod_spec["containers"][0]["image"] == reference
        assert pod_spec.get("imagePullSecrets") == [{"name": "portal-pull-builtin"}]
        secret = client.get_object("Secret", "portal-pull-builtin", sm.namespace)
        assert secret["type"] == "kubernetes.io/dockerconfigjson"

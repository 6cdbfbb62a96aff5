"""From a signed push to a running service, on a sandbox cluster with the built-in registry and a git
repository served on loopback: a generic-signed webhook queues a build; the build pushes an image
whose scan finds a CRITICAL vulnerability, so the workspace's policy fails the deploy step and no
revision is made; with a named exception the next push builds, deploys pinned by digest with the
pull secret in place; a replayed delivery starts nothing. The runner's and the catalog's tasks run
in this process, in the order they are sent."""

from __future__ import annotations

import json
import time
from collections import deque
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from builds import policy_actions, tasks, webhooks
from builds.models import BuildRun, BuildStep, RunStatus
from builds.tests.deploy_helpers import hello_web
from builds.tests.runner_helpers import finished, setup_definition
from catalog import releases
from catalog.models import Revision
from catalog.tests.helpers import Driver
from catalog.tests.helpers import release_state as state
from clusters.tests.helpers import client_for
from portal.celery import app as celery_app
from sandbox.testing import git_server, make_repo
from workspaces.models import Membership, Role

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "e2e-webhook-secret-0123456789"
DOCKERFILE = """FROM scratch
LABEL sandbox.cluster-portal.io/vulnerabilities="CVE-2024-0001:CRITICAL:openssl:3.0.1:3.0.13"
COPY app.txt /app/app.txt
CMD ["/app/app.txt"]
"""


class BuildTasks:
    """The builds tasks sent by name, run here (the catalog's go to the :class:`Driver` beneath)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.queue: deque[tuple[str, tuple[Any, ...], dict[str, Any]]] = deque()
        below = celery_app.send_task

        def send(name: str, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
            if name.startswith("builds."):
                self.queue.append((name, tuple(args or ()), dict(kwargs or {})))
                return None
            return below(name, args, kwargs, **options)

        monkeypatch.setattr(celery_app, "send_task", send)

    def drain(self, until: Any, driver: Driver, timeout: float = 150.0) -> None:
        """Run the builds tasks and the catalog's (the deploy step waits for its revision) in turns."""
        assert tasks.ADVANCE in celery_app.tasks  # builds.tasks registered (the worker autodiscovers it)
        deadline = time.monotonic() + timeout
        while (self.queue or driver.queue) and not until() and time.monotonic() < deadline:
            if self.queue:
                name, args, kwargs = self.queue.popleft()
                celery_app.tasks[name].run(*args, **kwargs)
            if driver.queue:
                task, args = driver.queue.popleft()
                task.run(*args)
            time.sleep(0.1)
        assert until(), f"not reached in time; queue {list(self.queue)}"


def _push(definition_id: int, sha: str, delivery: str) -> Any:
    body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
    return APIClient(enforce_csrf_checks=True).post(
        f"/api/builds/webhooks/{definition_id}/", body, content_type="application/json",
        headers={"X-Portal-Signature": webhooks.signature_header(SECRET, body), "X-Portal-Delivery": delivery})


def test_a_signed_push_is_built_blocked_by_the_scan_policy_then_deployed_pinned(
        admin_api: APIClient, sandbox: Any, builtin_registry: Any, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    driver = Driver(monkeypatch)
    builds = BuildTasks(monkeypatch)
    with git_server(tmp_path / "git") as git:
        sha = make_repo(git.root, "app", {"Dockerfile": DOCKERFILE, "app.txt": "hello\n"})
        definition, developer = setup_definition(admin_api, sandbox, "cluster-2", builtin_registry,
                                                 git.url_for("app"), scan=True, webhook_enabled=True)
        definition.set_webhook_secret(SECRET)
        definition.save()
        sm, workspace = definition.service_map, definition.workspace
        manager = developer.__class__.objects.create_user(username=f"mgr-{workspace.name}", password="x")
        Membership.objects.create(workspace=workspace, user=manager, role=Role.objects.get(key="manager"))
        release = releases.create_release(sm=sm, name="web", version=hello_web(workspace), values={}, strategy={},
                                          user=developer, request=None)
        driver.run(until=lambda: state(release) == ("deployed", 1))
        definition.deploy_release = release
        definition.save()
        policy_actions.set_policy(workspace=workspace, block_severity="CRITICAL", require_scan=False, user=manager,
                                  request=None)

        # 1. a signed push builds and scans; the CRITICAL finding fails the deploy step
        first = _push(definition.pk, sha, "delivery-1")
        assert first.status_code == 202, first.content
        run = BuildRun.objects.get(pk=first.json()["run"]["id"])
        builds.drain(until=lambda: finished(run), driver=driver)
        assert run.status == RunStatus.FAILED, run.message
        deploy = BuildStep.objects.get(run=run, name="deploy")
        assert (deploy.status, deploy.message_code) == ("failed", "image_blocked_by_scan"), deploy.message
        assert "CVE-2024-0001" in deploy.message
        assert Revision.objects.filter(release=release).count() == 1

        # 2. a named exception; the next push deploys the image pinned by digest, with its pull secret
        policy_actions.add_exception(workspace=workspace, vulnerability="CVE-2024-0001", reason="accepted for e2e",
                                     expires=timezone.now() + timedelta(days=1), user=manager, request=None)
        second = _push(definition.pk, sha, "delivery-2")
        assert second.status_code == 202, second.content
        run = BuildRun.objects.get(pk=second.json()["run"]["id"])
        builds.drain(until=lambda: finished(run), driver=driver)
        assert run.status == RunStatus.SUCCEEDED, (run.message, [
            (st.name, st.status, st.message, st.log[-300:]) for st in BuildStep.objects.filter(run=run)])
        assert (run.deployed_release_id, run.deployed_revision) == (release.pk, 2)
        driver.run(until=lambda: state(release) == ("deployed", 2))
        with client_for(sandbox, "cluster-2") as kube:
            pod = kube.get_object("Deployment", "web-hello", sm.namespace)["spec"]["template"]["spec"]
            kube.get_object("Secret", "portal-pull-builtin", sm.namespace)
        assert pod["containers"][0]["image"] == f"{run.image_repository}:{run.image_tag}@{run.image_digest}"
        assert pod["imagePullSecrets"] == [{"name": "portal-pull-builtin"}]

        # 3. the same delivery again starts nothing
        replay = _push(definition.pk, sha, "delivery-2")
        assert (replay.status_code, replay.json()["code"]) == (409, "webhook_replayed")
        assert BuildRun.objects.filter(definition=definition).count() == 2

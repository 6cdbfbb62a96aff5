"""The build runner against a sandbox cluster (in this process, task by task): the run's objects
applied by server-side apply and applied again without change, the pods followed step by step,
cancel deleting the Jobs and their pods, the no-progress timeout, an unreachable cluster retried
rather than failed, the lease keeping two workers off one run, retention."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from builds import jobs, run_actions, runner, tasks
from builds.models import BuildRun, RunStatus, StepStatus
from builds.tests.runner_helpers import (
    DOCKERFILE,
    Tasks,
    cluster_client,
    new_run,
    objects_of,
    setup_definition,
    state,
    steps,
)
from portal.testing import wait_for
from sandbox.testing import git_server, make_repo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Tasks:
    return Tasks(monkeypatch)


@pytest.fixture
def git(tmp_path: Path) -> Any:
    with git_server(tmp_path / "git") as server:
        yield server


def test_start_applies_the_runs_objects_once_and_again_changes_nothing(
        admin_api: APIClient, sandbox: Any, builtin_registry: Any, git: Any, sent: Tasks) -> None:
    make_repo(git.root, "app", {"Dockerfile": DOCKERFILE, "app.txt": "hi\n"})
    definition, developer = setup_definition(admin_api, sandbox, "cluster-1", builtin_registry, git.url_for("app"),
                                             git_username="ci", )
    definition.set_git_password("git-secret-1")
    definition.save()
    run = new_run(definition, developer)
    assert sent.names() == ["builds.start_run"]
    assert runner.start(run.pk).status == RunStatus.RUNNING
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    assert run.jobs == [jobs.job_name(run.pk)]
    with cluster_client(sandbox, "cluster-1") as client:
        found = objects_of(client, run)
        assert found["Job"] == [f"portal-build-{run.pk}"]
        assert found["Secret"] == [f"portal-build-{run.pk}-git", f"portal-build-{run.pk}-registry"]
        assert found["ConfigMap"] == [f"portal-build-{run.pk}"]
        job = client.get_object("Job", f"portal-build-{run.pk}", run.namespace)
        secret = client.get_object("Secret", f"portal-build-{run.pk}-git", run.namespace)
        assert secret["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
        assert {m["manager"] for m in job["metadata"]["managedFields"]} >= {"portal-builds"}
        versions = {kind: {name: client.get_object(kind, name, run.namespace)["metadata"]["resourceVersion"]
                           for name in names} for kind, names in found.items() if kind != "Pod"}
        # A second start (a redelivered task, a killed worker's retry) converges: nothing changes.
        BuildRun.objects.filter(pk=run.pk).update(status=RunStatus.QUEUED)
        assert runner.start(run.pk).status == RunStatus.RUNNING
        again = {kind: {name: client.get_object(kind, name, run.namespace)["metadata"]["resourceVersion"]
                        for name in names} for kind, names in found.items() if kind != "Pod"}
        assert again == versions


def _drive(run: BuildRun, *, until: Any = None, timeout: float = 60.0, **kwargs: Any) -> runner.Pass:
    """Passes of the runner, as the task chain makes them, until the run ends (or ``until``)."""
    import time

    deadline = time.monotonic() + timeout
    outcome = runner.advance(run.pk, **kwargs)
    while outcome.active and time.monotonic() < deadline:
        if until is not None and until():
            return outcome
        time.sleep(0.2)
        outcome = runner.advance(run.pk, **kwargs)
    return outcome


def test_a_build_that_reports_no_digest_fails_and_references_no_image_but_keeps_its_logs(
        admin_api: APIClient, sandbox: Any, builtin_registry: Any, git: Any, sent: Tasks) -> None:
    """The clone really fetches the ref (its SHA recorded); a build container that exits 0 without
    BuildKit's metadata (the sandbox's generic container, an image that is not the builder) is a
    failed build step: no digest is recorded, the scan is skipped, each step keeps its log."""
    sha = make_repo(git.root, "app", {"Dockerfile": DOCKERFILE, "app.txt": "hi\n"})
    definition, developer = setup_definition(admin_api, sandbox, "cluster-1", builtin_registry, git.url_for("app"),
                                             scan=True)
    with override_settings(PORTAL_BUILD_BUILDKIT_IMAGE="busybox:1.36"):
        run = new_run(definition, developer)
        outcome = _drive(run)
    assert outcome.status == RunStatus.FAILED
    assert state(run) == ("failed", {"clone": "succeeded", "build": "failed", "scan": "skipped"})
    assert run.git_commit == sha
    assert run.image_digest == ""
    assert run.image_size is None
    assert run.message_code == "build_no_digest"
    found = steps(run)
    assert "Cloning into '/workspace/src'..." in found["clone"].log
    assert found["build"].log, "the failed step keeps its log"
    assert found["build"].exit_code == 0
    assert found["clone"].log_offset == len(found["clone"].log.encode())


def test_a_ref_that_does_not_exist_fails_the_clone_with_gits_words(
        admin_api: APIClient, sandbox: Any, builtin_registry: Any, git: Any, sent: Tasks) -> None:
    make_repo(git.root, "app", {"Dockerfile": DOCKERFILE, "app.txt": "hi\n"})
    definition, developer = setup_definition(admin_api, sandbox, "cluster-2", builtin_registry, git.url_for("app"),
                                             git_ref="nope")
    run = new_run(definition, developer)
    assert _drive(run).status == RunStatus.FAILED
    assert state(run) == ("failed", {"clone": "failed", "build": "skipped"})
    clone = steps(run)["clone"]
    assert clone.exit_code == 128
    assert "Remote branch nope not found" in clone.log
    assert "Remote branch nope not found" in clone.message
    assert clone.message_code == "build_clone_failed"
    with cluster_client(sandbox, "cluster-2") as client:
        assert objects_of(client, run)["Secret"] == [], "a finished run's Secrets are deleted"


def test_cancel_deletes_the_jobs_their_pods_and_the_runs_secrets(
        admin_api: APIClient, sandbox: Any, builtin_registry: Any, git: Any, sent: Tasks) -> None:
    from builds import actions

    make_repo(git.root, "app", {"Dockerfile": DOCKERFILE, "app.txt": "hi\n"})
    definition, developer = setup_definition(admin_api, sandbox, "cluster-3", builtin_registry, git.url_for("app"))
    run = new_run(definition, developer)
    sent.queue.clear()
    assert runner.start(run.pk).status == RunStatus.RUNNING
    with cluster_client(sandbox, "cluster-3") as client:
        wait_for(lambda: objects_of(client, run)["Pod"], what="the build pod")
        actions.request_cancel(run, user=developer)
        assert sent.names() == ["builds.cancel_run"]
        assert state(run)[0] == "cancelling"
        assert sent.run_next() == "cancelled"
        assert state(run) == ("cancelled", {"clone": "cancelled", "build": "cancelled"})
        assert run.message_code == "build_run_cancelled"
        wait_for(lambda: not any(objects_of(client, run).values()),
                 what="the run's Jobs, pods, Secrets and ConfigMap deleted", timeout=30)
    # A late pass of the chain changes nothing.
    assert runner.advance(run.pk).status == RunStatus.CANCELLED
    assert state(run)[0] == "cancelled"


def test_no_progress_for_the_timeout_fails_the_run_and_deletes_its_jobs(
        admin_api: APIClient, sandbox: Any, builtin_registry: Any, git: Any, sent: Tasks) -> None:
    make_repo(git.root, "app", {"Dockerfile": DOCKERFILE, "app.txt": "hi\n"})
    definition, developer = setup_definition(admin_api, sandbox, "cluster-1", builtin_registry, git.url_for("app"),
                                             timeout_seconds=60)
    # An image the kubelet cannot pull: the pod waits for ever, nothing progresses.
    with override_settings(PORTAL_BUILD_GIT_IMAGE="alpine/git:doesnotexist"):
        run = new_run(definition, developer)
        assert runner.start(run.pk).status == RunStatus.RUNNING
    with cluster_client(sandbox, "cluster-1") as client:
        wait_for(lambda: objects_of(client, run)["Pod"], what="the build pod")
        outcome = runner.advance(run.pk)
        assert outcome.active
        wait_for(lambda: runner.advance(run.pk) and steps(run)["clone"].message_code == "build_container_waiting",
                 what="the pull failure shown on the step")
        assert "ErrImagePull" in steps(run)["clone"].message or "ImagePullBackOff" in steps(run)["clone"].message
        BuildRun.objects.filter(pk=run.pk).update(progressed=timezone.now() - timedelta(seconds=61))
        assert runner.advance(run.pk).status == RunStatus.FAILED
        assert state(run) == ("failed", {"clone": "failed", "build": "skipped"})
        assert run.message_code == "build_timeout"
        assert run.message_params == {"seconds": 60}
        wait_for(lambda: not objects_of(client, run)["Job"] and not objects_of(client, run)["Pod"],
                 what="the Jobs and pods deleted", timeout=30)


def test_an_unreachable_cluster_is_retried_until_the_timeout_decides(
        admin_api: APIClient, sandbox: Any, builtin_registry: Any, git: Any, sent: Tasks) -> None:
    make_repo(git.root, "app", {"Dockerfile": DOCKERFILE, "app.txt": "hi\n"})
    definition, developer = setup_definition(admin_api, sandbox, "cluster-2", builtin_registry, git.url_for("app"))
    run = new_run(definition, developer)
    sandbox.inject_fault("cluster-2", down=True)  # the sandbox fixture brings it back
    outcome = runner.start(run.pk)
    assert outcome.active
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    assert run.message_code == "build_cluster_unreachable"
    assert runner.advance(run.pk).active
    sandbox.clear_faults("cluster-2")  # back: the run starts and the note goes
    assert runner.advance(run.pk).status == RunStatus.RUNNING
    assert runner.advance(run.pk).active
    run.refresh_from_db()
    assert (run.status, run.message_code) == (RunStatus.RUNNING, "")
    sandbox.inject_fault("cluster-2", down=True)
    assert runner.advance(run.pk).active
    run.refresh_from_db()
    assert (run.status, run.message_code) == (RunStatus.RUNNING, "build_cluster_unreachable")
    BuildRun.objects.filter(pk=run.pk).update(progressed=timezone.now() - timedelta(seconds=200))
    assert runner.advance(run.pk).status == RunStatus.FAILED
    assert state(run)[0] == "failed"
    assert run.message_code == "build_timeout"


def test_the_lease_keeps_a_second_worker_off_a_run_and_a_lapsed_one_is_picked_up(
        admin_api: APIClient, sandbox: Any, builtin_registry: Any, git: Any, sent: Tasks) -> None:
    make_repo(git.root, "app", {"Dockerfile": DOCKERFILE, "app.txt": "hi\n"})
    definition, developer = setup_definition(admin_api, sandbox, "cluster-3", builtin_registry, git.url_for("app"))
    run = new_run(definition, developer)
    first = run_actions.claim(run.pk, seconds=60)
    assert first is not None
    assert run_actions.claim(run.pk, seconds=60) is None, "a second worker stays off"
    assert tasks.advance_run.run(run.pk) == "busy-or-finished"
    assert run_actions.claim(run.pk, seconds=60, token=first[1]) is not None, "the chain's own token takes it"
    assert run.pk not in run_actions.lapsed()
    BuildRun.objects.filter(pk=run.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert run.pk in run_actions.lapsed()
    sent.queue.clear()
    assert tasks.reconcile_runs.run() >= 1
    assert ("builds.advance_run", (run.pk,)) in sent.queue
    # The picked-up pass starts the run and hands the lease to its own next pass.
    assert tasks.advance_run.run(run.pk) == "running"
    name, args = sent.queue[-1]
    assert name == "builds.advance_run"
    assert args[0] == run.pk
    assert args[1]
    assert tasks.advance_run.run(run.pk) == "busy-or-finished", "no second chain while the first holds it"
    assert tasks.advance_run.run(*args) in ("running", "failed")


def test_finished_runs_beyond_keep_runs_are_pruned(
        admin_api: APIClient, sandbox: Any, builtin_registry: Any, git: Any, sent: Tasks) -> None:
    definition, developer = setup_definition(admin_api, sandbox, "cluster-1", builtin_registry, "http://127.0.0.1:9/x.git",
                                             keep_runs=2)
    runs = [new_run(definition, developer) for _ in range(4)]
    for run in runs[:3]:
        run_actions.finish(run.pk, status=RunStatus.FAILED, code="x", message="x")
    assert tasks.prune_runs.run() == 1
    assert sorted(BuildRun.objects.filter(definition=definition).values_list("number", flat=True)) == [2, 3, 4]
    assert StepStatus.PENDING in {s.status for s in steps(runs[3]).values()}


def test_a_git_sha_tag_is_the_commit_the_ref_names_when_the_run_starts(
        admin_api: APIClient, sandbox: Any, builtin_registry: Any, git: Any, sent: Tasks) -> None:
    """A manual run of the git-sha scheme does not know its commit: the runner asks the git server
    (the ref advertisement, with the definition's credentials) before the Job, so the image is
    pushed under the commit's short SHA; a ref the repository lacks fails the clone in git's words."""
    make_repo(git.root, "app", {"Dockerfile": DOCKERFILE, "app.txt": "one\n"})
    sha = make_repo(git.root, "app", {"Dockerfile": DOCKERFILE, "app.txt": "two\n"}, tags=["v2"])
    definition, developer = setup_definition(admin_api, sandbox, "cluster-2", builtin_registry, git.url_for("app"),
                                             tag_scheme="git-sha", git_ref="v2")
    run = new_run(definition, developer)
    assert run.image_tag == ""
    assert _drive(run).status == RunStatus.SUCCEEDED, run.message
    run.refresh_from_db()
    assert (run.git_commit, run.image_tag) == (sha, sha[:7])
    assert run.image_digest.startswith("sha256:")
    missing = new_run(definition, developer, ref="nope")
    assert runner.start(missing.pk).status == RunStatus.FAILED
    assert state(missing) == ("failed", {"clone": "failed", "build": "skipped"})
    assert missing.message_code == "build_ref_not_found"
    assert "Remote branch nope not found" in missing.message


def test_a_failing_build_keeps_buildkits_words_and_references_no_image(
        admin_api: APIClient, sandbox: Any, builtin_registry: Any, git: Any, sent: Tasks) -> None:
    make_repo(git.root, "app", {"Dockerfile": "FROM scratch\nCOPY /nope /app/\n", "app.txt": "hi\n"})
    definition, developer = setup_definition(admin_api, sandbox, "cluster-3", builtin_registry, git.url_for("app"),
                                             scan=True)
    run = new_run(definition, developer)
    assert _drive(run).status == RunStatus.FAILED
    assert state(run) == ("failed", {"clone": "succeeded", "build": "failed", "scan": "skipped"})
    build = steps(run)["build"]
    assert build.exit_code == 1
    assert "ERROR: failed to solve" in build.log
    assert "ERROR: failed to solve" in build.message
    assert build.message_code == "build_build_failed"
    assert run.image_digest == ""
    from builds.rows import run_row

    row = run_row(BuildRun.objects.get(pk=run.pk))
    assert (row["failed_step"], row["steps_done"], row["steps_total"]) == (2, 1, 3)


def test_buildah_builds_and_pushes_by_its_env(admin_api: APIClient, sandbox: Any, builtin_registry: Any, git: Any,
                                              sent: Tasks) -> None:
    make_repo(git.root, "app", {"svc/Dockerfile.app": DOCKERFILE, "svc/app.txt": "hi\n"})
    definition, developer = setup_definition(admin_api, sandbox, "cluster-1", builtin_registry, git.url_for("app"),
                                             builder="buildah", context_dir="svc", dockerfile_path="Dockerfile.app",
                                             build_args={"GREETING": "hola"})
    run = new_run(definition, developer)
    assert _drive(run).status == RunStatus.SUCCEEDED, run.message
    run.refresh_from_db()
    assert run.image_digest.startswith("sha256:")
    assert run.image_size
    assert steps(run)["build"].log


def test_a_preset_builds_with_the_portals_dockerfile_and_its_build_args(
        admin_api: APIClient, sandbox: Any, builtin_registry: Any, git: Any, sent: Tasks) -> None:
    """A language preset: the Dockerfile comes from the run's ConfigMap (/build-config), not the
    repository; its build args (here the base image) reach the builder."""
    make_repo(git.root, "app", {"app.py": "print('hi')\n", "requirements.txt": "\n"})
    definition, developer = setup_definition(admin_api, sandbox, "cluster-2", builtin_registry, git.url_for("app"),
                                             preset="python", build_args={"BASE_IMAGE": "scratch"})
    run = new_run(definition, developer)
    assert _drive(run).status == RunStatus.SUCCEEDED, run.message
    log = steps(run)["build"].log
    assert "pip install" in log
    run.refresh_from_db()
    assert run.image_digest.startswith("sha256:")

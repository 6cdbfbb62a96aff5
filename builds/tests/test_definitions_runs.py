"""Runs made from definitions (docs/builds.md "Runs"): :func:`builds.actions.create_run` numbers
them under a row lock (two at once get n and n+1 and their own tags), freezes the spec without a
secret, creates the steps, audits ``build.run``, publishes the row after commit and sends
``builds.start_run`` by name; cancel and rebuild as the contract says."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connection

from builds import actions
from builds.models import BuildDefinition, BuildRun, BuildStep, RunStatus, StepStatus, Trigger
from builds.tests.definition_helpers import REGISTRY_HOST, SentTasks, World, api_for, make_world
from portal import errors
from portal.events import current_seq
from portal.models import AuditRecord
from portal.testing import Subscriber
from workspaces.models import ClusterAllocation, RegistryAllocation

PASSWORD = "s3cret-git-token"
SHA = "4f2a9c1e0b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"


@pytest.fixture
def world(db: None) -> World:
    return make_world()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> SentTasks:
    return SentTasks(monkeypatch)


def definition(world: World, **overrides: Any) -> BuildDefinition:
    body = world.body(git_password=PASSWORD, **overrides)
    response = api_for(world.developer).post("/api/builds/definitions/", body, format="json")
    assert response.status_code == 201, response.content
    return BuildDefinition.objects.get(pk=response.json()["id"])


def test_a_manual_run_is_queued_with_its_steps_and_announced(world: World, sent: SentTasks,
                                                             django_capture_on_commit_callbacks: Any) -> None:
    d = definition(world)
    subscriber = Subscriber(f"workspace.{world.workspace.pk}")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = api_for(world.developer).post(f"/api/builds/definitions/{d.pk}/run/", {}, format="json")
        assert response.status_code == 202, response.content
        row = response.json()
        event = subscriber.wait(lambda e: e["type"] == "buildrun.updated" and e["data"]["id"] == row["id"])
    finally:
        subscriber.close()
    assert event["data"] == row
    assert row["number"] == 1
    assert row["status"] == "queued"
    assert row["trigger"] == "manual"
    assert row["image_repository"] == f"{REGISTRY_HOST}/team-a/shop"
    assert row["image_tag"] == "1.0.B000001"
    assert (row["steps_done"], row["steps_total"], row["failed_step"]) == (0, 3, None)
    assert row["requested_username"] == world.developer.username
    assert row["git_ref"] == "main"
    run = BuildRun.objects.get(pk=row["id"])
    assert [(s.name, s.position, s.status) for s in run.steps.order_by("position")] == [
        ("clone", 1, StepStatus.PENDING), ("build", 2, StepStatus.PENDING), ("scan", 3, StepStatus.PENDING)]
    assert run.cluster_id == world.cluster.pk
    assert run.namespace == world.service_map.namespace
    assert run.spec["git_url"] == d.git_url
    assert run.spec["registry_id"] == world.registry.pk
    assert run.spec["has_git_password"] is True
    assert PASSWORD not in json.dumps(run.spec)
    assert sent.named("builds.start_run") == [(run.pk,)]
    assert current_seq(f"buildrun.{run.pk}") >= 1
    assert AuditRecord.objects.filter(action="build.run", target_id=str(run.pk)).exists()
    d.refresh_from_db()
    assert d.next_build_number == 2
    listed = api_for(world.viewer).get(f"/api/builds/definitions/{d.pk}/").json()
    assert listed["last_run"]["id"] == run.pk
    assert listed["next_build_number"] == 2

    second = api_for(world.developer).post(f"/api/builds/definitions/{d.pk}/run/", {"ref": "release/2"},
                                           format="json").json()
    assert (second["number"], second["image_tag"], second["git_ref"]) == (2, "1.0.B000002", "release/2")
    bad = api_for(world.developer).post(f"/api/builds/definitions/{d.pk}/run/", {"ref": "a b"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["code"] == "git_ref_invalid"
    assert BuildRun.objects.filter(definition=d).count() == 2


def test_steps_follow_the_definition(world: World) -> None:
    d = definition(world, scan=False)
    run = actions.create_run(d, trigger=Trigger.MANUAL, user=world.developer)
    assert [s.name for s in run.steps.order_by("position")] == ["clone", "build"]


def test_git_sha_tags_come_from_the_commit_or_after_the_clone(world: World) -> None:
    d = definition(world, tag_scheme="git-sha")
    hooked = actions.create_run(d, trigger=Trigger.WEBHOOK, user=None, ref="refs/heads/main", commit=SHA)
    assert hooked.image_tag == SHA[:7]
    assert hooked.git_commit == SHA
    assert hooked.requested_username == ""
    assert AuditRecord.objects.filter(action="build.run", target_id=str(hooked.pk), actor=None).exists()
    manual = actions.create_run(d, trigger=Trigger.MANUAL, user=world.developer)
    assert manual.image_tag == ""  # decided after the clone
    assert manual.number == hooked.number + 1


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_get_consecutive_numbers_and_tags(sent: SentTasks) -> None:
    world = make_world()
    d = definition(world)
    barrier = threading.Barrier(2)
    made: list[BuildRun] = []
    failures: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait(5)
            made.append(actions.create_run(BuildDefinition.objects.get(pk=d.pk), trigger=Trigger.MANUAL,
                                           user=world.developer))
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures, failures
    assert sorted((r.number, r.image_tag) for r in made) == [(1, "1.0.B000001"), (2, "1.0.B000002")]
    assert BuildDefinition.objects.get(pk=d.pk).next_build_number == 3
    assert sorted(args for args in sent.named("builds.start_run")) == sorted((r.pk,) for r in made)


def test_cancel_a_queued_run_at_once_and_a_running_one_through_the_runner(
        world: World, sent: SentTasks, django_capture_on_commit_callbacks: Any) -> None:
    d = definition(world)
    client = api_for(world.developer)
    queued = actions.create_run(d, trigger=Trigger.MANUAL, user=world.developer)
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = actions.request_cancel(queued, user=world.developer)
    assert cancelled.status == RunStatus.CANCELLED
    assert cancelled.finished is not None
    assert cancelled.message_code == "build_cancelled"
    assert set(BuildStep.objects.filter(run=queued).values_list("status", flat=True)) == {StepStatus.CANCELLED}
    assert sent.named("builds.cancel_run") == []
    assert AuditRecord.objects.filter(action="build.cancel", target_id=str(queued.pk)).exists()

    running = actions.create_run(d, trigger=Trigger.MANUAL, user=world.developer)
    BuildRun.objects.filter(pk=running.pk).update(status=RunStatus.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        cancelling = actions.request_cancel(running, user=world.developer)
    assert cancelling.status == RunStatus.CANCELLING
    assert cancelling.message_code == "build_cancelling"
    assert sent.named("builds.cancel_run") == [(running.pk,)]
    again = actions.request_cancel(running, user=world.developer)  # asking twice changes nothing
    assert again.status == RunStatus.CANCELLING

    for finished in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED):
        BuildRun.objects.filter(pk=running.pk).update(status=finished)
        with pytest.raises(errors.Conflict) as refused:
            actions.request_cancel(running, user=world.developer)
        assert refused.value.code == "build_finished"
    assert client.get(f"/api/builds/definitions/{d.pk}/").status_code == 200


def test_a_rebuild_repeats_the_frozen_spec_with_a_new_number(world: World, sent: SentTasks,
                                                             django_capture_on_commit_callbacks: Any) -> None:
    d = definition(world)
    first = actions.create_run(d, trigger=Trigger.MANUAL, user=world.developer, ref="release/1")
    # the definition changes after the run was made; the rebuild builds what the run built
    api_for(world.developer).patch(f"/api/builds/definitions/{d.pk}/", {"git_url": "http://127.0.0.1:9/moved.git",
                                                                        "scan": False}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        again = actions.rebuild(BuildRun.objects.get(pk=first.pk), user=world.developer)
    assert again.trigger == Trigger.REBUILD
    assert again.rebuild_of_id == first.pk
    assert again.number == first.number + 1
    assert again.image_tag == "1.0.B000002"
    assert again.spec == first.spec
    assert again.git_ref == "release/1"
    assert [s.name for s in again.steps.order_by("position")] == ["clone", "build", "scan"]
    assert sent.named("builds.start_run") == [(again.pk,)]
    fresh = actions.create_run(BuildDefinition.objects.get(pk=d.pk), trigger=Trigger.MANUAL, user=world.developer)
    assert fresh.spec["git_url"] == "http://127.0.0.1:9/moved.git"
    assert [s.name for s in fresh.steps.order_by("position")] == ["clone", "build"]


def test_no_run_where_the_workspace_lost_its_allocation(world: World, sent: SentTasks) -> None:
    d = definition(world)
    first = actions.create_run(d, trigger=Trigger.MANUAL, user=world.developer)
    client = api_for(world.developer)
    RegistryAllocation.objects.filter(workspace=world.workspace).delete()
    response = client.post(f"/api/builds/definitions/{d.pk}/run/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "registry_not_allocated"
    with pytest.raises(errors.Invalid):
        actions.rebuild(first, user=world.developer)
    RegistryAllocation.objects.create(workspace=world.workspace, registry=f"{REGISTRY_HOST}/team-a")
    ClusterAllocation.objects.filter(workspace=world.workspace).delete()
    response = client.post(f"/api/builds/definitions/{d.pk}/run/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "cluster_not_allocated"
    with pytest.raises(errors.Invalid) as refused:  # a webhook is refused the same way
        actions.create_run(d, trigger=Trigger.WEBHOOK, user=None, ref="main", commit=SHA)
    assert refused.value.code == "cluster_not_allocated"
    assert list(BuildRun.objects.filter(definition=d)) == [first]
    assert BuildDefinition.objects.get(pk=d.pk).next_build_number == 2

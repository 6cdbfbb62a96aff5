"""The runs API (builds/api/runs.py): the history newest first and filtered, one run with its steps,
a step's kept log from a byte offset, cancel and rebuild with their grants, foreign runs 404."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from builds import run_actions
from builds.models import BuildDefinition, BuildRun, RunStatus, StepStatus
from builds.tests.runner_helpers import new_run, offline_definition
from portal.celery import app as celery_app
from portal.testing import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """The builds tasks sent by name (nothing runs them here)."""
    out: list[tuple[str, tuple[Any, ...]]] = []
    original = celery_app.send_task

    def send(name: str, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        if name.startswith("builds."):
            out.append((name, tuple(args or ())))
            return None
        return original(name, args, kwargs, **options)

    monkeypatch.setattr(celery_app, "send_task", send)
    return out


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_history_is_newest_first_filtered_and_paginated(sent: Any) -> None:
    definition, developer, viewer = offline_definition()
    other = BuildDefinition.objects.get(pk=definition.pk)
    other.pk, other.name = None, "other-app"
    other.save()
    runs = [new_run(definition, developer) for _ in range(3)]
    new_run(other, developer)
    run_actions.finish(runs[0].pk, status=RunStatus.FAILED, code="x", message="x")
    api = _client(viewer)
    body = api.get("/api/builds/runs/", {"definition": definition.pk}).json()
    assert [r["number"] for r in body["results"]] == [3, 2, 1]
    row = body["results"][2]
    assert row["definition"] == {"id": definition.pk, "name": definition.name}
    assert (row["status"], row["steps_total"], row["steps_done"]) == ("failed", 3, 0)
    assert row["image_repository"] == f"{definition.registry.host}/{definition.repository}"
    assert row["image_tag"] == "1.0.B000001"
    page = api.get("/api/builds/runs/", {"workspace": definition.workspace_id, "page_size": 2}).json()
    assert len(page["results"]) == 2
    assert page["next"]
    assert [r["number"] for r in api.get(page["next"]).json()["results"]] == [2, 1]
    queued = api.get("/api/builds/runs/", {"definition": str(definition.pk), "status": "queued"}).json()["results"]
    assert [r["number"] for r in queued] == [3, 2]
    bad = api.get("/api/builds/runs/", {"status": "nope"})
    assert bad.status_code == 400
    assert "status" in bad.json()["errors"]
    stranger = _client(make_user("stranger-runs"))
    assert stranger.get("/api/builds/runs/").json()["results"] == []
    assert stranger.get(f"/api/builds/runs/{runs[1].pk}/").status_code == 404


def test_a_run_with_its_steps_and_a_steps_log_from_an_offset(sent: Any) -> None:
    definition, developer, viewer = offline_definition()
    run = new_run(definition, developer)
    run_actions.update_step(run.pk, "clone", status=StepStatus.RUNNING)
    first, second = b"Cloning into '/workspace/src'...\n", "héllo\n".encode()
    run_actions.append_log(run.pk, "clone", first, read_to=len(first))
    run_actions.append_log(run.pk, "clone", second, read_to=len(first) + len(second))
    size = len(first) + len(second)
    api = _client(viewer)
    detail = api.get(f"/api/builds/runs/{run.pk}/").json()
    assert [(s["name"], s["position"], s["status"]) for s in detail["steps"]] == [
        ("clone", 1, "running"), ("build", 2, "pending"), ("scan", 3, "pending")]
    assert detail["steps"][0]["log_size"] == size
    log = api.get(f"/api/builds/runs/{run.pk}/steps/clone/log/").json()
    assert log == {"run": run.pk, "step": "clone", "offset": 0, "text": "Cloning into '/workspace/src'...\nhéllo\n",
                   "size": size, "truncated": False, "running": True}
    tail = api.get(f"/api/builds/runs/{run.pk}/steps/clone/log/", {"offset": len(first) + 2}).json()
    assert (tail["offset"], tail["text"]) == (len(first) + 1, "éllo\n"), "an offset inside a character starts at it"
    assert api.get(f"/api/builds/runs/{run.pk}/steps/deploy/log/").json()["code"] == "build_step_not_found"
    assert api.get(f"/api/builds/runs/{run.pk}/steps/clone/log/", {"offset": "-1"}).status_code == 400


def test_cancel_and_rebuild_need_builds_run(sent: Any) -> None:
    definition, developer, viewer = offline_definition()
    run = new_run(definition, developer)
    denied = _client(viewer).post(f"/api/builds/runs/{run.pk}/cancel/")
    assert denied.status_code == 403
    assert denied.json()["code"] == "grant_missing"
    assert _client(viewer).post(f"/api/builds/runs/{run.pk}/rebuild/").status_code == 403
    api = _client(developer)
    cancelled = api.post(f"/api/builds/runs/{run.pk}/cancel/")
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "cancelled"  # queued: at once
    assert api.post(f"/api/builds/runs/{run.pk}/cancel/").json()["code"] == "build_finished"
    rebuilt = api.post(f"/api/builds/runs/{run.pk}/rebuild/")
    assert rebuilt.status_code == 202
    assert (rebuilt.json()["number"], rebuilt.json()["trigger"]) == (2, "rebuild")
    assert BuildRun.objects.get(pk=rebuilt.json()["id"]).spec == BuildRun.objects.get(pk=run.pk).spec

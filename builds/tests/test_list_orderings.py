"""Server-side sorting and the status filter of the build definitions list (issue 20): by name and
last change in both directions across keyset pages, ``status`` by the newest run's status (or
``never``) so a dashboard tile can link to the failed builds, and 400s for an unknown status or
ordering."""

from __future__ import annotations

from typing import Any

import pytest

from builds.models import BuildDefinition, BuildRun
from builds.tests.definition_helpers import SentTasks, World, api_for, make_world


@pytest.fixture
def world(db: None) -> World:
    return make_world()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> SentTasks:
    return SentTasks(monkeypatch)


def walk(world: World, **params: Any) -> list[dict[str, Any]]:
    client = api_for(world.developer)
    response = client.get("/api/builds/definitions/", {"page_size": 2, "workspace": world.workspace.pk, **params})
    rows: list[dict[str, Any]] = []
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        rows.extend(body["results"])
        if not body["next"]:
            return rows
        response = client.get(body["next"])


def make(world: World, name: str) -> BuildDefinition:
    response = api_for(world.developer).post("/api/builds/definitions/", world.body(name=name), format="json")
    assert response.status_code == 201, response.content
    return BuildDefinition.objects.get(pk=response.json()["id"])


def run(world: World, definition: BuildDefinition, status: str) -> None:
    response = api_for(world.developer).post(f"/api/builds/definitions/{definition.pk}/run/", {}, format="json")
    assert response.status_code == 202, response.content
    BuildRun.objects.filter(pk=response.json()["id"]).update(status=status)


def test_definitions_sort_by_name_and_change_both_ways(world: World) -> None:
    made = [make(world, n) for n in ("web", "api", "db", "cache", "mail")]
    assert [r["name"] for r in walk(world, ordering="name")] == ["api", "cache", "db", "mail", "web"]
    assert [r["name"] for r in walk(world, ordering="-name")] == ["web", "mail", "db", "cache", "api"]
    made[2].save()  # `updated` moves on
    newest = walk(world, ordering="-updated")
    assert newest[0]["name"] == "db"
    assert [r["id"] for r in walk(world, ordering="updated")] == [r["id"] for r in newest][::-1]


def test_status_filters_by_the_newest_run(world: World, sent: SentTasks) -> None:
    web, api, _never_run = (make(world, n) for n in ("web", "api", "db"))
    run(world, web, "failed")
    run(world, api, "failed")
    run(world, api, "succeeded")  # the newest run counts
    assert [r["name"] for r in walk(world, status="failed", ordering="name")] == ["web"]
    assert [r["name"] for r in walk(world, status="succeeded")] == ["api"]
    assert [r["name"] for r in walk(world, status="never")] == ["db"]
    assert walk(world, status="failed")[0]["last_run"]["status"] == "failed"


def test_an_unknown_status_or_ordering_is_a_400(world: World) -> None:
    client = api_for(world.developer)
    response = client.get("/api/builds/definitions/", {"status": "exploded"})
    assert response.status_code == 400
    assert "never" in response.json()["errors"]["status"][0]
    response = client.get("/api/builds/definitions/", {"ordering": "-git_url"})
    assert response.status_code == 400
    assert "name, updated" in response.json()["errors"]["ordering"][0]

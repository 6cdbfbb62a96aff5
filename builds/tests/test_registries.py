"""Registries through the API against real registries: the built-in one (scripts/registry.sh) and
docker-registry servers started here (sandbox.testing.registry_server). Records, password
rotation, deletion rules, allocations and what members see, browsing real digests, sizes and
platforms, deleting tags, and bad input."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.signals import before_task_publish
from rest_framework.test import APIClient

from builds import registry_ops
from builds.models import BuildDefinition, Registry
from builds.tasks_registry import check_registry
from clusters.models import Cluster
from portal.testing import make_user, unique
from sandbox.testing import RegistryServer, registry_server
from workspaces.models import Membership, RegistryAllocation, Role, ServiceMap, Workspace

pytestmark = pytest.mark.django_db

BASE = "/api/builds/registries/"


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _member(workspace: Workspace, role: str = "developer") -> Any:
    Role.ensure_builtin()
    user = make_user(unique("dev"))
    Membership.objects.create(workspace=workspace, user=user, role=Role.objects.get(key=role))
    return user


@pytest.fixture
def published() -> Iterator[list[tuple[str, list[Any]]]]:
    """(task name, args) of every task this process publishes to the broker while the test runs
    (Celery's own before_task_publish signal: what a worker would receive, whoever consumes it)."""
    sent: list[tuple[str, list[Any]]] = []

    def record(sender: str | None = None, body: Any = None, **_: Any) -> None:
        sent.append((str(sender), list(body[0]) if isinstance(body, list | tuple) else []))

    before_task_publish.connect(record, weak=False)
    try:
        yield sent
    finally:
        before_task_publish.disconnect(record)  # type: ignore[attr-defined]  # missing from the stubs


@pytest.fixture
def external(tmp_path: Path) -> Iterator[RegistryServer]:
    """A second registry: HTTPS with its own CA and basic auth."""
    with registry_server(tmp_path / "ext", htpasswd_user="ext", password="ext-secret", tls=True) as server:
        yield server


def _create(admin_api: APIClient, server: RegistryServer, **extra: Any) -> dict[str, Any]:
    response = admin_api.post(BASE, {"name": unique("ext"), "kind": "harbor", "host": server.host,
                                     "ca_pem": server.ca_pem, "username": "ext", "password": "ext-secret", **extra},
                              format="json")
    assert response.status_code == 201, response.content
    return response.json()


# ---------------------------------------------------------------------------- records


def test_admin_creates_checks_rotates_and_deletes(admin_api: APIClient, external: RegistryServer,
                                                  django_capture_on_commit_callbacks: Callable[..., Any],
                                                  published: list[tuple[str, list[Any]]]) -> None:
    row = _create(admin_api, external)
    assert row["has_password"] is True
    assert row["has_ca"] is True
    assert row["status"] == "unknown"
    assert row["prefixes"] is None
    assert "password" not in row
    assert "ext-secret" not in json.dumps(row)
    check_registry(row["id"])
    assert admin_api.get(f"{BASE}{row['id']}/").json()["status"] == "ok"

    # A wrong password: the check says the registry refused, with the code.
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.patch(f"{BASE}{row['id']}/", {"password": "wrong"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "unknown"
    assert ("builds.rotate_pull_secrets", [row["id"]]) in published
    assert ("builds.check_registry", [row["id"]]) in published
    first_rotation = Registry.objects.get(pk=row["id"]).password_changed
    assert first_rotation is not None
    check_registry(row["id"])
    checked = admin_api.get(f"{BASE}{row['id']}/").json()
    assert checked["status"] == "error"
    assert checked["message_code"] == "registry_refused"
    assert checked["message_params"]["status"] == 401
    assert "wrong" not in checked["message"]

    # Rotating back: a new rotation time, and the check passes again.
    admin_api.patch(f"{BASE}{row['id']}/", {"password": "ext-secret"}, format="json")
    second_rotation = Registry.objects.get(pk=row["id"]).password_changed
    assert second_rotation is not None
    assert second_rotation > first_rotation
    check_registry(row["id"])
    assert admin_api.get(f"{BASE}{row['id']}/").json()["status"] == "ok"
    # Same description twice: no rotation.
    before = Registry.objects.get(pk=row["id"]).password_changed
    admin_api.patch(f"{BASE}{row['id']}/", {"description": "Harbor of team A"}, format="json")
    assert Registry.objects.get(pk=row["id"]).password_changed == before

    assert admin_api.delete(f"{BASE}{row['id']}/").status_code == 204
    assert not Registry.objects.filter(pk=row["id"]).exists()


def test_delete_refused_when_in_use_or_builtin(admin_api: APIClient, admin_user: Any, builtin_registry: Any) -> None:
    response = admin_api.delete(f"{BASE}{builtin_registry.pk}/")
    assert response.status_code == 409
    assert response.json()["code"] == "registry_builtin"
    response = admin_api.patch(f"{BASE}{builtin_registry.pk}/", {"password": "x"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "registry_builtin"
    response = admin_api.patch(f"{BASE}{builtin_registry.pk}/", {"description": "ours"}, format="json")
    assert response.status_code == 200
    assert response.json()["description"] == "ours"

    other = Registry.objects.create(name=unique("used"), host=f"{unique('used')}.example.com")
    workspace = Workspace.objects.create(name=unique("ws"))
    cluster = Cluster.objects.create(name=unique("c"), server="https://127.0.0.1:6443")
    service_map = ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=unique("ns"))
    BuildDefinition.objects.create(workspace=workspace, name="app", git_url="https://git.example.com/a.git",
                                   registry=other, repository="team/app", cluster=cluster, service_map=service_map)
    response = admin_api.delete(f"{BASE}{other.pk}/")
    assert response.status_code == 409
    assert response.json()["code"] == "registry_in_use"
    assert response.json()["params"]["count"] == 1


def test_only_admins_write(user_api: APIClient, operator_user: Any, builtin_registry: Any) -> None:
    assert user_api.post(BASE, {"name": "x", "host": "r.example.com"}, format="json").status_code == 403
    operator = _client(operator_user)
    assert operator.get(f"{BASE}{builtin_registry.pk}/").status_code == 200
    assert operator.patch(f"{BASE}{builtin_registry.pk}/", {"description": "x"}, format="json").status_code == 403
    assert operator.post(f"{BASE}{builtin_registry.pk}/check/").status_code == 403
    # Operators read every repository but delete none (refused before the query is even read).
    assert operator.delete(f"{BASE}{builtin_registry.pk}/tags/").status_code == 403
    assert operator.get(f"{BASE}{builtin_registry.pk}/tags/").status_code == 400
    workspace = Workspace.objects.create(name=unique("ws"))
    response = operator.post(f"{BASE}{builtin_registry.pk}/allocations/", {"workspace": workspace.pk}, format="json")
    assert response.status_code == 403
    # A member of no workspace holding it does not see it at all.
    assert user_api.get(f"{BASE}{builtin_registry.pk}/").status_code == 404
    assert builtin_registry.pk not in [r["id"] for r in user_api.get(BASE).json()]


@pytest.mark.parametrize(("host", "code"), [
    ("169.254.169.254", "address_not_allowed"),
    ("[::ffff:169.254.169.254]:5000", "address_not_allowed"),
    ("0xa9fea9fe", "address_not_allowed"),
    ("https://registry.example.com", "invalid"),
    ("registry.example.com/team-a", "invalid"),
    ("registry.example.com:99999", "invalid"),
    ("bad host", "invalid"),
])
def test_bad_hosts_are_refused(admin_api: APIClient, host: str, code: str) -> None:
    response = admin_api.post(BASE, {"name": unique("bad"), "host": host}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert "host" in response.json()["errors"]
    assert not Registry.objects.filter(host__contains="169.254").exists()


def test_bad_inputs(admin_api: APIClient, builtin_registry: Any) -> None:
    response = admin_api.post(BASE, {"name": "Not_DNS", "host": "r.example.com"}, format="json")
    assert response.status_code == 400
    response = admin_api.post(BASE, {"name": unique("r"), "host": "r.example.com", "kind": "builtin"}, format="json")
    assert response.status_code == 400
    response = admin_api.post(BASE, {"name": unique("r"), "host": "r.example.com", "ca_pem": "nope"}, format="json")
    assert response.status_code == 400
    assert "ca_pem" in response.json()["errors"]
    response = admin_api.post(BASE, {"name": unique("r"), "host": builtin_registry.host}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "registry_exists"
    response = admin_api.post(BASE, {"name": unique("r"), "host": "INDEX.docker.io"}, format="json")
    assert response.status_code == 201
    assert response.json()["host"] == "docker.io"
    assert admin_api.get(f"{BASE}{builtin_registry.pk}/repositories/").status_code == 200
    response = admin_api.get(f"{BASE}{builtin_registry.pk}/tags/", {"repository": "../etc"})
    assert response.status_code == 400
    response = admin_api.post(f"{BASE}{builtin_registry.pk}/allocations/", {"workspace": 0, "prefix": "Bad Prefix"},
                              format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"workspace", "prefix"}


def test_unreachable_and_refusing_registries(admin_api: APIClient, external: RegistryServer,
                                             tmp_path: Path) -> None:
    # Nothing listens: 503 registry_unavailable, from the API and in the check's status.
    with registry_server(tmp_path / "gone") as gone:
        host = gone.host
    row = admin_api.post(BASE, {"name": unique("gone"), "host": host, "plain_http": True}, format="json").json()
    response = admin_api.get(f"{BASE}{row['id']}/repositories/")
    assert response.status_code == 503
    assert response.json()["code"] == "registry_unavailable"
    check_registry(row["id"])
    assert Registry.objects.get(pk=row["id"]).message_code == "registry_unavailable"
    # Wrong password: 502 registry_refused.
    wrong = _create(admin_api, external, password="nope")
    response = admin_api.get(f"{BASE}{wrong['id']}/repositories/")
    assert response.status_code == 502
    assert response.json()["code"] == "registry_refused"
    assert "nope" not in response.content.decode()
    # Its own CA not given: TLS verification fails, said so.
    untrusted = admin_api.post(BASE, {"name": unique("tls"), "host": f"localhost:{external.host.split(':')[1]}",
                                      "username": "ext", "password": "ext-secret"}, format="json").json()
    response = admin_api.get(f"{BASE}{untrusted['id']}/repositories/")
    assert response.status_code == 503
    assert "TLS verification" in response.json()["detail"]


# ---------------------------------------------------------------------------- allocations and browsing


def test_members_see_only_their_prefixes(admin_api: APIClient, builtin_pusher: Any, builtin_registry: Any) -> None:
    ours, theirs = unique("reg-a"), unique("reg-b")
    pushed = builtin_pusher.image(f"{ours}/web", "1.0.0", labels={"team": "a"})
    builtin_pusher.image(f"{theirs}/web", "1.0.0")
    team_a, team_b = Workspace.objects.create(name=unique("a")), Workspace.objects.create(name=unique("b"))
    response = admin_api.post(f"{BASE}{builtin_registry.pk}/allocations/", {"workspace": team_a.pk, "prefix": ours},
                              format="json")
    assert response.status_code == 201, response.content
    assert response.json()["prefix"] == ours
    assert RegistryAllocation.objects.get(pk=response.json()["id"]).registry == f"{builtin_registry.host}/{ours}"
    response = admin_api.post(f"{BASE}{builtin_registry.pk}/allocations/", {"workspace": team_b.pk, "prefix": theirs},
                              format="json")
    theirs_allocation = response.json()["id"]
    row = admin_api.get(f"{BASE}{builtin_registry.pk}/").json()
    assert {(a["workspace"]["id"], a["prefix"]) for a in row["allocations"]} >= {(team_a.pk, ours),
                                                                              (team_b.pk, theirs)}

    alice = _client(_member(team_a))
    rows = alice.get(BASE).json()
    assert [r["id"] for r in rows] == [builtin_registry.pk]
    assert rows[0]["prefixes"] == [ours]
    assert rows[0]["allocations"] == []
    names = [r["name"] for r in alice.get(f"{BASE}{builtin_registry.pk}/repositories/").json()["results"]]
    assert names == [f"{ours}/web"]
    assert alice.get(f"{BASE}{builtin_registry.pk}/repositories/", {"search": "nothing-like-it"}).json()[
        "results"] == []
    tags = alice.get(f"{BASE}{builtin_registry.pk}/tags/", {"repository": f"{ours}/web"}).json()
    assert tags["image"] == f"{builtin_registry.host}/{ours}/web"
    assert tags["truncated"] is False
    [one] = tags["results"]
    assert one["tag"] == "1.0.0"
    assert one["digest"] == pushed["digest"]
    assert one["size"] == pushed["size"]
    assert one["platforms"] == [{"os": "linux", "architecture": "amd64", "variant": ""}]
    assert one["created"].startswith("2026-01-02T03:04:05")
    assert one["scan"] is None
    assert one["media_type"] == "application/vnd.oci.image.manifest.v1+json"
    info = registry_ops.image_info(builtin_registry, f"{ours}/web", "1.0.0")
    assert info.labels == {"team": "a"}
    # Another workspace's repository: 404, whether or not it exists; deleting it too.
    for repository in (f"{theirs}/web", f"{theirs}/missing"):
        response = alice.get(f"{BASE}{builtin_registry.pk}/tags/", {"repository": repository})
        assert response.status_code == 404
        assert response.json()["code"] == "repository_not_found"
    response = alice.delete(f"{BASE}{builtin_registry.pk}/tags/?repository={theirs}/web&tag=1.0.0")
    assert response.status_code == 404
    # A viewer of team A sees the tag but may not delete it.
    viewer = _client(_member(team_a, role="viewer"))
    assert viewer.get(f"{BASE}{builtin_registry.pk}/tags/", {"repository": f"{ours}/web"}).status_code == 200
    assert viewer.delete(f"{BASE}{builtin_registry.pk}/tags/?repository={ours}/web&tag=1.0.0").status_code == 403
    # Unallocating takes it away.
    assert admin_api.delete(f"{BASE}{builtin_registry.pk}/allocations/{theirs_allocation}/").status_code == 204
    assert admin_api.delete(f"{BASE}{builtin_registry.pk}/allocations/{theirs_allocation}/").status_code == 404
    bob = _client(_member(team_b))
    assert bob.get(f"{BASE}{builtin_registry.pk}/").status_code == 404


def test_index_shows_platforms_and_summed_size(admin_api: APIClient, builtin_pusher: Any,
                                               builtin_registry: Any) -> None:
    repository = f"{unique('multi')}/app"
    pushed = builtin_pusher.index(repository, "2.0")
    tags = admin_api.get(f"{BASE}{builtin_registry.pk}/tags/", {"repository": repository}).json()["results"]
    by_tag = {t["tag"]: t for t in tags}
    assert set(by_tag) == {"2.0", "2.0-amd64", "2.0-arm64"}
    index = by_tag["2.0"]
    assert index["digest"] == pushed["digest"]
    assert index["media_type"] == "application/vnd.oci.image.index.v1+json"
    assert index["size"] == pushed["size"]
    assert index["platforms"] == [{"os": "linux", "architecture": "amd64", "variant": ""},
                                  {"os": "linux", "architecture": "arm64", "variant": "v8"}]
    assert index["created"].startswith("2026-01-03")  # the newest of its images
    assert tags[0]["tag"] in ("2.0", "2.0-arm64")  # newest first


def test_delete_tag(admin_api: APIClient, builtin_pusher: Any, builtin_registry: Any) -> None:
    repository = f"{unique('del')}/app"
    workspace = Workspace.objects.create(name=unique("ws"))
    admin_api.post(f"{BASE}{builtin_registry.pk}/allocations/",
                   {"workspace": workspace.pk, "prefix": repository.split("/")[0]}, format="json")
    builtin_pusher.image(repository, "1", content=b"one")
    builtin_pusher.image(repository, "2", content=b"two")
    developer = _client(_member(workspace))
    response = developer.delete(f"{BASE}{builtin_registry.pk}/tags/?repository={repository}&tag=1")
    assert response.status_code == 204, response.content
    tags = developer.get(f"{BASE}{builtin_registry.pk}/tags/", {"repository": repository}).json()["results"]
    assert [t["tag"] for t in tags] == ["2"]
    response = developer.delete(f"{BASE}{builtin_registry.pk}/tags/?repository={repository}&tag=1")
    assert response.status_code == 404  # the tag is not there: the caller's 404, not a failing registry
    assert response.json()["code"] == "registry_not_found"
    # The record says no: 409 before asking the registry.
    admin_api.patch(f"{BASE}{builtin_registry.pk}/", {"allow_delete": False}, format="json")
    response = developer.delete(f"{BASE}{builtin_registry.pk}/tags/?repository={repository}&tag=2")
    assert response.status_code == 409
    assert response.json()["code"] == "registry_delete_unsupported"
    admin_api.patch(f"{BASE}{builtin_registry.pk}/", {"allow_delete": True}, format="json")


def test_delete_refused_by_the_registry(admin_api: APIClient, tmp_path: Path, make_pusher: Any) -> None:
    data = tmp_path / "nodelete" / "data"
    with registry_server(tmp_path / "nodelete", htpasswd_user="u", password="p", extra_config={
            "storage": {"filesystem": {"rootdirectory": str(data)}, "delete": {"enabled": False}}}) as server:
        make_pusher(server.url, ("u", "p"), True).image("team/app", "1")
        row = admin_api.post(BASE, {"name": unique("nd"), "host": server.host, "plain_http": True, "username": "u",
                                    "password": "p"}, format="json").json()
        response = admin_api.delete(f"{BASE}{row['id']}/tags/?repository=team/app&tag=1")
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "registry_delete_unsupported"
        assert response.json()["params"]["status"] == 405
        tags = admin_api.get(f"{BASE}{row['id']}/tags/", {"repository": "team/app"}).json()["results"]
        assert [t["tag"] for t in tags] == ["1"]


def test_tag_pages_are_capped(builtin_pusher: Any, builtin_registry: Any) -> None:
    repository = f"{unique('cap')}/app"
    same = builtin_pusher.image(repository, "a", content=b"same")
    builtin_pusher.image(repository, "b", content=b"same")  # the same image under another tag
    builtin_pusher.image(repository, "c", content=b"other")
    found, truncated = registry_ops.tags(builtin_registry, repository, limit=2)
    assert truncated is True
    assert sorted(t.tag for t in found) == ["b", "c"]
    found, truncated = registry_ops.tags(builtin_registry, repository)
    assert truncated is False
    assert {t.tag: t.image.digest for t in found}["a"] == same["digest"]
    assert {t.tag: t.image.digest for t in found}["b"] == same["digest"]
    found, truncated = registry_ops.tags(builtin_registry, repository, budget=0)
    assert (found, truncated) == ([], True)


def test_whole_registry_allocation(admin_api: APIClient, external: RegistryServer, make_pusher: Any) -> None:
    make_pusher(external.url, external.auth, external.verify).image("anything/app", "1")
    row = _create(admin_api, external)
    workspace = Workspace.objects.create(name=unique("all"))
    response = admin_api.post(f"{BASE}{row['id']}/allocations/", {"workspace": workspace.pk}, format="json")
    assert response.status_code == 201
    assert response.json()["prefix"] == ""
    again = admin_api.post(f"{BASE}{row['id']}/allocations/", {"workspace": workspace.pk, "prefix": ""}, format="json")
    assert again.status_code == 409
    member = _client(_member(workspace, role="viewer"))
    assert member.get(f"{BASE}{row['id']}/").json()["prefixes"] == [""]
    assert member.get(f"{BASE}{row['id']}/repositories/").json()["results"] == [{"name": "anything/app"}]
    # Deleting the registry takes its allocations with it.
    assert admin_api.delete(f"{BASE}{row['id']}/").status_code == 204
    assert not RegistryAllocation.objects.filter(workspace=workspace).exists()

"""Build definitions through the API (docs/builds.md "Definitions"): who may create, change,
delete and run them, every bad input a 400 naming the field with a stable code and nothing
written, secrets stored encrypted and never shown (the webhook secret once, in the answer that
made it), the presets and the tag schemes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from builds import presets, tags
from builds.models import BuildDefinition, BuildRun, Registry, RunStatus
from builds.tests.definition_helpers import GIT_URL, REGISTRY_HOST, World, api_for, make_world
from catalog.models import CatalogSource, Package, PackageVersion, Release, SourceKind
from clusters.models import Cluster
from portal.models import AuditRecord
from portal.testing import make_user
from workspaces.models import Membership, Role, ServiceMap

pytestmark = pytest.mark.django_db

PASSWORD = "s3cret-git-token"


@pytest.fixture
def world() -> World:
    return make_world()


def create(world: World, **overrides: Any) -> Any:
    return api_for(world.developer).post("/api/builds/definitions/", world.body(**overrides), format="json")


def created(world: World, **overrides: Any) -> dict[str, Any]:
    response = create(world, **overrides)
    assert response.status_code == 201, response.content
    return dict(response.json())


def release_in(world: World, name: str = "shop") -> Release:
    source = CatalogSource.objects.create(name=f"up-{name}-{world.workspace.pk}", kind=SourceKind.UPLOAD,
                                          workspace=world.workspace)
    package = Package.objects.create(source=source, name="shop")
    version = PackageVersion.objects.create(package=package, version="1.0.0", archive=b"", digest="sha256:1",
                                            values_yaml="image: nginx\n", values_schema={})
    return Release.objects.create(workspace=world.workspace, service_map=world.service_map, name=name,
                                  package_version=version)


# ---------------------------------------------------------------------------- presets and tags


def test_presets_are_single_stage_templates_with_their_build_args(world: World) -> None:
    response = api_for(world.viewer).get("/api/builds/presets/")
    assert response.status_code == 200
    body = response.json()
    assert [p["key"] for p in body] == ["java-maven", "java-gradle", "nodejs", "python", "go"]
    for preset in body:
        lines = preset["dockerfile"].splitlines()
        base = preset["build_args"]["BASE_IMAGE"]
        assert lines[0] == f"ARG BASE_IMAGE={base}", preset["key"]
        assert lines[1] == "FROM ${BASE_IMAGE}", preset["key"]
        assert sum(line.startswith("FROM ") for line in lines) == 1, "single-stage: the sandbox's RUN makes no layer"
        for name in preset["build_args"]:  # every editable argument is declared in the template
            assert any(line.startswith(f"ARG {name}=") for line in lines), (preset["key"], name)
    assert api_for(world.viewer).get("/api/builds/presets/").json() == [p.as_dict() for p in presets.PRESETS]


def test_presets_need_a_signed_in_user() -> None:
    from rest_framework.test import APIClient

    assert APIClient().get("/api/builds/presets/").status_code in (401, 403)


def test_tag_schemes_and_name_rules() -> None:
    assert tags.version_build_tag("1.0", 5) == "1.0.B000005"
    assert tags.version_build_tag("2.3.1", 1234567) == "2.3.1.B1234567"
    assert tags.git_sha_tag("0123456789ABCDEF0123456789abcdef01234567") == "0123456"
    assert tags.git_sha_tag("") == ""
    assert tags.git_sha_tag("not-a-sha") == ""
    assert tags.version_problem("1.0") is None
    assert tags.version_problem("v2_rc-1") is None
    for bad in ("", "1.0 beta", "-1", ".1", "1/0", "x" * 65):
        assert tags.version_problem(bad), bad
    assert tags.repository_problem("team-a/shop-api") is None
    assert tags.repository_problem("team-a/a.b__c") is None
    for bad in ("", "Team-A/shop", "team-a//shop", "/shop", "shop/", "team a/shop", "-shop", "a" * 256):
        assert tags.repository_problem(bad), bad


# ---------------------------------------------------------------------------- create, read, change, delete


def test_a_developer_creates_a_definition_and_no_secret_comes_back(world: World) -> None:
    body = created(world, git_username="ci", git_password=PASSWORD, preset="python", description="the shop",
                   resources={"limits": {"cpu": "2", "memory": "2Gi"}}, trigger_refs=["refs/heads/main"])
    assert body["workspace"] == {"id": world.workspace.pk, "name": world.workspace.name}
    assert body["registry"] == {"id": world.registry.pk, "name": world.registry.name, "host": REGISTRY_HOST}
    assert body["image"] == f"{REGISTRY_HOST}/team-a/shop"
    assert body["cluster"]["id"] == world.cluster.pk
    assert body["service_map"] == {"id": world.service_map.pk, "namespace": world.service_map.namespace}
    assert body["build_args"] == presets.default_build_args("python")  # a preset brings its defaults
    assert body["has_git_password"] is True
    assert body["git_username"] == "ci"
    assert body["tag_scheme"] == "version-build"
    assert body["version"] == "1.0"
    assert body["next_build_number"] == 1
    assert body["last_run"] is None
    assert body["webhook_enabled"] is False
    assert "webhook_secret" not in body
    assert body["webhook_url"] == f"http://testserver/api/builds/webhooks/{body['id']}/"
    assert body["permissions"] == {"change": True, "run": True}
    assert body["resources"] == {"limits": {"cpu": "2", "memory": "2Gi"}}
    assert PASSWORD not in json.dumps(body)
    assert "encrypted" not in json.dumps(body)
    definition = BuildDefinition.objects.get(pk=body["id"])
    assert definition.get_git_password() == PASSWORD
    assert PASSWORD not in definition.git_password_encrypted
    assert definition.created_by_id == world.developer.pk
    assert AuditRecord.objects.filter(action="build.definition.create", target_id=str(definition.pk)).exists()
    assert not AuditRecord.objects.filter(detail__icontains=PASSWORD).exists()

    listed = api_for(world.viewer).get(f"/api/builds/definitions/?workspace={world.workspace.pk}").json()
    assert [row["id"] for row in listed["results"]] == [definition.pk]
    row = listed["results"][0]
    assert row["permissions"] == {"change": False, "run": False}
    assert PASSWORD not in json.dumps(listed)
    assert api_for(world.viewer).get(f"/api/builds/definitions/{definition.pk}/").json()["name"] == "shop"


def test_the_webhook_secret_is_shown_once_by_the_answer_that_made_it(world: World) -> None:
    body = created(world, webhook_enabled=True)
    secret = body["webhook_secret"]
    assert len(secret) >= 40
    definition = BuildDefinition.objects.get(pk=body["id"])
    assert definition.get_webhook_secret() == secret
    assert secret not in definition.webhook_secret_encrypted
    client = api_for(world.developer)
    assert "webhook_secret" not in client.get(f"/api/builds/definitions/{definition.pk}/").json()
    assert secret not in json.dumps(client.get("/api/builds/definitions/").json())

    rotated = client.post(f"/api/builds/definitions/{definition.pk}/webhook-secret/")
    assert rotated.status_code == 200
    new = rotated.json()["webhook_secret"]
    assert new != secret
    assert BuildDefinition.objects.get(pk=definition.pk).get_webhook_secret() == new

    off = client.patch(f"/api/builds/definitions/{definition.pk}/", {"webhook_enabled": False}, format="json")
    assert off.status_code == 200
    assert "webhook_secret" not in off.json()
    assert BuildDefinition.objects.get(pk=definition.pk).webhook_secret_encrypted == ""
    refused = client.post(f"/api/builds/definitions/{definition.pk}/webhook-secret/")
    assert refused.status_code == 409
    assert refused.json()["code"] == "webhook_disabled"
    on = client.patch(f"/api/builds/definitions/{definition.pk}/", {"webhook_enabled": True}, format="json")
    assert on.status_code == 200
    again = on.json()["webhook_secret"]
    assert again not in (secret, new)
    assert BuildDefinition.objects.get(pk=definition.pk).get_webhook_secret() == again


def test_a_viewer_reads_but_may_not_create_change_run_or_delete(world: World) -> None:
    definition_id = created(world)["id"]
    viewer = api_for(world.viewer)
    refusals = [
        viewer.post("/api/builds/definitions/", world.body(name="other"), format="json"),
        viewer.patch(f"/api/builds/definitions/{definition_id}/", {"description": "x"}, format="json"),
        viewer.post(f"/api/builds/definitions/{definition_id}/run/", {}, format="json"),
        viewer.post(f"/api/builds/definitions/{definition_id}/webhook-secret/"),
        viewer.delete(f"/api/builds/definitions/{definition_id}/"),
    ]
    for response in refusals:
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "grant_missing"
        assert response.json()["params"] == {"workspace": world.workspace.name, "grant": "builds.run"}
    assert BuildDefinition.objects.filter(workspace=world.workspace).count() == 1
    assert not BuildRun.objects.exists()


def test_outsiders_do_not_see_definitions(world: World) -> None:
    definition_id = created(world)["id"]
    stranger = api_for(make_user("stranger"))
    assert stranger.get(f"/api/builds/definitions/{definition_id}/").status_code == 404
    assert stranger.get("/api/builds/definitions/").json()["results"] == []
    assert stranger.post(f"/api/builds/definitions/{definition_id}/run/", {}, format="json").status_code == 404
    response = stranger.post("/api/builds/definitions/", world.body(name="mine"), format="json")
    assert response.status_code == 400
    assert "workspace" in response.json()["errors"]


def _bad_inputs(world: World) -> list[tuple[dict[str, Any], str, str]]:
    elsewhere = Registry.objects.create(name="elsewhere", host="other.example.com")
    lonely = Cluster.objects.create(name="lonely", server="https://127.0.0.1:6999", status="ready")
    orphan_map = ServiceMap.objects.create(workspace=world.workspace, cluster=lonely, namespace="orphan",
                                           status="ready")
    return [
        ({"repository": "Team-A/Shop"}, "repository", "repository_invalid"),
        ({"repository": "team-a//shop"}, "repository", "repository_invalid"),
        ({"repository": "team-b/shop"}, "repository", "repository_outside_allocation"),
        ({"registry": elsewhere.pk}, "registry", "registry_not_allocated"),
        ({"registry": 987654}, "registry", "registry_not_allocated"),
        ({"version": "1.0 beta"}, "version", "version_invalid"),
        ({"version": "-1"}, "version", "version_invalid"),
        ({"git_url": "ssh://git@127.0.0.1/team-a/shop.git"}, "git_url", "invalid_host"),
        ({"git_url": "file:///etc/passwd"}, "git_url", "invalid_host"),
        ({"git_url": "https://ci:pw@127.0.0.1/team-a/shop.git"}, "git_url", "invalid_host"),
        ({"git_url": "http://169.254.169.254/latest/meta-data.git"}, "git_url", "address_not_allowed"),
        ({"git_url": "http://[::ffff:a9fe:a9fe]/x.git"}, "git_url", "address_not_allowed"),
        ({"git_url": "https://127.0.0.1/x.git?upload-pack=x"}, "git_url", "invalid_host"),
        ({"git_ref": "--upload-pack=touch /tmp/x"}, "git_ref", "git_ref_invalid"),
        ({"git_ref": "main..dev"}, "git_ref", "git_ref_invalid"),
        ({"dockerfile_path": "../Dockerfile"}, "dockerfile_path", "path_outside_context"),
        ({"dockerfile_path": "/etc/Dockerfile"}, "dockerfile_path", "path_outside_context"),
        ({"context_dir": "app/../../other"}, "context_dir", "path_outside_context"),
        ({"context_dir": "C:\\src"}, "context_dir", "path_outside_context"),
        ({"cluster": world.other_cluster.pk}, "cluster", "cluster_not_allocated"),
        ({"cluster": lonely.pk, "service_map": orphan_map.pk}, "cluster", "cluster_not_allocated"),
        ({"cluster": 987654}, "cluster", "cluster_not_allocated"),
        ({"service_map": world.other_map.pk}, "service_map", "service_map_mismatch"),
        ({"service_map": orphan_map.pk}, "service_map", "service_map_mismatch"),
        ({"build_args": {"1BAD": "x"}}, "build_args", "build_args_invalid"),
        ({"build_args": {"GOOD": "two\nlines"}}, "build_args", "build_args_invalid"),
        ({"resources": {"limits": {"cpu": "lots"}}}, "resources.limits.cpu", "quantity_invalid"),
        ({"cache_size": "huge"}, "cache_size", "quantity_invalid"),
        ({"trigger_refs": ["main"]}, "trigger_refs", "trigger_refs_invalid"),
        ({"git_password": "a\nb"}, "git_password", "git_credentials_invalid"),
        ({"git_username": "ci\nusername=root"}, "git_username", "git_credentials_invalid"),
        ({"deploy_image_path": "image..tag"}, "deploy_image_path", "deploy_image_path_invalid"),
    ]


def test_every_bad_input_is_a_400_naming_the_field_and_nothing_is_written(world: World) -> None:
    for overrides, field, code in _bad_inputs(world):
        response = create(world, **overrides)
        assert response.status_code == 400, (overrides, response.content)
        body = response.json()
        assert body["code"] == code, (overrides, body)
        assert field in body["errors"], (overrides, body)
        assert PASSWORD not in json.dumps(body)
    assert not BuildDefinition.objects.exists()
    assert not AuditRecord.objects.filter(action="build.definition.create").exists()


def test_a_bad_change_leaves_the_definition_as_it_was(world: World) -> None:
    definition_id = created(world, description="before")["id"]
    client = api_for(world.developer)
    for overrides, field, code in _bad_inputs(world):
        response = client.patch(f"/api/builds/definitions/{definition_id}/", {"description": "after", **overrides},
                                format="json")
        assert response.status_code == 400, (overrides, response.content)
        assert response.json()["code"] == code, (overrides, response.content)
        assert field in response.json()["errors"]
    definition = BuildDefinition.objects.get(pk=definition_id)
    assert definition.description == "before"
    assert definition.repository == "team-a/shop"
    assert definition.cluster_id == world.cluster.pk
    assert definition.git_url == GIT_URL


def test_serializer_refusals_name_the_field(world: World) -> None:
    for overrides, field in (({"name": "Shop!"}, "name"), ({"preset": "cobol"}, "preset"),
                             ({"tag_scheme": "date"}, "tag_scheme"), ({"builder": "kaniko"}, "builder"),
                             ({"timeout_seconds": 5}, "timeout_seconds"), ({"colour": "red"}, "colour"),
                             ({"git_url": "x" * 501}, "git_url")):
        response = create(world, **overrides)
        assert response.status_code == 400, (overrides, response.content)
        assert field in response.json()["errors"], (overrides, response.content)
    assert not BuildDefinition.objects.exists()


def test_names_are_unique_in_a_workspace(world: World) -> None:
    created(world)
    response = create(world, repository="team-a/shop2")
    assert response.status_code == 400
    assert response.json()["code"] == "definition_name_taken"
    assert "name" in response.json()["errors"]
    other = created(world, name="shop-2")
    response = api_for(world.developer).patch(f"/api/builds/definitions/{other['id']}/", {"name": "shop"},
                                              format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "definition_name_taken"


def test_changes_apply_what_is_given(world: World) -> None:
    body = created(world, git_password=PASSWORD, preset="go")
    client = api_for(world.developer)
    url = f"/api/builds/definitions/{body['id']}/"
    response = client.patch(url, {"git_ref": "release/1.2", "repository": "team-a/shop/api", "version": "2.1",
                                  "build_args": {"GO_PACKAGE": "./cmd/shop"}, "dockerfile_path": "./docker//Dockerfile",
                                  "tag_scheme": "git-sha"}, format="json")
    assert response.status_code == 200, response.content
    row = response.json()
    assert row["git_ref"] == "release/1.2"
    assert row["image"] == f"{REGISTRY_HOST}/team-a/shop/api"
    assert row["build_args"] == {"GO_PACKAGE": "./cmd/shop"}
    assert row["dockerfile_path"] == "docker/Dockerfile"
    assert row["version"] == "2.1"
    assert row["tag_scheme"] == "git-sha"
    assert row["has_git_password"] is True
    assert AuditRecord.objects.filter(action="build.definition.update", target_id=str(body["id"])).exists()
    cleared = client.patch(url, {"git_password": ""}, format="json").json()
    assert cleared["has_git_password"] is False
    assert BuildDefinition.objects.get(pk=body["id"]).git_password_encrypted == ""


def test_a_deploy_step_needs_workloads_deploy_in_the_release_workspace(world: World) -> None:
    release = release_in(world)
    body = created(world, deploy_release=release.pk, deploy_image_path="web.image")
    assert body["deploy_release"] == {"id": release.pk, "name": release.name, "service_map_id": world.service_map.pk}
    builder_role = Role.objects.create(key="builder", name="Builder", grants=["builds.run"])
    builder = make_user("builder-only")
    Membership.objects.create(workspace=world.workspace, user=builder, role=builder_role)
    client = api_for(builder)
    response = client.post("/api/builds/definitions/", world.body(name="deploys", deploy_release=release.pk),
                           format="json")
    assert response.status_code == 403
    assert response.json()["params"]["grant"] == "workloads.deploy"
    plain = client.post("/api/builds/definitions/", world.body(name="plain"), format="json")
    assert plain.status_code == 201, plain.content
    # running a definition that deploys needs the grant too
    refused = client.post(f"/api/builds/definitions/{body['id']}/run/", {}, format="json")
    assert refused.status_code == 403
    assert refused.json()["params"]["grant"] == "workloads.deploy"
    assert not BuildRun.objects.filter(definition_id=body["id"]).exists()
    assert BuildDefinition.objects.get(pk=body["id"]).next_build_number == 1

    other = make_world()
    foreign = release_in(other, "theirs")
    response = create(world, name="foreign", deploy_release=foreign.pk)
    assert response.status_code == 400
    assert response.json()["code"] == "deploy_release_invalid"


def test_delete_waits_for_running_builds(world: World) -> None:
    definition_id = created(world)["id"]
    client = api_for(world.developer)
    run = client.post(f"/api/builds/definitions/{definition_id}/run/", {}, format="json").json()
    response = client.delete(f"/api/builds/definitions/{definition_id}/")
    assert response.status_code == 409
    assert response.json()["code"] == "build_running"
    BuildRun.objects.filter(pk=run["id"]).update(status=RunStatus.FAILED)
    assert client.delete(f"/api/builds/definitions/{definition_id}/").status_code == 204
    assert not BuildDefinition.objects.filter(pk=definition_id).exists()
    assert not BuildRun.objects.exists()
    assert AuditRecord.objects.filter(action="build.definition.delete", detail__id=definition_id).exists()


def test_the_list_filters_by_workspace_and_pages(world: World) -> None:
    for name in ("a-shop", "b-shop", "c-shop"):
        created(world, name=name)
    other = make_world()
    Membership.objects.create(workspace=other.workspace, user=world.developer, role=Role.objects.get(key="viewer"))
    created(other, name="elsewhere")
    client = api_for(world.developer)
    everything = client.get("/api/builds/definitions/?page_size=2").json()
    assert [r["name"] for r in everything["results"]] == ["a-shop", "b-shop"]
    assert everything["next"]
    rest = client.get(everything["next"]).json()
    assert [r["name"] for r in rest["results"]] == ["c-shop", "elsewhere"]
    mine = client.get(f"/api/builds/definitions/?workspace={world.workspace.pk}").json()["results"]
    assert [r["name"] for r in mine] == ["a-shop", "b-shop", "c-shop"]
    theirs = client.get(f"/api/builds/definitions/?workspace={other.workspace.pk}").json()["results"]
    assert [(r["name"], r["permissions"]["run"]) for r in theirs] == [("elsewhere", False)]
    assert client.get("/api/builds/definitions/?workspace=x").status_code == 400


def test_plain_http_git_outside_development_is_for_admins(world: World, settings: Any) -> None:
    settings.PORTAL_ENV = "production"
    response = create(world)
    assert response.status_code == 400
    assert response.json()["code"] == "git_plain_http_refused"
    assert "git_url" in response.json()["errors"]
    assert create(world, git_url="https://127.0.0.1:9/team-a/shop.git").status_code == 201
    admin = make_user("builds-admin", role="admin")
    response = api_for(admin).post("/api/builds/definitions/", world.body(name="by-admin"), format="json")
    assert response.status_code == 201, response.content

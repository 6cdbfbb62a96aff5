"""A cluster or service map a build definition builds on is not deleted from under it: the delete
is refused with a 409 that names the definitions (before issue 13's review it was a 500 from the
database layer, and a service map whose namespace was gone stayed ``deleting`` for ever). And a
definition's 400s never name a cluster or registry the workspace does not hold."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from builds.models import BuildDefinition, Registry
from builds.tests.definition_helpers import api_for, make_world
from clusters.models import Cluster
from portal.testing import make_user
from workspaces import actions as ws_actions
from workspaces.models import ServiceMap

pytestmark = pytest.mark.django_db


def _definition(world: Any) -> BuildDefinition:
    response = api_for(world.developer).post("/api/builds/definitions/", world.body(name="guarded"), format="json")
    assert response.status_code == 201, response.content
    return BuildDefinition.objects.get(pk=response.json()["id"])


def test_deleting_a_cluster_a_definition_builds_on_is_a_409_naming_it() -> None:
    world = make_world()
    _definition(world)
    admin = APIClient()
    admin.force_authenticate(make_user("guard-admin", role="admin"))
    response = admin.delete(f"/api/clusters/{world.cluster.pk}/")
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "cluster_in_use"
    assert "guarded" in body["params"]["objects"]
    assert Cluster.objects.filter(pk=world.cluster.pk).exists()
    assert ServiceMap.objects.filter(pk=world.service_map.pk).exists()


def test_deleting_a_service_map_a_definition_builds_in_is_a_409_and_changes_nothing() -> None:
    world = make_world()
    _definition(world)
    response = api_for(world.manager).delete(
        f"/api/workspaces/{world.workspace.pk}/servicemaps/{world.service_map.pk}/")
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "servicemap_in_use"
    world.service_map.refresh_from_db()
    assert world.service_map.status == "ready"
    # Once the definition is gone the service map may go.
    BuildDefinition.objects.filter(workspace=world.workspace).delete()
    response = api_for(world.manager).delete(
        f"/api/workspaces/{world.workspace.pk}/servicemaps/{world.service_map.pk}/")
    assert response.status_code == 202, response.content


def test_a_namespace_gone_under_a_used_service_map_keeps_the_row_with_a_message() -> None:
    world = make_world()
    _definition(world)
    ServiceMap.objects.filter(pk=world.service_map.pk).update(status="deleting")
    world.service_map.refresh_from_db()
    ws_actions.service_map_deleted(world.service_map)
    world.service_map.refresh_from_db()
    assert world.service_map.message_code == "servicemap_in_use"


def test_definition_errors_name_no_cluster_or_registry_the_workspace_does_not_hold() -> None:
    world = make_world()
    foreign = Registry.objects.create(name="foreign-secret-name", host="foreign.example.com")
    response = api_for(world.developer).post(
        "/api/builds/definitions/", world.body(cluster=world.other_cluster.pk), format="json")
    assert response.status_code == 400
    assert world.other_cluster.name not in response.content.decode()
    response = api_for(world.developer).post(
        "/api/builds/definitions/", world.body(registry=foreign.pk, repository="x/y"), format="json")
    assert response.status_code == 400
    assert "foreign-secret-name" not in response.content.decode()

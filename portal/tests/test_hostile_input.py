"""Hostile shapes of input answer 400 with a message on every endpoint, as a property of the stack
(issue 11, finding 6): deep JSON bodies (the parser), NUL in the URL (a middleware), deep YAML (the
shared loader in :mod:`portal.yamlsafe`), deep cursors. Before these, each was a 500."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from rest_framework.test import APIClient

from clusters.models import Cluster
from portal import yamlsafe
from portal.api import parsers
from portal.testing import make_user
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

pytestmark = pytest.mark.django_db


def deep_json(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def deep_list_json(levels: int) -> str:
    return "[" * levels + "]" * levels


def deep_yaml(levels: int) -> str:
    return "a: " + "[" * levels + "]" * levels + "\n"


@pytest.fixture
def shop(admin_user: Any) -> ServiceMap:
    workspace = Workspace.objects.create(name="team-h", display_name="Team H", created_by=admin_user)
    cluster = Cluster.objects.create(name="hostile-1", server="https://127.0.0.1:9")
    ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, status="ready", quota={})
    return ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace="shop", quota={}, status="ready")


def _assert_400(response: Any, *words: str) -> dict[str, Any]:
    assert response.status_code == 400, (response.status_code, response.content[:500])
    body: dict[str, Any] = response.json()
    assert body["detail"], body
    text = str(body).lower()
    for word in words:
        assert word in text, body
    return body


# ---------------------------------------------------------------------------- JSON bodies


@pytest.mark.parametrize("levels", [101, 1_000, 5_000, 50_000])
def test_deeply_nested_json_is_a_400_even_for_anonymous_login(api: APIClient, levels: int) -> None:
    for body in (deep_json(levels), deep_list_json(levels)):
        response = api.post("/api/auth/login/", body, content_type="application/json")
        _assert_400(response, "nested more than 100 levels")


def test_deeply_nested_json_is_a_400_on_every_kind_of_json_endpoint(admin_api: APIClient, shop: ServiceMap) -> None:
    body = deep_json(2_000)
    wid, sid = shop.workspace_id, shop.pk
    for method, url in [("post", "/api/workspaces/"), ("patch", f"/api/workspaces/{wid}/"),
                        ("post", f"/api/workspaces/{wid}/servicemaps/{sid}/preflight/"),
                        ("post", "/api/clusters/"), ("post", "/api/clusters/kubeconfig-contexts/"),
                        ("post", "/api/catalog/sources/"), ("post", "/api/auth/password/")]:
        response = getattr(admin_api, method)(url, body, content_type="application/json")
        _assert_400(response, "nested more than 100 levels")
    # a value nested within the limit is still accepted by the parser (the view then judges it)
    shallow = admin_api.post(f"/api/workspaces/{wid}/servicemaps/{sid}/preflight/",
                             '{"manifests": [' + deep_json(50) + "]}", content_type="application/json")
    assert shallow.status_code == 400
    assert "nested" not in str(shallow.json())


def test_nul_in_a_json_string_is_a_400_not_a_database_error(admin_api: APIClient) -> None:
    response = admin_api.post("/api/workspaces/", {"name": "nul", "display_name": "a\x00b"}, format="json")
    _assert_400(response, "nul character")
    assert not Workspace.objects.filter(name="nul").exists()


def test_bounded_loads_for_json_the_code_parses_itself() -> None:
    assert parsers.loads('{"a": [1, 2]}') == {"a": [1, 2]}
    for text in (deep_json(101), deep_list_json(100_000)):
        with pytest.raises(ValueError, match="nested more than 100"):
            parsers.loads(text)


def test_a_deeply_nested_cursor_is_a_400(admin_api: APIClient) -> None:
    cursor = base64.urlsafe_b64encode(deep_list_json(5_000).encode()).decode().rstrip("=")
    response = admin_api.get("/api/clusters/", {"cursor": cursor})
    _assert_400(response, "cursor")


# ---------------------------------------------------------------------------- the URL


def test_nul_in_a_query_parameter_is_a_400_on_every_list_endpoint(shop: ServiceMap) -> None:
    admin = make_user("nul-admin", role="admin")
    manager = make_user("nul-manager")
    Membership.objects.create(workspace=shop.workspace, user=manager, role=Role.objects.get(key="manager"))
    wid = shop.workspace_id
    for user, url, param in [(admin, "/api/workspaces/", "q"), (admin, "/api/workspaces/servicemaps/", "q"),
                             (admin, f"/api/workspaces/{wid}/servicemaps/", "q"),
                             (admin, "/api/catalog/packages/", "q"), (admin, "/api/catalog/releases/", "q"),
                             (manager, f"/api/workspaces/{wid}/members/candidates/", "q"),
                             (admin, "/api/catalog/sources/", "kind"), (admin, "/api/clusters/", "search")]:
        client = APIClient()
        client.force_authenticate(user)
        for value in ("a\x00b", "\x00"):
            _assert_400(client.get(url, {param: value}), "nul character")
        ok = client.get(url, {param: "plain"})
        assert ok.status_code == 200, (url, ok.content[:300])
    anonymous = APIClient().get("/api/workspaces/?q=%00")
    _assert_400(anonymous, "nul character")


def test_control_characters_in_the_path_are_a_400(admin_api: APIClient) -> None:
    for path in ("/api/workspaces/%00/", "/api/workspaces/1%0d%0aX-Injected:%201/", "/api/clusters/%7f/"):
        _assert_400(admin_api.get(path), "control character")


# ---------------------------------------------------------------------------- YAML


@pytest.mark.parametrize("levels", [101, 5_000, 100_000])
def test_deeply_nested_yaml_in_preflight_is_a_400(admin_api: APIClient, shop: ServiceMap, levels: int) -> None:
    url = f"/api/workspaces/{shop.workspace_id}/servicemaps/{shop.pk}/preflight/"
    for text in (deep_yaml(levels), "".join("  " * i + "k:\n" for i in range(min(levels, 1_000)))):
        body = _assert_400(admin_api.post(url, {"yaml": text}, format="json"), "nested more than 100 levels")
        assert "yaml" in body["errors"], body


def test_deeply_nested_or_aliased_kubeconfig_is_a_400(admin_api: APIClient) -> None:
    url = "/api/clusters/kubeconfig-contexts/"
    body = _assert_400(admin_api.post(url, {"kubeconfig": deep_yaml(5_000)}, format="json"), "nested more than")
    assert "kubeconfig" in body["errors"]
    body = _assert_400(admin_api.post(url, {"kubeconfig": "a: &x [1]\nb: *x\n"}, format="json"), "alias")


def test_the_shared_loader_bounds_depth_nodes_and_aliases_in_both_modes() -> None:
    for fast in (False, True):
        assert yamlsafe.load("a: {b: [1, 2]}\n", fast=fast) == {"a": {"b": [1, 2]}}
        assert yamlsafe.load_all("a: 1\n---\n---\nb: 2\n", fast=fast) == [{"a": 1}, None, {"b": 2}]
        for levels in (101, 100_000):  # libyaml alone segfaults the process at 100,000
            with pytest.raises(yamlsafe.YamlError, match="nested more than 100 levels deep at line 1"):
                yamlsafe.load(deep_yaml(levels), fast=fast)
        bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"a{i}: &a{i} [{', '.join([f'*a{i - 1}' if i > 1 else '*a'] * 10)}]\n" for i in range(1, 7))
        with pytest.raises(yamlsafe.YamlError, match="too large once its aliases are expanded"):
            yamlsafe.load(bomb, fast=fast)
        with pytest.raises(yamlsafe.YamlError, match="alias"):
            yamlsafe.load("a: &x 1\nb: *x\n", allow_aliases=False, fast=fast)
        with pytest.raises(yamlsafe.YamlError, match="not valid YAML at line 2"):
            yamlsafe.load("a: [1\n", fast=fast)
        with pytest.raises(yamlsafe.YamlError, match="one YAML document"):
            yamlsafe.load("a: 1\n---\nb: 2\n", fast=fast)


# ---------------------------------------------------------------------------- found by tests/test_parser_fuzzing.py


def test_wrongly_typed_manifest_fields_are_a_400_naming_the_field(admin_api: APIClient, shop: ServiceMap) -> None:
    url = f"/api/workspaces/{shop.workspace_id}/servicemaps/{shop.pk}/preflight/"
    for manifest, field in [({"kind": "Pod", "metadata": True}, "metadata must be an object"),
                            ({"kind": "Pod", "spec": "x"}, "spec must be an object"),
                            ({"kind": "Deployment", "spec": {"template": {"spec": {"containers": 3}}}},
                             "spec.template.spec.containers must be a list of objects"),
                            ({"kind": "Pod", "spec": {"containers": [{"resources": {"limits": {"cpu": [1]}}}]}},
                             "spec.containers[0].resources.limits.cpu must be a quantity"),
                            ({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"replicas": "2"}}}},
                             "spec.jobTemplate.spec.replicas must be an integer")]:
        body = _assert_400(admin_api.post(url, {"manifests": [manifest]}, format="json"))
        assert any(field in m for m in body["errors"]["manifests.0"]), body


def test_kubeconfig_names_of_the_wrong_type_are_a_400(admin_api: APIClient) -> None:
    from clusters.kube.connection import spec_from_kubeconfig
    from clusters.kube.errors import InvalidConnection

    base = ("apiVersion: v1\nkind: Config\nclusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
            "users: [{name: u, user: {exec: [1]}}]\n")
    for text, message in [(base + "contexts: [{name: c, context: {cluster: k, user: u}}]\ncurrent-context: [c]\n",
                           "current-context must be"),
                          (base + "contexts: [{name: c, context: {cluster: [k], user: u}}]\ncurrent-context: c\n",
                           "must name a cluster and a user"),
                          (base + "contexts: [{name: c, context: {cluster: k, user: u}}]\ncurrent-context: c\n",
                           "exec plugin (?)")]:
        with pytest.raises(InvalidConnection, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
            spec_from_kubeconfig(text)
    listed = admin_api.post("/api/clusters/kubeconfig-contexts/", {"kubeconfig": (
        "apiVersion: v1\nkind: Config\nclusters: 3\ncontexts: [{name: c, context: {cluster: [k]}}]\n")}, format="json")
    assert listed.status_code == 200, listed.content
    assert listed.json()["contexts"] == [{"name": "c", "cluster": "['k']", "server": "", "user": ""}]


def test_a_values_schema_with_a_malformed_required_still_gives_a_form() -> None:
    from catalog import helm

    info = helm.ChartInfo(name="c", version="1.0.0", app_version="", description="", icon="", keywords=[], home="",
                          values_yaml="", values={}, schema={"properties": {"a": {"type": "string"}}, "required": True},
                          readme="")
    assert [f["path"] for f in helm.values_form(info)] == ["a"]


def test_a_chart_rendering_wrongly_typed_fields_is_refused_in_the_plan_not_a_500() -> None:
    from catalog import helm

    with pytest.raises(helm.ChartError, match=r"x\.yaml renders Pod p, which the API server would refuse: "
                                              r"spec must be an object"):
        helm._objects({"templates/x.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: x\n"})

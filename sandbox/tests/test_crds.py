"""CustomResourceDefinitions: served at once, printed with their columns, validated by their schema;
Table responses with paging; and the real kubectl (get crd, get <custom>, api-resources) as judge."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from sandbox.crds import jsonpath
from sandbox.tests.helpers import Raw

KUBECTL = shutil.which("kubectl")
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com", "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wg"]},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "subresources": {"status": {}},
            "additionalPrinterColumns": [
                {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
                {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
            ],
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "required": ["size"], "properties": {
                    "size": {"type": "integer"},
                    "color": {"type": "string", "enum": ["red", "blue"]},
                    "tags": {"type": "array", "items": {"type": "string"}}}},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}},
        }],
    },
}


def widget(name: str, size: Any = 3, color: str = "red", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name, "labels": {"tier": color}},
            "spec": {"size": size, "color": color, **extra}}


@pytest.fixture(scope="module")
def crd(raw: Raw) -> dict[str, Any]:
    status, body, _ = raw.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
    assert status == 201, body
    raw.request("POST", "/api/v1/namespaces", {"metadata": {"name": "crd-test"}})
    return dict(body)


def test_crd_is_established_and_served_in_discovery(raw: Raw, crd: dict[str, Any]) -> None:
    conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conds == {"NamesAccepted": "True", "Established": "True"}
    assert crd["status"]["acceptedNames"]["listKind"] == "WidgetList"
    _, groups, _ = raw.request("GET", "/apis")
    assert {"groupVersion": "example.com/v1", "version": "v1"} in [
        v for g in groups["groups"] for v in g["versions"]]
    status, group, _ = raw.request("GET", "/apis/example.com")
    assert status == 200
    assert group["preferredVersion"]["groupVersion"] == "example.com/v1"
    _, rl, _ = raw.request("GET", "/apis/example.com/v1")
    names = {r["name"]: r for r in rl["resources"]}
    assert names["widgets"]["namespaced"] is True
    assert names["widgets"]["kind"] == "Widget"
    assert names["widgets"]["shortNames"] == ["wg"]
    assert "widgets/status" in names


def test_custom_resources_created_listed_and_printed(raw: Raw, crd: dict[str, Any]) -> None:
    base = "/apis/example.com/v1/namespaces/crd-test/widgets"
    for i in range(3):
        status, body, _ = raw.request("POST", base, widget(f"w{i}", size=i + 1, color="red" if i else "blue",
                                                           junk="pruned"))
        assert status == 201, body
        assert "junk" not in body["spec"], "unknown fields are pruned as by a structural schema"
    status, body, _ = raw.request("PUT", f"{base}/w0/status", {**widget("w0", size=1, color="blue"), "status": {
        "conditions": [{"type": "Ready", "status": "True"}]}})
    assert status == 200, body
    status, table, _ = raw.request("GET", base, headers={"Accept": TABLE})
    assert status == 200
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Color", "Ready", "Age"]
    rows = {r["cells"][0]: r["cells"] for r in table["rows"]}
    assert rows["w0"][1:4] == [1, "blue", "True"]
    assert rows["w1"][1:4] == [2, "red", None]
    assert rows["w0"][4].endswith("s"), "date columns are printed as an age"
    # paging and selectors work on custom resources as on built-in ones
    status, page, _ = raw.request("GET", f"{base}?limit=2", headers={"Accept": TABLE})
    assert len(page["rows"]) == 2
    assert page["metadata"]["continue"]
    status, rest, _ = raw.request("GET", f"{base}?limit=2&continue={page['metadata']['continue']}",
                                  headers={"Accept": TABLE})
    assert [r["cells"][0] for r in rest["rows"]] == ["w2"]
    _, sel, _ = raw.request("GET", f"{base}?labelSelector=tier%3Dblue")
    assert [o["metadata"]["name"] for o in sel["items"]] == ["w0"]
    assert sel["kind"] == "WidgetList"
    _, everywhere, _ = raw.request("GET", "/apis/example.com/v1/widgets")
    assert len(everywhere["items"]) == 3


def test_schema_validation_is_a_422_like_the_apiserver(raw: Raw, crd: dict[str, Any]) -> None:
    base = "/apis/example.com/v1/namespaces/crd-test/widgets"
    status, body, _ = raw.request("POST", base, widget("bad", size="big", color="pink"))
    assert status == 422
    assert body["reason"] == "Invalid"
    assert body["message"] == ('Widget.example.com "bad" is invalid: [spec.size: Invalid value: "big": spec.size '
                               'in body must be of type integer: "string", spec.color: Unsupported value: "pink": '
                               'supported values: "red", "blue"]')
    assert {c["field"] for c in body["details"]["causes"]} == {"spec.size", "spec.color"}
    missing = widget("nosize")
    del missing["spec"]["size"]
    status, body, _ = raw.request("POST", base, missing)
    assert status == 422
    assert body["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.size"}]
    status, _, _ = raw.request("POST", base, widget("tags", tags=["a", 1]))
    assert status == 422


def test_bad_crd_is_refused_and_deleting_it_removes_its_objects(raw: Raw, crd: dict[str, Any]) -> None:
    bad = copy.deepcopy(CRD)
    bad["metadata"]["name"] = "gadgets.example.com"
    bad["spec"]["scope"] = "Somewhere"
    status, body, _ = raw.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", bad)
    assert status == 422
    assert "spec.scope" in body["message"]
    assert "metadata.name" in body["message"]
    cluster_crd = copy.deepcopy(CRD)
    cluster_crd["metadata"]["name"] = "gizmos.example.org"
    cluster_crd["spec"].update(group="example.org", scope="Cluster",
                               names={"plural": "gizmos", "kind": "Gizmo"})
    cluster_crd["spec"]["versions"][0]["additionalPrinterColumns"] = []
    assert raw.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", cluster_crd)[0] == 201
    status, body, _ = raw.request("POST", "/apis/example.org/v1/gizmos",
                                  {"apiVersion": "example.org/v1", "kind": "Gizmo", "metadata": {"name": "g1"},
                                   "spec": {"size": 1}})
    assert status == 201, body
    _, table, _ = raw.request("GET", "/apis/example.org/v1/gizmos", headers={"Accept": TABLE})
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert raw.request("GET", "/apis/example.org/v1/namespaces/x/gizmos")[0] == 404
    assert raw.request("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.example.org")[0] \
        == 200
    assert raw.request("GET", "/apis/example.org/v1/gizmos")[0] == 404
    assert raw.request("GET", "/apis/example.org")[0] == 404


def test_builtin_tables_page(raw: Raw) -> None:
    for i in range(3):
        raw.request("POST", "/api/v1/namespaces/crd-test/configmaps",
                    {"metadata": {"name": f"cm{i}"}, "data": {"a": "1", "b": "2"}})
    status, page, _ = raw.request("GET", "/api/v1/namespaces/crd-test/configmaps?limit=2",
                                  headers={"Accept": TABLE})
    assert status == 200
    assert [c["name"] for c in page["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert len(page["rows"]) == 2
    assert page["metadata"]["continue"]


def test_jsonpath_subset() -> None:
    obj = {"a": {"b": [{"t": "x", "v": 1}, {"t": "y", "v": 2}]}}
    assert jsonpath(obj, ".a.b[1].v") == [2]
    assert jsonpath(obj, '.a.b[?(@.t=="y")].v') == [2]
    assert jsonpath(obj, ".a.b[*].t") == ["x", "y"]
    assert jsonpath(obj, ".a.missing") == []


@pytest.mark.kubectl
@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine; fidelity test not run")
def test_kubectl_sees_crds_and_custom_resources(cluster: Any, crd: dict[str, Any], raw: Raw,
                                                tmp_path: Path) -> None:
    def kubectl(*args: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {"KUBECONFIG": str(cluster.kubeconfig), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
        return subprocess.run([str(KUBECTL), *args], capture_output=True, text=True, env=env, input=input_text,
                              timeout=60)

    out = kubectl("get", "crd")
    assert out.returncode == 0, out.stderr
    assert "widgets.example.com" in out.stdout, out.stderr
    out = kubectl("apply", "-f", "-", input_text=json.dumps({**widget("kw", size=7), "metadata": {
        "name": "kw", "namespace": "crd-test"}}))
    assert out.returncode == 0, out.stderr
    out = kubectl("get", "widgets", "-n", "crd-test")
    assert out.returncode == 0, out.stderr
    header, *lines = out.stdout.splitlines()
    assert header.split() == ["NAME", "SIZE", "COLOR", "READY", "AGE"]
    assert any(line.split()[:3] == ["kw", "7", "red"] for line in lines)
    assert kubectl("get", "wg", "kw", "-n", "crd-test", "-o", "name").stdout.strip() == "widget.example.com/kw"
    out = kubectl("api-resources", "--api-group=example.com")
    assert out.returncode == 0, out.stderr
    assert "widgets" in out.stdout, out.stderr
    assert "Widget" in out.stdout, out.stderr
    bad = kubectl("apply", "-f", "-", input_text=json.dumps({**widget("kbad", size="x"), "metadata": {
        "name": "kbad", "namespace": "crd-test"}}))
    assert bad.returncode != 0
    assert "must be of type integer" in bad.stderr


def test_aggregated_discovery_lists_builtin_and_custom_kinds(raw: Raw, crd: dict[str, Any]) -> None:
    accept = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
    status, body, headers = raw.request("GET", "/apis", headers={"Accept": accept})
    assert status == 200
    assert headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert body["kind"] == "APIGroupDiscoveryList"
    groups = {g["metadata"].get("name"): g for g in body["items"]}
    widgets = next(r for r in groups["example.com"]["versions"][0]["resources"] if r["resource"] == "widgets")
    assert widgets["scope"] == "Namespaced"
    assert widgets["responseKind"] == {"group": "", "version": "", "kind": "Widget"}
    assert widgets["subresources"][0]["subresource"] == "status"
    deployments = next(r for r in groups["apps"]["versions"][0]["resources"] if r["resource"] == "deployments")
    assert {s["subresource"]: s["responseKind"]["kind"] for s in deployments["subresources"]} == {
        "status": "Deployment", "scale": "Scale"}
    _, core, _ = raw.request("GET", "/api", headers={"Accept": accept.replace("v=v2;", "v=v2beta1;", 1)})
    assert core["apiVersion"] == "apidiscovery.k8s.io/v2beta1"
    assert [g["metadata"].get("name", "") for g in core["items"]] == [""]
    _, legacy, _ = raw.request("GET", "/apis")
    assert legacy["kind"] == "APIGroupList", "without the Accept header the legacy document is served"


def test_deleting_a_namespace_deletes_its_custom_resources(raw: Raw, crd: dict[str, Any]) -> None:
    assert raw.request("POST", "/api/v1/namespaces", {"metadata": {"name": "crd-gone"}})[0] == 201
    assert raw.request("POST", "/apis/example.com/v1/namespaces/crd-gone/widgets", widget("doomed"))[0] == 201
    assert raw.request("DELETE", "/api/v1/namespaces/crd-gone")[0] == 200
    deadline = time.monotonic() + 10
    while raw.request("GET", "/api/v1/namespaces/crd-gone")[0] != 404:
        assert time.monotonic() < deadline, "the namespace was never removed"
        time.sleep(0.1)
    assert raw.request("GET", "/apis/example.com/v1/namespaces/crd-gone/widgets/doomed")[0] == 404

"""The pure rules of editing objects (clusters/objects.py), on the shapes kube-apiserver sends:
a 409 apply conflict's Status (one and several managers), a 422's causes placed on the lines of
the submitted YAML (list items by index and by key), documents and their lines, the edit view,
and a Secret's values masked in the diff and taken back from live when left masked."""

from __future__ import annotations

import pytest

from clusters import objects, owners
from portal import errors

# As kube-apiserver 1.30 answers an unforced apply that meets kubectl's fields.
CONFLICT = {
    "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409,
    "message": 'Apply failed with 2 conflicts: conflicts with "kubectl-edit" using apps/v1:\n- .spec.replicas\n'
               '- .spec.template.spec.containers[name="web"].image',
    "details": {"name": "web", "group": "apps", "kind": "deployments", "causes": [
        {"type": "FieldManagerConflict", "message": 'conflict with "kubectl-edit" using apps/v1',
         "field": ".spec.replicas"},
        {"type": "FieldManagerConflict", "message": 'conflict with "kubectl-edit" using apps/v1',
         "field": '.spec.template.spec.containers[name="web"].image'}]},
}

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: -1
  template:
    spec:
      containers:
      - name: side
        image: side:1
      - name: web
        image: ""
"""


def test_conflicts_name_each_field_and_its_manager() -> None:
    assert objects.conflicts(CONFLICT) == [
        {"field": ".spec.replicas", "manager": "kubectl-edit", "message": 'conflict with "kubectl-edit" using apps/v1'},
        {"field": '.spec.template.spec.containers[name="web"].image', "manager": "kubectl-edit",
         "message": 'conflict with "kubectl-edit" using apps/v1'}]
    # No causes (an older server): the manager from the message.
    bare = {"kind": "Status", "code": 409, "message": 'Apply failed with 1 conflict: conflict with "helm" using v1: '
                                                      ".data.mode"}
    assert objects.conflicts(bare)[0]["manager"] == "helm"


def test_a_422s_causes_land_on_the_lines_of_the_yaml() -> None:
    status = {"kind": "Status", "code": 422, "message": "Deployment.apps \"web\" is invalid", "details": {"causes": [
        {"reason": "FieldValueInvalid", "message": "Invalid value: -1: must be greater than or equal to 0",
         "field": "spec.replicas"},
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.template.spec.containers[1].image"},
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"}]}}
    causes = objects.invalid_causes(status, "invalid", text=DEPLOYMENT)
    assert [(c["field"], c["line"]) for c in causes] == [
        ("spec.replicas", 7), ("spec.template.spec.containers[1].image", 14),
        ("spec.selector", 6)]  # a field that is not there: the deepest part that is (spec)
    assert objects.line_of(DEPLOYMENT, 'spec.template.spec.containers[name="web"].image') == 14
    assert objects.line_of("a: 1\n---\nkind: X\nspec:\n  replicas: 2\n", "spec.replicas", document=1) == 5


def test_documents_their_lines_and_what_is_refused() -> None:
    text = "# leading comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n" \
           "apiVersion: v1\nkind: Secret\nmetadata:\n  name: b\n"
    docs = objects.parse_documents(text, many=True)
    assert [(d.index, d.line, d.kind, d.name, d.is_secret) for d in docs] == [
        (0, 3, "ConfigMap", "a", False), (1, 8, "Secret", "b", True)]
    with pytest.raises(errors.Invalid) as one:
        objects.parse_one(text)
    assert one.value.code == "multiple_documents"
    for bad, line in (("apiVersion: 3\nkind: X\nmetadata: {name: a}\n", 1), ("apiVersion: v1\nkind: X\nmetadata: {}\n", 1),
                      ("apiVersion: v1\nkind: X\nmetadata:\n  name: a\n  labels: {a: [}\n", 5),
                      ("a: " + "[" * 200 + "]" * 200, 1)):
        with pytest.raises(errors.Invalid) as refused:
            objects.parse_one(bad)
        assert refused.value.code == "yaml_invalid"
        assert refused.value.params["lines"][0]["line"] == line


def test_the_edit_view_and_identity() -> None:
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "a", "namespace": "shop", "uid": "u", "resourceVersion": "9", "generation": 2,
        "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{"manager": "kubectl", "operation": "Update"}]},
        "data": {"k": "v"}, "status": {"x": 1}}
    assert objects.clean(live) == {"apiVersion": "v1", "kind": "ConfigMap",
                                   "metadata": {"name": "a", "namespace": "shop"}, "data": {"k": "v"}}
    assert objects.managers(live)[0]["manager"] == "kubectl"
    doc = objects.parse_one("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: w}\n")
    # A missing namespace takes the URL's.
    assert objects.check_identity(doc, api_version="v1", kind="ConfigMap", name="a",
                                  namespace="shop")["metadata"]["namespace"] == "shop"
    for kwargs, code in (({"name": "b"}, "name_changed"), ({"kind": "Secret"}, "kind_changed"),
                         ({"api_version": "v2"}, "api_version_changed")):
        with pytest.raises(errors.Invalid) as refused:
            objects.check_identity(doc, **{"api_version": "v1", "kind": "ConfigMap", "name": "a", "namespace": "shop",
                                           **kwargs})
        assert refused.value.code == code
    moved = objects.parse_one("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: other}\n")
    with pytest.raises(errors.Invalid) as refused:
        objects.check_identity(moved, api_version="v1", kind="ConfigMap", name="a", namespace="shop")
    assert refused.value.code == "namespace_changed"


def test_the_edit_view_starts_with_apiversion_kind_and_metadata_as_kubectl_edit_shows_it() -> None:
    # A server (or a list) may give the type last, or not at all: the editor still starts with it.
    live = {"metadata": {"name": "web", "namespace": "shop", "uid": "u"}, "spec": {"replicas": 2},
            "data": {"k": "v"}, "status": {"x": 1}, "kind": "Deployment", "apiVersion": "apps/v1"}
    shown = objects.edit_yaml(live)
    assert shown.splitlines()[:3] == ["apiVersion: apps/v1", "kind: Deployment", "metadata:"]
    assert list(objects.clean(live)) == ["apiVersion", "kind", "metadata", "spec", "data"]  # the rest keeps its order
    bare = {"metadata": {"name": "web"}, "spec": {"replicas": 2}}
    assert objects.edit_yaml(bare, api_version="apps/v1", kind="Deployment").startswith(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n")
    # the type and metadata moved elsewhere make no diff
    assert objects.diff(live, {k: live[k] for k in ("kind", "status", "spec", "apiVersion", "data", "metadata")}) == ""


def test_an_edit_may_leave_apiversion_and_kind_out_but_a_create_may_not() -> None:
    text = "metadata:\n  name: web\nspec:\n  replicas: 3\n"
    doc = objects.parse_one(text)
    obj = objects.check_identity(doc, api_version="apps/v1", kind="Deployment", name="web", namespace="shop")
    assert list(obj)[:3] == ["apiVersion", "kind", "metadata"]
    assert (obj["apiVersion"], obj["kind"], obj["metadata"]["namespace"]) == ("apps/v1", "Deployment", "shop")
    # the type at the end is the same edit
    moved = objects.parse_one("metadata: {name: web}\nspec: {replicas: 3}\nkind: Deployment\napiVersion: apps/v1\n")
    assert objects.check_identity(moved, api_version="apps/v1", kind="Deployment", name="web",
                                  namespace="shop") == obj
    # given, they must still be the URL's, and strings
    with pytest.raises(errors.Invalid) as refused:
        objects.check_identity(objects.parse_one("kind: StatefulSet\n" + text), api_version="apps/v1",
                               kind="Deployment", name="web", namespace="shop")
    assert refused.value.code == "kind_changed"
    with pytest.raises(errors.Invalid) as refused:
        objects.parse_one("kind: ''\n" + text)
    assert refused.value.code == "yaml_invalid"
    # a create has no URL to name the type
    with pytest.raises(errors.Invalid) as refused:
        objects.parse_documents(text, many=True)
    assert refused.value.code == "yaml_invalid"
    assert "apiVersion" in refused.value.message


def test_the_release_label_names_a_release_id_only_when_it_is_a_number() -> None:
    assert owners.release_id({owners.RELEASE_LABEL: "12"}) == 12
    for value in ("x", "", "-3", "0", "1e3", "١٢", "9" * 30, None):
        assert owners.release_id({owners.RELEASE_LABEL: value}) is None, value
    assert owners.release_id(None) is None


def test_secret_values_are_masked_and_taken_back_from_live() -> None:
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "annotations": {
        objects.LAST_APPLIED: '{"data":{"p":"c2VjcmV0"}}'}}, "data": {"p": "c2VjcmV0", "q": "cQ=="}}
    shown = objects.edit_yaml(live)
    assert "c2VjcmV0" not in shown
    assert "cQ==" not in shown
    assert "p: (hidden)" in shown
    submitted = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                 "data": {"p": "(hidden)", "q": "bmV3"}, "stringData": {"r": "typed"}}
    assert objects.unmask_secret(submitted, live)["data"] == {"p": "c2VjcmV0", "q": "bmV3"}
    with pytest.raises(errors.Invalid):
        objects.unmask_secret({**submitted, "data": {"new": "(hidden)"}}, live)
    result = {**live, "data": {"p": "c2VjcmV0", "q": "bmV3"}}
    diff = objects.diff(live, result, name="s")
    assert "c2VjcmV0" not in diff
    assert "bmV3" not in diff
    assert "+  q: (hidden, changed)" in diff
    assert "-  q: (hidden)" in diff
    assert objects.LAST_APPLIED not in diff  # the annotation carries the values in clear

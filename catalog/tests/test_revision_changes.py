"""Issue 22: a revision says which objects it changed, and whether a changed ConfigMap reached the
pods that use it (a template that did not change rolls nothing)."""

from __future__ import annotations

from typing import Any

import yaml

from catalog.deploy import REVISION_ANNOTATION
from catalog.revision_changes import revision_changes


def _manifest(*, message: str, image: str, revision: int, with_service: bool = True) -> str:
    def meta(name: str) -> dict[str, Any]:
        return {"name": name, "namespace": "shop", "annotations": {REVISION_ANNOTATION: str(revision)}}

    pod = {"containers": [{"name": "web", "image": image, "envFrom": [{"configMapRef": {"name": "shop-config"}}]}]}
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("shop-config"), "data": {"message": message}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("shop-web"),
         "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": pod}}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("other"),
         "spec": {"template": {"spec": {"containers": [{"name": "x", "image": "busybox"}]}}}},
    ]
    if with_service:
        objects.append({"apiVersion": "v1", "kind": "Service", "metadata": meta("shop-web"), "spec": {"ports": []}})
    return "".join("---\n" + yaml.safe_dump(o) for o in objects)


def test_a_config_only_change_says_its_users_were_not_restarted() -> None:
    one = _manifest(message="안녕", image="nginx:1.27", revision=1)
    two = _manifest(message="반갑습니다", image="nginx:1.27", revision=2)  # only the ConfigMap, and the stamp
    assert revision_changes(one, two, revision_annotation=REVISION_ANNOTATION) == [
        {"object": "ConfigMap/shop-config", "change": "changed",
         "users": [{"workload": "Deployment/shop-web", "restarted": False}]},
    ]


def test_a_template_change_restarts_and_objects_come_and_go() -> None:
    one = _manifest(message="a", image="nginx:1.27", revision=1)
    two = _manifest(message="b", image="nginx:1.28", revision=2, with_service=False)
    assert revision_changes(one, two, revision_annotation=REVISION_ANNOTATION) == [
        {"object": "ConfigMap/shop-config", "change": "changed",
         "users": [{"workload": "Deployment/shop-web", "restarted": True}]},
        {"object": "Deployment/shop-web", "change": "changed"},
        {"object": "Service/shop-web", "change": "removed"},
    ]
    first = revision_changes(None, one, revision_annotation=REVISION_ANNOTATION)
    assert {c["change"] for c in first} == {"added"}
    assert len(first) == 4

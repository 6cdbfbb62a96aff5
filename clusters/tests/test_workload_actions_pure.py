"""The pure half of workload actions (clusters/workload_patches.py), without a cluster: the
patches match what kubectl sends, the revision kubectl would pick, bounds and type-to-confirm,
and the ownership walk behind "what does deleting this take with it"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from clusters import workload_patches as wp
from portal import errors


def test_replicas_bounds() -> None:
    assert wp.check_replicas(0, maximum=10) == 0
    assert wp.check_replicas(7, maximum=10) == 7
    assert wp.check_replicas(10, maximum=10) == 10
    bad_values: list[Any] = [-1, 11, "x", "7", None, 1.5, True, [], "-3"]
    for bad in bad_values:
        with pytest.raises(errors.Invalid) as caught:
            wp.check_replicas(bad, maximum=10)
        assert caught.value.code == "replicas_invalid"
        assert caught.value.params == {"maximum": 10}
        assert "replicas" in caught.value.errors


def test_confirm_and_propagation() -> None:
    wp.check_confirm("web", "web")
    for bad in ("Web", "web ", "", None, "other"):
        with pytest.raises(errors.Invalid) as caught:
            wp.check_confirm(bad, "web")
        assert caught.value.code == "confirm_mismatch"
    assert wp.check_propagation(None) == "Background"
    assert wp.check_propagation("Foreground") == "Foreground"
    assert wp.check_propagation("Orphan") == "Orphan"
    with pytest.raises(errors.Invalid) as caught:
        wp.check_propagation("orphan")
    assert caught.value.code == "propagation_invalid"


def test_kinds_per_action() -> None:
    assert wp.require_kind("scale", "apps", "statefulsets") == "StatefulSet"
    assert wp.require_kind("restart", "apps", "daemonsets") == "DaemonSet"
    assert wp.require_kind("pause", "apps", "deployments") == "Deployment"
    with pytest.raises(errors.Invalid) as caught:
        wp.require_kind("scale", "apps", "daemonsets")
    assert caught.value.code == "not_scalable"
    assert caught.value.params["resource"] == "daemonsets.apps"
    with pytest.raises(errors.Invalid) as caught:
        wp.require_kind("pause", "apps", "statefulsets")
    assert caught.value.code == "action_not_supported"
    with pytest.raises(errors.Invalid):
        wp.require_kind("restart", "", "configmaps")


def test_patches_match_kubectl() -> None:
    assert wp.scale_patch(3) == {"spec": {"replicas": 3}}
    assert wp.pause_patch(True) == {"spec": {"paused": True}}
    stamp = wp.restart_timestamp(datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=timezone(timedelta(hours=9))))
    assert stamp == "2026-01-01T18:04:05Z"
    assert wp.restart_patch(stamp) == {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": stamp}}}}}
    assert wp.restart_timestamp(datetime.now(UTC)).endswith("Z")
    assert wp.release_of({"portal.cluster-portal.io/release": "12"}) == 12
    assert wp.release_of({"portal.cluster-portal.io/release": "x"}) is None
    assert wp.release_of(None) is None
    assert wp.controller_of({"ownerReferences": [{"kind": "Node", "name": "n"},
                                                 {"kind": "Deployment", "name": "web", "controller": True}]}) == {
        "kind": "Deployment", "name": "web"}
    assert wp.controller_of({"ownerReferences": [{"kind": "Node", "name": "n"}]}) is None
    assert wp.controller_of({}) is None


def _template(image: str, extra_labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web", **(extra_labels or {})}},
            "spec": {"containers": [{"name": "web", "image": image}]}}


def _rs(name: str, revision: str, image: str, uid: str = "d1", annotations: dict[str, str] | None = None
        ) -> dict[str, Any]:
    return {"metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z",
                         "annotations": {"deployment.kubernetes.io/revision": revision, **(annotations or {})},
                         "ownerReferences": [{"uid": uid, "controller": True, "kind": "Deployment"}]},
            "spec": {"template": _template(image, {"pod-template-hash": name[-4:]})}}


def test_deployment_revisions_and_rollback_patch() -> None:
    deployment = {"metadata": {"uid": "d1", "annotations": {"deployment.kubernetes.io/revision": "3", "team": "a"}},
                  "spec": {"template": _template("web:3")}}
    rss = [_rs("web-aaaa", "1", "web:1", annotations={"note": "first"}), _rs("web-bbbb", "2", "web:2"),
           _rs("web-cccc", "3", "web:3"), _rs("other-dddd", "9", "x:1", uid="other"),
           {"metadata": {"name": "no-revision"}}]
    revisions = wp.deployment_revisions(deployment, rss)
    assert [(r.revision, r.name, r.current, r.images) for r in revisions] == [
        (3, "web-cccc", True, ["web:3"]), (2, "web-bbbb", False, ["web:2"]), (1, "web-aaaa", False, ["web:1"])]
    assert wp.choose_revision(revisions, 0).name == "web-bbbb"  # kubectl rollout undo: the previous one
    target = wp.choose_revision(revisions, 1)
    patch = wp.deployment_rollback_patch(deployment, target.source)
    assert patch is not None
    assert patch[0] == {"op": "replace", "path": "/spec/template", "value": _template("web:1")}  # no hash label
    # the Deployment's own rollout annotation is kept, the ReplicaSet's others copied, the rest dropped
    assert patch[1] == {"op": "add", "path": "/metadata/annotations",
                        "value": {"deployment.kubernetes.io/revision": "3", "note": "first"}}
    assert wp.deployment_rollback_patch(deployment, wp.choose_revision(revisions, 3).source) is None
    bare = {"metadata": {"uid": "d1"}, "spec": {"template": _template("web:3")}}  # no annotations yet
    patch = wp.deployment_rollback_patch(bare, target.source)
    assert patch is not None
    assert patch[1]["value"] == {"note": "first"}
    with pytest.raises(errors.Invalid) as caught:
        wp.choose_revision(revisions, 7)
    assert caught.value.code == "revision_not_found"
    assert caught.value.params == {"revision": 7, "known": "3, 2, 1"}
    with pytest.raises(errors.Invalid):
        wp.choose_revision(revisions[:1], 0)
    assert wp.check_revision(2) == 2
    for bad in (-1, "x", "2", None, True):
        with pytest.raises(errors.Invalid):
            wp.check_revision(bad)


def test_controller_revisions_and_their_patch() -> None:
    sts = {"metadata": {"uid": "s1"}, "spec": {"template": _template("db:2")}, "status": {"updateRevision": "db-2"}}

    def cr(name: str, number: int, image: str) -> dict[str, Any]:
        template = {**_template(image), "$patch": "replace"}
        return {"metadata": {"name": name, "ownerReferences": [{"uid": "s1", "controller": True}]},
                "revision": number, "data": {"spec": {"template": template}}}

    revisions = wp.controller_revisions(sts, [cr("db-1", 1, "db:1"), cr("db-2", 2, "db:2")])
    assert [(r.revision, r.current) for r in revisions] == [(2, True), (1, False)]
    assert wp.controller_revision_patch(sts, revisions[1].source) == revisions[1].source["data"]
    assert wp.controller_revision_patch(sts, revisions[0].source) is None  # already runs it
    # without updateRevision (a DaemonSet), the revision holding the template is current
    ds = {"metadata": {"uid": "s1"}, "spec": {"template": _template("db:1")}}
    assert [r.current for r in wp.controller_revisions(ds, [cr("db-1", 1, "db:1"), cr("db-2", 2, "db:2")])] == [
        False, True]
    with pytest.raises(errors.Invalid):
        wp.controller_revision_patch(sts, {"metadata": {"name": "broken"}, "revision": 3, "data": None})


def test_owned_closure_walks_controllers() -> None:
    rows = [wp.Row("ReplicaSet", "ns", "web-1", ("Deployment", "web")),
            wp.Row("ReplicaSet", "ns", "web-2", ("Deployment", "web")),
            wp.Row("Pod", "ns", "web-1-a", ("ReplicaSet", "web-1")),
            wp.Row("Pod", "ns", "web-2-a", ("ReplicaSet", "web-2")),
            wp.Row("Pod", "other", "web-1-z", ("ReplicaSet", "web-1")),  # another namespace
            wp.Row("Pod", "ns", "db-0", ("StatefulSet", "db")),
            wp.Row("Service", "ns", "web", None)]
    found, total = wp.owned_closure("Deployment", "ns", "web", rows, limit=100)
    assert [(r.kind, r.name) for r in found] == [("ReplicaSet", "web-1"), ("ReplicaSet", "web-2"),
                                                 ("Pod", "web-1-a"), ("Pod", "web-2-a")]
    assert total == 4
    found, total = wp.owned_closure("Deployment", "ns", "web", rows, limit=2)
    assert len(found) == 2
    assert total == 4
    assert wp.owned_closure("Service", "ns", "web", rows, limit=10) == ([], 0)

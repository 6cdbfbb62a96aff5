"""The issue's "done when" for the timeline, end to end against a sandbox cluster over HTTPS with a
real watcher: a member edits a Deployment's replicas through the portal (dry-run-free apply under
``portal:<username>``), someone runs ``kubectl edit`` on it (the real kubectl), and the object's
timeline shows, newest first, the events after the kubectl edit, the kubectl edit as "changed outside
the portal" by ``kubectl-edit``, the events the portal edit caused, and the portal edit; each change
opens its diff."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from rest_framework.test import APIClient

from activity.models import ObjectChange
from clusters import object_ops
from clusters.models import Cluster, KubeObject
from clusters.tests.helpers import engine, register, synced
from portal.testing import Subscriber, make_user, unique, wait_for
from sandbox.resources import DEPLOYMENTS, NAMESPACES
from sandbox.tests.helpers import KUBECTL, kubectl
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")]

SANDBOX_CLUSTER = "timeline"


@pytest.fixture(scope="module")
def fleet(sandbox_fleet: Any) -> Iterator[Any]:
    sandbox_fleet.add_cluster(SANDBOX_CLUSTER, nodes=1)
    yield sandbox_fleet
    sandbox_fleet.remove_cluster(SANDBOX_CLUSTER)


def scaled_events(cluster: Cluster, ns: str) -> list[str]:
    return [row["message"] for row in KubeObject.objects.filter(
        cluster=cluster, kind="Event", namespace=ns, data__involved__kind="Deployment", data__involved__name="web",
        data__reason="ScalingReplicaSet").values_list("data", flat=True)]


def test_a_portal_edit_a_kubectl_edit_and_the_events_after_them_in_order(
        fleet: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ns = unique("tl")
    cluster = register(fleet, SANDBOX_CLUSTER)
    Role.ensure_builtin()
    member = make_user(unique("tl-dev"))
    workspace = Workspace.objects.create(name=unique("tl-ws"))
    Membership.objects.create(workspace=workspace, user=member, role=Role.objects.get(key="developer"))
    ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, quota={}, status="ready")
    ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=ns, quota={}, status="ready")
    labels = {"app": "web"}

    def create(c: Any) -> None:
        c.store.create(NAMESPACES, {"metadata": {"name": ns}})
        c.store.create(DEPLOYMENTS, {"metadata": {"name": "web", "namespace": ns, "labels": labels}, "spec": {
            "replicas": 1, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
                "containers": [{"name": "web", "image": "nginx:1.27"}]}}}})

    fleet.in_cluster(SANDBOX_CLUSTER, create)
    api = APIClient()
    api.force_authenticate(member)
    sub = Subscriber(f"cluster.{cluster.pk}.ns.{ns}")
    object_url = f"/api/clusters/{cluster.pk}/objects/apps/v1/deployments/web/"
    timeline: dict[str, Any] = {"cluster": cluster.pk, "namespace": ns, "kind": "Deployment", "name": "web"}
    try:
        with engine("timeline-e2e"):
            wait_for(lambda: synced(cluster), what="the cluster synced")
            wait_for(lambda: any("to 1" in m for m in scaled_events(cluster, ns)), what="the first rollout's event")
            time.sleep(1.1)  # the timeline's times have the API server's second resolution

            # 1. The member edits the replicas in YAML through the portal.
            edit = yaml.safe_load(api.get(object_url, {"namespace": ns}).json()["yaml"])
            edit["spec"]["replicas"] = 3
            accepted = api.post(f"{object_url}apply/?namespace={ns}", {"yaml": yaml.safe_dump(edit)}, format="json")
            assert accepted.status_code == 202, accepted.content
            portal_id = accepted.json()["id"]
            object_ops.run(portal_id)  # what the worker runs (clusters/tests/test_object_actions.py shows it there)
            wait_for(lambda: any("to 3" in m for m in scaled_events(cluster, ns)), what="the portal edit's event")
            wait_for(lambda: ObjectChange.objects.filter(cluster=cluster, name="web",
                                                         manager=f"portal:{member.username}").exists(),
                     what="the portal's write recorded as the base of the next diff")
            time.sleep(1.1)

            # 2. Someone edits it with kubectl, outside the portal.
            handle = fleet.cluster(SANDBOX_CLUSTER)
            editor = f"{sys.executable} -c \"import sys,re;p=sys.argv[1];t=open(p).read();" \
                     f"open(p,'w').write(re.sub(r'replicas: 3', 'replicas: 5', t, count=1))\""
            monkeypatch.setenv("KUBE_EDITOR", editor)
            kubectl(handle.kubeconfig, "edit", "deployment", "web", "-n", ns)
            wait_for(lambda: any("to 5" in m for m in scaled_events(cluster, ns)), what="the kubectl edit's event")
            change = wait_for(lambda: ObjectChange.objects.filter(cluster=cluster, name="web", outside=True).first(),
                              what="the kubectl edit recorded")
            assert (change.manager, change.snapshot["replicas"]) == ("kubectl-edit", 5)
            announced = sub.wait(lambda e: e["type"] == "activity.entry")
            assert announced["data"]["entries"][0]["manager"] == "kubectl-edit"

        # 3. The object's timeline, newest first.
        body = api.get("/api/activity/", timeline).json()
        entries = body["results"]
        order = [(e["source"], e["actor"] if e["source"] != "event" else e["summary"]) for e in entries]
        ids = [e["id"] for e in entries]
        at = {what: ids.index(e["id"]) for what, e in (
            ("after kubectl", next(e for e in entries if e["source"] == "event" and "to 5" in e["summary"])),
            ("kubectl", next(e for e in entries if e["source"] == "outside")),
            ("after portal", next(e for e in entries if e["source"] == "event" and "to 3" in e["summary"])),
            ("portal", next(e for e in entries if e["source"] == "portal")),
            ("before", next(e for e in entries if e["source"] == "event" and "to 1" in e["summary"])),
        )}
        assert at["after kubectl"] < at["kubectl"] < at["after portal"] < at["portal"] < at["before"], order
        outside = entries[at["kubectl"]]
        assert (outside["actor"], outside["message_code"], outside["has_diff"]) == (
            "kubectl-edit", "changed_outside_portal", True)
        portal = entries[at["portal"]]
        assert (portal["actor"], portal["action"], portal["status"]) == (member.username, "apply", "succeeded")
        assert [e["time"] for e in entries] == sorted((e["time"] for e in entries), reverse=True)

        # 4. Each change opens its diff: the portal's applied diff, kubectl's against the portal's write.
        assert portal["has_diff"]
        portal_diff = api.get(f"/api/activity/diff/{portal['id']}/").json()["diff"]
        assert "-  replicas: 1" in portal_diff
        assert "+  replicas: 3" in portal_diff
        kubectl_diff = api.get(f"/api/activity/diff/{outside['id']}/").json()
        assert "-replicas: 3\n+replicas: 5\n" in kubectl_diff["diff"]
        assert kubectl_diff["before"]["manager"] == f"portal:{member.username}"
    finally:
        sub.close()

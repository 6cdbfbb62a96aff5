"""Workload lists as other consoles show them (issue 20): a Deployment's ReplicaSets and a
CronJob's Jobs hidden by ``top_level=true``, a fully rolled-out ReplicaSet ``Available`` and a
Deployment's scaled-down old ReplicaSet ``Superseded``, never ``Progressing``.

Real objects: the sandbox's controllers create the ReplicaSets and roll the Deployment, the
watcher projects them into the read model, and the API lists them.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from clusters.models import Cluster, KubeObject
from clusters.tests.helpers import client_for, engine, register, synced
from clusters.watcher.projection import project
from clusters.workloads import workload_state
from portal.testing import wait_for

_n = itertools.count(1)


def deployment(name: str, replicas: int, image: str = "nginx:1.27") -> dict[str, Any]:
    labels = {"app": name}
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}}}


def rows(api: APIClient, cluster: Cluster, **params: Any) -> list[dict[str, Any]]:
    response = api.get(f"/api/clusters/{cluster.pk}/workloads/", {"page_size": 500, **params})
    assert response.status_code == 200, response.content
    return list(response.json()["results"])


def names(found: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["kind"], r["name"]) for r in found}


@pytest.mark.django_db(transaction=True)
def test_rolled_out_replicasets_and_the_top_level_filter(admin_api: APIClient, sandbox: Any) -> None:
    cluster = register(sandbox, "cluster-1")
    ns = f"owned-{next(_n)}-{int(time.time()) % 100000}"
    with client_for(sandbox, "cluster-1") as kube:
        kube.call(kube.core.create_namespace, {"metadata": {"name": ns}})
        kube.call(kube.apps.create_namespaced_deployment, ns, deployment("web", 2))
        # A ReplicaSet nobody owns, and a Job a CronJob controls (as the CronJob controller makes it).
        # The CronJob is suspended: a run at 03:00 would add a Job of its own to the sets compared.
        loose = {"app": "loose"}
        kube.call(kube.apps.create_namespaced_replica_set, ns, {
            "metadata": {"name": "loose"}, "spec": {"replicas": 1, "selector": {"matchLabels": loose}, "template": {
                "metadata": {"labels": loose}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}})
        cron = kube.call(kube.batch.create_namespaced_cron_job, ns, {
            "metadata": {"name": "nightly"}, "spec": {"schedule": "0 3 * * *", "suspend": True, "jobTemplate": {
                "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                    {"name": "c", "image": "busybox"}]}}}}}})
        kube.call(kube.batch.create_namespaced_job, ns, {
            "metadata": {"name": "nightly-1", "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly", "uid": cron.metadata.uid,
                "controller": True, "blockOwnerDeletion": True}]},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}})
    in_ns = KubeObject.objects.filter(cluster=cluster, namespace=ns)
    try:
        with engine("owned"):
            wait_for(lambda: synced(Cluster.objects.get(pk=cluster.pk)), what="synced")
            wait_for(lambda: in_ns.filter(kind="Deployment", name="web", phase="Available").exists(),
                     what="the deployment available")
            first = in_ns.get(kind="ReplicaSet", data__owner__kind="Deployment")
            # Fully rolled out: ready == available == replicas, observed; Available, not Progressing.
            wait_for(lambda: in_ns.get(pk=first.pk).phase == "Available", what="its replicaset available")
            rs = in_ns.get(pk=first.pk)
            assert (rs.data["replicas"], rs.data["ready_replicas"], rs.data["available_replicas"]) == (2, 2, 2)
            assert rs.data["rollout"]["done"] is True

            # Roll the deployment: the old ReplicaSet is scaled to zero and becomes an old revision.
            with client_for(sandbox, "cluster-1") as kube:
                kube.call(kube.apps.patch_namespaced_deployment, "web", ns, {"spec": {"template": {"spec": {
                    "containers": [{"name": "web", "image": "nginx:1.28"}]}}}})
            wait_for(lambda: in_ns.filter(kind="ReplicaSet", data__owner__kind="Deployment").count() == 2,
                     what="a second replicaset")
            wait_for(lambda: in_ns.get(pk=first.pk).phase == "Superseded", timeout=30, what="the old one superseded")
            new = in_ns.filter(kind="ReplicaSet", data__owner__kind="Deployment").exclude(pk=first.pk).get()
            wait_for(lambda: in_ns.get(pk=new.pk).phase == "Available", what="the new one available")
            wait_for(lambda: in_ns.filter(kind="Job", name="nightly-1").exists()
                     and in_ns.filter(kind="ReplicaSet", name="loose", phase="Available").exists(),
                     what="the job and the loose replicaset")
            old = in_ns.get(pk=first.pk)
            assert old.data["rollout"]["done"] is True
            assert old.data["replicas"] == 0

            everything = names(rows(admin_api, cluster, namespace=ns))
            assert {("ReplicaSet", first.name), ("ReplicaSet", new.name), ("Job", "nightly-1")} <= everything
            top = names(rows(admin_api, cluster, namespace=ns, top_level="true"))
            assert top == {("Deployment", "web"), ("ReplicaSet", "loose"), ("CronJob", "nightly")}
            controlled = names(rows(admin_api, cluster, namespace=ns, top_level="false"))
            assert controlled == {("ReplicaSet", first.name), ("ReplicaSet", new.name), ("Job", "nightly-1")}
            # With the other filters and orderings.
            by_kind = rows(admin_api, cluster, namespace=ns, top_level="true", kind="ReplicaSet", ordering="-name")
            assert names(by_kind) == {("ReplicaSet", "loose")}
            one: dict[str, str] = {"namespace": ns, "top_level": "true", "page_size": "1", "ordering": "kind"}
            page = admin_api.get(f"/api/clusters/{cluster.pk}/workloads/", one).json()
            assert [r["kind"] for r in page["results"]] == ["CronJob"]
            assert page["next"]
            assert page["freshness"]["state"] == "synced"
    finally:
        with client_for(sandbox, "cluster-1") as kube:
            kube.call(kube.core.delete_namespace, ns)


@pytest.mark.django_db
def test_top_level_refuses_what_is_not_yes_or_no(admin_api: APIClient) -> None:
    cluster = Cluster.objects.create(name=f"owned-bad-{next(_n)}", server="https://127.0.0.1:1")
    response = admin_api.get(f"/api/clusters/{cluster.pk}/workloads/", {"top_level": "maybe"})
    assert response.status_code == 400
    assert "top_level" in response.json()["errors"]


def _rs(name: str, *, replicas: int, status: dict[str, Any], owner: str | None, generation: int = 2,
        namespace: str = "ns") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "generation": generation, "resourceVersion": "1",
                            "uid": f"uid-{name}"}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner, "name": "web", "uid": "d",
                                    "controller": True}]
    return {"kind": "ReplicaSet", "metadata": meta, "spec": {"replicas": replicas}, "status": status}


def test_replicaset_states_as_kubectl_reads_them() -> None:
    full = {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
            "observedGeneration": 2}
    assert workload_state(_rs("a", replicas=3, status=full, owner="Deployment")).phase == "Available"
    # Scaled to zero by its Deployment: an old revision, done; while pods remain it is going there.
    gone = {"replicas": 0, "observedGeneration": 2}
    old = workload_state(_rs("b", replicas=0, status=gone, owner="Deployment"))
    assert (old.phase, old.done, old.failed) == ("Superseded", True, False)
    draining = workload_state(_rs("c", replicas=0, status={"replicas": 1, "observedGeneration": 2}, owner="Deployment"))
    assert (draining.phase, draining.code, draining.done) == ("Progressing", "workload_old_replicas", False)
    # Not yet observed: not superseded either.
    assert workload_state(_rs("d", replicas=0, status={"replicas": 0, "observedGeneration": 1},
                              owner="Deployment")).phase == "Progressing"
    # A ReplicaSet of its own (or another owner's) scaled to zero is just available with nothing to run.
    assert workload_state(_rs("e", replicas=0, status=gone, owner=None)).phase == "Available"
    assert project("ReplicaSet", _rs("f", replicas=0, status=gone, owner="Deployment"))["phase"] == "Superseded"


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL run meanwhile (a request resets Django's own query log, so record it as it runs)."""
    seen: list[str] = []

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


def _bulk(cluster: Cluster, deployments: int, per_deployment: int) -> None:
    """Rows as the watcher writes them (the same projection), in bulk."""
    objs: list[KubeObject] = []
    for d in range(deployments):
        name = f"app-{d:05d}"
        objs.append(KubeObject(cluster=cluster, **project("Deployment", {
            "kind": "Deployment", "metadata": {"name": name, "namespace": f"ns-{d % 20}", "uid": f"d{d}",
                                               "resourceVersion": "1", "generation": 1},
            "spec": {"replicas": 1}, "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                                                "availableReplicas": 1, "readyReplicas": 1}})))
        for r in range(per_deployment):
            objs.append(KubeObject(cluster=cluster, **project("ReplicaSet", _rs(
                f"{name}-{r:04d}", replicas=0, status={"replicas": 0, "observedGeneration": 2}, owner="Deployment",
                namespace=f"ns-{d % 20}"))))
    KubeObject.objects.bulk_create(objs, batch_size=2000)


@pytest.mark.django_db
def test_top_level_costs_one_page_at_scale(admin_api: APIClient) -> None:
    """20,000 workloads (2,000 Deployments with 9 old ReplicaSets each): a page with
    ``top_level=true`` is as many queries as without, never one per row, and reads no other row
    than its own (no join, no subquery in the plan)."""
    cluster = Cluster.objects.create(name=f"owned-scale-{next(_n)}", server="https://127.0.0.1:1")
    _bulk(cluster, 2000, 9)
    url = f"/api/clusters/{cluster.pk}/workloads/"
    with statements() as plain:
        assert admin_api.get(url, {"page_size": 100}).status_code == 200
    with statements() as top:
        first = admin_api.get(url, {"page_size": "100", "top_level": "true", "ordering": "name"}).json()
    assert 0 < len(top) == len(plain)
    assert [r["kind"] for r in first["results"]] == ["Deployment"] * 100
    # Page on to the end: every Deployment exactly once, never a ReplicaSet.
    seen = [r["name"] for r in first["results"]]
    nxt = first["next"]
    while nxt:
        body = admin_api.get(nxt).json()
        seen += [r["name"] for r in body["results"]]
        assert {r["kind"] for r in body["results"]} == {"Deployment"}
        nxt = body["next"]
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == 2000
    listing = next(q for q in top if "clusters_kubeobject" in q and "LIMIT" in q.upper())
    assert "JOIN" not in listing.upper()
    assert "EXISTS" not in listing.upper()

"""Workload states end to end (issue 10 §2): the sandbox's controllers publish exactly the status
fields the real ones do (a ReplicaSet has no ``updatedReplicas``), the watcher projects them, and
every workload of a settled namespace reads Available (Complete for the Job, Scheduled for the
CronJob) in the read model and through the API. Before, every ReplicaSet stayed Progressing."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from clusters.models import KubeObject
from clusters.tests.helpers import engine, register, seed, synced
from portal.testing import unique, wait_for
from sandbox.resources import REPLICASETS

pytestmark = pytest.mark.django_db(transaction=True)

SETTLED = {"Deployment": "Available", "ReplicaSet": "Available", "StatefulSet": "Available",
           "DaemonSet": "Available", "Job": "Complete", "CronJob": "Scheduled"}


def test_settled_workloads_of_every_kind_read_available(admin_api: APIClient, sandbox: Any) -> None:
    ns = unique("states")
    seed(sandbox, "cluster-1", ns)
    cluster = register(sandbox, "cluster-1")

    def phases() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for kind, phase in KubeObject.objects.filter(cluster=cluster, namespace=ns, kind__in=list(SETTLED)) \
                .values_list("kind", "phase"):
            out.setdefault(kind, set()).add(phase)
        return out

    with engine():
        wait_for(lambda: synced(cluster), what="every kind synced")
        wait_for(lambda: phases() == {k: {v} for k, v in SETTLED.items()}, timeout=40,
                 what="every workload settled")

    rs = sandbox.in_cluster("cluster-1", lambda c: c.store.list(REPLICASETS, ns)[0])
    assert len(rs) == 1
    assert "updatedReplicas" not in rs[0]["status"], rs[0]["status"]
    body = admin_api.get(f"/api/clusters/{cluster.pk}/workloads/?namespace={ns}&page_size=50").json()
    assert {(r["kind"], r["phase"]) for r in body["results"]} == set(SETTLED.items())
    row = next(r for r in body["results"] if r["kind"] == "ReplicaSet")
    assert row["data"]["ready_replicas"] == 2
    assert row["data"]["available_replicas"] == 2
    assert row["data"]["updated_replicas"] is None

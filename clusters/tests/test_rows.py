"""The rows of clusters/rows.py are what the API's serializers produced generically: the events
actions publish and the API responses stay the same now that both are built there."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

from clusters import rows
from clusters.actions import cluster_row
from clusters.api.serializers import ClusterSerializer, NodeOperationSerializer
from clusters.models import Cluster, ClusterStatus, NodeOperation, NodeOperationKind, NodeOperationStatus
from clusters.readmodel import cluster_freshness
from portal.celery import app as celery_app

pytestmark = pytest.mark.django_db


def generic(serializer: serializers.ModelSerializer) -> dict:
    """DRF's declared-fields path, bypassing the hand-written ``to_representation``."""
    return dict(serializers.ModelSerializer.to_representation(serializer, serializer.instance))


def test_node_operation_row_is_the_serializers_generic_output() -> None:
    cluster = Cluster.objects.create(name="rows-ops", server="https://203.0.113.1")
    fresh = NodeOperation.objects.create(cluster=cluster, node="n1", kind=NodeOperationKind.DRAIN)  # enum values
    assert generic(NodeOperationSerializer(fresh)) == rows.node_operation_row(fresh)
    assert rows.node_operation_row(fresh)["progress"] == {"evicted": [], "failed": [], "skipped": [], "remaining": 0}
    done = NodeOperation.objects.create(
        cluster=cluster, node="n2", kind=NodeOperationKind.CORDON, status=NodeOperationStatus.FAILED,
        message="no", started=timezone.now() - timedelta(seconds=5), finished=timezone.now(),
        progress={"evicted": ["a/b"], "remaining": 1, "options": {"force": True}},
    )
    done.refresh_from_db()
    row = NodeOperationSerializer(done).data
    assert row == generic(NodeOperationSerializer(done))
    assert row["status"] == "failed"
    assert row["progress"]["options"] == {"force": True}
    assert row["finished"].endswith("Z")
    assert row["started"] is not None
    assert json.loads(json.dumps(rows.node_operation_row(fresh))) == rows.node_operation_row(fresh)


def test_cluster_row_is_the_serializers_generic_output() -> None:
    now = timezone.now()
    cluster = Cluster.objects.create(name="rows-cluster", server="https://203.0.113.1", labels={"env": "dev"},
                                     status=ClusterStatus.CONNECTED, last_checked=now)
    for context in ({}, {"freshness": {cluster.pk: {"freshness": "stale", "last_sync": now}}}):
        serializer = ClusterSerializer(cluster, context=context)
        assert serializer.data == generic(serializer)
    # the event payload of actions: what it was before, the list's row with the cluster's freshness
    assert cluster_row(cluster) == ClusterSerializer(cluster, context={"freshness": cluster_freshness([cluster])}).data


def test_actions_enqueue_tasks_that_exist_by_those_names() -> None:
    import clusters.tasks  # noqa: F401  (registers the tasks with the app, as the worker does)

    assert {"clusters.check_cluster", "clusters.run_node_operation"} <= set(celery_app.tasks)

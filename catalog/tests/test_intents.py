"""Cluster intents without a cluster: the row and its audit line are written before anything is
sent, a task that never arrived is sent again by the beat (and given up after three attempts),
a cluster that cannot be reached fails the intent with a code, and a finished intent is never
run again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from catalog import config, intents, tasks
from catalog.models import ClusterIntent, IntentKind, IntentStatus
from clusters.models import Cluster
from portal.models import AuditRecord
from portal.testing import make_user
from workspaces.models import ServiceMap, Workspace

pytestmark = pytest.mark.django_db


def _service_map() -> ServiceMap:
    workspace = Workspace.objects.create(name="intents")
    cluster = Cluster.objects.create(name="gone", server="https://127.0.0.1:9")  # nothing listens there
    return ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace="shop", status="ready")


def test_a_lost_intent_is_sent_again_then_given_up(django_capture_on_commit_callbacks: Any) -> None:
    sm, user = _service_map(), make_user("intent-dev")
    with django_capture_on_commit_callbacks(execute=False) as sent:
        intent = config.request_save(sm=sm, kind="Secret", name="db", data={"password": "s3cret"},
                                     restart_workloads=False, message="", user=user, request=None)
    # the task is sent by name after commit (with the audit and intent.updated events)
    assert len([c for c in sent if "on_commit" in c.__qualname__]) == 1
    assert (intent.status, intent.kind) == (IntentStatus.PENDING, IntentKind.CONFIG_SAVE)
    assert "s3cret" not in intent.spec_encrypted
    assert AuditRecord.objects.get(action="config.save").detail["intent"] == intent.pk

    assert intents.due() == []  # fresh: its task may still be on the way
    ClusterIntent.objects.filter(pk=intent.pk).update(updated=timezone.now() - timedelta(minutes=5))
    assert intents.due() == [intent.pk]
    assert intents.due() == [], "sent again once per stale period, not at every beat"

    ClusterIntent.objects.filter(pk=intent.pk).update(attempts=intents.MAX_ATTEMPTS,
                                                      updated=timezone.now() - timedelta(minutes=5))
    assert intents.due() == []
    intent.refresh_from_db()
    assert (intent.status, intent.message_code) == (IntentStatus.FAILED, "intent_abandoned")
    assert intent.message_params == {"attempts": intents.MAX_ATTEMPTS}

    assert intents.prune() == 0  # finished just now: kept for who asked to read
    ClusterIntent.objects.filter(pk=intent.pk).update(finished=timezone.now() - timedelta(days=2))
    assert intents.prune() == 1


def test_an_unreachable_cluster_fails_the_intent_once() -> None:
    sm, user = _service_map(), make_user("intent-dev2")
    intent = config.request_autoscaler(sm=sm, settings=config.validate_autoscaler(
        kind="Deployment", name="web", settings={"max_replicas": 3, "cpu_percent": 70}), user=user, request=None)
    assert tasks.converge_intent.run(intent.pk) == "done"
    intent.refresh_from_db()
    assert (intent.status, intent.message_code, intent.attempts) == (IntentStatus.FAILED, "cluster_call_failed", 1)
    assert intent.message.startswith("The cluster call failed:")
    assert intent.get_result() is None
    finished = intent.finished
    assert tasks.converge_intent.run(intent.pk) == "finished"  # a duplicate delivery changes nothing
    intent.refresh_from_db()
    assert (intent.attempts, intent.finished) == (1, finished)

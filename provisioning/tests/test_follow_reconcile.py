"""The ``provisioning.reconcile`` beat: a create whose task message was lost (a broker blip after
commit) is applied and followed to the end once the beat runs; idle provisioned clusters and
management clusters are picked up for a refresh."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from portal import enqueue
from portal.testing import unique
from provisioning import follow, tasks
from provisioning.models import (
    ManagementCluster,
    OperationStatus,
    Phase,
    ProvisionedCluster,
    ProvisioningOperation,
)
from provisioning.tests.provision_helpers import body, capi_sandbox, finished, register_management

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker_process")]


@pytest.fixture(scope="module")
def capi_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from capi_sandbox(tmp_path_factory.mktemp("capi-reconcile"))


def test_a_lost_create_is_applied_and_followed_by_the_reconcile(admin_api: APIClient, capi_fleet: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    mc = register_management(admin_api, capi_fleet, namespace="capi-lost")
    lost: list[str] = []

    def dropped(name: str, *args: Any, **kwargs: Any) -> bool:  # the broker refuses the message
        lost.append(name)
        return False

    with monkeypatch.context() as m:
        m.setattr(enqueue, "send", dropped)
        response = admin_api.post("/api/provisioning/clusters/", body(unique("lost"), mc), format="json")
    assert response.status_code == 202, response.content
    assert lost == ["provisioning.apply_create"]
    op_id, pc_id = response.json()["operation"]["id"], response.json()["provisioned"]["id"]
    assert ProvisioningOperation.objects.get(pk=op_id).status == OperationStatus.PENDING

    assert follow.lost_applies() == []  # not yet: within the grace period
    past = timezone.now() - timedelta(seconds=follow.APPLY_GRACE_SECONDS + 5)
    ProvisioningOperation.objects.filter(pk=op_id).update(created=past)
    ProvisionedCluster.objects.filter(pk=pc_id).update(updated=past)
    assert follow.lost_applies() == [op_id]
    assert tasks.reconcile() >= 1  # sends apply_create (and anything else due)

    op = finished(op_id)
    assert op.status == OperationStatus.SUCCEEDED, (op.message_code, op.message)
    pc = ProvisionedCluster.objects.get(pk=pc_id)
    assert pc.phase == Phase.PROVISIONED
    assert pc.cluster_id is not None


def test_idle_clusters_and_management_checks_come_due() -> None:
    from clusters.models import Cluster
    from provisioning.models import ClusterTemplate

    hub = ManagementCluster.objects.create(cluster=Cluster.objects.create(name=unique("hub"), server="https://h:6443"),
                                           namespace="capi", status="ready", checked=timezone.now())
    template = ClusterTemplate.objects.filter(name="sandbox").first()
    assert template is not None
    idle = ProvisionedCluster.objects.create(name=unique("idle"), management=hub, namespace="capi", template=template,
                                             phase=Phase.PROVISIONED, followed=timezone.now())
    assert idle.pk not in follow.due_follows()
    assert hub.pk not in follow.due_management_checks()
    later = timezone.now() + timedelta(seconds=follow.REFRESH_SECONDS + follow.MANAGEMENT_RECHECK_SECONDS)
    assert idle.pk in follow.due_follows(later)
    assert hub.pk in follow.due_management_checks(later)
    ProvisionedCluster.objects.filter(pk=idle.pk).update(phase=Phase.DELETED, deleted=timezone.now())
    assert idle.pk not in follow.due_follows(later)

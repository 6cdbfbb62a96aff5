"""The workspaces actions and operations speak the portal's own terms: refusals are
:mod:`portal.errors` (field errors on ``Invalid``, state clashes as ``Conflict``, with the
``detail`` DRF used to give), and every stored message of an allocation or a service map has its
``message_code`` and ``message_params`` beside it, in the rows the API returns and the events
carry. No cluster is contacted: the enqueued tasks are never sent inside the test's transaction."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.models import Cluster
from portal.errors import Conflict, Invalid
from workspaces import actions, rows, services
from workspaces.models import ApplyStatus, ServiceMap

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster() -> Cluster:
    return Cluster.objects.create(name="codes", server="https://203.0.113.9", status="connected")


def test_refusals_are_portal_errors_with_their_fields(admin_user: Any, cluster: Cluster) -> None:
    workspace = actions.create_workspace(data={"name": "codes"}, actor=admin_user)
    with pytest.raises(Invalid) as invalid:
        actions.create_allocation(workspace=workspace, data={"cluster": 999999})
    assert invalid.value.errors == {"cluster": ["No cluster with id 999999; register it first."]}
    assert invalid.value.message == "Invalid input: cluster: No cluster with id 999999; register it first."
    with pytest.raises(Invalid) as quota:
        actions.create_allocation(workspace=workspace, data={"cluster": cluster.pk, "quota": {"pods": "many"}})
    assert list(quota.value.errors) == ["quota.pods"]
    actions.create_allocation(workspace=workspace, data={"cluster": cluster.pk, "quota": {"pods": "10"}})
    with pytest.raises(Conflict, match="already allocated"):
        actions.create_allocation(workspace=workspace, data={"cluster": cluster.pk})
    with pytest.raises(Invalid) as system:
        actions.create_service_map(workspace=workspace, data={"namespace": "kube-system", "cluster": cluster.pk},
                                   actor=admin_user)
    assert system.value.errors == {"namespace": ["kube-system is a system namespace; choose another name."]}
    # add_member gathers the field errors of the user and the role into one Invalid
    with pytest.raises(Invalid) as member:
        actions.add_member(workspace=workspace, username="nobody-here", role_key="no-such-role")
    assert set(member.value.errors) == {"user", "role"}


def test_allocation_and_service_map_messages_carry_codes(admin_user: Any, cluster: Cluster) -> None:
    workspace = actions.create_workspace(data={"name": "codes"}, actor=admin_user)
    allocation = actions.create_allocation(workspace=workspace, data={"cluster": cluster.pk, "quota": {"pods": "10"}})
    row = rows.allocation_rows([allocation])[0]
    assert (row["message"], row["message_code"], row["message_params"]) == (
        "Checking the cluster.", "allocation_checking", {})
    actions.allocation_status(allocation, ApplyStatus.PENDING, "The cluster cannot be used yet: no.",
                              code="allocation_cluster_unusable", params={"error": "no."})
    allocation.refresh_from_db()
    row = rows.allocation_rows([allocation])[0]
    assert (row["message_code"], row["message_params"]) == ("allocation_cluster_unusable", {"error": "no."})

    sm = actions.create_service_map(workspace=workspace, data={"namespace": "codes-ns", "cluster": cluster.pk,
                                                               "quota": {"pods": "5"}}, actor=admin_user)
    actions.service_map_applied(sm, generation=sm.generation, status=ApplyStatus.ERROR, message="taken",
                                code="namespace_taken", params={"namespace": "codes-ns", "cluster": "codes"})
    row = rows.service_map_rows([ServiceMap.objects.get(pk=sm.pk)])[0]
    assert (row["message_code"], row["message_params"]) == ("namespace_taken", {"namespace": "codes-ns",
                                                                                "cluster": "codes"})
    actions.service_map_applied(sm, generation=sm.generation, status=ApplyStatus.READY, message="")
    assert ServiceMap.objects.get(pk=sm.pk).message_code == ""

    sm = actions.delete_service_map(sm=sm)
    row = rows.service_map_rows([ServiceMap.objects.get(pk=sm.pk)])[0]
    assert (row["status"], row["message_code"], row["message_params"]) == (
        "deleting", "servicemap_deleting", {"namespace": "codes-ns"})
    actions.service_map_deletion_progress(sm, stuck=False, message="Namespace codes-ns is Terminating: x.",
                                          code="namespace_terminating", params={"namespace": "codes-ns", "reason": "x"})
    stored = ServiceMap.objects.get(pk=sm.pk)
    assert (stored.message_code, stored.message_params) == ("namespace_terminating",
                                                            {"namespace": "codes-ns", "reason": "x"})
    # Nothing new may be planned into a service map being deleted: a coded Conflict.
    with pytest.raises(Conflict) as deleting:
        services.preflight(stored, [])
    assert (deleting.value.code, deleting.value.params) == ("servicemap_deleting", {"namespace": "codes-ns"})

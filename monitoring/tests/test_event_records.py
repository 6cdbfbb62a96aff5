"""Kept cluster events: real sandbox events arrive through the watcher hook into EventRecord (one
upsert per batch, a repeat raises the count, nothing duplicated), stay after the cluster deleted
them, go after the retention period, and the API filters them, Warnings first, page by page, and
shows a member only their service maps' namespaces."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from clusters.models import Cluster, KubeObject
from clusters.tests.helpers import client_for, engine, register
from clusters.watcher.projection import project
from clusters.watcher.writer import Changes
from monitoring import event_records, tasks_housekeeping
from monitoring.models import EventRecord
from monitoring.tests.metering_seed import member
from portal.testing import make_user, unique, wait_for
from workspaces.models import ServiceMap, Workspace

URL = "/api/monitoring/events/"


def _event(ns: str, name: str, *, count: int, last: str, reason: str = "BackOff", etype: str = "Warning",
           uid: str = "") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "uid": uid or f"uid-{name}", "resourceVersion": "1"},
            "type": etype, "reason": reason, "message": f"{reason} {count}",
            "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": ns}, "count": count,
            "firstTimestamp": "2026-12-01T10:00:00Z", "lastTimestamp": last,
            "source": {"component": "kubelet", "host": "node-1"}}


def _changes(cluster_id: int, *objs: dict[str, Any]) -> Changes:
    changes = Changes()
    for obj in objs:
        row = project("Event", obj)
        changes.upserts.setdefault((cluster_id, "Event"), {})[(row["namespace"], row["name"])] = row
    return changes


@pytest.mark.django_db
def test_upsert_is_idempotent_and_never_goes_backwards() -> None:
    cluster = Cluster.objects.create(name="c", server="https://127.0.0.1:9")
    first = _event("shop", "web.1", count=3, last="2026-12-01T10:05:00Z")
    assert event_records.record_events(_changes(cluster.pk, first, _event("shop", "web.2", count=1,
                                                                           last="2026-12-01T10:01:00Z",
                                                                           reason="Pulled", etype="Normal"))) == 2
    event_records.record_events(_changes(cluster.pk, first))  # a relist: nothing new
    assert EventRecord.objects.count() == 2
    event_records.record_events(_changes(cluster.pk, _event("shop", "web.1", count=5, last="2026-12-01T10:09:00Z")))
    event_records.record_events(_changes(cluster.pk, first))  # an older copy arriving late changes nothing
    record = EventRecord.objects.get(uid="uid-web.1")
    assert (record.count, record.message, record.last_seen) == (
        5, "BackOff 5", dt.datetime(2026, 12, 1, 10, 9, tzinfo=dt.UTC))
    assert record.type == "Warning"
    assert record.object_kind == "Pod"
    assert record.object_name == "web-1"
    assert record.source == "kubelet, node-1"
    assert record.namespace == "shop"
    assert record.first_seen == dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_retention_task_deletes_old_records(settings: Any) -> None:
    settings.PORTAL_EVENT_RETENTION_DAYS = 7
    cluster = Cluster.objects.create(name="c", server="https://127.0.0.1:9")
    now = timezone.now()
    for days, uid in ((1, "fresh"), (6, "week"), (8, "old"), (30, "older")):
        EventRecord.objects.create(cluster=cluster, uid=uid, last_seen=now - dt.timedelta(days=days))
    assert tasks_housekeeping.prune_events() == 2
    assert sorted(EventRecord.objects.values_list("uid", flat=True)) == ["fresh", "week"]
    assert tasks_housekeeping.prune_events() == 0
    assert event_records.prune(days=0) == 0  # 0: keep everything
    assert event_records.prune(days=2, batch=1) == 1


def _pod(name: str, image: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "app", "image": image}]}}


@pytest.mark.django_db(transaction=True)
def test_sandbox_events_kept_filtered_and_scoped(sandbox: Any, admin_api: APIClient) -> None:
    cluster = register(sandbox, "cluster-1")
    shop, other = unique("ev-shop"), unique("ev-other")
    with client_for(sandbox, "cluster-1") as kube:
        for ns in (shop, other):
            kube.call(kube.core.create_namespace, {"metadata": {"name": ns}})
        kube.call(kube.core.create_namespaced_pod, shop, _pod("broken", "registry.example/app:doesnotexist"))
        kube.call(kube.core.create_namespaced_pod, shop, _pod("fine", "nginx:1.27"))
        kube.call(kube.core.create_namespaced_pod, other, _pod("elsewhere", "nginx:1.27"))
    workspace = Workspace.objects.create(name=unique("ev-ws"))
    ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=shop)
    with engine():
        wait_for(lambda: EventRecord.objects.filter(cluster=cluster, namespace=shop, type="Warning",
                                                    object_name="broken").exists(), timeout=30,
                 what="the failing pull's warning recorded")
        wait_for(lambda: EventRecord.objects.filter(cluster=cluster, namespace=shop, type="Normal",
                                                    object_name="fine").exists()
                 and EventRecord.objects.filter(cluster=cluster, namespace=other).exists(), timeout=30,
                 what="normal events recorded")
    kept = EventRecord.objects.filter(cluster=cluster).count()
    assert kept == KubeObject.objects.filter(cluster=cluster, kind="Event").count() or kept > 0

    # The cluster drops its events (their TTL); the records stay. The failing pull keeps making new
    # events, so follow the ones recorded so far.
    gone = set(EventRecord.objects.filter(cluster=cluster, namespace=shop).values_list("uid", flat=True))
    assert gone
    assert not any("/" in uid for uid in gone)  # the events' own uids, not the fallback
    with client_for(sandbox, "cluster-1") as kube:
        kube.call(kube.core.delete_collection_namespaced_event, shop)
    with engine():
        wait_for(lambda: not KubeObject.objects.filter(cluster=cluster, kind="Event", uid__in=gone).exists(),
                 timeout=30, what="the read model follows the deletion")
    assert EventRecord.objects.filter(cluster=cluster, uid__in=gone).count() == len(gone)
    assert EventRecord.objects.filter(cluster=cluster, namespace=shop, object_name="broken").exists()

    # Filters.
    def results(client: APIClient, **params: Any) -> list[dict[str, Any]]:
        response = client.get(URL, {"cluster": cluster.pk, **params})
        assert response.status_code == 200, response.content
        return list(response.json()["results"])

    warnings = results(admin_api, type="Warning", namespace=shop)
    assert warnings
    assert all(e["type"] == "Warning" and e["namespace"] == shop for e in warnings)
    assert {e["object_name"] for e in warnings} == {"broken"}
    assert warnings[0]["service_map"]["namespace"] == shop
    assert warnings[0]["cluster"]["name"] == cluster.name
    failed = results(admin_api, reason="Failed", object_kind="Pod", object_name="broken")
    assert failed
    assert all(e["reason"] == "Failed" for e in failed)
    assert results(admin_api, since=(timezone.now() + dt.timedelta(hours=1)).isoformat()) == []
    assert results(admin_api, since=str(int(timezone.now().timestamp()) - 3600))
    by_warning = results(admin_api, ordering="-warning", page_size=500)
    types = [e["type"] for e in by_warning]
    assert types == sorted(types, key=lambda t: t != "Warning")
    assert "Normal" in types
    # Keyset pages: page_size=1 walks every record once.
    seen, url = [], f"{URL}?cluster={cluster.pk}&page_size=1"
    while url:
        page = admin_api.get(url).json()
        seen += [e["id"] for e in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == EventRecord.objects.filter(cluster=cluster).count()

    # A member sees their service map's namespace only; another's service map is 404.
    alice = make_user(unique("alice"))
    member(alice, workspace)
    client = APIClient()
    client.force_authenticate(alice)
    node_event = EventRecord.objects.create(cluster=cluster, uid=unique("node-ev"), namespace=shop, type="Warning",
                                            reason="NodeNotReady", object_kind="Node", object_name="node-1",
                                            last_seen=timezone.now())
    mine = results(client)
    assert node_event.pk not in {e["id"] for e in mine}  # infrastructure, whatever namespace holds it
    assert mine
    assert {e["namespace"] for e in mine} == {shop}
    assert results(client, namespace=other) == []
    foreign = ServiceMap.objects.create(workspace=Workspace.objects.create(name=unique("ev-foreign")),
                                        cluster=cluster, namespace=other)
    assert client.get(URL, {"service_map": foreign.pk}).status_code == 404
    assert {e["namespace"] for e in results(admin_api, service_map=foreign.pk)} == {other}


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "code"), [({"since": "yesterday"}, "invalid_since"),
                                              ({"type": "Error"}, "invalid_event_type"),
                                              ({"ordering": "reason"}, "invalid"),
                                              ({"cursor": "nonsense"}, "invalid"),
                                              ({"cluster": "x"}, "invalid")])
def test_bad_filters_are_400(admin_api: APIClient, params: dict[str, str], code: str) -> None:
    response = admin_api.get(URL, params)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code


@pytest.mark.django_db
def test_anonymous_is_401(api: APIClient) -> None:
    assert api.get(URL).status_code == 401

"""/metrics: who may read it (admins, or the scrape token; anonymous 401 and others 403 as JSON),
and the portal's own health moving: request latency by resolved route after a request, task
durations and failures after real Celery tasks ran in a worker process, watcher lag, outbox depth,
open alerts, WebSocket connections."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from clusters.models import Cluster, KindSync
from monitoring.models import Alert, Notification, NotificationChannel
from portal import enqueue, metrics
from portal.testing import unique, wait_for

URL = "/metrics"
NAMES = ("portal_http_request_duration_seconds", "portal_task_duration_seconds", "portal_task_failures",
         "portal_task_cpu_seconds",
         "portal_watcher_lag_seconds", "portal_watcher_kinds", "portal_websocket_connections",
         "portal_notification_outbox", "portal_alerts_open")


def scrape(client: Any, **extra: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get(URL, **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.django_db
def test_anonymous_401_user_403_admin_200(api: APIClient, user_api: APIClient, admin_api: APIClient) -> None:
    anonymous = api.get(URL)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    assert anonymous["WWW-Authenticate"] == "Bearer"
    refused = user_api.get(URL)
    assert refused.status_code == 403
    assert refused.json()["code"] == "admin_required"
    samples = scrape(admin_api)
    families = {name for name, _ in samples}
    for name in ("portal_http_request_duration_seconds_count", "portal_websocket_connections",
                 "portal_notification_outbox", "portal_alerts_open"):
        assert name in families, name


@pytest.mark.django_db
def test_scrape_token(settings: Any, api: APIClient) -> None:
    settings.PORTAL_METRICS_TOKEN = "scrape-secret-123456"
    assert scrape(api, HTTP_AUTHORIZATION="Bearer scrape-secret-123456")
    wrong = api.get(URL, HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 401
    settings.PORTAL_METRICS_TOKEN = ""
    assert api.get(URL, HTTP_AUTHORIZATION="Bearer ").status_code == 401  # an empty setting accepts no bearer


@pytest.mark.django_db
def test_request_latency_by_resolved_route(admin_api: APIClient) -> None:
    before = scrape(admin_api)
    labels = {"method": "GET", "route": "api/monitoring/prices/(?P<pk>[0-9]+)/$", "status": "404"}
    for pk in (123456, 654321):  # two raw paths, one route
        assert admin_api.get(f"/api/monitoring/prices/{pk}/").status_code == 404
    after = scrape(admin_api)
    assert value(after, "portal_http_request_duration_seconds_count", **labels) == \
        value(before, "portal_http_request_duration_seconds_count", **labels) + 2
    assert not any("654321" in dict(key).get("route", "") for _, key in after)
    assert value(after, "portal_http_request_duration_seconds_count", method="GET", route="metrics", status="200") >= 1


@pytest.mark.django_db
def test_watcher_outbox_and_alerts(admin_api: APIClient) -> None:
    now = timezone.now()
    name = unique("lagging")
    cluster = Cluster.objects.create(name=name, server="https://127.0.0.1:9", last_sync=now - dt.timedelta(seconds=90))
    KindSync.objects.create(cluster=cluster, kind="Pod", state="synced")
    KindSync.objects.create(cluster=cluster, kind="Node", state="stale")
    alert = Alert.objects.create(fingerprint="f" * 64, state="firing", severity="critical", cluster=cluster,
                                 started_at=now, last_seen_at=now)
    channel = NotificationChannel.objects.create(name="ops", kind="email", recipients=["ops@example.com"])
    for n, state in enumerate(("pending", "pending", "sending", "delivered")):
        Notification.objects.create(alert=alert, channel=channel, event="firing", idempotency_key=f"k{n}",
                                    state=state, next_attempt_at=now)
    samples = scrape(admin_api)
    assert 89 <= value(samples, "portal_watcher_lag_seconds", cluster=name) < 200
    assert value(samples, "portal_watcher_kinds", cluster=name, state="synced") == 1
    assert value(samples, "portal_watcher_kinds", cluster=name, state="stale") == 1
    assert value(samples, "portal_notification_outbox", state="pending") == 2
    assert value(samples, "portal_notification_outbox", state="sending") == 1
    assert value(samples, "portal_alerts_open", severity="critical", state="firing") == 1
    assert value(samples, "portal_alerts_open", severity="warning", state="firing") == 0


@pytest.mark.django_db(transaction=True)
def test_task_durations_and_failures_across_processes(celery_worker_process: Any, admin_user: Any) -> None:
    """The worker is another process: its signal handlers count in Redis, the scrape reads it."""
    client = Client()
    client.force_login(admin_user)
    task = "monitoring.prune_events"
    before = scrape(client)
    runs = value(before, "portal_task_duration_seconds_count", task=task)
    failures = value(before, "portal_task_failures_total", task=task)
    assert enqueue.send(task)
    assert enqueue.send(task, "unexpected-argument")  # fails in the worker: TypeError
    wait_for(lambda: value(scrape(client), "portal_task_duration_seconds_count", task=task) >= runs + 2,
             timeout=30, what="two runs counted")
    after = scrape(client)
    assert value(after, "portal_task_failures_total", task=task) == failures + 1
    assert value(after, "portal_task_duration_seconds_bucket", task=task, le="+Inf") == \
        value(after, "portal_task_duration_seconds_count", task=task)
    assert value(after, "portal_task_duration_seconds_sum", task=task) > 0
    assert value(after, "portal_task_cpu_seconds_total", task=task) > value(before, "portal_task_cpu_seconds_total",
                                                                             task=task)


def test_record_task_buckets_are_cumulative() -> None:
    name = unique("test.task")
    metrics.record_task(name, 0.3, failed=False, cpu=0.25)
    metrics.record_task(name, 20.0, failed=True, cpu=0.5)
    stats = metrics.task_stats()[name]
    assert float(stats["cpu"]) == 0.75
    assert stats["count"] == "2"
    assert stats["failures"] == "1"
    assert stats["le:0.5"] == "1"
    assert stats["le:30.0"] == "2"
    assert "le:0.25" not in stats
    from portal.redis import client

    client().delete(metrics.TASK_KEY + name)
    client().srem(metrics.TASK_SET, name)


def test_a_worker_writes_its_task_runs_added_up_as_one_run_at_a_time_would() -> None:
    """A worker adds its runs up in memory and writes them every FLUSH_SECONDS in one pipeline:
    the hash ends up as :func:`metrics.record_task` for each run would leave it."""
    from portal.redis import client

    one, added = unique("test.each"), unique("test.added")
    runs = [(0.3, False, 0.25), (20.0, True, 0.5), (0.01, False, 0.0)]
    for seconds, failed, cpu in runs:
        metrics.record_task(one, seconds, failed=failed, cpu=cpu)
        metrics._add_task(added, seconds, failed, cpu)
    metrics.flush_tasks()
    stats = metrics.task_stats()

    def exact(fields: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in fields.items() if k not in ("sum", "cpu")}

    assert exact(stats[added]) == exact(stats[one])
    assert float(stats[added]["sum"]) == pytest.approx(float(stats[one]["sum"]))
    assert float(stats[added]["cpu"]) == pytest.approx(float(stats[one]["cpu"]))
    metrics.flush_tasks()  # nothing pending: nothing written twice
    assert metrics.task_stats()[added] == stats[added]
    for name in (one, added):
        client().delete(metrics.TASK_KEY + name)
        client().srem(metrics.TASK_SET, name)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_websocket_connections_gauge(admin_user: Any) -> None:
    from channels.testing import WebsocketCommunicator

    from portal.asgi import application

    def cookie() -> str:
        c = Client()
        c.force_login(admin_user)
        return c.cookies["sessionid"].value

    session = await sync_to_async(cookie)()
    start = metrics.WEBSOCKETS._value.get()
    communicator = WebsocketCommunicator(application, "/ws/", headers=[
        (b"host", b"testserver"), (b"origin", b"http://testserver"), (b"cookie", f"sessionid={session}".encode())])
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=3) == {"type": "pong"}
    assert metrics.WEBSOCKETS._value.get() == start + 1
    text = (await sync_to_async(metrics.render)()).decode()
    assert f"portal_websocket_connections {start + 1:.1f}" in text
    await communicator.disconnect()
    assert metrics.WEBSOCKETS._value.get() == start

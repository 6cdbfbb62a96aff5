"""Server-side sorting of the alert lists (issue 20): alerts by severity (critical above warning
above info, not alphabetically), start and change; rules and silences by their declared orderings;
keyset pages across ties; an undeclared ordering is a 400 naming the choices."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from clusters.models import Cluster
from monitoring.models import Alert, AlertRule, Silence
from portal.testing import unique

pytestmark = pytest.mark.django_db


def walk(client: APIClient, url: str, ordering: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(url, {"ordering": ordering, "page_size": 2, **params})
    rows: list[dict[str, Any]] = []
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        rows.extend(body["results"])
        if not body["next"]:
            return rows
        response = client.get(body["next"])


def test_alerts_sort_by_severity_rank_both_ways_across_ties(admin_api: APIClient) -> None:
    cluster = Cluster.objects.create(name=unique("c"), server="https://127.0.0.1:9")
    now = timezone.now()
    made = []
    for i, severity in enumerate(["warning", "critical", "info", "warning", "critical", "warning"]):
        made.append(Alert.objects.create(fingerprint=unique("f"), severity=severity, cluster=cluster, state="firing",
                                         subject_kind="Node", subject_name=f"n{i}",
                                         started_at=now - timedelta(minutes=i % 2), last_seen_at=now))
    rows = walk(admin_api, "/api/monitoring/alerts/", "-severity", cluster=cluster.pk)
    assert [r["severity"] for r in rows] == ["critical", "critical", "warning", "warning", "warning", "info"]
    assert sorted(r["id"] for r in rows) == sorted(a.pk for a in made)  # every row once
    ascending = walk(admin_api, "/api/monitoring/alerts/", "severity", cluster=cluster.pk)
    assert [r["id"] for r in ascending] == [r["id"] for r in rows][::-1]


def test_rules_and_silences_sort_both_ways(admin_api: APIClient) -> None:
    prefix = unique("r")
    for name in ("b", "c", "a"):
        AlertRule.objects.create(name=f"{prefix}-{name}", metric="cpu_usage", aggregation="avg", operator=">",
                                 threshold=0.5)
    rules = [r["name"] for r in walk(admin_api, "/api/monitoring/rules/", "-name") if r["name"].startswith(prefix)]
    assert rules == [f"{prefix}-{n}" for n in ("c", "b", "a")]
    now = timezone.now()
    made = [Silence.objects.create(fingerprint=unique("f"), starts_at=now, ends_at=now + timedelta(hours=i % 2 + 1),
                                   reason="maintenance") for i in range(4)]
    ends = [r["id"] for r in walk(admin_api, "/api/monitoring/silences/", "ends") if r["id"] in {s.pk for s in made}]
    expected = sorted(made, key=lambda s: (s.ends_at, s.pk))
    assert ends == [s.pk for s in expected]
    latest = [r["id"] for r in walk(admin_api, "/api/monitoring/silences/", "-ends") if r["id"] in {s.pk for s in made}]
    assert latest == ends[::-1]


@pytest.mark.parametrize("url", ["/api/monitoring/alerts/", "/api/monitoring/rules/", "/api/monitoring/silences/",
                                 "/api/monitoring/events/"])
def test_an_undeclared_ordering_is_a_400_naming_the_choices(admin_api: APIClient, url: str) -> None:
    response = admin_api.get(url, {"ordering": "secret"})
    assert response.status_code == 400
    assert response.json()["errors"]["ordering"][0].startswith("Order by one of:")

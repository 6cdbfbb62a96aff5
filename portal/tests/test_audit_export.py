"""The audit log's filters (who, action, object, workspace, cluster, outcome, time) and its CSV
export: admins only, Korean intact behind a BOM, formula cells defused, a bounded size with a
clear 400, and the export itself in the log. Real PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from clusters.models import Cluster
from portal import audit
from portal.models import AuditOutcome, AuditRecord, User
from portal.testing import make_user, unique
from workspaces.models import ServiceMap, Workspace

pytestmark = pytest.mark.django_db


def _csv(response: Any) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode()), "a BOM first, so Excel reads UTF-8"
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.fixture
def world(admin_user: User) -> dict[str, Any]:
    cluster = Cluster.objects.create(name=unique("audit-c"), server="https://127.0.0.1:6443")
    other_cluster = Cluster.objects.create(name=unique("audit-o"), server="https://127.0.0.1:6444")
    workspace = Workspace.objects.create(name=unique("audit-ws"))
    other = Workspace.objects.create(name=unique("audit-ow"))
    sm = ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=unique("audit-ns"), quota={})
    fresh_sm = ServiceMap.objects.get(pk=sm.pk)  # nothing cached: the names are read from the database
    audit.record(action="servicemap.update", outcome=AuditOutcome.SUCCESS, actor=admin_user, target=fresh_sm)
    audit.record(action="workspace.update", outcome=AuditOutcome.SUCCESS, actor=admin_user, target=other)
    audit.record(action="cluster.check", outcome=AuditOutcome.FAILURE, actor=admin_user, target=other_cluster)
    audit.record(action="pod.exec", outcome=AuditOutcome.SUCCESS, actor_username="김철수",
                 detail={"cluster": cluster.pk, "cluster_name": cluster.name, "namespace": "x"})
    audit.record(action="auth.login", outcome=AuditOutcome.SUCCESS, actor=admin_user)
    return {"cluster": cluster, "other_cluster": other_cluster, "workspace": workspace, "other": other, "sm": sm}


def _actions(client: APIClient, **params: Any) -> list[str]:
    response = client.get("/api/audit/", params)
    assert response.status_code == 200, response.content
    return [row["action"] for row in response.json()["results"]]


def test_the_record_knows_its_workspace_and_cluster(admin_api: APIClient, world: dict[str, Any]) -> None:
    rows = {row["action"]: row for row in admin_api.get("/api/audit/").json()["results"]}
    workspace, cluster = world["workspace"], world["cluster"]
    assert rows["servicemap.update"]["workspace"] == {"id": workspace.pk, "name": workspace.name}
    assert rows["servicemap.update"]["cluster"] == {"id": cluster.pk, "name": cluster.name}
    assert rows["workspace.update"]["workspace"]["name"] == world["other"].name
    assert rows["workspace.update"]["cluster"] is None
    assert rows["cluster.check"]["cluster"] == {"id": world["other_cluster"].pk, "name": world["other_cluster"].name}
    assert rows["pod.exec"]["cluster"] == {"id": cluster.pk, "name": cluster.name}
    assert rows["auth.login"]["workspace"] is None
    assert rows["auth.login"]["cluster"] is None


def test_a_real_api_call_records_its_workspace(admin_api: APIClient) -> None:
    name = unique("audit-api")
    response = admin_api.post("/api/workspaces/", {"name": name}, format="json")
    assert response.status_code == 201, response.content
    record = AuditRecord.objects.filter(workspace_name=name).get()
    assert record.workspace_id == response.json()["id"]
    assert _actions(admin_api, workspace=name) == [record.action]


def test_filters_by_workspace_cluster_object_and_actor(admin_api: APIClient, world: dict[str, Any]) -> None:
    workspace, cluster = world["workspace"], world["cluster"]
    assert _actions(admin_api, workspace=workspace.name) == ["servicemap.update"]
    assert _actions(admin_api, workspace=str(workspace.pk)) == ["servicemap.update"]
    assert _actions(admin_api, cluster=cluster.name) == ["pod.exec", "servicemap.update"]
    assert _actions(admin_api, cluster=str(world["other_cluster"].pk)) == ["cluster.check"]
    assert _actions(admin_api, workspace="no-such-workspace") == []
    assert _actions(admin_api, target="clusters.cluster") == ["cluster.check"]
    assert _actions(admin_api, target=str(world["other"].pk), action="workspace.*") == ["workspace.update"]
    assert _actions(admin_api, target=world["sm"].namespace[:8]) == ["servicemap.update"]
    assert _actions(admin_api, actor="김철수") == ["pod.exec"]
    assert _actions(admin_api, outcome="failure") == ["cluster.check"]
    assert _actions(admin_api, action="cluster.check", cluster=cluster.name) == []


def test_time_range(admin_api: APIClient, world: dict[str, Any]) -> None:
    now = timezone.now()
    assert len(_actions(admin_api, since=(now - timedelta(minutes=5)).isoformat())) == 5
    assert _actions(admin_api, until=(now - timedelta(minutes=5)).isoformat()) == []
    response = admin_api.get("/api/audit/", {"since": "yesterday"})
    assert response.status_code == 400
    assert "since" in response.json()["errors"]


def test_oversized_filters_are_400(admin_api: APIClient) -> None:
    response = admin_api.get("/api/audit/", {"workspace": "w" * 200})
    assert response.status_code == 400
    assert "workspace" in response.json()["errors"]


def test_export_is_csv_of_the_filtered_rows_with_korean_intact(admin_api: APIClient, world: dict[str, Any]) -> None:
    cluster = world["cluster"]
    response = admin_api.get("/api/audit/export/", {"cluster": cluster.name})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = _csv(response)
    assert [r["action"] for r in rows] == ["pod.exec", "servicemap.update"]
    assert rows[0]["actor"] == "김철수"
    assert rows[0]["cluster"] == cluster.name
    assert rows[1]["workspace"] == world["workspace"].name
    assert list(rows[0]) == ["id", "timestamp", "actor", "source_ip", "action", "outcome", "status_code",
                             "target_type", "target_id", "target", "workspace", "cluster", "request_id", "detail"]


def test_export_is_itself_audited_and_not_in_its_own_file(admin_api: APIClient, world: dict[str, Any]) -> None:
    rows = _csv(admin_api.get("/api/audit/export/", {"action": "audit.*"}))
    assert rows == []
    entry = AuditRecord.objects.get(action="audit.exported")
    assert entry.outcome == "success"
    assert entry.detail == {"filters": {"action": "audit.*"}, "rows": 0}
    rows = _csv(admin_api.get("/api/audit/export/", {"action": "audit.*"}))
    assert [r["id"] for r in rows] == [str(entry.pk)]


def test_formula_cells_are_defused(admin_api: APIClient, admin_user: User) -> None:
    audit.record(action="x.inject", outcome=AuditOutcome.SUCCESS, actor_username="=HYPERLINK(\"http://evil\")",
                 target_type="t", target_id="+1", target_repr="@SUM(A1)", detail={"n": 1})
    audit.record(action="x.inject", outcome=AuditOutcome.SUCCESS, actor_username="-2+3", target_repr="\tcmd")
    rows = _csv(admin_api.get("/api/audit/export/", {"action": "x.inject"}))
    assert rows[1]["actor"] == "'=HYPERLINK(\"http://evil\")"
    assert rows[1]["target_id"] == "'+1"
    assert rows[1]["target"] == "'@SUM(A1)"
    assert rows[0]["actor"] == "'-2+3"
    assert rows[0]["target"] == "'\tcmd"
    for row in rows:
        assert not any(value.startswith(("=", "+", "-", "@", "\t")) for value in row.values())


def test_export_refuses_more_rows_than_the_cap(admin_api: APIClient, world: dict[str, Any]) -> None:
    with override_settings(PORTAL_AUDIT_EXPORT_MAX_ROWS=3):
        response = admin_api.get("/api/audit/export/")
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "audit_export_too_large"
        assert body["params"] == {"limit": 3}
        failed = AuditRecord.objects.get(action="audit.exported")
        assert failed.outcome == "failure"
        assert failed.detail["code"] == "audit_export_too_large"
        response = admin_api.get("/api/audit/export/", {"cluster": world["cluster"].name})
        assert response.status_code == 200
        assert len(_csv(response)) == 2


def test_export_pages_through_many_rows(admin_api: APIClient, admin_user: User) -> None:
    AuditRecord.objects.bulk_create(
        AuditRecord(action="bulk.row", outcome=AuditOutcome.SUCCESS, actor_username=f"u{i}") for i in range(4500)
    )
    rows = _csv(admin_api.get("/api/audit/export/", {"action": "bulk.row"}))
    assert len(rows) == 4500
    ids = [int(r["id"]) for r in rows]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 4500


def test_only_admins_export(admin_api: APIClient, user_api: APIClient, api: APIClient) -> None:
    for role in ("operator", "auditor"):
        client = APIClient()
        client.force_authenticate(make_user(unique(role), role=role))
        response = client.get("/api/audit/export/")
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert user_api.get("/api/audit/export/").status_code == 403
    assert api.get("/api/audit/export/").status_code in (401, 403)
    assert not AuditRecord.objects.filter(action="audit.exported").exists()


def test_export_answers_accept_text_csv_and_bad_filters_are_json_400(admin_api: APIClient) -> None:
    response = admin_api.get("/api/audit/export/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert _csv(response) == []
    for params in ({"format": "csv"}, {"format": "xml"}):  # DRF's format override neither 404s nor 406s here
        assert admin_api.get("/api/audit/export/", params).status_code == 200
    response = admin_api.get("/api/audit/export/", {"outcome": "maybe"}, HTTP_ACCEPT="text/csv")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "outcome" in response.json()["errors"]


def test_scope_filters_read_only_ascii_digits_as_ids(admin_api: APIClient, world: dict[str, Any]) -> None:
    digits = "".join(chr(0x0660 + int(d)) for d in str(world["workspace"].pk))  # Arabic-Indic digits
    assert _actions(admin_api, workspace=digits) == []

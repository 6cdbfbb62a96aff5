"""The audit log: admin-only listing with filters and cursors, immutability, no secrets."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from rest_framework.test import APIClient

from portal import audit
from portal.models import AuditOutcome, AuditRecord

pytestmark = pytest.mark.django_db


def test_only_admins_read_the_audit_log(user_api: APIClient, admin_api: APIClient) -> None:
    response = user_api.get("/api/audit/")
    assert response.status_code == 403
    assert response.json() == {"detail": "Only system admins may do this.", "code": "permission_denied"}
    assert admin_api.get("/api/audit/").status_code == 200


def test_every_mutating_call_is_recorded_whatever_its_outcome(user_api: APIClient) -> None:
    user_api.post("/api/auth/tokens/", {"name": ""}, format="json")  # 400
    user_api.delete("/api/auth/tokens/999999/")  # 404
    user_api.put("/api/auth/me/", {}, format="json")  # 405
    rows = list(AuditRecord.objects.order_by("id").values("outcome", "status_code", "actor_username", "detail"))
    assert [r["status_code"] for r in rows] == [400, 404, 405]
    assert all(r["outcome"] == "failure" and r["actor_username"] == "alice" for r in rows)
    assert rows[0]["detail"]["fields"] == ["name"]


def test_filters_and_cursor_pagination(admin_api: APIClient, admin_user: object) -> None:
    for i in range(7):
        audit.record(action="token.create" if i % 2 else "auth.login", outcome=AuditOutcome.SUCCESS,
                     actor=admin_user, detail={"i": i})
    audit.record(action="auth.login_failed", outcome=AuditOutcome.DENIED, actor_username="mallory")
    response = admin_api.get("/api/audit/", {"action": "token.*"})
    assert {r["action"] for r in response.json()["results"]} == {"token.create"}
    assert len(response.json()["results"]) == 3
    response = admin_api.get("/api/audit/", {"actor": "MALLORY"})
    assert [r["action"] for r in response.json()["results"]] == ["auth.login_failed"]
    response = admin_api.get("/api/audit/", {"outcome": "denied"})
    assert len(response.json()["results"]) == 1
    response = admin_api.get("/api/audit/", {"outcome": "maybe"})
    assert response.status_code == 400
    assert "outcome" in response.json()["errors"]
    page = admin_api.get("/api/audit/", {"page_size": 3}).json()
    seen = [r["id"] for r in page["results"]]
    while page["next"]:
        page = admin_api.get(page["next"]).json()
        seen += [r["id"] for r in page["results"]]
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == AuditRecord.objects.count()


def test_records_are_immutable_even_in_sql(admin_user: object) -> None:
    entry = audit.record(action="x.test", outcome=AuditOutcome.SUCCESS, actor=admin_user)
    with pytest.raises(ValueError, match="immutable"):
        entry.save()
    with pytest.raises(ValueError, match="immutable"):
        entry.delete()
    for statement in ("UPDATE portal_auditrecord SET action = 'forged'", "DELETE FROM portal_auditrecord"):
        with pytest.raises(DatabaseError, match="immutable"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditRecord.objects.get().action == "x.test"


def test_deleting_a_user_keeps_their_history(user: object) -> None:
    audit.record(action="x.test", outcome=AuditOutcome.SUCCESS, actor=user)
    user.delete()  # type: ignore[attr-defined]
    assert AuditRecord.objects.get().actor_username == "alice"


def test_a_batch_writes_its_records_in_one_insert_and_announces_each(admin_user: object,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A rollout records one install per target inside :func:`audit.batched`: the records are
    written together when the block ends and each is announced with its id; a block that raises
    writes none of them."""
    from django.test.utils import CaptureQueriesContext

    announced: list[tuple[str, str, object]] = []
    monkeypatch.setattr(audit, "publish", lambda group, kind, data: announced.append((group, kind, data["id"])))
    with CaptureQueriesContext(connection) as captured, transaction.atomic(), audit.batched():
        entries = [audit.record(action=f"x.batch{n}", outcome=AuditOutcome.SUCCESS, actor=admin_user)
                   for n in range(3)]
        assert AuditRecord.objects.filter(action__startswith="x.batch").count() == 0
    inserts = [q["sql"] for q in captured.captured_queries if q["sql"].startswith('INSERT INTO "portal_auditrecord"')]
    assert len(inserts) == 1
    assert [e.pk for e in entries] == list(AuditRecord.objects.filter(action__startswith="x.batch").order_by(
        "action").values_list("pk", flat=True))
    assert announced == [("audit", "audit.created", e.pk) for e in entries]


    def refused() -> None:
        with transaction.atomic(), audit.batched():
            audit.record(action="x.lost", outcome=AuditOutcome.SUCCESS, actor=admin_user)
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        refused()
    assert not AuditRecord.objects.filter(action="x.lost").exists()

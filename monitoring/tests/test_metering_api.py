"""The metering report and price sheets over the API: who sees what (a member only their
workspaces and no idle capacity; admins and operators everything), CSV, bad input as 400 with
codes, price sheet writes for admins only, validated and audited."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from rest_framework.test import APIClient

from monitoring.models import PriceSheet
from monitoring.tests import metering_seed as seed
from portal.models import AuditRecord

pytestmark = pytest.mark.django_db
URL = "/api/monitoring/metering/"
PRICES = "/api/monitoring/prices/"


@pytest.fixture
def fleet() -> seed.Fleet:
    f = seed.fleet()
    seed.prices(f)
    seed.october(f)
    return f


def _rows(body: dict[str, Any]) -> dict[Any, dict[str, Any]]:
    return {(r["workspace"] or {}).get("name"): r for r in body["rows"]}


def test_admin_sees_every_workspace_and_idle(admin_api: APIClient, fleet: seed.Fleet) -> None:
    response = admin_api.get(URL, {"month": "2026-10"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["group"] == "workspace"
    assert body["month"] == "2026-10"
    rows = _rows(body)
    assert set(rows) == {"shop", "blog", None}
    for name, expected in seed.WORKSPACES.items():
        assert rows[name]["costs"] == expected["costs"]
        for key, value in expected.items():
            if key != "costs":
                assert rows[name][key] == pytest.approx(value)
    assert rows["shop"]["cost"] is None
    assert rows["shop"]["currency"] == ""
    assert rows["blog"]["cost"] == "480"
    assert rows["blog"]["currency"] == "KRW"
    assert body["totals"]["costs"] == {"KRW": "781", "USD": "0.24"}
    assert body["totals"]["cpu_core_hours_billed"] == pytest.approx(7.65)
    idle = {r["cluster"]["name"]: r for r in body["idle"]}
    assert idle["seoul"]["cpu_core_hours_idle"] == pytest.approx(12.35)
    assert idle["seoul"]["cost"] == "2579"
    assert idle["virginia"]["costs"] == {"USD": "0.72"}
    assert body["totals"]["idle"]["costs"] == {"KRW": "2579", "USD": "0.72"}


def test_operator_sees_everything(operator_user: Any, fleet: seed.Fleet) -> None:
    client = APIClient()
    client.force_authenticate(operator_user)
    body = client.get(URL, {"month": "2026-10", "group": "cluster"}).json()
    assert {r["cluster"]["name"] for r in body["rows"]} == {"seoul", "virginia"}
    assert body["idle"] is not None


def test_member_sees_only_their_workspaces_and_no_idle(user: Any, user_api: APIClient, fleet: seed.Fleet) -> None:
    seed.member(user, fleet.shop)
    for group in ("workspace", "servicemap", "workload", "cluster"):
        body = user_api.get(URL, {"month": "2026-10", "group": group}).json()
        assert body["idle"] is None, group
        assert "idle" not in body["totals"], group
        assert body["totals"]["cpu_core_hours_billed"] == pytest.approx(5.55), group
        assert body["totals"]["costs"] == {"KRW": "290", "USD": "0.24"}, group
        if group != "cluster":
            assert {r["workspace"]["name"] for r in body["rows"]} == {"shop"}, group
    # another workspace, or a service map of it, is 404 as if it did not exist
    assert user_api.get(URL, {"month": "2026-10", "workspace": str(fleet.blog.pk)}).status_code == 404
    assert user_api.get(URL, {"month": "2026-10", "service_map": str(fleet.blog_map.pk)}).status_code == 404
    # a cluster filter narrows their own rows, nothing more
    body = user_api.get(URL, {"month": "2026-10", "cluster": str(fleet.seoul.pk)}).json()
    assert body["totals"]["cpu_core_hours_billed"] == pytest.approx(1.55)
    assert body["idle"] is None


def test_outsider_sees_nothing(user_api: APIClient, fleet: seed.Fleet) -> None:
    body = user_api.get(URL, {"month": "2026-10"}).json()
    assert body["rows"] == []
    assert body["idle"] is None
    assert body["totals"]["costs"] == {}


def test_anonymous_is_401(api: APIClient) -> None:
    assert api.get(URL).status_code == 401


def test_csv(admin_api: APIClient, fleet: seed.Fleet) -> None:
    response = admin_api.get(URL, {"month": "2026-10", "group": "workload", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="metering-2026-10-workload.csv"'
    lines = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    assert len(lines) == 6
    assert {"cost_KRW", "cost_USD", "cpu_core_hours_billed", "workload"} <= set(lines[0])
    web = next(r for r in lines if r["workload"] == "web" and r["cluster"] == "seoul")
    assert web["namespace"] == "shop"
    assert web["workspace"] == "shop"
    assert web["cost_KRW"] == "245"
    assert web["cost_USD"] == ""
    assert sum(float(r["cpu_core_hours_billed"]) for r in lines) == pytest.approx(7.65)
    by_cluster = admin_api.get(URL, {"month": "2026-10", "group": "cluster", "format": "csv"})
    clusters = {r["cluster"]: r for r in csv.DictReader(io.StringIO(by_cluster.content.decode()))}
    assert float(clusters["seoul"]["cpu_core_hours_idle"]) == pytest.approx(12.35)


def test_member_csv_has_no_idle_columns(user: Any, user_api: APIClient, fleet: seed.Fleet) -> None:
    seed.member(user, fleet.shop)
    response = user_api.get(URL, {"month": "2026-10", "group": "cluster", "format": "csv"})
    header = response.content.decode().splitlines()[0]
    assert "idle" not in header
    assert "allocatable" not in header


@pytest.mark.parametrize(("params", "code"), [
    ({"month": "2026-13"}, "invalid_month"), ({"month": "October"}, "invalid_month"),
    ({"month": "2999-01"}, "invalid_month"), ({"group": "namespace"}, "invalid_group"),
    ({"format": "xml"}, "invalid_format"), ({"workspace": "x"}, "invalid"),
])
def test_bad_input_is_400_with_a_code(admin_api: APIClient, params: dict[str, str], code: str) -> None:
    response = admin_api.get(URL, params)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code


# ---------------------------------------------------------------------------- prices


def _sheet(**over: Any) -> dict[str, Any]:
    return {"name": "seoul list", "provider": "eks", "currency": "KRW", "cpu_core_hour": "45.5",
            "memory_gib_hour": "6", "effective_from": "2026-11-01", **over}


def test_admin_manages_price_sheets_with_audit(admin_api: APIClient) -> None:
    created = admin_api.post(PRICES, _sheet(), format="json")
    assert created.status_code == 201, created.content
    sheet = created.json()
    assert sheet["cpu_core_hour"] == "45.500000"
    assert sheet["provider"] == "eks"
    assert sheet["cluster"] is None
    changed = admin_api.patch(f"{PRICES}{sheet['id']}/", {"cpu_core_hour": "50", "currency": "USD"}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["cpu_core_hour"] == "50.000000"
    assert changed.json()["currency"] == "USD"
    listed = admin_api.get(PRICES).json()
    assert [s["id"] for s in listed["results"]] == [sheet["id"]]
    assert admin_api.delete(f"{PRICES}{sheet['id']}/").status_code == 204
    assert not PriceSheet.objects.exists()
    actions = list(AuditRecord.objects.filter(action__startswith="monitoring.price.").values_list("action", flat=True))
    assert sorted(actions) == ["monitoring.price.create", "monitoring.price.delete", "monitoring.price.update"]


def test_cluster_sheet_replaces_provider(admin_api: APIClient, fleet: seed.Fleet) -> None:
    sheet = admin_api.post(PRICES, _sheet(), format="json").json()
    moved = admin_api.patch(f"{PRICES}{sheet['id']}/", {"cluster": fleet.seoul.pk}, format="json")
    assert moved.status_code == 200, moved.content
    assert moved.json()["cluster"] == {"id": fleet.seoul.pk, "name": "seoul"}
    assert moved.json()["provider"] == ""


def test_members_read_but_do_not_write_prices(user_api: APIClient, admin_api: APIClient) -> None:
    sheet = admin_api.post(PRICES, _sheet(), format="json").json()
    assert user_api.get(PRICES).status_code == 200
    assert user_api.get(f"{PRICES}{sheet['id']}/").status_code == 200
    for response in (user_api.post(PRICES, _sheet(effective_from="2026-12-01"), format="json"),
                     user_api.patch(f"{PRICES}{sheet['id']}/", {"name": "x"}, format="json"),
                     user_api.delete(f"{PRICES}{sheet['id']}/")):
        assert response.status_code == 403
        assert response.json()["code"] == "admin_required"
    assert PriceSheet.objects.get().name == "seoul list"


@pytest.mark.parametrize(("over", "code"), [
    ({"cpu_core_hour": "-1"}, "price_invalid"),
    ({"cpu_core_hour": "0", "memory_gib_hour": "0"}, "price_invalid"),
    ({"cpu_core_hour": "abc"}, "invalid"),
    ({"currency": "XYZ"}, "currency_invalid"),
    ({"provider": ""}, "price_scope_invalid"),
    ({"provider": "mars"}, "price_scope_invalid"),
    ({"cluster": 999999, "provider": ""}, "price_scope_invalid"),
    ({"effective_from": "2026-13-01"}, "effective_from_invalid"),
    ({"effective_from": "1999-12-31"}, "effective_from_invalid"),
    ({"name": "  "}, "blank"),
    ({"surprise": 1}, "invalid"),
])
def test_price_validation(admin_api: APIClient, over: dict[str, Any], code: str) -> None:
    response = admin_api.post(PRICES, _sheet(**over), format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not PriceSheet.objects.exists()


def test_cluster_and_provider_together_is_400(admin_api: APIClient, fleet: seed.Fleet) -> None:
    response = admin_api.post(PRICES, _sheet(cluster=fleet.seoul.pk), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "price_scope_invalid"


def test_duplicate_start_is_409(admin_api: APIClient) -> None:
    assert admin_api.post(PRICES, _sheet(), format="json").status_code == 201
    response = admin_api.post(PRICES, _sheet(name="again"), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "price_sheet_duplicate"

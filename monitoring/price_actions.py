"""Writer of price sheets (issue 14, docs/metering.md): create, change and delete the price of a
core-hour and a GiB-hour for one cluster or for every cluster of a provider, from a date.

Admins only (:func:`monitoring.access.require_manage_prices`, asked here as well as by the view).
Every input is checked before a row is touched, so bad input is a 400 naming the field with a
stable ``code``: prices are decimals of at most 8 integer and 6 fractional digits, not negative and
not both zero (``price_invalid``); the currency one of :class:`~monitoring.models.Currency`
(``currency_invalid``); exactly one of a cluster and a provider (``price_scope_invalid``); the date
not before 2000 (``effective_from_invalid``). Two sheets for the same cluster or provider from the
same day would make the price in force ambiguous: 409 ``price_sheet_duplicate``. Each write is
one transaction with its audit record (``monitoring.price.create|update|delete``, the before and
after prices in the detail).
"""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from clusters.models import Cluster, Provider
from monitoring import access
from monitoring.models import Currency, PriceSheet
from portal import audit, errors
from portal.models import AuditOutcome

MAX_PRICE = Decimal("99999999.999999")
FIELDS = ("name", "cluster", "provider", "currency", "cpu_core_hour", "memory_gib_hour", "effective_from")


def _invalid(field: str, message: str, code: str, params: dict[str, Any] | None = None) -> errors.Invalid:
    return errors.Invalid(f"Invalid input: {field}: {message}", code=code, params=params or {"field": field},
                          errors={field: [message]})


def _audit(request: HttpRequest | None, user: Any, *, action: str, target: PriceSheet, detail: dict[str, Any]) -> None:
    if request is not None:
        audit.describe(request, action=action, target=target, detail=detail)
    else:
        audit.record(action=action, outcome=AuditOutcome.SUCCESS, actor=user, target=target, detail=detail)


def _price(field: str, value: Any) -> Decimal:
    try:
        price = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise _invalid(field, "Give a decimal number such as 45.5.", "price_invalid") from None
    if not price.is_finite() or price < 0 or price > MAX_PRICE:
        raise _invalid(field, f"Give a price from 0 to {MAX_PRICE}.", "price_invalid")
    if price != price.quantize(Decimal("0.000001")):
        raise _invalid(field, "Give at most 6 decimal places.", "price_invalid")
    return price


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Check a complete set of fields; returns them normalized."""
    name = str(values.get("name") or "").strip()
    if not name or len(name) > 100:
        raise _invalid("name", "Give a name of 1 to 100 characters.", "invalid")
    currency = values.get("currency")
    if currency not in Currency.values:
        raise _invalid("currency", f"Choose one of {', '.join(Currency.values)}.", "currency_invalid",
                       {"choices": list(Currency.values)})
    cpu = _price("cpu_core_hour", values.get("cpu_core_hour"))
    memory = _price("memory_gib_hour", values.get("memory_gib_hour"))
    if cpu == 0 and memory == 0:
        raise _invalid("cpu_core_hour", "Give a price above zero for CPU or memory.", "price_invalid")
    cluster = values.get("cluster")
    provider = str(values.get("provider") or "")
    if (cluster is None) == (provider == ""):
        raise _invalid("cluster", "Give either a cluster or a provider, not both.", "price_scope_invalid")
    if provider and provider not in Provider.values:
        raise _invalid("provider", f"Choose one of {', '.join(Provider.values)}.", "price_scope_invalid",
                       {"choices": list(Provider.values)})
    if cluster is not None and not isinstance(cluster, Cluster):
        try:
            cluster = Cluster.objects.get(pk=int(cluster))
        except (TypeError, ValueError, Cluster.DoesNotExist):
            raise _invalid("cluster", "No such cluster.", "price_scope_invalid") from None
    effective = values.get("effective_from")
    if isinstance(effective, str):
        try:
            effective = datetime.date.fromisoformat(effective)
        except ValueError:
            effective = None
    if not isinstance(effective, datetime.date) or isinstance(effective, datetime.datetime) \
            or effective < datetime.date(2000, 1, 1):
        raise _invalid("effective_from", "Give the first day the prices apply as YYYY-MM-DD (2000 or later).",
                       "effective_from_invalid")
    return {"name": name, "currency": currency, "cpu_core_hour": cpu, "memory_gib_hour": memory,
            "cluster": cluster, "provider": provider, "effective_from": effective}


def _check_unique(clean: dict[str, Any], exclude: int | None) -> None:
    others = PriceSheet.objects.filter(effective_from=clean["effective_from"])
    others = others.filter(cluster=clean["cluster"]) if clean["cluster"] is not None else others.filter(
        cluster__isnull=True, provider=clean["provider"])
    if exclude is not None:
        others = others.exclude(pk=exclude)
    if others.exists():
        raise errors.Conflict("A price sheet for the same cluster or provider already starts that day; change it "
                              "or pick another date.", code="price_sheet_duplicate",
                              params={"effective_from": clean["effective_from"].isoformat()})


def snapshot(sheet: PriceSheet) -> dict[str, Any]:
    return {"name": sheet.name, "cluster": sheet.cluster_id, "provider": sheet.provider, "currency": sheet.currency,
            "cpu_core_hour": str(sheet.cpu_core_hour), "memory_gib_hour": str(sheet.memory_gib_hour),
            "effective_from": sheet.effective_from.isoformat()}


def create_sheet(*, user: Any, request: HttpRequest | None = None, **values: Any) -> PriceSheet:
    access.require_manage_prices(user)
    clean = _clean({"currency": Currency.KRW, **values})
    with transaction.atomic():
        _check_unique(clean, None)
        sheet = PriceSheet.objects.create(**clean, created_by=user if getattr(user, "is_authenticated", False)
                                          else None)
        _audit(request, user, action="monitoring.price.create", target=sheet, detail={"after": snapshot(sheet)})
    return sheet


def update_sheet(*, sheet: PriceSheet, user: Any, request: HttpRequest | None = None, **changes: Any) -> PriceSheet:
    """Change some fields; setting ``cluster`` clears ``provider`` and the other way round."""
    access.require_manage_prices(user)
    with transaction.atomic():
        locked = PriceSheet.objects.select_for_update().get(pk=sheet.pk)
        before = snapshot(locked)
        merged: dict[str, Any] = {f: getattr(locked, f) for f in FIELDS}
        if "cluster" in changes and changes["cluster"] is not None:
            merged["provider"] = ""
        if changes.get("provider"):
            merged["cluster"] = None
        merged.update(changes)
        clean = _clean(merged)
        _check_unique(clean, locked.pk)
        for name, value in clean.items():
            setattr(locked, name, value)
        locked.save()
        _audit(request, user, action="monitoring.price.update", target=locked,
               detail={"before": before, "after": snapshot(locked)})
    return locked


def delete_sheet(*, sheet: PriceSheet, user: Any, request: HttpRequest | None = None) -> None:
    access.require_manage_prices(user)
    with transaction.atomic():
        locked = PriceSheet.objects.select_for_update().filter(pk=sheet.pk).first()
        if locked is None:
            return
        _audit(request, user, action="monitoring.price.delete", target=locked, detail={"before": snapshot(locked)})
        locked.delete()

"""Metering and price sheets (issue 14, docs/metering.md).

* ``GET /api/monitoring/metering/?month=YYYY-MM&group=workspace|servicemap|workload|cluster``
  ``&workspace=&cluster=&service_map=&format=json|csv``: the month's report from
  :func:`monitoring.metering.report`. Members see only their workspaces' rows and no idle
  capacity (:func:`monitoring.access.metering_workspace_ids`); those who read every cluster see
  everything, pods under no workspace included, and idle capacity per cluster. A workspace or
  service map filter the caller does not see is 404. ``format=csv`` answers an attachment
  (UTF-8 with a header row; costs in one column per currency; the cluster grouping adds the
  allocatable and idle columns for those who see them). Bad month, group or format: 400
  (``invalid_month``, ``invalid_group``, ``invalid_format``).
* ``/api/monitoring/prices/``: price sheets; everyone signed in reads them, admins create, change
  and delete (:mod:`monitoring.price_actions`, audited).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any, ClassVar

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring import access, metering, price_actions
from monitoring.models import PriceSheet
from portal import errors
from portal.api.serializers import StrictCharField, StrictSerializer

ERRORS = {
    400: OpenApiResponse(description="Invalid input (`invalid_month`, `invalid_group`, `invalid_format`, "
                                     "`price_invalid`, `currency_invalid`, `price_scope_invalid`, "
                                     "`effective_from_invalid`); `errors` names the field"),
    403: OpenApiResponse(description="Only system admins manage price sheets"),
    404: OpenApiResponse(description="No such workspace, service map or price sheet (or not visible to you)"),
    409: OpenApiResponse(description="`price_sheet_duplicate`: a sheet for the same cluster or provider starts that day"),
}
FORMATS = ("json", "csv")


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _money(costs: dict[str, Decimal]) -> dict[str, str]:
    return {currency: str(amount) for currency, amount in costs.items()}


def _single(costs: dict[str, Decimal]) -> tuple[str | None, str]:
    if len(costs) == 1:
        currency, amount = next(iter(costs.items()))
        return str(amount), currency
    return None, ""


def _id(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.Invalid(f"Invalid input: {name}: give a number.", code="invalid",
                             errors={name: ["Give a number."]}) from None


# ---------------------------------------------------------------------------- shapes

_AMOUNT_FIELDS = {name: serializers.FloatField() for name in metering.AMOUNTS}
_REF = inline_serializer("MeteringRef", fields={"id": serializers.IntegerField(), "name": StrictCharField()})
MeteringRowSerializer = inline_serializer("MeteringRow", fields={
    "workspace": inline_serializer("MeteringWorkspaceRef", fields={
        "id": serializers.IntegerField(), "name": StrictCharField(), "display_name": StrictCharField()},
        allow_null=True),
    "cluster": inline_serializer("MeteringClusterRef", fields={
        "id": serializers.IntegerField(), "name": StrictCharField()}, allow_null=True),
    "service_map": inline_serializer("MeteringServiceMapRef", fields={
        "id": serializers.IntegerField(), "namespace": StrictCharField(), "display_name": StrictCharField()},
        allow_null=True),
    "workload": inline_serializer("MeteringWorkloadRef", fields={
        "namespace": StrictCharField(), "kind": StrictCharField(), "name": StrictCharField()}, allow_null=True),
    **_AMOUNT_FIELDS,
    "cost": StrictCharField(allow_null=True, help_text="decimal; null when no price applied or several currencies"),
    "currency": StrictCharField(help_text="the currency of `cost`; empty when none or several"),
    "costs": serializers.DictField(child=StrictCharField(), help_text="cost per currency (decimal strings)"),
    "unpriced": serializers.BooleanField(help_text="some billed hours fell where no price sheet was in force"),
})
IdleRowSerializer = inline_serializer("MeteringIdleRow", fields={
    "cluster": inline_serializer("MeteringIdleClusterRef", fields={
        "id": serializers.IntegerField(), "name": StrictCharField()}),
    **{name: serializers.FloatField() for name in metering.IDLE_AMOUNTS},
    "cost": StrictCharField(allow_null=True), "currency": StrictCharField(),
    "costs": serializers.DictField(child=StrictCharField()), "unpriced": serializers.BooleanField(),
})
MeteringReportSerializer = inline_serializer("MeteringReport", fields={
    "month": StrictCharField(), "group": StrictCharField(),
    "start": serializers.DateTimeField(), "end": serializers.DateTimeField(help_text="end of month, or now"),
    "sources": serializers.DictField(child=serializers.DateTimeField(), help_text=(
        "hourly roll-ups answer before `hourly_until`, 5-minute ones before `fine_until`, raw samples after")),
    "currencies": serializers.ListField(child=StrictCharField()),
    "rows": serializers.ListField(child=MeteringRowSerializer),
    "totals": serializers.DictField(help_text="the six amounts, `costs` per currency, `unpriced`, and `idle` "
                                              "(for those who see infrastructure)"),
    "idle": serializers.ListField(child=IdleRowSerializer, allow_null=True, help_text="per cluster; null: not shown to you"),
})


def row_json(row: metering.Row) -> dict[str, Any]:
    cost, currency = _single(row.costs)
    return {"workspace": row.workspace, "cluster": row.cluster, "service_map": row.service_map,
            "workload": row.workload, **row.amounts, "cost": cost, "currency": currency, "costs": _money(row.costs),
            "unpriced": row.unpriced}


def idle_json(row: metering.IdleRow) -> dict[str, Any]:
    cost, currency = _single(row.costs)
    return {"cluster": row.cluster, **row.amounts, "cost": cost, "currency": currency, "costs": _money(row.costs),
            "unpriced": row.unpriced}


def report_json(report: metering.Report) -> dict[str, Any]:
    totals = dict(report.totals)
    totals["costs"] = _money(totals["costs"])
    if "idle" in totals:
        totals["idle"] = {**totals["idle"], "costs": _money(totals["idle"]["costs"])}
    return {"month": report.month, "group": report.group, "start": _iso(report.start), "end": _iso(report.end),
            "sources": {"hourly_until": _iso(report.window.hourly_until), "fine_until": _iso(report.window.fine_until)},
            "currencies": report.currencies, "rows": [row_json(r) for r in report.rows], "totals": totals,
            "idle": None if report.idle is None else [idle_json(r) for r in report.idle]}


def report_csv(report: metering.Report) -> str:
    """One line per row; costs one column per currency of the report."""
    idle = {r.cluster["id"]: r for r in report.idle or ()} if report.group == "cluster" else {}
    idle_columns = ["cpu_core_hours_allocatable", "cpu_core_hours_idle", "memory_gib_hours_allocatable",
                    "memory_gib_hours_idle"] if report.idle is not None and report.group == "cluster" else []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["month", "workspace_id", "workspace", "cluster_id", "cluster", "service_map_id", "service_map",
                     "namespace", "workload_kind", "workload", *metering.AMOUNTS,
                     *(f"cost_{c}" for c in report.currencies), "unpriced", *idle_columns])
    for row in report.rows:
        ws, cl, sm, wl = row.workspace or {}, row.cluster or {}, row.service_map or {}, row.workload or {}
        line = [report.month, ws.get("id", ""), ws.get("name", ""), cl.get("id", ""), cl.get("name", ""),
                sm.get("id", ""), sm.get("display_name") or sm.get("namespace", ""),
                wl.get("namespace", sm.get("namespace", "")), wl.get("kind", ""),
                wl.get("name", ""), *(row.amounts[a] for a in metering.AMOUNTS),
                *(str(row.costs[c]) if c in row.costs else "" for c in report.currencies),
                "yes" if row.unpriced else ""]
        if idle_columns:
            spare = idle.get(cl.get("id"))
            line += [spare.amounts[c] if spare else "" for c in idle_columns]
        writer.writerow([_cell(v) for v in line])
    return out.getvalue()


def _cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula is quoted with a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# ---------------------------------------------------------------------------- metering


class MeteringView(APIView):
    permission_classes = [IsAuthenticated]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
        # ``format`` is this endpoint's own parameter (json|csv), checked below; never a 404.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        parameters=[
            OpenApiParameter("month", OpenApiTypes.STR, description="YYYY-MM (UTC); default the current month"),
            OpenApiParameter("group", OpenApiTypes.STR, enum=list(metering.GROUPS),
                             description="rows by workspace (default), service map, workload or cluster"),
            OpenApiParameter("workspace", OpenApiTypes.INT), OpenApiParameter("cluster", OpenApiTypes.INT),
            OpenApiParameter("service_map", OpenApiTypes.INT),
            OpenApiParameter("format", OpenApiTypes.STR, enum=list(FORMATS),
                             description="json (default) or csv (an attachment)"),
        ],
        responses={200: MeteringReportSerializer, 400: ERRORS[400], 404: ERRORS[404]},
        summary="The month's metering report (requested, used and billed hours; idle; cost)")
    def get(self, request: Request) -> Response | HttpResponse:
        params = request.query_params
        fmt = params.get("format") or "json"
        if fmt not in FORMATS:
            raise errors.Invalid("Invalid input: format: give json or csv.", code="invalid_format",
                                 params={"format": fmt[:20]}, errors={"format": ["Give json or csv."]})
        metering.parse_month(params.get("month"))
        metering.parse_group(params.get("group"))
        user = request.user
        workspace_id = _id(params.get("workspace"), "workspace")
        service_map_id = _id(params.get("service_map"), "service_map")
        cluster_id = _id(params.get("cluster"), "cluster")
        if workspace_id is not None:
            access.workspace(user, workspace_id)
        if service_map_id is not None:
            access.service_map(user, service_map_id)
        report = metering.report(month=params.get("month"), group=params.get("group"),
                                 workspace_ids=access.metering_workspace_ids(user), workspace_id=workspace_id,
                                 cluster_id=cluster_id, service_map_id=service_map_id)
        if fmt == "csv":
            response = HttpResponse(report_csv(report).encode("utf-8"), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="metering-{report.month}-{report.group}.csv"'
            return response
        return Response(report_json(report))


# ---------------------------------------------------------------------------- prices


class PriceSheetSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = StrictCharField()
    cluster = inline_serializer("PriceSheetClusterRef", fields={"id": serializers.IntegerField(),
                                                                "name": StrictCharField()}, allow_null=True)
    provider = StrictCharField()
    currency = StrictCharField()
    cpu_core_hour = StrictCharField(help_text="decimal, per core-hour")
    memory_gib_hour = StrictCharField(help_text="decimal, per GiB-hour")
    effective_from = serializers.DateField()
    created_by = StrictCharField(allow_null=True)
    created = serializers.DateTimeField()
    updated = serializers.DateTimeField()


class PriceSheetWriteSerializer(StrictSerializer):
    name = StrictCharField(max_length=100)
    cluster = serializers.IntegerField(allow_null=True, required=False, default=None)
    provider = StrictCharField(allow_blank=True, required=False, default="", max_length=16)
    currency = StrictCharField(max_length=3, required=False, default="KRW")
    cpu_core_hour = serializers.DecimalField(max_digits=14, decimal_places=6, coerce_to_string=False)
    memory_gib_hour = serializers.DecimalField(max_digits=14, decimal_places=6, coerce_to_string=False)
    effective_from = StrictCharField(max_length=10, help_text="YYYY-MM-DD (UTC)")


class PriceSheetPatchSerializer(PriceSheetWriteSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, partial=True, **kwargs)  # partial: absent fields keep their value


def price_row(sheet: PriceSheet) -> dict[str, Any]:
    return {"id": sheet.pk, "name": sheet.name,
            "cluster": {"id": sheet.cluster_id, "name": sheet.cluster.name} if sheet.cluster is not None else None,
            "provider": sheet.provider, "currency": sheet.currency, "cpu_core_hour": str(sheet.cpu_core_hour),
            "memory_gib_hour": str(sheet.memory_gib_hour), "effective_from": sheet.effective_from.isoformat(),
            "created_by": sheet.created_by.get_username() if sheet.created_by is not None else None,
            "created": _iso(sheet.created), "updated": _iso(sheet.updated)}


class PriceSheetViewSet(viewsets.GenericViewSet[PriceSheet]):
    """Price sheets: read by everyone signed in, written by admins."""

    queryset = PriceSheet.objects.none()
    serializer_class = PriceSheetSerializer
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "delete", "head", "options"]  # type: ignore[misc]

    def get_queryset(self) -> Any:
        return access.visible_price_sheets(self.request.user).select_related("cluster", "created_by")

    @extend_schema(responses={200: PriceSheetSerializer(many=True)})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        return self.get_paginated_response([price_row(s) for s in page])

    @extend_schema(responses={200: PriceSheetSerializer, 404: ERRORS[404]})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(price_row(self.get_object()))

    @extend_schema(request=PriceSheetWriteSerializer, responses={201: PriceSheetSerializer, **ERRORS})
    def create(self, request: Request) -> Response:
        access.require_manage_prices(request.user)
        body = PriceSheetWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        sheet = price_actions.create_sheet(user=request.user, request=request._request, **body.validated_data)
        return Response(price_row(PriceSheet.objects.select_related("cluster", "created_by").get(pk=sheet.pk)),
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=PriceSheetPatchSerializer, responses={200: PriceSheetSerializer, **ERRORS})
    def partial_update(self, request: Request, pk: str) -> Response:
        sheet = self.get_object()
        access.require_manage_prices(request.user)
        body = PriceSheetPatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        price_actions.update_sheet(sheet=sheet, user=request.user, request=request._request,
                                   **body.validated_data)
        return Response(price_row(PriceSheet.objects.select_related("cluster", "created_by").get(pk=sheet.pk)))

    @extend_schema(responses={204: None, 403: ERRORS[403], 404: ERRORS[404]})
    def destroy(self, request: Request, pk: str) -> Response:
        sheet = self.get_object()
        access.require_manage_prices(request.user)
        price_actions.delete_sheet(sheet=sheet, user=request.user, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

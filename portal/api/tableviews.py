"""Saved column sets of the console's tables, per user (``/api/account/table-views/``).

A user names the set of columns they want in a table (``clusters``, ``cluster.pods`` …) and may
mark one set per table as the default the table opens with. Each user sees and changes only
their own sets (someone else's id answers 404). A preference, not a security event: not audited.
Limits: table key ``^[a-z][a-z0-9._-]{0,63}$``, name 1 to 64 characters, at most 60 column ids
``^[A-Za-z0-9_.:-]{1,64}$``, at most 20 sets per user and table. docs/console.md.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import errors
from portal.models import TableView, User

TABLE_KEY = re.compile(r"^[a-z][a-z0-9._-]{0,63}\Z")
COLUMN_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")
MAX_NAME = 64
MAX_COLUMNS = 60
MAX_VIEWS = 20


class TableViewSerializer(serializers.ModelSerializer[TableView]):
    columns = serializers.ListField(child=serializers.CharField(max_length=64), max_length=MAX_COLUMNS,
                                    help_text="Column ids in the order shown.")

    class Meta:
        model = TableView
        fields: ClassVar[list[str]] = ["id", "table", "name", "columns", "is_default", "updated"]
        read_only_fields: ClassVar[list[str]] = ["id", "updated"]


class TableViewWriteSerializer(serializers.Serializer[Any]):
    """The body of POST (``table``, ``name``, ``columns`` required) and PATCH (any of name/columns/is_default)."""

    table = serializers.CharField(required=False, max_length=64)
    name = serializers.CharField(required=False, max_length=MAX_NAME)
    columns = serializers.ListField(child=serializers.CharField(max_length=64), max_length=MAX_COLUMNS, required=False)
    is_default = serializers.BooleanField(required=False)


# --- validation (stable codes, messages a person can act on) ------------------------------------


def clean_table(value: object) -> str:
    if not isinstance(value, str) or not TABLE_KEY.match(value):
        raise errors.Invalid(
            "The table key must start with a lowercase letter and use only lowercase letters, digits, "
            "'.', '_' and '-' (at most 64 characters).",
            code="table_view_table_invalid", errors={"table": ["Use a key such as clusters or cluster.pods."]},
        )
    return value


def clean_name(value: object) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > MAX_NAME or "\x00" in name:
        raise errors.Invalid(
            f"Give the column set a name of 1 to {MAX_NAME} characters.",
            code="table_view_name_invalid", params={"max": MAX_NAME},
            errors={"name": [f"1 to {MAX_NAME} characters."]},
        )
    return name


def clean_columns(value: object) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > MAX_COLUMNS:
        raise errors.Invalid(
            f"Choose between 1 and {MAX_COLUMNS} columns.",
            code="table_view_columns_invalid", params={"max": MAX_COLUMNS},
            errors={"columns": [f"A list of 1 to {MAX_COLUMNS} column ids."]},
        )
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not COLUMN_ID.match(item):
            raise errors.Invalid(
                "A column id may use only letters, digits, '_', '.', ':' and '-' (at most 64 characters).",
                code="table_view_column_invalid", errors={"columns": ["Unknown column id format."]},
            )
        if item not in out:
            out.append(item)
    return out


def clean_bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise errors.Invalid(f"{field} must be true or false.", code="invalid", errors={field: ["true or false."]})
    return value


def _body(request: Request) -> dict[str, Any]:
    data = request.data
    if not isinstance(data, dict):
        raise errors.Invalid("Send a JSON object.", code="invalid")
    unknown = sorted(set(data) - {"table", "name", "columns", "is_default"})
    if unknown:
        raise errors.Invalid(
            f"Unknown field: {unknown[0]}.", code="table_view_unknown_field", params={"field": unknown[0]},
            errors={unknown[0]: ["Not a field of a column set."]},
        )
    return data


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _lock_user(user: User) -> None:
    """Serialise one user's writes (the limit and the single default hold under concurrent requests)."""
    User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()


def _save(view: TableView, *, fields: list[str] | None = None) -> None:
    try:
        with transaction.atomic():
            if view.is_default:
                TableView.objects.filter(user_id=view.user_id, table=view.table, is_default=True).exclude(
                    pk=view.pk
                ).update(is_default=False)
            view.save(update_fields=fields)
    except IntegrityError as exc:
        raise errors.Conflict(
            f"You already have a column set named \u201c{view.name}\u201d for this table; choose another name.",
            code="table_view_name_taken", params={"name": view.name}, errors={"name": ["Already used."]},
        ) from exc


def own_views(user: User) -> QuerySet[TableView]:
    return TableView.objects.filter(user=user)


# --- views ----------------------------------------------------------------------------------------


class TableViewListView(APIView):
    """The caller's saved column sets of one table; POST saves a new one."""

    @extend_schema(
        parameters=[OpenApiParameter("table", OpenApiTypes.STR, required=True, description="The table's key.")],
        responses=TableViewSerializer(many=True), operation_id="account_table_views_list",
    )
    def get(self, request: Request) -> Response:
        table = request.query_params.get("table")
        if table is None:
            raise errors.Invalid(
                "Say which table: ?table=<key>.", code="table_view_table_required",
                errors={"table": ["Required."]},
            )
        table = clean_table(table)
        views = own_views(_user(request)).filter(table=table).order_by("name", "id")[:MAX_VIEWS]
        return Response(TableViewSerializer(views, many=True).data)

    @extend_schema(request=TableViewWriteSerializer, responses={201: TableViewSerializer},
                   operation_id="account_table_views_create")
    def post(self, request: Request) -> Response:
        data = _body(request)
        user = _user(request)
        missing = [f for f in ("table", "name", "columns") if f not in data]
        if missing:
            raise errors.Invalid(
                f"Missing field: {missing[0]}.", code="required", params={"field": missing[0]},
                errors={f: ["Required."] for f in missing},
            )
        table = clean_table(data["table"])
        view = TableView(
            user=user, table=table, name=clean_name(data["name"]), columns=clean_columns(data["columns"]),
            is_default=clean_bool(data.get("is_default", False), "is_default"),
        )
        with transaction.atomic():
            _lock_user(user)
            if own_views(user).filter(table=table).count() >= MAX_VIEWS:
                raise errors.Invalid(
                    f"You can keep at most {MAX_VIEWS} column sets per table; delete one first.",
                    code="table_view_limit", params={"max": MAX_VIEWS},
                )
            _save(view)
        return Response(TableViewSerializer(view).data, status=status.HTTP_201_CREATED)


class TableViewDetailView(APIView):
    """One of the caller's column sets: rename, change columns, make (or stop being) the default, delete."""

    def _get(self, request: Request, pk: int) -> TableView:
        view = own_views(_user(request)).filter(pk=pk).first()
        if view is None:
            raise errors.NotFound("No such column set.", code="not_found")
        return view

    @extend_schema(responses=TableViewSerializer, operation_id="account_table_views_retrieve")
    def get(self, request: Request, pk: int) -> Response:
        return Response(TableViewSerializer(self._get(request, pk)).data)

    @extend_schema(request=TableViewWriteSerializer, responses=TableViewSerializer,
                   operation_id="account_table_views_partial_update")
    def patch(self, request: Request, pk: int) -> Response:
        data = _body(request)
        user = _user(request)
        with transaction.atomic():
            _lock_user(user)
            view = self._get(request, pk)
            if "table" in data and data["table"] != view.table:
                raise errors.Invalid(
                    "A column set belongs to one table; save a new set for another table.",
                    code="table_view_table_fixed", errors={"table": ["Cannot be changed."]},
                )
            fields = ["updated"]
            if "name" in data:
                view.name = clean_name(data["name"])
                fields.append("name")
            if "columns" in data:
                view.columns = clean_columns(data["columns"])
                fields.append("columns")
            if "is_default" in data:
                view.is_default = clean_bool(data["is_default"], "is_default")
                fields.append("is_default")
            _save(view, fields=fields)
        return Response(TableViewSerializer(view).data)

    @extend_schema(responses={204: None}, operation_id="account_table_views_destroy")
    def delete(self, request: Request, pk: int) -> Response:
        self._get(request, pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns: list[URLPattern] = [
    path("account/table-views/", TableViewListView.as_view(), name="table-views"),
    path("account/table-views/<int:pk>/", TableViewDetailView.as_view(), name="table-view"),
]

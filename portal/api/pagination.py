"""Pagination for every list, stable under inserts and fast at any depth; shared by every app.

:class:`CursorPagination` is DRF's cursor on one ordering field (the default).

:class:`KeysetPagination` is keyset (seek) pagination with a client-chosen ordering, for lists of
up to hundreds of thousands of rows. DRF's ``CursorPagination`` positions its cursor on the first
ordering field only and skips ties with an offset; ordering 100k pods by ``phase`` would make
deep pages count through tens of thousands of equal rows. Here every ordering is a tuple of
columns ending in a unique tie-breaker, and the next page is ``WHERE (a, b, id) > (cursor
values)`` (a PostgreSQL row comparison), which an index on ``(cluster, kind, a, b, id)`` answers
by seeking, whatever the depth. Views declare ``orderings = {"name": ("name", "namespace"), ...}``
(all ascending; ``-name`` reverses every column), ``default_ordering`` and, for expressions,
annotate them in ``get_queryset``. Inventory lists add ``freshness`` to the page
(``clusters.api.pagination.InventoryPagination``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import OrderedDict
from datetime import datetime
from typing import Any

from django.db.models import F, Model, Q, QuerySet
from django.db.models.fields.tuple_lookups import (  # type: ignore[import-untyped]  # Django 5.2, no stubs yet
    Tuple,
    TupleGreaterThan,
    TupleLessThan,
)
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from portal.api.parsers import loads as bounded_json


class CursorPagination(pagination.CursorPagination):
    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int:
        """``page_size`` from 1 to 500, or 400 naming it (DRF silently falls back to the default,
        so ``page_size=ten`` looked like it worked)."""
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [f"Give a whole number from 1 to {self.max_page_size}."]})
        return int(raw)

    def decode_cursor(self, request: Request) -> pagination.Cursor | None:
        """A malformed cursor is bad input (400, as the keyset pagination answers), not a
        missing page (DRF's 404)."""
        try:
            return super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError({"cursor": ["Invalid cursor; start again from the first page."]}) from exc

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params = super().get_schema_operation_parameters(view)
        for param in params:
            if param["name"] == self.page_size_query_param:
                param["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return params


MAX_PAGE_SIZE = 500


def _encode(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(raw: str) -> dict[str, Any]:
    try:
        data = bounded_json(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))  # no deep nesting
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValidationError({"cursor": ["Invalid cursor; start again from the first page."]}) from exc
    if not isinstance(data, dict) or not isinstance(data.get("v"), list) or not isinstance(data.get("o"), str):
        raise ValidationError({"cursor": ["Invalid cursor; start again from the first page."]})
    return data


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class KeysetPagination(BasePagination):
    page_size = 50
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"
    ordering_query_param = "ordering"

    def __init__(self) -> None:
        self.request: Request | None = None
        self.view: Any = None
        self.next_url: str | None = None
        self.previous_url: str | None = None

    # ------------------------------------------------------------------ paging

    def _page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError as exc:
            raise ValidationError({"page_size": ["Give a whole number from 1 to 500."]}) from exc
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise ValidationError({"page_size": [f"Give a whole number from 1 to {MAX_PAGE_SIZE}."]})
        return size

    @staticmethod
    def orderings_of(view: Any) -> dict[str, tuple[str, ...]]:
        return dict(getattr(view, "orderings", {"id": ("id",)}))

    def _ordering(self, request: Request, view: Any) -> tuple[str, tuple[str, ...], bool]:
        orderings = self.orderings_of(view)
        key = str(request.query_params.get(self.ordering_query_param) or getattr(view, "default_ordering", "id"))
        name = key.removeprefix("-")
        if name not in orderings:
            choices = ", ".join(sorted(orderings))
            raise ValidationError({"ordering": [f"Order by one of: {choices} (prefix '-' for descending)."]})
        return key, orderings[name], key.startswith("-")

    def paginate_queryset(self, queryset: QuerySet[Any], request: Request, view: Any = None) -> list[Any]:
        self.request, self.view = request, view
        size = self._page_size(request)
        key, fields, descending = self._ordering(request, view)
        nullable = set(getattr(view, "nullable_ordering_fields", ()))
        raw_cursor = request.query_params.get(self.cursor_query_param)
        cursor = _decode(raw_cursor) if raw_cursor else None
        backwards = False
        if cursor is not None:
            if cursor["o"] != key or len(cursor["v"]) != len(fields):
                raise ValidationError({"cursor": ["This cursor belongs to another ordering; start from the first page."]})
            backwards = bool(cursor.get("r"))
            seek_descending = descending != backwards
            queryset = queryset.filter(self._after(fields, cursor["v"], seek_descending, nullable))
        query_descending = descending != backwards
        order = [F(f).desc(nulls_first=True) if query_descending else F(f).asc(nulls_last=True) for f in fields]
        rows = list(queryset.order_by(*order)[: size + 1])
        has_more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()
        has_next = has_more if not backwards else True
        has_previous = (cursor is not None) if not backwards else has_more
        self.next_url = self._link(key, fields, rows[-1], False) if has_next and rows else None
        self.previous_url = self._link(key, fields, rows[0], True) if has_previous and rows else None
        return rows

    @staticmethod
    def _after(fields: tuple[str, ...], values: list[Any], descending: bool, nullable: set[str]) -> Q:
        """Rows strictly after ``values`` in the (possibly descending) order of ``fields``.

        PostgreSQL sorts NULLs last ascending and first descending; only the first column may be
        nullable (``created``), and that case is spelt out.
        """
        lookup = TupleLessThan if descending else TupleGreaterThan
        first, rest = fields[0], fields[1:]
        if first in nullable and rest:
            if values[0] is None:
                tail = Q(lookup(Tuple(*[F(f) for f in rest]), tuple(values[1:])))
                nulls = Q(**{f"{first}__isnull": True}) & tail
                return nulls | Q(**{f"{first}__isnull": False}) if descending else nulls
            seek = Q(lookup(Tuple(*[F(f) for f in fields]), tuple(values)))
            return seek if descending else seek | Q(**{f"{first}__isnull": True})
        return Q(lookup(Tuple(*[F(f) for f in fields]), tuple(values)))

    def _link(self, key: str, fields: tuple[str, ...], row: Model, reverse: bool) -> str:
        assert self.request is not None
        values = [_plain(getattr(row, f)) for f in fields]
        payload: dict[str, Any] = {"o": key, "v": values}
        if reverse:
            payload["r"] = 1
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, _encode(payload))

    def page_extra(self) -> dict[str, Any]:
        return {}

    def get_paginated_response(self, data: Any) -> Response:
        body: OrderedDict[str, Any] = OrderedDict(
            [("next", self.next_url), ("previous", self.previous_url), ("results", data)]
        )
        body.update(self.page_extra())
        return Response(body)

    def first_page_url(self) -> str | None:
        return remove_query_param(self.request.build_absolute_uri(), self.cursor_query_param) if self.request else None

    # ------------------------------------------------------------------ schema

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        names = sorted(self.orderings_of(view))
        return [
            {"name": self.cursor_query_param, "required": False, "in": "query",
             "description": "The pagination cursor value (from `next` or `previous`).", "schema": {"type": "string"}},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "description": f"Rows per page (1-{MAX_PAGE_SIZE}).",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}},
            {"name": self.ordering_query_param, "required": False, "in": "query",
             "description": f"Order by (prefix '-' for descending); default `{getattr(view, 'default_ordering', 'id')}`.",
             "schema": {"type": "string", "enum": [*names, *(f"-{n}" for n in names)]}},
        ]

"""Cursor pagination for every list: stable under inserts and fast at any depth."""

from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request


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

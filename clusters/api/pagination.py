"""Pagination of the clusters API: inventory lists page with the shared keyset pagination
(:class:`portal.api.pagination.KeysetPagination`, re-exported here for the modules that still
import it from this one) and add ``freshness`` of the kind(s) listed.
"""

from __future__ import annotations

from typing import Any

from portal.api.pagination import MAX_PAGE_SIZE, KeysetPagination

__all__ = ["FRESHNESS_SCHEMA", "MAX_PAGE_SIZE", "InventoryPagination", "KeysetPagination"]


FRESHNESS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["state", "last_event"],
    "properties": {
        "state": {"type": "string", "enum": ["syncing", "synced", "stale", "unreachable", "unauthorized", "forbidden"]},
        "last_event": {"type": "string", "format": "date-time", "nullable": True},
    },
}


class InventoryPagination(KeysetPagination):
    """Read-model lists: the page plus ``freshness`` of the kind(s) listed (``view.get_freshness()``)."""

    page_size = 100

    def page_extra(self) -> dict[str, Any]:
        return {"freshness": self.view.get_freshness()} if self.view is not None else {}

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        out = super().get_paginated_response_schema(schema)
        out["properties"]["freshness"] = FRESHNESS_SCHEMA
        out["required"] = ["results", "freshness"]
        return out

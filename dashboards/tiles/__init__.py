"""The tiles of the role dashboards (``GET /api/dashboard/``): one module per family of figures,
each a set of functions ``(ctx) -> Tile | None`` that read other apps through their models, access
modules and pure row/query modules only, in a number of queries that does not grow with the fleet.

A tile is ``{key, role, attention, as_of, link, data}`` (docs/dashboards.md):

* ``attention`` 0 (all well) … 3 (act now), so the console shows what needs action first;
* ``as_of`` is when the figures were last known true: the oldest ``last_sync`` of the clusters a
  tile reads from the read model, the last collection for monitoring samples, the moment of the
  request for what PostgreSQL itself holds (builds, releases, alerts, audit);
* ``link`` is the console list behind the tile, filtered (``/alerts?state=open&severity=critical``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clusters.rows import iso

ATTENTION_NONE, ATTENTION_NOTICE, ATTENTION_WARNING, ATTENTION_CRITICAL = 0, 1, 2, 3
ROLES = ("admin", "operator", "developer")


@dataclass
class Context:
    """What every tile function gets: who asks, when (one ``now`` for the whole answer), and the
    ids of the workspaces the user is a member of (the developer tiles' "my")."""

    user: Any
    now: datetime
    member_workspace_ids: list[int] = field(default_factory=list)


@dataclass
class Tile:
    key: str
    role: str
    attention: int
    as_of: datetime | None
    link: str
    data: dict[str, Any]

    def row(self) -> dict[str, Any]:
        return {"key": self.key, "role": self.role, "attention": self.attention, "as_of": iso(self.as_of),
                "link": self.link, "data": self.data}


def oldest(values: list[datetime | None], default: datetime) -> datetime | None:
    """The oldest of ``values`` (None when one of them was never known); ``default`` when empty."""
    if not values:
        return default
    if any(v is None for v in values):
        return None
    return min(v for v in values if v is not None)

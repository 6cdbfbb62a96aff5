"""What the clusters app's operations found, as plain values (no I/O).

The connectivity check (an operation, in :mod:`clusters.services`) returns a :class:`CheckResult`
and :mod:`clusters.actions` records it. The type lives here, below both, so that actions need not
import the operations layer above them (which would make a cycle: actions -> services -> actions).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CheckResult:
    """One connectivity check of a cluster: its status (a ``ClusterStatus`` value) and the message
    and code that explain it, with what the check learned on the way."""

    status: str
    message: str
    kubernetes_version: str = ""
    node_count: int | None = None
    missing_permissions: list[str] = field(default_factory=list)
    code: str = ""
    permissions: dict[str, Any] | None = None  # None: the check did not get that far (keep the last one)
    api_cert_not_after: datetime.datetime | None = None  # the serving certificate's expiry, when read

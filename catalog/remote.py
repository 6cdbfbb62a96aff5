"""What chart repositories (:mod:`catalog.sources`) and OCI registries (:mod:`catalog.oci`) share:
the limits of a fetch, the error a source answers with, the address rules and the index entry.

A module of its own, below both, so that :mod:`catalog.sources` (which dispatches to the OCI
reader by a source's kind) and :mod:`catalog.oci` (which reads under the same rules) do not
import each other. No I/O here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from catalog import access as catalog_access
from portal import outbound
from portal.addresses import AddressError
from portal.errors import Invalid, Upstream

TIMEOUT = (5, 30)  # connect, read (seconds)
DEADLINE = 120.0  # a whole download, however slowly it trickles
MAX_CHARTS = 10_000
USER_AGENT = "cluster-portal"
MAX_REDIRECTS = outbound.MAX_REDIRECTS


class SourceError(Upstream):
    """A repository that cannot be read, or an archive that does not check out (502)."""

    default_code = "source_error"

    def __init__(self, message: str = "The chart repository could not be read.") -> None:
        super().__init__(message)


def http_allowed(actor: Any) -> bool:
    """``http://`` repositories: for system admins (a local repository), and for anyone in the
    development and test profiles. Everyone else must use ``https://``."""
    return settings.PORTAL_ENV in ("development", "test") or catalog_access.may_fetch_plain_http(actor)


def check_destination(url: str) -> None:
    """Refuse, with a 400 on ``url``, an address the portal would never fetch: a host the address
    policy forbids (itself, an IPv4 address it embeds, or any address its name resolves to), or
    no valid host at all (:mod:`portal.addresses`). A name that does not resolve yet is accepted;
    every fetch checks again and pins its connection to the checked address."""
    try:
        outbound.validate_url(url, schemes=("http", "https"))
    except AddressError as exc:
        raise Invalid(f"Invalid input: url: {exc}", code=exc.code, errors={"url": [str(exc)]}) from exc


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``: credentials go only where this matches the source's own."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


@dataclass(frozen=True)
class IndexEntry:
    name: str
    version: str
    app_version: str
    description: str
    icon: str
    keywords: list[str]
    home: str
    url: str  # resolved against the repository's address
    digest: str  # "sha256:<hex>" or ""
    created: datetime | None


def created(raw: Any) -> datetime | None:
    """An index's or manifest's creation time, aware (UTC when it names no zone); None if unreadable."""
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    if not isinstance(raw, str):
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        # Go writes nanoseconds: keep microseconds
        match = re.match(r"^(.*\.\d{6})\d*(.*)$", raw.strip())
        if not match:
            return None
        try:
            value = datetime.fromisoformat((match[1] + match[2]).replace("Z", "+00:00"))
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def text(value: Any, limit: int) -> str:
    """``value`` as a string of at most ``limit`` characters ("" for null)."""
    return "" if value is None else str(value)[:limit]

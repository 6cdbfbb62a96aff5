"""Where a package version's chart archive stands, for reads that must not fetch it.

A GET of a version answers from what is stored: ``stored`` (the archive is here), ``fetching``
(the task ``catalog.fetch_archive`` was asked for it) or ``failed`` (the last fetch failed; the
message says why, and the fetch is asked for again). The repository is reached only by that task,
at most once per :data:`ASK_AGAIN_SECONDS` per version however often the console polls.
"""

from __future__ import annotations

from django.core.cache import cache

from catalog.models import PackageVersion
from portal import enqueue

TASK = "catalog.fetch_archive"
ASK_AGAIN_SECONDS = 30


def status_of(version: PackageVersion) -> str:
    if version.archive:
        return "stored"
    return "failed" if version.archive_message else "fetching"


def ensure_fetch(version: PackageVersion) -> str:
    """The version's archive status; asks for the fetch when the archive is not stored."""
    status = status_of(version)
    key = f"catalog:fetch-archive:{version.pk}:{version.created.timestamp()}"  # ids come back after a flush
    if status != "stored" and cache.add(key, 1, timeout=ASK_AGAIN_SECONDS):
        enqueue.on_commit(TASK, version.pk)
    return status

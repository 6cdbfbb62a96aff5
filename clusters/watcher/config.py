"""Tunables of the watcher, read once from settings (``PORTAL_WATCHER_*``) with safe defaults.

They live in one frozen object so tests and benchmarks can shrink intervals (a lease of 3 s, a
probe every second) without touching the process-wide settings, and so the command can print
what it runs with. Settings are read with ``getattr(settings, name, default)``: none is required.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class WatcherConfig:
    probe_interval: float = 10.0  # seconds between /version probes of a cluster
    probe_timeout: float = 5.0  # a probe that takes longer failed
    probe_failures: int = 2  # consecutive failed probes (or stream failures + a probe) -> unreachable
    request_timeout: float = 15.0  # read timeout of one list page
    watch_timeout: int = 300  # server-side timeoutSeconds of one watch request
    idle_timeout: float = 90.0  # a watch silent this long (no event, no bookmark) is dead
    page_size: int = 500  # list page size (limit/continue)
    max_relists: int = 8  # lists running at once in this process
    max_relists_per_cluster: int = 2  # ... and per cluster, so a slow one cannot take every slot
    backoff_base: float = 1.0  # first retry delay of a failing stream (jittered, doubled)
    backoff_max: float = 60.0
    unauthorized_retry: float = 60.0  # a 401/403 stream retries this rarely
    lease_seconds: float = 15.0  # a lease not renewed for this long is free to take
    poll_interval: float = 3.0  # renew leases and re-read the cluster table this often
    max_clusters: int = 0  # cap per process (0: a fair share of the live watchers only)
    batch_size: int = 1000  # rows per database write at most
    writer_threads: int = 2  # database writers; clusters are spread over them by id
    flush_interval: float = 0.025  # how long the writer lingers to fill a batch
    publish_interval: float = 0.2  # at most one objects.changed per group per this many seconds
    publish_rows: int = 100  # rows per kind in one message before it says "truncated"
    summary_interval: float = 2.0  # recompute a changed cluster's summary at most this often
    fresh_seconds: float = 180.0  # last event/bookmark older than this: freshness "stale"
    queue_size: int = 50_000  # events waiting between stream threads and the writer
    io_threads: int = 64  # threads for lists and probes (watches have their own threads)

    @classmethod
    def from_settings(cls, **overrides: Any) -> WatcherConfig:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = f"PORTAL_WATCHER_{f.name.upper()}"
            if hasattr(settings, name):
                caster: Any = type(f.default)
                values[f.name] = caster(getattr(settings, name))
        values.update(overrides)
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

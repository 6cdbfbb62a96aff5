"""Tunables of the watcher, read once from settings (``PORTAL_WATCHER_*``) with safe defaults.

They live in one frozen object so tests and benchmarks can shrink intervals (a lease of 3 s, a
probe every second) without touching the process-wide settings, and so the command can print
what it runs with. Each is read from the Django setting of that name if there is one, else from
the environment variable of that name (so a deployment can tune the freshness limit or the watch
timeout without code), else the default: none is required. The API reads them too, so it judges
freshness by the same limit as the watcher.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class WatcherConfig:
    probe_interval: float = 10.0  # seconds between /version probes of a cluster
    probe_timeout: float = 5.0  # a probe that takes longer failed
    probe_failures: int = 2  # consecutive failed probes (or stream failures + a probe) -> unreachable
    request_timeout: float = 15.0  # read timeout of one list page
    watch_timeout: int = 300  # server-side timeoutSeconds of one watch request: the stream's renewal period
    watch_grace: float = 15.0  # a watch silent this long past its timeoutSeconds is dead (client read timeout)
    page_size: int = 500  # list page size (limit/continue)
    max_relists: int = 8  # lists running at once in this process
    max_relists_per_cluster: int = 2  # ... and per cluster, so a slow one cannot take every slot
    backoff_base: float = 1.0  # first retry delay of a failing stream (jittered, doubled)
    backoff_max: float = 60.0
    unauthorized_retry: float = 60.0  # a 401 stream retries this rarely
    forbidden_recheck: float = 600.0  # a 403 (forbidden) kind tries again this rarely; it stays forbidden meanwhile
    lease_seconds: float = 15.0  # a lease not renewed for this long is free to take
    poll_interval: float = 3.0  # renew leases and re-read the cluster table this often
    max_clusters: int = 0  # cap per process (0: a fair share of the live watchers only)
    batch_size: int = 1000  # rows per database write at most
    writer_threads: int = 2  # database writers; clusters are spread over them by id
    flush_interval: float = 0.025  # how long the writer lingers to fill a batch
    publish_interval: float = 0.075  # at most one objects.changed with rows per group per this many seconds
    digest_interval: float = 1.0  # ... and with namespace digests only (cluster.<id>: "refetch what you show")
    publish_rows: int = 100  # rows per kind in one message before it says "truncated"
    summary_interval: float = 2.0  # recompute a changed cluster's summary at most this often
    summary_rate: float = 20.0  # ... and at most this many summaries a second in all (busy fleets wait longer)
    fresh_seconds: float = 360.0  # a synced kind not heard from (event, bookmark, watch renewal) this long is stale
    queue_size: int = 50_000  # ops waiting for the writer before watches stop reading (back-pressure)
    io_threads: int = 64  # threads for lists and probes (watches are sockets on the loop)

    @classmethod
    def from_settings(cls, **overrides: Any) -> WatcherConfig:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = f"PORTAL_WATCHER_{f.name.upper()}"
            caster: Any = type(f.default)
            if hasattr(settings, name):
                values[f.name] = caster(getattr(settings, name))
            elif os.environ.get(name, "").strip():
                try:
                    values[f.name] = caster(os.environ[name].strip())
                except ValueError as exc:
                    raise ValueError(f"{name} must be a number, not {os.environ[name]!r}") from exc
        values.update(overrides)
        return cls(**values)

    @property
    def read_timeout(self) -> float:
        """Client read timeout of a watch: a healthy stream, even an empty kind's that carries no
        event and no bookmark, is ended by the server at ``watch_timeout``; only a stream silent
        past that is dead."""
        return float(self.watch_timeout) + self.watch_grace

    @property
    def fresh_limit(self) -> float:
        """How long a synced kind stays fresh without being heard from. Never shorter than one
        renewal period (``watch_timeout + watch_grace``): a silent healthy stream is confirmed
        only when its watch is reopened."""
        return max(self.fresh_seconds, self.read_timeout)

    def problems(self) -> list[str]:
        """What makes this configuration unworkable, one sentence per setting, by its name (a
        zero ``summary_rate`` divided by zero; a ``poll_interval`` longer than ``lease_seconds``
        lets every lease expire between two renewals)."""
        out = []
        for f in dataclasses.fields(self):
            value, least = getattr(self, f.name), _LEAST.get(f.name, 0)
            strict = f.name in _POSITIVE
            if value < least or (strict and value <= least):
                bound = f"more than {least}" if strict else f"at least {least}"
                out.append(f"PORTAL_WATCHER_{f.name.upper()} must be {bound}, not {value}.")
        if self.poll_interval >= self.lease_seconds:
            out.append(f"PORTAL_WATCHER_POLL_INTERVAL ({self.poll_interval}) must be shorter than "
                       f"PORTAL_WATCHER_LEASE_SECONDS ({self.lease_seconds}): leases are renewed every poll.")
        if self.backoff_max < self.backoff_base:
            out.append(f"PORTAL_WATCHER_BACKOFF_MAX ({self.backoff_max}) must be at least "
                       f"PORTAL_WATCHER_BACKOFF_BASE ({self.backoff_base}).")
        return out

    def check(self) -> WatcherConfig:
        """This configuration, or ValueError naming every setting that cannot work."""
        problems = self.problems()
        if problems:
            raise ValueError(" ".join(problems))
        return self

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Lower bounds: counts are at least 1 (0 means "no limit" only for max_clusters); durations and
# rates in _POSITIVE must be more than 0; the other durations may be 0 (no linger, no grace).
_LEAST: dict[str, float] = {
    "probe_failures": 1, "watch_timeout": 1, "page_size": 1, "max_relists": 1, "max_relists_per_cluster": 1,
    "batch_size": 1, "writer_threads": 1, "publish_rows": 1, "queue_size": 1, "io_threads": 1,
}
_POSITIVE = frozenset({
    "probe_interval", "probe_timeout", "request_timeout", "backoff_base", "backoff_max", "unauthorized_retry",
    "forbidden_recheck", "lease_seconds", "poll_interval", "summary_interval", "summary_rate", "fresh_seconds",
})

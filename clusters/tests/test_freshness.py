"""The freshness rule itself (clusters/freshness.py): pure, so every case is cheap to state."""

from __future__ import annotations

import datetime

import pytest

from clusters.freshness import cluster_word, kind_state, list_state
from clusters.watcher.config import WatcherConfig

NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)


def ago(seconds: float) -> datetime.datetime:
    return NOW - datetime.timedelta(seconds=seconds)


def state(*syncs: tuple[str, datetime.datetime | None], missing: bool = False, status: str = "connected",
          enabled: bool = True, watched: bool = True) -> str:
    return list_state(syncs, missing=missing, cluster_status=status, enabled=enabled, watched=watched, now=NOW,
                      limit=360)


def test_a_silent_kind_is_fresh_while_its_watch_is_renewed() -> None:
    # An empty kind: no event and no bookmark for hours, its watch reopened 4 minutes ago.
    assert kind_state("synced", ago(240), now=NOW, limit=360, watched=True) == "synced"
    assert kind_state("synced", ago(361), now=NOW, limit=360, watched=True) == "stale"
    assert kind_state("synced", None, now=NOW, limit=360, watched=True) == "stale"
    assert kind_state("synced", ago(1), now=NOW, limit=360, watched=False) == "stale"
    assert kind_state("syncing", ago(9999), now=NOW, limit=360, watched=False) == "syncing"


def test_worst_kind_wins_and_the_cluster_word() -> None:
    fresh = ("synced", ago(10))
    assert cluster_word(state(fresh, fresh)) == "fresh"
    assert cluster_word(state(fresh, ("stale", ago(1)))) == "stale"
    assert cluster_word(state(fresh, ("syncing", None))) == "syncing"
    assert cluster_word(state(fresh, ("syncing", None), ("stale", None))) == "stale"
    assert cluster_word(state(fresh, ("unauthorized", None))) == "stale"
    assert cluster_word(state(fresh, missing=True)) == "syncing"
    assert cluster_word(state()) == "syncing"
    assert cluster_word(state(fresh, status="unreachable")) == "unreachable"
    assert cluster_word(state(fresh, enabled=False)) == "stale"
    assert cluster_word(state(fresh, watched=False)) == "stale"


def test_limits_come_from_settings_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    default = WatcherConfig()
    assert default.read_timeout == 315.0  # a silent watch lives its whole timeoutSeconds
    assert default.fresh_limit == 360.0
    monkeypatch.setenv("PORTAL_WATCHER_WATCH_TIMEOUT", "120")
    monkeypatch.setenv("PORTAL_WATCHER_FRESH_SECONDS", "10")
    config = WatcherConfig.from_settings()
    assert (config.watch_timeout, config.read_timeout) == (120, 135.0)
    assert config.fresh_limit == 135.0, "never below one renewal period"
    monkeypatch.setenv("PORTAL_WATCHER_WATCH_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="PORTAL_WATCHER_WATCH_TIMEOUT must be a number"):
        WatcherConfig.from_settings()


def test_forbidden_kinds_are_left_out_and_a_list_of_only_forbidden_kinds_says_so() -> None:
    fresh = ("synced", ago(1))
    assert kind_state("forbidden", None, now=NOW, limit=360, watched=True) == "forbidden"
    assert cluster_word(state(fresh, ("forbidden", None))) == "fresh"  # counts only what it may see
    assert state(("forbidden", None)) == "forbidden"  # the nodes list of a namespace-scoped identity
    assert state(("forbidden", None), status="unreachable") == "unreachable"
    assert cluster_word(state(("syncing", None), ("forbidden", None))) == "syncing"

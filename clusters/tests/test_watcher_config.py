"""Watcher tunables that cannot work are refused by name, before the watcher starts (a zero
summary rate used to divide by zero in the refresher; a poll slower than the lease let every
lease expire between renewals)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clusters.tests.helpers import FAST
from clusters.watcher.config import WatcherConfig
from clusters.watcher.engine import Engine
from portal.testing import backend_env

ROOT = Path(__file__).resolve().parents[2]


def test_the_defaults_and_the_tests_fast_settings_are_workable() -> None:
    assert WatcherConfig().problems() == []
    assert FAST.problems() == []
    assert WatcherConfig(max_clusters=0, flush_interval=0, watch_grace=0, publish_interval=0).problems() == []


def test_each_unworkable_value_is_named() -> None:
    problems = WatcherConfig(summary_rate=0, page_size=0, writer_threads=0, lease_seconds=2.0, poll_interval=3.0,
                             backoff_base=5.0, backoff_max=1.0, max_clusters=-1).problems()
    text = " ".join(problems)
    for name in ("PAGE_SIZE must be at least 1, not 0", "MAX_CLUSTERS must be at least 0, not -1",
                 "WRITER_THREADS must be at least 1, not 0", "SUMMARY_RATE must be more than 0, not 0",
                 "POLL_INTERVAL (3.0) must be shorter than PORTAL_WATCHER_LEASE_SECONDS (2.0)",
                 "BACKOFF_MAX (1.0) must be at least PORTAL_WATCHER_BACKOFF_BASE (5.0)"):
        assert f"PORTAL_WATCHER_{name}" in text
    assert len(problems) == 6


def test_the_engine_refuses_them() -> None:
    with pytest.raises(ValueError, match="PORTAL_WATCHER_SUMMARY_RATE must be more than 0"):
        Engine(config=WatcherConfig(summary_rate=0))


@pytest.mark.django_db
def test_runwatchers_stops_with_the_reason_not_a_traceback() -> None:
    env = {**backend_env(), "PORTAL_WATCHER_SUMMARY_RATE": "0", "PORTAL_WATCHER_PAGE_SIZE": "0"}
    proc = subprocess.run([sys.executable, "manage.py", "runwatchers", "--holder", "config-test"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "PORTAL_WATCHER_PAGE_SIZE must be at least 1, not 0." in proc.stderr
    assert "PORTAL_WATCHER_SUMMARY_RATE must be more than 0, not 0.0." in proc.stderr

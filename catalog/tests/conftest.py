"""Fixtures of the catalog tests."""

from __future__ import annotations

import pytest

from catalog.tests.helpers import Driver
from catalog.tests.test_sources import repo as repo  # a chart repository served in the test


@pytest.fixture
def driver(monkeypatch: pytest.MonkeyPatch) -> Driver:
    """The catalog's Celery tasks, run in this process in the order they were enqueued."""
    return Driver(monkeypatch)

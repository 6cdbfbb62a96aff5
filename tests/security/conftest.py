"""Fixtures of the security suite: the populated world of :mod:`tests.security.world`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.security import world as world_module


@pytest.fixture
def secworld(db: None, sandbox: Any) -> world_module.World:
    return world_module.build(sandbox)

"""Placeholder."""

from __future__ import annotations

from typing import Any

from sandbox.programs.runtime import ProgramContext


class Buildah:
    name = "buildah"

    def matches(self, container: dict[str, Any]) -> bool:
        return False

    def run(self, ctx: ProgramContext) -> int:
        return 1

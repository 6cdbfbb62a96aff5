"""The clusters app's writing path imports in one direction: models -> outcomes/rows -> actions
-> services (operations) -> tasks -> api (docs/architecture.md, issue 12).

Why a test: ``actions`` once enqueued by importing ``tasks``, took ``CheckResult`` from
``services`` and built its events with the API serializers, while ``services`` called back into
it: an import cycle hidden by function-level imports. This reads every import of each module
(function level and ``TYPE_CHECKING`` included, as the cycle check does), so a new upward import
fails here, not in review.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

APP = pathlib.Path(__file__).resolve().parents[1]
ORDER = ["models", "outcomes", "rows", "actions", "services", "tasks", "api"]


def imported(module: str) -> set[str]:
    path = APP / f"{module.replace('.', '/')}.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("module", ["outcomes", "rows", "actions", "services", "tasks"])
def test_no_module_imports_a_layer_above_it(module: str) -> None:
    above = ORDER[ORDER.index(module) + 1:]
    upward = sorted(name for name in imported(module)
                    if any(name == f"clusters.{layer}" or name.startswith(f"clusters.{layer}.")
                           for layer in above))
    assert upward == [], f"clusters.{module} imports from a layer above it: {upward}"

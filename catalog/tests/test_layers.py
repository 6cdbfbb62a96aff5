"""The catalog's modules import in one direction (issue 12): no import cycle among them, counting
imports inside functions too (an import moved into a function still runs upward).

Would fail before the split: ``catalog.oci`` and ``catalog.sources`` imported each other, and
releases and rollouts imported the API's serializers and the deploy tasks, which import them.
"""

from __future__ import annotations

import ast
from pathlib import Path

CATALOG = Path(__file__).resolve().parents[1]


def _module(path: Path) -> str:
    parts = ["catalog", *path.relative_to(CATALOG).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    files = {_module(f): f for f in CATALOG.rglob("*.py")
             if not {"tests", "migrations", "management"} & set(f.relative_to(CATALOG).parts)}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for target in targets:
                while target and target not in files:
                    target = target.rsplit(".", 1)[0] if "." in target else ""
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        current = todo.pop()
        for nxt in graph[current]:
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def test_no_import_cycle_in_catalog() -> None:
    graph = _graph()
    assert {"catalog.sources", "catalog.oci", "catalog.releases", "catalog.rollouts"} <= set(graph)
    cyclic = sorted(m for m in graph if _reaches(graph, m, m))
    assert cyclic == [], f"modules on an import cycle: {cyclic}"


def test_the_writes_do_not_import_the_api_or_the_tasks() -> None:
    graph = _graph()
    for writer in ("catalog.releases", "catalog.rollouts"):
        assert not {m for m in graph[writer] if m.startswith("catalog.api") or m == "catalog.tasks_deploy"}, writer

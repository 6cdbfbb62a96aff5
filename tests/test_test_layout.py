"""The test suite's own layout: a test module never imports from another test module (nor from a
conftest). Helpers shared between modules live in ``portal/testing.py`` or an app's
``tests/helpers.py`` / ``tests/charts.py``, fixtures in a conftest. Otherwise a helper gets written
again in the next module (``wait_for`` was three times, ``register`` four), importing a module
also imports its tests' fixtures into the importer's namespace, and moving or deleting one test
file breaks others."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_ROOTS = ("portal", "clusters", "workspaces", "catalog", "builds", "monitoring", "identity", "activity", "sandbox",
              "tests")


def _test_modules() -> Iterator[Path]:
    for top in TEST_ROOTS:
        for path in sorted((ROOT / top).rglob("*.py")):
            if path.name.startswith("test_") or path.name == "conftest.py":
                yield path


def _imported_modules(source: str, package: tuple[str, ...]) -> Iterator[tuple[int, str]]:
    """Every module ``source`` (a module of ``package``) imports, function-level imports included,
    as dotted names; for ``from package import name`` also ``package.name`` (``name`` may be a module)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _is_test_module(dotted: str) -> bool:
    last = dotted.rsplit(".", 1)[-1]
    if not (last.startswith("test_") or last == "conftest"):
        return False
    return (ROOT / Path(*dotted.split("."))).with_suffix(".py").is_file()


def test_the_layout_check_sees_test_modules_and_relative_imports() -> None:
    assert _is_test_module("tests.test_test_layout")
    assert _is_test_module("sandbox.tests.conftest")
    assert not _is_test_module("portal.testing")
    assert not _is_test_module("pytest_django.fixtures")
    source = "import os\nfrom .conftest import Raw\n\ndef f():\n    from ..tests import test_api\n"
    assert list(_imported_modules(source, ("sandbox", "tests"))) == [
        (1, "os"), (2, "sandbox.tests.conftest"), (2, "sandbox.tests.conftest.Raw"),
        (5, "sandbox.tests"), (5, "sandbox.tests.test_api"),
    ]


def test_no_test_module_imports_another() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _test_modules()
        for line, name in _imported_modules(path.read_text(), path.relative_to(ROOT).parts[:-1])
        if _is_test_module(name)
    ]
    assert not offenders, (
        "test modules import from other test modules or conftests; move the helper to portal/testing.py "
        "or the app's tests/helpers.py (fixtures to a conftest):\n" + "\n".join(offenders)
    )

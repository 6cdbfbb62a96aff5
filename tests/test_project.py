"""Project-level contracts: docker-compose stays runnable by review, only the client layer
imports `kubernetes`, the portal never imports the sandbox, and the OpenAPI file the frontend
is typed against is current."""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command, get_commands

ROOT = Path(__file__).resolve().parents[1]
PORTAL_APPS = ("portal", "clusters", "workspaces", "catalog", "builds", "monitoring", "identity", "activity")


def test_docker_compose_services_and_commands_exist() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "watcher", "postgres", "redis"} <= set(services)
    for name in ("web", "worker", "postgres", "redis"):
        assert "healthcheck" in services[name], name
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "pgdata" in compose["volumes"]
    commands = get_commands()
    for name, service in services.items():
        command = service.get("command")
        if name in ("postgres", "redis") or command is None:
            continue
        if command[0] == "python" and command[1] == "manage.py":
            assert command[2] in commands, f"{name}: manage.py {command[2]} does not exist"
        elif command[0] == "uvicorn":
            module, _, attr = command[1].partition(":")
            assert hasattr(importlib.import_module(module), attr), f"{name}: {command[1]} not importable"
        elif command[0] == "celery":
            assert command[1:3] == ["-A", "portal"]
            assert importlib.import_module("portal").celery_app is not None
        else:
            pytest.fail(f"{name}: unknown command {command}")
    procfile = (ROOT / "Procfile").read_text()
    for process in ("web:", "worker:", "beat:", "watcher:"):
        assert process in procfile


def _python_files(app: str) -> list[Path]:
    return [p for p in (ROOT / app).rglob("*.py") if "tests" not in p.parts and "migrations" not in p.parts]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_the_client_layer_imports_kubernetes_and_nothing_imports_the_sandbox() -> None:
    offenders = []
    for app in PORTAL_APPS:
        for path in _python_files(app):
            rel = path.relative_to(ROOT)
            for name in _imports(path):
                top = name.split(".")[0]
                if top == "kubernetes" and rel.parts[:2] != ("clusters", "kube"):
                    offenders.append(f"{rel} imports {name}")
                if top == "sandbox":
                    offenders.append(f"{rel} imports {name}")
    assert offenders == []


@pytest.mark.django_db
def test_openapi_schema_is_current(tmp_path: Path) -> None:
    """frontend/openapi.json types the SPA's client; regenerate it with `make schema`."""
    out = tmp_path / "openapi.json"
    call_command("spectacular", "--format", "openapi-json", "--validate", "--fail-on-warn", "--file", str(out))
    assert json.loads(out.read_text()) == json.loads((ROOT / "frontend" / "openapi.json").read_text()), (
        "frontend/openapi.json is stale: run `make schema` and commit the result"
    )

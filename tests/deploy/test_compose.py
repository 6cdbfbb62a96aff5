"""``docker-compose.yml``, the single-host option (issue 18 "Operations"), validated: with
``docker compose config`` (or the legacy ``docker-compose config``) where a Compose CLI is
installed (Debian's ``docker-compose`` 1.29 was installed by hand on the machine this was written
on: the docker CLI there has no compose plugin; ``scripts/system-deps.sh`` does not install one
yet), and always structurally: what Compose itself would refuse
(unknown top-level or service keys, a dependency on a missing service or with an unknown
condition, a ``service_healthy`` dependency without a healthcheck, an undeclared named volume,
malformed ``${VAR}`` interpolation) and that it runs the same processes as the Helm chart."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"

TOP_LEVEL = {"version", "name", "services", "volumes", "networks", "secrets", "configs"}
SERVICE_KEYS = {"build", "image", "restart", "environment", "env_file", "depends_on", "command", "entrypoint",
                "ports", "expose", "volumes", "healthcheck", "user", "working_dir", "networks", "labels",
                "deploy", "profiles", "secrets", "configs", "stop_grace_period", "stop_signal", "init", "ulimits"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
INTERPOLATION = re.compile(r"\$\{([^}]*)\}")
VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(:?[-?+].*)?$")


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def test_compose_file_is_valid() -> None:
    text = COMPOSE.read_text()
    compose = yaml.safe_load(text)  # resolves the x-portal anchor and its << merges
    assert {k for k in compose if not k.startswith("x-")} <= TOP_LEVEL
    services: dict[str, dict[str, Any]] = compose["services"]
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        assert set(service) <= SERVICE_KEYS, f"{name}: unknown keys {set(service) - SERVICE_KEYS}"
        assert "image" in service or "build" in service, name
        depends = service.get("depends_on") or {}
        for dependency, spec in (depends.items() if isinstance(depends, dict) else ((d, {}) for d in depends)):
            assert dependency in services, f"{name} depends on a missing service {dependency}"
            condition = (spec or {}).get("condition", "service_started")
            assert condition in CONDITIONS, f"{name}: unknown condition {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency}'s healthcheck"
            if condition == "service_completed_successfully":
                assert services[dependency].get("restart") == "no", f"{dependency} must run once"
        for volume in service.get("volumes") or []:
            source = str(volume).split(":", 1)[0]
            if not source.startswith((".", "/", "$")):
                assert source in declared_volumes, f"{name}: volume {source} is not declared"
    for expression in INTERPOLATION.findall(text):
        assert VARIABLE.match(expression), f"malformed interpolation ${{{expression}}}"
    required = {e.split(":?")[0] for e in INTERPOLATION.findall(text) if ":?" in e}
    assert required == {"SECRET_KEY", "PORTAL_ENCRYPTION_KEYS"}

    # The same processes as the chart (deploy/helm/portal) and the Procfile.
    assert services["web"]["command"][:2] == ["uvicorn", "portal.asgi:application"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "portal", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "portal", "beat"]
    assert services["watcher"]["command"] == ["python", "manage.py", "runwatchers"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    assert "/healthz" in " ".join(_strings(services["web"]["healthcheck"]))

    cli = _compose_cli()
    if cli is not None:  # the real parser too, where it is installed
        env = {"SECRET_KEY": "x" * 50, "PORTAL_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=", "PATH": "/usr/bin:/bin"}
        result = subprocess.run([*cli, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True,
                                env=env, cwd=ROOT, check=False)
        assert result.returncode == 0, result.stderr

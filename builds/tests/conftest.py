"""Fixtures of builds' tests: the built-in registry (scripts/registry.sh, started by
``scripts/services.sh start``) registered in the test database.

``builtin_registry`` skips the test, saying how to start the registry, when it does not answer;
tests that push to it use :func:`registry_auth` for the credentials and CA.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings


def registry_auth() -> tuple[str, tuple[str, str], str]:
    """(``https://host``, (username, password), CA file) of the built-in registry."""
    password = Path(settings.PORTAL_BUILTIN_REGISTRY_PASSWORD_FILE).read_text().strip()
    return (f"https://{settings.PORTAL_BUILTIN_REGISTRY_HOST}",
            (settings.PORTAL_BUILTIN_REGISTRY_USERNAME, password), settings.PORTAL_BUILTIN_REGISTRY_CA_FILE)


def builtin_registry_running() -> str:
    """Empty when the built-in registry answers; else why not."""
    host = settings.PORTAL_BUILTIN_REGISTRY_HOST
    if not host:
        return "no built-in registry is configured (PORTAL_BUILTIN_REGISTRY_HOST is empty)"
    ca = settings.PORTAL_BUILTIN_REGISTRY_CA_FILE
    if not ca or not Path(ca).exists() or not Path(settings.PORTAL_BUILTIN_REGISTRY_PASSWORD_FILE).exists():
        return f"the built-in registry's files are missing ({ca}); run scripts/services.sh start"
    try:
        code = requests.get(f"https://{host}/v2/", verify=ca, timeout=3).status_code
    except requests.RequestException as exc:
        return f"the built-in registry at {host} does not answer ({type(exc).__name__}); run scripts/services.sh start"
    if code != 401:
        return f"https://{host}/v2/ answered HTTP {code}, not 401; is it the built-in registry (scripts/registry.sh)?"
    return ""


@pytest.fixture
def builtin_registry(db: None) -> Any:
    """The built-in registry's row in the test database (``manage.py builtin_registry``'s work)."""
    why = builtin_registry_running()
    if why:
        pytest.skip(why)
    from builds import registry_actions

    return registry_actions.ensure_builtin()

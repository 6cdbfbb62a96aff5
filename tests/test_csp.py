"""Every response carries a strict Content-Security-Policy: API, the SPA's index, static files,
health, the API docs, in every profile. (The real-browser check that the console runs under it
without a violation is tests/browser/, whose pages fail on any CSP report in the console.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent


def directives(header: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def assert_strict(header: str, *, websocket: str | None = "ws://testserver", inline_style: bool = False) -> None:
    policy = directives(header)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval, no other origin
    assert policy["style-src"] == (["'self'", "'unsafe-inline'"] if inline_style else ["'self'"])
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["connect-src"] == (["'self'", websocket] if websocket else ["'self'"])


def static_asset() -> str:
    """A file WhiteNoise serves: the built console's script if built, else a Swagger UI file."""
    index = ROOT / "frontend" / "dist" / "index.html"
    if index.is_file():
        for line in index.read_text().splitlines():
            if "<script" in line and 'src="' in line:
                return line.split('src="', 1)[1].split('"', 1)[0]
    return "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/auth/csrf/", "/api/auth/me/", "/api/nowhere/", "/", "/clusters/1", "/healthz"])
def test_pages_and_api_answers_carry_the_policy(path: str) -> None:
    response = Client().get(path)
    assert_strict(response["Content-Security-Policy"])


def test_static_files_carry_the_policy() -> None:
    response = Client().get(static_asset())
    assert response.status_code == 200
    assert_strict(response["Content-Security-Policy"])


def test_https_requests_get_the_wss_origin() -> None:
    response = Client().get("/api/auth/csrf/", secure=True)
    assert_strict(response["Content-Security-Policy"], websocket="wss://testserver")


@pytest.mark.django_db
def test_api_docs_run_without_inline_script(admin_user: object) -> None:
    client = Client()
    client.force_login(admin_user)  # type: ignore[arg-type]
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<script>" not in html  # the init script is a file of its own
    assert_strict(page["Content-Security-Policy"], inline_style=True)  # the template's <style>
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


@pytest.mark.parametrize("profile", ["production", "development"])
def test_every_profile_sends_the_policy(profile: str) -> None:
    """The settings of each profile (imported fresh, as the server would) put the header on."""
    code = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client().get('/api/auth/csrf/', secure=True, HTTP_HOST='portal.example.com'); "
        "print(json.dumps([r.status_code, r['Content-Security-Policy']]))"
    )
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {
        **os.environ, "PORTAL_ENV": profile, "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SECRET_KEY": "x" * 50, "PORTAL_ENCRYPTION_KEYS": "k1:" + "QUFB" * 10 + "QUE=",
        "ALLOWED_HOSTS": "portal.example.com",
        # production has no defaults for these: give it the test run's servers, as an operator would
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    status, header = json.loads(out.stdout.strip().splitlines()[-1])
    assert status == 200
    assert_strict(header, websocket="wss://portal.example.com")

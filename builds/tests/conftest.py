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

from portal.testing import service_missing


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
        service_missing(why)
    from builds import registry_actions

    return registry_actions.ensure_builtin()


class Pusher:
    """Pushes small real OCI images (a config and one gzip layer, or an index of two) to a registry
    through the Registry HTTP API, with basic auth or the Bearer token flow, as a builder would."""

    def __init__(self, base: str, auth: tuple[str, str] | None, verify: str | bool) -> None:
        self.base, self.auth, self.verify = base, auth, verify
        self.tokens: dict[str, str] = {}

    def _request(self, method: str, url: str, *, scope: str, **kwargs: Any) -> requests.Response:
        import re

        for _ in (0, 1):
            headers = dict(kwargs.pop("headers", {}) or {})
            auth = None
            if scope in self.tokens:
                headers["Authorization"] = f"Bearer {self.tokens[scope]}"
            else:
                auth = self.auth
            response = requests.request(method, url, headers=headers, auth=auth, verify=self.verify, timeout=10,
                                        **kwargs)
            kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
            challenge = response.headers.get("WWW-Authenticate", "")
            if response.status_code == 401 and challenge.startswith("Bearer") and scope not in self.tokens:
                params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
                got = requests.get(params["realm"], params={"service": params.get("service", ""), "scope": scope},
                                   auth=self.auth, verify=self.verify, timeout=10)
                assert got.status_code == 200, got.text
                self.tokens[scope] = got.json()["token"]
                continue
            return response
        return response

    def blob(self, repository: str, data: bytes) -> str:
        import hashlib

        scope = f"repository:{repository}:pull,push"
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = self._request("POST", f"{self.base}/v2/{repository}/blobs/uploads/", scope=scope)
        assert started.status_code == 202, started.text
        location = requests.compat.urljoin(self.base, started.headers["Location"])
        done = self._request("PUT", location + ("&" if "?" in location else "?") + f"digest={digest}", scope=scope,
                             data=data, headers={"Content-Type": "application/octet-stream"})
        assert done.status_code == 201, done.text
        return digest

    def manifest(self, repository: str, reference: str, doc: dict[str, Any]) -> tuple[str, int]:
        import hashlib
        import json

        body = json.dumps(doc).encode()
        response = self._request("PUT", f"{self.base}/v2/{repository}/manifests/{reference}",
                                 scope=f"repository:{repository}:pull,push", data=body,
                                 headers={"Content-Type": doc["mediaType"]})
        assert response.status_code == 201, response.text
        return "sha256:" + hashlib.sha256(body).hexdigest(), len(body)

    def image(self, repository: str, tag: str, *, architecture: str = "amd64", variant: str = "",
              created: str = "2026-01-02T03:04:05Z", labels: dict[str, str] | None = None,
              content: bytes = b"hello") -> dict[str, Any]:
        """Push one image; returns {digest, size (config + layer), manifest_size, config, layer}."""
        import gzip
        import hashlib
        import io
        import json
        import tarfile

        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            info = tarfile.TarInfo("app/hello.txt")
            info.size, info.mtime = len(content), 0
            tar.addfile(info, io.BytesIO(content))
        layer = gzip.compress(raw.getvalue(), mtime=0)
        platform = {"architecture": architecture, "os": "linux", **({"variant": variant} if variant else {})}
        config = json.dumps({
            **platform, "created": created,
            "config": {"Labels": labels or {}, "Cmd": ["/app/hello.txt"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]},
        }).encode()
        manifest = {
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": self.blob(repository, config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": self.blob(repository, layer), "size": len(layer)}]}
        digest, manifest_size = self.manifest(repository, tag, manifest)
        return {"digest": digest, "size": len(config) + len(layer), "manifest_size": manifest_size,
                "platform": platform}

    def index(self, repository: str, tag: str) -> dict[str, Any]:
        """Push a two-platform index (linux/amd64, linux/arm64/v8); returns {digest, size, platforms}."""
        amd = self.image(repository, f"{tag}-amd64", architecture="amd64", content=b"amd64")
        arm = self.image(repository, f"{tag}-arm64", architecture="arm64", variant="v8", content=b"arm64",
                         created="2026-01-03T00:00:00Z")
        doc = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image["digest"],
             "size": image["manifest_size"], "platform": image["platform"]} for image in (amd, arm)]}
        digest, _ = self.manifest(repository, tag, doc)
        return {"digest": digest, "size": amd["size"] + arm["size"], "platforms": [amd["platform"], arm["platform"]]}


@pytest.fixture
def builtin_pusher(builtin_registry: Any) -> Pusher:
    base, auth, ca = registry_auth()
    return Pusher(base, auth, ca)


@pytest.fixture
def make_pusher() -> type[Pusher]:
    """:class:`Pusher` for registries a test starts itself: ``make_pusher(base_url, auth, verify)``."""
    return Pusher

"""OCI registries holding Helm charts, against a real registry: the Debian package
``docker-registry`` (Distribution v2, installed by ``scripts/system-deps.sh``) started on a free
loopback port with filesystem storage and htpasswd basic auth, charts pushed into it from Python
through the distribution API with Helm's media types. Without the binary the tests skip."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from rest_framework.test import APIClient

from catalog import oci, sources, tasks
from catalog.models import CatalogSource, Package, PackageVersion
from catalog.tests.charts import chart_files, webapp

pytestmark = pytest.mark.django_db

BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
USER, PASSWORD = "pusher", "oci-s3cret"


def _bcrypt(password: str) -> str | None:
    """A bcrypt hash for htpasswd, with what this machine has (no new pip dependency)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # Python < 3.13; libxcrypt knows bcrypt

            hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))  # cost 4: tests
            if hashed and hashed.startswith("$2"):
                return hashed
    except (ImportError, AttributeError, OSError):
        pass
    try:
        import bcrypt  # type: ignore[import-not-found]

        return str(bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode())
    except ImportError:
        pass
    if shutil.which("htpasswd"):
        out = subprocess.run(["htpasswd", "-nbB", "x", password], capture_output=True, text=True, check=True).stdout
        return out.strip().split(":", 1)[1]
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Registry:
    url: str  # http://127.0.0.1:port
    root: Path  # filesystem storage
    auth: tuple[str, str] | None

    @property
    def host(self) -> str:
        return self.url.split("//", 1)[1]

    def push_blob(self, repository: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = requests.post(f"{self.url}/v2/{repository}/blobs/uploads/", auth=self.auth, timeout=10)
        assert started.status_code == 202, started.text
        location = requests.compat.urljoin(self.url, started.headers["Location"])
        done = requests.put(location + ("&" if "?" in location else "?") + f"digest={digest}", data=data,
                            headers={"Content-Type": "application/octet-stream"}, auth=self.auth, timeout=10)
        assert done.status_code == 201, done.text
        return digest

    def push(self, repository: str, tag: str, *, config: bytes, layer: bytes,
             config_type: str = oci.MEDIA_CONFIG, layer_type: str = oci.MEDIA_CHART) -> dict[str, Any]:
        """Push an artifact like ``helm push`` does: the config and layer blobs, then the manifest."""
        manifest = {
            "schemaVersion": 2, "mediaType": oci.MEDIA_MANIFEST,
            "config": {"mediaType": config_type, "digest": self.push_blob(repository, config), "size": len(config)},
            "layers": [{"mediaType": layer_type, "digest": self.push_blob(repository, layer), "size": len(layer)}],
            "annotations": {"org.opencontainers.image.created": "2026-01-02T03:04:05Z"}}
        response = requests.put(f"{self.url}/v2/{repository}/manifests/{tag}", data=json.dumps(manifest),
                                headers={"Content-Type": oci.MEDIA_MANIFEST}, auth=self.auth, timeout=10)
        assert response.status_code == 201, response.text
        return manifest

    def push_chart(self, repository: str, chart: bytes, version: str) -> dict[str, Any]:
        meta = yaml.safe_load(chart_files()["Chart.yaml"])
        meta["version"] = version
        return self.push(repository, version.replace("+", "_"), config=json.dumps(meta).encode(), layer=chart)

    def blob_file(self, digest: str) -> Path:
        hexdigest = digest.split(":", 1)[1]
        return self.root / "docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest / "data"


def _start(tmp: Path, *, htpasswd: str | None) -> tuple[subprocess.Popen[bytes], Registry]:
    if not Path(BINARY).exists():
        pytest.skip("the docker-registry binary is missing (apt-get install docker-registry; scripts/system-deps.sh "
                    "installs it)")
    port = _free_port()
    config: dict[str, Any] = {
        "version": 0.1, "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(tmp / "data")}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "test-only-secret"}}
    if htpasswd is not None:
        (tmp / "htpasswd").write_text(f"{USER}:{htpasswd}\n")
        config["auth"] = {"htpasswd": {"realm": "charts", "path": str(tmp / "htpasswd")}}
    (tmp / "config.yml").write_text(yaml.safe_dump(config))
    log = (tmp / "registry.log").open("wb")
    process = subprocess.Popen([BINARY, "serve", str(tmp / "config.yml")], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            if requests.get(f"{url}/v2/", timeout=1).status_code in (200, 401):
                break
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"docker-registry did not start: {(tmp / 'registry.log').read_text()[-2000:]}")
        time.sleep(0.1)
    return process, Registry(url=url, root=tmp / "data", auth=(USER, PASSWORD) if htpasswd else None)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _fill(registry: Registry) -> None:
    registry.push_chart("charts/webapp", webapp(), "1.2.0")
    registry.push_chart("charts/webapp", webapp("1.1.0"), "1.1.0")
    # Not charts, or not under the prefix: ignored.
    registry.push("charts/tools", "latest", config=b"{}", layer=b"layer",
                  config_type="application/vnd.oci.image.config.v1+json",
                  layer_type="application/vnd.oci.image.layer.v1.tar+gzip")
    registry.push_chart("other/webapp", webapp("9.0.0"), "9.0.0")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    """A registry with htpasswd basic auth holding the webapp chart (1.2.0 and 1.1.0) under charts/."""
    hashed = _bcrypt(PASSWORD)
    if hashed is None:
        pytest.skip("no way to make a bcrypt htpasswd entry here (crypt, bcrypt or htpasswd)")
    process, server = _start(tmp_path, htpasswd=hashed)
    try:
        _fill(server)
        yield server
    finally:
        _stop(process)


@pytest.fixture
def open_registry(tmp_path: Path) -> Iterator[Registry]:
    """The same charts in a registry without auth."""
    process, server = _start(tmp_path, htpasswd=None)
    try:
        _fill(server)
        yield server
    finally:
        _stop(process)


def _create(client: APIClient, registry: Registry, *, prefix: str = "charts", **extra: Any) -> Any:
    body = {"name": "oci-charts", "kind": "oci", "workspace": None, "url": f"oci+http://{registry.host}/{prefix}/",
            "refresh_minutes": 30, **extra}
    if registry.auth:
        body.setdefault("username", USER)
        body.setdefault("password", PASSWORD)
    return client.post("/api/catalog/sources/", body, format="json")


def test_refresh_reads_charts_and_archives_are_verified(admin_api: APIClient, registry: Registry,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oci, "PAGE_SIZE", 1)  # every listing paged by its Link header
    response = _create(admin_api, registry)
    assert response.status_code == 201, response.content
    row = response.json()
    assert (row["kind"], row["status"], row["has_password"]) == ("oci", "refreshing", True)
    assert row["url"] == f"oci+http://{registry.host}/charts"
    source = CatalogSource.objects.get(pk=row["id"])
    assert source.get_password() == PASSWORD

    assert tasks.refresh_source(source.pk) == "ready"
    source.refresh_from_db()
    assert source.status == "ready", source.message
    assert source.message == "1 package(s), 2 version(s)."
    package = Package.objects.get(source=source)
    assert (package.name, package.latest_version, package.keywords, package.home) == (
        "webapp", "1.2.0", ["web", "test"], "https://example.com/webapp")
    assert package.description == "A small web application for the catalog tests"
    v120 = PackageVersion.objects.get(package=package, version="1.2.0")
    assert v120.archive_url == f"oci://{registry.host}/charts/webapp:1.2.0"
    assert v120.digest == "sha256:" + hashlib.sha256(webapp()).hexdigest()
    assert (v120.app_version, v120.created.year) == ("2.4.1", 2026)
    assert v120.archive is None

    # Fetched once by a task (a GET only asks for it), checked against the manifest's layer digest, kept.
    detail = admin_api.get(f"/api/catalog/versions/{v120.pk}/")
    assert (detail.status_code, detail.json()["archive_status"]) == (200, "fetching"), detail.content
    assert tasks.fetch_archive(v120.pk) == "stored"
    detail = admin_api.get(f"/api/catalog/versions/{v120.pk}/")
    assert detail.json()["archive_status"] == "stored"
    assert detail.json()["readme"].startswith("# webapp")
    assert [f["path"] for f in detail.json()["form"]][:1] == ["replicaCount"]
    v120.refresh_from_db()
    assert bytes(v120.archive or b"") == webapp()

    # A blob changed in the registry's storage is refused.
    v110 = PackageVersion.objects.get(package=package, version="1.1.0")
    blob = registry.blob_file(v110.digest)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    assert tasks.fetch_archive(v110.pk) == "failed"
    refused = admin_api.get(f"/api/catalog/versions/{v110.pk}/")
    assert (refused.status_code, refused.json()["archive_status"]) == (200, "failed")
    assert "does not match the digest in the registry's manifest" in refused.json()["archive_message"]
    v110.refresh_from_db()
    assert v110.archive is None
    # A digest the registry does not hold, or an address on another registry: refused too.
    PackageVersion.objects.filter(pk=v110.pk).update(digest="sha256:" + "0" * 64)
    with pytest.raises(sources.SourceError, match="not found"):
        sources.ensure_archive(PackageVersion.objects.get(pk=v110.pk))
    PackageVersion.objects.filter(pk=v110.pk).update(archive_url="oci://elsewhere.example.com/charts/webapp:1.1.0")
    with pytest.raises(sources.SourceError, match="does not fetch"):
        sources.ensure_archive(PackageVersion.objects.get(pk=v110.pk))

    # A new version pushed shows up on the next refresh.
    registry.push_chart("charts/webapp", webapp("1.3.0"), "1.3.0")
    assert sources.refresh(source.pk) == "ready"
    package.refresh_from_db()
    assert package.latest_version == "1.3.0"

    # The prefix may name the chart repository itself.
    assert admin_api.patch(f"/api/catalog/sources/{source.pk}/", {"url": f"oci+http://{registry.host}/other/webapp"},
                           format="json").status_code == 200
    assert sources.refresh(source.pk) == "ready"
    assert list(PackageVersion.objects.filter(package__source=source, archive__isnull=True)
                .values_list("version", flat=True)) == ["9.0.0"]


def test_bad_credentials_and_addresses(admin_api: APIClient, registry: Registry, settings: Any) -> None:
    source_id = _create(admin_api, registry, password="wrong").json()["id"]
    assert sources.refresh(source_id) == "error"
    source = CatalogSource.objects.get(pk=source_id)
    assert "refused access" in source.message
    assert "HTTP 401" in source.message
    assert "check the username and password" in source.message
    CatalogSource.objects.filter(pk=source_id).update(username="", password_encrypted="")
    sources.refresh(source_id)
    assert "needs a username and password" in CatalogSource.objects.get(pk=source_id).message

    CatalogSource.objects.filter(pk=source_id).update(url="oci://no-such-registry.invalid/charts")
    assert sources.refresh(source_id) == "error"
    assert "Cannot resolve no-such-registry.invalid" in CatalogSource.objects.get(pk=source_id).message

    settings.PORTAL_CLUSTER_ALLOW_LOOPBACK = False
    CatalogSource.objects.filter(pk=source_id).update(url=f"oci+http://{registry.host}/charts")
    assert sources.refresh(source_id) == "error"
    message = CatalogSource.objects.get(pk=source_id).message
    assert "is not allowed" in message
    assert "loopback" in message
    CatalogSource.objects.filter(pk=source_id).update(url="oci://169.254.169.254/charts")
    sources.refresh(source_id)
    assert "link-local or cloud-metadata" in CatalogSource.objects.get(pk=source_id).message


def test_registry_without_auth(admin_api: APIClient, open_registry: Registry) -> None:
    source_id = _create(admin_api, open_registry).json()["id"]
    assert sources.refresh(source_id) == "ready"
    version = PackageVersion.objects.get(package__source_id=source_id, version="1.2.0")
    assert sources.ensure_archive(version) == webapp()


def test_addresses_are_validated(admin_api: APIClient, team: dict[str, Any], settings: Any) -> None:
    manager = team["api"]["a-manager"]
    body = {"name": "reg", "kind": "oci", "workspace": team["a"].pk}
    cases = [
        ({}, "needs the registry's address"),
        ({"url": "https://registry.example.com/charts"}, "oci://registry.example.com/charts"),
        ({"url": "oci://me:pw@registry.example.com/charts"}, "not in the address"),
        ({"url": "oci://registry.example.com/Charts"}, "lowercase"),
        ({"url": "oci://registry.example.com/charts?x=1"}, "no query"),
    ]
    for extra, text in cases:
        refused = manager.post("/api/catalog/sources/", {**body, **extra}, format="json")
        assert refused.status_code == 400, (extra, refused.content)
        assert text in refused.json()["errors"]["url"][0]
    created = manager.post("/api/catalog/sources/", {**body, "url": "oci://Registry.Example.com:5000/charts/"},
                           format="json")
    assert created.status_code == 201, created.content
    assert created.json()["url"] == "oci://registry.example.com:5000/charts"

    # Plain HTTP (helm's --plain-http) only where http:// repositories are allowed.
    settings.PORTAL_ENV = "production"
    plain = manager.patch(f"/api/catalog/sources/{created.json()['id']}/",
                          {"url": "oci+http://registry.example.com/charts"}, format="json")
    assert plain.status_code == 400
    assert "oci://" in plain.json()["errors"]["url"][0]
    assert admin_api.post("/api/catalog/sources/", {**body, "workspace": None,
                                                    "url": "oci+http://registry.example.com/charts"},
                          format="json").status_code == 201

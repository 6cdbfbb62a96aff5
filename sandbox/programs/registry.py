"""A small Registry HTTP API v2 client for the simulated builder and scanner, with ``requests``.

Why not the portal's client: the sandbox imports nothing from the portal, and the builder must
behave like BuildKit on the wire: anonymous first, then on a 401 the challenge decides — Basic
with the docker config's credentials, or the Bearer token flow (``WWW-Authenticate: Bearer
realm=…,service=…,scope=…``: GET the realm with the credentials, use the token). TLS verified
against the CA the pod mounts, or plain http for an insecure registry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ACCEPT = ", ".join((MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST, MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST))
TIMEOUT = 30


class RegistryError(Exception):
    """A registry answered with an error (``status``) or could not be reached (``status`` 0)."""

    def __init__(self, message: str, status: int = 0, url: str = "", codes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = url
        self.codes = codes  # the registry's error codes (MANIFEST_BLOB_UNKNOWN, ...)


@dataclass(frozen=True)
class Reference:
    host: str  # the registry as named (docker.io for Docker Hub)
    repository: str
    tag: str
    digest: str

    @property
    def api_host(self) -> str:
        return "registry-1.docker.io" if self.host == "docker.io" else self.host

    def __str__(self) -> str:
        out = f"{self.host}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_reference(ref: str) -> Reference:
    """``alpine`` → docker.io/library/alpine:latest; ``127.0.0.1:5000/a/b:t@sha256:…`` as given."""
    rest, _, digest = ref.partition("@")
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        host, path = first, remainder
    else:
        host, path = "docker.io", rest
        if "/" not in path:
            path = "library/" + path
    tag = ""
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
    if not tag and not digest:
        tag = "latest"
    return Reference(host, path, tag, digest)


def docker_config_auth(config_dir: Path | None, host: str) -> tuple[str, str] | None:
    """Credentials for ``host`` from ``<config_dir>/config.json`` (``auths`` keyed by host or URL)."""
    return None if config_dir is None else auth_file_auth(config_dir / "config.json", host)


def auth_file_auth(path: Path, host: str) -> tuple[str, str] | None:
    """Credentials for ``host`` from a docker config / containers auth.json file."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    auths = data.get("auths") or {}
    for key, entry in auths.items():
        name = re.sub(r"^https?://", "", str(key)).split("/", 1)[0]
        if name in (host, "registry-1.docker.io" if host == "docker.io" else host) or (
                host == "docker.io" and name in ("index.docker.io", "registry-1.docker.io")):
            if entry.get("auth"):
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
                return user, password
            if entry.get("username"):
                return str(entry["username"]), str(entry.get("password") or "")
    return None


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


@dataclass
class Client:
    """One registry host: scheme, TLS verification and credentials; tokens cached per scope."""

    host: str
    scheme: str = "https"
    verify: str | bool = True
    auth: tuple[str, str] | None = None
    session: requests.Session = field(default_factory=requests.Session)
    _tokens: dict[str, str] = field(default_factory=dict)
    _basic: bool = False

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}"

    def request(self, method: str, url: str, *, scope: str, **kwargs: Any) -> requests.Response:
        if not url.startswith("http"):
            url = self.base + url
        headers = dict(kwargs.pop("headers", None) or {})
        kwargs.setdefault("timeout", TIMEOUT)
        for _ in range(2):
            if scope in self._tokens:
                headers["Authorization"] = f"Bearer {self._tokens[scope]}"
            elif self._basic and self.auth:
                headers["Authorization"] = "Basic " + base64.b64encode(":".join(self.auth).encode()).decode()
            try:
                response = self.session.request(method, url, headers=headers, verify=self.verify, **kwargs)
            except requests.exceptions.SSLError as exc:
                raise RegistryError(f"tls: failed to verify certificate: {_reason(exc)}", 0, url) from exc
            except requests.RequestException as exc:
                raise RegistryError(f"dial tcp {self.host}: connect: {_reason(exc)}", 0, url) from exc
            if response.status_code != 401 or "Authorization" in headers:
                return response
            scheme, params = _challenge(response.headers.get("WWW-Authenticate", ""))
            if scheme == "basic":
                if not self.auth:
                    return response
                self._basic = True
            elif scheme == "bearer" and params.get("realm"):
                self._tokens[scope] = self._token(params, scope)
            else:
                return response
        return response

    def _token(self, params: dict[str, str], scope: str) -> str:
        query = {"service": params.get("service", "")}
        query["scope"] = scope or params.get("scope", "")
        try:
            response = self.session.get(params["realm"], params=query, auth=self.auth, verify=self.verify,
                                        timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise RegistryError(f"failed to fetch oauth token: {_reason(exc)}", 0, params["realm"]) from exc
        if response.status_code != 200:
            raise RegistryError(f"failed to authorize: failed to fetch oauth token: unexpected status from GET request "
                                f"to {params['realm']}: {response.status_code} {response.reason}",
                                response.status_code, params["realm"])
        body = response.json()
        return str(body.get("token") or body.get("access_token") or "")

    # ---------------------------------------------------------------- reading

    def manifest(self, repository: str, reference: str) -> tuple[dict[str, Any], str, str, bytes]:
        """(manifest, media type, digest, raw bytes); raises RegistryError on anything but 200."""
        url = f"/v2/{repository}/manifests/{reference}"
        response = self.request("GET", url, scope=f"repository:{repository}:pull", headers={"Accept": ACCEPT})
        if response.status_code != 200:
            raise status_error(response, self.base + url)
        raw = response.content
        digest = response.headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(raw).hexdigest()
        body = json.loads(raw)
        media = str(body.get("mediaType") or response.headers.get("Content-Type", "").split(";")[0])
        return body, media, digest, raw

    def image_manifest(self, repository: str, reference: str) -> tuple[dict[str, Any], str, bytes]:
        """The linux/amd64 image manifest behind ``reference`` (an index is resolved)."""
        body, media, digest, raw = self.manifest(repository, reference)
        if media in (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST) or "manifests" in body:
            chosen = next((m for m in body.get("manifests") or []
                           if (m.get("platform") or {}).get("os") == "linux"
                           and (m.get("platform") or {}).get("architecture") == "amd64"), None)
            if chosen is None:
                chosen = (body.get("manifests") or [None])[0]
            if chosen is None:
                raise RegistryError(f"no match for platform in manifest {digest}: not found", 404)
            body, media, digest, raw = self.manifest(repository, str(chosen["digest"]))
        return body, digest, raw

    def blob(self, repository: str, digest: str) -> bytes:
        url = f"/v2/{repository}/blobs/{digest}"
        response = self.request("GET", url, scope=f"repository:{repository}:pull")
        if response.status_code != 200:
            raise status_error(response, self.base + url)
        return response.content

    # ---------------------------------------------------------------- writing

    def has_blob(self, repository: str, digest: str) -> bool:
        url = f"/v2/{repository}/blobs/{digest}"
        response = self.request("HEAD", url, scope=f"repository:{repository}:pull,push")
        if response.status_code in (401, 403):
            raise status_error(response, self.base + url)
        return response.status_code == 200

    def push_blob(self, repository: str, data: bytes, digest: str) -> None:
        if self.has_blob(repository, digest):
            return
        scope = f"repository:{repository}:pull,push"
        url = f"/v2/{repository}/blobs/uploads/"
        started = self.request("POST", url, scope=scope)
        if started.status_code != 202:
            raise status_error(started, self.base + url)
        location = requests.compat.urljoin(self.base + url, started.headers.get("Location", ""))
        done = self.request("PUT", location + ("&" if "?" in location else "?") + f"digest={digest}", scope=scope,
                            data=data, headers={"Content-Type": "application/octet-stream"})
        if done.status_code != 201:
            raise status_error(done, location)

    def put_manifest(self, repository: str, reference: str, raw: bytes, media_type: str) -> str:
        url = f"/v2/{repository}/manifests/{reference}"
        response = self.request("PUT", url, scope=f"repository:{repository}:pull,push", data=raw,
                                headers={"Content-Type": media_type})
        if response.status_code != 201:
            raise status_error(response, self.base + url)
        return response.headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(raw).hexdigest()


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out", "certificate verify failed"):
        if marker in text:
            return {"Connection refused": "connection refused",
                    "Name or service not known": "no such host", "timed out": "i/o timeout",
                    "certificate verify failed": "x509: certificate signed by unknown authority"}[marker]
    return text[:200]


def status_error(response: requests.Response, url: str) -> RegistryError:
    """An error answer in the words containerd/BuildKit use: ``unexpected status from PUT request to
    <url>: 401 Unauthorized``, or the registry's own error code when it sent one."""
    detail = ""
    codes: tuple[str, ...] = ()
    try:
        errors = response.json().get("errors") or []
        if errors:
            detail = f"{str(errors[-1].get('code', '')).lower()}: {str(errors[-1].get('message', '')).lower()}"
            codes = tuple(str(e.get("code", "")) for e in errors)
    except (ValueError, AttributeError):
        pass
    method = response.request.method if response.request is not None else "GET"
    message = f"unexpected status from {method} request to {url}: {response.status_code} {response.reason}"
    if response.status_code == 404 and detail:
        message = f"{url}: not found"
    elif detail and response.status_code not in (401, 404):
        message += f": {detail}"  # containerd appends the registry's error
    return RegistryError(message, response.status_code, url, codes)


def client_for(host: str, *, insecure: bool = False, http: bool = False, ca_file: Path | None = None,
               auth: tuple[str, str] | None = None) -> Client:
    """A client for ``host`` as BuildKit would talk to it: https verified against the system roots
    plus ``ca_file``; plain http when ``http``; https without verification when ``insecure``."""
    if http:
        return Client(host, "http", True, auth)
    verify: str | bool = str(ca_file) if ca_file is not None else True
    if insecure:
        verify = False
        _quiet_insecure()
    return Client(host, "https", verify, auth)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _quiet_insecure() -> None:
    """An insecure registry is what the pod asked for: no warning per request in the sandbox's log."""
    import urllib3

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

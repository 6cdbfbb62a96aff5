"""Pure helpers about registries and image references (no I/O, no database writes).

Why one module: the registry API, the build Jobs, the pull secrets and the deploy gate all need the
same answers to "which registry is this image in", "where is that registry's API" and "what does
a docker config for these credentials look like"; giving each its own parser would let them
disagree (Docker Hub's ``docker.io`` vs ``index.docker.io`` vs ``registry-1.docker.io``, the implicit
``library/`` of official images).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

from portal import oci
from portal.addresses import InvalidHost, canonical_host

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/"  # the key `docker login` and kubectl write for Docker Hub
_DOCKER_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
PULL_SECRET_PREFIX = "portal-pull-"
HOST_MAX_LENGTH = 255
_PORT = re.compile(r"^[0-9]{1,5}$")


def normalize_host(text: str) -> str:
    """A registry's host as image references name it: ``host`` or ``host:port``, lowercase, IDNA,
    IPv6 in brackets; Docker Hub's aliases become ``docker.io``. A ValueError's text says what to
    give instead (the caller answers 400 with it)."""
    raw = (text or "").strip()
    if not raw:
        raise ValueError("Give the registry's host, like registry.example.com or registry.example.com:5000.")
    if len(raw) > HOST_MAX_LENGTH:
        raise ValueError(f"A registry host has at most {HOST_MAX_LENGTH} characters.")
    if "://" in raw:
        raise ValueError("Give the host without a scheme (registry.example.com:5000); plain_http says whether "
                         "the registry speaks HTTP instead of HTTPS.")
    raw = raw.rstrip("/")
    if "/" in raw:
        raise ValueError("Give only the registry's host and port; repository prefixes are given when the registry "
                         "is allocated to a workspace.")
    if "@" in raw:
        raise ValueError("Put the credentials in username and password, not in the host.")
    host, port = raw, ""
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise ValueError("An IPv6 address is written in brackets, like [2001:db8::1]:5000.")
        host, rest = raw[:end + 1], raw[end + 1:]
        if rest and not rest.startswith(":"):
            raise ValueError("Give host:port, like [2001:db8::1]:5000.")
        port = rest[1:]
    elif raw.count(":") == 1:
        host, port = raw.split(":")
    elif raw.count(":") > 1:
        raise ValueError("Write an IPv6 address in brackets, like [2001:db8::1]:5000.")
    if (port or raw.endswith(":")) and (not _PORT.match(port) or not 0 < int(port) < 65536):
        raise ValueError("The registry's port is not a number between 1 and 65535.")
    try:
        name = canonical_host(host)
    except InvalidHost as exc:
        raise ValueError(str(exc)) from exc
    if ":" in name:
        name = f"[{name}]"
    if name in _DOCKER_HUB_ALIASES and not port:
        return DOCKER_HUB
    return f"{name}:{int(port)}" if port else name


def api_host(host: str) -> str:
    """Where a registry's HTTP API answers (Docker Hub's images are ``docker.io`` but its API is
    ``registry-1.docker.io``)."""
    return DOCKER_HUB_API if host == DOCKER_HUB else host


def location(registry: Any) -> oci.Location:
    """The :class:`portal.oci.Location` of a :class:`builds.models.Registry` (its API's base)."""
    return oci.Location(host=api_host(registry.host), plain_http=bool(registry.plain_http), prefix="")


@dataclass(frozen=True)
class ImageRef:
    """An image reference taken apart: ``host`` (``docker.io`` for Docker Hub), ``repository``
    (``library/nginx`` for ``nginx``), ``tag`` (``latest`` when neither tag nor digest is given)
    and ``digest`` (``sha256:…`` or empty)."""

    host: str
    repository: str
    tag: str
    digest: str

    @property
    def name(self) -> str:
        """``host/repository`` as references write it."""
        return f"{self.host}/{self.repository}"

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_image(ref: str) -> ImageRef:
    """Take an image reference apart as Docker does: the first component is a registry host when
    it has a ``.`` or ``:`` or is ``localhost``, otherwise the image is on Docker Hub (and a
    one-component name is an official ``library/`` image). A ValueError for what is no reference."""
    text = (ref or "").strip()
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"{ref!r} is not an image reference.")
    digest = ""
    if "@" in text:
        text, digest = text.split("@", 1)
        if not oci.DIGEST.match(digest):
            raise ValueError(f"{ref!r}: the digest is not sha256:<64 hex digits>.")
    first, slash, rest = text.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        try:
            host = normalize_host(first)
        except ValueError as exc:
            raise ValueError(f"{ref!r}: {exc}") from exc
        path = rest
    else:
        host, path = DOCKER_HUB, text
    tag = ""
    last_slash = path.rfind("/")
    if ":" in path[last_slash + 1:]:
        path, tag = path.rsplit(":", 1)
        if not oci.TAG.match(tag):
            raise ValueError(f"{ref!r}: {tag!r} is not a valid tag.")
    if host == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not oci.NAME.match(path):
        raise ValueError(f"{ref!r}: {path!r} is not a valid repository name (lowercase letters, digits, "
                         "separators '.', '_', '-', and '/').")
    if not tag and not digest:
        tag = "latest"
    return ImageRef(host=host, repository=path, tag=tag, digest=digest)


def config_key(host: str) -> str:
    """The key of a registry in a docker config's ``auths``."""
    return DOCKER_HUB_CONFIG_KEY if host == DOCKER_HUB else host


def docker_config_json(entries: list[tuple[str, str, str]]) -> str:
    """A docker config (``.dockerconfigjson``) holding ``(host, username, password)`` entries."""
    auths: dict[str, dict[str, str]] = {}
    for host, username, password in entries:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        auths[config_key(host)] = {"username": username, "password": password, "auth": token}
    return json.dumps({"auths": auths}, sort_keys=True, separators=(",", ":"))


def pull_secret_name(registry: Any) -> str:
    """The name of the pull secret the portal keeps for ``registry`` in a namespace."""
    return f"{PULL_SECRET_PREFIX}{registry.name}"


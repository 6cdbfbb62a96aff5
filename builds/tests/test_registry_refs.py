"""The pure registry helpers every part of builds shares: hosts, image references, docker configs."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace

import pytest

from builds import registries
from builds.registries import ImageRef


@pytest.mark.parametrize(("text", "host"), [
    ("Registry.Example.com", "registry.example.com"),
    ("registry.example.com:5000/", "registry.example.com:5000"),
    ("index.docker.io", "docker.io"),
    ("registry-1.docker.io", "docker.io"),
    ("127.0.0.1:55000", "127.0.0.1:55000"),
    ("[2001:db8::1]:5000", "[2001:db8::1]:5000"),
    ("\uff52\uff45\uff47.example.com", "reg.example.com"),  # fullwidth letters: IDNA mapping
])
def test_normalize_host(text: str, host: str) -> None:
    assert registries.normalize_host(text) == host


@pytest.mark.parametrize(("text", "says"), [
    ("", "Give the registry's host"),
    ("https://r.example.com", "without a scheme"),
    ("r.example.com/team", "prefixes are given when"),
    ("r.example.com:0", "port"),
    ("r.example.com:http", "port"),
    ("2001:db8::1", "brackets"),
    ("user@r.example.com", "credentials"),
    ("bad host", "characters no host name"),
    ("-bad-.example.com", "not a valid host name"),
])
def test_normalize_host_refuses(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        registries.normalize_host(text)


@pytest.mark.parametrize(("ref", "parsed"), [
    ("nginx", ImageRef("docker.io", "library/nginx", "latest", "")),
    ("nginx:1.27", ImageRef("docker.io", "library/nginx", "1.27", "")),
    ("bitnami/redis:7", ImageRef("docker.io", "bitnami/redis", "7", "")),
    ("docker.io/nginx", ImageRef("docker.io", "library/nginx", "latest", "")),
    ("index.docker.io/library/nginx:1", ImageRef("docker.io", "library/nginx", "1", "")),
    ("127.0.0.1:55000/team-a/web:1.0.B000005", ImageRef("127.0.0.1:55000", "team-a/web", "1.0.B000005", "")),
    ("localhost/app", ImageRef("localhost", "app", "latest", "")),
    ("ghcr.io/org/app@sha256:" + "a" * 64, ImageRef("ghcr.io", "org/app", "", "sha256:" + "a" * 64)),
    ("registry.example.com:5000/app:v1@sha256:" + "b" * 64,
     ImageRef("registry.example.com:5000", "app", "v1", "sha256:" + "b" * 64)),
])
def test_parse_image(ref: str, parsed: ImageRef) -> None:
    assert registries.parse_image(ref) == parsed


def test_parse_image_round_trips_and_refuses() -> None:
    ref = "127.0.0.1:55000/team-a/web:1@sha256:" + "c" * 64
    assert str(registries.parse_image(ref)) == ref
    for bad in ("", "UPPER/case", "app:bad tag", "app@sha256:short", "a b"):
        with pytest.raises(ValueError, match=r"."):
            registries.parse_image(bad)


def test_docker_config_and_names() -> None:
    config = json.loads(registries.docker_config_json([("docker.io", "u", "p"), ("127.0.0.1:55000", "portal", "s")]))
    assert config["auths"]["https://index.docker.io/v1/"]["auth"] == base64.b64encode(b"u:p").decode()
    assert config["auths"]["127.0.0.1:55000"] == {"username": "portal", "password": "s",
                                                   "auth": base64.b64encode(b"portal:s").decode()}
    registry = SimpleNamespace(name="builtin", host="docker.io", plain_http=False)
    assert registries.pull_secret_name(registry) == "portal-pull-builtin"
    assert registries.location(registry).base == "https://registry-1.docker.io"

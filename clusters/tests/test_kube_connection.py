"""Kubeconfig and endpoint validation: everything we refuse, with a message naming why."""

from __future__ import annotations

import base64

import pytest

from clusters.kube import addresses
from clusters.kube.connection import Credentials, build_spec, contexts, spec_from_kubeconfig
from clusters.kube.errors import AddressNotAllowed, InvalidConnection

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
CA_B64 = base64.b64encode(CA.encode()).decode()


def kubeconfig(user: str = "    token: abc123", cluster_extra: str = "", current: str = "ctx") -> str:
    return f"""
apiVersion: v1
kind: Config
current-context: {current}
clusters:
- name: c
  cluster:
    server: https://k8s.example.com:6443
    certificate-authority-data: {CA_B64}
{cluster_extra}
contexts:
- name: ctx
  context: {{cluster: c, user: u}}
- name: other
  context: {{cluster: c, user: u}}
users:
- name: u
  user:
{user}
"""


def test_valid_kubeconfig_gives_a_spec() -> None:
    spec, name = spec_from_kubeconfig(kubeconfig())
    assert name == "ctx"
    assert spec.server == "https://k8s.example.com:6443"
    assert spec.ca_pem.startswith("-----BEGIN CERTIFICATE-----")
    assert spec.credentials.token == "abc123"
    assert "abc123" not in repr(spec)
    assert contexts(__import__("yaml").safe_load(kubeconfig())) == ["ctx", "other"]
    assert spec_from_kubeconfig(kubeconfig(), context="other")[1] == "other"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [", "not valid YAML at line"),
        (kubeconfig() + "\n---\n" + kubeconfig(), "exactly one YAML document; this has 2"),
        ("- just a list", "must be a YAML mapping"),
        ("kind: Pod", "kind must be 'Config'"),
        (kubeconfig(current='""'), "no current-context; choose one of: ctx, other"),
        (kubeconfig(current="nope"), "Context 'nope' is not in the kubeconfig; it has: ctx, other"),
        (kubeconfig(user="    exec:\n      command: aws\n      apiVersion: client.authentication.k8s.io/v1"),
         "exec plugin (aws)"),
        (kubeconfig(user="    auth-provider:\n      name: gcp"), "auth-provider plugin"),
        (kubeconfig(user="    tokenFile: /var/run/secrets/token"), "refers to a file ('tokenFile')"),
        (kubeconfig(user="    username: a\n    password: b"), "basic auth"),
        (kubeconfig(user="    {}"), "No credentials"),
        (kubeconfig(cluster_extra="    insecure-skip-tls-verify: true"), "insecure-skip-tls-verify"),
        (kubeconfig(cluster_extra="    proxy-url: http://proxy:3128"), "proxy-url"),
        ("a: &x [1]\nb: *x", "YAML alias"),
    ],
)
def test_refused_kubeconfigs(text: str, message: str) -> None:
    with pytest.raises(InvalidConnection, match=message.replace("(", r"\(").replace(")", r"\)")):
        spec_from_kubeconfig(text)


def test_oversized_kubeconfig() -> None:
    with pytest.raises(InvalidConnection, match="larger than 256 KiB"):
        spec_from_kubeconfig(b"#" * (300 * 1024))


def test_insecure_only_when_explicitly_allowed() -> None:
    text = kubeconfig(cluster_extra="    insecure-skip-tls-verify: true").replace(
        f"    certificate-authority-data: {CA_B64}\n", "")
    spec, _ = spec_from_kubeconfig(text, allow_insecure=True)
    assert spec.insecure_skip_tls_verify


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ("http://k8s.example.com", "must start with https://"),
        ("https://user:pw@k8s.example.com", "user name or password"),
        ("https://k8s.example.com/prefix", "path prefix"),
        ("https://k8s.example.com:99999", "invalid port"),
    ],
)
def test_bad_server_urls(server: str, message: str) -> None:
    with pytest.raises(InvalidConnection, match=message):
        build_spec(server=server, credentials=Credentials(token="t"))


def test_credential_combinations() -> None:
    with pytest.raises(InvalidConnection, match="not both"):
        build_spec(server="https://a.example", credentials=Credentials(token="t", client_certificate=CA, client_key=CA))
    with pytest.raises(InvalidConnection, match="needs its key"):
        build_spec(server="https://a.example", credentials=Credentials(client_certificate=CA))
    with pytest.raises(InvalidConnection, match="one line"):
        build_spec(server="https://a.example", credentials=Credentials(token="two\nlines"))
    with pytest.raises(InvalidConnection, match="not a PEM block"):
        build_spec(server="https://a.example", credentials=Credentials(token="t"), ca_pem="nonsense")


@pytest.mark.parametrize(
    "server",
    ["https://169.254.169.254", "https://[fd00:ec2::254]", "https://[fe80::1]:6443", "https://100.100.100.200"],
)
def test_metadata_and_link_local_are_always_refused(server: str, settings: object) -> None:
    settings.PORTAL_CLUSTER_ALLOW_LOOPBACK = True  # type: ignore[attr-defined]
    with pytest.raises(AddressNotAllowed, match="link-local or cloud-metadata"):
        addresses.resolve(server)


def test_loopback_and_lists_follow_settings(settings: object) -> None:
    settings.PORTAL_CLUSTER_ALLOW_LOOPBACK = False  # type: ignore[attr-defined]
    with pytest.raises(AddressNotAllowed, match="PORTAL_CLUSTER_ALLOW_LOOPBACK"):
        addresses.resolve("https://127.0.0.1:6443")
    with pytest.raises(AddressNotAllowed, match="loopback"):
        addresses.resolve("https://localhost:6443")  # names are resolved, then checked
    settings.PORTAL_CLUSTER_ALLOW_LOOPBACK = True  # type: ignore[attr-defined]
    assert addresses.resolve("https://localhost:6443").address in ("127.0.0.1", "::1")
    settings.PORTAL_CLUSTER_DENY_NETWORKS = ["10.0.0.0/8"]  # type: ignore[attr-defined]
    with pytest.raises(AddressNotAllowed, match="PORTAL_CLUSTER_DENY_NETWORKS"):
        addresses.resolve("https://10.1.2.3")
    settings.PORTAL_CLUSTER_ALLOW_NETWORKS = ["192.168.0.0/16"]  # type: ignore[attr-defined]
    with pytest.raises(AddressNotAllowed, match="outside PORTAL_CLUSTER_ALLOW_NETWORKS"):
        addresses.resolve("https://172.16.0.1")
    assert addresses.resolve("https://192.168.1.10:6443").pinned_url == "https://192.168.1.10:6443"

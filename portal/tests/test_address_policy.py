"""The address policy corpus (issue 11): every way of writing a forbidden address, run against
every outbound target the portal has: cluster registration, chart repositories and OCI
registries, at create/update time (400, nothing stored), at fetch time (nothing contacted), as a
redirect target (a real server on 127.0.0.1 answering 302), and under DNS rebinding.

Forbidden addresses are of two kinds: cloud metadata (169.254.169.254 and friends: refused
everywhere, but nothing listens there, so a test can only read the refusal) and 127.0.0.2, where
a listener counts every connection, so a bypass is *seen*. 127.0.0.2 is loopback, refused by the
production policy; the tests that need a server on 127.0.0.1 use the "sandbox policy": loopback
allowed, but every loopback address except 127.0.0.1 denied through
``PORTAL_CLUSTER_DENY_NETWORKS``.

Names are resolved by the operating system's ``socket.getaddrinfo``; the tests replace it (the OS
boundary, not our code) with a resolver that answers for ``*.attacker.test`` and passes anything
else to the real one.
"""

from __future__ import annotations

import datetime
import ipaddress
import itertools
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import idna
import pytest
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from catalog import oci, sources
from catalog.models import CatalogSource, PackageVersion
from clusters.kube import addresses as kube_addresses
from clusters.kube.client import KubeClient
from clusters.kube.connection import Credentials, build_spec
from clusters.models import Cluster
from clusters.tests.helpers import other_ca
from portal import addresses, outbound
from portal.addresses import AddressNotAllowed, AddressPolicy, InvalidHost
from portal.errors import Invalid

PRODUCTION = AddressPolicy.production()
_names = itertools.count(1)


# ---------------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Case:
    id: str
    host: str  # as written in a URL's authority (IPv6 in brackets)
    kind: str = "forbidden"  # or "invalid": not a usable host at all
    observable: bool = False  # the target is 127.0.0.2, where a listener counts connections
    redirect: bool = True  # also used as a redirect target


def _isatap(v4: str) -> str:
    return f"[2001:db8::5efe:{int(ipaddress.IPv4Address(v4)) >> 16:x}:{int(ipaddress.IPv4Address(v4)) & 0xffff:x}]"


def _teredo_client(v4: str) -> str:
    obfuscated = ~int(ipaddress.IPv4Address(v4)) & 0xFFFFFFFF
    return f"[2001:0:4136:e378:8000:63bf:{obfuscated >> 16:x}:{obfuscated & 0xffff:x}]"


METADATA = [
    Case("v4", "169.254.169.254"),
    Case("v4-other-link-local", "169.254.0.23"),
    Case("ipv4-mapped", "[::ffff:169.254.169.254]"),
    Case("ipv4-mapped-hex", "[::ffff:a9fe:a9fe]"),
    Case("ipv4-translated", "[::ffff:0:a9fe:a9fe]"),
    Case("nat64", "[64:ff9b::a9fe:a9fe]"),
    Case("nat64-dotted", "[64:ff9b::169.254.169.254]"),
    Case("nat64-local-use", "[64:ff9b:1::a9fe:a9fe]"),
    Case("6to4", "[2002:a9fe:a9fe::1]"),
    Case("ipv4-compatible", "[::a9fe:a9fe]"),
    Case("ipv4-compatible-dotted", "[::169.254.169.254]"),
    Case("teredo-client", _teredo_client("169.254.169.254")),
    Case("teredo-server", "[2001:0:a9fe:a9fe::1]"),
    Case("isatap", _isatap("169.254.169.254")),
    Case("decimal", "2852039166"),
    Case("octal", "0251.0376.0251.0376"),
    Case("hex-dotted", "0xa9.0xfe.0xa9.0xfe"),
    Case("hex", "0xa9fea9fe"),
    Case("two-parts", "169.16689662"),
    Case("three-parts", "169.254.43518"),
    Case("mixed-radix", "0251.254.0xa9.254"),
    Case("trailing-dot", "169.254.169.254."),
    Case("idna-circled-digits", "①⑥⑨.②⑤④.①⑥⑨.②⑤④"),
    Case("idna-fullwidth", "\uff11\uff16\uff19\u3002\uff12\uff15\uff14\u3002\uff11\uff16\uff19\u3002\uff12\uff15\uff14"),
    Case("aws-v6", "[fd00:ec2::254]"),
    Case("alibaba", "100.100.100.200"),
    Case("link-local-v6", "[fe80::1]"),
    Case("name", "metadata.attacker.test"),
    Case("name-trailing-dot", "metadata.attacker.test."),
    Case("name-upper-case", "MetaData.Attacker.TEST"),
    Case("name-idna", "mëtadata.attacker.test"),
    Case("name-mapped", "mapped.attacker.test"),
    Case("name-nat64", "nat64.attacker.test"),
    Case("name-one-of-two", "mixed.attacker.test"),
    Case("userinfo", "good.test@169.254.169.254"),
    Case("userinfo-with-port", "good.test:443@169.254.169.254"),
]
LOOPBACK = [  # 127.0.0.2: loopback, refused in production and by the sandbox policy
    Case("lo-v4", "127.0.0.2", observable=True),
    Case("lo-ipv4-mapped", "[::ffff:127.0.0.2]", observable=True),
    Case("lo-ipv4-mapped-hex", "[::ffff:7f00:2]", observable=True),
    Case("lo-nat64", "[64:ff9b::7f00:2]", observable=True),
    Case("lo-6to4", "[2002:7f00:2::1]", observable=True),
    Case("lo-ipv4-compatible", "[::7f00:2]", observable=True),
    Case("lo-decimal", "2130706434", observable=True),
    Case("lo-octal", "0177.0.0.02", observable=True),
    Case("lo-hex", "0x7f000002", observable=True),
    Case("lo-hex-dotted", "0x7f.0x0.0x0.0x2", observable=True),
    Case("lo-short", "127.2", observable=True),
    Case("lo-trailing-dot", "127.0.0.2.", observable=True),
    Case("lo-idna-fullwidth", "\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff12", observable=True),
    Case("lo-name", "loopback.attacker.test", observable=True),
    Case("lo-name-mapped", "mapped-loopback.attacker.test", observable=True),
    Case("lo-userinfo", "good.test@127.0.0.2", observable=True),
]
NEVER = [  # unspecified, multicast, broadcast
    Case("zero", "0.0.0.0"),
    Case("zero-short", "0"),
    Case("zero-hex", "0x0"),
    Case("zero-trailing-dot", "0.0.0.0."),
    Case("unspecified-v6", "[::]"),
    Case("unspecified-mapped", "[::ffff:0.0.0.0]"),
    Case("multicast", "224.0.0.1"),
    Case("multicast-v6", "[ff02::1]"),
    Case("broadcast", "255.255.255.255"),
]
INVALID = [
    Case("scope-id", "[fe80::1%25eth0]", kind="invalid"),
    Case("scope-id-mapped", "[::ffff:169.254.169.254%251]", kind="invalid"),
    Case("octet-out-of-range", "256.1.1.1", kind="invalid"),
    Case("bad-octal", "0258.1.1.1", kind="invalid"),
    Case("five-parts", "1.2.3.4.5", kind="invalid"),
    Case("percent-encoded", "169.254.169.25%34", kind="invalid"),
    Case("backslash", "169.254.169.254\\@good.test", kind="invalid", redirect=False),
]
CORPUS = METADATA + LOOPBACK + NEVER + INVALID
ids = [c.id for c in CORPUS]

ANSWERS: dict[str, list[str]] = {
    "metadata.attacker.test": ["169.254.169.254"],
    idna.encode("mëtadata.attacker.test").decode(): ["169.254.169.254"],
    "mapped.attacker.test": ["::ffff:169.254.169.254"],
    "nat64.attacker.test": ["64:ff9b::a9fe:a9fe"],
    "mixed.attacker.test": ["203.0.113.10", "169.254.169.254"],
    "loopback.attacker.test": ["127.0.0.2"],
    "mapped-loopback.attacker.test": ["::ffff:127.0.0.2"],
    "good.test": ["127.0.0.2"],  # only ever in userinfo; if a parser took it for the host, it is seen
    "public.attacker.test": ["203.0.113.10", "2001:db8::10"],
}

ALLOWED = [  # the policy must not refuse these in production
    ("203.0.113.10", ["203.0.113.10"]),
    ("10.1.2.3", ["10.1.2.3"]),  # private networks are where clusters live
    ("[2001:db8::1]", ["2001:db8::1"]),
    ("[::ffff:203.0.113.10]", ["::ffff:cb00:710a"]),
    ("[64:ff9b::cb00:710a]", ["64:ff9b::cb00:710a"]),  # NAT64 of a public address
    ("0xcb.0.113.10", ["203.0.113.10"]),
    ("public.attacker.test", ["203.0.113.10", "2001:db8::10"]),
    ("Public.Attacker.TEST.", ["203.0.113.10", "2001:db8::10"]),
]


@dataclass
class FakeDNS:
    """``socket.getaddrinfo`` for ``*.test`` names; ``sequence`` answers change per call (rebinding)."""

    real: Callable[..., Any]
    answers: dict[str, list[str]] = field(default_factory=lambda: dict(ANSWERS))
    sequence: dict[str, list[list[str]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def __call__(self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0,
                 flags: int = 0) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in self.answers and name not in self.sequence:
            if name.endswith(".test"):
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return self.real(host, port, family, type, proto, flags)
        self.calls.append(name)
        if name in self.sequence:
            steps = self.sequence[name]
            found = steps.pop(0) if len(steps) > 1 else steps[0]
        else:
            found = self.answers[name]
        out = []
        for address in found:
            ip = ipaddress.ip_address(address)
            fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            sockaddr: tuple[Any, ...] = (address, int(port or 0), 0, 0) if ip.version == 6 else (address, int(port or 0))
            out.append((fam, socket.SOCK_STREAM, 6, "", sockaddr))
        return out


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    fake = FakeDNS(real=socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


class Listener:
    """A plain HTTP server counting every connection it accepts (and answering 200 with ``body``)."""

    def __init__(self, host: str, port: int = 0, *, redirect_to: str = "", body: bytes = b"ok") -> None:
        self.connections: list[str] = []
        self.paths: list[str] = []
        self.redirect_to = redirect_to
        self.body = body
        self.status = 200
        self.headers: dict[str, str] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.paths.append(self.path)
                if owner.redirect_to:
                    self.send_response(302)  # the raw UTF-8 bytes, as an attacker's server sends them
                    self._headers_buffer.append(f"Location: {owner.redirect_to}\r\n".encode())  # type: ignore[attr-defined]
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(owner.status)
                for name, value in owner.headers.items():  # raw UTF-8, as an attacker's server sends them
                    self._headers_buffer.append(f"{name}: {value}\r\n".encode())  # type: ignore[attr-defined]
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def verify_request(self, request: Any, client_address: Any) -> bool:
                owner.connections.append(str(client_address))
                return True

        self.server = Server((host, port), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _certificates(names: list[str]) -> tuple[str, str, str]:
    """A CA, and a server certificate it signed for ``names`` (IP or DNS), with the server's key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "corpus-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(hours=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    server_key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(server_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(hours=2))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False).sign(key, hashes.SHA256()))
    return (ca.public_bytes(serialization.Encoding.PEM).decode(), cert.public_bytes(serialization.Encoding.PEM).decode(),
            server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode())


VERSION = (b'{"major": "1", "minor": "30", "gitVersion": "v1.30.2", "gitCommit": "x", "gitTreeState": "clean", '
           b'"buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.22", "compiler": "gc", "platform": "linux/amd64"}')


class TLSServer:
    """An HTTPS server on 127.0.0.1 (certificate for ``names``) answering like an API server's
    ``/version``, or with a 302 to ``redirect_to``; it records paths, Host headers and SNI names."""

    def __init__(self, tmp: Path, names: list[str]) -> None:
        self.ca_pem, cert, key = _certificates(names)
        (tmp / "server.pem").write_text(cert + self.ca_pem)
        (tmp / "server.key").write_text(key)
        self.redirect_to = ""
        self.paths: list[str] = []
        self.hosts: list[str] = []
        self.sni: list[str | None] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.paths.append(self.path)
                owner.hosts.append(self.headers.get("Host", ""))
                if owner.redirect_to:
                    self.send_response(302)
                    self._headers_buffer.append(f"Location: {owner.redirect_to}\r\n".encode())  # type: ignore[attr-defined]
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(VERSION)))
                self.end_headers()
                self.wfile.write(VERSION)

            def log_message(self, *args: Any) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp / "server.pem", tmp / "server.key")
        context.sni_callback = lambda _sock, name, _ctx: owner.sni.append(name)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def forbidden() -> Iterator[Listener]:
    """The 127.0.0.2 listener: any connection it counts is a bypass of the policy."""
    listener = Listener("127.0.0.2")
    yield listener
    listener.close()


@pytest.fixture
def sandbox_policy(settings: Any) -> None:
    """Loopback allowed for the test servers on 127.0.0.1, every other loopback address denied."""
    settings.PORTAL_CLUSTER_ALLOW_LOOPBACK = True
    settings.PORTAL_CLUSTER_DENY_NETWORKS = [
        str(n) for n in ipaddress.IPv4Network("127.0.0.0/8").address_exclude(ipaddress.IPv4Network("127.0.0.1/32"))]
    settings.PORTAL_CLUSTER_ALLOW_NETWORKS = []


@pytest.fixture
def production_policy(settings: Any) -> None:
    settings.PORTAL_CLUSTER_ALLOW_LOOPBACK = False
    settings.PORTAL_CLUSTER_DENY_NETWORKS = []
    settings.PORTAL_CLUSTER_ALLOW_NETWORKS = []


def _url(scheme: str, case: Case, port: int | None = None, path: str = "/charts") -> str:
    return f"{scheme}://{case.host if port is None else f'{case.host}:{port}'}{path}"


# ---------------------------------------------------------------------------- the policy itself


def _host_of(case: Case) -> str:
    host = case.host.rsplit("@", 1)[-1]
    return host


@pytest.mark.parametrize("case", [c for c in CORPUS if c.kind == "forbidden"], ids=lambda c: c.id)
def test_forbidden_in_production(case: Case, dns: FakeDNS) -> None:
    with pytest.raises(AddressNotAllowed):
        addresses.resolve(_host_of(case), 443, policy=PRODUCTION)


@pytest.mark.parametrize("case", [c for c in CORPUS if c.kind == "invalid" and c.redirect], ids=lambda c: c.id)
def test_invalid_hosts(case: Case, dns: FakeDNS) -> None:
    with pytest.raises(InvalidHost):
        addresses.resolve(_host_of(case).replace("%25", "%"), 443, policy=PRODUCTION)


@pytest.mark.parametrize(("host", "expected"), ALLOWED, ids=[h for h, _ in ALLOWED])
def test_allowed_in_production(host: str, expected: list[str], dns: FakeDNS) -> None:
    assert [str(a) for a in addresses.resolve(host, 443, policy=PRODUCTION)] == expected


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1", "0x7f000001", "[::1]", "[::ffff:127.0.0.1]", "localhost",
                                  "[64:ff9b::7f00:1]", "[::7f00:1]"])
def test_loopback_only_where_allowed(host: str) -> None:
    with pytest.raises(AddressNotAllowed, match="loopback"):
        addresses.resolve(host, 443, policy=PRODUCTION)
    assert addresses.resolve(host, 443, policy=AddressPolicy(allow_loopback=True))


def _encodings(v4: ipaddress.IPv4Address) -> list[str]:
    n = int(v4)
    octets = [int(o) for o in str(v4).split(".")]
    hi, lo = n >> 16, n & 0xFFFF
    return [str(n), hex(n), ".".join(f"0{o:o}" for o in octets), ".".join(hex(o) for o in octets),
            f"{octets[0]}.{n & 0xFFFFFF}", f"{v4!s}.", f"::ffff:{v4}", f"::ffff:0:{hi:x}:{lo:x}",
            f"::{hi:x}:{lo:x}", f"64:ff9b::{v4}", f"64:ff9b:1::{hi:x}:{lo:x}", f"2002:{hi:x}:{lo:x}::1",
            f"2001:db8::5efe:{hi:x}:{lo:x}"]


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.ip_addresses(v=4), st.booleans())
def test_every_encoding_gets_the_verdict_of_the_address_it_encodes(v4: ipaddress.IPv4Address,
                                                                    loopback: bool) -> None:
    policy = AddressPolicy(allow_loopback=loopback)

    def verdict(host: str) -> bool:
        try:
            addresses.resolve(host, 443, policy=policy, resolver=_no_names)
        except AddressNotAllowed:
            return False
        return True

    expected = verdict(str(v4))
    for encoded in _encodings(v4):
        if expected:  # tunnelled forms may add refusals of their own (none for these prefixes)
            assert verdict(encoded), (v4, encoded)
        else:
            assert not verdict(encoded), (v4, encoded)


def _no_names(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} is an address, not a name; nothing should resolve it")


def test_embedded_addresses_meet_the_lists_too() -> None:
    deny = AddressPolicy(allow_loopback=True, deny=(ipaddress.ip_network("10.0.0.0/8"),))
    for host in ("10.1.2.3", "::ffff:10.1.2.3", "64:ff9b::a01:203", "2002:a01:203::1", "::a01:203"):
        with pytest.raises(AddressNotAllowed, match="PORTAL_CLUSTER_DENY_NETWORKS"):
            addresses.resolve(host, 443, policy=deny)
    allow = AddressPolicy(allow=(ipaddress.ip_network("192.168.0.0/16"),))
    assert addresses.resolve("::ffff:192.168.1.2", 443, policy=allow)  # it is 192.168.1.2
    with pytest.raises(AddressNotAllowed, match="outside PORTAL_CLUSTER_ALLOW_NETWORKS"):
        addresses.resolve("64:ff9b::c0a8:102", 443, policy=allow)  # the NAT64 gateway is not in the list


def test_the_settings_are_the_policy(settings: Any) -> None:
    settings.PORTAL_CLUSTER_ALLOW_LOOPBACK = False
    with pytest.raises(kube_addresses.AddressNotAllowed, match="loopback"):
        kube_addresses.resolve("https://[::ffff:127.0.0.1]:6443")
    settings.PORTAL_CLUSTER_ALLOW_LOOPBACK = True
    assert kube_addresses.resolve("https://[::ffff:127.0.0.1]:6443").address == "::ffff:7f00:1"
    with pytest.raises(kube_addresses.AddressNotAllowed, match="cloud-metadata"):
        kube_addresses.resolve("https://[::ffff:169.254.169.254]")


# ---------------------------------------------------------------------------- create and update: 400


@pytest.mark.django_db
@pytest.mark.parametrize("case", CORPUS, ids=ids)
def test_cluster_registration_refuses(case: Case, admin_api: APIClient, dns: FakeDNS, production_policy: None) -> None:
    server = _url("https", case, 6443, path="")
    response = admin_api.post("/api/clusters/", {
        "name": f"corpus-{next(_names)}", "server": server, "ca_pem": other_ca(), "token": "t0ken"}, format="json")
    assert response.status_code == 400, response.content
    assert "server" in response.json()["errors"], response.json()
    kubeconfig = yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "t0ken"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}, allow_unicode=True)
    response = admin_api.post("/api/clusters/", {"name": f"corpus-{next(_names)}", "kubeconfig": kubeconfig},
                              format="json")
    assert response.status_code == 400, response.content
    assert "kubeconfig" in response.json()["errors"], response.json()
    assert not Cluster.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("case", CORPUS, ids=ids)
def test_chart_repository_refused_on_create_and_update(case: Case, admin_api: APIClient, dns: FakeDNS,
                                                        production_policy: None) -> None:
    created = admin_api.post("/api/catalog/sources/", {
        "name": "corpus", "kind": "helm", "workspace": None, "url": _url("http", case)}, format="json")
    assert created.status_code == 400, created.content
    assert "url" in created.json()["errors"]
    assert not CatalogSource.objects.exists()

    good = admin_api.post("/api/catalog/sources/", {
        "name": "good", "kind": "helm", "workspace": None, "url": "https://public.attacker.test/charts"}, format="json")
    assert good.status_code == 201, good.content
    changed = admin_api.patch(f"/api/catalog/sources/{good.json()['id']}/", {"url": _url("https", case)},
                              format="json")
    assert changed.status_code == 400, changed.content
    assert "url" in changed.json()["errors"]
    assert CatalogSource.objects.get().url == "https://public.attacker.test/charts"


@pytest.mark.django_db
@pytest.mark.parametrize("case", CORPUS, ids=ids)
def test_oci_registry_refused_on_create(case: Case, admin_api: APIClient, dns: FakeDNS,
                                        production_policy: None) -> None:
    for scheme in ("oci", "oci+http"):
        created = admin_api.post("/api/catalog/sources/", {
            "name": "corpus", "kind": "oci", "workspace": None, "url": _url(scheme, case)}, format="json")
        assert created.status_code == 400, (scheme, created.content)
        assert "url" in created.json()["errors"]
    assert not CatalogSource.objects.exists()


@pytest.mark.django_db
def test_refusal_names_the_address_with_a_stable_code(admin_api: APIClient, production_policy: None) -> None:
    response = admin_api.post("/api/catalog/sources/", {
        "name": "meta", "kind": "helm", "workspace": None, "url": "http://[::ffff:169.254.169.254]/charts"},
        format="json")
    assert response.status_code == 400
    message = response.json()["errors"]["url"][0]
    assert "IPv4-mapped 169.254.169.254" in message
    assert "cloud-metadata" in message
    with pytest.raises(Invalid) as caught:
        sources.check_destination("http://[::ffff:169.254.169.254]/charts")
    assert (caught.value.code, list(caught.value.errors)) == ("address_not_allowed", ["url"])
    with pytest.raises(Invalid) as caught:
        sources.check_destination("http://[fe80::1%25eth0]/charts")
    assert (caught.value.code, list(caught.value.errors)) == ("invalid_host", ["url"])


@pytest.mark.django_db
def test_a_name_that_does_not_resolve_yet_is_accepted(admin_api: APIClient, dns: FakeDNS,
                                                      production_policy: None) -> None:
    response = admin_api.post("/api/catalog/sources/", {
        "name": "later", "kind": "helm", "workspace": None, "url": "https://not-yet.attacker.test/charts"},
        format="json")
    assert response.status_code == 201, response.content


# ---------------------------------------------------------------------------- fetch time: nothing contacted


def _refresh_refused(source: CatalogSource, forbidden: Listener) -> str:
    assert sources.refresh(source.pk) == "error"
    source.refresh_from_db()
    assert forbidden.connections == [], source.message
    return source.message


@pytest.mark.django_db
@pytest.mark.parametrize("case", CORPUS, ids=ids)
def test_stored_sources_are_not_contacted(case: Case, dns: FakeDNS, forbidden: Listener,
                                          sandbox_policy: None) -> None:
    """A row stored before the policy knew better (or edited in the database) is still refused."""
    for kind, scheme in (("helm", "http"), ("oci", "oci+http")):
        source = CatalogSource.objects.create(name=f"stored-{kind}", kind=kind,
                                              url=_url(scheme, case, forbidden.port))
        message = _refresh_refused(source, forbidden)
        if case.kind == "forbidden":
            assert "not allowed" in message or "user name" in message or "usable" in message, message


# ---------------------------------------------------------------------------- redirects


@pytest.fixture
def redirector() -> Iterator[Listener]:
    listener = Listener("127.0.0.1")
    yield listener
    listener.close()


@pytest.mark.django_db
@pytest.mark.parametrize("case", [c for c in CORPUS if c.redirect], ids=[c.id for c in CORPUS if c.redirect])
def test_redirects_to_forbidden_addresses_are_not_followed(case: Case, dns: FakeDNS, forbidden: Listener,
                                                           redirector: Listener, sandbox_policy: None) -> None:
    redirector.redirect_to = _url("http", case, forbidden.port, path="/charts/index.yaml")
    helm = CatalogSource.objects.create(name="redirected", kind="helm", url=f"http://127.0.0.1:{redirector.port}/c")
    message = _refresh_refused(helm, forbidden)
    assert redirector.paths == ["/c/index.yaml"]
    if case.kind == "forbidden":
        assert "not allowed" in message, message

    registry = CatalogSource.objects.create(name="redirected-oci", kind="oci",
                                            url=f"oci+http://127.0.0.1:{redirector.port}/charts")
    message = _refresh_refused(registry, forbidden)
    assert redirector.paths[1].startswith("/v2/")
    if case.kind == "forbidden":
        assert "not allowed" in message, message


SOME = [c for c in CORPUS if c.observable or c.id in ("ipv4-mapped", "nat64", "decimal", "idna-fullwidth", "name",
                                                       "scope-id")]


@pytest.mark.django_db
@pytest.mark.parametrize("case", SOME, ids=[c.id for c in SOME])
def test_archive_urls_in_an_index_are_checked(case: Case, dns: FakeDNS, forbidden: Listener, redirector: Listener,
                                              sandbox_policy: None) -> None:
    """An index may give any absolute URL for an archive: the fetch checks it like any other."""
    redirector.body = yaml.safe_dump({"apiVersion": "v1", "entries": {"webapp": [{
        "name": "webapp", "version": "1.0.0", "urls": [_url("http", case, forbidden.port, path="/webapp-1.0.0.tgz")],
        "digest": "0" * 64}]}}, allow_unicode=True).encode()
    source = CatalogSource.objects.create(name="index", kind="helm", url=f"http://127.0.0.1:{redirector.port}/c")
    assert sources.refresh(source.pk) == "ready", CatalogSource.objects.get().message
    version = PackageVersion.objects.get(package__source=source)
    with pytest.raises(sources.SourceError) as caught:
        sources.ensure_archive(version)
    assert forbidden.connections == []
    if case.kind == "forbidden":
        assert "not allowed" in caught.value.message


@pytest.mark.django_db
@pytest.mark.parametrize("case", SOME, ids=[c.id for c in SOME])
def test_oci_token_realms_are_checked(case: Case, dns: FakeDNS, forbidden: Listener, redirector: Listener,
                                      sandbox_policy: None) -> None:
    """A registry's 401 names the token service to ask: that address is checked like any other."""
    redirector.status, redirector.body = 401, b"{}"
    realm = _url("http", case, forbidden.port, path="/token")
    redirector.headers = {"WWW-Authenticate": f'Bearer realm="{realm}",service="registry"'}
    source = CatalogSource.objects.create(name="realm", kind="oci", url=f"oci+http://127.0.0.1:{redirector.port}/c")
    with oci.registry(source) as reg, pytest.raises(sources.SourceError) as caught:
        reg.get("/v2/c/tags/list", scope="repository:c:pull", cap=1000, what="tag list")
    assert forbidden.connections == []
    assert redirector.paths == ["/v2/c/tags/list"]
    assert "Could not connect" not in caught.value.message  # refused by the policy, not by the network


@pytest.fixture(scope="module")
def tls_redirector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TLSServer, str]]:
    server = TLSServer(tmp_path_factory.mktemp("tls"), ["127.0.0.1", "rebind.attacker.test"])
    yield server, server.ca_pem
    server.close()


@pytest.mark.django_db
@pytest.mark.parametrize("case", [c for c in CORPUS if c.redirect], ids=[c.id for c in CORPUS if c.redirect])
def test_cluster_redirects_are_not_followed(case: Case, admin_api: APIClient, dns: FakeDNS, forbidden: Listener,
                                            tls_redirector: tuple[TLSServer, str], sandbox_policy: None) -> None:
    server, ca = tls_redirector
    server.redirect_to = _url("http", case, forbidden.port, path="/version")
    response = admin_api.post("/api/clusters/", {
        "name": f"redirected-{next(_names)}", "server": f"https://127.0.0.1:{server.port}", "ca_pem": ca,
        "token": "t0ken"}, format="json")
    assert response.status_code == 400, response.content
    assert forbidden.connections == []
    assert not Cluster.objects.exists()


# ---------------------------------------------------------------------------- DNS rebinding


@pytest.fixture
def rebinding() -> Iterator[tuple[Listener, Listener]]:
    """A server on 127.0.0.1 and a forbidden one on 127.0.0.2 *on the same port*: a name that
    rebinds from the first to the second moves a connection that is not pinned."""
    good = Listener("127.0.0.1")
    bad = Listener("127.0.0.2", good.port)
    yield good, bad
    good.close()
    bad.close()


@pytest.mark.django_db
def test_rebinding_after_the_check_is_refused(admin_api: APIClient, dns: FakeDNS, rebinding: tuple[Listener, Listener],
                                              sandbox_policy: None) -> None:
    """Checked at create time (allowed), rebound before the fetch: the fetch checks again."""
    good, bad = rebinding
    dns.sequence["rebind.attacker.test"] = [["127.0.0.1"], ["127.0.0.2"]]
    created = admin_api.post("/api/catalog/sources/", {
        "name": "rebind", "kind": "helm", "workspace": None, "url": f"http://rebind.attacker.test:{good.port}/c"},
        format="json")
    assert created.status_code == 201, created.content
    assert sources.refresh(created.json()["id"]) == "error"
    message = CatalogSource.objects.get().message
    assert "127.0.0.2" in message
    assert "not allowed" in message
    assert bad.connections == []
    assert good.connections == []


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["helm", "oci", "session"])
def test_a_fetch_connects_to_the_address_it_checked(target: str, dns: FakeDNS, rebinding: tuple[Listener, Listener],
                                                    sandbox_policy: None) -> None:
    """The resolver answers 127.0.0.1 once, then 127.0.0.2: the connection goes where the check
    looked, because nothing resolves the name a second time."""
    good, bad = rebinding
    good.body = b"entries: {}\n" if target == "helm" else b'{"repositories": []}'
    dns.sequence["rebind.attacker.test"] = [["127.0.0.1"], ["127.0.0.2"]]
    if target == "helm":
        source = CatalogSource.objects.create(name="r", kind="helm", url=f"http://rebind.attacker.test:{good.port}/c")
        body = sources.fetch(sources.index_url(source.url), source=source, cap=1000, what="index")
    elif target == "oci":
        source = CatalogSource.objects.create(name="r", kind="oci", url=f"oci+http://rebind.attacker.test:{good.port}")
        with oci.registry(source) as reg:
            body = reg.get("/v2/_catalog", scope="registry:catalog:*", cap=1000, what="list")[0]
    else:
        with outbound.session() as session:
            body = session.get(f"http://rebind.attacker.test:{good.port}/", timeout=5).content
    assert body == good.body
    assert dns.calls == ["rebind.attacker.test"]
    assert len(good.connections) == 1
    assert bad.connections == []


@pytest.mark.django_db
def test_cluster_client_connects_to_the_address_it_checked(dns: FakeDNS, tls_redirector: tuple[TLSServer, str],
                                                           sandbox_policy: None) -> None:
    server, ca = tls_redirector
    server.redirect_to = ""
    dns.sequence["rebind.attacker.test"] = [["127.0.0.1"], ["127.0.0.2"]]
    spec = build_spec(server=f"https://rebind.attacker.test:{server.port}", credentials=Credentials(token="t"),
                      ca_pem=ca)
    before = len(server.paths)
    with KubeClient(spec) as client:  # resolves and checks once, then pins
        client.call(client.version_api.get_code)
        client.call(client.version_api.get_code)
    assert server.paths[before:] == ["/version/", "/version/"]
    assert dns.calls == ["rebind.attacker.test"]


# ---------------------------------------------------------------------------- pinned, yet verified for the name


def test_pinned_https_verifies_the_name_not_the_address(dns: FakeDNS, tls_redirector: tuple[TLSServer, str],
                                                        sandbox_policy: None, tmp_path: Path) -> None:
    server, ca = tls_redirector
    server.redirect_to = ""
    (tmp_path / "ca.pem").write_text(ca)
    dns.answers["rebind.attacker.test"] = ["127.0.0.1"]
    dns.answers["other-name.attacker.test"] = ["127.0.0.1"]
    with outbound.session() as session:
        ok = session.get(f"https://rebind.attacker.test:{server.port}/version", verify=str(tmp_path / "ca.pem"),
                         timeout=5)
        assert ok.status_code == 200
        assert server.hosts[-1] == f"rebind.attacker.test:{server.port}"  # Host header and SNI: the name
        assert server.sni[-1] == "rebind.attacker.test"
        with pytest.raises(requests.exceptions.SSLError) as caught:  # a certificate not for this name
            session.get(f"https://other-name.attacker.test:{server.port}/", verify=str(tmp_path / "ca.pem"), timeout=5)
    assert "not trusted for that name" in outbound.failure_message(caught.value, url="https://other-name.attacker.test/")


def test_connection_failures_read_the_same(sandbox_policy: None) -> None:
    """Refused, closed, reset and timed out: one message (no port scanner); the detail is logged."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused_port = closed.getsockname()[1]
    closed.close()

    hang_up = socket.socket()  # accepts, then closes without a word
    hang_up.bind(("127.0.0.1", 0))
    hang_up.listen()
    silent = socket.socket()  # accepts and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()

    def close_each() -> None:
        while True:
            try:
                conn, _ = hang_up.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=close_each, daemon=True).start()
    messages = set()
    try:
        with outbound.session() as session:
            for port in (refused_port, hang_up.getsockname()[1], silent.getsockname()[1]):
                url = f"http://127.0.0.1:{port}/index.yaml"
                with pytest.raises(requests.exceptions.RequestException) as caught:
                    session.get(url, timeout=(2, 0.5))
                messages.add(outbound.failure_message(caught.value, url=url))
    finally:
        hang_up.close()
        silent.close()
    assert messages == {"Could not connect to 127.0.0.1; check the address and that the portal may reach it."}


def test_environment_proxies_are_not_used(monkeypatch: pytest.MonkeyPatch, dns: FakeDNS, forbidden: Listener,
                                          redirector: Listener, sandbox_policy: None) -> None:
    """A proxy would connect on our behalf to an address we never checked."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.2:{forbidden.port}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.2:{forbidden.port}")
    with outbound.session() as session:
        assert session.get(f"http://127.0.0.1:{redirector.port}/x", timeout=5).content == b"ok"
    assert forbidden.connections == []

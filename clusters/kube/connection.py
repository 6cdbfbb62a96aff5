"""How to reach one cluster: :class:`ConnectionSpec`, built from a kubeconfig or from explicit
fields, validated so that nothing we store can make the server run a command, read a local file,
or connect somewhere it must not.

Refused, each with a message naming the problem: multi-document or malformed YAML, YAML anchors
(no kubeconfig needs them; they are how YAML bombs work), unknown contexts, ``exec`` and
``auth-provider`` plugins (they run commands on our server), file references (``certificate-
authority``, ``tokenFile``, ... : flatten the kubeconfig), proxies, basic auth, and
``insecure-skip-tls-verify`` unless the caller explicitly allows it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from clusters.kube.addresses import parse_server
from clusters.kube.errors import InvalidConnection
from portal import yamlsafe

MAX_KUBECONFIG_BYTES = 256 * 1024
MAX_TOKEN_CHARS = 16 * 1024


@dataclass(frozen=True)
class Credentials:
    """Secret part of a connection. Never logged; stored only encrypted."""

    token: str = field(default="", repr=False)
    client_certificate: str = field(default="", repr=False)  # PEM
    client_key: str = field(default="", repr=False)  # PEM

    @property
    def method(self) -> str:
        return "token" if self.token else "client_certificate"

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("token", self.token), ("client_certificate", self.client_certificate),
                                  ("client_key", self.client_key)) if v}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Credentials:
        return cls(token=data.get("token", ""), client_certificate=data.get("client_certificate", ""),
                   client_key=data.get("client_key", ""))


@dataclass(frozen=True)
class ConnectionSpec:
    server: str
    credentials: Credentials = field(repr=False)
    ca_pem: str = ""
    insecure_skip_tls_verify: bool = False
    tls_server_name: str = ""


def _pem_from_b64(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidConnection(f"{what} is empty.")
    try:
        pem = base64.b64decode(value.strip(), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidConnection(f"{what} is not base64-encoded PEM.") from exc
    return validate_pem(pem, what)


def validate_pem(pem: str, what: str) -> str:
    pem = pem.strip()
    if "-----BEGIN " not in pem or "-----END " not in pem:
        raise InvalidConnection(f"{what} is not a PEM block (expected '-----BEGIN ...-----').")
    return pem + "\n"


def _named(entries: Any, section: str) -> dict[str, dict[str, Any]]:
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise InvalidConnection(f"The kubeconfig's '{section}' must be a list.")
    out: dict[str, dict[str, Any]] = {}
    inner = section[:-1]  # clusters -> cluster
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise InvalidConnection(f"Every entry of '{section}' needs a 'name'.")
        body = entry.get(inner)
        if not isinstance(body, dict):
            raise InvalidConnection(f"{section} entry '{entry['name']}' has no '{inner}' mapping.")
        out[entry["name"]] = body
    return out


def load_kubeconfig(text: str | bytes) -> dict[str, Any]:
    """Parse one kubeconfig document safely; return the mapping."""
    if isinstance(text, bytes):
        if len(text) > MAX_KUBECONFIG_BYTES:
            raise InvalidConnection(f"The kubeconfig is larger than {MAX_KUBECONFIG_BYTES // 1024} KiB.")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidConnection("The kubeconfig is not UTF-8 text.") from exc
    if len(text) > MAX_KUBECONFIG_BYTES:
        raise InvalidConnection(f"The kubeconfig is larger than {MAX_KUBECONFIG_BYTES // 1024} KiB.")
    try:  # bounded depth and size, no aliases (the mechanism of YAML bombs; kubeconfigs never need them)
        documents = [d for d in yamlsafe.load_all(text, what="The kubeconfig", allow_aliases=False) if d is not None]
    except yamlsafe.YamlError as exc:
        raise InvalidConnection(exc.message) from exc
    if len(documents) != 1:
        raise InvalidConnection(f"The kubeconfig must be exactly one YAML document; this has {len(documents)}.")
    config = documents[0]
    if not isinstance(config, dict):
        raise InvalidConnection("The kubeconfig must be a YAML mapping with clusters, users and contexts.")
    kind = config.get("kind", "Config")
    if kind != "Config":
        raise InvalidConnection(f"The kubeconfig's kind must be 'Config', not {kind!r}.")
    return config


def _exec_command(plugin: Any) -> str:
    command = plugin.get("command") if isinstance(plugin, dict) else None
    return str(command)[:200] if command else "?"


def contexts(config: dict[str, Any]) -> list[str]:
    return list(_named(config.get("contexts"), "contexts"))


def spec_from_kubeconfig(
    text: str | bytes, *, context: str | None = None, allow_insecure: bool = False
) -> tuple[ConnectionSpec, str]:
    """Return the connection of ``context`` (default: current-context) and the context's name."""
    config = load_kubeconfig(text)
    all_contexts = _named(config.get("contexts"), "contexts")
    if not all_contexts:
        raise InvalidConnection("The kubeconfig has no contexts.")
    name = context or config.get("current-context") or ""
    if not isinstance(name, str):
        raise InvalidConnection("The kubeconfig's current-context must be a context's name.")
    if not name:
        raise InvalidConnection(f"The kubeconfig has no current-context; choose one of: {', '.join(all_contexts)}.")
    if name not in all_contexts:
        raise InvalidConnection(f"Context '{name}' is not in the kubeconfig; it has: {', '.join(all_contexts)}.")
    ctx = all_contexts[name]
    clusters = _named(config.get("clusters"), "clusters")
    users = _named(config.get("users"), "users")
    cluster_name, user_name = ctx.get("cluster"), ctx.get("user")
    if not isinstance(cluster_name, str) or not isinstance(user_name, str):
        raise InvalidConnection(f"Context '{name}' must name a cluster and a user.")
    if cluster_name not in clusters:
        raise InvalidConnection(f"Context '{name}' refers to cluster '{cluster_name}', which the kubeconfig lacks.")
    if user_name not in users:
        raise InvalidConnection(f"Context '{name}' refers to user '{user_name}', which the kubeconfig lacks.")
    cluster, user = clusters[cluster_name], users[user_name]

    for key in ("certificate-authority", "proxy-url"):
        if cluster.get(key):
            hint = " Embed it with `kubectl config view --raw --flatten`." if key == "certificate-authority" else ""
            raise InvalidConnection(f"Cluster '{cluster_name}' uses '{key}', which the portal does not support.{hint}")
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise InvalidConnection(f"Cluster '{cluster_name}' has no server URL.")
    ca_pem = _pem_from_b64(cluster["certificate-authority-data"], "certificate-authority-data") if cluster.get(
        "certificate-authority-data") else ""
    insecure = bool(cluster.get("insecure-skip-tls-verify", False))

    if "exec" in user:
        raise InvalidConnection(
            f"User '{user_name}' authenticates with an exec plugin ({_exec_command(user['exec'])}); the portal "
            "never runs commands from a kubeconfig. Use a ServiceAccount token or a client certificate."
        )
    if "auth-provider" in user:
        raise InvalidConnection(
            f"User '{user_name}' uses an auth-provider plugin; the portal does not run plugins. "
            "Use a ServiceAccount token or a client certificate."
        )
    for key in ("tokenFile", "client-certificate", "client-key"):
        if user.get(key):
            raise InvalidConnection(
                f"User '{user_name}' refers to a file ('{key}'); embed it with `kubectl config view --raw --flatten`."
            )
    if user.get("username") or user.get("password"):
        raise InvalidConnection(f"User '{user_name}' uses basic auth, which Kubernetes no longer supports.")
    credentials = Credentials(
        token=str(user.get("token") or ""),
        client_certificate=_pem_from_b64(user["client-certificate-data"], "client-certificate-data")
        if user.get("client-certificate-data") else "",
        client_key=_pem_from_b64(user["client-key-data"], "client-key-data") if user.get("client-key-data") else "",
    )
    spec = build_spec(
        server=server, ca_pem=ca_pem, credentials=credentials, insecure_skip_tls_verify=insecure,
        allow_insecure=allow_insecure, tls_server_name=str(cluster.get("tls-server-name") or ""),
    )
    return spec, name


def build_spec(
    *, server: str, credentials: Credentials, ca_pem: str = "", insecure_skip_tls_verify: bool = False,
    allow_insecure: bool = False, tls_server_name: str = "",
) -> ConnectionSpec:
    """Validate explicit connection fields (the kubeconfig path ends here too)."""
    parse_server(server)
    if insecure_skip_tls_verify and not allow_insecure:
        raise InvalidConnection(
            "insecure-skip-tls-verify turns off certificate checks; give the cluster's CA instead, "
            "or have a system admin allow insecure connections explicitly."
        )
    if insecure_skip_tls_verify and ca_pem:
        raise InvalidConnection("Give either a CA certificate or insecure-skip-tls-verify, not both.")
    if ca_pem:
        ca_pem = validate_pem(ca_pem, "The CA certificate")
    has_cert = bool(credentials.client_certificate or credentials.client_key)
    if credentials.token and has_cert:
        raise InvalidConnection("Give either a bearer token or a client certificate and key, not both.")
    if not credentials.token and not has_cert:
        raise InvalidConnection("No credentials: give a bearer token or a client certificate and key.")
    if has_cert and not (credentials.client_certificate and credentials.client_key):
        raise InvalidConnection("A client certificate needs its key, and a key needs its certificate.")
    if credentials.token:
        token = credentials.token.strip()
        if len(token) > MAX_TOKEN_CHARS or any(c.isspace() for c in token) or not token.isprintable():
            raise InvalidConnection("The bearer token must be one line of printable characters.")
        credentials = Credentials(token=token)
    else:
        credentials = Credentials(
            client_certificate=validate_pem(credentials.client_certificate, "The client certificate"),
            client_key=validate_pem(credentials.client_key, "The client key"),
        )
    return ConnectionSpec(server=server.rstrip("/"), credentials=credentials, ca_pem=ca_pem,
                          insecure_skip_tls_verify=insecure_skip_tls_verify, tls_server_name=tls_server_name)

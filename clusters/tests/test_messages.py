"""Failures are reported as what happened (issue 21 §3): a refused connection is not a timeout, an
instant 504 is an HTTP status and not "did not answer within N s", a TLS failure says TLS; each
comes with a stable code, and the 401 message carries the advice to replace the credentials."""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from clusters.kube.client import KubeClient
from clusters.kube.connection import ConnectionSpec, Credentials, spec_from_kubeconfig
from clusters.kube.errors import (
    ConnectionRefused,
    KubeError,
    ReadTimeout,
    ServerError,
    TLSHandshakeFailed,
    Unauthorized,
)
from clusters.kube.messages import explain


def spec_of(fleet: Any, name: str = "cluster-1", server: str | None = None) -> ConnectionSpec:
    spec = spec_from_kubeconfig(fleet.cluster(name).kubeconfig.read_text())[0]
    if server is None:
        return spec
    return ConnectionSpec(server=server, credentials=spec.credentials, ca_pem=spec.ca_pem)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def failure(spec: ConnectionSpec, *, timeout: float = 2.0) -> KubeError:
    with KubeClient(spec, connect_timeout=timeout, read_timeout=timeout) as client, pytest.raises(KubeError) as info:
        client.call(client.version_api.get_code, attempts=1)
    return info.value


def test_refused_is_not_a_timeout(sandbox: Any) -> None:
    started = time.monotonic()
    error = failure(spec_of(sandbox, server=f"https://127.0.0.1:{free_port()}"))
    assert isinstance(error, ConnectionRefused)
    assert time.monotonic() - started < 1.5
    explained = explain(error)
    assert explained.code == "connection_refused"
    assert "refused the connection" in explained.message
    assert "Timed out" not in explained.message
    assert "within" not in explained.message


def test_silence_is_a_timeout_after_n_seconds(sandbox: Any) -> None:
    sandbox.inject_fault("cluster-2", blackhole=True)
    try:
        error = failure(spec_of(sandbox, "cluster-2"), timeout=0.7)
    finally:
        sandbox.inject_fault("cluster-2", blackhole=False)
    assert isinstance(error, ReadTimeout)
    assert explain(error).code == "read_timeout"
    assert "accepted the connection but sent no answer within 0.7 s" in str(error)


def test_an_instant_504_is_an_http_status(sandbox: Any) -> None:
    sandbox.inject_fault("cluster-2", error_rate=1.0, error_codes=[504])
    try:
        started = time.monotonic()
        error = failure(spec_of(sandbox, "cluster-2"))
    finally:
        sandbox.inject_fault("cluster-2", error_rate=0.0)
    assert time.monotonic() - started < 1.5
    assert isinstance(error, ServerError)
    explained = explain(error)
    assert explained.code == "server_error"
    assert "answered HTTP 504 (Gateway Timeout)" in explained.message
    assert "within" not in explained.message


def test_tls_failure_says_tls(sandbox: Any) -> None:
    admin = urlsplit(sandbox.admin_url)  # plain HTTP: the TLS handshake cannot succeed
    error = failure(spec_of(sandbox, server=f"https://127.0.0.1:{admin.port}"))
    assert isinstance(error, TLSHandshakeFailed)
    explained = explain(error)
    assert explained.code == "tls_handshake_failed"
    assert explained.message.startswith("The TLS handshake with the API server https://127.0.0.1:")


def test_401_carries_the_advice(sandbox: Any) -> None:
    spec = spec_of(sandbox)
    error = failure(ConnectionSpec(server=spec.server, credentials=Credentials(token="revoked"), ca_pem=spec.ca_pem))
    assert isinstance(error, Unauthorized)
    explained = explain(error)
    assert explained.code == "unauthorized"
    assert explained.message.endswith(". Replace the credentials under Credentials.")
    assert explain(error, registering=True).message.endswith(
        ". Check that the token (or client certificate) is current.")


def test_a_deadline_without_an_error_message() -> None:
    explained = explain(TimeoutError(), timeout=7)
    assert explained == explained.__class__("read_timeout", "The API server sent no answer within 7 s. The portal "
                                                            "retries; the API server may be overloaded or frozen.")

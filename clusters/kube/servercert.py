"""When a cluster's API server certificate expires (issue 14: the ``api_cert_expiring`` alert).

The connectivity check (:func:`clusters.services.check_cluster`) asks :func:`serving_cert_not_after`
after a successful check and records the date on the cluster. One TLS handshake to the pinned
address the client layer uses (:func:`clusters.kube.addresses.resolve`, the address policy
applies), nothing sent: the certificate is only read, not trusted for anything, so it is fetched
without verification (a server the portal does not trust still tells when its certificate ends).
"""

from __future__ import annotations

import socket
import ssl
from datetime import datetime

from cryptography import x509

from clusters.kube.addresses import Endpoint, resolve
from clusters.kube.connection import ConnectionSpec
from clusters.kube.errors import KubeError


def peer_not_after(der: bytes) -> datetime:
    """The ``notAfter`` (UTC) of a DER certificate."""
    return x509.load_der_x509_certificate(der).not_valid_after_utc


def serving_cert_not_after(spec: ConnectionSpec, *, endpoint: Endpoint | None = None,
                           timeout: float = 5.0) -> datetime | None:
    """The serving certificate's ``notAfter`` of ``spec``'s API server, or None when it cannot be
    read (not https, refused, timed out, no certificate, not a certificate)."""
    try:
        endpoint = endpoint or resolve(spec.server)
    except KubeError:
        return None
    if endpoint.scheme != "https":
        return None
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # read, not trusted: the date is all that is taken from it
    server_name = spec.tls_server_name or (None if endpoint.host_is_ip else endpoint.host)
    try:
        with socket.create_connection((endpoint.address, endpoint.port), timeout=timeout) as raw, \
                ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ValueError):
        return None
    if not der:
        return None
    try:
        return peer_not_after(der)
    except ValueError:
        return None

"""Typed errors of the client layer, each carrying a message a person can act on.

Callers branch on the type (retry ``Unreachable``, report ``Unauthorized``), never on strings.
Each type has a stable ``code`` (``connection_refused``, ``read_timeout``, ``forbidden`` ...) that
the API returns next to the message, so the console can say it in the reader's language;
:mod:`clusters.kube.messages` adds what to do about it.
"""

from __future__ import annotations

from typing import Any


class KubeError(Exception):
    """Base class. ``status`` is the HTTP status from the cluster when there was one."""

    status: int | None = None
    retryable = False
    code = "cluster_error"
    # The API server's ``Status`` body when it sent one (``details.causes`` of a 409 apply
    # conflict or a 422), for callers that report causes field by field.
    body: dict[str, Any] | None = None

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class InvalidConnection(KubeError):
    """The kubeconfig or connection fields are malformed or ask for something we refuse."""

    code = "invalid_connection"


class AddressNotAllowed(InvalidConnection):
    """The endpoint resolves to an address the policy forbids (metadata, link-local, ...)."""

    code = "address_not_allowed"


class Unreachable(KubeError):
    """No answer: DNS failure, connection refused, timeout, or the cluster went away. The
    subclasses say which; a bare ``Unreachable`` is a transport failure of another sort."""

    retryable = True
    code = "unreachable"


class ConnectionRefused(Unreachable):
    """The address answered with a refusal (nothing listens on the port, or a firewall rejects)."""

    code = "connection_refused"


class ConnectionReset(Unreachable):
    """The connection was open and the other side (or a middlebox) dropped it."""

    code = "connection_reset"


class DNSFailure(Unreachable):
    """The server's name does not resolve."""

    code = "dns_failure"


class ConnectTimeout(Unreachable):
    """No TCP connection within the connect timeout (packets dropped, host down)."""

    code = "connect_timeout"


class ReadTimeout(Unreachable):
    """Connected, but no answer within the read timeout (a frozen or overloaded API server)."""

    code = "read_timeout"


class TLSHandshakeFailed(Unreachable):
    """The TLS handshake failed for a reason other than trust (protocol, cipher, not TLS at all)."""

    code = "tls_handshake_failed"


class TLSVerificationFailed(KubeError):
    """The server's certificate does not match the CA we were given (or its name)."""

    code = "tls_untrusted"


class Unauthorized(KubeError):
    status = 401
    code = "unauthorized"


class Forbidden(KubeError):
    """403. ``verb``/``resource``/``namespace`` say what was refused, when the caller knows."""

    status = 403
    code = "forbidden"


class ClientCertificateRefused(Unauthorized):
    """The API server's TLS layer dropped the connection because of the client certificate
    (not signed by its client CA, expired): the credentials are wrong, not the network."""

    code = "client_certificate_refused"


class NotFound(KubeError):
    status = 404
    code = "not_found"


class Conflict(KubeError):
    status = 409


class Gone(KubeError):
    """410: the resourceVersion is too old; the caller must relist."""

    status = 410
    code = "gone"


class Invalid(KubeError):
    status = 422


class TooManyRequests(KubeError):
    status = 429
    retryable = True
    code = "throttled"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class ServerError(KubeError):
    retryable = True
    code = "server_error"


class ApiError(KubeError):
    """Any other non-success answer."""

    code = "http_error"


class UnknownKind(KubeError):
    """The cluster does not serve this apiVersion/kind (no CRD, or an API version it dropped)."""

    status = 404
    code = "unknown_kind"

"""Typed errors of the client layer, each carrying a message a person can act on.

Callers branch on the type (retry ``Unreachable``, report ``Unauthorized``), never on strings.
"""

from __future__ import annotations


class KubeError(Exception):
    """Base class. ``status`` is the HTTP status from the cluster when there was one."""

    status: int | None = None
    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class InvalidConnection(KubeError):
    """The kubeconfig or connection fields are malformed or ask for something we refuse."""


class AddressNotAllowed(InvalidConnection):
    """The endpoint resolves to an address the policy forbids (metadata, link-local, ...)."""


class Unreachable(KubeError):
    """No answer: DNS failure, connection refused, timeout, or the cluster went away."""

    retryable = True


class TLSVerificationFailed(KubeError):
    """The server's certificate does not match the CA we were given (or its name)."""


class Unauthorized(KubeError):
    status = 401


class Forbidden(KubeError):
    status = 403


class ClientCertificateRefused(Unauthorized):
    """The API server's TLS layer dropped the connection because of the client certificate
    (not signed by its client CA, expired): the credentials are wrong, not the network."""


class NotFound(KubeError):
    status = 404


class Conflict(KubeError):
    status = 409


class Gone(KubeError):
    """410: the resourceVersion is too old; the caller must relist."""

    status = 410


class Invalid(KubeError):
    status = 422


class TooManyRequests(KubeError):
    status = 429
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class ServerError(KubeError):
    retryable = True


class ApiError(KubeError):
    """Any other non-success answer."""


class UnknownKind(KubeError):
    """The cluster does not serve this apiVersion/kind (no CRD, or an API version it dropped)."""

    status = 404

"""What the portal tells a person about a failed call to a cluster: one stable ``code`` (for the
console to translate) and one message that says what happened and what to do, built in one
place so the registration form, the connectivity check and the watcher say the same thing.

The error types (:mod:`clusters.kube.errors`) word what happened (refused, reset, timeout after
N s, HTTP status ...); this module adds the advice, as separate sentences.
"""

from __future__ import annotations

from dataclasses import dataclass

from clusters.kube import errors
from portal.crypto import DecryptionError

# code -> advice: what the reader can do about it. Codes are stable API values.
ADVICE: dict[str, str] = {
    "connection_refused": "Check that the API server is running and that the URL's port is the one it listens on.",
    "connection_reset": "The portal retries; if it persists, check proxies and load balancers on the way.",
    "dns_failure": "Check the server name in the URL and the portal's DNS.",
    "connect_timeout": "The portal retries; check that the cluster is up and that firewalls let the portal in.",
    "read_timeout": "The portal retries; the API server may be overloaded or frozen.",
    "tls_handshake_failed": "Check that the URL points at the Kubernetes API server (https).",
    "unreachable": "The portal retries; check the network path.",
    "tls_untrusted": "Replace the CA certificate under Credentials.",
    "unauthorized": "Replace the credentials under Credentials.",
    "client_certificate_refused": "Replace the credentials under Credentials.",
    "forbidden": "Grant the identity the permissions in the cluster's Permissions table, or use other credentials.",
    "throttled": "The portal retries more slowly.",
    "server_error": "The portal retries.",
    "invalid_connection": "Correct the connection under Credentials.",
    "address_not_allowed": "Register the cluster under an address the portal may reach.",
    "undecryptable": "Replace the credentials under Credentials.",
}

# At registration nothing is stored yet: the advice is about the form, not the Credentials tab.
REGISTRATION_ADVICE: dict[str, str] = {
    "tls_untrusted": "Give the CA certificate that signed the API server's certificate.",
    "unauthorized": "Check that the token (or client certificate) is current.",
    "client_certificate_refused": "Check that the client certificate is current and signed by the cluster's CA.",
    "forbidden": "The identity needs at least list and watch on the kinds the portal shows.",
    "invalid_connection": "Correct the connection.",
}

# The watcher gave up waiting for an answer it had asked for (its own deadline, not the socket's).
DEADLINE = "read_timeout"


@dataclass(frozen=True)
class Explained:
    code: str
    message: str


def explain(error: BaseException, *, timeout: float | None = None, registering: bool = False) -> Explained:
    """``(code, message)`` for any failure of a call to a cluster. ``timeout`` is the deadline the
    caller gave up after, for errors that carry no message of their own (``asyncio`` timeouts);
    ``registering``: the advice speaks of the registration form."""
    if isinstance(error, errors.KubeError):
        code, text = error.code, str(error).strip()
    elif isinstance(error, DecryptionError):
        code, text = "undecryptable", "The stored credentials cannot be decrypted."
    elif isinstance(error, TimeoutError):
        after = f" within {timeout:g} s" if timeout else " in time"
        code, text = DEADLINE, f"The API server sent no answer{after}."
    else:
        code, text = "unreachable", f"The connection to the API server failed: {type(error).__name__}."
    text = text or "The cluster call failed."
    if not text.endswith((".", "!", "?")):
        text += "."
    advice = (registering and REGISTRATION_ADVICE.get(code)) or ADVICE.get(code, "")
    if advice and advice not in text:
        text = f"{text} {advice}"
    return Explained(code, text)

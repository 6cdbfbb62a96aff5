"""A command in a container over the Kubernetes exec WebSocket: the client side of the channel
protocol, for the portal's pod shell.

The generated ``kubernetes`` client's ``stream`` module opens its own unpinned connection (and is
synchronous), so this module speaks the protocol itself with the asyncio ``websockets`` library,
built from the same :class:`ConnectionSpec` as :class:`~clusters.kube.client.KubeClient`:

* the TCP connection goes to the address the policy checked (:func:`clusters.kube.addresses.resolve`),
  TLS is verified against the cluster's CA under the original server name (or ``tls-server-name``),
  no proxy from the environment, no redirect followed (a 3xx is reported, not obeyed);
* a bearer token in ``Authorization`` or the client certificate in the TLS handshake;
* a connect timeout for TCP and a read timeout for the TLS and WebSocket handshakes; afterwards
  WebSocket pings find a dead connection (an interactive shell may legitimately be silent);
* failures come out as :mod:`clusters.kube.errors` types, worded by the client layer's
  :func:`~clusters.kube.client.translate` (the HTTP answer of a refused upgrade included).

The protocol (``k8s.io/apimachinery/pkg/util/remotecommand``): the client offers the
subprotocols ``v5.channel.k8s.io`` and ``v4.channel.k8s.io`` and the server picks one. Every
binary message starts with a channel byte: 0 stdin, 1 stdout, 2 stderr, 3 error (one
``metav1.Status`` JSON when the command ends: ``Success``, or ``NonZeroExitCode`` with the code in
``details.causes``), 4 resize (``{"Width": cols, "Height": rows}``). v5 adds channel 255: the
client sends ``[255, 0]`` to close stdin (end of input) without closing the connection.
The pure functions below (:func:`encode`, :func:`decode`, :func:`resize_frame`,
:func:`close_frame`, :func:`exit_status`, :func:`exec_path`) are the whole framing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from kubernetes.client.exceptions import ApiException
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from clusters.kube.addresses import Endpoint, resolve
from clusters.kube.client import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, _SecretFiles, translate
from clusters.kube.connection import ConnectionSpec
from clusters.kube.errors import ApiError, ConnectionReset, ConnectTimeout, KubeError, ReadTimeout

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
SUBPROTOCOLS: tuple[str, ...] = (V5, V4)  # in order of preference; the server chooses

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255  # v5: "close this stream" (stdin), followed by the channel number
MAX_DIMENSION = 65535  # the resize channel carries uint16 width and height
PING_INTERVAL = 20.0
PING_TIMEOUT = 20.0
MAX_MESSAGE = 1024 * 1024


# ---------------------------------------------------------------------------- framing (pure)


def exec_path(namespace: str, pod: str, *, command: Sequence[str], container: str = "", stdin: bool = False,
              stdout: bool = True, stderr: bool = True, tty: bool = False) -> str:
    """The exec subresource's path and query. With a TTY the server merges stderr into stdout,
    so stderr is not asked for (the API server refuses ``tty`` with ``stderr`` on some versions)."""
    if not command:
        raise ValueError("Give the command to run.")
    query: list[tuple[str, str]] = [("command", part) for part in command]
    if container:
        query.append(("container", container))
    for name, value in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr and not tty), ("tty", tty)):
        if value:
            query.append((name, "true"))
    return (f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(pod, safe='')}/exec?"
            + urlencode(query, quote_via=quote))


def encode(channel: int, data: bytes = b"") -> bytes:
    """One message of the channel protocol: the channel byte, then the data."""
    if not 0 <= channel <= 255:
        raise ValueError(f"channel {channel} is not a byte")
    return bytes((channel,)) + data


def decode(message: bytes) -> tuple[int, bytes]:
    """``(channel, data)`` of one message; an empty message (never sent by the API server) is
    channel -1. The first message of each stream may be the channel byte alone."""
    if not message:
        return -1, b""
    return message[0], message[1:]


def resize_frame(cols: int, rows: int) -> bytes:
    """A terminal size for the resize channel (``remotecommand.TerminalSize``)."""
    if not (1 <= cols <= MAX_DIMENSION and 1 <= rows <= MAX_DIMENSION):
        raise ValueError(f"A terminal size must be between 1 and {MAX_DIMENSION} (got {cols}x{rows}).")
    return encode(RESIZE, json.dumps({"Width": cols, "Height": rows}, separators=(",", ":")).encode())


def close_frame(channel: int = STDIN) -> bytes:
    """v5's end of a stream: ``[255, channel]``."""
    return encode(CLOSE, bytes((channel,)))


@dataclass(frozen=True)
class ExitStatus:
    """How the command ended, from the error channel's ``metav1.Status``. ``code`` is None when
    the status is a failure that is not an exit code (the command could not be started, the
    container went away): ``message`` then says why."""

    code: int | None
    message: str = ""


def exit_status(payload: bytes | str | dict[str, Any]) -> ExitStatus:
    """Read the error channel's status. ``Success`` is 0; ``NonZeroExitCode`` carries the code as
    the message of the cause with reason ``ExitCode``; any other failure has no code. A payload
    that is not a Status (the v1-v3 protocols sent plain text) is a failure with that text."""
    if isinstance(payload, dict):
        status: Any = payload
    else:
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        try:
            status = json.loads(text)
        except ValueError:
            return ExitStatus(None, text.strip()[:500] or "The command failed.")
    if not isinstance(status, dict):
        return ExitStatus(None, str(status)[:500])
    message = str(status.get("message") or "")[:500]
    if status.get("status") == "Success":
        return ExitStatus(0, message)
    if status.get("reason") == "NonZeroExitCode":
        details = status.get("details") if isinstance(status.get("details"), dict) else {}
        for cause in (details or {}).get("causes") or []:
            if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
                try:
                    return ExitStatus(int(str(cause.get("message"))), message)
                except ValueError:
                    break
    return ExitStatus(None, message or "The command failed.")


# ---------------------------------------------------------------------------- the session


@dataclass(frozen=True)
class Output:
    """Bytes the command wrote: ``channel`` is :data:`STDOUT` or :data:`STDERR`."""

    channel: int
    data: bytes


class ExecSession:
    """One open exec stream. Read with :meth:`events` (``Output`` items, then one ``ExitStatus``);
    write with :meth:`send_stdin`, :meth:`resize`, :meth:`close_stdin`; end with :meth:`close`."""

    def __init__(self, connection: ClientConnection, *, server: str) -> None:
        self._ws = connection
        self.server = server
        self.protocol: str = connection.subprotocol or ""

    async def send_stdin(self, data: bytes) -> None:
        if data:
            await self._send(encode(STDIN, data))

    async def resize(self, cols: int, rows: int) -> None:
        await self._send(resize_frame(cols, rows))

    async def close_stdin(self) -> bool:
        """End of input, where the protocol can say so (v5); False on v4, where only closing the
        connection ends the input."""
        if self.protocol != V5:
            return False
        await self._send(close_frame(STDIN))
        return True

    async def _send(self, message: bytes) -> None:
        try:
            await self._ws.send(message)
        except ConnectionClosed as exc:
            raise ConnectionReset(f"The exec stream to the API server {self.server} has closed.") from exc

    async def events(self) -> AsyncIterator[Output | ExitStatus]:
        """Output as it arrives, then the exit status. Ends after the status, or when the server
        closes the connection normally without one; an abnormal end raises
        :class:`~clusters.kube.errors.ConnectionReset`."""
        try:
            async for message in self._ws:
                if isinstance(message, str):  # the base64 protocols, which are never negotiated here
                    continue
                channel, data = decode(message)
                if channel in (STDOUT, STDERR):
                    if data:
                        yield Output(channel, data)
                elif channel == ERROR and data:
                    yield exit_status(data)
                    return
        except ConnectionClosedOK:
            return
        except ConnectionClosed as exc:
            raise ConnectionReset(
                f"The exec stream to the API server {self.server} broke off ({exc.rcvd or 'no close frame'})."
            ) from exc

    async def close(self) -> None:
        await self._ws.close()


class _Connect(ws_connect):
    """``websockets``' connect without following redirects: the connection is pinned to the
    checked address, and the Kubernetes API does not redirect, so a 3xx is an answer to report."""

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


def tls_context(spec: ConnectionSpec) -> ssl.SSLContext:
    """The cluster's CA (or the system's), the client certificate when that is the credential."""
    context = ssl.create_default_context(cadata=spec.ca_pem or None)
    if spec.insecure_skip_tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    creds = spec.credentials
    if not creds.token and creds.client_certificate:
        context.load_cert_chain(_SecretFiles.path_for(creds.client_certificate),
                                _SecretFiles.path_for(creds.client_key))
    return context


def _upgrade_refused(exc: InvalidStatus, server: str) -> KubeError:
    """The API server answered the upgrade with an HTTP status (a Status body, usually)."""
    response = exc.response
    api = ApiException(status=response.status_code, reason=response.reason_phrase)
    api.body = bytes(response.body or b"")
    api.headers = dict(response.headers.raw_items())
    error = translate(api, server=server)
    return error if error is not None else ApiError(str(exc), status=response.status_code)


async def _tcp(endpoint: Endpoint, timeout: float) -> socket.socket:
    family = socket.AF_INET6 if ipaddress.ip_address(endpoint.address).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        async with asyncio.timeout(timeout):
            await asyncio.get_running_loop().sock_connect(sock, (endpoint.address, endpoint.port))
    except BaseException:
        sock.close()
        raise
    return sock


async def open_exec(
    spec: ConnectionSpec, *, namespace: str, pod: str, command: Sequence[str], container: str = "",
    stdin: bool = True, tty: bool = True, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT, endpoint: Endpoint | None = None,
    ping_interval: float | None = PING_INTERVAL, subprotocols: Sequence[str] = SUBPROTOCOLS,
) -> ExecSession:
    """Start ``command`` in the pod's container and return the open stream.

    Raises the client layer's errors: :class:`ConnectTimeout` / :class:`ReadTimeout` (no TCP
    connection, no handshake answer in time), the TLS ones, :class:`Unauthorized`,
    :class:`Forbidden`, :class:`NotFound`, an ``ApiError`` with status 400 (the API server's
    answer for a container that does not exist or a pod that is not running), and
    ``ApiError`` when the server agrees on no protocol of :data:`SUBPROTOCOLS`. ``subprotocols``
    narrows the offer (tests pin v4 with it)."""
    server = spec.server
    if endpoint is None:
        endpoint = await asyncio.to_thread(resolve, server)  # DNS, then the address policy
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    uri = f"wss://{host}:{endpoint.port}" + exec_path(namespace, pod, command=command, container=container,
                                                       stdin=stdin, stdout=True, stderr=True, tty=tty)
    headers = {"Authorization": f"Bearer {spec.credentials.token}"} if spec.credentials.token else {}
    try:
        context = tls_context(spec)
        sock = await _tcp(endpoint, connect_timeout)
    except TimeoutError as exc:
        raise ConnectTimeout(f"No connection to the API server {server} within {connect_timeout:g} s: the host does "
                             "not answer (down, or packets dropped on the way).") from exc
    except (OSError, ssl.SSLError) as exc:
        raise _translated(exc, server) from exc
    try:
        connection = await _Connect(
            uri, sock=sock, ssl=context, server_hostname=spec.tls_server_name or endpoint.host,
            additional_headers=headers, subprotocols=[Subprotocol(p) for p in subprotocols],
            open_timeout=read_timeout, ping_interval=ping_interval, ping_timeout=PING_TIMEOUT,
            max_size=MAX_MESSAGE, compression=None, user_agent_header="cluster-portal",
        )
    except InvalidStatus as exc:
        sock.close()
        raise _upgrade_refused(exc, server) from exc
    except TimeoutError as exc:
        sock.close()
        raise ReadTimeout(f"The API server {server} accepted the connection but did not open the exec stream "
                          f"within {read_timeout:g} s.") from exc
    except InvalidHandshake as exc:
        sock.close()
        raise ApiError(f"The API server {server} did not open an exec stream: {str(exc)[:300]}.") from exc
    except (OSError, ssl.SSLError) as exc:
        sock.close()
        raise _translated(exc, server) from exc
    if connection.subprotocol not in subprotocols or connection.subprotocol not in SUBPROTOCOLS:
        await connection.close()
        raise ApiError(f"The API server {server} speaks none of the exec protocols {', '.join(SUBPROTOCOLS)} "
                       "(Kubernetes 1.4 or later speaks v4).")
    return ExecSession(connection, server=server)


def _translated(exc: BaseException, server: str) -> KubeError:
    error = translate(exc, server=server)
    return error if error is not None else ApiError(f"The exec stream to {server} failed: {str(exc)[:300]}.")

"""Following a container's log: ``GET /api/v1/namespaces/{ns}/pods/{name}/log?follow=true&...``
read as it arrives, for the portal's live log viewer (issue 14, ``/ws/logs/``).

The generated ``kubernetes`` client reads a log synchronously through urllib3 (a thread held per
follower for as long as the log is followed), and its ``watch`` helpers are for JSON events, so this
module speaks the one HTTP/1.1 request itself on **asyncio streams**: hundreds of followers cost
sockets, not threads. Why not aiohttp (already a dependency)? Its client would need a custom
resolver to pin the address, a ``server_hostname`` override, ``trust_env``/redirect/cookie/
decompression features each switched off, and a timeout model that cannot say "15 s for the
headers, then none for the body": a minimal reader of one response is smaller than the list of
things to switch off, and is the same connection code as :mod:`clusters.kube.exec`:

* the TCP connection goes to the address the policy checked (:func:`clusters.kube.addresses.resolve`),
  TLS is verified against the cluster's CA under the original server name (or ``tls-server-name``)
  with :func:`clusters.kube.exec.tls_context`; no proxy from the environment; a 3xx is an answer
  to report, never followed (nothing here could follow one);
* a bearer token in ``Authorization`` or the client certificate in the TLS handshake;
* a connect timeout for TCP and a read timeout for TLS and the response headers; afterwards the
  body has no read timeout (a quiet container legitimately writes nothing for hours), and TCP
  keepalive (:func:`_keepalive`) finds a peer that died without closing;
* failures come out as :mod:`clusters.kube.errors` types, worded by the client layer's
  :func:`~clusters.kube.client.translate`: the API server's 400 (``container x is not valid for
  pod y``, ``previous terminated container ... not found``, ``... is waiting to start``), 403,
  404 carry its ``Status`` message and body.

The body is read as HTTP/1.1 sends it (``Transfer-Encoding: chunked``, ``Content-Length`` or until
the connection closes), split into lines; a line longer than :data:`MAX_LINE_BYTES` is cut there
(the rest of it is dropped) so one runaway line cannot grow the buffer. ``Connection: close``:
one request per connection, nothing pooled.
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import contextlib
import socket
import ssl
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import cast
from urllib.parse import quote, urlencode

from kubernetes.client.exceptions import ApiException

from clusters.kube.addresses import Endpoint, resolve
from clusters.kube.client import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, translate
from clusters.kube.connection import ConnectionSpec
from clusters.kube.errors import ApiError, ConnectionReset, ConnectTimeout, KubeError, ReadTimeout
from clusters.kube.exec import _tcp, tls_context

MAX_LINE_BYTES = 64 * 1024  # a longer line is cut here
MAX_HEADER_BYTES = 64 * 1024
MAX_ERROR_BODY = 64 * 1024
READ_SIZE = 64 * 1024
KEEPALIVE_IDLE = 30  # seconds of silence before the first probe
KEEPALIVE_INTERVAL = 10
KEEPALIVE_PROBES = 3
TLS_READ_BYTES = 16 * 1024  # the largest plaintext one TLS record carries


def log_path(namespace: str, pod: str, *, container: str = "", follow: bool = True, tail_lines: int | None = None,
             since_seconds: int | None = None, previous: bool = False, timestamps: bool = True,
             limit_bytes: int | None = None, since_time: str | None = None) -> str:
    """The log subresource's path and query (only the options given). ``since_time`` is an RFC 3339
    time (the API server takes ``sinceSeconds`` or ``sinceTime``, not both)."""
    query: list[tuple[str, str]] = []
    if container:
        query.append(("container", container))
    if follow:
        query.append(("follow", "true"))
    if tail_lines is not None:
        query.append(("tailLines", str(int(tail_lines))))
    if since_seconds is not None:
        query.append(("sinceSeconds", str(int(since_seconds))))
    elif since_time:
        query.append(("sinceTime", since_time))
    if previous:
        query.append(("previous", "true"))
    if timestamps:
        query.append(("timestamps", "true"))
    if limit_bytes is not None:
        query.append(("limitBytes", str(int(limit_bytes))))
    path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(pod, safe='')}/log"
    return path + ("?" + urlencode(query, quote_via=quote) if query else "")


class LineSplitter:
    """Bytes in, whole lines out (without the newline, ``\\r\\n`` too), each at most
    ``max_line`` bytes (a longer one is cut and the rest of it dropped). Pure."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self.max_line = max_line
        self._rest = b""
        self._skipping = False  # inside the dropped tail of a cut line

    def feed(self, data: bytes) -> list[str]:
        data = self._rest + data
        lines: list[str] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            if self._skipping:
                self._skipping = False
            else:
                lines.append(_text(data[start:end][: self.max_line]))
            start = end + 1
        rest = data[start:]
        if len(rest) > self.max_line:
            if not self._skipping:
                lines.append(_text(rest[: self.max_line]))
            self._skipping = True
            rest = b""
        self._rest = rest
        return lines

    def close(self) -> list[str]:
        """The last line when the log did not end with a newline."""
        rest, self._rest = self._rest, b""
        if rest and not self._skipping:
            return [_text(rest)]
        return []


def _text(raw: bytes) -> str:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return raw.decode("utf-8", "replace")


@dataclass(frozen=True)
class _Head:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case names


def _parse_head(raw: bytes) -> _Head:
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP/1.x status line: {lines[0][:100]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return _Head(int(parts[1]), parts[2] if len(parts) > 2 else "", headers)


class LogStream:
    """One open streaming response. Read with :meth:`batches` (lists of lines, as they arrive) or
    :meth:`lines`; end with :meth:`close` (also ends a pending read). A watch takes the connection
    over with :meth:`detach` and parses the body where the bytes land."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: _Head, *,
                 server: str) -> None:
        self._reader = reader
        self._writer = writer
        self._head = head
        self.server = server
        self.closed = False

    def detach(self, protocol: asyncio.Protocol) -> tuple[asyncio.Transport, bytes, dict[str, str]]:
        """Hand the connection to ``protocol`` (its ``data_received`` gets every later byte); returns
        the transport, the body bytes already read with the headers (to feed first) and the headers.
        Reads nothing more through this object afterwards."""
        transport = cast(asyncio.Transport, self._writer.transport)
        # What the StreamReader buffered past the headers: asyncio has no public way to take it.
        buffered: bytearray = self._reader._buffer  # type: ignore[attr-defined]
        early = bytes(buffered)
        buffered.clear()
        transport.set_protocol(protocol)
        if not transport.is_reading():
            transport.resume_reading()  # the StreamReader may have paused it (buffer over its limit)
        return transport, early, self._head.headers

    async def pieces(self) -> AsyncGenerator[bytes, None]:
        """The body's bytes as they arrive, until the server ends it (raw transport errors)."""
        reader = self._reader
        encoding = self._head.headers.get("transfer-encoding", "").lower()
        if "chunked" in encoding:
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    with contextlib.suppress(Exception):
                        await reader.readuntil(b"\r\n")  # the (empty) trailer
                    return
                left = size
                while left:
                    piece = await reader.read(min(left, READ_SIZE))
                    if not piece:
                        raise asyncio.IncompleteReadError(b"", left)
                    left -= len(piece)
                    yield piece
                await reader.readexactly(2)
        length = self._head.headers.get("content-length")
        if length is not None and length.isdigit():
            left = int(length)
            while left:
                piece = await reader.read(min(left, READ_SIZE))
                if not piece:
                    raise asyncio.IncompleteReadError(b"", left)
                left -= len(piece)
                yield piece
            return
        while True:
            piece = await reader.read(READ_SIZE)
            if not piece:
                return
            yield piece

    async def batches(self) -> AsyncIterator[list[str]]:
        """The lines of each piece of the body as it arrives (a list per read, never empty), until
        the server ends the log (a follow ends when the container stops or restarts). A connection
        that breaks off raises :class:`~clusters.kube.errors.ConnectionReset`."""
        splitter = LineSplitter()
        try:
            async for piece in self.pieces():
                lines = splitter.feed(piece)
                if lines:
                    yield lines
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError, ssl.SSLError) as exc:
            if self.closed:
                return
            raise ConnectionReset(f"The log stream from the API server {self.server} broke off "
                                  f"({type(exc).__name__}).") from exc
        finally:
            await self.close()
        tail = splitter.close()
        if tail:
            yield tail

    async def lines(self) -> AsyncIterator[str]:
        async for batch in self.batches():
            for line in batch:
                yield line

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await self._writer.wait_closed()


def _read_by_record(transport: asyncio.BaseTransport) -> None:
    """Have asyncio's TLS layer decrypt into buffers of one record's size, not 256 KiB.

    asyncio's SSL protocol (CPython 3.11) asks ``SSLObject.read`` for ``max_size`` (256 KiB) bytes
    at every call, twice per read (the second answers "want read"), and the buffer is allocated
    and shrunk each time. For a watch, whose events arrive one per read, that allocation was most
    of the read's cost: measured on loopback TLS, 21-45 µs of the loop's CPU per event with
    reads of 32 KiB to 256 KiB, 9-10 µs with 16 KiB (glibc's allocator; a burst of events costs
    about the same either way: 6.7 against 5.5 µs). A record holds at most 16 KiB of plaintext, so
    nothing is read later than it was. ``max_size`` is not public: on a loop without that protocol
    (uvloop) this does nothing."""
    protocol = getattr(transport, "_ssl_protocol", None)
    if isinstance(protocol, asyncio.sslproto.SSLProtocol):
        setattr(protocol, "max_size", TLS_READ_BYTES)  # noqa: B010 - a ClassVar in the stubs, set on this one


def _keepalive(sock: socket.socket) -> None:
    """TCP keepalive, so a follow whose API server died without closing ends within ~a minute."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_IDLE)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_PROBES)


def _host_header(endpoint: Endpoint) -> str:
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    return host if endpoint.port == 443 else f"{host}:{endpoint.port}"


async def _read_head(reader: asyncio.StreamReader) -> _Head:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as exc:
        raise ValueError("the response headers are too large") from exc
    return _parse_head(raw)


async def _error_body(stream: LogStream) -> bytes:
    body = b""
    async for piece in stream.pieces():
        body += piece
        if len(body) >= MAX_ERROR_BODY:
            break
    return body[:MAX_ERROR_BODY]


async def open_log(
    spec: ConnectionSpec, *, namespace: str, pod: str, container: str = "", follow: bool = True,
    tail_lines: int | None = None, since_seconds: int | None = None, previous: bool = False,
    timestamps: bool = True, limit_bytes: int | None = None, since_time: str | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT, endpoint: Endpoint | None = None,
) -> LogStream:
    """Ask for the container's log and return the open stream once the API server answered 200.

    Raises the client layer's errors: :class:`ConnectTimeout` / :class:`ReadTimeout` (no TCP
    connection, no TLS handshake or response headers in time), the TLS ones,
    :class:`Unauthorized`, :class:`Forbidden` (the credentials may not ``get pods/log`` there),
    :class:`NotFound` (no such pod), an ``ApiError`` with status 400 and the API server's message
    (no such container, no previous run, still waiting to start), ``ApiError`` for a redirect."""
    path = log_path(namespace, pod, container=container, follow=follow, tail_lines=tail_lines,
                    since_seconds=since_seconds, previous=previous, timestamps=timestamps, limit_bytes=limit_bytes,
                    since_time=since_time)
    return await open_stream(spec, path, accept="text/plain, */*", what="log request",
                             connect_timeout=connect_timeout, read_timeout=read_timeout, endpoint=endpoint)


async def open_stream(
    spec: ConnectionSpec, path: str, *, accept: str, what: str, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT, endpoint: Endpoint | None = None,
) -> LogStream:
    """``GET path`` (with its query) and return the open response once the API server answered
    200; errors as :func:`open_log` says. ``what`` names the request in timeout messages."""
    server = spec.server
    if endpoint is None:
        endpoint = await asyncio.to_thread(resolve, server)  # DNS, then the address policy
    request = [f"GET {path} HTTP/1.1", f"Host: {_host_header(endpoint)}", "User-Agent: cluster-portal",
               f"Accept: {accept}", "Accept-Encoding: identity", "Connection: close"]
    if spec.credentials.token:
        request.append(f"Authorization: Bearer {spec.credentials.token}")
    payload = ("\r\n".join(request) + "\r\n\r\n").encode("latin-1")
    try:
        context = tls_context(spec)
        sock = await _tcp(endpoint, connect_timeout)
    except TimeoutError as exc:
        raise ConnectTimeout(f"No connection to the API server {server} within {connect_timeout:g} s: the host does "
                             "not answer (down, or packets dropped on the way).") from exc
    except (OSError, ssl.SSLError) as exc:
        raise _translated(exc, server) from exc
    _keepalive(sock)
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(read_timeout):
            reader, writer = await asyncio.open_connection(
                sock=sock, ssl=context, server_hostname=spec.tls_server_name or endpoint.host,
                ssl_handshake_timeout=read_timeout, limit=MAX_HEADER_BYTES)
            _read_by_record(writer.transport)
            writer.write(payload)
            await writer.drain()
            head = await _read_head(reader)
            stream = LogStream(reader, writer, head, server=server)
            if head.status == 200:
                return stream
            body = await _error_body(stream)
    except TimeoutError as exc:
        await _abort(writer, sock)
        raise ReadTimeout(f"The API server {server} accepted the connection but did not answer the {what} "
                          f"within {read_timeout:g} s.") from exc
    except (OSError, ssl.SSLError) as exc:
        await _abort(writer, sock)
        raise _translated(exc, server) from exc
    except (ValueError, asyncio.IncompleteReadError) as exc:
        await _abort(writer, sock)
        raise ApiError(f"The API server {server} sent an answer that is not HTTP/1.1: {str(exc)[:200]}.") from exc
    await stream.close()
    api = ApiException(status=head.status, reason=head.reason)
    api.body = body
    api.headers = head.headers
    error = translate(api, server=server)
    raise error if error is not None else ApiError(f"The API server {server} answered HTTP {head.status}.",
                                                   status=head.status)


async def _abort(writer: asyncio.StreamWriter | None, sock: socket.socket) -> None:
    if writer is not None:
        writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await writer.wait_closed()
    sock.close()


def _translated(exc: BaseException, server: str) -> KubeError:
    error = translate(exc, server=server)
    return error if error is not None else ApiError(f"The log stream from {server} failed: {str(exc)[:300]}.")

"""Watching one kind on **asyncio streams**: ``GET <list path>?watch=true&...`` read as it arrives.

The watcher keeps a watch open per (cluster, kind): about 1,700 at 100 clusters. Read through
the generated client (urllib3), each needs a thread of its own, and every event then wakes one
of those threads, takes the GIL from the loop and crosses back through a queue: measured, that
was a quarter of the watcher's CPU per change (``docs/performance.md``). Here a watch is a
socket on the watcher's loop, opened like a log stream (:func:`clusters.kube.logstream.open_stream`:
the address the policy checked, TLS against the cluster's CA, the bearer token or client
certificate, no proxy, no redirect). Once the headers are in, the connection is handed to a
protocol that parses each read where it lands (:class:`EventParser`: chunked framing, lines,
events) and gives its events to the caller in the same call: per read, no task wakes and no
coroutine chain runs.

The stream ends when the server ends the watch (its ``timeoutSeconds``); an ``ERROR`` event
raises as :func:`clusters.kube.client.parse_watch_event` says (410: :class:`~clusters.kube.errors.Gone`);
a connection silent for ``idle_timeout`` seconds raises :class:`~clusters.kube.errors.ReadTimeout`
and one that breaks off :class:`~clusters.kube.errors.ConnectionReset`, as the threaded
:meth:`clusters.kube.client.KubeClient.watch` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from clusters.kube.addresses import Endpoint
from clusters.kube.client import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, parse_watch_event
from clusters.kube.connection import ConnectionSpec
from clusters.kube.errors import ApiError, ConnectionReset, KubeError, ReadTimeout
from clusters.kube.logstream import LogStream, open_stream

MAX_EVENT_BYTES = 16 * 1024 * 1024  # an object is at most ~1.5 MB in etcd; a longer line is not an event


def watch_path(path: str, *, resource_version: str, timeout_seconds: int, bookmarks: bool = True) -> str:
    """The list ``path`` of a kind as a watch from ``resource_version`` (query as the API server takes it)."""
    query = [("watch", "true"), ("timeoutSeconds", str(int(timeout_seconds)))]
    if resource_version:
        query.append(("resourceVersion", resource_version))
    if bookmarks:
        query.append(("allowWatchBookmarks", "true"))
    return f"{path}?{urlencode(query, quote_via=quote)}"


Deliver = Callable[[list[dict[str, Any]]], None]


class EventParser:
    """Bytes of a watch response body in, events out: HTTP/1.1 chunked framing (or a plain body),
    newline-delimited JSON, each event through :func:`parse_watch_event`. Pure; raises the client
    layer's errors (``Gone`` for a 410 ``ERROR`` event, ``ApiError`` for what is not an event)."""

    def __init__(self, *, chunked: bool, server: str) -> None:
        self.chunked = chunked
        self.server = server
        self.finished = False  # the last chunk came: the server ended the watch
        self._raw = bytearray()  # framing not yet decoded
        self._line = bytearray()  # the event being received
        self._data_left = 0  # bytes left of the current chunk's data
        self._crlf_left = 0  # bytes left of the CRLF after it

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if not self.chunked:
            self._body(data, events)
            return events
        raw = self._raw
        raw += data
        pos, size = 0, len(raw)
        while pos < size and not self.finished:
            if self._data_left:
                take = min(self._data_left, size - pos)
                self._body(raw[pos:pos + take], events)
                pos += take
                self._data_left -= take
                if not self._data_left:
                    self._crlf_left = 2
            elif self._crlf_left:
                take = min(self._crlf_left, size - pos)
                pos += take
                self._crlf_left -= take
            else:
                end = raw.find(b"\r\n", pos)
                if end < 0:
                    if size - pos > 1024:
                        raise ApiError(f"The API server {self.server} sent a watch response that is not chunked.")
                    break
                try:
                    length = int(bytes(raw[pos:end]).split(b";", 1)[0].strip() or b"0", 16)
                except ValueError as exc:
                    raise ApiError(f"The API server {self.server} sent a watch response that is not chunked.") from exc
                pos = end + 2
                if length == 0:
                    self.finished = True  # trailers, if any, are not read
                self._data_left = length
        del raw[:pos]
        return events

    def close(self) -> list[dict[str, Any]]:
        """The event of a body that did not end with a newline."""
        line, self._line = bytes(self._line), bytearray()
        return [parse_watch_event(line)] if line.strip() else []

    def _body(self, data: bytes | bytearray, events: list[dict[str, Any]]) -> None:
        line = self._line
        line += data
        if b"\n" not in data:
            if len(line) > MAX_EVENT_BYTES:
                raise ApiError(f"The API server {self.server} sent a watch event longer than "
                               f"{MAX_EVENT_BYTES // (1024 * 1024)} MiB.")
            return
        *whole, rest = line.split(b"\n")
        self._line = bytearray(rest)
        events += [parse_watch_event(one) for one in whole if one.strip()]


class _Reader(asyncio.Protocol):
    """The connection of an open watch once its headers are read: every read is parsed where it
    lands and its events handed to ``deliver`` in the same call: no task wakes, no buffer between."""

    def __init__(self, stream: WatchStream) -> None:
        self.stream = stream

    def data_received(self, data: bytes) -> None:
        self.stream._received(data)

    def eof_received(self) -> bool:
        self.stream._ended(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.stream._ended(exc)


class WatchStream:
    """One open watch. :meth:`run` hands every read's events to ``deliver`` (on the loop, never an
    empty list) until the server ends the watch, then returns; errors raise from it. :meth:`pause`
    and :meth:`resume` stop and restart reading (back-pressure); :meth:`close` ends it from our side."""

    def __init__(self, stream: LogStream, *, server: str, idle_timeout: float) -> None:
        self._stream = stream
        self.server = server
        self.idle_timeout = idle_timeout
        self._transport: asyncio.Transport | None = None
        self._parser: EventParser | None = None
        self._deliver: Deliver | None = None
        self._done: asyncio.Future[None] | None = None
        self._last = 0.0
        self._idle: asyncio.TimerHandle | None = None
        self._paused = False
        self.closed = False

    async def run(self, deliver: Deliver) -> None:
        loop = asyncio.get_running_loop()
        self._deliver = deliver
        self._done = loop.create_future()
        self._last = loop.time()
        self._idle = loop.call_later(self.idle_timeout, self._check_idle)
        transport, early, headers = self._stream.detach(_Reader(self))
        self._transport = transport
        self._parser = EventParser(chunked="chunked" in headers.get("transfer-encoding", "").lower(),
                                   server=self.server)
        try:
            if early:
                self._received(early)
            await self._done
        finally:
            await self.close()

    def pause(self) -> bool:
        """Stop reading; True if this call paused it (it was reading)."""
        if not self._paused and self._transport is not None and not self.closed:
            self._paused = True
            self._transport.pause_reading()
            return True
        return False

    def resume(self) -> None:
        if self._paused and self._transport is not None and not self.closed:
            self._paused = False
            self._last = asyncio.get_running_loop().time()  # paused time is not silence
            self._transport.resume_reading()

    def abort(self) -> None:
        """End the watch now (from a ``deliver`` call too): :meth:`run` returns, nothing more is delivered."""
        if self._idle is not None:
            self._idle.cancel()
        self.closed = True
        if self._transport is not None:
            self._transport.close()
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def close(self) -> None:
        if self._transport is None and not self.closed:
            await self._stream.close()
        self.abort()

    # -- on the loop, from the protocol

    def _fail(self, error: BaseException) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(error)
        if self._transport is not None:
            self._transport.close()

    def _received(self, data: bytes) -> None:
        if self._done is None or self._done.done() or self._parser is None or self._deliver is None:
            return
        self._last = self._done.get_loop().time()
        try:
            events = self._parser.feed(data)
            if self._parser.finished:
                events += self._parser.close()
        except KubeError as exc:
            self._fail(exc)
            return
        if events:
            try:
                self._deliver(events)
            except Exception as exc:  # the caller's failure ends the watch with it, like a read error
                self._fail(exc)
                return
        if self._parser.finished and not self._done.done():
            self._done.set_result(None)
            self._transport.close()  # type: ignore[union-attr]

    def _ended(self, exc: BaseException | None) -> None:
        if self._done is None or self._done.done() or self._parser is None:
            return
        if self.closed:
            self._done.set_result(None)
        elif not self._parser.chunked and exc is None:  # a plain body ends with the connection
            try:
                events = self._parser.close()
            except KubeError as error:
                self._fail(error)
                return
            if events and self._deliver is not None:
                self._deliver(events)
            self._done.set_result(None)
        else:
            self._fail(ConnectionReset(f"The watch stream from the API server {self.server} broke off"
                                       + (f" ({type(exc).__name__})." if exc is not None else ".")))

    def _check_idle(self) -> None:
        if self._done is None or self._done.done():
            return
        loop = self._done.get_loop()
        silent = loop.time() - self._last
        if silent >= self.idle_timeout and not self._paused:
            self._fail(ReadTimeout(f"The API server {self.server} sent nothing on an open watch for "
                                   f"{self.idle_timeout:g} s."))
            return
        self._idle = loop.call_later(max(0.05, self.idle_timeout - silent), self._check_idle)


async def open_watch(
    spec: ConnectionSpec, path: str, *, resource_version: str, timeout_seconds: int,
    idle_timeout: float | None = None, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT, endpoint: Endpoint | None = None,
) -> WatchStream:
    """Open a watch of the list ``path`` from ``resource_version`` (bookmarks requested) and return it
    once the API server answered 200. ``idle_timeout`` (default: ``timeout_seconds`` + 30 s; a
    server ends a healthy watch at its timeout even when it had nothing to send) bounds the
    silence between reads. Errors of the request are those of :func:`~clusters.kube.logstream.open_log`."""
    stream = await open_stream(
        spec, watch_path(path, resource_version=resource_version, timeout_seconds=timeout_seconds),
        accept="application/json", what="watch request", connect_timeout=connect_timeout,
        read_timeout=read_timeout, endpoint=endpoint)
    return WatchStream(stream, server=spec.server, idle_timeout=idle_timeout or float(timeout_seconds + 30))

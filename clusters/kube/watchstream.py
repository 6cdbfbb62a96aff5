"""Watching one kind on **asyncio streams**: ``GET <list path>?watch=true&...`` read as it arrives.

The watcher keeps a watch open per (cluster, kind): about 1,700 at 100 clusters. Read through
the generated client (urllib3), each needs a thread of its own, and every event then wakes one
of those threads, takes the GIL from the loop and crosses back through a queue: measured, that
was a quarter of the watcher's CPU per change (``docs/performance.md``). Here a watch is a
socket on the watcher's loop, opened like a log stream (:func:`clusters.kube.logstream.open_stream`:
the address the policy checked, TLS against the cluster's CA, the bearer token or client
certificate, no proxy, no redirect), and each read hands back every whole event it completed.

The stream ends when the server ends the watch (its ``timeoutSeconds``); an ``ERROR`` event
raises as :func:`clusters.kube.client.parse_watch_event` says (410: :class:`~clusters.kube.errors.Gone`);
a connection silent for ``idle_timeout`` seconds raises :class:`~clusters.kube.errors.ReadTimeout`
and one that breaks off :class:`~clusters.kube.errors.ConnectionReset`, as the threaded
:meth:`clusters.kube.client.KubeClient.watch` does.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode

from clusters.kube.addresses import Endpoint
from clusters.kube.client import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, parse_watch_event
from clusters.kube.connection import ConnectionSpec
from clusters.kube.errors import ApiError, ConnectionReset, ReadTimeout
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


class WatchStream:
    """One open watch. :meth:`batches` yields the events each read completed (never an empty
    list) until the server ends the watch; :meth:`close` ends it from our side."""

    def __init__(self, stream: LogStream, *, server: str, idle_timeout: float) -> None:
        self._stream = stream
        self.server = server
        self.idle_timeout = idle_timeout

    async def batches(self) -> AsyncIterator[list[dict[str, Any]]]:
        pieces = self._stream.pieces()
        pending = b""
        try:
            while True:
                try:
                    async with asyncio.timeout(self.idle_timeout):
                        piece = await anext(pieces)
                except StopAsyncIteration:
                    break
                pending += piece
                if b"\n" not in piece:
                    if len(pending) > MAX_EVENT_BYTES:
                        raise ApiError(f"The API server {self.server} sent a watch event longer than "
                                       f"{MAX_EVENT_BYTES // (1024 * 1024)} MiB.")
                    continue
                *lines, pending = pending.split(b"\n")
                events = [parse_watch_event(line) for line in lines if line.strip()]
                if events:
                    yield events
            if pending.strip():
                yield [parse_watch_event(pending)]
        except TimeoutError as exc:
            raise ReadTimeout(f"The API server {self.server} sent nothing on an open watch for "
                              f"{self.idle_timeout:g} s.") from exc
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError, ssl.SSLError) as exc:
            if self._stream.closed:
                return
            raise ConnectionReset(f"The watch stream from the API server {self.server} broke off "
                                  f"({type(exc).__name__}).") from exc
        finally:
            await pieces.aclose()
            await self.close()

    async def close(self) -> None:
        await self._stream.close()


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

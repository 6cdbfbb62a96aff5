"""The watcher's asyncio watch (``clusters.kube.watchstream``): against the sandbox over HTTPS for
the protocol, and with a scripted body for how bytes become events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from clusters.kube.client import KubeClient
from clusters.kube.connection import ConnectionSpec, Credentials, spec_from_kubeconfig
from clusters.kube.errors import ApiError, ConnectionReset, Gone, ReadTimeout, Unauthorized
from clusters.kube.kinds import WATCHED_KINDS
from clusters.kube.watchstream import WatchStream, open_watch, watch_path


def spec_of(fleet: Any, name: str = "cluster-1") -> ConnectionSpec:
    return spec_from_kubeconfig(fleet.cluster(name).kubeconfig.read_text())[0]


async def collect(stream: WatchStream, until: Any = None) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async for batch in stream.batches():
        events += batch
        if until is not None and any(until(e) for e in batch):
            await stream.close()
            break
    return events


def test_watch_path_asks_for_bookmarks_from_the_version() -> None:
    assert watch_path("/api/v1/pods", resource_version="42", timeout_seconds=300) == (
        "/api/v1/pods?watch=true&timeoutSeconds=300&resourceVersion=42&allowWatchBookmarks=true")
    assert "resourceVersion" not in watch_path("/api/v1/pods", resource_version="", timeout_seconds=5)


def test_every_watched_kind_has_a_watchable_path(sandbox: Any) -> None:
    spec = spec_of(sandbox)

    async def main() -> None:
        for kind in WATCHED_KINDS:  # open_watch returns once the API server answered 200
            for namespace in ("", "default") if kind.namespaced else ("",):
                stream = await open_watch(spec, kind.path(namespace), resource_version="", timeout_seconds=5)
                await stream.close()

    asyncio.run(main())


def test_events_arrive_and_the_server_ends_the_watch_at_its_timeout(sandbox: Any) -> None:
    spec = spec_of(sandbox)
    with KubeClient(spec) as client:
        rv = client.get_json(client.core.list_namespace)["metadata"]["resourceVersion"]
        client.call(client.core.create_namespace, {"metadata": {"name": "async-watch-me"}})
        try:
            async def main() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
                stream = await open_watch(spec, "/api/v1/namespaces", resource_version=rv, timeout_seconds=2)
                seen = await collect(stream, until=lambda e: e["type"] == "ADDED"
                                     and e["object"]["metadata"]["name"] == "async-watch-me")
                # A watch from now on carries nothing new and simply ends at timeoutSeconds.
                quiet = await open_watch(spec, "/api/v1/namespaces", resource_version=seen[-1]["object"]["metadata"][
                    "resourceVersion"], timeout_seconds=1)
                return seen, await collect(quiet)

            seen, rest = asyncio.run(main())
        finally:
            client.call(client.core.delete_namespace, "async-watch-me")
    assert seen[-1]["object"]["metadata"]["name"] == "async-watch-me"
    assert all(e["type"] == "BOOKMARK" for e in rest)


def test_expired_version_raises_gone_and_bad_token_unauthorized(sandbox: Any) -> None:
    spec = spec_of(sandbox)
    with KubeClient(spec) as client:
        rv = client.get_json(client.core.list_namespace)["metadata"]["resourceVersion"]
    sandbox.inject_fault("cluster-1", expire_next_watch=True)

    async def gone() -> None:
        stream = await open_watch(spec, "/api/v1/namespaces", resource_version=rv, timeout_seconds=5)
        await collect(stream)

    with pytest.raises(Gone):
        asyncio.run(gone())
    bad = ConnectionSpec(server=spec.server, credentials=Credentials(token="not-a-token"), ca_pem=spec.ca_pem,
                         tls_server_name=spec.tls_server_name)
    with pytest.raises(Unauthorized):
        asyncio.run(open_watch(bad, "/api/v1/namespaces", resource_version="", timeout_seconds=5))


def test_a_silent_stream_is_cut_after_the_idle_timeout(sandbox: Any) -> None:
    spec = spec_of(sandbox)

    async def main() -> None:
        # StorageClasses do not change here, and bookmarks come far less often than half a second.
        stream = await open_watch(spec, "/apis/storage.k8s.io/v1/storageclasses", resource_version="",
                                  timeout_seconds=60, idle_timeout=0.5)
        await collect(stream)

    with pytest.raises(ReadTimeout, match=r"sent nothing on an open watch for 0\.5 s"):
        asyncio.run(main())


class Scripted:
    """A response body given as pieces (what the socket delivered, cut anywhere)."""

    def __init__(self, pieces: list[bytes], *, fail: BaseException | None = None) -> None:
        self._pieces = pieces
        self.fail = fail
        self.closed = False

    async def pieces(self) -> AsyncGenerator[bytes, None]:
        for piece in self._pieces:
            await asyncio.sleep(0)
            yield piece
        if self.fail is not None:
            raise self.fail

    async def close(self) -> None:
        self.closed = True


def event(n: int) -> bytes:
    return json.dumps({"type": "MODIFIED", "object": {"metadata": {"name": f"p{n}", "resourceVersion": str(n)}}}
                      ).encode()


def run_scripted(pieces: list[bytes], **kwargs: Any) -> tuple[list[list[str]], Scripted]:
    body = Scripted(pieces, **kwargs)
    stream = WatchStream(body, server="https://k8s.test", idle_timeout=5)  # type: ignore[arg-type]

    async def main() -> list[list[str]]:
        return [[e["object"]["metadata"]["name"] for e in batch] async for batch in stream.batches()]

    return asyncio.run(main()), body


def test_events_cut_across_reads_and_several_in_one_read() -> None:
    whole = event(1) + b"\n" + event(2) + b"\n" + event(3) + b"\n" + event(4)  # the last without a newline
    pieces = [whole[:10], whole[10:len(event(1)) + 5], whole[len(event(1)) + 5:-3], whole[-3:]]
    batches, body = run_scripted(pieces)
    assert [name for batch in batches for name in batch] == ["p1", "p2", "p3", "p4"]
    assert all(batches)
    assert body.closed
    assert run_scripted([event(1) + b"\n\n" + event(2) + b"\n"])[0] == [["p1", "p2"]]


def test_an_error_event_and_a_broken_body_raise_the_client_layers_errors() -> None:
    error = json.dumps({"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}).encode()
    with pytest.raises(Gone, match="too old"):
        run_scripted([event(1) + b"\n" + error + b"\n"])
    with pytest.raises(ApiError, match="not JSON"):
        run_scripted([b"<html>\n"])
    with pytest.raises(ConnectionReset, match="broke off"):
        run_scripted([event(1) + b"\n"], fail=asyncio.IncompleteReadError(b"", 10))

"""The watcher's asyncio watch (``clusters.kube.watchstream``): against the sandbox over HTTPS for
the protocol, and with a scripted body for how bytes become events."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest

from clusters.kube.client import KubeClient
from clusters.kube.connection import ConnectionSpec, Credentials, spec_from_kubeconfig
from clusters.kube.errors import ApiError, Gone, ReadTimeout, Unauthorized
from clusters.kube.kinds import WATCHED_KINDS
from clusters.kube.watchstream import EventParser, WatchStream, open_watch, watch_path


def spec_of(fleet: Any, name: str = "cluster-1") -> ConnectionSpec:
    return spec_from_kubeconfig(fleet.cluster(name).kubeconfig.read_text())[0]


async def collect(stream: WatchStream, until: Any = None) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []

    def deliver(batch: list[dict[str, Any]]) -> None:
        assert batch
        events.extend(batch)
        if until is not None and any(until(e) for e in batch):
            stream.abort()

    await stream.run(deliver)
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


def test_an_event_larger_than_a_tls_record_arrives_whole(sandbox: Any) -> None:
    """The TLS layer decrypts one record (16 KiB) per call (``logstream._read_by_record``): an
    object several records long still arrives as one event, byte for byte."""
    spec = spec_of(sandbox)
    payload = "".join(f"{i:07d}," for i in range(12_000))  # 96 KB: six records and more
    with KubeClient(spec) as client:
        rv = client.get_json(client.core.list_namespaced_config_map, "default")["metadata"]["resourceVersion"]
        client.call(client.core.create_namespaced_config_map, "default",
                    {"metadata": {"name": "large-event"}, "data": {"payload": payload}})
        try:
            async def main() -> tuple[list[dict[str, Any]], int]:
                stream = await open_watch(spec, "/api/v1/namespaces/default/configmaps", resource_version=rv,
                                          timeout_seconds=5)
                transport: Any = stream._stream._writer.transport
                read_size = transport._ssl_protocol.max_size  # as open_stream set it
                return await collect(stream, until=lambda e: e["type"] == "ADDED"), read_size

            events, read_size = asyncio.run(main())
        finally:
            client.call(client.core.delete_namespaced_config_map, "large-event", "default")
    assert read_size == 16 * 1024
    added = [e for e in events if e["type"] == "ADDED"]
    assert [e["object"]["metadata"]["name"] for e in added] == ["large-event"]
    assert added[0]["object"]["data"]["payload"] == payload


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


def event(n: int) -> bytes:
    return json.dumps({"type": "MODIFIED", "object": {"metadata": {"name": f"p{n}", "resourceVersion": str(n)}}}
                      ).encode()


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


def parse(data: bytes, cuts: list[int], *, is_chunked: bool = True) -> tuple[list[list[str]], EventParser]:
    """Feed ``data`` cut at ``cuts`` (what the socket delivered, read by read)."""
    parser = EventParser(chunked=is_chunked, server="https://k8s.test")
    bounds = [0, *cuts, len(data)]
    batches = [[e["object"]["metadata"]["name"] for e in parser.feed(data[a:b])] for a, b in itertools.pairwise(bounds)]
    if not is_chunked:
        batches.append([e["object"]["metadata"]["name"] for e in parser.close()])
    return [b for b in batches if b], parser


def test_events_cut_anywhere_across_reads_chunks_and_lines() -> None:
    # Events spread over chunks as an API server writes them: one per chunk, two in one, one in two.
    body = chunked(event(1) + b"\n", event(2) + b"\n" + event(3) + b"\n", event(4)[:7], event(4)[7:] + b"\n")
    for cuts in ([], [1], [3, 9, 40], list(range(1, len(body)))):  # every byte a read of its own, too
        batches, parser = parse(body, cuts)
        assert [name for batch in batches for name in batch] == ["p1", "p2", "p3", "p4"], cuts
        assert parser.finished
    plain, parser = parse(event(1) + b"\n\n" + event(2), [5], is_chunked=False)  # no newline at the end
    assert [name for batch in plain for name in batch] == ["p1", "p2"]
    assert not parser.finished


def test_an_error_event_or_a_body_that_is_not_events_raises() -> None:
    error = json.dumps({"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}).encode()
    with pytest.raises(Gone, match="too old"):
        parse(chunked(event(1) + b"\n" + error + b"\n"), [])
    with pytest.raises(ApiError, match="not JSON"):
        parse(chunked(b"<html>\n"), [])
    with pytest.raises(ApiError, match="not chunked"):
        parse(b"zz\r\n" + event(1), [])

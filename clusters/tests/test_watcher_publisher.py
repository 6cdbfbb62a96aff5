"""The watcher's publisher (clusters/watcher/publisher.py): when each group's coalesced message is
due. Pure: changes are handed to it directly and its sends collected, no Redis involved."""

from __future__ import annotations

import concurrent.futures
import json
from datetime import UTC, datetime
from typing import Any

from clusters.watcher.config import WatcherConfig
from clusters.watcher.projection import Row
from clusters.watcher.publisher import Publisher
from clusters.watcher.writer import Changes


def pod(ns: str, name: str) -> Row:
    return {"kind": "Pod", "namespace": ns, "name": name, "uid": f"u-{name}", "labels": {}, "node_name": "",
            "phase": "Running", "created": datetime(2026, 1, 1, tzinfo=UTC), "data": {}, "resource_version": "1"}


def node(name: str) -> Row:
    return {**pod("", name), "kind": "Node"}


def test_a_row_is_sent_with_the_json_the_writer_encoded() -> None:
    """The writer keeps the labels' and data's JSON on the row; the message carries that text."""
    from clusters.watcher.publisher import api_row

    row = pod("web", "a")
    row["data_json"] = '{"containers": ["from the writer"]}'
    sent = json.loads(api_row(7, row, "t0"))
    assert sent["data"] == {"containers": ["from the writer"]}
    assert (sent["cluster"], sent["name"], sent["labels"], sent["updated"]) == (7, "a", {}, "t0")
    assert json.loads(api_row(7, pod("web", "b"), "t0"))["data"] == {}  # none kept: encoded here


def test_rows_are_due_at_the_publish_interval_and_digests_only_at_the_digest_interval() -> None:
    """A namespace's rows go out every publish_interval; the cluster group, told only that
    namespaces changed (a browser refetches on it), waits the longer digest_interval, unless it
    carries rows of a cluster-scoped kind too. Each is due at an exact moment, not on a tick."""
    sent: list[tuple[str, str, dict[str, Any]]] = []
    publisher = Publisher(WatcherConfig(publish_interval=0.1, digest_interval=1.0),
                          concurrent.futures.ThreadPoolExecutor(1), send=lambda g, t, d: sent.append((g, t, d)))
    publisher.add(Changes(upserts={(7, "Pod"): {("web", "a"): pod("web", "a")}}), "t0")
    assert publisher._wait(100.0) == 0.0  # never sent: due at once
    first = publisher._due(100.0)
    assert sorted(g for g, _t, _d in first) == ["cluster.7", "cluster.7.ns.web"]

    publisher.add(Changes(upserts={(7, "Pod"): {("web", "b"): pod("web", "b")}}), "t1")
    assert round(publisher._wait(100.03) or 0, 3) == 0.07  # the namespace's rows: 100 ms after its last message
    assert [g for g, _t, _d in publisher._due(100.1)] == ["cluster.7.ns.web"]
    assert round(publisher._wait(100.1) or 0, 3) == 0.9  # the digest: a second after its last message
    assert publisher._due(100.5) == []

    publisher.add(Changes(upserts={(7, "Node"): {("", "n1"): node("n1")}}), "t2")  # rows for cluster.7
    assert publisher._wait(100.5) == 0.0
    (group, event_type, data), = publisher._due(100.5)
    assert (group, event_type) == ("cluster.7", "objects.changed")
    changes = json.loads(data)["changes"]  # JSON already: the rows' data is the writer's text
    assert sorted(change["kind"] for change in changes) == ["Node", "Pod"]  # the waiting digest rides along
    assert [row["name"] for row in next(c for c in changes if c["kind"] == "Node")["upserts"]] == ["n1"]
    assert publisher._wait(100.5) is None


def test_the_heap_is_frozen_once_lists_have_finished_and_none_runs() -> None:
    """What a first sync leaves alive is moved out of the collector's reach once no list runs, so
    the next full collection does not walk it while changes wait (runwatchers)."""
    import gc

    from clusters.management.commands.runwatchers import freeze_after_lists

    try:
        assert freeze_after_lists(3, 1, 0) == 0  # a list still runs: wait
        before = gc.get_freeze_count()
        kept = [[i] for i in range(1000)]  # containers a sync leaves alive
        assert freeze_after_lists(3, 0, 0) == 3
        assert gc.get_freeze_count() >= before + len(kept)
        assert freeze_after_lists(3, 0, 3) == 3  # nothing listed since: nothing done
    finally:
        gc.unfreeze()

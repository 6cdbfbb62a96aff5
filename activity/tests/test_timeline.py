"""The pure rules of the timeline, without a database: the query's shape, the cursor, the merge of
sources into one order, and the Secret guard on diffs."""

from __future__ import annotations

import datetime

import pytest

from activity.timeline import (
    Entry,
    Key,
    decode_cursor,
    encode_cursor,
    manager_matches,
    mask_secret_diff,
    merge,
    parse_query,
    snapshot_diff,
)
from portal import errors

T = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)


def entry(table: str, pk: int, seconds: int) -> Entry:
    return Entry(table=table, pk=pk, time=T + datetime.timedelta(seconds=seconds), source=table)


def test_queries_name_their_scope() -> None:
    assert parse_query({"cluster": "3"}).scope == "cluster"
    one = parse_query({"cluster": "3", "kind": "Node", "name": "node-1"})
    assert (one.scope, one.namespace) == ("object", "")  # a cluster-scoped object
    assert parse_query({"cluster": "3", "namespace": ""}).namespace is None  # every namespace
    assert parse_query({"service_map": "4", "source": "portal, event"}).sources == {"portal", "event"}
    with pytest.raises(errors.Invalid) as raised:
        parse_query({"workspace": "1", "kind": "Pod", "name": "x"})
    assert (raised.value.code, raised.value.params) == ("activity_param_invalid", {"param": "kind"})


def test_merge_interleaves_sources_and_cuts_the_page_at_a_cursor() -> None:
    portal = [entry("portal", 9, 5), entry("portal", 8, 1)]
    events = [entry("event", 70, 5), entry("event", 60, 3), entry("event", 50, 0)]
    page, after = merge([portal, events], 3)
    assert [e.id for e in page] == ["event:70", "portal:9", "event:60"]
    assert after == Key(T + datetime.timedelta(seconds=3), 5, 60)
    assert decode_cursor(encode_cursor(after)) == after
    page, after = merge([portal[1:], events[2:]], 3)
    assert [e.id for e in page] == ["portal:8", "event:50"]
    assert after is None


def test_a_cursor_from_elsewhere_is_refused() -> None:
    for text in ("", "e30", encode_cursor(Key(T, 5, 1))[:-3], "x" * 300):
        with pytest.raises(errors.Invalid) as raised:
            decode_cursor(text)
        assert raised.value.code == "cursor_invalid"


def test_managers_match_exactly_or_by_prefix() -> None:
    patterns = ("portal:*", "kubelet")
    assert [manager_matches(m, patterns) for m in ("portal:alice", "kubelet", "kubelet-x", "kubectl")] == [
        True, True, False, False]


def test_secret_diffs_lose_their_values_and_keep_their_shape() -> None:
    diff = ("--- live\n+++ applied\n@@ -1,6 +1,6 @@\n apiVersion: v1\n data:\n-  token: b2xk\n+  token: bmV3\n"
            "   ca.crt: LS0t\n+  multi: |\n+    line\n kind: Secret\n stringData:\n+  pw: hunter2\n")
    masked = mask_secret_diff(diff)
    for secret in ("b2xk", "bmV3", "LS0t", "hunter2", "line"):
        assert secret not in masked
    assert "-  token: '***'\n+  token: '***'\n" in masked
    assert " kind: Secret\n" in masked
    assert masked.count("\n") == diff.count("\n")


def test_a_snapshot_diff_names_the_object() -> None:
    diff = snapshot_diff({"replicas": 2}, {"replicas": 4}, label="Deployment shop/web")
    assert diff.splitlines() == ["--- Deployment shop/web (before)", "+++ Deployment shop/web (after)", "@@ -1 +1 @@",
                                 "-replicas: 2", "+replicas: 4"]

"""The pure parts of the live log viewer (monitoring/logs.py): RFC 3339 stamps, the reorder
window merging several pods by time, the bound (lines and bytes) dropping the oldest and counting
them, batching."""

from __future__ import annotations

import json
from calendar import timegm

from monitoring import logs


def test_parse_rfc3339_fractions_and_offsets() -> None:
    base = timegm((2026, 12, 2, 13, 5, 21, 0, 0, 0))
    assert logs.parse_rfc3339("2026-12-02T13:05:21Z") == base
    assert logs.parse_rfc3339("2026-12-02T13:05:21.5Z") == base + 0.5
    assert abs(logs.parse_rfc3339("2026-12-02T13:05:21.123456789Z") - (base + 0.123456789)) < 1e-6  # type: ignore[operator]
    assert logs.parse_rfc3339("2026-12-02T22:05:21+09:00") == base
    assert logs.parse_rfc3339("2026-12-02T12:35:21-00:30") == base
    for bad in ("", "yesterday", "2026-13-02T13:05:21Z", "2026-12-02 13:05:21Z", "2026-12-02T13:05:21",
                "2026-12-02T13:05:21.1234567891Z", "2026-02-31T00:00:00Z"):
        assert logs.parse_rfc3339(bad) is None, bad


def test_split_timestamp() -> None:
    assert logs.split_timestamp("2026-12-02T13:05:21.000000001Z GET / 200") == (
        "2026-12-02T13:05:21.000000001Z", timegm((2026, 12, 2, 13, 5, 21, 0, 0, 0)) + 1e-9, "GET / 200")
    assert logs.split_timestamp("no stamp here") == ("", None, "no stamp here")
    assert logs.split_timestamp("2026-12-02T13:05:21Z") == ("", None, "2026-12-02T13:05:21Z")  # nothing after it
    assert logs.split_timestamp("2026-12-02T13:05:21Z ")[2] == ""  # an empty line, stamped


def line(pod: str, at: float, arrived: float, text: str = "") -> logs.LogLine:
    return logs.LogLine(pod, "app", f"t{at}", text or f"{pod}@{at}", at, arrived)


def test_interleaves_pods_by_time_within_the_window() -> None:
    buf = logs.FollowBuffer(window=0.2)
    buf.add([line("a", 10.0, 0.00), line("a", 10.3, 0.01)])
    buf.add([line("b", 10.1, 0.15), line("b", 10.2, 0.15)])  # arrived later, written earlier
    assert buf.release(0.1) == 0  # nothing waited the window yet
    assert buf.release(0.21) == 1  # a@10.0 (a@10.3 waits behind b's earlier ones? no: it arrived at .01)
    assert [x.text for x in buf.take()] == ["a@10.0"]
    buf.release(0.4)
    assert [x.text for x in buf.take()] == ["b@10.1", "b@10.2", "a@10.3"]
    assert len(buf) == 0
    assert buf.bytes == 0


def test_lines_of_one_pod_keep_their_order_on_equal_stamps() -> None:
    buf = logs.FollowBuffer(window=0.2)
    buf.add([line("a", 5.0, 0.0, "first"), line("a", 5.0, 0.0, "second"), line("a", 5.0, 0.0, "third")])
    buf.flush()
    assert [x.text for x in buf.take()] == ["first", "second", "third"]


def test_bound_in_lines_drops_the_oldest_and_counts_them() -> None:
    buf = logs.FollowBuffer(max_lines=5, window=0.0)
    assert buf.add(line("a", float(i), 0.0, str(i)) for i in range(8)) == 3
    assert len(buf) == 5
    assert buf.peak_lines == 5
    assert buf.take_skipped() == 3
    assert buf.take_skipped() == 0
    assert [x.text for x in buf.take()] == ["3", "4", "5", "6", "7"]
    assert buf.skipped_total == 3


def test_bound_in_bytes() -> None:
    big = "x" * 1000
    buf = logs.FollowBuffer(max_lines=10_000, max_bytes=10 * (1000 + logs.LINE_OVERHEAD + 4 + 4), window=0.0)
    buf.add(logs.LogLine("a", "app", "t", big, float(i), 0.0) for i in range(25))
    assert buf.bytes <= buf.max_bytes
    assert buf.peak_bytes <= buf.max_bytes
    assert len(buf) == 10
    assert buf.take_skipped() == 15
    # one line larger than the whole bound is dropped alone
    assert buf.add([logs.LogLine("a", "app", "", "y" * buf.max_bytes, 99.0, 0.0)]) == 1
    assert len(buf) == 10


def test_held_lines_count_against_the_bound_too() -> None:
    buf = logs.FollowBuffer(max_lines=4, window=10.0)  # nothing is released: all held
    buf.add(line("a", float(i), 0.0, str(i)) for i in range(6))
    assert len(buf) == 4
    assert buf.take_skipped() == 2
    buf.flush()
    assert [x.text for x in buf.take()] == ["2", "3", "4", "5"]


def test_paused_reader_stays_bounded_for_ever() -> None:
    buf = logs.FollowBuffer(window=0.2)
    now = 0.0
    for second in range(30):  # 2,000 lines a second for 30 s, nobody taking
        now = float(second)
        buf.add(line("a", now + i / 2000, now, "GET /api/v1/items 200 " + "z" * 100) for i in range(2000))
        buf.release(now)
        assert len(buf) <= logs.MAX_LINES
        assert buf.bytes <= logs.MAX_BYTES
    assert buf.peak_lines == logs.MAX_LINES
    assert buf.take_skipped() == 60_000 - logs.MAX_LINES
    buf.release(now + 1)
    batch = buf.take()
    assert len(batch) == logs.BATCH_LINES
    assert batch[0].at < batch[-1].at  # the newest 2,000, oldest first


def test_batches_respect_the_byte_limit_but_always_carry_one() -> None:
    buf = logs.FollowBuffer(window=0.0)
    buf.add(logs.LogLine("a", "app", "", "x" * 100_000, float(i), 0.0) for i in range(5))
    sizes = []
    while buf.ready():
        sizes.append(len(buf.take(max_bytes=150_000)))
    assert sizes == [1, 1, 1, 1, 1]
    buf.add(line("a", float(i), 0.0) for i in range(3))
    assert len(buf.take(max_lines=2)) == 2


def test_messages() -> None:
    one = line("web-1", 1.0, 0.0, "hello")
    assert logs.lines_message([one]) == {"type": "lines", "lines": [
        {"pod": "web-1", "container": "app", "ts": "t1.0", "text": "hello"}]}
    assert logs.lines_message([one], timestamps=False)["lines"][0]["ts"] == ""
    made = logs.make_line("p", "c", "2026-12-02T13:05:21Z hi", now=5.0, wall=1.0)
    assert (made.ts, made.text, made.at, made.arrived) == ("2026-12-02T13:05:21Z", "hi",
                                                          timegm((2026, 12, 2, 13, 5, 21, 0, 0, 0)), 5.0)
    plain = logs.make_line("p", "c", "hi", now=5.0, wall=1.0)
    assert (plain.ts, plain.at) == ("", 1.0)


def test_the_cached_second_never_leaks_into_another_second() -> None:
    base = timegm((2026, 12, 2, 13, 5, 21, 0, 0, 0))
    for stamp, want in (("2026-12-02T13:05:21.250000000Z", base + 0.25), ("2026-12-02T13:05:21.750000000Z", base + 0.75),
                        ("2026-12-02T13:05:22.000000001Z", base + 1 + 1e-9), ("2026-12-02T13:05:21.5Z", base + 0.5),
                        ("2026-12-02T13:05:21.100000000Z", base + 0.1), ("2026-12-02T13:05:2x.100000000Z", None)):
        at = logs.split_timestamp(f"{stamp} text")[1]
        assert (at is None) if want is None else abs(at - want) < 1e-6, stamp  # type: ignore[operator]


def test_lines_text_is_the_message_encoded_once() -> None:
    batch = [line("web-1", 1.0, 0.0, 'say "hi" \\ ünïcode\t✓'), line("web-2", 2.0, 0.0, "")]
    for timestamps in (True, False):
        text = logs.lines_text(batch, timestamps=timestamps)
        assert text == json.dumps(logs.lines_message(batch, timestamps=timestamps), separators=(",", ":"))
    assert batch[0].fragment() is batch[0].fragment()  # made once, then reused by every socket


def test_a_batch_that_fits_goes_in_at_once_and_one_that_does_not_drops_the_oldest() -> None:
    buf = logs.FollowBuffer(max_lines=5, window=0.0)
    first = [line("a", float(i), 0.0, str(i)) for i in range(3)]
    assert buf.add(first, logs.batch_size(first)) == 0
    assert (len(buf), buf.bytes, buf.peak_lines, buf.added_total) == (3, logs.batch_size(first), 3, 3)
    more = [line("a", float(i), 0.0, str(i)) for i in range(3, 6)]
    assert buf.add(more, logs.batch_size(more)) == 1
    assert [x.text for x in buf.take()] == ["1", "2", "3", "4", "5"]
    assert buf.bytes == 0


def stamped(i: int, text: str = "") -> logs.LogLine:
    return logs.make_line("p", "app", f"2026-12-02T13:05:{i // 10:02d}.{i % 10}00000000Z {text or f'seq={i}'}",
                          now=0.0, wall=0.0)


def test_overlap_drops_what_was_had_by_stamp_and_text() -> None:
    overlap = logs.Overlap()
    overlap.arm()
    assert not overlap.armed  # nothing had yet: nothing to drop
    overlap.note([stamped(1), stamped(2), stamped(2, "same stamp")])
    overlap.arm()
    again = [stamped(0), stamped(1), stamped(2), stamped(2, "same stamp"), stamped(2, "new, same stamp"), stamped(3)]
    assert [x.text for x in overlap.fresh(again)] == ["new, same stamp", "seq=3"]
    assert not overlap.armed  # past the overlap: a clock stepped back later hides nothing
    assert [x.text for x in overlap.fresh([stamped(1)])] == ["seq=1"]


def test_joiner_holds_live_lines_until_its_tail_then_joins_without_duplicates_or_gaps() -> None:
    joiner = logs.Joiner()
    assert joiner.live([stamped(5), stamped(6)]) == []  # subscribed: held while the tail is read
    joiner.tail([stamped(i) for i in range(2, 8)])  # the tail read after the subscribe: reaches line 7
    assert joiner.live([stamped(8)]) == []
    lines, skipped = joiner.join()
    assert ([x.text for x in lines], skipped) == (["seq=8"], 0)
    assert [x.text for x in joiner.live([stamped(9)])] == ["seq=9"]

    no_tail = logs.Joiner()  # tailLines 0: every line since the subscribe
    no_tail.live([stamped(1), stamped(2)])
    assert [x.text for x in no_tail.join()[0]] == ["seq=1", "seq=2"]


def test_joiner_holds_at_most_its_bound_and_counts_what_it_dropped() -> None:
    joiner = logs.Joiner(max_lines=3)
    joiner.live([stamped(i) for i in range(10, 20)])  # a slow tail read: 10 live lines came meanwhile
    joiner.tail([stamped(i) for i in range(5, 12)])
    lines, skipped = joiner.join()
    assert [x.text for x in lines] == ["seq=17", "seq=18", "seq=19"]
    assert skipped == 7  # 12..16 were never sent (10 and 11 were, in the tail: the documented over-count)
    joiner = logs.Joiner(max_lines=3)
    joiner.live([stamped(i) for i in range(10, 15)])
    joiner.tail([stamped(i) for i in range(5, 13)])
    lines, skipped = joiner.join()
    assert ([x.text for x in lines], skipped) == (["seq=13", "seq=14"], 0)  # the dropped ones were in the tail

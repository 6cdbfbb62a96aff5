"""Pure parts of the live log viewer (``/ws/logs/``, :mod:`monitoring.consumers`): the RFC 3339
prefix the API server puts on each line (``timestamps=true``), and :class:`FollowBuffer`, the one
bounded store between the cluster and a browser.

Why one structure: the socket follows one pod or up to 50 pods of a workload; their lines arrive
from independent streams, each in its own order, so lines are held for a short *reorder window*
(:data:`REORDER_WINDOW`, 200 ms) in a heap by timestamp before they are released, merged, to the
sender. Whatever is held or released and not yet sent counts against **one bound** (2,000 lines or
1 MiB): when a line would exceed it the oldest line goes (released ones first, they are older than
anything still held) and is counted as *skipped*, which the browser shows as "N lines skipped". A
slow browser, or one that paused, therefore costs the server at most the bound, never more, and
the lines it does get are the newest ones. The peak of both measures is kept for tests and the
benchmark.

The pure parts of the shared upstream (one stream per container per web process, the hub of
:mod:`monitoring.consumers`): :class:`Overlap` (drop the lines a reopened stream repeats, by
stamp), :class:`Joiner` (a late subscriber's own tail, then the shared live lines, without
duplicates or gaps) and :func:`lines_text` (a ``lines`` message joined from each line's JSON,
encoded once for every socket).

No I/O, no clock of its own: callers pass ``now`` (monotonic seconds).
"""

from __future__ import annotations

import heapq
import itertools
import json
import re
from calendar import monthrange, timegm
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_LINES = 2000
MAX_BYTES = 1024 * 1024
REORDER_WINDOW = 0.2  # seconds a line is held so lines of other pods written earlier can overtake it
BATCH_LINES = 500  # lines in one "lines" message at most
BATCH_BYTES = 256 * 1024
LINE_OVERHEAD = 48  # what a line costs beyond its strings (object, the JSON keys), counted in the bound

_STAMP = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?([Zz]|[+-]\d\d:\d\d)$")


def parse_rfc3339(value: str) -> float | None:
    """Seconds since the epoch of an RFC 3339 time (``2026-12-02T13:05:21.123456789Z``, any
    fraction up to nanoseconds, ``Z`` or an offset), or None when it is not one."""
    m = _STAMP.match(value)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if not (1 <= month <= 12 and hour <= 23 and minute <= 59 and second <= 60):
        return None
    try:
        if not 1 <= day <= monthrange(year, month)[1]:
            return None
        whole = timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    fraction = m.group(7)
    at = float(whole) + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)
    zone = m.group(8)
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        at -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return at


_second: list[Any] = ["", 0.0]  # the whole second last parsed and its epoch: stamps of a log repeat it


def _fast_stamp(stamp: str) -> float | None:
    """The API server's usual form, ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ``, with the epoch of its
    second cached (thousands of lines a second share it); None for any other form."""
    if len(stamp) != 30 or stamp[19] != "." or stamp[29] != "Z" or not stamp[20:29].isdigit():
        return None
    whole = stamp[:19]
    if whole != _second[0]:
        at = parse_rfc3339(whole + "Z")
        if at is None:
            return None
        _second[0], _second[1] = whole, at
    return float(_second[1]) + int(stamp[20:29]) / 1e9


def split_timestamp(line: str) -> tuple[str, float | None, str]:
    """``(timestamp, epoch seconds, text)`` of a line the API server stamped
    (``<RFC 3339> <text>``); ``("", None, line)`` for a line without a stamp."""
    stamp, sep, text = line.partition(" ")
    if sep and 20 <= len(stamp) <= 35:
        at = _fast_stamp(stamp)
        if at is None:
            at = parse_rfc3339(stamp)
        if at is not None:
            return stamp, at, text
    return "", None, line


_seq = itertools.count()


_encode = json.JSONEncoder(separators=(",", ":")).encode  # the bytes json.dumps(..., separators) gives


@dataclass(slots=True)
class LogLine:
    """One line of one container, as the browser gets it (:meth:`as_dict`). ``at`` orders lines
    (the stamp, else the wall-clock time it arrived); ``arrived`` is monotonic, for the window.

    One object is shared by every socket following the container (the hub of
    :mod:`monitoring.consumers` parses each line once): never changed after it is made, except
    for the JSON text of :meth:`fragment`, made by the first sender that needs it and then reused
    by all."""

    pod: str
    container: str
    ts: str
    text: str
    at: float
    arrived: float
    seq: int = field(default_factory=lambda: next(_seq))
    size: int = 0
    _json: str = ""
    _json_bare: str = ""  # without the stamp (``timestamps: false``)

    def __post_init__(self) -> None:
        if not self.size:
            text = self.text
            self.size = ((len(text) if text.isascii() else len(text.encode("utf-8", "replace"))) + len(self.pod)
                         + len(self.container) + len(self.ts) + LINE_OVERHEAD)

    def as_dict(self, *, timestamps: bool = True) -> dict[str, str]:
        return {"pod": self.pod, "container": self.container, "ts": self.ts if timestamps else "",
                "text": self.text}

    def fragment(self, timestamps: bool = True) -> str:
        """The line's JSON object text (as in a ``lines`` message), encoded once."""
        if timestamps:
            if not self._json:
                self._json = _encode(self.as_dict())
            return self._json
        if not self._json_bare:
            self._json_bare = _encode(self.as_dict(timestamps=False))
        return self._json_bare


def make_line(pod: str, container: str, raw: str, *, now: float, wall: float) -> LogLine:
    """A line as read from the cluster (stamped or not)."""
    ts, at, text = split_timestamp(raw)
    return LogLine(pod, container, ts, text, at if at is not None else wall, now)


class FollowBuffer:
    """The bounded store of one socket: held lines (the reorder heap) and released ones (in order,
    waiting for the sender). See the module docstring."""

    def __init__(self, *, max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES,
                 window: float = REORDER_WINDOW) -> None:
        self.max_lines = max(1, max_lines)
        self.max_bytes = max(1, max_bytes)
        self.window = max(0.0, window)
        self._held: list[tuple[float, int, LogLine]] = []
        self._ready: deque[LogLine] = deque()
        self.lines = 0
        self.bytes = 0
        self.peak_lines = 0
        self.peak_bytes = 0
        self._skipped = 0  # dropped since the last take_skipped()
        self.skipped_total = 0
        self.added_total = 0

    def __len__(self) -> int:
        return self.lines

    def add(self, lines: Iterable[LogLine], size: int | None = None) -> int:
        """Hold ``lines`` (a pod's, in its order); drop the oldest beyond the bound. Returns how
        many were dropped by this call. ``size``: the sum of the lines' sizes when the caller
        knows it (a list), which lets a batch that fits go in at once."""
        if size is not None and not self.window and isinstance(lines, list):
            n = len(lines)
            if self.lines + n <= self.max_lines and self.bytes + size <= self.max_bytes:
                self._ready.extend(lines)
                self.added_total += n
                self.lines += n
                self.bytes += size
                if self.lines > self.peak_lines:
                    self.peak_lines = self.lines
                if self.bytes > self.peak_bytes:
                    self.peak_bytes = self.bytes
                return 0
        dropped = 0
        for line in lines:
            self.added_total += 1
            if line.size > self.max_bytes:  # alone larger than the bound (never with 64 KiB lines)
                dropped += 1
                continue
            while self.lines + 1 > self.max_lines or self.bytes + line.size > self.max_bytes:
                self._drop_oldest()
                dropped += 1
            if self.window > 0:
                heapq.heappush(self._held, (line.at, line.seq, line))
            else:
                self._ready.append(line)
            self.lines += 1
            self.bytes += line.size
            if self.lines > self.peak_lines:
                self.peak_lines = self.lines
            if self.bytes > self.peak_bytes:
                self.peak_bytes = self.bytes
        self._skipped += dropped
        self.skipped_total += dropped
        return dropped

    def _drop_oldest(self) -> None:
        line = self._ready.popleft() if self._ready else heapq.heappop(self._held)[2]
        self.lines -= 1
        self.bytes -= line.size

    def release(self, now: float) -> int:
        """Move the held lines that waited the window into the send order (by time); how many."""
        moved = 0
        held = self._held
        cutoff = now - self.window
        while held and held[0][2].arrived <= cutoff:
            self._ready.append(heapq.heappop(held)[2])
            moved += 1
        return moved

    def flush(self) -> None:
        """Release everything held (the follow ends)."""
        while self._held:
            self._ready.append(heapq.heappop(self._held)[2])

    def ready(self) -> int:
        return len(self._ready)

    def take(self, *, max_lines: int = BATCH_LINES, max_bytes: int = BATCH_BYTES) -> list[LogLine]:
        """The next batch to send, oldest first (at least one line when any is ready)."""
        out: list[LogLine] = []
        size = 0
        ready = self._ready
        while ready and len(out) < max_lines and (not out or size + ready[0].size <= max_bytes):
            line = ready.popleft()
            out.append(line)
            size += line.size
        self.lines -= len(out)
        self.bytes -= size
        return out

    def take_skipped(self) -> int:
        """Lines dropped since the last call (to report as ``skipped``)."""
        n, self._skipped = self._skipped, 0
        return n

    def count_skipped(self, n: int) -> None:
        """Lines that never reached the buffer (e.g. read while the socket was over its bound)."""
        self._skipped += n
        self.skipped_total += n

    def clear(self) -> None:
        self._held.clear()
        self._ready.clear()
        self.lines = 0
        self.bytes = 0


def lines_message(lines: Iterable[LogLine], *, timestamps: bool = True) -> dict[str, Any]:
    return {"type": "lines", "lines": [line.as_dict(timestamps=timestamps) for line in lines]}


def lines_text(lines: Iterable[LogLine], *, timestamps: bool = True) -> str:
    """The ``lines`` message as sent: the same text as ``json.dumps(lines_message(...),
    separators=(",", ":"))``, joined from each line's JSON encoded once (:meth:`LogLine.fragment`)."""
    return '{"type":"lines","lines":[' + ",".join([line.fragment(timestamps) for line in lines]) + "]}"


def batch_size(lines: Iterable[LogLine]) -> int:
    return sum(line.size for line in lines)


class Overlap:
    """Drops the lines of a stream that repeat lines already had, by their stamp: used where a
    stream is (re)opened from a point at or before the last line seen (the hub reattaching after
    a restart from the last stamp it read, a late subscriber joining the shared stream after its
    own tail). :meth:`note` the lines had, :meth:`arm` before the overlapping lines come; then
    :meth:`fresh` lets through a line stamped after the last one had, or stamped the same but not
    one of the lines had with that stamp (compared by stamp and text), and disarms at the first
    line stamped after it (a clock stepped back later must not hide lines). Pure."""

    __slots__ = ("armed", "at", "keys")

    def __init__(self) -> None:
        self.at: float | None = None
        self.keys: set[tuple[str, str]] = set()
        self.armed = False

    def note(self, lines: list[LogLine]) -> None:
        if not lines:
            return
        last = lines[-1].at
        keys = set()
        for line in reversed(lines):
            if line.at != last:
                break
            keys.add((line.ts, line.text))
        if last == self.at:
            self.keys |= keys
        else:
            self.at, self.keys = last, keys

    def arm(self) -> None:
        self.armed = self.at is not None

    def fresh(self, lines: list[LogLine]) -> list[LogLine]:
        if not self.armed or not lines:
            return lines
        at, keys = self.at, self.keys
        assert at is not None
        if lines[0].at > at:
            self.armed = False
            return lines
        out = [line for line in lines if line.at > at or (line.at == at and (line.ts, line.text) not in keys)]
        if out and out[-1].at > at:
            self.armed = False
        return out


class Joiner:
    """A subscriber joining a shared live stream (:mod:`monitoring.consumers`' hub) that already
    runs: it subscribes first, so every live line from then on is held here (:meth:`live`
    returns nothing), then reads its own tail (``tailLines``/``sinceSeconds``) with a one-shot
    read, noting each tail line (:meth:`tail`); :meth:`join` then gives the held lines that came
    after the tail's last line, and from then on :meth:`live` passes lines through (the first
    ones still checked against the tail). Nothing is lost: the tail was read after the subscribe
    and after the shared stream's start point, so the tail and the held lines overlap.

    Held lines are bounded (``max_lines``, the socket buffer's bound): beyond it the oldest go;
    :meth:`join` counts them as skipped when any of them was newer than the tail (an
    over-count by the overlap then, only when a join took longer than the bound's worth of
    lines). Pure."""

    def __init__(self, max_lines: int = MAX_LINES) -> None:
        self.max_lines = max(1, max_lines)
        self.held: deque[LogLine] | None = deque()
        self.dropped = 0
        self.dropped_at: float | None = None
        self.overlap = Overlap()

    @property
    def joined(self) -> bool:
        return self.held is None

    def tail(self, lines: list[LogLine]) -> None:
        self.overlap.note(lines)

    def live(self, lines: list[LogLine]) -> list[LogLine]:
        held = self.held
        if held is None:
            return self.overlap.fresh(lines)
        held.extend(lines)
        while len(held) > self.max_lines:
            self.dropped_at = held.popleft().at
            self.dropped += 1
        return []

    def join(self) -> tuple[list[LogLine], int]:
        """``(lines to deliver now, lines to count as skipped)``; afterwards :meth:`live` passes."""
        held, self.held = self.held or deque(), None
        tail_at = self.overlap.at
        skipped = self.dropped if self.dropped and (tail_at is None or (self.dropped_at or 0.0) > tail_at) else 0
        self.overlap.arm()
        return self.overlap.fresh(list(held)), skipped

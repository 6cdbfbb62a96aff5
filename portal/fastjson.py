"""JSON on the hot paths: the watcher's events in (every watch line, every list page) and its rows
out (the text stored in PostgreSQL and sent to browsers), and the events the portal publishes.

``orjson`` parses and writes the same JSON as the standard library about five to ten times faster
(bench/results/issue16_s16_*: the standard library's ``loads`` and ``dumps`` were a tenth of the
watcher's CPU at 2,000 changes a second). Two differences, both harmless here:

* ``loads`` reads an integer beyond 64 bits as a float. The Kubernetes API server decodes such a
  number into a float64 itself, so no object it sends holds one, and this module only reads what
  API servers send.
* ``dumps`` may spell a number differently (``1e-9`` for ``1e-09``): the same JSON value.

Where ``orjson`` refuses to write what the standard library writes (an integer beyond 64 bits, a
key that is not a string), the standard library does, with its results and its errors. Output is
compact and keeps non-ASCII text as UTF-8, as ``json.dumps(value, separators=(",", ":"),
ensure_ascii=False)`` would. (``orjson`` also writes datetimes, UUIDs and dataclasses, which the
standard library refuses; nothing on these paths passes them.)
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """``json.loads``; a ``ValueError`` for text that is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(bytes(data) if isinstance(data, bytearray | memoryview) else data)


def dumps(value: Any) -> str:
    """Compact JSON text of ``value`` (non-ASCII kept); a ``TypeError`` for what JSON cannot hold."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

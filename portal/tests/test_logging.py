"""Logs are one JSON object per line and carry the request id."""

from __future__ import annotations

import json
import logging

from portal.context import request_id_var
from portal.logging import JsonFormatter, RequestIdFilter


def test_json_log_line_has_request_id_and_extras() -> None:
    record = logging.LogRecord("portal.x", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    record.cluster = "c1"
    token = request_id_var.set("req-12345678")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = JsonFormatter().format(record)
    payload = json.loads(line)
    assert payload["msg"] == "hello world"
    assert payload["level"] == "WARNING"
    assert payload["request_id"] == "req-12345678"
    assert payload["cluster"] == "c1"

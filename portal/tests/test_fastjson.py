"""portal.fastjson: orjson, with the standard library where orjson refuses to write (integers
beyond 64 bits, keys that are not strings): the same JSON values and the same errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portal import fastjson

VALUES: list[Any] = [
    {"metadata": {"name": "web-0", "labels": {"app": "웹", "tier": "front/end"}}, "spec": {"replicas": 2}},
    {"quantity": 1.5, "zero": 0.0, "tiny": 1e-9, "neg": -3, "null": None, "yes": True, "list": [1, "two", [3.25]]},
    {"text": "line\nbreak \"quoted\" tab\t \u2028 emoji 🚀 back\\slash"},
    {"big": 2**70, "small": -(2**65)},  # beyond 64 bits: the standard library writes them
    {1: "int key", "b": {2: [1]}},  # keys that are not strings: the standard library turns them into strings
    [], {}, "", 0, "plain",
]


@pytest.mark.parametrize("value", VALUES)
def test_dumps_and_loads_agree_with_the_standard_library(value: Any) -> None:
    text = fastjson.dumps(value)
    assert json.loads(text) == json.loads(json.dumps(value))  # the same value (a number may be spelled otherwise)
    assert "\\u" not in text  # non-ASCII kept as UTF-8
    assert fastjson.loads(text) == json.loads(text)
    assert fastjson.loads(text.encode()) == json.loads(text)
    assert fastjson.loads(bytearray(text.encode())) == json.loads(text)


def test_what_is_not_json_is_a_value_error_and_what_json_cannot_hold_a_type_error() -> None:
    for bad in (b"{", b"", b"{'a': 1}", "[1,]"):
        with pytest.raises(ValueError, match=r"\w"):
            fastjson.loads(bad)
    # beyond 64 bits an integer is read as a float, as an API server decodes it itself
    assert fastjson.loads(b'{"n": 123456789012345678901234567890}') == {"n": 1.2345678901234568e29}
    with pytest.raises(TypeError):
        fastjson.dumps({"set": {1, 2}})

"""A manifest's text does not depend on which YAML emitter wrote it: libyaml where it writes what
the Python emitter writes, the Python emitter where it would not (characters outside the BMP)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from catalog import manifests

STRINGS = ["plain", "a" * 200, "x" * 90 + " " + "y" * 90, "multi\nline\ntext\n", "no newline\nat end",
           "한국어 운영자", "ünïcode ✓", "  leading", "trailing ", "yes", "null", "1.0", "0o17", "a: b", "- x",
           "#c", "tab\there", "quote'\"", "emoji 😀", "\\U0001F600 literally", "", "~", "@at", "*star", "&amp"]


def _objects() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for text in STRINGS:
        out.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "c", "labels": {"app": "web"}, "annotations": {"note": text}},
                    "data": {"value": text, "list": [text, {"nested": text}]}})
    out.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"replicas": 2, "paused": False, "ratio": 0.5, "empty": {}, "none": [],
                         "template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.27",
                                                               "args": ["--port", "8080"]}]}}}})
    return out


@pytest.mark.parametrize("obj", _objects(), ids=lambda o: repr(o.get("data", {}).get("value", o["kind"]))[:30])
def test_dump_writes_what_the_python_emitter_writes(obj: dict[str, Any]) -> None:
    text = manifests.dump([obj])
    assert text == "---\n" + yaml.safe_dump(obj, sort_keys=True, allow_unicode=True)
    assert manifests.load(text) == [obj]

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


def test_stamp_copies_without_nulls_and_leaves_the_input_alone() -> None:
    """``stamp`` builds what is applied in a copy of the objects (a chart's render may be stamped
    again for another target): nulls dropped at any depth, the namespace, label and annotation
    added, the input unchanged, and nothing of the output shared with it."""
    shared = {"app": "web"}
    given = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": shared, "annotations": None},
              "data": {"keep": "x", "drop": None, "list": [{"a": None, "b": 1}]}},
             {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d", "labels": shared}}]
    before = yaml.safe_dump(given)
    out = manifests.stamp(given, namespace="team-a", release=None, revision=3)
    assert yaml.safe_dump(given) == before
    assert out[0] == {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "c", "labels": {"app": "web"}, "namespace": "team-a",
                                   "annotations": {manifests.REVISION_ANNOTATION: "3"}},
                      "data": {"keep": "x", "list": [{"b": 1}]}}
    out[0]["metadata"]["labels"]["changed"] = "yes"
    assert shared == {"app": "web"}
    assert out[1]["metadata"]["labels"] == {"app": "web"}

"""The one way the portal parses YAML (and JSON) it did not write itself (values, manifests,
kubeconfigs, indexes, chart schemas, registry answers).

Why it exists: PyYAML's safe loader is safe against code execution, not against shape. Its
composer recurses once per nesting level, so a document nested a few thousand levels deep raises
``RecursionError`` (a 500, not a ``YAMLError``), and libyaml's C loader recurses in C and
**segfaults** the process at ~100,000 levels (a 200 KB ``index.yaml`` could kill a worker). Aliases
make a small text expand into a huge tree once something walks it (``json.dumps``, a diff). So
every load here:

* refuses nesting deeper than :data:`MAX_DEPTH` before it can recurse (the pure-Python loader
  counts depth while composing; the fast C path first walks the event stream, which libyaml
  produces with explicit stacks, not recursion);
* counts the parsed tree's nodes with aliases expanded and refuses more than ``max_nodes``;
* can refuse aliases altogether (kubeconfigs have no use for them);
* raises :class:`YamlError` (a ``ValueError``) with a message for people and the line, which
  each caller turns into its own 4xx error.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent
from yaml.nodes import Node

MAX_DEPTH = 100  # nested mappings/sequences; real manifests (CRD schemas included) stay well below 60
MAX_NODES = 200_000  # nodes of a parsed tree, aliases counted each time they are used


class YamlError(ValueError):
    """YAML that is invalid or out of bounds; ``message`` says why (and where) for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _where(mark: Any) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _too_deep(what: str, max_depth: int, mark: Any) -> YamlError:
    return YamlError(f"{what} is nested more than {max_depth} levels deep{_where(mark)}.")


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer stops at ``max_depth`` levels (and, if asked, at the first alias)."""

    max_depth = MAX_DEPTH
    allow_aliases = True
    what = "The document"

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, AliasEvent) and not self.allow_aliases:
            raise YamlError(f"{self.what} uses a YAML alias (*{event.anchor}){_where(event.start_mark)}; "
                            "aliases are not accepted here.")
        if isinstance(event, CollectionStartEvent):
            self._depth += 1
            try:
                if self._depth > self.max_depth:
                    raise _too_deep(self.what, self.max_depth, event.start_mark)
                return Composer.compose_node(self, parent, index)
            finally:
                self._depth -= 1
        return Composer.compose_node(self, parent, index)


def _loader(what: str, max_depth: int, allow_aliases: bool) -> type[_BoundedLoader]:
    return type("Loader", (_BoundedLoader,), {"what": what, "max_depth": max_depth, "allow_aliases": allow_aliases})


def _problem(exc: yaml.YAMLError, what: str) -> YamlError:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return YamlError(f"{what} is not valid YAML{_where(mark)}: {str(problem)[:300]}.")


def count_nodes(value: Any, max_nodes: int, what: str = "The document") -> int:
    """Refuse a parsed tree with more than ``max_nodes`` nodes, aliases expanded (an alias bomb);
    return how many nodes it has."""
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        count += 1
        if count > max_nodes:
            raise YamlError(f"{what} is too large once its aliases are expanded (more than {max_nodes} nodes).")
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def _check_events(text: str | bytes, what: str, max_depth: int, allow_aliases: bool) -> None:
    """Walk libyaml's event stream (no recursion) and refuse deep nesting before anything composes."""
    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    depth = 0
    for event in yaml.parse(text, Loader=loader_cls):
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                raise _too_deep(what, max_depth, event.start_mark)
        elif isinstance(event, CollectionEndEvent):
            depth -= 1
        elif isinstance(event, AliasEvent) and not allow_aliases:
            raise YamlError(f"{what} uses a YAML alias (*{event.anchor}){_where(event.start_mark)}; "
                            "aliases are not accepted here.")


def load_all(text: str | bytes, *, what: str = "The document", max_depth: int = MAX_DEPTH,
             max_nodes: int | None = MAX_NODES, max_bytes: int | None = None, allow_aliases: bool = True,
             fast: bool = False) -> list[Any]:
    """Every document of ``text`` (``None`` for empty ones), parsed safely within the bounds.

    ``fast`` uses libyaml (for multi-megabyte repository indexes) after an event pass that checks
    the depth; otherwise the pure-Python loader checks depth as it goes. ``max_nodes=None`` leaves
    the node count to the caller (:func:`count_nodes` with a budget shared over several texts)."""
    if max_bytes is not None and len(text) > max_bytes:
        raise YamlError(f"{what} is larger than {max_bytes} bytes.")
    try:
        if fast and hasattr(yaml, "CSafeLoader"):
            _check_events(text, what, max_depth, allow_aliases)
            documents = list(yaml.load_all(text, Loader=yaml.CSafeLoader))
        else:
            documents = list(yaml.load_all(text, Loader=_loader(what, max_depth, allow_aliases)))
    except yaml.YAMLError as exc:
        raise _problem(exc, what) from exc
    except RecursionError as exc:  # pragma: no cover - the depth checks come first; a last line of defence
        raise YamlError(f"{what} is nested too deeply.") from exc
    if max_nodes is None:
        return documents
    left = max_nodes
    for doc in documents:
        left -= count_nodes(doc, left, what)
    return documents


def load(text: str | bytes, *, what: str = "The document", max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES,
         max_bytes: int | None = None, allow_aliases: bool = True, fast: bool = False) -> Any:
    """One YAML document (``None`` when empty); more than one is a :class:`YamlError`."""
    documents = load_all(text, what=what, max_depth=max_depth, max_nodes=max_nodes, max_bytes=max_bytes,
                         allow_aliases=allow_aliases, fast=fast)
    if len(documents) > 1:
        raise YamlError(f"{what} must be one YAML document; it has {len(documents)}.")
    return documents[0] if documents else None


def load_json(text: str | bytes, *, what: str = "The JSON", max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` for text from outside (chart schemas, registry answers, cursors): deeper than
    ``max_depth`` is a :class:`YamlError` (a ``ValueError``, like any malformed JSON) instead of a
    ``RecursionError`` now or in whatever walks the result later."""
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise YamlError(f"{what} is nested more than {max_depth} levels deep.") from exc
    except ValueError as exc:
        raise YamlError(f"{what} is not valid JSON: {str(exc)[:300]}.") from exc
    if depth_of(value, max_depth) > max_depth:
        raise YamlError(f"{what} is nested more than {max_depth} levels deep.")
    return value


def depth_of(value: Any, limit: int) -> int:
    """How deep ``value`` nests (stops counting past ``limit``); for trees that did not come from YAML."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest

"""JSON request bodies with a nesting limit, for every endpoint at once (``DEFAULT_PARSER_CLASSES``).

Why: Python's ``json`` recurses once per nesting level, so a body like ``[[[[…]]]]`` a thousand
levels deep raised ``RecursionError`` (a 500) inside DRF's parser, on every JSON endpoint
including anonymous login; and a body just under that limit parsed, then blew the stack later
(serializers, ``json.dumps``, deep copies). This parser refuses more than :data:`MAX_DEPTH` levels
with a 400 whose ``code`` is ``json_too_deep``, before any view sees the data. Code that parses
JSON text itself (cursors, stored payloads from users) uses :func:`loads`.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils.json import strict_constant

from portal.yamlsafe import MAX_DEPTH, load_json


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses nesting deeper than ``max_depth`` with a ``ValueError``
    (:class:`portal.yamlsafe.YamlError`) instead of overflowing the stack, now or later."""
    return load_json(text, max_depth=max_depth)


def _problem(value: Any, max_depth: int) -> tuple[str, str] | None:
    """(code, message) when ``value`` nests deeper than ``max_depth`` or holds a NUL character
    (PostgreSQL cannot store one in text or jsonb); ``None`` when it is fine. No recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "nul_character", "The JSON body contains a NUL character (\\u0000); remove it."
        elif isinstance(item, dict | list):
            if level > max_depth:
                return "json_too_deep", f"The JSON body is nested more than {max_depth} levels deep; flatten it."
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return None


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, refusing bodies nested deeper than :data:`MAX_DEPTH` or holding a NUL
    character with a 400 (codes ``json_too_deep`` and ``nul_character``)."""

    max_depth = MAX_DEPTH

    def parse(self, stream: IO[Any], media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
            parse_constant = strict_constant if self.strict else None
            value = json.loads(text, parse_constant=parse_constant)
        except RecursionError:
            raise ParseError(f"The JSON body is nested more than {self.max_depth} levels deep; flatten it.",
                             code="json_too_deep") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}", code="parse_error") from exc
        problem = _problem(value, self.max_depth)
        if problem is not None:
            raise ParseError(problem[1], code=problem[0])
        return value

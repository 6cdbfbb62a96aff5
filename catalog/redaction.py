"""Secret values out of everything a release shows: the one place that decides how.

A chart may render Secrets, and a live Secret may share a rendered one's name, so a plan diff,
drift, a revision's manifest, a diff between revisions and a message from the cluster can all
carry Secret values. Every one of those paths passes its objects (or text) through the pure
functions here before anything is returned, published or audited, unless the caller holds
``secrets.reveal`` and asked to see them (the same rule as :mod:`catalog.config`).

What stays visible is which keys a Secret has and which of them change: every value of ``data``
and ``stringData`` becomes :data:`REDACTED`, and in a pair (live and new, or two revisions) a
value that differs becomes :data:`REDACTED_CHANGED` on the new side, so a diff shows exactly
the keys whose values change and nothing of the values. ``kubectl apply`` keeps a full copy of
the object in the ``last-applied-configuration`` annotation; that is redacted too.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Iterable
from typing import Any

REDACTED = "<redacted>"
REDACTED_CHANGED = "<redacted: changed>"
SECRET_FIELDS = ("data", "stringData")
COPY_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
MIN_SCRUB_LENGTH = 4  # shorter values would blank out ordinary words of a message

Obj = dict[str, Any]


def is_secret(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == "Secret" and str(obj.get("apiVersion", "v1")) == "v1"


def _decode(value: Any) -> str:
    try:
        return base64.b64decode(str(value), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return str(value)


def effective(obj: Obj) -> dict[str, str]:
    """The Secret's plain values by key, as the API server stores them (``stringData`` wins)."""
    data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
    string_data = obj.get("stringData") if isinstance(obj.get("stringData"), dict) else {}
    out = {str(k): _decode(v) for k, v in (data or {}).items()}
    out.update({str(k): str(v) for k, v in (string_data or {}).items()})
    return out


def _redacted(obj: Obj, changed: set[str]) -> Obj:
    out = copy.deepcopy(obj)
    for field in SECRET_FIELDS:
        values = out.get(field)
        if isinstance(values, dict):
            out[field] = {k: REDACTED_CHANGED if str(k) in changed else REDACTED for k in values}
        elif values is not None:
            out[field] = REDACTED
    annotations = (out.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        for name in COPY_ANNOTATIONS:
            if name in annotations:
                annotations[name] = REDACTED
    return out


def redact(obj: Obj) -> Obj:
    """A copy of ``obj`` with a Secret's values replaced by :data:`REDACTED` (others unchanged)."""
    return _redacted(obj, set()) if is_secret(obj) else obj


def redact_pair(before: Obj | None, after: Obj | None) -> tuple[Obj | None, Obj | None]:
    """Copies of two versions of one object to be diffed: values equal on both sides become
    :data:`REDACTED`, values that differ (or exist on one side only) :data:`REDACTED_CHANGED` on
    the ``after`` side, so the diff names the changed keys and shows no value."""
    if not is_secret(before) and not is_secret(after):
        return before, after
    old = effective(before) if before is not None and is_secret(before) else {}
    new = effective(after) if after is not None and is_secret(after) else {}
    changed = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
    return (_redacted(before, set()) if before is not None else None,
            _redacted(after, changed) if after is not None else None)


def _key(obj: Obj) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def redact_many(before: list[Obj], after: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """:func:`redact_pair` over two object lists (two revisions), matching objects by kind/name."""
    old = {_key(o): o for o in before if is_secret(o)}
    new = {_key(o): o for o in after if is_secret(o)}
    out_before = [redact_pair(o, new.get(_key(o)))[0] if is_secret(o) else o for o in before]
    out_after = [redact_pair(old.get(_key(o)), o)[1] if is_secret(o) else o for o in after]
    return [o for o in out_before if o is not None], [o for o in out_after if o is not None]


def secret_values(objects: Iterable[Obj]) -> set[str]:
    """Every Secret value of ``objects``, as stored (base64) and plain."""
    found: set[str] = set()
    for obj in objects:
        if not is_secret(obj):
            continue
        for field in SECRET_FIELDS:
            values = obj.get(field)
            if isinstance(values, dict):
                found |= {str(v) for v in values.values() if v is not None}
        found |= set(effective(obj).values())
    return {v for v in found if len(v) >= MIN_SCRUB_LENGTH}


def scrub(text: str, objects: Iterable[Obj]) -> str:
    """``text`` (a message from the cluster, say) with every Secret value of ``objects`` replaced
    by :data:`REDACTED`, longest first."""
    for value in sorted(secret_values(objects), key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def redact_values(values: Any, objects: Iterable[Obj]) -> Any:
    """Chart values with every string that is a Secret value of ``objects`` (the revision the
    values rendered) replaced by :data:`REDACTED`: a password given as a value ends up in a
    Secret, and the values are shown to everyone who sees the release."""
    secrets = secret_values(objects)
    return _redact_leaves(values, secrets) if secrets else values


def _redact_leaves(value: Any, secrets: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _redact_leaves(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_leaves(v, secrets) for v in value]
    return REDACTED if isinstance(value, str) and value in secrets else value


def restore_values(values: Any, stored: Any, path: str = "values") -> tuple[Any, list[str]]:
    """Values sent back as they were shown (a form filled from a redacted release): each
    :data:`REDACTED` leaf takes the stored value at the same path. Returns the values and the
    paths where :data:`REDACTED` has no stored value to stand for (the caller refuses those)."""
    if values == REDACTED:
        if isinstance(stored, str):
            return stored, []
        return values, [path]
    if isinstance(values, dict):
        out: dict[str, Any] = {}
        missing: list[str] = []
        for key, value in values.items():
            out[key], lost = restore_values(value, stored.get(key) if isinstance(stored, dict) else None,
                                            f"{path}.{key}")
            missing += lost
        return out, missing
    if isinstance(values, list):
        items: list[Any] = []
        missing = []
        for index, value in enumerate(values):
            old = stored[index] if isinstance(stored, list) and index < len(stored) else None
            item, lost = restore_values(value, old, f"{path}.{index}")
            items.append(item)
            missing += lost
        return items, missing
    return values, []

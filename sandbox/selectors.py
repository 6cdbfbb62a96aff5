"""Label and field selectors with the apiserver's syntax and error messages.

Parsed once per request (or per watch) and then matched against the small
label/field dictionaries the store keeps beside each object, so filtering never
has to decode stored objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.errors import BadRequest


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.op
        if op == "exists":
            return self.key in labels
        if op == "!":
            return self.key not in labels
        present = self.key in labels
        if op == "=":
            return present and labels[self.key] == self.values[0]
        if op == "!=":
            return not present or labels[self.key] != self.values[0]
        if op == "in":
            return present and labels[self.key] in self.values
        if op == "notin":
            return not present or labels[self.key] not in self.values
        if op in ("gt", "lt"):
            if not present:
                return False
            try:
                have, want = int(labels[self.key]), int(self.values[0])
            except ValueError:
                return False
            return have > want if op == "gt" else have < want
        return False


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        lbl = labels or {}
        return all(r.matches(lbl) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                     r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _split_top(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    cur: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


_SET_RE = re.compile(r"^\s*(\S+?)\s+(in|notin)\s*\((.*)\)\s*$")
_EQ_RE = re.compile(r"^\s*([^!=<>\s]+)\s*(==|!=|=|>|<)\s*(\S*)\s*$")


def _check_key(key: str, text: str) -> None:
    if not _KEY_RE.match(key) or len(key.split("/")[-1]) > 63:
        raise BadRequest(
            f'unable to parse requirement: invalid label key "{key}": name part must consist of alphanumeric '
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        )


def _check_value(value: str) -> None:
    if len(value) > 63 or not _VALUE_RE.match(value):
        raise BadRequest(
            f'unable to parse requirement: values[0][key]: Invalid value: "{value}": a valid label must be an '
            "empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
            "an alphanumeric character"
        )


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse ``app=web,tier in (a,b),!legacy``; raises :class:`BadRequest` on bad syntax."""
    if not text or not text.strip():
        return LabelSelector()
    reqs: list[Requirement] = []
    for raw in _split_top(text):
        part = raw.strip()
        if not part:
            raise BadRequest(f"unable to parse requirement: found '', expected: identifier in {text!r}")
        m = _SET_RE.match(part)
        if m:
            key, op, inner = m.group(1), m.group(2), m.group(3)
            values = tuple(v.strip() for v in inner.split(",") if v.strip())
            _check_key(key, text)
            for v in values:
                _check_value(v)
            reqs.append(Requirement(key, op, values))
            continue
        m = _EQ_RE.match(part)
        if m:
            key, op, value = m.group(1), m.group(2), m.group(3)
            _check_key(key, text)
            _check_value(value)
            mapped = {"==": "=", "=": "=", "!=": "!=", ">": "gt", "<": "lt"}[op]
            reqs.append(Requirement(key, mapped, (value,)))
            continue
        if part.startswith("!"):
            key = part[1:].strip()
            _check_key(key, text)
            reqs.append(Requirement(key, "!"))
            continue
        if " " not in part:
            _check_key(part, text)
            reqs.append(Requirement(part, "exists"))
            continue
        raise BadRequest(f"unable to parse requirement: unexpected token in {part!r}")
    return LabelSelector(tuple(reqs))


def selector_from_match(sel: Mapping[str, Any] | None) -> LabelSelector | None:
    """Convert a ``metav1.LabelSelector`` (matchLabels/matchExpressions) into a matcher.

    Returns None for a missing selector (matches nothing in controllers' sense).
    """
    if sel is None:
        return None
    reqs: list[Requirement] = []
    for k, v in (sel.get("matchLabels") or {}).items():
        reqs.append(Requirement(k, "=", (str(v),)))
    for expr in sel.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}.get(expr.get("operator", ""))
        if op is None:
            continue
        reqs.append(Requirement(expr.get("key", ""), op, tuple(expr.get("values") or ())))
    return LabelSelector(tuple(reqs))


# ---------------------------------------------------------------- field selectors


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    field: str
    value: str
    negate: bool


@dataclass(frozen=True, slots=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        for r in self.requirements:
            have = fields.get(r.field, "")
            if (have == r.value) == r.negate:
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.requirements

    def exact_name(self) -> str | None:
        """The value of a ``metadata.name=x`` requirement (used to short-cut lookups)."""
        for r in self.requirements:
            if r.field == "metadata.name" and not r.negate:
                return r.value
        return None


def _unescape(v: str) -> str:
    return v.replace("\\,", ",").replace("\\=", "=").replace("\\\\", "\\")


def parse_field_selector(text: str | None, supported: frozenset[str] | None = None) -> FieldSelector:
    """Parse ``metadata.name=x,status.phase!=Running``.

    ``supported`` restricts the field names (the apiserver answers 400 ``field
    label not supported`` for others).
    """
    if not text or not text.strip():
        return FieldSelector()
    reqs: list[FieldRequirement] = []
    for part in re.split(r"(?<!\\),", text):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([^=!]+?)\s*(==|!=|=)\s*(.*)$", part)
        if not m:
            raise BadRequest(f"invalid selector: '{text}'; can't understand '{part}'")
        name, op, value = m.group(1).strip(), m.group(2), _unescape(m.group(3).strip())
        if supported is not None and name not in supported:
            raise BadRequest(f'field label not supported: {name}')
        reqs.append(FieldRequirement(name, value, op == "!="))
    return FieldSelector(tuple(reqs))


# ------------------------------------------------------- per-type selectable fields


def _g(obj: Mapping[str, Any], *path: str) -> Any:
    cur: Any = obj
    for p in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(p)
    return cur


def _s(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


FieldExtractor = Callable[[Mapping[str, Any]], dict[str, str]]


def _pod_fields(o: Mapping[str, Any]) -> dict[str, str]:
    return {
        "spec.nodeName": _s(_g(o, "spec", "nodeName")),
        "spec.restartPolicy": _s(_g(o, "spec", "restartPolicy")),
        "spec.schedulerName": _s(_g(o, "spec", "schedulerName")),
        "spec.serviceAccountName": _s(_g(o, "spec", "serviceAccountName")),
        "spec.hostNetwork": _s(bool(_g(o, "spec", "hostNetwork"))),
        "status.phase": _s(_g(o, "status", "phase")),
        "status.podIP": _s(_g(o, "status", "podIP")),
        "status.nominatedNodeName": _s(_g(o, "status", "nominatedNodeName")),
    }


def _event_fields(o: Mapping[str, Any]) -> dict[str, str]:
    io = o.get("involvedObject") or {}
    return {
        "involvedObject.kind": _s(io.get("kind")),
        "involvedObject.namespace": _s(io.get("namespace")),
        "involvedObject.name": _s(io.get("name")),
        "involvedObject.uid": _s(io.get("uid")),
        "involvedObject.apiVersion": _s(io.get("apiVersion")),
        "involvedObject.resourceVersion": _s(io.get("resourceVersion")),
        "involvedObject.fieldPath": _s(io.get("fieldPath")),
        "reason": _s(o.get("reason")),
        "reportingComponent": _s(o.get("reportingComponent")),
        "source": _s(_g(o, "source", "component")),
        "type": _s(o.get("type")),
    }


def _node_fields(o: Mapping[str, Any]) -> dict[str, str]:
    return {"spec.unschedulable": _s(bool(_g(o, "spec", "unschedulable")))}


def _ns_fields(o: Mapping[str, Any]) -> dict[str, str]:
    return {"status.phase": _s(_g(o, "status", "phase"))}


def _secret_fields(o: Mapping[str, Any]) -> dict[str, str]:
    return {"type": _s(o.get("type"))}


def _rs_fields(o: Mapping[str, Any]) -> dict[str, str]:
    return {"status.replicas": _s(_g(o, "status", "replicas") or 0)}


def _job_fields(o: Mapping[str, Any]) -> dict[str, str]:
    return {"status.successful": _s(_g(o, "status", "succeeded") or 0)}


FIELD_EXTRACTORS: dict[str, FieldExtractor] = {
    "pods": _pod_fields,
    "events": _event_fields,
    "nodes": _node_fields,
    "namespaces": _ns_fields,
    "secrets": _secret_fields,
    "replicasets.apps": _rs_fields,
    "jobs.batch": _job_fields,
}

_COMMON = frozenset({"metadata.name", "metadata.namespace"})
SUPPORTED_FIELDS: dict[str, frozenset[str]] = {
    "pods": _COMMON | frozenset(_pod_fields({})),
    "events": _COMMON | frozenset(_event_fields({})),
    "nodes": _COMMON | frozenset(_node_fields({})),
    "namespaces": _COMMON | frozenset(_ns_fields({})),
    "secrets": _COMMON | frozenset(_secret_fields({})),
    "replicasets.apps": _COMMON | frozenset(_rs_fields({})),
    "jobs.batch": _COMMON | frozenset(_job_fields({})),
}


def supported_fields(storage_key: str) -> frozenset[str]:
    return SUPPORTED_FIELDS.get(storage_key, _COMMON)

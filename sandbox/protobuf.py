"""Decode the few protobuf request bodies kubectl's typed clients send.

kubectl sends ``application/vnd.kubernetes.protobuf`` for some writes (``create
namespace``, ``auth can-i``, evictions during ``drain``, ``create
configmap|secret``) and does not fall back to JSON on 415.  A real apiserver
accepts protobuf for every built-in type; the sandbox decodes the wire format
for the messages listed in ``SCHEMAS`` and answers 415 for the rest.
Responses are always JSON (kubectl accepts them).
"""

from __future__ import annotations

import base64
from typing import Any

from sandbox.errors import BadRequest, UnsupportedMediaType

MAGIC = b"k8s\x00"

# field kinds: "s" string, "b" bytes(base64 in JSON), "i" int, "B" bool, "m:<Msg>" message,
# "M" map<string,string>, "Mb" map<string,bytes>, "t" Time, a trailing "*" = repeated
Schema = dict[int, tuple[str, str]]
SCHEMAS: dict[str, Schema] = {
    "Unknown": {1: ("typeMeta", "m:TypeMeta"), 2: ("raw", "b"), 3: ("contentEncoding", "s"), 4: ("contentType", "s")},
    "TypeMeta": {1: ("apiVersion", "s"), 2: ("kind", "s")},
    "ObjectMeta": {1: ("name", "s"), 2: ("generateName", "s"), 3: ("namespace", "s"), 5: ("uid", "s"),
                   6: ("resourceVersion", "s"), 7: ("generation", "i"), 11: ("labels", "M"),
                   12: ("annotations", "M"), 13: ("ownerReferences", "m:OwnerReference*"),
                   14: ("finalizers", "s*")},
    "OwnerReference": {1: ("kind", "s"), 3: ("name", "s"), 4: ("uid", "s"), 5: ("apiVersion", "s"),
                       6: ("controller", "B"), 7: ("blockOwnerDeletion", "B")},
    "Namespace": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "s*")},
    "ConfigMap": {1: ("metadata", "m:ObjectMeta"), 2: ("data", "M"), 3: ("binaryData", "Mb"), 4: ("immutable", "B")},
    "Secret": {1: ("metadata", "m:ObjectMeta"), 2: ("data", "Mb"), 3: ("type", "s"), 4: ("stringData", "M"),
               5: ("immutable", "B")},
    "ServiceAccount": {1: ("metadata", "m:ObjectMeta"), 4: ("automountServiceAccountToken", "B")},
    "SelfSubjectAccessReview": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:SelfSubjectAccessReviewSpec")},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "m:ResourceAttributes"),
                                    2: ("nonResourceAttributes", "m:NonResourceAttributes")},
    "ResourceAttributes": {1: ("namespace", "s"), 2: ("verb", "s"), 3: ("group", "s"), 4: ("version", "s"),
                           5: ("resource", "s"), 6: ("subresource", "s"), 7: ("name", "s")},
    "NonResourceAttributes": {1: ("path", "s"), 2: ("verb", "s")},
    "SelfSubjectRulesReview": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:SelfSubjectRulesReviewSpec")},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "s")},
    "Eviction": {1: ("metadata", "m:ObjectMeta"), 2: ("deleteOptions", "m:DeleteOptions")},
    "DeleteOptions": {1: ("gracePeriodSeconds", "i"), 2: ("preconditions", "m:Preconditions"),
                      3: ("orphanDependents", "B"), 4: ("propagationPolicy", "s"), 5: ("dryRun", "s*")},
    "Preconditions": {1: ("uid", "s"), 2: ("resourceVersion", "s")},
}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise BadRequest("protobuf: truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
            out.append((num, wire, val))
        elif wire == 2:
            length, pos = _varint(buf, pos)
            out.append((num, wire, buf[pos:pos + length]))
            pos += length
        elif wire == 1:
            out.append((num, wire, buf[pos:pos + 8]))
            pos += 8
        elif wire == 5:
            out.append((num, wire, buf[pos:pos + 4]))
            pos += 4
        else:
            raise BadRequest(f"protobuf: unsupported wire type {wire}")
    return out


def _map_entry(buf: bytes, binary: bool) -> tuple[str, str]:
    key, val = "", ""
    for num, _, v in _fields(buf):
        if num == 1:
            key = v.decode()
        elif num == 2:
            val = base64.b64encode(v).decode() if binary else v.decode()
    return key, val


def decode_message(buf: bytes, msg: str) -> dict[str, Any]:
    schema = SCHEMAS[msg]
    out: dict[str, Any] = {}
    for num, _, v in _fields(buf):
        if num not in schema:
            continue
        name, kind = schema[num]
        repeated = kind.endswith("*")
        base = kind.rstrip("*")
        if base == "s":
            val: Any = v.decode()
        elif base == "b":
            val = v
        elif base == "i":
            val = v - (1 << 64) if v >= 1 << 63 else v
        elif base == "B":
            val = bool(v)
        elif base in ("M", "Mb"):
            k, mv = _map_entry(v, base == "Mb")
            out.setdefault(name, {})[k] = mv
            continue
        elif base.startswith("m:"):
            val = decode_message(v, base[2:])
        else:
            continue
        if repeated:
            out.setdefault(name, []).append(val)
        else:
            out[name] = val
    return out


def decode_k8s_protobuf(body: bytes) -> dict[str, Any]:
    """``k8s\\0`` + runtime.Unknown envelope -> a JSON-shaped object; 415 for unknown kinds."""
    if not body.startswith(MAGIC):
        raise BadRequest("protobuf: missing k8s magic prefix")
    env = decode_message(body[len(MAGIC):], "Unknown")
    tm = env.get("typeMeta") or {}
    kind = tm.get("kind", "")
    if kind not in SCHEMAS:
        raise UnsupportedMediaType(
            f"the body of the request was in an unknown format - accepted media types include: application/json, "
            f"application/yaml (the sandbox decodes protobuf only for {', '.join(sorted(_TOP_LEVEL))}; got {kind})")
    obj = decode_message(env.get("raw", b""), kind)
    obj["apiVersion"] = tm.get("apiVersion", "")
    obj["kind"] = kind
    return obj


_TOP_LEVEL = ("Namespace", "ConfigMap", "Secret", "ServiceAccount", "SelfSubjectAccessReview",
              "SelfSubjectRulesReview", "Eviction", "DeleteOptions")

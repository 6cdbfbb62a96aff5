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
# "M" map<string,string>, "Mb" map<string,bytes>, "Mq" map<string,Quantity>, a trailing "*" = repeated.
# Field numbers follow k8s.io/api generated.proto; fields kubectl never sends are left out.
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
    # RBAC and ServiceAccount tokens (kubectl create role|clusterrole|rolebinding|clusterrolebinding|token)
    "PolicyRule": {1: ("verbs", "s*"), 2: ("apiGroups", "s*"), 3: ("resources", "s*"), 4: ("resourceNames", "s*"),
                   5: ("nonResourceURLs", "s*")},
    "Subject": {1: ("kind", "s"), 2: ("apiGroup", "s"), 3: ("name", "s"), 4: ("namespace", "s")},
    "RoleRef": {1: ("apiGroup", "s"), 2: ("kind", "s"), 3: ("name", "s")},
    "Role": {1: ("metadata", "m:ObjectMeta"), 2: ("rules", "m:PolicyRule*")},
    "ClusterRole": {1: ("metadata", "m:ObjectMeta"), 2: ("rules", "m:PolicyRule*")},
    "RoleBinding": {1: ("metadata", "m:ObjectMeta"), 2: ("subjects", "m:Subject*"), 3: ("roleRef", "m:RoleRef")},
    "ClusterRoleBinding": {1: ("metadata", "m:ObjectMeta"), 2: ("subjects", "m:Subject*"),
                           3: ("roleRef", "m:RoleRef")},
    "TokenRequest": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:TokenRequestSpec")},
    "TokenRequestSpec": {1: ("audiences", "s*"), 3: ("boundObjectRef", "m:BoundObjectReference"),
                         4: ("expirationSeconds", "i")},
    "BoundObjectReference": {1: ("kind", "s"), 2: ("apiVersion", "s"), 3: ("name", "s"), 4: ("uid", "s")},
    # workloads (kubectl create deployment|job|cronjob|service, kubectl run)
    "LabelSelector": {1: ("matchLabels", "M"), 2: ("matchExpressions", "m:LabelSelectorRequirement*")},
    "LabelSelectorRequirement": {1: ("key", "s"), 2: ("operator", "s"), 3: ("values", "s*")},
    "PodTemplateSpec": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:PodSpec")},
    "PodSpec": {2: ("containers", "m:Container*"), 3: ("restartPolicy", "s"),
                4: ("terminationGracePeriodSeconds", "i"), 5: ("activeDeadlineSeconds", "i"), 6: ("dnsPolicy", "s"),
                7: ("nodeSelector", "M"), 8: ("serviceAccountName", "s"), 10: ("nodeName", "s"),
                11: ("hostNetwork", "B"), 19: ("schedulerName", "s"), 20: ("initContainers", "m:Container*"),
                24: ("priorityClassName", "s")},
    "Container": {1: ("name", "s"), 2: ("image", "s"), 3: ("command", "s*"), 4: ("args", "s*"),
                  5: ("workingDir", "s"), 6: ("ports", "m:ContainerPort*"), 7: ("env", "m:EnvVar*"),
                  8: ("resources", "m:ResourceRequirements"), 13: ("terminationMessagePath", "s"),
                  14: ("imagePullPolicy", "s"), 16: ("stdin", "B"), 17: ("stdinOnce", "B"), 18: ("tty", "B"),
                  20: ("terminationMessagePolicy", "s")},
    "ContainerPort": {1: ("name", "s"), 2: ("hostPort", "i"), 3: ("containerPort", "i"), 4: ("protocol", "s"),
                      5: ("hostIP", "s")},
    "EnvVar": {1: ("name", "s"), 2: ("value", "s")},
    "ResourceRequirements": {1: ("limits", "Mq"), 2: ("requests", "Mq")},
    "Pod": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:PodSpec")},
    "Deployment": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:DeploymentSpec")},
    "DeploymentSpec": {1: ("replicas", "i"), 2: ("selector", "m:LabelSelector"), 3: ("template", "m:PodTemplateSpec"),
                       4: ("strategy", "m:DeploymentStrategy"), 5: ("minReadySeconds", "i"),
                       6: ("revisionHistoryLimit", "i"), 7: ("paused", "B"), 9: ("progressDeadlineSeconds", "i")},
    "DeploymentStrategy": {1: ("type", "s")},
    "Job": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:JobSpec")},
    "JobSpec": {1: ("parallelism", "i"), 2: ("completions", "i"), 3: ("activeDeadlineSeconds", "i"),
                4: ("selector", "m:LabelSelector"), 5: ("manualSelector", "B"), 6: ("template", "m:PodTemplateSpec"),
                7: ("backoffLimit", "i"), 8: ("ttlSecondsAfterFinished", "i"), 9: ("completionMode", "s"),
                10: ("suspend", "B")},
    "CronJob": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:CronJobSpec")},
    "CronJobSpec": {1: ("schedule", "s"), 2: ("startingDeadlineSeconds", "i"), 3: ("concurrencyPolicy", "s"),
                    4: ("suspend", "B"), 5: ("jobTemplate", "m:JobTemplateSpec"),
                    6: ("successfulJobsHistoryLimit", "i"), 7: ("failedJobsHistoryLimit", "i"), 8: ("timeZone", "s")},
    "JobTemplateSpec": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:JobSpec")},
    "Service": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:ServiceSpec")},
    "ServiceSpec": {1: ("ports", "m:ServicePort*"), 2: ("selector", "M"), 3: ("clusterIP", "s"), 4: ("type", "s"),
                    5: ("externalIPs", "s*"), 7: ("sessionAffinity", "s"), 10: ("externalName", "s"),
                    11: ("externalTrafficPolicy", "s")},
    "ServicePort": {1: ("name", "s"), 2: ("protocol", "s"), 3: ("port", "i"), 4: ("targetPort", "m:IntOrString"),
                    5: ("nodePort", "i")},
    "IntOrString": {1: ("type", "i"), 2: ("intVal", "i"), 3: ("strVal", "s")},
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


def _map_entry(buf: bytes, kind: str) -> tuple[str, str]:
    key, val = "", ""
    for num, _, v in _fields(buf):
        if num == 1:
            key = v.decode()
        elif num == 2:
            if kind == "Mb":
                val = base64.b64encode(v).decode()
            elif kind == "Mq":  # map<string, resource.Quantity>: Quantity { string string = 1 }
                val = next((q.decode() for n, _, q in _fields(v) if n == 1), "0")
            else:
                val = v.decode()
    return key, val


def _int_or_string(msg: dict[str, Any]) -> int | str:
    return str(msg.get("strVal", "")) if msg.get("type") == 1 else int(msg.get("intVal", 0))


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
        elif base in ("M", "Mb", "Mq"):
            k, mv = _map_entry(v, base)
            out.setdefault(name, {})[k] = mv
            continue
        elif base == "m:IntOrString":
            val = _int_or_string(decode_message(v, "IntOrString"))
        elif base.startswith("m:"):
            val = decode_message(v, base[2:])
        else:
            continue
        if not repeated and _is_go_zero(base, name, val):
            continue
        if repeated:
            out.setdefault(name, []).append(val)
        else:
            out[name] = val
    return out


# Go always encodes non-pointer scalars, so "" / false / 0 mean "not set" - except for these
# pointer fields where an explicit 0 matters.
_KEEP_ZERO = frozenset({"replicas", "parallelism", "completions", "backoffLimit", "revisionHistoryLimit",
                        "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "terminationGracePeriodSeconds",
                        "gracePeriodSeconds", "ttlSecondsAfterFinished", "activeDeadlineSeconds"})


def _is_go_zero(base: str, name: str, val: Any) -> bool:
    if base == "s":
        return val == ""
    if base == "B":
        return val is False
    if base == "i":
        return val == 0 and name not in _KEEP_ZERO
    return False


def decode_k8s_protobuf(body: bytes) -> dict[str, Any]:
    """``k8s\\0`` + runtime.Unknown envelope -> a JSON-shaped object; 415 for unknown kinds."""
    if not body.startswith(MAGIC):
        raise BadRequest("protobuf: missing k8s magic prefix")
    env = decode_message(body[len(MAGIC):], "Unknown")
    tm = env.get("typeMeta") or {}
    kind = tm.get("kind", "")
    if kind not in _TOP_LEVEL:
        raise UnsupportedMediaType(
            f"the body of the request was in an unknown format - accepted media types include: application/json, "
            f"application/yaml (the sandbox decodes protobuf only for {', '.join(sorted(_TOP_LEVEL))}; got {kind})")
    obj = decode_message(env.get("raw", b""), kind)
    obj["apiVersion"] = tm.get("apiVersion", "")
    obj["kind"] = kind
    return obj


_TOP_LEVEL = ("Namespace", "ConfigMap", "Secret", "ServiceAccount", "SelfSubjectAccessReview",
              "SelfSubjectRulesReview", "Eviction", "DeleteOptions", "Pod", "Deployment", "Job", "CronJob",
              "Service", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "TokenRequest")

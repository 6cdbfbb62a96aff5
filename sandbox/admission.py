"""Defaulting, validation and admission (LimitRanger, ResourceQuota) done inside the store.

A real apiserver defaults and validates every object and runs admission
plugins on create, whoever the client is; controllers are held by quotas too.
The store calls these functions so HTTP clients and the controllers get the
same treatment, with the apiserver's status codes and messages.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Any

from sandbox import crds
from sandbox.errors import BadRequest, FieldError, forbidden, invalid
from sandbox.quantity import Quantity, parse_quantity
from sandbox.resources import (
    LIMITRANGES,
    PERSISTENTVOLUMECLAIMS,
    PODS,
    RESOURCEQUOTAS,
    SERVICES,
    ResourceType,
)

if TYPE_CHECKING:
    from sandbox.store import Store

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

MSG_SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
MSG_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
MSG_1035 = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
            "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
            "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
MSG_LABEL_VALUE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
                   "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',"
                   "  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
MSG_QUALIFIED = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                 "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                 "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")

_LABEL_NAMED = frozenset({"Namespace"})
_1035_NAMED = frozenset({"Service"})
_PATH_SEGMENT_NAMED = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})


# ------------------------------------------------------------------ validation helpers


def _check_name(kind: str, name: str, errs: list[FieldError], field: str = "metadata.name") -> None:
    if kind in _PATH_SEGMENT_NAMED:
        if name in (".", ".."):
            errs.append(FieldError("Invalid", field, name, f"may not be '{name}'"))
        elif "/" in name or "%" in name:
            errs.append(FieldError("Invalid", field, name, "may not contain '/'" if "/" in name
                                   else "may not contain '%'"))
        return
    if kind in _LABEL_NAMED or kind in _1035_NAMED:
        rx, msg = (DNS1123_LABEL, MSG_LABEL) if kind in _LABEL_NAMED else (DNS1035_LABEL, MSG_1035)
        if len(name) > 63:
            errs.append(FieldError("Invalid", field, name, "must be no more than 63 characters"))
        if not rx.match(name):
            errs.append(FieldError("Invalid", field, name, msg))
        return
    if len(name) > 253:
        errs.append(FieldError("Invalid", field, name, "must be no more than 253 characters"))
    if not DNS1123_SUBDOMAIN.match(name):
        errs.append(FieldError("Invalid", field, name, MSG_SUBDOMAIN))


def _check_qualified_key(key: str, field: str, errs: list[FieldError]) -> None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
        errs.append(FieldError("Invalid", field, key, "prefix part " + MSG_SUBDOMAIN))
    if not name or len(name) > 63 or not QUALIFIED_NAME.match(name):
        errs.append(FieldError("Invalid", field, key, MSG_QUALIFIED))


def _check_meta(obj: dict[str, Any], errs: list[FieldError]) -> None:
    md = obj.get("metadata") or {}
    refs = md.get("ownerReferences")
    if refs is not None:
        if not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs):
            raise BadRequest("json: cannot unmarshal into Go struct field ObjectMeta.metadata.ownerReferences of "
                             "type []v1.OwnerReference")
        for i, r in enumerate(refs):
            for key in ("apiVersion", "kind", "name", "uid"):
                if not r.get(key):
                    errs.append(FieldError("Required", f"metadata.ownerReferences[{i}].{key}"))
    fins = md.get("finalizers")
    if fins is not None and (not isinstance(fins, list) or not all(isinstance(f, str) for f in fins)):
        raise BadRequest("json: cannot unmarshal into Go struct field ObjectMeta.metadata.finalizers of type "
                         "[]string")
    for key in ("labels", "annotations"):
        if md.get(key) is not None and not isinstance(md[key], dict):
            raise BadRequest(f"json: cannot unmarshal into Go struct field ObjectMeta.metadata.{key} of type "
                             "map[string]string")
    labels = md.get("labels")
    if labels is not None:
        if not isinstance(labels, dict):
            errs.append(FieldError("Invalid", "metadata.labels", labels, "must be a map"))
        else:
            for k, v in labels.items():
                _check_qualified_key(str(k), "metadata.labels", errs)
                if not isinstance(v, str) or len(v) > 63 or not LABEL_VALUE.match(v):
                    detail = "must be no more than 63 characters" if isinstance(v, str) and len(v) > 63 \
                        else MSG_LABEL_VALUE
                    errs.append(FieldError("Invalid", "metadata.labels", v, detail))
    ann = md.get("annotations")
    if isinstance(ann, dict):
        for k, v in ann.items():
            _check_qualified_key(str(k), "metadata.annotations", errs)
            if not isinstance(v, str):
                errs.append(FieldError("Invalid", "metadata.annotations", v, "must be a string"))
        if sum(len(k) + len(str(v)) for k, v in ann.items()) > 256 * 1024:
            errs.append(FieldError("TooLong", "metadata.annotations", "", "may not be more than 262144 bytes"))


def _qty_ok(v: Any) -> bool:
    try:
        parse_quantity(v)
        return True
    except (ValueError, TypeError):
        return False


# ------------------------------------------------------------------ defaulting


def _default_container(c: dict[str, Any], field: str, errs: list[FieldError]) -> None:
    if not c.get("name"):
        errs.append(FieldError("Required", f"{field}.name"))
    elif not DNS1123_LABEL.match(str(c["name"])):
        errs.append(FieldError("Invalid", f"{field}.name", c["name"], MSG_LABEL))
    if not c.get("image"):
        errs.append(FieldError("Required", f"{field}.image"))
    image = str(c.get("image") or "")
    last = image.rsplit("/", 1)[-1]
    tagged = ":" in last or "@" in image
    c.setdefault("imagePullPolicy", "IfNotPresent" if tagged and not last.endswith(":latest") else "Always")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    res = c.setdefault("resources", {})
    if not isinstance(res, dict):
        errs.append(FieldError("Invalid", f"{field}.resources", res, "must be an object"))
        return
    for part in ("limits", "requests"):
        vals = res.get(part) or {}
        for rname, v in vals.items():
            if not _qty_ok(v):
                errs.append(FieldError("Invalid", f"{field}.resources.{part}[{rname}]", v,
                                       "must match the regex ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"))
    if res.get("limits"):
        req = res.setdefault("requests", {})
        for rname, v in res["limits"].items():
            req.setdefault(rname, v)
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
            if "containerPort" not in p:
                errs.append(FieldError("Required", f"{field}.ports.containerPort"))


def _default_pod_spec(spec: Any, field: str, errs: list[FieldError]) -> None:
    if not isinstance(spec, dict):
        errs.append(FieldError("Required", field))
        return
    containers = spec.get("containers")
    if not containers:
        errs.append(FieldError("Required", f"{field}.containers"))
    for group in ("containers", "initContainers"):
        items = spec.get(group)
        if items is not None and (not isinstance(items, list) or not all(isinstance(c, dict) for c in items)):
            raise BadRequest(f"json: cannot unmarshal into Go struct field PodSpec.{field}.{group} of type "
                             "[]v1.Container")
    for i, c in enumerate(containers or []):
        _default_container(c, f"{field}.containers[{i}]", errs)
    for i, c in enumerate(spec.get("initContainers") or []):
        _default_container(c, f"{field}.initContainers[{i}]", errs)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    if spec.get("restartPolicy") not in ("Always", "OnFailure", "Never"):
        errs.append(FieldError("NotSupported", f"{field}.restartPolicy", spec.get("restartPolicy"),
                               'supported values: "Always", "Never", "OnFailure"'))


def _qos(spec: dict[str, Any]) -> str:
    containers = spec.get("containers") or []
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        lim, req = res.get("limits") or {}, res.get("requests") or {}
        if lim or req:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or (r in req and str(parse_quantity(req[r])) != str(parse_quantity(lim[r]))):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _check_selector(obj: dict[str, Any], errs: list[FieldError], required: bool = True) -> None:
    spec = obj.get("spec") or {}
    sel = spec.get("selector")
    tmpl = spec.get("template")
    tmpl_md = tmpl.get("metadata") if isinstance(tmpl, dict) else None
    tmpl_labels = (tmpl_md.get("labels") if isinstance(tmpl_md, dict) else None) or {}
    if sel is not None and not isinstance(sel, dict):
        raise BadRequest("json: cannot unmarshal into Go struct field spec.selector of type v1.LabelSelector")
    if not sel:
        if required:
            errs.append(FieldError("Required", "spec.selector"))
        return
    ml = sel.get("matchLabels") or {}
    if not ml and not sel.get("matchExpressions"):
        errs.append(FieldError("Invalid", "spec.selector", "null", "empty selector is invalid for deployment"))
        return
    if any(tmpl_labels.get(k) != v for k, v in ml.items()):
        errs.append(FieldError("Invalid", "spec.template.metadata.labels",
                               "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in
                                                              sorted(tmpl_labels.items())) + "}",
                               "`selector` does not match template `labels`"))


def _alloc_cluster_ip(store: Store) -> str:
    n = store.next_service_ip
    store.next_service_ip += 1
    return f"10.96.{(n >> 8) & 255}.{n & 255}"


def _alloc_node_port(store: Store) -> int:
    p = store.next_node_port
    store.next_node_port = 30000 + ((p - 30000 + 1) % 2768)
    return p


def _default_service(store: Store, obj: dict[str, Any], old: dict[str, Any] | None,
                     errs: list[FieldError]) -> None:
    spec = obj.setdefault("spec", {})
    stype = spec.setdefault("type", "ClusterIP")
    if stype not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        errs.append(FieldError("NotSupported", "spec.type", stype,
                               'supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'))
    spec.setdefault("sessionAffinity", "None")
    ports = spec.get("ports") or []
    if not ports and stype != "ExternalName" and spec.get("clusterIP") != "None":
        errs.append(FieldError("Required", "spec.ports"))
    old_spec = (old or {}).get("spec") or {}
    old_ports = {(p.get("port"), p.get("protocol", "TCP")): p for p in old_spec.get("ports") or []}
    needs_node_port = stype in ("NodePort", "LoadBalancer")
    if not needs_node_port and old is not None:
        # The Service strategy (dropTypeDependentFields): switching to a type without node ports
        # wipes the ones the user did not change (the apiserver allocated them).
        old_node_ports = {p.get("nodePort") for p in old_spec.get("ports") or [] if p.get("nodePort")}
        new_node_ports = {p.get("nodePort") for p in ports if isinstance(p, dict) and p.get("nodePort")}
        if new_node_ports <= old_node_ports:
            for p in ports:
                if isinstance(p, dict):
                    p.pop("nodePort", None)
        if old_spec.get("type") in ("NodePort", "LoadBalancer"):
            spec.pop("externalTrafficPolicy", None)
            spec.pop("healthCheckNodePort", None)
    for i, p in enumerate(ports):
        p.setdefault("protocol", "TCP")
        if "port" not in p:
            errs.append(FieldError("Required", f"spec.ports[{i}].port"))
        p.setdefault("targetPort", p.get("port"))
        if needs_node_port and not p.get("nodePort"):
            prev = old_ports.get((p.get("port"), p["protocol"]))
            p["nodePort"] = prev["nodePort"] if prev and prev.get("nodePort") else _alloc_node_port(store)
        elif not needs_node_port and p.get("nodePort") and stype != "ExternalName":
            errs.append(FieldError("Forbidden", f"spec.ports[{i}].nodePort", None,
                                   f"may not be used when `type` is '{stype}'"))
    if stype != "ExternalName":
        if old is not None and old_spec.get("clusterIP") and not spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIP"):
            spec["clusterIP"] = _alloc_cluster_ip(store)
        spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if stype in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if old is None:
        obj["status"] = {"loadBalancer": {}}


_WEBHOOK_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?){2,}$")
_SIDE_EFFECTS = ("None", "NoneOnDryRun")


def _default_webhooks(obj: dict[str, Any], *, mutating: bool, errs: list[FieldError]) -> None:
    """admissionregistration/v1 defaults and ValidateValidatingWebhookConfiguration /
    ValidateMutatingWebhookConfiguration (the checks charts meet). No webhook is ever called."""
    hooks = obj.get("webhooks")
    if hooks is None:
        return
    if not isinstance(hooks, list):
        raise BadRequest("json: cannot unmarshal into Go struct field of type []v1.Webhook")
    seen: set[str] = set()
    for i, hook in enumerate(hooks):
        path = f"webhooks[{i}]"
        if not isinstance(hook, dict):
            errs.append(FieldError("Invalid", path, None, "must be an object"))
            continue
        name = hook.get("name")
        if not name:
            errs.append(FieldError("Required", f"{path}.name"))
        elif not _WEBHOOK_NAME.match(str(name)):
            errs.append(FieldError("Invalid", f"{path}.name", name,
                                   "should be a domain with at least three segments separated by dots"))
        elif name in seen:
            errs.append(FieldError("Duplicate", f"{path}.name", name))
        else:
            seen.add(str(name))
        hook.setdefault("failurePolicy", "Fail")
        hook.setdefault("matchPolicy", "Equivalent")
        hook.setdefault("namespaceSelector", {})
        hook.setdefault("objectSelector", {})
        hook.setdefault("timeoutSeconds", 10)
        if mutating:
            hook.setdefault("reinvocationPolicy", "Never")
        if hook["failurePolicy"] not in ("Fail", "Ignore"):
            errs.append(FieldError("NotSupported", f"{path}.failurePolicy", hook["failurePolicy"],
                                   'supported values: "Fail", "Ignore"'))
        side = hook.get("sideEffects")
        if side is None:
            errs.append(FieldError("Required", f"{path}.sideEffects", None,
                                   f"must specify one of {', '.join(_SIDE_EFFECTS)}"))
        elif side not in _SIDE_EFFECTS:
            errs.append(FieldError("NotSupported", f"{path}.sideEffects", side,
                                   "supported values: " + ", ".join(f'"{s}"' for s in _SIDE_EFFECTS)))
        versions = hook.get("admissionReviewVersions")
        if not versions or not isinstance(versions, list) or not {"v1", "v1beta1"} & set(map(str, versions)):
            errs.append(FieldError("Required", f"{path}.admissionReviewVersions", None,
                                   "must specify one of v1, v1beta1"))
        timeout = hook.get("timeoutSeconds")
        if not isinstance(timeout, int) or not 1 <= timeout <= 30:
            errs.append(FieldError("Invalid", f"{path}.timeoutSeconds", timeout,
                                   "the timeout value must be between 1 and 30 seconds"))
        client = hook.get("clientConfig")
        if not isinstance(client, dict) or bool(client.get("url")) == bool(client.get("service")):
            errs.append(FieldError("Required", f"{path}.clientConfig", None,
                                   "exactly one of url or service is required"))
        elif isinstance(client.get("service"), dict):
            service = client["service"]
            service.setdefault("port", 443)
            for key in ("namespace", "name"):
                if not service.get(key):
                    errs.append(FieldError("Required", f"{path}.clientConfig.service.{key}",
                                           None, f"service {key} is required"))
        for j, rule in enumerate(hook.get("rules") or []):
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")
                for key in ("operations", "apiGroups", "apiVersions", "resources"):
                    if not rule.get(key):
                        errs.append(FieldError("Required", f"{path}.rules[{j}].{key}"))


def default_and_validate(store: Store, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Apply the apiserver's defaults to ``obj`` (in place) and raise 422 Invalid on bad input."""
    errs: list[FieldError] = []
    md = obj.setdefault("metadata", {})
    name = str(md.get("name") or "")
    if old is None:
        if not name:
            errs.append(FieldError("Required", "metadata.name", None, "name or generateName is required"))
        else:
            _check_name(rt.kind, name, errs)
    _check_meta(obj, errs)
    if rt.key == crds.CRDS_KEY:
        errs += crds.default_and_validate_crd(obj, old)
    elif isinstance(rt, crds.CustomType) and not errs:
        crds.validate_custom(rt, obj)
    kind = rt.kind
    spec = obj.get("spec")
    if kind == "Pod":
        _default_pod_spec(spec, "spec", errs)
        if isinstance(spec, dict):
            spec.setdefault("serviceAccountName", "default")
            spec.setdefault("serviceAccount", spec["serviceAccountName"])
            spec.setdefault("enableServiceLinks", True)
            spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
            spec.setdefault("priority", 0)
            tol = spec.setdefault("tolerations", [])
            keys = {t.get("key") for t in tol if isinstance(t, dict)}
            for k in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
                if k not in keys:
                    tol.append({"key": k, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
            if old is None and not errs:
                obj["status"] = {"phase": "Pending", "qosClass": _qos(spec)}
            if old is not None:
                _check_pod_update(spec, old.get("spec") or {}, errs)
    elif kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        if not isinstance(spec, dict):
            errs.append(FieldError("Required", "spec"))
        else:
            if kind != "DaemonSet":
                spec.setdefault("replicas", 1)
                if not isinstance(spec.get("replicas"), int) or spec["replicas"] < 0:
                    errs.append(FieldError("Invalid", "spec.replicas", spec.get("replicas"),
                                           "must be greater than or equal to 0"))
            _check_selector(obj, errs)
            tmpl = spec.get("template")
            if not isinstance(tmpl, dict):
                errs.append(FieldError("Required", "spec.template"))
            else:
                _default_pod_spec(tmpl.get("spec"), "spec.template.spec", errs)
                if (tmpl.get("spec") or {}).get("restartPolicy") not in (None, "Always"):
                    errs.append(FieldError("NotSupported", "spec.template.spec.restartPolicy",
                                           tmpl["spec"]["restartPolicy"], 'supported values: "Always"'))
            if kind == "Deployment":
                strategy = spec.get("strategy") or {}
                if not strategy.get("type"):
                    strategy["type"] = "RollingUpdate"
                if strategy["type"] == "RollingUpdate":
                    ru = strategy.setdefault("rollingUpdate", {})
                    ru.setdefault("maxUnavailable", "25%")
                    ru.setdefault("maxSurge", "25%")
                spec["strategy"] = strategy
                spec.setdefault("revisionHistoryLimit", 10)
                spec.setdefault("progressDeadlineSeconds", 600)
            elif kind == "StatefulSet":
                spec.setdefault("podManagementPolicy", "OrderedReady")
                spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
                spec.setdefault("revisionHistoryLimit", 10)
                spec.setdefault("persistentVolumeClaimRetentionPolicy",
                                {"whenDeleted": "Retain", "whenScaled": "Retain"})
            elif kind == "DaemonSet":
                spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                                   "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
                spec.setdefault("revisionHistoryLimit", 10)
    elif kind == "Job":
        _default_job(obj, md, old, errs)
    elif kind == "CronJob":
        if not isinstance(spec, dict) or not spec.get("schedule"):
            errs.append(FieldError("Required", "spec.schedule"))
        if not isinstance(spec, dict) or not spec.get("jobTemplate"):
            errs.append(FieldError("Required", "spec.jobTemplate"))
        if isinstance(spec, dict):
            spec.setdefault("concurrencyPolicy", "Allow")
            spec.setdefault("suspend", False)
            spec.setdefault("successfulJobsHistoryLimit", 3)
            spec.setdefault("failedJobsHistoryLimit", 1)
    elif kind == "Service":
        _default_service(store, obj, old, errs)
    elif kind == "Namespace":
        md.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        if old is None:  # the apiserver's namespace strategy: created Active, with the kubernetes finalizer
            obj["status"] = {"phase": "Active"}
            fins = [f for f in spec.get("finalizers") or () if isinstance(f, str)]
            spec["finalizers"] = fins if "kubernetes" in fins else [*fins, "kubernetes"]
        else:  # spec.finalizers changes only through the finalize subresource
            old_fins = (old.get("spec") or {}).get("finalizers")
            if old_fins:
                spec["finalizers"] = old_fins
            else:
                spec.pop("finalizers", None)
    elif kind == "ConfigMap":
        for key in ("data", "binaryData"):
            data = obj.get(key)
            if data is not None and (not isinstance(data, dict) or
                                     not all(isinstance(v, str) for v in data.values())):
                raise BadRequest(f"json: cannot unmarshal into Go struct field ConfigMap.{key} of type "
                                 "map[string]string")
            if key in obj and not data:  # `omitempty`: a real server stores no null or empty map
                obj.pop(key)
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        data = obj.get("data") or {}
        for k, v in data.items():
            try:
                base64.b64decode(str(v), validate=True)
            except (binascii.Error, ValueError):
                errs.append(FieldError("Invalid", f"data[{k}]", "<secret contents redacted>",
                                       "illegal base64 data"))
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
    elif kind == "PersistentVolumeClaim":
        if not isinstance(spec, dict):
            errs.append(FieldError("Required", "spec"))
        else:
            if not spec.get("accessModes"):
                errs.append(FieldError("Required", "spec.accessModes"))
            storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
            if storage is None:
                errs.append(FieldError("Required", "spec.resources[storage]"))
            spec.setdefault("volumeMode", "Filesystem")
            if old is None:
                obj["status"] = {"phase": "Pending"}
    elif kind == "PersistentVolume":
        if isinstance(spec, dict):
            spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
            spec.setdefault("volumeMode", "Filesystem")
        if old is None:
            obj["status"] = {"phase": "Available"}
    elif kind == "LimitRange":
        for i, item in enumerate((spec or {}).get("limits") or []):
            if item.get("type") == "Container" and item.get("default"):
                dr = item.setdefault("defaultRequest", {})
                for r, v in item["default"].items():
                    dr.setdefault(r, v)
            # As the apiserver's validation: a default request may not exceed the default limit.
            for r, request in (item.get("defaultRequest") or {}).items():
                limit = (item.get("default") or {}).get(r)
                if limit is not None and _qty_ok(request) and _qty_ok(limit) \
                        and parse_quantity(limit) < parse_quantity(request):
                    errs.append(FieldError("Invalid", f"spec.limits[{i}].defaultRequest[{r}]", request,
                                           f"default request value {request} must be less than or equal to "
                                           f"default limit value {limit}"))
    elif kind == "ResourceQuota":
        for r, v in ((spec or {}).get("hard") or {}).items():
            if not _qty_ok(v):
                errs.append(FieldError("Invalid", f"spec.hard[{r}]", v,
                                       "must match the regex ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"))
    elif kind == "StorageClass":
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")
        if not obj.get("provisioner"):
            errs.append(FieldError("Required", "provisioner"))
    elif kind == "HorizontalPodAutoscaler":
        if isinstance(spec, dict):
            spec.setdefault("minReplicas", 1)
            if not spec.get("scaleTargetRef"):
                errs.append(FieldError("Required", "spec.scaleTargetRef"))
            if not spec.get("maxReplicas"):
                errs.append(FieldError("Required", "spec.maxReplicas"))
    elif kind == "NetworkPolicy":
        if isinstance(spec, dict):
            spec.setdefault("policyTypes", ["Ingress"] + (["Egress"] if spec.get("egress") else []))
    elif kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        _default_webhooks(obj, mutating=kind == "MutatingWebhookConfiguration", errs=errs)
    if errs:
        raise invalid(rt, name, errs)


def _check_pod_update(new: dict[str, Any], old: dict[str, Any], errs: list[FieldError]) -> None:
    """Pod specs are immutable apart from images, tolerations, deadlines and the initial binding."""

    def strip(spec: dict[str, Any]) -> dict[str, Any]:
        s = {k: v for k, v in spec.items()
             if k not in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")}
        for group in ("containers", "initContainers"):
            if group in s:
                s[group] = [{k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c
                            for c in s[group] or []]
        return s

    a, b = strip(new), strip(old)
    if not b.get("nodeName"):
        a.pop("nodeName", None)
        b.pop("nodeName", None)
    if a != b:
        errs.append(FieldError("Forbidden", "spec", None,
                               "pod updates may not change fields other than `spec.containers[*].image`,"
                               "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                               "`spec.tolerations` (only additions to existing tolerations),"
                               "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                               "previously negative)"))


def _default_job(obj: dict[str, Any], md: dict[str, Any], old: dict[str, Any] | None,
                 errs: list[FieldError]) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        errs.append(FieldError("Required", "spec"))
        return
    tmpl = spec.get("template")
    if not isinstance(tmpl, dict):
        errs.append(FieldError("Required", "spec.template"))
        return
    tspec = tmpl.get("spec")
    if isinstance(tspec, dict) and tspec.get("restartPolicy") not in ("OnFailure", "Never"):
        errs.append(FieldError("NotSupported", "spec.template.spec.restartPolicy", tspec.get("restartPolicy", ""),
                               'supported values: "OnFailure", "Never"'))
        tspec.setdefault("restartPolicy", "Never")
    _default_pod_spec(tspec, "spec.template.spec", errs)
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("manualSelector", False)
    spec.setdefault("podReplacementPolicy", "TerminatedOrFailed")
    if old is None and not spec.get("manualSelector") and md.get("uid"):
        uid, name = md["uid"], md.get("name", "")
        labels = tmpl.setdefault("metadata", {}).setdefault("labels", {})
        labels.update({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                       "controller-uid": uid, "job-name": name})
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}


# ------------------------------------------------------------------ admission on create


def admit_create(store: Store, rt: ResourceType, obj: dict[str, Any]) -> None:
    """LimitRanger then ResourceQuota, as the apiserver orders them."""
    ns = (obj.get("metadata") or {}).get("namespace") or ""
    if rt is PODS and store.count(LIMITRANGES, ns):
        _apply_limit_ranges(store, obj, ns)
    if rt is PODS:  # validation runs after the mutating admission: on the limits LimitRanger gave it
        _check_requests_within_limits(obj)
    if ns and rt is not RESOURCEQUOTAS and store.count(RESOURCEQUOTAS, ns):
        _check_quota(store, rt, obj, ns)
    if rt is RESOURCEQUOTAS:
        hard = ((obj.get("spec") or {}).get("hard") or {})
        obj["status"] = {"hard": dict(hard), "used": _format_usage(_usage(store, ns, set(hard)), hard)}
    if rt.key == crds.CRDS_KEY:
        obj["status"] = crds.crd_status(obj)


def admit_update(store: Store, rt: ResourceType, new: dict[str, Any], old: dict[str, Any]) -> None:
    """Immutable fields (422) and quota on updates that grow usage (service type, PVC size)."""
    ns = new["metadata"].get("namespace", "")
    _check_immutable(rt, new, old)
    if rt is RESOURCEQUOTAS:
        hard = ((new.get("spec") or {}).get("hard") or {})
        new["status"] = {"hard": dict(hard), "used": _format_usage(_usage(store, ns, set(hard)), hard)}
    elif (rt is SERVICES or rt is PERSISTENTVOLUMECLAIMS) and ns and store.count(RESOURCEQUOTAS, ns):
        before, after = _object_usage(rt, old), _object_usage(rt, new)
        grown = {k: Quantity(v.value - before[k].value if k in before else v.value, v.fmt)
                 for k, v in after.items()}
        grown = {k: v for k, v in grown.items() if v.value > 0}
        if grown:
            _check_quota(store, rt, new, ns, delta=grown)


def _check_immutable(rt: ResourceType, new: dict[str, Any], old: dict[str, Any]) -> None:
    errs: list[FieldError] = []
    name = new["metadata"].get("name", "")
    nspec, ospec = new.get("spec") or {}, old.get("spec") or {}
    if rt.kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job") and \
            ospec.get("selector") and nspec.get("selector") != ospec.get("selector"):
        errs.append(FieldError("Invalid", "spec.selector", _go_map(nspec.get("selector")), "field is immutable"))
    if rt.kind == "Job" and ospec.get("template") and nspec.get("template") != ospec.get("template") \
            and not ospec.get("suspend"):
        errs.append(FieldError("Invalid", "spec.template", "core.PodTemplateSpec{...}", "field is immutable"))
    if rt.kind == "Service" and ospec.get("clusterIP") and nspec.get("clusterIP") not in (None, "",
                                                                                            ospec["clusterIP"]):
        errs.append(FieldError("Invalid", "spec.clusterIPs[0]", nspec.get("clusterIP"),
                               "may not change once set"))
    if rt.kind in ("ConfigMap", "Secret") and old.get("immutable"):
        for key in ("data", "binaryData"):
            if new.get(key) != old.get(key):
                errs.append(FieldError("Forbidden", key, None, "field is immutable when `immutable` is set"))
        if not new.get("immutable"):
            errs.append(FieldError("Forbidden", "immutable", None, "field is immutable when `immutable` is set"))
    if errs:
        raise invalid(rt, name, errs)


def _go_map(v: Any) -> str:
    return "v1.LabelSelector{" + ", ".join(f"{k}: {v!r}" for k, v in (v or {}).items()) + "}"


def _check_requests_within_limits(pod: dict[str, Any]) -> None:
    """ValidateResourceRequirements: a container's request may not exceed its limit (also when
    the limit is a LimitRange default the pod did not ask for)."""
    errs: list[FieldError] = []
    spec = pod.get("spec") or {}
    for group in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(group) or []):
            res = (c.get("resources") or {}) if isinstance(c, dict) else {}
            limits = res.get("limits") or {}
            for r, request in (res.get("requests") or {}).items():
                limit = limits.get(r)
                if limit is not None and _qty_ok(request) and _qty_ok(limit) \
                        and parse_quantity(request) > parse_quantity(limit):
                    errs.append(FieldError("Invalid", f"spec.{group}[{i}].resources.requests",
                                           str(parse_quantity(request)),  # Quantity.String(): "1000m" is "1"
                                           f"must be less than or equal to {r} limit"))
    if errs:
        raise invalid(PODS, pod["metadata"].get("name", ""), errs)


def _apply_limit_ranges(store: Store, pod: dict[str, Any], ns: str) -> None:
    ranges, _ = store.list(LIMITRANGES, ns)
    set_req: dict[str, list[str]] = {}
    set_lim: dict[str, list[str]] = {}
    name = pod["metadata"].get("name", "")
    for lr in ranges:
        for item in (lr.get("spec") or {}).get("limits") or []:
            if item.get("type") != "Container":
                continue
            spec = pod.get("spec") or {}
            for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                res = c.setdefault("resources", {})
                for r, v in (item.get("default") or {}).items():
                    if r not in (res.get("limits") or {}):
                        res.setdefault("limits", {})[r] = v
                        set_lim.setdefault(c["name"], []).append(r)
                for r, v in (item.get("defaultRequest") or {}).items():
                    if r not in (res.get("requests") or {}):
                        res.setdefault("requests", {})[r] = v
                        set_req.setdefault(c["name"], []).append(r)
                for r, v in (item.get("max") or {}).items():
                    lim = (res.get("limits") or {}).get(r)
                    if lim is not None and parse_quantity(lim) > parse_quantity(v):
                        raise forbidden(PODS, name, f"maximum {r} usage per Container is {v}, but limit is {lim}")
                for r, v in (item.get("min") or {}).items():
                    req = (res.get("requests") or {}).get(r)
                    if req is not None and parse_quantity(req) < parse_quantity(v):
                        raise forbidden(PODS, name, f"minimum {r} usage per Container is {v}, but request is "
                                                    f"{req}")
    if set_req or set_lim:
        parts = [f"{', '.join(sorted(rs))} request for container {c}" for c, rs in set_req.items()]
        parts += [f"{', '.join(sorted(rs))} limit for container {c}" for c, rs in set_lim.items()]
        pod["metadata"].setdefault("annotations", {})["kubernetes.io/limit-ranger"] = (
            "LimitRanger plugin set: " + "; ".join(parts))
    if pod.get("status") and pod.get("spec"):
        pod["status"]["qosClass"] = _qos(pod["spec"])


STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
_PVC_RESOURCES = ("persistentvolumeclaims", "requests.storage")
_COMPUTE = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory")
_LEGACY_COUNTS = {"configmaps": "configmaps", "secrets": "secrets", "resourcequotas": "resourcequotas",
                  "replicationcontrollers": "replicationcontrollers"}


def _pod_usage(pod: dict[str, Any]) -> dict[str, Quantity]:
    out: dict[str, Quantity] = {"pods": Quantity(1)}
    spec = pod.get("spec") or {}
    for c in spec.get("containers") or []:
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            for r, v in (res.get(part) or {}).items():
                if r not in ("cpu", "memory", "ephemeral-storage"):
                    continue
                qv = parse_quantity(v)
                key = f"{part}.{r}"
                out[key] = out[key] + qv if key in out else qv
                if part == "requests" and r in ("cpu", "memory"):
                    out[r] = out[r] + qv if r in out else Quantity(qv.value, qv.fmt)
    return out


def _object_usage(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Quantity]:
    out: dict[str, Quantity] = {f"count/{rt.key}": Quantity(1)}
    if rt.plural in _LEGACY_COUNTS and not rt.group:
        out[_LEGACY_COUNTS[rt.plural]] = Quantity(1)
    if rt is PODS:
        phase = (obj.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            return out
        out.update(_pod_usage(obj))
    elif rt is SERVICES:
        out["services"] = Quantity(1)
        stype = (obj.get("spec") or {}).get("type")
        if stype == "LoadBalancer":
            out["services.loadbalancers"] = Quantity(1)
        if stype in ("NodePort", "LoadBalancer"):
            out["services.nodeports"] = Quantity(len((obj.get("spec") or {}).get("ports") or []))
    elif rt is PERSISTENTVOLUMECLAIMS:
        # the apiserver's pvcEvaluator: claims and requested storage, also per storage class
        # (<class>.storageclass.storage.k8s.io/<resource>) when the claim names one
        out["persistentvolumeclaims"] = Quantity(1)
        sc = pvc_class(obj)
        if sc:
            out[f"{sc}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = Quantity(1)
        storage = (((obj.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
        if storage is not None:
            out["requests.storage"] = parse_quantity(storage)
            if sc:
                out[f"{sc}{STORAGE_CLASS_SUFFIX}requests.storage"] = parse_quantity(storage)
    return out


def pvc_class(pvc: dict[str, Any]) -> str:
    """The claim's storage class as the apiserver reads it: the beta annotation first, then the spec ("" = none)."""
    ann = (pvc.get("metadata") or {}).get("annotations") or {}
    if BETA_STORAGE_CLASS in ann:
        return str(ann[BETA_STORAGE_CLASS] or "")
    return str((pvc.get("spec") or {}).get("storageClassName") or "")


def _tracked(rt: ResourceType, keys: set[str]) -> set[str]:
    """The quota keys among ``keys`` that objects of ``rt`` count towards (the apiserver's evaluator
    of the resource: ``count/<resource>``, and what pods, services and claims use)."""
    tracked = {f"count/{rt.key}"}
    if rt is PODS:
        tracked |= {"pods", *_COMPUTE, "requests.ephemeral-storage", "limits.ephemeral-storage"}
    elif rt is SERVICES:
        tracked |= {"services", "services.loadbalancers", "services.nodeports"}
    elif rt is PERSISTENTVOLUMECLAIMS:
        tracked |= {*_PVC_RESOURCES,
                    *(k for k in keys if any(k.endswith(STORAGE_CLASS_SUFFIX + r) for r in _PVC_RESOURCES))}
    elif rt.plural in _LEGACY_COUNTS and not rt.group:
        tracked.add(rt.plural)
    return tracked & keys


def _usage(store: Store, ns: str, keys: set[str], only: ResourceType | None = None) -> dict[str, Quantity]:
    """What the namespace uses of each of ``keys``; with ``only``, of the keys objects of that
    resource count towards (the others are left out)."""
    from sandbox.resources import lookup, stored_types

    wanted_types = [rt for rt in ([only] if only is not None else stored_types())
                    if rt.namespaced and _tracked(rt, keys)]
    used: dict[str, Quantity] = {k: Quantity(0) for k in (keys if only is None else _tracked(only, keys))}
    for rt in wanted_types:
        objs, _ = store.list(lookup(rt.key), ns)
        for o in objs:
            for k, v in _object_usage(rt, o).items():
                if k in used:
                    cur = used[k]
                    used[k] = Quantity(cur.value + v.value, v.fmt if cur.value == 0 else cur.fmt)
    return used


def _format_usage(used: dict[str, Quantity], hard: dict[str, Any]) -> dict[str, str]:
    out = {}
    for k, v in used.items():
        fmt = v.fmt
        if k in hard and v.value == 0:
            fmt = parse_quantity(hard[k]).fmt
        out[k] = str(Quantity(v.value, fmt))
    return out


def _pretty(d: dict[str, Quantity]) -> str:
    return ",".join(f"{k}={d[k]}" for k in sorted(d))


def _check_quota(store: Store, rt: ResourceType, obj: dict[str, Any], ns: str,
                 delta: dict[str, Quantity] | None = None) -> None:
    quotas, _ = store.list(RESOURCEQUOTAS, ns)
    name = obj["metadata"].get("name", "")
    if delta is None:
        delta = _object_usage(rt, obj)
    for quota in sorted(quotas, key=lambda o: o["metadata"]["name"]):
        hard = (quota.get("status") or {}).get("hard") or (quota.get("spec") or {}).get("hard") or {}
        if rt is PODS and "pods" in delta:
            missing: dict[str, list[str]] = {}
            for r in _COMPUTE:
                if r not in hard:
                    continue
                part, _, res = r.rpartition(".")
                part = part or "requests"
                for c in (obj.get("spec") or {}).get("containers") or []:
                    if res not in ((c.get("resources") or {}).get(part) or {}):
                        missing.setdefault(r, []).append(c.get("name", ""))
            if missing:
                msg = "; ".join(f"{r} for: {','.join(sorted(set(cs)))}" for r, cs in sorted(missing.items()))
                raise forbidden(rt, name, f"failed quota: {quota['metadata']['name']}: must specify {msg}")
    for quota in sorted(quotas, key=lambda o: o["metadata"]["name"]):
        hard = (quota.get("status") or {}).get("hard") or (quota.get("spec") or {}).get("hard") or {}
        relevant = {k for k in hard if k in delta}
        if not relevant:
            continue
        used_raw = (quota.get("status") or {}).get("used") or {}
        used = {k: parse_quantity(used_raw[k]) if k in used_raw else Quantity(0) for k in relevant}
        exceeded = [k for k in relevant if used[k].value + delta[k].value > parse_quantity(hard[k]).value]
        if exceeded:
            req = {k: delta[k] for k in exceeded}
            usd = {k: Quantity(used[k].value, parse_quantity(hard[k]).fmt) for k in exceeded}
            lim = {k: parse_quantity(hard[k]) for k in exceeded}
            raise forbidden(rt, name, f"exceeded quota: {quota['metadata']['name']}, requested: {_pretty(req)}, "
                                      f"used: {_pretty(usd)}, limited: {_pretty(lim)}")


def _usage_may_change(rt: ResourceType, etype: str, prev_fields: dict[str, str] | None,
                      fields: dict[str, str]) -> bool:
    if etype != "MODIFIED":
        return True  # object counts changed
    if rt is PODS:  # pod resources are immutable; only entering/leaving a terminal phase matters
        terminal = ("Succeeded", "Failed")
        return ((prev_fields or {}).get("status.phase") in terminal) != (fields.get("status.phase") in terminal)
    return rt is SERVICES or rt is PERSISTENTVOLUMECLAIMS  # type / requested storage may change


def on_change(store: Store, rt: ResourceType, ns: str, etype: str = "MODIFIED",
              prev_fields: dict[str, str] | None = None, fields: dict[str, str] | None = None) -> None:
    """Keep ``status.used`` of the namespace's ResourceQuotas current after a committed change."""
    if etype == "DELETED" and rt.key == crds.CRDS_KEY:
        crds.drop_orphans(store)
    if not ns or rt is RESOURCEQUOTAS or not rt.namespaced or store.in_quota_update:
        return
    if not _usage_may_change(rt, etype, prev_fields, fields or {}):
        return
    if not store.count(RESOURCEQUOTAS, ns):
        return
    quotas, _ = store.list(RESOURCEQUOTAS, ns)
    # As the apiserver's quota evaluators: a change of one resource recounts only the keys that
    # resource counts towards; the others keep what status.used says (an Event created in a
    # namespace whose quota counts pods and CPU recounts nothing).
    quotas = [q for q in quotas if _tracked(rt, set((q.get("spec") or {}).get("hard") or {}))]
    if not quotas:
        return
    store.in_quota_update = True
    try:
        for quota in quotas:
            hard = (quota.get("spec") or {}).get("hard") or {}
            old = (quota.get("status") or {}).get("used") or {}
            if set(old) == set(hard) and dict((quota.get("status") or {}).get("hard") or {}) == dict(hard):
                used = {**old, **_format_usage(_usage(store, ns, set(hard), only=rt), hard)}
            else:  # the quota's keys changed (or it was never counted): count everything
                used = _format_usage(_usage(store, ns, set(hard)), hard)
            status = {"hard": dict(hard), "used": used}
            if quota.get("status") != status:
                quota["status"] = status
                store.update(RESOURCEQUOTAS, quota, subresource="status", _owned=True)
    finally:
        store.in_quota_update = False

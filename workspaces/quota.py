"""Quota arithmetic: which ResourceQuota keys a workspace may be given, how their quantities are
validated, added, compared and written back, and how much a set of manifests would take.

Quantities are :class:`~decimal.Decimal` inside (cores for cpu, bytes for memory and storage,
plain numbers for counts) and canonical strings outside ("1500m", "2", "16Gi").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from clusters.watcher.projection import quantity

STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
CPU_KEYS = ("requests.cpu", "limits.cpu")
MEMORY_KEYS = ("requests.memory", "limits.memory")
COUNT_KEYS = ("pods", "services", "services.loadbalancers", "persistentvolumeclaims")
STORAGE_KEYS = ("requests.storage",)
QUOTA_KEYS = (*CPU_KEYS, *MEMORY_KEYS, *COUNT_KEYS, *STORAGE_KEYS)
_CLASS_KEY = re.compile(
    r"^(?P<cls>[a-z0-9]([-a-z0-9.]*[a-z0-9])?)\.storageclass\.storage\.k8s\.io/(?P<res>requests\.storage|persistentvolumeclaims)$")
_PLAIN_QUANTITY = re.compile(r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?:Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
MAX_VALUE = Decimal(10) ** 18

Quota = dict[str, Decimal]


class QuotaError(ValueError):
    """A quota that cannot be accepted; ``errors`` maps ``quota.<key>`` to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def storage_class_of(key: str) -> str | None:
    match = _CLASS_KEY.match(key)
    return match["cls"] if match else None


def is_count(key: str) -> bool:
    return key in COUNT_KEYS or key.endswith("/persistentvolumeclaims")


def is_bytes(key: str) -> bool:
    return key in MEMORY_KEYS or key in STORAGE_KEYS or key.endswith("/requests.storage")


def valid_key(key: str) -> bool:
    return key in QUOTA_KEYS or storage_class_of(key) is not None


def parse(raw: Any, *, field: str = "quota") -> Quota:
    """Validate a ``{key: quantity}`` object as given by a user; raise :class:`QuotaError`."""
    if not isinstance(raw, Mapping):
        raise QuotaError({field: "Give an object of ResourceQuota keys and quantities, like {\"requests.cpu\": \"2\"}."})
    errors: dict[str, str] = {}
    out: Quota = {}
    for key, value in raw.items():
        name = f"{field}.{key}"
        if not isinstance(key, str) or not valid_key(key):
            errors[name] = (f"Unknown quota key {key!r}; use one of {', '.join(QUOTA_KEYS)} or "
                            "<storage class>.storageclass.storage.k8s.io/requests.storage.")
            continue
        text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else None
        if text is None or not _PLAIN_QUANTITY.match(text):
            errors[name] = (f"{value!r} is not a Kubernetes quantity; write e.g. \"500m\" or \"2\" for CPU, "
                            "\"4Gi\" for memory and storage, \"20\" for counts (no spaces, no sign).")
            continue
        number = quantity(text)
        if number is None or number < 0 or number > MAX_VALUE:
            errors[name] = f"{value!r} is out of range."
            continue
        if is_count(key) and number != number.to_integral_value():
            errors[name] = f"{key} counts objects; give a whole number, not {value!r}."
            continue
        out[key] = number
    if errors:
        raise QuotaError(errors)
    return out


def load(stored: Mapping[str, Any] | None) -> Quota:
    """A quota as stored (canonical strings); unparseable values are skipped."""
    out: Quota = {}
    for key, value in (stored or {}).items():
        number = quantity(value)
        if number is not None:
            out[key] = number
    return out


def _strip(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt(key: str, value: Decimal) -> str:
    """Canonical text of a quantity of ``key``."""
    if is_bytes(key):
        for suffix, size in (("Ei", 1024**6), ("Pi", 1024**5), ("Ti", 1024**4), ("Gi", 1024**3),
                             ("Mi", 1024**2), ("Ki", 1024)):
            if value != 0 and value % size == 0:
                return f"{_strip(value / size)}{suffix}"
        return _strip(value.to_integral_value())
    if key in CPU_KEYS:
        if value != value.to_integral_value():
            return f"{_strip((value * 1000).to_integral_value())}m"
        return _strip(value)
    return _strip(value)


def dump(q: Mapping[str, Decimal]) -> dict[str, str]:
    return {key: fmt(key, value) for key, value in sorted(q.items())}


def add(*quotas: Mapping[str, Decimal]) -> Quota:
    out: Quota = {}
    for q in quotas:
        for key, value in q.items():
            out[key] = out.get(key, Decimal(0)) + value
    return out


def subtract(a: Mapping[str, Decimal], b: Mapping[str, Decimal]) -> Quota:
    return {key: a[key] - b.get(key, Decimal(0)) for key in a}


def human(key: str, value: Decimal) -> str:
    return fmt(key, value) if value >= 0 else "-" + fmt(key, -value)


# ---------------------------------------------------------------------------- manifests


POD_OWNERS = {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}


def _container_use(containers: Iterable[Mapping[str, Any]], defaults: Mapping[str, Mapping[str, str]]) -> Quota:
    """requests.* and limits.* of containers, with the LimitRange defaults filled in the way the
    LimitRanger admission does (a limit without a request makes the request equal the limit)."""
    out: Quota = {}
    for container in containers:
        resources = container.get("resources") or {}
        limits = dict(resources.get("limits") or {})
        requests = dict(resources.get("requests") or {})
        for resource in ("cpu", "memory"):
            if resource not in limits and resource in (defaults.get("default") or {}):
                limits[resource] = defaults["default"][resource]
            if resource not in requests:
                if resource in (resources.get("limits") or {}):
                    requests[resource] = limits[resource]
                elif resource in (defaults.get("default_request") or {}):
                    requests[resource] = defaults["default_request"][resource]
            for part, values in (("requests", requests), ("limits", limits)):
                number = quantity(values.get(resource))
                if number is not None:
                    key = f"{part}.{resource}"
                    out[key] = out.get(key, Decimal(0)) + number
    return out


def _pod_spec_use(spec: Mapping[str, Any], defaults: Mapping[str, Mapping[str, str]]) -> Quota:
    use = _container_use(spec.get("containers") or [], defaults)
    for init_container in spec.get("initContainers") or []:
        # init containers run one at a time: the pod's figure is max(sum of containers, each init)
        for key, value in _container_use([init_container], defaults).items():
            use[key] = max(use.get(key, Decimal(0)), value)
    use["pods"] = Decimal(1)
    return use


def _times(q: Mapping[str, Decimal], n: int) -> Quota:
    return {k: v * n for k, v in q.items()}


def object_use(obj: Mapping[str, Any], *, defaults: Mapping[str, Mapping[str, str]], ready_nodes: int,
               default_storage_class: str = "") -> Quota:
    """What one object would take of a namespace's quota once running."""
    kind = str(obj.get("kind") or "")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return _pod_spec_use(spec, defaults)
    template = ((spec.get("template") or {}).get("spec")) if isinstance(spec, Mapping) else None
    if kind in POD_OWNERS and isinstance(template, Mapping):
        replicas = spec.get("replicas", 1)
        return _times(_pod_spec_use(template, defaults), int(replicas) if isinstance(replicas, int) else 1)
    if kind == "DaemonSet" and isinstance(template, Mapping):
        return _times(_pod_spec_use(template, defaults), ready_nodes)
    if kind == "Job" and isinstance(template, Mapping):
        parallelism = spec.get("parallelism", 1)
        return _times(_pod_spec_use(template, defaults), int(parallelism) if isinstance(parallelism, int) else 1)
    if kind == "CronJob":
        job = ((spec.get("jobTemplate") or {}).get("spec")) or {}
        return object_use({"kind": "Job", "spec": job}, defaults=defaults, ready_nodes=ready_nodes)
    if kind == "Service":
        use = {"services": Decimal(1)}
        if spec.get("type") == "LoadBalancer":
            use["services.loadbalancers"] = Decimal(1)
        return use
    if kind == "PersistentVolumeClaim":
        use = {"persistentvolumeclaims": Decimal(1)}
        storage = quantity(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
        storage_class = spec.get("storageClassName") or default_storage_class
        if storage_class:
            use[f"{storage_class}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = Decimal(1)
        if storage is not None:
            use["requests.storage"] = storage
            if storage_class:
                use[f"{storage_class}{STORAGE_CLASS_SUFFIX}requests.storage"] = storage
        return use
    return {}


def pod_specs(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The pod spec(s) an object creates pods from (none for other kinds)."""
    kind = str(obj.get("kind") or "")
    spec = obj.get("spec") or {}
    if not isinstance(spec, Mapping):
        return []
    if kind == "Pod":
        return [spec]
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = ((spec.get("template") or {}).get("spec")) if isinstance(spec.get("template"), Mapping) else None
    if kind in (*POD_OWNERS, "DaemonSet", "Job", "CronJob") and isinstance(template, Mapping):
        return [template]
    return []


def limit_range_problems(obj: Mapping[str, Any], defaults: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Containers the API server would refuse once the LimitRange defaults are filled in: a
    request above its limit, where the limit is the container's own or, when it sets none, the
    LimitRange ``default`` (what the LimitRanger admission gives it). Such a pod is never created,
    so a deploy would wait for it until it times out."""
    problems = []
    name = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
    for pod in pod_specs(obj):
        for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
            if not isinstance(container, Mapping):
                continue
            resources = container.get("resources") or {}
            limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
            for resource in ("cpu", "memory"):
                request = quantity(requests.get(resource))
                given = quantity(limits.get(resource))
                default = quantity((defaults.get("default") or {}).get(resource))
                limit = given if given is not None else default
                if request is None or limit is None or request <= limit:
                    continue
                key = f"limits.{resource}"
                where = (f"its limit {fmt(key, limit)}" if given is not None else
                         f"the limit {fmt(key, limit)} the service map's LimitRange gives it by default (it sets "
                         f"no resources.limits.{resource})")
                problems.append(
                    f"{name}: container {container.get('name', '?')!r} requests {resource} "
                    f"{fmt(f'requests.{resource}', request)}, above {where}; the cluster refuses such a pod. Set "
                    f"resources.limits.{resource} to at least the request, or lower the request.")
    return problems

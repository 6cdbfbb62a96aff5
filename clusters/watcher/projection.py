"""Per-kind projections: the slim rows of the read model, written once and used for every row.

The watcher stores what the product shows, not whole objects: ``managedFields``, annotations,
specs and the rest stay in the cluster and are fetched on demand for detail views. Each kind's
``data`` is exactly what ``docs/clusters-api.md`` documents; this module is the only place that
turns a Kubernetes object into a :class:`~clusters.models.KubeObject` row, for lists and watch
events alike, so a row looks the same however it arrived.

Quantities are normalised (CPU in cores as floats, memory and storage in bytes as ints) so the
API and the cluster summary can sum them in SQL.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, NotRequired, TypedDict

from clusters.workloads import workload_state


class Row(TypedDict):
    """The columns of one :class:`~clusters.models.KubeObject` (minus cluster and ``updated``)."""

    kind: str
    namespace: str
    name: str
    uid: str
    resource_version: str
    labels: dict[str, str]
    node_name: str
    phase: str
    created: datetime.datetime | None
    data: dict[str, Any]
    # Set by the writer, which encodes them for PostgreSQL: the publisher sends the same text.
    labels_json: NotRequired[str]
    data_json: NotRequired[str]


Obj = dict[str, Any]

# ----------------------------------------------------------------------------- quantities

_SUFFIXES: dict[str, Decimal] = {
    "Ki": Decimal(1024), "Mi": Decimal(1024**2), "Gi": Decimal(1024**3), "Ti": Decimal(1024**4),
    "Pi": Decimal(1024**5), "Ei": Decimal(1024**6),
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12),
    "P": Decimal(10**15), "E": Decimal(10**18),
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


def quantity(value: Any) -> Decimal | None:
    """Parse a Kubernetes quantity ("100m", "1.5Gi", "2", 3) or return None if it is not one."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    return _quantity_of(str(value))


# Quantities are a few distinct strings repeated across a fleet ("100m", "64Mi"), and every pod
# event reads its containers' requests and limits: parsed once per process, not per event (the
# regular expression and Decimal arithmetic were half of a pod's projection). Bounded, and keyed
# by the text alone: the values are immutable.
@functools.lru_cache(maxsize=4096)
def _quantity_of(text: str) -> Decimal | None:
    match = _QUANTITY.match(text.strip())
    if match is None:
        return None
    try:
        return Decimal(match[1]) * _SUFFIXES[match[2] or ""]
    except InvalidOperation:
        return None


def _as_cores(q: Decimal | None) -> float | None:
    return None if q is None else round(float(q), 6)


def _as_int(q: Decimal | None) -> int | None:
    return None if q is None else int(q)


@functools.lru_cache(maxsize=4096)
def _cores_of(text: str) -> float | None:
    return _as_cores(_quantity_of(text))


@functools.lru_cache(maxsize=4096)
def _bytes_of(text: str) -> int | None:
    return _as_int(_quantity_of(text))


def cores(value: Any) -> float | None:
    return _cores_of(value) if type(value) is str else _as_cores(quantity(value))


def byte_count(value: Any) -> int | None:
    return _bytes_of(value) if type(value) is str else _as_int(quantity(value))


_int = byte_count  # a count ("3", 3) is a whole quantity, as a number of bytes is


# ----------------------------------------------------------------------------- helpers

def _ts(value: Any) -> datetime.datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _conditions(status: Obj) -> list[dict[str, Any]]:
    return [
        {"type": c.get("type", ""), "status": c.get("status", ""), "reason": c.get("reason", ""),
         "message": c.get("message", "")}
        for c in status.get("conditions") or []
        if isinstance(c, dict)
    ]


def _condition(status: Obj, kind: str) -> str | None:
    for c in status.get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == kind:
            return str(c.get("status"))
    return None


def owner(meta: Obj) -> dict[str, str] | None:
    """The controlling owner ({kind, name}), else the first owner, else None."""
    refs = [r for r in meta.get("ownerReferences") or [] if isinstance(r, dict)]
    if not refs:
        return None
    ref = next((r for r in refs if r.get("controller")), refs[0])
    return {"kind": str(ref.get("kind", "")), "name": str(ref.get("name", ""))}


def _resources(containers: list[Obj], which: str) -> dict[str, float | int]:
    cpu = 0.0
    memory = 0
    for c in containers:
        res = (c.get("resources") or {}).get(which) or {}
        cpu += cores(res.get("cpu")) or 0.0
        memory += byte_count(res.get("memory")) or 0
    return {"cpu": round(cpu, 6), "memory": memory}


def pod_resources(spec: Obj, which: str) -> dict[str, float | int]:
    """Effective pod requests/limits: the containers' sum, or the largest init container if larger."""
    total = _resources(spec.get("containers") or [], which)
    for init in spec.get("initContainers") or []:
        one = _resources([init], which)
        total["cpu"] = max(total["cpu"], one["cpu"])
        total["memory"] = max(total["memory"], one["memory"])
    return total


# ----------------------------------------------------------------------------- per kind

def _node(obj: Obj) -> tuple[str, Obj]:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    labels = meta.get("labels") or {}
    roles = sorted(
        {k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1]}
        | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role") else set())
    )
    ready = _condition(status, "Ready") == "True"

    def figures(src: Obj) -> dict[str, Any]:
        return {"cpu": cores(src.get("cpu")), "memory": byte_count(src.get("memory")), "pods": _int(src.get("pods")),
                "ephemeral_storage": byte_count(src.get("ephemeral-storage"))}

    info = status.get("nodeInfo") or {}
    internal_ip = next((a.get("address", "") for a in status.get("addresses") or []
                        if isinstance(a, dict) and a.get("type") == "InternalIP"), "")
    data = {
        "roles": roles,
        "ready": ready,
        "conditions": _conditions(status),
        "unschedulable": bool(spec.get("unschedulable", False)),
        "taints": [{"key": t.get("key", ""), "value": t.get("value", ""), "effect": t.get("effect", "")}
                   for t in spec.get("taints") or [] if isinstance(t, dict)],
        "capacity": figures(status.get("capacity") or {}),
        "allocatable": figures(status.get("allocatable") or {}),
        "kubelet_version": info.get("kubeletVersion", ""),
        "os_image": info.get("osImage", ""),
        "internal_ip": internal_ip,
        "zone": labels.get("topology.kubernetes.io/zone") or labels.get("failure-domain.beta.kubernetes.io/zone", ""),
        "instance_type": labels.get("node.kubernetes.io/instance-type")
        or labels.get("beta.kubernetes.io/instance-type", ""),
    }
    return ("Ready" if ready else "NotReady"), data


def _container_state(cs: Obj) -> tuple[str, str]:
    state = cs.get("state") or {}
    for name in ("running", "waiting", "terminated"):
        if name in state and state[name] is not None:
            return name, str((state[name] or {}).get("reason") or "")
    return "", ""


def pod_status_text(obj: Obj) -> str:
    """What ``kubectl get pods`` shows in its STATUS column (same rules as kubectl's printer)."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    reason = str(status.get("reason") or status.get("phase") or "Unknown")
    init_specs = spec.get("initContainers") or []
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term is not None and term.get("exitCode") == 0:
            continue
        if term is not None:
            if term.get("reason"):
                reason = "Init:" + str(term["reason"])
            elif term.get("signal"):
                reason = f"Init:Signal:{term['signal']}"
            else:
                reason = f"Init:ExitCode:{term.get('exitCode')}"
        elif wait is not None and wait.get("reason") and wait.get("reason") != "PodInitializing":
            reason = "Init:" + str(wait["reason"])
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    if not initializing:
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            term, wait, running = state.get("terminated"), state.get("waiting"), state.get("running")
            if wait is not None and wait.get("reason"):
                reason = str(wait["reason"])
            elif term is not None and term.get("reason"):
                reason = str(term["reason"])
            elif term is not None:
                reason = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode')}"
            elif cs.get("ready") and running is not None:
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running" if _condition(status, "Ready") == "True" else "NotReady"
    if meta.get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason


def _pod(obj: Obj) -> tuple[str, Obj]:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    by_name = {cs.get("name"): cs for cs in statuses if isinstance(cs, dict)}
    containers = []
    several = len(spec.get("containers") or []) > 1
    for c in spec.get("containers") or []:
        cs = by_name.get(c.get("name")) or {}
        state, reason = _container_state(cs)
        last_state, last = cs.get("lastState"), None
        if isinstance(last_state, dict):
            last = last_state.get("terminated")
        if not isinstance(last, dict):
            last = {}
        containers.append({"name": c.get("name", ""), "image": c.get("image", ""), "ready": bool(cs.get("ready")),
                           "restart_count": int(cs.get("restartCount") or 0), "state": state, "reason": reason,
                           # The last termination: a crash-looping container that is running for a
                           # moment still reads as crash-looping (the kubelet resets its back-off
                           # only after 10 minutes of running).
                           "last_reason": str(last.get("reason") or ""), "last_finished": last.get("finishedAt")})
        if several:  # per container only where the pod's figures are not already its one container's (metering)
            containers[-1]["requests"] = _resources([c], "requests")
            containers[-1]["limits"] = _resources([c], "limits")
    ready = sum(1 for c in containers if c["ready"])
    data = {
        "status_text": pod_status_text(obj),
        "ready": f"{ready}/{len(containers)}",
        "restarts": sum(int(cs.get("restartCount") or 0) for cs in statuses if isinstance(cs, dict)),
        "containers": containers,
        "pod_ip": status.get("podIP", ""),
        "host_ip": status.get("hostIP", ""),
        "owner": owner(meta),
        "requests": pod_resources(spec, "requests"),
        "limits": pod_resources(spec, "limits"),
        "qos_class": status.get("qosClass", ""),
        "start_time": status.get("startTime"),
    }
    return str(status.get("phase") or ""), data


def _images(spec: Obj) -> list[str]:
    template = (spec.get("template") or {}).get("spec") or {}
    return [str(c.get("image", "")) for c in template.get("containers") or [] if isinstance(c, dict)]


def _workload(obj: Obj) -> tuple[str, Obj]:
    """Deployment, StatefulSet, DaemonSet, ReplicaSet: figures as each kind has them; the phase
    from :func:`clusters.workloads.workload_state` (the one rule deploys use too)."""
    kind = obj.get("kind", "")
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    updated: int | None
    if kind == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled") or 0)
        ready = int(status.get("numberReady") or 0)
        updated = int(status.get("updatedNumberScheduled") or 0)
        available = int(status.get("numberAvailable") or 0)
        strategy = (spec.get("updateStrategy") or {}).get("type", "")
    else:
        desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        ready = int(status.get("readyReplicas") or 0)
        # A ReplicaSet's status has no updatedReplicas (its pods all run its one template).
        updated = None if kind == "ReplicaSet" else int(status.get("updatedReplicas") or 0)
        available = int(status.get("availableReplicas") or 0)
        strategy = (spec.get("strategy") or spec.get("updateStrategy") or {}).get("type", "")
    data = {
        "replicas": desired,
        "ready_replicas": ready,
        "updated_replicas": updated,
        "available_replicas": available,
        "images": _images(spec),
        "selector": (spec.get("selector") or {}).get("matchLabels") or {},
        "strategy": strategy,
        "conditions": _conditions(status),
        "owner": owner(meta),
    }
    return _with_state(obj, kind, data)


def _with_state(obj: Obj, kind: str, data: Obj) -> tuple[str, Obj]:
    """The phase, and in ``data`` the generation and the whole workload state, so a deploy can
    tell from the row whether it shows the spec it applied and whether that spec is done."""
    state = workload_state(obj, kind)
    data["generation"] = _int((obj.get("metadata") or {}).get("generation"))
    data["rollout"] = state.as_data()
    return state.phase, data


def _job(obj: Obj) -> tuple[str, Obj]:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    data = {
        "completions": spec.get("completions"),
        "parallelism": spec.get("parallelism"),
        "succeeded": int(status.get("succeeded") or 0),
        "failed": int(status.get("failed") or 0),
        "active": int(status.get("active") or 0),
        "start_time": status.get("startTime"),
        "completion_time": status.get("completionTime"),
        "owner": owner(meta),
    }
    return _with_state(obj, "Job", data)


def _cronjob(obj: Obj) -> tuple[str, Obj]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    data = {"schedule": spec.get("schedule", ""), "suspend": bool(spec.get("suspend", False)),
            "last_schedule_time": status.get("lastScheduleTime"), "active": len(status.get("active") or [])}
    return workload_state(obj, "CronJob").phase, data


def _service(obj: Obj) -> tuple[str, Obj]:
    spec = obj.get("spec") or {}
    ports = [{"name": p.get("name", ""), "port": p.get("port"), "target_port": p.get("targetPort"),
              "protocol": p.get("protocol", "TCP"), "node_port": p.get("nodePort")}
             for p in spec.get("ports") or [] if isinstance(p, dict)]
    data = {"type": spec.get("type", "ClusterIP"), "cluster_ip": spec.get("clusterIP", ""),
            "external_ips": list(spec.get("externalIPs") or []), "ports": ports,
            "selector": spec.get("selector") or {}}
    return "", data


def _ingress(obj: Obj) -> tuple[str, Obj]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    rules = []
    for rule in spec.get("rules") or []:
        paths = []
        for p in ((rule.get("http") or {}).get("paths")) or []:
            svc = (p.get("backend") or {}).get("service") or {}
            port = svc.get("port") or {}
            paths.append({"path": p.get("path", "/"), "service": svc.get("name", ""),
                          "port": port.get("number") if port.get("number") is not None else port.get("name")})
        rules.append({"host": rule.get("host", ""), "paths": paths})
    tls_hosts = sorted({h for t in spec.get("tls") or [] for h in t.get("hosts") or []})
    addresses = [a.get("ip") or a.get("hostname") or ""
                 for a in ((status.get("loadBalancer") or {}).get("ingress")) or [] if isinstance(a, dict)]
    return "", {"class_name": spec.get("ingressClassName") or "", "rules": rules, "tls_hosts": tls_hosts,
                "addresses": addresses}


def _pv(obj: Obj) -> tuple[str, Obj]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ref = spec.get("claimRef") or None
    data = {"capacity": byte_count((spec.get("capacity") or {}).get("storage")),
            "access_modes": list(spec.get("accessModes") or []),
            "reclaim_policy": spec.get("persistentVolumeReclaimPolicy", ""),
            "storage_class": spec.get("storageClassName", ""),
            "claim": f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else None}
    return str(status.get("phase") or ""), data


def _pvc(obj: Obj) -> tuple[str, Obj]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    data = {"requested": byte_count(((spec.get("resources") or {}).get("requests") or {}).get("storage")),
            "capacity": byte_count((status.get("capacity") or {}).get("storage")),
            "access_modes": list(status.get("accessModes") or spec.get("accessModes") or []),
            "storage_class": spec.get("storageClassName") or "",
            "volume_name": spec.get("volumeName") or ""}
    return str(status.get("phase") or ""), data


def _storageclass(obj: Obj) -> tuple[str, Obj]:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    default = "true" in (annotations.get("storageclass.kubernetes.io/is-default-class"),
                         annotations.get("storageclass.beta.kubernetes.io/is-default-class"))
    return "", {"provisioner": obj.get("provisioner", ""), "reclaim_policy": obj.get("reclaimPolicy", "Delete"),
                "volume_binding_mode": obj.get("volumeBindingMode", "Immediate"), "is_default": default}


def _quota(obj: Obj) -> tuple[str, Obj]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    # ``hard`` is what the object asks for (spec), so an edit shows at once, before the quota
    # controller has recomputed ``status``.
    return "", {"hard": dict(spec.get("hard") or status.get("hard") or {}), "used": dict(status.get("used") or {})}


def _hpa(obj: Obj) -> tuple[str, Obj]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    data = {"target": {"kind": ref.get("kind", ""), "name": ref.get("name", "")},
            "min_replicas": spec.get("minReplicas", 1), "max_replicas": spec.get("maxReplicas"),
            "current_replicas": status.get("currentReplicas"), "desired_replicas": status.get("desiredReplicas"),
            "metrics": list(spec.get("metrics") or [])}
    return "", data


def _event(obj: Obj) -> tuple[str, Obj]:
    involved = obj.get("involvedObject") or {}
    source = obj.get("source") or {}
    series = obj.get("series") or {}
    first = obj.get("firstTimestamp") or obj.get("eventTime") or (obj.get("metadata") or {}).get("creationTimestamp")
    last = obj.get("lastTimestamp") or series.get("lastObservedTime") or obj.get("eventTime") or first
    source_text = source.get("component") or obj.get("reportingComponent") or ""
    if source.get("host"):
        source_text = f"{source_text}, {source['host']}" if source_text else source["host"]
    data = {"type": obj.get("type", "Normal"), "reason": obj.get("reason", ""), "message": obj.get("message", ""),
            "involved": {"kind": involved.get("kind", ""), "name": involved.get("name", ""),
                         "namespace": involved.get("namespace", "")},
            "count": int(obj.get("count") or series.get("count") or 1), "first_seen": first, "last_seen": last,
            "source": source_text}
    return str(obj.get("type") or "Normal"), data


def _namespace(obj: Obj) -> tuple[str, Obj]:
    return str((obj.get("status") or {}).get("phase") or "Active"), {}


PROJECTORS: dict[str, Callable[[Obj], tuple[str, Obj]]] = {
    "Node": _node,
    "Namespace": _namespace,
    "Pod": _pod,
    "Deployment": _workload,
    "StatefulSet": _workload,
    "DaemonSet": _workload,
    "ReplicaSet": _workload,
    "Job": _job,
    "CronJob": _cronjob,
    "Service": _service,
    "Ingress": _ingress,
    "PersistentVolume": _pv,
    "PersistentVolumeClaim": _pvc,
    "StorageClass": _storageclass,
    "ResourceQuota": _quota,
    "HorizontalPodAutoscaler": _hpa,
    "Event": _event,
}


# Kinds whose spec people edit: their rows carry ``changed_by`` (who last wrote the object, not its
# status), from which the activity app records changes made outside the portal (kubectl). Not
# ReplicaSets: their controller rewrites them at every rollout step, and people edit Deployments.
EDITED_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Service", "Ingress",
                          "HorizontalPodAutoscaler"})


def changed_by(meta: Obj) -> dict[str, str] | None:
    """The newest ``managedFields`` entry that is not a status write: ``{manager, operation, time}``.

    Status writes (controllers reporting) are skipped; scale writes are kept (``kubectl scale``).
    On the watcher's hot path: one pass over a handful of entries, no parsing of times (RFC 3339
    UTC strings of one width compare as text; a tie goes to the later entry)."""
    newest: Obj | None = None
    newest_time = ""
    for entry in meta.get("managedFields") or ():
        if isinstance(entry, dict) and entry.get("subresource") != "status":
            time = entry.get("time") or ""
            if newest is None or time >= newest_time:
                newest, newest_time = entry, time
    if newest is None:
        return None
    return {"manager": str(newest.get("manager") or ""), "operation": str(newest.get("operation") or ""),
            "time": str(newest_time)}


def _generic(obj: Obj) -> tuple[str, Obj]:
    """A kind promoted into the read model by configuration (clusters/kube/kinds.py): no data,
    a status word from ``status.phase`` or the ``Ready`` condition when the object has one."""
    status: Obj = obj["status"] if isinstance(obj.get("status"), dict) else {}
    phase = status.get("phase")
    if not isinstance(phase, str) or not phase:
        ready = [c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") == "Ready"]
        phase = {"True": "Ready", "False": "NotReady"}.get(str(ready[0].get("status")), "") if ready else ""
    return phase, {}


def project(kind: str, obj: Obj) -> Row:
    """The read-model row of ``obj`` (a plain dict as the API serves it) of ``kind``.

    ``kind`` is passed in because list items do not carry ``kind``; it also selects the projector.
    """
    meta = obj.get("metadata") or {}
    phase, data = PROJECTORS.get(kind, _generic)({**obj, "kind": kind})
    if kind in EDITED_KINDS and (by := changed_by(meta)) is not None:
        data["changed_by"] = by
    return Row(
        kind=kind,
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        uid=str(meta.get("uid") or ""),
        resource_version=str(meta.get("resourceVersion") or ""),
        labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
        node_name=str((obj.get("spec") or {}).get("nodeName") or "") if kind == "Pod" else "",
        phase=phase[:40],
        created=_ts(meta.get("creationTimestamp")),
        data=data,
    )

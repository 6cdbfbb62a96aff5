"""Server-side printing: ``meta.k8s.io/v1`` Table responses for ``kubectl get``.

kubectl asks for ``as=Table`` and prints whatever columns the server returns;
without Tables it could only show names.  The columns and cell formats follow
the apiserver's printers for the common kinds (``kubectl get pods -o wide``
must look like it does against a real cluster).
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from typing import Any

from sandbox.resources import ResourceType

Row = list[Any]
Col = tuple[str, str, int, str]  # name, type, priority, format


def human_duration(seconds: float) -> str:
    """kubectl's ``duration.HumanDuration``."""
    s = int(seconds)
    if s < 0:
        s = 0
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    y = h // (24 * 365)
    if y < 8:
        return f"{y}y{(h // 24) % 365}d"
    return f"{y}y"


def parse_timestamp(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(calendar.timegm(time.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def age(value: str | None) -> str:
    t = parse_timestamp(value)
    return "<unknown>" if t is None else human_duration(time.time() - t)


def _none(v: Any) -> Any:
    return "<none>" if v in (None, "", []) else v


def _selector_str(sel: dict[str, Any] | None) -> str:
    if not sel:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        if op in ("In", "NotIn"):
            parts.append(f"{e['key']} {op.lower()} ({','.join(e.get('values') or [])})")
        elif op == "Exists":
            parts.append(e["key"])
        elif op == "DoesNotExist":
            parts.append("!" + e["key"])
    return ",".join(parts) or "<none>"


def _containers(tmpl_spec: dict[str, Any]) -> tuple[str, str]:
    cs = tmpl_spec.get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _pod_row(o: dict[str, Any]) -> Row:
    spec, status, md = o.get("spec") or {}, o.get("status") or {}, o["metadata"]
    total = len(spec.get("containers") or [])
    ready = 0
    restarts = 0
    last_restart: float | None = None
    reason = status.get("reason") or status.get("phase") or "Pending"
    initializing = False
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    init_statuses = status.get("initContainerStatuses") or []
    for i, cs in enumerate(init_statuses):  # kubectl's printPod: the first unfinished init container
        restarts += int(cs.get("restartCount") or 0)
        st = cs.get("state") or {}
        term = st.get("terminated")
        if term and term.get("exitCode", 0) == 0:
            continue
        if (init_specs.get(cs.get("name")) or {}).get("restartPolicy") == "Always" and cs.get("started"):
            continue
        if term:
            reason = f"Init:{term['reason']}" if term.get("reason") else f"Init:ExitCode:{term.get('exitCode', 0)}"
        elif st.get("waiting") and st["waiting"].get("reason") not in (None, "", "PodInitializing"):
            reason = f"Init:{st['waiting']['reason']}"
        else:
            reason = f"Init:{i}/{len(init_specs) or len(init_statuses)}"
        initializing = True
        break
    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True"
                      for c in status.get("conditions") or [])
    for cs in (status.get("containerStatuses") or []) if not initializing or initialized else []:
        restarts += int(cs.get("restartCount") or 0)
        lt = ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        if lt and (parse_timestamp(lt) or 0) > (last_restart or 0):
            last_restart = parse_timestamp(lt)
        st = cs.get("state") or {}
        if st.get("waiting") and st["waiting"].get("reason"):
            reason = st["waiting"]["reason"]
        elif st.get("terminated") and st["terminated"].get("reason"):
            reason = st["terminated"]["reason"]
        elif st.get("terminated"):
            reason = f"ExitCode:{st['terminated'].get('exitCode', 0)}"
        if cs.get("ready") and st.get("running"):
            ready += 1
    if md.get("deletionTimestamp"):
        reason = "Terminating"
    restarts_cell: Any = restarts
    if restarts and last_restart:
        restarts_cell = f"{restarts} ({human_duration(time.time() - last_restart)} ago)"
    gates = spec.get("readinessGates") or []
    return [md["name"], f"{ready}/{total}", reason, restarts_cell, age(md.get("creationTimestamp")),
            _none(status.get("podIP")), _none(spec.get("nodeName")), _none(status.get("nominatedNodeName")),
            _none(f"0/{len(gates)}" if gates else None)]


def _node_row(o: dict[str, Any]) -> Row:
    md, status, spec = o["metadata"], o.get("status") or {}, o.get("spec") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    st = "Ready" if ready and ready.get("status") == "True" else "NotReady" if ready else "Unknown"
    if spec.get("unschedulable"):
        st += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in (md.get("labels") or {}) if k.startswith("node-role.kubernetes.io/"))
    info = status.get("nodeInfo") or {}
    addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    return [md["name"], st, ",".join(roles) or "<none>", age(md.get("creationTimestamp")),
            info.get("kubeletVersion", ""), _none(addrs.get("InternalIP")), _none(addrs.get("ExternalIP")),
            info.get("osImage", ""), info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]


def _deploy_row(o: dict[str, Any]) -> Row:
    spec, st, md = o.get("spec") or {}, o.get("status") or {}, o["metadata"]
    c, i = _containers(((spec.get("template") or {}).get("spec")) or {})
    return [md["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", st.get("updatedReplicas", 0),
            st.get("availableReplicas", 0), age(md.get("creationTimestamp")), c, i, _selector_str(spec.get("selector"))]


def _rs_row(o: dict[str, Any]) -> Row:
    spec, st, md = o.get("spec") or {}, o.get("status") or {}, o["metadata"]
    c, i = _containers(((spec.get("template") or {}).get("spec")) or {})
    return [md["name"], spec.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0),
            age(md.get("creationTimestamp")), c, i, _selector_str(spec.get("selector"))]


def _sts_row(o: dict[str, Any]) -> Row:
    spec, st, md = o.get("spec") or {}, o.get("status") or {}, o["metadata"]
    c, i = _containers(((spec.get("template") or {}).get("spec")) or {})
    return [md["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", age(md.get("creationTimestamp")),
            c, i]


def _ds_row(o: dict[str, Any]) -> Row:
    spec, st, md = o.get("spec") or {}, o.get("status") or {}, o["metadata"]
    tspec = ((spec.get("template") or {}).get("spec")) or {}
    c, i = _containers(tspec)
    ns = ",".join(f"{k}={v}" for k, v in sorted((tspec.get("nodeSelector") or {}).items())) or "<none>"
    return [md["name"], st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0),
            st.get("numberReady", 0), st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0), ns,
            age(md.get("creationTimestamp")), c, i, _selector_str(spec.get("selector"))]


def _svc_row(o: dict[str, Any]) -> Row:
    spec, st, md = o.get("spec") or {}, o.get("status") or {}, o["metadata"]
    ports = []
    for p in spec.get("ports") or []:
        s = f"{p.get('port')}"
        if p.get("nodePort"):
            s += f":{p['nodePort']}"
        ports.append(f"{s}/{p.get('protocol', 'TCP')}")
    ing = [i.get("ip") or i.get("hostname") for i in (st.get("loadBalancer") or {}).get("ingress") or []]
    ext = ",".join(x for x in ing if x) or ",".join(spec.get("externalIPs") or [])
    if not ext:
        ext = "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"
    if spec.get("type") == "ExternalName":
        ext = spec.get("externalName", "<none>")
    sel = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items())) or "<none>"
    return [md["name"], spec.get("type", "ClusterIP"), _none(spec.get("clusterIP")), ext,
            ",".join(ports) or "<none>", age(md.get("creationTimestamp")), sel]


def _ns_row(o: dict[str, Any]) -> Row:
    return [o["metadata"]["name"], (o.get("status") or {}).get("phase", "Active"),
            age(o["metadata"].get("creationTimestamp"))]


def _job_row(o: dict[str, Any]) -> Row:
    spec, st, md = o.get("spec") or {}, o.get("status") or {}, o["metadata"]
    conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
    status = "Complete" if conds.get("Complete") == "True" else "Failed" if conds.get("Failed") == "True" \
        else "Suspended" if spec.get("suspend") else "Running"
    dur = ""
    start, end = parse_timestamp(st.get("startTime")), parse_timestamp(st.get("completionTime"))
    if start:
        dur = human_duration((end or time.time()) - start)
    c, i = _containers(((spec.get("template") or {}).get("spec")) or {})
    return [md["name"], status, f"{st.get('succeeded', 0)}/{spec.get('completions', 1)}", dur,
            age(md.get("creationTimestamp")), c, i, _selector_str(spec.get("selector"))]


def _cj_row(o: dict[str, Any]) -> Row:
    spec, st, md = o.get("spec") or {}, o.get("status") or {}, o["metadata"]
    c, i = _containers((((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or {})
    last = st.get("lastScheduleTime")
    return [md["name"], spec.get("schedule", ""), _none(spec.get("timeZone")), str(bool(spec.get("suspend"))),
            len(st.get("active") or []), age(last) if last else "<none>", age(md.get("creationTimestamp")), c, i,
            "<none>"]


def _event_row(o: dict[str, Any]) -> Row:
    io = o.get("involvedObject") or {}
    last = o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    first = o.get("firstTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    src = (o.get("source") or {}).get("component") or o.get("reportingComponent") or ""
    return [age(last), o.get("type", ""), o.get("reason", ""), f"{(io.get('kind') or '').lower()}/{io.get('name', '')}",
            io.get("fieldPath", ""), src, o.get("message", ""), age(first), o.get("count", 1), o["metadata"]["name"]]


def _cm_row(o: dict[str, Any]) -> Row:
    return [o["metadata"]["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            age(o["metadata"].get("creationTimestamp"))]


def _secret_row(o: dict[str, Any]) -> Row:
    return [o["metadata"]["name"], o.get("type", "Opaque"), len(o.get("data") or {}),
            age(o["metadata"].get("creationTimestamp"))]


def _pvc_row(o: dict[str, Any]) -> Row:
    spec, st, md = o.get("spec") or {}, o.get("status") or {}, o["metadata"]
    return [md["name"], st.get("phase", ""), spec.get("volumeName", ""), (st.get("capacity") or {}).get("storage", ""),
            ",".join(_access(spec.get("accessModes"))), _none(spec.get("storageClassName")), "<unset>",
            age(md.get("creationTimestamp")), spec.get("volumeMode", "Filesystem")]


def _access(modes: list[str] | None) -> list[str]:
    m = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    return [m.get(x, x) for x in modes or []]


def _pv_row(o: dict[str, Any]) -> Row:
    spec, st, md = o.get("spec") or {}, o.get("status") or {}, o["metadata"]
    ref = spec.get("claimRef") or {}
    claim = f"{ref.get('namespace')}/{ref.get('name')}" if ref else ""
    return [md["name"], (spec.get("capacity") or {}).get("storage", ""), ",".join(_access(spec.get("accessModes"))),
            spec.get("persistentVolumeReclaimPolicy", ""), st.get("phase", ""), claim,
            spec.get("storageClassName", ""), "<unset>", st.get("reason", ""), age(md.get("creationTimestamp"))]


def _hpa_row(o: dict[str, Any]) -> Row:
    spec, st, md = o.get("spec") or {}, o.get("status") or {}, o["metadata"]
    ref = spec.get("scaleTargetRef") or {}
    targets = []
    cur = {m.get("resource", {}).get("name"): m for m in st.get("currentMetrics") or [] if m.get("type") == "Resource"}
    for m in spec.get("metrics") or []:
        if m.get("type") == "Resource":
            r = m["resource"]
            want = (r.get("target") or {}).get("averageUtilization")
            have = ((cur.get(r.get("name")) or {}).get("resource") or {}).get("current", {}).get("averageUtilization")
            targets.append(f"{r.get('name')}: {'<unknown>' if have is None else f'{have}%'}/{want}%")
    return [md["name"], f"{ref.get('kind', '')}/{ref.get('name', '')}", ", ".join(targets) or "<none>",
            spec.get("minReplicas", 1), spec.get("maxReplicas", 0), st.get("currentReplicas", 0),
            age(md.get("creationTimestamp"))]


def _ep_row(o: dict[str, Any]) -> Row:
    eps = []
    for s in o.get("subsets") or []:
        for a in s.get("addresses") or []:
            for p in s.get("ports") or [{}]:
                eps.append(f"{a.get('ip')}:{p.get('port')}" if p.get("port") else a.get("ip"))
    shown = ",".join(eps[:3]) + (f" + {len(eps) - 3} more..." if len(eps) > 3 else "")
    return [o["metadata"]["name"], shown or "<none>", age(o["metadata"].get("creationTimestamp"))]


def _ing_row(o: dict[str, Any]) -> Row:
    spec, st, md = o.get("spec") or {}, o.get("status") or {}, o["metadata"]
    hosts = ",".join(r.get("host", "*") for r in spec.get("rules") or []) or "*"
    addr = ",".join(i.get("ip") or i.get("hostname", "") for i in (st.get("loadBalancer") or {}).get("ingress") or [])
    return [md["name"], _none(spec.get("ingressClassName")), hosts, addr, "443" if spec.get("tls") else "80",
            age(md.get("creationTimestamp"))]


def _sc_row(o: dict[str, Any]) -> Row:
    md = o["metadata"]
    name = md["name"]
    if (md.get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true":
        name += " (default)"
    return [name, o.get("provisioner", ""), o.get("reclaimPolicy", "Delete"), o.get("volumeBindingMode", "Immediate"),
            str(bool(o.get("allowVolumeExpansion"))).lower(), age(md.get("creationTimestamp"))]


def _eps_row(o: dict[str, Any]) -> Row:
    ports = ",".join(str(p.get("port")) for p in o.get("ports") or []) or "<unset>"
    addrs = [a for e in o.get("endpoints") or [] for a in e.get("addresses") or []]
    shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [o["metadata"]["name"], o.get("addressType", ""), ports, shown or "<unset>",
            age(o["metadata"].get("creationTimestamp"))]


def _default_row(o: dict[str, Any]) -> Row:
    return [o["metadata"]["name"], o["metadata"].get("creationTimestamp", "")]


_S, _I = "string", "integer"
PRINTERS: dict[str, tuple[list[Col], Callable[[dict[str, Any]], Row]]] = {
    "pods": ([("Name", _S, 0, "name"), ("Ready", _S, 0, ""), ("Status", _S, 0, ""), ("Restarts", _S, 0, ""),
              ("Age", _S, 0, ""), ("IP", _S, 1, ""), ("Node", _S, 1, ""), ("Nominated Node", _S, 1, ""),
              ("Readiness Gates", _S, 1, "")], _pod_row),
    "nodes": ([("Name", _S, 0, "name"), ("Status", _S, 0, ""), ("Roles", _S, 0, ""), ("Age", _S, 0, ""),
               ("Version", _S, 0, ""), ("Internal-IP", _S, 1, ""), ("External-IP", _S, 1, ""),
               ("OS-Image", _S, 1, ""), ("Kernel-Version", _S, 1, ""), ("Container-Runtime", _S, 1, "")], _node_row),
    "deployments.apps": ([("Name", _S, 0, "name"), ("Ready", _S, 0, ""), ("Up-to-date", _I, 0, ""),
                          ("Available", _I, 0, ""), ("Age", _S, 0, ""), ("Containers", _S, 1, ""),
                          ("Images", _S, 1, ""), ("Selector", _S, 1, "")], _deploy_row),
    "replicasets.apps": ([("Name", _S, 0, "name"), ("Desired", _I, 0, ""), ("Current", _I, 0, ""),
                          ("Ready", _I, 0, ""), ("Age", _S, 0, ""), ("Containers", _S, 1, ""), ("Images", _S, 1, ""),
                          ("Selector", _S, 1, "")], _rs_row),
    "statefulsets.apps": ([("Name", _S, 0, "name"), ("Ready", _S, 0, ""), ("Age", _S, 0, ""),
                           ("Containers", _S, 1, ""), ("Images", _S, 1, "")], _sts_row),
    "daemonsets.apps": ([("Name", _S, 0, "name"), ("Desired", _I, 0, ""), ("Current", _I, 0, ""),
                         ("Ready", _I, 0, ""), ("Up-to-date", _I, 0, ""), ("Available", _I, 0, ""),
                         ("Node Selector", _S, 0, ""), ("Age", _S, 0, ""), ("Containers", _S, 1, ""),
                         ("Images", _S, 1, ""), ("Selector", _S, 1, "")], _ds_row),
    "services": ([("Name", _S, 0, "name"), ("Type", _S, 0, ""), ("Cluster-IP", _S, 0, ""),
                  ("External-IP", _S, 0, ""), ("Port(s)", _S, 0, ""), ("Age", _S, 0, ""), ("Selector", _S, 1, "")],
                 _svc_row),
    "namespaces": ([("Name", _S, 0, "name"), ("Status", _S, 0, ""), ("Age", _S, 0, "")], _ns_row),
    "jobs.batch": ([("Name", _S, 0, "name"), ("Status", _S, 0, ""), ("Completions", _S, 0, ""),
                    ("Duration", _S, 0, ""), ("Age", _S, 0, ""), ("Containers", _S, 1, ""), ("Images", _S, 1, ""),
                    ("Selector", _S, 1, "")], _job_row),
    "cronjobs.batch": ([("Name", _S, 0, "name"), ("Schedule", _S, 0, ""), ("Timezone", _S, 0, ""),
                        ("Suspend", _S, 0, ""), ("Active", _I, 0, ""), ("Last Schedule", _S, 0, ""),
                        ("Age", _S, 0, ""), ("Containers", _S, 1, ""), ("Images", _S, 1, ""),
                        ("Selector", _S, 1, "")], _cj_row),
    "events": ([("Last Seen", _S, 0, ""), ("Type", _S, 0, ""), ("Reason", _S, 0, ""), ("Object", _S, 0, ""),
                ("Subobject", _S, 1, ""), ("Source", _S, 1, ""), ("Message", _S, 0, ""), ("First Seen", _S, 1, ""),
                ("Count", _I, 1, ""), ("Name", _S, 1, "name")], _event_row),
    "configmaps": ([("Name", _S, 0, "name"), ("Data", _I, 0, ""), ("Age", _S, 0, "")], _cm_row),
    "secrets": ([("Name", _S, 0, "name"), ("Type", _S, 0, ""), ("Data", _I, 0, ""), ("Age", _S, 0, "")],
                _secret_row),
    "persistentvolumeclaims": ([("Name", _S, 0, "name"), ("Status", _S, 0, ""), ("Volume", _S, 0, ""),
                                ("Capacity", _S, 0, ""), ("Access Modes", _S, 0, ""), ("StorageClass", _S, 0, ""),
                                ("VolumeAttributesClass", _S, 0, ""), ("Age", _S, 0, ""), ("VolumeMode", _S, 1, "")],
                               _pvc_row),
    "persistentvolumes": ([("Name", _S, 0, "name"), ("Capacity", _S, 0, ""), ("Access Modes", _S, 0, ""),
                           ("Reclaim Policy", _S, 0, ""), ("Status", _S, 0, ""), ("Claim", _S, 0, ""),
                           ("StorageClass", _S, 0, ""), ("VolumeAttributesClass", _S, 0, ""), ("Reason", _S, 0, ""),
                           ("Age", _S, 0, "")], _pv_row),
    "horizontalpodautoscalers.autoscaling": ([("Name", _S, 0, "name"), ("Reference", _S, 0, ""),
                                              ("Targets", _S, 0, ""), ("MinPods", _S, 0, ""), ("MaxPods", _I, 0, ""),
                                              ("Replicas", _I, 0, ""), ("Age", _S, 0, "")], _hpa_row),
    "endpoints": ([("Name", _S, 0, "name"), ("Endpoints", _S, 0, ""), ("Age", _S, 0, "")], _ep_row),
    "endpointslices.discovery.k8s.io": ([("Name", _S, 0, "name"), ("AddressType", _S, 0, ""), ("Ports", _S, 0, ""),
                                         ("Endpoints", _S, 0, ""), ("Age", _S, 0, "")], _eps_row),
    "ingresses.networking.k8s.io": ([("Name", _S, 0, "name"), ("Class", _S, 0, ""), ("Hosts", _S, 0, ""),
                                     ("Address", _S, 0, ""), ("Ports", _S, 0, ""), ("Age", _S, 0, "")], _ing_row),
    "storageclasses.storage.k8s.io": ([("Name", _S, 0, "name"), ("Provisioner", _S, 0, ""),
                                       ("ReclaimPolicy", _S, 0, ""), ("VolumeBindingMode", _S, 0, ""),
                                       ("AllowVolumeExpansion", _S, 0, ""), ("Age", _S, 0, "")], _sc_row),
}
_DEFAULT: tuple[list[Col], Callable[[dict[str, Any]], Row]] = (
    [("Name", _S, 0, "name"), ("Created At", "date", 0, "")], _default_row)


def _partial(o: dict[str, Any]) -> dict[str, Any]:
    md = dict(o["metadata"])
    md.pop("managedFields", None)
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": md}


def table(rt: ResourceType, objs: list[dict[str, Any]], *, resource_version: str = "", continue_token: str = "",
          include_object: str = "PartialObjectMetadata", with_columns: bool = True,
          remaining: int | None = None) -> dict[str, Any]:
    printer = getattr(rt, "printer", None)  # a CRD's additionalPrinterColumns (sandbox/crds.py)
    cols, fn = printer() if printer is not None else PRINTERS.get(rt.storage_key, _DEFAULT)
    rows = []
    for o in objs:
        row: dict[str, Any] = {"cells": fn(o)}
        if include_object == "Object":
            row["object"] = o
        elif include_object != "None":
            row["object"] = _partial(o)
        rows.append(row)
    md: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        md["continue"] = continue_token
    if remaining is not None:
        md["remainingItemCount"] = remaining
    out: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": md}
    out["columnDefinitions"] = [
        {"name": n, "type": t, "format": f, "description": n, "priority": p} for n, t, p, f in cols
    ] if with_columns else []
    out["rows"] = rows
    return out

"""Pure: turn metrics.k8s.io answers and read-model rows into sample rows at every level (issue 14,
METRICS; docs/metrics.md).

:func:`build` takes what one collection saw of one cluster (the Node and Pod rows of the read
model, its ReplicaSet and Job rows for the owner chain, the NodeMetrics and PodMetrics items, the
service maps of its namespaces and, where the read model does not keep them, each container's
requests and limits) and returns a :class:`Collected`: one :class:`Figures` per series
(:class:`SeriesKey`) and the derived points. No I/O, no clock: the caller stamps ``ts``.

Rules (the contract in /work/coord/MONITORING.md):

* CPU in cores, memory in bytes. Pods in phase Succeeded or Failed hold no resources and are left out.
* ``container`` rows only for pods with more than one container (a one-container pod's pod row is
  its container). ``billed`` = max(request, usage) per container, summed upwards, so it adds up at
  every level; a container without metrics (pending) bills its request.
* ``pod``: sums of its containers; ``workload``: sums over its pods (top owner: ReplicaSet →
  Deployment, Job → CronJob); ``namespace``: sums over its pods; ``node``: usage from NodeMetrics,
  allocatable/capacity from the Node, requests/limits/billed of the pods on it; ``cluster``: usage
  = sum of node usage (of pod usage when no node is measured, e.g. a namespace-scoped identity),
  allocatable/capacity = sums over nodes, requests/limits/billed = sums over pods.
* A limit left unset on every container is None (no line on a chart), not 0.
* Points: ``restarts`` per pod (the sum of its containers' restart counts) when above zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from clusters.watcher.projection import byte_count, cores

TERMINATED_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True)
class SeriesKey:
    """What a sample row measures (``monitoring.models.MetricSeries``). The identity is (cluster,
    level, namespace, name, container); the other fields are attributes refreshed when they change.
    Re-exported by :mod:`monitoring.store`."""

    cluster_id: int
    level: str
    namespace: str = ""
    name: str = ""
    container: str = ""
    workload_kind: str = ""
    workload_name: str = ""
    node: str = ""
    service_map_id: int | None = None
    workspace_id: int | None = None

    @property
    def identity(self) -> tuple[int, str, str, str, str]:
        return (self.cluster_id, self.level, self.namespace, self.name, self.container)

    def attributes(self) -> tuple[str, str, str, int | None, int | None]:
        return (self.workload_kind, self.workload_name, self.node, self.service_map_id, self.workspace_id)


@dataclass
class Figures:
    """The values of one sample row (the columns of ``monitoring_sample`` but series and ts)."""

    cpu_usage: float | None = None
    mem_usage: float | None = None
    cpu_request: float | None = None
    mem_request: float | None = None
    cpu_limit: float | None = None
    mem_limit: float | None = None
    cpu_billed: float | None = None
    mem_billed: float | None = None
    cpu_allocatable: float | None = None
    mem_allocatable: float | None = None
    cpu_capacity: float | None = None
    mem_capacity: float | None = None
    pods: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)  # the fields, in order (no slots, no extra attributes)

    def add(self, other: Figures, names: Iterable[str]) -> None:
        """Add ``other``'s values of ``names`` (None + None stays None; None counts as 0 otherwise)."""
        mine, theirs = self.__dict__, other.__dict__  # on the hot path: no getattr/setattr
        for name in names:
            value = theirs[name]
            if value is not None:
                current = mine[name]
                mine[name] = value if current is None else current + value


SUMMED = ("cpu_usage", "mem_usage", "cpu_request", "mem_request", "cpu_limit", "mem_limit", "cpu_billed", "mem_billed")
SUMMED_NO_USAGE = SUMMED[2:]


@dataclass(frozen=True)
class PodRow:
    """The part of a read-model Pod row this module reads (``KubeObject`` fields)."""

    namespace: str
    name: str
    node_name: str
    phase: str
    data: Mapping[str, Any]
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeRow:
    name: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class OwnerRow:
    """A ReplicaSet or Job row: its own controller (``data.owner``), for the top-owner chain."""

    kind: str
    namespace: str
    name: str
    owner: Mapping[str, str] | None


@dataclass(frozen=True)
class ContainerResources:
    """One container's requests and limits (cores, bytes); None where unset."""

    cpu_request: float | None = None
    mem_request: float | None = None
    cpu_limit: float | None = None
    mem_limit: float | None = None


@dataclass
class Collected:
    rows: dict[SeriesKey, Figures]
    points: list[tuple[SeriesKey, str, float]]
    measured_pods: int = 0  # pods with a PodMetrics item
    measured_nodes: int = 0


# ---------------------------------------------------------------------------- parsing


def container_resources(spec_container: Mapping[str, Any]) -> ContainerResources:
    """Requests and limits of a container spec (``resources``) as numbers."""
    res = spec_container.get("resources") or {}
    requests, limits = res.get("requests") or {}, res.get("limits") or {}
    return ContainerResources(cpu_request=cores(requests.get("cpu")), mem_request=_bytes(requests.get("memory")),
                              cpu_limit=cores(limits.get("cpu")), mem_limit=_bytes(limits.get("memory")))


def pod_container_resources(pod: Mapping[str, Any]) -> dict[str, ContainerResources]:
    """Per container name, from a live Pod object (``spec.containers``)."""
    spec = pod.get("spec") or {}
    return {str(c.get("name", "")): container_resources(c) for c in spec.get("containers") or [] if isinstance(c, dict)}


def _bytes(value: Any) -> float | None:
    count = byte_count(value)
    return None if count is None else float(count)


def usage(item: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(cores, bytes) of a NodeMetrics item or one container entry of a PodMetrics item."""
    u = item.get("usage") or {}
    return cores(u.get("cpu")), _bytes(u.get("memory"))


def pod_usage(item: Mapping[str, Any]) -> dict[str, tuple[float | None, float | None]]:
    """Per container name, the usage in a PodMetrics item."""
    return {str(c.get("name", "")): usage(c) for c in item.get("containers") or [] if isinstance(c, dict)}


# ---------------------------------------------------------------------------- owners


def top_owner(pod: PodRow, owners: Mapping[tuple[str, str, str], OwnerRow]) -> tuple[str, str]:
    """(kind, name) of the workload a pod belongs to: its controller, followed up from a ReplicaSet
    to its Deployment and from a Job to its CronJob. ("", "") for a bare pod. A ReplicaSet missing
    from the read model is named after its Deployment by the ``pod-template-hash`` label."""
    ref = pod.data.get("owner") or None
    if not ref or not ref.get("kind"):
        return "", ""
    kind, name = str(ref.get("kind")), str(ref.get("name", ""))
    for _ in range(3):  # ReplicaSet → Deployment; Job → CronJob; nothing goes deeper
        if kind not in ("ReplicaSet", "Job"):
            break
        row = owners.get((kind, pod.namespace, name))
        if row is None:
            template_hash = pod.labels.get("pod-template-hash", "")
            if kind == "ReplicaSet" and template_hash and name.endswith("-" + template_hash):
                return "Deployment", name[: -len(template_hash) - 1]
            break
        if not row.owner or not row.owner.get("kind"):
            break
        kind, name = str(row.owner.get("kind")), str(row.owner.get("name", ""))
    return kind, name


# ---------------------------------------------------------------------------- build


def _sum_opt(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _billed(request: float | None, used: float | None) -> float:
    return max(request or 0.0, used or 0.0)


def _pod_figures(pod: PodRow, measured: dict[str, tuple[float | None, float | None]] | None,
                 resources: Mapping[str, ContainerResources] | None) -> tuple[Figures, dict[str, Figures]]:
    """The pod's figures and, per container, the container's."""
    names = [str(c.get("name", "")) for c in pod.data.get("containers") or [] if isinstance(c, dict)]
    if measured:
        names += [n for n in measured if n not in names]  # metrics name a container the row lacks
    per: dict[str, Figures] = {}
    known = True
    for name in names:
        cpu_used, mem_used = (measured or {}).get(name, (None, None))
        res = (resources or {}).get(name)
        if res is None:
            res = _resources_from_row(pod.data, name)
        if res is None:
            known = False
            per[name] = Figures(cpu_usage=cpu_used, mem_usage=mem_used)
        else:
            per[name] = Figures(cpu_usage=cpu_used, mem_usage=mem_used, cpu_request=res.cpu_request,
                                mem_request=res.mem_request, cpu_limit=res.cpu_limit, mem_limit=res.mem_limit)
    pod_fig = Figures(pods=1)
    if known and names:
        for fig in per.values():
            fig.cpu_billed = _billed(fig.cpu_request, fig.cpu_usage)
            fig.mem_billed = _billed(fig.mem_request, fig.mem_usage)
            pod_fig.add(fig, SUMMED)
    else:
        # Per-container requests unknown: the pod's (effective) requests and limits from its row,
        # billed as max(pod request, pod usage).
        for fig in per.values():
            pod_fig.add(fig, ("cpu_usage", "mem_usage"))
        requests, limits = pod.data.get("requests") or {}, pod.data.get("limits") or {}
        pod_fig.cpu_request = float(requests.get("cpu") or 0.0)
        pod_fig.mem_request = float(requests.get("memory") or 0)
        pod_fig.cpu_limit = float(limits["cpu"]) if limits.get("cpu") else None
        pod_fig.mem_limit = float(limits["memory"]) if limits.get("memory") else None
        pod_fig.cpu_billed = _billed(pod_fig.cpu_request, pod_fig.cpu_usage)
        pod_fig.mem_billed = _billed(pod_fig.mem_request, pod_fig.mem_usage)
    if pod_fig.cpu_request is None:
        pod_fig.cpu_request = 0.0
    if pod_fig.mem_request is None:
        pod_fig.mem_request = 0.0
    return pod_fig, per


def _resources_from_row(data: Mapping[str, Any], name: str) -> ContainerResources | None:
    """Per-container requests/limits kept in the read model's ``containers`` entries, if it keeps them."""
    for c in data.get("containers") or []:
        if isinstance(c, dict) and c.get("name") == name and ("requests" in c or "limits" in c):
            req, lim = c.get("requests") or {}, c.get("limits") or {}
            # The projection writes 0 for an unset figure; a limit of 0 is no limit.
            return ContainerResources(cpu_request=_num(req.get("cpu")), mem_request=_num(req.get("memory")),
                                      cpu_limit=_num(lim.get("cpu")) or None, mem_limit=_num(lim.get("memory")) or None)
    return None


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value) if value or value == 0 else None
    return cores(value)


def needs_container_resources(pods: Iterable[PodRow]) -> bool:
    """Whether some live pod has several containers whose requests the read model does not keep
    (then the caller lists pods live for :func:`pod_container_resources`)."""
    for pod in pods:
        if pod.phase in TERMINATED_PHASES:
            continue
        containers = [c for c in pod.data.get("containers") or [] if isinstance(c, dict)]
        if len(containers) > 1 and any(_resources_from_row(pod.data, str(c.get("name", ""))) is None
                                       for c in containers):
            return True
    return False


def build(
    *,
    cluster_id: int,
    nodes: Iterable[NodeRow],
    pods: Iterable[PodRow],
    owners: Iterable[OwnerRow] = (),
    node_metrics: Iterable[Mapping[str, Any]] = (),
    pod_metrics: Iterable[Mapping[str, Any]] = (),
    service_maps: Mapping[str, tuple[int, int]] | None = None,
    container_resources_by_pod: Mapping[tuple[str, str], Mapping[str, ContainerResources]] | None = None,
) -> Collected:
    """Every level's figures for one collection of one cluster (see the module docstring).

    ``service_maps``: namespace → (service map id, workspace id). ``container_resources_by_pod``:
    (namespace, pod) → per container, for pods whose row does not keep them."""
    maps = service_maps or {}
    by_owner = {(o.kind, o.namespace, o.name): o for o in owners}
    measured_pods = {(str((m.get("metadata") or {}).get("namespace", "")), str((m.get("metadata") or {}).get("name", ""))):
                     pod_usage(m) for m in pod_metrics}
    node_usage = {str((m.get("metadata") or {}).get("name", "")): usage(m) for m in node_metrics}
    rows: dict[SeriesKey, Figures] = {}
    points: list[tuple[SeriesKey, str, float]] = []

    cluster_key = SeriesKey(cluster_id=cluster_id, level="cluster")
    cluster_fig = Figures(pods=0)
    node_keys: dict[str, SeriesKey] = {}
    node_figs: dict[str, Figures] = {}
    for node in nodes:
        alloc, cap = node.data.get("allocatable") or {}, node.data.get("capacity") or {}
        cpu_used, mem_used = node_usage.get(node.name, (None, None))
        fig = Figures(cpu_usage=cpu_used, mem_usage=mem_used, cpu_request=0.0, mem_request=0.0,
                      cpu_billed=0.0, mem_billed=0.0, pods=0,
                      cpu_allocatable=_fnum(alloc.get("cpu")), mem_allocatable=_fnum(alloc.get("memory")),
                      cpu_capacity=_fnum(cap.get("cpu")), mem_capacity=_fnum(cap.get("memory")))
        node_keys[node.name] = SeriesKey(cluster_id=cluster_id, level="node", name=node.name)
        node_figs[node.name] = fig
        cluster_fig.add(fig, ("cpu_usage", "mem_usage", "cpu_allocatable", "mem_allocatable", "cpu_capacity",
                              "mem_capacity"))

    pod_usage_total = Figures()
    measured_count = 0
    workloads: dict[SeriesKey, Figures] = {}
    namespaces: dict[SeriesKey, Figures] = {}
    for pod in pods:
        if pod.phase in TERMINATED_PHASES:
            continue
        measured = measured_pods.get((pod.namespace, pod.name))
        measured_count += measured is not None
        resources = (container_resources_by_pod or {}).get((pod.namespace, pod.name))
        fig, per_container = _pod_figures(pod, measured, resources)
        wk, wn = top_owner(pod, by_owner)
        sm, ws = maps.get(pod.namespace, (None, None))
        pod_key = SeriesKey(cluster_id=cluster_id, level="pod", namespace=pod.namespace, name=pod.name,
                            workload_kind=wk, workload_name=wn, node=pod.node_name, service_map_id=sm,
                            workspace_id=ws)
        rows[pod_key] = fig
        if len(per_container) > 1:
            for cname, cfig in per_container.items():
                rows[SeriesKey(cluster_id=cluster_id, level="container", namespace=pod.namespace, name=pod.name,
                               container=cname, workload_kind=wk, workload_name=wn, node=pod.node_name,
                               service_map_id=sm, workspace_id=ws)] = cfig
        restarts = int(pod.data.get("restarts") or 0)
        if restarts > 0:
            points.append((pod_key, "restarts", float(restarts)))
        if wk:
            wkey = SeriesKey(cluster_id=cluster_id, level="workload", namespace=pod.namespace, name=wn,
                             workload_kind=wk, workload_name=wn, service_map_id=sm, workspace_id=ws)
            workloads.setdefault(wkey, Figures(pods=0)).add(fig, (*SUMMED, "pods"))
        nkey = SeriesKey(cluster_id=cluster_id, level="namespace", namespace=pod.namespace, name=pod.namespace,
                         service_map_id=sm, workspace_id=ws)
        namespaces.setdefault(nkey, Figures(pods=0)).add(fig, (*SUMMED, "pods"))
        if pod.node_name in node_figs:
            node_figs[pod.node_name].add(fig, (*SUMMED_NO_USAGE, "pods"))
        cluster_fig.add(fig, (*SUMMED_NO_USAGE, "pods"))
        pod_usage_total.add(fig, ("cpu_usage", "mem_usage"))

    # Workload keys differ by kind: two workloads of one name and other kinds would share an
    # identity (namespace, name); the kind is part of the name then.
    seen: dict[tuple[int, str, str, str, str], SeriesKey] = {}
    for wkey, fig in workloads.items():
        if wkey.identity in seen:
            wkey = SeriesKey(**{**_key_dict(wkey), "name": f"{wkey.workload_kind}/{wkey.workload_name}"})
        seen[wkey.identity] = wkey
        rows[wkey] = fig
    rows.update(namespaces)
    for name, fig in node_figs.items():
        rows[node_keys[name]] = fig
    if not node_usage:  # no node measured: the pods' usage is the best the cluster has
        cluster_fig.cpu_usage, cluster_fig.mem_usage = pod_usage_total.cpu_usage, pod_usage_total.mem_usage
    rows[cluster_key] = cluster_fig
    return Collected(rows=rows, points=points, measured_pods=measured_count, measured_nodes=len(node_usage))


def _key_dict(key: SeriesKey) -> dict[str, Any]:
    return {f.name: getattr(key, f.name) for f in fields(key)}


def _fnum(value: Any) -> float | None:
    return None if value is None else float(value)

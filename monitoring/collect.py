"""Operation: read metrics.k8s.io (and Prometheus where configured) of one cluster and store the
samples (issue 14, METRICS; docs/metrics.md).

:func:`collect_cluster` is one collection of one cluster, stamped ``ts`` = the time floored to the
interval, so a repeated collection within an interval writes nothing:

1. NodeMetrics and PodMetrics (``metrics.k8s.io/v1beta1``): cluster-wide, or per watched namespace
   for a namespace-scoped identity (its nodes' metrics are then usually forbidden: fine). A cluster
   that does not serve the metrics API (404, or an APIService answering 503) still gets capacity,
   allocatable, requests and limits from the read model; the outcome says so in the log.
   A cluster that cannot be reached gets nothing written (its read model is as old as the outage).
2. Nodes, pods and the ReplicaSets/Jobs of the owner chain from the read model
   (:class:`clusters.models.KubeObject`), the service maps of its namespaces; each container's
   requests live from the cluster only when a running pod has several containers and the read
   model does not keep them per container (/work/coord/REQUESTS-A.md).
3. :func:`monitoring.samples.build` → :func:`monitoring.store.series_ids` →
   :func:`monitoring.store.write_samples` / ``write_points``.
4. With ``Cluster.prometheus_url``: a few instant PromQL queries (``/api/v1/query``) through
   :func:`portal.outbound.session` (address policy, pinned connections, the cluster's Prometheus
   CA) for network, filesystem and volume figures, written as points. Failures are logged and
   reported in the outcome, never raised.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from clusters.kube.client import METRICS_API, KubeClient, list_node_metrics, list_pod_metrics, list_pods
from clusters.kube.errors import Forbidden, KubeError, NotFound, Unreachable
from clusters.models import Cluster, KubeObject
from monitoring import samples, store
from portal import outbound
from portal.addresses import AddressError
from portal.crypto import DecryptionError
from workspaces.models import ServiceMap

logger = logging.getLogger("monitoring.collect")

CALL_TIMEOUT = 10.0
PROMETHEUS_TIMEOUT = (3.0, 10.0)
PROMETHEUS_MAX_BYTES = 16 * 2**20

ClientFactory = Callable[[Cluster], KubeClient]

# Point metrics from Prometheus: (metric, PromQL, what the result's labels name).
PROMETHEUS_QUERIES: tuple[tuple[str, str, str], ...] = (
    ("net_rx_bytes_per_second",
     'sum by (namespace, pod) (rate(container_network_receive_bytes_total{pod!=""}[5m]))', "pod"),
    ("net_tx_bytes_per_second",
     'sum by (namespace, pod) (rate(container_network_transmit_bytes_total{pod!=""}[5m]))', "pod"),
    ("fs_used_bytes", 'sum by (namespace, pod) (container_fs_usage_bytes{pod!="", container!=""})', "pod"),
    ("pvc_used_ratio",
     "max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes) / "
     "max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_capacity_bytes)", "pvc"),
)
PVC_CONTAINER = "pvc"  # a volume's series: level namespace, name = the claim, container = "pvc"


def interval_seconds() -> float:
    return float(getattr(settings, "PORTAL_METRICS_INTERVAL_SECONDS", 30.0))


@dataclass
class Outcome:
    """What one collection did. ``status``: ``ok``, ``no_metrics_api`` (404/503: read-model figures
    only), ``metrics_forbidden``, ``unreachable`` (nothing written), ``skipped`` (gone or disabled),
    ``error`` (credentials that do not decrypt, a refused address)."""

    cluster_id: int
    ts: datetime
    status: str = "ok"
    message: str = ""
    samples_written: int = 0
    points_written: int = 0
    series: int = 0
    prometheus: str = ""  # "" not configured, "ok", or what went wrong
    node_metrics: list[dict[str, Any]] = field(default_factory=list)
    pod_metrics: list[dict[str, Any]] = field(default_factory=list)


def default_client(cluster: Cluster) -> KubeClient:
    return KubeClient(cluster.connection_spec(), read_timeout=CALL_TIMEOUT, connect_timeout=3.0)


def scoped_namespaces(cluster: Cluster) -> list[str]:
    """The namespaces to read pod metrics of one by one (a namespace-scoped identity), else []."""
    if cluster.namespaces:
        return [str(n) for n in cluster.namespaces]
    permissions = cluster.permissions or {}
    if permissions.get("scope") == "namespaces":
        return [str(n) for n in permissions.get("namespaces") or []]
    return []


def collect_cluster(cluster_id: int, *, now: datetime | None = None, client_factory: ClientFactory | None = None,
                    metrics_api: str = METRICS_API) -> Outcome:
    """One collection of one cluster (see the module docstring). Never raises for what the
    cluster or Prometheus answer; the outcome is logged and returned."""
    now = now or timezone.now()
    ts = store.align(now, interval_seconds())
    outcome = Outcome(cluster_id=cluster_id, ts=ts)
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None or not cluster.enabled:
        outcome.status, outcome.message = "skipped", "The cluster is gone or disabled."
        return outcome
    namespaces = scoped_namespaces(cluster)
    try:
        client = (client_factory or default_client)(cluster)
    except (DecryptionError, KubeError, AddressError, ValueError) as exc:
        outcome.status, outcome.message = "error", f"No client for the cluster: {exc}"
        _log(outcome)
        return outcome
    with client:
        _read_metrics(client, namespaces, metrics_api, outcome)
        if outcome.status == "unreachable":
            _log(outcome)
            return outcome
        pods = _pods(cluster_id)
        resources: dict[tuple[str, str], dict[str, samples.ContainerResources]] = {}
        if samples.needs_container_resources(pods):
            resources = _container_resources(client, namespaces)
    collected = samples.build(
        cluster_id=cluster_id, nodes=_nodes(cluster_id), pods=pods, owners=_owners(cluster_id),
        node_metrics=outcome.node_metrics, pod_metrics=outcome.pod_metrics, service_maps=_service_maps(cluster_id),
        container_resources_by_pod=resources)
    keys = list(collected.rows)
    pvc_points: list[tuple[samples.SeriesKey, str, float]] = []
    if cluster.prometheus_url:
        pvc_points = _prometheus(cluster, now, collected, outcome)
    ids = store.series_ids([*keys, *(k for k, _, _ in pvc_points)], now)
    outcome.series = len(ids)
    outcome.samples_written = store.write_samples(
        [store.Sample(series_id=ids[k], ts=ts, **collected.rows[k].as_dict()) for k in keys])
    outcome.points_written = store.write_points(
        [(ids[k], metric, ts, value) for k, metric, value in [*collected.points, *pvc_points] if k in ids])
    _log(outcome)
    return outcome


def _log(outcome: Outcome) -> None:
    level = logging.INFO if outcome.status in ("ok", "skipped") else logging.WARNING
    logger.log(level, "metrics collection of cluster %s: %s%s", outcome.cluster_id, outcome.status,
               f" ({outcome.message})" if outcome.message else "",
               extra={"cluster_id": outcome.cluster_id, "status": outcome.status, "samples": outcome.samples_written,
                      "points": outcome.points_written, "prometheus": outcome.prometheus})


# ---------------------------------------------------------------------------- metrics.k8s.io


def _read_metrics(client: KubeClient, namespaces: list[str], api: str, outcome: Outcome) -> None:
    """Fill ``outcome.node_metrics`` / ``pod_metrics`` and its status from the metrics API."""
    try:
        outcome.node_metrics = list_node_metrics(client, api=api, timeout=CALL_TIMEOUT)
    except Forbidden:
        outcome.node_metrics = []  # a namespace-scoped identity: the pods' metrics still come
        if not namespaces:
            outcome.status = "metrics_forbidden"
            outcome.message = "The identity may not read nodes.metrics.k8s.io."
    except Unreachable as exc:
        outcome.status, outcome.message = "unreachable", str(exc)
        return
    except NotFound:
        outcome.status = "no_metrics_api"
        outcome.message = f"The cluster does not serve {api} (no metrics-server): read-model figures only."
        return
    except KubeError as exc:  # an APIService that is registered but not available answers 503
        outcome.status = "no_metrics_api"
        outcome.message = f"The metrics API did not answer ({exc}): read-model figures only."
        return
    for namespace in namespaces or [""]:
        try:
            outcome.pod_metrics.extend(list_pod_metrics(client, namespace, api=api, timeout=CALL_TIMEOUT))
        except Forbidden:
            outcome.status = "metrics_forbidden"
            outcome.message = f"The identity may not read pods.metrics.k8s.io{' in ' + namespace if namespace else ''}."
        except Unreachable as exc:
            outcome.status, outcome.message = "unreachable", str(exc)
            return
        except KubeError as exc:
            outcome.status = "no_metrics_api"
            outcome.message = f"The metrics API did not answer ({exc}): read-model figures only."


def _container_resources(client: KubeClient, namespaces: list[str]
                         ) -> dict[tuple[str, str], dict[str, samples.ContainerResources]]:
    """Per (namespace, pod), each container's requests and limits, from a live pod list; {} when
    the list fails (the pods' own figures are used then)."""
    out: dict[tuple[str, str], dict[str, samples.ContainerResources]] = {}
    for namespace in namespaces or [""]:
        try:
            items = list_pods(client, namespace, timeout=CALL_TIMEOUT)
        except KubeError as exc:
            logger.warning("live pod list for container requests failed: %s", exc)
            continue
        for pod in items:
            meta = pod.get("metadata") or {}
            out[(str(meta.get("namespace", "")), str(meta.get("name", "")))] = samples.pod_container_resources(pod)
    return out


# ---------------------------------------------------------------------------- read model


def _nodes(cluster_id: int) -> list[samples.NodeRow]:
    return [samples.NodeRow(name=name, data=data or {}) for name, data in
            KubeObject.objects.filter(cluster_id=cluster_id, kind="Node").values_list("name", "data")]


def _pods(cluster_id: int) -> list[samples.PodRow]:
    rows = KubeObject.objects.filter(cluster_id=cluster_id, kind="Pod").values_list(
        "namespace", "name", "node_name", "phase", "data", "labels")
    return [samples.PodRow(namespace=ns, name=name, node_name=node, phase=phase, data=data or {},
                           labels=labels or {}) for ns, name, node, phase, data, labels in rows]


def _owners(cluster_id: int) -> list[samples.OwnerRow]:
    rows = KubeObject.objects.filter(cluster_id=cluster_id, kind__in=("ReplicaSet", "Job")).values_list(
        "kind", "namespace", "name", "data__owner")
    return [samples.OwnerRow(kind=kind, namespace=ns, name=name, owner=owner if isinstance(owner, dict) else None)
            for kind, ns, name, owner in rows]


def _service_maps(cluster_id: int) -> dict[str, tuple[int, int]]:
    return {ns: (pk, ws) for ns, pk, ws in
            ServiceMap.objects.filter(cluster_id=cluster_id).values_list("namespace", "id", "workspace_id")}


# ---------------------------------------------------------------------------- Prometheus


class PrometheusError(Exception):
    pass


def _prometheus(cluster: Cluster, now: datetime, collected: samples.Collected, outcome: Outcome
                ) -> list[tuple[samples.SeriesKey, str, float]]:
    """Run the queries; pod figures are added to ``collected.points``, volume figures returned
    (their series are not in ``collected``). A failure is logged and stops the rest."""
    pods = {(k.namespace, k.name): k for k in collected.rows if k.level == "pod"}
    claims = set(KubeObject.objects.filter(cluster_id=cluster.pk, kind="PersistentVolumeClaim")
                 .values_list("namespace", "name"))
    maps = _service_maps(cluster.pk)
    volume_points: list[tuple[samples.SeriesKey, str, float]] = []
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as ca_file, outbound.session() as session:
            verify: bool | str = True
            if cluster.prometheus_ca_pem.strip():
                ca_file.write(cluster.prometheus_ca_pem)
                ca_file.flush()
                verify = ca_file.name
            for metric, query, subject in PROMETHEUS_QUERIES:
                for labels, value in query_instant(session, cluster.prometheus_url, query, now, verify=verify):
                    ns = labels.get("namespace", "")
                    if subject == "pod":
                        key = pods.get((ns, labels.get("pod", "")))
                        if key is not None:
                            collected.points.append((key, metric, value))
                    elif (ns, labels.get("persistentvolumeclaim", "")) in claims:
                        sm, ws = maps.get(ns, (None, None))
                        volume_points.append((samples.SeriesKey(
                            cluster_id=cluster.pk, level="namespace", namespace=ns,
                            name=labels["persistentvolumeclaim"], container=PVC_CONTAINER, service_map_id=sm,
                            workspace_id=ws), metric, value))
    except (requests.RequestException, AddressError, PrometheusError) as exc:
        message = str(exc) if isinstance(exc, PrometheusError) else outbound.failure_message(
            exc, url=cluster.prometheus_url, what="Prometheus")
        outcome.prometheus = message
        logger.warning("Prometheus of cluster %s: %s", cluster.pk, message)
        return volume_points
    outcome.prometheus = "ok"
    return volume_points


def query_instant(session: requests.Session, base_url: str, query: str, at: datetime, *,
                  verify: bool | str = True) -> list[tuple[dict[str, str], float]]:
    """An instant PromQL query (``GET <base>/api/v1/query``): the vector's (labels, value) pairs;
    NaN and infinite values are left out. :class:`PrometheusError` for an answer that is not a
    successful vector, larger than the cap, or a redirect."""
    url = base_url.rstrip("/") + "/api/v1/query"
    response = session.get(url, params={"query": query, "time": f"{at.timestamp():.3f}"}, timeout=PROMETHEUS_TIMEOUT,
                           verify=verify, allow_redirects=False, stream=True,
                           headers={"Accept": "application/json"})
    with response:
        if response.is_redirect:
            raise PrometheusError(f"Prometheus at {outbound.host_of(base_url)} answered with a redirect; give the "
                                  "address it redirects to.")
        body = b""
        for chunk in response.iter_content(64 * 1024):
            body += chunk
            if len(body) > PROMETHEUS_MAX_BYTES:
                raise PrometheusError(f"Prometheus answered more than {PROMETHEUS_MAX_BYTES} bytes for one query.")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise PrometheusError(f"Prometheus answered HTTP {response.status_code} with something that is not "
                              "JSON; is the address its HTTP API?") from exc
    if not isinstance(data, dict) or data.get("status") != "success":
        error = data.get("error") if isinstance(data, dict) else None
        raise PrometheusError(f"Prometheus refused the query (HTTP {response.status_code}): {error or 'no detail'}")
    result = data.get("data") or {}
    if result.get("resultType") != "vector":
        raise PrometheusError(f"Prometheus answered a {result.get('resultType')!r}, not a vector.")
    out = []
    for item in result.get("result") or []:
        try:
            value = float(item["value"][1])
            labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            continue
        if math.isfinite(value):
            out.append((labels, value))
    return out

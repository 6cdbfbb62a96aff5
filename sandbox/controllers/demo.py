"""Demo workloads so a fresh sandbox fleet looks like a living estate (``make run``, ``--seed-demo``).

``seed(cluster, profile)`` creates, in one synchronous pass over the store, a
realistic mix the controllers then bring to life: namespaces ``shop``,
``payments`` and ``monitoring`` with Deployments, a StatefulSet with claims, a
DaemonSet, a CronJob, a finished Job, Services, ConfigMaps, a Secret, PVCs and
an HPA.  ``crashloop=True`` adds a crash-looping Deployment and
``not_ready_node=True`` makes the last node NotReady.  Profiles scale it:
``small`` (fewer replicas), ``default``, ``large`` (more replicas plus a
``batch`` namespace).  Existing objects are left alone, so seeding twice is
harmless.
"""

from __future__ import annotations

import base64
import contextlib
from typing import TYPE_CHECKING, Any

from sandbox.errors import AlreadyExists, ApiError
from sandbox.resources import (
    CONFIGMAPS,
    CRONJOBS,
    DAEMONSETS,
    DEPLOYMENTS,
    HPAS,
    JOBS,
    NAMESPACES,
    NODES,
    PERSISTENTVOLUMECLAIMS,
    SECRETS,
    SERVICES,
    STATEFULSETS,
    ResourceType,
)

if TYPE_CHECKING:
    from sandbox.cluster import SimCluster

FIELD_MANAGER = "sandbox-seed"
PROFILES = {"small": 0.5, "default": 1.0, "large": 2.0}


def _container(name: str, image: str, cpu: str, memory: str, port: int | None = None,
               **extra: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": image,
                         "resources": {"requests": {"cpu": cpu, "memory": memory},
                                       "limits": {"memory": memory}}, **extra}
    if port:
        c["ports"] = [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    return c


def _deployment(ns: str, name: str, replicas: int, container: dict[str, Any], *,
                annotations: dict[str, str] | None = None, tier: str = "backend") -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": ns, "tier": tier}
    tmpl: dict[str, Any] = {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container]}}
    if annotations:
        tmpl["metadata"]["annotations"] = annotations
    return {"metadata": {"name": name, "namespace": ns, "labels": labels,
                         "annotations": {"kubernetes.io/change-cause": f"initial release of {name}"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                     "template": tmpl}}


def _service(ns: str, name: str, port: int = 80, target: str | int = "http") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/name": name}},
            "spec": {"selector": {"app.kubernetes.io/name": name},
                     "ports": [{"name": "http", "port": port, "targetPort": target, "protocol": "TCP"}]}}


def manifests(profile: str = "default", *, crashloop: bool = False) -> list[tuple[ResourceType, dict[str, Any]]]:
    """The objects :func:`seed` creates, in creation order."""
    k = PROFILES.get(profile, 1.0)

    def n(base: int) -> int:
        return max(1, round(base * k))

    out: list[tuple[ResourceType, dict[str, Any]]] = []
    for ns, team in (("shop", "storefront"), ("payments", "payments"), ("monitoring", "platform")):
        out.append((NAMESPACES, {"metadata": {"name": ns, "labels": {"team": team, "env": "demo"}}}))
    # shop
    out.append((CONFIGMAPS, {"metadata": {"name": "shop-config", "namespace": "shop"},
                             "data": {"CURRENCY": "KRW", "FEATURE_FLAGS": "new-checkout,reviews",
                                      "LOG_LEVEL": "info"}}))
    out.append((DEPLOYMENTS, _deployment("shop", "frontend", n(3),
                                         _container("frontend", "nginx:1.27", "100m", "128Mi", 80),
                                         annotations={"sandbox.k8s.io/cpu-load": "0.55"}, tier="frontend")))
    out.append((DEPLOYMENTS, _deployment("shop", "cart", n(2),
                                         _container("cart", "ghcr.io/sandbox-demo/cart:2.4.1", "200m", "256Mi",
                                                    8080))))
    out.append((DEPLOYMENTS, _deployment("shop", "catalog", n(2),
                                         _container("catalog", "ghcr.io/sandbox-demo/catalog:1.9.0", "150m",
                                                    "192Mi", 8080))))
    for name, target in (("frontend", "http"), ("cart", "http"), ("catalog", "http")):
        out.append((SERVICES, _service("shop", name, 80, target)))
    out.append((HPAS, {"metadata": {"name": "frontend", "namespace": "shop"},
                       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "frontend"},
                                "minReplicas": n(3), "maxReplicas": n(3) * 3,
                                "metrics": [{"type": "Resource", "resource": {
                                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}}))
    if crashloop:
        out.append((DEPLOYMENTS, _deployment("shop", "recommendations", 1,
                                             _container("recommendations",
                                                        "ghcr.io/sandbox-demo/recommendations:crashloop", "100m",
                                                        "128Mi", 8080))))
    # payments
    out.append((SECRETS, {"metadata": {"name": "payments-db", "namespace": "payments"}, "type": "Opaque",
                          "data": {"username": base64.b64encode(b"payments").decode(),
                                   "password": base64.b64encode(b"sandbox-not-a-secret").decode()}}))
    out.append((CONFIGMAPS, {"metadata": {"name": "payments-config", "namespace": "payments"},
                             "data": {"PROVIDER": "sandbox-pg", "RETRY_LIMIT": "5"}}))
    out.append((STATEFULSETS, {
        "metadata": {"name": "postgres", "namespace": "payments", "labels": {"app.kubernetes.io/name": "postgres"}},
        "spec": {"replicas": 1 if k < 1 else 2, "serviceName": "postgres",
                 "selector": {"matchLabels": {"app.kubernetes.io/name": "postgres"}},
                 "template": {"metadata": {"labels": {"app.kubernetes.io/name": "postgres"}},
                              "spec": {"containers": [_container("postgres", "postgres:16.4", "250m", "512Mi", 5432)]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                           "spec": {"accessModes": ["ReadWriteOnce"],
                                                    "resources": {"requests": {"storage": "5Gi"}}}}]}}))
    out.append((SERVICES, {"metadata": {"name": "postgres", "namespace": "payments"},
                           "spec": {"clusterIP": "None", "selector": {"app.kubernetes.io/name": "postgres"},
                                    "ports": [{"name": "pg", "port": 5432, "targetPort": 5432}]}}))
    out.append((DEPLOYMENTS, _deployment("payments", "payments-api", n(2),
                                         _container("api", "ghcr.io/sandbox-demo/payments-api:3.2.0", "200m",
                                                    "256Mi", 8080))))
    out.append((SERVICES, _service("payments", "payments-api", 80)))
    out.append((PERSISTENTVOLUMECLAIMS, {"metadata": {"name": "reports", "namespace": "payments"},
                                         "spec": {"accessModes": ["ReadWriteOnce"],
                                                  "resources": {"requests": {"storage": "10Gi"}}}}))
    job_spec = {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [
        _container("settle", "ghcr.io/sandbox-demo/settlement:1.0.3", "100m", "128Mi")]}}}
    out.append((CRONJOBS, {"metadata": {"name": "settlement", "namespace": "payments"},
                           "spec": {"schedule": "*/15 * * * *", "concurrencyPolicy": "Forbid",
                                    "jobTemplate": {"spec": job_spec}}}))
    out.append((JOBS, {"metadata": {"name": "db-migrate-42", "namespace": "payments"},
                       "spec": {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "Never", "containers": [
                           _container("migrate", "ghcr.io/sandbox-demo/migrate:42", "100m", "64Mi")]}}}}))
    # monitoring
    out.append((DAEMONSETS, {
        "metadata": {"name": "node-exporter", "namespace": "monitoring",
                     "labels": {"app.kubernetes.io/name": "node-exporter"}},
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "node-exporter"}},
                 "template": {"metadata": {"labels": {"app.kubernetes.io/name": "node-exporter"}},
                              "spec": {"tolerations": [{"operator": "Exists"}],
                                       "containers": [_container("node-exporter", "quay.io/prometheus/node-exporter:v1.8.2",
                                                                 "50m", "64Mi", 9100)]}}}}))
    out.append((DEPLOYMENTS, _deployment("monitoring", "prometheus", 1,
                                         _container("prometheus", "quay.io/prometheus/prometheus:v2.54.1", "300m",
                                                    "1Gi", 9090))))
    out.append((DEPLOYMENTS, _deployment("monitoring", "grafana", 1,
                                         _container("grafana", "grafana/grafana:11.2.0", "100m", "256Mi", 3000),
                                         tier="frontend")))
    out.append((SERVICES, _service("monitoring", "prometheus", 9090)))
    out.append((SERVICES, _service("monitoring", "grafana", 80)))
    out.append((PERSISTENTVOLUMECLAIMS, {"metadata": {"name": "prometheus-data", "namespace": "monitoring"},
                                         "spec": {"accessModes": ["ReadWriteOnce"],
                                                  "resources": {"requests": {"storage": "20Gi"}}}}))
    if profile == "large":
        out.append((NAMESPACES, {"metadata": {"name": "batch", "labels": {"team": "data", "env": "demo"}}}))
        for i in range(1, 4):
            out.append((DEPLOYMENTS, _deployment("batch", f"worker-{i}", n(3),
                                                 _container("worker", "ghcr.io/sandbox-demo/worker:0.8.1", "100m",
                                                            "128Mi"))))
    return out


def seed(cluster: SimCluster, profile: str = "default", *, crashloop: bool = False,
         not_ready_node: bool = False) -> list[str]:
    """Create the demo objects in ``cluster`` (skipping existing ones); returns ``kind/ns/name`` of what it made."""
    store = cluster.store
    made: list[str] = []
    for rt, body in manifests(profile, crashloop=crashloop):
        md = body["metadata"]
        if store.get(rt, md.get("namespace"), md["name"]) is not None:
            continue
        try:
            store.create(rt, body, field_manager=FIELD_MANAGER)
        except AlreadyExists:
            continue
        made.append(f"{rt.kind}/{md.get('namespace', '')}/{md['name']}".replace("//", "/"))
    if not_ready_node:
        nodes, _ = store.list(NODES)
        if len(nodes) > 1:
            name = nodes[-1]["metadata"]["name"]
            manager = getattr(cluster, "controllers", None)
            if manager is not None and hasattr(manager, "set_node_ready"):
                with contextlib.suppress(KeyError, ApiError):
                    manager.set_node_ready(name, False)
                    made.append(f"Node/{name} (NotReady)")
    return made


def seed_scale(cluster: SimCluster, pods: int = 1000, *, per_deployment: int = 50,
               namespace: str = "bench") -> int:
    """Create ``pods`` pods' worth of small Deployments (``per_deployment`` replicas each) for benchmarks.

    Returns the number of replicas requested.  Pair it with ``config.bulk()`` as the cluster's
    ``controller_config`` to keep the per-pod cost at one status write and no Events.
    """
    store = cluster.store
    if store.get(NAMESPACES, None, namespace) is None:
        store.create(NAMESPACES, {"metadata": {"name": namespace, "labels": {"env": "bench"}}})
    made = 0
    i = 0
    while made < pods:
        i += 1
        n = min(per_deployment, pods - made)
        name = f"load-{i:04d}"
        if store.get(DEPLOYMENTS, namespace, name) is None:
            store.create(DEPLOYMENTS, _deployment(namespace, name, n, _container(
                "app", "registry.k8s.io/pause:3.10", "10m", "16Mi")), field_manager=FIELD_MANAGER)
        made += n
    return made

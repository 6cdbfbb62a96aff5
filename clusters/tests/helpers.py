"""Helpers shared by the clusters app's test modules (and the apps' tests built on clusters):
registering a sandbox cluster, running the watcher engine with short intervals, seeding a
namespace, a cluster user's client, projected rows. Test modules import them from here, never
from another ``test_*`` module (tests/test_project.py checks); app-free helpers (``wait_for``,
``unique``, ``Subscriber``) are in ``portal/testing.py``."""

from __future__ import annotations

import datetime
import itertools
import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from clusters.kube.client import KubeClient
from clusters.kube.connection import spec_from_kubeconfig
from clusters.kube.kinds import WATCHED_KINDS
from clusters.models import Cluster, KindSync
from clusters.watcher.config import WatcherConfig
from clusters.watcher.engine import Engine, EngineThread
from clusters.watcher.projection import project
from sandbox.resources import (
    CRONJOBS,
    DAEMONSETS,
    DEPLOYMENTS,
    EVENTS,
    HPAS,
    INGRESSES,
    JOBS,
    NAMESPACES,
    PERSISTENTVOLUMECLAIMS,
    PERSISTENTVOLUMES,
    RESOURCEQUOTAS,
    SERVICES,
    STATEFULSETS,
)

_names = itertools.count(1)


FAST = WatcherConfig(
    probe_interval=0.5, probe_timeout=1.0, probe_failures=2, request_timeout=3.0,
    lease_seconds=3.0, poll_interval=0.5, summary_interval=0.3, flush_interval=0.02, backoff_base=0.2,
    backoff_max=2.0, unauthorized_retry=2.0, publish_interval=0.2,
)


def register(fleet: Any, sandbox_name: str) -> Cluster:
    spec, _ = spec_from_kubeconfig(fleet.cluster(sandbox_name).kubeconfig.read_text())
    cluster = Cluster.objects.create(name=f"{sandbox_name}-{next(_names)}", server=spec.server, ca_pem=spec.ca_pem,
                                     tls_server_name=spec.tls_server_name)
    cluster.set_credentials(spec.credentials)
    cluster.save()
    return cluster


def engine(holder: str = "test-a", **overrides: Any) -> EngineThread:
    config = WatcherConfig(**{**FAST.as_dict(), **overrides})
    return EngineThread(Engine(config=config, holder=holder))


def synced(cluster: Cluster) -> bool:
    states = list(KindSync.objects.filter(cluster=cluster).values_list("state", flat=True))
    return len(states) == len(WATCHED_KINDS) and all(s == "synced" for s in states)


def seed(fleet: Any, name: str, ns: str) -> None:
    labels = {"app": "web"}

    def create(c: Any) -> None:
        s = c.store
        s.create(NAMESPACES, {"metadata": {"name": ns}})
        s.create(DEPLOYMENTS, {"metadata": {"name": "web", "namespace": ns, "labels": labels},
                               "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                                        "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                                            {"name": "web", "image": "nginx:1.27",
                                             "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}}]}}}})
        for rt, name in ((STATEFULSETS, "db"), (DAEMONSETS, "agent")):
            sel = {"app": name}
            spec: dict[str, Any] = {"selector": {"matchLabels": sel}, "template": {
                "metadata": {"labels": sel}, "spec": {"containers": [{"name": name, "image": f"{name}:1"}]}}}
            if rt is STATEFULSETS:
                spec.update(replicas=1, serviceName=name)
            s.create(rt, {"metadata": {"name": name, "namespace": ns}, "spec": spec})
        s.create(SERVICES, {"metadata": {"name": "web", "namespace": ns},
                            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}})
        s.create(JOBS, {"metadata": {"name": "once", "namespace": ns},
                        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                            {"name": "c", "image": "busybox"}]}}}})
        s.create(CRONJOBS, {"metadata": {"name": "nightly", "namespace": ns},
                            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                                "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}})
        s.create(INGRESSES, {"metadata": {"name": "web", "namespace": ns},
                             "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["web.example.com"]}],
                                      "rules": [{"host": "web.example.com", "http": {"paths": [
                                          {"path": "/", "pathType": "Prefix",
                                           "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}})
        s.create(PERSISTENTVOLUMECLAIMS, {"metadata": {"name": "data", "namespace": ns},
                                          "spec": {"accessModes": ["ReadWriteOnce"],
                                                   "resources": {"requests": {"storage": "1Gi"}}}})
        s.create(RESOURCEQUOTAS, {"metadata": {"name": "q", "namespace": ns}, "spec": {"hard": {"pods": "10"}}})
        s.create(HPAS, {"metadata": {"name": "web", "namespace": ns},
                        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                                 "minReplicas": 1, "maxReplicas": 4}})
        s.create(EVENTS, {"metadata": {"name": "web.1", "namespace": ns}, "type": "Warning", "reason": "BackOff",
                          "message": "Back-off restarting failed container",
                          "involvedObject": {"kind": "Pod", "name": "web-x", "namespace": ns}, "count": 3})
        s.create(PERSISTENTVOLUMES, {"metadata": {"name": f"pv-{ns}"},
                                     "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"],
                                              "persistentVolumeReclaimPolicy": "Retain",
                                              "hostPath": {"path": "/tmp/x"}}})

    fleet.in_cluster(name, create)


def client_for(fleet: Any, name: str) -> KubeClient:
    """A cluster user's client, through the same kubeconfig the portal was given."""
    return KubeClient(spec_from_kubeconfig(fleet.cluster(name).kubeconfig.read_text())[0])


def other_ca() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone-else")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def node(name: str, ready: bool = True) -> Any:
    return project("Node", {"metadata": {"name": name, "resourceVersion": "1"},
                            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110",
                                                    "ephemeral-storage": "10Gi"},
                                       "allocatable": {"cpu": "3", "memory": "7Gi", "pods": "100"},
                                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}})


def pod(name: str, phase: str, cpu: str) -> Any:
    return project("Pod", {"metadata": {"name": name, "namespace": "default", "resourceVersion": "1"},
                           "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu,
                                                                                            "memory": "1Gi"}}}]},
                           "status": {"phase": phase}})


def kube(handle: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A request straight to the sandbox cluster (test setup only)."""
    ctx = ssl.create_default_context(cafile=str(handle.ca_path))
    req = urllib.request.Request(f"https://127.0.0.1:{handle.port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {handle.token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())

"""One simulated cluster: its identity, store, bootstrap objects, HTTPS endpoint, faults and controllers.

A ``SimCluster`` is what a real cluster is to the portal: an HTTPS endpoint
with a token, a version, a provider/region, nodes and the usual default
objects.  The fleet (``sandbox.fleet``) owns many of them in one event loop.

Naming rules (documented in README): nodes are ``<cluster>-node-<n>`` (n from
1), zones ``<region>-a|b|c`` round-robin, pod CIDR ``10.244.<n>.0/24``, node
InternalIP ``10.0.<cluster-index>.<n>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import secrets
import ssl
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

from sandbox import endpointslices
from sandbox.errors import ApiError
from sandbox.interfaces import ControllerManagerProtocol, LogProvider, MetricsProvider
from sandbox.resources import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    CONFIGMAPS,
    ENDPOINTS,
    NAMESPACES,
    NODES,
    SERVICEACCOUNTS,
    SERVICES,
    STORAGECLASSES,
    ResourceType,
)
from sandbox.store import ADDED, Store

log = logging.getLogger(__name__)

DEFAULT_VERSION = "v1.32.4"
PROVIDER_DEFAULTS: dict[str, tuple[str, str]] = {
    # provider -> (default region, default instance type)
    "aws": ("ap-northeast-2", "m5.xlarge"),
    "gcp": ("asia-northeast3", "e2-standard-4"),
    "azure": ("koreacentral", "Standard_D4s_v3"),
    "onprem": ("dc1", "bare-metal"),
}


@dataclass
class FaultSettings:
    """Per-cluster fault injection, changed at runtime through the admin API/CLI.

    ``error_rate`` is the share (0..1) of requests answered with a status
    picked from ``error_codes`` (500, 503, 429; 429 and 503 carry
    ``Retry-After: retry_after``).  ``blackhole`` holds every request open
    without answering.  ``expire_next_watch`` makes the next watch that names a
    resourceVersion fail with 410 Gone.  ``stall_watches`` makes every watch stream go silent
    (open watches stop sending, even at their timeoutSeconds; new ones get no answer) while
    other requests are served: a half-open connection or a proxy that stopped forwarding.
    Clearing it drops the stalled connections.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_codes: tuple[int, ...] = (500, 503, 429)
    retry_after: int = 1
    blackhole: bool = False
    expire_next_watch: bool = False
    stall_watches: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["error_codes"] = list(self.error_codes)
        return d


@dataclass
class NodeConfig:
    count: int = 3
    cpu: str = "8"
    memory: str = "32Gi"
    pods: int = 110
    ephemeral_storage: str = "100Gi"
    instance_type: str = ""


@dataclass
class ClusterSpec:
    """Everything needed to (re)create a cluster; also what fleet.json records."""

    name: str
    provider: str = "aws"
    region: str = ""
    version: str = DEFAULT_VERSION
    nodes: NodeConfig = field(default_factory=NodeConfig)
    port: int = 0
    token: str = ""
    index: int = 0

    def __post_init__(self) -> None:
        region, itype = PROVIDER_DEFAULTS.get(self.provider, ("local", "sandbox.standard"))
        self.region = self.region or region
        self.nodes.instance_type = self.nodes.instance_type or itype
        self.token = self.token or secrets.token_urlsafe(32)


def _controller_factory() -> Any:
    """``sandbox.controllers.ControllerManager`` if that package exists (it is optional)."""
    if importlib.util.find_spec("sandbox.controllers") is None:
        return None
    module = importlib.import_module("sandbox.controllers")
    return getattr(module, "ControllerManager", None)


class SimCluster:
    """A simulated cluster.  Create, then ``await start(ssl_ctx)``; ``await stop()`` at the end."""

    def __init__(self, spec: ClusterSpec, *, store: Store | None = None, bootstrap: bool = True,
                 bookmark_interval: float = 60.0, enable_controllers: bool = True,
                 controller_config: Any = None) -> None:
        self.spec = spec
        # handed to the controllers (sandbox.controllers.config.ControllerConfig, e.g. fast() in tests)
        self.controller_config = controller_config
        # Cluster API (sandbox.capi): a management cluster, or {management, namespace, name} of the
        # Cluster API Cluster that provisioned this one
        self.cluster_api = False
        self.provisioned_by: dict[str, str] | None = None
        self.store = store or Store()
        self.faults = FaultSettings()
        self.bookmark_interval = bookmark_interval
        self.controllers: ControllerManagerProtocol | None = None
        self._enable_controllers = enable_controllers
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._ssl: ssl.SSLContext | None = None
        self._host = "127.0.0.1"
        self.blackhole_release = asyncio.Event()
        self.stall_release = asyncio.Event()  # set (and replaced) when stall_watches is cleared
        self.is_up = False
        self._unsubscribe = self.store.subscribe(self._on_change, resources=[NAMESPACES, ENDPOINTS])
        if bootstrap:
            bootstrap_cluster(self)

    # -------------------------------------------------------------- identity

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def token(self) -> str:
        return self.spec.token

    @property
    def port(self) -> int:
        return self.spec.port

    @property
    def url(self) -> str:
        return f"https://{self._host}:{self.spec.port}"

    @property
    def metrics(self) -> MetricsProvider:
        if self.controllers is not None:
            return self.controllers.metrics
        from sandbox.fallbacks import RequestsMetrics

        return RequestsMetrics(self.store)

    @property
    def logs(self) -> LogProvider:
        if self.controllers is not None:
            return self.controllers.logs
        from sandbox.fallbacks import StaticLogs

        return StaticLogs(self.store)

    def rotate_token(self) -> str:
        self.spec.token = secrets.token_urlsafe(32)
        return self.spec.token

    def version_info(self) -> dict[str, str]:
        v = self.spec.version.lstrip("v")
        major, minor = [*v.split("."), "0", "0"][:2]
        return {
            "major": major,
            "minor": minor,
            "emulationMajor": major,
            "emulationMinor": minor,
            "gitVersion": self.spec.version,
            "gitCommit": "sandbox0000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-04-22T16:03:59Z",
            "goVersion": "go1.23.8",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    # -------------------------------------------------------------- lifecycle

    async def start(self, ssl_ctx: ssl.SSLContext, host: str = "127.0.0.1") -> None:
        self._ssl = ssl_ctx
        self._host = host
        await self.up()
        factory = _controller_factory() if self._enable_controllers else None
        if factory is not None:
            self.controllers = factory(self)
            await self.controllers.start()

    async def up(self) -> None:
        """Bind (or re-bind, on the same port) the HTTPS endpoint."""
        if self.is_up:
            return
        from sandbox.server import build_app

        assert self._ssl is not None
        self._runner = web.AppRunner(build_app(self), access_log=None, handle_signals=False,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self._host, self.spec.port, ssl_context=self._ssl,
                                 reuse_address=True, backlog=512)
        await self._site.start()
        server = self._site._server
        if self.spec.port == 0 and server is not None:
            sockets = getattr(server, "sockets", None) or []
            self.spec.port = sockets[0].getsockname()[1]
        self.is_up = True

    async def down(self) -> None:
        """Close the endpoint and every connection (clients get connection refused)."""
        if not self.is_up:
            return
        self.is_up = False
        self.store.close_watches()
        self.blackhole_release.set()
        self.blackhole_release = asyncio.Event()
        self.stall_release.set()
        self.stall_release = asyncio.Event()
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._site = None

    async def stop(self) -> None:
        if self.controllers is not None:
            try:
                await self.controllers.stop()
            except Exception:
                log.exception("controllers of %s failed to stop", self.name)
            self.controllers = None
        await self.down()
        self._unsubscribe()
        self.store.close()

    def set_faults(self, **changes: Any) -> FaultSettings:
        """Update fault settings; unknown keys raise ``KeyError``."""
        for k, v in changes.items():
            if not hasattr(self.faults, k):
                raise KeyError(k)
            if k == "error_codes":
                v = tuple(int(x) for x in v)
            setattr(self.faults, k, v)
        if not self.faults.blackhole:
            self.blackhole_release.set()
            self.blackhole_release = asyncio.Event()
        if not self.faults.stall_watches:
            self.stall_release.set()
            self.stall_release = asyncio.Event()
        return self.faults

    def clear_faults(self) -> None:
        self.faults = FaultSettings()
        self.blackhole_release.set()
        self.blackhole_release = asyncio.Event()
        self.stall_release.set()
        self.stall_release = asyncio.Event()

    # -------------------------------------------------------------- namespace defaults

    def _on_change(self, event_type: str, rt: ResourceType, obj: dict[str, Any]) -> None:
        """Service-account/root-CA controller: every new namespace gets ``default`` SA and ``kube-root-ca.crt``;
        Endpoints are mirrored into EndpointSlices."""
        if rt is ENDPOINTS:
            endpointslices.mirror(self.store, event_type, obj)
            return
        if rt is not NAMESPACES or event_type != ADDED:
            return
        ns = obj["metadata"]["name"]
        for rtype, body in ((SERVICEACCOUNTS, {"metadata": {"name": "default", "namespace": ns}}),
                            (CONFIGMAPS, {"metadata": {"name": "kube-root-ca.crt", "namespace": ns},
                                          "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n(sandbox)\n"
                                                             "-----END CERTIFICATE-----\n"}})):
            if self.store.get(rtype, ns, body["metadata"]["name"]) is None:
                with contextlib.suppress(ApiError):
                    self.store.create(rtype, body, _owned=True)


def node_object(spec: ClusterSpec, n: int) -> dict[str, Any]:
    """The Node a fresh cluster has (also used by controllers/tests to add nodes)."""
    name = f"{spec.name}-node-{n}"
    zone = f"{spec.region}-{'abc'[(n - 1) % 3]}"
    nc = spec.nodes
    ip = f"10.0.{spec.index % 256}.{n % 256}"
    from sandbox.quantity import parse_quantity

    mem = parse_quantity(nc.memory).value
    alloc_mem = max(int(mem) - 1024**3, int(mem * 9 / 10))
    cpu_m = parse_quantity(nc.cpu).milli
    now = _now()
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": nc.instance_type,
                "topology.kubernetes.io/region": spec.region,
                "topology.kubernetes.io/zone": zone,
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": {"podCIDR": f"10.244.{n % 256}.0/24", "podCIDRs": [f"10.244.{n % 256}.0/24"],
                 "providerID": f"{spec.provider}://{spec.region}/{name}"},
        "status": {
            "capacity": {"cpu": nc.cpu, "memory": nc.memory, "pods": str(nc.pods),
                         "ephemeral-storage": nc.ephemeral_storage},
            "allocatable": {"cpu": f"{cpu_m - 100}m", "memory": f"{alloc_mem // 1024}Ki", "pods": str(nc.pods),
                            "ephemeral-storage": nc.ephemeral_storage},
            "conditions": [
                _cond("MemoryPressure", "False", "KubeletHasSufficientMemory",
                      "kubelet has sufficient memory available", now),
                _cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now),
                _cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available",
                      now),
                _cond("Ready", "True", "KubeletReady", "kubelet is posting ready status", now),
            ],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": secrets.token_hex(16),
                "systemUUID": secrets.token_hex(16),
                "bootID": secrets.token_hex(16),
                "kernelVersion": "6.8.0-1015-sandbox",
                "osImage": "Ubuntu 22.04.5 LTS",
                "containerRuntimeVersion": "containerd://1.7.22",
                "kubeletVersion": spec.version,
                "kubeProxyVersion": spec.version,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
            "images": [],
        },
    }


def _now() -> str:
    from sandbox.store import now_iso

    return now_iso()


def _cond(ctype: str, status: str, reason: str, message: str, now: str) -> dict[str, str]:
    return {"type": ctype, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def bootstrap_cluster(cluster: SimCluster) -> None:
    """Namespaces, nodes, the ``kubernetes`` Service, a default StorageClass and admin RBAC."""
    s = cluster.store
    spec = cluster.spec
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        s.create(NAMESPACES, {"metadata": {"name": ns}}, _owned=True)
    for n in range(1, spec.nodes.count + 1):
        s.create(NODES, node_object(spec, n), _owned=True)
    s.create(SERVICES, {"metadata": {"name": "kubernetes", "namespace": "default",
                                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
                        "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443,
                                                                     "targetPort": 6443, "protocol": "TCP"}]}},
             _owned=True)
    s.create(ENDPOINTS, {"metadata": {"name": "kubernetes", "namespace": "default",
                                      "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                         "subsets": [{"addresses": [{"ip": "10.0.0.1"}],
                                      "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]},
             _owned=True)
    s.create(STORAGECLASSES, {"metadata": {"name": "standard",
                                           "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                              "provisioner": "sandbox.k8s.io/hostpath", "reclaimPolicy": "Delete",
                              "volumeBindingMode": "Immediate", "allowVolumeExpansion": True}, _owned=True)
    s.create(CLUSTERROLES, {"metadata": {"name": "cluster-admin",
                                         "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
                            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                                      {"nonResourceURLs": ["*"], "verbs": ["*"]}]}, _owned=True)
    for role, verbs in (("admin", ["*"]), ("edit", ["create", "delete", "get", "list", "patch", "update", "watch"]),
                        ("view", ["get", "list", "watch"])):
        s.create(CLUSTERROLES, {"metadata": {"name": role,
                                             "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
                                "rules": [{"apiGroups": ["", "apps", "batch"], "resources": ["*"],
                                           "verbs": verbs}]}, _owned=True)
    s.create(CLUSTERROLEBINDINGS, {"metadata": {"name": "cluster-admin",
                                                "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
                                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                               "name": "cluster-admin"},
                                   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                                 "name": "system:masters"}]}, _owned=True)

"""A fleet of simulated clusters in one event loop, plus the admin endpoint that changes it at runtime.

The portal only ever sees kubeconfig files and HTTPS endpoints; the fleet
writes those (per cluster a token kubeconfig ``<name>.kubeconfig`` and a
client-certificate kubeconfig ``<name>-cert.kubeconfig`` for user ``sandbox-admin`` in
group ``system:masters``, and a ``fleet.json`` index, into the state directory) and lets tests and operators add/remove clusters and inject
faults through a token-protected loopback admin API.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
import secrets
import ssl
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from sandbox.certs import TlsMaterial, ensure_tls
from sandbox.cluster import DEFAULT_VERSION, ClusterSpec, NodeConfig, SimCluster
from sandbox.store import Store

log = logging.getLogger(__name__)

CLUSTER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
PROVIDERS = ("aws", "gcp", "azure", "onprem")


class FleetError(Exception):
    """Bad admin request (unknown cluster, duplicate name, bad fault setting)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Fleet:
    """Owns the clusters, the TLS material, the state directory files and the admin API."""

    def __init__(self, state_dir: str | Path, *, host: str = "127.0.0.1", base_port: int = 0,
                 admin_port: int = 0, admin_token: str | None = None, snapshot: bool = False,
                 bookmark_interval: float = 60.0, history_size: int = 5000,
                 pod_shutdown_seconds: float = 0.5, enable_controllers: bool = True,
                 controller_config: Any = None, capi_config: Any = None) -> None:
        self.state_dir = Path(state_dir)
        self.host = host
        self.base_port = base_port
        self.admin_port = admin_port
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self.snapshot = snapshot
        self.bookmark_interval = bookmark_interval
        self.history_size = history_size
        self.pod_shutdown_seconds = pod_shutdown_seconds
        self.enable_controllers = enable_controllers
        self.controller_config = controller_config
        # Cluster API timings (sandbox.capi.config.CapiConfig); None = derived from controller_config
        self.capi_config = capi_config
        self.capi: dict[str, Any] = {}  # management cluster name -> sandbox.capi.provider.CapiProvider
        self.clusters: dict[str, SimCluster] = {}
        self._client_certs: dict[str, tuple[bytes, bytes]] = {}  # cluster -> admin (cert, key) PEM
        self._next_index = 0
        self._tls: TlsMaterial | None = None
        self._ssl: ssl.SSLContext | None = None
        self._admin_runner: web.AppRunner | None = None
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle

    @property
    def snapshot_path(self) -> Path:
        return self.state_dir / "snapshot.json"

    @property
    def index_path(self) -> Path:
        return self.state_dir / "fleet.json"

    @property
    def ca_path(self) -> Path:
        return self.state_dir / "ca.crt"

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._tls = ensure_tls(self.state_dir)
        self._ssl = self._tls.server_context()
        await self._start_admin()
        if self.snapshot and self.snapshot_path.exists():
            await self._load_snapshot()
        self.write_index()

    async def stop(self) -> None:
        if self.snapshot:
            self._save_snapshot()
        for provider in list(self.capi.values()):
            await provider.stop()
        self.capi.clear()
        for name in list(self.clusters):
            await self.clusters[name].stop()
        self.clusters.clear()
        if self._admin_runner is not None:
            await self._admin_runner.cleanup()
            self._admin_runner = None
        self.write_index(running=False)

    # ------------------------------------------------------------------ clusters

    async def add_cluster(self, name: str, *, nodes: int = 3, provider: str = "aws", region: str = "",
                          version: str = DEFAULT_VERSION, port: int | None = None, node_cpu: str = "8",
                          node_memory: str = "32Gi", token: str = "", store: Store | None = None,
                          bootstrap: bool = True, cluster_api: bool = False,
                          provisioned_by: dict[str, str] | None = None) -> SimCluster:
        """Create, start and register a cluster; writes its kubeconfig and updates fleet.json.

        ``cluster_api``: make it a management cluster (the Cluster API CRDs and the simulated
        providers of :mod:`sandbox.capi`).  ``provisioned_by``: ``{management, namespace, name}``
        of the Cluster API Cluster that made it (set by :mod:`sandbox.capi`)."""
        async with self._lock:
            if not CLUSTER_NAME.match(name) or len(name) > 63:
                raise FleetError(f"invalid cluster name {name!r}: must be a DNS-1123 label")
            if name in self.clusters:
                raise FleetError(f"cluster {name!r} already exists", 409)
            if nodes < 0 or nodes > 5000:
                raise FleetError("nodes must be between 0 and 5000")
            index = self._next_index
            self._next_index += 1
            if port is None:
                port = self.base_port + index if self.base_port else 0
            spec = ClusterSpec(name=name, provider=provider, region=region, version=version,
                               nodes=NodeConfig(count=nodes, cpu=node_cpu, memory=node_memory), port=port,
                               token=token, index=index)
            st = store or Store(history_size=self.history_size, pod_shutdown_seconds=self.pod_shutdown_seconds)
            cluster = SimCluster(spec, store=st, bootstrap=bootstrap, bookmark_interval=self.bookmark_interval,
                                 enable_controllers=self.enable_controllers,
                                 controller_config=self.controller_config)
            cluster.provisioned_by = dict(provisioned_by) if provisioned_by else None
            cluster.cluster_api = cluster_api
            assert self._ssl is not None
            await cluster.start(self._ssl, self.host)
            self.clusters[name] = cluster
            if cluster_api:
                from sandbox.capi import enable

                self.capi[name] = await enable(self, cluster, self.capi_config or self.controller_config)
            self.write_kubeconfig(cluster)
            self.write_cert_kubeconfig(cluster)
            self.write_index()
            return cluster

    async def remove_cluster(self, name: str) -> None:
        async with self._lock:
            cluster = self.clusters.pop(name, None)
            if cluster is None:
                raise FleetError(f"cluster {name!r} not found", 404)
            provider = self.capi.pop(name, None)
            if provider is not None:
                await provider.stop()
            await cluster.stop()
            self._client_certs.pop(name, None)
            for path in (self.kubeconfig_path(name), self.cert_kubeconfig_path(name)):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            self.write_index()
        # the clusters a removed management cluster provisioned go with it
        for other in [c.name for c in self.clusters.values()
                      if (c.provisioned_by or {}).get("management") == name]:
            with contextlib.suppress(FleetError):
                await self.remove_cluster(other)

    def get(self, name: str) -> SimCluster:
        try:
            return self.clusters[name]
        except KeyError:
            raise FleetError(f"cluster {name!r} not found", 404) from None

    async def fault(self, name: str, **settings: Any) -> dict[str, Any]:
        """Change faults of a cluster.

        Settings: any :class:`sandbox.cluster.FaultSettings` field, plus the
        one-shot actions ``close_watches``, ``expire_history``, ``down``,
        ``up``, ``rotate_token`` and ``clear`` (each ``True`` to trigger).
        """
        cluster = self.get(name)
        actions = {k: settings.pop(k) for k in ("close_watches", "expire_history", "down", "up", "rotate_token",
                                                "clear") if k in settings}
        result: dict[str, Any] = {}
        if actions.get("clear"):
            cluster.clear_faults()
            if not cluster.is_up:
                await cluster.up()
        try:
            cluster.set_faults(**settings)
        except KeyError as exc:
            raise FleetError(f"unknown fault setting {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise FleetError(str(exc)) from None
        if actions.get("close_watches"):
            result["closed_watches"] = cluster.store.close_watches()
        if actions.get("expire_history"):
            cluster.store.expire_history()
        if actions.get("rotate_token"):
            result["token"] = cluster.rotate_token()
            self.write_kubeconfig(cluster)
            self.write_index()
        if actions.get("down"):
            await cluster.down()
        if actions.get("up"):
            await cluster.up()
        result["faults"] = cluster.faults.to_dict()
        result["up"] = cluster.is_up
        return result

    # ------------------------------------------------------------------ files

    def kubeconfig_path(self, name: str) -> Path:
        return self.state_dir / f"{name}.kubeconfig"

    def cert_kubeconfig_path(self, name: str) -> Path:
        return self.state_dir / f"{name}-cert.kubeconfig"

    def cluster_info(self, cluster: SimCluster) -> dict[str, Any]:
        s = cluster.spec
        return {"name": s.name, "server": cluster.url, "port": s.port, "kubeconfig": str(self.kubeconfig_path(s.name)),
                "cert_kubeconfig": str(self.cert_kubeconfig_path(s.name)),
                "provider": s.provider, "region": s.region, "version": s.version, "nodes": s.nodes.count,
                "token": s.token, "up": cluster.is_up, "cluster_api": cluster.cluster_api,
                "provisioned_by": cluster.provisioned_by}

    def write_kubeconfig(self, cluster: SimCluster) -> Path:
        """``<name>.kubeconfig``: the cluster's bearer token (rewritten on token rotation)."""
        return self._write_kubeconfig(cluster, self.kubeconfig_path(cluster.name), {"token": cluster.token})

    def write_cert_kubeconfig(self, cluster: SimCluster) -> Path:
        """``<name>-cert.kubeconfig``: a client certificate (CN ``sandbox-admin``, O ``system:masters``)
        signed by the sandbox CA, like kubeadm's admin.conf; minted once per cluster, so token
        rotation leaves it valid."""
        assert self._tls is not None
        import base64

        if cluster.name not in self._client_certs:
            self._client_certs[cluster.name] = self._tls.mint_client_cert("sandbox-admin", ["system:masters"])
        cert, key = self._client_certs[cluster.name]
        return self._write_kubeconfig(cluster, self.cert_kubeconfig_path(cluster.name), {
            "client-certificate-data": base64.b64encode(cert).decode(),
            "client-key-data": base64.b64encode(key).decode()})

    def _write_kubeconfig(self, cluster: SimCluster, path: Path, user: dict[str, str]) -> Path:
        assert self._tls is not None
        import base64

        name = cluster.name
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {
                "server": cluster.url,
                "certificate-authority-data": base64.b64encode(self._tls.ca_pem).decode()}}],
            "users": [{"name": f"{name}-admin", "user": user}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin",
                                                    "namespace": "default"}}],
            "current-context": name,
            "preferences": {},
        }
        _atomic_write(path, yaml.safe_dump(cfg, sort_keys=False).encode(), mode=0o600)
        return path

    def write_index(self, running: bool = True) -> None:
        data = {
            "running": running,
            "pid": os.getpid(),
            "admin": {"url": f"http://{self.host}:{self.admin_port}", "token": self.admin_token},
            "ca": str(self.ca_path),
            "clusters": [self.cluster_info(c) for c in self.clusters.values()],
        }
        _atomic_write(self.index_path, json.dumps(data, indent=2).encode(), mode=0o600)

    def _save_snapshot(self) -> None:
        data: dict[str, Any] = {"clusters": [
            {"spec": {"name": c.spec.name, "provider": c.spec.provider, "region": c.spec.region,
                      "version": c.spec.version, "port": c.spec.port, "token": c.spec.token,
                      "nodes": c.spec.nodes.count, "node_cpu": c.spec.nodes.cpu, "node_memory": c.spec.nodes.memory,
                      "cluster_api": c.cluster_api, "provisioned_by": c.provisioned_by},
             "store": c.store.dump()} for c in self.clusters.values()]}
        _atomic_write(self.snapshot_path, json.dumps(data).encode(), mode=0o600)

    async def _load_snapshot(self) -> None:
        data = json.loads(self.snapshot_path.read_text())
        management: list[str] = []
        for entry in data.get("clusters", []):
            spec = entry["spec"]
            st = Store(history_size=self.history_size, pod_shutdown_seconds=self.pod_shutdown_seconds)
            st.load(entry["store"])
            kwargs: dict[str, Any] = {
                "nodes": spec["nodes"], "provider": spec["provider"], "region": spec["region"],
                "version": spec["version"], "node_cpu": spec["node_cpu"], "node_memory": spec["node_memory"],
                "token": spec["token"], "store": st, "bootstrap": False,
                "provisioned_by": spec.get("provisioned_by")}
            if spec.get("cluster_api"):
                management.append(spec["name"])
            try:
                await self.add_cluster(spec["name"], port=spec["port"], **kwargs)
            except OSError:
                log.warning("port %s busy; restoring %s on a new port", spec["port"], spec["name"])
                await self.add_cluster(spec["name"], port=0, **kwargs)
        # Cluster API controllers start once every cluster they provisioned is back (they adopt them)
        from sandbox.capi import enable

        for name in management:
            cluster = self.clusters[name]
            cluster.cluster_api = True
            self.capi[name] = await enable(self, cluster, self.capi_config or self.controller_config)
        self.write_index()

    # ------------------------------------------------------------------ admin API

    async def _start_admin(self) -> None:
        app = web.Application(middlewares=[self._admin_auth])
        app.router.add_get("/healthz", self._h_health)
        app.router.add_get("/clusters", self._h_list)
        app.router.add_post("/clusters", self._h_add)
        app.router.add_delete("/clusters/{name}", self._h_remove)
        app.router.add_get("/clusters/{name}/faults", self._h_get_faults)
        app.router.add_post("/clusters/{name}/faults", self._h_fault)
        self._admin_runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._admin_runner.setup()
        site = web.TCPSite(self._admin_runner, self.host, self.admin_port, reuse_address=True)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.admin_port = sockets[0].getsockname()[1]

    @web.middleware
    async def _admin_auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != "/healthz":
            token = request.headers.get("Authorization", "").partition(" ")[2].strip()
            if not hmac.compare_digest(token.encode(), self.admin_token.encode()):
                return web.json_response({"error": "unauthorized"}, status=401)
        try:
            resp: web.StreamResponse = await handler(request)
            return resp
        except FleetError as exc:
            return web.json_response({"error": str(exc)}, status=exc.status)

    async def _h_health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _h_list(self, request: web.Request) -> web.Response:
        return web.json_response({"clusters": [self.cluster_info(c) for c in self.clusters.values()]})

    async def _h_add(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            cluster = await self.add_cluster(
                str(body["name"]), nodes=int(body.get("nodes", 3)), provider=str(body.get("provider", "aws")),
                region=str(body.get("region", "")), version=str(body.get("version", DEFAULT_VERSION)),
                port=body.get("port"), cluster_api=bool(body.get("cluster_api", False)))
        except KeyError:
            raise FleetError("name is required") from None
        except OSError as exc:
            raise FleetError(f"cannot bind: {exc}") from None
        return web.json_response(self.cluster_info(cluster), status=201)

    async def _h_remove(self, request: web.Request) -> web.Response:
        await self.remove_cluster(request.match_info["name"])
        return web.json_response({"removed": request.match_info["name"]})

    async def _h_get_faults(self, request: web.Request) -> web.Response:
        c = self.get(request.match_info["name"])
        return web.json_response({"faults": c.faults.to_dict(), "up": c.is_up})

    async def _h_fault(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        return web.json_response(await self.fault(request.match_info["name"], **body))


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise FleetError("body must be JSON") from None
    if not isinstance(body, dict):
        raise FleetError("body must be a JSON object")
    return body


def _atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(mode)
    tmp.replace(path)


def default_cluster_names(count: int, prefix: str = "cluster") -> list[str]:
    return [f"{prefix}-{i}" for i in range(1, count + 1)]


async def seed_demo(cluster: SimCluster, profile: str = "default", *, crashloop: bool = False,
                    not_ready_node: bool = False) -> None:
    """Demo workloads so a fresh fleet looks alive (``serve --seed-demo`` or ``seed_demo`` in the
    config). With the controllers running: their realistic mix (``sandbox.controllers.demo``),
    optionally with a crash-looping workload and a NotReady node; without them, one small app."""
    if cluster.controllers is not None:
        from sandbox.controllers import demo

        demo.seed(cluster, profile, crashloop=crashloop, not_ready_node=not_ready_node)
        return
    from sandbox.resources import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, SERVICES

    s = cluster.store
    if s.get(NAMESPACES, None, "demo") is None:
        s.create(NAMESPACES, {"metadata": {"name": "demo", "labels": {"team": "demo"}}})
    labels = {"app": "web"}
    if s.get(DEPLOYMENTS, "demo", "web") is None:
        s.create(DEPLOYMENTS, {"metadata": {"name": "web", "namespace": "demo", "labels": labels},
                               "spec": {"replicas": 3, "selector": {"matchLabels": labels},
                                        "template": {"metadata": {"labels": labels},
                                                     "spec": {"containers": [{
                                                         "name": "web", "image": "nginx:1.27",
                                                         "ports": [{"containerPort": 80}],
                                                         "resources": {"requests": {"cpu": "100m",
                                                                                    "memory": "128Mi"},
                                                                       "limits": {"cpu": "500m",
                                                                                  "memory": "256Mi"}}}]}}}},
                 field_manager="sandbox-seed")
    if s.get(SERVICES, "demo", "web") is None:
        s.create(SERVICES, {"metadata": {"name": "web", "namespace": "demo", "labels": labels},
                            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 80}]}},
                 field_manager="sandbox-seed")
    if s.get(CONFIGMAPS, "demo", "web-config") is None:
        s.create(CONFIGMAPS, {"metadata": {"name": "web-config", "namespace": "demo"},
                              "data": {"greeting": "hello from the sandbox"}}, field_manager="sandbox-seed")

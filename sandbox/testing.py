"""Run a sandbox fleet inside another test suite (the portal's, the sandbox's own).

The fleet runs in a background thread with its own event loop, so synchronous
tests, Django tests, subprocesses (kubectl) and async tests on another loop
can all talk to it over HTTPS exactly as they would to real clusters::

    with running_sandbox(clusters=3, nodes=2, state_dir=tmp_path) as fleet:
        c = fleet.clusters["cluster-1"]
        c.kubeconfig, c.cert_kubeconfig, c.token, c.server, c.port
        fleet.inject_fault("cluster-1", error_rate=0.5)
        fleet.add_cluster("late-1"); fleet.remove_cluster("late-1")
        fleet.in_cluster("cluster-1", lambda cl: cl.store.count(PODS))

Everything the fleet does runs on its loop; ``in_cluster``/``call`` marshal
work onto it and return the result (exceptions propagate).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sandbox.cluster import SimCluster
from sandbox.fleet import PROVIDERS, Fleet, default_cluster_names

T = TypeVar("T")


@dataclass(frozen=True)
class ClusterHandle:
    """Connection facts of one cluster (a snapshot; re-read after token rotation)."""

    name: str
    server: str
    port: int
    token: str
    kubeconfig: Path
    ca_path: Path
    provider: str
    region: str
    version: str
    cert_kubeconfig: Path  # client certificate for user sandbox-admin, group system:masters

    def mint_client_cert(self, common_name: str, groups: tuple[str, ...] | list[str] = ()) -> tuple[bytes, bytes]:
        """A client certificate + key (PEM) signed by the sandbox CA; admin only with
        ``system:masters`` among ``groups``, otherwise authenticated but forbidden."""
        from sandbox.certs import mint_client_cert

        return mint_client_cert(self.ca_path.parent, common_name, groups)


class SandboxFleet:
    """Thread-safe handle on a fleet running in a background event loop."""

    def __init__(self, fleet: Fleet, loop: asyncio.AbstractEventLoop) -> None:
        self.fleet = fleet
        self.loop = loop

    # ------------------------------------------------------------ marshalling

    def run(self, fn: Callable[[Fleet], Awaitable[T]], timeout: float = 30.0) -> T:
        """Run ``await fn(fleet)`` on the fleet's loop and return its result."""

        async def wrapper() -> T:
            return await fn(self.fleet)

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout)

    def call(self, fn: Callable[[Fleet], T], timeout: float = 30.0) -> T:
        """Run synchronous ``fn(fleet)`` on the fleet's loop and return its result."""

        async def wrapper() -> T:
            return fn(self.fleet)

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout)

    def in_cluster(self, name: str, fn: Callable[[SimCluster], T], timeout: float = 30.0) -> T:
        """Act inside a cluster directly, e.g. ``lambda c: c.store.create(PODS, {...})``."""
        return self.call(lambda f: fn(f.get(name)), timeout)

    # ------------------------------------------------------------ facts

    def _handle(self, c: SimCluster) -> ClusterHandle:
        s = c.spec
        return ClusterHandle(s.name, c.url, s.port, s.token, self.fleet.kubeconfig_path(s.name), self.fleet.ca_path,
                             s.provider, s.region, s.version, self.fleet.cert_kubeconfig_path(s.name))

    @property
    def clusters(self) -> dict[str, ClusterHandle]:
        return self.call(lambda f: {n: self._handle(c) for n, c in f.clusters.items()})

    def cluster(self, name: str) -> ClusterHandle:
        return self.call(lambda f: self._handle(f.get(name)))

    @property
    def state_dir(self) -> Path:
        return self.fleet.state_dir

    @property
    def admin_url(self) -> str:
        return f"http://{self.fleet.host}:{self.fleet.admin_port}"

    @property
    def admin_token(self) -> str:
        return self.fleet.admin_token

    # ------------------------------------------------------------ changes

    def add_cluster(self, name: str, **kwargs: Any) -> ClusterHandle:
        c = self.run(lambda f: f.add_cluster(name, **kwargs))
        return self.call(lambda f: self._handle(c))

    def remove_cluster(self, name: str) -> None:
        self.run(lambda f: f.remove_cluster(name))

    def inject_fault(self, name: str, **settings: Any) -> dict[str, Any]:
        """See :meth:`sandbox.fleet.Fleet.fault` (latency_ms, error_rate, blackhole, down, ...)."""
        return self.run(lambda f: f.fault(name, **settings))

    def clear_faults(self, name: str) -> dict[str, Any]:
        return self.inject_fault(name, clear=True)

    def rotate_token(self, name: str) -> str:
        return str(self.inject_fault(name, rotate_token=True)["token"])


@contextmanager
def running_sandbox(clusters: int = 1, nodes: int = 2, state_dir: str | Path | None = None, *,
                    names: list[str] | None = None, seed_demo: bool = False, start_timeout: float = 60.0,
                    **fleet_kwargs: Any) -> Iterator[SandboxFleet]:
    """Start a fleet in a background thread; stop it (and the thread) on exit.

    ``fleet_kwargs`` go to :class:`sandbox.fleet.Fleet` (``bookmark_interval``,
    ``history_size``, ``pod_shutdown_seconds``, ``enable_controllers``,
    ``admin_port``, ``base_port`` ...).  Without ``state_dir`` a temporary
    directory is used and removed afterwards.
    """
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if state_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="sandbox-")
        state_dir = tmp.name
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[Fleet] = concurrent.futures.Future()
    fleet = Fleet(state_dir, **fleet_kwargs)
    cluster_names = names or default_cluster_names(clusters)

    async def boot() -> None:
        await fleet.start()
        for i, name in enumerate(cluster_names):
            if name in fleet.clusters:  # restored from a snapshot
                continue
            c = await fleet.add_cluster(name, nodes=nodes, provider=PROVIDERS[i % len(PROVIDERS)])
            if seed_demo:
                from sandbox.fleet import seed_demo as seed

                await seed(c)

    def thread_main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(boot())
        except BaseException as exc:
            ready.set_exception(exc)
            return
        ready.set_result(fleet)
        loop.run_forever()

    thread = threading.Thread(target=thread_main, name="sandbox-fleet", daemon=True)
    thread.start()
    try:
        ready.result(start_timeout)
        handle = SandboxFleet(fleet, loop)
        yield handle
    finally:
        if ready.done() and ready.exception() is None:
            asyncio.run_coroutine_threadsafe(fleet.stop(), loop).result(30)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        if not loop.is_running():
            loop.close()
        if tmp is not None:
            tmp.cleanup()

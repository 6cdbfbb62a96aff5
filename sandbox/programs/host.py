"""The kubelet's side of programs: one :class:`PodRuntime` per pod that has a program container,
a thread per program run, and the hand-back of its exit code and termination message to the
kubelet's state machine on the event loop.

Why a separate module: the kubelet stays a small state machine; everything that touches real
files, threads and processes lives here, and nothing here runs on the event loop except the
short bookkeeping (reading the store, materialising volumes).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Any

from sandbox.programs import Program, find_program
from sandbox.programs.runtime import (
    ConfigError,
    ContainerLog,
    MountError,
    PodRuntime,
    ProgramContext,
    check_references,
    container_mounts,
    new_runtime,
    remove_tree,
    termination_message,
)

if TYPE_CHECKING:
    from sandbox.controllers.kubelet import ContainerSim, Kubelet, PodSim

log = logging.getLogger("sandbox.programs")
_HINTS = ("git", "buildkit", "buildah", "trivy")
_LIVE: set[PodRuntime] = set()


@atexit.register
def _cleanup_at_exit() -> None:
    for runtime in list(_LIVE):
        runtime.stop.set()
        remove_tree(runtime.root)


class ProgramHost:
    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet
        self.pods: dict[str, PodRuntime] = {}

    @staticmethod
    def find(container: dict[str, Any]) -> Program | None:
        image = str(container.get("image") or "")
        if not any(h in image for h in _HINTS):  # cheap: most pods have no program
            return None
        return find_program(container)

    def _runtime(self, pod: dict[str, Any]) -> PodRuntime:
        uid = str(pod["metadata"].get("uid") or "")
        runtime = self.pods.get(uid)
        if runtime is None:
            runtime = new_runtime(pod)
            self.pods[uid] = runtime
            _LIVE.add(runtime)
        return runtime

    def prepare(self, pod: dict[str, Any]) -> None:
        """Mount the pod's volumes before its first container (raises MountError: FailedMount)."""
        runtime = self._runtime(pod)
        runtime.materialise(self.kubelet.m.store, pod)

    def start(self, pod: dict[str, Any], sim: PodSim, c: ContainerSim, key: tuple[str, str]) -> str:
        """Start ``c``'s program in a thread; a problem that keeps the container from being created
        (a missing Secret key, a volume) comes back as the kubelet's message, "" when started."""
        from sandbox.shell import container_env

        store = self.kubelet.m.store
        runtime = self._runtime(pod)
        try:
            check_references(store, pod, c.spec)
            runtime.materialise(store, pod)
            mounts = container_mounts(runtime, pod, c.spec)
        except (ConfigError, MountError) as exc:
            return str(exc)
        env = container_env(store, pod, c.spec)
        log_ = ContainerLog()
        runtime.logs[(c.name, c.restarts)] = log_
        rootfs = runtime.root / "rootfs" / c.name
        rootfs.mkdir(parents=True, exist_ok=True)
        ctx = ProgramContext(runtime, c.spec, env, mounts, rootfs, log_)
        termination = ctx.path(str(c.spec.get("terminationMessagePath") or "/dev/termination-log"))
        termination.unlink(missing_ok=True)
        with runtime.lock:
            runtime.running += 1
        thread = threading.Thread(target=self._run, args=(c.program, ctx, key, runtime, c, c.restarts),
                                  name=f"sandbox-program-{c.name}", daemon=True)
        thread.start()
        return ""

    def _run(self, program: Program, ctx: ProgramContext, key: tuple[str, str], runtime: PodRuntime,
             c: ContainerSim, run_no: int) -> None:
        code, message = 1, ""
        try:
            try:
                code = program.run(ctx)
            except Exception as exc:  # a bug in a program must not take the kubelet down
                log.exception("sandbox program %s failed", program.name)
                ctx.out(f"sandbox: the simulated {program.name} program failed: {type(exc).__name__}: {exc}")
                code = 1
            if runtime.stop.is_set():
                code = 137  # killed (SIGKILL) with the pod
            message = termination_message(ctx, code)
        finally:
            ctx.log.close()
            loop = self.kubelet.m.loop
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._done, key, runtime.uid, c, run_no, code, message)
            with runtime.lock:
                runtime.running -= 1
                gone = runtime.released and runtime.running == 0
            if gone:
                remove_tree(runtime.root)
                _LIVE.discard(runtime)

    def _done(self, key: tuple[str, str], uid: str, c: ContainerSim, run_no: int, code: int, message: str) -> None:
        sim = self.kubelet.sims.get(key)
        if sim is None or sim.uid != uid or c.restarts != run_no or c.next_step != "program":
            return
        c.exit_code, c.term_message = code, message
        c.next_step, c.next_at = "exit", 0.0
        self.kubelet.q.add(key)

    def stop(self, uid: str) -> None:
        runtime = self.pods.get(uid)
        if runtime is not None:
            runtime.stop.set()

    def release(self, uid: str) -> None:
        """The pod is gone: stop its programs and remove its directory (now, or when they end)."""
        runtime = self.pods.pop(uid, None)
        if runtime is None:
            return
        runtime.stop.set()
        with runtime.lock:
            runtime.released = True
            idle = runtime.running == 0
        if idle:
            remove_tree(runtime.root)
            _LIVE.discard(runtime)

    def log_of(self, uid: str, container: str, run_no: int) -> ContainerLog | None:
        runtime = self.pods.get(uid)
        return None if runtime is None else runtime.logs.get((container, run_no))

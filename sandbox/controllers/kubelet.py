"""kubelet stand-in: runs the containers of bound pods as a small state machine.

Each container of a pod bound to a Ready node goes
``ContainerCreating -> (image pulled) -> Running`` and the pod becomes Ready,
with the events a kubelet emits (Pulling, Pulled, Created, Started).  Naming
rules decide how a container behaves (documented in ``README.md``):

* image containing ``unpullable`` or with tag ``:doesnotexist`` ->
  ErrImagePull / ImagePullBackOff forever (retried with back-off);
* ``crashloop`` in the image, command or args -> runs briefly, exits 1,
  CrashLoopBackOff with exponential back-off and a rising restartCount;
* restartPolicy Never/OnFailure (Job pods) -> exits 0 after
  ``job_run_seconds`` (Succeeded), or exits 1 when ``fail`` appears in the
  image, command or args.

Init containers run for real, in order, each to completion before the next
and before the app containers (which wait with reason PodInitializing; the pod
is Pending with Initialized=False meanwhile).  A failed init container is
restarted unless the pod's restartPolicy is Never, where it fails the pod and
the app containers never start.  A container whose image has a *program*
(:mod:`sandbox.programs`: the portal's clone, build and scan containers) runs
it in a thread with the pod's volumes as real directories; its exit code and
termination message end the container.

The simulated state lives in memory per pod (a few objects); the pod status
written to the store is rebuilt from it on every transition.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sandbox.controllers.base import iso, now_iso, object_ref, parse_iso, set_condition
from sandbox.controllers.cache import TERMINAL, NodeInfo, PodInfo, PodKey
from sandbox.errors import ApiError
from sandbox.resources import PODS

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager

COMPONENT = "kubelet"
PROGRAM_WAIT_SECONDS = 3600.0  # a placeholder timer while a program runs; its end reschedules at once


def normalize_image(image: str) -> str:
    """``nginx:1.25`` -> ``docker.io/library/nginx:1.25`` (what containerd reports)."""
    ref = image
    if "@" not in ref and ":" not in ref.rsplit("/", 1)[-1]:
        ref += ":latest"
    first = ref.split("/", 1)[0]
    if "/" not in ref:
        return f"docker.io/library/{ref}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{ref}"
    return ref


def image_tag(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return ""
    return last.split(":", 1)[1] if ":" in last else "latest"


def is_unpullable(image: str) -> bool:
    return "unpullable" in image or image_tag(image) == "doesnotexist"


def _words(c: dict[str, Any]) -> str:
    return " ".join([str(c.get("image") or "")] + [str(x) for x in (c.get("command") or [])]
                    + [str(x) for x in (c.get("args") or [])])


def container_behaviour(c: dict[str, Any], restart_policy: str) -> str:
    """``unpullable`` | ``crash`` | ``fail`` | ``complete`` | ``serve`` (see the module docstring)."""
    image = str(c.get("image") or "")
    if is_unpullable(image):
        return "unpullable"
    words = _words(c)
    if "crashloop" in words:
        return "crash"
    if restart_policy in ("Never", "OnFailure"):
        return "fail" if "fail" in words else "complete"
    return "serve"


def _sha(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


@dataclass
class ContainerSim:
    name: str
    image: str
    behaviour: str
    state: str = "waiting"  # waiting | running | terminated
    reason: str = "ContainerCreating"
    message: str = ""
    restarts: int = 0
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    next_at: float = 0.0
    next_step: str = "pull"  # pull | start | exit | restart | ""
    pull_failures: int = 0
    last_state: dict[str, Any] = field(default_factory=dict)
    container_id: str = ""
    ever_started: bool = False
    init: bool = False
    sidecar: bool = False  # an init container with restartPolicy Always (runs beside the app containers)
    program: Any = None  # a sandbox.programs.Program, run for real
    spec: dict[str, Any] = field(default_factory=dict)
    term_message: str = ""


@dataclass
class PodSim:
    uid: str
    node: str
    containers: list[ContainerSim]
    start_time: float
    ip: str = ""
    host_ip: str = ""
    phase: str = "Pending"
    init: list[ContainerSim] = field(default_factory=list)
    mounted: bool = True  # the volumes of a program pod are materialised
    mount_failures: int = 0

    @property
    def initialized(self) -> bool:
        return all(_init_done(c) for c in self.init)

    @property
    def init_failed(self) -> bool:
        """An init container ended with an error and will not be restarted (restartPolicy Never)."""
        return any(c.state == "terminated" and c.exit_code != 0 for c in self.init)


def _init_done(c: ContainerSim) -> bool:
    if c.sidecar:
        return c.ever_started
    return c.state == "terminated" and c.exit_code == 0


INIT_RUN_SECONDS = 0.3  # a plain (non-program) init container's run time


class Kubelet:
    """All the kubelets of one cluster (one state machine per pod)."""

    def __init__(self, manager: ControllerManager) -> None:
        self.m = manager
        self.q = manager.queue("kubelet", self.sync)
        self.sims: dict[PodKey, PodSim] = {}
        self._resync: set[PodKey] = set()
        self.images: dict[str, set[str]] = {}  # node -> images already pulled there
        from sandbox.programs.host import ProgramHost

        self.runtimes = ProgramHost(self)
        manager.on_pod(self.on_pod)
        manager.on_node(self.on_node)

    def on_pod(self, etype: str, old: PodInfo | None, new: PodInfo | None) -> None:
        if new is None:
            assert old is not None
            self.sims.pop(old.key, None)
            self.q.forget(old.key)
            self.runtimes.release(old.uid)
            return
        if new.node and (old is None or not old.node) and not new.deleting:
            self.q.add(new.key)
        elif new.deleting and old is not None and not old.deleting:
            self.q.forget(new.key)
            self.runtimes.stop(new.uid)
            self._stopping(new)

    def _stopping(self, info: PodInfo) -> None:
        """A graceful deletion: the kubelet stops the running containers and says so (``Killing``
        events, "Stopping container c"), which timelines show after a restart or a delete."""
        pod = self.m.store.get(PODS, info.ns, info.name)
        node = self.m.nodes.get(info.node) if info.node else None
        if pod is None or node is None:
            return
        running = [cs["name"] for cs in (pod.get("status") or {}).get("containerStatuses") or []
                   if (cs.get("state") or {}).get("running")]
        if not running:
            return
        events = [("Normal", "Killing", f"Stopping container {c}", c) for c in running]
        try:  # not from inside the store's commit callback: on the next turn of the loop
            asyncio.get_running_loop().call_soon(self._record, pod, node, events)
        except RuntimeError:
            self._record(pod, node, events)

    def on_node(self, etype: str, old: NodeInfo | None, new: NodeInfo | None) -> None:
        if new is None and old is not None:
            self.images.pop(old.name, None)
        if new is not None and new.ready and (old is None or not old.ready):
            for p in self.m.pods.on_node(new.name):
                self._resync.add(p.key)
                self.q.add(p.key)

    def sim_of(self, ns: str, name: str) -> PodSim | None:
        return self.sims.get((ns, name))

    # ------------------------------------------------------------ state machine

    def _new_sim(self, pod: dict[str, Any], node: NodeInfo | None) -> PodSim:
        spec = pod.get("spec") or {}
        rp = spec.get("restartPolicy") or "Always"
        now = time.time()
        find = self.runtimes.find
        cs = [ContainerSim(c.get("name", ""), str(c.get("image") or ""), container_behaviour(c, rp),
                           next_at=now + self.m.config.image_pull_seconds, spec=c, program=find(c))
              for c in spec.get("containers") or ()]
        inits = []
        for c in spec.get("initContainers") or ():
            sidecar = c.get("restartPolicy") == "Always"
            inits.append(ContainerSim(c.get("name", ""), str(c.get("image") or ""),
                                      container_behaviour(c, "Always" if sidecar else "Never"), init=True,
                                      sidecar=sidecar, spec=c, program=None if sidecar else find(c)))
        for c in [*cs, *inits]:
            if c.program is not None and c.behaviour != "unpullable":
                c.behaviour = "program"
        sim = PodSim(pod["metadata"].get("uid", ""), spec.get("nodeName", ""), cs, now, init=inits)
        sim.host_ip = node.ip if node else ""
        status = pod.get("status") or {}
        if status.get("containerStatuses") and status.get("phase") in ("Running", "Pending") and any(
                "running" in (st.get("state") or {}) for st in status["containerStatuses"]):
            # adopted (steady pods are not kept in memory, or the sandbox restarted from a snapshot):
            # resume from what the status says; the init containers finished before
            sim.start_time = parse_iso(status.get("startTime")) or now
            sim.ip = status.get("podIP", "")
            old_init = {st.get("name"): st for st in status.get("initContainerStatuses") or ()}
            for ic in inits:
                term = ((old_init.get(ic.name) or {}).get("state") or {}).get("terminated") or {}
                ic.state, ic.reason, ic.ever_started, ic.next_step = "terminated", "Completed", True, ""
                ic.started_at = parse_iso(term.get("startedAt")) or sim.start_time
                ic.finished_at = parse_iso(term.get("finishedAt")) or sim.start_time
                ic.container_id = str(term.get("containerID") or "")
                if ic.sidecar:
                    ic.state, ic.reason = "running", ""
            for c, st in zip(cs, status["containerStatuses"], strict=False):
                c.restarts = int(st.get("restartCount") or 0)
                c.container_id = st.get("containerID", "")
                c.last_state = st.get("lastState") or {}
                running = (st.get("state") or {}).get("running")
                if running is not None:
                    c.state, c.reason, c.ever_started = "running", "", True
                    c.started_at = parse_iso(running.get("startedAt")) or now
                    if c.behaviour == "program":  # its process did not survive the sandbox's restart
                        c.exit_code, c.term_message = 137, "the sandbox restarted while the program ran"
                        c.next_step, c.next_at = "exit", now
                    else:
                        c.next_step, c.next_at = self._after_start(c, now, rp)
        return sim

    def _after_start(self, c: ContainerSim, now: float, restart_policy: str) -> tuple[str, float]:
        cfg = self.m.config
        if c.behaviour == "program":
            return "program", now + PROGRAM_WAIT_SECONDS  # the program's end brings the exit forward
        if c.behaviour == "crash":
            return "exit", now + cfg.crash_run_seconds
        if c.behaviour in ("complete", "fail"):
            return "exit", now + (INIT_RUN_SECONDS if c.init else cfg.job_run_seconds)
        return "", 0.0

    def _begin(self, c: ContainerSim, node: NodeInfo, now: float, events: list[tuple[str, str, str, str]]) -> None:
        """The kubelet turns to a container: pull its image (or find it present), then start it."""
        present = self.images.setdefault(node.name, set())
        c.state = "waiting"
        if not self.m.config.container_creating_status and c.behaviour != "unpullable":
            c.next_step, c.next_at = "start", now + self.m.config.image_pull_seconds + \
                self.m.config.container_start_seconds
            c.reason = "PodInitializing" if c.init else "ContainerCreating"
            present.add(c.image)
        elif c.image in present and c.behaviour != "unpullable":
            c.next_step, c.next_at = "start", now + self.m.config.container_start_seconds
            c.reason = "PodInitializing" if c.init else "ContainerCreating"
            events.append(("Normal", "Pulled", f'Container image "{c.image}" already present on machine', c.name))
        else:
            c.next_step, c.next_at = "pull", now + self.m.config.image_pull_seconds
            c.reason = "PodInitializing" if c.init else "ContainerCreating"
            events.append(("Normal", "Pulling", f'Pulling image "{c.image}"', c.name))

    def _mount(self, pod: dict[str, Any], sim: PodSim, node: NodeInfo) -> bool:
        """Mount a program pod's volumes (real directories); a missing Secret/ConfigMap is the kubelet's
        FailedMount event and a retry, the containers waiting meanwhile."""
        from sandbox.programs.runtime import MountError

        try:
            self.runtimes.prepare(pod)
        except (MountError, OSError) as exc:
            sim.mount_failures += 1
            ref = object_ref(pod)
            self.m.events.record(ref, "Warning", "FailedMount", str(exc), COMPONENT, host=node.name)
            return False
        sim.mounted = True
        return True

    def _advance(self, sim: PodSim, node: NodeInfo, now: float, events: list[tuple[str, str, str, str]]) -> None:
        """After an init container finished (or a sidecar started): the next one, else the app containers."""
        for ic in sim.init:
            if _init_done(ic):
                continue
            if ic.next_step or ic.state != "waiting":
                return  # already on its way
            self._begin(ic, node, now, events)
            return
        for c in sim.containers:
            if c.state == "waiting" and not c.next_step and not c.ever_started:
                self._begin(c, node, now, events)

    def _backoff(self, n: int) -> float:
        cfg = self.m.config
        return float(min(cfg.backoff_base_seconds * 2 ** max(n - 1, 0), cfg.backoff_max_seconds))

    def sync(self, key: PodKey) -> None:
        ns, name = key
        pod = self.m.store.get(PODS, ns, name)
        if pod is None:
            self.sims.pop(key, None)
            return
        spec = pod.get("spec") or {}
        node_name = spec.get("nodeName")
        if not node_name or pod["metadata"].get("deletionTimestamp"):
            return
        node = self.m.nodes.get(node_name)
        if node is None or not node.ready:
            return  # the kubelet of a NotReady node does nothing until it comes back
        sim = self.sims.get(key)
        now = time.time()
        events: list[tuple[str, str, str, str]] = []  # (type, reason, message, container)
        changed = key in self._resync
        self._resync.discard(key)
        if sim is None or sim.uid != pod["metadata"].get("uid"):
            if (pod.get("status") or {}).get("phase") in TERMINAL:
                return
            sim = self._new_sim(pod, node)
            self.sims[key] = sim
            adopted = any(c.state == "running" for c in sim.containers)
            # a pod adopted from its status (snapshot load, steady pods re-visited) needs no write unless
            # its node came back (resync); a new one shows ContainerCreating first
            changed = changed or (self.m.config.container_creating_status and not adopted)
            if not adopted:
                for c in sim.containers:
                    c.next_step, c.reason = "", "PodInitializing" if sim.init else "ContainerCreating"
                for ic in sim.init:
                    ic.next_step, ic.reason = "", "PodInitializing"
                sim.mounted = not any(c.program is not None for c in [*sim.init, *sim.containers])
                if sim.mounted or self._mount(pod, sim, node):
                    self._advance(sim, node, now, events)
        elif not sim.mounted and self._mount(pod, sim, node):
            changed = True
            self._advance(sim, node, now, events)
        rp = spec.get("restartPolicy") or "Always"
        for c in [*sim.init, *sim.containers]:
            if not c.next_step or c.next_at > now + 0.005:
                continue
            changed = True
            step = c.next_step
            if step == "pull":
                if c.behaviour == "unpullable":
                    c.pull_failures += 1
                    ref = normalize_image(c.image)
                    err = (f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": '
                           f"{ref}: not found")
                    if c.reason == "ErrImagePull":
                        c.reason, c.message = "ImagePullBackOff", f'Back-off pulling image "{c.image}": ErrImagePull: {err}'
                        events.append(("Normal", "BackOff", f'Back-off pulling image "{c.image}"', c.name))
                        events.append(("Warning", "Failed", "Error: ImagePullBackOff", c.name))
                        c.next_at = now + self._backoff(c.pull_failures)
                        c.next_step = "pull"
                    else:
                        c.reason, c.message = "ErrImagePull", err
                        events.append(("Warning", "Failed", f'Failed to pull image "{c.image}": rpc error: code = '
                                                            f"NotFound desc = {err}", c.name))
                        events.append(("Warning", "Failed", "Error: ErrImagePull", c.name))
                        c.next_at = now + min(0.5, self._backoff(1))
                        c.next_step = "pull"
                    continue
                self.images.setdefault(node.name, set()).add(c.image)
                size = 10_000_000 + int(_sha(c.image)[:6], 16) * 10
                events.append(("Normal", "Pulled", f'Successfully pulled image "{c.image}" in '
                                                   f"{self.m.config.image_pull_seconds:.3f}s "
                                                   f"({self.m.config.image_pull_seconds:.3f}s including waiting). "
                                                   f"Image size: {size} bytes.", c.name))
                c.reason = "PodInitializing" if c.init else "ContainerCreating"
                c.next_step, c.next_at = "start", now + self.m.config.container_start_seconds
            elif step in ("start", "restart"):
                if step == "restart":
                    events.append(("Normal", "Pulled", f'Container image "{c.image}" already present on machine',
                                   c.name))
                if c.behaviour == "program":
                    problem = self.runtimes.start(pod, sim, c, key)
                    if problem:  # CreateContainerConfigError: retried with back-off, like the kubelet
                        c.state, c.reason, c.message = "waiting", "CreateContainerConfigError", problem
                        events.append(("Warning", "Failed", f"Error: {problem}", c.name))
                        c.pull_failures += 1
                        c.next_step, c.next_at = step, now + self._backoff(c.pull_failures)
                        continue
                c.container_id = "containerd://" + _sha(sim.uid, c.name, str(c.restarts))
                c.state, c.reason, c.message, c.started_at, c.ever_started = "running", "", "", now, True
                c.term_message = ""
                events.append(("Normal", "Created", f"Created container {c.name}", c.name))
                events.append(("Normal", "Started", f"Started container {c.name}", c.name))
                c.next_step, c.next_at = self._after_start(c, now, rp)
                if c.sidecar:
                    self._advance(sim, node, now, events)
            elif step == "program":  # still running: the program's end reschedules the exit
                c.next_at = now + PROGRAM_WAIT_SECONDS
                continue
            elif step == "exit":
                if c.behaviour == "program":
                    ok = c.exit_code == 0
                else:
                    ok = c.behaviour == "complete"
                    c.exit_code = 0 if ok else 1
                c.finished_at = now
                term = {"terminated": {"exitCode": c.exit_code, "reason": "Completed" if ok else "Error",
                                       "startedAt": iso(c.started_at), "finishedAt": iso(now),
                                       "containerID": c.container_id}}
                if c.term_message:
                    term["terminated"]["message"] = c.term_message
                if c.init and not c.sidecar:
                    restart = rp != "Never" and not ok
                else:
                    restart = rp == "Always" or (rp == "OnFailure" and not ok) or c.sidecar
                if restart:
                    c.last_state = term
                    c.restarts += 1
                    delay = self._backoff(c.restarts)
                    c.state, c.reason = "waiting", "CrashLoopBackOff"
                    c.message = (f"back-off {int(delay)}s restarting failed container={c.name} "
                                 f"pod={name}_{ns}({sim.uid})")
                    events.append(("Warning", "BackOff", f"Back-off restarting failed container {c.name} in pod "
                                                         f"{name}_{ns}({sim.uid})", c.name))
                    c.next_step, c.next_at = "restart", now + delay
                else:
                    c.state, c.reason = "terminated", "Completed" if ok else "Error"
                    c.next_step = ""
                    if c.init and ok:
                        self._advance(sim, node, now, events)
        if changed:
            if not sim.ip and any(c.ever_started or c.state == "running" for c in [*sim.init, *sim.containers]):
                sim.ip = node.ip if spec.get("hostNetwork") else self._allocate_ip(node, key)
            self._write_status(pod, sim, node, events)
        elif events:
            self._record(pod, node, events)
        nxt = [c.next_at for c in [*sim.init, *sim.containers] if c.next_step]
        if not sim.mounted:  # the kubelet retries the mount with back-off
            nxt.append(now + min(2.0 * 2 ** max(sim.mount_failures - 1, 0), 60.0))
        if nxt:
            self.q.add_after(key, max(min(nxt) - time.time(), 0.001))
        elif all(c.state == "running" for c in sim.containers) and not any(
                c.program is not None for c in [*sim.init, *sim.containers]):
            # steady state: nothing left to simulate; the status says it all (re-adopted on demand)
            self.sims.pop(key, None)

    def _allocate_ip(self, node: NodeInfo, key: PodKey) -> str:
        if not node.cidr_prefix:
            return ""
        used = {p.ip for p in self.m.pods.on_node(node.name) if p.ip}
        used.update(s.ip for k, s in self.sims.items() if s.node == node.name and s.ip)
        start = 2 + int(_sha(*key)[:4], 16) % 250
        for i in range(253):
            ip = f"{node.cidr_prefix}.{2 + (start + i) % 252}"
            if ip not in used:
                return ip
        return f"{node.cidr_prefix}.254"

    # ------------------------------------------------------------ status

    def build_status(self, pod: dict[str, Any], sim: PodSim, node: NodeInfo) -> dict[str, Any]:
        spec = pod.get("spec") or {}
        rp = spec.get("restartPolicy") or "Always"
        old = pod.get("status") or {}
        statuses = [self._container_status(c) for c in sim.containers]
        all_started = all(c.ever_started for c in sim.containers)
        init_failed = sim.init_failed
        done = (all(c.state == "terminated" for c in sim.containers) and bool(sim.containers)) or init_failed
        if init_failed:
            phase = "Failed"
        elif done:
            failed = any(c.exit_code != 0 for c in sim.containers)
            phase = "Failed" if failed else "Succeeded"
        elif all_started:
            phase = "Running"
        else:
            phase = "Pending"
        sim.phase = phase
        now = now_iso()
        conds: list[dict[str, Any]] = [dict(c) for c in old.get("conditions") or ()]
        all_ready = bool(sim.containers) and all(c.state == "running" for c in sim.containers)
        set_condition(conds, "PodReadyToStartContainers", "False" if done else "True", now=now, probe_times=True)
        if sim.initialized:
            set_condition(conds, "Initialized", "True", now=now, probe_times=True)
        else:
            pending = " ".join(c.name for c in sim.init if not _init_done(c))
            set_condition(conds, "Initialized", "False", "ContainersNotInitialized",
                          f"containers with incomplete status: [{pending}]", now=now, probe_times=True)
        if done:
            set_condition(conds, "Ready", "False", "PodCompleted", now=now, probe_times=True)
            set_condition(conds, "ContainersReady", "False", "PodCompleted", now=now, probe_times=True)
        elif all_ready:
            set_condition(conds, "Ready", "True", now=now, probe_times=True)
            set_condition(conds, "ContainersReady", "True", now=now, probe_times=True)
        else:
            unready = " ".join(c.name for c in sim.containers if c.state != "running")
            msg = f"containers with unready status: [{unready}]"
            set_condition(conds, "Ready", "False", "ContainersNotReady", msg, now=now, probe_times=True)
            set_condition(conds, "ContainersReady", "False", "ContainersNotReady", msg, now=now, probe_times=True)
        set_condition(conds, "PodScheduled", "True", now=now, probe_times=True)
        order = {"PodReadyToStartContainers": 0, "Initialized": 1, "Ready": 2, "ContainersReady": 3,
                 "PodScheduled": 4}
        conds.sort(key=lambda c: order.get(c.get("type", ""), 9))
        status: dict[str, Any] = {
            "phase": phase, "conditions": conds, "hostIP": sim.host_ip,
            "hostIPs": [{"ip": sim.host_ip}] if sim.host_ip else [],
            "startTime": iso(sim.start_time), "containerStatuses": statuses,
            "qosClass": old.get("qosClass", "BestEffort"),
        }
        if sim.ip:
            status["podIP"] = sim.ip
            status["podIPs"] = [{"ip": sim.ip}]
        if rp and sim.init:
            status["initContainerStatuses"] = [self._container_status(ic) for ic in sim.init]
        return status

    @staticmethod
    def _container_status(c: ContainerSim) -> dict[str, Any]:
        if c.state == "running":
            state: dict[str, Any] = {"running": {"startedAt": iso(c.started_at)}}
        elif c.state == "terminated":
            state = {"terminated": {"exitCode": c.exit_code, "reason": c.reason, "startedAt": iso(c.started_at),
                                    "finishedAt": iso(c.finished_at), "containerID": c.container_id}}
            if c.term_message:
                state["terminated"]["message"] = c.term_message
        else:
            state = {"waiting": {"reason": c.reason}}
            if c.message:
                state["waiting"]["message"] = c.message
        ready = c.state == "running" if not c.init or c.sidecar else _init_done(c)
        cs: dict[str, Any] = {
            "name": c.name, "state": state, "lastState": c.last_state, "ready": ready,
            "restartCount": c.restarts, "image": normalize_image(c.image),
            "imageID": "" if c.behaviour == "unpullable" or not c.ever_started else
            normalize_image(c.image).rsplit(":", 1)[0] + "@sha256:" + _sha(c.image),
            "started": c.state == "running",
        }
        if (c.container_id and c.state != "waiting") or (c.state == "waiting" and c.last_state):
            cs["containerID"] = c.container_id
        return cs

    def _write_status(self, pod: dict[str, Any], sim: PodSim, node: NodeInfo,
                      events: list[tuple[str, str, str, str]]) -> None:
        status = self.build_status(pod, sim, node)
        pod["status"] = status
        try:
            stored = self.m.store.update(PODS, pod, subresource="status")
        except ApiError:
            return
        self._record(stored, node, events)

    def _record(self, pod: dict[str, Any], node: NodeInfo, events: list[tuple[str, str, str, str]]) -> None:
        ref = object_ref(pod)
        for etype, reason, msg, cname in events:
            self.m.events.record(ref, etype, reason, msg, COMPONENT, host=node.name,
                                 field_path=f"spec.containers{{{cname}}}")

    def mark_not_ready(self, key: PodKey) -> None:
        """Node controller: the node stopped reporting, so its pods are no longer Ready."""
        def unready(p: dict[str, Any]) -> None:
            conds = (p.get("status") or {}).get("conditions") or []
            set_condition(conds, "Ready", "False", probe_times=True)
            for cs in (p.get("status") or {}).get("containerStatuses") or ():
                cs["ready"] = False

        with contextlib.suppress(ApiError):
            self.m.store.mutate(PODS, key[0], key[1], unready, subresource="status")

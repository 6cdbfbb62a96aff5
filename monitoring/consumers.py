"""``/ws/logs/``: follow the log of one pod, or of every pod of a workload interleaved by time,
with backpressure from the browser back to the cluster (issue 14; docs/logs.md).

Admission is the same as ``/ws/exec/`` (:mod:`clusters.api.terminal`): session authentication
and the Origin check of :mod:`portal.consumers`, a limit of sockets per user
(``PORTAL_LOG_MAX_SOCKETS_PER_USER``, per web process). Each ``follow`` is then authorized
afresh: the cluster must be one the user sees and the namespace one of theirs (else ``error``
``not_found``, naming nothing of what was asked), and the grant ``pods.logs`` theirs there
(:func:`clusters.access.object_action_denied`: ``grant_missing`` …). Access is asked again when
the user's control group says it may have changed and every ``PORTAL_WS_RECHECK_SECONDS``; a
follow the user may no longer make is stopped with an ``error``. Reading a log is a read: like
``GET …/log/`` it leaves no audit record.

Backpressure, end to end:

* per followed container **one reader per process** (:class:`LogHub`, shared by every socket
  following that container) reads the cluster's log stream (:mod:`clusters.kube.logstream`),
  parses each line once and adds the same line objects to each subscribed socket's one
  :class:`monitoring.logs.FollowBuffer` (at most 2,000 lines / 1 MiB, held and ready together);
  it never waits for a browser, so a slow browser never slows the cluster connection (nor the
  other sockets), and what does not fit a socket's buffer drops its **oldest** lines, counted;
  a socket's own ``tailLines``/``sinceSeconds`` are a one-shot read of its own before it joins
  the shared stream (:class:`LogHub` says how, without duplicates or gaps);
* one **sender** task per socket wakes at most 20 times a second, releases what waited the
  reorder window, sends ``skipped`` (when lines were dropped) and one ``lines`` batch, and
  **awaits** each send: a browser that reads slowly blocks only this task (the ASGI server's
  send waits for the TCP socket to drain), while the readers go on filling, and dropping from, the
  bounded buffer; each line's JSON is encoded once for every socket
  (:func:`monitoring.logs.lines_text`);
* ``pause`` stops the sender's lines (the buffer fills to its bound and then counts skipped
  lines); ``resume`` sends ``skipped`` then the newest lines; ``stop``, a new ``follow`` or the
  socket closing leaves every hub; a hub left by its last socket closes its connection to the
  cluster :data:`HUB_GRACE` seconds later.

A workload follow resolves its pods from the read model (``KubeObject``: Deployment →
ReplicaSet → Pod, CronJob → Job → Pod, StatefulSet/DaemonSet/ReplicaSet/Job → Pod by the
controlling owner the watcher projects) and reads them again every
``PORTAL_LOG_RESCAN_SECONDS``: new pods (a rollout, a scale-up) are attached and deleted ones
detached, reported as ``pods`` ``added``/``removed``. A container that restarts is reattached
by its hub (the API server ends the follow of a stopped container) from the stamp of its last
line, so a crash-looping pod's runs follow one another; a pod that is gone or finished reports
``ended``. Access stays per socket: each ``follow`` is admitted as above before it joins a hub,
and a socket whose access ends leaves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from clusters import gateway
from clusters.access import PODS_LOGS, object_action_denied, visible_clusters, visible_namespaces
from clusters.api.logs import log_container
from clusters.kube import errors as kube
from clusters.kube import logstream
from clusters.models import LABEL_NAME, SUBDOMAIN_NAME, Cluster, KubeObject
from monitoring import logs
from portal import errors
from portal.consumers import (
    CLOSE_FORBIDDEN_ORIGIN,
    CLOSE_UNAUTHENTICATED,
    origin_allowed,
    recheck_seconds,
    session_user,
)
from portal.crypto import DecryptionError
from portal.events import control_group

logger = logging.getLogger(__name__)

CLOSE_TOO_MANY = 4429
TAIL_DEFAULT = 200
TAIL_MAX = 5000
SINCE_MAX = 30 * 24 * 3600
SEND_INTERVAL = 1 / 20  # at most 20 "lines" messages a second per socket
MAX_FRAME_CHARS = 16 * 1024  # a browser → server message
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")
REATTACH_MIN = 1.0
REATTACH_MAX = 10.0
UNREACHABLE_ATTEMPTS = 5



def max_sockets_per_user() -> int:
    return max(1, int(getattr(settings, "PORTAL_LOG_MAX_SOCKETS_PER_USER", 10)))


def max_pods() -> int:
    return max(1, int(getattr(settings, "PORTAL_LOG_MAX_PODS", 50)))


def rescan_seconds() -> float:
    return max(0.2, float(getattr(settings, "PORTAL_LOG_RESCAN_SECONDS", 3.0)))


# Live sockets of this process, and the largest buffer any of them held (tests, the benchmark).
LIVE: weakref.WeakSet[LogConsumer] = weakref.WeakSet()
PEAK = {"lines": 0, "bytes": 0}
_SOCKETS_PER_USER: dict[int, int] = {}


# ---------------------------------------------------------------------------- the request


@dataclass(frozen=True)
class Follow:
    """A checked ``follow`` message."""

    cluster_id: int
    namespace: str
    pod: str = ""
    workload_kind: str = ""
    workload_name: str = ""
    container: str = ""
    tail_lines: int = TAIL_DEFAULT
    since_seconds: int | None = None
    previous: bool = False
    timestamps: bool = True


def _invalid(problems: dict[str, list[str]]) -> errors.Invalid:
    return errors.Invalid("The follow request is not valid: " + " ".join(m for ms in problems.values() for m in ms),
                          code="log_follow_invalid", params={"fields": sorted(problems)}, errors=problems)


def parse_follow(frame: dict[str, Any]) -> Follow:
    """The ``follow`` message, checked; :class:`portal.errors.Invalid` naming each bad field."""
    problems: dict[str, list[str]] = {}
    cluster = frame.get("cluster")
    if not isinstance(cluster, int) or isinstance(cluster, bool) or not 0 < cluster < 2**63:
        problems["cluster"] = ["Give the cluster's id (a number)."]
    namespace = frame.get("namespace")
    if not isinstance(namespace, str) or not LABEL_NAME.match(namespace):
        problems["namespace"] = ["Give the namespace (a DNS label)."]
    pod, workload = frame.get("pod"), frame.get("workload")
    kind = name = ""
    if (pod is None) == (workload is None):
        problems["pod"] = ["Give either a pod or a workload."]
    elif pod is not None:
        if not isinstance(pod, str) or not SUBDOMAIN_NAME.match(pod):
            problems["pod"] = ["Give the pod's name."]
    elif not isinstance(workload, dict) or workload.get("kind") not in WORKLOAD_KINDS or not isinstance(
            workload.get("name"), str) or not SUBDOMAIN_NAME.match(workload["name"]):
        problems["workload"] = [f"Give the workload as {{\"kind\", \"name\"}}, kind one of {', '.join(WORKLOAD_KINDS)}."]
    else:
        kind, name = str(workload["kind"]), str(workload["name"])
    container = frame.get("container") or ""
    if not isinstance(container, str) or (container and not LABEL_NAME.match(container)):
        problems["container"] = ["A container name is a DNS label."]
    tail = frame.get("tailLines", TAIL_DEFAULT)
    if tail is None:
        tail = TAIL_DEFAULT
    if not isinstance(tail, int) or isinstance(tail, bool) or not 0 <= tail <= TAIL_MAX:
        problems["tailLines"] = [f"tailLines is a whole number from 0 to {TAIL_MAX}."]
    since = frame.get("sinceSeconds")
    if since is not None and (not isinstance(since, int) or isinstance(since, bool) or not 1 <= since <= SINCE_MAX):
        problems["sinceSeconds"] = [f"sinceSeconds is a whole number from 1 to {SINCE_MAX}."]
    flags: dict[str, bool] = {}
    for flag, default in (("previous", False), ("timestamps", True)):
        value = frame.get(flag, default)
        if not isinstance(value, bool):
            problems[flag] = [f"{flag} is true or false."]
        flags[flag] = bool(value)
    if problems:
        raise _invalid(problems)
    assert isinstance(cluster, int)
    assert isinstance(namespace, str)
    assert isinstance(tail, int)
    return Follow(cluster, namespace, str(pod or ""), kind, name, str(container), tail, since,
                  flags["previous"], flags["timestamps"])


def _hidden() -> errors.NotFound:
    """A cluster or namespace the user does not see: the same answer, echoing nothing."""
    return errors.NotFound("No such cluster or namespace, or not one you may see.", code="not_found")


# ---------------------------------------------------------------------------- database side (sync)


@dataclass
class Admitted:
    cluster: Cluster
    spec: Any
    targets: list[tuple[str, str]] = field(default_factory=list)  # (pod, container)


def _authorize(session_key: str | None, follow: Follow) -> Cluster:
    user = session_user(session_key)
    if user is None:
        raise errors.PortalError("The session has ended (signed out, expired or the account deactivated); sign in "
                                 "again.", code="session_ended")
    cluster = visible_clusters(user).filter(pk=follow.cluster_id).first()
    if cluster is None:
        raise _hidden()
    namespaces = visible_namespaces(user, cluster.pk)
    if namespaces is not None and follow.namespace not in namespaces:
        raise _hidden()
    refusal = object_action_denied(user, cluster, follow.namespace, PODS_LOGS)
    if refusal is not None:
        raise refusal
    if not cluster.enabled:
        raise errors.Conflict(f"Cluster {cluster.name} is disabled.", code="cluster_disabled",
                              params={"cluster": cluster.name})
    return cluster


def _still_allowed(session_key: str | None, cluster_id: int, namespace: str) -> errors.PortalError | None:
    user = session_user(session_key)
    if user is None:
        return errors.PortalError("The session has ended (signed out, expired or the account deactivated); sign in "
                                  "again.", code="session_ended")
    if not visible_clusters(user).filter(pk=cluster_id).exists():
        return _hidden()
    namespaces = visible_namespaces(user, cluster_id)
    if namespaces is not None and namespace not in namespaces:
        return _hidden()
    return object_action_denied(user, cluster_id, namespace, PODS_LOGS)


def _pod_target(cluster: Cluster, follow: Follow) -> tuple[Any, str]:
    """Read the pod live (it exists; its container), and the connection."""
    with gateway.live_read(cluster, "reading the pod") as read:
        try:
            pod = read.client.read_pod(follow.pod, follow.namespace, attempts=1, timeout=read.budget)
        except kube.NotFound as exc:
            raise errors.NotFound(f"Pod {follow.namespace}/{follow.pod} does not exist.", code="pod_not_found",
                                  params={"pod": f"{follow.namespace}/{follow.pod}"}) from exc
        spec = cluster.connection_spec()
    return spec, log_container(pod, follow.container)


def workload_pods(cluster_id: int, namespace: str, kind: str, name: str) -> list[tuple[str, list[str]]] | None:
    """``[(pod, [container, …])]`` of a workload from the read model, oldest pod first; None when
    the read model has no such workload."""
    base = KubeObject.objects.filter(cluster_id=cluster_id, namespace=namespace)
    if not base.filter(kind=kind, name=name).exists():
        return None
    owners = {(kind, name)}
    middle = {"Deployment": "ReplicaSet", "CronJob": "Job"}.get(kind)
    if middle:
        for child, owner in base.filter(kind=middle).values_list("name", "data__owner"):
            if isinstance(owner, dict) and (owner.get("kind"), owner.get("name")) == (kind, name):
                owners.add((middle, child))
    out: list[tuple[str, list[str]]] = []
    for pod, data in base.filter(kind="Pod").order_by("created", "name").values_list("name", "data"):
        owner = (data or {}).get("owner") or {}
        if (owner.get("kind"), owner.get("name")) in owners:
            names = [str(c.get("name")) for c in (data or {}).get("containers") or [] if isinstance(c, dict)]
            out.append((pod, names))
    return out


def _workload_targets(cluster: Cluster, follow: Follow) -> tuple[Any, list[tuple[str, str]]]:
    pods = workload_pods(cluster.pk, follow.namespace, follow.workload_kind, follow.workload_name)
    if pods is None:
        raise errors.NotFound(f"{follow.workload_kind} {follow.namespace}/{follow.workload_name} does not exist.",
                              code="workload_not_found",
                              params={"kind": follow.workload_kind,
                                      "workload": f"{follow.namespace}/{follow.workload_name}"})
    if len(pods) > max_pods():
        raise errors.Invalid(f"{follow.workload_kind} {follow.workload_name} has {len(pods)} pods; at most "
                             f"{max_pods()} are followed at once. Follow single pods instead.",
                             code="log_too_many_pods", params={"pods": len(pods), "limit": max_pods()})
    targets = [(pod, _pick(containers, follow.container)) for pod, containers in pods]
    if follow.container and pods and not any(c == follow.container for _, c in targets):
        raise errors.NotFound(f"No pod of {follow.workload_kind} {follow.workload_name} has a container "
                              f"{follow.container!r}.", code="container_not_found",
                              params={"container": follow.container, "containers": sorted({c for _, cs in pods
                                                                                          for c in cs})})
    try:
        spec = cluster.connection_spec()
    except DecryptionError as exc:
        raise gateway.failure(exc, cluster, "reading the credentials", budget=gateway.budget()) from exc
    return spec, [(pod, c) for pod, c in targets if c]


def _pick(containers: list[str], wanted: str) -> str:
    if wanted:
        return wanted if wanted in containers else ""
    return containers[0] if containers else ""


def _admit_workload(session_key: str | None, follow: Follow) -> Admitted:
    cluster = _authorize(session_key, follow)
    spec, targets = _workload_targets(cluster, follow)
    return Admitted(cluster, spec, targets)


async def admit(session_key: str | None, follow: Follow) -> Admitted:
    """Authorize ``follow`` (database, on Channels' database thread) and, for one pod, read it live
    on a worker thread of its own: a slow cluster must not hold the thread every socket of the
    process authorizes on."""
    if not follow.pod:
        return await database_sync_to_async(_admit_workload)(session_key, follow)
    cluster = await database_sync_to_async(_authorize)(session_key, follow)
    spec, container = await asyncio.to_thread(_pod_target, cluster, follow)
    return Admitted(cluster, spec, [(follow.pod, container)])


def _pod_state(cluster: Cluster, namespace: str, pod: str, container: str) -> str:
    """After a follow ended: ``gone``, ``finished`` (the pod or container will not run again) or
    ``restarting``."""
    try:
        with gateway.live_read(cluster, "reading the pod") as read:
            data = read.client.read_pod(pod, namespace, attempts=1, timeout=read.budget)
    except errors.NotFound:
        return "gone"
    if (data.get("metadata") or {}).get("deletionTimestamp"):
        return "gone"
    status = data.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return "finished"
    policy = (data.get("spec") or {}).get("restartPolicy") or "Always"
    for item in status.get("containerStatuses") or []:
        if item.get("name") == container and "terminated" in (item.get("state") or {}) and policy == "Never":
            return "finished"
    return "restarting"


# ---------------------------------------------------------------------------- the shared upstream


HUB_GRACE = 2.0  # seconds a hub left without subscribers keeps its stream (a reload, a new follow)
HubKey = tuple[int, str, str, str]  # (cluster id, namespace, pod, container)
# The hubs of this process, per event loop (one in production; tests and the threaded test server
# have their own): a hub's tasks belong to the loop that made it.
HUBS: dict[tuple[asyncio.AbstractEventLoop, HubKey], LogHub] = {}
HUB_STATS = {"hubs": 0, "streams": 0, "probes": 0, "tail_reads": 0}  # counters for tests and the benchmark


class Sink(Protocol):
    """Where a subscription puts its lines: the socket's buffer."""

    def hub_lines(self, lines: list[logs.LogLine], size: int) -> None: ...

    def hub_skipped(self, count: int) -> None: ...


class Tap:
    """One socket's subscription to a :class:`LogHub`: joining (live lines held by its
    :class:`monitoring.logs.Joiner` while the socket reads its own tail), then live."""

    def __init__(self, hub: LogHub, sink: Sink) -> None:
        self.hub = hub
        self.sink = sink
        self.joiner = logs.Joiner()
        self.done: asyncio.Future[tuple[str, errors.PortalError | None]] = hub.loop.create_future()
        self.active = True

    def deliver(self, lines: list[logs.LogLine], size: int) -> None:
        if not self.active:
            return
        joiner = self.joiner
        if joiner.held is None and not joiner.overlap.armed:
            self.sink.hub_lines(lines, size)
            return
        out = joiner.live(lines)
        if out:
            self.sink.hub_lines(out, size if out is lines else logs.batch_size(out))

    def tail(self, lines: list[logs.LogLine]) -> None:
        """Lines of the socket's own tail read (before :meth:`join`)."""
        self.joiner.tail(lines)
        self.sink.hub_lines(lines, logs.batch_size(lines))

    def join(self) -> None:
        lines, skipped = self.joiner.join()
        if skipped:
            self.sink.hub_skipped(skipped)
        if lines:
            self.sink.hub_lines(lines, logs.batch_size(lines))

    def end(self, outcome: tuple[str, errors.PortalError | None]) -> None:
        if not self.done.done():
            self.done.set_result(outcome)

    def close(self) -> None:
        """Leave the hub (synchronously: no line reaches the sink afterwards)."""
        if self.active:
            self.active = False
            self.hub.unsubscribe(self)


def _since_time(at: float | None) -> str | None:
    """``sinceTime`` for reopening a stream at a line stamped ``at``: a whole second before it
    (the API server compares stamps; a sandbox turns it into whole seconds ago), the overlap is
    dropped by :class:`monitoring.logs.Overlap`."""
    if at is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(math.floor(at) - 1))


class LogHub:
    """The one live follow of a container in this process, shared by every socket following it.

    One reader task opens the API server's follow stream, splits and parses each line once
    (:func:`monitoring.logs.make_line`) and hands the same line objects to every subscription
    (:class:`Tap`), which adds them to its socket's bounded buffer; the line's JSON is then encoded
    once too (:meth:`monitoring.logs.LogLine.fragment`). The reader never waits for a socket.

    The start point: before its first stream the hub reads the log's last line (``tailLines=1``,
    a one-shot read) and opens the follow from that line's stamp (``sinceTime``, a second
    before; the overlap dropped by stamp), and sets :attr:`started`. A subscriber waits for
    :attr:`started`, then reads its own tail (``tailLines``/``sinceSeconds``, one-shot), which
    therefore reaches at least the hub's start point, while the hub's lines since it subscribed
    are held; it then takes the held lines after its tail's last one (:class:`monitoring.logs.Joiner`).
    A restarting container is reattached from the stamp of the last line read, the same way.

    The hub ends when the container's log ends for good (the pod deleted or finished: every
    subscriber gets ``ended``), on an error (every subscriber gets it) or :data:`HUB_GRACE`
    seconds after its last subscriber left (the stream is closed)."""

    def __init__(self, key: HubKey, spec: Any, cluster: Cluster, loop: asyncio.AbstractEventLoop) -> None:
        self.key = key
        self.spec = spec
        self.cluster = cluster
        self.loop = loop
        self.taps: set[Tap] = set()
        self.started = asyncio.Event()  # the start point is fixed (or the hub ended before)
        self.start_fixed = False
        self.overlap = logs.Overlap()
        self.finished: tuple[str, errors.PortalError | None] | None = None
        self.streams = 0  # follow streams opened to the API server
        self._idle: asyncio.TimerHandle | None = None
        HUB_STATS["hubs"] += 1
        self.task = loop.create_task(self._run())

    # ---------------------------------------------------------------- subscribers

    def subscribe(self, sink: Sink) -> Tap:
        tap = Tap(self, sink)
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self.finished is not None:
            tap.end(self.finished)
        else:
            self.taps.add(tap)
        return tap

    def unsubscribe(self, tap: Tap) -> None:
        self.taps.discard(tap)
        if not self.taps and self.finished is None and self._idle is None:
            self._idle = self.loop.call_later(HUB_GRACE, self._stop_idle)

    def _stop_idle(self) -> None:
        self._idle = None
        if self.taps or self.finished is not None:
            return
        self._finish(("idle", None))
        self.task.cancel()

    def _finish(self, outcome: tuple[str, errors.PortalError | None]) -> None:
        if self.finished is not None:
            return
        self.finished = outcome
        if HUBS.get((self.loop, self.key)) is self:
            del HUBS[(self.loop, self.key)]
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self.started.set()
        taps, self.taps = self.taps, set()
        for tap in taps:
            tap.end(outcome)

    # ---------------------------------------------------------------- the reader

    async def _run(self) -> None:
        try:
            outcome = await self._follow()
        except asyncio.CancelledError:
            self._finish(("stopped", None))
            raise
        except Exception as exc:  # a bug, not the cluster: say so to the subscribers rather than hang them
            logger.exception("the shared log follow of %s failed", self.key)
            error = gateway.failure(exc, self.cluster, "following the log", budget=gateway.budget())
            outcome = (error.code, error)
        self._finish(outcome)

    def _fan_out(self, lines: list[logs.LogLine]) -> None:
        size = logs.batch_size(lines)
        for tap in tuple(self.taps):
            tap.deliver(lines, size)

    async def _follow(self) -> tuple[str, errors.PortalError | None]:
        _, namespace, pod, container = self.key
        loop = asyncio.get_running_loop()
        wait = REATTACH_MIN
        failures = 0
        while True:
            try:
                if not self.start_fixed:
                    HUB_STATS["probes"] += 1
                    last = await read_once(self.spec, namespace, pod, container, tail_lines=1)
                    now, wall = loop.time(), time.time()
                    self.overlap.note([logs.make_line(pod, container, raw, now=now, wall=wall) for raw in last[-1:]])
                    self.start_fixed = True
                    self.started.set()
                stream = await logstream.open_log(
                    self.spec, namespace=namespace, pod=pod, container=container, follow=True,
                    since_time=_since_time(self.overlap.at), timestamps=True,
                    connect_timeout=gateway.budget(), read_timeout=gateway.budget())
            except kube.NotFound:
                return "pod_deleted", None
            except kube.KubeError as exc:
                refusal = _refusal(exc, namespace, pod, container) if exc.status == 400 else None
                if refusal is not None and refusal.code == "container_waiting":
                    await asyncio.sleep(wait)  # a crash loop's back-off, or still starting
                    wait = min(wait * 2, REATTACH_MAX)
                    continue
                if isinstance(exc, kube.ReadTimeout) and self.start_fixed and self.overlap.at is None:
                    # the log was empty at the probe, and a kubelet sends a follow's headers with its
                    # first line: a container that writes nothing answers nothing. Ask again (from
                    # the start of the log: nothing is missed).
                    continue
                if isinstance(exc, kube.Unreachable) and failures < UNREACHABLE_ATTEMPTS:
                    failures += 1
                    await asyncio.sleep(wait)
                    wait = min(wait * 2, REATTACH_MAX)
                    continue
                error = refusal or gateway.failure(exc, self.cluster, "following the log", budget=gateway.budget())
                return error.code, error
            failures = 0
            self.streams += 1
            HUB_STATS["streams"] += 1
            self.overlap.arm()
            try:
                async for batch in stream.batches():
                    now, wall = loop.time(), time.time()
                    fresh = self.overlap.fresh([logs.make_line(pod, container, raw, now=now, wall=wall)
                                                for raw in batch])
                    if fresh:
                        self.overlap.note(fresh)
                        self._fan_out(fresh)
                    wait = REATTACH_MIN
            except kube.KubeError:
                pass  # broke off: find out below whether the pod is still there
            finally:
                await stream.close()
            logger.info("the log stream of %s/%s (%s) ended; checking the pod", namespace, pod, container)
            try:
                state = await asyncio.to_thread(_pod_state, self.cluster, namespace, pod, container)
            except errors.PortalError:
                state = "restarting"
            if state != "restarting":
                return ("pod_deleted" if state == "gone" else "completed"), None
            await asyncio.sleep(wait)
            wait = min(wait * 2, REATTACH_MAX)


async def read_once(spec: Any, namespace: str, pod: str, container: str, *, tail_lines: int | None = None,
                    since_seconds: int | None = None, previous: bool = False) -> list[str]:
    """A one-shot read (no follow) of a container's log, stamped; a read that breaks off gives
    what came."""
    stream = await logstream.open_log(
        spec, namespace=namespace, pod=pod, container=container, follow=False, tail_lines=tail_lines,
        since_seconds=since_seconds, previous=previous, timestamps=True,
        connect_timeout=gateway.budget(), read_timeout=gateway.budget())
    out: list[str] = []
    with contextlib.suppress(kube.KubeError):
        async for batch in stream.batches():
            out.extend(batch)
    return out


def hub_for(admitted: Admitted, namespace: str, pod: str, container: str) -> LogHub:
    """This process's hub for the container (made, and its reader started, when there is none)."""
    loop = asyncio.get_running_loop()
    key = (admitted.cluster.pk, namespace, pod, container)
    hub = HUBS.get((loop, key))
    if hub is None or hub.finished is not None:
        for stale in [k for k in HUBS if k[0].is_closed()]:
            del HUBS[stale]
        hub = HUBS[(loop, key)] = LogHub(key, admitted.spec, admitted.cluster, loop)
    return hub


# ---------------------------------------------------------------------------- the consumer


def _refusal(exc: kube.KubeError, namespace: str, pod: str, container: str) -> errors.PortalError | None:
    """The API server's 400 for a log read, in the portal's codes (as ``GET …/log/`` says them)."""
    message = str((exc.body or {}).get("message") or exc)
    params = {"pod": f"{namespace}/{pod}", "container": container}
    if "previous terminated container" in message:
        return errors.Invalid(f"Container {container} of pod {namespace}/{pod} has no previous (terminated) run.",
                              code="previous_log_unavailable", params=params)
    if "is waiting to start" in message:
        reason = message.rsplit(":", 1)[-1].strip() if ":" in message else ""
        return errors.Conflict(f"Container {container} of pod {namespace}/{pod} is waiting to start ({reason}).",
                               code="container_waiting", params={**params, "reason": reason})
    if "is not valid for pod" in message or "container name must be specified" in message:
        return errors.NotFound(f"Pod {namespace}/{pod} has no container {container!r}.", code="container_not_found",
                               params=params)
    return None


class LogConsumer(AsyncWebsocketConsumer):
    """One socket: at most one follow at a time (a new ``follow`` replaces the current one)."""

    async def connect(self) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.scope.get("headers", [])}
        self.user_id: int | None = None
        self.readers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.taps: dict[tuple[str, str], Tap] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.follow: Follow | None = None
        self.admitted: Admitted | None = None
        self.paused = False
        self.closed = False
        self.control: str | None = None
        self.generation = 0
        self.outbox: deque[dict[str, Any]] = deque()
        self.after_lines: deque[tuple[int, dict[str, Any]]] = deque()  # sent once the lines before them were
        self.wake = asyncio.Event()
        self.buffer = logs.FollowBuffer()
        await self.accept()
        if not origin_allowed(headers.get("origin"), headers.get("host")):
            await self.close(code=CLOSE_FORBIDDEN_ORIGIN)
            return
        user = self.scope.get("user")
        self.session_key: str | None = getattr(self.scope.get("session"), "session_key", None)
        if user is None or not user.is_authenticated or not self.session_key:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if _SOCKETS_PER_USER.get(user.pk, 0) >= max_sockets_per_user():
            limit = max_sockets_per_user()
            await self._send_now({"type": "error", "code": "log_followers_limit",
                                  "message": f"You follow logs in {limit} windows already; close one first.",
                                  "params": {"limit": limit}})
            await self.close(code=CLOSE_TOO_MANY)
            return
        self.user_id = user.pk
        _SOCKETS_PER_USER[user.pk] = _SOCKETS_PER_USER.get(user.pk, 0) + 1
        LIVE.add(self)
        self.control = control_group(user.pk)
        await self.channel_layer.group_add(self.control, self.channel_name)
        self.tasks = [asyncio.create_task(self._sender()), asyncio.create_task(self._rechecks())]

    # ---------------------------------------------------------------- browser → server

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closed or self.user_id is None:
            return
        frame: Any = None
        if text_data is not None and len(text_data) <= MAX_FRAME_CHARS:
            with contextlib.suppress(ValueError):
                frame = json.loads(text_data)
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "follow" and isinstance(frame, dict):
            await self._start(frame)
        elif kind == "pause":
            self.paused = True
        elif kind == "resume":
            self.paused = False
            self.wake.set()
        elif kind == "stop":
            if self.follow is not None:
                await self._stop()
                self._queue({"type": "ended", "pod": "", "reason": "stopped"})
        else:
            self._error(errors.Invalid('Expected {"type": "follow" | "pause" | "resume" | "stop", …}.',
                                      code="log_frame_invalid"))

    async def _start(self, frame: dict[str, Any]) -> None:
        await self._stop()
        generation = self.generation
        try:
            follow = parse_follow(frame)
            admitted = await admit(self.session_key, follow)
        except errors.PortalError as error:
            if error.code == "session_ended":
                self._error(error)
                await self._end(CLOSE_UNAUTHENTICATED)
                return
            self._error(error)
            return
        if generation != self.generation or self.closed:  # a stop or another follow came meanwhile
            return
        self.follow, self.admitted = follow, admitted
        self.buffer = logs.FollowBuffer(window=logs.REORDER_WINDOW if follow.workload_kind else 0.0)
        self._queue({"type": "started", "pods": [{"pod": p, "container": c} for p, c in admitted.targets]})
        for pod, container in admitted.targets:
            self._attach(pod, container, follow.tail_lines)
        if follow.workload_kind and not follow.previous:
            self.tasks.append(asyncio.create_task(self._rescan(generation)))

    async def _stop(self) -> None:
        """Cancel every reader (their cluster connections close) and forget the buffer."""
        self.generation += 1
        readers = [task for task in (self._detach(key) for key in list(self.readers)) if task is not None]
        rescans = [t for t in self.tasks[2:]]
        del self.tasks[2:]
        for task in readers + rescans:
            task.cancel()
        for task in readers + rescans:
            with contextlib.suppress(BaseException):
                await task
        self.follow = None
        self.admitted = None
        self.buffer.clear()
        self.after_lines.clear()

    # ---------------------------------------------------------------- cluster → buffer

    def _attach(self, pod: str, container: str, tail: int | None) -> None:
        key = (pod, container)
        if key not in self.readers:
            self.readers[key] = asyncio.create_task(self._read(pod, container, tail))

    def _detach(self, key: tuple[str, str]) -> asyncio.Task[None] | None:
        """Leave the container's hub now (no more lines for this socket) and cancel its task."""
        tap = self.taps.pop(key, None)
        if tap is not None:
            tap.close()
        task = self.readers.pop(key, None)
        if task is not None:
            task.cancel()
        return task

    # the hub's lines into this socket's buffer (Sink)

    def hub_lines(self, lines: list[logs.LogLine], size: int) -> None:
        self.buffer.add(lines, size)
        self._note_peak()
        self.wake.set()

    def hub_skipped(self, count: int) -> None:
        self.buffer.count_skipped(count)
        self.wake.set()

    async def _read(self, pod: str, container: str, tail: int | None) -> None:
        """Follow one container: join its hub (the shared live stream), after this socket's own
        tail; report how it ended. A ``previous`` read is this socket's own one-shot read."""
        follow, admitted = self.follow, self.admitted
        assert follow is not None
        assert admitted is not None
        if follow.previous:
            if await self._read_own(pod, container, tail, None):
                self._ended(pod, "end_of_log")
            return
        hub = hub_for(admitted, follow.namespace, pod, container)
        tap = hub.subscribe(self)
        self.taps[(pod, container)] = tap
        try:
            await hub.started.wait()
            if tail != 0 and hub.start_fixed and not await self._read_own(pod, container, tail, tap):
                return
            tap.join()
            reason, error = await tap.done
            if reason in ("idle", "stopped"):  # the hub was stopped under us (the process shuts down)
                return
            if error is not None:
                self._error(error, pod=pod)
            self._ended(pod, reason)
        finally:
            tap.close()
            if self.taps.get((pod, container)) is tap:
                del self.taps[(pod, container)]

    async def _read_own(self, pod: str, container: str, tail: int | None, tap: Tap | None) -> bool:
        """This socket's one-shot read: the tail before joining the hub (``tap``), or the
        ``previous`` run. False when it failed (``error`` and ``ended`` queued)."""
        follow, admitted = self.follow, self.admitted
        assert follow is not None
        assert admitted is not None
        loop = asyncio.get_running_loop()
        wait = REATTACH_MIN
        failures = 0
        while True:
            try:
                HUB_STATS["tail_reads"] += 1
                stream = await logstream.open_log(
                    admitted.spec, namespace=follow.namespace, pod=pod, container=container, follow=False,
                    tail_lines=tail, since_seconds=follow.since_seconds, previous=follow.previous, timestamps=True,
                    connect_timeout=gateway.budget(), read_timeout=gateway.budget())
            except kube.NotFound:
                self._ended(pod, "pod_deleted")
                return False
            except kube.KubeError as exc:
                refusal = _refusal(exc, follow.namespace, pod, container) if exc.status == 400 else None
                if tap is not None and refusal is not None and refusal.code == "container_waiting":
                    return True  # no run to read a tail of: the hub brings the next run's lines
                if isinstance(exc, kube.Unreachable) and failures < UNREACHABLE_ATTEMPTS:
                    failures += 1
                    await asyncio.sleep(wait)
                    wait = min(wait * 2, REATTACH_MAX)
                    continue
                error = refusal or gateway.failure(exc, admitted.cluster, "following the log", budget=gateway.budget())
                self._error(error, pod=pod)
                self._ended(pod, error.code)
                return False
            try:
                async for batch in stream.batches():
                    now, wall = loop.time(), time.time()
                    lines = [logs.make_line(pod, container, raw, now=now, wall=wall) for raw in batch]
                    if tap is not None:
                        tap.tail(lines)
                    else:
                        self.hub_lines(lines, logs.batch_size(lines))
            except kube.KubeError:
                logger.info("the log read of %s/%s (%s) broke off", follow.namespace, pod, container)
            finally:
                await stream.close()
            return True

    async def _rescan(self, generation: int) -> None:
        """Attach the workload's new pods and detach the gone ones, from the read model."""
        follow = self.follow
        assert follow is not None
        while generation == self.generation and not self.closed:
            await asyncio.sleep(rescan_seconds())
            pods = await database_sync_to_async(workload_pods)(follow.cluster_id, follow.namespace,
                                                                follow.workload_kind, follow.workload_name)
            if generation != self.generation:
                return
            now = {(pod, _pick(containers, follow.container)) for pod, containers in pods or []}
            now = {(p, c) for p, c in now if c}
            removed = [key for key in self.readers if key not in now]
            added = [key for key in sorted(now) if key not in self.readers][: max(0, max_pods() - len(self.readers)
                                                                                  + len(removed))]
            for key in removed:
                self._detach(key)
            for pod, container in added:
                self._attach(pod, container, follow.tail_lines)
            if added or removed:
                self._queue({"type": "pods", "added": [{"pod": p, "container": c} for p, c in added],
                             "removed": [{"pod": p, "container": c} for p, c in removed]})

    def _note_peak(self) -> None:
        if self.buffer.lines > PEAK["lines"]:
            PEAK["lines"] = self.buffer.lines
        if self.buffer.bytes > PEAK["bytes"]:
            PEAK["bytes"] = self.buffer.bytes

    # ---------------------------------------------------------------- buffer → browser

    def _queue(self, message: dict[str, Any]) -> None:
        self.outbox.append(message)
        self.wake.set()

    def _error(self, error: errors.PortalError, *, pod: str = "") -> None:
        params = dict(error.params)
        if pod and "pod" not in params:
            params["pod"] = pod
        self._queue({"type": "error", "code": error.code, "message": error.message, "params": params})

    def _ended(self, pod: str, reason: str) -> None:
        """``ended`` goes after the lines the pod's reader added before it."""
        self.after_lines.append((self.buffer.added_total, {"type": "ended", "pod": pod, "reason": reason}))
        self.wake.set()

    async def _send_now(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message, separators=(",", ":")))

    async def _sender(self) -> None:
        """The one task that sends: control messages first, then ``skipped`` and a batch of lines,
        at most every :data:`SEND_INTERVAL`; each send awaited (a slow browser blocks only this)."""
        loop = asyncio.get_running_loop()
        try:
            while not self.closed:
                if not self.outbox and (self.paused or not (self.buffer.lines or self.after_lines)):
                    self.wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), timeout=logs.REORDER_WINDOW)
                started = loop.time()
                while self.outbox:
                    await self._send_now(self.outbox.popleft())
                if not self.paused and self.follow is not None:
                    timestamps = self.follow.timestamps
                    self.buffer.release(loop.time())
                    skipped = self.buffer.take_skipped()
                    if skipped:
                        await self._send_now({"type": "skipped", "count": skipped})
                    batch = self.buffer.take()
                    if batch:
                        await self.send(text_data=logs.lines_text(batch, timestamps=timestamps))
                    gone = self.buffer.added_total - self.buffer.lines  # lines sent or dropped so far
                    while self.after_lines and self.after_lines[0][0] <= gone:
                        await self._send_now(self.after_lines.popleft()[1])
                await asyncio.sleep(max(0.0, SEND_INTERVAL - (loop.time() - started)))
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket went away under a send: the disconnect handler ends the rest
            logger.debug("log socket sender ended", exc_info=True)

    # ---------------------------------------------------------------- access

    async def _rechecks(self) -> None:
        while not self.closed:
            await asyncio.sleep(recheck_seconds())
            await self._recheck()

    async def _recheck(self) -> None:
        follow = self.follow
        if follow is None:
            return
        refusal = await database_sync_to_async(_still_allowed)(self.session_key, follow.cluster_id, follow.namespace)
        if refusal is None or follow is not self.follow:
            return
        await self._stop()
        self._error(refusal)
        if refusal.code == "session_ended":
            await self._end(CLOSE_UNAUTHENTICATED)

    async def portal_reauthorize(self, message: dict[str, Any]) -> None:
        """Sent to the user's control group when their access may have changed (portal.consumers)."""
        await self._recheck()

    async def portal_event(self, message: dict[str, Any]) -> None:
        """This socket joins no event group; nothing to relay."""

    # ---------------------------------------------------------------- the end

    async def _end(self, close_code: int) -> None:
        while self.outbox:  # the error that says why
            with contextlib.suppress(Exception):
                await self._send_now(self.outbox.popleft())
        await self._cleanup()
        with contextlib.suppress(Exception):
            await self.close(code=close_code)

    async def disconnect(self, code: int) -> None:
        await self._cleanup()

    async def _cleanup(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.user_id is not None:
            left = _SOCKETS_PER_USER.get(self.user_id, 1) - 1
            if left > 0:
                _SOCKETS_PER_USER[self.user_id] = left
            else:
                _SOCKETS_PER_USER.pop(self.user_id, None)
        LIVE.discard(self)
        current = asyncio.current_task()
        readers = [task for task in (self._detach(key) for key in list(self.readers)) if task is not None]
        pending = [t for t in [*readers, *self.tasks] if t is not current]
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(BaseException):
                await task
        self.buffer.clear()
        if self.control:
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(self.control, self.channel_name)

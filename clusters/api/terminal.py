"""``/ws/exec/``: a shell in a pod's container, relayed between the browser's terminal and the
Kubernetes exec stream (:mod:`clusters.kube.exec`).

A shell is the strongest thing the portal lets a person do to a workload, so the socket is held to
more than ``/ws/``: the same session authentication and Origin check (:mod:`portal.consumers`), then
the grant ``pods.exec`` for the pod's namespace from :mod:`clusters.access` (asked again whenever
the user's access may have changed, and every ``PORTAL_WS_RECHECK_SECONDS``), then the pod read live
through :mod:`clusters.gateway` (it exists, runs, has the container), and only then the exec
stream. The command is one of :data:`COMMANDS`, never free text. The session ends after
``PORTAL_EXEC_IDLE_SECONDS`` without input (keystrokes; a resize is not input) and after
``PORTAL_EXEC_MAX_SECONDS`` in all. It is written to the audit log as soon as the exec stream is
open (``pod.exec.start``: who, cluster, namespace, pod, container, command, a session id), before
the browser may type, so a shell whose web process dies still left a record; and when it ends
(``pod.exec``: the same and the session id, seconds, exit code), without the keystrokes unless an
admin sets ``PORTAL_EXEC_RECORD_INPUT``. Refusals after sign-in are audited too (outcome ``denied``).

Frames (docs/terminal.md): browser → server ``{"type": "stdin", "data": str}``,
``{"type": "resize", "cols": int, "rows": int}``; server → browser ``{"type": "ready", ...}``,
``{"type": "stdout" | "stderr", "data": str}``, ``{"type": "exit", "code": int}``,
``{"type": "error", "code": str, "message": str, "params": {...}}``. Close codes: 4401 not signed in,
4403 foreign Origin or no permission, 4404 no such cluster, pod or container, 4409 pod or container
not running, 4408 idle or too long, 4400 bad parameters, 4502/4503 the cluster failed or could
not be reached, 1000 after the command exited.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http.request import HttpHeaders

from clusters import gateway
from clusters.access import PODS_EXEC, object_action_denied, visible_clusters
from clusters.kube import errors as kube
from clusters.kube import exec as kexec
from clusters.models import LABEL_NAME, SUBDOMAIN_NAME, Cluster
from portal import audit, errors
from portal.consumers import (
    CLOSE_FORBIDDEN_ORIGIN,
    CLOSE_UNAUTHENTICATED,
    origin_allowed,
    recheck_seconds,
    session_user,
)
from portal.crypto import DecryptionError
from portal.events import control_group
from portal.middleware import client_ip
from portal.models import AuditOutcome

logger = logging.getLogger(__name__)

# The shells a person may start: a fixed list (the "shell command choice"), never free text.
COMMANDS: tuple[str, ...] = ("/bin/sh", "/bin/bash", "sh")
DEFAULT_COMMAND = "/bin/sh"

CLOSE_INVALID = 4400
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TIMEOUT = 4408
CLOSE_NOT_RUNNING = 4409
MAX_INPUT_CHARS = 64 * 1024  # one stdin frame (a paste)
MAX_RECORDED_CHARS = 256 * 1024  # recorded keystrokes per session, when recording is on
MAX_TERMINAL = 1000  # columns or rows



def idle_seconds() -> float:
    return max(1.0, float(getattr(settings, "PORTAL_EXEC_IDLE_SECONDS", 900)))


def max_seconds() -> float:
    return max(1.0, float(getattr(settings, "PORTAL_EXEC_MAX_SECONDS", 14400)))


def record_input() -> bool:
    return bool(getattr(settings, "PORTAL_EXEC_RECORD_INPUT", False))


@dataclass(frozen=True)
class Target:
    """What the browser asked for (``?cluster=&namespace=&pod=&container=&command=``)."""

    cluster_id: int
    namespace: str
    pod: str
    container: str
    command: str


def parse_target(query_string: bytes) -> Target:
    """The socket's query, checked; :class:`portal.errors.Invalid` naming each bad field."""
    query = {k: v[-1] for k, v in parse_qs(query_string.decode("latin-1"), keep_blank_values=True).items()}
    problems: dict[str, list[str]] = {}
    cluster = query.get("cluster", "")
    if not cluster.isdigit() or len(cluster) > 18:
        problems["cluster"] = ["Give the cluster's id."]
    namespace = query.get("namespace", "")
    if not LABEL_NAME.match(namespace):
        problems["namespace"] = ["Give the pod's namespace (a DNS label)."]
    pod = query.get("pod", "")
    if not SUBDOMAIN_NAME.match(pod):
        problems["pod"] = ["Give the pod's name."]
    container = query.get("container", "")
    if container and not LABEL_NAME.match(container):
        problems["container"] = ["A container name is a DNS label."]
    command = query.get("command") or DEFAULT_COMMAND
    if command not in COMMANDS:
        problems["command"] = [f"Choose one of: {', '.join(COMMANDS)}."]
    if problems:
        raise errors.Invalid("The shell cannot be opened: " + " ".join(m for ms in problems.values() for m in ms),
                             code="exec_invalid", errors=problems)
    return Target(int(cluster), namespace, pod, container, command)


def exec_container(pod: dict[str, Any], wanted: str) -> str:
    """The container of ``pod`` to run the shell in (``wanted``, or the pod's default container:
    the ``kubectl.kubernetes.io/default-container`` annotation, else the first), refused with
    ``container_not_found`` (404) or ``pod_not_running`` / ``container_not_running`` (409)."""
    meta = pod.get("metadata") or {}
    name = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    spec = pod.get("spec") or {}
    names = [str(c.get("name")) for c in (spec.get("containers") or []) + (spec.get("ephemeralContainers") or [])]
    container = wanted or str((meta.get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
                              or (names[0] if names else ""))
    if container not in names:
        raise errors.NotFound(f"Pod {name} has no container {container!r}; it has: {', '.join(names) or 'none'}.",
                              code="container_not_found",
                              params={"pod": name, "container": container, "containers": names})
    status = pod.get("status") or {}
    phase = str(status.get("phase") or "Unknown")
    if phase != "Running" or meta.get("deletionTimestamp"):
        shown = "Terminating" if meta.get("deletionTimestamp") else phase
        raise errors.Conflict(f"Pod {name} is {shown}; a shell needs a running pod.", code="pod_not_running",
                              params={"pod": name, "phase": shown})
    for item in (status.get("containerStatuses") or []) + (status.get("ephemeralContainerStatuses") or []):
        if item.get("name") == container and "running" not in (item.get("state") or {}):
            state = next(iter(item.get("state") or {"unknown": {}}))
            reason = str(((item.get("state") or {}).get(state) or {}).get("reason") or state)
            raise errors.Conflict(f"Container {container} of pod {name} is not running ({reason}).",
                                  code="container_not_running",
                                  params={"pod": name, "container": container, "state": reason})
    return container


class _Refused(Exception):
    """The socket is refused: close with ``close_code`` after telling the browser why."""

    def __init__(self, close_code: int, error: errors.PortalError | None = None) -> None:
        super().__init__(error.message if error else "")
        self.close_code = close_code
        self.error = error


def _close_code(error: errors.PortalError) -> int:
    if error.code in ("pod_not_running", "container_not_running"):
        return CLOSE_NOT_RUNNING
    return 4000 + error.status


def _admit(session_key: str | None, target: Target, source_ip: str | None = None) -> tuple[Any, Cluster]:
    """The user and the cluster, if the user may open this shell; else :class:`_Refused`
    (refusals of a signed-in user are audited)."""
    user = session_user(session_key)
    if user is None:
        raise _Refused(CLOSE_UNAUTHENTICATED)
    cluster = visible_clusters(user).filter(pk=target.cluster_id).first()
    if cluster is None:
        raise _Refused(CLOSE_NOT_FOUND, errors.NotFound("No such cluster.", code="cluster_not_found",
                                                        params={"cluster": target.cluster_id}))
    refusal = object_action_denied(user, cluster, target.namespace, PODS_EXEC)
    if refusal is not None:
        _audit(user, cluster, target, outcome=AuditOutcome.DENIED, detail={"reason": refusal.code},
               source_ip=source_ip)
        raise _Refused(CLOSE_FORBIDDEN, refusal)
    if not cluster.enabled:
        raise errors.Conflict(f"Cluster {cluster.name} is disabled.", code="cluster_disabled",
                              params={"cluster": cluster.name})
    return user, cluster


def _inspect(cluster: Cluster, target: Target) -> tuple[str, Any]:
    """Read the pod live; the container to exec into and the connection to use."""
    with gateway.live_read(cluster, "reading the pod",
                           gone=f"Pod {target.namespace}/{target.pod} does not exist in cluster {cluster.name}.") as read:
        pod = read.client.read_pod(target.pod, target.namespace, attempts=1)
        spec = cluster.connection_spec()  # inside: credentials that no longer decrypt answer as the read would
    return exec_container(pod, target.container), spec


def _still_allowed(session_key: str | None, cluster_id: int, namespace: str) -> _Refused | None:
    user = session_user(session_key)
    if user is None:
        return _Refused(CLOSE_UNAUTHENTICATED, errors.PortalError(
            "The session has ended (signed out, expired or the account deactivated); sign in again.",
            code="session_ended"))
    refusal = object_action_denied(user, cluster_id, namespace, PODS_EXEC)
    return _Refused(CLOSE_FORBIDDEN, refusal) if refusal is not None else None


def socket_client_ip(scope: dict[str, Any]) -> str | None:
    """The browser's address as an HTTP request's audit record has it (``X-Forwarded-For`` only
    when ``PORTAL_TRUST_X_FORWARDED_FOR``), from the socket's ASGI scope."""
    meta = {"REMOTE_ADDR": str((scope.get("client") or ("",))[0] or "")}
    for name, value in scope.get("headers", []):
        if name.decode("latin-1").lower() == "x-forwarded-for":
            meta["HTTP_X_FORWARDED_FOR"] = value.decode("latin-1")
    return client_ip(SimpleNamespace(META=meta, headers=HttpHeaders(meta)))  # type: ignore[arg-type]


EXEC_ACTION = "pod.exec"  # a session's end (or a refusal): the timeline's entry
EXEC_START_ACTION = "pod.exec.start"  # a session's start, written before the browser may type


def _audit(user: Any, cluster: Cluster, target: Target, *, outcome: str, detail: dict[str, Any],
           source_ip: str | None = None, action: str = EXEC_ACTION) -> None:
    audit.record(
        action=action, outcome=outcome, actor=user, target_type="pod", source_ip=source_ip,
        target_id=f"{cluster.pk}/{target.namespace}/{target.pod}"[:100],
        target_repr=f"{cluster.name}/{target.namespace}/{target.pod}"[:300],
        detail={"cluster": cluster.pk, "cluster_name": cluster.name, "namespace": target.namespace,
                "pod": target.pod, "container": target.container, "command": target.command, **detail},
    )


class ExecConsumer(AsyncWebsocketConsumer):
    """One socket, one shell session."""

    session: kexec.ExecSession | None = None
    finished = False

    async def connect(self) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.scope.get("headers", [])}
        self.tasks: list[asyncio.Task[None]] = []
        self.control: str | None = None
        self.input: list[str] = []
        self.input_chars = 0
        self.exit_code: int | None = None
        self.ended = ""
        await self.accept()  # first, so the browser receives the close code and the reason
        if not origin_allowed(headers.get("origin"), headers.get("host")):
            await self.close(code=CLOSE_FORBIDDEN_ORIGIN)
            return
        user = self.scope.get("user")
        self.session_key: str | None = getattr(self.scope.get("session"), "session_key", None)
        if user is None or not user.is_authenticated or not self.session_key:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        try:
            target = parse_target(self.scope.get("query_string", b""))
            self.source_ip = socket_client_ip(self.scope)
            self.user, self.cluster = await database_sync_to_async(_admit)(self.session_key, target, self.source_ip)
            container, spec = await database_sync_to_async(_inspect)(self.cluster, target)
            self.target = Target(target.cluster_id, target.namespace, target.pod, container, target.command)
            self.session = await self._open(spec)
        except _Refused as refused:
            await self._refuse(refused.close_code, refused.error)
            return
        except errors.PortalError as error:
            await self._refuse(_close_code(error), error)
            return
        self.started = time.monotonic()
        self.last_input = self.started
        self.next_recheck = self.started + recheck_seconds()
        self.session_id = uuid.uuid4().hex
        try:
            # Recorded before "ready" (the browser types only after it): if this process dies with
            # the shell open, the start is in the audit log. A record that cannot be written ends
            # the session (below), so no shell runs unaudited.
            await database_sync_to_async(_audit)(
                self.user, self.cluster, self.target, outcome=AuditOutcome.SUCCESS, action=EXEC_START_ACTION,
                detail={"session": self.session_id, "protocol": self.session.protocol}, source_ip=self.source_ip)
            self.control = control_group(self.user.pk)
            await self.channel_layer.group_add(self.control, self.channel_name)
            await self._send({"type": "ready", "protocol": self.session.protocol, "container": container,
                              "command": target.command, "idle_seconds": idle_seconds(),
                              "max_seconds": max_seconds()})
        except Exception:  # the browser left while the stream opened (or Redis/the DB is away): end it, audited
            await self._finish("broken", None)
            raise
        self.tasks = [asyncio.create_task(self._pump()), asyncio.create_task(self._watch())]

    async def _open(self, spec: Any) -> kexec.ExecSession:
        try:
            return await kexec.open_exec(spec, namespace=self.target.namespace, pod=self.target.pod,
                                         container=self.target.container, command=[self.target.command],
                                         stdin=True, tty=True, connect_timeout=gateway.budget(),
                                         read_timeout=gateway.budget())
        except (kube.KubeError, DecryptionError) as exc:
            raise gateway.failure(exc, self.cluster, "opening the shell", budget=gateway.budget(),
                                  gone=f"Pod {self.target.namespace}/{self.target.pod} is gone.") from exc

    async def _refuse(self, close_code: int, error: errors.PortalError | None) -> None:
        if error is not None:
            await self._send({"type": "error", "code": error.code, "message": error.message, "params": error.params})
        await self.close(code=close_code)

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame))

    # ---------------------------------------------------------------- cluster → browser

    async def _pump(self) -> None:
        assert self.session is not None
        decoders = {kexec.STDOUT: codecs.getincrementaldecoder("utf-8")("replace"),
                    kexec.STDERR: codecs.getincrementaldecoder("utf-8")("replace")}
        try:
            async for event in self.session.events():
                if isinstance(event, kexec.Output):
                    text = decoders[event.channel].decode(event.data)
                    if text:
                        await self._send({"type": "stdout" if event.channel == kexec.STDOUT else "stderr",
                                          "data": text})
                    continue
                if event.code is None:
                    await self._send({"type": "error", "code": "exec_failed", "message": event.message,
                                      "params": {"message": event.message}})
                    await self._finish("failed", 4000 + 502)
                    return
                self.exit_code = event.code
                await self._send({"type": "exit", "code": event.code})
                await self._finish("exit", 1000)
                return
            await self._finish("closed_by_cluster", 1000)
        except kube.KubeError as exc:
            error = gateway.failure(exc, self.cluster, "relaying the shell", budget=gateway.budget())
            await self._send({"type": "error", "code": error.code, "message": error.message, "params": error.params})
            await self._finish("broken", _close_code(error))
        except Exception:  # a bug must not leave the shell open and unaudited
            logger.exception("the pod shell relay failed")
            await self._finish("broken", 1011)

    # ---------------------------------------------------------------- browser → cluster

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.finished or self.session is None:
            return
        try:
            frame = json.loads(text_data) if text_data is not None else None
        except ValueError:
            frame = None
        kind = frame.get("type") if isinstance(frame, dict) else None
        try:
            if kind == "stdin" and isinstance(frame, dict) and isinstance(frame.get("data"), str):
                data = frame["data"]
                if len(data) > MAX_INPUT_CHARS:
                    await self._bad_frame(f"Send at most {MAX_INPUT_CHARS} characters of input at once.")
                    return
                self.last_input = time.monotonic()
                self._record(data)
                await self.session.send_stdin(data.encode("utf-8", "replace"))
            elif kind == "resize" and isinstance(frame, dict):
                cols, rows = frame.get("cols"), frame.get("rows")
                if not (isinstance(cols, int) and isinstance(rows, int) and 1 <= cols <= MAX_TERMINAL
                        and 1 <= rows <= MAX_TERMINAL):
                    await self._bad_frame(f"A resize needs whole cols and rows between 1 and {MAX_TERMINAL}.")
                    return
                await self.session.resize(cols, rows)  # not input: a resize alone keeps no idle shell open
            else:
                await self._bad_frame('Expected {"type": "stdin", "data": …} or {"type": "resize", "cols": …, '
                                      '"rows": …}.')
        except kube.KubeError:
            pass  # the stream closed under us: the pump reports how it ended

    async def _bad_frame(self, message: str) -> None:
        await self._send({"type": "error", "code": "exec_frame_invalid", "message": message, "params": {}})

    def _record(self, data: str) -> None:
        if record_input() and self.input_chars < MAX_RECORDED_CHARS:
            kept = data[: MAX_RECORDED_CHARS - self.input_chars]
            self.input.append(kept)
            self.input_chars += len(kept)
            if len(kept) < len(data):
                self.input_chars = MAX_RECORDED_CHARS + 1  # marks the record as cut short

    # ---------------------------------------------------------------- timers and access

    async def _watch(self) -> None:
        """Idle and total time limits, and the periodic access re-check."""
        idle, longest = idle_seconds(), max_seconds()
        while not self.finished:
            now = time.monotonic()
            if now - self.last_input >= idle:
                await self._timeout("exec_idle_timeout", f"No input for {idle:g} s: the shell was closed.",
                                    {"seconds": idle}, "idle")
                return
            if now - self.started >= longest:
                await self._timeout("exec_max_duration", f"The shell reached its longest duration ({longest:g} s) "
                                    "and was closed.", {"seconds": longest}, "max_duration")
                return
            if now >= self.next_recheck:
                self.next_recheck = now + recheck_seconds()
                if await self._revoked():
                    return
            await asyncio.sleep(max(0.05, min(self.last_input + idle, self.started + longest,
                                              self.next_recheck) - time.monotonic()))

    async def _timeout(self, code: str, message: str, params: dict[str, Any], why: str) -> None:
        await self._send({"type": "error", "code": code, "message": message, "params": params})
        await self._finish(why, CLOSE_TIMEOUT)

    async def _revoked(self) -> bool:
        refused = await database_sync_to_async(_still_allowed)(self.session_key, self.cluster.pk, self.target.namespace)
        if refused is None:
            return False
        if refused.error is not None:
            await self._send({"type": "error", "code": refused.error.code, "message": refused.error.message,
                              "params": refused.error.params})
        await self._finish("revoked", refused.close_code)
        return True

    async def portal_reauthorize(self, message: dict[str, Any]) -> None:
        """Sent to the user's control group when their access may have changed (portal.consumers)."""
        if not self.finished and self.session is not None:
            await self._revoked()

    async def portal_event(self, message: dict[str, Any]) -> None:
        """This socket joins no event group; nothing to relay."""

    # ---------------------------------------------------------------- the end

    async def disconnect(self, code: int) -> None:
        await self._finish("closed_by_user", None)

    async def _finish(self, why: str, close_code: int | None) -> None:
        """End the session once: stop the tasks, close the exec stream, write the audit record,
        close the socket (unless the browser already has)."""
        if self.finished or self.session is None:
            return
        self.finished = True
        self.ended = why
        current = asyncio.current_task()
        for task in getattr(self, "tasks", []):
            if task is not current:
                task.cancel()
        with contextlib.suppress(Exception):
            await self.session.close()
        seconds = round(time.monotonic() - self.started, 1)
        detail: dict[str, Any] = {"session": self.session_id, "seconds": seconds, "exit_code": self.exit_code,
                                  "ended": why, "protocol": self.session.protocol}
        if record_input():
            detail["input"] = "".join(self.input)
            detail["input_truncated"] = self.input_chars > MAX_RECORDED_CHARS
        try:
            await database_sync_to_async(_audit)(
                self.user, self.cluster, self.target,
                outcome=AuditOutcome.FAILURE if why in ("failed", "broken") else AuditOutcome.SUCCESS, detail=detail,
                source_ip=self.source_ip)
        except Exception:
            logger.exception("could not write the audit record of a pod shell")
        if self.control:
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(self.control, self.channel_name)
        if close_code is not None:
            with contextlib.suppress(Exception):
                await self.close(code=close_code)

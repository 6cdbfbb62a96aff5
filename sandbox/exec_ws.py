"""The Kubernetes remote-command WebSocket protocol (``pods/exec``) of the sandbox.

kubectl 1.30+ (``v5.channel.k8s.io``), the official clients (``v4.channel.k8s.io``) and the portal
talk to ``/api/v1/namespaces/NS/pods/NAME/exec?command=...&stdin=&stdout=&stderr=&tty=&container=``
with a WebSocket upgrade. Every binary message starts with a channel byte: 0 stdin, 1 stdout,
2 stderr, 3 error (one JSON ``metav1.Status`` when the command ends), 4 resize (JSON
``{"Width", "Height"}``); v5 adds 255 close (``[255, 0]``: the client closed stdin). The
``v4.base64.channel.k8s.io`` variant sends text messages: the channel as an ASCII digit, then the
data in base64. The server answers as kube-apiserver's stream translator does (the path v5
clients take since 1.30); the command itself runs in :mod:`sandbox.shell`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from sandbox.errors import BadRequest
from sandbox.resources import PODS
from sandbox.shell import ExecNotFound, Shell, TerminalSize, container_context

log = logging.getLogger(__name__)

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
PROTOCOLS = (V5, V4, V4_BASE64)
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
MAX_MESSAGE = 1 << 20
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class ExecOptions:
    command: tuple[str, ...]
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


def _flag(q: Any, key: str) -> bool:
    return str(q.get(key) or "").lower() in ("1", "true", "yes")


def options(q: Any) -> ExecOptions:
    """The exec options of a request's query, refused as the apiserver and kubelet refuse them."""
    command = tuple(q.getall("command", []))
    if not command:
        raise BadRequest("you must specify at least 1 command")
    opts = ExecOptions(command=command, stdin=_flag(q, "stdin"), stdout=_flag(q, "stdout"),
                       stderr=_flag(q, "stderr"), tty=_flag(q, "tty"))
    if not (opts.stdin or opts.stdout or opts.stderr):
        raise BadRequest("you must specify at least 1 of stdin, stdout, stderr")
    if opts.tty and opts.stderr:  # the kubelet bypasses stderr on a terminal (it goes to stdout)
        opts = ExecOptions(command, opts.stdin, opts.stdout, False, True)
    return opts


def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_status(code: int) -> dict[str, Any]:
    """What the stream translator writes for a non-zero exit (the SPDY client's message, wrapped)."""
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: command terminated with exit code {code}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def internal_status(cause: str) -> dict[str, Any]:
    """``apierrors.NewInternalError(err)`` as the translator writes it on the error channel."""
    return {"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {cause}",
            "reason": "InternalError", "details": {"causes": [{"message": cause}]}, "code": 500}


def container_running(pod: dict[str, Any], container: str) -> bool:
    st = pod.get("status") or {}
    if pod["metadata"].get("deletionTimestamp") and st.get("phase") in ("Succeeded", "Failed"):
        return False
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for cs in st.get(key) or []:
            if cs.get("name") == container:
                return bool((cs.get("state") or {}).get("running"))
    return False


async def serve(request: web.Request, store: Any, pod: dict[str, Any], container: str,
                opts: ExecOptions) -> web.StreamResponse:
    """Upgrade ``request`` and run ``opts.command`` in ``container`` of ``pod`` until it exits or the
    client goes away."""
    upgrade = request.headers.get("Upgrade", "").lower()
    if upgrade != "websocket":
        if upgrade.startswith("spdy"):
            raise BadRequest("the sandbox serves exec over WebSockets only (v5.channel.k8s.io, v4.channel.k8s.io), "
                             "not SPDY")
        raise BadRequest("Upgrade request required")
    ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True, max_msg_size=MAX_MESSAGE, timeout=5.0)
    ready = ws.can_prepare(request)
    if not ready.ok:
        raise BadRequest("Upgrade request required")
    if ready.protocol is None:
        offered = request.headers.get("Sec-WebSocket-Protocol", "")
        raise BadRequest(f"unable to upgrade connection: no supported sub-protocol in [{offered}]; supported: "
                         + ", ".join(PROTOCOLS))
    await ws.prepare(request)
    proto = ws.ws_protocol or V4
    b64 = proto == V4_BASE64
    lock = asyncio.Lock()

    async def send(channel: int, data: bytes) -> None:
        if ws.closed:
            return
        async with lock:
            with contextlib.suppress(ConnectionResetError, RuntimeError):
                if b64:
                    await ws.send_str(chr(ord("0") + channel) + base64.b64encode(data).decode())
                else:
                    await ws.send_bytes(bytes([channel]) + data)

    async def finish(status: dict[str, Any]) -> web.StreamResponse:
        await send(ERROR, json.dumps(status, separators=(",", ":")).encode())
        with contextlib.suppress(ConnectionResetError, RuntimeError, asyncio.TimeoutError):
            await ws.close()
        return ws

    # the kubelet's signal that the streams are up: an empty message on the lowest writable channel
    await send(STDOUT if opts.stdout else STDERR if opts.stderr else ERROR, b"")
    if not container_running(pod, container):
        return await finish(internal_status(f'unable to upgrade connection: container not found ("{container}")'))

    size = TerminalSize()
    stdin_q: asyncio.Queue[bytes | None] = asyncio.Queue()
    stdin_done = not opts.stdin

    async def read_input() -> bytes | None:
        nonlocal stdin_done
        if stdin_done:
            return None
        data = await stdin_q.get()
        if data is None:
            stdin_done = True
        return data

    async def reader() -> None:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                frame = bytes(msg.data)
            elif msg.type == WSMsgType.TEXT and b64 and msg.data:
                try:
                    frame = bytes([ord(msg.data[0]) - ord("0")]) + base64.b64decode(msg.data[1:])
                except (ValueError, TypeError):
                    continue
            else:
                continue
            if not frame:
                continue
            channel, payload = frame[0], frame[1:]
            if channel == STDIN and opts.stdin and payload:
                stdin_q.put_nowait(payload)
            elif channel == RESIZE:
                try:
                    dims = json.loads(payload)
                    size.cols = int(dims.get("Width") or size.cols)
                    size.rows = int(dims.get("Height") or size.rows)
                except (ValueError, TypeError, AttributeError):
                    continue
            elif channel == CLOSE and proto == V5 and payload[:1] == bytes([STDIN]):
                stdin_q.put_nowait(None)

    async def out(data: bytes) -> None:
        if opts.stdout:
            await send(STDOUT, data)

    async def err(data: bytes) -> None:
        if opts.stderr:
            await send(STDERR, data)

    md = pod["metadata"]

    async def container_stops() -> None:
        """Returns when the pod is deleted or replaced or the container stops running."""
        while True:
            await asyncio.sleep(POLL_SECONDS)
            cur = store.get(PODS, md["namespace"], md["name"])
            if cur is None or cur["metadata"].get("uid") != md.get("uid") or not container_running(cur, container):
                return

    ctx = container_context(store, pod, container)
    shell = Shell(ctx, tty=opts.tty, out=out, err=err, read_input=read_input, size=size)
    run = asyncio.ensure_future(shell.run(list(opts.command)))
    reading = asyncio.ensure_future(reader())
    stopping = asyncio.ensure_future(container_stops())
    try:
        done, _ = await asyncio.wait({run, reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if run not in done:
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run
            if stopping in done:  # the container was killed: so is the process exec'd in it (SIGKILL)
                return await finish(exit_status(137))
            return ws  # the client went away: end the command as the runtime would
        try:
            code = run.result()
        except ExecNotFound as exc:
            return await finish(internal_status(
                "error executing command in container: failed to exec in container: failed to start exec: OCI "
                "runtime exec failed: exec failed: unable to start container process: exec: "
                f'"{exc.program}": executable file not found in $PATH: unknown'))
        except Exception:  # a bug in the simulated shell must not take the sandbox down
            log.exception("simulated exec failed")
            return await finish(internal_status("error executing command in container: simulated shell failed"))
        return await finish(success_status() if code == 0 else exit_status(code))
    finally:
        for task in (reading, stopping):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

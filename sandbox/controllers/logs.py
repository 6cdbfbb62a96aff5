"""Container logs generated from the clock: no buffers, same answer for every reader.

A running container "writes" one line per second from its start time (a few
start-up lines, then access-log-like lines whose content is a pure function
of pod, container and line number; the pod annotation ``sandbox.k8s.io/log-rate``
makes it write that many lines a second instead, for log benchmarks).  So ``tailLines``, ``sinceSeconds``,
``timestamps`` and ``follow`` are all cheap arithmetic, and memory does not
grow with uptime.  History is capped at :data:`MAX_LINES` lines, like log
rotation.  Errors use the kubelet/apiserver messages kubectl users know.

Containers that run a *program* (:mod:`sandbox.programs`: the build pods' clone, build and scan
containers) have a real log instead: the lines the program wrote, each with the time it was
written; the same options apply to it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from sandbox.controllers.base import parse_iso, stable_unit
from sandbox.errors import BadRequest, not_found
from sandbox.resources import PODS

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager

MAX_LINES = 5000
LOG_RATE_ANNOTATION = "sandbox.k8s.io/log-rate"
MAX_LOG_RATE = 20000.0  # lines a second
_PATHS = ("/", "/healthz", "/api/v1/items", "/api/v1/items/{n}", "/api/v1/orders", "/api/v1/orders/{n}",
          "/static/app.js", "/static/app.css", "/metrics", "/login", "/api/v1/cart", "/api/v1/search?q=k{n}")
_METHODS = ("GET", "GET", "GET", "GET", "POST", "PUT", "DELETE")
_STATUS = (200, 200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 500)
_AGENTS = ("Mozilla/5.0 (X11; Linux x86_64)", "kube-probe/1.32", "curl/8.5.0", "Go-http-client/1.1",
           "python-requests/2.32.3")


def _rfc3339_nano(t: float) -> str:
    ns = round((t % 1) * 1e9)
    if ns >= 1_000_000_000:
        ns = 999_999_999
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{ns:09d}Z"


class _Run:
    """One run of a container: start time, optional end, and how it ends."""

    __slots__ = ("end", "ending", "image", "rate", "seed", "start")

    def __init__(self, seed: str, image: str, start: float, end: float | None, ending: str,
                 rate: float = 1.0) -> None:
        self.seed = seed
        self.image = image
        self.start = start
        self.end = end
        self.ending = ending
        self.rate = rate  # lines a second

    def count(self, now: float) -> int:
        """Lines written up to ``now`` (the last one is the exit line when the run ended)."""
        stop = self.end if self.end is not None else now
        n = int(max(stop - self.start, 0.0) * self.rate) + 1
        if self.end is not None and self.ending:
            n += 1
        return n

    def time_of(self, i: int) -> float:
        if self.end is not None and self.ending and i == self.count(0.0) - 1:
            return self.end
        if self.rate != 1.0:
            return self.start + (i + 0.001 + 0.3 * stable_unit(self.seed, str(i))) / self.rate
        return self.start + i + 0.001 + 0.3 * stable_unit(self.seed, str(i))

    def line(self, i: int) -> str:
        t = self.time_of(i)
        if self.end is not None and self.ending and i == self.count(0.0) - 1:
            return self.ending
        name = self.image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0] or "app"
        if i == 0:
            return f"{name}: starting (sandbox simulated container, image {self.image})"
        if i == 1:
            return f"{name}: configuration loaded, listening on 0.0.0.0:8080"
        if self.rate > 50:  # a chatty container: cheap lines, so thousands a second cost the sandbox little
            return (f'level=info msg="request served" seq={i} path=/api/v1/items/{i % 997} status=200 '
                    f"bytes={(i * 7919) % 20000} duration_ms={(i * 31) % 300}")
        rnd = random.Random(f"{self.seed}/{i}")
        if rnd.random() < 0.1:
            level = rnd.choice(("info", "info", "debug", "warn"))
            return (f'time="{time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))}" level={level} '
                    f'msg="cache stats" hits={rnd.randint(100, 9000)} misses={rnd.randint(0, 300)}')
        path = rnd.choice(_PATHS).replace("{n}", str(rnd.randint(1, 999)))
        status = rnd.choice(_STATUS)
        return (f"10.244.{rnd.randint(0, 9)}.{rnd.randint(2, 250)} - - "
                f"[{time.strftime('%d/%b/%Y:%H:%M:%S +0000', time.gmtime(t))}] "
                f'"{rnd.choice(_METHODS)} {path} HTTP/1.1" {status} {rnd.randint(0, 20000)} "-" '
                f'"{rnd.choice(_AGENTS)}" {rnd.random() * 0.3:.3f}')


def _log_rate(meta: dict[str, Any]) -> float:
    """Lines a second of a simulated container: the pod's ``sandbox.k8s.io/log-rate`` annotation
    (0.1 to :data:`MAX_LOG_RATE`), else one."""
    raw = (meta.get("annotations") or {}).get(LOG_RATE_ANNOTATION)
    if raw is None:
        return 1.0
    try:
        rate = float(raw)
    except (TypeError, ValueError):
        return 1.0
    if rate != rate:  # NaN
        return 1.0
    return min(max(rate, 0.1), MAX_LOG_RATE)


class GeneratedLogs:
    """:class:`sandbox.interfaces.LogProvider` for the simulated containers."""

    def __init__(self, manager: ControllerManager) -> None:
        self.m = manager
        self.poll_seconds = 0.25

    def _resolve(self, pod: dict[str, Any], container: str | None) -> str:
        name = pod["metadata"]["name"]
        spec = pod.get("spec") or {}
        names = [c.get("name", "") for c in spec.get("containers") or ()]
        init = [c.get("name", "") for c in spec.get("initContainers") or ()]
        if not container:
            if len(names) == 1:
                return names[0]
            msg = f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
            if init:
                msg += f" or one of the init containers: [{' '.join(init)}]"
            raise BadRequest(msg)
        if container not in names and container not in init:
            raise BadRequest(f"container {container} is not valid for pod {name}")
        return container

    def _run(self, pod: dict[str, Any], container: str, previous: bool = False) -> _Run:
        md = pod["metadata"]
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        image = next((str(c.get("image") or "") for c in (spec.get("containers") or []) + (spec.get("initContainers")
                                                                                            or [])
                      if c.get("name") == container), "")
        seed = f"{md.get('namespace')}/{md['name']}/{container}"
        cs = next((s for s in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])
                   if s.get("name") == container), None)
        if cs is None:
            raise BadRequest(f'container "{container}" in pod "{md["name"]}" is waiting to start: ContainerCreating')
        state = cs.get("state") or {}
        restarts = int(cs.get("restartCount") or 0)
        rate = _log_rate(md)
        if previous:
            if not (cs.get("lastState") or {}).get("terminated"):
                raise BadRequest(f'previous terminated container "{container}" in pod "{md["name"]}" not found')
            state = {}
        if "running" in state:
            start = parse_iso(state["running"].get("startedAt")) or time.time()
            return _Run(f"{seed}#{restarts}", image, start, None, "", rate)
        term = state.get("terminated") or (cs.get("lastState") or {}).get("terminated")
        if term:
            start = parse_iso(term.get("startedAt")) or time.time()
            end = parse_iso(term.get("finishedAt")) or start
            end = max(end, start + 1)
            code = int(term.get("exitCode") or 0)
            run_no = restarts if "terminated" in state else max(restarts - 1, 0)
            if code == 0:
                ending = "done: all work items processed, exiting with status 0"
            elif "crashloop" in seed or "crashloop" in image:
                ending = "panic: simulated crash (sandbox crashloop marker); exiting with status 1"
            else:
                ending = f"error: task failed (sandbox fail marker); exiting with status {code}"
            return _Run(f"{seed}#{run_no}", image, start, end, ending, rate)
        reason = (state.get("waiting") or {}).get("reason", "ContainerCreating")
        if reason in ("ErrImagePull", "ImagePullBackOff"):
            reason = "trying and failing to pull image"
        raise BadRequest(f'container "{container}" in pod "{md["name"]}" is waiting to start: {reason}')

    async def stream(self, namespace: str, pod: str, container: str | None, *, follow: bool,
                     tail_lines: int | None, since_seconds: int | None,
                     timestamps: bool, previous: bool = False) -> AsyncIterator[bytes]:
        """See :class:`sandbox.interfaces.LogProvider`; ``previous`` (optional, kubectl ``-p``) serves the
        last terminated run of the container."""
        obj = self.m.store.get(PODS, namespace, pod)
        if obj is None:
            raise not_found(PODS, pod)
        cname = self._resolve(obj, container)
        run = self._run(obj, cname, previous)
        if previous:
            follow = False
        program_log = self._program_log(obj, cname, previous)
        if program_log is not None:
            async for piece in self._program_stream(obj, program_log, follow=follow, tail_lines=tail_lines,
                                                    since_seconds=since_seconds, timestamps=timestamps):
                yield piece
            return
        uid = obj["metadata"].get("uid")
        now = time.time()
        total = run.count(now)
        while run.end is None and total > 0 and run.time_of(total - 1) > now:
            total -= 1  # the line of the current second may still be in the future
        first = max(0, total - MAX_LINES)
        if since_seconds is not None:
            cutoff = now - since_seconds
            first = max(first, min(total, int(max(cutoff - run.start - 1, 0.0) * run.rate)))
            while first < total and run.time_of(first) < cutoff:
                first += 1
        if tail_lines is not None:
            first = max(first, total - max(tail_lines, 0))
        chunk: list[str] = []
        for i in range(first, total):
            chunk.append(self._fmt(run, i, timestamps))
            if len(chunk) >= 500:
                yield "".join(chunk).encode()
                chunk = []
        if chunk:
            yield "".join(chunk).encode()
        if not follow:
            return
        nxt = total
        while True:
            if run.end is not None:
                return
            await asyncio.sleep(self.poll_seconds)
            cur = self.m.store.get(PODS, namespace, pod)
            if cur is None or cur["metadata"].get("uid") != uid:
                return
            try:
                latest = self._run(cur, cname)
            except BadRequest:
                return
            if latest.seed != run.seed:
                return  # the container restarted: kubelet ends the stream of the old one
            run = latest
            now = time.time()
            out = []
            limit = run.count(now)
            while nxt < limit and (run.end is not None or run.time_of(nxt) <= now):
                out.append(self._fmt(run, nxt, timestamps))
                nxt += 1
            if out:
                yield "".join(out).encode()

    def _program_log(self, pod: dict[str, Any], container: str, previous: bool = False) -> Any:
        status = pod.get("status") or {}
        cs = next((s for s in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])
                   if s.get("name") == container), None)
        runtimes = getattr(getattr(self.m, "kubelet", None), "runtimes", None)
        if cs is None or runtimes is None:
            return None
        run_no = int(cs.get("restartCount") or 0) - (1 if previous else 0)  # -p: the run before the restart
        return runtimes.log_of(str(pod["metadata"].get("uid") or ""), container, run_no)

    async def _program_stream(self, pod: dict[str, Any], plog: Any, *, follow: bool, tail_lines: int | None,
                              since_seconds: int | None, timestamps: bool) -> AsyncIterator[bytes]:
        """A program's real log (:class:`sandbox.programs.runtime.ContainerLog`) with the log options."""
        md = pod["metadata"]
        lines, nxt, closed = plog.since(0)
        if since_seconds is not None:
            cutoff = time.time() - since_seconds
            lines = [entry for entry in lines if entry[0] >= cutoff]
        if tail_lines is not None:
            lines = lines[len(lines) - max(tail_lines, 0):] if tail_lines > 0 else []
        for start in range(0, len(lines), 500):
            yield self._fmt_lines(lines[start:start + 500], timestamps)
        while follow and not closed:
            await asyncio.sleep(self.poll_seconds)
            cur = self.m.store.get(PODS, md.get("namespace"), md["name"])
            if cur is None or cur["metadata"].get("uid") != md.get("uid"):
                return
            lines, nxt, closed = plog.since(nxt)
            if lines:
                yield self._fmt_lines(lines, timestamps)

    @staticmethod
    def _fmt_lines(lines: list[tuple[float, str]], timestamps: bool) -> bytes:
        if timestamps:
            return "".join(f"{_rfc3339_nano(t)} {line}\n" for t, line in lines).encode()
        return "".join(line + "\n" for _, line in lines).encode()

    @staticmethod
    def _fmt(run: _Run, i: int, timestamps: bool) -> str:
        line = run.line(i)
        if timestamps:
            return f"{_rfc3339_nano(run.time_of(i))} {line}\n"
        return line + "\n"

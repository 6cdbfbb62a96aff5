"""What a simulated container program sees of its pod: volumes as real directories, the resolved
environment, a log with real timestamps, a termination message file, and a stop signal.

Why: the build pods of the portal (clone, build, scan) must behave at their interfaces like the
real containers: they read the Secrets and ConfigMaps the pod mounts, write into an emptyDir the
next container reads, print a log the log API serves, and end with an exit code and a
``terminationMessagePath`` message. The kubelet materialises one temporary directory per pod
(``volumes/<name>`` for each volume, ``rootfs/<container>`` for paths no volume covers) and runs
each program in a thread, off the event loop; deleting the pod sets the stop signal and removes
the directory once the program has ended.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.resources import CONFIGMAPS, SECRETS

MAX_LOG_LINES = 5000
TERMINATION_MESSAGE_MAX = 4096  # the kubelet reads at most this much of terminationMessagePath
FALLBACK_LOG_LINES, FALLBACK_LOG_BYTES = 80, 2048  # FallbackToLogsOnError


class ContainerLog:
    """The lines one container run wrote, with the time each was written (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.lines: list[tuple[float, str]] = []
        self.dropped = 0  # lines rotated away at the front
        self.closed = False
        self._partial = ""

    def write(self, text: str) -> None:
        with self._lock:
            parts = (self._partial + text).split("\n")
            self._partial = parts.pop()
            now = time.time()
            for line in parts:
                self.lines.append((now, line.rstrip("\r")))
            extra = len(self.lines) - MAX_LOG_LINES
            if extra > 0:
                del self.lines[:extra]
                self.dropped += extra

    def close(self) -> None:
        with self._lock:
            if self._partial:
                self.lines.append((time.time(), self._partial))
                self._partial = ""
            self.closed = True

    def since(self, index: int) -> tuple[list[tuple[float, str]], int, bool]:
        """Lines from absolute line number ``index`` on, the next index, and whether the log is closed."""
        with self._lock:
            start = max(index - self.dropped, 0)
            out = self.lines[start:]
            return out, self.dropped + len(self.lines), self.closed

    def text(self) -> str:
        with self._lock:
            return "".join(line + "\n" for _, line in self.lines)


class ConfigError(Exception):
    """A container cannot be created: the kubelet's CreateContainerConfigError (a reference missing)."""


class MountError(Exception):
    """A volume cannot be mounted: the kubelet's FailedMount (the pod stays ContainerCreating)."""


def _decode_data(obj: dict[str, Any], binary_key: str) -> dict[str, bytes]:
    import base64

    if binary_key == "binaryData":  # a ConfigMap
        out = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
        out.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        return out
    out = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    out.update({k: str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
    return out


def _safe_join(base: Path, rel: str) -> Path:
    clean = posixpath.normpath("/" + rel).lstrip("/")
    if rel.startswith("/") or ".." in rel.split("/"):
        raise MountError(f"invalid path {rel!r}: must be relative and may not contain '..'")
    return base / clean if clean else base


@dataclass(eq=False)  # kept in sets by identity
class PodRuntime:
    """The programs' side of one pod: its temporary directory, logs and stop signal."""

    uid: str
    namespace: str
    name: str
    root: Path
    stop: threading.Event = field(default_factory=threading.Event)
    logs: dict[tuple[str, int], ContainerLog] = field(default_factory=dict)
    running: int = 0
    released: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def volume_dir(self, name: str) -> Path:
        return self.root / "volumes" / name

    def materialise(self, store: Any, pod: dict[str, Any]) -> None:
        """Write each volume the pod declares: emptyDir as a directory (kept across containers),
        Secret and ConfigMap volumes as files (items honoured; rewritten at every container start, as
        the kubelet refreshes them). A missing non-optional Secret/ConfigMap is a FailedMount."""
        ns = self.namespace
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            vname = str(volume.get("name") or "")
            target = self.volume_dir(vname)
            if "secret" in volume or "configMap" in volume:
                is_secret = "secret" in volume
                src = volume["secret"] if is_secret else volume["configMap"]
                ref = str(src.get("secretName") if is_secret else src.get("name") or "")
                obj = store.get(SECRETS if is_secret else CONFIGMAPS, ns, ref)
                if obj is None:
                    if src.get("optional"):
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    kind = "secret" if is_secret else "configmap"
                    raise MountError(f'MountVolume.SetUp failed for volume "{vname}" : {kind} "{ref}" not found')
                data = _decode_data(obj, "data" if is_secret else "binaryData")
                items = src.get("items")
                files = ({str(i.get("path")): data[str(i.get("key"))] for i in items if i.get("key") in data}
                         if items else data)
                if items and not src.get("optional"):
                    missing = [str(i.get("key")) for i in items if i.get("key") not in data]
                    if missing:
                        kind = "secret" if is_secret else "configmap"
                        raise MountError(f'MountVolume.SetUp failed for volume "{vname}" : configmap references '
                                         f"non-existent config key: {missing[0]}" if not is_secret else
                                         f'MountVolume.SetUp failed for volume "{vname}" : references non-existent '
                                         f"secret key: {missing[0]}")
                if target.exists():
                    shutil.rmtree(target)
                target.mkdir(parents=True)
                mode = int(src.get("defaultMode") or 0o644)
                for rel, content in files.items():
                    path = _safe_join(target, rel)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(content)
                    path.chmod(mode & 0o777)
            else:  # emptyDir and every other kind: a plain directory
                target.mkdir(parents=True, exist_ok=True)


@dataclass
class ProgramContext:
    """Everything a program may touch while it runs."""

    runtime: PodRuntime
    container: dict[str, Any]
    env: dict[str, str]
    mounts: list[tuple[str, Path]]  # (container path, host path), longest container path first
    rootfs: Path
    log: ContainerLog

    @property
    def stop(self) -> threading.Event:
        return self.runtime.stop

    @property
    def argv(self) -> list[str]:
        return [str(x) for x in (self.container.get("command") or [])] + [str(x) for x in
                                                                          (self.container.get("args") or [])]

    def path(self, container_path: str) -> Path:
        """The host path behind ``container_path`` (through the mounts, else the container's own rootfs)."""
        clean = "/" + posixpath.normpath("/" + container_path).lstrip("/")
        for mount, host in self.mounts:
            if clean == mount or clean.startswith(mount.rstrip("/") + "/"):
                rest = clean[len(mount):].lstrip("/")
                return host / rest if rest else host
        return self.rootfs / clean.lstrip("/")

    def unmap(self, text: str) -> str:
        """Host paths in ``text`` written back as the container sees them (for log lines)."""
        for mount, host in self.mounts:
            text = text.replace(str(host), mount)
        return text.replace(str(self.rootfs), "")

    def out(self, line: str = "") -> None:
        self.log.write(line + "\n")

    def run(self, argv: list[str], *, env: dict[str, str], cwd: Path | None = None,
            on_line: Callable[[str], str | None] | None = None) -> int:
        """Run a real process (argv as a list, no shell), its output into the log line by line
        (``on_line`` may rewrite or drop a line); killed when the pod goes. Returns its exit code."""
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)

        def watch() -> None:
            while process.poll() is None:
                if self.stop.wait(0.2):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(process.pid, signal.SIGKILL)  # git's helpers (git-remote-http) too
                    return

        watcher = threading.Thread(target=watch, name="sandbox-program-watch", daemon=True)
        watcher.start()
        assert process.stdout is not None
        for raw in process.stdout:
            line = self.unmap(raw.decode(errors="replace").rstrip("\n").rstrip("\r"))
            if on_line is not None:
                changed = on_line(line)
                if changed is None:
                    continue
                line = changed
            self.out(line)
        code = process.wait()
        watcher.join(1)
        return 128 + 9 if code < 0 else code

    def write_termination_message(self, text: str) -> None:
        path = self.path(str(self.container.get("terminationMessagePath") or "/dev/termination-log"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def container_mounts(runtime: PodRuntime, pod: dict[str, Any], container: dict[str, Any]) -> list[tuple[str, Path]]:
    """The container's volumeMounts as (container path, host path), subPath honoured."""
    declared = {str(v.get("name")) for v in (pod.get("spec") or {}).get("volumes") or []}
    out: list[tuple[str, Path]] = []
    for mount in container.get("volumeMounts") or []:
        vname = str(mount.get("name") or "")
        if vname not in declared:
            continue
        host = runtime.volume_dir(vname)
        sub = str(mount.get("subPath") or "")
        if sub:
            host = _safe_join(host, sub)
            if not host.exists():  # the kubelet creates a missing subPath as a directory
                host.mkdir(parents=True, exist_ok=True)
        out.append(("/" + posixpath.normpath("/" + str(mount.get("mountPath") or "/")).lstrip("/"), host))
    out.sort(key=lambda m: len(m[0]), reverse=True)
    return out


def check_references(store: Any, pod: dict[str, Any], container: dict[str, Any]) -> None:
    """The env references the kubelet resolves before it creates a container (CreateContainerConfigError)."""
    ns = pod["metadata"].get("namespace") or "default"
    for src in container.get("envFrom") or []:
        for key, rt, kind in (("configMapRef", CONFIGMAPS, "configmap"), ("secretRef", SECRETS, "secret")):
            ref = src.get(key)
            if ref and not ref.get("optional") and store.get(rt, ns, ref.get("name", "")) is None:
                raise ConfigError(f'{kind} "{ref.get("name", "")}" not found')
    for var in container.get("env") or []:
        vf = var.get("valueFrom") or {}
        for key, rt, kind, word in (("configMapKeyRef", CONFIGMAPS, "configmap", "ConfigMap"),
                                    ("secretKeyRef", SECRETS, "secret", "Secret")):
            ref = vf.get(key)
            if not ref or ref.get("optional"):
                continue
            obj = store.get(rt, ns, ref.get("name", ""))
            if obj is None:
                raise ConfigError(f'{kind} "{ref.get("name", "")}" not found')
            data = _decode_data(obj, "binaryData" if rt is CONFIGMAPS else "data")
            if ref.get("key") not in data:
                raise ConfigError(f"couldn't find key {ref.get('key')} in {word} {ns}/{ref.get('name', '')}")


def new_runtime(pod: dict[str, Any]) -> PodRuntime:
    md = pod["metadata"]
    root = Path(tempfile.mkdtemp(prefix=f"sandbox-pod-{md.get('name', 'pod')[:40]}-"))
    return PodRuntime(str(md.get("uid") or ""), str(md.get("namespace") or "default"), str(md.get("name") or ""),
                      root)


def remove_tree(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)


def host_env(extra: dict[str, str]) -> dict[str, str]:
    """A minimal environment for a real helper process (git): the host's PATH, C locale, plus ``extra``."""
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG": "C", "LC_ALL": "C"}
    env.update(extra)
    return env


def termination_message(ctx: ProgramContext, exit_code: int) -> str:
    """What the kubelet puts in ``state.terminated.message``: the file at terminationMessagePath (at
    most 4096 bytes), or with ``FallbackToLogsOnError`` and a failure, the log's last 80 lines / 2 KiB."""
    path = ctx.path(str(ctx.container.get("terminationMessagePath") or "/dev/termination-log"))
    message = ""
    with contextlib.suppress(OSError):
        message = path.read_bytes()[:TERMINATION_MESSAGE_MAX].decode(errors="replace")
    if not message and exit_code and ctx.container.get("terminationMessagePolicy") == "FallbackToLogsOnError":
        lines = ctx.log.text().splitlines()[-FALLBACK_LOG_LINES:]
        message = "\n".join(lines)[-FALLBACK_LOG_BYTES:]
    return message


def join_lines(lines: Iterable[str]) -> str:
    return "".join(line + "\n" for line in lines)

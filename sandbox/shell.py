"""A small simulated shell for ``pods/exec`` in the sandbox.

The sandbox's containers are simulated, so there is no process to exec into. ``kubectl exec``, the
portal's pod terminal and any other exec client still need something that behaves like a container:
the environment the kubelet would give it (literal ``env``, ``valueFrom`` ConfigMap/Secret/field refs,
``envFrom``, ``HOSTNAME``, ``PATH`` and the service links), the files of its mounted ConfigMap and
Secret volumes, and a shell that answers like busybox ``sh`` does. This module builds that from the
cluster's store (:func:`container_context`) and runs commands against it (:class:`Shell`); the
WebSocket channel protocol lives in :mod:`sandbox.server`.

Nothing here touches the host: the file system is a dict built from the pod spec, ``sleep`` is
bounded, output is produced in memory.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import fnmatch
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.quantity import cpu_millis, to_bytes
from sandbox.resources import CONFIGMAPS, SECRETS, SERVICES

MAX_SLEEP = 30.0
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHELLS = frozenset({"sh", "ash", "bash", "dash"})
BASE_DIRS = ("/bin", "/dev", "/etc", "/home", "/proc", "/root", "/run", "/sbin", "/sys", "/tmp", "/usr",
             "/usr/bin", "/usr/local", "/usr/local/bin", "/usr/sbin", "/var", "/var/log", "/var/run")

Output = Callable[[bytes], Awaitable[None]]
ReadInput = Callable[[], Awaitable[bytes | None]]


class ExecNotFound(Exception):
    """The exec'd program does not exist in the container (the runtime refuses to start it)."""

    def __init__(self, program: str) -> None:
        super().__init__(program)
        self.program = program


@dataclass
class ContainerContext:
    """What a process inside one container sees."""

    hostname: str
    env: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    main_process: str = "sleep infinity"
    home: str = "/root"


@dataclass
class TerminalSize:
    cols: int = 80
    rows: int = 24


# ---------------------------------------------------------------- the container's view, from the store


def _configmap_data(store: Any, ns: str, name: str) -> dict[str, bytes] | None:
    cm = store.get(CONFIGMAPS, ns, name)
    if cm is None:
        return None
    out = {k: str(v).encode() for k, v in (cm.get("data") or {}).items()}
    for k, v in (cm.get("binaryData") or {}).items():
        out[k] = base64.b64decode(v)
    return out


def _secret_data(store: Any, ns: str, name: str) -> dict[str, bytes] | None:
    sec = store.get(SECRETS, ns, name)
    if sec is None:
        return None
    out = {k: base64.b64decode(v) for k, v in (sec.get("data") or {}).items()}
    for k, v in (sec.get("stringData") or {}).items():
        out[k] = str(v).encode()
    return out


_FIELD_KEY = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


def field_value(pod: dict[str, Any], path: str) -> str:
    """A downward-API ``fieldRef.fieldPath`` of the pod, as the kubelet resolves it."""
    md, spec, st = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    m = _FIELD_KEY.match(path)
    if m:
        return str((md.get(m.group(1)) or {}).get(m.group(2), ""))
    simple = {"metadata.name": md.get("name"), "metadata.namespace": md.get("namespace"),
              "metadata.uid": md.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName"), "status.hostIP": st.get("hostIP"),
              "status.podIP": st.get("podIP"),
              "status.podIPs": ",".join(i.get("ip", "") for i in st.get("podIPs") or []) or st.get("podIP"),
              "status.hostIPs": ",".join(i.get("ip", "") for i in st.get("hostIPs") or []) or st.get("hostIP")}
    if path in ("metadata.labels", "metadata.annotations"):
        items = md.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    return str(simple.get(path) or "")


def _resource_value(container: dict[str, Any], ref: dict[str, Any]) -> str:
    """``resourceFieldRef``: requests/limits in the divisor's unit, rounded up (as the kubelet does);
    an unset limit is the node's allocatable (the sandbox's nodes: 8 CPUs, 32Gi)."""
    res = ref.get("resource", "")
    kind, _, what = res.partition(".")
    raw = ((container.get("resources") or {}).get(kind) or {}).get(what)
    divisor = str(ref.get("divisor") or "1")
    if what == "cpu":
        millis = cpu_millis(raw) if raw is not None else 8000
        unit = cpu_millis(divisor) or 1000
        return str(max(1, -(-millis // unit)))
    if what in ("memory", "ephemeral-storage"):
        size = to_bytes(raw) if raw is not None else to_bytes("32Gi")
        unit = to_bytes(divisor) or 1
        return str(-(-size // unit))
    return ""


_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")


def _expand_refs(value: str, env: dict[str, str]) -> str:
    """``$(VAR)`` references to earlier variables, ``$$`` escapes a ``$`` (the kubelet's expansion)."""
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)
    return _REF.sub(sub, value)


def _service_links(store: Any, ns: str) -> dict[str, str]:
    """The Docker-links style variables of every Service in the namespace (enableServiceLinks) and
    of ``default/kubernetes``, as the kubelet adds them."""
    out: dict[str, str] = {}
    services, _ = store.list(SERVICES, ns)
    if ns != "default":
        kube = store.get(SERVICES, "default", "kubernetes")
        if kube is not None:
            services.append(kube)
    for svc in services:
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP")
        ports = spec.get("ports") or []
        if not ip or ip == "None" or not ports:
            continue
        prefix = svc["metadata"]["name"].upper().replace("-", "_")
        out[f"{prefix}_SERVICE_HOST"] = ip
        out[f"{prefix}_SERVICE_PORT"] = str(ports[0].get("port"))
        for p in ports:
            if p.get("name"):
                out[f"{prefix}_SERVICE_PORT_{p['name'].upper().replace('-', '_')}"] = str(p.get("port"))
        first = ports[0]
        proto = (first.get("protocol") or "TCP").lower()
        out[f"{prefix}_PORT"] = f"{proto}://{ip}:{first.get('port')}"
        for p in ports:
            proto = (p.get("protocol") or "TCP")
            base = f"{prefix}_PORT_{p.get('port')}_{proto}"
            out[base] = f"{proto.lower()}://{ip}:{p.get('port')}"
            out[f"{base}_PROTO"] = proto.lower()
            out[f"{base}_PORT"] = str(p.get("port"))
            out[f"{base}_ADDR"] = ip
    return out


def container_env(store: Any, pod: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
    """The environment of ``container``: PATH and HOSTNAME, then ``envFrom`` (ConfigMaps and Secrets,
    with their prefix), ``env`` (literal, ``$(VAR)`` expanded, ``valueFrom`` resolved), the service
    links, HOME. Missing optional references are skipped, as the kubelet skips them."""
    ns = pod["metadata"].get("namespace") or "default"
    env: dict[str, str] = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname_of(pod)}
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix") or ""
        data: dict[str, bytes] | None = None
        if src.get("configMapRef"):
            data = _configmap_data(store, ns, src["configMapRef"].get("name", ""))
        elif src.get("secretRef"):
            data = _secret_data(store, ns, src["secretRef"].get("name", ""))
        for k, v in (data or {}).items():
            env[prefix + k] = v.decode(errors="replace")
    for var in container.get("env") or []:
        name = var.get("name")
        if not name:
            continue
        if "value" in var or not var.get("valueFrom"):
            env[name] = _expand_refs(str(var.get("value") or ""), env)
            continue
        vf = var["valueFrom"]
        value: str | None = None
        if vf.get("configMapKeyRef"):
            ref = vf["configMapKeyRef"]
            found = _configmap_data(store, ns, ref.get("name", "")) or {}
            value = found[ref["key"]].decode(errors="replace") if ref.get("key") in found else None
        elif vf.get("secretKeyRef"):
            ref = vf["secretKeyRef"]
            found = _secret_data(store, ns, ref.get("name", "")) or {}
            value = found[ref["key"]].decode(errors="replace") if ref.get("key") in found else None
        elif vf.get("fieldRef"):
            value = field_value(pod, vf["fieldRef"].get("fieldPath", ""))
        elif vf.get("resourceFieldRef"):
            value = _resource_value(container, vf["resourceFieldRef"])
        if value is not None:
            env[name] = value
    if (pod.get("spec") or {}).get("enableServiceLinks", True) is not False:
        for link, target in _service_links(store, ns).items():
            env.setdefault(link, target)
    env.setdefault("HOME", "/root")
    return env


def hostname_of(pod: dict[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("hostname") or pod["metadata"]["name"])[:63]


def _volume_files(store: Any, pod: dict[str, Any], volume: dict[str, Any]) -> dict[str, bytes] | None:
    """The files a volume shows at its mount point (relative paths), or None for a plain directory."""
    ns = pod["metadata"].get("namespace") or "default"

    def keyed(data: dict[str, bytes] | None, items: list[dict[str, Any]] | None) -> dict[str, bytes]:
        if not data:
            return {}
        if items:
            return {i["path"]: data[i["key"]] for i in items if i.get("key") in data and i.get("path")}
        return dict(data)

    if volume.get("configMap"):
        src = volume["configMap"]
        return keyed(_configmap_data(store, ns, src.get("name", "")), src.get("items"))
    if volume.get("secret"):
        src = volume["secret"]
        return keyed(_secret_data(store, ns, src.get("secretName", "")), src.get("items"))
    if volume.get("downwardAPI"):
        return {i["path"]: field_value(pod, (i.get("fieldRef") or {}).get("fieldPath", "")).encode()
                for i in volume["downwardAPI"].get("items") or [] if i.get("path")}
    if volume.get("projected"):
        out: dict[str, bytes] = {}
        for s in volume["projected"].get("sources") or []:
            if s.get("configMap"):
                out.update(keyed(_configmap_data(store, ns, s["configMap"].get("name", "")), s["configMap"].get("items")))
            elif s.get("secret"):
                out.update(keyed(_secret_data(store, ns, s["secret"].get("name", "")), s["secret"].get("items")))
            elif s.get("downwardAPI"):
                for i in s["downwardAPI"].get("items") or []:
                    if i.get("path"):
                        out[i["path"]] = field_value(pod, (i.get("fieldRef") or {}).get("fieldPath", "")).encode()
            elif s.get("serviceAccountToken"):
                out[s["serviceAccountToken"].get("path") or "token"] = b"(a bound token; not simulated)"
        return out
    return None


def container_context(store: Any, pod: dict[str, Any], container_name: str) -> ContainerContext:
    """Everything the shell needs about one container of ``pod``, read from the store now."""
    spec = pod.get("spec") or {}
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or []),
                  *(spec.get("ephemeralContainers") or [])]
    container: dict[str, Any] = next((c for c in containers if c.get("name") == container_name),
                                     {"name": container_name})
    ns = pod["metadata"].get("namespace") or "default"
    host = hostname_of(pod)
    ctx = ContainerContext(hostname=host, env=container_env(store, pod, container))
    ctx.home = ctx.env.get("HOME", "/root")
    ip = (pod.get("status") or {}).get("podIP") or ""
    ctx.files["/etc/hostname"] = f"{host}\n".encode()
    ctx.files["/etc/hosts"] = ("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
                               "ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\n"
                               + (f"{ip}\t{host}\n" if ip else "")).encode()
    ctx.files["/etc/resolv.conf"] = (f"search {ns}.svc.cluster.local svc.cluster.local cluster.local\n"
                                     "nameserver 10.96.0.10\noptions ndots:5\n").encode()
    ctx.dirs.update(BASE_DIRS)
    ctx.dirs.add("/")
    if spec.get("automountServiceAccountToken") is not False:
        sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount"
        ctx.files[f"{sa_dir}/namespace"] = ns.encode()
        root_ca = _configmap_data(store, ns, "kube-root-ca.crt") or {}
        if "ca.crt" in root_ca:
            ctx.files[f"{sa_dir}/ca.crt"] = root_ca["ca.crt"]
    volumes = {v.get("name"): v for v in spec.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        path = "/" + str(mount.get("mountPath", "")).strip("/")
        volume = volumes.get(mount.get("name"))
        if volume is None or path == "/":
            continue
        files = _volume_files(store, pod, volume)
        sub = mount.get("subPath")
        if sub:
            if files is not None and sub in files:
                ctx.files[path] = files[sub]
            else:
                ctx.dirs.add(path)
            continue
        ctx.dirs.add(path)
        for rel, data in (files or {}).items():
            ctx.files[f"{path}/{rel.strip('/')}"] = data
    for p in list(ctx.files) + list(ctx.dirs):
        parent = p.rsplit("/", 1)[0] or "/"
        while parent not in ctx.dirs:
            ctx.dirs.add(parent)
            parent = parent.rsplit("/", 1)[0] or "/"
    argv = [*(container.get("command") or []), *(container.get("args") or [])]
    image = str(container.get("image") or "").rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
    ctx.main_process = " ".join(argv) if argv else (image or "sleep infinity")
    return ctx


# ---------------------------------------------------------------- parsing


class Op(str):
    """An operator token (``;``, ``&&``, ``||``, ``|``, newline) among the words."""


class ShellSyntaxError(Exception):
    pass


_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)|([?$#0-9]))")


class Shell:
    """One shell process (or one directly exec'd command) in a simulated container.

    ``out``/``err`` write to the stdout/stderr channels; ``read_input`` returns stdin bytes, or None
    at end of input. In tty mode the shell behaves like a program on a terminal: it prints a prompt,
    echoes what is typed, handles backspace, Ctrl-C, Ctrl-U and Ctrl-D, and writes ``\\r\\n``.
    """

    def __init__(self, ctx: ContainerContext, *, tty: bool, out: Output, err: Output, read_input: ReadInput,
                 size: TerminalSize | None = None) -> None:
        self.ctx = ctx
        self.tty = tty
        self._out = out
        self._err = err
        self._read = read_input
        self.size = size or TerminalSize()
        self.env = dict(ctx.env)
        self.vars: dict[str, str] = {}
        self.cwd = "/"
        self.status = 0
        self.name = "sh"
        self.exited: int | None = None
        self._pending = b""
        self._eof = False
        self.started = time.time()

    # ------------------------------------------------------------ output

    async def write(self, data: bytes | str, *, error: bool = False) -> None:
        if isinstance(data, str):
            data = data.encode()
        if not data:
            return
        if self.tty:
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            await self._out(data)  # a terminal has one output: stderr goes to it too
        elif error:
            await self._err(data)
        else:
            await self._out(data)

    # ------------------------------------------------------------ entry

    async def run(self, argv: list[str]) -> int:
        """Run the exec'd command line (``kubectl exec POD -- argv``); its exit status."""
        if not argv:
            return 0
        prog = argv[0].rsplit("/", 1)[-1]
        if prog in SHELLS:
            self.name = prog
            return await self._shell_main(argv[1:])
        if prog not in COMMANDS:  # builtins (cd, exit, export) are no programs to exec
            raise ExecNotFound(argv[0])
        return await self.run_words(argv, stdin=None)

    async def _shell_main(self, args: list[str]) -> int:
        interactive = False
        i = 0
        while i < len(args) and args[i].startswith("-") and args[i] != "-":
            opt = args[i]
            if opt == "-c":
                if i + 1 >= len(args):
                    await self.write(f"{self.name}: -c requires an argument\n", error=True)
                    return 2
                return await self.run_script(args[i + 1])
            if opt in ("-i", "-il", "-li"):
                interactive = True
            i += 1
        if i < len(args):
            await self.write(f"{self.name}: can't open '{args[i]}': No such file or directory\n", error=True)
            return 2
        return await self.repl(interactive or self.tty)

    # ------------------------------------------------------------ the read-eval loop

    def prompt(self) -> str:
        if self.name == "bash":
            return f"root@{self.ctx.hostname}:{self._short_cwd()}# "
        return "# "

    def _short_cwd(self) -> str:
        if self.cwd == self.ctx.home:
            return "~"
        return self.cwd

    async def repl(self, interactive: bool) -> int:
        if self.tty:
            return await self._tty_loop()
        buf = b""
        while self.exited is None:
            if interactive:
                await self.write(self.prompt(), error=True)
            while b"\n" not in buf:
                chunk = await self._read()
                if chunk is None:
                    if buf.strip():
                        await self.run_script(buf.decode(errors="replace"))
                    return self.exited if self.exited is not None else self.status
                buf += chunk
            line, buf = buf.split(b"\n", 1)
            await self.run_script(line.decode(errors="replace"))
        return self.exited

    async def _tty_loop(self) -> int:
        line = ""
        await self.write(self.prompt())
        escape = ""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # keystrokes may split a character
        while self.exited is None:
            chunk = await self._read()
            if chunk is None:
                return self.status
            for ch in decoder.decode(chunk):
                if escape:  # swallow ANSI sequences (arrow keys, ...): no history, no cursor movement
                    escape += ch
                    if len(escape) > 1 and (ch.isalpha() or ch == "~"):
                        escape = ""
                    continue
                if ch == "\x1b":
                    escape = ch
                elif ch in ("\r", "\n"):
                    await self.write("\n")
                    await self.run_script(line)
                    line = ""
                    if self.exited is not None:
                        return self.exited
                    await self.write(self.prompt())
                elif ch in ("\x7f", "\x08"):
                    if line:
                        line = line[:-1]
                        await self.write("\b \b")
                elif ch == "\x03":
                    line = ""
                    await self.write("^C\n" + self.prompt())
                    self.status = 130
                elif ch == "\x15":
                    await self.write("\b \b" * len(line))
                    line = ""
                elif ch == "\x04":
                    if not line:
                        await self.write("exit\n" if self.name == "bash" else "\n")
                        return self.status
                elif ch == "\x0c":
                    await self.write("\x1b[H\x1b[2J" + self.prompt() + line)
                elif ch == "\t":
                    continue
                elif ch >= " ":
                    line += ch
                    await self.write(ch)
        return self.exited

    # ------------------------------------------------------------ scripts

    @staticmethod
    def split(text: str) -> list[str | Op]:
        """Raw simple commands and the operators between them (quotes respected, comments
        dropped); each command is expanded only when it runs, as sh does."""
        out: list[str | Op] = []
        cur: list[str] = []
        i, n = 0, len(text)

        def flush() -> None:
            piece = "".join(cur).strip()
            if piece:
                out.append(piece)
            cur.clear()

        while i < n:
            c = text[i]
            if c == "\\" and i + 1 < n:
                cur.append(text[i:i + 2])
                i += 2
            elif c == "'":
                end = text.find("'", i + 1)
                if end < 0:
                    raise ShellSyntaxError("unterminated quoted string")
                cur.append(text[i:end + 1])
                i = end + 1
            elif c == '"':
                j = i + 1
                while j < n and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                if j >= n:
                    raise ShellSyntaxError("unterminated quoted string")
                cur.append(text[i:j + 1])
                i = j + 1
            elif c == "#" and (not cur or cur[-1][-1:] in (" ", "\t")):
                end = text.find("\n", i)
                i = n if end < 0 else end
            elif c in ";\n":
                flush()
                out.append(Op(c))
                i += 1
            elif c in "&|":
                flush()
                op = text[i:i + 2] if text[i:i + 2] in ("&&", "||") else c
                out.append(Op(op))
                i += len(op)
            else:
                cur.append(c)
                i += 1
        flush()
        return out

    async def run_script(self, text: str) -> int:
        try:
            tokens = self.split(text)
        except ShellSyntaxError as exc:
            await self.write(f"{self.name}: syntax error: {exc}\n", error=True)
            self.status = 2
            return 2
        # split into (connector, pipeline) steps
        steps: list[tuple[str, list[list[str]]]] = []
        connector = ";"
        pipeline: list[list[str]] = [[]]
        for tok in tokens:
            if isinstance(tok, Op) and tok in (";", "\n", "&&", "||", "&"):
                if pipeline != [[]]:
                    steps.append((connector, pipeline))
                elif tok in ("&&", "||") or (tok == ";" and steps and connector != ";"):
                    await self.write(f"{self.name}: syntax error: unexpected \"{tok}\"\n", error=True)
                    self.status = 2
                    return 2
                connector = ";" if tok in ("\n", "&") else str(tok)
                pipeline = [[]]
            elif isinstance(tok, Op) and tok == "|":
                if not pipeline[-1]:
                    await self.write(f"{self.name}: syntax error: unexpected \"|\"\n", error=True)
                    self.status = 2
                    return 2
                pipeline.append([])
            else:
                pipeline[-1].append(str(tok))
        if pipeline != [[]]:
            steps.append((connector, pipeline))
        for conn, pipe in steps:
            if self.exited is not None:
                break
            if (conn == "&&" and self.status != 0) or (conn == "||" and self.status == 0):
                continue
            self.status = await self.run_pipeline(pipe)
        return self.status

    async def run_pipeline(self, pipe: list[list[str]]) -> int:
        data: bytes | None = None
        code = 0
        for idx, raw in enumerate(pipe):
            try:
                words = [str(w) for w in self.tokenize(" ".join(raw))]
            except ShellSyntaxError as exc:
                await self.write(f"{self.name}: syntax error: {exc}\n", error=True)
                return 2
            last = idx == len(pipe) - 1
            if last:
                code = await self.run_words(words, stdin=data)
            else:
                captured: list[bytes] = []

                async def cap(b: bytes, captured: list[bytes] = captured) -> None:
                    captured.append(b)

                saved = self._out, self.tty
                self._out, self.tty = cap, False
                try:
                    code = await self.run_words(words, stdin=data)
                finally:
                    self._out, self.tty = saved
                data = b"".join(captured)
        return code

    async def run_words(self, words: list[str], *, stdin: bytes | None) -> int:
        assigns: dict[str, str] = {}
        while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
            k, _, v = words[0].partition("=")
            assigns[k] = v
            words = words[1:]
        if not words:
            self.vars.update(assigns)
            for k, v in assigns.items():
                if k in self.env:
                    self.env[k] = v
            return 0
        prog = words[0]
        name = prog.rsplit("/", 1)[-1] if "/" in prog and prog.rsplit("/", 1)[0] in (
            "/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin") else prog
        saved_env = self.env
        if assigns:
            self.env = {**self.env, **assigns}
        try:
            if name in BUILTINS:
                return await BUILTINS[name](self, words[1:], stdin)
            if name in COMMANDS:
                return await COMMANDS[name](self, words[1:], stdin)
            if name in SHELLS:
                sub = Shell(self.ctx, tty=False, out=self._out, err=self._err, read_input=self._read, size=self.size)
                sub.env = dict(self.env)
                sub.cwd = self.cwd
                sub.name = name
                return await sub._shell_main(words[1:])
            await self.write(f"{self.name}: {prog}: not found\n", error=True)
            return 127
        finally:
            self.env = saved_env

    # ------------------------------------------------------------ words

    def lookup(self, name: str) -> str:
        if name == "?":
            return str(self.status)
        if name == "$":
            return "1"
        if name == "#":
            return "0"
        if name == "0":
            return self.name
        if name.isdigit():
            return ""
        if name in self.vars:
            return self.vars[name]
        return self.env.get(name, "")

    def tokenize(self, text: str) -> list[str | Op]:
        """Words and operators of one script, with quotes removed, ``$VAR``/``${VAR}``/``$?``
        expanded (not inside single quotes), unquoted expansions split on blanks, ``~`` and
        globs over the simulated file system resolved, ``#`` comments dropped."""
        out: list[str | Op] = []
        word: list[str] = []
        in_word = False
        glob = False
        i, n = 0, len(text)

        def finish() -> None:
            nonlocal word, in_word, glob
            if in_word:
                w = "".join(word)
                if glob:
                    matches = self._glob(w)
                    out.extend(matches or [w])
                else:
                    out.append(w)
            word, in_word, glob = [], False, False

        def expand_at(j: int) -> tuple[str | None, int]:
            m = _VAR.match(text, j)
            if not m:
                return None, j
            return self.lookup(m.group(1) or m.group(2) or m.group(3)), m.end()

        while i < n:
            c = text[i]
            if c == "\\" and i + 1 < n:
                if text[i + 1] != "\n":
                    word.append(text[i + 1])
                    in_word = True
                i += 2
            elif c == "'":
                end = text.find("'", i + 1)
                if end < 0:
                    raise ShellSyntaxError("unterminated quoted string")
                word.append(text[i + 1:end])
                in_word = True
                i = end + 1
            elif c == '"':
                i += 1
                in_word = True
                while True:
                    if i >= n:
                        raise ShellSyntaxError("unterminated quoted string")
                    d = text[i]
                    if d == '"':
                        i += 1
                        break
                    if d == "\\" and i + 1 < n and text[i + 1] in '"\\$`':
                        word.append(text[i + 1])
                        i += 2
                    elif d == "$":
                        val, j = expand_at(i)
                        if val is None:
                            word.append("$")
                            i += 1
                        else:
                            word.append(val)
                            i = j
                    else:
                        word.append(d)
                        i += 1
            elif c == "$":
                val, j = expand_at(i)
                if val is None:
                    word.append("$")
                    in_word = True
                    i += 1
                    continue
                parts = val.split()
                if parts and val[:1].isspace():
                    finish()
                for k, part in enumerate(parts):
                    if k:
                        finish()
                    word.append(part)
                    in_word = True
                if parts and val[-1:].isspace():
                    finish()
                i = j
            elif c in " \t":
                finish()
                i += 1
            elif c == "#" and not in_word:
                end = text.find("\n", i)
                i = n if end < 0 else end
            elif c in ";\n":
                finish()
                out.append(Op(c))
                i += 1
            elif c in "&|":
                finish()
                if text[i:i + 2] in ("&&", "||"):
                    out.append(Op(text[i:i + 2]))
                    i += 2
                else:
                    out.append(Op(c))
                    i += 1
            elif c in "<>":
                raise ShellSyntaxError(f"redirection ({c}) is not simulated")
            elif c == "~" and not in_word and (i + 1 == n or text[i + 1] in "/ \t;|&\n"):
                word.append(self.ctx.home)
                in_word = True
                i += 1
            else:
                if c in "*?[":
                    glob = True
                word.append(c)
                in_word = True
                i += 1
        finish()
        return out

    # ------------------------------------------------------------ file system

    def abspath(self, path: str) -> str:
        if not path.startswith("/"):
            path = f"{self.cwd.rstrip('/')}/{path}"
        parts: list[str] = []
        for seg in path.split("/"):
            if seg in ("", "."):
                continue
            if seg == "..":
                if parts:
                    parts.pop()
                continue
            parts.append(seg)
        return "/" + "/".join(parts)

    def is_dir(self, path: str) -> bool:
        return path in self.ctx.dirs

    def listdir(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        names = {p[len(prefix):].split("/", 1)[0] for p in (*self.ctx.files, *self.ctx.dirs)
                 if p.startswith(prefix) and p != prefix}
        return sorted(n for n in names if n)

    def _glob(self, pattern: str) -> list[str]:
        absolute = pattern.startswith("/")
        full = self.abspath(pattern)
        parent, _, leaf = full.rpartition("/")
        parent = parent or "/"
        if any(ch in parent for ch in "*?["):
            return []
        names = [n for n in self.listdir(parent) if fnmatch.fnmatchcase(n, leaf) and not n.startswith(".")]
        if absolute:
            return [f"{parent.rstrip('/')}/{n}" for n in names]
        rel_parent = pattern.rpartition("/")[0]
        return [f"{rel_parent}/{n}" if rel_parent else n for n in names]


# ---------------------------------------------------------------- commands

Command = Callable[[Shell, list[str], bytes | None], Awaitable[int]]


async def _echo(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    newline, escapes = True, False
    while args and re.fullmatch(r"-[neE]+", args[0]):
        newline = newline and "n" not in args[0]
        escapes = escapes or "e" in args[0]
        args = args[1:]
    text = " ".join(args)
    if escapes:
        text = text.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")
    await sh.write(text + ("\n" if newline else ""))
    return 0


async def _printf(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    if not args:
        await sh.write("printf: usage: printf FORMAT [ARGUMENT]...\n", error=True)
        return 1
    fmt, rest = args[0], list(args[1:])
    fmt = fmt.replace("\\n", "\n").replace("\\t", "\t")

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "%%":
            return "%"
        return rest.pop(0) if rest else ""
    await sh.write(re.sub(r"%%|%[sdi]", one, fmt))
    return 0


async def _env(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    if args:
        extra = {}
        while args and "=" in args[0]:
            k, _, v = args[0].partition("=")
            extra[k] = v
            args = args[1:]
        if args:
            saved = sh.env
            sh.env = {**sh.env, **extra}
            try:
                return await sh.run_words(args, stdin=stdin)
            finally:
                sh.env = saved
        await sh.write("".join(f"{k}={v}\n" for k, v in {**sh.env, **extra}.items()))
        return 0
    await sh.write("".join(f"{k}={v}\n" for k, v in sh.env.items()))
    return 0


async def _printenv(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    if not args:
        return await _env(sh, [], stdin)
    code = 0
    for name in args:
        if name in sh.env:
            await sh.write(sh.env[name] + "\n")
        else:
            code = 1
    return code


async def _hostname(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    await sh.write(sh.ctx.hostname + "\n")
    return 0


async def _cat(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    files = [a for a in args if a != "-" and not (a.startswith("-") and len(a) > 1)]
    if not files:
        if stdin is not None:
            await sh.write(stdin)
        return 0
    code = 0
    for f in files:
        path = sh.abspath(f)
        if path in sh.ctx.files:
            await sh.write(sh.ctx.files[path])
        elif sh.is_dir(path):
            await sh.write("cat: read error: Is a directory\n", error=True)
            code = 1
        else:
            await sh.write(f"cat: can't open '{f}': No such file or directory\n", error=True)
            code = 1
    return code


def _ls_long(sh: Shell, path: str, name: str) -> str:
    when = time.strftime("%b %e %H:%M", time.gmtime(sh.started))
    if sh.is_dir(path):
        return f"drwxr-xr-x    2 root     root          4096 {when} {name}"
    size = len(sh.ctx.files.get(path, b""))
    return f"-rw-r--r--    1 root     root      {size:>8} {when} {name}"


async def _ls(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    flags = "".join(a[1:] for a in args if a.startswith("-") and len(a) > 1)
    paths = [a for a in args if not (a.startswith("-") and len(a) > 1)] or ["."]
    long, every, one = "l" in flags, "a" in flags, "1" in flags
    code = 0
    chunks: list[str] = []
    plain_files: list[str] = []
    dirs: list[tuple[str, str]] = []
    for p in paths:
        path = sh.abspath(p)
        if path in sh.ctx.files:
            plain_files.append(_ls_long(sh, path, p) if long else p)
        elif sh.is_dir(path):
            dirs.append((p, path))
        else:
            await sh.write(f"ls: {p}: No such file or directory\n", error=True)
            code = 1
    sep = "\n" if (long or one or not sh.tty) else "  "
    if plain_files:
        chunks.append(sep.join(plain_files))
    for label, path in dirs:
        names = sh.listdir(path)
        names = [".", "..", *names] if every else [n for n in names if not n.startswith(".")]
        entries = [_ls_long(sh, f"{path.rstrip('/')}/{n}" if n not in (".", "..") else path, n) if long else n
                   for n in names]
        body = (f"total {len(entries)}\n" if long else "") + sep.join(entries)
        chunks.append(f"{label}:\n{body}" if len(paths) > 1 else body)
    text = "\n\n".join(c for c in chunks if c)
    if text:
        await sh.write(text + "\n")
    return code


async def _ps(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    mins = int((time.time() - sh.started) // 60)
    rows = ["PID   USER     TIME  COMMAND",
            f"    1 root      0:{mins % 60:02d} {sh.ctx.main_process}",
            f"    7 root      0:00 {sh.name}",
            "   13 root      0:00 ps" + (" " + " ".join(args) if args else "")]
    await sh.write("\n".join(rows) + "\n")
    return 0


async def _pwd(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    await sh.write(sh.cwd + "\n")
    return 0


async def _cd(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    target = args[0] if args else sh.ctx.home
    path = sh.abspath(target)
    if not sh.is_dir(path):
        await sh.write(f"{sh.name}: cd: can't cd to {target}: No such file or directory\n", error=True)
        return 2
    sh.cwd = path
    return 0


async def _sleep(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    total = 0.0
    for a in args or ["?"]:
        m = re.fullmatch(r"(\d+(?:\.\d*)?)([smhd]?)", a)
        if not m:
            await sh.write(f"sleep: invalid number '{a}'\n", error=True)
            return 1
        total += float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    await asyncio.sleep(min(total, MAX_SLEEP))
    return 0


async def _exit(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    code = sh.status
    if args:
        if not re.fullmatch(r"-?\d+", args[0]):
            await sh.write(f"{sh.name}: exit: Illegal number: {args[0]}\n", error=True)
            code = 2
        else:
            code = int(args[0]) & 0xFF
    sh.exited = code
    return code


async def _true(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    return 0


async def _false(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    return 1


async def _export(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    if not args:
        await sh.write("".join(f"export {k}='{v}'\n" for k, v in sh.env.items()))
        return 0
    for a in args:
        k, eq, v = a.partition("=")
        sh.env[k] = v if eq else sh.vars.get(k, sh.env.get(k, ""))
        sh.vars.pop(k, None)
    return 0


async def _unset(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    for a in args:
        sh.env.pop(a, None)
        sh.vars.pop(a, None)
    return 0


async def _stty(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    if not sh.tty:
        await sh.write("stty: standard input: Not a tty\n", error=True)
        return 1
    if args[:1] == ["size"]:
        await sh.write(f"{sh.size.rows} {sh.size.cols}\n")
    return 0


async def _whoami(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    await sh.write("root\n")
    return 0


async def _id(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    await sh.write("uid=0(root) gid=0(root) groups=0(root)\n")
    return 0


async def _uname(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    if any("a" in a for a in args if a.startswith("-")):
        await sh.write(f"Linux {sh.ctx.hostname} 6.1.0-sandbox #1 SMP x86_64 GNU/Linux\n")
    else:
        await sh.write("Linux\n")
    return 0


async def _date(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    await sh.write(time.strftime("%a %b %e %H:%M:%S UTC %Y", time.gmtime()) + "\n")
    return 0


async def _which(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    code = 0
    for a in args:
        if a in COMMANDS or a in SHELLS:
            await sh.write(f"/bin/{a}\n")
        else:
            code = 1
    return code


def _lines_of(sh: Shell, files: list[str], stdin: bytes | None) -> tuple[list[str], list[str]]:
    """Lines of the named files (or stdin), and error messages for missing ones."""
    errors: list[str] = []
    if not files:
        return (stdin or b"").decode(errors="replace").splitlines(), errors
    lines: list[str] = []
    for f in files:
        path = sh.abspath(f)
        if path in sh.ctx.files:
            lines.extend(sh.ctx.files[path].decode(errors="replace").splitlines())
        else:
            errors.append(f"{f}: No such file or directory")
    return lines, errors


async def _grep(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    flags = "".join(a[1:] for a in args if a.startswith("-") and len(a) > 1)
    rest = [a for a in args if not (a.startswith("-") and len(a) > 1)]
    if not rest:
        await sh.write("Usage: grep [-iv] PATTERN [FILE]...\n", error=True)
        return 2
    pattern, files = rest[0], rest[1:]
    lines, errors = _lines_of(sh, files, stdin)
    try:
        rx = re.compile(pattern, re.IGNORECASE if "i" in flags else 0)
    except re.error:
        rx = re.compile(re.escape(pattern), re.IGNORECASE if "i" in flags else 0)
    hits = [ln for ln in lines if bool(rx.search(ln)) != ("v" in flags)]
    for e in errors:
        await sh.write(f"grep: {e}\n", error=True)
    if "c" in flags:
        await sh.write(f"{len(hits)}\n")
    elif hits:
        await sh.write("\n".join(hits) + "\n")
    return 2 if errors else (0 if hits else 1)


def _count_arg(args: list[str], default: int) -> tuple[int, list[str]]:
    n, rest, i = default, [], 0
    while i < len(args):
        a = args[i]
        if a == "-n" and i + 1 < len(args):
            n = int(args[i + 1]) if args[i + 1].lstrip("-").isdigit() else n
            i += 2
            continue
        if re.fullmatch(r"-n?\d+", a):
            n = int(a.lstrip("-n"))
        else:
            rest.append(a)
        i += 1
    return n, rest


async def _head(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    n, files = _count_arg(args, 10)
    lines, errors = _lines_of(sh, files, stdin)
    for e in errors:
        await sh.write(f"head: {e}\n", error=True)
    if lines[:n]:
        await sh.write("\n".join(lines[:n]) + "\n")
    return 1 if errors else 0


async def _tail(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    n, files = _count_arg(args, 10)
    lines, errors = _lines_of(sh, files, stdin)
    for e in errors:
        await sh.write(f"tail: {e}\n", error=True)
    if n and lines[-n:]:
        await sh.write("\n".join(lines[-n:]) + "\n")
    return 1 if errors else 0


async def _wc(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    files = [a for a in args if not a.startswith("-")]
    lines, errors = _lines_of(sh, files, stdin)
    for e in errors:
        await sh.write(f"wc: {e}\n", error=True)
    await sh.write(f"{len(lines)}\n")
    return 1 if errors else 0


async def _sort(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    files = [a for a in args if not a.startswith("-")]
    lines, errors = _lines_of(sh, files, stdin)
    lines.sort(reverse="-r" in args)
    if lines:
        await sh.write("\n".join(lines) + "\n")
    return 1 if errors else 0


async def _clear(sh: Shell, args: list[str], stdin: bytes | None) -> int:
    await sh.write("\x1b[H\x1b[2J")
    return 0


BUILTINS: dict[str, Command] = {
    "cd": _cd, "exit": _exit, "export": _export, "unset": _unset, ":": _true,
}
COMMANDS: dict[str, Command] = {
    "echo": _echo, "printf": _printf, "env": _env, "printenv": _printenv, "hostname": _hostname, "cat": _cat,
    "ls": _ls, "ps": _ps, "pwd": _pwd, "sleep": _sleep, "true": _true, "false": _false, "stty": _stty,
    "whoami": _whoami, "id": _id, "uname": _uname, "date": _date, "which": _which, "grep": _grep,
    "head": _head, "tail": _tail, "wc": _wc, "sort": _sort, "clear": _clear,
}

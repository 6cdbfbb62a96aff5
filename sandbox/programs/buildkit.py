"""The build container on ``moby/buildkit`` (rootless, ``buildctl-daemonless.sh build …``),
simulated by its arguments: ``--local context=…``, ``--local dockerfile=…``, ``--opt filename=…``,
``--opt build-arg:NAME=VALUE``, ``--opt target=…``, ``--output type=image,name=…,push=true
[,registry.insecure=true]``, ``--metadata-file …``; the registry settings from
``~/.config/buildkit/buildkitd.toml`` (``[registry."host"]`` ``ca``, ``http``, ``insecure``) and
the credentials from ``$DOCKER_CONFIG/config.json``. The log is BuildKit's ``--progress=plain``
style; errors are worded as BuildKit words them (``ERROR: failed to solve: …``, exit 1); the
metadata file (the termination message) holds ``containerimage.digest``.
"""

from __future__ import annotations

import json
import time
import tomllib
from typing import Any

from sandbox.programs import repo_is
from sandbox.programs.build import Builder, BuildError, BuildInput, Progress, push
from sandbox.programs.registry import Client, RegistryError, client_for, docker_config_auth, parse_reference
from sandbox.programs.runtime import ProgramContext


class PlainProgress(Progress):
    """BuildKit's ``--progress=plain``: numbered vertices, their details and ``DONE <s>``."""

    def __init__(self, ctx: ProgramContext) -> None:
        self.ctx = ctx
        self.n = 0
        self.open = False
        self.started = 0.0
        self.name = ""

    def vertex(self, name: str) -> None:
        if self.open:
            self.done()
        self.n += 1
        self.open, self.started, self.name = True, time.monotonic(), name
        self.ctx.out(f"#{self.n} {name}")

    def detail(self, text: str) -> None:
        self.ctx.out(f"#{self.n} {text}")

    def done(self) -> None:
        if self.open:
            self.ctx.out(f"#{self.n} DONE {time.monotonic() - self.started:.1f}s")
            self.ctx.out()
            self.open = False

    def run_logged(self, command: str) -> None:
        self.ctx.out(f"#{self.n} {time.monotonic() - self.started:.3f} sandbox: not executed, no layer: {command}")

    def error(self, text: str) -> None:
        if not self.open:
            self.n += 1
        self.ctx.out(f"#{self.n} ERROR: {text}")
        self.open = False


def parse_args(argv: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"local": {}, "opt": {}, "build_args": {}, "output": {}, "metadata_file": ""}
    words = list(argv)
    if words and words[0].endswith("buildctl-daemonless.sh"):
        words = words[1:]
    if words and words[0] == "build":
        words = words[1:]
    i = 0
    while i < len(words):
        word = words[i]
        name, eq, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        value = inline if eq else (words[i + 1] if i + 1 < len(words) else "")
        step = 1 if eq else 2
        if name == "--local":
            k, _, v = value.partition("=")
            out["local"][k] = v
        elif name == "--opt":
            k, _, v = value.partition("=")
            if k.startswith("build-arg:"):
                out["build_args"][k[len("build-arg:"):]] = v
            else:
                out["opt"][k] = v
        elif name == "--output":
            for part in _split_csv(value):
                k, _, v = part.partition("=")
                out["output"][k.strip()] = v
        elif name == "--metadata-file":
            out["metadata_file"] = value
        elif name in ("--frontend", "--progress", "--import-cache", "--export-cache", "--secret", "--ssh",
                      "--trace"):
            pass
        else:
            step = 1
        i += step
    return out


def _split_csv(value: str) -> list[str]:
    parts, cur, quoted = [], "", False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p]


class RegistryAccess:
    """Registry clients as buildkitd would make them: buildkitd.toml's TLS/http settings per host,
    credentials from the docker config."""

    def __init__(self, ctx: ProgramContext, toml_path: str, docker_config: str, insecure_output: bool) -> None:
        self.ctx = ctx
        self.insecure_output = insecure_output
        self.docker_config = ctx.path(docker_config)
        try:
            self.settings = tomllib.loads(ctx.path(toml_path).read_text()).get("registry") or {}
        except (OSError, tomllib.TOMLDecodeError):
            self.settings = {}
        self.clients: dict[str, Client] = {}

    def __call__(self, host: str) -> Client:
        if host not in self.clients:
            cfg = self.settings.get(host) or {}
            cas = [self.ctx.path(str(c)) for c in cfg.get("ca") or []]
            ca_file = next((c for c in cas if c.exists()), None)
            self.clients[host] = client_for(host, insecure=bool(cfg.get("insecure")) and not ca_file,
                                            http=bool(cfg.get("http")), ca_file=ca_file,
                                            auth=docker_config_auth(self.docker_config, host))
        return self.clients[host]


def _excerpt(ctx: ProgramContext, text: str, name: str, line: int) -> None:
    lines = text.splitlines()
    ctx.out(f"{name}:{line}")
    ctx.out("-" * 20)
    for n in range(max(1, line - 2), min(len(lines), line + 2) + 1):
        marker = ">>>" if n == line else "   "
        ctx.out(f" {n:3d} | {marker} {lines[n - 1]}")
    ctx.out("-" * 20)


class BuildKit:
    name = "buildkit"

    def matches(self, container: dict[str, Any]) -> bool:
        if not repo_is(str(container.get("image") or ""), "moby/buildkit"):
            return False
        argv = [str(x) for x in (container.get("command") or []) + (container.get("args") or [])]
        return any(a.endswith("buildctl-daemonless.sh") or a == "buildctl" for a in argv[:1]) and "build" in argv

    def run(self, ctx: ProgramContext) -> int:
        args = parse_args(ctx.argv)
        home = ctx.env.get("HOME") if any(e.get("name") == "HOME" for e in ctx.container.get("env") or []) else None
        home = home or "/home/user"
        context_dir = args["local"].get("context", "")
        dockerfile_dir = args["local"].get("dockerfile", context_dir)
        filename = args["opt"].get("filename", "Dockerfile")
        output = args["output"]
        name = output.get("name", "")
        push_ = output.get("push", "false") == "true"
        insecure = output.get("registry.insecure", "false") == "true"
        progress = PlainProgress(ctx)
        access = RegistryAccess(ctx, f"{home}/.config/buildkit/buildkitd.toml",
                                ctx.env.get("DOCKER_CONFIG", f"{home}/.docker"), insecure)
        spec = BuildInput(ctx.path(context_dir), ctx.path(dockerfile_dir) / filename, filename,
                          dict(args["build_args"]), args["opt"].get("target", ""), access)
        builder = Builder(spec, progress)
        text = ""
        try:
            progress.vertex(f"[internal] load build definition from {filename}")
            builder.read()
            text = spec.dockerfile.read_text()
            progress.done()
            progress.vertex("[internal] load .dockerignore")
            progress.detail("transferring context: 2B done")
            progress.done()
            progress.vertex("[internal] load build context")
            size = sum(p.stat().st_size for p in spec.context.rglob("*") if p.is_file() and ".git" not in p.parts) \
                if spec.context.is_dir() else 0
            progress.detail(f"transferring context: {_human(size)} done")
            progress.done()
            stage, _ = builder.build()
            image = builder.image(stage)
            progress.vertex("exporting to image")
            progress.detail("exporting layers done")
            progress.detail(f"exporting manifest {image.manifest_digest} done")
            progress.detail(f"exporting config {image.config_digest} done")
            digest = image.manifest_digest
            if name:
                progress.detail(f"naming to {name} done")
            if push_ and name:
                ref = parse_reference(name)
                progress.detail("pushing layers")
                started = time.monotonic()
                try:
                    client = access(ref.api_host)
                    digest = push(image, client, ref.repository, ref.tag or "latest")
                except RegistryError as exc:
                    raise BuildError(f"failed to push {name}: {exc.message}", label="exporting to image") from exc
                progress.detail(f"pushing layers {time.monotonic() - started:.1f}s done")
                progress.detail(f"pushing manifest for {name}@{digest}")
                progress.detail(f"pushing manifest for {name}@{digest} 0.0s done")
            progress.done()
        except BuildError as exc:
            progress.error(exc.detail)
            if exc.label or exc.step is not None:
                ctx.out("------")
                ctx.out(f" > {exc.label or progress.name}:")
                ctx.out("------")
            if exc.step is not None and text:
                _excerpt(ctx, text, filename, exc.step.line)
            ctx.out(f"ERROR: failed to solve: {exc.message}")
            return 1
        metadata = {
            "containerimage.config.digest": image.config_digest,
            "containerimage.descriptor": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                          "digest": digest, "size": len(image.manifest)},
            "containerimage.digest": digest,
            "image.name": name,
        }
        if args["metadata_file"]:
            path = ctx.path(args["metadata_file"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(metadata, indent=2))
        return 0


def _human(n: int) -> str:
    if n < 1000:
        return f"{n}B"
    if n < 1_000_000:
        return f"{n / 1000:.2f}kB"
    return f"{n / 1_000_000:.2f}MB"



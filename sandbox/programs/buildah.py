"""The build container on ``quay.io/buildah/stable`` running the portal's BUILDAH_SCRIPT
(``buildah build … -t "$IMAGE" "$CONTEXT" && buildah push --digestfile /dev/termination-log …``),
simulated by its environment: ``IMAGE``, ``CONTEXT``, ``DOCKERFILE``, ``BUILD_ARGS`` (newline-separated
``NAME=VALUE``), ``TLS_VERIFY`` and ``REGISTRY_AUTH_FILE``; the CA from ``--cert-dir /build-config``
(every ``*.crt`` there). The same image builder as BuildKit's, Buildah's log (``STEP n/m: …``,
``COMMIT``, ``Copying blob …``, ``Writing manifest to image destination``), Buildah's error words
(``Error: …``) and exit code 125; the termination message is the pushed digest only.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sandbox.programs import env_names, repo_is
from sandbox.programs.build import Builder, BuildError, BuildInput, Progress, push
from sandbox.programs.registry import Client, RegistryError, auth_file_auth, client_for, parse_reference
from sandbox.programs.runtime import ProgramContext

CERT_DIR = "/build-config"
EXIT_GENERIC = 125  # buildah's exit code for its own errors


class BuildahProgress(Progress):
    def __init__(self, ctx: ProgramContext) -> None:
        self.ctx = ctx
        self.current = ""

    def instruction(self, stage: int, stages: int, n: int, total: int, text: str) -> None:
        prefix = f"[{stage}/{stages}] " if stages > 1 else ""
        self.current = text
        self.ctx.out(f"{prefix}STEP {n}/{total}: {text}")

    def run_logged(self, command: str) -> None:
        self.ctx.out(f"sandbox: not executed, no layer: {command}")


class Buildah:
    name = "buildah"

    def matches(self, container: dict[str, Any]) -> bool:
        if not repo_is(str(container.get("image") or ""), "buildah/stable", "buildah/buildah", "buildah"):
            return False
        return {"IMAGE", "CONTEXT"} <= env_names(container)

    def run(self, ctx: ProgramContext) -> int:
        for var in ("IMAGE", "CONTEXT"):
            if var not in ctx.env:
                ctx.out(f"sh: {var}: parameter not set")
                return 2
        image_name = ctx.env["IMAGE"]
        context = ctx.env["CONTEXT"]
        dockerfile = ctx.env.get("DOCKERFILE") or f"{context.rstrip('/')}/Dockerfile"
        build_args = {}
        for line in (ctx.env.get("BUILD_ARGS") or "").splitlines():
            if line.strip():
                k, _, v = line.partition("=")
                build_args[k] = v
        tls_verify = (ctx.env.get("TLS_VERIFY") or "true").lower() != "false"
        auth_file = ctx.path(ctx.env.get("REGISTRY_AUTH_FILE") or "/home/user/.docker/config.json")
        cert_dir = ctx.path(CERT_DIR)
        ca_files = sorted(cert_dir.glob("*.crt")) if cert_dir.is_dir() else []
        clients: dict[str, Client] = {}

        def resolve(host: str) -> Client:
            if host not in clients:
                auth = auth_file_auth(auth_file, host)
                if tls_verify:
                    clients[host] = client_for(host, ca_file=ca_files[0] if ca_files else None, auth=auth)
                else:  # buildah: https without verification, falling back to plain http
                    clients[host] = _fallback(host, auth)
            return clients[host]

        progress = BuildahProgress(ctx)
        spec = BuildInput(ctx.path(context), ctx.path(dockerfile), dockerfile, build_args, "", resolve)
        builder = Builder(spec, progress)
        try:
            try:
                builder.read()
            except BuildError as exc:
                raise BuildError(f"the specified Containerfile or Dockerfile does not exist, {dockerfile}: no such "
                                 "file or directory") from exc
            stage, _ = builder.build()
            image = builder.image(stage)
        except BuildError as exc:
            ctx.out(f"Error: {_buildah_words(exc, progress.current, context)}")
            return EXIT_GENERIC
        ref = parse_reference(image_name)
        image_id = hashlib.sha256(image.config).hexdigest()
        ctx.out(f"COMMIT {image_name}")
        _copying(ctx, image)
        ctx.out(f"--> {image_id[:12]}")
        ctx.out(f"Successfully tagged {ref}")
        ctx.out(image_id)
        try:
            _copying(ctx, image)
            digest = push(image, resolve(ref.api_host), ref.repository, ref.tag or "latest")
        except RegistryError as exc:
            ctx.out(f'Error: pushing image "{image_name}" to "docker://{image_name}": {_push_words(exc)}')
            return EXIT_GENERIC
        path = ctx.path("/dev/termination-log")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(digest)
        return 0


def _copying(ctx: ProgramContext, image: Any) -> None:
    ctx.out("Getting image source signatures")
    for layer in image.layers:
        ctx.out(f"Copying blob {layer.digest}")
    ctx.out(f"Copying config {image.config_digest}")
    ctx.out("Writing manifest to image destination")


def _fallback(host: str, auth: tuple[str, str] | None) -> Client:
    import requests

    try:
        client_for(host, insecure=True)  # quiets the warnings
        requests.get(f"https://{host}/v2/", verify=False, timeout=5)
    except requests.RequestException:
        return client_for(host, http=True, auth=auth)
    return client_for(host, insecure=True, auth=auth)


def _buildah_words(exc: BuildError, step: str, context: str) -> str:
    message = exc.message
    if "not found" in exc.detail and exc.detail.startswith("failed to calculate checksum"):
        missing = exc.detail.rsplit(": not found", 1)[0].rsplit(": ", 1)[-1]
        return (f'building at STEP "{step}": checking on sources under "{context}": copier: stat: {missing}: '
                "no such file or directory")
    if "failed to resolve source metadata for " in message:
        base = message.split(": failed to resolve source metadata for ", 1)[0]
        return f"creating build container: initializing source docker://{base}: {exc.detail}"
    if step and exc.step is not None:
        return f'building at STEP "{step}": {message}'
    return message


def _push_words(exc: RegistryError) -> str:
    if exc.status in (401, 403):
        return "authentication required"
    if exc.status == 404:
        return "name unknown: repository name not known to registry"
    if exc.status == 0:
        return f"pinging container registry: {exc.message}"
    return f"writing blob: {exc.message}"

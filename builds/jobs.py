"""The Kubernetes objects a build run makes in its service map's namespace: two Secrets, a ConfigMap
and two Jobs (clone + build, and scan). Pure: manifests from a :class:`BuildInput`, no I/O.

Why one module: the shapes are a contract (docs/builds.md, "The pods the portal makes") between
the runner that applies them and follows their pods (:mod:`builds.runner`) and the sandbox that
simulates the containers at their interfaces (git's env and words, BuildKit's args and metadata
file, Trivy's JSON). Everything here is deterministic: applying the same run twice (server-side
apply under one field manager) changes nothing.

* Secret ``portal-build-<id>-git`` (Opaque, ``username``/``password``) only when the source has
  credentials; Secret ``portal-build-<id>-registry`` (``kubernetes.io/dockerconfigjson``: the docker
  config under ``.dockerconfigjson`` and ``config.json``, plus ``username``/``password`` for Trivy);
  ConfigMap ``portal-build-<id>`` (``buildkitd.toml``, ``ca.crt``, a preset's ``Dockerfile``).
* Job ``portal-build-<id>``: init container ``clone`` (git), container ``build`` (BuildKit rootless
  by default, or Buildah); each writes what it produced to its termination message (the commit
  SHA; BuildKit's metadata JSON or Buildah's digest).
* Job ``portal-build-<id>-scan``: container ``scan`` (Trivy) on the pushed image by digest; its
  log is the JSON report.

No secret is ever in a Job: credentials reach containers through ``secretKeyRef`` and mounted
Secrets only. Build pods run user code (``RUN``), so they get no service account token.
"""

from __future__ import annotations

import base64
import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "cluster-portal"
RUN_LABEL = "builds.cluster-portal.io/run"
STEP_LABEL = "builds.cluster-portal.io/step"
SOURCE, SCAN = "source", "scan"
CLONE_CONTAINER, BUILD_CONTAINER, SCAN_CONTAINER = "clone", "build", "scan"
TTL_AFTER_FINISHED = 3600
BUILDKIT, BUILDAH = "buildkit", "buildah"

DEFAULT_IMAGES = {
    "git": "alpine/git:2.45.2",
    "buildkit": "moby/buildkit:v0.17.0-rootless",
    "buildah": "quay.io/buildah/stable:v1.37.3",
    "trivy": "aquasec/trivy:0.57.1",
}

CLONE_SCRIPT = """set -eu
git config --global credential.helper '!f() { test -n "${GIT_USERNAME:-}" && echo "username=${GIT_USERNAME}" \
&& echo "password=${GIT_PASSWORD}"; }; f'
git clone --depth=1 --branch "$GIT_REF" -- "$GIT_URL" /workspace/src
git -C /workspace/src rev-parse HEAD | tee /dev/termination-log
"""

# Buildah cannot build and push in one command: build, then push with the digest as the
# termination message. Build args arrive newline-separated in BUILD_ARGS (values may hold spaces).
BUILDAH_SCRIPT = """set -eu
set --
while IFS= read -r arg; do
  if [ -n "$arg" ]; then set -- "$@" --build-arg "$arg"; fi
done <<EOF
${BUILD_ARGS:-}
EOF
buildah build --storage-driver=vfs --isolation=chroot --tls-verify="$TLS_VERIFY" --cert-dir /build-config \
--authfile "$REGISTRY_AUTH_FILE" -f "$DOCKERFILE" "$@" -t "$IMAGE" "$CONTEXT"
buildah push --storage-driver=vfs --tls-verify="$TLS_VERIFY" --cert-dir /build-config \
--authfile "$REGISTRY_AUTH_FILE" --digestfile /dev/termination-log "$IMAGE"
"""

HOME = "/home/user"
WORKSPACE = "/workspace"
SOURCE_DIR = "/workspace/src"
BUILD_CONFIG = "/build-config"


@dataclass(frozen=True)
class BuildInput:
    """Everything the manifests of one run depend on (the run's frozen spec, resolved)."""

    run_id: int
    namespace: str
    git_url: str
    git_ref: str
    registry_host: str
    repository: str
    tag: str
    git_username: str = ""
    git_password: str = ""
    context_dir: str = "."
    dockerfile_path: str = "Dockerfile"
    preset_dockerfile: str = ""  # a language preset's Dockerfile (then the repository's is not used)
    build_args: dict[str, str] = field(default_factory=dict)
    plain_http: bool = False
    ca_pem: str = ""
    registry_username: str = ""
    registry_password: str = ""
    builder: str = BUILDKIT
    resources: dict[str, Any] = field(default_factory=dict)
    cache_size: str = "2Gi"
    timeout_seconds: int = 1800
    images: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_IMAGES))

    @property
    def image(self) -> str:
        """``host/repository:tag``, what the builder pushes."""
        return f"{self.registry_host}/{self.repository}:{self.tag}"

    @property
    def has_git_credentials(self) -> bool:
        return bool(self.git_username or self.git_password)

    @property
    def has_registry_credentials(self) -> bool:
        return bool(self.registry_username and self.registry_password)


# ---------------------------------------------------------------------------- names and labels


def job_name(run_id: int) -> str:
    return f"portal-build-{run_id}"


def scan_job_name(run_id: int) -> str:
    return f"portal-build-{run_id}-scan"


def git_secret_name(run_id: int) -> str:
    return f"portal-build-{run_id}-git"


def registry_secret_name(run_id: int) -> str:
    return f"portal-build-{run_id}-registry"


def config_map_name(run_id: int) -> str:
    return f"portal-build-{run_id}"


def labels(run_id: int, step: str = "") -> dict[str, str]:
    out = {MANAGED_BY: MANAGER, RUN_LABEL: str(run_id)}
    if step:
        out[STEP_LABEL] = step
    return out


def pod_selector(run_id: int, step: str) -> str:
    """The label selector of one Job's pods."""
    return f"{RUN_LABEL}={run_id},{STEP_LABEL}={step}"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# ---------------------------------------------------------------------------- secrets and config


def docker_config(host: str, username: str, password: str) -> str:
    """A docker config (``config.json``) with the registry's credentials, or none."""
    auths: dict[str, Any] = {}
    if username and password:
        auths[host] = {"username": username, "password": password, "auth": _b64(f"{username}:{password}")}
    return json.dumps({"auths": auths}, sort_keys=True)


def git_secret(inp: BuildInput) -> dict[str, Any] | None:
    """The source's credentials (None when the repository needs none)."""
    if not inp.has_git_credentials:
        return None
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": git_secret_name(inp.run_id), "namespace": inp.namespace, "labels": labels(inp.run_id)},
        "data": {"username": _b64(inp.git_username), "password": _b64(inp.git_password)},
    }


def registry_secret(inp: BuildInput) -> dict[str, Any]:
    """The push (and scan) credentials: a docker config Secret, mounted as ``~/.docker``."""
    config = docker_config(inp.registry_host, inp.registry_username, inp.registry_password)
    data = {".dockerconfigjson": _b64(config), "config.json": _b64(config)}
    if inp.has_registry_credentials:
        data.update(username=_b64(inp.registry_username), password=_b64(inp.registry_password))
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": registry_secret_name(inp.run_id), "namespace": inp.namespace,
                     "labels": labels(inp.run_id)},
        "data": data,
    }


def buildkitd_toml(inp: BuildInput) -> str:
    """BuildKit daemon settings for the target registry: its CA, plain HTTP."""
    lines = [f'[registry."{inp.registry_host}"]']
    if inp.ca_pem.strip():
        lines.append(f'  ca = ["{BUILD_CONFIG}/ca.crt"]')
    if inp.plain_http:
        lines += ["  http = true", "  insecure = true"]
    return "\n".join(lines) + "\n"


def config_map(inp: BuildInput) -> dict[str, Any]:
    data = {"buildkitd.toml": buildkitd_toml(inp)}
    if inp.ca_pem.strip():
        data["ca.crt"] = inp.ca_pem
    if inp.preset_dockerfile:
        data["Dockerfile"] = inp.preset_dockerfile
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": config_map_name(inp.run_id), "namespace": inp.namespace, "labels": labels(inp.run_id)},
        "data": data,
    }


def owner_reference(job: dict[str, Any]) -> dict[str, Any]:
    """An ownerReference to an applied Job (its uid), so the cluster collects what hangs off it."""
    meta = job.get("metadata") or {}
    return {"apiVersion": "batch/v1", "kind": "Job", "name": str(meta.get("name", "")),
            "uid": str(meta.get("uid", "")), "blockOwnerDeletion": False}


def with_owner(obj: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """``obj`` (a Secret or the ConfigMap) owned by the applied source ``job``."""
    return {**obj, "metadata": {**obj["metadata"], "ownerReferences": [owner_reference(job)]}}


# ---------------------------------------------------------------------------- the source Job


def _paths(inp: BuildInput) -> tuple[str, str, str]:
    """(context dir, Dockerfile dir, Dockerfile name) inside the pod."""
    context = posixpath.normpath(posixpath.join(SOURCE_DIR, inp.context_dir or "."))
    if inp.preset_dockerfile:
        return context, BUILD_CONFIG, "Dockerfile"
    dockerfile = posixpath.join(context, inp.dockerfile_path or "Dockerfile")
    directory, name = posixpath.split(posixpath.normpath(dockerfile))
    return context, directory, name


def _clone_container(inp: BuildInput) -> dict[str, Any]:
    env: list[dict[str, Any]] = [{"name": "GIT_URL", "value": inp.git_url}, {"name": "GIT_REF", "value": inp.git_ref}]
    if inp.has_git_credentials:
        secret = git_secret_name(inp.run_id)
        env += [{"name": "GIT_USERNAME", "valueFrom": {"secretKeyRef": {"name": secret, "key": "username"}}},
                {"name": "GIT_PASSWORD", "valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}}}]
    return {
        "name": CLONE_CONTAINER, "image": inp.images["git"], "command": ["sh", "-c", CLONE_SCRIPT], "env": env,
        "volumeMounts": [{"name": "workspace", "mountPath": WORKSPACE}],
    }


def buildkit_args(inp: BuildInput) -> list[str]:
    context, dockerfile_dir, dockerfile_name = _paths(inp)
    args = ["build", "--frontend", "dockerfile.v0", "--local", f"context={context}",
            "--local", f"dockerfile={dockerfile_dir}", "--opt", f"filename={dockerfile_name}"]
    for name in sorted(inp.build_args):
        args += ["--opt", f"build-arg:{name}={inp.build_args[name]}"]
    output = f"type=image,name={inp.image},push=true"
    if inp.plain_http:
        output += ",registry.insecure=true"
    return [*args, "--output", output, "--metadata-file", "/dev/termination-log"]


def _build_mounts() -> list[dict[str, Any]]:
    return [
        {"name": "workspace", "mountPath": WORKSPACE},
        {"name": "cache", "mountPath": f"{HOME}/.local/share/buildkit"},
        {"name": "docker-config", "mountPath": f"{HOME}/.docker"},
        {"name": "build-config", "mountPath": BUILD_CONFIG},
        {"name": "build-config", "mountPath": f"{HOME}/.config/buildkit/buildkitd.toml", "subPath": "buildkitd.toml"},
    ]


def _build_container(inp: BuildInput) -> dict[str, Any]:
    container: dict[str, Any]
    if inp.builder == BUILDAH:
        context, dockerfile_dir, dockerfile_name = _paths(inp)
        container = {
            "name": BUILD_CONTAINER, "image": inp.images["buildah"], "command": ["sh", "-c", BUILDAH_SCRIPT],
            "env": [{"name": "IMAGE", "value": inp.image}, {"name": "CONTEXT", "value": context},
                    {"name": "DOCKERFILE", "value": posixpath.join(dockerfile_dir, dockerfile_name)},
                    {"name": "BUILD_ARGS", "value": "".join(f"{k}={inp.build_args[k]}\n" for k in sorted(inp.build_args))},
                    {"name": "TLS_VERIFY", "value": "false" if inp.plain_http else "true"},
                    {"name": "REGISTRY_AUTH_FILE", "value": f"{HOME}/.docker/config.json"}],
        }
    else:
        container = {
            "name": BUILD_CONTAINER, "image": inp.images["buildkit"], "command": ["buildctl-daemonless.sh"],
            "args": buildkit_args(inp),
            "env": [{"name": "BUILDKITD_FLAGS", "value": "--oci-worker-no-process-sandbox"},
                    {"name": "DOCKER_CONFIG", "value": f"{HOME}/.docker"}],
        }
    container["volumeMounts"] = _build_mounts()
    container["securityContext"] = {
        "runAsUser": 1000, "runAsGroup": 1000,
        "seccompProfile": {"type": "Unconfined"}, "appArmorProfile": {"type": "Unconfined"},
    }
    if inp.resources:
        container["resources"] = {k: dict(v) for k, v in inp.resources.items() if k in ("requests", "limits") and v}
    return container


def _job(inp: BuildInput, name: str, step: str, pod_spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": inp.namespace, "labels": labels(inp.run_id, step)},
        "spec": {
            "backoffLimit": 0, "activeDeadlineSeconds": int(inp.timeout_seconds),
            "ttlSecondsAfterFinished": TTL_AFTER_FINISHED,
            "template": {
                "metadata": {"labels": labels(inp.run_id, step)},
                "spec": {"restartPolicy": "Never", "automountServiceAccountToken": False, **pod_spec},
            },
        },
    }


def source_job(inp: BuildInput) -> dict[str, Any]:
    """Job ``portal-build-<id>``: clone (init container), then build and push."""
    return _job(inp, job_name(inp.run_id), SOURCE, {
        "volumes": [
            {"name": "workspace", "emptyDir": {}},
            {"name": "cache", "emptyDir": {"sizeLimit": inp.cache_size}},
            {"name": "docker-config", "secret": {"secretName": registry_secret_name(inp.run_id),
                                                 "items": [{"key": "config.json", "path": "config.json"}]}},
            {"name": "build-config", "configMap": {"name": config_map_name(inp.run_id)}},
        ],
        "initContainers": [_clone_container(inp)],
        "containers": [_build_container(inp)],
    })


# ---------------------------------------------------------------------------- the scan Job


def scan_args(inp: BuildInput, digest: str) -> list[str]:
    return ["image", "--format", "json", "--quiet", "--no-progress", "--exit-code", "0", "--scanners", "vuln",
            f"{inp.registry_host}/{inp.repository}@{digest}"]


def scan_job(inp: BuildInput, digest: str) -> dict[str, Any]:
    """Job ``portal-build-<id>-scan``: Trivy on the pushed image, by digest."""
    env: list[dict[str, Any]] = []
    if inp.has_registry_credentials:
        secret = registry_secret_name(inp.run_id)
        env += [{"name": "TRIVY_USERNAME", "valueFrom": {"secretKeyRef": {"name": secret, "key": "username"}}},
                {"name": "TRIVY_PASSWORD", "valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}}}]
    if inp.plain_http:
        env.append({"name": "TRIVY_INSECURE", "value": "true"})
    if inp.ca_pem.strip():
        env.append({"name": "SSL_CERT_FILE", "value": f"{BUILD_CONFIG}/ca.crt"})
    container: dict[str, Any] = {
        "name": SCAN_CONTAINER, "image": inp.images["trivy"], "args": scan_args(inp, digest),
        "volumeMounts": [{"name": "build-config", "mountPath": BUILD_CONFIG}],
    }
    if env:
        container["env"] = env
    return _job(inp, scan_job_name(inp.run_id), SCAN, {
        "volumes": [{"name": "build-config", "configMap": {"name": config_map_name(inp.run_id)}}],
        "containers": [container],
    })


def run_objects(inp: BuildInput) -> list[dict[str, Any]]:
    """The Secrets and the ConfigMap of a run, applied before its source Job."""
    return [o for o in (git_secret(inp), registry_secret(inp), config_map(inp)) if o is not None]


# ---------------------------------------------------------------------------- termination messages


def parse_buildkit_metadata(text: str) -> str:
    """The pushed manifest's digest from BuildKit's metadata file (``""`` when it has none)."""
    try:
        doc = json.loads(text)
    except ValueError:
        return ""
    if not isinstance(doc, dict):
        return ""
    digest = doc.get("containerimage.digest") or (doc.get("containerimage.descriptor") or {}).get("digest")
    return digest if isinstance(digest, str) and _is_digest(digest) else ""


def parse_build_result(text: str, builder: str) -> str:
    """The digest a build container reports (BuildKit's metadata JSON, or Buildah's digest file)."""
    text = (text or "").strip()
    if builder == BUILDAH:
        return text if _is_digest(text) else ""
    return parse_buildkit_metadata(text)


def parse_commit(text: str) -> str:
    """The commit SHA the clone reports (its termination message), or ``""``."""
    sha = (text or "").strip().lower()
    return sha if len(sha) in (40, 64) and all(c in "0123456789abcdef" for c in sha) else ""


def _is_digest(value: str) -> bool:
    algorithm, _, hexa = value.partition(":")
    return algorithm == "sha256" and len(hexa) == 64 and all(c in "0123456789abcdef" for c in hexa)

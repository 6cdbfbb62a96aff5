"""The shapes of the objects a build run makes (docs/builds.md, "The pods the portal makes"): the
sandbox simulates exactly these, so a change here is a change of the contract. Also the
termination messages the runner reads back."""

from __future__ import annotations

import base64
import json

from builds import jobs

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _input(**overrides: object) -> jobs.BuildInput:
    base: dict[str, object] = {
        "run_id": 12, "namespace": "team-a", "git_url": "http://127.0.0.1:9/app.git", "git_ref": "main",
        "registry_host": "127.0.0.1:55000", "repository": "team-a/app", "tag": "1.0.B000012",
        "context_dir": "svc", "dockerfile_path": "docker/Dockerfile.prod", "build_args": {"B": "2", "A": "x y"},
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}, "cache_size": "1Gi", "timeout_seconds": 600,
    }
    base.update(overrides)
    return jobs.BuildInput(**base)  # type: ignore[arg-type]


def _decode(secret: dict[str, object], key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()  # type: ignore[index]


def test_the_source_job_has_the_contract_shape() -> None:
    job = jobs.source_job(_input())
    assert job["metadata"]["name"] == "portal-build-12"
    assert job["metadata"]["namespace"] == "team-a"
    want_labels = {"app.kubernetes.io/managed-by": "cluster-portal", "builds.cluster-portal.io/run": "12",
                   "builds.cluster-portal.io/step": "source"}
    assert job["metadata"]["labels"] == want_labels
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"], spec["ttlSecondsAfterFinished"]) == (0, 600, 3600)
    assert spec["template"]["metadata"]["labels"] == want_labels
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["workspace"] == {"name": "workspace", "emptyDir": {}}
    assert volumes["cache"]["emptyDir"] == {"sizeLimit": "1Gi"}
    assert volumes["docker-config"]["secret"] == {"secretName": "portal-build-12-registry",
                                                  "items": [{"key": "config.json", "path": "config.json"}]}
    assert volumes["build-config"]["configMap"] == {"name": "portal-build-12"}

    (clone,) = pod["initContainers"]
    assert clone["name"] == "clone"
    assert clone["image"] == "alpine/git:2.45.2"
    assert clone["command"][:2] == ["sh", "-c"]
    assert 'git clone --depth=1 --branch "$GIT_REF" -- "$GIT_URL" /workspace/src' in clone["command"][2]
    assert "rev-parse HEAD | tee /dev/termination-log" in clone["command"][2]
    assert clone["env"] == [{"name": "GIT_URL", "value": "http://127.0.0.1:9/app.git"},
                            {"name": "GIT_REF", "value": "main"}]
    assert clone["volumeMounts"] == [{"name": "workspace", "mountPath": "/workspace"}]

    (build,) = pod["containers"]
    assert build["name"] == "build"
    assert build["image"] == "moby/buildkit:v0.17.0-rootless"
    assert build["command"] == ["buildctl-daemonless.sh"]
    assert build["args"] == [
        "build", "--frontend", "dockerfile.v0", "--local", "context=/workspace/src/svc",
        "--local", "dockerfile=/workspace/src/svc/docker", "--opt", "filename=Dockerfile.prod",
        "--opt", "build-arg:A=x y", "--opt", "build-arg:B=2",
        "--output", "type=image,name=127.0.0.1:55000/team-a/app:1.0.B000012,push=true",
        "--metadata-file", "/dev/termination-log"]
    assert build["env"] == [{"name": "BUILDKITD_FLAGS", "value": "--oci-worker-no-process-sandbox"},
                            {"name": "DOCKER_CONFIG", "value": "/home/user/.docker"}]
    mounts = {(m["name"], m["mountPath"]): m.get("subPath") for m in build["volumeMounts"]}
    assert mounts == {
        ("workspace", "/workspace"): None, ("cache", "/home/user/.local/share/buildkit"): None,
        ("docker-config", "/home/user/.docker"): None, ("build-config", "/build-config"): None,
        ("build-config", "/home/user/.config/buildkit/buildkitd.toml"): "buildkitd.toml"}
    assert build["securityContext"] == {"runAsUser": 1000, "runAsGroup": 1000, "seccompProfile": {"type": "Unconfined"},
                                        "appArmorProfile": {"type": "Unconfined"}}
    assert build["resources"] == {"limits": {"cpu": "1", "memory": "1Gi"}}


def test_git_credentials_come_from_the_runs_secret_only() -> None:
    inp = _input(git_username="ci", git_password="hunter2-secret")
    secret = jobs.git_secret(inp)
    assert secret is not None
    assert secret["metadata"]["name"] == "portal-build-12-git"
    assert secret["type"] == "Opaque"
    assert (_decode(secret, "username"), _decode(secret, "password")) == ("ci", "hunter2-secret")
    job = jobs.source_job(inp)
    env = job["spec"]["template"]["spec"]["initContainers"][0]["env"]
    assert env[2:] == [
        {"name": "GIT_USERNAME", "valueFrom": {"secretKeyRef": {"name": "portal-build-12-git", "key": "username"}}},
        {"name": "GIT_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "portal-build-12-git", "key": "password"}}}]
    assert "hunter2-secret" not in json.dumps(job)
    assert jobs.git_secret(_input()) is None
    assert [o["metadata"]["name"] for o in jobs.run_objects(inp)] == [
        "portal-build-12-git", "portal-build-12-registry", "portal-build-12"]


def test_the_registry_secret_is_a_docker_config_with_trivys_keys() -> None:
    inp = _input(registry_username="portal", registry_password="pw-1")
    secret = jobs.registry_secret(inp)
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert secret["metadata"]["name"] == "portal-build-12-registry"
    config = json.loads(_decode(secret, ".dockerconfigjson"))
    assert _decode(secret, "config.json") == _decode(secret, ".dockerconfigjson")
    entry = config["auths"]["127.0.0.1:55000"]
    assert base64.b64decode(entry["auth"]).decode() == "portal:pw-1"
    assert (_decode(secret, "username"), _decode(secret, "password")) == ("portal", "pw-1")
    anonymous = jobs.registry_secret(_input())
    assert json.loads(_decode(anonymous, "config.json")) == {"auths": {}}
    assert "username" not in anonymous["data"]


def test_the_config_map_carries_buildkitd_toml_the_ca_and_a_presets_dockerfile() -> None:
    cm = jobs.config_map(_input(ca_pem=CA))
    assert cm["metadata"]["name"] == "portal-build-12"
    assert cm["data"]["ca.crt"] == CA
    assert cm["data"]["buildkitd.toml"] == '[registry."127.0.0.1:55000"]\n  ca = ["/build-config/ca.crt"]\n'
    assert "Dockerfile" not in cm["data"]
    plain = jobs.config_map(_input(plain_http=True, preset_dockerfile="FROM scratch\n"))
    assert plain["data"] == {"buildkitd.toml": '[registry."127.0.0.1:55000"]\n  http = true\n  insecure = true\n',
                             "Dockerfile": "FROM scratch\n"}
    build = jobs.source_job(_input(plain_http=True, preset_dockerfile="FROM scratch\n"))[
        "spec"]["template"]["spec"]["containers"][0]
    assert "--local" in build["args"]
    assert "dockerfile=/build-config" in build["args"]
    assert "filename=Dockerfile" in build["args"]
    assert build["args"][-3] == "type=image,name=127.0.0.1:55000/team-a/app:1.0.B000012,push=true,registry.insecure=true"


def test_buildah_runs_build_then_push_by_its_env() -> None:
    build = jobs.source_job(_input(builder="buildah"))["spec"]["template"]["spec"]["containers"][0]
    assert build["image"] == "quay.io/buildah/stable:v1.37.3"
    assert build["command"][:2] == ["sh", "-c"]
    assert "--digestfile /dev/termination-log" in build["command"][2]
    env = {e["name"]: e["value"] for e in build["env"]}
    assert env == {"IMAGE": "127.0.0.1:55000/team-a/app:1.0.B000012", "CONTEXT": "/workspace/src/svc",
                   "DOCKERFILE": "/workspace/src/svc/docker/Dockerfile.prod", "BUILD_ARGS": "A=x y\nB=2\n",
                   "TLS_VERIFY": "true", "REGISTRY_AUTH_FILE": "/home/user/.docker/config.json"}


def test_the_scan_job_scans_the_image_by_digest() -> None:
    digest = "sha256:" + "a" * 64
    inp = _input(registry_username="portal", registry_password="pw-1", plain_http=True, ca_pem=CA)
    job = jobs.scan_job(inp, digest)
    assert job["metadata"]["name"] == "portal-build-12-scan"
    assert job["metadata"]["labels"]["builds.cluster-portal.io/step"] == "scan"
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600
    pod = job["spec"]["template"]["spec"]
    (scan,) = pod["containers"]
    assert scan["name"] == "scan"
    assert scan["image"] == "aquasec/trivy:0.57.1"
    assert scan["args"] == ["image", "--format", "json", "--quiet", "--no-progress", "--exit-code", "0",
                            "--scanners", "vuln", f"127.0.0.1:55000/team-a/app@{digest}"]
    assert scan["env"] == [
        {"name": "TRIVY_USERNAME",
         "valueFrom": {"secretKeyRef": {"name": "portal-build-12-registry", "key": "username"}}},
        {"name": "TRIVY_PASSWORD",
         "valueFrom": {"secretKeyRef": {"name": "portal-build-12-registry", "key": "password"}}},
        {"name": "TRIVY_INSECURE", "value": "true"},
        {"name": "SSL_CERT_FILE", "value": "/build-config/ca.crt"}]
    assert scan["volumeMounts"] == [{"name": "build-config", "mountPath": "/build-config"}]
    assert "env" not in jobs.scan_job(_input(), digest)["spec"]["template"]["spec"]["containers"][0]


def test_manifests_are_deterministic_so_a_second_apply_changes_nothing() -> None:
    assert jobs.source_job(_input()) == jobs.source_job(_input())
    assert jobs.run_objects(_input(git_username="u", git_password="p")) == \
        jobs.run_objects(_input(git_username="u", git_password="p"))


def test_secrets_and_config_map_get_an_owner_reference_to_the_applied_job() -> None:
    applied = {"metadata": {"name": "portal-build-12", "uid": "u-1"}}
    owned = jobs.with_owner(jobs.config_map(_input()), applied)
    assert owned["metadata"]["ownerReferences"] == [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "portal-build-12", "uid": "u-1", "blockOwnerDeletion": False}]


def test_termination_messages() -> None:
    digest = "sha256:" + "b" * 64
    metadata = json.dumps({"containerimage.digest": digest, "image.name": "h/r:t",
                           "containerimage.descriptor": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                         "digest": digest, "size": 500}})
    assert jobs.parse_build_result(metadata, "buildkit") == digest
    assert jobs.parse_build_result(digest + "\n", "buildah") == digest
    assert jobs.parse_build_result("not json", "buildkit") == ""
    assert jobs.parse_build_result('{"containerimage.digest": "sha256:short"}', "buildkit") == ""
    assert jobs.parse_commit("A" * 40 + "\n") == "a" * 40
    assert jobs.parse_commit("fatal: nope") == ""

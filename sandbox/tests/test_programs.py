"""The build pods of the portal (issue 13) on a sandbox cluster, kubectl as the judge: the Job
``portal-build-<id>`` clones a real repository from a loopback git server in its init container,
builds the Dockerfile into a real OCI image and pushes it to a real registry (HTTPS with its own
CA, htpasswd basic auth); the scan Job reports the findings the image's label lists. The failures
come out as in a cluster: the step's log says why, the container's exit code is git's or
BuildKit's."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from sandbox.testing import (
    ClusterHandle,
    GitServer,
    RegistryServer,
    SandboxFleet,
    git_server,
    make_repo,
    registry_server,
    running_sandbox,
)
from sandbox.tests.helpers import KUBECTL, kubectl

pytestmark = [pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine")]

GIT_USER, GIT_PASSWORD = "builder", "git-s3cret-pw"
REG_USER, REG_PASSWORD = "pusher", "reg-s3cret-pw"
NS = "team-a"
CLONE_SCRIPT = """set -eu
git config --global credential.helper '!f() { test -n "${GIT_USERNAME:-}" && echo "username=${GIT_USERNAME}" && echo "password=${GIT_PASSWORD}"; }; f'
git clone --depth=1 --branch "$GIT_REF" -- "$GIT_URL" /workspace/src
git -C /workspace/src rev-parse HEAD | tee /dev/termination-log
"""
APP_FILES: dict[str, str | bytes] = {
    "Dockerfile": ("ARG BASE=scratch\nFROM ${BASE}\nARG VERSION=0.0\nENV APP_VERSION=${VERSION}\n"
                   "LABEL org.opencontainers.image.title=demo\nWORKDIR /app\nCOPY app.py ./\nCOPY static/ static/\n"
                   "RUN pip install -r requirements.txt\nEXPOSE 8080\nUSER 1000\nCMD [\"python\", \"app.py\"]\n"),
    "app.py": "print('hello')\n",
    "static/index.html": "<h1>hi</h1>\n",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxFleet, GitServer, RegistryServer]]:
    root = tmp_path_factory.mktemp("programs")
    make_repo(root / "git", "app", APP_FILES, tags=["v1.0"])
    with git_server(root / "git", username=GIT_USER, password=GIT_PASSWORD) as git, \
            registry_server(root / "registry", htpasswd_user=REG_USER, password=REG_PASSWORD, tls=True) as registry, \
            running_sandbox(clusters=1, nodes=1, state_dir=root / "sandbox") as fleet:
        kubectl(fleet.cluster("cluster-1").kubeconfig, "create", "namespace", NS)
        yield fleet, git, registry


def _cluster(world: tuple[SandboxFleet, GitServer, RegistryServer]) -> ClusterHandle:
    return world[0].cluster("cluster-1")


def _apply(kc: Path, *objects: dict[str, Any]) -> None:
    kubectl(kc, "apply", "--server-side", "-f", "-", input_text=yaml.safe_dump_all(objects))


def _labels(run: str, step: str) -> dict[str, str]:
    return {"app.kubernetes.io/managed-by": "cluster-portal", "builds.cluster-portal.io/run": run,
            "builds.cluster-portal.io/step": step}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def build_objects(run: str, git: GitServer, registry: RegistryServer, *, ref: str = "v1.0", repo: str = "app",
                  repository: str = "team-a/demo", tag: str = "1.0.B000001", git_password: str = GIT_PASSWORD,
                  registry_password: str = REG_PASSWORD, build_args: dict[str, str] | None = None,
                  dockerfile_path: str = "Dockerfile", context_dir: str = "", plain_http: bool = False,
                  job_labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The Secrets, ConfigMap and Job the portal makes for a clone + build (BUILDS.md's shapes)."""
    name = f"portal-build-{run}"
    host = registry.host
    auth = {"auths": {host: {"username": REG_USER, "password": registry_password,
                             "auth": _b64(f"{REG_USER}:{registry_password}")}}}
    config = json.dumps(auth)
    toml = (f'[registry."{host}"]\n  http = true\n  insecure = true\n' if plain_http else
            f'[registry."{host}"]\n  ca = ["/build-config/ca.crt"]\n')
    context = f"/workspace/src/{context_dir}".rstrip("/")
    df_dir = "/".join([context, *dockerfile_path.split("/")[:-1]])
    args = ["build", "--frontend", "dockerfile.v0", "--local", f"context={context}", "--local", f"dockerfile={df_dir}",
            "--opt", f"filename={dockerfile_path.rsplit('/', 1)[-1]}"]
    for k, v in sorted((build_args or {}).items()):
        args += ["--opt", f"build-arg:{k}={v}"]
    insecure = ",registry.insecure=true" if plain_http else ""
    args += ["--output", f"type=image,name={host}/{repository}:{tag},push=true{insecure}", "--metadata-file",
             "/dev/termination-log"]
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{name}-git", "namespace": NS},
         "type": "Opaque", "data": {"username": _b64(GIT_USER), "password": _b64(git_password)}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{name}-registry", "namespace": NS},
         "type": "kubernetes.io/dockerconfigjson",
         "data": {".dockerconfigjson": _b64(config), "config.json": _b64(config), "username": _b64(REG_USER),
                  "password": _b64(registry_password)}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS},
         "data": {"buildkitd.toml": toml, **({"ca.crt": registry.ca_pem} if registry.ca_pem else {})}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": NS,
                                                               "labels": _labels(run, "source")},
         "spec": {"backoffLimit": 0, "activeDeadlineSeconds": 600, "ttlSecondsAfterFinished": 3600,
                  "template": {"metadata": {"labels": _labels(run, "source")}, "spec": {
                      "restartPolicy": "Never",
                      "volumes": [{"name": "workspace", "emptyDir": {}},
                                  {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}},
                                  {"name": "docker-config", "secret": {
                                      "secretName": f"{name}-registry",
                                      "items": [{"key": "config.json", "path": "config.json"}]}},
                                  {"name": "build-config", "configMap": {"name": name}}],
                      "initContainers": [{
                          "name": "clone", "image": "alpine/git:2.45.2", "command": ["sh", "-c", CLONE_SCRIPT],
                          "env": [{"name": "GIT_URL", "value": git.url_for(repo)}, {"name": "GIT_REF", "value": ref},
                                  {"name": "GIT_USERNAME", "valueFrom": {"secretKeyRef": {
                                      "name": f"{name}-git", "key": "username"}}},
                                  {"name": "GIT_PASSWORD", "valueFrom": {"secretKeyRef": {
                                      "name": f"{name}-git", "key": "password"}}}],
                          "volumeMounts": [{"name": "workspace", "mountPath": "/workspace"}]}],
                      "containers": [{
                          "name": "build", "image": "moby/buildkit:v0.17.0-rootless",
                          "command": ["buildctl-daemonless.sh"], "args": args,
                          "env": [{"name": "BUILDKITD_FLAGS", "value": "--oci-worker-no-process-sandbox"},
                                  {"name": "DOCKER_CONFIG", "value": "/home/user/.docker"}],
                          "securityContext": {"runAsUser": 1000, "runAsGroup": 1000,
                                              "seccompProfile": {"type": "Unconfined"},
                                              "appArmorProfile": {"type": "Unconfined"}},
                          "volumeMounts": [{"name": "workspace", "mountPath": "/workspace"},
                                           {"name": "cache", "mountPath": "/home/user/.local/share/buildkit"},
                                           {"name": "docker-config", "mountPath": "/home/user/.docker"},
                                           {"name": "build-config", "mountPath": "/build-config"},
                                           {"name": "build-config", "mountPath":
                                            "/home/user/.config/buildkit/buildkitd.toml",
                                            "subPath": "buildkitd.toml"}]}]}}}},
    ]


def scan_objects(run: str, registry: RegistryServer, image: str, *, plain_http: bool = False) -> list[dict[str, Any]]:
    name = f"portal-build-{run}-scan"
    tls = ([{"name": "TRIVY_INSECURE", "value": "true"}] if plain_http else
           [{"name": "SSL_CERT_FILE", "value": "/build-config/ca.crt"}])
    return [{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": NS,
                                                                   "labels": _labels(run, "scan")},
             "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": _labels(run, "scan")}, "spec": {
                 "restartPolicy": "Never",
                 "volumes": [{"name": "build-config", "configMap": {"name": f"portal-build-{run}"}}],
                 "containers": [{
                     "name": "scan", "image": "aquasec/trivy:0.57.1",
                     "args": ["image", "--format", "json", "--quiet", "--no-progress", "--exit-code", "0", "--scanners",
                              "vuln", image],
                     "env": [{"name": "TRIVY_USERNAME", "valueFrom": {"secretKeyRef": {
                         "name": f"portal-build-{run}-registry", "key": "username"}}},
                             {"name": "TRIVY_PASSWORD", "valueFrom": {"secretKeyRef": {
                                 "name": f"portal-build-{run}-registry", "key": "password"}}}, *tls],
                     "volumeMounts": [{"name": "build-config", "mountPath": "/build-config"}]}]}}}}]


def _pod(kc: Path, job: str) -> dict[str, Any]:
    out = kubectl(kc, "get", "pods", "-n", NS, "-l", f"job-name={job}", "-o", "json").stdout
    items = json.loads(out)["items"]
    assert len(items) == 1, items
    return dict(items[0])


def _wait_job(kc: Path, job: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = json.loads(kubectl(kc, "get", "job", "-n", NS, job, "-o", "json").stdout).get("status") or {}
        for cond in status.get("conditions") or []:
            if cond["type"] in ("Complete", "Failed") and cond["status"] == "True":
                return str(cond["type"])
        assert time.monotonic() < deadline, f"job {job} did not finish: {status}"
        time.sleep(0.3)


def _state(pod: dict[str, Any], container: str) -> dict[str, Any]:
    status = pod["status"]
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        if cs["name"] == container:
            return dict(cs["state"])
    raise AssertionError(f"no status for {container}")


def _logs(kc: Path, pod: dict[str, Any], container: str, *extra: str) -> str:
    return kubectl(kc, "logs", "-n", NS, pod["metadata"]["name"], "-c", container, *extra).stdout


def test_build_job_clones_builds_and_pushes_a_real_image(world: tuple[SandboxFleet, GitServer, RegistryServer]) -> None:
    _fleet, git, registry = world
    kc = _cluster(world).kubeconfig
    sha = make_repo(git.root, "app", APP_FILES, tags=["v1.0"])
    _apply(kc, *build_objects("1", git, registry, build_args={"VERSION": "1.0"}))
    # while the clone runs or before: the app container waits for it
    assert _wait_job(kc, "portal-build-1") == "Complete"
    pod = _pod(kc, "portal-build-1")
    clone, build = _state(pod, "clone"), _state(pod, "build")
    assert clone["terminated"]["exitCode"] == 0
    assert clone["terminated"]["message"].strip() == sha
    assert build["terminated"]["exitCode"] == 0
    meta = json.loads(build["terminated"]["message"])
    digest = meta["containerimage.digest"]
    assert meta["image.name"] == f"{registry.host}/team-a/demo:1.0.B000001"
    assert meta["containerimage.descriptor"]["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    reasons = [e["reason"] for e in json.loads(kubectl(kc, "get", "events", "-n", NS, "-o", "json").stdout)["items"]
               if e["involvedObject"]["name"] == pod["metadata"]["name"]]
    assert "FailedMount" not in reasons  # its volumes were there at once
    assert reasons.count("Started") == 2
    init_log = _logs(kc, pod, "clone")
    assert "Cloning into '/workspace/src'..." in init_log
    assert init_log.strip().endswith(sha)
    assert GIT_PASSWORD not in init_log
    build_log = _logs(kc, pod, "build")
    assert "#1 [internal] load build definition from Dockerfile" in build_log, build_log
    assert "[2/5] WORKDIR /app" in build_log
    assert "COPY app.py ./" in build_log, build_log
    assert f"pushing manifest for {registry.host}/team-a/demo:1.0.B000001@{digest}" in build_log
    assert "RUN pip install" in build_log, build_log
    # the image in the registry: the digest the build reported is the manifest's
    got = requests.get(f"{registry.url}/v2/team-a/demo/manifests/1.0.B000001", auth=registry.auth,
                       verify=registry.verify, timeout=10,
                       headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert got.status_code == 200
    assert got.headers["Docker-Content-Digest"] == digest
    manifest = got.json()
    assert len(manifest["layers"]) == 2
    config = requests.get(f"{registry.url}/v2/team-a/demo/blobs/{manifest['config']['digest']}", auth=registry.auth,
                          verify=registry.verify, timeout=10).json()
    assert config["config"]["Env"] == ["APP_VERSION=1.0"]
    assert config["config"]["WorkingDir"] == "/app"
    assert config["config"]["Cmd"] == ["python", "app.py"]
    assert config["config"]["User"] == "1000"
    assert config["config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert config["config"]["Labels"]["org.opencontainers.image.title"] == "demo"
    # log options on a program's real log
    tail = _logs(kc, pod, "build", "--tail=1")
    assert tail.count("\n") == 1
    stamped = _logs(kc, pod, "build", "--timestamps", "--limit-bytes=200")
    assert len(stamped.encode()) == 200
    assert stamped[:4].isdigit()
    assert stamped[29:31] == "Z "
    # the same sources again: the same layers (deterministic), pushed under another tag
    _apply(kc, *build_objects("2", git, registry, build_args={"VERSION": "1.0"}, tag="again"))
    assert _wait_job(kc, "portal-build-2") == "Complete"
    again = requests.get(f"{registry.url}/v2/team-a/demo/manifests/again", auth=registry.auth, verify=registry.verify,
                         timeout=10, headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).json()
    assert [x["digest"] for x in again["layers"]] == [x["digest"] for x in manifest["layers"]]


def test_init_container_order_and_failed_clone(world: tuple[SandboxFleet, GitServer, RegistryServer]) -> None:
    _fleet, git, registry = world
    kc = _cluster(world).kubeconfig
    _apply(kc, *build_objects("3", git, registry, ref="no-such-ref"))
    assert _wait_job(kc, "portal-build-3") == "Failed"
    pod = _pod(kc, "portal-build-3")
    assert pod["status"]["phase"] == "Failed"
    clone = _state(pod, "clone")["terminated"]
    assert clone["exitCode"] == 128
    assert clone["reason"] == "Error"
    assert _state(pod, "build") == {"waiting": {"reason": "PodInitializing"}}
    initialized = next(c for c in pod["status"]["conditions"] if c["type"] == "Initialized")
    assert initialized["status"] == "False"
    assert initialized["reason"] == "ContainersNotInitialized"
    assert "fatal: Remote branch no-such-ref not found in upstream origin" in _logs(kc, pod, "clone")
    row = kubectl(kc, "get", "pod", "-n", NS, pod["metadata"]["name"], "--no-headers").stdout
    assert "Init:Error" in row
    refused = kubectl(kc, "logs", "-n", NS, pod["metadata"]["name"], "-c", "build", check=False)
    assert refused.returncode != 0
    assert "is waiting to start: PodInitializing" in refused.stderr

    _apply(kc, *build_objects("4", git, registry, git_password="wrong-password"))
    assert _wait_job(kc, "portal-build-4") == "Failed"
    pod = _pod(kc, "portal-build-4")
    log = _logs(kc, pod, "clone")
    assert f"fatal: Authentication failed for '{git.url_for('app')}/'" in log
    assert "wrong-password" not in log
    assert _state(pod, "clone")["terminated"]["exitCode"] == 128


@pytest.mark.parametrize(("run", "files", "kwargs", "expected"), [
    ("5", {"README": "no dockerfile"}, {},
     "ERROR: failed to solve: failed to read dockerfile: open Dockerfile: no such file or directory"),
    ("6", {"Dockerfile": "FROM scratch\nCOPY ../secret.txt /\n", "secret.txt.not": "x"}, {},
     '"/secret.txt": not found'),
    ("7", {"Dockerfile": "FROM {host}/nope/base:1\nCOPY a /\n", "a": "x"}, {},
     "ERROR: failed to solve: {host}/nope/base:1: failed to resolve source metadata for {host}/nope/base:1"),
    ("8", {"Dockerfile": "FROM scratch\nCOPY a /\n", "a": "x"}, {"registry_password": "wrong"},
     "ERROR: failed to solve: failed to push {host}/team-a/demo:1.0.B000001: unexpected status from HEAD request to "
     "https://{host}/v2/team-a/demo/blobs/sha256:"),
])
def test_build_failures_are_worded_like_buildkit(world: tuple[SandboxFleet, GitServer, RegistryServer], run: str,
                                                 files: dict[str, str | bytes], kwargs: dict[str, Any],
                                                 expected: str) -> None:
    _fleet, git, registry = world
    kc = _cluster(world).kubeconfig
    files = {k: v.replace("{host}", registry.host) if isinstance(v, str) else v for k, v in files.items()}
    make_repo(git.root, f"bad{run}", files)
    _apply(kc, *build_objects(run, git, registry, ref="main", repo=f"bad{run}", **kwargs))
    assert _wait_job(kc, f"portal-build-{run}") == "Failed"
    pod = _pod(kc, f"portal-build-{run}")
    build = _state(pod, "build")["terminated"]
    assert build["exitCode"] == 1
    assert "message" not in build  # nothing written to the metadata file
    log = _logs(kc, pod, "build")
    assert expected.replace("{host}", registry.host) in log, log
    if run == "8":
        assert log.rstrip().endswith(": 401 Unauthorized"), log
        assert REG_PASSWORD not in log


def test_scan_reports_the_findings_the_label_lists(world: tuple[SandboxFleet, GitServer, RegistryServer]) -> None:
    _fleet, git, registry = world
    kc = _cluster(world).kubeconfig
    vulns = "CVE-2024-0001:CRITICAL:openssl:3.0.1:3.0.13;CVE-2024-0002:LOW:zlib:1.2.13:"
    make_repo(git.root, "vuln", {"Dockerfile": f'FROM scratch\nLABEL sandbox.cluster-portal.io/vulnerabilities="{vulns}"\n'
                                               "COPY a /a\n", "a": "x"})
    _apply(kc, *build_objects("9", git, registry, ref="main", repo="vuln", repository="team-a/vuln"))
    assert _wait_job(kc, "portal-build-9") == "Complete"
    digest = json.loads(_state(_pod(kc, "portal-build-9"), "build")["terminated"]["message"])["containerimage.digest"]
    image = f"{registry.host}/team-a/vuln@{digest}"
    _apply(kc, *scan_objects("9", registry, image))
    assert _wait_job(kc, "portal-build-9-scan") == "Complete"
    report = json.loads(_logs(kc, _pod(kc, "portal-build-9-scan"), "scan"))
    assert report["SchemaVersion"] == 2
    assert report["ArtifactName"] == image
    assert report["ArtifactType"] == "container_image"
    found = [v for r in report["Results"] for v in r["Vulnerabilities"]]
    assert [(v["VulnerabilityID"], v["Severity"], v["PkgName"], v["InstalledVersion"], v.get("FixedVersion", ""))
            for v in found] == [("CVE-2024-0001", "CRITICAL", "openssl", "3.0.1", "3.0.13"),
                                ("CVE-2024-0002", "LOW", "zlib", "1.2.13", "")]
    # an image that is not there: Trivy's fatal error, exit 1
    _apply(kc, *scan_objects("10", registry, f"{registry.host}/team-a/vuln@sha256:{'0' * 64}"))
    _apply(kc, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "portal-build-10", "namespace": NS},
                "data": {"ca.crt": registry.ca_pem}})
    _apply(kc, *[o for o in build_objects("10", git, registry) if o["kind"] == "Secret"])
    assert _wait_job(kc, "portal-build-10-scan") == "Failed"
    pod = _pod(kc, "portal-build-10-scan")
    assert _state(pod, "scan")["terminated"]["exitCode"] == 1
    assert "FATAL\tFatal error\timage scan error: " in _logs(kc, pod, "scan")


def test_push_through_the_bearer_token_flow_over_plain_http(world: tuple[SandboxFleet, GitServer, RegistryServer],
                                                            tmp_path: Path) -> None:
    _fleet, git, _registry = world
    kc = _cluster(world).kubeconfig
    make_repo(git.root, "tokened", {"Dockerfile": "FROM scratch\nCOPY a /a\n", "a": "token"})
    with registry_server(tmp_path, htpasswd_user=REG_USER, password=REG_PASSWORD, token_auth=True) as tokened:
        challenge = requests.get(f"{tokened.url}/v2/", timeout=5).headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="http://127.0.0.1:')
        _apply(kc, *build_objects("11", git, tokened, ref="main", repo="tokened", plain_http=True))
        assert _wait_job(kc, "portal-build-11") == "Complete"
        pod = _pod(kc, "portal-build-11")
        digest = json.loads(_state(pod, "build")["terminated"]["message"])["containerimage.digest"]
        token = requests.get(challenge.split('"')[1], params={"service": "sandbox-registry",
                                                               "scope": "repository:team-a/demo:pull"},
                             auth=(REG_USER, REG_PASSWORD), timeout=5).json()["token"]
        got = requests.get(f"{tokened.url}/v2/team-a/demo/manifests/1.0.B000001", timeout=5,
                           headers={"Authorization": f"Bearer {token}",
                                    "Accept": "application/vnd.oci.image.manifest.v1+json"})
        assert got.status_code == 200
        assert got.headers["Docker-Content-Digest"] == digest
        # Trivy reads it through the same token flow, over plain http (TRIVY_INSECURE)
        _apply(kc, *scan_objects("11", tokened, f"{tokened.host}/team-a/demo@{digest}", plain_http=True))
        assert _wait_job(kc, "portal-build-11-scan") == "Complete"
        report = json.loads(_logs(kc, _pod(kc, "portal-build-11-scan"), "scan"))
        assert report["Metadata"]["RepoDigests"] == [f"{tokened.host}/team-a/demo@{digest}"]
        assert "Results" not in report, "no label, no findings"
        # wrong credentials: the token server refuses them, the push fails with the reason
        _apply(kc, *build_objects("12", git, tokened, ref="main", repo="tokened", plain_http=True,
                                  registry_password="nope-wrong"))
        assert _wait_job(kc, "portal-build-12") == "Failed"
        log = _logs(kc, _pod(kc, "portal-build-12"), "build")
        assert "failed to push" in log
        assert "failed to fetch oauth token" in log
        assert "401 Unauthorized" in log


def test_deleting_the_pod_stops_the_program_and_removes_its_files(
        world: tuple[SandboxFleet, GitServer, RegistryServer]) -> None:
    import socket

    fleet, git, registry = world
    kc = _cluster(world).kubeconfig
    with socket.socket() as silent:  # a "git server" that accepts and never answers: the clone hangs
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/app.git"
        objects = build_objects("13", git, registry)
        objects[-1]["spec"]["template"]["spec"]["initContainers"][0]["env"][0]["value"] = url
        _apply(kc, *objects)
        deadline = time.monotonic() + 30
        while "Cloning into" not in kubectl(kc, "logs", "-n", NS, "-l", "job-name=portal-build-13", "-c", "clone",
                                            check=False).stdout:
            assert time.monotonic() < deadline, "the clone did not start"
            time.sleep(0.3)
        pod = _pod(kc, "portal-build-13")
        follower = subprocess.Popen([str(KUBECTL), "--kubeconfig", str(kc), "logs", "-f", "-n", NS,
                                     pod["metadata"]["name"], "-c", "clone"], stdout=subprocess.PIPE, text=True)
        assert pod["status"]["phase"] == "Pending"
        assert "running" in _state(pod, "clone")
        assert _state(pod, "build") == {"waiting": {"reason": "PodInitializing"}}

        def roots(c: Any) -> list[Path]:
            return [r.root for r in c.controllers.kubelet.runtimes.pods.values()
                    if r.name == pod["metadata"]["name"]]

        (root,) = fleet.in_cluster("cluster-1", roots)
        assert (root / "volumes" / "docker-config" / "config.json").is_file()
        assert (root / "volumes" / "build-config" / "buildkitd.toml").is_file()
        kubectl(kc, "delete", "job", "-n", NS, "portal-build-13", "--wait=true", "--cascade=foreground")
        deadline = time.monotonic() + 15
        while root.exists():
            assert time.monotonic() < deadline, "the pod's directory was not removed"
            time.sleep(0.2)
        followed, _ = follower.communicate(timeout=15)  # the followed log ends with the container
        assert followed.startswith("Cloning into '/workspace/src'...")


def test_a_restarted_program_keeps_its_previous_log(world: tuple[SandboxFleet, GitServer, RegistryServer]) -> None:
    _fleet, git, registry = world
    kc = _cluster(world).kubeconfig
    objects = build_objects("16", git, registry, ref="no-such-branch")
    pod_spec = objects[-1]["spec"]["template"]["spec"]
    clone = pod_spec["initContainers"][0]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "clone-again", "namespace": NS},
           "spec": {"restartPolicy": "OnFailure", "volumes": pod_spec["volumes"], "containers": [clone]}}
    _apply(kc, *objects[:3], pod)
    deadline = time.monotonic() + 30
    while True:
        status = json.loads(kubectl(kc, "get", "pod", "-n", NS, "clone-again", "-o", "json").stdout)["status"]
        restarts = sum(int(cs.get("restartCount") or 0) for cs in status.get("containerStatuses") or [])
        if restarts >= 1:
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.3)
    previous = kubectl(kc, "logs", "-n", NS, "clone-again", "-p").stdout
    assert "fatal: Remote branch no-such-branch not found in upstream origin" in previous
    assert status["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 128
    kubectl(kc, "delete", "pod", "-n", NS, "clone-again", "--wait=false")


BUILDAH_SCRIPT = """set -eu
buildah build --storage-driver=vfs --isolation=chroot --tls-verify="$TLS_VERIFY" --cert-dir /build-config \\
--authfile "$REGISTRY_AUTH_FILE" -f "$DOCKERFILE" -t "$IMAGE" "$CONTEXT"
buildah push --storage-driver=vfs --tls-verify="$TLS_VERIFY" --cert-dir /build-config \\
--authfile "$REGISTRY_AUTH_FILE" --digestfile /dev/termination-log "$IMAGE"
"""


def _buildah(objects: list[dict[str, Any]], registry: RegistryServer, *, tag: str, args: str = "") -> None:
    pod = objects[-1]["spec"]["template"]["spec"]
    build = pod["containers"][0]
    build.pop("args")
    build.update(image="quay.io/buildah/stable:v1.37.3", command=["sh", "-c", BUILDAH_SCRIPT], env=[
        {"name": "IMAGE", "value": f"{registry.host}/team-a/buildah:{tag}"},
        {"name": "CONTEXT", "value": "/workspace/src"}, {"name": "DOCKERFILE", "value": "/workspace/src/Dockerfile"},
        {"name": "BUILD_ARGS", "value": args}, {"name": "TLS_VERIFY", "value": "true"},
        {"name": "REGISTRY_AUTH_FILE", "value": "/home/user/.docker/config.json"}])


def test_buildah_builds_and_pushes_with_its_own_words(world: tuple[SandboxFleet, GitServer, RegistryServer]) -> None:
    _fleet, git, registry = world
    kc = _cluster(world).kubeconfig
    make_repo(git.root, "app", APP_FILES, tags=["v1.0"])
    objects = build_objects("14", git, registry)
    _buildah(objects, registry, tag="b1", args="VERSION=2.0 beta\n")
    _apply(kc, *objects)
    assert _wait_job(kc, "portal-build-14") == "Complete"
    pod = _pod(kc, "portal-build-14")
    digest = _state(pod, "build")["terminated"]["message"]
    assert digest.startswith("sha256:")
    got = requests.get(f"{registry.url}/v2/team-a/buildah/manifests/b1", auth=registry.auth, verify=registry.verify,
                       timeout=10, headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert got.headers["Docker-Content-Digest"] == digest
    config = requests.get(f"{registry.url}/v2/team-a/buildah/blobs/{got.json()['config']['digest']}",
                          auth=registry.auth, verify=registry.verify, timeout=10).json()
    assert config["config"]["Env"] == ["APP_VERSION=2.0 beta"]
    log = _logs(kc, pod, "build")
    assert "STEP 1/12: ARG BASE=scratch" not in log  # a global ARG is no step of a stage
    assert "STEP 1/11: FROM ${BASE}" in log, log
    assert "STEP 6/11: COPY app.py ./" in log, log
    assert f"COMMIT {registry.host}/team-a/buildah:b1" in log, log
    assert "Writing manifest to image destination" in log, log

    make_repo(git.root, "bad15", {"Dockerfile": "FROM scratch\nCOPY nope /app/\n"})
    objects = build_objects("15", git, registry, ref="main", repo="bad15")
    _buildah(objects, registry, tag="b2")
    _apply(kc, *objects)
    assert _wait_job(kc, "portal-build-15") == "Failed"
    pod = _pod(kc, "portal-build-15")
    assert _state(pod, "build")["terminated"]["exitCode"] == 125
    log = _logs(kc, pod, "build")
    assert ('Error: building at STEP "COPY nope /app/": checking on sources under "/workspace/src": copier: stat: '
            '"/nope": no such file or directory') in log, log


def test_from_an_image_in_the_registry_and_copy_from_a_stage(
        world: tuple[SandboxFleet, GitServer, RegistryServer]) -> None:
    _fleet, git, registry = world
    kc = _cluster(world).kubeconfig
    make_repo(git.root, "base", {"Dockerfile": 'FROM scratch\nENV BASE_ENV=1 PATH=/bin\nCOPY lib/ /usr/lib/app/\n'
                                               'ENTRYPOINT ["/bin/app"]\nCMD ["--serve"]\n',
                                 "lib/one.so": "one", "lib/two.so": "two"})
    _apply(kc, *build_objects("17", git, registry, ref="main", repo="base", repository="team-a/base", tag="1"))
    assert _wait_job(kc, "portal-build-17") == "Complete"
    base = f"{registry.host}/team-a/base:1"
    dockerfile = (f"FROM {base} AS runtime\n"
                  "FROM scratch AS builder\nCOPY src/ /out/\n"
                  "FROM runtime\nCOPY --from=builder /out/main.txt /app/main.txt\nENV APP=2\n")
    make_repo(git.root, "derived", {"Dockerfile": dockerfile, "src/main.txt": "main", "src/unused.txt": "x"})
    _apply(kc, *build_objects("18", git, registry, ref="main", repo="derived", repository="team-a/derived", tag="1"))
    assert _wait_job(kc, "portal-build-18") == "Complete"
    pod = _pod(kc, "portal-build-18")
    log = _logs(kc, pod, "build")
    assert f"[internal] load metadata for {base}" in log, log
    assert "[builder 2/2] COPY src/ /out/" in log, log

    def get(repo: str, ref: str, what: str = "manifests") -> Any:
        return requests.get(f"{registry.url}/v2/{repo}/{what}/{ref}", auth=registry.auth, verify=registry.verify,
                            timeout=10, headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})

    base_manifest = get("team-a/base", "1").json()
    derived = get("team-a/derived", "1").json()
    assert derived["layers"][:1] == base_manifest["layers"], "the base image's layer carried over"
    assert len(derived["layers"]) == 2
    config = get("team-a/derived", derived["config"]["digest"], "blobs").json()
    assert config["config"]["Env"] == ["BASE_ENV=1", "PATH=/bin", "APP=2"]
    assert config["config"]["Entrypoint"] == ["/bin/app"]
    assert config["config"]["Cmd"] == ["--serve"]
    base_config = get("team-a/base", base_manifest["config"]["digest"], "blobs").json()
    assert config["rootfs"]["diff_ids"][0] == base_config["rootfs"]["diff_ids"][0]
    # the new layer holds only the file copied from the builder stage
    import gzip
    import io
    import tarfile

    blob = get("team-a/derived", derived["layers"][1]["digest"], "blobs").content
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
        assert sorted(m.name for m in tar.getmembers()) == ["app", "app/main.txt"]
        member = tar.getmember("app/main.txt")
        assert (member.mtime, member.uid, member.gid, member.mode) == (0, 0, 0, 0o644)


def test_a_missing_secret_key_is_create_container_config_error(
        world: tuple[SandboxFleet, GitServer, RegistryServer]) -> None:
    _fleet, git, registry = world
    kc = _cluster(world).kubeconfig
    objects = build_objects("19", git, registry)
    objects[0]["data"].pop("password")  # the git Secret without its password key
    _apply(kc, *objects)
    deadline = time.monotonic() + 30
    while True:
        pod = _pod(kc, "portal-build-19")
        inits = pod.get("status", {}).get("initContainerStatuses") or [{}]
        waiting = (inits[0].get("state") or {}).get("waiting") or {}
        if waiting.get("reason") == "CreateContainerConfigError":
            break
        assert time.monotonic() < deadline, pod["status"]
        time.sleep(0.3)
    assert waiting["message"] == f"couldn't find key password in Secret {NS}/portal-build-19-git"
    row = kubectl(kc, "get", "pod", "-n", NS, pod["metadata"]["name"], "--no-headers").stdout
    assert "Init:CreateContainerConfigError" in row
    described = kubectl(kc, "describe", "pod", "-n", NS, pod["metadata"]["name"]).stdout
    assert "Init Containers:" in described
    assert "CreateContainerConfigError" in described
    # the key appears: the kubelet's next attempt starts the clone, and the build follows
    objects[0]["data"]["password"] = _b64(GIT_PASSWORD)
    _apply(kc, objects[0])
    assert _wait_job(kc, "portal-build-19", timeout=90) == "Complete"


def test_a_missing_volume_source_is_failed_mount_until_it_appears(
        world: tuple[SandboxFleet, GitServer, RegistryServer]) -> None:
    _fleet, git, registry = world
    kc = _cluster(world).kubeconfig
    objects = build_objects("20", git, registry)
    registry_secret = objects.pop(1)  # the docker config Secret the pod mounts is not there yet
    _apply(kc, *objects)
    deadline = time.monotonic() + 30
    while True:
        events = kubectl(kc, "get", "events", "-n", NS, "--field-selector", "reason=FailedMount", "-o", "json").stdout
        messages = [e["message"] for e in json.loads(events)["items"]
                    if e["involvedObject"]["name"].startswith("portal-build-20-")]
        if messages:
            break
        assert time.monotonic() < deadline, "no FailedMount event"
        time.sleep(0.3)
    assert messages[0] == ('MountVolume.SetUp failed for volume "docker-config" : secret "portal-build-20-registry" '
                           "not found")
    pod = _pod(kc, "portal-build-20")
    assert pod["status"]["phase"] == "Pending"
    assert "Init:0/1" in kubectl(kc, "get", "pod", "-n", NS, pod["metadata"]["name"], "--no-headers").stdout
    _apply(kc, registry_secret)
    assert _wait_job(kc, "portal-build-20", timeout=90) == "Complete"

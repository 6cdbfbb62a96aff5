"""Running a build as Kubernetes Jobs and following it to the end: the operations behind the
``builds.start_run``, ``builds.advance_run`` and ``builds.cancel_run`` tasks.

* :func:`start` applies the run's Secrets, ConfigMap and source Job (:mod:`builds.jobs`) by
  server-side apply under the field manager ``portal-builds``, then gives the Secrets and the
  ConfigMap an ownerReference to the Job. Applying the same manifests again changes nothing, so
  a start repeated after a killed worker converges.
* :func:`advance` looks once: the source Job's pod (init container ``clone`` → the clone step,
  container ``build`` → the build step), then the scan Job's, then the deploy step. Logs are read
  incrementally from each step's cursor and stored as they arrive (so a failed step keeps its
  log); termination messages give the commit and the pushed digest; the image's size comes from
  the registry. The task repeats :func:`advance` while the run is active, under a lease.
* :func:`cancel` deletes the Jobs (propagation Background: the pods go with them) and the run's
  Secrets and ConfigMap, then marks the run cancelled.

A cluster that cannot be reached is retried at every pass, not failed at once; the run's
no-progress timeout (``timeout_seconds`` since the last sign of progress) decides, fails the run
and deletes its Jobs: nothing stays ``running`` for ever. A cluster's refusal (403, 422, a missing
namespace) fails the run with the cluster's words. Nothing half-made is referenced: a run
records a digest only from a build container that exited 0 and reported it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from builds import jobs, presets, registry_ops, run_actions, scans
from builds.models import BuildRun, BuildStep, Registry, RunStatus, StepName, StepStatus
from clusters.kube import errors as kube
from clusters.kube.client import KubeClient
from clusters.kube.messages import explain
from portal import errors, oci, outbound
from portal.addresses import AddressError
from portal.crypto import DecryptionError

logger = logging.getLogger("builds")

FIELD_MANAGER = "portal-builds"
CALL_TIMEOUT = 10.0
LOG_CHUNK = 256 * 1024  # bytes of a container's log read per request
LOG_PASS_MAX = 4 * 1024 * 1024  # bytes read per step per pass (the next pass reads on)
WAITING_PROBLEMS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
                    "CreateContainerError", "RunContainerError")

# The stored code of a step whose container failed (each has its translation in the console).
STEP_FAILED_CODES: dict[str, str] = {StepName.CLONE: "build_clone_failed", StepName.BUILD: "build_build_failed",
                                    StepName.SCAN: "build_scan_failed"}

ClientFactory = Callable[[BuildRun], KubeClient]
Deployer = Callable[[BuildRun], Any]


def images() -> dict[str, str]:
    return {
        "git": str(getattr(settings, "PORTAL_BUILD_GIT_IMAGE", jobs.DEFAULT_IMAGES["git"])),
        "buildkit": str(getattr(settings, "PORTAL_BUILD_BUILDKIT_IMAGE", jobs.DEFAULT_IMAGES["buildkit"])),
        "buildah": str(getattr(settings, "PORTAL_BUILD_BUILDAH_IMAGE", jobs.DEFAULT_IMAGES["buildah"])),
        "trivy": str(getattr(settings, "PORTAL_BUILD_TRIVY_IMAGE", jobs.DEFAULT_IMAGES["trivy"])),
    }


def default_client(run: BuildRun) -> KubeClient:
    if run.cluster is None:
        raise errors.Invalid("The build's cluster is gone.", code="build_cluster_gone")
    return KubeClient(run.cluster.connection_spec(), read_timeout=CALL_TIMEOUT)


def _load(run_id: int) -> BuildRun | None:
    return (BuildRun.objects.select_related("definition", "workspace", "cluster", "deployed_release")
            .filter(pk=run_id).first())


def _registry(run: BuildRun) -> Registry:
    registry = Registry.objects.filter(pk=int((run.spec or {}).get("registry_id") or 0)).first()
    if registry is None:
        raise errors.Invalid("The build's registry is gone.", code="build_registry_gone")
    return registry


def build_input(run: BuildRun, registry: Registry) -> jobs.BuildInput:
    """The manifests' input from the run's frozen spec, the definition's git password and the
    registry's credentials (read now: a rotated password is used by the next run)."""
    spec = run.spec or {}
    definition = run.definition
    preset = str(spec.get("preset") or "")
    return jobs.BuildInput(
        run_id=run.pk, namespace=run.namespace or str(spec.get("namespace", "")),
        git_url=str(spec.get("git_url", "")), git_ref=run.git_ref or str(spec.get("git_ref", "")),
        git_username=str(spec.get("git_username", "")),
        git_password=definition.get_git_password() if spec.get("has_git_password") else "",
        context_dir=str(spec.get("context_dir") or "."), dockerfile_path=str(spec.get("dockerfile_path") or "Dockerfile"),
        preset_dockerfile=presets.dockerfile(preset) if preset and presets.get(preset) else "",
        build_args={str(k): str(v) for k, v in (spec.get("build_args") or {}).items()},
        registry_host=registry.host, plain_http=registry.plain_http, ca_pem=registry.ca_pem,
        registry_username=registry.username, registry_password=registry.get_password(),
        repository=str(spec.get("repository", "")), tag=run.image_tag,
        builder=str(spec.get("builder") or jobs.BUILDKIT), resources=dict(spec.get("resources") or {}),
        cache_size=str(spec.get("cache_size") or "2Gi"), timeout_seconds=int(spec.get("timeout_seconds") or 1800),
        images=images(),
    )


def timeout_of(run: BuildRun) -> int:
    return int((run.spec or {}).get("timeout_seconds") or run.definition.timeout_seconds or 1800)


# ---------------------------------------------------------------------------- outcomes


@dataclass
class Pass:
    """What one pass concluded: ``active`` (look again), or the run's status."""

    status: str
    detail: str = ""

    @property
    def active(self) -> bool:
        return self.status in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLING)


def _fail(run: BuildRun, *, step: str | None, message: str, code: str, params: dict[str, Any] | None = None,
          exit_code: int | None = None) -> Pass:
    if step:
        run_actions.update_step(run.pk, step, status=StepStatus.FAILED, message=message, code=code, params=params,
                                exit_code=exit_code)
    run_actions.finish(run.pk, status=RunStatus.FAILED, message=message, code=code, params=params)
    return Pass(RunStatus.FAILED, code)


def _cluster_note(run: BuildRun, exc: BaseException) -> Pass:
    explained = explain(exc)
    run_actions.note(run.pk, message=f"The build's cluster cannot be read; retrying: {explained.message}",
                     code="build_cluster_unreachable", params={"reason": explained.code})
    return Pass(str(run.status), "unreachable")


def _refused(run: BuildRun, exc: kube.KubeError, step: str) -> Pass:
    return _fail(run, step=step, message=f"The cluster refused the build's objects: {exc}", code="build_cluster_refused",
                 params={"reason": exc.code, "error": str(exc)[:500]})


# ---------------------------------------------------------------------------- start


def start(run_id: int, *, client_factory: ClientFactory = default_client) -> Pass:
    """Apply the run's objects and its source Job (idempotent); the run becomes ``running``. A
    start the cluster refuses fails the run and deletes what it applied."""
    outcome = _start(run_id, client_factory=client_factory)
    if outcome.status == RunStatus.FAILED and outcome.detail != "finished":
        run = _load(run_id)
        if run is not None:
            _cleanup(run, client_factory, jobs_too=outcome.detail == "build_cluster_refused")
    return outcome


def _start(run_id: int, *, client_factory: ClientFactory) -> Pass:
    run = _load(run_id)
    if run is None:
        return Pass("gone")
    if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED):
        return Pass(str(run.status), "finished")
    if run.status == RunStatus.CANCELLING:
        return cancel(run_id, client_factory=client_factory)
    if run.status == RunStatus.RUNNING and jobs.job_name(run.pk) in (run.jobs or []):
        return advance(run_id, client_factory=client_factory)
    try:
        registry = _registry(run)
        if not run.image_tag:
            # git-sha scheme without a commit: ask the git server which commit the ref names now
            # (what ``git ls-remote`` does), so the Job can push under that tag.
            spec = run.spec or {}
            password = run.definition.get_git_password() if spec.get("has_git_password") else ""
            commit = resolve_commit(str(spec.get("git_url", "")), run.git_ref, str(spec.get("git_username", "")),
                                    password)
            run_actions.set_commit(run.pk, commit, tag=commit[:7])
            run = _load(run_id) or run
        inp = build_input(run, registry)
        with client_factory(run) as client:
            objects = jobs.run_objects(inp)
            # Once the Job exists, the objects are applied with their ownerReference from the start
            # (applying them without it would take it away and put it back: a change each time).
            existing = _get_or_none(client, "Job", jobs.job_name(run.pk), inp.namespace)
            for obj in objects:
                client.apply(jobs.with_owner(obj, existing) if existing else obj, field_manager=FIELD_MANAGER,
                             timeout=CALL_TIMEOUT)
            job = client.apply(jobs.source_job(inp), field_manager=FIELD_MANAGER, timeout=CALL_TIMEOUT)
            if existing is None or existing["metadata"].get("uid") != job["metadata"].get("uid"):
                for obj in objects:
                    client.apply(jobs.with_owner(obj, job), field_manager=FIELD_MANAGER, timeout=CALL_TIMEOUT)
    except errors.PortalError as exc:
        return _fail(run, step=StepName.CLONE, message=exc.message, code=exc.code, params=exc.params)
    except DecryptionError as exc:
        return _fail(run, step=StepName.CLONE, message=f"Stored credentials cannot be decrypted: {exc}",
                     code="credentials_undecryptable", params={"error": str(exc)[:300]})
    except kube.KubeError as exc:
        if exc.retryable:
            return _cluster_note(run, exc)
        return _refused(run, exc, StepName.CLONE)
    name = jobs.job_name(run.pk)
    run_actions.mark_running(run.pk, jobs=[name], namespace=inp.namespace, cluster_id=run.cluster_id)
    run_actions.update_step(run.pk, StepName.CLONE, job=name, container=jobs.CLONE_CONTAINER)
    run_actions.update_step(run.pk, StepName.BUILD, job=name, container=jobs.BUILD_CONTAINER)
    return Pass(RunStatus.RUNNING, "started")


# ---------------------------------------------------------------------------- the git-sha tag

MAX_REFS_BYTES = 4 * 1024 * 1024


def _pkt_lines(body: bytes) -> list[bytes]:
    """The payloads of git's pkt-line framing (flush packets dropped)."""
    out, at = [], 0
    while at + 4 <= len(body):
        try:
            size = int(body[at:at + 4], 16)
        except ValueError:
            break
        if size == 0:
            at += 4
            continue
        if size < 4 or at + size > len(body):
            break
        out.append(body[at + 4:at + size])
        at += size
    return out


def resolve_commit(git_url: str, ref: str, username: str, password: str) -> str:
    """The commit ``ref`` (a branch, a tag or a full SHA) names in the repository now, read from the
    smart-HTTP ref advertisement (``git ls-remote``) through the address policy. A ref the repository
    does not have, refused credentials or an unreachable server raise :class:`portal.errors.Invalid`
    / :class:`portal.errors.Upstream` with git's own words (they fail the clone step)."""
    ref = ref.strip()
    if jobs.parse_commit(ref):
        return ref.lower()
    url = git_url.rstrip("/") + "/info/refs?service=git-upload-pack"
    try:
        with outbound.session() as session:
            response = session.get(url, auth=(username, password) if username or password else None,
                                   headers={"User-Agent": "git/2.45.2", "Git-Protocol": "version=1"},
                                   timeout=(5, 15), stream=True, allow_redirects=False)
            with response:
                if response.status_code in (401, 403):
                    raise errors.Upstream(f"fatal: Authentication failed for '{git_url}'",
                                          code="build_git_refused", params={"url": git_url})
                if response.status_code != 200:
                    raise errors.Upstream(f"fatal: unable to access '{git_url}': The requested URL returned error: "
                                          f"{response.status_code}", code="build_git_unreachable",
                                          params={"url": git_url, "error": f"HTTP {response.status_code}"})
                body = response.raw.read(MAX_REFS_BYTES + 1, decode_content=True)
    except (AddressError, requests.exceptions.RequestException) as exc:
        reason = outbound.failure_message(exc, url=url, what="the git server")
        raise errors.Upstream(f"fatal: unable to access '{git_url}': {reason}", code="build_git_unreachable",
                              params={"url": git_url, "error": reason}) from exc
    refs: dict[str, str] = {}
    for line in _pkt_lines(body[:MAX_REFS_BYTES]):
        text = line.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
        sha, _, name = text.partition(" ")
        if jobs.parse_commit(sha) and name:
            refs[name] = sha.lower()
    for name in (f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}", f"refs/heads/{ref}", ref):
        if name in refs:
            return refs[name]
    raise errors.Invalid(f"fatal: Remote branch {ref} not found in upstream origin", code="build_ref_not_found",
                         params={"ref": ref})


# ---------------------------------------------------------------------------- advance


def _get_or_none(client: KubeClient, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    try:
        return client.get_object(kind, name, namespace, timeout=CALL_TIMEOUT)
    except kube.NotFound:
        return None


def _steps(run_id: int) -> dict[str, BuildStep]:
    return {s.name: s for s in BuildStep.objects.filter(run_id=run_id).defer("log")}


def _newest_pod(client: KubeClient, run: BuildRun, step_label: str) -> dict[str, Any] | None:
    pods = client.list_objects("Pod", run.namespace, label_selector=jobs.pod_selector(run.pk, step_label),
                               timeout=CALL_TIMEOUT)
    pods.sort(key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp", "")))
    return pods[-1] if pods else None


def _container_status(pod: dict[str, Any], name: str, *, init: bool) -> dict[str, Any]:
    key = "initContainerStatuses" if init else "containerStatuses"
    for status in (pod.get("status") or {}).get(key) or []:
        if status.get("name") == name:
            return dict(status)
    return {}


def _job_failure(client: KubeClient, run: BuildRun, name: str) -> tuple[str, str] | None:
    """(reason, message) when the Job failed as a whole (its deadline, its pods gone), else None;
    ``("JobGone", …)`` when it is not there."""
    try:
        job = client.get_object("Job", name, run.namespace, timeout=CALL_TIMEOUT)
    except kube.NotFound:
        return "JobGone", f"Job {name} is not in the cluster (deleted by someone else?)."
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            return str(condition.get("reason") or "Failed"), str(condition.get("message") or "")
    return None


def _read_log(client: KubeClient, run: BuildRun, step: str, pod: str, container: str) -> None:
    """Store what the container logged since the step's cursor."""
    cursor = run_actions.step_log_cursor(run.pk, step)
    read = 0
    while read < LOG_PASS_MAX:
        try:
            data = client.read_pod_log(pod, run.namespace, container=container, limit_bytes=cursor + LOG_CHUNK,
                                       timeout=CALL_TIMEOUT, attempts=2)
        except (kube.ApiError, kube.NotFound):
            return  # not started yet, or gone: nothing (more) to read
        if len(data) <= cursor:
            return
        new = data[cursor:]
        run_actions.append_log(run.pk, step, new, read_to=len(data))
        cursor = run_actions.step_log_cursor(run.pk, step)
        read += len(new)
        if len(data) < cursor + LOG_CHUNK - len(new) or len(new) < LOG_CHUNK:
            return


def _last_words(run_id: int, step: str) -> str:
    log = BuildStep.objects.filter(run_id=run_id, name=step).values_list("log", flat=True).first() or ""
    lines = [line.strip() for line in log[-4000:].splitlines() if line.strip()]
    errors_ = [line for line in lines if line.startswith(("ERROR", "fatal:", "FATAL", "error:"))]
    return (errors_ or lines or [""])[-1][:500]


def _follow_container(client: KubeClient, run: BuildRun, steps: dict[str, BuildStep], step: str,
                      pod: dict[str, Any], container: str, *, init: bool) -> tuple[str, dict[str, Any]]:
    """Record the container's state on ``step`` and read its log: ``("running"|"waiting"|"succeeded"|
    "failed", terminated-state)``."""
    pod_name = str((pod.get("metadata") or {}).get("name", ""))
    status = _container_status(pod, container, init=init)
    state = status.get("state") or {}
    if "running" in state:
        if steps[step].message_code == "build_container_waiting":  # it is not waiting any more
            run_actions.update_step(run.pk, step, message="", code="", params={})
        run_actions.update_step(run.pk, step, status=StepStatus.RUNNING, pod=pod_name)
        _read_log(client, run, step, pod_name, container)
        return "running", {}
    if "terminated" in state:
        terminated = dict(state["terminated"])
        if steps[step].status == StepStatus.PENDING:
            run_actions.update_step(run.pk, step, status=StepStatus.RUNNING, pod=pod_name)
        _read_log(client, run, step, pod_name, container)
        return ("succeeded" if int(terminated.get("exitCode", 1) or 0) == 0 else "failed"), terminated
    waiting = state.get("waiting") or {}
    reason = str(waiting.get("reason") or "")
    if reason in WAITING_PROBLEMS:
        message = f"{container}: {reason}: {waiting.get('message') or ''}".strip().rstrip(":")
        run_actions.update_step(run.pk, step, pod=pod_name, message=message[:1000], code="build_container_waiting",
                                params={"container": container, "reason": reason})
    phase = str((pod.get("status") or {}).get("phase", ""))
    if phase == "Failed":
        reason = str((pod.get("status") or {}).get("reason") or "Failed")
        return "failed", {"reason": reason, "message": str((pod.get("status") or {}).get("message") or "")}
    return "waiting", {}


def _step_failed(run: BuildRun, step: str, terminated: dict[str, Any], what: str) -> Pass:
    exit_code = terminated.get("exitCode")
    reason = str(terminated.get("reason") or "Error")
    words = _last_words(run.pk, step) or str(terminated.get("message") or "")[:500]
    detail = f" (exit code {exit_code}, {reason})" if exit_code is not None else f" ({reason})"
    return _fail(run, step=step, exit_code=int(exit_code) if exit_code is not None else None,
                 message=f"{what} failed{detail}: {words}" if words else f"{what} failed{detail}.",
                 code=STEP_FAILED_CODES.get(step, "build_build_failed"),
                 params={"exit_code": exit_code, "reason": reason, "error": words})


def _image_size(registry: Registry, repository: str, digest: str) -> int | None:
    """Bytes of the pushed image as the registry has it (config + layers; an index: its images'),
    read through the Registry HTTP API (REGISTRY's :func:`builds.registry_ops.image_info`)."""
    return int(registry_ops.image_info(registry, repository, digest).size)


def _record_image(run: BuildRun, digest: str) -> None:
    size: int | None = None
    try:
        size = _image_size(_registry(run), str((run.spec or {}).get("repository", "")), digest)
    except (oci.RegistryUnavailable, errors.PortalError, DecryptionError) as exc:
        logger.warning("image size unknown", extra={"run_id": run.pk, "error": str(exc)[:300]})
    run_actions.set_image(run.pk, digest=digest, size=size)


def _source(client: KubeClient, run: BuildRun, steps: dict[str, BuildStep]) -> Pass | None:
    """Follow the source Job's pod: None when the clone and build are done (the digest recorded)."""
    clone, build = steps[StepName.CLONE], steps[StepName.BUILD]
    if build.status == StepStatus.SUCCEEDED:
        current = _load(run.pk)
        if current is not None and current.image_digest and current.image_size is None:
            _record_image(current, current.image_digest)  # the registry did not answer the last time
        return None
    pod = _newest_pod(client, run, jobs.SOURCE)
    if pod is None:
        failure = _job_failure(client, run, jobs.job_name(run.pk))
        if failure is not None:
            step = StepName.CLONE if clone.status != StepStatus.SUCCEEDED else StepName.BUILD
            return _fail(run, step=step, message=f"The build Job failed: {failure[0]}: {failure[1]}".rstrip(": "),
                         code="build_job_failed", params={"reason": failure[0], "error": failure[1][:500]})
        return Pass(RunStatus.RUNNING, "no pod yet")
    if clone.status != StepStatus.SUCCEEDED:
        state, terminated = _follow_container(client, run, steps, StepName.CLONE, pod, jobs.CLONE_CONTAINER, init=True)
        if state == "failed":
            return _step_failed(run, StepName.CLONE, terminated, "The clone")
        if state != "succeeded":
            return Pass(RunStatus.RUNNING, "cloning")
        commit = jobs.parse_commit(str(terminated.get("message") or ""))
        run_actions.set_commit(run.pk, commit)
        run_actions.update_step(run.pk, StepName.CLONE, status=StepStatus.SUCCEEDED, exit_code=0,
                                message=f"Cloned {run.git_ref} at {commit[:12]}." if commit else "Cloned.",
                                code="build_clone_done", params={"ref": run.git_ref, "commit": commit})
        steps = _steps(run.pk)
    state, terminated = _follow_container(client, run, steps, StepName.BUILD, pod, jobs.BUILD_CONTAINER, init=False)
    if state == "failed":
        return _step_failed(run, StepName.BUILD, terminated, "The build")
    if state != "succeeded":
        return Pass(RunStatus.RUNNING, "building")
    digest = jobs.parse_build_result(str(terminated.get("message") or ""), str((run.spec or {}).get("builder") or ""))
    if not digest:
        return _fail(run, step=StepName.BUILD, exit_code=0, code="build_no_digest",
                     message="The build ended without reporting the pushed image's digest; nothing was recorded.")
    _record_image(run, digest)
    run_actions.update_step(run.pk, StepName.BUILD, status=StepStatus.SUCCEEDED, exit_code=0,
                            message=f"Pushed {run.image_repository}:{run.image_tag}@{digest}.", code="build_pushed",
                            params={"image": f"{run.image_repository}:{run.image_tag}", "digest": digest})
    return None


def _scan(client: KubeClient, run: BuildRun, steps: dict[str, BuildStep]) -> Pass | None:
    """Run and follow the scan Job: None when the scan is done (or there is none)."""
    step = steps.get(StepName.SCAN)
    if step is None or step.status in (StepStatus.SUCCEEDED, StepStatus.SKIPPED):
        return None
    run = _load(run.pk) or run
    digest = run.image_digest
    name = jobs.scan_job_name(run.pk)
    if name not in (run.jobs or []) or step.status == StepStatus.PENDING:
        registry = _registry(run)
        client.apply(jobs.scan_job(build_input(run, registry), digest), field_manager=FIELD_MANAGER,
                     timeout=CALL_TIMEOUT)
        run_actions.add_job(run.pk, name)
        run_actions.update_step(run.pk, StepName.SCAN, status=StepStatus.RUNNING, job=name,
                                container=jobs.SCAN_CONTAINER)
        steps = _steps(run.pk)
    pod = _newest_pod(client, run, jobs.SCAN)
    if pod is None:
        failure = _job_failure(client, run, name)
        if failure is not None:
            return _fail(run, step=StepName.SCAN, message=f"The scan Job failed: {failure[0]}: {failure[1]}",
                         code="build_job_failed", params={"reason": failure[0], "error": failure[1][:500]})
        return Pass(RunStatus.RUNNING, "scan pod not yet")
    state, terminated = _follow_container(client, run, steps, StepName.SCAN, pod, jobs.SCAN_CONTAINER, init=False)
    if state == "failed":
        return _step_failed(run, StepName.SCAN, terminated, "The scan")
    if state != "succeeded":
        return Pass(RunStatus.RUNNING, "scanning")
    pod_name = str((pod.get("metadata") or {}).get("name", ""))
    try:
        report = client.read_pod_log(pod_name, run.namespace, container=jobs.SCAN_CONTAINER,
                                     limit_bytes=scans.MAX_REPORT_BYTES + 1, timeout=CALL_TIMEOUT).decode(
                                         "utf-8", errors="replace")
        result = scans.parse_report(report)
    except kube.NotFound:
        return _fail(run, step=StepName.SCAN, code="build_scan_report_gone",
                     message="The scan pod is gone before its report was read.")
    except scans.ReportInvalid as exc:
        return _fail(run, step=StepName.SCAN, code="build_scan_report_invalid", message=str(exc),
                     params={"error": str(exc)[:500]})
    run_actions.record_scan(run.pk, registry_id=int((run.spec or {}).get("registry_id") or 0),
                            repository=str((run.spec or {}).get("repository", "")), digest=digest, result=result)
    summary = ", ".join(f"{result.counts[s]} {s.lower()}" for s in scans.SEVERITIES if result.counts.get(s))
    run_actions.update_step(run.pk, StepName.SCAN, status=StepStatus.SUCCEEDED, exit_code=0, code="build_scanned",
                            message=f"Scanned: {summary or 'no vulnerabilities found'}.",
                            params={s.lower(): result.counts.get(s, 0) for s in scans.SEVERITIES})
    return None


def _deploy(run: BuildRun, steps: dict[str, BuildStep], deployer: Deployer | None) -> Pass | None:
    """The deploy step (DEPLOY's :func:`builds.deploy_step.deploy`, handed in by the task): the first
    call upgrades the release with the image pinned by digest, later ones follow the revision
    (it converges when repeated, so a killed pass never makes a second revision). None when the
    step is done or there is none."""
    step = steps.get(StepName.DEPLOY)
    if step is None or step.status in (StepStatus.SUCCEEDED, StepStatus.SKIPPED):
        return None
    if deployer is None:
        run_actions.update_step(run.pk, StepName.DEPLOY, status=StepStatus.SKIPPED, code="build_deploy_unavailable",
                                message="The deploy step is not available in this portal yet; deploy the image by hand.")
        return None
    run_actions.update_step(run.pk, StepName.DEPLOY, status=StepStatus.RUNNING)
    run = _load(run.pk) or run
    try:
        outcome = deployer(run)
    except errors.PortalError as exc:
        return _fail(run, step=StepName.DEPLOY, message=exc.message, code=exc.code, params=exc.params)
    state = str(getattr(outcome, "state", "deployed"))
    message = str(getattr(outcome, "message", "") or "")
    code = str(getattr(outcome, "code", "") or "")
    params = dict(getattr(outcome, "params", None) or {})
    revision = getattr(outcome, "revision", None)
    if revision is not None and run.deployed_revision != revision:
        run_actions.set_deployed(run.pk, release_id=getattr(outcome, "release_id", None), revision=int(revision))
    if state == "failed":
        return _fail(run, step=StepName.DEPLOY, message=message or "The deploy failed.",
                     code=code or "build_deploy_failed", params=params)
    if state == "skipped":
        run_actions.update_step(run.pk, StepName.DEPLOY, status=StepStatus.SKIPPED, message=message, code=code,
                                params=params)
        return None
    if state == "started":  # the revision is rolling out: look again next pass
        if run_actions.update_step(run.pk, StepName.DEPLOY, message=message, code=code, params=params):
            run_actions.touch(run.pk)
        return Pass(RunStatus.RUNNING, "deploying")
    run_actions.update_step(run.pk, StepName.DEPLOY, status=StepStatus.SUCCEEDED,
                            message=message or (f"Revision {revision} of the release is deployed." if revision
                                                else "Deployed."),
                            code=code or "build_deployed", params=params or {"revision": revision})
    return None


def _timed_out(run: BuildRun) -> bool:
    limit = timeout_of(run)
    progressed: datetime = run.progressed or run.created
    return timezone.now() - progressed > timedelta(seconds=limit)


def advance(run_id: int, *, client_factory: ClientFactory = default_client, deployer: Deployer | None = None) -> Pass:
    """One look at the run (see the module docstring); the caller looks again while it is active.
    A run that ended has its Secrets and ConfigMap deleted (its finished Jobs stay for their TTL)."""
    outcome = _advance(run_id, client_factory=client_factory, deployer=deployer)
    if outcome.detail != "finished" and outcome.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
        run = _load(run_id)
        if run is not None:
            _cleanup(run, client_factory, jobs_too=False)
    return outcome


def _advance(run_id: int, *, client_factory: ClientFactory, deployer: Deployer | None) -> Pass:
    run = _load(run_id)
    if run is None:
        return Pass("gone")
    if run_actions.is_finished(run):
        return Pass(str(run.status), "finished")
    if run.status == RunStatus.CANCELLING:
        return cancel(run_id, client_factory=client_factory)
    if _timed_out(run):
        return time_out(run_id, client_factory=client_factory)
    if run.status == RunStatus.QUEUED:
        return start(run_id, client_factory=client_factory)
    try:
        with client_factory(run) as client:
            outcome = _phases(client, run)
    except errors.PortalError as exc:
        return _fail(run, step=_current_step(run.pk), message=exc.message, code=exc.code, params=exc.params)
    except DecryptionError as exc:
        return _fail(run, step=_current_step(run.pk), message=f"Stored credentials cannot be decrypted: {exc}",
                     code="credentials_undecryptable", params={"error": str(exc)[:300]})
    except kube.KubeError as exc:
        if exc.retryable or isinstance(exc, kube.Unauthorized | kube.Forbidden | kube.TLSVerificationFailed):
            return _cluster_note(run, exc)  # the credentials may be fixed: the timeout decides
        return _refused(run, exc, _current_step(run.pk) or StepName.BUILD)
    if run.message_code == "build_cluster_unreachable":
        run_actions.clear_note(run.pk, "build_cluster_unreachable")  # it answered again
    if outcome is not None:
        return outcome
    outcome = _deploy(run, _steps(run.pk), deployer)
    if outcome is not None:
        return outcome
    run = _load(run.pk) or run
    run_actions.finish(run.pk, status=RunStatus.SUCCEEDED, code="build_succeeded",
                       message=f"Built {run.image_repository}:{run.image_tag}@{run.image_digest}.",
                       params={"image": f"{run.image_repository}:{run.image_tag}", "digest": run.image_digest})
    return Pass(RunStatus.SUCCEEDED)


def _phases(client: KubeClient, run: BuildRun) -> Pass | None:
    """The cluster's part of a pass: None when the clone, build and scan are done."""
    steps = _steps(run.pk)
    for phase in (_source, _scan):
        outcome = phase(client, run, steps)
        if outcome is not None:
            return outcome
        steps = _steps(run.pk)
    return None


def _current_step(run_id: int) -> str | None:
    for step in BuildStep.objects.filter(run_id=run_id).defer("log").order_by("position"):
        if step.status in (StepStatus.PENDING, StepStatus.RUNNING):
            return str(step.name)
    return None


# ---------------------------------------------------------------------------- ends


def _delete(client: KubeClient, kind: str, name: str, namespace: str) -> bool:
    """Delete one object; True when it is gone (or was)."""
    try:
        client.delete_object(kind, name, namespace, propagation="Background", timeout=CALL_TIMEOUT)
    except kube.NotFound:
        return True
    return False


def _cleanup(run: BuildRun, client_factory: ClientFactory, *, jobs_too: bool) -> bool:
    """Delete the run's Secrets and ConfigMap (and its Jobs with their pods when ``jobs_too``;
    finished Jobs otherwise stay for their TTL, for ``kubectl logs``). True when the cluster
    answered every deletion; False when it could not be reached (the Jobs' own deadline and TTL
    still end them)."""
    if not run.namespace or run.cluster_id is None:
        return True
    names = [("Secret", jobs.git_secret_name(run.pk)), ("Secret", jobs.registry_secret_name(run.pk)),
             ("ConfigMap", jobs.config_map_name(run.pk))]
    if jobs_too:
        names = [("Job", j) for j in sorted({*(run.jobs or []), jobs.job_name(run.pk), jobs.scan_job_name(run.pk)})] \
            + names
    try:
        with client_factory(run) as client:
            for kind, name in names:
                _delete(client, kind, name, run.namespace)
                if kind == "Job":
                    _gone_or_raise(client, name, run.namespace)
    except (kube.KubeError, errors.PortalError, DecryptionError) as exc:
        logger.warning("build cleanup incomplete", extra={"run_id": run.pk, "error": str(exc)[:300]})
        return False
    return True


def _gone_or_raise(client: KubeClient, name: str, namespace: str) -> None:
    """A Job deleted in the background is gone at once unless something holds a finalizer on it."""
    try:
        job = client.get_object("Job", name, namespace, timeout=CALL_TIMEOUT)
    except kube.NotFound:
        return
    if not (job.get("metadata") or {}).get("deletionTimestamp"):
        raise kube.Conflict(f"Job {name} is still there.")


def cancel(run_id: int, *, client_factory: ClientFactory = default_client) -> Pass:
    """Delete the run's Jobs (and so their pods), Secrets and ConfigMap; then ``cancelled``. While
    the cluster cannot be reached the run stays ``cancelling`` and the task tries again, until the
    no-progress timeout ends it anyway (the Jobs' own deadline ends their pods)."""
    run = _load(run_id)
    if run is None:
        return Pass("gone")
    if run_actions.is_finished(run):
        return Pass(str(run.status))
    if run.status != RunStatus.CANCELLING:
        return Pass(str(run.status))
    who = (run.message_params or {}).get("user", "")
    if _cleanup(run, client_factory, jobs_too=True):
        run_actions.finish(run_id, status=RunStatus.CANCELLED, code="build_run_cancelled",
                           message=f"Cancelled by {who}; its Jobs and pods are deleted." if who else
                           "Cancelled; its Jobs and pods are deleted.", params={"user": who})
        return Pass(RunStatus.CANCELLED)
    if _timed_out(run):
        run_actions.finish(run_id, status=RunStatus.CANCELLED, code="build_cancelled_unconfirmed",
                           message="Cancelled; the cluster could not be reached to delete its Jobs (their own "
                                   "deadline ends them).", params={"user": who})
        return Pass(RunStatus.CANCELLED)
    return Pass(RunStatus.CANCELLING, "retry")


def time_out(run_id: int, *, client_factory: ClientFactory = default_client) -> Pass:
    """The run made no progress for its ``timeout_seconds``: failed, and its Jobs deleted."""
    run = _load(run_id)
    if run is None or run_actions.is_finished(run):
        return Pass(str(run.status) if run else "gone")
    limit = timeout_of(run)
    _cleanup(run, client_factory, jobs_too=True)
    step = _current_step(run_id)
    message = f"No progress for {limit} s; the build was stopped and its Jobs deleted."
    return _fail(run, step=step, message=message, code="build_timeout", params={"seconds": limit})

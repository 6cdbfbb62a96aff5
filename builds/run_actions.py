"""The writers of a build run while it runs: the follower's lease, step transitions, a step's log
as it arrives, the image's digest and size, the scan's findings, the end of the run, retention.

Why here: the runner (:mod:`builds.runner`) reads the cluster and the registry and records what it
learned only through these functions, each one transaction under the run's row lock, so the row
is the state of record: a worker killed between two of them leaves a run another worker continues
from (the operations converge when repeated). Every change is published after commit: the run's
detail (RUN_ROW and steps) to ``buildrun.<id>`` and its row to ``workspace.<id>``
(``buildrun.updated``); new log text to ``buildrun.<id>`` (``buildrun.log``,
``{run, step, offset, text}``: ``text`` starts at byte ``offset`` of the step's kept log).

A finished run is never changed again (each writer checks under the lock), so a late copy of a
task cannot bring a cancelled run back, and a run that failed before its push has no digest.
DEFS's :mod:`builds.actions` writes the run when it is asked for (create, cancel request).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from builds import rows
from builds.models import (
    RUN_FINISHED,
    BuildDefinition,
    BuildRun,
    BuildStep,
    ImageScan,
    RunStatus,
    StepStatus,
)
from builds.scans import ScanResult
from portal.events import publish

STEP_FINISHED = (StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED)
ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLING)
# A queued run no task has taken this long after it was made lost its ``builds.start_run``.
QUEUED_GRACE = timedelta(seconds=30)


def log_max_bytes() -> int:
    return int(getattr(settings, "PORTAL_BUILD_LOG_MAX_BYTES", 1024 * 1024))


def load(run_id: int) -> BuildRun | None:
    """The run with what its rows need (steps without logs)."""
    return (BuildRun.objects.select_related(*rows.RUN_RELATED, "definition__registry")
            .prefetch_related(rows.steps_prefetch()).filter(pk=run_id).first())


def publish_run(run_id: int) -> None:
    """The run's detail to ``buildrun.<id>`` and its row to ``workspace.<id>``, after commit."""
    run = load(run_id)
    if run is None:
        return
    publish(f"buildrun.{run.pk}", "buildrun.updated", rows.run_detail(run))
    publish(f"workspace.{run.workspace_id}", "buildrun.updated", rows.run_row(run))


def _locked(run_id: int) -> BuildRun | None:
    return BuildRun.objects.select_for_update().filter(pk=run_id).first()


def is_finished(run: BuildRun) -> bool:
    return run.status in RUN_FINISHED


# ---------------------------------------------------------------------------- the follower's lease


@transaction.atomic
def claim(run_id: int, *, seconds: float, token: str = "") -> tuple[BuildRun, str] | None:
    """Take the run's lease for ``seconds`` and return the run and the lease's token: None when the
    run is gone or finished, or when another worker holds an unexpired lease. ``token`` is the
    lease a chain of passes handed itself (:func:`hand_over`): its holder may take it again at
    once. One worker at a time advances a run; a killed worker's lease runs out and the beat's
    reconcile sends the run again."""
    run = _locked(run_id)
    if run is None or is_finished(run):
        return None
    now = timezone.now()
    held = run.lease_until is not None and run.lease_until > now
    if held and not (token and run.lease_until is not None and lease_token(run.lease_until) == token):
        return None
    run.lease_until = now + timedelta(seconds=seconds)
    run.attempts += 1
    run.save(update_fields=["lease_until", "attempts"])
    return run, lease_token(run.lease_until)


def lease_token(value: datetime) -> str:
    return value.isoformat()


@transaction.atomic
def hand_over(run_id: int, *, seconds: float) -> str:
    """Keep the lease until the next pass of this chain is due (``seconds`` from now), so the
    beat's reconcile does not start a second chain; the token lets that pass take it."""
    until = timezone.now() + timedelta(seconds=seconds)
    BuildRun.objects.filter(pk=run_id).update(lease_until=until)
    return lease_token(until)


def release(run_id: int) -> None:
    """Give the lease back (the next pass may start at once)."""
    BuildRun.objects.filter(pk=run_id).update(lease_until=None)


def lapsed(limit: int = 200) -> list[int]:
    """Active runs whose lease ran out (or that never had one: a lost ``start_run``): their worker
    died or their task was lost. Oldest first."""
    now = timezone.now()
    grace = now - QUEUED_GRACE
    return list(BuildRun.objects.filter(status__in=ACTIVE).filter(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, created__lt=grace))
        .order_by("created", "pk").values_list("pk", flat=True)[:limit])


# ---------------------------------------------------------------------------- run transitions


@transaction.atomic
def mark_running(run_id: int, *, jobs: list[str], namespace: str, cluster_id: int | None,
                 image_tag: str = "") -> bool:
    """The run's objects are applied: ``running`` from ``queued`` (a cancelling run stays so).
    False when the run finished meanwhile."""
    run = _locked(run_id)
    if run is None or is_finished(run):
        return False
    now = timezone.now()
    fields = ["jobs", "namespace", "cluster", "progressed"]
    run.jobs, run.namespace, run.cluster_id, run.progressed = jobs, namespace, cluster_id, now
    if image_tag and not run.image_tag:
        run.image_tag = image_tag
        fields.append("image_tag")
    if run.status == RunStatus.QUEUED:
        run.status, run.started = RunStatus.RUNNING, run.started or now
        run.message, run.message_code, run.message_params = "", "", {}
        fields += ["status", "started", "message", "message_code", "message_params"]
    run.save(update_fields=fields)
    publish_run(run_id)
    return True


@transaction.atomic
def add_job(run_id: int, job: str) -> None:
    run = _locked(run_id)
    if run is None or job in (run.jobs or []):
        return
    run.jobs = [*(run.jobs or []), job]
    run.save(update_fields=["jobs"])


@transaction.atomic
def touch(run_id: int) -> None:
    """A sign of progress: the no-progress timeout starts again."""
    run = _locked(run_id)
    if run is None or is_finished(run):
        return
    run.progressed = timezone.now()
    run.save(update_fields=["progressed"])
    publish_run(run_id)


@transaction.atomic
def note(run_id: int, *, message: str, code: str, params: dict[str, Any] | None = None) -> None:
    """A note on an active run without progress (the cluster cannot be read: it is retried until
    the no-progress timeout decides); published only when it changes."""
    run = _locked(run_id)
    if run is None or is_finished(run) or (run.message_code == code and run.message == message[:4000]):
        return
    run.message, run.message_code, run.message_params = message[:4000], code, dict(params or {})
    run.save(update_fields=["message", "message_code", "message_params"])
    publish_run(run_id)


@transaction.atomic
def clear_note(run_id: int, code: str) -> None:
    """Take back a note (the cluster answers again)."""
    run = _locked(run_id)
    if run is None or is_finished(run) or run.message_code != code:
        return
    run.message, run.message_code, run.message_params = "", "", {}
    run.save(update_fields=["message", "message_code", "message_params"])
    publish_run(run_id)


@transaction.atomic
def set_commit(run_id: int, commit: str, *, tag: str = "") -> None:
    """What the clone fetched (and the git-sha tag when it was not known before)."""
    run = _locked(run_id)
    if run is None or is_finished(run):
        return
    fields = []
    if commit and run.git_commit != commit:
        run.git_commit = commit[:64]
        fields.append("git_commit")
    if tag and not run.image_tag:
        run.image_tag = tag
        fields.append("image_tag")
    if fields:
        run.save(update_fields=fields)
        publish_run(run_id)


@transaction.atomic
def set_image(run_id: int, *, digest: str, size: int | None) -> None:
    """The pushed image: its digest (from the builder) and size (from the registry)."""
    run = _locked(run_id)
    if run is None or is_finished(run):
        return
    run.image_digest, run.image_size, run.progressed = digest, size, timezone.now()
    run.save(update_fields=["image_digest", "image_size", "progressed"])
    publish_run(run_id)


@transaction.atomic
def set_deployed(run_id: int, *, release_id: int | None, revision: int | None) -> None:
    run = _locked(run_id)
    if run is None or is_finished(run):
        return
    run.deployed_release_id, run.deployed_revision = release_id, revision
    run.save(update_fields=["deployed_release", "deployed_revision"])


@transaction.atomic
def finish(run_id: int, *, status: str, message: str = "", code: str = "",
           params: dict[str, Any] | None = None) -> bool:
    """End the run (``succeeded``, ``failed`` or ``cancelled``): steps still pending are skipped
    (cancelled when the run is), running ones end as the run does; the lease goes. False when it
    had already finished (the first outcome stands)."""
    if status not in RUN_FINISHED:
        raise ValueError(f"not a final status: {status!r}")
    run = _locked(run_id)
    if run is None or is_finished(run):
        return False
    now = timezone.now()
    open_steps = BuildStep.objects.filter(run_id=run_id).exclude(status__in=STEP_FINISHED)
    if status == RunStatus.CANCELLED:
        open_steps.update(status=StepStatus.CANCELLED, finished=now)
    else:
        open_steps.filter(status=StepStatus.RUNNING).update(
            status=StepStatus.FAILED if status == RunStatus.FAILED else StepStatus.SUCCEEDED, finished=now)
        open_steps.filter(status=StepStatus.PENDING).update(status=StepStatus.SKIPPED)
    run.status, run.finished, run.lease_until, run.progressed = status, now, None, now
    run.message, run.message_code, run.message_params = message[:4000], code, dict(params or {})
    run.save(update_fields=["status", "finished", "lease_until", "progressed", "message", "message_code",
                            "message_params"])
    publish_run(run_id)
    return True


# ---------------------------------------------------------------------------- steps


@transaction.atomic
def update_step(run_id: int, name: str, *, status: str | None = None, exit_code: int | None = None,
                message: str | None = None, code: str | None = None, params: dict[str, Any] | None = None,
                job: str | None = None, pod: str | None = None, container: str | None = None) -> bool:
    """Record what a step is doing; started/finished are set on the way into running and into a
    final status. A finished step and a finished run are left alone. Returns whether anything
    changed (and was published)."""
    run = _locked(run_id)
    if run is None or is_finished(run):
        return False
    step = BuildStep.objects.select_for_update().defer("log").filter(run_id=run_id, name=name).first()
    if step is None or step.status in STEP_FINISHED:
        return False
    now = timezone.now()
    changed: list[str] = []
    for field, value in (("job", job), ("pod", pod), ("container", container), ("exit_code", exit_code),
                         ("message", None if message is None else message[:4000]), ("message_code", code),
                         ("message_params", params)):
        if value is not None and getattr(step, field) != value:
            setattr(step, field, value)
            changed.append(field)
    if status is not None and status != step.status:
        step.status = status
        changed.append("status")
        if status == StepStatus.RUNNING and step.started is None:
            step.started = now
            changed.append("started")
        if status in STEP_FINISHED:
            step.started = step.started or now
            step.finished = now
            changed += ["started", "finished"]
    if not changed:
        return False
    step.save(update_fields=sorted(set(changed)))
    if "status" in changed:
        run.progressed = now
        run.save(update_fields=["progressed"])
        publish_run(run_id)
    return True


def step_log_cursor(run_id: int, name: str) -> int:
    """Bytes of the step's container log read so far."""
    return int(BuildStep.objects.filter(run_id=run_id, name=name).values_list("log_offset", flat=True).first() or 0)


def _clean(data: bytes) -> str:
    """Log bytes as text of the same byte length: NUL (which PostgreSQL text cannot hold) and bytes
    that are not UTF-8 become ``?``, so the kept log's length counts the container's bytes."""
    return data.replace(b"\x00", b"?").decode("utf-8", errors="portal-log")


def _one_question_mark_per_byte(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "?" * (exc.end - exc.start), exc.end


try:  # registered once per process
    import codecs

    codecs.lookup_error("portal-log")
except LookupError:
    codecs.register_error("portal-log", _one_question_mark_per_byte)


@transaction.atomic
def append_log(run_id: int, name: str, data: bytes, *, read_to: int) -> int:
    """Append ``data`` (the container's log from the step's cursor on) to the step's kept log and
    move the cursor to ``read_to``; keep the newest ``PORTAL_BUILD_LOG_MAX_BYTES`` (cut by a quarter
    when it overflows, so a browser refetches rarely), and publish ``buildrun.log``. A log is kept
    even after its step failed (that is when it matters); it stops with the run. Returns the bytes
    appended (0 when the cursor had moved past them: another pass stored them)."""
    run = _locked(run_id)
    if run is None or is_finished(run):
        return 0
    step = BuildStep.objects.select_for_update().filter(run_id=run_id, name=name).first()
    if step is None or read_to <= step.log_offset:
        return 0
    skip = len(data) - (read_to - step.log_offset)  # bytes of ``data`` another pass already stored
    data = data[max(0, skip):]
    # An incomplete UTF-8 character at the end waits for its rest (the cursor stays before it).
    keep_back = _incomplete_tail(data)
    if keep_back:
        data, read_to = data[:-keep_back], read_to - keep_back
    if not data:
        return 0
    text = _clean(data)
    limit = log_max_bytes()
    log = step.log + text
    encoded = log.encode()
    if len(encoded) > limit:
        target = max(0, limit * 3 // 4) if len(text.encode()) < limit * 3 // 4 else limit
        log = encoded[len(encoded) - target:].decode("utf-8", errors="ignore")
        step.log_truncated = True
    step.log, step.log_offset = log, read_to
    step.save(update_fields=["log", "log_offset", "log_truncated"])
    run.progressed = timezone.now()
    run.save(update_fields=["progressed"])
    size = len(log.encode())
    shown = text if len(text.encode()) <= size else log
    publish(f"buildrun.{run_id}", "buildrun.log", {"run": run_id, "step": name, "offset": size - len(shown.encode()),
                                                  "text": shown})
    return len(data)


def _incomplete_tail(data: bytes) -> int:
    """How many bytes at the end of ``data`` start a UTF-8 character that is not complete."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:  # a continuation byte: look further back
            continue
        if byte & 0x80 == 0:
            return 0
        need = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4 if byte & 0xF8 == 0xF0 else 1
        return back if need > back else 0
    return 0


def read_log(step: BuildStep, offset: int) -> tuple[str, int]:
    """The kept log from byte ``offset`` (clamped; cut back to a character's start) and its size."""
    encoded = step.log.encode()
    offset = min(max(0, offset), len(encoded))
    while 0 < offset < len(encoded) and encoded[offset] & 0xC0 == 0x80:
        offset -= 1
    return encoded[offset:].decode("utf-8", errors="replace"), len(encoded)


# ---------------------------------------------------------------------------- scans


@transaction.atomic
def record_scan(run_id: int, *, registry_id: int, repository: str, digest: str, result: ScanResult) -> None:
    """The findings for the image digest (one row per registry, repository and digest: a rescan
    replaces it)."""
    ImageScan.objects.update_or_create(
        registry_id=registry_id, repository=repository, digest=digest,
        defaults={"scanner": "trivy", "counts": result.counts, "findings": result.findings, "run_id": run_id,
                  "scanned": timezone.now()})


# ---------------------------------------------------------------------------- retention


def prune(definition_ids: Iterable[int] | None = None) -> int:
    """Delete each definition's finished runs beyond its ``keep_runs`` newest (with their steps and
    logs; their images stay in the registry). Returns how many were deleted."""
    definitions = BuildDefinition.objects.all()
    if definition_ids is not None:
        definitions = definitions.filter(pk__in=list(definition_ids))
    deleted = 0
    for definition_id, keep in definitions.values_list("pk", "keep_runs").iterator():
        old = list(BuildRun.objects.filter(definition_id=definition_id, status__in=RUN_FINISHED)
                   .order_by("-created", "-pk").values_list("pk", flat=True)[max(0, keep):])
        if old:
            deleted += BuildRun.objects.filter(pk__in=old, status__in=RUN_FINISHED).delete()[1].get(
                "builds.BuildRun", 0)
    return deleted

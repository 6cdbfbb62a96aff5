"""The rows builds shows for a run and its steps (RUN_ROW, docs/builds.md). Pure: built from model
instances, no queries beyond the relations the caller loaded.

One definition serves the API (the runs and definitions views), the ``buildrun.updated`` events
that :mod:`builds.run_actions` publishes, and a definition's ``last_run``, so a row pushed to the
browser is the row the API returns.

Queries: :func:`run_row` reads ``run.definition``, ``run.workspace``, ``run.deployed_release`` and
``run.steps.all()``. A list loads them with :data:`RUN_RELATED` and :func:`steps_prefetch` (the
steps without their logs, which may be a megabyte each), so a page costs a fixed number of queries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import F, Func, IntegerField, Prefetch
from rest_framework.fields import DateTimeField

from builds.models import BuildRun, BuildStep, RunStatus, StepStatus

_DATETIME = DateTimeField()

# select_related() of a run list that renders rows.
RUN_RELATED = ("definition", "workspace", "deployed_release")
# The step fields a run row needs (every one but the log).
STEP_SUMMARY_FIELDS = ("id", "run_id", "name", "position", "status", "job", "pod", "container", "log_truncated",
                       "exit_code", "message", "message_code", "message_params", "started", "finished")


def iso(value: datetime | None) -> str | None:
    """The API's datetime format (DRF's: ISO 8601, UTC as ``Z``)."""
    return _DATETIME.to_representation(value) if value is not None else None


def steps_prefetch() -> Prefetch:
    """``prefetch_related`` of runs: each run's steps without their logs, with each log's size in
    bytes (``log_bytes``, PostgreSQL's ``octet_length``, which reads no stored log)."""
    return Prefetch("steps", queryset=BuildStep.objects.only(*STEP_SUMMARY_FIELDS).annotate(
        log_bytes=Func(F("log"), function="octet_length", output_field=IntegerField())).order_by("position"))


def _steps(run: BuildRun) -> list[BuildStep]:
    return sorted(run.steps.all(), key=lambda s: s.position)


def progress(steps: list[BuildStep], run_status: str = "") -> tuple[int, int, int | None]:
    """(steps done, steps in all, position of the failed step or None): Cocktail's ``ERROR 4/6``."""
    failed = next((s.position for s in steps if s.status == StepStatus.FAILED), None)
    stopped = failed is not None or run_status in (RunStatus.FAILED, RunStatus.CANCELLED) or any(
        s.status == StepStatus.CANCELLED for s in steps)
    # A step skipped because an earlier one failed (or the run was cancelled) is not done.
    done = sum(1 for s in steps if s.status == StepStatus.SUCCEEDED or (s.status == StepStatus.SKIPPED and not stopped))
    return done, len(steps), failed


def run_row(run: BuildRun) -> dict[str, Any]:
    """A run as the list shows it (and the ``buildrun.updated`` payload of ``workspace.<id>``)."""
    done, total, failed = progress(_steps(run), str(run.status))
    release = run.deployed_release
    return {
        "id": run.pk,
        "definition": {"id": run.definition_id, "name": run.definition.name},
        "workspace": {"id": run.workspace_id, "name": run.workspace.name},
        "number": run.number, "status": str(run.status), "trigger": str(run.trigger),
        "git_ref": run.git_ref, "git_commit": run.git_commit,
        "image_repository": run.image_repository, "image_tag": run.image_tag, "image_digest": run.image_digest,
        "image_size": run.image_size,
        "steps_done": done, "steps_total": total, "failed_step": failed,
        "message": run.message, "message_code": run.message_code, "message_params": run.message_params or {},
        "requested_username": run.requested_username,
        "created": iso(run.created), "started": iso(run.started), "finished": iso(run.finished),
        "deployed_release": {"id": release.pk, "name": release.name} if release is not None else None,
        "deployed_revision": run.deployed_revision,
    }


def step_row(step: BuildStep) -> dict[str, Any]:
    """A step as the run page shows it: status, times, exit code, outcome; the log's size, not the log
    (``log_size`` is the byte length of the kept log, the offset the next ``buildrun.log`` starts at)."""
    return {
        "name": str(step.name), "position": step.position, "status": str(step.status),
        "started": iso(step.started), "finished": iso(step.finished), "exit_code": step.exit_code,
        "message": step.message, "message_code": step.message_code, "message_params": step.message_params or {},
        "log_size": log_size(step), "log_truncated": step.log_truncated,
    }


def log_size(step: BuildStep) -> int:
    """Bytes of the step's kept log: the ``log_bytes`` annotation of :func:`steps_prefetch`, or the
    loaded log's length."""
    annotated = getattr(step, "log_bytes", None)
    if annotated is not None:
        return int(annotated)
    if "log" in step.get_deferred_fields():
        return 0
    return len(step.log.encode())


def run_detail(run: BuildRun) -> dict[str, Any]:
    """RUN_ROW and its steps (``GET /runs/{id}/`` and the ``buildrun.<id>`` group's ``buildrun.updated``)."""
    return {**run_row(run), "steps": [step_row(s) for s in _steps(run)]}

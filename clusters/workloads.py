"""The state of a workload, computed from the status fields its kind really has.

Why one function: the read model's ``phase`` column, the catalog deploy's completion check and
whatever else asks "is this workload done?" must agree, and each kind's controller publishes
different fields. A ReplicaSet's status has ``replicas``, ``fullyLabeledReplicas``,
``readyReplicas``, ``availableReplicas`` and ``observedGeneration`` but no ``updatedReplicas``;
a rule written for Deployments ("updated >= desired") therefore called every ReplicaSet
``Progressing`` for ever. The rules below follow what ``kubectl rollout status`` checks per kind
(``k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go``):

* Deployment: the controller observed the latest generation; ``updatedReplicas`` reached
  ``spec.replicas``; no old replicas left (``status.replicas`` <= updated); ``availableReplicas``
  reached updated. ``Progressing=False/ProgressDeadlineExceeded`` (or ``ReplicaFailure=True``)
  is a failure. Short of available after the rollout completed (``NewReplicaSetAvailable``) is
  ``Degraded``.
* ReplicaSet: observed; ``status.replicas`` equals ``spec.replicas`` and ``availableReplicas``
  reached it (so ``readyReplicas == availableReplicas == replicas``: fully rolled out is
  ``Available``, never ``Progressing``); ``ReplicaFailure=True`` is ``Degraded`` (pods cannot be
  created; it may recover). A ReplicaSet a Deployment controls that is scaled to zero and has no
  pods left is one of the Deployment's old revisions, kept for rollback: ``Superseded`` (done).
* StatefulSet: observed; ``readyReplicas`` (``availableReplicas`` where the server has it)
  reached ``spec.replicas``; with ``RollingUpdate`` the update finished (``updatedReplicas`` >=
  replicas - partition when partitioned, else ``currentRevision == updateRevision``).
* DaemonSet: observed; ``updatedNumberScheduled`` (``RollingUpdate`` only) and
  ``numberAvailable`` reached ``desiredNumberScheduled``.
* Job (no observedGeneration): its ``Complete`` / ``Failed`` conditions; ``Suspended``.
* CronJob (no observedGeneration): nothing to wait for; ``Suspended``, ``Active`` or ``Scheduled``.

``observedGeneration`` is honoured: a status written for an older spec says nothing about the new
one, and a workload whose controller has not written any status yet is not done (an object
without ``metadata.generation``, as in hand-written fixtures, counts as observed). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

WORKLOAD_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob")

# Read-model phases.
AVAILABLE, PROGRESSING, DEGRADED = "Available", "Progressing", "Degraded"
COMPLETE, FAILED, SUSPENDED, RUNNING = "Complete", "Failed", "Suspended", "Running"
ACTIVE, SCHEDULED = "Active", "Scheduled"
SUPERSEDED = "Superseded"  # a Deployment's old ReplicaSet, scaled to zero (kept for rollback)


@dataclass(frozen=True)
class WorkloadState:
    """``phase``: the read model's column. ``done``: the controller observed the latest spec and
    reached it (a deploy may stop waiting). ``failed``: it will not get there without a change.
    ``ready`` of ``desired``: the figure a person is shown; ``message`` says what is awaited, in
    English, and ``code`` with ``params`` say it for the console to translate (``workload_*``,
    ``job_*``; a controller's own words travel as ``params.message``)."""

    phase: str
    done: bool
    failed: bool
    ready: int
    desired: int
    message: str = ""
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def progress_state(self) -> str:
        """``ready`` | ``progressing`` | ``failed`` (the catalog deploy's words)."""
        return "failed" if self.failed else "ready" if self.done else "progressing"

    def as_data(self) -> dict[str, Any]:
        """What the read model stores of it (``data.rollout``), so a deploy can decide from the
        row instead of the cluster (:meth:`from_data` reads it back)."""
        return {"done": self.done, "failed": self.failed, "ready": self.ready, "desired": self.desired,
                "message": self.message, "code": self.code, "params": dict(self.params)}

    @classmethod
    def from_data(cls, phase: str, data: Mapping[str, Any] | None) -> WorkloadState | None:
        """The state a read-model row recorded (its ``phase`` and ``data.rollout``); None for a
        row written before rows carried it (read the cluster instead)."""
        rollout = (data or {}).get("rollout")
        if not isinstance(rollout, Mapping) or not isinstance(rollout.get("done"), bool):
            return None
        return cls(phase=phase, done=bool(rollout["done"]), failed=bool(rollout.get("failed")),
                   ready=_int(rollout.get("ready")), desired=_int(rollout.get("desired")),
                   message=str(rollout.get("message") or ""), code=str(rollout.get("code") or ""),
                   params=dict(rollout.get("params") or {}))


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for c in status.get("conditions") or ():
        if isinstance(c, Mapping) and c.get("type") == kind:
            return c
    return None


def _observed(meta: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    generation = meta.get("generation")
    if generation is None:
        return True
    observed = status.get("observedGeneration")
    return observed is not None and _int(observed) >= _int(generation)


def _replicas(spec: Mapping[str, Any]) -> int:
    return _int(spec.get("replicas"), 1)


def controller_kind(meta: Mapping[str, Any]) -> str:
    """The kind of the object's controlling owner (``ownerReferences`` with ``controller: true``),
    or ""."""
    for ref in meta.get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller"):
            return str(ref.get("kind") or "")
    return ""


def workload_state(obj: Mapping[str, Any], kind: str | None = None) -> WorkloadState:
    """The state of ``obj`` (an object as the API serves it; ``kind`` if the object lacks it,
    as list items do)."""
    kind = kind or str(obj.get("kind") or "")
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    fn = _RULES.get(kind)
    if fn is None:
        return WorkloadState(phase="", done=True, failed=False, ready=1, desired=1)
    return fn(meta, spec, status)


def _waiting(phase: str, ready: int, desired: int, code: str, text: str, /, *, failed: bool = False,
             **params: Any) -> WorkloadState:
    """Not done: ``text`` in English, ``code`` and ``params`` for the console."""
    return WorkloadState(phase, False, failed, ready, desired, text, code, params)


_UNOBSERVED = ("workload_unobserved", "Waiting for the controller to observe the new spec.")


def _deployment(meta: Mapping[str, Any], spec: Mapping[str, Any], status: Mapping[str, Any]) -> WorkloadState:
    desired = _replicas(spec)
    available = _int(status.get("availableReplicas"))
    updated = _int(status.get("updatedReplicas"))
    total = _int(status.get("replicas"))
    progressing = _condition(status, "Progressing")
    failure = _condition(status, "ReplicaFailure")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        message = str(progressing.get("message") or "The rollout exceeded its progress deadline.")
        return _waiting(DEGRADED, available, desired, "workload_deadline_exceeded", message, failed=True,
                        message=message)
    if failure is not None and failure.get("status") == "True":
        message = str(failure.get("message") or "Pods cannot be created.")
        return _waiting(DEGRADED, available, desired, "workload_replica_failure", message, message=message)
    if not _observed(meta, status):
        return _waiting(PROGRESSING, available, desired, *_UNOBSERVED)
    if updated < desired:
        return _waiting(PROGRESSING, available, desired, "workload_updated_replicas",
                        f"{updated} of {desired} updated replicas", updated=updated, desired=desired)
    if total > updated:
        return _waiting(PROGRESSING, available, desired, "workload_old_replicas",
                        f"{total - updated} old replicas pending termination", count=total - updated)
    if available < updated:
        # After a completed rollout (or without the condition at all) missing replicas are a
        # fault of the running workload, not a rollout still going.
        completed = progressing is None or progressing.get("reason") == "NewReplicaSetAvailable"
        return _waiting(DEGRADED if completed else PROGRESSING, available, desired, "workload_available",
                        f"{available} of {desired} available", available=available, desired=desired)
    return WorkloadState(AVAILABLE, True, False, available, desired)


def _replicaset(meta: Mapping[str, Any], spec: Mapping[str, Any], status: Mapping[str, Any]) -> WorkloadState:
    desired = _replicas(spec)
    available = _int(status.get("availableReplicas"))
    total = _int(status.get("replicas"))
    failure = _condition(status, "ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        message = str(failure.get("message") or "Pods cannot be created.")
        return _waiting(DEGRADED, available, desired, "workload_replica_failure", message, message=message)
    if not _observed(meta, status):
        return _waiting(PROGRESSING, available, desired, *_UNOBSERVED)
    if desired == 0 and controller_kind(meta) == "Deployment":
        if total > 0:
            return _waiting(PROGRESSING, available, desired, "workload_old_replicas",
                            f"{total} old replicas pending termination", count=total)
        return WorkloadState(SUPERSEDED, True, False, 0, 0)
    if total != desired or available < desired:
        return _waiting(PROGRESSING, available, desired, "workload_available", f"{available} of {desired} available",
                        available=available, desired=desired)
    return WorkloadState(AVAILABLE, True, False, available, desired)


def _statefulset(meta: Mapping[str, Any], spec: Mapping[str, Any], status: Mapping[str, Any]) -> WorkloadState:
    desired = _replicas(spec)
    # availableReplicas (minReadySeconds honoured) since v1.22; older servers only count ready.
    ready = _int(status.get("availableReplicas") if "availableReplicas" in status else status.get("readyReplicas"))
    if not _observed(meta, status):
        return _waiting(PROGRESSING, ready, desired, *_UNOBSERVED)
    if ready < desired or _int(status.get("replicas")) > desired:
        return _waiting(PROGRESSING, ready, desired, "workload_ready", f"{ready} of {desired} ready",
                        ready=ready, desired=desired)
    strategy = spec.get("updateStrategy") or {}
    if (strategy.get("type") or "RollingUpdate") == "RollingUpdate":
        partition = _int((strategy.get("rollingUpdate") or {}).get("partition"))
        updated = _int(status.get("updatedReplicas"))
        if partition > 0:
            if updated < desired - partition:
                return _waiting(PROGRESSING, ready, desired, "workload_updated_partition",
                                f"{updated} of {desired - partition} updated (partition {partition})",
                                updated=updated, desired=desired - partition, partition=partition)
        elif status.get("updateRevision") and status.get("currentRevision") != status.get("updateRevision"):
            return _waiting(PROGRESSING, ready, desired, "workload_updated", f"{updated} of {desired} updated",
                            updated=updated, desired=desired)
    return WorkloadState(AVAILABLE, True, False, ready, desired)


def _daemonset(meta: Mapping[str, Any], spec: Mapping[str, Any], status: Mapping[str, Any]) -> WorkloadState:
    desired = _int(status.get("desiredNumberScheduled"))
    available = _int(status.get("numberAvailable"))
    if not _observed(meta, status):
        return _waiting(PROGRESSING, available, desired, *_UNOBSERVED)
    if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
        updated = _int(status.get("updatedNumberScheduled"))
        if updated < desired:
            return _waiting(PROGRESSING, available, desired, "workload_updated", f"{updated} of {desired} updated",
                            updated=updated, desired=desired)
    if available < desired:
        return _waiting(PROGRESSING, available, desired, "workload_available", f"{available} of {desired} available",
                        available=available, desired=desired)
    return WorkloadState(AVAILABLE, True, False, available, desired)


def _job(meta: Mapping[str, Any], spec: Mapping[str, Any], status: Mapping[str, Any]) -> WorkloadState:
    desired = _int(spec.get("completions"), 1) or 1
    succeeded = _int(status.get("succeeded"))
    complete, failed = _condition(status, "Complete"), _condition(status, "Failed")
    if complete is not None and complete.get("status") == "True":
        return WorkloadState(COMPLETE, True, False, succeeded, desired)
    if failed is not None and failed.get("status") == "True":
        message = str(failed.get("message") or failed.get("reason") or "The job failed.")
        return _waiting(FAILED, succeeded, desired, "job_failed", message, failed=True, message=message)
    if spec.get("suspend"):
        return _waiting(SUSPENDED, succeeded, desired, "job_suspended", "The job is suspended.")
    return _waiting(RUNNING, succeeded, desired, "job_succeeded", f"{succeeded} of {desired} succeeded",
                    succeeded=succeeded, desired=desired)


def _cronjob(meta: Mapping[str, Any], spec: Mapping[str, Any], status: Mapping[str, Any]) -> WorkloadState:
    active = len(status.get("active") or ())
    phase = SUSPENDED if spec.get("suspend") else ACTIVE if active else SCHEDULED
    return WorkloadState(phase, True, False, 1, 1)


_RULES = {
    "Deployment": _deployment,
    "ReplicaSet": _replicaset,
    "StatefulSet": _statefulset,
    "DaemonSet": _daemonset,
    "Job": _job,
    "CronJob": _cronjob,
}

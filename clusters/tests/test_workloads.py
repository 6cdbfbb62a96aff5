"""One workload state per kind, from the status fields that kind really has (issue 10 §2).

Statuses below are shaped as the real controllers publish them (v1.28): a ReplicaSet has no
``updatedReplicas``, a StatefulSet has revisions, a DaemonSet counts nodes, a Job has conditions
and no observedGeneration. The read model's phase and the catalog deploy's completion both come
from :func:`clusters.workloads.workload_state`, so each case is checked through both.
"""

from __future__ import annotations

from typing import Any

import pytest

from catalog.deploy import workload_progress
from clusters.watcher.projection import project
from clusters.workloads import WorkloadState, workload_state


def obj(kind: str, spec: dict[str, Any], status: dict[str, Any], generation: int | None = 1) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "w", "namespace": "ns"}
    if generation is not None:
        meta["generation"] = generation
    return {"kind": kind, "metadata": meta, "spec": spec, "status": status}


def check(o: dict[str, Any], phase: str, progress: str) -> None:
    assert project(o["kind"], o)["phase"] == phase
    assert workload_progress(o)["state"] == progress
    assert workload_state(o).phase == phase


def test_replicaset_without_updated_replicas_is_available() -> None:
    # Exactly what a v1.28 ReplicaSet controller writes for 3/3: no updatedReplicas at all.
    rs = obj("ReplicaSet", {"replicas": 3}, {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3,
                                             "availableReplicas": 3, "observedGeneration": 1})
    check(rs, "Available", "ready")
    assert project("ReplicaSet", rs)["data"]["updated_replicas"] is None
    # Scaling, not yet observed, cannot create pods, scaled to zero:
    check(obj("ReplicaSet", {"replicas": 3}, {"replicas": 3, "readyReplicas": 1, "availableReplicas": 1,
                                              "observedGeneration": 1}), "Progressing", "progressing")
    check(obj("ReplicaSet", {"replicas": 5}, {"replicas": 3, "availableReplicas": 3, "observedGeneration": 1},
              generation=2), "Progressing", "progressing")
    quota = [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": "exceeded quota"}]
    failing = obj("ReplicaSet", {"replicas": 3}, {"replicas": 1, "availableReplicas": 1, "observedGeneration": 1,
                                                 "conditions": quota})
    check(failing, "Degraded", "progressing")
    assert workload_progress(failing)["message"] == "exceeded quota"
    check(obj("ReplicaSet", {"replicas": 0}, {"replicas": 0, "observedGeneration": 2}, generation=2),
          "Available", "ready")


def deployment(*, replicas: int = 3, updated: int = 3, available: int = 3, total: int | None = None,
               generation: int = 1, observed: int | None = 1, reason: str = "NewReplicaSetAvailable",
               status: str = "True") -> dict[str, Any]:
    st: dict[str, Any] = {"replicas": updated if total is None else total, "updatedReplicas": updated,
                          "readyReplicas": available, "availableReplicas": available,
                          "conditions": [{"type": "Progressing", "status": status, "reason": reason, "message": reason}]}
    if observed is not None:
        st["observedGeneration"] = observed
    return obj("Deployment", {"replicas": replicas}, st, generation)


def test_deployment() -> None:
    check(deployment(), "Available", "ready")
    check(deployment(generation=2, observed=1), "Progressing", "progressing")
    check(deployment(observed=None), "Progressing", "progressing")  # no status written yet
    check(deployment(updated=1, available=1, reason="ReplicaSetUpdated"), "Progressing", "progressing")
    check(deployment(total=4, reason="ReplicaSetUpdated"), "Progressing", "progressing")  # old pods still there
    check(deployment(available=2, reason="ReplicaSetUpdated"), "Progressing", "progressing")
    check(deployment(available=2), "Degraded", "progressing")  # a pod lost after the rollout completed
    stuck = deployment(available=1, reason="ProgressDeadlineExceeded", status="False")
    check(stuck, "Degraded", "failed")
    assert workload_progress(stuck)["message"] == "ProgressDeadlineExceeded"


def test_statefulset() -> None:
    def sts(status: dict[str, Any], **spec: Any) -> dict[str, Any]:
        base = {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                "currentReplicas": 3, "updatedReplicas": 3, "currentRevision": "w-1", "updateRevision": "w-1",
                "collisionCount": 0}
        return obj("StatefulSet", {"replicas": 3, **spec}, {**base, **status})

    check(sts({}), "Available", "ready")
    check(sts({"readyReplicas": 2, "availableReplicas": 2}), "Progressing", "progressing")
    check(sts({"updateRevision": "w-2", "updatedReplicas": 1, "currentReplicas": 2}), "Progressing", "progressing")
    partitioned = {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}
    check(sts({"updateRevision": "w-2", "updatedReplicas": 1}, **partitioned), "Available", "ready")
    check(sts({"updateRevision": "w-2", "updatedReplicas": 0}, **partitioned), "Progressing", "progressing")
    check(sts({"updateRevision": "w-2", "updatedReplicas": 0}, updateStrategy={"type": "OnDelete"}),
          "Available", "ready")
    check(sts({"observedGeneration": 1}) | {"metadata": {"name": "w", "generation": 2}}, "Progressing", "progressing")


def test_daemonset() -> None:
    def ds(status: dict[str, Any], strategy: str = "RollingUpdate") -> dict[str, Any]:
        base = {"currentNumberScheduled": 4, "numberMisscheduled": 0, "desiredNumberScheduled": 4, "numberReady": 4,
                "observedGeneration": 1, "updatedNumberScheduled": 4, "numberAvailable": 4}
        return obj("DaemonSet", {"updateStrategy": {"type": strategy}}, {**base, **status})

    check(ds({}), "Available", "ready")
    check(ds({"updatedNumberScheduled": 2}), "Progressing", "progressing")
    check(ds({"updatedNumberScheduled": 2}, "OnDelete"), "Available", "ready")
    check(ds({"numberAvailable": 3}), "Progressing", "progressing")
    # Created, the controller has not counted the nodes yet: not done with 0 of 0.
    check(obj("DaemonSet", {}, {}), "Progressing", "progressing")


def test_job_and_cronjob() -> None:
    done = [{"type": "Complete", "status": "True", "reason": "CompletionsReached"}]
    failed = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "too many failures"}]
    check(obj("Job", {"completions": 2}, {"succeeded": 2, "conditions": done}, generation=None), "Complete", "ready")
    check(obj("Job", {"completions": 2}, {"succeeded": 1, "active": 1}, generation=None), "Running", "progressing")
    job = obj("Job", {}, {"failed": 7, "conditions": failed}, generation=None)
    check(job, "Failed", "failed")
    assert workload_progress(job)["message"] == "too many failures"
    check(obj("Job", {"suspend": True}, {}, generation=None), "Suspended", "progressing")
    check(obj("CronJob", {"schedule": "* * * * *"}, {}), "Scheduled", "ready")
    check(obj("CronJob", {"schedule": "* * * * *"}, {"active": [{"name": "j"}]}), "Active", "ready")
    check(obj("CronJob", {"schedule": "* * * * *", "suspend": True}, {}), "Suspended", "ready")


@pytest.mark.parametrize("kind", ["ConfigMap", "Service"])
def test_other_kinds_have_nothing_to_wait_for(kind: str) -> None:
    assert workload_progress({"kind": kind, "metadata": {"name": "x"}}) == {
        "state": "ready", "ready": 1, "desired": 1, "message": "", "message_code": "", "message_params": {}}


def test_what_is_awaited_has_a_code_and_params() -> None:
    """Each awaited state says it in English and as a code with params for the console; a
    controller's own words travel as ``params.message``; a done state says nothing."""
    def said(o: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        p = workload_progress(o)
        return p["message"], p["message_code"], p["message_params"]

    assert said(deployment(updated=1, available=1, reason="ReplicaSetUpdated")) == (
        "1 of 3 updated replicas", "workload_updated_replicas", {"updated": 1, "desired": 3})
    assert said(deployment(total=4, reason="ReplicaSetUpdated")) == (
        "1 old replicas pending termination", "workload_old_replicas", {"count": 1})
    assert said(deployment(available=2)) == ("2 of 3 available", "workload_available", {"available": 2, "desired": 3})
    assert said(deployment(generation=2, observed=1)) == (
        "Waiting for the controller to observe the new spec.", "workload_unobserved", {})
    assert said(deployment(available=1, reason="ProgressDeadlineExceeded", status="False")) == (
        "ProgressDeadlineExceeded", "workload_deadline_exceeded", {"message": "ProgressDeadlineExceeded"})
    sts = obj("StatefulSet", {"replicas": 3}, {"observedGeneration": 1, "replicas": 3, "availableReplicas": 1})
    assert said(sts) == ("1 of 3 ready", "workload_ready", {"ready": 1, "desired": 3})
    assert said(obj("Job", {"completions": 2}, {"succeeded": 1}, generation=None)) == (
        "1 of 2 succeeded", "job_succeeded", {"succeeded": 1, "desired": 2})
    assert said(deployment()) == ("", "", {})
    # The read model stores the same, and reads it back as it was.
    row = project("Deployment", deployment(updated=1, available=1, reason="ReplicaSetUpdated"))
    state = workload_state(deployment(updated=1, available=1, reason="ReplicaSetUpdated"))
    assert WorkloadState.from_data(row["phase"], row["data"]) == state
    assert WorkloadState.from_data("Available", {"replicas": 3}) is None  # a row from before rows carried it

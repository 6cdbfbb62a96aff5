"""Job and CronJob controllers.

Jobs run ``parallelism`` pods at a time until ``completions`` succeed (Indexed
Jobs: one success per index, pods ``<job>-<index>-<5 chars>`` with the
completion-index label/annotation/env and ``status.completedIndexes``), or fail
once failures exceed ``backoffLimit`` (pod failures, plus container restarts
for restartPolicy OnFailure) or ``activeDeadlineSeconds`` passes; status and
conditions (SuccessCriteriaMet/Complete, FailureTarget/Failed) match batch/v1
in 1.32, and ``ttlSecondsAfterFinished`` deletes finished Jobs.  Whether a pod
succeeds is decided by the kubelet's naming rules (the ``fail`` marker).

CronJobs create ``<cronjob>-<scheduled minutes since epoch>`` Jobs on their
schedule (one timer per CronJob, no catch-up of missed runs), honour
``suspend`` and ``concurrencyPolicy`` (Allow/Forbid/Replace), keep
``status.active``, ``lastScheduleTime``/``lastSuccessfulTime`` and trim
finished Jobs to the history limits.  :meth:`CronJobController.fire` runs one
now (used by tests and the demo).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any

from sandbox.controllers import cron
from sandbox.controllers.base import (
    SpecChanges,
    get_condition,
    iso,
    now_iso,
    object_ref,
    owner_ref,
    parse_iso,
    set_condition,
)
from sandbox.controllers.cache import PodInfo
from sandbox.controllers.podtemplate import pod_from_template
from sandbox.controllers.replicaset import pod_signature
from sandbox.errors import ApiError
from sandbox.resources import CRONJOBS, JOBS, PODS

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager

JOB_COMPONENT = "job-controller"
CRON_COMPONENT = "cronjob-controller"


def job_finished(job: dict[str, Any]) -> str:
    """"Complete", "Failed" or "" for a Job object."""
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return ""


INDEX_KEY = "batch.kubernetes.io/job-completion-index"


def _index(p: PodInfo) -> int | None:
    try:
        return int(p.labels[INDEX_KEY])
    except (KeyError, ValueError):
        return None


def _set_index(pod: dict[str, Any], job: str, idx: int) -> None:
    """What the job controller adds to an Indexed Job's pod."""
    md = pod["metadata"]
    md.setdefault("labels", {})[INDEX_KEY] = str(idx)
    md.setdefault("annotations", {})[INDEX_KEY] = str(idx)
    spec = pod["spec"]
    spec.setdefault("hostname", f"{job}-{idx}")
    for c in spec.get("containers") or ():
        env = c.setdefault("env", [])
        if not any(e.get("name") == "JOB_COMPLETION_INDEX" for e in env):
            env.append({"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
                "apiVersion": "v1", "fieldPath": f"metadata.annotations['{INDEX_KEY}']"}}})


def _ranges(idx: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2,5"`` (status.completedIndexes)."""
    out: list[str] = []
    start = prev = idx[0]
    for i in [*idx[1:], -2]:
        if i == prev + 1:
            prev = i
            continue
        out.append(f"{start}-{prev}" if prev > start else str(start))
        start = prev = i
    return ",".join(out)


class JobController:
    def __init__(self, manager: ControllerManager) -> None:
        self.m = manager
        self._changes = SpecChanges()
        self.q = manager.queue("job", self.sync)
        manager.on_kind(JOBS, self.on_job)
        manager.on_pod(self.on_pod)

    def on_job(self, etype: str, obj: dict[str, Any]) -> None:
        if self._changes.changed(etype, obj):
            self.q.add((obj["metadata"]["namespace"], obj["metadata"]["name"]))

    def on_pod(self, etype: str, old: PodInfo | None, new: PodInfo | None) -> None:
        p = new or old
        assert p is not None
        if p.owner_kind == "Job" and (new is None or old is None or pod_signature(old) != pod_signature(new)):
            self.q.add((p.ns, p.owner_name))

    def sync(self, key: tuple[str, str]) -> None:
        ns, name = key
        job = self.m.store.get(JOBS, ns, name)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        spec = job.get("spec") or {}
        status = json.loads(json.dumps(job.get("status") or {}))
        ref = object_ref(job)
        pods = self.m.pods.owned(job["metadata"]["uid"])
        active = [p for p in pods if p.active]
        finished = job_finished(job)
        if finished:
            self._ttl(job)
            if active and finished == "Failed":
                self._delete(active)
            return
        now = now_iso()
        conds: list[dict[str, Any]] = status.setdefault("conditions", [])
        if spec.get("suspend"):
            if active:
                self._delete(active)
            set_condition(conds, "Suspended", "True", "JobSuspended", "Job suspended", now=now, probe_times=True)
            status.pop("startTime", None)
            self._write(job, status, active=[], pods=pods)
            return
        if get_condition(conds, "Suspended") is not None:
            set_condition(conds, "Suspended", "False", "JobResumed", "Job resumed", now=now, probe_times=True)
        status.setdefault("startTime", now)
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1))
        indexed = spec.get("completionMode") == "Indexed"
        done_idx = {_index(p) for p in pods if p.phase == "Succeeded"} - {None}
        succeeded = max(int(status.get("succeeded") or 0),
                        len(done_idx) if indexed else sum(1 for p in pods if p.phase == "Succeeded"))
        if indexed and done_idx:
            status["completedIndexes"] = _ranges(sorted(i for i in done_idx if i is not None))
        failed_pods = sum(1 for p in pods if p.phase == "Failed")
        restarts = sum(p.restarts for p in active) if (spec.get("template") or {}).get("spec", {}).get(
            "restartPolicy") == "OnFailure" else 0
        failed = max(int(status.get("failed") or 0), failed_pods)
        backoff = int(spec.get("backoffLimit", 6))
        deadline = spec.get("activeDeadlineSeconds")
        started = parse_iso(status.get("startTime")) or time.time()
        fail_reason = ""
        if failed + restarts > backoff:
            fail_reason, fail_msg = "BackoffLimitExceeded", "Job has reached the specified backoff limit"
        elif deadline is not None and time.time() - started >= int(deadline):
            fail_reason, fail_msg = "DeadlineExceeded", "Job was active longer than specified deadline"
        status["succeeded"] = succeeded
        status["failed"] = failed
        if fail_reason:
            self._delete(active)
            set_condition(conds, "FailureTarget", "True", fail_reason, fail_msg, now=now, probe_times=True)
            set_condition(conds, "Failed", "True", fail_reason, fail_msg, now=now, probe_times=True)
            self.m.events.record(ref, "Warning", fail_reason, fail_msg, JOB_COMPONENT)
            self._write(job, status, active=[], pods=pods)
            self._ttl(job)
            return
        target = int(completions) if completions is not None else None
        if (target is not None and succeeded >= target) or (target is None and succeeded > 0 and not active):
            set_condition(conds, "SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of "
                          "succeeded pods", now=now, probe_times=True)
            set_condition(conds, "Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods",
                          now=now, probe_times=True)
            status["completionTime"] = now
            self.m.events.record(ref, "Normal", "Completed", "Job completed", JOB_COMPONENT)
            self._write(job, status, active=[], pods=pods)
            self._ttl(job)
            return
        want = parallelism if target is None else min(parallelism, target - succeeded)
        created = list(active)
        todo: list[int | None] = [None] * max(0, want - len(active))
        if indexed and target is not None:
            busy = {_index(p) for p in active} | done_idx
            free: list[int | None] = [i for i in range(target) if i not in busy]
            todo = free[:max(0, want - len(active))]
        for idx in todo:
            body = pod_from_template(job, spec.get("template") or {},
                                     generate_name=f"{name}-" if idx is None else f"{name}-{idx}-")
            if idx is not None:
                _set_index(body, name, idx)
            try:
                pod = self.m.store.create(PODS, body)
            except ApiError as exc:
                self.m.events.record(ref, "Warning", "FailedCreate", f"Error creating: {exc.message}", JOB_COMPONENT)
                self.q.add_after(key, 2.0)
                break
            self.m.events.record(ref, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}",
                                 JOB_COMPONENT)
            info = self.m.pods.pods.get((ns, pod["metadata"]["name"]))
            if info is not None:
                created.append(info)
        if deadline is not None:
            self.q.add_after(key, max(0.0, started + int(deadline) - time.time()) + 0.01)
        self._write(job, status, active=created, pods=pods)

    def _delete(self, pods: list[PodInfo]) -> None:
        for p in pods:
            with contextlib.suppress(ApiError):
                self.m.store.delete(PODS, p.ns, p.name)

    def _ttl(self, job: dict[str, Any]) -> None:
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None:
            return
        done = None
        for c in (job.get("status") or {}).get("conditions") or ():
            if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
                done = parse_iso(c.get("lastTransitionTime"))
        if done is None:
            done = time.time()
        left = done + int(ttl) - time.time()
        md = job["metadata"]
        if left > 0:
            self.q.add_after((md["namespace"], md["name"]), left + 0.01)
            return
        with contextlib.suppress(ApiError):
            self.m.store.delete(JOBS, md["namespace"], md["name"], propagation_policy="Background")

    def _write(self, job: dict[str, Any], status: dict[str, Any], *, active: list[PodInfo],
               pods: list[PodInfo]) -> None:
        n_active = len([p for p in active if p.active])
        status["active"] = n_active
        status["ready"] = sum(1 for p in active if p.ready)
        status["terminating"] = sum(1 for p in pods if p.deleting)
        status["uncountedTerminatedPods"] = {}
        for k in ("active", "succeeded", "failed"):
            if not status.get(k):
                status.pop(k, None)
        if not status.get("conditions"):
            status.pop("conditions", None)
        if status == (job.get("status") or {}):
            return
        job["status"] = status
        with contextlib.suppress(ApiError):
            self.m.store.update(JOBS, job, subresource="status")


class CronJobController:
    def __init__(self, manager: ControllerManager) -> None:
        self.m = manager
        self.q = manager.queue("cronjob", self.sync)
        self.due: dict[tuple[str, str], float] = {}
        self.jobs_by_owner: dict[str, set[str]] = {}
        manager.on_kind(CRONJOBS, self.on_cronjob)
        manager.on_kind(JOBS, self.on_job)

    def on_cronjob(self, etype: str, obj: dict[str, Any]) -> None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        if etype == "DELETED":
            self.due.pop(key, None)
            self.jobs_by_owner.pop(obj["metadata"].get("uid", ""), None)
            self.q.forget(key)
            return
        self.q.add(key)

    def on_job(self, etype: str, obj: dict[str, Any]) -> None:
        md = obj["metadata"]
        owner = next((r for r in md.get("ownerReferences") or () if r.get("kind") == "CronJob"
                      and r.get("controller")), None)
        if owner is None:
            return
        names = self.jobs_by_owner.setdefault(owner["uid"], set())
        if etype == "DELETED":
            names.discard(md["name"])
        else:
            names.add(md["name"])
        self.q.add((md["namespace"], owner["name"]))

    def sync(self, key: tuple[str, str]) -> None:
        ns, name = key
        cj = self.m.store.get(CRONJOBS, ns, name)
        if cj is None:
            return
        spec = cj.get("spec") or {}
        now = time.time()
        due = self.due.get(key)
        base = now
        if due is not None and due <= now + 0.01:
            base = max(now, due)
            if not spec.get("suspend"):
                self.fire(ns, name, when=due)
                cj = self.m.store.get(CRONJOBS, ns, name) or cj
        try:
            schedule = cron.parse(str(spec.get("schedule", "")))
        except cron.CronError as exc:
            self.m.events.record(object_ref(cj), "Warning", "UnparseableSchedule",
                                 f"unparseable schedule: {spec.get('schedule')!r} : {exc}", CRON_COMPONENT)
            self.due.pop(key, None)
            self._status(cj)
            return
        nxt = schedule.next_after(dt.datetime.fromtimestamp(base, tz=dt.UTC)).timestamp()
        self.due[key] = nxt
        self.q.add_after(key, nxt - now)
        self._status(cj)

    def fire(self, ns: str, name: str, *, when: float | None = None) -> dict[str, Any] | None:
        """Create the Job for one scheduled time (default: now); returns it, or None if skipped."""
        cj = self.m.store.get(CRONJOBS, ns, name)
        if cj is None:
            return None
        spec = cj.get("spec") or {}
        when = time.time() if when is None else when
        ref = object_ref(cj)
        active = [j for j in self._jobs(cj) if not job_finished(j)]
        policy = spec.get("concurrencyPolicy", "Allow")
        if active and policy == "Forbid":
            self.m.events.record(ref, "Normal", "JobAlreadyActive", "Not starting job because prior execution is "
                                 "running and concurrency policy is Forbid", CRON_COMPONENT)
            return None
        if active and policy == "Replace":
            for j in active:
                with contextlib.suppress(ApiError):
                    self.m.store.delete(JOBS, ns, j["metadata"]["name"], propagation_policy="Background")
                    self.m.events.record(ref, "Normal", "SuccessfulDelete", f"Deleted job {j['metadata']['name']}",
                                         CRON_COMPONENT)
        tmpl = json.loads(json.dumps(spec.get("jobTemplate") or {}))
        tmd = tmpl.get("metadata") or {}
        job_name = f"{name}-{int(when // 60)}"
        annotations = dict(tmd.get("annotations") or {})
        annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] = iso(when)
        body = {"metadata": {"name": job_name, "namespace": ns, "labels": dict(tmd.get("labels") or {}),
                             "annotations": annotations, "ownerReferences": [owner_ref(cj)]},
                "spec": tmpl.get("spec") or {}}
        try:
            job = self.m.store.create(JOBS, body)
        except ApiError as exc:
            self.m.events.record(ref, "Warning", "FailedCreate", f"Error creating job: {exc.message}", CRON_COMPONENT)
            return None
        self.m.events.record(ref, "Normal", "SuccessfulCreate", f"Created job {job_name}", CRON_COMPONENT)

        def mark(c: dict[str, Any]) -> None:
            st = c.setdefault("status", {})
            st["lastScheduleTime"] = iso(when)

        with contextlib.suppress(ApiError):
            self.m.store.mutate(CRONJOBS, ns, name, mark, subresource="status")
        return job

    def _jobs(self, cj: dict[str, Any]) -> list[dict[str, Any]]:
        ns = cj["metadata"]["namespace"]
        out = []
        for n in sorted(self.jobs_by_owner.get(cj["metadata"]["uid"], ())):
            j = self.m.store.get(JOBS, ns, n)
            if j is not None:
                out.append(j)
        return out

    def _status(self, cj: dict[str, Any]) -> None:
        md = cj["metadata"]
        ns = md["namespace"]
        spec = cj.get("spec") or {}
        jobs = self._jobs(cj)
        ref = object_ref(cj)
        old = cj.get("status") or {}
        status = dict(old)
        active = [j for j in jobs if not job_finished(j)]
        prev_active = {a.get("name") for a in old.get("active") or ()}
        for j in jobs:
            state = job_finished(j)
            if state and j["metadata"]["name"] in prev_active:
                self.m.events.record(ref, "Normal", "SawCompletedJob",
                                     f"Saw completed job: {j['metadata']['name']}, condition: {state}", CRON_COMPONENT)
                if state == "Complete":
                    status["lastSuccessfulTime"] = (j.get("status") or {}).get("completionTime") or now_iso()
        if active:
            status["active"] = [{"kind": "Job", "namespace": ns, "name": j["metadata"]["name"],
                                 "uid": j["metadata"]["uid"], "apiVersion": "batch/v1",
                                 "resourceVersion": j["metadata"]["resourceVersion"]} for j in active]
        else:
            status.pop("active", None)
        for state, limit in (("Complete", int(spec.get("successfulJobsHistoryLimit", 3))),
                             ("Failed", int(spec.get("failedJobsHistoryLimit", 1)))):
            done = sorted((j for j in jobs if job_finished(j) == state),
                          key=lambda j: j["metadata"].get("creationTimestamp", ""))
            for j in done[:max(0, len(done) - limit)]:
                with contextlib.suppress(ApiError):
                    self.m.store.delete(JOBS, ns, j["metadata"]["name"], propagation_policy="Background")
                    self.m.events.record(ref, "Normal", "SuccessfulDelete", f"Deleted job {j['metadata']['name']}",
                                         CRON_COMPONENT)
        if status == old:
            return
        cj["status"] = status
        with contextlib.suppress(ApiError):
            self.m.store.update(CRONJOBS, cj, subresource="status")

"""HorizontalPodAutoscaler (autoscaling/v2) driven by the simulated metrics.

Every ``hpa_sync_seconds`` each HPA reads its target (Deployment,
StatefulSet or ReplicaSet), averages the Resource metrics (cpu/memory,
Utilization or AverageValue targets) over the target's Ready pods from
:mod:`sandbox.controllers.metrics`, computes
``ceil(ratio * readyPods)`` with the 10% tolerance, clamps to min/max,
applies the scale-down stabilization window, and writes the target's
``spec.replicas`` (what ``/scale`` changes) with the status, conditions and
``SuccessfulRescale`` events of the real controller.  Drive it with the
``sandbox.k8s.io/cpu-load`` pod annotation.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import TYPE_CHECKING, Any

from sandbox.controllers.base import label_selector, now_iso, object_ref, set_condition
from sandbox.controllers.metrics import pod_usage
from sandbox.errors import ApiError
from sandbox.quantity import cpu_millis, to_bytes
from sandbox.resources import DEPLOYMENTS, HPAS, REPLICASETS, STATEFULSETS, ResourceType

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager

COMPONENT = "horizontal-pod-autoscaler"
TOLERANCE = 0.1
_TARGETS: dict[str, ResourceType] = {"Deployment": DEPLOYMENTS, "StatefulSet": STATEFULSETS,
                                      "ReplicaSet": REPLICASETS}


def _fmt_cpu(m: float) -> str:
    return f"{math.ceil(m)}m"


def _fmt_mem(b: float) -> str:
    return str(math.ceil(b))


class HPAController:
    def __init__(self, manager: ControllerManager) -> None:
        self.m = manager
        self.q = manager.queue("hpa", self.sync)
        self.recommendations: dict[tuple[str, str], list[tuple[float, int]]] = {}
        manager.on_kind(HPAS, self.on_hpa)

    def on_hpa(self, etype: str, obj: dict[str, Any]) -> None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        if etype == "DELETED":
            self.q.forget(key)
            self.recommendations.pop(key, None)
            return
        if etype == "ADDED":
            self.q.add(key)

    def sync(self, key: tuple[str, str]) -> None:
        ns, name = key
        hpa = self.m.store.get(HPAS, ns, name)
        if hpa is None:
            return
        self.q.add_after(key, self.m.config.hpa_sync_seconds)
        spec = hpa.get("spec") or {}
        ref = object_ref(hpa)
        tref = spec.get("scaleTargetRef") or {}
        kind = tref.get("kind", "")
        old_status = hpa.get("status") or {}
        status: dict[str, Any] = {k: v for k, v in old_status.items() if k in ("lastScaleTime",)}
        conds = [dict(c) for c in old_status.get("conditions") or ()]
        now = now_iso()
        rt = _TARGETS.get(kind)
        target = self.m.store.get(rt, ns, tref.get("name", "")) if rt else None
        if target is None:
            plural = f"{rt.plural}.{rt.group}" if rt else kind.lower()
            msg = (f'the HPA controller was unable to get the target\'s current scale: {plural} '
                   f'"{tref.get("name", "")}" not found')
            set_condition(conds, "AbleToScale", "False", "FailedGetScale", msg, now=now)
            self.m.events.record(ref, "Warning", "FailedGetScale", msg, COMPONENT)
            self._write(hpa, {**status, "currentReplicas": 0, "desiredReplicas": 0, "conditions": conds})
            return
        current = int((target.get("spec") or {}).get("replicas", 1))
        min_r = int(spec.get("minReplicas") or 1)
        max_r = int(spec.get("maxReplicas") or max(current, 1))
        sel = label_selector((target.get("spec") or {}).get("selector"))
        pods = [p for p in self.m.pods.in_namespace(ns)
                if sel is not None and sel.matches(p.labels) and p.active]
        ready = [p for p in pods if p.ready and p.phase == "Running"]
        metrics = spec.get("metrics") or [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
        desired = 0
        current_metrics: list[dict[str, Any]] = []
        reasons: list[str] = []
        failure = ""
        for metric in metrics:
            if metric.get("type") != "Resource":
                failure = f"the HPA does not support metric type {metric.get('type')} in the sandbox"
                continue
            res = metric.get("resource") or {}
            rname = res.get("name", "cpu")
            tgt = res.get("target") or {}
            if not ready:
                failure = f"failed to get {rname} utilization: did not receive metrics for targeted pods (pods " \
                          f"might be unready)"
                continue
            t = time.time()
            usage = 0.0
            request = 0.0
            missing = ""
            for p in ready:
                cpu, mem = pod_usage(p, t)
                usage += cpu if rname == "cpu" else mem
                for c in p.containers:
                    req = c.cpu_m if rname == "cpu" else c.mem
                    if not req:
                        missing = f"missing request for {rname} in container {c.name} of Pod {p.name}"
                    request += req
            avg = usage / len(ready)
            fmt = _fmt_cpu if rname == "cpu" else _fmt_mem
            if tgt.get("type", "Utilization") == "Utilization":
                if missing:
                    failure = f"failed to get {rname} utilization: {missing}"
                    continue
                util = int(usage * 100 / request) if request else 0
                want = int(tgt.get("averageUtilization", 80))
                ratio = util / want if want else 1.0
                current_metrics.append({"type": "Resource", "resource": {
                    "name": rname, "current": {"averageUtilization": util, "averageValue": fmt(avg)}}})
                what = f"{rname} resource utilization (percentage of request)"
            else:
                raw = str(tgt.get("averageValue", "0"))
                want_v = float(cpu_millis(raw)) if rname == "cpu" else float(to_bytes(raw))
                ratio = avg / want_v if want_v else 1.0
                current_metrics.append({"type": "Resource", "resource": {"name": rname,
                                                                         "current": {"averageValue": fmt(avg)}}})
                what = f"{rname} resource"
            proposal = current if abs(ratio - 1.0) <= TOLERANCE else math.ceil(ratio * len(ready))
            if proposal > desired:
                desired = proposal
                reasons = [f"{what} {'above' if proposal > current else 'below'} target"]
        if failure and not current_metrics:
            set_condition(conds, "AbleToScale", "True", "SucceededGetScale",
                          "the HPA controller was able to get the target's current scale", now=now)
            set_condition(conds, "ScalingActive", "False", "FailedGetResourceMetric", failure, now=now)
            self.m.events.record(ref, "Warning", "FailedGetResourceMetric", failure, COMPONENT)
            self._write(hpa, {**status, "currentReplicas": current, "desiredReplicas": current, "conditions": conds,
                              "observedGeneration": hpa["metadata"].get("generation", 1)})
            return
        if desired == 0:
            desired = current
        limited = ""
        if desired > max_r:
            desired, limited = max_r, "TooManyReplicas"
        elif desired < min_r:
            desired, limited = min_r, "TooFewReplicas"
        # stabilization: scale down to the highest recommendation of the window
        window = float(((spec.get("behavior") or {}).get("scaleDown") or {}).get(
            "stabilizationWindowSeconds", self.m.config.hpa_scale_down_window_seconds))
        now_t = time.time()
        # like the real controller, the current size is the first recommendation, so a new HPA does not
        # scale down before a full stabilization window has passed
        recs = self.recommendations.setdefault(key, [(now_t, current)])
        recs.append((now_t, desired))
        recs[:] = [(t, r) for t, r in recs if now_t - t <= window]
        stabilized = desired
        if desired < current:
            stabilized = min(current, max(r for _, r in recs))
        if stabilized != current:
            def scale(obj: dict[str, Any]) -> None:
                obj["spec"]["replicas"] = stabilized

            try:
                self.m.store.mutate(rt, ns, tref["name"], scale)  # type: ignore[arg-type]
            except ApiError as exc:
                set_condition(conds, "AbleToScale", "False", "FailedUpdateScale",
                              f"the HPA controller was unable to update the target scale: {exc.message}", now=now)
            else:
                reason = reasons[0] if stabilized > current else "All metrics below target"
                self.m.events.record(ref, "Normal", "SuccessfulRescale", f"New size: {stabilized}; reason: {reason}",
                                     COMPONENT)
                status["lastScaleTime"] = now
                set_condition(conds, "AbleToScale", "True", "SucceededRescale",
                              f"the HPA controller was able to update the target scale to {stabilized}", now=now)
        elif desired < current:
            set_condition(conds, "AbleToScale", "True", "ScaleDownStabilized",
                          "recent recommendations were higher than current one, applying the highest recent "
                          "recommendation", now=now)
        else:
            set_condition(conds, "AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size",
                          now=now)
        what_active = (current_metrics[0]["resource"]["name"] + " resource utilization (percentage of request)"
                       if current_metrics and "averageUtilization" in current_metrics[0]["resource"]["current"]
                       else "resource metrics")
        set_condition(conds, "ScalingActive", "True", "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from {what_active}", now=now)
        if limited == "TooManyReplicas":
            set_condition(conds, "ScalingLimited", "True", limited,
                          "the desired replica count is more than the maximum replica count", now=now)
        elif limited == "TooFewReplicas":
            set_condition(conds, "ScalingLimited", "True", limited,
                          "the desired replica count is less than the minimum replica count", now=now)
        else:
            set_condition(conds, "ScalingLimited", "False", "DesiredWithinRange",
                          "the desired count is within the acceptable range", now=now)
        status.update({"observedGeneration": hpa["metadata"].get("generation", 1), "currentReplicas": current,
                       "desiredReplicas": stabilized, "currentMetrics": current_metrics, "conditions": conds})
        self._write(hpa, status)

    def _write(self, hpa: dict[str, Any], status: dict[str, Any]) -> None:
        if status == hpa.get("status"):
            return
        hpa["status"] = status
        with contextlib.suppress(ApiError):
            self.m.store.update(HPAS, hpa, subresource="status")

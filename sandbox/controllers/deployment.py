"""Deployment controller: ReplicaSets per pod template, rolling updates, history, rollback and status.

Follows ``pkg/controller/deployment`` closely enough for ``kubectl rollout
status|history|undo|restart`` and the portal:

* the ReplicaSet for a template is ``<deployment>-<pod-template-hash>``, the
  hash being a stable FNV hash of the template (see :func:`template_hash`),
  with label ``pod-template-hash`` and annotations
  ``deployment.kubernetes.io/revision|desired-replicas|max-replicas``;
* RollingUpdate honours maxSurge/maxUnavailable (ints or percents, rounded
  like the real fenceposts), Recreate scales old ReplicaSets to zero first;
* ``rollout undo`` (kubectl copies an old ReplicaSet's template into the
  Deployment) makes that old ReplicaSet the new one again with a bumped
  revision and ``deployment.kubernetes.io/revision-history``;
* old ReplicaSets beyond ``revisionHistoryLimit`` are deleted;
* status replicas/updated/ready/available/unavailable, observedGeneration and
  the Available/Progressing conditions (NewReplicaSetCreated,
  ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded).
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

from sandbox.controllers.base import (
    SpecChanges,
    get_condition,
    int_or_percent,
    now_iso,
    object_ref,
    owner_ref,
    parse_iso,
    set_condition,
    template_hash,
)
from sandbox.errors import AlreadyExists, ApiError
from sandbox.resources import DEPLOYMENTS, REPLICASETS

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager

COMPONENT = "deployment-controller"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX = "deployment.kubernetes.io/max-replicas"
_SKIP_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY,
                               DESIRED, MAX, "deprecated.deployment.rollback.to"})


def _canonical_template(t: dict[str, Any]) -> str:
    t = json.loads(json.dumps(t or {}))
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop("pod-template-hash", None)
    md = t.get("metadata")
    if isinstance(md, dict):
        for k in [k for k, v in md.items() if v in ({}, None, "")]:
            md.pop(k)
        if not md:
            t.pop("metadata")
    return json.dumps(t, sort_keys=True)


def revision_of(rs: dict[str, Any]) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def fenceposts(d: dict[str, Any]) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) resolved against spec.replicas like ``ResolveFenceposts``."""
    spec = d.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, replicas
    ru = strategy.get("rollingUpdate") or {}
    surge = int_or_percent(ru.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = int_or_percent(ru.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


class DeploymentController:
    def __init__(self, manager: ControllerManager) -> None:
        self.m = manager
        self.q = manager.queue("deployment", self.sync)
        self.rs_by_owner: dict[str, set[str]] = {}
        self.rs_owner: dict[tuple[str, str], str] = {}
        self._changes = SpecChanges()
        manager.on_kind(DEPLOYMENTS, self.on_deployment)
        manager.on_kind(REPLICASETS, self.on_rs)

    def on_deployment(self, etype: str, obj: dict[str, Any]) -> None:
        if self._changes.changed(etype, obj):
            self.q.add((obj["metadata"]["namespace"], obj["metadata"]["name"]))

    def on_rs(self, etype: str, obj: dict[str, Any]) -> None:
        md = obj["metadata"]
        key = (md["namespace"], md["name"])
        prev = self.rs_owner.pop(key, None)
        if prev is not None:
            names = self.rs_by_owner.get(prev)
            if names is not None:
                names.discard(md["name"])
                if not names:
                    del self.rs_by_owner[prev]
        owner = next((r for r in md.get("ownerReferences") or () if r.get("controller")
                      and r.get("kind") == "Deployment"), None)
        if owner is None:
            return
        if etype != "DELETED":
            self.rs_owner[key] = owner["uid"]
            self.rs_by_owner.setdefault(owner["uid"], set()).add(md["name"])
        self.q.add((md["namespace"], owner["name"]))

    # ------------------------------------------------------------ sync

    def sync(self, key: tuple[str, str]) -> None:
        ns, name = key
        d = self.m.store.get(DEPLOYMENTS, ns, name)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        uid = d["metadata"]["uid"]
        rss = [rs for n in sorted(self.rs_by_owner.get(uid, ()))
               if (rs := self.m.store.get(REPLICASETS, ns, n)) is not None]
        spec = d.get("spec") or {}
        paused = bool(spec.get("paused"))
        want = _canonical_template(spec.get("template") or {})
        matching = [rs for rs in rss if _canonical_template((rs.get("spec") or {}).get("template") or {}) == want]
        matching.sort(key=lambda r: r["metadata"].get("creationTimestamp", ""))
        new_rs = matching[0] if matching else None
        old_rss = [rs for rs in rss if rs is not new_rs]
        progressed: str | None = None
        max_old = max((revision_of(rs) for rs in old_rss), default=0)
        if new_rs is None and not paused:
            new_rs = self._create_rs(d, old_rss, max_old + 1)
            if new_rs is None:
                return
            progressed = "NewReplicaSetCreated"
        elif new_rs is not None and revision_of(new_rs) <= max_old:
            new_rs = self._bump_revision(new_rs, max_old + 1)
            progressed = "ReplicaSetUpdated"
        if new_rs is not None:
            self._sync_annotations(d, new_rs)
            strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
            if paused:
                changed = self._scale_paused(d, new_rs, old_rss)
            elif strategy == "Recreate":
                changed = self._recreate(d, new_rs, old_rss)
            else:
                changed = self._rolling(d, new_rs, old_rss)
            if changed and progressed is None:
                progressed = "ReplicaSetUpdated"
            self._cleanup(d, new_rs, old_rss)
        self._update_status(d, new_rs, old_rss, progressed)

    def _create_rs(self, d: dict[str, Any], old_rss: list[dict[str, Any]], revision: int) -> dict[str, Any] | None:
        md = d["metadata"]
        spec = d["spec"]
        collisions = int((d.get("status") or {}).get("collisionCount") or 0)
        for _ in range(5):
            h = template_hash(spec["template"], collisions or None)
            template = json.loads(json.dumps(spec["template"]))
            template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
            selector = json.loads(json.dumps(spec.get("selector") or {}))
            selector.setdefault("matchLabels", {})["pod-template-hash"] = h
            surge, _ = fenceposts(d)
            replicas = int(spec.get("replicas", 1))
            annotations = {k: v for k, v in (md.get("annotations") or {}).items() if k not in _SKIP_ANNOTATIONS}
            annotations.update({REVISION: str(revision), DESIRED: str(replicas), MAX: str(replicas + surge)})
            strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
            has_old = any(int((rs.get("spec") or {}).get("replicas", 0)) > 0 or self.m.pods.owned(rs["metadata"]["uid"])
                          for rs in old_rss)
            if not has_old:
                start = replicas
            elif strategy == "Recreate":
                start = 0
            else:
                current = sum(int((rs.get("spec") or {}).get("replicas", 0)) for rs in old_rss)
                start = max(0, min(replicas, replicas + surge - current))
            rs: dict[str, Any] = {
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": f"{md['name']}-{h}", "namespace": md["namespace"],
                             "labels": dict(template["metadata"]["labels"]), "annotations": annotations,
                             "ownerReferences": [owner_ref(d)]},
                "spec": {"replicas": start, "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                         "selector": selector, "template": template},
            }
            try:
                created = self.m.store.create(REPLICASETS, rs)
            except AlreadyExists:
                collisions += 1
                d_status = dict(d.get("status") or {})
                d_status["collisionCount"] = collisions
                d["status"] = d_status
                with contextlib.suppress(ApiError):
                    d = self.m.store.update(DEPLOYMENTS, d, subresource="status")
                continue
            except ApiError as exc:
                self.m.events.record(object_ref(d), "Warning", "FailedCreate",
                                     f"Failed to create new replica set {rs['metadata']['name']!r}: {exc.message}",
                                     COMPONENT)
                return None
            self.on_rs("ADDED", created)
            if start:
                self._event_scaled(d, created, 0, start)
            return created
        return None

    def _bump_revision(self, rs: dict[str, Any], revision: int) -> dict[str, Any]:
        def bump(r: dict[str, Any]) -> None:
            ann = r["metadata"].setdefault("annotations", {})
            old = ann.get(REVISION)
            if old:
                hist = [h for h in ann.get(REVISION_HISTORY, "").split(",") if h]
                hist.append(old)
                ann[REVISION_HISTORY] = ",".join(hist)
            ann[REVISION] = str(revision)

        try:
            return self.m.store.mutate(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"], bump)
        except ApiError:
            return rs

    def _sync_annotations(self, d: dict[str, Any], new_rs: dict[str, Any]) -> None:
        rev = str(revision_of(new_rs))
        ann = d["metadata"].get("annotations") or {}
        if ann.get(REVISION) != rev:
            def set_rev(obj: dict[str, Any]) -> None:
                obj["metadata"].setdefault("annotations", {})[REVISION] = rev

            with contextlib.suppress(ApiError):
                upd = self.m.store.mutate(DEPLOYMENTS, d["metadata"]["namespace"], d["metadata"]["name"], set_rev)
                d["metadata"] = upd["metadata"]

    # ------------------------------------------------------------ scaling

    def _event_scaled(self, d: dict[str, Any], rs: dict[str, Any], old: int, new: int) -> None:
        word = "up" if new > old else "down"
        self.m.events.record(object_ref(d), "Normal", "ScalingReplicaSet",
                             f"Scaled {word} replica set {rs['metadata']['name']} from {old} to {new}", COMPONENT)

    def _scale(self, d: dict[str, Any], rs: dict[str, Any], replicas: int) -> bool:
        spec = d.get("spec") or {}
        surge, _ = fenceposts(d)
        want_ann = {DESIRED: str(int(spec.get("replicas", 1))), MAX: str(int(spec.get("replicas", 1)) + surge)}
        cur = int((rs.get("spec") or {}).get("replicas", 0))
        ann = rs["metadata"].get("annotations") or {}
        if cur == replicas and all(ann.get(k) == v for k, v in want_ann.items()):
            return False

        def apply(r: dict[str, Any]) -> None:
            r["spec"]["replicas"] = replicas
            r["metadata"].setdefault("annotations", {}).update(want_ann)

        try:
            upd = self.m.store.mutate(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"], apply)
        except ApiError:
            return False
        rs.clear()
        rs.update(upd)
        if cur != replicas:
            self._event_scaled(d, rs, cur, replicas)
            return True
        return False

    def _counts(self, rs: dict[str, Any], min_ready: int) -> tuple[int, int, int]:
        """(active, ready, available) pods of a ReplicaSet, from the pod cache."""
        now = time.time()
        active = [p for p in self.m.pods.owned(rs["metadata"]["uid"]) if p.active]
        return (len(active), sum(1 for p in active if p.ready),
                sum(1 for p in active if p.available(min_ready, now)))

    def _scale_paused(self, d: dict[str, Any], new_rs: dict[str, Any], old_rss: list[dict[str, Any]]) -> bool:
        active_old = [rs for rs in old_rss if int(rs["spec"].get("replicas", 0)) > 0]
        if not active_old:
            return self._scale(d, new_rs, int(d["spec"].get("replicas", 1)))
        return False

    def _recreate(self, d: dict[str, Any], new_rs: dict[str, Any], old_rss: list[dict[str, Any]]) -> bool:
        changed = False
        for rs in old_rss:
            changed = self._scale(d, rs, 0) or changed
        if any(self._counts(rs, 0)[0] for rs in old_rss):
            return changed
        return self._scale(d, new_rs, int(d["spec"].get("replicas", 1))) or changed

    def _rolling(self, d: dict[str, Any], new_rs: dict[str, Any], old_rss: list[dict[str, Any]]) -> bool:
        spec = d["spec"]
        replicas = int(spec.get("replicas", 1))
        min_ready = int(spec.get("minReadySeconds") or 0)
        surge, max_unavailable = fenceposts(d)
        changed = False
        live_old = [rs for rs in old_rss if int(rs["spec"].get("replicas", 0)) > 0]
        if not live_old:
            return self._scale(d, new_rs, replicas)
        # reconcile the new ReplicaSet (scale up within the surge budget)
        new_count = int(new_rs["spec"].get("replicas", 0))
        if new_count > replicas:
            changed = self._scale(d, new_rs, replicas) or changed
        elif new_count < replicas:
            total = new_count + sum(int(rs["spec"].get("replicas", 0)) for rs in old_rss)
            max_total = replicas + surge
            if total < max_total:
                up = min(max_total - total, replicas - new_count)
                changed = self._scale(d, new_rs, new_count + up) or changed
        # reconcile old ReplicaSets (scale down within the unavailability budget)
        all_count = int(new_rs["spec"].get("replicas", 0)) + sum(int(rs["spec"].get("replicas", 0)) for rs in old_rss)
        min_available = replicas - max_unavailable
        _, _, new_avail = self._counts(new_rs, min_ready)
        new_unavailable = int(new_rs["spec"].get("replicas", 0)) - new_avail
        max_scaled_down = all_count - min_available - new_unavailable
        if max_scaled_down <= 0:
            return changed
        live_old.sort(key=lambda r: r["metadata"].get("creationTimestamp", ""))
        # first drop old pods that are not available anyway
        for rs in live_old:
            if max_scaled_down <= 0:
                break
            cur = int(rs["spec"].get("replicas", 0))
            _, _, avail = self._counts(rs, min_ready)
            unhealthy = cur - avail
            if unhealthy <= 0:
                continue
            down = min(max_scaled_down, unhealthy)
            changed = self._scale(d, rs, cur - down) or changed
            max_scaled_down -= down
        if max_scaled_down <= 0:
            return changed
        total_available = new_avail + sum(self._counts(rs, min_ready)[2] for rs in old_rss)
        budget = min(total_available - min_available, max_scaled_down)
        for rs in live_old:
            if budget <= 0:
                break
            cur = int(rs["spec"].get("replicas", 0))
            if cur == 0:
                continue
            down = min(cur, budget)
            changed = self._scale(d, rs, cur - down) or changed
            budget -= down
        return changed

    def _cleanup(self, d: dict[str, Any], new_rs: dict[str, Any], old_rss: list[dict[str, Any]]) -> None:
        limit = int((d.get("spec") or {}).get("revisionHistoryLimit", 10))
        dead = [rs for rs in old_rss if int(rs["spec"].get("replicas", 0)) == 0
                and not self._counts(rs, 0)[0]]
        if len(dead) <= limit:
            return
        dead.sort(key=revision_of)
        for rs in dead[:len(dead) - limit]:
            with contextlib.suppress(ApiError):
                self.m.store.delete(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"])

    # ------------------------------------------------------------ status

    def _update_status(self, d: dict[str, Any], new_rs: dict[str, Any] | None, old_rss: list[dict[str, Any]],
                       progressed: str | None) -> None:
        spec = d.get("spec") or {}
        md = d["metadata"]
        replicas = int(spec.get("replicas", 1))
        min_ready = int(spec.get("minReadySeconds") or 0)
        _, max_unavailable = fenceposts(d)
        total = ready = available = updated = 0
        for rs in ([new_rs] if new_rs else []) + old_rss:
            a, r, av = self._counts(rs, min_ready)
            total += a
            ready += r
            available += av
            if rs is new_rs:
                updated = a
        old = d.get("status") or {}
        conds = [dict(c) for c in old.get("conditions") or ()]
        now = now_iso()
        if available >= replicas - max_unavailable:
            set_condition(conds, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.",
                          now=now, update_time=True)
        else:
            set_condition(conds, "Available", "False", "MinimumReplicasUnavailable",
                          "Deployment does not have minimum availability.", now=now, update_time=True)
        rs_name = new_rs["metadata"]["name"] if new_rs else ""
        complete = (new_rs is not None and updated == replicas and total == replicas and available == replicas
                    and int(new_rs["spec"].get("replicas", 0)) == replicas
                    and all(int(rs["spec"].get("replicas", 0)) == 0 for rs in old_rss))
        prog = get_condition(conds, "Progressing")
        counts = (total, updated, ready, available)
        old_counts = (old.get("replicas", 0), old.get("updatedReplicas", 0), old.get("readyReplicas", 0),
                      old.get("availableReplicas", 0))
        deadline = int(spec.get("progressDeadlineSeconds", 600))
        if spec.get("paused"):
            set_condition(conds, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now=now,
                          update_time=True)
        elif complete:
            set_condition(conds, "Progressing", "True", "NewReplicaSetAvailable",
                          f'ReplicaSet "{rs_name}" has successfully progressed.', now=now, update_time=True)
        elif progressed == "NewReplicaSetCreated":
            set_condition(conds, "Progressing", "True", "NewReplicaSetCreated", f'Created new replica set "{rs_name}"',
                          now=now, update_time=True)
        elif progressed or counts != old_counts or prog is None or prog.get("reason") in (
                "NewReplicaSetAvailable", "DeploymentPaused", "DeploymentResumed"):
            if prog is not None and prog.get("reason") == "ProgressDeadlineExceeded" and not progressed \
                    and counts == old_counts:
                pass
            else:
                set_condition(conds, "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.',
                              now=now, update_time=True)
                c = get_condition(conds, "Progressing")
                if c is not None:
                    c["lastUpdateTime"] = now
        else:
            last = parse_iso((prog or {}).get("lastUpdateTime"))
            if last is not None and time.time() - last > deadline and (prog or {}).get("status") == "True":
                set_condition(conds, "Progressing", "False", "ProgressDeadlineExceeded",
                              f'ReplicaSet "{rs_name}" has timed out progressing.', now=now, update_time=True)
        failure = get_condition(((new_rs or {}).get("status") or {}).get("conditions"), "ReplicaFailure")
        if failure is not None and failure.get("status") == "True":
            set_condition(conds, "ReplicaFailure", "True", failure.get("reason", "FailedCreate"),
                          failure.get("message", ""), now=now, update_time=True)
        else:
            conds = [c for c in conds if c.get("type") != "ReplicaFailure"]
        order = {"Available": 0, "Progressing": 1, "ReplicaFailure": 2}
        conds.sort(key=lambda c: order.get(c.get("type", ""), 9))
        status: dict[str, Any] = {"observedGeneration": md.get("generation", 1), "replicas": total,
                                  "updatedReplicas": updated, "readyReplicas": ready,
                                  "availableReplicas": available,
                                  "unavailableReplicas": max(replicas - available, 0), "conditions": conds}
        if old.get("collisionCount"):
            status["collisionCount"] = old["collisionCount"]
        for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"):
            if not status[k]:
                status.pop(k)
        if not complete and not spec.get("paused"):
            self.q.add_after((md["namespace"], md["name"]), float(min(deadline + 1, 30)))
        if min_ready:
            self.q.add_after((md["namespace"], md["name"]), 1.0)
        if status == old:
            return
        d["status"] = status
        with contextlib.suppress(ApiError):
            self.m.store.update(DEPLOYMENTS, d, subresource="status")

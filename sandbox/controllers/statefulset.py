"""StatefulSet controller: stable pod names ``<sts>-<i>``, ordered start, PVCs from claim templates.

OrderedReady (the default) creates ``<sts>-<i+1>`` only once ``<sts>-<i>`` is
Running and Ready and scales down from the highest ordinal one pod at a time;
Parallel creates and deletes all at once.  Each ``volumeClaimTemplates`` entry
becomes a PVC ``<template>-<sts>-<i>`` before the pod that mounts it
(``persistentVolumeClaimRetentionPolicy`` Delete hands them to the
StatefulSet or the scaled-down pod for garbage collection).  Rolling
updates replace pods from the highest ordinal down to ``partition`` once all
pods are Ready; revisions are ControllerRevisions ``<sts>-<hash>`` and pods
carry ``controller-revision-hash`` so ``kubectl rollout status sts`` works.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from typing import TYPE_CHECKING, Any

from sandbox.controllers.base import SpecChanges, label_selector, object_ref, owner_ref, template_hash
from sandbox.controllers.cache import PodInfo
from sandbox.controllers.history import ensure_revision
from sandbox.controllers.podtemplate import pod_from_template
from sandbox.controllers.replicaset import pod_signature
from sandbox.errors import ApiError
from sandbox.resources import PERSISTENTVOLUMECLAIMS, PODS, STATEFULSETS

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager

COMPONENT = "statefulset-controller"
REVISION_LABEL = "controller-revision-hash"
HASH_LABEL = "controller.kubernetes.io/hash"


class StatefulSetController:
    def __init__(self, manager: ControllerManager) -> None:
        self.m = manager
        self._changes = SpecChanges()
        self.q = manager.queue("statefulset", self.sync)
        manager.on_kind(STATEFULSETS, self.on_sts)
        manager.on_pod(self.on_pod)

    def on_sts(self, etype: str, obj: dict[str, Any]) -> None:
        if self._changes.changed(etype, obj):
            self.q.add((obj["metadata"]["namespace"], obj["metadata"]["name"]))

    def on_pod(self, etype: str, old: PodInfo | None, new: PodInfo | None) -> None:
        p = new or old
        assert p is not None
        if p.owner_kind == "StatefulSet" and (new is None or old is None or pod_signature(old) != pod_signature(new)):
            self.q.add((p.ns, p.owner_name))

    def _revision(self, sts: dict[str, Any]) -> str:
        """The update revision's name ``<sts>-<hash>`` (pods carry it in ``controller-revision-hash``;
        the ControllerRevision carries the bare hash in ``controller.kubernetes.io/hash``)."""
        md = sts["metadata"]
        digest = template_hash(sts["spec"].get("template") or {})
        name = f"{md['name']}-{digest}"
        current = (sts.get("status") or {}).get("currentRevision")
        ensure_revision(self.m.store, sts, name=name, hash_label=HASH_LABEL, hash_value=digest,
                        keep=frozenset({name, current} if current else {name}))
        return name

    def sync(self, key: tuple[str, str]) -> None:
        ns, name = key
        sts = self.m.store.get(STATEFULSETS, ns, name)
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return
        spec = sts.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        ordered = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        update_rev = self._revision(sts)
        pat = re.compile(rf"^{re.escape(name)}-(\d+)$")
        by_index: dict[int, PodInfo] = {}
        for owned in self.m.pods.owned(sts["metadata"]["uid"]):
            mt = pat.match(owned.name)
            if mt:
                by_index[int(mt.group(1))] = owned
        ref = object_ref(sts)
        # scale up / replace missing
        for i in range(replicas):
            cur = by_index.get(i)
            if cur is None:
                if not self._create_pod(sts, i, update_rev, ref):
                    break
                if ordered:
                    break
                continue
            if cur.phase in ("Succeeded", "Failed") and not cur.deleting:
                with contextlib.suppress(ApiError):
                    self.m.store.delete(PODS, ns, cur.name)
                if ordered:
                    break
            if ordered and not (cur.ready and cur.active):
                break
        # scale down (highest ordinal first)
        extra = sorted((i for i in by_index if i >= replicas), reverse=True)
        scaled_delete = (spec.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenScaled") == "Delete"
        for i in extra:
            p = by_index[i]
            if not p.deleting:
                if scaled_delete:
                    self._claims_owned_by_pod(sts, p)
                with contextlib.suppress(ApiError):
                    self.m.store.delete(PODS, ns, p.name)
                    self.m.events.record(ref, "Normal", "SuccessfulDelete",
                                         f"delete Pod {p.name} in StatefulSet {name} successful", COMPONENT)
            if ordered:
                break
        # rolling update
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
            current = [by_index.get(i) for i in range(replicas)]
            if all(c is not None and c.ready and c.active for c in current):
                for i in range(replicas - 1, partition - 1, -1):
                    pi = by_index[i]
                    if pi.labels.get(REVISION_LABEL) != update_rev:
                        with contextlib.suppress(ApiError):
                            self.m.store.delete(PODS, ns, pi.name)
                            self.m.events.record(ref, "Normal", "SuccessfulDelete",
                                                 f"delete Pod {pi.name} in StatefulSet {name} successful", COMPONENT)
                        break
        self._status(sts, update_rev)

    def _claims_owned_by_pod(self, sts: dict[str, Any], p: PodInfo) -> None:
        """whenScaled: Delete -- the pod owns its claims, so they go with it (garbage collection)."""
        for tpl in sts["spec"].get("volumeClaimTemplates") or ():
            claim = f"{(tpl.get('metadata') or {}).get('name', 'data')}-{p.name}"

            def own(c: dict[str, Any]) -> None:
                refs = [r for r in c["metadata"].get("ownerReferences") or () if r.get("uid") != p.uid]
                refs.append({"apiVersion": "v1", "kind": "Pod", "name": p.name, "uid": p.uid,
                             "controller": False, "blockOwnerDeletion": True})
                c["metadata"]["ownerReferences"] = refs

            with contextlib.suppress(ApiError):
                self.m.store.mutate(PERSISTENTVOLUMECLAIMS, p.ns, claim, own)

    def _create_pod(self, sts: dict[str, Any], i: int, rev: str, ref: dict[str, Any]) -> bool:
        md = sts["metadata"]
        ns, name = md["namespace"], md["name"]
        spec = sts["spec"]
        pod_name = f"{name}-{i}"
        template = json.loads(json.dumps(spec.get("template") or {}))
        pspec = template.setdefault("spec", {})
        pspec["hostname"] = pod_name
        if spec.get("serviceName"):
            pspec["subdomain"] = spec["serviceName"]
        vols = pspec.setdefault("volumes", [])
        for tpl in spec.get("volumeClaimTemplates") or ():
            tname = (tpl.get("metadata") or {}).get("name", "data")
            claim = f"{tname}-{pod_name}"
            if self.m.store.get(PERSISTENTVOLUMECLAIMS, ns, claim) is None:
                sel = (spec.get("selector") or {}).get("matchLabels") or {}
                labels = dict((tpl.get("metadata") or {}).get("labels") or {})
                labels.update(sel)
                body: dict[str, Any] = {"metadata": {"name": claim, "namespace": ns, "labels": labels},
                                        "spec": json.loads(json.dumps(tpl.get("spec") or {}))}
                if (spec.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted") == "Delete":
                    body["metadata"]["ownerReferences"] = [owner_ref(sts, controller=False)]
                try:
                    self.m.store.create(PERSISTENTVOLUMECLAIMS, body)
                except ApiError as exc:
                    self.m.events.record(ref, "Warning", "FailedCreate",
                                         f"create Claim {claim} for Pod {pod_name} in StatefulSet {name} failed "
                                         f"error: {exc.message}", COMPONENT)
                    self.q.add_after((ns, name), 2.0)
                    return False
                self.m.events.record(ref, "Normal", "SuccessfulCreate",
                                     f"create Claim {claim} Pod {pod_name} in StatefulSet {name} success", COMPONENT)
            vols[:] = [v for v in vols if v.get("name") != tname]
            vols.append({"name": tname, "persistentVolumeClaim": {"claimName": claim}})
        if not vols:
            pspec.pop("volumes")
        extra = {REVISION_LABEL: rev, "statefulset.kubernetes.io/pod-name": pod_name,
                 "apps.kubernetes.io/pod-index": str(i)}
        pod = pod_from_template(sts, template, name=pod_name, extra_labels=extra)
        try:
            self.m.store.create(PODS, pod)
        except ApiError as exc:
            self.m.events.record(ref, "Warning", "FailedCreate",
                                 f"create Pod {pod_name} in StatefulSet {name} failed error: {exc.message}", COMPONENT)
            self.q.add_after((ns, name), 2.0)
            return False
        self.m.events.record(ref, "Normal", "SuccessfulCreate",
                             f"create Pod {pod_name} in StatefulSet {name} successful", COMPONENT)
        return True

    def _status(self, sts: dict[str, Any], update_rev: str) -> None:
        md = sts["metadata"]
        spec = sts["spec"]
        replicas = int(spec.get("replicas", 1))
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = time.time()
        sel = label_selector(spec.get("selector"))
        pods = [p for p in self.m.pods.owned(md["uid"]) if p.active and (sel is None or sel.matches(p.labels))]
        old = sts.get("status") or {}
        current_rev = old.get("currentRevision") or update_rev
        updated = sum(1 for p in pods if p.labels.get(REVISION_LABEL) == update_rev)
        ready = sum(1 for p in pods if p.ready)
        if updated == replicas == len(pods) and ready == replicas:
            current_rev = update_rev
        current = sum(1 for p in pods if p.labels.get(REVISION_LABEL) == current_rev)
        status = {"observedGeneration": md.get("generation", 1), "replicas": len(pods), "readyReplicas": ready,
                  "currentReplicas": current, "updatedReplicas": updated,
                  "availableReplicas": sum(1 for p in pods if p.available(min_ready, now)),
                  "currentRevision": current_rev, "updateRevision": update_rev, "collisionCount": 0}
        for k in ("readyReplicas", "currentReplicas", "updatedReplicas"):
            if not status[k]:
                status.pop(k)
        if status == old:
            return
        sts["status"] = status
        with contextlib.suppress(ApiError):
            self.m.store.update(STATEFULSETS, sts, subresource="status")

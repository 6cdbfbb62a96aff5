"""PersistentVolume controller and a dynamic provisioner for every StorageClass.

A Pending PVC that names no class first gets the default StorageClass written
into ``spec.storageClassName`` (an ordinary update, so a ResourceQuota on that
class can refuse it: the claim then stays Pending).  A Pending PVC of a
StorageClass gets a PV ``pvc-<claim uid>`` of the requested size, provisioned by the
class's provisioner; both are bound (``Bound`` phase, ``claimRef``,
``volumeName`` and the bind annotations) with the real events.  With
``volumeBindingMode: WaitForFirstConsumer`` provisioning waits until a pod
using the claim is scheduled.  A PVC with ``storageClassName: ""`` binds to a
matching Available PV.  Deleting a PVC deletes (reclaim Delete) or releases
(Retain) its PV.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from sandbox.controllers.base import object_ref
from sandbox.controllers.cache import PodInfo
from sandbox.errors import ApiError
from sandbox.quantity import to_bytes
from sandbox.resources import PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, PODS, STORAGECLASSES

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager

COMPONENT = "persistentvolume-controller"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
BETA_CLASS = "volume.beta.kubernetes.io/storage-class"


class VolumeController:
    def __init__(self, manager: ControllerManager) -> None:
        self.m = manager
        self.q = manager.queue("pvc", self.sync)
        self.waiting: set[tuple[str, str]] = set()
        manager.on_kind(PERSISTENTVOLUMECLAIMS, self.on_pvc)
        manager.on_pod(self.on_pod)

    def on_pvc(self, etype: str, obj: dict[str, Any]) -> None:
        md = obj["metadata"]
        key = (md["namespace"], md["name"])
        if etype == "DELETED":
            self.waiting.discard(key)
            self._release(obj)
            return
        if (obj.get("status") or {}).get("phase") != "Bound":
            self.q.add(key)

    def on_pod(self, etype: str, old: PodInfo | None, new: PodInfo | None) -> None:
        if not self.waiting or new is None or not new.node or (old is not None and old.node):
            return
        pod = self.m.store.get(PODS, new.ns, new.name)
        for vol in ((pod or {}).get("spec") or {}).get("volumes") or ():
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and (new.ns, claim) in self.waiting:
                self.q.add((new.ns, claim))

    def _class(self, name: str | None) -> dict[str, Any] | None:
        if name:
            return self.m.store.get(STORAGECLASSES, None, name)
        classes, _ = self.m.store.list(STORAGECLASSES)
        for sc in classes:
            if (sc["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true":
                return sc
        return None

    def _consumer_scheduled(self, ns: str, claim: str) -> bool:
        for p in self.m.pods.in_namespace(ns):
            if not p.node:
                continue
            pod = self.m.store.get(PODS, ns, p.name)
            for vol in ((pod or {}).get("spec") or {}).get("volumes") or ():
                if (vol.get("persistentVolumeClaim") or {}).get("claimName") == claim:
                    return True
        return False

    def sync(self, key: tuple[str, str]) -> None:
        ns, name = key
        pvc = self.m.store.get(PERSISTENTVOLUMECLAIMS, ns, name)
        if pvc is None or (pvc.get("status") or {}).get("phase") == "Bound" or pvc["metadata"].get("deletionTimestamp"):
            self.waiting.discard(key)
            return
        spec = pvc.get("spec") or {}
        ref = object_ref(pvc)
        class_name = spec.get("storageClassName")
        if class_name == "":
            self._bind_static(pvc)
            return
        sc = self._class(class_name)
        if sc is not None and class_name is None and BETA_CLASS not in (pvc["metadata"].get("annotations") or {}):
            # retroactive default StorageClass assignment, a separate admitted update as in the real PV
            # controller: a ResourceQuota on the class may refuse it, and then nothing is provisioned
            default_name = sc["metadata"]["name"]

            def assign(c: dict[str, Any]) -> None:
                if c["spec"].get("storageClassName") is None:
                    c["spec"]["storageClassName"] = default_name

            try:
                self.m.store.mutate(PERSISTENTVOLUMECLAIMS, ns, name, assign)
            except ApiError:
                self.q.add_after(key, 15.0)  # the controller's periodic resync retries
            return  # the update re-queues the claim
        if sc is None:
            if class_name:
                self.m.events.record(ref, "Warning", "ProvisioningFailed",
                                     f'storageclass.storage.k8s.io "{class_name}" not found', COMPONENT)
            else:
                self.m.events.record(ref, "Normal", "FailedBinding",
                                     "no persistent volumes available for this claim and no storage class is set",
                                     COMPONENT)
            return
        if sc.get("volumeBindingMode") == "WaitForFirstConsumer" and not self._consumer_scheduled(ns, name):
            if key not in self.waiting:
                self.waiting.add(key)
                self.m.events.record(ref, "Normal", "WaitForFirstConsumer",
                                     "waiting for first consumer to be created before binding", COMPONENT)
            return
        self.waiting.discard(key)
        provisioner = sc.get("provisioner", "sandbox.k8s.io/hostpath")
        pv_name = f"pvc-{pvc['metadata']['uid']}"
        size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        self.m.events.record(ref, "Normal", "Provisioning",
                             f'External provisioner is provisioning volume for claim "{ns}/{name}"', provisioner)
        pv = {
            "metadata": {"name": pv_name, "annotations": {"pv.kubernetes.io/provisioned-by": provisioner,
                                                          "volume.kubernetes.io/provisioner-deletion-secret-name": "",
                                                          "volume.kubernetes.io/provisioner-deletion-secret-namespace": ""}},
            "spec": {"capacity": {"storage": size}, "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                     "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
                     "storageClassName": sc["metadata"]["name"], "volumeMode": spec.get("volumeMode", "Filesystem"),
                     "hostPath": {"path": f"/var/lib/sandbox/volumes/{pv_name}", "type": ""},
                     "claimRef": {"kind": "PersistentVolumeClaim", "namespace": ns, "name": name,
                                  "uid": pvc["metadata"]["uid"], "apiVersion": "v1",
                                  "resourceVersion": pvc["metadata"]["resourceVersion"]}},
        }
        try:
            if self.m.store.get(PERSISTENTVOLUMES, None, pv_name) is None:
                self.m.store.create(PERSISTENTVOLUMES, pv)
        except ApiError as exc:
            self.m.events.record(ref, "Warning", "ProvisioningFailed", exc.message, provisioner)
            return
        self.m.events.record(ref, "Normal", "ProvisioningSucceeded",
                             f"Successfully provisioned volume {pv_name}", provisioner)
        self._bind(pvc, pv_name, provisioner, sc["metadata"]["name"], size)

    def _bind(self, pvc: dict[str, Any], pv_name: str, provisioner: str, class_name: str, size: str) -> None:
        ns, name = pvc["metadata"]["namespace"], pvc["metadata"]["name"]

        def pv_bound(pv: dict[str, Any]) -> None:
            pv.setdefault("status", {})["phase"] = "Bound"

        def claim_spec(c: dict[str, Any]) -> None:
            c["spec"]["volumeName"] = pv_name
            if class_name and not c["spec"].get("storageClassName"):
                c["spec"]["storageClassName"] = class_name
            ann = c["metadata"].setdefault("annotations", {})
            ann.update({"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"})
            if provisioner:
                ann["volume.beta.kubernetes.io/storage-provisioner"] = provisioner
                ann["volume.kubernetes.io/storage-provisioner"] = provisioner

        def claim_status(c: dict[str, Any]) -> None:
            c["status"] = {"phase": "Bound", "accessModes": list(c["spec"].get("accessModes") or []),
                           "capacity": {"storage": size}}

        with contextlib.suppress(ApiError):
            self.m.store.mutate(PERSISTENTVOLUMES, None, pv_name, pv_bound, subresource="status")
            self.m.store.mutate(PERSISTENTVOLUMECLAIMS, ns, name, claim_spec)
            self.m.store.mutate(PERSISTENTVOLUMECLAIMS, ns, name, claim_status, subresource="status")

    def _bind_static(self, pvc: dict[str, Any]) -> None:
        spec = pvc.get("spec") or {}
        want = to_bytes(((spec.get("resources") or {}).get("requests") or {}).get("storage", "0"))
        modes = set(spec.get("accessModes") or [])
        pvs, _ = self.m.store.list(PERSISTENTVOLUMES)
        best: dict[str, Any] | None = None
        for pv in pvs:
            pspec = pv.get("spec") or {}
            if (pv.get("status") or {}).get("phase") != "Available" or pspec.get("claimRef"):
                continue
            if (pspec.get("storageClassName") or "") != "" or not modes <= set(pspec.get("accessModes") or []):
                continue
            size = to_bytes((pspec.get("capacity") or {}).get("storage", "0"))
            if size >= want and (best is None or size < to_bytes(best["spec"]["capacity"]["storage"])):
                best = pv
        if best is None:
            self.m.events.record(object_ref(pvc), "Normal", "FailedBinding",
                                 "no persistent volumes available for this claim and no storage class is set",
                                 COMPONENT)
            return
        md = pvc["metadata"]

        def claim(pv: dict[str, Any]) -> None:
            pv["spec"]["claimRef"] = {"kind": "PersistentVolumeClaim", "namespace": md["namespace"],
                                      "name": md["name"], "uid": md["uid"], "apiVersion": "v1"}

        with contextlib.suppress(ApiError):
            self.m.store.mutate(PERSISTENTVOLUMES, None, best["metadata"]["name"], claim)
        self._bind(pvc, best["metadata"]["name"], "", "", best["spec"]["capacity"]["storage"])

    def _release(self, pvc: dict[str, Any]) -> None:
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        if not pv_name:
            return
        pv = self.m.store.get(PERSISTENTVOLUMES, None, pv_name)
        if pv is None or ((pv.get("spec") or {}).get("claimRef") or {}).get("uid") != pvc["metadata"].get("uid"):
            return
        if (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Delete":
            with contextlib.suppress(ApiError):
                self.m.store.delete(PERSISTENTVOLUMES, None, pv_name)
            return

        def released(p: dict[str, Any]) -> None:
            p.setdefault("status", {})["phase"] = "Released"

        with contextlib.suppress(ApiError):
            self.m.store.mutate(PERSISTENTVOLUMES, None, pv_name, released, subresource="status")

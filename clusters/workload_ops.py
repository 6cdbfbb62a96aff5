"""Workload actions against the cluster: scale, restart, pause, resume, roll back and delete.

Each is an operation of the :class:`~clusters.models.ObjectAction` runner
(:mod:`clusters.object_ops`, task ``clusters.run_object_action``), registered into its
``OPERATIONS`` table by action name when this module is imported. They send what kubectl sends
(the patches come from :mod:`clusters.workload_patches`) under the field manager of the person
who asked (``portal:<username>``), through the client layer's named calls, each with its timeout
and retry policy.

Every operation converges when its row is run twice, which is how a task that was lost or
retried behaves:

* scale, pause and resume set a value (the same value again changes nothing);
* a restart's ``restartedAt`` was fixed when the row was written (``params.restarted_at``);
* a rollback names the ReplicaSet or ControllerRevision chosen when the row was written (a
  rollback renumbers the revision it restores, so the number would point elsewhere later), and
  an object already running that template is left alone (kubectl's "skipped rollback");
* a delete carries the object's uid as a precondition: an object already gone is success, and
  one re-created under the same name since is never deleted in its place (``object_replaced``).

Refusals the cluster state causes (a paused Deployment cannot be restarted or rolled back, the
chosen revision was pruned) are :mod:`portal.errors` with their codes; the runner records them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clusters import object_actions, object_ops
from clusters import workload_patches as wp
from clusters.kube import errors as kube
from clusters.kube.client import KubeClient, Resource
from clusters.kube.discovery import ApiResource
from clusters.models import ObjectAction, ObjectActionStatus
from portal import errors

REPLICASETS = Resource(api_version="apps/v1", kind="ReplicaSet", plural="replicasets", namespaced=True)
CONTROLLER_REVISIONS = Resource(api_version="apps/v1", kind="ControllerRevision", plural="controllerrevisions",
                                namespaced=True)


@dataclass
class Done:
    """What an operation did: the row's message (code, params, English) and ``result``."""

    code: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)


resource_of = object_ops.resource_of
TIMEOUT = object_ops.CALL_TIMEOUT


def _manager(action: ObjectAction) -> str:
    return object_ops.manager_of(action)


def _what(action: ObjectAction) -> dict[str, Any]:
    return {"kind": action.kind, "name": action.name, "namespace": action.namespace}


def _get(client: KubeClient, action: ObjectAction) -> dict[str, Any]:
    return client.get_object(action.kind, action.name, action.namespace, resource=resource_of(action),
                             timeout=TIMEOUT)


def _patch(client: KubeClient, action: ObjectAction, patch: Any, *, patch_type: str,
           subresource: str = "") -> dict[str, Any]:
    return client.patch_object(action.kind, action.name, action.namespace, patch, patch_type=patch_type,
                               resource=resource_of(action), field_manager=_manager(action),
                               subresource=subresource, timeout=TIMEOUT)


def _version(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _refuse_paused(obj: dict[str, Any], action: ObjectAction, what: str) -> None:
    if action.kind == "Deployment" and (obj.get("spec") or {}).get("paused"):
        raise errors.Conflict(f"Deployment {action.name} is paused: resume it before you {what} it.",
                              code="deployment_paused", params={**_what(action), "action": what})


# ---------------------------------------------------------------------------- operations


def scale(action: ObjectAction, client: KubeClient) -> Done:
    """``kubectl scale --replicas=N``, through the scale subresource."""
    replicas = int(action.params["replicas"])
    scaled = _patch(client, action, wp.scale_patch(replicas), patch_type="merge", subresource="scale")
    return Done("workload_scaled", f"{action.kind} {action.name} scaled to {replicas} replicas.",
                {**_what(action), "replicas": replicas},
                {"replicas": replicas, "resource_version": _version(scaled)})


def restart(action: ObjectAction, client: KubeClient) -> Done:
    """``kubectl rollout restart``: the pod template's ``restartedAt``, fixed in the row."""
    stamp = str(action.params["restarted_at"])
    live = _get(client, action)
    _refuse_paused(live, action, "restart")
    if wp.restarted_at(live) != stamp:
        live = _patch(client, action, wp.restart_patch(stamp), patch_type="strategic")
    return Done("workload_restarted", f"{action.kind} {action.name} is restarting (restartedAt {stamp}).",
                {**_what(action), "restarted_at": stamp},
                {"restarted_at": stamp, "resource_version": _version(live)})


def _pause(action: ObjectAction, client: KubeClient, paused: bool) -> Done:
    done = _patch(client, action, wp.pause_patch(paused), patch_type="strategic")
    if paused:
        return Done("rollout_paused", f"The rollout of {action.kind} {action.name} is paused.", _what(action),
                    {"paused": True, "resource_version": _version(done)})
    return Done("rollout_resumed", f"The rollout of {action.kind} {action.name} is resumed.", _what(action),
                {"paused": False, "resource_version": _version(done)})


def pause(action: ObjectAction, client: KubeClient) -> Done:
    """``kubectl rollout pause``."""
    return _pause(action, client, True)


def resume(action: ObjectAction, client: KubeClient) -> Done:
    """``kubectl rollout resume``."""
    return _pause(action, client, False)


def _revision_gone(action: ObjectAction, target: str) -> errors.Invalid:
    revision = action.params.get("revision")
    return errors.Invalid(f"Revision {revision} ({target}) of {action.kind} {action.name} no longer exists: the "
                          "history was pruned or the object replaced.", code="revision_not_found",
                          params={"revision": revision, "known": ""})


def rollback(action: ObjectAction, client: KubeClient) -> Done:
    """``kubectl rollout undo --to-revision``: to the ReplicaSet (Deployment) or ControllerRevision
    (StatefulSet, DaemonSet) the row names."""
    target = str(action.params["target"])
    revision = action.params.get("revision")
    live = _get(client, action)
    uid = str((live.get("metadata") or {}).get("uid") or "")
    source = REPLICASETS if action.kind == "Deployment" else CONTROLLER_REVISIONS
    try:
        found = client.get_object(source.kind, target, action.namespace, resource=source, timeout=TIMEOUT)
    except kube.NotFound as exc:
        raise _revision_gone(action, target) from exc
    owners = (found.get("metadata") or {}).get("ownerReferences") or []
    if not any(isinstance(o, dict) and o.get("uid") == uid for o in owners):
        raise _revision_gone(action, target)
    if action.kind == "Deployment":
        _refuse_paused(live, action, "roll back")
        json_patch = wp.deployment_rollback_patch(live, found)
        patched = _patch(client, action, json_patch, patch_type="json") if json_patch is not None else None
    else:
        merge_patch = wp.controller_revision_patch(live, found)
        patched = _patch(client, action, merge_patch, patch_type="strategic") if merge_patch is not None else None
    params = {**_what(action), "revision": revision, "target": target}
    if patched is None:
        return Done("rollback_skipped", f"{action.kind} {action.name} already runs revision {revision}; nothing to "
                                        "roll back.", params, {"changed": False, "resource_version": _version(live)})
    return Done("workload_rolled_back", f"{action.kind} {action.name} rolled back to revision {revision}.", params,
                {"changed": True, "resource_version": _version(patched)})


def delete(action: ObjectAction, client: KubeClient) -> Done:
    """Delete with the chosen propagation policy, only the object the person saw (its uid)."""
    propagation = str(action.params.get("propagation") or "Background")
    uid = str(action.params.get("uid") or "")
    params = {**_what(action), "propagation": propagation}
    try:
        answer = client.delete_exact(resource_of(action), action.name, action.namespace, uid=uid,
                                     propagation=propagation, timeout=TIMEOUT)
    except kube.NotFound:
        return Done("object_deleted", f"{action.kind} {action.name} is deleted.", params, {"gone": True})
    except kube.Conflict as exc:
        raise errors.Conflict(f"{action.kind} {action.name} was deleted and created again since you asked; the new "
                              "object was left alone.", code="object_replaced", params=_what(action)) from exc
    finalizers = list((answer.get("metadata") or {}).get("finalizers") or []) if answer.get("kind") != "Status" \
        else []
    if action.kind == "Namespace" and answer.get("kind") == "Namespace":
        finalizers = finalizers or ["kubernetes"]  # a namespace is Terminating until its contents are gone
    if finalizers:
        return Done("object_deleting", f"{action.kind} {action.name} is being deleted (waiting for "
                                       f"{', '.join(finalizers)}).", {**params, "finalizers": ", ".join(finalizers)},
                    {"gone": False, "finalizers": finalizers})
    return Done("object_deleted", f"{action.kind} {action.name} is deleted.", params, {"gone": True})


# ---------------------------------------------------------------------------- registration


def _recorded(fn: Callable[[ObjectAction, KubeClient], Done]) -> object_ops.Operation:
    """The operation as the runner calls it: its outcome recorded on the row (a refusal it
    raises is recorded by the runner, with its code)."""

    def operation(action: ObjectAction, client: KubeClient) -> None:
        done = fn(action, client)
        object_actions.finish(action, status=ObjectActionStatus.SUCCEEDED, message=done.message, code=done.code,
                              params=done.params, result={**(action.result or {}), **done.result})

    operation.__name__ = operation.__qualname__ = fn.__name__
    operation.__doc__ = fn.__doc__
    return operation


OPERATIONS_BY_ACTION: dict[str, Callable[[ObjectAction, KubeClient], Done]] = {
    "scale": scale, "restart": restart, "pause": pause, "resume": resume, "rollback": rollback, "delete": delete}
for _name, _fn in OPERATIONS_BY_ACTION.items():
    object_ops.register(_name)(_recorded(_fn))


# ---------------------------------------------------------------------------- live reads for the views


def kube_resource(resource: ApiResource) -> Resource:
    """The client layer's resource for a served one (no discovery request needed)."""
    return Resource(api_version=resource.group_version, kind=resource.kind, plural=resource.plural,
                    namespaced=resource.namespaced)


def _selector(obj: dict[str, Any]) -> str:
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def revisions(client: KubeClient, kind: str, live: dict[str, Any], namespace: str, *,
              timeout: float) -> list[wp.Revision]:
    """What ``kubectl rollout history`` lists for ``live`` (one list request, one attempt: a
    person is waiting): a Deployment's ReplicaSets, else the object's ControllerRevisions."""
    source = REPLICASETS if kind == "Deployment" else CONTROLLER_REVISIONS
    items = client.list_resource(source, namespace, label_selector=_selector(live), timeout=timeout, attempts=1)
    if kind == "Deployment":
        return wp.deployment_revisions(live, items)
    return wp.controller_revisions(live, items)

"""Workload actions as data: which kinds take which action, the patches kubectl would send, which
earlier revision a rollback means, and what an object owns. Pure: no database, no cluster.

Operators compare what the portal does with ``kubectl``, so each builder mirrors a kubectl
command and says which: ``kubectl scale`` (a merge patch of the ``scale`` subresource),
``kubectl rollout restart`` (the ``kubectl.kubernetes.io/restartedAt`` annotation on the pod
template, strategic merge), ``rollout pause|resume`` (``spec.paused``), ``rollout undo
--to-revision`` (a Deployment gets the old ReplicaSet's template without its
``pod-template-hash`` label and its annotations, as one JSON patch; a StatefulSet or DaemonSet
gets the ControllerRevision's ``data`` as a strategic merge patch). Keeping these pure lets the
view validate a request (400 before any intent row exists) and the task build the same patch,
and lets tests check them without a cluster.

Idempotency lives here too: a restart's timestamp is fixed when the intent is created (so a
second run of the task sends the same annotation, which changes nothing), and a rollback names
the ReplicaSet or ControllerRevision it chose (a rollback renumbers the revision it restores, so
the number alone would point elsewhere on a second run).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from portal import errors

APPS = "apps"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"
RELEASE_LABEL = "portal.cluster-portal.io/release"  # catalog.manifests.RELEASE_LABEL (clusters never imports catalog)
PROPAGATIONS = ("Foreground", "Background", "Orphan")
DEFAULT_MAX_REPLICAS = 1000
# kubectl rollout undo keeps these annotations of the Deployment and copies the others from the ReplicaSet
# (kubectl/pkg/polymorphichelpers/rollback.go, annotationsToSkip).
ROLLBACK_SKIPPED_ANNOTATIONS = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration", REVISION, "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
})

# (API group, plural) -> kind, per action. Only the apps/v1 workloads have these semantics.
SCALABLE = {(APPS, "deployments"): "Deployment", (APPS, "statefulsets"): "StatefulSet",
            (APPS, "replicasets"): "ReplicaSet"}
RESTARTABLE = {(APPS, "deployments"): "Deployment", (APPS, "statefulsets"): "StatefulSet",
               (APPS, "daemonsets"): "DaemonSet"}
PAUSABLE = {(APPS, "deployments"): "Deployment"}
ROLLBACKABLE = RESTARTABLE


# ---------------------------------------------------------------------------- which kinds take which action


def _kind_label(group: str, plural: str) -> str:
    return f"{plural}.{group}" if group else plural


def require_kind(action: str, group: str, plural: str) -> str:
    """The kind ``action`` applies to, or 400 with the kinds it does apply to (``not_scalable``
    for scale, ``action_not_supported`` for the rest)."""
    table = {"scale": SCALABLE, "restart": RESTARTABLE, "pause": PAUSABLE, "resume": PAUSABLE,
             "rollback": ROLLBACKABLE}[action]
    kind = table.get((group, plural))
    if kind is not None:
        return kind
    kinds = ", ".join(sorted(table.values()))
    what = _kind_label(group, plural)
    if action == "scale":
        raise errors.Invalid(f"{what} has no scale subresource the portal can use; only {kinds} can be scaled.",
                             code="not_scalable", params={"resource": what, "kinds": kinds})
    raise errors.Invalid(f"{action} does not apply to {what}; it applies to {kinds}.",
                         code="action_not_supported", params={"action": action, "resource": what, "kinds": kinds})


# ---------------------------------------------------------------------------- input


def check_replicas(value: Any, *, maximum: int) -> int:
    """A replica count from 0 to ``maximum`` (``PORTAL_MAX_REPLICAS``), else 400 ``replicas_invalid``."""
    number = value if isinstance(value, int) and not isinstance(value, bool) else None  # JSON numbers only
    if number is None or number < 0 or number > maximum:
        message = f"replicas must be a whole number from 0 to {maximum}."
        raise errors.Invalid(message, code="replicas_invalid", params={"maximum": maximum},
                             errors={"replicas": [message]})
    return number


def check_confirm(confirm: Any, name: str) -> None:
    """Type-to-confirm: ``confirm`` must be the object's name exactly (400 ``confirm_mismatch``)."""
    if confirm != name:
        message = f"Type the name of the object ({name}) to confirm the deletion."
        raise errors.Invalid(message, code="confirm_mismatch", params={"name": name},
                             errors={"confirm": [message]})


def check_propagation(value: Any) -> str:
    """Foreground, Background (the default, as kubectl) or Orphan (400 ``propagation_invalid``)."""
    if value in (None, ""):
        return "Background"
    if value not in PROPAGATIONS:
        message = "propagation must be Foreground, Background or Orphan."
        raise errors.Invalid(message, code="propagation_invalid", errors={"propagation": [message]})
    return str(value)


def restart_timestamp(now: datetime) -> str:
    """kubectl's value: RFC 3339 to the second (in UTC here, so every worker writes the same)."""
    return now.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def release_of(labels: Mapping[str, Any] | None) -> int | None:
    """The catalog release that put the object there (its label), or None."""
    value = (labels or {}).get(RELEASE_LABEL)
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


def controller_of(metadata: Mapping[str, Any]) -> dict[str, str] | None:
    """The controlling owner (``{kind, name}``) of an object, which may undo a change made to it
    directly (a Deployment scales its ReplicaSet back), or None."""
    for ref in metadata.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return {"kind": str(ref.get("kind", "")), "name": str(ref.get("name", ""))}
    return None


# ---------------------------------------------------------------------------- patches


def scale_patch(replicas: int) -> dict[str, Any]:
    """``kubectl scale``: a merge patch of the scale subresource."""
    return {"spec": {"replicas": replicas}}


def restart_patch(restarted_at: str) -> dict[str, Any]:
    """``kubectl rollout restart``: a strategic merge patch of the pod template's annotations."""
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: restarted_at}}}}}


def pause_patch(paused: bool) -> dict[str, Any]:
    """``kubectl rollout pause`` / ``resume``."""
    return {"spec": {"paused": paused}}


def restarted_at(obj: Mapping[str, Any]) -> str:
    template = (obj.get("spec") or {}).get("template") or {}
    return str(((template.get("metadata") or {}).get("annotations") or {}).get(RESTARTED_AT) or "")


def _template_without_hash(template: Any) -> dict[str, Any]:
    t = copy.deepcopy(template) if isinstance(template, dict) else {}
    t.pop("$patch", None)
    meta = t.get("metadata")
    if isinstance(meta, dict):
        labels = meta.get("labels")
        if isinstance(labels, dict):
            labels.pop(POD_TEMPLATE_HASH, None)
            labels.pop("controller-revision-hash", None)
            if not labels:
                meta.pop("labels")
        for key in ("annotations", "creationTimestamp"):
            if not meta.get(key):
                meta.pop(key, None)
        if not meta:
            t.pop("metadata")
    return t


def same_template(a: Any, b: Any) -> bool:
    """kubectl's ``equalIgnoreHash``: equal pod templates once the hash labels are dropped."""
    return _canonical(_template_without_hash(a)) == _canonical(_template_without_hash(b))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def deployment_rollback_patch(deployment: Mapping[str, Any], replicaset: Mapping[str, Any]
                              ) -> list[dict[str, Any]] | None:
    """``kubectl rollout undo deployment --to-revision``: the JSON patch replacing the template
    (the ReplicaSet's, without ``pod-template-hash``) and the annotations (the Deployment's
    rollout annotations kept, the ReplicaSet's others copied); None when the Deployment already
    runs that template (kubectl: "skipped rollback")."""
    current = (deployment.get("spec") or {}).get("template") or {}
    target = copy.deepcopy((replicaset.get("spec") or {}).get("template") or {})
    if same_template(current, target):
        return None
    labels = (target.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    own = dict((deployment.get("metadata") or {}).get("annotations") or {})
    annotations = {k: v for k, v in own.items() if k in ROLLBACK_SKIPPED_ANNOTATIONS}
    for k, v in ((replicaset.get("metadata") or {}).get("annotations") or {}).items():
        if k not in ROLLBACK_SKIPPED_ANNOTATIONS:
            annotations[k] = v
    # "add" sets the whole map as kubectl's "replace" does, and also where the Deployment has no
    # annotations yet (a "replace" of a missing member is refused by the JSON patch rules)
    return [{"op": "replace", "path": "/spec/template", "value": target},
            {"op": "add", "path": "/metadata/annotations", "value": annotations}]


def controller_revision_patch(obj: Mapping[str, Any], revision: Mapping[str, Any]) -> dict[str, Any] | None:
    """``kubectl rollout undo statefulset|daemonset --to-revision``: the ControllerRevision's
    ``data`` is the strategic merge patch to send (``{"spec": {"template": {..., "$patch":
    "replace"}}}``); None when the object already runs that template."""
    data = revision.get("data")
    if not isinstance(data, dict) or not isinstance((data.get("spec") or {}).get("template"), dict):
        raise errors.Invalid(f"ControllerRevision {(revision.get('metadata') or {}).get('name', '')} holds no pod "
                             "template to roll back to.", code="revision_not_found",
                             params={"revision": revision.get("revision")})
    if same_template((obj.get("spec") or {}).get("template"), data["spec"]["template"]):
        return None
    return copy.deepcopy(data)


# ---------------------------------------------------------------------------- revisions


@dataclass(frozen=True)
class Revision:
    """One entry of ``kubectl rollout history``: ``source`` is the ReplicaSet or ControllerRevision."""

    revision: int
    name: str
    created: str | None
    images: list[str]
    current: bool
    source: dict[str, Any] = field(repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"revision": self.revision, "name": self.name, "created": self.created, "images": self.images,
                "current": self.current}


def _owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    return any(isinstance(ref, dict) and ref.get("uid") == uid and ref.get("controller")
               for ref in (obj.get("metadata") or {}).get("ownerReferences") or [])


def _images(template: Any) -> list[str]:
    spec = (template or {}).get("spec") or {} if isinstance(template, dict) else {}
    return [str(c.get("image", "")) for c in spec.get("containers") or [] if isinstance(c, dict)]


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def deployment_revisions(deployment: Mapping[str, Any], replicasets: Iterable[Mapping[str, Any]]) -> list[Revision]:
    """The Deployment's ReplicaSets by their revision annotation, newest first; ``current`` is
    the one whose template the Deployment runs."""
    uid = str((deployment.get("metadata") or {}).get("uid") or "")
    template = (deployment.get("spec") or {}).get("template") or {}
    out = []
    for rs in replicasets:
        meta = rs.get("metadata") or {}
        number = _int((meta.get("annotations") or {}).get(REVISION))
        if number is None or not _owned_by(rs, uid):
            continue
        rs_template = (rs.get("spec") or {}).get("template") or {}
        out.append(Revision(number, str(meta.get("name", "")), meta.get("creationTimestamp"), _images(rs_template),
                            same_template(template, rs_template), dict(rs)))
    return sorted(out, key=lambda r: -r.revision)


def controller_revisions(obj: Mapping[str, Any], revisions: Iterable[Mapping[str, Any]]) -> list[Revision]:
    """A StatefulSet's or DaemonSet's ControllerRevisions, newest first; ``current`` is the one
    the status names (``updateRevision``) or, without one, the one holding the object's template."""
    uid = str((obj.get("metadata") or {}).get("uid") or "")
    status_name = str((obj.get("status") or {}).get("updateRevision") or "")
    template = (obj.get("spec") or {}).get("template") or {}
    out = []
    for cr in revisions:
        meta = cr.get("metadata") or {}
        number = _int(cr.get("revision"))
        if number is None or not _owned_by(cr, uid):
            continue
        cr_template = ((cr.get("data") or {}).get("spec") or {}).get("template") if isinstance(cr.get("data"),
                                                                                                 dict) else None
        name = str(meta.get("name", ""))
        current = name == status_name if status_name else same_template(template, cr_template)
        out.append(Revision(number, name, meta.get("creationTimestamp"), _images(cr_template), current, dict(cr)))
    return sorted(out, key=lambda r: -r.revision)


def choose_revision(revisions: list[Revision], number: int) -> Revision:
    """``--to-revision=number``; 0 means the one before the current (``kubectl rollout undo``).
    400 ``revision_not_found`` when there is no such revision."""
    if number == 0:
        current = next((r for r in revisions if r.current), revisions[0] if revisions else None)
        earlier = [r for r in revisions if current is not None and r.revision < current.revision]
        if earlier:
            return earlier[0]
        raise errors.Invalid("There is no earlier revision to roll back to.", code="revision_not_found",
                             params={"revision": 0}, errors={"revision": ["There is no earlier revision."]})
    for r in revisions:
        if r.revision == number:
            return r
    known = ", ".join(str(r.revision) for r in revisions) or "none"
    message = f"Revision {number} does not exist (revisions kept: {known})."
    raise errors.Invalid(message, code="revision_not_found", params={"revision": number, "known": known},
                         errors={"revision": [message]})


def check_revision(value: Any) -> int:
    """A revision number from the request body (0: the previous one)."""
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if number is None or number < 0:
        message = "revision must be a revision number (0 for the previous one)."
        raise errors.Invalid(message, code="revision_not_found", params={"revision": str(value)[:40]},
                             errors={"revision": [message]})
    return number


# ---------------------------------------------------------------------------- dependents


@dataclass(frozen=True)
class Row:
    """What the read model knows of one object for the ownership walk."""

    kind: str
    namespace: str
    name: str
    owner: tuple[str, str] | None  # the controlling owner's (kind, name), same namespace


def owned_closure(root_kind: str, root_namespace: str, root_name: str, rows: Iterable[Row], *,
                  limit: int) -> tuple[list[Row], int]:
    """Everything ``root`` owns, transitively (a Deployment's ReplicaSets and their pods), by the
    controlling ownerReferences the read model keeps; at most ``limit`` rows, and the total."""
    by_owner: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        if row.owner is not None and row.namespace == root_namespace:
            by_owner.setdefault(row.owner, []).append(row)
    found: list[Row] = []
    seen: set[tuple[str, str]] = {(root_kind, root_name)}
    queue = [(root_kind, root_name)]
    while queue:
        key = queue.pop(0)
        for child in sorted(by_owner.get(key, []), key=lambda r: (r.kind, r.name)):
            child_key = (child.kind, child.name)
            if child_key in seen:
                continue
            seen.add(child_key)
            found.append(child)
            queue.append(child_key)
    return found[:limit], len(found)

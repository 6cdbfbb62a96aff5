"""Deploy strategies of releases: how a revision's rendered objects are shaped before they are
stored, what pruning must keep, and which pods are old, new or canary (docs/catalog-api.md,
"Strategies").

A stored manifest is always exactly what the deploy task applies, so the strategies work by
rewriting objects, never at apply time:

* ``rolling`` / ``recreate``: every Deployment gets ``spec.strategy`` (RollingUpdate with the
  release's maxSurge/maxUnavailable, or Recreate).
* ``bluegreen``: Deployments are renamed ``<name>-<color>`` with the color label in their
  selector and pod template; Services that select those pods get the color in their selector.
  An upgrade brings up the other color while the Services still select the active one; promote,
  confirm and abort are further revisions that switch the selectors, drop the old color, or go
  back to the revision the upgrade started from.
* ``canary``: an upgrade keeps each changed Deployment's previous object and adds
  ``<name>-canary`` with the new pod template, ``canary_replicas`` replicas and the same app labels
  (so the same Service selects it). Promote applies the new template to the main Deployment and
  drops the canary; abort goes back to the revision the upgrade started from.

Every transformation can be undone (:func:`plain`), so a rollback or a promote starts from the
chart's own objects again. Pure functions on plain data; nothing here calls a cluster.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from catalog.errors import invalid
from catalog.models import Strategy

COLOR_LABEL = "portal.cluster-portal.io/color"
TRACK_LABEL = "portal.cluster-portal.io/track"  # "canary" on the canary Deployment's pods
BASE_ANNOTATION = "portal.cluster-portal.io/base-name"  # the chart's name of a renamed Deployment
REPLICAS_ANNOTATION = "portal.cluster-portal.io/replicas"  # a canary's intended replicas ("" if unset)
COLORS = ("blue", "green")
STABLE = "stable"
AWAITING_PROMOTION = "awaiting_promotion"
AWAITING_CONFIRMATION = "awaiting_confirmation"
PARAMETERS = ("type", "max_surge", "max_unavailable", "canary_replicas")
DEFAULTS: dict[str, Any] = {"type": Strategy.ROLLING.value, "max_surge": "25%", "max_unavailable": "25%",
                            "canary_replicas": 1}
MAX_CANARY_REPLICAS = 50
_PERCENT = re.compile(r"^(?:100|[1-9]?[0-9])%$")

Obj = dict[str, Any]


# ---------------------------------------------------------------------------- validation


def validate(strategy: Any) -> dict[str, Any]:
    """The strategy with its defaults filled in; 400 naming the field (``strategy.max_surge``)."""
    if strategy is None:
        strategy = {}
    if not isinstance(strategy, dict):
        raise invalid({"strategy": ['Give the strategy as an object, e.g. {"type": "rolling"}.']})
    errors: dict[str, list[str]] = {}
    for key in sorted(set(strategy) - set(PARAMETERS)):
        errors[f"strategy.{key}"] = [f"Unknown parameter; a strategy has {', '.join(PARAMETERS)}."]
    out = {**DEFAULTS, **{k: v for k, v in strategy.items() if k in PARAMETERS}}
    if out["type"] not in Strategy.values:
        errors["strategy.type"] = [f"Must be one of {', '.join(Strategy.values)}."]
    for key in ("max_surge", "max_unavailable"):
        value = out[key]
        valid_int = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10_000
        if not valid_int and not (isinstance(value, str) and _PERCENT.match(value)):
            errors[f"strategy.{key}"] = ['An integer ≥ 0 or a percentage from "0%" to "100%".']
    if not errors and out["max_surge"] in (0, "0%") and out["max_unavailable"] in (0, "0%"):
        errors["strategy.max_unavailable"] = ["max_surge and max_unavailable cannot both be 0."]
    replicas = out["canary_replicas"]
    if isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= MAX_CANARY_REPLICAS:
        errors["strategy.canary_replicas"] = [f"An integer from 1 to {MAX_CANARY_REPLICAS}."]
    if errors:
        raise invalid(errors)
    return out


def normalised(strategy: dict[str, Any] | None) -> dict[str, Any]:
    """A stored strategy with its defaults (rows stored before strategies were checked have ``{}``)."""
    return {**DEFAULTS, **(strategy or {})}


# ---------------------------------------------------------------------------- object helpers


def _copy(obj: Obj) -> Obj:
    return json.loads(json.dumps(obj))


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name"))


def _key(obj: Obj) -> str:
    return f"{obj.get('kind')}/{_name(obj)}"


def _is_deployment(obj: Obj) -> bool:
    return obj.get("kind") == "Deployment"


def _template_labels(dep: Obj) -> dict[str, Any]:
    template = dep.setdefault("spec", {}).setdefault("template", {})
    labels: dict[str, Any] = template.setdefault("metadata", {}).setdefault("labels", {})
    return labels


def _match_labels(dep: Obj) -> dict[str, Any]:
    labels: dict[str, Any] = dep.setdefault("spec", {}).setdefault("selector", {}).setdefault("matchLabels", {})
    return labels


def _service_selector(obj: Obj) -> dict[str, Any] | None:
    if obj.get("kind") != "Service":
        return None
    selector = (obj.get("spec") or {}).get("selector")
    return selector if isinstance(selector, dict) and selector else None


def _selects(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    wanted = {k: v for k, v in selector.items() if k != COLOR_LABEL}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def _annotations(obj: Obj) -> dict[str, Any]:
    annotations: dict[str, Any] = obj.setdefault("metadata", {}).setdefault("annotations", {})
    return annotations


def _set_rollout(objects: list[Obj], strategy: dict[str, Any]) -> None:
    """Set ``spec.strategy`` of every Deployment. The default (rolling, 25%/25%) leaves a strategy
    the chart sets itself alone (a chart may need Recreate, e.g. for a ReadWriteOnce volume)."""
    untouched = strategy["type"] == Strategy.ROLLING and strategy["max_surge"] == DEFAULTS["max_surge"] \
        and strategy["max_unavailable"] == DEFAULTS["max_unavailable"]
    for obj in objects:
        if not _is_deployment(obj):
            continue
        spec = obj.setdefault("spec", {})
        if untouched and spec.get("strategy"):
            continue
        if strategy["type"] == Strategy.RECREATE:
            spec["strategy"] = {"type": "Recreate"}
        else:
            spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {
                "maxSurge": strategy["max_surge"], "maxUnavailable": strategy["max_unavailable"]}}


def plain(objects: list[Obj]) -> list[Obj]:
    """The objects as the chart rendered them: colors, canaries and their labels undone (a canary's
    object is the intended new Deployment, so it replaces the main one)."""
    out: list[Obj] = []
    canaries: dict[str, Obj] = {}
    for obj in objects:
        obj = _copy(obj)
        if _is_deployment(obj):
            annotations = _annotations(obj)
            base = annotations.pop(BASE_ANNOTATION, None)
            replicas = annotations.pop(REPLICAS_ANNOTATION, None)
            if base:
                obj["metadata"]["name"] = base
            _match_labels(obj).pop(COLOR_LABEL, None)
            _template_labels(obj).pop(COLOR_LABEL, None)
            _match_labels(obj).pop(TRACK_LABEL, None)
            if _template_labels(obj).pop(TRACK_LABEL, None) == "canary":
                if replicas:
                    obj["spec"]["replicas"] = int(replicas)
                else:
                    obj["spec"].pop("replicas", None)
                canaries[_name(obj)] = obj
                continue
        selector = _service_selector(obj)
        if selector is not None:
            selector.pop(COLOR_LABEL, None)
        out.append(obj)
    out = [canaries.pop(_name(o)) if _is_deployment(o) and _name(o) in canaries else o for o in out]
    return out + list(canaries.values())


# ---------------------------------------------------------------------------- shaping a revision


@dataclass
class Planned:
    objects: list[Obj]
    state: dict[str, Any] = field(default_factory=dict)


def plan(objects: list[Obj], *, strategy: dict[str, Any], state: dict[str, Any], current: list[Obj] | None,
         from_revision: int) -> Planned:
    """Shape a revision's objects (the chart's, see :func:`plain`) for ``strategy``.

    ``current`` is what the release's current revision applied (None: a first install, or a
    promote that only wants the stable shape); ``from_revision`` its number, kept in the state so
    an abort can go back to it."""
    strategy = normalised(strategy)
    objects = [_copy(o) for o in objects]
    kind = strategy["type"]
    if state.get("type") == Strategy.BLUE_GREEN and kind != Strategy.BLUE_GREEN:
        current = None  # leaving blue/green: the colors go, the chart's names come back at once
    if kind == Strategy.BLUE_GREEN:
        return _bluegreen(objects, state=state, current=current, from_revision=from_revision)
    _set_rollout(objects, strategy)
    if kind == Strategy.CANARY and current is not None:
        return _canary(objects, strategy=strategy, current=current, from_revision=from_revision)
    return Planned(objects, {"type": kind, "phase": STABLE})


def _colored(objects: list[Obj], color: str) -> list[Obj]:
    """Deployments renamed ``<name>-<color>`` with the color in selector and pod labels."""
    out = []
    for obj in objects:
        if _is_deployment(obj):
            base = _name(obj)
            _annotations(obj)[BASE_ANNOTATION] = base
            obj["metadata"]["name"] = f"{base}-{color}"
            _match_labels(obj)[COLOR_LABEL] = color
            _template_labels(obj)[COLOR_LABEL] = color
        out.append(obj)
    return out


def _point_services(objects: list[Obj], color: str, pod_labels: list[dict[str, Any]]) -> None:
    for obj in objects:
        selector = _service_selector(obj)
        if selector is not None and any(_selects(selector, labels) for labels in pod_labels):
            selector[COLOR_LABEL] = color


def _bluegreen(objects: list[Obj], *, state: dict[str, Any], current: list[Obj] | None,
               from_revision: int) -> Planned:
    pod_labels = [dict(_template_labels(o)) for o in objects if _is_deployment(o)]
    active = state.get("active") if state.get("type") == Strategy.BLUE_GREEN else None
    # the active color's Deployments, applied by the current revision: kept until confirmed
    live = [_key(o) for o in current or [] if _is_deployment(o) and active
            and _template_labels(_copy(o)).get(COLOR_LABEL) == active]
    if not live:  # nothing colored runs yet: the first color goes live at once
        color = COLORS[0]
        objects = _colored(objects, color)
        _point_services(objects, color, pod_labels)
        return Planned(objects, {"type": Strategy.BLUE_GREEN.value, "phase": STABLE, "active": color})
    preview = COLORS[1] if active == COLORS[0] else COLORS[0]
    objects = _colored(objects, preview)
    _point_services(objects, str(active), pod_labels)
    return Planned(objects, {"type": Strategy.BLUE_GREEN.value, "phase": AWAITING_PROMOTION, "active": active,
                             "preview": preview, "from_revision": from_revision, "keep": sorted(live)})


def _pod_template(dep: Obj) -> str:
    return json.dumps((dep.get("spec") or {}).get("template") or {}, sort_keys=True)


def _canary(objects: list[Obj], *, strategy: dict[str, Any], current: list[Obj],
            from_revision: int) -> Planned:
    before = {_name(o): o for o in plain(current) if _is_deployment(o)}
    out: list[Obj] = []
    canaries: list[str] = []
    for obj in objects:
        old = before.get(_name(obj)) if _is_deployment(obj) else None
        if old is None or _pod_template(old) == _pod_template(obj):
            out.append(obj)
            continue
        base = _name(obj)
        canary = _copy(obj)
        canary["metadata"]["name"] = f"{base}-canary"
        annotations = _annotations(canary)
        annotations[BASE_ANNOTATION] = base
        replicas = (obj.get("spec") or {}).get("replicas")
        annotations[REPLICAS_ANNOTATION] = "" if replicas is None else str(replicas)
        canary["spec"]["replicas"] = strategy["canary_replicas"]
        _match_labels(canary)[TRACK_LABEL] = "canary"
        _template_labels(canary)[TRACK_LABEL] = "canary"
        out += [old, canary]
        canaries.append(_key(canary))
    if not canaries:
        return Planned(out, {"type": Strategy.CANARY.value, "phase": STABLE})
    return Planned(out, {"type": Strategy.CANARY.value, "phase": AWAITING_PROMOTION, "canary": canaries,
                         "from_revision": from_revision})


def promote(current: list[Obj], *, strategy: dict[str, Any], state: dict[str, Any]) -> Planned:
    """The next revision's objects after promote: blue/green points the Services at the preview
    color (the old color is kept until confirmed); canary puts the new template into the main
    Deployment and drops the canary."""
    if state.get("type") == Strategy.BLUE_GREEN:
        objects = [_copy(o) for o in current]
        for obj in objects:
            selector = _service_selector(obj)
            if selector is not None and COLOR_LABEL in selector:
                selector[COLOR_LABEL] = state["preview"]
        return Planned(objects, {**_without(state, "preview"), "phase": AWAITING_CONFIRMATION,
                                 "active": state["preview"], "previous": state["active"]})
    return plan(plain(current), strategy={**normalised(strategy), "type": Strategy.CANARY.value}, state={},
                current=None, from_revision=0)


def confirm(current: list[Obj], *, state: dict[str, Any]) -> Planned:
    """The next revision's objects after confirm: the same; the old color is no longer kept."""
    return Planned([_copy(o) for o in current], {"type": Strategy.BLUE_GREEN.value, "phase": STABLE,
                                                 "active": state["active"]})


def aborted_state(state: dict[str, Any]) -> dict[str, Any]:
    """The state after an abort: back to what the upgrade started from."""
    if state.get("type") == Strategy.BLUE_GREEN:
        active = state.get("previous") if state.get("phase") == AWAITING_CONFIRMATION else state.get("active")
        return {"type": Strategy.BLUE_GREEN.value, "phase": STABLE, "active": active}
    return {"type": state.get("type"), "phase": STABLE}


def _without(state: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in keys}


def keep(state: dict[str, Any]) -> set[str]:
    """Objects pruning must leave alone besides the revision's own (the old color until confirmed)."""
    return {str(k) for k in state.get("keep") or []}


def in_progress(state: dict[str, Any]) -> bool:
    return bool(state) and state.get("phase", STABLE) != STABLE


# ---------------------------------------------------------------------------- old and new pods


def pod_groups(*, cluster_id: int, namespace: str, objects: list[Obj], state: dict[str, Any]) -> dict[str, Any]:
    """The release's pods from the read model, as ``{"old", "new", "canary"}`` (rules in
    docs/catalog-api.md). ``objects`` are the current revision's."""
    from clusters.models import KubeObject

    deployments = [o for o in objects if _is_deployment(o)]
    selectors = []
    for dep in plain(deployments):
        labels = dict(((dep.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})
        if labels:
            selectors.append((_name(dep), labels))
    groups: dict[str, list[dict[str, Any]]] = {"old": [], "new": [], "canary": []}
    if not selectors:
        return groups
    match = Q()
    for _base, labels in selectors:
        match |= Q(labels__contains=labels)
    pods = list(KubeObject.objects.filter(cluster_id=cluster_id, kind="Pod", namespace=namespace)
                .filter(match).order_by("name"))
    owners = {name for name, _ in selectors} | {f"{name}-{suffix}" for name, _ in selectors
                                               for suffix in (*COLORS, "canary")}
    newest: dict[str, tuple[Any, str]] = {}  # Deployment -> (created, pod-template-hash) of its newest ReplicaSet
    for rs in KubeObject.objects.filter(cluster_id=cluster_id, kind="ReplicaSet", namespace=namespace).only(
            "labels", "created", "data"):
        owner = (rs.data or {}).get("owner") or {}
        if owner.get("kind") != "Deployment" or owner.get("name") not in owners:
            continue
        if int((rs.data or {}).get("replicas") or 0) == 0:
            continue
        created = rs.created.isoformat() if rs.created else ""
        if owner["name"] not in newest or created > newest[owner["name"]][0]:
            newest[owner["name"]] = (created, str(rs.labels.get("pod-template-hash", "")))
    current_color = state.get("preview") if state.get("phase") == AWAITING_PROMOTION else state.get("active")
    for pod in pods:
        labels = pod.labels or {}
        data = pod.data or {}
        owner_rs = str((data.get("owner") or {}).get("name") or "")
        template_hash = str(labels.get("pod-template-hash", ""))
        deployment = owner_rs[: -len(template_hash) - 1] if template_hash and owner_rs.endswith(template_hash) \
            else owner_rs
        row = {"name": pod.name, "deployment": deployment, "phase": pod.phase, "status": data.get("status_text", ""),
               "ready": data.get("ready", ""), "restarts": data.get("restarts", 0), "node": pod.node_name,
               "images": [c.get("image", "") for c in data.get("containers") or []],
               "pod_template_hash": template_hash, "color": labels.get(COLOR_LABEL, ""),
               "created": pod.created.isoformat() if pod.created else None}
        if labels.get(TRACK_LABEL) == "canary":
            group = "canary"
        elif state.get("phase") == AWAITING_PROMOTION and state.get("type") == Strategy.CANARY:
            group = "old"  # the main Deployments keep the previous template until promoted
        elif COLOR_LABEL in labels and current_color:
            group = "new" if labels[COLOR_LABEL] == current_color else "old"
        elif deployment in newest:
            group = "new" if newest[deployment][1] == template_hash else "old"
        else:
            group = "new"
        groups[group].append(row)
    return groups

"""Moving a service map to another cluster of its workspace: the plan, the start, and the steps
the task ``catalog.advance_move`` runs (docs/moves.md).

* :func:`check` says, without touching a cluster, whether the move can start: the workspace has
  an allocation on the target cluster with room for the source's quota share, the namespace is
  free there, and every release of the source, at its deployed revision's package version and
  values, renders, passes the checks and fits the share on the target (the same
  :func:`catalog.releases.prepare` every deploy passes).
* :func:`plan` adds what only the clusters know: the source's ConfigMaps, Secrets (names and keys,
  never values) and autoscalers to copy, and a server-side dry-run of every release's objects on
  the target; the view reads both clusters through :mod:`clusters.gateway`.
* :func:`start` refuses with the first problem's stable code (nothing written) or hands over to
  :func:`catalog.move_actions.create_move`.
* :func:`advance` runs one short step of a running move under an advisory lock and says whether
  to come back at once, later, or never; each step converges when run twice (server-side apply,
  existing target releases and config versions are found, not made again), so a killed worker
  loses nothing: the beat sends the move again (:func:`due`).

The source is only read until the person retires it (a separate, confirmed step): a failed move
leaves it untouched and says which step failed where.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from catalog import access, image_hooks, manifests, move_actions, redaction, releases, strategies
from catalog.models import (
    ConfigKind,
    Move,
    MoveRelease,
    MoveStatus,
    MoveStepState,
    Release,
    ReleaseStatus,
    Revision,
    RevisionStatus,
    TargetState,
)
from catalog.remote import SourceError
from clusters.kube.client import KubeClient
from clusters.kube.errors import KubeError, NotFound, Unreachable
from clusters.kube.messages import explain
from clusters.models import Cluster, KubeObject
from portal import errors
from portal.crypto import DecryptionError
from workspaces import quota as q
from workspaces.actions import RESERVED_NAMESPACES
from workspaces.models import ApplyStatus, ClusterAllocation, ServiceMap

FIELD_MANAGER = "cluster-portal"
CALL_TIMEOUT = 10.0
NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# what a namespace holds that is not the service map's to copy
SKIPPED_CONFIG_MAPS = ("kube-root-ca.crt",)
SKIPPED_SECRET_TYPES = ("kubernetes.io/service-account-token", "helm.sh/release.v1")
DRY_RUN_NAMESPACE = "default"  # the target namespace does not exist before the move (docs/moves.md)


def step_timeout() -> float:
    """Seconds a step may wait for a cluster (the target namespace, a deploy) before the move fails."""
    return float(getattr(settings, "PORTAL_MOVE_STEP_TIMEOUT", 600))


def poll_seconds() -> float:
    return float(getattr(settings, "PORTAL_MOVE_POLL_SECONDS", 1.0))


# ---------------------------------------------------------------------------- checking (no cluster I/O)


@dataclass
class Problem:
    code: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)
    status: int = 400  # what start() answers with it
    errors: dict[str, list[str]] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "params": self.params}


@dataclass
class Checked:
    source: ServiceMap
    target_cluster: Cluster
    target_namespace: str
    target: ServiceMap  # not saved: the service map the move would create
    share: dict[str, str]
    quota: dict[str, Any]
    releases: list[dict[str, Any]]
    problems: list[Problem]
    allow_cluster_scoped: bool
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # release -> prepared objects

    @property
    def ok(self) -> bool:
        return not self.problems


def _bad_input(code: str, message: str, field_name: str, params: dict[str, Any]) -> errors.Invalid:
    return errors.Invalid(message, errors={field_name: [message]}, code=code, params=params)


def _target_cluster(source: ServiceMap, cluster_id: int) -> tuple[Cluster, ClusterAllocation]:
    """The target cluster and the workspace's allocation there; 400 for the same cluster or none."""
    if cluster_id == source.cluster_id:
        raise _bad_input("move_same_cluster", f"{source.namespace} is already on {source.cluster.name}; choose "
                         "another cluster.", "target_cluster", {"cluster": source.cluster.name})
    allocation = (ClusterAllocation.objects.select_related("cluster")
                  .filter(workspace_id=source.workspace_id, cluster_id=cluster_id).first())
    if allocation is None:
        raise _bad_input("move_no_allocation", f"Workspace {source.workspace.name} has no allocation on cluster "
                         f"{cluster_id}; ask a system admin to allocate it first.", "target_cluster",
                         {"workspace": source.workspace.name, "cluster": cluster_id})
    return allocation.cluster, allocation


def _namespace(source: ServiceMap, raw: str | None) -> str:
    namespace = raw or source.namespace
    if not NAMESPACE.match(namespace) or len(namespace) > 63:
        raise _bad_input("namespace_invalid", "Use lower-case letters, digits and '-' (at most 63).",
                         "target_namespace", {"namespace": namespace})
    if namespace in RESERVED_NAMESPACES or namespace.startswith("kube-"):
        raise _bad_input("namespace_reserved", f"{namespace} is a system namespace; choose another name.",
                         "target_namespace", {"namespace": namespace})
    return namespace


def _quota(source: ServiceMap, allocation: ClusterAllocation, cluster: Cluster
           ) -> tuple[dict[str, str], dict[str, Any], list[Problem]]:
    """The share the target gets (the source's, on the target allocation's keys), the figures the
    plan shows, and what does not fit."""
    allocated = q.load(allocation.quota)
    taken = q.add(*(q.load(sm.quota) for sm in ServiceMap.objects.filter(workspace_id=source.workspace_id,
                                                                          cluster_id=cluster.pk)))
    share = q.load(source.quota)
    available = {key: max(value - taken.get(key, Decimal(0)), Decimal(0)) for key, value in allocated.items()}
    short: list[str] = []
    for key, value in sorted(share.items()):
        if value <= 0:
            continue
        if key not in allocated:
            short.append(f"{key}: the allocation on {cluster.name} does not include it")
        elif value > available[key]:
            short.append(f"{key}: {q.human(key, value)} needed, {q.human(key, available[key])} left")
    figures = {"needed": q.dump(share), "available": q.dump(available), "ok": not short}
    problems = []
    if short:
        problems.append(Problem(
            "move_quota_exceeded", f"The allocation of {source.workspace.name} on {cluster.name} has no room for the "
            f"quota share of {source.namespace}: {'; '.join(short)}. Ask a system admin for more, or shrink other "
            "service maps' shares there.", {"cluster": cluster.name, "namespace": source.namespace,
                                            "short": "; ".join(short)},
            errors={"quota": short}))
    return q.dump({key: share.get(key, Decimal(0)) for key in allocated}), figures, problems


def _state_problems(source: ServiceMap, cluster: Cluster, namespace: str) -> list[Problem]:
    problems = []
    running = move_actions.in_progress(source)
    if running is not None:
        problems.append(Problem("move_in_progress", f"Service map {source.namespace} is already being moved (move "
                                f"{running.pk}); wait for it to finish.",
                                {"move": running.pk, "namespace": source.namespace}, status=409))
    if source.status == ApplyStatus.DELETING:
        problems.append(Problem("servicemap_deleting", f"Service map {source.namespace} is being deleted.",
                                {"namespace": source.namespace}, status=409))
    if (ServiceMap.objects.filter(cluster=cluster, namespace=namespace).exists()
            or KubeObject.objects.filter(cluster=cluster, kind="Namespace", name=namespace).exists()):
        problems.append(target_exists(cluster, namespace))
    return problems


def target_exists(cluster: Cluster, namespace: str) -> Problem:
    return Problem("move_target_exists", f"Namespace {namespace} already exists on {cluster.name}; choose another "
                   "target namespace.", {"cluster": cluster.name, "namespace": namespace}, status=409,
                   errors={"target_namespace": [f"Namespace {namespace} already exists on {cluster.name}."]})


def _release_plan(release: Release, target: ServiceMap, user: Any, decided: releases.Decided
                  ) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """One release on the target: what the plan shows, and the objects it would apply (None if it cannot)."""
    revision = (Revision.objects.select_related("package_version__package")
                .filter(release=release, number=release.deployed_revision).first()
                if release.deployed_revision else None)
    version = revision.package_version if revision else release.package_version
    row: dict[str, Any] = {"name": release.name, "package": version.package.name, "version": version.version,
                           "source_revision": release.deployed_revision, "ok": False, "problems": [],
                           "pull_secrets": [], "objects": 0, "dry_run": None}
    if revision is None:
        row["problems"] = [f"{release.name} has no deployed revision to move; deploy it or delete it first."]
        return row, None
    if release.status == ReleaseStatus.DELETING:
        row["problems"] = [f"{release.name} is being deleted."]
        return row, None
    if strategies.in_progress(release.strategy_state or {}):
        row["problems"] = [f"{release.name} is in the middle of a blue/green or canary upgrade; promote, confirm or "
                           "abort it first."]
        return row, None
    try:
        prepared = releases.prepare(sm=target, name=release.name, version=version, values=revision.values,
                                    user=user, number=1, upgrade=False, strategy=strategies.normalised(
                                        release.strategy), decided=decided)
    except errors.PortalError as exc:
        row["problems"] = [f"{name}: {m}" for name, messages in (exc.errors or {"": [exc.message]}).items()
                           for m in messages] or [exc.message]
        return row, None
    except SourceError as exc:
        row["problems"] = [f"The package archive cannot be read: {exc}"]
        return row, None
    row.update(ok=True, objects=len(prepared.objects),
               pull_secrets=image_hooks.pull_secret_names(prepared.objects))
    return row, prepared.objects


def check(*, user: Any, source: ServiceMap, target_cluster_id: int, target_namespace: str | None) -> Checked:
    """Everything that can be said without a cluster. 400 for a target that cannot be planned at
    all (same cluster, no allocation, a bad namespace); every other problem is in ``problems``."""
    cluster, allocation = _target_cluster(source, target_cluster_id)
    namespace = _namespace(source, target_namespace)
    share, figures, problems = _quota(source, allocation, cluster)
    problems = _state_problems(source, cluster, namespace) + problems
    target = ServiceMap(workspace=source.workspace, cluster=cluster, namespace=namespace, quota=share,
                        limits=source.limits or {}, display_name=source.display_name, status=ApplyStatus.READY)
    decided = releases.decide(user, source)
    rows, objects, bad = [], {}, {}
    for release in Release.objects.filter(service_map=source).select_related("package_version__package"
                                                                             ).order_by("name"):
        row, prepared = _release_plan(release, target, user, decided)
        rows.append(row)
        if prepared is None:
            bad[f"releases.{release.name}"] = row["problems"]
        else:
            objects[release.name] = prepared
    if bad:
        names = ", ".join(name.split(".", 1)[1] for name in bad)
        problems.append(Problem("move_release_invalid", f"These releases cannot be deployed on {cluster.name}: "
                                f"{names}. The plan says why for each.", {"releases": names,
                                                                           "cluster": cluster.name}, errors=bad))
    return Checked(source=source, target_cluster=cluster, target_namespace=namespace, target=target, share=share,
                   quota=figures, releases=rows, problems=problems,
                   allow_cluster_scoped=decided.allow_cluster_scoped, objects=objects)


# ---------------------------------------------------------------------------- what the clusters say


def _copyable(obj: dict[str, Any], kind: str) -> bool:
    meta = obj.get("metadata") or {}
    name = str(meta.get("name") or "")
    if manifests.RELEASE_LABEL in (meta.get("labels") or {}) or meta.get("ownerReferences"):
        return False  # a release's own objects come with the release; controllers make their own
    if kind == ConfigKind.CONFIG_MAP:
        return name not in SKIPPED_CONFIG_MAPS
    if kind == ConfigKind.SECRET:
        return obj.get("type") not in SKIPPED_SECRET_TYPES and not name.startswith(image_hooks.PULL_SECRET_PREFIX)
    return True


def source_configs(client: KubeClient, sm: ServiceMap) -> list[dict[str, Any]]:
    """The ConfigMaps and Secrets a move copies: ``{kind, name, keys, type}`` (never a value)."""
    out = []
    for kind in (ConfigKind.CONFIG_MAP, ConfigKind.SECRET):
        for obj in client.list_objects(kind, sm.namespace, timeout=CALL_TIMEOUT):
            if _copyable(obj, kind):
                keys = sorted({*(obj.get("data") or {}), *(obj.get("binaryData") or {})})
                out.append({"kind": kind, "name": obj["metadata"]["name"], "keys": keys,
                            "type": obj.get("type", "") if kind == ConfigKind.SECRET else ""})
    return sorted(out, key=lambda c: (c["kind"], c["name"]))


def source_autoscalers(client: KubeClient, sm: ServiceMap) -> list[dict[str, Any]]:
    out = []
    for obj in client.list_objects("HorizontalPodAutoscaler", sm.namespace, timeout=CALL_TIMEOUT):
        if not _copyable(obj, "HorizontalPodAutoscaler"):
            continue
        spec = obj.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        out.append({"name": obj["metadata"]["name"], "kind": str(ref.get("kind", "")),
                    "workload": str(ref.get("name", "")), "min_replicas": int(spec.get("minReplicas") or 1),
                    "max_replicas": int(spec.get("maxReplicas") or 1)})
    return sorted(out, key=lambda a: a["name"])


def _dry_run(client: KubeClient, checked: Checked) -> None:
    """A server-side dry-run of every release's objects on the target (in ``default``: the target
    namespace does not exist yet; nothing is written), recorded on the release rows."""
    try:
        client.get_object("Namespace", checked.target_namespace, timeout=CALL_TIMEOUT, attempts=1)
    except NotFound:
        pass
    else:
        if not any(p.code == "move_target_exists" for p in checked.problems):
            checked.problems.append(target_exists(checked.target_cluster, checked.target_namespace))
    failed = []
    for row in checked.releases:
        objects = checked.objects.get(row["name"])
        if objects is None:
            continue
        stamped = manifests.stamp([dict(o) for o in objects], namespace=DRY_RUN_NAMESPACE, release=None, revision=1)
        try:
            for obj in stamped:
                client.apply(obj, field_manager=FIELD_MANAGER, dry_run=True, timeout=CALL_TIMEOUT, attempts=1)
        except Unreachable as exc:
            reason = redaction.scrub(explain(exc).message, stamped)
            row["dry_run"] = {"ok": False, "message": f"The target cluster could not be reached: {reason}"}
            row["ok"] = False
            row["problems"].append(row["dry_run"]["message"])
            failed.append(row["name"])
        except (KubeError, DecryptionError) as exc:
            # an API server may quote the refused value: never a Secret's (the plan is shown to the person)
            message = f"The target cluster refuses {manifests.key_of(obj)}: {redaction.scrub(explain(exc).message, stamped)}"
            row["dry_run"] = {"ok": False, "message": message}
            row["ok"] = False
            row["problems"].append(message)
            failed.append(row["name"])
        else:
            row["dry_run"] = {"ok": True, "message": "The target cluster accepts every object (server-side dry-run)."}
    if failed:
        names = ", ".join(failed)
        checked.problems.append(Problem("move_dry_run_failed", f"The target cluster {checked.target_cluster.name} "
                                        f"refuses objects of {names}; the plan says which.",
                                        {"releases": names, "cluster": checked.target_cluster.name}))


def plan(checked: Checked, *, source_client: KubeClient, target_client: KubeClient) -> dict[str, Any]:
    """The plan the console shows before the move starts (200; ``ok`` false with ``problems``)."""
    configs = source_configs(source_client, checked.source)
    autoscalers = source_autoscalers(source_client, checked.source)
    _dry_run(target_client, checked)
    pull: dict[str, None] = {}
    for row in checked.releases:
        for name in row["pull_secrets"]:
            pull.setdefault(name, None)
    return {"source": {"id": checked.source.pk, "namespace": checked.source.namespace,
                       "cluster": checked.source.cluster_id, "cluster_name": checked.source.cluster.name},
            "target": {"namespace": checked.target_namespace, "cluster": checked.target_cluster.pk,
                       "cluster_name": checked.target_cluster.name},
            "releases": checked.releases, "configs": [{k: c[k] for k in ("kind", "name", "keys")} for c in configs],
            "autoscalers": autoscalers, "quota": checked.quota, "pull_secrets": list(pull),
            "problems": [p.row() for p in checked.problems], "ok": checked.ok}


def start(*, user: Any, source: ServiceMap, target_cluster_id: int, target_namespace: str | None,
          request: HttpRequest | None) -> Move:
    """Check and start the move (202), or refuse with the first problem's code, nothing written."""
    access.require_move(user, source)
    checked = check(user=user, source=source, target_cluster_id=target_cluster_id, target_namespace=target_namespace)
    if checked.problems:
        first = checked.problems[0]
        if first.status == 409:
            raise errors.Conflict(first.message, code=first.code, params=first.params)
        raise errors.Invalid(first.message, errors=first.errors or {"move": [first.message]}, code=first.code,
                             params=first.params)
    lines = [{"name": row["name"], "source_revision": row["source_revision"],
              "version_label": f"{row['package']} {row['version']}",
              "source_release": Release.objects.filter(service_map=source, name=row["name"]).values_list(
                  "pk", flat=True).first()} for row in checked.releases]
    summary = {"releases": len(lines), "cluster": checked.target_cluster.name, "namespace": checked.target_namespace}
    return move_actions.create_move(source=source, target_cluster=checked.target_cluster,
                                    target_namespace=checked.target_namespace, quota=checked.share, releases=lines,
                                    plan_summary=summary, allow_cluster_scoped=checked.allow_cluster_scoped,
                                    user=user, request=request)


# ---------------------------------------------------------------------------- running a move (the task's side)


class Waiting(Exception):
    """The step waits for a cluster; the move looks again shortly (until :func:`step_timeout`)."""

    def __init__(self, message: str, code: str, params: dict[str, Any]) -> None:
        super().__init__(message)
        self.message, self.code, self.params = message, code, params


class StepFailed(Exception):
    def __init__(self, message: str, code: str, params: dict[str, Any]) -> None:
        super().__init__(message)
        self.message, self.code, self.params = message, code, params


@contextlib.contextmanager
def move_lock(move_id: int) -> Iterator[bool]:
    """A session advisory lock on the move: one pass at a time; it goes with a killed worker's connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [7033, move_id])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [7033, move_id])


def _client(cluster: Cluster) -> KubeClient:
    return KubeClient(cluster.connection_spec(), read_timeout=CALL_TIMEOUT, connect_timeout=3.0)


def _where(move: Move) -> dict[str, Any]:
    return {"source_namespace": move.source_namespace, "source_cluster": move.source_cluster_name,
            "target_namespace": move.target_namespace, "target_cluster": move.target_cluster_name}


def _target(move: Move) -> ServiceMap:
    target = (ServiceMap.objects.select_related("cluster", "workspace").filter(pk=move.target_id).first()
              if move.target_id else None)
    if target is None:
        raise StepFailed(f"The target service map {move.target_namespace} on {move.target_cluster_name} was deleted.",
                         "move_target_gone", _where(move))
    return target


def _source(move: Move) -> ServiceMap:
    source = (ServiceMap.objects.select_related("cluster", "workspace").filter(pk=move.source_id).first()
              if move.source_id else None)
    if source is None:
        raise StepFailed(f"The source service map {move.source_namespace} was deleted during the move.",
                         "move_source_gone", {**_where(move), "namespace": move.source_namespace})
    return source


def _step_service_map(move: Move) -> str:
    target = _target(move)
    if target.status == ApplyStatus.READY and target.applied_generation >= target.generation:
        return f"Namespace {target.namespace} with its quota and limits is ready on {move.target_cluster_name}."
    if target.status == ApplyStatus.ERROR:
        raise StepFailed(f"The target cluster refused the namespace: {target.message}", "move_target_refused",
                         {**_where(move), "reason": target.message})
    raise Waiting(target.message or f"Waiting for {move.target_cluster_name} to create {target.namespace}.",
                  target.message_code or "move_waiting_target", {**_where(move), **(target.message_params or {})})


def _step_configs(move: Move) -> str:
    source, target = _source(move), _target(move)
    copied: list[str] = []
    with _client(source.cluster) as read, _client(target.cluster) as write:
        for kind in (ConfigKind.CONFIG_MAP, ConfigKind.SECRET):
            for obj in read.list_objects(kind, source.namespace, timeout=CALL_TIMEOUT):
                if not _copyable(obj, kind):
                    continue
                name = str(obj["metadata"]["name"])
                copy: dict[str, Any] = {"apiVersion": "v1", "kind": kind,
                                        "metadata": {"name": name, "namespace": target.namespace}}
                for key in ("data", "binaryData", "type", "immutable"):
                    if obj.get(key) is not None:
                        copy[key] = obj[key]
                try:
                    write.apply(copy, field_manager=FIELD_MANAGER, timeout=CALL_TIMEOUT)
                except Unreachable:
                    raise  # waited for, like any step
                except KubeError as exc:  # said without the Secret's values (the message is stored and shown)
                    reason = redaction.scrub(explain(exc).message, [copy])
                    raise StepFailed(f"{move.target_cluster_name} refused {kind} {name}: {reason}",
                                     "move_config_refused", {**_where(move), "kind": kind, "name": name,
                                                             "reason": reason}) from exc
                move_actions.record_config_copy(move, target, kind=kind, name=name, data=_plain(kind, obj))
                copied.append(f"{kind}/{name}")
    return (f"Copied {len(copied)} ConfigMap(s) and Secret(s)." if copied
            else "The source has no ConfigMaps or Secrets of its own to copy.")


def _plain(kind: str, obj: dict[str, Any]) -> dict[str, str]:
    """The data to keep as the target's first config version (a Secret's is encrypted there)."""
    if kind == ConfigKind.CONFIG_MAP:
        return {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
    out = {}
    for key, value in (obj.get("data") or {}).items():
        try:
            out[str(key)] = base64.b64decode(str(value)).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            out[str(key)] = ""
    return out


def _step_releases(move: Move) -> str:
    target = _target(move)
    decided = releases.Decided(allow_cluster_scoped=move.allow_cluster_scoped)
    user = move.created_by
    for line in MoveRelease.objects.filter(move=move, target_release__isnull=True).order_by("name"):
        existing = Release.objects.filter(service_map=target, name=line.name).first()
        if existing is None:  # not created by an earlier pass that died before recording it
            revision = (Revision.objects.select_related("package_version", "release")
                        .filter(release_id=line.source_release_id, number=line.source_revision).first()
                        if line.source_release_id else None)
            if revision is None:
                move_actions.set_release(line.pk, state=TargetState.FAILED, message_code="move_release_gone",
                                         message=f"Revision {line.source_revision} of {line.name} is gone.",
                                         message_params={"name": line.name})
                raise StepFailed(f"Revision {line.source_revision} of {line.name} is gone from the source.",
                                 "move_release_gone", {**_where(move), "name": line.name})
            try:
                existing = releases.create_release(
                    sm=target, name=line.name, version=revision.package_version, values=revision.values,
                    strategy=strategies.normalised(revision.release.strategy), user=user, request=None,
                    decided=decided)
            except (errors.PortalError, SourceError) as exc:
                reason = exc.message if isinstance(exc, errors.PortalError) else str(exc)
                move_actions.set_release(line.pk, state=TargetState.FAILED, message=reason[:2000],
                                         message_code="move_release_refused",
                                         message_params={"name": line.name, "reason": reason[:500]})
                raise StepFailed(f"Release {line.name} was refused on {move.target_cluster_name}: {reason}",
                                 "move_release_refused", {**_where(move), "name": line.name,
                                                          "reason": reason[:500]}) from exc
        move_actions.set_release(line.pk, target_release=existing, revision=existing.revision,
                                 state=TargetState.APPLYING, message="", message_code="", message_params={})
    count = MoveRelease.objects.filter(move=move).count()
    return f"{count} release(s) installed on {move.target_cluster_name}." if count else "The source has no releases."


_STATES = {RevisionStatus.DEPLOYED: TargetState.HEALTHY, RevisionStatus.FAILED: TargetState.FAILED,
           RevisionStatus.PROGRESSING: TargetState.PROGRESSING, RevisionStatus.APPLYING: TargetState.APPLYING,
           RevisionStatus.PENDING: TargetState.PENDING, RevisionStatus.SUPERSEDED: TargetState.HEALTHY}


def _step_healthy(move: Move) -> str:
    waiting, failed = [], []
    for line in MoveRelease.objects.filter(move=move).order_by("name"):
        revision = (Revision.objects.filter(release_id=line.target_release_id, number=line.revision).first()
                    if line.target_release_id and line.revision else None)
        if revision is None:
            move_actions.set_release(line.pk, state=TargetState.FAILED, message="The target release was deleted.",
                                     message_code="move_release_gone", message_params={"name": line.name})
            failed.append((line.name, "The target release was deleted."))
            continue
        state = _STATES.get(RevisionStatus(revision.status), TargetState.PENDING)
        if revision.status == RevisionStatus.SUPERSEDED:  # upgraded on the target meanwhile: its release says
            release = Release.objects.filter(pk=revision.release_id).first()
            state = TargetState.HEALTHY if release and release.status == ReleaseStatus.DEPLOYED else TargetState.APPLYING
        move_actions.set_release(line.pk, state=state, message=revision.message[:2000],
                                 message_code=revision.message_code, message_params=revision.message_params)
        if state == TargetState.FAILED:
            failed.append((line.name, revision.message))
        elif state != TargetState.HEALTHY:
            waiting.append(line.name)
    if failed:
        name, reason = failed[0]
        raise StepFailed(f"Release {name} failed on {move.target_cluster_name}: {reason}", "move_release_failed",
                         {**_where(move), "name": name, "reason": reason[:500]})
    if waiting:
        raise Waiting(f"Waiting for {', '.join(waiting)} to become healthy on {move.target_cluster_name}.",
                      "move_waiting_healthy", {"releases": ", ".join(waiting), "cluster": move.target_cluster_name})
    return "Every release is healthy on the target."


def _step_autoscalers(move: Move) -> str:
    source, target = _source(move), _target(move)
    copied = 0
    with _client(source.cluster) as read, _client(target.cluster) as write:
        for obj in read.list_objects("HorizontalPodAutoscaler", source.namespace, timeout=CALL_TIMEOUT):
            if not _copyable(obj, "HorizontalPodAutoscaler"):
                continue
            write.apply({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                         "metadata": {"name": obj["metadata"]["name"], "namespace": target.namespace},
                         "spec": obj.get("spec") or {}}, field_manager=FIELD_MANAGER, timeout=CALL_TIMEOUT)
            copied += 1
    return f"Copied {copied} autoscaler(s)." if copied else "The source has no autoscalers of its own."


STEPS = {"service_map": _step_service_map, "configs": _step_configs, "releases": _step_releases,
         "healthy": _step_healthy, "autoscalers": _step_autoscalers}


def _started(line: dict[str, Any]) -> Any:
    from django.utils.dateparse import parse_datetime

    return parse_datetime(line["started"]) if line.get("started") else None


def _fail(move: Move, key: str, exc: StepFailed) -> str:
    move_actions.set_step(move.pk, key, MoveStepState.FAILED, exc.message, code=exc.code, params=exc.params)
    where = _where(move)
    move_actions.finish(
        move.pk, ok=False, code="move_failed", params={**where, "step": key, "reason": exc.message[:500]},
        message=f"The move failed at step {key}: {exc.message} The source {move.source_namespace} on "
                f"{move.source_cluster_name} is untouched; the target service map {move.target_namespace} on "
                f"{move.target_cluster_name} stays for a look (delete it before moving again).")
    return "failed"


def _run(move: Move) -> str:
    line = next((s for s in move.steps or [] if s.get("key") in STEPS
                 and s.get("state") not in (MoveStepState.DONE, MoveStepState.SKIPPED)), None)
    if line is None:
        move_actions.finish(move.pk, ok=True, code="move_healthy", params=_where(move),
                            message=f"{move.source_namespace} runs on {move.target_cluster_name} as "
                                    f"{move.target_namespace}; the source still runs until you retire it.")
        return "healthy"
    key = str(line["key"])
    if line.get("state") == MoveStepState.PENDING:
        move_actions.set_step(move.pk, key, MoveStepState.RUNNING, f"Step {key} started.", code="move_step_started",
                              params={"step": key})
    try:
        done = STEPS[key](move)
    except StepFailed as exc:
        return _fail(move, key, exc)
    except Waiting as exc:
        started = _started(line) or timezone.now()
        if timezone.now() - started > timedelta(seconds=step_timeout()):
            return _fail(move, key, StepFailed(f"Gave up after {step_timeout():g} s: {exc.message}",
                                               "move_step_timeout", {**exc.params, "step": key}))
        move_actions.set_step(move.pk, key, MoveStepState.RUNNING, exc.message, code=exc.code, params=exc.params)
        return "waiting"
    except Unreachable as exc:  # a cluster that does not answer: wait for it (until the step's timeout)
        return _run_waiting(move, key, line, explain(exc).message)
    except (KubeError, DecryptionError) as exc:
        return _fail(move, key, StepFailed(f"The cluster refused: {explain(exc).message}", "move_cluster_refused",
                                           {**_where(move), "reason": explain(exc).message}))
    move_actions.set_step(move.pk, key, MoveStepState.DONE, done, code="move_step_done",
                          params={**_where(move), "step": key})
    return "next"


def _run_waiting(move: Move, key: str, line: dict[str, Any], reason: str) -> str:
    started = _started(line) or timezone.now()
    if timezone.now() - started > timedelta(seconds=step_timeout()):
        return _fail(move, key, StepFailed(f"A cluster did not answer for {step_timeout():g} s: {reason}",
                                           "move_step_timeout", {**_where(move), "step": key}))
    move_actions.set_step(move.pk, key, MoveStepState.RUNNING, f"Waiting for a cluster to answer: {reason}",
                          code="move_waiting_cluster", params={"reason": reason})
    return "waiting"


def _retire(move: Move) -> str:
    source = ServiceMap.objects.filter(pk=move.source_id).first() if move.source_id else None
    if source is None:
        move_actions.retired(move.pk)
        return "retired"
    if source.deletion_stuck:
        move_actions.retire_message(move.pk, source.message, code=source.message_code or "servicemap_deleting",
                                    params=source.message_params or {})
    return "waiting"


def advance(move_id: int) -> str:
    """One pass: ``next`` (come back at once), ``waiting`` (shortly), ``busy`` (another pass holds
    it: that chain goes on), or the move's final state."""
    with move_lock(move_id) as held:
        if not held:
            return "busy"
        move = Move.objects.select_related("created_by").filter(pk=move_id).first()
        if move is None:
            return "gone"
        move_actions.touch(move_id)
        if move.status == MoveStatus.RUNNING:
            return _run(move)
        if move.status == MoveStatus.RETIRING:
            return _retire(move)
        return str(move.status)


def due(stale_after: float = 60.0) -> list[int]:
    """Running or retiring moves no pass has touched for ``stale_after`` seconds (a killed worker,
    a lost message): the beat sends them again."""
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    return list(Move.objects.filter(status__in=move_actions.RUNNING, updated__lt=cutoff).values_list("pk", flat=True))


__all__ = ["Checked", "advance", "check", "due", "plan", "source_autoscalers", "source_configs", "start"]

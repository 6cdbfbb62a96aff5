"""Every write of the workspaces app and the rules that guard it.

Each action validates (400 on the field to fix, 409 when the state forbids it, with a message a
person can act on), writes in one transaction, audits (``describe`` inside API requests,
``record`` from tasks), publishes to ``workspace.<id>`` after commit (rows from
:mod:`workspaces.rows`), and enqueues cluster work on commit by task name (``workspaces.tasks``
and ``workspaces.services`` sit above this module and call it, never the other way). Quota
shares are checked with the allocation row locked, so two managers splitting the same allocation
at once cannot both take the last of it.

Refusals are :mod:`portal.errors` (``Invalid`` with ``errors`` on the fields, ``Conflict``), which
the API's one handler turns into 400/409 with the same ``detail`` DRF gave; ``request`` is passed
only for the audit record (``describe``), never to decide anything. Tasks are enqueued through
:func:`portal.enqueue.on_commit` (robust: a broker blip after commit is logged, and the beat's
reconcile picks the row up). Stored messages carry ``message_code`` and ``message_params``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.deletion import ProtectedError
from django.http import HttpRequest
from django.utils import timezone

from clusters.models import Cluster, KubeObject
from portal import audit, deletion, enqueue
from portal.errors import Conflict, Invalid
from portal.events import publish, reauthorize
from portal.models import AuditOutcome
from workspaces import access, rows
from workspaces import quota as q
from workspaces.models import (
    ApplyStatus,
    ClusterAllocation,
    Grant,
    Membership,
    RegistryAllocation,
    Role,
    ServiceMap,
    Workspace,
)

RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
_REGISTRY = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")


def _audit(request: HttpRequest | None, *, action: str, target: Any, detail: dict[str, Any] | None = None,
           actor: Any = None) -> None:
    if request is not None:
        audit.describe(request, action=action, target=target, detail=detail or {})
    else:
        audit.record(action=action, outcome=AuditOutcome.SUCCESS, actor=actor, target=target, detail=detail or {})


def _enqueue(task_name: str, *args: Any) -> None:
    """Send ``workspaces.<task_name>`` after commit, by name (the tasks sit above the actions), robustly."""
    enqueue.on_commit(f"workspaces.{task_name}", *args)


def _invalid(errors: dict[str, list[str]]) -> Invalid:
    """A 400 naming the fields, with DRF's summary as ``detail`` ("Invalid input: field: message")."""
    field, messages = next(iter(errors.items()))
    return Invalid(f"Invalid input: {field}: {messages[0]}", errors=errors)


# ---------------------------------------------------------------------------- publishing


def publish_workspace(workspace: Workspace) -> None:
    row = rows.workspace_rows([workspace], None)[0]
    for personal in ("my_role", "my_grants"):  # the group's members differ in these
        row.pop(personal, None)
    publish(f"workspace.{workspace.pk}", "workspace.updated", row)


def publish_service_map(sm: ServiceMap) -> None:
    publish_service_maps([sm])


def publish_service_maps(maps: list[ServiceMap], *, quotas: Mapping[tuple[int, str], KubeObject] | None = None
                         ) -> None:
    """Each map's row, built together (the usage and workload figures in one query each);
    ``quotas``: the maps' quota rows, when the caller has just read them."""
    for sm, row in zip(maps, rows.service_map_rows(maps, quotas=quotas), strict=True):
        publish(f"workspace.{sm.workspace_id}", "servicemap.updated", row)


def publish_allocation(allocation: ClusterAllocation) -> None:
    publish(f"workspace.{allocation.workspace_id}", "allocation.updated", rows.allocation_rows([allocation])[0])


# ---------------------------------------------------------------------------- roles


def _grants(raw: Any) -> list[str]:
    valid = {g.value for g in Grant}
    if not isinstance(raw, list) or any(not isinstance(g, str) or g not in valid for g in raw):
        raise _invalid({"grants": [f"Give a list of grants from: {', '.join(sorted(valid))}."]})
    return sorted(set(raw))


def create_role(*, data: dict[str, Any], request: HttpRequest | None = None) -> Role:
    if Role.objects.filter(key=data["key"]).exists():
        raise _invalid({"key": [f"A role with the key {data['key']!r} exists already."]})
    role = Role.objects.create(key=data["key"], name=data["name"], description=data.get("description", ""),
                               grants=_grants(data.get("grants", [])))
    _audit(request, action="role.create", target=role, detail={"grants": role.grants})
    return role


def update_role(*, role: Role, data: dict[str, Any], request: HttpRequest | None = None) -> Role:
    if role.builtin:
        raise Conflict(f"{role.name} is a built-in role and cannot be changed; create a custom role instead.")
    for field in ("name", "description"):
        if field in data:
            setattr(role, field, data[field])
    if "grants" in data:
        role.grants = _grants(data["grants"])
    role.save()
    _audit(request, action="role.update", target=role, detail={"fields": sorted(data)})
    return role


def delete_role(*, role: Role, request: HttpRequest | None = None) -> None:
    if role.builtin:
        raise Conflict(f"{role.name} is a built-in role and cannot be deleted.")
    used = Membership.objects.filter(role=role).count()
    if used:
        raise Conflict(f"{used} member(s) hold the role {role.name}; give them another role first.")
    _audit(request, action="role.delete", target=role)
    role.delete()


# ---------------------------------------------------------------------------- workspaces


def create_workspace(*, data: dict[str, Any], actor: Any, request: HttpRequest | None = None) -> Workspace:
    if Workspace.objects.filter(name__iexact=data["name"]).exists():
        raise _invalid({"name": [f"A workspace named {data['name']!r} exists already."]})
    try:
        with transaction.atomic():
            workspace = Workspace.objects.create(name=data["name"], display_name=data.get("display_name", ""),
                                                 description=data.get("description", ""), created_by=actor)
    except IntegrityError as exc:  # a concurrent create of the same name
        raise _invalid({"name": [f"A workspace named {data['name']!r} exists already."]}) from exc
    _audit(request, action="workspace.create", target=workspace)
    return workspace


def update_workspace(*, workspace: Workspace, data: dict[str, Any], request: HttpRequest | None = None) -> Workspace:
    for field in ("display_name", "description"):
        if field in data:
            setattr(workspace, field, data[field])
    workspace.save()
    _audit(request, action="workspace.update", target=workspace, detail={"fields": sorted(data)})
    publish_workspace(workspace)
    return workspace


def delete_workspace(*, workspace: Workspace, request: HttpRequest | None = None) -> None:
    count = ServiceMap.objects.filter(workspace=workspace).count()
    if count:
        raise Conflict(f"Workspace {workspace.name} still has {count} service map(s); delete them first "
                       "(that deletes their namespaces in the clusters).")
    _audit(request, action="workspace.delete", target=workspace)
    member_ids = list(Membership.objects.filter(workspace=workspace).values_list("user_id", flat=True))
    workspace.delete()
    reauthorize(member_ids, reason="workspace.delete")


# ---------------------------------------------------------------------------- members


def _role(key: Any) -> Role:
    Role.ensure_builtin()
    role = Role.objects.filter(key=key).first() if isinstance(key, str) else None
    if role is None:
        keys = ", ".join(Role.objects.values_list("key", flat=True))
        raise _invalid({"role": [f"No role {key!r}; choose one of: {keys}."]})
    return role


def _managers_left(workspace: Workspace, excluding: Membership) -> int:
    return sum(1 for m in Membership.objects.filter(workspace=workspace).exclude(pk=excluding.pk).select_related("role")
               if Grant.MEMBERS_MANAGE in m.role.grants)


def _guard_last_manager(membership: Membership, actor: Any, new_role: Role | None) -> None:
    if access.is_admin(actor):
        return
    if Grant.MEMBERS_MANAGE not in membership.role.grants:
        return
    if new_role is not None and Grant.MEMBERS_MANAGE in new_role.grants:
        return
    if _managers_left(membership.workspace, membership) == 0:
        raise Conflict("This is the last member who may manage members of the workspace; make someone else a "
                       "manager first (or ask a system admin).")


def add_member(*, workspace: Workspace, username: Any, role_key: Any, request: HttpRequest | None = None) -> Membership:
    user_model = get_user_model()
    user = (user_model.objects.filter(username=username, is_active=True).first()
            if isinstance(username, str) and username else None)
    errors: dict[str, list[str]] = {}
    if user is None:
        errors["user"] = [f"No active user {username!r}; check the username (an admin creates users)."]
    try:
        role = _role(role_key)
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise _invalid(errors)
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise Conflict(f"{username} is already a member of {workspace.name}; change their role instead.")
    try:
        with transaction.atomic():
            membership = Membership.objects.create(workspace=workspace, user=user, role=role)  # type: ignore[misc]
    except IntegrityError as exc:
        raise Conflict(f"{username} is already a member of {workspace.name}.") from exc
    _audit(request, action="workspace.member_add", target=workspace, detail={"user": username, "role": role.key})
    publish(f"workspace.{workspace.pk}", "member.changed", {"workspace": workspace.pk})
    return membership


def change_member(*, membership: Membership, role_key: Any, actor: Any, request: HttpRequest | None = None) -> Membership:
    role = _role(role_key)
    with transaction.atomic():
        # Lock the workspace: two managers demoting each other at once must not both succeed.
        Workspace.objects.select_for_update().filter(pk=membership.workspace_id).first()
        membership = Membership.objects.select_for_update().select_related("role", "workspace", "user").get(
            pk=membership.pk)
        _guard_last_manager(membership, actor, role)
        membership.role = role
        membership.save(update_fields=["role"])
    _audit(request, action="workspace.member_change", target=membership.workspace,
           detail={"user": membership.user.get_username(), "role": role.key})
    publish(f"workspace.{membership.workspace_id}", "member.changed", {"workspace": membership.workspace_id})
    reauthorize([membership.user_id], reason="workspace.member_change")
    return membership


def remove_member(*, membership: Membership, actor: Any, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        # Lock the workspace: two managers demoting each other at once must not both succeed.
        Workspace.objects.select_for_update().filter(pk=membership.workspace_id).first()
        membership = Membership.objects.select_for_update().select_related("role", "workspace", "user").get(
            pk=membership.pk)
        _guard_last_manager(membership, actor, None)
        membership.delete()
    _audit(request, action="workspace.member_remove", target=membership.workspace,
           detail={"user": membership.user.get_username()})
    # The removed member's open sockets stop hearing this workspace (and its namespaces); asked
    # first, so they leave before the member.changed event below reaches them.
    reauthorize([membership.user_id], reason="workspace.member_remove")
    publish(f"workspace.{membership.workspace_id}", "member.changed", {"workspace": membership.workspace_id})


# ---------------------------------------------------------------------------- allocations


def _parse_quota(raw: Any, field: str = "quota") -> q.Quota:
    try:
        return q.parse(raw, field=field)
    except q.QuotaError as exc:
        raise _invalid({k: [v] for k, v in exc.errors.items()}) from exc


def _storage_classes(raw: Any, cluster: Cluster) -> list[str]:
    if not isinstance(raw, list) or any(not isinstance(s, str) or not s for s in raw):
        raise _invalid({"storage_classes": ["Give a list of storage class names ([] for all of them)."]})
    known = set(KubeObject.objects.filter(cluster=cluster, kind="StorageClass").values_list("name", flat=True))
    unknown = sorted(set(raw) - known) if known else []
    if unknown:
        raise _invalid({"storage_classes": [
            f"Cluster {cluster.name} has no storage class {', '.join(unknown)}; it has {', '.join(sorted(known))}."]})
    return sorted(set(raw))


def _shares(workspace_id: int, cluster_id: int, exclude: int | None = None) -> list[ServiceMap]:
    maps = ServiceMap.objects.filter(workspace_id=workspace_id, cluster_id=cluster_id)
    if exclude is not None:
        maps = maps.exclude(pk=exclude)
    return list(maps)


def _used(maps: list[ServiceMap]) -> q.Quota:
    return rows.used_of(rows.quota_rows((sm.cluster_id, sm.namespace) for sm in maps), maps)


def create_allocation(*, workspace: Workspace, data: dict[str, Any], request: HttpRequest | None = None) -> ClusterAllocation:
    cluster_id = data.get("cluster")
    cluster = Cluster.objects.filter(pk=cluster_id).first() if isinstance(cluster_id, int) else None
    if cluster is None:
        raise _invalid({"cluster": [f"No cluster with id {data.get('cluster')!r}; register it first."]})
    quota = _parse_quota(data.get("quota", {}))
    storage_classes = _storage_classes(data.get("storage_classes", []), cluster)
    if ClusterAllocation.objects.filter(workspace=workspace, cluster=cluster).exists():
        raise Conflict(f"Cluster {cluster.name} is already allocated to {workspace.name}; change that allocation.")
    try:
        with transaction.atomic():
            allocation = ClusterAllocation.objects.create(
                workspace=workspace, cluster=cluster, quota=q.dump(quota), storage_classes=storage_classes,
                status=ApplyStatus.PENDING, message="Checking the cluster.", message_code="allocation_checking")
    except IntegrityError as exc:
        raise Conflict(f"Cluster {cluster.name} is already allocated to {workspace.name}.") from exc
    _audit(request, action="workspace.allocate", target=workspace,
           detail={"cluster": cluster.name, "quota": allocation.quota, "storage_classes": storage_classes})
    _enqueue("check_allocation", allocation.pk)
    transaction.on_commit(lambda: publish_allocation(allocation))
    return allocation


def update_allocation(*, allocation: ClusterAllocation, data: dict[str, Any], request: HttpRequest | None = None) -> tuple[
        ClusterAllocation, list[str]]:
    """Change an allocation's quota and storage classes; return it with warnings (what is over)."""
    force = bool(data.get("force", False))
    warnings: list[str] = []
    with transaction.atomic():
        allocation = ClusterAllocation.objects.select_for_update().select_related("cluster", "workspace").get(
            pk=allocation.pk)
        maps = _shares(allocation.workspace_id, allocation.cluster_id)
        old = q.load(allocation.quota)
        new = _parse_quota(data["quota"]) if "quota" in data else old
        storage_classes = (_storage_classes(data["storage_classes"], allocation.cluster)
                           if "storage_classes" in data else allocation.storage_classes)
        shared = q.add(*(q.load(sm.quota) for sm in maps))
        used = _used(maps)
        over_shares, over_use, added = [], [], []
        for key, value in sorted(new.items()):
            if key not in old and maps:
                added.append(key)
            if shared.get(key, Decimal(0)) > value:
                holders = ", ".join(f"{sm.namespace} ({q.fmt(key, q.load(sm.quota).get(key, Decimal(0)))})"
                                    for sm in maps if q.load(sm.quota).get(key))
                over_shares.append(f"{key}: the service maps hold {q.fmt(key, shared[key])} ({holders}); "
                                   f"shrink their shares before lowering it to {q.fmt(key, value)}")
            if used.get(key, Decimal(0)) > value:
                over_use.append(f"{key}: {q.fmt(key, used[key])} is in use, more than {q.fmt(key, value)}")
        if over_shares:
            raise Conflict("; ".join(over_shares) + ".")
        if over_use and not force:
            raise Conflict("; ".join(over_use) + ". Lowering below use leaves running pods over quota and blocks "
                           "new ones; send force: true to do it anyway.")
        if added and not force:
            names = ", ".join(sm.namespace for sm in maps)
            raise Conflict(f"Adding {', '.join(added)} bounds the service maps already on this cluster ({names}): "
                           "they get 0 of it until their managers give them a share. Send force: true to add it.")
        warnings = over_use + [f"{key}: service maps {', '.join(sm.namespace for sm in maps)} now get 0 of it"
                               for key in added]
        removed = [key for key in old if key not in new]
        allocation.quota = q.dump(new)
        allocation.storage_classes = storage_classes
        allocation.save(update_fields=["quota", "storage_classes", "updated"])
        for sm in maps:  # shares follow the allocation's keys; the namespaces are re-applied
            share = {k: v for k, v in q.load(sm.quota).items() if k not in removed}
            for key in added:
                share.setdefault(key, Decimal(0))
            sm.quota = q.dump(share)
            sm.generation += 1
            sm.save(update_fields=["quota", "generation"])
            _enqueue("apply_service_map", sm.pk)
    _audit(request, action="workspace.allocation_update", target=allocation.workspace,
           detail={"cluster": allocation.cluster.name, "quota": allocation.quota,
                   "storage_classes": storage_classes, "force": force, "warnings": warnings})
    transaction.on_commit(lambda: publish_allocation(allocation))
    return allocation, warnings


def delete_allocation(*, allocation: ClusterAllocation, request: HttpRequest | None = None) -> None:
    maps = _shares(allocation.workspace_id, allocation.cluster_id)
    if maps:
        raise Conflict(f"Service maps {', '.join(sm.namespace for sm in maps)} of {allocation.workspace.name} live on "
                       f"{allocation.cluster.name}; delete them first.")
    _audit(request, action="workspace.deallocate", target=allocation.workspace,
           detail={"cluster": allocation.cluster.name})
    allocation.delete()


def allocation_status(allocation: ClusterAllocation, status: str, message: str, *, code: str = "",
                      params: dict[str, Any] | None = None) -> str:
    params = dict(params or {})
    ClusterAllocation.objects.filter(pk=allocation.pk).update(status=status, message=message, message_code=code,
                                                              message_params=params, updated=timezone.now())
    allocation.status, allocation.message = status, message
    allocation.message_code, allocation.message_params = code, params
    publish_allocation(allocation)
    return status


# ---------------------------------------------------------------------------- registries


def add_registry(*, workspace: Workspace, data: dict[str, Any], request: HttpRequest | None = None) -> RegistryAllocation:
    registry = str(data.get("registry", "")).strip().lower().rstrip("/")
    if not _REGISTRY.match(registry):
        raise _invalid({"registry": [
            "Give a registry host with optional port and path, without a scheme, like registry.example.com:5000/team-a."]})
    if RegistryAllocation.objects.filter(workspace=workspace, registry=registry).exists():
        raise Conflict(f"{registry} is already allocated to {workspace.name}.")
    try:
        with transaction.atomic():
            allocation = RegistryAllocation.objects.create(workspace=workspace, registry=registry,
                                                           description=data.get("description", ""))
    except IntegrityError as exc:
        raise Conflict(f"{registry} is already allocated to {workspace.name}.") from exc
    _audit(request, action="workspace.registry_add", target=workspace, detail={"registry": registry})
    return allocation


def remove_registry(*, allocation: RegistryAllocation, request: HttpRequest | None = None) -> None:
    _audit(request, action="workspace.registry_remove", target=allocation.workspace,
           detail={"registry": allocation.registry})
    allocation.delete()


# ---------------------------------------------------------------------------- service maps


def _limits(raw: Any) -> dict[str, dict[str, str]]:
    if raw in (None, {}):
        return {}
    if not isinstance(raw, dict) or set(raw) - {"default_request", "default"}:
        raise _invalid({"limits": ['Give {"default_request": {"cpu", "memory"}, "default": {"cpu", "memory"}}.']})
    out: dict[str, dict[str, str]] = {}
    errors: dict[str, list[str]] = {}
    for part, values in raw.items():
        if not isinstance(values, dict) or set(values) - {"cpu", "memory"}:
            errors[f"limits.{part}"] = ["Give cpu and/or memory quantities."]
            continue
        key_of = {"cpu": "limits.cpu", "memory": "limits.memory"}
        try:
            parsed = q.parse({key_of[r]: v for r, v in values.items()}, field=f"limits.{part}")
        except q.QuotaError as exc:
            for k, v in exc.errors.items():
                errors[k.replace("limits.cpu", "cpu").replace("limits.memory", "memory")] = [v]
            continue
        out[part] = {r: q.fmt(key_of[r], parsed[key_of[r]]) for r in values}
    for resource in ("cpu", "memory"):
        request, limit = (out.get("default_request") or {}).get(resource), (out.get("default") or {}).get(resource)
        if request and limit and q.load({"x": request})["x"] > q.load({"x": limit})["x"]:
            errors[f"limits.default_request.{resource}"] = [
                f"The default request ({request}) must not exceed the default limit ({limit})."]
    if errors:
        raise _invalid(errors)
    return out


def _check_share(allocation: ClusterAllocation, share: q.Quota, others: list[ServiceMap], cluster_name: str
                 ) -> q.Quota:
    """The share with every allocated key (0 where not given); 400 naming what does not fit."""
    allocated = q.load(allocation.quota)
    errors: dict[str, list[str]] = {}
    for key in share:
        if key not in allocated:
            errors[f"quota.{key}"] = [f"The workspace's allocation on {cluster_name} does not include {key}; "
                                      "ask a system admin to allocate it."]
    taken = q.add(*(q.load(sm.quota) for sm in others))
    full = {key: share.get(key, Decimal(0)) for key in allocated}
    for key, value in full.items():
        left = allocated[key] - taken.get(key, Decimal(0))
        if value > left:
            errors[f"quota.{key}"] = [
                f"{key}: {q.fmt(key, taken.get(key, Decimal(0)))} of {q.fmt(key, allocated[key])} is shared by other "
                f"service maps on {cluster_name}; at most {q.human(key, max(left, Decimal(0)))} is left."]
    if errors:
        raise _invalid(errors)
    return full


def create_service_map(*, workspace: Workspace, data: dict[str, Any], actor: Any, request: HttpRequest | None = None) -> ServiceMap:
    namespace = data["namespace"]
    if namespace in RESERVED_NAMESPACES or namespace.startswith("kube-"):
        raise _invalid({"namespace": [f"{namespace} is a system namespace; choose another name."]})
    cluster_id = data["cluster"]
    share = _parse_quota(data.get("quota", {}))
    limits = _limits(data.get("limits"))
    with transaction.atomic():
        allocation = (ClusterAllocation.objects.select_for_update().select_related("cluster")
                      .filter(workspace=workspace, cluster_id=cluster_id).first())
        if allocation is None:
            raise _invalid({"cluster": [
                f"Cluster {cluster_id} is not allocated to workspace {workspace.name}; ask a system admin to allocate "
                "it first."]})
        cluster = allocation.cluster
        if ServiceMap.objects.filter(cluster=cluster, namespace=namespace).exists():
            raise Conflict(f"Namespace {namespace} on {cluster.name} is already a service map; choose another name.")
        live = KubeObject.objects.filter(cluster=cluster, kind="Namespace", name=namespace).first()
        if live is not None:
            raise Conflict(f"Namespace {namespace} already exists in cluster {cluster.name} and is not managed by the "
                           "portal; choose another name.")
        full = _check_share(allocation, share, _shares(workspace.pk, cluster.pk), cluster.name)
        try:
            with transaction.atomic():
                sm = ServiceMap.objects.create(
                    workspace=workspace, cluster=cluster, namespace=namespace,
                    display_name=data.get("display_name", ""), description=data.get("description", ""),
                    quota=q.dump(full), limits=limits, status=ApplyStatus.PENDING, created_by=actor)
        except IntegrityError as exc:
            raise Conflict(f"Namespace {namespace} on {cluster.name} was just taken; choose another name.") from exc
        _audit(request, action="servicemap.create", target=sm,
               detail={"workspace": workspace.name, "cluster": cluster.name, "quota": sm.quota})
        _enqueue("apply_service_map", sm.pk)
        transaction.on_commit(lambda: publish_service_map(sm))
    return sm


def update_service_map(*, sm: ServiceMap, data: dict[str, Any], request: HttpRequest | None = None) -> tuple[ServiceMap, list[str]]:
    force = bool(data.get("force", False))
    warnings: list[str] = []
    with transaction.atomic():
        allocation = (ClusterAllocation.objects.select_for_update()
                      .filter(workspace_id=sm.workspace_id, cluster_id=sm.cluster_id).first())
        sm = ServiceMap.objects.select_for_update().select_related("cluster", "workspace").get(pk=sm.pk)
        if sm.status == ApplyStatus.DELETING:
            raise Conflict(f"Service map {sm.namespace} is being deleted.")
        changed = []
        for field in ("display_name", "description"):
            if field in data and data[field] != getattr(sm, field):
                setattr(sm, field, data[field])
                changed.append(field)
        if "quota" in data:
            if allocation is None:  # pragma: no cover - allocations cannot go while service maps exist
                raise Conflict("The workspace no longer has an allocation on this cluster.")
            share = _parse_quota(data["quota"])
            full = _check_share(allocation, share, _shares(sm.workspace_id, sm.cluster_id, exclude=sm.pk),
                                sm.cluster.name)
            used = _used([sm])
            over = [f"{key}: {sm.namespace} uses {q.fmt(key, used[key])}, more than {q.fmt(key, value)}"
                    for key, value in sorted(full.items()) if used.get(key, Decimal(0)) > value]
            if over and not force:
                raise Conflict("; ".join(over) + ". Lowering below use leaves running pods over quota and blocks new "
                               "ones; send force: true to do it anyway.")
            warnings = over
            sm.quota = q.dump(full)
            changed.append("quota")
        if "limits" in data:
            sm.limits = _limits(data["limits"])
            changed.append("limits")
        if {"quota", "limits", "display_name"} & set(changed):
            sm.generation += 1
            sm.status = ApplyStatus.PENDING
            _enqueue("apply_service_map", sm.pk)
        sm.save()
        _audit(request, action="servicemap.update", target=sm,
               detail={"fields": changed, "quota": sm.quota, "force": force, "warnings": warnings})
        transaction.on_commit(lambda: publish_service_map(sm))
    return sm, warnings


def delete_service_map(*, sm: ServiceMap, request: HttpRequest | None = None) -> ServiceMap:
    with transaction.atomic():
        sm = ServiceMap.objects.select_for_update().select_related("cluster", "workspace").get(pk=sm.pk)
        if sm.status == ApplyStatus.DELETING:  # asked again: look at the namespace now; the start time stays
            _enqueue("delete_service_map", sm.pk)
            return sm
        used_by = deletion.protected_by(sm)  # e.g. build definitions that build in it: refused before anything
        if used_by:
            raise Conflict(f"Service map {sm.namespace} is still used by {used_by}; delete or move them first.",
                           code="servicemap_in_use", params={"namespace": sm.namespace, "objects": used_by})
        sm.status = ApplyStatus.DELETING
        sm.message = f"Deleting namespace {sm.namespace} and everything in it."
        sm.message_code, sm.message_params = "servicemap_deleting", {"namespace": sm.namespace}
        sm.deleting_since, sm.deletion_stuck = timezone.now(), False
        sm.save(update_fields=["status", "message", "message_code", "message_params", "deleting_since",
                               "deletion_stuck"])
        _audit(request, action="servicemap.delete", target=sm, detail={"cluster": sm.cluster.name})
        _enqueue("delete_service_map", sm.pk)
        transaction.on_commit(lambda: publish_service_map(sm))
    return sm


def service_map_applied(sm: ServiceMap, *, generation: int, status: str, message: str, code: str = "",
                        params: dict[str, Any] | None = None) -> str:
    """Record the outcome of applying ``generation`` (ignored if a newer change arrived, whose own
    apply is queued)."""
    values: dict[str, Any] = {"status": status, "message": message, "message_code": code,
                              "message_params": dict(params or {})}
    if status == ApplyStatus.READY:
        values.update(applied_generation=generation, last_applied=timezone.now())
    updated = ServiceMap.objects.filter(pk=sm.pk, generation=generation).exclude(
        status=ApplyStatus.DELETING).update(**values)
    if updated:
        for key, value in values.items():
            setattr(sm, key, value)
        publish_service_map(sm)
        if status == ApplyStatus.READY:
            ClusterAllocation.objects.filter(workspace_id=sm.workspace_id, cluster_id=sm.cluster_id).exclude(
                status=ApplyStatus.READY).update(status=ApplyStatus.READY, message="", message_code="",
                                                 message_params={})
    return status


def service_map_message(sm: ServiceMap, message: str, *, code: str = "", params: dict[str, Any] | None = None
                        ) -> None:
    params = dict(params or {})
    ServiceMap.objects.filter(pk=sm.pk).update(message=message, message_code=code, message_params=params)
    sm.message, sm.message_code, sm.message_params = message, code, params
    publish_service_map(sm)


def service_map_deletion_progress(sm: ServiceMap, *, stuck: bool, message: str, code: str = "",
                                  params: dict[str, Any] | None = None) -> None:
    """Record why the namespace of a deleting service map is still there; published when it
    changes, audited once when the deletion becomes stuck."""
    updated = ServiceMap.objects.filter(pk=sm.pk, status=ApplyStatus.DELETING).exclude(
        message=message, deletion_stuck=stuck).update(message=message, deletion_stuck=stuck, message_code=code,
                                                      message_params=dict(params or {}))
    if not updated:
        return
    became_stuck = stuck and not sm.deletion_stuck
    sm.message, sm.deletion_stuck = message, stuck
    sm.message_code, sm.message_params = code, dict(params or {})
    if became_stuck:
        audit.record(action="servicemap.deletion_stuck", outcome=AuditOutcome.FAILURE, target=sm,
                     detail={"cluster": sm.cluster.name, "namespace": sm.namespace, "message": message[:500]})
    publish_service_map(sm)


def service_map_deleted(sm: ServiceMap) -> None:
    try:
        deleted, _ = ServiceMap.objects.filter(pk=sm.pk, status=ApplyStatus.DELETING).delete()
    except ProtectedError as exc:  # something came to use it while the namespace went: say what, keep the row
        used_by = deletion.describe(exc.protected_objects)
        service_map_message(sm, f"The namespace is gone, but {used_by} still use this service map; delete or move "
                                "them, then delete the service map again.",
                            code="servicemap_in_use", params={"namespace": sm.namespace, "objects": used_by})
        return
    if deleted:
        audit.record(action="servicemap.deleted", outcome=AuditOutcome.SUCCESS, target=sm,
                     detail={"cluster": sm.cluster.name, "namespace": sm.namespace})
        publish(f"workspace.{sm.workspace_id}", "servicemap.deleted", {"id": sm.pk})
        # Its namespace group is no longer the members' to hear (another workspace may get it next).
        reauthorize(Membership.objects.filter(workspace_id=sm.workspace_id).values_list("user_id", flat=True),
                    reason="servicemap.deleted")


def quota_restored(sm: ServiceMap, reason: str) -> None:
    audit.record(action="servicemap.quota_restored", outcome=AuditOutcome.SUCCESS, target=sm,
                 detail={"cluster": sm.cluster.name, "namespace": sm.namespace, "reason": reason})


def visible_user_filter(q_text: str) -> Q:
    return Q(username__icontains=q_text) | Q(first_name__icontains=q_text) | Q(last_name__icontains=q_text)

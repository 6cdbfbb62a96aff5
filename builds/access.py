"""Who may see and do what with registries, images, build definitions, runs and scan policies.

* **Registries** are managed by system admins (create, change, rotate the password, delete,
  allocate to workspaces). Operators and auditors see every registry; a workspace member sees a
  registry where one of their workspaces holds a :class:`~workspaces.models.RegistryAllocation`
  inside it, and inside it only the repositories under that allocation's prefix (the allocation
  ``registry.example.com/team-a`` owns ``team-a`` and ``team-a/…``; an allocation of the bare host
  owns every repository). Deleting a tag needs ``builds.run`` in a workspace that owns the
  repository (or an admin).
* **Build definitions and runs** are seen by the members of their workspace (and by those who see
  every workspace); creating, changing, deleting a definition and running, rebuilding or
  cancelling a build need ``builds.run`` there. A definition with a deploy step also needs
  ``workloads.deploy`` in the release's workspace from whoever saves it or runs it by hand; a
  webhook-triggered run deploys as the definition's last editor, checked again at the deploy step.
* **Scan policies** are changed by admins and by those who may manage the workspace's members
  (its managers); every member reads theirs.

Socket groups: ``buildrun.<id>`` (one run's steps and log lines) for whoever sees the run; run
rows also go to the existing ``workspace.<id>`` group.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from builds.models import BuildDefinition, BuildRun, Registry, ScanPolicy
from portal import access as portal_access
from portal import errors
from portal.events import register_group
from workspaces import access as ws_access
from workspaces.models import Grant, RegistryAllocation, Workspace

BUILDS_RUN = str(Grant.BUILDS_RUN)
MANAGE_REGISTRIES = "manage registries"


# ---------------------------------------------------------------------------- registry prefixes


def allocation_prefix(allocation: str, host: str) -> str | None:
    """The repository prefix an allocation string (``host[:port][/prefix]``) gives inside the registry
    at ``host``: ``""`` for the whole registry, ``None`` when the allocation is of another registry."""
    allocation, host = allocation.strip().lower().rstrip("/"), host.strip().lower()
    if allocation == host:
        return ""
    if allocation.startswith(host + "/"):
        return allocation[len(host) + 1:]
    return None


def under_prefix(repository: str, prefix: str) -> bool:
    return prefix == "" or repository == prefix or repository.startswith(prefix + "/")


def workspace_prefixes(workspace_ids: Any, registry: Registry) -> list[str]:
    """The repository prefixes the workspaces hold in ``registry`` (``[""]``: all of it)."""
    out = set()
    for allocation in RegistryAllocation.objects.filter(workspace_id__in=workspace_ids).values_list(
            "registry", flat=True):
        prefix = allocation_prefix(allocation, registry.host)
        if prefix is not None:
            out.add(prefix)
    return sorted(out)


def _member_workspace_ids(user: Any) -> QuerySet[Any]:
    return ws_access.visible_workspaces(user).values("pk")


def user_prefixes(user: Any, registry: Registry) -> list[str] | None:
    """The repository prefixes ``user`` may see in ``registry``: ``None`` for every repository
    (admins, operators, auditors), ``[]`` for none."""
    if portal_access.reads_all_clusters(user):
        return None
    if not portal_access.signed_in(user):
        return []
    return workspace_prefixes(_member_workspace_ids(user), registry)


def prefixes_by_registry(user: Any, registries: list[Registry]) -> dict[int, list[str] | None]:
    """:func:`user_prefixes` of many registries in one query (list pages)."""
    if portal_access.reads_all_clusters(user):
        return {r.pk: None for r in registries}
    if not portal_access.signed_in(user):
        return {r.pk: [] for r in registries}
    allocations = list(RegistryAllocation.objects.filter(workspace_id__in=_member_workspace_ids(user))
                       .values_list("registry", flat=True))
    out: dict[int, list[str] | None] = {}
    for registry in registries:
        found = {p for a in allocations if (p := allocation_prefix(a, registry.host)) is not None}
        out[registry.pk] = sorted(found)
    return out


def sees_allocations(user: Any) -> bool:
    """Whether ``user`` sees which workspaces hold what in a registry (those who see every registry)."""
    return portal_access.reads_all_clusters(user)


def may_see_repository(user: Any, registry: Registry, repository: str) -> bool:
    prefixes = user_prefixes(user, registry)
    return prefixes is None or any(under_prefix(repository, p) for p in prefixes)


def owning_workspaces(registry: Registry, repository: str) -> list[Workspace]:
    """The workspaces whose allocations hold ``repository`` in ``registry``."""
    ids = [a.workspace_id for a in RegistryAllocation.objects.only("workspace_id", "registry")
           if (p := allocation_prefix(a.registry, registry.host)) is not None and under_prefix(repository, p)]
    return list(Workspace.objects.filter(pk__in=ids))


def require_repository(user: Any, registry: Registry, repository: str) -> None:
    """404 (``repository_not_found``, naming nothing more) unless ``user`` may see the repository."""
    if not may_see_repository(user, registry, repository):
        raise errors.NotFound("No such repository in this registry.", code="repository_not_found")


def require_delete_tag(user: Any, registry: Registry, repository: str) -> None:
    """403 unless ``user`` is an admin or holds ``builds.run`` in a workspace owning ``repository``."""
    require_repository(user, registry, repository)
    if portal_access.is_admin(user):
        return
    owners = owning_workspaces(registry, repository)
    if not any(ws_access.allowed(user, ws, BUILDS_RUN) for ws in owners):
        name = owners[0].name if owners else ""
        raise portal_access.grant_missing(name, BUILDS_RUN)


def require_delete_tags_in(user: Any, registry: Registry) -> None:
    """403 unless ``user`` is an admin or holds ``builds.run`` in some workspace with an allocation
    in ``registry`` (checked before the request's repository is even read)."""
    if portal_access.is_admin(user):
        return
    holders = [a.workspace for a in RegistryAllocation.objects.select_related("workspace")
               .filter(workspace__in=_member_workspace_ids(user))
               if allocation_prefix(a.registry, registry.host) is not None]
    if not any(ws_access.allowed(user, ws, BUILDS_RUN) for ws in holders):
        raise portal_access.grant_missing(holders[0].name if holders else "", BUILDS_RUN)


def may_use_plain_http(user: Any) -> bool:
    """A registry over plain HTTP: anyone in the development and test profiles, system admins
    elsewhere (a registry on their own network), as catalog sources' ``http://`` addresses."""
    return settings.PORTAL_ENV in ("development", "test") or portal_access.is_admin(user)


def require_registry_in_workspace(registry: Registry, workspace: Workspace, repository: str) -> None:
    """400 unless ``workspace`` holds an allocation of ``registry`` that contains ``repository``."""
    prefixes = workspace_prefixes([workspace.pk], registry)
    if not prefixes:
        raise errors.Invalid(
            f"Workspace {workspace.name} has no allocation in registry {registry.pk}; ask an admin to allocate it.",
            # the id the caller gave, never the name of a registry the workspace holds nothing in
            code="registry_not_allocated", params={"workspace": workspace.name, "registry": str(registry.pk)})
    if not any(under_prefix(repository, p) for p in prefixes):
        raise errors.Invalid(
            f"Repository {repository} is outside what workspace {workspace.name} holds in registry {registry.name} "
            f"({', '.join(p + '/…' for p in prefixes)}).",
            code="repository_outside_allocation",
            params={"repository": repository, "prefixes": ", ".join(prefixes)})


@portal_access.register
class RegistryAccess(portal_access.Access[Registry]):
    model = Registry

    def visible(self, user: Any) -> QuerySet[Registry]:
        if portal_access.reads_all_clusters(user):
            return Registry.objects.all()
        if not portal_access.signed_in(user):
            return Registry.objects.none()
        allocations = list(RegistryAllocation.objects.filter(workspace__in=_member_workspace_ids(user))
                           .values_list("registry", flat=True))
        hosts = {a.split("/", 1)[0] for a in allocations}
        return Registry.objects.filter(host__in=hosts)

    def can_view(self, user: Any, obj: Registry | None) -> bool:
        return obj is not None and self.visible(user).filter(pk=obj.pk).exists()

    def can_create(self, user: Any, obj: Registry | None) -> bool:
        return portal_access.is_admin(user)

    def can_change(self, user: Any, obj: Registry | None) -> bool:
        return portal_access.is_admin(user)

    def can_delete(self, user: Any, obj: Registry | None) -> bool:
        return portal_access.is_admin(user)

    def can_allocate(self, user: Any, obj: Registry | None) -> bool:
        return portal_access.is_admin(user)

    def denied(self, user: Any, action: str, obj: Registry | None) -> errors.Forbidden:
        return portal_access.admin_only(MANAGE_REGISTRIES)


# ---------------------------------------------------------------------------- definitions and runs


def may_run(user: Any, workspace: Workspace) -> bool:
    return ws_access.allowed(user, workspace, BUILDS_RUN)


def require_run(user: Any, workspace: Workspace) -> None:
    ws_access.require_grant(user, workspace, BUILDS_RUN)


def require_deploy(user: Any, workspace: Workspace) -> None:
    """The deploy step's check: ``workloads.deploy`` in the release's workspace."""
    ws_access.require_grant(user, workspace, str(Grant.WORKLOADS_DEPLOY))


def may_deploy(user: Any, workspace: Workspace) -> bool:
    return ws_access.allowed(user, workspace, str(Grant.WORKLOADS_DEPLOY))


@portal_access.register
class BuildDefinitionAccess(portal_access.Access[BuildDefinition]):
    model = BuildDefinition

    def visible(self, user: Any) -> QuerySet[BuildDefinition]:
        return BuildDefinition.objects.filter(workspace__in=_member_workspace_ids(user))

    def can_view(self, user: Any, obj: BuildDefinition | None) -> bool:
        return obj is not None and self.visible(user).filter(pk=obj.pk).exists()

    def can_create(self, user: Any, obj: BuildDefinition | None) -> bool:
        return obj is not None and may_run(user, obj.workspace)

    def can_change(self, user: Any, obj: BuildDefinition | None) -> bool:
        return obj is not None and may_run(user, obj.workspace)

    def can_delete(self, user: Any, obj: BuildDefinition | None) -> bool:
        return obj is not None and may_run(user, obj.workspace)

    def can_run(self, user: Any, obj: BuildDefinition | None) -> bool:
        return obj is not None and may_run(user, obj.workspace)

    def denied(self, user: Any, action: str, obj: BuildDefinition | None) -> errors.Forbidden:
        if obj is not None:
            return portal_access.grant_missing(obj.workspace.name, BUILDS_RUN)
        return super().denied(user, action, obj)


@portal_access.register
class BuildRunAccess(portal_access.Access[BuildRun]):
    model = BuildRun

    def visible(self, user: Any) -> QuerySet[BuildRun]:
        return BuildRun.objects.filter(workspace__in=_member_workspace_ids(user))

    def can_view(self, user: Any, obj: BuildRun | None) -> bool:
        return obj is not None and self.visible(user).filter(pk=obj.pk).exists()

    def can_cancel(self, user: Any, obj: BuildRun | None) -> bool:
        return obj is not None and may_run(user, obj.workspace)

    def can_rebuild(self, user: Any, obj: BuildRun | None) -> bool:
        return obj is not None and may_run(user, obj.workspace)

    def denied(self, user: Any, action: str, obj: BuildRun | None) -> errors.Forbidden:
        if obj is not None:
            return portal_access.grant_missing(obj.workspace.name, BUILDS_RUN)
        return super().denied(user, action, obj)


# ---------------------------------------------------------------------------- scan policy


def may_change_policy(user: Any, workspace: Workspace) -> bool:
    return portal_access.is_admin(user) or ws_access.allowed(user, workspace, str(Grant.MEMBERS_MANAGE))


def require_change_policy(user: Any, workspace: Workspace) -> None:
    if not may_change_policy(user, workspace):
        raise portal_access.grant_missing(workspace.name, str(Grant.MEMBERS_MANAGE))


@portal_access.register
class ScanPolicyAccess(portal_access.Access[ScanPolicy]):
    model = ScanPolicy

    def visible(self, user: Any) -> QuerySet[ScanPolicy]:
        return ScanPolicy.objects.filter(workspace__in=_member_workspace_ids(user))

    def can_change(self, user: Any, obj: ScanPolicy | None) -> bool:
        return obj is not None and may_change_policy(user, obj.workspace)

    def denied(self, user: Any, action: str, obj: ScanPolicy | None) -> errors.Forbidden:
        if obj is not None:
            return portal_access.grant_missing(obj.workspace.name, str(Grant.MEMBERS_MANAGE))
        return super().denied(user, action, obj)


# ---------------------------------------------------------------------------- socket groups


def _buildrun_group(user: Any, key: str) -> bool:
    return key.isdigit() and BuildRunAccess().visible(user).filter(pk=int(key)).exists()


def install() -> None:
    register_group("buildrun", _buildrun_group,
                   "One build run, `buildrun.<id>`, for whoever sees it. Events: buildrun.updated (the run with its "
                   "steps), buildrun.log (text appended to a step's kept log at byte offset `offset`: {run, step, offset, text}).")

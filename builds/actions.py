"""The writers of build definitions and the runs they start: create, change and delete a
definition; start a run (by hand, by webhook, as a rebuild); ask a run to stop; rotate a
definition's webhook secret (issue 13, docs/builds.md).

Every write validates before it touches a row, so bad input is a 400 naming the field with a
stable ``code`` and nothing half-written (:mod:`portal.errors`); writes one transaction; audits
(``describe`` inside API requests, ``record`` otherwise); publishes run rows
(:func:`builds.rows.run_row`) to ``workspace.<id>`` and ``buildrun.<id>`` after commit; and sends
the runner's tasks by name after commit (:mod:`portal.enqueue`), as the tasks sit above this module.

Secrets: the git password and the webhook secret are encrypted in the row (bound to its id) and
never returned, logged or broadcast; a webhook secret is made here (``secrets.token_urlsafe(32)``)
and handed back once, by the call that made it (creation, enabling the webhook, rotation).

Build numbers: :func:`create_run` locks the definition row (``select_for_update``) and raises
``next_build_number`` with an ``F()`` update in the same transaction, so concurrent runs of one
definition get consecutive numbers and distinct ``1.0.B00000n`` tags.

Who may do what is decided in :mod:`builds.access` (the views ask it); the checks here that name a
grant (``workloads.deploy`` for a deploy step) call it too.
"""

from __future__ import annotations

import posixpath
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from builds import access, presets, rows, tags
from builds.models import (
    RUN_FINISHED,
    BuildDefinition,
    BuildRun,
    BuildStep,
    Registry,
    RunStatus,
    StepName,
    StepStatus,
    Trigger,
)
from catalog.models import Release
from clusters.models import Cluster
from portal import audit, enqueue, errors, outbound
from portal.addresses import AddressError
from portal.events import publish
from portal.models import AuditOutcome
from workspaces.models import ClusterAllocation, ServiceMap, Workspace

WEBHOOK_PATH = "/api/builds/webhooks/{id}/"
ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLING)
MAX_BUILD_ARGS = 50
BUILD_ARG_VALUE_MAX = 4096
MAX_TRIGGER_REFS = 20
GIT_SECRET_MAX = 1000
# Fields a definition stores as given (after the checks below); the rest are relations or secrets.
PLAIN_FIELDS = ("description", "git_url", "git_ref", "git_username", "context_dir", "dockerfile_path", "preset",
                "build_args", "repository", "tag_scheme", "version", "builder", "resources", "cache_size",
                "timeout_seconds", "keep_runs", "scan", "deploy_image_path", "deploy_image_format", "trigger_refs")
_BUILD_ARG = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_QUANTITY = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?)(?:m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
_VALUES_PATH = re.compile(r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$")
_TRIGGER_REF = re.compile(r"^refs/(heads|tags)/[A-Za-z0-9._/*-]+$")
_GIT_REF_BAD = re.compile(r"(\.\.|@\{|//|[\x00-\x20\x7f~^:?*\[\\])")


# ---------------------------------------------------------------------------- helpers


def _invalid(field: str, message: str, *, code: str, params: dict[str, Any] | None = None) -> errors.Invalid:
    """A 400 naming ``field``, worded as the API words every field error."""
    return errors.Invalid(f"Invalid input: {field}: {message}", code=code, params=params,
                          errors={field: [message]})


def _audit(request: HttpRequest | None, *, action: str, target: Any, user: Any = None,
           detail: dict[str, Any] | None = None) -> None:
    if request is not None:
        audit.describe(request, action=action, target=target, detail=detail or {})
    else:
        audit.record(action=action, outcome=AuditOutcome.SUCCESS, actor=user, target=target, detail=detail or {},
                     actor_username="" if user is not None else "webhook")


def webhook_url(definition: BuildDefinition, request: Any = None) -> str:
    """Where a git host posts pushes for ``definition`` (absolute when a request says the host)."""
    path = WEBHOOK_PATH.format(id=definition.pk)
    return request.build_absolute_uri(path) if request is not None else path


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


# ---------------------------------------------------------------------------- checks


def _check_git_url(url: str, user: Any) -> None:
    """http(s) only, through the address policy; plain ``http://`` (the git password would travel in
    clear) as registries allow it: development and test, or a system admin."""
    try:
        outbound.validate_url(url, schemes=("http", "https"))
    except AddressError as exc:
        raise _invalid("git_url", str(exc), code=exc.code) from exc
    if urlsplit(url).query or urlsplit(url).fragment:
        raise _invalid("git_url", "A repository address has no query or fragment.", code="invalid_host")
    if urlsplit(url).scheme == "http" and not access.may_use_plain_http(user):
        raise _invalid("git_url", "Use https:// (only system admins may build from an http:// repository).",
                       code="git_plain_http_refused")


def _check_git_ref(ref: str, field: str = "git_ref") -> None:
    if not ref or ref.startswith(("-", "/")) or ref.endswith(("/", ".", ".lock")) or _GIT_REF_BAD.search(ref):
        raise _invalid(field, "Give a branch, tag or commit name (no spaces, '..', '~', '^', ':', '?', '*', '[' "
                              "or '\\', not starting with '-').", code="git_ref_invalid", params={"ref": ref[:255]})


def _check_git_credential(field: str, value: str) -> None:
    # The clone's credential helper prints these on lines of their own.
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise _invalid(field, "Control characters and line breaks are not allowed here.",
                       code="git_credentials_invalid")


def clean_path(field: str, value: str, *, default: str) -> str:
    """A path relative to the repository (``context_dir``) or to the context (``dockerfile_path``),
    normalised; 400 ``path_outside_context`` for one that is absolute or climbs out with ``..``."""
    value = (value or default).strip()
    if "\\" in value or any(ord(c) < 32 for c in value):
        raise _invalid(field, "Use '/' between directories; control characters are not allowed.",
                       code="path_outside_context", params={"path": value[:255]})
    if value.startswith("/") or ".." in value.split("/"):
        raise _invalid(field, f"{value} is outside the build context: give a path relative to it, without '..'.",
                       code="path_outside_context", params={"path": value[:255]})
    normal = posixpath.normpath(value)
    if field == "dockerfile_path" and normal == ".":
        raise _invalid(field, "Name the Dockerfile, for example Dockerfile or docker/Dockerfile.",
                       code="path_outside_context", params={"path": value[:255]})
    return normal


def _check_repository(repository: str) -> None:
    problem = tags.repository_problem(repository)
    if problem:
        raise _invalid("repository", problem, code="repository_invalid", params={"repository": repository[:255]})


def _check_version(version: str) -> None:
    problem = tags.version_problem(version)
    if problem:
        raise _invalid("version", problem, code="version_invalid", params={"version": version[:64]})


def _check_build_args(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping) or len(raw) > MAX_BUILD_ARGS:
        raise _invalid("build_args", f"Give an object of at most {MAX_BUILD_ARGS} build arguments, "
                                     "like {\"NODE_ENV\": \"production\"}.", code="build_args_invalid")
    out: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not _BUILD_ARG.match(name):
            raise _invalid("build_args", f"{str(name)[:128]!r} is no build argument name (letters, digits and '_', "
                                         "not starting with a digit).", code="build_args_invalid")
        if not isinstance(value, str) or len(value) > BUILD_ARG_VALUE_MAX or "\n" in value or "\x00" in value:
            raise _invalid("build_args", f"The value of {name} must be one line of text of at most "
                                         f"{BUILD_ARG_VALUE_MAX} characters.", code="build_args_invalid")
        out[name] = value
    return dict(sorted(out.items()))


def _check_quantity(field: str, value: Any) -> str:
    if not isinstance(value, str) or not _QUANTITY.match(value.strip()):
        raise _invalid(field, f"{str(value)[:64]!r} is no Kubernetes quantity (for example 500m, 2, 512Mi, 2Gi).",
                       code="quantity_invalid", params={"value": str(value)[:64]})
    return value.strip()


def _check_resources(raw: Any) -> dict[str, dict[str, str]]:
    if not isinstance(raw, Mapping) or set(raw) - {"requests", "limits"}:
        raise _invalid("resources", "Give {\"requests\": {\"cpu\", \"memory\"}, \"limits\": {\"cpu\", \"memory\"}}.",
                       code="resources_invalid")
    out: dict[str, dict[str, str]] = {}
    for part, values in raw.items():
        if not isinstance(values, Mapping) or set(values) - {"cpu", "memory"}:
            raise _invalid("resources", f"{part} takes cpu and memory only.", code="resources_invalid")
        out[part] = {key: _check_quantity(f"resources.{part}.{key}", v) for key, v in sorted(values.items())}
    return out


def _check_trigger_refs(raw: Any) -> list[str]:
    if not isinstance(raw, list) or len(raw) > MAX_TRIGGER_REFS:
        raise _invalid("trigger_refs", f"Give a list of at most {MAX_TRIGGER_REFS} refs.", code="trigger_refs_invalid")
    for ref in raw:
        if not isinstance(ref, str) or len(ref) > 255 or not _TRIGGER_REF.match(ref) or ".." in ref:
            raise _invalid("trigger_refs", f"{str(ref)[:255]!r} is not refs/heads/<branch> or refs/tags/<tag> "
                                           "('*' matches any part).", code="trigger_refs_invalid")
    return list(dict.fromkeys(raw))


def _check_where(workspace: Workspace, cluster_id: int, service_map_id: int) -> tuple[Cluster, ServiceMap]:
    """The build cluster must be allocated to the workspace, the service map the workspace's, on it."""
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None or not ClusterAllocation.objects.filter(workspace=workspace, cluster=cluster).exists():
        raise _invalid("cluster", f"Workspace {workspace.name} has no allocation on cluster {cluster_id}; build on a "
                                  "cluster the workspace holds.", code="cluster_not_allocated",
                       params={"workspace": workspace.name, "cluster": str(cluster_id)})  # never the name of a cluster not held
    sm = ServiceMap.objects.filter(pk=service_map_id).first()
    if sm is None or sm.workspace_id != workspace.pk or sm.cluster_id != cluster.pk:
        raise _invalid("service_map", f"Service map {service_map_id} is not one of workspace {workspace.name} on "
                                      f"cluster {cluster.name}.", code="service_map_mismatch",
                       params={"workspace": workspace.name, "cluster": cluster.name})
    if sm.deleting_since is not None:
        raise _invalid("service_map", f"Service map {sm.namespace} is being deleted; nothing new can run in it.",
                       code="servicemap_deleting", params={"namespace": sm.namespace})
    return cluster, sm


def _check_registry(workspace: Workspace, registry_id: int, repository: str) -> Registry:
    registry = Registry.objects.filter(pk=registry_id).first()
    if registry is None:
        raise _invalid("registry", f"Workspace {workspace.name} has no registry {registry_id}.",
                       code="registry_not_allocated", params={"workspace": workspace.name, "registry": str(registry_id)})
    try:
        access.require_registry_in_workspace(registry, workspace, repository)
    except errors.Invalid as exc:
        field = "registry" if exc.code == "registry_not_allocated" else "repository"
        raise errors.Invalid(f"Invalid input: {field}: {exc.message}", code=exc.code, params=exc.params,
                             errors={field: [exc.message]}) from exc
    return registry


def _check_release(workspace: Workspace, release_id: int | None, user: Any) -> Release | None:
    if release_id is None:
        return None
    release = Release.objects.select_related("workspace").filter(pk=release_id).first()
    if release is None or release.workspace_id != workspace.pk:
        raise _invalid("deploy_release", f"Workspace {workspace.name} has no release {release_id}; a build deploys "
                                         "to a release of its own workspace.", code="deploy_release_invalid",
                       params={"workspace": workspace.name})
    if user is not None:
        access.require_deploy(user, release.workspace)
    return release


def _validated(workspace: Workspace, data: Mapping[str, Any], user: Any, *,
               current: BuildDefinition | None) -> dict[str, Any]:
    """Check what ``data`` sets (everything on create; the fields given on a change, with the ones
    they depend on) and return the values to store, relations resolved. Raises before any write."""
    def given(name: str) -> bool:
        return current is None or name in data

    def value(name: str) -> Any:
        return data[name] if name in data else getattr(current, name)

    def ident(name: str) -> int:  # a relation's id, given or current
        return int(data[name] if name in data else getattr(current, f"{name}_id"))

    out: dict[str, Any] = {}
    if given("git_url"):
        _check_git_url(data["git_url"], user)
    if given("git_ref"):
        _check_git_ref(value("git_ref"))
    if given("git_username"):
        _check_git_credential("git_username", data.get("git_username", ""))
    if "git_password" in data:
        _check_git_credential("git_password", data["git_password"])
    if given("context_dir"):
        out["context_dir"] = clean_path("context_dir", data.get("context_dir", ""), default=".")
    if given("dockerfile_path"):
        out["dockerfile_path"] = clean_path("dockerfile_path", data.get("dockerfile_path", ""), default="Dockerfile")
    if given("build_args") or given("preset"):
        preset = value("preset") or ""
        if "build_args" in data:
            out["build_args"] = _check_build_args(data["build_args"])
        elif current is None or (preset and preset != current.preset):
            out["build_args"] = presets.default_build_args(preset)  # a new preset brings its defaults
    if given("repository"):
        _check_repository(value("repository"))
    if given("version"):
        _check_version(value("version"))
    if given("registry") or given("repository"):
        out["registry"] = _check_registry(workspace, ident("registry"), value("repository"))
    if given("cluster") or given("service_map"):
        out["cluster"], out["service_map"] = _check_where(workspace, ident("cluster"), ident("service_map"))
    if given("resources"):
        out["resources"] = _check_resources(data.get("resources", {}))
    if given("cache_size"):
        out["cache_size"] = _check_quantity("cache_size", data.get("cache_size", "2Gi"))
    if given("trigger_refs"):
        out["trigger_refs"] = _check_trigger_refs(data.get("trigger_refs", []))
    if given("deploy_image_path") and not _VALUES_PATH.match(value("deploy_image_path")):
        raise _invalid("deploy_image_path", "Give a dotted path into the release's values, for example image or "
                                            "web.image.", code="deploy_image_path_invalid")
    if "deploy_release" in data:
        out["deploy_release"] = _check_release(workspace, data["deploy_release"], user)
    for name in PLAIN_FIELDS:
        if name in data and name not in out:
            out[name] = data[name]
    return out


# ---------------------------------------------------------------------------- definitions


def create_definition(*, workspace: Workspace, data: Mapping[str, Any], user: Any,
                      request: HttpRequest | None = None) -> tuple[BuildDefinition, str]:
    """A new definition in ``workspace`` and, when its webhook is on, the webhook secret (shown this
    once; ``""`` otherwise). The caller has checked ``builds.run`` there."""
    values = _validated(workspace, data, user, current=None)
    name = data["name"]
    if BuildDefinition.objects.filter(workspace=workspace, name=name).exists():
        raise _invalid("name", f"Workspace {workspace.name} has a build definition named {name} already.",
                       code="definition_name_taken", params={"name": name})
    webhook_secret = new_webhook_secret() if data.get("webhook_enabled") else ""
    try:
        with transaction.atomic():
            definition = BuildDefinition.objects.create(
                workspace=workspace, name=name, webhook_enabled=bool(data.get("webhook_enabled")),
                created_by=user if getattr(user, "pk", None) else None, **values)
            # The secrets are bound to the row's id, so they are written once it has one.
            definition.set_git_password(data.get("git_password", ""))
            definition.set_webhook_secret(webhook_secret)
            definition.save(update_fields=["git_password_encrypted", "webhook_secret_encrypted"])
            _audit(request, action="build.definition.create", target=definition, user=user,
                   detail={"webhook": definition.webhook_enabled})
    except IntegrityError as exc:  # a concurrent create of the same name
        raise _invalid("name", f"Workspace {workspace.name} has a build definition named {name} already.",
                       code="definition_name_taken", params={"name": name}) from exc
    return definition, webhook_secret


def update_definition(*, definition: BuildDefinition, data: Mapping[str, Any], user: Any,
                      request: HttpRequest | None = None) -> tuple[BuildDefinition, str]:
    """Change what ``data`` names. Returns the definition and a webhook secret when this change
    turned the webhook on (shown this once), else ``""``. Turning it off forgets the secret."""
    workspace = definition.workspace
    values = _validated(workspace, data, user, current=definition)
    name = data.get("name", definition.name)
    if name != definition.name and BuildDefinition.objects.filter(workspace=workspace, name=name).exists():
        raise _invalid("name", f"Workspace {workspace.name} has a build definition named {name} already.",
                       code="definition_name_taken", params={"name": name})
    webhook_secret = ""
    try:
        with transaction.atomic():
            locked = BuildDefinition.objects.select_for_update().get(pk=definition.pk)
            locked.name = name
            for field, new in values.items():
                setattr(locked, field, new)
            if "git_password" in data:
                locked.set_git_password(data["git_password"])
            if "webhook_enabled" in data and bool(data["webhook_enabled"]) != locked.webhook_enabled:
                locked.webhook_enabled = bool(data["webhook_enabled"])
                webhook_secret = new_webhook_secret() if locked.webhook_enabled else ""
                locked.set_webhook_secret(webhook_secret)
            locked.save()
            _audit(request, action="build.definition.update", target=locked, user=user,
                   detail={"fields": sorted(data)})
    except IntegrityError as exc:
        raise _invalid("name", f"Workspace {workspace.name} has a build definition named {name} already.",
                       code="definition_name_taken", params={"name": name}) from exc
    return locked, webhook_secret


def delete_definition(*, definition: BuildDefinition, user: Any, request: HttpRequest | None = None) -> None:
    """Delete a definition and its history; 409 ``build_running`` while one of its runs is queued,
    running or being cancelled (its Jobs would be left behind)."""
    with transaction.atomic():
        locked = BuildDefinition.objects.select_for_update().get(pk=definition.pk)
        active = BuildRun.objects.filter(definition=locked, status__in=ACTIVE).order_by("number").first()
        if active is not None:
            raise errors.Conflict(f"Build #{active.number} of {locked.name} is {active.status}; cancel it or wait for "
                                  "it to finish before deleting the definition.", code="build_running",
                                  params={"name": locked.name, "number": active.number, "status": str(active.status)})
        _audit(request, action="build.definition.delete", target=locked, user=user,
               detail={"id": locked.pk, "name": locked.name, "workspace": locked.workspace_id})
        locked.delete()


def rotate_webhook_secret(definition: BuildDefinition, *, user: Any, request: HttpRequest | None = None) -> str:
    """A new webhook secret for ``definition`` (the old one stops working at once); returned this once.
    409 ``webhook_disabled`` when the definition has no webhook."""
    with transaction.atomic():
        locked = BuildDefinition.objects.select_for_update().get(pk=definition.pk)
        if not locked.webhook_enabled:
            raise errors.Conflict(f"{locked.name} has no webhook; turn webhook_enabled on first.",
                                  code="webhook_disabled", params={"name": locked.name})
        secret = new_webhook_secret()
        locked.set_webhook_secret(secret)
        locked.save(update_fields=["webhook_secret_encrypted", "updated"])
        _audit(request, action="build.definition.webhook_secret", target=locked, user=user)
    return secret


# ---------------------------------------------------------------------------- runs


def run_spec(definition: BuildDefinition) -> dict[str, Any]:
    """Everything the runner needs, frozen when the run is made (the definition may change while it
    runs). No secret: the runner reads the git password from the definition, the registry's from it."""
    registry = definition.registry
    return {
        "definition_id": definition.pk, "name": definition.name,
        "git_url": definition.git_url, "git_ref": definition.git_ref,
        "git_username": definition.git_username, "has_git_password": bool(definition.git_password_encrypted),
        "context_dir": definition.context_dir, "dockerfile_path": definition.dockerfile_path,
        "preset": definition.preset, "build_args": dict(definition.build_args or {}),
        "registry_id": registry.pk, "registry_host": registry.host, "repository": definition.repository,
        "image": f"{registry.host}/{definition.repository}",
        "tag_scheme": definition.tag_scheme, "version": definition.version,
        "cluster_id": definition.cluster_id, "service_map_id": definition.service_map_id,
        "namespace": definition.service_map.namespace,
        "builder": definition.builder, "resources": dict(definition.resources or {}),
        "cache_size": definition.cache_size, "timeout_seconds": definition.timeout_seconds, "scan": definition.scan,
        "deploy_release_id": definition.deploy_release_id, "deploy_image_path": definition.deploy_image_path,
        "deploy_image_format": definition.deploy_image_format,
    }


def step_names(spec: Mapping[str, Any]) -> list[str]:
    names = [StepName.CLONE, StepName.BUILD]
    if spec.get("scan"):
        names.append(StepName.SCAN)
    if spec.get("deploy_release_id"):
        names.append(StepName.DEPLOY)
    return [str(n) for n in names]


def _load(run_id: int) -> BuildRun:
    return BuildRun.objects.select_related(*rows.RUN_RELATED).prefetch_related(rows.steps_prefetch()).get(pk=run_id)


def publish_run(run: BuildRun) -> None:
    """The run's row to its workspace and its detail to ``buildrun.<id>``, after commit."""
    detail = rows.run_detail(run)
    publish(f"workspace.{run.workspace_id}", "buildrun.updated", rows.run_row(run))
    publish(f"buildrun.{run.pk}", "buildrun.updated", detail)


def _check_still_allowed(workspace: Workspace, spec: Mapping[str, Any]) -> None:
    """What was checked when the definition was saved, again when a run is made: the workspace may
    have lost its cluster or registry allocation, or the service map may be going, since."""
    _check_where(workspace, int(spec.get("cluster_id") or 0), int(spec.get("service_map_id") or 0))
    _check_registry(workspace, int(spec.get("registry_id") or 0), str(spec.get("repository", "")))


def create_run(definition: BuildDefinition, *, trigger: str, user: Any, ref: str = "", commit: str = "",
               rebuild_of: BuildRun | None = None, request: HttpRequest | None = None) -> BuildRun:
    """A queued run of ``definition`` with its steps, its build number and (when it is known now) its
    tag; ``builds.start_run`` is sent after commit. ``user`` is None for a webhook. A run started by a
    person with a deploy step needs ``workloads.deploy`` in the release's workspace. A rebuild
    repeats ``rebuild_of``'s frozen spec with a new number. 400 (nothing written) when the workspace no
    longer holds the cluster, the service map or the registry prefix the run would use."""
    if ref:
        _check_git_ref(ref, "ref")
    with transaction.atomic():
        locked = (BuildDefinition.objects.select_for_update(of=("self",))
                  .select_related("registry", "service_map", "workspace").get(pk=definition.pk))
        spec = dict(rebuild_of.spec) if rebuild_of is not None and rebuild_of.spec else run_spec(locked)
        if ref:
            spec["git_ref"] = ref
        _check_still_allowed(locked.workspace, spec)
        release_id = spec.get("deploy_release_id")
        if user is not None and release_id:
            release = Release.objects.select_related("workspace").filter(pk=release_id).first()
            if release is not None:
                access.require_deploy(user, release.workspace)
        number = locked.next_build_number
        tag = tags.tag_for(spec.get("tag_scheme", locked.tag_scheme), version=spec.get("version", locked.version),
                           number=number, commit=commit)
        BuildDefinition.objects.filter(pk=locked.pk).update(next_build_number=F("next_build_number") + 1)
        username = user.get_username() if user is not None else ""
        run = BuildRun.objects.create(
            definition=locked, workspace_id=locked.workspace_id, number=number, status=RunStatus.QUEUED,
            trigger=trigger, rebuild_of=rebuild_of, spec=spec, git_ref=spec["git_ref"],
            git_commit=commit.strip().lower()[:64], image_repository=spec["image"][:512], image_tag=tag,
            cluster_id=spec.get("cluster_id"), namespace=spec.get("namespace", ""),
            requested_by=user, requested_username=username[:150])
        BuildStep.objects.bulk_create([BuildStep(run=run, name=name, position=i, status=StepStatus.PENDING)
                                       for i, name in enumerate(step_names(spec), start=1)])
        _audit(request, action="build.run", target=run, user=user,
               detail={"definition": locked.name, "number": number, "trigger": trigger, "ref": spec["git_ref"],
                       **({"rebuild_of": rebuild_of.pk} if rebuild_of is not None else {})})
        run = _load(run.pk)
        publish_run(run)
        enqueue.on_commit("builds.start_run", run.pk)
    definition.next_build_number = number + 1
    return run


def rebuild(run: BuildRun, *, user: Any, request: HttpRequest | None = None) -> BuildRun:
    """A new run with ``run``'s frozen spec and ref (trigger ``rebuild``)."""
    return create_run(run.definition, trigger=Trigger.REBUILD, user=user, ref=run.git_ref, rebuild_of=run,
                      request=request)


def request_cancel(run: BuildRun, *, user: Any, request: HttpRequest | None = None) -> BuildRun:
    """Stop a run: a queued one is cancelled at once; a running one becomes ``cancelling`` and
    ``builds.cancel_run`` deletes its Jobs (then marks it ``cancelled``); asking again while it is
    cancelling changes nothing. 409 ``build_finished`` for a run that has finished."""
    with transaction.atomic():
        locked = BuildRun.objects.select_for_update().get(pk=run.pk)
        if locked.status in RUN_FINISHED:
            raise errors.Conflict(f"Build #{locked.number} has finished ({locked.status}); there is nothing to cancel.",
                                  code="build_finished", params={"number": locked.number, "status": str(locked.status)})
        if locked.status == RunStatus.CANCELLING:
            return _load(locked.pk)
        username = user.get_username() if user is not None else ""
        now = timezone.now()
        if locked.status == RunStatus.QUEUED:
            locked.status = RunStatus.CANCELLED
            locked.finished = now
            locked.message, locked.message_code = f"Cancelled by {username} before it started.", "build_cancelled"
            BuildStep.objects.filter(run=locked, status__in=(StepStatus.PENDING, StepStatus.RUNNING)).update(
                status=StepStatus.CANCELLED, finished=now)
        else:
            locked.status = RunStatus.CANCELLING
            locked.message, locked.message_code = f"Cancelling (asked by {username}).", "build_cancelling"
            enqueue.on_commit("builds.cancel_run", locked.pk)
        locked.message_params = {"user": username}
        locked.progressed = now
        locked.save(update_fields=["status", "finished", "message", "message_code", "message_params", "progressed"])
        _audit(request, action="build.cancel", target=locked, user=user, detail={"status": str(locked.status)})
        loaded = _load(locked.pk)
        publish_run(loaded)
    return loaded

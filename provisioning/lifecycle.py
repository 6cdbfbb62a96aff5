"""Node pools, upgrades and deletion of provisioned clusters (docs/provisioning-lifecycle.md).

Two halves:

* **Requests** (``request_*``), called by the API: every check first, from the rows alone (the
  provisioned cluster's stored progress, its template's schema, the service maps on the
  registered cluster) so bad input is a 4xx before anything is written or applied; then the
  operation intent (:func:`provisioning.actions.start_operation`, one at a time per cluster) and
  the cluster's phase (``updating`` / ``deleting``) in one transaction; the task
  ``provisioning.lifecycle_step`` is enqueued on commit.
* **Steps** (:func:`run_step`), run by that task: one short step at a time against the
  management cluster (apply or patch once, then read the Cluster API objects and see whether the
  change has settled), re-enqueued with a countdown until it has, so no worker waits on a
  rolling pool. Cluster API does the work and its retrying (it cordons and drains a Machine
  before deleting it; the drain shows in the progress from the Machine's ``DrainingSucceeded``
  condition); the portal retries nothing: a Machine that fails, or is still not running when
  the operation's deadline passes, ends the operation with the Machine's condition reason.

Upgrades go control plane first (``KubeadmControlPlane.spec.version``), then each pool in turn
(``MachineDeployment.spec.template.spec.version``), each once the one before has rolled. A new
machine size is a new infrastructure machine template (``<pool>-<5 hex>``: Cluster API's
templates are immutable) the pool's MachineDeployment is pointed at, which rolls the pool.
Deleting deletes the Cluster object (Cluster API's finalizer deletes the rest), follows it until
it is gone, deletes what the portal applied besides, then the registered cluster
(:func:`provisioning.lifecycle_actions.mark_deleted`); the provisioned row stays as ``deleted``.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clusters.kube.client import KubeClient
from clusters.kube.errors import KubeError, NotFound, UnknownKind, Unreachable
from portal import access as portal_access
from portal import errors
from portal.crypto import DecryptionError
from provisioning import actions, apply, capi, lifecycle_actions, templates
from provisioning.models import (
    OperationKind,
    OperationStatus,
    Phase,
    ProvisionedCluster,
    ProvisioningOperation,
)
from workspaces.models import ServiceMap

TASK = "provisioning.lifecycle_step"
FIELD_MANAGER = apply.FIELD_MANAGER  # the same manager as the create, so the portal owns its fields once
CALL_TIMEOUT = 10.0
MAX_POOL_REPLICAS = 100
# The control plane's nodes carry the NoSchedule taint: the cluster's own pods (CoreDNS, the
# portal's agents, every workload) need at least this many worker nodes across its pools.
MIN_WORKER_NODES = 1
POOL_NAME_MAX = 50  # Cluster API appends a MachineSet hash and a machine suffix to it
LIFECYCLE_KINDS = (OperationKind.SCALE_POOL, OperationKind.ADD_POOL, OperationKind.DELETE_POOL,
                   OperationKind.RESIZE_POOL, OperationKind.UPGRADE, OperationKind.DELETE)
DEFAULT_DEADLINES: dict[str, int] = {  # seconds an operation may take before a stuck machine ends it
    OperationKind.SCALE_POOL: 900, OperationKind.ADD_POOL: 900, OperationKind.DELETE_POOL: 900,
    OperationKind.RESIZE_POOL: 1800, OperationKind.UPGRADE: 3600, OperationKind.DELETE: 1800,
}
RESCUE_GRACE = 60.0  # a step overdue by this much was lost: the reconcile sends it again
VERSION_RE = re.compile(r"^v?(\d{1,3})\.(\d{1,3})\.(\d{1,4})$")
POOL_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
OPERABLE = (Phase.PROVISIONED, Phase.UPDATING, Phase.FAILED)


def poll_seconds() -> float:
    """Seconds between two steps of a rolling change (``PROVISIONING_POLL_SECONDS``, default 2)."""
    return float(getattr(settings, "PROVISIONING_POLL_SECONDS", 2.0))


def deadline_seconds(kind: str) -> float:
    """How long an operation may take (``PROVISIONING_LIFECYCLE_DEADLINE`` seconds overrides every kind)."""
    override = getattr(settings, "PROVISIONING_LIFECYCLE_DEADLINE", None)
    return float(override) if override else float(DEFAULT_DEADLINES.get(kind, 1800))


# ---------------------------------------------------------------------------- pure: versions and sizes


def parse_version(value: str) -> tuple[int, int, int] | None:
    found = VERSION_RE.match(value.strip()) if isinstance(value, str) else None
    return (int(found[1]), int(found[2]), int(found[3])) if found else None


def kubernetes_versions(pc: ProvisionedCluster) -> list[str]:
    """The Kubernetes versions the cluster's template offers (its schema's enum), oldest first."""
    return templates.kubernetes_versions(pc.template)


def machine_sizes(pc: ProvisionedCluster) -> list[str]:
    """The machine sizes a pool of the cluster's template may have (its schema's enum)."""
    return templates.machine_sizes(pc.template)


def current_version(pc: ProvisionedCluster) -> str:
    cp = (pc.progress or {}).get("control_plane") or {}
    return str(cp.get("version") or pc.kubernetes_version or "")


def check_upgrade(pc: ProvisionedCluster, version: str) -> None:
    """400 unless ``version`` is one the template offers, not older than the control plane's,
    and at most one minor version ahead of it (Kubernetes upgrades one minor at a time)."""
    target = parse_version(version)
    offered = kubernetes_versions(pc)
    if target is None or (offered and version not in offered):
        raise errors.Invalid(f"{version} is not a Kubernetes version this cluster's template offers"
                             + (f" ({', '.join(offered)})." if offered else "."),
                             code="version_unknown", params={"version": version, "versions": offered},
                             errors={"version": ["Choose one of the template's versions."]})
    now = current_version(pc)
    current = parse_version(now)
    if current is None:
        raise errors.Conflict(f"The version of {pc.name} is not known yet; wait until it is provisioned.",
                              code="provisioned_not_ready", params={"cluster": pc.name, "phase": pc.phase})
    if target == current:
        raise errors.Invalid(f"{pc.name} already runs {now}.", code="version_unchanged",
                             params={"version": version}, errors={"version": ["Choose a newer version."]})
    if target < current:
        raise errors.Invalid(f"{version} is older than {now}: Kubernetes cannot be downgraded.",
                             code="version_downgrade", params={"from": now, "to": version},
                             errors={"version": ["Choose a newer version."]})
    if target[0] != current[0] or target[1] > current[1] + 1:
        step = f"v{current[0]}.{current[1] + 1}"
        raise errors.Invalid(f"From {now} upgrade to a {step} version first: Kubernetes upgrades one minor "
                             "version at a time.", code="version_skip", params={"from": now, "to": version},
                             errors={"version": [f"Upgrade to {step} first."]})


# ---------------------------------------------------------------------------- pure: pools


def pools(pc: ProvisionedCluster) -> list[dict[str, Any]]:
    """The node pools as last followed (``progress["pools"]``), each with its machines and size."""
    progress = pc.progress or {}
    machines = [m for m in progress.get("machines") or [] if isinstance(m, dict)]
    rows = []
    for pool in progress.get("pools") or []:
        if not isinstance(pool, dict):
            continue
        row = dict(pool)
        row["machine_size"] = str(pool.get("machine_size") or "")
        row["machines"] = [m for m in machines if m.get("pool") == pool.get("name")]
        rows.append(row)
    return rows


def pool_sizes(pc: ProvisionedCluster, rows: list[dict[str, Any]]) -> None:
    """Fill ``machine_size`` of rows that lack it (the follow step reads it from the pool's machine
    template): from the template's name (``<pool>-<size>``), the size the last add or resize of that
    pool set, else the pool's size in the create parameters."""
    sizes = machine_sizes(pc) if any(not r.get("machine_size") for r in rows) else []
    for row in rows:  # the builtin templates name a pool's machine template <pool>-<size>
        template = str(row.get("infrastructure_template") or "")
        if not row.get("machine_size") and template.startswith(f"{row['name']}-"):
            suffix = template.removeprefix(f"{row['name']}-")
            row["machine_size"] = suffix if suffix in sizes else ""
    missing = {r["name"] for r in rows if not r.get("machine_size")}
    if not missing:
        return
    found: dict[str, str] = {}
    ops = pc.operations.filter(kind__in=(OperationKind.ADD_POOL, OperationKind.RESIZE_POOL),
                               status=OperationStatus.SUCCEEDED).order_by("created")
    for op in ops:
        pool = str(op.spec.get("pool") or "")
        if pool in missing and op.spec.get("machine_size"):
            found[pool] = str(op.spec["machine_size"])
    for name, size in _parameter_sizes(pc).items():
        for candidate in (name, f"{pc.name}-{name}"):
            if candidate in missing:
                found.setdefault(candidate, size)
    for row in rows:
        if not row.get("machine_size"):
            row["machine_size"] = found.get(row["name"], "")


def _parameter_sizes(pc: ProvisionedCluster) -> dict[str, str]:
    """Pool name -> machine size from the create parameters (any list of objects with a name and a size)."""
    sizes: dict[str, str] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            name = value.get("name")
            size = next((value[k] for k in value if "size" in str(k).lower() or k == "instanceType"), None)
            if isinstance(name, str) and isinstance(size, str):
                sizes[name] = size
            for sub in value.values():
                walk(sub)
        elif isinstance(value, list):
            for sub in value:
                walk(sub)

    walk(pc.parameters or {})
    return sizes


def _live_pools(pc: ProvisionedCluster) -> list[dict[str, Any]]:
    return [p for p in pools(pc) if not p.get("deleting")]


def _pool(pc: ProvisionedCluster, name: str) -> dict[str, Any]:
    for pool in _live_pools(pc):
        if pool.get("name") == name:
            return pool
    raise errors.NotFound(f"{pc.name} has no node pool {name}.", code="pool_not_found",
                          params={"cluster": pc.name, "pool": name})


def check_replicas(pc: ProvisionedCluster, pool_name: str | None, replicas: Any) -> int:
    """400 ``pool_replicas_invalid`` for a count that is not a whole number from 0 to 100, or that
    leaves the cluster without the worker nodes its control plane needs (its own pods)."""
    if isinstance(replicas, bool) or not isinstance(replicas, int) or not 0 <= replicas <= MAX_POOL_REPLICAS:
        raise errors.Invalid(f"A node pool has from 0 to {MAX_POOL_REPLICAS} machines.",
                             code="pool_replicas_invalid",
                             params={"replicas": replicas, "min": 0, "max": MAX_POOL_REPLICAS},
                             errors={"replicas": [f"Give a whole number from 0 to {MAX_POOL_REPLICAS}."]})
    others = sum(int(p.get("replicas") or 0) for p in _live_pools(pc) if p.get("name") != pool_name)
    if others + replicas < MIN_WORKER_NODES:
        raise errors.Invalid(
            f"{pc.name} needs at least {MIN_WORKER_NODES} worker node across its pools: the control plane's "
            "nodes run no workloads, and the cluster's own pods (CoreDNS and the like) need somewhere to run.",
            code="pool_replicas_invalid",
            params={"replicas": replicas, "min": MIN_WORKER_NODES - others, "max": MAX_POOL_REPLICAS},
            errors={"replicas": [f"Keep at least {MIN_WORKER_NODES - others} machine in this pool."]})
    return replicas


def check_machine_size(pc: ProvisionedCluster, size: Any) -> str:
    sizes = machine_sizes(pc)
    if not sizes:
        raise errors.Invalid(f"The template {pc.template.name} offers no machine sizes; make a template version "
                             "with the size you want.", code="resize_unsupported",
                             params={"provider": pc.template.provider, "template": pc.template.name})
    if not isinstance(size, str) or size not in sizes:
        raise errors.Invalid(f"{size} is not a machine size of this cluster's template ({', '.join(sizes)}).",
                             code="machine_size_unknown", params={"size": size, "sizes": sizes},
                             errors={"machine_size": [f"Choose one of: {', '.join(sizes)}."]})
    return size


def render_pool(pc: ProvisionedCluster, *, pool: str, replicas: int, size: str) -> list[dict[str, Any]]:
    """The objects the cluster's template renders for one pool (its MachineDeployment ``pool``,
    bootstrap and infrastructure machine templates), at the control plane's current version.
    400 (the template's code: ``template_parameters_invalid``, ...) when it does not render."""
    parameters = dict(pc.parameters or {})
    version = current_version(pc)
    if version:
        parameters["kubernetesVersion"] = version
    short = pool.removeprefix(f"{pc.name}-")
    try:
        objects = templates.render_pool(pc.template, parameters, cluster_name=pc.name, namespace=pc.namespace,
                                        pool={"name": short, "replicas": replicas, "machine_size": size})
    except templates.TemplateError as exc:
        raise errors.Invalid(exc.message, code=exc.code, params={"pool": pool},
                             errors={k.replace("parameters.nodePools[0].", "").replace("machineSize", "machine_size"):
                                     v for k, v in exc.errors.items()}) from exc
    names = [o["metadata"]["name"] for o in objects if o.get("kind") == "MachineDeployment"]
    if names != [pool]:
        raise errors.Invalid(f"The template renders the pool as {', '.join(names) or 'nothing'}, not {pool}.",
                             code="template_render_failed", params={"pool": pool, "rendered": names})
    return objects


def pool_full_name(pc: ProvisionedCluster, name: str) -> str:
    """A new pool's MachineDeployment name: ``<cluster>-<name>`` (pools of every cluster share the
    management namespace), unless the name already starts so."""
    return name if name.startswith(f"{pc.name}-") else f"{pc.name}-{name}"


def check_new_pool(pc: ProvisionedCluster, name: Any) -> str:
    if not isinstance(name, str) or not POOL_NAME_RE.match(name) or len(pool_full_name(pc, name)) > POOL_NAME_MAX:
        raise errors.Invalid(
            "A pool's name is lowercase letters, digits and '-', starting and ending with a letter or digit, "
            f"and with the cluster's name in front at most {POOL_NAME_MAX} characters.",
            code="pool_name_invalid", params={"name": name, "max": POOL_NAME_MAX},
            errors={"name": ["Use lowercase letters, digits and '-'."]})
    full = pool_full_name(pc, name)
    if any(p.get("name") == full for p in pools(pc)):
        raise errors.Conflict(f"{pc.name} already has a node pool {full}.", code="pool_exists",
                              params={"cluster": pc.name, "pool": full})
    return full


def _check_operable(pc: ProvisionedCluster) -> None:
    if pc.phase in (Phase.DELETING, Phase.DELETED):
        raise errors.Conflict(f"{pc.name} is {pc.get_phase_display().lower()}.", code="provisioned_deleted",
                              params={"cluster": pc.name, "phase": pc.phase})
    if pc.phase not in OPERABLE or not (pc.progress or {}).get("control_plane"):
        raise errors.Conflict(f"{pc.name} is not provisioned yet ({pc.get_phase_display().lower()}); wait until "
                              "its control plane is up.", code="provisioned_not_ready",
                              params={"cluster": pc.name, "phase": pc.phase})


def live_service_maps(pc: ProvisionedCluster) -> list[str]:
    """Namespaces of the service maps that still live on the registered cluster (not being deleted)."""
    if pc.cluster_id is None:
        return []
    return list(ServiceMap.objects.filter(cluster_id=pc.cluster_id, deleting_since__isnull=True)
                .order_by("namespace").values_list("namespace", flat=True))


# ---------------------------------------------------------------------------- requests (the API calls these)


def _start(pc: ProvisionedCluster, kind: str, spec: dict[str, Any], *, actor: Any, request: HttpRequest | None,
           audit_action: str, phase: str = Phase.UPDATING) -> ProvisioningOperation:
    with transaction.atomic():
        op = actions.start_operation(provisioned=pc, kind=kind, spec=spec, actor=actor, request=request, task=TASK,
                                     audit_action=audit_action, deadline_seconds=deadline_seconds(kind))
        lifecycle_actions.mark_phase(provisioned_id=pc.pk, phase=phase)
    return op


def request_scale(pc: ProvisionedCluster, *, pool: str, replicas: Any, actor: Any = None,
                  request: HttpRequest | None = None) -> ProvisioningOperation:
    _check_operable(pc)
    row = _pool(pc, pool)
    count = check_replicas(pc, pool, replicas)
    return _start(pc, OperationKind.SCALE_POOL, {"pool": pool, "replicas": count, "from": row.get("replicas")},
                  actor=actor, request=request, audit_action="provisioning.pool.scale")


def request_add_pool(pc: ProvisionedCluster, *, name: Any, replicas: Any, machine_size: Any, actor: Any = None,
                     request: HttpRequest | None = None) -> ProvisioningOperation:
    _check_operable(pc)
    full = check_new_pool(pc, name)
    count = check_replicas(pc, full, replicas)
    size = check_machine_size(pc, machine_size)
    render_pool(pc, pool=full, replicas=count, size=size)  # a pool the template cannot render is a 400 now
    return _start(pc, OperationKind.ADD_POOL, {"pool": full, "replicas": count, "machine_size": size},
                  actor=actor, request=request, audit_action="provisioning.pool.add")


def request_delete_pool(pc: ProvisionedCluster, *, pool: str, actor: Any = None,
                        request: HttpRequest | None = None) -> ProvisioningOperation:
    _check_operable(pc)
    row = _pool(pc, pool)
    live = _live_pools(pc)
    if len(live) <= 1:
        raise errors.Conflict(f"{pool} is the last node pool of {pc.name}; add another pool before deleting it.",
                              code="last_pool", params={"cluster": pc.name, "pool": pool})
    others = sum(int(p.get("replicas") or 0) for p in live if p.get("name") != pool)
    if others < MIN_WORKER_NODES:
        raise errors.Invalid(f"Deleting {pool} leaves {pc.name} without worker nodes; scale another pool up first.",
                             code="pool_replicas_invalid",
                             params={"replicas": 0, "min": MIN_WORKER_NODES, "max": MAX_POOL_REPLICAS})
    return _start(pc, OperationKind.DELETE_POOL, {"pool": pool, "replicas": row.get("replicas")},
                  actor=actor, request=request, audit_action="provisioning.pool.delete")


def request_resize(pc: ProvisionedCluster, *, pool: str, machine_size: Any, actor: Any = None,
                   request: HttpRequest | None = None) -> ProvisioningOperation:
    _check_operable(pc)
    _pool(pc, pool)
    size = check_machine_size(pc, machine_size)
    rows = [p for p in _live_pools(pc) if p.get("name") == pool]
    pool_sizes(pc, rows)
    if rows and rows[0].get("machine_size") == size:
        raise errors.Invalid(f"{pool} already has {size} machines.", code="machine_size_unchanged",
                             params={"pool": pool, "size": size},
                             errors={"machine_size": ["Choose another size."]})
    render_pool(pc, pool=pool, replicas=int(rows[0].get("replicas") or 0) if rows else 0, size=size)
    return _start(pc, OperationKind.RESIZE_POOL,
                  {"pool": pool, "machine_size": size, "from": rows[0].get("machine_size") if rows else ""},
                  actor=actor, request=request, audit_action="provisioning.pool.resize")


def request_upgrade(pc: ProvisionedCluster, *, version: Any, actor: Any = None,
                    request: HttpRequest | None = None) -> ProvisioningOperation:
    _check_operable(pc)
    if not isinstance(version, str):
        raise errors.Invalid("Give the version as text, e.g. v1.31.1.", code="version_unknown",
                             params={"version": str(version), "versions": kubernetes_versions(pc)})
    check_upgrade(pc, version)
    return _start(pc, OperationKind.UPGRADE, {"version": version, "from": current_version(pc)},
                  actor=actor, request=request, audit_action="provisioning.upgrade")


def request_delete(pc: ProvisionedCluster, *, confirm: Any, force: bool = False, actor: Any = None,
                   request: HttpRequest | None = None) -> ProvisioningOperation:
    """Delete a provisioned cluster: ``confirm`` must be its name; refused (409) while service maps
    live on its registered cluster, unless ``force`` by an admin (they are deleted with it). A
    running operation (a create stuck provisioning, a scale) is superseded."""
    if pc.phase == Phase.DELETED:
        raise errors.Conflict(f"{pc.name} was deleted already.", code="provisioned_deleted",
                              params={"cluster": pc.name, "phase": pc.phase})
    if confirm != pc.name:
        raise errors.Invalid(f"Type the cluster's name, {pc.name}, to confirm.", code="confirm_mismatch",
                             params={"name": pc.name, "expected": pc.name}, errors={"confirm": [f"Type {pc.name}."]})
    if force:
        portal_access.require(actor, "force_delete", pc)
    maps = live_service_maps(pc)
    if maps and not force:
        raise errors.Conflict(
            f"{len(maps)} service map(s) still live on {pc.name} ({', '.join(maps[:10])}); move or delete them "
            "first, or (admins) delete anyway with force.", code="service_maps_live",
            params={"cluster": pc.name, "count": len(maps), "service_maps": maps[:50]})
    with transaction.atomic():
        superseded = pc.operations.filter(status__in=actions.ACTIVE).exclude(kind=OperationKind.DELETE)
        for running in superseded:
            actions.finish_operation(op_id=running.pk, status=OperationStatus.FAILED,
                                     message=f"Superseded: {pc.name} is being deleted.",
                                     code="provisioning_operation_superseded", params={"cluster": pc.name})
        return _start(pc, OperationKind.DELETE, {"confirm": pc.name, "force": bool(force), "service_maps": len(maps)},
                      actor=actor, request=request, audit_action="provisioning.cluster.delete",
                      phase=Phase.DELETING)


# ---------------------------------------------------------------------------- the management cluster


def client_for(pc: ProvisionedCluster) -> KubeClient:
    return KubeClient(pc.management.cluster.connection_spec(), read_timeout=CALL_TIMEOUT, connect_timeout=3.0)


def _get(client: KubeClient, kind: str, name: str, namespace: str, api_version: str) -> dict[str, Any] | None:
    if not name:
        return None
    try:
        return client.get_object(kind, name, namespace, api_version=api_version, timeout=CALL_TIMEOUT)
    except NotFound:
        return None


def read_progress(client: KubeClient, pc: ProvisionedCluster) -> dict[str, Any]:
    """The progress of ``pc`` read here (:func:`provisioning.capi.summarize` of its Cluster, control
    plane, MachineDeployments and Machines), for callers without the follow step (the shell)."""
    ns, name = pc.namespace, pc.name
    selector = f"{capi.CLUSTER_NAME_LABEL}={name}"
    cluster = _get(client, "Cluster", name, ns, capi.CLUSTER_API)
    cp_ref = ((cluster or {}).get("spec") or {}).get("controlPlaneRef") or {}
    control_plane = _get(client, str(cp_ref.get("kind") or "KubeadmControlPlane"), str(cp_ref.get("name") or ""),
                         ns, str(cp_ref.get("apiVersion") or capi.CONTROL_PLANE_API))
    mds = client.list_objects("MachineDeployment", ns, api_version=capi.CLUSTER_API, timeout=CALL_TIMEOUT,
                              label_selector=selector)
    machines = client.list_objects("Machine", ns, api_version=capi.CLUSTER_API, timeout=CALL_TIMEOUT,
                                   label_selector=selector)
    secret = _get(client, "Secret", capi.kubeconfig_secret_name(name), ns, "v1") if cluster is not None else None
    return capi.summarize(capi.Objects(cluster=cluster, control_plane=control_plane, machine_deployments=tuple(mds),
                                       machines=tuple(machines), kubeconfig_present=secret is not None))


def _ref(obj: dict[str, Any]) -> dict[str, str]:
    return {"apiVersion": str(obj.get("apiVersion") or ""), "kind": str(obj.get("kind") or ""),
            "name": str((obj.get("metadata") or {}).get("name") or "")}


def _short_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:5]


# ---------------------------------------------------------------------------- steps

Refresh = Callable[[int], dict[str, Any]]


@dataclass
class Step:
    """What one step left: the operation's ``status`` (``stale`` when this copy had nothing to do)
    and, while it goes on, ``again_in`` seconds until step number ``step``."""

    status: str
    again_in: float | None = None
    step: int = 0


@dataclass
class Outcome:
    state: dict[str, Any]
    message: str = ""
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    done: str | None = None  # OperationStatus.SUCCEEDED / FAILED when the operation ends


class Refused(Exception):
    """The change cannot be made (the management cluster refused a write, the pool is gone, the
    template does not render): the operation fails with this message."""

    def __init__(self, message: str, code: str, params: dict[str, Any]) -> None:
        super().__init__(message)
        self.message, self.code, self.params = message, code, params


@dataclass
class Context:
    """What a step works with: the management cluster's client, the rows, and how to read the
    progress (the follow step's :func:`provisioning.follow.follow_once`, which also stores and
    publishes it, or :func:`read_progress` here)."""

    client: KubeClient
    pc: ProvisionedCluster
    op: ProvisioningOperation
    refresh: Refresh | None
    summary: dict[str, Any] | None = None  # read here (no refresh): stored with the step

    def progress(self) -> dict[str, Any]:
        if self.refresh is None:
            self.summary = read_progress(self.client, self.pc)
            return self.summary
        found = self.refresh(self.pc.pk)
        if found.get("error"):
            raise Unreachable(str((found["error"] or {}).get("message") or "no answer"))
        if not found:
            raise Refused(f"{self.pc.name} is gone.", "provisioned_deleted",
                          {"cluster": self.pc.name, "phase": Phase.DELETED})
        return found


def _settled(m: dict[str, Any]) -> bool:
    return m.get("phase") == "Running" and bool(m.get("ready") or m.get("node_healthy")) and not m.get("deleting")


def _machine_brief(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m.get(k) for k in ("name", "pool", "control_plane", "phase", "node", "version", "ready", "draining",
                                  "deleting", "reason", "message")}


def _past(op: ProvisioningOperation) -> bool:
    return bool(op.deadline and timezone.now() >= op.deadline)


def _watch(op: ProvisioningOperation, state: dict[str, Any], scope: list[dict[str, Any]], settled: bool,
           waiting: str, waiting_code: str, params: dict[str, Any]) -> Outcome | None:
    """The common end of a step that waits for machines: ``None`` when ``settled`` (the caller goes
    on); otherwise an outcome that waits, shows the drain, or fails (a Failed machine at once, a
    machine still not settled once the deadline passed: Cluster API retries, the portal does not)."""
    state["machines"] = [_machine_brief(m) for m in scope]
    draining = [m for m in scope if m.get("draining")]
    state["draining"] = [{"machine": m["name"], "node": m.get("node"), "message": m.get("message")} for m in draining]
    if settled:
        return None
    failed = next((m for m in scope if m.get("phase") == "Failed"), None)
    if failed is not None:
        return Outcome(state, f"Machine {failed['name']} failed: {failed.get('reason') or 'Failed'}"
                       + (f" ({failed.get('message')})" if failed.get("message") else "") + ".",
                       "machine_failed", {"machine": failed["name"], "reason": failed.get("reason") or "Failed",
                                          "message": failed.get("message") or ""}, done=OperationStatus.FAILED)
    if _past(op):
        stuck = next((m for m in scope if not _settled(m)), None) or (scope[0] if scope else None)
        minutes = round((op.deadline - op.created).total_seconds() / 60, 1) if op.deadline else 0
        if stuck is None:
            return Outcome(state, f"Not settled within {minutes} min.", "operation_deadline_passed",
                           {"minutes": minutes}, done=OperationStatus.FAILED)
        reason = stuck.get("reason") or stuck.get("phase") or ""
        return Outcome(state, f"Machine {stuck['name']} is still {stuck.get('phase')} after {minutes} min"
                       + (f": {reason}" if reason else "")
                       + (f" ({stuck.get('message')})" if stuck.get("message") else "") + ".",
                       "machine_stuck", {"machine": stuck["name"], "phase": stuck.get("phase") or "",
                                         "reason": reason, "message": stuck.get("message") or "",
                                         "minutes": minutes}, done=OperationStatus.FAILED)
    if draining:
        first = draining[0]
        return Outcome(state, f"{waiting} Draining {first.get('node') or first['name']}"
                       + (f": {first.get('message')}" if first.get("message") else "") + ".",
                       waiting_code, {**params, "draining": [m["name"] for m in draining]})
    return Outcome(state, waiting, waiting_code, {**params, "draining": []})


def _patch(client: KubeClient, kind: str, name: str, namespace: str, patch: dict[str, Any], api_version: str) -> None:
    try:
        client.patch_object(kind, name, namespace, patch, patch_type="merge", api_version=api_version,
                            field_manager=FIELD_MANAGER, timeout=CALL_TIMEOUT)
    except NotFound as exc:
        raise Refused(f"{kind} {name} is gone from the management cluster.", "pool_not_found",
                      {"pool": name, "kind": kind}) from exc


def _apply_all(ctx: Context, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        ctx.client.apply(obj, field_manager=FIELD_MANAGER, timeout=CALL_TIMEOUT)
    lifecycle_actions.add_applied_objects(provisioned_id=ctx.pc.pk, objects=[_ref(o) for o in objects])


def _checkpoint(ctx: Context, state: dict[str, Any]) -> None:
    """Store what a step found before it changes anything (a step run again after a crash reads it)."""
    lifecycle_actions.record_step(op_id=ctx.op.pk, progress=state, message=ctx.op.message, code=ctx.op.message_code,
                                  params=ctx.op.message_params)


def _pool_scope(summary: dict[str, Any], pool: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    row = next((p for p in summary.get("pools") or [] if p.get("name") == pool), None)
    return row, [m for m in summary.get("machines") or [] if m.get("pool") == pool]


def _pool_settled(row: dict[str, Any] | None, scope: list[dict[str, Any]], replicas: int, *,
                  version: str = "", old: frozenset[str] = frozenset()) -> bool:
    if row is None:
        return False
    return (len(scope) == replicas and all(_settled(m) for m in scope) and int(row.get("ready") or 0) >= replicas
            and not (old & {m["name"] for m in scope})
            and all(not version or m.get("version") == version for m in scope))


def _pool_waiting(pool: str, scope: list[dict[str, Any]], replicas: int) -> tuple[str, dict[str, Any]]:
    running = sum(1 for m in scope if _settled(m))
    return (f"Pool {pool}: {running} of {replicas} machine(s) running ({len(scope)} in all).",
            {"pool": pool, "running": running, "replicas": replicas, "machines": len(scope)})


def _wait_pool(ctx: Context, state: dict[str, Any], pool: str, replicas: int, *, old: frozenset[str] = frozenset(),
               extra: dict[str, Any] | None = None) -> Outcome | None:
    row, scope = _pool_scope(ctx.progress(), pool)
    if row is None and state.get("seen"):
        raise Refused(f"The pool {pool} is gone from the management cluster.", "pool_not_found",
                      {"cluster": ctx.pc.name, "pool": pool})
    state["seen"] = state.get("seen") or row is not None
    message, params = _pool_waiting(pool, [m for m in scope if m["name"] not in old], replicas)
    return _watch(ctx.op, state, scope, _pool_settled(row, scope, replicas, old=old), message, "pool_rolling",
                  {**params, **(extra or {})})


def _step_scale(ctx: Context, state: dict[str, Any]) -> Outcome:
    pool, replicas = str(ctx.op.spec["pool"]), int(ctx.op.spec["replicas"])
    if not state.get("applied"):
        _patch(ctx.client, "MachineDeployment", pool, ctx.pc.namespace, {"spec": {"replicas": replicas}},
               capi.CLUSTER_API)
        state["applied"] = state["seen"] = True
    waiting = _wait_pool(ctx, state, pool, replicas)
    if waiting is not None:
        return waiting
    return Outcome(state, f"Pool {pool} has {replicas} machine(s) running.", "pool_scaled",
                   {"pool": pool, "replicas": replicas}, done=OperationStatus.SUCCEEDED)


def _step_add(ctx: Context, state: dict[str, Any]) -> Outcome:
    pool, replicas, size = str(ctx.op.spec["pool"]), int(ctx.op.spec["replicas"]), str(ctx.op.spec["machine_size"])
    if not state.get("applied"):
        try:
            objects = render_pool(ctx.pc, pool=pool, replicas=replicas, size=size)
        except errors.PortalError as exc:
            raise Refused(exc.message, exc.code, exc.params) from exc
        _apply_all(ctx, objects)
        state["applied"], state["objects"] = True, [_ref(o) for o in objects]
    waiting = _wait_pool(ctx, state, pool, replicas, extra={"size": size})
    if waiting is not None:
        return waiting
    return Outcome(state, f"Pool {pool} added with {replicas} {size} machine(s).", "pool_added",
                   {"pool": pool, "replicas": replicas, "machine_size": size}, done=OperationStatus.SUCCEEDED)


def _step_delete_pool(ctx: Context, state: dict[str, Any]) -> Outcome:
    pool, client, ns = str(ctx.op.spec["pool"]), ctx.client, ctx.pc.namespace
    if not state.get("applied"):
        md = _get(client, "MachineDeployment", pool, ns, capi.CLUSTER_API)
        if md is not None:
            tspec = ((md.get("spec") or {}).get("template") or {}).get("spec") or {}
            state["templates"] = [dict(ref) for ref in (tspec.get("infrastructureRef"),
                                                        (tspec.get("bootstrap") or {}).get("configRef")) if ref]
            _checkpoint(ctx, state)
            with contextlib.suppress(NotFound):
                client.delete_object("MachineDeployment", pool, ns, api_version=capi.CLUSTER_API,
                                     timeout=CALL_TIMEOUT)
        state["applied"] = True
    row, scope = _pool_scope(ctx.progress(), pool)
    waiting = _watch(ctx.op, state, scope, row is None and not scope,
                     f"Pool {pool}: {len(scope)} machine(s) left to drain and delete.", "pool_deleting",
                     {"pool": pool, "machines": len(scope)})
    if waiting is not None:
        return waiting
    in_use = set()
    for md in client.list_objects("MachineDeployment", ns, api_version=capi.CLUSTER_API, timeout=CALL_TIMEOUT):
        tspec = ((md.get("spec") or {}).get("template") or {}).get("spec") or {}
        in_use |= {str((ref or {}).get("name")) for ref in (tspec.get("infrastructureRef"),
                                                            (tspec.get("bootstrap") or {}).get("configRef"))}
    for ref in state.get("templates") or []:
        if ref.get("name") in in_use:
            continue
        with contextlib.suppress(NotFound):
            client.delete_object(str(ref.get("kind")), str(ref.get("name")), ns,
                                 api_version=str(ref.get("apiVersion")), timeout=CALL_TIMEOUT)
    return Outcome(state, f"Pool {pool} deleted.", "pool_deleted", {"pool": pool}, done=OperationStatus.SUCCEEDED)


def _step_resize(ctx: Context, state: dict[str, Any]) -> Outcome:
    """A new infrastructure machine template ``<pool>-<5 hex>`` (the template's rendering of the
    pool at the new size), then the MachineDeployment pointed at it: Cluster API rolls the pool
    one machine at a time. Settled when none of the machines from before is left."""
    pool, size, client, ns = str(ctx.op.spec["pool"]), str(ctx.op.spec["machine_size"]), ctx.client, ctx.pc.namespace
    if not state.get("applied"):
        md = _get(client, "MachineDeployment", pool, ns, capi.CLUSTER_API)
        if md is None:
            raise Refused(f"The pool {pool} is gone from the management cluster.", "pool_not_found",
                          {"cluster": ctx.pc.name, "pool": pool})
        replicas = int((md.get("spec") or {}).get("replicas") or 0)
        try:
            rendered = render_pool(ctx.pc, pool=pool, replicas=replicas, size=size)
        except errors.PortalError as exc:
            raise Refused(exc.message, exc.code, exc.params) from exc
        ref = ((((md.get("spec") or {}).get("template") or {}).get("spec") or {}).get("infrastructureRef")) or {}
        infra = next((o for o in rendered if o.get("kind") == ref.get("kind")), None)
        if infra is None:
            raise Refused(f"The template renders no {ref.get('kind')} for {pool}.", "template_render_failed",
                          {"pool": pool})
        template = copy.deepcopy(infra)
        template["metadata"]["name"] = f"{pool}-{_short_hash(template.get('spec') or {})}"
        if "old_machines" not in state:  # kept before the change, so a step run again after a crash knows them
            state["old_machines"] = sorted(m["name"] for m in _pool_scope(ctx.progress(), pool)[1])
            state["replicas"] = replicas
            _checkpoint(ctx, state)
        _apply_all(ctx, [template])
        _patch(client, "MachineDeployment", pool, ns,
               {"spec": {"template": {"spec": {"infrastructureRef": {**_ref(template), "namespace": ns}}}}},
               capi.CLUSTER_API)
        state["applied"], state["seen"], state["template"] = True, True, template["metadata"]["name"]
    waiting = _wait_pool(ctx, state, pool, int(state.get("replicas") or 0),
                         old=frozenset(state.get("old_machines") or []), extra={"size": size})
    if waiting is not None:
        return waiting
    return Outcome(state, f"Pool {pool} now runs {size} machines.", "pool_resized",
                   {"pool": pool, "machine_size": size}, done=OperationStatus.SUCCEEDED)


def _step_upgrade(ctx: Context, state: dict[str, Any]) -> Outcome:
    version, client, ns = str(ctx.op.spec["version"]), ctx.client, ctx.pc.namespace
    if state.setdefault("stage", "control_plane") == "control_plane":
        if not state.get("applied"):
            cluster = _get(client, "Cluster", ctx.pc.name, ns, capi.CLUSTER_API) or {}
            ref = (cluster.get("spec") or {}).get("controlPlaneRef") or {}
            if not ref.get("name"):
                raise Refused(f"{ctx.pc.name} has no control plane on the management cluster.",
                              "provisioned_not_ready", {"cluster": ctx.pc.name, "phase": ctx.pc.phase})
            _patch(client, str(ref.get("kind") or "KubeadmControlPlane"), str(ref["name"]), ns,
                   {"spec": {"version": version}}, str(ref.get("apiVersion") or capi.CONTROL_PLANE_API))
            state["applied"] = True
        summary = ctx.progress()
        cp = summary.get("control_plane") or {}
        scope = [m for m in summary.get("machines") or [] if m.get("control_plane")]
        wanted = int(cp.get("replicas") or 0)
        updated = sum(1 for m in scope if _settled(m) and m.get("version") == version)
        done = len(scope) == wanted and updated == wanted and int(cp.get("ready") or 0) >= wanted
        waiting = _watch(ctx.op, state, scope, done, f"Control plane: {updated} of {wanted} machine(s) on {version}.",
                         "control_plane_rolling", {"version": version, "updated": updated, "replicas": wanted})
        if waiting is not None:
            return waiting
        state["stage"], state["applied"], state["pools_done"] = "pools", False, []
        state["pools_todo"] = sorted(p["name"] for p in summary.get("pools") or [] if not p.get("deleting"))
    while state.get("pools_todo"):
        pool = str(state["pools_todo"][0])
        state["pool"] = pool
        if not state.get("applied"):
            try:
                _patch(client, "MachineDeployment", pool, ns, {"spec": {"template": {"spec": {"version": version}}}},
                       capi.CLUSTER_API)
            except Refused:  # deleted meanwhile: nothing to upgrade there
                state["pools_todo"].pop(0)
                continue
            state["applied"] = True
        row, scope = _pool_scope(ctx.progress(), pool)
        if row is None:
            state["pools_todo"].pop(0)
            state["applied"] = False
            continue
        replicas = int(row.get("replicas") or 0)
        updated = sum(1 for m in scope if _settled(m) and m.get("version") == version)
        waiting = _watch(ctx.op, state, scope, _pool_settled(row, scope, replicas, version=version),
                         f"Pool {pool}: {updated} of {replicas} machine(s) on {version}.", "pool_upgrading",
                         {"pool": pool, "version": version, "updated": updated, "replicas": replicas})
        if waiting is not None:
            return waiting
        state["pools_done"] = [*state.get("pools_done", []), state["pools_todo"].pop(0)]
        state["applied"] = False
    lifecycle_actions.set_kubernetes_version(provisioned_id=ctx.pc.pk, version=version)
    state.pop("pool", None)
    state["machines"], state["draining"] = [], []
    return Outcome(state, f"{ctx.pc.name} runs Kubernetes {version}.", "cluster_upgraded", {"version": version},
                   done=OperationStatus.SUCCEEDED)


def _step_delete(ctx: Context, state: dict[str, Any]) -> Outcome:
    pc, client = ctx.pc, ctx.client
    if not state.get("applied"):
        with contextlib.suppress(NotFound):
            client.delete_object("Cluster", pc.name, pc.namespace, api_version=capi.CLUSTER_API,
                                 timeout=CALL_TIMEOUT)
        state["applied"] = True
    summary = ctx.progress()
    if summary.get("exists"):
        scope = list(summary.get("machines") or [])
        waiting = _watch(ctx.op, state, scope, False, f"Deleting {pc.name}: {len(scope)} machine(s) left.",
                         "cluster_deleting", {"cluster": pc.name, "machines": len(scope)})
        assert waiting is not None
        if waiting.done == OperationStatus.FAILED and not scope:
            waiting.message = f"The Cluster object {pc.name} is still there after the deadline."
            waiting.code, waiting.params = "cluster_delete_stuck", {"cluster": pc.name}
        return waiting
    for ref in reversed(pc.applied_objects or []):  # what the portal applied besides (templates Cluster API keeps)
        kind, name = str(ref.get("kind") or ""), str(ref.get("name") or "")
        if not kind or not name or kind in ("Cluster", "Namespace"):
            continue
        with contextlib.suppress(NotFound, UnknownKind, ValueError):  # gone, or a kind no longer served
            client.delete_object(kind, name, pc.namespace, api_version=str(ref.get("apiVersion") or ""),
                                 timeout=CALL_TIMEOUT)
    state["machines"], state["draining"] = [], []
    return Outcome(state, f"{pc.name} was deleted from {pc.management.cluster.name}.", "cluster_deleted",
                   {"cluster": pc.name}, done=OperationStatus.SUCCEEDED)


HANDLERS: dict[str, Callable[[Context, dict[str, Any]], Outcome]] = {
    OperationKind.SCALE_POOL: _step_scale,
    OperationKind.ADD_POOL: _step_add,
    OperationKind.DELETE_POOL: _step_delete_pool,
    OperationKind.RESIZE_POOL: _step_resize,
    OperationKind.UPGRADE: _step_upgrade,
    OperationKind.DELETE: _step_delete,
}


def _state_of(op: ProvisioningOperation) -> dict[str, Any]:
    return {k: v for k, v in (op.progress or {}).items() if k not in ("step", "next_at")}


def run_step(op_id: int, step: int | None = None, *, refresh: Refresh | None = None) -> Step:
    """One short step of a lifecycle operation (see the module's docstring); a copy whose ``step``
    was taken already leaves at once (``stale``). ``refresh`` reads, stores and publishes the
    cluster's progress (the task passes :func:`provisioning.follow.follow_once`)."""
    op = lifecycle_actions.claim_step(op_id=op_id, step=step or 0, lease_seconds=poll_seconds() + CALL_TIMEOUT * 6)
    if op is None:
        return Step("stale")
    handler = HANDLERS.get(op.kind)
    pc = op.provisioned
    state = _state_of(op)
    where = pc.management.cluster.name
    summary: dict[str, Any] | None = None
    if handler is None:
        return _end(op, pc, Outcome(state, f"{op.get_kind_display()} is not a lifecycle operation.",
                                    "operation_unknown", {"kind": op.kind}, done=OperationStatus.FAILED), None)
    try:
        with client_for(pc) as client:
            ctx = Context(client=client, pc=pc, op=op, refresh=refresh)
            try:
                outcome = handler(ctx, state)
            finally:
                summary = ctx.summary
    except Refused as exc:
        outcome = Outcome(state, exc.message, exc.code, exc.params, done=OperationStatus.FAILED)
    except DecryptionError:
        outcome = Outcome(state, f"The credentials of {where} cannot be decrypted; register it again.",
                          "management_credentials_unreadable", {"management": where}, done=OperationStatus.FAILED)
    except KubeError as exc:
        params = {"management": where, "error": str(exc)[:500]}
        if isinstance(exc, Unreachable) and not _past(op):  # Cluster API keeps working; ask again
            outcome = Outcome(state, f"The management cluster {where} did not answer ({exc}); trying again.",
                              "provisioning_management_unreachable", params)
        else:
            outcome = Outcome(state, f"The management cluster {where} refused: {exc}", "management_refused", params,
                              done=OperationStatus.FAILED)
    return _end(op, pc, outcome, summary)


def _end(op: ProvisioningOperation, pc: ProvisionedCluster, outcome: Outcome, summary: dict[str, Any] | None) -> Step:
    if outcome.done is None:
        if lifecycle_actions.record_step(op_id=op.pk, progress=outcome.state, message=outcome.message,
                                         code=outcome.code, params=outcome.params, cluster_progress=summary) is None:
            return Step("stale")
        again = poll_seconds()
        nxt = lifecycle_actions.schedule_next(op_id=op.pk, again_in=again)
        return Step("stale") if nxt is None else Step(OperationStatus.RUNNING, again_in=again, step=nxt)
    succeeded = outcome.done == OperationStatus.SUCCEEDED
    try:
        with transaction.atomic():
            if lifecycle_actions.record_step(op_id=op.pk, progress=outcome.state, cluster_progress=summary,
                                             message=outcome.message, code=outcome.code,
                                             params=outcome.params) is None:
                return Step("stale")
            if op.kind == OperationKind.DELETE and succeeded:
                lifecycle_actions.mark_deleted(provisioned_id=pc.pk, actor=op.created_by)
            elif op.kind == OperationKind.DELETE:
                lifecycle_actions.mark_phase(provisioned_id=pc.pk, phase=Phase.FAILED, message=outcome.message,
                                             code=outcome.code, params=outcome.params)
            else:  # a failed pool change or upgrade leaves a working cluster: its row says what failed
                lifecycle_actions.mark_phase(provisioned_id=pc.pk, phase=Phase.PROVISIONED, message=outcome.message,
                                             code=outcome.code, params=outcome.params)
            actions.finish_operation(op_id=op.pk, status=outcome.done, message=outcome.message, code=outcome.code,
                                     params=outcome.params)
    except errors.Conflict as exc:  # the registered cluster is still held by rows of other apps
        with transaction.atomic():
            lifecycle_actions.mark_phase(provisioned_id=pc.pk, phase=Phase.FAILED, message=exc.message,
                                         code=exc.code, params=exc.params)
            actions.finish_operation(op_id=op.pk, status=OperationStatus.FAILED, message=exc.message, code=exc.code,
                                     params=exc.params)
        return Step(OperationStatus.FAILED)
    return Step(str(outcome.done))


def run_operation(op_id: int, *, refresh: Refresh | None = None, sleep: Callable[[float], None] | None = None) -> str:
    """Every step of an operation here, one after the other (for the shell and benchmarks; the
    task runs one step per message)."""
    import time

    pause = sleep or time.sleep
    outcome = run_step(op_id, refresh=refresh)
    while outcome.again_in is not None:
        pause(outcome.again_in)
        outcome = run_step(op_id, outcome.step, refresh=refresh)
    return outcome.status


def overdue_steps(now: datetime | None = None) -> list[tuple[str, int, int]]:
    """(task, operation id, step) of lifecycle operations whose chain of steps looks lost: pending
    for more than a grace period (the enqueue after commit was lost), or running with the next
    step overdue by more than the grace period. The reconcile sends them again; a copy that
    arrives late anyway finds its step taken and leaves."""
    now = now or timezone.now()
    found: list[tuple[str, int, int]] = []
    ops = ProvisioningOperation.objects.filter(status__in=actions.ACTIVE, kind__in=LIFECYCLE_KINDS)
    for op in ops.only("pk", "status", "progress", "created"):
        progress = op.progress or {}
        due = op.created
        if op.status == OperationStatus.RUNNING:
            with contextlib.suppress(TypeError, ValueError):
                due = datetime.fromisoformat(str(progress.get("next_at")))
        if (now - due).total_seconds() > RESCUE_GRACE:
            found.append((TASK, op.pk, int(progress.get("step", 0))))
    return found

"""Following a provisioned cluster: read what Cluster API reports, record it, register the new
cluster when its kubeconfig appears, and finish the ``create`` operation (docs/provisioning.md).

:func:`follow_once` is one short read of the management cluster (the Cluster, its control plane,
the MachineDeployments and Machines labelled with the cluster's name, whether the Secret
``<name>-kubeconfig`` exists), stored as :func:`provisioning.capi.summarize`'s progress and
published live. The ``provisioning.follow_step`` task calls :func:`step` again and again (about
every second while something changes) while the create operation runs; node-pool changes,
upgrades and deletion (:mod:`provisioning.lifecycle`) call :func:`follow_once` from their own tasks.

When Cluster API writes ``<name>-kubeconfig``, the cluster is registered through
:func:`clusters.actions.register_cluster` (its credentials encrypted, the normal check, the
request's stage and labels plus ``provisioned=true``) and linked. The create operation succeeds
when every machine Cluster API was asked for is ``Running`` and the cluster is registered; it fails
with the failing condition's reason (``BootstrapFailed``, ``InsufficientQuota``, ...) as soon as
Cluster API reports one with severity Error, or when a machine is still not running at the
operation's deadline (``provisioning_machine_stuck``). Nothing Cluster API retries is retried here.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from clusters import actions as cluster_actions
from clusters import services as cluster_services
from clusters.kube.client import KubeClient
from clusters.kube.errors import KubeError, NotFound, UnknownKind
from clusters.kube.messages import explain
from clusters.models import Cluster
from portal import errors
from portal.crypto import DecryptionError
from provisioning import actions, capi
from provisioning.models import (
    InfraProvider,
    ManagementCluster,
    OperationKind,
    OperationStatus,
    Phase,
    ProvisionedCluster,
    ProvisioningOperation,
)

logger = logging.getLogger(__name__)
CALL_TIMEOUT = 10.0
FAST_SECONDS = 1.0  # next step while something changes
SLOW_SECONDS = 3.0  # ... while nothing does
UNREACHABLE_SECONDS = 5.0
# Phases the create flow sets; the others belong to node-pool changes, upgrades and deletion.
CREATE_PHASES = (Phase.PENDING, Phase.APPLYING, Phase.PROVISIONING, Phase.PROVISIONED, Phase.FAILED)
PROVIDERS: dict[str, str] = {InfraProvider.VSPHERE.value: "onprem", InfraProvider.OPENSTACK.value: "onprem"}  # else other


def management_client(pc: ProvisionedCluster) -> KubeClient:
    return KubeClient(pc.management.cluster.connection_spec(), read_timeout=CALL_TIMEOUT, connect_timeout=3.0)


def _get(client: KubeClient, kind: str, name: str, namespace: str, api_version: str) -> dict[str, Any] | None:
    try:
        return client.get_object(kind, name, namespace, api_version=api_version, timeout=CALL_TIMEOUT)
    except NotFound:
        return None


def read_objects(client: KubeClient, pc: ProvisionedCluster) -> tuple[capi.Objects, dict[str, Any] | None]:
    """The Cluster API objects of ``pc`` and its kubeconfig Secret (or ``None``)."""
    ns, selector = pc.namespace, f"{capi.CLUSTER_NAME_LABEL}={pc.name}"
    cluster = _get(client, "Cluster", pc.name, ns, capi.CLUSTER_API)
    control_plane = None
    ref = ((cluster or {}).get("spec") or {}).get("controlPlaneRef") or {}
    if ref.get("kind") and ref.get("name"):
        try:
            control_plane = _get(client, str(ref["kind"]), str(ref["name"]), ns,
                                 str(ref.get("apiVersion") or capi.CONTROL_PLANE_API))
        except UnknownKind:
            control_plane = None
    mds = client.list_objects("MachineDeployment", ns, api_version=capi.CLUSTER_API, label_selector=selector,
                              timeout=CALL_TIMEOUT)
    machines = client.list_objects("Machine", ns, api_version=capi.CLUSTER_API, label_selector=selector,
                                   timeout=CALL_TIMEOUT)
    secret = _get(client, "Secret", capi.kubeconfig_secret_name(pc.name), ns, "v1")
    objs = capi.Objects(cluster=cluster, control_plane=control_plane, machine_deployments=tuple(mds),
                        machines=tuple(machines), kubeconfig_present=secret is not None)
    return objs, secret


def pool_sizes(client: KubeClient, pc: ProvisionedCluster, mds: tuple[dict[str, Any], ...]) -> dict[str, str]:
    """MachineDeployment name -> machine size, from the infrastructure machine template each
    refers to (the sandbox's ``size``, AWS ``instanceType``, OpenStack ``flavor``)."""
    out: dict[str, str] = {}
    for md in mds:
        ref = ((((md.get("spec") or {}).get("template") or {}).get("spec") or {}).get("infrastructureRef")) or {}
        if not (ref.get("kind") and ref.get("name") and ref.get("apiVersion")):
            continue
        try:
            obj = _get(client, str(ref["kind"]), str(ref["name"]), pc.namespace, str(ref["apiVersion"]))
        except UnknownKind:
            obj = None
        spec = (((obj or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
        size = spec.get("size") or spec.get("instanceType") or spec.get("flavor") or ""
        out[str((md.get("metadata") or {}).get("name"))] = str(size)
    return out


def _kubeconfig(secret: dict[str, Any]) -> str:
    raw = (secret.get("data") or {}).get(capi.KUBECONFIG_KEY) or ""
    try:
        return base64.b64decode(raw, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


def register(pc: ProvisionedCluster, secret: dict[str, Any]) -> Cluster:
    """Register the cluster Cluster API made, from its kubeconfig Secret (the normal checks);
    :class:`portal.errors.PortalError` when it cannot be."""
    text = _kubeconfig(secret)
    if not text:
        raise errors.Invalid(f"The Secret {capi.kubeconfig_secret_name(pc.name)} has no kubeconfig under "
                             f"'{capi.KUBECONFIG_KEY}'.", code="provisioned_kubeconfig_invalid",
                             params={"cluster": pc.name, "error": "no kubeconfig"})
    try:
        connection = cluster_services.validate_connection({"kubeconfig": text}, insecure_permitted=False)
    except errors.PortalError as exc:
        raise errors.Invalid(f"The kubeconfig Cluster API wrote for {pc.name} cannot be used: {exc.message}",
                             code="provisioned_kubeconfig_invalid",
                             params={"cluster": pc.name, "error": exc.message}) from exc
    params = pc.parameters or {}
    fields = {
        "name": pc.name, "display_name": pc.display_name,
        "description": f"Provisioned through Cluster API on {pc.management.cluster.name} from the template "
                       f"{pc.template.name} v{pc.template.version}.",
        "provider": PROVIDERS.get(pc.template.provider, "other"),
        "region": str(params.get("region") or "")[:64], "stage": pc.stage,
        "labels": {**(pc.labels or {}), "provisioned": "true"},
    }
    try:
        return cluster_actions.register_cluster(fields=fields, spec=connection.spec, source="provisioned",
                                                kubernetes_version=pc.kubernetes_version)
    except IntegrityError as exc:
        raise errors.Conflict(f"A cluster named {pc.name} was registered meanwhile; the provisioned cluster "
                              "cannot take its name.", code="cluster_name_taken", params={"name": pc.name}) from exc


def _expected_machines(progress: dict[str, Any]) -> int:
    cp = progress.get("control_plane") or {}
    return int(cp.get("replicas") or 0) + sum(int(p.get("replicas") or 0) for p in progress.get("pools") or [])


def _progress_message(progress: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    cluster = progress.get("cluster") or {}
    running, total = progress.get("machines_running", 0), _expected_machines(progress)
    params = {"running": running, "total": total, "phase": cluster.get("phase") or ""}
    if not progress.get("exists"):
        return "Waiting for the Cluster object.", "provisioning_waiting", params
    if not cluster.get("control_plane_initialized"):
        return (f"Cluster API is creating the control plane ({running}/{total} machines running).",
                "provisioning_control_plane", params)
    return (f"Control plane initialised; {running}/{total} machines running.", "provisioning_machines", params)


def _operation_summary(progress: dict[str, Any]) -> dict[str, Any]:
    cluster = progress.get("cluster") or {}
    return {"step": "provisioning", "phase": cluster.get("phase") or "",
            "control_plane_initialized": bool(cluster.get("control_plane_initialized")),
            "machines_running": progress.get("machines_running", 0), "machines_total": _expected_machines(progress),
            "nodes_ready": progress.get("nodes_ready", 0), "kubeconfig": bool(progress.get("kubeconfig"))}


def _stuck(progress: dict[str, Any]) -> dict[str, Any] | None:
    for machine in progress.get("machines") or []:
        if machine.get("phase") != "Running":
            return machine
    return None


def follow_once(provisioned_id: int) -> dict[str, Any]:
    """Read, record and publish the Cluster API state of one provisioned cluster; register it
    when its kubeconfig appears; finish or fail its ``create`` operation. Returns the progress
    (``{}`` when the row is gone or deleted; with ``error`` when the management cluster did not
    answer, the stored progress unchanged)."""
    pc = (ProvisionedCluster.objects.select_related("management__cluster", "template", "cluster")
          .filter(pk=provisioned_id).first())
    if pc is None or pc.phase == Phase.DELETED:
        return {}
    try:
        with management_client(pc) as client:
            objs, secret = read_objects(client, pc)
            sizes = pool_sizes(client, pc, objs.machine_deployments)
    except (KubeError, DecryptionError) as exc:
        explained = explain(exc)
        actions.record_provisioned(  # ``followed``: the chain is alive (the reconcile must not start another)
            pc_id=pc.pk, followed=timezone.now(),
            message=f"The management cluster {pc.management.cluster.name} could not be read: "
            f"{explained.message}", message_code="provisioning_management_unreachable",
            message_params={"management": pc.management.cluster.name, "error": explained.message})
        create_op = actions.active_operation(pc, OperationKind.CREATE)
        if create_op is not None and create_op.deadline and timezone.now() > create_op.deadline:
            actions.finish_operation(
                op_id=create_op.pk, status=OperationStatus.FAILED, code="provisioning_management_unreachable",
                message=f"The management cluster {pc.management.cluster.name} did not answer until the deadline: "
                        f"{explained.message}",
                params={"management": pc.management.cluster.name, "error": explained.message})
        return {**(pc.progress or {}), "error": {"code": explained.code, "message": explained.message}}
    progress = capi.summarize(objs)
    for pool in progress["pools"]:
        pool["machine_size"] = sizes.get(pool["name"], "")
    if progress["failure"] is not None:  # show the Machine's own reason, not the one aggregated on the Cluster
        progress["failure"] = _machine_failure(progress) or progress["failure"]
    conditions = list(((objs.cluster or {}).get("status") or {}).get("conditions") or [])
    create_op = actions.active_operation(pc, OperationKind.CREATE)

    cluster_id = pc.cluster_id
    failure: tuple[str, str, dict[str, Any]] | None = None
    if secret is not None and cluster_id is None and not progress["cluster"]["deleting"]:
        try:
            cluster = register(pc, secret)
        except errors.PortalError as exc:
            failure = (exc.message, exc.code, exc.params)
        else:
            cluster_id = cluster.pk
            actions.link_cluster(pc_id=pc.pk, cluster=cluster)

    message, code, params = _progress_message(progress)
    changes: dict[str, Any] = {"progress": progress, "conditions": conditions, "followed": timezone.now()}
    with transaction.atomic():  # the operation and the row change together
        if create_op is not None:
            op_status, done = _judge_create(create_op, progress, registered=cluster_id is not None, failure=failure)
            if op_status == OperationStatus.SUCCEEDED:
                message, code, params = done
                actions.finish_operation(op_id=create_op.pk, status=op_status, message=message, code=code, params=params,
                                         progress=_operation_summary(progress))
            elif op_status == OperationStatus.FAILED:
                message, code, params = done
                actions.finish_operation(op_id=create_op.pk, status=op_status, message=message, code=code, params=params,
                                         progress=_operation_summary(progress))
                if cluster_id is None:
                    changes["phase"] = Phase.FAILED
            else:
                summary = _operation_summary(progress)
                if summary != create_op.progress:
                    actions.update_operation(op_id=create_op.pk, progress=summary)
            changes.update(message=message, message_code=code, message_params=params)
        if pc.phase in CREATE_PHASES and changes.get("phase") != Phase.FAILED:
            if cluster_id is not None:
                changes["phase"] = Phase.PROVISIONED
            elif progress["exists"] and pc.phase in (Phase.PENDING, Phase.APPLYING):
                changes["phase"] = Phase.PROVISIONING
        actions.record_provisioned(pc_id=pc.pk, phase_from=CREATE_PHASES, **changes)
    return progress


def _machine_failure(progress: dict[str, Any]) -> dict[str, Any] | None:
    """The most specific failure: a Machine's own (``BootstrapFailed``, ``InsufficientQuota``)
    rather than the reason Cluster API aggregates into the Cluster's conditions."""
    for machine in progress.get("machines") or []:
        if machine.get("reason") and not machine.get("draining"):
            return {"object": f"Machine/{machine.get('name')}", "reason": machine.get("reason") or "",
                    "message": machine.get("message") or ""}
    return None


def _judge_create(op: ProvisioningOperation, progress: dict[str, Any], *, registered: bool,
                  failure: tuple[str, str, dict[str, Any]] | None
                  ) -> tuple[str, tuple[str, str, dict[str, Any]]]:
    """The create operation's status after this read, and the message to record."""
    none: tuple[str, str, dict[str, Any]] = ("", "", {})
    if failure is not None:
        return OperationStatus.FAILED, failure
    reported = _machine_failure(progress) or progress.get("failure")
    if reported:
        params = {"reason": reported.get("reason") or "", "object": reported.get("object") or "",
                  "message": reported.get("message") or ""}
        return OperationStatus.FAILED, (
            f"Cluster API reports {params['reason'] or 'a failure'} on {params['object']}: {params['message']}",
            "provisioning_failed", params)
    total = _expected_machines(progress)
    running = progress.get("machines_running", 0)
    if registered and total and running >= total and progress.get("machines_total", 0) >= total:
        return OperationStatus.SUCCEEDED, (f"The cluster is ready: {running} machines running.",
                                           "provisioning_succeeded", {"running": running, "total": total})
    if op.deadline and timezone.now() > op.deadline:
        machine = _stuck(progress) or {}
        params = {"machine": machine.get("name") or "", "phase": machine.get("phase") or "Pending",
                  "running": running, "total": total}
        return OperationStatus.FAILED, (
            f"Machine {params['machine'] or '(none yet)'} is still {params['phase']} at the deadline "
            f"({running}/{total} machines running).", "provisioning_machine_stuck", params)
    return OperationStatus.RUNNING, none


@dataclass(frozen=True)
class Step:
    again_in: float | None  # seconds until the next step; None: stop following


def step(provisioned_id: int) -> Step:
    """One step of the create flow's follow chain: follow, then go on while the create operation runs."""
    before = (ProvisionedCluster.objects.filter(pk=provisioned_id).values_list("progress", flat=True).first())
    progress = follow_once(provisioned_id)
    if not progress:
        return Step(None)
    if not ProvisioningOperation.objects.filter(provisioned_id=provisioned_id, kind=OperationKind.CREATE,
                                                status__in=actions.ACTIVE).exists():
        return Step(None)
    if progress.get("error"):
        return Step(UNREACHABLE_SECONDS)
    return Step(FAST_SECONDS if progress != before else SLOW_SECONDS)


# ---------------------------------------------------------------------------- the reconcile's picks

LOST_SECONDS = 20.0  # a create whose follow step is this late lost its chain
REFRESH_SECONDS = 300.0  # a live provisioned cluster without an operation is re-read this often
APPLY_GRACE_SECONDS = 30.0  # a create still pending (or applying) this long lost its apply task
MANAGEMENT_RECHECK_SECONDS = 600.0


def lost_applies(now: Any = None) -> list[int]:
    """Create operations whose apply task never ran (or died): still ``pending``/``applying``."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=APPLY_GRACE_SECONDS)
    return list(ProvisioningOperation.objects.filter(
        kind=OperationKind.CREATE, status__in=actions.ACTIVE, created__lt=cutoff,
        provisioned__phase__in=(Phase.PENDING, Phase.APPLYING), provisioned__updated__lt=cutoff,
    ).values_list("pk", flat=True))


def due_follows(now: Any = None) -> list[int]:
    """Provisioned clusters to follow now: a running create whose chain looks lost, and live ones
    not read for :data:`REFRESH_SECONDS` (a single read; no chain without a create)."""
    now = now or timezone.now()
    lost = now - timedelta(seconds=LOST_SECONDS)
    stale = now - timedelta(seconds=REFRESH_SECONDS)
    creating = ProvisionedCluster.objects.filter(
        operations__kind=OperationKind.CREATE, operations__status__in=actions.ACTIVE,
        phase__in=(Phase.PROVISIONING, Phase.PROVISIONED)).filter(
        Q(followed__isnull=True) | Q(followed__lt=lost)).values_list("pk", flat=True)
    idle = ProvisionedCluster.objects.filter(deleted__isnull=True, phase__in=(Phase.PROVISIONED, Phase.FAILED)).exclude(
        operations__status__in=actions.ACTIVE).filter(Q(followed__isnull=True) | Q(followed__lt=stale)).values_list(
        "pk", flat=True)
    return sorted(set(creating) | set(idle))


def due_management_checks(now: Any = None) -> list[int]:
    now = now or timezone.now()
    return list(ManagementCluster.objects.filter(
        Q(checked__isnull=True, created__lt=now - timedelta(seconds=APPLY_GRACE_SECONDS))
        | Q(checked__lt=now - timedelta(seconds=MANAGEMENT_RECHECK_SECONDS))).values_list("pk", flat=True))

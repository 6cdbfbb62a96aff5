"""The management-cluster check: does the cluster serve Cluster API, which control-plane and
infrastructure providers are installed (docs/provisioning.md).

Cluster API's core kinds (``cluster.x-k8s.io/v1beta1`` Cluster, MachineDeployment, MachineSet,
Machine) and a control-plane provider's kind (``KubeadmControlPlane``) must be served. The
infrastructure providers come from the label clusterctl puts on every provider's CRDs
(``cluster.x-k8s.io/provider: infrastructure-<name>``) or, for CRDs installed without it, from the
infrastructure kinds the portal knows (:data:`provisioning.capi.INFRASTRUCTURE_KINDS`). The CRDs are
listed; an identity that may not list CRDs is answered by API discovery instead.

:func:`evaluate` is pure (CRDs in, result out); :func:`check` reads the cluster and stores the
result through :func:`provisioning.actions.record_management_check` (the task
``provisioning.check_management`` runs it).

(A package, not a module: ``management/commands/`` holds the app's ``manage.py`` commands,
``sync_cluster_templates`` and ``seed_demo_provisioning``.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clusters.kube.client import KubeClient
from clusters.kube.errors import Forbidden, KubeError, NotFound, UnknownKind
from clusters.kube.messages import explain
from portal.crypto import DecryptionError
from provisioning import actions, capi
from provisioning.models import CheckStatus, ManagementCluster

CALL_TIMEOUT = 10.0
CRD_API = "apiextensions.k8s.io/v1"
INFRASTRUCTURE_VERSIONS = ("v1beta1", "v1beta2")


@dataclass(frozen=True)
class Result:
    status: str
    message: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)
    capi_versions: dict[str, list[str]] = field(default_factory=dict)
    control_plane_providers: list[str] = field(default_factory=list)
    infrastructure_providers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Served:
    """One served kind: its group, kind, served versions and clusterctl's provider label."""

    group: str
    kind: str
    versions: tuple[str, ...]
    provider: str = ""


def served_from_crds(crds: list[dict[str, Any]]) -> list[Served]:
    out = []
    for crd in crds:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        versions = tuple(str(v.get("name")) for v in spec.get("versions") or [] if v.get("served"))
        labels = (crd.get("metadata") or {}).get("labels") or {}
        out.append(Served(group=str(spec.get("group") or ""), kind=str(names.get("kind") or ""), versions=versions,
                          provider=str(labels.get(capi.PROVIDER_LABEL) or "")))
    return out


def evaluate(served: list[Served]) -> Result:
    """What a management cluster serving ``served`` can do."""
    versions: dict[str, set[str]] = {}
    for s in served:
        if s.group.endswith("cluster.x-k8s.io"):
            versions.setdefault(s.group, set()).update(s.versions)
    core = {s.kind for s in served if s.group == capi.CLUSTER_GROUP and capi.VERSION in s.versions}
    missing = [k for k in capi.REQUIRED_KINDS if k not in core]
    control_planes = sorted({
        s.provider.removeprefix("control-plane-") if s.provider.startswith("control-plane-")
        else s.kind.removesuffix("ControlPlane").lower()
        for s in served if s.group == capi.CONTROL_PLANE_GROUP and s.kind in capi.CONTROL_PLANE_KINDS
        and capi.VERSION in s.versions})
    by_kind = {kind: name for name, kind in capi.INFRASTRUCTURE_KINDS.items()}
    infrastructure = sorted(
        {s.provider.removeprefix(capi.INFRASTRUCTURE_PREFIX) for s in served
         if s.provider.startswith(capi.INFRASTRUCTURE_PREFIX)}
        | {by_kind[s.kind] for s in served if s.group == capi.INFRASTRUCTURE_GROUP and s.kind in by_kind})

    def result(status: str, message: str, code: str, params: dict[str, Any]) -> Result:
        return Result(status, message, code, params, {g: sorted(v) for g, v in sorted(versions.items())},
                      control_planes, infrastructure)

    if missing:
        return result(CheckStatus.ERROR, f"Cluster API ({capi.CLUSTER_API}) is not installed: the cluster does not "
                      f"serve {', '.join(missing)}. Install it with `clusterctl init`.", "management_capi_missing",
                      {"missing": ", ".join(missing)})
    if not control_planes:
        return result(CheckStatus.ERROR, "No control-plane provider is installed (KubeadmControlPlane is not served). "
                      "Install one with `clusterctl init --control-plane kubeadm`.",
                      "management_control_plane_missing", {})
    if not infrastructure:
        return result(CheckStatus.ERROR, "No infrastructure provider is installed. Install one with "
                      "`clusterctl init --infrastructure <provider>`.", "management_infrastructure_missing", {})
    return result(CheckStatus.READY, f"Cluster API is ready; infrastructure providers: {', '.join(infrastructure)}.",
                  "management_ready", {"providers": ", ".join(infrastructure)})


def _discover(client: KubeClient) -> list[Served]:
    """What API discovery says, for identities that may not list CRDs."""
    out = []
    wanted = [(capi.CLUSTER_GROUP, k) for k in capi.REQUIRED_KINDS] + \
        [(capi.CONTROL_PLANE_GROUP, k) for k in capi.CONTROL_PLANE_KINDS]
    for group, kind in wanted:
        try:
            client.resource(f"{group}/{capi.VERSION}", kind, timeout=CALL_TIMEOUT)
            out.append(Served(group, kind, (capi.VERSION,)))
        except UnknownKind:
            continue
    for version in INFRASTRUCTURE_VERSIONS:
        for kind in capi.INFRASTRUCTURE_KINDS.values():
            try:
                client.resource(f"{capi.INFRASTRUCTURE_GROUP}/{version}", kind, timeout=CALL_TIMEOUT)
                out.append(Served(capi.INFRASTRUCTURE_GROUP, kind, (version,)))
            except UnknownKind:
                continue
    return out


def inspect(client: KubeClient) -> list[Served]:
    try:
        crds = client.list_objects("CustomResourceDefinition", api_version=CRD_API, timeout=CALL_TIMEOUT)
    except (Forbidden, NotFound, UnknownKind):
        return _discover(client)
    return served_from_crds(crds)


def check(mc_id: int) -> str:
    """Check one management cluster and store what was found; returns its status."""
    mc = ManagementCluster.objects.select_related("cluster").filter(pk=mc_id).first()
    if mc is None:
        return "gone"
    try:
        with KubeClient(mc.cluster.connection_spec(), read_timeout=CALL_TIMEOUT, connect_timeout=3.0) as client:
            result = evaluate(inspect(client))
    except KubeError as exc:
        explained = explain(exc)
        result = Result(CheckStatus.ERROR, f"The management cluster {mc.cluster.name} could not be read: "
                        f"{explained.message}", "management_unreachable",
                        {"cluster": mc.cluster.name, "reason": explained.code, "error": explained.message},
                        mc.capi_versions, list(mc.control_plane_providers), list(mc.infrastructure_providers))
    except DecryptionError:
        result = Result(CheckStatus.ERROR, f"The portal cannot decrypt the credentials of {mc.cluster.name}; replace "
                        "them on the cluster's page.", "management_unreachable",
                        {"cluster": mc.cluster.name, "reason": "credentials_unreadable", "error": ""})
    actions.record_management_check(
        mc_id=mc.pk, status=result.status, capi_versions=result.capi_versions,
        control_plane_providers=result.control_plane_providers,
        infrastructure_providers=result.infrastructure_providers, message=result.message, code=result.code,
        params=result.params)
    return result.status

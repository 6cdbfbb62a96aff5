"""No list endpoint makes a query per row (an N+1): for every list endpoint in the OpenAPI schema,
the number of queries a page takes is the same with N and with 3N rows, for an admin and for a
workspace member who sees them all.

The endpoints come from the schema the API serves (as tests/test_input_limits.py walks it), so a
new list endpoint fails here until it has a seeder below: a function that adds ``k`` more rows of
what the endpoint lists, visible to both users. A query per row shows up as a count that grows
with the rows; the failure names the endpoint and both counts.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from activity.models import ObjectChange
from builds.models import BuildDefinition, BuildRun, BuildStep, Registry
from catalog.models import (
    CatalogSource,
    ConfigVersion,
    Move,
    MoveRelease,
    Package,
    PackageVersion,
    Release,
    Revision,
    Rollout,
    RolloutTarget,
    SourceKind,
)
from clusters.models import Cluster, KubeObject, ObjectAction
from identity import actions as identity_actions
from identity.models import ExternalIdentity, GroupMapping, IdentityProvider
from monitoring.models import (
    Alert,
    AlertRule,
    DeliveryAttempt,
    EventRecord,
    Notification,
    NotificationChannel,
    PriceSheet,
    Silence,
)
from portal import actions as portal_actions
from portal.models import AuditRecord, TableView, User
from portal.testing import make_user
from provisioning.models import ClusterTemplate, ManagementCluster, ProvisionedCluster, ProvisioningOperation
from workspaces import quota as q
from workspaces.models import ClusterAllocation, Membership, RegistryAllocation, Role, ServiceMap, Workspace

pytestmark = pytest.mark.django_db

N = 2
QUOTA = q.dump(q.parse({"requests.cpu": "2", "requests.memory": "2Gi", "pods": "10"}))
_ids = itertools.count(1)

# List endpoints whose rows do not come from the database, with the reason.
NOT_FROM_THE_DATABASE = {
    "catalog_configs_list": "asks the cluster for the ConfigMaps and Secrets (catalog/config.py)",
    "workspaces_roles_grants_list": "the fixed table of grants (workspaces/models.py Grant)",
    "builds_presets_list": "the fixed list of language presets (builds/presets.py)",
    # one registry's repositories and one repository's tags, read live from the registry (builds/registry_ops.py)
    "builds_registries_repositories_retrieve": "asks the registry for its catalog (builds/registry_ops.py)",
    "builds_registries_tags_retrieve": "asks the registry for a repository's tags (builds/registry_ops.py)",
}


@dataclass
class Scene:
    """An admin, and a member (manager) of a workspace that has a cluster and a service map on it."""

    admin: User
    member: User
    workspace: Workspace
    cluster: Cluster
    service_map: ServiceMap
    source: CatalogSource
    version: PackageVersion

    def next(self) -> int:
        return next(_ids)


def _scene() -> Scene:
    Role.ensure_builtin()
    n = next(_ids)
    admin = make_user(f"qc-admin-{n}", role="admin")
    member = make_user(f"qc-member-{n}")
    workspace = Workspace.objects.create(name=f"qc-{n}")
    Membership.objects.create(workspace=workspace, user=member, role=Role.objects.get(key="manager"))
    cluster = _cluster(workspace)
    sm = ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=f"qc-{n}", quota=QUOTA,
                                   status="ready")
    source = CatalogSource.objects.create(name=f"qc-uploads-{n}", kind=SourceKind.UPLOAD, workspace=workspace)
    version = _package(source)
    return Scene(admin, member, workspace, cluster, sm, source, version)


def _cluster(workspace: Workspace) -> Cluster:
    n = next(_ids)
    cluster = Cluster.objects.create(name=f"qc-c{n}", server=f"https://127.0.0.1:{6000 + n}", status="ready")
    ClusterAllocation.objects.create(workspace=workspace, cluster=cluster, quota=QUOTA, status="ready")
    return cluster


def _package(source: CatalogSource) -> PackageVersion:
    n = next(_ids)
    package = Package.objects.create(source=source, name=f"shop{n}")
    return PackageVersion.objects.create(package=package, version="1.0.0", archive=b"", digest=f"sha256:{n}",
                                         values_yaml="replicas: 1\n", values_schema={})


def _obj(s: Scene, kind: str, namespaced: bool = True, **fields: Any) -> None:
    n = s.next()
    namespace = s.service_map.namespace if namespaced else ""
    name = f"{kind.lower()}-{n}"
    KubeObject.objects.create(cluster=s.cluster, kind=kind, name=name, namespace=namespace,
                              uid=f"uid-{s.cluster.pk}-{kind}-{n}", resource_version="1", created=timezone.now(),
                              **fields)


def _objects(kind: str, namespaced: bool = True, **fields: Any) -> Callable[[Scene, int], None]:
    def add(s: Scene, k: int) -> None:
        for _ in range(k):
            _obj(s, kind, namespaced, **fields)
    return add


def _audit(s: Scene, k: int) -> None:
    for _ in range(k):
        AuditRecord.objects.create(actor=s.member, actor_username=s.member.username, action="workspace.update",
                                   target_type="workspace", target_id=str(s.workspace.pk),
                                   target_repr=s.workspace.name, outcome="success")


def _tokens(s: Scene, k: int) -> None:
    for user in (s.admin, s.member):
        for _ in range(k):
            portal_actions.create_api_token(user=user, name=f"qc-{s.next()}", expires=None)


def _config_versions(s: Scene, k: int) -> None:
    start = ConfigVersion.objects.filter(service_map=s.service_map).count()
    for i in range(k):
        ConfigVersion.objects.create(service_map=s.service_map, kind="ConfigMap", name="app", version=start + i + 1,
                                     keys=["mode"], data={"mode": "blue"}, created_by=s.member)


def _packages(s: Scene, k: int) -> None:
    for _ in range(k):
        _package(s.source)


def _releases(s: Scene, k: int) -> None:
    for _ in range(k):
        n = s.next()
        release = Release.objects.create(workspace=s.workspace, service_map=s.service_map, name=f"shop{n}",
                                         package_version=s.version, revision=1, created_by=s.member)
        Revision.objects.create(release=release, number=1, package_version=s.version, created_by=s.member)


def _rollouts(s: Scene, k: int) -> None:
    """Rollouts with a target each that has started its release (the secrets of its revision are read)."""
    for _ in range(k):
        name = f"wave{s.next()}"
        rollout = Rollout.objects.create(workspace=s.workspace, release_name=name, package_version=s.version,
                                         created_by=s.member)
        release = Release.objects.create(workspace=s.workspace, service_map=s.service_map, name=name,
                                         package_version=s.version, revision=1, created_by=s.member)
        Revision.objects.create(release=release, number=1, package_version=s.version, created_by=s.member)
        RolloutTarget.objects.create(rollout=rollout, service_map=s.service_map, wave=1, release=release, revision=1)


def _sources(s: Scene, k: int) -> None:
    for _ in range(k):
        CatalogSource.objects.create(name=f"qc-src-{s.next()}", kind=SourceKind.UPLOAD, workspace=s.workspace,
                                     created_by=s.member)


def _clusters(s: Scene, k: int) -> None:
    for _ in range(k):
        _cluster(s.workspace)


def _users(s: Scene, k: int) -> None:
    for _ in range(k):
        make_user(f"qc-user-{s.next()}")


def _members(s: Scene, k: int) -> None:
    viewer = Role.objects.get(key="viewer")
    for _ in range(k):
        Membership.objects.create(workspace=s.workspace, user=make_user(f"qc-m-{s.next()}"), role=viewer)


def _workspaces(s: Scene, k: int) -> None:
    manager = Role.objects.get(key="manager")
    for _ in range(k):
        workspace = Workspace.objects.create(name=f"qc-w{s.next()}", created_by=s.admin)
        Membership.objects.create(workspace=workspace, user=s.member, role=manager)
        cluster = _cluster(workspace)
        ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=f"qc-w{s.next()}", quota=QUOTA)


def _registries(s: Scene, k: int) -> None:
    for _ in range(k):
        RegistryAllocation.objects.create(workspace=s.workspace, registry=f"registry.example.com/qc-{s.next()}")


def _service_maps(s: Scene, k: int) -> None:
    for _ in range(k):
        ServiceMap.objects.create(workspace=s.workspace, cluster=s.cluster, namespace=f"qc-sm{s.next()}",
                                  quota=QUOTA, created_by=s.member)


def _roles(s: Scene, k: int) -> None:
    for _ in range(k):
        Role.objects.create(key=f"qc-role{s.next()}", name="Restarter", grants=["workloads.restart"])


def _namespaces(s: Scene, k: int) -> None:
    """Namespaces of service maps of the member's workspace (a member sees those)."""
    for _ in range(k):
        sm = ServiceMap.objects.create(workspace=s.workspace, cluster=s.cluster, namespace=f"qc-ns{s.next()}",
                                       quota=QUOTA)
        KubeObject.objects.create(cluster=s.cluster, kind="Namespace", name=sm.namespace, uid=f"uid-ns-{sm.pk}",
                                  resource_version="1", created=timezone.now(), phase="Active")


def _providers(s: Scene, k: int) -> None:
    """Enabled providers, each with a mapping and someone signed in through it (the rows count them)."""
    for _ in range(k):
        n = s.next()
        idp = identity_actions.create_provider(data={
            "name": f"qc-idp-{n}", "kind": "oidc", "enabled": True,
            "config": {"issuer": "https://login.example.com", "client_id": "portal"}})
        GroupMapping.objects.create(provider=idp, group=f"devs-{n}", workspace=s.workspace,
                                    role=Role.objects.get(key="developer"))
        ExternalIdentity.objects.create(provider=idp, subject=f"sub-{n}", user=make_user(f"qc-ext-{n}"),
                                        username=f"qc-ext-{n}")


def _mappings(s: Scene, k: int) -> None:
    idp = IdentityProvider.objects.filter(name__startswith="qc-map-idp").first() or identity_actions.create_provider(
        data={"name": f"qc-map-idp-{s.next()}", "kind": "ldap",
              "config": {"server_uri": "ldaps://ldap.example.com", "user_search_base": "ou=people,dc=example"}})
    for _ in range(k):
        GroupMapping.objects.create(provider=idp, group=f"cn=team-{s.next()},ou=groups,dc=example",
                                    workspace=s.workspace, role=Role.objects.get(key="viewer"))


NOW = "2026-01-01T00:00:00+00:00"


def _activity(s: Scene, k: int) -> None:
    """Rows of every timeline source in the member's namespace (the timeline reads them with a query per source)."""
    ns = s.service_map.namespace
    for _ in range(k):
        n = s.next()
        ObjectAction.objects.create(cluster=s.cluster, kind="Deployment", namespace=ns, name=f"web{n}", action="apply",
                                    status="succeeded", requested_by=s.member, requested_username=s.member.username)
        ObjectChange.objects.create(cluster=s.cluster, kind="Deployment", namespace=ns, name=f"web{n}",
                                    manager="kubectl-edit", time=timezone.now(), outside=True)
        AuditRecord.objects.create(actor=s.member, actor_username=s.member.username, action="pod.exec",
                                   outcome="success", detail={"cluster": s.cluster.pk, "namespace": ns,
                                                              "pod": f"web{n}", "container": "web"})
    _objects("Event", phase="Normal", data={"type": "Normal", "reason": "Started", "message": "Started",
                                            "involved": {"kind": "Pod", "name": "web-1"}, "last_seen": NOW})(s, k)


def _object_actions(s: Scene, k: int) -> None:
    for _ in range(k):
        n = s.next()
        ObjectAction.objects.create(cluster=s.cluster, group="apps", version="v1", plural="deployments",
                                    kind="Deployment", namespace=s.service_map.namespace, name=f"web{n}",
                                    action="scale", params={"replicas": 2}, requested_by=s.member,
                                    requested_username=s.member.username, status="succeeded")


def _build_registries(s: Scene, k: int) -> None:
    """Registries the member sees: each with an allocation of the member's workspace inside it (the
    admin sees them all, with their allocations)."""
    for _ in range(k):
        host = f"qc-reg-{s.next()}.example.com"
        Registry.objects.create(name=host.split(".")[0], host=host, username="u")
        RegistryAllocation.objects.create(workspace=s.workspace, registry=f"{host}/team-{s.next()}")


def _qc_registry(s: Scene) -> Registry:
    registry, _ = Registry.objects.get_or_create(name="qc-registry", defaults={"host": "qc-registry.example.com"})
    RegistryAllocation.objects.get_or_create(workspace=s.workspace, registry="qc-registry.example.com")
    return registry


def _build_definitions(s: Scene, k: int) -> None:
    """Definitions, each with a run of two steps (the page's last_run rows are counted too)."""
    registry = _qc_registry(s)
    for _ in range(k):
        n = s.next()
        definition = BuildDefinition.objects.create(
            workspace=s.workspace, name=f"qc-build-{n}", git_url="https://git.example.com/shop.git",
            registry=registry, repository=f"shop-{n}", cluster=s.cluster, service_map=s.service_map)
        run = BuildRun.objects.create(definition=definition, workspace=s.workspace, number=1, spec={})
        BuildStep.objects.bulk_create([BuildStep(run=run, name=name, position=i)
                                       for i, name in enumerate(("clone", "build"), start=1)])


def _build_runs(s: Scene, k: int) -> None:
    """Runs of one definition, each with four steps with logs."""
    registry = _qc_registry(s)
    definition, _ = BuildDefinition.objects.get_or_create(
        workspace=s.workspace, name="qc-runs", defaults={
            "git_url": "https://git.example.com/shop.git", "registry": registry, "repository": "shop-runs",
            "cluster": s.cluster, "service_map": s.service_map})
    for _ in range(k):
        run = BuildRun.objects.create(definition=definition, workspace=s.workspace, number=s.next(), spec={})
        BuildStep.objects.bulk_create([BuildStep(run=run, name=name, position=i, log="line\n" * 10)
                                       for i, name in enumerate(("clone", "build", "scan", "deploy"), start=1)])


# monitoring (issue 14): rows of the member's workspace and service map, each with every relation its row shows


def _qc_rule(s: Scene) -> AlertRule:
    rule, _ = AlertRule.objects.get_or_create(
        name=f"qc-rule-{s.workspace.pk}", workspace=s.workspace, defaults={
            "metric": "cpu_usage", "aggregation": "avg", "operator": ">", "threshold": 1.0, "params": {"level": "pod"},
            "service_map": s.service_map, "created_by": s.member})
    return rule


def _alert(s: Scene, state: str = "acknowledged") -> Alert:
    now = timezone.now()
    n = s.next()
    return Alert.objects.create(
        rule=_qc_rule(s), fingerprint=f"{n:064x}", state=state, severity="warning", cluster=s.cluster,
        workspace=s.workspace, service_map=s.service_map, namespace=s.service_map.namespace, subject_kind="Pod",
        subject_name=f"web-{n}", message="hot", started_at=now, fired_at=now, last_seen_at=now,
        acknowledged_by=s.member if state == "acknowledged" else None, acknowledged_at=now if state == "acknowledged"
        else None, resolved_by=s.admin if state == "resolved" else None, resolved_at=now if state == "resolved" else None)


def _alerts(s: Scene, k: int) -> None:
    for i in range(k):
        _alert(s, ("acknowledged", "resolved", "firing")[i % 3])


def _rules(s: Scene, k: int) -> None:
    """Custom rules of the member's service map, each with an open alert (the rows count them)."""
    for _ in range(k):
        rule = AlertRule.objects.create(name=f"qc-rule-{s.next()}", metric="cpu_usage", aggregation="avg",
                                        operator=">", threshold=1.0, params={"level": "pod"}, workspace=s.workspace,
                                        service_map=s.service_map, cluster=s.cluster, created_by=s.member)
        Alert.objects.filter(pk=_alert(s, "firing").pk).update(rule=rule)


def _silences(s: Scene, k: int) -> None:
    now = timezone.now()
    for _ in range(k):
        Silence.objects.create(rule=_qc_rule(s), workspace=s.workspace, service_map=s.service_map, cluster=s.cluster,
                               reason="qc", starts_at=now, ends_at=now + timedelta(hours=1), created_by=s.member)


def _channel(s: Scene) -> NotificationChannel:
    return NotificationChannel.objects.create(name=f"qc-channel-{s.next()}", kind="email", workspace=s.workspace,
                                              recipients=["qc@example.com"], created_by=s.member)


def _channels(s: Scene, k: int) -> None:
    for _ in range(k):
        _channel(s)


def _notifications(s: Scene, k: int) -> None:
    """Notifications of the member's alerts to the member's channels, each with two delivery attempts."""
    now = timezone.now()
    for _ in range(k):
        alert, channel = _alert(s, "firing"), _channel(s)
        notification = Notification.objects.create(alert=alert, channel=channel, event="firing", state="delivered",
                                                   idempotency_key=f"qc:{s.next()}", next_attempt_at=now, attempts=2)
        DeliveryAttempt.objects.bulk_create([DeliveryAttempt(notification=notification, at=now, ok=ok, status_code=code)
                                             for ok, code in ((False, 503), (True, 250))])


def _event_records(s: Scene, k: int) -> None:
    now = timezone.now()
    for _ in range(k):
        n = s.next()
        EventRecord.objects.create(cluster=s.cluster, uid=f"qc-event-{n}", namespace=s.service_map.namespace,
                                   type="Warning", reason="BackOff", message="Back-off", object_kind="Pod",
                                   object_name=f"web-{n}", last_seen=now)


def _price_sheets(s: Scene, k: int) -> None:
    for _ in range(k):
        PriceSheet.objects.create(name=f"qc-prices-{s.next()}", cluster=_cluster(s.workspace), currency="KRW",
                                  cpu_core_hour="1.5", memory_gib_hour="0.2", effective_from="2026-01-01",
                                  created_by=s.admin)


def _table_views(s: Scene, k: int) -> None:
    """Saved column sets of the clusters table, for the admin and for the member (each lists their own)."""
    for user in (s.admin, s.member):
        for _ in range(k):
            TableView.objects.create(user=user, table="clusters", name=f"qc-{s.next()}", columns=["name", "status"])


# provisioning (issue 17): rows only those who read the whole fleet see (the member sees none: MEMBER_SEES_NONE)


def _management_cluster(s: Scene) -> ManagementCluster:
    n = s.next()
    host = Cluster.objects.create(name=f"qc-mgmt-{n}", server=f"https://127.0.0.1:{7000 + n}", status="connected")
    return ManagementCluster.objects.create(cluster=host, status="ready", capi_versions={"cluster.x-k8s.io": ["v1beta1"]},
                                            infrastructure_providers=["sandbox"], created_by=s.admin)


def _management_clusters(s: Scene, k: int) -> None:
    for _ in range(k):
        _management_cluster(s)


def _cluster_template(s: Scene) -> ClusterTemplate:
    return ClusterTemplate.objects.create(name=f"qc-tpl-{s.next()}", provider="sandbox",
                                          files={"Chart.yaml": "name: qc\n", "values.yaml": "workers: 1\n"},
                                          created_by=s.admin)


def _cluster_templates(s: Scene, k: int) -> None:
    """Templates, each with a cluster made from it (the rows count them)."""
    for _ in range(k):
        template = _cluster_template(s)
        ProvisionedCluster.objects.create(name=f"qc-pc-{s.next()}", management=_management_cluster(s),
                                          namespace="qc", template=template, created_by=s.admin)


def _provisioned(s: Scene) -> ProvisionedCluster:
    """A provisioned cluster on its own management cluster and template, registered, with two operations."""
    n = s.next()
    registered = Cluster.objects.create(name=f"qc-prov-{n}", server=f"https://127.0.0.1:{8000 + n}", status="ready")
    pc = ProvisionedCluster.objects.create(name=f"qc-prov-{n}", management=_management_cluster(s), namespace="qc",
                                           template=_cluster_template(s), cluster=registered, phase="provisioned",
                                           progress={"exists": True, "pools": []}, created_by=s.admin)
    _operations_of(s, pc, 2)
    return pc


def _operations_of(s: Scene, pc: ProvisionedCluster, k: int) -> None:
    for i in range(k):
        ProvisioningOperation.objects.create(provisioned=pc, kind="scale_pool", spec={"pool": "md-0", "replicas": i},
                                             status="succeeded", created_by=s.admin)


def _provisioned_clusters(s: Scene, k: int) -> None:
    for _ in range(k):
        _provisioned(s)


def _provisioning_operations(s: Scene, k: int) -> None:
    """Operations of the scene's provisioned cluster (the path's ``{id}``)."""
    _operations_of(s, _scene_provisioned(s), k)


def _provisioning_pools(s: Scene, k: int) -> None:
    """Node pools of the scene's provisioned cluster as last followed (``progress``), two machines each, the size
    of some set by an add operation (the list looks those up)."""
    pc = _scene_provisioned(s)
    progress = dict(pc.progress or {})
    pools, machines = list(progress.get("pools") or []), list(progress.get("machines") or [])
    for i in range(k):
        name = f"{pc.name}-pool{s.next()}"
        pools.append({"name": name, "replicas": 2, "ready": 2, "available": 2, "updated": 2, "phase": "Running",
                      "version": "v1.30.4", **({"machine_size": "small"} if i % 2 else {})})
        machines += [{"name": f"{name}-{j}", "pool": name, "phase": "Running", "node": f"{name}-{j}"} for j in range(2)]
        ProvisioningOperation.objects.create(provisioned=pc, kind="add_pool", status="succeeded", created_by=s.admin,
                                             spec={"pool": name, "replicas": 2, "machine_size": "medium"})
    ProvisionedCluster.objects.filter(pk=pc.pk).update(progress={**progress, "pools": pools, "machines": machines})


def _scene_provisioned(s: Scene) -> ProvisionedCluster:
    found = ProvisionedCluster.objects.filter(name=f"qc-scene-{s.workspace.pk}").first()
    if found is None:
        found = _provisioned(s)
        ProvisionedCluster.objects.filter(pk=found.pk).update(name=f"qc-scene-{s.workspace.pk}")
        ProvisioningOperation.objects.filter(provisioned=found).delete()
    return found


# moves (issue 17): moves of the member's service maps, each from its own service map to another cluster of the
# workspace, with two release lines


def _moves(s: Scene, k: int) -> None:
    for _ in range(k):
        n = s.next()
        source = ServiceMap.objects.create(workspace=s.workspace, cluster=s.cluster, namespace=f"qc-mv{n}", quota=QUOTA)
        target_cluster = _cluster(s.workspace)
        target = ServiceMap.objects.create(workspace=s.workspace, cluster=target_cluster, namespace=f"qc-mv{n}",
                                           quota=QUOTA)
        move = Move.objects.create(workspace=s.workspace, source=source, target=target, source_cluster=s.cluster,
                                   target_cluster=target_cluster, source_cluster_name=s.cluster.name,
                                   target_cluster_name=target_cluster.name, source_namespace=source.namespace,
                                   target_namespace=target.namespace, quota=QUOTA, status="healthy",
                                   steps=[{"key": "namespace", "state": "done"}], created_by=s.member)
        for name in ("web", "db"):
            MoveRelease.objects.create(move=move, name=name, source_revision=1, version_label="shop 1.0.0",
                                       state="healthy")


# operationId -> what adds k rows the endpoint lists (visible to the admin and the member).
SEEDERS: dict[str, Callable[[Scene, int], None]] = {
    "activity_list": _activity,
    "audit_list": _audit,
    "auth_providers": _providers,
    "identity_providers_list": _providers,
    "identity_mappings_list": _mappings,
    "auth_tokens_list": _tokens,
    "catalog_configs_versions_list": _config_versions,
    "catalog_packages_list": _packages,
    "catalog_releases_list": _releases,
    "catalog_rollouts_list": _rollouts,
    "catalog_sources_list": _sources,
    "clusters_list": _clusters,
    "clusters_actions_list": _object_actions,
    "clusters_claims_list": _objects("PersistentVolumeClaim", phase="Bound",
                                     data={"storage_class": "standard", "volume_name": "pv"}),
    "clusters_events_list": _objects("Event", phase="Normal", data={
        "type": "Normal", "reason": "Started", "message": "Started container web",
        "involved": {"kind": "Pod", "name": "web-1"}, "last_seen": NOW}),
    "clusters_hpas_list": _objects("HorizontalPodAutoscaler", data={"target": {"kind": "Deployment", "name": "web"}}),
    "clusters_ingresses_list": _objects("Ingress", data={"rules": [{"host": "shop.example.com", "paths": []}]}),
    "clusters_namespaces_list": _namespaces,
    "clusters_nodes_list": _objects("Node", namespaced=False, phase="Ready", data={"ready": True, "roles": ["worker"]}),
    "clusters_pods_list": _objects("Pod", node_name="node-1", phase="Running", labels={"app": "web"}, data={
        "restarts": 0, "status_text": "Running", "requests": {"cpu": 0.05, "memory": 2**25},
        "containers": [{"name": "web", "image": "nginx:1.27"}]}),
    "clusters_quotas_list": _objects("ResourceQuota", data={"hard": {"pods": "10"}, "used": {"pods": "1"}}),
    "clusters_services_list": _objects("Service", labels={"app": "web"}, data={"type": "ClusterIP"}),
    "clusters_storageclasses_list": _objects("StorageClass", namespaced=False,
                                             data={"provisioner": "example.com/disk"}),
    "clusters_volumes_list": _objects("PersistentVolume", namespaced=False, phase="Bound", data={"claim": "ns/pvc"}),
    "clusters_workloads_list": _objects("Deployment", phase="Available", labels={"app": "web"},
                                        data={"replicas": 1, "ready_replicas": 1, "images": ["nginx:1.27"]}),
    "clusters_search_list": _objects("Deployment", phase="Available", labels={"app": "web"},
                                     data={"replicas": 1, "ready_replicas": 1, "images": ["nginx:1.27"]}),
    "users_list": _users,
    "workspaces_list": _workspaces,
    "workspaces_allocations_list": _clusters,
    "workspaces_members_list": _members,
    "workspaces_members_candidates_list": _users,
    "workspaces_registries_list": _registries,
    "workspaces_servicemaps_list": _service_maps,
    "servicemaps_all_list": _service_maps,
    "workspaces_quota_overview_list": _workspaces,
    "workspaces_roles_list": _roles,
    "builds_registries_list": _build_registries,
    "builds_definitions_list": _build_definitions,
    "builds_runs_list": _build_runs,
    "monitoring_alerts_list": _alerts,
    "monitoring_rules_list": _rules,
    "monitoring_silences_list": _silences,
    "monitoring_channels_list": _channels,
    "monitoring_notifications_list": _notifications,
    "monitoring_events_list": _event_records,
    "monitoring_prices_list": _price_sheets,
    "account_table_views_list": _table_views,
    "catalog_moves_list": _moves,
    "provisioning_clusters_operations_list": _provisioning_operations,
    "provisioning_clusters_pools_list": _provisioning_pools,
    "provisioning_management_clusters_list": _management_clusters,
    "provisioning_templates_list": _cluster_templates,
    "provisioning_clusters_list": _provisioned_clusters,
}

# Lists a workspace member is shown nothing of, by design (cluster-scoped objects are the admins'):
# for the member only the query count is compared.
MEMBER_SEES_NONE = {"clusters_nodes_list", "clusters_volumes_list",
                    # provisioning (issue 17): those who read the whole fleet only (the member's are 404 on {id})
                    "provisioning_management_clusters_list", "provisioning_templates_list",
                    "provisioning_clusters_list"}

# Query strings some list endpoints need to list anything.
QUERIES = {"clusters_search_list": "kind=workloads&q=deployment-&", "workspaces_members_candidates_list": "q=qc-&",
           "activity_list": "cluster={cluster_id}&", "account_table_views_list": "table=clusters&"}


def _list_endpoints() -> dict[str, str]:
    """operationId -> path of every GET whose 200 is a list (an array, or a page with ``results``)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    found: dict[str, str] = {}
    for path, operations in schema["paths"].items():
        operation = operations.get("get")
        if not operation:
            continue
        content: dict[str, Any] = operation.get("responses", {}).get("200", {}).get("content", {})
        media: dict[str, Any] = next(iter(content.values()), {})
        body: dict[str, Any] = media.get("schema", {})
        while "$ref" in body:
            body = components[body["$ref"].rsplit("/", 1)[-1]]
        if body.get("type") == "array" or "results" in body.get("properties", {}):
            found[operation["operationId"]] = path
    return found


LIST_ENDPOINTS = _list_endpoints()


def _list_orderings() -> dict[str, list[str]]:
    """operationId -> the ``ordering`` choices (both directions) of every list endpoint that offers them."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found: dict[str, list[str]] = {}
    for operations in schema["paths"].values():
        operation = operations.get("get")
        if not operation or operation["operationId"] not in LIST_ENDPOINTS:
            continue
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "ordering" and parameter["in"] == "query":
                choices = parameter.get("schema", {}).get("enum") or []
                if choices:
                    found[operation["operationId"]] = [str(c) for c in choices]
    return found


ORDERINGS = _list_orderings()


def test_every_list_endpoint_has_a_seeder() -> None:
    missing = set(LIST_ENDPOINTS) - set(SEEDERS) - set(NOT_FROM_THE_DATABASE)
    assert not missing, f"list endpoints without a seeder in tests/test_query_counts.py: {sorted(missing)}"
    assert not (set(SEEDERS) | set(NOT_FROM_THE_DATABASE)) - set(LIST_ENDPOINTS), "seeders of gone endpoints"


def _path(template: str, s: Scene) -> str:
    values = {"cluster_id": s.cluster.pk, "workspace_id": s.workspace.pk, "servicemap_id": s.service_map.pk,
              "kind": "ConfigMap", "name": "app"}
    if template.startswith("/api/provisioning/clusters/{id}/"):  # the scene's provisioned cluster
        values["id"] = _scene_provisioned(s).pk
    for key, value in values.items():
        template = template.replace("{" + key + "}", str(value))
    assert "{" not in template, f"a path parameter the query-count test does not know: {template}"
    return template


def _count(client: APIClient, url: str) -> tuple[int, int, Any]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    body = response.json() if response.status_code == 200 else response.content
    rows = len(body["results"] if isinstance(body, dict) and "results" in body else body)
    return len(queries), rows if response.status_code == 200 else -response.status_code, queries


@pytest.mark.parametrize("operation", sorted(set(SEEDERS) & set(LIST_ENDPOINTS)))
def test_list_queries_do_not_grow_with_rows(operation: str) -> None:
    s = _scene()
    url = _path(LIST_ENDPOINTS[operation] + "?" + QUERIES.get(operation, ""), s) + "page_size=100"
    seed = SEEDERS[operation]
    seed(s, N)
    clients = {}
    for who, user in (("admin", s.admin), ("member", s.member)):
        client = APIClient()
        client.force_authenticate(user)
        clients[who] = client
    before = {who: _count(client, url) for who, client in clients.items()}
    seed(s, 2 * N)
    after = {who: _count(client, url) for who, client in clients.items()}
    assert before["admin"][1] >= N, (f"{operation}: the admin sees {before['admin'][1]} rows of the {N} seeded: "
                                     f"{clients['admin'].get(url).content!r}")
    for who in clients:
        (n_queries, n_rows, _), (m_queries, m_rows, captured) = before[who], after[who]
        if n_rows < 0:  # this user may not list this (the authorization tests cover that)
            assert m_rows == n_rows
            continue
        if who == "member" and operation in MEMBER_SEES_NONE:
            assert n_rows == m_rows == 0, f"{operation}: the member sees {m_rows} rows"
        else:
            assert m_rows >= n_rows + 2 * N or m_rows == 100, f"{operation} ({who}): rows {n_rows} -> {m_rows}"
        assert m_queries <= n_queries, (
            f"{operation} ({who}): {n_queries} queries for {n_rows} rows but {m_queries} for {m_rows} "
            "(a query per row: select_related/prefetch_related in the list's queryset)\n"
            + "\n".join(q["sql"][:200] for q in captured.captured_queries)
        )


# ---------------------------------------------------------------------------- the metering report (issue 14)


def _metered(s: Scene, k: int) -> None:
    """k more workspaces of the member, each on its own cluster with a service map, two workloads and a priced
    cluster, with one fresh raw sample per series (the report's rows: one per workspace, service map, workload or
    cluster)."""
    from monitoring import store
    from monitoring.samples import SeriesKey

    now = timezone.now()
    ts = store.align(now - timedelta(seconds=60), 30)
    manager = Role.objects.get(key="manager")
    keys: list[SeriesKey] = []
    for _ in range(k):
        workspace = Workspace.objects.create(name=f"qc-mw{s.next()}")
        Membership.objects.create(workspace=workspace, user=s.member, role=manager)
        cluster = _cluster(workspace)
        PriceSheet.objects.create(name=f"qc-mp{s.next()}", cluster=cluster, currency="KRW", cpu_core_hour="2",
                                  memory_gib_hour="0.5", effective_from="2020-01-01")
        sm = ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=f"qc-mn{s.next()}", quota=QUOTA)
        keys += [SeriesKey(cluster.pk, "cluster"), SeriesKey(cluster.pk, "namespace", sm.namespace, sm.namespace,
                                                             service_map_id=sm.pk, workspace_id=workspace.pk)]
        keys += [SeriesKey(cluster.pk, "workload", sm.namespace, f"web{i}", workload_kind="Deployment",
                           workload_name=f"web{i}", service_map_id=sm.pk, workspace_id=workspace.pk) for i in range(2)]
    ids = store.series_ids(keys, now)
    store.write_samples([store.Sample(series_id=ids[key], ts=ts, cpu_usage=0.5, mem_usage=2.0**28, cpu_request=0.25,
                                      mem_request=2.0**27, cpu_billed=0.5, mem_billed=2.0**28, pods=1,
                                      cpu_allocatable=4.0, mem_allocatable=2.0**33) for key in keys])


@pytest.mark.parametrize("group", ["workspace", "servicemap", "workload", "cluster"])
def test_metering_queries_do_not_grow_with_rows(group: str) -> None:
    """The metering report (not a list endpoint, so not in the schema walk above) is a fixed number of statements
    whatever the number of workspaces, service maps, workloads and clusters (docs/metering.md)."""
    s = _scene()
    url = f"/api/monitoring/metering/?group={group}"
    clients = {}
    for who, user in (("admin", s.admin), ("member", s.member)):
        client = APIClient()
        client.force_authenticate(user)
        clients[who] = client

    def count(client: APIClient) -> tuple[int, int, Any]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, response.content
        return len(captured), len(response.json()["rows"]), captured

    _metered(s, N)
    before = {who: count(client) for who, client in clients.items()}
    _metered(s, 2 * N)
    after = {who: count(client) for who, client in clients.items()}
    for who in clients:
        (n_queries, n_rows, _), (m_queries, m_rows, captured) = before[who], after[who]
        assert n_rows >= N, f"metering {group} ({who}): {n_rows} rows of the {N} seeded"
        assert m_rows >= n_rows + 2 * N, f"metering {group} ({who}): rows {n_rows} -> {m_rows}"
        assert m_queries <= n_queries, (
            f"metering {group} ({who}): {n_queries} queries for {n_rows} rows but {m_queries} for {m_rows}\n"
            + "\n".join(q["sql"][:200] for q in captured.captured_queries))


# ---------------------------------------------------------------------------- charts and top lists (issue 14)


def _charted(s: Scene, k: int) -> None:
    """k more service maps of the member's workspace on the scene's cluster, each with a node, a namespace, a
    workload and a pod series holding fresh samples, and the three kinds of markers inside the chart's hour: a
    deploy (a revision), a scale (an object action) and an alert that fired; and in the scene's own service map k
    more pods with samples and point metrics (restarts, network) and k more alerts."""
    from monitoring import store
    from monitoring.samples import SeriesKey

    now = timezone.now()
    ts = store.align(now - timedelta(seconds=60), 30)
    keys: list[SeriesKey] = [SeriesKey(s.cluster.pk, "cluster")]
    for _ in range(k):
        n = s.next()
        sm = ServiceMap.objects.create(workspace=s.workspace, cluster=s.cluster, namespace=f"qc-cn{n}", quota=QUOTA)
        ws = s.workspace.pk
        keys += [SeriesKey(s.cluster.pk, "node", name=f"node-{n}"),
                 SeriesKey(s.cluster.pk, "namespace", sm.namespace, sm.namespace, service_map_id=sm.pk, workspace_id=ws),
                 SeriesKey(s.cluster.pk, "workload", sm.namespace, f"web{n}", workload_kind="Deployment",
                           workload_name=f"web{n}", service_map_id=sm.pk, workspace_id=ws),
                 SeriesKey(s.cluster.pk, "pod", sm.namespace, f"web{n}-1", workload_kind="Deployment",
                           workload_name=f"web{n}", node=f"node-{n}", service_map_id=sm.pk, workspace_id=ws)]
        release = Release.objects.create(workspace=s.workspace, service_map=sm, name=f"web{n}",
                                         package_version=s.version, revision=1, created_by=s.member)
        Revision.objects.create(release=release, number=1, package_version=s.version, created_by=s.member,
                                created=now - timedelta(minutes=5), resources=[{"kind": "Deployment", "name": f"web{n}"}])
        ObjectAction.objects.create(cluster=s.cluster, group="apps", version="v1", plural="deployments",
                                    kind="Deployment", namespace=sm.namespace, name=f"web{n}", action="scale",
                                    params={"replicas": 2}, requested_by=s.member, status="succeeded",
                                    requested_username=s.member.username)
        Alert.objects.create(fingerprint=f"{n:064x}", state="firing", severity="warning", cluster=s.cluster,
                             workspace=s.workspace, service_map=sm, namespace=sm.namespace, subject_kind="Deployment",
                             subject_name=f"web{n}", message="hot", started_at=now - timedelta(minutes=4),
                             fired_at=now - timedelta(minutes=3), last_seen_at=now)
    home, ws = s.service_map, s.workspace.pk
    keys.append(SeriesKey(s.cluster.pk, "namespace", home.namespace, home.namespace, service_map_id=home.pk,
                          workspace_id=ws))
    pods = [SeriesKey(s.cluster.pk, "pod", home.namespace, f"qc-pod-{s.next()}", workload_kind="Deployment",
                      workload_name="qc-web", service_map_id=home.pk, workspace_id=ws) for _ in range(k)]
    for _ in pods:
        _alert(s, "firing")
    ids = store.series_ids([*keys, *pods], now)
    store.write_samples([store.Sample(series_id=ids[key], ts=ts, cpu_usage=0.5, mem_usage=2.0**28, cpu_request=0.25,
                                      mem_request=2.0**27, cpu_limit=1.0, mem_limit=2.0**29, cpu_allocatable=4.0,
                                      mem_allocatable=2.0**33, pods=1) for key in [*keys, *pods]])
    store.write_points([(ids[pod], metric, ts, 1.0) for pod in pods
                        for metric in ("restarts", "net_rx_bytes_per_second", "net_tx_bytes_per_second")])


@pytest.mark.parametrize("query", [
    "charts/?level=servicemap&service_map={servicemap_id}",
    "charts/?level=workspace&workspace={workspace_id}", "charts/?level=cluster&cluster={cluster_id}",
    "charts/?level=fleet", "top/?what=busiest_pods&workspace={workspace_id}",
    "top/?what=pods_near_limit&workspace={workspace_id}", "top/?what=nodes_fullest&cluster={cluster_id}"])
def test_charts_and_top_lists_do_not_grow_with_series(query: str) -> None:
    """A chart is a fixed number of statements whatever the number of series and markers in it, a top list one
    statement after the access check (docs/charts-api.md); neither is a list endpoint of the schema walk."""
    s = _scene()
    url = "/api/monitoring/" + query.format(workspace_id=s.workspace.pk, cluster_id=s.cluster.pk,
                                            servicemap_id=s.service_map.pk)
    clients = {}
    for who, user in (("admin", s.admin), ("member", s.member)):
        client = APIClient()
        client.force_authenticate(user)
        clients[who] = client

    def count(client: APIClient) -> tuple[int, int, Any]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        if response.status_code != 200:
            return len(captured), -response.status_code, captured
        body = response.json()
        return len(captured), len(body["items"] if "items" in body else body["markers"]), captured

    _charted(s, N)
    before = {who: count(client) for who, client in clients.items()}
    _charted(s, 2 * N)
    after = {who: count(client) for who, client in clients.items()}
    assert before["admin"][1] >= N, f"{query}: the admin sees {before['admin'][1]} items or markers"
    for who in clients:
        (n_queries, n_rows, _), (m_queries, m_rows, captured) = before[who], after[who]
        if n_rows < 0:  # infrastructure: 404 to the member
            assert m_rows == n_rows
            continue
        assert m_rows >= n_rows, f"{query} ({who}): items or markers {n_rows} -> {m_rows}"
        assert m_queries <= n_queries, (
            f"{query} ({who}): {n_queries} queries for {n_rows} items or markers but {m_queries} for {m_rows}\n"
            + "\n".join(q["sql"][:200] for q in captured.captured_queries))


# ---------------------------------------------------------------------------- orderings (issue 20)


def _row_key(row: Any) -> str:
    """A row's identity across pages: its id (or uid), else what names a read-model object."""
    if isinstance(row, dict):
        for key in ("id", "uid"):
            if row.get(key) is not None:
                return f"{key}={row[key]}"
        return json.dumps({k: row.get(k) for k in ("cluster", "kind", "namespace", "name")}, sort_keys=True)
    return json.dumps(row, sort_keys=True)


def _walk(client: APIClient, url: str, size: int = 3, most: int = 80) -> list[str]:
    """The keys of every row of a list, following ``next`` from the first page of ``size`` rows."""
    keys: list[str] = []
    next_url: str | None = url + f"page_size={size}"
    for _ in range(most):
        if not next_url:
            return keys
        response = client.get(next_url)
        assert response.status_code == 200, (next_url, response.content[:300])
        body = response.json()
        keys += [_row_key(row) for row in body["results"]]
        next_url = body.get("next")
    raise AssertionError(f"{url}: more than {most} pages of {size}")


@pytest.mark.parametrize("operation", sorted(set(SEEDERS) & set(ORDERINGS)))
def test_every_ordering_keeps_the_query_count_and_pages_through_every_row(operation: str) -> None:
    """Every ``ordering`` a list offers (the console's sortable columns, issue 20): the query count of a page does
    not grow with the rows, and following ``next`` page by page (keyset paging, ties and NULLs included) returns
    every row once, the same rows as one big page."""
    s = _scene()
    base = _path(LIST_ENDPOINTS[operation] + "?" + QUERIES.get(operation, ""), s)
    seed = SEEDERS[operation]
    clients = {}
    for who, user in (("admin", s.admin), ("member", s.member)):
        client = APIClient()
        client.force_authenticate(user)
        clients[who] = client
    orderings = ORDERINGS[operation]
    seed(s, N)
    before = {(who, o): _count(c, f"{base}ordering={o}&page_size=100") for who, c in clients.items() for o in orderings}
    seed(s, 2 * N)
    failures: list[str] = []
    for who, client in clients.items():
        for ordering in orderings:
            (n_queries, n_rows, _), (m_queries, m_rows, captured) = before[who, ordering], _count(
                client, f"{base}ordering={ordering}&page_size=100")
            where = f"{operation} ?ordering={ordering} ({who})"
            if n_rows < 0:  # this user may not list this
                if m_rows != n_rows:
                    failures.append(f"{where}: status {-n_rows} then {-m_rows}")
                continue
            if m_queries > n_queries:
                failures.append(f"{where}: {n_queries} queries for {n_rows} rows but {m_queries} for {m_rows}\n"
                                + "\n".join(q["sql"][:200] for q in captured.captured_queries))
            grew = m_rows >= n_rows + 2 * N or m_rows == 100
            if not grew and (who == "admin" or operation not in MEMBER_SEES_NONE):
                failures.append(f"{where}: rows {n_rows} -> {m_rows}")
    client = clients["admin"]
    whole = [_row_key(row) for row in client.get(f"{base}page_size=500").json()["results"]]
    for ordering in orderings:
        paged = _walk(client, f"{base}ordering={ordering}&")
        if len(paged) != len(set(paged)) or set(paged) != set(whole):
            failures.append(f"{operation} ?ordering={ordering}: paging by 3 returned {len(paged)} rows "
                            f"({len(set(paged))} distinct), one page {len(whole)}; missing "
                            f"{sorted(set(whole) - set(paged))[:5]}, extra {sorted(set(paged) - set(whole))[:5]}")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------- the role dashboards (issue 20)


def _fleet(s: Scene, k: int) -> None:
    """k more of everything the dashboards count: workspaces of the member, each on its own connected cluster with a
    service map, workloads, samples and a price sheet (:func:`_metered`), capacity figures and an expiring API
    certificate on every cluster, nodes under pressure and restarting pods, releases and rollouts, build runs, open
    alerts, warning events, pending notifications and audit entries."""
    _metered(s, k)
    now = timezone.now()
    Cluster.objects.filter(allocations__workspace__memberships__user=s.member).update(
        status="connected", last_sync=now, api_cert_not_after=now + timedelta(days=3), summary={
            "nodes_total": 2, "health": {"nodes_not_ready": 1},
            "cpu": {"requested": 3.0, "allocatable": 4.0}, "memory": {"requested": 2.0**32, "allocatable": 2.0**33}})
    for _ in range(k):
        _obj(s, "Node", namespaced=False, phase="NotReady", data={
            "ready": False, "unschedulable": True, "conditions": [{"type": "MemoryPressure", "status": "True"}]})
        _obj(s, "Pod", node_name="node-1", phase="Running", labels={"app": "web"},
             data={"restarts": 3, "status_text": "Running", "containers": [{"name": "web", "image": "nginx:1.27"}]})
        _obj(s, "Deployment", phase="Progressing", labels={"app": "web"},
             data={"replicas": 2, "ready_replicas": 1, "images": ["nginx:1.27"]})
        for state, severity in (("firing", "critical"), ("acknowledged", "warning")):
            Alert.objects.filter(pk=_alert(s, state).pk).update(severity=severity)
    _releases(s, k)
    _rollouts(s, k)
    _build_runs(s, k)
    _event_records(s, k)
    _audit(s, k)
    for _ in range(k):
        notification = Notification.objects.create(alert=_alert(s, "firing"), channel=_channel(s), event="firing",
                                                   state="pending", idempotency_key=f"qc:{s.next()}",
                                                   next_attempt_at=now)
        assert notification.pk


def test_dashboard_queries_do_not_grow_with_the_fleet() -> None:
    """GET /api/dashboard/ for an admin (who is also a member: admin, operator and developer tiles), an operator and
    a workspace member is a fixed number of statements whatever the number of clusters, workspaces, service maps,
    releases, builds, alerts, events and audit entries (docs/dashboards.md)."""
    s = _scene()
    operator = make_user(f"qc-operator-{s.next()}", role="operator")
    Membership.objects.create(workspace=s.workspace, user=s.admin, role=Role.objects.get(key="developer"))
    clients = {}
    for who, user in (("admin", s.admin), ("operator", operator), ("member", s.member)):
        client = APIClient()
        client.force_authenticate(user)
        clients[who] = client

    def count(client: APIClient) -> tuple[int, dict[str, Any], Any]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/api/dashboard/")
        assert response.status_code == 200, response.content
        return len(captured), response.json(), captured

    _fleet(s, N)
    before = {who: count(client) for who, client in clients.items()}
    _fleet(s, 2 * N)
    after = {who: count(client) for who, client in clients.items()}
    expected = {"admin": {"fleet", "quota", "cost", "alerts", "audit", "portal_health", "capacity", "firing", "events",
                          "nodes", "service_maps", "releases", "builds", "my_quota"},
                "operator": {"clusters", "capacity", "firing", "events", "nodes"},
                "member": {"service_maps", "releases", "builds", "my_quota"}}
    failures = []
    for who in clients:
        (n_queries, _, _), (m_queries, body, captured) = before[who], after[who]
        keys = {tile["key"] for tile in body["tiles"]}
        if not expected[who] <= keys:
            failures.append(f"{who}: tiles {sorted(keys)}, expected at least {sorted(expected[who])}")
        if m_queries > n_queries:
            failures.append(f"{who}: {n_queries} queries with {N} of everything but {m_queries} with {3 * N}\n"
                            + "\n".join(q["sql"][:200] for q in captured.captured_queries))
    assert not failures, "\n".join(failures)


def test_audit_export_queries_do_not_grow_with_rows() -> None:
    """GET /api/audit/export/ (a CSV file, not a page) reads the records in chunks of thousands: a handful of rows
    more is not a query more (portal/api/audit_log.py)."""
    s = _scene()
    client = APIClient()
    client.force_authenticate(s.admin)

    def count() -> tuple[int, int, Any]:
        with CaptureQueriesContext(connection) as captured:
            response: Any = client.get("/api/audit/export/?action=workspace.update")
            assert response.status_code == 200, response.content
            body = b"".join(response.streaming_content).decode("utf-8-sig")
        return len(captured), len(body.splitlines()) - 1, captured

    _audit(s, N)
    n_queries, n_rows, _ = count()
    _audit(s, 2 * N)
    m_queries, m_rows, captured = count()
    assert n_rows >= N, n_rows
    assert m_rows >= n_rows + 2 * N, (n_rows, m_rows)
    assert m_queries <= n_queries, (f"{n_queries} queries for {n_rows} rows but {m_queries} for {m_rows}\n"
                                    + "\n".join(q["sql"][:200] for q in captured.captured_queries))


def test_release_and_rollout_reads_never_load_chart_archives() -> None:
    """Rows show a package version's number only: the release and rollout lists, a release with its
    revisions, a revision and the rows their events carry never read the version's chart archive
    (up to megabytes each), values, schema or readme (catalog.rows.light_versions)."""
    from catalog.rows import HEAVY_VERSION_FIELDS, release_row, rollout_row

    s = _scene()
    _releases(s, 3)
    _rollouts(s, 2)
    client = APIClient()
    client.force_authenticate(s.admin)
    release = Release.objects.filter(workspace=s.workspace).order_by("pk").first()
    rollout = Rollout.objects.filter(workspace=s.workspace).order_by("pk").first()
    assert release is not None
    assert rollout is not None
    heavy = [f'"catalog_packageversion"."{field}"' for field in HEAVY_VERSION_FIELDS]
    for url in ("/api/catalog/releases/", f"/api/catalog/releases/{release.pk}/",
                f"/api/catalog/releases/{release.pk}/revisions/1/", "/api/catalog/rollouts/",
                f"/api/catalog/rollouts/{rollout.pk}/"):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, (url, response.content)
        read = [q["sql"][:300] for q in captured.captured_queries if any(h in q["sql"] for h in heavy)]
        assert not read, (url, read)
    for build in (lambda: release_row(release), lambda: rollout_row(rollout)):
        with CaptureQueriesContext(connection) as captured:
            build()
        assert not [q for q in captured.captured_queries if any(h in q["sql"] for h in heavy)]

"""One populated portal for the security suite: every built-in role, a sandbox cluster with a
workspace's service map on it, and one object behind every kind of path parameter.

schemathesis, the authorization matrix and the secrets scanner all need the same thing: real
identifiers to put into ``{id}``, ``{name}``, ``{kind}`` … so that object-level paths reach real
objects (a fuzzer that only ever gets 404 proves nothing about the code behind the lookup). The
world is built through the same actions the API uses, inside the test's transaction, so nothing
outlives the test; the service map's namespace and its config objects are real objects in a
sandbox cluster, so endpoints that ask the cluster get answers instead of timeouts; likewise the
builds registry is a real registry on loopback (:func:`live_registry_host`).

:func:`fill` maps a schema path (``/api/workspaces/{workspace_id}/members/{id}/``) to the world's
values for its parameters; it fails for a parameter it does not know, so a new kind of path
parameter has to be taught here before the suite passes.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from rest_framework.test import APIClient

from catalog.models import (
    CatalogSource,
    Move,
    MoveRelease,
    Package,
    Release,
    Rollout,
    RolloutTarget,
    SourceKind,
)
from catalog.tests.helpers import CHART_FILES as SHOP_CHART
from catalog.tests.helpers import add_version
from clusters.models import Cluster, KubeObject, NodeOperation, ObjectAction
from portal import actions as portal_actions
from portal.models import AuditRecord, User
from portal.testing import make_user, register_cluster
from provisioning.models import ClusterTemplate, ManagementCluster, ProvisionedCluster, ProvisioningOperation
from workspaces import quota as q
from workspaces import services as ws_services
from workspaces.models import ClusterAllocation, Membership, RegistryAllocation, Role, ServiceMap, Workspace

# The personas of the suite: anonymous, the four system roles, the three built-in workspace
# roles in workspace W, and a manager of another workspace (a member, but not of W).
PERSONAS = ("anonymous", "admin", "operator", "auditor", "user", "manager", "developer", "viewer", "nonmember")

# The catalog tests' shop chart (its Deployment and ConfigMap) plus a Secret from a value, so the
# secrets scanner has a rendered Secret value to look for.
CHART_FILES = {
    "values.yaml": "replicas: 1\nimage: nginx:1.27\nmessage: hello\npassword: changeme\n",
    "templates/deployment.yaml": SHOP_CHART["templates/deployment.yaml"],
    "templates/config.yaml": SHOP_CHART["templates/config.yaml"],
    "templates/secret.yaml": """apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-db
stringData:
  password: {{ .Values.password | quote }}
""",
}

_n = itertools.count(1)

# The digest of the image in W's build repository whose scan the world holds.
SCAN_DIGEST = "sha256:" + "5ec" * 21 + "5"
_registry_hosts: list[str] = []


def live_registry_host() -> str:
    """``127.0.0.1:<port>`` of a registry (plain HTTP, no credentials) started once per process and
    stopped at its exit: the world's builds registry, so the endpoints that read a registry live
    (repositories, tags, deploy-image) get the registry's answer instead of a 503."""
    if not _registry_hosts:
        import atexit
        import contextlib
        import tempfile
        from pathlib import Path

        from sandbox.testing import registry_server

        stack = contextlib.ExitStack()
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="secworld-registry-"))
        server = stack.enter_context(registry_server(Path(tmp)))
        atexit.register(stack.close)
        _registry_hosts.append(server.host)
    return _registry_hosts[0]


@dataclass
class World:
    suffix: str
    users: dict[str, User]  # persona -> user (no "anonymous")
    tokens: dict[str, str]  # persona -> raw API token (Authorization: Bearer …)
    workspace: Workspace
    other_workspace: Workspace
    cluster: Cluster
    service_map: ServiceMap
    ids: dict[str, int] = field(default_factory=dict)  # resource segment -> id
    names: dict[str, str] = field(default_factory=dict)  # what -> name

    def client(self, persona: str) -> APIClient:
        """An API client that authenticates like a script does (``Authorization: Bearer``)."""
        client = APIClient()
        if persona != "anonymous":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.tokens[persona]}")
        return client

    def auth_headers(self, persona: str) -> dict[str, str]:
        return {} if persona == "anonymous" else {"Authorization": f"Bearer {self.tokens[persona]}"}


def _obj(cluster: Cluster, kind: str, name: str, namespace: str = "", **fields: Any) -> KubeObject:
    return KubeObject.objects.create(cluster=cluster, kind=kind, name=name, namespace=namespace,
                                     uid=f"uid-{cluster.pk}-{kind}-{namespace}-{name}", resource_version="1",
                                     created=timezone.now(), **fields)


def _read_model(cluster: Cluster, namespace: str, node: str) -> None:
    """One row of each kind the inventory lists (the watcher is not running in these tests)."""
    labels = {"app": "shop-web"}
    _obj(cluster, "Node", node, phase="Ready", data={"ready": True, "roles": ["worker"]})
    _obj(cluster, "Namespace", namespace, phase="Active")
    _obj(cluster, "Pod", "shop-web-1", namespace, node_name=node, phase="Running", labels=labels,
         data={"restarts": 0, "status_text": "Running", "requests": {"cpu": 0.05, "memory": 2**25},
               "containers": [{"name": "web", "image": "nginx:1.27"}]})
    _obj(cluster, "Deployment", "shop-web", namespace, phase="Available", labels=labels,
         data={"replicas": 1, "ready_replicas": 1, "images": ["nginx:1.27"]})
    _obj(cluster, "Service", "shop-web", namespace, labels=labels, data={"type": "ClusterIP"})
    _obj(cluster, "Ingress", "shop", namespace, data={"rules": [{"host": "shop.example.com", "paths": []}]})
    _obj(cluster, "PersistentVolumeClaim", "shop-data", namespace, phase="Bound",
         data={"storage_class": "standard", "volume_name": "shop-pv"})
    _obj(cluster, "PersistentVolume", "shop-pv", phase="Bound", data={"claim": f"{namespace}/shop-data"})
    _obj(cluster, "StorageClass", "standard", data={"provisioner": "example.com/disk"})
    _obj(cluster, "HorizontalPodAutoscaler", "shop-web", namespace,
         data={"target": {"kind": "Deployment", "name": "shop-web"}})
    _obj(cluster, "Event", "shop-web-1.1", namespace, phase="Normal",
         data={"type": "Normal", "reason": "Started", "message": "Started container web",
               "involved": {"kind": "Pod", "name": "shop-web-1", "namespace": namespace},
               "last_seen": timezone.now().isoformat()})


def _monitoring(cluster: Cluster, workspace: Workspace, sm: ServiceMap, namespace: str,
                users: dict[str, User]) -> dict[str, int]:
    """Monitoring (issue 14): W's custom alert rule, a firing alert of it on W's pod, a silence of W,
    W's e-mail channel with a delivered notification of the alert, a price sheet of the cluster and a
    kept event of W's namespace. Made directly (no evaluator, no worker): nothing is sent."""
    from datetime import date, timedelta

    from monitoring.models import (
        Alert,
        AlertRule,
        AlertTransition,
        EventRecord,
        Notification,
        NotificationChannel,
        PriceSheet,
        Silence,
    )

    now = timezone.now()
    rule = AlertRule.objects.create(name="shop cpu", metric="cpu_usage", aggregation="avg", operator=">",
                                    threshold=1.0, params={"level": "pod"}, workspace=workspace, service_map=sm,
                                    created_by=users["developer"])
    alert = Alert.objects.create(rule=rule, fingerprint=f"{cluster.pk:064x}", state="firing", severity="warning",
                                 cluster=cluster, workspace=workspace, service_map=sm, namespace=namespace,
                                 subject_kind="Pod", subject_name="shop-web-1", labels={"pod": "shop-web-1"},
                                 value=1.5, message="shop cpu: avg cpu_usage of pod shop-web-1 is 1.5 (> 1).",
                                 started_at=now, fired_at=now, last_seen_at=now)
    AlertTransition.objects.create(alert=alert, from_state="", to_state="firing", at=now)
    silence = Silence.objects.create(workspace=workspace, reason="suite", starts_at=now,
                                     ends_at=now + timedelta(days=1), created_by=users["developer"])
    channel = NotificationChannel.objects.create(name="shop team", kind="email", workspace=workspace,
                                                 recipients=["shop@example.com"], created_by=users["manager"])
    notification = Notification.objects.create(alert=alert, channel=channel, event="firing", state="delivered",
                                               idempotency_key=f"alert:{alert.pk}:firing:1:channel:{channel.pk}",
                                               next_attempt_at=now, delivered_at=now, attempts=1)
    price = PriceSheet.objects.create(name=f"sec-prices-{cluster.pk}", cluster=cluster, currency="KRW",
                                      cpu_core_hour="45.5", memory_gib_hour="6.2", effective_from=date(2026, 1, 1))
    event = EventRecord.objects.create(cluster=cluster, uid=f"sec-event-{cluster.pk}", namespace=namespace,
                                       type="Warning", reason="BackOff", message="Back-off restarting container web",
                                       object_kind="Pod", object_name="shop-web-1", last_seen=now)
    return {"alerts": alert.pk, "rules": rule.pk, "silences": silence.pk, "channels": channel.pk,
            "notifications": notification.pk, "prices": price.pk, "events": event.pk}


def _provisioning(cluster: Cluster, admin: User, suffix: str) -> dict[str, int]:
    """Provisioning (issue 17), made directly in the database (no check, no Cluster API call): the world's
    cluster marked as a management cluster (ready), a cluster template with the shipped sandbox template's files
    (not marked builtin, so an admin may delete it: 409 template_in_use), a provisioned cluster made from
    it there (provisioned, not registered: the matrix's writes stop at the access check or the body, and its
    savepoint undoes the rows), with a finished create operation. Keys are prefixed with the app, as the
    schema's ``/api/provisioning/clusters/{id}/`` would otherwise take the registered cluster's id."""
    now = timezone.now()
    management = ManagementCluster.objects.create(
        cluster=cluster, namespace="portal-provisioning", status="ready", capi_versions={"cluster.x-k8s.io": ["v1beta1"]},
        control_plane_providers=["kubeadm"], infrastructure_providers=["sandbox"], checked=now, created_by=admin)
    from provisioning import templates as provisioning_templates

    shipped = next(t for t in provisioning_templates.builtin_templates() if t.name == "sandbox")
    template = ClusterTemplate.objects.create(
        name=f"sec-tpl-{suffix}", provider="sandbox", display_name="Security suite template", files=shipped.files,
        created_by=admin)
    provisioned = ProvisionedCluster.objects.create(
        name=f"sec-prov-{suffix}", management=management, namespace="portal-provisioning", template=template,
        parameters={"workers": 1}, kubernetes_version="v1.30.4", phase="provisioned",
        progress={"exists": True, "cluster": {"phase": "Provisioned", "control_plane_initialized": True},
                  "control_plane": {"name": f"sec-prov-{suffix}-control-plane", "replicas": 1, "ready": 1},
                  "pools": [{"name": "md-0", "replicas": 1, "ready": 1, "machine_size": "small"}], "machines": []},
        followed=now, created_by=admin)
    operation = ProvisioningOperation.objects.create(
        provisioned=provisioned, kind="create", spec={}, status="succeeded", started=now, finished=now,
        created_by=admin)
    return {"provisioning-management-clusters": management.pk, "provisioning-templates": template.pk,
            "provisioning-clusters": provisioned.pk, "provisioning-operations": operation.pk}


def build(sandbox: Any, *, cluster: str = "cluster-2", second_cluster: str = "cluster-3") -> World:
    """The world, inside the caller's transaction. Takes about a second (two sandbox calls)."""
    suffix = f"{next(_n)}{int(time.time() * 1000) % 10_000_000}"
    Role.ensure_builtin()
    roles = {r.key: r for r in Role.objects.all()}
    users = {
        "admin": make_user(f"sec-admin-{suffix}", role="admin"),
        "operator": make_user(f"sec-oper-{suffix}", role="operator"),
        "auditor": make_user(f"sec-audit-{suffix}", role="auditor"),
        "user": make_user(f"sec-user-{suffix}"),
        "manager": make_user(f"sec-mgr-{suffix}"),
        "developer": make_user(f"sec-dev-{suffix}"),
        "viewer": make_user(f"sec-view-{suffix}"),
        "nonmember": make_user(f"sec-other-{suffix}"),
    }
    tokens = {p: portal_actions.create_api_token(user=u, name=f"suite-{p}", expires=None)[1] for p, u in users.items()}

    admin = APIClient()
    admin.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['admin']}")
    handle = sandbox.cluster(cluster)
    cluster_id = register_cluster(admin, handle.kubeconfig.read_text(), f"sec-{suffix}")
    Cluster.objects.filter(pk=cluster_id).update(status="connected")
    cluster_obj = Cluster.objects.get(pk=cluster_id)

    workspace = Workspace.objects.create(name=f"sec-{suffix}", display_name="Security suite")
    other = Workspace.objects.create(name=f"sec-other-{suffix}", display_name="Another team")
    memberships = {p: Membership.objects.create(workspace=workspace, user=users[p], role=roles[p])
                   for p in ("manager", "developer", "viewer")}
    Membership.objects.create(workspace=other, user=users["nonmember"], role=roles["manager"])
    quota = q.dump(q.parse({"requests.cpu": "2", "requests.memory": "2Gi", "pods": "10", "services": "5"}))
    allocation = ClusterAllocation.objects.create(workspace=workspace, cluster=cluster_obj, quota=quota,
                                                  status="ready")
    ClusterAllocation.objects.create(workspace=other, cluster=cluster_obj, quota=quota, status="ready")
    namespace = f"sec-{suffix}"
    sm = ServiceMap.objects.create(workspace=workspace, cluster=cluster_obj, namespace=namespace, quota=quota)
    assert ws_services.apply_service_map(sm.pk) == "ready"
    sm = ServiceMap.objects.select_related("workspace", "cluster").get(pk=sm.pk)
    registry_host = live_registry_host()
    registry = RegistryAllocation.objects.create(workspace=workspace, registry=f"{registry_host}/sec-{suffix}")
    node = "sec-node-1"
    _read_model(cluster_obj, namespace, node)

    dev = APIClient()
    dev.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['developer']}")
    base = f"/api/catalog/configs/{sm.pk}/"
    created = dev.post(base, {"kind": "ConfigMap", "name": "app-config", "data": {"mode": "blue"}}, format="json")
    assert created.status_code == 202, created.content
    from catalog import tasks as catalog_tasks

    catalog_tasks.converge_intent(created.json()["id"])  # what the worker does (this world is never committed)

    source = CatalogSource.objects.create(name=f"uploads-{suffix}", kind=SourceKind.UPLOAD, workspace=workspace)
    package = Package.objects.create(source=source, name="shop")
    version = add_version(package, "1.0.0", CHART_FILES, digest="sha256:suite")
    planned = dev.post("/api/catalog/releases/", {"service_map": sm.pk, "name": "shop", "package_version": version.pk,
                                                 "values": {}}, format="json")
    assert planned.status_code in (201, 202), planned.content
    release = Release.objects.get(pk=planned.json()["id"])
    rollout = Rollout.objects.create(workspace=workspace, release_name="shop-wave", package_version=version)
    RolloutTarget.objects.create(rollout=rollout, service_map=sm, wave=1)
    custom = Role.objects.create(key=f"restarter{suffix}", name="Restarter", grants=["workloads.restart"])
    operation = NodeOperation.objects.create(cluster=cluster_obj, node=node, kind="cordon", message="suite",
                                             requested_by=users["admin"])
    # an edit the developer made through the portal in W's namespace (the ObjectAction rows)
    object_action = ObjectAction.objects.create(cluster=cluster_obj, group="", version="v1", plural="configmaps",
                                                kind="ConfigMap", namespace=namespace, name="app-config",
                                                action="apply", status="succeeded", requested_by=users["developer"],
                                                diff="--- live\n+++ applied\n@@ -1 +1 @@\n-a: 1\n+a: 2\n",
                                                requested_username=users["developer"].username)
    audit = AuditRecord.objects.create(actor=users["admin"], actor_username=users["admin"].username,
                                       action="workspace.create", target_type="workspace",
                                       target_id=str(workspace.pk), target_repr=workspace.name, outcome="success")
    from identity.models import ExternalIdentity, GroupMapping, IdentityProvider
    from portal.models import ApiToken

    # Single sign-on: a provider whose test fails at once on its settings (ldap:// without StartTLS:
    # 400, no network) and one mapping. Admins alone manage them.
    provider = IdentityProvider.objects.create(
        name=f"sec-idp-{suffix}", kind="ldap", config={"server_uri": "ldap://ldap.example.invalid", "start_tls": False,
                                                       "user_search_base": "ou=people,dc=example,dc=com"})
    group_mapping = GroupMapping.objects.create(provider=provider, group="sec-operators", system_role="operator")
    linked = User.objects.create_user(username=f"sec-linked-{suffix}", local_login_enabled=False)
    identity = ExternalIdentity.objects.create(provider=provider, subject=f"sec-linked-{suffix}", user=linked,
                                               username=linked.username)

    # Builds (issue 13): a live registry holding W's allocation, a definition of W building there (no
    # webhook, no deploy step), a queued run of it made as the API makes one (its clone step fills
    # {step}), W's scan policy with an exception, and a scan of an image in W's repository.
    from datetime import timedelta

    from builds import actions as build_actions
    from builds.models import BuildDefinition, ImageScan, ScanException, ScanPolicy
    from builds.models import Registry as BuildRegistry

    build_registry = BuildRegistry.objects.create(name=f"sec-{suffix}", host=registry_host, plain_http=True)
    definition = BuildDefinition.objects.create(
        workspace=workspace, name="shop-image", git_url="https://git.example.com/shop.git", registry=build_registry,
        repository=f"sec-{suffix}/shop", cluster=cluster_obj, service_map=sm, created_by=users["developer"])
    build_run = build_actions.create_run(definition, trigger="manual", user=users["developer"])
    policy = ScanPolicy.objects.create(workspace=workspace, block_severity="CRITICAL")
    scan_exception = ScanException.objects.create(policy=policy, vulnerability="CVE-2026-0001", reason="suite",
                                                  expires=timezone.now() + timedelta(days=1),
                                                  created_by=users["manager"])
    ImageScan.objects.create(registry=build_registry, repository=definition.repository, digest=SCAN_DIGEST,
                             counts={"CRITICAL": 0, "HIGH": 1}, run=build_run,
                             findings=[{"id": "CVE-2026-0002", "package": "openssl", "version": "3.0.0",
                                        "fixed_version": "3.0.1", "severity": "HIGH", "title": "suite"}])

    monitoring = _monitoring(cluster_obj, workspace, sm, namespace, users)
    # issue 20: the developer's saved column set of the clusters table (each user reads only their own)
    from portal.models import TableView

    table_view = TableView.objects.create(user=users["developer"], table="clusters", name="mine",
                                          columns=["name", "status"], is_default=True)

    provisioning = _provisioning(cluster_obj, users["admin"], suffix)
    # issue 17: a second sandbox cluster allocated to W, the target of moves (a plan reads both clusters live), with
    # a namespace already there in the read model (a move into it is 409 move_target_exists, past the access
    # check); and a move of W's service map to it, made directly (healthy on the target, the source not retired)
    second = sandbox.cluster(second_cluster)
    second_id = register_cluster(admin, second.kubeconfig.read_text(), f"sec2-{suffix}")
    Cluster.objects.filter(pk=second_id).update(status="connected")
    second_obj = Cluster.objects.get(pk=second_id)
    ClusterAllocation.objects.create(workspace=workspace, cluster=second_obj, quota=quota, status="ready")
    _obj(second_obj, "Namespace", f"sec-taken-{suffix}", phase="Active")
    move = Move.objects.create(
        workspace=workspace, source=sm, source_cluster=cluster_obj, target_cluster=second_obj,
        source_cluster_name=cluster_obj.name, target_cluster_name=second_obj.name, source_namespace=namespace,
        target_namespace=f"{namespace}-moved", quota=quota, status="healthy", finished=timezone.now(),
        created_by=users["manager"])
    MoveRelease.objects.create(move=move, name="shop", source_release=release, source_revision=1,
                               version_label="shop 1.0.0", state="healthy")

    return World(
        suffix=suffix, users=users, tokens=tokens, workspace=workspace, other_workspace=other,
        cluster=cluster_obj, service_map=sm,
        ids={
            "workspaces": workspace.pk, "clusters": cluster_id, "allocations": allocation.pk,
            "members": memberships["viewer"].pk, "registries": registry.pk, "servicemaps": sm.pk,
            "roles": custom.pk, "sources": source.pk, "packages": package.pk, "versions": version.pk,
            "releases": release.pk, "rollouts": rollout.pk, "operations": operation.pk,
            "tokens": ApiToken.objects.get(user=users["developer"]).pk, "audit": audit.pk,
            "users": users["viewer"].pk, "intents": created.json()["id"],
            "providers": provider.pk, "mappings": group_mapping.pk, "identities": identity.pk,
            "actions": object_action.pk,
            # /api/builds/registries/{id}/ (the key "registries" is W's allocation, of /api/workspaces/)
            "builds-registries": build_registry.pk, "definitions": definition.pk, "runs": build_run.pk,
            "exceptions": scan_exception.pk,
            "table-views": table_view.pk,
            **monitoring,
            **provisioning,
            "catalog-moves": move.pk, "second-cluster": second_id,
        },
        names={"node": node, "config": "app-config", "workload": "shop-web", "pod": "shop-web-1",
               "namespace": namespace, "hook": "no-such-webhook-token", "registry_host": registry_host},
    )


_PARAM = re.compile(r"\{(\w+)\}")


def path_parameters(path: str, world: World) -> dict[str, Any]:
    """The world's values for the parameters of a schema path; fails for an unknown parameter."""
    segments = path.strip("/").split("/")
    out: dict[str, Any] = {}
    for i, segment in enumerate(segments):
        m = _PARAM.fullmatch(segment)
        if m is None:
            continue
        name = m[1]
        before = segments[i - 1] if i else ""
        if name == "id":
            app_kind = f"{segments[1]}-{before}"  # a kind two apps name alike: builds-registries
            kind = app_kind if app_kind in world.ids else before
            assert kind in world.ids, f"{path}: no object of kind {before!r} in tests/security/world.py"
            out[name] = world.ids[kind]
        elif name == "allocation_id":  # a registry's allocation: W's
            out[name] = world.ids["registries"]
        elif name == "definition_id":  # a build definition's webhook: W's definition
            out[name] = world.ids["definitions"]
        elif name == "step":  # a build run's step: the world's run has a clone step
            out[name] = "clone"
        elif name == "pool":  # a node pool of the world's provisioned cluster (its only one)
            out[name] = "md-0"
        elif name == "workspace_id":
            out[name] = world.workspace.pk
        elif name == "cluster_id":
            out[name] = world.cluster.pk
        elif name == "servicemap_id":
            out[name] = world.service_map.pk
        elif name == "intent_id":  # the developer's creation of the ConfigMap
            out[name] = world.ids["intents"]
        elif name == "namespace":
            out[name] = world.names["namespace"]
        elif name == "entry_id":  # a timeline entry: the developer's portal edit in W's namespace
            out[name] = f"portal:{world.ids['actions']}"
        elif name == "number":
            out[name] = 1
        elif name == "token":
            out[name] = world.names["hook"]
        elif name == "group":  # the resource browser: the service map's ConfigMap, in the core group
            out[name] = "core"
        elif name == "version":
            out[name] = "v1"
        elif name == "plural":
            out[name] = "configmaps"
        elif name == "kind":
            out[name] = "Deployment" if "autoscalers" in segments else "ConfigMap"
        elif name == "name":
            if "nodes" in segments:
                out[name] = world.names["node"]
            elif "pods" in segments:
                out[name] = world.names["pod"]
            elif "autoscalers" in segments:
                out[name] = world.names["workload"]
            else:
                out[name] = world.names["config"]
        else:
            raise AssertionError(f"{path}: unknown path parameter {name!r}; teach tests/security/world.py")
    return out


def fill(path: str, world: World) -> str:
    values = path_parameters(path, world)
    return _PARAM.sub(lambda m: str(values[m[1]]), path)

"""The console's main pages, as data: where each one is, who opens it and what it needs set up.

The accessibility test (``test_accessibility.py``) opens every page here in Korean and in English
(and the ``dark`` ones in dark mode too), runs axe-core on it and saves a screenshot, so a person
can review the console page by page. A new page of the console gets a line here.

``path`` is a template filled from :class:`World` (the ids of what :func:`build_world` made):
``{cluster}``, ``{node}``, ``{pod_ns}``/``{pod}``, ``{workspace}``, ``{servicemap}``, ``{release}``,
``{package}``, ``{definition}``, ``{run}``, ``{registry}``, ``{alert}``, ``{user}``, ``{provider}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.browser.helpers import CLUSTER, PASSWORD

ADMIN = "ada"
DEVELOPER = "devon"
WORKSPACE = "a11y-team"
NAMESPACE = "a11y-shop"
DEPLOYMENT = "web"


@dataclass(frozen=True)
class Page:
    key: str  # the screenshot's file name: var/screenshots/<lang>/<key>.png
    path: str  # a template, see the module docstring
    user: str | None = ADMIN  # None: not logged in (the login page)
    dark: bool = False  # also checked (and photographed) in dark mode
    # A selector that shows the page has its data; "main h1" when None.
    ready: str | None = None


PAGES: tuple[Page, ...] = (
    Page("login", "/login", user=None, dark=True, ready="input[name=username]"),
    # Navigation sections.
    Page("dashboard", "/", dark=True, ready="[data-testid=dashboard]"),
    Page("dashboard-developer", "/", user=DEVELOPER, ready="[data-testid=dashboard]"),
    Page("clusters", "/clusters", dark=True, ready=f"[data-testid=cluster-row-{CLUSTER}]"),
    Page("cluster-register", "/clusters/new"),
    Page("workspaces", "/workspaces", dark=True),
    Page("servicemaps", "/servicemaps"),
    Page("catalog", "/catalog", dark=True),
    Page("catalog-sources", "/catalog/sources"),
    Page("releases", "/releases"),
    Page("builds", "/builds", dark=True),
    Page("registries", "/registries"),
    Page("registry-policy", "/registries/policy"),
    Page("monitoring", "/monitoring", dark=True),
    Page("monitoring-events", "/monitoring/events"),
    Page("monitoring-metering", "/monitoring/metering"),
    Page("monitoring-prices", "/monitoring/prices"),
    Page("alerts", "/alerts", dark=True),
    Page("alert-rules", "/alerts/rules"),
    Page("alert-silences", "/alerts/silences"),
    Page("alert-channels", "/alerts/channels"),
    # Detail pages.
    Page("cluster-nodes", "/clusters/{cluster}/nodes", dark=True, ready="[data-testid^=node-row-]"),
    Page("cluster-workloads", "/clusters/{cluster}/workloads"),
    Page("cluster-pods", "/clusters/{cluster}/pods", ready="[data-testid^=pod-row-]"),
    Page("cluster-events", "/clusters/{cluster}/events"),
    Page("cluster-resources", "/clusters/{cluster}/resources"),
    Page("pod", "/clusters/{cluster}/pods/{pod_ns}/{pod}", dark=True, ready="[data-testid=pod-page]"),
    Page("object", "/clusters/{cluster}/objects/apps/v1/deployments/" + DEPLOYMENT + "?namespace={pod_ns}"),
    Page("cluster-charts", "/monitoring/clusters/{cluster}", dark=True,
         ready="[data-testid=cluster-chart] [data-testid=panel-cpu] canvas"),
    Page("workspace", "/workspaces/{workspace}/overview"),
    Page("workspace-members", "/workspaces/{workspace}/members"),
    Page("workspace-servicemaps", "/workspaces/{workspace}/servicemaps"),
    Page("servicemap", "/workspaces/{workspace}/servicemaps/{servicemap}/workloads", dark=True),
    Page("servicemap-releases", "/workspaces/{workspace}/servicemaps/{servicemap}/releases"),
    Page("package", "/catalog/packages/{package}"),
    Page("release", "/releases/{release}", dark=True, ready="[data-testid=release-header]"),
    Page("build-definition", "/builds/definitions/{definition}"),
    Page("build-run", "/builds/runs/{run}", dark=True),
    Page("registry", "/registries/{registry}"),
    Page("alert", "/alerts/{alert}"),
    # Admin.
    Page("admin-users", "/admin/users", dark=True),
    Page("admin-user", "/admin/users/{user}"),
    Page("admin-audit", "/admin/audit", dark=True),
    Page("admin-roles", "/admin/roles"),
    Page("admin-quotas", "/admin/quotas"),
    Page("admin-identity", "/admin/identity"),
    Page("admin-identity-provider", "/admin/identity/{provider}"),
    Page("admin-settings", "/admin/settings"),
    # Account.
    Page("account-tokens", "/account/tokens"),
    Page("account-password", "/account/password"),
    Page("not-found", "/no-such-page", ready="[data-testid=not-found]"),
)


@dataclass
class World:
    """The ids the page paths are filled with."""

    ids: dict[str, Any] = field(default_factory=dict)

    def url(self, base: str, page: Page) -> str:
        return base + page.path.format(**self.ids)


def build_world(cluster_id: int, fleet: Any) -> World:
    """What the detail pages show, written straight to the database (the features' own tests
    drive them through their flows): devon, a workspace with the sandbox cluster allocated and a
    ready service map, an uploaded chart and a deployed release of it, a build definition with a
    finished run, a registry, a firing alert, an identity provider, three minutes of metrics. ``cluster_id`` is a cluster
    registered (and connected) through the API."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from builds.models import BuildDefinition, BuildRun, BuildStep, Registry, RunStatus, StepStatus
    from catalog.models import CatalogSource, Package, Release, Revision, SourceKind
    from catalog.tests.helpers import CHART_FILES, add_version
    from clusters.models import KubeObject
    from identity.models import IdentityProvider
    from monitoring import collect
    from monitoring.models import Alert, AlertRule, AlertState
    from portal.testing import make_user, wait_for
    from sandbox.resources import NODES, PODS
    from workspaces import quota as q
    from workspaces import services as ws_services
    from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

    devon = make_user(DEVELOPER, password=PASSWORD)
    admin = get_user_model().objects.get(username=ADMIN)
    workspace = Workspace.objects.create(name=WORKSPACE, display_name="접근성 팀")
    Membership.objects.create(workspace=workspace, user=devon, role=Role.objects.get(key="developer"))
    quota = q.dump(q.parse({"requests.cpu": "4", "requests.memory": "8Gi", "pods": "20", "services": "5"}))
    ClusterAllocation.objects.create(workspace=workspace, cluster_id=cluster_id, quota=quota, status="ready")
    sm = ServiceMap.objects.create(workspace=workspace, cluster_id=cluster_id, namespace=NAMESPACE, quota=quota)
    assert ws_services.apply_service_map(sm.pk) == "ready"

    source = CatalogSource.objects.create(name="a11y-charts", kind=SourceKind.UPLOAD, workspace=workspace)
    package = Package.objects.create(source=source, name="shop", description="가게", latest_version="1.0.0")
    version = add_version(package, "1.0.0", CHART_FILES)
    now = timezone.now()
    release = Release.objects.create(workspace=workspace, service_map=sm, name="shop", package_version=version,
                                     status="deployed", revision=1, deployed_revision=1, created_by=admin)
    Revision.objects.create(release=release, number=1, package_version=version, status="deployed",
                            manifest="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shop-config\n",
                            resources=[{"apiVersion": "v1", "kind": "ConfigMap", "name": "shop-config"}],
                            started=now, finished=now, created_by=admin)

    registry = Registry.objects.create(name="a11y-registry", host="registry.a11y.invalid", description="a11y")
    definition = BuildDefinition.objects.create(
        workspace=workspace, name="shop-image", git_url="https://git.a11y.invalid/shop.git", registry=registry,
        repository=f"{WORKSPACE}/shop", cluster_id=cluster_id, service_map=sm, next_build_number=2, created_by=admin)
    run = BuildRun.objects.create(
        definition=definition, workspace=workspace, number=1, status=RunStatus.SUCCEEDED, git_ref="main",
        git_commit="0123456789abcdef0123456789abcdef01234567", image_repository="registry.a11y.invalid/a11y-team/shop",
        image_tag="1.0-1", image_digest="sha256:" + "ab" * 32, image_size=12_345_678, cluster_id=cluster_id,
        namespace=NAMESPACE, requested_by=admin, requested_username=ADMIN, created=now - timedelta(minutes=3),
        started=now - timedelta(minutes=3), finished=now - timedelta(minutes=1))
    for position, name in enumerate(("clone", "build", "scan"), start=1):
        BuildStep.objects.create(run=run, name=name, position=position, status=StepStatus.SUCCEEDED,
                                 log=f"{name}: step one\n{name}: step two\n", exit_code=0,
                                 started=now - timedelta(minutes=3), finished=now - timedelta(minutes=1))

    rule = AlertRule.objects.create(name="a11y CPU", severity="warning", metric="cpu_usage", aggregation="avg",
                                    operator=">", threshold=0.8, cluster_id=cluster_id, created_by=admin)
    alert = Alert.objects.create(rule=rule, fingerprint="a11y-alert", state=AlertState.FIRING, severity="warning",
                                 cluster_id=cluster_id, workspace=workspace, service_map=sm, namespace=NAMESPACE,
                                 subject_kind="Deployment", subject_name=DEPLOYMENT, value=0.93,
                                 started_at=now - timedelta(minutes=10), fired_at=now - timedelta(minutes=9),
                                 last_seen_at=now)
    provider = IdentityProvider.objects.create(name="a11y-oidc", display_name="사내 SSO", kind="oidc", config={
        "issuer": "https://sso.a11y.invalid", "client_id": "portal"})

    # Three minutes of metrics, as the beat would have collected them, so the charts draw.
    wait_for(lambda: KubeObject.objects.filter(cluster_id=cluster_id, kind="Pod", namespace="default").exists(),
             timeout=30, what="the watcher seeing the web pods")
    for k in range(6, -1, -1):
        collect.collect_cluster(cluster_id, now=now - timedelta(seconds=30 * k))

    node = fleet.in_cluster(CLUSTER, lambda c: c.store.list(NODES)[0][0]["metadata"]["name"])
    pods = fleet.in_cluster(CLUSTER, lambda c: c.store.list(PODS, "default")[0])
    pod = next(p for p in pods if p["metadata"]["name"].startswith(DEPLOYMENT))
    return World(ids={
        "cluster": cluster_id, "node": node, "pod_ns": "default", "pod": pod["metadata"]["name"],
        "workspace": workspace.pk, "servicemap": sm.pk, "release": release.pk, "package": package.pk,
        "definition": definition.pk, "run": run.pk, "registry": registry.pk, "alert": alert.pk,
        "user": devon.pk, "provider": provider.pk,
    })

"""Helpers of the deploy tests (scan policy gate, pull secrets, the deploy step): a workspace with a
ready service map on a sandbox cluster, a manager, an allocation of a registry prefix, the
``hello-web`` demo chart uploaded to it (its values have ``image.repository`` / ``image.tag``),
scans as the runner records them, and the builds hooks installed in the catalog."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rest_framework.test import APIClient

from builds import deploy_step
from builds.models import BuildDefinition, BuildRun, ImageScan, Registry, RunStatus
from catalog import helm, image_hooks
from catalog.demo import DEMO_CHARTS, chart_from_directory
from catalog.models import CatalogSource, Package, PackageVersion, Release, SourceKind
from catalog.tests.helpers import setup_service_maps
from portal.models import User
from workspaces.models import Membership, RegistryAllocation, Role, ServiceMap, Workspace

CRITICAL = {"id": "CVE-2024-0001", "package": "openssl", "version": "3.0.1", "fixed_version": "3.0.13",
            "severity": "CRITICAL", "title": "A critical one"}
LOW = {"id": "CVE-2024-0002", "package": "zlib", "version": "1.2.13", "fixed_version": "", "severity": "LOW",
       "title": "A low one"}


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def hello_web(workspace: Workspace) -> PackageVersion:
    """The demo chart ``hello-web`` uploaded to an upload source of ``workspace``."""
    archive = chart_from_directory(DEMO_CHARTS / "hello-web")
    info = helm.inspect(archive)
    source = CatalogSource.objects.create(name=f"demo-{workspace.name}", kind=SourceKind.UPLOAD, workspace=workspace)
    package = Package.objects.create(source=source, name="hello-web")
    return PackageVersion.objects.create(package=package, version=info.version, archive=archive,
                                         digest="sha256:" + hashlib.sha256(archive).hexdigest(),
                                         values_yaml=info.values_yaml, values_schema=info.schema)


@dataclass
class Stage:
    workspace: Workspace
    sm: ServiceMap
    developer: User
    manager: User
    version: PackageVersion
    registry: Registry
    prefix: str

    def repository(self, name: str = "web") -> str:
        return f"{self.prefix}/{name}"

    def image(self, name: str = "web") -> str:
        """``host/prefix/name`` as references write it."""
        return f"{self.registry.host}/{self.repository(name)}"


def stage(admin_api: APIClient, sandbox: Any, registry: Registry, cluster: str = "cluster-1") -> Stage:
    workspace, (sm,), developer, _ = setup_service_maps(admin_api, sandbox, (cluster,))
    manager = User.objects.create_user(username=f"mgr-{workspace.name}", password="x")
    Membership.objects.create(workspace=workspace, user=manager, role=Role.objects.get(key="manager"))
    prefix = workspace.name
    RegistryAllocation.objects.create(workspace=workspace, registry=f"{registry.host}/{prefix}")
    return Stage(workspace, sm, developer, manager, hello_web(workspace), registry, prefix)


def record_scan(registry: Registry, repository: str, digest: str, findings: list[dict[str, Any]]) -> ImageScan:
    counts = {s: sum(1 for f in findings if f["severity"] == s) for s in ("CRITICAL", "HIGH", "MEDIUM", "LOW",
                                                                           "UNKNOWN")}
    return ImageScan.objects.create(registry=registry, repository=repository, digest=digest, counts=counts,
                                    findings=findings)


def pushed_run(st: Stage, release: Release, *, tag: str, digest: str, user: User | None,
               image_path: str = "image", image_format: str = "split") -> BuildRun:
    """A run of a definition deploying to ``release`` that pushed ``tag``/``digest`` (as the runner
    leaves it before the deploy step)."""
    definition = BuildDefinition.objects.create(
        workspace=st.workspace, name=f"def-{release.name}", git_url="http://127.0.0.1:9/x.git",
        registry=st.registry, repository=st.repository(), cluster=st.sm.cluster, service_map=st.sm,
        deploy_release=release, deploy_image_path=image_path, deploy_image_format=image_format,
        created_by=st.developer)
    spec = {"deploy_release_id": release.pk, "deploy_image_path": image_path, "deploy_image_format": image_format}
    return BuildRun.objects.create(definition=definition, workspace=st.workspace, number=1,
                                   status=RunStatus.RUNNING, spec=spec, image_repository=st.image(),
                                   image_tag=tag, image_digest=digest, requested_by=user)


@contextlib.contextmanager
def hooks_installed() -> Iterator[None]:
    """builds' image gate and pull secrets in the catalog (what builds' ``ready()`` installs)."""
    gate, names, ensure = image_hooks.registered()
    deploy_step.install()
    try:
        yield
    finally:
        image_hooks.set_image_gate(gate)
        image_hooks.set_pull_secrets(names, ensure)

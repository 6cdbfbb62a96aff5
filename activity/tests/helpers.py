"""Helpers shared by the activity tests: a scene of two teams on one cluster and rows of every
timeline source, written as their owning apps store them."""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from activity.models import ObjectChange
from catalog.models import CatalogSource, Package, PackageVersion, Release, Revision, Rollout, RolloutTarget
from clusters.models import Cluster, KubeObject, ObjectAction
from portal.models import AuditRecord, User
from portal.testing import make_user
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

_n = itertools.count(1)
T0 = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.UTC)


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


@dataclass
class Scene:
    """One cluster with two teams' service maps: ``member`` in ``mine`` (namespace ``ns``), and
    another team's ``theirs`` (namespace ``other_ns``); an admin and an operator see both."""

    cluster: Cluster
    admin: User
    operator: User
    member: User
    outsider: User
    workspace: Workspace
    mine: ServiceMap
    theirs: ServiceMap
    version: PackageVersion

    @property
    def ns(self) -> str:
        return self.mine.namespace

    @property
    def other_ns(self) -> str:
        return self.theirs.namespace


def scene() -> Scene:
    Role.ensure_builtin()
    n = next(_n)
    cluster = Cluster.objects.create(name=f"act-{n}", server=f"https://127.0.0.1:{7000 + n}")
    admin, operator = make_user(f"act-admin-{n}", role="admin"), make_user(f"act-op-{n}", role="operator")
    member, outsider = make_user(f"act-member-{n}"), make_user(f"act-outsider-{n}")
    developer = Role.objects.get(key="developer")
    workspaces = []
    maps = []
    for who, name in ((member, "mine"), (outsider, "theirs")):
        ws = Workspace.objects.create(name=f"act-{name}-{n}")
        Membership.objects.create(workspace=ws, user=who, role=developer)
        ClusterAllocation.objects.create(workspace=ws, cluster=cluster, quota={}, status="ready")
        maps.append(ServiceMap.objects.create(workspace=ws, cluster=cluster, namespace=f"act-{name}-{n}", quota={},
                                              status="ready"))
        workspaces.append(ws)
    source = CatalogSource.objects.create(name=f"act-src-{n}", kind="upload", workspace=workspaces[0])
    package = Package.objects.create(source=source, name="shop")
    version = PackageVersion.objects.create(package=package, version="1.0.0", archive=b"", digest=f"sha256:{n}",
                                            values_yaml="", values_schema={})
    return Scene(cluster, admin, operator, member, outsider, workspaces[0], maps[0], maps[1], version)


def action(s: Scene, when: datetime.datetime, *, namespace: str, kind: str = "Deployment", name: str = "web",
           diff: str = "", status: str = "succeeded", user: User | None = None, act: str = "apply") -> ObjectAction:
    who = user or s.member
    return ObjectAction.objects.create(
        cluster=s.cluster, group="apps", version="v1", plural=kind.lower() + "s", kind=kind, namespace=namespace,
        name=name, action=act, status=status, diff=diff, requested_by=who, requested_username=who.username,
        created=when, finished=when)


def event(s: Scene, when: datetime.datetime, *, namespace: str, name: str = "web", kind: str = "Deployment",
          reason: str = "ScalingReplicaSet", type_: str = "Normal", message: str = "Scaled up") -> KubeObject:
    n = next(_n)
    return KubeObject.objects.create(
        cluster=s.cluster, kind="Event", namespace=namespace, name=f"{name}.{n}", uid=f"ev-{n}",
        resource_version=str(n), phase=type_, created=when,
        data={"type": type_, "reason": reason, "message": message, "count": 1, "source": "deployment-controller",
              "involved": {"kind": kind, "name": name, "namespace": namespace},
              "first_seen": when.isoformat().replace("+00:00", "Z"),
              "last_seen": when.isoformat().replace("+00:00", "Z")})


def exec_session(s: Scene, when: datetime.datetime, *, namespace: str, pod: str = "web-1",
                 user: User | None = None, outcome: str = "success",
                 detail: dict[str, Any] | None = None) -> AuditRecord:
    """A ``pod.exec`` record as clusters/api/terminal.py writes it: a session (``success``) with its
    length, or ``detail`` in its place (a refusal's ``reason``, a failure's ``ended``)."""
    who = user or s.member
    return AuditRecord.objects.create(
        timestamp=when, actor=who, actor_username=who.username, action="pod.exec", target_type="pod",
        target_id=pod, target_repr=pod, outcome=outcome,
        detail={"cluster": s.cluster.pk, "namespace": namespace, "pod": pod, "container": "web",
                "command": "/bin/sh", **(detail if detail is not None else {"seconds": 12})})


def outside(s: Scene, when: datetime.datetime, *, namespace: str, name: str = "web", manager: str = "kubectl-edit",
            replicas: int = 3, is_outside: bool = True, kind: str = "Deployment") -> ObjectChange:
    return ObjectChange.objects.create(
        cluster=s.cluster, kind=kind, namespace=namespace, name=name, manager=manager, operation="Update",
        time=when, snapshot={"labels": {"app": name}, "replicas": replicas, "images": ["nginx:1.27"]},
        outside=is_outside)


def release(s: Scene, when: datetime.datetime, *, sm: ServiceMap | None = None, name: str = "shop",
            numbers: int = 1) -> Release:
    service_map = sm or s.mine
    rel = Release.objects.create(workspace=service_map.workspace, service_map=service_map, name=name,
                                 package_version=s.version, revision=numbers, created_by=s.member)
    for number in range(1, numbers + 1):
        Revision.objects.create(release=rel, number=number, action="install" if number == 1 else "upgrade",
                                package_version=s.version, status="deployed", created_by=s.member,
                                created=when + datetime.timedelta(seconds=number - 1))
    return rel


def rollout(s: Scene, when: datetime.datetime, *, name: str = "shop") -> Rollout:
    r = Rollout.objects.create(workspace=s.workspace, release_name=name, package_version=s.version,
                               version_label="shop 1.0.0", status="succeeded", created_by=s.member, created=when)
    RolloutTarget.objects.create(rollout=r, service_map=s.mine, wave=0)
    return r


def ids(body: dict[str, Any]) -> list[str]:
    return [e["id"] for e in body["results"]]


def now() -> datetime.datetime:
    return timezone.now()

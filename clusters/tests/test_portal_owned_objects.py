"""The portal's own objects are not changed through the object editor or workload actions (review
15, H2): a service map's Namespace, its ResourceQuota ``portal-quota`` and LimitRange
``portal-limits`` (the enforced quota: deleting or enlarging it would let a member run more than
the service map allows, and a quota never evicts pods already running) and the pull secrets the
portal reserves (``portal-pull-…``). Against a sandbox cluster over HTTPS: a developer's and an
admin's preview, apply, create and delete of these are refused with 403 ``portal_owned`` and
nothing is written or changed in the cluster, the object page's permissions say why, while an
ordinary ConfigMap in the same namespace is still edited and the same names outside any service
map are left to operators."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from rest_framework.test import APIClient

from clusters import access, object_ops
from clusters.models import Cluster, ObjectAction
from clusters.tests.helpers import register
from portal.models import User
from portal.testing import make_user, unique
from sandbox.resources import CONFIGMAPS, LIMITRANGES, NAMESPACES, RESOURCEQUOTAS, SECRETS
from workspaces import services
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

SANDBOX_CLUSTER = "portalowned"
PULL_SECRET = "portal-pull-registry"
KINDS = {"ResourceQuota": RESOURCEQUOTAS, "LimitRange": LIMITRANGES, "Namespace": NAMESPACES}


@pytest.fixture(scope="module")
def fleet(sandbox_fleet: Any) -> Iterator[Any]:
    sandbox_fleet.add_cluster(SANDBOX_CLUSTER, nodes=1)
    yield sandbox_fleet
    sandbox_fleet.remove_cluster(SANDBOX_CLUSTER)


def in_cluster(fleet: Any, fn: Any) -> Any:
    return fleet.in_cluster(SANDBOX_CLUSTER, fn)


def live(fleet: Any, rt: Any, ns: str | None, name: str) -> Any:
    found = in_cluster(fleet, lambda c: c.store.get(rt, ns, name))
    return dict(found) if found is not None else None


def client_for(user: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def url(cluster: Cluster, plural: str, name: str, verb: str = "", ns: str = "") -> str:
    return (f"/api/clusters/{cluster.pk}/objects/core/v1/{plural}/{name}/" + (f"{verb}/" if verb else "")
            + (f"?namespace={ns}" if ns else ""))


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.json()
    body = dict(response.json())
    assert body["code"] == code, body
    return body


@pytest.fixture
def cluster(fleet: Any, db: None) -> Cluster:
    return register(fleet, SANDBOX_CLUSTER)


@pytest.fixture
def team(fleet: Any, cluster: Cluster) -> dict[str, Any]:
    """A service map whose objects are in the cluster as the portal applies them (its Namespace,
    portal-quota and portal-limits, from workspaces.services), a pull secret, an ordinary
    ConfigMap, and members: a developer (edit, delete) and a manager (every grant)."""
    ws = Workspace.objects.create(name=unique("team"))
    ns = unique("owned-ns")
    ClusterAllocation.objects.create(workspace=ws, cluster=cluster, status="ready")
    sm = ServiceMap.objects.create(workspace=ws, cluster=cluster, namespace=ns, display_name="Team web",
                                   status="ready", quota={"requests.cpu": "1", "pods": "5"},
                                   limits={"default": {"cpu": "500m"}})
    for obj in services.desired_objects(sm, None):
        rt = KINDS[obj["kind"]]
        in_cluster(fleet, lambda c, rt=rt, obj=obj: c.store.create(rt, obj))
    in_cluster(fleet, lambda c: c.store.create(SECRETS, {
        "metadata": {"name": PULL_SECRET, "namespace": ns}, "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": "e30="}}))
    in_cluster(fleet, lambda c: c.store.create(CONFIGMAPS, {"metadata": {"name": "app", "namespace": ns},
                                                            "data": {"mode": "one"}}))
    users = {}
    for key in ("developer", "manager"):
        users[key] = make_user(unique(key))
        Membership.objects.create(workspace=ws, user=users[key], role=Role.objects.get(key=key))
    return {"namespace": ns, **users}


def test_the_workspaces_app_names_every_object_it_keeps(cluster: Cluster, team: dict[str, Any]) -> None:
    """Every object workspaces.services applies to a service map is the portal's own, by name."""
    sm = ServiceMap.objects.get(namespace=team["namespace"])
    for obj in services.desired_objects(sm, None):
        namespace = obj["metadata"].get("namespace", "")
        assert access.portal_owned(cluster.pk, namespace, obj["kind"], obj["metadata"]["name"]), obj["kind"]
    ns = team["namespace"]
    assert access.portal_owned(cluster.pk, ns, "Secret", PULL_SECRET)
    assert access.portal_owned(cluster.pk, ns, "ResourceQuota", "portal-extra")
    assert access.portal_owned(cluster.pk, ns, "ConfigMap", "portal-quota") is None
    assert access.portal_owned(cluster.pk, ns, "Secret", "portal-other") is None
    assert access.portal_owned(cluster.pk, ns, "ResourceQuota", "team-quota") is None
    assert access.portal_owned(cluster.pk, "elsewhere", "ResourceQuota", services.QUOTA_NAME) is None
    assert access.portal_owned(cluster.pk, "", "Namespace", "elsewhere") is None


def _unchanged(fleet: Any, ns: str, before: dict[tuple[str, str], str]) -> None:
    for (kind, name), version in before.items():
        rt = {**KINDS, "Secret": SECRETS}[kind]
        obj = live(fleet, rt, None if kind == "Namespace" else ns, name)
        assert obj is not None, f"{kind}/{name} was deleted"
        assert obj["metadata"]["resourceVersion"] == version, f"{kind}/{name} was changed"


def _versions(fleet: Any, ns: str) -> dict[tuple[str, str], str]:
    out = {}
    for kind, rt, name in (("ResourceQuota", RESOURCEQUOTAS, services.QUOTA_NAME),
                           ("LimitRange", LIMITRANGES, services.LIMITS_NAME), ("Secret", SECRETS, PULL_SECRET)):
        out[(kind, name)] = live(fleet, rt, ns, name)["metadata"]["resourceVersion"]
    out[("Namespace", ns)] = live(fleet, NAMESPACES, None, ns)["metadata"]["resourceVersion"]
    return out


def test_members_cannot_change_the_quota_limits_or_pull_secrets(fleet: Any, cluster: Cluster,
                                                                team: dict[str, Any]) -> None:
    ns = team["namespace"]
    dev, manager = client_for(team["developer"]), client_for(team["manager"])
    before = _versions(fleet, ns)

    # The object page: the developer may read the quota, and is told why editing and deleting it is not offered.
    shown = dev.get(url(cluster, "resourcequotas", services.QUOTA_NAME, ns=ns))
    assert shown.status_code == 200, shown.json()
    permissions = shown.json()["permissions"]
    for grant in ("objects.edit", "objects.delete"):
        assert permissions[grant]["allowed"] is False
        assert permissions[grant]["code"] == "portal_owned"
        assert permissions[grant]["params"] == {"kind": "ResourceQuota", "name": services.QUOTA_NAME, "namespace": ns}
        assert "Team web" in permissions[grant]["reason"]
        assert "quota and limits in the portal" in permissions[grant]["reason"]
    assert permissions["pods.logs"]["allowed"] is True  # only the grants that change the object

    # Preview and a forced apply of a larger quota: refused, nothing written.
    bigger = yaml.safe_load(shown.json()["yaml"])
    bigger["spec"]["hard"] = {"requests.cpu": "1000", "pods": "10000"}
    text = yaml.safe_dump(bigger, sort_keys=False)
    refused(dev.post(url(cluster, "resourcequotas", services.QUOTA_NAME, "preview", ns), {"yaml": text},
                     format="json"), 403, "portal_owned")
    refused(dev.post(url(cluster, "resourcequotas", services.QUOTA_NAME, "apply", ns), {"yaml": text, "force": True},
                     format="json"), 403, "portal_owned")
    # The LimitRange likewise.
    limits = dev.get(url(cluster, "limitranges", services.LIMITS_NAME, ns=ns)).json()
    assert limits["permissions"]["objects.edit"]["code"] == "portal_owned"
    refused(dev.post(url(cluster, "limitranges", services.LIMITS_NAME, "apply", ns), {"yaml": limits["yaml"]},
                     format="json"), 403, "portal_owned")
    # Deleting either, or the pull secret (type-to-confirm given): refused.
    for plural, name in (("resourcequotas", services.QUOTA_NAME), ("limitranges", services.LIMITS_NAME),
                         ("secrets", PULL_SECRET)):
        refused(dev.post(url(cluster, plural, name, "delete", ns), {"confirm": name}, format="json"), 403,
                "portal_owned")
    # The manager holds secrets.reveal too, and still may not overwrite the pull secret.
    secret = manager.get(url(cluster, "secrets", PULL_SECRET, ns=ns)).json()
    assert secret["permissions"]["objects.edit"]["code"] == "portal_owned"
    assert secret["permissions"]["secrets.reveal"]["allowed"] is True  # reading is not changing
    refused(manager.post(url(cluster, "secrets", PULL_SECRET, "apply", ns), {"yaml": secret["yaml"], "force": True},
                         format="json"), 403, "portal_owned")
    # Creating one from YAML (a second quota under a reserved name, the quota again), preview or create: refused,
    # the whole request, with the ordinary document beside it.
    create = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n---\n"
              "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: portal-extra\nspec:\n  hard:\n    pods: '1000'\n")
    for verb in ("preview", "create"):
        refused(dev.post(f"/api/clusters/{cluster.pk}/objects/{verb}/?namespace={ns}", {"yaml": create},
                         format="json"), 403, "portal_owned")
    quota_again = yaml.safe_dump(bigger, sort_keys=False)
    refused(dev.post(f"/api/clusters/{cluster.pk}/objects/create/?namespace={ns}", {"yaml": quota_again,
                                                                                    "force": True},
                     format="json"), 403, "portal_owned")

    assert not ObjectAction.objects.filter(cluster=cluster).exists()
    _unchanged(fleet, ns, before)
    assert live(fleet, RESOURCEQUOTAS, ns, "portal-extra") is None
    assert live(fleet, CONFIGMAPS, ns, "fine") is None

    # An ordinary ConfigMap in the same namespace is still theirs to edit.
    cm = dev.get(url(cluster, "configmaps", "app", ns=ns)).json()
    assert cm["permissions"]["objects.edit"] == {"allowed": True, "code": "", "reason": "", "params": {}}
    assert cm["permissions"]["objects.delete"]["allowed"] is True
    edited = yaml.safe_load(cm["yaml"])
    edited["data"]["mode"] = "two"
    accepted = dev.post(url(cluster, "configmaps", "app", "apply", ns), {"yaml": yaml.safe_dump(edited)},
                        format="json")
    assert accepted.status_code == 202, accepted.json()
    object_ops.run(accepted.json()["id"])
    assert ObjectAction.objects.get(pk=accepted.json()["id"]).status == "succeeded"
    assert live(fleet, CONFIGMAPS, ns, "app")["data"]["mode"] == "two"


def test_admins_are_refused_too_and_the_namespace_stays_protected(fleet: Any, cluster: Cluster,
                                                                  team: dict[str, Any]) -> None:
    """These change through the service map's own API, whoever asks; deleting the service map's
    Namespace keeps its own refusal (namespace_protected)."""
    ns = team["namespace"]
    admin = client_for(make_user(unique("admin"), role="admin"))
    before = _versions(fleet, ns)

    quota = admin.get(url(cluster, "resourcequotas", services.QUOTA_NAME, ns=ns)).json()
    assert quota["permissions"]["objects.edit"]["code"] == "portal_owned"
    assert quota["permissions"]["workloads.scale"]["allowed"] is False
    refused(admin.post(url(cluster, "resourcequotas", services.QUOTA_NAME, "apply", ns),
                       {"yaml": quota["yaml"], "force": True}, format="json"), 403, "portal_owned")
    refused(admin.post(url(cluster, "limitranges", services.LIMITS_NAME, "delete", ns),
                       {"confirm": services.LIMITS_NAME}, format="json"), 403, "portal_owned")
    refused(admin.post(url(cluster, "secrets", PULL_SECRET, "delete", ns), {"confirm": PULL_SECRET}, format="json"),
            403, "portal_owned")

    namespace = admin.get(url(cluster, "namespaces", ns))
    assert namespace.status_code == 200, namespace.json()
    assert namespace.json()["permissions"]["objects.edit"]["code"] == "portal_owned"
    relabelled = yaml.safe_load(namespace.json()["yaml"])
    relabelled["metadata"]["labels"] = {"mine": "now"}
    refused(admin.post(url(cluster, "namespaces", ns, "apply"), {"yaml": yaml.safe_dump(relabelled)}, format="json"),
            403, "portal_owned")
    refused(admin.post(url(cluster, "namespaces", ns, "delete"), {"confirm": ns}, format="json"), 400,
            "namespace_protected")
    create = f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels:\n    mine: now\n"
    refused(admin.post(f"/api/clusters/{cluster.pk}/objects/create/", {"yaml": create}, format="json"), 403,
            "portal_owned")

    assert not ObjectAction.objects.filter(cluster=cluster).exists()
    _unchanged(fleet, ns, before)


def test_the_same_names_outside_any_service_map_are_left_to_operators(fleet: Any, cluster: Cluster) -> None:
    """The rule is the service maps': a portal-quota in a namespace no service map holds is an
    ordinary object."""
    ns = unique("loose")
    in_cluster(fleet, lambda c: c.store.create(NAMESPACES, {"metadata": {"name": ns}}))
    in_cluster(fleet, lambda c: c.store.create(RESOURCEQUOTAS, {
        "metadata": {"name": services.QUOTA_NAME, "namespace": ns}, "spec": {"hard": {"pods": "5"}}}))
    operator = client_for(make_user(unique("oper"), role="operator"))
    shown = operator.get(url(cluster, "resourcequotas", services.QUOTA_NAME, ns=ns)).json()
    assert shown["permissions"]["objects.edit"]["allowed"] is True
    answer = operator.post(url(cluster, "resourcequotas", services.QUOTA_NAME, "delete", ns),
                           {"confirm": services.QUOTA_NAME}, format="json")
    assert answer.status_code == 202, answer.json()
    object_ops.run(answer.json()["id"])
    assert live(fleet, RESOURCEQUOTAS, ns, services.QUOTA_NAME) is None

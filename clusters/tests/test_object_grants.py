"""The grant matrix of actions on objects (issue 15, clusters.access): each object grant by each kind of
user by a namespace of a service map, a namespace no service map holds and a cluster-scoped object;
the refusal codes the console shows; the protected namespaces; and the data migration that renamed
the grants in every role (backwards and forwards)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from clusters import access
from clusters.models import Cluster
from portal import errors
from portal.models import User
from portal.testing import make_user
from workspaces.models import BUILTIN_ROLES, ClusterAllocation, Grant, Membership, Role, ServiceMap, Workspace

ALL = frozenset(access.OBJECT_GRANTS)
NS = "team-a-web"  # the service map of workspace team-a
OTHER_NS = "team-b-web"  # the service map of workspace team-b
LOOSE_NS = "kube-system"  # no service map holds it

# user -> the object grants it holds in NS (members of team-a: their role's grants there)
IN_SERVICE_MAP = {
    "manager": ALL,
    "developer": ALL - {"secrets.reveal"},
    "viewer": frozenset({"pods.logs"}),
    "restarter": frozenset({"workloads.restart"}),
    "operator": ALL,
    "admin": ALL,
    "auditor": frozenset({"pods.logs"}),
    "outsider": frozenset(),
}
# user -> in a namespace no service map of theirs holds (and in OTHER_NS)
OUTSIDE_SERVICE_MAPS = {**dict.fromkeys(IN_SERVICE_MAP, frozenset()), "operator": ALL, "admin": ALL,
                        "auditor": frozenset({"pods.logs"})}
# user -> on cluster-scoped objects (namespace "")
CLUSTER_SCOPED = {**dict.fromkeys(IN_SERVICE_MAP, frozenset()), "operator": ALL, "admin": ALL}


@pytest.fixture
def world(db: None) -> dict[str, Any]:
    cluster = Cluster.objects.create(name="grants", server="https://127.0.0.1:9")
    team_a = Workspace.objects.create(name="team-a")
    team_b = Workspace.objects.create(name="team-b")
    for ws, ns in ((team_a, NS), (team_b, OTHER_NS)):
        ClusterAllocation.objects.create(workspace=ws, cluster=cluster, status="ready")
        ServiceMap.objects.create(workspace=ws, cluster=cluster, namespace=ns, status="ready",
                                  display_name=f"{ws.name} web" if ws is team_a else "")
    restart_only = Role.objects.create(key="restart-only", name="Restart only", grants=["workloads.restart"])
    users: dict[str, User] = {
        "operator": make_user("g-oper", role="operator"),
        "admin": make_user("g-admin", role="admin"),
        "auditor": make_user("g-audit", role="auditor"),
    }
    for name, role in (("manager", Role.objects.get(key="manager")), ("developer", Role.objects.get(key="developer")),
                       ("viewer", Role.objects.get(key="viewer")), ("restarter", restart_only)):
        users[name] = make_user(f"g-{name}")
        Membership.objects.create(workspace=team_a, user=users[name], role=role)
    users["outsider"] = make_user("g-outsider")  # manager of team-b, nothing in team-a
    Membership.objects.create(workspace=team_b, user=users["outsider"], role=Role.objects.get(key="manager"))
    return {"cluster": cluster, "users": users}


def test_object_grants_are_workspace_grants() -> None:
    """clusters cannot import workspaces: its copy of the grant names must stay in step."""
    assert set(access.OBJECT_GRANTS) <= {g.value for g in Grant}
    assert {Grant.OBJECTS_EDIT, Grant.OBJECTS_DELETE, Grant.PODS_EXEC, Grant.PODS_LOGS} <= set(access.OBJECT_GRANTS)


@pytest.mark.parametrize("who", sorted(IN_SERVICE_MAP))
@pytest.mark.parametrize(("namespace", "table"), [
    (NS, IN_SERVICE_MAP), (OTHER_NS, OUTSIDE_SERVICE_MAPS), (LOOSE_NS, OUTSIDE_SERVICE_MAPS), ("", CLUSTER_SCOPED),
])
def test_grant_matrix(world: dict[str, Any], who: str, namespace: str, table: dict[str, frozenset[str]]) -> None:
    cluster, user = world["cluster"], world["users"][who]
    expected = ALL if who == "outsider" and namespace == OTHER_NS else table[who]  # the outsider manages team-b
    assert access.object_grants(user, cluster, namespace) == expected
    assert access.object_grants(user, cluster.pk, namespace) == expected  # by id too
    permissions = access.object_permissions(user, cluster, namespace)
    assert set(permissions) == ALL
    for grant in access.OBJECT_GRANTS:
        refusal = access.object_action_denied(user, cluster, namespace, grant)
        assert (refusal is None) == (grant in expected), grant
        assert permissions[grant]["allowed"] is (grant in expected)
        if refusal is None:
            access.require_object_action(user, cluster, namespace, grant)
            assert permissions[grant] == {"allowed": True, "code": "", "reason": "", "params": {}}
            continue
        assert isinstance(refusal, errors.Forbidden)
        assert refusal.status == 403
        assert permissions[grant]["code"] == refusal.code
        assert permissions[grant]["reason"] == refusal.message
        assert permissions[grant]["params"] == refusal.params
        with pytest.raises(errors.Forbidden) as raised:
            access.require_object_action(user, cluster, namespace, grant)
        assert raised.value.code == refusal.code
        if namespace == "" or who == "auditor":
            assert refusal.code == "operator_required"
            assert refusal.params["what"]
        elif who in ("manager", "developer", "viewer", "restarter") and namespace == NS:
            assert refusal.code == "grant_missing"
            assert refusal.params == {"workspace": "team-a", "grant": grant}
        else:
            assert refusal.code == "namespace_forbidden"
            assert refusal.params == {"cluster": cluster.pk, "namespace": namespace}


def test_restart_without_edit(world: dict[str, Any]) -> None:
    """The issue's example: a custom role may restart and nothing else."""
    cluster, restarter = world["cluster"], world["users"]["restarter"]
    access.require_object_action(restarter, cluster, NS, "workloads.restart")
    with pytest.raises(errors.Forbidden) as raised:
        access.require_object_action(restarter, cluster, NS, "objects.edit")
    assert raised.value.code == "grant_missing"


def test_auditor_who_is_also_a_member_still_changes_nothing(world: dict[str, Any]) -> None:
    """The auditor system role reads everything and changes nothing (REVIEW15 M3): a workspace role
    they also hold (here developer: edit, delete, exec …) adds no grant; each change is refused
    with ``operator_required``."""
    cluster, auditor = world["cluster"], world["users"]["auditor"]
    Membership.objects.create(workspace=Workspace.objects.get(name="team-a"), user=auditor,
                              role=Role.objects.get(key="developer"))
    for namespace in (NS, OTHER_NS):
        assert access.object_grants(auditor, cluster, namespace) == {"pods.logs"}
        permissions = access.object_permissions(auditor, cluster, namespace)
        for grant in ALL - {"pods.logs"}:
            refusal = access.object_action_denied(auditor, cluster, namespace, grant)
            assert refusal is not None, grant
            assert refusal.code == "operator_required", grant
            assert (permissions[grant]["allowed"], permissions[grant]["code"]) == (False, "operator_required")
        with pytest.raises(errors.Forbidden):
            access.require_object_action(auditor, cluster, namespace, "pods.exec")
    assert access.object_grants(auditor, cluster, "") == frozenset()


def test_anonymous_and_inactive_users_hold_nothing(world: dict[str, Any]) -> None:
    from django.contrib.auth.models import AnonymousUser

    cluster = world["cluster"]
    operator = world["users"]["operator"]
    operator.is_active = False
    operator.save()
    for user in (AnonymousUser(), None, User.objects.get(pk=operator.pk)):
        assert access.object_grants(user, cluster, NS) == frozenset()
        assert access.object_action_denied(user, cluster, NS, "pods.logs") is not None


def test_one_query_per_answer(world: dict[str, Any], django_assert_num_queries: Any) -> None:
    cluster, users = world["cluster"], world["users"]
    with django_assert_num_queries(1):
        access.object_permissions(users["developer"], cluster, NS)
    with django_assert_num_queries(1):
        access.object_action_denied(users["outsider"], cluster, NS, "objects.edit")
    with django_assert_num_queries(0):
        access.object_permissions(users["operator"], cluster, LOOSE_NS)
        access.object_permissions(users["developer"], cluster, "")


def test_protected_namespace(world: dict[str, Any]) -> None:
    cluster = world["cluster"]
    assert access.protected_namespace(cluster.pk, NS) == "team-a web"  # its display name
    assert access.protected_namespace(cluster.pk, OTHER_NS) == OTHER_NS  # no display name: the namespace
    assert access.protected_namespace(cluster.pk, LOOSE_NS) is None
    assert access.protected_namespace(cluster.pk, "") is None
    other = Cluster.objects.create(name="grants-other", server="https://127.0.0.1:9")
    assert access.protected_namespace(other.pk, NS) is None


# ---------------------------------------------------------------------------- the data migration

BEFORE = ("workspaces", "0005_message_codes")
AFTER = ("workspaces", "0006_object_grants")


def _migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


@pytest.mark.django_db(transaction=True)
def test_data_migration_renames_grants_both_ways() -> None:
    try:
        _migrate(BEFORE)
        Role.objects.filter(builtin=True).delete()
        old_builtin = {
            "manager": ["members.manage", "servicemaps.manage", "workloads.deploy", "workloads.scale",
                        "workloads.restart", "workloads.rollback", "workloads.edit", "workloads.delete",
                        "workloads.exec", "config.edit", "secrets.reveal", "builds.run"],
            "developer": ["workloads.deploy", "workloads.scale", "workloads.restart", "workloads.rollback",
                          "workloads.edit", "workloads.delete", "workloads.exec", "config.edit", "builds.run"],
            "viewer": [],
        }
        for key, grants in old_builtin.items():
            Role.objects.create(key=key, name=key.title(), grants=sorted(grants), builtin=True)
        Role.objects.create(key="editor", name="Editor", grants=["workloads.edit", "workloads.restart"])
        Role.objects.create(key="shell", name="Shell", grants=["workloads.exec"])

        _migrate(AFTER)
        roles = {r.key: r.grants for r in Role.objects.all()}
        later = {"alerts.manage"}  # workspaces 0007 (issue 14), after this migration
        for key, spec in BUILTIN_ROLES.items():  # exactly today's built-in roles, as of this migration
            assert roles[key] == sorted(str(g) for g in spec["grants"] if str(g) not in later), key
        assert roles["editor"] == ["objects.edit", "workloads.restart"]
        assert roles["shell"] == ["pods.exec"]  # custom roles do not gain pods.logs

        _migrate(BEFORE)
        roles = {r.key: r.grants for r in Role.objects.all()}
        for key, grants in old_builtin.items():
            assert roles[key] == sorted(grants), key
        assert roles["editor"] == ["workloads.edit", "workloads.restart"]
        assert roles["shell"] == ["workloads.exec"]
    finally:
        _migrate(AFTER)
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

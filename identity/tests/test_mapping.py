"""Table tests of the pure groups → roles rules (identity/mapping.py)."""

from __future__ import annotations

import pytest

from identity.mapping import Rule, evaluate, group_matches, normalize_dn, parse_dn, system_role_after

RANK = {1: 12, 2: 8, 3: 0}  # manager, developer, viewer: by how many grants each has


@pytest.mark.parametrize(("kind", "rule", "group", "matches"), [
    ("oidc", "ops", "ops", True),
    ("oidc", "ops", "Ops", False),  # claims are case-sensitive
    ("oidc", "ops", "ops-admins", False),
    ("ldap", "cn=Ops,ou=Groups,dc=example,dc=com", "CN=ops, OU=groups,DC=Example,DC=com", True),
    ("ldap", "cn=Ops,ou=Groups,dc=example,dc=com", "cn=ops,ou=people,dc=example,dc=com", False),
    ("ldap", "ops", "cn=Ops,ou=Groups,dc=example,dc=com", True),  # a bare CN matches the first RDN
    ("ldap", "ops", "ops", True),
    ("ldap", "r,d", "cn=R\\,D,ou=groups,dc=example,dc=com", True),  # a bare CN is the value, unescaped
    ("ldap", "cn=R\\,D,ou=groups,dc=example,dc=com", "cn=r\\,d, ou=groups,dc=example,dc=com", True),
    ("ldap", "r", "cn=R\\,D,ou=groups,dc=example,dc=com", False),
    ("ldap", "ops, on-call", "cn=ops\\2C on-call,ou=groups,dc=example,dc=org", True),  # hex escape
    ("ldap", "cn=ops\\, on-call,ou=groups,dc=example,dc=org", "CN=Ops\\2c On-Call,OU=groups,DC=example,DC=org", True),
])
def test_group_matching(kind: str, rule: str, group: str, matches: bool) -> None:
    assert group_matches(kind, rule, group) is matches


def test_dn_spellings_compare_equal() -> None:
    assert parse_dn(" CN = A\\, B , OU=X ") == parse_dn("cn=a\\2C B,ou=x") == ((("cn", "a, b"),), (("ou", "x"),))
    assert parse_dn("cn=a+uid=b,dc=x") == parse_dn("UID=B+CN=A, DC=X")  # multi-valued RDNs in any order
    assert normalize_dn("CN=Ops\\2C On-Call,DC=X") == "cn=ops, on-call,dc=x"
    assert parse_dn("cn=a\\,b,dc=x") != parse_dn("cn=a,b,dc=x")


@pytest.mark.parametrize(("groups", "system_role", "workspaces"), [
    ([], "", {}),
    (["devs"], "", {10: 2}),
    (["devs", "leads"], "", {10: 1}),  # the role with more grants wins in one workspace
    (["readers", "devs"], "", {10: 2}),
    (["ops"], "operator", {}),
    (["ops", "admins"], "admin", {}),
    (["ops", "devs", "other-team"], "operator", {10: 2, 20: 3}),
    (["unmapped"], "", {}),
])
def test_evaluate_table(groups: list[str], system_role: str, workspaces: dict[int, int]) -> None:
    rules = [
        Rule(group="devs", workspace_id=10, role_id=2),
        Rule(group="leads", workspace_id=10, role_id=1),
        Rule(group="readers", workspace_id=10, role_id=3),
        Rule(group="other-team", workspace_id=20, role_id=3),
        Rule(group="ops", system_role="operator"),
        Rule(group="admins", system_role="admin"),
    ]
    grants = evaluate("oidc", groups, rules, RANK)
    assert grants.system_role == system_role
    assert grants.workspaces == workspaces
    # The rule order does not change the answer.
    assert evaluate("oidc", groups, list(reversed(rules)), RANK) == grants


@pytest.mark.parametrize(("current", "before", "now", "after"), [
    ("user", [], ["operator"], "operator"),  # a mapping raises
    ("operator", ["operator"], [], "user"),  # the group is gone: what the mapping gave goes
    ("admin", ["admin"], ["operator"], "operator"),  # lowered to what is still granted
    ("admin", [], [], "admin"),  # set by hand: a mapping never lowers it
    ("admin", [], ["operator"], "admin"),
    ("operator", ["admin"], [], "operator"),  # changed by hand since: left alone
    ("user", ["admin"], ["operator"], "operator"),  # lowered by hand, still granted operator: raised
    ("user", [], ["auditor"], "auditor"),  # auditor ranks above user
    ("auditor", [], ["operator"], "operator"),  # and below operator
    ("operator", ["operator"], ["auditor"], "auditor"),
    ("auditor", [], ["user"], "auditor"),  # set by hand: never lowered
])
def test_system_role_after(current: str, before: list[str], now: list[str], after: str) -> None:
    assert system_role_after(current=current, mapped_before=before, mapped_now=now) == after

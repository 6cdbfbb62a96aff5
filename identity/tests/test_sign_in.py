"""The sign-in entry point every provider kind calls (identity.actions.sign_in_external) and the
re-evaluation of groups: just-in-time users, refused collisions, mappings added and removed,
sockets re-checked, and the audit trail. Real PostgreSQL and Redis; no provider is needed here
(the OIDC and LDAP tests sign in through real servers)."""

from __future__ import annotations

from typing import Any

import pytest

from identity import actions
from identity.models import ExternalIdentity, GroupMapping, MappedMembership
from identity.tests.helpers import provider, role, sign_in, workspace
from portal.errors import Conflict, Forbidden, Invalid
from portal.models import AuditRecord, User
from portal.testing import ControlListener, make_user
from workspaces.models import Membership

pytestmark = pytest.mark.django_db


def test_first_sign_in_creates_the_user_and_the_next_finds_it() -> None:
    idp = provider()
    user = sign_in(idp, "sub-1", "jit.alice", ["devs"])
    assert user.username == "jit.alice"
    assert user.local_login_enabled is False
    assert not user.has_usable_password()
    assert (user.first_name, user.last_name) == ("Test", "Person")
    link = ExternalIdentity.objects.get(provider=idp, subject="sub-1")
    assert (link.user_id, link.groups, link.email) == (user.pk, ["devs"], "jit.alice@example.com")

    again = sign_in(idp, "sub-1", "jit.alice", ["devs", "ops"])
    assert again.pk == user.pk
    assert User.objects.filter(username="jit.alice").count() == 1
    link.refresh_from_db()
    assert link.groups == ["devs", "ops"]
    records = AuditRecord.objects.filter(action="identity.sign_in", actor=user).order_by("pk")
    assert [r.detail["created"] for r in records] == [True, False]
    assert all("token" not in str(r.detail).lower() for r in records)


def test_a_username_taken_by_a_local_account_is_refused_and_nothing_is_created() -> None:
    idp = provider()
    local = make_user("collide.bob", role="admin")
    with pytest.raises(Conflict) as caught:
        sign_in(idp, "sub-bob", "Collide.Bob", ["admins"])
    assert caught.value.code == "username_taken"
    assert not ExternalIdentity.objects.filter(provider=idp).exists()
    assert User.objects.filter(username__iexact="collide.bob").count() == 1
    local.refresh_from_db()
    assert not local.external_identities.exists()  # never merged
    refused = AuditRecord.objects.get(action="identity.refused", actor_username="Collide.Bob")
    assert refused.detail["code"] == "username_taken"
    assert refused.outcome == "denied"


def test_the_same_name_from_another_provider_is_another_person_and_refused() -> None:
    first, second = provider(), provider(kind="ldap")
    sign_in(first, "sub-c", "carol", [])
    with pytest.raises(Conflict) as caught:
        sign_in(second, "uid=carol,ou=people,dc=example,dc=com", "carol", [])
    assert caught.value.code == "username_taken"
    assert ExternalIdentity.objects.filter(username="carol").count() == 1


def test_a_disabled_provider_is_refused() -> None:
    idp = provider(enabled=False)
    with pytest.raises(Forbidden) as caught:
        sign_in(idp, "sub-d", "dave", [])
    assert caught.value.code == "provider_disabled"
    assert not User.objects.filter(username="dave").exists()
    assert AuditRecord.objects.get(action="identity.refused", actor_username="dave").detail["code"] == "provider_disabled"


@pytest.mark.parametrize(("subject", "username"), [("", "erin"), ("sub-e", ""), ("sub-e", "erin smith"),
                                                   ("sub-e", "x" * 151)])
def test_an_unusable_subject_or_username_is_refused(subject: str, username: str) -> None:
    idp = provider()
    with pytest.raises(Invalid) as caught:
        sign_in(idp, subject, username, [])
    assert caught.value.code == "invalid_external_identity"
    assert not ExternalIdentity.objects.filter(provider=idp).exists()


def test_a_deactivated_linked_user_is_refused() -> None:
    idp = provider()
    user = sign_in(idp, "sub-f", "frank", [])
    User.objects.filter(pk=user.pk).update(is_active=False)
    with pytest.raises(Forbidden) as caught:
        sign_in(idp, "sub-f", "frank", [])
    assert caught.value.code == "account_disabled"


def test_groups_grant_roles_and_losing_a_group_takes_them_away(django_capture_on_commit_callbacks: Any) -> None:
    idp = provider()
    team, other = workspace(), workspace()
    actions.create_mapping(data={"provider": idp, "group": "devs", "workspace": team, "role": role("developer")})
    actions.create_mapping(data={"provider": idp, "group": "ops", "system_role": "operator"})
    user = sign_in(idp, "sub-g", "grace", ["devs", "ops"])
    user.refresh_from_db()
    assert user.role == "operator"
    membership = Membership.objects.get(user=user, workspace=team)
    assert membership.role.key == "developer"
    assert MappedMembership.objects.filter(membership=membership).exists()
    # An admin adds grace to another workspace by hand: the mappings never touch that one.
    manual = Membership.objects.create(user=user, workspace=other, role=role("viewer"))

    listener = ControlListener(user.pk)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            sign_in(idp, "sub-g", "grace", ["ops"])  # removed from devs at the provider
        message = listener.next()
    finally:
        listener.close()
    assert message is not None
    assert message["type"] == "portal.reauthorize"
    assert not Membership.objects.filter(user=user, workspace=team).exists()
    assert Membership.objects.filter(pk=manual.pk).exists()
    record = AuditRecord.objects.filter(action="identity.sign_in", actor=user).latest("pk")
    assert record.detail["removed"] == [f"{team.name}:developer"]

    with django_capture_on_commit_callbacks(execute=True):
        sign_in(idp, "sub-g", "grace", [])
    user.refresh_from_db()
    assert user.role == "user"  # the operator role came from the mapping, so it goes with the group


def test_a_role_set_by_hand_is_not_lowered_by_a_mapping() -> None:
    idp = provider()
    actions.create_mapping(data={"provider": idp, "group": "ops", "system_role": "operator"})
    user = sign_in(idp, "sub-h", "heidi", [])
    User.objects.filter(pk=user.pk).update(role="admin")  # an admin promoted heidi by hand
    sign_in(idp, "sub-h", "heidi", ["ops"])
    sign_in(idp, "sub-h", "heidi", [])
    user.refresh_from_db()
    assert user.role == "admin"


def test_a_mapping_role_change_follows_and_a_manual_membership_is_left_alone() -> None:
    idp = provider()
    team = workspace()
    user = sign_in(idp, "sub-i", "ivan", [])
    Membership.objects.create(user=user, workspace=team, role=role("viewer"))
    actions.create_mapping(data={"provider": idp, "group": "leads", "workspace": team, "role": role("manager")})
    sign_in(idp, "sub-i", "ivan", ["leads"])
    assert Membership.objects.get(user=user, workspace=team).role.key == "viewer"  # given by hand: unchanged
    assert not MappedMembership.objects.filter(identity__user=user).exists()


def test_changing_or_deleting_a_mapping_applies_at_once(django_capture_on_commit_callbacks: Any) -> None:
    idp = provider()
    team = workspace()
    item = actions.create_mapping(data={"provider": idp, "group": "devs", "workspace": team, "role": role("viewer")})
    user = sign_in(idp, "sub-j", "judy", ["devs"])
    actions.update_mapping(item=item, data={"role": role("developer")})
    assert Membership.objects.get(user=user, workspace=team).role.key == "developer"
    with django_capture_on_commit_callbacks(execute=True):
        actions.delete_mapping(item=GroupMapping.objects.get(pk=item.pk))
    assert not Membership.objects.filter(user=user, workspace=team).exists()
    assert AuditRecord.objects.filter(action="identity.reevaluate", target_id=str(user.pk)).exists()


def test_reevaluate_applies_groups_read_later() -> None:
    idp = provider(kind="ldap")
    team = workspace()
    dn = "cn=Devs,ou=groups,dc=example,dc=com"
    actions.create_mapping(data={"provider": idp, "group": dn, "workspace": team, "role": role("developer")})
    user = sign_in(idp, "entry-uuid-k", "kim", ["CN=devs, OU=groups,DC=example,DC=com"])
    assert Membership.objects.filter(user=user, workspace=team).exists()
    link = ExternalIdentity.objects.get(user=user)
    changes = actions.reevaluate(link, [])
    assert changes.removed == [f"{team.name}:developer"]
    assert not Membership.objects.filter(user=user, workspace=team).exists()
    assert actions.reevaluate(link, []).any is False  # converges


def test_deleting_a_provider_takes_away_what_its_mappings_gave() -> None:
    idp = provider()
    team = workspace()
    actions.create_mapping(data={"provider": idp, "group": "devs", "workspace": team, "role": role("developer")})
    actions.create_mapping(data={"provider": idp, "group": "admins", "system_role": "admin"})
    make_user("keep-an-admin", role="admin")
    user = sign_in(idp, "sub-l", "leo", ["devs", "admins"])
    actions.delete_provider(provider=idp)
    user.refresh_from_db()
    assert user.role == "user"
    assert not Membership.objects.filter(user=user).exists()
    assert not ExternalIdentity.objects.filter(user=user).exists()
    assert actions.account_problem(user) is not None  # no way in is left


def test_identity_gone_unlinks_and_revokes() -> None:
    idp = provider(kind="ldap")
    actions.create_mapping(data={"provider": idp, "group": "ops", "system_role": "operator"})
    user = sign_in(idp, "entry-m", "mallory", ["ops"])
    actions.identity_gone(ExternalIdentity.objects.get(user=user), reason="not_in_directory")
    user.refresh_from_db()
    assert user.role == "user"
    assert AuditRecord.objects.get(action="identity.unlinked", target_id=str(user.pk)).detail["reason"] == "not_in_directory"


def test_two_identities_share_a_mapped_membership_until_both_lose_the_group() -> None:
    first, second = provider(), provider()
    team = workspace()
    for idp in (first, second):
        actions.create_mapping(data={"provider": idp, "group": "devs", "workspace": team, "role": role("developer")})
    user = sign_in(first, "sub-n", "nia", ["devs"])
    ExternalIdentity.objects.create(provider=second, subject="sub-n2", user=user, username="nia")  # linked by an admin
    actions.reevaluate(ExternalIdentity.objects.get(provider=second, user=user), ["devs"])
    actions.reevaluate(ExternalIdentity.objects.get(provider=first, user=user), [])
    assert Membership.objects.filter(user=user, workspace=team).exists()  # the second still grants it
    actions.reevaluate(ExternalIdentity.objects.get(provider=second, user=user), [])
    assert not Membership.objects.filter(user=user, workspace=team).exists()


def test_account_problem_follows_the_provider() -> None:
    idp = provider()
    user = sign_in(idp, "sub-o", "oscar", [])
    assert actions.account_problem(user) is None
    actions.update_provider(provider=idp, data={"enabled": False})
    assert "switched off" in (actions.account_problem(user) or "")
    local = make_user("local-only")
    assert actions.account_problem(local) is None

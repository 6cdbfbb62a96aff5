"""Every write of single sign-on: providers and mappings (admins), and what a sign-in changes.

:func:`sign_in_external` is the one entry point the provider kinds (:mod:`identity.oidc`,
:mod:`identity.ldap`) call once the provider vouched for a person: it creates the user on first
sign-in (just in time) linked to (provider, subject), refuses a username another account already
has (never merges), and applies the provider's group mappings: the system role and the workspace
memberships the groups grant are added, and those the groups no longer grant are taken away —
only what a mapping gave (:class:`identity.models.MappedMembership`, ``mapped_role``), never what
an admin gave by hand. Whoever lost access has their open sockets re-checked after commit
(:func:`portal.events.reauthorize`), and every sign-in, refusal and change is audited (never a
secret or a token).

:func:`reevaluate` does the same for groups read later (the LDAP schedule); a mapping created,
changed or deleted re-evaluates the provider's identities with the groups they last had, so an
admin's change takes effect at once. Refusals are :mod:`portal.errors` with stable codes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from identity import access, mapping
from identity.models import (
    GROUP_MAX_LENGTH,
    SUBJECT_MAX_LENGTH,
    ExternalIdentity,
    GroupMapping,
    IdentityProvider,
    MappedMembership,
    ProviderKind,
)
from portal import audit, crypto
from portal.errors import Conflict, Forbidden, Invalid, NotFound
from portal.events import publish, reauthorize
from portal.models import AuditOutcome, SystemRole, User
from workspaces.models import Membership, Role, Workspace

logger = logging.getLogger(__name__)

MAX_GROUPS = 2000  # groups kept per identity; more is a misconfigured claim, not a person
SESSION_PROVIDER_KEY = "identity_provider"  # the provider a browser session signed in through

OIDC_DEFAULTS: dict[str, Any] = {
    "issuer": "", "client_id": "", "scopes": ["openid", "profile", "email", "groups"],
    "username_claim": "preferred_username", "groups_claim": "groups", "ca_pem": "",
    # "" = built from the request: <portal>/api/auth/oidc/<name>/callback/ and <portal>/login (identity/oidc.py)
    "redirect_uri": "", "post_logout_redirect_uri": "",
}
LDAP_DEFAULTS: dict[str, Any] = {
    "server_uri": "", "start_tls": False, "ca_pem": "", "bind_dn": "", "user_search_base": "",
    "user_filter": "(uid={username})", "username_attr": "uid", "email_attr": "mail", "display_name_attr": "cn",
    "group_search_base": "", "group_filter": "(member={user_dn})", "nested_groups": False,
}
DEFAULTS = {ProviderKind.OIDC: OIDC_DEFAULTS, ProviderKind.LDAP: LDAP_DEFAULTS}


# ---------------------------------------------------------------------------- providers


def _invalid(errors: dict[str, list[str]], code: str = "invalid") -> Invalid:
    first = next(iter(errors.values()))[0]
    return Invalid(first, code=code, errors=errors)


def _check_pem(value: str, key: str, errors: dict[str, list[str]]) -> None:
    if value and "-----BEGIN CERTIFICATE-----" not in value:
        errors[f"config.{key}"] = ["Paste the CA certificate(s) in PEM form (-----BEGIN CERTIFICATE-----…)."]


def clean_config(kind: str, raw: Any, *, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provider's settings with defaults filled, or :class:`Invalid` naming each bad key.
    Keys of the other kind are refused (they would be silently ignored otherwise)."""
    defaults = DEFAULTS[ProviderKind(kind)]
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _invalid({"config": ["Give the settings as a JSON object."]}, code="invalid_provider_config")
    errors: dict[str, list[str]] = {}
    for key in sorted(set(raw) - set(defaults)):
        errors[f"config.{key}"] = [f"Not a setting of a {kind} provider; its settings are: {', '.join(sorted(defaults))}."]
    config = {**defaults, **(previous or {}), **{k: v for k, v in raw.items() if k in defaults}}
    for key, default in defaults.items():
        value = config[key]
        if isinstance(default, bool) and not isinstance(value, bool):
            errors[f"config.{key}"] = ["Give true or false."]
        elif isinstance(default, str) and not isinstance(value, str):
            errors[f"config.{key}"] = ["Give a string."]
    if errors:
        raise _invalid(errors, code="invalid_provider_config")
    if kind == ProviderKind.OIDC:
        parts = urlsplit(config["issuer"])
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
            errors["config.issuer"] = ["Give the issuer URL, e.g. https://login.example.com/realms/main "
                                       "(its /.well-known/openid-configuration is read from there)."]
        if not config["client_id"].strip():
            errors["config.client_id"] = ["Give the client id registered at the provider."]
        scopes = config["scopes"]
        if (not isinstance(scopes, list) or any(not isinstance(s, str) or not s or " " in s for s in scopes)
                or "openid" not in scopes):
            errors["config.scopes"] = ['Give a list of scopes that includes "openid".']
        for key in ("username_claim", "groups_claim"):
            if not config[key].strip():
                errors[f"config.{key}"] = ["Name the claim."]
    else:
        parts = urlsplit(config["server_uri"])
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname or parts.path not in ("", "/"):
            errors["config.server_uri"] = ["Give the server as ldaps://host:636 or ldap://host:389."]
        if parts.scheme == "ldaps" and config["start_tls"]:
            errors["config.start_tls"] = ["StartTLS is for ldap://; an ldaps:// server is already TLS."]
        if parts.scheme == "ldap" and not config["start_tls"]:
            errors["config.start_tls"] = ["ldap:// without StartTLS would send passwords in clear; turn on start_tls "
                                          "or use ldaps://."]
        if not config["user_search_base"].strip():
            errors["config.user_search_base"] = ["Give the DN under which users are searched."]
        if "{username}" not in config["user_filter"] or not config["user_filter"].startswith("("):
            errors["config.user_filter"] = ["Give a filter in parentheses with {username}, e.g. (uid={username})."]
        if config["group_filter"] and not config["group_filter"].startswith("("):
            errors["config.group_filter"] = ["Give a filter in parentheses, e.g. (member={user_dn})."]
        for key in ("username_attr", "email_attr", "display_name_attr"):
            if not config[key].strip():
                errors[f"config.{key}"] = ["Name the attribute."]
    _check_pem(config["ca_pem"], "ca_pem", errors)
    if errors:
        raise _invalid(errors, code="invalid_provider_config")
    return config


def create_provider(*, data: dict[str, Any], request: HttpRequest | None = None) -> IdentityProvider:
    kind = data["kind"]
    config = clean_config(kind, data.get("config"))
    if IdentityProvider.objects.filter(name=data["name"]).exists():
        raise Invalid(f"A provider named {data['name']} already exists.", code="provider_name_taken",
                      errors={"name": [f"A provider named {data['name']} already exists."]})
    with transaction.atomic():
        provider = IdentityProvider.objects.create(
            name=data["name"], display_name=data.get("display_name", ""), kind=kind,
            enabled=data.get("enabled", True), config=config)
        if data.get("secret"):
            provider.set_secret(data["secret"])
            provider.save(update_fields=["secret_encrypted"])
        _audit(request, action="identity.provider_create", target=provider,
               detail={"kind": kind, "enabled": provider.enabled, "secret_set": provider.has_secret})
    return provider


def update_provider(*, provider: IdentityProvider, data: dict[str, Any],
                    request: HttpRequest | None = None) -> IdentityProvider:
    """Change settings, the secret ("" clears it; absent keeps it) or ``enabled``. Disabling
    refuses new sign-ins, stops the API tokens of users who have no other way in, and makes
    their open sockets re-check."""
    with transaction.atomic():
        provider = IdentityProvider.objects.select_for_update().get(pk=provider.pk)
        changed = sorted(k for k in data if k != "secret")
        if "config" in data:
            provider.config = clean_config(provider.kind, data["config"], previous=provider.config)
        if "display_name" in data:
            provider.display_name = data["display_name"]
        was_enabled = provider.enabled
        if "enabled" in data:
            provider.enabled = bool(data["enabled"])
        if "secret" in data:
            provider.set_secret(data["secret"] or "")
            changed.append("secret")
        provider.save()
        _audit(request, action="identity.provider_update", target=provider,
               detail={"fields": changed, "enabled": provider.enabled})
        if was_enabled and not provider.enabled:
            reauthorize(provider.identities.values_list("user_id", flat=True), reason="identity.provider_disabled")
    return provider


def delete_provider(*, provider: IdentityProvider, request: HttpRequest | None = None) -> None:
    """Delete a provider: what its mappings granted is taken away first, then its identities go
    (their users stay, for the audit log; without another way in they cannot sign in)."""
    with transaction.atomic():
        provider = IdentityProvider.objects.select_for_update().get(pk=provider.pk)
        user_ids: set[int] = set()
        for identity in ExternalIdentity.objects.filter(provider=provider).select_related("provider"):
            _apply(identity, [], rules=[])
            user_ids.add(identity.user_id)
        _audit(request, action="identity.provider_delete", target=provider,
               detail={"kind": provider.kind, "identities": len(user_ids)})
        provider.delete()
        reauthorize(user_ids, reason="identity.provider_delete")


def rotate_secret(provider_id: int, *, dry_run: bool = False) -> str:
    """Re-encrypt one provider's secret under the primary key: "rotated", "current" (already
    under it), "empty" (no secret), "gone" or "failed" (cannot be decrypted; left as it is)."""
    with transaction.atomic():
        provider = IdentityProvider.objects.select_for_update().filter(pk=provider_id).first()
        if provider is None:
            return "gone"
        if not provider.secret_encrypted:
            return "empty"
        if crypto.key_id(provider.secret_encrypted) == crypto.keyring().primary:
            return "current"
        try:
            secret = provider.get_secret()
        except crypto.DecryptionError:
            return "failed"
        if not dry_run:
            provider.set_secret(secret)
            provider.save(update_fields=["secret_encrypted"])
            audit.record(action="identity.secret_rotated", outcome=AuditOutcome.SUCCESS, target=provider,
                         detail={"key": crypto.keyring().primary})
        return "rotated"


# ---------------------------------------------------------------------------- mappings


def mapping_target(data: dict[str, Any]) -> tuple[str, Workspace | None, Role | None]:
    system_role = data.get("system_role") or ""
    workspace = data.get("workspace")
    role = data.get("role")
    if system_role and (workspace is not None or role is not None):
        raise _invalid({"system_role": ["Map a group either to a system role or to a role in a workspace, not both."]},
                       code="mapping_target_ambiguous")
    if not system_role and (workspace is None or role is None):
        raise _invalid({"workspace": ["Give a system role, or a workspace and a role in it."]},
                       code="mapping_target_missing")
    return system_role, workspace, role


def _clean_group(value: Any) -> str:
    group = value.strip() if isinstance(value, str) else ""
    if not group:
        raise _invalid({"group": ["Name the group (the claim value, or the LDAP group's DN or CN)."]},
                       code="mapping_group_missing")
    return group


def create_mapping(*, data: dict[str, Any], request: HttpRequest | None = None) -> GroupMapping:
    provider: IdentityProvider = data["provider"]
    system_role, workspace, role = mapping_target(data)
    group = _clean_group(data.get("group"))
    try:
        with transaction.atomic():
            item = GroupMapping.objects.create(provider=provider, group=group, system_role=system_role,
                                               workspace=workspace, role=role)
            _audit(request, action="identity.mapping_create", target=item, detail=_mapping_detail(item))
            _reevaluate_provider(provider)
    except IntegrityError as exc:
        raise Conflict("This group is already mapped to that target; change the existing mapping instead.",
                       code="mapping_exists") from exc
    return item


def update_mapping(*, item: GroupMapping, data: dict[str, Any], request: HttpRequest | None = None) -> GroupMapping:
    merged = {"system_role": item.system_role, "workspace": item.workspace, "role": item.role, "group": item.group}
    if data.get("system_role"):
        merged.update(workspace=None, role=None)
    if data.get("workspace") is not None or data.get("role") is not None:
        merged["system_role"] = ""
    merged.update(data)
    system_role, workspace, role = mapping_target(merged)
    group = _clean_group(merged.get("group"))
    try:
        with transaction.atomic():
            item = GroupMapping.objects.select_for_update().get(pk=item.pk)
            item.group, item.system_role, item.workspace, item.role = group, system_role, workspace, role
            item.save()
            _audit(request, action="identity.mapping_update", target=item, detail=_mapping_detail(item))
            _reevaluate_provider(item.provider)
    except IntegrityError as exc:
        raise Conflict("This group is already mapped to that target; change the existing mapping instead.",
                       code="mapping_exists") from exc
    return item


def delete_mapping(*, item: GroupMapping, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        provider = item.provider
        _audit(request, action="identity.mapping_delete", target=item, detail=_mapping_detail(item))
        item.delete()
        _reevaluate_provider(provider)


def _mapping_detail(item: GroupMapping) -> dict[str, Any]:
    return {"provider": item.provider.name, "group": item.group, "system_role": item.system_role,
            "workspace": item.workspace.name if item.workspace else None, "role": item.role.key if item.role else None}


def rules_of(provider: IdentityProvider) -> list[mapping.Rule]:
    return [mapping.Rule(group=m.group, system_role=m.system_role, workspace_id=m.workspace_id, role_id=m.role_id)
            for m in GroupMapping.objects.filter(provider=provider).order_by("pk")]


def role_rank() -> dict[int, int]:
    return {pk: len(grants or []) for pk, grants in Role.objects.values_list("pk", "grants")}


@dataclass
class PreviewRow:
    user_id: int
    username: str
    groups: list[str]
    system_role: str
    workspaces: list[dict[str, Any]]


def preview(*, provider: IdentityProvider, rules: list[mapping.Rule] | None = None) -> list[PreviewRow]:
    """Which of the provider's known users (with the groups they last signed in with) the
    mappings — the stored ones, or ``rules`` proposed instead — would give which roles. Writes nothing."""
    rules = rules_of(provider) if rules is None else rules
    rank = role_rank()
    names = dict(Workspace.objects.values_list("pk", "name"))
    keys = dict(Role.objects.values_list("pk", "key"))
    rows = []
    for identity in ExternalIdentity.objects.filter(provider=provider).select_related("user").order_by("username"):
        grants = mapping.evaluate(provider.kind, identity.groups, rules, rank)
        rows.append(PreviewRow(
            user_id=identity.user_id, username=identity.user.username, groups=list(identity.groups),
            system_role=grants.system_role,
            workspaces=[{"workspace": ws, "workspace_name": names.get(ws, ""), "role": keys.get(r, "")}
                        for ws, r in sorted(grants.workspaces.items())]))
    return rows


# ---------------------------------------------------------------------------- applying mappings


@dataclass
class Changes:
    system_role: tuple[str, str] | None = None  # (before, after) when it changed
    added: list[str] = field(default_factory=list)  # "workspace:role"
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.system_role or self.added or self.changed or self.removed)

    @property
    def took_away(self) -> bool:
        return bool(self.system_role or self.changed or self.removed)

    def as_detail(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.system_role:
            out["system_role"] = list(self.system_role)
        for name in ("added", "changed", "removed"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        return out


def _apply(identity: ExternalIdentity, groups: list[str], *, rules: list[mapping.Rule] | None = None) -> Changes:
    """Make the user's system role and mapped memberships match what ``groups`` grant now.
    Runs inside the caller's transaction, with the user row locked."""
    provider = identity.provider
    rank = role_rank()
    grants = mapping.evaluate(provider.kind, groups, rules_of(provider) if rules is None else rules, rank)
    user = User.objects.select_for_update().get(pk=identity.user_id)
    changes = Changes()

    others = [r for r in ExternalIdentity.objects.filter(user=user).exclude(pk=identity.pk)
              .values_list("mapped_role", flat=True) if r]
    role = mapping.system_role_after(current=user.role, mapped_before=[*others, identity.mapped_role],
                                     mapped_now=[*others, grants.system_role])
    if role != user.role:
        changes.system_role = (user.role, role)
        user.role = role
        user.save(update_fields=["role"])
    if identity.mapped_role != grants.system_role:
        identity.mapped_role = grants.system_role
        identity.save(update_fields=["mapped_role"])

    keys = dict(Role.objects.values_list("pk", "key"))
    mine = {mm.membership.workspace_id: mm for mm in
            MappedMembership.objects.filter(identity=identity).select_related("membership__workspace")}
    existing = {m.workspace_id: m for m in Membership.objects.select_for_update().filter(user=user)
                .select_related("workspace")}
    touched: set[int] = set()
    for ws_id, role_id in sorted(grants.workspaces.items()):
        membership = existing.get(ws_id)
        if membership is None:
            membership = Membership.objects.create(workspace_id=ws_id, user=user, role_id=role_id)
            MappedMembership.objects.create(identity=identity, membership=membership)
            changes.added.append(f"{membership.workspace.name}:{keys.get(role_id)}")
            touched.add(ws_id)
            continue
        mapped_elsewhere = MappedMembership.objects.filter(membership=membership).exclude(identity=identity).exists()
        if ws_id not in mine:
            if not mapped_elsewhere:
                continue  # an admin gave this membership by hand: the mapping leaves it alone
            MappedMembership.objects.create(identity=identity, membership=membership)
        # Two identities mapping one membership: the role with more grants wins.
        if membership.role_id != role_id and (not mapped_elsewhere or rank.get(role_id, 0) > rank.get(
                membership.role_id, 0)):
            changes.changed.append(f"{membership.workspace.name}:{keys.get(membership.role_id)}->{keys.get(role_id)}")
            membership.role_id = role_id
            membership.save(update_fields=["role"])
            touched.add(ws_id)
    for ws_id, mm in sorted(mine.items()):
        if ws_id in grants.workspaces:
            continue
        membership = mm.membership
        mm.delete()
        if not MappedMembership.objects.filter(membership=membership).exists():
            changes.removed.append(f"{membership.workspace.name}:{keys.get(membership.role_id)}")
            membership.delete()
            touched.add(ws_id)
    for ws_id in sorted(touched):
        publish(f"workspace.{ws_id}", "member.changed", {"workspace": ws_id})
    if changes.took_away:
        reauthorize([user.pk], reason="identity.mapping")
    return changes


def _reevaluate_provider(provider: IdentityProvider) -> None:
    rules = rules_of(provider)
    for identity in ExternalIdentity.objects.filter(provider=provider).select_related("provider").order_by("pk"):
        changes = _apply(identity, list(identity.groups), rules=rules)
        if changes.any:
            audit.record(action="identity.reevaluate", outcome=AuditOutcome.SUCCESS, target=identity.user,
                         detail={"provider": provider.name, "reason": "mapping_changed", **changes.as_detail()})


def _clean_groups(groups: Any) -> list[str]:
    if not isinstance(groups, list | tuple | set | frozenset):
        return []
    kept = {g.strip() for g in groups if isinstance(g, str) and g.strip() and len(g) <= GROUP_MAX_LENGTH}
    return sorted(kept)[:MAX_GROUPS]


def reevaluate(identity: ExternalIdentity, groups: list[str]) -> Changes:
    """Apply the groups the provider reports now (the LDAP schedule), without a sign-in."""
    groups = _clean_groups(groups)
    with transaction.atomic():
        identity = ExternalIdentity.objects.select_for_update().select_related("provider").get(pk=identity.pk)
        if identity.groups != groups:
            identity.groups = groups
            identity.save(update_fields=["groups"])
        changes = _apply(identity, groups)
        if changes.any:
            audit.record(action="identity.reevaluate", outcome=AuditOutcome.SUCCESS, target=identity.user,
                         detail={"provider": identity.provider.name, "reason": "groups_changed",
                                 **changes.as_detail()})
    return changes


def identity_gone(identity: ExternalIdentity, *, reason: str) -> None:
    """The provider no longer knows this person (deleted from the directory): what the mappings
    gave is taken away and the link removed, so the user's API tokens stop working too."""
    with transaction.atomic():
        identity = ExternalIdentity.objects.select_for_update().select_related("provider", "user").get(pk=identity.pk)
        changes = _apply(identity, [])
        audit.record(action="identity.unlinked", outcome=AuditOutcome.SUCCESS, target=identity.user,
                     detail={"provider": identity.provider.name, "reason": reason, **changes.as_detail()})
        user_id = identity.user_id
        identity.delete()
        reauthorize([user_id], reason="identity.unlinked")


# ---------------------------------------------------------------------------- linking (admins)


def can_sign_in(user: User) -> bool:
    """Whether the user has any way in left: an enabled provider link, or a local login with a
    usable password."""
    if not user.is_active:
        return False
    if user.local_login_enabled and user.has_usable_password():
        return True
    return ExternalIdentity.objects.filter(user_id=user.pk, provider__enabled=True).exists()


@dataclass
class LinkOutcome:
    identity: ExternalIdentity
    from_user: int
    to_user: int
    deactivated_user: int | None = None
    message: str = ""
    message_code: str = ""
    message_params: dict[str, Any] = field(default_factory=dict)


def link_identity(*, identity: ExternalIdentity, user: User, request: HttpRequest | None = None) -> LinkOutcome:
    """Move an identity to another user: the same person signing in through a second provider.

    What the identity's mappings gave its old user is taken away, the identity is attached to
    ``user`` and its provider's mappings re-applied there (with the groups it last had), so the
    next sign-in through either provider lands in one user with the union of the mapped roles.
    The old user, if it was left with no identity and cannot sign in locally (a just-in-time
    user), is deactivated. Refusals: ``already_linked``, ``account_disabled`` (the target is
    deactivated), ``provider_already_linked`` (the target has an identity at that provider)."""
    with transaction.atomic():
        identity = ExternalIdentity.objects.select_for_update().select_related("provider").get(pk=identity.pk)
        target = User.objects.select_for_update().get(pk=user.pk)
        provider = identity.provider
        if identity.user_id == target.pk:
            raise Conflict(f"This identity at {provider} is already linked to {target.username}.",
                           code="already_linked", params={"provider": provider.name, "username": target.username})
        if not target.is_active:
            raise Conflict(f"{target.username} is deactivated; activate the account before linking to it.",
                           code="account_disabled", params={"username": target.username})
        if ExternalIdentity.objects.filter(user=target, provider=provider).exists():
            raise Conflict(f"{target.username} already has an identity at {provider}; unlink it first.",
                           code="provider_already_linked",
                           params={"provider": provider.name, "username": target.username})
        old = User.objects.select_for_update().get(pk=identity.user_id)
        removed = _apply(identity, [], rules=[])  # what the mappings gave the old user through this link
        identity.user = target
        identity.save(update_fields=["user"])
        added = _apply(identity, list(identity.groups))
        outcome = LinkOutcome(identity=identity, from_user=old.pk, to_user=target.pk)
        if not old.local_login_enabled and not ExternalIdentity.objects.filter(user=old).exists():
            old.is_active = False
            old.save(update_fields=["is_active"])
            outcome.deactivated_user = old.pk
            outcome.message = (f"{old.username} had no other way to sign in and was deactivated; "
                               f"{target.username} now signs in through {provider}.")
            outcome.message_code = "link_previous_user_deactivated"
            outcome.message_params = {"username": old.username, "target": target.username,
                                      "provider": provider.name}
        _audit(request, action="identity.link", target=target,
               detail={"provider": provider.name, "subject": identity.subject[:200], "from": old.username,
                       "from_id": old.pk, "to": target.username, "to_id": target.pk,
                       "deactivated": outcome.deactivated_user is not None,
                       "removed": removed.as_detail(), "applied": added.as_detail()})
        reauthorize([old.pk, target.pk], reason="identity.link")
    return outcome


@dataclass
class UnlinkOutcome:
    user: int
    provider: str
    can_sign_in: bool
    message: str = ""
    message_code: str = ""
    message_params: dict[str, Any] = field(default_factory=dict)


def unlink_identity(*, identity: ExternalIdentity, request: HttpRequest | None = None) -> UnlinkOutcome:
    """Remove a link: what its mappings gave is taken away, the user keeps their account. The
    outcome says when the user has no way to sign in left."""
    with transaction.atomic():
        identity = ExternalIdentity.objects.select_for_update().select_related("provider").get(pk=identity.pk)
        user = User.objects.select_for_update().get(pk=identity.user_id)
        provider = identity.provider
        changes = _apply(identity, [], rules=[])
        _audit(request, action="identity.unlink", target=user,
               detail={"provider": provider.name, "subject": identity.subject[:200], "user": user.username,
                       **changes.as_detail()})
        identity.delete()
        user.refresh_from_db()
        outcome = UnlinkOutcome(user=user.pk, provider=provider.name, can_sign_in=can_sign_in(user))
        if not outcome.can_sign_in:
            outcome.message = (f"{user.username} has no way to sign in left: link another identity or allow "
                               "the local login with a password.")
            outcome.message_code = "unlink_no_sign_in_left"
            outcome.message_params = {"username": user.username}
        reauthorize([user.pk], reason="identity.unlink")
    return outcome


# ---------------------------------------------------------------------------- sign-in


def refused(*, provider: IdentityProvider | None, code: str, request: HttpRequest | None, username: str = "",
            detail: dict[str, Any] | None = None) -> None:
    """Audit a refused external sign-in (``identity.refused`` with the reason code). Never pass
    tokens, passwords or secrets in ``detail``."""
    audit.record(action="identity.refused", outcome=AuditOutcome.DENIED, request=request,
                 actor_username=username[:150], target=provider,
                 detail={"code": code, "provider": provider.name if provider else None, **(detail or {})})


def _refuse(error: Invalid | Forbidden | Conflict | NotFound, *, provider: IdentityProvider, username: str,
            request: HttpRequest | None) -> Invalid | Forbidden | Conflict | NotFound:
    refused(provider=provider, code=error.code, request=request, username=username)
    return error


def _clean_email(value: Any) -> str:
    email = value.strip() if isinstance(value, str) else ""
    if not email or len(email) > 254:
        return ""
    try:
        validate_email(email)
    except ValidationError:
        return ""
    return email


def sign_in_external(*, provider: IdentityProvider, subject: str, username: str, email: str = "",
                     display_name: str = "", groups: list[str] | None = None,
                     request: HttpRequest | None = None) -> User:
    """Sign in the person the provider vouched for (see the module docstring). With a
    ``request``, the browser session is logged in as that user and remembers the provider.

    Refusals (each audited as ``identity.refused`` with its code, nothing created):
    ``provider_disabled`` (403), ``invalid_external_identity`` (400: no subject or a username the
    portal cannot use), ``username_taken`` (409: another account, local or from another provider,
    has the name), ``account_disabled`` (403: the linked user was deactivated)."""
    username = username.strip() if isinstance(username, str) else ""
    subject = subject.strip() if isinstance(subject, str) else ""
    provider = IdentityProvider.objects.get(pk=provider.pk)
    refusal = access.sign_in_refusal(provider)
    if refusal is not None:
        raise _refuse(refusal, provider=provider, username=username, request=request)
    problem = ""
    if not subject or len(subject) > SUBJECT_MAX_LENGTH:
        problem = "The provider gave no usable subject for this person."
    elif not username or len(username) > 150:
        problem = "The provider gave no usable username for this person."
    else:
        try:
            User.username_validator(username)
        except ValidationError:
            problem = (f"The username {username!r} from the provider has characters the portal does not allow "
                       "(letters, digits and @.+-_ only).")
    if problem:
        raise _refuse(Invalid(problem, code="invalid_external_identity", params={"provider": provider.name}),
                      provider=provider, username=username, request=request)
    groups = _clean_groups(groups or [])
    email = _clean_email(email)
    display_name = (display_name or "").strip() if isinstance(display_name, str) else ""
    try:
        with transaction.atomic():
            identity, created = _link(provider=provider, subject=subject, username=username, email=email,
                                      display_name=display_name, groups=groups)
            refusal = access.sign_in_refusal(provider, identity.user)
            if refusal is not None:
                raise refusal
            changes = _apply(identity, groups)
            audit.record(action="identity.sign_in", outcome=AuditOutcome.SUCCESS, request=request,
                         actor=identity.user, target=identity.user,
                         detail={"provider": provider.name, "subject": subject[:200], "created": created,
                                 "groups": len(groups), **changes.as_detail()})
    except (Conflict, Forbidden) as exc:
        raise _refuse(exc, provider=provider, username=username, request=request) from None
    user = identity.user
    user.refresh_from_db()  # the mapping may have changed its role on another copy of the row
    if request is not None:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        request.session[SESSION_PROVIDER_KEY] = provider.name
    return user


def _existing_link(*, provider: IdentityProvider, subject: str, username: str, email: str,
                   groups: list[str]) -> ExternalIdentity | None:
    identity = (ExternalIdentity.objects.select_for_update().select_related("user", "provider")
                .filter(provider=provider, subject=subject).first())
    if identity is not None:
        identity.username, identity.email, identity.groups = username, email, groups
        identity.last_sign_in = timezone.now()
        identity.save(update_fields=["username", "email", "groups", "last_sign_in"])
    return identity


def _link(*, provider: IdentityProvider, subject: str, username: str, email: str, display_name: str,
          groups: list[str]) -> tuple[ExternalIdentity, bool]:
    identity = _existing_link(provider=provider, subject=subject, username=username, email=email, groups=groups)
    if identity is not None:
        return identity, False
    taken = Conflict(f"An account named {username} already exists; the portal does not merge accounts. Ask a "
                     "system admin to rename one or to link them.", code="username_taken", params={"username": username})
    if User.objects.filter(username__iexact=username).exists():
        raise taken
    first, _, last = display_name.partition(" ")
    try:
        with transaction.atomic():
            user = User(username=username, email=email, first_name=first[:150], last_name=last[:150],
                        role=SystemRole.USER, local_login_enabled=False)
            user.set_unusable_password()
            user.save()
            identity = ExternalIdentity.objects.create(provider=provider, subject=subject, user=user,
                                                       username=username, email=email, groups=groups,
                                                       last_sign_in=timezone.now())
    except IntegrityError as exc:
        # The insert waited for another transaction that created the same name: if that was this
        # person's first sign-in in another tab (same provider and subject), use its link.
        identity = _existing_link(provider=provider, subject=subject, username=username, email=email, groups=groups)
        if identity is None:
            raise taken from exc
        return identity, False
    return identity, True


# ---------------------------------------------------------------------------- API tokens and sessions


def account_problem(user: Any) -> str | None:
    """Why an authenticated user may no longer use the portal through a token or session, or None.

    A user who cannot sign in locally (``local_login_enabled`` False, as every user created at a
    sign-in is) depends on their providers: with no identity at an enabled provider left (the
    provider disabled or deleted, the link removed), their API tokens and sessions stop working."""
    if getattr(user, "local_login_enabled", True):
        return None
    links = ExternalIdentity.objects.filter(user_id=user.pk)
    if links.filter(provider__enabled=True).exists():
        return None
    if links.exists():
        return "This account's identity provider is switched off; ask a system admin."
    return "This account has no identity provider link left; ask a system admin."


def _audit(request: HttpRequest | None, *, action: str, target: Any, detail: dict[str, Any]) -> None:
    if request is not None:
        audit.describe(request, action=action, target=target, detail=detail)
    else:
        audit.record(action=action, outcome=AuditOutcome.SUCCESS, target=target, detail=detail)

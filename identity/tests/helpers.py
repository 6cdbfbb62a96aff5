"""Helpers the identity tests share: providers, workspaces and roles, a sign-in, and a listener
on a user's control group (the one their open sockets hear re-checks on)."""

from __future__ import annotations

import itertools
from typing import Any

from identity import actions
from identity.models import IdentityProvider
from portal.models import User
from workspaces.models import Role, Workspace

_n = itertools.count(1)


def provider(kind: str = "oidc", **kwargs: Any) -> IdentityProvider:
    name = f"idp-{next(_n)}"
    config = ({"issuer": "https://login.example.com", "client_id": "portal"} if kind == "oidc" else
              {"server_uri": "ldaps://ldap.example.com", "user_search_base": "ou=people,dc=example,dc=com"})
    return actions.create_provider(data={"name": name, "kind": kind, "config": config, **kwargs})


def workspace() -> Workspace:
    return Workspace.objects.create(name=f"ws-{next(_n)}")


def role(key: str) -> Role:
    Role.ensure_builtin()
    return Role.objects.get(key=key)


def sign_in(idp: IdentityProvider, subject: str, username: str, groups: list[str], **kwargs: Any) -> User:
    return actions.sign_in_external(provider=idp, subject=subject, username=username, email=f"{username}@example.com",
                                    display_name="Test Person", groups=groups, request=None, **kwargs)

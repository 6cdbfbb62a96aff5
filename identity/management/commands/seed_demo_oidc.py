"""Register the demo OpenID Connect provider for `make run` (scripts/run.sh starts it from
scripts/oidc-provider/server.mjs on loopback): a provider ``demo-idp`` whose login page knows alice,
bob and carol, and two mappings to show groups becoming roles (ops → operator, devs → developer of
the demo workspace when it exists). Does nothing to a provider of that name that already exists.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from identity import actions
from identity.models import IdentityProvider
from workspaces.models import Role, Workspace


class Command(BaseCommand):
    help = "Register the demo OIDC provider (scripts/oidc-provider) for make run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--issuer", required=True, help="e.g. http://127.0.0.1:9400")
        parser.add_argument("--name", default="demo-idp")
        parser.add_argument("--client-id", default="portal")
        parser.add_argument("--client-secret", default="portal-test-secret")
        parser.add_argument("--workspace", default="demo-team")

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["name"]
        if IdentityProvider.objects.filter(name=name).exists():
            self.stdout.write(f"identity provider {name} already registered")
            return
        provider = actions.create_provider(data={
            "name": name, "display_name": "Demo identity provider", "kind": "oidc",
            "config": {"issuer": options["issuer"], "client_id": options["client_id"]},
            "secret": options["client_secret"],
        })
        actions.create_mapping(data={"provider": provider, "group": "ops", "system_role": "operator"})
        workspace = Workspace.objects.filter(name=options["workspace"]).first()
        role = Role.objects.filter(key="developer").first()
        if workspace is not None and role is not None:
            actions.create_mapping(data={"provider": provider, "group": "devs", "workspace": workspace, "role": role})
        self.stdout.write(f"identity provider {name} registered ({options['issuer']})")

"""Register the built-in registry (``make run``, compose, the test fixtures): create or refresh the
``Registry(builtin=True, name="builtin")`` row from the ``PORTAL_BUILTIN_REGISTRY_*`` settings.

Idempotent: run it after every start; a changed password is stored and renews the pull secrets
made from it, a changed CA is taken. Without a configured host (production's default) it says so
and does nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from builds import registry_actions
from portal.errors import PortalError


class Command(BaseCommand):
    help = "Create or refresh the built-in registry's record from the PORTAL_BUILTIN_REGISTRY_* settings."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            registry = registry_actions.ensure_builtin()
        except PortalError as exc:
            raise CommandError(exc.message) from exc
        if registry is None:
            self.stdout.write("No built-in registry configured (PORTAL_BUILTIN_REGISTRY_HOST is empty).")
            return
        self.stdout.write(f"Built-in registry ready: {registry.host} (user {registry.username or '-'}).")

"""``manage.py import_kubeconfig FILE --name NAME``: register a cluster from a kubeconfig file,
or refresh its connection if a cluster of that name exists (idempotent).

For operators bootstrapping a portal from existing kubeconfigs, and for `make run`, which
registers the demo clusters this way. The same validation as the API applies (no exec
plugins, address policy, a first probe); credentials are encrypted and never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from clusters import actions, services
from clusters.models import DNS1123_LABEL, Cluster, Provider, Stage


class Command(BaseCommand):
    help = "Register a cluster from a kubeconfig file, or refresh the connection of an existing one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kubeconfig", type=Path)
        parser.add_argument("--name", required=True, help="Cluster name (DNS-1123 label).")
        parser.add_argument("--context", default="", help="Context to use (default: current-context).")
        parser.add_argument("--display-name", default="")
        parser.add_argument("--description", default="")
        parser.add_argument("--provider", default=Provider.OTHER, choices=[p.value for p in Provider])
        parser.add_argument("--region", default="")
        parser.add_argument("--stage", default=Stage.DEV, choices=[s.value for s in Stage])
        parser.add_argument("--label", action="append", default=[], help="key=value, repeatable.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["kubeconfig"]
        try:
            DNS1123_LABEL(options["name"])
        except ValidationError as exc:
            raise CommandError(f"--name {options['name']!r}: {exc.messages[0]}") from exc
        try:
            text = path.read_text()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        labels = {}
        for item in options["label"]:
            key, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--label {item!r} must look like key=value")
            labels[key] = value
        try:
            connection = services.validate_connection(
                {"kubeconfig": text, "context": options["context"]}, insecure_permitted=False
            )
            version = services.probe(connection)
        except services.FieldProblem as exc:
            raise CommandError(f"{path}: {exc}") from exc
        existing = Cluster.objects.filter(name=options["name"]).first()
        if existing is not None:
            actions.replace_credentials(cluster=existing, spec=connection.spec, source="kubeconfig")
            self.stdout.write(f"Refreshed the connection of cluster '{existing.name}' ({version}).")
            return
        fields = {
            "name": options["name"], "display_name": options["display_name"], "description": options["description"],
            "provider": options["provider"], "region": options["region"], "stage": options["stage"], "labels": labels,
        }
        cluster = actions.register_cluster(fields=fields, spec=connection.spec, source="kubeconfig",
                                           kubernetes_version=version)
        self.stdout.write(f"Registered cluster '{cluster.name}' ({version}).")

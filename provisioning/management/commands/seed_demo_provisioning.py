"""``manage.py seed_demo_provisioning``: in ``make run``, make the demo fleet's Cluster API cluster
(``cluster_api: true`` in scripts/demo-fleet.yaml, read from the sandbox's ``fleet.json``) a
management cluster, so a person can provision a cluster from the builtin sandbox template.
Idempotent: an existing management cluster is checked again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clusters.models import Cluster
from provisioning import management
from provisioning.actions import create_management, sync_builtin_templates
from provisioning.models import ManagementCluster


class Command(BaseCommand):
    help = "Make the demo fleet's Cluster API cluster a management cluster (make run)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fleet", type=Path, default=Path("var/sandbox/fleet.json"),
                            help="The sandbox's fleet.json (its clusters with cluster_api: true).")
        parser.add_argument("--cluster", default="", help="The registered cluster to mark (instead of fleet.json).")
        parser.add_argument("--namespace", default="portal-provisioning")

    def _from_fleet(self, path: Path) -> str:
        try:
            index = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        for entry in index.get("clusters") or []:
            if entry.get("cluster_api") and not entry.get("provisioned_by"):
                return str(entry.get("name") or "")
        return ""

    def handle(self, *args: Any, **options: Any) -> None:
        sync_builtin_templates()
        name = options["cluster"] or self._from_fleet(options["fleet"])
        if not name:
            self.stdout.write("No Cluster API cluster in the demo fleet; provisioning has no management cluster.")
            return
        cluster = Cluster.objects.filter(name=name).first()
        if cluster is None:
            raise CommandError(f"{name} is not registered in the portal; register it first (import_kubeconfig).")
        mc = ManagementCluster.objects.filter(cluster=cluster).first() or create_management(
            cluster=cluster, namespace=options["namespace"])
        status = management.check(mc.pk)
        mc.refresh_from_db()
        self.stdout.write(f"management cluster {name}: {status} ({mc.message})")

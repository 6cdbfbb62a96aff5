"""Give `make run` a workspace to look at: ``demo-team`` with quotas on the demo clusters, a
service map on each, and a developer account, so the workspace pages and a member's narrowed
view of the clusters can be tried at once.

Idempotent: what exists is left as it is. The developer's password is generated, written to
``--password-file`` (mode 0600) and never logged. Clusters that are not registered are skipped.
The service maps are created ``pending``; the worker (or the beat reconcile) applies them.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from clusters.models import Cluster
from portal.models import SystemRole, User
from workspaces import quota as q
from workspaces.models import ClusterAllocation, Membership, Role, ServiceMap, Workspace

PLAN = {
    # cluster: (allocation, service map namespace, its share)
    "pangyo-dev": ({"requests.cpu": "4", "requests.memory": "8Gi", "limits.cpu": "8", "limits.memory": "16Gi",
                    "pods": "40", "services": "10", "persistentvolumeclaims": "10", "requests.storage": "50Gi"},
                   "demo-shop-dev", {"requests.cpu": "2", "requests.memory": "4Gi", "limits.cpu": "4",
                                     "limits.memory": "8Gi", "pods": "20", "services": "5",
                                     "persistentvolumeclaims": "5", "requests.storage": "20Gi"}),
    "busan-stage": ({"requests.cpu": "2", "requests.memory": "4Gi", "pods": "20", "services": "5"},
                    "demo-shop-stage", {"requests.cpu": "1", "requests.memory": "2Gi", "pods": "10", "services": "2"}),
}


class Command(BaseCommand):
    help = "Create the demo workspace, its allocations and service maps, and a developer account."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="developer")
        parser.add_argument("--password-file", type=Path, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        from workspaces import tasks

        password_file: Path = options["password_file"]
        created: list[int] = []
        Role.ensure_builtin()
        with transaction.atomic():
            user = User.objects.filter(username=options["username"]).first()
            if user is None:
                password = secrets.token_urlsafe(12)
                user = User.objects.create_user(username=options["username"], password=password, role=SystemRole.USER,
                                                first_name="Demo", last_name="Developer")
                password_file.parent.mkdir(parents=True, exist_ok=True)
                password_file.write_text(f"{user.username}\n{password}\n")
                password_file.chmod(0o600)
            workspace, _ = Workspace.objects.get_or_create(
                name="demo-team", defaults={"display_name": "Demo team", "description": "Created by make run."})
            Membership.objects.get_or_create(workspace=workspace, user=user,
                                             defaults={"role": Role.objects.get(key="developer")})
            for cluster_name, (allocation, namespace, share) in PLAN.items():
                cluster = Cluster.objects.filter(name=cluster_name).first()
                if cluster is None:
                    continue
                ClusterAllocation.objects.get_or_create(workspace=workspace, cluster=cluster,
                                                        defaults={"quota": q.dump(q.parse(allocation))})
                if not ServiceMap.objects.filter(cluster=cluster, namespace=namespace).exists():
                    sm = ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace=namespace,
                                                   display_name=f"Demo shop ({cluster_name})",
                                                   quota=q.dump(q.parse(share)))
                    created.append(sm.pk)
        for sm_id in created:
            tasks.apply_service_map.delay(sm_id)
        self.stdout.write(f"Demo workspace ready ({len(created)} new service map(s)); "
                          f"developer login in {password_file}.")

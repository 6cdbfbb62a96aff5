"""Give `make run` something in the catalog: a shared upload source ``demo-charts`` with the
charts under ``scripts/demo-charts/`` (each a chart directory), uploaded as archives.

Idempotent: a chart version already there is left alone. Only the files of each directory are
read (no symlinks are followed), and ``Chart.yaml`` gives the name and version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandParser

from catalog import actions
from catalog.demo import DEMO_CHARTS, chart_from_directory
from catalog.models import CatalogSource, PackageVersion, SourceKind, SourceStatus


class Command(BaseCommand):
    help = "Create the shared demo chart source and upload the demo charts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--charts", type=Path, default=DEMO_CHARTS)

    def handle(self, *args: Any, **options: Any) -> None:
        source, _ = CatalogSource.objects.get_or_create(
            workspace=None, name="demo-charts",
            defaults={"kind": SourceKind.UPLOAD, "status": SourceStatus.READY,
                      "message": "Demo charts uploaded by make run."})
        added = 0
        for chart_dir in sorted(p for p in Path(options["charts"]).iterdir() if p.is_dir() and not p.is_symlink()):
            meta = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
            if PackageVersion.objects.filter(package__source=source, package__name=meta["name"],
                                             version=str(meta["version"])).exists():
                continue
            actions.upload_chart(source=source, data=chart_from_directory(chart_dir), request=None)
            added += 1
        self.stdout.write(f"Demo catalog ready ({added} chart(s) added to the shared source demo-charts).")

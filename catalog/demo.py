"""Demo charts kept as plain directories in the repository (``scripts/demo-charts/``), turned
into chart archives for `make run`'s catalog and for the benchmarks."""

from __future__ import annotations

from pathlib import Path

import yaml

from catalog import helm

DEMO_CHARTS = Path(__file__).resolve().parents[1] / "scripts" / "demo-charts"


def chart_from_directory(chart_dir: Path) -> bytes:
    """The chart in ``chart_dir`` as an archive: its regular files (symlinks are not followed),
    with name, version, appVersion and description from its ``Chart.yaml``."""
    meta = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    files = {str(p.relative_to(chart_dir)): p.read_text() for p in sorted(chart_dir.rglob("*"))
             if p.is_file() and not p.is_symlink() and p.name != "Chart.yaml"}
    return helm.build_archive(str(meta["name"]), str(meta["version"]), files,
                              app_version=str(meta.get("appVersion", "")), description=str(meta.get("description", "")))

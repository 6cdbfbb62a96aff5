"""Helpers that run the catalog's Helm engine (``helm-python-sdk`` in :mod:`catalog.helm`'s spawn
pool) on the portal's own chart: the rendered files with hooks kept (the catalog's
:func:`catalog.helm.render` drops hooks, which the chart's migration Job is) and ``helm lint``.

:func:`lint_in_pool` runs inside a render process of that pool, like
:mod:`catalog._helm_worker`: ``helm_python`` is never imported by the test process."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import yaml

from catalog import _helm_worker, helm

CHART_DIR = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "portal"


def archive(chart_dir: Path = CHART_DIR) -> bytes:
    """The chart directory as a ``.tgz`` with one top directory, as the catalog handles charts."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(p for p in chart_dir.rglob("*") if p.is_file()):
            info = tarfile.TarInfo(f"{chart_dir.name}/{path.relative_to(chart_dir).as_posix()}")
            raw = path.read_bytes()
            info.size, info.mode, info.mtime = len(raw), 0o644, 0
            tar.addfile(info, io.BytesIO(raw))
    data = buf.getvalue()
    helm.validate_archive(data)
    return data


def render_all(data: bytes, values: dict[str, Any], *, release: str, namespace: str,
               is_upgrade: bool = False, kube_version: str = "v1.29.0") -> dict[str, list[dict[str, Any]]]:
    """Template path -> the objects it renders, hooks included (NOTES.txt as ``{"text": ...}``).
    The same engine call as :func:`catalog.helm.render`, without the catalog's hook filter."""
    opts = {"name": release, "namespace": namespace, "revision": 1, "is_install": not is_upgrade,
            "is_upgrade": is_upgrade, "kube_version": kube_version}
    future = helm._get_pool().submit(_helm_worker._engine, "render", data, values, opts, helm.MAX_OUTPUT_BYTES)
    files: dict[str, str] = helm._result(future.result(timeout=30))["files"]
    out: dict[str, list[dict[str, Any]]] = {}
    for path, text in sorted(files.items()):
        if path.endswith("NOTES.txt"):
            out[path] = [{"text": text}]
            continue
        docs = [d for d in yaml.safe_load_all(text) if d]
        if docs:
            out[path] = docs
    return out


def lint_in_pool(chart_dir: str, values: dict[str, Any]) -> dict[str, Any]:
    """``helm lint --strict`` of the chart directory with ``values``; runs in a render process."""
    import helm_python  # only here, in a spawned process

    report: dict[str, Any] = helm_python.lint(chart_dir, values, strict=True, kube_version="v1.29.0")
    return report


def lint(values: dict[str, Any], chart_dir: Path = CHART_DIR) -> dict[str, Any]:
    return helm._get_pool().submit(lint_in_pool, str(chart_dir), values).result(timeout=60)

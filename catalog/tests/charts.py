"""Test charts: the ``webapp`` chart in ``data/`` as an archive, and hostile archives made by hand."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def chart_files(name: str = "webapp") -> dict[str, str]:
    root = DATA / name
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def tgz(files: dict[str, str | bytes], top: str = "webapp") -> bytes:
    """A gzip tar (the same bytes every time) of ``files`` below ``top/`` (made with tarfile, not build_archive: Chart.yaml is the file's)."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for rel, text in files.items():
            raw = text.encode() if isinstance(text, str) else text
            info = tarfile.TarInfo(f"{top}/{rel}" if top else rel)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


def webapp(version: str | None = None, **overrides: str) -> bytes:
    files: dict[str, str | bytes] = dict(chart_files())
    if version is not None:
        files["Chart.yaml"] = str(files["Chart.yaml"]).replace("version: 1.2.0", f"version: {version}")
    files.update(overrides)
    return tgz(files)


def with_member(member: tarfile.TarInfo, payload: bytes = b"", base: bytes | None = None) -> bytes:
    """The webapp chart plus one crafted member."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for rel, text in chart_files().items():
            raw = text.encode()
            info = tarfile.TarInfo(f"webapp/{rel}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
        tar.addfile(member, io.BytesIO(payload) if member.isreg() else None)
    return buf.getvalue()

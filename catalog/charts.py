"""The chart checks that both the web process and the render processes run: no Helm, no process pool.

Why a module of its own: :mod:`catalog._helm_worker` runs these checks inside the spawned render
processes (the archive checks before Helm loads a chart, :func:`read_info` for the metadata and
:func:`_objects` on what the engine rendered), and :mod:`catalog.helm` runs the cheap ones in the
caller (:func:`_precheck`, :class:`ChartError`) and submits work to those processes. Kept in
:mod:`catalog.helm`, they made the worker import the module that owns the pool that imports the
worker. Everything here is plain Python on bytes and text, with no I/O: the archive is read with
the bounded tar reader of :mod:`catalog.archive` (never :mod:`tarfile`, which reads headers of any
claimed size) and YAML with the portal's bounded loader (:mod:`portal.yamlsafe`), under the caps
below. :mod:`catalog.helm` re-exports the public names, so callers keep using ``helm.ChartError``,
``helm.validate_archive`` and the like.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

from catalog import archive
from portal import yamlsafe
from workspaces.shapes import manifest_shape_errors

MAX_ARCHIVE_BYTES = 10 * 1024 * 1024  # compressed
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
MAX_FILE_BYTES = 5 * 1024 * 1024  # Helm's own per-file limit
MAX_FILES = 5000
MAX_OUTPUT_BYTES = 5 * 1024 * 1024  # rendered text
MAX_DOCUMENTS = 1000
MAX_NODES = 200_000  # nodes of a parsed YAML tree (aliases counted each time they are used)
MAX_MESSAGE = 4000

HOOK_ANNOTATION = "helm.sh/hook"


class ChartError(Exception):
    """A chart that cannot be used or rendered.

    ``message`` is for people; ``errors`` maps fields to messages: ``{"chart": [...]}`` for the
    archive or its templates, ``{"values.image.tag": [...]}`` for values that fail the schema.
    """

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors: dict[str, list[str]] = errors if errors is not None else {"chart": [message]}


@dataclass(frozen=True)
class ChartInfo:
    name: str
    version: str
    app_version: str
    description: str
    icon: str
    keywords: list[str]
    home: str
    values_yaml: str
    values: dict[str, Any]
    schema: dict[str, Any] | None
    readme: str
    dependencies: list[dict[str, Any]] = field(default_factory=list)
    lookup_templates: list[str] = field(default_factory=list)  # see :func:`lookup_templates`


def _truncate(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------- archives


def _member_parts(name: str) -> list[str]:
    if name.startswith("/") or "\\" in name or re.match(r"^[A-Za-z]:", name):
        raise ChartError(f"The archive contains an absolute or Windows path ({name[:200]!r}); refused.")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ChartError(f"The archive contains a path that leaves the chart ({name[:200]!r}); refused.")
    return parts


def _precheck(data: bytes) -> bytes:
    """The checks that need no unpacking (type, emptiness, compressed size, gzip magic)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ChartError("The chart must be given as archive bytes.")
    data = bytes(data)
    if not data:
        raise ChartError("The chart archive is empty.")
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ChartError(f"The chart archive is {len(data)} bytes; at most {MAX_ARCHIVE_BYTES} bytes are accepted.")
    if data[:2] != b"\x1f\x8b":
        raise ChartError("The chart is not a gzip-compressed tar archive (.tgz).")
    return data


def _read_archive(data: bytes) -> tuple[str, dict[str, bytes]]:
    """Check the archive and return its top directory and its files (paths below the top).

    Read with the bounded reader of :mod:`catalog.archive` (never :mod:`tarfile`, which reads
    headers of any claimed size), so memory stays within the caps whatever the headers say."""
    data = _precheck(data)
    files: dict[str, bytes] = {}
    top: str | None = None
    try:
        for count, entry in enumerate(archive.entries(data, max_total=MAX_UNCOMPRESSED_BYTES, max_file=MAX_FILE_BYTES,
                                                      max_entries=MAX_FILES), start=1):
            if count > MAX_FILES:
                raise ChartError(f"The chart archive has more than {MAX_FILES} entries.")
            parts = _member_parts(entry.name)
            if not parts:
                continue
            if top is None:
                top = parts[0]
            elif parts[0] != top:
                raise ChartError(f"The archive has more than one top directory ({top!r} and {parts[0]!r}); "
                                 "a chart archive holds exactly one.")
            if entry.kind == archive.DIRECTORY:
                continue
            if entry.kind != archive.REGULAR:
                kind = "link" if entry.kind in (archive.SYMLINK, archive.HARDLINK) else "special file"
                raise ChartError(f"The archive contains a {kind} ({entry.name[:200]!r}); only regular files "
                                 "and directories are accepted.")
            if len(parts) < 2:
                raise ChartError(f"The archive has a file at its top ({entry.name[:200]!r}); the chart's "
                                 "files belong in one directory.")
            files["/".join(parts[1:])] = entry.data
    except archive.TooLarge as exc:
        raise ChartError(f"The chart is larger than {MAX_UNCOMPRESSED_BYTES} bytes uncompressed.") from exc
    except archive.ArchiveError as exc:
        raise ChartError(f"The chart archive cannot be read: {exc.message}") from exc
    if top is None:
        raise ChartError("The chart archive has no files.")
    if "Chart.yaml" not in files:
        raise ChartError(f"The archive has no {top}/Chart.yaml; is it a Helm chart?")
    return top, files


def validate_archive(data: bytes) -> None:
    """Refuse an archive that is too big, not one chart directory, or has links, devices,
    absolute or ``..`` paths (raises :class:`ChartError`)."""
    _read_archive(data)


def _safe_yaml(text: str, what: str) -> Any:
    """One YAML document through the portal's bounded loader (depth, aliases expanded)."""
    try:
        return yamlsafe.load(text, what=what, max_nodes=MAX_NODES)
    except yamlsafe.YamlError as exc:
        raise ChartError(_truncate(exc.message, 800)) from exc


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChartError(f"{what} is not UTF-8 text.") from exc


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def read_info(data: bytes) -> ChartInfo:
    """What :func:`catalog.helm.inspect` returns, read without Helm (runs inside the render processes)."""
    _top, files = _read_archive(data)
    meta = _safe_yaml(_text(files["Chart.yaml"], "Chart.yaml"), "Chart.yaml")
    if not isinstance(meta, dict):
        raise ChartError("Chart.yaml must be a mapping.")
    name, version = _str(meta.get("name")).strip(), _str(meta.get("version")).strip()
    if not name or not version:
        raise ChartError("Chart.yaml must give the chart's name and version.")
    values_yaml = _text(files.get("values.yaml", b""), "values.yaml")
    values = _safe_yaml(values_yaml, "values.yaml") if values_yaml.strip() else {}
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ChartError("values.yaml must be a mapping of values.")
    schema: dict[str, Any] | None = None
    if "values.schema.json" in files:
        try:
            schema = yamlsafe.load_json(files["values.schema.json"], what="values.schema.json")
        except yamlsafe.YamlError as exc:
            raise ChartError(exc.message) from exc
        if not isinstance(schema, dict):
            raise ChartError("values.schema.json must be a JSON object.")
    readme = ""
    for candidate in sorted(files, key=lambda p: (p.lower() != "readme.md", p)):
        if "/" not in candidate and candidate.lower().startswith("readme"):
            readme = files[candidate].decode("utf-8", "replace")
            break
    keywords = meta.get("keywords") or []
    dependencies = meta.get("dependencies") or []
    return ChartInfo(
        name=name, version=version, app_version=_str(meta.get("appVersion")),
        description=_str(meta.get("description")), icon=_str(meta.get("icon")),
        keywords=[str(k) for k in keywords] if isinstance(keywords, list) else [],
        home=_str(meta.get("home")), values_yaml=values_yaml, values=values, schema=schema, readme=readme,
        dependencies=[d for d in dependencies if isinstance(d, dict)] if isinstance(dependencies, list) else [],
        lookup_templates=lookup_templates(files),
    )


_LOOKUP_CALL = re.compile(r"\{\{[^}]*?\blookup\b")


def lookup_templates(files: dict[str, bytes], depth: int = 0) -> list[str]:
    """Templates of the chart (and of its bundled subcharts) that call Helm's ``lookup``, which
    finds nothing when the portal renders (no cluster is read): the plan warns about them."""
    found: list[str] = []
    for path, raw in sorted(files.items()):
        if depth < 2 and path.startswith("charts/") and path.endswith(".tgz"):
            with contextlib.suppress(ChartError):
                found += [f"{path}:{inner}" for inner in lookup_templates(_read_archive(raw)[1], depth + 1)]
        elif "templates/" in path and _LOOKUP_CALL.search(raw.decode("utf-8", "replace")):
            found.append(path)
    return found


# ---------------------------------------------------------------------------- rendered output


def _objects(files: dict[str, str]) -> list[dict[str, Any]]:
    """The Kubernetes objects in the engine's rendered files (see :func:`catalog.helm.render`); runs in
    the render processes."""
    if sum(len(t) for t in files.values()) > MAX_OUTPUT_BYTES:
        raise ChartError(f"The chart rendered more than {MAX_OUTPUT_BYTES} bytes of manifests.")
    out: list[dict[str, Any]] = []
    budget = MAX_NODES * 5
    documents = 0
    for path in sorted(files):
        if path.rsplit("/", 1)[-1] == "NOTES.txt":
            continue
        text = files[path]
        if not text.strip():
            continue
        try:
            # libyaml after a depth check of its event stream (portal.yamlsafe): a chart's output is
            # parsed at every render, and the pure-Python loader took 2.2 ms of a 3.6 ms render
            docs = yamlsafe.load_all(text, max_nodes=None, fast=True)
            for doc in docs:
                budget -= yamlsafe.count_nodes(doc, budget)
        except yamlsafe.YamlError as exc:
            raise ChartError(_truncate(f"{path} does not render to valid YAML: {exc.message}")) from exc
        for doc in docs:
            if doc is None:
                continue
            documents += 1
            if documents > MAX_DOCUMENTS:
                raise ChartError(f"The chart rendered more than {MAX_DOCUMENTS} objects.")
            if not isinstance(doc, dict):
                raise ChartError(f"{path} renders a document that is not a Kubernetes object.")
            metadata = doc.get("metadata")
            annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
            if isinstance(annotations, dict) and HOOK_ANNOTATION in annotations:
                continue
            if not doc.get("apiVersion") or not doc.get("kind") or not isinstance(metadata, dict) \
                    or not metadata.get("name"):
                raise ChartError(f"{path} renders an object without apiVersion, kind or metadata.name.")
            problems = manifest_shape_errors(doc)  # the API server would refuse it; the preflight cannot read it
            if problems:
                raise ChartError(_truncate(f"{path} renders {doc['kind']} {metadata['name']}, which the API server "
                                           f"would refuse: {problems[0]}"))
            out.append(doc)
    return out

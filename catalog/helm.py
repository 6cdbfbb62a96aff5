"""The one place that uses the Helm engine (``helm-python-sdk``, Helm's Go SDK through ctypes).

Why it looks like this (see the research notes in the issue "Catalog and deploys"):

* ``helm_python`` runs Go code when it is imported, and a process that imported it and then forks
  (Celery prefork, gunicorn ``--preload``) gets children that hang. So it is **never imported
  here**: only :mod:`catalog._helm_worker`, inside processes of a ``spawn`` pool, imports it.
* One template can exhaust memory (Go aborts the whole process; nothing can catch it) or loop
  for ever (rendering has no timeout). Renders therefore run in that persistent spawn pool
  (``RLIMIT_AS`` :data:`MEMORY_LIMIT`, recycled after :data:`TASKS_PER_CHILD` tasks); a timeout
  kills the pool's processes and the next call starts a new one; a crash or a timeout is a
  :class:`ChartError` for the caller, never a dead worker.
* Charts are only ever handled as archive bytes (Helm follows symlinks in directories). Archives
  are checked first (:func:`catalog.charts.validate_archive`): size caps, one top directory,
  regular files only, no absolute or ``..`` paths. ``Chart.yaml``, ``values.yaml``, the schema and
  the README are read with the bounded tar reader of :mod:`catalog.archive` (:mod:`tarfile` reads
  headers of any claimed size: a 200 KB archive with a 200 MB PAX header cost ~790 MB) and the
  portal's bounded YAML loader (:mod:`portal.yamlsafe`). Those checks live in :mod:`catalog.charts`
  (plain Python, no Helm, no pool; re-exported here) and all of it runs **in the render processes**
  (:mod:`catalog._helm_worker`), never in the web process: :func:`inspect` and :func:`render`
  send only the archive bytes (after cheap checks on their size and magic).
* The engine's output is a dict of template path to text (NOTES.txt, hooks and empty files
  included). :func:`render` turns it into Kubernetes objects (:func:`catalog.charts._objects`):
  documents parsed with the bounded YAML loader under caps on output size, document count and
  node count (aliases cannot blow up), ``NOTES.txt`` and empty documents dropped, and **hook
  manifests (annotation ``helm.sh/hook``, including tests) dropped**: the portal applies plain
  objects with server-side apply and has no hook lifecycle.

Repositories are not fetched here (see :mod:`catalog.sources`, with timeouts and digest checks).
"""

from __future__ import annotations

import atexit
import contextlib
import gzip
import hashlib
import io
import json
import multiprocessing
import os
import re
import tarfile
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from contextvars import ContextVar
from typing import Any

import yaml

from catalog import _helm_worker

# The checks shared with the render processes; re-exported so callers keep using ``helm.<name>``.
from catalog.charts import HOOK_ANNOTATION as HOOK_ANNOTATION
from catalog.charts import MAX_ARCHIVE_BYTES as MAX_ARCHIVE_BYTES
from catalog.charts import MAX_DOCUMENTS as MAX_DOCUMENTS
from catalog.charts import MAX_FILE_BYTES as MAX_FILE_BYTES
from catalog.charts import MAX_FILES as MAX_FILES
from catalog.charts import MAX_MESSAGE as MAX_MESSAGE
from catalog.charts import MAX_NODES as MAX_NODES
from catalog.charts import MAX_OUTPUT_BYTES as MAX_OUTPUT_BYTES
from catalog.charts import MAX_UNCOMPRESSED_BYTES as MAX_UNCOMPRESSED_BYTES
from catalog.charts import ChartError as ChartError
from catalog.charts import ChartInfo as ChartInfo
from catalog.charts import _member_parts, _precheck, _safe_yaml, _str, _truncate
from catalog.charts import _objects as _objects
from catalog.charts import _read_archive as _read_archive
from catalog.charts import lookup_templates as lookup_templates
from catalog.charts import read_info as read_info
from catalog.charts import validate_archive as validate_archive

MAX_FORM_FIELDS = 500

MEMORY_LIMIT = 2 * 1024 * 1024 * 1024  # RLIMIT_AS of a render process
TASKS_PER_CHILD = 200
POOL_WORKERS = int(os.environ.get("PORTAL_HELM_WORKERS", "2"))


def load_values(text: str) -> dict[str, Any]:
    """A values YAML text as a mapping, parsed safely (aliases cannot blow up); ChartError otherwise."""
    value = _safe_yaml(text, "The values") if text.strip() else {}
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ChartError("The values must be a mapping.", {"values": ["Give a mapping of values."]})
    return value


def inspect(data: bytes) -> ChartInfo:
    """Read a chart's metadata, default values, schema and README (and check that Helm loads it).

    The archive is unpacked and parsed in a render process (:func:`catalog.charts.read_info`
    there), never in the caller: a hostile archive costs that capped process memory, not the web
    process's."""
    info = _call("inspect", _precheck(data), {}, {}, timeout=20.0)["info"]
    return ChartInfo(**info)


_CHART_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SEMVER = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def build_archive(name: str, version: str, files: dict[str, str], *, app_version: str = "",
                  description: str = "") -> bytes:
    """A chart ``.tgz`` made in memory: ``Chart.yaml`` is generated, ``files`` are paths below the
    chart directory (``values.yaml``, ``templates/web.yaml``, ...). The bytes are deterministic
    (sorted entries, zero timestamps), so saving the same chart twice gives the same digest."""
    if not _CHART_NAME.match(name) or len(name) > 63:
        raise ChartError("A chart name is lower-case letters, digits and '-' (at most 63).",
                         {"name": ["Use lower-case letters, digits and '-' (at most 63)."]})
    if not _SEMVER.match(version):
        raise ChartError(f"{version!r} is not a SemVer version (like 1.2.3).",
                         {"version": ["Give a SemVer version, like 1.2.3."]})
    meta: dict[str, Any] = {"apiVersion": "v2", "name": name, "version": version, "type": "application"}
    if app_version:
        meta["appVersion"] = app_version
    if description:
        meta["description"] = description
    entries = {"Chart.yaml": yaml.safe_dump(meta, sort_keys=False)}
    for path, text in files.items():
        parts = _member_parts(path)
        if not parts or parts == ["Chart.yaml"]:
            raise ChartError(f"{path!r} cannot be given: Chart.yaml is generated.", {f"files.{path}": ["Not allowed."]})
        entries["/".join(parts)] = text
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(entries):
            raw = entries[rel].encode()
            info = tarfile.TarInfo(f"{name}/{rel}")
            info.size, info.mode, info.mtime = len(raw), 0o644, 0
            tar.addfile(info, io.BytesIO(raw))
    data = buf.getvalue()
    validate_archive(data)
    return data


# ---------------------------------------------------------------------------- the render pool


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()
_killed: set[int] = set()  # ids of pools this module killed (their other callers retry once)


def _new_pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=max(1, POOL_WORKERS), mp_context=multiprocessing.get_context("spawn"),
                               max_tasks_per_child=TASKS_PER_CHILD, initializer=_helm_worker.init,
                               initargs=(MEMORY_LIMIT,))


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _new_pool()
        return _pool


def _discard(pool: ProcessPoolExecutor, *, kill: bool) -> None:
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
        _killed.add(id(pool))
    if kill:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(OSError, ValueError):  # already gone
                process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def shutdown() -> None:
    """Stop the render processes (at exit; tests may call it)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        _discard(pool, kill=True)


atexit.register(shutdown)

_TOO_LONG = ("The chart's templates took too long or used too much memory to render "
             "(more than {timeout:g} s or {memory} MiB); look for loops over large ranges.")


def _too_long(timeout: float) -> ChartError:
    return ChartError(_TOO_LONG.format(timeout=timeout, memory=MEMORY_LIMIT >> 20))


def _call(op: str, data: bytes, values: dict[str, Any], opts: dict[str, Any], *, timeout: float) -> dict[str, Any]:
    for attempt in (1, 2):
        pool = _get_pool()
        try:
            future = pool.submit(_helm_worker.run, op, data, values, opts, MAX_OUTPUT_BYTES)
            result = future.result(timeout=timeout)
        except FutureTimeout:
            _discard(pool, kill=True)
            raise _too_long(timeout) from None
        except BrokenProcessPool:
            killed_by_other = id(pool) in _killed
            _discard(pool, kill=True)
            if killed_by_other and attempt == 1:
                continue  # another call's timeout took our process down; try once more
            raise _too_long(timeout) from None
        except RuntimeError as exc:  # the pool was shut down under us
            if attempt == 1:
                continue
            raise ChartError(f"The Helm engine is not available: {exc}") from exc
        return _result(result)
    raise AssertionError("unreachable")  # pragma: no cover


def _result(result: dict[str, Any]) -> dict[str, Any]:
    if result.get("ok"):
        return result
    kind, message = str(result.get("kind")), str(result.get("message", ""))
    if kind == "chart":  # a ChartError raised by the checks of catalog.charts inside the render process
        raise ChartError(message, result.get("errors") or None)
    if kind == "values":
        raise ChartError("The values do not match the chart's schema.", schema_errors(message))
    if kind == "too_big":
        raise ChartError(f"The chart rendered more than {MAX_OUTPUT_BYTES} bytes of manifests.")
    if kind == "render":
        text = _truncate(f"Template error: {message}")
        raise ChartError(text, {"chart": [text]})
    if kind == "load":
        text = _truncate(f"Helm cannot load the chart: {message}")
        raise ChartError(text, {"chart": [text]})
    text = _truncate(f"Helm refused the request: {message}")
    raise ChartError(text, {"chart": [text]})


_AT = re.compile(r"^\s*- at '(?P<ptr>[^']*)': (?P<msg>.*)$")


def schema_errors(message: str) -> dict[str, list[str]]:
    """``values.<dotted.path>`` -> messages, from Helm's "- at '/image/tag': got number" lines
    (a parent's bare "validation failed" is left out when its children say why)."""
    found: list[tuple[str, str]] = []
    for line in message.splitlines():
        match = _AT.match(line)
        if match:
            pointer = [p.replace("~1", "/").replace("~0", "~") for p in match["ptr"].split("/") if p]
            found.append((".".join(["values", *pointer]), match["msg"].strip()))
    errors: dict[str, list[str]] = {}
    for path, msg in found:
        if msg == "validation failed" and any(p.startswith(path + ".") for p, _ in found):
            continue
        errors.setdefault(path, []).append(msg)
    return errors or {"values": [_truncate(message)]}


# ---------------------------------------------------------------------------- render


def _opts(release: str, namespace: str, revision: int, is_upgrade: bool, kube_version: str | None) -> dict[str, Any]:
    opts: dict[str, Any] = {"name": release, "namespace": namespace, "revision": revision,
                            "is_install": not is_upgrade, "is_upgrade": is_upgrade}
    if kube_version:
        opts["kube_version"] = kube_version
    return opts


def _ahead_key(data: bytes, values: dict[str, Any], opts: dict[str, Any]) -> tuple[bytes, str, str]:
    return hashlib.sha256(data).digest(), json.dumps(values, sort_keys=True), json.dumps(opts, sort_keys=True)


_ahead: ContextVar[dict[tuple[bytes, str, str], list[tuple[ProcessPoolExecutor, Future[Any]]]] | None] = ContextVar(
    "catalog_helm_rendering_ahead", default=None)


@contextlib.contextmanager
def rendering_ahead(data: bytes, jobs: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> Iterator[None]:
    """Submit a render of the chart ``data`` for each job (its values, and :func:`render`'s
    ``release``, ``namespace``, ``revision``, ``is_upgrade``) to the render processes now; inside
    the block, :func:`render` with the same arguments takes that render's result. A rollout
    renders one chart for every target: the processes render them side by side while the
    request checks those already rendered, instead of the request waiting for each in turn. Each
    job is its own render, even where two are alike (the same namespace on two clusters): a
    template may draw random values, as ``helm install`` would for each. A render nothing asks
    for is cancelled at the block's end; a job that cannot be submitted is rendered by
    :func:`render` as usual (which says what is wrong with it)."""
    submitted: dict[tuple[bytes, str, str], list[tuple[ProcessPoolExecutor, Future[Any]]]] = {}
    try:
        data = _precheck(data)
        pool = _get_pool()
        for values, kwargs in jobs:
            opts = _opts(kwargs["release"], kwargs["namespace"], int(kwargs.get("revision", 1)),
                         bool(kwargs.get("is_upgrade", False)), kwargs.get("kube_version"))
            if len(json.dumps(values)) <= MAX_OUTPUT_BYTES:
                submitted.setdefault(_ahead_key(data, values, opts), []).append(
                    (pool, pool.submit(_helm_worker.run, "render", data, values, opts, MAX_OUTPUT_BYTES)))
    except (ChartError, RuntimeError, BrokenProcessPool, TypeError, ValueError, KeyError):
        pass  # the renders not submitted are done by render() itself, which reports what is wrong
    token = _ahead.set(submitted)
    try:
        yield
    finally:
        _ahead.reset(token)
        for queued in submitted.values():
            for _, future in queued:
                future.cancel()


def _rendered_ahead(data: bytes, values: dict[str, Any], opts: dict[str, Any], timeout: float) -> dict[str, Any] | None:
    """The result of the render :func:`rendering_ahead` submitted for these arguments (None: none
    was, or its pool broke: render again)."""
    ahead = _ahead.get()
    if not ahead:
        return None
    queued = ahead.get(_ahead_key(data, values, opts))
    if not queued:
        return None
    pool, future = queued.pop(0)
    try:
        result = future.result(timeout=timeout)
    except FutureTimeout:
        _discard(pool, kill=True)
        raise _too_long(timeout) from None
    except (BrokenProcessPool, CancelledError, RuntimeError):
        return None
    return _result(result)


def render(data: bytes, values: dict[str, Any], *, release: str, namespace: str, revision: int = 1,
           is_upgrade: bool = False, kube_version: str | None = None, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Render the chart with ``values`` (checked against its schema by Helm) into Kubernetes
    objects, in template-path order. NOTES.txt, empty documents and hooks are dropped. The
    archive checks, the rendering and the parsing of its output all happen in a render process."""
    data = _precheck(data)
    if not isinstance(values, dict):
        raise ChartError("Values must be a mapping.", {"values": ["Give the values as an object."]})
    try:
        if len(json.dumps(values)) > MAX_OUTPUT_BYTES:
            raise ChartError("The values are too large.", {"values": ["The values are too large."]})
    except (TypeError, ValueError) as exc:
        raise ChartError("The values must be plain JSON.", {"values": [str(exc)]}) from exc
    opts = _opts(release, namespace, revision, is_upgrade, kube_version)
    result = _rendered_ahead(data, values, opts, timeout) or _call("render", data, values, opts, timeout=timeout)
    objects: list[dict[str, Any]] = result["objects"]
    return objects


def dump_manifest(objects: list[dict[str, Any]]) -> str:
    """The objects as one multi-document YAML text (as stored in a revision)."""
    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False, allow_unicode=True) if objects else ""


# ---------------------------------------------------------------------------- values form


_TYPES = ("string", "integer", "number", "boolean", "object", "array")


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


def _lookup(values: Any, path: list[str]) -> Any:
    for key in path:
        if not isinstance(values, dict) or key not in values:
            return None
        values = values[key]
    return values


_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.\-/]+|\"[^\"]*\"|'[^']*'):(?P<rest>\s.*|)$")
_BLOCK_SCALAR = re.compile(r"^\s*[|>][0-9+-]*\s*(#.*)?$")
# A comment that is YAML commented out rather than prose: a list item (``#  - name: x``), or a key
# as values have them (``# useExistingRole: name``): lower-case first, no spaces, then ':' and a
# space or the end. Prose starts with a capital or has spaces before its first colon.
_COMMENTED_YAML = re.compile(r"^\s*(-(\s|$)|[a-z0-9_\"'][A-Za-z0-9_.\-/\"']*:(\s|$)|[{}\[\]]|---|\.\.\.$)")
_PARAM = re.compile(r"^@param\s+(?P<path>[A-Za-z0-9_.\-/\[\]]+)\s+(?P<text>.+)$")


def _comments(values_yaml: str) -> dict[str, str]:
    """Dotted path -> the description a ``values.yaml`` gives it.

    Only the comment block **directly** above a key describes it (a blank line or anything else
    in between breaks the block); commented-out YAML (``# foo: bar``, ``#  - item``) is not prose
    and ends a block, so the prose above a commented-out key stays with that key, not with the
    next real one (grafana's ``rbac.pspEnabled``). ``# -- text`` (helm-docs) and ``## @param path
    text`` (Bitnami's readme-generator) are understood; text inside block scalars is not read."""
    out: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    scalar_indent: int | None = None  # inside a block scalar (``key: |``) owned by that indentation
    for line in values_yaml.splitlines():
        stripped = line.strip()
        if scalar_indent is not None:
            if not stripped or len(line) - len(line.lstrip(" ")) > scalar_indent:
                continue
            scalar_indent = None
        if not stripped:
            pending = []
            continue
        if stripped.startswith("#"):
            text = stripped.lstrip("#")
            body = text[1:] if text.startswith(" ") else text
            if _COMMENTED_YAML.match(body) and not body.startswith("-- ") and body != "--":
                pending = []
                continue
            text = text.strip()
            text = text[2:].strip() if text.startswith("--") else text
            param = _PARAM.match(text)
            if param:
                out.setdefault(param["path"], param["text"].strip())
            elif text:
                pending.append(text)
            continue
        match = _KEY_LINE.match(line)
        if not match:
            pending = []
            continue
        indent, key = len(match["indent"]), match["key"].strip("\"'")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        if pending:
            out[".".join(k for _, k in stack)] = " ".join(pending)
        pending = []
        if _BLOCK_SCALAR.match(match["rest"]):
            scalar_indent = indent
    return out


def _resolve(schema: Any, root: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    if not isinstance(schema, dict):
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and depth < 10:
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        merged = {**_resolve(target, root, depth + 1), **{k: v for k, v in schema.items() if k != "$ref"}}
        return merged
    return schema


def _schema_type(schema: dict[str, Any], default: Any) -> str:
    raw = schema.get("type")
    if isinstance(raw, list):
        raw = next((t for t in raw if t != "null"), None)
    if raw in _TYPES:
        return str(raw)
    if "properties" in schema:
        return "object"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return _type_of(schema["enum"][0])
    return _type_of(default) if default is not None else "string"


def values_form(info: ChartInfo) -> list[dict[str, Any]]:
    """Form fields for the chart's values: from ``values.schema.json`` when the chart has one,
    else inferred from ``values.yaml`` (its comments become descriptions). Nested objects are
    flattened to dotted paths; an array is one field of type ``array``."""
    fields: list[dict[str, Any]] = []
    if info.schema:
        _schema_fields(info.schema, info.schema, [], info.values, False, fields, 0)
    else:
        _value_fields(info.values, [], _comments(info.values_yaml), fields)
    return fields[:MAX_FORM_FIELDS]


def _schema_fields(node: Any, root: dict[str, Any], path: list[str], values: dict[str, Any], required: bool,
                   out: list[dict[str, Any]], depth: int) -> None:
    schema = _resolve(node, root)
    if len(out) >= MAX_FORM_FIELDS or depth > 20:
        return
    default = schema.get("default", _lookup(values, path)) if path else None
    kind = _schema_type(schema, default)
    properties = schema.get("properties")
    if kind == "object" and isinstance(properties, dict) and properties:
        required_raw = schema.get("required")
        needed = {r for r in required_raw if isinstance(r, str)} if isinstance(required_raw, list) else set()
        # in values.yaml's order: the stored schema (jsonb) does not keep the file's key order
        here = _lookup(values, path) if path else values
        order = {str(k): i for i, k in enumerate(here)} if isinstance(here, dict) else {}
        for key in sorted(properties, key=lambda k: order.get(str(k), len(order))):
            _schema_fields(properties[key], root, [*path, str(key)], values, key in needed, out, depth + 1)
        return
    if not path:
        return
    enum = schema.get("enum")
    out.append({"path": ".".join(path), "type": kind, "default": default,
                "description": _str(schema.get("description") or schema.get("title")),
                "enum": enum if isinstance(enum, list) else None, "required": required})


def _value_fields(values: dict[str, Any], path: list[str], comments: dict[str, str],
                  out: list[dict[str, Any]]) -> None:
    for key, value in values.items():
        here = [*path, str(key)]
        if len(out) >= MAX_FORM_FIELDS:
            return
        if isinstance(value, dict) and value:
            _value_fields(value, here, comments, out)
            continue
        dotted = ".".join(here)
        out.append({"path": dotted, "type": _type_of(value), "default": value,
                    "description": comments.get(dotted, ""), "enum": None, "required": False})

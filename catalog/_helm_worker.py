"""Runs inside the spawned render processes of :mod:`catalog.helm`, and only there.

It is the only module that imports ``helm_python`` (which starts Go code when imported, so it
must never be imported by a process that forks later). Everything that unpacks or parses what a
chart holds happens here too, under this process's memory cap, with the portal's own checks of
:mod:`catalog.charts` (plain Python, no Helm; not :mod:`catalog.helm`, which owns the pool that
runs this module): the archive checks (:func:`catalog.charts.validate_archive`), the metadata read
of :func:`catalog.helm.inspect` (:func:`catalog.charts.read_info`) and the parsing of rendered
manifests (:func:`catalog.charts._objects`). Results go back as plain dicts (never exception
objects: unpickling Helm's would import ``helm_python`` in the caller, and ``ChartError.errors``
would be lost).
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import tempfile
from typing import Any

from catalog import charts


def init(memory_limit: int) -> None:
    """Per process: cap the address space and keep Helm's caches out of HOME."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    base = tempfile.mkdtemp(prefix="portal-helm-")
    for name in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "HELM_PLUGINS"):
        os.environ[name] = os.path.join(base, name.lower())


def run(op: str, data: bytes, values: dict[str, Any], opts: dict[str, Any], max_output: int) -> dict[str, Any]:
    """``inspect`` (the chart's metadata, checked by Helm too), ``load`` (Helm's checks only) or
    ``render`` (Kubernetes objects)."""
    try:
        info = charts.read_info(data) if op == "inspect" else None
        if op != "inspect":
            charts.validate_archive(data)
        result = _engine(op, data, values, opts, max_output)
        if result.get("ok") and op == "render":
            result = {"ok": True, "objects": charts._objects(result.pop("files"))}
        elif result.get("ok") and info is not None:
            result = {"ok": True, "info": dataclasses.asdict(info)}
        return result
    except charts.ChartError as exc:
        return {"ok": False, "kind": "chart", "message": exc.message, "errors": exc.errors}
    except (RecursionError, MemoryError):  # a limit the portal's own checks missed: still the chart's fault
        message = "The chart is too large or too deeply nested to be read within the render process's limits."
        return {"ok": False, "kind": "chart", "message": message, "errors": {"chart": [message]}}


def _engine(op: str, data: bytes, values: dict[str, Any], opts: dict[str, Any], max_output: int) -> dict[str, Any]:
    import helm_python as helm  # only here, in a spawned process
    from helm_python import _native

    try:
        with helm.Chart.load_archive(data) as chart:
            if op in ("load", "inspect"):
                return {"ok": True, "files": {}}
            raw = _native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(opts))
    except helm.HelmValuesError as exc:
        return {"ok": False, "kind": "values", "message": str(exc)}
    except helm.HelmRenderError as exc:
        return {"ok": False, "kind": "render", "message": str(exc)}
    except (helm.HelmChartLoadError, helm.HelmChartInvalidError) as exc:
        return {"ok": False, "kind": "load", "message": str(exc)}
    except helm.HelmError as exc:
        return {"ok": False, "kind": "other", "message": f"{type(exc).__name__}: {exc}"}
    if raw is None or len(raw) > max_output * 2:
        return {"ok": False, "kind": "too_big", "message": ""}
    files = json.loads(raw)
    if sum(len(text) for text in files.values()) > max_output:
        return {"ok": False, "kind": "too_big", "message": ""}
    return {"ok": True, "files": files}

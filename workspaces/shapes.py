"""The types Kubernetes requires of the manifest fields the quota preflight reads.

Why: the preflight endpoint takes manifests from users (JSON or YAML), and the quota code
(:mod:`workspaces.quota`) reads ``metadata``, ``spec``, pod templates, containers and their
``resources`` assuming the API server's types; a manifest with ``spec: "x"`` or ``containers: 3``
was a 500 (found by the parser fuzzing suite, ``tests/test_parser_fuzzing.py``). The API server
refuses such objects, so the portal refuses them first, with the path of the wrong field. Pure
functions, no I/O; callers turn the messages into their own 4xx errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

POD_TEMPLATE_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController")


def _kind_of(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else "null"


class _Check:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def mapping(self, parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        value = parent.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.errors.append(f"{path} must be an object, not {_kind_of(value)}.")
            return {}
        return value

    def mappings(self, parent: Mapping[str, Any], key: str, path: str) -> list[Mapping[str, Any]]:
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            self.errors.append(f"{path} must be a list of objects.")
            return []
        return value

    def scalar(self, parent: Mapping[str, Any], key: str, path: str, types: tuple[type, ...], what: str) -> None:
        value = parent.get(key)
        if value is not None and (not isinstance(value, types) or (isinstance(value, bool) and bool not in types)):
            self.errors.append(f"{path} must be {what}, not {_kind_of(value)}.")

    def quantities(self, parent: Mapping[str, Any], key: str, path: str) -> None:
        for name, value in self.mapping(parent, key, path).items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float)):
                self.errors.append(f"{path}.{name} must be a quantity (like 500m or 1Gi), not {_kind_of(value)}.")

    def pod_spec(self, spec: Mapping[str, Any], path: str) -> None:
        for field in ("containers", "initContainers"):
            for index, container in enumerate(self.mappings(spec, field, f"{path}.{field}")):
                where = f"{path}.{field}[{index}].resources"
                resources = self.mapping(container, "resources", where)
                self.quantities(resources, "requests", f"{where}.requests")
                self.quantities(resources, "limits", f"{where}.limits")

    def workload(self, spec: Mapping[str, Any], path: str) -> None:
        self.scalar(spec, "replicas", f"{path}.replicas", (int,), "an integer")
        self.scalar(spec, "parallelism", f"{path}.parallelism", (int,), "an integer")
        template = self.mapping(spec, "template", f"{path}.template")
        self.pod_spec(self.mapping(template, "spec", f"{path}.template.spec"), f"{path}.template.spec")


def manifest_shape_errors(obj: Any) -> list[str]:
    """What is wrongly typed in ``obj`` among the fields the preflight reads (empty when fine)."""
    check = _Check()
    if not isinstance(obj, Mapping):
        return [f"A manifest must be an object, not {_kind_of(obj)}."]
    check.scalar(obj, "kind", "kind", (str,), "a string")
    check.scalar(obj, "apiVersion", "apiVersion", (str,), "a string")
    metadata = check.mapping(obj, "metadata", "metadata")
    for key in ("name", "namespace"):
        check.scalar(metadata, key, f"metadata.{key}", (str,), "a string")
    for key in ("labels", "annotations"):
        check.mapping(metadata, key, f"metadata.{key}")
    spec = check.mapping(obj, "spec", "spec")
    kind = obj.get("kind")
    if kind == "Pod":
        check.pod_spec(spec, "spec")
    elif kind in POD_TEMPLATE_KINDS:
        check.workload(spec, "spec")
    elif kind == "CronJob":
        job = check.mapping(check.mapping(spec, "jobTemplate", "spec.jobTemplate"), "spec", "spec.jobTemplate.spec")
        check.workload(job, "spec.jobTemplate.spec")
    elif kind == "Service":
        check.scalar(spec, "type", "spec.type", (str,), "a string")
    elif kind == "PersistentVolumeClaim":
        check.scalar(spec, "storageClassName", "spec.storageClassName", (str,), "a string")
        check.quantities(check.mapping(spec, "resources", "spec.resources"), "requests", "spec.resources.requests")
    return check.errors

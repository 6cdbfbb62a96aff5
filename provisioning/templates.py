"""Cluster templates: small Helm charts rendered by the catalog's Helm engine into Cluster API
objects (docs/provisioning.md).

A template's ``files`` are a chart's files (``values.yaml``, ``values.schema.json``,
``templates/*.yaml``; a ``Chart.yaml`` given is ignored: the engine generates one). The schema
validates the parameters (Helm checks them against it while rendering, after merging them over
``values.yaml``), the chart renders with the release name = the new cluster's name and the
namespace = the management cluster's namespace, and every object gets the labels
``cluster.x-k8s.io/cluster-name`` and :data:`provisioning.capi.MANAGED_BY_LABEL`.

:func:`check_objects` is what "renders valid Cluster API objects" means here: exactly one
``Cluster`` named as the cluster, its ``controlPlaneRef`` and ``infrastructureRef`` among the
rendered objects, every ``MachineDeployment`` of that cluster with its bootstrap and
infrastructure templates rendered too, names that are DNS subdomains, all in the namespace.

The builtin templates live in ``provisioning/builtin/<name>/`` (``template.yaml`` says the
provider, display name and description; the rest is the chart) and are stored in the database by
:func:`provisioning.actions.sync_builtin_templates`. Pure apart from the render process: no
database, no cluster.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from catalog import helm
from provisioning import capi
from provisioning.models import ClusterTemplate

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
META_FILE = "template.yaml"
VALUES_FILE = "values.yaml"
SCHEMA_FILE = "values.schema.json"
MAX_FILES = 50
MAX_FILE_CHARS = 200_000
_PATH = re.compile(r"^(values\.yaml|values\.schema\.json|README\.md|Chart\.yaml|templates/[A-Za-z0-9_.-]+\.(yaml|yml|tpl))$")
_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
# A sample name for renders that only check a template (creating one, a new version).
SAMPLE_NAME = "sample"
SAMPLE_NAMESPACE = "portal-provisioning"


class TemplateError(Exception):
    """A template or its parameters that cannot be used: ``code`` is the API's stable code
    (``template_invalid``, ``template_render_failed``, ``template_parameters_invalid``),
    ``errors`` maps fields to messages."""

    def __init__(self, message: str, *, code: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.errors = errors or {}


@dataclass(frozen=True)
class Builtin:
    name: str
    provider: str
    display_name: str
    description: str
    files: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------- files


def check_files(files: Any) -> dict[str, str]:
    """The files of a template as given by an admin: path -> text, with ``values.yaml``,
    ``values.schema.json`` (a JSON object) and at least one ``templates/*.yaml``."""
    if not isinstance(files, dict) or not files:
        raise TemplateError("Give the template's files: values.yaml, values.schema.json and templates/*.yaml.",
                            code="template_invalid", errors={"files": ["Give the chart's files as path → text."]})
    if len(files) > MAX_FILES:
        raise TemplateError(f"A template has at most {MAX_FILES} files.", code="template_invalid",
                            errors={"files": [f"At most {MAX_FILES} files."]})
    out: dict[str, str] = {}
    problems: dict[str, list[str]] = {}
    for path, text in files.items():
        key = f"files.{path}"
        if not isinstance(path, str) or not _PATH.match(path):
            problems[key] = ["Allowed: values.yaml, values.schema.json, README.md and templates/<name>.yaml."]
        elif not isinstance(text, str):
            problems[key] = ["Give the file's text."]
        elif len(text) > MAX_FILE_CHARS:
            problems[key] = [f"At most {MAX_FILE_CHARS} characters."]
        elif path != "Chart.yaml":
            out[path] = text
    for required in (VALUES_FILE, SCHEMA_FILE):
        if required not in out:
            problems.setdefault(f"files.{required}", []).append(f"{required} is required.")
    if not any(p.startswith("templates/") and not p.endswith(".tpl") for p in out):
        problems.setdefault("files", []).append("At least one templates/*.yaml is required.")
    if not problems:
        try:
            schema_of(out)
            defaults_of(out)
        except TemplateError as exc:
            problems.update(exc.errors)
    if problems:
        raise TemplateError("The template's files are not valid: " + "; ".join(
            f"{k}: {' '.join(v)}" for k, v in sorted(problems.items())), code="template_invalid", errors=problems)
    return out


def schema_of(files: dict[str, str]) -> dict[str, Any]:
    text = files.get(SCHEMA_FILE, "")
    try:
        schema = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise TemplateError(f"values.schema.json is not JSON: {exc}", code="template_invalid",
                            errors={f"files.{SCHEMA_FILE}": [f"Not JSON: {exc}"]}) from exc
    if not isinstance(schema, dict):
        raise TemplateError("values.schema.json must be a JSON object.", code="template_invalid",
                            errors={f"files.{SCHEMA_FILE}": ["Give a JSON Schema object."]})
    return schema


def defaults_of(files: dict[str, str]) -> dict[str, Any]:
    try:
        return helm.load_values(files.get(VALUES_FILE, ""))
    except helm.ChartError as exc:
        raise TemplateError(f"values.yaml: {exc.message}", code="template_invalid",
                            errors={f"files.{VALUES_FILE}": [exc.message]}) from exc


def form_of(files: dict[str, str]) -> list[dict[str, Any]]:
    """Form fields for the wizard, as the catalog's values form makes them."""
    info = helm.ChartInfo(name="template", version="1.0.0", app_version="", description="", icon="", keywords=[],
                          home="", values_yaml=files.get(VALUES_FILE, ""), values=defaults_of(files),
                          schema=schema_of(files) or None, readme="")
    return helm.values_form(info)


Files = dict[str, str] | ClusterTemplate


def _files(source: Files) -> dict[str, str]:
    return dict(source.files) if isinstance(source, ClusterTemplate) else source


def _property(schema: dict[str, Any], *path: str) -> dict[str, Any]:
    node: Any = schema
    for part in path:
        if not isinstance(node, dict):
            return {}
        node = node.get("items") if part == "[]" else (node.get("properties") or {}).get(part)
    return node if isinstance(node, dict) else {}


def kubernetes_versions(files: Files) -> list[str]:
    """The versions the template's schema offers (``kubernetesVersion``'s enum), oldest first."""
    enum = _property(schema_of(_files(files)), "kubernetesVersion").get("enum") or []
    return sorted((v for v in enum if isinstance(v, str) and _VERSION.match(v)), key=version_key)


def machine_sizes(files: Files) -> list[str]:
    """The machine sizes a node pool may have (``nodePools[].machineSize``'s enum)."""
    enum = _property(schema_of(_files(files)), "nodePools", "[]", "machineSize").get("enum") or []
    return [v for v in enum if isinstance(v, str) and v]


def version_key(version: str) -> tuple[int, int, int]:
    match = _VERSION.match(version)
    return (int(match[1]), int(match[2]), int(match[3])) if match else (0, 0, 0)


def upgrade_versions(files: Files, current: str) -> list[str]:
    """The versions a cluster at ``current`` may upgrade to: newer ones of the template's schema,
    at most one minor version up (Kubernetes refuses skipping a minor version)."""
    now = version_key(current)
    return [v for v in kubernetes_versions(files)
            if version_key(v) > now and (version_key(v)[0], version_key(v)[1]) <= (now[0], now[1] + 1)]


# ---------------------------------------------------------------------------- rendering


def archive(name: str, version: int, files: dict[str, str], *, description: str = "") -> bytes:
    chart_files = {p: t for p, t in files.items() if p != "Chart.yaml"}
    try:
        return helm.build_archive(name, f"{version}.0.0", chart_files, description=description[:200])
    except helm.ChartError as exc:
        raise TemplateError(exc.message, code="template_invalid", errors=exc.errors) from exc


def render(files: dict[str, str], *, template_name: str, template_version: int, name: str, namespace: str,
           parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """The Cluster API objects of a new cluster ``name`` (checked by :func:`check_objects`), in
    ``namespace``, labelled for the portal. :class:`TemplateError` ``template_parameters_invalid``
    when the parameters fail the schema, ``template_render_failed`` when the chart does not render
    valid objects."""
    if not isinstance(parameters, dict):
        raise TemplateError("The parameters must be an object.", code="template_parameters_invalid",
                            errors={"parameters": ["Give the parameters as an object."]})
    data = archive(template_name, template_version, files)
    try:
        objects = helm.render(data, parameters, release=name, namespace=namespace)
    except helm.ChartError as exc:
        fields = {k.replace("values", "parameters", 1): v for k, v in exc.errors.items() if k.startswith("values")}
        if fields:
            raise TemplateError("The parameters do not match the template's schema: " + "; ".join(
                f"{k}: {' '.join(v)}" for k, v in sorted(fields.items())),
                code="template_parameters_invalid", errors=fields) from exc
        raise TemplateError(f"The template does not render: {exc.message}", code="template_render_failed",
                            errors={"template": [exc.message]}) from exc
    objects = [label(obj, name=name, namespace=namespace) for obj in objects]
    check_objects(objects, name=name, namespace=namespace)
    return objects


def label(obj: dict[str, Any], *, name: str, namespace: str) -> dict[str, Any]:
    """``obj`` in ``namespace`` with the cluster-name and managed-by labels."""
    meta = dict(obj.get("metadata") or {})
    meta["namespace"] = namespace
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    labels[capi.CLUSTER_NAME_LABEL] = name
    labels[capi.MANAGED_BY_LABEL] = name
    meta["labels"] = labels
    return {**obj, "metadata": meta}


def _ref_key(ref: Any) -> tuple[str, str, str] | None:
    if not isinstance(ref, dict):
        return None
    return str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""), str(ref.get("name") or "")


def _failed(problems: list[str]) -> TemplateError:
    return TemplateError("The template does not render valid Cluster API objects: " + " ".join(problems),
                         code="template_render_failed", errors={"template": problems})


def check_objects(objects: list[dict[str, Any]], *, name: str, namespace: str) -> None:
    problems: list[str] = []
    keys: set[tuple[str, str, str]] = set()
    for i, obj in enumerate(objects):
        if not isinstance(obj, dict):
            problems.append(f"Document {i + 1} is not an object.")
            continue
        api_version, kind = str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")
        obj_name = str((obj.get("metadata") or {}).get("name") or "")
        if not api_version or not kind:
            problems.append(f"Document {i + 1} has no apiVersion or kind.")
            continue
        if not _SUBDOMAIN.match(obj_name):
            problems.append(f"{kind} {obj_name!r} has no valid name (lower-case letters, digits, '-' and '.').")
        if (obj.get("metadata") or {}).get("namespace") != namespace:
            problems.append(f"{kind}/{obj_name} is not in the namespace {namespace}.")
        key = (api_version, kind, obj_name)
        if key in keys:
            problems.append(f"{kind}/{obj_name} is rendered twice.")
        keys.add(key)
    if problems:
        raise _failed(problems)
    clusters = [o for o in objects if o.get("apiVersion") == capi.CLUSTER_API and o.get("kind") == "Cluster"]
    if len(clusters) != 1 or clusters[0]["metadata"]["name"] != name:
        raise _failed([f"The template must render exactly one {capi.CLUSTER_API} Cluster named as the cluster ({name})."])
    spec = clusters[0].get("spec") or {}

    def need(ref: Any, what: str) -> None:
        key = _ref_key(ref)
        if key is None or not all(key):
            problems.append(f"{what} is missing.")
        elif key not in keys:
            problems.append(f"{what} ({key[1]}/{key[2]}) is not among the rendered objects.")

    need(spec.get("controlPlaneRef"), "The Cluster's controlPlaneRef")
    need(spec.get("infrastructureRef"), "The Cluster's infrastructureRef")
    for obj in objects:
        kind, obj_name = obj["kind"], obj["metadata"]["name"]
        ospec = obj.get("spec") or {}
        if obj["apiVersion"] == capi.CONTROL_PLANE_API and kind == "KubeadmControlPlane":
            need((ospec.get("machineTemplate") or {}).get("infrastructureRef"),
                 f"KubeadmControlPlane/{obj_name}'s machineTemplate.infrastructureRef")
            if ospec.get("replicas") not in (1, 3, 5):
                problems.append(f"KubeadmControlPlane/{obj_name} must have 1, 3 or 5 replicas.")
        if obj["apiVersion"] == capi.CLUSTER_API and kind == "MachineDeployment":
            tspec = (ospec.get("template") or {}).get("spec") or {}
            if ospec.get("clusterName") != name or tspec.get("clusterName") != name:
                problems.append(f"MachineDeployment/{obj_name} must name the cluster {name} (spec.clusterName).")
            need((tspec.get("bootstrap") or {}).get("configRef"), f"MachineDeployment/{obj_name}'s bootstrap.configRef")
            need(tspec.get("infrastructureRef"), f"MachineDeployment/{obj_name}'s infrastructureRef")
    if problems:
        raise _failed(problems)


def render_pool(template: ClusterTemplate, parameters: dict[str, Any], *, cluster_name: str, namespace: str,
                pool: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects the template renders for ONE node pool (``pool``: ``name``, ``replicas``,
    ``machine_size``): its MachineDeployment and the bootstrap and infrastructure templates it
    refers to, labelled as at create. ``parameters`` are the cluster's (its version, ...)."""
    entry = {"name": pool["name"], "replicas": pool["replicas"], "machineSize": pool["machine_size"]}
    objects = render(template.files, template_name=template.name, template_version=template.version,
                     name=cluster_name, namespace=namespace, parameters={**parameters, "nodePools": [entry]})
    mds = [o for o in objects if o.get("apiVersion") == capi.CLUSTER_API and o.get("kind") == "MachineDeployment"]
    wanted = {(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in mds}
    for md in mds:
        spec = ((md.get("spec") or {}).get("template") or {}).get("spec") or {}
        for ref in ((spec.get("bootstrap") or {}).get("configRef"), spec.get("infrastructureRef")):
            key = _ref_key(ref)
            if key:
                wanted.add(key)
    return [o for o in objects if (o["apiVersion"], o["kind"], o["metadata"]["name"]) in wanted]


def summary(objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    """``[{apiVersion, kind, name, namespace}]`` of the rendered objects (what the API shows)."""
    return [{"apiVersion": str(o.get("apiVersion")), "kind": str(o.get("kind")),
             "name": str((o.get("metadata") or {}).get("name")),
             "namespace": str((o.get("metadata") or {}).get("namespace") or "")} for o in objects]


def manifest(objects: list[dict[str, Any]]) -> str:
    return helm.dump_manifest(objects)


def infrastructure_kind(objects: list[dict[str, Any]]) -> str:
    for obj in objects:
        if obj.get("kind") == "Cluster" and obj.get("apiVersion") == capi.CLUSTER_API:
            return str(((obj.get("spec") or {}).get("infrastructureRef") or {}).get("kind") or "")
    return ""


# ---------------------------------------------------------------------------- builtin templates


def builtin_templates() -> list[Builtin]:
    """The templates shipped in ``provisioning/builtin/`` (by name)."""
    out = []
    for folder in sorted(p for p in BUILTIN_DIR.iterdir() if p.is_dir() and (p / META_FILE).is_file()):
        meta = yaml.safe_load((folder / META_FILE).read_text()) or {}
        files = {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*"))
                 if p.is_file() and p.name != META_FILE}
        out.append(Builtin(name=folder.name, provider=str(meta["provider"]),
                           display_name=str(meta.get("display_name") or folder.name),
                           description=" ".join(str(meta.get("description") or "").split()), files=files))
    return out

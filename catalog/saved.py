"""Save a running service map as a package (the Cocktail "package"): its workloads, services and
config maps, and references to its secrets, captured from the cluster as a versioned Helm chart
with parameters, in the workspace's "Saved from service maps" source.

Parameters: each container's image (``images.<workload>.<container>``) and each workload's
replicas (``replicas.<workload>``). Secrets are not copied: workloads keep referring to them by
name, so the target service map must have them (the chart's README lists them). What only makes
sense in the original cluster is dropped: status, uids, resource versions, managed fields,
cluster IPs and node ports, pod-template hashes and the release labels of the portal.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from catalog import helm
from catalog.errors import invalid
from catalog.models import CatalogSource, Package, PackageVersion, SourceKind, SourceStatus
from clusters.kube.client import KubeClient
from portal import audit
from portal.errors import Conflict
from workspaces import access as ws_access
from workspaces.models import Grant, ServiceMap

CAPTURED = ("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Service", "ConfigMap")
SKIPPED_CONFIG_MAPS = ("kube-root-ca.crt",)
DROPPED_META = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink",
                "ownerReferences", "namespace")
DROPPED_LABEL_PREFIXES = ("portal.cluster-portal.io/", "pod-template-hash", "controller-revision-hash")
CALL_TIMEOUT = 10.0
_PLACEHOLDER = "@@param:{}@@"
_PARAM = re.compile(r"""['"]?@@param:([^@]+)@@['"]?""")


def _key(text: str) -> str:
    """A values key from an object or container name (Helm paths cannot hold '-')."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", text)


def _clean_meta(meta: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in meta.items() if k not in DROPPED_META}
    labels = {k: v for k, v in (out.get("labels") or {}).items() if not k.startswith(DROPPED_LABEL_PREFIXES)}
    annotations = {k: v for k, v in (out.get("annotations") or {}).items()
                   if not k.startswith(("portal.cluster-portal.io/", "deployment.kubernetes.io/",
                                        "kubectl.kubernetes.io/last-applied"))}
    out["labels"], out["annotations"] = labels, annotations
    for key in ("labels", "annotations"):
        if not out[key]:
            out.pop(key)
    return out


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in (pod.get("containers") or []) + (pod.get("initContainers") or []) if isinstance(c, dict)]


def _secrets_used(pod: dict[str, Any]) -> set[str]:
    names = {str((v.get("secret") or {}).get("secretName")) for v in pod.get("volumes") or [] if v.get("secret")}
    for container in _containers(pod):
        names |= {str((e.get("secretRef") or {}).get("name")) for e in container.get("envFrom") or []
                  if e.get("secretRef")}
        names |= {str(((e.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name"))
                  for e in container.get("env") or [] if (e.get("valueFrom") or {}).get("secretKeyRef")}
    names |= {str(s.get("name")) for s in pod.get("imagePullSecrets") or []}
    return {n for n in names if n and n != "None"}


def capture(client: KubeClient, sm: ServiceMap) -> tuple[dict[str, str], dict[str, Any], list[str]]:
    """(templates by file name, default values, secrets referenced) of the service map's objects."""
    templates: dict[str, str] = {}
    values: dict[str, Any] = {"images": {}, "replicas": {}}
    secrets: set[str] = set()
    for kind in CAPTURED:
        for obj in client.list_objects(kind, sm.namespace, timeout=CALL_TIMEOUT):
            meta = obj.get("metadata") or {}
            name = str(meta.get("name"))
            if kind == "ConfigMap" and name in SKIPPED_CONFIG_MAPS:
                continue
            if meta.get("ownerReferences"):
                continue  # made by something else here (a Job of a CronJob, ...)
            out: dict[str, Any] = {"apiVersion": obj.get("apiVersion"), "kind": kind, "metadata": _clean_meta(meta)}
            for field in ("spec", "data", "binaryData"):
                if field in obj:
                    out[field] = yaml.safe_load(yaml.safe_dump(obj[field]))
            spec = out.get("spec") or {}
            if kind == "Service":
                for field in ("clusterIP", "clusterIPs", "healthCheckNodePort"):
                    spec.pop(field, None)
                for port in spec.get("ports") or []:
                    port.pop("nodePort", None)
            pod = None
            if kind in ("Deployment", "StatefulSet", "DaemonSet"):
                pod = (spec.get("template") or {}).get("spec")
                (spec.get("template") or {}).get("metadata", {}).pop("creationTimestamp", None)
                if kind != "DaemonSet":
                    values["replicas"][_key(name)] = spec.get("replicas", 1)
                    spec["replicas"] = _PLACEHOLDER.format(f"replicas.{_key(name)}")
            elif kind == "CronJob":
                pod = (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
            if isinstance(pod, dict):
                secrets |= _secrets_used(pod)
                for container in _containers(pod):
                    cname = _key(str(container.get("name")))
                    values["images"].setdefault(_key(name), {})[cname] = container.get("image", "")
                    container["image"] = _PLACEHOLDER.format(f"images.{_key(name)}.{cname}")
            text = yaml.safe_dump(out, sort_keys=True, allow_unicode=True)
            text = _PARAM.sub(lambda m: "{{ .Values." + m[1] + (" | quote }}" if m[1].startswith("images.")
                                                                 else " }}"), text)
            templates[f"templates/{kind.lower()}-{name}.yaml"] = text
    return templates, values, sorted(secrets)


def saved_source(sm: ServiceMap) -> CatalogSource:
    source, _ = CatalogSource.objects.get_or_create(
        workspace=sm.workspace, name="saved", defaults={"kind": SourceKind.SERVICEMAP, "status": SourceStatus.READY,
                                                        "message": "Packages saved from service maps."})
    return source


def save_service_map(*, sm: ServiceMap, client: KubeClient, name: str, version: str, description: str, user: Any,
                     request: HttpRequest | None) -> PackageVersion:
    """``client``: the view's live client (:func:`clusters.gateway.live_read`), used only to read."""
    ws_access.require_grant(user, sm.workspace, Grant.WORKLOADS_DEPLOY)
    templates, values, secrets = capture(client, sm)
    if not templates:
        raise invalid({"service_map": [f"{sm.namespace} has no workloads, services or config maps to save."]})
    readme = (f"# {name}\n\nSaved from service map {sm.display_name or sm.namespace} ({sm.namespace}) on cluster "
              f"{sm.cluster.name}.\n\nParameters: `images.<workload>.<container>` and `replicas.<workload>`.\n")
    if secrets:
        readme += "\nSecrets it refers to (create them in the target service map first): " + ", ".join(secrets) + "\n"
    files = {**templates, "values.yaml": yaml.safe_dump(values, sort_keys=True, allow_unicode=True), "README.md": readme}
    try:
        archive = helm.build_archive(name, version, files, description=description or f"Saved from {sm.namespace}")
        info = helm.inspect(archive)
        helm.render(archive, {}, release=name, namespace=sm.namespace)  # the saved chart renders as it is
    except helm.ChartError as exc:
        raise invalid(exc.errors or {"chart": [exc.message]}) from exc
    import hashlib

    with transaction.atomic():
        source = saved_source(sm)
        package, _ = Package.objects.get_or_create(source=source, name=name, defaults={"description": info.description})
        if PackageVersion.objects.filter(package=package, version=version).exists():
            raise Conflict(f"{name} {version} exists already; save it as a new version.")
        try:
            with transaction.atomic():
                saved = PackageVersion.objects.create(
                    package=package, version=version, description=info.description, archive=archive,
                    digest="sha256:" + hashlib.sha256(archive).hexdigest(), values_yaml=info.values_yaml,
                    values_schema=info.schema, readme=info.readme, lookup_templates=info.lookup_templates)
        except IntegrityError as exc:
            raise Conflict(f"{name} {version} was just saved.") from exc
        Package.objects.filter(pk=package.pk).update(latest_version=version, description=info.description)
    if request is not None:
        audit.describe(request, action="catalog.save_service_map", target=saved,
                       detail={"service_map": sm.pk, "package": name, "version": version, "secrets": secrets})
    return saved

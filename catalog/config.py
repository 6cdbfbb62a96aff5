"""ConfigMaps, Secrets and horizontal pod autoscalers of a service map, edited from the console.

* Every change of a ConfigMap or Secret is applied with server-side apply (field manager
  ``cluster-portal``) and saved as a :class:`ConfigVersion`, so any version can be restored.
  Secret values are encrypted at rest, never returned unless the caller holds
  ``secrets.reveal``, and may be left out of an update (``null`` keeps the current value), so a
  developer can change one key without seeing the others.
* A change may restart the workloads that use the object (volumes, ``envFrom``, ``env``
  references): their pod template gets a ``kubectl.kubernetes.io/restartedAt`` annotation, as
  ``kubectl rollout restart`` does.
* HPA settings (min, max, target CPU / memory utilisation) per workload, as an
  ``autoscaling/v2`` HorizontalPodAutoscaler named after the workload.

Reads of ConfigMaps and Secrets go to the cluster (the read model does not keep them).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import NotFound as ApiNotFound
from rest_framework.exceptions import PermissionDenied, ValidationError

from catalog.models import ConfigKind, ConfigVersion
from clusters.kube.client import KubeClient
from clusters.kube.errors import NotFound
from portal import audit
from workspaces import access as ws_access
from workspaces.models import Grant, ServiceMap

FIELD_MANAGER = "cluster-portal"
RESTART_MANAGER = "cluster-portal-restart"
CALL_TIMEOUT = 10.0
MAX_DATA_BYTES = 1_000_000  # what the API server allows for one object
KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
RESTARTABLE = ("Deployment", "StatefulSet", "DaemonSet")
HIDDEN_SECRET_TYPES = ("kubernetes.io/service-account-token",)


def require(user: Any, sm: ServiceMap, grant: str) -> None:
    if not ws_access.allowed(user, sm.workspace, grant):
        raise PermissionDenied(f"Your role in workspace {sm.workspace.name} does not grant {grant}; ask a manager "
                               "of the workspace.")


def _client(sm: ServiceMap) -> KubeClient:
    return KubeClient(sm.cluster.connection_spec(), read_timeout=CALL_TIMEOUT, connect_timeout=3.0)


def _kind(kind: str) -> str:
    if kind not in (ConfigKind.CONFIG_MAP, ConfigKind.SECRET):
        raise ApiNotFound("Only ConfigMap and Secret objects are edited here.")
    return kind


def _decode(data: dict[str, Any] | None) -> dict[str, str]:
    out = {}
    for key, value in (data or {}).items():
        try:
            out[str(key)] = base64.b64decode(str(value)).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            out[str(key)] = ""
    return out


def _uses(pod: dict[str, Any], kind: str, name: str) -> bool:
    ref_key = "configMap" if kind == ConfigKind.CONFIG_MAP else "secret"
    name_key = "name" if kind == ConfigKind.CONFIG_MAP else "secretName"
    for volume in pod.get("volumes") or []:
        if (volume.get(ref_key) or {}).get(name_key) == name:
            return True
        for source in (volume.get("projected") or {}).get("sources") or []:
            if (source.get(ref_key) or {}).get("name") == name:
                return True
    env_ref = "configMapRef" if kind == ConfigKind.CONFIG_MAP else "secretRef"
    key_ref = "configMapKeyRef" if kind == ConfigKind.CONFIG_MAP else "secretKeyRef"
    for container in (pod.get("containers") or []) + (pod.get("initContainers") or []):
        if any((e.get(env_ref) or {}).get("name") == name for e in container.get("envFrom") or []):
            return True
        if any(((e.get("valueFrom") or {}).get(key_ref) or {}).get("name") == name for e in container.get("env") or []):
            return True
    return False


def users_of(client: KubeClient, sm: ServiceMap, kind: str, name: str) -> list[str]:
    out = []
    for workload_kind in RESTARTABLE:
        for obj in client.list_objects(workload_kind, sm.namespace, timeout=CALL_TIMEOUT):
            pod = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
            if _uses(pod, kind, name):
                out.append(f"{workload_kind}/{obj['metadata']['name']}")
    return out


def restart(client: KubeClient, sm: ServiceMap, workloads: list[str]) -> None:
    stamp = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    for ref in workloads:
        kind, name = ref.split("/", 1)
        client.apply({"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": sm.namespace},
                      "spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}},
                     field_manager=RESTART_MANAGER, timeout=CALL_TIMEOUT)


# ---------------------------------------------------------------------------- reading


def list_configs(sm: ServiceMap) -> list[dict[str, Any]]:
    versions: dict[tuple[str, str], int] = {}
    for kind, name, version in ConfigVersion.objects.filter(service_map=sm).values_list("kind", "name", "version"):
        versions[(kind, name)] = max(version, versions.get((kind, name), 0))
    out = []
    with _client(sm) as client:
        for kind in (ConfigKind.CONFIG_MAP, ConfigKind.SECRET):
            for obj in client.list_objects(kind, sm.namespace, timeout=CALL_TIMEOUT):
                if kind == ConfigKind.SECRET and obj.get("type") in HIDDEN_SECRET_TYPES:
                    continue
                meta = obj.get("metadata") or {}
                keys = sorted({*(obj.get("data") or {}), *(obj.get("binaryData") or {})})
                out.append({"kind": kind, "name": meta.get("name"), "keys": keys, "type": obj.get("type", ""),
                            "version": versions.get((kind, str(meta.get("name")))),
                            "created": meta.get("creationTimestamp"),
                            "managed_by": (meta.get("labels") or {}).get("app.kubernetes.io/managed-by", "")})
    return sorted(out, key=lambda item: (item["kind"], item["name"]))


def get_config(sm: ServiceMap, kind: str, name: str, *, user: Any, reveal: bool) -> dict[str, Any]:
    kind = _kind(kind)
    if reveal and kind == ConfigKind.SECRET:
        require(user, sm, Grant.SECRETS_REVEAL)
    with _client(sm) as client:
        try:
            obj = client.get_object(kind, name, sm.namespace, timeout=CALL_TIMEOUT)
        except NotFound as exc:
            raise ApiNotFound(f"{kind} {name} does not exist in {sm.namespace}.") from exc
        used_by = users_of(client, sm, kind, name)
    if kind == ConfigKind.CONFIG_MAP:
        data: dict[str, str | None] = dict(obj.get("data") or {})
    else:
        plain = _decode(obj.get("data"))
        data = dict(plain) if reveal else {key: None for key in plain}
    latest = ConfigVersion.objects.filter(service_map=sm, kind=kind, name=name).order_by("-version").first()
    return {"kind": kind, "name": name, "type": obj.get("type", ""), "data": data, "revealed": bool(
        reveal and kind == ConfigKind.SECRET), "version": latest.version if latest else None, "used_by": used_by}


# ---------------------------------------------------------------------------- writing


def _validate(data: Any) -> dict[str, str | None]:
    if not isinstance(data, dict) or not data:
        raise ValidationError({"data": ["Give the data as an object of keys and string values."]})
    errors = {}
    size = 0
    for key, value in data.items():
        if not isinstance(key, str) or not KEY.match(key):
            errors[f"data.{key}"] = ["Keys are letters, digits, '-', '_' and '.' (at most 253)."]
        elif value is not None and not isinstance(value, str):
            errors[f"data.{key}"] = ["Values are strings (null keeps a secret's current value)."]
        else:
            size += len(key) + len(value or "")
    if size > MAX_DATA_BYTES:
        errors["data"] = [f"At most {MAX_DATA_BYTES} bytes of data in one object."]
    if errors:
        raise ValidationError(errors)
    return data


def save_config(*, sm: ServiceMap, kind: str, name: str, data: Any, restart_workloads: bool, message: str,
                user: Any, request: HttpRequest | None, create: bool = False) -> dict[str, Any]:
    """Apply new data (``None`` values keep a Secret's current ones), save the version, and
    restart the workloads that use it if asked."""
    kind = _kind(kind)
    require(user, sm, Grant.CONFIG_EDIT)
    if create and not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", name or ""):
        raise ValidationError({"name": ["Use lower-case letters, digits, '-' and '.' (a DNS-1123 subdomain)."]})
    values = _validate(data)
    if kind == ConfigKind.CONFIG_MAP and any(v is None for v in values.values()):
        raise ValidationError({"data": ["ConfigMap values must be strings."]})
    with _client(sm) as client:
        try:
            live = client.get_object(kind, name, sm.namespace, timeout=CALL_TIMEOUT)
        except NotFound:
            live = None
        if create and live is not None:
            from portal.api.exceptions import Conflict

            raise Conflict(f"{kind} {name} exists already in {sm.namespace}; edit it instead.")
        if not create and live is None:
            raise ApiNotFound(f"{kind} {name} does not exist in {sm.namespace}.")
        current = _decode(live.get("data")) if (live and kind == ConfigKind.SECRET) else {}
        final: dict[str, str] = {}
        for key, value in values.items():
            if value is None:
                if key not in current:
                    raise ValidationError({f"data.{key}": [f"{key} has no current value to keep; give one."]})
                final[key] = current[key]
            else:
                final[key] = value
        obj: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": sm.namespace}}
        if kind == ConfigKind.CONFIG_MAP:
            obj["data"] = final
        else:
            obj["type"] = (live or {}).get("type") or "Opaque"
            obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in final.items()}
        client.apply(obj, field_manager=FIELD_MANAGER, timeout=CALL_TIMEOUT)
        restarted = users_of(client, sm, kind, name) if restart_workloads else []
        if restarted:
            restart(client, sm, restarted)
    with transaction.atomic():
        last = ConfigVersion.objects.select_for_update().filter(service_map=sm, kind=kind, name=name).order_by(
            "-version").first()
        version = ConfigVersion.objects.create(
            service_map=sm, kind=kind, name=name, version=(last.version + 1) if last else 1, keys=sorted(final),
            data=final if kind == ConfigKind.CONFIG_MAP else {}, message=message, restarted=restarted,
            created_by=user if getattr(user, "is_authenticated", False) else None)
        if kind == ConfigKind.SECRET:
            version.set_secret_data(final)
            version.save(update_fields=["data_encrypted"])
    detail = {"service_map": sm.pk, "kind": kind, "name": name, "version": version.version, "keys": sorted(final),
              "restarted": restarted}
    if request is not None:
        audit.describe(request, action="config.save", target=sm, detail=detail)
    return {"version": version.version, "restarted": restarted}


def restore_version(*, sm: ServiceMap, kind: str, name: str, number: int, restart_workloads: bool, user: Any,
                    request: HttpRequest | None) -> dict[str, Any]:
    kind = _kind(kind)
    saved = ConfigVersion.objects.filter(service_map=sm, kind=kind, name=name, version=number).first()
    if saved is None:
        raise ValidationError({"version": [f"{kind} {name} has no saved version {number}."]})
    data: dict[str, str] = saved.data if kind == ConfigKind.CONFIG_MAP else saved.get_secret_data()
    return save_config(sm=sm, kind=kind, name=name, data=data, restart_workloads=restart_workloads,
                       message=f"Restored version {number}.", user=user, request=request)


def delete_config(*, sm: ServiceMap, kind: str, name: str, user: Any, request: HttpRequest | None) -> None:
    kind = _kind(kind)
    require(user, sm, Grant.CONFIG_EDIT)
    with _client(sm) as client:
        try:
            client.delete_object(kind, name, sm.namespace, timeout=CALL_TIMEOUT)
        except NotFound as exc:
            raise ApiNotFound(f"{kind} {name} does not exist in {sm.namespace}.") from exc
    if request is not None:
        audit.describe(request, action="config.delete", target=sm, detail={"kind": kind, "name": name})


def versions(sm: ServiceMap, kind: str, name: str) -> list[dict[str, Any]]:
    kind = _kind(kind)
    return [{"version": v.version, "keys": v.keys, "message": v.message, "restarted": v.restarted,
             "created": v.created.isoformat(), "created_by": v.created_by.get_username() if v.created_by else None}
            for v in ConfigVersion.objects.filter(service_map=sm, kind=kind, name=name).select_related("created_by")
            .order_by("-version")]


# ---------------------------------------------------------------------------- autoscaling


def _percent(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
        raise ValidationError({field: ["A whole percentage between 1 and 1000."]})
    return value


def set_autoscaler(*, sm: ServiceMap, kind: str, name: str, settings: dict[str, Any], user: Any,
                   request: HttpRequest | None) -> dict[str, Any]:
    """Create or change the HPA of a workload; 400 naming the field."""
    require(user, sm, Grant.WORKLOADS_SCALE)
    if kind not in ("Deployment", "StatefulSet"):
        raise ValidationError({"kind": ["Autoscale a Deployment or a StatefulSet."]})
    minimum, maximum = settings.get("min_replicas", 1), settings.get("max_replicas")
    errors: dict[str, list[str]] = {}
    if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 1:
        errors["min_replicas"] = ["At least 1."]
    if not isinstance(maximum, int) or isinstance(maximum, bool) or maximum < 1:
        errors["max_replicas"] = ["At least 1."]
    elif isinstance(minimum, int) and maximum < minimum:
        errors["max_replicas"] = [f"Must not be below min_replicas ({minimum})."]
    if errors:
        raise ValidationError(errors)
    cpu = _percent(settings.get("cpu_percent"), "cpu_percent")
    memory = _percent(settings.get("memory_percent"), "memory_percent")
    if cpu is None and memory is None:
        raise ValidationError({"cpu_percent": ["Give a CPU or a memory target (percent of requests)."]})
    metrics = [{"type": "Resource", "resource": {"name": resource, "target": {
        "type": "Utilization", "averageUtilization": target}}}
        for resource, target in (("cpu", cpu), ("memory", memory)) if target is not None]
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": name, "namespace": sm.namespace},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name},
                    "minReplicas": minimum, "maxReplicas": maximum, "metrics": metrics}}
    with _client(sm) as client:
        try:
            client.get_object(kind, name, sm.namespace, timeout=CALL_TIMEOUT)
        except NotFound as exc:
            raise ValidationError({"name": [f"{kind} {name} does not exist in {sm.namespace}."]}) from exc
        client.apply(hpa, field_manager=FIELD_MANAGER, timeout=CALL_TIMEOUT)
    out = {"kind": kind, "name": name, "min_replicas": minimum, "max_replicas": maximum, "cpu_percent": cpu,
           "memory_percent": memory}
    if request is not None:
        audit.describe(request, action="hpa.set", target=sm, detail=out)
    return out


def delete_autoscaler(*, sm: ServiceMap, name: str, user: Any, request: HttpRequest | None) -> None:
    require(user, sm, Grant.WORKLOADS_SCALE)
    with _client(sm) as client:
        try:
            client.delete_object("HorizontalPodAutoscaler", name, sm.namespace, timeout=CALL_TIMEOUT)
        except NotFound as exc:
            raise ApiNotFound(f"No autoscaler {name} in {sm.namespace}.") from exc
    if request is not None:
        audit.describe(request, action="hpa.delete", target=sm, detail={"name": name})

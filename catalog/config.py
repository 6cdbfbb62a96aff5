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

Reads of ConfigMaps and Secrets go to the cluster (the read model does not keep them). Changes
never do in the request: the view checks the grant and the input (``validate_*``, no I/O) and
stores a :class:`~catalog.models.ClusterIntent` (:mod:`catalog.intents`); the task
``catalog.converge_intent`` calls the ``apply_*``/``remove_*`` operations here, which talk to the
cluster and record the outcome on the intent (with the new :class:`ConfigVersion`, in one
transaction).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from catalog import intents
from catalog.models import ClusterIntent, ConfigKind, ConfigVersion, IntentKind
from clusters.kube.client import KubeClient
from clusters.kube.errors import NotFound
from portal import errors
from workspaces import access as ws_access
from workspaces.models import Grant, ServiceMap

FIELD_MANAGER = "cluster-portal"
RESTART_MANAGER = "cluster-portal-restart"
CALL_TIMEOUT = 10.0
MAX_DATA_BYTES = 1_000_000  # what the API server allows for one object
KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
RESTARTABLE = ("Deployment", "StatefulSet", "DaemonSet")
HIDDEN_SECRET_TYPES = ("kubernetes.io/service-account-token",)


def _client(sm: ServiceMap) -> KubeClient:
    return KubeClient(sm.cluster.connection_spec(), read_timeout=CALL_TIMEOUT, connect_timeout=3.0)


def _kind(kind: str) -> str:
    if kind not in (ConfigKind.CONFIG_MAP, ConfigKind.SECRET):
        raise errors.NotFound("Only ConfigMap and Secret objects are edited here.", code="config_kind_unknown",
                              params={"kind": kind})
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


def _missing(sm: ServiceMap, kind: str, name: str) -> errors.NotFound:
    return errors.NotFound(f"{kind} {name} does not exist in {sm.namespace}.", code="config_not_found",
                           params={"kind": kind, "name": name, "namespace": sm.namespace})


# ---------------------------------------------------------------------------- reading


def list_configs(sm: ServiceMap, client: KubeClient) -> list[dict[str, Any]]:
    """The service map's ConfigMaps and Secrets, read with the view's client
    (:func:`clusters.gateway.live_read`)."""
    versions: dict[tuple[str, str], int] = {}
    for kind, name, version in ConfigVersion.objects.filter(service_map=sm).values_list("kind", "name", "version"):
        versions[(kind, name)] = max(version, versions.get((kind, name), 0))
    out = []
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


def get_config(sm: ServiceMap, kind: str, name: str, *, client: KubeClient, user: Any,
               reveal: bool) -> dict[str, Any]:
    """One ConfigMap or Secret, read with the view's client (:func:`clusters.gateway.live_read`)."""
    kind = _kind(kind)
    if reveal and kind == ConfigKind.SECRET:
        ws_access.require_grant(user, sm.workspace, Grant.SECRETS_REVEAL)
    try:
        obj = client.get_object(kind, name, sm.namespace, timeout=CALL_TIMEOUT)
    except NotFound as exc:
        raise _missing(sm, kind, name) from exc
    used_by = users_of(client, sm, kind, name)
    if kind == ConfigKind.CONFIG_MAP:
        data: dict[str, str | None] = dict(obj.get("data") or {})
    else:
        plain = _decode(obj.get("data"))
        data = dict(plain) if reveal else {key: None for key in plain}
    latest = ConfigVersion.objects.filter(service_map=sm, kind=kind, name=name).order_by("-version").first()
    return {"kind": kind, "name": name, "type": obj.get("type", ""), "data": data, "revealed": bool(
        reveal and kind == ConfigKind.SECRET), "version": latest.version if latest else None, "used_by": used_by}


# ---------------------------------------------------------------------------- asking for a change (no I/O)

NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def _validate(data: Any) -> dict[str, str | None]:
    if not isinstance(data, dict) or not data:
        raise errors.Invalid("Give the data as an object of keys and string values.",
                             errors={"data": ["Give the data as an object of keys and string values."]})
    problems = {}
    size = 0
    for key, value in data.items():
        if not isinstance(key, str) or not KEY.match(key):
            problems[f"data.{key}"] = ["Keys are letters, digits, '-', '_' and '.' (at most 253)."]
        elif value is not None and not isinstance(value, str):
            problems[f"data.{key}"] = ["Values are strings (null keeps a secret's current value)."]
        else:
            size += len(key) + len(value or "")
    if size > MAX_DATA_BYTES:
        problems["data"] = [f"At most {MAX_DATA_BYTES} bytes of data in one object."]
    if problems:
        raise errors.Invalid("Invalid input.", errors=problems)
    return data


def validate_config(*, kind: str, name: str, data: Any, create: bool) -> dict[str, str | None]:
    """What can be said of a config change without the cluster: 400 naming the field."""
    _kind(kind)
    if create and not NAME.match(name or ""):
        message = "Use lower-case letters, digits, '-' and '.' (a DNS-1123 subdomain)."
        raise errors.Invalid(f"Invalid input: name: {message}", errors={"name": [message]})
    values = _validate(data)
    if kind == ConfigKind.CONFIG_MAP and any(v is None for v in values.values()):
        raise errors.Invalid("ConfigMap values must be strings.", errors={"data": ["ConfigMap values must be strings."]})
    return values


def saved_data(sm: ServiceMap, kind: str, name: str, number: int) -> dict[str, str]:
    """The data of a saved version, to restore it (400 if there is no such version)."""
    kind = _kind(kind)
    saved = ConfigVersion.objects.filter(service_map=sm, kind=kind, name=name, version=number).first()
    if saved is None:
        message = f"{kind} {name} has no saved version {number}."
        raise errors.Invalid(message, errors={"version": [message]}, code="config_version_unknown",
                             params={"kind": kind, "name": name, "version": number})
    return saved.data if kind == ConfigKind.CONFIG_MAP else saved.get_secret_data()


def _percent(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
        raise errors.Invalid(f"Invalid input: {field}: A whole percentage between 1 and 1000.",
                             errors={field: ["A whole percentage between 1 and 1000."]})
    return value


def validate_autoscaler(*, kind: str, name: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The HPA settings as they will be applied; 400 naming the field."""
    if kind not in ("Deployment", "StatefulSet"):
        raise errors.Invalid("Autoscale a Deployment or a StatefulSet.",
                             errors={"kind": ["Autoscale a Deployment or a StatefulSet."]})
    minimum, maximum = settings.get("min_replicas", 1), settings.get("max_replicas")
    problems: dict[str, list[str]] = {}
    if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 1:
        problems["min_replicas"] = ["At least 1."]
    if not isinstance(maximum, int) or isinstance(maximum, bool) or maximum < 1:
        problems["max_replicas"] = ["At least 1."]
    elif isinstance(minimum, int) and maximum < minimum:
        problems["max_replicas"] = [f"Must not be below min_replicas ({minimum})."]
    if problems:
        first, messages = next(iter(problems.items()))
        raise errors.Invalid(f"Invalid input: {first}: {messages[0]}", errors=problems)
    cpu = _percent(settings.get("cpu_percent"), "cpu_percent")
    memory = _percent(settings.get("memory_percent"), "memory_percent")
    if cpu is None and memory is None:
        message = "Give a CPU or a memory target (percent of requests)."
        raise errors.Invalid(f"Invalid input: cpu_percent: {message}", errors={"cpu_percent": [message]})
    return {"kind": kind, "name": name, "min_replicas": minimum, "max_replicas": maximum, "cpu_percent": cpu,
            "memory_percent": memory}


def request_save(*, sm: ServiceMap, kind: str, name: str, data: dict[str, str | None], restart_workloads: bool,
                 message: str, user: Any, request: HttpRequest | None, create: bool = False,
                 message_code: str = "", message_params: dict[str, Any] | None = None) -> ClusterIntent:
    """Store the intent to save new data (``None`` values keep a Secret's current ones)."""
    return intents.create(
        sm=sm, kind=IntentKind.CONFIG_SAVE, target=f"{kind}/{name}", user=user, request=request,
        spec={"kind": kind, "name": name, "data": data, "restart": restart_workloads, "message": message,
              "message_code": message_code, "message_params": message_params or {}, "create": create},
        audit_detail={"kind": kind, "name": name, "keys": sorted(data), "restart": restart_workloads,
                      "create": create})


def request_restore(*, sm: ServiceMap, kind: str, name: str, number: int, restart_workloads: bool, user: Any,
                    request: HttpRequest | None) -> ClusterIntent:
    """Store the intent to apply a saved version again (saved as a new version)."""
    data: dict[str, str | None] = dict(saved_data(sm, kind, name, number))
    return request_save(sm=sm, kind=kind, name=name, data=data, restart_workloads=restart_workloads,
                        message=f"Restored version {number}.", message_code="config_restored",
                        message_params={"version": number}, user=user, request=request)


def request_delete(*, sm: ServiceMap, kind: str, name: str, user: Any, request: HttpRequest | None) -> ClusterIntent:
    kind = _kind(kind)
    return intents.create(sm=sm, kind=IntentKind.CONFIG_DELETE, target=f"{kind}/{name}", user=user, request=request,
                          spec={"kind": kind, "name": name}, audit_detail={"kind": kind, "name": name})


def request_autoscaler(*, sm: ServiceMap, settings: dict[str, Any], user: Any,
                       request: HttpRequest | None) -> ClusterIntent:
    return intents.create(sm=sm, kind=IntentKind.HPA_SET, target=f"{settings['kind']}/{settings['name']}",
                          user=user, request=request, spec=settings, audit_detail=settings)


def request_autoscaler_delete(*, sm: ServiceMap, kind: str, name: str, user: Any,
                              request: HttpRequest | None) -> ClusterIntent:
    return intents.create(sm=sm, kind=IntentKind.HPA_DELETE, target=f"{kind}/{name}", user=user, request=request,
                          spec={"name": name}, audit_detail={"name": name})


def versions(sm: ServiceMap, kind: str, name: str) -> list[dict[str, Any]]:
    kind = _kind(kind)
    return [{"version": v.version, "keys": v.keys, "message": v.message, "restarted": v.restarted,
             "created": v.created.isoformat(), "created_by": v.created_by.get_username() if v.created_by else None}
            for v in ConfigVersion.objects.filter(service_map=sm, kind=kind, name=name).select_related("created_by")
            .order_by("-version")]


# ---------------------------------------------------------------------------- converging (the task's side)


def apply_config(intent: ClusterIntent) -> None:
    """Apply the saved data, restart its users if asked, and record the version with the outcome."""
    sm, spec = intent.service_map, intent.get_spec()
    kind, name, create = spec["kind"], spec["name"], bool(spec.get("create"))
    values: dict[str, str | None] = spec["data"]
    with _client(sm) as client:
        try:
            live = client.get_object(kind, name, sm.namespace, timeout=CALL_TIMEOUT)
        except NotFound:
            live = None
        # a retry after an earlier attempt applied it finds the object: that is this change, not a clash
        if create and live is not None and intent.attempts <= 1:
            raise errors.Conflict(f"{kind} {name} exists already in {sm.namespace}; edit it instead.",
                                  code="config_exists", params={"kind": kind, "name": name, "namespace": sm.namespace})
        if not create and live is None:
            raise _missing(sm, kind, name)
        current = _decode(live.get("data")) if (live and kind == ConfigKind.SECRET) else {}
        final: dict[str, str] = {}
        for key, value in values.items():
            if value is None:
                if key not in current:
                    message = f"{key} has no current value to keep; give one."
                    raise errors.Invalid(message, errors={f"data.{key}": [message]}, code="secret_value_missing",
                                         params={"key": key})
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
        restarted = users_of(client, sm, kind, name) if spec.get("restart") else []
        if restarted:
            restart(client, sm, restarted)

    def record() -> tuple[dict[str, Any], str, dict[str, Any]]:
        last = ConfigVersion.objects.select_for_update().filter(service_map=sm, kind=kind, name=name).order_by(
            "-version").first()
        number = (last.version + 1) if last else 1
        version = ConfigVersion.objects.create(
            service_map=sm, kind=kind, name=name, version=number, keys=sorted(final),
            data=final if kind == ConfigKind.CONFIG_MAP else {}, message=spec.get("message", ""),
            message_code=spec.get("message_code", ""), message_params=spec.get("message_params", {}),
            restarted=restarted, created_by_id=intent.created_by_id)
        if kind == ConfigKind.SECRET:
            version.set_secret_data(final)
            version.save(update_fields=["data_encrypted"])
        return ({"version": number, "restarted": restarted}, f"{kind} {name} saved as version {number}.",
                {"kind": kind, "name": name, "version": number, "restarted": restarted})

    intents.finish(intent.pk, ok=True, record=record, code="config_saved", message="")


def remove_config(intent: ClusterIntent) -> None:
    sm, spec = intent.service_map, intent.get_spec()
    kind, name = spec["kind"], spec["name"]
    with _client(sm) as client:
        try:
            client.delete_object(kind, name, sm.namespace, timeout=CALL_TIMEOUT)
        except NotFound as exc:
            if intent.attempts <= 1:  # a retry finds it gone: the earlier attempt deleted it
                raise _missing(sm, kind, name) from exc
    intents.finish(intent.pk, ok=True, code="config_deleted", params={"kind": kind, "name": name},
                   message=f"{kind} {name} deleted.", result={"kind": kind, "name": name})


def apply_autoscaler(intent: ClusterIntent) -> None:
    sm, settings = intent.service_map, intent.get_spec()
    kind, name = settings["kind"], settings["name"]
    metrics = [{"type": "Resource", "resource": {"name": resource, "target": {
        "type": "Utilization", "averageUtilization": target}}}
        for resource, target in (("cpu", settings["cpu_percent"]), ("memory", settings["memory_percent"]))
        if target is not None]
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": name, "namespace": sm.namespace},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name},
                    "minReplicas": settings["min_replicas"], "maxReplicas": settings["max_replicas"],
                    "metrics": metrics}}
    with _client(sm) as client:
        try:
            client.get_object(kind, name, sm.namespace, timeout=CALL_TIMEOUT)
        except NotFound as exc:
            message = f"{kind} {name} does not exist in {sm.namespace}."
            raise errors.Invalid(message, errors={"name": [message]}, code="workload_not_found",
                                 params={"kind": kind, "name": name, "namespace": sm.namespace}) from exc
        client.apply(hpa, field_manager=FIELD_MANAGER, timeout=CALL_TIMEOUT)
    intents.finish(intent.pk, ok=True, code="autoscaler_saved", params={"kind": kind, "name": name},
                   message=f"The autoscaler of {kind} {name} is saved.", result=settings)


def remove_autoscaler(intent: ClusterIntent) -> None:
    sm, name = intent.service_map, intent.get_spec()["name"]
    with _client(sm) as client:
        try:
            client.delete_object("HorizontalPodAutoscaler", name, sm.namespace, timeout=CALL_TIMEOUT)
        except NotFound as exc:
            if intent.attempts <= 1:
                raise errors.NotFound(f"No autoscaler {name} in {sm.namespace}.", code="autoscaler_not_found",
                                      params={"name": name, "namespace": sm.namespace}) from exc
    intents.finish(intent.pk, ok=True, code="autoscaler_deleted", params={"name": name},
                   message=f"The autoscaler {name} is deleted.", result={"name": name})

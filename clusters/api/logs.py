"""The recent log of one container, read from the pod page (issue 15, grant ``pods.logs``).

``GET /api/clusters/{cluster_id}/pods/{namespace}/{name}/log/?container=&tail=&since=&previous=&timestamps=``
answers ``{pod, container, containers, lines, truncated, previous}``: a bounded snapshot, not a
stream (streaming with search is issue 14's). The order of the checks keeps a caller who may not
see the pod from learning anything about it: the cluster must be one the caller sees (404
``not_found``), the namespace one of theirs (404 ``pod_not_found``, echoing nothing), the
grant ``pods.logs`` theirs there (:func:`clusters.access.require_object_action`: 403
``grant_missing``, ``namespace_forbidden`` …); only then are the options checked (400 with a code
per option) and the cluster asked, through :func:`clusters.gateway.live_read` (one time budget,
503/502 as every live view): the pod (404 ``pod_not_found``), its container (404
``container_not_found``), then the log with ``limitBytes`` so neither the cluster nor the portal
moves more than :func:`limit_bytes` (2 MiB). What the API server refuses in words (a container still
waiting to start, ``previous`` without a terminated run) comes back with its own code.

A log read is a read: like every GET it leaves no audit record (portal.audit records mutating
requests), so following a log does not flood the audit log.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clusters import access, gateway
from clusters.kube import errors as kube
from clusters.models import LABEL_NAME, SUBDOMAIN_NAME, Cluster
from portal import errors

TAIL_DEFAULT = 500
TAIL_MAX = 5000
SINCE_MAX = 30 * 24 * 3600  # seconds: a month back, far more than a node keeps
LIMIT_BYTES = 2 * 1024 * 1024  # what one answer carries at most (2 MiB), unless PORTAL_LOG_MAX_BYTES says less

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off", "")
# The API server's refusals of a log read (400 with these words), kube-apiserver and kubelet wording.
_PREVIOUS_MISSING = "previous terminated container"
_WAITING = "is waiting to start"
_NOT_VALID = "is not valid for pod"


class PodLogSerializer(serializers.Serializer[Any]):
    pod = serializers.CharField(help_text="The pod's name.")
    container = serializers.CharField(help_text="The container whose log this is (the one asked for, else the "
                                                "pod's default container).")
    containers = serializers.ListField(child=serializers.CharField(),
                                       help_text="Every container of the pod (init and ephemeral ones after the "
                                                 "others), to choose from.")
    lines = serializers.ListField(child=serializers.CharField(), help_text="The log's lines, oldest first.")
    truncated = serializers.BooleanField(help_text=f"The log was cut at {LIMIT_BYTES // (1024 * 1024)} MiB: the "
                                                   "newest lines are missing; ask for fewer lines or a shorter "
                                                   "time.")
    previous = serializers.BooleanField(help_text="The lines are those of the container's last terminated run.")


def limit_bytes() -> int:
    """The most bytes of log one answer carries: ``PORTAL_LOG_MAX_BYTES``, at most :data:`LIMIT_BYTES`."""
    return max(1, min(int(getattr(settings, "PORTAL_LOG_MAX_BYTES", LIMIT_BYTES)), LIMIT_BYTES))


# ---------------------------------------------------------------------------- options


def _invalid(param: str, code: str, message: str, **params: Any) -> errors.Invalid:
    return errors.Invalid(message, code=code, params={"param": param, **params}, errors={param: [message]})


def _whole(request: Request, param: str, *, default: int | None, maximum: int, code: str, what: str) -> int | None:
    raw = str(request.query_params.get(param, "")).strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or not 1 <= int(raw) <= maximum:
        raise _invalid(param, code, f"{what} must be a whole number from 1 to {maximum}.", maximum=maximum)
    return int(raw)


def _flag(request: Request, param: str) -> bool:
    raw = str(request.query_params.get(param, "")).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise _invalid(param, "log_flag_invalid", f"{param} must be true or false.")


def _container_param(request: Request) -> str:
    raw = str(request.query_params.get("container", ""))
    if raw and not LABEL_NAME.match(raw):
        raise _invalid("container", "log_container_invalid", "A container name is a DNS label (lower-case letters, "
                                                              "digits and '-', at most 63 characters).")
    return raw


# ---------------------------------------------------------------------------- the pod


def _pod_missing(namespace: str, name: str) -> errors.NotFound:
    """The cluster has no such pod (its name is the caller's own, from a namespace they see)."""
    return errors.NotFound(f"Pod {namespace}/{name} does not exist.", code="pod_not_found",
                           params={"pod": f"{namespace}/{name}"})


def _pod_hidden() -> errors.NotFound:
    """A namespace the caller does not see: the same code, echoing nothing of the path."""
    return errors.NotFound("No such pod, or not one you may see.", code="pod_not_found")


def containers_of(pod: dict[str, Any]) -> list[str]:
    """The pod's containers, then its init and ephemeral containers (all have logs)."""
    spec = pod.get("spec") or {}
    return [str(c.get("name")) for key in ("containers", "initContainers", "ephemeralContainers")
            for c in spec.get(key) or [] if isinstance(c, dict) and c.get("name")]


def log_container(pod: dict[str, Any], wanted: str) -> str:
    """The container to read: ``wanted``, else the pod's default (the
    ``kubectl.kubernetes.io/default-container`` annotation, else the first container, as
    ``kubectl logs`` chooses); 404 ``container_not_found`` when the pod has no such container."""
    meta = pod.get("metadata") or {}
    names = containers_of(pod)
    spec_names = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, dict)]
    default = str((meta.get("annotations") or {}).get("kubectl.kubernetes.io/default-container") or "")
    container = wanted or (default if default in names else (spec_names[0] if spec_names else ""))
    if container not in names:
        label = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        raise errors.NotFound(f"Pod {label} has no container {container!r}; it has: {', '.join(names) or 'none'}.",
                              code="container_not_found",
                              params={"pod": label, "container": container, "containers": names})
    return container


def _refusal(exc: kube.KubeError, pod: dict[str, Any], container: str) -> errors.PortalError | None:
    """What the API server's 400 for a log read means, in the portal's codes (None: pass it on)."""
    message = str((exc.body or {}).get("message") or exc)
    meta = pod.get("metadata") or {}
    label = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    params = {"pod": label, "container": container}
    if _PREVIOUS_MISSING in message:
        return errors.Invalid(f"Container {container} of pod {label} has no previous (terminated) run to read the "
                              "log of; read its current log instead.", code="previous_log_unavailable",
                              params=params, errors={"previous": [message]})
    if _WAITING in message:
        reason = message.rsplit(":", 1)[-1].strip() if ":" in message else ""
        return errors.Conflict(f"Container {container} of pod {label} is waiting to start ({reason or 'waiting'}): "
                               "it has written no log yet.", code="container_waiting",
                               params={**params, "reason": reason})
    if _NOT_VALID in message:
        return errors.NotFound(f"Pod {label} has no container {container!r}.", code="container_not_found",
                               params={**params, "containers": containers_of(pod)})
    return None


def lines_of(data: bytes, limit: int) -> tuple[list[str], bool]:
    """The log's lines and whether it was cut: more than ``limit`` bytes came (the caller asked
    for one more). A cut log loses its last, partial line (unless it is the only one)."""
    truncated = len(data) > limit
    if truncated:
        data = data[:limit]
        end = data.rfind(b"\n")
        if end >= 0:
            data = data[:end + 1]
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines], truncated


# ---------------------------------------------------------------------------- the view


class PodLogView(APIView):
    """The recent log of one container of a pod (grant ``pods.logs``)."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="clusters_pod_log",
        parameters=[
            OpenApiParameter("cluster_id", OpenApiTypes.INT, OpenApiParameter.PATH),
            OpenApiParameter("namespace", OpenApiTypes.STR, OpenApiParameter.PATH),
            OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="The pod's name."),
            OpenApiParameter("container", OpenApiTypes.STR, description="Which container (default: the pod's "
                                                                        "default container)."),
            OpenApiParameter("tail", OpenApiTypes.INT, description=f"The newest N lines, 1 to {TAIL_MAX} "
                                                                   f"(default {TAIL_DEFAULT})."),
            OpenApiParameter("since", OpenApiTypes.INT, description="Only lines of the last N seconds "
                                                                    f"(1 to {SINCE_MAX})."),
            OpenApiParameter("previous", OpenApiTypes.BOOL, description="The last terminated run "
                                                                        "(kubectl logs -p)."),
            OpenApiParameter("timestamps", OpenApiTypes.BOOL, description="Prefix each line with its RFC 3339 "
                                                                          "time."),
        ],
        responses={200: PodLogSerializer, 400: OpenApiResponse(description="A bad option (log_tail_invalid, "
                                                                           "log_since_invalid, log_flag_invalid, "
                                                                           "log_container_invalid) or "
                                                                           "previous_log_unavailable."),
                   403: OpenApiResponse(description="grant_missing (pods.logs), namespace_forbidden."),
                   404: OpenApiResponse(description="pod_not_found, container_not_found; not_found for a cluster "
                                                    "the caller does not see."),
                   409: OpenApiResponse(description="container_waiting: no log yet."),
                   502: OpenApiResponse(description="The cluster answered with an error."),
                   503: OpenApiResponse(description="cluster_timeout / cluster_unreachable.")},
    )
    def get(self, request: Request, cluster_id: str, namespace: str, name: str) -> Response:
        cluster: Cluster = get_object_or_404(access.visible_clusters(request.user), pk=cluster_id)
        visible = access.visible_namespaces(request.user, cluster.pk)
        if not LABEL_NAME.match(namespace) or not SUBDOMAIN_NAME.match(name) or (
                visible is not None and namespace not in visible):
            raise _pod_hidden()
        access.require_object_action(request.user, cluster, namespace, access.PODS_LOGS)
        wanted = _container_param(request)
        tail = _whole(request, "tail", default=TAIL_DEFAULT, maximum=TAIL_MAX, code="log_tail_invalid",
                      what="The number of lines")
        since = _whole(request, "since", default=None, maximum=SINCE_MAX, code="log_since_invalid",
                       what="The seconds back")
        previous = _flag(request, "previous")
        timestamps = _flag(request, "timestamps")
        limit = limit_bytes()
        with gateway.live_read(cluster, "reading the container's log") as read:
            try:
                pod = read.client.read_pod(name, namespace, attempts=1, timeout=read.budget)
            except kube.NotFound as exc:
                raise _pod_missing(namespace, name) from exc
            container = log_container(pod, wanted)
            try:
                data = read.client.read_pod_log(name, namespace, container=container, tail_lines=tail,
                                                since_seconds=since, previous=previous, timestamps=timestamps,
                                                limit_bytes=limit + 1, timeout=read.budget, attempts=1)
            except kube.NotFound as exc:  # deleted between the two reads
                raise _pod_missing(namespace, name) from exc
            except kube.KubeError as exc:
                refusal = _refusal(exc, pod, container) if exc.status == 400 else None
                if refusal is not None:
                    raise refusal from exc
                raise
        lines, truncated = lines_of(data, limit)
        # the documented shape (PodLogSerializer) as it is: thousands of strings need no field-by-field pass
        return Response({"pod": name, "container": container, "containers": containers_of(pod), "lines": lines,
                         "truncated": truncated, "previous": previous})

"""Talking to clusters on behalf of the API and the tasks: validating a connection someone typed
or uploaded, trying it once at registration, the connectivity/permission check, and node
operations (cordon, uncordon, drain).

Everything goes through the client layer (:mod:`clusters.kube`) with short timeouts; database
writes go through :mod:`clusters.actions`. Errors are turned into messages a person can act on
and, for input, attached to the field they came from so the wizard can show them there.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from clusters.kube.addresses import Endpoint, parse_server, resolve
from clusters.kube.client import KubeClient
from clusters.kube.connection import (
    ConnectionSpec,
    Credentials,
    build_spec,
    contexts,
    load_kubeconfig,
    spec_from_kubeconfig,
    validate_pem,
)
from clusters.kube.errors import (
    Forbidden,
    InvalidConnection,
    KubeError,
    NotFound,
    TLSVerificationFailed,
    TooManyRequests,
    Unauthorized,
    Unreachable,
)
from clusters.kube.kinds import EXTRA_PERMISSIONS, WATCHED_KINDS
from clusters.models import Cluster, ClusterStatus, NodeOperation, NodeOperationKind, NodeOperationStatus
from portal.crypto import DecryptionError

logger = logging.getLogger(__name__)

CONNECTION_FIELDS = ("kubeconfig", "context", "server", "ca_pem", "token", "client_certificate", "client_key",
                     "insecure_skip_tls_verify", "allow_insecure")


def probe_timeout() -> float:
    """Seconds registration waits for a cluster before refusing it as unreachable."""
    return float(getattr(settings, "PORTAL_CLUSTER_PROBE_TIMEOUT", 5.0))


class FieldProblem(Exception):
    """Input that cannot become a working connection; ``field`` is where the form shows it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class ValidatedConnection:
    spec: ConnectionSpec = field(repr=False)
    endpoint: Endpoint
    source: str  # "kubeconfig" or "fields": which form the input came in
    context: str = ""

    def field_for(self, part: str) -> str:
        """The input field to blame for a problem with ``part`` (server, ca_pem, credentials)."""
        if self.source == "kubeconfig":
            return "kubeconfig"
        if part == "credentials":
            return "token" if self.spec.credentials.token else "client_certificate"
        return part


def list_kubeconfig_contexts(text: str) -> dict[str, Any]:
    """The contexts of a kubeconfig for the wizard: nothing is stored or contacted."""
    try:
        config = load_kubeconfig(text)
        names = contexts(config)
    except InvalidConnection as exc:
        raise FieldProblem("kubeconfig", str(exc)) from exc

    def entries(section: str) -> dict[str, dict[str, Any]]:  # any shape: the wizard lists what it can
        inner, rows = section[:-1], config.get(section)
        return {e["name"]: e[inner] if isinstance(e.get(inner), dict) else {} for e in rows
                if isinstance(e, dict) and isinstance(e.get("name"), str)} if isinstance(rows, list) else {}

    raw_contexts, clusters = entries("contexts"), entries("clusters")
    out = []
    for name in names:
        ctx = raw_contexts.get(name, {})
        cluster_name = str(ctx.get("cluster") or "")
        out.append({"name": name, "cluster": cluster_name, "server": str(clusters.get(cluster_name, {}).get("server") or ""),
                    "user": str(ctx.get("user") or "")})
    current = config.get("current-context")
    return {"current": current if isinstance(current, str) and current in names else None, "contexts": out}


def validate_connection(data: dict[str, Any], *, insecure_permitted: bool) -> ValidatedConnection:
    """Turn the connection part of a registration (kubeconfig + context, or explicit fields)
    into a checked spec and a resolved, policy-checked endpoint; raise :class:`FieldProblem`."""
    kubeconfig = data.get("kubeconfig") or ""
    explicit = [name for name in ("server", "ca_pem", "token", "client_certificate", "client_key") if data.get(name)]
    allow_insecure = bool(data.get("allow_insecure"))
    if allow_insecure and not insecure_permitted:
        raise FieldProblem("allow_insecure", "Only system admins may allow connections without TLS verification.")
    if kubeconfig and explicit:
        raise FieldProblem(explicit[0], "Give either a kubeconfig or the server and credentials fields, not both.")
    if kubeconfig:
        connection = _from_kubeconfig(kubeconfig, data.get("context") or "", allow_insecure)
    elif explicit or data.get("insecure_skip_tls_verify"):
        connection = _from_fields(data, allow_insecure)
    else:
        raise FieldProblem("kubeconfig", "Upload a kubeconfig, or give the API server URL, its CA and a token.")
    return connection


def _from_kubeconfig(text: str, context: str, allow_insecure: bool) -> ValidatedConnection:
    try:
        config = load_kubeconfig(text)
        names = contexts(config)
    except InvalidConnection as exc:
        raise FieldProblem("kubeconfig", str(exc)) from exc
    if context and context not in names:
        raise FieldProblem("context", f"Context '{context}' is not in the kubeconfig; it has: {', '.join(names) or 'none'}.")
    if not context and not config.get("current-context"):
        raise FieldProblem("context", f"The kubeconfig has no current-context; choose one of: {', '.join(names)}.")
    try:
        spec, chosen = spec_from_kubeconfig(text, context=context or None, allow_insecure=allow_insecure)
    except InvalidConnection as exc:
        raise FieldProblem("kubeconfig", str(exc)) from exc
    return ValidatedConnection(spec=spec, endpoint=_resolve(spec.server, "kubeconfig"), source="kubeconfig",
                               context=chosen)


def _from_fields(data: dict[str, Any], allow_insecure: bool) -> ValidatedConnection:
    server = str(data.get("server") or "").strip()
    if not server:
        raise FieldProblem("server", "Give the API server URL, for example https://203.0.113.10:6443.")
    try:
        parse_server(server)
    except InvalidConnection as exc:
        raise FieldProblem("server", str(exc)) from exc
    ca_pem = str(data.get("ca_pem") or "")
    insecure = bool(data.get("insecure_skip_tls_verify"))
    if insecure and not allow_insecure:
        raise FieldProblem("insecure_skip_tls_verify",
                           "Skipping TLS verification needs allow_insecure: true (system admins only); "
                           "better, give the cluster's CA certificate.")
    if insecure and ca_pem:
        raise FieldProblem("ca_pem", "Give either a CA certificate or insecure_skip_tls_verify, not both.")
    for name, what in (("ca_pem", "The CA certificate"), ("client_certificate", "The client certificate"),
                       ("client_key", "The client key")):
        if data.get(name):
            try:
                validate_pem(str(data[name]), what)
            except InvalidConnection as exc:
                raise FieldProblem(name, str(exc)) from exc
    token = str(data.get("token") or "")
    cert, key = str(data.get("client_certificate") or ""), str(data.get("client_key") or "")
    if token and (cert or key):
        raise FieldProblem("token", "Give either a bearer token or a client certificate and key, not both.")
    if not token and not cert and not key:
        raise FieldProblem("token", "Give a bearer token, or a client certificate and its key.")
    if (cert or key) and not (cert and key):
        missing = "client_key" if cert else "client_certificate"
        raise FieldProblem(missing, "A client certificate needs its key, and a key needs its certificate.")
    try:
        spec = build_spec(
            server=server, credentials=Credentials(token=token, client_certificate=cert, client_key=key),
            ca_pem=ca_pem, insecure_skip_tls_verify=insecure, allow_insecure=allow_insecure,
        )
    except InvalidConnection as exc:
        raise FieldProblem("token" if token else "client_certificate", str(exc)) from exc
    return ValidatedConnection(spec=spec, endpoint=_resolve(spec.server, "server"), source="fields")


def _resolve(server: str, field_name: str) -> Endpoint:
    try:
        return resolve(server)
    except InvalidConnection as exc:  # AddressNotAllowed among them
        raise FieldProblem(field_name, str(exc)) from exc
    except Unreachable as exc:
        raise FieldProblem(field_name, str(exc)) from exc


def probe(connection: ValidatedConnection, *, timeout: float | None = None) -> str:
    """Try the connection once, quickly: return the Kubernetes version, or raise a
    :class:`FieldProblem` that says what is wrong (no answer, untrusted certificate, rejected
    credentials) on the field to fix."""
    timeout = timeout or probe_timeout()
    server = connection.spec.server
    try:
        with KubeClient(connection.spec, endpoint=connection.endpoint, connect_timeout=timeout,
                        read_timeout=timeout) as client:
            version = client.get_json(client.version_api.get_code, attempts=1, timeout=timeout)
            client.get_json(client.core.list_namespace, limit=1, attempts=1, timeout=timeout)
    except Unreachable as exc:
        raise FieldProblem(connection.field_for("server"),
                           f"The API server {server} did not answer within {timeout:g} s ({exc}). Check the URL, "
                           "firewalls and that the cluster is up.") from exc
    except TLSVerificationFailed as exc:
        raise FieldProblem(connection.field_for("ca_pem"),
                           f"Wrong CA: {exc} Give the CA certificate that signed the API server's certificate.") from exc
    except Unauthorized as exc:
        raise FieldProblem(connection.field_for("credentials"),
                           f"{exc} Check that the token (or client certificate) is current.") from exc
    except Forbidden as exc:
        raise FieldProblem(connection.field_for("credentials"),
                           f"{exc} The identity needs at least list and watch on the kinds the portal shows.") from exc
    except KubeError as exc:
        raise FieldProblem(connection.field_for("server"), f"The cluster answered with an error: {exc}") from exc
    return str(version.get("gitVersion") or "")


# ---------------------------------------------------------------------------- connectivity check


@dataclass
class CheckResult:
    status: str
    message: str
    kubernetes_version: str = ""
    node_count: int | None = None
    missing_permissions: list[str] = field(default_factory=list)


def permission_name(verb: str, group: str, resource: str, subresource: str = "") -> str:
    """``list pods``, ``watch deployments.apps``, ``create pods/eviction``: as RBAC rules say it."""
    name = resource + (f"/{subresource}" if subresource else "") + (f".{group}" if group else "")
    return f"{verb} {name}"


def required_permissions() -> list[tuple[str, str, str, str]]:
    needed = [(verb, k.group, k.resource, "") for k in WATCHED_KINDS for verb in ("list", "watch")]
    return needed + list(EXTRA_PERMISSIONS)


def _count(client: KubeClient, lister: Any) -> int:
    total, token = 0, ""
    while True:
        kwargs: dict[str, Any] = {"limit": 500}
        if token:
            kwargs["_continue"] = token
        body = client.get_json(lister, **kwargs)
        total += len(body.get("items") or [])
        token = (body.get("metadata") or {}).get("continue") or ""
        if not token:
            return total


def check_connection(cluster: Cluster) -> CheckResult:
    """Connectivity, version, node count and the permissions the portal needs (by
    SelfSubjectAccessReview), as a result the action records."""
    try:
        spec = cluster.connection_spec()
    except DecryptionError as exc:
        return CheckResult(ClusterStatus.ERROR, f"The stored credentials cannot be decrypted ({exc}); "
                                                "replace them under Credentials.")
    timeout = float(getattr(settings, "PORTAL_CLUSTER_CHECK_TIMEOUT", 10.0))
    try:
        with KubeClient(spec, read_timeout=timeout, connect_timeout=min(timeout, 5.0)) as client:
            version = str(client.version().get("gitVersion") or "")
            nodes: int | None
            try:
                nodes = _count(client, client.core.list_node)
            except Forbidden:  # an identity without node access still gets its missing permissions named
                nodes = None
            missing = [permission_name(verb, group, resource, sub)
                       for verb, group, resource, sub in required_permissions()
                       if not client.can_i(verb=verb, group=group, resource=resource, subresource=sub)]
    except Unreachable as exc:
        return CheckResult(ClusterStatus.UNREACHABLE, f"{exc} The portal retries; check the network path.")
    except Unauthorized as exc:
        return CheckResult(ClusterStatus.UNAUTHORIZED, f"{exc} Replace the credentials under Credentials.")
    except Forbidden as exc:
        return CheckResult(ClusterStatus.UNAUTHORIZED,
                           f"{exc} Grant the identity read access (see missing permissions) or use other credentials.")
    except TLSVerificationFailed as exc:
        return CheckResult(ClusterStatus.ERROR, f"{exc} Replace the CA certificate under Credentials.")
    except InvalidConnection as exc:  # e.g. the address policy changed since registration
        return CheckResult(ClusterStatus.ERROR, str(exc))
    except KubeError as exc:
        return CheckResult(ClusterStatus.ERROR, f"The cluster answered with an error: {exc}")
    message = (f"Connected: Kubernetes {version}, {nodes} node{'s' if nodes != 1 else ''}." if nodes is not None
               else f"Connected: Kubernetes {version}, nodes not readable.")
    if missing:
        message += (f" Missing permissions: {', '.join(missing)}. Grant them to the credentials' identity; "
                    "until then those parts of the inventory stay empty.")
    return CheckResult(ClusterStatus.CONNECTED, message, version, nodes, missing)


def check_cluster(cluster_id: int) -> str:
    """Run the check for one cluster and record its result; returns the new status."""
    from clusters import actions

    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return "gone"
    if not cluster.enabled:
        return str(cluster.status)
    result = check_connection(cluster)
    actions.record_check_result(cluster_id=cluster_id, result=result)
    return result.status


# ---------------------------------------------------------------------------- node operations

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


@dataclass
class DrainPolicy:
    eviction_attempts: int = 3  # 429 means a PodDisruptionBudget refuses; try a few times, then report
    retry_delay: float = 2.0


def _pod_key(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _skip_reason(pod: dict[str, Any]) -> str | None:
    meta = pod.get("metadata") or {}
    if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
        return "mirror pod (managed by the kubelet)"
    if any(ref.get("kind") == "DaemonSet" for ref in meta.get("ownerReferences") or []):
        return "DaemonSet pod"
    return None


@dataclass(frozen=True)
class DrainOptions:
    """What a drain may do that cannot be undone, as ``kubectl drain`` asks for it: ``force``
    evicts pods no controller will recreate (``--force``); ``delete_emptydir_data`` evicts pods
    whose emptyDir data is then lost (``--delete-emptydir-data``). DaemonSet and mirror pods are
    always left in place (``--ignore-daemonsets``)."""

    force: bool = False
    delete_emptydir_data: bool = False

    @classmethod
    def of(cls, raw: Any) -> DrainOptions:
        raw = raw if isinstance(raw, dict) else {}
        return cls(force=bool(raw.get("force")), delete_emptydir_data=bool(raw.get("delete_emptydir_data")))

    def allows(self, need: str) -> bool:
        return bool(getattr(self, need, False))


NEED_REASONS = {  # kubectl's wording, with the portal's option names
    "force": "declares no controller: it will not be recreated elsewhere (use force to override)",
    "delete_emptydir_data": "has local storage (emptyDir): its data will be lost (use delete_emptydir_data to "
                            "override)",
}


def drain_needs(pod: dict[str, Any]) -> list[str]:
    """The options evicting this pod needs (kubectl's unreplicated and local-storage filters).
    A finished pod (Succeeded/Failed) needs none: nothing runs in it any more."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return []
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    needs = []
    if not any(ref.get("controller") for ref in meta.get("ownerReferences") or []):
        needs.append("force")
    if any(isinstance(v, dict) and "emptyDir" in v for v in spec.get("volumes") or []):
        needs.append("delete_emptydir_data")
    return needs


def drain_plan(pods: list[dict[str, Any]], options: DrainOptions) -> list[dict[str, Any]]:
    """What a drain with ``options`` would do to each pod on the node: ``evict``, ``skip``
    (DaemonSet/mirror pods), ``terminating`` (already going) or ``blocked`` (needs an option that
    was not given). ``needs`` lists the options the pod needs; ``lost`` what evicting it loses."""
    out = []
    for pod in sorted(pods, key=_pod_key):
        meta = pod.get("metadata") or {}
        controller = next((f"{r.get('kind')}/{r.get('name')}" for r in meta.get("ownerReferences") or []
                           if r.get("controller")), "")
        row: dict[str, Any] = {"pod": _pod_key(pod), "controller": controller, "needs": [], "reasons": []}
        skip = _skip_reason(pod)
        if skip:
            row.update(action="skip", reasons=[skip])
        elif meta.get("deletionTimestamp"):
            row.update(action="terminating", reasons=["already being deleted"])
        else:
            needs = drain_needs(pod)
            missing = [n for n in needs if not options.allows(n)]
            row.update(needs=needs, reasons=[NEED_REASONS[n] for n in needs],
                       action="blocked" if missing else "evict")
        out.append(row)
    return out


def drain_preview(cluster: Cluster, node: str, options: DrainOptions, *, timeout: float | None = None
                  ) -> list[dict[str, Any]]:
    """The drain plan for the node's pods as the cluster has them now (one attempt, short
    timeout: a dialog is waiting). Raises the client layer's typed errors (and DecryptionError)."""
    timeout = timeout or probe_timeout()
    with KubeClient(cluster.connection_spec(), connect_timeout=timeout, read_timeout=timeout) as client:
        body = client.get_json(client.core.list_pod_for_all_namespaces, field_selector=f"spec.nodeName={node}",
                               attempts=1, timeout=timeout)
    return drain_plan(list(body.get("items") or []), options)


def run_node_operation(op_id: int, *, policy: DrainPolicy | None = None) -> str:
    """Carry out a node operation and record its progress. Running it again converges: a finished
    operation is left alone; an interrupted one cordons again and evicts what is still there."""
    from clusters import actions

    policy = policy or DrainPolicy()
    op = NodeOperation.objects.select_related("cluster").filter(pk=op_id).first()
    if op is None:
        return "gone"
    if op.status in (NodeOperationStatus.SUCCEEDED, NodeOperationStatus.FAILED):
        return str(op.status)
    progress: dict[str, Any] = {"evicted": [], "failed": [], "skipped": [], "remaining": 0, **(op.progress or {})}
    op = actions.update_node_operation(op=op, status=NodeOperationStatus.RUNNING, started=op.started or timezone.now(),
                                       progress=progress, message="")
    try:
        with KubeClient(op.cluster.connection_spec()) as client:
            unschedulable = op.kind != NodeOperationKind.UNCORDON
            try:
                client.call(client.core.patch_node, op.node, {"spec": {"unschedulable": unschedulable}})
            except NotFound:
                return _finish(op, progress, NodeOperationStatus.FAILED, f"Node {op.node} no longer exists.")
            if op.kind != NodeOperationKind.DRAIN:
                done = "cordoned: no new pods will be scheduled on it" if unschedulable else "uncordoned"
                return _finish(op, progress, NodeOperationStatus.SUCCEEDED, f"Node {op.node} {done}.")
            return _drain(client, op, progress, policy)
    except DecryptionError as exc:
        return _finish(op, progress, NodeOperationStatus.FAILED, f"The stored credentials cannot be decrypted: {exc}")
    except KubeError as exc:
        return _finish(op, progress, NodeOperationStatus.FAILED, f"The cluster did not complete the operation: {exc}")


def _drain(client: KubeClient, op: NodeOperation, progress: dict[str, Any], policy: DrainPolicy) -> str:
    from clusters import actions

    body = client.get_json(client.core.list_pod_for_all_namespaces, field_selector=f"spec.nodeName={op.node}")
    options = DrainOptions.of(progress.get("options"))
    # As kubectl drain: the node stays cordoned, and nothing is evicted while a pod needs an
    # option that was not given (a bare pod would be gone for good, emptyDir data lost).
    plan = drain_plan(list(body.get("items") or []), options)
    blocked = [{"pod": row["pod"], "reason": "; ".join(NEED_REASONS[n] for n in row["needs"]
                                                        if not options.allows(n))}
               for row in plan if row["action"] == "blocked"]
    lost = [row["pod"] for row in plan if row["action"] == "evict" and row["needs"]]
    if blocked:
        progress.update(blocked=blocked, remaining=0)
        return _finish(op, progress, NodeOperationStatus.FAILED,
                       f"Node {op.node} is cordoned, but the drain stopped before evicting anything: "
                       f"{len(blocked)} pod(s) need an option: "
                       + "; ".join(f"{b['pod']} {b['reason']}" for b in blocked)[:1500])
    progress["blocked"] = []
    evicted: list[str] = list(progress["evicted"])
    skipped: list[dict[str, str]] = []
    todo: list[dict[str, Any]] = []
    for pod in body.get("items") or []:
        reason = _skip_reason(pod)
        if reason:
            skipped.append({"pod": _pod_key(pod), "reason": reason})
        elif (pod.get("metadata") or {}).get("deletionTimestamp"):
            if _pod_key(pod) not in evicted:
                evicted.append(_pod_key(pod))  # already going (an earlier run evicted it)
        else:
            todo.append(pod)
    failed: list[dict[str, str]] = []
    progress.update(evicted=evicted, skipped=skipped, failed=failed, remaining=len(todo))
    op = actions.update_node_operation(op=op, progress=progress)
    for pod in todo:
        key, reason = _pod_key(pod), _evict(client, pod, policy)
        if reason is None:
            evicted.append(key)
        else:
            failed.append({"pod": key, "reason": reason})
        progress.update(evicted=evicted, failed=failed, remaining=progress["remaining"] - 1)
        op = actions.update_node_operation(op=op, progress=progress)
    if failed:
        return _finish(op, progress, NodeOperationStatus.FAILED,
                       f"Node {op.node} is cordoned; {len(evicted)} pod(s) evicted, {len(failed)} could not be: "
                       + "; ".join(f"{f['pod']}: {f['reason']}" for f in failed)[:1500])
    return _finish(op, progress, NodeOperationStatus.SUCCEEDED,
                   f"Node {op.node} is cordoned and drained: {len(evicted)} pod(s) evicted"
                   + (f", {len(skipped)} DaemonSet/mirror pod(s) left in place." if skipped else ".")
                   + (f" Evicted as asked although not recreated or losing emptyDir data: {', '.join(lost)}."[:800]
                      if lost else ""))


def _evict(client: KubeClient, pod: dict[str, Any], policy: DrainPolicy) -> str | None:
    """Evict one pod through the Eviction API (which enforces PodDisruptionBudgets). Returns None
    on success, else why not."""
    meta = pod["metadata"]
    body = {"apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}
    last = ""
    for attempt in range(policy.eviction_attempts):
        try:
            client.call(client.core.create_namespaced_pod_eviction, meta["name"], meta["namespace"], body, attempts=1)
            return None
        except NotFound:
            return None  # already gone
        except TooManyRequests as exc:
            last = str(exc)
            if attempt < policy.eviction_attempts - 1:
                time.sleep(policy.retry_delay)
        except KubeError as exc:
            return f"Eviction failed: {exc}"
    return (f"A PodDisruptionBudget does not allow evicting it now (refused {policy.eviction_attempts} times): "
            f"{last}")


def _finish(op: NodeOperation, progress: dict[str, Any], status: str, message: str) -> str:
    from clusters import actions

    actions.finish_node_operation(op=op, status=status, message=message, progress=progress)
    return status


# ---------------------------------------------------------------------------- live detail


def fetch_pod(cluster: Cluster, *, namespace: str, name: str, timeout: float | None = None) -> dict[str, Any]:
    """The full Pod, fetched live for a detail view (one attempt, short timeout), without
    ``managedFields``. Raises the client layer's typed errors (and DecryptionError)."""
    timeout = timeout or probe_timeout()
    with KubeClient(cluster.connection_spec(), connect_timeout=timeout, read_timeout=timeout) as client:
        body = client.get_json(client.core.read_namespaced_pod, name, namespace, attempts=1, timeout=timeout)
    (body.get("metadata") or {}).pop("managedFields", None)
    return body


def enqueue_due_checks(*, enqueue: Any) -> int:
    """Call ``enqueue(cluster_id)`` for every enabled cluster not checked within
    ``PORTAL_CLUSTER_RECHECK_SECONDS`` (default 300); pending clusters after 60 s."""
    from datetime import timedelta

    from django.db.models import Q

    now = timezone.now()
    every = float(getattr(settings, "PORTAL_CLUSTER_RECHECK_SECONDS", 300.0))
    due = Cluster.objects.filter(enabled=True).filter(
        Q(last_checked__isnull=True, created__lt=now - timedelta(seconds=60))
        | Q(last_checked__lt=now - timedelta(seconds=every))
        | Q(status=ClusterStatus.PENDING, last_checked__lt=now - timedelta(seconds=60))
    )
    ids = list(due.values_list("pk", flat=True))
    for cluster_id in ids:
        enqueue(cluster_id)
    return len(ids)

"""Talking to clusters on behalf of the API and the tasks: validating a connection someone typed
or uploaded, trying it once at registration, the connectivity/permission check, and node
operations (cordon, uncordon, drain).

Everything goes through the client layer (:mod:`clusters.kube`) with short timeouts; database
writes go through :mod:`clusters.actions`, the layer below: these operations record their
outcomes through actions, and actions never import operations or tasks. Errors are turned into
messages a person can act on and, for input, attached to the field they came from so the wizard
can show them there.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import yaml
from django.conf import settings
from django.utils import timezone

from clusters import actions
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
    ApiError,
    Forbidden,
    InvalidConnection,
    KubeError,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unreachable,
)
from clusters.kube.kinds import EXTRA_PERMISSIONS, WATCHED_KINDS
from clusters.kube.messages import explain
from clusters.kube.servercert import serving_cert_not_after
from clusters.models import Cluster, ClusterStatus, NodeOperation, NodeOperationKind, NodeOperationStatus
from clusters.outcomes import CheckResult
from portal import errors
from portal.crypto import DecryptionError

logger = logging.getLogger(__name__)
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

CONNECTION_FIELDS = ("kubeconfig", "context", "server", "ca_pem", "token", "client_certificate", "client_key",
                     "insecure_skip_tls_verify", "allow_insecure")


def probe_timeout() -> float:
    """Seconds registration waits for a cluster before refusing it as unreachable."""
    return float(getattr(settings, "PORTAL_CLUSTER_PROBE_TIMEOUT", 5.0))


class FieldProblem(errors.Invalid):
    """Input that cannot become a working connection; ``field`` is where the form shows it (the
    API answers 400 with ``errors`` on that field)."""

    def __init__(self, field_name: str, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code, errors={field_name: [message]})
        self.field = field_name


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


def probe(connection: ValidatedConnection, *, timeout: float | None = None, namespaces: list[str] | None = None
          ) -> str:
    """Try the connection once, quickly: return the Kubernetes version, or raise a
    :class:`FieldProblem` that says what is wrong (refused, timed out, untrusted certificate,
    rejected credentials, missing permission) on the field to fix.

    An identity that may not list namespaces is accepted when it may read something in the
    ``namespaces`` the admin listed, or in the namespaces the portal discovers for it (its
    ServiceAccount's own namespace, by SelfSubjectRulesReview)."""
    timeout = timeout or probe_timeout()
    try:
        with KubeClient(connection.spec, endpoint=connection.endpoint, connect_timeout=timeout,
                        read_timeout=timeout) as client:
            version = client.version(attempts=1, timeout=timeout)
            try:
                client.list_namespaces(limit=1, attempts=1, timeout=timeout)
            except Forbidden as exc:
                readable = readable_namespaces(client, namespaces or [], timeout=timeout)
                if not readable:
                    raise FieldProblem("namespaces" if namespaces else connection.field_for("credentials"),
                                       _namespace_refusal(exc, namespaces or [])) from exc
    except KubeError as exc:
        explained = explain(exc, registering=True)
        part = {"tls_untrusted": "ca_pem", "unauthorized": "credentials", "client_certificate_refused": "credentials",
                "forbidden": "credentials"}.get(explained.code, "server")
        raise FieldProblem(connection.field_for(part), explained.message) from exc
    return str(version.get("gitVersion") or "")


def _namespace_refusal(exc: Forbidden, namespaces: list[str]) -> str:
    if namespaces:
        return (f"The identity may not read anything the portal shows in {', '.join(namespaces)}. "
                "It needs at least list and watch on pods (or another kind the portal shows) there.")
    return ("The identity may not list namespaces at the cluster scope (list namespaces). "
            "List the namespaces it may read under Namespaces, or grant it list and watch on namespaces. "
            f"The API server said: {exc}")


def token_namespace(spec: ConnectionSpec) -> str:
    """The namespace of a ServiceAccount token (its JWT claims, read without verifying: only a
    hint of where to look), or ""."""
    token = spec.credentials.token
    parts = token.split(".")
    if len(parts) != 3:
        return ""
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        info = claims.get("kubernetes.io") or {}
        ns = info.get("namespace") if isinstance(info, dict) else None
        if not ns:
            sub = str(claims.get("sub") or "")
            ns = sub.split(":")[2] if sub.startswith("system:serviceaccount:") and sub.count(":") == 3 else ""
    except (ValueError, TypeError, AttributeError):
        return ""
    return str(ns) if isinstance(ns, str) and DNS_LABEL.match(ns) else ""


def token_subject(spec: ConnectionSpec) -> dict[str, str]:
    """The RBAC subject the credentials stand for, as far as the portal can tell (for the YAML
    that fixes a gap): a ServiceAccount from its token, else a placeholder user."""
    ns = token_namespace(spec)
    token = spec.credentials.token
    if ns:
        try:
            claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=" * (-len(token.split(".")[1]) % 4)))
            name = str(claims.get("sub") or "").split(":")[-1]
        except (ValueError, TypeError, IndexError):
            name = ""
        if name:
            return {"kind": "ServiceAccount", "name": name, "namespace": ns}
    return {"kind": "User", "name": "<the portal's user>"}


def readable_namespaces(client: KubeClient, namespaces: list[str], *, timeout: float | None = None) -> list[str]:
    """Which of ``namespaces`` (or, when none are given, of the token's own namespace) the identity
    may list pods in, or any other kind the portal watches (SelfSubjectRulesReview)."""
    candidates = list(namespaces) or [ns for ns in [token_namespace(client.spec)] if ns]
    out = []
    for ns in candidates:
        rules = rules_in(client, ns, timeout=timeout)
        if any(_allowed(rules, "list", k.group, k.resource) for k in WATCHED_KINDS if k.namespaced):
            out.append(ns)
    return out


def rules_in(client: KubeClient, namespace: str, *, timeout: float | None = None) -> list[dict[str, Any]]:
    """The resource rules that apply to the identity in ``namespace`` (SelfSubjectRulesReview);
    none when the cluster does not serve or allow the review (then nothing is assumed readable)."""
    try:
        body = client.self_subject_rules_review(namespace, timeout=timeout)
    except (NotFound, Forbidden, ApiError):
        return []
    return list((body.get("status") or {}).get("resourceRules") or [])


def _allowed(rules: list[dict[str, Any]], verb: str, group: str, resource: str, subresource: str = "") -> bool:
    full = f"{resource}/{subresource}" if subresource else resource
    for rule in rules:
        if rule.get("resourceNames"):
            continue
        verbs, groups, resources = rule.get("verbs") or [], rule.get("apiGroups") or [], rule.get("resources") or []
        if ("*" in verbs or verb in verbs) and ("*" in groups or group in groups) and (
                "*" in resources or full in resources):
            return True
    return False


# ---------------------------------------------------------------------------- connectivity check


def permission_name(verb: str, group: str, resource: str, subresource: str = "", namespace: str = "") -> str:
    """``list pods``, ``watch deployments.apps in team-a``, ``create pods/eviction``: as RBAC rules
    say it, with the namespace when the permission is one namespace's."""
    name = resource + (f"/{subresource}" if subresource else "") + (f".{group}" if group else "")
    return f"{verb} {name}" + (f" in {namespace}" if namespace else "")


def required_permissions() -> list[tuple[str, str, str, str]]:
    needed = [(verb, k.group, k.resource, "") for k in WATCHED_KINDS for verb in ("list", "watch")]
    return needed + list(EXTRA_PERMISSIONS)


def _count(lister: Callable[..., dict[str, Any]]) -> int:
    """How many items a paged list has (``lister`` is a client method such as ``list_nodes``)."""
    total, token = 0, ""
    while True:
        body = lister(limit=500, continue_token=token)
        total += len(body.get("items") or [])
        token = (body.get("metadata") or {}).get("continue") or ""
        if not token:
            return total


MAX_DISCOVERED_NAMESPACES = 200


def fix_yaml(*, group: str, resource: str, subresource: str, verbs: list[str], namespace: str,
             subject: dict[str, str]) -> str:
    """A Role (or ClusterRole) and its binding granting ``verbs`` on the resource to ``subject``:
    what an admin applies with ``kubectl apply -f`` to close one gap."""
    full = f"{resource}/{subresource}" if subresource else resource
    name = f"portal-{resource}-{subresource}" if subresource else f"portal-{resource}"
    rule = {"apiGroups": [group], "resources": [full], "verbs": verbs}
    kind = "Role" if namespace else "ClusterRole"
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    docs = [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta, "rules": [rule]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": f"{kind}Binding", "metadata": meta,
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
             "subjects": [subject if subject.get("kind") == "ServiceAccount"
                          else {"apiGroup": "rbac.authorization.k8s.io", **subject}]}]
    return yaml.safe_dump_all(docs, sort_keys=False)


def check_permissions(client: KubeClient, *, namespaces: list[str], timeout: float | None = None) -> dict[str, Any]:
    """What the portal may do on this cluster, and how it will watch each kind.

    Every needed permission is asked at the cluster scope (SelfSubjectAccessReview). When a
    namespaced kind cannot be read cluster-wide, the namespaces are the admin's list, else the
    namespaces the identity may list (at most 200), else its ServiceAccount's own; each is asked
    once (SelfSubjectRulesReview). Returns the ``permissions`` object of the cluster detail:
    ``scope`` (``cluster`` | ``namespaces``), ``namespaces``, ``kinds`` (per kind: ``scope``
    ``cluster`` | ``namespaces`` | ``none`` and its namespaces) and ``rows`` (per resource and
    scope: verbs allowed, verbs missing, the YAML that grants the missing ones)."""
    subject = token_subject(client.spec)
    cluster_ok = {(verb, group, resource, sub): client.can_i(verb=verb, group=group, resource=resource,
                                                             subresource=sub)
                  for verb, group, resource, sub in required_permissions()}
    gap_kinds = [k for k in WATCHED_KINDS if k.namespaced and not (
        cluster_ok[("list", k.group, k.resource, "")] and cluster_ok[("watch", k.group, k.resource, "")])]
    namespaced_gap = bool(gap_kinds)
    scope_namespaces: list[str] = []
    ns_rules: dict[str, list[dict[str, Any]]] = {}
    if namespaced_gap:
        scope_namespaces = list(namespaces)
        if not scope_namespaces and cluster_ok[("list", "", "namespaces", "")]:
            body = client.list_namespaces(limit=MAX_DISCOVERED_NAMESPACES, timeout=timeout)
            scope_namespaces = [str((i.get("metadata") or {}).get("name")) for i in body.get("items") or []]
        if not scope_namespaces:
            scope_namespaces = [ns for ns in [token_namespace(client.spec)] if ns]
        for ns in scope_namespaces:
            ns_rules[ns] = rules_in(client, ns, timeout=timeout)
        # A namespace counts when a kind the identity cannot read cluster-wide is readable in it
        # (rules from cluster-wide bindings show up in every namespace and say nothing).
        scope_namespaces = [ns for ns in scope_namespaces
                            if any(_allowed(ns_rules[ns], "list", k.group, k.resource) for k in gap_kinds)]
    kinds: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []

    def row(kind: str, group: str, resource: str, sub: str, verbs: list[str], ok: dict[str, bool],
            namespace: str) -> None:
        missing = [v for v in verbs if not ok[v]]
        rows.append({"kind": kind, "group": group, "resource": resource, "subresource": sub,
                     "scope": "namespace" if namespace else "cluster", "namespace": namespace,
                     "allowed": [v for v in verbs if ok[v]], "missing": missing,
                     "fix": fix_yaml(group=group, resource=resource, subresource=sub, verbs=missing,
                                     namespace=namespace, subject=subject) if missing else ""})

    for k in WATCHED_KINDS:
        ok = {v: cluster_ok[(v, k.group, k.resource, "")] for v in ("list", "watch")}
        if all(ok.values()):
            kinds[k.kind] = {"scope": "cluster", "namespaces": []}
            row(k.kind, k.group, k.resource, "", ["list", "watch"], ok, "")
            continue
        readable = [ns for ns in scope_namespaces if k.namespaced
                    and all(_allowed(ns_rules[ns], v, k.group, k.resource) for v in ("list", "watch"))]
        kinds[k.kind] = ({"scope": "namespaces", "namespaces": readable} if readable
                         else {"scope": "none", "namespaces": [],
                               "message": _forbidden_kind_message(k.kind, k.group, k.resource, k.namespaced,
                                                                  scope_namespaces)})
        if not k.namespaced or not scope_namespaces:
            row(k.kind, k.group, k.resource, "", ["list", "watch"], ok, "")
        for ns in scope_namespaces if k.namespaced else []:
            row(k.kind, k.group, k.resource, "", ["list", "watch"],
                {v: _allowed(ns_rules[ns], v, k.group, k.resource) for v in ("list", "watch")}, ns)
    for verb, group, resource, sub in EXTRA_PERMISSIONS:
        namespaced = resource != "nodes"
        if namespaced and scope_namespaces and not cluster_ok[(verb, group, resource, sub)]:
            for ns in scope_namespaces:
                row("", group, resource, sub, [verb], {verb: _allowed(ns_rules[ns], verb, group, resource, sub)}, ns)
        else:
            row("", group, resource, sub, [verb], {verb: cluster_ok[(verb, group, resource, sub)]}, "")
    return {"scope": "namespaces" if namespaced_gap and scope_namespaces else "cluster",
            "namespaces": scope_namespaces, "subject": subject, "kinds": kinds, "rows": rows,
            "checked": timezone.now().isoformat()}


def _forbidden_kind_message(kind: str, group: str, resource: str, namespaced: bool, namespaces: list[str]) -> str:
    plural = f"{resource}.{group}" if group else resource
    where = "at the cluster scope"
    if namespaced and namespaces:
        where += f" or in {', '.join(namespaces)}"
    return (f"Not permitted: the identity may not list and watch {plural} {where}. "
            f"{kind} objects are not shown; the cluster's Permissions table has the RBAC rules that grant it.")


def missing_names(permissions: dict[str, Any]) -> list[str]:
    return [permission_name(verb, r["group"], r["resource"], r["subresource"], r["namespace"])
            for r in permissions.get("rows") or [] for verb in r["missing"]]


def check_connection(cluster: Cluster) -> CheckResult:
    """Connectivity, version, node count and the permissions the portal needs (by
    SelfSubjectAccessReview and, for a namespace-scoped identity, SelfSubjectRulesReview), as a
    result the action records."""
    try:
        spec = cluster.connection_spec()
    except DecryptionError as exc:
        return CheckResult(ClusterStatus.ERROR, f"The stored credentials cannot be decrypted ({exc}). "
                                                "Replace them under Credentials.", code="undecryptable")
    timeout = float(getattr(settings, "PORTAL_CLUSTER_CHECK_TIMEOUT", 10.0))
    try:
        with KubeClient(spec, read_timeout=timeout, connect_timeout=min(timeout, 5.0)) as client:
            version = str(client.version().get("gitVersion") or "")
            nodes: int | None
            try:
                nodes = _count(client.list_nodes)
            except Forbidden:  # an identity without node access still gets its missing permissions named
                nodes = None
            permissions = check_permissions(client, namespaces=list(cluster.namespaces or []), timeout=timeout)
    except KubeError as exc:
        explained = explain(exc)
        status = (ClusterStatus.UNAUTHORIZED if isinstance(exc, Unauthorized | Forbidden)
                  else ClusterStatus.UNREACHABLE if isinstance(exc, Unreachable) else ClusterStatus.ERROR)
        return CheckResult(status, explained.message, code=explained.code)
    missing = missing_names(permissions)
    readable = [k for k, plan in permissions["kinds"].items() if plan["scope"] != "none"]
    if not readable:
        return CheckResult(ClusterStatus.UNAUTHORIZED,
                           "The identity may not list and watch anything the portal shows. Grant it the permissions "
                           "in the cluster's Permissions table, list the namespaces it may read, or use other credentials.",
                           version, nodes, missing, code="forbidden", permissions=permissions)
    message = (f"Connected: Kubernetes {version}, {nodes} node{'s' if nodes != 1 else ''}." if nodes is not None
               else f"Connected: Kubernetes {version}, nodes not readable.")
    if permissions["scope"] == "namespaces":
        message += (f" The identity may read only some namespaces; the portal watches "
                    f"{', '.join(permissions['namespaces'])}.")
    if missing:
        shown = ", ".join(missing[:12]) + (f" and {len(missing) - 12} more" if len(missing) > 12 else "")
        message += (f" Missing permissions: {shown}. Those parts of the inventory show \"not permitted\"; the "
                    "cluster's Permissions table has the RBAC rules that grant them.")
    return CheckResult(ClusterStatus.CONNECTED, message, version, nodes, missing,
                       code="connected_partial" if missing else "connected", permissions=permissions)


def check_cluster(cluster_id: int) -> str:
    """Run the check for one cluster and record its result; returns the new status."""
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return "gone"
    if not cluster.enabled:
        return str(cluster.status)
    result = check_connection(cluster)
    if result.status == ClusterStatus.CONNECTED:
        result = dataclasses.replace(result, api_cert_not_after=_api_cert_not_after(cluster))
    actions.record_check_result(cluster_id=cluster_id, result=result)
    return result.status


def _api_cert_not_after(cluster: Cluster) -> datetime | None:
    """When the API server's serving certificate expires (issue 14, alert ``api_cert_expiring``), or None."""
    try:
        spec = cluster.connection_spec()
    except DecryptionError:
        return None
    return serving_cert_not_after(spec, timeout=min(float(getattr(settings, "PORTAL_CLUSTER_CHECK_TIMEOUT", 10.0)),
                                                   5.0))


# ---------------------------------------------------------------------------- node operations

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
RESCUE_GRACE = timedelta(seconds=60)


def drain_timeout() -> float:
    """Seconds a drain may wait for PodDisruptionBudgets before it fails (``PORTAL_DRAIN_TIMEOUT``,
    default 600: ``kubectl drain --timeout``)."""
    return float(getattr(settings, "PORTAL_DRAIN_TIMEOUT", 600.0))


@dataclass(frozen=True)
class DrainPolicy:
    """How a drain paces itself. A drain is a chain of short steps, never a worker held while a
    budget refuses: each step makes one pass of evictions (one attempt per pod). Pods a
    PodDisruptionBudget refuses (429) are asked again by the next step, ``step_delay`` seconds
    later, until ``timeout`` seconds after the first step (default :func:`drain_timeout`); then
    the operation fails naming them. A pass that has taken ``pass_budget`` seconds stops and the
    next step goes on at once, so no step is long however many pods the node has."""

    step_delay: float = 5.0
    timeout: float | None = None
    pass_budget: float = 20.0

    @property
    def seconds(self) -> float:
        return self.timeout if self.timeout is not None else drain_timeout()


@dataclass(frozen=True)
class Step:
    """What one step left: the operation's ``status`` (``gone`` when its row is) and, while the
    operation goes on, ``again_in`` seconds until the next step, which carries number ``step``."""

    status: str
    again_in: float | None = None
    step: int = 0


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


def drain_preview(client: KubeClient, node: str, options: DrainOptions) -> list[dict[str, Any]]:
    """The drain plan for the node's pods as the cluster has them now, read with the view's
    client (:func:`clusters.gateway.live_read`: one attempt, the view's time budget). Raises the
    client layer's typed errors."""
    pods = client.list_pods_on_node(node, attempts=1)
    return drain_plan(pods, options)


def node_operation_step(op_id: int, *, step: int | None = None, policy: DrainPolicy | None = None) -> Step:
    """One short step of a node operation: cordon or uncordon (one step), or one pass of a drain.

    A step whose number is not the operation's is a stale copy and leaves (``step`` None takes
    any: the first task). A finished operation is left alone, and one whose row is gone (its
    cluster deleted) ends the chain: both count as cancelled. Running a step again converges:
    the node is cordoned again and what is still on it is evicted."""
    policy = policy or DrainPolicy()
    op = actions.begin_node_operation_step(op_id=op_id, step=step, timeout=policy.seconds,
                                           busy_for=policy.pass_budget + RESCUE_GRACE.total_seconds())
    if op is None:
        current = NodeOperation.objects.filter(pk=op_id).values_list("status", flat=True).first()
        return Step(str(current or "gone"))
    progress: dict[str, Any] = {"evicted": [], "failed": [], "skipped": [], "remaining": 0, **(op.progress or {})}
    try:
        with KubeClient(op.cluster.connection_spec()) as client:
            unschedulable = op.kind != NodeOperationKind.UNCORDON
            try:
                client.set_unschedulable(op.node, unschedulable)
            except NotFound:
                return _finish(op, progress, NodeOperationStatus.FAILED, f"Node {op.node} no longer exists.",
                               "node_gone", {"node": op.node})
            if op.kind != NodeOperationKind.DRAIN:
                if unschedulable:
                    return _finish(op, progress, NodeOperationStatus.SUCCEEDED,
                                   f"Node {op.node} cordoned: no new pods will be scheduled on it.",
                                   "node_cordoned", {"node": op.node})
                return _finish(op, progress, NodeOperationStatus.SUCCEEDED, f"Node {op.node} uncordoned.",
                               "node_uncordoned", {"node": op.node})
            return _drain_pass(client, op, progress, policy)
    except DecryptionError as exc:
        return _finish(op, progress, NodeOperationStatus.FAILED, f"The stored credentials cannot be decrypted: {exc}",
                       "credentials_undecryptable", {"error": str(exc)})
    except KubeError as exc:
        return _finish(op, progress, NodeOperationStatus.FAILED, f"The cluster did not complete the operation: {exc}",
                       "node_operation_cluster_error", {"error": str(exc)})


def run_node_operation(op_id: int, *, policy: DrainPolicy | None = None) -> str:
    """Every step of a node operation here, one after the other, waiting ``again_in`` between
    them; returns the final status. For tests and the shell: the tasks run one step each and
    re-enqueue the next (:mod:`clusters.tasks`), so no worker waits."""
    outcome = node_operation_step(op_id, policy=policy)
    while outcome.again_in is not None:
        time.sleep(outcome.again_in)
        outcome = node_operation_step(op_id, step=outcome.step, policy=policy)
    return outcome.status


def _drain_pass(client: KubeClient, op: NodeOperation, progress: dict[str, Any], policy: DrainPolicy) -> Step:
    started = time.monotonic()
    pods = client.list_pods_on_node(op.node)
    options = DrainOptions.of(progress.get("options"))
    # As kubectl drain: the node stays cordoned, and nothing is evicted while a pod needs an
    # option that was not given (a bare pod would be gone for good, emptyDir data lost).
    plan = drain_plan(pods, options)
    blocked = [{"pod": row["pod"], "reason": "; ".join(NEED_REASONS[n] for n in row["needs"]
                                                        if not options.allows(n))}
               for row in plan if row["action"] == "blocked"]
    lost = sorted(set(progress.get("lost") or []) | {row["pod"] for row in plan
                                                     if row["action"] == "evict" and row["needs"]})
    if blocked:
        progress.update(blocked=blocked, remaining=0)
        return _finish(op, progress, NodeOperationStatus.FAILED,
                       f"Node {op.node} is cordoned, but the drain stopped before evicting anything: "
                       f"{len(blocked)} pod(s) need an option: "
                       + "; ".join(f"{b['pod']} {b['reason']}" for b in blocked)[:1500],
                       "drain_blocked", {"node": op.node, "count": len(blocked), "pods": [b["pod"] for b in blocked]})
    progress["blocked"] = []
    evicted: list[str] = list(progress["evicted"])
    skipped: list[dict[str, str]] = []
    todo: list[dict[str, Any]] = []
    for pod in pods:
        reason = _skip_reason(pod)
        if reason:
            skipped.append({"pod": _pod_key(pod), "reason": reason})
        elif (pod.get("metadata") or {}).get("deletionTimestamp"):
            if _pod_key(pod) not in evicted:
                evicted.append(_pod_key(pod))  # already going (an earlier step evicted it)
        else:
            todo.append(pod)
    refusals: dict[str, int] = dict(progress.get("refusals") or {})
    failed: list[dict[str, str]] = []  # the cluster refused for good (not a budget): reported at the end
    waiting: list[dict[str, str]] = []  # a budget refused: asked again by the next step
    progress.update(evicted=evicted, skipped=skipped, lost=lost, remaining=len(todo))
    op = actions.update_node_operation(op=op, progress=progress)
    cut_short = False
    for index, pod in enumerate(todo):
        if time.monotonic() - started > policy.pass_budget:
            cut_short = True  # the rest in the next step, at once
            waiting.extend({"pod": _pod_key(p), "reason": "not asked yet"} for p in todo[index:])
            break
        key = _pod_key(pod)
        meta = pod.get("metadata") or {}
        try:
            client.evict_pod(str(meta.get("name")), str(meta.get("namespace")))
            evicted.append(key)
        except NotFound:
            evicted.append(key)  # already gone
        except TooManyRequests as exc:
            refusals[key] = refusals.get(key, 0) + 1
            waiting.append({"pod": key, "reason": str(exc)})
        except KubeError as exc:
            failed.append({"pod": key, "reason": f"Eviction failed: {exc}"})
        progress.update(evicted=evicted, remaining=len(todo) - index - 1)
    progress.update(evicted=evicted, failed=failed, waiting=waiting, refusals=refusals, remaining=len(waiting))
    if waiting:
        left = (op.deadline - timezone.now()).total_seconds() if op.deadline else 0.0
        if left > 0:
            again_in = 0.0 if cut_short else min(policy.step_delay, left)
            refused = [w["pod"] for w in waiting if w["reason"] != "not asked yet"]
            message = (f"Node {op.node} is cordoned; {len(evicted)} pod(s) evicted. "
                       + (f"A PodDisruptionBudget does not allow evicting {', '.join(refused)}"[:1000]
                          + f" yet; asking again every {policy.step_delay:g} s for up to "
                            f"{max(int(left), 0)} s more." if refused else
                          f"{len(waiting)} pod(s) still to evict."))
            code, params = (("drain_waiting", {"node": op.node, "evicted": len(evicted), "pods": refused,
                                               "every": policy.step_delay, "seconds_left": max(int(left), 0)})
                            if refused else ("drain_continuing", {"node": op.node, "evicted": len(evicted),
                                                                  "remaining": len(waiting)}))
            next_step = actions.schedule_node_operation_step(op=op, again_in=again_in, progress=progress,
                                                             message=message, code=code, params=params)
            if next_step is None:  # another copy of this step scheduled the next one
                return Step(str(op.status))
            return Step(str(op.status), again_in=again_in, step=next_step)
        timeout = int(policy.seconds)
        failed = failed + [{"pod": w["pod"], "reason": (
            f"A PodDisruptionBudget did not allow evicting it within the drain's {timeout} s "
            f"(refused {refusals.get(w['pod'], 0)} time(s)): {w['reason']}" if w["pod"] in refusals
            else f"The drain's {timeout} s passed before it was evicted.")} for w in waiting]
        progress.update(failed=failed, waiting=[], remaining=0)
        return _finish(op, progress, NodeOperationStatus.FAILED,
                       f"Node {op.node} is cordoned; {len(evicted)} pod(s) evicted, {len(failed)} could not be "
                       f"within {timeout} s: " + "; ".join(f"{f['pod']}: {f['reason']}" for f in failed)[:1500],
                       "drain_deadline_passed", {"node": op.node, "evicted": len(evicted), "seconds": timeout,
                                                 "pods": [f["pod"] for f in failed]})
    progress.update(waiting=[])
    if failed:
        return _finish(op, progress, NodeOperationStatus.FAILED,
                       f"Node {op.node} is cordoned; {len(evicted)} pod(s) evicted, {len(failed)} could not be: "
                       + "; ".join(f"{f['pod']}: {f['reason']}" for f in failed)[:1500],
                       "drain_failed", {"node": op.node, "evicted": len(evicted), "pods": [f["pod"] for f in failed]})
    return _finish(op, progress, NodeOperationStatus.SUCCEEDED,
                   f"Node {op.node} is cordoned and drained: {len(evicted)} pod(s) evicted"
                   + (f", {len(skipped)} DaemonSet/mirror pod(s) left in place." if skipped else ".")
                   + (f" Evicted as asked although not recreated or losing emptyDir data: {', '.join(lost)}."[:800]
                      if lost else ""),
                   "drain_succeeded", {"node": op.node, "evicted": len(evicted), "skipped": len(skipped), "lost": lost})


def _finish(op: NodeOperation, progress: dict[str, Any], status: str, message: str, code: str,
            params: dict[str, Any]) -> Step:
    actions.finish_node_operation(op=op, status=status, message=message, progress=progress, code=code, params=params)
    return Step(status)


def overdue_node_operations() -> list[tuple[str, int, int | None]]:
    """(task name, id, step) of node operations whose chain of steps looks lost: running with its next step
    overdue by more than a minute (the worker died, or the broker refused the next step), or
    pending for more than a minute (its first task never arrived). The beat enqueues them again;
    a step past the deadline fails the drain with its message."""
    now = timezone.now()
    running = NodeOperation.objects.filter(status=NodeOperationStatus.RUNNING, next_step_at__lt=now - RESCUE_GRACE)
    pending = NodeOperation.objects.filter(status=NodeOperationStatus.PENDING, created__lt=now - RESCUE_GRACE,
                                           created__gt=now - actions.PENDING_GRACE)
    return [(_task_of(kind), pk, step) for pk, kind, step in running.values_list("pk", "kind", "step")] + [
        (_task_of(kind), pk, None) for pk, kind in pending.values_list("pk", "kind")]


def _task_of(kind: str) -> str:
    return "clusters.drain_step" if kind == NodeOperationKind.DRAIN else "clusters.run_node_operation"


# ---------------------------------------------------------------------------- live detail


def fetch_pod(client: KubeClient, *, namespace: str, name: str) -> dict[str, Any]:
    """The full Pod, fetched live for a detail view with the view's client
    (:func:`clusters.gateway.live_read`: one attempt, the view's time budget), without
    ``managedFields``. Raises the client layer's typed errors."""
    body = client.read_pod(name, namespace, attempts=1)
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

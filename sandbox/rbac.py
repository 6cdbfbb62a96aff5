"""RBAC authorization and ServiceAccount tokens, as kube-apiserver does them.

Why: a portal given a credential limited to a few namespaces must be tested against a server
that says no the way a real one does. So a non-admin identity (a ServiceAccount token from the
TokenRequest API, or a client certificate without ``system:masters``) may do exactly what the
Roles/ClusterRoles bound to it (RoleBindings/ClusterRoleBindings created through the API) allow,
and everything else is a 403 worded like the API server's RBAC denial. Self-subject access and
rules reviews answer from the same rules.

Not modelled: aggregated ClusterRoles (``aggregationRule``), the escalation check on writing
roles, and ``nonResourceURLs`` (every authenticated identity may read discovery and ``/version``,
as the ``system:discovery`` binding allows on a real cluster).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from sandbox.resources import CLUSTERROLEBINDINGS, CLUSTERROLES, ROLEBINDINGS, ROLES, SECRETS, SERVICEACCOUNTS

SA_PREFIX = "system:serviceaccount:"
SIGNING_SECRET = "sandbox-serviceaccount-signing-key"  # in kube-system: survives restarts with the store
DEFAULT_TOKEN_SECONDS = 3600
MAX_TOKEN_SECONDS = 48 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signing_key(store: Any) -> bytes:
    """The key ServiceAccount tokens are signed with, kept as a Secret (created on first use)."""
    existing = store.get(SECRETS, "kube-system", SIGNING_SECRET)
    if existing is None:
        key = secrets.token_bytes(32)
        store.create(SECRETS, {"metadata": {"name": SIGNING_SECRET, "namespace": "kube-system"},
                               "type": "Opaque", "data": {"key": base64.b64encode(key).decode()}}, _owned=True)
        return key
    return base64.b64decode((existing.get("data") or {}).get("key") or "")


def issue_token(store: Any, namespace: str, name: str, *, seconds: int | None = None) -> tuple[str, int]:
    """A bound token for ServiceAccount ``namespace/name`` (a JWT signed with HS256), and its
    expiry as a Unix time. The ServiceAccount must exist; the token dies with it."""
    sa = store.get(SERVICEACCOUNTS, namespace, name)
    if sa is None:
        raise LookupError(f'serviceaccounts "{name}" not found')
    now = int(time.time())
    lifetime = max(600, min(int(seconds or DEFAULT_TOKEN_SECONDS), MAX_TOKEN_SECONDS))
    claims = {"iss": "https://kubernetes.default.svc.cluster.local", "aud": ["https://kubernetes.default.svc"],
              "sub": f"{SA_PREFIX}{namespace}:{name}", "iat": now, "nbf": now, "exp": now + lifetime,
              "kubernetes.io": {"namespace": namespace,
                                "serviceaccount": {"name": name, "uid": sa["metadata"].get("uid", "")}}}
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = _b64(hmac.new(_signing_key(store), f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}", now + lifetime


def token_identity(store: Any, token: str) -> tuple[str, tuple[str, ...]] | None:
    """(user, groups) of a valid ServiceAccount token, or None (bad signature, expired, or its
    ServiceAccount deleted or recreated)."""
    parts = token.split(".")
    if len(parts) != 3 or store.get(SECRETS, "kube-system", SIGNING_SECRET) is None:
        return None
    expected = _b64(hmac.new(_signing_key(store), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, parts[2]):
        return None
    try:
        claims = json.loads(_unb64(parts[1]))
        info = claims["kubernetes.io"]
        namespace, name, uid = info["namespace"], info["serviceaccount"]["name"], info["serviceaccount"]["uid"]
    except (ValueError, KeyError, TypeError):
        return None
    if int(claims.get("exp") or 0) < time.time():
        return None
    sa = store.get(SERVICEACCOUNTS, namespace, name)
    if sa is None or sa["metadata"].get("uid", "") != uid:
        return None
    return f"{SA_PREFIX}{namespace}:{name}", ("system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                                             "system:authenticated")


# ------------------------------------------------------------------ authorization


def _subject_matches(subject: dict[str, Any], user: str, groups: tuple[str, ...], binding_ns: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user
    if kind == "Group":
        return name in groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return user == f"{SA_PREFIX}{ns}:{name}"
    return False


def _role_rules(store: Any, ref: dict[str, Any], binding_ns: str | None) -> list[dict[str, Any]]:
    if ref.get("kind") == "ClusterRole":
        role = store.get(CLUSTERROLES, None, str(ref.get("name") or ""))
    elif ref.get("kind") == "Role" and binding_ns:
        role = store.get(ROLES, binding_ns, str(ref.get("name") or ""))
    else:
        role = None
    return list((role or {}).get("rules") or [])


def rules_for(store: Any, user: str, groups: tuple[str, ...], namespace: str | None) -> list[dict[str, Any]]:
    """Every rule that applies to the identity in ``namespace`` (None: the cluster scope only)."""
    rules: list[dict[str, Any]] = []
    bindings, _ = store.list(CLUSTERROLEBINDINGS)
    for b in bindings:
        if any(_subject_matches(s, user, groups, "") for s in b.get("subjects") or []):
            rules += _role_rules(store, b.get("roleRef") or {}, None)
    if namespace:
        bindings, _ = store.list(ROLEBINDINGS, namespace)
        for b in bindings:
            if any(_subject_matches(s, user, groups, namespace) for s in b.get("subjects") or []):
                rules += _role_rules(store, b.get("roleRef") or {}, namespace)
    return rules


def _rule_allows(rule: dict[str, Any], verb: str, group: str, resource: str, sub: str, name: str) -> bool:
    if "resources" not in rule:
        return False  # a nonResourceURLs rule
    verbs, groups, resources = rule.get("verbs") or [], rule.get("apiGroups") or [], rule.get("resources") or []
    if "*" not in verbs and verb not in verbs:
        return False
    if "*" not in groups and group not in groups:
        return False
    full = f"{resource}/{sub}" if sub else resource
    if "*" not in resources and full not in resources and not (sub and f"*/{sub}" in resources):
        return False
    names = rule.get("resourceNames") or []
    return not names or (bool(name) and name in names)


def allows(store: Any, user: str, groups: tuple[str, ...], *, verb: str, group: str, resource: str,
           sub: str = "", namespace: str | None = None, name: str = "") -> bool:
    """Whether RBAC lets the identity do ``verb`` on ``resource`` (in ``namespace``, or at the cluster
    scope when None)."""
    return any(_rule_allows(r, verb, group, resource, sub, name)
               for r in rules_for(store, user, groups, namespace))


def denial(user: str, *, verb: str, group: str, resource: str, sub: str = "", namespace: str | None = None,
           name: str = "") -> str:
    """The API server's wording of an RBAC denial."""
    plural = f"{resource}.{group}" if group else resource
    what = f'{plural} "{name}"' if name else plural
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    full = f"{resource}/{sub}" if sub else resource
    return f'{what} is forbidden: User "{user}" cannot {verb} resource "{full}" in API group "{group}" {scope}'


def rules_review(store: Any, user: str, groups: tuple[str, ...], namespace: str) -> dict[str, Any]:
    """The ``status`` of a SelfSubjectRulesReview for ``namespace``: the resource rules that apply
    there (cluster-wide bindings included), as the API server lists them."""
    rules = []
    for r in rules_for(store, user, groups, namespace or None):
        if "resources" not in r:
            continue
        out = {"verbs": list(r.get("verbs") or []), "apiGroups": list(r.get("apiGroups") or []),
               "resources": list(r.get("resources") or [])}
        if r.get("resourceNames"):
            out["resourceNames"] = list(r["resourceNames"])
        rules.append(out)
    # What every authenticated identity may do (system:basic-user).
    rules.append({"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                  "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]})
    return {"resourceRules": rules,
            "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*",
                                                                         "/healthz", "/livez", "/readyz",
                                                                         "/version", "/version/"]}],
            "incomplete": False}

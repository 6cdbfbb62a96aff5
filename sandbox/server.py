"""The Kubernetes REST API of one simulated cluster, as an aiohttp application.

Routing, content negotiation, auth (bearer token or X.509 client certificate, see
:class:`Identity`), fault injection, discovery, list/watch
streaming and the special subresources (scale, status, log, eviction, binding; exec in
:mod:`sandbox.exec_ws`)
live here; all state changes go through :class:`sandbox.store.Store`, so
HTTP clients and controllers see one consistent cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from aiohttp import web

from sandbox import crds, discovery, disruption, rbac
from sandbox.errors import (
    ApiError,
    BadRequest,
    Forbidden,
    Gone,
    InternalError,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    not_found,
)
from sandbox.patch import PATCH_TYPES, unsupported_media_type
from sandbox.protobuf import decode_k8s_protobuf
from sandbox.resources import NODES, PODS, ResourceType, by_gvr
from sandbox.selectors import parse_label_selector, selector_from_match
from sandbox.store import Watcher, WatchEvent, dumps, loads, now_iso
from sandbox.tables import table

if TYPE_CHECKING:
    from sandbox.cluster import SimCluster

log = logging.getLogger(__name__)

MAX_BODY = 3 * 1024 * 1024
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
MASTERS = "system:masters"
IDENTITY_KEY = "sandbox.identity"


@dataclass(frozen=True)
class Identity:
    """Who a request is.  The cluster token and client certificates whose O includes
    ``system:masters`` are admins and may do everything; any other certificate signed by the
    sandbox CA, and every ServiceAccount token, is authenticated and may do what RBAC allows it
    (:mod:`sandbox.rbac`), plus discovery, ``/version`` and self-subject reviews."""

    user: str
    groups: tuple[str, ...]

    @property
    def admin(self) -> bool:
        return MASTERS in self.groups


TOKEN_IDENTITY = Identity("sandbox-admin", (MASTERS, "system:authenticated"))


def certificate_identity(peercert: Any) -> Identity | None:
    """The identity of a verified client certificate (``SSLObject.getpeercert()`` form):
    user = subject CN, groups = subject O values, as kube-apiserver maps them."""
    if not isinstance(peercert, dict) or not peercert.get("subject"):
        return None
    user, groups = "", []
    for rdn in peercert["subject"]:
        for key, value in rdn:
            if key == "commonName":
                user = value
            elif key == "organizationName":
                groups.append(value)
    if not user:
        return None
    return Identity(user, (*groups, "system:authenticated"))
_NOT_FOUND_MSG = "the server could not find the requested resource"


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(obj), status=status, content_type="application/json", headers=headers)


def raw_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json")


def status_response(err: ApiError) -> web.Response:
    return json_response(err.status(), err.code, headers=err.headers or None)


def success_status(code: int = 200, details: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details:
        out["details"] = details
    if code != 200:
        out["code"] = code
    return out


def _bool(v: str | None) -> bool:
    return (v or "").lower() in ("1", "true", "yes")


def _int(v: str | None, name: str) -> int | None:
    if v in (None, ""):
        return None
    try:
        return int(str(v))
    except ValueError as exc:
        raise BadRequest(f"invalid value for {name}: {v!r}") from exc


def wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "as=Table" in accept


# ---------------------------------------------------------------- events.k8s.io conversion


def core_event_to_v1(o: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": o["metadata"],
                           "eventTime": o.get("eventTime"),
                           "reportingController": o.get("reportingComponent") or (o.get("source") or {}).get(
                               "component", ""),
                           "reportingInstance": o.get("reportingInstance") or (o.get("source") or {}).get("host", ""),
                           "action": o.get("action", ""), "reason": o.get("reason", ""),
                           "regarding": o.get("involvedObject", {}), "note": o.get("message", ""),
                           "type": o.get("type", "")}
    for src, dst in (("related", "related"), ("series", "series"), ("source", "deprecatedSource"),
                     ("firstTimestamp", "deprecatedFirstTimestamp"), ("lastTimestamp", "deprecatedLastTimestamp"),
                     ("count", "deprecatedCount")):
        if o.get(src) is not None:
            out[dst] = o[src]
    return out


def v1_event_to_core(o: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "Event", "apiVersion": "v1", "metadata": o.get("metadata") or {},
                           "involvedObject": o.get("regarding") or {}, "reason": o.get("reason", ""),
                           "message": o.get("note", ""), "type": o.get("type", ""),
                           "reportingComponent": o.get("reportingController", ""),
                           "reportingInstance": o.get("reportingInstance", ""), "action": o.get("action", "")}
    if o.get("eventTime"):
        out["eventTime"] = o["eventTime"]
    for src, dst in (("related", "related"), ("series", "series"), ("deprecatedSource", "source"),
                     ("deprecatedFirstTimestamp", "firstTimestamp"), ("deprecatedLastTimestamp", "lastTimestamp"),
                     ("deprecatedCount", "count")):
        if o.get(src) is not None:
            out[dst] = o[src]
    return out


class ApiHandler:
    """Callable aiohttp handler bound to one cluster."""

    def __init__(self, cluster: SimCluster) -> None:
        self.cluster = cluster

    @property
    def store(self) -> Any:
        return self.cluster.store

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        try:
            early = await self._faults(request)
            if early is not None:
                return early
            if request.path not in PUBLIC_PATHS:
                request[IDENTITY_KEY] = self._auth(request)
            return await self._dispatch(request)
        except ApiError as err:
            return status_response(err)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug must not take the sandbox down
            log.exception("internal error on %s %s", request.method, request.path)
            return status_response(InternalError(f"Internal error occurred: {exc}"))

    # ------------------------------------------------------------ faults & auth

    async def _faults(self, request: web.Request) -> web.StreamResponse | None:
        f = self.cluster.faults
        if f.blackhole:
            release = self.cluster.blackhole_release
            await release.wait()
            if request.transport is not None:
                request.transport.close()
            raise ConnectionResetError("blackholed request released")
        if f.latency_ms > 0:
            await asyncio.sleep(f.latency_ms / 1000.0)
        if f.error_rate > 0 and random.random() < f.error_rate and f.error_codes:
            code = random.choice(f.error_codes)
            headers = {"Retry-After": str(f.retry_after)}
            if code == 429:
                err: ApiError = TooManyRequests("Too many requests, please try again later.",
                                                details={"retryAfterSeconds": f.retry_after}, headers=headers)
            elif code == 503:
                err = ServiceUnavailable("the server is currently unable to handle the request",
                                         details={"retryAfterSeconds": f.retry_after}, headers=headers)
            else:
                err = InternalError("Internal error occurred: injected fault")
                err.code = code
            return status_response(err)
        return None

    def _auth(self, request: web.Request) -> Identity:
        """The cluster token, else a client certificate the TLS layer verified against the CA
        (rotating the token leaves certificates valid); neither is 401."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.cluster.token.encode()):
            return TOKEN_IDENTITY
        if scheme.lower() == "bearer" and token.strip():
            found = rbac.token_identity(self.store, token.strip())  # a ServiceAccount token
            if found is None:
                raise Unauthorized("Unauthorized")
            return Identity(*found)
        peercert = request.transport.get_extra_info("peercert") if request.transport is not None else None
        identity = certificate_identity(peercert)
        if identity is None:
            raise Unauthorized("Unauthorized")
        return identity

    def _forbid(self, request: web.Request, rt: ResourceType, ns: str | None, name: str | None,
                sub: str | None, *, verb: str | None = None) -> None:
        """403 for a non-admin identity unless its Roles/ClusterRoles allow the request
        (:mod:`sandbox.rbac`), worded like the API server's RBAC denial."""
        identity: Identity = request.get(IDENTITY_KEY, TOKEN_IDENTITY)
        if identity.admin or rt.group == "authorization.k8s.io":
            return
        m = request.method
        if verb is not None:
            pass
        elif m in ("GET", "HEAD"):
            verb = "get" if name else ("watch" if _bool(request.query.get("watch")) else "list")
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(m, "delete")
            if m == "DELETE" and not name:
                verb = "deletecollection"
        if rt.plural == "namespaces" and not rt.group and name:
            ns = name  # the API server authorizes a namespace's own object within it
        if rbac.allows(self.store, identity.user, identity.groups, verb=verb, group=rt.group, resource=rt.plural,
                       sub=sub or "", namespace=ns, name=name or ""):
            return
        raise Forbidden(rbac.denial(identity.user, verb=verb, group=rt.group, resource=rt.plural, sub=sub or "",
                                    namespace=ns, name=name or ""),
                        details={"name": name or "", "group": rt.group, "kind": rt.plural})

    # ------------------------------------------------------------ routing

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        segs = [s for s in path.split("/") if s]
        if path in PUBLIC_PATHS or (segs and segs[0] in ("healthz", "livez", "readyz")):
            return web.Response(text="ok")
        if request.method not in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
            raise MethodNotAllowed("the server does not allow this method on the requested resource")
        if path == "/version":
            return json_response(self.cluster.version_info())
        if segs[:1] == ["openapi"]:
            return discovery.openapi(request, segs, self.cluster)
        if segs in (["api"], ["apis"]) and request.method in ("GET", "HEAD"):
            agg = discovery.aggregated_version(request.headers.get("Accept", ""))
            if agg is not None:  # aggregated discovery, as kube-apiserver 1.26+ serves it
                body = discovery.aggregated(self.store, core=segs == ["api"], version=agg)
                return web.Response(body=dumps(body), headers={"Content-Type": discovery.AGGREGATED_V2 if agg == "v2"
                                                               else discovery.AGGREGATED_V2BETA1})
        if segs == ["api"]:
            return json_response(discovery.api_versions(self.cluster))
        if segs == ["apis"]:
            return json_response(discovery.api_group_list(self.store))
        if segs[:1] == ["api"] and len(segs) >= 2:
            group, version, rest = "", segs[1], segs[2:]
        elif segs[:1] == ["apis"] and len(segs) >= 3:
            group, version, rest = segs[1], segs[2], segs[3:]
        elif segs[:1] == ["apis"] and len(segs) == 2:
            g = discovery.api_group(segs[1], self.store)
            if g is None:
                raise NotFound(_NOT_FOUND_MSG)
            return json_response(g)
        else:
            raise NotFound(_NOT_FOUND_MSG)
        if not rest:
            rl = discovery.resource_list(group, version, self.store)
            if rl is None:
                raise NotFound(_NOT_FOUND_MSG)
            return json_response(rl)
        ns: str | None = None
        name: str | None
        sub: str | None
        if rest[0] == "namespaces" and len(rest) >= 3 and not group and rest[2] in ("status", "finalize") \
                and len(rest) == 3:
            plural, name, sub = "namespaces", rest[1], rest[2]
        elif rest[0] == "namespaces" and len(rest) >= 3:
            ns = rest[1]
            plural = rest[2]
            name = rest[3] if len(rest) >= 4 else None
            sub = rest[4] if len(rest) >= 5 else None
            if len(rest) > 5:
                raise NotFound(_NOT_FOUND_MSG)
        else:
            plural = rest[0]
            name = rest[1] if len(rest) >= 2 else None
            sub = rest[2] if len(rest) >= 3 else None
            if len(rest) > 3:
                raise NotFound(_NOT_FOUND_MSG)
        rt = by_gvr(group, version, plural) or crds.lookup_custom(self.store, group, version, plural)
        if rt is None or (ns is not None and not rt.namespaced):
            raise NotFound(_NOT_FOUND_MSG)
        if sub == "exec" and rt.plural == "pods" and not rt.group and name is not None:
            if ns is None:
                raise NotFound(_NOT_FOUND_MSG)
            if request.method not in ("GET", "POST"):
                raise MethodNotAllowed("the server does not allow this method on the requested resource")
            # POST (SPDY) and GET (WebSocket) both need "create" on pods/exec, as kube-apiserver
            # authorizes WebSocket upgrades (AuthorizePodWebsocketUpgradeCreatePermission)
            self._forbid(request, rt, ns, name, sub, verb="create")
            return await self._exec(request, ns, name)
        if sub in ("attach", "portforward", "proxy") and rt.plural in ("pods", "services", "nodes"):
            raise BadRequest(f"{sub} is not supported by the sandbox: its containers are simulated and there is "
                             "nothing to connect to")
        if sub is not None and sub not in rt.subresources:
            raise NotFound(_NOT_FOUND_MSG)
        self._forbid(request, rt, ns, name, sub)
        if not rt.stored:
            return await self._virtual(request, rt, ns, name)
        if sub is not None:
            assert name is not None
            return await self._subresource(request, rt, ns, name, sub)
        if name is None:
            return await self._collection(request, rt, ns)
        return await self._object(request, rt, ns, name)

    def _require_verb(self, rt: ResourceType, verb: str) -> None:
        if verb not in rt.verbs:
            raise MethodNotAllowed("the server does not allow this method on the requested resource")

    # ------------------------------------------------------------ bodies

    async def _read_body(self, request: web.Request) -> bytes:
        length = request.content_length
        if length is not None and length > MAX_BODY:
            raise RequestEntityTooLarge(f"Request entity too large: limit is {MAX_BODY}")
        # ``read(n)`` answers with what has arrived (up to n), not with n bytes: a body that
        # comes in several TLS records is read until its end, as the API server does.
        body = bytearray()
        while len(body) <= MAX_BODY:
            piece = await request.content.read(MAX_BODY + 1 - len(body))
            if not piece:
                break
            body += piece
        if len(body) > MAX_BODY:
            raise RequestEntityTooLarge(f"Request entity too large: limit is {MAX_BODY}")
        return bytes(body)

    async def _decode(self, request: web.Request, *, allow_yaml: bool = True) -> Any:
        body = await self._read_body(request)
        ctype = request.content_type or "application/json"
        if ctype == "application/vnd.kubernetes.protobuf":
            return decode_k8s_protobuf(body)
        if not body.strip():
            raise BadRequest("Object 'Kind' is missing in ''")
        try:
            return json.loads(body)
        except ValueError as exc:
            if allow_yaml and ("yaml" in ctype or ctype == "application/apply-patch+yaml"):
                try:
                    return yaml.safe_load(body)
                except yaml.YAMLError as yexc:
                    raise BadRequest(f"error converting YAML to JSON: {yexc}") from yexc
            raise BadRequest(f"couldn't get version/kind; json parse error: {exc}") from exc

    def _check_body_type(self, rt: ResourceType, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadRequest("couldn't get version/kind; json parse error: json: cannot unmarshal array into Go "
                             "value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind "
                             "string \"json:\\\"kind,omitempty\\\"\" }")
        kind = body.get("kind")
        api_version = body.get("apiVersion")
        if not kind:
            # like the apiserver, the endpoint's kind is the default for a body without one
            body["kind"] = kind = rt.kind
            body.setdefault("apiVersion", rt.api_version)
        if api_version and api_version != rt.api_version:
            raise BadRequest(f"the API version in the data ({api_version}) does not match the expected API "
                             f"version ({rt.api_version})")
        if kind != rt.kind:
            raise BadRequest(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
                             if api_version == rt.api_version or not api_version else
                             f"no kind \"{kind}\" is registered for version \"{api_version}\"")
        return body

    @staticmethod
    def _dry_run(request: web.Request) -> bool:
        vals = request.query.getall("dryRun", [])
        for v in vals:
            if v != "All":
                raise BadRequest(f'dryRun: Unsupported value: "{v}": supported values: "All"')
        return bool(vals)

    @staticmethod
    def _field_manager(request: web.Request) -> str:
        fm = request.query.get("fieldManager")
        if fm:
            if len(fm) > 128:
                raise BadRequest("fieldManager: Too long: may not be longer than 128")
            return fm
        ua = request.headers.get("User-Agent", "")
        return ua.split("/", 1)[0] or "unknown"

    @staticmethod
    def _check_field_validation(request: web.Request) -> None:
        fv = request.query.get("fieldValidation")
        if fv not in (None, "", "Strict", "Warn", "Ignore"):
            raise BadRequest(f"fieldValidation: Unsupported value: \"{fv}\": supported values: \"Ignore\", "
                             "\"Strict\", \"Warn\"")

    @staticmethod
    def _field_selector(rt: ResourceType, text: str | None) -> str | None:
        """events.k8s.io names some selectable fields differently from the core events they are stored as."""
        if not text or rt.group != "events.k8s.io":
            return text
        return (text.replace("regarding.", "involvedObject.").replace("reportingController", "reportingComponent")
                .replace("deprecatedSource", "source"))

    # ------------------------------------------------------------ output

    def _out(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if rt.group == "events.k8s.io":
            return core_event_to_v1(obj)
        return obj

    def _in(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if rt.group == "events.k8s.io":
            return v1_event_to_core(obj)
        return obj

    def _object_response(self, request: web.Request, rt: ResourceType, obj: dict[str, Any],
                         status: int = 200) -> web.Response:
        if wants_table(request):
            return json_response(table(rt, [obj], resource_version=obj["metadata"].get("resourceVersion", ""),
                                       include_object=request.query.get("includeObject", "PartialObjectMetadata")),
                                 status)
        return json_response(self._out(rt, obj), status)

    # ------------------------------------------------------------ collection

    async def _collection(self, request: web.Request, rt: ResourceType, ns: str | None) -> web.StreamResponse:
        m = request.method
        if m in ("GET", "HEAD"):
            if _bool(request.query.get("watch")):
                self._require_verb(rt, "watch")
                return await self._watch(request, rt, ns)
            self._require_verb(rt, "list")
            return self._list(request, rt, ns)
        if m == "POST":
            self._require_verb(rt, "create")
            if rt.namespaced and ns is None:
                raise MethodNotAllowed("the server does not allow this method on the requested resource")
            return await self._create(request, rt, ns)
        if m == "DELETE":
            self._require_verb(rt, "deletecollection")
            opts = await self._delete_options(request)
            deleted = self.store.delete_collection(
                rt, ns, label_selector=request.query.get("labelSelector"),
                field_selector=request.query.get("fieldSelector"),
                dry_run=opts.pop("dry_run", False) or self._dry_run(request), **opts)
            return json_response({"kind": rt.list_kind_name, "apiVersion": rt.api_version,
                                  "metadata": {"resourceVersion": str(self.store.resource_version)},
                                  "items": [self._out(rt, o) for o in deleted]})
        raise MethodNotAllowed("the server does not allow this method on the requested resource")

    def _list(self, request: web.Request, rt: ResourceType, ns: str | None) -> web.Response:
        q = request.query
        limit = _int(q.get("limit"), "limit")
        page = self.store.list_raw(rt, ns, q.get("labelSelector"), self._field_selector(rt, q.get("fieldSelector")),
                                   limit=limit if limit and limit > 0 else None,
                                   continue_token=q.get("continue") or None)
        if wants_table(request):
            objs = [loads(r) for r in page.items]
            return json_response(table(rt, objs, resource_version=str(page.resource_version),
                                       continue_token=page.continue_token,
                                       include_object=q.get("includeObject", "PartialObjectMetadata"),
                                       remaining=page.remaining))
        md: dict[str, Any] = {"resourceVersion": str(page.resource_version)}
        if page.continue_token:
            md["continue"] = page.continue_token
        if page.remaining is not None:
            md["remainingItemCount"] = page.remaining
        if rt.group == "events.k8s.io":
            items = [dumps(core_event_to_v1(loads(r))) for r in page.items]
        else:
            items = page.items
        head = (b'{"kind":"' + rt.list_kind_name.encode() + b'","apiVersion":"' + rt.api_version.encode()
                + b'","metadata":' + dumps(md) + b',"items":[')
        return raw_response(head + b",".join(items) + b"]}")

    async def _create(self, request: web.Request, rt: ResourceType, ns: str | None) -> web.Response:
        self._check_field_validation(request)
        body = self._check_body_type(rt, await self._decode(request))
        body = self._in(rt, body)
        md = body.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise BadRequest("metadata must be an object")
        if rt.namespaced:
            if md.get("namespace") and md["namespace"] != ns:
                raise BadRequest("the namespace of the provided object does not match the namespace sent on the "
                                 "request")
            md["namespace"] = ns
        obj = self.store.create(rt, body, dry_run=self._dry_run(request),
                                field_manager=self._field_manager(request), _owned=True)
        return self._object_response(request, rt, obj, 201)

    # ------------------------------------------------------------ object

    async def _object(self, request: web.Request, rt: ResourceType, ns: str | None, name: str) -> web.StreamResponse:
        m = request.method
        if m in ("GET", "HEAD"):
            self._require_verb(rt, "get")
            raw = self.store.get_raw(rt, ns, name)
            if raw is None:
                raise not_found(rt, name)
            if wants_table(request) or rt.group == "events.k8s.io":
                return self._object_response(request, rt, loads(raw))
            return raw_response(raw)
        if m == "PUT":
            self._require_verb(rt, "update")
            return await self._update(request, rt, ns, name, None)
        if m == "PATCH":
            self._require_verb(rt, "patch")
            return await self._patch(request, rt, ns, name, None)
        if m == "DELETE":
            self._require_verb(rt, "delete")
            opts = await self._delete_options(request)
            # dryRun may come in the query or in the DeleteOptions body (kubectl --dry-run=server)
            obj = self.store.delete(rt, ns, name, dry_run=opts.pop("dry_run", False) or self._dry_run(request),
                                    **opts)
            if obj["metadata"].get("deletionTimestamp") and self.store.get_raw(rt, ns, name) is not None:
                return self._object_response(request, rt, obj, 200)
            details: dict[str, Any] = {"name": name, "kind": rt.plural, "uid": obj["metadata"].get("uid", "")}
            if rt.group:
                details["group"] = rt.group
            return json_response(success_status(200, details))
        raise MethodNotAllowed("the server does not allow this method on the requested resource")

    async def _update(self, request: web.Request, rt: ResourceType, ns: str | None, name: str,
                      sub: str | None) -> web.Response:
        self._check_field_validation(request)
        body = self._in(rt, self._check_body_type(rt, await self._decode(request)))
        md = body.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise BadRequest("metadata must be an object")
        if md.get("name") and md["name"] != name:
            raise BadRequest(f"the name of the object ({md['name']}) does not match the name on the URL ({name})")
        md["name"] = name
        if rt.namespaced:
            if md.get("namespace") and md["namespace"] != ns:
                raise BadRequest("the namespace of the provided object does not match the namespace sent on the "
                                 "request")
            md["namespace"] = ns
        if sub == "finalize":  # namespaces/<name>/finalize: only spec.finalizers
            return self._object_response(request, rt, self.store.finalize_namespace(
                body, dry_run=self._dry_run(request)))
        obj = self.store.update(rt, body, subresource=sub, dry_run=self._dry_run(request),
                                field_manager=self._field_manager(request), _owned=True)
        return self._object_response(request, rt, obj)

    async def _patch(self, request: web.Request, rt: ResourceType, ns: str | None, name: str,
                     sub: str | None) -> web.Response:
        self._check_field_validation(request)
        ctype = request.content_type
        if ctype not in PATCH_TYPES:
            raise unsupported_media_type(ctype)
        body = await self._decode(request, allow_yaml=ctype == "application/apply-patch+yaml")
        is_apply = ctype == "application/apply-patch+yaml"
        if is_apply:
            body = self._check_body_type(rt, body)
            body = self._in(rt, body)
        force = _bool(request.query.get("force"))
        if force and not is_apply:
            raise BadRequest("force: Invalid value: true: may not be specified for non-apply patch")
        existed = self.store.get_raw(rt, ns, name) is not None
        fm = request.query.get("fieldManager") if is_apply else self._field_manager(request)
        obj = self.store.patch(rt, ns, name, ctype, body, subresource=sub, field_manager=fm, force=force,
                               dry_run=self._dry_run(request))
        return self._object_response(request, rt, obj, 200 if existed else 201)

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        q = request.query
        opts: dict[str, Any] = {"propagation_policy": q.get("propagationPolicy") or None,
                                "grace_period_seconds": _int(q.get("gracePeriodSeconds"), "gracePeriodSeconds")}
        if _bool(q.get("orphanDependents")):
            opts["propagation_policy"] = "Orphan"
        if request.can_read_body:
            raw = await self._read_body(request)
            if raw.strip():
                try:
                    body = (decode_k8s_protobuf(raw) if request.content_type == "application/vnd.kubernetes.protobuf"
                            else json.loads(raw))
                except ValueError as exc:
                    raise BadRequest(f"couldn't get version/kind; json parse error: {exc}") from exc
                if isinstance(body, dict):
                    if body.get("propagationPolicy"):
                        opts["propagation_policy"] = body["propagationPolicy"]
                    if body.get("orphanDependents") is True:
                        opts["propagation_policy"] = "Orphan"
                    if body.get("gracePeriodSeconds") is not None:
                        if not isinstance(body["gracePeriodSeconds"], int):
                            raise BadRequest("json: cannot unmarshal into Go struct field "
                                             "DeleteOptions.gracePeriodSeconds of type int64")
                        opts["grace_period_seconds"] = body["gracePeriodSeconds"]
                    if body.get("preconditions"):
                        opts["preconditions"] = body["preconditions"]
                    if body.get("dryRun"):
                        for v in body["dryRun"]:
                            if v != "All":
                                raise BadRequest(f'dryRun: Unsupported value: "{v}": supported values: "All"')
                        opts["dry_run"] = True
        return opts

    # ------------------------------------------------------------ watch

    async def _stalled(self, request: web.Request) -> None:
        """``stall_watches``: hold the stream silent until the fault is cleared, then drop the
        connection (a half-open connection never ends cleanly)."""
        await self.cluster.stall_release.wait()
        if request.transport is not None:
            request.transport.close()
        raise ConnectionResetError("stalled watch released")

    async def _watch(self, request: web.Request, rt: ResourceType, ns: str | None) -> web.StreamResponse:
        """A watch as kube-apiserver's watch cache serves it. Bookmarks (``allowWatchBookmarks``)
        follow the cacher: roughly every ``bookmark_interval`` (a minute on a real server) and once
        2 s before ``timeoutSeconds`` ends the watch, carrying the resourceVersion of the last
        event of this kind, and only if that is newer than the version the watch started from. A
        kind nothing happened to since the server started (an empty kind) gets no bookmark at all;
        a real v1.28 server sent nothing in 70 s on such a watch (issue 10)."""
        q = request.query
        rv = q.get("resourceVersion") or None
        timeout = _int(q.get("timeoutSeconds"), "timeoutSeconds")
        bookmarks = _bool(q.get("allowWatchBookmarks"))
        as_table = wants_table(request)
        include_object = q.get("includeObject", "PartialObjectMetadata")
        faults = self.cluster.faults
        if faults.stall_watches:
            await self._stalled(request)
        watcher: Watcher | None = None
        gone: Gone | None = None
        if faults.expire_next_watch and rv not in (None, "", "0"):
            faults.expire_next_watch = False
            gone = Gone(f"too old resource version: {rv} ({self.store.resource_version})")
        else:
            try:
                watcher = self.store.watch(rt, namespace=ns, label_selector=q.get("labelSelector"),
                                           field_selector=self._field_selector(rt, q.get("fieldSelector")),
                                           resource_version=rv)
            except Gone as exc:
                gone = exc
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                       "Cache-Control": "no-cache, private"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        if gone is not None:
            await resp.write(b'{"type":"ERROR","object":' + dumps(gone.status()) + b"}\n")
            await resp.write_eof()
            return resp
        assert watcher is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + (timeout if timeout and timeout > 0 else random.uniform(1800, 3600))
        interval = self.cluster.bookmark_interval
        next_bookmark = started + interval
        # (a) of the cacher's nextBookmarkTime: 2 s before the deadline, if the watch lasts that long
        pre_timeout: float | None = deadline - 2.0 if timeout and timeout > 2 else None
        start_rv = self.store.resource_version if rv in (None, "", "0") else int(rv or 0)
        skey = rt.storage_key
        try:
            while True:
                if self.cluster.faults.stall_watches:
                    await self._stalled(request)
                now = loop.time()
                if now >= deadline:
                    break
                wait = min(deadline - now, 1.0)  # look at the faults at least every second
                if bookmarks:
                    due = next_bookmark if pre_timeout is None else min(next_bookmark, pre_timeout)
                    wait = min(wait, max(0.0, due - now))
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), timeout=wait)
                except TimeoutError:
                    now = loop.time()
                    if bookmarks and (now >= next_bookmark or (pre_timeout is not None and now >= pre_timeout)):
                        if now >= next_bookmark:
                            next_bookmark = now + interval
                        if pre_timeout is not None and now >= pre_timeout:
                            pre_timeout = None
                        progress = self.store.progress.get(skey, 0)
                        if progress > start_rv:
                            await resp.write(self._bookmark(rt, progress))
                    continue
                if item is None:
                    break
                chunks = [self._event_line(rt, item, as_table, include_object)]
                closed = False
                while not watcher.queue.empty() and len(chunks) < 256:
                    nxt = watcher.queue.get_nowait()
                    if nxt is None:
                        closed = True
                        break
                    chunks.append(self._event_line(rt, nxt, as_table, include_object))
                await resp.write(b"".join(chunks))
                if closed:
                    break
        except ConnectionResetError:  # the client went away (a watcher stopped, a test ended): nothing to answer
            return resp
        finally:
            watcher.close()
        with contextlib.suppress(ConnectionResetError):
            await resp.write_eof()
        return resp

    def _bookmark(self, rt: ResourceType, rv: int) -> bytes:
        obj = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {"resourceVersion": str(rv)}}
        return b'{"type":"BOOKMARK","object":' + dumps(obj) + b"}\n"

    def _event_line(self, rt: ResourceType, item: tuple[str, WatchEvent], as_table: bool,
                    include_object: str) -> bytes:
        etype, ev = item
        if not as_table and rt.group != "events.k8s.io":
            return ev.line(etype)
        obj = loads(ev.raw)
        if as_table:
            out: dict[str, Any] = table(rt, [obj], resource_version=str(ev.rv), include_object=include_object,
                                        with_columns=False)
        else:
            out = core_event_to_v1(obj)
        return b'{"type":"' + etype.encode() + b'","object":' + dumps(out) + b"}\n"

    # ------------------------------------------------------------ subresources

    async def _subresource(self, request: web.Request, rt: ResourceType, ns: str | None, name: str,
                           sub: str) -> web.StreamResponse:
        m = request.method
        if sub in ("status", "finalize"):
            if m == "GET":
                raw = self.store.get_raw(rt, ns, name)
                if raw is None:
                    raise not_found(rt, name)
                return raw_response(raw)
            if m == "PUT":
                return await self._update(request, rt, ns, name, sub)
            if m == "PATCH" and sub == "status":
                return await self._patch(request, rt, ns, name, "status")
            raise MethodNotAllowed("the server does not allow this method on the requested resource")
        if sub == "scale":
            return await self._scale(request, rt, ns, name)
        if sub == "log" and m == "GET":
            return await self._log(request, ns or "", name)
        if sub == "eviction" and m == "POST":
            return await self._evict(request, ns or "", name)
        if sub == "binding" and m == "POST":
            return await self._bind(request, ns or "", name)
        if sub == "token" and m == "POST" and rt.plural == "serviceaccounts":
            return await self._token_request(request, ns or "", name)
        raise MethodNotAllowed("the server does not allow this method on the requested resource")

    async def _token_request(self, request: web.Request, ns: str, name: str) -> web.Response:
        """TokenRequest (``kubectl create token``): a bound token for the ServiceAccount."""
        body = await self._decode(request)
        spec = (body.get("spec") if isinstance(body, dict) else None) or {}
        try:
            token, expires = rbac.issue_token(self.store, ns, name, seconds=spec.get("expirationSeconds"))
        except LookupError as exc:
            raise NotFound(str(exc), details={"name": name, "kind": "serviceaccounts"}) from exc
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
        return json_response({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                              "metadata": {"name": name, "namespace": ns, "creationTimestamp": None},
                              "spec": {"audiences": ["https://kubernetes.default.svc"],
                                       "expirationSeconds": expires - int(time.time()), "boundObjectRef": None},
                              "status": {"token": token, "expirationTimestamp": stamp}}, 201)

    def _scale_obj(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        md = obj["metadata"]
        spec = obj.get("spec") or {}
        sel = selector_from_match(spec.get("selector"))
        sel_str = ""
        if sel is not None:
            parts = []
            for r in sel.requirements:
                if r.op == "=":
                    parts.append(f"{r.key}={r.values[0]}")
                elif r.op in ("in", "notin"):
                    parts.append(f"{r.key} {r.op} ({','.join(r.values)})")
                elif r.op == "exists":
                    parts.append(r.key)
                elif r.op == "!":
                    parts.append("!" + r.key)
            sel_str = ",".join(parts)
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": md["name"], "namespace": md.get("namespace"), "uid": md.get("uid"),
                             "resourceVersion": md.get("resourceVersion"),
                             "creationTimestamp": md.get("creationTimestamp")},
                "spec": {"replicas": spec.get("replicas", 0)},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0), "selector": sel_str}}

    async def _scale(self, request: web.Request, rt: ResourceType, ns: str | None, name: str) -> web.Response:
        from sandbox.patch import apply_patch

        cur = self.store.get(rt, ns, name)
        if cur is None:
            raise not_found(rt, name)
        m = request.method
        if m == "GET":
            return json_response(self._scale_obj(rt, cur))
        if m == "PUT":
            body = await self._decode(request)
            if not isinstance(body, dict):
                raise BadRequest("scale must be an object")
        elif m == "PATCH":
            ctype = request.content_type
            if ctype not in PATCH_TYPES or ctype == "application/apply-patch+yaml":
                raise unsupported_media_type(ctype)
            body = apply_patch(ctype, self._scale_obj(rt, cur), await self._decode(request, allow_yaml=False))
        else:
            raise MethodNotAllowed("the server does not allow this method on the requested resource")
        want_rv = (body.get("metadata") or {}).get("resourceVersion")
        replicas = (body.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            from sandbox.errors import FieldError, invalid

            raise invalid(rt, name, [FieldError("Invalid", "spec.replicas", replicas,
                                                "must be greater than or equal to 0")])
        cur["spec"]["replicas"] = replicas
        if want_rv:
            cur["metadata"]["resourceVersion"] = want_rv
        obj = self.store.update(rt, cur, subresource="scale", dry_run=self._dry_run(request),
                                field_manager=self._field_manager(request), _owned=True)
        return json_response(self._scale_obj(rt, obj))

    @staticmethod
    def _pod_container(pod: dict[str, Any], name: str, container: str | None) -> str:
        """The container a log or exec request means: the named one, else the only one (the
        apiserver's wording when it is missing or not in the pod)."""
        names = [c["name"] for c in pod["spec"].get("containers", [])]
        init_names = [c["name"] for c in pod["spec"].get("initContainers", []) or []]
        ephemeral = [c["name"] for c in pod["spec"].get("ephemeralContainers", []) or []]
        if not container:
            if len(names) != 1:
                raise BadRequest(f"a container name must be specified for pod {name}, choose one of: "
                                 f"[{' '.join(names)}]" + (f" or one of the init containers: "
                                                           f"[{' '.join(init_names)}]" if init_names else ""))
            return names[0]
        if container not in names and container not in init_names and container not in ephemeral:
            raise BadRequest(f"container {container} is not valid for pod {name}")
        return container

    async def _exec(self, request: web.Request, ns: str, name: str) -> web.StreamResponse:
        """``pods/exec`` over the Kubernetes WebSocket channel protocol, into :mod:`sandbox.shell`.

        Checked before the upgrade, with the apiserver's 4xx: the pod (404), the container (400),
        the options (400) and a node (400). After it, as kube-apiserver's stream translator does
        for v5 clients: a container that is not running gets an InternalError status on the error
        channel ("unable to upgrade connection: container not found"), an exit status N > 0 a
        NonZeroExitCode status, success a Success status; then the socket closes.
        """
        from sandbox import exec_ws

        q = request.query
        pod = self.store.get(PODS, ns, name)
        if pod is None:
            raise not_found(PODS, name)
        container = self._pod_container(pod, name, q.get("container"))
        opts = exec_ws.options(q)
        if not pod["spec"].get("nodeName"):
            raise BadRequest(f"pod {name} does not have a host assigned")
        return await exec_ws.serve(request, self.store, pod, container, opts)

    async def _log(self, request: web.Request, ns: str, name: str) -> web.StreamResponse:
        q = request.query
        pod = self.store.get(PODS, ns, name)
        if pod is None:
            raise not_found(PODS, name)
        container = self._pod_container(pod, name, q.get("container"))
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            if cs.get("name") == container:
                waiting = (cs.get("state") or {}).get("waiting")
                if waiting and not cs.get("restartCount"):
                    raise BadRequest(f'container "{container}" in pod "{name}" is waiting to start: '
                                     f'{waiting.get("reason", "ContainerCreating")}')
        if not (pod.get("status") or {}).get("containerStatuses") and not pod["spec"].get("nodeName"):
            raise BadRequest(f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating')
        follow = _bool(q.get("follow"))
        limit = _int(q.get("limitBytes"), "limitBytes")
        if limit is not None and limit < 1:
            raise BadRequest(f"limitBytes: Invalid value: {limit}: must be greater than 0")
        extra: dict[str, Any] = {"previous": True} if _bool(q.get("previous")) else {}
        stream = self.cluster.logs.stream(ns, name, container, follow=follow,
                                          tail_lines=_int(q.get("tailLines"), "tailLines"),
                                          since_seconds=self._since_seconds(q),
                                          timestamps=_bool(q.get("timestamps")), **extra)
        it = stream.__aiter__()
        # a provider refuses (no previous run, container waiting) before its first chunk: wait a moment
        # for it, so the refusal is a Status with its code and not a broken 200 stream
        first = asyncio.ensure_future(it.__anext__())
        await asyncio.wait({first}, timeout=0.5)
        if first.done() and first.exception() is not None and not isinstance(first.exception(), StopAsyncIteration):
            raise first.exception()  # type: ignore[misc]
        resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        left = limit
        try:
            try:
                chunk: bytes | None = await first
            except StopAsyncIteration:
                chunk = None
            while chunk is not None:
                if left is not None:
                    chunk = chunk[:left]
                    left -= len(chunk)
                await resp.write(chunk)
                if left is not None and left <= 0:
                    break
                try:
                    chunk = await it.__anext__()
                except StopAsyncIteration:
                    chunk = None
        except ConnectionResetError:
            return resp
        except ApiError as err:  # refused after the headers went out: end the stream
            log.info("log stream ended: %s", err)
        finally:
            if not first.done():
                first.cancel()
        with contextlib.suppress(ConnectionResetError):
            await resp.write_eof()
        return resp

    @staticmethod
    def _since_seconds(q: Any) -> int | None:
        """``sinceSeconds``, or ``sinceTime`` (RFC 3339) turned into seconds ago."""
        since = _int(q.get("sinceSeconds"), "sinceSeconds")
        if since is not None or not q.get("sinceTime"):
            return since
        from sandbox.tables import parse_timestamp

        ts = parse_timestamp(q.get("sinceTime"))
        if ts is None:
            raise BadRequest(f'sinceTime: Invalid value: "{q.get("sinceTime")}": must be an RFC 3339 timestamp')
        return max(0, int(time.time() - ts))

    async def _evict(self, request: web.Request, ns: str, name: str) -> web.Response:
        body = await self._decode(request)
        if not isinstance(body, dict):
            raise BadRequest("eviction must be an object")
        pod = self.store.get(PODS, ns, name)
        if pod is None:
            raise not_found(PODS, name)
        opts = body.get("deleteOptions") or {}
        phase = (pod.get("status") or {}).get("phase")
        if phase not in ("Succeeded", "Failed", "Pending") and not pod["metadata"].get("deletionTimestamp"):
            blocked = disruption.blocking_budget(self.store, pod)
            if blocked is not None:
                pdb_name, need, healthy = blocked
                raise TooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.",
                                      details={"causes": [{"reason": "DisruptionBudget",
                                                           "message": f"The disruption budget {pdb_name} needs "
                                                                      f"{need} healthy pods and has {healthy} "
                                                                      "currently"}]})
        self.store.delete(PODS, ns, name, grace_period_seconds=opts.get("gracePeriodSeconds"),
                          preconditions=opts.get("preconditions"), dry_run=self._dry_run(request))
        return json_response(success_status(201), status=201)

    async def _bind(self, request: web.Request, ns: str, name: str) -> web.Response:
        body = await self._decode(request)
        target = body.get("target") if isinstance(body, dict) else None
        if not isinstance(target, dict):
            raise BadRequest("binding target must be an object")
        node = target.get("name")
        if not node:
            raise BadRequest("binding target name is required")
        if self.store.get_raw(NODES, None, node) is None:
            raise not_found(NODES, node)

        def bind(p: dict[str, Any]) -> None:
            if p["spec"].get("nodeName"):
                from sandbox.errors import Conflict

                raise Conflict(f'pod {name} is already assigned to node "{p["spec"]["nodeName"]}"')
            p["spec"]["nodeName"] = node

        self.store.mutate(PODS, ns, name, bind, field_manager="kube-scheduler")

        def scheduled(p: dict[str, Any]) -> None:
            st = p.setdefault("status", {})
            conds = [c for c in st.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": now_iso()})
            st["conditions"] = conds

        self.store.mutate(PODS, ns, name, scheduled, subresource="status", field_manager="kube-scheduler")
        return json_response(success_status(201), status=201)

    # ------------------------------------------------------------ virtual resources

    async def _virtual(self, request: web.Request, rt: ResourceType, ns: str | None,
                       name: str | None) -> web.Response:
        m = request.method
        if rt.group == "authorization.k8s.io":
            if m != "POST" or name is not None:
                raise MethodNotAllowed("the server does not allow this method on the requested resource")
            body = await self._decode(request)
            if not isinstance(body, dict):
                raise BadRequest("review must be an object")
            body.setdefault("metadata", {})["creationTimestamp"] = None
            body["apiVersion"] = rt.api_version
            body["kind"] = rt.kind
            identity: Identity = request.get(IDENTITY_KEY, TOKEN_IDENTITY)
            raw_spec = body.get("spec")
            spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
            if rt.kind == "SelfSubjectAccessReview":
                raw_attrs = spec.get("resourceAttributes")
                attrs: dict[str, Any] = raw_attrs if isinstance(raw_attrs, dict) else {}
                if identity.admin:
                    body["status"] = {"allowed": True, "reason": "sandbox admin (token or system:masters) may do "
                                                                 "everything"}
                elif rbac.allows(self.store, identity.user, identity.groups, verb=str(attrs.get("verb") or ""),
                                 group=str(attrs.get("group") or ""), resource=str(attrs.get("resource") or ""),
                                 sub=str(attrs.get("subresource") or ""),
                                 namespace=str(attrs.get("namespace") or "") or None,
                                 name=str(attrs.get("name") or "")):
                    body["status"] = {"allowed": True, "reason": "RBAC: allowed by a (Cluster)RoleBinding"}
                else:
                    body["status"] = {"allowed": False}
            elif identity.admin:
                body["status"] = {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                                  "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                                  "incomplete": False}
            else:
                if not str(spec.get("namespace") or ""):
                    raise BadRequest("no namespace on request")
                body["status"] = rbac.rules_review(self.store, identity.user, identity.groups,
                                                   str(spec.get("namespace")))
            return json_response(body, 201)
        if m != "GET":
            raise MethodNotAllowed("the server does not allow this method on the requested resource")
        if rt.kind == "NodeMetrics":
            items = self.cluster.metrics.node_metrics()
        else:
            items = self.cluster.metrics.pod_metrics(ns)
        q = request.query
        ls = parse_label_selector(q.get("labelSelector"))
        items = [i for i in items if ls.matches((i.get("metadata") or {}).get("labels") or {})]
        if name is not None:
            for i in items:
                if i["metadata"]["name"] == name:
                    return json_response(i)
            kind = "nodemetrics" if rt.kind == "NodeMetrics" else "podmetrics"
            raise NotFound(f'{kind}.metrics.k8s.io "{name}" not found',
                           details={"name": name, "group": "metrics.k8s.io", "kind": rt.plural})
        return json_response({"kind": f"{rt.kind}List", "apiVersion": rt.api_version,
                              "metadata": {"resourceVersion": ""}, "items": items})


def build_app(cluster: SimCluster) -> web.Application:
    """A fresh aiohttp application serving ``cluster`` (rebuilt on every endpoint up)."""
    app = web.Application(client_max_size=MAX_BODY + 1024 * 1024)
    handler = ApiHandler(cluster)

    async def handle(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    app.router.add_route("*", "/{tail:.*}", handle)
    return app


"""``KubeClient``: one cluster's API client over the official ``kubernetes`` package.

* Built per cluster from a :class:`ConnectionSpec` (never a process-global kubeconfig), pinned to
  the address the policy checked, with TLS verified against the cluster's CA and original name.
* Every call has a timeout. Retries follow one policy (:meth:`KubeClient.call`): connection
  errors, 5xx and 429 (honouring ``Retry-After``) are retried with jittered backoff; other 4xx
  never are.
* Errors come out as :mod:`clusters.kube.errors` types with messages a person can act on.
* Lists and watches can skip the client's model deserialisation and return plain dicts
  (``get_json``, ``watch``): the watcher handles thousands of objects and needs the speed.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import math
import os
import random
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import quote

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from clusters.kube.addresses import Endpoint, refuse_redirects, resolve
from clusters.kube.connection import ConnectionSpec
from clusters.kube.errors import (
    ApiError,
    ClientCertificateRefused,
    Conflict,
    ConnectionRefused,
    ConnectionReset,
    ConnectTimeout,
    DNSFailure,
    Forbidden,
    Gone,
    Invalid,
    KubeError,
    NotFound,
    ReadTimeout,
    ServerError,
    TLSHandshakeFailed,
    TLSVerificationFailed,
    TooManyRequests,
    Unauthorized,
    UnknownKind,
    Unreachable,
)
from portal import fastjson

T = TypeVar("T")

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 15.0
MAX_RETRY_AFTER = 10.0


class _SecretFiles:
    """PEM material the client library insists on reading from files: a private 0700 directory
    per process, files 0600, removed at exit."""

    _lock = threading.Lock()
    _dir: str | None = None

    @classmethod
    def path_for(cls, pem: str) -> str:
        with cls._lock:
            if cls._dir is None:
                cls._dir = tempfile.mkdtemp(prefix="portal-kube-")
                atexit.register(shutil.rmtree, cls._dir, True)
            name = os.path.join(cls._dir, hashlib.sha256(pem.encode()).hexdigest() + ".pem")
            if not os.path.exists(name):
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(pem)
            return name


def _status_message(exc: ApiException) -> str:
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else (exc.body or "")
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message or exc.reason or body or f"HTTP {exc.status}")[:500]


def _status_body(exc: ApiException) -> dict[str, Any] | None:
    """The ``Status`` object of an error answer, when the body is one."""
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else (exc.body or "")
    try:
        value = json.loads(body)
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) and value.get("kind") == "Status" else None


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "unknown status"


def _oserror_in(exc: BaseException) -> OSError | None:
    """The operating-system error at the root of a transport exception, if there is one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            return current
        current = current.__cause__ or current.__context__
    return None


def translate(exc: BaseException, *, server: str = "", connect_timeout: float | None = None,
              read_timeout: float | None = None) -> KubeError | None:
    """Map a client-library or network exception to a typed error saying what happened
    (refused, reset, name not found, TLS failure, no connection or no answer within N s, the HTTP
    status), or None if it is neither. The one place these messages are worded. An error answer's
    ``Status`` body rides along as ``body`` (the causes of a 409 apply conflict or a 422)."""
    error = _translate(exc, server=server, connect_timeout=connect_timeout, read_timeout=read_timeout)
    if error is not None and isinstance(exc, ApiException) and error.body is None:
        error.body = _status_body(exc)
    return error


def _translate(exc: BaseException, *, server: str, connect_timeout: float | None,
               read_timeout: float | None) -> KubeError | None:
    where = f" {server}" if server else ""
    if isinstance(exc, KubeError):
        return exc
    if isinstance(exc, ApiException):
        status, message = exc.status, _status_message(exc)
        if status == 401:
            return Unauthorized(f"The API server{where} rejected the credentials (HTTP 401): {message}.")
        if status == 403:
            return Forbidden(f"The credentials lack permission (HTTP 403): {message}.")
        if status == 404:
            return NotFound(message)
        if status == 409:
            return Conflict(message)
        if status == 410:
            return Gone(message)
        if status == 422:
            return Invalid(message)
        if status == 429:
            return TooManyRequests(f"The API server{where} is throttling requests (HTTP 429): {message}.",
                                   retry_after=_retry_after(exc.headers))
        if status and status >= 500:
            return ServerError(f"The API server{where} answered HTTP {status} ({_reason_phrase(status)}): "
                               f"{message}.", status=status)
        if not status:  # the library wraps transport errors (TLS among them) as status 0
            if "CERTIFICATE_VERIFY_FAILED" in message or "certificate verify failed" in message:
                return TLSVerificationFailed(
                    f"The API server's certificate{where} is not trusted by the given CA or does not match its "
                    f"name: {message.splitlines()[-1][:300]}."
                )
            last = message.splitlines()[-1][:300] if message else ""
            if "SSLError" in message or "[SSL" in message:
                return TLSHandshakeFailed(f"The TLS handshake with the API server{where} failed: {last}")
            return Unreachable(f"No valid answer from the API server{where}: {message}.")
        return ApiError(f"The API server{where} answered HTTP {status} ({_reason_phrase(status)}): {message}.",
                        status=status)
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        return translate(exc.reason, server=server, connect_timeout=connect_timeout, read_timeout=read_timeout)
    if isinstance(exc, urllib3.exceptions.SSLError | ssl.SSLError):
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text or "hostname" in text.lower():
            return TLSVerificationFailed(
                f"The API server's certificate{where} is not trusted by the given CA or does not match its name: "
                f"{text[:300]}."
            )
        return TLSHandshakeFailed(f"The TLS handshake with the API server{where} failed: {text[:300]}.")
    os_error = _oserror_in(exc)
    if isinstance(exc, urllib3.exceptions.NameResolutionError) or isinstance(os_error, socket.gaierror):
        return DNSFailure(f"The name of the API server{where} does not resolve.")
    if isinstance(os_error, ConnectionRefusedError):
        return ConnectionRefused(f"The API server{where} refused the connection: nothing listens on that "
                                 "address and port, or a firewall rejects it.")
    if isinstance(os_error, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return ConnectionReset(f"The API server{where} (or something in between) reset the connection.")
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        reason = str(exc).rsplit(":", 1)[-1].strip()
        return Unreachable(f"Cannot connect to the API server{where}: {reason}.")
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        after = f" within {connect_timeout:g} s" if connect_timeout else " in time"
        return ConnectTimeout(f"No connection to the API server{where}{after}: the host does not answer "
                              "(down, or packets dropped on the way).")
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | socket.timeout | TimeoutError):
        after = f" within {read_timeout:g} s" if read_timeout else " in time"
        return ReadTimeout(f"The API server{where} accepted the connection but sent no answer{after}.")
    if isinstance(exc, urllib3.exceptions.ProtocolError) and "reset" in str(exc).lower():
        return ConnectionReset(f"The API server{where} (or something in between) reset the connection.")
    if isinstance(exc, urllib3.exceptions.ProtocolError | urllib3.exceptions.HTTPError | ConnectionError | OSError):
        return Unreachable(f"The connection to the API server{where} failed: {str(exc)[:300]}.")
    return None


def parse_watch_event(line: bytes) -> dict[str, Any]:
    """One line of a watch response as its event (``{"type", "object"}``); an ``ERROR`` event
    raises: :class:`Gone` for 410 (relist), :class:`ServerError` for 5xx, ``ApiError`` else."""
    try:
        event = fastjson.loads(line)
    except ValueError as exc:
        raise ApiError("The cluster sent a watch event that is not JSON.") from exc
    if not isinstance(event, dict):
        raise ApiError("The cluster sent a watch event that is not a JSON object.")
    if event.get("type") == "ERROR":
        status = event.get("object") or {}
        code = status.get("code")
        message = status.get("message") or "watch error"
        if code == 410:
            raise Gone(message)
        if code and code >= 500:
            raise ServerError(message, status=code)
        raise ApiError(f"Watch failed ({code}): {message}", status=code)
    return event


class KubeClient:
    """An API client for one cluster. Cheap to keep, safe to share across threads."""

    def __init__(
        self,
        spec: ConnectionSpec,
        *,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        pool_maxsize: int = 4,
        endpoint: Endpoint | None = None,
    ) -> None:
        self.spec = spec
        self.endpoint = endpoint or resolve(spec.server)
        self.answered = -math.inf  # time.monotonic() of the last call the cluster answered
        self.read_timeout = read_timeout
        self.connect_timeout = connect_timeout
        cfg = k8s.Configuration()
        cfg.host = self.endpoint.pinned_url
        server_name = spec.tls_server_name or ("" if self.endpoint.host_is_ip else self.endpoint.host)
        if server_name:
            cfg.tls_server_name = server_name
        cfg.verify_ssl = not spec.insecure_skip_tls_verify
        if spec.ca_pem:
            cfg.ssl_ca_cert = _SecretFiles.path_for(spec.ca_pem)
        creds = spec.credentials
        if creds.token:
            cfg.api_key = {"authorization": creds.token}
            cfg.api_key_prefix = {"authorization": "Bearer"}
        else:
            cfg.cert_file = _SecretFiles.path_for(creds.client_certificate)
            cfg.key_file = _SecretFiles.path_for(creds.client_key)
        cfg.retries = False  # retries happen in call(), under one policy
        cfg.connection_pool_maxsize = pool_maxsize
        cfg.proxy = None
        self.api_client = k8s.ApiClient(cfg)
        refuse_redirects(self.api_client.rest_client.pool_manager)  # a redirect would leave the pinned address
        self.core = k8s.CoreV1Api(self.api_client)
        self.apps = k8s.AppsV1Api(self.api_client)
        self.batch = k8s.BatchV1Api(self.api_client)
        self.autoscaling = k8s.AutoscalingV2Api(self.api_client)
        self.networking = k8s.NetworkingV1Api(self.api_client)
        self.storage = k8s.StorageV1Api(self.api_client)
        self.policy = k8s.PolicyV1Api(self.api_client)
        self.authorization = k8s.AuthorizationV1Api(self.api_client)
        self.version_api = k8s.VersionApi(self.api_client)
        self._discovered: dict[str, dict[str, Resource]] = {}

    def close(self) -> None:
        self.api_client.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ calls

    def call(
        self, fn: Callable[..., T], *args: Any, attempts: int = 3, timeout: float | None = None, **kwargs: Any
    ) -> T:
        """Call ``fn`` (a method of one of the API objects) with a timeout and the retry policy."""
        kwargs.setdefault("_request_timeout", (self.connect_timeout, timeout or self.read_timeout))
        for attempt in range(attempts):
            try:
                result = fn(*args, **kwargs)
                self.answered = time.monotonic()
                return result
            except Exception as exc:
                limits = kwargs.get("_request_timeout")
                connect, read = limits if isinstance(limits, tuple) else (self.connect_timeout, limits)
                error = translate(exc, server=self.spec.server, connect_timeout=connect, read_timeout=read)
                if error is None:
                    raise
                if not isinstance(error, Unreachable):  # it answered, with an error status
                    self.answered = time.monotonic()
                if not error.retryable or attempt == attempts - 1:
                    if isinstance(error, Unreachable) and self._client_certificate_refused():
                        error = ClientCertificateRefused(
                            f"The cluster ({self.spec.server}) refused the client certificate in the TLS handshake "
                            "(it answers without one): the certificate is not signed by a CA the API server "
                            "trusts for clients, or it has expired.")
                    raise error from exc
                delay = min(0.2 * 2**attempt, 2.0) * (0.5 + random.random())  # noqa: S311 - jitter
                if isinstance(error, TooManyRequests) and error.retry_after is not None:
                    delay = min(error.retry_after, MAX_RETRY_AFTER)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def answered_within(self, seconds: float) -> bool:
        """Whether the cluster answered a call of this client in the last ``seconds`` (an error
        status is an answer too: the API server is there)."""
        return time.monotonic() - self.answered < seconds

    def get_json(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Like :meth:`call`, but return the raw JSON body as a dict (no model objects)."""
        kwargs["_preload_content"] = False
        response = self.call(fn, *args, **kwargs)
        try:
            data = fastjson.loads(response.data)
        except ValueError as exc:
            raise ApiError("The cluster answered with something that is not JSON.") from exc
        finally:
            response.release_conn()
        if not isinstance(data, dict):
            raise ApiError("The cluster answered with JSON that is not an object.")
        return data

    def watch(
        self, fn: Callable[..., Any], *, resource_version: str, timeout_seconds: int = 300,
        idle_timeout: float | None = None, on_open: Callable[[], None] | None = None, **kwargs: Any,
    ) -> Iterator[dict[str, Any]]:
        """Stream watch events (``{"type", "object"}`` dicts) from ``resource_version``.

        Bookmarks are requested. An ``ERROR`` event with 410 raises :class:`Gone` (relist);
        a silent connection raises :class:`Unreachable` after ``idle_timeout`` seconds
        (default: the server-side timeout plus 30 s: a server ends a healthy watch at its
        timeout even when it had nothing to send). ``on_open`` is called once the server has
        answered the request (the stream is live), before the first event.
        """
        idle = idle_timeout or float(timeout_seconds + 30)
        response = self.call(
            fn, watch=True, resource_version=resource_version, allow_watch_bookmarks=True,
            timeout_seconds=timeout_seconds, _preload_content=False, attempts=1, timeout=idle, **kwargs,
        )
        try:
            if on_open is not None:
                on_open()
            pending = b""
            for chunk in response.stream(amt=65536, decode_content=True):
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if line.strip():
                        yield self._event(line)
            if pending.strip():
                yield self._event(pending)
        except KubeError:
            raise
        except Exception as exc:
            error = translate(exc, server=self.spec.server, read_timeout=idle)
            if error is None:
                raise
            raise error from exc
        finally:
            response.release_conn()
            response.close()

    @staticmethod
    def _event(line: bytes) -> dict[str, Any]:
        return parse_watch_event(line)

    def _client_certificate_refused(self) -> bool:
        """After a connection failure with a client certificate: does the server answer HTTP when
        no certificate is presented?  Then the server's TLS layer refused the certificate (with
        TLS 1.3 the client often sees only a closed connection, not the alert).  Sends nothing
        secret: no certificate, no token, just ``GET /version``."""
        creds = self.spec.credentials
        if creds.token or not creds.client_certificate:
            return False
        ctx = ssl.create_default_context(cadata=self.spec.ca_pem or None)
        ctx.check_hostname = False
        if self.spec.insecure_skip_tls_verify:
            ctx.verify_mode = ssl.CERT_NONE
        host = self.spec.tls_server_name or self.endpoint.host
        try:
            with socket.create_connection((self.endpoint.address, self.endpoint.port),
                                          timeout=self.connect_timeout) as raw, \
                    ctx.wrap_socket(raw, server_hostname=host) as tls:
                tls.sendall(f"GET /version HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                return tls.recv(5) == b"HTTP/"
        except (OSError, ValueError):
            return False

    # -------------------------------------------------------------- helpers

    # Named operations: callers outside this package use these, never the generated API objects
    # (``core``, ``version_api``, ...), so the client layer decides how each call is made.

    def version(self, *, attempts: int = 3, timeout: float | None = None) -> dict[str, Any]:
        """``GET /version`` as a dict (``gitVersion``, ...)."""
        return self.get_json(self.version_api.get_code, attempts=attempts, timeout=timeout)

    def list_namespaces(self, *, limit: int | None = None, continue_token: str = "", attempts: int = 3,
                        timeout: float | None = None) -> dict[str, Any]:
        """One page of namespaces (the List body: ``items``, ``metadata.continue``)."""
        return self.get_json(self.core.list_namespace, **_page(limit, continue_token), attempts=attempts,
                             timeout=timeout)

    def list_nodes(self, *, limit: int | None = None, continue_token: str = "", attempts: int = 3,
                   timeout: float | None = None) -> dict[str, Any]:
        """One page of nodes (the List body: ``items``, ``metadata.continue``)."""
        return self.get_json(self.core.list_node, **_page(limit, continue_token), attempts=attempts, timeout=timeout)

    def patch_node(self, name: str, patch: dict[str, Any], *, attempts: int = 3,
                   timeout: float | None = None) -> dict[str, Any]:
        """Strategic-merge patch a node (``{"spec": {"unschedulable": true}}`` cordons it); the node."""
        return self.get_json(self.core.patch_node, name, patch, attempts=attempts, timeout=timeout)

    def set_unschedulable(self, node: str, unschedulable: bool, *, attempts: int = 3,
                          timeout: float | None = None) -> dict[str, Any]:
        """Cordon (True) or uncordon (False) a node, as ``kubectl cordon``/``uncordon``."""
        return self.patch_node(node, {"spec": {"unschedulable": unschedulable}}, attempts=attempts, timeout=timeout)

    def list_pods_on_node(self, node: str, *, attempts: int = 3, timeout: float | None = None) -> list[dict[str, Any]]:
        """Every pod bound to ``node``, in all namespaces (``spec.nodeName`` field selector)."""
        body = self.get_json(self.core.list_pod_for_all_namespaces, field_selector=f"spec.nodeName={node}",
                             attempts=attempts, timeout=timeout)
        return list(body.get("items") or [])

    def read_pod(self, name: str, namespace: str, *, attempts: int = 3, timeout: float | None = None
                 ) -> dict[str, Any]:
        """One pod as the API server has it."""
        return self.get_json(self.core.read_namespaced_pod, name, namespace, attempts=attempts, timeout=timeout)

    def evict_pod(self, name: str, namespace: str, *, attempts: int = 1, timeout: float | None = None) -> None:
        """Evict a pod through the Eviction API, which enforces PodDisruptionBudgets: a budget
        that refuses answers 429 (:class:`TooManyRequests`). One attempt by default: the caller
        decides when to ask again (a drain asks on its next pass, not in a sleeping loop)."""
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
        self.get_json(self.core.create_namespaced_pod_eviction, name, namespace, body, attempts=attempts,
                      timeout=timeout)

    def can_i(self, *, verb: str, resource: str, group: str = "", subresource: str = "", namespace: str = "") -> bool:
        review = k8s.V1SelfSubjectAccessReview(
            spec=k8s.V1SelfSubjectAccessReviewSpec(
                resource_attributes=k8s.V1ResourceAttributes(
                    verb=verb, resource=resource, group=group, subresource=subresource or None,
                    namespace=namespace or None,
                )
            )
        )
        result = self.call(self.authorization.create_self_subject_access_review, review)
        return bool(result.status and result.status.allowed)

    def self_subject_rules_review(self, namespace: str, *, attempts: int = 1, timeout: float | None = None
                                  ) -> dict[str, Any]:
        """What the identity may do in ``namespace`` (a SelfSubjectRulesReview's body)."""
        return self._raw("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", timeout=timeout,
                         attempts=attempts, body={"apiVersion": "authorization.k8s.io/v1",
                                                  "kind": "SelfSubjectRulesReview", "spec": {"namespace": namespace}})

    # -------------------------------------------------------------- objects of any kind

    def resource(self, api_version: str, kind: str, *, timeout: float | None = None) -> Resource:
        """What the cluster serves for (apiVersion, kind), from discovery (cached per client; a
        kind the cached answer lacks is asked again, so a CRD installed since is found)."""
        served = self._discovered.get(api_version)
        if served is None or kind not in served:
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                body = self._raw("GET", path, timeout=timeout, attempts=2)
            except NotFound:
                body = {"resources": []}
            served = {}
            for item in body.get("resources") or []:
                if "/" in str(item.get("name", "")):
                    continue  # a subresource (status, scale)
                served[str(item.get("kind"))] = Resource(api_version=api_version, kind=str(item.get("kind")),
                                                         plural=str(item.get("name")),
                                                         namespaced=bool(item.get("namespaced")))
            self._discovered[api_version] = served
        found = served.get(kind)
        if found is None:
            raise UnknownKind(f"The cluster does not serve {kind} in {api_version}.")
        return found

    @staticmethod
    def path(resource: Resource, name: str = "", namespace: str = "") -> str:
        base = "/api/v1" if resource.api_version == "v1" else f"/apis/{resource.api_version}"
        if resource.namespaced:
            if not namespace:
                raise ValueError(f"{resource.kind} is namespaced: give a namespace.")
            base += f"/namespaces/{quote(namespace, safe='')}"
        return f"{base}/{resource.plural}" + (f"/{quote(name, safe='')}" if name else "")

    def _raw(self, method: str, path: str, *, query: list[tuple[str, str]] | None = None, body: Any = None,
             content_type: str = "application/json", timeout: float | None = None,
             attempts: int = 3) -> dict[str, Any]:
        def request(**kwargs: Any) -> Any:
            return self.api_client.call_api(
                path, method, path_params={}, query_params=query or [],
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body, auth_settings=["BearerToken"], response_type=None, _return_http_data_only=True, **kwargs)

        return self.get_json(request, timeout=timeout, attempts=attempts)

    def _resource_of(self, kind: str, api_version: str | None, timeout: float | None) -> Resource:
        version = api_version or WELL_KNOWN_VERSIONS.get(kind)
        if version is None:
            raise ValueError(f"Give the apiVersion of {kind}.")
        return self.resource(version, kind, timeout=timeout)

    def get_object(self, kind: str, name: str, namespace: str = "", *, api_version: str | None = None,
                   resource: Resource | None = None, timeout: float | None = None,
                   attempts: int = 3) -> dict[str, Any]:
        """One object as the API server has it (the raw JSON, ``managedFields`` included).
        ``resource`` (where the caller already knows it) saves the discovery request."""
        resource = resource or self._resource_of(kind, api_version, timeout)
        return self._raw("GET", self.path(resource, name, namespace), timeout=timeout, attempts=attempts)

    def list_objects(self, kind: str, namespace: str = "", *, api_version: str | None = None,
                     label_selector: str = "", timeout: float | None = None) -> list[dict[str, Any]]:
        resource = self._resource_of(kind, api_version, timeout)
        query = [("labelSelector", label_selector)] if label_selector else []
        body = self._raw("GET", self.path(resource, "", namespace), query=query, timeout=timeout)
        items = list(body.get("items") or [])
        for item in items:  # list items carry neither
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", resource.kind)
        return items

    def apply(self, obj: dict[str, Any], *, field_manager: str, dry_run: bool = False, force: bool = True,
              resource: Resource | None = None, timeout: float | None = None, attempts: int = 3) -> dict[str, Any]:
        """Server-side apply ``obj`` under ``field_manager``; the object as stored (or, with
        ``dry_run``, as it would be: nothing is persisted).

        ``force`` takes over fields another manager owns (the portal's own deploys force: the
        portal owns the fields it sets); without it a field owned by another manager is a 409
        :class:`Conflict` whose ``body`` lists the fields and their managers. The generated API
        methods cannot send ``application/apply-patch+yaml``, so this goes through the API client
        with the object's path from discovery (JSON is valid YAML)."""
        meta = obj.get("metadata") or {}
        resource = resource or self._resource_of(str(obj.get("kind")), obj.get("apiVersion"), timeout)
        query = [("fieldManager", field_manager)]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        return self._raw("PATCH", self.path(resource, str(meta.get("name", "")), str(meta.get("namespace", ""))),
                         query=query, body=obj, content_type="application/apply-patch+yaml", timeout=timeout,
                         attempts=attempts)

    def patch_object(self, kind: str, name: str, namespace: str, patch: Any, *, patch_type: str = "strategic",
                     api_version: str | None = None, resource: Resource | None = None, field_manager: str = "",
                     dry_run: bool = False, subresource: str = "", timeout: float | None = None,
                     attempts: int = 3) -> dict[str, Any]:
        """Patch an object with an explicit patch type: ``strategic`` (what ``kubectl patch`` and
        ``kubectl edit`` send), ``merge`` (RFC 7386) or ``json`` (RFC 6902, ``patch`` a list of
        operations); ``subresource`` patches e.g. ``scale`` or ``status``. The object as stored."""
        content_type = PATCH_TYPES.get(patch_type)
        if content_type is None:
            raise ValueError(f"patch_type must be one of {', '.join(PATCH_TYPES)}")
        resource = resource or self._resource_of(kind, api_version, timeout)
        query = [("fieldManager", field_manager)] if field_manager else []
        if dry_run:
            query.append(("dryRun", "All"))
        path = self.path(resource, name, namespace) + (f"/{quote(subresource, safe='')}" if subresource else "")
        return self._raw("PATCH", path, query=query, body=patch, content_type=content_type, timeout=timeout,
                         attempts=attempts)

    def delete_object(self, kind: str, name: str, namespace: str = "", *, api_version: str | None = None,
                      resource: Resource | None = None, propagation: str = "Background", dry_run: bool = False,
                      timeout: float | None = None, attempts: int = 3) -> dict[str, Any]:
        """Delete an object with a propagation policy (``Foreground``, ``Background``,
        ``Orphan``); the answer (the object marked for deletion, or a ``Status``). ``dry_run``
        checks the deletion (admission, finalizers aside) without deleting anything."""
        if propagation not in PROPAGATION_POLICIES:
            raise ValueError(f"propagation must be one of {', '.join(PROPAGATION_POLICIES)}")
        resource = resource or self._resource_of(kind, api_version, timeout)
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if dry_run:
            body["dryRun"] = ["All"]
        return self._raw("DELETE", self.path(resource, name, namespace), body=body,
                         query=[("dryRun", "All")] if dry_run else None, timeout=timeout, attempts=attempts)

    def read_scale(self, kind: str, name: str, namespace: str, *, api_version: str | None = None,
                   resource: Resource | None = None, timeout: float | None = None,
                   attempts: int = 3) -> dict[str, Any]:
        """The ``scale`` subresource of a Deployment, StatefulSet or ReplicaSet (an
        ``autoscaling/v1`` Scale: ``spec.replicas``, ``status.replicas``, ``status.selector``);
        a kind without one answers 404 (:class:`NotFound`)."""
        resource = resource or self._resource_of(kind, api_version, timeout)
        return self._raw("GET", self.path(resource, name, namespace) + "/scale", timeout=timeout,
                         attempts=attempts)

    def create_event(self, namespace: str, event: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        return self.get_json(self.core.create_namespaced_event, namespace, event, timeout=timeout, attempts=1)

    # ------------------------------------------------------------ workload actions (issue 15)

    def list_resource(self, resource: Resource, namespace: str = "", *, label_selector: str = "",
                      timeout: float | None = None, attempts: int = 3) -> list[dict[str, Any]]:
        """Every object of ``resource`` (in ``namespace``), without a discovery request: a
        Deployment's ReplicaSets, a StatefulSet's ControllerRevisions. Items carry apiVersion and kind."""
        query = [("labelSelector", label_selector)] if label_selector else []
        body = self._raw("GET", self.path(resource, "", namespace), query=query, timeout=timeout, attempts=attempts)
        items = [i for i in body.get("items") or [] if isinstance(i, dict)]
        for item in items:
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", resource.kind)
        return items

    def delete_exact(self, resource: Resource, name: str, namespace: str = "", *, uid: str,
                     propagation: str = "Background", timeout: float | None = None,
                     attempts: int = 3) -> dict[str, Any]:
        """Delete the object only if it is still the one with ``uid`` (DeleteOptions
        ``preconditions``): one with the same name created since answers 409 :class:`Conflict`,
        so a repeated delete never removes its successor. :class:`NotFound` when it is gone."""
        if propagation not in PROPAGATION_POLICIES:
            raise ValueError(f"propagation must be one of {', '.join(PROPAGATION_POLICIES)}")
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation,
                "preconditions": {"uid": uid}}
        return self._raw("DELETE", self.path(resource, name, namespace), body=body, timeout=timeout,
                         attempts=attempts)

    # ------------------------------------------------------------ container logs (issue 15)

    def read_pod_log(self, name: str, namespace: str, *, container: str = "", tail_lines: int | None = None,
                     since_seconds: int | None = None, previous: bool = False, timestamps: bool = False,
                     limit_bytes: int | None = None, timeout: float | None = None, attempts: int = 3) -> bytes:
        """The recent log of one container (``GET .../pods/<name>/log``, never ``follow``), as the
        bytes the kubelet sent: ``tail_lines`` newest lines, those of the last ``since_seconds``,
        ``previous`` the last terminated run (``kubectl logs -p``), ``timestamps`` an RFC 3339
        prefix per line. ``limit_bytes`` is sent to the API server and also enforced here, so a
        server that ignores it cannot make the portal hold more (a caller that wants to know
        whether the log was cut asks for one byte more than it keeps). The API server refuses a
        container that is not in the pod, one waiting to start, and ``previous`` without a
        terminated run with a 400 :class:`ApiError` whose ``body`` is its ``Status``."""
        options: dict[str, Any] = {}
        if container:
            options["container"] = container
        if tail_lines is not None:
            options["tail_lines"] = tail_lines
        if since_seconds is not None:
            options["since_seconds"] = since_seconds
        if previous:
            options["previous"] = True
        if timestamps:
            options["timestamps"] = True
        if limit_bytes is not None:
            options["limit_bytes"] = limit_bytes
        response = self.call(self.core.read_namespaced_pod_log, name, namespace, _preload_content=False,
                             attempts=attempts, timeout=timeout, **options)
        try:
            return response.read(limit_bytes) if limit_bytes is not None else response.read()
        except Exception as exc:
            error = translate(exc, server=self.spec.server, read_timeout=timeout or self.read_timeout)
            if error is None:
                raise
            raise error from exc
        finally:
            response.close()  # the rest of a cut log is not read: the connection is not reused
            response.release_conn()


# ---------------------------------------------------------------------------- shared clients

SHARED_SECONDS = 60.0  # a shared client is replaced after this long (its address resolved again)
SHARED_MAX = 512
_shared: dict[tuple[ConnectionSpec, float, float], tuple[KubeClient, float]] = {}
_shared_lock = threading.Lock()


def shared_client(spec: ConnectionSpec, *, read_timeout: float = DEFAULT_READ_TIMEOUT,
                  connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> KubeClient:
    """A client for ``spec`` kept by this process for :data:`SHARED_SECONDS` and shared by its
    threads: work that calls the same cluster again and again (a worker's deploys and looks)
    keeps its TLS connections and its discovery instead of building them for every task. The
    key is the whole spec, so changed credentials get a new client at once. Do not close it."""
    key = (spec, float(read_timeout), float(connect_timeout))
    now = time.monotonic()
    with _shared_lock:
        found = _shared.get(key)
        if found is not None and now - found[1] < SHARED_SECONDS:
            return found[0]
    client = KubeClient(spec, read_timeout=read_timeout, connect_timeout=connect_timeout, pool_maxsize=8)
    with _shared_lock:
        found = _shared.get(key)
        if found is not None and now - found[1] < SHARED_SECONDS:
            client.close()  # another thread built one meanwhile
            return found[0]
        _shared[key] = (client, now)
        if len(_shared) > SHARED_MAX:  # the replaced and the stale go; their users finish with them
            for old in [k for k, (_, made) in _shared.items() if now - made >= SHARED_SECONDS]:
                del _shared[old]
            while len(_shared) > SHARED_MAX:
                del _shared[next(iter(_shared))]
    return client


def _page(limit: int | None, continue_token: str) -> dict[str, Any]:
    return {**({"limit": limit} if limit else {}), **({"_continue": continue_token} if continue_token else {})}


@dataclass(frozen=True)
class Resource:
    """A kind as one cluster serves it."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool


# Patch types by the names callers use, and the content type each is sent as.
PATCH_TYPES: dict[str, str] = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}
PROPAGATION_POLICIES = ("Foreground", "Background", "Orphan")

# apiVersion of the kinds the portal names without one.
WELL_KNOWN_VERSIONS: dict[str, str] = {
    "Namespace": "v1", "ResourceQuota": "v1", "LimitRange": "v1", "Event": "v1", "ConfigMap": "v1",
    "Secret": "v1", "Service": "v1", "Pod": "v1", "PersistentVolumeClaim": "v1", "ServiceAccount": "v1",
    "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1",
    "Job": "batch/v1", "CronJob": "batch/v1", "HorizontalPodAutoscaler": "autoscaling/v2",
    "Ingress": "networking.k8s.io/v1", "NetworkPolicy": "networking.k8s.io/v1",
    "PodDisruptionBudget": "policy/v1",
}


# ---------------------------------------------------------------------------- metrics.k8s.io (issue 14)
# Read by monitoring.collect every interval. Plain dicts (no model classes: thousands of items).

METRICS_API = "metrics.k8s.io/v1beta1"


def list_node_metrics(client: KubeClient, *, api: str = METRICS_API, timeout: float | None = None
                      ) -> list[dict[str, Any]]:
    """Every NodeMetrics item (``usage.cpu``, ``usage.memory``). :class:`NotFound` when the cluster
    does not serve the metrics API (no metrics-server), :class:`Forbidden` without the permission."""
    body = client._raw("GET", f"/apis/{api}/nodes", timeout=timeout, attempts=2)
    return [i for i in body.get("items") or [] if isinstance(i, dict)]


def list_pod_metrics(client: KubeClient, namespace: str = "", *, api: str = METRICS_API,
                     timeout: float | None = None) -> list[dict[str, Any]]:
    """Every PodMetrics item of the cluster, or of ``namespace`` (per container ``usage``)."""
    path = f"/apis/{api}/namespaces/{quote(namespace, safe='')}/pods" if namespace else f"/apis/{api}/pods"
    body = client._raw("GET", path, timeout=timeout, attempts=2)
    return [i for i in body.get("items") or [] if isinstance(i, dict)]


def list_pods(client: KubeClient, namespace: str = "", *, page: int = 500, timeout: float | None = None
              ) -> list[dict[str, Any]]:
    """Every pod of the cluster (or ``namespace``), page by page, as plain dicts."""
    items: list[dict[str, Any]] = []
    token = ""
    while True:
        if namespace:
            body = client.get_json(client.core.list_namespaced_pod, namespace, **_page(page, token), attempts=2,
                                   timeout=timeout)
        else:
            body = client.get_json(client.core.list_pod_for_all_namespaces, **_page(page, token), attempts=2,
                                   timeout=timeout)
        items.extend(i for i in body.get("items") or [] if isinstance(i, dict))
        token = str((body.get("metadata") or {}).get("continue") or "")
        if not token:
            return items

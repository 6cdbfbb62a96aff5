"""The OCI registry client (the Distribution spec's HTTP API v2), shared by everything that reads a
registry: catalog sources holding Helm charts today, image registries and builds next.

Why here and not in an app: a registry is outside every cluster and every app, and reading one
safely is the same work whoever asks. The client talks to the registry itself with ``requests``
(no docker or Helm SDK network calls), under the rules every outbound fetch follows: the address
policy at every connection and redirect with the connection pinned to the checked address
(:func:`portal.outbound.session`), connect/read timeouts, a deadline per download, a cap on every
body, TLS verified (against the caller's CA), and credentials only to the registry's own origin.

* Address: ``oci://host[:port]/path/prefix`` (HTTPS); ``oci+http://`` is the plain-HTTP form
  (Helm's ``--plain-http``); whoever stores an address decides who may use the plain form.
* Auth: basic auth, and the token flow (a 401 with ``WWW-Authenticate: Bearer realm=...,
  service=..., scope=...`` → ``GET realm`` with basic auth → a bearer token for that scope). The
  username and password go to the token realm only if it is on the registry's own host (over
  HTTPS unless the registry itself is plain HTTP); a realm elsewhere gets an anonymous request.
* Listings (``_catalog``, ``tags/list``) are paged by their ``Link`` header, which must stay on
  the registry's origin.
* Images: manifests and indexes (OCI and Docker v2, asked for with one ``Accept``) are read,
  checked against their digest, HEADed and deleted by digest; configs are read as blobs checked
  against their digest.

Errors are :class:`RegistryUnavailable` (the registry cannot be read: network, policy, caps,
malformed answers) and its subclass :class:`RegistryError` (an HTTP error answer, with ``code``);
callers turn them into their own terms. Messages name the URL and what to do, never a secret.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

import requests
from requests.auth import AuthBase

from portal import outbound, yamlsafe
from portal.addresses import AddressError

SCHEMES = {"oci": False, "oci+http": True}  # scheme -> plain HTTP
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_INDEXES = (MEDIA_INDEX, MEDIA_DOCKER_LIST)  # a manifest per platform
MEDIA_IMAGES = (MEDIA_MANIFEST, MEDIA_DOCKER_MANIFEST)  # one image: a config and layers
# What the portal asks for when it reads a manifest: image manifests and indexes, OCI and Docker v2.
MANIFEST_ACCEPT = ", ".join((MEDIA_MANIFEST, MEDIA_INDEX, MEDIA_DOCKER_MANIFEST, MEDIA_DOCKER_LIST))
MAX_CONFIG_BYTES = 4 * 1024 * 1024
TIMEOUT = (5, 30)  # connect, read (seconds)
DEADLINE = 120.0  # a whole download, however slowly it trickles
USER_AGENT = "cluster-portal"
MAX_REDIRECTS = outbound.MAX_REDIRECTS
MAX_LIST_BYTES = 5 * 1024 * 1024  # one page of _catalog or tags/list
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_TOKEN_BYTES = 256 * 1024
MAX_PAGES = 100
PAGE_SIZE = 1000
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class RegistryUnavailable(Exception):
    """The registry cannot be read as asked; the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RegistryError(RegistryUnavailable):
    """An HTTP error answer of the registry (``code``)."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Location:
    """Where an OCI address points: the registry (``host[:port]``), plain HTTP or not, a path prefix."""

    host: str
    plain_http: bool
    prefix: str

    @property
    def base(self) -> str:
        return f"{'http' if self.plain_http else 'https'}://{self.host}"


def parse_url(url: str) -> Location:
    """The registry location of an ``oci://`` address, or a ValueError whose text names the problem."""
    parts = urlsplit(url.strip())
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError("Give the registry's address, like oci://registry.example.com/charts.")
    if parts.username or parts.password:
        raise ValueError("Put the credentials in username and password, not in the address.")
    if parts.query or parts.fragment:
        raise ValueError("The address of a registry has no query or fragment.")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("The registry's port is not a number between 1 and 65535.") from exc
    prefix = parts.path.strip("/")
    if prefix and not NAME.match(prefix):
        raise ValueError("The path after the registry's host is a repository name or prefix: lowercase letters, "
                         "digits, '.', '_', '-' and '/'.")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return Location(host=f"{host}:{port}" if port else host, plain_http=SCHEMES[parts.scheme], prefix=prefix)


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``: credentials go only where this matches the registry's own."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def repository_path(name: str) -> str:
    """A repository name as a URL path (its ``/`` kept)."""
    return quote(name, safe="/")


class _Header(AuthBase):
    """Sets the Authorization header (and keeps requests from looking in ~/.netrc)."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self.value
        return request


def _challenge(header: str) -> dict[str, str]:
    """The parameters of a ``Bearer`` challenge (``{}`` for any other scheme)."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return {}
    return {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', rest)}


class Registry:
    """One registry conversation: its location, the credentials and CA, tokens per scope."""

    def __init__(self, location: Location, *, username: str = "", password: str = "", verify: bool | str = True,
                 session: requests.Session | None = None, timeout: tuple[float, float] = TIMEOUT,
                 deadline: float = DEADLINE, user_agent: str = USER_AGENT) -> None:
        self.location = location
        self.origin = origin(location.base)
        self.basic = (username, password) if username else None
        self.verify = verify
        self.tokens: dict[str, str] = {}
        self.session = session or outbound.session()  # every connection checked and pinned
        self.timeout, self.deadline, self.user_agent = timeout, deadline, user_agent

    def _basic_header(self) -> str | None:
        if self.basic is None:
            return None
        request = requests.Request("GET", self.location.base, auth=self.basic).prepare()
        return request.headers.get("Authorization")

    def _send(self, url: str, *, authorization: str | None, origin_: tuple[str, str, int | None],
              headers: dict[str, str], method: str = "GET") -> tuple[requests.Response, str]:
        """GET (or ``method``) with redirects followed by hand: every hop's address checked, the
        Authorization header only while the hop is on ``origin_``."""
        for _hop in range(MAX_REDIRECTS + 1):
            auth = _Header(authorization) if authorization and origin(url) == origin_ else None
            try:
                response = self.session.request(method, url, auth=auth, verify=self.verify, timeout=self.timeout,
                                                stream=True, allow_redirects=False,
                                                headers={"User-Agent": self.user_agent, **headers})
            except (AddressError, requests.exceptions.RequestException) as exc:
                raise RegistryUnavailable(outbound.failure_message(exc, url=url, what="the registry")) from exc
            location = self.session.get_redirect_target(response)  # raw UTF-8 bytes of the header decoded as such
            if location:
                target = urljoin(url, location)
                response.close()
                if urlsplit(target).scheme not in ("http", "https") or (
                        urlsplit(target).scheme == "http" and not self.location.plain_http):
                    raise RegistryUnavailable(f"{url} redirected to {target}, an address the portal does not fetch.")
                url = target
                continue
            return response, url
        raise RegistryUnavailable(f"{url} redirected more than {MAX_REDIRECTS} times.")

    def get(self, path: str, *, scope: str, cap: int, what: str,
            accept: str = "") -> tuple[bytes, requests.structures.CaseInsensitiveDict[str], str]:
        """GET ``path`` on the registry (authorised for ``scope``): the body (at most ``cap`` bytes),
        the headers and the final URL. HTTP errors are :class:`RegistryError`."""
        return self.call("GET", path, scope=scope, cap=cap, what=what, accept=accept)

    def call(self, method: str, path: str, *, scope: str, cap: int, what: str,
             accept: str = "") -> tuple[bytes, requests.structures.CaseInsensitiveDict[str], str]:
        """``method`` on ``path`` (authorised for ``scope``, the token flow when the registry asks for
        it): the body (at most ``cap`` bytes), the headers and the final URL. HTTP errors are
        :class:`RegistryError`."""
        url = self.location.base + path
        headers = {"Accept": accept} if accept else {}
        try:
            for attempt in (0, 1):
                token = self.tokens.get(scope)
                authorization = f"Bearer {token}" if token else self._basic_header()
                response, final = self._send(url, authorization=authorization, origin_=self.origin, headers=headers,
                                             method=method)
                if response.status_code == 401 and attempt == 0:
                    challenge = _challenge(response.headers.get("WWW-Authenticate", ""))
                    if challenge.get("realm"):
                        response.close()
                        self.tokens[scope] = self._token(challenge, scope)
                        continue
                break
            return self._read(response, final, cap=cap, what=what, authorised=self.basic is not None), \
                response.headers, final
        except (AddressError, requests.exceptions.RequestException) as exc:  # while reading the body
            raise RegistryUnavailable(outbound.failure_message(exc, url=url, what="the registry")) from exc

    def _token(self, challenge: dict[str, str], scope: str) -> str:
        """A bearer token from the challenge's realm; credentials only to a realm on the registry's host."""
        realm = challenge["realm"]
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.hostname or (
                parts.scheme == "http" and not self.location.plain_http):
            raise RegistryUnavailable(f"The registry's token service {realm} is not an address the portal uses.")
        query = {k: v for k, v in (("service", challenge.get("service", "")),
                                   ("scope", challenge.get("scope") or scope)) if v}
        url = realm + ("&" if parts.query else "?") + urlencode(query)
        own_host = (parts.hostname or "").lower() == self.origin[1]
        authorization = self._basic_header() if own_host else None
        response, final = self._send(url, authorization=authorization, origin_=origin(realm), headers={})
        body = self._read(response, final, cap=MAX_TOKEN_BYTES, what="token", authorised=authorization is not None)
        try:
            doc = yamlsafe.load_json(body)
        except ValueError as exc:
            raise RegistryUnavailable(f"The registry's token service {realm} answered no JSON.") from exc
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryUnavailable(f"The registry's token service {realm} gave no token.")
        return token

    def _read(self, response: requests.Response, url: str, *, cap: int, what: str, authorised: bool) -> bytes:
        started = time.monotonic()
        with response:
            code = response.status_code
            if code in (401, 403):
                hint = ("check the username and password" if authorised
                        else "the registry needs a username and password")
                raise RegistryError(f"The registry refused access to {url} (HTTP {code}); {hint}.", code=code)
            if code == 404:
                raise RegistryError(f"{url} was not found (HTTP 404); check the registry's address.", code=code)
            if code >= 400:
                raise RegistryError(f"{url} answered HTTP {code}; try again later or ask the registry's owner.",
                                    code=code)
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > cap:
                raise RegistryUnavailable(f"The {what} at {url} is {int(length)} bytes; at most {cap} bytes are "
                                          "accepted.")
            body = bytearray()
            for chunk in response.iter_content(chunk_size=65536):
                body += chunk
                if len(body) > cap:
                    raise RegistryUnavailable(f"The {what} at {url} is larger than {cap} bytes, the most accepted.")
                if time.monotonic() - started > self.deadline:
                    raise RegistryUnavailable(f"Downloading {url} took longer than {self.deadline:g} s; try again "
                                              "later.")
            return bytes(body)

    def json(self, body: bytes, url: str, what: str) -> Any:
        """``body`` as JSON, or :class:`RegistryUnavailable` naming what was expected."""
        try:
            return yamlsafe.load_json(body)
        except ValueError as exc:
            raise RegistryUnavailable(f"The {what} at {url} is not JSON; is the address that of an OCI "
                                      "registry?") from exc

    def pages(self, path: str, *, key: str, scope: str, what: str, page_size: int = PAGE_SIZE) -> list[str]:
        """All names of a paged listing (``_catalog`` or ``tags/list``), following its ``Link`` header."""
        out: list[str] = []
        url = f"{path}?n={page_size}"
        for _page in range(MAX_PAGES):
            body, headers, final = self.get(url, scope=scope, cap=MAX_LIST_BYTES, what=what)
            doc = self.json(body, final, what)
            names = doc.get(key) if isinstance(doc, dict) else None
            out += [n for n in names or [] if isinstance(n, str)]
            match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', headers.get("Link", ""))
            if not match or not names:
                return out
            target = urljoin(final, match[1])
            if origin(target) != self.origin:
                raise RegistryUnavailable(f"The {what} at {final} continues on another server ({target}); refused.")
            parts = urlsplit(target)
            url = parts.path + (f"?{parts.query}" if parts.query else "")
        raise RegistryUnavailable(f"The {what} at {self.location.base}{path} has more than {MAX_PAGES} pages.")

    # ------------------------------------------------------------------ images (manifests, indexes, configs)

    def catalog(self) -> list[str]:
        """Every repository name the registry lists (``_catalog``; the credentials decide which)."""
        return self.pages("/v2/_catalog", key="repositories", scope="registry:catalog:*", what="repository list")

    def tag_names(self, repository: str) -> list[str]:
        """Every tag of ``repository``."""
        return self.pages(f"/v2/{repository_path(repository)}/tags/list", key="tags",
                          scope=pull_scope(repository), what="tag list")

    def manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest (an image's or an index's, OCI or Docker v2) at a tag or digest."""
        path = f"/v2/{repository_path(repository)}/manifests/{quote(reference, safe=':')}"
        body, headers, final = self.get(path, scope=pull_scope(repository), cap=MAX_MANIFEST_BYTES, what="manifest",
                                        accept=MANIFEST_ACCEPT)
        doc = self.json(body, final, "manifest")
        if not isinstance(doc, dict):
            raise RegistryUnavailable(f"The manifest at {final} is not a JSON object.")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if DIGEST.match(reference) and reference != digest:
            raise RegistryUnavailable(f"The manifest at {final} does not match its digest {reference}.")
        media_type = doc.get("mediaType") if isinstance(doc.get("mediaType"), str) else ""
        media_type = media_type or headers.get("Content-Type", "").split(";")[0].strip()
        return Manifest(digest=digest, media_type=media_type, size=len(body), doc=doc)

    def head_manifest(self, repository: str, reference: str) -> tuple[str, str, int]:
        """(digest, media type, size) of the manifest at a tag or digest, without its body."""
        path = f"/v2/{repository_path(repository)}/manifests/{quote(reference, safe=':')}"
        _, headers, final = self.call("HEAD", path, scope=pull_scope(repository), cap=MAX_MANIFEST_BYTES, what="manifest",
                                      accept=MANIFEST_ACCEPT)
        digest = headers.get("Docker-Content-Digest", "")
        if not DIGEST.match(digest):
            raise RegistryUnavailable(f"The registry named no digest for {final}.")
        length = headers.get("Content-Length", "")
        return digest, headers.get("Content-Type", "").split(";")[0].strip(), int(length) if length.isdigit() else 0

    def delete_manifest(self, repository: str, digest: str) -> None:
        """Delete the manifest ``digest`` (every tag pointing at it goes with it). A registry that
        does not allow deleting answers 405 (:class:`RegistryError` with ``code`` 405)."""
        if not DIGEST.match(digest):
            raise ValueError("Delete a manifest by its digest (sha256:…).")
        self.call("DELETE", f"/v2/{repository_path(repository)}/manifests/{digest}",
                  scope=f"repository:{repository}:delete", cap=MAX_TOKEN_BYTES, what="manifest")

    def blob(self, repository: str, digest: str, *, cap: int = MAX_CONFIG_BYTES, what: str = "blob") -> bytes:
        """A blob (an image config) checked against its digest."""
        if not DIGEST.match(digest):
            raise RegistryUnavailable(f"{digest!r} is not a sha256 digest.")
        body, _, final = self.get(f"/v2/{repository_path(repository)}/blobs/{digest}", scope=pull_scope(repository),
                                  cap=cap, what=what)
        if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
            raise RegistryUnavailable(f"The {what} at {final} does not match its digest.")
        return body


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


@dataclass(frozen=True)
class Manifest:
    """A manifest as the registry holds it: its digest (of the bytes served), media type, size, JSON."""

    digest: str
    media_type: str
    size: int
    doc: dict[str, Any]

    @property
    def is_index(self) -> bool:
        return self.media_type in MEDIA_INDEXES or (not self.media_type and "manifests" in self.doc)


@contextmanager
def registry(location: Location, *, ca_pem: str = "", username: str = "", password: str = "",
             timeout: tuple[float, float] = TIMEOUT, deadline: float = DEADLINE,
             user_agent: str = USER_AGENT) -> Iterator[Registry]:
    """A :class:`Registry` for ``location`` (``ca_pem`` written to a temporary file while it is used)."""
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as ca_file, outbound.session() as session:
        verify: bool | str = True
        if ca_pem.strip():
            ca_file.write(ca_pem)
            ca_file.flush()
            verify = ca_file.name
        yield Registry(location, username=username, password=password, verify=verify, session=session,
                       timeout=timeout, deadline=deadline, user_agent=user_agent)

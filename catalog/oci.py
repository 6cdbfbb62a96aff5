"""OCI registries holding Helm charts: a catalog source read through the registry's HTTP API v2.

Helm 3.8+ pushes a chart to a registry as an OCI artifact: a manifest whose config blob
(``application/vnd.cncf.helm.config.v1+json``) is the chart's ``Chart.yaml`` as JSON and whose one
layer (``application/vnd.cncf.helm.chart.content.v1.tar+gzip``) is the chart archive. The portal
talks to the registry itself with ``requests`` (no Helm SDK or docker network calls), with the
same rules as chart repositories in :mod:`catalog.sources`: connect/read timeouts, a deadline per
download, small caps on listings, manifests and configs, charts at most
:data:`catalog.helm.MAX_ARCHIVE_BYTES`, the address policy at every connection and redirect with
the connection pinned to the checked address (:func:`portal.outbound.session`; a forbidden
address is refused at create/update time by :func:`check_url`), TLS verified (against the
source's ``ca_pem``), credentials only to the registry's own origin.

* Address: ``oci://host[:port]/path/prefix`` (HTTPS). ``oci+http://host[:port]/prefix`` is the
  plain-HTTP form (Helm's ``--plain-http``), accepted where ``http://`` repositories are
  (:func:`catalog.remote.http_allowed`: system admins, development and test profiles).
* Listing: ``GET /v2/_catalog`` (paged by its ``Link`` header), keeping the repositories under
  the prefix; if the prefix is itself a repository, or the registry does not list its
  repositories (many hosted ones answer 401/404), the prefix is read as one chart repository.
  Then ``GET /v2/<name>/tags/list`` and, per tag, the manifest and its config blob.
* Auth: basic auth, and the token flow (a 401 with ``WWW-Authenticate: Bearer realm=...,
  service=..., scope=...`` → ``GET realm`` with basic auth → a bearer token for that scope). The
  username and password go to the token realm only if it is on the registry's own host (over
  HTTPS unless the registry itself is plain HTTP); a realm elsewhere gets an anonymous request.
* Archives: the chart layer's blob, whose sha256 must be the manifest's layer digest.
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

from catalog import helm, remote
from catalog.models import CatalogSource, PackageVersion
from portal import outbound, yamlsafe
from portal.addresses import AddressError

SCHEMES = {"oci": False, "oci+http": True}  # scheme -> plain HTTP
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.cncf.helm.config.v1+json"
MEDIA_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MAX_LIST_BYTES = 5 * 1024 * 1024  # one page of _catalog or tags/list
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_CONFIG_BYTES = 1024 * 1024
MAX_TOKEN_BYTES = 256 * 1024
MAX_PAGES = 100
PAGE_SIZE = 1000
MAX_TAGS = 2000  # manifests read in one refresh (each costs two requests)
REFRESH_DEADLINE = 900.0
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class Location:
    """Where an OCI source points: the registry (``host[:port]``), plain HTTP or not, a path prefix."""

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
    if prefix and not _NAME.match(prefix):
        raise ValueError("The path after the registry's host is a repository name or prefix: lowercase letters, "
                         "digits, '.', '_', '-' and '/'.")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return Location(host=f"{host}:{port}" if port else host, plain_http=SCHEMES[parts.scheme], prefix=prefix)


def check_url(url: str, *, actor: Any) -> str:
    """The normalised registry address, or a ValueError (plain HTTP only where ``http://`` is allowed)."""
    location = parse_url(url)
    if location.plain_http and not remote.http_allowed(actor):
        raise ValueError("Use oci:// (HTTPS; only system admins may add an oci+http:// registry).")
    scheme = "oci+http" if location.plain_http else "oci"
    remote.check_destination(location.base)
    return f"{scheme}://{location.host}/{location.prefix}".rstrip("/")


class RegistryError(remote.SourceError):
    """An HTTP error answer of the registry (``code``)."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


class _Unusable(Exception):
    """A tag holding a Helm chart the portal cannot use (counted as skipped)."""


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
    """One registry conversation: its location, the source's credentials and CA, tokens per scope."""

    def __init__(self, source: CatalogSource, location: Location, verify: bool | str,
                 session: requests.Session | None = None) -> None:
        self.location = location
        self.origin = remote.origin(location.base)
        self.basic = (source.username, source.get_password()) if source.username else None
        self.verify = verify
        self.tokens: dict[str, str] = {}
        self.session = session or outbound.session()  # every connection checked and pinned

    def _basic_header(self) -> str | None:
        if self.basic is None:
            return None
        request = requests.Request("GET", self.location.base, auth=self.basic).prepare()
        return request.headers.get("Authorization")

    def _send(self, url: str, *, authorization: str | None, origin: tuple[str, str, int | None],
              headers: dict[str, str]) -> tuple[requests.Response, str]:
        """GET with redirects followed by hand: every hop's address checked, the Authorization
        header only while the hop is on ``origin``."""
        for _hop in range(remote.MAX_REDIRECTS + 1):
            auth = _Header(authorization) if authorization and remote.origin(url) == origin else None
            try:
                response = self.session.get(url, auth=auth, verify=self.verify, timeout=remote.TIMEOUT, stream=True,
                                            allow_redirects=False,
                                            headers={"User-Agent": remote.USER_AGENT, **headers})
            except (AddressError, requests.exceptions.RequestException) as exc:
                raise remote.SourceError(outbound.failure_message(exc, url=url, what="the registry")) from exc
            location = self.session.get_redirect_target(response)  # raw UTF-8 bytes of the header decoded as such
            if location:
                target = urljoin(url, location)
                response.close()
                if urlsplit(target).scheme not in ("http", "https") or (
                        urlsplit(target).scheme == "http" and not self.location.plain_http):
                    raise remote.SourceError(f"{url} redirected to {target}, an address the portal does not fetch.")
                url = target
                continue
            return response, url
        raise remote.SourceError(f"{url} redirected more than {remote.MAX_REDIRECTS} times.")

    def get(self, path: str, *, scope: str, cap: int, what: str,
            accept: str = "") -> tuple[bytes, requests.structures.CaseInsensitiveDict[str], str]:
        """GET ``path`` on the registry (authorised for ``scope``): the body (at most ``cap`` bytes),
        the headers and the final URL. HTTP errors are :class:`RegistryError`."""
        url = self.location.base + path
        headers = {"Accept": accept} if accept else {}
        try:
            for attempt in (0, 1):
                token = self.tokens.get(scope)
                authorization = f"Bearer {token}" if token else self._basic_header()
                response, final = self._send(url, authorization=authorization, origin=self.origin, headers=headers)
                if response.status_code == 401 and attempt == 0:
                    challenge = _challenge(response.headers.get("WWW-Authenticate", ""))
                    if challenge.get("realm"):
                        response.close()
                        self.tokens[scope] = self._token(challenge, scope)
                        continue
                break
            return _read(response, final, cap=cap, what=what, authorised=self.basic is not None), \
                response.headers, final
        except (AddressError, requests.exceptions.RequestException) as exc:  # while reading the body
            raise remote.SourceError(outbound.failure_message(exc, url=url, what="the registry")) from exc

    def _token(self, challenge: dict[str, str], scope: str) -> str:
        """A bearer token from the challenge's realm; credentials only to a realm on the registry's host."""
        realm = challenge["realm"]
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.hostname or (
                parts.scheme == "http" and not self.location.plain_http):
            raise remote.SourceError(f"The registry's token service {realm} is not an address the portal uses.")
        query = {k: v for k, v in (("service", challenge.get("service", "")),
                                   ("scope", challenge.get("scope") or scope)) if v}
        url = realm + ("&" if parts.query else "?") + urlencode(query)
        own_host = (parts.hostname or "").lower() == self.origin[1]
        authorization = self._basic_header() if own_host else None
        response, final = self._send(url, authorization=authorization, origin=remote.origin(realm), headers={})
        body = _read(response, final, cap=MAX_TOKEN_BYTES, what="token", authorised=authorization is not None)
        try:
            doc = yamlsafe.load_json(body)
        except ValueError as exc:
            raise remote.SourceError(f"The registry's token service {realm} answered no JSON.") from exc
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise remote.SourceError(f"The registry's token service {realm} gave no token.")
        return token


def _read(response: requests.Response, url: str, *, cap: int, what: str, authorised: bool) -> bytes:
    started = time.monotonic()
    with response:
        code = response.status_code
        if code in (401, 403):
            hint = "check the username and password" if authorised else "the registry needs a username and password"
            raise RegistryError(f"The registry refused access to {url} (HTTP {code}); {hint}.", code=code)
        if code == 404:
            raise RegistryError(f"{url} was not found (HTTP 404); check the registry's address.", code=code)
        if code >= 400:
            raise RegistryError(f"{url} answered HTTP {code}; try again later or ask the registry's owner.", code=code)
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > cap:
            raise remote.SourceError(f"The {what} at {url} is {int(length)} bytes; at most {cap} bytes are accepted.")
        body = bytearray()
        for chunk in response.iter_content(chunk_size=65536):
            body += chunk
            if len(body) > cap:
                raise remote.SourceError(f"The {what} at {url} is larger than {cap} bytes, the most accepted.")
            if time.monotonic() - started > remote.DEADLINE:
                raise remote.SourceError(f"Downloading {url} took longer than {remote.DEADLINE:g} s; try again "
                                          "later.")
        return bytes(body)


@contextmanager
def registry(source: CatalogSource) -> Iterator[Registry]:
    """A :class:`Registry` for the source (its CA written to a temporary file while it is used)."""
    try:
        location = parse_url(source.url)
    except ValueError as exc:
        raise remote.SourceError(f"The source's address {source.url} is not usable: {exc}") from exc
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as ca_file, outbound.session() as session:
        verify: bool | str = True
        if source.ca_pem.strip():
            ca_file.write(source.ca_pem)
            ca_file.flush()
            verify = ca_file.name
        yield Registry(source, location, verify, session)


def _json(body: bytes, url: str, what: str) -> Any:
    try:
        return yamlsafe.load_json(body)
    except ValueError as exc:
        raise remote.SourceError(f"The {what} at {url} is not JSON; is the address that of an OCI registry?") from exc


def _pages(reg: Registry, path: str, *, key: str, scope: str, what: str) -> list[str]:
    """All names of a paged listing (``_catalog`` or ``tags/list``), following its ``Link`` header."""
    out: list[str] = []
    url = f"{path}?n={PAGE_SIZE}"
    for _page in range(MAX_PAGES):
        body, headers, final = reg.get(url, scope=scope, cap=MAX_LIST_BYTES, what=what)
        doc = _json(body, final, what)
        names = doc.get(key) if isinstance(doc, dict) else None
        out += [n for n in names or [] if isinstance(n, str)]
        match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', headers.get("Link", ""))
        if not match or not names:
            return out
        target = urljoin(final, match[1])
        if remote.origin(target) != reg.origin:
            raise remote.SourceError(f"The {what} at {final} continues on another server ({target}); refused.")
        parts = urlsplit(target)
        url = parts.path + (f"?{parts.query}" if parts.query else "")
    raise remote.SourceError(f"The {what} at {reg.location.base}{path} has more than {MAX_PAGES} pages.")


def repositories(reg: Registry) -> list[str]:
    """The chart repositories to read: those under the prefix, or the prefix itself."""
    prefix = reg.location.prefix
    try:
        names = _pages(reg, "/v2/_catalog", key="repositories", scope="registry:catalog:*", what="repository list")
    except RegistryError as exc:
        if exc.code not in (401, 403, 404, 405):
            raise
        if not prefix:
            raise remote.SourceError(f"The registry does not list its repositories ({exc.message}); give the address "
                                      "of a chart repository, like oci://registry.example.com/charts/webapp.") from exc
        return [prefix]
    if not prefix or prefix in names:
        return [prefix] if prefix else sorted(names)
    return sorted(n for n in names if n.startswith(prefix + "/"))


def _path(name: str) -> str:
    return quote(name, safe="/")


def read_registry(source: CatalogSource) -> tuple[dict[str, list[remote.IndexEntry]], int]:
    """Charts of the source's registry (name -> entries, as from an index) and how many tags were
    skipped as unusable charts."""
    started = time.monotonic()
    out: dict[str, list[remote.IndexEntry]] = {}
    skipped = read = 0
    with registry(source) as reg:
        for repository in repositories(reg)[:remote.MAX_CHARTS]:
            scope = f"repository:{repository}:pull"
            try:
                tags = _pages(reg, f"/v2/{_path(repository)}/tags/list", key="tags", scope=scope, what="tag list")
            except RegistryError as exc:
                if exc.code == 404 and repository != reg.location.prefix:
                    continue  # deleted since the listing
                raise
            chart = repository.rsplit("/", 1)[-1]
            for tag in tags:
                if not _TAG.match(tag):
                    skipped += 1
                    continue
                read += 1
                if read > MAX_TAGS:
                    raise remote.SourceError(f"The registry holds more than {MAX_TAGS} tags under "
                                              f"{source.url}; give a narrower prefix.")
                if time.monotonic() - started > REFRESH_DEADLINE:
                    raise remote.SourceError(f"Reading the registry took longer than {REFRESH_DEADLINE:g} s; give a "
                                              "narrower prefix or try again later.")
                try:
                    entry = _entry(reg, repository, tag)
                except _Unusable:
                    skipped += 1
                    continue
                if entry is None:
                    continue  # not a chart (an image, a signature, ...)
                if entry.name != chart or any(e.version == entry.version for e in out.get(chart, [])):
                    skipped += 1
                    continue
                if chart in out and out[chart][0].url.rsplit(":", 1)[0] != entry.url.rsplit(":", 1)[0]:
                    skipped += 1  # the same chart name in two repositories under the prefix: the first one counts
                    continue
                out.setdefault(chart, []).append(entry)
    return out, skipped


def _entry(reg: Registry, repository: str, tag: str) -> remote.IndexEntry | None:
    """The chart a tag holds; ``None`` if it is no Helm chart, :class:`_Unusable` if it is an unusable one."""
    scope = f"repository:{repository}:pull"
    try:
        body, _, final = reg.get(f"/v2/{_path(repository)}/manifests/{tag}", scope=scope,
                                       cap=MAX_MANIFEST_BYTES, what="manifest", accept=MEDIA_MANIFEST)
    except RegistryError as exc:
        if exc.code == 404:
            return None  # no OCI image manifest under this tag (e.g. an index or a Docker v2 manifest)
        raise
    manifest = _json(body, final, "manifest")
    config = manifest.get("config") if isinstance(manifest, dict) else None
    if not isinstance(config, dict) or config.get("mediaType") != MEDIA_CONFIG:
        return None
    layers = [layer for layer in manifest.get("layers") or [] if isinstance(layer, dict)
              and layer.get("mediaType") == MEDIA_CHART]
    if len(layers) != 1:
        raise _Unusable
    layer_digest, size = str(layers[0].get("digest", "")), layers[0].get("size")
    config_digest = str(config.get("digest", ""))
    if not _DIGEST.match(layer_digest) or not _DIGEST.match(config_digest) or not isinstance(size, int) \
            or not 0 < size <= helm.MAX_ARCHIVE_BYTES:
        raise _Unusable
    raw, _, final = reg.get(f"/v2/{_path(repository)}/blobs/{config_digest}", scope=scope, cap=MAX_CONFIG_BYTES,
                            what="chart config")
    if "sha256:" + hashlib.sha256(raw).hexdigest() != config_digest:
        raise _Unusable
    meta = _json(raw, final, "chart config")
    if not isinstance(meta, dict):
        raise _Unusable
    version = remote.text(meta.get("version"), 101).strip()
    if not version or len(version) > 100 or version.replace("+", "_") != tag:
        raise _Unusable
    keywords = meta.get("keywords")
    annotations = manifest.get("annotations") if isinstance(manifest.get("annotations"), dict) else {}
    return remote.IndexEntry(
        name=remote.text(meta.get("name"), 200), version=version, app_version=remote.text(meta.get("appVersion"), 100),
        description=remote.text(meta.get("description"), 2000), icon=remote.text(meta.get("icon"), 500),
        keywords=[str(k)[:100] for k in keywords[:50]] if isinstance(keywords, list) else [],
        home=remote.text(meta.get("home"), 500), url=f"oci://{reg.location.host}/{repository}:{tag}",
        digest=layer_digest, created=remote.created(annotations.get("org.opencontainers.image.created")))


def fetch_chart(row: PackageVersion, source: CatalogSource) -> bytes:
    """The chart layer of an OCI version, whose sha256 must be the manifest's layer digest."""
    label = f"{row.package.name} {row.version}"
    location = parse_url(source.url)
    parts = urlsplit(row.archive_url)
    repository, _, tag = parts.path.lstrip("/").rpartition(":")
    if parts.scheme != "oci" or parts.netloc != location.host or not _NAME.match(repository) or not _TAG.match(tag):
        raise remote.SourceError(f"The registry gives {label} an address the portal does not fetch "
                                  f"({row.archive_url}).")
    if not _DIGEST.match(row.digest):
        raise remote.SourceError(f"The manifest of {label} gave no sha256 digest of the chart; refresh the source.")
    with registry(source) as reg:
        data, _, _ = reg.get(f"/v2/{_path(repository)}/blobs/{row.digest}", scope=f"repository:{repository}:pull",
                             cap=helm.MAX_ARCHIVE_BYTES, what="chart archive")
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if digest != row.digest:
        raise remote.SourceError(f"The chart of {label} does not match the digest in the registry's manifest "
                                  f"(manifest {row.digest}, blob {digest}); refused. Refresh the source; if this "
                                  "persists, tell the registry's owner.")
    return data

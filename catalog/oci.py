"""OCI registries holding Helm charts: a catalog source read through the shared registry client
(:mod:`portal.oci`, the Distribution API v2 with its address policy, caps and token flow).

Helm 3.8+ pushes a chart to a registry as an OCI artifact: a manifest whose config blob
(``application/vnd.cncf.helm.config.v1+json``) is the chart's ``Chart.yaml`` as JSON and whose one
layer (``application/vnd.cncf.helm.chart.content.v1.tar+gzip``) is the chart archive. This module
knows charts and catalog sources; :mod:`portal.oci` knows registries. Its errors become the
catalog's :class:`catalog.remote.SourceError` here, so callers see the same errors as for chart
repositories (:mod:`catalog.sources`).

* Address: ``oci://host[:port]/path/prefix`` (HTTPS). ``oci+http://host[:port]/prefix`` is the
  plain-HTTP form (Helm's ``--plain-http``), accepted where ``http://`` repositories are
  (:func:`catalog.remote.http_allowed`: system admins, development and test profiles); a forbidden
  address is refused at create/update time by :func:`check_url`.
* Listing: ``GET /v2/_catalog`` (paged), keeping the repositories under the prefix; if the prefix
  is itself a repository, or the registry does not list its repositories (many hosted ones answer
  401/404), the prefix is read as one chart repository. Then ``GET /v2/<name>/tags/list`` and, per
  tag, the manifest and its config blob.
* Archives: the chart layer's blob, whose sha256 must be the manifest's layer digest.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from catalog import helm, remote
from catalog.models import CatalogSource, PackageVersion
from portal import oci
from portal.oci import MEDIA_MANIFEST, SCHEMES, Location, parse_url

__all__ = ["MEDIA_CHART", "MEDIA_CONFIG", "MEDIA_MANIFEST", "SCHEMES", "Location", "RegistryError", "SourceRegistry",
           "check_url", "fetch_chart", "parse_url", "read_registry", "registry", "repositories"]

MEDIA_CONFIG = "application/vnd.cncf.helm.config.v1+json"
MEDIA_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MAX_CONFIG_BYTES = 1024 * 1024
PAGE_SIZE = oci.PAGE_SIZE  # names per page of a listing
MAX_TAGS = 2000  # manifests read in one refresh (each costs two requests)
REFRESH_DEADLINE = 900.0


def check_url(url: str, *, actor: Any) -> str:
    """The normalised registry address, or a ValueError (plain HTTP only where ``http://`` is allowed)."""
    location = parse_url(url)
    if location.plain_http and not remote.http_allowed(actor):
        raise ValueError("Use oci:// (HTTPS; only system admins may add an oci+http:// registry).")
    scheme = "oci+http" if location.plain_http else "oci"
    remote.check_destination(location.base)
    return f"{scheme}://{location.host}/{location.prefix}".rstrip("/")


class RegistryError(remote.SourceError):
    """An HTTP error answer of the registry (``http_status``), as a catalog source error."""

    def __init__(self, message: str, *, http_status: int) -> None:
        super().__init__(message)
        self.http_status = http_status


class _Unusable(Exception):
    """A tag holding a Helm chart the portal cannot use (counted as skipped)."""


@contextmanager
def _source_errors() -> Iterator[None]:
    """The shared client's errors in the catalog's terms (what sources and their callers catch)."""
    try:
        yield
    except oci.RegistryError as exc:
        raise RegistryError(exc.message, http_status=exc.code) from exc
    except oci.RegistryUnavailable as exc:
        raise remote.SourceError(exc.message) from exc


class SourceRegistry:
    """A source's registry conversation (:class:`portal.oci.Registry`) whose errors are
    :class:`catalog.remote.SourceError`."""

    def __init__(self, registry: oci.Registry) -> None:
        self.registry = registry
        self.location = registry.location
        self.origin = registry.origin

    def get(self, path: str, *, scope: str, cap: int, what: str, accept: str = "") -> tuple[bytes, Any, str]:
        with _source_errors():
            return self.registry.get(path, scope=scope, cap=cap, what=what, accept=accept)

    def pages(self, path: str, *, key: str, scope: str, what: str) -> list[str]:
        with _source_errors():
            return self.registry.pages(path, key=key, scope=scope, what=what, page_size=PAGE_SIZE)

    def json(self, body: bytes, url: str, what: str) -> Any:
        with _source_errors():
            return self.registry.json(body, url, what)


@contextmanager
def registry(source: CatalogSource) -> Iterator[SourceRegistry]:
    """The registry of ``source``, with its credentials and CA (the catalog's timeouts and deadline)."""
    try:
        location = parse_url(source.url)
    except ValueError as exc:
        raise remote.SourceError(f"The source's address {source.url} is not usable: {exc}") from exc
    with oci.registry(location, ca_pem=source.ca_pem, username=source.username,
                      password=source.get_password() if source.username else "", timeout=remote.TIMEOUT,
                      deadline=remote.DEADLINE, user_agent=remote.USER_AGENT) as reg:
        yield SourceRegistry(reg)


def repositories(reg: SourceRegistry) -> list[str]:
    """The chart repositories to read: those under the prefix, or the prefix itself."""
    prefix = reg.location.prefix
    try:
        names = reg.pages("/v2/_catalog", key="repositories", scope="registry:catalog:*", what="repository list")
    except RegistryError as exc:
        if exc.http_status not in (401, 403, 404, 405):
            raise
        if not prefix:
            raise remote.SourceError(f"The registry does not list its repositories ({exc.message}); give the address "
                                      "of a chart repository, like oci://registry.example.com/charts/webapp.") from exc
        return [prefix]
    if not prefix or prefix in names:
        return [prefix] if prefix else sorted(names)
    return sorted(n for n in names if n.startswith(prefix + "/"))


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
                tags = reg.pages(f"/v2/{oci.repository_path(repository)}/tags/list", key="tags", scope=scope,
                                 what="tag list")
            except RegistryError as exc:
                if exc.http_status == 404 and repository != reg.location.prefix:
                    continue  # deleted since the listing
                raise
            chart = repository.rsplit("/", 1)[-1]
            for tag in tags:
                if not oci.TAG.match(tag):
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


def _entry(reg: SourceRegistry, repository: str, tag: str) -> remote.IndexEntry | None:
    """The chart a tag holds; ``None`` if it is no Helm chart, :class:`_Unusable` if it is an unusable one."""
    scope = f"repository:{repository}:pull"
    try:
        body, _, final = reg.get(f"/v2/{oci.repository_path(repository)}/manifests/{tag}", scope=scope,
                                 cap=oci.MAX_MANIFEST_BYTES, what="manifest", accept=MEDIA_MANIFEST)
    except RegistryError as exc:
        if exc.http_status == 404:
            return None  # no OCI image manifest under this tag (e.g. an index or a Docker v2 manifest)
        raise
    manifest = reg.json(body, final, "manifest")
    config = manifest.get("config") if isinstance(manifest, dict) else None
    if not isinstance(config, dict) or config.get("mediaType") != MEDIA_CONFIG:
        return None
    layers = [layer for layer in manifest.get("layers") or [] if isinstance(layer, dict)
              and layer.get("mediaType") == MEDIA_CHART]
    if len(layers) != 1:
        raise _Unusable
    layer_digest, size = str(layers[0].get("digest", "")), layers[0].get("size")
    config_digest = str(config.get("digest", ""))
    if not oci.DIGEST.match(layer_digest) or not oci.DIGEST.match(config_digest) or not isinstance(size, int) \
            or not 0 < size <= helm.MAX_ARCHIVE_BYTES:
        raise _Unusable
    raw, _, final = reg.get(f"/v2/{oci.repository_path(repository)}/blobs/{config_digest}", scope=scope,
                            cap=MAX_CONFIG_BYTES, what="chart config")
    if "sha256:" + hashlib.sha256(raw).hexdigest() != config_digest:
        raise _Unusable
    meta = reg.json(raw, final, "chart config")
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
    if parts.scheme != "oci" or parts.netloc != location.host or not oci.NAME.match(repository) or not oci.TAG.match(tag):
        raise remote.SourceError(f"The registry gives {label} an address the portal does not fetch "
                                  f"({row.archive_url}).")
    if not oci.DIGEST.match(row.digest):
        raise remote.SourceError(f"The manifest of {label} gave no sha256 digest of the chart; refresh the source.")
    with registry(source) as reg:
        data, _, _ = reg.get(f"/v2/{oci.repository_path(repository)}/blobs/{row.digest}", scope=f"repository:{repository}:pull",
                             cap=helm.MAX_ARCHIVE_BYTES, what="chart archive")
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if digest != row.digest:
        raise remote.SourceError(f"The chart of {label} does not match the digest in the registry's manifest "
                                  f"(manifest {row.digest}, blob {digest}); refused. Refresh the source; if this "
                                  "persists, tell the registry's owner.")
    return data

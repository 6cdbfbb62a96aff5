"""Catalog sources: reading Helm chart repositories and fetching chart archives.

OCI registries holding charts (kind ``oci``) are read by :mod:`catalog.oci` under the same rules;
:func:`refresh` and :func:`ensure_archive` dispatch to it by the source's kind.

The portal fetches repositories itself with ``requests`` (never through the Helm SDK, whose
network calls have no timeout and do not check digests), through :func:`portal.outbound.session`:
every connection, redirect hops included, is checked against the address policy and pinned to
the checked address, and a source whose address the policy forbids is refused (400) when it is
created or changed (:func:`check_destination`). Connect/read timeouts of
:data:`TIMEOUT` and an overall deadline, TLS verified (against the source's ``ca_pem`` when it has
one), basic auth sent only to the repository's own origin, the index capped at
:data:`MAX_INDEX_BYTES` and archives at :data:`catalog.helm.MAX_ARCHIVE_BYTES`.

* :func:`refresh` (the ``catalog.refresh_source`` task) reads ``<url>/index.yaml`` into
  :class:`Package` and :class:`PackageVersion` rows. Versions that left the index are deleted,
  unless releases, revisions or rollouts use them (then they stay, and the message says so).
  Archives already fetched are never replaced: if the index changes a fetched version's digest,
  the verified copy is kept and the message says so.
* :func:`ensure_archive` fetches a version's archive on first use, checks it against the
  index's sha256 digest, checks the archive (:func:`catalog.helm.validate_archive`,
  :func:`catalog.helm.inspect`) and stores it with its values, schema and README.

Failures are :class:`SourceError` (an API error answering 502) with a message a person can act on.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from catalog import helm, oci
from catalog.models import (
    CatalogSource,
    Package,
    PackageVersion,
    Release,
    Revision,
    Rollout,
    RolloutStatus,
    SourceKind,
    SourceStatus,
)
from catalog.remote import (
    DEADLINE,
    MAX_CHARTS,
    MAX_REDIRECTS,
    TIMEOUT,
    USER_AGENT,
    IndexEntry,
    SourceError,
    check_destination,
    http_allowed,
)
from catalog.remote import created as _created
from catalog.remote import origin as _origin
from catalog.remote import text as _s
from portal import outbound, yamlsafe
from portal.addresses import AddressError

logger = logging.getLogger(__name__)

MAX_INDEX_BYTES = 20 * 1024 * 1024
MAX_INDEX_NODES = 10_000_000  # parsed nodes of an index.yaml, aliases expanded
MAX_VERSIONS = 100_000
REMOTE_KINDS = (SourceKind.HELM, SourceKind.OCI)  # sources the portal reads (refresh, webhooks, the beat)


# ---------------------------------------------------------------------------- URLs


def check_url(url: str, *, actor: Any) -> str:
    """The normalised repository URL, or a ValueError whose text names the problem."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("Give the repository's address, like https://charts.example.com/stable.")
    if parts.username or parts.password:
        raise ValueError("Put the credentials in username and password, not in the address.")
    if parts.query or parts.fragment:
        raise ValueError("The address of a repository has no query or fragment.")
    if parts.scheme == "http" and not http_allowed(actor):
        raise ValueError("Use https:// (only system admins may add an http:// repository).")
    check_destination(url)
    return url.rstrip("/")


def index_url(repo_url: str) -> str:
    return repo_url.rstrip("/") + "/index.yaml"


# ---------------------------------------------------------------------------- HTTP


def fetch(url: str, *, source: CatalogSource, cap: int, what: str) -> bytes:
    """GET ``url`` with the source's credentials (only on its own origin) and CA, at most ``cap`` bytes.

    Every connection, redirect hops included, is checked against the address policy and pinned to
    the checked address (:func:`portal.outbound.session`)."""
    auth = None
    if source.username and _origin(url) == _origin(source.url):
        auth = (source.username, source.get_password())
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as ca_file, outbound.session() as session:
        verify: bool | str = True
        if source.ca_pem.strip():
            ca_file.write(source.ca_pem)
            ca_file.flush()
            verify = ca_file.name
        return _get(session, url, auth=auth, verify=verify, cap=cap, what=what)


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:299] + "…"


def _get(session: requests.Session, url: str, *, auth: tuple[str, str] | None, verify: bool | str, cap: int,
         what: str) -> bytes:
    """GET with redirects followed by hand (credentials only to the repository's origin); every hop's
    connection is checked and pinned by the session. Failures are :class:`SourceError`."""
    started = time.monotonic()
    try:
        for _hop in range(MAX_REDIRECTS + 1):  # followed by hand: credentials only to the repository's origin
            response = session.get(url, auth=auth, verify=verify, timeout=TIMEOUT, stream=True, allow_redirects=False,
                                    headers={"User-Agent": USER_AGENT})
            location = session.get_redirect_target(response)  # raw UTF-8 bytes of the header decoded as such
            if location:
                target = urljoin(url, location)
                response.close()
                if urlsplit(target).scheme not in ("http", "https"):
                    raise SourceError(f"{url} redirected to {target[:300]}, an address the portal does not fetch.")
                if _origin(target) != _origin(url):
                    auth = None  # credentials stay with the repository's own origin
                url = target
                continue
            break
        else:
            raise SourceError(f"{url} redirected more than {MAX_REDIRECTS} times.")
        with response:
            code = response.status_code
            if code in (401, 403):
                hint = "check the username and password" if auth else "the repository needs a username and password"
                raise SourceError(f"The repository refused access to {url} (HTTP {code}); {hint}.")
            if code == 404:
                raise SourceError(f"{url} was not found (HTTP 404); check the repository's address.")
            if code >= 400:
                raise SourceError(f"{url} answered HTTP {code}; try again later or ask the repository's owner.")
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > cap:
                raise SourceError(f"The {what} at {url} is {int(length)} bytes; at most {cap} bytes are accepted.")
            body = bytearray()
            for chunk in response.iter_content(chunk_size=65536):
                body += chunk
                if len(body) > cap:
                    raise SourceError(f"The {what} at {url} is larger than {cap} bytes, the most accepted.")
                if time.monotonic() - started > DEADLINE:
                    raise SourceError(f"Downloading {url} took longer than {DEADLINE:g} s; try again later.")
            return bytes(body)
    except (AddressError, requests.exceptions.RequestException) as exc:
        raise SourceError(outbound.failure_message(exc, url=url, what="the repository")) from exc


# ---------------------------------------------------------------------------- the index


_HEX64 = re.compile(r"^(sha256:)?([0-9a-fA-F]{64})$")


def parse_index(body: bytes, repo_url: str) -> tuple[dict[str, list[IndexEntry]], int]:
    """Charts of an ``index.yaml`` (name -> entries) and how many entries were skipped as unusable."""
    try:  # libyaml for speed, after a pass that refuses deep nesting (libyaml would crash on it)
        doc = yamlsafe.load(body, what="The repository's index.yaml", max_nodes=MAX_INDEX_NODES, fast=True)
    except yamlsafe.YamlError as exc:
        raise SourceError(exc.message) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), dict):
        raise SourceError("The repository's index.yaml has no entries; is the address that of a Helm repository?")
    base = repo_url.rstrip("/") + "/"
    out: dict[str, list[IndexEntry]] = {}
    skipped = total = 0
    for name, rows in list(doc["entries"].items())[:MAX_CHARTS]:
        if not isinstance(name, str) or not name or len(name) > 200 or not isinstance(rows, list):
            skipped += 1
            continue
        seen: set[str] = set()
        for row in rows:
            total += 1
            if total > MAX_VERSIONS:
                raise SourceError(f"The repository lists more than {MAX_VERSIONS} chart versions.")
            if not isinstance(row, dict):
                skipped += 1
                continue
            version = _s(row.get("version"), 101).strip()
            urls = row.get("urls")
            if not version or len(version) > 100 or version in seen or not isinstance(urls, list) or not urls \
                    or not isinstance(urls[0], str):
                skipped += 1
                continue
            url = urljoin(base, urls[0].strip())
            if urlsplit(url).scheme not in ("http", "https") or len(url) > 1000:
                skipped += 1
                continue
            digest_match = _HEX64.match(_s(row.get("digest"), 80).strip())
            keywords = row.get("keywords")
            seen.add(version)
            out.setdefault(name, []).append(IndexEntry(
                name=name, version=version, app_version=_s(row.get("appVersion"), 100),
                description=_s(row.get("description"), 2000), icon=_s(row.get("icon"), 500),
                keywords=[str(k)[:100] for k in keywords[:50]] if isinstance(keywords, list) else [],
                home=_s(row.get("home"), 500), url=url,
                digest=f"sha256:{digest_match[2].lower()}" if digest_match else "",
                created=_created(row.get("created"))))
    return out, skipped


_SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def version_key(version: str) -> tuple[Any, ...]:
    """Sort key: SemVer order, releases after their pre-releases, unparseable versions first."""
    match = _SEMVER.match(version.strip())
    if not match:
        return (0, (), 0, ())
    numbers = tuple(int(n or 0) for n in match.groups()[:3])
    pre = match[4]
    if pre is None:
        return (1, numbers, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (1, numbers, 0, parts)


def latest(versions: list[str]) -> str:
    if not versions:
        return ""
    stable = [v for v in versions if version_key(v)[2] == 1]
    return max(stable or versions, key=version_key)


# ---------------------------------------------------------------------------- refresh


def refresh(source_id: int) -> str:
    """Read the repository's index into packages and versions; the source ends ``ready`` or ``error``."""
    source = CatalogSource.objects.filter(pk=source_id).first()
    if source is None:
        return "gone"
    if source.kind not in REMOTE_KINDS:
        CatalogSource.objects.filter(pk=source_id).update(status=SourceStatus.READY, message="")
        return "nothing to refresh"
    CatalogSource.objects.filter(pk=source_id).update(status=SourceStatus.REFRESHING)
    try:
        if source.kind == SourceKind.OCI:
            charts, skipped = oci.read_registry(source)
        else:
            body = fetch(index_url(source.url), source=source, cap=MAX_INDEX_BYTES, what="index")
            charts, skipped = parse_index(body, source.url)
        message = store_index(source_id, charts, skipped)
    except SourceError as exc:
        CatalogSource.objects.filter(pk=source_id).update(status=SourceStatus.ERROR, message=exc.message,
                                                          last_refreshed=timezone.now())
        return "error"
    except Exception as exc:
        logger.exception("refresh of catalog source %s failed", source_id)
        CatalogSource.objects.filter(pk=source_id).update(
            status=SourceStatus.ERROR, last_refreshed=timezone.now(),
            message=f"The refresh failed unexpectedly ({type(exc).__name__}); try again, or ask an admin to look "
                    "at the portal's logs.")
        return "error"
    CatalogSource.objects.filter(pk=source_id).update(status=SourceStatus.READY, message=message,
                                                      last_refreshed=timezone.now())
    return "ready"


def used_version_ids(version_ids: Any) -> set[int]:
    """Versions that releases, revisions or running rollouts use (the database protects the
    first two). A finished rollout is history and pins nothing: its link is cleared when the
    version goes (it keeps ``version_label``)."""
    used: set[int] = set()
    for model in (Release, Revision):
        used |= set(model.objects.filter(package_version__in=version_ids).values_list("package_version_id", flat=True))
    used |= set(Rollout.objects.filter(package_version__in=version_ids, status=RolloutStatus.RUNNING)
                .values_list("package_version_id", flat=True))
    used.discard(None)  # type: ignore[arg-type]
    return used


LIGHT = ("archive", "values_yaml", "values_schema", "readme")


def store_index(source_id: int, charts: dict[str, list[IndexEntry]], skipped: int = 0) -> str:
    """Make the source's packages and versions match the index; returns the status message."""
    now = timezone.now()
    kept = changed_upstream = 0
    with transaction.atomic():
        source = CatalogSource.objects.select_for_update().get(pk=source_id)
        packages = {p.name: p for p in Package.objects.filter(source=source)}
        versions: dict[tuple[int, str], PackageVersion] = {
            (v.package_id, v.version): v
            for v in PackageVersion.objects.filter(package__source=source).defer(*LIGHT)}
        fetched = set(PackageVersion.objects.filter(package__source=source, archive__isnull=False)
                      .values_list("pk", flat=True))
        create: list[PackageVersion] = []
        update: list[PackageVersion] = []
        listed: set[int] = set()
        for name, entries in charts.items():
            newest = latest([e.version for e in entries])
            head = next(e for e in entries if e.version == newest)
            package = packages.get(name) or Package(source=source, name=name)
            package.description, package.icon, package.home = head.description, head.icon, head.home
            package.keywords, package.latest_version = head.keywords, head.version
            package.save()
            packages[name] = package
            for entry in entries:
                row = versions.get((package.pk, entry.version))
                if row is None:
                    create.append(PackageVersion(
                        package=package, version=entry.version, app_version=entry.app_version,
                        description=entry.description, archive_url=entry.url, digest=entry.digest,
                        created=entry.created or now))
                    continue
                listed.add(row.pk)
                if row.pk in fetched:  # verified copy: never replaced by what the index says now
                    if entry.digest and row.digest and entry.digest != row.digest:
                        changed_upstream += 1
                    continue
                row.app_version, row.description = entry.app_version, entry.description
                row.archive_url, row.digest = entry.url, entry.digest
                row.created = entry.created or row.created
                update.append(row)
        PackageVersion.objects.bulk_create(create, batch_size=500)
        PackageVersion.objects.bulk_update(update, ["app_version", "description", "archive_url", "digest", "created"],
                                           batch_size=500)
        gone = [v.pk for v in versions.values() if v.pk not in listed]
        used = used_version_ids(gone)
        kept = len(used)
        PackageVersion.objects.filter(pk__in=[pk for pk in gone if pk not in used]).delete()
        Package.objects.filter(source=source).exclude(name__in=list(charts)).filter(versions__isnull=True).delete()
        for package in Package.objects.filter(source=source).exclude(name__in=list(charts)):
            package.latest_version = latest(list(package.versions.values_list("version", flat=True)))
            package.save(update_fields=["latest_version", "updated"])
    count = sum(len(e) for e in charts.values())
    message = f"{len(charts)} package(s), {count} version(s)." if charts else "The repository lists no charts."
    if kept:
        message += f" {kept} version(s) no longer in the repository are kept because releases use them."
    if changed_upstream:
        message += (f" {changed_upstream} version(s) changed in the repository after the portal fetched them; "
                    "the verified copies are kept.")
    if skipped:
        message += f" {skipped} unusable index entries were skipped."
    return message


def enqueue_due(enqueue: Callable[[int], Any]) -> int:
    """Queue a refresh of every repository whose ``refresh_minutes`` have passed since the last one."""
    now = timezone.now()
    due = 0
    rows = (CatalogSource.objects.filter(kind__in=REMOTE_KINDS, refresh_minutes__gt=0)
            .values_list("pk", "refresh_minutes", "last_refreshed"))
    for pk, minutes, last in rows:
        if last is None or last <= now - timedelta(minutes=minutes):
            CatalogSource.objects.filter(pk=pk).filter(
                Q(last_refreshed__isnull=True) | Q(last_refreshed=last)).update(status=SourceStatus.REFRESHING)
            enqueue(pk)
            due += 1
    return due


# ---------------------------------------------------------------------------- archives


def ensure_archive(version: PackageVersion) -> bytes:
    """The version's chart archive, fetched and checked on first use (then stored).

    Raises :class:`SourceError` if the repository fails, the archive does not match the
    index's digest, or it is not a usable chart of that name and version.
    """
    if version.archive:
        return bytes(version.archive)
    row = PackageVersion.objects.select_related("package__source").get(pk=version.pk)
    if row.archive:
        _copy(row, version)
        return bytes(row.archive)
    package, source = row.package, row.package.source
    label = f"{package.name} {row.version}"
    if source.kind not in REMOTE_KINDS or not row.archive_url:
        raise SourceError(f"The archive of {label} is missing; upload the chart again.")
    if source.kind == SourceKind.OCI:
        data = oci.fetch_chart(row, source)  # checked against the manifest's layer digest
    else:
        scheme = urlsplit(row.archive_url).scheme
        if scheme not in ("http", "https") or (scheme == "http" and urlsplit(source.url).scheme != "http"):
            raise SourceError(f"The index gives {label} an address the portal does not fetch ({row.archive_url}).")
        data = fetch(row.archive_url, source=source, cap=helm.MAX_ARCHIVE_BYTES, what="chart archive")
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if row.digest and row.digest != digest:
        raise SourceError(f"The archive of {label} does not match the digest in the repository's index "
                          f"(index {row.digest}, archive {digest}); refused. Refresh the source; if this persists, "
                          "the repository's index or archive was changed and its owner should be told.")
    try:
        info = helm.inspect(data)
    except helm.ChartError as exc:
        raise SourceError(f"The repository's archive of {label} is not a usable chart: {exc.message}") from exc
    if info.name != package.name or info.version != row.version:
        raise SourceError(f"The repository's archive for {label} holds {info.name} {info.version}; refused.")
    fields = {"archive": data, "digest": digest, "values_yaml": info.values_yaml, "values_schema": info.schema,
              "readme": info.readme[:1_000_000], "app_version": info.app_version or row.app_version,
              "lookup_templates": info.lookup_templates}
    PackageVersion.objects.filter(pk=row.pk).update(**fields)
    for name, value in fields.items():
        setattr(version, name, value)
    return data


def _copy(src: PackageVersion, dst: PackageVersion) -> None:
    for name in ("archive", "digest", "values_yaml", "values_schema", "readme", "app_version", "lookup_templates"):
        setattr(dst, name, getattr(src, name))


def chart_info(version: PackageVersion) -> helm.ChartInfo:
    """What the version's stored fields say (no engine call), e.g. for :func:`catalog.helm.values_form`."""
    values: Any = {}
    if version.values_yaml.strip():
        try:
            values = helm.load_values(version.values_yaml)
        except helm.ChartError:
            values = {}
    return helm.ChartInfo(
        name=version.package.name, version=version.version, app_version=version.app_version,
        description=version.description, icon=version.package.icon, keywords=list(version.package.keywords or []),
        home=version.package.home, values_yaml=version.values_yaml, values=values if isinstance(values, dict) else {},
        schema=version.values_schema if isinstance(version.values_schema, dict) else None, readme=version.readme,
        dependencies=[])

"""Reading and changing what a registry holds, through the Registry HTTP API v2 (:mod:`portal.oci`):
check a registry, list its repositories and tags with digest, size, platforms and creation
time, describe one image, delete a tag.

Why the portal's own client and not ``oras``: every connection must go through the address
policy pinned to the checked address (:func:`portal.outbound.session`), with the caps and the
credential rules of :mod:`portal.oci` that catalog sources already use; oras-py opens its own
sessions. The client speaks basic auth and the Bearer token flow.

Errors are the portal's, with stable codes (the contract in /work/coord/BUILDS.md, docs/registries.md):
``NotFound`` ``registry_not_found`` (404: the repository, tag or manifest is not there), ``Upstream``
``registry_refused`` (401/403), ``registry_error``
(another HTTP error); ``Unavailable`` ``registry_unavailable`` (network, TLS, the address policy,
an answer that is not a registry's); ``Conflict`` ``registry_delete_unsupported`` (the registry
or its record does not allow deleting). Messages name the address, never a credential.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from builds import registries, registry_actions
from builds.access import under_prefix
from builds.models import Registry
from portal import errors, oci

TAG_LIMIT = 200
TAGS_BUDGET_SECONDS = 20.0  # a tag page reads each image; a slow registry gives what it read by then
MAX_INDEX_CHILDREN = 16  # manifests of an index read for size and creation time
IMAGE_CONFIGS = ("application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json")
_FRACTION = re.compile(r"\.(\d{6})\d+")


@dataclass
class ImageInfo:
    digest: str
    size: int  # config + layers (an index: the sum over its images)
    media_type: str
    platforms: list[dict[str, str]] = field(default_factory=list)
    created: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class TagInfo:
    tag: str
    image: ImageInfo


def _translate(exc: oci.RegistryUnavailable, registry: Registry) -> errors.PortalError:
    params: dict[str, Any] = {"registry": registry.name}
    if isinstance(exc, oci.RegistryError):
        params["status"] = exc.code
        if exc.code in (401, 403):
            return errors.Upstream(exc.message, code="registry_refused", params=params)
        if exc.code == 404:  # what was asked for is not there: the caller's 404, not a failing upstream
            return errors.NotFound(exc.message, code="registry_not_found", params=params)
        return errors.Upstream(exc.message, code="registry_error", params=params)
    return errors.Unavailable(exc.message, code="registry_unavailable", params=params)


@contextmanager
def connect(registry: Registry) -> Iterator[oci.Registry]:
    """A conversation with ``registry`` (its credentials and CA); the client's errors come out as
    the portal's (see the module's docstring)."""
    try:
        with oci.registry(registries.location(registry), ca_pem=registry.ca_pem, username=registry.username,
                          password=registry.get_password()) as client:
            yield client
    except oci.RegistryUnavailable as exc:
        raise _translate(exc, registry) from exc


def check(registry_id: int) -> None:
    """Ask the registry's ``/v2/`` with its credentials and record the outcome on the row."""
    registry = Registry.objects.filter(pk=registry_id).first()
    if registry is None:
        return
    try:
        with connect(registry) as client:
            client.get("/v2/", scope="", cap=oci.MAX_TOKEN_BYTES, what="API root")
    except errors.PortalError as exc:
        registry_actions.set_status(registry.pk, ok=False, message=exc.message, code=exc.code, params=exc.params,
                                    password_changed=registry.password_changed)
        return
    registry_actions.set_status(registry.pk, ok=True, password_changed=registry.password_changed)


def repositories(registry: Registry, prefixes: list[str] | None) -> list[str]:
    """The repositories of ``registry`` under ``prefixes`` (``None``: all of them), sorted."""
    if prefixes is not None and not prefixes:
        return []
    with connect(registry) as client:
        names = client.catalog()
    return sorted({n for n in names if prefixes is None or any(under_prefix(n, p) for p in prefixes)})


def _created(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    text = _FRACTION.sub(r".\1", raw.strip()).replace("Z", "+00:00")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _platform(raw: Any) -> dict[str, str] | None:
    if not isinstance(raw, dict):
        return None
    out = {k: str(raw.get(k) or "") for k in ("os", "architecture", "variant")}
    if not out["os"] or out["os"] == "unknown":  # attestation manifests of BuildKit
        return None
    return out


def _dict(raw: Any) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else {}


def _descriptor_size(raw: Any) -> int:
    return raw["size"] if isinstance(raw, dict) and isinstance(raw.get("size"), int) else 0


class _Reader:
    """Reads images of one repository, each manifest and config once per conversation (many tags
    share a digest, an index's images share configs)."""

    def __init__(self, client: oci.Registry, repository: str) -> None:
        self.client, self.repository = client, repository
        self.configs: dict[str, dict[str, Any]] = {}
        self.images: dict[str, ImageInfo] = {}

    def config(self, digest: str) -> dict[str, Any]:
        if digest not in self.configs:
            try:
                body = json.loads(self.client.blob(self.repository, digest, what="image config"))
            except ValueError:
                body = {}
            self.configs[digest] = _dict(body)
        return self.configs[digest]

    def image(self, manifest: oci.Manifest) -> ImageInfo:
        doc = manifest.doc
        config = _dict(doc.get("config"))
        layers = [x for x in doc.get("layers") or [] if isinstance(x, dict)]
        info = ImageInfo(digest=manifest.digest, media_type=manifest.media_type,
                         size=_descriptor_size(config) + sum(_descriptor_size(x) for x in layers))
        config_digest = str(config.get("digest") or "")
        if oci.DIGEST.match(config_digest) and config.get("mediaType") in IMAGE_CONFIGS:
            body = self.config(config_digest)
            info.created = _created(body.get("created"))
            platform = _platform(body)
            if platform:
                info.platforms = [platform]
            labels = _dict(body.get("config")).get("Labels")
            if isinstance(labels, dict):
                info.labels = {str(k): str(v) for k, v in labels.items()}
        if info.created is None:
            info.created = _created(_dict(doc.get("annotations")).get("org.opencontainers.image.created"))
        return info

    def describe(self, reference: str) -> ImageInfo:
        """The image or index at a tag or digest."""
        if reference in self.images:
            return self.images[reference]
        manifest = self.client.manifest(self.repository, reference)
        if manifest.digest in self.images:
            return self.images[manifest.digest]
        info = self.index(manifest) if manifest.is_index else self.image(manifest)
        self.images[manifest.digest] = info
        return info

    def index(self, manifest: oci.Manifest) -> ImageInfo:
        children = [m for m in manifest.doc.get("manifests") or [] if isinstance(m, dict)]
        info = ImageInfo(digest=manifest.digest, media_type=manifest.media_type, size=0)
        for child in children:
            platform = _platform(child.get("platform"))
            if platform:
                info.platforms.append(platform)
        for child in children[:MAX_INDEX_CHILDREN]:
            digest = str(child.get("digest") or "")
            if not oci.DIGEST.match(digest):
                continue
            sub = self.images.get(digest) or self.image(self.client.manifest(self.repository, digest))
            info.size += sub.size
            if sub.created and (info.created is None or sub.created > info.created):
                info.created = sub.created
            if not info.labels and _platform(child.get("platform")):
                info.labels = sub.labels
        info.created = info.created or _created(
            _dict(manifest.doc.get("annotations")).get("org.opencontainers.image.created"))
        return info


def image_info(registry: Registry, repository: str, reference: str) -> ImageInfo:
    """The image (or index) at a tag or digest of ``repository``."""
    with connect(registry) as client:
        return _Reader(client, repository).describe(reference)


def tags(registry: Registry, repository: str, *, limit: int = TAG_LIMIT,
         budget: float = TAGS_BUDGET_SECONDS) -> tuple[list[TagInfo], bool]:
    """Up to ``limit`` tags of ``repository`` with their images, newest first, and whether there
    were more (or reading them took longer than ``budget`` seconds: the tags read so far are
    given). A tag deleted between the listing and the read is left out."""
    started = time.monotonic()
    with connect(registry) as client:
        names = sorted(set(client.tag_names(repository)), reverse=True)
        reader = _Reader(client, repository)
        out: list[TagInfo] = []
        truncated = len(names) > limit
        for tag in names[:limit]:
            if time.monotonic() - started > budget:
                truncated = True
                break
            try:
                out.append(TagInfo(tag=tag, image=reader.describe(tag)))
            except oci.RegistryError as exc:
                if exc.code != 404:
                    raise
    floor = datetime.min.replace(tzinfo=UTC)
    out.sort(key=lambda t: (t.image.created or floor, t.tag), reverse=True)
    return out, truncated


def delete_tag(registry: Registry, repository: str, tag: str) -> None:
    """Delete ``tag``: resolve its digest and delete the manifest by digest (the Registry API
    deletes manifests, not tags, so every tag on the same digest goes with it)."""
    if not registry.allow_delete:
        raise errors.Conflict(f"Deleting tags is turned off for registry {registry.name}.",
                              code="registry_delete_unsupported", params={"registry": registry.name})
    if not oci.TAG.match(tag):
        raise errors.Invalid(f"{tag!r} is not a valid tag.", code="invalid", errors={"tag": ["Not a valid tag."]})
    with connect(registry) as client:
        digest = client.head_manifest(repository, tag)[0]
        try:
            client.delete_manifest(repository, digest)
        except oci.RegistryError as exc:
            if exc.code == 405:
                raise errors.Conflict(
                    f"Registry {registry.name} does not allow deleting images (HTTP {exc.code}); its operator "
                    "must enable deletion (storage.delete.enabled for a distribution registry).",
                    code="registry_delete_unsupported", params={"registry": registry.name, "status": exc.code},
                ) from exc
            raise

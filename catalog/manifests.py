"""A release's manifests as plain data: the objects a revision applies, stamped with the release
and revision, dumped and loaded, digested, and shown with Secret values redacted.

Pure (no database, no cluster): used by the writes (:mod:`catalog.releases`), the deploys
(:mod:`catalog.deploy`) and the API's rows alike, so none of them imports another for these.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator
from typing import Any

import yaml

from catalog import redaction
from catalog.models import Release

RELEASE_LABEL = "portal.cluster-portal.io/release"
REVISION_ANNOTATION = "portal.cluster-portal.io/revision"
CLUSTER_SCOPED_KINDS = frozenset({
    "Namespace", "Node", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "PriorityClass", "IngressClass", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "APIService", "CSIDriver", "RuntimeClass", "VolumeSnapshotClass",
})


def key_of(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


# libyaml's safe loader and dumper when PyYAML has them (it does in our wheels): the same plain
# data as the pure-Python ones, several times faster. Stored manifests are still written by the
# pure dumper (``dump``), so their text does not change with the build of PyYAML.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _load_one(text: str) -> Any:
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - _LOADER is CSafeLoader or SafeLoader


def _load_all(text: str) -> Iterator[Any]:
    return yaml.load_all(text, Loader=_LOADER)  # _LOADER is CSafeLoader or SafeLoader


def without_nulls(value: Any) -> Any:
    """``value`` with every mapping entry whose value is ``null`` dropped, at any depth.

    Charts render ``annotations: null``, ``labels: null``, ``data: null`` or ``containers: null``
    when a template emits nothing under a key; Helm sends them on and the API server decodes a
    null as "not set". Dropping them here is the same thing, and lets the portal add its own
    labels and annotations to such objects."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def stamp(objects: list[dict[str, Any]], *, namespace: str, release: Release | None,
          revision: int) -> list[dict[str, Any]]:
    """The objects exactly as a deploy applies them, in a copy: nulls dropped
    (:func:`without_nulls`), put in ``namespace``, labelled with the release (what pruning and drift
    use) and annotated with the revision.

    The one function that builds what is applied: the deploy stores its output as the revision's
    manifest, and a plan diffs its output against the cluster, so a plan's diff is exactly what
    the deploy will change. A plan of a first install has no release id yet, so its objects carry
    no release label (the install adds it)."""
    out = []
    for obj in objects:
        obj = without_nulls(obj)  # rebuilds every mapping and list: a deep copy of plain data
        meta = obj.setdefault("metadata", {})
        meta["namespace"] = namespace
        if release is not None:
            meta.setdefault("labels", {})[RELEASE_LABEL] = str(release.pk)
        meta.setdefault("annotations", {})[REVISION_ANNOTATION] = str(revision)
        out.append(obj)
    return out


def dump(objects: list[dict[str, Any]]) -> str:
    return "".join("---\n" + _dump_one(obj) for obj in objects)


def _dump_one(obj: dict[str, Any]) -> str:
    """One document, with libyaml (about 8x faster than the Python emitter, and every revision a
    deploy stores is dumped). libyaml escapes characters outside the Basic Multilingual Plane
    (an emoji becomes ``\\U0001F600``) where the Python emitter writes them: such a document is
    written by the Python emitter, so a manifest's text (shown and diffed) does not depend on
    which one wrote it."""
    text: str = yaml.dump(obj, Dumper=_DUMPER, sort_keys=True, allow_unicode=True)
    if "\\U" in text:
        text = yaml.safe_dump(obj, sort_keys=True, allow_unicode=True)
    return text


def load(manifest: str) -> list[dict[str, Any]]:
    return [doc for doc in _load_all(manifest) if isinstance(doc, dict)]


@functools.lru_cache(maxsize=128)
def parsed(manifest: str) -> tuple[dict[str, Any], ...]:
    """:func:`load`, kept per process by the manifest's text: a stored manifest is read by its
    deploy and by every look at its rollout. The objects are shared: read them, never change them
    (:func:`load` gives a copy to change)."""
    return tuple(load(manifest))


def secrets_of(manifest: str) -> list[dict[str, Any]]:
    """The Secrets of a stored manifest, parsing only their documents (rows are listed often)."""
    if "kind: Secret\n" not in manifest:
        return []
    docs = re.split(r"^---\n", manifest, flags=re.M)
    return [o for o in (_load_one(d) for d in docs if "kind: Secret\n" in d) if redaction.is_secret(o)]


def shown_values(values: Any, manifest: str, *, reveal: bool = False) -> Any:
    """A revision's (or release's) values as the API returns them: strings that are Secret
    values of ``manifest`` (a password given as a value) redacted unless ``reveal``."""
    if reveal or not manifest:
        return values
    return redaction.redact_values(values, secrets_of(manifest))


def shown_manifest(manifest: str, *, reveal: bool = False) -> str:
    """A revision's manifest as the API returns it: Secret values redacted unless ``reveal``."""
    if reveal or not manifest:
        return manifest
    return dump([redaction.redact(o) for o in load(manifest)])


def digest(manifest: str) -> str:
    return "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()


def resources(objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"apiVersion": str(o.get("apiVersion")), "kind": str(o.get("kind")),
             "name": str((o.get("metadata") or {}).get("name"))} for o in objects]

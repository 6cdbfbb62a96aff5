"""Which catalog release put an object in a cluster, as the person asking may know it.

Why a hook: the catalog labels every object it deploys with ``portal.cluster-portal.io/release=<pk>``
(``catalog.manifests.RELEASE_LABEL``), and the object views warn that the release's next deploy
puts back an edit, linking to the release. The label alone is only a number anyone who may edit
the object can write, and the clusters app must not import the catalog (it sits below it). So the
catalog registers a resolver from its ``AppConfig.ready`` (:func:`set_release_resolver`) that
answers with the real release, **only** when the user may view it (the catalog's access module
decides) and it deploys to the object's cluster and namespace. Anything else (no label, a label
that is not a number, a release that is gone, elsewhere or not the user's to see, no resolver
registered) is ``None``: the views say nothing rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypedDict

RELEASE_LABEL = "portal.cluster-portal.io/release"  # catalog.manifests.RELEASE_LABEL (clusters never imports catalog)


class OwnerRelease(TypedDict):
    id: int
    name: str
    service_map_id: int | None


# (user, release id, cluster id, namespace) -> the release as {id, name, service_map_id} when the
# user may view it and it deploys to that cluster (and namespace, "" for a cluster-scoped object),
# else None. One query.
ReleaseResolver = Callable[[Any, int, int, str], Mapping[str, Any] | None]

_resolver: ReleaseResolver | None = None


def set_release_resolver(resolver: ReleaseResolver | None) -> None:
    global _resolver
    _resolver = resolver


def release_id(labels: Mapping[str, Any] | None) -> int | None:
    """The release pk an object's labels name, or None (no label, or not a positive number)."""
    value = str((labels or {}).get(RELEASE_LABEL) or "")
    return int(value) if value.isascii() and value.isdigit() and 0 < int(value) < 2**63 else None


def release_owner(user: Any, labels: Mapping[str, Any] | None, *, cluster_id: int,
                  namespace: str) -> OwnerRelease | None:
    """The catalog release that owns an object with ``labels`` in ``cluster_id``/``namespace``,
    as ``{id, name, service_map_id}``, when ``user`` may view it; else None."""
    pk = release_id(labels)
    if pk is None or _resolver is None:
        return None
    found = _resolver(user, pk, cluster_id, namespace)
    if not found:
        return None
    service_map = found.get("service_map_id")
    return {"id": int(found["id"]), "name": str(found.get("name") or ""),
            "service_map_id": int(service_map) if service_map is not None else None}

"""Pull secrets: the ``kubernetes.io/dockerconfigjson`` Secret ``portal-pull-<registry>`` the portal
keeps in a service map's namespace when the service map runs an image from a registry that needs
credentials, so the kubelet can pull it.

* Which images need one (:func:`needed`, the catalog's ``names`` hook): images whose registry is a
  :class:`~builds.models.Registry` with credentials, under a repository prefix the service map's
  workspace holds (:class:`~workspaces.models.RegistryAllocation`). An image of another
  workspace's prefix gets no secret: the portal does not lend one workspace's registry access to
  another. :func:`catalog.releases.check` names the secrets in the pod specs' ``imagePullSecrets``.
* The deploy task calls :func:`ensure` with its cluster client before it applies a revision.
* :func:`reconcile` (the beat task ``builds.reconcile_pull_secrets``, every 30 s) puts back a
  deleted or edited secret and brings a stale one (older than the registry's ``password_changed``,
  recorded in an annotation, or with other data) up to date; :func:`rotate` does the same at once
  for one registry when its password is rotated. The service maps and the secrets they need come
  from the releases' current revisions (the names in their manifests), in one query.

Applied by server-side apply under the field manager ``portal-builds``. The secret holds the
registry's credentials; it is never logged, and the catalog and the object editor refuse to touch
``portal-pull-*`` (they are the portal's).
"""

from __future__ import annotations

import base64
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import F

from builds import access, registries
from builds.models import Registry
from catalog import image_hooks, manifests
from catalog.models import ReleaseStatus, Revision
from clusters.kube.client import KubeClient
from clusters.kube.errors import KubeError, NotFound, Unreachable
from portal.crypto import DecryptionError
from workspaces.models import ApplyStatus, RegistryAllocation, ServiceMap

logger = logging.getLogger("builds")

FIELD_MANAGER = "portal-builds"
MANAGED_BY = ("app.kubernetes.io/managed-by", "cluster-portal")
REGISTRY_LABEL = "builds.cluster-portal.io/registry"
PASSWORD_ANNOTATION = "builds.cluster-portal.io/password-changed"
SECRET_TYPE = "kubernetes.io/dockerconfigjson"
CONFIG_KEY = ".dockerconfigjson"
CALL_TIMEOUT = 10.0


# ---------------------------------------------------------------------------- which images need one


def _held(registry: Registry, allocations: Iterable[str]) -> list[str]:
    """The repository prefixes the allocation strings give inside ``registry``."""
    out = []
    for allocation in allocations:
        prefix = access.allocation_prefix(allocation, registry.host)
        if prefix is not None:
            out.append(prefix)
    return out


def needed(sm: ServiceMap, images: list[str]) -> dict[str, str]:
    """``{image: secret name}`` of the images that need a pull secret in ``sm`` (two queries)."""
    parsed: dict[str, registries.ImageRef] = {}
    for image in images:
        try:
            parsed[image] = registries.parse_image(image)
        except ValueError:
            continue  # the catalog reports malformed references itself
    if not parsed:
        return {}
    by_host = {r.host: r for r in Registry.objects.filter(host__in={p.host for p in parsed.values()})
               if r.needs_credentials}
    if not by_host:
        return {}
    allocations = list(RegistryAllocation.objects.filter(workspace_id=sm.workspace_id)
                       .values_list("registry", flat=True))
    out = {}
    for image, ref in parsed.items():
        registry = by_host.get(ref.host)
        if registry is None:
            continue
        if any(access.under_prefix(ref.repository, p) for p in _held(registry, allocations)):
            out[image] = registries.pull_secret_name(registry)
    return out


def _registry_name(secret_name: str) -> str:
    return secret_name[len(registries.PULL_SECRET_PREFIX):]


def _holds(sm: ServiceMap, registry: Registry, allocations: Iterable[str]) -> bool:
    return bool(_held(registry, allocations))


# ---------------------------------------------------------------------------- the Secret


def stamp(registry: Registry) -> str:
    """The annotation value: when the registry's password last changed (empty: never)."""
    return registry.password_changed.isoformat() if registry.password_changed else ""


def encoded_config(registry: Registry) -> str:
    config = registries.docker_config_json([(registry.host, registry.username, registry.get_password())])
    return base64.b64encode(config.encode()).decode()


def secret(registry: Registry, namespace: str, *, config: str | None = None) -> dict[str, Any]:
    """The Secret as the portal applies it (``config``: the encoded docker config, if known)."""
    return {
        "apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
        "metadata": {"name": registries.pull_secret_name(registry), "namespace": namespace,
                     "labels": {MANAGED_BY[0]: MANAGED_BY[1], REGISTRY_LABEL: str(registry.pk)},
                     "annotations": {PASSWORD_ANNOTATION: stamp(registry)}},
        "data": {CONFIG_KEY: config if config is not None else encoded_config(registry)},
    }


def current(live: dict[str, Any] | None, desired: dict[str, Any]) -> bool:
    """Whether the live Secret is what the portal would apply (type, data and the password stamp)."""
    if not live:
        return False
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    return (live.get("type") == desired["type"] and (live.get("data") or {}) == desired["data"]
            and annotations.get(PASSWORD_ANNOTATION) == desired["metadata"]["annotations"][PASSWORD_ANNOTATION])


def ensure(sm: ServiceMap, names: list[str], client: KubeClient) -> None:
    """The catalog's ``ensure`` hook: apply the named pull secrets in ``sm``'s namespace before a
    revision is applied (those whose registry still needs credentials and is still the
    workspace's; a name the portal cannot make is left for the pull to fail visibly)."""
    wanted = {_registry_name(n) for n in names if n.startswith(registries.PULL_SECRET_PREFIX)}
    regs = [r for r in Registry.objects.filter(name__in=wanted) if r.needs_credentials]
    if not regs:
        return
    allocations = list(RegistryAllocation.objects.filter(workspace_id=sm.workspace_id)
                       .values_list("registry", flat=True))
    for registry in regs:
        if _holds(sm, registry, allocations):
            client.apply(secret(registry, sm.namespace), field_manager=FIELD_MANAGER, timeout=CALL_TIMEOUT)


def install() -> None:
    """Register :func:`needed` and :func:`ensure` with the catalog (:mod:`catalog.image_hooks`)."""
    image_hooks.set_pull_secrets(needed, ensure)


# ---------------------------------------------------------------------------- reconcile


def wanted(registry: Registry | None = None) -> dict[int, set[str]]:
    """``{service map id: {secret name}}`` the releases' current revisions name (one query; only
    manifests naming a pull secret are read), limited to ``registry``'s secret when given."""
    needle = registries.pull_secret_name(registry) if registry is not None else registries.PULL_SECRET_PREFIX
    rows = (Revision.objects.filter(release__revision=F("number"), manifest__contains=needle)
            .exclude(release__status=ReleaseStatus.DELETING)
            .values_list("release__service_map_id", "manifest"))
    out: dict[int, set[str]] = defaultdict(set)
    for sm_id, manifest in rows.iterator(chunk_size=200):
        try:
            names = image_hooks.pull_secret_names(manifests.load(manifest))
        except Exception:  # a manifest the catalog stored is YAML; never let one stop the rest
            logger.warning("pull secrets: unreadable manifest of service map %s", sm_id)
            continue
        out[sm_id].update(n for n in names if registry is None or n == needle)
    return {k: v for k, v in out.items() if v}


@dataclass
class Outcome:
    """What a reconcile did: secrets applied, deleted, and clusters it could not reach."""

    applied: int = 0
    deleted: int = 0
    unreachable: int = 0
    failed: int = 0


def reconcile(registry_id: int | None = None) -> Outcome:
    """Make every pull secret the current revisions name exist and be current (one registry's only
    with ``registry_id``); delete the ones whose registry is gone, lost its credentials or is no
    longer the workspace's. A cluster that does not answer is skipped until the next run."""
    registry = Registry.objects.filter(pk=registry_id).first() if registry_id is not None else None
    if registry_id is not None and registry is None:
        return Outcome()
    by_sm = wanted(registry)
    outcome = Outcome()
    if not by_sm:
        return outcome
    maps = list(ServiceMap.objects.select_related("cluster").filter(pk__in=list(by_sm))
                .exclude(status=ApplyStatus.DELETING))  # its namespace is going away with what is in it
    names = {_registry_name(n) for v in by_sm.values() for n in v}
    regs = {r.name: r for r in Registry.objects.filter(name__in=names)}
    allocations: dict[int, list[str]] = defaultdict(list)
    for ws_id, value in RegistryAllocation.objects.filter(
            workspace_id__in={sm.workspace_id for sm in maps}).values_list("workspace_id", "registry"):
        allocations[ws_id].append(value)
    configs: dict[int, str] = {}
    by_cluster: dict[int, list[ServiceMap]] = defaultdict(list)
    for sm in maps:
        by_cluster[sm.cluster_id].append(sm)
    for sms in by_cluster.values():
        cluster = sms[0].cluster
        try:
            with KubeClient(cluster.connection_spec(), read_timeout=CALL_TIMEOUT, connect_timeout=3.0) as client:
                for sm in sms:
                    try:
                        _reconcile_one(client, sm, by_sm[sm.pk], regs, allocations[sm.workspace_id], configs,
                                       outcome)
                    except Unreachable:
                        raise
                    except (KubeError, DecryptionError) as exc:  # this namespace; the others still get theirs
                        outcome.failed += 1
                        logger.warning("pull secrets: %s/%s: %s", cluster.name, sm.namespace, type(exc).__name__)
        except Unreachable as exc:
            outcome.unreachable += 1
            logger.info("pull secrets: cluster %s unreachable (%s); retried next run", cluster.name, exc)
        except (KubeError, DecryptionError) as exc:
            outcome.failed += 1
            logger.warning("pull secrets: cluster %s: %s", cluster.name, type(exc).__name__)
    return outcome


def _reconcile_one(client: KubeClient, sm: ServiceMap, names: set[str], regs: dict[str, Registry],
                   allocations: list[str], configs: dict[int, str], outcome: Outcome) -> None:
    live = {(o.get("metadata") or {}).get("name"): o for o in client.list_objects(
        "Secret", sm.namespace, label_selector=f"{MANAGED_BY[0]}={MANAGED_BY[1]},{REGISTRY_LABEL}",
        timeout=CALL_TIMEOUT)}
    for name in sorted(names):
        registry = regs.get(_registry_name(name))
        if registry is None or not registry.needs_credentials or not _holds(sm, registry, allocations):
            if name in live:  # the registry's credentials must not stay where they are no longer lent
                try:
                    client.delete_object("Secret", name, sm.namespace, timeout=CALL_TIMEOUT)
                    outcome.deleted += 1
                except NotFound:
                    pass
            continue
        if registry.pk not in configs:
            configs[registry.pk] = encoded_config(registry)
        desired = secret(registry, sm.namespace, config=configs[registry.pk])
        if current(live.get(name), desired):
            continue
        client.apply(desired, field_manager=FIELD_MANAGER, timeout=CALL_TIMEOUT)
        outcome.applied += 1
        logger.info("pull secrets: applied %s in %s/%s", name, sm.cluster.name, sm.namespace)

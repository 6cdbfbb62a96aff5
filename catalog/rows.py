"""The rows of releases and rollouts: the shape the API answers with and the events
(``release.updated``, ``rollout.updated``) carry, one builder for both (docs/catalog-api.md).

Below the writes: :mod:`catalog.releases` and :mod:`catalog.rollouts` publish these rows, and
:mod:`catalog.api.release_serializers` answers with them, so the writes never import the API
(issue 12). Reads only (the row and the Secrets its values must not show); no cluster I/O.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from django.db.models import Model, OuterRef, Prefetch, QuerySet, Subquery
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog import manifests, redaction
from catalog.models import Release, Revision, Rollout, RolloutTarget

M = TypeVar("M", bound=Model)

# A package version's chart archive (up to megabytes), values, schema and readme: rows only show
# the version's number, so they never load these (the release list read one archive per row).
HEAVY_VERSION_FIELDS = ("archive", "values_yaml", "values_schema", "readme", "lookup_templates", "description")


def light_versions(queryset: QuerySet[M], path: str = "package_version") -> QuerySet[M]:
    """``queryset`` with the heavy columns of the package version at ``path`` deferred."""
    return queryset.defer(*(f"{path}__{field}" for field in HEAVY_VERSION_FIELDS))


class _Ref(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class _ClusterRef(_Ref):
    status = serializers.CharField()


class _ServiceMapRef(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    namespace = serializers.CharField()
    cluster = _ClusterRef()


class _VersionRef(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    version = serializers.CharField()


class ReleaseSerializer(serializers.ModelSerializer[Release]):
    """``values``: strings that are Secret values of the current revision read ``<redacted>``
    (:func:`catalog.deploy.shown_values`); an upgrade that sends them back keeps the stored ones."""

    workspace = serializers.SerializerMethodField()
    values = serializers.SerializerMethodField()
    service_map = serializers.SerializerMethodField()
    package = serializers.SerializerMethodField()
    version = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = ("id", "name", "workspace", "service_map", "package", "version", "values", "strategy",
                  "strategy_state", "status", "message", "message_code", "message_params", "revision",
                  "deployed_revision", "created", "updated", "created_by")
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.ANY)
    def get_values(self, obj: Release) -> Any:
        manifest = getattr(obj, "current_manifest", None)
        if manifest is None:
            manifest = Revision.objects.filter(release=obj, number=obj.revision).values_list(
                "manifest", flat=True).first()
        return manifests.shown_values(obj.values, manifest or "")

    def get_workspace(self, obj: Release) -> _Ref:
        return {"id": obj.workspace_id, "name": obj.workspace.name}  # type: ignore[return-value]

    def get_service_map(self, obj: Release) -> _ServiceMapRef:
        sm = obj.service_map
        return {"id": sm.pk, "namespace": sm.namespace,  # type: ignore[return-value]
                "cluster": {"id": sm.cluster_id, "name": sm.cluster.name, "status": sm.cluster.status}}

    def get_package(self, obj: Release) -> _Ref:
        package = obj.package_version.package
        return {"id": package.pk, "name": package.name}  # type: ignore[return-value]

    def get_version(self, obj: Release) -> _VersionRef:
        return {"id": obj.package_version_id, "version": obj.package_version.version}  # type: ignore[return-value]

    def get_created_by(self, obj: Release) -> str | None:
        return obj.created_by.get_username() if obj.created_by else None


S = TypeVar("S", bound=serializers.Serializer[Any])


@functools.cache
def _bound(serializer_class: type[S]) -> S:
    """One instance of ``serializer_class``, its fields bound once and kept: a ``ModelSerializer``
    builds its fields from the model for every new instance, and ``to_representation`` keeps no
    state of the object it is given, so one bound instance serves every row, from any thread."""
    serializer = serializer_class()
    serializer.fields  # noqa: B018 - bound now, once
    return serializer


_ROW_COLUMNS = ("id", "name", "workspace_id", "workspace__name", "service_map_id", "service_map__namespace",
                "service_map__cluster_id", "service_map__cluster__name", "service_map__cluster__status",
                "package_version__package_id", "package_version__package__name", "package_version_id",
                "package_version__version", "values", "strategy", "strategy_state", "status", "message",
                "message_code", "message_params", "revision", "deployed_revision", "created", "updated",
                "created_by__username", "current_manifest")
_TIME = serializers.DateTimeField()


def release_rows(ids: list[int]) -> dict[int, dict[str, Any]]:
    """The rows of the releases ``ids`` (those that still exist), exactly as
    :class:`ReleaseSerializer` shows them, in one query of the columns they show: a row is
    published at every step of every deploy, and building the release's workspace, service map,
    cluster, package, version and creator as models cost more than the rest of the step.
    ``catalog/tests/test_rows.py`` holds it to the serializer."""
    manifest = Revision.objects.filter(release=OuterRef("pk"), number=OuterRef("revision")).values("manifest")
    rows = Release.objects.filter(pk__in=ids).order_by().annotate(current_manifest=Subquery(manifest[:1])).values(
        *_ROW_COLUMNS)
    return {r["id"]: {
        "id": r["id"], "name": r["name"],
        "workspace": {"id": r["workspace_id"], "name": r["workspace__name"]},
        "service_map": {"id": r["service_map_id"], "namespace": r["service_map__namespace"],
                        "cluster": {"id": r["service_map__cluster_id"], "name": r["service_map__cluster__name"],
                                    "status": r["service_map__cluster__status"]}},
        "package": {"id": r["package_version__package_id"], "name": r["package_version__package__name"]},
        "version": {"id": r["package_version_id"], "version": r["package_version__version"]},
        "values": manifests.shown_values(r["values"], r["current_manifest"] or ""),
        "strategy": r["strategy"], "strategy_state": r["strategy_state"], "status": r["status"],
        "message": r["message"], "message_code": r["message_code"], "message_params": r["message_params"],
        "revision": r["revision"], "deployed_revision": r["deployed_revision"],
        "created": _TIME.to_representation(r["created"]), "updated": _TIME.to_representation(r["updated"]),
        "created_by": r["created_by__username"],
    } for r in rows}


def release_row(release: Release) -> dict[str, Any]:
    """The row of ``release`` (:func:`release_rows`); raises ``Release.DoesNotExist`` when it is gone."""
    found = release_rows([release.pk]).get(release.pk)
    if found is None:
        raise Release.DoesNotExist(f"Release {release.pk} does not exist.")
    return found


class RolloutTargetSerializer(serializers.ModelSerializer[RolloutTarget]):
    service_map = serializers.SerializerMethodField()

    class Meta:
        model = RolloutTarget
        fields = ("id", "service_map", "wave", "overrides", "release", "revision", "state", "reason", "attempts",
                  "updated")
        read_only_fields = fields

    def get_service_map(self, obj: RolloutTarget) -> _ServiceMapRef:
        sm = obj.service_map
        return {"id": sm.pk, "namespace": sm.namespace,  # type: ignore[return-value]
                "cluster": {"id": sm.cluster_id, "name": sm.cluster.name, "status": sm.cluster.status}}


class _RolloutVersionRef(serializers.Serializer[Any]):
    id = serializers.IntegerField(allow_null=True, help_text="null once the version was deleted with its source")
    version = serializers.CharField()
    label = serializers.CharField(  # type: ignore[assignment]
        help_text="package and version as deployed, kept after the version is gone")


def _rollout_secrets(rollout: Rollout, targets: list[RolloutTarget]) -> list[dict[str, Any]]:
    """The Secrets its targets' revisions rendered: a value of the rollout (or a target's
    override) that became a Secret value is shown as ``<redacted>``, as on the release."""
    found: list[dict[str, Any]] = []
    by_release: dict[int, set[int]] = {}
    for target in targets:
        if target.release_id and target.revision:
            if hasattr(target, "revision_manifest"):  # fetched with the target (with_shown_targets)
                found.extend(manifests.secrets_of(target.revision_manifest or ""))
            else:
                by_release.setdefault(target.release_id, set()).add(target.revision)
    for release_id, numbers in by_release.items():
        for manifest in Revision.objects.filter(release_id=release_id, number__in=numbers).values_list(
                "manifest", flat=True):
            found.extend(manifests.secrets_of(manifest or ""))
    return found


class RolloutSerializer(serializers.ModelSerializer[Rollout]):
    """``values`` and each target's ``overrides``: strings that became Secret values of a
    target's revision read ``<redacted>`` (as a release's values do)."""

    version = serializers.SerializerMethodField()
    targets = serializers.SerializerMethodField()
    values = serializers.SerializerMethodField()

    class Meta:
        model = Rollout
        fields = ("id", "workspace", "release_name", "version", "values", "policy", "status", "message",
                  "message_code", "message_params", "created", "finished", "targets")
        read_only_fields = fields

    @extend_schema_field(_RolloutVersionRef)
    def get_version(self, obj: Rollout) -> dict[str, Any]:
        if obj.package_version is None:  # its source was deleted after the rollout finished
            return {"id": None, "version": obj.version_label.rsplit(" ", 1)[-1], "label": obj.version_label}
        return {"id": obj.package_version_id, "version": obj.package_version.version, "label": obj.version_label}

    def _targets(self, obj: Rollout) -> tuple[list[RolloutTarget], list[dict[str, Any]]]:
        cached: tuple[list[RolloutTarget], list[dict[str, Any]]] | None = getattr(obj, "_shown_targets", None)
        if cached is None:
            shown: list[RolloutTarget] | None = getattr(obj, "shown_targets", None)  # see with_shown_targets
            targets = shown if shown is not None else list(
                obj.targets.select_related("service_map__cluster").order_by("wave", "id"))
            cached = (targets, _rollout_secrets(obj, targets))
            obj._shown_targets = cached  # type: ignore[attr-defined]
        return cached

    @extend_schema_field(OpenApiTypes.ANY)
    def get_values(self, obj: Rollout) -> Any:
        return redaction.redact_values(obj.values, self._targets(obj)[1])

    @extend_schema_field(RolloutTargetSerializer(many=True))
    def get_targets(self, obj: Rollout) -> Any:
        targets, secrets = self._targets(obj)
        target_serializer = _bound(RolloutTargetSerializer)
        rows = [target_serializer.to_representation(target) for target in targets]
        return [{**row, "overrides": redaction.redact_values(row["overrides"], secrets)} for row in rows]


def with_shown_targets(rollouts: QuerySet[Rollout]) -> QuerySet[Rollout]:
    """``rollouts`` with their targets (and each target's service map and cluster) fetched in one
    query for the whole page, in the order :class:`RolloutSerializer` shows them, so a list of
    rollouts makes no query per rollout (tests/test_query_counts.py); each target carries the
    manifest of its revision, whose Secrets the rollout's values are redacted by."""
    manifest = Revision.objects.filter(release=OuterRef("release_id"), number=OuterRef("revision")).values("manifest")
    targets = (RolloutTarget.objects.select_related("service_map__cluster").order_by("wave", "id")
               .annotate(revision_manifest=Subquery(manifest[:1])))
    return rollouts.prefetch_related(Prefetch("targets", queryset=targets, to_attr="shown_targets"))


def rollout_row(rollout: Rollout) -> dict[str, Any]:
    """The row of ``rollout`` (published at every step of it): two queries, the rollout and its
    targets with their revisions' manifests, not one per started target."""
    rollout = with_shown_targets(light_versions(Rollout.objects.select_related("package_version"))).get(pk=rollout.pk)
    return dict(_bound(RolloutSerializer).to_representation(rollout))

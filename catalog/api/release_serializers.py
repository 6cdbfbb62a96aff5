"""Shapes of releases, revisions and rollouts (docs/catalog-api.md)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog import deploy, redaction
from catalog.models import Release, Revision, Rollout, RolloutTarget
from clusters.models import DNS1123_LABEL
from portal.api.serializers import StrictSerializer


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
                  "strategy_state", "status", "message", "revision", "deployed_revision", "created", "updated",
                  "created_by")
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.ANY)
    def get_values(self, obj: Release) -> Any:
        manifest = getattr(obj, "current_manifest", None)
        if manifest is None:
            manifest = Revision.objects.filter(release=obj, number=obj.revision).values_list(
                "manifest", flat=True).first()
        return deploy.shown_values(obj.values, manifest or "")

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


def release_row(release: Release) -> dict[str, Any]:
    release = Release.objects.select_related("workspace", "service_map__cluster", "package_version__package",
                                             "created_by").get(pk=release.pk)
    return dict(ReleaseSerializer(release).data)


class RevisionSerializer(serializers.ModelSerializer[Revision]):
    """``values`` as in :class:`ReleaseSerializer` (Secret values of this revision redacted unless
    the context says ``reveal``)."""

    version = serializers.CharField(source="package_version.version")
    created_by = serializers.SerializerMethodField()
    values = serializers.SerializerMethodField()

    class Meta:
        model = Revision
        fields = ("number", "action", "rollback_of", "version", "values", "digest", "status", "progress", "message",
                  "created", "started", "finished", "created_by")
        read_only_fields = fields

    def get_created_by(self, obj: Revision) -> str | None:
        return obj.created_by.get_username() if obj.created_by else None

    @extend_schema_field(OpenApiTypes.ANY)
    def get_values(self, obj: Revision) -> Any:
        return deploy.shown_values(obj.values, obj.manifest, reveal=bool(self.context.get("reveal")))


class ConfigUserSerializer(serializers.Serializer[Any]):
    workload = serializers.CharField(help_text="Kind/name of a workload of the release that uses the object.")
    restarted = serializers.BooleanField(help_text="This revision changed its pod template, so its pods were replaced.")


class RevisionChangeSerializer(serializers.Serializer[Any]):
    object = serializers.CharField(help_text="Kind/name.")
    change = serializers.ChoiceField(choices=["added", "changed", "removed"])
    users = ConfigUserSerializer(many=True, required=False)


class RevisionDetailSerializer(RevisionSerializer):
    """With the manifest as applied; Secret values are redacted unless the context says ``reveal``
    (the view checks ``secrets.reveal``)."""

    manifest = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField(help_text=(
        "Objects this revision added, changed or removed since the revision before it; a changed "
        "ConfigMap or Secret lists the release's workloads that use it and whether this revision "
        "replaced their pods (restarted), see catalog/revision_changes.py."))

    class Meta(RevisionSerializer.Meta):
        fields = (*RevisionSerializer.Meta.fields, "manifest", "resources", "changes")  # type: ignore[assignment]
        read_only_fields = fields  # type: ignore[assignment]

    def get_manifest(self, obj: Revision) -> str:
        return deploy.shown_manifest(obj.manifest, reveal=bool(self.context.get("reveal")))

    @extend_schema_field(RevisionChangeSerializer(many=True))
    def get_changes(self, obj: Revision) -> list[dict[str, Any]]:
        from catalog.revision_changes import revision_changes

        previous = Revision.objects.filter(release_id=obj.release_id, number=obj.number - 1).values_list(
            "manifest", flat=True).first()
        return revision_changes(previous, obj.manifest, revision_annotation=deploy.REVISION_ANNOTATION)


class ReleaseDetailSerializer(ReleaseSerializer):
    revisions = serializers.SerializerMethodField()

    class Meta(ReleaseSerializer.Meta):
        fields = (*ReleaseSerializer.Meta.fields, "revisions")  # type: ignore[assignment]
        read_only_fields = fields  # type: ignore[assignment]

    @extend_schema_field(RevisionSerializer(many=True))
    def get_revisions(self, obj: Release) -> Any:
        revisions = obj.revisions.select_related("package_version", "created_by").order_by("-number")[:100]
        return RevisionSerializer(revisions, many=True).data


class ReleaseCreateSerializer(StrictSerializer):
    service_map = serializers.IntegerField()
    name = serializers.CharField(max_length=53, validators=[DNS1123_LABEL])
    package_version = serializers.IntegerField()
    values = serializers.JSONField(required=False, default=dict)
    strategy = serializers.JSONField(required=False, default=dict)


class ReleasePlanSerializer(StrictSerializer):
    service_map = serializers.IntegerField()
    name = serializers.CharField(max_length=53, validators=[DNS1123_LABEL])
    package_version = serializers.IntegerField()
    values = serializers.JSONField(required=False, default=dict)
    strategy = serializers.JSONField(required=False)


class ReleaseUpgradeSerializer(StrictSerializer):
    package_version = serializers.IntegerField(required=False)
    values = serializers.JSONField(required=False)
    strategy = serializers.JSONField(required=False)


class ReleaseRollbackSerializer(StrictSerializer):
    revision = serializers.IntegerField(min_value=1)


class PlanObjectSerializer(serializers.Serializer[Any]):
    apiVersion = serializers.CharField()
    kind = serializers.CharField()
    name = serializers.CharField()
    namespace = serializers.CharField()


class PlanWarningSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="stable: `chart_uses_lookup`")
    message = serializers.CharField()


class PlanSerializer(serializers.Serializer[Any]):
    valid = serializers.BooleanField()
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="messages by field; `manifest.portal_owned`: objects that collide with the portal's own")
    warnings = PlanWarningSerializer(many=True, help_text="what the deploy can do but may surprise (stable codes)")
    objects = PlanObjectSerializer(many=True)
    preflight = serializers.JSONField(help_text="the quota preflight (docs/workspaces-api.md); {} if not reached")
    dry_run = serializers.JSONField(help_text="{ok, message} of the server-side dry-run; {} if not reached")
    diff = serializers.CharField(help_text="unified diff against the live objects; Secret values redacted")
    changed = serializers.ListField(child=serializers.CharField(),
                                    help_text="Kind/name of the objects the diff changes or creates")


class DiffSerializer(serializers.Serializer[Any]):
    diff = serializers.CharField()


class ReleasePodSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    deployment = serializers.CharField()
    phase = serializers.CharField()
    status = serializers.CharField()
    ready = serializers.CharField()
    restarts = serializers.IntegerField()
    node = serializers.CharField()
    images = serializers.ListField(child=serializers.CharField())
    pod_template_hash = serializers.CharField()
    color = serializers.CharField()
    created = serializers.DateTimeField(allow_null=True)


class ReleasePodsSerializer(serializers.Serializer[Any]):
    old = ReleasePodSerializer(many=True)
    new = ReleasePodSerializer(many=True)
    canary = ReleasePodSerializer(many=True)
    strategy_state = serializers.JSONField()


class DriftSerializer(serializers.Serializer[Any]):
    checked = serializers.BooleanField()
    objects = serializers.ListField(child=serializers.CharField(),
                                    help_text="Kind/name of the objects changed or missing in the cluster")
    missing = serializers.ListField(child=serializers.CharField(),
                                    help_text="those of `objects` that are gone from the cluster")
    diff = serializers.CharField(help_text="unified diff of the changed ones; Secret values redacted unless reveal")
    message = serializers.CharField()


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
            by_release.setdefault(target.release_id, set()).add(target.revision)
    for release_id, numbers in by_release.items():
        for manifest in Revision.objects.filter(release_id=release_id, number__in=numbers).values_list(
                "manifest", flat=True):
            found.extend(deploy.secrets_of(manifest or ""))
    return found


class RolloutSerializer(serializers.ModelSerializer[Rollout]):
    """``values`` and each target's ``overrides``: strings that became Secret values of a
    target's revision read ``<redacted>`` (as a release's values do)."""

    version = serializers.SerializerMethodField()
    targets = serializers.SerializerMethodField()
    values = serializers.SerializerMethodField()

    class Meta:
        model = Rollout
        fields = ("id", "workspace", "release_name", "version", "values", "policy", "status", "message", "created",
                  "finished", "targets")
        read_only_fields = fields

    @extend_schema_field(_RolloutVersionRef)
    def get_version(self, obj: Rollout) -> dict[str, Any]:
        if obj.package_version is None:  # its source was deleted after the rollout finished
            return {"id": None, "version": obj.version_label.rsplit(" ", 1)[-1], "label": obj.version_label}
        return {"id": obj.package_version_id, "version": obj.package_version.version, "label": obj.version_label}

    def _targets(self, obj: Rollout) -> tuple[list[RolloutTarget], list[dict[str, Any]]]:
        cached: tuple[list[RolloutTarget], list[dict[str, Any]]] | None = getattr(obj, "_shown_targets", None)
        if cached is None:
            targets = list(obj.targets.select_related("service_map__cluster").order_by("wave", "id"))
            cached = (targets, _rollout_secrets(obj, targets))
            obj._shown_targets = cached  # type: ignore[attr-defined]
        return cached

    @extend_schema_field(OpenApiTypes.ANY)
    def get_values(self, obj: Rollout) -> Any:
        return redaction.redact_values(obj.values, self._targets(obj)[1])

    @extend_schema_field(RolloutTargetSerializer(many=True))
    def get_targets(self, obj: Rollout) -> Any:
        targets, secrets = self._targets(obj)
        rows = RolloutTargetSerializer(targets, many=True).data
        return [{**row, "overrides": redaction.redact_values(row["overrides"], secrets)} for row in rows]


def rollout_row(rollout: Rollout) -> dict[str, Any]:
    rollout = Rollout.objects.select_related("package_version").get(pk=rollout.pk)
    return dict(RolloutSerializer(rollout).data)


class RolloutTargetInputSerializer(StrictSerializer):
    service_map = serializers.IntegerField()
    overrides = serializers.JSONField(required=False, default=dict)


class RolloutCreateSerializer(StrictSerializer):
    workspace = serializers.IntegerField()
    release_name = serializers.CharField(max_length=53, validators=[DNS1123_LABEL])
    package_version = serializers.IntegerField()
    values = serializers.JSONField(required=False, default=dict)
    targets = RolloutTargetInputSerializer(many=True)
    canary = serializers.IntegerField(required=False, allow_null=True, default=None)
    batch_size = serializers.IntegerField(required=False, default=5, min_value=1, max_value=100)
    max_failures = serializers.IntegerField(required=False, default=0, min_value=0)

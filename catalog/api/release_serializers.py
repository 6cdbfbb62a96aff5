"""Shapes of releases, revisions and rollouts (docs/catalog-api.md)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog import manifests
from catalog.models import Release, Revision
from catalog.rows import (  # noqa: F401 - the rows are the API's shapes too; views use them from here
    ReleaseSerializer,
    RolloutSerializer,
    RolloutTargetSerializer,
    light_versions,
    release_row,
    rollout_row,
)
from clusters.models import DNS1123_LABEL
from portal.api.serializers import StrictSerializer


class RevisionSerializer(serializers.ModelSerializer[Revision]):
    """``values`` as in :class:`ReleaseSerializer` (Secret values of this revision redacted unless
    the context says ``reveal``)."""

    version = serializers.CharField(source="package_version.version")
    created_by = serializers.SerializerMethodField()
    values = serializers.SerializerMethodField()

    class Meta:
        model = Revision
        fields = ("number", "action", "rollback_of", "version", "values", "digest", "status", "progress", "message",
                  "message_code", "message_params", "created", "started", "finished", "created_by")
        read_only_fields = fields

    def get_created_by(self, obj: Revision) -> str | None:
        return obj.created_by.get_username() if obj.created_by else None

    @extend_schema_field(OpenApiTypes.ANY)
    def get_values(self, obj: Revision) -> Any:
        return manifests.shown_values(obj.values, obj.manifest, reveal=bool(self.context.get("reveal")))


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
        return manifests.shown_manifest(obj.manifest, reveal=bool(self.context.get("reveal")))

    @extend_schema_field(RevisionChangeSerializer(many=True))
    def get_changes(self, obj: Revision) -> list[dict[str, Any]]:
        from catalog.revision_changes import revision_changes

        previous = Revision.objects.filter(release_id=obj.release_id, number=obj.number - 1).values_list(
            "manifest", flat=True).first()
        return revision_changes(previous, obj.manifest, revision_annotation=manifests.REVISION_ANNOTATION)


class ReleaseDetailSerializer(ReleaseSerializer):
    revisions = serializers.SerializerMethodField()

    class Meta(ReleaseSerializer.Meta):
        fields = (*ReleaseSerializer.Meta.fields, "revisions")  # type: ignore[assignment]
        read_only_fields = fields  # type: ignore[assignment]

    @extend_schema_field(RevisionSerializer(many=True))
    def get_revisions(self, obj: Release) -> Any:
        revisions = light_versions(obj.revisions.select_related("package_version", "created_by")).order_by("-number")[:100]
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

"""Shapes of catalog sources, packages and versions (docs/catalog-api.md, sections Sources and
Packages). Releases and rollouts have theirs in :mod:`catalog.api.release_serializers`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import CatalogSource, Package, PackageVersion, SourceKind
from clusters.models import DNS1123_LABEL
from portal.api.serializers import StrictSerializer

# ---------------------------------------------------------------------------- sources


class CatalogRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SourceRefSerializer(CatalogRefSerializer):
    kind = serializers.CharField()


class SourceSerializer(serializers.ModelSerializer[CatalogSource]):
    workspace = CatalogRefSerializer(allow_null=True)
    has_password = serializers.SerializerMethodField()
    package_count = serializers.IntegerField(default=0)

    class Meta:
        model = CatalogSource
        fields = ("id", "name", "kind", "workspace", "url", "username", "has_password", "refresh_minutes", "status",
                  "message", "last_refreshed", "package_count")
        read_only_fields = fields

    def get_has_password(self, obj: CatalogSource) -> bool:
        return bool(obj.password_encrypted)


SOURCE_URL_HELP = (
    "helm: https://host[:port]/path (http:// for admins and outside production); oci: oci://host[:port]/prefix "
    "(oci+http:// likewise). The host must pass the address policy (no link-local, cloud-metadata, unspecified or "
    "multicast address in any encoding, nor loopback or denied networks as configured; every address a name "
    "resolves to is checked): otherwise 400 on url. Every fetch checks again and connects to the checked address.")


class SourceCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=63, validators=[DNS1123_LABEL])
    kind = serializers.ChoiceField(choices=[SourceKind.HELM.value, SourceKind.OCI.value, SourceKind.UPLOAD.value])
    workspace = serializers.IntegerField(allow_null=True, required=False, default=None)
    url = serializers.CharField(max_length=500, allow_blank=True, required=False, default="",
                                help_text=SOURCE_URL_HELP)
    username = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")
    password = serializers.CharField(max_length=1000, allow_blank=True, required=False, default="",
                                     trim_whitespace=False, style={"input_type": "password"}, write_only=True)
    ca_pem = serializers.CharField(max_length=50_000, allow_blank=True, required=False, default="")
    refresh_minutes = serializers.IntegerField(min_value=0, max_value=7 * 24 * 60, required=False, default=0)


class SourceUpdateSerializer(StrictSerializer):
    url = serializers.CharField(max_length=500, allow_blank=True, required=False, help_text=SOURCE_URL_HELP)
    username = serializers.CharField(max_length=200, allow_blank=True, required=False)
    password = serializers.CharField(max_length=1000, allow_blank=True, required=False, trim_whitespace=False,
                                     style={"input_type": "password"}, write_only=True)
    ca_pem = serializers.CharField(max_length=50_000, allow_blank=True, required=False)
    refresh_minutes = serializers.IntegerField(min_value=0, max_value=7 * 24 * 60, required=False)


class WebhookTokenSerializer(serializers.Serializer[Any]):
    token = serializers.CharField()
    url = serializers.CharField()


class ChartUploadSerializer(StrictSerializer):
    chart = serializers.FileField()


# ---------------------------------------------------------------------------- packages


class PackageSerializer(serializers.ModelSerializer[Package]):
    source = serializers.SerializerMethodField()  # type: ignore[assignment]
    workspace = serializers.SerializerMethodField()

    class Meta:
        model = Package
        fields: tuple[str, ...] = ("id", "name", "description", "icon", "keywords", "home", "latest_version", "source",
                                   "workspace", "updated")
        read_only_fields: tuple[str, ...] = fields

    @extend_schema_field(SourceRefSerializer)
    def get_source(self, obj: Package) -> dict[str, Any]:
        return {"id": obj.source_id, "name": obj.source.name, "kind": obj.source.kind}

    @extend_schema_field(CatalogRefSerializer(allow_null=True))
    def get_workspace(self, obj: Package) -> dict[str, Any] | None:
        workspace = obj.source.workspace
        return None if workspace is None else {"id": workspace.pk, "name": workspace.name}


class VersionSummarySerializer(serializers.ModelSerializer[PackageVersion]):
    class Meta:
        model = PackageVersion
        fields = ("id", "version", "app_version", "created")
        read_only_fields = fields


class PackageDetailSerializer(PackageSerializer):
    versions = serializers.SerializerMethodField()

    class Meta(PackageSerializer.Meta):
        fields = (*PackageSerializer.Meta.fields, "versions")
        read_only_fields = fields

    @extend_schema_field(VersionSummarySerializer(many=True))
    def get_versions(self, obj: Package) -> list[dict[str, Any]]:
        from catalog.sources import version_key

        rows = sorted(obj.versions.defer("archive", "values_yaml", "values_schema", "readme"),
                      key=lambda v: (version_key(v.version), v.created), reverse=True)
        return list(VersionSummarySerializer(rows, many=True).data)


# The field types are declared for the schema; the values come from catalog.helm.values_form.
class FormFieldSerializer(serializers.Serializer[Any]):
    path = serializers.CharField()
    type = serializers.ChoiceField(choices=["string", "integer", "number", "boolean", "object", "array"])
    default = serializers.JSONField(allow_null=True)
    description = serializers.CharField(allow_blank=True)
    enum = serializers.ListField(child=serializers.JSONField(), allow_null=True)
    required = serializers.BooleanField()  # type: ignore[assignment]


class VersionSerializer(serializers.ModelSerializer[PackageVersion]):
    package = serializers.SerializerMethodField()
    lookup_templates = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="templates that call Helm's lookup, which finds nothing in the portal (values it keeps across "
        "upgrades are generated anew): set such values explicitly")
    form = FormFieldSerializer(many=True, read_only=True)
    archive_status = serializers.SerializerMethodField(
        help_text="stored: readme, values and form are complete; fetching: the archive is being fetched (ask again); "
        "failed: the last fetch failed (archive_message says why; it is tried again)")

    class Meta:
        model = PackageVersion
        fields = ("id", "package", "version", "app_version", "digest", "readme", "values_yaml", "values_schema",
                  "lookup_templates", "form", "archive_status", "archive_message", "archive_message_code")
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=["stored", "fetching", "failed"]))
    def get_archive_status(self, obj: PackageVersion) -> str:
        from catalog import archives

        return archives.status_of(obj)

    @extend_schema_field(CatalogRefSerializer)
    def get_package(self, obj: PackageVersion) -> dict[str, Any]:
        return {"id": obj.package_id, "name": obj.package.name}


class RenderRequestSerializer(StrictSerializer):
    values = serializers.JSONField(required=False, default=dict)
    service_map = serializers.IntegerField()


class RenderedObjectSerializer(serializers.Serializer[Any]):
    apiVersion = serializers.CharField()  # the Kubernetes field name
    kind = serializers.CharField()
    name = serializers.CharField()
    namespace = serializers.CharField(allow_blank=True)


class RenderResultSerializer(serializers.Serializer[Any]):
    objects = RenderedObjectSerializer(many=True)
    manifest = serializers.CharField(allow_blank=True)

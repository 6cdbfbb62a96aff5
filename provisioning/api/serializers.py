"""Request and response shapes of /api/provisioning/ (management clusters, cluster templates,
provisioned clusters): request serializers validate input (unknown fields refused), response
serializers describe rows for the OpenAPI schema (the rows themselves come from
:mod:`provisioning.rows` and the views)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from clusters.api.serializers import LabelsField
from clusters.models import Stage
from portal.api.serializers import StrictCharField, StrictSerializer
from portal.limits import DESCRIPTION_MAX_LENGTH
from provisioning.models import CheckStatus, InfraProvider, OperationKind, OperationStatus, Phase
from provisioning.templates import MAX_FILE_CHARS

NAME_HELP = "DNS label: lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit"


# ---------------------------------------------------------------------------- management clusters


class ManagementClusterSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    cluster = serializers.IntegerField(help_text="the registered cluster's id")
    cluster_name = StrictCharField()
    namespace = StrictCharField(help_text="where the portal writes Cluster API objects on it")
    status = serializers.ChoiceField(choices=CheckStatus.choices)
    capi_versions = serializers.DictField(child=serializers.ListField(child=StrictCharField()),
                                          help_text="served versions per Cluster API group")
    control_plane_providers = serializers.ListField(child=StrictCharField())
    infrastructure_providers = serializers.ListField(child=StrictCharField())
    message = StrictCharField()
    message_code = StrictCharField()
    message_params = serializers.DictField()
    checked = serializers.DateTimeField(allow_null=True)
    created = serializers.DateTimeField()


class ManagementClusterCreateSerializer(StrictSerializer):
    cluster = serializers.IntegerField(help_text="a registered cluster's id")
    namespace = StrictCharField(max_length=63, required=False, default="portal-provisioning", help_text=NAME_HELP)


# ---------------------------------------------------------------------------- templates


class ClusterTemplateSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = StrictCharField()
    version = serializers.IntegerField()
    provider = serializers.ChoiceField(choices=InfraProvider.choices)
    display_name = StrictCharField()
    description = StrictCharField()
    builtin = serializers.BooleanField()
    archived = serializers.BooleanField()
    created = serializers.DateTimeField()
    clusters_count = serializers.IntegerField(help_text="clusters made from this version (deleted ones included)")


TemplateFormFieldSerializer = inline_serializer("ClusterTemplateFormField", many=True, fields={
    "path": StrictCharField(help_text="dotted path of the parameter"),
    "type": StrictCharField(),
    "default": serializers.JSONField(allow_null=True),
    "description": StrictCharField(),
    "enum": serializers.ListField(child=serializers.JSONField(), allow_null=True),
    "required": serializers.BooleanField(),
})


class ClusterTemplateDetailSerializer(ClusterTemplateSerializer):
    files = serializers.DictField(child=StrictCharField(), help_text="path -> text of the chart's files")
    schema = serializers.DictField(help_text="values.schema.json")
    defaults = serializers.DictField(help_text="values.yaml, parsed")
    form = TemplateFormFieldSerializer
    machine_sizes = serializers.ListField(child=StrictCharField())
    kubernetes_versions = serializers.ListField(child=StrictCharField())


FILES_HELP = ("path -> text: values.yaml, values.schema.json, templates/<name>.yaml (and README.md); Chart.yaml is "
              "generated")


class ClusterTemplateCreateSerializer(StrictSerializer):
    name = StrictCharField(max_length=63, help_text=NAME_HELP + "; an existing name gets its next version")
    provider = serializers.ChoiceField(choices=InfraProvider.choices)
    display_name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    description = StrictCharField(max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True, default="")
    files = serializers.DictField(child=StrictCharField(allow_blank=True, trim_whitespace=False, max_length=MAX_FILE_CHARS),
                                  help_text=FILES_HELP)


class ClusterTemplateVersionSerializer(StrictSerializer):
    files = serializers.DictField(child=StrictCharField(allow_blank=True, trim_whitespace=False, max_length=MAX_FILE_CHARS),
                                  help_text=FILES_HELP)
    description = StrictCharField(max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True)


class ClusterTemplateUpdateSerializer(StrictSerializer):
    display_name = StrictCharField(max_length=200, required=False, allow_blank=True)
    description = StrictCharField(max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True)
    archived = serializers.BooleanField(required=False)


class TemplateRenderRequestSerializer(StrictSerializer):
    name = StrictCharField(max_length=63, help_text="the cluster's name (" + NAME_HELP + ")")
    parameters = serializers.DictField(required=False, default=dict, help_text="merged over the template's defaults")


class TemplateRenderedObjectSerializer(serializers.Serializer[Any]):
    apiVersion = StrictCharField()  # Kubernetes' own field name
    kind = StrictCharField()
    name = StrictCharField()
    namespace = StrictCharField()


class TemplateRenderResultSerializer(serializers.Serializer[Any]):
    objects = TemplateRenderedObjectSerializer(many=True)
    manifest = StrictCharField(help_text="the objects as multi-document YAML")


# ---------------------------------------------------------------------------- provisioned clusters


class ProvisioningOperationSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    provisioned = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=OperationKind.choices)
    spec = serializers.DictField()
    status = serializers.ChoiceField(choices=OperationStatus.choices)
    progress = serializers.DictField()
    message = StrictCharField()
    message_code = StrictCharField()
    message_params = serializers.DictField()
    created = serializers.DateTimeField()
    started = serializers.DateTimeField(allow_null=True)
    finished = serializers.DateTimeField(allow_null=True)
    created_by = StrictCharField()


class ProvisionedClusterSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = StrictCharField()
    display_name = StrictCharField()
    management = serializers.IntegerField()
    management_cluster = StrictCharField(help_text="the management cluster's name")
    namespace = StrictCharField()
    template = serializers.IntegerField()
    template_name = StrictCharField()
    template_version = serializers.IntegerField()
    provider = serializers.ChoiceField(choices=InfraProvider.choices)
    parameters = serializers.DictField()
    stage = serializers.ChoiceField(choices=Stage.choices)
    labels = serializers.DictField(child=StrictCharField())
    kubernetes_version = StrictCharField()
    phase = serializers.ChoiceField(choices=Phase.choices)
    progress = serializers.DictField(help_text="provisioning.capi.summarize: cluster, control_plane, pools, machines, "
                                               "machines_total, machines_running, nodes_ready, kubeconfig, failure")
    conditions = serializers.ListField(child=serializers.DictField())
    message = StrictCharField()
    message_code = StrictCharField()
    message_params = serializers.DictField()
    cluster = serializers.IntegerField(allow_null=True, help_text="the registered cluster, once Cluster API wrote "
                                                                  "its kubeconfig")
    followed = serializers.DateTimeField(allow_null=True)
    created = serializers.DateTimeField()
    updated = serializers.DateTimeField()
    deleted = serializers.DateTimeField(allow_null=True)


class ProvisionedClusterDetailSerializer(ProvisionedClusterSerializer):
    operations = ProvisioningOperationSerializer(many=True, help_text="the latest 20")
    machine_sizes = serializers.ListField(child=StrictCharField(), help_text="from the template's schema")
    upgrade_versions = serializers.ListField(child=StrictCharField(),
                                             help_text="newer versions of the template's schema, one minor at most")


class ProvisionRequestSerializer(StrictSerializer):
    name = StrictCharField(max_length=63, help_text=NAME_HELP)
    management = serializers.IntegerField(help_text="a management cluster's id")
    template = serializers.IntegerField(help_text="a cluster template version's id")
    parameters = serializers.DictField(required=False, default=dict)
    stage = serializers.ChoiceField(choices=Stage.choices, required=False, default=Stage.DEV)
    labels = LabelsField(required=False, default=dict)
    display_name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")


class DryRunErrorSerializer(serializers.Serializer[Any]):
    object = StrictCharField(help_text="Kind/name")
    message = StrictCharField()


DryRunSerializer = inline_serializer("ProvisioningDryRun", fields={
    "ok": serializers.BooleanField(),
    "namespace_exists": serializers.BooleanField(help_text="false: the namespace is created on apply, and its "
                                                           "objects could not be dry-run before"),
    "errors": DryRunErrorSerializer(many=True),
})


class PlanResultSerializer(TemplateRenderResultSerializer):
    dry_run = DryRunSerializer


class ProvisionAcceptedSerializer(serializers.Serializer[Any]):
    provisioned = ProvisionedClusterSerializer()
    operation = ProvisioningOperationSerializer()

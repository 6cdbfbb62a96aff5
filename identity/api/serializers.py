"""Shapes of the single sign-on API. A provider's secret is write-only (``secret`` in, only
``has_secret`` out); every string has a length limit; the per-kind rules of ``config`` are
checked in :func:`identity.actions.clean_config`."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from identity.models import (
    DISPLAY_NAME_MAX_LENGTH,
    GROUP_MAX_LENGTH,
    NAME_MAX_LENGTH,
    GroupMapping,
    IdentityProvider,
    ProviderKind,
)
from portal.api.serializers import StrictSerializer
from portal.models import SystemRole, User
from workspaces.models import Role, Workspace

URL_MAX_LENGTH = 2048
DN_MAX_LENGTH = 1024
ATTR_MAX_LENGTH = 100
PEM_MAX_LENGTH = 65536
SECRET_MAX_LENGTH = 4096
MAX_PREVIEW_RULES = 500


class ProviderConfigSerializer(StrictSerializer):
    """A provider's non-secret settings. OIDC uses issuer…groups_claim, LDAP server_uri…nested_groups,
    both ca_pem; keys of the other kind are refused. Omitted keys keep their value (or default)."""

    # OIDC
    issuer = serializers.CharField(max_length=URL_MAX_LENGTH, required=False, allow_blank=True)
    client_id = serializers.CharField(max_length=255, required=False, allow_blank=True)
    scopes = serializers.ListField(child=serializers.CharField(max_length=100), max_length=30, required=False)
    username_claim = serializers.CharField(max_length=ATTR_MAX_LENGTH, required=False, allow_blank=True)
    groups_claim = serializers.CharField(max_length=ATTR_MAX_LENGTH, required=False, allow_blank=True)
    # both
    ca_pem = serializers.CharField(max_length=PEM_MAX_LENGTH, required=False, allow_blank=True, trim_whitespace=False)
    # LDAP
    server_uri = serializers.CharField(max_length=URL_MAX_LENGTH, required=False, allow_blank=True)
    start_tls = serializers.BooleanField(required=False)
    bind_dn = serializers.CharField(max_length=DN_MAX_LENGTH, required=False, allow_blank=True)
    user_search_base = serializers.CharField(max_length=DN_MAX_LENGTH, required=False, allow_blank=True)
    user_filter = serializers.CharField(max_length=DN_MAX_LENGTH, required=False, allow_blank=True)
    username_attr = serializers.CharField(max_length=ATTR_MAX_LENGTH, required=False, allow_blank=True)
    email_attr = serializers.CharField(max_length=ATTR_MAX_LENGTH, required=False, allow_blank=True)
    display_name_attr = serializers.CharField(max_length=ATTR_MAX_LENGTH, required=False, allow_blank=True)
    group_search_base = serializers.CharField(max_length=DN_MAX_LENGTH, required=False, allow_blank=True)
    group_filter = serializers.CharField(max_length=DN_MAX_LENGTH, required=False, allow_blank=True)
    nested_groups = serializers.BooleanField(required=False)


class ProviderSerializer(serializers.ModelSerializer[IdentityProvider]):
    config = serializers.JSONField(read_only=True, help_text="Non-secret settings (docs/sso.md).")
    has_secret = serializers.BooleanField(read_only=True, help_text="Whether a client secret / bind password is stored "
                                          "(it is never returned).")
    identities = serializers.SerializerMethodField(help_text="How many people have signed in through this provider.")

    class Meta:
        model = IdentityProvider
        fields = ("id", "name", "display_name", "kind", "enabled", "config", "has_secret", "identities",
                  "created", "updated")
        read_only_fields = fields

    def get_identities(self, provider: IdentityProvider) -> int:
        counted = getattr(provider, "identity_count", None)  # annotated by the list's queryset
        return int(counted) if counted is not None else provider.identities.count()


class ProviderCreateSerializer(StrictSerializer):
    name = serializers.SlugField(max_length=NAME_MAX_LENGTH)
    display_name = serializers.CharField(max_length=DISPLAY_NAME_MAX_LENGTH, required=False, allow_blank=True,
                                         default="")
    kind = serializers.ChoiceField(choices=ProviderKind.choices)
    enabled = serializers.BooleanField(required=False, default=True)
    config = ProviderConfigSerializer(required=False)
    secret = serializers.CharField(max_length=SECRET_MAX_LENGTH, required=False, allow_blank=True, write_only=True,
                                   trim_whitespace=False, style={"input_type": "password"},
                                   help_text="OIDC client secret or LDAP bind password; write-only.")


class ProviderUpdateSerializer(StrictSerializer):
    """Name and kind are fixed once created (identities and the login URLs use them)."""

    display_name = serializers.CharField(max_length=DISPLAY_NAME_MAX_LENGTH, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    config = ProviderConfigSerializer(required=False)
    secret = serializers.CharField(max_length=SECRET_MAX_LENGTH, required=False, allow_blank=True, write_only=True,
                                   trim_whitespace=False, style={"input_type": "password"},
                                   help_text='New secret; "" removes it; leave out to keep it.')


class PublicProviderSerializer(serializers.ModelSerializer[IdentityProvider]):
    class Meta:
        model = IdentityProvider
        fields = ("name", "display_name", "kind")
        read_only_fields = fields


class TestResultSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField()
    kind = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField(child=serializers.JSONField())


class MappingSerializer(serializers.ModelSerializer[GroupMapping]):
    provider_name = serializers.CharField(source="provider.name", read_only=True)
    workspace_name = serializers.CharField(source="workspace.name", read_only=True, allow_null=True, default=None)
    role: serializers.SlugRelatedField[Role] = serializers.SlugRelatedField(slug_field="key", read_only=True,
                                                                           allow_null=True)

    class Meta:
        model = GroupMapping
        fields = ("id", "provider", "provider_name", "group", "system_role", "workspace", "workspace_name", "role",
                  "created")
        read_only_fields = fields


def _role(key: str | None) -> Role | None:
    if key is None or key == "":
        return None
    role = Role.objects.filter(key=key).first()
    if role is None:
        keys = ", ".join(Role.objects.order_by("key").values_list("key", flat=True))
        raise serializers.ValidationError(f"No role {key!r}; choose one of: {keys}.")
    return role


class MappingRuleSerializer(StrictSerializer):
    group = serializers.CharField(max_length=GROUP_MAX_LENGTH,
                                  help_text="OIDC group claim value, or LDAP group DN (or its CN).")
    system_role = serializers.ChoiceField(choices=[("", "none"), *SystemRole.choices], required=False, default="")
    workspace = serializers.PrimaryKeyRelatedField(queryset=Workspace.objects.all(), required=False, allow_null=True,
                                                   default=None)
    role = serializers.CharField(max_length=40, required=False, allow_null=True, default=None,
                                 help_text="Workspace role key (manager, developer, viewer or a custom one).")

    def validate_role(self, value: str | None) -> Role | None:
        return _role(value)


class MappingCreateSerializer(MappingRuleSerializer):
    provider = serializers.PrimaryKeyRelatedField(queryset=IdentityProvider.objects.all())


class MappingUpdateSerializer(StrictSerializer):
    group = serializers.CharField(max_length=GROUP_MAX_LENGTH, required=False)
    system_role = serializers.ChoiceField(choices=[("", "none"), *SystemRole.choices], required=False)
    workspace = serializers.PrimaryKeyRelatedField(queryset=Workspace.objects.all(), required=False, allow_null=True)
    role = serializers.CharField(max_length=40, required=False, allow_null=True,
                                 help_text="Workspace role key (manager, developer, viewer or a custom one).")

    def validate_role(self, value: str | None) -> Role | None:
        return _role(value)


class PreviewRequestSerializer(StrictSerializer):
    provider = serializers.PrimaryKeyRelatedField(queryset=IdentityProvider.objects.all())
    mappings = MappingRuleSerializer(many=True, required=False, max_length=MAX_PREVIEW_RULES,  # type: ignore[call-arg]
                                     help_text="Proposed mappings to preview instead of the stored ones.")


class PreviewWorkspaceSerializer(serializers.Serializer[Any]):
    workspace = serializers.IntegerField()
    workspace_name = serializers.CharField()
    role = serializers.CharField()


class PreviewRowSerializer(serializers.Serializer[Any]):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    groups = serializers.ListField(child=serializers.CharField())
    system_role = serializers.CharField(help_text='The system role the mappings grant ("" = none).')
    workspaces = PreviewWorkspaceSerializer(many=True)


class LinkRequestSerializer(StrictSerializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), help_text="The user to move the identity to.")


class LinkResultSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text="The identity.")
    provider = serializers.CharField()
    from_user = serializers.IntegerField()
    to_user = serializers.IntegerField()
    deactivated_user = serializers.IntegerField(allow_null=True, help_text="The previous user, deactivated because "
                                                "it had no other way to sign in; null when it kept one.")
    message = serializers.CharField(allow_blank=True)
    message_code = serializers.CharField(allow_blank=True)
    message_params = serializers.DictField(child=serializers.JSONField())


class UnlinkResultSerializer(serializers.Serializer[Any]):
    user = serializers.IntegerField()
    provider = serializers.CharField()
    can_sign_in = serializers.BooleanField(help_text="False when the user has no way to sign in left.")
    message = serializers.CharField(allow_blank=True)
    message_code = serializers.CharField(allow_blank=True)
    message_params = serializers.DictField(child=serializers.JSONField())

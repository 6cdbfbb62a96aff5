"""Serializers shared by the whole API, and those of the portal core (users, tokens, audit)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal import ratelimit
from portal.limits import PASSWORD_MAX_LENGTH
from portal.models import ApiToken, AuditRecord, SystemRole, User


class StrictSerializerMixin:
    """Refuse unknown fields instead of silently ignoring them (typos must not vanish)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, f in self.fields.items() if not f.read_only}  # type: ignore[attr-defined]
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field; allowed fields are: " + ", ".join(sorted(writable)) + "."] for name in unknown}
                )
        elif data is not None:
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictCharField(serializers.CharField):
    """A string that must arrive as a JSON string: DRF's CharField turns ``153`` into ``"153"``,
    which accepts a body the schema calls invalid."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictSerializer(StrictSerializerMixin, serializers.Serializer):
    pass


class StrictModelSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    pass


class UserSerializer(serializers.ModelSerializer[User]):
    role = serializers.ChoiceField(choices=SystemRole.choices, source="effective_role", read_only=True)
    is_admin = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = ("id", "username", "email", "first_name", "last_name", "role", "is_admin")
        read_only_fields = fields


class LoginSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, style={"input_type": "password"})


class CsrfSerializer(serializers.Serializer):
    csrfToken = serializers.CharField()


class ApiTokenSerializer(StrictModelSerializer):
    expires_in_days = serializers.IntegerField(
        write_only=True, required=False, allow_null=True, min_value=1, max_value=3650,
        help_text="Days until the token expires; omit or null for a token that does not expire.",
    )

    class Meta:
        model = ApiToken
        fields: tuple[str, ...] = ("id", "name", "prefix", "created", "expires", "last_used", "expires_in_days")
        read_only_fields = ("id", "prefix", "created", "expires", "last_used")

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("Give the token a name, for example 'ci-deploy'.")
        user = self.context["request"].user
        if ApiToken.objects.filter(user=user, name=value, revoked__isnull=True).exists():
            raise serializers.ValidationError(f"You already have an active token named '{value}'.")
        return value

    def expires_at(self) -> Any:
        days = self.validated_data.get("expires_in_days")
        return timezone.now() + timedelta(days=days) if days else None


class NewApiTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The token itself. Shown only in this response.")

    class Meta(ApiTokenSerializer.Meta):
        fields = (*ApiTokenSerializer.Meta.fields, "token")


class AuditRecordSerializer(serializers.ModelSerializer[AuditRecord]):
    actor = serializers.CharField(source="actor_username", allow_null=True)

    class Meta:
        model = AuditRecord
        fields = (
            "id", "timestamp", "actor", "source_ip", "action", "target_type", "target_id",
            "target_repr", "outcome", "status_code", "request_id", "detail",
        )
        read_only_fields = fields

    def to_representation(self, instance: AuditRecord) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["actor"] = data["actor"] or None
        return data


class IdentityLinkSerializer(serializers.Serializer[Any]):
    """One link of a user to an identity provider (the provider's name for the person, the groups
    it reported at the last sign-in)."""

    id = serializers.IntegerField()
    provider = serializers.CharField(source="provider.name")
    provider_display_name = serializers.CharField(source="provider.display_name")
    kind = serializers.CharField(source="provider.kind")
    provider_enabled = serializers.BooleanField(source="provider.enabled")
    subject = serializers.CharField()
    username = serializers.CharField()
    email = serializers.CharField()
    groups = serializers.ListField(child=serializers.CharField())
    last_sign_in = serializers.DateTimeField(allow_null=True)


class AdminUserSerializer(StrictModelSerializer):
    """A user as system admins see and edit them. ``password`` is write-only, on create."""

    password = serializers.CharField(write_only=True, required=True, trim_whitespace=False, max_length=PASSWORD_MAX_LENGTH,
                                     style={"input_type": "password"})

    identities = serializers.SerializerMethodField(
        help_text="The identity providers this user signs in through (single sign-on), read-only."
    )
    locked_until = serializers.SerializerMethodField(
        help_text="Until when logins to this account are refused after too many failures (null: not locked). "
        "POST .../unlock/ lifts it."
    )

    class Meta:
        model = User
        fields = ("id", "username", "email", "first_name", "last_name", "role", "is_active",
                  "last_login", "date_joined", "locked_until", "password", "local_login_enabled", "identities")
        read_only_fields = ("id", "last_login", "date_joined", "locked_until", "identities")

    @extend_schema_field(IdentityLinkSerializer(many=True))
    def get_identities(self, user: User) -> list[dict[str, Any]]:
        """The user's links to identity providers (single sign-on), newest provider name first."""
        links = sorted(user.external_identities.all(), key=lambda link: (link.provider.name, link.pk))
        return IdentityLinkSerializer(links, many=True).data  # type: ignore[return-value]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_locked_until(self, user: User) -> str | None:
        lockouts = self.context.get("lockouts")
        if lockouts is None:
            lockouts = ratelimit.account_lockouts([user.username])
        seconds = lockouts.get(user.username)
        if seconds is None:
            return None
        return serializers.DateTimeField().to_representation(timezone.now() + timedelta(seconds=seconds))

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if self.instance is not None:  # password changes go through set_password
            fields.pop("password", None)
            fields["username"].read_only = True
        return fields

    def validate_username(self, value: str) -> str:
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError(f"A user named '{value}' already exists.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "password" in attrs:
            _validate_password(attrs["password"], User(username=attrs.get("username", ""), email=attrs.get("email", "")))
        return attrs


class AdminUserUpdateSerializer(AdminUserSerializer):
    """What an update accepts (the schema's request body for PUT/PATCH): the username is fixed and
    passwords change through ``set_password``, so neither is offered."""

    class Meta:
        model = User
        fields = ("id", "username", "email", "first_name", "last_name", "role", "is_active",
                  "last_login", "date_joined", "locked_until", "local_login_enabled", "identities")
        read_only_fields = ("id", "username", "last_login", "date_joined", "locked_until", "identities")


def _validate_password(password: str, user: User) -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError as DjangoValidationError

    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError({"password": list(exc.messages)}) from exc


class SetPasswordSerializer(StrictSerializer):
    password = serializers.CharField(trim_whitespace=False, max_length=PASSWORD_MAX_LENGTH, style={"input_type": "password"})

    def validate_password(self, value: str) -> str:
        try:
            _validate_password(value, self.context["user"])
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(exc.detail["password"]) from exc  # type: ignore[call-overload]
        return value


class ChangeOwnPasswordSerializer(SetPasswordSerializer):
    current_password = serializers.CharField(trim_whitespace=False, max_length=PASSWORD_MAX_LENGTH, style={"input_type": "password"})

    def validate_current_password(self, value: str) -> str:
        if not self.context["user"].check_password(value):
            raise serializers.ValidationError("The current password is not right.")
        return value

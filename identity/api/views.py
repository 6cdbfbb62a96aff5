"""Admin API of single sign-on (providers, group mappings, preview, test connection) and the
login page's public list of enabled providers. Views validate the body, ask the access class
and call :mod:`identity.actions`; they decide nothing else (docs/sso.md)."""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

from django.db.models import Count, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from identity import actions, mapping
from identity.api import serializers as s
from identity.models import ExternalIdentity, GroupMapping, IdentityProvider, ProviderKind
from portal import audit
from portal.api.params import id_param
from portal.api.permissions import IsSystemAdmin
from portal.api.viewsets import AccessMixin
from portal.errors import Unavailable

ERRORS = {
    400: OpenApiResponse(description="Invalid input; `errors` names the field"),
    403: OpenApiResponse(description="Only system admins may do this"),
    404: OpenApiResponse(description="No such object"),
    409: OpenApiResponse(description="Conflicts with the current state; `detail` says how"),
}
TEST_MODULES = {ProviderKind.OIDC: "identity.oidc", ProviderKind.LDAP: "identity.ldap"}


@extend_schema_view(list=extend_schema(responses=s.ProviderSerializer(many=True)))
class ProviderViewSet(AccessMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      viewsets.GenericViewSet[IdentityProvider]):
    """Identity providers (system admins only). The secret is write-only."""

    queryset = IdentityProvider.objects.none()
    access_model = IdentityProvider
    serializer_class = s.ProviderSerializer
    permission_classes = [IsSystemAdmin]
    pagination_class = None  # a handful per portal
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "delete", "head", "options"]  # type: ignore[misc]

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.annotate(identity_count=Count("identities")).order_by("name")

    @extend_schema(request=s.ProviderCreateSerializer, responses={201: s.ProviderSerializer, **ERRORS})
    def create(self, request: Request) -> Response:
        data = s.ProviderCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        provider = actions.create_provider(data=dict(data.validated_data), request=request._request)
        return Response(s.ProviderSerializer(provider).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ProviderUpdateSerializer, responses={200: s.ProviderSerializer, **ERRORS})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        provider = self.get_object()
        data = s.ProviderUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        provider = actions.update_provider(provider=provider, data=dict(data.validated_data), request=request._request)
        return Response(s.ProviderSerializer(provider).data)

    @extend_schema(responses={204: None, **ERRORS})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        actions.delete_provider(provider=self.get_object(), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={
        200: s.TestResultSerializer, **ERRORS,
        502: OpenApiResponse(description="The provider answered wrongly"),
        503: OpenApiResponse(description="The provider cannot be reached, or its kind has no test yet "
                             "(code `provider_test_unavailable`)")})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Reach the provider with its stored settings and report what it found (the OIDC discovery
        document and signing keys; the LDAP service bind and how many users and groups it sees)."""
        provider = self.get_object()
        self.require("test", provider)
        audit.describe(request, action="identity.provider_test", target=provider)
        try:
            module = importlib.import_module(TEST_MODULES[ProviderKind(provider.kind)])
        except ModuleNotFoundError:
            module = None
        test_connection = getattr(module, "test_connection", None)
        if test_connection is None:
            raise Unavailable(f"Testing {provider.kind} providers is not available in this version.",
                              code="provider_test_unavailable", params={"kind": provider.kind})
        result = dict(test_connection(provider))
        details = dict(result.pop("details", None) or {})
        message = str(result.pop("message", "") or "")
        ok = bool(result.pop("ok", True))
        details.update(result)
        if not message:
            message = f"Reached {provider}: " + ", ".join(f"{k}={v}" for k, v in details.items() if v not in ("", None))
        return Response({"ok": ok, "kind": provider.kind, "message": message, "details": details})


PROVIDER_FILTER = OpenApiParameter("provider", OpenApiTypes.INT, description="Only this provider's mappings.")


@extend_schema_view(list=extend_schema(parameters=[PROVIDER_FILTER], responses=s.MappingSerializer(many=True)))
class MappingViewSet(AccessMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                     viewsets.GenericViewSet[GroupMapping]):
    """Group mappings (system admins only): a provider's group → a system role, or → a role in a
    workspace. A change applies at once to everyone who signed in through the provider (with the
    groups they last had)."""

    queryset = GroupMapping.objects.none()
    access_model = GroupMapping
    serializer_class = s.MappingSerializer
    permission_classes = [IsSystemAdmin]
    lookup_value_regex = "[0-9]+"
    http_method_names: ClassVar[list[str]] = ["get", "post", "patch", "delete", "head", "options"]  # type: ignore[misc]

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        queryset = queryset.select_related("provider", "workspace", "role")
        provider = id_param(self.request, "provider") if self.action == "list" else None
        return queryset.filter(provider_id=provider) if provider is not None else queryset

    @extend_schema(request=s.MappingCreateSerializer, responses={201: s.MappingSerializer, **ERRORS})
    def create(self, request: Request) -> Response:
        data = s.MappingCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = actions.create_mapping(data=dict(data.validated_data), request=request._request)
        return Response(s.MappingSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.MappingUpdateSerializer, responses={200: s.MappingSerializer, **ERRORS})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        item = self.get_object()
        data = s.MappingUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        item = actions.update_mapping(item=item, data=dict(data.validated_data), request=request._request)
        return Response(s.MappingSerializer(item).data)

    @extend_schema(responses={204: None, **ERRORS})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        actions.delete_mapping(item=self.get_object(), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.PreviewRequestSerializer, responses={200: s.PreviewRowSerializer(many=True), **ERRORS})
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        """Which users of the provider (with the groups they last signed in with) would get which
        roles under the stored mappings, or under ``mappings`` if given. Changes nothing."""
        data = s.PreviewRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        provider: IdentityProvider = data.validated_data["provider"]
        proposed = data.validated_data.get("mappings")
        rules = None
        if proposed is not None:
            rules = []
            for rule in proposed:
                system_role, workspace, role = actions.mapping_target(rule)
                rules.append(mapping.Rule(group=rule["group"].strip(), system_role=system_role,
                                          workspace_id=workspace.pk if workspace else None,
                                          role_id=role.pk if role else None))
        audit.describe(request, action="identity.mapping_preview", target=provider)
        rows = actions.preview(provider=provider, rules=rules)
        return Response(s.PreviewRowSerializer([row.__dict__ for row in rows], many=True).data)


class IdentityViewSet(AccessMixin, viewsets.GenericViewSet[ExternalIdentity]):
    """Identity links (system admins only; listed on the user's detail): move one to another user
    (the same person at a second provider) or remove it."""

    queryset = ExternalIdentity.objects.none()
    access_model = ExternalIdentity
    permission_classes = [IsSystemAdmin]
    lookup_value_regex = "[0-9]+"

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.select_related("provider", "user")

    @extend_schema(request=s.LinkRequestSerializer, responses={200: s.LinkResultSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def link(self, request: Request, pk: str | None = None) -> Response:
        """Move this identity to ``user``: its provider's mappings apply there from now on. The
        previous user, left without any way to sign in, is deactivated (``deactivated_user``)."""
        identity = self.get_object()
        self.require("link", identity)
        data = s.LinkRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        out = actions.link_identity(identity=identity, user=data.validated_data["user"], request=request._request)
        return Response({"id": out.identity.pk, "provider": out.identity.provider.name, "from_user": out.from_user,
                         "to_user": out.to_user, "deactivated_user": out.deactivated_user, "message": out.message,
                         "message_code": out.message_code, "message_params": out.message_params})

    @extend_schema(request=None, responses={200: s.UnlinkResultSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def unlink(self, request: Request, pk: str | None = None) -> Response:
        """Remove this identity link; the user keeps their account (``can_sign_in`` says whether
        they still have a way in)."""
        identity = self.get_object()
        self.require("unlink", identity)
        out = actions.unlink_identity(identity=identity, request=request._request)
        return Response({"user": out.user, "provider": out.provider, "can_sign_in": out.can_sign_in,
                         "message": out.message, "message_code": out.message_code,
                         "message_params": out.message_params})


class PublicProviderListView(APIView):
    """The enabled providers the login page offers (name, display name, kind). Public."""

    authentication_classes: list[type[Any]] = []
    permission_classes = [AllowAny]

    @extend_schema(responses=s.PublicProviderSerializer(many=True), operation_id="auth_providers")
    def get(self, request: Request) -> Response:
        providers = IdentityProvider.objects.filter(enabled=True).order_by("display_name", "name")
        return Response(s.PublicProviderSerializer(providers, many=True).data)

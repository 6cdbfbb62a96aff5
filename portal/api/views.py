"""API views of the portal core: login/logout, the current user, API tokens, the audit log.

Views stay thin: validation in serializers, writes in ``portal.actions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, cast

from django.conf import settings
from django.contrib.auth import authenticate, login, update_session_auth_hash
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from portal import actions, audit, errors, ratelimit
from portal.api.audit_log import AuditRecordScopedSerializer, csv_stream, records_in_chunks
from portal.api.exceptions import Conflict
from portal.api.pagination import KeysetPagination
from portal.api.permissions import IsSystemAdmin
from portal.api.serializers import (
    AdminUserSerializer,
    AdminUserUpdateSerializer,
    ApiTokenSerializer,
    ChangeOwnPasswordSerializer,
    CsrfSerializer,
    LoginSerializer,
    NewApiTokenSerializer,
    SetPasswordSerializer,
    UserSerializer,
)
from portal.authentication import enforce_csrf
from portal.filtersets import AuditRecordFilterSet, UserFilterSet
from portal.middleware import client_ip
from portal.models import ApiToken, AuditOutcome, AuditRecord, User


@method_decorator(ensure_csrf_cookie, name="get")
class CsrfView(APIView):
    """Set the CSRF cookie and return its token, for the SPA to send as ``X-CSRFToken``."""

    authentication_classes: list[type[Any]] = []
    permission_classes = [AllowAny]

    @extend_schema(responses=CsrfSerializer, operation_id="auth_csrf")
    def get(self, request: Request) -> Response:
        return Response({"csrfToken": get_token(request._request)})


class LoginView(APIView):
    """Session login for the browser. CSRF-protected and rate-limited; every attempt is audited."""

    authentication_classes: list[type[Any]] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type[BaseThrottle]] = []

    @extend_schema(
        request=LoginSerializer,
        responses={200: UserSerializer, 400: OpenApiResponse(description="Invalid input"),
                   401: OpenApiResponse(description="Wrong username or password"),
                   403: OpenApiResponse(description="CSRF check failed, or local sign-in switched off for "
                                        "this account (code `local_login_disabled`)"),
                   429: OpenApiResponse(description="Too many attempts from this address (code `login_throttled`) "
                                        "or for this account from anywhere (code `account_locked`); see Retry-After")},
        operation_id="auth_login",
    )
    def post(self, request: Request) -> Response:
        enforce_csrf(request)
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username: str = serializer.validated_data["username"]
        ip = client_ip(request._request) or "unknown"
        audit.describe(request, handled=True)
        # Refused before the password is checked, and alike whether or not the account exists.
        throttled = ratelimit.login_throttled(ip, username)
        if throttled is not None:
            audit.record(action="auth.login_throttled", outcome=AuditOutcome.DENIED, request=request._request,
                         actor_username=username, status_code=429,
                         detail={"retry_after": throttled.retry_after, "code": throttled.code})
            return Response(
                {"detail": throttled.detail, "code": throttled.code},
                status=status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(throttled.retry_after)},
            )
        user = authenticate(request._request, username=username, password=serializer.validated_data["password"])
        if user is None:
            locked = ratelimit.record_login_failure(ip, username)
            audit.record(action="auth.login_failed", outcome=AuditOutcome.DENIED, request=request._request,
                         actor_username=username, status_code=401)
            if locked:
                audit.record(action="auth.account_locked", outcome=AuditOutcome.DENIED, request=request._request,
                             actor_username=username, status_code=401,
                             detail={"lockout_seconds": settings.PORTAL_LOGIN_LOCKOUT_SECONDS})
            return Response({"detail": "Wrong username or password.", "code": "invalid_credentials"},
                            status=status.HTTP_401_UNAUTHORIZED)
        ratelimit.clear_login_failures(ip, username)
        if not getattr(user, "local_login_enabled", True):  # single sign-on only (issue 19)
            audit.record(action="auth.login_refused", outcome=AuditOutcome.DENIED, request=request._request,
                         actor=user, status_code=403, detail={"code": "local_login_disabled"})
            return Response({"detail": "Local sign-in is switched off for this account; sign in through your "
                             "identity provider.", "code": "local_login_disabled"}, status=status.HTTP_403_FORBIDDEN)
        login(request._request, user)
        audit.record(action="auth.login", outcome=AuditOutcome.SUCCESS, request=request._request, actor=user,
                     status_code=200)
        return Response(UserSerializer(user).data)


class LogoutView(APIView):
    @extend_schema(
        request=None,
        responses={204: None, 200: inline_serializer("LogoutOffer", {"end_session_url": serializers.CharField(
            help_text="The identity provider's end-session URL (RP-initiated logout): the session came from "
                      "single sign-on; send the browser there to sign out at the provider too.")})},
        operation_id="auth_logout",
    )
    def post(self, request: Request) -> Response:
        audit.describe(request, action="auth.logout", actor=request.user)
        end_session_url = actions.logout_offer(request._request)  # read before the session ends
        actions.log_out(request._request)
        if end_session_url:
            return Response({"end_session_url": end_session_url})
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses=UserSerializer, operation_id="auth_me")
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(cast(User, request.user)).data)


class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
    viewsets.GenericViewSet[ApiToken],
):
    """The caller's own personal API tokens. Create shows the token once; delete revokes it."""

    serializer_class = ApiTokenSerializer
    queryset = ApiToken.objects.none()

    def get_queryset(self) -> QuerySet[ApiToken]:
        return ApiToken.objects.filter(user=cast(User, self.request.user), revoked__isnull=True)

    @extend_schema(request=ApiTokenSerializer, responses={201: NewApiTokenSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ApiTokenSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        user = request.user
        assert isinstance(user, User)
        token, raw = actions.create_api_token(
            user=user, name=serializer.validated_data["name"], expires=serializer.expires_at(),
            request=request._request,
        )
        data = NewApiTokenSerializer(token).data
        data["token"] = raw
        return Response(data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiToken) -> None:
        actions.revoke_api_token(token=instance, request=self.request._request)


EXPORT_MAX_ROWS = 100_000


def export_limit() -> int:
    """The most rows one CSV export may hold (``PORTAL_AUDIT_EXPORT_MAX_ROWS``)."""
    return max(1, int(getattr(settings, "PORTAL_AUDIT_EXPORT_MAX_ROWS", EXPORT_MAX_ROWS)))


class AuditRecordViewSet(viewsets.ReadOnlyModelViewSet[AuditRecord]):
    """The audit log, newest first (system admins only), with its filters and a CSV export."""

    queryset = AuditRecord.objects.all()
    serializer_class = AuditRecordScopedSerializer
    filterset_class = AuditRecordFilterSet
    permission_classes = [IsSystemAdmin]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        """The export answers its CSV itself whatever the client accepts (``Accept: text/csv``, a
        ``format`` it does not know); its errors are JSON. Without forcing, DRF would answer 406 or
        404 before the view runs."""
        return super().perform_content_negotiation(request, force=force or self.action == "export")

    @extend_schema(
        filters=True,
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=(
            "The matching records, newest first, as CSV (UTF-8 with a byte-order mark).")),
            400: OpenApiResponse(description="A filter is invalid, or more records match than one export may "
                                 "hold (code `audit_export_too_large`, params `limit`): narrow the filters")},
        operation_id="audit_export",
    )
    @action(detail=False, methods=["get"], url_path="export", pagination_class=None,
            renderer_classes=[JSONRenderer])
    def export(self, request: Request) -> StreamingHttpResponse:
        """The records the filters select, as a CSV file (at most ``PORTAL_AUDIT_EXPORT_MAX_ROWS``;
        more is a 400 asking to narrow the filters). The export itself is recorded as
        ``audit.exported`` with its filters and row count, and is not part of its own file."""
        queryset = self.filter_queryset(self.get_queryset()).order_by()
        limit = export_limit()
        filters = {name: request.query_params[name][:300] for name in sorted(AuditRecordFilterSet.base_filters)
                   if request.query_params.get(name)}
        matched = queryset[: limit + 1].count()
        if matched > limit:
            audit.record(action="audit.exported", outcome=AuditOutcome.FAILURE, request=request._request,
                         status_code=400, detail={"filters": filters, "limit": limit,
                                                  "code": "audit_export_too_large"})
            raise errors.Invalid(
                f"More than {limit} records match; narrow the filters (a shorter time range, an actor or an "
                "action) and export again.", code="audit_export_too_large", params={"limit": limit})
        entry = audit.record(action="audit.exported", outcome=AuditOutcome.SUCCESS, request=request._request,
                             status_code=200, detail={"filters": filters, "rows": matched})
        response = StreamingHttpResponse(csv_stream(records_in_chunks(queryset, below=entry.pk)),
                                         content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-{entry.timestamp:%Y%m%d-%H%M%S}.csv"'
        response["Cache-Control"] = "no-store"
        return response


class ChangePasswordView(APIView):
    """Change one's own password; the current session stays logged in, others end."""

    @extend_schema(request=ChangeOwnPasswordSerializer, responses={204: None}, operation_id="auth_change_password")
    def post(self, request: Request) -> Response:
        user = cast(User, request.user)
        serializer = ChangeOwnPasswordSerializer(data=request.data, context={"user": user})
        serializer.is_valid(raise_exception=True)
        actions.set_user_password(user=user, password=serializer.validated_data["password"], request=request._request)
        update_session_auth_hash(request._request, user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(update=extend_schema(request=AdminUserUpdateSerializer),
                    partial_update=extend_schema(request=AdminUserUpdateSerializer))
class UserViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    viewsets.GenericViewSet[User],
):
    """Accounts and their system roles (system admins only). Users are deactivated, not deleted,
    so their audit history keeps its meaning."""

    queryset = User.objects.all().prefetch_related("external_identities__provider").order_by("pk")
    serializer_class = AdminUserSerializer
    filterset_class = UserFilterSet
    permission_classes = [IsSystemAdmin]
    # Keyset paging with the console's sortable columns (each ends in the unique id).
    pagination_class = KeysetPagination
    orderings: ClassVar[dict[str, tuple[str, ...]]] = {
        "id": ("id",),
        "username": ("username", "id"),
        "role": ("role", "username", "id"),
        "is_active": ("is_active", "username", "id"),
        "date_joined": ("date_joined", "id"),
        "last_login": ("last_login", "id"),
    }
    nullable_ordering_fields = ("last_login",)
    default_ordering = "-id"  # newest first, as before

    def paginate_queryset(self, queryset: Any) -> Sequence[User] | None:
        page = super().paginate_queryset(queryset)
        if page is not None:  # one Redis round trip for the page's lockouts, not one per row
            self.lockouts = ratelimit.account_lockouts(user.username for user in page)
        return page

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if hasattr(self, "lockouts"):
            context["lockouts"] = self.lockouts
        return context

    def perform_create(self, serializer: AdminUserSerializer) -> None:  # type: ignore[override]
        serializer.instance = actions.create_user(data=dict(serializer.validated_data), request=self.request._request)

    def perform_update(self, serializer: AdminUserSerializer) -> None:  # type: ignore[override]
        assert isinstance(serializer.instance, User)
        try:
            serializer.instance = actions.update_user(
                user=serializer.instance, changes=dict(serializer.validated_data), request=self.request._request
            )
        except actions.LastAdminError as exc:
            raise Conflict(str(exc)) from exc

    @extend_schema(request=SetPasswordSerializer, responses={204: None})
    @action(detail=True, methods=["post"], url_path="set-password")
    def set_password(self, request: Request, pk: str | None = None) -> Response:
        user = self.get_object()
        serializer = SetPasswordSerializer(data=request.data, context={"user": user})
        serializer.is_valid(raise_exception=True)
        actions.set_user_password(user=user, password=serializer.validated_data["password"], request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: AdminUserSerializer})
    @action(detail=True, methods=["post"])
    def unlock(self, request: Request, pk: str | None = None) -> Response:
        """Lift the account's login lockout (after too many failed logins) and forget its failures."""
        user = self.get_object()
        actions.unlock_login(user=user, request=request._request)
        return Response(AdminUserSerializer(user, context={**self.get_serializer_context(), "lockouts": {}}).data)

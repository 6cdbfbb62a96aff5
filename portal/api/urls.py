"""URL routes of the portal core API (under /api/)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from portal.api import views

router = SimpleRouter()
router.register("auth/tokens", views.ApiTokenViewSet, basename="apitoken")
router.register("audit", views.AuditRecordViewSet, basename="auditrecord")
router.register("users", views.UserViewSet, basename="user")

urlpatterns = [
    path("auth/csrf/", views.CsrfView.as_view(), name="auth-csrf"),
    path("auth/login/", views.LoginView.as_view(), name="auth-login"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/me/", views.MeView.as_view(), name="auth-me"),
    path("auth/password/", views.ChangePasswordView.as_view(), name="auth-password"),
    path("", include("portal.api.tableviews")),  # /api/account/table-views/…
    path("", include("portal.api.admin_settings")),  # /api/admin/settings/
    path("", include(router.urls)),
]

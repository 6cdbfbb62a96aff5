"""API routes of single sign-on, mounted at /api/: admin routes under identity/, sign-in routes
under auth/ beside the local login (docs/sso.md). Each provider kind adds its views here."""

from django.urls import URLPattern, URLResolver, include, path
from rest_framework.routers import SimpleRouter

from identity.api import ldap_views, oidc_views, views

router = SimpleRouter()
router.register("identity/providers", views.ProviderViewSet, basename="identity-provider")
router.register("identity/mappings", views.MappingViewSet, basename="identity-mapping")
router.register("identity/identities", views.IdentityViewSet, basename="identity-link")

urlpatterns: list[URLPattern | URLResolver] = [
    path("auth/providers/", views.PublicProviderListView.as_view(), name="auth-providers"),
    path("", include(router.urls)),
    path("auth/oidc/", include(oidc_views.urlpatterns)),
    path("auth/ldap/", include(ldap_views.urlpatterns)),
    # OIDC (identity/api/oidc_views.py) and LDAP (identity/api/ldap_views.py) add their routes here.
]

"""API routes of single sign-on, mounted at /api/: admin routes under identity/, sign-in routes
under auth/ beside the local login (docs/sso.md). Each provider kind adds its views here."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = [
    # OIDC (identity/api/oidc_views.py) and LDAP (identity/api/ldap_views.py) add their routes here.
]

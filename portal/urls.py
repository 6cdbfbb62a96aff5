"""Top-level URLs: health, the API (one include per app), its schema and docs, then the SPA."""

from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from portal import csp, health, metrics, spa

api_patterns: list[URLPattern | URLResolver] = [
    path("", include("portal.api.urls")),
    path("clusters/", include("clusters.api.urls")),
    path("workspaces/", include("workspaces.api.urls")),
    path("catalog/", include("catalog.api.urls")),
    path("builds/", include("builds.api.urls")),
    path("monitoring/", include("monitoring.api.urls")),
    path("", include("identity.api.urls")),  # /api/identity/… (admin) and /api/auth/… (sign-in)
    path("activity/", include("activity.api.urls")),
    path("dashboard/", include("dashboards.api.urls")),
    path("provisioning/", include("provisioning.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", csp.ApiDocsView.as_view(url_name="schema"), name="swagger-ui"),
    re_path(r"^.*$", spa.api_not_found),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),  # Prometheus text, admins or the scrape token
    path("api/", include(api_patterns)),
    re_path(r"^(?!static/|ws/).*$", spa.index, name="spa"),
]

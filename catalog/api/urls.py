"""API routes of catalog, mounted at /api/catalog/ (see docs/catalog-api.md)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from catalog.api import config_views, intent_views, move_views, release_views, views

router = SimpleRouter()
# Sources, packages and versions
router.register("sources", views.SourceViewSet, basename="catalog-source")
router.register("packages", views.PackageViewSet, basename="catalog-package")
router.register("versions", views.VersionViewSet, basename="catalog-version")
# Releases and rollouts
router.register("releases", release_views.ReleaseViewSet, basename="catalog-release")
router.register("rollouts", release_views.RolloutViewSet, basename="catalog-rollout")
# Moving a service map to another cluster (docs/moves.md)
router.register("moves", move_views.MoveViewSet, basename="catalog-move")

urlpatterns = [
    # Repository webhooks: no session, the token is the credential.
    path("hooks/<str:token>/", views.HookView.as_view(), name="catalog-hook"),
    # ConfigMaps, Secrets and autoscalers of a service map
    path("configs/<int:servicemap_id>/", config_views.ConfigListView.as_view(), name="catalog-config-list"),
    path("configs/<int:servicemap_id>/<str:kind>/<str:name>/", config_views.ConfigDetailView.as_view(),
         name="catalog-config-detail"),
    path("configs/<int:servicemap_id>/<str:kind>/<str:name>/versions/", config_views.ConfigVersionsView.as_view(),
         name="catalog-config-versions"),
    path("servicemaps/<int:servicemap_id>/package/", config_views.SaveServiceMapView.as_view(),
         name="catalog-save-servicemap"),
    path("autoscalers/<int:servicemap_id>/<str:kind>/<str:name>/", config_views.AutoscalerView.as_view(),
         name="catalog-autoscaler"),
    # What a change, a plan or a drift check answered 202 with: its status and result
    path("intents/<int:intent_id>/", intent_views.IntentView.as_view(), name="catalog-intent"),
    *router.urls,
]

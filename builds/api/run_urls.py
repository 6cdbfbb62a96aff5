"""Routes of builds' definition and run API (see builds/api/urls.py): language presets, build
definitions (builds.api.definitions) and runs (builds.api.runs)."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from builds.api import definitions, runs

router = SimpleRouter()
router.register("definitions", definitions.DefinitionViewSet, basename="builds-definition")
router.register("runs", runs.RunViewSet, basename="builds-run")

urlpatterns: list[URLPattern | URLResolver] = [
    path("presets/", definitions.PresetsView.as_view(), name="builds-presets"),
    *router.urls,
]

"""Routes of builds' registry API (see builds/api/urls.py): /api/builds/registries/…"""

from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from builds.api import registries

router = SimpleRouter()
router.register("registries", registries.RegistryViewSet, basename="builds-registry")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]

"""API routes of workspaces, mounted at /api/workspaces/ (see docs/workspaces-api.md)."""

from rest_framework.routers import SimpleRouter

from workspaces.api import views

WORKSPACE = r"(?P<workspace_id>[0-9]+)"

router = SimpleRouter()
router.register("roles", views.RoleViewSet, basename="workspace-role")
router.register("servicemaps", views.AllServiceMapsViewSet, basename="servicemap-all")
router.register(f"{WORKSPACE}/members", views.MemberViewSet, basename="workspace-member")
router.register(f"{WORKSPACE}/allocations", views.AllocationViewSet, basename="workspace-allocation")
router.register(f"{WORKSPACE}/registries", views.RegistryViewSet, basename="workspace-registry")
router.register(f"{WORKSPACE}/servicemaps", views.ServiceMapViewSet, basename="workspace-servicemap")
router.register("", views.WorkspaceViewSet, basename="workspace")

urlpatterns = router.urls

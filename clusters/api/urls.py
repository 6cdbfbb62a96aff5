"""API routes of clusters, mounted at /api/clusters/ (see docs/clusters-api.md).

A SimpleRouter (no API root view): the cluster list itself lives at the prefix. Inventory kinds
nest under ``<cluster_id>/``; the pod detail is keyed by namespace and name.
"""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from clusters.api import logs, objects, resources, views, workload_actions

CLUSTER = r"(?P<cluster_id>[0-9]+)"

router = SimpleRouter()
router.register("search", views.SearchViewSet, basename="cluster-search")
router.register(f"{CLUSTER}/nodes", views.NodeViewSet, basename="cluster-node")
router.register(f"{CLUSTER}/namespaces", views.NamespaceViewSet, basename="cluster-namespace")
router.register(f"{CLUSTER}/workloads", views.WorkloadViewSet, basename="cluster-workload")
router.register(f"{CLUSTER}/pods/(?P<namespace>[^/]+)", views.PodDetailViewSet, basename="cluster-pod-detail")
router.register(f"{CLUSTER}/pods", views.PodViewSet, basename="cluster-pod")
router.register(f"{CLUSTER}/services", views.ServiceViewSet, basename="cluster-service")
router.register(f"{CLUSTER}/ingresses", views.IngressViewSet, basename="cluster-ingress")
router.register(f"{CLUSTER}/volumes", views.VolumeViewSet, basename="cluster-volume")
router.register(f"{CLUSTER}/claims", views.ClaimViewSet, basename="cluster-claim")
router.register(f"{CLUSTER}/storageclasses", views.StorageClassViewSet, basename="cluster-storageclass")
router.register(f"{CLUSTER}/quotas", views.QuotaViewSet, basename="cluster-quota")
router.register(f"{CLUSTER}/hpas", views.HorizontalPodAutoscalerViewSet, basename="cluster-hpa")
router.register(f"{CLUSTER}/events", views.EventViewSet, basename="cluster-event")
router.register(f"{CLUSTER}/operations", views.NodeOperationViewSet, basename="cluster-operation")
router.register("", views.ClusterViewSet, basename="cluster")

GVR = r"(?P<group>[a-z0-9][-a-z0-9.]*)/(?P<version>[a-z0-9]+)/(?P<plural>[a-z0-9][-a-z0-9.]*)"

urlpatterns = [
    # the generic resource browser (clusters/api/resources.py)
    re_path(rf"^{CLUSTER}/resources/$", resources.ResourceKindsView.as_view(), name="cluster-resource-kinds"),
    re_path(rf"^{CLUSTER}/resources/{GVR}/$", resources.ResourceListView.as_view(), name="cluster-resource-list"),
    re_path(rf"^{CLUSTER}/resources/{GVR}/(?P<name>[^/]+)/$", resources.ResourceDetailView.as_view(),
            name="cluster-resource-detail"),
    # workload actions and what an object owns (clusters/api/workload_actions.py)
    *[re_path(rf"^{CLUSTER}/objects/{GVR}/(?P<name>[^/]+)/{verb}/$", view.as_view(), name=f"cluster-object-{verb}")
      for verb, view in (("scale", workload_actions.ScaleView), ("restart", workload_actions.RestartView),
                         ("pause", workload_actions.PauseView), ("resume", workload_actions.ResumeView),
                         ("rollback", workload_actions.RollbackView), ("delete", workload_actions.DeleteView),
                         ("revisions", workload_actions.RevisionsView),
                         ("dependents", workload_actions.DependentsView))],
    # editing and creating objects from YAML, and the actions that carry them out (clusters/api/objects.py)
    re_path(r"^actions/(?P<pk>[0-9]+)/$", objects.ObjectActionDetailView.as_view(), name="cluster-action-detail"),
    re_path(rf"^{CLUSTER}/actions/$", objects.ObjectActionListView.as_view(), name="cluster-action-list"),
    re_path(rf"^{CLUSTER}/objects/preview/$", objects.CreatePreviewView.as_view(), name="cluster-objects-preview"),
    re_path(rf"^{CLUSTER}/objects/create/$", objects.CreateView.as_view(), name="cluster-objects-create"),
    re_path(rf"^{CLUSTER}/objects/{GVR}/(?P<name>[^/]+)/$", objects.ObjectView.as_view(), name="cluster-object"),
    re_path(rf"^{CLUSTER}/objects/{GVR}/(?P<name>[^/]+)/preview/$", objects.ObjectPreviewView.as_view(),
            name="cluster-object-preview"),
    re_path(rf"^{CLUSTER}/objects/{GVR}/(?P<name>[^/]+)/apply/$", objects.ObjectApplyView.as_view(),
            name="cluster-object-apply"),
    # the recent log of a pod's container (clusters/api/logs.py)
    re_path(rf"^{CLUSTER}/pods/(?P<namespace>[^/]+)/(?P<name>[^/]+)/log/$", logs.PodLogView.as_view(),
            name="cluster-pod-log"),
    *router.urls,
]

"""Routes of builds' webhook, scan policy, scan and deploy-image API (see builds/api/urls.py)."""

from django.urls import URLPattern, URLResolver, path

from builds.api import policy, webhooks

urlpatterns: list[URLPattern | URLResolver] = [
    # Git webhooks: no session, the signature over the body is the credential.
    path("webhooks/<int:definition_id>/", webhooks.WebhookView.as_view(), name="builds-webhook"),
    path("scan-policies/<int:workspace_id>/", policy.ScanPolicyView.as_view(), name="builds-scan-policy"),
    path("scan-policies/<int:workspace_id>/exceptions/", policy.ScanExceptionsView.as_view(),
         name="builds-scan-exceptions"),
    path("scan-policies/<int:workspace_id>/exceptions/<int:pk>/", policy.ScanExceptionView.as_view(),
         name="builds-scan-exception"),
    path("scans/", policy.ScanView.as_view(), name="builds-scan"),
    path("deploy-image/", policy.DeployImageView.as_view(), name="builds-deploy-image"),
]

"""API routes of the activity timeline, mounted at /api/activity/."""

from django.urls import path, re_path

from activity.api import views

urlpatterns = [
    path("", views.TimelineView.as_view(), name="activity-timeline"),
    re_path(r"^diff/(?P<entry_id>[^/]{1,40})/$", views.DiffView.as_view(), name="activity-diff"),
]

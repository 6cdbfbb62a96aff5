"""App config for activity: registers the watcher listener that records changes made outside
the portal (clusters.watcher.hooks; the clusters app never imports this one)."""

from django.apps import AppConfig


class ActivityConfig(AppConfig):
    name = "activity"
    verbose_name = "Activity timeline"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from activity import recorder

        recorder.install()

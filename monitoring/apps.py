"""App config for monitoring."""

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from monitoring import access

        access.install()
        # The Celery tasks of each part (issue 14); Celery's autodiscovery imports only tasks.py.
        from monitoring import tasks_alerts, tasks_housekeeping, tasks_metrics, tasks_notify  # noqa: F401

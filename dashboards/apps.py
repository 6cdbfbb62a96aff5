"""App config for dashboards: the role dashboards (``GET /api/dashboard/``, docs/dashboards.md)."""

from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "dashboards"
    verbose_name = "Dashboards"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dashboards import heartbeat

        heartbeat.install()  # worker processes beat into Redis (the admin's portal health tile)

"""App config for the portal core (users, tokens, audit, health, WebSocket base)."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from portal import groups, schema  # noqa: F401 - registers OpenAPI extensions

        groups.register()
        # Task durations and failures for /metrics, reported to Redis by every worker (docs/observability.md).
        from portal import metrics

        metrics.install_task_signals()

"""App config for monitoring."""

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def seed_builtin_rules(sender: Any, *, using: str = "default", apps: Any = None, **kwargs: Any) -> None:
    """The built-in alert rules after every ``migrate`` and every flush (both send ``post_migrate``),
    so no read has to write them."""
    try:
        if apps is not None:
            apps.get_model("monitoring", "AlertRule")
    except LookupError:  # migrated back to before the rules existed
        return
    if using != "default":
        return
    from monitoring import alert_actions

    alert_actions.ensure_builtin_rules()


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from monitoring import access, event_records

        access.install()
        post_migrate.connect(seed_builtin_rules, sender=self, dispatch_uid="monitoring.seed_builtin_rules")
        event_records.install()  # cluster events kept past their TTL (watcher listener)
        # The Celery tasks of each part (issue 14); Celery's autodiscovery imports only tasks.py.
        from monitoring import tasks_alerts, tasks_housekeeping, tasks_metrics, tasks_notify  # noqa: F401

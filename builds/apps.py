"""App config for builds: registers the socket groups of build runs."""

from django.apps import AppConfig


class BuildsConfig(AppConfig):
    name = "builds"
    verbose_name = "Builds"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from builds import access

        access.install()
        # DEPLOY: the scan policy gate and pull secrets in the catalog's release path; the pull-secret tasks
        from builds import deploy_step, tasks_pull  # noqa: F401 - tasks_pull registers its Celery tasks

        deploy_step.install()
        # REGISTRY: the registry check task (builds.check_registry)
        from builds import tasks_registry  # noqa: F401 - registers its Celery task

"""App config for catalog."""

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from catalog import (  # noqa: F401 - registers the release, rollout and move tasks
            deploy,
            tasks_deploy,
            tasks_move,
        )

        deploy.install_watch_hook()  # the watcher tells when a release's workloads move

        from catalog import access
        from clusters import owners

        # the object views name the release that owns an object, when the caller may view it
        owners.set_release_resolver(access.release_owner)

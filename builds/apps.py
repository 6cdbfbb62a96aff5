"""App config for builds: registers the socket groups of build runs."""

from django.apps import AppConfig


class BuildsConfig(AppConfig):
    name = "builds"
    verbose_name = "Builds"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from builds import access

        access.install()

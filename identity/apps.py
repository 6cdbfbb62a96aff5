"""App config for identity: registers its access classes (admins manage providers and mappings)."""

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Single sign-on"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from identity import access  # noqa: F401 - registers the access classes

"""App config for provisioning: clusters created, grown, upgraded and retired through Cluster API
on a registered management cluster (docs/provisioning.md)."""

from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from provisioning import access

        access.install()

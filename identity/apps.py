"""App config for identity: registers its access classes (admins manage providers and mappings)
and the account check that stops API tokens and sessions of users whose provider is gone."""

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Single sign-on"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from identity import access, actions  # noqa: F401 - access registers the access classes
        from portal import authentication

        authentication.register_account_check(actions.account_problem)
        from identity import oidc
        from portal import actions as portal_actions

        portal_actions.register_logout_offer(oidc.logout_offer)

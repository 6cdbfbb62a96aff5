"""Celery tasks of single sign-on: the periodic re-evaluation of LDAP groups.

OIDC groups are read at every sign-in only (the provider is not asked between sign-ins); an LDAP
directory can be asked at any time with the service account, so the beat re-reads the groups of
everyone who signed in through an enabled LDAP provider and applies them
(:func:`identity.actions.reevaluate`): removing someone from a group in the directory removes
their access within one period, sockets re-checked, audited. The beat task fans out one task per
provider (by id); a directory that cannot be asked changes nothing for its users (an outage must
not take access away) and is tried again at the next period.
"""

from __future__ import annotations

import logging

from celery import shared_task

from identity import actions, ldap
from identity.models import ExternalIdentity, IdentityProvider, ProviderKind
from portal import enqueue
from portal.errors import PortalError

logger = logging.getLogger(__name__)


@shared_task(name="identity.recheck_ldap_groups", ignore_result=True)
def recheck_ldap_groups() -> int:
    """Periodic (beat): one re-evaluation task per enabled LDAP provider. Returns how many."""
    ids = list(IdentityProvider.objects.filter(kind=ProviderKind.LDAP, enabled=True).values_list("pk", flat=True))
    for provider_id in ids:
        enqueue.send("identity.recheck_ldap_provider", provider_id)
    return len(ids)


@shared_task(name="identity.recheck_ldap_provider", ignore_result=True, acks_late=True)
def recheck_ldap_provider(provider_id: int) -> dict[str, int]:
    """Re-read and apply the groups of every identity at one LDAP provider. Converges when run
    twice (the second run finds nothing to change)."""
    return recheck_provider(provider_id)


def recheck_provider(provider_id: int) -> dict[str, int]:
    provider = IdentityProvider.objects.filter(pk=provider_id, kind=ProviderKind.LDAP, enabled=True).first()
    outcome = {"checked": 0, "changed": 0}
    if provider is None:
        return outcome
    for identity in ExternalIdentity.objects.filter(provider=provider).select_related("provider").order_by("pk"):
        try:
            groups = ldap.refresh_groups(identity)
        except PortalError as exc:  # the directory cannot answer: nothing is taken away; next period
            logger.warning("LDAP group re-evaluation stopped", extra={
                "provider": provider.name, "code": exc.code, "checked": outcome["checked"]})
            break
        changes = actions.reevaluate(identity, groups)
        outcome["checked"] += 1
        outcome["changed"] += int(changes.any)
    return outcome

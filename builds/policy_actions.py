"""Writes of the scan policy: a workspace's "block deploy at or above a severity", "require a scan",
and the named exceptions that expire. Each write checks the grant (:mod:`builds.access`: admins
and the workspace's managers), audits, and publishes ``scanpolicy.updated`` to the workspace after
commit, so an open console sees a policy change at once.

The rule itself is :mod:`builds.policy`; the gate that applies it to every deploy is
:mod:`builds.deploy_step`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from builds import access
from builds.models import ScanException, ScanPolicy, Severity
from portal import audit
from portal.errors import Conflict, Invalid, NotFound
from portal.events import publish
from portal.models import AuditOutcome
from workspaces.models import Workspace

VULNERABILITY = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_.:][A-Za-z0-9]+)+$")  # CVE-2024-1234, GHSA-xxxx-…
MAX_EXCEPTION_DAYS = 366  # an exception is a decision to revisit: at most a year


def _audit(request: HttpRequest | None, user: Any, *, action: str, target: Any, detail: dict[str, Any]) -> None:
    if request is not None:
        audit.describe(request, action=action, target=target, detail=detail)
    else:
        audit.record(action=action, outcome=AuditOutcome.SUCCESS, actor=user, target=target, detail=detail)


def _publish(workspace_id: int) -> None:
    publish(f"workspace.{workspace_id}", "scanpolicy.updated", {"workspace": workspace_id})  # after commit


def policy_of(workspace: Workspace) -> ScanPolicy:
    """The workspace's policy row, or an unsaved "off" one (reading creates nothing)."""
    return ScanPolicy.objects.filter(workspace=workspace).first() or ScanPolicy(workspace=workspace)


def _field(name: str, message: str, code: str = "invalid") -> Invalid:
    return Invalid(f"Invalid input: {name}: {message}", code=code, errors={name: [message]})


def set_policy(*, workspace: Workspace, block_severity: str, require_scan: bool, user: Any,
               request: HttpRequest | None) -> ScanPolicy:
    access.require_change_policy(user, workspace)
    if block_severity not in ("", *Severity.values):
        raise _field("block_severity", f"Choose one of {', '.join(Severity.values)}, or empty to never block.")
    with transaction.atomic():
        policy, _ = ScanPolicy.objects.select_for_update().get_or_create(workspace=workspace)
        before = {"block_severity": policy.block_severity, "require_scan": policy.require_scan}
        policy.block_severity, policy.require_scan = block_severity, bool(require_scan)
        policy.updated_by = user if getattr(user, "is_authenticated", False) else None
        policy.save()
        _audit(request, user, action="builds.scan_policy.set", target=workspace,
               detail={"before": before, "after": {"block_severity": block_severity, "require_scan": require_scan}})
        _publish(workspace.pk)
    return policy


def add_exception(*, workspace: Workspace, vulnerability: str, reason: str, expires: datetime, user: Any,
                  request: HttpRequest | None) -> ScanException:
    """A named exception: findings with this id do not block until ``expires``."""
    access.require_change_policy(user, workspace)
    vulnerability = vulnerability.strip()
    if not VULNERABILITY.match(vulnerability) or len(vulnerability) > 64:
        raise _field("vulnerability", "Give the finding's id as the scanner names it (CVE-2024-1234, GHSA-…).")
    if not reason.strip():
        raise _field("reason", "Say why the finding is accepted (who decided, until what fix).")
    now = timezone.now()
    if expires <= now:
        raise _field("expires", "The exception must expire in the future.", code="exception_expired")
    if expires > now + timedelta(days=MAX_EXCEPTION_DAYS):
        raise _field("expires", f"An exception lasts at most {MAX_EXCEPTION_DAYS} days; renew it when it expires.",
                     code="exception_too_long")
    try:
        with transaction.atomic():
            policy, _ = ScanPolicy.objects.get_or_create(workspace=workspace)
            exception = ScanException.objects.create(
                policy=policy, vulnerability=vulnerability, reason=reason.strip(), expires=expires,
                created_by=user if getattr(user, "is_authenticated", False) else None)
            _audit(request, user, action="builds.scan_exception.add", target=workspace,
                   detail={"vulnerability": vulnerability, "expires": expires.isoformat()})
            _publish(workspace.pk)
    except IntegrityError as exc:
        raise Conflict(f"{vulnerability} has an exception in workspace {workspace.name} already; remove it first "
                       "to change it.", code="exception_exists", params={"vulnerability": vulnerability}) from exc
    return exception


def remove_exception(*, workspace: Workspace, exception_id: int, user: Any, request: HttpRequest | None) -> None:
    access.require_change_policy(user, workspace)
    with transaction.atomic():
        exception = ScanException.objects.select_for_update().filter(
            pk=exception_id, policy__workspace=workspace).first()
        if exception is None:
            raise NotFound("No such exception in this workspace's scan policy.", code="exception_not_found")
        vulnerability = exception.vulnerability
        exception.delete()
        _audit(request, user, action="builds.scan_exception.remove", target=workspace,
               detail={"vulnerability": vulnerability})
        _publish(workspace.pk)

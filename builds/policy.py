"""The scan policy as a rule: which findings of an image's scan block its deploy.

A workspace's :class:`~builds.models.ScanPolicy` blocks a deploy of an image whose scan has a
finding at or above ``block_severity``, except findings named by an exception that has not
expired; with ``require_scan`` an image with no scan is blocked too. Pure: callers pass the scan,
the policy and the exceptions (:mod:`builds.deploy_step` reads them for the catalog's image gate),
so the same rule answers the deploy step, every manual deploy and the console's "would it pass".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from builds.models import SEVERITY_ORDER

BLOCKED_CODE = "image_blocked_by_scan"
NOT_SCANNED = "not_scanned"
SHOWN_FINDINGS = 5  # ids named in a refusal; the scan page lists them all


@dataclass(frozen=True)
class Rule:
    """A policy as the rule needs it: ``block_severity`` ("" = never block on findings),
    ``require_scan``, and the exceptions as ``{vulnerability id: expires}``."""

    block_severity: str = ""
    require_scan: bool = False
    exceptions: Mapping[str, datetime] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.block_severity) or self.require_scan


OFF = Rule()


def rule(policy: Any, exceptions: Iterable[Any] = ()) -> Rule:
    """The :class:`Rule` of a ``ScanPolicy`` row (or ``None``: no policy) and its exception rows."""
    if policy is None:
        return OFF
    return Rule(block_severity=policy.block_severity or "", require_scan=bool(policy.require_scan),
                exceptions={e.vulnerability.upper(): e.expires for e in exceptions})


def excepted(rule_: Rule, vulnerability: str, now: datetime) -> bool:
    expires = rule_.exceptions.get(vulnerability.upper())
    return expires is not None and expires > now


def blocking(findings: Sequence[Mapping[str, Any]], rule_: Rule, now: datetime) -> list[dict[str, Any]]:
    """The findings that block: at or above the policy's severity, not excepted at ``now``."""
    if not rule_.block_severity:
        return []
    floor = SEVERITY_ORDER.get(rule_.block_severity.upper(), 0)
    out = []
    for finding in findings:
        severity = str(finding.get("severity") or "UNKNOWN").upper()
        vulnerability = str(finding.get("id") or "")
        if SEVERITY_ORDER.get(severity, 0) >= floor and not excepted(rule_, vulnerability, now):
            out.append(dict(finding))
    return out


@dataclass(frozen=True)
class Verdict:
    """Whether an image may be deployed; ``reason`` is ``""`` (allowed), ``not_scanned`` or
    ``findings`` (with the blocking ``findings``)."""

    allowed: bool
    reason: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)


def evaluate(findings: Sequence[Mapping[str, Any]] | None, rule_: Rule, now: datetime) -> Verdict:
    """The verdict for an image whose scan has ``findings`` (``None``: the image was never scanned)."""
    if findings is None:
        return Verdict(allowed=not rule_.require_scan, reason=NOT_SCANNED if rule_.require_scan else "")
    found = blocking(findings, rule_, now)
    return Verdict(allowed=not found, reason="findings" if found else "", findings=found)


def describe(image: str, verdict: Verdict, workspace: str) -> str:
    """One sentence naming why ``image`` is refused (the error's ``errors.images`` entries)."""
    if verdict.reason == NOT_SCANNED:
        return (f"{image} has no scan, and the scan policy of workspace {workspace} requires one: build it with "
                "the scan step, or deploy an image that was scanned.")
    ids = [f"{f.get('id')} ({f.get('severity')}, {f.get('package')} {f.get('version')}"
           + (f", fixed in {f['fixed_version']})" if f.get("fixed_version") else ")")
           for f in verdict.findings[:SHOWN_FINDINGS]]
    more = len(verdict.findings) - len(ids)
    return (f"{image} is blocked by the scan policy of workspace {workspace}: {', '.join(ids)}"
            + (f" and {more} more" if more > 0 else "")
            + ". Deploy a fixed image, or ask a workspace manager for a named exception.")

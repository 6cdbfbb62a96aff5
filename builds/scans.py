"""Trivy's JSON report (``trivy image --format json``) read into what the portal keeps per image
digest: counts by severity and the findings, worst first. Pure, and bounded: the report is the scan
pod's log, written by whatever ran in the cluster, so its size, depth and the number of findings
kept are capped, and anything that is not the expected shape is skipped rather than trusted.

A report that is not JSON at all (the log holds Trivy's ``FATAL`` words instead) is a
:class:`ReportInvalid`, whose message carries the report's last words for the step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from builds.models import SEVERITY_ORDER

MAX_REPORT_BYTES = 8 * 1024 * 1024
MAX_FINDINGS = 1000
MAX_TEXT = 300
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")


class ReportInvalid(ValueError):
    """The scan's output is not a Trivy JSON report."""


@dataclass
class ScanResult:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))
    findings: list[dict[str, str]] = field(default_factory=list)
    truncated: bool = False  # more findings than kept (the counts still count them all)


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _severity(value: Any) -> str:
    text = str(value or "").upper()
    return text if text in SEVERITY_ORDER else "UNKNOWN"


def _report_json(text: str) -> Any:
    """The JSON object in ``text``: the whole text, or from its first ``{`` (a line of Trivy's
    own logging may come before it)."""
    if len(text.encode()) > MAX_REPORT_BYTES:
        raise ReportInvalid(f"The scan report is larger than {MAX_REPORT_BYTES} bytes.")
    for candidate in (text, text[text.find("{"):] if "{" in text else ""):
        if not candidate.strip():
            continue
        try:
            return json.loads(candidate)
        except (ValueError, RecursionError):
            continue
    last = [line for line in text.strip().splitlines() if line.strip()][-1:] or ["(no output)"]
    raise ReportInvalid(f"The scanner gave no report: {last[0][:MAX_TEXT]}")


def parse_report(text: str) -> ScanResult:
    """Counts by severity and the findings (id, package, version, fixed_version, severity, title),
    worst first, then by id and package; the same vulnerability of one package in one version is
    counted once even if several targets list it."""
    doc = _report_json(text)
    if not isinstance(doc, dict):
        raise ReportInvalid("The scan report is not a JSON object.")
    results = doc.get("Results")
    result = ScanResult()
    seen: set[tuple[str, str, str]] = set()
    found: list[dict[str, str]] = []
    for target in results if isinstance(results, list) else []:
        vulnerabilities = target.get("Vulnerabilities") if isinstance(target, dict) else None
        for vuln in vulnerabilities if isinstance(vulnerabilities, list) else []:
            if not isinstance(vuln, dict):
                continue
            finding = {
                "id": _text(vuln.get("VulnerabilityID"), 64), "package": _text(vuln.get("PkgName")),
                "version": _text(vuln.get("InstalledVersion")), "fixed_version": _text(vuln.get("FixedVersion")),
                "severity": _severity(vuln.get("Severity")), "title": _text(vuln.get("Title")),
            }
            if not finding["id"]:
                continue
            key = (finding["id"], finding["package"], finding["version"])
            if key in seen:
                continue
            seen.add(key)
            result.counts[finding["severity"]] += 1
            found.append(finding)
    found.sort(key=lambda f: (-SEVERITY_ORDER[f["severity"]], f["id"], f["package"], f["version"]))
    result.findings = found[:MAX_FINDINGS]
    result.truncated = len(found) > MAX_FINDINGS
    return result

"""Trivy's JSON report read into counts and findings (builds.scans): worst first, deduplicated,
bounded, and a log that is no report refused with the scanner's last words."""

from __future__ import annotations

import json

import pytest

from builds import scans


def _report(*vulns: dict[str, str], targets: int = 1) -> str:
    return json.dumps({"SchemaVersion": 2, "ArtifactName": "h/r@sha256:x", "ArtifactType": "container_image",
                       "Results": [{"Target": f"t{i}", "Class": "os-pkgs", "Type": "alpine",
                                    "Vulnerabilities": list(vulns)} for i in range(targets)]})


def _vuln(vid: str, severity: str, pkg: str = "openssl", fixed: str = "") -> dict[str, str]:
    return {"VulnerabilityID": vid, "PkgName": pkg, "InstalledVersion": "3.0.1", "FixedVersion": fixed,
            "Severity": severity, "Title": f"{vid} in {pkg}"}


def test_counts_by_severity_and_findings_worst_first() -> None:
    result = scans.parse_report(_report(_vuln("CVE-2024-0002", "LOW", "zlib"), _vuln("CVE-2024-0001", "CRITICAL",
                                        fixed="3.0.13"), _vuln("CVE-2024-0003", "weird"), targets=2))
    assert result.counts == {"CRITICAL": 1, "HIGH": 0, "MEDIUM": 0, "LOW": 1, "UNKNOWN": 1}
    assert [f["id"] for f in result.findings] == ["CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003"]
    assert result.findings[0] == {"id": "CVE-2024-0001", "package": "openssl", "version": "3.0.1",
                                  "fixed_version": "3.0.13", "severity": "CRITICAL",
                                  "title": "CVE-2024-0001 in openssl"}


def test_no_vulnerabilities_and_a_log_line_before_the_json() -> None:
    text = "2024-01-01T00:00:00Z\tINFO\tDetected OS\n" + json.dumps({"SchemaVersion": 2, "Results": [
        {"Target": "x", "Class": "os-pkgs"}]})
    result = scans.parse_report(text)
    assert result.findings == []
    assert sum(result.counts.values()) == 0


def test_findings_are_bounded_but_all_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scans, "MAX_FINDINGS", 3)
    result = scans.parse_report(_report(*[_vuln(f"CVE-2024-{i:04}", "HIGH") for i in range(5)]))
    assert len(result.findings) == 3
    assert result.truncated
    assert result.counts["HIGH"] == 5


def test_a_fatal_error_is_no_report() -> None:
    with pytest.raises(scans.ReportInvalid, match="image scan error: unable to find"):
        scans.parse_report("2024-01-01T00:00:00Z\tFATAL\tFatal error\timage scan error: unable to find the image\n")
    with pytest.raises(scans.ReportInvalid):
        scans.parse_report("[1, 2]")

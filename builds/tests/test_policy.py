"""The scan policy API and rule (docs/image-policy.md "Scan policy"): members read their workspace's
policy, managers and admins change it and its named exceptions (audited), every bad input is a 400
naming the field, outsiders get 404; the rule blocks findings at or above the severity unless an
unexpired exception names them; scans are read by whoever sees the repository."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from builds import deploy_step, policy
from builds.models import BuildRun, ImageScan, RunStatus, ScanException, ScanPolicy
from builds.tests.definition_helpers import REGISTRY_HOST, World, api_for, make_world, member
from builds.tests.runner_helpers import offline_definition
from portal.models import AuditRecord

pytestmark = pytest.mark.django_db

CRITICAL = {"id": "CVE-2024-0001", "severity": "CRITICAL", "package": "openssl", "version": "3.0.1",
            "fixed_version": "3.0.13", "title": ""}
HIGH = {"id": "GHSA-aaaa-bbbb-cccc", "severity": "HIGH", "package": "lodash", "version": "4.17.20",
        "fixed_version": "4.17.21", "title": ""}
LOW = {"id": "CVE-2024-0002", "severity": "LOW", "package": "zlib", "version": "1.2.13", "fixed_version": "",
       "title": ""}


@pytest.fixture
def world() -> World:
    return make_world()


def _url(world: World, tail: str = "") -> str:
    return f"/api/builds/scan-policies/{world.workspace.pk}/{tail}"


def _later(**delta: Any) -> str:
    return (timezone.now() + timedelta(**delta)).isoformat()


def test_members_read_managers_change(world: World) -> None:
    viewer, manager = api_for(world.viewer), api_for(world.manager)
    read = viewer.get(_url(world))
    assert read.status_code == 200, read.content
    assert read.json() | {"workspace": None} == {
        "workspace": None, "block_severity": "", "require_scan": False, "exceptions": [], "updated": None,
        "permissions": {"change": False}}
    assert manager.get(_url(world)).json()["permissions"] == {"change": True}
    assert viewer.put(_url(world), {"block_severity": "HIGH"}, format="json").status_code == 403
    assert api_for(world.developer).put(_url(world), {"block_severity": "HIGH"}, format="json").status_code == 403
    changed = manager.put(_url(world), {"block_severity": "HIGH", "require_scan": True}, format="json")
    assert changed.status_code == 200, changed.content
    assert (changed.json()["block_severity"], changed.json()["require_scan"]) == ("HIGH", True)
    assert AuditRecord.objects.filter(action="builds.scan_policy.set", outcome="success").exists()
    bad = manager.put(_url(world), {"block_severity": "SEVERE"}, format="json")
    assert bad.status_code == 400
    assert "block_severity" in bad.json()["errors"]
    unknown = manager.put(_url(world), {"block_severity": "", "blocks": True}, format="json")
    assert unknown.status_code == 400
    assert "blocks" in unknown.json()["errors"]
    outsider = api_for(member(world.other_map.workspace, "manager"))
    assert outsider.get(_url(world)).status_code == 404
    assert outsider.put(_url(world), {"block_severity": ""}, format="json").status_code == 404


def test_named_exceptions(world: World) -> None:
    manager = api_for(world.manager)
    body = {"vulnerability": "CVE-2024-0001", "reason": "no fix yet; revisit in March", "expires": _later(days=30)}
    assert api_for(world.developer).post(_url(world, "exceptions/"), body, format="json").status_code == 403
    made = manager.post(_url(world, "exceptions/"), body, format="json")
    assert made.status_code == 201, made.content
    assert (made.json()["vulnerability"], made.json()["expired"], made.json()["created_by"]) == (
        "CVE-2024-0001", False, world.manager.username)
    again = manager.post(_url(world, "exceptions/"), body, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "exception_exists")
    for field, value, code in (("expires", _later(seconds=-5), "exception_expired"),
                               ("expires", _later(days=400), "exception_too_long"),
                               ("vulnerability", "not an id", "invalid"),
                               ("vulnerability", "x" * 65, "max_length"),
                               ("reason", "   ", "blank")):
        response = manager.post(_url(world, "exceptions/"), {**body, "vulnerability": "CVE-2024-0009",
                                                             field: value}, format="json")
        assert (response.status_code, response.json()["code"]) == (400, code), (field, value, response.content)
        assert field in response.json()["errors"]
    listed = api_for(world.viewer).get(_url(world)).json()["exceptions"]
    assert [e["vulnerability"] for e in listed] == ["CVE-2024-0001"]
    exception_id = listed[0]["id"]
    assert api_for(world.viewer).delete(_url(world, f"exceptions/{exception_id}/")).status_code == 403
    assert manager.delete(_url(world, f"exceptions/{exception_id}/")).status_code == 204
    assert manager.delete(_url(world, f"exceptions/{exception_id}/")).status_code == 404
    assert not ScanException.objects.exists()
    assert {"builds.scan_exception.add", "builds.scan_exception.remove"} <= set(
        AuditRecord.objects.values_list("action", flat=True))


def test_scans_are_read_by_whoever_sees_the_repository(world: World) -> None:
    digest = "sha256:" + "c" * 64
    ImageScan.objects.create(registry=world.registry, repository="team-a/shop", digest=digest,
                             counts={"CRITICAL": 1}, findings=[CRITICAL])
    query = f"/api/builds/scans/?registry={world.registry.pk}&repository=team-a/shop&digest={digest}"
    read = api_for(world.viewer).get(query)
    assert read.status_code == 200, read.content
    assert (read.json()["counts"], read.json()["findings"][0]["id"]) == ({"CRITICAL": 1}, "CVE-2024-0001")
    outsider = api_for(member(world.other_map.workspace, "manager"))
    assert (outsider.get(query).status_code, outsider.get(query).json()["code"]) == (404, "scan_not_found")
    assert api_for(world.viewer).get(query.replace(digest, "sha256:" + "d" * 64)).status_code == 404
    assert api_for(world.viewer).get("/api/builds/scans/?registry=x&repository=a&digest=b").status_code == 400
    assert REGISTRY_HOST in world.registry.host


def test_the_rule() -> None:
    now = timezone.now()
    critical = policy.Rule(block_severity="CRITICAL")
    assert policy.evaluate([CRITICAL, LOW], critical, now).findings == [CRITICAL]
    assert policy.evaluate([HIGH, LOW], critical, now).allowed
    high = policy.Rule(block_severity="HIGH", exceptions={"GHSA-AAAA-BBBB-CCCC": now + timedelta(minutes=1)})
    assert policy.evaluate([HIGH], high, now).allowed  # excepted (ids compared without case)
    assert not policy.evaluate([HIGH], high, now + timedelta(minutes=2)).allowed  # expired
    assert policy.evaluate(None, critical, now).allowed  # no scan: allowed unless required
    required = policy.Rule(require_scan=True)
    assert policy.evaluate(None, required, now).reason == policy.NOT_SCANNED
    assert policy.evaluate([CRITICAL], required, now).allowed  # a scan, and no severity to block
    assert not policy.OFF.active
    assert "and 2 more" in policy.describe("img", policy.Verdict(False, "findings", [CRITICAL] * 7), "w")


def test_the_gate_judges_a_tag_by_the_digest_the_portal_built() -> None:
    definition, _developer, _viewer = offline_definition()
    digest = "sha256:" + "e" * 64
    BuildRun.objects.create(definition=definition, workspace=definition.workspace, number=1,
                            status=RunStatus.SUCCEEDED, image_repository=f"{definition.registry.host}/app",
                            image_tag="1.0.B000001", image_digest=digest)
    ImageScan.objects.create(registry=definition.registry, repository="app", digest=digest, findings=[CRITICAL])
    sm = definition.service_map
    assert deploy_step.gate(None, sm, [f"{definition.registry.host}/app:1.0.B000001"]) == []  # no policy
    ScanPolicy.objects.create(workspace=definition.workspace, block_severity="CRITICAL")
    (problem,) = deploy_step.gate(None, sm, [f"{definition.registry.host}/app:1.0.B000001"])
    assert "CVE-2024-0001" in problem
    assert deploy_step.gate(None, sm, [f"{definition.registry.host}/app@{'sha256:' + 'f' * 64}"]) == []  # no scan

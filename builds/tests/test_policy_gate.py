"""The scan policy gate on real catalog upgrades of the hello-web demo chart in a sandbox service map
(docs/image-policy.md "Scan policy"): an image whose scan has a CRITICAL finding is refused (400
``image_blocked_by_scan``, no revision) while the workspace blocks CRITICAL; an unexpired named
exception lets it through, an expired one does not; with the policy off it passes; an image the
release already runs is not deployed anew by a values-only upgrade, so that passes; with
``require_scan`` an image that has no scan is refused, wherever it comes from."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from builds import images, policy_actions
from builds.models import ScanException
from builds.tests.deploy_helpers import CRITICAL, LOW, Stage, digest_of, hooks_installed, record_scan, stage
from catalog import releases
from catalog.models import Release, Revision
from catalog.tests.helpers import Driver
from catalog.tests.helpers import release_state as state
from clusters.tests.helpers import client_for
from portal.errors import Invalid

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hooks() -> Iterator[None]:
    with hooks_installed():
        yield


def _upgrade(st: Stage, release: Release, values: dict[str, Any]) -> Release:
    return releases.upgrade_release(release=release, version=None, values=values, strategy=None, user=st.developer,
                                    request=None)


def _with_image(release: Release, repository: str, tag: str, digest: str) -> dict[str, Any]:
    release.refresh_from_db()
    return images.set_image(release.values, "image", repository=repository, tag=tag, digest=digest)


def test_a_critical_finding_blocks_until_an_unexpired_exception(admin_api: APIClient, sandbox: Any,
                                                                builtin_registry: Any, hooks: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    driver = Driver(monkeypatch)
    st = stage(admin_api, sandbox, builtin_registry)
    release = releases.create_release(sm=st.sm, name="web", version=st.version, values={}, strategy={},
                                      user=st.developer, request=None)
    driver.run(until=lambda: state(release) == ("deployed", 1))  # nginx:1.27: no registry record, no scan
    bad = digest_of("bad")
    record_scan(st.registry, st.repository(), bad, [CRITICAL, LOW])
    policy_actions.set_policy(workspace=st.workspace, block_severity="CRITICAL", require_scan=False, user=st.manager,
                              request=None)

    values = _with_image(release, st.image(), "1.0.B000001", bad)
    with pytest.raises(Invalid) as blocked:
        _upgrade(st, release, values)
    assert blocked.value.code == "image_blocked_by_scan"
    (problem,) = blocked.value.errors["images"]
    assert "CVE-2024-0001" in problem
    assert "CVE-2024-0002" not in problem  # LOW is below the policy's floor
    # the console's way in: the same refusal through the API, and no revision was stored
    response = APIClient()
    response.force_authenticate(st.developer)
    answer = response.post(f"/api/catalog/releases/{release.pk}/upgrade/", {"values": values}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (400, "image_blocked_by_scan"), answer.content
    assert Revision.objects.filter(release=release).count() == 1

    # an exception that has expired does not help
    exception = policy_actions.add_exception(workspace=st.workspace, vulnerability="CVE-2024-0001",
                                             reason="fixed upstream next sprint",
                                             expires=timezone.now() + timedelta(hours=1), user=st.manager,
                                             request=None)
    ScanException.objects.filter(pk=exception.pk).update(expires=timezone.now() - timedelta(seconds=1))
    with pytest.raises(Invalid) as again:
        _upgrade(st, release, values)
    assert again.value.code == "image_blocked_by_scan"

    # unexpired: allowed, deployed pinned by digest
    ScanException.objects.filter(pk=exception.pk).update(expires=timezone.now() + timedelta(hours=1))
    release = _upgrade(st, release, values)
    driver.run(until=lambda: state(release) == ("deployed", 2))
    with client_for(sandbox, "cluster-1") as kube:
        deployment = kube.get_object("Deployment", "web-hello", st.sm.namespace)
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"{st.image()}:1.0.B000001@{bad}"

    # the exception expires; a values-only upgrade does not deploy the image anew: it passes
    ScanException.objects.filter(pk=exception.pk).update(expires=timezone.now() - timedelta(seconds=1))
    release.refresh_from_db()
    release = _upgrade(st, release, {**release.values, "greeting": "still running"})
    driver.run(until=lambda: state(release) == ("deployed", 3))

    # policy off: another image with a CRITICAL finding passes
    worse = digest_of("worse")
    record_scan(st.registry, st.repository(), worse, [CRITICAL])
    policy_actions.set_policy(workspace=st.workspace, block_severity="", require_scan=False, user=st.manager,
                              request=None)
    release = _upgrade(st, release, _with_image(release, st.image(), "1.0.B000002", worse))
    driver.run(until=lambda: state(release) == ("deployed", 4))


def test_require_scan_refuses_images_without_one(admin_api: APIClient, sandbox: Any, builtin_registry: Any,
                                                 hooks: None) -> None:
    st = stage(admin_api, sandbox, builtin_registry)
    policy_actions.set_policy(workspace=st.workspace, block_severity="HIGH", require_scan=True, user=st.manager,
                              request=None)
    unscanned = {"image": {"repository": st.image(), "tag": f"1.0.B000009@{digest_of('unscanned')}"}}
    with pytest.raises(Invalid) as ours:
        releases.create_release(sm=st.sm, name="web", version=st.version, values=unscanned, strategy={},
                                user=st.developer, request=None)
    assert ours.value.code == "image_blocked_by_scan"
    assert "has no scan" in ours.value.errors["images"][0]
    # an image from a registry the portal has no record of cannot have a scan: refused as well
    with pytest.raises(Invalid) as theirs:
        releases.create_release(sm=st.sm, name="web", version=st.version, values={}, strategy={},
                                user=st.developer, request=None)  # nginx:1.27 from Docker Hub
    assert "nginx:1.27 has no scan" in theirs.value.errors["images"][0]
    clean = digest_of("clean")
    record_scan(st.registry, st.repository(), clean, [])
    release = releases.create_release(sm=st.sm, name="web", version=st.version, strategy={}, user=st.developer,
                                      request=None, values={"image": {"repository": st.image(),
                                                                      "tag": f"1.0.B000010@{clean}"}})
    assert release.revision == 1

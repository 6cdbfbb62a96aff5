"""Issue 22: deleting a release answered 500 when the delete task was faster than the answer
(the row was read again after the worker had removed it), and Korean values showed as escape
codes (``\\uC548…``) in revision diffs, manifests and plan diffs."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog import releases, tasks_deploy
from catalog.models import Release, Revision
from catalog.tests.helpers import Driver, release_state, setup_service_maps
from catalog.tests.intents import result

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = "안녕하세요"


def _api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.usefixtures("celery_worker_process")  # the plan is answered by the real worker
def test_korean_stays_readable_and_a_fast_delete_answers_202(admin_api: APIClient, sandbox: Any, driver: Driver,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _workspace, (sm,), developer, version = setup_service_maps(admin_api, sandbox, ("cluster-3",))
    dev = _api(developer)
    release = releases.create_release(sm=sm, name="hangul", version=version, values={"message": HELLO},
                                      strategy={}, user=developer, request=None)
    driver.run(until=lambda: release_state(release) == ("deployed", 1))

    # The plan's diff against the cluster, the stored manifest and the revision diff keep Hangul.
    plan = result(dev, dev.post("/api/catalog/releases/plan/", {"service_map": sm.pk, "name": "hangul",
                                                                "package_version": version.pk,
                                                                "values": {"message": "반갑습니다"}}, format="json"))
    assert "반갑습니다" in plan["diff"], plan["diff"]
    assert HELLO in plan["diff"]
    assert "\\u" not in plan["diff"]
    releases.upgrade_release(release=release, version=None, values={"message": "반갑습니다"}, strategy=None,
                             user=developer, request=None)
    driver.run(until=lambda: release_state(release) == ("deployed", 2))
    assert HELLO in Revision.objects.get(release=release, number=1).manifest
    shown = dev.get(f"/api/catalog/releases/{release.pk}/revisions/2/").json()["manifest"]
    assert "반갑습니다" in shown
    assert "\\u" not in shown
    # What revision 2 changed: the ConfigMap only (no workload of this chart uses it).
    changes = dev.get(f"/api/catalog/releases/{release.pk}/revisions/2/").json()["changes"]
    assert changes == [{"object": "ConfigMap/hangul-config", "change": "changed", "users": []}]
    diff = dev.get(f"/api/catalog/releases/{release.pk}/diff/?from=1&to=2").json()["diff"]
    assert f"-  message: {HELLO}" in diff, diff
    assert "+  message: 반갑습니다" in diff
    assert "\\u" not in diff
    # A manifest stored escaped (before this fix) is shown readable too.
    first = Revision.objects.get(release=release, number=1)
    Revision.objects.filter(pk=first.pk).update(
        manifest=first.manifest.replace(f"message: {HELLO}", 'message: "\\uC548\\uB155"'))
    diff = dev.get(f"/api/catalog/releases/{release.pk}/diff/?from=1&to=2").json()["diff"]
    assert "-  message: 안녕" in diff, diff
    assert "\\u" not in diff

    # A worker that deletes the release before the answer is built (as a real one may): 202, not 500.
    driver.at_once.add(tasks_deploy.delete_release.name)
    answer = dev.delete(f"/api/catalog/releases/{release.pk}/")
    assert answer.status_code == 202, answer.content
    assert answer.json()["status"] == "deleting"
    assert answer.json()["values"] == {"message": "반갑습니다"}
    assert not Release.objects.filter(pk=release.pk).exists()
    # A second delete: the release is gone, a plain 404 the console reads as "already deleted".
    again = dev.delete(f"/api/catalog/releases/{release.pk}/")
    assert again.status_code == 404


def test_a_second_delete_while_deleting_is_accepted_again(admin_api: APIClient, sandbox: Any,
                                                          driver: Driver) -> None:
    _workspace, (sm,), developer, version = setup_service_maps(admin_api, sandbox, ("cluster-3",))
    dev = _api(developer)
    release = releases.create_release(sm=sm, name="twice", version=version, values={}, strategy={},
                                      user=developer, request=None)
    driver.run(until=lambda: release_state(release) == ("deployed", 1))
    assert dev.delete(f"/api/catalog/releases/{release.pk}/").status_code == 202
    assert dev.delete(f"/api/catalog/releases/{release.pk}/").status_code == 202  # still deleting: idempotent
    driver.run(until=lambda: not Release.objects.filter(pk=release.pk).exists())

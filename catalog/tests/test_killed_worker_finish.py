"""A worker killed (SIGKILL) at the moment it records that a revision finished: after writing the
revision ``deployed`` and before writing the release. Before issue 12 the two were separate
autocommits, so the release stayed ``deploying`` forever and no beat task ever picked it up
(``due_revisions`` looks only at unfinished revisions); its rollout never finished either.

Now a report is one transaction under the release's row lock: the kill rolls the revision back to
``progressing``, the beat task's pick-up watches it again and the release, its revisions and the
rollout converge. Rows an older worker left disagreeing are settled by
:func:`catalog.releases.repair_stuck`, for the beat task (``catalog.reconcile_releases``) to call.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from catalog import deploy, releases, rollouts, tasks_deploy
from catalog.models import Release, Revision, Rollout
from catalog.rows import release_row
from catalog.tests.helpers import Driver
from catalog.tests.helpers import release_state as _state
from catalog.tests.helpers import setup_service_maps as _setup

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _revisions(release: Release) -> dict[int, str]:
    return dict(Revision.objects.filter(release=release).values_list("number", "status"))


def _converged(release: Release, rollout: Rollout, number: int) -> bool:
    rollout.refresh_from_db()
    return _state(release) == ("deployed", number) and rollout.status == "succeeded"


def _assert_converged(release: Release, rollout: Rollout, number: int) -> None:
    release.refresh_from_db()
    assert (release.status, release.deployed_revision, release.revision) == ("deployed", number, number)
    assert release.message_code == "revision_deployed"
    assert release.message_params == {"number": number}
    row = release_row(release)  # what the API answers and release.updated carries
    assert (row["message_code"], row["message_params"]) == ("revision_deployed", {"number": number})
    statuses = _revisions(release)
    assert [n for n, status in statuses.items() if status == "deployed"] == [number], statuses
    rollout.refresh_from_db()
    assert rollout.status == "succeeded", (rollout.status, rollout.message)
    assert rollout.message_code == "rollout_succeeded"
    assert [t.state for t in rollout.targets.all()] == ["healthy"]
    assert rollout.pk not in rollouts.running_rollouts()
    assert releases.repair_stuck() == 0  # nothing left to settle


def test_a_worker_killed_between_revision_and_release_converges(admin_api: APIClient, sandbox: Any,
                                                                driver: Driver) -> None:
    workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-3",))
    rollout = rollouts.create_rollout(workspace=workspace, release_name="shop", version=version, values={},
                                      targets=[{"service_map": sm.pk}], canary=None, batch_size=1, max_failures=0,
                                      user=developer, request=None)
    driver.run(until=lambda: Release.objects.filter(service_map=sm, name="shop").exists()
               and _revisions(Release.objects.get(service_map=sm, name="shop")).get(1) == "progressing")
    driver.queue.clear()  # the "worker" below finishes revision 1, not the driver
    release = Release.objects.get(service_map=sm, name="shop")
    assert release.status == "deploying"

    # The worker looks at the rollout until the workloads are ready, records the finish, and
    # kills itself (SIGKILL) right when the release is to be written, after the revision was:
    # the moment that left the release deploying forever. The deploy code in it is the real one.
    code = f"""
import os, signal, time
import django
django.setup()
from catalog import deploy, releases
real = releases._set_release
def set_release(release, **fields):
    if fields.get("status") == "deployed":
        os.kill(os.getpid(), signal.SIGKILL)
    return real(release, **fields)
releases._set_release = set_release
for _ in range(600):
    if deploy.watch_revision({release.pk}, 1) not in ("progressing", "polling", "busy"):
        break
    time.sleep(0.1)
"""
    worker = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(), check=False,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    assert worker.returncode == -signal.SIGKILL, worker.stderr.decode()[-2000:]
    # The kill rolled the whole report back: nothing says deployed, nothing disagrees.
    release.refresh_from_db()
    assert release.status == "deploying"
    assert _revisions(release) == {1: "progressing"}
    rollout.refresh_from_db()
    assert rollout.status == "running"

    # The beat task picks the revision up once the killed watch's mark has expired.
    cache.delete(deploy.watching_key(release.pk, 1))
    with override_settings(PORTAL_DEPLOY_RETRY_SECONDS=0):
        assert tasks_deploy.reconcile_releases.run() >= 1
    driver.run(until=lambda: _converged(release, rollout, 1))
    _assert_converged(release, rollout, 1)


def test_rows_an_older_worker_left_disagreeing_are_repaired(admin_api: APIClient, sandbox: Any,
                                                            driver: Driver) -> None:
    """The state a worker killed before reports were atomic left behind: revision 2 deployed,
    revision 1 still deployed too, the release deploying, the rollout running."""
    workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-3",))
    release = releases.create_release(sm=sm, name="shop", version=version, values={}, strategy={}, user=developer,
                                      request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 1))
    driver.queue.clear()
    rollout = rollouts.create_rollout(workspace=workspace, release_name="shop", version=version,
                                      values={"message": "v2"}, targets=[{"service_map": sm.pk}], canary=None,
                                      batch_size=1, max_failures=0, user=developer, request=None)
    # The deploy's first look may finish revision 2 at once (the sandbox rolls out fast); the rows
    # are then set to what the older worker left, whichever it did.
    driver.run(until=lambda: _revisions(release).get(2) in ("progressing", "deployed"))
    driver.queue.clear()
    Revision.objects.filter(release=release, number=1).update(status="deployed")
    Revision.objects.filter(release=release, number=2).update(status="deployed", message="All objects are ready.",
                                                              finished=timezone.now())
    Release.objects.filter(pk=release.pk).update(status="deploying", deployed_revision=1)
    release.refresh_from_db()
    assert (release.status, release.deployed_revision) == ("deploying", 1)

    assert releases.repair_stuck() == 1
    assert _revisions(release) == {1: "superseded", 2: "deployed"}
    driver.run(until=lambda: _converged(release, rollout, 2))  # the repair advanced the rollout
    _assert_converged(release, rollout, 2)


def _env() -> dict[str, str]:
    from portal.testing import backend_env

    return backend_env()

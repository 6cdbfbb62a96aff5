"""A worker process killed (SIGKILL) in the middle of applying a revision: the revision is left
``applying`` with part of its objects in the cluster; the retry (the beat task's pick-up, here
called directly) converges to exactly the revision's objects and marks it deployed. The killed
process's advisory lock dies with its database session, so the retry is not locked out."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from catalog import deploy, releases, tasks_deploy
from catalog.models import Revision
from catalog.tests.test_deploy import Driver, _setup, _state
from clusters.kube.errors import NotFound
from clusters.tests.test_watcher_e2e import client_for
from portal.testing import backend_env

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def test_a_worker_killed_mid_deploy_leaves_nothing_half_applied(admin_api: APIClient, sandbox: Any,
                                                                 driver: Driver) -> None:
    _workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-3",))
    release = releases.create_release(sm=sm, name="shop", version=version, values={}, strategy={}, user=developer,
                                      request=None)
    driver.queue.clear()  # the "worker" below takes revision 1, not the driver
    sandbox.inject_fault("cluster-3", latency_ms=1000)  # slow enough to be caught halfway
    code = f"import django; django.setup(); from catalog import deploy; deploy.deploy_revision({release.pk}, 1)"
    worker = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=backend_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        names = [f"{o['kind']}/{o['metadata']['name']}"
                 for o in deploy.load(Revision.objects.get(release=release, number=1).manifest)]

        def applied() -> list[str]:
            with client_for(sandbox, "cluster-3") as kube:
                found = []
                for name in names:
                    kind, obj = name.split("/")
                    try:
                        kube.get_object(kind, obj, sm.namespace, attempts=1)
                        found.append(name)
                    except NotFound:
                        pass
                return found

        def first_applied() -> bool:
            kind, obj = names[0].split("/")
            with client_for(sandbox, "cluster-3") as kube:
                try:
                    kube.get_object(kind, obj, sm.namespace, attempts=1)
                except NotFound:
                    return False
            return True

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not first_applied():
            assert worker.poll() is None, "the worker finished before it could be killed; slow the cluster more"
            time.sleep(0.1)
        worker.kill()  # SIGKILL: no cleanup, no lock release, no status update
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    revision = Revision.objects.get(release=release, number=1)
    assert revision.status == "applying"
    partial = applied()
    assert 0 < len(partial) < len(names), f"expected a half-applied revision, found {partial} of {names}"

    sandbox.clear_faults("cluster-3")
    with override_settings(PORTAL_DEPLOY_RETRY_SECONDS=0):
        assert tasks_deploy.reconcile_releases.run() >= 1
    driver.run(until=lambda: _state(release) == ("deployed", 1))
    assert sorted(applied()) == sorted(names)
    with client_for(sandbox, "cluster-3") as kube:
        labelled = kube.list_objects("ConfigMap", sm.namespace, label_selector=f"{deploy.RELEASE_LABEL}={release.pk}")
        assert [o["metadata"]["annotations"][deploy.REVISION_ANNOTATION] for o in labelled] == ["1"]

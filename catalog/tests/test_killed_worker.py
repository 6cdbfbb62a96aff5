"""A worker process killed (SIGKILL) in the middle of applying a revision: the revision is left
``applying`` with part of its objects in the cluster; the retry (the beat task's pick-up, here
called directly) converges to exactly the revision's objects and marks it deployed. The killed
process's advisory lock dies with its database session, so the retry is not locked out."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from catalog import deploy, releases, tasks_deploy
from catalog.models import Revision
from catalog.tests.helpers import Driver
from catalog.tests.helpers import release_state as _state
from catalog.tests.helpers import setup_service_maps as _setup
from clusters.kube.errors import NotFound
from clusters.tests.helpers import client_for
from portal.testing import backend_env

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def test_a_worker_killed_mid_deploy_leaves_nothing_half_applied(admin_api: APIClient, sandbox: Any,
                                                                 driver: Driver) -> None:
    _workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-3",))
    release = releases.create_release(sm=sm, name="shop", version=version, values={}, strategy={}, user=developer,
                                      request=None)
    driver.queue.clear()  # the "worker" below takes revision 1, not the driver
    # The worker process kills itself (SIGKILL) right after its first real apply: exactly
    # halfway, whatever the machine's speed. The deploy code in it is the real one.
    code = f"""
import os, signal
import django
django.setup()
from clusters.kube import client
real = client.KubeClient.apply
def apply(self, obj, **kwargs):
    out = real(self, obj, **kwargs)
    if not kwargs.get("dry_run"):
        os.kill(os.getpid(), signal.SIGKILL)
    return out
client.KubeClient.apply = apply
from catalog import deploy
deploy.deploy_revision({release.pk}, 1)
"""
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

    worker = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=backend_env(), check=False,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    assert worker.returncode == -signal.SIGKILL
    revision = Revision.objects.get(release=release, number=1)
    assert revision.status == "applying"
    partial = applied()
    assert len(partial) == 1, f"expected a half-applied revision, found {partial} of {names}"

    with override_settings(PORTAL_DEPLOY_RETRY_SECONDS=0):
        assert tasks_deploy.reconcile_releases.run() >= 1
    driver.run(until=lambda: _state(release) == ("deployed", 1))
    assert sorted(applied()) == sorted(names)
    with client_for(sandbox, "cluster-3") as kube:
        labelled = kube.list_objects("ConfigMap", sm.namespace, label_selector=f"{deploy.RELEASE_LABEL}={release.pk}")
        assert [o["metadata"]["annotations"][deploy.REVISION_ANNOTATION] for o in labelled] == ["1"]

"""A Celery worker SIGKILLed in the middle of a multi-cluster deploy (a rollout to three sandbox
clusters), a few times in a row, with a replacement worker started at once and beat running the
reconcilers (docs/reliability.md: ``acks_late``, the visibility timeout, ``catalog.reconcile_releases``).

After each kill the rollout still finishes, and: every release is at exactly one intended revision
(the rollout's), no object is duplicated in the clusters, no revision is marked deployed whose
workloads are not ready, no rollout is left running. The long version (100 kills) is
``bench/faults.py workers``."""

from __future__ import annotations

import os
import random
import time
from typing import Any

import pytest

from tests.faults import deploys
from tests.faults.procs import CeleryWorker, Stack

pytestmark = pytest.mark.faults

KILLS = int(os.environ.get("PORTAL_FAULTS_WORKER_KILLS", "2"))


def test_a_worker_killed_mid_rollout_leaves_every_release_at_one_revision(
        sandbox_fleet: Any, deploy_env: dict[str, Any]) -> None:
    stack: Stack = deploy_env["stack"]
    scenario: deploys.Scenario = deploy_env["scenario"]
    worker: CeleryWorker = deploy_env["worker"]
    rng = random.Random(18)
    killed = 0
    for round_ in range(KILLS):
        message = f"round-{round_}"
        caught = deploys.start_rollout_and_catch(stack, scenario, message)
        assert caught is not None, f"rollout of {message!r} finished before a kill could land\n{worker.log_tail()}"
        rollout = caught
        time.sleep(rng.uniform(0.0, 1.5))  # somewhere in the apply, the watch or the advance
        if deploys.rollout_status(stack, rollout) == "running":
            worker.kill()
            killed += 1
        worker.start()
        worker.wait_ready(90)
        status = deploys.wait_finished(stack, rollout, timeout=120)
        assert status == "succeeded", f"rollout {rollout} is {status} after the kill\n{stack.logs()}"
        found = deploys.problems(stack, sandbox_fleet, scenario, rollout, message)
        assert not found, "\n".join(found)
    assert killed >= 1, "no kill landed while a rollout ran (the deploys were faster than the kill)"
    assert not stack.sql("SELECT id FROM catalog_rollout WHERE status = 'running'")

"""Fixtures of the fault suite: a private PostgreSQL and Redis per test module (never the shared
services on 54329/63799), migrated, with the portal's processes started by the tests themselves
(``tests/faults/procs.py``). Every test here is marked ``@pytest.mark.faults``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.faults.procs import Stack, running_stack


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """A private, migrated PostgreSQL + Redis for this module; every process the module starts
    through it is stopped at the end (set PORTAL_FAULTS_KEEP=1 to keep the logs under /tmp)."""
    with running_stack() as private:
        yield private


@pytest.fixture(scope="module")
def admin_token(stack: Stack) -> str:
    """An admin's API token on the private database (``Authorization: Bearer <token>``)."""
    return stack.api_token("faults-admin", role="admin")


@pytest.fixture(scope="session")
def deploy_env(sandbox_fleet: Any) -> Iterator[dict[str, Any]]:
    """One private stack for the deploy fault tests (test_workers, test_redis; they leave it
    converged): web, a worker on every queue and beat, with the reconcilers' retry shortened
    (``PORTAL_DEPLOY_RETRY_SECONDS=2``; production 30), and the three-cluster rollout scenario of
    ``tests/faults/deploys.py``. Keys: stack, web, worker, beat, scenario."""
    from tests.faults import deploys

    fast = {"PORTAL_DEPLOY_RETRY_SECONDS": "2", "PORTAL_DEPLOY_POLL_INTERVAL": "0.5"}
    with running_stack() as private:
        web = private.web().start()
        worker = private.worker("deployer", PORTAL_DEPLOY_RETRY_SECONDS=fast["PORTAL_DEPLOY_RETRY_SECONDS"],
                                PORTAL_DEPLOY_POLL_INTERVAL=fast["PORTAL_DEPLOY_POLL_INTERVAL"]).start()
        beat = private.beat(PORTAL_DEPLOY_RETRY_SECONDS=fast["PORTAL_DEPLOY_RETRY_SECONDS"]).start()
        for proc in (web, worker, beat):
            proc.wait_ready(90)
        scenario = deploys.setup(private, sandbox_fleet)
        yield {"stack": private, "web": web, "worker": worker, "beat": beat, "scenario": scenario}

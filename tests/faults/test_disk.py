"""PostgreSQL out of disk space: the portal's tables on a small tmpfs tablespace that fills up.

Writes then fail cleanly: 503 ``database_storage_full`` (never a 500), nothing half-written (a
refused request left no row behind), reads keep working, and once space returns the same web
process writes again without a restart. The long version (a loop device, repeated fills) is
``bench/faults.py disk``. Needs root (mount) like the rest of the suite's server control."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.procs import Stack, WebServer, fill_filesystem, small_tmpfs

pytestmark = pytest.mark.faults

SIZE_MB = 8
TABLES = ("workspaces_workspace",)  # what POST /api/workspaces/ writes


@pytest.fixture(scope="module")
def on_tmpfs(stack: Stack, admin_token: str) -> Iterator[dict[str, Any]]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs for PostgreSQL's tablespace needs root")
    with small_tmpfs(SIZE_MB) as mount:
        space = mount / "pg"
        space.mkdir()
        pg_account = stack.postgres.popen_kwargs()
        if pg_account:
            os.chown(space, pg_account["user"], pg_account["group"])
        stack.sql(f"CREATE TABLESPACE faults_small LOCATION '{space}'")
        for table in TABLES:
            stack.sql(f"ALTER TABLE {table} SET TABLESPACE faults_small")
            for (index,) in stack.sql("SELECT indexname FROM pg_indexes WHERE tablename = %s", table):
                stack.sql(f'ALTER INDEX "{index}" SET TABLESPACE faults_small')
        web = stack.web().start()
        web.wait_ready(90)
        yield {"web": web, "mount": mount}
        web.stop()
        for table in TABLES:  # out of the tablespace before the tmpfs goes
            stack.sql(f"ALTER TABLE {table} SET TABLESPACE pg_default")
            for (index,) in stack.sql("SELECT indexname FROM pg_indexes WHERE tablename = %s", table):
                stack.sql(f'ALTER INDEX "{index}" SET TABLESPACE pg_default')
        stack.sql("DROP TABLESPACE faults_small")


def _post(web: WebServer, token: str, name: str) -> tuple[int, dict[str, Any]]:
    status, raw = web.get("/api/workspaces/", method="POST", body=json.dumps({
        "name": name, "description": "x" * 900}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, {"raw": raw.decode(errors="replace")[:300]}


def test_writes_fail_with_503_when_the_disk_is_full_and_recover(stack: Stack, admin_token: str,
                                                                 on_tmpfs: dict[str, Any]) -> None:
    web: WebServer = on_tmpfs["web"]
    mount: Path = on_tmpfs["mount"]
    status, body = _post(web, admin_token, "disk-before")
    assert status == 201, body
    # No Celery worker runs here: the web process is still ready (it serves without them), and
    # only the full check names the missing workers.
    status, raw = web.get("/readyz")
    assert status == 200, raw
    assert "workers" in json.loads(raw), raw
    status, raw = web.get("/readyz?full=1")
    assert status == 503, raw
    assert json.loads(raw)["checks"]["celery"]["ok"] is False, raw
    pid = web.pid
    fill_filesystem(mount)
    refused: list[str] = []
    created: list[str] = []
    for n in range(400):
        name = f"disk-full-{n}"
        status, body = _post(web, admin_token, name)
        assert status in (201, 503), (status, body)
        if status == 201:
            created.append(name)
            continue
        assert body["code"] == "database_storage_full", body
        assert "disk space" in body["detail"], body
        refused.append(name)
        if len(refused) >= 3:
            break
    assert refused, f"no write was refused with the tablespace full ({len(created)} went through)"
    # Nothing half-written: no refused workspace exists; reads still answer.
    stored = {name for (name,) in stack.sql("SELECT name FROM workspaces_workspace")}
    assert not stored & set(refused), stored & set(refused)
    assert set(created) <= stored
    status, raw = web.get("/api/workspaces/", headers={"Authorization": f"Bearer {admin_token}"})
    assert status == 200, raw

    (mount / "filler").unlink()
    status, body = _post(web, admin_token, "disk-after")
    assert status == 201, body
    assert web.pid == pid

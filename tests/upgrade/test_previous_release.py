"""Upgrades are rolling (issue 18): during ``helm upgrade`` the previous release's web and workers
keep serving against the schema the new release's migration Job just applied. So migrations are
backward compatible for one version (expand/contract, docs/operations.md "Upgrading"), and this
test holds them to it: it takes the previous release's source tree (the commit named in
``deploy/PREVIOUS_RELEASE``, extracted with ``git archive``, which leaves the repository's state
alone), points it at the test database, which the *current* migrations built and the current code
filled (``tests/security/world.py``: clusters with their read model, workspaces, service maps, a
release and a rollout, builds, alerts, moves, provisioning rows), and makes the old code serve the
main read paths through its own Django test client, in a process of its own with the current
``.venv``: clusters (list, detail, nodes, workloads), workspaces, service maps, releases, rollouts,
build definitions and runs, alerts, the dashboard; and two writes an old web replica takes during
the roll (a cluster edit, a new workspace), since a new NOT NULL column without a database
default is what breaks an old writer first. Every answer must be 200/201 and list the rows the new
code wrote; the new code then reads what the old one wrote.

Needs the repository's history: skipped (with the reason) when there is no ``.git``, failed under
``CI``, where the checkout is a full clone.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from portal.testing import backend_env, service_missing
from tests.security import world as world_module
from workspaces.models import Workspace

ROOT = Path(__file__).resolve().parents[2]
PREVIOUS = ROOT / "deploy" / "PREVIOUS_RELEASE"
SKIP_TOP = {"frontend", "docs", "bench", "deploy", "tests", ".ci"}  # not needed to run the old code's API

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def previous_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's files (what the old image would run), extracted once per module."""
    if not (ROOT / ".git").exists():
        service_missing("the previous release's code comes from git history, and this checkout has no .git")
    commit = PREVIOUS.read_text().split()[0]
    if _git("cat-file", "-e", f"{commit}^{{commit}}").returncode:
        pytest.fail(f"commit {commit} named in deploy/PREVIOUS_RELEASE is not in this clone "
                    "(a shallow clone? CI fetches the full history)")
    top = [n for n in _git("ls-tree", "--name-only", commit).stdout.decode().split() if n not in SKIP_TOP]
    archive = _git("archive", "--format=tar", commit, "--", *top)
    assert archive.returncode == 0, archive.stderr.decode()
    tree = tmp_path_factory.mktemp("previous-release")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    (tree / "old_release_reads.py").write_text((Path(__file__).parent / "old_release_reads.py").read_text())
    return tree


def run_old(tree: Path, tokens: dict[str, str], requests: list[list[Any]]) -> list[dict[str, Any]]:
    env = backend_env()
    env.pop("PYTHONPATH", None)
    done = subprocess.run([sys.executable, str(tree / "old_release_reads.py")], cwd=tree, env=env,
                          input=json.dumps({"tree": str(tree), "tokens": tokens, "requests": requests}).encode(),
                          capture_output=True, timeout=240)
    out = done.stdout.decode(errors="replace")
    detail = f"{out[-3000:]}\n{done.stderr.decode(errors='replace')[-5000:]}"
    assert done.returncode == 0, detail
    assert "@@results@@" in out, detail
    return list(json.loads(out.rsplit("@@results@@", 1)[1].strip().splitlines()[0]))


def test_the_previous_release_serves_the_main_paths_on_the_new_schema(previous_tree: Path, sandbox: Any) -> None:
    w = world_module.build(sandbox)
    ids = w.ids
    cid, wid, smid = ids["clusters"], ids["workspaces"], ids["servicemaps"]
    reads: list[tuple[str, str, int | None]] = [
        # (persona, path, an id the answer must hold: in the list, or the detail's own)
        ("admin", "/api/clusters/", cid),
        ("admin", f"/api/clusters/{cid}/", cid),
        ("admin", f"/api/clusters/{cid}/nodes/", None),
        ("admin", f"/api/clusters/{cid}/workloads/", None),
        ("admin", "/api/workspaces/", wid),
        ("admin", f"/api/workspaces/{wid}/", wid),
        ("developer", "/api/workspaces/", wid),
        ("admin", "/api/workspaces/servicemaps/", smid),
        ("developer", f"/api/workspaces/{wid}/servicemaps/", smid),
        ("developer", f"/api/workspaces/{wid}/servicemaps/{smid}/", smid),
        ("developer", "/api/catalog/releases/", ids["releases"]),
        ("developer", f"/api/catalog/releases/{ids['releases']}/", ids["releases"]),
        ("developer", "/api/catalog/rollouts/", ids["rollouts"]),
        ("developer", "/api/builds/definitions/", ids["definitions"]),
        ("developer", f"/api/builds/runs/{ids['runs']}/", ids["runs"]),
        ("admin", "/api/builds/runs/", ids["runs"]),
        ("admin", "/api/monitoring/alerts/", ids["alerts"]),
        ("admin", f"/api/monitoring/alerts/{ids['alerts']}/", ids["alerts"]),
        ("admin", "/api/dashboard/", None),
        ("developer", "/api/dashboard/", None),
    ]
    writes: list[list[Any]] = [
        ["admin", "PATCH", f"/api/clusters/{cid}/", {"description": "edited by the previous release"}],
        ["admin", "POST", "/api/workspaces/", {"name": f"old-{w.suffix}", "display_name": "Made by the old code"}],
    ]
    requests = [[persona, "GET", path, None] for persona, path, _ in reads] + writes
    results = run_old(previous_tree, w.tokens, requests)

    failures = [r for r in results if r["status"] not in (200, 201)]
    assert not failures, json.dumps(failures, indent=1)
    for (_, path, want), got in zip(reads, results, strict=False):
        if want is None:
            continue
        seen = got.get("ids") if "ids" in got else [got.get("id")]
        assert want in (seen or []), (path, want, got)

    # And the new code reads what the old code wrote.
    w.cluster.refresh_from_db()
    assert w.cluster.description == "edited by the previous release"
    assert Workspace.objects.filter(name=f"old-{w.suffix}").exists()
    assert w.client("admin").get(f"/api/clusters/{cid}/").status_code == 200

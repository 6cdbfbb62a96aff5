"""Fleet lifecycle: snapshot on shutdown and restore on start, kubeconfig/fleet.json contents."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from sandbox.resources import CONFIGMAPS
from sandbox.testing import running_sandbox


def test_snapshot_round_trip(tmp_path: Path) -> None:
    with running_sandbox(clusters=1, nodes=1, state_dir=tmp_path, snapshot=True, enable_controllers=False) as f:
        f.in_cluster("cluster-1", lambda c: c.store.create(
            CONFIGMAPS, {"metadata": {"name": "kept", "namespace": "default"}, "data": {"k": "v"}}))
        before = f.cluster("cluster-1")
    assert (tmp_path / "snapshot.json").exists()
    assert json.loads((tmp_path / "fleet.json").read_text())["running"] is False
    with running_sandbox(clusters=1, nodes=1, state_dir=tmp_path, snapshot=True, enable_controllers=False) as f:
        after = f.cluster("cluster-1")
        kept = f.in_cluster("cluster-1", lambda c: c.store.get(CONFIGMAPS, "default", "kept"))
        assert kept is not None
        stored_rv = int(kept["metadata"]["resourceVersion"])
        assert f.in_cluster("cluster-1", lambda c: c.store.resource_version) >= stored_rv
    assert kept["data"] == {"k": "v"}
    assert after.token == before.token
    assert after.port == before.port


def test_kubeconfig_and_index(tmp_path: Path) -> None:
    with running_sandbox(clusters=2, nodes=1, state_dir=tmp_path, enable_controllers=False) as f:
        index = json.loads((tmp_path / "fleet.json").read_text())
        assert [c["name"] for c in index["clusters"]] == ["cluster-1", "cluster-2"]
        assert [c["provider"] for c in index["clusters"]] == ["aws", "gcp"]
        entry = index["clusters"][0]
        cfg = yaml.safe_load(Path(entry["kubeconfig"]).read_text())
        assert cfg["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{entry['port']}"
        assert cfg["users"][0]["user"]["token"] == entry["token"]
        assert cfg["current-context"] == "cluster-1"
        assert index["admin"]["url"] == f.admin_url
        assert (tmp_path / "cluster-1.kubeconfig").stat().st_mode & 0o777 == 0o600


def test_serve_command_with_config_and_snapshot(tmp_path: Path) -> None:
    """`python -m sandbox serve` in a subprocess: config file, fleet.json, SIGTERM, snapshot on shutdown."""
    import os
    import signal
    import ssl
    import subprocess
    import sys
    import time
    import urllib.request

    repo = Path(__file__).resolve().parents[2]
    config = tmp_path / "fleet.yaml"
    config.write_text("snapshot: true\nclusters:\n  - {name: prod-kr, provider: aws, nodes: 2}\n"
                      "  - {name: edge, provider: onprem, region: dc7, version: v1.31.2, nodes: 1}\n")
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "serve", "--state-dir", str(state), "--config",
                             str(config)], cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 30
        index: dict = {}
        while time.time() < deadline:
            if (state / "fleet.json").exists():
                index = json.loads((state / "fleet.json").read_text())
                if len(index.get("clusters", [])) == 2:
                    break
            time.sleep(0.1)
        clusters = {c["name"]: c for c in index["clusters"]}
        assert clusters["edge"]["region"] == "dc7"
        assert clusters["edge"]["version"] == "v1.31.2"
        ctx = ssl.create_default_context(cafile=index["ca"])
        req = urllib.request.Request(clusters["edge"]["server"] + "/version",
                                     headers={"Authorization": f"Bearer {clusters['edge']['token']}"})
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            assert json.loads(resp.read())["gitVersion"] == "v1.31.2"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert json.loads((state / "fleet.json").read_text())["running"] is False
    snapshot = json.loads((state / "snapshot.json").read_text())
    assert sorted(c["spec"]["name"] for c in snapshot["clusters"]) == ["edge", "prod-kr"]


def test_controller_config_reaches_clusters(tmp_path: Path) -> None:
    marker = object()
    with running_sandbox(clusters=1, nodes=1, state_dir=tmp_path, enable_controllers=False,
                         controller_config=marker) as f:
        assert f.in_cluster("cluster-1", lambda c: c.controller_config) is marker

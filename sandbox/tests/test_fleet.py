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

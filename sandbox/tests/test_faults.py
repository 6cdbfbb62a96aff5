"""Fault injection and fleet changes at runtime: latency, error share, blackhole, token rotation,
endpoint down/up, closing watches, and the admin CLI (add/remove cluster, fault)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from sandbox.testing import SandboxFleet
from sandbox.tests.helpers import Raw

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clear(fleet: SandboxFleet) -> None:
    fleet.clear_faults("cluster-1")


def test_latency(fleet: SandboxFleet, raw: Raw) -> None:
    fleet.inject_fault("cluster-1", latency_ms=300)
    start = time.monotonic()
    status, _, _ = raw.request("GET", "/api/v1/namespaces")
    assert status == 200
    assert time.monotonic() - start >= 0.3


def test_error_share(fleet: SandboxFleet, raw: Raw) -> None:
    fleet.inject_fault("cluster-1", error_rate=1.0, error_codes=[429], retry_after=3)
    status, body, headers = raw.request("GET", "/api/v1/pods")
    assert status == 429
    assert body["reason"] == "TooManyRequests"
    assert headers["Retry-After"] == "3"
    assert body["details"]["retryAfterSeconds"] == 3
    fleet.inject_fault("cluster-1", error_rate=0.5, error_codes=[500, 503])
    codes = {raw.request("GET", "/api/v1/pods")[0] for _ in range(40)}
    assert 200 in codes
    assert codes & {500, 503}
    assert codes <= {200, 500, 503}


def test_blackhole_times_out_clients(fleet: SandboxFleet, raw: Raw) -> None:
    fleet.inject_fault("cluster-1", blackhole=True)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        raw.request("GET", "/api/v1/namespaces", timeout=0.5)
    assert time.monotonic() - start < 3
    fleet.inject_fault("cluster-1", blackhole=False)
    assert raw.request("GET", "/api/v1/namespaces")[0] == 200


def test_token_rotation_rewrites_kubeconfig(fleet: SandboxFleet, raw: Raw) -> None:
    old = fleet.cluster("cluster-1").token
    new = fleet.rotate_token("cluster-1")
    assert new != old
    assert raw.request("GET", "/api/v1/namespaces", token=old)[0] == 401
    assert raw.request("GET", "/api/v1/namespaces", token=new)[0] == 200
    cfg = yaml.safe_load(fleet.cluster("cluster-1").kubeconfig.read_text())
    assert cfg["users"][0]["user"]["token"] == new
    index = json.loads((fleet.state_dir / "fleet.json").read_text())
    assert next(c for c in index["clusters"] if c["name"] == "cluster-1")["token"] == new
    raw.handle = fleet.cluster("cluster-1")


def test_endpoint_down_and_up_on_same_port(fleet: SandboxFleet, raw: Raw) -> None:
    port = fleet.cluster("cluster-1").port
    fleet.inject_fault("cluster-1", down=True)
    with pytest.raises(ConnectionRefusedError):
        raw.request("GET", "/version", timeout=2)
    fleet.inject_fault("cluster-1", up=True)
    assert fleet.cluster("cluster-1").port == port
    assert raw.request("GET", "/version")[0] == 200


def test_close_watches_ends_streams(fleet: SandboxFleet, raw: Raw) -> None:
    conn = http.client.HTTPSConnection("127.0.0.1", raw.handle.port, context=raw.ctx, timeout=10)
    conn.request("GET", "/api/v1/namespaces?watch=1", headers={"Authorization": f"Bearer {raw.handle.token}"})
    resp = conn.getresponse()
    done = threading.Event()
    lines: list[bytes] = []

    def reader() -> None:
        lines.extend(resp.read().splitlines())
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    time.sleep(0.3)
    result = fleet.inject_fault("cluster-1", close_watches=True)
    assert result["closed_watches"] >= 1
    assert done.wait(5), "watch stream was not closed"
    assert any(b'"ADDED"' in line for line in lines)
    conn.close()


def _cli(state_dir: Path, *args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-m", "sandbox", *args, "--state-dir", str(state_dir)],
                         cwd=REPO, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_cli_add_fault_remove(fleet: SandboxFleet) -> None:
    info = _cli(fleet.state_dir, "add-cluster", "--name", "extra", "--nodes", "1", "--provider", "gcp")
    assert info["name"] == "extra"
    assert info["provider"] == "gcp"
    assert info["region"] == "asia-northeast3"
    extra = fleet.cluster("extra")
    assert extra.kubeconfig.exists()
    raw = Raw(extra)
    status, nodes, _ = raw.request("GET", "/api/v1/nodes")
    assert status == 200
    assert [n["metadata"]["name"] for n in nodes["items"]] == ["extra-node-1"]
    faults = _cli(fleet.state_dir, "fault", "--cluster", "extra", "--error-rate", "1", "--error-codes", "503")
    assert faults["faults"]["error_rate"] == 1.0  # type: ignore[index]
    assert raw.request("GET", "/api/v1/nodes")[0] == 503
    listed = _cli(fleet.state_dir, "list")
    assert "extra" in [c["name"] for c in listed["clusters"]]  # type: ignore[attr-defined]
    _cli(fleet.state_dir, "remove-cluster", "--name", "extra")
    assert not extra.kubeconfig.exists()
    with pytest.raises(ConnectionRefusedError):
        raw.request("GET", "/version", timeout=2)


def test_admin_requires_token(fleet: SandboxFleet) -> None:
    host, port = fleet.admin_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", "/clusters", headers={"Authorization": "Bearer nope"})
    assert conn.getresponse().status == 401
    conn.close()

"""The loopback git server and registry that build tests use (``sandbox.testing``): git itself
clones from the server, with and without HTTP basic auth, and the registry answers the
distribution API over HTTPS with its own CA."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import requests

from sandbox.testing import git_server, make_repo, registry_server


def _clone(url: str, ref: str, dest: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(["git", "clone", "--quiet", "--depth=1", "--branch", ref, "--", url, str(dest)],
                          capture_output=True, text=True, env=env, check=False)


def test_git_server_serves_branches_and_tags_behind_basic_auth(tmp_path: Path) -> None:
    first = make_repo(tmp_path / "git", "app", {"Dockerfile": "FROM scratch\n", "src/a.txt": "one"}, tags=["v1"])
    second = make_repo(tmp_path / "git", "app", {"Dockerfile": "FROM scratch\n", "src/a.txt": "two"})
    assert first != second
    assert len(second) == 40
    with git_server(tmp_path / "git", username="alice", password="s3cret") as server:
        url = server.url_for("app")
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/app.git")
        refused = _clone(url, "main", tmp_path / "no", tmp_path)
        assert refused.returncode == 128
        assert "could not read Username" in refused.stderr
        wrong = _clone(url.replace("http://", "http://alice:nope@"), "main", tmp_path / "no2", tmp_path)
        assert wrong.returncode == 128
        assert "Authentication failed" in wrong.stderr
        ok = _clone(url.replace("http://", "http://alice:s3cret@"), "v1", tmp_path / "v1", tmp_path)
        assert ok.returncode == 0, ok.stderr
        assert (tmp_path / "v1" / "src/a.txt").read_text() == "one"
        head = subprocess.run(["git", "-C", str(tmp_path / "v1"), "rev-parse", "HEAD"], capture_output=True, text=True)
        assert head.stdout.strip() == first
    with git_server(tmp_path / "git") as open_server:
        ok = _clone(open_server.url_for("app"), "main", tmp_path / "main", tmp_path)
        assert ok.returncode == 0, ok.stderr
        assert (tmp_path / "main" / "src/a.txt").read_text() == "two"


def test_registry_server_over_tls_with_basic_auth(tmp_path: Path) -> None:
    with registry_server(tmp_path, htpasswd_user="pusher", password="pw", tls=True) as registry:
        assert registry.url == f"https://{registry.host}"
        assert "BEGIN CERTIFICATE" in registry.ca_pem
        assert requests.get(f"{registry.url}/v2/", verify=registry.verify, timeout=5).status_code == 401
        assert requests.get(f"{registry.url}/v2/", verify=registry.verify, auth=registry.auth,
                            timeout=5).status_code == 200


def test_concurrent_pushes_of_equal_blobs_all_land(tmp_path: Path) -> None:
    """Concurrent builds push equal layers and configs into one repository; the registry's
    filesystem storage briefly misses a blob another push is committing (400 MANIFEST_BLOB_UNKNOWN
    on the manifest). The builder's push checks its blobs again and retries once: every tag lands."""
    import gzip
    import json
    import threading

    from sandbox.programs.build import Image, Layer, push
    from sandbox.programs.registry import (
        MEDIA_OCI_CONFIG,
        MEDIA_OCI_LAYER,
        MEDIA_OCI_MANIFEST,
        client_for,
        sha256,
    )

    data = gzip.compress(b"layer" * 1000, mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MEDIA_OCI_MANIFEST,
                           "config": {"mediaType": MEDIA_OCI_CONFIG, "digest": sha256(config), "size": len(config)},
                           "layers": [{"mediaType": MEDIA_OCI_LAYER, "digest": sha256(data), "size": len(data)}]}).encode()
    errors: list[str] = []
    with registry_server(tmp_path, htpasswd_user="pusher", password="pw", tls=True) as registry:
        def one(i: int) -> None:
            client = client_for(registry.host, ca_file=registry.ca_path, auth=registry.auth)
            image = Image(config, sha256(config), manifest, sha256(manifest),
                          [Layer(MEDIA_OCI_LAYER, sha256(data), len(data), "", data=data)])
            try:
                assert push(image, client, "team/app", f"t{i}") == sha256(manifest)
            except Exception as exc:  # collected: an assertion in a thread would go unseen
                errors.append(f"{i}: {exc}")

        threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        tags = requests.get(f"{registry.url}/v2/team/app/tags/list", auth=registry.auth, verify=registry.verify,
                            timeout=5).json()["tags"]
        assert sorted(tags) == sorted(f"t{i}" for i in range(16))

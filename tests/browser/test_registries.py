"""The registries console in a real Chromium against the real built-in registry (scripts/registry.sh,
Debian's docker-registry over HTTPS): an admin opens the built-in registry and allocates a
repository prefix to a workspace; the test pushes a tiny real OCI image (a config blob, one gzip
layer, a manifest) under that prefix through the Registry HTTP API; a developer of the workspace
browses to the repository, sees the tag with its real digest and size (and in Korean), deletes the
tag and sees it gone (and the registry no longer serves the manifest).

Running pieces: uvicorn (``portal_server``) and the built-in registry; no cluster is needed.
Skipped, saying how to start it, when the built-in registry does not answer.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import secrets
import tarfile
from pathlib import Path
from typing import Any

import pytest
import requests

from portal.testing import make_user, service_missing
from tests.browser.helpers import builtin_roles as _builtin_roles
from tests.browser.helpers import login as _login
from tests.browser.helpers import logout as _logout

pytestmark = pytest.mark.browser


def _registry() -> tuple[str, tuple[str, str], str]:
    """(``https://host``, basic auth, CA file) of the built-in registry, or skip saying why."""
    from django.conf import settings

    host = settings.PORTAL_BUILTIN_REGISTRY_HOST
    ca = settings.PORTAL_BUILTIN_REGISTRY_CA_FILE
    password_file = settings.PORTAL_BUILTIN_REGISTRY_PASSWORD_FILE
    if not host or not ca or not Path(ca).exists() or not Path(password_file).exists():
        service_missing("the built-in registry is not set up: run scripts/services.sh start")
    try:
        code = requests.get(f"https://{host}/v2/", verify=ca, timeout=3).status_code
    except requests.RequestException as exc:
        service_missing(f"the built-in registry at {host} does not answer ({type(exc).__name__}): run scripts/services.sh start")
    if code != 401:
        service_missing(f"https://{host}/v2/ answered {code}, not 401: is it the built-in registry?")
    return (f"https://{host}", (settings.PORTAL_BUILTIN_REGISTRY_USERNAME, Path(password_file).read_text().strip()),
            ca)


def _push(base: str, auth: tuple[str, str], ca: str, repository: str, tag: str) -> dict[str, Any]:
    """Push a one-layer OCI image; returns its manifest digest and size (config + layer)."""

    def blob(data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = requests.post(f"{base}/v2/{repository}/blobs/uploads/", auth=auth, verify=ca, timeout=10)
        assert started.status_code == 202, started.text
        location = requests.compat.urljoin(base, started.headers["Location"])
        done = requests.put(location + ("&" if "?" in location else "?") + f"digest={digest}", data=data, auth=auth,
                            verify=ca, timeout=10, headers={"Content-Type": "application/octet-stream"})
        assert done.status_code == 201, done.text
        return digest

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        content = b"hello from the registries browser test\n"
        info = tarfile.TarInfo("app/hello.txt")
        info.size, info.mtime = len(content), 0
        tar.addfile(info, io.BytesIO(content))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2026-12-01T09:30:00Z",
        "config": {"Cmd": ["/app/hello.txt"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]},
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blob(layer),
                    "size": len(layer)}],
    }).encode()
    put = requests.put(f"{base}/v2/{repository}/manifests/{tag}", data=manifest, auth=auth, verify=ca, timeout=10,
                       headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert put.status_code == 201, put.text
    return {"digest": "sha256:" + hashlib.sha256(manifest).hexdigest(), "size": len(config) + len(layer)}


def _human(size: int) -> str:
    """The console's size text (clusters/format.ts bytesHuman) for the sizes this test makes."""
    units, value, i = ["B", "KiB", "MiB"], float(size), 0
    while value >= 1024 and i < len(units) - 1:
        value, i = value / 1024, i + 1
    return f"{value:.0f} {units[i]}" if value >= 10 or i == 0 else f"{value:.1f} {units[i]}"


def test_admin_allocates_the_builtin_registry_and_a_member_sees_and_deletes_a_pushed_tag(
    portal_server: str, page: Any,
) -> None:
    from playwright.sync_api import expect

    from builds import registry_actions
    from workspaces.models import Membership, Role, Workspace

    base, auth, ca = _registry()
    builtin = registry_actions.ensure_builtin()
    assert builtin is not None
    _builtin_roles()
    make_user("ada", role="admin", password="correct-horse-battery")
    devon = make_user("devon", role="user", password="correct-horse-battery")
    workspace = Workspace.objects.create(name="team-a", display_name="Team A")
    Membership.objects.create(workspace=workspace, user=devon, role=Role.objects.get(key="developer"))
    # the registry is shared by every test session on the machine: a prefix of this run's own
    prefix = f"fer-{secrets.token_hex(4)}"
    repository = f"{prefix}/web"

    # --- the admin opens the built-in registry and allocates the prefix to team-a ----------------
    _login(page, base=portal_server, username="ada")
    page.get_by_test_id("nav-registries").click()
    row = page.get_by_test_id("registry-row-builtin")
    expect(row.get_by_test_id("builtin-badge")).to_be_visible()
    expect(row).to_contain_text(builtin.host)
    row.get_by_test_id("allocations-registry-builtin").click()
    dialog = page.get_by_test_id("allocations-dialog")
    dialog.get_by_test_id("allocation-workspace").select_option(str(workspace.pk))
    dialog.get_by_test_id("allocation-prefix").fill(prefix)
    dialog.get_by_test_id("allocation-submit").click()
    expect(dialog.get_by_test_id("allocation-row-team-a")).to_contain_text(f"{builtin.host}/{prefix}/")
    dialog.get_by_role("button", name="Close").click()
    expect(row.get_by_test_id("allocation-count")).to_contain_text("1")

    image = _push(base, auth, ca, repository, "v1")

    _logout(page)

    # --- the developer browses to the repository: the real digest and size ------------------------
    _login(page, base=portal_server, username="devon")
    page.get_by_test_id("nav-registries").click()
    row = page.get_by_test_id("registry-row-builtin")
    expect(row.get_by_test_id("registry-prefixes")).to_contain_text(f"{prefix}/")
    expect(row.get_by_test_id("allocations-registry-builtin")).to_have_count(0)  # admins only
    row.get_by_test_id("open-registry-builtin").click()
    expect(page).to_have_url(re.compile(rf"/registries/{builtin.pk}$"))
    page.get_by_test_id("repository-search").fill("web")
    page.get_by_test_id(f"open-repository-{repository}").click()
    expect(page).to_have_url(re.compile(rf"/registries/{builtin.pk}/repositories/{re.escape(repository)}$"))
    tag = page.get_by_test_id("tag-row-v1")
    expect(tag.get_by_test_id("tag-digest")).to_have_attribute("data-digest", image["digest"], timeout=10_000)
    expect(tag.get_by_test_id("tag-size")).to_have_attribute("data-size", str(image["size"]))
    expect(tag.get_by_test_id("tag-digest")).to_have_text(image["digest"][:19])  # sha256: + 12 hex digits
    expect(tag.get_by_test_id("tag-digest")).to_have_attribute("title", image["digest"])
    expect(tag.get_by_test_id("tag-size")).to_have_text(_human(image["size"]))
    expect(tag.get_by_test_id("tag-platforms")).to_have_text("linux/amd64")
    expect(tag.get_by_test_id("scan-none")).to_be_visible()
    # and in Korean
    page.select_option("[data-testid=lang-switch]", "ko")
    expect(page.get_by_test_id("tags-table")).to_contain_text("다이제스트")
    expect(tag.get_by_test_id("scan-none")).to_have_text("스캔 안 됨")

    # --- delete the tag: confirmed, gone from the page and from the registry ---------------------
    tag.get_by_test_id("delete-tag-v1").click()
    confirm = page.get_by_test_id("confirm-dialog")
    expect(confirm).to_contain_text(f"{builtin.host}/{repository}:v1")
    page.get_by_test_id("confirm-delete-tag").click()
    expect(confirm).to_have_count(0)
    expect(page.get_by_test_id("tag-row-v1")).to_have_count(0)
    expect(page.get_by_test_id("tags-empty")).to_be_visible()
    gone = requests.head(f"{base}/v2/{repository}/manifests/{image['digest']}", auth=auth, verify=ca, timeout=10,
                         headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert gone.status_code == 404

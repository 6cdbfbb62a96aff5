"""The builds main path in a real Chromium, against every real backend piece: a developer of a
workspace creates a build definition in the console for a git repository served on loopback by git
itself (``sandbox.testing.git_server``: a Dockerfile ``FROM scratch`` + ``COPY``), targeting the
built-in registry under the workspace's prefix and building on a sandbox cluster's service map; runs
it from the list, watches the steps' logs arrive live on the run page and the status become DONE with
the pushed image's digest and size; the list shows the run with Cocktail's columns, and the run
page reads in Korean.

Running pieces: uvicorn (``portal_server``), a Celery worker and ``manage.py runwatchers``
(``backend_workers``), a one-cluster sandbox fleet whose builder pod pushes a real OCI image to the
built-in registry (``scripts/services.sh start`` runs it; the test skips, saying so, when it does
not answer).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from portal.testing import make_user, service_missing
from tests.browser.helpers import CLUSTER, PASSWORD
from tests.browser.helpers import builtin_roles as _builtin_roles
from tests.browser.helpers import login as _login
from tests.browser.helpers import logout as _logout
from tests.browser.helpers import register_cluster as _register_cluster

pytestmark = pytest.mark.browser

WORKSPACE = "team-build"
NAMESPACE = "builds"
DOCKERFILE = "FROM scratch\nLABEL org.opencontainers.image.title=hello\nCOPY hello.txt /hello.txt\nCMD [\"/hello\"]\n"


def _builtin_registry() -> Any:
    """The built-in registry's row in the test database, or a skip saying how to start it."""
    import requests
    from django.conf import settings

    from builds import registry_actions

    host, ca = settings.PORTAL_BUILTIN_REGISTRY_HOST, settings.PORTAL_BUILTIN_REGISTRY_CA_FILE
    if not host or not ca or not Path(ca).exists():
        service_missing("the built-in registry is not set up: run scripts/services.sh start")
    try:
        requests.get(f"https://{host}/v2/", verify=ca, timeout=3)
    except requests.RequestException:
        service_missing(f"the built-in registry at {host} does not answer: run scripts/services.sh start")
    return registry_actions.ensure_builtin()


def _workspace(cluster_id: int, registry_host: str) -> int:
    """team-build: the cluster allocated with a quota, a service map where the build pods run,
    the built-in registry's ``team-build/…`` prefix, and devon as a developer (``builds.run``)."""
    from django.contrib.auth import get_user_model

    from workspaces import quota as q
    from workspaces import services as ws_services
    from workspaces.models import (
        ClusterAllocation,
        Membership,
        RegistryAllocation,
        Role,
        ServiceMap,
        Workspace,
    )

    workspace = Workspace.objects.create(name=WORKSPACE, display_name="Team Build")
    Membership.objects.create(workspace=workspace, user=get_user_model().objects.get(username="devon"),
                              role=Role.objects.get(key="developer"))
    quota = q.dump(q.parse({"requests.cpu": "4", "requests.memory": "8Gi", "pods": "20"}))
    ClusterAllocation.objects.create(workspace=workspace, cluster_id=cluster_id, quota=quota, status="ready")
    sm = ServiceMap.objects.create(workspace=workspace, cluster_id=cluster_id, namespace=NAMESPACE, quota=quota)
    assert ws_services.apply_service_map(sm.pk) == "ready"
    RegistryAllocation.objects.create(workspace=workspace, registry=f"{registry_host}/{WORKSPACE}")
    return sm.pk


def test_developer_defines_a_build_runs_it_and_sees_the_log_and_the_image(
    portal_server: str, backend_workers: None, fleet: Any, page: Any, tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    from sandbox.testing import git_server, make_repo

    registry = _builtin_registry()
    _builtin_roles()
    make_user("ada", role="admin", password=PASSWORD)
    make_user("devon", role="user", password=PASSWORD)
    base = portal_server

    _login(page, base, "ada")
    cluster_id = _register_cluster(page, base, fleet.cluster(CLUSTER).kubeconfig.read_text())
    service_map_id = _workspace(cluster_id, registry.host)
    _logout(page)

    with git_server(tmp_path / "git") as git:
        commit = make_repo(git.root, "hello", {"Dockerfile": DOCKERFILE, "hello.txt": "hello from the browser test\n"})

        # --- the developer: an empty list says what to do, then the editor -----------------------------
        _login(page, base, "devon")
        page.get_by_test_id("nav-builds").click()
        expect(page.get_by_test_id("builds-empty")).to_be_visible()
        page.get_by_test_id("new-build").click()
        form = page.get_by_test_id("definition-form")
        expect(form.get_by_test_id("field-workspace")).to_have_value(re.compile(r"\d+"))
        form.get_by_test_id("field-name").fill("hello")
        form.get_by_test_id("field-git-url").fill(git.url_for("hello"))
        form.get_by_test_id("field-registry").select_option(str(registry.pk))
        expect(form.get_by_test_id("registry-prefixes")).to_contain_text(f"{WORKSPACE}/…")
        # a repository outside the workspace's prefix is answered at its field
        form.get_by_test_id("field-repository").fill("someone-else/hello")
        form.get_by_test_id("field-cluster").select_option(str(cluster_id))
        form.get_by_test_id("field-service-map").select_option(str(service_map_id))
        form.get_by_test_id("field-scan").uncheck()
        form.get_by_test_id("definition-save").click()
        expect(form.get_by_test_id("field-repository")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_test_id("definition-error")).to_be_visible()
        form.get_by_test_id("field-repository").fill(f"{WORKSPACE}/hello")
        form.get_by_test_id("definition-save").click()

        # --- the list: the new definition, never built; Run opens the run page ---------------------------
        row = page.get_by_test_id("build-row-hello")
        expect(row.get_by_test_id("build-image")).to_have_text(f"{registry.host}/{WORKSPACE}/hello")
        expect(row.get_by_test_id("build-status")).to_have_text("Never built")
        row.get_by_test_id("run-hello").click()
        expect(page).to_have_url(re.compile(r"/builds/runs/\d+$"))
        page.evaluate("window.__sameDocument = true")

        # --- the run page: logs arrive live, the status becomes DONE with the digest ---------------------
        header = page.get_by_test_id("run-header")
        expect(page.get_by_test_id("log-lines-clone")).to_contain_text("Cloning into", timeout=60_000)
        expect(page.get_by_test_id("log-lines-build")).to_contain_text("COPY hello.txt", timeout=60_000)
        expect(header).to_have_attribute("data-status", "succeeded", timeout=90_000)
        expect(header.get_by_test_id("run-status")).to_have_text("DONE")
        digest = header.get_by_test_id("run-digest")
        expect(digest).to_have_attribute("data-digest", re.compile(r"^sha256:[0-9a-f]{64}$"))
        full = digest.get_attribute("data-digest") or ""
        expect(digest).to_contain_text(full[:19])
        expect(header.get_by_test_id("run-image")).to_have_text(f"{registry.host}/{WORKSPACE}/hello:1.0.B000001")
        expect(header.get_by_test_id("run-image-link")).to_have_attribute(
            "href", f"/registries/{registry.pk}/repositories/{WORKSPACE}/hello")
        expect(header.get_by_test_id("run-size")).to_have_text(re.compile(r"^\d+(\.\d)? (B|KiB)$"))
        expect(header.get_by_test_id("run-commit")).to_contain_text(commit[:7])
        expect(page.get_by_test_id("step-build")).to_have_attribute("data-status", "succeeded")
        assert page.evaluate("window.__sameDocument") is True, "the run page was reloaded, not live"

        # the image is really in the registry with that digest
        from builds import registry_ops

        tags, _ = registry_ops.tags(registry, f"{WORKSPACE}/hello")
        assert [(t.tag, t.image.digest) for t in tags] == [("1.0.B000001", full)]

        # --- the list shows it with Cocktail's columns; the run page reads in Korean -------------------
        page.get_by_test_id("nav-builds").click()
        row = page.get_by_test_id("build-row-hello")
        expect(row.get_by_test_id("build-status")).to_have_text("DONE")
        expect(row.get_by_test_id("build-steps")).to_have_text("2/2")
        expect(row.get_by_test_id("build-size")).not_to_have_text("—")
        row.get_by_test_id("build-last-run").click()
        page.get_by_test_id("lang-switch").select_option("ko")
        expect(page.get_by_test_id("step-clone")).to_contain_text("소스 가져오기")
        expect(page.get_by_test_id("run-steps")).to_contain_text("단계 2/2")

"""Helpers shared by the browser test modules: the sandbox cluster's name, a Deployment body,
logging in and out in the console, registering the cluster with the browser's session. Test
modules import them from here and get fixtures (``fleet``, ``backend_workers``) from conftest,
never from another ``test_*`` module (tests/test_test_layout.py)."""

from __future__ import annotations

import re
import time
from typing import Any

CLUSTER = "sandbox-seoul"
PASSWORD = "correct-horse-battery"


def deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                {"name": name, "image": "nginx:1.27", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
            ]}},
        },
    }


def builtin_roles() -> None:
    """The built-in roles come from a data migration; a transactional test before us may have
    flushed them."""
    from workspaces.models import BUILTIN_ROLES, Role

    for key, spec in BUILTIN_ROLES.items():
        Role.objects.update_or_create(key=key, defaults={
            "name": spec["name"], "grants": sorted(str(g) for g in spec["grants"]), "builtin": True})



def login(page: Any, base: str, username: str) -> None:
    from playwright.sync_api import expect

    page.goto(base + "/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_test_id("dashboard")).to_be_visible()
    expect(page.get_by_test_id("ws-status")).to_have_attribute("data-state", "open", timeout=10_000)



def logout(page: Any) -> None:
    from playwright.sync_api import expect

    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/login"))



def register_cluster(page: Any, base: str, kubeconfig: str) -> int:
    """Registers the sandbox cluster through the API with the browser's session (the wizard has
    its own test) and waits until the portal has reached it, so the allocation applies at once."""
    page.request.get(base + "/api/auth/csrf/")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    headers = {"X-CSRFToken": token, "Referer": base + "/"}
    response = page.request.post(base + "/api/clusters/", data={"name": CLUSTER, "kubeconfig": kubeconfig},
                                 headers=headers)
    assert response.status == 202, response.text()
    cluster_id = int(response.json()["id"])
    deadline = time.monotonic() + 30
    while page.request.get(f"{base}/api/clusters/{cluster_id}/").json()["status"] != "connected":
        assert time.monotonic() < deadline, "the sandbox cluster never became connected"
        time.sleep(0.5)
    return cluster_id

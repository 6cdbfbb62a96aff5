"""A container's log on the pod page in a real Chromium (issue 15, grant ``pods.logs``): the
newest lines of the default container read through the portal from the sandbox over HTTPS, the
other container chosen, timestamps turned on, and "follow" bringing new lines without a reload.
No Content-Security-Policy violation on the way (the page fixture fails the test for any).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from portal.testing import make_user
from tests.browser.helpers import CLUSTER, login, register_cluster

pytestmark = pytest.mark.browser


def test_read_and_follow_a_containers_log(portal_server: str, backend_workers: None, fleet: Any, page: Any) -> None:
    from playwright.sync_api import expect

    from sandbox.resources import PODS

    fleet.in_cluster(CLUSTER, lambda c: c.store.create(PODS, {
        "metadata": {"name": "chatty", "namespace": "default"},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}, {"name": "proxy", "image": "nginx:1.27"}]}}))
    make_user("logan", role="admin")
    login(page, portal_server, "logan")
    cluster_id = register_cluster(page, portal_server, fleet.cluster(CLUSTER).kubeconfig.read_text())

    page.goto(f"{portal_server}/clusters/{cluster_id}/pods/default/chatty")
    expect(page.get_by_test_id("container-main")).to_contain_text("running", timeout=30_000)
    logs = page.get_by_test_id("pod-logs")
    logs.get_by_test_id("logs-refresh").click()  # the first read may have come before the container ran
    lines = logs.get_by_test_id("logs-lines")
    expect(lines).to_contain_text("busybox: starting (sandbox simulated container, image busybox:1.36)",
                                  timeout=15_000)
    expect(logs.get_by_test_id("logs-container")).to_have_value("main")

    logs.get_by_test_id("logs-container").select_option("proxy")
    expect(lines).to_contain_text("nginx: starting (sandbox simulated container, image nginx:1.27)")
    logs.get_by_test_id("logs-timestamps").check()
    expect(lines).to_contain_text(re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z nginx: starting"))

    # follow: the container writes a line a second; new ones arrive without a reload
    page.evaluate("window.__sameDocument = true")
    status = logs.get_by_test_id("logs-status")
    count = int(re.search(r"\d+", status.inner_text()).group())  # type: ignore[union-attr]
    logs.get_by_test_id("logs-follow").check()
    expect(status).not_to_contain_text(f"Lines: {count} ", timeout=15_000)
    expect(status).to_contain_text(re.compile(r"Lines: \d+"))
    assert int(re.search(r"Lines: (\d+)", status.inner_text()).group(1)) > count  # type: ignore[union-attr]
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"

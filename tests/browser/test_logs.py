"""The log viewer in a real Chromium (issue 14): a crash-looping Deployment in the sandbox, its
page's "Follow logs" link, the workload's pods followed over ``/ws/logs/`` with each line tagged
with its pod; new lines arriving live as the containers restart; pause (the viewer stops taking
lines) and resume; search within the buffer with highlighted hits. In English, then the same
viewer in Korean. No Content-Security-Policy violation on the way (the page fixture checks).
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from portal.testing import make_user
from tests.browser.helpers import CLUSTER, login, register_cluster

pytestmark = pytest.mark.browser

def _received(page: Any) -> int:
    text = page.get_by_test_id("logs-status").inner_text()
    # "… · 12 received · …" / "… · 수신 12줄 · …"
    match = re.search(r"(\d+) received", text) or re.search(r"수신 (\d+)줄", text)
    assert match, text
    return int(match.group(1))


def _crashloop_deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                {"name": "app", "image": "ghcr.io/sandbox-demo/recommendations:crashloop",
                 "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}}},
            ]}},
        },
    }


def test_follow_a_crash_looping_workloads_logs(portal_server: str, backend_workers: None, fleet: Any,
                                                page: Any) -> None:
    from playwright.sync_api import expect

    from sandbox.resources import DEPLOYMENTS

    fleet.in_cluster(CLUSTER, lambda c: c.store.create(DEPLOYMENTS, _crashloop_deployment("crashy", 2)))
    make_user("lena", role="admin")
    login(page, portal_server, "lena")
    cluster_id = register_cluster(page, portal_server, fleet.cluster(CLUSTER).kubeconfig.read_text())

    # the workload's page links to the viewer
    page.goto(f"{portal_server}/clusters/{cluster_id}/objects/apps/v1/deployments/crashy?namespace=default")
    link = page.get_by_test_id("follow-logs")
    expect(link).to_have_attribute("href", f"/logs/{cluster_id}/default/Deployment/crashy", timeout=30_000)
    # the watcher projects the pods before the follow resolves them
    expect(page.get_by_test_id("object-page")).to_contain_text("crashy-", timeout=30_000)
    page.evaluate("window.__sameDocument = true")
    link.click()

    viewer = page.get_by_test_id("logs-page")
    expect(viewer).to_have_attribute("data-status", "open", timeout=20_000)
    expect(page.get_by_test_id("logs-title")).to_contain_text("Deployment crashy")
    # both pods are followed, each with its own tag
    expect(page.get_by_test_id("logs-pod")).to_have_count(2, timeout=30_000)
    lines = page.get_by_test_id("log-line")
    expect(lines.first).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("logs-view")).to_contain_text("recommendations: starting", timeout=30_000)
    pods = {lines.nth(i).get_attribute("data-pod") for i in range(lines.count())}
    assert all(p and p.startswith("crashy-") for p in pods), pods

    # lines keep arriving as the containers restart, without a reload
    first = _received(page)
    deadline = time.monotonic() + 45
    while _received(page) <= first:
        assert time.monotonic() < deadline, "no new log line arrived live"
        time.sleep(0.5)
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"

    # pause: the viewer says so and takes no lines; resume: following again
    page.get_by_test_id("logs-pause").click()
    expect(viewer).to_have_attribute("data-paused", "true")
    expect(page.get_by_test_id("logs-status")).to_contain_text("Paused")
    expect(page.get_by_test_id("logs-pause")).to_have_text("Resume")
    time.sleep(1.5)  # what was in flight lands
    held = _received(page)
    time.sleep(4)
    assert _received(page) == held, "lines arrived while paused"
    page.get_by_test_id("logs-pause").click()
    expect(viewer).to_have_attribute("data-paused", "false")
    expect(page.get_by_test_id("logs-status")).to_contain_text("Following")

    # search within the buffer: hits counted and highlighted, next/previous move between them
    page.get_by_test_id("logs-search").fill("Configuration Loaded")
    count = page.get_by_test_id("logs-search-count")
    expect(count).to_contain_text(re.compile(r"1 of [1-9]\d*"))
    expect(page.locator(".log-text mark").first).to_have_text("configuration loaded")
    page.get_by_test_id("logs-search-next").click()
    expect(page.locator(".log-current")).to_have_count(1)
    expect(page.locator(".log-current")).to_contain_text("configuration loaded")
    page.get_by_test_id("logs-search").fill("no such text anywhere")
    expect(count).to_contain_text("0 of 0")

    # the same viewer in Korean
    page.get_by_test_id("logs-search").fill("")
    page.get_by_test_id("lang-switch").select_option("ko")
    expect(page.get_by_test_id("logs-title")).to_contain_text("Deployment crashy 로그")
    expect(page.get_by_test_id("logs-status")).to_contain_text("실시간 수신 중")
    page.get_by_test_id("logs-pause").click()
    expect(page.get_by_test_id("logs-pause")).to_have_text("재개")
    expect(page.get_by_test_id("logs-status")).to_contain_text("일시 정지됨")
    page.get_by_test_id("logs-pause").click()
    page.get_by_test_id("logs-search").fill("Configuration Loaded")
    expect(page.get_by_test_id("logs-search-count")).to_contain_text(re.compile(r"[1-9]\d*개 중 1"))

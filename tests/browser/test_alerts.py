"""Alerts in a real Chromium (issue 14): a crash-looping Deployment in the sandbox makes the real
evaluator (``monitoring.evaluate.run``, in a backend process on the portal's database and Redis)
open one ``pod_crash_looping`` alert per pod; the alerts list shows them live (``alert.updated``
on the ``alerts`` group, no reload); an admin acknowledges one with a note in English and the
other in Korean, and each alert's history shows the acknowledgement: who, and the note.
No Content-Security-Policy violation on the way (the page fixture checks).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from portal.testing import make_user
from tests.browser.helpers import CLUSTER, login, register_cluster

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
EVALUATE = "from monitoring import evaluate; print(evaluate.run())"


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


def _evaluate(env: dict[str, str]) -> None:
    """One run of the evaluator in its own process, as a worker runs it (its events go through
    the portal's Redis to the browser)."""
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", EVALUATE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def _open_alerts(page: Any, base: str) -> list[dict[str, Any]]:
    body = page.request.get(f"{base}/api/monitoring/alerts/?open=true").json()
    rows = body["results"] if isinstance(body, dict) else body
    return [a for a in rows if (a.get("rule") or {}).get("builtin") == "pod_crash_looping"]


def _acknowledge(page: Any, alert_id: int, note: str, *, ack: str, acknowledged: str) -> None:
    from playwright.sync_api import expect

    page.get_by_test_id(f"alert-row-{alert_id}").get_by_test_id("alert-link").click()
    expect(page.get_by_test_id("alert-page")).to_be_visible()
    expect(page.get_by_test_id("alert-state").first).to_have_attribute("data-state", "firing")
    history = page.get_by_test_id("alert-history")
    expect(history.get_by_test_id("transition")).to_have_count(1)
    button = page.get_by_test_id("alert-acknowledge")
    expect(button).to_have_text(ack)
    expect(button).to_be_enabled()
    button.click()
    dialog = page.get_by_test_id("ack-dialog")
    dialog.get_by_test_id("ack-dialog-note").fill(note)
    dialog.get_by_test_id("ack-dialog-submit").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("alert-state").first).to_have_attribute("data-state", "acknowledged")
    expect(page.get_by_test_id("alert-state").first).to_have_text(acknowledged)
    # the history keeps the acknowledgement: who, and the note
    step = history.locator("[data-testid=transition][data-to=acknowledged]")
    expect(step).to_have_count(1)
    expect(step.get_by_test_id("transition-note")).to_have_text(note)
    expect(step.get_by_test_id("transition-who")).to_contain_text("olga")
    # acknowledged once: the button now says why it is disabled
    expect(button).to_be_disabled()


def test_acknowledge_an_alert_in_english_and_korean(portal_server: str, backend_workers: None,
                                                     backend_env: dict[str, str], fleet: Any, page: Any) -> None:
    from playwright.sync_api import expect

    from sandbox.resources import DEPLOYMENTS

    make_user("olga", role="admin")
    login(page, portal_server, "olga")
    cluster_id = register_cluster(page, portal_server, fleet.cluster(CLUSTER).kubeconfig.read_text())
    assert cluster_id

    page.goto(f"{portal_server}/alerts")
    expect(page.get_by_test_id("alerts-empty")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    fleet.in_cluster(CLUSTER, lambda c: c.store.create(DEPLOYMENTS, _crashloop_deployment("crashy", 2)))
    # the watcher projects the pods' restarts; the evaluator opens one alert per crash-looping pod
    deadline = time.monotonic() + 90
    while len(_open_alerts(page, portal_server)) < 2:
        assert time.monotonic() < deadline, "the evaluator never opened two pod_crash_looping alerts"
        _evaluate(backend_env)
        time.sleep(1)
    first, second = sorted(_open_alerts(page, portal_server), key=lambda a: a["id"])

    # the list got them live, without a reload
    for alert in (first, second):
        row = page.get_by_test_id(f"alert-row-{alert['id']}")
        expect(row).to_be_visible(timeout=15_000)
        expect(row).to_contain_text("Pod crash-looping")
        expect(row).to_contain_text(alert["subject_name"])
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"

    _acknowledge(page, first["id"], "Looking into the crash loop", ack="Acknowledge", acknowledged="Acknowledged")

    # in Korean
    page.get_by_test_id("lang-switch").select_option("ko")
    page.get_by_role("link", name="알림", exact=True).first.click()
    expect(page.get_by_test_id("alerts-page")).to_contain_text("진행 중")
    expect(page.get_by_test_id(f"alert-row-{first['id']}").get_by_test_id("alert-state")).to_have_text("확인됨")
    _acknowledge(page, second["id"], "크래시 루프 원인 확인 중", ack="확인", acknowledged="확인됨")
    expect(page.get_by_test_id("alert-history")).to_contain_text("발생")

    # the server agrees
    both = {a["id"]: a for a in _open_alerts(page, portal_server)}
    assert both[first["id"]]["state"] == "acknowledged"
    assert both[first["id"]]["acknowledged_by"] == "olga"
    assert both[first["id"]]["acknowledge_note"] == "Looking into the crash loop"
    assert both[second["id"]]["acknowledge_note"] == "크래시 루프 원인 확인 중"

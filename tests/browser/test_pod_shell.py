"""A shell in a pod's container from the browser (issue 15): the pod page's terminal (xterm.js)
through /ws/exec/ (uvicorn, the real consumer) to the sandbox's exec endpoint over HTTPS and the
channel protocol. Type ``env``, see the container's variables from its spec; ``exit 3`` ends the
session with its code; the session is in the audit log. No Content-Security-Policy violation on
the way (the page fixture fails the test for any).
"""

from __future__ import annotations

from typing import Any

import pytest

from portal.testing import make_user, wait_for
from tests.browser.helpers import CLUSTER, login, register_cluster

pytestmark = pytest.mark.browser


def test_open_a_shell_and_run_env(portal_server: str, backend_workers: None, fleet: Any, page: Any) -> None:
    from playwright.sync_api import expect

    from portal.models import AuditRecord
    from sandbox.resources import PODS

    fleet.in_cluster(CLUSTER, lambda c: c.store.create(PODS, {
        "metadata": {"name": "toolbox", "namespace": "default"},
        "spec": {"containers": [
            {"name": "main", "image": "busybox:1.36", "env": [{"name": "SHELL_TEST_VAR", "value": "from-the-pod-spec"}]},
            {"name": "helper", "image": "busybox:1.36"}]}}))
    make_user("shelly", role="admin")
    login(page, portal_server, "shelly")
    cluster_id = register_cluster(page, portal_server, fleet.cluster(CLUSTER).kubeconfig.read_text())

    page.goto(f"{portal_server}/clusters/{cluster_id}/pods/default/toolbox")
    expect(page.get_by_test_id("container-main")).to_contain_text("running", timeout=30_000)
    terminal = page.get_by_test_id("pod-terminal")
    expect(terminal.get_by_test_id("terminal-status")).to_have_attribute("data-phase", "idle")
    terminal.get_by_test_id("terminal-container").select_option("main")
    terminal.get_by_test_id("terminal-command").select_option("/bin/sh")
    terminal.get_by_test_id("terminal-connect").click()
    status = terminal.get_by_test_id("terminal-status")
    expect(status).to_have_attribute("data-phase", "open", timeout=15_000)
    expect(status).to_contain_text("Connected to main")
    expect(status).to_have_attribute("data-protocol", "v5.channel.k8s.io")

    screen = terminal.get_by_test_id("terminal-screen")
    screen.click()
    page.keyboard.type("env")
    page.keyboard.press("Enter")
    expect(screen.locator(".xterm-rows")).to_contain_text("SHELL_TEST_VAR=from-the-pod-spec", timeout=10_000)
    expect(screen.locator(".xterm-rows")).to_contain_text("HOSTNAME=toolbox")

    page.keyboard.type("exit 3")
    page.keyboard.press("Enter")
    expect(status).to_have_attribute("data-phase", "exited", timeout=10_000)
    expect(status).to_contain_text("The shell exited with code 3.")
    expect(terminal.get_by_test_id("terminal-connect")).to_be_enabled()

    # The session's record is written as it ends, just after the exit frame.
    record = wait_for(lambda: AuditRecord.objects.filter(action="pod.exec").last(), timeout=10,
                      what="the shell's audit record")
    assert record.actor_username == "shelly"
    assert record.detail["pod"] == "toolbox"
    assert record.detail["container"] == "main"
    assert record.detail["exit_code"] == 3

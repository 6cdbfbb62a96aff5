"""The activity timeline in a real Chromium (issue 15, "done when"), against every real backend
piece: uvicorn, a Celery worker running the ObjectAction, the watcher recording changes, and a
sandbox cluster with its controllers, changed from outside with the real ``kubectl``.

An admin edits a Deployment's replicas in the object page's YAML tab (1 → 3, applied under
``portal:ada``); someone then runs ``kubectl edit`` on it (3 → 5). The object page's Timeline tab
shows, newest first: the event the kubectl edit caused, the kubectl edit as "changed outside the
portal" by ``kubectl-edit``, the event the portal edit caused, the portal edit by ada, and the first
rollout's event; the portal edit opens its diff with the replicas line, the kubectl edit its diff
against the portal's write; switched to Korean, the entries read in Korean.
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any

import pytest

from portal.testing import make_user, wait_for
from tests.browser.helpers import CLUSTER, PASSWORD
from tests.browser.helpers import deployment as _deployment
from tests.browser.helpers import login as _login
from tests.browser.helpers import register_cluster as _register_cluster

pytestmark = pytest.mark.browser


def _scaled_to(cluster_id: int, replicas: int) -> bool:
    """The read model holds the Deployment's ScalingReplicaSet event ending "to <replicas>"."""
    from clusters.models import KubeObject

    return any(str(data.get("message", "")).endswith(f"to {replicas}") for data in KubeObject.objects.filter(
        cluster_id=cluster_id, kind="Event", namespace="default", data__involved__kind="Deployment",
        data__involved__name="web", data__reason="ScalingReplicaSet").values_list("data", flat=True))


def test_the_timeline_shows_a_portal_edit_a_kubectl_edit_and_the_events_after_them(
    portal_server: str, backend_workers: None, fleet: Any, page: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.sync_api import expect

    from activity.models import ObjectChange
    from clusters.models import ObjectAction
    from sandbox.resources import DEPLOYMENTS
    from sandbox.tests.helpers import KUBECTL, kubectl

    if KUBECTL is None:
        pytest.skip("kubectl is not installed; the change outside the portal needs it")
    make_user("ada", role="admin", password=PASSWORD)
    _login(page, portal_server, "ada")
    cluster_id = _register_cluster(page, portal_server, fleet.cluster(CLUSTER).kubeconfig.read_text())
    fleet.in_cluster(CLUSTER, lambda c: c.store.create(DEPLOYMENTS, _deployment("web", 1)))
    wait_for(lambda: _scaled_to(cluster_id, 1), timeout=30, what="the first rollout's event")
    time.sleep(1.1)  # the timeline's times have the API server's second resolution

    # 1. The portal edit: replicas 1 → 3 in the YAML tab, previewed and applied.
    page.goto(f"{portal_server}/clusters/{cluster_id}/objects/apps/v1/deployments/web?namespace=default")
    expect(page.get_by_test_id("object-kind")).to_have_text("Deployment", timeout=15_000)
    # the pod list above the editor is complete before a click aims at a line (the layout settles)
    expect(page.locator('[data-testid^="object-pod-web-"]')).to_have_count(1, timeout=30_000)
    editor = page.get_by_test_id("yaml-editor")
    line = editor.locator(".cm-line", has_text=re.compile(r"^\s*replicas: 1$"))
    expect(line).to_have_count(1, timeout=15_000)
    line.click()
    page.keyboard.press("End")
    page.keyboard.press("Backspace")
    page.keyboard.type("3")
    expect(editor.locator(".cm-line", has_text=re.compile(r"^\s*replicas: 3$"))).to_have_count(1)
    page.get_by_test_id("yaml-preview").click()
    expect(page.get_by_test_id("yaml-preview-result")).to_have_attribute("data-changed", "true", timeout=15_000)
    page.get_by_test_id("yaml-apply").click()
    expect(page.get_by_test_id("apply-succeeded")).to_be_visible(timeout=30_000)
    edit = ObjectAction.objects.get(cluster_id=cluster_id, name="web", action="apply")
    wait_for(lambda: _scaled_to(cluster_id, 3), timeout=30, what="the portal edit's event")
    wait_for(lambda: ObjectChange.objects.filter(cluster_id=cluster_id, name="web", manager="portal:ada").exists(),
             timeout=30, what="the portal's write recorded as the base of the next diff")
    time.sleep(1.1)

    # 2. The change outside the portal: the real kubectl edit, replicas 3 → 5.
    editor_cmd = f"{sys.executable} -c \"import sys,re;p=sys.argv[1];t=open(p).read();" \
                 f"open(p,'w').write(re.sub(r'replicas: 3', 'replicas: 5', t, count=1))\""
    monkeypatch.setenv("KUBE_EDITOR", editor_cmd)
    kubectl(fleet.cluster(CLUSTER).kubeconfig, "edit", "deployment", "web", "-n", "default")
    wait_for(lambda: _scaled_to(cluster_id, 5), timeout=30, what="the kubectl edit's event")
    outside = wait_for(lambda: ObjectChange.objects.filter(cluster_id=cluster_id, name="web", outside=True).first(),
                       timeout=30, what="the kubectl edit recorded")
    assert outside.manager == "kubectl-edit"

    # 3. The Timeline tab, newest first.
    page.get_by_test_id("object-tab-timeline").click()
    timeline = page.get_by_test_id("timeline")
    entries = timeline.locator('[data-testid^="timeline-entry-"]')
    expect(timeline.get_by_test_id(f"timeline-entry-outside:{outside.pk}")).to_be_visible(timeout=15_000)
    rows: list[dict[str, str]] = entries.evaluate_all(
        "els => els.map(e => ({id: e.dataset.testid.replace('timeline-entry-', ''), source: e.dataset.source,"
        " text: e.querySelector('[data-testid=timeline-what]').textContent}))")
    ids = [r["id"] for r in rows]

    def index(source: str, text: str) -> int:
        return next(i for i, r in enumerate(rows) if r["source"] == source and text in r["text"])

    after_kubectl = index("event", "to 5")
    kubectl_edit = ids.index(f"outside:{outside.pk}")
    after_portal = index("event", "to 3")
    portal_edit = ids.index(f"portal:{edit.pk}")
    first_rollout = index("event", "to 1")
    assert after_kubectl < kubectl_edit < after_portal < portal_edit < first_rollout, rows
    assert rows[after_kubectl]["text"].startswith("ScalingReplicaSet: Scaled up replica set web-")
    assert rows[kubectl_edit]["text"] == "Deployment web changed outside the portal by kubectl-edit"
    assert rows[portal_edit]["text"] == "ada edited Deployment web"
    portal_entry = timeline.get_by_test_id(f"timeline-entry-portal:{edit.pk}")
    expect(portal_entry).to_contain_text("done")
    expect(timeline.get_by_test_id(f"timeline-entry-outside:{outside.pk}")).to_contain_text("Outside the portal")

    # 4. Each change opens its diff: the portal edit's replicas line, kubectl's against the portal's write.
    timeline.get_by_test_id(f"timeline-diff-button-portal:{edit.pk}").click()
    portal_diff = timeline.get_by_test_id(f"timeline-unified-diff-portal:{edit.pk}")
    expect(portal_diff).to_contain_text(re.compile(r"-\s*replicas: 1"), timeout=15_000)
    expect(portal_diff).to_contain_text(re.compile(r"\+\s*replicas: 3"))
    timeline.get_by_test_id(f"timeline-diff-button-outside:{outside.pk}").click()
    kubectl_diff = timeline.get_by_test_id(f"timeline-diff-outside:{outside.pk}")
    expect(kubectl_diff).to_contain_text("portal:ada's change", timeout=15_000)
    expect(kubectl_diff).to_contain_text("+replicas: 5")

    # 5. In Korean.
    page.get_by_test_id("lang-switch").select_option("ko")
    expect(timeline.get_by_test_id(f"timeline-entry-outside:{outside.pk}").get_by_test_id("timeline-what")).to_have_text(
        "Deployment web이(가) 포털 밖에서 kubectl-edit에 의해 변경되었습니다")
    expect(timeline.get_by_test_id(f"timeline-entry-outside:{outside.pk}")).to_contain_text("포털 밖")
    expect(portal_entry.get_by_test_id("timeline-what")).to_have_text("ada이(가) Deployment web을(를) 편집했습니다")
    expect(portal_entry).to_contain_text("완료")

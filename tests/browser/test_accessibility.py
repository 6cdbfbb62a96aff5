"""Every main page of the console (``tests/browser/pages.py``) through axe-core in a real Chromium,
in Korean and in English, and the main ones in dark mode too (in Korean): no serious or critical violation of
WCAG 2 A/AA or axe's best practices. Each page's full-page screenshot goes to
``var/screenshots/<lang>/<page>.png`` (``ko-dark`` for dark mode; ``var/`` is git-ignored) so
a person can review the console page by page.

One portal server, one sandbox cluster, one Celery worker and watcher, one Chromium and one data
set for the whole check: the pages are visited in a loop and every violation is collected, then
the test fails once with the full list (rule, impact, element, help URL). A second test drives a
dialog and the theme switch with the keyboard only.

axe-core comes from ``frontend/node_modules`` (a dev dependency) and is injected with
``add_script_tag``; the contexts that run it bypass the Content-Security-Policy for that script
only (``test_csp.py`` checks the policy itself).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from portal.testing import make_user, wait_for
from tests.browser.helpers import CLUSTER, PASSWORD, builtin_roles, deployment, login, register_cluster
from tests.browser.pages import ADMIN, DEPLOYMENT, DEVELOPER, PAGES, Page, World, build_world

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "var" / "screenshots"
FAILING_IMPACTS = ("serious", "critical")
VIEWPORT = {"width": 1440, "height": 900}

_RUN_AXE = """async () => {
  const result = await window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'best-practice'] },
    resultTypes: ['violations'],
  });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
    count: v.nodes.length,
  }));
}"""


def _context(browser: Any, *, lang: str, scheme: str, state: dict[str, Any] | None) -> Any:
    context = browser.new_context(locale="ko-KR" if lang == "ko" else "en-US", viewport=VIEWPORT,
                                  color_scheme=scheme, storage_state=state, bypass_csp=True)
    context.add_init_script(f"window.localStorage.setItem('portal.language', '{lang}');"
                            "window.localStorage.removeItem('portal.theme');")
    return context


def _settle(page: Any, ready: str) -> str | None:
    """Wait until the page shows its data and nothing is loading; the problem, or None."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.locator(ready).first.wait_for(state="visible", timeout=20_000)
    except PlaywrightTimeout:  # reported as a finding, with the screenshot
        return f"did not show {ready!r}"
    try:
        page.wait_for_function("() => !document.querySelector('.loading, [aria-busy=true]')", timeout=10_000)
    except PlaywrightTimeout:
        return "still loading after 10 s"
    return None


def _check(page: Any, url: str, target: Page, shot: Path) -> tuple[list[dict[str, Any]], str | None]:
    page.goto(url)
    problem = _settle(page, target.ready or "main h1")
    if target.key != "not-found" and page.get_by_test_id("not-found").count():
        problem = "shows the page-not-found page"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    page.add_script_tag(path=str(AXE))
    return page.evaluate(_RUN_AXE), problem


def _format(where: str, violation: dict[str, Any]) -> str:
    lines = [f"{where}: {violation['id']} ({violation['impact']}, {violation['count']} element(s)): "
             f"{violation['help']} <{violation['helpUrl']}>"]
    lines += [f"    {node['target']}: {(node['summary'] or '').splitlines()[-1].strip()}"
              for node in violation["nodes"]]
    return "\n".join(lines)


def _storage_state(browser: Any, base: str, username: str) -> dict[str, Any]:
    context = browser.new_context(locale="en-US", viewport=VIEWPORT)
    page = context.new_page()
    login(page, base, username)
    state = context.storage_state()
    context.close()
    return state


# About 120 page views (each loaded, photographed and checked): longer than the suite's default
# 300 s per test on a loaded machine, and still one server, one cluster and one browser.
@pytest.mark.timeout(600)
def test_every_page_passes_axe_in_both_languages(
    portal_server: str, backend_workers: None, fleet: Any, browser: Any,
) -> None:
    from sandbox.resources import DEPLOYMENTS, PODS

    assert AXE.is_file(), "axe-core is missing: run npm ci in frontend/"
    base = portal_server
    builtin_roles()
    make_user(ADMIN, role="admin", password=PASSWORD)
    fleet.in_cluster(CLUSTER, lambda c: c.store.create(DEPLOYMENTS, deployment(DEPLOYMENT, 2)))

    context = browser.new_context(locale="en-US", viewport=VIEWPORT)
    page = context.new_page()
    login(page, base, ADMIN)
    cluster_id = register_cluster(page, base, fleet.cluster(CLUSTER).kubeconfig.read_text())
    context.close()
    wait_for(lambda: [p for p in fleet.in_cluster(CLUSTER, lambda c: c.store.list(PODS, "default")[0])
                      if p["metadata"]["name"].startswith(DEPLOYMENT)], what="the web pods")
    world: World = build_world(cluster_id, fleet)
    states = {ADMIN: _storage_state(browser, base, ADMIN), DEVELOPER: _storage_state(browser, base, DEVELOPER)}

    for folder in ("ko", "en", "ko-dark", "en-dark"):  # no stale pictures of pages no longer listed
        for old in (SHOTS / folder).glob("*.png"):
            old.unlink()
    findings: list[str] = []
    notes: list[str] = []
    runs = [(lang, "light", p) for lang in ("ko", "en") for p in PAGES]
    runs += [("ko", "dark", p) for p in PAGES if p.dark]
    started = time.monotonic()
    contexts: dict[tuple[str, str, str | None], Any] = {}
    try:
        for lang, scheme, target in runs:
            key = (lang, scheme, target.user)
            if key not in contexts:
                contexts[key] = _context(browser, lang=lang, scheme=scheme,
                                         state=states[target.user] if target.user else None)
                contexts[key].new_page()
            tab = contexts[key].pages[0]
            folder = lang if scheme == "light" else f"{lang}-dark"
            where = f"{folder}/{target.key} {target.path}"
            violations, problem = _check(tab, world.url(base, target), target, SHOTS / folder / f"{target.key}.png")
            if problem:
                findings.append(f"{where}: {problem} (see var/screenshots/{folder}/{target.key}.png)")
            for violation in violations:
                text = _format(where, violation)
                (findings if violation["impact"] in FAILING_IMPACTS else notes).append(text)
    finally:
        for context in contexts.values():
            context.close()
    print(f"\naxe: {len(runs)} page views in {time.monotonic() - started:.0f} s")
    if notes:
        print("moderate/minor findings (not failing):\n" + "\n".join(notes))
    assert not findings, "serious or critical accessibility violations:\n" + "\n".join(findings)


def _focused_testid(page: Any) -> str | None:
    return page.evaluate("() => document.activeElement && document.activeElement.getAttribute('data-testid')")


def _focus_in(page: Any, selector: str) -> bool:
    return bool(page.evaluate("(s) => !!document.activeElement && !!document.activeElement.closest(s)", selector))


def test_keyboard_only_dialog_skip_link_and_theme_switch(portal_server: str, page: Any) -> None:
    """Without the mouse: the skip link takes focus to the page; a dialog opened with Enter keeps
    Tab and Shift+Tab inside it, Escape closes it and focus returns to the button that opened it;
    the theme switch in the top bar changes the theme and the choice survives a reload."""
    from playwright.sync_api import expect

    base = portal_server
    builtin_roles()
    make_user(ADMIN, role="admin", password=PASSWORD)
    login(page, base, ADMIN)
    page.goto(base + "/workspaces")
    expect(page.locator("main h1")).to_be_visible()

    # The skip link is the first stop and moves focus to the main landmark.
    page.locator("body").focus()
    page.keyboard.press("Tab")
    skip = page.get_by_test_id("skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()

    opener = page.get_by_test_id("create-workspace")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_test_id("create-workspace-dialog")
    expect(dialog).to_be_visible()
    assert _focus_in(page, "[role=dialog]"), "focus did not move into the dialog"
    for _ in range(12):
        page.keyboard.press("Tab")
        assert _focus_in(page, "[role=dialog]"), "Tab left the dialog"
    for _ in range(12):
        page.keyboard.press("Shift+Tab")
        assert _focus_in(page, "[role=dialog]"), "Shift+Tab left the dialog"
    # The focused element shows a visible outline.
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), f"the focused control has no visible outline ({outline})"
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(opener).to_be_focused()

    # The theme switch: dark, remembered across a reload, back to the system setting.
    switch = page.get_by_test_id("theme-switch")
    switch.focus()
    switch.select_option("dark")
    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", "dark")
    light_bg = "rgb(244, 246, 249)"
    assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") != light_bg
    page.reload()
    expect(html).to_have_attribute("data-theme", "dark")
    expect(page.get_by_test_id("theme-switch")).to_have_value("dark")
    page.get_by_test_id("theme-switch").select_option("light")
    expect(html).to_have_attribute("data-theme", "light")
    assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") == light_bg
    page.get_by_test_id("theme-switch").select_option("system")
    expect(html).not_to_have_attribute("data-theme", re.compile("."))

"""The Content-Security-Policy in a real Chromium: the console loads and runs under it (the page
fixture fails any test with a CSP report on the console), and the policy really is enforced:
a script injected inline, the way an XSS would, does not run."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_an_injected_inline_script_is_refused(portal_server: str, browser: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(locale="en-US")
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    response = page.goto(portal_server + "/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("input[name=username]")).to_be_visible()
    assert not [m for m in messages if "Content Security Policy" in m]  # the console itself is clean

    page.evaluate("""() => {
        const s = document.createElement('script');
        s.textContent = 'window.__injected = true';
        document.body.appendChild(s);
        const d = document.createElement('div');
        d.innerHTML = '<img src="x" onerror="window.__injected = true">';
        document.body.appendChild(d);
    }""")
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__injected") is None
    assert any("Content Security Policy" in m for m in messages), messages
    context.close()

"""The dashboard with credentials, in headless Chromium (as test_dashboard.py): tenant
settings list the credential (binding, placement, never the value), a sandbox's Credentials
tab shows its placeholder and detaches it, the audit and the live log mark the injected
request and the reflection — and no rendered page holds the canary in any form.
"""
import base64

from conftest import Gateway  # noqa: F401 (World builds it)
from test_credentials import CANARY, World, assert_absent, bearer
from test_dashboard import Page, browser  # noqa: F401 (fixture)


def test_dashboard_lists_credentials_and_marks_injected_and_reflected_requests_never_the_value(tmp_path, browser):
    w = World(tmp_path)
    try:
        g, echo = w.g, w.echo
        w.credential()
        s = w.sandbox("openai")
        p = s["placeholders"]["openai"]
        url = f"https://api.openai.test:{echo.port}/echo"
        assert w.request(s, "GET", url, headers=bearer(p)).status_code == 200
        g.wait_audit(lambda e: e.get("rejected_by") == "credential-reflected", sandbox=s["id"])

        page = Page(browser, g.api, [])
        page.sign_in(g.admin)
        sources = []

        page.go("#/tenant")
        row = page.wait_css('#tenant-credentials tr[data-credential="openai"]')
        assert f"https://api.openai.test:{echo.port}" in row.text and "header Authorization: Bearer {secret}" in row.text, row.text
        sources.append(browser.page_source)

        page.go(f"#/sandbox/{s['id']}/credentials")
        row = page.wait_css('tr[data-credential="openai"]')
        assert p in row.text, "the sandbox's tab shows its placeholder"
        sources.append(browser.page_source)

        page.go(f"#/sandbox/{s['id']}/audit")
        page.wait_css('#audit-results tr[data-credential="openai"]')
        page.wait_css('#audit-results tr[data-reflected="true"]')
        assert not page.all('#audit-results tr[data-credential="null"]'), "no attribute for an entry without a credential"
        page.wait_text("#audit-results", "credential-reflected")
        marks = browser.execute_script(
            "return [...document.querySelectorAll('#audit-results .badge-injected, #audit-results .badge-reflected')].map((e) => e.className + ': ' + e.textContent)")
        assert any(m.endswith("badge-injected: credential openai") for m in marks), marks
        assert any("badge-reflected" in m for m in marks), marks
        sources.append(browser.page_source)

        page.go(f"#/sandbox/{s['id']}/live")
        page.wait_text("#live-state", "live")
        # The live log shows what happens from now on: one more injected (and reflected) request.
        assert w.request(s, "GET", url, headers=bearer(p)).status_code == 200
        page.wait_css('li[data-credential="openai"]')
        page.wait_css('#live-log li[data-reflected="true"] .badge-reflected')
        page.wait_css('#live-log li[data-credential="openai"] .badge-injected')
        sources.append(browser.page_source)

        for i, html in enumerate(sources):
            assert_absent(html, f"dashboard page #{i}")
            assert base64.b64encode(CANARY.encode()).decode() not in html

        # Detach from the dashboard: the placeholder is revoked at once.
        page.go(f"#/sandbox/{s['id']}/credentials")
        page.wait_css('tr[data-credential="openai"] button').click()
        page.toast("Detached openai")
        assert g.call("GET", f"/api/v1/sandboxes/{s['id']}/network/credentials").json()["items"] == []
    finally:
        w.close()

"""The web dashboard in a real headless Chromium (Debian's chromium + chromium-driver,
driven with selenium): sign in, traffic through the proxy shows up on the Network tab,
Lock Down with one host unchecked, that host is blocked and lands in Pending, one click
allows it, Observe rolls back, the live log shows a request within two seconds.

Screenshots of every screen go to test-artifacts/dashboard/ (gitignored; $PORTCULLIS_ARTIFACTS
replaces test-artifacts/); their paths are printed, and scripts/test lists them after the
end-to-end run, passed or failed, so CI's log names them.

Network rule: the browser only loads http://127.0.0.1:<port>/ (the gateway under test);
the proxied requests go to loopback upstreams by `.test` names from the hosts file.
"""
import inspect
import os
import pathlib
import shutil
import time

import pytest
import requests

from conftest import ROOT, Gateway, via

ART = pathlib.Path(os.environ.get("PORTCULLIS_ARTIFACTS") or ROOT / "test-artifacts") / "dashboard"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _browser_or_reason():
    missing = [p for p in (CHROMIUM, DRIVER) if not os.path.exists(p)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python selenium")
    return ", ".join(missing)


@pytest.fixture
def browser():
    missing = _browser_or_reason()
    if missing:
        # CI runs as root and scripts/test installs these: absent there means broken, so fail.
        if os.geteuid() == 0 or os.environ.get("CI") or os.environ.get("PORTCULLIS_TEST_IN_NETNS"):
            pytest.fail(f"dashboard browser tests need {missing} (scripts/test installs chromium, chromium-driver, selenium)")
        pytest.skip(f"not root and {missing} missing: install chromium, chromium-driver and selenium to run the dashboard tests")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
              "--disable-background-networking", "--disable-extensions", "--disable-sync", "--disable-component-update",
              "--no-proxy-server", "--window-size=1280,900", "--lang=en-US"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def dash_gateway(tmp_path):
    # Keep the DNS and transparent listeners on ephemeral loopback ports, unless conftest's
    # helper already passes them (another branch adds that; passing them twice would fail).
    extra = () if '"--dns"' in inspect.getsource(Gateway) else ("--dns", "127.0.0.1:0", "--transparent", "127.0.0.1:0")
    g = Gateway(tmp_path, extra_args=extra)
    yield g
    g.stop()


class Page:
    """Small helpers over the selenium driver for this page."""

    def __init__(self, driver, base, shots):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        self.d, self.base, self.By, self.shots = driver, base, By, shots
        self.Wait = WebDriverWait

    def css(self, sel):
        return self.d.find_element(self.By.CSS_SELECTOR, sel)

    def all(self, sel):
        return self.d.find_elements(self.By.CSS_SELECTOR, sel)

    def wait(self, fn, timeout=10, what="condition"):
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException

        try:  # a re-render between two lookups makes an element stale: look again
            return self.Wait(self.d, timeout, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]).until(lambda _: fn())
        except TimeoutException:
            # Say why: the page's status line and console, and a screenshot of where it stopped.
            ART.mkdir(parents=True, exist_ok=True)
            self.d.save_screenshot(str(ART / "failure.png"))
            toast = self.all("#toast")
            console = [e["message"] for e in self.d.get_log("browser")]
            raise AssertionError(f"waiting for {what} ({timeout} s); status line: {toast[0].text if toast else ''!r}; "
                                 f"console: {console}; screenshot: {ART / 'failure.png'}") from None

    def hosts(self, sel):
        """The data-host of every element matching sel, read in one go (no stale references)."""
        return self.d.execute_script("return [...document.querySelectorAll(arguments[0])].map((e) => e.dataset.host)", sel)

    def wait_css(self, sel, timeout=10):
        return self.wait(lambda: self.all(sel) and self.all(sel)[0], timeout, sel)

    def wait_text(self, sel, text, timeout=10):
        return self.wait(lambda: any(text in e.text for e in self.all(sel)), timeout, f"{text!r} in {sel}")

    def toast(self, text, timeout=10):
        self.wait_text("#toast", text, timeout)
        return self.css("#toast").text

    def go(self, hash_):
        self.d.get(f"{self.base}/{hash_}")

    def sign_in(self, key):
        """Signs in with `key` on the sign-in screen and waits until the sandboxes list has
        replaced it (sign-in moves to #/sandboxes itself: going elsewhere before would race it)."""
        self.go("")
        self.wait_css("#api-key").send_keys(key)
        self.css("#sign-in").click()
        self.wait(lambda: not self.all("#api-key") and self.css("#nav").is_displayed(), what="signed in")

    def shot(self, name):
        time.sleep(0.2)  # let the last render settle
        path = ART / f"{len(self.shots) + 1:02d}-{name}.png"
        self.d.save_screenshot(str(path))
        self.shots.append(path)
        return path


def test_dashboard_watch_lock_down_pending_observe_live(dash_gateway, upstream, browser, capsys):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    g = dash_gateway
    ART.mkdir(parents=True, exist_ok=True)
    for old in ART.glob("*.png"):
        old.unlink()
    port = upstream.port
    shots = []
    p = Page(browser, g.api, shots)

    # Served without a key, with a strict CSP.
    r = requests.get(g.api + "/", timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert requests.get(g.api + "/api/v1/sandboxes", timeout=5).status_code == 401

    sbx = g.sandbox({"name": "web-agent"})
    sid = sbx["id"]
    for host, n in [("api.openai.test", 4), ("pypi.test", 3), ("other.test", 2)]:
        for _ in range(n):
            assert via(g, sbx, f"http://{host}:{port}/").status_code == 200
    # The cloud metadata address: refused by the address guard even in audit, recommended "deny".
    assert via(g, sbx, "http://169.254.169.254/latest/meta-data/").status_code == 403
    g.wait_audit(lambda e: e["host"] == "other.test", sandbox=sid)

    # Sign in: a wrong key is refused with a message; the right one is kept for the session.
    p.go("")
    key = p.wait_css("#api-key")
    key.send_keys("not-a-key")
    p.css("#sign-in").click()
    p.wait_text("#sign-in-error", "refused")
    p.css("#api-key").clear()
    p.css("#api-key").send_keys(g.admin)
    p.css("#sign-in").click()
    p.wait_css(f'tr[data-sandbox="{sid}"]')
    assert g.admin not in browser.current_url
    assert browser.execute_script("return sessionStorage.getItem('portcullis.api-key')") == g.admin
    p.wait(lambda: "ago" in p.css(f'tr[data-sandbox="{sid}"]').text, what="last activity")
    row = p.css(f'tr[data-sandbox="{sid}"]').text
    assert "web-agent" in row and "audit" in row
    p.shot("sandboxes-list")

    # The Network tab: hosts and counts over the window, with recommendation badges.
    p.css(f'tr[data-sandbox="{sid}"] a').click()
    p.wait_css('#hosts tr[data-host="api.openai.test"]')
    counts = {e.get_attribute("data-host"): e.find_element(p.By.CSS_SELECTOR, "td.num").text for e in p.all("#hosts tr[data-host]")}
    assert counts == {"api.openai.test": "4", "pypi.test": "3", "other.test": "2", "169.254.169.254": "1"}, counts
    assert "deny" in p.css('#hosts tr[data-host="169.254.169.254"] .badge').text
    assert p.all("#hosts .bar") and p.all("#hosts .badge")
    p.css('button[data-window="24h"]').click()
    p.wait_text("h2", "Hosts contacted in the last 24 h")
    p.wait_css('#hosts tr[data-host="pypi.test"]')
    # The header shows the proxy URL with the sandbox's password masked; Show reveals it.
    password = sbx["proxy"]["password"]
    masked = p.wait_css("#proxy-url")
    assert "••••••••@" in masked.text and password not in masked.text
    assert password not in browser.page_source and password not in browser.current_url
    p.shot("network-tab")
    p.css("#proxy-reveal").click()
    p.wait_text("#proxy-url", password)
    assert p.css("#proxy-reveal").get_attribute("aria-pressed") == "true"
    p.css("#proxy-reveal").click()
    p.wait(lambda: password not in p.css("#proxy-url").text, what="password hidden again")

    # Lock Down with one host unchecked.
    p.css("#lock-down").click()
    modal = p.wait_css("dialog.modal[open]")
    boxes = {b.get_attribute("data-host"): b for b in modal.find_elements(p.By.CSS_SELECTOR, "input[type=checkbox]")}
    assert set(boxes) == {"api.openai.test", "pypi.test", "other.test", "169.254.169.254"}
    assert not boxes.pop("169.254.169.254").is_selected(), "a deny-recommended host starts unchecked"
    assert all(b.is_selected() for b in boxes.values())
    boxes["other.test"].click()
    assert not boxes["other.test"].is_selected()
    p.shot("lock-down-modal")
    # Escape closes without changing anything; reopen and confirm.
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    p.wait(lambda: not p.all("dialog.modal[open]"), what="modal closed by Escape")
    assert g.call("GET", f"/api/v1/sandboxes/{sid}/network/policy").json()["mode"] == "audit"
    p.css("#lock-down").click()
    modal = p.wait_css("dialog.modal[open]")
    modal.find_element(p.By.CSS_SELECTOR, 'input[data-host="other.test"]').click()
    p.css("#confirm-lockdown").click()
    p.toast("Locked down")
    policy = g.call("GET", f"/api/v1/sandboxes/{sid}/network/policy").json()
    assert policy["mode"] == "allowlist"
    assert sorted(r["host"] for r in policy["allow_rules"]) == ["api.openai.test", "pypi.test"]

    # The unchecked host's next request is blocked and appears in Pending.
    r = via(g, sbx, f"http://other.test:{port}/")
    assert r.status_code == 403 and r.headers["X-Portcullis-Reason"] == "default-deny"
    assert via(g, sbx, f"http://pypi.test:{port}/").status_code == 200
    deadline = time.time() + 5
    while not g.call("GET", f"/api/v1/sandboxes/{sid}/network/pending").json()["items"] and time.time() < deadline:
        time.sleep(0.05)
    p.go(f"#/sandbox/{sid}/pending")
    p.wait_css('#pending tr[data-host="other.test"]')
    row = p.css('#pending tr[data-host="other.test"]').text
    assert "1" in row
    p.wait_text("#pending-count", "(1)")
    p.shot("pending")

    # Allow it in one click; it passes.
    p.css('#pending tr[data-host="other.test"] button.allow').click()
    assert "Allowed other.test" in p.toast("Allowed other.test")
    p.wait(lambda: not p.all('#pending tr[data-host="other.test"]'), what="pending emptied")
    assert via(g, sbx, f"http://other.test:{port}/").status_code == 200

    # Rules: the sandbox's own rules are removable; profile rules are shown as not removable.
    p.go(f"#/sandbox/{sid}/rules")
    p.wait_css('#rules tr[data-host="other.test"]')
    attach = p.wait_css("#attach-profile")
    Select(attach).select_by_value("openai")
    attach.find_element(p.By.XPATH, "./following-sibling::button").click()
    p.toast("Attached openai")
    p.wait_css('#profiles tr[data-profile="openai"]')
    p.wait_text("#rules", "from profile, not removable")
    # A warn-only allow rule (trial-running an integration), added through the form.
    Select(p.css("#rule-action")).select_by_value("allow")
    p.css("#rule-host").send_keys("denied.test")
    p.css("#rule-port").send_keys(str(port))
    p.css("#rule-methods").send_keys("get")
    p.css("#rule-warn").click()
    p.css("#add-rule").click()
    p.toast("Added allow rule")
    p.wait_css('#rules tr[data-host="denied.test"]')
    row = p.css('#rules tr[data-host="denied.test"]').text
    assert "warn only" in row and "GET" in row and str(port) in row and "Remove" in row
    # Adding nonsense shows the API's own error text.
    p.css("#rule-host").send_keys("exa mple..test")
    p.css("#add-rule").click()
    assert "host" in p.wait(lambda: p.css("#toast").get_attribute("data-kind") == "error" and p.css("#toast").text, what="error toast")
    p.css("#rule-host").clear()
    p.shot("rules")

    # The live log shows a request within two seconds: ALLOWED, then BLOCKED for a host
    # no rule allows (still locked down), and the filters hide lines by action.
    p.go(f"#/sandbox/{sid}/live")
    p.wait_text("#live-state", "live")
    started = time.time()
    assert via(g, sbx, f"http://api.openai.test:{port}/live-check").status_code == 200
    line = p.wait(lambda: [e for e in p.all('#live-log li[data-host="api.openai.test"]') if "/live-check" in e.text], timeout=2,
                  what="live line within 2 s")[0]
    elapsed = time.time() - started
    assert "ALLOWED" in line.text
    assert via(g, sbx, f"http://files.pypi.test:{port}/").status_code == 403
    blocked = p.wait(lambda: p.all('#live-log li[data-host="files.pypi.test"]'), timeout=2, what="BLOCKED line")[0]
    assert "BLOCKED" in blocked.text and "default-deny" in blocked.text
    assert via(g, sbx, f"http://denied.test:{port}/trial").status_code == 200
    warned = p.wait(lambda: p.all('#live-log li[data-host="denied.test"]'), timeout=2, what="WARN line")[0]
    assert "WARN" in warned.text
    p.css("#live-allow").click()  # filter: hide ALLOWED lines
    assert not line.is_displayed() and blocked.is_displayed()
    p.shot("live-log")
    p.css("#live-allow").click()

    # Observe (from the header, on this tab) rolls back to audit with the rules kept: the
    # same host now passes, and its line says ALLOWED.
    p.css("#observe").click()
    p.toast("Observing again")
    policy = g.call("GET", f"/api/v1/sandboxes/{sid}/network/policy").json()
    assert policy["mode"] == "audit" and any(r["host"] == "other.test" for r in policy["allow_rules"])
    p.wait_text(".meta", "audit")
    assert via(g, sbx, f"http://files.pypi.test:{port}/after-observe").status_code == 200
    again = p.wait(lambda: [e for e in p.all('#live-log li[data-host="files.pypi.test"]') if "/after-observe" in e.text], timeout=2,
                   what="line after observe")[0]
    assert "ALLOWED" in again.text

    # Download CA: the sandbox's CA certificate, fetched with the key in the header.
    p.css("#download-ca").click()
    p.toast("Downloaded the sandbox's CA certificate")

    # Audit search with the reject filter shows rejected_by.
    p.go(f"#/sandbox/{sid}/audit")
    Select(p.wait_css("#audit-action")).select_by_value("reject")
    p.css("#audit-search").click()
    p.wait_css('#audit-results tr[data-host="other.test"]')
    assert "default-deny" in p.css('#audit-results tr[data-host="other.test"]').text
    assert all(e.get_attribute("data-action") == "reject" for e in p.all("#audit-results tr[data-action]"))
    p.shot("audit-search")

    # Tenant settings: default mode, tenant rules, profiles (built-ins read-only), templates.
    p.go("#/tenant")
    p.wait_css('#tenant-profiles tr[data-profile="openai"]')
    assert "not removable" in p.css('#tenant-profiles tr[data-profile="openai"]').text
    p.css("#template-name").send_keys("ci-agent")
    p.css("#template-allow").send_keys("pypi.test\napi.openai.test")
    p.css("#tenant-templates button[type=submit]").click()
    p.toast("Created template ci-agent")
    # The default mode, and a tenant-wide rule added and removed.
    Select(p.css("#tenant-mode")).select_by_value("denylist")
    p.css("#save-defaults").click()
    p.toast("Tenant defaults saved")
    assert g.call("GET", "/api/v1/network/policy").json()["default_mode"] == "denylist"
    Select(p.css("#rule-action")).select_by_value("deny")
    p.css("#rule-host").send_keys("*.tracker.test")
    p.css("#add-rule").click()
    p.toast("Added deny rule")
    p.wait_css('#rules tr[data-host="*.tracker.test"] button').click()
    p.toast("Removed the deny rule for *.tracker.test")
    assert g.call("GET", "/api/v1/network/policy").json()["deny_rules"] == []
    p.wait_css('#tenant-templates tr[data-template="ci-agent"]')
    p.shot("tenant-settings")

    # A narrow screen: the Network tab still reads (tables scroll inside their box).
    browser.set_window_size(390, 844)
    p.go(f"#/sandbox/{sid}/network")
    p.wait_css('#hosts tr[data-host="api.openai.test"]')
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    p.shot("narrow-network-tab")
    browser.set_window_size(1280, 900)

    # Sign out forgets the key.
    p.css("#sign-out").click()
    p.wait_css("#api-key")
    assert browser.execute_script("return sessionStorage.getItem('portcullis.api-key')") is None

    # No CSP violation or script error on the way.
    # (Chromium logs the two refusals this test provokes: the wrong key's 401, the bad rule's 400.)
    expected = ("/api/v1/network/policy - Failed to load resource: the server responded with a status of 401",
                "/network/rules - Failed to load resource: the server responded with a status of 400")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and not any(x in e["message"] for x in expected)]
    assert not errors, errors
    with capsys.disabled():
        print(f"\ndashboard: live log line after {elapsed * 1000:.0f} ms")
        for s in shots:
            print(f"dashboard screenshot: {s}")


def test_dashboard_shows_hostile_names_as_text(dash_gateway, browser):
    """A host stored as sent (a rule's note, a profile's description) is shown as text, never parsed as HTML."""
    g = dash_gateway
    sbx = g.sandbox({"name": "<img src=x id=pwned-name>"})
    r = g.call("POST", f"/api/v1/sandboxes/{sbx['id']}/network/rules",
               {"action": "allow", "host": "ok.test", "note": "<img src=x id=pwned-note>"})
    assert r.status_code == 201, r.text
    p = Page(browser, g.api, [])
    p.go("")
    p.wait_css("#api-key").send_keys(g.admin)
    p.css("#sign-in").click()
    p.wait_text(f'tr[data-sandbox="{sbx["id"]}"]', "<img src=x id=pwned-name>")
    p.go(f"#/sandbox/{sbx['id']}/rules")
    p.wait_text("#rules", "<img src=x id=pwned-note>")
    assert not p.all("#pwned-name") and not p.all("#pwned-note")


def test_dashboard_pages_pending_and_hosts_and_blocks_by_keyboard(dash_gateway, upstream, browser):
    """55 blocked hosts: Pending pages 25 at a time with the API's cursor, the Network tab 50 at a
    time; Block works from the keyboard (Enter on the focused button) and the tab count follows."""
    from selenium.webdriver.common.keys import Keys

    g = dash_gateway
    sbx = g.sandbox({"name": "many-hosts", "network": {"allow": ["allowed.test"]}})
    sid = sbx["id"]
    names = sorted([f"h{n:02d}.test" for n in range(52)] + [f"{x}.wild.test" for x in "abc"])
    for name in names:  # allowlist: refused as default-deny before any lookup, queued as pending
        r = via(g, sbx, f"http://{name}:{upstream.port}/")
        assert r.status_code == 403 and r.headers["X-Portcullis-Reason"] == "default-deny", (name, r.status_code, r.text)
    deadline = time.time() + 5
    while len(g.call("GET", f"/api/v1/sandboxes/{sid}/network/pending?limit=100").json()["items"]) < 55 and time.time() < deadline:
        time.sleep(0.05)
    p = Page(browser, g.api, [])
    p.go("")
    p.wait_css("#api-key").send_keys(g.admin)
    p.css("#sign-in").click()
    p.wait_css(f'tr[data-sandbox="{sid}"]')

    p.go(f"#/sandbox/{sid}/pending")
    p.wait_text("#pending-count", "(55)")
    rows = "#pending tr[data-host]"
    p.wait(lambda: len(p.hosts(rows)) == 25, what="first pending page")
    seen = p.hosts(rows)
    for expect in (25, 5):
        p.css("#pending .pager button:last-child").click()  # Next page
        p.wait(lambda: len(p.hosts(rows)) == expect and p.hosts(rows)[0] not in seen, what=f"next pending page ({expect} rows)")
        seen += p.hosts(rows)
    assert sorted(seen) == names
    assert not p.css("#pending .pager button:last-child").is_enabled()

    victim = p.hosts(rows)[0]
    p.css(f'#pending tr[data-host="{victim}"] button.block').send_keys(Keys.ENTER)
    p.toast(f"Blocked {victim}")
    p.wait_text("#pending-count", "(54)")
    p.wait(lambda: not p.all(f'#pending tr[data-host="{victim}"]'), what="blocked entry gone")
    policy = g.call("GET", f"/api/v1/sandboxes/{sid}/network/policy").json()
    assert [r["host"] for r in policy["deny_rules"]] == [victim]

    p.go(f"#/sandbox/{sid}/network")
    p.wait(lambda: len(p.hosts("#hosts tr[data-host]")) == 50, what="first hosts page")
    first = set(p.hosts("#hosts tr[data-host]"))
    p.wait_text("#hosts", "Page 1 of 2, 55 hosts")
    p.css("#hosts .pager button:last-child").click()
    p.wait(lambda: len(p.hosts("#hosts tr[data-host]")) == 5, what="second hosts page")
    assert first.isdisjoint(p.hosts("#hosts tr[data-host]"))
    # Three subdomains of one domain: a proposed wildcard, allowed in one click.
    p.wait_text("#wildcards", "*.wild.test")
    p.css("#wildcards button").click()
    p.toast("Allowed *.wild.test")
    policy = g.call("GET", f"/api/v1/sandboxes/{sid}/network/policy").json()
    assert "*.wild.test" in [r["host"] for r in policy["allow_rules"]]


def test_dashboard_refuses_a_location_that_is_not_a_sandbox_id(dash_gateway, browser):
    """`#/sandbox/%2e%2e/rules` once made Observe call the tenant's observe and Add rule add a
    tenant-wide rule: ids from the location are checked against their pattern before any API
    path is built, and the API refuses dot-segments itself."""
    g = dash_gateway
    assert g.call("POST", "/api/v1/network/lockdown").status_code == 200  # the tenant in allowlist, to see no change
    before = g.call("GET", "/api/v1/network/policy").json()
    p = Page(browser, g.api, [])
    p.sign_in(g.admin)
    for hash_ in ["#/sandbox/%2e%2e/rules", "#/sandbox/../network", "#/sandbox/..%2F..%2Fnetwork/rules", "#/sandbox/sbx_x%2F..%2F..%2Fnetwork/rules",
                  "#/sandbox/%E0%A4%A/rules"]:
        p.go(hash_)
        p.wait_text("#bad-link", "is not a sandbox id")
        assert not p.all("#observe") and not p.all("#lock-down") and not p.all("#add-rule"), hash_
    called = browser.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
    assert not [u for u in called if "/network/observe" in u or "/network/rules" in u or "/sandboxes/." in u], called
    assert g.call("GET", "/api/v1/network/policy").json() == before
    # The way back works.
    p.css("#bad-link + p a").click()
    p.wait_css("#main h1")


def test_dashboard_lock_down_shows_hosts_already_allowed_and_never_widens(dash_gateway, upstream, browser):
    g = dash_gateway
    sbx = g.sandbox({"name": "endpoint"})
    sid = sbx["id"]
    rule = g.call("POST", f"/api/v1/sandboxes/{sid}/network/rules",
                  {"action": "allow", "host": "api.openai.test", "methods": ["GET"], "paths": ["/v1/*"]}).json()
    for url in [f"http://api.openai.test:{upstream.port}/v1/models", f"http://pypi.test:{upstream.port}/"]:
        assert via(g, sbx, url).status_code == 200
    g.wait_audit(lambda e: e["host"] == "pypi.test", sandbox=sid)
    p = Page(browser, g.api, [])
    p.sign_in(g.admin)
    p.go(f"#/sandbox/{sid}/network")
    p.wait_text('#hosts tr[data-host="api.openai.test"]', f"allowed by {rule['id']}")
    p.css("#lock-down").click()
    modal = p.wait_css("dialog.modal[open]")
    allowed = modal.find_element(p.By.CSS_SELECTOR, 'input[data-host="api.openai.test"]')
    assert not allowed.is_selected() and not allowed.is_enabled(), "an allowed host cannot be checked"
    assert f"already allowed by {rule['id']}" in modal.find_element(p.By.CSS_SELECTOR, 'li[data-host="api.openai.test"]').text
    assert modal.find_element(p.By.CSS_SELECTOR, 'input[data-host="pypi.test"]').is_selected()
    p.css("#confirm-lockdown").click()
    p.toast("Locked down")
    policy = g.call("GET", f"/api/v1/sandboxes/{sid}/network/policy").json()
    assert policy["mode"] == "allowlist"
    assert sorted((r["host"], r["methods"]) for r in policy["allow_rules"]) == [("api.openai.test", ["GET"]), ("pypi.test", None)]
    r = requests.post(f"http://api.openai.test:{upstream.port}/admin", proxies={"http": g.proxy_url(sbx)}, timeout=10)
    assert r.status_code == 403

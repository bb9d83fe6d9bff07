"""The dashboard while traffic flows (issue 16): the Network tab's hosts, counts and pending
entries follow the traffic without a reload, and live log lines show the status as
`portcullis policy log` does (the HTTP status, `-` for a blocked request). Same browser and
network rule as test_dashboard.py: the browser loads only the gateway under test."""
from conftest import via
from test_dashboard import Page, browser, dash_gateway  # noqa: F401 (fixtures)


def sign_in(p, g, sid):
    p.go("")
    p.wait_css("#api-key").send_keys(g.admin)
    p.css("#sign-in").click()
    p.wait_css(f'tr[data-sandbox="{sid}"]')


def count(p, host):
    rows = p.all(f'#hosts tr[data-host="{host}"] td.num')
    return rows[0].text if rows else None


def test_network_tab_follows_the_traffic_without_a_reload(dash_gateway, upstream, browser):
    g = dash_gateway
    sbx = g.sandbox({"name": "busy"})
    sid = sbx["id"]
    assert via(g, sbx, f"http://pypi.test:{upstream.port}/").status_code == 200
    g.wait_audit(lambda e: e["host"] == "pypi.test", sandbox=sid)
    p = Page(browser, g.api, [])
    sign_in(p, g, sid)
    p.go(f"#/sandbox/{sid}/network")
    p.wait(lambda: count(p, "pypi.test") == "1", what="pypi.test counted once")
    url = browser.current_url

    # New hosts and higher counts appear while the tab stays open.
    for _ in range(3):
        assert via(g, sbx, f"http://other.test:{upstream.port}/").status_code == 200
    assert via(g, sbx, f"http://pypi.test:{upstream.port}/").status_code == 200
    p.wait(lambda: count(p, "other.test") == "3" and count(p, "pypi.test") == "2", timeout=8, what="counts updated in place")
    assert browser.current_url == url

    # Locked down (through the API, as another operator would): a blocked host shows up in
    # the tab's pending section and in the Pending count, still without a reload.
    assert g.call("POST", f"/api/v1/sandboxes/{sid}/network/lockdown", {"hosts": ["pypi.test"]}).status_code == 200
    assert via(g, sbx, f"http://files.pypi.test:{upstream.port}/").status_code == 403
    p.wait(lambda: p.all('#pending-section [data-host="files.pypi.test"]') or "files.pypi.test" in p.css("#pending-section").text,
           timeout=8, what="pending entry in the Network tab")
    p.wait(lambda: p.css("#pending-count").text.strip() not in ("", "0"), timeout=8, what="pending count in the tab label")


def test_live_lines_show_the_status_as_policy_log_does(dash_gateway, upstream, browser):
    g = dash_gateway
    sbx = g.sandbox({"name": "live", "network": {"allow": ["allowed.test"]}})
    sid = sbx["id"]
    p = Page(browser, g.api, [])
    sign_in(p, g, sid)
    p.go(f"#/sandbox/{sid}/live")
    p.wait_text("#live-state", "live")
    assert via(g, sbx, f"http://allowed.test:{upstream.port}/ok").status_code == 200
    allowed = p.wait(lambda: p.all('#live-log li[data-host="allowed.test"] .status'), timeout=3, what="ALLOWED line")[0]
    assert allowed.text == "200"
    assert via(g, sbx, f"http://other.test:{upstream.port}/").status_code == 403
    blocked = p.wait(lambda: p.all('#live-log li[data-host="other.test"] .status'), timeout=3, what="BLOCKED line")[0]
    assert blocked.text == "-"


def test_rules_say_which_hosts_are_terminated(dash_gateway, browser):
    """Issue 17: the rules list shows which hosts the gateway decrypts — `inspect: true`, an
    allow rule with methods or paths — and which it never does (`inspect: false`)."""
    g = dash_gateway
    sbx = g.sandbox({"name": "tls"})
    sid = sbx["id"]
    for rule in ({"action": "allow", "host": "inspected.test", "inspect": True},
                 {"action": "allow", "host": "endpoint.test", "methods": ["GET"], "paths": ["/v1/*"]},
                 {"action": "allow", "host": "opaque.test", "inspect": False},
                 {"action": "allow", "host": "plain.test"}):
        r = g.call("POST", f"/api/v1/sandboxes/{sid}/network/rules", rule)
        assert r.status_code == 201, r.text
    p = Page(browser, g.api, [])
    sign_in(p, g, sid)
    p.go(f"#/sandbox/{sid}/rules")
    p.wait_css('#rules tr[data-host="plain.test"]')

    def mark(host):
        marks = p.all(f'#rules tr[data-host="{host}"] [data-tls]')
        return marks[0].get_attribute("data-tls") if marks else None

    assert mark("inspected.test") == "terminated"
    assert mark("endpoint.test") == "terminated"
    assert mark("opaque.test") == "never"
    assert mark("plain.test") is None

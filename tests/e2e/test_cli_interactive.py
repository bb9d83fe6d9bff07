"""The interactive Lock Down confirmation, driven on a real pseudo-terminal."""
import os
import pty
import select
import time

from conftest import BINARY, via


def read_until(fd, needle, timeout=20):
    data = b""
    deadline = time.time() + timeout
    while needle not in data and time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data.decode(errors="replace")


def lockdown_on_a_terminal(gateway, sid, requests_seen):
    """Waits until the suggestions count `requests_seen`, then starts `portcullis lockdown`
    on a pseudo-terminal; returns (pid, fd)."""
    deadline = time.time() + 5
    while time.time() < deadline:
        items = gateway.call("GET", f"/api/v1/sandboxes/{sid}/network/suggestions?since=7d").json()["items"]
        if sum(i["count"] for i in items) >= requests_seen:
            break
        time.sleep(0.05)
    env = dict(os.environ, PORTCULLIS_URL=gateway.api, PORTCULLIS_TOKEN=gateway.admin)
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(str(BINARY), [str(BINARY), "lockdown", sid], env)
    return pid, fd


def test_lockdown_lists_hosts_with_checkboxes_and_applies_the_confirmed_ones(gateway, upstream):
    sbx = gateway.sandbox()
    sid = sbx["id"]
    for host, n in [("allowed.test", 3), ("other.test", 2), ("pypi.test", 1)]:
        for _ in range(n):
            assert via(gateway, sbx, f"http://{host}:{upstream.port}/").status_code == 200
    pid, fd = lockdown_on_a_terminal(gateway, sid, 6)
    screen = read_until(fd, b"> ")
    assert "[x] allowed.test" in screen and "[x] other.test" in screen and "[x] pypi.test" in screen, screen
    assert screen.index("allowed.test") < screen.index("other.test") < screen.index("pypi.test"), "most used first"
    number = next(line.split(".")[0].strip() for line in screen.splitlines() if "other.test" in line)
    os.write(fd, f"{number}\n".encode())
    screen = read_until(fd, b"> ")
    assert "[ ] other.test" in screen, screen
    os.write(fd, b"\n")
    screen = read_until(fd, b"allowlist")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, screen
    policy = gateway.call("GET", f"/api/v1/sandboxes/{sid}/network/policy").json()
    assert policy["mode"] == "allowlist"
    assert sorted(r["host"] for r in policy["allow_rules"]) == ["allowed.test", "pypi.test"]
    assert via(gateway, sbx, f"http://other.test:{upstream.port}/").status_code == 403


def test_lockdown_shows_a_host_already_allowed_and_never_widens_its_rule(gateway, upstream):
    sbx = gateway.sandbox()
    sid = sbx["id"]
    rule = gateway.call("POST", f"/api/v1/sandboxes/{sid}/network/rules",
                        {"action": "allow", "host": "allowed.test", "methods": ["GET"], "paths": ["/v1/*"]}).json()
    for url in [f"http://allowed.test:{upstream.port}/v1/x", f"http://other.test:{upstream.port}/"]:
        assert via(gateway, sbx, url).status_code == 200
    pid, fd = lockdown_on_a_terminal(gateway, sid, 2)
    screen = read_until(fd, b"> ")
    assert "[=] allowed.test" in screen and f"already allowed by {rule['id']}" in screen, screen
    assert "[x] other.test" in screen, screen
    number = next(line.split(".")[0].strip() for line in screen.splitlines() if "allowed.test" in line)
    os.write(fd, f"{number}\n".encode())
    screen = read_until(fd, b"> ")
    assert "[=] allowed.test" in screen, "an allowed host cannot be checked: " + screen
    os.write(fd, b"\n")
    read_until(fd, b"allowlist")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    policy = gateway.call("GET", f"/api/v1/sandboxes/{sid}/network/policy").json()
    assert sorted((r["host"], r["methods"]) for r in policy["allow_rules"]) == [("allowed.test", ["GET"]), ("other.test", None)]

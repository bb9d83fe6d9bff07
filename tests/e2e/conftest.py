"""End-to-end fixtures: a real `portcullis serve` process, upstream servers the tests
start on loopback, and names for them in the gateway's hosts file (`.test` names only).

Network rule: everything here binds and connects to 127.0.0.1 only. scripts/test runs
these inside a private network namespace with only loopback up.
"""
import http.server
import json
import os
import pathlib
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = ROOT / ".build" / "debug" / "portcullis"
ADMIN = "e2e-admin-token-0123456789abcdef"
TEST_NAMES = ["allowed.test", "denied.test", "other.test", "api.openai.test", "pypi.test", "files.pypi.test"]


class Upstream:
    """A plain-HTTP server on 127.0.0.1 that answers every GET/POST with its own name."""

    def __init__(self):
        outer = self
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.requests.append((self.command, self.path, dict(self.headers)))
                body = f"hello from {self.headers.get('Host', '?')}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A connection reset between select() and accept() would block a blocking accept()
        # for good, and with it shutdown() at teardown (seen: a whole e2e run hung there).
        self.server.socket.settimeout(1)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Gateway:
    """A running `portcullis serve`, with the ports it bound and API helpers."""

    def __init__(self, tmp, extra_args=(), admin=ADMIN, extra_names=()):
        if not BINARY.exists():
            pytest.fail(f"{BINARY} is missing: build first (swift build)")
        self.tmp = pathlib.Path(tmp)
        self.data = self.tmp / "data"
        self.hosts = self.tmp / "hosts"
        names = TEST_NAMES + [n for n in extra_names if n not in TEST_NAMES]
        self.hosts.write_text("".join(f"127.0.0.1 {n}\n" for n in names) + "169.254.169.254 metadata.test\n")
        self.admin = admin
        self.args = [str(BINARY), "serve", "--data-dir", str(self.data), "--api", "127.0.0.1:0", "--proxy", "127.0.0.1:0",
                     "--socks", "127.0.0.1:0", "--dns", "127.0.0.1:0", "--transparent", "127.0.0.1:0",
                     "--hosts-file", str(self.hosts), "--guard-exempt", "127.0.0.0/8",
                     "--no-system-resolver", *extra_args]
        if admin:
            self.args += ["--admin-token", admin]
        self.start()

    def start(self):
        self.log = open(self.tmp / "serve.log", "ab")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.banner = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"serve exited with {self.proc.returncode}: {(self.tmp / 'serve.log').read_text()[-2000:]}")
                continue
            self.banner.append(line.rstrip("\n"))
            if line.startswith("Point a sandbox"):
                break
        text = "\n".join(self.banner)
        self.api = re.search(r"API \(and dashboard\)\s+(http://\S+)", text).group(1)
        self.proxy_port = int(re.search(r"HTTP/CONNECT proxy\s+http://127\.0\.0\.1:(\d+)", text).group(1))
        socks = re.search(r"SOCKS5 proxy\s+socks5h://127\.0\.0\.1:(\d+)", text)
        self.socks_port = int(socks.group(1)) if socks else None
        dns = re.search(r"DNS gateway\s+dns://127\.0\.0\.1:(\d+)", text)
        self.dns_port = int(dns.group(1)) if dns else None
        threading.Thread(target=self._drain, daemon=True).start()
        for _ in range(200):
            try:
                if requests.get(self.api + "/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("serve never became ready")

    def _drain(self):
        for line in self.proc.stdout:
            self.banner.append(line.rstrip("\n"))

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def call(self, method, path, body=None, key=None):
        headers = {"Authorization": f"Bearer {key or self.admin}"}
        r = requests.request(method, self.api + path, json=body, headers=headers, timeout=10)
        return r

    def sandbox(self, body=None):
        r = self.call("POST", "/api/v1/sandboxes", body or {})
        assert r.status_code == 201, r.text
        return r.json()

    def proxy_url(self, sandbox):
        p = sandbox["proxy"]
        return f"http://{p['username']}:{p['password']}@127.0.0.1:{self.proxy_port}"

    def audit(self, **query):
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return self.call("GET", "/api/v1/audit?" + q).json()["items"]

    def wait_audit(self, predicate, timeout=5, **query):
        deadline = time.time() + timeout
        while time.time() < deadline:
            items = self.audit(**query)
            if any(predicate(e) for e in items):
                return items
            time.sleep(0.05)
        raise AssertionError(f"no audit entry matched; last: {json.dumps(self.audit(**query))[:2000]}")


def curl(*args, timeout=10):
    """Runs curl; returns (exit status, stdout, stderr)."""
    if subprocess.run(["which", "curl"], capture_output=True).returncode != 0:
        pytest.fail("curl is not installed (scripts/test installs it)")
    p = subprocess.run(["curl", "-sS", "--max-time", str(timeout), *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def upstream():
    u = Upstream()
    yield u
    u.close()


@pytest.fixture
def gateway(tmp_path):
    g = Gateway(tmp_path)
    yield g
    g.stop()


def cli(gateway, *args, input=None, check=True):
    """Runs the portcullis CLI against `gateway`; returns (status, stdout, stderr)."""
    env = dict(os.environ, PORTCULLIS_URL=gateway.api, PORTCULLIS_TOKEN=gateway.admin, XDG_CONFIG_HOME=str(gateway.tmp / "config"))
    p = subprocess.run([str(BINARY), *args], capture_output=True, text=True, env=env, input=input, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"portcullis {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p.returncode, p.stdout, p.stderr


def via(gateway, sandbox, url, **kwargs):
    """One request through the HTTP proxy with Python requests."""
    proxy = gateway.proxy_url(sandbox)
    return requests.get(url, proxies={"http": proxy, "https": proxy}, timeout=10, **kwargs)

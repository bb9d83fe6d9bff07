"""Fleet fixtures: a PostgreSQL cluster of the test's own (so stopping or restarting it
disturbs nothing else) and several `portcullis serve` nodes on it, on loopback only.

The cluster comes from scripts/postgres-test-server on a free port under a temporary
directory; `scripts/test` runs these tests in its private network namespace.
"""
import base64
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import requests

import importlib.util

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The e2e harness (Gateway, Upstream), loaded under its own name: both files are "conftest".
_spec = importlib.util.spec_from_file_location("portcullis_e2e_harness", ROOT / "tests" / "e2e" / "conftest.py")
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
ADMIN, Gateway, Upstream = _e2e.ADMIN, _e2e.Gateway, _e2e.Upstream


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bindir():
    dirs = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: [int(x) for x in p.parent.name.split(".")])
    if not dirs:
        pytest.fail("PostgreSQL is not installed (scripts/test installs it)")
    return dirs[-1]


class Cluster:
    """A throwaway PostgreSQL server that tests may stop, restart and poke with psql."""

    def __init__(self):
        self.port = free_port()
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="portcullis-fleet-pg."))
        self.dir.chmod(0o755)
        self.bindir = pg_bindir()
        env = dict(os.environ, PORTCULLIS_PG_PORT=str(self.port), PORTCULLIS_PG_DIR=str(self.dir))
        p = subprocess.run([str(ROOT / "scripts" / "postgres-test-server")], env=env, capture_output=True, text=True, timeout=180)
        if p.returncode != 0:
            pytest.fail(f"could not start PostgreSQL: {p.stderr[-2000:]}")
        self.url = p.stdout.strip()
        # Every node of a fleet is given the same secrets key file (INSPECTION.md, FLEET.md).
        self.secrets_key = self.dir / "secrets.key"
        self.secrets_key.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
        self.secrets_key.chmod(0o600)

    def _pg(self, *args, check=True):
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if os.getuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=check)

    def stop(self):
        self._pg("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")

    def start(self):
        self._pg("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "server.log"), "-w", "-t", "60",
                 "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir / 'socket'} -c max_connections=200", "start")

    def sql(self, statement):
        p = self._pg("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "portcullis_test", "-tAc", statement)
        return p.stdout.strip()

    def close(self):
        self._pg("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


class Node(Gateway):
    """One `serve` node of the fleet."""

    def __init__(self, tmp, cluster, node_id, extra_args=(), extra_names=()):
        self.node_id = node_id
        super().__init__(tmp, extra_args=("--database-url", cluster.url, "--node-id", node_id, "--sync-interval", "1s",
                                          "--secrets-key-file", str(cluster.secrets_key), *extra_args), extra_names=extra_names)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.log.close()

    def nodes(self):
        r = self.call("GET", "/api/v1/nodes")
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    yield c
    c.close()


@pytest.fixture
def fresh_cluster():
    c = Cluster()
    yield c
    c.close()


def start_fleet(tmp_path, cluster, count=3, extra_args=(), extra_names=()):
    nodes = []
    for i in range(count):
        d = tmp_path / f"node{i}"
        d.mkdir(exist_ok=True)
        nodes.append(Node(d, cluster, f"node-{i}", extra_args, extra_names))
    return nodes


def stop_fleet(nodes):
    for n in nodes:
        try:
            n.stop()
        except Exception:
            pass


@pytest.fixture
def upstream():
    u = Upstream()
    yield u
    u.close()


def wait_until(predicate, timeout=5.0, interval=0.02, message="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{message} not reached within {timeout}s (last: {last!r})")


def fetch(node, sandbox, url, timeout=5):
    """One request through `node`'s HTTP proxy as `sandbox`; the status code (or an exception's name)."""
    proxy = node.proxy_url(sandbox)
    try:
        return requests.get(url, proxies={"http": proxy}, timeout=timeout).status_code
    except requests.RequestException as e:
        return type(e).__name__

"""docs/getting-started.md, run as a test: every command of its `sh` blocks, in order,
against a live serve, each expected to succeed, with the sandbox traffic the page asks the
reader to make in between. A command the page adds that this test does not know fails
the test, so the page cannot drift from what the CLI does.

Placeholders are filled in as a reader would: `sbx_…` is the sandbox `sandbox create`
made, `sbx_other` a second one, `pnd_…` the next pending entry, `<the admin key>` the
key serve printed, `http://127.0.0.1:8080` the API's real address."""
import os
import pathlib
import pty
import re
import shlex
import subprocess
import time

import requests

import test_cli_interactive as interactive
from conftest import BINARY, curl

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "getting-started.md"


def commands():
    """(section, command line) for every line of every ```sh block, comments removed."""
    section, out, in_sh = None, [], False
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:]
        elif line.strip() == "```sh":
            in_sh = True
        elif line.strip() == "```":
            in_sh = False
        elif in_sh and line.strip():
            out.append((section, re.sub(r"\s+#.*$", "", line).strip()))
    return out


class Reader:
    """The reader's shell: environment, current directory, and the ids met so far."""

    def __init__(self, gateway, tmp):
        self.gateway = gateway
        self.cwd = tmp / "work"
        self.cwd.mkdir()
        self.home = tmp / "home"
        self.home.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PORTCULLIS_") and k != "XDG_CONFIG_HOME"}
        self.env["HOME"] = str(self.home)
        self.sandbox = None
        self.proxy = None
        self.other = None
        self.pending = []

    def fill(self, line):
        line = line.replace("http://127.0.0.1:8080", self.gateway.api).replace("<the admin key>", self.gateway.admin)
        if "sbx_other" in line:
            if self.other is None:
                self.other = self.gateway.sandbox({"name": "other"})["id"]
            line = line.replace("sbx_other", self.other)
        if "sbx_…" in line:
            assert self.sandbox, f"{line}: the page uses sbx_… before creating a sandbox"
            line = line.replace("sbx_…", self.sandbox)
        if "pnd_…" in line:
            assert self.pending, f"{line}: no pending entry left for pnd_…"
            line = line.replace("pnd_…", self.pending.pop(0), 1)
        return line

    def run(self, line, tty=False):
        args = shlex.split(line)
        stdout = None
        if ">" in args:
            stdout = self.cwd / args[args.index(">") + 1]
            args = args[:args.index(">")]
        assert args[0] == "portcullis", line
        if tty:
            return self.run_on_terminal(args)
        p = subprocess.run([str(BINARY), *args[1:]], capture_output=True, text=True, env=self.env, cwd=self.cwd, timeout=60)
        assert p.returncode == 0, f"`{line}` exited {p.returncode}: {p.stderr}"
        if stdout:
            stdout.write_text(p.stdout)
        return p.stdout, p.stderr

    def run_on_terminal(self, args):
        """The interactive Lock Down: confirm the checked hosts with Enter."""
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(self.cwd)
            os.execve(str(BINARY), [str(BINARY), *args[1:]], self.env)
        screen = interactive.read_until(fd, b"> ")
        assert "[x]" in screen, screen
        os.write(fd, b"\n")
        screen += interactive.read_until(fd, b"allowlist")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, screen
        return screen, ""

    def browse(self, url, **kwargs):
        proxies = {"http": self.proxy, "https": self.proxy}
        return requests.get(url, proxies=proxies, timeout=10, **kwargs)


def test_getting_started_runs_as_written(gateway, upstream, tmp_path):
    reader = Reader(gateway, tmp_path)
    base = f":{upstream.port}"
    seen = []
    for section, line in commands():
        seen.append(line)
        if line == "swift run portcullis serve":
            help_text = " ".join(subprocess.run([str(BINARY), "serve", "--help"], capture_output=True, text=True).stdout.split())
            for default in ["127.0.0.1:8080", "127.0.0.1:3128", "127.0.0.1:1080", "127.0.0.1:5353", "127.0.0.1:3129"]:
                assert f"default {default}" in help_text, f"serve --help lost its default {default}"
            page = DOC.read_text()
            for port in ["8080", "3128", "1080", "5353", "3129"]:
                assert re.search(rf"\b{port}\b", page), f"the page no longer names port {port}"
            continue
        if line.startswith("export "):
            for assignment in shlex.split(reader.fill(line))[1:]:
                name, value = assignment.split("=", 1)
                reader.env[name] = value
            continue
        filled = reader.fill(line)

        if filled == "portcullis login":
            out, _ = reader.run(filled)
            stored = reader.home / ".config" / "portcullis" / "credentials.json"
            assert stored.exists() and str(stored) in out, "login stores where the page says (~/.config/portcullis)"
        elif filled.startswith("portcullis sandbox create --name pipeline --env"):
            out, _ = reader.run(filled)
            exports = dict(re.findall(r"^export (\w+)=(\S+)$", out, re.M))
            reader.sandbox = exports["PORTCULLIS_SANDBOX"]
            reader.env["PORTCULLIS_SANDBOX"] = reader.sandbox
            reader.proxy = exports["HTTPS_PROXY"]
            # "Use the sandbox normally": three hosts, the first most.
            for host, n in [("pypi.test", 3), ("files.pypi.test", 2), ("allowed.test", 1)]:
                for _ in range(n):
                    assert reader.browse(f"http://{host}{base}/").status_code == 200
            # The guard holds in audit mode too.
            assert reader.browse("http://metadata.test/").status_code == 403
        elif filled.startswith("portcullis policy log "):
            log = subprocess.Popen([str(BINARY), *shlex.split(filled)[1:]], stdout=subprocess.PIPE, text=True, env=reader.env)
            try:
                time.sleep(0.7)
                assert reader.browse(f"http://pypi.test{base}/").status_code == 200
                assert reader.browse("http://metadata.test/").status_code == 403
                time.sleep(1.0)
            finally:
                log.terminate()
                lines = log.communicate(timeout=10)[0].splitlines()
            assert any(re.match(r"ALLOWED\s+pypi\.test\s+200$", l) for l in lines), lines
            assert any(re.match(r"BLOCKED\s+metadata\.test\s+-$", l) for l in lines), lines
        elif filled.startswith("portcullis suggestions "):
            deadline = time.time() + 5
            while time.time() < deadline:
                out, _ = reader.run(filled)
                if "pypi.test" in out and "allowed.test" in out:
                    break
                time.sleep(0.1)
            assert out.index("pypi.test") < out.index("allowed.test"), "most used first"
        elif filled == f"portcullis lockdown {reader.sandbox}":
            reader.run(filled, tty=True)
        elif filled.startswith("portcullis pending") and "allow" not in filled and "block" not in filled:
            # Step 4's traffic: two hosts not on the list; HTTPS is refused at CONNECT.
            for host in ["api.openai.test", "other.test"]:
                assert reader.browse(f"http://{host}{base}/").status_code == 403
            status, _, err = curl("-v", "--proxy", reader.proxy, f"https://denied.test{base}/")
            assert status == 56 and "CONNECT tunnel failed, response 403" in err, err
            assert re.search(r"(?i)< X-Portcullis-Reason: default-deny", err), err
            deadline = time.time() + 5
            while time.time() < deadline:
                out, _ = reader.run(filled)
                reader.pending = re.findall(r"pnd_[0-9a-f]+", out)
                if len(reader.pending) >= 2:
                    break
                time.sleep(0.1)
            assert len(reader.pending) >= 2, out
        elif filled.startswith("portcullis audit --action reject"):
            out, _ = reader.run(filled)
            assert "reject" in out and "default-deny" in out
        elif filled.startswith("portcullis explain "):
            out, _ = reader.run(filled)
            assert out.startswith("ALLOW"), out
        else:
            assert filled.startswith("portcullis "), f"getting-started has a line this test does not know: {line}"
            reader.run(filled)

    # The page's path, end to end, left the state it describes.
    for needed in ["portcullis sandbox create", "portcullis lockdown", "portcullis pending allow", "portcullis import",
                   "portcullis template create", "portcullis policy mode allowlist --tenant"]:
        assert any(l.startswith(needed) for l in seen), f"the page no longer shows {needed}"
    assert gateway.call("GET", "/api/v1/network/policy").json()["default_mode"] == "allowlist"
    copy = gateway.call("GET", f"/api/v1/sandboxes/{reader.other}/network/policy").json()
    assert {r["host"] for r in copy["allow_rules"]} >= {"pypi.org", "files.pythonhosted.org"}
    templates = gateway.call("GET", "/api/v1/templates").json()["items"]
    assert [t["name"] for t in templates] == ["python-ds"]

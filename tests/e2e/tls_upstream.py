"""TLS upstreams for the credential tests: a CA of the test's own (made with openssl, trusted by
`serve --upstream-ca`), an echo server that reflects everything it receives (headers, query,
body; plain, chunked and Server-Sent Events; and in base64, base64url and percent-encoding),
and a git smart-HTTP server behind Basic authentication (Debian's git-http-backend).

Everything binds 127.0.0.1; the names the tests use are `.test` names in serve's hosts file.
"""
import base64
import http.server
import json
import os
import pathlib
import shutil
import ssl
import subprocess
import threading
import urllib.parse

import pytest


class TestCA:
    __test__ = False  # a helper, not a pytest class
    """A CA and one leaf for `names` (every name of the test upstreams), as files in `directory`."""

    def __init__(self, directory, names):
        if shutil.which("openssl") is None:
            pytest.fail("openssl is not installed (scripts/test installs it)")
        d = pathlib.Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.ca = d / "upstream-ca.pem"
        self.ca_key = d / "upstream-ca.key"
        self.cert = d / "upstream-leaf.pem"
        self.key = d / "upstream-leaf.key"
        run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(self.ca_key),
            "-out", str(self.ca), "-days", "2", "-subj", "/CN=Portcullis e2e upstream CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        csr = d / "upstream-leaf.csr"
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(self.key),
            "-out", str(csr), "-subj", "/CN=" + names[0])
        ext = d / "upstream-leaf.ext"
        ext.write_text("subjectAltName=" + ",".join("DNS:" + n for n in names) + "\nextendedKeyUsage=serverAuth\n")
        run("x509", "-req", "-in", str(csr), "-CA", str(self.ca), "-CAkey", str(self.ca_key), "-CAcreateserial",
            "-out", str(self.cert), "-days", "2", "-extfile", str(ext))

    def context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert), str(self.key))
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx


class TLSServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server whose connections are TLS, handshaken in each connection's thread."""
    daemon_threads = True

    def __init__(self, handler, context):
        super().__init__(("127.0.0.1", 0), handler)
        self.context = context

    def finish_request(self, request, client_address):
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        self.RequestHandlerClass(request, client_address, self)


class Received:
    """One request as the upstream got it."""

    def __init__(self, method, target, headers, body):
        self.method = method
        self.target = target
        self.headers = headers  # [(name, value)] in order
        self.body = body

    def header(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def raw(self):
        head = f"{self.method} {self.target}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in self.headers)
        return head.encode() + b"\r\n" + self.body

    def json(self):
        return {"method": self.method, "target": self.target, "headers": self.headers, "body": self.body.decode("utf-8", "replace")}


class EchoUpstream:
    """Answers every request with what it received. The path picks the framing:
    `/chunked…` chunked, `/sse…` an event stream written a few bytes at a time, `/encoded…`
    the request in base64, base64url and percent-encoding, anything else Content-Length. Every
    answer also carries the request's Authorization and query in response headers."""

    def __init__(self, ca):
        outer = self
        self.received = []
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                got = Received(self.command, self.path, list(self.headers.items()), body)
                with outer.lock:
                    outer.received.append(got)
                echo = json.dumps(got.json()).encode()
                path = self.path.split("?")[0]
                query = urllib.parse.urlsplit(self.path).query
                reflect = [("X-Echo-Authorization", self.headers.get("Authorization", "")), ("X-Echo-Query", query)]
                if path.startswith("/encoded"):
                    raw = got.raw()
                    echo = json.dumps({"b64": base64.b64encode(raw).decode(), "b64url": base64.urlsafe_b64encode(raw).decode(),
                                       "pct": urllib.parse.quote(raw, safe=""), "pct_lower": urllib.parse.quote(raw, safe="").lower(),
                                       "b64_shifted": [base64.b64encode(b"x" * n + raw).decode() for n in (1, 2)]}).encode()
                if path.startswith("/status/"):
                    self.send_response(int(path.split("/")[2]))
                else:
                    self.send_response(200)
                for k, v in reflect:
                    self.send_header(k, v)
                if path.startswith("/sse"):
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    text = b"data: " + echo + b"\n\n"
                    for i in range(0, len(text), 7):
                        piece = text[i:i + 7]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                elif path.startswith("/chunked"):
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(echo), 1000):
                        piece = echo[i:i + 1000]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(echo)))
                    self.end_headers()
                    self.wfile.write(echo)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_one

            def log_message(self, *args):
                pass

        self.server = TLSServer(Handler, ca.context())
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def everything(self):
        """Every byte every request carried, concatenated (for searching)."""
        with self.lock:
            return b"\n".join(r.raw() for r in self.received)

    def clear(self):
        with self.lock:
            self.received.clear()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class GitUpstream:
    """A git smart-HTTP server (git-http-backend as CGI) for one bare repository, answering 401
    with `WWW-Authenticate: Basic` unless the request carries Basic `user:password`."""

    def __init__(self, ca, directory, user, password):
        backend = pathlib.Path("/usr/lib/git-core/git-http-backend")
        if shutil.which("git") is None or not backend.exists():
            pytest.fail("git (with git-http-backend) is not installed (scripts/test installs it)")
        root = pathlib.Path(directory) / "git-root"
        work = pathlib.Path(directory) / "git-work"
        work.mkdir(parents=True)
        git = lambda *a, cwd=work: subprocess.run(["git", *a], cwd=cwd, check=True, capture_output=True,
                                                   env=dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=str(directory)))
        git("init", "-q", "-b", "main")
        (work / "README").write_text("the repository behind the credential\n")
        git("add", "README")
        git("-c", "user.name=e2e", "-c", "user.email=e2e@example.test", "commit", "-q", "-m", "first")
        root.mkdir()
        git("clone", "-q", "--bare", str(work), str(root / "repo.git"), cwd=directory)
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        outer = self
        self.authorizations = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.authorizations.append(self.headers.get("Authorization"))
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path, _, query = self.path.partition("?")
                env = dict(os.environ, GIT_PROJECT_ROOT=str(root), GIT_HTTP_EXPORT_ALL="1", PATH_INFO=path, QUERY_STRING=query,
                           REQUEST_METHOD=self.command, CONTENT_TYPE=self.headers.get("Content-Type", ""),
                           CONTENT_LENGTH=str(len(body)), REMOTE_USER=user, GIT_CONFIG_NOSYSTEM="1")
                if self.headers.get("Content-Encoding"):
                    env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
                if self.headers.get("Git-Protocol"):
                    env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
                out = subprocess.run([str(backend)], input=body, capture_output=True, env=env).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode().split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = handle_one

            def log_message(self, *args):
                pass

        self.server = TLSServer(Handler, ca.context())
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

"""What the inspection tests share (test_inspection.py on loopback, and the transparent
scenario inside its namespaces): test CAs and leaves made with openssl, a TLS origin that
answers every request with what it received, raw TLS clients through CONNECT and SOCKS5,
an HTTP/2 client on a raw TLS socket (the `h2` package), and the corpus of hostile paths.

Run as a script it serves origins (the transparent scenario starts it inside its
"internet" namespace):  python3 inspection_support.py serve CERT KEY ADDRESS[:PORT]...
and runs the corpus as a client (inside the client namespace):
python3 inspection_support.py corpus HOST ADDRESS PORT CAFILE  (one JSON document on stdout).

Network rule: the origins bind the addresses they are given (loopback, or the
documentation addresses inside the scenario's namespaces); the clients connect to the
addresses they are given.
"""
import base64
import json
import pathlib
import socket
import ssl
import struct
import subprocess
import sys
import threading

# ------------------------------------------------------------------ certificates


def _openssl(*args):
    p = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {p.stderr.strip()}")


def make_ca(directory, name):
    """A P-256 CA valid one day: returns (certificate path, key path)."""
    d = pathlib.Path(directory)
    cert, key = d / f"{name}-ca.pem", d / f"{name}-ca.key"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
             "-subj", f"/CN=inspection test CA {name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", str(key), "-out", str(cert))
    return cert, key


def issue_leaf(directory, ca, names, name):
    """A P-256 leaf for `names` (subjectAltName) signed by `ca`: returns (certificate path, key path)."""
    d = pathlib.Path(directory)
    cert, key, csr, ext = d / f"{name}.pem", d / f"{name}.key", d / f"{name}.csr", d / f"{name}.ext"
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", f"/CN={names[0]}",
             "-keyout", str(key), "-out", str(csr))
    ext.write_text("subjectAltName=" + ",".join(f"DNS:{n}" for n in names) + "\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial", "-days", "1",
             "-extfile", str(ext), "-out", str(cert))
    return cert, key


# ------------------------------------------------------------------ the origin


def read_head(stream, limit=65536):
    """Bytes up to and including the blank line; b"" at a clean end of stream."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = stream.recv(4096)
        if not chunk:
            if data:
                raise EOFError(f"the stream ended inside a head: {data[:200]!r}")
            return b"", b""
        data += chunk
        if len(data) > limit:
            raise ValueError("head too long")
    head, _, rest = data.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


class _Reader:
    """A socket with a pushback buffer."""

    def __init__(self, sock, buffered=b""):
        self.sock = sock
        self.buffer = buffered

    def recv(self, n):
        if self.buffer:
            out, self.buffer = self.buffer[:n], self.buffer[n:]
            return out
        return self.sock.recv(n)

    def exactly(self, n):
        out = b""
        while len(out) < n:
            chunk = self.recv(n - len(out))
            if not chunk:
                raise EOFError("the stream ended inside a body")
            out += chunk
        return out

    def line(self):
        out = b""
        while not out.endswith(b"\r\n"):
            chunk = self.recv(1)
            if not chunk:
                raise EOFError("the stream ended inside a chunked body")
            out += chunk
        return out[:-2]

    def head(self):
        head, rest = read_head(self)
        self.buffer = rest + self.buffer
        return head


def parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    first = lines[0]
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return first, headers


def read_body(reader, headers, until_close=False):
    if "chunked" in ",".join(headers.get("transfer-encoding", [])).lower():
        body = b""
        while True:
            size = int(reader.line().split(b";")[0], 16)
            if size == 0:
                while reader.line():
                    pass
                return body
            body += reader.exactly(size)
            reader.exactly(2)
    if "content-length" in headers:
        return reader.exactly(int(headers["content-length"][0]))
    if until_close:
        body = b""
        while True:
            chunk = reader.recv(65536)
            if not chunk:
                return body
            body += chunk
    return b""


class Origin:
    """A TLS origin on (address, port): answers every HTTP/1.1 request 200 with a JSON body
    naming what it received (method, the request target exactly as written, Host, the
    ALPN protocol, the body's length, the connection's number) and keeps it in `received`.
    A target starting with /status/NNN is answered with that status; /v1/__received with
    the list of every target received so far (for origins in another process)."""

    def __init__(self, cert, key, address="127.0.0.1", port=0, alpn=("http/1.1",)):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert), str(key))
        if alpn:
            self.context.set_alpn_protocols(list(alpn))
        self.received = []
        self.handshakes = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server((address, port), backlog=128)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, raw):
        try:
            raw.settimeout(30)
            tls = self.context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        with self.lock:
            self.handshakes += 1
            number = self.handshakes
        reader = _Reader(tls)
        try:
            while True:
                head = reader.head()
                if not head:
                    return
                first, headers = parse_head(head)
                method, target, _version = first.split(" ", 2)
                body = read_body(reader, headers)
                seen = {"method": method, "target": target, "host": (headers.get("host") or [None])[0],
                        "alpn": tls.selected_alpn_protocol(), "body_length": len(body), "connection": number,
                        "headers": {k: v for k, v in headers.items()}}
                with self.lock:
                    self.received.append(seen)
                status = 200
                if target.startswith("/status/"):
                    status = int(target[8:11])
                answer = json.dumps(seen).encode()
                if target == "/v1/__received":
                    answer = json.dumps(self.targets()).encode()
                close = "close" in ",".join(headers.get("connection", [])).lower()
                tls.sendall(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(answer)}\r\n"
                            f"{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n".encode() + answer)
                if close:
                    return
        except (OSError, ValueError, EOFError, ssl.SSLError):
            return
        finally:
            tls.close()

    def targets(self):
        with self.lock:
            return [r["target"] for r in self.received]

    def close(self):
        self.closed = True
        self.listener.close()


# ------------------------------------------------------------------ clients


def open_connect(proxy_port, sandbox, host, port, proxy_host="127.0.0.1"):
    """A socket through `CONNECT host:port` with the sandbox's credential, after the 200."""
    s = socket.create_connection((proxy_host, proxy_port), timeout=10)
    p = sandbox["proxy"]
    token = base64.b64encode(f"{p['username']}:{p['password']}".encode()).decode()
    s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\nProxy-Authorization: Basic {token}\r\n\r\n".encode())
    head, rest = read_head(s)
    assert head.startswith(b"HTTP/1.1 200"), head
    assert rest == b"", rest
    return s


def open_socks5(socks_port, sandbox, host, port, proxy_host="127.0.0.1"):
    """A socket through SOCKS5 (username/password, a domain name target), after the success reply."""
    s = socket.create_connection((proxy_host, socks_port), timeout=10)
    p = sandbox["proxy"]
    s.sendall(b"\x05\x01\x02")
    assert s.recv(2) == b"\x05\x02"
    user, password = p["username"].encode(), p["password"].encode()
    s.sendall(b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password)
    assert s.recv(2) == b"\x01\x00"
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(host)]) + host.encode() + struct.pack("!H", port))
    reply = b""
    while len(reply) < 10:
        chunk = s.recv(10 - len(reply))
        assert chunk, f"SOCKS5 reply cut short: {reply!r}"
        reply += chunk
    assert reply[1] == 0, f"SOCKS5 reply {reply[1]:#x}"
    return s


def open_direct(address, port):
    """A plain TCP connection (the transparent scenario: the namespace redirects it)."""
    return socket.create_connection((address, port), timeout=10)


def client_context(cafile=None, cadata=None, alpn=("http/1.1",), check_hostname=True):
    context = ssl.create_default_context(cafile=str(cafile) if cafile else None, cadata=cadata)
    context.check_hostname = check_hostname
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


def tls(sock, host, cafile=None, cadata=None, alpn=("http/1.1",), sni=True):
    """The client's TLS over `sock`, verified against the CA given."""
    context = client_context(cafile, cadata, alpn, check_hostname=sni)
    return context.wrap_socket(sock, server_hostname=host if sni else None)


def request(stream, raw):
    """Writes one raw request and reads one response: (status, headers, body); status 0 if
    the connection ended before a response."""
    stream.sendall(raw)
    reader = _Reader(stream)
    try:
        head = reader.head()
    except (OSError, EOFError, ssl.SSLError):
        return 0, {}, b""
    if not head:
        return 0, {}, b""
    first, headers = parse_head(head)
    status = int(first.split(" ")[1])
    body = read_body(reader, headers, until_close="close" in ",".join(headers.get("connection", [])).lower())
    return status, headers, body


def get(target, host, method="GET", extra=""):
    return f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode("latin-1")


# ------------------------------------------------------------------ HTTP/2 on a raw socket


def h2_exchange(stream, host, requests, timeout=10):
    """Sends every request of `requests` ((method, path, extra fields, body)) as a stream of
    its own on one HTTP/2 connection, all at once, and collects each answer: a dict with
    status, headers, body, trailers, and reset (the error code when the stream was reset)."""
    import h2.config
    import h2.connection
    import h2.events

    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    results = {}
    for method, path, extra, body in requests:
        sid = conn.get_next_available_stream_id()
        # `extra` may replace a pseudo-header (":authority") or add fields.
        pseudo = {":method": method, ":path": path, ":scheme": "https", ":authority": host}
        pseudo.update({k: v for k, v in extra if k.startswith(":")})
        headers = [*pseudo.items(), *[(k, v) for k, v in extra if not k.startswith(":")]]
        conn.send_headers(sid, headers, end_stream=not body)
        if body:
            conn.send_data(sid, body, end_stream=True)
        results[sid] = {"status": None, "headers": {}, "body": b"", "trailers": {}, "reset": None, "ended": False}
    stream.sendall(conn.data_to_send())
    stream.settimeout(timeout)
    pending = set(results)
    while pending:
        data = stream.recv(65536)
        if not data:
            break
        for event in conn.receive_data(data):
            r = results.get(getattr(event, "stream_id", None))
            if isinstance(event, h2.events.ResponseReceived):
                r["headers"] = dict(event.headers)
                r["status"] = int(r["headers"][":status"])
            elif isinstance(event, h2.events.DataReceived):
                r["body"] += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.TrailersReceived):
                r["trailers"] = dict(event.headers)
            elif isinstance(event, h2.events.StreamEnded):
                r["ended"] = True
                pending.discard(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                r["reset"] = event.error_code
                pending.discard(event.stream_id)
            elif isinstance(event, h2.events.ConnectionTerminated):
                pending.clear()
        out = conn.data_to_send()
        if out:
            stream.sendall(out)
    return [results[sid] for sid in sorted(results)]


# ------------------------------------------------------------------ the hostile paths

# Each entry: the request target as written on the wire, and what must happen with a rule
# allowing GET on /v1/*:
#   ("forward", T)  the upstream receives exactly T (the canonical path, the query unchanged)
#   ("forbid", P)   403 endpoint-not-allowed decided on the canonical path P; nothing forwarded
#   ("refuse", None) 400, nothing forwarded (INSPECTION.md: ambiguous paths)
HOSTILE_PATHS = [
    ("/v1/a/../b", ("forward", "/v1/b")),
    ("/v1/./a/./b", ("forward", "/v1/a/b")),
    ("/v1/x/%2e%2e/y", ("forward", "/v1/y")),
    ("/v1/x/%2E%2e/y", ("forward", "/v1/y")),
    ("/v1/x/.%2e/y", ("forward", "/v1/y")),
    ("/v1/x/%2e/y", ("forward", "/v1/x/y")),
    ("//v1//a///b", ("forward", "/v1/a/b")),
    ("/v1/%7euser/%41%62", ("forward", "/v1/~user/Ab")),
    ("/v1/caf%c3%a9", ("forward", "/v1/caf%C3%A9")),
    ("/v1/a%20b", ("forward", "/v1/a%20b")),
    ("/v1/a/b/..", ("forward", "/v1/a/")),
    ("/v1/a?q=%2e%2e/../x;y%2F", ("forward", "/v1/a?q=%2e%2e/../x;y%2F")),
    ("/v1/../admin", ("forbid", "/admin")),
    ("/v1/%2e%2e/admin", ("forbid", "/admin")),
    ("/v1/x/..%2f..%2fadmin", ("refuse", None)),
    ("/v1/%2F../admin", ("refuse", None)),
    ("/v1/a%2fb", ("refuse", None)),
    ("/v1/..%5Cadmin", ("refuse", None)),
    ("/v1/a%5cb", ("refuse", None)),
    ("/v1/a\\..\\admin", ("refuse", None)),
    ("/v1/public/..;/admin", ("refuse", None)),
    ("/v1/a;jsessionid=1", ("refuse", None)),
    ("/v1/a%00b", ("refuse", None)),
    ("/v1/%252e%252e/admin", ("refuse", None)),
    ("/v1/%25%32%65%25%32%65/admin", ("refuse", None)),
    ("/..", ("refuse", None)),
    ("/v1/../../admin", ("refuse", None)),
    ("/v1/%2e%2e/%2e%2e/admin", ("refuse", None)),
    ("/v1/a%2", ("refuse", None)),
    ("/v1/a%zz", ("refuse", None)),
    ("/v1/caf\u00e9", ("refuse", None)),
    ("/v1/a\tb", ("refuse", None)),
    ("v1/a", ("refuse", None)),
    ("*", ("refuse", None)),
    ("https://{host}/v1/a", ("refuse", None)),
    ("http://{host}/v1/a", ("refuse", None)),
    ("http://{host}:{port}/v1/a", ("refuse", None)),
]


def run_corpus(opener, host, port, cafile=None, cadata=None):
    """Every hostile path on a TLS connection of its own (`opener()` gives the TCP socket to
    `host`:`port`): one result per entry: the target sent, the status, X-Portcullis-Reason,
    the body, and whether the connection was closed after the answer."""
    out = []
    for target, _ in HOSTILE_PATHS:
        target = target.replace("{host}", host).replace("{port}", str(port))
        stream = tls(opener(), host, cafile=cafile, cadata=cadata)
        try:
            status, headers, body = request(stream, get(target, host))
            closed = False
            if status:
                # Is the connection still usable? A second, plain request tells.
                try:
                    again, _, _ = request(stream, get("/v1/after", host))
                    closed = again == 0
                except (OSError, ssl.SSLError):
                    closed = True
            out.append({"target": target, "status": status, "reason": (headers.get("x-portcullis-reason") or [None])[0],
                        "body": body.decode("utf-8", "replace"), "closed": closed})
        finally:
            stream.close()
    return out


def _serve_main(args):
    cert, key, *addresses = args
    origins = []
    for a in addresses:
        address, _, port = a.partition(":")
        origins.append(Origin(cert, key, address, int(port or 443)))
    print("ready", flush=True)
    threading.Event().wait()


def _corpus_main(args):
    host, address, port, cafile = args
    print(json.dumps(run_corpus(lambda: open_direct(address, int(port)), host, int(port), cafile=cafile)))


if __name__ == "__main__":
    {"serve": _serve_main, "corpus": _corpus_main}[sys.argv[1]](sys.argv[2:])

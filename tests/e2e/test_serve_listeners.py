"""`serve`'s listeners as an operator controls them (issue 16, API.md "Operations"):
`--socks off`, `--dns off`, `--transparent off`; a listener that cannot bind stops serve
with exactly one line on stderr naming the flag, the address and the reason, and exit
status 1; `serve --help` names each flag's PORTCULLIS_<NAME> variable. Loopback only."""
import os
import re
import socket
import subprocess

from conftest import ADMIN, BINARY, Gateway, curl


def serve(tmp_path, *args, env=None, timeout=30):
    """Runs serve expecting it to stop by itself; returns (status, stdout, stderr)."""
    base = [str(BINARY), "serve", "--data-dir", str(tmp_path / "data"), "--api", "127.0.0.1:0", "--proxy", "127.0.0.1:0",
            "--socks", "127.0.0.1:0", "--dns", "127.0.0.1:0", "--transparent", "127.0.0.1:0", "--admin-token", ADMIN,
            "--no-system-resolver"]
    p = subprocess.run(base + list(args), capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **(env or {})))
    return p.returncode, p.stdout, p.stderr


def held(kind=socket.SOCK_STREAM, reuse=False):
    """A loopback socket holding a port (TCP listening, or UDP bound)."""
    s = socket.socket(socket.AF_INET, kind)
    if reuse:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    if kind == socket.SOCK_STREAM:
        s.listen(1)
    return s, s.getsockname()[1]


def test_a_taken_transparent_port_stops_serve_with_one_line_and_status_1(tmp_path):
    s, port = held()
    try:
        status, out, err = serve(tmp_path, "--transparent", f"127.0.0.1:{port}")
    finally:
        s.close()
    assert status == 1
    assert err == f"portcullis: --transparent 127.0.0.1:{port}: address already in use\n"
    assert "Portcullis is ready" not in out
    assert not (tmp_path / "data").exists(), "nothing was started or written before the listeners were known to bind"


def test_a_taken_dns_port_stops_serve_even_when_its_holder_allows_reuse(tmp_path):
    # A UDP socket with SO_REUSEADDR (as mDNS responders bind 0.0.0.0:5353) must not share
    # its port with the DNS gateway silently: the gateway would get only some of the queries.
    for reuse in (False, True):
        s, port = held(socket.SOCK_DGRAM, reuse=reuse)
        try:
            status, _, err = serve(tmp_path, "--dns", f"127.0.0.1:{port}")
        finally:
            s.close()
        assert status == 1 and err == f"portcullis: --dns 127.0.0.1:{port}: address already in use\n", (reuse, err)


def test_two_listeners_on_one_port_and_an_address_not_on_this_host(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    status, _, err = serve(tmp_path, "--proxy", f"127.0.0.1:{port}", "--transparent", f"127.0.0.1:{port}")
    assert status == 1
    assert err == f"portcullis: --transparent 127.0.0.1:{port}: address already in use (by --proxy 127.0.0.1:{port})\n"
    status, _, err = serve(tmp_path, "--socks", "192.0.2.1:1080")
    assert status == 1 and err == "portcullis: --socks 192.0.2.1:1080: cannot assign requested address\n"
    status, _, err = serve(tmp_path, "--proxy", "off")
    assert status == 2 and err.count("\n") == 1 and "only --socks, --dns and --transparent can be off" in err


def test_listeners_can_be_left_out(tmp_path, upstream):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        dns_port = probe.getsockname()[1]
    os.environ["PORTCULLIS_DNS"] = f"127.0.0.1:{dns_port}"
    try:
        g = Gateway(tmp_path, extra_args=["--socks", "off", "--dns", "off", "--transparent", "off"])
    finally:
        del os.environ["PORTCULLIS_DNS"]
    try:
        text = "\n".join(g.banner)
        assert "SOCKS5 proxy         off (--socks off)" in text
        assert "DNS gateway          off (--dns off)" in text
        assert "Transparent listener off (--transparent off)" in text
        # The flag wins over PORTCULLIS_DNS, and nothing took that port.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
            again.bind(("127.0.0.1", dns_port))
        sbx = g.sandbox()
        status, out, _ = curl("--proxy", g.proxy_url(sbx), f"http://allowed.test:{upstream.port}/")
        assert status == 0 and "hello from allowed.test" in out, "the HTTP proxy still serves"
        assert g.call("GET", "/readyz").status_code == 200
    finally:
        g.stop()


def test_serve_help_names_every_flags_variable():
    out = subprocess.run([str(BINARY), "serve", "--help"], capture_output=True, text=True, env=dict(os.environ, COLUMNS="400")).stdout
    flags = re.findall(r"^\s+--([a-z-]+)", out, re.M)
    flags = [f for f in flags if f != "help"]
    assert len(flags) >= 13, out
    text = " ".join(out.split())
    for flag in flags:
        name = "PORTCULLIS_" + flag.upper().replace("-", "_")
        assert f"env {name}" in text, f"--{flag} does not name {name}"
    assert "off" in text and "exit status 1" in text


def test_no_later_socket_can_share_the_dns_port(gateway):
    """An mDNS responder that binds 0.0.0.0:5353 with SO_REUSEADDR after serve took the
    port used to bind beside the DNS gateway and receive every query (measured: dig timed
    out). The gateway's UDP socket no longer allows that."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as late:
        late.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            late.bind(("127.0.0.1", gateway.dns_port))
            shared = True
        except OSError as e:
            shared = False
            assert e.errno == 98, e  # EADDRINUSE
    assert not shared, "a later SO_REUSEADDR socket could take the DNS gateway's queries"

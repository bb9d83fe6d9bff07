"""Load client for bench.py (runs inside the client netns): opens `count` tunnels with
`workers` threads, each connect → (CONNECT head and its 200) → 5 bytes echoed → close.
Prints one JSON line: setups per second and latency percentiles (ms)."""
import json
import socket
import sys
import threading
import time

mode, target_host, target_port, proxy_host, proxy_port, count, workers = sys.argv[1:8]
target_port, proxy_port, count, workers = int(target_port), int(proxy_port), int(count), int(workers)
latencies = []
errors = [0]
lock = threading.Lock()
next_index = [0]


def one():
    t0 = time.perf_counter()
    if mode == "transparent":
        s = socket.create_connection((target_host, target_port), timeout=5)
    else:
        s = socket.create_connection((proxy_host, proxy_port), timeout=5)
        s.sendall(f"CONNECT {target_host}:{target_port} HTTP/1.1\r\nHost: {target_host}:{target_port}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(1024)
            if not chunk:
                raise OSError("proxy closed")
            head += chunk
        if not head.startswith(b"HTTP/1.1 200"):
            raise OSError(head[:60])
    s.sendall(b"ping\n")
    got = b""
    while len(got) < 5:
        chunk = s.recv(64)
        if not chunk:
            raise OSError("closed before the echo")
        got += chunk
    s.close()
    return time.perf_counter() - t0


def worker():
    while True:
        with lock:
            if next_index[0] >= count:
                return
            next_index[0] += 1
        try:
            dt = one()
            with lock:
                latencies.append(dt)
        except OSError:
            with lock:
                errors[0] += 1


start = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(workers)]
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=120)
elapsed = time.perf_counter() - start
latencies.sort()


def pct(p):
    return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else None


print(json.dumps({"mode": mode, "ok": len(latencies), "errors": errors[0], "seconds": round(elapsed, 2),
                  "per_second": round(len(latencies) / elapsed, 1), "p50_ms": pct(0.5), "p99_ms": pct(0.99)}))

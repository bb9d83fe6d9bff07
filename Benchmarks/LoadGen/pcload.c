/*
 * pcload: the gateway benchmark's load generator and origin, in C, so that neither is
 * the bottleneck (the Swift/NIO generator it replaces cost ~75 us of CPU per tunnel on the
 * benchmark's two cores; this one costs a fraction of that, see RESULTS.md). One thread,
 * epoll, non-blocking sockets, every latency kept (no sampling) and sorted at the end.
 * Loopback only: it connects to the addresses it is given (run.sh gives 127.0.0.1).
 *
 *   pcload origin --port P
 *       HTTP/1.1 origin on 127.0.0.1:P: "/" answers 3 bytes, "/bulk?mb=N" streams N MiB,
 *       keep-alive honoured, "Connection: close" closes after the response.
 *   pcload MODE --target HOST:PORT [--proxy HOST:PORT] [--label L] [--concurrency N]
 *               [--seconds S] [--mb N] [--pid P[,P...]] [--max N]
 *       tunnel: open, CONNECT (with a proxy), one GET with Connection: close, close;
 *               `concurrency` connections at a time for `seconds`; rate, p50/p99 setup
 *               (connect() to the CONNECT reply; direct: to the complete response).
 *       http:   `concurrency` keep-alive connections, GET after GET (absolute URI with a
 *               proxy) for `seconds`; responses per second.
 *       bulk:   `concurrency` tunnels each GET /bulk?mb=N; MiB/s over all of them.
 *       idle:   `concurrency` tunnels, one exchange each, held open; resident memory of
 *               the processes in --pid, per tunnel.
 *   --protocol opaque (tunnel, bulk, idle): the exchange inside each tunnel is not HTTP
 *       (`PCLOAD / PCLOAD/1`, which no HTTP classifier takes for a request), so a gateway
 *       that inspects HTTP in tunnels relays it as an opaque protocol; the origin answers it
 *       as it answers a GET. The mode is reported as `opaque-tunnel`, `opaque-bulk`, `opaque-idle`.
 * One JSON line on stdout per run (the format run.sh's table reads), plus the generator's
 * own CPU time per completed tunnel/request.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

#define HEAD_MAX 8192
#define READ_BUF (256 * 1024)
#define MAX_SAMPLES (8 * 1024 * 1024)

static int parse_hostport(const char *text, struct sockaddr_in *out) {
    char host[256];
    const char *colon = strrchr(text, ':');
    if (!colon || colon - text >= (long)sizeof(host)) return -1;
    memcpy(host, text, colon - text);
    host[colon - text] = 0;
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &out->sin_addr) != 1) return -1;
    /* The network rule: loopback only. */
    if ((ntohl(out->sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "pcload: %s is not a loopback address\n", host);
        exit(2);
    }
    return 0;
}

/* ------------------------------------------------------------------ origin */

typedef struct {
    int fd;
    char in[HEAD_MAX];
    int inlen;
    long bulk_left;   /* body bytes still to send for /bulk */
    int close_after;  /* close once everything is written */
    char out[256];
    int outlen, outoff;
} origin_conn;

static char bulk_chunk[READ_BUF];

static void origin_close(int ep, origin_conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* Writes what is pending; returns -1 on error, 0 when blocked, 1 when all written. */
static int origin_flush(origin_conn *c) {
    while (c->outoff < c->outlen) {
        ssize_t n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
        if (n < 0) return errno == EAGAIN ? 0 : -1;
        c->outoff += (int)n;
    }
    while (c->bulk_left > 0) {
        size_t want = c->bulk_left < (long)sizeof(bulk_chunk) ? (size_t)c->bulk_left : sizeof(bulk_chunk);
        ssize_t n = write(c->fd, bulk_chunk, want);
        if (n < 0) return errno == EAGAIN ? 0 : -1;
        c->bulk_left -= n;
    }
    return 1;
}

/* Answers every complete request head in the input; returns -1 to close. */
static int origin_serve(int ep, origin_conn *c) {
    for (;;) {
        if (c->outoff < c->outlen || c->bulk_left > 0) return 0; /* one response at a time */
        int h = head_end(c->in, c->inlen);
        if (!h) return c->inlen >= HEAD_MAX ? -1 : 0;
        long mb = -1;
        /* Any method: `--protocol opaque` asks with PCLOAD. */
        const char *sp = memchr(c->in, ' ', (size_t)h);
        if (sp && strncmp(sp + 1, "/bulk?mb=", 9) == 0) mb = atol(sp + 10);
        const char *conn = header_value(c->in, h, "connection");
        c->close_after = conn && strncasecmp(conn, "close", 5) == 0;
        const char *close_header = c->close_after ? "Connection: close\r\n" : "";
        if (mb >= 0) {
            c->bulk_left = mb << 20;
            c->outlen = snprintf(c->out, sizeof(c->out), "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n%s\r\n", c->bulk_left,
                                 close_header);
        } else {
            c->outlen = snprintf(c->out, sizeof(c->out), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n%s\r\nok\n", close_header);
        }
        c->outoff = 0;
        memmove(c->in, c->in + h, c->inlen - h);
        c->inlen -= h;
        int r = origin_flush(c);
        if (r < 0) return -1;
        if (r == 0) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            return 0;
        }
        c->outlen = c->outoff = 0;
        if (c->close_after) return -1;
    }
}

static _Noreturn int run_origin(int argc, char **argv) {
    int port = atoi(opt(argc, argv, "--port", "8080"));
    memset(bulk_chunk, 'a', sizeof(bulk_chunk));
    signal(SIGPIPE, SIG_IGN);
    int lfd;
    int ep = origin_listen(port, &lfd);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            origin_conn *c = evs[i].data.ptr;
            if (!c) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                    if (fd < 0) break;
                    nodelay(fd);
                    origin_conn *nc = calloc(1, sizeof(*nc));
                    if (!nc) {
                        close(fd);
                        continue;
                    }
                    nc->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            if (evs[i].events & EPOLLOUT) {
                int r = origin_flush(c);
                if (r < 0) {
                    origin_close(ep, c);
                    continue;
                }
                if (r == 1) {
                    c->outlen = c->outoff = 0;
                    if (c->close_after) {
                        origin_close(ep, c);
                        continue;
                    }
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                    if (origin_serve(ep, c) < 0) {
                        origin_close(ep, c);
                        continue;
                    }
                }
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t r = read(c->fd, c->in + c->inlen, HEAD_MAX - c->inlen);
                if (r == 0 || (r < 0 && errno != EAGAIN)) {
                    origin_close(ep, c);
                    continue;
                }
                if (r > 0) {
                    c->inlen += (int)r;
                    if (origin_serve(ep, c) < 0) origin_close(ep, c);
                }
            }
        }
    }
}

/* ------------------------------------------------------------------ load */

enum phase { CONNECTING, CONNECT_REPLY, RESPONSE_HEAD, BODY, HELD, DONE };

typedef struct {
    int fd;
    enum phase phase;
    uint64_t started;
    char head[HEAD_MAX];
    int headlen;
    long body_left;
    long body_bytes;
    int status;
} load_conn;

static struct {
    const char *mode;
    struct sockaddr_in addr;
    int via_proxy;
    char connect_req[512];
    int connect_len;
    char request[512];
    int request_len;
    int keep_going; /* http: another request after each response */
    uint64_t stop_at;
    long max_conns;
    /* results */
    long ok, failures, responses, opened;
    long body_total;
    uint32_t *samples; /* latency in microseconds */
    long nsamples;
    int active;
    int held;
} L;

static char rbuf[READ_BUF];

static int load_start(int ep, load_conn *c) {
    if (L.opened >= L.max_conns) return -1;
    L.opened++;
    memset(c, 0, offsetof(load_conn, head));
    c->headlen = 0;
    c->started = now_ns();
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) die("socket");
    nodelay(c->fd);
    if (connect(c->fd, (struct sockaddr *)&L.addr, sizeof(L.addr)) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        L.failures++;
        return 0;
    }
    c->phase = CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    L.active++;
    return 1;
}

static void load_finish(int ep, load_conn *c, int failed) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->phase = DONE;
    L.active--;
    if (failed) L.failures++;
}

static int send_all(int fd, const char *p, int n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) return -1; /* requests are tiny: a full send buffer here is a failure */
        p += w;
        n -= (int)w;
    }
    return 0;
}

static void record_latency(load_conn *c) {
    if (L.nsamples < MAX_SAMPLES) L.samples[L.nsamples++] = (uint32_t)((now_ns() - c->started) / 1000);
}

/* Consumes bytes; returns 1 when the conversation of this connection is over (closed). */
static int load_bytes(int ep, load_conn *c, const char *p, long n) {
    while (n > 0) {
        if (c->phase == CONNECT_REPLY || c->phase == RESPONSE_HEAD) {
            long take = n < HEAD_MAX - c->headlen ? n : HEAD_MAX - c->headlen;
            int before = c->headlen;
            memcpy(c->head + c->headlen, p, take);
            c->headlen += (int)take;
            int h = head_end(c->head, c->headlen);
            if (!h) {
                if (c->headlen >= HEAD_MAX) {
                    load_finish(ep, c, 1);
                    return 1;
                }
                return 0;
            }
            long used = h - before;
            p += used;
            n -= used;
            c->status = (c->headlen > 12 && strncmp(c->head, "HTTP/1.", 7) == 0) ? atoi(c->head + 9) : 0;
            if (c->phase == CONNECT_REPLY) {
                if (c->status != 200) {
                    load_finish(ep, c, 1);
                    return 1;
                }
                record_latency(c);
                c->headlen = 0;
                c->phase = RESPONSE_HEAD;
                if (send_all(c->fd, L.request, L.request_len) < 0) {
                    load_finish(ep, c, 1);
                    return 1;
                }
                continue;
            }
            const char *cl = header_value(c->head, h, "content-length");
            c->body_left = cl ? atol(cl) : 0;
            c->headlen = 0;
            c->phase = BODY;
        }
        if (c->phase == BODY) {
            long take = n < c->body_left ? n : c->body_left;
            c->body_left -= take;
            c->body_bytes += take;
            p += take;
            n -= take;
            if (c->body_left > 0) return 0;
            L.responses++;
            if (c->status != 200) {
                load_finish(ep, c, 1);
                return 1;
            }
            if (!L.via_proxy && strcmp(L.mode, "tunnel") == 0) record_latency(c);
            if (strcmp(L.mode, "idle") == 0) {
                c->phase = HELD;
                L.held++;
                return 0;
            }
            if (L.keep_going && now_ns() < L.stop_at) {
                c->phase = RESPONSE_HEAD;
                if (send_all(c->fd, L.request, L.request_len) < 0) {
                    load_finish(ep, c, 1);
                    return 1;
                }
                continue;
            }
            L.ok++;
            L.body_total += c->body_bytes;
            load_finish(ep, c, 0);
            return 1;
        }
        if (c->phase == HELD) return 0; /* stray bytes on a held tunnel: ignored */
        return 0;
    }
    return 0;
}

static void load_event(int ep, load_conn *c, uint32_t events) {
    if (c->phase == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err || (events & (EPOLLERR | EPOLLHUP))) {
            load_finish(ep, c, 1);
            return;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        const char *req = L.via_proxy && L.connect_len ? L.connect_req : L.request;
        int len2 = L.via_proxy && L.connect_len ? L.connect_len : L.request_len;
        c->phase = L.via_proxy && L.connect_len ? CONNECT_REPLY : RESPONSE_HEAD;
        if (send_all(c->fd, req, len2) < 0) load_finish(ep, c, 1);
        return;
    }
    for (;;) {
        ssize_t r = read(c->fd, rbuf, sizeof(rbuf));
        if (r > 0) {
            if (load_bytes(ep, c, rbuf, r)) return;
            if (r < (ssize_t)sizeof(rbuf)) return; /* drained; level-triggered epoll re-reports */
            continue;
        }
        if (r < 0 && errno == EAGAIN) return;
        /* EOF or error before the conversation ended */
        if (c->phase == HELD) L.held--;
        load_finish(ep, c, 1);
        return;
    }
}

static double pct_ms(double p) {
    if (L.nsamples == 0) return 0;
    long i = (long)(L.nsamples * p);
    if (i >= L.nsamples) i = L.nsamples - 1;
    return L.samples[i] / 1000.0;
}

static int run_load(int argc, char **argv) {
    L.mode = argv[1];
    const char *target = opt(argc, argv, "--target", "localhost:8080");
    const char *proxy = opt(argc, argv, "--proxy", NULL);
    const char *protocol = opt(argc, argv, "--protocol", "http");
    const char *label = opt(argc, argv, "--label", proxy ? proxy : "direct");
    int conc = atoi(opt(argc, argv, "--concurrency", "32"));
    double seconds = atof(opt(argc, argv, "--seconds", "5"));
    long mb = atol(opt(argc, argv, "--mb", "256"));
    L.max_conns = atol(opt(argc, argv, "--max", "20000000"));
    if (conc < 1 || conc > 100000 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "pcload: concurrency 1..100000, seconds 0..600\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)conc + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    L.via_proxy = proxy != NULL;
    if (parse_hostport(proxy ? proxy : target, &L.addr) < 0) {
        fprintf(stderr, "pcload: bad address\n");
        return 2;
    }
    int tunnel = strcmp(L.mode, "http") != 0;
    int keep_alive = strcmp(L.mode, "http") == 0 || strcmp(L.mode, "idle") == 0;
    if (strcmp(L.mode, "tunnel") && strcmp(L.mode, "http") && strcmp(L.mode, "bulk") && strcmp(L.mode, "idle")) {
        fprintf(stderr, "pcload: unknown mode %s\n", L.mode);
        return 2;
    }
    if (L.via_proxy && tunnel)
        L.connect_len = snprintf(L.connect_req, sizeof(L.connect_req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target);
    char path[64];
    if (strcmp(L.mode, "bulk") == 0)
        snprintf(path, sizeof(path), "/bulk?mb=%ld", mb);
    else
        strcpy(path, "/");
    int opaque = strcmp(protocol, "opaque") == 0;
    if ((!opaque && strcmp(protocol, "http")) || (opaque && !tunnel)) {
        fprintf(stderr, "pcload: --protocol is http, or opaque with tunnel, bulk or idle\n");
        return 2;
    }
    const char *prefix = opaque ? "opaque-" : "";
    L.request_len = snprintf(L.request, sizeof(L.request), "%s %s%s%s %s\r\nHost: %s\r\n%s\r\n", opaque ? "PCLOAD" : "GET",
                             (L.via_proxy && !tunnel) ? "http://" : "", (L.via_proxy && !tunnel) ? target : "", path,
                             opaque ? "PCLOAD/1" : "HTTP/1.1", target, keep_alive ? "" : "Connection: close\r\n");
    L.keep_going = strcmp(L.mode, "http") == 0;
    L.samples = malloc(sizeof(uint32_t) * MAX_SAMPLES);
    load_conn *conns = calloc(conc, sizeof(load_conn));
    if (!L.samples || !conns) die("malloc");
    for (int i = 0; i < conc; i++) conns[i].fd = -1;
    int ep = epoll_create1(0);
    struct epoll_event evs[512];
    uint64_t t0 = now_ns();
    double cpu0 = cpu_seconds();
    int is_idle = strcmp(L.mode, "idle") == 0;
    int is_tunnel = strcmp(L.mode, "tunnel") == 0;
    /* bulk and idle are bounded by a safety deadline, tunnel and http by --seconds */
    L.stop_at = t0 + (uint64_t)((is_tunnel || L.keep_going ? seconds : 300) * 1e9);
    const char *pids = opt(argc, argv, "--pid", "");
    long rss_before = is_idle ? rss_kib(pids) : 0;
    int opened = 0;
    if (is_idle) {
        /* batches of 200, each waited for (20 s at most) before the next */
        while (opened < conc && now_ns() < L.stop_at) {
            int batch = conc - opened < 200 ? conc - opened : 200;
            int target_held = L.held + batch;
            for (int i = 0; i < batch; i++) load_start(ep, &conns[opened + i]);
            opened += batch;
            uint64_t deadline = now_ns() + 20000000000ull;
            while (L.held < target_held && now_ns() < deadline) {
                int n = epoll_wait(ep, evs, 512, 10);
                for (int i = 0; i < n; i++) load_event(ep, evs[i].data.ptr, evs[i].events);
            }
        }
        uint64_t settle = now_ns() + 1000000000ull;
        while (now_ns() < settle) {
            int n = epoll_wait(ep, evs, 512, 10);
            for (int i = 0; i < n; i++) load_event(ep, evs[i].data.ptr, evs[i].events);
        }
        long rss_after = rss_kib(pids);
        printf("{\"label\":\"%s\",\"mode\":\"%sidle\",\"tunnels\":%d,\"kib_per_tunnel\":%f,\"rss_before_kib\":%ld,\"rss_after_kib\":%ld}\n",
               label, prefix, L.held, (double)(rss_after - rss_before) / (L.held > 0 ? L.held : 1), rss_before, rss_after);
        fflush(stdout);
        return 0;
    }
    for (int i = 0; i < conc; i++) load_start(ep, &conns[i]);
    while (L.active > 0) {
        int n = epoll_wait(ep, evs, 512, 10);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        uint64_t now = now_ns();
        for (int i = 0; i < n; i++) {
            load_conn *c = evs[i].data.ptr;
            load_event(ep, c, evs[i].events);
            /* tunnel: each slot opens the next connection until the time is up */
            if (is_tunnel && c->phase == DONE && now < L.stop_at) load_start(ep, c);
        }
        if (now > L.stop_at + 30000000000ull) break; /* a stuck connection: give up */
    }
    double elapsed = (now_ns() - t0) / 1e9;
    double cpu = cpu_seconds() - cpu0;
    if (is_tunnel) {
        qsort(L.samples, L.nsamples, sizeof(uint32_t), cmp_u32);
        printf("{\"label\":\"%s\",\"mode\":\"%stunnel\",\"rate\":%f,\"p50_ms\":%f,\"p99_ms\":%f,\"failures\":%ld,\"load_cpu_us\":%f}\n",
               label, prefix, L.ok / seconds, pct_ms(0.5), pct_ms(0.99), L.failures, cpu * 1e6 / (L.ok > 0 ? L.ok : 1));
    } else if (L.keep_going) {
        printf("{\"label\":\"%s\",\"mode\":\"http\",\"rate\":%f,\"failures\":%ld,\"load_cpu_us\":%f}\n", label,
               L.responses / seconds, L.failures, cpu * 1e6 / (L.responses > 0 ? L.responses : 1));
    } else {
        printf("{\"label\":\"%s\",\"mode\":\"%sbulk\",\"tunnels\":%d,\"mib_per_s\":%f,\"failures\":%ld}\n", label, prefix, conc,
               L.body_total / 1048576.0 / elapsed, L.failures);
    }
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: pcload origin|tunnel|http|bulk|idle ...\n");
        return 2;
    }
    if (strcmp(argv[1], "origin") == 0) return run_origin(argc, argv);
    return run_load(argc, argv);
}

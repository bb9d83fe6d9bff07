/*
 * pctls: the inspection benchmark's TLS load generator and TLS origin (Benchmarks/InspectionBench/run.sh),
 * in C with OpenSSL, one thread, epoll, non-blocking sockets; pcload.c's sibling for HTTPS.
 * Loopback only: it connects to and binds the addresses it is given (127.0.0.0/8).
 *
 *   pctls origin --port P --cert FILE --key FILE
 *       HTTPS origin on 127.0.0.1:P (ALPN http/1.1): every GET is answered "ok\n" (3 bytes),
 *       keep-alive honoured, "Connection: close" closes after the response. No session
 *       tickets and no session cache: every connection to it is a full handshake.
 *   pctls MODE --target HOST:PORT --cafile FILE [--proxy HOST:PORT] [--label L]
 *              [--concurrency N] [--seconds S] [--pid P[,P...]]
 *       The client verifies the server's certificate against --cafile with HOST checked
 *       (SNI = HOST), offers ALPN http/1.1, and never resumes a session. With --proxy, each
 *       connection first sends "CONNECT HOST:PORT" and waits for the 200.
 *       http:  `concurrency` connections (CONNECT, handshake), then GET after GET for
 *              `seconds`: responses/s and p50/p99 of each request (write to response end).
 *       conn:  `concurrency` slots, each opening connection after connection: connect,
 *              CONNECT, handshake, one GET with Connection: close, close_notify, close;
 *              connections/s and p50/p99 of each (connect() to the response's end).
 *       idle:  `concurrency` connections, one exchange each, held open; the resident
 *              memory of the processes in --pid grows by kib_per_conn per connection.
 * One JSON line on stdout per run (run.sh reads it), with the generator's own CPU per
 * request or connection.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
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
#define MAX_SAMPLES (8 * 1024 * 1024)

/* HOST:PORT into an address (the name "localhost" or any name maps to 127.0.0.1; a
 * numeric address must be loopback); *host gets the name part. */
static void parse_hostport(const char *text, struct sockaddr_in *out, char *host, size_t hostlen) {
    const char *colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= hostlen) {
        fprintf(stderr, "pctls: bad address %s\n", text);
        exit(2);
    }
    memcpy(host, text, colon - text);
    host[colon - text] = 0;
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &out->sin_addr) != 1) out->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((ntohl(out->sin_addr.s_addr) >> 24) != 127) { /* the network rule: loopback only */
        fprintf(stderr, "pctls: %s is not a loopback address\n", host);
        exit(2);
    }
}

static void set_events(int ep, int fd, void *ptr, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = ptr};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* The epoll interest for an SSL call that wants to read or write. */
static uint32_t want_events(SSL *ssl, int rc) {
    int e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_WANT_WRITE) return EPOLLOUT;
    if (e == SSL_ERROR_WANT_READ) return EPOLLIN;
    return 0;
}

static const unsigned char ALPN_HTTP11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

/* ------------------------------------------------------------------ origin */

typedef struct {
    int fd;
    SSL *ssl;
    int handshaken;
    char in[HEAD_MAX];
    int inlen;
    char out[256];
    int outlen;
    int close_after;
} origin_conn;

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in, unsigned int inlen,
                       void *arg) {
    (void)ssl;
    (void)arg;
    unsigned char *chosen = NULL;
    if (SSL_select_next_proto(&chosen, outlen, ALPN_HTTP11, sizeof(ALPN_HTTP11), in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = chosen;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

static void origin_close(int ep, origin_conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    SSL_free(c->ssl);
    close(c->fd);
    free(c);
}

/* Drives one connection as far as it can go; returns -1 to close it. */
static int origin_drive(int ep, origin_conn *c) {
    if (!c->handshaken) {
        int rc = SSL_do_handshake(c->ssl);
        if (rc != 1) {
            uint32_t ev = want_events(c->ssl, rc);
            if (!ev) return -1;
            set_events(ep, c->fd, c, ev);
            return 0;
        }
        c->handshaken = 1;
    }
    for (;;) {
        if (c->outlen > 0) {
            int rc = SSL_write(c->ssl, c->out, c->outlen);
            if (rc <= 0) {
                uint32_t ev = want_events(c->ssl, rc);
                if (!ev) return -1;
                set_events(ep, c->fd, c, ev);
                return 0;
            }
            c->outlen = 0;
            if (c->close_after) return -1;
        }
        int h = head_end(c->in, c->inlen);
        if (h) {
            const char *conn = header_value(c->in, h, "connection");
            c->close_after = conn && strncasecmp(conn, "close", 5) == 0;
            c->outlen = snprintf(c->out, sizeof(c->out), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n%s\r\nok\n",
                                 c->close_after ? "Connection: close\r\n" : "");
            memmove(c->in, c->in + h, c->inlen - h);
            c->inlen -= h;
            continue;
        }
        if (c->inlen >= HEAD_MAX) return -1;
        int rc = SSL_read(c->ssl, c->in + c->inlen, HEAD_MAX - c->inlen);
        if (rc <= 0) {
            uint32_t ev = want_events(c->ssl, rc);
            if (!ev) return -1;
            set_events(ep, c->fd, c, ev);
            return 0;
        }
        c->inlen += rc;
    }
}

static _Noreturn int run_origin(int argc, char **argv) {
    int port = atoi(opt(argc, argv, "--port", "8443"));
    const char *cert = opt(argc, argv, "--cert", NULL), *key = opt(argc, argv, "--key", NULL);
    if (!cert || !key) {
        fprintf(stderr, "pctls origin: --cert and --key\n");
        exit(2);
    }
    signal(SIGPIPE, SIG_IGN);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        exit(1);
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
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
                    nc->fd = fd;
                    nc->ssl = SSL_new(ctx);
                    SSL_set_fd(nc->ssl, fd);
                    SSL_set_accept_state(nc->ssl);
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            if (origin_drive(ep, c) < 0) origin_close(ep, c);
        }
    }
}

/* ------------------------------------------------------------------ load */

enum phase { CONNECTING, PROXY_REPLY, HANDSHAKE, WRITING, READING, HELD, DONE };

typedef struct {
    int fd;
    SSL *ssl;
    enum phase phase;
    uint64_t started;   /* connection start (conn mode) */
    uint64_t request_at; /* request written (http mode) */
    int headlen;
    long body_left;
    int in_body;
    char head[HEAD_MAX]; /* last: load_start clears what comes before it */
} load_conn;

static struct {
    const char *mode;
    int is_http, is_conn, is_idle;
    struct sockaddr_in addr;
    int via_proxy;
    char host[256];
    char connect_req[512];
    int connect_len;
    char request[512];
    int request_len;
    SSL_CTX *ctx;
    uint64_t stop_at;
    long ok, failures, responses;
    uint32_t *samples;
    long nsamples;
    int active, held;
} L;

static void record(uint64_t since) {
    if (L.nsamples < MAX_SAMPLES) L.samples[L.nsamples++] = (uint32_t)((now_ns() - since) / 1000);
}

static void load_start(int ep, load_conn *c) {
    memset(c, 0, offsetof(load_conn, head));
    c->started = now_ns();
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) die("socket");
    nodelay(c->fd);
    if (connect(c->fd, (struct sockaddr *)&L.addr, sizeof(L.addr)) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        c->phase = DONE;
        L.failures++;
        return;
    }
    c->phase = CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    L.active++;
}

static void load_finish(int ep, load_conn *c, int failed) {
    if (c->phase == HELD) L.held--;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->ssl) {
        if (!failed) SSL_shutdown(c->ssl); /* close_notify, as a client does; not waited for */
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    close(c->fd);
    c->fd = -1;
    c->phase = DONE;
    L.active--;
    if (failed) L.failures++;
}

static int start_tls(load_conn *c) {
    c->ssl = SSL_new(L.ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, L.host);
    SSL_set1_host(c->ssl, L.host);
    SSL_set_connect_state(c->ssl);
    c->phase = HANDSHAKE;
    return 0;
}

/* Drives one connection as far as it can go. */
static void load_drive(int ep, load_conn *c, uint32_t events) {
    for (;;) {
        switch (c->phase) {
        case CONNECTING: {
            int err = 0;
            socklen_t len = sizeof(err);
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err || (events & (EPOLLERR | EPOLLHUP))) return load_finish(ep, c, 1);
            if (L.via_proxy) {
                if (write(c->fd, L.connect_req, L.connect_len) != L.connect_len) return load_finish(ep, c, 1);
                c->phase = PROXY_REPLY;
                c->headlen = 0;
                set_events(ep, c->fd, c, EPOLLIN);
                return;
            }
            start_tls(c);
            continue;
        }
        case PROXY_REPLY: {
            ssize_t r = read(c->fd, c->head + c->headlen, HEAD_MAX - c->headlen);
            if (r < 0 && errno == EAGAIN) return;
            if (r <= 0) return load_finish(ep, c, 1);
            c->headlen += (int)r;
            int h = head_end(c->head, c->headlen);
            if (!h) {
                if (c->headlen >= HEAD_MAX) return load_finish(ep, c, 1);
                return;
            }
            if (strncmp(c->head, "HTTP/1.", 7) != 0 || atoi(c->head + 9) != 200 || h != c->headlen)
                return load_finish(ep, c, 1);
            start_tls(c);
            continue;
        }
        case HANDSHAKE: {
            int rc = SSL_do_handshake(c->ssl);
            if (rc != 1) {
                uint32_t ev = want_events(c->ssl, rc);
                if (!ev) return load_finish(ep, c, 1);
                set_events(ep, c->fd, c, ev);
                return;
            }
            c->phase = WRITING;
            c->request_at = now_ns();
            continue;
        }
        case WRITING: {
            int rc = SSL_write(c->ssl, L.request, L.request_len);
            if (rc <= 0) {
                uint32_t ev = want_events(c->ssl, rc);
                if (!ev) return load_finish(ep, c, 1);
                set_events(ep, c->fd, c, ev);
                return;
            }
            c->phase = READING;
            c->headlen = 0;
            c->in_body = 0;
            continue;
        }
        case READING: {
            char buf[16384];
            int rc = SSL_read(c->ssl, buf, sizeof(buf));
            if (rc <= 0) {
                uint32_t ev = want_events(c->ssl, rc);
                if (!ev) return load_finish(ep, c, 1);
                set_events(ep, c->fd, c, ev);
                return;
            }
            int off = 0;
            while (off < rc) {
                if (!c->in_body) {
                    int take = rc - off < HEAD_MAX - c->headlen ? rc - off : HEAD_MAX - c->headlen;
                    int before = c->headlen;
                    memcpy(c->head + c->headlen, buf + off, take);
                    c->headlen += take;
                    int h = head_end(c->head, c->headlen);
                    if (!h) {
                        if (c->headlen >= HEAD_MAX) return load_finish(ep, c, 1);
                        off += take;
                        continue;
                    }
                    if (strncmp(c->head, "HTTP/1.", 7) != 0 || atoi(c->head + 9) != 200) return load_finish(ep, c, 1);
                    const char *cl = header_value(c->head, h, "content-length");
                    c->body_left = cl ? atol(cl) : 0;
                    c->in_body = 1;
                    off += h - before;
                }
                long take = rc - off < c->body_left ? rc - off : c->body_left;
                c->body_left -= take;
                off += (int)take;
                if (c->body_left > 0) break;
                /* one response complete */
                L.responses++;
                c->in_body = 0;
                c->headlen = 0;
                if (L.is_http) {
                    record(c->request_at);
                    if (now_ns() < L.stop_at) {
                        c->phase = WRITING;
                        c->request_at = now_ns();
                        break;
                    }
                    L.ok++;
                    return load_finish(ep, c, 0);
                }
                if (L.is_idle) {
                    c->phase = HELD;
                    L.held++;
                    set_events(ep, c->fd, c, EPOLLIN);
                    return;
                }
                record(c->started);
                L.ok++;
                return load_finish(ep, c, 0);
            }
            continue; /* the next request (http), or more of this response */
        }
        case HELD: {
            char buf[512];
            int rc = SSL_read(c->ssl, buf, sizeof(buf));
            if (rc > 0) continue;
            uint32_t ev = want_events(c->ssl, rc);
            if (ev == EPOLLIN) return;
            return load_finish(ep, c, 1);
        }
        case DONE:
            return;
        }
    }
}

static double pct_ms(double p) {
    if (L.nsamples == 0) return 0;
    long i = (long)(L.nsamples * p);
    if (i >= L.nsamples) i = L.nsamples - 1;
    return L.samples[i] / 1000.0;
}

static void pump(int ep, int timeout_ms) {
    struct epoll_event evs[512];
    int n = epoll_wait(ep, evs, 512, timeout_ms);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    uint64_t now = now_ns();
    for (int i = 0; i < n; i++) {
        load_conn *c = evs[i].data.ptr;
        load_drive(ep, c, evs[i].events);
        if (L.is_conn && c->phase == DONE && now < L.stop_at) {
            load_start(ep, c);
        }
    }
}

static int run_load(int argc, char **argv) {
    L.mode = argv[1];
    L.is_http = strcmp(L.mode, "http") == 0;
    L.is_conn = strcmp(L.mode, "conn") == 0;
    L.is_idle = strcmp(L.mode, "idle") == 0;
    if (!L.is_http && !L.is_conn && !L.is_idle) {
        fprintf(stderr, "pctls: unknown mode %s (http, conn, idle)\n", L.mode);
        return 2;
    }
    const char *target = opt(argc, argv, "--target", "localhost:8443");
    const char *proxy = opt(argc, argv, "--proxy", NULL);
    const char *cafile = opt(argc, argv, "--cafile", NULL);
    const char *label = opt(argc, argv, "--label", proxy ? proxy : "direct");
    int conc = atoi(opt(argc, argv, "--concurrency", "32"));
    double seconds = atof(opt(argc, argv, "--seconds", "5"));
    if (!cafile || conc < 1 || conc > 100000 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "pctls: --cafile, concurrency 1..100000, seconds 0..600\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)conc + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in target_addr;
    parse_hostport(target, &target_addr, L.host, sizeof(L.host));
    if (proxy) {
        char proxy_host[256];
        parse_hostport(proxy, &L.addr, proxy_host, sizeof(proxy_host));
        L.via_proxy = 1;
        L.connect_len = snprintf(L.connect_req, sizeof(L.connect_req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target);
    } else {
        L.addr = target_addr;
    }
    const char *colon = strrchr(target, ':');
    int port = atoi(colon + 1);
    char authority[300];
    if (port == 443)
        snprintf(authority, sizeof(authority), "%s", L.host);
    else
        snprintf(authority, sizeof(authority), "%s:%d", L.host, port);
    L.request_len = snprintf(L.request, sizeof(L.request), "GET / HTTP/1.1\r\nHost: %s\r\n%s\r\n", authority,
                             L.is_conn ? "Connection: close\r\n" : "");
    L.ctx = SSL_CTX_new(TLS_client_method());
    if (SSL_CTX_load_verify_locations(L.ctx, cafile, NULL) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    SSL_CTX_set_verify(L.ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(L.ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(L.ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_alpn_protos(L.ctx, ALPN_HTTP11, sizeof(ALPN_HTTP11));

    L.samples = malloc(sizeof(uint32_t) * MAX_SAMPLES);
    load_conn *conns = calloc(conc, sizeof(load_conn));
    if (!L.samples || !conns) die("malloc");
    int ep = epoll_create1(0);
    uint64_t t0 = now_ns();
    double cpu0 = cpu_seconds();
    L.stop_at = t0 + (uint64_t)((L.is_idle ? 300 : seconds) * 1e9);
    if (L.is_idle) {
        const char *pids = opt(argc, argv, "--pid", "");
        long rss_before = rss_kib(pids);
        int opened = 0;
        /* batches of 100, each waited for (30 s at most) before the next */
        while (opened < conc && now_ns() < L.stop_at) {
            int batch = conc - opened < 100 ? conc - opened : 100;
            int want = L.held + batch;
            for (int i = 0; i < batch; i++) load_start(ep, &conns[opened + i]);
            opened += batch;
            uint64_t deadline = now_ns() + 30000000000ull;
            while (L.held < want && now_ns() < deadline) pump(ep, 10);
        }
        uint64_t settle = now_ns() + 2000000000ull;
        while (now_ns() < settle) pump(ep, 10);
        long rss_after = rss_kib(pids);
        printf("{\"label\":\"%s\",\"mode\":\"idle\",\"conns\":%d,\"kib_per_conn\":%f,\"rss_before_kib\":%ld,"
               "\"rss_after_kib\":%ld,\"failures\":%ld}\n",
               label, L.held, (double)(rss_after - rss_before) / (L.held > 0 ? L.held : 1), rss_before, rss_after, L.failures);
        fflush(stdout);
        return 0;
    }
    for (int i = 0; i < conc; i++) load_start(ep, &conns[i]);
    while (L.active > 0) {
        pump(ep, 10);
        if (now_ns() > L.stop_at + 30000000000ull) break; /* a stuck connection: give up */
    }
    double cpu = cpu_seconds() - cpu0;
    qsort(L.samples, L.nsamples, sizeof(uint32_t), cmp_u32);
    long units = L.is_http ? L.responses : L.ok;
    printf("{\"label\":\"%s\",\"mode\":\"%s\",\"rate\":%f,\"p50_ms\":%f,\"p99_ms\":%f,\"failures\":%ld,\"load_cpu_us\":%f}\n",
           label, L.mode, units / seconds, pct_ms(0.5), pct_ms(0.99), L.failures, cpu * 1e6 / (units > 0 ? units : 1));
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: pctls origin|http|conn|idle ...\n");
        return 2;
    }
    if (strcmp(argv[1], "origin") == 0) return run_origin(argc, argv);
    return run_load(argc, argv);
}

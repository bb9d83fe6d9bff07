/* What the loopback load generators share (pcload.c for plain HTTP and tunnels, pctls.c
 * for HTTPS): clocks, options, head parsing, the resident memory of processes. Included
 * by each (one translation unit per tool); the functions are static inline so a tool
 * that does not use one is not warned about it. */
#ifndef PORTCULLIS_LOADGEN_H
#define PORTCULLIS_LOADGEN_H

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static inline void die(const char *what) {
    perror(what);
    exit(1);
}

static inline const char *opt(int argc, char **argv, const char *name, const char *fallback) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return fallback;
}

static inline void nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Finds CRLFCRLF in buf[0..len); returns the head length including it, or 0. */
static inline int head_end(const char *buf, int len) {
    for (int i = 3; i < len; i++)
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') return i + 1;
    return 0;
}

/* Case-insensitive search for a header's value start in a head; NULL when absent. */
static inline const char *header_value(const char *head, int len, const char *name) {
    size_t n = strlen(name);
    for (int i = 0; i + (int)n < len; i++) {
        if ((i == 0 || head[i - 1] == '\n') && strncasecmp(head + i, name, n) == 0 && head[i + n] == ':') {
            const char *v = head + i + n + 1;
            while (*v == ' ' || *v == '\t') v++;
            return v;
        }
    }
    return NULL;
}
static inline long rss_kib(const char *pids) {
    long total = 0;
    char list[512];
    snprintf(list, sizeof(list), "%s", pids);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%s/status", tok);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        while (fgets(line, sizeof(line), f))
            if (strncmp(line, "VmRSS:", 6) == 0) total += atol(line + 6);
        fclose(f);
    }
    return total;
}

static inline int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* An origin's listener on 127.0.0.1:port (non-blocking) in a new epoll set, registered
 * with a NULL pointer (what tells the loop "accept"); prints "ready PORT" for the script.
 * Returns the epoll descriptor, the listener in *lfd. */
static inline int origin_listen(int port, int *lfd) {
    *lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(*lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(*lfd, (struct sockaddr *)&a, sizeof(a)) < 0) die("bind");
    if (listen(*lfd, 4096) < 0) die("listen");
    int ep = epoll_create1(0);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, *lfd, &lev);
    printf("ready %d\n", port);
    fflush(stdout);
    return ep;
}

#endif

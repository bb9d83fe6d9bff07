#include "CPortcullisNet.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netfilter_ipv4.h>

// linux/netfilter_ipv6/ip6_tables.h pulls in more than we want; the value is stable ABI.
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

_Static_assert(sizeof(pc_sockaddr_buffer) >= sizeof(struct sockaddr_in6), "buffer too small");

int pc_sol_ip(void) { return SOL_IP; }
int pc_sol_ipv6(void) { return SOL_IPV6; }
int pc_so_original_dst(void) { return SO_ORIGINAL_DST; }
int pc_ip6t_so_original_dst(void) { return IP6T_SO_ORIGINAL_DST; }

int pc_decode_sockaddr(const pc_sockaddr_buffer *raw, pc_destination *out) {
    sa_family_t family;
    memcpy(&family, raw, sizeof(family));
    memset(out, 0, sizeof(*out));
    if (family == AF_INET) {
        struct sockaddr_in sin;
        memcpy(&sin, raw, sizeof(sin));
        out->family = 4;
        memcpy(out->address, &sin.sin_addr, 4);
        out->port = ntohs(sin.sin_port);
        return 0;
    }
    if (family == AF_INET6) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, raw, sizeof(sin6));
        out->family = 6;
        memcpy(out->address, &sin6.sin6_addr, 16);
        out->port = ntohs(sin6.sin6_port);
        return 0;
    }
    return -1;
}

int pc_original_destination(int fd, int ipv6, pc_destination *out) {
    pc_sockaddr_buffer raw;
    memset(&raw, 0, sizeof(raw));
    socklen_t length = sizeof(raw);
    int level = ipv6 ? SOL_IPV6 : SOL_IP;
    int name = ipv6 ? IP6T_SO_ORIGINAL_DST : SO_ORIGINAL_DST;
    if (getsockopt(fd, level, name, &raw, &length) != 0) return errno;
    return pc_decode_sockaddr(&raw, out) == 0 ? 0 : EAFNOSUPPORT;
}

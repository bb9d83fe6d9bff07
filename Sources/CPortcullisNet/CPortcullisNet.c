#define _GNU_SOURCE  // struct in6_pktinfo
#include "CPortcullisNet.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
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

/// A pc_destination as a socket address of the given kind (IPv4 peers of an IPv6 socket
/// become v4-mapped). Returns the length, or 0 when it cannot be expressed.
static socklen_t pc_sockaddr(const pc_destination *d, int ipv6, struct sockaddr_storage *out) {
    memset(out, 0, sizeof(*out));
    if (!ipv6) {
        if (d->family != 4) return 0;
        struct sockaddr_in *sin = (struct sockaddr_in *)out;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(d->port);
        memcpy(&sin->sin_addr, d->address, 4);
        return sizeof(*sin);
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(d->port);
    if (d->family == 4) {
        sin6->sin6_addr.s6_addr[10] = 0xff;
        sin6->sin6_addr.s6_addr[11] = 0xff;
        memcpy(&sin6->sin6_addr.s6_addr[12], d->address, 4);
    } else {
        memcpy(&sin6->sin6_addr, d->address, 16);
    }
    return sizeof(*sin6);
}

int pc_udp_bound(const pc_destination *address) {
    int ipv6 = address->family == 6;
    struct sockaddr_storage bound;
    socklen_t length = pc_sockaddr(address, ipv6, &bound);
    if (length == 0) return -EAFNOSUPPORT;
    int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (bind(fd, (struct sockaddr *)&bound, length) != 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    return fd;
}

long pc_send_from(int fd, int ipv6_socket, const void *bytes, unsigned long length,
                  const pc_destination *to, const pc_destination *from) {
    struct sockaddr_storage destination;
    socklen_t destination_length = pc_sockaddr(to, ipv6_socket, &destination);
    if (destination_length == 0) return -EAFNOSUPPORT;
    struct iovec iov = { .iov_base = (void *)bytes, .iov_len = length };
    union {
        char bytes[CMSG_SPACE(sizeof(struct in6_pktinfo))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct msghdr message = {
        .msg_name = &destination, .msg_namelen = destination_length, .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.bytes,
    };
    struct cmsghdr *header = (struct cmsghdr *)control.bytes;
    if (ipv6_socket) {
        struct sockaddr_storage source;
        if (pc_sockaddr(from, 1, &source) == 0) return -EAFNOSUPPORT;
        struct in6_pktinfo info;
        memset(&info, 0, sizeof(info));
        info.ipi6_addr = ((struct sockaddr_in6 *)&source)->sin6_addr;
        header->cmsg_level = IPPROTO_IPV6;
        header->cmsg_type = IPV6_PKTINFO;
        header->cmsg_len = CMSG_LEN(sizeof(info));
        memcpy(CMSG_DATA(header), &info, sizeof(info));
        message.msg_controllen = CMSG_SPACE(sizeof(info));
    } else {
        if (from->family != 4) return -EAFNOSUPPORT;
        struct in_pktinfo info;
        memset(&info, 0, sizeof(info));
        memcpy(&info.ipi_spec_dst, from->address, 4);
        header->cmsg_level = IPPROTO_IP;
        header->cmsg_type = IP_PKTINFO;
        header->cmsg_len = CMSG_LEN(sizeof(info));
        memcpy(CMSG_DATA(header), &info, sizeof(info));
        message.msg_controllen = CMSG_SPACE(sizeof(info));
    }
    ssize_t sent = sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    return sent < 0 ? -errno : (long)sent;
}

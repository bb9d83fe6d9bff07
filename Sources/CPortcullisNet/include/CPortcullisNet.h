#ifndef C_PORTCULLIS_NET_H
#define C_PORTCULLIS_NET_H

// The few socket calls Swift cannot reach through Glibc (TOOLCHAIN-NOTES.md). This header
// has no system includes on purpose: the implementation, in CPortcullisNet.c, holds them.

/// Raw getsockopt output, large and aligned enough for a `struct sockaddr_in6` (28 bytes).
/// `SocketOptionProvider.unsafeGetSocketOption` is generic over this type.
typedef struct {
    unsigned int words[8];
} pc_sockaddr_buffer;

/// An original destination: `family` is 4 or 6, `address` holds 4 or 16 bytes in network
/// order, `port` is in host byte order.
typedef struct {
    int family;
    unsigned char address[16];
    unsigned short port;
} pc_destination;

/// `SOL_IP`, for `SO_ORIGINAL_DST` on IPv4 sockets.
int pc_sol_ip(void);
/// `SOL_IPV6`, for `IP6T_SO_ORIGINAL_DST` on IPv6 sockets.
int pc_sol_ipv6(void);
/// `SO_ORIGINAL_DST` (linux/netfilter_ipv4.h).
int pc_so_original_dst(void);
/// `IP6T_SO_ORIGINAL_DST` (linux/netfilter_ipv6/ip6_tables.h).
int pc_ip6t_so_original_dst(void);

/// Decodes a `sockaddr_in` / `sockaddr_in6` as the kernel wrote it. Returns 0, or -1 when
/// the family is neither AF_INET nor AF_INET6 (nothing was written).
int pc_decode_sockaddr(const pc_sockaddr_buffer *raw, pc_destination *out);

/// Reads the original (pre-redirect) destination of a connected TCP socket: `ipv6` selects
/// `IP6T_SO_ORIGINAL_DST` over `SO_ORIGINAL_DST`. Returns 0, or the errno (ENOENT: the
/// connection was not redirected / no conntrack entry).
int pc_original_destination(int fd, int ipv6, pc_destination *out);

/// Opens a UDP socket bound to `address` (family 4 or 6, `port` in host order),
/// non-blocking and close-on-exec, with SO_REUSEADDR left off. Returns the descriptor, or
/// -errno. The DNS gateway hands it to SwiftNIO and keeps the number to answer with
/// `pc_send_from`.
int pc_udp_bound(const pc_destination *address);

/// Sends one datagram to `to` from the local address `from` (IP_PKTINFO's ipi_spec_dst on
/// an IPv4 socket, IPV6_PKTINFO's ipi6_addr on an IPv6 one, v4-mapped for IPv4 peers), so
/// that an answer on a socket bound to the wildcard address leaves from the address the
/// query was sent to. `ipv6_socket` says which kind `fd` is. Returns the bytes sent, or -errno.
long pc_send_from(int fd, int ipv6_socket, const void *bytes, unsigned long length,
                  const pc_destination *to, const pc_destination *from);

#endif

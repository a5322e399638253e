/*
 * sockutil: the rawserver's socket helpers, with no reactor state: open
 * non-blocking close-on-exec sockets, read a pending socket error, parse,
 * format and compare numeric addresses, and open listening sockets (one
 * address, or IPv4 and IPv6 on the same port).
 *
 * Fallible functions return a descriptor or value >= 0, or -errno.  Only
 * rawserver.c should open sockets (STYLE.md 8.7); these are split out of
 * it to keep it small, not for other modules.
 */
#ifndef BT_SOCKUTIL_H
#define BT_SOCKUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* O_NONBLOCK and FD_CLOEXEC on fd: 0 or -errno. */
int sock_set_nonblock_cloexec(int fd);
/* socket(family, type) that is non-blocking and close-on-exec, or -errno. */
int sock_open(int family, int type);
/* The socket's pending error (SO_ERROR) as -errno, or 0. */
int sock_error(int fd);
/*
 * The send side of TCP socket fd: *room, a conservative guess at how many
 * more bytes it takes before a send would block (its buffer size less
 * what it holds, with a margin for the kernel's per-segment overhead),
 * and *unsent, the bytes it holds that TCP has not sent yet.  0, or
 * -errno (-ENOSYS where the queries are not Linux's).
 */
int sock_send_state(int fd, size_t *room, size_t *unsent);

/*
 * Set TCP congestion control `name` (TCP_CONGESTION) on TCP socket fd: 0 or
 * -errno (-ENOENT: not available, -EPERM: not allowed for this user,
 * -ENOSYS: not Linux).
 */
int sock_set_congestion(int fd, const char *name);
/* Whether sock_set_congestion() takes `name`, tried on a new socket. */
int sock_check_congestion(const char *name);

/* "1.2.3.4:6881", "[::1]:6881" or "(family N)" into buf (truncated). */
void sock_format_addr(const struct sockaddr *sa, char *buf, size_t len);
/*
 * A numeric IPv4 or IPv6 address ("::1" or "[::1]") with port into ss,
 * zeroed first; *out_len gets its length.  -EINVAL for anything else
 * (host names included).
 */
int sock_parse_addr(const char *s, int port, struct sockaddr_storage *ss,
    socklen_t *out_len);
/*
 * Whether a and b are the same IPv4 or IPv6 address, and with_port the
 * same port too.  Other families never match.
 */
bool sock_same_addr(const struct sockaddr *a, const struct sockaddr *b,
    bool with_port);
/* Set the port of an AF_INET or AF_INET6 address. */
void sock_set_port(struct sockaddr_storage *ss, int port);
/* The local port (host order) fd is bound to, or -errno. */
int sock_port(int fd);

/*
 * A listening socket on ss (port included; IPv6 sockets are V6ONLY;
 * SO_REUSEADDR, so TIME_WAIT does not hold the port), or -errno.
 */
int sock_listen(const struct sockaddr_storage *ss, socklen_t len);
/*
 * Listen on one port: on `single` only (when not NULL), or on 0.0.0.0 and
 * [::] together.  Port 0 lets the kernel pick, and [::] then takes the
 * same number.  Returns the port with fds[0] (and fds[1], or -1) open, or
 * -errno with both -1: -EADDRINUSE when either family has the port taken.
 * When [::] fails otherwise (no IPv6 on this host), *no_v6 is set and
 * later calls with it set listen on IPv4 only.
 */
int sock_listen_pair(const struct sockaddr_storage *single,
    socklen_t single_len, int port, bool *no_v6, int fds[2]);

#endif

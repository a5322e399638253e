/*
 * sockutil: socket helpers for the rawserver, see sockutil.h.
 */
#define _GNU_SOURCE	/* SOCK_NONBLOCK, SOCK_CLOEXEC (Linux) */

#include "sockutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/sockios.h>	/* SIOCOUTQ */
#include <sys/ioctl.h>
#endif

#include "log.h"

int
sock_set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

int
sock_open(int family, int type)
{
	int fd;

#ifdef SOCK_NONBLOCK
	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
#else
	int r;

	fd = socket(family, type, 0);
	if (fd < 0)
		return -errno;
	r = sock_set_nonblock_cloexec(fd);
	if (r < 0) {
		close(fd);
		return r;
	}
#endif
	return fd;
}

int
sock_error(int fd)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		return -errno;
	return -e;
}

int
sock_send_state(int fd, size_t *room, size_t *unsent)
{
#ifdef __linux__
	int outq = 0, nsd = 0, sndbuf = 0;
	socklen_t len = sizeof(sndbuf);
	size_t used;

	if (ioctl(fd, SIOCOUTQ, &outq) < 0 || ioctl(fd, SIOCOUTQNSD,
	    &nsd) < 0 || getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    &len) < 0)
		return -errno;
	if (outq < 0 || nsd < 0 || sndbuf <= 0)
		return -EINVAL;
	/* The buffer is charged for segments' overhead too: keep 1/16. */
	used = (size_t)outq + (size_t)outq / 16 + (size_t)sndbuf / 16;
	*room = (size_t)sndbuf > used ? (size_t)sndbuf - used : 0;
	*unsent = (size_t)nsd;
	return 0;
#else
	(void)fd;
	(void)room;
	(void)unsent;
	return -ENOSYS;
#endif
}

int
sock_set_congestion(int fd, const char *name)
{
#ifdef TCP_CONGESTION
	if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name,
	    (socklen_t)strlen(name)) < 0)
		return -errno;
	return 0;
#else
	(void)fd;
	(void)name;
	return -ENOSYS;
#endif
}

int
sock_check_congestion(const char *name)
{
	int fd = sock_open(AF_INET, SOCK_STREAM), r;

	if (fd < 0)
		return fd;
	r = sock_set_congestion(fd, name);
	close(fd);
	return r;
}

bool
sock_same_addr(const struct sockaddr *a, const struct sockaddr *b,
    bool with_port)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a;
		const struct sockaddr_in *y = (const void *)b;

		return x->sin_addr.s_addr == y->sin_addr.s_addr &&
		    (!with_port || x->sin_port == y->sin_port);
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a;
		const struct sockaddr_in6 *y = (const void *)b;

		return memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0 &&
		    (!with_port || x->sin6_port == y->sin6_port);
	}
	return false;
}

void
sock_format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
		    (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, len, "(family %d)", sa->sa_family);
	}
}

int
sock_parse_addr(const char *s, int port, struct sockaddr_storage *ss,
    socklen_t *out_len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	char tmp[INET6_ADDRSTRLEN];
	size_t n = strlen(s);

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*out_len = sizeof(*s4);
		return 0;
	}
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']' && n - 2 < sizeof(tmp)) {
		memcpy(tmp, s + 1, n - 2);
		tmp[n - 2] = '\0';
		s = tmp;
	}
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*out_len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

int
sock_listen(const struct sockaddr_storage *ss, socklen_t len)
{
	int one = 1;
	int fd = sock_open(ss->ss_family, SOCK_STREAM);
	int e;

	if (fd < 0)
		return fd;
	/*
	 * SO_REUSEADDR lets a restart reuse the port while old connections
	 * sit in TIME_WAIT.  On Linux it still refuses a port that another
	 * socket is listening on, so probing the range stays honest.
	 */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)ss, len) < 0)
		goto fail;
	if (listen(fd, SOMAXCONN) < 0)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	return -e;
}

void
sock_set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

int
sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/*
 * [::] is opened second, on the port 0.0.0.0 got, so that both families
 * share one number; when [::] has it taken, the caller tries another.
 */
int
sock_listen_pair(const struct sockaddr_storage *single,
    socklen_t single_len, int port, bool *no_v6, int fds[2])
{
	struct sockaddr_storage v4, v6;
	int fd, p;

	fds[0] = fds[1] = -1;
	if (single != NULL) {
		v4 = *single;
		sock_set_port(&v4, port);
		fd = sock_listen(&v4, single_len);
	} else {
		sock_parse_addr("0.0.0.0", port, &v4, &(socklen_t){ 0 });
		fd = sock_listen(&v4, sizeof(struct sockaddr_in));
	}
	if (fd < 0)
		return fd;
	p = sock_port(fd);
	if (p < 0) {
		close(fd);
		return p;
	}
	if (single != NULL || *no_v6) {
		fds[0] = fd;
		return p;
	}
	sock_parse_addr("::", p, &v6, &(socklen_t){ 0 });
	fds[1] = sock_listen(&v6, sizeof(struct sockaddr_in6));
	if (fds[1] == -EADDRINUSE) {
		close(fd);
		fds[1] = -1;
		return -EADDRINUSE;
	}
	if (fds[1] < 0) {
		log_debug("no IPv6 listener: %s", strerror(-fds[1]));
		*no_v6 = true;
		fds[1] = -1;
	}
	fds[0] = fd;
	return p;
}

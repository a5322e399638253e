/*
 * test_sockutil: address parsing and formatting, socket flags, SO_ERROR
 * after a refused connect, a socket's send state (room and unsent bytes),
 * and listening on one address or on IPv4 and
 * IPv6 together (real sockets on loopback; IPv6 parts are skipped with a
 * note when ::1 is not usable).
 */
#include "sockutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

static bool have_v6;

static int
port_of(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	return ntohs(ss->ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
}

static void
test_parse(void)
{
	static const char *const bad[] = {
		"", "example.com", "1.2.3.4:80", "[::1", "::1]", "[1.2.3.4]",
		"1.2.3", "[]", "::1::2",
	};
	struct sockaddr_storage ss;
	socklen_t len = 0;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;

	CHECK_OK(sock_parse_addr("10.1.2.3", 6881, &ss, &len));
	CHECK_INT_EQ(ss.ss_family, AF_INET);
	CHECK_INT_EQ(len, sizeof(struct sockaddr_in));
	CHECK_INT_EQ(port_of(&ss), 6881);
	CHECK_INT_EQ(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr),
	    0x0a010203);
	CHECK_OK(sock_parse_addr("::1", 80, &ss, &len));
	CHECK_INT_EQ(ss.ss_family, AF_INET6);
	CHECK_INT_EQ(len, sizeof(struct sockaddr_in6));
	CHECK(memcmp(&s6->sin6_addr, &in6addr_loopback, 16) == 0);
	CHECK_INT_EQ(port_of(&ss), 80);
	CHECK_OK(sock_parse_addr("[fe80::1:2]", 65535, &ss, &len));
	CHECK_INT_EQ(ss.ss_family, AF_INET6);
	CHECK_INT_EQ(port_of(&ss), 65535);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT_EQ(sock_parse_addr(bad[i], 1, &ss, &len), -EINVAL);
	sock_set_port(&ss, 443);
	CHECK_INT_EQ(port_of(&ss), 443);
	CHECK_OK(sock_parse_addr("0.0.0.0", 1, &ss, &len));
	sock_set_port(&ss, 8080);
	CHECK_INT_EQ(port_of(&ss), 8080);
}

static void
test_format(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[64], tiny[8];

	CHECK_OK(sock_parse_addr("192.168.1.9", 65535, &ss, &len));
	sock_format_addr((struct sockaddr *)&ss, buf, sizeof(buf));
	CHECK_STR_EQ(buf, "192.168.1.9:65535");
	sock_format_addr((struct sockaddr *)&ss, tiny, sizeof(tiny));
	CHECK_STR_EQ(tiny, "192.168");
	CHECK_OK(sock_parse_addr("[::1]", 6881, &ss, &len));
	sock_format_addr((struct sockaddr *)&ss, buf, sizeof(buf));
	CHECK_STR_EQ(buf, "[::1]:6881");
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	sock_format_addr((struct sockaddr *)&ss, buf, sizeof(buf));
	CHECK_STR_EQ(buf, "(family 1)");
}

static bool
is_nonblock_cloexec(int fd)
{
	return (fcntl(fd, F_GETFL) & O_NONBLOCK) &&
	    (fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

static void
test_flags(void)
{
	int p[2], fd = sock_open(AF_INET, SOCK_STREAM);

	CHECK(fd >= 0);
	CHECK(is_nonblock_cloexec(fd));
	close(fd);
	fd = sock_open(AF_INET, SOCK_DGRAM);
	CHECK(fd >= 0);
	CHECK(is_nonblock_cloexec(fd));
	CHECK_INT_EQ(sock_error(fd), 0);
	close(fd);
	CHECK(sock_open(-1, SOCK_STREAM) < 0);
	CHECK_OK(pipe(p));
	CHECK(!is_nonblock_cloexec(p[0]));
	CHECK_OK(sock_set_nonblock_cloexec(p[0]));
	CHECK(is_nonblock_cloexec(p[0]));
	close(p[0]);
	close(p[1]);
	CHECK_INT_EQ(sock_set_nonblock_cloexec(p[0]), -EBADF);
	CHECK(sock_error(p[0]) < 0);
	CHECK(sock_port(p[0]) < 0);
}

/* A non-blocking connect to a port nobody listens on: -ECONNREFUSED. */
static void
test_refused(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct pollfd pfd;
	int holder = sock_open(AF_INET, SOCK_STREAM), fd, port;

	CHECK_OK(sock_parse_addr("127.0.0.1", 0, &ss, &len));
	CHECK_OK(bind(holder, (struct sockaddr *)&ss, len));
	port = sock_port(holder);
	CHECK(port > 0);
	sock_set_port(&ss, port);
	fd = sock_open(AF_INET, SOCK_STREAM);
	CHECK(connect(fd, (struct sockaddr *)&ss, len) == 0 ||
	    errno == EINPROGRESS || errno == ECONNREFUSED);
	pfd.fd = fd;
	pfd.events = POLLOUT;
	CHECK_INT_EQ(poll(&pfd, 1, 5000), 1);
	CHECK_INT_EQ(sock_error(fd), -ECONNREFUSED);
	CHECK_INT_EQ(sock_error(fd), 0);	/* reading SO_ERROR clears it */
	close(fd);
	close(holder);
}

/*
 * sock_send_state on a loopback connection whose peer does not read: a
 * fresh socket has room and nothing unsent; once sends would block, the
 * room is under one block and the bytes past the peer's window are held
 * unsent.  A pipe is not a socket.
 */
static void
test_send_state(void)
{
	static char buf[16384];
	struct sockaddr_storage ss;
	socklen_t len;
	size_t room = 0, unsent = 1, total = 0;
	int lsn = sock_open(AF_INET, SOCK_STREAM), fd, peer, p[2];
	ssize_t w;

	CHECK_OK(sock_parse_addr("127.0.0.1", 0, &ss, &len));
	CHECK_OK(bind(lsn, (struct sockaddr *)&ss, len));
	CHECK_OK(listen(lsn, 1));
	sock_set_port(&ss, sock_port(lsn));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_OK(connect(fd, (struct sockaddr *)&ss, len));
	peer = accept(lsn, NULL, NULL);
	CHECK(peer >= 0);
	CHECK_OK(sock_send_state(fd, &room, &unsent));
	CHECK(room > 0);
	CHECK_INT_EQ(unsent, 0);
	while ((w = send(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		total += (size_t)w;
	CHECK(w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
	CHECK(total > 0);
	CHECK_OK(sock_send_state(fd, &room, &unsent));
	CHECK(room < sizeof(buf));
	CHECK(unsent > 0 && unsent < total);
	CHECK_OK(pipe(p));
	CHECK(sock_send_state(p[1], &room, &unsent) < 0);
	close(p[0]);
	close(p[1]);
	close(peer);
	close(fd);
	close(lsn);
}

static void
test_listen_single(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	bool no_v6 = false;
	int fds[2], fd, port, p;

	CHECK_OK(sock_parse_addr("127.0.0.1", 0, &ss, &len));
	fd = sock_listen(&ss, len);
	CHECK(fd >= 0);
	port = sock_port(fd);
	CHECK(port > 0);
	CHECK(is_nonblock_cloexec(fd));
	sock_set_port(&ss, port);
	CHECK_INT_EQ(sock_listen(&ss, len), -EADDRINUSE);
	CHECK_INT_EQ(sock_listen_pair(&ss, len, port, &no_v6, fds),
	    -EADDRINUSE);
	CHECK(fds[0] == -1 && fds[1] == -1);
	close(fd);
	/* `single` only: one socket, whatever no_v6 says. */
	p = sock_listen_pair(&ss, len, 0, &no_v6, fds);
	CHECK(p > 0);
	CHECK(fds[0] >= 0 && fds[1] == -1);
	CHECK_INT_EQ(sock_port(fds[0]), p);
	CHECK(!no_v6);
	close(fds[0]);
	CHECK_OK(sock_parse_addr("203.0.113.1", 0, &ss, &len));
	CHECK_INT_EQ(sock_listen(&ss, len), -EADDRNOTAVAIL);
}

/* Port 0: [::] may find the kernel's IPv4 choice taken; retry (rs_listen). */
static int
listen_any(bool *no_v6, int fds[2])
{
	int p = -EADDRINUSE;

	for (int i = 0; i < 16 && p == -EADDRINUSE; i++)
		p = sock_listen_pair(NULL, 0, 0, no_v6, fds);
	return p;
}

/* 0.0.0.0 and [::] on one number; taken ports; no_v6. */
static void
test_listen_pair(void)
{
	bool no_v6 = false;
	int fds[2], again[2], p;

	p = listen_any(&no_v6, fds);
	CHECK(p > 0);
	CHECK(fds[0] >= 0);
	CHECK_INT_EQ(sock_port(fds[0]), p);
	if (have_v6) {
		CHECK(!no_v6);
		CHECK(fds[1] >= 0);
		CHECK_INT_EQ(sock_port(fds[1]), p);
	} else {
		printf("::1 unavailable: IPv6 listening not checked\n");
	}
	CHECK_INT_EQ(sock_listen_pair(NULL, 0, p, &no_v6, again),
	    -EADDRINUSE);
	CHECK(again[0] == -1 && again[1] == -1);
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* With no_v6 set: IPv4 only. */
	no_v6 = true;
	p = listen_any(&no_v6, fds);
	CHECK(p > 0);
	CHECK(fds[0] >= 0 && fds[1] == -1);
	CHECK(no_v6);
	close(fds[0]);
}

static bool
probe_v6(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = sock_parse_addr("::1", 0, &ss, &len) == 0 &&
	    bind(fd, (struct sockaddr *)&ss, len) == 0;
	close(fd);
	return ok;
}

static void
test_same_addr(void)
{
	struct sockaddr_storage a, b, c, d, e, u;
	socklen_t len;
	const struct sockaddr *pa = (const void *)&a, *pb = (const void *)&b;
	const struct sockaddr *pc = (const void *)&c, *pd = (const void *)&d;
	const struct sockaddr *pe = (const void *)&e, *pu = (const void *)&u;

	CHECK_INT_EQ(sock_parse_addr("10.0.0.1", 6881, &a, &len), 0);
	CHECK_INT_EQ(sock_parse_addr("10.0.0.1", 6882, &b, &len), 0);
	CHECK_INT_EQ(sock_parse_addr("10.0.0.2", 6881, &c, &len), 0);
	CHECK_INT_EQ(sock_parse_addr("::1", 6881, &d, &len), 0);
	CHECK_INT_EQ(sock_parse_addr("[::1]", 6882, &e, &len), 0);
	CHECK(sock_same_addr(pa, pa, true));
	CHECK(sock_same_addr(pa, pb, false));
	CHECK(!sock_same_addr(pa, pb, true));
	CHECK(!sock_same_addr(pa, pc, false));
	CHECK(sock_same_addr(pd, pe, false));
	CHECK(!sock_same_addr(pd, pe, true));
	CHECK(!sock_same_addr(pa, pd, false));
	/* ::ffff:10.0.0.1 is another family: not the same. */
	CHECK_INT_EQ(sock_parse_addr("::ffff:10.0.0.1", 6881, &e, &len), 0);
	CHECK(!sock_same_addr(pa, pe, false));
	memset(&u, 0, sizeof(u));
	u.ss_family = AF_UNIX;
	CHECK(!sock_same_addr(pu, pu, false));
}

int
main(void)
{
	have_v6 = probe_v6();
	CHECK_RUN(test_parse, test_format, test_flags, test_refused,
	    test_send_state, test_listen_single, test_listen_pair,
	    test_same_addr);
}

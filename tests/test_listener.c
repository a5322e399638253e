/*
 * Listener tests over a real reactor and loopback sockets: two torrents
 * behind one port, peers routed by the info hash in their handshake (whole,
 * split at every byte, with messages behind it), and the refusals.
 */
#include "listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bterr.h"
#include "bytes.h"
#include "check.h"
#include "loopback.h"
#include "encrypter.h"
#include "rawserver.h"

static const uint8_t HASH_A[20] = "AAAAAAAAAAAAAAAAAAAA";
static const uint8_t HASH_B[20] = "BBBBBBBBBBBBBBBBBBBB";
static const uint8_t HASH_X[20] = "XXXXXXXXXXXXXXXXXXXX";
static const uint8_t MY_ID[20] = "-BD0100-ourpeeridxyz";
static const uint8_t PEER_ID[20] = "-XX0000-theirpeerid1";

struct rec {
	int made, msgs;
};

static void *
rec_made(void *ctx, struct enc_conn *ec)
{
	(void)ec;
	((struct rec *)ctx)->made++;
	return ctx;
}

static int
rec_msg(void *ctx, void *uconn, const uint8_t *p, size_t n)
{
	(void)uconn;
	(void)p;
	(void)n;
	((struct rec *)ctx)->msgs++;
	return 0;
}

static void
rec_lost(void *ctx, void *uconn)
{
	(void)ctx;
	(void)uconn;
}

static const struct enc_upper rec_upper = { rec_made, rec_msg, rec_lost, NULL };

struct world {
	struct rawserver *rs;
	struct encoder *a, *b;
	struct rec ra, rb;
	struct listener *ls;
	int port;
};

static struct encoder *
lookup(void *ctx, const uint8_t hash[20])
{
	struct world *w = ctx;

	if (memcmp(hash, HASH_A, 20) == 0)
		return w->a;
	if (memcmp(hash, HASH_B, 20) == 0)
		return w->b;
	return NULL;
}

static void
stop_task(void *arg)
{
	rs_stop(arg);
}

static void
pump(struct rawserver *rs, uint64_t ms)
{
	rs_add_task(rs, ms, stop_task, rs);
	rs_run(rs);
}

static void
setup(struct world *w)
{
	struct rs_config rc = RS_CONFIG_DEFAULT;
	struct enc_config ec = { 1 << 20, 120000, 35, 0 };
	struct bt_err err = BT_ERR_INIT;

	memset(w, 0, sizeof(*w));
	rc.close_on_signal = false;
	w->rs = rs_new(&rc);
	w->a = enc_new(w->rs, &ec, HASH_A, MY_ID, &rec_upper, &w->ra);
	w->b = enc_new(w->rs, &ec, HASH_B, MY_ID, &rec_upper, &w->rb);
	w->ls = ls_new(w->rs, lookup, w);
	w->port = ls_listen(w->ls, "127.0.0.1", 0, 0, &err);
	CHECK(w->port > 0);
}

static void
teardown(struct world *w)
{
	ls_free(w->ls);
	enc_free(w->a);
	enc_free(w->b);
	rs_free(w->rs);
}

static int
dial(int port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A handshake for hash, then one "interested" message. */
static size_t
stream(uint8_t *p, const uint8_t *hash)
{
	p[0] = 19;
	memcpy(p + 1, ENC_PROTOCOL, 19);
	memset(p + 20, 0, 8);
	memcpy(p + 28, hash, 20);
	memcpy(p + 48, PEER_ID, 20);
	be32_put(p + 68, 1);
	p[72] = 2;
	return 73;
}

/* Whether the server closed fd (EOF after whatever it sent). */
static bool
closed_by_peer(int fd)
{
	uint8_t buf[256];
	struct pollfd pfd = { fd, POLLIN, 0 };
	ssize_t n;

	while (poll(&pfd, 1, 0) == 1) {
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return true;
	}
	return false;
}

static void
test_route(void)
{
	struct world w;
	uint8_t s[128];
	size_t n = stream(s, HASH_B);
	int fd;

	setup(&w);
	fd = dial(w.port);
	CHECK(write(fd, s, n) == (ssize_t)n);
	pump(w.rs, 50);
	CHECK_INT_EQ(w.rb.made, 1);
	CHECK_INT_EQ(w.rb.msgs, 1);
	CHECK_INT_EQ(w.ra.made, 0);
	CHECK_INT_EQ(enc_num_conns(w.b), 1);
	CHECK(!closed_by_peer(fd));
	close(fd);
	/* Torrent A, the stream cut at every byte. */
	n = stream(s, HASH_A);
	fd = dial(w.port);
	for (size_t i = 0; i < n; i++) {
		CHECK(write(fd, s + i, 1) == 1);
		pump(w.rs, 2);
	}
	pump(w.rs, 20);
	CHECK_INT_EQ(w.ra.made, 1);
	CHECK_INT_EQ(w.ra.msgs, 1);
	close(fd);
	teardown(&w);
}

static void
test_refusals(void)
{
	struct world w;
	uint8_t s[128];
	size_t n;
	int fd;

	setup(&w);
	/* A torrent we do not have. */
	n = stream(s, HASH_X);
	fd = dial(w.port);
	CHECK(write(fd, s, n) == (ssize_t)n);
	pump(w.rs, 50);
	CHECK(closed_by_peer(fd));
	close(fd);
	/* Not BitTorrent: closed after the first wrong byte. */
	fd = dial(w.port);
	CHECK(write(fd, "GET / HTTP/1.0\r\n", 16) == 16);
	pump(w.rs, 50);
	CHECK(closed_by_peer(fd));
	close(fd);
	n = stream(s, HASH_A);
	s[5] = 'x';
	fd = dial(w.port);
	CHECK(write(fd, s, 6) == 6);
	pump(w.rs, 50);
	CHECK(closed_by_peer(fd));
	close(fd);
	/* Gone before the prefix was complete: nothing leaks (ASan). */
	fd = dial(w.port);
	CHECK(write(fd, s, 10) == 10);
	pump(w.rs, 20);
	close(fd);
	pump(w.rs, 20);
	/* Still waiting at ls_free(). */
	fd = dial(w.port);
	CHECK(write(fd, s, 10) == 10);
	pump(w.rs, 20);
	CHECK_INT_EQ(w.ra.made + w.rb.made, 0);
	teardown(&w);
	close(fd);
}

/*
 * ls_set_max_per_host: two silent connections from 127.0.0.1 may wait, a
 * third is closed at once; 127.0.0.2 is not affected; once one of the two
 * has named its torrent and left for the encoder, 127.0.0.1 may have
 * another waiting.
 */
static void
test_per_host(void)
{
	struct world w;
	uint8_t s[128];
	size_t n = stream(s, HASH_A);
	int a, b, c, other, again;

	setup(&w);
	ls_set_max_per_host(w.ls, 2);
	a = dial(w.port);
	b = dial(w.port);
	pump(w.rs, 20);
	c = dial(w.port);
	pump(w.rs, 20);
	CHECK(!closed_by_peer(a));
	CHECK(!closed_by_peer(b));
	CHECK(closed_by_peer(c));
	CHECK_INT_EQ(ls_host_full(w.ls), 1);
	other = dial_from(w.port, 2);
	CHECK(other >= 0);
	pump(w.rs, 20);
	CHECK(!closed_by_peer(other));
	/* a names torrent A and leaves the listener for its encoder. */
	CHECK(write(a, s, n) == (ssize_t)n);
	pump(w.rs, 20);
	CHECK_INT_EQ(w.ra.made, 1);
	again = dial(w.port);
	pump(w.rs, 20);
	CHECK(!closed_by_peer(again));
	CHECK(!closed_by_peer(a));
	CHECK_INT_EQ(ls_host_full(w.ls), 1);
	teardown(&w);
	close(a);
	close(b);
	close(c);
	close(other);
	close(again);
}

int
main(void)
{
	CHECK_RUN(test_route, test_refusals, test_per_host);
}

/*
 * Encrypter tests over a real reactor and real loopback sockets: the
 * handshake and message framing with the stream split at every byte
 * boundary (and all of it in one read), and each reason to drop a peer.
 * The test writes from a plain blocking socket, then pumps the reactor a
 * few milliseconds, so each part arrives in a read of its own.
 */
#include "encrypter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bytes.h"
#include "check.h"
#include "loopback.h"
#include "rawserver.h"

static const uint8_t HASH[20] = "0123456789abcdefghij";
static const uint8_t MY_ID[20] = "-BD0100-ourpeeridxyz";
static const uint8_t PEER_ID[20] = "-XX0000-theirpeerid1";

struct rec {
	struct enc_conn *ec;	/* the last one made */
	int made, lost;
	uint8_t msgs[4096];
	size_t len;
	bool refuse;
};

static void *
rec_made(void *ctx, struct enc_conn *ec)
{
	struct rec *r = ctx;

	r->ec = ec;
	r->made++;
	return r->refuse ? NULL : r;
}

/* Record each message as a 4-byte length then its bytes. */
static int
rec_msg(void *ctx, void *uconn, const uint8_t *p, size_t n)
{
	struct rec *r = ctx;

	(void)uconn;
	if (r->len + 4 + n <= sizeof(r->msgs)) {
		be32_put(r->msgs + r->len, (uint32_t)n);
		memcpy(r->msgs + r->len + 4, p, n);
		r->len += 4 + n;
	}
	return 0;
}

static void
rec_lost(void *ctx, void *uconn)
{
	(void)uconn;
	((struct rec *)ctx)->lost++;
}

static const struct enc_upper rec_upper = { rec_made, rec_msg, rec_lost, NULL };

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

static size_t
handshake(uint8_t *p, const uint8_t *hash, const uint8_t *id)
{
	p[0] = 19;
	memcpy(p + 1, ENC_PROTOCOL, 19);
	memset(p + 20, 0, 8);
	memcpy(p + 28, hash, 20);
	memcpy(p + 48, id, 20);
	return ENC_HANDSHAKE_LEN;
}

static size_t
msg(uint8_t *p, const uint8_t *body, size_t n)
{
	be32_put(p, (uint32_t)n);
	memcpy(p + 4, body, n);
	return 4 + n;
}

/* The stream a peer sends, and the messages we expect to see. */
static size_t
build_stream(uint8_t *s, uint8_t *expect, size_t *out_elen)
{
	uint8_t have[5] = { 4, 0, 0, 0, 7 };
	uint8_t bits[3] = { 5, 0xff, 0x80 };
	uint8_t piece[9 + 100];
	size_t n = handshake(s, HASH, PEER_ID), e = 0;

	memset(s + n, 0, 4);	/* a keepalive, never delivered */
	n += 4;
	n += msg(s + n, bits, sizeof(bits));
	e += msg(expect + e, bits, sizeof(bits));
	n += msg(s + n, have, sizeof(have));
	e += msg(expect + e, have, sizeof(have));
	piece[0] = 7;
	for (size_t i = 1; i < sizeof(piece); i++)
		piece[i] = (uint8_t)(i * 13);
	n += msg(s + n, piece, sizeof(piece));
	e += msg(expect + e, piece, sizeof(piece));
	*out_elen = e;
	return n;
}

static struct rawserver *
server_with(struct encoder **out_enc, struct rec *r, int *out_port,
    uint32_t max_per_host)
{
	struct rs_config cfg = RS_CONFIG_DEFAULT;
	struct enc_config ec = { 1 << 20, 120000, 35, max_per_host };
	struct rawserver *rs;

	cfg.close_on_signal = false;
	rs = rs_new(&cfg);
	*out_enc = enc_new(rs, &ec, HASH, MY_ID, &rec_upper, r);
	*out_port = rs_listen(rs, "127.0.0.1", 31000, 39000, enc_handler(),
	    *out_enc, NULL);
	return rs;
}

static struct rawserver *
server(struct encoder **out_enc, struct rec *r, int *out_port)
{
	return server_with(out_enc, r, out_port, 0);
}

static void
test_split_everywhere(void)
{
	uint8_t s[512], expect[512];
	size_t elen, n = build_stream(s, expect, &elen);
	struct encoder *enc;
	struct rec r;
	int port, bad = 0;
	struct rawserver *rs = server(&enc, &r, &port);

	CHECK(port > 0);
	for (size_t k = 1; k <= n; k++) {
		int fd;

		memset(&r, 0, sizeof(r));
		if ((fd = dial(port)) < 0) {
			bad++;
			continue;
		}
		pump(rs, 2);
		CHECK_INT_EQ(write(fd, s, k), (ssize_t)k);
		pump(rs, 3);
		if (k < n) {
			CHECK_INT_EQ(write(fd, s + k, n - k), (ssize_t)(n - k));
			pump(rs, 3);
		}
		if (r.made != 1 || r.len != elen ||
		    memcmp(r.msgs, expect, elen) != 0)
			bad++;
		close(fd);
		pump(rs, 3);
		if (r.lost != 1)
			bad++;
	}
	CHECK_INT_EQ(bad, 0);
	enc_free(enc);
	rs_free(rs);
}

/* Send bytes, pump, and report whether the server closed on us. */
static bool
dropped_after(struct rawserver *rs, int port, const uint8_t *p, size_t n)
{
	uint8_t buf[256];
	int fd = dial(port);
	ssize_t got;
	bool closed = false;

	if (fd < 0)
		return false;
	pump(rs, 2);
	if (write(fd, p, n) != (ssize_t)n) {
		close(fd);
		return false;
	}
	pump(rs, 10);
	/* Drain our handshake reply if any; EOF means it closed. */
	for (int i = 0; i < 4; i++) {
		got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (got == 0 || (got < 0 && errno == ECONNRESET)) {
			closed = true;
			break;
		}
		if (got < 0)
			break;
	}
	close(fd);
	pump(rs, 3);
	return closed;
}

static void
test_drops(void)
{
	uint8_t s[256];
	struct encoder *enc;
	struct rec r;
	int port;
	struct rawserver *rs = server(&enc, &r, &port);
	uint8_t wrong[20] = "not-the-info-hash!!!";
	size_t n;

	memset(&r, 0, sizeof(r));
	/* MSE starts with random bytes: the first byte is not 19. */
	memset(s, 0xab, 96);
	CHECK(dropped_after(rs, port, s, 96));
	/* A bad protocol string. */
	n = handshake(s, HASH, PEER_ID);
	s[5] ^= 1;
	CHECK(dropped_after(rs, port, s, n));
	/* Another torrent. */
	n = handshake(s, wrong, PEER_ID);
	CHECK(dropped_after(rs, port, s, n));
	/* Our own id: we dialled ourselves. */
	n = handshake(s, HASH, MY_ID);
	CHECK(dropped_after(rs, port, s, n));
	CHECK_INT_EQ(r.made, 0);
	/* A length prefix past max_message_length. */
	n = handshake(s, HASH, PEER_ID);
	be32_put(s + n, (1u << 20) + 1);
	CHECK(dropped_after(rs, port, s, n + 4));
	CHECK_INT_EQ(r.made, 1);
	CHECK_INT_EQ(r.lost, 1);
	/* The upper layer refuses the peer. */
	r.refuse = true;
	n = handshake(s, HASH, PEER_ID);
	CHECK(dropped_after(rs, port, s, n));
	CHECK_INT_EQ(r.lost, 1);
	r.refuse = false;
	/* A good handshake stays open. */
	CHECK(!dropped_after(rs, port, s, n));
	enc_free(enc);
	rs_free(rs);
}

static void
test_duplicate_id(void)
{
	uint8_t s[256];
	struct encoder *enc;
	struct rec r;
	int port, a, b;
	struct rawserver *rs = server(&enc, &r, &port);
	size_t n = handshake(s, HASH, PEER_ID);

	memset(&r, 0, sizeof(r));
	a = dial(port);
	pump(rs, 2);
	CHECK_INT_EQ(write(a, s, n), (ssize_t)n);
	pump(rs, 5);
	CHECK_INT_EQ(enc_num_conns(enc), 1);
	CHECK(dropped_after(rs, port, s, n));
	CHECK_INT_EQ(enc_num_conns(enc), 1);
	CHECK_INT_EQ(r.made, 1);
	b = a;
	close(b);
	pump(rs, 5);
	CHECK_INT_EQ(enc_num_conns(enc), 0);
	CHECK_INT_EQ(r.lost, 1);
	enc_free(enc);
	rs_free(rs);
}

/* Whether the server has closed fd: EOF or a reset, once pumped. */
static bool
closed_by_server(struct rawserver *rs, int fd)
{
	uint8_t buf[256];
	ssize_t got;

	pump(rs, 5);
	for (int i = 0; i < 4; i++) {
		got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (got == 0 || (got < 0 && errno == ECONNRESET))
			return true;
		if (got < 0)
			return false;
	}
	return false;
}

/*
 * max_per_host: connections from one address beyond it are closed as soon
 * as they are accepted, handshaken or not; other addresses are not
 * affected; a slot freed is taken again; and we do not dial a host that
 * is full.
 */
static void
test_per_host(void)
{
	uint8_t s[ENC_HANDSHAKE_LEN], id[20];
	struct encoder *enc;
	struct enc_stats st;
	struct rec r;
	int port, fd[3], extra, other, again, lfd;
	struct rawserver *rs = server_with(&enc, &r, &port, 3);
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(&r, 0, sizeof(r));
	/* Three from 127.0.0.1: two handshake, one stays silent. */
	for (int i = 0; i < 3; i++) {
		fd[i] = dial(port);
		CHECK(fd[i] >= 0);
		pump(rs, 2);
		if (i < 2) {
			memcpy(id, PEER_ID, 20);
			id[19] = (uint8_t)('a' + i);
			handshake(s, HASH, id);
			CHECK_INT_EQ(write(fd[i], s, sizeof(s)), (ssize_t)sizeof(s));
		}
	}
	pump(rs, 5);
	CHECK_INT_EQ(enc_num_conns(enc), 2);
	for (int i = 0; i < 3; i++)
		CHECK(!closed_by_server(rs, fd[i]));
	/* A fourth from the same address is closed before it says a word. */
	extra = dial(port);
	CHECK(extra >= 0);
	CHECK(closed_by_server(rs, extra));
	close(extra);
	enc_get_stats(enc, &st);
	CHECK_INT_EQ(st.host_full, 1);
	/* Another address is let in, and completes its handshake. */
	other = dial_from(port, 2);
	CHECK(other >= 0);
	memcpy(id, PEER_ID, 20);
	id[19] = 'z';
	handshake(s, HASH, id);
	pump(rs, 2);
	CHECK_INT_EQ(write(other, s, sizeof(s)), (ssize_t)sizeof(s));
	CHECK(!closed_by_server(rs, other));
	CHECK_INT_EQ(enc_num_conns(enc), 3);
	/* A host that is full is not dialled, even at another port. */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	CHECK(listen(lfd, 4) == 0);
	CHECK(getsockname(lfd, (struct sockaddr *)&sin, &len) == 0);
	enc_start_connection(enc, (struct sockaddr *)&sin, sizeof(sin), NULL);
	pump(rs, 5);
	CHECK(accept(lfd, NULL, NULL) < 0);
	enc_get_stats(enc, &st);
	CHECK_INT_EQ(st.host_full, 2);
	/* One of the three leaves: its slot can be taken again, by a new
	 * connection or by dialling. */
	close(fd[2]);
	pump(rs, 5);
	again = dial(port);
	CHECK(again >= 0);
	CHECK(!closed_by_server(rs, again));
	close(again);
	pump(rs, 5);
	enc_start_connection(enc, (struct sockaddr *)&sin, sizeof(sin), NULL);
	pump(rs, 5);
	extra = accept(lfd, NULL, NULL);
	CHECK(extra >= 0);
	enc_get_stats(enc, &st);
	CHECK_INT_EQ(st.host_full, 2);
	if (extra >= 0)
		close(extra);
	close(lfd);
	close(fd[0]);
	close(fd[1]);
	close(other);
	pump(rs, 5);
	enc_free(enc);
	rs_free(rs);
}

/*
 * enc_send_file_run: 100 messages of mixed lengths (more than ENC_RUN_MAX
 * in one call), then 3 with a header longer than ENC_RUN_HDR_MAX, sent
 * from inside the reactor: each arrives framed, with its header and its
 * bytes of the file, one range from the offset given.
 */
#define SR_N	100
#define SR_BIGHDR 20

struct sendrun {
	struct rec *r;
	int fd;
	uint32_t lens[SR_N];
	uint8_t hdrs[SR_N][9], big[3][SR_BIGHDR];
};

static void
sr_task(void *arg)
{
	struct sendrun *s = arg;
	uint64_t total = 0;

	for (int k = 0; k < SR_N; k++)
		total += s->lens[k];
	enc_send_file_run(s->r->ec, &s->hdrs[0][0], 9, s->lens, SR_N, s->fd,
	    10);
	enc_send_file_run(s->r->ec, &s->big[0][0], SR_BIGHDR, s->lens, 3,
	    s->fd, 10 + total);
}

static uint8_t
sr_byte(uint64_t i)
{
	return (uint8_t)(i * 131 + (i >> 9));
}

static void
test_send_file_run(void)
{
	static struct sendrun s;
	static uint8_t file[300000], got[400000];
	char path[] = "/tmp/test_encrypter.XXXXXX";
	uint8_t hs[ENC_HANDSHAKE_LEN];
	struct encoder *enc;
	struct rec r;
	int port, fd, bad = 0;
	size_t have = 0, want = ENC_HANDSHAKE_LEN, pos;
	uint64_t foff = 10;
	struct rawserver *rs = server(&enc, &r, &port);

	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < sizeof(file); i++)
		file[i] = sr_byte(i);
	s.fd = mkstemp(path);
	CHECK(s.fd >= 0);
	CHECK_INT_EQ(write(s.fd, file, sizeof(file)), (ssize_t)sizeof(file));
	unlink(path);
	s.r = &r;
	for (int k = 0; k < SR_N; k++) {
		s.lens[k] = k % 7 == 3 ? 1 : (uint32_t)(2000 + k * 13);
		memset(s.hdrs[k], k, 9);
		want += 4 + 9 + s.lens[k];
	}
	for (int k = 0; k < 3; k++) {
		memset(s.big[k], 0xa0 + k, SR_BIGHDR);
		want += 4 + SR_BIGHDR + s.lens[k];
	}
	CHECK(want <= sizeof(got));
	fd = dial(port);
	pump(rs, 2);
	handshake(hs, HASH, PEER_ID);
	CHECK_INT_EQ(write(fd, hs, sizeof(hs)), (ssize_t)sizeof(hs));
	pump(rs, 5);
	CHECK_INT_EQ(r.made, 1);
	rs_add_task(rs, 0, sr_task, &s);
	for (int i = 0; i < 200 && have < want; i++) {
		ssize_t n;

		pump(rs, 2);
		while ((n = recv(fd, got + have, sizeof(got) - have,
		    MSG_DONTWAIT)) > 0)
			have += (size_t)n;
	}
	CHECK_INT_EQ(have, want);
	/* Skip our handshake reply, then check every message. */
	pos = ENC_HANDSHAKE_LEN;
	for (int k = 0; k < SR_N + 3 && have == want; k++) {
		size_t hl = k < SR_N ? 9 : SR_BIGHDR;
		uint32_t len = s.lens[k < SR_N ? k : k - SR_N];
		const uint8_t *h = k < SR_N ? s.hdrs[k] : s.big[k - SR_N];

		if (be32_get(got + pos) != hl + len ||
		    memcmp(got + pos + 4, h, hl) != 0 ||
		    memcmp(got + pos + 4 + hl, file + foff, len) != 0)
			bad++;
		pos += 4 + hl + len;
		foff += len;
	}
	CHECK_INT_EQ(bad, 0);
	close(fd);
	close(s.fd);
	pump(rs, 5);
	enc_free(enc);
	rs_free(rs);
}

int
main(void)
{
	CHECK_RUN(test_split_everywhere, test_drops, test_duplicate_id,
	    test_per_host, test_send_file_run);
}

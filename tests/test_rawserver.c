/*
 * test_rawserver: the reactor on real sockets over 127.0.0.1 and ::1.
 *
 * Every test runs its own reactor with a safety timer that stops the loop
 * (and fails the test) if the expected events never come, so a broken
 * reactor makes the run fail rather than hang.  When ::1 is not usable the
 * IPv6 variants print a note and are skipped.
 */
#include "rawserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bterr.h"
#include "check.h"

#define SAFETY_MS 10000

static bool have_v6;

/*
 * Helpers shared by the tests.
 */

static struct rawserver *
new_rs(uint32_t timeout_ms, uint32_t check_ms, uint32_t connect_ms,
    uint32_t max_conns)
{
	struct rs_config cfg = RS_CONFIG_DEFAULT;

	cfg.timeout_ms = timeout_ms;
	cfg.timeout_check_ms = check_ms;
	cfg.connect_timeout_ms = connect_ms;
	cfg.max_conns = max_conns;
	cfg.close_on_signal = false;
	return rs_new(&cfg);
}

static struct rawserver *
new_rs_default(void)
{
	return new_rs(300000, 60000, 15000, 0);
}

struct safety {
	struct rawserver *rs;
	bool fired;
};

static void
safety_fire(void *ctx)
{
	struct safety *s = ctx;

	s->fired = true;
	rs_stop(s->rs);
}

/* Run the loop with a safety stop; CHECK that the test stopped it. */
static int
run_bounded(struct rawserver *rs, uint64_t ms)
{
	struct safety s = { rs, false };
	uint64_t id = rs_add_task(rs, ms, safety_fire, &s);
	int r = rs_run(rs);

	rs_cancel_task(rs, id);
	CHECK(!s.fired);
	return r;
}

static void
stop_task(void *ctx)
{
	rs_stop(ctx);
}

static socklen_t
loop_addr(int family, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		s6->sin6_addr = in6addr_loopback;
		return sizeof(*s6);
	}
}

static struct rs_conn *
connect_to(struct rawserver *rs, int family, int port,
    const struct rs_handler *h, void *ctx)
{
	struct sockaddr_storage ss;
	socklen_t len = loop_addr(family, port, &ss);

	return rs_connect(rs, (const struct sockaddr *)&ss, len, h, ctx);
}

/* A plain listening socket on the wildcard address, for blocking ports. */
static int
raw_listener(int family, int port, int backlog, int *out_port)
{
	struct sockaddr_storage ss;
	socklen_t len = loop_addr(family, port, &ss);
	int one = 1;
	int fd = socket(family, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr =
		    htonl(INADDR_ANY);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_any;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    listen(fd, backlog) < 0) {
		close(fd);
		return -1;
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*out_port = family == AF_INET ?
	    ntohs(((struct sockaddr_in *)&ss)->sin_port) :
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static bool
port_free(int port)
{
	int p, fd4, fd6 = -1;

	fd4 = raw_listener(AF_INET, port, 1, &p);
	if (fd4 >= 0 && have_v6)
		fd6 = raw_listener(AF_INET6, port, 1, &p);
	if (fd4 >= 0)
		close(fd4);
	if (fd6 >= 0)
		close(fd6);
	return fd4 >= 0 && (!have_v6 || fd6 >= 0);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint8_t
pattern(size_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u;

	return (uint8_t)(x >> 24 ^ x >> 11 ^ i);
}

/*
 * Timers.
 */

struct tlog {
	struct rawserver *rs;
	int ran[512];
	int n;
	uint64_t ids[512];
};

struct tnote {
	struct tlog *log;
	int tag;
};

static void
log_task(void *ctx)
{
	struct tnote *t = ctx;

	t->log->ran[t->log->n++] = t->tag;
}

static void
test_timer_order(void)
{
	struct rawserver *rs = new_rs_default();
	struct tlog log = { .rs = rs };
	static const int delays[] = { 30, 10, 20, 0, 25 };
	struct tnote notes[5];

	for (int i = 0; i < 5; i++) {
		notes[i] = (struct tnote){ &log, delays[i] };
		CHECK(rs_add_task(rs, (uint64_t)delays[i], log_task,
		    &notes[i]) != 0);
	}
	rs_add_task(rs, 40, stop_task, rs);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(log.n, 5);
	CHECK_INT_EQ(log.ran[0], 0);
	CHECK_INT_EQ(log.ran[1], 10);
	CHECK_INT_EQ(log.ran[2], 20);
	CHECK_INT_EQ(log.ran[3], 25);
	CHECK_INT_EQ(log.ran[4], 30);
	rs_free(rs);
}

/*
 * From inside a task rs_now_ms() is fixed, so equal delays give equal
 * deadlines: 300 tasks over 10 delays must run sorted by delay and, within
 * a delay, in insertion order.  Every seventh one is cancelled.
 */
static struct tnote tie_notes[300];

static void
tie_setup(void *ctx)
{
	struct tlog *log = ctx;
	uint32_t seed = 12345;

	for (int i = 0; i < 300; i++) {
		int delay;

		seed = seed * 1103515245u + 12345u;
		delay = (int)(seed >> 16) % 10;
		tie_notes[i] = (struct tnote){ log, delay * 1000 + i };
		log->ids[i] = rs_add_task(log->rs, (uint64_t)delay, log_task,
		    &tie_notes[i]);
	}
	for (int i = 0; i < 300; i += 7)
		rs_cancel_task(log->rs, log->ids[i]);
	rs_add_task(log->rs, 30, stop_task, log->rs);
}

static void
test_timer_ties(void)
{
	struct rawserver *rs = new_rs_default();
	struct tlog log = { .rs = rs };
	int expect = 300 - (300 + 6) / 7;
	bool sorted = true, cancelled_ran = false;

	rs_add_task(rs, 0, tie_setup, &log);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(log.n, expect);
	for (int i = 1; i < log.n; i++)
		if (log.ran[i - 1] >= log.ran[i])
			sorted = false;
	for (int i = 0; i < log.n; i++)
		if ((log.ran[i] % 1000) % 7 == 0)
			cancelled_ran = true;
	CHECK(sorted);
	CHECK(!cancelled_ran);
	rs_free(rs);
}

/*
 * Cancelling: A and B share a deadline and A runs first, so A cancelling B
 * must stop B although B is already due; A also cancels C (later), itself
 * (a no-op now) and garbage ids.  D is cancelled before the loop starts.
 */
struct cancel_ctx {
	struct rawserver *rs;
	uint64_t a, b, c, d;
	int ran_a, ran_b, ran_c, ran_d, ran_e;
};

static void
cancel_a(void *ctx)
{
	struct cancel_ctx *x = ctx;

	x->ran_a++;
	rs_cancel_task(x->rs, x->b);
	rs_cancel_task(x->rs, x->c);
	rs_cancel_task(x->rs, x->a);
	rs_cancel_task(x->rs, 0);
	rs_cancel_task(x->rs, UINT64_MAX);
	rs_cancel_task(x->rs, x->a + ((uint64_t)7 << 32));
}

static void
cancel_b(void *ctx)
{
	((struct cancel_ctx *)ctx)->ran_b++;
}

static void
cancel_c(void *ctx)
{
	((struct cancel_ctx *)ctx)->ran_c++;
}

static void
cancel_d(void *ctx)
{
	((struct cancel_ctx *)ctx)->ran_d++;
}

static void
cancel_e(void *ctx)
{
	((struct cancel_ctx *)ctx)->ran_e++;
}

static void
cancel_setup(void *ctx)
{
	struct cancel_ctx *x = ctx;

	x->a = rs_add_task(x->rs, 5, cancel_a, x);
	x->b = rs_add_task(x->rs, 5, cancel_b, x);
	x->c = rs_add_task(x->rs, 15, cancel_c, x);
	rs_add_task(x->rs, 30, stop_task, x->rs);
}

static void
test_timer_cancel(void)
{
	struct rawserver *rs = new_rs_default();
	struct cancel_ctx x = { .rs = rs };
	uint64_t e;

	x.d = rs_add_task(rs, 1, cancel_d, &x);
	rs_cancel_task(rs, x.d);
	rs_cancel_task(rs, x.d);
	rs_add_task(rs, 0, cancel_setup, &x);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(x.ran_a, 1);
	CHECK_INT_EQ(x.ran_b, 0);
	CHECK_INT_EQ(x.ran_c, 0);
	CHECK_INT_EQ(x.ran_d, 0);
	/* A stale id must not cancel a newer task that reuses its slot. */
	e = rs_add_task(rs, 0, cancel_e, &x);
	CHECK(e != x.a && e != x.b && e != x.c && e != x.d);
	rs_cancel_task(rs, x.a);
	rs_cancel_task(rs, x.b);
	rs_cancel_task(rs, x.d);
	rs_add_task(rs, 5, stop_task, rs);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(x.ran_e, 1);
	rs_free(rs);
}

struct periodic {
	struct rawserver *rs;
	int n;
	uint64_t first, last;
};

static void
periodic_task(void *ctx)
{
	struct periodic *p = ctx;

	if (p->n++ == 0)
		p->first = rs_now_ms(p->rs);
	p->last = rs_now_ms(p->rs);
	if (p->n == 10)
		rs_stop(p->rs);
	else
		rs_add_task(p->rs, 3, periodic_task, p);
}

/* A task re-adding itself with delay 0 must still let the loop poll. */
struct zero {
	struct rawserver *rs;
	int n;
};

static void
zero_task(void *ctx)
{
	struct zero *z = ctx;

	z->n++;
	rs_add_task(z->rs, 0, zero_task, z);
}

static void
test_timer_periodic_and_stop(void)
{
	struct rawserver *rs = new_rs_default();
	struct periodic p = { rs, 0, 0, 0 };
	struct zero z = { rs, 0 };

	rs_add_task(rs, 0, periodic_task, &p);
	rs_add_task(rs, 0, zero_task, &z);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(p.n, 10);
	CHECK(p.last - p.first >= 27);
	CHECK(z.n > 10);
	/* The loop can run again after rs_stop(). */
	rs_add_task(rs, 1, stop_task, rs);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	/* rs_stop() before rs_run(): one pass, then return 0. */
	rs_stop(rs);
	CHECK_INT_EQ(rs_run(rs), 0);
	rs_free(rs);
}

/*
 * Listening.
 */

static const struct rs_handler null_handler;

static void
test_listen_ports(void)
{
	struct rawserver *rs = new_rs_default();
	struct bt_err err = BT_ERR_INIT;
	int base = 0, fd, fd6 = -1, port, p;

	/* A port whose neighbour is also free, then block it on IPv4. */
	for (int tries = 0; tries < 50; tries++) {
		fd = raw_listener(AF_INET, 0, 1, &base);
		close(fd);
		if (base < 65000 && port_free(base) && port_free(base + 1))
			break;
		base = 0;
	}
	CHECK(base != 0);
	fd = raw_listener(AF_INET, base, 1, &p);
	CHECK(fd >= 0);
	port = rs_listen(rs, NULL, base, base + 5, &null_handler, NULL, &err);
	CHECK_INT_EQ(port, base + 1);
	/* The whole range taken: a readable error. */
	err = (struct bt_err)BT_ERR_INIT;
	CHECK_INT_EQ(rs_listen(rs, NULL, base, base + 1, &null_handler, NULL,
	    &err), -EADDRINUSE);
	CHECK_INT_EQ(err.code, -EADDRINUSE);
	{
		char want[64];

		snprintf(want, sizeof(want), "no free port in %d-%d", base,
		    base + 1);
		CHECK_STR_EQ(err.msg, want);
	}
	close(fd);

	/* A port taken on IPv6 only is skipped too. */
	if (have_v6) {
		fd6 = raw_listener(AF_INET6, 0, 1, &base);
		CHECK(fd6 >= 0);
		port = rs_listen(rs, NULL, base, base + 20, &null_handler,
		    NULL, NULL);
		CHECK(port > base && port <= base + 20);
		close(fd6);
	}

	CHECK_INT_EQ(rs_listen(rs, NULL, 10, 5, &null_handler, NULL, NULL),
	    -EINVAL);
	CHECK_INT_EQ(rs_listen(rs, "not-an-address", 0, 0, &null_handler,
	    NULL, NULL), -EINVAL);
	port = rs_listen(rs, "127.0.0.1", 0, 0, &null_handler, NULL, NULL);
	CHECK(port > 0);
	rs_free(rs);
}

/*
 * Echo: a client writes 8 MiB in mixed sizes (one immediate write-through,
 * the rest queued), the server writes every byte back and pauses reading
 * for a while after the first MiB so that both queues fill and drain
 * through POLLOUT.  The client checks every byte it gets back.
 */
#define ECHO_LEN (8u * 1024 * 1024)

struct echo {
	struct rawserver *rs;
	uint8_t *buf;
	struct rs_conn *srv;
	size_t srv_got, cli_got;
	struct rs_conn *cli;
	size_t srv_maxq;
	bool srv_paused_once, cli_paused_once;
	bool mismatch;
	int cli_made, cli_flushed, cli_lost, cli_lost_err;
	int srv_made, srv_flushed, srv_lost, srv_lost_err;
	char cli_name[64];
};

static rs_conn_fn echo_srv_made, echo_srv_flushed, echo_cli_made,
    echo_cli_flushed;
static rs_data_fn echo_srv_data, echo_cli_data;
static rs_lost_fn echo_srv_lost, echo_cli_lost;

static const struct rs_handler echo_srv_h = {
	echo_srv_made, echo_srv_data, echo_srv_lost, echo_srv_flushed,
};
static const struct rs_handler echo_cli_h = {
	echo_cli_made, echo_cli_data, echo_cli_lost, echo_cli_flushed,
};

static void
echo_srv_made(void *ctx, struct rs_conn *c)
{
	struct echo *e = ctx;

	e->srv_made++;
	e->srv = c;
	CHECK(rs_conn_is_incoming(c));
}

static void
echo_resume(void *ctx)
{
	struct echo *e = ctx;

	if (e->srv != NULL)
		rs_conn_pause_read(e->srv, false);
}

/*
 * The client reads nothing until the server has had every byte, so the
 * server's echo must back up in its queue (loopback receive buffers can
 * otherwise swallow all 8 MiB).
 */
static void
echo_cli_resume(void *ctx)
{
	struct echo *e = ctx;

	if (e->cli == NULL)
		return;
	if (e->srv_got < ECHO_LEN)
		rs_add_task(e->rs, 5, echo_cli_resume, e);
	else
		rs_conn_pause_read(e->cli, false);
}

static void
echo_srv_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	struct echo *e = ctx;

	e->srv_got += n;
	rs_write(c, p, n);
	if (rs_conn_queued(c) > e->srv_maxq)
		e->srv_maxq = rs_conn_queued(c);
	if (!e->srv_paused_once && e->srv_got >= 1024 * 1024) {
		e->srv_paused_once = true;
		rs_conn_pause_read(c, true);
		rs_add_task(e->rs, 30, echo_resume, e);
	}
}

static void
echo_srv_flushed(void *ctx, struct rs_conn *c)
{
	struct echo *e = ctx;

	e->srv_flushed++;
	CHECK(rs_conn_is_flushed(c));
	CHECK_INT_EQ(rs_conn_queued(c), 0);
}

static void
echo_srv_lost(void *ctx, struct rs_conn *c, int err)
{
	struct echo *e = ctx;

	(void)c;
	e->srv_lost++;
	e->srv_lost_err = err;
	e->srv = NULL;
	rs_stop(e->rs);
}

static void
echo_cli_made(void *ctx, struct rs_conn *c)
{
	static const size_t sizes[] = { 1, 7, 100, 1000, 16397, 70000,
	    300000, 2000000 };
	struct echo *e = ctx;
	size_t off = 0;

	e->cli_made++;
	e->cli = c;
	CHECK(!rs_conn_is_incoming(c));
	snprintf(e->cli_name, sizeof(e->cli_name), "%s", rs_conn_name(c));
	for (size_t i = 0; off < ECHO_LEN; i++) {
		size_t n = sizes[i % 8];

		if (n > ECHO_LEN - off)
			n = ECHO_LEN - off;
		rs_write(c, e->buf + off, n);
		off += n;
	}
	CHECK(rs_conn_queued(c) > 0);
	CHECK(!rs_conn_is_flushed(c));
	rs_conn_pause_read(c, true);
	e->cli_paused_once = true;
	rs_add_task(e->rs, 5, echo_cli_resume, e);
}

static void
echo_cli_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	struct echo *e = ctx;

	if (e->cli_got + n > ECHO_LEN ||
	    memcmp(p, e->buf + e->cli_got, n) != 0)
		e->mismatch = true;
	e->cli_got += n;
	if (e->cli_got >= ECHO_LEN)
		rs_close(c);
}

static void
echo_cli_flushed(void *ctx, struct rs_conn *c)
{
	struct echo *e = ctx;

	e->cli_flushed++;
	CHECK_INT_EQ(rs_conn_queued(c), 0);
}

static void
echo_cli_lost(void *ctx, struct rs_conn *c, int err)
{
	struct echo *e = ctx;

	(void)c;
	e->cli = NULL;
	e->cli_lost++;
	e->cli_lost_err = err;
}

static void
echo_run(int family)
{
	struct rawserver *rs = new_rs_default();
	struct echo e = { .rs = rs };
	char want[64];
	int port;
	uint64_t t0;

	e.buf = malloc(ECHO_LEN);
	for (size_t i = 0; i < ECHO_LEN; i++)
		e.buf[i] = pattern(i);
	port = rs_listen(rs, NULL, 0, 0, &echo_srv_h, &e, NULL);
	CHECK(port > 0);
	CHECK(connect_to(rs, family, port, &echo_cli_h, &e) != NULL);
	CHECK_INT_EQ(rs_num_conns(rs), 1);
	t0 = mono_ms();
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	printf("echo %s: 8 MiB each way in %llu ms\n",
	    family == AF_INET ? "v4" : "v6",
	    (unsigned long long)(mono_ms() - t0));
	CHECK_INT_EQ(e.cli_made, 1);
	CHECK_INT_EQ(e.srv_made, 1);
	CHECK_INT_EQ(e.cli_got, ECHO_LEN);
	CHECK_INT_EQ(e.srv_got, ECHO_LEN);
	CHECK(!e.mismatch);
	CHECK(e.srv_paused_once);
	CHECK(e.cli_paused_once);
	CHECK(e.cli_flushed >= 1);
	CHECK(e.srv_maxq > 0);
	CHECK(e.srv_flushed >= 1);
	CHECK_INT_EQ(e.cli_lost, 1);
	CHECK_INT_EQ(e.cli_lost_err, 0);
	CHECK_INT_EQ(e.srv_lost, 1);
	CHECK_INT_EQ(e.srv_lost_err, 0);
	CHECK_INT_EQ(rs_num_conns(rs), 0);
	snprintf(want, sizeof(want), family == AF_INET ? "127.0.0.1:%d" :
	    "[::1]:%d", port);
	CHECK_STR_EQ(e.cli_name, want);
	free(e.buf);
	rs_free(rs);
}

static void
test_echo_v4(void)
{
	echo_run(AF_INET);
}

static void
test_echo_v6(void)
{
	if (!have_v6) {
		printf("::1 unavailable: IPv6 echo skipped\n");
		return;
	}
	echo_run(AF_INET6);
}

/*
 * rs_write_file: memory and file ranges interleaved, the first range sent
 * through the write-through path, the caller's fd closed right after.
 */
#define WF_FILE_LEN (3u * 1024 * 1024)

struct wfile {
	struct rawserver *rs;
	uint8_t *file, *expect, *got;
	size_t expect_len, got_len;
	const char *path;
	int srv_lost;
};

static void
wf_srv_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	struct wfile *w = ctx;

	(void)c;
	if (w->got_len + n <= w->expect_len)
		memcpy(w->got + w->got_len, p, n);
	w->got_len += n;
	if (w->got_len >= w->expect_len)
		rs_stop(w->rs);
}

static void
wf_srv_lost(void *ctx, struct rs_conn *c, int err)
{
	(void)c;
	(void)err;
	((struct wfile *)ctx)->srv_lost++;
}

static void
wf_append(struct wfile *w, const void *p, size_t n)
{
	memcpy(w->expect + w->expect_len, p, n);
	w->expect_len += n;
}

static void
wf_cli_made(void *ctx, struct rs_conn *c)
{
	struct wfile *w = ctx;
	int fd = open(w->path, O_RDONLY);

	CHECK(fd >= 0);
	rs_write_file(c, fd, 5, WF_FILE_LEN - 5);
	wf_append(w, w->file + 5, WF_FILE_LEN - 5);
	rs_write(c, "HDR", 3);
	wf_append(w, "HDR", 3);
	rs_write_file(c, fd, 1000, 2 * 1024 * 1024 + 7);
	wf_append(w, w->file + 1000, 2 * 1024 * 1024 + 7);
	rs_write(c, "MID", 3);
	wf_append(w, "MID", 3);
	rs_write_file(c, fd, 0, 10);
	wf_append(w, w->file, 10);
	rs_write_file(c, fd, 0, 0);
	rs_write(c, "END", 3);
	wf_append(w, "END", 3);
	close(fd);
}

static void
test_write_file(void)
{
	static const struct rs_handler srv_h = { NULL, wf_srv_data,
	    wf_srv_lost, NULL };
	static const struct rs_handler cli_h = { wf_cli_made, wf_srv_data,
	    wf_srv_lost, NULL };
	struct rawserver *rs = new_rs_default();
	struct wfile w = { .rs = rs };
	char path[] = "/tmp/test_rawserver.XXXXXX";
	int fd = mkstemp(path);
	int port;

	CHECK(fd >= 0);
	w.path = path;
	w.file = malloc(WF_FILE_LEN);
	w.expect = malloc(2 * WF_FILE_LEN);
	w.got = malloc(2 * WF_FILE_LEN);
	for (size_t i = 0; i < WF_FILE_LEN; i++)
		w.file[i] = pattern(i * 3);
	CHECK_INT_EQ(write(fd, w.file, WF_FILE_LEN), WF_FILE_LEN);
	close(fd);
	port = rs_listen(rs, "127.0.0.1", 0, 0, &srv_h, &w, NULL);
	CHECK(port > 0);
	CHECK(connect_to(rs, AF_INET, port, &cli_h, &w) != NULL);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(w.got_len, w.expect_len);
	CHECK(w.got_len == w.expect_len &&
	    memcmp(w.got, w.expect, w.expect_len) == 0);
	CHECK_INT_EQ(w.srv_lost, 0);
	unlink(path);
	free(w.file);
	free(w.expect);
	free(w.got);
	rs_free(rs);
}

/*
 * rs_write_file from `flushed`, the way the uploader serves: 13-byte
 * headers and 16 KiB blocks at scattered, unaligned offsets, up to 512 KiB
 * queued per callback, 8 MiB in all.  After each call the fd is closed
 * and its number given to another file, so a range read late would send
 * that file's bytes.  Run with copy_max 0 (sendfile only), 64 KiB and the
 * default: the bytes arrive right, the copying path is used unless
 * copy_max is 0, and the memory the queues hold stays within copy_max
 * plus the headers of one callback.  Then a task queues eight more blocks
 * and closes the connection at once: the queues' memory is back to 0.
 * With `run` > 1 the blocks go in runs of that many, contiguous in the
 * file, through rs_write_frames(): 8, and 100 (more than one preadv()
 * and more than 512 KiB).
 */
#define WB_BLK		16384u
#define WB_HDR		13u
#define WB_NBLK		512
#define WB_FILE_BLKS	(WF_FILE_LEN / WB_BLK)

struct wblocks {
	struct rawserver *rs;
	const char *path;
	const uint8_t *file;
	int other;		/* the file that takes over closed fds */
	int run;		/* blocks per rs_write_frames(); <= 1: none */
	int next;		/* next block to write */
	size_t got;		/* stream bytes received (and compared) */
	size_t bad;		/* received bytes that differ */
	size_t max_mem;
	int lost;
	struct rs_conn *cli;
	bool closing;		/* phase 2: blocks queued, then rs_close */
	size_t mem_at_close;
};

/* Block k's offset: scattered, or in runs of w->run that follow on. */
static uint64_t
wb_off(const struct wblocks *w, int k)
{
	int r = w->run > 1 ? w->run : 1, s = k / r;

	return (uint64_t)((s * 37) % (int)(WB_FILE_BLKS - r)) * WB_BLK +
	    (uint64_t)(s % 5) + (uint64_t)(k % r) * WB_BLK;
}

static void
wb_note_mem(struct wblocks *w)
{
	size_t m = rs_queued_memory(w->rs);

	if (m > w->max_mem)
		w->max_mem = m;
}

static void
wb_fill(void *ctx, struct rs_conn *c)
{
	struct wblocks *w = ctx;
	int taken[64], ntaken = 0;

	while (w->next < WB_NBLK && rs_conn_queued(c) < 512 * 1024 &&
	    ntaken < 64) {
		static uint8_t hdr[WB_NBLK][WB_HDR];
		struct rs_frame f[WB_NBLK];
		int k = w->next, n = w->run > 1 ? w->run : 1;
		int fd = open(w->path, O_RDONLY);

		if (n > WB_NBLK - k)
			n = WB_NBLK - k;
		w->next += n;
		for (int b = 0; b < n; b++) {
			for (unsigned j = 0; j < WB_HDR; j++)
				hdr[b][j] = (uint8_t)(k + b + (int)j);
			f[b].hdr = hdr[b];
			f[b].hdrlen = WB_HDR;
			f[b].len = WB_BLK;
		}
		CHECK(fd >= 0);
		if (w->run > 1) {
			rs_write_frames(c, fd, wb_off(w, k), f, (size_t)n);
		} else {
			rs_write(c, hdr[0], WB_HDR);
			rs_write_file(c, fd, wb_off(w, k), WB_BLK);
		}
		close(fd);
		CHECK_INT_EQ(dup2(w->other, fd), fd);
		taken[ntaken++] = fd;
		wb_note_mem(w);
	}
	while (ntaken > 0)
		close(taken[--ntaken]);
}

static void
wb_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	struct wblocks *w = ctx;

	(void)c;
	if (w->closing)
		return;
	for (size_t i = 0; i < n; i++, w->got++) {
		size_t k = w->got / (WB_HDR + WB_BLK);
		size_t j = w->got % (WB_HDR + WB_BLK);
		uint8_t want = j < WB_HDR ? (uint8_t)(k + j) :
		    w->file[wb_off(w, (int)k) + j - WB_HDR];

		if (k >= WB_NBLK || p[i] != want)
			w->bad++;
	}
	wb_note_mem(w);
	if (w->got >= (size_t)WB_NBLK * (WB_HDR + WB_BLK))
		rs_stop(w->rs);
}

static void
wb_lost(void *ctx, struct rs_conn *c, int err)
{
	struct wblocks *w = ctx;

	(void)c;
	(void)err;
	if (++w->lost == 2 && w->closing)
		rs_stop(w->rs);
}

static void
wb_made(void *ctx, struct rs_conn *c)
{
	((struct wblocks *)ctx)->cli = c;
	wb_fill(ctx, c);
}

/* Phase 2: queue blocks from a task, then close with them still queued. */
static void
wb_close_task(void *ctx)
{
	struct wblocks *w = ctx;
	int fd = open(w->path, O_RDONLY);

	CHECK(fd >= 0);
	w->closing = true;
	for (int k = 0; k < 8; k++) {
		rs_write(w->cli, "0123456789abc", WB_HDR);
		rs_write_file(w->cli, fd, wb_off(w, k), WB_BLK);
	}
	close(fd);
	w->mem_at_close = rs_queued_memory(w->rs);
	rs_close(w->cli);
}

static void
write_blocks_run(uint32_t copy_max, int run, const char *path,
    const uint8_t *file)
{
	static const struct rs_handler srv_h = { NULL, wb_data, wb_lost, NULL };
	static const struct rs_handler cli_h = { wb_made, wb_data, wb_lost,
	    wb_fill };
	struct rs_config cfg = RS_CONFIG_DEFAULT;
	struct wblocks w = { .path = path, .file = file, .run = run };
	struct rawserver *rs;
	int port;

	cfg.close_on_signal = false;
	cfg.copy_max = copy_max;
	rs = rs_new(&cfg);
	w.rs = rs;
	w.other = open("/dev/zero", O_RDONLY);
	CHECK(w.other >= 0);
	port = rs_listen(rs, "127.0.0.1", 0, 0, &srv_h, &w, NULL);
	CHECK(port > 0);
	CHECK(connect_to(rs, AF_INET, port, &cli_h, &w) != NULL);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(w.next, WB_NBLK);
	CHECK_INT_EQ(w.got, (size_t)WB_NBLK * (WB_HDR + WB_BLK));
	CHECK_INT_EQ(w.bad, 0);
	CHECK_INT_EQ(w.lost, 0);
	if (copy_max == 0)
		CHECK_INT_EQ(rs_file_bytes_copied(rs), 0);
	else
		CHECK(rs_file_bytes_copied(rs) > 0);
	/* Runs are read a batch at a time, single blocks one at a time. */
	if (run > 1 && copy_max > 0)
		CHECK(rs_file_copy_reads(rs) * WB_BLK <
		    rs_file_bytes_copied(rs));
	else
		CHECK_INT_EQ(rs_file_copy_reads(rs) * WB_BLK,
		    rs_file_bytes_copied(rs));
	CHECK(w.max_mem <= copy_max + 64 * WB_HDR);
	printf("copy_max %u, runs of %d: %llu of %u bytes copied in %llu "
	    "reads, queues held at most %zu\n", copy_max, run,
	    (unsigned long long)rs_file_bytes_copied(rs), WB_NBLK * WB_BLK,
	    (unsigned long long)rs_file_copy_reads(rs), w.max_mem);
	CHECK_INT_EQ(rs_queued_memory(rs), 0);
	/* Closing with copied blocks queued gives their memory back. */
	rs_add_task(rs, 1, wb_close_task, &w);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(w.lost, 2);
	/* With room for all eight copies, they were all still queued. */
	if (copy_max >= 8 * (WB_HDR + WB_BLK))
		CHECK(w.mem_at_close >= 8 * (WB_HDR + WB_BLK));
	CHECK_INT_EQ(rs_queued_memory(rs), 0);
	printf("closed with %zu bytes queued in memory\n", w.mem_at_close);
	close(w.other);
	rs_free(rs);
}

static void
test_write_blocks(void)
{
	char path[] = "/tmp/test_rawserver.XXXXXX";
	uint8_t *file = malloc(WF_FILE_LEN);
	int fd = mkstemp(path);

	CHECK(fd >= 0 && file != NULL);
	for (size_t i = 0; i < WF_FILE_LEN; i++)
		file[i] = pattern(i * 5 + 1);
	CHECK_INT_EQ(write(fd, file, WF_FILE_LEN), WF_FILE_LEN);
	close(fd);
	write_blocks_run(0, 1, path, file);
	write_blocks_run(64 * 1024, 1, path, file);
	write_blocks_run(RS_CONFIG_DEFAULT_COPY_MAX, 1, path, file);
	write_blocks_run(0, 8, path, file);
	write_blocks_run(64 * 1024, 8, path, file);
	write_blocks_run(RS_CONFIG_DEFAULT_COPY_MAX, 8, path, file);
	write_blocks_run(RS_CONFIG_DEFAULT_COPY_MAX, 100, path, file);
	unlink(path);
	free(file);
}

/*
 * `flushed` after a queue drained inside a write.  Deferred writes are
 * flushed at once when enough pile up; if that send takes everything, the
 * queue is empty when the callback returns, and `flushed` must still
 * fire, or a writer that waits for it (the uploader) stalls.  16 MiB first
 * grow the socket's buffers, then a timer writes 64 KiB pieces until a
 * write leaves the queue empty, and stops writing.
 */
#define IF_WARM		(16u << 20)
#define IF_PIECE	65536u

struct inner {
	struct rawserver *rs;
	struct rs_conn *cli;
	size_t written, got, burst_end;
	int phase;		/* 0 warm-up, 1 burst written, 2 done */
	int bursts, drained, flushed_after, lost;
};

static void
if_stop(void *ctx)
{
	rs_stop(((struct inner *)ctx)->rs);
}

static void
if_burst(void *ctx)
{
	struct inner *t = ctx;
	static uint8_t buf[IF_PIECE];

	t->bursts++;
	for (int i = 0; i < 64; i++) {
		rs_write(t->cli, buf, sizeof(buf));
		t->written += sizeof(buf);
		if (rs_conn_queued(t->cli) == 0) {
			t->drained++;
			break;
		}
	}
	t->burst_end = t->written;
	t->flushed_after = 0;
	t->phase = 1;
}

static void
if_flushed(void *ctx, struct rs_conn *c)
{
	struct inner *t = ctx;
	static uint8_t buf[IF_PIECE];

	if (t->phase == 1) {
		t->flushed_after++;
		return;
	}
	while (t->phase == 0 && t->written < IF_WARM &&
	    rs_conn_queued(c) < 4 * IF_PIECE) {
		rs_write(c, buf, sizeof(buf));
		t->written += sizeof(buf);
	}
}

static void
if_made(void *ctx, struct rs_conn *c)
{
	((struct inner *)ctx)->cli = c;
	if_flushed(ctx, c);
}

static void
if_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	struct inner *t = ctx;

	(void)c;
	(void)p;
	t->got += n;
	if (t->phase == 0 && t->got == IF_WARM)
		rs_add_task(t->rs, 20, if_burst, t);
	else if (t->phase == 1 && t->got == t->burst_end) {
		/* Until a burst drains inside its write, try again. */
		if (t->drained == 0 && t->bursts < 10)
			rs_add_task(t->rs, 20, if_burst, t);
		else
			rs_add_task(t->rs, 200, if_stop, t);
	}
}

static void
if_lost(void *ctx, struct rs_conn *c, int err)
{
	(void)c;
	(void)err;
	((struct inner *)ctx)->lost++;
}

static void
test_flushed_after_inner_drain(void)
{
	static const struct rs_handler srv_h = { NULL, if_data, if_lost, NULL };
	static const struct rs_handler cli_h = { if_made, if_data, if_lost,
	    if_flushed };
	struct rawserver *rs = new_rs_default();
	struct inner t = { .rs = rs };
	int port = rs_listen(rs, "127.0.0.1", 0, 0, &srv_h, &t, NULL);

	CHECK(port > 0);
	CHECK(connect_to(rs, AF_INET, port, &cli_h, &t) != NULL);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(t.got, t.written);
	CHECK_INT_EQ(t.lost, 0);
	/* The case under test happened, and then `flushed` came once. */
	CHECK_INT_EQ(t.drained, 1);
	CHECK_INT_EQ(t.flushed_after, 1);
	printf("inner drain: after %d burst(s), flushed %d time(s)\n",
	    t.bursts, t.flushed_after);
	rs_free(rs);
}

/*
 * Writing before the connect completes, and the pread() fallback of
 * rs_write_file: /proc/self/cmdline refuses sendfile() with EINVAL.  The
 * first range waits in the queue on a dup() (its fd is closed at once);
 * the second goes out from `flushed` through the write-through path.
 */
struct early {
	struct rawserver *rs;
	uint8_t cmd[4096];
	size_t cmdlen;
	uint8_t expect[16384], got[16384];
	size_t expect_len, got_len;
	int made, flushed;
};

static void
early_add(struct early *e, const void *p, size_t n)
{
	memcpy(e->expect + e->expect_len, p, n);
	e->expect_len += n;
}

static void
early_made(void *ctx, struct rs_conn *c)
{
	struct early *e = ctx;

	e->made++;
	CHECK(!rs_conn_is_flushed(c));
}

static void
early_flushed(void *ctx, struct rs_conn *c)
{
	struct early *e = ctx;
	int fd = open("/proc/self/cmdline", O_RDONLY);

	if (e->flushed++ > 0)
		return;
	rs_write_file(c, fd, 0, e->cmdlen);
	close(fd);
	rs_write(c, "end", 3);
}

static void
early_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	struct early *e = ctx;

	(void)c;
	if (e->got_len + n <= sizeof(e->got))
		memcpy(e->got + e->got_len, p, n);
	e->got_len += n;
	if (e->got_len >= e->expect_len)
		rs_stop(e->rs);
}

static void
test_write_early_and_fallback(void)
{
	static const struct rs_handler cli_h = { early_made, early_data,
	    wf_srv_lost, early_flushed };
	static const struct rs_handler srv_h = { NULL, early_data,
	    wf_srv_lost, NULL };
	struct rawserver *rs = new_rs_default();
	struct early *e = calloc(1, sizeof(*e));
	struct rs_conn *c;
	int fd = open("/proc/self/cmdline", O_RDONLY);
	ssize_t n = fd >= 0 ? pread(fd, e->cmd, sizeof(e->cmd), 0) : -1;
	int port;

	CHECK(n > 0);
	if (n <= 0) {
		free(e);
		rs_free(rs);
		return;
	}
	e->rs = rs;
	e->cmdlen = (size_t)n;
	CHECK_INT_EQ(rs_set_bind(rs, "bogus"), -EINVAL);
	CHECK_OK(rs_set_bind(rs, "127.0.0.1"));
	CHECK_INT_EQ(rs_set_bind(rs, "::x"), -EINVAL);	/* keeps 127.0.0.1 */
	port = rs_listen(rs, "127.0.0.1", 0, 0, &srv_h, e, NULL);
	c = connect_to(rs, AF_INET, port, &cli_h, e);
	CHECK(c != NULL);
	rs_write(c, "early", 5);
	early_add(e, "early", 5);
	rs_write_file(c, fd, 0, e->cmdlen);
	early_add(e, e->cmd, e->cmdlen);
	close(fd);
	early_add(e, e->cmd, e->cmdlen);	/* sent from early_flushed */
	early_add(e, "end", 3);
	CHECK_INT_EQ(rs_conn_queued(c), 5 + e->cmdlen);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(e->made, 1);
	CHECK(e->flushed >= 1);
	CHECK_INT_EQ(e->got_len, e->expect_len);
	CHECK(e->got_len == e->expect_len &&
	    memcmp(e->got, e->expect, e->expect_len) == 0);
	free(e);
	rs_free(rs);
}

/*
 * Deferred close.  Three clients each get one byte in the same poll pass;
 * the first data callback closes all three clients and the server side of
 * one of them.  No other client data callback may follow, and every lost
 * runs exactly once (each one also tries rs_close/rs_write again).
 */
struct dc {
	struct rawserver *rs;
	struct rs_conn *cli[3];
	struct rs_conn *srv[3];
	int nsrv;
	int cli_data, cli_lost[3], cli_lost_err[3];
	int srv_lost, srv_lost_err_nonzero;
	bool closing_ok;
	int stop_after;
};

static rs_conn_fn dc_srv_made;
static rs_data_fn dc_cli_data, dc_srv_data;
static rs_lost_fn dc_cli_lost, dc_srv_lost;

static const struct rs_handler dc_srv_h = { dc_srv_made, dc_srv_data,
    dc_srv_lost, NULL };
static const struct rs_handler dc_cli_h = { NULL, dc_cli_data, dc_cli_lost,
    NULL };

static void
dc_srv_made(void *ctx, struct rs_conn *c)
{
	struct dc *d = ctx;

	d->srv[d->nsrv++] = c;
	if (d->nsrv == 3)
		for (int i = 0; i < 3; i++)
			rs_write(d->srv[i], "x", 1);
}

static void
dc_srv_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	(void)ctx;
	(void)c;
	(void)p;
	(void)n;
}

static void
dc_cli_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	struct dc *d = ctx;

	(void)p;
	(void)n;
	d->cli_data++;
	for (int i = 0; i < 3; i++)
		rs_close(d->cli[i]);
	rs_close(c);
	rs_close(d->srv[1]);
	d->closing_ok = rs_conn_is_closing(c) && rs_conn_is_closing(d->srv[1]);
	rs_write(c, "more", 4);		/* a no-op now */
}

static void
dc_cli_lost(void *ctx, struct rs_conn *c, int err)
{
	struct dc *d = ctx;

	for (int i = 0; i < 3; i++) {
		if (d->cli[i] == c) {
			d->cli_lost[i]++;
			d->cli_lost_err[i] = err;
		}
	}
	rs_close(c);
	rs_write(c, "x", 1);
}

static void
dc_srv_lost(void *ctx, struct rs_conn *c, int err)
{
	struct dc *d = ctx;

	(void)c;
	d->srv_lost++;
	if (err != 0)
		d->srv_lost_err_nonzero++;
	if (d->srv_lost == 3)
		rs_stop(d->rs);
}

static void
test_deferred_close(void)
{
	struct rawserver *rs = new_rs_default();
	struct dc d = { .rs = rs };
	int port = rs_listen(rs, NULL, 0, 0, &dc_srv_h, &d, NULL);

	for (int i = 0; i < 3; i++) {
		d.cli[i] = connect_to(rs, AF_INET, port, &dc_cli_h, &d);
		CHECK(d.cli[i] != NULL);
	}
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(d.cli_data, 1);
	CHECK(d.closing_ok);
	for (int i = 0; i < 3; i++) {
		CHECK_INT_EQ(d.cli_lost[i], 1);
		CHECK_INT_EQ(d.cli_lost_err[i], 0);
	}
	CHECK_INT_EQ(d.srv_lost, 3);
	CHECK_INT_EQ(rs_num_conns(rs), 0);
	rs_free(rs);
}

/*
 * Closing inside `made`, on both ends: the first client writes and closes
 * its connection as soon as it connects; then the server closes a second
 * connection on accept.
 */
struct cm {
	struct rawserver *rs;
	int made, data, lost, lost_err;
	int srv_made, srv_data, srv_lost;
	int done, stop_at;
};

static void
cm_done(struct cm *m)
{
	if (++m->done == m->stop_at)
		rs_stop(m->rs);
}

static void
cm_made(void *ctx, struct rs_conn *c)
{
	struct cm *m = ctx;

	m->made++;
	rs_write(c, "hello", 5);
	rs_close(c);
	rs_write(c, "more", 4);
}

static void
cm_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	(void)c;
	(void)p;
	(void)n;
	((struct cm *)ctx)->data++;
}

static void
cm_lost(void *ctx, struct rs_conn *c, int err)
{
	struct cm *m = ctx;

	(void)c;
	m->lost++;
	m->lost_err = err;
	cm_done(m);
}

static void
cm_srv_made(void *ctx, struct rs_conn *c)
{
	struct cm *m = ctx;

	if (++m->srv_made == 2)
		rs_close(c);
}

static void
cm_srv_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	(void)c;
	(void)p;
	((struct cm *)ctx)->srv_data += (int)n;
}

static void
cm_srv_lost(void *ctx, struct rs_conn *c, int err)
{
	struct cm *m = ctx;

	(void)c;
	(void)err;
	m->srv_lost++;
	cm_done(m);
}

static void
cm_cli2_lost(void *ctx, struct rs_conn *c, int err)
{
	(void)c;
	(void)err;
	cm_done(ctx);
}

static void
test_close_in_made(void)
{
	static const struct rs_handler cli_h = { cm_made, cm_data, cm_lost,
	    NULL };
	static const struct rs_handler srv_h = { cm_srv_made, cm_srv_data,
	    cm_srv_lost, NULL };
	static const struct rs_handler cli2_h = { NULL, cm_data,
	    cm_cli2_lost, NULL };
	struct rawserver *rs = new_rs_default();
	struct cm m = { .rs = rs, .stop_at = 2 };
	int port = rs_listen(rs, "127.0.0.1", 0, 0, &srv_h, &m, NULL);

	CHECK(connect_to(rs, AF_INET, port, &cli_h, &m) != NULL);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(m.made, 1);
	CHECK_INT_EQ(m.lost, 1);
	CHECK_INT_EQ(m.lost_err, 0);
	CHECK_INT_EQ(m.srv_made, 1);
	CHECK_INT_EQ(m.srv_data, 5);	/* written before the close */
	CHECK_INT_EQ(m.srv_lost, 1);

	m.stop_at = 4;
	CHECK(connect_to(rs, AF_INET, port, &cli2_h, &m) != NULL);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(m.srv_made, 2);
	CHECK_INT_EQ(m.srv_lost, 2);
	CHECK_INT_EQ(m.done, 4);
	CHECK_INT_EQ(m.data, 0);
	rs_free(rs);
}

/*
 * Failing connects: refused by a closed port, and timed out against a
 * listener whose accept queue is full (Linux drops the SYNs).
 */
struct cf {
	struct rawserver *rs;
	int made, lost, lost_err, timeouts;
	int want;
};

static void
cf_made(void *ctx, struct rs_conn *c)
{
	struct cf *f = ctx;

	(void)c;
	f->made++;
	if (f->made + f->lost == f->want)
		rs_stop(f->rs);
}

static void
cf_lost(void *ctx, struct rs_conn *c, int err)
{
	struct cf *f = ctx;

	(void)c;
	f->lost++;
	f->lost_err = err;
	if (err == -ETIMEDOUT)
		f->timeouts++;
	if (f->made + f->lost == f->want)
		rs_stop(f->rs);
}

static const struct rs_handler cf_h = { cf_made, NULL, cf_lost, NULL };

static void
test_connect_refused(void)
{
	struct rawserver *rs = new_rs_default();
	struct cf f = { .rs = rs, .want = 1 };
	struct rs_conn *c;
	int port, fd = raw_listener(AF_INET, 0, 1, &port);

	close(fd);
	c = connect_to(rs, AF_INET, port, &cf_h, &f);
	if (c == NULL) {
		CHECK_INT_EQ(errno, ECONNREFUSED);
	} else {
		CHECK_INT_EQ(rs_num_conns(rs), 1);
		CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
		CHECK_INT_EQ(f.made, 0);
		CHECK_INT_EQ(f.lost, 1);
		CHECK_INT_EQ(f.lost_err, -ECONNREFUSED);
	}
	rs_free(rs);
}

/*
 * With backlog 0 the listener's accept queue holds one connection; once it
 * is there, further SYNs are dropped and those connects can only time out.
 */
static void
test_connect_timeout(void)
{
	struct rawserver *rs = new_rs(300000, 60000, 200, 0);
	struct cf f = { .rs = rs, .want = 1 };
	struct sockaddr_in far;
	struct rs_conn *c;
	int port, fd = raw_listener(AF_INET, 0, 0, &port);
	uint64_t t0;

	CHECK(fd >= 0);
	CHECK(connect_to(rs, AF_INET, port, &cf_h, &f) != NULL);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(f.made, 1);
	t0 = mono_ms();
	f.want = 4;
	for (int i = 0; i < 3; i++)
		CHECK(connect_to(rs, AF_INET, port, &cf_h, &f) != NULL);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(f.made + f.lost, 4);
	CHECK_INT_EQ(f.timeouts, f.lost);
	CHECK(f.timeouts >= 1);
	CHECK(mono_ms() - t0 >= 200);
	rs_free(rs);

	/* No connect timer: the idle scan ends the pending connect. */
	rs = new_rs(200, 50, 0, 0);
	f = (struct cf){ .rs = rs, .want = 1 };
	t0 = mono_ms();
	CHECK(connect_to(rs, AF_INET, port, &cf_h, &f) != NULL);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(f.made, 0);
	CHECK_INT_EQ(f.timeouts, 1);
	CHECK(mono_ms() - t0 >= 200);
	close(fd);
	rs_free(rs);

	/* A non-routable address: sandboxes may refuse or even accept it. */
	rs = new_rs(300000, 60000, 200, 0);
	f = (struct cf){ .rs = rs, .want = 1 };
	memset(&far, 0, sizeof(far));
	far.sin_family = AF_INET;
	far.sin_port = htons(9);
	inet_pton(AF_INET, "10.255.255.1", &far.sin_addr);
	c = rs_connect(rs, (const struct sockaddr *)&far, sizeof(far), &cf_h,
	    &f);
	if (c != NULL) {
		CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
		CHECK_INT_EQ(f.made + f.lost, 1);
		printf("10.255.255.1: %s\n", f.made ? "connected (proxied?)" :
		    f.lost_err == -ETIMEDOUT ? "timed out" :
		    strerror(-f.lost_err));
	} else {
		printf("10.255.255.1: refused at once: %s\n", strerror(errno));
	}
	rs_free(rs);
}

/*
 * Idle timeout: the client sends a byte every 20 ms and hears nothing, so
 * only the client side is idle; it must be closed with -ETIMEDOUT after
 * about timeout_ms, and the server then sees an orderly end.
 */
struct idle {
	struct rawserver *rs;
	struct rs_conn *cli;
	int cli_lost, cli_err, srv_lost, srv_err;
	uint64_t t0, t_lost;
};

static void
idle_tick(void *ctx)
{
	struct idle *d = ctx;

	if (d->cli == NULL)
		return;
	rs_write(d->cli, "k", 1);
	rs_add_task(d->rs, 20, idle_tick, d);
}

static void
idle_cli_made(void *ctx, struct rs_conn *c)
{
	struct idle *d = ctx;

	d->cli = c;
	d->t0 = rs_now_ms(d->rs);
	idle_tick(d);
}

static void
idle_cli_lost(void *ctx, struct rs_conn *c, int err)
{
	struct idle *d = ctx;

	(void)c;
	d->cli = NULL;
	d->cli_lost++;
	d->cli_err = err;
	d->t_lost = rs_now_ms(d->rs);
}

static void
idle_srv_lost(void *ctx, struct rs_conn *c, int err)
{
	struct idle *d = ctx;

	(void)c;
	d->srv_lost++;
	d->srv_err = err;
	rs_stop(d->rs);
}

static void
idle_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	(void)ctx;
	(void)c;
	(void)p;
	(void)n;
}

static void
test_idle_timeout(void)
{
	static const struct rs_handler cli_h = { idle_cli_made, idle_data,
	    idle_cli_lost, NULL };
	static const struct rs_handler srv_h = { NULL, idle_data,
	    idle_srv_lost, NULL };
	struct rawserver *rs = new_rs(150, 25, 15000, 0);
	struct idle d = { .rs = rs };
	int port = rs_listen(rs, NULL, 0, 0, &srv_h, &d, NULL);

	CHECK(connect_to(rs, AF_INET, port, &cli_h, &d) != NULL);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(d.cli_lost, 1);
	CHECK_INT_EQ(d.cli_err, -ETIMEDOUT);
	CHECK_INT_EQ(d.srv_lost, 1);
	CHECK_INT_EQ(d.srv_err, 0);
	CHECK(d.t_lost - d.t0 >= 150);
	CHECK(d.t_lost - d.t0 < 1000);
	rs_free(rs);
}

/*
 * max_conns counts every connection: with 4 outgoing and a cap of 6, two
 * accepts fit and the other two are closed at once.
 */
struct mc {
	struct rawserver *rs;
	int cli_made, cli_lost, srv_made;
};

static void
mc_cli_made(void *ctx, struct rs_conn *c)
{
	(void)c;
	((struct mc *)ctx)->cli_made++;
}

static void
mc_cli_lost(void *ctx, struct rs_conn *c, int err)
{
	(void)c;
	(void)err;
	((struct mc *)ctx)->cli_lost++;
}

static void
mc_srv_made(void *ctx, struct rs_conn *c)
{
	(void)c;
	((struct mc *)ctx)->srv_made++;
}

static void
test_max_conns(void)
{
	static const struct rs_handler cli_h = { mc_cli_made, idle_data,
	    mc_cli_lost, NULL };
	static const struct rs_handler srv_h = { mc_srv_made, idle_data,
	    mc_cli_lost, NULL };
	struct rawserver *rs = new_rs(300000, 60000, 15000, 6);
	struct mc m = { .rs = rs };
	int port = rs_listen(rs, NULL, 0, 0, &srv_h, &m, NULL);

	for (int i = 0; i < 4; i++)
		CHECK(connect_to(rs, AF_INET, port, &cli_h, &m) != NULL);
	rs_add_task(rs, 300, stop_task, rs);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(m.srv_made, 2);
	CHECK_INT_EQ(m.cli_lost, 2);
	CHECK_INT_EQ(rs_num_conns(rs), 4);
	rs_free(rs);
}

/*
 * rs_config.tcp_congestion: both ends of a connection the reactor made to
 * itself use the congestion control named, and with "" the system's
 * default.  The reactor's sockets are found among this process's fds by
 * their ports.
 */
struct cc {
	struct rawserver *rs;
	int made;
};

static void
cc_made(void *ctx, struct rs_conn *c)
{
	struct cc *k = ctx;

	(void)c;
	if (++k->made == 2)
		rs_stop(k->rs);
}

static int
sin_port(const struct sockaddr_storage *ss)
{
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* How many connected TCP sockets on `port` (either end) use `name`; the
 * total of such sockets in *all. */
static int
count_cc(int port, const char *name, int *all)
{
	int n = 0;

	*all = 0;
	for (int fd = 3; fd < 1024; fd++) {
		struct sockaddr_storage me, peer;
		socklen_t ml = sizeof(me), pl = sizeof(peer);
		char got[16] = "";
		socklen_t gl = sizeof(got) - 1;

		if (getsockname(fd, (struct sockaddr *)&me, &ml) < 0 ||
		    getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 ||
		    me.ss_family != AF_INET || peer.ss_family != AF_INET ||
		    (sin_port(&me) != port && sin_port(&peer) != port))
			continue;
		(*all)++;
		if (getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, got, &gl) == 0 &&
		    strcmp(got, name) == 0)
			n++;
	}
	return n;
}

/* Connect the reactor to itself with congestion control `name`; how many
 * of the 2 sockets use `expect`. */
static int
cc_run(const char *name, const char *expect)
{
	static const struct rs_handler h = { cc_made, idle_data, NULL, NULL };
	struct rs_config cfg = RS_CONFIG_DEFAULT;
	struct rawserver *rs;
	struct cc k = { 0 };
	int port, n, all;

	cfg.close_on_signal = false;
	snprintf(cfg.tcp_congestion, sizeof(cfg.tcp_congestion), "%s", name);
	rs = rs_new(&cfg);
	k.rs = rs;
	port = rs_listen(rs, "127.0.0.1", 0, 0, &h, &k, NULL);
	CHECK(port > 0);
	CHECK(connect_to(rs, AF_INET, port, &h, &k) != NULL);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(k.made, 2);
	n = count_cc(port, expect, &all);
	CHECK_INT_EQ(all, 2);
	rs_free(rs);
	return n;
}

static void
test_congestion(void)
{
	static const char *const names[] = { "reno", "cubic", "bbr" };
	char def[16] = "";
	const char *other = NULL;
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_congestion_control", "r");

	CHECK_INT_EQ(rs_check_congestion("no-such-cc"), -ENOENT);
	if (f == NULL || fscanf(f, "%15s", def) != 1) {
		if (f != NULL)
			fclose(f);
		printf("no /proc/sys/net/ipv4/tcp_congestion_control: "
		    "congestion control test skipped\n");
		return;
	}
	fclose(f);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i], def) != 0 &&
		    rs_check_congestion(names[i]) == 0) {
			other = names[i];
			break;
		}
	CHECK_INT_EQ(cc_run("", def), 2);
	if (other == NULL) {
		printf("no congestion control but %s allowed: "
		    "setting one not tested\n", def);
		return;
	}
	CHECK_INT_EQ(cc_run(other, other), 2);
}

/*
 * A paused connection whose peer resets: POLLHUP cannot be masked, so the
 * reactor must park it rather than spin; on resume the bytes that arrived
 * before the reset are delivered, then the loss.
 */
struct park {
	struct rawserver *rs;
	struct rs_conn *c;
	size_t got;
	int made, lost, lost_err;
};

static void
park_made(void *ctx, struct rs_conn *c)
{
	struct park *k = ctx;

	k->made++;
	k->c = c;
	rs_conn_pause_read(c, true);
	rs_stop(k->rs);
}

static void
park_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	(void)c;
	(void)p;
	((struct park *)ctx)->got += n;
}

static void
park_lost(void *ctx, struct rs_conn *c, int err)
{
	struct park *k = ctx;

	(void)c;
	k->lost++;
	k->lost_err = err;
	rs_stop(k->rs);
}

static void
test_paused_hangup(void)
{
	static const struct rs_handler h = { park_made, park_data, park_lost,
	    NULL };
	struct rawserver *rs = new_rs_default();
	struct park k = { .rs = rs };
	struct linger lg = { 1, 0 };
	int port, fd = raw_listener(AF_INET, 0, 4, &port), afd;
	clock_t cpu;

	CHECK(connect_to(rs, AF_INET, port, &h, &k) != NULL);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(k.made, 1);
	afd = accept(fd, NULL, NULL);
	CHECK(afd >= 0);
	CHECK_INT_EQ(write(afd, "hello", 5), 5);
	setsockopt(afd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(afd);		/* RST */
	cpu = clock();
	rs_add_task(rs, 150, stop_task, rs);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	cpu = clock() - cpu;
	CHECK(cpu < CLOCKS_PER_SEC / 20);	/* no busy loop while paused */
	CHECK_INT_EQ(k.got, 0);
	CHECK_INT_EQ(k.lost, 0);
	rs_conn_pause_read(k.c, false);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(k.got, 5);
	CHECK_INT_EQ(k.lost, 1);
	CHECK(k.lost_err == -ECONNRESET || k.lost_err == 0);
	close(fd);
	rs_free(rs);
}

/*
 * Many connections: 200 clients each send 1000 bytes, the server echoes,
 * and each client closes when its bytes are back.  Closing in random order
 * churns the pollfd array's swap-remove bookkeeping.
 */
#define MANY 200

struct many {
	struct rawserver *rs;
	size_t got[MANY];
	int idx[MANY];
	int lost, srv_lost, bad;
};

static struct many *many_state;

static void
many_cli_made(void *ctx, struct rs_conn *c)
{
	int i = *(int *)ctx;
	uint8_t msg[1000];

	for (int k = 0; k < 1000; k++)
		msg[k] = (uint8_t)(i + k);
	rs_write(c, msg, sizeof(msg));
}

static void
many_cli_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	int i = *(int *)ctx;
	struct many *m = many_state;

	for (size_t k = 0; k < n; k++)
		if (p[k] != (uint8_t)(i + (int)(m->got[i] + k)))
			m->bad++;
	m->got[i] += n;
	if (m->got[i] == 1000)
		rs_close(c);
}

static void
many_cli_lost(void *ctx, struct rs_conn *c, int err)
{
	(void)ctx;
	(void)c;
	if (err != 0)
		many_state->bad++;
	many_state->lost++;
}

static void
many_srv_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	(void)ctx;
	rs_write(c, p, n);
}

static void
many_srv_lost(void *ctx, struct rs_conn *c, int err)
{
	struct many *m = ctx;

	(void)c;
	(void)err;
	if (++m->srv_lost == MANY)
		rs_stop(m->rs);
}

static void
test_many_conns(void)
{
	static const struct rs_handler cli_h = { many_cli_made, many_cli_data,
	    many_cli_lost, NULL };
	static const struct rs_handler srv_h = { NULL, many_srv_data,
	    many_srv_lost, NULL };
	struct rawserver *rs = new_rs_default();
	struct many *m = calloc(1, sizeof(*m));
	int port = rs_listen(rs, NULL, 0, 0, &srv_h, m, NULL);

	m->rs = rs;
	many_state = m;
	for (int i = 0; i < MANY; i++) {
		m->idx[i] = i;
		CHECK(connect_to(rs, i % 2 && have_v6 ? AF_INET6 : AF_INET,
		    port, &cli_h, &m->idx[i]) != NULL);
	}
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(m->lost, MANY);
	CHECK_INT_EQ(m->srv_lost, MANY);
	CHECK_INT_EQ(m->bad, 0);
	CHECK_INT_EQ(rs_num_conns(rs), 0);
	free(m);
	rs_free(rs);
}

/*
 * UDP: a ping from one socket, a pong back to the sender's address; the
 * answering socket closes itself inside its own callback.
 */
struct udp {
	struct rawserver *rs;
	struct rs_udp *a, *b;
	int a_got, b_got;
	bool from_loopback;
};

static void
udp_b_fn(void *ctx, struct rs_udp *u, const struct sockaddr *from,
    socklen_t fromlen, const uint8_t *p, size_t n)
{
	struct udp *x = ctx;

	x->b_got++;
	CHECK(n == 4 && memcmp(p, "ping", 4) == 0);
	if (from->sa_family == AF_INET)
		x->from_loopback = ((const struct sockaddr_in *)from)->
		    sin_addr.s_addr == htonl(INADDR_LOOPBACK);
	else
		x->from_loopback = memcmp(&((const struct sockaddr_in6 *)
		    from)->sin6_addr, &in6addr_loopback, 16) == 0;
	CHECK_OK(rs_udp_send(u, from, fromlen, "pong", 4));
	rs_udp_close(u);
	x->b = NULL;
}

static void
udp_a_fn(void *ctx, struct rs_udp *u, const struct sockaddr *from,
    socklen_t fromlen, const uint8_t *p, size_t n)
{
	struct udp *x = ctx;

	(void)u;
	(void)from;
	(void)fromlen;
	x->a_got++;
	CHECK(n == 4 && memcmp(p, "pong", 4) == 0);
	rs_stop(x->rs);
}

static void
udp_run(int family)
{
	struct rawserver *rs = new_rs_default();
	struct udp x = { .rs = rs };
	struct sockaddr_storage ss;
	socklen_t len;
	int port;

	x.a = rs_udp_open(rs, family, udp_a_fn, &x);
	x.b = rs_udp_open(rs, family, udp_b_fn, &x);
	CHECK(x.a != NULL && x.b != NULL);
	if (x.a == NULL || x.b == NULL) {
		rs_free(rs);
		return;
	}
	port = rs_udp_port(x.b);
	CHECK(port > 0);
	len = loop_addr(family, port, &ss);
	CHECK_OK(rs_udp_send(x.a, (const struct sockaddr *)&ss, len, "ping",
	    4));
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(x.b_got, 1);
	CHECK_INT_EQ(x.a_got, 1);
	CHECK(x.from_loopback);
	CHECK(x.b == NULL);
	rs_udp_close(x.a);
	rs_free(rs);
}

static void
test_udp(void)
{
	udp_run(AF_INET);
	if (have_v6)
		udp_run(AF_INET6);
	else
		printf("::1 unavailable: IPv6 UDP skipped\n");
}

/*
 * rs_watch_fd on a pipe: a byte, then the writer's end closes and the
 * hangup arrives; the callback unwatches itself.
 */
struct watch {
	struct rawserver *rs;
	int p[2];
	int calls, bytes;
	bool hup;
};

static void
watch_fn(void *ctx, int fd, short revents)
{
	struct watch *w = ctx;
	char c;
	ssize_t n = read(fd, &c, 1);

	(void)revents;
	w->calls++;
	if (n == 1 && c == 'x') {
		w->bytes++;
		close(w->p[1]);
		w->p[1] = -1;
	} else if (n == 0) {
		w->hup = true;
		rs_unwatch_fd(w->rs, fd);
		rs_add_task(w->rs, 20, stop_task, w->rs);
	}
}

static void
test_watch_fd(void)
{
	struct rawserver *rs = new_rs_default();
	struct watch w = { .rs = rs };

	CHECK_OK(pipe(w.p));
	CHECK_INT_EQ(write(w.p[1], "x", 1), 1);
	CHECK_OK(rs_watch_fd(rs, w.p[0], watch_fn, &w));
	CHECK_INT_EQ(rs_watch_fd(rs, w.p[0], watch_fn, &w), -EEXIST);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), 0);
	CHECK_INT_EQ(w.bytes, 1);
	CHECK(w.hup);
	CHECK_INT_EQ(w.calls, 2);	/* nothing after the unwatch */
	close(w.p[0]);
	/* A watch still in place is dropped by rs_free (fd not closed). */
	CHECK_OK(pipe(w.p));
	CHECK_OK(rs_watch_fd(rs, w.p[0], watch_fn, &w));
	rs_free(rs);
	CHECK_INT_EQ(write(w.p[1], "y", 1), 1);
	close(w.p[0]);
	close(w.p[1]);
}

/*
 * Signals.
 */

static volatile sig_atomic_t custom_hits;

static void
custom_handler(int sig)
{
	(void)sig;
	custom_hits++;
}

static void
raise_term(void *ctx)
{
	(void)ctx;
	kill(getpid(), SIGTERM);
}

static void
test_signals(void)
{
	struct rs_config cfg = RS_CONFIG_DEFAULT;
	struct sigaction sa, cur;
	struct rawserver *rs;
	uint64_t t0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = custom_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);

	rs = rs_new(&cfg);
	CHECK(rs != NULL);
	rs_add_task(rs, 10, raise_term, NULL);
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), SIGTERM);
	CHECK_INT_EQ(custom_hits, 0);
	/* A signal that arrives outside rs_run() is not lost. */
	CHECK_INT_EQ(rs_pending_signal(rs), 0);
	raise(SIGINT);
	CHECK_INT_EQ(rs_pending_signal(rs), SIGINT);
	t0 = mono_ms();
	CHECK_INT_EQ(run_bounded(rs, SAFETY_MS), SIGINT);
	CHECK(mono_ms() - t0 < 1000);
	/* SIGPIPE is ignored, so writing to a dead pipe just fails. */
	{
		int p[2];

		CHECK_OK(pipe(p));
		close(p[0]);
		CHECK(write(p[1], "x", 1) < 0 && errno == EPIPE);
		close(p[1]);
	}
	rs_free(rs);

	/* The previous handler is back. */
	sigaction(SIGTERM, NULL, &cur);
	CHECK(cur.sa_handler == custom_handler);
	raise(SIGTERM);
	CHECK_INT_EQ(custom_hits, 1);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTERM, &sa, NULL);
}

static bool
probe_v6(void)
{
	struct sockaddr_storage ss;
	socklen_t len = loop_addr(AF_INET6, 0, &ss);
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = bind(fd, (struct sockaddr *)&ss, len) == 0;
	close(fd);
	return ok;
}

int
main(void)
{
	have_v6 = probe_v6();
	if (!have_v6)
		printf("note: ::1 is not usable here; IPv6 cases skipped\n");
	CHECK_RUN(test_timer_order, test_timer_ties, test_timer_cancel,
	    test_timer_periodic_and_stop, test_listen_ports, test_echo_v4,
	    test_echo_v6, test_write_file, test_write_blocks,
	    test_flushed_after_inner_drain, test_write_early_and_fallback,
	    test_deferred_close,
	    test_close_in_made, test_connect_refused, test_connect_timeout,
	    test_idle_timeout, test_max_conns, test_congestion,
	    test_paused_hangup,
	    test_many_conns, test_udp,
	    test_watch_fd, test_signals);
}

#include "rerequester.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "bterr.h"
#include "btformats.h"
#include "bytes.h"
#include "check.h"
#include "fake_tracker.h"
#include "rawserver.h"
#include "resolver.h"

static const uint8_t hash20[20] = {
	0x00, 0x01, 0x02, 0x0a, 0x1f, 0x20, 0x41, 0x7e, 0x7f, 0x80,
	0xff, 0x2d, 0x2e, 0x5f, 0x2f, 0x3f, 0x26, 0x3d, 0x25, 0x2b
};
static const char peer_id[21] = "-BT0001-abcdefghijkl";

/* ---- Pure helpers ---- */

static void
test_quote(void)
{
	char buf[64], small[5];

	CHECK_INT_EQ(rr_quote(buf, sizeof(buf), "AZaz09-._~", 10), 10);
	CHECK_STR_EQ(buf, "AZaz09-._~");
	CHECK_INT_EQ(rr_quote(buf, sizeof(buf), "a b/\xc3\xa9%", 7), 17);
	CHECK_STR_EQ(buf, "a%20b%2F%C3%A9%25");
	CHECK_INT_EQ(rr_quote(buf, sizeof(buf), "\0\n", 2), 6);
	CHECK_STR_EQ(buf, "%00%0A");
	CHECK_INT_EQ(rr_quote(small, sizeof(small), "a b", 3), 5);
	CHECK_STR_EQ(small, "a%20");
}

static void
fill_args(struct rr_announce_args *a)
{
	memset(a, 0, sizeof(*a));
	a->info_hash = hash20;
	a->peer_id = (const uint8_t *)peer_id;
	a->port = 6881;
	a->uploaded = 1;
	a->downloaded = 22;
	a->left = 12345678901234ULL;
	a->numwant = 50;
	a->key = "0a1b2c3d";
}

#define HASH_Q "%00%01%02%0A%1F%20A~%7F%80%FF-._%2F%3F%26%3D%25%2B"

static void
test_mask_url(void)
{
	char buf[256], tiny[12];

	CHECK_STR_EQ(rr_mask_url(buf, sizeof(buf),
	    "http://t.example:6969/announce?passkey=0123abcd&x=1"),
	    "http://t.example:6969/announce?***");
	CHECK_STR_EQ(rr_mask_url(buf, sizeof(buf),
	    "https://t.example/0123456789abcdef0123/announce"),
	    "https://t.example/***/announce");
	CHECK_STR_EQ(rr_mask_url(buf, sizeof(buf),
	    "http://t.example/announce.php#frag"),
	    "http://t.example/announce.php");
	/* The host is never masked; short segments stay. */
	CHECK_STR_EQ(rr_mask_url(buf, sizeof(buf),
	    "http://averyveryverylonghostname/a/b?"),
	    "http://averyveryverylonghostname/a/b?***");
	CHECK_STR_EQ(rr_mask_url(buf, sizeof(buf), "udp://t.example:80"),
	    "udp://t.example:80");
	CHECK_STR_EQ(rr_mask_url(buf, sizeof(buf), "/x?\x01"), "/x?***");
	CHECK_STR_EQ(rr_mask_url(buf, sizeof(buf), "http://h/\x01"),
	    "http://h/\\x01");
	CHECK(strlen(rr_mask_url(tiny, sizeof(tiny),
	    "http://t.example/announce?k=v")) < sizeof(tiny));
}

static void
test_build_url(void)
{
	struct rr_announce_args a;
	char url[1024], tiny[60];

	fill_args(&a);
	CHECK_OK(rr_build_url(url, sizeof(url), "http://t.example/announce",
	    &a));
	CHECK_STR_EQ(url, "http://t.example/announce?info_hash=" HASH_Q
	    "&peer_id=-BT0001-abcdefghijkl&port=6881&uploaded=1"
	    "&downloaded=22&left=12345678901234&compact=1&numwant=50"
	    "&key=0a1b2c3d");
	a.trackerid = (const uint8_t *)"id 1";
	a.trackerid_len = 4;
	a.event = RR_EVENT_STARTED;
	a.ip = "10.0.0.1";
	a.numwant = 0;
	CHECK_OK(rr_build_url(url, sizeof(url),
	    "http://t.example/a?passkey=x#frag", &a));
	CHECK_STR_EQ(url, "http://t.example/a?passkey=x&info_hash=" HASH_Q
	    "&peer_id=-BT0001-abcdefghijkl&port=6881&uploaded=1"
	    "&downloaded=22&left=12345678901234&compact=1&numwant=0"
	    "&key=0a1b2c3d&trackerid=id%201&event=started&ip=10.0.0.1");
	a.event = RR_EVENT_COMPLETED;
	a.trackerid = NULL;
	a.ip = "";
	CHECK_OK(rr_build_url(url, sizeof(url), "http://t/", &a));
	CHECK(strstr(url, "&key=0a1b2c3d&event=completed") != NULL);
	CHECK(strstr(url, "&ip=") == NULL);
	a.event = RR_EVENT_STOPPED;
	CHECK_OK(rr_build_url(url, sizeof(url), "http://t/", &a));
	CHECK(strstr(url, "&event=stopped") != NULL);
	CHECK_INT_EQ(rr_build_url(tiny, sizeof(tiny), "http://t/", &a),
	    -ENAMETOOLONG);
}

static void
test_backoff_and_clamp(void)
{
	static const uint64_t want[] = {
		15000, 30000, 60000, 120000, 240000, 480000, 960000,
		1800000, 1800000
	};

	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_INT_EQ(rr_backoff_ms(15000, 1800000, i + 1), want[i]);
	CHECK_INT_EQ(rr_backoff_ms(15000, 1800000, 100000), 1800000);
	CHECK_INT_EQ(rr_backoff_ms(100, 1000, 4), 800);
	CHECK_INT_EQ(rr_clamp_interval_ms(0), 30000);
	CHECK_INT_EQ(rr_clamp_interval_ms(-5), 30000);
	CHECK_INT_EQ(rr_clamp_interval_ms(1800), 1800000);
	CHECK_INT_EQ(rr_clamp_interval_ms(1000000000000LL), 7200000);
	CHECK_INT_EQ(rr_clamp_interval_ms(INT64_MAX), 7200000);
}

static void
test_shuffle_promote(void)
{
	size_t o[4] = { 0, 1, 2, 3 };
	unsigned seen[6] = { 0 };
	uint64_t rng = 42;

	rr_promote(o, 4, 2);
	CHECK(o[0] == 2 && o[1] == 0 && o[2] == 1 && o[3] == 3);
	rr_promote(o, 4, 0);
	CHECK(o[0] == 2 && o[1] == 0 && o[2] == 1 && o[3] == 3);
	rr_promote(o, 4, 3);
	CHECK(o[0] == 3 && o[1] == 2 && o[2] == 0 && o[3] == 1);
	rr_promote(o, 4, 9);
	CHECK(o[0] == 3);
	/* Every permutation of three shows up, and each is a permutation. */
	for (int i = 0; i < 600; i++) {
		size_t p[3] = { 0, 1, 2 };

		rr_shuffle(p, 3, &rng);
		CHECK_INT_EQ(p[0] + p[1] + p[2], 3);
		CHECK(p[0] != p[1] && p[1] != p[2] && p[0] != p[2]);
		seen[p[0] * 2 + (p[1] > p[2])]++;
	}
	for (int i = 0; i < 6; i++)
		CHECK(seen[i] > 50);
	rr_shuffle(o, 0, &rng);
	rr_shuffle(o, 1, &rng);
}

/* ---- Over the reactor ---- */

struct t {
	struct rawserver *rs;
	struct resolver *res;
	struct rerequester *rr;
	const char *mode;		/* what the HTTP fake answers */
	struct fake_http *f;
	int port;
	unsigned npeers_calls;
	size_t npeers;
	struct btf_peer peer0;
	unsigned nerrors;
	char err[512];
	size_t conns;
	bool stop_on_peers;
	bool stop_on_error;
	bool done;
	char path[4096];		/* last request target */
};

static void
send_str(struct fake_http_conn *hc, const char *s)
{
	fake_http_send(hc, s, strlen(s));
}

/* A 200 reply with a literal body (which may hold NUL bytes). */
#define REPLY(hc, lit) fake_http_reply((hc), 200, (lit), sizeof(lit) - 1)

#define COMPACT2 "d8:intervali1800e5:peers12:\x7f\x00\x00\x01\x1a\xe1" \
	"\x0a\x00\x00\x02\x00\x50" "e"

#define CHUNK2 "18\r\ne5:peers12:\x7f\x00\x00\x01\x1a\xe1" \
	"\x0a\x00\x00\x02\x00\x50" "e\r\n0\r\n\r\n"

static void
serve(void *ctx, struct fake_http_conn *hc, const char *path)
{
	struct t *t = ctx;
	const char *m = t->mode;

	snprintf(t->path, sizeof(t->path), "%s", path);
	if (strcmp(m, "ok") == 0) {
		REPLY(hc, COMPACT2);
	} else if (strcmp(m, "fail") == 0) {
		REPLY(hc, "d14:failure reason7:go awaye");
	} else if (strcmp(m, "warn") == 0) {
		REPLY(hc, "d8:intervali1e5:peers0:15:warning message"
		    "4:hmm\ne");
	} else if (strcmp(m, "garbage") == 0) {
		REPLY(hc, "<html>hello</html>");
	} else if (strcmp(m, "odd-peers") == 0) {
		REPLY(hc, "d8:intervali1800e5:peers7:abcdefge");
	} else if (strcmp(m, "min-interval") == 0) {
		REPLY(hc, "d8:intervali1800e12:min intervali900e5:peers0:e");
	} else if (strcmp(m, "zero-interval") == 0) {
		REPLY(hc, "d8:intervali0e12:min intervali0e5:peers6:"
		    "\x7f\x00\x00\x01\x1a\xe1" "e");
	} else if (strcmp(m, "huge-interval") == 0) {
		REPLY(hc, "d8:intervali1000000000000e5:peers6:"
		    "\x7f\x00\x00\x01\x1a\xe1" "e");
	} else if (strcmp(m, "loop") == 0) {
		send_str(hc, "HTTP/1.1 302 Found\r\nLocation: /loop\r\n"
		    "Content-Length: 0\r\n\r\n");
		fake_http_end(hc);
	} else if (strcmp(m, "big") == 0) {
		send_str(hc, "HTTP/1.0 200 OK\r\n\r\n");
		fake_http_stream(hc, 10 * 1024 * 1024);
		fake_http_end(hc);
	} else if (strcmp(m, "chunked") == 0) {
		send_str(hc, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		    "\r\n10\r\nd8:intervali1800\r\n");
		fake_http_send(hc, CHUNK2, sizeof(CHUNK2) - 1);
		fake_http_end(hc);
	} else if (strcmp(m, "close") == 0) {
		send_str(hc, "HTTP/1.0 200 OK\r\n\r\n");
		fake_http_send(hc, COMPACT2, sizeof(COMPACT2) - 1);
		fake_http_end(hc);
	} else if (strcmp(m, "404") == 0) {
		fake_http_reply(hc, 404, "not found", 9);
	}
	/* "silent": no answer */
}

static void
on_peers(void *ctx, const struct btf_peer *peers, size_t n)
{
	struct t *t = ctx;

	t->npeers_calls++;
	t->npeers = n;
	t->peer0 = peers[0];
	if (t->stop_on_peers)
		rs_stop(t->rs);
}

static void
on_stats(void *ctx, uint64_t *up, uint64_t *down, uint64_t *left)
{
	(void)ctx;
	*up = 1;
	*down = 22;
	*left = 333;
}

static size_t
on_conns(void *ctx)
{
	return ((struct t *)ctx)->conns;
}

static void
on_error(void *ctx, const char *msg)
{
	struct t *t = ctx;

	t->nerrors++;
	snprintf(t->err, sizeof(t->err), "%s", msg);
	if (t->stop_on_error)
		rs_stop(t->rs);
}

static const struct rr_callbacks callbacks = {
	on_peers, on_stats, on_conns, NULL, on_error
};

static void
stop_task(void *ctx)
{
	rs_stop(ctx);
}

static void
run_for(struct t *t, uint64_t ms)
{
	uint64_t id = rs_add_task(t->rs, ms, stop_task, t->rs);

	rs_run(t->rs);
	rs_cancel_task(t->rs, id);
}

static void
test_cfg(struct rr_config *cfg)
{
	rr_config_init(cfg);
	memcpy(cfg->info_hash, hash20, 20);
	memcpy(cfg->peer_id, peer_id, 20);
	cfg->port = 6881;
	memcpy(cfg->key, "0a1b2c3d", 9);
	cfg->seed = 7;
	cfg->min_peers = 0;		/* no need-based announces */
	cfg->retry_min_ms = 100;
	cfg->retry_max_ms = 400;
	cfg->http_timeout_ms = 2000;
	cfg->udp_timeout_ms = 100;
}

static void
t_init(struct t *t, const char *mode)
{
	struct rs_config rcfg = RS_CONFIG_DEFAULT;

	memset(t, 0, sizeof(*t));
	rcfg.close_on_signal = false;
	t->rs = rs_new(&rcfg);
	t->res = res_new(t->rs);
	t->mode = mode;
	t->f = fake_http_new(t->rs, serve, t);
	CHECK(t->f != NULL);
	t->port = t->f != NULL ? fake_http_port(t->f) : 1;
}

/* A rerequester on the fake with one tier holding `url` (%d: port). */
static void
t_start(struct t *t, const char *url_fmt, const struct rr_config *cfg)
{
	char url[256];
	struct rr_config def;

	if (cfg == NULL) {
		test_cfg(&def);
		cfg = &def;
	}
	snprintf(url, sizeof(url), url_fmt, t->port);
	t->rr = rr_new(t->rs, t->res, cfg, url, NULL, 0, &callbacks, t, NULL);
	CHECK(t->rr != NULL);
	rr_begin(t->rr);
}

static void
t_release(struct t *t)
{
	rr_free(t->rr);
	res_free(t->res);
	rs_free(t->rs);
	fake_http_free(t->f);
}

static void
test_http_ok(void)
{
	struct t t;
	char want[512];
	const struct sockaddr_in *sin = (const void *)&t.peer0.addr;

	t_init(&t, "ok");
	t.stop_on_peers = true;
	t_start(&t, "http://127.0.0.1:%d/announce", NULL);
	CHECK_INT_EQ(fake_http_nrequests(t.f), 0);
	run_for(&t, 5000);
	CHECK_INT_EQ(t.npeers_calls, 1);
	CHECK_INT_EQ(t.npeers, 2);
	CHECK_INT_EQ(t.peer0.addr.ss_family, AF_INET);
	CHECK_INT_EQ(ntohs(sin->sin_port), 6881);
	CHECK_INT_EQ(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	CHECK_INT_EQ(t.nerrors, 0);
	snprintf(want, sizeof(want), "%s", "/announce?info_hash=" HASH_Q
	    "&peer_id=-BT0001-abcdefghijkl&port=6881&uploaded=1"
	    "&downloaded=22&left=333&compact=1&numwant=50&key=0a1b2c3d"
	    "&event=started");
	CHECK_STR_EQ(t.path, want);
	/* No need-based announces with min_peers 0: one request only. */
	t.stop_on_peers = false;
	run_for(&t, 300);
	CHECK_INT_EQ(fake_http_nrequests(t.f), 1);
	/* Completed goes out once, then nothing more. */
	rr_completed(t.rr);
	run_for(&t, 300);
	CHECK_INT_EQ(fake_http_nrequests(t.f), 2);
	CHECK(strstr(t.path, "&event=completed") != NULL);
	/* A plain announce; numwant 0 when we have enough connections. */
	t.conns = 35;
	rr_announce_now(t.rr);
	run_for(&t, 300);
	CHECK_INT_EQ(fake_http_nrequests(t.f), 3);
	CHECK(strstr(t.path, "&numwant=0&key=0a1b2c3d") != NULL);
	CHECK(strstr(t.path, "event=") == NULL);
	t_release(&t);
}

static void
test_http_bodies(void)
{
	static const char *const modes[] = { "chunked", "close" };

	for (size_t i = 0; i < 2; i++) {
		struct t t;

		t_init(&t, modes[i]);
		t.stop_on_peers = true;
		t_start(&t, "http://127.0.0.1:%d/a", NULL);
		run_for(&t, 5000);
		CHECK_INT_EQ(t.npeers_calls, 1);
		CHECK_INT_EQ(t.npeers, 2);
		CHECK_INT_EQ(t.nerrors, 0);
		t_release(&t);
	}
}

/* One round against mode; returns the first error shown. */
static void
expect_error(const char *mode, const char *want, bool prefix_only)
{
	struct t t;

	t_init(&t, mode);
	t.stop_on_error = true;
	t_start(&t, "http://127.0.0.1:%d/announce", NULL);
	run_for(&t, 5000);
	CHECK_INT_EQ(t.nerrors, 1);
	CHECK_INT_EQ(t.npeers_calls, 0);
	if (prefix_only)
		CHECK(strncmp(t.err, want, strlen(want)) == 0);
	else
		CHECK_STR_EQ(t.err, want);
	if (strncmp(t.err, want, strlen(want)) != 0)
		fprintf(stderr, "  got: %s\n", t.err);
	t_release(&t);
}

static void
test_http_errors(void)
{
	expect_error("fail", "rejected by tracker - go away", false);
	expect_error("garbage", "bad data from tracker - ", true);
	expect_error("odd-peers", "bad data from tracker - ", true);
	expect_error("loop", "problem connecting to tracker - too many "
	    "redirects", false);
	expect_error("big", "problem connecting to tracker - reply too large",
	    false);
	expect_error("404", "problem connecting to tracker - http status 404",
	    false);
}

static void
test_http_https(void)
{
	struct t t;

	t_init(&t, "ok");
	t.stop_on_error = true;
	t_start(&t, "https://127.0.0.1:%d/announce", NULL);
	run_for(&t, 5000);
	CHECK_STR_EQ(t.err, "problem connecting to tracker - https trackers "
	    "are not supported");
	t_release(&t);
}

static void
test_warning_and_escaping(void)
{
	struct t t;

	t_init(&t, "warn");
	t_start(&t, "http://127.0.0.1:%d/announce", NULL);
	run_for(&t, 500);
	CHECK_INT_EQ(t.nerrors, 1);
	CHECK_STR_EQ(t.err, "warning from tracker - hmm\\x0a");
	t_release(&t);
}

static void
test_backoff_and_quiet_repeats(void)
{
	struct t t;
	unsigned n;

	/* Back-off 100, 200, 400, 400 ms: about 5 tries in 1.2 s. */
	t_init(&t, "fail");
	t_start(&t, "http://127.0.0.1:%d/announce", NULL);
	run_for(&t, 1200);
	n = fake_http_nrequests(t.f);
	CHECK(n >= 3 && n <= 7);
	CHECK_INT_EQ(t.nerrors, 1);
	/* Every retry is event=started until one succeeds. */
	CHECK(strstr(t.path, "&event=started") != NULL);
	/* Recovery: the next round succeeds and resets the back-off. */
	t.mode = "ok";
	t.stop_on_peers = true;
	run_for(&t, 2000);
	CHECK_INT_EQ(t.npeers_calls, 1);
	/* A new failure after a success is shown again. */
	t.mode = "fail";
	t.stop_on_peers = false;
	t.stop_on_error = true;
	rr_announce_now(t.rr);
	run_for(&t, 2000);
	CHECK_INT_EQ(t.nerrors, 2);
	t_release(&t);
}

/* A rerequester on mode, short of peers (3 connections), run for ms. */
static void
t_run_short(struct t *t, const char *mode, const struct rr_config *cfg,
    uint64_t ms)
{
	t_init(t, mode);
	t->conns = 3;
	t_start(t, "http://127.0.0.1:%d/announce", cfg);
	run_for(t, ms);
}

static void
test_hostile_interval(void)
{
	struct t t;
	struct rr_config cfg;

	/* A huge interval is clamped; nothing loops or overflows. */
	test_cfg(&cfg);
	cfg.interval_ms = 50;
	t_init(&t, "huge-interval");
	t_start(&t, "http://127.0.0.1:%d/announce", &cfg);
	run_for(&t, 500);
	CHECK_INT_EQ(fake_http_nrequests(t.f), 1);
	CHECK_INT_EQ(t.npeers_calls, 1);
	t_release(&t);

	/*
	 * interval 0 and min interval 0 are accepted, the peers delivered,
	 * and both raised to RR_MIN_INTERVAL_S: short of peers, with a
	 * need-check every 50 ms, nothing is announced again in 500 ms.
	 */
	cfg.min_peers = 20;
	t_run_short(&t, "zero-interval", &cfg, 500);
	CHECK_INT_EQ(fake_http_nrequests(t.f), 1);
	CHECK_INT_EQ(t.npeers_calls, 1);
	CHECK_INT_EQ(t.npeers, 1);
	CHECK_INT_EQ(t.nerrors, 0);
	t_release(&t);
}

static void
test_need_based(void)
{
	struct t t;
	struct rr_config cfg;
	unsigned n;

	/* Few connections: announce at every need-check (here 100 ms). */
	test_cfg(&cfg);
	cfg.interval_ms = 100;
	cfg.min_peers = 20;
	t_run_short(&t, "ok", &cfg, 550);
	n = fake_http_nrequests(t.f);
	CHECK(n >= 3 && n <= 7);
	/* Enough connections: the checks stop announcing. */
	t.conns = 25;
	run_for(&t, 150);
	n = fake_http_nrequests(t.f);
	run_for(&t, 400);
	CHECK_INT_EQ(fake_http_nrequests(t.f), n);
	t_release(&t);
}

/*
 * The tracker's `min interval` (900 s here) holds need-based announces
 * back, unless the user set a shorter need-check period on purpose; then
 * that period paces them, and only while we are short of peers.
 */
static void
test_min_interval(void)
{
	struct t t;
	struct rr_config cfg;
	unsigned n;

	test_cfg(&cfg);
	cfg.interval_ms = 100;
	cfg.min_peers = 20;
	t_run_short(&t, "min-interval", &cfg, 550);
	CHECK_INT_EQ(fake_http_nrequests(t.f), 1);
	CHECK_INT_EQ(t.nerrors, 0);
	t_release(&t);

	cfg.interval_explicit = true;
	t_run_short(&t, "min-interval", &cfg, 550);
	/* One at start, then one per 100 ms tick at most. */
	n = fake_http_nrequests(t.f);
	CHECK(n >= 3 && n <= 6);
	CHECK(strstr(t.path, "event=") == NULL);
	/* Enough peers: min interval rules again. */
	t.conns = 25;
	run_for(&t, 150);
	n = fake_http_nrequests(t.f);
	run_for(&t, 400);
	CHECK_INT_EQ(fake_http_nrequests(t.f), n);
	t_release(&t);

	/* A period longer than min interval changes nothing. */
	cfg.interval_ms = 2000;
	t_run_short(&t, "min-interval", &cfg, 550);
	CHECK_INT_EQ(fake_http_nrequests(t.f), 1);
	t_release(&t);
}

static void
on_stopped(void *ctx)
{
	struct t *t = ctx;

	t->done = true;
	rr_free(t->rr);
	t->rr = NULL;
	rs_stop(t->rs);
}

static void
test_stop(void)
{
	struct t t;
	uint64_t t0;

	t_init(&t, "ok");
	t.stop_on_peers = true;
	t_start(&t, "http://127.0.0.1:%d/announce", NULL);
	run_for(&t, 5000);
	rr_stop(t.rr, on_stopped, &t, 3000);
	CHECK(!t.done);
	run_for(&t, 5000);
	CHECK(t.done);
	CHECK_INT_EQ(fake_http_nrequests(t.f), 2);
	CHECK(strstr(t.path, "&event=stopped") != NULL);
	t_release(&t);

	/* A tracker that does not answer: done after the stop timeout. */
	t_init(&t, "ok");
	t.stop_on_peers = true;
	t_start(&t, "http://127.0.0.1:%d/announce", NULL);
	run_for(&t, 5000);
	t.mode = "silent";
	t0 = rs_now_ms(t.rs);
	rr_stop(t.rr, on_stopped, &t, 300);
	run_for(&t, 5000);
	CHECK(t.done);
	CHECK(rs_now_ms(t.rs) - t0 < 2000);
	t_release(&t);

	/* Never announced: done at once, nothing sent. */
	t_init(&t, "ok");
	t_start(&t, "http://127.0.0.1:%d/announce", NULL);
	rr_stop(t.rr, on_stopped, &t, 3000);
	run_for(&t, 5000);
	CHECK(t.done);
	CHECK_INT_EQ(fake_http_nrequests(t.f), 0);
	t_release(&t);
}

/* ---- Multitracker ---- */

static void
test_tiers(void)
{
	struct t t;
	struct fake_http *f2;
	struct t t2 = { 0 };
	char u1[64], u2[64], u3[64];
	char *tier0[2] = { u1, u2 }, *tier1[1] = { u3 };
	struct btf_tier tiers[2] = { { tier0, 2 }, { tier1, 1 } };
	struct rr_config cfg;
	unsigned n1, n2;

	test_cfg(&cfg);
	t_init(&t, "fail");
	t2.mode = "ok";
	t2.rs = t.rs;
	f2 = fake_http_new(t.rs, serve, &t2);
	CHECK(f2 != NULL);
	/* Tier 0: a failing tracker and a dead port; tier 1: a good one. */
	snprintf(u1, sizeof(u1), "http://127.0.0.1:%d/a", t.port);
	snprintf(u2, sizeof(u2), "http://127.0.0.1:1/dead");
	snprintf(u3, sizeof(u3), "http://127.0.0.1:%d/b", fake_http_port(f2));
	t.rr = rr_new(t.rs, t.res, &cfg, "http://ignored/", tiers, 2,
	    &callbacks, &t, NULL);
	t.stop_on_peers = true;
	rr_begin(t.rr);
	run_for(&t, 5000);
	CHECK_INT_EQ(t.npeers_calls, 1);
	CHECK_INT_EQ(t.nerrors, 2);
	CHECK_INT_EQ(fake_http_nrequests(t.f), 1);
	CHECK_INT_EQ(fake_http_nrequests(f2), 1);
	/* Tier 0 is tried again first on the next announce (BEP 12). */
	rr_announce_now(t.rr);
	run_for(&t, 5000);
	CHECK_INT_EQ(fake_http_nrequests(t.f), 2);
	CHECK_INT_EQ(fake_http_nrequests(f2), 2);
	CHECK_INT_EQ(t.nerrors, 2);
	rr_free(t.rr);
	t.rr = NULL;

	/* Within a tier, the one that answered moves to the front. */
	snprintf(u2, sizeof(u2), "http://127.0.0.1:%d/b", fake_http_port(f2));
	tiers[0].nurls = 2;
	t.rr = rr_new(t.rs, t.res, &cfg, NULL, tiers, 1, &callbacks, &t, NULL);
	rr_begin(t.rr);
	run_for(&t, 5000);
	n1 = fake_http_nrequests(t.f);
	n2 = fake_http_nrequests(f2);
	for (int i = 0; i < 3; i++) {
		rr_announce_now(t.rr);
		run_for(&t, 5000);
	}
	CHECK_INT_EQ(fake_http_nrequests(t.f), n1);
	CHECK_INT_EQ(fake_http_nrequests(f2), n2 + 3);
	t_release(&t);
	fake_http_free(f2);
}

static void
test_no_tracker(void)
{
	struct rr_config cfg;
	struct bt_err e = BT_ERR_INIT;
	char e0[1] = "";
	char *empty[1] = { e0 };
	struct btf_tier tier = { empty, 1 };

	test_cfg(&cfg);
	CHECK(rr_new(NULL, NULL, &cfg, NULL, NULL, 0, &callbacks, NULL, &e) ==
	    NULL);
	CHECK_STR_EQ(e.msg, "no tracker to announce to");
	CHECK(rr_new(NULL, NULL, &cfg, "", &tier, 1, &callbacks, NULL, &e) ==
	    NULL);
	rr_free(NULL);
}

/* ---- UDP trackers (BEP 15) ---- */

struct udp_fake {
	struct rs_udp *u;
	const char *mode;
	unsigned nconnect, nannounce;
	bool lied;
	uint32_t event, numwant, key;
	uint16_t port;
	bool v6;
};

static void
udp_serve(void *ctx, struct rs_udp *u, const struct sockaddr *from,
    socklen_t fromlen, const uint8_t *p, size_t n)
{
	struct udp_fake *f = ctx;
	uint8_t out[200];
	size_t olen;
	uint32_t tid;

	if (n < 16)
		return;
	tid = be32_get(p + 12);
	if (strcmp(f->mode, "silent") == 0)
		return;
	if (strcmp(f->mode, "badtid") == 0 && !f->lied) {
		f->lied = true;
		tid++;
	}
	if (strcmp(f->mode, "short") == 0 && !f->lied) {
		f->lied = true;
		rs_udp_send(u, from, fromlen, "\0\0\0", 3);
		return;
	}
	be32_put(out + 4, tid);
	if (strcmp(f->mode, "error") == 0) {
		be32_put(out, 3);
		memcpy(out + 8, "banned\n", 7);
		olen = 15;
	} else if (strcmp(f->mode, "error-empty") == 0) {
		be32_put(out, 3);
		out[8] = '\0';		/* a NUL is no reason either */
		olen = 9;
	} else if (be64_get(p) == UINT64_C(0x41727101980) &&
	    be32_get(p + 8) == 0) {
		f->nconnect++;
		be32_put(out, 0);
		be64_put(out + 8, UINT64_C(0x1122334455667788));
		olen = 16;
	} else if (n == 98 && be64_get(p) == UINT64_C(0x1122334455667788) &&
	    be32_get(p + 8) == 1) {
		f->nannounce++;
		f->event = be32_get(p + 80);
		f->key = be32_get(p + 88);
		f->numwant = be32_get(p + 92);
		f->port = be16_get(p + 96);
		be32_put(out, 1);
		be32_put(out + 8, 1800);
		be32_put(out + 12, 5);
		be32_put(out + 16, 7);
		olen = 20;
		if (strcmp(f->mode, "short-announce") == 0) {
			olen = 12;
		} else if (strcmp(f->mode, "empty-announce") == 0) {
			olen = 8;	/* opentracker: torrent not served */
		} else if (f->v6) {
			memset(out + 20, 0, 16);
			out[35] = 1;
			be16_put(out + 36, 6881);
			olen = 38;
		} else {
			memcpy(out + 20, "\x7f\x00\x00\x01\x1a\xe1"
			    "\x0a\x00\x00\x02\x00\x50\x01", 13);
			olen = 33;	/* two peers and a stray byte */
		}
	} else {
		return;
	}
	rs_udp_send(u, from, fromlen, out, olen);
}

static bool
udp_start(struct t *t, struct udp_fake *f, const char *mode, bool v6)
{
	char url[128];
	struct rr_config cfg;
	int port;

	memset(f, 0, sizeof(*f));
	f->mode = mode;
	f->v6 = v6;
	f->u = rs_udp_open(t->rs, v6 ? AF_INET6 : AF_INET, udp_serve, f);
	if (f->u == NULL)
		return false;
	port = rs_udp_port(f->u);
	snprintf(url, sizeof(url), v6 ? "udp://[::1]:%d/announce" :
	    "udp://127.0.0.1:%d/announce", port);
	test_cfg(&cfg);
	t->rr = rr_new(t->rs, t->res, &cfg, url, NULL, 0, &callbacks, t,
	    NULL);
	rr_begin(t->rr);
	return true;
}

static void
test_udp_ok(void)
{
	struct t t;
	struct udp_fake f;

	t_init(&t, "ok");
	t.stop_on_peers = true;
	CHECK(udp_start(&t, &f, "ok", false));
	run_for(&t, 5000);
	CHECK_INT_EQ(t.npeers_calls, 1);
	CHECK_INT_EQ(t.npeers, 2);
	CHECK_INT_EQ(t.nerrors, 0);
	CHECK_INT_EQ(f.nconnect, 1);
	CHECK_INT_EQ(f.nannounce, 1);
	CHECK_INT_EQ(f.event, RR_EVENT_STARTED);
	CHECK_INT_EQ(f.key, 0x0a1b2c3d);
	CHECK_INT_EQ(f.numwant, 50);
	CHECK_INT_EQ(f.port, 6881);
	/* The connection id is reused within a minute. */
	rr_completed(t.rr);
	run_for(&t, 300);
	CHECK_INT_EQ(f.nconnect, 1);
	CHECK_INT_EQ(f.nannounce, 2);
	CHECK_INT_EQ(f.event, RR_EVENT_COMPLETED);
	/* Stopped goes over UDP too. */
	rr_stop(t.rr, on_stopped, &t, 3000);
	run_for(&t, 5000);
	CHECK(t.done);
	CHECK_INT_EQ(f.event, RR_EVENT_STOPPED);
	rs_udp_close(f.u);
	t_release(&t);
}

static void
test_udp_v6(void)
{
	struct t t;
	struct udp_fake f;

	t_init(&t, "ok");
	t.stop_on_peers = true;
	if (!udp_start(&t, &f, "ok", true)) {
		fprintf(stderr, "  (no IPv6 UDP here; skipped)\n");
		t_release(&t);
		return;
	}
	run_for(&t, 3000);
	if (t.npeers_calls == 1) {
		CHECK_INT_EQ(t.npeers, 1);
		CHECK_INT_EQ(t.peer0.addr.ss_family, AF_INET6);
	} else {
		fprintf(stderr, "  (IPv6 loopback unusable; skipped)\n");
	}
	rs_udp_close(f.u);
	t_release(&t);
}

static void
test_udp_bad(void)
{
	static const struct {
		const char *mode, *err;
	} fails[] = {
		{ "error", "rejected by tracker - banned\\x0a" },
		{ "short-announce",
		    "bad data from tracker - short udp announce reply" },
		{ "empty-announce", "rejected by tracker - (no reason given: "
		    "empty udp announce reply)" },
		{ "error-empty", "rejected by tracker - (no reason given)" },
		{ "silent", "problem connecting to tracker - timed out" },
	};
	struct t t;
	struct udp_fake f;

	/* A wrong transaction id is ignored; the retransmit gets through. */
	t_init(&t, "ok");
	t.stop_on_peers = true;
	CHECK(udp_start(&t, &f, "badtid", false));
	run_for(&t, 5000);
	CHECK_INT_EQ(t.npeers_calls, 1);
	CHECK_INT_EQ(t.nerrors, 0);
	CHECK_INT_EQ(f.nconnect, 2);
	rs_udp_close(f.u);
	t_release(&t);

	/* So is a packet too short to hold one. */
	t_init(&t, "ok");
	t.stop_on_peers = true;
	CHECK(udp_start(&t, &f, "short", false));
	run_for(&t, 5000);
	CHECK_INT_EQ(t.npeers_calls, 1);
	CHECK_INT_EQ(t.nerrors, 0);
	rs_udp_close(f.u);
	t_release(&t);

	/*
	 * Replies that end the announce, and what the user is told.  Refusals
	 * without a text say so; no answer at all is 100 + 200 + 400 ms of
	 * retransmissions, then the error.
	 */
	for (size_t k = 0; k < sizeof(fails) / sizeof(fails[0]); k++) {
		t_init(&t, "ok");
		t.stop_on_error = true;
		CHECK(udp_start(&t, &f, fails[k].mode, false));
		run_for(&t, 5000);
		CHECK_STR_EQ(t.err, fails[k].err);
		rs_udp_close(f.u);
		t_release(&t);
	}
}

static void
test_udp_parse(void)
{
	static const uint8_t empty[8] = { 0, 0, 0, 1, 0, 0, 0x56, 0x78 };
	static const uint8_t err0[8] = { 0, 0, 0, 3, 0, 0, 0x56, 0x78 };
	struct rr_udp_msg m;
	struct bt_err e = BT_ERR_INIT;

	CHECK_INT_EQ(rr_udp_parse(empty, 8, false, &m, &e), -ENODATA);
	CHECK_STR_EQ(e.msg, "empty udp announce reply");
	CHECK_INT_EQ(m.action, RR_UDP_ACT_ANNOUNCE);
	CHECK_INT_EQ(m.tid, 0x5678);
	rr_udp_msg_release(&m);
	CHECK_INT_EQ(rr_udp_parse(empty, 9, false, &m, &e), -EILSEQ);
	CHECK_STR_EQ(e.msg, "short udp announce reply");
	rr_udp_msg_release(&m);
	CHECK_OK(rr_udp_parse(err0, 8, false, &m, &e));
	CHECK_INT_EQ(m.action, RR_UDP_ACT_ERROR);
	CHECK_INT_EQ(m.textlen, 0);
	rr_udp_msg_release(&m);
}

/* A UDP port of 127.0.0.1 (or ::1) that nothing listens on, or -1. */
static int
dead_udp_port(struct rawserver *rs, int family)
{
	struct rs_udp *u = rs_udp_open(rs, family, NULL, NULL);
	int port;

	if (u == NULL)
		return -1;
	port = rs_udp_port(u);
	rs_udp_close(u);
	return port;
}

/*
 * A UDP tracker that is down: the connected socket hears the ICMP port
 * unreachable, so it is reported at once, not after 15 + 30 + 60 s of
 * retransmissions (here the first would wait 5 s), and the next tracker
 * is tried at once.
 */
static void
test_udp_down(void)
{
	struct t t;
	struct udp_fake f;
	struct rr_config cfg;
	char u1[64], u2[64];
	char *tier0[1] = { u1 }, *tier1[1] = { u2 };
	struct btf_tier tiers[2] = { { tier0, 1 }, { tier1, 1 } };
	uint64_t t0;
	int port;

	test_cfg(&cfg);
	cfg.udp_timeout_ms = 5000;
	cfg.retry_min_ms = 5000;
	t_init(&t, "ok");
	t.stop_on_error = true;
	port = dead_udp_port(t.rs, AF_INET);
	CHECK(port > 0);
	snprintf(u1, sizeof(u1), "udp://127.0.0.1:%d/announce", port);
	t.rr = rr_new(t.rs, t.res, &cfg, u1, NULL, 0, &callbacks, &t, NULL);
	t0 = rs_now_ms(t.rs);
	rr_begin(t.rr);
	run_for(&t, 4000);
	CHECK_STR_EQ(t.err, "problem connecting to tracker - connection "
	    "refused");
	CHECK(rs_now_ms(t.rs) - t0 < 1000);
	t_release(&t);

	/* Fall through to the next tier's tracker at once. */
	t_init(&t, "ok");
	t.stop_on_peers = true;
	memset(&f, 0, sizeof(f));
	f.mode = "ok";
	f.u = rs_udp_open(t.rs, AF_INET, udp_serve, &f);
	CHECK(f.u != NULL);
	snprintf(u2, sizeof(u2), "udp://127.0.0.1:%d/announce",
	    rs_udp_port(f.u));
	t.rr = rr_new(t.rs, t.res, &cfg, NULL, tiers, 2, &callbacks, &t,
	    NULL);
	t0 = rs_now_ms(t.rs);
	rr_begin(t.rr);
	run_for(&t, 4000);
	CHECK_INT_EQ(t.npeers_calls, 1);
	CHECK_INT_EQ(t.nerrors, 1);
	CHECK_INT_EQ(f.nannounce, 1);
	CHECK(rs_now_ms(t.rs) - t0 < 1000);
	/* The next round tries the dead one first again: one report only. */
	t.stop_on_peers = false;
	rr_announce_now(t.rr);
	run_for(&t, 500);
	CHECK_INT_EQ(f.nannounce, 2);
	CHECK_INT_EQ(t.nerrors, 1);
	rs_udp_close(f.u);
	t_release(&t);

	/* The same over IPv6, where the host has it. */
	t_init(&t, "ok");
	t.stop_on_error = true;
	port = dead_udp_port(t.rs, AF_INET6);
	if (port > 0) {
		snprintf(u1, sizeof(u1), "udp://[::1]:%d/announce", port);
		t.rr = rr_new(t.rs, t.res, &cfg, u1, NULL, 0, &callbacks, &t,
		    NULL);
		t0 = rs_now_ms(t.rs);
		rr_begin(t.rr);
		run_for(&t, 4000);
		CHECK_STR_EQ(t.err, "problem connecting to tracker - "
		    "connection refused");
		CHECK(rs_now_ms(t.rs) - t0 < 1000);
	} else {
		fprintf(stderr, "  (no IPv6 UDP here; skipped)\n");
	}
	t_release(&t);
}

int
main(void)
{
	CHECK_RUN(test_quote, test_mask_url, test_build_url, test_backoff_and_clamp,
	    test_shuffle_promote, test_http_ok, test_http_bodies,
	    test_http_errors, test_http_https, test_warning_and_escaping,
	    test_backoff_and_quiet_repeats, test_hostile_interval,
	    test_need_based, test_min_interval, test_stop, test_tiers,
	    test_no_tracker, test_udp_ok, test_udp_v6, test_udp_bad,
	    test_udp_parse, test_udp_down);
}

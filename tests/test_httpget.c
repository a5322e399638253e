#include "httpget.h"

#include <errno.h>
#include <stdbool.h>

#include "bterr.h"
#include "check.h"
#include "fake_tracker.h"
#include "rawserver.h"
#include "resolver.h"

/* ---- Pure parsers ---- */

static void
test_parse_url(void)
{
	struct hg_url u;
	struct bt_err e = BT_ERR_INIT;

	CHECK_OK(hg_parse_url("http://tracker.example.com:6969/announce", &u,
	    &e));
	CHECK_INT_EQ(u.scheme, HG_SCHEME_HTTP);
	CHECK_STR_EQ(u.host, "tracker.example.com");
	CHECK_INT_EQ(u.port, 6969);
	CHECK_STR_EQ(u.path, "/announce");
	CHECK_OK(hg_parse_url("HTTP://H/a?b=c#frag", &u, &e));
	CHECK_STR_EQ(u.host, "H");
	CHECK_INT_EQ(u.port, 80);
	CHECK_STR_EQ(u.path, "/a?b=c");
	CHECK_OK(hg_parse_url("http://[::1]:8080/x", &u, &e));
	CHECK_STR_EQ(u.host, "::1");
	CHECK_INT_EQ(u.port, 8080);
	CHECK_OK(hg_parse_url("http://[fe80::1]/", &u, &e));
	CHECK_STR_EQ(u.host, "fe80::1");
	CHECK_OK(hg_parse_url("http://h", &u, &e));
	CHECK_STR_EQ(u.path, "/");
	CHECK_OK(hg_parse_url("http://h?x=1", &u, &e));
	CHECK_STR_EQ(u.path, "/?x=1");
	CHECK_OK(hg_parse_url("https://h/a", &u, &e));
	CHECK_INT_EQ(u.scheme, HG_SCHEME_HTTPS);
	CHECK_INT_EQ(u.port, 443);
	CHECK_OK(hg_parse_url("udp://tracker.example:1337/announce", &u, &e));
	CHECK_INT_EQ(u.scheme, HG_SCHEME_UDP);
	CHECK_INT_EQ(u.port, 1337);
	CHECK_INT_EQ(hg_parse_url("udp://tracker.example/", &u, &e), -EINVAL);
	CHECK_INT_EQ(hg_parse_url("ftp://h/", &u, &e), -EINVAL);
	CHECK_STR_EQ(e.msg, "bad url: unsupported scheme");
	CHECK_INT_EQ(hg_parse_url("http://", &u, &e), -EINVAL);
	CHECK_INT_EQ(hg_parse_url("http://h:0/", &u, &e), -EINVAL);
	CHECK_INT_EQ(hg_parse_url("http://h:65536/", &u, &e), -EINVAL);
	CHECK_INT_EQ(hg_parse_url("http://h:12a/", &u, &e), -EINVAL);
	CHECK_INT_EQ(hg_parse_url("http://h:/", &u, &e), -EINVAL);
	CHECK_INT_EQ(hg_parse_url("http://u:p@h/", &u, &e), -EINVAL);
	CHECK_INT_EQ(hg_parse_url("http://h/a b", &u, &e), -EINVAL);
	CHECK_INT_EQ(hg_parse_url("http://h/a\r\nX: y", &u, &e), -EINVAL);
	CHECK_INT_EQ(hg_parse_url("http://[::1/", &u, &e), -EINVAL);
	CHECK_INT_EQ(hg_parse_url("http://[::1]x/", &u, &e), -EINVAL);
	CHECK_INT_EQ(hg_parse_url("http://h\xc3\xa9/", &u, &e), -EINVAL);
	CHECK_INT_EQ(hg_parse_url("http://a%20b/", &u, &e), -EINVAL);
}

static void
test_resolve_location(void)
{
	struct hg_url u;
	char out[HG_MAX_URL], small[20];

	CHECK_OK(hg_parse_url("http://h:8080/a/b?q=/x", &u, NULL));
	CHECK_OK(hg_resolve_location(&u, "/x", out, sizeof(out)));
	CHECK_STR_EQ(out, "http://h:8080/x");
	CHECK_OK(hg_resolve_location(&u, "c?d", out, sizeof(out)));
	CHECK_STR_EQ(out, "http://h:8080/a/c?d");
	CHECK_OK(hg_resolve_location(&u, "http://o/p", out, sizeof(out)));
	CHECK_STR_EQ(out, "http://o/p");
	CHECK_OK(hg_resolve_location(&u, "//o2/p", out, sizeof(out)));
	CHECK_STR_EQ(out, "http://o2/p");
	CHECK_OK(hg_resolve_location(&u, "x?u=http://y", out, sizeof(out)));
	CHECK_STR_EQ(out, "http://h:8080/a/x?u=http://y");
	CHECK_OK(hg_parse_url("http://[::1]:81/", &u, NULL));
	CHECK_OK(hg_resolve_location(&u, "/z", out, sizeof(out)));
	CHECK_STR_EQ(out, "http://[::1]:81/z");
	CHECK_INT_EQ(hg_resolve_location(&u, "", out, sizeof(out)), -EINVAL);
	CHECK_INT_EQ(hg_resolve_location(&u, "/a-long-path-here", small,
	    sizeof(small)), -EINVAL);
}

static void
test_head_end(void)
{
	const char *a = "HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody";
	const char *b = "HTTP/1.0 200 OK\nA: b\n\nbody";

	CHECK_INT_EQ(hg_head_end((const uint8_t *)a, strlen(a)),
	    strlen(a) - 4);
	CHECK_INT_EQ(hg_head_end((const uint8_t *)b, strlen(b)),
	    strlen(b) - 4);
	CHECK_INT_EQ(hg_head_end((const uint8_t *)a, 20), 0);
	CHECK_INT_EQ(hg_head_end((const uint8_t *)a, 24), 0);
	CHECK_INT_EQ(hg_head_end((const uint8_t *)"", 0), 0);
}

static int
parse_head(const char *s, struct hg_head *h, struct bt_err *e)
{
	return hg_parse_head((const uint8_t *)s, strlen(s), h, e);
}

static void
test_parse_head(void)
{
	struct hg_head h;
	struct bt_err e = BT_ERR_INIT;

	CHECK_OK(parse_head("HTTP/1.1 200 OK\r\ncontent-LENGTH: 12\r\n"
	    "Content-Length: 12\r\nX-Other:  v \r\n\r\n", &h, &e));
	CHECK_INT_EQ(h.status, 200);
	CHECK_INT_EQ(h.content_length, 12);
	CHECK(!h.chunked);
	CHECK_OK(parse_head("HTTP/1.0 302 Found\nLocation: /x?y\n\n", &h, &e));
	CHECK_INT_EQ(h.status, 302);
	CHECK(h.has_location);
	CHECK_STR_EQ(h.location, "/x?y");
	CHECK_INT_EQ(h.content_length, -1);
	CHECK_OK(parse_head("HTTP/1.1 200\r\nTransfer-Encoding: Chunked\r\n"
	    "Content-Length: 5\r\n\r\n", &h, &e));
	CHECK(h.chunked);
	CHECK_INT_EQ(h.content_length, -1);
	CHECK_OK(parse_head("HTTP/1.1 200 OK\r\nContent-Encoding: identity"
	    "\r\n\r\n", &h, &e));
	CHECK_INT_EQ(parse_head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	    "Content-Length: 2\r\n\r\n", &h, &e), -EILSEQ);
	CHECK_STR_EQ(e.msg, "bad http reply: conflicting content-length");
	CHECK_INT_EQ(parse_head("HTTP/1.1 200 OK\r\nContent-Length: 1a\r\n\r\n",
	    &h, &e), -EILSEQ);
	CHECK_INT_EQ(parse_head("HTTP/1.1 200 OK\r\nContent-Length: "
	    "99999999999999999999\r\n\r\n", &h, &e), -EILSEQ);
	CHECK_INT_EQ(parse_head("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
	    &h, &e), -EILSEQ);
	CHECK_INT_EQ(parse_head("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
	    "\r\n", &h, &e), -EILSEQ);
	CHECK_STR_EQ(e.msg, "bad http reply: unsupported content-encoding");
	CHECK_INT_EQ(parse_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, "
	    "chunked\r\n\r\n", &h, &e), -EILSEQ);
	CHECK_INT_EQ(parse_head("HTTP/2 200 OK\r\n\r\n", &h, &e), -EILSEQ);
	CHECK_INT_EQ(parse_head("HTTP/1.1 099 X\r\n\r\n", &h, &e), -EILSEQ);
	CHECK_INT_EQ(parse_head("HTTP/1.1 2000 X\r\n\r\n", &h, &e), -EILSEQ);
	CHECK_INT_EQ(parse_head("hello\r\n\r\n", &h, &e), -EILSEQ);
	CHECK_INT_EQ(parse_head("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", &h,
	    &e), -EILSEQ);
	CHECK_INT_EQ(parse_head("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", &h, &e),
	    -EILSEQ);
	CHECK_INT_EQ(parse_head("HTTP/1.1 200 OK\r\nA b: c\r\n\r\n", &h, &e),
	    -EILSEQ);
}

/* Feed s to a fresh decoder in pieces of step bytes; collect the body. */
static int
dechunk(const char *s, size_t step, char *out, size_t *out_len,
    struct bt_err *e)
{
	struct hg_chunked c = HG_CHUNKED_INIT;
	size_t n = strlen(s), off = 0;
	int rc = 0;

	*out_len = 0;
	while (off < n && rc == 0) {
		uint8_t tmp[64];
		size_t take = n - off < step ? n - off : step, used, olen;

		if (take > sizeof(tmp))
			take = sizeof(tmp);
		rc = hg_chunked_feed(&c, (const uint8_t *)s + off, take, &used,
		    tmp, &olen, e);
		memcpy(out + *out_len, tmp, olen);
		*out_len += olen;
		off += used;
	}
	out[*out_len] = '\0';
	return rc;
}

static void
test_chunked(void)
{
	const char *wiki = "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\n"
	    "chunks.\r\n0\r\nX-Trailer: y\r\n\r\nGARBAGE";
	char out[256];
	size_t len;
	struct bt_err e = BT_ERR_INIT;
	uint8_t inplace[] = "3\r\nabc\r\n0\r\n\r\n";
	size_t used, olen;
	struct hg_chunked c = HG_CHUNKED_INIT;

	for (size_t step = 1; step <= 64; step *= 2) {
		CHECK_INT_EQ(dechunk(wiki, step, out, &len, &e), 1);
		CHECK_STR_EQ(out, "Wikipedia in\r\n\r\nchunks.");
	}
	CHECK_INT_EQ(dechunk("0\n\n", 1, out, &len, &e), 1);
	CHECK_INT_EQ(len, 0);
	CHECK_INT_EQ(dechunk("000a\r\n0123456789\r\n0\r\n", 5, out, &len, &e),
	    0);
	CHECK_STR_EQ(out, "0123456789");
	CHECK_INT_EQ(dechunk("ffffffffffffffff\r\n", 64, out, &len, &e),
	    -EOVERFLOW);
	CHECK_STR_EQ(e.msg, "bad chunked body: chunk size too large");
	CHECK_INT_EQ(dechunk("10000000000000000\r\n", 64, out, &len, &e),
	    -EOVERFLOW);
	CHECK_INT_EQ(dechunk("7fffffffffffffff\r\nab", 64, out, &len, &e), 0);
	CHECK_INT_EQ(dechunk("g\r\n", 64, out, &len, &e), -EILSEQ);
	CHECK_INT_EQ(dechunk("\r\n", 64, out, &len, &e), -EILSEQ);
	CHECK_INT_EQ(dechunk("-1\r\n", 64, out, &len, &e), -EILSEQ);
	CHECK_INT_EQ(dechunk("3x\r\nabc", 64, out, &len, &e), -EILSEQ);
	CHECK_INT_EQ(dechunk("3\r\nabcd\r\n", 64, out, &len, &e), -EILSEQ);
	/* Decoding in place: out may be the input buffer. */
	CHECK_INT_EQ(hg_chunked_feed(&c, inplace, sizeof(inplace) - 1, &used,
	    inplace, &olen, &e), 1);
	CHECK_INT_EQ(olen, 3);
	CHECK_MEM_EQ(inplace, "abc", 3);
	CHECK_INT_EQ(used, sizeof(inplace) - 1);
}

static void
test_chunked_long_line(void)
{
	static char s[8000];
	char out[16];
	size_t len;
	struct bt_err e = BT_ERR_INIT;

	memset(s, '0', sizeof(s) - 1);
	CHECK_INT_EQ(dechunk(s, 64, out, &len, &e), -EILSEQ);
	memcpy(s, "1;", 2);
	memset(s + 2, 'e', sizeof(s) - 3);
	CHECK_INT_EQ(dechunk(s, 64, out, &len, &e), -EILSEQ);
}

/* ---- Over the reactor, against tests/fake_tracker.c ---- */

struct result {
	struct rawserver *rs;
	int calls;
	int err;
	int status;
	size_t len;
	char body[256];
	char msg[256];
	bool inside;
	bool called_inside;
};

struct server {
	const char *mode;
	int port;
};

static void
on_done(void *ctx, int err, int status, const uint8_t *body, size_t len,
    const char *errmsg)
{
	struct result *r = ctx;

	r->calls++;
	r->called_inside |= r->inside;
	r->err = err;
	r->status = status;
	r->len = len;
	snprintf(r->body, sizeof(r->body), "%.*s", (int)len,
	    (const char *)body);
	snprintf(r->msg, sizeof(r->msg), "%s", errmsg != NULL ? errmsg : "");
	CHECK(body != NULL);
	CHECK(err == 0 || errmsg != NULL);
	if (body != NULL)
		CHECK_INT_EQ(body[len], '\0');
	rs_stop(r->rs);
}

static void
send_str(struct fake_http_conn *hc, const char *s)
{
	fake_http_send(hc, s, strlen(s));
}

static void
serve(void *ctx, struct fake_http_conn *hc, const char *path)
{
	struct server *s = ctx;
	char buf[512];

	(void)path;
	if (strcmp(s->mode, "length") == 0) {
		fake_http_reply(hc, 200, "hello world", 11);
	} else if (strcmp(s->mode, "chunked") == 0) {
		send_str(hc, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
		    "chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
		fake_http_end(hc);
	} else if (strcmp(s->mode, "close") == 0) {
		send_str(hc, "HTTP/1.0 200 OK\r\n\r\nuntil close");
		fake_http_end(hc);
	} else if (strcmp(s->mode, "redirect") == 0) {
		if (strncmp(path, "/final", 6) == 0) {
			fake_http_reply(hc, 200, path, strlen(path));
			return;
		}
		snprintf(buf, sizeof(buf), "HTTP/1.1 302 Found\r\nLocation: "
		    "http://127.0.0.1:%d/final?x=1\r\n"
		    "Content-Length: 0\r\n\r\n",
		    s->port);
		send_str(hc, buf);
		fake_http_end(hc);
	} else if (strcmp(s->mode, "loop") == 0) {
		send_str(hc, "HTTP/1.1 301 Moved\r\nLocation: loop\r\n"
		    "Content-Length: 0\r\n\r\n");
		fake_http_end(hc);
	} else if (strcmp(s->mode, "big-length") == 0) {
		send_str(hc, "HTTP/1.1 200 OK\r\nContent-Length: "
		    "10485760\r\n\r\n");
		fake_http_stream(hc, 10485760);
		fake_http_end(hc);
	} else if (strcmp(s->mode, "big-close") == 0) {
		send_str(hc, "HTTP/1.0 200 OK\r\n\r\n");
		fake_http_stream(hc, 10485760);
		fake_http_end(hc);
	} else if (strcmp(s->mode, "big-chunk") == 0) {
		send_str(hc, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
		    "chunked\r\n\r\nA00000\r\n");
		fake_http_stream(hc, 10485760);
		fake_http_end(hc);
	} else if (strcmp(s->mode, "big-head") == 0) {
		send_str(hc, "HTTP/1.1 200 OK\r\nX: ");
		fake_http_stream(hc, 20000);
		fake_http_end(hc);
	} else if (strcmp(s->mode, "garbage") == 0) {
		send_str(hc, "hello there\r\n\r\n");
		fake_http_end(hc);
	} else if (strcmp(s->mode, "404") == 0) {
		fake_http_reply(hc, 404, "nope", 4);
	} else if (strcmp(s->mode, "continue") == 0) {
		send_str(hc, "HTTP/1.1 100 Continue\r\n\r\n");
		fake_http_reply(hc, 200, "after", 5);
	} else if (strcmp(s->mode, "cut") == 0) {
		send_str(hc, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
		    "\r\nshort");
		fake_http_end(hc);
	}
	/* "silent": never answer. */
}

struct env {
	struct rawserver *rs;
	struct resolver *res;
	struct fake_http *f;
	struct server s;
};

static void
env_init(struct env *v, const char *mode)
{
	struct rs_config cfg = RS_CONFIG_DEFAULT;

	cfg.close_on_signal = false;
	v->rs = rs_new(&cfg);
	v->res = res_new(v->rs);
	v->s.mode = mode;
	v->f = fake_http_new(v->rs, serve, &v->s);
	CHECK(v->f != NULL);
	v->s.port = v->f != NULL ? fake_http_port(v->f) : 1;
}

static void
env_release(struct env *v)
{
	res_free(v->res);
	rs_free(v->rs);
	fake_http_free(v->f);
}

static void
stop_task(void *ctx)
{
	rs_stop(ctx);
}

/* GET path from the fake server in mode; wait for the answer. */
static void
fetch(const char *mode, const char *url_fmt, const struct hg_config *cfg,
    struct result *r, struct env *out_env)
{
	struct env v;
	char url[512];
	uint64_t t;

	env_init(&v, mode);
	memset(r, 0, sizeof(*r));
	r->rs = v.rs;
	snprintf(url, sizeof(url), url_fmt, v.s.port);
	r->inside = true;
	hg_get(v.rs, v.res, url, cfg, on_done, r);
	r->inside = false;
	t = rs_add_task(v.rs, 20000, stop_task, v.rs);
	rs_run(v.rs);
	rs_cancel_task(v.rs, t);
	CHECK_INT_EQ(r->calls, 1);
	CHECK(!r->called_inside);
	if (out_env != NULL)
		*out_env = v;
	else
		env_release(&v);
}

static void
test_get_length(void)
{
	struct result r;
	struct env v;
	char host[64];
	const char *req;

	fetch("length", "http://127.0.0.1:%d/announce?a=1&b=%%20", NULL, &r,
	    &v);
	CHECK_INT_EQ(r.err, 0);
	CHECK_INT_EQ(r.status, 200);
	CHECK_STR_EQ(r.body, "hello world");
	req = fake_http_last(v.f);
	snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", v.s.port);
	CHECK(strncmp(req, "GET /announce?a=1&b=%20 HTTP/1.1\r\n", 34) == 0);
	CHECK(strstr(req, host) != NULL);
	CHECK(strstr(req, "\r\nUser-Agent: btdownload/0.1\r\n") != NULL);
	CHECK(strstr(req, "\r\nConnection: close\r\n") != NULL);
	CHECK(strstr(req, "\r\nAccept-Encoding: identity\r\n") != NULL);
	env_release(&v);
}

static void
test_get_bodies(void)
{
	struct result r;

	fetch("chunked", "http://127.0.0.1:%d/", NULL, &r, NULL);
	CHECK_INT_EQ(r.err, 0);
	CHECK_STR_EQ(r.body, "hello world");
	fetch("close", "http://127.0.0.1:%d/", NULL, &r, NULL);
	CHECK_INT_EQ(r.err, 0);
	CHECK_STR_EQ(r.body, "until close");
	fetch("continue", "http://127.0.0.1:%d/", NULL, &r, NULL);
	CHECK_INT_EQ(r.err, 0);
	CHECK_STR_EQ(r.body, "after");
	fetch("404", "http://127.0.0.1:%d/", NULL, &r, NULL);
	CHECK_INT_EQ(r.err, 0);
	CHECK_INT_EQ(r.status, 404);
	CHECK_STR_EQ(r.body, "nope");
}

static void
test_get_localhost_name(void)
{
	struct result r;

	/* A name: resolved by the child; ::1 may come first and be refused. */
	fetch("length", "http://localhost:%d/", NULL, &r, NULL);
	CHECK_INT_EQ(r.err, 0);
	CHECK_STR_EQ(r.body, "hello world");
}

static void
test_redirects(void)
{
	struct result r;
	struct env v;
	struct hg_config cfg = HG_CONFIG_DEFAULT;

	fetch("redirect", "http://127.0.0.1:%d/start", NULL, &r, NULL);
	CHECK_INT_EQ(r.err, 0);
	CHECK_STR_EQ(r.body, "/final?x=1");
	cfg.max_redirects = 3;
	fetch("loop", "http://127.0.0.1:%d/a/b", &cfg, &r, &v);
	CHECK_INT_EQ(r.err, -ELOOP);
	CHECK_STR_EQ(r.msg, "too many redirects");
	CHECK_INT_EQ(fake_http_nrequests(v.f), 4);
	CHECK(strncmp(fake_http_last(v.f), "GET /a/loop HTTP/1.1", 20) == 0);
	env_release(&v);
}

static void
test_too_large(void)
{
	struct result r;

	fetch("big-length", "http://127.0.0.1:%d/", NULL, &r, NULL);
	CHECK_INT_EQ(r.err, -EFBIG);
	CHECK_STR_EQ(r.msg, "reply too large");
	fetch("big-close", "http://127.0.0.1:%d/", NULL, &r, NULL);
	CHECK_INT_EQ(r.err, -EFBIG);
	CHECK_STR_EQ(r.msg, "reply too large");
	fetch("big-chunk", "http://127.0.0.1:%d/", NULL, &r, NULL);
	CHECK_INT_EQ(r.err, -EFBIG);
	CHECK_STR_EQ(r.msg, "reply too large");
	fetch("big-head", "http://127.0.0.1:%d/", NULL, &r, NULL);
	CHECK_INT_EQ(r.err, -EFBIG);
	CHECK_STR_EQ(r.msg, "bad http reply: header too large");
}

static void
test_bad_replies(void)
{
	struct result r;

	fetch("garbage", "http://127.0.0.1:%d/", NULL, &r, NULL);
	CHECK_INT_EQ(r.err, -EILSEQ);
	CHECK_STR_EQ(r.msg, "bad http reply: status line");
	fetch("cut", "http://127.0.0.1:%d/", NULL, &r, NULL);
	CHECK(r.err < 0);
	CHECK_STR_EQ(r.msg, "connection closed before the end of the reply");
}

static void
test_errors(void)
{
	struct result r;
	struct hg_config cfg = HG_CONFIG_DEFAULT;

	fetch("length", "https://127.0.0.1:%d/", NULL, &r, NULL);
	CHECK_INT_EQ(r.err, -EPROTONOSUPPORT);
	CHECK_STR_EQ(r.msg, "https trackers are not supported");
	fetch("length", "gopher://127.0.0.1:%d/", NULL, &r, NULL);
	CHECK_INT_EQ(r.err, -EINVAL);
	CHECK_STR_EQ(r.msg, "bad url: unsupported scheme");
	fetch("length", "http://127.0.0.1:1/%d", NULL, &r, NULL);
	CHECK_INT_EQ(r.err, -ECONNREFUSED);
	CHECK_STR_EQ(r.msg, "connection refused");
	cfg.timeout_ms = 300;
	fetch("silent", "http://127.0.0.1:%d/", &cfg, &r, NULL);
	CHECK_INT_EQ(r.err, -ETIMEDOUT);
	CHECK_STR_EQ(r.msg, "timed out");
}

static void
test_cancel(void)
{
	struct env v;
	struct result r = { 0 };
	struct hg_request *req;
	char url[64];

	env_init(&v, "length");
	r.rs = v.rs;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", v.s.port);
	req = hg_get(v.rs, v.res, url, NULL, on_done, &r);
	hg_cancel(req);
	req = hg_get(v.rs, v.res, "https://x/", NULL, on_done, &r);
	hg_cancel(req);
	req = hg_get(v.rs, v.res, "http://localhost/", NULL, on_done, &r);
	hg_cancel(req);
	hg_cancel(NULL);
	rs_add_task(v.rs, 300, stop_task, v.rs);
	rs_run(v.rs);
	CHECK_INT_EQ(r.calls, 0);
	env_release(&v);
}

int
main(void)
{
	CHECK_RUN(test_parse_url, test_resolve_location, test_head_end,
	    test_parse_head, test_chunked, test_chunked_long_line,
	    test_get_length, test_get_bodies, test_get_localhost_name,
	    test_redirects, test_too_large, test_bad_replies, test_errors,
	    test_cancel);
}

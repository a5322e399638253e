#include "httpget.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bterr.h"
#include "log.h"
#include "rawserver.h"
#include "resolver.h"
#include "xmalloc.h"

#define HG_MAX_LINE	4096	/* a chunk-size line or a trailer line */
#define HG_MAX_TRAILER	HG_MAX_HEAD

/* ---- URLs ---- */

static bool
hg_url_char_ok(unsigned char ch)
{
	return ch > ' ' && ch < 0x7f;
}

static bool
hg_host_char_ok(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
}

/* Decimal port 1..65535 in [p, end); returns 0 when invalid. */
static uint16_t
hg_parse_port(const char *p, const char *end)
{
	unsigned v = 0;

	if (p == end || end - p > 5)
		return 0;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (unsigned)(*p - '0');
	}
	return v > 65535 ? 0 : (uint16_t)v;
}

static int
hg_parse_scheme(const char **pp, struct hg_url *out)
{
	static const struct {
		const char *name;
		enum hg_scheme scheme;
		uint16_t port;
	} tab[] = {
		{ "http://", HG_SCHEME_HTTP, 80 },
		{ "https://", HG_SCHEME_HTTPS, 443 },
		{ "udp://", HG_SCHEME_UDP, 0 },
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		size_t l = strlen(tab[i].name);

		if (strncasecmp(*pp, tab[i].name, l) == 0) {
			out->scheme = tab[i].scheme;
			out->port = tab[i].port;
			*pp += l;
			return 0;
		}
	}
	return -EINVAL;
}

/* Host (bracketed IPv6 or a name) and optional port in [p, end). */
static int
hg_parse_authority(const char *p, const char *end, struct hg_url *out,
    struct bt_err *err)
{
	const char *hend, *colon = NULL;

	if (memchr(p, '@', (size_t)(end - p)) != NULL)
		return bt_err_set(err, -EINVAL, "bad url: user info");
	if (p < end && *p == '[') {
		hend = memchr(p, ']', (size_t)(end - p));
		if (hend == NULL)
			return bt_err_set(err, -EINVAL, "bad url: unclosed [");
		p++;
		if (hend + 1 < end && hend[1] != ':')
			return bt_err_set(err, -EINVAL, "bad url: bad host");
		if (hend + 1 < end)
			colon = hend + 1;
		for (const char *q = p; q < hend; q++)
			if (!hg_host_char_ok((unsigned char)*q) && *q != ':')
				return bt_err_set(err, -EINVAL,
				    "bad url: bad host");
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		hend = colon != NULL ? colon : end;
		for (const char *q = p; q < hend; q++)
			if (!hg_host_char_ok((unsigned char)*q))
				return bt_err_set(err, -EINVAL,
				    "bad url: bad host");
	}
	if (hend == p || hend - p > HG_HOST_MAX)
		return bt_err_set(err, -EINVAL, "bad url: bad host");
	memcpy(out->host, p, (size_t)(hend - p));
	out->host[hend - p] = '\0';
	if (colon != NULL) {
		out->port = hg_parse_port(colon + 1, end);
		if (out->port == 0)
			return bt_err_set(err, -EINVAL, "bad url: bad port");
	}
	if (out->port == 0)
		return bt_err_set(err, -EINVAL, "bad url: no port");
	return 0;
}

int
hg_parse_url(const char *url, struct hg_url *out, struct bt_err *err)
{
	const char *p = url, *auth, *rest, *frag;
	size_t plen;
	int rc;

	memset(out, 0, sizeof(*out));
	for (const char *q = url; *q != '\0'; q++)
		if (!hg_url_char_ok((unsigned char)*q))
			return bt_err_set(err, -EINVAL,
			    "bad url: control, space or non-ascii character");
	if (hg_parse_scheme(&p, out) != 0)
		return bt_err_set(err, -EINVAL, "bad url: unsupported scheme");
	auth = p;
	rest = auth + strcspn(auth, "/?#");
	rc = hg_parse_authority(auth, rest, out, err);
	if (rc != 0)
		return rc;
	frag = strchr(rest, '#');
	plen = frag != NULL ? (size_t)(frag - rest) : strlen(rest);
	if (plen + 2 > sizeof(out->path))
		return bt_err_set(err, -EINVAL, "bad url: too long");
	if (plen == 0 || rest[0] != '/') {
		out->path[0] = '/';
		memcpy(out->path + 1, rest, plen);
		out->path[plen + 1] = '\0';
	} else {
		memcpy(out->path, rest, plen);
		out->path[plen] = '\0';
	}
	return 0;
}

static const char *
hg_scheme_name(enum hg_scheme s)
{
	return s == HG_SCHEME_HTTPS ? "https" : s == HG_SCHEME_UDP ? "udp" :
	    "http";
}

/* "scheme://host[:port]" (brackets around IPv6) into out; its length. */
static int
hg_origin(const struct hg_url *u, char *out, size_t outlen)
{
	bool v6 = strchr(u->host, ':') != NULL;

	return snprintf(out, outlen, "%s://%s%s%s:%u",
	    hg_scheme_name(u->scheme), v6 ? "[" : "", u->host, v6 ? "]" : "",
	    (unsigned)u->port);
}

int
hg_resolve_location(const struct hg_url *base, const char *loc, char *out,
    size_t outlen)
{
	const char *sep = strstr(loc, "://");
	size_t dir;
	int n, m;

	if (loc[0] == '\0' || outlen == 0)
		return -EINVAL;
	if (sep != NULL && strcspn(loc, "/?#") > (size_t)(sep - loc)) {
		n = snprintf(out, outlen, "%s", loc);
		return n < 0 || (size_t)n >= outlen ? -EINVAL : 0;
	}
	if (loc[0] == '/' && loc[1] == '/') {
		n = snprintf(out, outlen, "%s:%s",
		    hg_scheme_name(base->scheme), loc);
		return n < 0 || (size_t)n >= outlen ? -EINVAL : 0;
	}
	/* Absolute path, or relative: keep the base path up to its last /. */
	dir = 0;
	if (loc[0] != '/') {
		dir = strcspn(base->path, "?");
		while (dir > 0 && base->path[dir - 1] != '/')
			dir--;
	}
	n = hg_origin(base, out, outlen);
	if (n < 0 || (size_t)n >= outlen)
		return -EINVAL;
	m = snprintf(out + n, outlen - (size_t)n, "%.*s%s", (int)dir,
	    base->path, loc);
	return m < 0 || (size_t)m >= outlen - (size_t)n ? -EINVAL : 0;
}

/* ---- Status line and headers ---- */

size_t
hg_head_end(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if (i + 1 < n && p[i + 1] == '\n')
			return i + 2;
		if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* One line of [p, end): its end (excluding CR LF) and the next line. */
static const uint8_t *
hg_line(const uint8_t *p, const uint8_t *end, const uint8_t **out_next)
{
	const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
	const uint8_t *le;

	if (nl == NULL) {
		*out_next = end;
		return end;
	}
	*out_next = nl + 1;
	le = nl;
	if (le > p && le[-1] == '\r')
		le--;
	return le;
}

static int
hg_parse_status(const uint8_t *p, const uint8_t *le, struct hg_head *out,
    struct bt_err *err)
{
	if (le - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
	    (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
	    (le - p > 12 && p[12] != ' '))
		return bt_err_set(err, -EILSEQ, "bad http reply: status line");
	out->status = 0;
	for (int i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return bt_err_set(err, -EILSEQ,
			    "bad http reply: status code");
		out->status = out->status * 10 + (p[i] - '0');
	}
	if (out->status < 100 || out->status > 599)
		return bt_err_set(err, -EILSEQ, "bad http reply: status code");
	return 0;
}

static bool
hg_token_char(uint8_t ch)
{
	return ch > ' ' && ch < 0x7f && strchr("()<>@,;:\\\"/[]?={}", ch) ==
	    NULL;
}

/* Does the comma list v (vlen bytes) consist of codings in allowed? */
static bool
hg_codings_ok(const uint8_t *v, size_t vlen, bool *out_chunked)
{
	size_t i = 0;

	*out_chunked = false;
	while (i < vlen) {
		size_t s, e;

		while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < vlen && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
			i++;
		e = i;
		if (e == s)
			continue;
		if (e - s == 7 && strncasecmp((const char *)v + s, "chunked",
		    7) == 0)
			*out_chunked = true;
		else if (!(e - s == 8 && strncasecmp((const char *)v + s,
		    "identity", 8) == 0))
			return false;
	}
	return true;
}

static int
hg_content_length(const uint8_t *v, size_t vlen, struct hg_head *out,
    struct bt_err *err)
{
	int64_t cl = 0;

	if (vlen == 0)
		return bt_err_set(err, -EILSEQ,
		    "bad http reply: content-length");
	for (size_t i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9' || cl > (INT64_MAX - 9) / 10)
			return bt_err_set(err, -EILSEQ,
			    "bad http reply: content-length");
		cl = cl * 10 + (v[i] - '0');
	}
	if (out->content_length >= 0 && out->content_length != cl)
		return bt_err_set(err, -EILSEQ,
		    "bad http reply: conflicting content-length");
	out->content_length = cl;
	return 0;
}

/* One header; name is nlen bytes, v is the trimmed value. */
static int
hg_header(const uint8_t *name, size_t nlen, const uint8_t *v, size_t vlen,
    struct hg_head *out, struct bt_err *err)
{
	bool chunked;

#define HG_IS(s) (nlen == sizeof(s) - 1 && \
    strncasecmp((const char *)name, s, nlen) == 0)
	if (HG_IS("content-length"))
		return hg_content_length(v, vlen, out, err);
	if (HG_IS("transfer-encoding")) {
		if (!hg_codings_ok(v, vlen, &chunked))
			return bt_err_set(err, -EILSEQ,
			    "bad http reply: unsupported transfer-encoding");
		out->chunked |= chunked;
	} else if (HG_IS("content-encoding")) {
		if (!hg_codings_ok(v, vlen, &chunked) || chunked)
			return bt_err_set(err, -EILSEQ,
			    "bad http reply: unsupported content-encoding");
	} else if (HG_IS("location")) {
		if (vlen >= sizeof(out->location))
			return bt_err_set(err, -EILSEQ,
			    "bad http reply: location too long");
		memcpy(out->location, v, vlen);
		out->location[vlen] = '\0';
		out->has_location = vlen > 0;
	}
#undef HG_IS
	return 0;
}

static int
hg_header_line(const uint8_t *p, const uint8_t *le, struct hg_head *out,
    struct bt_err *err)
{
	const uint8_t *colon = memchr(p, ':', (size_t)(le - p));
	const uint8_t *v, *ve;

	if (colon == NULL || colon == p)
		return bt_err_set(err, -EILSEQ, "bad http reply: header line");
	for (const uint8_t *q = p; q < colon; q++)
		if (!hg_token_char(*q))
			return bt_err_set(err, -EILSEQ,
			    "bad http reply: header name");
	v = colon + 1;
	ve = le;
	while (v < ve && (*v == ' ' || *v == '\t'))
		v++;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	for (const uint8_t *q = v; q < ve; q++)
		if (*q == '\0' || *q == '\r')
			return bt_err_set(err, -EILSEQ,
			    "bad http reply: header value");
	return hg_header(p, (size_t)(colon - p), v, (size_t)(ve - v), out,
	    err);
}

int
hg_parse_head(const uint8_t *p, size_t n, struct hg_head *out,
    struct bt_err *err)
{
	const uint8_t *end = p + n, *le, *next;
	int rc;

	memset(out, 0, sizeof(*out));
	out->content_length = -1;
	le = hg_line(p, end, &next);
	rc = hg_parse_status(p, le, out, err);
	for (p = next; rc == 0 && p < end; p = next) {
		le = hg_line(p, end, &next);
		if (le == p)
			break;		/* the blank line */
		if (*p == ' ' || *p == '\t')
			return bt_err_set(err, -EILSEQ,
			    "bad http reply: folded header");
		rc = hg_header_line(p, le, out, err);
	}
	if (rc == 0 && out->chunked)
		out->content_length = -1;	/* RFC 9112 6.3 */
	return rc;
}

/* ---- Chunked transfer coding ---- */

enum hg_chunk_state {
	HG_CH_SIZE,		/* hex digits */
	HG_CH_EXT,		/* after ';' or whitespace, up to LF */
	HG_CH_DATA,
	HG_CH_DATA_CR,		/* the CRLF after a chunk's data */
	HG_CH_DATA_LF,
	HG_CH_TRAILER,		/* trailer lines up to an empty one */
	HG_CH_DONE,
};

static int
hg_hexval(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* One byte of a size line; returns 0 or an error. */
static int
hg_chunk_size_byte(struct hg_chunked *c, uint8_t ch, struct bt_err *err)
{
	int h = hg_hexval(ch);

	if (++c->linelen > HG_MAX_LINE)
		return bt_err_set(err, -EILSEQ, "bad chunked body: long line");
	if (c->state == HG_CH_SIZE && h >= 0) {
		if (c->remain > (UINT64_C(0x7fffffffffffffff) >> 4))
			return bt_err_set(err, -EOVERFLOW,
			    "bad chunked body: chunk size too large");
		c->remain = c->remain << 4 | (uint64_t)h;
		return 0;
	}
	if (c->state == HG_CH_SIZE && c->linelen == 1)
		return bt_err_set(err, -EILSEQ, "bad chunked body: chunk size");
	if (ch == '\n') {
		c->linelen = 0;
		c->state = c->remain == 0 ? HG_CH_TRAILER : HG_CH_DATA;
		return 0;
	}
	if (c->state == HG_CH_SIZE && ch != ';' && ch != ' ' && ch != '\t' &&
	    ch != '\r')
		return bt_err_set(err, -EILSEQ, "bad chunked body: chunk size");
	c->state = HG_CH_EXT;
	return 0;
}

/* One byte of the trailer section; returns 1 at its end. */
static int
hg_trailer_byte(struct hg_chunked *c, uint8_t ch, struct bt_err *err)
{
	if (ch == '\n') {
		if (c->linelen == 0 || (c->linelen == 1 && c->remain == '\r')) {
			c->state = HG_CH_DONE;
			return 1;
		}
		c->linelen = 0;
		return 0;
	}
	c->remain = ch;		/* the previous byte, to spot CR LF */
	if (++c->linelen > HG_MAX_LINE)
		return bt_err_set(err, -EILSEQ,
		    "bad chunked body: long trailer");
	return 0;
}

/* Chunk data: copy what is there of the current chunk. */
static void
hg_chunk_data(struct hg_chunked *c, const uint8_t *in, size_t n, uint8_t *out,
    size_t *io_in, size_t *io_out)
{
	size_t take = n;

	if (take > c->remain)
		take = (size_t)c->remain;
	memmove(out, in, take);
	*io_in += take;
	*io_out += take;
	c->remain -= take;
	if (c->remain == 0)
		c->state = HG_CH_DATA_CR;
}

/* The CRLF (or bare LF) that must follow a chunk's data. */
static int
hg_chunk_crlf(struct hg_chunked *c, uint8_t ch, struct bt_err *err)
{
	if (ch == '\r' && c->state == HG_CH_DATA_CR)
		c->state = HG_CH_DATA_LF;
	else if (ch == '\n')
		c->state = HG_CH_SIZE;
	else
		return bt_err_set(err, -EILSEQ,
		    "bad chunked body: no CRLF after data");
	return 0;
}

int
hg_chunked_feed(struct hg_chunked *c, const uint8_t *in, size_t n,
    size_t *out_used, uint8_t *out, size_t *out_len, struct bt_err *err)
{
	size_t i = 0, o = 0;
	int rc = 0;

	while (i < n && rc == 0 && c->state != HG_CH_DONE) {
		uint8_t ch = in[i];

		switch (c->state) {
		case HG_CH_SIZE:
		case HG_CH_EXT:
			rc = hg_chunk_size_byte(c, ch, err);
			i++;
			break;
		case HG_CH_DATA:
			hg_chunk_data(c, in + i, n - i, out + o, &i, &o);
			break;
		case HG_CH_DATA_CR:
		case HG_CH_DATA_LF:
			rc = hg_chunk_crlf(c, ch, err);
			i++;
			break;
		case HG_CH_TRAILER:
			rc = hg_trailer_byte(c, ch, err);
			i++;
			break;
		default:
			break;
		}
	}
	*out_used = i;
	*out_len = o;
	if (rc < 0)
		return rc;
	return c->state == HG_CH_DONE ? 1 : 0;
}

/* ---- The request ---- */

enum hg_body_mode {
	HG_BODY_NONE,
	HG_BODY_LENGTH,
	HG_BODY_CHUNKED,
	HG_BODY_CLOSE,
};

struct hg_request {
	struct rawserver *rs;
	struct resolver *res;
	struct hg_config cfg;
	hg_done_fn *done;
	void *ctx;
	uint64_t deadline;	/* task ids, 0 when none */
	uint64_t defer;
	uint64_t res_id;
	bool starting;		/* inside hg_get: failures are deferred */
	bool in_done;
	unsigned redirects;
	struct hg_url url;
	struct rs_conn *conn;
	bool connected;
	int conn_err;		/* last connect error, for the message */
	size_t naddrs, next_addr;
	struct sockaddr_storage addrs[RES_MAX_ADDRS];
	bool head_done;
	size_t headlen;
	struct hg_head head;
	enum hg_body_mode mode;
	uint64_t remain;	/* HG_BODY_LENGTH */
	struct hg_chunked ch;
	uint8_t *body;
	size_t blen, bcap;
	int err;		/* a deferred failure */
	int status;
	char errmsg[BT_ERR_MSGLEN];
	uint8_t headbuf[HG_MAX_HEAD];
};

static rs_conn_fn hg_made;
static rs_data_fn hg_data;
static rs_lost_fn hg_lost;
static rs_data_fn hg_null_data;
static rs_lost_fn hg_null_lost;

static const struct rs_handler hg_handler = {
	hg_made, hg_data, hg_lost, NULL
};
static const struct rs_handler hg_null_handler = {
	NULL, hg_null_data, hg_null_lost, NULL
};

static void
hg_null_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	(void)ctx;
	(void)c;
	(void)p;
	(void)n;
}

static void
hg_null_lost(void *ctx, struct rs_conn *c, int err)
{
	(void)ctx;
	(void)c;
	(void)err;
}

/* Close the connection, if any, so that its callbacks reach no one. */
static void
hg_drop_conn(struct hg_request *req)
{
	if (req->conn == NULL)
		return;
	rs_conn_set_handler(req->conn, &hg_null_handler, NULL);
	rs_close(req->conn);
	req->conn = NULL;
}

/* Everything but the memory: timers, lookup, connection. */
static void
hg_stop(struct hg_request *req)
{
	if (req->deadline != 0)
		rs_cancel_task(req->rs, req->deadline);
	if (req->defer != 0)
		rs_cancel_task(req->rs, req->defer);
	if (req->res_id != 0 && req->res != NULL)
		res_cancel(req->res, req->res_id);
	req->deadline = req->defer = req->res_id = 0;
	hg_drop_conn(req);
}

static void
hg_finish(struct hg_request *req, int err, const char *msg)
{
	hg_stop(req);
	req->in_done = true;
	if (req->body == NULL)
		req->body = xcalloc(1, 1);
	if (err != 0)
		req->blen = 0;
	req->body[req->blen] = '\0';
	req->done(req->ctx, err, req->status, req->body, req->blen,
	    err == 0 ? NULL : msg);
	free(req->body);
	free(req);
}

static void
hg_deferred(void *arg)
{
	struct hg_request *req = arg;

	req->defer = 0;
	hg_finish(req, req->err, req->errmsg);
}

static void
hg_fail(struct hg_request *req, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Fail the request.  Inside hg_get() the callback must not run yet, so
 * the failure waits for a zero-delay task.
 */
static void
hg_fail(struct hg_request *req, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req->errmsg, sizeof(req->errmsg), fmt, ap);
	va_end(ap);
	req->err = err;
	if (!req->starting) {
		hg_finish(req, err, req->errmsg);
		return;
	}
	hg_stop(req);
	req->defer = rs_add_task(req->rs, 0, hg_deferred, req);
}

static void
hg_timeout(void *arg)
{
	struct hg_request *req = arg;

	req->deadline = 0;
	hg_fail(req, -ETIMEDOUT, "timed out");
}

static const char *
hg_strerror(int err)
{
	switch (err) {
	case -ECONNREFUSED:
		return "connection refused";
	case -ETIMEDOUT:
		return "timed out";
	case -ECONNRESET:
		return "connection reset";
	case 0:
		return "connection closed";
	default:
		return strerror(-err);
	}
}

/* Try the next resolved address; fail when none is left. */
static void
hg_connect_next(struct hg_request *req)
{
	while (req->next_addr < req->naddrs) {
		struct sockaddr_storage *ss = &req->addrs[req->next_addr++];

		req->conn = rs_connect(req->rs, (struct sockaddr *)ss,
		    res_addrlen(ss), &hg_handler, req);
		if (req->conn != NULL)
			return;
		req->conn_err = -errno;
	}
	hg_fail(req, req->conn_err != 0 ? req->conn_err : -EHOSTUNREACH,
	    "%s", hg_strerror(req->conn_err));
}

static void
hg_resolved(void *ctx, int err, const struct sockaddr_storage *addrs,
    size_t naddrs)
{
	struct hg_request *req = ctx;

	req->res_id = 0;
	if (err != 0) {
		char host[LOG_ESC_LEN];

		hg_fail(req, err, "cannot resolve %s: %s", log_escape(host,
		    sizeof(host), req->url.host, strlen(req->url.host)),
		    res_strerror(err));
		return;
	}
	if (naddrs > RES_MAX_ADDRS)
		naddrs = RES_MAX_ADDRS;
	memcpy(req->addrs, addrs, naddrs * sizeof(addrs[0]));
	req->naddrs = naddrs;
	req->next_addr = 0;
	hg_connect_next(req);
}

/* Begin (or, after a redirect, begin again) with url. */
static void
hg_start(struct hg_request *req, const char *url)
{
	struct bt_err e = BT_ERR_INIT;

	req->head_done = false;
	req->connected = false;
	req->headlen = 0;
	req->mode = HG_BODY_NONE;
	req->remain = 0;
	req->blen = 0;
	req->status = 0;
	req->conn_err = 0;
	req->naddrs = req->next_addr = 0;
	if (hg_parse_url(url, &req->url, &e) != 0) {
		hg_fail(req, e.code, "%s", e.msg);
		return;
	}
	if (req->url.scheme == HG_SCHEME_HTTPS) {
		hg_fail(req, -EPROTONOSUPPORT,
		    "https trackers are not supported");
		return;
	}
	if (req->url.scheme != HG_SCHEME_HTTP) {
		hg_fail(req, -EPROTONOSUPPORT, "not an http url");
		return;
	}
	if (res_numeric(req->url.host, req->url.port, &req->addrs[0],
	    NULL) == 0) {
		req->naddrs = 1;
		hg_connect_next(req);
	} else if (req->res == NULL) {
		hg_fail(req, -EINVAL, "cannot resolve names here");
	} else {
		req->res_id = res_lookup(req->res, req->url.host, req->url.port,
		    hg_resolved, req);
	}
}

struct hg_request *
hg_get(struct rawserver *rs, struct resolver *res, const char *url,
    const struct hg_config *cfg, hg_done_fn *done, void *ctx)
{
	static const struct hg_config defaults = HG_CONFIG_DEFAULT;
	struct hg_request *req = xcalloc(1, sizeof(*req));

	req->rs = rs;
	req->res = res;
	req->cfg = cfg != NULL ? *cfg : defaults;
	req->done = done;
	req->ctx = ctx;
	req->starting = true;
	req->deadline = rs_add_task(rs, req->cfg.timeout_ms, hg_timeout, req);
	hg_start(req, url);
	req->starting = false;
	return req;
}

void
hg_cancel(struct hg_request *req)
{
	if (req == NULL || req->in_done)
		return;
	hg_stop(req);
	free(req->body);
	free(req);
}

static void
hg_made(void *ctx, struct rs_conn *c)
{
	struct hg_request *req = ctx;
	const struct hg_url *u = &req->url;
	bool v6 = strchr(u->host, ':') != NULL;
	char buf[HG_MAX_URL + 512], port[8] = "";
	int n;

	req->connected = true;
	if (u->port != 80)
		snprintf(port, sizeof(port), ":%u", (unsigned)u->port);
	n = snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\n"
	    "Host: %s%s%s%s\r\n"
	    "User-Agent: " HG_USER_AGENT "\r\n"
	    "Accept-Encoding: identity\r\n"
	    "Connection: close\r\n\r\n", u->path, v6 ? "[" : "", u->host,
	    v6 ? "]" : "", port);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		hg_fail(req, -EINVAL, "bad url: too long");
		return;
	}
	rs_write(c, buf, (size_t)n);
}

/* Append body bytes within the cap; false (and the request failed) if not. */
static bool
hg_append(struct hg_request *req, const uint8_t *p, size_t n)
{
	if (n > req->cfg.max_reply - req->blen) {
		hg_fail(req, -EFBIG, "reply too large");
		return false;
	}
	if (req->blen + n + 1 > req->bcap) {
		size_t cap = req->bcap < 4096 ? 4096 : req->bcap * 2;

		if (cap < req->blen + n + 1)
			cap = req->blen + n + 1;
		if (cap > req->cfg.max_reply + 1)
			cap = req->cfg.max_reply + 1;
		req->body = xrealloc(req->body, cap);
		req->bcap = cap;
	}
	memcpy(req->body + req->blen, p, n);
	req->blen += n;
	return true;
}

static bool
hg_body_chunked(struct hg_request *req, const uint8_t *p, size_t n)
{
	uint8_t out[4096];

	while (n > 0) {
		size_t slice = n < sizeof(out) ? n : sizeof(out), used, olen;
		struct bt_err e = BT_ERR_INIT;
		int rc;

		rc = hg_chunked_feed(&req->ch, p, slice, &used, out, &olen, &e);
		if (rc < 0) {
			hg_fail(req, rc, "bad http reply: %s", e.msg);
			return false;
		}
		if (!hg_append(req, out, olen))
			return false;
		if (rc == 1) {
			hg_finish(req, 0, NULL);
			return false;
		}
		p += used;
		n -= used;
	}
	return true;
}

/* Body bytes for the current mode; false when the request has ended. */
static bool
hg_body(struct hg_request *req, const uint8_t *p, size_t n)
{
	size_t take;

	switch (req->mode) {
	case HG_BODY_LENGTH:
		take = n < req->remain ? n : (size_t)req->remain;
		if (!hg_append(req, p, take))
			return false;
		req->remain -= take;
		if (req->remain == 0) {
			hg_finish(req, 0, NULL);
			return false;
		}
		return true;
	case HG_BODY_CLOSE:
		return hg_append(req, p, n);
	case HG_BODY_CHUNKED:
		return hg_body_chunked(req, p, n);
	default:
		return true;
	}
}

static void
hg_redirect(struct hg_request *req)
{
	char url[HG_MAX_URL];

	if (req->redirects >= req->cfg.max_redirects) {
		hg_fail(req, -ELOOP, "too many redirects");
		return;
	}
	if (hg_resolve_location(&req->url, req->head.location, url,
	    sizeof(url)) != 0) {
		hg_fail(req, -EINVAL, "bad redirect location");
		return;
	}
	req->redirects++;
	hg_drop_conn(req);
	hg_start(req, url);
}

/*
 * The head is complete: choose how the body is delimited.  Returns false
 * when the request has ended or restarted (a redirect).
 */
static bool
hg_got_head(struct hg_request *req, size_t hlen)
{
	struct bt_err e = BT_ERR_INIT;
	int64_t cl;
	int st;

	if (hg_parse_head(req->headbuf, hlen, &req->head, &e) != 0) {
		hg_fail(req, e.code, "%s", e.msg);
		return false;
	}
	st = req->status = req->head.status;
	cl = req->head.content_length;
	if ((st == 301 || st == 302 || st == 303 || st == 307 || st == 308) &&
	    req->head.has_location) {
		hg_redirect(req);
		return false;
	}
	req->head_done = true;
	req->ch = (struct hg_chunked)HG_CHUNKED_INIT;
	if (st == 204 || st == 304 || cl == 0) {
		hg_finish(req, 0, NULL);
		return false;
	}
	if (cl > 0 && (uint64_t)cl > req->cfg.max_reply) {
		hg_fail(req, -EFBIG, "reply too large");
		return false;
	}
	req->mode = req->head.chunked ? HG_BODY_CHUNKED : cl > 0 ?
	    HG_BODY_LENGTH : HG_BODY_CLOSE;
	req->remain = cl > 0 ? (uint64_t)cl : 0;
	return true;
}

static bool
hg_is_1xx(const struct hg_request *req)
{
	return req->headlen >= 12 && memcmp(req->headbuf, "HTTP/1.", 7) == 0 &&
	    req->headbuf[9] == '1';
}

static void
hg_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	struct hg_request *req = ctx;

	(void)c;
	while (!req->head_done) {
		size_t take = HG_MAX_HEAD - req->headlen, hlen;

		take = n < take ? n : take;
		memcpy(req->headbuf + req->headlen, p, take);
		req->headlen += take;
		p += take;
		n -= take;
		hlen = hg_head_end(req->headbuf, req->headlen);
		if (hlen == 0) {
			if (req->headlen == HG_MAX_HEAD)
				hg_fail(req, -EFBIG,
				    "bad http reply: header too large");
			return;
		}
		if (hg_is_1xx(req)) {
			/* 100 Continue and friends: skip to the real head. */
			req->headlen -= hlen;
			memmove(req->headbuf, req->headbuf + hlen,
			    req->headlen);
			continue;
		}
		if (!hg_got_head(req, hlen) || !hg_body(req,
		    req->headbuf + hlen, req->headlen - hlen))
			return;
	}
	if (n > 0)
		hg_body(req, p, n);
}

static void
hg_lost(void *ctx, struct rs_conn *c, int err)
{
	struct hg_request *req = ctx;

	(void)c;
	req->conn = NULL;
	if (!req->connected) {
		req->conn_err = err;
		hg_connect_next(req);
	} else if (req->head_done && req->mode == HG_BODY_CLOSE && err == 0) {
		hg_finish(req, 0, NULL);
	} else if (req->headlen == 0) {
		hg_fail(req, err != 0 ? err : -ECONNRESET, "%s", err != 0 ?
		    hg_strerror(err) : "connection closed without a reply");
	} else {
		hg_fail(req, err != 0 ? err : -EPIPE,
		    "connection closed before the end of the reply");
	}
}

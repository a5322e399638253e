/*
 * httpget: a small non-blocking HTTP/1.1 GET client on the reactor, for
 * tracker announces (mainline zurllib, without threads and without gzip).
 *
 * One request is: parse the URL, resolve the host (resolver.h), connect,
 * send `GET path HTTP/1.1` with Connection: close, read the status line
 * and headers (at most HG_MAX_HEAD bytes), then a body delimited by
 * Content-Length, chunked coding or the end of the connection, at most
 * cfg->max_reply bytes.  Redirects (301, 302, 303, 307, 308) are followed
 * up to cfg->max_redirects times.  One deadline covers everything.  There
 * is no TLS: https:// fails with "https trackers are not supported".
 *
 * The parsers (hg_parse_url, hg_head_end, hg_parse_head, hg_chunked_feed,
 * hg_resolve_location) are pure functions over bytes, exposed for tests.
 */
#ifndef BT_HTTPGET_H
#define BT_HTTPGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bt_err;
struct rawserver;
struct resolver;
struct hg_request;

#define HG_MAX_URL	4096		/* longest URL or Location */
#define HG_HOST_MAX	253
#define HG_MAX_HEAD	(16 * 1024)	/* status line plus headers */
#define HG_USER_AGENT	"btdownload/0.1"

struct hg_config {
	uint32_t timeout_ms;	/* resolve+connect+reply (http_timeout) */
	size_t max_reply;	/* body cap: more is "reply too large" */
	unsigned max_redirects;
};

#define HG_CONFIG_DEFAULT { 60000, 2 * 1024 * 1024, 5 }

/*
 * The outcome, called exactly once unless the request was cancelled:
 *  - err 0: a complete reply arrived; status is its HTTP status (any,
 *    including 4xx and 5xx: judging it is the caller's business), body and
 *    len its decoded body (followed by a NUL byte not counted in len);
 *  - err < 0: no usable reply; status is 0 (or the status of a reply that
 *    was cut short), and errmsg says why in one line, e.g. "connection
 *    refused", "timed out", "reply too large", "too many redirects",
 *    "https trackers are not supported", "bad http reply: ...".
 * body and errmsg are borrowed for the call.  The request is freed when
 * the callback returns: do not hg_cancel() it from here or later.  The
 * callback may start new requests and free the reactor's other objects.
 */
typedef void hg_done_fn(void *ctx, int err, int status, const uint8_t *body,
    size_t len, const char *errmsg);

/*
 * Start a GET of url (copied).  rs is borrowed; res (borrowed, may be NULL
 * when only numeric hosts are used) resolves names; cfg NULL means
 * HG_CONFIG_DEFAULT.  Never returns NULL and never calls done before
 * returning: even a malformed URL is reported from a zero-delay task.
 */
struct hg_request *hg_get(struct rawserver *rs, struct resolver *res,
    const char *url, const struct hg_config *cfg, hg_done_fn *done,
    void *ctx);
/* Abandon a request: close its connection, no callback.  NULL is a no-op. */
void hg_cancel(struct hg_request *req);

/* ---- Pure parsers ---- */

enum hg_scheme {
	HG_SCHEME_HTTP = 1,
	HG_SCHEME_HTTPS,
	HG_SCHEME_UDP,
};

struct hg_url {
	enum hg_scheme scheme;
	char host[HG_HOST_MAX + 1];	/* without brackets for IPv6 */
	uint16_t port;			/* default 80/443; udp: required */
	char path[HG_MAX_URL];		/* "/a/b?q", at least "/", no #frag */
};

/*
 * Parse http://host[:port]/path?query, https://... or udp://host:port/...;
 * IPv6 literals in brackets.  Rejects other schemes, user info, control
 * characters, spaces and non-ASCII bytes, bad ports and overlong parts.
 * Returns 0 or -EINVAL with err set ("bad url: ...").
 */
int hg_parse_url(const char *url, struct hg_url *out, struct bt_err *err);

/*
 * Resolve a Location header value against the URL it came from (absolute,
 * scheme-relative "//host/x", absolute-path "/x", or relative "x").  Writes
 * a NUL-terminated absolute URL into out (outlen bytes).  0 or -EINVAL.
 */
int hg_resolve_location(const struct hg_url *base, const char *loc,
    char *out, size_t outlen);

/*
 * The length of the head (status line, headers and the blank line that
 * ends them, CRLF or bare LF) at the start of p, or 0 if not all there yet.
 */
size_t hg_head_end(const uint8_t *p, size_t n);

struct hg_head {
	int status;		/* 100..599 */
	int64_t content_length;	/* -1 when absent */
	bool chunked;		/* Transfer-Encoding: chunked */
	bool has_location;
	char location[HG_MAX_URL];
};

/*
 * Parse a complete head of n bytes (as measured by hg_head_end).  Header
 * names are case-insensitive.  Rejects malformed status lines and header
 * lines, obsolete line folding, bad or conflicting Content-Length values,
 * transfer or content codings other than chunked and identity, and an
 * overlong Location.  Returns 0 or -EILSEQ with err set.
 */
int hg_parse_head(const uint8_t *p, size_t n, struct hg_head *out,
    struct bt_err *err);

/*
 * An incremental decoder for the chunked transfer coding.  Chunk sizes are
 * strict hex (at least one digit, at most 2^63 - 1: "ffffffffffffffff" is
 * an error), extensions are skipped, size lines and trailers are capped.
 */
struct hg_chunked {
	int state;
	uint64_t remain;
	size_t linelen;
};

#define HG_CHUNKED_INIT { 0, 0, 0 }

/*
 * Decode up to n bytes of in.  Body bytes are written to out, which must
 * have room for n bytes and may be the same buffer as in.  *out_used is set
 * to the input bytes consumed and *out_len to the body bytes written.
 * Returns 1 when the last chunk and its trailers are complete (the rest of
 * in is not consumed), 0 when more input is needed, -EILSEQ or -EOVERFLOW
 * on bad input (err says why).
 */
int hg_chunked_feed(struct hg_chunked *c, const uint8_t *in, size_t n,
    size_t *out_used, uint8_t *out, size_t *out_len, struct bt_err *err);

#endif

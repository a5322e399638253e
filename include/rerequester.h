/*
 * rerequester: the tracker announce client (mainline Rerequester), with
 * BEP 12 multitracker tiers and BEP 15 UDP trackers.  HTTP goes through
 * httpget.h; this module is policy: when to announce, to whom, what to
 * send and what to make of the answer.
 *
 * Schedule (mainline c()): every cfg->interval_ms (rerequest_interval) we
 * announce if connections < min_peers (<= min_peers / 3 once we have had
 * an incoming connection), or if the tracker's `interval` has passed since
 * the last announce; never more often than its `min interval` except for
 * events, and except when cfg->interval_explicit (below) makes the user's
 * shorter need-check period win.  The tracker's intervals are clamped to
 * [RR_MIN_INTERVAL_S, RR_MAX_INTERVAL_S].  BEP 15 replies carry no `min
 * interval`, so over UDP the need-check period alone paces need-based
 * announces.  An announce tries the trackers tier by tier (each tier
 * shuffled once at start); one that answers moves to the front of its
 * tier.  When every tracker failed, we retry after a back-off of
 * retry_min_ms, doubling up to retry_max_ms.
 *
 * UDP trackers: each has its own socket, connected to the tracker's
 * address, so that a closed port (ICMP port unreachable) is reported at
 * once ("problem connecting to tracker - connection refused") and we move
 * on to the next tracker rather than wait out the retransmissions.
 *
 * The user hears of trouble through cb->error, one line each, and only
 * when a tracker's message changes: "rejected by tracker - X", "warning
 * from tracker - X", "problem connecting to tracker - E", "bad data from
 * tracker - E".  Tracker-supplied text is escaped.  A refusal without text
 * reads "rejected by tracker - (no reason given)" (a BEP 15 error with an
 * empty message) or "... (no reason given: empty udp announce reply)" (an
 * 8-byte announce reply: opentracker, for a torrent it does not serve).
 *
 * Callbacks run from reactor tasks, never inside the rr_* call that caused
 * them.  They may call rr_announce_now(), rr_completed() and rr_stop(), but
 * not rr_free() (except the rr_stop() done callback, which may).
 */
#ifndef BT_REREQUESTER_H
#define BT_REREQUESTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bt_err;
struct btf_peer;
struct btf_tier;
struct rawserver;
struct resolver;
struct rerequester;

#define RR_MIN_INTERVAL_S	30
#define RR_MAX_INTERVAL_S	(2 * 3600)
#define RR_DEFAULT_INTERVAL_S	1800	/* until a tracker sets one */
#define RR_UDP_CONN_TTL_MS	60000	/* BEP 15 connection id life */
#define RR_MAX_URL		4096

/* BEP 15 actions. */
#define RR_UDP_ACT_CONNECT	0
#define RR_UDP_ACT_ANNOUNCE	1
#define RR_UDP_ACT_ERROR	3

/* Event numbers are BEP 15's. */
enum rr_event {
	RR_EVENT_NONE = 0,
	RR_EVENT_COMPLETED = 1,
	RR_EVENT_STARTED = 2,
	RR_EVENT_STOPPED = 3,
};

/* Peers from one reply (borrowed for the call); download.c dials them. */
typedef void rr_peers_fn(void *ctx, const struct btf_peer *peers, size_t n);
/* Session totals for the announce; left = bytes not yet verified. */
typedef void rr_stats_fn(void *ctx, uint64_t *out_uploaded,
    uint64_t *out_downloaded, uint64_t *out_left);
/* Open peer connections now. */
typedef size_t rr_num_conns_fn(void *ctx);
/* Has any peer ever connected to us (mainline ever_got_incoming)? */
typedef bool rr_incoming_fn(void *ctx);
/* One line for the user. */
typedef void rr_error_fn(void *ctx, const char *msg);
typedef void rr_done_fn(void *ctx);

struct rr_callbacks {
	rr_peers_fn *peers;
	rr_stats_fn *stats;
	rr_num_conns_fn *num_conns;
	rr_incoming_fn *ever_incoming;	/* NULL: never */
	rr_error_fn *error;		/* NULL: log_warn */
};

struct rr_config {
	uint8_t info_hash[20];
	uint8_t peer_id[20];
	uint16_t port;			/* our listen port */
	const char *ip;			/* ip= when set; copied */
	char key[9];			/* 8 hex digits; "": random */
	uint64_t seed;			/* for shuffles, ids; 0: any */
	uint32_t interval_ms;		/* need-check period (300 s) */
	/*
	 * The user set interval_ms (--rerequest_interval) on purpose.  Then,
	 * while short of peers (the min_peers rule above), the need-check
	 * announces every interval_ms even when the tracker's `min interval`
	 * is longer (opentracker: about 15 min): a seeder must announce to
	 * learn of leechers that will not dial it (Transmission 3.00 never
	 * dials a 127/8 peer).  With enough peers, or when false (the
	 * default: mainline, BEP-polite), `min interval` rules.
	 */
	bool interval_explicit;
	uint32_t min_peers;		/* 20 */
	uint32_t max_initiate;		/* 35: at or above, numwant=0 */
	uint32_t numwant;		/* 50 */
	uint32_t http_timeout_ms;	/* 60 s */
	size_t max_reply;		/* 2 MiB */
	uint32_t retry_min_ms;		/* first back-off, 15 s */
	uint32_t retry_max_ms;		/* back-off cap, 30 min */
	/*
	 * BEP 15 waits 15 * 2^n seconds for an answer, n = 0..8.  That is
	 * hours; we stop after n = udp_max_retries (default 2: 15 + 30 + 60
	 * seconds), then fall through to the next tracker.
	 */
	uint32_t udp_timeout_ms;	/* 15 s */
	uint32_t udp_max_retries;	/* 2 */
};

/* Fill cfg with the defaults above (info_hash, peer_id, port zeroed). */
void rr_config_init(struct rr_config *cfg);

/*
 * Create a rerequester.  rs, res (may be NULL: numeric hosts only) and cb
 * are borrowed; cfg, announce and tiers are copied.  BEP 12: a non-empty
 * tier list (announce-list) is used and announce ignored, else announce
 * alone is one tier.  Returns NULL with err set when there is no tracker.
 * Nothing is sent before rr_begin().  Free with rr_free().
 */
struct rerequester *rr_new(struct rawserver *rs, struct resolver *res,
    const struct rr_config *cfg, const char *announce,
    const struct btf_tier *tiers, size_t ntiers,
    const struct rr_callbacks *cb, void *ctx, struct bt_err *err);
/* Cancel everything; no callback afterwards.  NULL is a no-op. */
void rr_free(struct rerequester *rr);

/* Announce event=started now and start the need-check schedule. */
void rr_begin(struct rerequester *rr);
/* The download finished: announce event=completed (once). */
void rr_completed(struct rerequester *rr);
/* Announce now unless one is under way (ignores the back-off). */
void rr_announce_now(struct rerequester *rr);
/*
 * Stop the schedule, abandon any announce and send event=stopped to the
 * tracker that last answered (if any did).  done(ctx) runs once, when it
 * answers, fails, or timeout_ms has passed (3000 is a good value), and
 * never inside this call.  done may call rr_free().
 */
void rr_stop(struct rerequester *rr, rr_done_fn *done, void *ctx,
    uint32_t timeout_ms);

/* ---- Pure helpers, exposed for tests ---- */

struct rr_announce_args {
	const uint8_t *info_hash;	/* 20 bytes */
	const uint8_t *peer_id;		/* 20 bytes */
	uint16_t port;
	uint64_t uploaded, downloaded, left;
	uint32_t numwant;
	const char *key;
	const uint8_t *trackerid;	/* may be NULL */
	size_t trackerid_len;
	enum rr_event event;
	const char *ip;			/* NULL or "": none */
};

/*
 * Percent-encode n bytes: A-Z a-z 0-9 - . _ ~ stay, all else is %XX
 * (uppercase).  Writes at most dstlen bytes with a NUL; returns the length
 * the full encoding needs (without the NUL), like snprintf.
 */
size_t rr_quote(char *dst, size_t dstlen, const void *p, size_t n);
/*
 * The announce URL: base (without any #fragment), '?' or '&', then
 * info_hash, peer_id, port, uploaded, downloaded, left, compact=1,
 * numwant, key[, trackerid][, event][, ip].  0 or -ENAMETOOLONG.
 */
int rr_build_url(char *out, size_t outlen, const char *base,
    const struct rr_announce_args *a);
/*
 * An announce URL fit for a log line: the query (often a passkey) becomes
 * "?***", the fragment is dropped, and so is any path segment of
 * RR_MASK_SEGMENT or more letters and digits (a passkey in the path, as in
 * /0123abcd.../announce), which becomes "***".  Bytes outside printable
 * ASCII are escaped.  Always NUL-terminated in dstlen bytes; returns dst.
 */
#define RR_MASK_SEGMENT	16
char *rr_mask_url(char *dst, size_t dstlen, const char *url);
/* Back-off after `failures` (>= 1) failed rounds: min * 2^(f-1), capped. */
uint64_t rr_backoff_ms(uint32_t min_ms, uint32_t max_ms, unsigned failures);
/* A tracker's interval in seconds as milliseconds, clamped (see top). */
uint64_t rr_clamp_interval_ms(int64_t secs);
/* Fisher-Yates shuffle of order[0..n) with a xorshift state. */
void rr_shuffle(size_t *order, size_t n, uint64_t *rng);
/* Move order[pos] to the front, keeping the others in order (BEP 12). */
void rr_promote(size_t *order, size_t n, size_t pos);

/* One BEP 15 reply from a UDP tracker, parsed by rr_udp_parse(). */
struct rr_udp_msg {
	uint32_t action;		/* RR_UDP_ACT_*, any other number */
	uint32_t tid;			/* transaction id */
	uint64_t conn_id;		/* connect */
	int64_t interval;		/* announce, seconds */
	struct btf_peer *peers;		/* announce, port 0 skipped; owned */
	size_t npeers;			/* at most BTF_MAX_PEERS */
	size_t stray;			/* bytes after the last whole peer */
	const uint8_t *text;		/* error message, borrowed from p */
	size_t textlen;
};

/*
 * Parse the n bytes of a UDP tracker datagram (v6: 18-byte compact peers,
 * else 6).  Returns 0, or -EILSEQ when it is shorter than its action needs
 * (err says "short udp connect reply"; action is UINT32_MAX when n < 8).
 * An announce reply of exactly 8 bytes (the header alone: what opentracker
 * sends for an info hash it does not serve) returns -ENODATA ("empty udp
 * announce reply").  Unknown actions parse as the bare header.  Release with
 * rr_udp_msg_release() either way.  Pure: no state, no logging.
 */
int rr_udp_parse(const uint8_t *p, size_t n, bool v6, struct rr_udp_msg *out,
    struct bt_err *err);
void rr_udp_msg_release(struct rr_udp_msg *m);

#endif

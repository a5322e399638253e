#include "rerequester.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "btformats.h"
#include "bterr.h"
#include "bytes.h"
#include "httpget.h"
#include "log.h"
#include "rawserver.h"
#include "resolver.h"
#include "xmalloc.h"

#define RR_UDP_MAGIC		UINT64_C(0x41727101980)
#define RR_UDP_ANNOUNCE_LEN	98
#define RR_MAX_TRACKERID	256	/* longer tracker ids are ignored */
#define RR_MSG_LEN		(LOG_ESC_LEN + 64)
/* A refusal without a text; callers close the parenthesis. */
#define RR_NO_REASON		"rejected by tracker - (no reason given"

/* ---- Pure helpers ---- */

static bool
rr_unreserved(uint8_t ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
	    ch == '~';
}

size_t
rr_quote(char *dst, size_t dstlen, const void *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const uint8_t *s = p;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char enc[3] = { (char)s[i], 0, 0 };
		size_t k = 1;

		if (!rr_unreserved(s[i])) {
			enc[0] = '%';
			enc[1] = hex[s[i] >> 4];
			enc[2] = hex[s[i] & 15];
			k = 3;
		}
		for (size_t j = 0; j < k; j++, o++)
			if (o + 1 < dstlen)
				dst[o] = enc[j];
	}
	if (dstlen > 0)
		dst[o < dstlen ? o : dstlen - 1] = '\0';
	return o;
}

/* An append-only string in a caller's buffer; `over` when it did not fit. */
struct rr_sbuf {
	char *p;
	size_t len, cap;
	bool over;
};

static void
rr_sbuf_add(struct rr_sbuf *b, const char *s, size_t n)
{
	if (b->over || n >= b->cap - b->len) {
		b->over = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
rr_sbuf_quote(struct rr_sbuf *b, const char *name, const void *p, size_t n)
{
	size_t need;

	rr_sbuf_add(b, name, strlen(name));
	if (b->over)
		return;
	need = rr_quote(b->p + b->len, b->cap - b->len, p, n);
	if (need >= b->cap - b->len)
		b->over = true;
	else
		b->len += need;
}

static void
rr_sbuf_num(struct rr_sbuf *b, const char *name, uint64_t v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);

	rr_sbuf_add(b, name, strlen(name));
	rr_sbuf_add(b, num, (size_t)n);
}

static const char *
rr_event_name(enum rr_event ev)
{
	switch (ev) {
	case RR_EVENT_STARTED:
		return "started";
	case RR_EVENT_COMPLETED:
		return "completed";
	case RR_EVENT_STOPPED:
		return "stopped";
	default:
		return NULL;
	}
}

int
rr_build_url(char *out, size_t outlen, const char *base,
    const struct rr_announce_args *a)
{
	struct rr_sbuf b = { out, 0, outlen, outlen == 0 };
	size_t blen = strcspn(base, "#");
	const char *ev = rr_event_name(a->event);

	if (outlen > 0)
		out[0] = '\0';
	rr_sbuf_add(&b, base, blen);
	rr_sbuf_add(&b, memchr(base, '?', blen) != NULL ? "&" : "?", 1);
	rr_sbuf_quote(&b, "info_hash=", a->info_hash, 20);
	rr_sbuf_quote(&b, "&peer_id=", a->peer_id, 20);
	rr_sbuf_num(&b, "&port=", a->port);
	rr_sbuf_num(&b, "&uploaded=", a->uploaded);
	rr_sbuf_num(&b, "&downloaded=", a->downloaded);
	rr_sbuf_num(&b, "&left=", a->left);
	rr_sbuf_add(&b, "&compact=1", 10);
	rr_sbuf_num(&b, "&numwant=", a->numwant);
	rr_sbuf_quote(&b, "&key=", a->key, strlen(a->key));
	if (a->trackerid != NULL)
		rr_sbuf_quote(&b, "&trackerid=", a->trackerid,
		    a->trackerid_len);
	if (ev != NULL)
		rr_sbuf_quote(&b, "&event=", ev, strlen(ev));
	if (a->ip != NULL && a->ip[0] != '\0')
		rr_sbuf_quote(&b, "&ip=", a->ip, strlen(a->ip));
	return b.over ? -ENAMETOOLONG : 0;
}

uint64_t
rr_backoff_ms(uint32_t min_ms, uint32_t max_ms, unsigned failures)
{
	uint64_t d = min_ms;

	for (unsigned i = 1; i < failures && d < max_ms; i++)
		d *= 2;
	return d < max_ms ? d : max_ms;
}

uint64_t
rr_clamp_interval_ms(int64_t secs)
{
	if (secs < RR_MIN_INTERVAL_S)
		secs = RR_MIN_INTERVAL_S;
	if (secs > RR_MAX_INTERVAL_S)
		secs = RR_MAX_INTERVAL_S;
	return (uint64_t)secs * 1000;
}

/* xorshift64*: small, seedable, good enough for shuffles and ids. */
static uint64_t
rr_rand(uint64_t *s)
{
	if (*s == 0)
		*s = UINT64_C(0x9E3779B97F4A7C15);
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

void
rr_shuffle(size_t *order, size_t n, uint64_t *rng)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(rr_rand(rng) % i);
		size_t t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
}

void
rr_promote(size_t *order, size_t n, size_t pos)
{
	size_t v;

	if (pos >= n)
		return;
	v = order[pos];
	memmove(order + 1, order, pos * sizeof(order[0]));
	order[0] = v;
}

/* ---- State ---- */

struct rr_tracker {
	char *url;
	char *last_err;		/* last error shown for it, or NULL */
	char *last_warn;
	uint8_t *trackerid;
	size_t trackerid_len;
	bool has_conn;		/* BEP 15 connection id */
	uint64_t conn_id;
	uint64_t conn_expires;
	/*
	 * A UDP tracker's own socket, connected to uaddr so that ICMP port
	 * unreachable comes back as ECONNREFUSED.  Kept while it answers;
	 * closed when it fails, so a torrent with many dead trackers holds
	 * one socket for the one that works.
	 */
	struct rs_udp *udp;
	struct sockaddr_storage uaddr;
};

struct rr_tier {
	struct rr_tracker *trk;
	size_t *order;		/* trk indexes, in the order tried */
	size_t n;
};

enum rr_udp_state {
	RR_UDP_IDLE,
	RR_UDP_RESOLVING,
	RR_UDP_CONNECT,
	RR_UDP_ANNOUNCE,
};

struct rerequester {
	struct rawserver *rs;
	struct resolver *res;
	struct rr_config cfg;
	char *ip;
	struct rr_callbacks cb;
	void *ctx;
	struct rr_tier *tiers;
	size_t ntiers;
	uint64_t rng;
	char key[9];

	/* The schedule. */
	uint64_t tick;
	bool begun, force, stopping;
	bool started_ok, completed_pending;
	uint64_t last_ok;	/* when a tracker last answered */
	uint64_t interval_ms, min_interval_ms;
	unsigned failures;	/* rounds failed in a row */
	uint64_t retry_at;

	/* The announce under way: tracker tiers[tier].order[pos]. */
	bool busy;
	enum rr_event ev;
	size_t tier, pos;
	size_t ok_tier;		/* tier of the last tracker to answer */
	struct hg_request *http;

	/* BEP 15 exchange under way. */
	enum rr_udp_state ustate;
	uint32_t tid;
	unsigned utries;
	uint64_t utimer;
	uint64_t res_id;

	rr_done_fn *stop_done;
	void *stop_ctx;
	uint64_t stop_timer;
};

static rs_task_fn rr_tick;
static void rr_try(struct rerequester *rr);

void
rr_config_init(struct rr_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->interval_ms = 300000;
	cfg->min_peers = 20;
	cfg->max_initiate = 35;
	cfg->numwant = 50;
	cfg->http_timeout_ms = 60000;
	cfg->max_reply = 2 * 1024 * 1024;
	cfg->retry_min_ms = 15000;
	cfg->retry_max_ms = 30 * 60 * 1000;
	cfg->udp_timeout_ms = 15000;
	cfg->udp_max_retries = 2;
}

static bool
rr_is_hex8(const char *s)
{
	if (strlen(s) != 8)
		return false;
	for (int i = 0; i < 8; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

static uint64_t
rr_seed(const struct rr_config *cfg)
{
	struct timespec ts;
	uint64_t s = cfg->seed;

	if (s != 0)
		return s;
	clock_gettime(CLOCK_REALTIME, &ts);
	s = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^
	    (uint64_t)getpid() << 32;
	for (int i = 0; i < 20; i++)
		s = s * 131 + cfg->peer_id[i];
	return s;
}

static void
rr_add_tier(struct rerequester *rr, char *const *urls, size_t n)
{
	struct rr_tier *t;
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += urls[i] != NULL && urls[i][0] != '\0';
	if (k == 0)
		return;
	rr->tiers = xreallocarray(rr->tiers, rr->ntiers + 1,
	    sizeof(rr->tiers[0]));
	t = &rr->tiers[rr->ntiers++];
	t->trk = xcalloc(k, sizeof(t->trk[0]));
	t->order = xcalloc(k, sizeof(t->order[0]));
	t->n = 0;
	for (size_t i = 0; i < n; i++) {
		if (urls[i] == NULL || urls[i][0] == '\0')
			continue;
		t->trk[t->n].url = xstrdup(urls[i]);
		t->order[t->n] = t->n;
		t->n++;
	}
	/* BEP 12: shuffle each tier once, at start. */
	rr_shuffle(t->order, t->n, &rr->rng);
}

struct rerequester *
rr_new(struct rawserver *rs, struct resolver *res, const struct rr_config *cfg,
    const char *announce, const struct btf_tier *tiers, size_t ntiers,
    const struct rr_callbacks *cb, void *ctx, struct bt_err *err)
{
	struct rerequester *rr = xcalloc(1, sizeof(*rr));

	rr->rs = rs;
	rr->res = res;
	rr->cfg = *cfg;
	if (cfg->ip != NULL && cfg->ip[0] != '\0')
		rr->ip = xstrdup(cfg->ip);
	rr->cfg.ip = rr->ip;
	rr->cb = *cb;
	rr->ctx = ctx;
	rr->rng = rr_seed(cfg);
	for (size_t i = 0; i < ntiers; i++)
		rr_add_tier(rr, tiers[i].urls, tiers[i].nurls);
	if (rr->ntiers == 0 && announce != NULL) {
		char *one = xstrdup(announce);

		rr_add_tier(rr, &one, 1);
		free(one);
	}
	if (rr->ntiers == 0) {
		rr_free(rr);
		bt_err_set(err, -EINVAL, "no tracker to announce to");
		return NULL;
	}
	if (rr_is_hex8(cfg->key))
		memcpy(rr->key, cfg->key, 9);
	else
		snprintf(rr->key, sizeof(rr->key), "%08" PRIx32,
		    (uint32_t)(rr_rand(&rr->rng) >> 32));
	rr->interval_ms = (uint64_t)RR_DEFAULT_INTERVAL_S * 1000;
	return rr;
}

static struct rr_tracker *
rr_current(struct rerequester *rr)
{
	struct rr_tier *t = &rr->tiers[rr->tier];

	return &t->trk[t->order[rr->pos]];
}

static void
rr_udp_end(struct rerequester *rr)
{
	if (rr->utimer != 0)
		rs_cancel_task(rr->rs, rr->utimer);
	if (rr->res_id != 0 && rr->res != NULL)
		res_cancel(rr->res, rr->res_id);
	rr->utimer = rr->res_id = 0;
	rr->ustate = RR_UDP_IDLE;
}

/* End the exchange with the current tracker, if any; no callbacks. */
static void
rr_abort_attempt(struct rerequester *rr)
{
	hg_cancel(rr->http);
	rr->http = NULL;
	rr_udp_end(rr);
	rr->busy = false;
}

void
rr_free(struct rerequester *rr)
{
	if (rr == NULL)
		return;
	rr_abort_attempt(rr);
	if (rr->tick != 0)
		rs_cancel_task(rr->rs, rr->tick);
	if (rr->stop_timer != 0)
		rs_cancel_task(rr->rs, rr->stop_timer);
	for (size_t i = 0; i < rr->ntiers; i++) {
		for (size_t j = 0; j < rr->tiers[i].n; j++) {
			struct rr_tracker *t = &rr->tiers[i].trk[j];

			rs_udp_close(t->udp);
			free(t->url);
			free(t->last_err);
			free(t->last_warn);
			free(t->trackerid);
		}
		free(rr->tiers[i].trk);
		free(rr->tiers[i].order);
	}
	free(rr->tiers);
	free(rr->ip);
	free(rr);
}

/* ---- Reporting ---- */

/* A path segment of RR_MASK_SEGMENT or more letters and digits. */
static bool
rr_is_secret_segment(const char *p, size_t n)
{
	if (n < RR_MASK_SEGMENT)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]))
			return false;
	return true;
}

/* Append n bytes to out (RR_MAX_URL bytes, *o used), cutting what fails. */
static void
rr_mask_put(char *out, size_t *o, const char *p, size_t n)
{
	if (n > RR_MAX_URL - *o)
		n = RR_MAX_URL - *o;
	memcpy(out + *o, p, n);
	*o += n;
}

char *
rr_mask_url(char *dst, size_t dstlen, const char *url)
{
	char out[RR_MAX_URL];
	size_t n = strcspn(url, "?#"), o = 0, seg;
	const char *end = url + n, *p = strstr(url, "://");

	/* "scheme://host" is kept; only path segments are masked. */
	p = p != NULL && p < end ? p + 3 : url;
	p += strcspn(p, "/?#");
	rr_mask_put(out, &o, url, (size_t)(p - url));
	while (p < end) {
		rr_mask_put(out, &o, p++, 1);	/* the '/' */
		seg = strcspn(p, "/?#");
		if (rr_is_secret_segment(p, seg))
			rr_mask_put(out, &o, "***", 3);
		else
			rr_mask_put(out, &o, p, seg);
		p += seg;
	}
	if (url[n] == '?')
		rr_mask_put(out, &o, "?***", 4);
	return log_escape(dst, dstlen, out, o);
}

/*
 * Tell the user msg, unless it is what we last told about this tracker
 * (*last): a tracker that keeps failing the same way is reported once.
 */
static void
rr_say(struct rerequester *rr, char **last, const char *msg)
{
	if (*last != NULL && strcmp(*last, msg) == 0) {
		log_debug("tracker: %s (again)", msg);
		return;
	}
	free(*last);
	*last = xstrdup(msg);
	if (rr->cb.error != NULL)
		rr->cb.error(rr->ctx, msg);
	else
		log_warn("%s", msg);
}

/* "prefix - text", with text (from outside) escaped. */
static void
rr_msg(char *out, const char *prefix, const void *text, size_t n)
{
	char esc[LOG_ESC_LEN];

	snprintf(out, RR_MSG_LEN, "%s - %s", prefix,
	    log_escape(esc, sizeof(esc), text, n));
}

/* ---- The schedule ---- */

static enum rr_event
rr_next_event(const struct rerequester *rr)
{
	if (!rr->started_ok)
		return RR_EVENT_STARTED;
	if (rr->completed_pending)
		return RR_EVENT_COMPLETED;
	return RR_EVENT_NONE;
}

/* Arm the next tick: see the header for the rules. */
static void
rr_schedule(struct rerequester *rr)
{
	uint64_t now = rs_now_ms(rr->rs), next;

	if (!rr->begun || rr->stopping)
		return;
	if (rr->tick != 0)
		rs_cancel_task(rr->rs, rr->tick);
	next = now + rr->cfg.interval_ms;
	if (rr->busy)
		;	/* the outcome reschedules */
	else if (rr->force)
		next = now;
	else if (rr->failures > 0 && rr->retry_at < next)
		next = rr->retry_at;
	else if (rr->failures == 0 && rr->last_ok + rr->interval_ms < next)
		next = rr->last_ok + rr->interval_ms;
	rr->tick = rs_add_task(rr->rs, next > now ? next - now : 0, rr_tick,
	    rr);
}

/*
 * Mainline c(): do we want peers, or is the tracker's interval over?  Short
 * of peers we wait out the tracker's `min interval`, unless the user chose
 * a shorter need-check period (see interval_explicit in the header): ticks
 * come every cfg.interval_ms, so that is then how often we announce.
 */
static bool
rr_wants_announce(struct rerequester *rr, uint64_t now)
{
	size_t conns = rr->cb.num_conns != NULL ? rr->cb.num_conns(rr->ctx) :
	    0;
	bool incoming = rr->cb.ever_incoming != NULL &&
	    rr->cb.ever_incoming(rr->ctx);
	bool getmore = incoming ? conns <= rr->cfg.min_peers / 3 :
	    conns < rr->cfg.min_peers;
	uint64_t since = now - rr->last_ok;
	uint64_t floor = rr->min_interval_ms;

	if (rr->cfg.interval_explicit && rr->cfg.interval_ms < floor)
		floor = rr->cfg.interval_ms;
	if (since >= rr->interval_ms)
		return true;
	return getmore && since >= floor;
}

static void
rr_announce(struct rerequester *rr, enum rr_event ev)
{
	rr->busy = true;
	rr->ev = ev;
	rr->tier = 0;
	rr->pos = 0;
	if (ev == RR_EVENT_STOPPED)
		rr->tier = rr->ok_tier;
	rr_try(rr);
}

static void
rr_tick(void *arg)
{
	struct rerequester *rr = arg;
	uint64_t now = rs_now_ms(rr->rs);

	rr->tick = 0;
	if (rr->stopping) {
		if (!rr->busy)
			rr_announce(rr, RR_EVENT_STOPPED);
		return;
	}
	if (!rr->busy) {
		if (rr->force) {
			rr->force = false;
			rr_announce(rr, rr_next_event(rr));
		} else if (rr->failures > 0 ? now >= rr->retry_at :
		    rr_wants_announce(rr, now)) {
			rr_announce(rr, rr_next_event(rr));
		}
	}
	rr_schedule(rr);
}

/* Run a tick as soon as possible, from a task (never inside an rr_* call). */
static void
rr_kick(struct rerequester *rr)
{
	if (rr->busy)
		return;
	rr->force = true;
	rr_schedule(rr);
}

static void
rr_stop_finish(struct rerequester *rr)
{
	rr_done_fn *done = rr->stop_done;

	rr_abort_attempt(rr);
	if (rr->stop_timer != 0)
		rs_cancel_task(rr->rs, rr->stop_timer);
	rr->stop_timer = 0;
	rr->stop_done = NULL;
	if (done != NULL)
		done(rr->stop_ctx);
}

/* Every tracker failed: back off, then try the whole list again. */
static void
rr_round_failed(struct rerequester *rr)
{
	uint64_t d;

	rr->busy = false;
	if (rr->ev == RR_EVENT_STOPPED) {
		rr_stop_finish(rr);
		return;
	}
	rr->force = false;
	rr->failures++;
	d = rr_backoff_ms(rr->cfg.retry_min_ms, rr->cfg.retry_max_ms,
	    rr->failures);
	rr->retry_at = rs_now_ms(rr->rs) + d;
	log_info("no tracker answered; trying again in %" PRIu64 " s",
	    (d + 999) / 1000);
	rr_schedule(rr);
}

/* A socket error in the words of httpget.c ("connection refused"). */
static const char *
rr_strerror(int err)
{
	switch (err) {
	case -ECONNREFUSED:
		return "connection refused";
	case -EHOSTUNREACH:
		return "host unreachable";
	case -ENETUNREACH:
		return "network unreachable";
	default:
		return strerror(-err);
	}
}

/* Close a UDP tracker's socket; its connection id goes with it. */
static void
rr_udp_drop(struct rr_tracker *t)
{
	rs_udp_close(t->udp);
	t->udp = NULL;
	t->has_conn = false;
}

/* The current tracker failed with msg: report it, try the next one. */
static void
rr_tracker_failed(struct rerequester *rr, const char *msg)
{
	enum rr_event ev = rr->ev;

	rr_abort_attempt(rr);
	rr_udp_drop(rr_current(rr));
	rr->busy = true;
	rr_say(rr, &rr_current(rr)->last_err, msg);
	if (ev == RR_EVENT_STOPPED) {
		rr->busy = false;
		rr_stop_finish(rr);
		return;
	}
	if (rr->stopping || !rr->busy)
		return;		/* the error callback stopped us */
	rr->pos++;
	rr_try(rr);
}

/*
 * The current tracker answered.  Update the schedule first; the peers
 * callback comes last, so that it sees a consistent rerequester.
 */
static void
rr_tracker_ok(struct rerequester *rr, int64_t interval, int64_t min_interval,
    const struct btf_peer *peers, size_t npeers)
{
	struct rr_tier *tier = &rr->tiers[rr->tier];
	struct rr_tracker *t = rr_current(rr);
	enum rr_event ev = rr->ev;

	rr_abort_attempt(rr);
	free(t->last_err);
	t->last_err = NULL;
	rr_promote(tier->order, tier->n, rr->pos);
	rr->ok_tier = rr->tier;
	if (ev == RR_EVENT_STOPPED) {
		rr_stop_finish(rr);
		return;
	}
	rr->failures = 0;
	rr->last_ok = rs_now_ms(rr->rs);
	/* -1: absent.  0 (some trackers) is raised to RR_MIN_INTERVAL_S. */
	if (interval >= 0)
		rr->interval_ms = rr_clamp_interval_ms(interval);
	if (min_interval >= 0)
		rr->min_interval_ms = rr_clamp_interval_ms(min_interval);
	if (ev == RR_EVENT_STARTED)
		rr->started_ok = true;
	if (ev == RR_EVENT_COMPLETED)
		rr->completed_pending = false;
	rr->force = rr->completed_pending;
	rr_schedule(rr);
	if (npeers > 0 && rr->cb.peers != NULL && !rr->stopping)
		rr->cb.peers(rr->ctx, peers, npeers);
}

/* ---- HTTP trackers ---- */

static void
rr_fill_args(struct rerequester *rr, const struct rr_tracker *t,
    struct rr_announce_args *a)
{
	size_t conns = rr->cb.num_conns != NULL ? rr->cb.num_conns(rr->ctx) :
	    0;

	memset(a, 0, sizeof(*a));
	if (rr->cb.stats != NULL)
		rr->cb.stats(rr->ctx, &a->uploaded, &a->downloaded, &a->left);
	a->info_hash = rr->cfg.info_hash;
	a->peer_id = rr->cfg.peer_id;
	a->port = rr->cfg.port;
	a->numwant = conns >= rr->cfg.max_initiate ? 0 : rr->cfg.numwant;
	a->key = rr->key;
	a->trackerid = t->trackerid;
	a->trackerid_len = t->trackerid_len;
	a->event = rr->ev;
	a->ip = rr->ip;
}

/* A parsed HTTP reply: warnings, tracker id, then success. */
static void
rr_http_reply(struct rerequester *rr, const struct btf_announce *ann)
{
	struct rr_tracker *t = rr_current(rr);
	char msg[RR_MSG_LEN];

	if (ann->warning_message != NULL) {
		rr_msg(msg, "warning from tracker", ann->warning_message,
		    strlen(ann->warning_message));
		rr_say(rr, &t->last_warn, msg);
		if (rr->stopping && rr->ev != RR_EVENT_STOPPED)
			return;
	} else {
		free(t->last_warn);
		t->last_warn = NULL;
	}
	if (ann->tracker_id != NULL &&
	    ann->tracker_id_len <= RR_MAX_TRACKERID) {
		free(t->trackerid);
		t->trackerid = (uint8_t *)xmemdup(ann->tracker_id,
		    ann->tracker_id_len);
		t->trackerid_len = ann->tracker_id_len;
	}
	rr_tracker_ok(rr, ann->interval, ann->min_interval, ann->peers,
	    ann->npeers);
}

static void
rr_http_done(void *ctx, int err, int status, const uint8_t *body, size_t len,
    const char *errmsg)
{
	struct rerequester *rr = ctx;
	struct btf_announce ann;
	struct bt_err e = BT_ERR_INIT;
	char msg[RR_MSG_LEN];
	int rc;

	rr->http = NULL;
	if (err != 0) {
		snprintf(msg, sizeof(msg), "problem connecting to tracker - %s",
		    errmsg);
		rr_tracker_failed(rr, msg);
		return;
	}
	memset(&ann, 0, sizeof(ann));
	rc = btf_parse_announce(body, len, &ann, &e);
	if (rc == 0 && ann.failure_reason != NULL) {
		rr_msg(msg, "rejected by tracker", ann.failure_reason,
		    strlen(ann.failure_reason));
		rr_tracker_failed(rr, msg);
	} else if (status != 200) {
		snprintf(msg, sizeof(msg), "problem connecting to tracker - "
		    "http status %d", status);
		rr_tracker_failed(rr, msg);
	} else if (rc != 0) {
		rr_msg(msg, "bad data from tracker", e.msg, strlen(e.msg));
		rr_tracker_failed(rr, msg);
	} else {
		rr_http_reply(rr, &ann);
	}
	btf_announce_release(&ann);
}

static void
rr_http_start(struct rerequester *rr, struct rr_tracker *t)
{
	struct hg_config hc = HG_CONFIG_DEFAULT;
	struct rr_announce_args a;
	char url[RR_MAX_URL], esc[LOG_ESC_LEN];

	rr_fill_args(rr, t, &a);
	if (rr_build_url(url, sizeof(url), t->url, &a) != 0) {
		rr_tracker_failed(rr, "problem connecting to tracker - "
		    "announce url too long");
		return;
	}
	hc.timeout_ms = rr->cfg.http_timeout_ms;
	hc.max_reply = rr->cfg.max_reply;
	log_debug("announce%s%s to %s", a.event != RR_EVENT_NONE ? " " : "",
	    a.event != RR_EVENT_NONE ? rr_event_name(a.event) : "",
	    rr_mask_url(esc, sizeof(esc), t->url));
	rr->http = hg_get(rr->rs, rr->res, url, &hc, rr_http_done, rr);
}

/* ---- UDP trackers (BEP 15) ---- */

static rs_task_fn rr_udp_timeout;

static uint32_t
rr_key32(const struct rerequester *rr)
{
	return (uint32_t)strtoul(rr->key, NULL, 16);
}

static size_t
rr_udp_announce_pkt(struct rerequester *rr, uint8_t *p)
{
	struct rr_tracker *t = rr_current(rr);
	struct rr_announce_args a;
	struct sockaddr_storage ip;
	uint32_t ip4 = 0;

	rr_fill_args(rr, t, &a);
	if (rr->ip != NULL && res_numeric(rr->ip, 0, &ip, NULL) == 0 &&
	    ip.ss_family == AF_INET)
		ip4 = ntohl(((struct sockaddr_in *)&ip)->sin_addr.s_addr);
	be64_put(p, t->conn_id);
	be32_put(p + 8, RR_UDP_ACT_ANNOUNCE);
	be32_put(p + 12, rr->tid);
	memcpy(p + 16, a.info_hash, 20);
	memcpy(p + 36, a.peer_id, 20);
	be64_put(p + 56, a.downloaded);
	be64_put(p + 64, a.left);
	be64_put(p + 72, a.uploaded);
	be32_put(p + 80, (uint32_t)a.event);
	be32_put(p + 84, ip4);
	be32_put(p + 88, rr_key32(rr));
	be32_put(p + 92, a.numwant);
	be16_put(p + 96, a.port);
	return RR_UDP_ANNOUNCE_LEN;
}

/* Send the packet of the current state and arm its retransmission. */
static void
rr_udp_send(struct rerequester *rr)
{
	struct rs_udp *u = rr_current(rr)->udp;
	uint8_t pkt[RR_UDP_ANNOUNCE_LEN];
	size_t n = 16;
	unsigned shift = rr->utries < 8 ? rr->utries : 8;
	int rc;

	if (rr->ustate == RR_UDP_CONNECT) {
		be64_put(pkt, RR_UDP_MAGIC);
		be32_put(pkt + 8, RR_UDP_ACT_CONNECT);
		be32_put(pkt + 12, rr->tid);
	} else {
		n = rr_udp_announce_pkt(rr, pkt);
	}
	/* Connected: an earlier ICMP error may surface here. */
	rc = rs_udp_send(u, NULL, 0, pkt, n);
	if (rc < 0 && rc != -EAGAIN) {
		char msg[RR_MSG_LEN];

		snprintf(msg, sizeof(msg), "problem connecting to tracker - %s",
		    rr_strerror(rc));
		rr_tracker_failed(rr, msg);
		return;
	}
	rr->utimer = rs_add_task(rr->rs, (uint64_t)rr->cfg.udp_timeout_ms <<
	    shift, rr_udp_timeout, rr);
}

/* Enter a state with a fresh transaction id and send its packet. */
static void
rr_udp_enter(struct rerequester *rr, enum rr_udp_state st)
{
	rr->ustate = st;
	rr->tid = (uint32_t)(rr_rand(&rr->rng) >> 32);
	rr_udp_send(rr);
}

/* Announce with a live connection id, or get one first. */
static void
rr_udp_go(struct rerequester *rr)
{
	struct rr_tracker *t = rr_current(rr);

	if (t->has_conn && rs_now_ms(rr->rs) < t->conn_expires)
		rr_udp_enter(rr, RR_UDP_ANNOUNCE);
	else
		rr_udp_enter(rr, RR_UDP_CONNECT);
}

static void
rr_udp_timeout(void *arg)
{
	struct rerequester *rr = arg;

	rr->utimer = 0;
	if (++rr->utries > rr->cfg.udp_max_retries) {
		rr_tracker_failed(rr, "problem connecting to tracker - "
		    "timed out");
		return;
	}
	log_debug("udp tracker: no answer, retransmitting (try %u)",
	    rr->utries + 1);
	if (rr->ustate == RR_UDP_ANNOUNCE &&
	    rs_now_ms(rr->rs) >= rr_current(rr)->conn_expires)
		rr_udp_enter(rr, RR_UDP_CONNECT);
	else
		rr_udp_send(rr);
}

static bool
rr_same_addr(const struct sockaddr *a, socklen_t alen,
    const struct sockaddr_storage *b)
{
	if (a->sa_family != b->ss_family)
		return false;
	if (a->sa_family == AF_INET && alen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *x = (const void *)a;
		const struct sockaddr_in *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6 && alen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *x = (const void *)a;
		const struct sockaddr_in6 *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}

/* Announce reply: interval, leechers, seeders, then compact peers. */
static void
rr_udp_peers(struct rr_udp_msg *m, const uint8_t *p, size_t n, bool v6)
{
	size_t each = v6 ? 18 : 6, count = (n - 20) / each, k = 0;
	struct btf_peer *peers;

	m->interval = (int64_t)be32_get(p + 8);
	m->stray = (n - 20) % each;
	if (count > BTF_MAX_PEERS)
		count = BTF_MAX_PEERS;
	peers = xcalloc(count + 1, sizeof(*peers));
	for (size_t i = 0; i < count; i++) {
		const uint8_t *e = p + 20 + i * each;
		uint16_t port = be16_get(e + each - 2);
		struct btf_peer *pe = &peers[k];

		if (port == 0)
			continue;
		pe->addr.ss_family = v6 ? AF_INET6 : AF_INET;
		if (v6) {
			struct sockaddr_in6 *s6 = (void *)&pe->addr;

			memcpy(&s6->sin6_addr, e, 16);
			s6->sin6_port = htons(port);
		} else {
			struct sockaddr_in *s4 = (void *)&pe->addr;

			memcpy(&s4->sin_addr, e, 4);
			s4->sin_port = htons(port);
		}
		pe->addrlen = res_addrlen(&pe->addr);
		k++;
	}
	m->peers = peers;
	m->npeers = k;
}

int
rr_udp_parse(const uint8_t *p, size_t n, bool v6, struct rr_udp_msg *out,
    struct bt_err *err)
{
	memset(out, 0, sizeof(*out));
	out->action = UINT32_MAX;
	if (n < 8)
		return bt_err_set(err, -EILSEQ, "short udp reply");
	out->action = be32_get(p);
	out->tid = be32_get(p + 4);
	switch (out->action) {
	case RR_UDP_ACT_CONNECT:
		if (n < 16)
			return bt_err_set(err, -EILSEQ,
			    "short udp connect reply");
		out->conn_id = be64_get(p + 8);
		break;
	case RR_UDP_ACT_ANNOUNCE:
		/* opentracker, for an info hash it does not serve. */
		if (n == 8)
			return bt_err_set(err, -ENODATA,
			    "empty udp announce reply");
		if (n < 20)
			return bt_err_set(err, -EILSEQ,
			    "short udp announce reply");
		rr_udp_peers(out, p, n, v6);
		break;
	case RR_UDP_ACT_ERROR:
		out->text = p + 8;
		out->textlen = n - 8;
		break;
	}
	return 0;
}

void
rr_udp_msg_release(struct rr_udp_msg *m)
{
	if (m == NULL)
		return;
	free(m->peers);
	memset(m, 0, sizeof(*m));
}

/*
 * BEP 15 error (action 3): the text, or, when there is none (trailing NUL
 * bytes do not count), say so rather than print an empty reason.
 */
static void
rr_udp_error_reply(struct rerequester *rr, const struct rr_udp_msg *m)
{
	size_t n = m->textlen;
	char msg[RR_MSG_LEN];

	while (n > 0 && m->text[n - 1] == '\0')
		n--;
	if (n == 0) {
		rr_tracker_failed(rr, RR_NO_REASON ")");
		return;
	}
	rr_msg(msg, "rejected by tracker", m->text, n);
	rr_tracker_failed(rr, msg);
}

/* A reply with our transaction id, for the state we are in. */
static void
rr_udp_reply(struct rerequester *rr, const struct rr_udp_msg *m, int rc,
    const struct bt_err *e)
{
	struct rr_tracker *t = rr_current(rr);
	char msg[RR_MSG_LEN];

	if (m->action == RR_UDP_ACT_ERROR) {
		rr_udp_error_reply(rr, m);
	} else if (rr->ustate == RR_UDP_CONNECT &&
	    m->action == RR_UDP_ACT_CONNECT) {
		if (rc < 0) {
			snprintf(msg, sizeof(msg), "bad data from tracker - "
			    "%s", e->msg);
			rr_tracker_failed(rr, msg);
			return;
		}
		t->conn_id = m->conn_id;
		t->has_conn = true;
		t->conn_expires = rs_now_ms(rr->rs) + RR_UDP_CONN_TTL_MS;
		rs_cancel_task(rr->rs, rr->utimer);
		rr_udp_enter(rr, RR_UDP_ANNOUNCE);
	} else if (rr->ustate == RR_UDP_ANNOUNCE &&
	    m->action == RR_UDP_ACT_ANNOUNCE) {
		if (rc == -ENODATA) {
			rr_tracker_failed(rr, RR_NO_REASON
			    ": empty udp announce reply)");
			return;
		}
		if (rc < 0) {
			snprintf(msg, sizeof(msg), "bad data from tracker - "
			    "%s", e->msg);
			rr_tracker_failed(rr, msg);
			return;
		}
		if (m->stray != 0)
			log_info("udp tracker: %zu stray bytes after the peers",
			    m->stray);
		rr_tracker_ok(rr, m->interval, -1, m->peers, m->npeers);
	} else {
		log_debug("udp tracker: unexpected action %" PRIu32
		    ", ignored", m->action);
	}
}

static void
rr_udp_recv(void *ctx, struct rs_udp *u, const struct sockaddr *from,
    socklen_t fromlen, const uint8_t *p, size_t n)
{
	struct rerequester *rr = ctx;
	struct bt_err e = BT_ERR_INIT;
	struct rr_udp_msg m;
	int rc;

	if ((rr->ustate != RR_UDP_CONNECT && rr->ustate != RR_UDP_ANNOUNCE) ||
	    u != rr_current(rr)->udp ||
	    !rr_same_addr(from, fromlen, &rr_current(rr)->uaddr)) {
		log_debug("udp tracker: stray datagram ignored");
		return;
	}
	if (n < 8) {
		log_info("udp tracker: short reply (%zu bytes) ignored", n);
		return;
	}
	if (be32_get(p + 4) != rr->tid) {
		log_debug("udp tracker: wrong transaction id, ignored");
		return;
	}
	rc = rr_udp_parse(p, n, rr_current(rr)->uaddr.ss_family == AF_INET6,
	    &m, &e);
	rr_udp_reply(rr, &m, rc, &e);
	rr_udp_msg_release(&m);
}

/*
 * An ICMP error on a tracker's connected socket: port unreachable comes
 * back as -ECONNREFUSED within a round trip, where an unconnected socket
 * would wait out every retransmission (15 + 30 + 60 s).
 */
static void
rr_udp_sock_error(void *ctx, struct rs_udp *u, int err)
{
	struct rerequester *rr = ctx;
	char msg[RR_MSG_LEN];

	if ((rr->ustate != RR_UDP_CONNECT && rr->ustate != RR_UDP_ANNOUNCE) ||
	    u != rr_current(rr)->udp) {
		log_debug("udp tracker: %s, after the exchange; ignored",
		    rr_strerror(err));
		return;
	}
	snprintf(msg, sizeof(msg), "problem connecting to tracker - %s",
	    rr_strerror(err));
	rr_tracker_failed(rr, msg);
}

/* Open t's socket, connected to a (see rr_tracker).  0 or -errno. */
static int
rr_udp_open(struct rerequester *rr, struct rr_tracker *t,
    const struct sockaddr_storage *a)
{
	int rc;

	t->udp = rs_udp_open(rr->rs, a->ss_family, rr_udp_recv, rr);
	if (t->udp == NULL)
		return -errno;
	rc = rs_udp_connect(t->udp, (const struct sockaddr *)a,
	    res_addrlen(a), rr_udp_sock_error);
	if (rc < 0) {
		rr_udp_drop(t);
		return rc;
	}
	t->uaddr = *a;
	return 0;
}

/* Prefer IPv4: it is what most UDP trackers answer on. */
static const struct sockaddr_storage *
rr_pick_addr(const struct sockaddr_storage *addrs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (addrs[i].ss_family == AF_INET)
			return &addrs[i];
	return &addrs[0];
}

static void
rr_udp_resolved(void *ctx, int err, const struct sockaddr_storage *addrs,
    size_t n)
{
	struct rerequester *rr = ctx;
	struct rr_tracker *t = rr_current(rr);
	const struct sockaddr_storage *a;
	char msg[RR_MSG_LEN];
	int rc;

	rr->res_id = 0;
	if (err != 0 || n == 0) {
		snprintf(msg, sizeof(msg), "problem connecting to tracker - %s",
		    res_strerror(err));
		rr_tracker_failed(rr, msg);
		return;
	}
	a = rr_pick_addr(addrs, n);
	/* The name points elsewhere now: a new socket, a new id. */
	if (t->udp != NULL && !rr_same_addr((const struct sockaddr *)a,
	    res_addrlen(a), &t->uaddr))
		rr_udp_drop(t);
	rc = t->udp == NULL ? rr_udp_open(rr, t, a) : 0;
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "problem connecting to tracker - %s",
		    rr_strerror(rc));
		rr_tracker_failed(rr, msg);
		return;
	}
	rr_udp_go(rr);
}

static void
rr_udp_start(struct rerequester *rr, struct rr_tracker *t)
{
	struct hg_url u;
	struct sockaddr_storage ss;

	rr->utries = 0;
	if (hg_parse_url(t->url, &u, NULL) != 0 ||
	    u.scheme != HG_SCHEME_UDP) {
		rr_tracker_failed(rr, "problem connecting to tracker - "
		    "bad udp tracker url");
		return;
	}
	rr->ustate = RR_UDP_RESOLVING;
	log_debug("announce %s over udp to %s:%u", rr->ev != RR_EVENT_NONE ?
	    rr_event_name(rr->ev) : "", u.host, (unsigned)u.port);
	if (res_numeric(u.host, u.port, &ss, NULL) == 0)
		rr_udp_resolved(rr, 0, &ss, 1);
	else if (rr->res == NULL)
		rr_udp_resolved(rr, -EINVAL, NULL, 0);
	else
		rr->res_id = res_lookup(rr->res, u.host, u.port,
		    rr_udp_resolved, rr);
}

/* ---- Trying trackers in order ---- */

static void
rr_try(struct rerequester *rr)
{
	struct rr_tracker *t;

	while (rr->tier < rr->ntiers && rr->pos >= rr->tiers[rr->tier].n) {
		rr->tier++;
		rr->pos = 0;
	}
	if (rr->tier >= rr->ntiers || (rr->ev == RR_EVENT_STOPPED &&
	    rr->tier != rr->ok_tier)) {
		rr_round_failed(rr);
		return;
	}
	t = rr_current(rr);
	if (strncasecmp(t->url, "udp://", 6) == 0)
		rr_udp_start(rr, t);
	else
		rr_http_start(rr, t);
}

/* ---- Entry points ---- */

void
rr_begin(struct rerequester *rr)
{
	if (rr->begun || rr->stopping)
		return;
	rr->begun = true;
	rr_kick(rr);
}

void
rr_completed(struct rerequester *rr)
{
	if (rr->stopping)
		return;
	rr->completed_pending = true;
	if (rr->begun && rr->started_ok)
		rr_kick(rr);
}

void
rr_announce_now(struct rerequester *rr)
{
	if (rr->begun && !rr->stopping)
		rr_kick(rr);
}

static void
rr_stop_timeout(void *arg)
{
	struct rerequester *rr = arg;

	rr->stop_timer = 0;
	log_debug("tracker: no answer to event=stopped in time");
	rr_stop_finish(rr);
}

void
rr_stop(struct rerequester *rr, rr_done_fn *done, void *ctx,
    uint32_t timeout_ms)
{
	if (rr->stopping)
		return;
	rr_abort_attempt(rr);
	if (rr->tick != 0)
		rs_cancel_task(rr->rs, rr->tick);
	rr->tick = 0;
	rr->stopping = true;
	rr->stop_done = done;
	rr->stop_ctx = ctx;
	if (!rr->started_ok) {
		/* No tracker knows us: nothing to tell. */
		rr->stop_timer = rs_add_task(rr->rs, 0, rr_stop_timeout, rr);
		return;
	}
	rr->stop_timer = rs_add_task(rr->rs, timeout_ms, rr_stop_timeout, rr);
	rr->tick = rs_add_task(rr->rs, 0, rr_tick, rr);
}

#include "uploader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bitfield.h"
#include "connecter.h"
#include "currentratemeasure.h"
#include "log.h"
#include "rawserver.h"
#include "storagewrapper.h"
#include "xmalloc.h"

struct ul_req {
	uint32_t i, begin, len;
};

struct uploader {
	struct rawserver *rs;
	struct storagewrapper *sw;
	struct connecter *cn;
	struct ul_config cfg;
	struct crm measure;
};

/*
 * The request queue is a ring that starts small and doubles when full.  A
 * peer must not lose requests: one that does not know our limit would
 * wait for them to time out (Transmission 3.00 asks a fast seeder for
 * every block of the torrent within seconds, 65536 for 1 GiB).  So at
 * UL_PAUSE_QUEUE queued requests we stop reading from the peer, and TCP
 * holds back the rest until the queue is down to half; only what the read
 * buffer already held (at most 256 KiB, 15420 requests) is still queued.
 * Past UL_MAX_QUEUE, which that cannot reach, requests are ignored, as
 * libtorrent does, so a flood costs at most the cap.
 */
#define UL_QUEUE_START 64
#define UL_PAUSE_QUEUE 2048

struct upload {
	struct uploader *u;
	struct cn_conn *c;
	bool choked, interested;
	struct ul_req *q;
	size_t head, count, cap;
	struct crm measure;
};

static void ul_shrunk(struct upload *up);

static double
ul_now(const struct uploader *u)
{
	return (double)rs_now_ms(u->rs) / 1000.0;
}

struct uploader *
ul_new(struct rawserver *rs, struct storagewrapper *sw,
    const struct ul_config *cfg)
{
	struct uploader *u = xcalloc(1, sizeof(*u));

	u->rs = rs;
	u->sw = sw;
	u->cfg = *cfg;
	crm_init(&u->measure, cfg->max_rate_period, cfg->fudge, ul_now(u));
	return u;
}

void
ul_free(struct uploader *u)
{
	free(u);
}

void
ul_set_connecter(struct uploader *u, struct connecter *cn)
{
	u->cn = cn;
}

uint64_t
ul_total(const struct uploader *u)
{
	return crm_total(&u->measure);
}

struct storagewrapper *
ul_storage(const struct uploader *u)
{
	return u->sw;
}

double
ul_rate(struct uploader *u)
{
	return crm_get_rate(&u->measure, ul_now(u));
}

struct upload *
ul_upload_new(struct uploader *u, struct cn_conn *c)
{
	struct upload *up = xcalloc(1, sizeof(*up));
	const struct bitfield *have = sw_have(u->sw);

	up->u = u;
	up->c = c;
	up->choked = true;
	up->cap = UL_QUEUE_START;
	up->q = xcalloc(up->cap, sizeof(*up->q));
	crm_init(&up->measure, u->cfg.max_rate_period, u->cfg.fudge, ul_now(u));
	if (bf_count(have) > 0) {
		size_t len;
		const uint8_t *bits = bf_to_wire(have, &len);

		cn_send_bitfield(c, bits, len);
	}
	return up;
}

void
ul_upload_free(struct upload *up)
{
	if (up == NULL)
		return;
	free(up->q);
	free(up);
}

bool
ul_got_interested(struct upload *up)
{
	bool changed = !up->interested;

	up->interested = true;
	return changed;
}

bool
ul_got_not_interested(struct upload *up)
{
	bool changed = up->interested;

	up->interested = false;
	up->count = 0;
	ul_shrunk(up);
	return changed;
}

/* The queue shrank: read from the peer again once it is down to half. */
static void
ul_shrunk(struct upload *up)
{
	if (up->count <= UL_PAUSE_QUEUE / 2)
		cn_pause_requests(up->c, false);
}

/* Double the ring, unwrapping it so that its head is at 0. */
static void
ul_grow(struct upload *up)
{
	struct ul_req *q = xcalloc(up->cap * 2, sizeof(*q));

	for (size_t k = 0; k < up->count; k++)
		q[k] = up->q[(up->head + k) % up->cap];
	free(up->q);
	up->q = q;
	up->head = 0;
	up->cap *= 2;
}

int
ul_got_request(struct upload *up, uint32_t i, uint32_t begin, uint32_t len)
{
	struct uploader *u = up->u;
	struct ul_req *r;

	if (len == 0 || len > u->cfg.max_slice_length)
		return -EPROTO;
	if ((uint64_t)begin + len > sw_piece_len(u->sw, i))
		return -EPROTO;
	/* We only ever advertise pieces we have, and never lose one. */
	if (!sw_do_I_have(u->sw, i))
		return -EPROTO;
	/* Mainline drops requests from a choked or uninterested peer. */
	if (up->choked || !up->interested || up->count >= UL_MAX_QUEUE)
		return 0;
	if (up->count == up->cap)
		ul_grow(up);
	r = &up->q[(up->head + up->count) % up->cap];
	r->i = i;
	r->begin = begin;
	r->len = len;
	if (++up->count == UL_PAUSE_QUEUE)
		cn_pause_requests(up->c, true);
	if (cn_conn_is_flushed(up->c) && cn_upload_allowed(u->cn))
		ul_flushed(up);
	return 0;
}

void
ul_got_cancel(struct upload *up, uint32_t i, uint32_t begin, uint32_t len)
{
	size_t kept = 0;

	for (size_t k = 0; k < up->count; k++) {
		struct ul_req r = up->q[(up->head + k) % up->cap];

		if (r.i == i && r.begin == begin && r.len == len)
			continue;
		up->q[(up->head + kept++) % up->cap] = r;
	}
	up->count = kept;
	ul_shrunk(up);
}

void
ul_choke(struct upload *up)
{
	if (up->choked)
		return;
	up->choked = true;
	up->count = 0;
	ul_shrunk(up);
	cn_send_choke(up->c);
}

void
ul_unchoke(struct upload *up)
{
	if (!up->choked)
		return;
	up->choked = false;
	cn_send_unchoke(up->c);
}

bool
ul_is_choked(const struct upload *up)
{
	return up->choked;
}

bool
ul_is_interested(const struct upload *up)
{
	return up->interested;
}

double
ul_upload_rate(struct upload *up)
{
	return crm_get_rate(&up->measure, ul_now(up->u));
}

uint64_t
ul_upload_total(const struct upload *up)
{
	return crm_total(&up->measure);
}

bool
ul_has_queries(const struct upload *up)
{
	return up->count > 0;
}

/*
 * Mainline sent one block per flush.  We keep the socket's queue topped up
 * to max_queued_bytes instead: one poll round per 16 KiB would cap
 * throughput, and the blocks of one call leave together (one sendmsg()
 * per 512 KiB, see rs_write_frames).
 */
void
ul_flushed(struct upload *up)
{
	struct uploader *u = up->u;
	double now = ul_now(u);
	/* Under a rate cap the bucket is asked before every block. */
	size_t max_run = cn_upload_capped(u->cn) ? 1 : CN_RUN_MAX;

	while (up->count > 0 && !up->choked && cn_upload_allowed(u->cn) &&
	    !cn_conn_is_closing(up->c) &&
	    cn_conn_queued(up->c) < u->cfg.max_queued_bytes) {
		struct ul_req r = up->q[up->head];
		uint32_t lens[CN_RUN_MAX];
		size_t n = 0, queued = cn_conn_queued(up->c);
		uint64_t total = 0;
		int err;

		/*
		 * The requests that follow this one in the same piece, as far
		 * as the queue limit would let the loop send them one by one:
		 * they leave as one run.
		 */
		do {
			struct ul_req *q = &up->q[(up->head + n) % up->cap];

			lens[n++] = q->len;
			total += q->len;
		} while (n < max_run && n < up->count &&
		    queued + total < u->cfg.max_queued_bytes &&
		    up->q[(up->head + n) % up->cap].i == r.i &&
		    up->q[(up->head + n) % up->cap].begin == r.begin + total);
		up->head = (up->head + n) % up->cap;
		up->count -= n;
		if ((err = cn_send_pieces(up->c, r.i, r.begin, lens, n)) < 0) {
			log_warn("reading piece %u for upload: %s", r.i,
			    strerror(-err));
			cn_close(up->c);
			return;
		}
		crm_update_rate(&up->measure, now, total);
		crm_update_rate(&u->measure, now, total);
	}
	ul_shrunk(up);
}

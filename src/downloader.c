#include "downloader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bitfield.h"
#include "bterr.h"
#include "connecter.h"
#include "currentratemeasure.h"
#include "encrypter.h"
#include "log.h"
#include "piecepicker.h"
#include "rawserver.h"
#include "storagewrapper.h"
#include "xmalloc.h"

#define DL_CANCEL_RING 256	/* blocks we stopped waiting for, per peer */
#define DL_MAX_CONTRIB 64	/* unverified pieces a peer sent data for */
#define DL_BLOCK 16384.0

struct dl_req {
	uint32_t i, begin, len;
};

struct dl_peer {
	struct downloader *dl;
	struct cn_conn *c;
	struct dl_peer *prev, *next;
	bool choked;		/* the peer chokes us */
	bool interested;	/* we said interested */
	bool seed_counted;	/* counted with pp_got_seed */
	struct bitfield have;
	uint32_t interesting;	/* pieces it has that we lack */
	struct dl_req *active;	/* outstanding requests, DL_MAX_BACKLOG */
	size_t nactive;
	/*
	 * Blocks we cancelled or gave up on (choke) may still arrive: they
	 * are ignored, while a block never asked for drops the peer.
	 */
	struct dl_req cancelled[DL_CANCEL_RING];
	size_t cancel_next;
	double last;		/* when its last block arrived */
	struct crm measure;
	uint32_t contrib[DL_MAX_CONTRIB];
	size_t ncontrib;
	uint32_t strikes, good;
	uint32_t unexpected;
};

struct downloader {
	struct rawserver *rs;
	struct storagewrapper *sw;
	struct piecepicker *pp;
	struct dl_config cfg;
	const struct dl_callbacks *cb;
	void *ctx;
	struct dl_peer *peers;
	size_t npeers, nseeds;
	struct crm measure;
	bool finished;
	bool shutting_down;
	bool refill;		/* a piece failed: ask everyone for more */
	uint64_t verify_task;	/* dl_verify_task is queued */
};

static void dl_verified(void *ctx, uint32_t i, bool ok);

static double
dl_now(const struct downloader *dl)
{
	return (double)rs_now_ms(dl->rs) / 1000.0;
}

struct downloader *
dl_new(struct rawserver *rs, struct storagewrapper *sw, struct piecepicker *pp,
    const struct dl_config *cfg, const struct dl_callbacks *cb, void *ctx)
{
	struct downloader *dl = xcalloc(1, sizeof(*dl));

	dl->rs = rs;
	dl->sw = sw;
	dl->pp = pp;
	dl->cfg = *cfg;
	dl->cb = cb;
	dl->ctx = ctx;
	dl->finished = sw_is_complete(sw);
	crm_init(&dl->measure, cfg->max_rate_period, 1.0, dl_now(dl));
	sw_set_verified(sw, dl_verified, dl);
	return dl;
}

void
dl_shutdown(struct downloader *dl)
{
	dl->shutting_down = true;
}

void
dl_free(struct downloader *dl)
{
	if (dl == NULL)
		return;
	if (dl->verify_task != 0)
		rs_cancel_task(dl->rs, dl->verify_task);
	sw_set_verified(dl->sw, NULL, NULL);
	free(dl);
}

uint64_t
dl_total(const struct downloader *dl)
{
	return crm_total(&dl->measure);
}

double
dl_rate(struct downloader *dl)
{
	return crm_get_rate(&dl->measure, dl_now(dl));
}

size_t
dl_num_seeds(const struct downloader *dl)
{
	return dl->nseeds;
}

struct dl_peer *
dl_peer_new(struct downloader *dl, struct cn_conn *c)
{
	struct dl_peer *p = xcalloc(1, sizeof(*p));

	p->dl = dl;
	p->c = c;
	p->choked = true;
	bf_init(&p->have, sw_num_pieces(dl->sw));
	p->active = xcalloc(DL_MAX_BACKLOG, sizeof(*p->active));
	/* Mainline starts `last` at 0: a new peer counts as snubbed until
	 * it sends a block. */
	p->last = -1e9;
	crm_init(&p->measure, dl->cfg.max_rate_period, 1.0, dl_now(dl));
	p->next = dl->peers;
	if (dl->peers != NULL)
		dl->peers->prev = p;
	dl->peers = p;
	dl->npeers++;
	return p;
}

/* --- requests -------------------------------------------------------------- */

static bool
dl_want(void *ctx, uint32_t i)
{
	struct dl_peer *p = ctx;

	return bf_get(&p->have, i) && sw_do_I_have_requests(p->dl->sw, i);
}

/*
 * Keep queue_time seconds of the peer's measured rate requested, never
 * fewer than request_backlog blocks: a fixed backlog of 5 cannot fill a
 * link with real latency (libtorrent's request_queue_time does the same).
 */
static size_t
dl_backlog(const struct dl_peer *p)
{
	const struct downloader *dl = p->dl;
	double n = crm_get_rate_noupdate(&p->measure) * dl->cfg.queue_time /
	    DL_BLOCK;
	size_t b = n > DL_MAX_BACKLOG ? DL_MAX_BACKLOG : (size_t)n;

	if (b < dl->cfg.backlog)
		b = dl->cfg.backlog;
	return b > DL_MAX_BACKLOG ? DL_MAX_BACKLOG : b;
}

static bool
dl_has_active(const struct dl_peer *p, uint32_t i, uint32_t begin)
{
	for (size_t k = 0; k < p->nactive; k++)
		if (p->active[k].i == i && p->active[k].begin == begin)
			return true;
	return false;
}

static void
dl_add_request(struct dl_peer *p, uint32_t i, uint32_t begin, uint32_t len)
{
	struct dl_req *r = &p->active[p->nactive++];

	r->i = i;
	r->begin = begin;
	r->len = len;
	cn_send_request(p->c, i, begin, len);
}

static void
dl_set_interest(struct dl_peer *p)
{
	bool want = p->interesting > 0 && !p->dl->finished;

	if (want == p->interested)
		return;
	p->interested = want;
	if (want)
		cn_send_interested(p->c);
	else
		cn_send_not_interested(p->c);
}

/* Endgame: ask this peer for blocks outstanding elsewhere that it has. */
static void
dl_endgame_more(struct dl_peer *p, size_t want)
{
	for (struct dl_peer *q = p->dl->peers; q != NULL; q = q->next) {
		if (q == p)
			continue;
		for (size_t k = 0; k < q->nactive && p->nactive < want; k++) {
			struct dl_req r = q->active[k];

			if (bf_get(&p->have, r.i) &&
			    !dl_has_active(p, r.i, r.begin))
				dl_add_request(p, r.i, r.begin, r.len);
		}
	}
}

static void
dl_request_more(struct dl_peer *p)
{
	struct downloader *dl = p->dl;
	size_t want;
	bool seed;

	dl_set_interest(p);
	if (p->choked || !p->interested || dl->shutting_down)
		return;
	want = dl_backlog(p);
	seed = bf_is_complete(&p->have);
	/*
	 * Top a long queue up in batches of a quarter of it, not a request
	 * per block that arrives: every message we send wakes the peer, and
	 * a deep queue loses nothing by waiting for a quarter to drain.
	 */
	if (p->nactive + want / 4 > want && p->nactive > 0 &&
	    !sw_is_endgame(dl->sw))
		return;
	while (p->nactive < want && !sw_is_endgame(dl->sw)) {
		int64_t i = pp_next(dl->pp, dl_want, p, seed);
		uint32_t begin, len;

		if (i < 0)
			break;
		while (p->nactive < want &&
		    sw_new_request(dl->sw, (uint32_t)i, &begin, &len) == 0) {
			pp_requested(dl->pp, (uint32_t)i, seed);
			dl_add_request(p, (uint32_t)i, begin, len);
		}
	}
	if (sw_is_endgame(dl->sw))
		dl_endgame_more(p, want);
}

static void
dl_request_more_all(struct downloader *dl, const struct dl_peer *except)
{
	for (struct dl_peer *q = dl->peers; q != NULL; q = q->next)
		if (q != except && !q->choked)
			dl_request_more(q);
}

static void
dl_note_cancelled(struct dl_peer *p, const struct dl_req *r)
{
	p->cancelled[p->cancel_next] = *r;
	p->cancel_next = (p->cancel_next + 1) % DL_CANCEL_RING;
}

/* Give every outstanding request back to storage (choke, disconnect). */
static void
dl_letgo(struct dl_peer *p)
{
	struct downloader *dl = p->dl;

	for (size_t k = 0; k < p->nactive; k++) {
		sw_request_lost(dl->sw, p->active[k].i, p->active[k].begin,
		    p->active[k].len);
		dl_note_cancelled(p, &p->active[k]);
	}
	p->nactive = 0;
}

/* --- peer state ------------------------------------------------------------ */

static void
dl_count_interesting(struct dl_peer *p)
{
	const struct bitfield *mine = sw_have(p->dl->sw);
	uint32_t n = 0;

	for (uint32_t i = 0; i < p->have.n; i++)
		if (bf_get(&p->have, i) && !bf_get(mine, i) &&
		    sw_is_wanted(p->dl->sw, i))
			n++;
	p->interesting = n;
}

static void
dl_forget_have(struct dl_peer *p)
{
	struct downloader *dl = p->dl;

	if (p->seed_counted) {
		pp_lost_seed(dl->pp);
		p->seed_counted = false;
	} else {
		for (uint32_t i = 0; i < p->have.n; i++)
			if (bf_get(&p->have, i))
				pp_lost_have(dl->pp, i);
	}
	if (bf_is_complete(&p->have) && p->have.n > 0)
		dl->nseeds--;
}

/* We have everything and so has it: nothing to trade. */
static bool
dl_close_if_both_seeds(struct dl_peer *p)
{
	if (p->dl->finished && bf_is_complete(&p->have)) {
		cn_close(p->c);
		return true;
	}
	return false;
}

int
dl_got_have(struct dl_peer *p, uint32_t i)
{
	struct downloader *dl = p->dl;

	if (bf_get(&p->have, i))
		return 0;
	bf_set(&p->have, i);
	pp_got_have(dl->pp, i);
	if (!sw_do_I_have(dl->sw, i) && sw_is_wanted(dl->sw, i))
		p->interesting++;
	if (bf_is_complete(&p->have)) {
		dl->nseeds++;
		if (dl_close_if_both_seeds(p))
			return 0;
	}
	dl_request_more(p);
	return 0;
}

int
dl_got_bitfield(struct dl_peer *p, const uint8_t *bits, size_t len)
{
	struct downloader *dl = p->dl;
	struct bitfield nb = BF_INIT;

	if (bf_from_wire(&nb, p->have.n, bits, len) < 0)
		return -EPROTO;
	dl_forget_have(p);
	bf_release(&p->have);
	p->have = nb;
	if (bf_is_complete(&p->have)) {
		pp_got_seed(dl->pp);
		p->seed_counted = true;
		dl->nseeds++;
	} else {
		for (uint32_t i = 0; i < p->have.n; i++)
			if (bf_get(&p->have, i))
				pp_got_have(dl->pp, i);
	}
	dl_count_interesting(p);
	if (dl_close_if_both_seeds(p))
		return 0;
	dl_request_more(p);
	return 0;
}

void
dl_got_unchoke(struct dl_peer *p)
{
	p->choked = false;
	dl_request_more(p);
}

void
dl_got_choke(struct dl_peer *p)
{
	if (p->choked)
		return;
	p->choked = true;
	dl_letgo(p);
	dl_request_more_all(p->dl, p);
}

void
dl_peer_lost(struct dl_peer *p)
{
	struct downloader *dl;

	if (p == NULL)
		return;
	dl = p->dl;
	dl_letgo(p);
	dl_forget_have(p);
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		dl->peers = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	dl->npeers--;
	bf_release(&p->have);
	free(p->active);
	free(p);
	if (!dl->shutting_down)
		dl_request_more_all(dl, NULL);
}

/* --- blocks arriving ------------------------------------------------------- */

static bool
dl_take_active(struct dl_peer *p, uint32_t i, uint32_t begin, uint32_t len)
{
	for (size_t k = 0; k < p->nactive; k++) {
		struct dl_req *r = &p->active[k];

		if (r->i == i && r->begin == begin && r->len == len) {
			*r = p->active[--p->nactive];
			return true;
		}
	}
	return false;
}

static bool
dl_was_cancelled(const struct dl_peer *p, uint32_t i, uint32_t begin)
{
	for (size_t k = 0; k < DL_CANCEL_RING; k++)
		if (p->cancelled[k].len != 0 && p->cancelled[k].i == i &&
		    p->cancelled[k].begin == begin)
			return true;
	return false;
}

/* Endgame: the block is here, so stop waiting for it anywhere else. */
static void
dl_cancel_others(struct dl_peer *p, uint32_t i, uint32_t begin, uint32_t len)
{
	for (struct dl_peer *q = p->dl->peers; q != NULL; q = q->next) {
		struct dl_req r = { i, begin, len };

		if (q != p && dl_take_active(q, i, begin, len)) {
			cn_send_cancel(q->c, i, begin, len);
			dl_note_cancelled(q, &r);
		}
	}
}

/* Note that p sent some of piece i; whether i was not noted yet. */
static bool
dl_add_contrib(struct dl_peer *p, uint32_t i)
{
	for (size_t k = 0; k < p->ncontrib; k++)
		if (p->contrib[k] == i)
			return false;
	if (p->ncontrib == DL_MAX_CONTRIB)
		memmove(p->contrib, p->contrib + 1,
		    (DL_MAX_CONTRIB - 1) * sizeof(p->contrib[0]));
	else
		p->ncontrib++;
	p->contrib[p->ncontrib - 1] = i;
	return true;
}

/* Remove i from the peer's contributions; whether it was there. */
static bool
dl_take_contrib(struct dl_peer *p, uint32_t i)
{
	for (size_t k = 0; k < p->ncontrib; k++) {
		if (p->contrib[k] == i) {
			p->contrib[k] = p->contrib[--p->ncontrib];
			return true;
		}
	}
	return false;
}

static void
dl_piece_ok(struct downloader *dl, uint32_t i)
{
	pp_complete(dl->pp, i);
	for (struct dl_peer *q = dl->peers; q != NULL; q = q->next) {
		if (dl_take_contrib(q, i))
			q->good++;
		if (bf_get(&q->have, i) && q->interesting > 0)
			q->interesting--;
	}
	dl->cb->piece_verified(dl->ctx, i);
	if (sw_is_complete(dl->sw) && !dl->finished) {
		dl->finished = true;
		dl->cb->finished(dl->ctx);
		for (struct dl_peer *q = dl->peers; q != NULL; q = q->next)
			dl_close_if_both_seeds(q);
	}
	for (struct dl_peer *q = dl->peers; q != NULL; q = q->next)
		dl_set_interest(q);
}

/*
 * A piece failed its hash check.  Only a peer that sent every block of it
 * gets a strike: with several senders we cannot tell who lied, and the
 * hash check keeps the data safe either way.  DL_STRIKES strikes and more
 * failures than good pieces ban the peer: it is neither kept nor dialled
 * again.
 */
static void
dl_piece_failed(struct downloader *dl, uint32_t i)
{
	uint32_t len = sw_piece_len(dl->sw, i);
	struct dl_peer *sole = NULL;
	size_t senders = 0;

	pp_bump(dl->pp, i);
	dl->refill = true;
	dl->cb->piece_failed(dl->ctx, i, len);
	for (struct dl_peer *q = dl->peers; q != NULL; q = q->next) {
		if (dl_take_contrib(q, i)) {
			senders++;
			sole = q;
		}
	}
	if (senders != 1)
		return;
	sole->strikes++;
	if (sole->strikes >= DL_STRIKES && sole->strikes > sole->good) {
		log_warn("%s: sent %u pieces that failed the hash check; "
		    "banned", enc_conn_name(cn_conn_enc(sole->c)), sole->strikes);
		cn_ban(sole->c);
	}
}

/* The storagewrapper's verdict on piece i (sw_set_verified). */
static void
dl_verified(void *ctx, uint32_t i, bool ok)
{
	struct downloader *dl = ctx;

	if (ok)
		dl_piece_ok(dl, i);
	else
		dl_piece_failed(dl, i);
}

/* The blocks of a failed piece are free again: every peer may take some. */
static void
dl_refill(struct downloader *dl, const struct dl_peer *except)
{
	if (dl->refill && !dl->finished) {
		dl->refill = false;
		dl_request_more_all(dl, except);
	}
}

static void
dl_verify_task(void *arg)
{
	struct downloader *dl = arg;
	struct bt_err err = BT_ERR_INIT;
	int r;

	dl->verify_task = 0;
	r = sw_verify_held(dl->sw, &err);
	if (r < 0) {
		dl->cb->failed(dl->ctx, r, err.msg);
		return;
	}
	dl_refill(dl, NULL);
}

int
dl_got_piece(struct dl_peer *p, uint32_t i, uint32_t begin,
    const uint8_t *data, uint32_t len)
{
	struct downloader *dl = p->dl;
	struct bt_err err = BT_ERR_INIT;
	double now = dl_now(dl);
	bool added;
	int r;

	/*
	 * A block we cancelled or gave up on may still come (it crossed our
	 * cancel).  The ring remembers the recent ones; a few others are
	 * forgiven too, since the ring is bounded, but a peer that keeps
	 * sending blocks nobody asked for is dropped.
	 */
	if (!dl_take_active(p, i, begin, len)) {
		if (dl_was_cancelled(p, i, begin))
			return 0;
		log_debug("%s: block %u+%u was not requested",
		    enc_conn_name(cn_conn_enc(p->c)), i, begin);
		return ++p->unexpected > DL_MAX_UNEXPECTED ? -EPROTO : 0;
	}
	p->last = now;
	crm_update_rate(&p->measure, now, len);
	crm_update_rate(&dl->measure, now, len);
	/* Before the call: the verdict on i may come from inside it. */
	added = !sw_do_I_have(dl->sw, i) && dl_add_contrib(p, i);
	r = sw_piece_came_in(dl->sw, i, begin, data, len, &err);
	if (r < 0) {
		dl->cb->failed(dl->ctx, r, err.msg);
		return 0;
	}
	if (r == SW_BLOCK_IGNORED && added)
		(void)dl_take_contrib(p, i);
	dl_cancel_others(p, i, begin, len);
	if (sw_has_held(dl->sw) && dl->verify_task == 0)
		dl->verify_task = rs_add_task(dl->rs, DL_VERIFY_WAIT_MS,
		    dl_verify_task, dl);
	if (dl->finished)
		return 0;
	dl_request_more(p);
	if (sw_is_endgame(dl->sw))
		dl->refill = true;
	dl_refill(dl, p);
	return 0;
}

/* --- accessors ------------------------------------------------------------- */

bool
dl_is_snubbed(const struct dl_peer *p)
{
	return dl_now(p->dl) - p->last > p->dl->cfg.snub_time;
}

bool
dl_is_choked(const struct dl_peer *p)
{
	return p->choked;
}

bool
dl_is_interested(const struct dl_peer *p)
{
	return p->interested;
}

bool
dl_peer_has(const struct dl_peer *p, uint32_t i)
{
	return i < p->have.n && bf_get(&p->have, i);
}

bool
dl_peer_is_seed(const struct dl_peer *p)
{
	return p->have.n > 0 && bf_is_complete(&p->have);
}

double
dl_peer_rate(struct dl_peer *p)
{
	return crm_get_rate(&p->measure, dl_now(p->dl));
}

uint64_t
dl_peer_total(const struct dl_peer *p)
{
	return crm_total(&p->measure);
}

size_t
dl_peer_num_requests(const struct dl_peer *p)
{
	return p->nactive;
}

const struct bitfield *
dl_peer_have(const struct dl_peer *p)
{
	return &p->have;
}

#include "storagewrapper.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bitfield.h"
#include "bterr.h"
#include "checker.h"
#include "log.h"
#include "sha.h"
#include "sha1pair.h"
#include "storage.h"
#include "xmalloc.h"

/*
 * Per-block state, kept only for started pieces.  A received block counts
 * as "active" like a requested one: amount_inactive is the bytes of FREE
 * blocks plus the bytes of pieces not started.
 */
enum { BLK_FREE, BLK_REQUESTED, BLK_RECEIVED };

/* Reading a spilled piece back from disk to hash it goes in these steps. */
#define SW_SCRATCH_LEN	(256u << 10)

struct sw_piece {
	uint32_t index;
	uint32_t nblocks;
	uint32_t nrequested;
	uint32_t nreceived;
	uint32_t first_free;	/* no BLK_FREE block below this one */
	uint8_t *buf;		/* the piece in memory, from its first block */
	bool on_disk;		/* spilled, or no buffer: blocks go to disk */
	struct sw_piece *prev;	/* buffered list (next: also the free list) */
	struct sw_piece *next;
	uint8_t blk[];		/* BLK_* for each block */
};

struct storagewrapper {
	struct storage *st;
	struct sha1 *hashes;
	uint32_t npieces;
	uint32_t piece_len;
	uint32_t last_len;
	uint32_t block_size;
	uint32_t max_blocks;	/* blocks in a full-length piece */
	uint64_t total;
	uint64_t amount_left;
	uint64_t amount_inactive;
	struct bitfield have;
	struct bitfield unwanted;	/* never to be requested (selection) */
	struct sw_piece **active;	/* npieces; NULL: not started */
	struct sw_piece *buffered;	/* started pieces holding a buffer */
	struct sw_piece *spare;		/* recycled sw_piece structs */
	uint8_t **free_bufs;		/* piece buffers not in use */
	size_t nfree_bufs;
	size_t nbufs;			/* buffers allocated */
	size_t max_bufs;
	struct sha1_ctx *sha;
	uint8_t *scratch;		/* SW_SCRATCH_LEN, for spilled pieces */
	sw_verified_fn *verified;	/* NULL: verdicts are return values */
	void *verified_ctx;
	struct sw_piece *held;		/* complete in memory, not yet hashed */
};

static uint64_t
piece_off(const struct storagewrapper *sw, uint32_t i)
{
	return (uint64_t)i * sw->piece_len;
}

uint32_t
sw_piece_len(const struct storagewrapper *sw, uint32_t i)
{
	if (i >= sw->npieces)
		return 0;
	return i == sw->npieces - 1 ? sw->last_len : sw->piece_len;
}

static uint32_t
num_blocks(const struct storagewrapper *sw, uint32_t i)
{
	uint32_t plen = sw_piece_len(sw, i);

	return plen / sw->block_size + (plen % sw->block_size != 0);
}

static uint32_t
block_len(const struct storagewrapper *sw, uint32_t i, uint32_t b)
{
	uint32_t plen = sw_piece_len(sw, i);
	uint32_t begin = b * sw->block_size;

	return plen - begin < sw->block_size ? plen - begin : sw->block_size;
}

static int
check_geometry(uint32_t npieces, uint32_t piece_len, uint64_t total,
    uint64_t st_total, struct bt_err *err)
{
	if (npieces == 0 || piece_len == 0)
		return bt_err_set(err, -EINVAL, "no pieces");
	if (piece_len > SW_MAX_PIECE_LEN)
		return bt_err_set(err, -EFBIG, "piece length %" PRIu32
		    " is over the %u byte limit", piece_len, SW_MAX_PIECE_LEN);
	/* As mainline: piece_len * (n - 1) < total <= piece_len * n. */
	if (total <= (uint64_t)piece_len * (npieces - 1))
		return bt_err_set(err, -EINVAL, "bad data from tracker - "
		    "total too small");
	if (total > (uint64_t)piece_len * npieces)
		return bt_err_set(err, -EINVAL, "bad data from tracker - "
		    "total too big");
	if (total != st_total)
		return bt_err_set(err, -EINVAL, "files hold %" PRIu64
		    " bytes but the pieces cover %" PRIu64, st_total, total);
	return 0;
}

static void
apply_config(struct storagewrapper *sw, const struct sw_config *cfg)
{
	size_t budget = SW_DEFAULT_BUFFER_BUDGET;

	sw->block_size = SW_DEFAULT_BLOCK_SIZE;
	if (cfg != NULL && cfg->block_size > 0)
		sw->block_size = cfg->block_size;
	if (cfg != NULL && cfg->buffer_budget > 0)
		budget = cfg->buffer_budget;
	/* At least one piece, or nothing could ever be assembled in memory. */
	sw->max_bufs = budget / sw->piece_len;
	if (sw->max_bufs == 0)
		sw->max_bufs = 1;
	/* More buffers than pieces could never be used. */
	if (sw->max_bufs > sw->npieces)
		sw->max_bufs = sw->npieces;
}

struct storagewrapper *
sw_new(struct storage *st, const struct sha1 *hashes, uint32_t npieces,
    uint32_t piece_len, uint64_t total_len, const struct sw_config *cfg,
    struct bt_err *err)
{
	struct storagewrapper *sw;

	if (check_geometry(npieces, piece_len, total_len, st_total_len(st),
	    err) < 0)
		return NULL;
	sw = xcalloc(1, sizeof(*sw));
	sw->st = st;
	sw->npieces = npieces;
	sw->piece_len = piece_len;
	sw->last_len = (uint32_t)(total_len - piece_off(sw, npieces - 1));
	sw->total = total_len;
	sw->amount_left = total_len;
	sw->amount_inactive = total_len;
	apply_config(sw, cfg);	/* after npieces and piece_len */
	sw->max_blocks = num_blocks(sw, 0);
	sw->hashes = xreallocarray(NULL, npieces, sizeof(*hashes));
	memcpy(sw->hashes, hashes, (size_t)npieces * sizeof(*hashes));
	sw->active = xcalloc(npieces, sizeof(*sw->active));
	sw->free_bufs = xcalloc(sw->max_bufs, sizeof(*sw->free_bufs));
	sw->sha = sha1_new();
	bf_init(&sw->have, npieces);
	bf_init(&sw->unwanted, npieces);
	return sw;
}

void
sw_free(struct storagewrapper *sw)
{
	struct sw_piece *p;

	if (sw == NULL)
		return;
	for (uint32_t i = 0; i < sw->npieces; i++) {
		if (sw->active[i] != NULL) {
			free(sw->active[i]->buf);
			free(sw->active[i]);
		}
	}
	while ((p = sw->spare) != NULL) {
		sw->spare = p->next;
		free(p);
	}
	for (size_t i = 0; i < sw->nfree_bufs; i++)
		free(sw->free_bufs[i]);
	free(sw->free_bufs);
	free(sw->active);
	free(sw->hashes);
	free(sw->scratch);
	sha1_free(sw->sha);
	bf_release(&sw->have);
	bf_release(&sw->unwanted);
	free(sw);
}

/* ---- piece buffers and spilling ---- */

static void
buffered_unlink(struct storagewrapper *sw, struct sw_piece *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		sw->buffered = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
}

static void
buffered_link(struct storagewrapper *sw, struct sw_piece *p)
{
	p->prev = NULL;
	p->next = sw->buffered;
	if (sw->buffered != NULL)
		sw->buffered->prev = p;
	sw->buffered = p;
}

/* Write the received blocks of p to disk, in runs, and drop its buffer. */
static int
spill(struct storagewrapper *sw, struct sw_piece *p, struct bt_err *err)
{
	uint64_t base = piece_off(sw, p->index);
	uint32_t b = 0, e, bs = sw->block_size;
	int r;

	while (b < p->nblocks) {
		if (p->blk[b] != BLK_RECEIVED) {
			b++;
			continue;
		}
		for (e = b; e < p->nblocks && p->blk[e] == BLK_RECEIVED; e++)
			continue;
		r = st_write(sw->st, base + (uint64_t)b * bs,
		    p->buf + (size_t)b * bs,
		    (size_t)(e - 1 - b) * bs + block_len(sw, p->index, e - 1),
		    err);
		if (r < 0)
			return r;
		b = e;
	}
	buffered_unlink(sw, p);
	return 0;
}

/*
 * A buffer for a piece getting its first block, or NULL: then it works on
 * disk.  Spilling prefers a partial piece that nobody is sending (no
 * outstanding requests), which is the piece least likely to complete soon.
 */
static uint8_t *
take_buffer(struct storagewrapper *sw)
{
	struct bt_err err = BT_ERR_INIT;
	struct sw_piece *p;
	uint8_t *buf;

	if (sw->nfree_bufs > 0)
		return sw->free_bufs[--sw->nfree_bufs];
	if (sw->nbufs < sw->max_bufs) {
		sw->nbufs++;
		return xmalloc(sw->piece_len);
	}
	for (p = sw->buffered; p != NULL; p = p->next)
		if (p->nrequested == 0 && p != sw->held)
			break;
	if (p == NULL)
		return NULL;
	buf = p->buf;
	if (spill(sw, p, &err) < 0) {
		/* The new piece will meet the same disk and report it. */
		log_warn("cannot spill piece %" PRIu32 ": %s", p->index,
		    err.msg);
		return NULL;
	}
	p->buf = NULL;
	p->on_disk = true;
	return buf;
}

static struct sw_piece *
start_piece(struct storagewrapper *sw, uint32_t i)
{
	struct sw_piece *p = sw->spare;

	if (p != NULL)
		sw->spare = p->next;
	else
		p = xmalloc(sizeof(*p) + sw->max_blocks);
	p->index = i;
	p->nblocks = num_blocks(sw, i);
	p->nrequested = p->nreceived = p->first_free = 0;
	memset(p->blk, BLK_FREE, p->nblocks);
	p->prev = p->next = NULL;
	p->buf = NULL;
	p->on_disk = false;
	sw->active[i] = p;
	return p;
}

/*
 * A piece gets its buffer when its first block arrives, not when its first
 * block is requested: a peer answers in order, so of the dozens of pieces
 * a deep request queue touches only one or two are being filled at any
 * time, and the budget goes to those.
 */
static void
piece_buffer(struct storagewrapper *sw, struct sw_piece *p)
{
	if (p->buf != NULL || p->on_disk)
		return;
	p->buf = take_buffer(sw);
	if (p->buf != NULL)
		buffered_link(sw, p);
	else
		p->on_disk = true;
}

/* Forget p's block state and recycle its buffer and struct. */
static void
release_piece(struct storagewrapper *sw, struct sw_piece *p)
{
	if (p->buf != NULL) {
		buffered_unlink(sw, p);
		sw->free_bufs[sw->nfree_bufs++] = p->buf;
		p->buf = NULL;
	}
	sw->active[p->index] = NULL;
	p->next = sw->spare;
	sw->spare = p;
}

/* ---- have, and the bookkeeping ---- */

/* Bytes of piece i in FREE blocks (all of it when not started). */
static uint64_t
inactive_bytes(const struct storagewrapper *sw, uint32_t i)
{
	const struct sw_piece *p = sw->active[i];
	uint64_t n = 0;

	if (p == NULL)
		return sw_piece_len(sw, i);
	for (uint32_t b = 0; b < p->nblocks; b++)
		if (p->blk[b] == BLK_FREE)
			n += block_len(sw, i, b);
	return n;
}

void
sw_mark_have(struct storagewrapper *sw, uint32_t i)
{
	if (i >= sw->npieces || bf_get(&sw->have, i))
		return;
	sw->amount_inactive -= inactive_bytes(sw, i);
	if (sw->active[i] != NULL) {
		if (sw->held == sw->active[i])
			sw->held = NULL;
		release_piece(sw, sw->active[i]);
	}
	bf_set(&sw->have, i);
	sw->amount_left -= sw_piece_len(sw, i);
}

const struct bitfield *
sw_have(const struct storagewrapper *sw)
{
	return &sw->have;
}

bool
sw_do_I_have(const struct storagewrapper *sw, uint32_t i)
{
	return i < sw->npieces && bf_get(&sw->have, i);
}

uint32_t
sw_num_pieces(const struct storagewrapper *sw)
{
	return sw->npieces;
}

uint32_t
sw_block_size(const struct storagewrapper *sw)
{
	return sw->block_size;
}

uint64_t
sw_amount_left(const struct storagewrapper *sw)
{
	return sw->amount_left;
}

uint64_t
sw_amount_inactive(const struct storagewrapper *sw)
{
	return sw->amount_inactive;
}

bool
sw_is_complete(const struct storagewrapper *sw)
{
	return bf_is_complete(&sw->have);
}

bool
sw_is_endgame(const struct storagewrapper *sw)
{
	return sw->amount_inactive == 0 && !sw_is_complete(sw);
}

/* ---- requests ---- */

/*
 * A piece nobody wants (a file left out with --only/--skip) is never handed
 * out and no longer counts as inactive, so endgame starts once every
 * wanted block is asked for.  Only a piece not yet started can be dropped.
 */
void
sw_set_unwanted(struct storagewrapper *sw, uint32_t i)
{
	if (i >= sw->npieces || bf_get(&sw->have, i) ||
	    bf_get(&sw->unwanted, i) || sw->active[i] != NULL)
		return;
	bf_set(&sw->unwanted, i);
	sw->amount_inactive -= sw_piece_len(sw, i);
}

bool
sw_is_wanted(const struct storagewrapper *sw, uint32_t i)
{
	return i < sw->npieces && !bf_get(&sw->unwanted, i);
}

bool
sw_do_I_have_requests(const struct storagewrapper *sw, uint32_t i)
{
	const struct sw_piece *p;

	if (i >= sw->npieces || bf_get(&sw->have, i) ||
	    bf_get(&sw->unwanted, i))
		return false;
	p = sw->active[i];
	return p == NULL || p->nrequested + p->nreceived < p->nblocks;
}

int
sw_new_request(struct storagewrapper *sw, uint32_t i, uint32_t *out_begin,
    uint32_t *out_len)
{
	struct sw_piece *p;
	uint32_t b;

	if (!sw_do_I_have_requests(sw, i))
		return -ENOENT;
	p = sw->active[i];
	if (p == NULL)
		p = start_piece(sw, i);
	for (b = p->first_free; p->blk[b] != BLK_FREE; b++)
		continue;	/* sw_do_I_have_requests: one is FREE */
	p->blk[b] = BLK_REQUESTED;
	p->nrequested++;
	p->first_free = b + 1;
	*out_begin = b * sw->block_size;
	*out_len = block_len(sw, i, b);
	sw->amount_inactive -= *out_len;
	return 0;
}

/* The block index of (begin, len) if it is exactly one of ours, else -1. */
static int64_t
block_index(const struct storagewrapper *sw, uint32_t i, uint32_t begin,
    uint32_t len)
{
	uint32_t b;

	if (begin % sw->block_size != 0)
		return -1;
	b = begin / sw->block_size;
	if (b >= num_blocks(sw, i) || len != block_len(sw, i, b))
		return -1;
	return b;
}

void
sw_request_lost(struct storagewrapper *sw, uint32_t i, uint32_t begin,
    uint32_t len)
{
	struct sw_piece *p;
	int64_t b;

	if (i >= sw->npieces || (p = sw->active[i]) == NULL)
		return;
	b = block_index(sw, i, begin, len);
	if (b < 0 || p->blk[b] != BLK_REQUESTED)
		return;
	p->blk[b] = BLK_FREE;
	p->nrequested--;
	if ((uint32_t)b < p->first_free)
		p->first_free = (uint32_t)b;
	sw->amount_inactive += len;
	/* Nothing in flight or held: give the buffer to a live piece. */
	if (p->nrequested == 0 && p->nreceived == 0)
		release_piece(sw, p);
}

/* ---- blocks coming in ---- */

/* Hash n bytes at torrent offset off, reading them back from disk. */
static int
hash_from_disk(struct storagewrapper *sw, uint64_t off, uint32_t n,
    struct sha1 *out, struct bt_err *err)
{
	uint32_t chunk;
	int r;

	if (sw->scratch == NULL)
		sw->scratch = xmalloc(SW_SCRATCH_LEN);
	sha1_init(sw->sha);
	while (n > 0) {
		chunk = n < SW_SCRATCH_LEN ? n : SW_SCRATCH_LEN;
		r = st_read(sw->st, off, sw->scratch, chunk, err);
		if (r < 0)
			return r;
		sha1_update(sw->sha, sw->scratch, chunk);
		off += chunk;
		n -= chunk;
	}
	sha1_final(sw->sha, out);
	return 0;
}

/*
 * p's digest is d: a good piece in memory is written once, and becomes
 * had; a bad one starts over from nothing.  Returns SW_PIECE_OK,
 * SW_PIECE_FAILED or the -errno of the write.
 */
static int
settle_piece(struct storagewrapper *sw, struct sw_piece *p,
    const struct sha1 *d, struct bt_err *err)
{
	uint32_t i = p->index, plen = sw_piece_len(sw, i);
	bool good = memcmp(d->b, sw->hashes[i].b, SHA1_LEN) == 0;
	int r = 0;

	if (good && p->buf != NULL)
		r = st_write(sw->st, piece_off(sw, i), p->buf, plen, err);
	release_piece(sw, p);
	if (r == 0 && good) {
		bf_set(&sw->have, i);
		sw->amount_left -= plen;
		return SW_PIECE_OK;
	}
	/* Every block was received, so all of plen becomes inactive again. */
	sw->amount_inactive += plen;
	return r < 0 ? r : SW_PIECE_FAILED;
}

/* Hash p, from memory or (spilled) read back from disk, and settle it. */
static int
verify_piece(struct storagewrapper *sw, struct sw_piece *p,
    struct bt_err *err)
{
	uint32_t plen = sw_piece_len(sw, p->index);
	struct sha1 d;
	int r;

	if (p->buf != NULL) {
		sha1_init(sw->sha);
		sha1_update(sw->sha, p->buf, plen);
		sha1_final(sw->sha, &d);
	} else {
		r = hash_from_disk(sw, piece_off(sw, p->index), plen, &d, err);
		if (r < 0) {
			release_piece(sw, p);
			sw->amount_inactive += plen;
			return r;
		}
	}
	return settle_piece(sw, p, &d, err);
}

/* Give the verdict on piece i (SW_PIECE_OK or _FAILED) to the callback. */
static void
tell(struct storagewrapper *sw, uint32_t i, int r)
{
	if (r == SW_PIECE_OK || r == SW_PIECE_FAILED)
		sw->verified(sw->verified_ctx, i, r == SW_PIECE_OK);
}

/* The held piece and p, both in memory, hashed side by side. */
static int
verify_pair(struct storagewrapper *sw, struct sw_piece *p,
    struct bt_err *err)
{
	struct sw_piece *h = sw->held;
	uint32_t hi = h->index, pi = p->index;
	struct sha1 dh, dp;
	int rh, rp;

	sw->held = NULL;
	sha1p_two(h->buf, sw_piece_len(sw, hi), p->buf, sw_piece_len(sw, pi),
	    &dh, &dp);
	rh = settle_piece(sw, h, &dh, err);
	rp = settle_piece(sw, p, &dp, err);
	tell(sw, hi, rh);
	tell(sw, pi, rp);
	return rh < 0 ? rh : rp < 0 ? rp : SW_PIECE_QUEUED;
}

/*
 * All blocks of p are in: verify it.  Without a verified callback the
 * verdict is returned now.  With one, a piece in memory may wait (held)
 * for a second one so that the two are hashed side by side (sha1pair.h),
 * at about 0.55 of the cost of two digests; the caller bounds the wait
 * with sw_verify_held().  Only one piece is held, and only when the pool
 * has buffers enough that holding one does not push another to disk.
 */
static int
finish_piece(struct storagewrapper *sw, struct sw_piece *p,
    struct bt_err *err)
{
	int r;

	if (sw->verified == NULL)
		return verify_piece(sw, p, err);
	if (p->buf != NULL && sw->held != NULL)
		return verify_pair(sw, p, err);
	if (p->buf != NULL && sw->max_bufs >= 3) {
		sw->held = p;
		return SW_PIECE_QUEUED;
	}
	r = verify_piece(sw, p, err);
	tell(sw, p->index, r);
	return r < 0 ? r : SW_PIECE_QUEUED;
}

void
sw_set_verified(struct storagewrapper *sw, sw_verified_fn *fn, void *ctx)
{
	sw->verified = fn;
	sw->verified_ctx = ctx;
}

bool
sw_has_held(const struct storagewrapper *sw)
{
	return sw->held != NULL;
}

int
sw_verify_held(struct storagewrapper *sw, struct bt_err *err)
{
	struct sw_piece *h = sw->held;
	uint32_t i;
	int r;

	if (h == NULL)
		return 0;
	sw->held = NULL;
	i = h->index;
	r = verify_piece(sw, h, err);
	tell(sw, i, r);
	return r < 0 ? r : 0;
}

int
sw_piece_came_in(struct storagewrapper *sw, uint32_t i, uint32_t begin,
    const uint8_t *data, uint32_t len, struct bt_err *err)
{
	uint32_t plen = sw_piece_len(sw, i);
	struct sw_piece *p;
	int64_t b;
	int r;

	if (i >= sw->npieces || len == 0 || begin > plen || len > plen - begin)
		return bt_err_set(err, -EINVAL, "block %" PRIu32 ":%" PRIu32
		    "+%" PRIu32 " is outside the torrent", i, begin, len);
	b = block_index(sw, i, begin, len);
	if (bf_get(&sw->have, i) || b < 0)
		return SW_BLOCK_IGNORED;
	p = sw->active[i];
	if (p == NULL)
		p = start_piece(sw, i);
	if (p->blk[b] == BLK_RECEIVED)
		return SW_BLOCK_IGNORED;
	piece_buffer(sw, p);
	if (p->buf != NULL) {
		memcpy(p->buf + begin, data, len);
	} else {
		r = st_write(sw->st, piece_off(sw, i) + begin, data, len, err);
		if (r < 0)
			return r;
	}
	if (p->blk[b] == BLK_FREE)
		sw->amount_inactive -= len;	/* unasked-for, still useful */
	else
		p->nrequested--;
	p->blk[b] = BLK_RECEIVED;
	p->nreceived++;
	if (p->nreceived < p->nblocks)
		return SW_BLOCK_STORED;
	return finish_piece(sw, p, err);
}

/* ---- serving pieces ---- */

static int
check_served(const struct storagewrapper *sw, uint32_t i, uint32_t begin,
    uint32_t len, struct bt_err *err)
{
	uint32_t plen = sw_piece_len(sw, i);

	if (i >= sw->npieces || begin > plen || len > plen - begin)
		return bt_err_set(err, -EINVAL, "request %" PRIu32 ":%" PRIu32
		    "+%" PRIu32 " is outside the torrent", i, begin, len);
	if (!bf_get(&sw->have, i))
		return bt_err_set(err, -ENOENT, "piece %" PRIu32 " is not "
		    "complete", i);
	return 0;
}

int
sw_get_piece(struct storagewrapper *sw, uint32_t i, uint32_t begin,
    uint32_t len, uint8_t *buf, struct bt_err *err)
{
	int r = check_served(sw, i, begin, len, err);

	if (r < 0)
		return r;
	return st_read(sw->st, piece_off(sw, i) + begin, buf, len, err);
}

int
sw_map_piece(struct storagewrapper *sw, uint32_t i, uint32_t begin,
    uint32_t len, int *out_fd, uint64_t *out_off, size_t *out_n,
    struct bt_err *err)
{
	int r = check_served(sw, i, begin, len, err);

	if (r < 0)
		return r;
	return st_map(sw->st, piece_off(sw, i) + begin, len, out_fd, out_off,
	    out_n, err);
}

/* ---- the start-up hash check ----
 *
 * The same checker (checker.h) that btdownload runs a step at a time from
 * its reactor, run here to the end at once over the pieces worth reading.
 */

struct check_run {
	struct storagewrapper *sw;
	sw_progress_fn *fn;
	void *ctx;
	uint32_t done;		/* pieces examined: hashed or skipped */
};

static void
checked_piece(void *ctx, uint32_t i, bool ok)
{
	struct check_run *c = ctx;

	if (ok)
		sw_mark_have(c->sw, i);
	c->done++;
	if (c->fn != NULL)
		c->fn(c->ctx, c->done, c->sw->npieces);
}

/* Worth reading: not had, not started, and on disk before we began. */
static bool
is_candidate(const struct storagewrapper *sw, uint32_t i)
{
	return !bf_get(&sw->have, i) && sw->active[i] == NULL &&
	    st_range_existed(sw->st, piece_off(sw, i), sw_piece_len(sw, i));
}

int
sw_check_existing(struct storagewrapper *sw, sw_progress_fn *fn, void *ctx,
    struct bt_err *err)
{
	struct check_run c = { sw, fn, ctx, 0 };
	struct bitfield todo;
	struct checker *ck;
	int r;

	bf_init(&todo, sw->npieces);
	for (uint32_t i = 0; i < sw->npieces; i++)
		if (is_candidate(sw, i))
			bf_set(&todo, i);
	c.done = sw->npieces - todo.count;
	if (fn != NULL)
		fn(ctx, c.done, sw->npieces);
	ck = ck_new(sw->st, sw->hashes, sw->piece_len, st_total_len(sw->st),
	    &todo);
	/* Pieces that matched before an error stay had. */
	while ((r = ck_step(ck, SIZE_MAX, checked_piece, &c, err)) == 0)
		continue;
	ck_free(ck);
	bf_release(&todo);
	return r < 0 ? r : 0;
}

/*
 * piecepicker: mainline PiecePicker.py with O(1) availability updates.
 *
 * Mainline keeps interests[k], the list of pieces k peers have, and
 * pos_in_interests[p], p's index in its list.  We keep the same: a piece
 * moves between buckets by swap-removal and a random-position swap-insert,
 * so order within a bucket stays random without ever shuffling.
 *
 * Peers with every piece are not spread over the buckets; they are one
 * counter added to every piece's availability.  A uniform offset does not
 * change which piece is rarer, and it spares npieces bucket moves every
 * time a seed connects or leaves.
 */
#include "piecepicker.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

enum {
	PP_COMPLETE = 1 << 0,
	PP_STARTED = 1 << 1,
	PP_SEEDSTARTED = 1 << 2,
};

/* A growable array of piece indices. */
struct pp_vec {
	uint32_t *v;
	uint32_t n;
	uint32_t cap;
};

struct piecepicker {
	uint32_t npieces;
	uint32_t cutoff;	/* rarest_first_cutoff */
	uint32_t numgot;	/* complete pieces */
	uint32_t nseeds;	/* peers counted by pp_got_seed */
	uint64_t rng;		/* splitmix64 state */
	bool sequential;

	uint32_t *count;	/* non-seed peers having each piece */
	uint32_t *pos;		/* index in buckets[count[i]] */
	uint8_t *flags;		/* PP_COMPLETE, PP_STARTED, PP_SEEDSTARTED */
	struct pp_vec *buckets;	/* buckets[k]: incomplete pieces with count k */
	uint32_t nbuckets;

	uint32_t *scrambled;	/* fixed random permutation for random first */
	uint32_t scursor;	/* scrambled[0..scursor) are all complete */
	uint32_t seqcursor;	/* pieces [0..seqcursor) are all complete */

	struct pp_vec started;
	struct pp_vec seedstarted;
};

/* splitmix64: tiny, any seed (0 included) gives a good stream. */
static uint64_t
pp_rand(struct piecepicker *pp)
{
	uint64_t z = (pp->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) for 1 <= n <= 2^32, by multiply-shift (bias < 2^-32). */
static uint32_t
pp_randrange(struct piecepicker *pp, uint64_t n)
{
	return (uint32_t)(((pp_rand(pp) >> 32) * n) >> 32);
}

static void
vec_push(struct pp_vec *vec, uint32_t x)
{
	if (vec->n == vec->cap) {
		vec->cap = vec->cap < 16 ? 16 : vec->cap * 2;
		vec->v = xreallocarray(vec->v, vec->cap, sizeof(vec->v[0]));
	}
	vec->v[vec->n++] = x;
}

/*
 * Give memory back once a bucket has drained: every piece may pass through
 * every count up to the number of peers, and without this each bucket
 * would keep room for all of them.
 */
static void
vec_shrink(struct pp_vec *vec)
{
	if (vec->cap > 64 && vec->n < vec->cap / 4) {
		vec->cap /= 2;
		vec->v = xreallocarray(vec->v, vec->cap, sizeof(vec->v[0]));
	}
}

/* Remove x from an unordered set by swapping the last element in. */
static void
vec_remove_value(struct pp_vec *vec, uint32_t x)
{
	for (uint32_t k = 0; k < vec->n; k++) {
		if (vec->v[k] == x) {
			vec->v[k] = vec->v[--vec->n];
			return;
		}
	}
}

/* Take piece i out of its bucket, swapping the bucket's last piece in. */
static void
bucket_remove(struct piecepicker *pp, uint32_t i)
{
	struct pp_vec *b = &pp->buckets[pp->count[i]];
	uint32_t p = pp->pos[i];
	uint32_t last = b->v[--b->n];

	b->v[p] = last;
	pp->pos[last] = p;
	vec_shrink(b);
}

/*
 * Put piece i into bucket count[i] at a random position, moving the piece
 * that was there to the end (mainline _shift_over).
 */
static void
bucket_insert_random(struct piecepicker *pp, uint32_t i)
{
	uint32_t k = pp->count[i];
	struct pp_vec *b;
	uint32_t p, old;

	if (k == pp->nbuckets) {
		pp->buckets = xreallocarray(pp->buckets, k + 1,
		    sizeof(pp->buckets[0]));
		memset(&pp->buckets[k], 0, sizeof(pp->buckets[k]));
		pp->nbuckets = k + 1;
	}
	b = &pp->buckets[k];
	p = pp_randrange(pp, (uint64_t)b->n + 1);
	if (p == b->n) {
		pp->pos[i] = b->n;
		vec_push(b, i);
		return;
	}
	old = b->v[p];
	pp->pos[old] = b->n;
	vec_push(b, old);
	b->v[p] = i;
	pp->pos[i] = p;
}

/* Fisher-Yates over 0..n-1. */
static void
pp_shuffle(struct piecepicker *pp, uint32_t *v, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++)
		v[k] = k;
	for (uint32_t k = n; k > 1; k--) {
		uint32_t j = pp_randrange(pp, k);
		uint32_t t = v[k - 1];

		v[k - 1] = v[j];
		v[j] = t;
	}
}

struct piecepicker *
pp_new(uint32_t npieces, uint32_t rarest_first_cutoff, uint64_t seed)
{
	struct piecepicker *pp = xcalloc(1, sizeof(*pp));
	struct pp_vec *b0;

	pp->npieces = npieces;
	pp->cutoff = rarest_first_cutoff;
	pp->rng = seed;
	pp->count = xcalloc(npieces, sizeof(pp->count[0]));
	pp->pos = xcalloc(npieces, sizeof(pp->pos[0]));
	pp->flags = xcalloc(npieces, sizeof(pp->flags[0]));
	pp->scrambled = xcalloc(npieces, sizeof(pp->scrambled[0]));
	pp_shuffle(pp, pp->scrambled, npieces);

	/*
	 * Mainline starts bucket 0 in index order, which is harmless there
	 * because a seed moves every piece to bucket 1 at a random place.
	 * Seeds never move pieces here, so bucket 0 must start shuffled or
	 * rarest first among seeds alone would pick pieces in order.
	 */
	pp->nbuckets = 1;
	pp->buckets = xcalloc(1, sizeof(pp->buckets[0]));
	b0 = &pp->buckets[0];
	b0->cap = npieces;
	b0->n = npieces;
	b0->v = xcalloc(npieces, sizeof(b0->v[0]));
	pp_shuffle(pp, b0->v, npieces);
	for (uint32_t k = 0; k < npieces; k++)
		pp->pos[b0->v[k]] = k;
	return pp;
}

void
pp_free(struct piecepicker *pp)
{
	if (pp == NULL)
		return;
	for (uint32_t k = 0; k < pp->nbuckets; k++)
		free(pp->buckets[k].v);
	free(pp->buckets);
	free(pp->count);
	free(pp->pos);
	free(pp->flags);
	free(pp->scrambled);
	free(pp->started.v);
	free(pp->seedstarted.v);
	free(pp);
}

void
pp_got_have(struct piecepicker *pp, uint32_t i)
{
	assert(i < pp->npieces);
	if (pp->flags[i] & PP_COMPLETE)
		return;
	bucket_remove(pp, i);
	pp->count[i]++;
	bucket_insert_random(pp, i);
}

void
pp_lost_have(struct piecepicker *pp, uint32_t i)
{
	assert(i < pp->npieces);
	if (pp->flags[i] & PP_COMPLETE)
		return;
	assert(pp->count[i] > 0);
	bucket_remove(pp, i);
	pp->count[i]--;
	bucket_insert_random(pp, i);
}

void
pp_got_seed(struct piecepicker *pp)
{
	pp->nseeds++;
}

void
pp_lost_seed(struct piecepicker *pp)
{
	assert(pp->nseeds > 0);
	pp->nseeds--;
}

void
pp_requested(struct piecepicker *pp, uint32_t i, bool peer_is_seed)
{
	assert(i < pp->npieces);
	if (pp->flags[i] & PP_COMPLETE)
		return;
	if (!(pp->flags[i] & PP_STARTED)) {
		pp->flags[i] |= PP_STARTED;
		vec_push(&pp->started, i);
	}
	if (peer_is_seed && !(pp->flags[i] & PP_SEEDSTARTED)) {
		pp->flags[i] |= PP_SEEDSTARTED;
		vec_push(&pp->seedstarted, i);
	}
}

static void
unstart(struct piecepicker *pp, uint32_t i)
{
	if (pp->flags[i] & PP_STARTED)
		vec_remove_value(&pp->started, i);
	if (pp->flags[i] & PP_SEEDSTARTED)
		vec_remove_value(&pp->seedstarted, i);
	pp->flags[i] &= ~(PP_STARTED | PP_SEEDSTARTED);
}

void
pp_complete(struct piecepicker *pp, uint32_t i)
{
	assert(i < pp->npieces);
	if (pp->flags[i] & PP_COMPLETE)
		return;
	bucket_remove(pp, i);
	unstart(pp, i);
	pp->flags[i] |= PP_COMPLETE;
	pp->numgot++;
}

/*
 * Mainline deletes the piece and appends it, shifting everything behind it
 * (O(bucket)).  We swap it with the last piece instead: O(1), and since the
 * order within a bucket is random anyway, the others' order stays random.
 */
void
pp_bump(struct piecepicker *pp, uint32_t i)
{
	struct pp_vec *b;
	uint32_t p, last;

	assert(i < pp->npieces);
	if (pp->flags[i] & PP_COMPLETE)
		return;
	b = &pp->buckets[pp->count[i]];
	p = pp->pos[i];
	last = b->v[b->n - 1];
	b->v[p] = last;
	pp->pos[last] = p;
	b->v[b->n - 1] = i;
	pp->pos[i] = b->n - 1;
	unstart(pp, i);
}

/*
 * Step 1: among started pieces the peer can supply, one of those with the
 * lowest availability, chosen uniformly (reservoir sampling, no list).
 */
static int64_t
next_started(struct piecepicker *pp, pp_want_fn *want, void *ctx,
    bool peer_is_seed)
{
	const struct pp_vec *s = peer_is_seed ? &pp->seedstarted : &pp->started;
	uint32_t best = UINT32_MAX, ties = 0;
	int64_t pick = -1;

	for (uint32_t k = 0; k < s->n; k++) {
		uint32_t i = s->v[k];

		if (pp->count[i] > best || !want(ctx, i))
			continue;
		if (pp->count[i] < best) {
			best = pp->count[i];
			ties = 0;
		}
		/* The t-th tie replaces the pick with probability 1/t. */
		if (pp_randrange(pp, ++ties) == 0)
			pick = i;
	}
	return pick;
}

/*
 * Step 2: the first wanted piece of the fixed permutation.  The cursor
 * skips the complete prefix so repeated calls do not rescan it.
 */
static int64_t
next_random_first(struct piecepicker *pp, pp_want_fn *want, void *ctx)
{
	while (pp->scursor < pp->npieces &&
	    (pp->flags[pp->scrambled[pp->scursor]] & PP_COMPLETE))
		pp->scursor++;
	for (uint32_t k = pp->scursor; k < pp->npieces; k++) {
		uint32_t i = pp->scrambled[k];

		if (!(pp->flags[i] & PP_COMPLETE) && want(ctx, i))
			return i;
	}
	return -1;
}

/*
 * Step 3: buckets in increasing availability.  Bucket 0 holds pieces only
 * seeds have, so it counts only while a seed is connected.
 */
static int64_t
next_rarest(struct piecepicker *pp, pp_want_fn *want, void *ctx)
{
	for (uint32_t k = pp->nseeds > 0 ? 0 : 1; k < pp->nbuckets; k++) {
		const struct pp_vec *b = &pp->buckets[k];

		for (uint32_t j = 0; j < b->n; j++) {
			if (want(ctx, b->v[j]))
				return b->v[j];
		}
	}
	return -1;
}

static int64_t
next_sequential(struct piecepicker *pp, pp_want_fn *want, void *ctx)
{
	while (pp->seqcursor < pp->npieces &&
	    (pp->flags[pp->seqcursor] & PP_COMPLETE))
		pp->seqcursor++;
	for (uint32_t i = pp->seqcursor; i < pp->npieces; i++) {
		if (!(pp->flags[i] & PP_COMPLETE) && want(ctx, i))
			return i;
	}
	return -1;
}

int64_t
pp_next(struct piecepicker *pp, pp_want_fn *want, void *ctx,
    bool peer_is_seed)
{
	int64_t i;

	if (pp->sequential)
		return next_sequential(pp, want, ctx);
	i = next_started(pp, want, ctx, peer_is_seed);
	if (i >= 0)
		return i;
	if (pp->numgot < pp->cutoff)
		return next_random_first(pp, want, ctx);
	return next_rarest(pp, want, ctx);
}

void
pp_set_sequential(struct piecepicker *pp, bool on)
{
	pp->sequential = on;
}

uint32_t
pp_num_complete(const struct piecepicker *pp)
{
	return pp->numgot;
}

bool
pp_is_complete(const struct piecepicker *pp, uint32_t i)
{
	assert(i < pp->npieces);
	return (pp->flags[i] & PP_COMPLETE) != 0;
}

uint32_t
pp_availability(const struct piecepicker *pp, uint32_t i)
{
	assert(i < pp->npieces);
	return pp->count[i] + pp->nseeds;
}

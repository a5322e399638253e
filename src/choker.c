/*
 * choker: mainline Choker.py.
 *
 * A rechoke first decides every peer's state into a plan (a snapshot of the
 * list) and only then applies it, so that choke/unchoke callbacks that come
 * back into the choker cannot disturb the walk.  A peer removed while the
 * plan is applied is recognised by a removal counter and skipped; a rechoke
 * requested meanwhile is rerun when the current one finishes.
 */
#include "choker.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* One peer's line in a rechoke plan. */
struct ch_plan {
	void *peer;
	double rate;
	size_t idx;		/* position in the list (sort tie-break) */
	bool interested;
	bool preferred;		/* among the top max_uploads - 1 */
	bool unchoke;		/* the decision */
};

struct choker {
	struct ch_peer_ops ops;
	int max_uploads;
	int min_uploads;
	bool done;		/* seeding */
	uint64_t rng;		/* splitmix64 state */
	unsigned rounds;

	void **peers;		/* in choker order */
	size_t npeers;
	size_t cap;

	void *optimistic;	/* chosen by the last rechoke, or NULL */

	struct ch_plan *plan;	/* scratch for rechoke, cap entries */
	struct ch_plan *cand;	/* scratch: rate-sorted candidates */
	size_t plancap;
	bool rechoking;		/* a rechoke is applying its plan */
	bool again;		/* and another was asked for meanwhile */
	unsigned long removals;	/* bumped by every peer removal */
};

static uint64_t
ch_rand(struct choker *ch)
{
	uint64_t z = (ch->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) for 1 <= n <= 2^32 (multiply-shift, bias < 2^-32). */
static size_t
ch_randrange(struct choker *ch, uint64_t n)
{
	return (size_t)(((ch_rand(ch) >> 32) * n) >> 32);
}

struct choker *
ch_new(const struct ch_peer_ops *ops, int max_uploads, int min_uploads,
    uint64_t seed)
{
	struct choker *ch = xcalloc(1, sizeof(*ch));

	ch->ops = *ops;
	ch->max_uploads = max_uploads;
	ch->min_uploads = min_uploads;
	ch->rng = seed;
	return ch;
}

void
ch_free(struct choker *ch)
{
	if (ch == NULL)
		return;
	free(ch->peers);
	free(ch->plan);
	free(ch->cand);
	free(ch);
}

void
ch_set_done(struct choker *ch, bool seeding)
{
	ch->done = seeding;
}

/* peer's list position, or SIZE_MAX. */
static size_t
find_peer(const struct choker *ch, const void *peer)
{
	for (size_t i = 0; i < ch->npeers; i++) {
		if (ch->peers[i] == peer)
			return i;
	}
	return SIZE_MAX;
}

/* Rate by what the peer gives us while leeching, by what we give it after. */
static double
peer_rate(const struct choker *ch, void *peer)
{
	double r = ch->done ? ch->ops.upload_rate(peer) :
	    ch->ops.download_rate(peer);

	/* A NaN would make the sort's comparisons inconsistent. */
	return r == r ? r : 0.0;
}

/* Best rate first; equal rates keep list order so the result is stable. */
static int
cand_cmp(const void *a, const void *b)
{
	const struct ch_plan *x = a, *y = b;

	if (x->rate != y->rate)
		return x->rate > y->rate ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Snapshot the list and mark the max_uploads - 1 preferred peers. */
static size_t
plan_preferred(struct choker *ch)
{
	size_t n = ch->npeers, ncand = 0, npref;

	if (ch->plancap < n) {
		ch->plan = xreallocarray(ch->plan, n, sizeof(ch->plan[0]));
		ch->cand = xreallocarray(ch->cand, n, sizeof(ch->cand[0]));
		ch->plancap = n;
	}
	for (size_t i = 0; i < n; i++) {
		struct ch_plan *p = &ch->plan[i];

		p->peer = ch->peers[i];
		p->idx = i;
		p->interested = ch->ops.is_interested(p->peer);
		p->preferred = false;
		if (!p->interested ||
		    (!ch->done && ch->ops.is_snubbed(p->peer)))
			continue;
		p->rate = peer_rate(ch, p->peer);
		ch->cand[ncand++] = *p;
	}
	/* cand is NULL while there have never been peers: qsort(NULL, 0)
	 * is undefined behaviour (its pointer is declared nonnull). */
	if (ncand > 1)
		qsort(ch->cand, ncand, sizeof(ch->cand[0]), cand_cmp);
	npref = ch->max_uploads > 1 ? (size_t)ch->max_uploads - 1 : 0;
	if (npref > ncand)
		npref = ncand;
	for (size_t k = 0; k < npref; k++)
		ch->plan[ch->cand[k].idx].preferred = true;
	return npref;
}

/*
 * Mainline _rechoke's walk: after the preferred peers, unchoke in list
 * order while fewer than min_uploads interested peers are unchoked or no
 * optimistic unchoke has been reached yet.
 */
static void
plan_walk(struct choker *ch, size_t count)
{
	bool hit = false;

	ch->optimistic = NULL;
	for (size_t i = 0; i < ch->npeers; i++) {
		struct ch_plan *p = &ch->plan[i];

		p->unchoke = true;
		if (p->preferred)
			continue;
		if ((int)count < ch->min_uploads || !hit) {
			if (p->interested) {
				if (!hit)
					ch->optimistic = p->peer;
				count++;
				hit = true;
			}
		} else {
			p->unchoke = false;
		}
	}
}

/*
 * Apply the plan.  If a callback removed peers, every later entry is
 * checked against the live list first, so a freed peer is never touched.
 */
static void
plan_apply(struct choker *ch, size_t n)
{
	unsigned long removals = ch->removals;

	for (size_t i = 0; i < n; i++) {
		struct ch_plan *p = &ch->plan[i];
		bool choked;

		if (ch->removals != removals &&
		    find_peer(ch, p->peer) == SIZE_MAX)
			continue;
		choked = ch->ops.is_choked(p->peer);
		if (p->unchoke && choked)
			ch->ops.unchoke(p->peer);
		else if (!p->unchoke && !choked)
			ch->ops.choke(p->peer);
	}
}

static void
rechoke(struct choker *ch)
{
	if (ch->rechoking) {
		ch->again = true;
		return;
	}
	ch->rechoking = true;
	do {
		size_t n = ch->npeers;

		ch->again = false;
		plan_walk(ch, plan_preferred(ch));
		plan_apply(ch, n);
	} while (ch->again);
	ch->rechoking = false;
}

void
ch_connection_made_at(struct choker *ch, void *peer, size_t pos)
{
	if (find_peer(ch, peer) != SIZE_MAX)
		return;
	if (pos > ch->npeers)
		pos = ch->npeers;
	if (ch->npeers == ch->cap) {
		ch->cap = ch->cap < 8 ? 8 : ch->cap * 2;
		ch->peers = xreallocarray(ch->peers, ch->cap,
		    sizeof(ch->peers[0]));
	}
	memmove(&ch->peers[pos + 1], &ch->peers[pos],
	    (ch->npeers - pos) * sizeof(ch->peers[0]));
	ch->peers[pos] = peer;
	ch->npeers++;
	rechoke(ch);
}

void
ch_connection_made(struct choker *ch, void *peer)
{
	/* randrange(-2, n + 1) has n + 3 values; -2, -1 and 0 mean front. */
	size_t r = ch_randrange(ch, (uint64_t)ch->npeers + 3);

	ch_connection_made_at(ch, peer, r < 2 ? 0 : r - 2);
}

void
ch_connection_lost(struct choker *ch, void *peer)
{
	size_t i = find_peer(ch, peer);

	if (i == SIZE_MAX)
		return;
	memmove(&ch->peers[i], &ch->peers[i + 1],
	    (ch->npeers - i - 1) * sizeof(ch->peers[0]));
	ch->npeers--;
	ch->removals++;
	if (ch->optimistic == peer)
		ch->optimistic = NULL;
	if (ch->ops.is_interested(peer) && !ch->ops.is_choked(peer))
		rechoke(ch);
}

void
ch_interested(struct choker *ch, void *peer)
{
	if (!ch->ops.is_choked(peer))
		rechoke(ch);
}

void
ch_not_interested(struct choker *ch, void *peer)
{
	if (!ch->ops.is_choked(peer))
		rechoke(ch);
}

/* Reverse peers[a..b). */
static void
reverse(void **v, size_t a, size_t b)
{
	while (a + 1 < b) {
		void *t = v[a];

		v[a++] = v[--b];
		v[b] = t;
	}
}

/*
 * Rotate the list so the first choked, interested peer is at the front:
 * the next rechoke's walk then reaches it first and makes it optimistic.
 * Rotating rather than moving keeps everyone's turn in the same order.
 */
static void
rotate_optimistic(struct choker *ch)
{
	for (size_t i = 0; i < ch->npeers; i++) {
		void *p = ch->peers[i];

		if (ch->ops.is_choked(p) && ch->ops.is_interested(p)) {
			reverse(ch->peers, 0, i);
			reverse(ch->peers, i, ch->npeers);
			reverse(ch->peers, 0, ch->npeers);
			return;
		}
	}
}

void
ch_round(struct choker *ch)
{
	ch->rounds++;
	if (ch->rounds % 3 == 0)
		rotate_optimistic(ch);
	rechoke(ch);
}

void
ch_change_max_uploads(struct choker *ch, int max_uploads)
{
	ch->max_uploads = max_uploads;
	rechoke(ch);
}

size_t
ch_num_peers(const struct choker *ch)
{
	return ch->npeers;
}

void *
ch_peer_at(const struct choker *ch, size_t i)
{
	assert(i < ch->npeers);
	return ch->peers[i];
}

bool
ch_is_optimistic(const struct choker *ch, const void *peer)
{
	return peer != NULL && ch->optimistic == peer;
}

#include "piecepicker.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "check.h"

/* A fake peer: which pieces it has, and which we refuse to ask for. */
struct fpeer {
	const bool *has;	/* NULL: has everything */
	const bool *skip;	/* NULL: skip nothing */
	unsigned calls;
};

static bool
want(void *ctx, uint32_t i)
{
	struct fpeer *f = ctx;

	f->calls++;
	if (f->skip != NULL && f->skip[i])
		return false;
	return f->has == NULL || f->has[i];
}

static bool
want_all(void *ctx, uint32_t i)
{
	(void)ctx;
	(void)i;
	return true;
}

static bool
want_none(void *ctx, uint32_t i)
{
	(void)ctx;
	(void)i;
	return false;
}

/* Test-local PRNG so the tests do not depend on the picker's stream. */
static uint64_t
trand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
test_availability_moves(void)
{
	struct piecepicker *pp = pp_new(10, 0, 1);

	CHECK_INT_EQ(pp_availability(pp, 3), 0);
	pp_got_have(pp, 3);
	pp_got_have(pp, 3);
	pp_got_have(pp, 3);
	pp_got_have(pp, 7);
	CHECK_INT_EQ(pp_availability(pp, 3), 3);
	CHECK_INT_EQ(pp_availability(pp, 7), 1);
	/* Nobody has anything but 3 and 7; 7 is rarer. */
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), 7);
	CHECK_INT_EQ(pp_next(pp, want_none, NULL, false), -1);
	pp_got_have(pp, 7);
	pp_got_have(pp, 7);
	pp_got_have(pp, 7);
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), 3);
	pp_lost_have(pp, 3);
	pp_lost_have(pp, 3);
	CHECK_INT_EQ(pp_availability(pp, 3), 1);
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), 3);
	pp_lost_have(pp, 3);
	CHECK_INT_EQ(pp_availability(pp, 3), 0);
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), 7);
	for (int k = 0; k < 4; k++)
		pp_lost_have(pp, 7);
	/* Pieces nobody has are never offered. */
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), -1);
	pp_free(pp);
}

static void
test_rarest_first(void)
{
	enum { N = 200 };
	uint64_t s = 42;
	uint32_t cnt[N];
	bool skip[N] = { false };
	struct fpeer f = { NULL, skip, 0 };
	struct piecepicker *pp = pp_new(N, 0, 7);

	for (uint32_t i = 0; i < N; i++) {
		cnt[i] = 1 + (uint32_t)(trand(&s) % 20);
		for (uint32_t k = 0; k < cnt[i]; k++)
			pp_got_have(pp, i);
	}
	/* Skip each pick in turn: picks come in non-decreasing rarity. */
	for (uint32_t n = 0, prev = 0; n < N; n++) {
		int64_t i = pp_next(pp, want, &f, false);
		uint32_t min = UINT32_MAX;

		for (uint32_t j = 0; j < N; j++) {
			if (!skip[j] && cnt[j] < min)
				min = cnt[j];
		}
		CHECK(i >= 0);
		if (i < 0)
			break;
		CHECK_INT_EQ(cnt[i], min);
		CHECK(cnt[i] >= prev);
		prev = cnt[i];
		skip[i] = true;
	}
	CHECK_INT_EQ(pp_next(pp, want, &f, false), -1);
	pp_free(pp);
}

static void
test_partial_first(void)
{
	bool has[10] = { false };
	struct fpeer f = { has, NULL, 0 };
	struct piecepicker *pp = pp_new(10, 0, 3);

	for (uint32_t i = 0; i < 10; i++) {
		for (uint32_t k = 0; k <= i; k++)
			pp_got_have(pp, i);
	}
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), 0);
	/* Started pieces win over rarer ones, lowest availability first. */
	pp_requested(pp, 8, false);
	pp_requested(pp, 5, false);
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), 5);
	/* ... but only those the peer can supply. */
	has[8] = true;
	has[1] = true;
	CHECK_INT_EQ(pp_next(pp, want, &f, false), 8);
	has[8] = false;
	CHECK_INT_EQ(pp_next(pp, want, &f, false), 1);
	/* A seed is offered only pieces started from a seed. */
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, true), 0);
	pp_requested(pp, 9, true);
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, true), 9);
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), 5);
	pp_requested(pp, 9, false);
	pp_requested(pp, 5, false);
	pp_complete(pp, 5);
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), 8);
	pp_complete(pp, 9);
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, true), 0);
	pp_free(pp);
}

/* Ties among started pieces: random, yet fixed by the seed. */
static void
test_partial_ties(void)
{
	unsigned hits[4] = { 0 };
	int64_t first[2] = { -1, -1 };

	for (uint64_t seed = 0; seed < 400; seed++) {
		struct piecepicker *pp = pp_new(8, 0, seed);
		int64_t i;

		for (uint32_t p = 0; p < 8; p++)
			pp_got_have(pp, p);
		for (uint32_t p = 0; p < 4; p++)
			pp_requested(pp, p, false);
		pp_got_have(pp, 7);
		i = pp_next(pp, want_all, NULL, false);
		CHECK(i >= 0 && i < 4);
		if (i >= 0 && i < 4)
			hits[i]++;
		if (seed < 2)
			first[seed] = i;
		pp_free(pp);
	}
	for (int k = 0; k < 4; k++)
		CHECK(hits[k] > 60 && hits[k] < 140);
	/* Same seed, same answer. */
	for (uint64_t seed = 0; seed < 2; seed++) {
		struct piecepicker *pp = pp_new(8, 0, seed);

		for (uint32_t p = 0; p < 8; p++)
			pp_got_have(pp, p);
		for (uint32_t p = 0; p < 4; p++)
			pp_requested(pp, p, false);
		pp_got_have(pp, 7);
		CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), first[seed]);
		pp_free(pp);
	}
}

/* Ties in rarest first: random, yet fixed by the seed. */
static void
test_rarest_ties(void)
{
	enum { N = 16, SEEDS = 800 };
	unsigned hits[N] = { 0 };
	int64_t again = -1;

	for (uint64_t seed = 0; seed < SEEDS; seed++) {
		struct piecepicker *pp = pp_new(N, 0, seed);
		int64_t i;

		for (uint32_t p = 0; p < N; p++)
			pp_got_have(pp, p);
		i = pp_next(pp, want_all, NULL, false);
		CHECK(i >= 0 && i < N);
		if (i >= 0 && i < N)
			hits[i]++;
		pp_free(pp);
	}
	for (int k = 0; k < N; k++)
		CHECK(hits[k] > SEEDS / N / 2 && hits[k] < SEEDS / N * 2);
	for (int rep = 0; rep < 2; rep++) {
		struct piecepicker *pp = pp_new(N, 0, 99);

		for (uint32_t p = 0; p < N; p++)
			pp_got_have(pp, p);
		if (rep == 0)
			again = pp_next(pp, want_all, NULL, false);
		else
			CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), again);
		pp_free(pp);
	}
}

static void
test_random_first_cutoff(void)
{
	enum { N = 64 };
	bool skip[N] = { false };
	struct fpeer f = { NULL, skip, 0 };
	struct piecepicker *pp = pp_new(N, 3, 11);
	int64_t p, q;

	for (uint32_t i = 0; i < N; i++) {
		for (uint32_t k = 0; k < 1 + i % 5; k++)
			pp_got_have(pp, i);
	}
	/* Random first ignores availability: the same piece comes back. */
	p = pp_next(pp, want_all, NULL, false);
	CHECK(p >= 0);
	for (uint32_t i = 0; i < N; i++) {
		if ((int64_t)i != p)
			pp_got_have(pp, i);
	}
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), p);
	/* It walks a fixed permutation: skipping p gives the next one. */
	skip[p] = true;
	q = pp_next(pp, want, &f, false);
	CHECK(q >= 0 && q != p);
	pp_complete(pp, (uint32_t)p);
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), q);
	pp_complete(pp, (uint32_t)q);
	CHECK(pp_next(pp, want_all, NULL, false) >= 0);
	/* Three complete: rarest first from now on. */
	pp_complete(pp, (uint32_t)pp_next(pp, want_all, NULL, false));
	CHECK_INT_EQ(pp_num_complete(pp), 3);
	p = pp_next(pp, want_all, NULL, false);
	CHECK(p >= 0);
	if (p >= 0)
		CHECK_INT_EQ(pp_availability(pp, (uint32_t)p), 2);
	pp_free(pp);
}

static void
test_random_first_is_random(void)
{
	unsigned distinct = 0;
	bool seen[32] = { false };

	for (uint64_t seed = 0; seed < 50; seed++) {
		struct piecepicker *pp = pp_new(32, 4, seed);
		int64_t i = pp_next(pp, want_all, NULL, false);

		CHECK(i >= 0 && i < 32);
		if (i >= 0 && i < 32 && !seen[i]) {
			seen[i] = true;
			distinct++;
		}
		pp_free(pp);
	}
	CHECK(distinct > 10);
}

static void
test_bump(void)
{
	enum { N = 20 };
	struct piecepicker *pp = pp_new(N, 0, 5);
	int64_t order[N], p;
	bool skip[N] = { false };
	struct fpeer f = { NULL, skip, 0 };

	for (uint32_t i = 0; i < N; i++)
		pp_got_have(pp, i);
	for (uint32_t n = 0; n < N; n++) {
		order[n] = pp_next(pp, want, &f, false);
		skip[order[n]] = true;
	}
	/* Bumping the first piece sends it to the back of its bucket. */
	pp_bump(pp, (uint32_t)order[0]);
	CHECK(pp_next(pp, want_all, NULL, false) != order[0]);
	memset(skip, 0, sizeof(skip));
	for (uint32_t n = 0; n < N - 1; n++) {
		p = pp_next(pp, want, &f, false);
		CHECK(p != order[0]);
		skip[p] = true;
	}
	CHECK_INT_EQ(pp_next(pp, want, &f, false), order[0]);
	/* A bumped piece is no longer started. */
	pp_requested(pp, (uint32_t)order[5], false);
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), order[5]);
	pp_bump(pp, (uint32_t)order[5]);
	CHECK(pp_next(pp, want_all, NULL, false) != order[5]);
	pp_free(pp);
}

static void
test_complete(void)
{
	struct piecepicker *pp = pp_new(3, 0, 9);
	struct fpeer f = { NULL, NULL, 0 };

	for (uint32_t i = 0; i < 3; i++)
		pp_got_have(pp, i);
	pp_requested(pp, 1, true);
	pp_complete(pp, 1);
	pp_complete(pp, 1);
	CHECK_INT_EQ(pp_num_complete(pp), 1);
	CHECK(pp_is_complete(pp, 1));
	CHECK(!pp_is_complete(pp, 0));
	/* Haves for a complete piece are ignored. */
	pp_got_have(pp, 1);
	pp_lost_have(pp, 1);
	pp_lost_have(pp, 1);
	pp_requested(pp, 1, false);
	for (int k = 0; k < 10; k++) {
		int64_t i = pp_next(pp, want_all, NULL, k & 1);

		CHECK(i == 0 || i == 2);
	}
	pp_complete(pp, 0);
	pp_complete(pp, 2);
	CHECK_INT_EQ(pp_next(pp, want, &f, false), -1);
	/* The picker never asks about complete pieces. */
	CHECK_INT_EQ(f.calls, 0);
	pp_set_sequential(pp, true);
	CHECK_INT_EQ(pp_next(pp, want, &f, false), -1);
	CHECK_INT_EQ(f.calls, 0);
	pp_free(pp);
	pp_free(NULL);
}

static void
test_seeds(void)
{
	struct piecepicker *pp = pp_new(100, 0, 13);
	bool has[100] = { false };
	struct fpeer f = { has, NULL, 0 };

	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), -1);
	pp_got_seed(pp);
	pp_got_seed(pp);
	CHECK_INT_EQ(pp_availability(pp, 42), 2);
	CHECK(pp_next(pp, want_all, NULL, true) >= 0);
	/* A piece a normal peer also has is no longer the rarest. */
	for (uint32_t i = 0; i < 100; i++) {
		if (i != 42)
			pp_got_have(pp, i);
	}
	CHECK_INT_EQ(pp_availability(pp, 41), 3);
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, true), 42);
	has[17] = true;
	CHECK_INT_EQ(pp_next(pp, want, &f, false), 17);
	pp_lost_seed(pp);
	pp_lost_seed(pp);
	CHECK_INT_EQ(pp_availability(pp, 42), 0);
	CHECK(pp_next(pp, want_all, NULL, false) != 42);
	pp_free(pp);
}

/* Seeds alone must not make rarest first pick pieces in index order. */
static void
test_seeds_random_order(void)
{
	struct piecepicker *pp = pp_new(1000, 0, 21);
	int64_t i;

	pp_got_seed(pp);
	i = pp_next(pp, want_all, NULL, true);
	CHECK(i > 10);
	pp_free(pp);
}

static void
test_sequential(void)
{
	bool has[50] = { false };
	struct fpeer f = { has, NULL, 0 };
	struct piecepicker *pp = pp_new(50, 0, 17);

	for (uint32_t i = 0; i < 50; i++)
		pp_got_have(pp, 49 - i);
	pp_requested(pp, 30, false);
	pp_set_sequential(pp, true);
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), 0);
	pp_complete(pp, 0);
	pp_complete(pp, 2);
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), 1);
	pp_complete(pp, 1);
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), 3);
	has[10] = has[20] = true;
	CHECK_INT_EQ(pp_next(pp, want, &f, false), 10);
	pp_set_sequential(pp, false);
	CHECK_INT_EQ(pp_next(pp, want_all, NULL, false), 30);
	pp_free(pp);
}

/*
 * Random operations checked against a brute-force model of the policy:
 * every rarest-first pick must be a wanted piece of minimal availability.
 */
static void
test_model(void)
{
	enum { N = 300 };
	uint64_t s = 1234;
	uint32_t cnt[N] = { 0 }, seeds = 0;
	bool done[N] = { false }, has[N];
	struct fpeer f = { has, NULL, 0 };
	struct piecepicker *pp = pp_new(N, 0, 77);

	for (int step = 0; step < 20000; step++) {
		uint32_t i = (uint32_t)(trand(&s) % N);
		unsigned op = (unsigned)(trand(&s) % 100);

		if (op < 45) {
			pp_got_have(pp, i);
			cnt[i] += !done[i];
		} else if (op < 85 && cnt[i] > 0) {
			pp_lost_have(pp, i);
			cnt[i]--;
		} else if (op < 87) {
			pp_got_seed(pp);
			seeds++;
		} else if (op < 89 && seeds > 0) {
			pp_lost_seed(pp);
			seeds--;
		} else if (op < 90) {
			pp_complete(pp, i);
			done[i] = true;
		} else if (op == 90) {
			pp_bump(pp, i);
		} else {
			uint32_t min = UINT32_MAX;
			int64_t p;

			for (uint32_t j = 0; j < N; j++) {
				has[j] = (trand(&s) & 3) != 0;
				if (has[j] && !done[j] &&
				    cnt[j] + seeds > 0 && cnt[j] < min)
					min = cnt[j];
			}
			p = pp_next(pp, want, &f, false);
			if (min == UINT32_MAX) {
				CHECK_INT_EQ(p, -1);
			} else {
				CHECK(p >= 0 && has[p] && !done[p]);
				if (p >= 0)
					CHECK_INT_EQ(cnt[p], min);
			}
		}
	}
	for (uint32_t i = 0; i < N; i++) {
		if (!done[i])
			CHECK_INT_EQ(pp_availability(pp, i), cnt[i] + seeds);
	}
	pp_free(pp);
}

/*
 * Download 200,000 pieces from a few peers with random bitfields and one
 * seed, the way the downloader drives the picker.
 */
static void
test_stress(void)
{
	enum { N = 200000, PEERS = 8 };
	static bool has[PEERS][N];
	static bool got[N];
	uint64_t s = 5;
	struct piecepicker *pp = pp_new(N, 4, 2024);
	struct fpeer f[PEERS + 1];
	bool alive[PEERS + 1];
	uint32_t ndone = 0, live = PEERS + 1;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int k = 0; k < PEERS; k++) {
		for (uint32_t i = 0; i < N; i++) {
			has[k][i] = (trand(&s) % 100) < 40;
			if (has[k][i])
				pp_got_have(pp, i);
		}
		f[k] = (struct fpeer){ has[k], NULL, 0 };
		alive[k] = true;
	}
	f[PEERS] = (struct fpeer){ NULL, NULL, 0 };
	alive[PEERS] = true;
	pp_got_seed(pp);
	for (unsigned turn = 0; live > 0; turn++) {
		unsigned k = turn % (PEERS + 1);
		int64_t i;

		if (!alive[k])
			continue;
		i = pp_next(pp, want, &f[k], k == PEERS);
		if (i < 0) {
			alive[k] = false;
			live--;
			continue;
		}
		CHECK(!got[i]);
		got[i] = true;
		pp_requested(pp, (uint32_t)i, k == PEERS);
		pp_complete(pp, (uint32_t)i);
		ndone++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK_INT_EQ(ndone, N);
	CHECK_INT_EQ(pp_num_complete(pp), N);
	printf("stress: %d pieces, %d peers + 1 seed: %.3f s\n", N, PEERS,
	    (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	pp_free(pp);
}

int
main(void)
{
	CHECK_RUN(test_availability_moves, test_rarest_first,
	    test_partial_first, test_partial_ties, test_rarest_ties,
	    test_random_first_cutoff, test_random_first_is_random, test_bump,
	    test_complete, test_seeds, test_seeds_random_order,
	    test_sequential, test_model, test_stress);
}

#include "choker.h"

#include <stdbool.h>

#include "check.h"

/* A fake peer, seen by the choker only through the ops below. */
struct fake {
	int id;
	bool interested;
	bool choked;
	bool snubbed;
	double up;
	double down;
	unsigned nchoke;
	unsigned nunchoke;
	unsigned bad;		/* choke/unchoke without a state change */
	/* Re-entrancy: on choke, remove `drop` from `ch`. */
	struct choker *ch;
	struct fake *drop;
};

static bool
f_is_interested(void *p)
{
	return ((struct fake *)p)->interested;
}

static bool
f_is_choked(void *p)
{
	return ((struct fake *)p)->choked;
}

static void
f_choke(void *p)
{
	struct fake *f = p;

	f->bad += f->choked;
	f->choked = true;
	f->nchoke++;
	if (f->ch != NULL && f->drop != NULL) {
		struct fake *d = f->drop;

		f->drop = NULL;
		ch_connection_lost(f->ch, d);
		d->id = -1;	/* "freed": the choker must not care */
	}
}

static void
f_unchoke(void *p)
{
	struct fake *f = p;

	f->bad += !f->choked;
	f->choked = false;
	f->nunchoke++;
}

static double
f_upload_rate(void *p)
{
	return ((struct fake *)p)->up;
}

static double
f_download_rate(void *p)
{
	return ((struct fake *)p)->down;
}

static bool
f_is_snubbed(void *p)
{
	return ((struct fake *)p)->snubbed;
}

static const struct ch_peer_ops ops = {
	.is_interested = f_is_interested,
	.is_choked = f_is_choked,
	.choke = f_choke,
	.unchoke = f_unchoke,
	.upload_rate = f_upload_rate,
	.download_rate = f_download_rate,
	.is_snubbed = f_is_snubbed,
};

enum { NF = 12 };

/* n interested, choked peers; download rate i, upload rate n - i. */
static void
make_fakes(struct fake *f, int n)
{
	memset(f, 0, sizeof(*f) * (size_t)n);
	for (int i = 0; i < n; i++) {
		f[i].id = i;
		f[i].interested = true;
		f[i].choked = true;
		f[i].down = i;
		f[i].up = n - i;
	}
}

/* Append every fake in index order. */
static struct choker *
make_choker(struct fake *f, int n, int max_uploads, int min_uploads)
{
	struct choker *ch = ch_new(&ops, max_uploads, min_uploads, 1);

	for (int i = 0; i < n; i++)
		ch_connection_made_at(ch, &f[i], (size_t)i);
	return ch;
}

/* Bit i set when fake i is unchoked. */
static unsigned
unchoked_set(const struct fake *f, int n)
{
	unsigned set = 0;

	for (int i = 0; i < n; i++) {
		if (!f[i].choked)
			set |= 1u << i;
	}
	return set;
}

static unsigned
total_bad(const struct fake *f, int n)
{
	unsigned bad = 0;

	for (int i = 0; i < n; i++)
		bad += f[i].bad;
	return bad;
}

static void
test_top_rate_leeching_and_seeding(void)
{
	struct fake f[10];
	struct choker *ch;

	make_fakes(f, 10);
	ch = make_choker(f, 10, 4, 2);
	/* Top 3 by download rate (9, 8, 7) plus optimistic peer 0. */
	CHECK_INT_EQ(unchoked_set(f, 10), 0x381);
	CHECK(ch_is_optimistic(ch, &f[0]));
	CHECK(!ch_is_optimistic(ch, &f[9]));
	/* Seeding ranks by upload rate: 0, 1, 2, and optimistic 3. */
	ch_set_done(ch, true);
	ch_round(ch);
	CHECK_INT_EQ(unchoked_set(f, 10), 0x00f);
	CHECK(ch_is_optimistic(ch, &f[3]));
	CHECK_INT_EQ(total_bad(f, 10), 0);
	ch_free(ch);
	ch_free(NULL);
}

static void
test_snubbed(void)
{
	struct fake f[10];
	struct choker *ch;

	make_fakes(f, 10);
	f[9].snubbed = true;
	ch = make_choker(f, 10, 4, 1);
	/* 9 is the fastest but snubbed: 8, 7, 6 and optimistic 0. */
	CHECK_INT_EQ(unchoked_set(f, 10), 0x1c1);
	/* Snubbing does not matter once seeding. */
	ch_set_done(ch, true);
	for (int i = 0; i < 10; i++)
		f[i].up = i;
	ch_round(ch);
	CHECK_INT_EQ(unchoked_set(f, 10), 0x381);
	/*
	 * Uninterested peers are never preferred, whatever their rate, and
	 * are choked once the slots are filled.
	 */
	f[9].interested = false;
	ch_not_interested(ch, &f[9]);
	CHECK_INT_EQ(unchoked_set(f, 10), 0x1c1);
	CHECK_INT_EQ(total_bad(f, 10), 0);
	ch_free(ch);
}

static void
test_optimistic_rotation(void)
{
	struct fake f[10];
	struct choker *ch;
	void *first;

	make_fakes(f, 10);
	/* Fastest 7, 8, 9 hold the regular slots. */
	ch = make_choker(f, 10, 4, 1);
	CHECK(ch_is_optimistic(ch, &f[0]));
	ch_round(ch);
	ch_round(ch);
	CHECK(ch_is_optimistic(ch, &f[0]));
	CHECK(ch_peer_at(ch, 0) == &f[0]);
	/* Third round: rotate to the first choked, interested peer. */
	ch_round(ch);
	CHECK(ch_is_optimistic(ch, &f[1]));
	CHECK(!ch_is_optimistic(ch, &f[0]));
	CHECK(ch_peer_at(ch, 0) == &f[1]);
	CHECK(ch_peer_at(ch, 9) == &f[0]);
	CHECK_INT_EQ(unchoked_set(f, 10), 0x382);
	ch_round(ch);
	ch_round(ch);
	CHECK(ch_is_optimistic(ch, &f[1]));
	ch_round(ch);
	CHECK(ch_is_optimistic(ch, &f[2]));
	CHECK_INT_EQ(unchoked_set(f, 10), 0x384);
	/* Rotation keeps the cyclic order. */
	first = ch_peer_at(ch, 0);
	CHECK(first == &f[2]);
	for (size_t i = 0; i < 10; i++)
		CHECK(ch_peer_at(ch, i) == &f[(i + 2) % 10]);
	CHECK_INT_EQ(total_bad(f, 10), 0);
	ch_free(ch);
}

static void
test_min_uploads(void)
{
	struct fake f[8];
	struct choker *ch;

	make_fakes(f, 8);
	/* Order: 0 1 2 3 4 5 6 7; 1 and 3 are not interested. */
	f[1].interested = false;
	f[3].interested = false;
	/* One regular slot (7), then fill up to 4 interested in list order. */
	ch = make_choker(f, 8, 2, 4);
	/* 0 optimistic, 1 free, 2, 3 free, 4: four interested with 7. */
	CHECK_INT_EQ(unchoked_set(f, 8), 0x9f);
	CHECK(ch_is_optimistic(ch, &f[0]));
	/* Uninterested peers after the last slot stay choked. */
	f[5].interested = false;
	f[6].interested = false;
	ch_round(ch);
	CHECK_INT_EQ(unchoked_set(f, 8), 0x9f);
	/* Without min_uploads only the optimistic joins the regular slot. */
	ch_free(ch);
	make_fakes(f, 8);
	f[0].interested = false;
	ch = make_choker(f, 8, 2, 0);
	CHECK_INT_EQ(unchoked_set(f, 8), 0x83);
	CHECK(ch_is_optimistic(ch, &f[1]));
	CHECK_INT_EQ(total_bad(f, 8), 0);
	ch_free(ch);
}

static void
test_no_interested(void)
{
	struct fake f[5];
	struct choker *ch;

	make_fakes(f, 5);
	for (int i = 0; i < 5; i++)
		f[i].interested = false;
	/* Nobody wants anything: every slot is free, unchoke everyone. */
	ch = make_choker(f, 5, 4, 2);
	CHECK_INT_EQ(unchoked_set(f, 5), 0x1f);
	for (int i = 0; i < 5; i++)
		CHECK(!ch_is_optimistic(ch, &f[i]));
	ch_free(ch);
}

static void
test_connection_made_position(void)
{
	enum { TRIALS = 8000 };
	struct fake f[6];
	unsigned pos[6] = { 0 };
	struct choker *ch;

	make_fakes(f, 6);
	ch = make_choker(f, 5, 4, 2);
	for (int t = 0; t < TRIALS; t++) {
		ch_connection_made(ch, &f[5]);
		CHECK_INT_EQ(ch_num_peers(ch), 6);
		for (size_t i = 0; i < 6; i++) {
			if (ch_peer_at(ch, i) == &f[5])
				pos[i]++;
		}
		ch_connection_lost(ch, &f[5]);
	}
	/* Front: 3 of 8 chances; every other place 1 of 8. */
	CHECK(pos[0] > TRIALS * 3 / 8 * 9 / 10);
	CHECK(pos[0] < TRIALS * 3 / 8 * 11 / 10);
	for (int i = 1; i < 6; i++) {
		CHECK(pos[i] > TRIALS / 8 * 8 / 10);
		CHECK(pos[i] < TRIALS / 8 * 12 / 10);
	}
	/* A known peer is not added twice. */
	ch_connection_made(ch, &f[0]);
	CHECK_INT_EQ(ch_num_peers(ch), 5);
	CHECK_INT_EQ(total_bad(f, 6), 0);
	ch_free(ch);
}

/* Same seed, same positions. */
static void
test_connection_made_deterministic(void)
{
	struct fake f[NF];
	void *order[2][NF];

	for (int rep = 0; rep < 2; rep++) {
		struct choker *ch = ch_new(&ops, 4, 2, 77);

		make_fakes(f, NF);
		for (int i = 0; i < NF; i++)
			ch_connection_made(ch, &f[i]);
		for (size_t i = 0; i < NF; i++)
			order[rep][i] = ch_peer_at(ch, i);
		ch_free(ch);
	}
	CHECK_MEM_EQ(order[0], order[1], sizeof(order[0]));
}

static void
test_connection_lost(void)
{
	struct fake f[4];
	struct choker *ch;

	make_fakes(f, 4);
	/* One regular slot (3) and optimistic 0. */
	ch = make_choker(f, 4, 2, 1);
	CHECK_INT_EQ(unchoked_set(f, 4), 0x9);
	/* Losing a choked peer does not rechoke... */
	f[0].down = 100;
	ch_connection_lost(ch, &f[1]);
	CHECK_INT_EQ(unchoked_set(f, 4), 0x9);
	CHECK_INT_EQ(ch_num_peers(ch), 3);
	/* ... losing an unchoked, interested one does. */
	ch_connection_lost(ch, &f[3]);
	CHECK_INT_EQ(ch_num_peers(ch), 2);
	CHECK_INT_EQ(unchoked_set(f, 3), 0x5);
	CHECK(ch_is_optimistic(ch, &f[2]));
	ch_connection_lost(ch, &f[2]);
	CHECK(!ch_is_optimistic(ch, &f[2]));
	ch_connection_lost(ch, &f[2]);
	CHECK_INT_EQ(ch_num_peers(ch), 1);
	ch_free(ch);
}

static void
test_interest_changes(void)
{
	struct fake f[4];
	struct choker *ch;

	make_fakes(f, 4);
	ch = make_choker(f, 4, 2, 1);
	CHECK_INT_EQ(unchoked_set(f, 4), 0x9);
	/* A choked peer's interest does not trigger a rechoke. */
	f[1].down = 50;
	f[2].interested = false;
	ch_not_interested(ch, &f[2]);
	CHECK_INT_EQ(unchoked_set(f, 4), 0x9);
	/* An unchoked one's does. */
	f[0].interested = false;
	ch_not_interested(ch, &f[0]);
	/* 1 is preferred now; 0 and 2 are free, 3 is the optimistic. */
	CHECK_INT_EQ(unchoked_set(f, 4), 0xf);
	CHECK(ch_is_optimistic(ch, &f[3]));
	f[0].interested = true;
	ch_interested(ch, &f[0]);
	CHECK_INT_EQ(unchoked_set(f, 4), 0x3);
	CHECK(ch_is_optimistic(ch, &f[0]));
	CHECK_INT_EQ(total_bad(f, 4), 0);
	ch_free(ch);
}

static void
test_change_max_uploads(void)
{
	struct fake f[NF];
	struct choker *ch;

	make_fakes(f, NF);
	ch = make_choker(f, NF, 7, 4);
	CHECK_INT_EQ(unchoked_set(f, NF), 0xfc1);
	ch_change_max_uploads(ch, 3);
	CHECK_INT_EQ(unchoked_set(f, NF), 0xc03);
	ch_change_max_uploads(ch, 1);
	CHECK_INT_EQ(unchoked_set(f, NF), 0x00f);
	ch_change_max_uploads(ch, 0);
	CHECK_INT_EQ(unchoked_set(f, NF), 0x00f);
	CHECK_INT_EQ(total_bad(f, NF), 0);
	ch_free(ch);
}

/* Rounds with nothing changed send nothing. */
static void
test_only_changes_sent(void)
{
	struct fake f[NF];
	struct choker *ch;
	unsigned before = 0, after = 0;

	make_fakes(f, NF);
	ch = make_choker(f, NF, 4, 2);
	for (int i = 0; i < NF; i++)
		before += f[i].nchoke + f[i].nunchoke;
	ch_round(ch);
	ch_round(ch);
	for (int i = 0; i < NF; i++)
		after += f[i].nchoke + f[i].nunchoke;
	CHECK_INT_EQ(after, before);
	CHECK_INT_EQ(total_bad(f, NF), 0);
	ch_free(ch);
}

/*
 * A choke callback drops a later, unchoked peer: its plan entry must be
 * skipped, and the rechoke the removal asks for must run afterwards.
 */
static void
test_reentrant_callbacks(void)
{
	struct fake f[6];
	struct choker *ch;

	make_fakes(f, 6);
	f[1].down = 100;
	f[4].down = 50;
	ch = make_choker(f, 6, 3, 1);
	CHECK_INT_EQ(unchoked_set(f, 6), 0x13);
	f[1].down = -1;
	f[1].ch = ch;
	f[1].drop = &f[4];
	f[3].down = 150;
	f[5].down = 200;
	ch_round(ch);
	CHECK_INT_EQ(ch_num_peers(ch), 5);
	for (size_t i = 0; i < ch_num_peers(ch); i++)
		CHECK(ch_peer_at(ch, i) != &f[4]);
	CHECK_INT_EQ(f[4].id, -1);
	CHECK_INT_EQ(f[4].nchoke, 0);
	CHECK_INT_EQ(unchoked_set(f, 6), 0x39);
	CHECK(ch_is_optimistic(ch, &f[0]));
	CHECK_INT_EQ(total_bad(f, 6), 0);
	ch_free(ch);
}

int
main(void)
{
	CHECK_RUN(test_top_rate_leeching_and_seeding, test_snubbed,
	    test_optimistic_rotation, test_min_uploads, test_no_interested,
	    test_connection_made_position, test_connection_made_deterministic,
	    test_connection_lost, test_interest_changes,
	    test_change_max_uploads, test_only_changes_sent,
	    test_reentrant_callbacks);
}

/*
 * test_pollset: the pollfd array and its owners.  Swap-removal keeps
 * every owner's slot right; during a walk removals only leave holes, and
 * the walk's end compacts them; additions during a walk land past its
 * bound; a random mix of operations is checked against a model (SEED=n
 * repeats a run); and a real poll() over pipes reports each event to the
 * right owner after a compaction.
 */
#include "pollset.h"

#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

#define NOWN 200

struct owner {
	struct ps_link link;	/* first, as in the reactor */
	int fd;
	bool in;
};

/* Every owner in the set sits at its pidx with its fd; no strays. */
static bool
consistent(const struct pollset *ps, const struct owner *o, size_t n)
{
	size_t in = 0;

	for (size_t i = 0; i < n; i++) {
		if (!o[i].in) {
			if (o[i].link.pidx != -1)
				return false;
			continue;
		}
		in++;
		if (o[i].link.pidx < 0 || (size_t)o[i].link.pidx >= ps->n ||
		    ps->owners[o[i].link.pidx] != &o[i].link ||
		    ps->pfds[o[i].link.pidx].fd != o[i].fd)
			return false;
	}
	return in == ps->n - ps->holes;
}

static void
owners_init(struct owner *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		o[i].link.pidx = -1;
		o[i].fd = 1000 + (int)i;
		o[i].in = false;
	}
}

static void
test_add_del(void)
{
	struct pollset ps;
	struct owner o[5];

	ps_init(&ps);
	owners_init(o, 5);
	for (int i = 0; i < 5; i++) {
		ps_add(&ps, &o[i].link, o[i].fd, POLLIN);
		o[i].in = true;
	}
	CHECK_INT_EQ(ps.n, 5);
	CHECK_INT_EQ(o[4].link.pidx, 4);
	/* Removing slot 1 moves the last entry into it. */
	ps_del(&ps, &o[1].link);
	o[1].in = false;
	CHECK_INT_EQ(ps.n, 4);
	CHECK_INT_EQ(o[4].link.pidx, 1);
	CHECK(consistent(&ps, o, 5));
	ps_del(&ps, &o[1].link);	/* not in the set: no-op */
	CHECK_INT_EQ(ps.n, 4);
	ps_del(&ps, &o[3].link);	/* the last entry */
	o[3].in = false;
	CHECK_INT_EQ(ps.n, 3);
	CHECK(consistent(&ps, o, 5));
	ps_set_events(&ps, &o[4].link, POLLOUT);
	CHECK_INT_EQ(ps.pfds[o[4].link.pidx].events, POLLOUT);
	ps_set_events(&ps, &o[3].link, POLLOUT);	/* not in: ignored */
	ps_set_fd(&ps, &o[4].link, ~o[4].fd);
	CHECK_INT_EQ(ps.pfds[o[4].link.pidx].fd, ~o[4].fd);
	ps_set_fd(&ps, &o[4].link, o[4].fd);
	CHECK(consistent(&ps, o, 5));
	ps_release(&ps);
	CHECK(ps.pfds == NULL && ps.n == 0);
}

/*
 * A walk over 10 slots: removals (the current one, earlier and later ones,
 * the last) leave holes and move nothing; an addition goes past the walk's
 * bound; the end compacts.
 */
static void
test_walk(void)
{
	struct pollset ps;
	struct owner o[12];
	size_t bound;
	bool moved = false;
	int before[10];

	ps_init(&ps);
	owners_init(o, 12);
	for (int i = 0; i < 10; i++) {
		ps_add(&ps, &o[i].link, o[i].fd, POLLIN);
		o[i].in = true;
	}
	ps_walk_begin(&ps);
	bound = ps.n;
	for (int i = 0; i < 10; i++)
		before[i] = o[i].link.pidx;
	ps_del(&ps, &o[3].link);
	ps_del(&ps, &o[0].link);
	ps_del(&ps, &o[9].link);
	ps_del(&ps, &o[7].link);
	o[3].in = o[0].in = o[9].in = o[7].in = false;
	ps_add(&ps, &o[10].link, o[10].fd, POLLIN);
	o[10].in = true;
	CHECK_INT_EQ(o[10].link.pidx, 10);
	CHECK((size_t)o[10].link.pidx >= bound);
	for (int i = 0; i < 10; i++)
		if (o[i].in && o[i].link.pidx != before[i])
			moved = true;
	CHECK(!moved);
	CHECK(ps.owners[3] == NULL && ps.pfds[3].fd == -1);
	CHECK(ps.owners[0] == NULL && ps.pfds[0].fd == -1);
	CHECK_INT_EQ(ps.holes, 4);
	CHECK(consistent(&ps, o, 12));
	ps_walk_end(&ps);
	CHECK_INT_EQ(ps.holes, 0);
	CHECK_INT_EQ(ps.n, 7);
	for (size_t i = 0; i < ps.n; i++)
		CHECK(ps.owners[i] != NULL && ps.pfds[i].fd >= 0);
	CHECK(consistent(&ps, o, 12));
	/* Outside a walk, removal is immediate again. */
	ps_del(&ps, &o[1].link);
	o[1].in = false;
	CHECK_INT_EQ(ps.n, 6);
	CHECK_INT_EQ(ps.holes, 0);
	CHECK(consistent(&ps, o, 12));
	ps_release(&ps);
}

static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Random adds and removals, in and out of walks, against the model. */
static void
test_random(void)
{
	static struct owner o[NOWN];
	const char *env = getenv("SEED");
	uint32_t seed = env != NULL ? (uint32_t)strtoul(env, NULL, 10) :
	    777u;
	struct pollset ps;
	int bad = 0;

	printf("test_random: SEED=%u\n", seed);
	if (seed == 0)
		seed = 1;
	ps_init(&ps);
	owners_init(o, NOWN);
	for (int round = 0; round < 200; round++) {
		bool walk = round % 3 == 0;

		if (walk)
			ps_walk_begin(&ps);
		for (int k = 0; k < 50; k++) {
			struct owner *x = &o[rnd(&seed) % NOWN];

			if (x->in) {
				ps_del(&ps, &x->link);
				x->in = false;
			} else {
				ps_add(&ps, &x->link, x->fd, POLLIN);
				x->in = true;
			}
		}
		if (!consistent(&ps, o, NOWN))
			bad++;
		if (walk) {
			ps_walk_end(&ps);
			if (ps.holes != 0 || !consistent(&ps, o, NOWN))
				bad++;
		}
	}
	CHECK_INT_EQ(bad, 0);
	CHECK(ps.cap >= ps.n);
	ps_release(&ps);
}

/* poll() over the set: after a compaction each event reaches its owner. */
static void
test_real_poll(void)
{
	struct pollset ps;
	struct owner o[6];
	int p[6][2], r;
	bool right = true;

	ps_init(&ps);
	owners_init(o, 6);
	for (int i = 0; i < 6; i++) {
		CHECK_OK(pipe(p[i]));
		o[i].fd = p[i][0];
		ps_add(&ps, &o[i].link, o[i].fd, POLLIN);
		o[i].in = true;
	}
	ps_walk_begin(&ps);
	ps_del(&ps, &o[0].link);
	ps_del(&ps, &o[2].link);
	o[0].in = o[2].in = false;
	ps_walk_end(&ps);
	CHECK_INT_EQ(write(p[5][1], "x", 1), 1);
	CHECK_INT_EQ(write(p[2][1], "x", 1), 1);	/* removed: unseen */
	CHECK_INT_EQ(write(p[1][1], "x", 1), 1);
	r = poll(ps.pfds, (nfds_t)ps.n, 1000);
	CHECK_INT_EQ(r, 2);
	for (size_t i = 0; i < ps.n; i++) {
		struct owner *x = (struct owner *)ps.owners[i];
		bool want = x == &o[5] || x == &o[1];

		if (((ps.pfds[i].revents & POLLIN) != 0) != want)
			right = false;
	}
	CHECK(right);
	for (int i = 0; i < 6; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	ps_release(&ps);
}

int
main(void)
{
	CHECK_RUN(test_add_del, test_walk, test_random, test_real_poll);
}

/*
 * test_timerheap: the timer heap on its own, with a made-up clock: order,
 * ties, cancelling, stale ids and slot reuse, the `limit` of a pass, the
 * poll timeout, and many random timers checked against a sorted model.
 * SEED=n repeats a random run.
 */
#include "timerheap.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

struct rec {
	int ran[4096];
	int n;
};

struct note {
	struct rec *rec;
	int tag;
};

static void
note_task(void *ctx)
{
	struct note *t = ctx;

	t->rec->ran[t->rec->n++] = t->tag;
}

/* Pop and run everything due at now (one pass); returns how many ran. */
static int
run_due(struct timerheap *th, uint64_t now)
{
	uint64_t limit = th_next_seq(th);
	th_task_fn *fn;
	void *ctx;
	int n = 0;

	while (th_pop_due(th, now, limit, &fn, &ctx)) {
		fn(ctx);
		n++;
	}
	return n;
}

static void
test_order_and_timeout(void)
{
	struct timerheap th;
	struct rec rec = { .n = 0 };
	static const int delays[] = { 30, 10, 20, 0, 25 };
	static const int sorted[] = { 0, 10, 20, 25, 30 };
	struct note notes[5];

	th_init(&th);
	CHECK_INT_EQ(th_timeout_ms(&th, 1000), -1);
	CHECK_INT_EQ(run_due(&th, 1000), 0);
	for (int i = 0; i < 5; i++) {
		notes[i] = (struct note){ &rec, delays[i] };
		CHECK(th_add(&th, 1000, (uint64_t)delays[i], note_task,
		    &notes[i]) != 0);
	}
	CHECK_INT_EQ(th_count(&th), 5);
	CHECK_INT_EQ(th_timeout_ms(&th, 1000), 0);
	CHECK_INT_EQ(run_due(&th, 1000), 1);
	CHECK_INT_EQ(th_timeout_ms(&th, 1000), 10);
	CHECK_INT_EQ(th_timeout_ms(&th, 1004), 6);
	CHECK_INT_EQ(run_due(&th, 1009), 0);
	CHECK_INT_EQ(run_due(&th, 1025), 3);
	CHECK_INT_EQ(th_timeout_ms(&th, 1025), 5);
	CHECK_INT_EQ(th_timeout_ms(&th, 5000), 0);
	CHECK_INT_EQ(run_due(&th, 5000), 1);
	CHECK_INT_EQ(th_count(&th), 0);
	CHECK_INT_EQ(rec.n, 5);
	for (int i = 0; i < rec.n; i++)
		CHECK_INT_EQ(rec.ran[i], sorted[i]);
	th_release(&th);
}

/* A far deadline saturates instead of wrapping; the timeout is capped. */
static void
test_saturation(void)
{
	struct timerheap th;
	struct rec rec = { .n = 0 };
	struct note a = { &rec, 1 }, b = { &rec, 2 };

	th_init(&th);
	th_add(&th, UINT64_MAX - 5, 100, note_task, &a);
	th_add(&th, 10, (uint64_t)INT_MAX + 1000, note_task, &b);
	CHECK_INT_EQ(th_timeout_ms(&th, 10), INT_MAX);
	CHECK_INT_EQ(run_due(&th, UINT64_MAX - 1), 1);
	CHECK_INT_EQ(rec.ran[0], 2);
	CHECK_INT_EQ(run_due(&th, UINT64_MAX), 1);
	CHECK_INT_EQ(rec.ran[1], 1);
	th_release(&th);
}

/* Equal deadlines run in insertion order, across heap growth. */
static void
test_ties(void)
{
	struct timerheap th;
	static struct note notes[300];
	static struct rec rec;
	bool sorted = true;

	th_init(&th);
	rec.n = 0;
	for (int i = 0; i < 300; i++) {
		int delay = (i * 7) % 10;

		notes[i] = (struct note){ &rec, delay * 1000 + i };
		th_add(&th, 0, (uint64_t)delay, note_task, &notes[i]);
	}
	CHECK_INT_EQ(run_due(&th, 9), 300);
	for (int i = 1; i < rec.n; i++)
		if (rec.ran[i - 1] >= rec.ran[i])
			sorted = false;
	CHECK(sorted);
	th_release(&th);
}

/*
 * Cancel: the top, the middle and the last entry; twice; after running;
 * junk ids.  A stale id must not cancel the task that reuses its slot.
 */
static void
test_cancel_and_reuse(void)
{
	struct timerheap th;
	struct rec rec = { .n = 0 };
	struct note notes[6];
	uint64_t id[6], fresh;

	th_init(&th);
	for (int i = 0; i < 6; i++) {
		notes[i] = (struct note){ &rec, i };
		id[i] = th_add(&th, 0, (uint64_t)i, note_task, &notes[i]);
	}
	CHECK(th_cancel(&th, id[0]));
	CHECK(th_cancel(&th, id[3]));
	CHECK(th_cancel(&th, id[5]));
	CHECK(!th_cancel(&th, id[3]));
	CHECK(!th_cancel(&th, 0));
	CHECK(!th_cancel(&th, UINT64_MAX));
	CHECK(!th_cancel(&th, id[1] + ((uint64_t)7 << 32)));
	CHECK_INT_EQ(th_count(&th), 3);
	CHECK_INT_EQ(th_timeout_ms(&th, 0), 1);
	CHECK_INT_EQ(run_due(&th, 10), 3);
	CHECK_INT_EQ(rec.n, 3);
	CHECK_INT_EQ(rec.ran[0], 1);
	CHECK_INT_EQ(rec.ran[1], 2);
	CHECK_INT_EQ(rec.ran[2], 4);
	CHECK(!th_cancel(&th, id[1]));	/* ran: stale */
	/* The freed slots come back with new generations. */
	fresh = th_add(&th, 10, 0, note_task, &notes[0]);
	CHECK((uint32_t)fresh < 6);
	for (int i = 0; i < 6; i++) {
		CHECK(fresh != id[i]);
		CHECK(!th_cancel(&th, id[i]));
	}
	CHECK_INT_EQ(th_count(&th), 1);
	CHECK(th_cancel(&th, fresh));
	CHECK_INT_EQ(th_count(&th), 0);
	th_release(&th);
}

/*
 * A task that adds a task (delay 0) during a pass: the new one waits for
 * the next pass, so a self-re-arming task cannot starve the loop.
 */
struct rearm {
	struct timerheap *th;
	uint64_t now;
	int n;
};

static void
rearm_task(void *ctx)
{
	struct rearm *r = ctx;

	/* Bounded, so that a broken limit fails the test instead of hanging. */
	if (++r->n < 100)
		th_add(r->th, r->now, 0, rearm_task, r);
}

static void
test_pass_limit(void)
{
	struct timerheap th;
	struct rearm r = { &th, 100, 0 };

	th_init(&th);
	th_add(&th, 100, 0, rearm_task, &r);
	CHECK_INT_EQ(run_due(&th, 100), 1);
	CHECK_INT_EQ(r.n, 1);
	CHECK_INT_EQ(th_count(&th), 1);
	CHECK_INT_EQ(th_timeout_ms(&th, 100), 0);
	CHECK_INT_EQ(run_due(&th, 100), 1);
	CHECK_INT_EQ(r.n, 2);
	th_release(&th);
}

/*
 * Many timers, random deadlines, a third cancelled, more added while
 * draining: the heap must hand them out exactly in (deadline, insertion)
 * order, and slots must be reused (the slot array stays small).
 */
#define NMANY 3000

static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

struct many {
	uint64_t deadline;
	int order;		/* insertion rank */
	bool cancelled, ran;
};

static void
many_task(void *ctx)
{
	((struct many *)ctx)->ran = true;
}

static void
test_many(void)
{
	static struct many m[NMANY];
	static uint64_t id[NMANY];
	const char *env = getenv("SEED");
	uint32_t seed = env != NULL ? (uint32_t)strtoul(env, NULL, 10) :
	    20240611u;
	struct timerheap th;
	uint64_t now = 0, last_deadline = 0;
	int last_order = -1, popped = 0, expect = 0, wrong = 0;
	bool in_order = true;
	th_task_fn *fn;
	void *ctx;

	printf("test_many: SEED=%u\n", seed);
	if (seed == 0)
		seed = 1;
	th_init(&th);
	for (int round = 0; round < 3; round++) {
		int lo = round * (NMANY / 3), hi = lo + NMANY / 3;

		for (int i = lo; i < hi; i++) {
			m[i] = (struct many){ now + rnd(&seed) % 5000, i,
			    false, false };
			id[i] = th_add(&th, now, m[i].deadline - now,
			    many_task, &m[i]);
		}
		for (int i = lo; i < hi; i++) {
			if (rnd(&seed) % 3 == 0) {
				m[i].cancelled = true;
				CHECK(th_cancel(&th, id[i]));
			} else {
				expect++;
			}
		}
		/* Drain half the time span, then add the next round. */
		now += 2500;
		while (th_pop_due(&th, now, th_next_seq(&th), &fn, &ctx)) {
			struct many *x = ctx;

			if (x->deadline < last_deadline ||
			    (x->deadline == last_deadline &&
			    x->order < last_order))
				in_order = false;
			last_deadline = x->deadline;
			last_order = x->order;
			fn(ctx);
			popped++;
		}
	}
	now += 10000;
	while (th_pop_due(&th, now, th_next_seq(&th), &fn, &ctx)) {
		struct many *x = ctx;

		if (x->deadline < last_deadline)
			in_order = false;
		last_deadline = x->deadline;
		fn(ctx);
		popped++;
	}
	CHECK(in_order);
	CHECK_INT_EQ(popped, expect);
	CHECK_INT_EQ(th_count(&th), 0);
	for (int i = 0; i < NMANY; i++)
		if (m[i].ran == m[i].cancelled)
			wrong++;
	CHECK_INT_EQ(wrong, 0);	/* each ran exactly when not cancelled */
	/* At most about 2 * NMANY / 3 were live at once: slots reused. */
	CHECK(th.nslots <= 2048);
	th_release(&th);
}

int
main(void)
{
	CHECK_RUN(test_order_and_timeout, test_saturation, test_ties,
	    test_cancel_and_reuse, test_pass_limit, test_many);
}

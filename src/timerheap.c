/*
 * timerheap: one-shot timers in a binary min-heap, see timerheap.h.
 *
 * The heap holds small (deadline, seq, slot) entries and the slots hold the
 * callbacks, so sifting moves 24-byte entries and updates one back-pointer
 * (the slot's hidx) per move.  Free slots form a list threaded through
 * next_free, lowest first after each growth, and are reused before the
 * array grows.
 */
#include "timerheap.h"

#include <limits.h>
#include <stdlib.h>

#include "log.h"
#include "xmalloc.h"

#define TH_FREE UINT32_MAX	/* hidx of a slot not in the heap */

struct th_slot {
	th_task_fn *fn;
	void *ctx;
	uint32_t gen;		/* id = gen << 32 | slot; never 0 */
	uint32_t hidx;		/* heap position, or TH_FREE */
	uint32_t next_free;
};

struct th_ent {
	uint64_t deadline;
	uint64_t seq;		/* insertion order breaks deadline ties */
	uint32_t slot;
};

void
th_init(struct timerheap *th)
{
	th->slots = NULL;
	th->nslots = 0;
	th->free_slot = TH_FREE;
	th->heap = NULL;
	th->len = th->cap = 0;
	th->next_seq = 1;
}

void
th_release(struct timerheap *th)
{
	free(th->slots);
	free(th->heap);
	th_init(th);
}

static bool
heap_less(const struct th_ent *a, const struct th_ent *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->seq < b->seq;
}

static void
heap_set(struct timerheap *th, size_t i, const struct th_ent *e)
{
	th->heap[i] = *e;
	th->slots[e->slot].hidx = (uint32_t)i;
}

static void
heap_sift_up(struct timerheap *th, size_t i)
{
	struct th_ent e = th->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!heap_less(&e, &th->heap[parent]))
			break;
		heap_set(th, i, &th->heap[parent]);
		i = parent;
	}
	heap_set(th, i, &e);
}

static void
heap_sift_down(struct timerheap *th, size_t i)
{
	struct th_ent e = th->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= th->len)
			break;
		if (c + 1 < th->len &&
		    heap_less(&th->heap[c + 1], &th->heap[c]))
			c++;
		if (!heap_less(&th->heap[c], &e))
			break;
		heap_set(th, i, &th->heap[c]);
		i = c;
	}
	heap_set(th, i, &e);
}

static void
heap_remove(struct timerheap *th, size_t i)
{
	th->len--;
	if (i == th->len)
		return;
	heap_set(th, i, &th->heap[th->len]);
	heap_sift_down(th, i);
	heap_sift_up(th, i);
}

/* Back on the free list, with a new generation so that old ids go stale. */
static void
slot_free(struct timerheap *th, uint32_t slot)
{
	struct th_slot *t = &th->slots[slot];

	t->hidx = TH_FREE;
	t->fn = NULL;
	t->ctx = NULL;
	if (++t->gen == 0)
		t->gen = 1;
	t->next_free = th->free_slot;
	th->free_slot = slot;
}

static uint32_t
slot_alloc(struct timerheap *th)
{
	uint32_t slot;

	if (th->free_slot == TH_FREE) {
		uint32_t old = th->nslots;
		uint32_t cap = old ? old * 2 : 16;

		if (old >= UINT32_MAX / 4)
			fatal("rawserver: too many timers");
		th->slots = xreallocarray(th->slots, cap, sizeof(*th->slots));
		for (uint32_t s = cap; s-- > old;) {
			th->slots[s].gen = 1;
			th->slots[s].hidx = TH_FREE;
			th->slots[s].next_free = th->free_slot;
			th->free_slot = s;
		}
		th->nslots = cap;
	}
	slot = th->free_slot;
	th->free_slot = th->slots[slot].next_free;
	return slot;
}

uint64_t
th_add(struct timerheap *th, uint64_t now, uint64_t delay_ms,
    th_task_fn *fn, void *ctx)
{
	struct th_ent e;
	uint32_t slot = slot_alloc(th);

	th->slots[slot].fn = fn;
	th->slots[slot].ctx = ctx;
	e.deadline = delay_ms > UINT64_MAX - now ? UINT64_MAX : now + delay_ms;
	e.seq = th->next_seq++;
	e.slot = slot;
	if (th->len == th->cap) {
		th->cap = th->cap ? th->cap * 2 : 16;
		th->heap = xreallocarray(th->heap, th->cap, sizeof(*th->heap));
	}
	th->heap[th->len++] = e;
	heap_sift_up(th, th->len - 1);
	return (uint64_t)th->slots[slot].gen << 32 | slot;
}

bool
th_cancel(struct timerheap *th, uint64_t id)
{
	uint32_t slot = (uint32_t)id;
	struct th_slot *t;

	if (id == 0 || slot >= th->nslots)
		return false;
	t = &th->slots[slot];
	if (t->gen != (uint32_t)(id >> 32) || t->hidx == TH_FREE)
		return false;
	heap_remove(th, t->hidx);
	slot_free(th, slot);
	return true;
}

size_t
th_count(const struct timerheap *th)
{
	return th->len;
}

uint64_t
th_next_seq(const struct timerheap *th)
{
	return th->next_seq;
}

/*
 * A timer added after `limit` was read sorts after every timer that was
 * already due (a deadline no earlier, since its `now` is no earlier, and a
 * higher seq), so stopping at the first such timer never skips a due one.
 */
bool
th_pop_due(struct timerheap *th, uint64_t now, uint64_t limit,
    th_task_fn **out_fn, void **out_ctx)
{
	struct th_ent top;

	if (th->len == 0)
		return false;
	top = th->heap[0];
	if (top.deadline > now || top.seq >= limit)
		return false;
	*out_fn = th->slots[top.slot].fn;
	*out_ctx = th->slots[top.slot].ctx;
	heap_remove(th, 0);
	slot_free(th, top.slot);
	return true;
}

int
th_timeout_ms(const struct timerheap *th, uint64_t now)
{
	uint64_t d;

	if (th->len == 0)
		return -1;
	if (th->heap[0].deadline <= now)
		return 0;
	d = th->heap[0].deadline - now;
	return d > INT_MAX ? INT_MAX : (int)d;
}

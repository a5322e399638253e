/*
 * timerheap: the reactor's one-shot timers (behind rs_add_task and
 * rs_cancel_task).
 *
 * It owns the timer slots and a binary min-heap of (deadline, sequence,
 * slot) entries.  A slot holds the callback and its heap position, so a
 * cancel by id finds its entry in O(1) and removes it in O(log n).  Equal
 * deadlines run in insertion order (libuv timer.c).  An id is the slot's
 * generation << 32 | slot; the generation changes whenever the slot is
 * freed, so a stale id (a task that ran or was cancelled) is never taken
 * for the slot's next task.  Ids are never 0.
 *
 * It knows no clock: callers pass `now` in milliseconds.  Nothing here
 * runs a callback; th_pop_due() hands the due ones back one at a time, so
 * the caller may add and cancel timers between them.  Memory grows by
 * doubling and is kept until th_release().
 */
#ifndef BT_TIMERHEAP_H
#define BT_TIMERHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void th_task_fn(void *ctx);

struct th_slot;
struct th_ent;

/* Embedded in its owner; the fields are private to timerheap.c. */
struct timerheap {
	struct th_slot *slots;
	uint32_t nslots, free_slot;
	struct th_ent *heap;
	size_t len, cap;
	uint64_t next_seq;
};

void th_init(struct timerheap *th);
/* Frees the memory; pending timers are dropped without running. */
void th_release(struct timerheap *th);

/*
 * Arm fn(ctx) for now + delay_ms (saturating at UINT64_MAX).  Returns the
 * id for th_cancel().  Aborts (fatal) only past 2^30 live timers.
 */
uint64_t th_add(struct timerheap *th, uint64_t now, uint64_t delay_ms,
    th_task_fn *fn, void *ctx);
/* Disarm id.  False (a no-op) when id is 0, ran, was cancelled or is junk. */
bool th_cancel(struct timerheap *th, uint64_t id);
/* Number of armed timers. */
size_t th_count(const struct timerheap *th);

/*
 * The sequence number the next th_add() will use.  Read it before running
 * due timers and pass it as `limit` to th_pop_due(): timers added while
 * they run then wait for the next pass, even with delay 0.
 */
uint64_t th_next_seq(const struct timerheap *th);
/*
 * Take the earliest timer if its deadline is <= now and it was added
 * before `limit`: disarm it (its id goes stale) and return its callback
 * in out_fn and out_ctx, for the caller to run.  False when none is due.
 */
bool th_pop_due(struct timerheap *th, uint64_t now, uint64_t limit,
    th_task_fn **out_fn, void **out_ctx);
/*
 * Milliseconds until the earliest deadline, for poll(): 0 when it is due,
 * at most INT_MAX, or -1 (sleep forever) when nothing is armed.
 */
int th_timeout_ms(const struct timerheap *th, uint64_t now);

#endif

/*
 * ratemeasure: the download's time-left estimate (mainline RateMeasure).
 *
 * It tracks the bytes still to download and a rate over a window that is
 * pulled forward so it never reaches back further than the estimated time
 * left, and once it has spanned 20 seconds never shrinks below 20 again.
 * The clock is injected: `now` is seconds on a monotonic clock.
 */
#ifndef BT_RATEMEASURE_H
#define BT_RATEMEASURE_H

#include <stdbool.h>
#include <stdint.h>

/* A value type: embed it, rm_init() it, nothing to release. */
struct ratemeasure {
	double start;		/* start of the rate window */
	double last;		/* time of the last update */
	double rate;		/* bytes per second */
	double remaining;	/* estimated seconds left; < 0 when unknown */
	uint64_t left;		/* bytes still to download */
	bool broke;		/* the window has spanned more than 20 s */
	bool got_anything;	/* some data has come in */
};

/* Start with `left` bytes to download (StorageWrapper's amount_left). */
void rm_init(struct ratemeasure *rm, uint64_t left);

/*
 * `amount` bytes of piece data were accepted at `now`.  The first call only
 * starts the clock (two seconds in the past, as mainline does), so there is
 * no estimate until the second.  `left` never goes below 0.
 */
void rm_data_came_in(struct ratemeasure *rm, double now, uint64_t amount);

/* A piece of `amount` bytes failed its hash check and must come again. */
void rm_data_rejected(struct ratemeasure *rm, uint64_t amount);

/*
 * Estimated seconds until the download completes, or a negative value when
 * unknown (nothing received yet, or the rate is zero).  After 15 seconds
 * without data the estimate is refreshed with a zero-byte update, so it
 * grows while the download stalls.
 */
double rm_get_time_left(struct ratemeasure *rm, double now);

/* Bytes still to download, counting partly downloaded pieces. */
uint64_t rm_get_size_left(const struct ratemeasure *rm);

#endif

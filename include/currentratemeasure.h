/*
 * currentratemeasure: a transfer rate over a sliding window (mainline
 * CurrentRateMeasure.Measure).  One is kept for the global upload and
 * download rates and one for each peer in each direction.
 *
 * The clock is injected: every function that needs the time takes `now`,
 * in seconds on a monotonic clock, so tests can drive a fake one.  A `now`
 * earlier than the last update is treated as the time of the last update.
 *
 * The rate is the bytes counted since `ratesince` divided by the time since
 * then.  The window starts `fudge` seconds before crm_init() (so the first
 * bytes do not produce an absurd rate) and never reaches back more than
 * max_rate_period seconds before the last update.
 */
#ifndef BT_CURRENTRATEMEASURE_H
#define BT_CURRENTRATEMEASURE_H

#include <stdint.h>

/* A value type: embed it, crm_init() it, nothing to release. */
struct crm {
	double max_rate_period;	/* longest window, seconds */
	double ratesince;	/* start of the window */
	double last;		/* time of the last update */
	double rate;		/* bytes per second over [ratesince, last] */
	uint64_t total;		/* every byte ever counted */
};

/*
 * Start measuring at `now`.  Mainline uses fudge 5 for uploads (an allowance
 * for TCP buffers) and 1 for downloads.  max_rate_period must be > 0.
 */
void crm_init(struct crm *m, double max_rate_period, double fudge,
    double now);

/*
 * Count `amount` bytes that moved at `now` and recompute the rate.  If no
 * time at all has passed since the window start (only possible with fudge
 * 0), mainline would divide by zero; here the rate is left as it was and the
 * bytes count only towards the total.
 */
void crm_update_rate(struct crm *m, double now, uint64_t amount);

/* The rate in bytes per second, after a zero-byte update at `now`. */
double crm_get_rate(struct crm *m, double now);

/* The rate as of the last update, without updating. */
double crm_get_rate_noupdate(const struct crm *m);

/*
 * Seconds from `now` until the rate, with no more bytes counted, falls to
 * newrate: 0 when it is already at or below it.  The upload cap uses this
 * to know when to resume.  A newrate <= 0 means "no cap" and gives 0.
 */
double crm_time_until_rate(const struct crm *m, double now, double newrate);

/* Every byte counted since crm_init(). */
uint64_t crm_total(const struct crm *m);

#endif

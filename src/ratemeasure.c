/*
 * ratemeasure: mainline RateMeasure (the ETA) with the clock passed in.
 */
#include "ratemeasure.h"

/* Mainline's constants: how the window behaves, and when to refresh. */
#define RM_START_FUDGE	2.0	/* the first data starts the clock this early */
#define RM_MIN_WINDOW	20.0	/* once wider than this, stay at least this */
#define RM_STALL	15.0	/* refresh a stale estimate after this long */

void
rm_init(struct ratemeasure *rm, uint64_t left)
{
	rm->start = 0.0;
	rm->last = 0.0;
	rm->rate = 0.0;
	rm->remaining = -1.0;
	rm->left = left;
	rm->broke = false;
	rm->got_anything = false;
}

static void
rm_take(struct ratemeasure *rm, uint64_t amount)
{
	rm->left = amount < rm->left ? rm->left - amount : 0;
}

/*
 * Mainline's update().  Where Python raised ZeroDivisionError (no time
 * since the window start, or a zero rate) the estimate becomes unknown.
 */
static void
rm_update(struct ratemeasure *rm, double t, uint64_t amount)
{
	rm_take(rm, amount);
	if (t < rm->last)
		t = rm->last;
	if (t - rm->start <= 0) {
		rm->remaining = -1.0;
	} else {
		rm->rate = (rm->rate * (rm->last - rm->start) +
		    (double)amount) / (t - rm->start);
		rm->last = t;
		if (rm->rate > 0) {
			rm->remaining = (double)rm->left / rm->rate;
			/* Look back no further than we expect to look ahead. */
			if (rm->start < rm->last - rm->remaining)
				rm->start = rm->last - rm->remaining;
		} else {
			rm->remaining = -1.0;
		}
	}
	if (rm->broke && rm->last - rm->start < RM_MIN_WINDOW)
		rm->start = rm->last - RM_MIN_WINDOW;
	if (rm->last - rm->start > RM_MIN_WINDOW)
		rm->broke = true;
}

void
rm_data_came_in(struct ratemeasure *rm, double now, uint64_t amount)
{
	if (!rm->got_anything) {
		rm->got_anything = true;
		rm->start = now - RM_START_FUDGE;
		rm->last = rm->start;
		rm_take(rm, amount);
		return;
	}
	rm_update(rm, now, amount);
}

void
rm_data_rejected(struct ratemeasure *rm, uint64_t amount)
{
	rm->left = amount < UINT64_MAX - rm->left ? rm->left + amount :
	    UINT64_MAX;
}

double
rm_get_time_left(struct ratemeasure *rm, double now)
{
	if (!rm->got_anything)
		return -1.0;
	if (now - rm->last > RM_STALL)
		rm_update(rm, now, 0);
	return rm->remaining;
}

uint64_t
rm_get_size_left(const struct ratemeasure *rm)
{
	return rm->left;
}

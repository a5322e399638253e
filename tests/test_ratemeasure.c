#include "ratemeasure.h"

#include <math.h>

#include "check.h"

/* No libm: the Makefile does not link it. */
#define NEAR(a, b, eps)	((a) - (b) <= (eps) && (b) - (a) <= (eps))

static void
test_unknown_until_second_data(void)
{
	struct ratemeasure rm;

	rm_init(&rm, 1000000);
	CHECK(rm_get_time_left(&rm, 0.0) < 0);
	CHECK_INT_EQ(rm_get_size_left(&rm), 1000000);
	/* The first data only starts the clock (at 10 - 2). */
	rm_data_came_in(&rm, 10.0, 1000);
	CHECK_INT_EQ(rm_get_size_left(&rm), 999000);
	CHECK(rm_get_time_left(&rm, 10.0) < 0);
	CHECK(rm.start == 8.0);
	/* 3000 bytes over the 3 s since 8: 1000 B/s, 996000 bytes left. */
	rm_data_came_in(&rm, 11.0, 3000);
	CHECK_INT_EQ(rm_get_size_left(&rm), 996000);
	CHECK(NEAR(rm.rate, 1000.0, 1e-9));
	CHECK(NEAR(rm_get_time_left(&rm, 11.0), 996.0, 1e-9));
}

/*
 * A longer run, checked against mainline's recurrence: 2000 bytes every
 * half second after the start above.
 */
static void
test_steady_and_stall(void)
{
	struct ratemeasure rm;

	rm_init(&rm, 1000000);
	rm_data_came_in(&rm, 10.0, 1000);
	rm_data_came_in(&rm, 11.0, 3000);
	for (int i = 2; i < 200; i++)
		rm_data_came_in(&rm, 10.0 + i * 0.5, 2000);
	CHECK_INT_EQ(rm_get_size_left(&rm), 600000);
	CHECK(NEAR(rm.rate, 3931.0344827586205, 1e-6));
	CHECK(NEAR(rm.remaining, 152.63157894736844, 1e-6));
	CHECK(rm.broke);
	/* Within 15 s of the last data the estimate is left alone... */
	CHECK(NEAR(rm_get_time_left(&rm, 119.5), 152.63157894736844, 1e-6));
	/* ...after that a zero-byte update makes it grow. */
	CHECK(NEAR(rm_get_time_left(&rm, 125.5), 176.69172932330827, 1e-6));
	CHECK(NEAR(rm.rate, 3395.744680851064, 1e-6));
}

/* The window is pulled up so it reaches back no further than the ETA. */
static void
test_window_follows_eta(void)
{
	struct ratemeasure rm;
	double eta;

	rm_init(&rm, 100000);
	rm_data_came_in(&rm, 0.0, 0);
	for (int i = 1; i <= 95; i++)
		rm_data_came_in(&rm, i * 1.0, 1000);
	eta = rm_get_time_left(&rm, 95.0);
	CHECK_INT_EQ(rm_get_size_left(&rm), 5000);
	CHECK(NEAR(eta, 5.0, 0.5));
	/* Broke: at least 20 s of window even though the ETA is ~5 s. */
	CHECK(rm.broke);
	CHECK(rm.last - rm.start >= 20.0 - 1e-9);
}

static void
test_rejected_and_complete(void)
{
	struct ratemeasure rm;

	rm_init(&rm, 10000);
	rm_data_came_in(&rm, 0.0, 4000);
	rm_data_came_in(&rm, 2.0, 4000);
	CHECK_INT_EQ(rm_get_size_left(&rm), 2000);
	rm_data_rejected(&rm, 4000);
	CHECK_INT_EQ(rm_get_size_left(&rm), 6000);
	rm_data_came_in(&rm, 3.0, 4000);
	rm_data_came_in(&rm, 4.0, 2000);
	CHECK_INT_EQ(rm_get_size_left(&rm), 0);
	CHECK(rm_get_time_left(&rm, 4.0) == 0.0);
	/* More than `left` (should not happen) stops at zero. */
	rm_data_came_in(&rm, 5.0, 100);
	CHECK_INT_EQ(rm_get_size_left(&rm), 0);
	rm_data_rejected(&rm, UINT64_MAX);
	rm_data_rejected(&rm, 5);
	CHECK(rm_get_size_left(&rm) == UINT64_MAX);
}

/* Zero-byte updates with no data give "unknown", never NaN or infinity. */
static void
test_zero_rate_is_unknown(void)
{
	struct ratemeasure rm;

	rm_init(&rm, 5000);
	rm_data_came_in(&rm, 100.0, 0);
	CHECK(rm_get_time_left(&rm, 110.0) < 0);
	CHECK(rm_get_time_left(&rm, 200.0) < 0);
	CHECK(isfinite(rm.rate));
	rm_data_came_in(&rm, 98.0, 0);
	CHECK(isfinite(rm.rate));
	rm_data_came_in(&rm, 201.0, 5000);
	CHECK(rm_get_time_left(&rm, 201.0) == 0.0);
}

int
main(void)
{
	CHECK_RUN(test_unknown_until_second_data, test_steady_and_stall,
	    test_window_follows_eta, test_rejected_and_complete,
	    test_zero_rate_is_unknown);
}

#include "currentratemeasure.h"

#include <math.h>

#include "check.h"

/* No libm: the Makefile does not link it. */
#define NEAR(a, b, eps)	((a) - (b) <= (eps) && (b) - (a) <= (eps))

/* Hand-checked steps of mainline's recurrence, fudge 5, window 20. */
static void
test_first_steps(void)
{
	struct crm m;

	crm_init(&m, 20.0, 5.0, 100.0);
	CHECK(crm_get_rate_noupdate(&m) == 0.0);
	CHECK_INT_EQ(crm_total(&m), 0);
	/* 600 bytes over the 6 s since 95 (100 minus the fudge). */
	crm_update_rate(&m, 101.0, 600);
	CHECK(NEAR(crm_get_rate_noupdate(&m), 100.0, 1e-9));
	/* (100 * 6 + 1200) / 8 */
	crm_update_rate(&m, 103.0, 1200);
	CHECK(NEAR(crm_get_rate_noupdate(&m), 225.0, 1e-9));
	CHECK_INT_EQ(crm_total(&m), 1800);
	CHECK(m.ratesince == 95.0);
}

static void
test_window_clamp(void)
{
	struct crm m;

	crm_init(&m, 20.0, 5.0, 100.0);
	crm_update_rate(&m, 101.0, 600);
	crm_update_rate(&m, 103.0, 1200);
	/* get_rate is a zero-byte update: 1800 bytes over 35 s. */
	CHECK(NEAR(crm_get_rate(&m, 130.0), 1800.0 / 35.0, 1e-9));
	/* ...after which the window starts max_rate_period ago. */
	CHECK(m.ratesince == 110.0);
	CHECK(m.last == 130.0);
	/* The window never reaches back more than 20 s. */
	crm_update_rate(&m, 1000.0, 0);
	CHECK(m.ratesince == 980.0);
	CHECK_INT_EQ(crm_total(&m), 1800);
}

/* 1000 bytes every 0.1 s is 10000 B/s; the estimate must settle there. */
static void
test_steady_rate_converges(void)
{
	struct crm m;
	double now = 0.0;

	crm_init(&m, 20.0, 5.0, 0.0);
	for (int i = 1; i <= 1200; i++) {
		now = i * 0.1;
		crm_update_rate(&m, now, 1000);
		/* The fudge makes the early estimate low, never high. */
		if (i == 10)
			CHECK(crm_get_rate_noupdate(&m) < 10000.0 / 5.0);
	}
	CHECK(NEAR(crm_get_rate_noupdate(&m), 10000.0, 100.0));
	CHECK_INT_EQ(crm_total(&m), 1200000);
	/* Idle time pulls it down, and the total does not move. */
	CHECK(crm_get_rate(&m, now + 10.0) < 7000.0);
	/* Each update keeps 20 s of history: 20 / 110 of what was left. */
	CHECK(crm_get_rate(&m, now + 100.0) < 7000.0 * 20.0 / 110.0);
	CHECK_INT_EQ(crm_total(&m), 1200000);
}

/* A bigger fudge damps the first estimate more. */
static void
test_fudge(void)
{
	struct crm a, b;

	crm_init(&a, 20.0, 1.0, 50.0);
	crm_init(&b, 20.0, 5.0, 50.0);
	crm_update_rate(&a, 51.0, 1000);
	crm_update_rate(&b, 51.0, 1000);
	CHECK(NEAR(crm_get_rate_noupdate(&a), 500.0, 1e-9));
	CHECK(NEAR(crm_get_rate_noupdate(&b), 1000.0 / 6.0, 1e-9));
}

static void
test_time_until_rate(void)
{
	struct crm m;

	crm_init(&m, 20.0, 5.0, 100.0);
	crm_update_rate(&m, 101.0, 600);
	crm_update_rate(&m, 103.0, 1200);
	/* 225 B/s over 8 s; 1800 bytes reach 100 B/s after 18 s. */
	CHECK(NEAR(crm_time_until_rate(&m, 103.0, 100.0), 10.0, 1e-9));
	CHECK(crm_time_until_rate(&m, 103.0, 225.0) == 0.0);
	CHECK(crm_time_until_rate(&m, 103.0, 1000.0) == 0.0);
	CHECK(crm_time_until_rate(&m, 103.0, 0.0) == 0.0);
	/* Waiting that long and asking again gives the target rate. */
	CHECK(NEAR(crm_get_rate(&m, 113.0), 100.0, 1e-9));
	CHECK(crm_time_until_rate(&m, 113.0, 100.0) < 1e-9);
}

/* Clock quirks must not produce NaN or infinity. */
static void
test_degenerate_clock(void)
{
	struct crm m;

	crm_init(&m, 20.0, 0.0, 10.0);
	crm_update_rate(&m, 10.0, 500);
	CHECK(crm_get_rate_noupdate(&m) == 0.0);
	CHECK_INT_EQ(crm_total(&m), 500);
	crm_update_rate(&m, 12.0, 400);
	CHECK(NEAR(crm_get_rate_noupdate(&m), 200.0, 1e-9));
	/* Time going backwards counts as no time passing. */
	crm_update_rate(&m, 5.0, 100);
	CHECK(isfinite(crm_get_rate_noupdate(&m)));
	CHECK(m.last == 12.0);
	CHECK(isfinite(crm_time_until_rate(&m, 1.0, 1.0)));
}

int
main(void)
{
	CHECK_RUN(test_first_steps, test_window_clamp,
	    test_steady_rate_converges, test_fudge, test_time_until_rate,
	    test_degenerate_clock);
}

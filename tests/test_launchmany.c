#include "launchmany.h"

#include "check.h"

static uint64_t
sum(const uint64_t *v, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i];
	return s;
}

static void
test_share(void)
{
	const uint64_t all = UINT64_MAX;
	uint64_t want[4], out[4];

	/* Everyone hungry: equal shares. */
	want[0] = want[1] = want[2] = all;
	lm_share(300000, want, 3, out);
	CHECK(out[0] == 100000 && out[1] == 100000 && out[2] == 100000);
	/* A small demand is met; the rest is split among the others. */
	want[0] = 20000;
	lm_share(300000, want, 3, out);
	CHECK_INT_EQ(out[0], 20000);
	CHECK(out[1] == 140000 && out[2] == 140000);
	CHECK(sum(out, 3) <= 300000);
	/* Everyone modest: each gets what it wants. */
	want[0] = 1000 * 10;
	want[1] = 2000 * 10;
	want[2] = 3000 * 10;
	lm_share(300000, want, 3, out);
	CHECK(out[0] == 10000 && out[1] == 20000 && out[2] == 30000);
	/* Water-filling: 50000 and 70000 fit the first fair share. */
	want[0] = 50000;
	want[1] = 70000;
	want[2] = all;
	want[3] = all;
	lm_share(300000, want, 4, out);
	CHECK(out[0] == 50000 && out[1] == 70000);
	CHECK(out[2] == 90000 && out[3] == 90000);
	CHECK_INT_EQ(sum(out, 4), 300000);
	/* 90000 wants more than the fair 83333 that is left: it gets that. */
	want[1] = 90000;
	lm_share(300000, want, 4, out);
	CHECK(out[0] == 50000 && out[1] == 83333 && out[3] == 83333);
	CHECK(sum(out, 4) <= 300000);
	/* Never 0, which would mean "no cap". */
	want[0] = 0;
	lm_share(1, want, 1, out);
	CHECK_INT_EQ(out[0], LM_MIN_SHARE);
	lm_share(1000, want, 0, out);
}

int
main(void)
{
	CHECK_RUN(test_share);
}

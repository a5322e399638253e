/*
 * check.h: the unit-test harness (STYLE.md 8.11).  Each CHECK prints
 * file:line and both operands on failure, counts it and carries on.  A test
 * file defines `static void test_x(void)` functions and ends with
 *
 *	int main(void) { CHECK_RUN(test_a, test_b); }
 *
 * which runs them and prints "N passed, N failed", exiting 1 on failure.
 */
#ifndef BT_CHECK_H
#define BT_CHECK_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned check_passed, check_failed;

/*
 * Random test data that can be replayed: check_seed() takes the seed from
 * $SEED (else the clock) and prints "SEED=N", and check_rnd() draws from a
 * xorshift generator started there.
 */
static uint64_t check_rng_state = 1;

static inline uint64_t
check_rnd(void)
{
	check_rng_state ^= check_rng_state << 13;
	check_rng_state ^= check_rng_state >> 7;
	check_rng_state ^= check_rng_state << 17;
	return check_rng_state;
}

static inline void
check_seed(void)
{
	const char *s = getenv("SEED");

	check_rng_state = s != NULL ? strtoull(s, NULL, 0) :
	    (uint64_t)time(NULL) * 2654435761u;
	if (check_rng_state == 0)
		check_rng_state = 1;
	printf("SEED=%llu\n", (unsigned long long)check_rng_state);
}

#define CHECK_FAIL_(...)						\
	do {								\
		check_failed++;						\
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);		\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	} while (0)

#define CHECK(cond)							\
	do {								\
		if (cond)						\
			check_passed++;					\
		else							\
			CHECK_FAIL_("CHECK(%s) failed", #cond);		\
	} while (0)

#define CHECK_INT_EQ(a, b)						\
	do {								\
		long long check_a_ = (long long)(a);			\
		long long check_b_ = (long long)(b);			\
		if (check_a_ == check_b_)				\
			check_passed++;					\
		else							\
			CHECK_FAIL_("%s == %s (%lld vs %lld)", #a, #b,	\
			    check_a_, check_b_);			\
	} while (0)

#define CHECK_STR_EQ(a, b)						\
	do {								\
		const char *check_a_ = (a), *check_b_ = (b);		\
		if (check_a_ != NULL && check_b_ != NULL &&		\
		    strcmp(check_a_, check_b_) == 0)			\
			check_passed++;					\
		else							\
			CHECK_FAIL_("%s == %s (\"%s\" vs \"%s\")", #a, #b, \
			    check_a_ ? check_a_ : "(null)",		\
			    check_b_ ? check_b_ : "(null)");		\
	} while (0)

#define CHECK_MEM_EQ(a, b, n)						\
	do {								\
		if (memcmp((a), (b), (n)) == 0)				\
			check_passed++;					\
		else							\
			CHECK_FAIL_("%s == %s (%zu bytes differ)", #a, #b, \
			    (size_t)(n));				\
	} while (0)

/* expr must evaluate to 0 (the project's success value). */
#define CHECK_OK(expr)							\
	do {								\
		long long check_r_ = (long long)(expr);			\
		if (check_r_ == 0)					\
			check_passed++;					\
		else							\
			CHECK_FAIL_("%s returned %lld", #expr, check_r_); \
	} while (0)

typedef void check_test_fn(void);

static inline int
check_run_(check_test_fn *const *tests, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tests[i]();
	printf("%u passed, %u failed\n", check_passed, check_failed);
	return check_failed == 0 ? 0 : 1;
}

#define CHECK_RUN(...)							\
	do {								\
		check_test_fn *const check_tests_[] = { __VA_ARGS__ };	\
		return check_run_(check_tests_,				\
		    sizeof(check_tests_) / sizeof(check_tests_[0]));	\
	} while (0)

#endif

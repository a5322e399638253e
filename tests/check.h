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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned check_passed, check_failed;

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

#include "sha1pair.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

/*
 * Every check runs twice: with the SHA-extension kernel (when this CPU has
 * it) and with the portable path; both must agree with sha.h's digest.
 */

#define BIG (300 * 1024 + 17)
static uint8_t bufa[BIG], bufb[BIG];

static void
fill(void)
{
	uint32_t x = 12345;

	for (size_t i = 0; i < BIG; i++) {
		x = x * 1103515245 + 12345;
		bufa[i] = (uint8_t)(x >> 16);
		bufb[i] = (uint8_t)(x >> 8);
	}
}

/* Lengths around every block boundary that padding cares about. */
static const size_t lens[] = {
	0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000,
	16384, 16384 + 55, 65536 - 1, 262144, 262144 + 9, BIG,
};
#define NLENS (sizeof(lens) / sizeof(lens[0]))

static void
oneshot_matches(bool accel)
{
	struct sha1 da, db, ea, eb;

	sha1p_set_accel(accel);
	for (size_t i = 0; i < NLENS; i++) {
		for (size_t j = 0; j < NLENS; j += 3) {
			sha1p_two(bufa, lens[i], bufb + 1, lens[j] > BIG - 1 ?
			    BIG - 1 : lens[j], &da, &db);
			sha1(bufa, lens[i], &ea);
			sha1(bufb + 1, lens[j] > BIG - 1 ? BIG - 1 : lens[j],
			    &eb);
			CHECK_MEM_EQ(da.b, ea.b, SHA1_LEN);
			CHECK_MEM_EQ(db.b, eb.b, SHA1_LEN);
		}
	}
}

static void
test_oneshot(void)
{
	oneshot_matches(true);
	oneshot_matches(false);
}

/* Finish both lanes; each must equal OpenSSL's digest of its message. */
static void
check_lanes(struct sha1pair *sp, const void *a, size_t na, const void *b,
    size_t nb)
{
	struct sha1 da, db, ea, eb;

	sha1p_final(sp, 0, &da);
	sha1p_final(sp, 1, &db);
	sha1(a, na, &ea);
	sha1(b, nb, &eb);
	CHECK_MEM_EQ(da.b, ea.b, SHA1_LEN);
	CHECK_MEM_EQ(db.b, eb.b, SHA1_LEN);
}

/* The same two messages fed in uneven steps, through both calls. */
static void
incremental_matches(bool accel)
{
	struct sha1pair *sp;
	struct sha1 da, ea;
	size_t off, step, n;

	sha1p_set_accel(accel);
	sp = sha1p_new();
	for (int round = 0; round < 3; round++) {
		sha1p_init(sp, 0);
		sha1p_init(sp, 1);
		off = 0;
		step = round == 0 ? 1 : round == 1 ? 64 : 4096;
		/* Both lanes together up to BIG - 100 ... */
		while (off < BIG - 100) {
			n = step < BIG - 100 - off ? step : BIG - 100 - off;
			sha1p_update(sp, bufa + off, bufb + off, n);
			off += n;
			step = step * 3 + 1;
		}
		/* ... and lane 0 alone for its last 100 bytes. */
		sha1p_update1(sp, 0, bufa + off, 30);
		sha1p_update1(sp, 0, bufa + off + 30, 70);
		sha1p_update1(sp, 1, NULL, 0);
		check_lanes(sp, bufa, BIG, bufb, BIG - 100);
	}
	/* Lanes out of step: lane 1 is 5 bytes ahead before the pair calls. */
	sha1p_init(sp, 0);
	sha1p_init(sp, 1);
	sha1p_update1(sp, 1, bufb, 5);
	sha1p_update(sp, bufa, bufb + 5, 262144);
	sha1p_update1(sp, 0, bufa + 262144, BIG - 262144);
	sha1p_update1(sp, 1, bufb + 262149, BIG - 100 - 262149);
	check_lanes(sp, bufa, BIG, bufb, BIG - 100);
	/*
	 * The checker's pattern: lane 0 finishes a short message and starts
	 * another while lane 1 goes on with one long message.
	 */
	sha1p_init(sp, 0);
	sha1p_init(sp, 1);
	sha1p_update(sp, bufa, bufb, 1000);
	sha1p_final(sp, 0, &da);
	sha1(bufa, 1000, &ea);
	CHECK_MEM_EQ(da.b, ea.b, SHA1_LEN);
	sha1p_init(sp, 0);
	sha1p_update(sp, bufa + 1000, bufb + 1000, 262144);
	sha1p_update1(sp, 1, bufb + 263144, BIG - 263144);
	check_lanes(sp, bufa + 1000, 262144, bufb, BIG);
	sha1p_free(sp);
	sha1p_free(NULL);
}

static void
test_incremental(void)
{
	incremental_matches(true);
	incremental_matches(false);
}

/* FIPS 180 vectors through lane 1, the million-'a' one through both. */
static void
known_vectors(bool accel)
{
	static char as[1000];
	struct sha1pair *sp;
	struct sha1 da, db;
	char hex[SHA1_HEXLEN];

	sha1p_set_accel(accel);
	sha1p_two("", 0, "abc", 3, &da, &db);
	CHECK_STR_EQ(sha1_hex(&da, hex),
	    "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	CHECK_STR_EQ(sha1_hex(&db, hex),
	    "a9993e364706816aba3e25717850c26c9cd0d89d");
	sha1p_two("abc", 3, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    56, &da, &db);
	CHECK_STR_EQ(sha1_hex(&da, hex),
	    "a9993e364706816aba3e25717850c26c9cd0d89d");
	CHECK_STR_EQ(sha1_hex(&db, hex),
	    "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	memset(as, 'a', sizeof(as));
	sp = sha1p_new();
	for (int i = 0; i < 1000; i++)
		sha1p_update(sp, as, as, sizeof(as));
	sha1p_final(sp, 0, &da);
	sha1p_final(sp, 1, &db);
	CHECK_STR_EQ(sha1_hex(&da, hex),
	    "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	CHECK_MEM_EQ(da.b, db.b, SHA1_LEN);
	sha1p_free(sp);
}

static void
test_known_vectors(void)
{
	known_vectors(true);
	known_vectors(false);
}

/* The CPU's "sha_ni" flag, from /proc/cpuinfo (Linux, x86). */
static bool
cpuinfo_has_sha_ni(void)
{
	char line[4096];
	bool found = false;
	FILE *fp = fopen("/proc/cpuinfo", "r");

	if (fp == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), fp) != NULL)
		found = strncmp(line, "flags", 5) == 0 &&
		    strstr(line, " sha_ni") != NULL;
	fclose(fp);
	return found;
}

/*
 * Off is always possible; on means on exactly when the kernel says the CPU
 * has the SHA extensions, so the tests above did run the kernel here.
 */
static void
test_accel_switch(void)
{
	bool on;

	CHECK(!sha1p_set_accel(false));
	CHECK(!sha1p_accel());
	on = sha1p_set_accel(true);
#if defined(__x86_64__)
	CHECK_INT_EQ(on, cpuinfo_has_sha_ni());
#endif
	printf("SHA extensions: %s\n", on ? "used" : "not available");
}

int
main(void)
{
	fill();
	CHECK_RUN(test_known_vectors, test_oneshot, test_incremental,
	    test_accel_switch);
}

#include "sha.h"

#include "check.h"

static void
test_known_vectors(void)
{
	struct sha1 d;
	char hex[SHA1_HEXLEN];

	sha1("", 0, &d);
	CHECK_STR_EQ(sha1_hex(&d, hex), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	sha1("abc", 3, &d);
	CHECK_STR_EQ(sha1_hex(&d, hex), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

static void
test_incremental_matches_oneshot(void)
{
	static uint8_t buf[100000];
	struct sha1 a, b;
	struct sha1_ctx *ctx = sha1_new();

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	sha1(buf, sizeof(buf), &a);
	/* Feed it in uneven pieces, twice, to check re-initialisation. */
	for (int round = 0; round < 2; round++) {
		size_t off = 0, step = 1;

		sha1_init(ctx);
		while (off < sizeof(buf)) {
			size_t n = step < sizeof(buf) - off ? step : sizeof(buf) - off;
			sha1_update(ctx, buf + off, n);
			off += n;
			step = step * 3 + 1;
		}
		sha1_final(ctx, &b);
		CHECK_MEM_EQ(a.b, b.b, SHA1_LEN);
	}
	sha1_free(ctx);
	sha1_free(NULL);
}

static void
test_million_a(void)
{
	static char buf[1000];
	struct sha1 d;
	char hex[SHA1_HEXLEN];
	struct sha1_ctx *ctx = sha1_new();

	memset(buf, 'a', sizeof(buf));
	for (int i = 0; i < 1000; i++)
		sha1_update(ctx, buf, sizeof(buf));
	sha1_final(ctx, &d);
	CHECK_STR_EQ(sha1_hex(&d, hex), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	sha1_free(ctx);
}

int
main(void)
{
	CHECK_RUN(test_known_vectors, test_incremental_matches_oneshot,
	    test_million_a);
}

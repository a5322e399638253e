/*
 * sha1pair: see the header.
 *
 * With the SHA extensions each lane keeps its own state (five words, the
 * byte count and a partial block); whole blocks that both lanes have at the
 * same time go through the two-lane kernel, anything else through the
 * one-lane kernel.  The kernel follows the instruction set's own split of
 * SHA-1 (FIPS 180-4): SHA1RNDS4 does four rounds on A..D given E plus the
 * message words, SHA1NEXTE derives the next E from the old A, and
 * SHA1MSG1/SHA1MSG2 extend the message schedule, four words at a time.
 */
#include "sha1pair.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SHA1P_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

struct lane {
	uint32_t h[5];
	uint64_t len;		/* bytes fed */
	uint8_t buf[64];	/* a partial block */
	size_t nbuf;
};

struct sha1pair {
	bool accel;
	struct lane l[2];		/* accel */
	struct sha1_ctx *ctx[2];	/* !accel */
};

static const uint32_t sha1_iv[5] = {
	0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0
};

#ifdef SHA1P_X86

#define SHA1P_TARGET __attribute__((target("sha,sse4.1,ssse3")))

/* Four rounds of every lane on message words w, round function f. */
#define SHA1P_ROUNDS(w, f)						\
	for (int k = 0; k < L; k++) {					\
		__m128i t_ = _mm_sha1nexte_epu32(e[k], w[k]);		\
		e[k] = abcd[k];						\
		abcd[k] = _mm_sha1rnds4_epu32(abcd[k], t_, f);		\
	}
/* wa (four words 16 back) becomes the next four words of the schedule. */
#define SHA1P_NEXTW(wa, wb, wc, wd)					\
	for (int k = 0; k < L; k++)					\
		wa[k] = _mm_sha1msg2_epu32(_mm_xor_si128(		\
		    _mm_sha1msg1_epu32(wa[k], wb[k]), wc[k]), wd[k]);
#define SHA1P_STEP(wa, wb, wc, wd, f)					\
	SHA1P_NEXTW(wa, wb, wc, wd) SHA1P_ROUNDS(wa, f)

/*
 * nb blocks of each of L (1 or 2) lanes; always inlined into the two
 * wrappers below so that L is a constant and the lane loops unroll.
 */
static inline __attribute__((always_inline)) SHA1P_TARGET void
sha1p_kernel(uint32_t *h[2], const uint8_t *p[2], size_t nb, const int L)
{
	/* Big-endian words, in the order the instructions want them. */
	const __m128i bswap = _mm_set_epi64x(0x0001020304050607LL,
	    0x08090a0b0c0d0e0fLL);
	__m128i abcd[2], e[2], abcd0[2], e0[2];
	__m128i w0[2], w1[2], w2[2], w3[2];

	for (int k = 0; k < L; k++) {
		abcd[k] = _mm_shuffle_epi32(
		    _mm_loadu_si128((const __m128i *)(const void *)h[k]), 0x1b);
		e[k] = _mm_set_epi32((int)h[k][4], 0, 0, 0);
	}
	for (size_t b = 0; b < nb; b++) {
		for (int k = 0; k < L; k++) {
			const uint8_t *q = p[k] + 64 * b;

			abcd0[k] = abcd[k];
			e0[k] = e[k];
			w0[k] = _mm_shuffle_epi8(_mm_loadu_si128(
			    (const __m128i *)(const void *)q), bswap);
			w1[k] = _mm_shuffle_epi8(_mm_loadu_si128(
			    (const __m128i *)(const void *)(q + 16)), bswap);
			w2[k] = _mm_shuffle_epi8(_mm_loadu_si128(
			    (const __m128i *)(const void *)(q + 32)), bswap);
			w3[k] = _mm_shuffle_epi8(_mm_loadu_si128(
			    (const __m128i *)(const void *)(q + 48)), bswap);
		}
		/* Rounds 0-3 take E as it is; later groups via SHA1NEXTE. */
		for (int k = 0; k < L; k++) {
			__m128i t = _mm_add_epi32(e[k], w0[k]);

			e[k] = abcd[k];
			abcd[k] = _mm_sha1rnds4_epu32(abcd[k], t, 0);
		}
		SHA1P_ROUNDS(w1, 0)
		SHA1P_ROUNDS(w2, 0)
		SHA1P_ROUNDS(w3, 0)
		SHA1P_STEP(w0, w1, w2, w3, 0)		/* rounds 16-19 */
		SHA1P_STEP(w1, w2, w3, w0, 1)
		SHA1P_STEP(w2, w3, w0, w1, 1)
		SHA1P_STEP(w3, w0, w1, w2, 1)
		SHA1P_STEP(w0, w1, w2, w3, 1)
		SHA1P_STEP(w1, w2, w3, w0, 1)		/* rounds 36-39 */
		SHA1P_STEP(w2, w3, w0, w1, 2)
		SHA1P_STEP(w3, w0, w1, w2, 2)
		SHA1P_STEP(w0, w1, w2, w3, 2)
		SHA1P_STEP(w1, w2, w3, w0, 2)
		SHA1P_STEP(w2, w3, w0, w1, 2)		/* rounds 56-59 */
		SHA1P_STEP(w3, w0, w1, w2, 3)
		SHA1P_STEP(w0, w1, w2, w3, 3)
		SHA1P_STEP(w1, w2, w3, w0, 3)
		SHA1P_STEP(w2, w3, w0, w1, 3)
		SHA1P_STEP(w3, w0, w1, w2, 3)		/* rounds 76-79 */
		for (int k = 0; k < L; k++) {
			e[k] = _mm_sha1nexte_epu32(e[k], e0[k]);
			abcd[k] = _mm_add_epi32(abcd[k], abcd0[k]);
		}
	}
	for (int k = 0; k < L; k++) {
		_mm_storeu_si128((__m128i *)(void *)h[k],
		    _mm_shuffle_epi32(abcd[k], 0x1b));
		h[k][4] = (uint32_t)_mm_extract_epi32(e[k], 3);
	}
}

static SHA1P_TARGET void
sha1p_blocks1(uint32_t *h, const uint8_t *p, size_t nb)
{
	uint32_t *hs[2] = { h, NULL };
	const uint8_t *ps[2] = { p, NULL };

	sha1p_kernel(hs, ps, nb, 1);
}

static SHA1P_TARGET void
sha1p_blocks2(uint32_t *ha, uint32_t *hb, const uint8_t *a, const uint8_t *b,
    size_t nb)
{
	uint32_t *hs[2] = { ha, hb };
	const uint8_t *ps[2] = { a, b };

	sha1p_kernel(hs, ps, nb, 2);
}

static bool
cpu_has_sha(void)
{
	unsigned int a, b, c, d;

	if (__get_cpuid(1, &a, &b, &c, &d) == 0 ||
	    (c & bit_SSSE3) == 0 || (c & bit_SSE4_1) == 0)
		return false;
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0)
		return false;
	return (b & bit_SHA) != 0;
}

#else	/* !SHA1P_X86: never called, accel is always false */

static void
sha1p_blocks1(uint32_t *h, const uint8_t *p, size_t nb)
{
	(void)h, (void)p, (void)nb;
	abort();
}

static void
sha1p_blocks2(uint32_t *ha, uint32_t *hb, const uint8_t *a, const uint8_t *b,
    size_t nb)
{
	(void)ha, (void)hb, (void)a, (void)b, (void)nb;
	abort();
}

static bool
cpu_has_sha(void)
{
	return false;
}

#endif

/* -1: not yet probed; then 0 or 1. */
static int accel_state = -1;

bool
sha1p_accel(void)
{
	if (accel_state < 0)
		accel_state = cpu_has_sha();
	return accel_state == 1;
}

bool
sha1p_set_accel(bool on)
{
	accel_state = on && cpu_has_sha();
	return accel_state == 1;
}

/* ---- one lane ---- */

static void
lane_init(struct lane *l)
{
	memcpy(l->h, sha1_iv, sizeof(l->h));
	l->len = 0;
	l->nbuf = 0;
}

static void
lane_update(struct lane *l, const uint8_t *p, size_t n)
{
	size_t take;

	if (n == 0)
		return;
	l->len += n;
	if (l->nbuf > 0) {
		take = 64 - l->nbuf < n ? 64 - l->nbuf : n;
		memcpy(l->buf + l->nbuf, p, take);
		l->nbuf += take;
		p += take;
		n -= take;
		if (l->nbuf < 64)
			return;
		sha1p_blocks1(l->h, l->buf, 1);
		l->nbuf = 0;
	}
	if (n >= 64) {
		sha1p_blocks1(l->h, p, n / 64);
		p += n / 64 * 64;
		n %= 64;
	}
	memcpy(l->buf, p, n);
	l->nbuf = n;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Padding: 0x80, zeros, and the length in bits in the last 8 bytes. */
static void
lane_final(struct lane *l, struct sha1 *out)
{
	uint64_t bits = l->len * 8;

	l->buf[l->nbuf++] = 0x80;
	if (l->nbuf > 56) {
		memset(l->buf + l->nbuf, 0, 64 - l->nbuf);
		sha1p_blocks1(l->h, l->buf, 1);
		l->nbuf = 0;
	}
	memset(l->buf + l->nbuf, 0, 56 - l->nbuf);
	put_be32(l->buf + 56, (uint32_t)(bits >> 32));
	put_be32(l->buf + 60, (uint32_t)bits);
	sha1p_blocks1(l->h, l->buf, 1);
	for (int i = 0; i < 5; i++)
		put_be32(out->b + 4 * i, l->h[i]);
}

/* ---- the pair ---- */

struct sha1pair *
sha1p_new(void)
{
	struct sha1pair *sp = xcalloc(1, sizeof(*sp));

	sp->accel = sha1p_accel();
	if (!sp->accel) {
		sp->ctx[0] = sha1_new();
		sp->ctx[1] = sha1_new();
	}
	sha1p_init(sp, 0);
	sha1p_init(sp, 1);
	return sp;
}

void
sha1p_free(struct sha1pair *sp)
{
	if (sp == NULL)
		return;
	sha1_free(sp->ctx[0]);
	sha1_free(sp->ctx[1]);
	free(sp);
}

void
sha1p_init(struct sha1pair *sp, int lane)
{
	if (sp->accel)
		lane_init(&sp->l[lane]);
	else
		sha1_init(sp->ctx[lane]);
}

void
sha1p_update(struct sha1pair *sp, const void *a, const void *b, size_t n)
{
	const uint8_t *pa = a, *pb = b;
	size_t nb = n / 64;

	if (!sp->accel) {
		sha1_update(sp->ctx[0], a, n);
		sha1_update(sp->ctx[1], b, n);
		return;
	}
	if (sp->l[0].nbuf == 0 && sp->l[1].nbuf == 0 && nb > 0) {
		sha1p_blocks2(sp->l[0].h, sp->l[1].h, pa, pb, nb);
		sp->l[0].len += nb * 64;
		sp->l[1].len += nb * 64;
		pa += nb * 64;
		pb += nb * 64;
		n -= nb * 64;
	}
	lane_update(&sp->l[0], pa, n);
	lane_update(&sp->l[1], pb, n);
}

void
sha1p_update1(struct sha1pair *sp, int lane, const void *p, size_t n)
{
	if (sp->accel)
		lane_update(&sp->l[lane], p, n);
	else
		sha1_update(sp->ctx[lane], p, n);
}

void
sha1p_final(struct sha1pair *sp, int lane, struct sha1 *out)
{
	if (sp->accel)
		lane_final(&sp->l[lane], out);
	else
		sha1_final(sp->ctx[lane], out);
}

void
sha1p_two(const void *a, size_t na, const void *b, size_t nb,
    struct sha1 *da, struct sha1 *db)
{
	struct sha1pair sp;
	size_t common = na < nb ? na : nb;

	if (!sha1p_accel()) {
		sha1(a, na, da);
		sha1(b, nb, db);
		return;
	}
	sp.accel = true;
	lane_init(&sp.l[0]);
	lane_init(&sp.l[1]);
	sha1p_update(&sp, a, b, common);
	lane_update(&sp.l[0], (const uint8_t *)a + common, na - common);
	lane_update(&sp.l[1], (const uint8_t *)b + common, nb - common);
	lane_final(&sp.l[0], da);
	lane_final(&sp.l[1], db);
}

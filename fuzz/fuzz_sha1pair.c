/*
 * sha1pair against sha.h's OpenSSL digest.  Byte 0 sets where the input is
 * cut into the two messages (lane 0 gets the front), byte 1 the step size
 * of the feeding; the rest is split there.  Both lanes are fed together
 * in those steps while both have bytes, then the longer one alone, and
 * each digest must equal sha1() of its message: on a machine with the
 * SHA extensions this checks the interleaved kernel against OpenSSL for
 * every length, step and misalignment the fuzzer finds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sha.h"
#include "sha1pair.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sha1pair *sp;
	struct sha1 da, db, ea, eb;
	const uint8_t *a, *b;
	size_t na, nb, step, off = 0, n;

	if (size < 2)
		return 0;
	if (sp == NULL)
		sp = sha1p_new();
	step = (size_t)data[1] * 7 + 1;
	a = data + 2;
	size -= 2;
	na = size * data[0] / 255;
	b = a + na;
	nb = size - na;
	sha1p_init(sp, 0);
	sha1p_init(sp, 1);
	while (off < na && off < nb) {
		n = step;
		if (n > na - off)
			n = na - off;
		if (n > nb - off)
			n = nb - off;
		sha1p_update(sp, a + off, b + off, n);
		off += n;
	}
	if (off < na)
		sha1p_update1(sp, 0, a + off, na - off);
	if (off < nb)
		sha1p_update1(sp, 1, b + off, nb - off);
	sha1p_final(sp, 0, &da);
	sha1p_final(sp, 1, &db);
	sha1(a, na, &ea);
	sha1(b, nb, &eb);
	if (memcmp(da.b, ea.b, SHA1_LEN) != 0 ||
	    memcmp(db.b, eb.b, SHA1_LEN) != 0)
		abort();
	sha1p_two(a, na, b, nb, &da, &db);
	if (memcmp(da.b, ea.b, SHA1_LEN) != 0 ||
	    memcmp(db.b, eb.b, SHA1_LEN) != 0)
		abort();
	return 0;
}

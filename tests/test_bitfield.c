#include "bitfield.h"

#include <errno.h>

#include "check.h"

static void
test_set_get_count(void)
{
	struct bitfield bf = BF_INIT;

	bf_init(&bf, 13);
	CHECK_INT_EQ(bf_count(&bf), 0);
	CHECK(!bf_is_complete(&bf));
	for (uint32_t i = 0; i < 13; i++)
		CHECK(!bf_get(&bf, i));
	bf_set(&bf, 0);
	bf_set(&bf, 12);
	bf_set(&bf, 12);	/* setting twice counts once */
	CHECK_INT_EQ(bf_count(&bf), 2);
	CHECK(bf_get(&bf, 0));
	CHECK(bf_get(&bf, 12));
	CHECK(!bf_get(&bf, 11));
	bf_clear(&bf, 12);
	bf_clear(&bf, 12);
	bf_clear(&bf, 5);	/* clearing a clear bit changes nothing */
	CHECK_INT_EQ(bf_count(&bf), 1);
	CHECK(!bf_get(&bf, 12));
	for (uint32_t i = 0; i < 13; i++)
		bf_set(&bf, i);
	CHECK(bf_is_complete(&bf));
	CHECK_INT_EQ(bf_count(&bf), 13);
	bf_release(&bf);
	CHECK(bf.bits == NULL);
	bf_release(&bf);	/* releasing twice is harmless */
}

static void
test_wire_layout(void)
{
	struct bitfield bf = BF_INIT;
	const uint8_t *w;
	size_t len;

	bf_init(&bf, 10);
	bf_set(&bf, 0);
	bf_set(&bf, 7);
	bf_set(&bf, 9);
	w = bf_to_wire(&bf, &len);
	CHECK_INT_EQ(len, 2);
	CHECK_INT_EQ(w[0], 0x81);	/* MSB is piece 0 */
	CHECK_INT_EQ(w[1], 0x40);
	bf_set_all(&bf);
	w = bf_to_wire(&bf, &len);
	CHECK_INT_EQ(w[0], 0xff);
	CHECK_INT_EQ(w[1], 0xc0);	/* spare bits stay zero */
	CHECK_INT_EQ(bf_count(&bf), 10);
	CHECK(bf_is_complete(&bf));
	bf_release(&bf);

	bf_init(&bf, 16);
	bf_set_all(&bf);
	w = bf_to_wire(&bf, &len);
	CHECK_INT_EQ(len, 2);
	CHECK_INT_EQ(w[1], 0xff);
	bf_release(&bf);
}

static void
test_from_wire(void)
{
	struct bitfield bf = BF_INIT;
	const uint8_t good[2] = { 0xa5, 0x80 };
	const uint8_t spare[2] = { 0xa5, 0xa0 };
	const uint8_t full[3] = { 0xff, 0xff, 0xfe };

	CHECK_OK(bf_from_wire(&bf, 9, good, 2));
	CHECK_INT_EQ(bf.n, 9);
	CHECK_INT_EQ(bf_count(&bf), 5);
	CHECK(bf_get(&bf, 0));
	CHECK(!bf_get(&bf, 1));
	CHECK(bf_get(&bf, 8));
	/* Wrong length, either way, and a spare bit set. */
	CHECK_INT_EQ(bf_from_wire(&bf, 9, good, 1), -EPROTO);
	CHECK_INT_EQ(bf_from_wire(&bf, 8, good, 2), -EPROTO);
	CHECK_INT_EQ(bf_from_wire(&bf, 9, spare, 2), -EPROTO);
	/* A failed parse leaves the old field alone. */
	CHECK_INT_EQ(bf.n, 9);
	CHECK_INT_EQ(bf_count(&bf), 5);
	/* Replacing an initialised field releases the old bits (ASan). */
	CHECK_OK(bf_from_wire(&bf, 23, full, 3));
	CHECK(bf_is_complete(&bf));
	CHECK_OK(bf_from_wire(&bf, 0, NULL, 0));
	CHECK_INT_EQ(bf.n, 0);
	CHECK(bf_is_complete(&bf));
	bf_release(&bf);
}

static void
test_roundtrip_random(void)
{
	struct bitfield a = BF_INIT, b = BF_INIT, c = BF_INIT;
	unsigned seed = 12345;
	const uint8_t *w;
	size_t len;
	uint32_t n = 100003, want = 0;

	bf_init(&a, n);
	for (uint32_t i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		if ((seed >> 16) & 1) {
			bf_set(&a, i);
			want++;
		}
	}
	CHECK_INT_EQ(bf_count(&a), want);
	w = bf_to_wire(&a, &len);
	CHECK_OK(bf_from_wire(&b, n, w, len));
	CHECK_INT_EQ(bf_count(&b), want);
	CHECK_MEM_EQ(a.bits, b.bits, len);
	bf_copy(&c, &b);
	CHECK_INT_EQ(bf_count(&c), want);
	CHECK_MEM_EQ(c.bits, a.bits, len);
	bf_release(&a);
	bf_release(&b);
	bf_release(&c);
}

int
main(void)
{
	CHECK_RUN(test_set_get_count, test_wire_layout, test_from_wire,
	    test_roundtrip_random);
}

/*
 * bitfield: a fixed-size set of piece indices (mainline bitfield.py).
 *
 * A value type: embed it, start it as BF_INIT or with bf_init(), end it with
 * bf_release().  The bytes are kept in wire form (BEP 3 "bitfield" message:
 * MSB-first, ceil(n/8) bytes, spare bits zero), so sending one is a pointer
 * and a length, and `count`, the number of set bits, is kept up to date so
 * that completeness and "how many" questions cost nothing.
 *
 * Indices are checked with assert(): validate a peer's index against n
 * before calling bf_get/bf_set/bf_clear.
 */
#ifndef BT_BITFIELD_H
#define BT_BITFIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bitfield {
	uint8_t *bits;		/* wire form, ceil(n/8) bytes, owned */
	uint32_t n;		/* number of bits */
	uint32_t count;		/* number of bits set */
};

#define BF_INIT { NULL, 0, 0 }

/* Bytes in the wire form of an n-bit field: ceil(n/8). */
size_t bf_wire_len(uint32_t n);

/* An all-clear field of n bits (aborts on OOM).  Release with bf_release. */
void bf_init(struct bitfield *bf, uint32_t n);
/* Frees the bits and leaves bf as BF_INIT; accepts BF_INIT. */
void bf_release(struct bitfield *bf);
/* dst (BF_INIT or initialised) becomes a copy of src. */
void bf_copy(struct bitfield *dst, const struct bitfield *src);

bool bf_get(const struct bitfield *bf, uint32_t i);
void bf_set(struct bitfield *bf, uint32_t i);
void bf_clear(struct bitfield *bf, uint32_t i);
void bf_set_all(struct bitfield *bf);
uint32_t bf_count(const struct bitfield *bf);
/* Every bit set (true for n == 0). */
bool bf_is_complete(const struct bitfield *bf);

/*
 * The wire form: *out_len = ceil(n/8) bytes, borrowed, valid until the
 * field is next modified or released.  May be NULL when n == 0.
 */
const uint8_t *bf_to_wire(const struct bitfield *bf, size_t *out_len);

/*
 * Parse a peer's bitfield for n pieces.  Returns -EPROTO when len is not
 * ceil(n/8) or a spare bit past n is set.  On success bf (BF_INIT or
 * initialised) is replaced; on error it is left untouched.
 */
int bf_from_wire(struct bitfield *bf, uint32_t n, const uint8_t *p,
    size_t len);

#endif

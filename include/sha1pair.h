/*
 * sha1pair: two SHA-1 digests computed side by side.
 *
 * One SHA-1 is a chain of 80 dependent rounds per 64-byte block, so even
 * with the x86 SHA extensions a single digest runs at the latency of the
 * SHA1RNDS4 instruction, not at the rate the CPU can issue it.  Two
 * independent digests interleaved fill the gaps: on the 2-core AMD EPYC we
 * measure on, two lanes hash 256 KiB pieces at about 3200 MiB/s together
 * against 1780 MiB/s for one OpenSSL digest.  Callers that have two pieces
 * to verify at once (the start-up check, btmakemetafile, a leecher with two
 * finished pieces) give one to each lane.
 *
 * Without the SHA extensions (or off x86-64) each lane is an ordinary
 * sha.h digest, so results never depend on the CPU, only the speed does.
 */
#ifndef BT_SHA1PAIR_H
#define BT_SHA1PAIR_H

#include <stdbool.h>
#include <stddef.h>

#include "sha.h"

struct sha1pair;

/* A fresh pair, both lanes initialised (aborts on OOM). */
struct sha1pair *sha1p_new(void);
void sha1p_free(struct sha1pair *sp);
/* Restart one lane (0 or 1). */
void sha1p_init(struct sha1pair *sp, int lane);
/* n bytes into each lane: a into lane 0, b into lane 1. */
void sha1p_update(struct sha1pair *sp, const void *a, const void *b, size_t n);
/* n bytes into one lane (0 or 1) only: for messages of unequal length. */
void sha1p_update1(struct sha1pair *sp, int lane, const void *p, size_t n);
/* One lane's digest; that lane may then be re-initialised. */
void sha1p_final(struct sha1pair *sp, int lane, struct sha1 *out);

/* One-shot digests of two buffers. */
void sha1p_two(const void *a, size_t na, const void *b, size_t nb,
    struct sha1 *da, struct sha1 *db);

/*
 * Whether the interleaved SHA-extension code is used.  sha1p_set_accel(false)
 * forces the portable path (tests run both); true uses the SHA extensions
 * when the CPU has them.  Returns the resulting state.  Affects pairs
 * created afterwards.
 */
bool sha1p_accel(void);
bool sha1p_set_accel(bool on);

#endif

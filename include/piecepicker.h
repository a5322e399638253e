/*
 * piecepicker: which piece to ask a peer for next (mainline PiecePicker.py).
 *
 * Pure policy: no I/O, no clock.  All randomness comes from a small PRNG
 * seeded by the caller, so a run is reproducible from its seed.
 *
 * The picker counts, for every piece we do not have yet, how many connected
 * peers have it ("availability") and keeps the pieces in one bucket per
 * count, in random order within a bucket.  pp_next() then prefers, in turn:
 *
 *   1. started pieces (some block requested), lowest availability first,
 *      ties broken at random; only pieces started from a seed when asking a
 *      seed;
 *   2. while fewer than rarest_first_cutoff pieces are complete, the first
 *      wanted piece of one fixed random permutation ("random first");
 *   3. the first wanted piece in the lowest non-empty availability bucket
 *      ("rarest first"); pieces nobody has are never offered.
 *
 * Sequential mode replaces all three with "lowest-index wanted piece".
 *
 * Costs: got_have, lost_have, got_seed, lost_seed, complete and bump are
 * O(1) (complete and bump also scan the started list, which is small).
 * pp_next is O(started + buckets + pieces rejected by want).
 *
 * None of these functions may be called from inside a pp_want_fn.
 */
#ifndef BT_PIECEPICKER_H
#define BT_PIECEPICKER_H

#include <stdbool.h>
#include <stdint.h>

struct piecepicker;

/*
 * Does the caller want piece i from this peer now?  (Mainline: the peer has
 * it and StorageWrapper still has unrequested blocks of it.)  Never called
 * for a piece that is already complete.
 */
typedef bool pp_want_fn(void *ctx, uint32_t i);

/*
 * A picker for npieces pieces, none complete and none available.
 * rarest_first_cutoff is how many pieces must be complete before random
 * first gives way to rarest first (mainline config: 4).  Free with pp_free().
 */
struct piecepicker *pp_new(uint32_t npieces, uint32_t rarest_first_cutoff,
    uint64_t seed);
void pp_free(struct piecepicker *pp);

/*
 * A peer announced piece i (have or bitfield) / a peer that had it left.
 * Ignored for complete pieces.  Every pp_got_have must be matched by one
 * pp_lost_have, unless the piece completed in between.
 */
void pp_got_have(struct piecepicker *pp, uint32_t i);
void pp_lost_have(struct piecepicker *pp, uint32_t i);

/*
 * A peer with every piece connected / left.  Counted once for all pieces
 * instead of npieces pp_got_have calls; a peer counted this way must be
 * uncounted with pp_lost_seed, not with pp_lost_have.
 */
void pp_got_seed(struct piecepicker *pp);
void pp_lost_seed(struct piecepicker *pp);

/* A block of piece i was requested; peer_is_seed if from a seed. */
void pp_requested(struct piecepicker *pp, uint32_t i, bool peer_is_seed);

/* Piece i passed its hash check: never offer it again.  Idempotent. */
void pp_complete(struct piecepicker *pp, uint32_t i);

/*
 * Piece i failed its hash check: it is no longer started and goes to the
 * back of its availability bucket.
 */
void pp_bump(struct piecepicker *pp, uint32_t i);

/*
 * The piece to request next from a peer, or -1 when want accepts none.
 * want(ctx, i) is called for candidates in preference order.
 */
int64_t pp_next(struct piecepicker *pp, pp_want_fn *want, void *ctx,
    bool peer_is_seed);

/* Sequential mode: pp_next returns the lowest-index wanted piece. */
void pp_set_sequential(struct piecepicker *pp, bool on);

/* How many pieces are complete. */
uint32_t pp_num_complete(const struct piecepicker *pp);
bool pp_is_complete(const struct piecepicker *pp, uint32_t i);

/*
 * How many connected peers (seeds included) have piece i.  Frozen once the
 * piece is complete.
 */
uint32_t pp_availability(const struct piecepicker *pp, uint32_t i);

#endif

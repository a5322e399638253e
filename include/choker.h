/*
 * choker: which peers we upload to (mainline Choker.py).
 *
 * Pure policy: no I/O, no clock.  The owner calls ch_round() every 10 s;
 * every third round first rotates the peer list so that the first choked,
 * interested peer is at the front (the new optimistic unchoke), and every
 * round then rechokes:
 *
 *   - the max_uploads - 1 interested peers with the best rate are unchoked
 *     (download rate from them while leeching, our upload rate to them while
 *     seeding; snubbed peers are left out while leeching);
 *   - the rest are walked in list order: each is unchoked while fewer than
 *     min_uploads interested peers are unchoked or until the first
 *     interested one (the optimistic unchoke) has been reached; uninterested
 *     peers met on the way are unchoked too, since they cost nothing;
 *   - everything after that is choked.
 *
 * The choker sees peers only through struct ch_peer_ops and opaque
 * pointers, and calls choke/unchoke only when a peer's state changes.
 * Callbacks may call back into the choker (even ch_connection_lost for the
 * peer being choked); a rechoke asked for meanwhile runs once the current
 * one has finished.
 */
#ifndef BT_CHOKER_H
#define BT_CHOKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct choker;

/* How the choker sees and drives a peer.  Every member must be set. */
struct ch_peer_ops {
	bool (*is_interested)(void *peer);	/* peer wants our data */
	bool (*is_choked)(void *peer);		/* we are choking it */
	void (*choke)(void *peer);
	void (*unchoke)(void *peer);
	double (*upload_rate)(void *peer);	/* our rate to it */
	double (*download_rate)(void *peer);	/* its rate to us */
	bool (*is_snubbed)(void *peer);
};

/*
 * A choker with no peers, leeching.  ops is copied.  max_uploads is the
 * upload slot count (mainline 7), min_uploads how many interested peers to
 * keep unchoked at least (mainline 4).  Free with ch_free().
 */
struct choker *ch_new(const struct ch_peer_ops *ops, int max_uploads,
    int min_uploads, uint64_t seed);
void ch_free(struct choker *ch);

/* Seeding: rank by upload rate and ignore snubbing.  No rechoke. */
void ch_set_done(struct choker *ch, bool seeding);

/*
 * A new peer: inserted at max(0, randrange(-2, n + 1)), so three times as
 * likely to land at the front as anywhere else, then rechoke.  The peer is
 * borrowed until ch_connection_lost().  Adding a known peer does nothing.
 */
void ch_connection_made(struct choker *ch, void *peer);
/* The same at a given list position (clamped to the list length). */
void ch_connection_made_at(struct choker *ch, void *peer, size_t pos);

/*
 * The peer is gone; rechoke if it held an interested upload slot.  Its ops
 * are called, so it must still be valid; it is not used afterwards.
 */
void ch_connection_lost(struct choker *ch, void *peer);

/* The peer became (not) interested; rechoke only if it is unchoked. */
void ch_interested(struct choker *ch, void *peer);
void ch_not_interested(struct choker *ch, void *peer);

/* Call every 10 s: rotates the optimistic unchoke every 3rd call. */
void ch_round(struct choker *ch);

/* New upload slot count, applied by an immediate rechoke. */
void ch_change_max_uploads(struct choker *ch, int max_uploads);

/* The peer list in choker order (for --spew); i < ch_num_peers(). */
size_t ch_num_peers(const struct choker *ch);
void *ch_peer_at(const struct choker *ch, size_t i);

/* Whether peer is the optimistic unchoke chosen by the last rechoke. */
bool ch_is_optimistic(const struct choker *ch, const void *peer);

#endif

/*
 * storagewrapper: pieces and blocks over storage, with SHA-1 verification
 * (mainline StorageWrapper.py).
 *
 * A piece is split into blocks of block_size bytes (the last block of the
 * last piece is short).  The downloader asks for blocks with
 * sw_new_request(), hands back those it will not get with
 * sw_request_lost(), and delivers data with sw_piece_came_in().  A piece
 * whose last block arrives is hashed and, if it matches, written in place
 * and added to sw_have(); with sw_set_verified() it may first wait to be
 * hashed beside the next piece to complete, and its verdict comes through
 * that callback.
 *
 * Memory: a piece being downloaded is assembled in an in-memory buffer,
 * hashed there and written once.  Buffers come from a pool capped by
 * buffer_budget; when it is used up, a partial piece "spills" to disk and
 * is hashed back from disk on completion (docs/architecture.md).
 *
 * Not thread-safe, and uses no threads: everything runs on the caller's.
 */
#ifndef BT_STORAGEWRAPPER_H
#define BT_STORAGEWRAPPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bitfield;
struct bt_err;
struct sha1;
struct storage;
struct storagewrapper;

#define SW_DEFAULT_BLOCK_SIZE	16384		/* download_slice_size */
#define SW_DEFAULT_BUFFER_BUDGET (3u << 19)	/* 1.5 MiB of piece buffers */
#define SW_MAX_PIECE_LEN	(1u << 28)	/* 256 MiB */

/* sw_piece_came_in() results; errors are -errno. */
enum {
	SW_BLOCK_STORED = 0,	/* kept; the piece is not complete yet */
	SW_PIECE_OK = 1,	/* completed the piece, hash matched, had */
	SW_PIECE_FAILED = 2,	/* completed the piece, hash failed, reset */
	SW_BLOCK_IGNORED = 3,	/* already had, or not on our block grid */
	SW_PIECE_QUEUED = 4,	/* completed the piece; the verdict goes to
				   the verified callback (sw_set_verified) */
};

/* With sw_set_verified(): piece i was hashed; ok: it matched and is had. */
typedef void sw_verified_fn(void *ctx, uint32_t i, bool ok);

struct sw_config {
	uint32_t block_size;	/* 0: SW_DEFAULT_BLOCK_SIZE */
	size_t buffer_budget;	/* 0: SW_DEFAULT_BUFFER_BUDGET; >= 1 piece */
};

#define SW_CONFIG_INIT { SW_DEFAULT_BLOCK_SIZE, SW_DEFAULT_BUFFER_BUDGET }

/* Start-up check progress: done of total pieces examined. */
typedef void sw_progress_fn(void *ctx, uint32_t done, uint32_t total);

/*
 * st is borrowed and must outlive the wrapper; hashes (npieces entries) are
 * copied.  Requires piece_len * (npieces - 1) < total_len <= piece_len *
 * npieces and total_len == st_total_len(st).  cfg may be NULL.  Returns
 * NULL with err set on bad geometry.  Nothing is had until
 * sw_check_existing() or sw_mark_have().  Free with sw_free().
 */
struct storagewrapper *sw_new(struct storage *st, const struct sha1 *hashes,
    uint32_t npieces, uint32_t piece_len, uint64_t total_len,
    const struct sw_config *cfg, struct bt_err *err);
void sw_free(struct storagewrapper *sw);

/*
 * Hash every piece that lies wholly in data that existed at start-up
 * (st_range_existed) and mark the ones that match; others are skipped
 * without reading.  fn (may be NULL) is called now and then, and once with
 * done == total at the end.  Returns 0 or the -errno of a read error.
 */
int sw_check_existing(struct storagewrapper *sw, sw_progress_fn *fn,
    void *ctx, struct bt_err *err);
/* Trust that piece i is on disk (a resume file); no-op if already had. */
void sw_mark_have(struct storagewrapper *sw, uint32_t piece);

/* Borrowed; valid until sw_free(). */
const struct bitfield *sw_have(const struct storagewrapper *sw);
bool sw_do_I_have(const struct storagewrapper *sw, uint32_t i);
uint32_t sw_num_pieces(const struct storagewrapper *sw);
/* Length of piece i (the last one may be short); 0 when out of range. */
uint32_t sw_piece_len(const struct storagewrapper *sw, uint32_t i);
uint32_t sw_block_size(const struct storagewrapper *sw);
/* Bytes in pieces not yet verified (mainline amount_left). */
uint64_t sw_amount_left(const struct storagewrapper *sw);
/* Bytes neither requested, received nor verified. */
uint64_t sw_amount_inactive(const struct storagewrapper *sw);
/* Every missing block is requested or received (is_everything_pending). */
bool sw_is_endgame(const struct storagewrapper *sw);
bool sw_is_complete(const struct storagewrapper *sw);

/* Piece i is not had and has blocks nobody was asked for. */
/*
 * Leave piece i out (it belongs only to files not chosen): it is never
 * requested and endgame no longer waits for it.  A no-op for a piece we
 * have or have started.  There is no way back within one run.
 */
void sw_set_unwanted(struct storagewrapper *sw, uint32_t i);
bool sw_is_wanted(const struct storagewrapper *sw, uint32_t i);

bool sw_do_I_have_requests(const struct storagewrapper *sw, uint32_t i);
/*
 * Mark the lowest unrequested block of piece i requested and return it.
 * -ENOENT when there is none (or i is had or out of range).
 */
int sw_new_request(struct storagewrapper *sw, uint32_t i,
    uint32_t *out_begin, uint32_t *out_len);
/* A requested block will not come (choke, disconnect): unrequest it. */
void sw_request_lost(struct storagewrapper *sw, uint32_t i, uint32_t begin,
    uint32_t len);
/*
 * A block arrived.  Returns an SW_* result, -EINVAL when i is out of range
 * or [begin, begin + len) is empty or outside the piece, or the -errno of a
 * disk error (err names the file).  data is copied.
 */
int sw_piece_came_in(struct storagewrapper *sw, uint32_t i, uint32_t begin,
    const uint8_t *data, uint32_t len, struct bt_err *err);

/*
 * From now on completed pieces are not answered with SW_PIECE_OK or
 * SW_PIECE_FAILED but with SW_PIECE_QUEUED, and each verdict goes to fn,
 * from inside sw_piece_came_in() or sw_verify_held().  This lets a piece
 * in memory wait for a second one to be hashed beside it (sha1pair.h):
 * the caller must then call sw_verify_held() soon after sw_has_held()
 * turns true (btdownload: within a few milliseconds), or the piece waits
 * for the next one to complete.
 */
void sw_set_verified(struct storagewrapper *sw, sw_verified_fn *fn,
    void *ctx);
bool sw_has_held(const struct storagewrapper *sw);
/* Verify the held piece now, alone.  0 or the -errno of a disk error. */
int sw_verify_held(struct storagewrapper *sw, struct bt_err *err);

/*
 * Read len bytes at begin of a piece we have into buf.  -ENOENT when we do
 * not have it, -EINVAL when the range leaves the piece.
 */
int sw_get_piece(struct storagewrapper *sw, uint32_t i, uint32_t begin,
    uint32_t len, uint8_t *buf, struct bt_err *err);
/*
 * For sendfile(): the first contiguous file segment of that block, as
 * st_map() (the fd is borrowed, valid until the next storage call).
 */
int sw_map_piece(struct storagewrapper *sw, uint32_t i, uint32_t begin,
    uint32_t len, int *out_fd, uint64_t *out_off, size_t *out_n,
    struct bt_err *err);

#endif

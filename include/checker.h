/*
 * checker: hash pieces already on disk a slice at a time (the start-up
 * check, mainline's check_hashes=1), so that the caller can run it from a
 * reactor task and keep answering signals, drawing the status line and
 * serving other torrents while a large torrent is checked.
 *
 * The caller picks the pieces (a resume file may have vouched for the
 * others) and calls ck_step() until it returns 1.  Reads go through
 * storage in chunks of at most CK_CHUNK bytes, with sequential read-ahead
 * hinted to the kernel; nothing is written.  Two pieces are hashed side by
 * side (sha1pair.h), so pieces are reported in ascending order except
 * that a shorter last piece may come before the one beside it.
 */
#ifndef BT_CHECKER_H
#define BT_CHECKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bitfield;
struct bt_err;
struct sha1;
struct storage;
struct checker;

#define CK_CHUNK	(1u << 20)

/* Piece i was hashed: ok says whether it matched. */
typedef void ck_piece_fn(void *ctx, uint32_t i, bool ok);

/*
 * A checker for the pieces set in todo (copied) of a torrent of npieces
 * pieces of piece_len bytes (the last one shorter) and total_len bytes.
 * st and hashes are borrowed and must outlive it.  Free with ck_free().
 */
struct checker *ck_new(struct storage *st, const struct sha1 *hashes,
    uint32_t piece_len, uint64_t total_len, const struct bitfield *todo);
void ck_free(struct checker *ck);

/*
 * Hash about budget bytes (at least one chunk), calling fn for every piece
 * finished meanwhile.  Returns 1 when every piece has been hashed, 0 when
 * some are left, or the -errno of a read error (err names the file).
 */
int ck_step(struct checker *ck, size_t budget, ck_piece_fn *fn, void *ctx,
    struct bt_err *err);

/* Bytes read and hashed so far. */
uint64_t ck_bytes(const struct checker *ck);
/* Pieces hashed so far, and pieces to hash in all. */
uint32_t ck_done(const struct checker *ck);
uint32_t ck_total(const struct checker *ck);

#endif

/*
 * piecehash: the piece hashes of a list of files, for btmakemetafile.
 *
 * The files are taken as one stream of bytes, in order, cut into pieces
 * of piece_len bytes (the last one shorter); a piece may span several
 * files, and empty files take no room.  Two pieces are hashed side by side
 * (sha1pair.h), which on CPUs with the SHA extensions runs at nearly twice
 * the speed of one digest; the digests are the same either way.
 *
 * Files are read with pread(2), about PH_CHUNK bytes at a time (two
 * pieces at a time for pieces of PH_CHUNK), into one buffer of
 * 2 * PH_CHUNK bytes whatever the piece size, with sequential read-ahead
 * hinted to the kernel.  Nothing is written.
 */
#ifndef BT_PIECEHASH_H
#define BT_PIECEHASH_H

#include <stddef.h>
#include <stdint.h>

struct bt_err;

#define PH_CHUNK	(1u << 20)

/* One input file: where to open it, and how many bytes of it to hash. */
struct ph_file {
	const char *path;
	uint64_t length;
};

/* done bytes of the total have been hashed (called after every chunk). */
typedef void ph_progress_fn(void *ctx, uint64_t done);

/* How many pieces of piece_len bytes total bytes make. */
uint64_t ph_count(uint64_t total, uint32_t piece_len);

/*
 * SHA-1 of every piece of the concatenation of files[0..nfiles) into out,
 * SHA1_LEN bytes per piece: out must hold ph_count(total, piece_len)
 * digests, total being the sum of the lengths, and piece_len must not be
 * 0.  Every file is opened, empty ones too, so that one that is missing or
 * unreadable is an error.  fn (may be NULL) reports progress.  Returns
 * 0, or -errno with *out_bad the index of the file at fault and err saying
 * why: the strerror(3) text, or "file shrank while hashing" (-EIO) when a
 * file ends before its length.  files, out and err are borrowed.
 */
int ph_hash_files(const struct ph_file *files, size_t nfiles,
    uint32_t piece_len, uint8_t *out, ph_progress_fn *fn, void *ctx,
    size_t *out_bad, struct bt_err *err);

#endif

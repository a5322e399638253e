/*
 * resume: what a download has, kept between runs so that a restart does
 * not hash everything again; and the lock that keeps two btdownloads off
 * the same data.
 *
 * Where.  Next to the saved data, in the directory that holds it: for a
 * save path DIR/BASE (the file of a single-file torrent, the directory of
 * a multi-file one) the resume file is DIR/.BASE.btresume and the lock is
 * DIR/.BASE.btlock.  Nothing is written anywhere else (the save is written
 * to DIR/.BASE.btresume.tmp first and renamed over the old file).
 *
 * Format, version 1: one bencoded dictionary with exactly these keys, and
 * nothing after it:
 *
 *	"files"     a list with one entry per file of the torrent, in
 *	            metainfo order: a list of three integers [size, mtime
 *	            seconds, mtime nanoseconds (0..999999999)]; size must be
 *	            the file's length in the torrent
 *	"have"      the verified pieces: a bitfield in BEP 3 wire form,
 *	            ceil(pieces / 8) bytes, spare bits zero
 *	"info hash" the torrent's 20-byte info hash
 *	"pieces"    the torrent's piece count
 *	"uploaded"  payload bytes uploaded to peers over all runs (>= 0)
 *	"version"   1
 *
 * A file that breaks any rule, or that belongs to another torrent, is
 * ignored as a whole (with a warning, by the caller) and everything is
 * hashed again.
 *
 * Trust.  A piece is in "have" only after its bytes were verified, written
 * and flushed to disk (fdatasync) before the resume file was written
 * (write, fsync, rename, fsync of the directory).  On start a file whose
 * size and mtime match the record is trusted as recorded; a piece that
 * touches a file that does not match is hashed again (resume_plan).
 */
#ifndef BT_RESUME_H
#define BT_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bitfield.h"
#include "sha.h"

struct bt_err;

#define RESUME_VERSION		1
/* A resume file larger than this is refused unread. */
#define RESUME_MAX_SIZE		(128u << 20)
/* Suffixes of the resume, temporary and lock files. */
#define RESUME_SUFFIX		".btresume"
#define RESUME_TMP_SUFFIX	".btresume.tmp"
#define RESUME_LOCK_SUFFIX	".btlock"

/* A file's size and modification time; exists false when missing. */
struct resume_stat {
	uint64_t size;
	int64_t mtime_sec;
	int32_t mtime_nsec;
	bool exists;
};

/* A decoded resume file (value type; release with resume_release()). */
struct resume {
	struct sha1 info_hash;
	struct bitfield have;		/* npieces bits */
	struct resume_stat *files;	/* nfiles entries, owned */
	size_t nfiles;
	uint64_t uploaded;
};

#define RESUME_INIT { { { 0 } }, BF_INIT, NULL, 0, 0 }

/* What resume_decode() must find for the file to be accepted. */
struct resume_expect {
	const struct sha1 *info_hash;
	uint32_t npieces;
	const uint64_t *lengths;	/* each file's length in the torrent */
	size_t nfiles;
};

void resume_release(struct resume *r);

/*
 * Encode r (its have.n is the piece count).  Returns the bytes (free with
 * free(3)) and their count in *out_len.  Cannot fail.
 */
uint8_t *resume_encode(const struct resume *r, size_t *out_len);
/*
 * Decode and validate n bytes (any bytes: this parses untrusted input).
 * Returns 0 with *out filled, or -EILSEQ (not bencode, wrong shape) /
 * -EINVAL (another torrent, a wrong count or size) / -EFBIG with err set
 * and *out left as RESUME_INIT.  p is not kept.
 */
int resume_decode(const uint8_t *p, size_t n, const struct resume_expect *ex,
    struct resume *out, struct bt_err *err);

/*
 * Read and decode the file at path.  -ENOENT when there is none; other
 * errors as resume_decode() or the -errno of the read.
 */
int resume_load(const char *path, const struct resume_expect *ex,
    struct resume *out, struct bt_err *err);
/*
 * Write r to path atomically: path.tmp is written, fsync'd and renamed
 * over path, then the directory is fsync'd.  0 or -errno with err set.
 */
int resume_save(const char *path, const struct resume *r,
    struct bt_err *err);

/*
 * The resume and lock paths for a save path (see the top).  Both are new
 * strings (free with free(3)).
 */
void resume_paths(const char *save_path, char **out_resume,
    char **out_lock);

/*
 * Size and mtime of each file now: save_path itself for a single-file
 * torrent, save_path/relpaths[i] otherwise.  Symbolic links are not
 * followed; anything but a regular file counts as missing.
 */
void resume_stat_files(const char *save_path, bool single,
    const char *const *relpaths, size_t n, struct resume_stat *out);
/* a and b describe the same file contents: same size and mtime. */
bool resume_stat_same(const struct resume_stat *a,
    const struct resume_stat *b);

/*
 * Which pieces to trust and which to hash again.  changed[f] says file f
 * does not match its record (or there is no record).  A piece claimed in
 * `claimed` (may be NULL: nothing claimed) whose files are all unchanged
 * goes to out_trust; a piece touching a changed file goes to out_check
 * (whether claimed or not).  Zero-length files touch no piece.  Both
 * outputs must be initialised to the piece count, and are cleared first.
 */
void resume_plan(const struct bitfield *claimed, const uint64_t *lengths,
    size_t nfiles, const bool *changed, uint32_t piece_len,
    struct bitfield *out_trust, struct bitfield *out_check);

/*
 * Take the lock file at path (created if missing; the directory must
 * exist) with a non-blocking fcntl() write lock, and write our pid in it.
 * Returns the fd (keep it open: closing it releases the lock), -EAGAIN
 * when another process holds it (*out_holder gets its pid, or 0 if
 * unknown), or another -errno, with err set either way.
 */
int resume_lock(const char *path, long *out_holder, struct bt_err *err);

/*
 * Create dir and its missing parents (mode 0777 less the umask).  0 or
 * -errno with err set.
 */
int resume_mkdirs(const char *dir, struct bt_err *err);

#endif

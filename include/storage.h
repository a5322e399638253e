/*
 * storage: byte-offset I/O over the torrent's list of files (mainline
 * Storage.py).  The torrent is one stream of bytes; file i holds the bytes
 * [begin_i, begin_i + length_i) of it, in metainfo order.
 *
 * Layout.  A single-file torrent is exactly the file at `path` (the caller
 * picked it: --saveas FILE or ./NAME).  A multi-file torrent lives under the
 * directory `path` (--saveas DIR or ./NAME), file i at path/files[i].path.
 * Missing directories are created; missing files are created sparse at
 * their final size (ftruncate); a file of the wrong size is truncated or
 * extended to its final size, as mainline does; zero-length files are only
 * created.
 *
 * Safety.  Every relative path must be '/'-separated components that are
 * neither empty, "." nor "..", and not absolute (btformats checks this too;
 * we check again).  Below `path`, no symbolic link is ever followed, at
 * start-up or later: at start-up each directory is walked (and created)
 * with mkdirat and openat(O_NOFOLLOW | O_DIRECTORY) and each file checked
 * with fstatat(AT_SYMLINK_NOFOLLOW); every later open is relative to a
 * directory fd held open for `path`, with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) where the kernel has it and otherwise the same
 * O_NOFOLLOW walk, so a directory swapped for a symlink while we run is
 * refused too (-ELOOP).  `path` itself and its parents may be symlinks:
 * that is the user's choice.
 *
 * File descriptors come from a bounded LRU pool (max_open_files, mainline
 * 4.x FilePool), so a torrent of 100,000 files needs at most that many fds.
 * Files are opened read-write (read-only if that is all the file allows)
 * until st_set_readonly().
 *
 * Errors are -errno, and err says which file: "dir/a.bin: No space left on
 * device".  No function here may be called from another thread while one
 * is running.
 */
#ifndef BT_STORAGE_H
#define BT_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bt_err;
struct storage;

#define ST_DEFAULT_MAX_OPEN_FILES 50

struct st_file {
	const char *path;	/* relative; ignored when single_file */
	uint64_t length;
	bool whole;		/* all of it will be written: allocate it */
};

struct st_config {
	int max_open_files;	/* <= 0 means ST_DEFAULT_MAX_OPEN_FILES */
	bool no_openat2;	/* always walk, as without openat2 (tests) */
};

#define ST_CONFIG_INIT { ST_DEFAULT_MAX_OPEN_FILES, false }

/*
 * Set up (create, size) the files and return the storage, or NULL with err
 * set.  files[] and its strings are copied.  single_file requires nfiles ==
 * 1.  cfg may be NULL for the defaults.  Free with st_free().
 */
struct storage *st_new(const char *path, const struct st_file *files,
    size_t nfiles, bool single_file, const struct st_config *cfg,
    struct bt_err *err);
/* Close every file; NULL is a no-op.  Does not sync (see st_flush). */
void st_free(struct storage *st);

uint64_t st_total_len(const struct storage *st);
size_t st_num_files(const struct storage *st);

/*
 * Read or write n bytes at torrent offset off, across file boundaries.
 * -EINVAL when the range passes the end of the torrent, -EROFS for a write
 * after st_set_readonly(), -EIO when a file turned out shorter than it
 * should be, otherwise the -errno of the failing call.
 */
int st_read(struct storage *st, uint64_t off, void *buf, size_t n,
    struct bt_err *err);
int st_write(struct storage *st, uint64_t off, const void *buf, size_t n,
    struct bt_err *err);

/*
 * The first contiguous file segment of [off, off + n), for sendfile():
 * *out_fd (borrowed: valid until the next call on st), the offset in that
 * file and its length (1 <= *out_n <= n).  n must be > 0.
 */
int st_map(struct storage *st, uint64_t off, size_t n, int *out_fd,
    uint64_t *out_file_off, size_t *out_n, struct bt_err *err);

/* fdatasync() every file written since the last flush. */
int st_flush(struct storage *st, struct bt_err *err);
/*
 * The torrent is complete: flush, close the read-write fds; files are
 * reopened read-only on demand and writes fail with -EROFS from now on.
 */
int st_set_readonly(struct storage *st, struct bt_err *err);

/* File i existed at start-up with at least its full length. */
bool st_file_exists_full(const struct storage *st, size_t i);
/* Size of file i at start-up (0 when it did not exist). */
uint64_t st_file_size_at_start(const struct storage *st, size_t i);
/*
 * Every byte of [off, off + n) lay in a file, at an offset the file already
 * had at start-up, so it may hold earlier data (mainline was_preallocated).
 * A range in files we created is all zeros: a hash check can skip it.
 */
bool st_range_existed(const struct storage *st, uint64_t off, uint64_t n);

/*
 * Hint sequential access (posix_fadvise SEQUENTIAL, for the start-up hash
 * check) on every fd open now and opened later; false goes back to NORMAL.
 */
void st_set_sequential(struct storage *st, bool on);

#endif

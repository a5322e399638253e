/*
 * piecehash: see the header.
 *
 * Pieces go in pairs: piece 2k to lane 0 of a sha1pair, piece 2k+1 to
 * lane 1, fed in equal steps; only the last pair can be uneven (its
 * second piece short or missing), and lane 0 finishes that alone.
 *
 * Pieces of up to PH_CHUNK bytes: whole pairs are read front to back,
 * about PH_CHUNK bytes at a time (2 * PH_CHUNK for pieces of PH_CHUNK),
 * and hashed out of the buffer while it is still in the CPU's cache.
 * Larger pieces are read as two streams a piece apart, PH_CHUNK bytes of
 * each per step, each through its own cursor (its own descriptor, so the
 * kernel keeps a read-ahead window for each); memory stays at
 * 2 * PH_CHUNK whatever the piece size.
 *
 * Each cursor asks POSIX_FADV_SEQUENTIAL of every file it opens and keeps
 * the next PH_AHEAD bytes of it queued with POSIX_FADV_WILLNEED, so a
 * cold disk works while we hash (docs/architecture.md, "Hashing on one
 * thread").
 */
#include "piecehash.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bterr.h"
#include "log.h"
#include "sha1pair.h"

#define PH_AHEAD	(8u << 20)		/* WILLNEED window */

/* A reading position in the concatenation; it only moves forward. */
struct ph_cursor {
	const struct ph_file *files;
	size_t nfiles;
	size_t idx;		/* the file being read */
	uint64_t start;		/* its offset in the concatenation */
	int fd;			/* open on files[idx], or -1 */
	uint64_t hinted;	/* WILLNEED asked up to here in it */
};

struct ph {
	uint32_t piece_len;
	uint64_t total;
	uint8_t *out;
	struct ph_cursor cur[2];
	struct sha1pair *sp;
	uint8_t *buf;		/* 2 * PH_CHUNK bytes, page-aligned */
	uint64_t done;
	ph_progress_fn *fn;
	void *ctx;
	size_t bad;		/* the file at fault, after an error */
};

uint64_t
ph_count(uint64_t total, uint32_t piece_len)
{
	return total / piece_len + (total % piece_len != 0);
}

/* Keep [off, off + PH_AHEAD) of the file queued; one call per half window. */
static void
ph_hint(struct ph_cursor *c, uint64_t off)
{
	uint64_t len = c->files[c->idx].length;
	uint64_t end = len - off < PH_AHEAD ? len : off + PH_AHEAD;

	if (c->hinted < off)
		c->hinted = off;
	if (c->hinted >= end || c->hinted - off >= PH_AHEAD / 2)
		return;
	(void)posix_fadvise(c->fd, (off_t)c->hinted,
	    (off_t)(end - c->hinted), POSIX_FADV_WILLNEED);
	c->hinted = end;
}

static int
ph_open(struct ph_cursor *c, struct bt_err *err)
{
	int e;

	if ((c->fd = open(c->files[c->idx].path, O_RDONLY | O_CLOEXEC)) < 0) {
		e = errno;
		return bt_err_set(err, -e, "%s", strerror(e));
	}
	(void)posix_fadvise(c->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	c->hinted = 0;
	return 0;
}

static void
ph_close(struct ph_cursor *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/*
 * Move to the file that holds byte pos, past every file that ends at or
 * before it.  An empty file passed is opened and closed again: reading
 * would have opened it, and a missing one is an error either way.
 */
static int
ph_seek(struct ph_cursor *c, uint64_t pos, struct bt_err *err)
{
	int r;

	while (c->idx < c->nfiles &&
	    pos >= c->start + c->files[c->idx].length) {
		if (c->files[c->idx].length == 0 && (r = ph_open(c, err)) < 0)
			return r;
		ph_close(c);
		c->start += c->files[c->idx].length;
		c->idx++;
	}
	return 0;
}

/* Exactly n bytes of the concatenation from pos, across files. */
static int
ph_read(struct ph_cursor *c, uint64_t pos, uint8_t *buf, size_t n,
    struct bt_err *err)
{
	uint64_t off, len;
	size_t want;
	ssize_t got;
	int r, e;

	while (n > 0) {
		if ((r = ph_seek(c, pos, err)) < 0)
			return r;
		assert(c->idx < c->nfiles);
		if (c->fd < 0 && (r = ph_open(c, err)) < 0)
			return r;
		off = pos - c->start;
		len = c->files[c->idx].length;
		want = len - off < n ? (size_t)(len - off) : n;
		ph_hint(c, off);
		got = pread(c->fd, buf, want, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			e = errno;
			return bt_err_set(err, -e, "%s", strerror(e));
		}
		if (got == 0) {
			return bt_err_set(err, -EIO,
			    "file shrank while hashing");
		}
		buf += got;
		pos += (uint64_t)got;
		n -= (size_t)got;
	}
	return 0;
}

/* ph_read() through cursor k, noting the file at fault on failure. */
static int
ph_fill(struct ph *ph, int k, uint64_t pos, uint8_t *buf, size_t n,
    struct bt_err *err)
{
	int r = ph_read(&ph->cur[k], pos, buf, n, err);

	if (r < 0)
		ph->bad = ph->cur[k].idx;
	return r;
}

static void
ph_progress(struct ph *ph, uint64_t n)
{
	ph->done += n;
	if (ph->fn != NULL)
		ph->fn(ph->ctx, ph->done);
}

/* Finish the pair that starts at pos: lane 0 always, lane 1 if there. */
static void
ph_end_pair(struct ph *ph, uint64_t pos, bool second)
{
	uint64_t i = pos / ph->piece_len;

	sha1p_final(ph->sp, 0, (struct sha1 *)(ph->out + SHA1_LEN * i));
	sha1p_init(ph->sp, 0);
	if (second) {
		sha1p_final(ph->sp, 1,
		    (struct sha1 *)(ph->out + SHA1_LEN * (i + 1)));
		sha1p_init(ph->sp, 1);
	}
}

/* The pair of pieces in p[0..n), n at most two pieces, n > 0. */
static void
ph_pair_in(struct ph *ph, uint64_t pos, const uint8_t *p, size_t n)
{
	size_t a = n < ph->piece_len ? n : ph->piece_len;
	size_t b = n - a;

	sha1p_update(ph->sp, p, p + a, b);
	sha1p_update1(ph->sp, 0, p + b, a - b);
	ph_end_pair(ph, pos, b > 0);
}

/*
 * Pieces of up to PH_CHUNK: whole pairs, about PH_CHUNK bytes of them per
 * read (pos is where a pair starts, and so is every step's end).
 */
static int
ph_run_small(struct ph *ph, struct bt_err *err)
{
	uint64_t pair = 2 * (uint64_t)ph->piece_len, pos = 0;
	size_t step = PH_CHUNK / pair * pair, n;
	int r;

	if (step == 0)
		step = (size_t)pair;
	while (pos < ph->total) {
		n = ph->total - pos < step ? (size_t)(ph->total - pos) : step;
		if ((r = ph_fill(ph, 0, pos, ph->buf, n, err)) < 0)
			return r;
		for (size_t o = 0; o < n; o += (size_t)pair) {
			ph_pair_in(ph, pos + o, ph->buf + o,
			    n - o < pair ? n - o : (size_t)pair);
		}
		pos += n;
		ph_progress(ph, n);
	}
	return 0;
}

/*
 * One pair of pieces larger than PH_CHUNK, starting at pos: a bytes of
 * the first, b (b <= a, maybe 0) of the second, in steps of PH_CHUNK from
 * each, then the rest of the first alone.
 */
static int
ph_pair_large(struct ph *ph, uint64_t pos, uint64_t a, uint64_t b,
    struct bt_err *err)
{
	uint8_t *p0 = ph->buf, *p1 = ph->buf + PH_CHUNK;
	uint64_t off;
	size_t n;
	int r;

	for (off = 0; off < b; off += n) {
		n = b - off < PH_CHUNK ? (size_t)(b - off) : PH_CHUNK;
		if ((r = ph_fill(ph, 0, pos + off, p0, n, err)) < 0 ||
		    (r = ph_fill(ph, 1, pos + a + off, p1, n, err)) < 0)
			return r;
		sha1p_update(ph->sp, p0, p1, n);
		ph_progress(ph, 2 * (uint64_t)n);
	}
	for (; off < a; off += n) {
		n = a - off < PH_CHUNK ? (size_t)(a - off) : PH_CHUNK;
		if ((r = ph_fill(ph, 0, pos + off, p0, n, err)) < 0)
			return r;
		sha1p_update1(ph->sp, 0, p0, n);
		ph_progress(ph, n);
	}
	ph_end_pair(ph, pos, b > 0);
	return 0;
}

static int
ph_run_large(struct ph *ph, struct bt_err *err)
{
	uint64_t pos = 0, a, b;
	int r;

	while (pos < ph->total) {
		a = ph->total - pos < ph->piece_len ? ph->total - pos :
		    ph->piece_len;
		b = ph->total - pos - a < ph->piece_len ?
		    ph->total - pos - a : ph->piece_len;
		if ((r = ph_pair_large(ph, pos, a, b, err)) < 0)
			return r;
		pos += a + b;
	}
	return 0;
}

int
ph_hash_files(const struct ph_file *files, size_t nfiles,
    uint32_t piece_len, uint8_t *out, ph_progress_fn *fn, void *ctx,
    size_t *out_bad, struct bt_err *err)
{
	struct ph ph;
	void *buf;
	int r;

	memset(&ph, 0, sizeof(ph));
	ph.piece_len = piece_len;
	for (size_t i = 0; i < nfiles; i++)
		ph.total += files[i].length;
	ph.out = out;
	ph.fn = fn;
	ph.ctx = ctx;
	for (int c = 0; c < 2; c++) {
		ph.cur[c].files = files;
		ph.cur[c].nfiles = nfiles;
		ph.cur[c].fd = -1;
	}
	/* Page-aligned, so the kernel's copy runs on whole cache lines. */
	if (posix_memalign(&buf, 4096, 2 * PH_CHUNK) != 0)
		fatal("out of memory (%u bytes)", 2 * PH_CHUNK);
	ph.buf = buf;
	ph.sp = sha1p_new();
	if (piece_len <= PH_CHUNK)
		r = ph_run_small(&ph, err);
	else
		r = ph_run_large(&ph, err);
	/* Empty files after the last byte are opened too. */
	if (r == 0 && (r = ph_seek(&ph.cur[0], ph.total, err)) < 0)
		ph.bad = ph.cur[0].idx;
	if (r < 0 && out_bad != NULL)
		*out_bad = ph.bad;
	ph_close(&ph.cur[0]);
	ph_close(&ph.cur[1]);
	sha1p_free(ph.sp);
	free(buf);
	return r;
}

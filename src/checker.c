/*
 * checker: see the header.
 *
 * Two pieces are in progress at a time, one in each lane of a sha1pair:
 * two interleaved SHA-1 chains run at nearly twice the speed of one on
 * CPUs with the SHA extensions (sha1pair.h).  Each step reads the same
 * number of bytes for both lanes; when lane 1's bytes follow lane 0's on
 * disk (pieces of up to CK_CHUNK, side by side) that is one read, so the
 * file is still read front to back.  Larger pieces are read as two
 * streams a piece apart, and each is announced to the kernel with
 * POSIX_FADV_WILLNEED when its lane starts it, so that a cold disk reads
 * both ahead of us.  A lane's SHA-1 state carries over from one ck_step()
 * to the next, so a piece larger than the budget spans several steps.
 */
#include "checker.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "bitfield.h"
#include "log.h"
#include "sha1pair.h"
#include "storage.h"
#include "xmalloc.h"

#define CK_HINT_FILES	4	/* files one hint may open, at most */

struct ck_lane {
	bool busy;		/* a piece is in progress */
	uint32_t piece;
	uint32_t off;		/* hashed up to here */
	uint32_t len;		/* the piece's length */
};

struct checker {
	struct storage *st;
	const struct sha1 *hashes;
	uint32_t piece_len;
	uint64_t total_len;
	struct bitfield todo;
	uint32_t next;		/* first index not yet looked at */
	struct ck_lane lane[2];
	struct sha1pair *sp;
	uint8_t *buf;		/* 2 * CK_CHUNK bytes, page-aligned */
	uint64_t bytes;
	uint32_t done;
};

struct checker *
ck_new(struct storage *st, const struct sha1 *hashes, uint32_t piece_len,
    uint64_t total_len, const struct bitfield *todo)
{
	struct checker *ck = xcalloc(1, sizeof(*ck));
	void *buf;

	ck->st = st;
	ck->hashes = hashes;
	ck->piece_len = piece_len;
	ck->total_len = total_len;
	bf_copy(&ck->todo, todo);
	ck->sp = sha1p_new();
	/* Page-aligned, so the kernel's copy runs on whole cache lines. */
	if (posix_memalign(&buf, 4096, 2 * CK_CHUNK) != 0)
		fatal("out of memory (%u bytes)", 2 * CK_CHUNK);
	ck->buf = buf;
	st_set_sequential(st, true);
	return ck;
}

void
ck_free(struct checker *ck)
{
	if (ck == NULL)
		return;
	st_set_sequential(ck->st, false);
	bf_release(&ck->todo);
	sha1p_free(ck->sp);
	free(ck->buf);
	free(ck);
}

static uint64_t
ck_piece_off(const struct checker *ck, uint32_t i)
{
	return (uint64_t)i * ck->piece_len;
}

static uint32_t
ck_piece_len(const struct checker *ck, uint32_t i)
{
	uint64_t off = ck_piece_off(ck, i);

	if (ck->total_len - off < ck->piece_len)
		return (uint32_t)(ck->total_len - off);
	return ck->piece_len;
}

/*
 * Ask the kernel to start reading [off, off + n).  Best effort: errors
 * are ignored, and only a few files are opened, so that a piece of many
 * small files cannot churn the storage's fd pool.
 */
static void
ck_hint(struct checker *ck, uint64_t off, uint64_t n)
{
	uint64_t fo;
	size_t got;
	int fd;

	for (int k = 0; k < CK_HINT_FILES && n > 0; k++) {
		if (st_map(ck->st, off, (size_t)n, &fd, &fo, &got, NULL) < 0)
			return;
		(void)posix_fadvise(fd, (off_t)fo, (off_t)got,
		    POSIX_FADV_WILLNEED);
		off += got;
		n -= got;
	}
}

/* Give lane k the next piece of todo; false when there is none. */
static bool
ck_begin_next(struct checker *ck, int k)
{
	struct ck_lane *l = &ck->lane[k];

	while (ck->next < ck->todo.n && !bf_get(&ck->todo, ck->next))
		ck->next++;
	if (ck->next >= ck->todo.n)
		return false;
	l->piece = ck->next++;
	l->off = 0;
	l->len = ck_piece_len(ck, l->piece);
	l->busy = true;
	sha1p_init(ck->sp, k);
	if (l->len > CK_CHUNK)
		ck_hint(ck, ck_piece_off(ck, l->piece), l->len);
	return true;
}

static void
ck_end_piece(struct checker *ck, int k, ck_piece_fn *fn, void *ctx)
{
	struct ck_lane *l = &ck->lane[k];
	struct sha1 d;

	sha1p_final(ck->sp, k, &d);
	l->busy = false;
	ck->done++;
	fn(ctx, l->piece, memcmp(d.b, ck->hashes[l->piece].b, SHA1_LEN) == 0);
}

/* Read and hash the next n bytes of both lanes. */
static int
ck_both(struct checker *ck, uint32_t n, struct bt_err *err)
{
	uint64_t pos0 = ck_piece_off(ck, ck->lane[0].piece) + ck->lane[0].off;
	uint64_t pos1 = ck_piece_off(ck, ck->lane[1].piece) + ck->lane[1].off;
	uint8_t *p1 = ck->buf + CK_CHUNK;
	int r;

	if (pos1 == pos0 + n) {
		p1 = ck->buf + n;
		r = st_read(ck->st, pos0, ck->buf, 2 * (size_t)n, err);
	} else {
		r = st_read(ck->st, pos0, ck->buf, n, err);
		if (r == 0)
			r = st_read(ck->st, pos1, p1, n, err);
	}
	if (r < 0)
		return r;
	sha1p_update(ck->sp, ck->buf, p1, n);
	return 0;
}

/* Read and hash the next n bytes of lane k alone. */
static int
ck_one(struct checker *ck, int k, uint32_t n, struct bt_err *err)
{
	const struct ck_lane *l = &ck->lane[k];
	int r;

	r = st_read(ck->st, ck_piece_off(ck, l->piece) + l->off, ck->buf, n,
	    err);
	if (r < 0)
		return r;
	sha1p_update1(ck->sp, k, ck->buf, n);
	return 0;
}

int
ck_step(struct checker *ck, size_t budget, ck_piece_fn *fn, void *ctx,
    struct bt_err *err)
{
	struct ck_lane *l = ck->lane;
	size_t used = 0;
	uint32_t n;
	int r, k;

	while (used < budget || used == 0) {
		for (k = 0; k < 2; k++)
			if (!l[k].busy)
				(void)ck_begin_next(ck, k);
		if (!l[0].busy && !l[1].busy)
			return 1;
		n = CK_CHUNK;
		for (k = 0; k < 2; k++)
			if (l[k].busy && l[k].len - l[k].off < n)
				n = l[k].len - l[k].off;
		if (l[0].busy && l[1].busy) {
			r = ck_both(ck, n, err);
			used += 2 * (size_t)n;
		} else {
			k = l[0].busy ? 0 : 1;
			r = ck_one(ck, k, n, err);
			used += n;
		}
		if (r < 0)
			return r;
		for (k = 0; k < 2; k++) {
			if (!l[k].busy)
				continue;
			l[k].off += n;
			ck->bytes += n;
			if (l[k].off == l[k].len)
				ck_end_piece(ck, k, fn, ctx);
		}
	}
	if (!l[0].busy && !l[1].busy && !ck_begin_next(ck, 0))
		return 1;
	return 0;
}

uint64_t
ck_bytes(const struct checker *ck)
{
	return ck->bytes;
}

uint32_t
ck_done(const struct checker *ck)
{
	return ck->done;
}

uint32_t
ck_total(const struct checker *ck)
{
	return ck->todo.count;
}

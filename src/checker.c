/*
 * checker: see the header.  One piece is in progress at a time; its SHA-1
 * context carries over from one ck_step() to the next, so a piece larger
 * than the budget is simply spread over several steps.
 */
#include "checker.h"

#include <stdlib.h>
#include <string.h>

#include "bitfield.h"
#include "sha.h"
#include "storage.h"
#include "xmalloc.h"

struct checker {
	struct storage *st;
	const struct sha1 *hashes;
	uint32_t piece_len;
	uint64_t total_len;
	struct bitfield todo;
	uint32_t next;		/* first index not yet looked at */
	bool busy;		/* a piece is in progress */
	uint32_t cur;		/* ... this one */
	uint32_t off;		/* ... hashed up to here */
	struct sha1_ctx *sha;
	uint8_t *buf;		/* CK_CHUNK bytes */
	uint64_t bytes;
	uint32_t done;
};

struct checker *
ck_new(struct storage *st, const struct sha1 *hashes, uint32_t piece_len,
    uint64_t total_len, const struct bitfield *todo)
{
	struct checker *ck = xcalloc(1, sizeof(*ck));

	ck->st = st;
	ck->hashes = hashes;
	ck->piece_len = piece_len;
	ck->total_len = total_len;
	bf_copy(&ck->todo, todo);
	ck->sha = sha1_new();
	ck->buf = xmalloc(CK_CHUNK);
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
	sha1_free(ck->sha);
	free(ck->buf);
	free(ck);
}

static uint32_t
ck_piece_len(const struct checker *ck, uint32_t i)
{
	uint64_t off = (uint64_t)i * ck->piece_len;

	if (ck->total_len - off < ck->piece_len)
		return (uint32_t)(ck->total_len - off);
	return ck->piece_len;
}

/* Start the next piece of todo; false when there is none. */
static bool
ck_begin_next(struct checker *ck)
{
	while (ck->next < ck->todo.n && !bf_get(&ck->todo, ck->next))
		ck->next++;
	if (ck->next >= ck->todo.n)
		return false;
	ck->cur = ck->next++;
	ck->off = 0;
	ck->busy = true;
	sha1_init(ck->sha);
	return true;
}

static void
ck_end_piece(struct checker *ck, ck_piece_fn *fn, void *ctx)
{
	struct sha1 d;

	sha1_final(ck->sha, &d);
	ck->busy = false;
	ck->done++;
	fn(ctx, ck->cur, memcmp(d.b, ck->hashes[ck->cur].b, SHA1_LEN) == 0);
}

int
ck_step(struct checker *ck, size_t budget, ck_piece_fn *fn, void *ctx,
    struct bt_err *err)
{
	size_t used = 0;
	uint32_t plen, n;
	int r;

	while (used < budget || used == 0) {
		if (!ck->busy && !ck_begin_next(ck))
			return 1;
		plen = ck_piece_len(ck, ck->cur);
		n = plen - ck->off < CK_CHUNK ? plen - ck->off : CK_CHUNK;
		r = st_read(ck->st, (uint64_t)ck->cur * ck->piece_len + ck->off,
		    ck->buf, n, err);
		if (r < 0)
			return r;
		sha1_update(ck->sha, ck->buf, n);
		ck->off += n;
		ck->bytes += n;
		used += n;
		if (ck->off == plen)
			ck_end_piece(ck, fn, ctx);
	}
	if (!ck->busy && !ck_begin_next(ck))
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

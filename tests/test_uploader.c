/*
 * Uploader tests over a real storage wrapper that has every piece, with the
 * connecter faked in this file: its senders record what the upload sent,
 * and the socket's queue is a number the test sets.
 */
#include "uploader.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "bterr.h"
#include "check.h"
#include "connecter.h"
#include "rawserver.h"
#include "sha.h"
#include "storage.h"
#include "storagewrapper.h"

#define PLEN 65536u
#define NPIECES 4u
#define TOTAL (3u * PLEN + 1000u)

struct sent {
	uint32_t i, begin, len;
};

struct cn_conn {
	bool got_bitfield, choke_sent, unchoke_sent, closed;
	bool requests_full;	/* reading paused: the queue is full */
	size_t queued;		/* what the socket holds */
	struct sent pieces[1024];
	size_t npieces;
	size_t runs[64];	/* blocks per cn_send_pieces() call */
	size_t nruns;
};

/* The global upload cap, as the connecter would report it. */
static bool upload_allowed = true;
static bool upload_capped;

void cn_send_bitfield(struct cn_conn *c, const uint8_t *bits, size_t len);
void cn_send_choke(struct cn_conn *c);
void cn_send_unchoke(struct cn_conn *c);
int cn_send_pieces(struct cn_conn *c, uint32_t i, uint32_t begin,
    const uint32_t *lens, size_t n);
bool cn_upload_capped(const struct connecter *cn);
void cn_close(struct cn_conn *c);
bool cn_conn_is_flushed(const struct cn_conn *c);
size_t cn_conn_queued(const struct cn_conn *c);
bool cn_conn_is_closing(const struct cn_conn *c);
bool cn_upload_allowed(const struct connecter *cn);
void cn_pause_requests(struct cn_conn *c, bool full);

void
cn_send_bitfield(struct cn_conn *c, const uint8_t *bits, size_t len)
{
	c->got_bitfield = len == 1 && bits[0] == 0xf0;
}

void
cn_send_choke(struct cn_conn *c)
{
	c->choke_sent = true;
}

void
cn_send_unchoke(struct cn_conn *c)
{
	c->unchoke_sent = true;
}

/*
 * A run is recorded as its blocks, and its length in runs[].  Each block
 * "fills" the socket by its size, as a slow reader would.
 */
int
cn_send_pieces(struct cn_conn *c, uint32_t i, uint32_t begin,
    const uint32_t *lens, size_t n)
{
	CHECK(n >= 1 && n <= CN_RUN_MAX);
	if (c->nruns < 64)
		c->runs[c->nruns++] = n;
	for (size_t k = 0; k < n; k++) {
		struct sent s = { i, begin, lens[k] };

		if (c->npieces < 1024)
			c->pieces[c->npieces++] = s;
		c->queued += lens[k];
		begin += lens[k];
	}
	return 0;
}

bool
cn_upload_capped(const struct connecter *cn)
{
	(void)cn;
	return upload_capped;
}

void
cn_close(struct cn_conn *c)
{
	c->closed = true;
}

bool
cn_conn_is_flushed(const struct cn_conn *c)
{
	return c->queued == 0;
}

size_t
cn_conn_queued(const struct cn_conn *c)
{
	return c->queued;
}

bool
cn_conn_is_closing(const struct cn_conn *c)
{
	return c->closed;
}

void
cn_pause_requests(struct cn_conn *c, bool full)
{
	c->requests_full = full;
}

bool
cn_upload_allowed(const struct connecter *cn)
{
	(void)cn;
	return upload_allowed;
}

struct world {
	char dir[64];
	struct rawserver *rs;
	struct storage *st;
	struct storagewrapper *sw;
	struct uploader *u;
};

static void
world_init(struct world *w)
{
	struct rs_config rc = RS_CONFIG_DEFAULT;
	struct st_file f = { "", TOTAL, false };
	struct ul_config uc = { 131072, 20.0, 5.0, 65536 };
	struct sha1 hashes[NPIECES];
	uint8_t *data = malloc(TOTAL);
	char path[128];
	struct bt_err err = BT_ERR_INIT;
	FILE *fp;

	memset(w, 0, sizeof(*w));
	snprintf(w->dir, sizeof(w->dir), "/tmp/test_uploader.XXXXXX");
	CHECK(mkdtemp(w->dir) != NULL);
	for (size_t k = 0; k < TOTAL; k++)
		data[k] = (uint8_t)(k * 7);
	for (uint32_t i = 0; i < NPIECES; i++)
		sha1(data + (size_t)i * PLEN, i + 1 < NPIECES ? PLEN :
		    TOTAL - (NPIECES - 1) * PLEN, &hashes[i]);
	snprintf(path, sizeof(path), "%s/file", w->dir);
	/* The data is on disk before storage opens it: only bytes that
	 * existed at start-up are checked. */
	fp = fopen(path, "wb");
	CHECK(fp != NULL && fwrite(data, 1, TOTAL, fp) == TOTAL);
	fclose(fp);
	rc.close_on_signal = false;
	w->rs = rs_new(&rc);
	w->st = st_new(path, &f, 1, true, NULL, &err);
	w->sw = sw_new(w->st, hashes, NPIECES, PLEN, TOTAL, NULL, &err);
	CHECK_OK(sw_check_existing(w->sw, NULL, NULL, &err));
	CHECK(sw_is_complete(w->sw));
	w->u = ul_new(w->rs, w->sw, &uc);
	free(data);
}

static void
world_free(struct world *w)
{
	char path[128];

	ul_free(w->u);
	sw_free(w->sw);
	st_free(w->st);
	rs_free(w->rs);
	snprintf(path, sizeof(path), "%s/file", w->dir);
	unlink(path);
	rmdir(w->dir);
}

/* A world and an upload that is unchoked and interested, its socket busy
 * (c->queued 1) so that requests queue up. */
static struct upload *
busy_upload(struct world *w, struct cn_conn *c)
{
	struct upload *up;

	world_init(w);
	memset(c, 0, sizeof(*c));
	up = ul_upload_new(w->u, c);
	ul_got_interested(up);
	ul_unchoke(up);
	c->queued = 1;
	return up;
}

static void
test_bitfield_and_choke_state(void)
{
	struct world w;
	struct cn_conn c;
	struct upload *up;

	world_init(&w);
	memset(&c, 0, sizeof(c));
	up = ul_upload_new(w.u, &c);
	CHECK(c.got_bitfield);		/* we have all 4 pieces: 0xf0 */
	CHECK(ul_is_choked(up));
	CHECK(!ul_is_interested(up));
	CHECK(ul_got_interested(up));
	CHECK(!ul_got_interested(up));	/* no change the second time */
	ul_unchoke(up);
	CHECK(c.unchoke_sent);
	ul_choke(up);
	CHECK(c.choke_sent);
	ul_upload_free(up);
	world_free(&w);
}

static void
test_bad_requests_drop(void)
{
	struct world w;
	struct cn_conn c;
	struct upload *up;

	world_init(&w);
	memset(&c, 0, sizeof(c));
	up = ul_upload_new(w.u, &c);
	ul_got_interested(up);
	ul_unchoke(up);
	/* Longer than max_slice_length, zero length, past the piece's end,
	 * past the short last piece: each drops the peer. */
	CHECK_INT_EQ(ul_got_request(up, 0, 0, 131073), -EPROTO);
	CHECK_INT_EQ(ul_got_request(up, 0, 0, 0), -EPROTO);
	CHECK_INT_EQ(ul_got_request(up, 0, PLEN - 100, 16384), -EPROTO);
	CHECK_INT_EQ(ul_got_request(up, 3, 0, 1001), -EPROTO);
	CHECK_INT_EQ(ul_got_request(up, 0, 0xffffffffu, 16384), -EPROTO);
	CHECK_OK(ul_got_request(up, 3, 0, 1000));
	CHECK_INT_EQ(c.npieces, 1);
	ul_upload_free(up);
	world_free(&w);
}

static void
test_queue_served_in_order_as_socket_drains(void)
{
	struct world w;
	struct cn_conn c;
	struct upload *up;

	world_init(&w);
	memset(&c, 0, sizeof(c));
	up = ul_upload_new(w.u, &c);
	/* Choked or uninterested: requests are dropped silently. */
	CHECK_OK(ul_got_request(up, 0, 0, 16384));
	CHECK(!ul_has_queries(up));
	ul_got_interested(up);
	ul_unchoke(up);
	c.queued = 1;		/* the socket is busy: requests queue up */
	for (uint32_t b = 0; b < 4; b++)
		CHECK_OK(ul_got_request(up, 1, b * 16384, 16384));
	CHECK_INT_EQ(c.npieces, 0);
	/* A cancel removes one. */
	ul_got_cancel(up, 1, 16384, 16384);
	/* Drained: serve until 64 KiB is queued (max_queued_bytes). */
	c.queued = 0;
	ul_flushed(up);
	CHECK_INT_EQ(c.npieces, 3);
	CHECK_INT_EQ(c.pieces[0].begin, 0);
	CHECK_INT_EQ(c.pieces[1].begin, 32768);
	CHECK_INT_EQ(c.pieces[2].begin, 49152);
	CHECK(!ul_has_queries(up));
	CHECK_INT_EQ(ul_upload_total(up), 3 * 16384);
	CHECK_INT_EQ(ul_total(w.u), 3 * 16384);
	ul_upload_free(up);
	world_free(&w);
}

static void
test_choke_and_cap(void)
{
	struct world w;
	struct cn_conn c;
	struct upload *up;

	up = busy_upload(&w, &c);
	CHECK_OK(ul_got_request(up, 2, 0, 16384));
	CHECK(ul_has_queries(up));
	ul_choke(up);		/* a choke forgets the queue */
	CHECK(!ul_has_queries(up));
	ul_unchoke(up);
	CHECK_OK(ul_got_request(up, 2, 0, 16384));
	upload_allowed = false;	/* the global cap is reached */
	c.queued = 0;
	ul_flushed(up);
	CHECK_INT_EQ(c.npieces, 0);
	upload_allowed = true;
	ul_flushed(up);
	CHECK_INT_EQ(c.npieces, 1);
	/* Not interested any more: the queue goes. */
	c.queued = 1;
	CHECK_OK(ul_got_request(up, 2, 16384, 16384));
	CHECK(ul_got_not_interested(up));
	CHECK(!ul_has_queries(up));
	ul_upload_free(up);
	world_free(&w);
}

static void
test_flood_is_bounded(void)
{
	struct world w;
	struct cn_conn c;
	struct upload *up;
	int bad = 0;

	up = busy_upload(&w, &c);
	for (int k = 0; k < 100000; k++)
		if (ul_got_request(up, (uint32_t)k % 3, 0, 16384) != 0)
			bad++;
	CHECK_INT_EQ(bad, 0);
	/* Reading from the peer stopped long before the cap. */
	CHECK(c.requests_full);
	c.queued = 0;
	/* Only UL_MAX_QUEUE were kept: serving them all takes that many. */
	for (int k = 0; k < 2 * UL_MAX_QUEUE && ul_has_queries(up); k++) {
		c.queued = 0;
		ul_flushed(up);
	}
	CHECK_INT_EQ(c.npieces, 1024 < UL_MAX_QUEUE ? 1024 : UL_MAX_QUEUE);
	CHECK(!c.requests_full);
	ul_upload_free(up);
	world_free(&w);
}

/*
 * Requests for blocks that follow each other in one piece go out as one
 * run (cn_send_pieces), as far as the queue limit would have let them go
 * one by one; a gap, another piece or a rate cap ends a run.
 */
static void
test_runs(void)
{
	static const struct sent want[] = {
		{ 0, 0, 16384 }, { 0, 16384, 16384 }, { 0, 32768, 16384 },
		{ 1, 0, 16384 }, { 1, 32768, 16384 }, { 2, 16384, 16384 },
		{ 2, 0, 16384 },
	};
	static const size_t want_runs[] = { 3, 1, 1, 1, 1, 2, 1, 1 };
	struct world w;
	struct cn_conn c;
	struct upload *up;
	size_t bad = 0;

	up = busy_upload(&w, &c);
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
		CHECK_OK(ul_got_request(up, want[k].i, want[k].begin,
		    want[k].len));
	/* 64 KiB may be queued: piece 0's three blocks, then 1's first. */
	c.queued = 0;
	ul_flushed(up);
	CHECK_INT_EQ(c.npieces, 4);
	CHECK_INT_EQ(c.nruns, 2);
	c.queued = 0;
	ul_flushed(up);
	CHECK_INT_EQ(c.npieces, 7);
	for (size_t k = 0; k < 7; k++)
		if (c.pieces[k].i != want[k].i ||
		    c.pieces[k].begin != want[k].begin ||
		    c.pieces[k].len != want[k].len)
			bad++;
	CHECK_INT_EQ(bad, 0);
	/* With 32 KiB queued, two of four blocks fit: a run of 2. */
	c.queued = 1;
	for (uint32_t b = 0; b < 4; b++)
		CHECK_OK(ul_got_request(up, 0, b * 16384, 16384));
	c.queued = 32768;
	ul_flushed(up);
	CHECK_INT_EQ(c.npieces, 9);
	/* Under a rate cap, one block at a time. */
	upload_capped = true;
	c.queued = 0;
	ul_flushed(up);
	upload_capped = false;
	CHECK_INT_EQ(c.npieces, 11);
	CHECK_INT_EQ(c.nruns, sizeof(want_runs) / sizeof(want_runs[0]));
	for (size_t k = 0; k < c.nruns && k < 8; k++)
		CHECK_INT_EQ(c.runs[k], want_runs[k]);
	CHECK_INT_EQ(c.pieces[9].begin, 32768);
	CHECK_INT_EQ(c.pieces[10].begin, 49152);
	ul_upload_free(up);
	world_free(&w);
}

int
main(void)
{
	CHECK_RUN(test_bitfield_and_choke_state, test_bad_requests_drop,
	    test_queue_served_in_order_as_socket_drains, test_choke_and_cap,
	    test_flood_is_bounded, test_runs);
}

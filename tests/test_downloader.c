/*
 * Downloader tests over the real storage wrapper, piece picker and files
 * in a temporary directory.  The connecter is faked in this file: its
 * senders record what the downloader asked to send, so the tests can play
 * the peer and answer requests with the right (or wrong) bytes.
 */
#include "downloader.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "bitfield.h"
#include "bterr.h"
#include "check.h"
#include "piecepicker.h"
#include "rawserver.h"
#include "sha.h"
#include "storage.h"
#include "storagewrapper.h"

#define PLEN 32768u
#define NPIECES 6u
#define TOTAL (5u * PLEN + 20000u)

/* --- the fake connecter ---------------------------------------------------- */

struct req {
	uint32_t i, begin, len;
};

struct cn_conn {
	int interested;		/* last interest sent: 1, 0, or -1 none */
	struct req reqs[512];
	size_t nreqs;
	struct req cancels[512];
	size_t ncancels;
	bool closed, banned;
};

void cn_send_interested(struct cn_conn *c);
void cn_send_not_interested(struct cn_conn *c);
void cn_send_request(struct cn_conn *c, uint32_t i, uint32_t b, uint32_t l);
void cn_send_cancel(struct cn_conn *c, uint32_t i, uint32_t b, uint32_t l);
void cn_close(struct cn_conn *c);
void cn_ban(struct cn_conn *c);
struct enc_conn *cn_conn_enc(const struct cn_conn *c);
const char *enc_conn_name(const struct enc_conn *ec);

void
cn_send_interested(struct cn_conn *c)
{
	c->interested = 1;
}

void
cn_send_not_interested(struct cn_conn *c)
{
	c->interested = 0;
}

void
cn_send_request(struct cn_conn *c, uint32_t i, uint32_t b, uint32_t l)
{
	struct req r = { i, b, l };

	if (c->nreqs < 512)
		c->reqs[c->nreqs++] = r;
}

void
cn_send_cancel(struct cn_conn *c, uint32_t i, uint32_t b, uint32_t l)
{
	struct req r = { i, b, l };

	if (c->ncancels < 512)
		c->cancels[c->ncancels++] = r;
}

void
cn_close(struct cn_conn *c)
{
	c->closed = true;
}

void
cn_ban(struct cn_conn *c)
{
	c->banned = true;
}

struct enc_conn *
cn_conn_enc(const struct cn_conn *c)
{
	return (struct enc_conn *)(uintptr_t)c;
}

const char *
enc_conn_name(const struct enc_conn *ec)
{
	(void)ec;
	return "fake-peer";
}

/* --- the world ------------------------------------------------------------- */

struct world {
	char dir[64];
	uint8_t data[TOTAL];
	struct sha1 hashes[NPIECES];
	struct rawserver *rs;
	struct storage *st;
	struct storagewrapper *sw;
	struct piecepicker *pp;
	struct downloader *dl;
	int verified, failed, finished, fatal;
};

static void
w_verified(void *ctx, uint32_t i)
{
	(void)i;
	((struct world *)ctx)->verified++;
}

static void
w_failed(void *ctx, uint32_t i, uint32_t len)
{
	(void)i;
	(void)len;
	((struct world *)ctx)->failed++;
}

static void
w_finished(void *ctx)
{
	((struct world *)ctx)->finished++;
}

static void
w_fatal(void *ctx, int err, const char *msg)
{
	(void)err;
	(void)msg;
	((struct world *)ctx)->fatal++;
}

static const struct dl_callbacks w_cb = {
	w_verified, w_failed, w_finished, w_fatal
};

static void
world_init(struct world *w, uint32_t backlog)
{
	struct rs_config rc = RS_CONFIG_DEFAULT;
	struct st_file f = { "", TOTAL, false };
	struct dl_config dc = { backlog, 3.0, 30.0, 20.0 };
	char path[128];

	memset(w, 0, sizeof(*w));
	snprintf(w->dir, sizeof(w->dir), "/tmp/test_downloader.XXXXXX");
	CHECK(mkdtemp(w->dir) != NULL);
	for (size_t k = 0; k < TOTAL; k++)
		w->data[k] = (uint8_t)(k * 2654435761u >> 13);
	for (uint32_t i = 0; i < NPIECES; i++) {
		size_t len = i + 1 < NPIECES ? PLEN : TOTAL - (NPIECES - 1) * PLEN;

		sha1(w->data + (size_t)i * PLEN, len, &w->hashes[i]);
	}
	snprintf(path, sizeof(path), "%s/file", w->dir);
	rc.close_on_signal = false;
	w->rs = rs_new(&rc);
	w->st = st_new(path, &f, 1, true, NULL, NULL);
	w->sw = sw_new(w->st, w->hashes, NPIECES, PLEN, TOTAL, NULL, NULL);
	w->pp = pp_new(NPIECES, 4, 42);
	w->dl = dl_new(w->rs, w->sw, w->pp, &dc, &w_cb, w);
	CHECK(w->st != NULL && w->sw != NULL);
}

static void
world_free(struct world *w)
{
	char path[128];

	dl_shutdown(w->dl);
	dl_free(w->dl);
	pp_free(w->pp);
	sw_free(w->sw);
	st_free(w->st);
	rs_free(w->rs);
	snprintf(path, sizeof(path), "%s/file", w->dir);
	unlink(path);
	rmdir(w->dir);
}

/* A seed's bitfield: every piece, spare bits clear. */
static void
all_bits(uint8_t *bits)
{
	bits[0] = 0xfc;
}

/* Answer every request the peer has received, in order; returns how many
 * it answered.  corrupt: flip a byte in each block. */
static size_t
answer_all(struct world *w, struct dl_peer *p, struct cn_conn *c, bool corrupt)
{
	size_t done = 0;

	while (done < c->nreqs && !c->banned) {
		struct req r = c->reqs[done++];
		uint8_t buf[16384];
		size_t off = (size_t)r.i * PLEN + r.begin;

		memcpy(buf, w->data + off, r.len);
		if (corrupt)
			buf[0] ^= 0x55;
		if (dl_got_piece(p, r.i, r.begin, buf, r.len) < 0)
			return done;
	}
	return done;
}

/* A peer that has every piece, bitfield received, still choking us. */
static struct dl_peer *
seed_peer(struct world *w, struct cn_conn *c)
{
	struct dl_peer *p;
	uint8_t bits[1];

	memset(c, 0, sizeof(*c));
	c->interested = -1;
	p = dl_peer_new(w->dl, c);
	all_bits(bits);
	CHECK_OK(dl_got_bitfield(p, bits, 1));
	return p;
}

/* Deliver the block request r asked for, with the right bytes. */
static int
answer_one(struct world *w, struct dl_peer *p, const struct req *r)
{
	uint8_t buf[16384];

	memcpy(buf, w->data + (size_t)r->i * PLEN + r->begin, r->len);
	return dl_got_piece(p, r->i, r->begin, buf, r->len);
}

/* --- tests ------------------------------------------------------------------ */

static void
test_download_from_one_seed(void)
{
	struct world w;
	struct cn_conn c;
	struct dl_peer *p;
	uint8_t *got = malloc(TOTAL);
	struct bt_err err = BT_ERR_INIT;

	world_init(&w, 4);
	p = seed_peer(&w, &c);
	CHECK(dl_peer_is_seed(p));
	CHECK_INT_EQ(c.interested, 1);
	CHECK_INT_EQ(c.nreqs, 0);	/* choked: no requests yet */
	dl_got_unchoke(p);
	CHECK_INT_EQ(c.nreqs, 4);	/* the backlog */
	/* Each answer brings the next request: one pass fetches it all. */
	CHECK_INT_EQ(answer_all(&w, p, &c, false), NPIECES * 2);
	CHECK_INT_EQ(w.finished, 1);
	CHECK_INT_EQ(w.verified, NPIECES);
	CHECK_INT_EQ(w.failed, 0);
	CHECK(sw_is_complete(w.sw));
	/* We are a seed and so is it: the connection is closed. */
	CHECK(c.closed);
	CHECK_INT_EQ(dl_total(w.dl), TOTAL);
	CHECK_OK(st_read(w.st, 0, got, TOTAL, &err));
	CHECK_MEM_EQ(got, w.data, TOTAL);
	free(got);
	dl_peer_lost(p);
	world_free(&w);
}

/* A deep queue is topped up a quarter at a time, not per block. */
static void
test_requests_in_batches(void)
{
	struct world w;
	struct cn_conn c;
	struct dl_peer *p;

	world_init(&w, 8);
	p = seed_peer(&w, &c);
	dl_got_unchoke(p);
	CHECK_INT_EQ(c.nreqs, 8);
	/* One block in: 7 of 8 outstanding, nothing asked yet. */
	CHECK_OK(answer_one(&w, p, &c.reqs[0]));
	CHECK_INT_EQ(c.nreqs, 8);
	/* Two in: a quarter of the queue is free, and is asked for at once. */
	CHECK_OK(answer_one(&w, p, &c.reqs[1]));
	CHECK_INT_EQ(c.nreqs, 10);
	/* The rest, in the order asked, including the endgame, completes. */
	for (size_t k = 2; k < c.nreqs && w.finished == 0; k++)
		CHECK_OK(answer_one(&w, p, &c.reqs[k]));
	CHECK_INT_EQ(c.nreqs, NPIECES * 2);	/* each block asked for once */
	CHECK_INT_EQ(w.finished, 1);
	CHECK(sw_is_complete(w.sw));
	dl_peer_lost(p);
	world_free(&w);
}

static void
test_choke_gives_requests_back(void)
{
	struct world w;
	struct cn_conn a, b;
	struct dl_peer *pa, *pb;
	uint8_t bits[1];
	uint64_t inactive;

	world_init(&w, 4);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	pa = dl_peer_new(w.dl, &a);
	pb = dl_peer_new(w.dl, &b);
	all_bits(bits);
	dl_got_bitfield(pa, bits, 1);
	dl_got_bitfield(pb, bits, 1);
	inactive = sw_amount_inactive(w.sw);
	dl_got_unchoke(pa);
	CHECK_INT_EQ(a.nreqs, 4);
	CHECK_INT_EQ(sw_amount_inactive(w.sw), inactive - a.reqs[0].len -
	    a.reqs[1].len - a.reqs[2].len - a.reqs[3].len);
	/* A choke returns the four blocks; b is still choked, so they wait. */
	dl_got_choke(pa);
	CHECK_INT_EQ(dl_peer_num_requests(pa), 0);
	CHECK_INT_EQ(sw_amount_inactive(w.sw), inactive);
	/* A block that crosses the choke is ignored, not an error. */
	{
		uint8_t buf[16384];

		memcpy(buf, w.data + (size_t)a.reqs[0].i * PLEN + a.reqs[0].begin,
		    a.reqs[0].len);
		CHECK_OK(dl_got_piece(pa, a.reqs[0].i, a.reqs[0].begin, buf,
		    a.reqs[0].len));
	}
	dl_got_unchoke(pb);
	CHECK_INT_EQ(b.nreqs, 4);
	dl_peer_lost(pa);
	dl_peer_lost(pb);
	world_free(&w);
}

static void
test_unrequested_blocks(void)
{
	struct world w;
	struct cn_conn c;
	struct dl_peer *p;
	uint8_t bits[1], buf[16384];
	int r = 0, k;

	world_init(&w, 4);
	memset(&c, 0, sizeof(c));
	p = dl_peer_new(w.dl, &c);
	all_bits(bits);
	dl_got_bitfield(p, bits, 1);
	memset(buf, 0, sizeof(buf));
	/* A few strays are forgiven; a stream of them drops the peer. */
	for (k = 0; k < 20 && r == 0; k++)
		r = dl_got_piece(p, 5, 0, buf, 100);
	CHECK_INT_EQ(r, -EPROTO);
	CHECK_INT_EQ(k, DL_MAX_UNEXPECTED + 1);
	CHECK_INT_EQ(w.verified, 0);
	dl_peer_lost(p);
	world_free(&w);
}

static void
stop_rs(void *ctx)
{
	rs_stop(ctx);
}

/*
 * A complete piece waits to be hashed beside the next one; alone, it is
 * verified by the downloader's timer within DL_VERIFY_WAIT_MS.
 */
static void
test_lone_piece_verified_soon(void)
{
	struct world w;
	struct cn_conn c;
	struct dl_peer *p;

	world_init(&w, 2);
	p = seed_peer(&w, &c);
	dl_got_unchoke(p);
	CHECK_INT_EQ(c.nreqs, 2);
	CHECK_INT_EQ(c.reqs[0].i, c.reqs[1].i);
	CHECK_OK(answer_one(&w, p, &c.reqs[0]));
	CHECK_OK(answer_one(&w, p, &c.reqs[1]));
	/* The piece is complete but held: no verdict, no HAVE yet. */
	CHECK(sw_has_held(w.sw));
	CHECK_INT_EQ(w.verified, 0);
	/* Timers run in deadline order, however slow the machine. */
	(void)rs_add_task(w.rs, 10 * DL_VERIFY_WAIT_MS, stop_rs, w.rs);
	CHECK(rs_run(w.rs) >= 0);
	CHECK_INT_EQ(w.verified, 1);
	CHECK(!sw_has_held(w.sw));
	CHECK(sw_do_I_have(w.sw, c.reqs[0].i));
	dl_peer_lost(p);
	world_free(&w);
}

static void
test_bad_data_bans_sole_sender(void)
{
	struct world w;
	struct cn_conn c;
	struct dl_peer *p;
	uint8_t bits[1];

	world_init(&w, 64);
	memset(&c, 0, sizeof(c));
	p = dl_peer_new(w.dl, &c);
	all_bits(bits);
	dl_got_bitfield(p, bits, 1);
	dl_got_unchoke(p);
	CHECK(c.nreqs > 2);
	answer_all(&w, p, &c, true);
	CHECK(w.failed >= DL_STRIKES);
	CHECK_INT_EQ(w.verified, 0);
	CHECK(c.banned);
	dl_peer_lost(p);
	world_free(&w);
}

static void
test_endgame_cancels(void)
{
	struct world w;
	struct cn_conn a, b;
	struct dl_peer *pa, *pb;
	uint8_t bits[1], buf[16384];
	size_t k;

	world_init(&w, 64);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	pa = dl_peer_new(w.dl, &a);
	pb = dl_peer_new(w.dl, &b);
	all_bits(bits);
	dl_got_bitfield(pa, bits, 1);
	dl_got_bitfield(pb, bits, 1);
	/* a asks for every block: that is endgame. */
	dl_got_unchoke(pa);
	CHECK(sw_is_endgame(w.sw));
	/* b, unchoked in endgame, asks for the same blocks. */
	dl_got_unchoke(pb);
	CHECK_INT_EQ(b.nreqs, a.nreqs);
	/* Each block from a cancels b's copy of the request. */
	for (k = 0; k < a.nreqs; k++) {
		struct req r = a.reqs[k];

		memcpy(buf, w.data + (size_t)r.i * PLEN + r.begin, r.len);
		CHECK_OK(dl_got_piece(pa, r.i, r.begin, buf, r.len));
	}
	CHECK_INT_EQ(b.ncancels, a.nreqs);
	CHECK_INT_EQ(w.finished, 1);
	/* b's late copy of a cancelled block is ignored. */
	memcpy(buf, w.data, 16384);
	CHECK_OK(dl_got_piece(pb, b.reqs[0].i, b.reqs[0].begin, buf,
	    b.reqs[0].len));
	dl_peer_lost(pa);
	dl_peer_lost(pb);
	world_free(&w);
}

static void
test_bitfield_replaced(void)
{
	struct world w;
	struct cn_conn c;
	struct dl_peer *p;
	uint8_t bits[1];

	world_init(&w, 4);
	memset(&c, 0, sizeof(c));
	c.interested = -1;
	p = dl_peer_new(w.dl, &c);
	bits[0] = 0x80;		/* piece 0 only */
	CHECK_OK(dl_got_bitfield(p, bits, 1));
	CHECK_INT_EQ(pp_availability(w.pp, 0), 1);
	CHECK_INT_EQ(pp_availability(w.pp, 1), 0);
	/* aria2 sends a whole new bitfield mid-connection. */
	bits[0] = 0x40;
	CHECK_OK(dl_got_bitfield(p, bits, 1));
	CHECK_INT_EQ(pp_availability(w.pp, 0), 0);
	CHECK_INT_EQ(pp_availability(w.pp, 1), 1);
	CHECK_OK(dl_got_have(p, 2));
	CHECK_INT_EQ(pp_availability(w.pp, 2), 1);
	/* Spare bits set: a protocol violation. */
	bits[0] = 0x01;
	CHECK_INT_EQ(dl_got_bitfield(p, bits, 1), -EPROTO);
	CHECK_INT_EQ(c.interested, 1);
	dl_peer_lost(p);
	CHECK_INT_EQ(pp_availability(w.pp, 1), 0);
	world_free(&w);
}

/* Pieces of files left out: no interest for them, endgame without them. */
static void
test_unwanted_pieces(void)
{
	struct world w;
	struct cn_conn a, b;
	struct dl_peer *pa, *pb;
	uint8_t bits[1];

	world_init(&w, 64);
	for (uint32_t i = 2; i < NPIECES; i++)
		sw_set_unwanted(w.sw, i);
	CHECK(!sw_is_wanted(w.sw, 3));
	CHECK(!sw_do_I_have_requests(w.sw, 3));
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.interested = b.interested = -1;
	pa = dl_peer_new(w.dl, &a);
	pb = dl_peer_new(w.dl, &b);
	bits[0] = 0x3c;		/* pieces 2-5: all unwanted */
	CHECK_OK(dl_got_bitfield(pa, bits, 1));
	CHECK_INT_EQ(a.interested, -1);	/* never said interested */
	bits[0] = 0xfc;
	CHECK_OK(dl_got_bitfield(pb, bits, 1));
	CHECK_INT_EQ(b.interested, 1);
	dl_got_unchoke(pb);
	/* Only the 4 blocks of pieces 0 and 1 are asked for; that is all
	 * we want, so endgame has begun. */
	CHECK_INT_EQ(b.nreqs, 4);
	for (size_t k = 0; k < b.nreqs; k++)
		CHECK(b.reqs[k].i < 2);
	CHECK(sw_is_endgame(w.sw));
	answer_all(&w, pb, &b, false);
	CHECK_INT_EQ(w.verified, 2);
	CHECK_INT_EQ(b.interested, 0);	/* nothing more we want */
	dl_peer_lost(pa);
	dl_peer_lost(pb);
	world_free(&w);
}

int
main(void)
{
	CHECK_RUN(test_download_from_one_seed, test_requests_in_batches,
	    test_choke_gives_requests_back,
	    test_unrequested_blocks, test_lone_piece_verified_soon,
	    test_bad_data_bans_sole_sender,
	    test_endgame_cancels, test_bitfield_replaced, test_unwanted_pieces);
}

#include "storagewrapper.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "bitfield.h"
#include "bterr.h"
#include "check.h"
#include "sha.h"
#include "storage.h"
#include "xmalloc.h"

/*
 * Layout: the piece length does not divide the total, a zero-length file
 * sits between two others, pieces straddle files.  7 pieces of 4 blocks,
 * the last piece 30241 bytes (a short second block).
 */
static const struct st_file files[] = {
	{ "one.bin", 123457, false },
	{ "sub/empty", 0, false },
	{ "sub/two.bin", 200000, false },
	{ "three", 1, false },
	{ "four/four.bin", 99999, false },
};
#define NFILES	(sizeof(files) / sizeof(files[0]))
#define TOTAL	423457u
#define PLEN	65536u
#define NPIECES	7u
#define BS	16384u
#define NBLOCKS	26u		/* 6 * 4 + 2 */

enum { M_FREE, M_REQ, M_RECV };

struct fixture {
	char dir[96];
	struct storage *st;
	struct storagewrapper *sw;
};

struct outreq {
	uint32_t piece, begin, len;
};

static char tmproot[64];
static uint8_t src[TOTAL];
static struct sha1 hashes[NPIECES];

static uint32_t
plen_of(uint32_t i)
{
	return i == NPIECES - 1 ? TOTAL - (NPIECES - 1) * PLEN : PLEN;
}

static uint32_t
blocks_of(uint32_t i)
{
	return (plen_of(i) + BS - 1) / BS;
}

static uint32_t
blen(uint32_t i, uint32_t b)
{
	return plen_of(i) - b * BS < BS ? plen_of(i) - b * BS : BS;
}

static void
fx_open(struct fixture *fx, const char *name, size_t budget)
{
	struct sw_config cfg = SW_CONFIG_INIT;
	struct bt_err err = BT_ERR_INIT;

	cfg.buffer_budget = budget;
	snprintf(fx->dir, sizeof(fx->dir), "%s/%s", tmproot, name);
	fx->st = st_new(fx->dir, files, NFILES, false, NULL, &err);
	fx->sw = NULL;
	if (fx->st == NULL) {
		fprintf(stderr, "st_new: %s\n", err.msg);
		exit(1);
	}
	fx->sw = sw_new(fx->st, hashes, NPIECES, PLEN, TOTAL, &cfg, &err);
	if (fx->sw == NULL) {
		fprintf(stderr, "sw_new: %s\n", err.msg);
		exit(1);
	}
}

static void
fx_close(struct fixture *fx)
{
	sw_free(fx->sw);
	st_free(fx->st);
	fx->sw = NULL;
	fx->st = NULL;
}

/* Compare every file on disk with the source bytes it should hold. */
static void
check_files_match(const char *dir)
{
	static uint8_t got[TOTAL];
	char p[192];
	uint64_t off = 0;
	FILE *fp;

	for (size_t i = 0; i < NFILES; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i].path);
		fp = fopen(p, "rb");
		CHECK(fp != NULL);
		if (fp == NULL)
			return;
		CHECK_INT_EQ(fread(got, 1, sizeof(got), fp), files[i].length);
		fclose(fp);
		CHECK_MEM_EQ(got, src + off, files[i].length);
		off += files[i].length;
	}
}

/* The test's own idea of every block's state, checked against sw. */
struct model {
	uint8_t st[NPIECES][4];
	bool had[NPIECES];
	bool tainted[NPIECES];	/* a corrupted block went into it */
	struct outreq out[NBLOCKS];
	size_t nout;
	/* With sw_set_verified(): verdicts come through on_verdict(). */
	bool queued;
	bool pending[NPIECES];	/* complete, verdict not yet given */
	int failures;
	int verdicts;
	int paired;		/* verdicts on a piece other than the block's */
	uint32_t delivering;	/* the piece whose block is going in */
};

static void
on_verdict(void *ctx, uint32_t i, bool ok)
{
	struct model *m = ctx;

	CHECK(i < NPIECES && m->pending[i]);
	if (i >= NPIECES)
		return;
	CHECK_INT_EQ(ok, !m->tainted[i]);
	m->pending[i] = false;
	m->verdicts++;
	m->paired += i != m->delivering;
	if (ok) {
		m->had[i] = true;
	} else {
		m->failures++;
		m->tainted[i] = false;
		memset(m->st[i], M_FREE, sizeof(m->st[i]));
	}
}

static void
model_check(const struct model *m, const struct storagewrapper *sw)
{
	uint64_t left = 0, inactive = 0;
	bool complete = true;

	for (uint32_t i = 0; i < NPIECES; i++) {
		CHECK_INT_EQ(sw_do_I_have(sw, i), m->had[i]);
		if (m->had[i])
			continue;
		complete = false;
		left += plen_of(i);
		for (uint32_t b = 0; b < blocks_of(i); b++)
			if (m->st[i][b] == M_FREE)
				inactive += blen(i, b);
	}
	CHECK_INT_EQ(sw_amount_left(sw), left);
	CHECK_INT_EQ(sw_amount_inactive(sw), inactive);
	CHECK_INT_EQ(sw_is_complete(sw), complete);
	CHECK_INT_EQ(sw_is_endgame(sw), inactive == 0 && !complete);
}

/* Ask for the lowest free block of a random piece that has one. */
static void
step_request(struct model *m, struct storagewrapper *sw)
{
	uint32_t start = (uint32_t)(check_rnd() % NPIECES), i, b, begin, len;

	for (uint32_t k = 0; k < NPIECES; k++) {
		i = (start + k) % NPIECES;
		if (!sw_do_I_have_requests(sw, i))
			continue;
		CHECK_OK(sw_new_request(sw, i, &begin, &len));
		b = begin / BS;
		for (uint32_t lo = 0; lo < b; lo++)
			CHECK(m->st[i][lo] != M_FREE);
		CHECK_INT_EQ(m->st[i][b], M_FREE);
		CHECK_INT_EQ(len, blen(i, b));
		m->st[i][b] = M_REQ;
		m->out[m->nout++] = (struct outreq){ i, begin, len };
		return;
	}
}

static struct outreq
take_out(struct model *m)
{
	size_t k = (size_t)(check_rnd() % m->nout);
	struct outreq o = m->out[k];

	m->out[k] = m->out[--m->nout];
	return o;
}

/* Deliver a random outstanding block; *bad_left blocks arrive corrupted. */
static void
step_deliver(struct model *m, struct storagewrapper *sw, int *bad_left,
    int *failures)
{
	static uint8_t data[BS];
	struct outreq o = take_out(m);
	struct bt_err err = BT_ERR_INIT;
	uint64_t off = (uint64_t)o.piece * PLEN + o.begin;
	uint32_t recv = 0;
	int r, want;

	memcpy(data, src + off, o.len);
	if (o.piece == 2 && *bad_left > 0) {
		data[check_rnd() % o.len] ^= 0x5a;
		(*bad_left)--;
		m->tainted[o.piece] = true;
	}
	m->st[o.piece][o.begin / BS] = M_RECV;
	for (uint32_t b = 0; b < blocks_of(o.piece); b++)
		recv += m->st[o.piece][b] == M_RECV;
	if (recv < blocks_of(o.piece))
		want = SW_BLOCK_STORED;
	else if (m->queued)
		want = SW_PIECE_QUEUED;
	else
		want = m->tainted[o.piece] ? SW_PIECE_FAILED : SW_PIECE_OK;
	m->pending[o.piece] = want == SW_PIECE_QUEUED;
	m->delivering = o.piece;
	r = sw_piece_came_in(sw, o.piece, o.begin, data, o.len, &err);
	CHECK_INT_EQ(r, want);
	if (r == SW_PIECE_FAILED) {
		/* Every block of the piece is free again. */
		(*failures)++;
		m->tainted[o.piece] = false;
		memset(m->st[o.piece], M_FREE, sizeof(m->st[o.piece]));
		CHECK(sw_do_I_have_requests(sw, o.piece));
	} else if (r == SW_PIECE_OK) {
		m->had[o.piece] = true;
		CHECK_INT_EQ(sw_piece_came_in(sw, o.piece, o.begin, data,
		    o.len, NULL), SW_BLOCK_IGNORED);
	}
}

static void
step_lose(struct model *m, struct storagewrapper *sw)
{
	struct outreq o = take_out(m);

	sw_request_lost(sw, o.piece, o.begin, o.len);
	m->st[o.piece][o.begin / BS] = M_FREE;
}

/*
 * Download everything in random order; one corrupted block in piece 2.
 * queued: verdicts through a callback, and now and then the held piece is
 * verified alone, as the downloader's timer does.  Returns the model's
 * count of verdicts given for a piece other than the one completing.
 */
static int
download_all(struct storagewrapper *sw, bool queued)
{
	struct model m;
	int bad_left = 1, failures = 0, steps = 0;
	bool saw_endgame = false;

	memset(&m, 0, sizeof(m));
	m.queued = queued;
	if (queued)
		sw_set_verified(sw, on_verdict, &m);
	model_check(&m, sw);
	while (!sw_is_complete(sw) && steps++ < 100000) {
		unsigned a = (unsigned)(check_rnd() % 10);

		if (queued && sw_has_held(sw) && (a == 9 || m.nout == 0)) {
			m.delivering = NPIECES;
			CHECK_OK(sw_verify_held(sw, NULL));
			CHECK(!sw_has_held(sw));
		} else if (m.nout == 0 || (a < 4 && m.nout < 12)) {
			step_request(&m, sw);
		} else if (a == 4) {
			step_lose(&m, sw);
		} else {
			step_deliver(&m, sw, &bad_left, &failures);
		}
		saw_endgame |= sw_is_endgame(sw);
		model_check(&m, sw);
	}
	CHECK(sw_is_complete(sw));
	if (queued) {
		failures = m.failures;
		CHECK_INT_EQ(m.verdicts, NPIECES + 1);
		sw_set_verified(sw, NULL, NULL);
	}
	CHECK_INT_EQ(failures, 1);
	CHECK(saw_endgame);
	CHECK_INT_EQ(sw_amount_left(sw), 0);
	CHECK_INT_EQ(bf_count(sw_have(sw)), NPIECES);
	return m.paired;
}

static void
test_download_random_order(void)
{
	struct fixture fx;

	fx_open(&fx, "dl", 0);
	(void)download_all(fx.sw, false);
	fx_close(&fx);
	check_files_match(fx.dir);
}

/*
 * Verdicts through the callback: pieces wait to be hashed in pairs.  Over
 * many runs some verdicts must come for the held piece when the next one
 * completes (paired), and the bytes must be right every time.
 */
static void
test_download_queued(void)
{
	struct fixture fx;
	char name[32];
	int paired = 0;

	for (int run = 0; run < 20; run++) {
		snprintf(name, sizeof(name), "queued%d", run);
		fx_open(&fx, name, 0);
		paired += download_all(fx.sw, true);
		fx_close(&fx);
		check_files_match(fx.dir);
	}
	CHECK(paired > 0);
}

/* With a pool of one buffer nothing is held: no other piece may spill. */
static void
test_queued_no_hold_when_short(void)
{
	struct fixture fx;

	fx_open(&fx, "queued-spill", 1);
	CHECK_INT_EQ(download_all(fx.sw, true), 0);
	fx_close(&fx);
	check_files_match(fx.dir);
}

/* One piece of buffer: most pieces spill to disk; bytes must not care. */
static void
test_download_spill(void)
{
	struct fixture fx;

	fx_open(&fx, "spill", 1);
	(void)download_all(fx.sw, false);
	fx_close(&fx);
	check_files_match(fx.dir);
}

/* Spill a stalled piece for a new one, then finish both. */
static void
test_spill_stalled_piece(void)
{
	struct fixture fx;
	uint32_t begin, len, b0, l0;

	fx_open(&fx, "stall", PLEN);
	/* Piece 0 gets the only buffer and one block, then stalls. */
	CHECK_OK(sw_new_request(fx.sw, 0, &b0, &l0));
	CHECK_OK(sw_new_request(fx.sw, 0, &begin, &len));
	CHECK_INT_EQ(sw_piece_came_in(fx.sw, 0, begin, src + begin, len,
	    NULL), SW_BLOCK_STORED);
	sw_request_lost(fx.sw, 0, b0, l0);
	/* Piece 1 takes the buffer; piece 0 continues on disk. */
	while (sw_new_request(fx.sw, 1, &begin, &len) == 0)
		CHECK(sw_piece_came_in(fx.sw, 1, begin, src + PLEN + begin,
		    len, NULL) >= SW_BLOCK_STORED);
	CHECK(sw_do_I_have(fx.sw, 1));
	while (sw_new_request(fx.sw, 0, &begin, &len) == 0)
		CHECK(sw_piece_came_in(fx.sw, 0, begin, src + begin, len,
		    NULL) >= SW_BLOCK_STORED);
	CHECK(sw_do_I_have(fx.sw, 0));
	CHECK_INT_EQ(sw_amount_left(fx.sw), TOTAL - 2 * PLEN);
	fx_close(&fx);
}

static void
test_block_checks(void)
{
	struct fixture fx;
	struct bt_err err = BT_ERR_INIT;
	uint32_t begin, len;

	fx_open(&fx, "checks", 0);
	CHECK_INT_EQ(sw_num_pieces(fx.sw), NPIECES);
	CHECK_INT_EQ(sw_piece_len(fx.sw, 0), PLEN);
	CHECK_INT_EQ(sw_piece_len(fx.sw, NPIECES - 1), 30241);
	CHECK_INT_EQ(sw_piece_len(fx.sw, NPIECES), 0);
	CHECK_INT_EQ(sw_block_size(fx.sw), BS);
	/* Out of range, empty, past the piece: -EINVAL. */
	CHECK_INT_EQ(sw_piece_came_in(fx.sw, NPIECES, 0, src, 1, &err),
	    -EINVAL);
	CHECK_INT_EQ(sw_piece_came_in(fx.sw, 0, 0, src, 0, &err), -EINVAL);
	CHECK_INT_EQ(sw_piece_came_in(fx.sw, 0, PLEN - 10, src, 11, &err),
	    -EINVAL);
	CHECK_INT_EQ(sw_piece_came_in(fx.sw, 6, 16384, src, 16384, &err),
	    -EINVAL);
	/* Off our grid: ignored, and nothing changes. */
	CHECK_INT_EQ(sw_piece_came_in(fx.sw, 0, 100, src, 1000, &err),
	    SW_BLOCK_IGNORED);
	CHECK_INT_EQ(sw_piece_came_in(fx.sw, 0, 0, src, 1000, &err),
	    SW_BLOCK_IGNORED);
	CHECK_INT_EQ(sw_amount_inactive(fx.sw), TOTAL);
	/* The last block of the last piece is short. */
	CHECK_OK(sw_new_request(fx.sw, 6, &begin, &len));
	CHECK_OK(sw_new_request(fx.sw, 6, &begin, &len));
	CHECK_INT_EQ(begin, BS);
	CHECK_INT_EQ(len, 30241 - BS);
	CHECK_INT_EQ(sw_new_request(fx.sw, 6, &begin, &len), -ENOENT);
	CHECK(!sw_do_I_have_requests(fx.sw, 6));
	CHECK_INT_EQ(sw_new_request(fx.sw, NPIECES, &begin, &len), -ENOENT);
	fx_close(&fx);
}

static void
test_serving_and_marks(void)
{
	struct fixture fx;
	struct bt_err err = BT_ERR_INIT;
	uint8_t buf[BS];
	uint32_t begin, len;
	int fd;
	uint64_t fo, inactive;
	size_t n;

	fx_open(&fx, "serving", 0);
	CHECK_OK(sw_new_request(fx.sw, 6, &begin, &len));
	/* Serving: only had pieces, only inside them. */
	CHECK_INT_EQ(sw_get_piece(fx.sw, 0, 0, 10, buf, &err), -ENOENT);
	sw_mark_have(fx.sw, 5);
	sw_mark_have(fx.sw, 6);		/* drops its outstanding requests */
	CHECK_INT_EQ(sw_amount_inactive(fx.sw), TOTAL - PLEN - 30241);
	CHECK_INT_EQ(sw_amount_left(fx.sw), TOTAL - PLEN - 30241);
	sw_request_lost(fx.sw, 6, 0, BS);	/* harmless now */
	CHECK_INT_EQ(sw_amount_inactive(fx.sw), TOTAL - PLEN - 30241);
	CHECK_INT_EQ(sw_get_piece(fx.sw, 6, 30000, 242, buf, &err), -EINVAL);
	CHECK_INT_EQ(sw_get_piece(fx.sw, 9, 0, 1, buf, &err), -EINVAL);
	CHECK_OK(sw_get_piece(fx.sw, 6, 30000, 241, buf, &err));
	CHECK_OK(sw_map_piece(fx.sw, 6, 0, BS, &fd, &fo, &n, &err));
	/* four/four.bin starts at 323458; piece 6 at 6 * PLEN. */
	CHECK_INT_EQ(fo, 6 * PLEN - 323458);
	CHECK_INT_EQ(n, BS);
	CHECK_INT_EQ(sw_map_piece(fx.sw, 4, 0, BS, &fd, &fo, &n, &err),
	    -ENOENT);
	/* A block nobody asked for is still kept, and counts as active. */
	inactive = sw_amount_inactive(fx.sw);
	CHECK_INT_EQ(sw_piece_came_in(fx.sw, 4, BS, src + 4 * PLEN + BS, BS,
	    &err), SW_BLOCK_STORED);
	CHECK_INT_EQ(sw_amount_inactive(fx.sw), inactive - BS);
	CHECK_OK(sw_new_request(fx.sw, 4, &begin, &len));
	CHECK_INT_EQ(begin, 0);
	CHECK_OK(sw_new_request(fx.sw, 4, &begin, &len));
	CHECK_INT_EQ(begin, 2 * BS);	/* block 1 is already in */
	/* Marking a partly requested piece had drops only its free bytes. */
	CHECK_OK(sw_new_request(fx.sw, 3, &begin, &len));
	sw_mark_have(fx.sw, 3);
	CHECK_INT_EQ(sw_amount_inactive(fx.sw), inactive - 3 * BS - PLEN);
	/* Freed while piece 4 is in progress: nothing leaks (ASan). */
	fx_close(&fx);
}

static void
test_geometry(void)
{
	struct fixture fx;
	struct bt_err err = BT_ERR_INIT;

	fx_open(&fx, "geom", 0);
	/* 6 pieces cannot hold TOTAL; 8 pieces are one too many. */
	CHECK(sw_new(fx.st, hashes, 6, PLEN, TOTAL, NULL, &err) == NULL);
	CHECK(strstr(err.msg, "total too big") != NULL);
	CHECK(sw_new(fx.st, hashes, 8, PLEN, TOTAL, NULL, &err) == NULL);
	CHECK(strstr(err.msg, "total too small") != NULL);
	CHECK(sw_new(fx.st, hashes, NPIECES, PLEN, TOTAL - 1, NULL, &err) ==
	    NULL);
	CHECK(sw_new(fx.st, hashes, 0, PLEN, TOTAL, NULL, &err) == NULL);
	CHECK(sw_new(fx.st, hashes, 1, 0, TOTAL, NULL, &err) == NULL);
	fx_close(&fx);
	sw_free(NULL);
}

static void
on_progress(void *ctx, uint32_t done, uint32_t total)
{
	uint32_t *last = ctx;

	CHECK(done >= *last);
	CHECK_INT_EQ(total, NPIECES);
	*last = done;
}

static void
on_progress_any(void *ctx, uint32_t done, uint32_t total)
{
	uint32_t *last = ctx;

	CHECK(done >= *last && done <= total);
	*last = done;
}

/* Run the start-up check on dir and return the pieces found. */
static uint32_t
recheck(const char *name, struct bitfield *out)
{
	struct fixture fx;
	struct bt_err err = BT_ERR_INIT;
	uint32_t last = 0, n;
	uint64_t left = TOTAL;

	fx_open(&fx, name, 0);
	CHECK_OK(sw_check_existing(fx.sw, on_progress, &last, &err));
	CHECK_INT_EQ(last, NPIECES);
	n = bf_count(sw_have(fx.sw));
	for (uint32_t i = 0; i < NPIECES; i++)
		if (sw_do_I_have(fx.sw, i))
			left -= plen_of(i);
	CHECK_INT_EQ(sw_amount_left(fx.sw), left);
	CHECK_INT_EQ(sw_amount_inactive(fx.sw), left);
	bf_copy(out, sw_have(fx.sw));
	fx_close(&fx);
	return n;
}

static void
put_byte(const char *dir, const char *rel, long off, int c)
{
	char p[192];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s/%s", tmproot, dir, rel);
	fp = fopen(p, "r+b");
	CHECK(fp != NULL);
	if (fp == NULL)
		return;
	fseek(fp, off, SEEK_SET);
	fputc(c, fp);
	fclose(fp);
}

static void
test_check_existing(void)
{
	struct bitfield have = BF_INIT;
	struct fixture fx;
	char p[192];

	/* Nothing on disk yet: every piece skipped without reading. */
	CHECK_INT_EQ(recheck("exist", &have), 0);
	fx_open(&fx, "exist", 0);
	for (uint32_t i = 0; i < NPIECES; i++)
		sw_mark_have(fx.sw, i);
	CHECK(sw_is_complete(fx.sw));
	CHECK(!sw_is_endgame(fx.sw));
	CHECK_OK(st_write(fx.st, 0, src, TOTAL, NULL));
	fx_close(&fx);
	CHECK_INT_EQ(recheck("exist", &have), NPIECES);
	/* Byte 200000 of the torrent is in piece 3 (sub/two.bin). */
	put_byte("exist", "sub/two.bin", 200000 - 123457, src[200000] ^ 1);
	CHECK_INT_EQ(recheck("exist", &have), NPIECES - 1);
	CHECK(!bf_get(&have, 3));
	/* A short file: its pieces are skipped, the rest still found. */
	snprintf(p, sizeof(p), "%s/exist/four/four.bin", tmproot);
	CHECK_OK(truncate(p, 5000));
	CHECK_INT_EQ(recheck("exist", &have), NPIECES - 3);
	CHECK(!bf_get(&have, 5) && !bf_get(&have, 6) && bf_get(&have, 4));
	bf_release(&have);
}

/*
 * Pieces of 5 * 64 KiB over 2.8 MB in three files: the check's 1 MiB reads
 * end inside pieces, and pieces span files.  A byte changed on each side
 * of a read boundary fails exactly the pieces that hold them.
 */
static void
test_check_straddling(void)
{
	static const struct st_file big[] = {
		{ "a", 1500000, false }, { "b", 0, false }, { "c", 1300001, false },
	};
	enum { BIG_PLEN = 327680, BIG_TOTAL = 2800001, BIG_NP = 9 };
	struct sha1 h[BIG_NP];
	struct bt_err err = BT_ERR_INIT;
	struct storage *st;
	struct storagewrapper *sw;
	uint8_t *data = xmalloc(BIG_TOTAL);
	char dir[96];
	uint32_t last = 0;

	for (size_t i = 0; i < BIG_TOTAL; i++)
		data[i] = (uint8_t)check_rnd();
	for (uint32_t i = 0; i < BIG_NP; i++)
		sha1(data + (size_t)i * BIG_PLEN, i < BIG_NP - 1 ? BIG_PLEN :
		    BIG_TOTAL - (BIG_NP - 1) * BIG_PLEN, &h[i]);
	/* Last byte of read 1 (piece 3), first byte of read 3 (piece 6). */
	data[1048575] ^= 1;
	data[2097152] ^= 1;
	snprintf(dir, sizeof(dir), "%s/straddle", tmproot);
	st = st_new(dir, big, 3, false, NULL, &err);
	CHECK(st != NULL);
	CHECK_OK(st_write(st, 0, data, BIG_TOTAL, &err));
	st_free(st);
	st = st_new(dir, big, 3, false, NULL, &err);
	sw = sw_new(st, h, BIG_NP, BIG_PLEN, BIG_TOTAL, NULL, &err);
	CHECK(sw != NULL);
	CHECK_OK(sw_check_existing(sw, on_progress_any, &last, &err));
	CHECK_INT_EQ(last, BIG_NP);
	CHECK_INT_EQ(bf_count(sw_have(sw)), BIG_NP - 2);
	CHECK(!sw_do_I_have(sw, 3) && !sw_do_I_have(sw, 6));
	CHECK_INT_EQ(sw_amount_left(sw), 2 * BIG_PLEN);
	sw_free(sw);
	st_free(st);
	free(data);
}

/* Seconds on clock since t0, which was read from the same clock. */
static double
clock_since(clockid_t clock, const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(clock, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static double
secs_since(const struct timespec *t0)
{
	return clock_since(CLOCK_MONOTONIC, t0);
}

/*
 * The receive path alone, no network: every block of every piece requested
 * and delivered in order.  All pieces carry the same bytes, so that every
 * one verifies and is written, as in a real download.
 */
static void
bench_download(struct sha1 *h, uint32_t np, uint32_t plen, uint8_t *buf)
{
	struct st_file f = { "dl.bin", (uint64_t)np * plen, false };
	struct bt_err err = BT_ERR_INIT;
	struct storage *st;
	struct storagewrapper *sw;
	struct timespec t0;
	uint32_t begin, len;
	char dir[96];
	double s;

	/* Every piece holds buf's bytes, so every piece verifies. */
	sha1(buf, plen, &h[0]);
	for (uint32_t i = 1; i < np; i++)
		h[i] = h[0];
	snprintf(dir, sizeof(dir), "%s/benchdl", tmproot);
	st = st_new(dir, &f, 1, false, NULL, &err);
	sw = sw_new(st, h, np, plen, f.length, NULL, &err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint32_t i = 0; sw != NULL && i < np; i++)
		while (sw_new_request(sw, i, &begin, &len) == 0)
			sw_piece_came_in(sw, i, begin, buf + begin, len, &err);
	s = secs_since(&t0);
	CHECK(sw != NULL && sw_is_complete(sw));
	printf("  receive path (copy, hash, write): %.0f MB/s\n",
	    (double)f.length / s / 1e6);
	sw_free(sw);
	st_free(st);
}

/* Fill a new file of np pieces with random bytes; their hashes into h. */
static struct storage *
bench_make(const char *path, uint32_t np, uint32_t plen, struct sha1 *h,
    uint8_t *buf)
{
	struct st_file f = { "bench.bin", (uint64_t)np * plen, false };
	struct bt_err err = BT_ERR_INIT;
	struct storage *st = st_new(path, &f, 1, true, NULL, &err);

	for (uint32_t i = 0; st != NULL && i < np; i++) {
		for (uint32_t k = 0; k < plen; k += 8)
			memcpy(buf + k, &(uint64_t){ check_rnd() }, 8);
		sha1(buf, plen, &h[i]);
		CHECK_OK(st_write(st, (uint64_t)i * plen, buf, plen, &err));
	}
	/* Reopen: only data there at start-up is checked. */
	st_free(st);
	return st_new(path, &f, 1, true, NULL, &err);
}

/*
 * Open an existing file of total bytes, its exact size, so that storage
 * leaves it as it is; hash its pieces into h.
 */
static struct storage *
bench_open(const char *path, uint64_t total, uint32_t plen, struct sha1 *h,
    uint8_t *buf)
{
	struct st_file f = { "bench.bin", total, false };
	struct bt_err err = BT_ERR_INIT;
	struct storage *st = st_new(path, &f, 1, true, NULL, &err);
	size_t n;

	for (uint64_t off = 0; st != NULL && off < total; off += plen) {
		n = total - off < plen ? (size_t)(total - off) : plen;
		CHECK_OK(st_read(st, off, buf, n, &err));
		sha1(buf, n, &h[off / plen]);
	}
	return st;
}

/*
 * SW_BENCH_MB=1024: time sw_check_existing three times over a new file of
 * that many MiB in the page cache, and the receive path once.
 * SW_BENCH_FILE=path checks that file instead (opened read-write, at its
 * own size, and not changed).
 */
static void
bench(void)
{
	const char *mb_env = getenv("SW_BENCH_MB");
	const char *file = getenv("SW_BENCH_FILE");
	uint32_t plen = 1u << 18, np;
	uint64_t total = 0;
	struct sha1 *h;
	uint8_t *buf;
	char path[96];
	struct storage *st;
	struct stat sb;
	struct bt_err err = BT_ERR_INIT;
	struct timespec t0, c0;
	double s, cpu, best = 0, best_cpu = 0, mib;

	if (file != NULL && stat(file, &sb) == 0)
		total = (uint64_t)sb.st_size;
	else if (mb_env != NULL)
		total = (strtoull(mb_env, NULL, 10) << 20) / plen * plen;
	if (total == 0)
		return;
	np = (uint32_t)((total + plen - 1) / plen);
	mib = (double)total / (1 << 20);
	h = xcalloc(np, sizeof(*h));
	buf = xmalloc(plen);
	snprintf(path, sizeof(path), "%s/bench.bin", tmproot);
	st = file != NULL ? bench_open(file, total, plen, h, buf) :
	    bench_make(path, np, plen, h, buf);
	for (int k = 0; st != NULL && k < 3; k++) {
		struct storagewrapper *sw = sw_new(st, h, np, plen, total,
		    NULL, &err);

		clock_gettime(CLOCK_MONOTONIC, &t0);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
		CHECK_OK(sw_check_existing(sw, NULL, NULL, &err));
		s = secs_since(&t0);
		cpu = clock_since(CLOCK_PROCESS_CPUTIME_ID, &c0);
		CHECK(sw_is_complete(sw));
		if (k == 0 || s < best)
			best = s;
		if (k == 0 || cpu < best_cpu)
			best_cpu = cpu;
		printf("  check_existing: %.0f MiB in %.3f s = %.0f MiB/s "
		    "(CPU %.3f s)\n", mib, s, mib / s, cpu);
		sw_free(sw);
	}
	printf("  check_existing best of 3: %.0f MiB/s, %.0f MiB per CPU "
	    "second\n", mib / best, mib / best_cpu);
	st_free(st);
	if (file == NULL)
		bench_download(h, np, plen, buf);
	free(buf);
	free(h);
}

static void
setup(void)
{
	check_seed();
	for (size_t i = 0; i < TOTAL; i++)
		src[i] = (uint8_t)check_rnd();
	for (uint32_t i = 0; i < NPIECES; i++)
		sha1(src + (size_t)i * PLEN, plen_of(i), &hashes[i]);
	snprintf(tmproot, sizeof(tmproot), "/tmp/test_sw.XXXXXX");
	if (mkdtemp(tmproot) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmproot);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmproot);
}

int
main(void)
{
	setup();
	atexit(teardown);
	CHECK_RUN(test_download_random_order, test_download_queued,
	    test_queued_no_hold_when_short, test_download_spill,
	    test_spill_stalled_piece, test_block_checks,
	    test_serving_and_marks, test_geometry,
	    test_check_existing, test_check_straddling, bench);
}

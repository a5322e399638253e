#include "checker.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "bitfield.h"
#include "bterr.h"
#include "check.h"
#include "sha.h"
#include "sha1pair.h"
#include "storage.h"
#include "xmalloc.h"

static char tmproot[64];
/* What the piece callback saw. */
struct seen {
	struct bitfield ok, bad;
	uint32_t calls;
	int64_t last;
	bool ordered;
};

static void
on_piece(void *ctx, uint32_t i, bool ok)
{
	struct seen *s = ctx;

	s->calls++;
	s->ordered = s->ordered && (int64_t)i > s->last;
	s->last = i;
	bf_set(ok ? &s->ok : &s->bad, i);
}

/*
 * Three files (70000, 0, 130001 bytes) of random data; 16 KiB pieces, the
 * hashes of the true data; then two pieces corrupted on disk.
 */
#define PL	16384
#define TOTAL	(70000 + 130001)
#define NP	((TOTAL + PL - 1) / PL)

static struct storage *
make_torrent(uint8_t *data, struct sha1 *hashes)
{
	struct st_file files[3] = { { "a", 70000, false },
	    { "empty", 0, false }, { "sub/b", 130001, false } };
	struct bt_err err = BT_ERR_INIT;
	struct storage *st;
	char dir[128];
	uint8_t x;

	for (size_t i = 0; i < TOTAL; i++)
		data[i] = (uint8_t)check_rnd();
	for (uint32_t i = 0; i < NP; i++) {
		uint64_t off = (uint64_t)i * PL;
		size_t n = TOTAL - off < PL ? (size_t)(TOTAL - off) : PL;

		sha1(data + off, n, &hashes[i]);
	}
	snprintf(dir, sizeof(dir), "%s/t%llu", tmproot,
	    (unsigned long long)(check_rnd() % 1000000));
	st = st_new(dir, files, 3, false, NULL, &err);
	CHECK(st != NULL);
	if (st == NULL)
		return NULL;
	CHECK_OK(st_write(st, 0, data, TOTAL, &err));
	/* Corrupt piece 2 and the last piece. */
	x = data[2 * PL + 5] ^ 0xff;
	CHECK_OK(st_write(st, 2 * PL + 5, &x, 1, &err));
	x = data[TOTAL - 1] ^ 0xff;
	CHECK_OK(st_write(st, TOTAL - 1, &x, 1, &err));
	return st;
}

static void
run(struct storage *st, const struct sha1 *hashes, const struct bitfield *todo,
    size_t budget, struct seen *s)
{
	struct bt_err err = BT_ERR_INIT;
	struct checker *ck = ck_new(st, hashes, PL, TOTAL, todo);
	int r, steps = 0;

	bf_init(&s->ok, NP);
	bf_init(&s->bad, NP);
	s->calls = 0;
	s->last = -1;
	s->ordered = true;
	CHECK_INT_EQ(ck_total(ck), todo->count);
	while ((r = ck_step(ck, budget, on_piece, s, &err)) == 0)
		steps++;
	CHECK_INT_EQ(r, 1);
	CHECK_INT_EQ(ck_done(ck), todo->count);
	CHECK(steps > 0 || budget >= TOTAL || todo->count <= 1);
	/* Once done it stays done. */
	CHECK_INT_EQ(ck_step(ck, budget, on_piece, s, &err), 1);
	ck_free(ck);
}

static void
test_all_pieces(void)
{
	uint8_t *data = xmalloc(TOTAL);
	struct sha1 hashes[NP];
	struct storage *st = make_torrent(data, hashes);
	struct bitfield todo;
	struct seen s;

	bf_init(&todo, NP);
	bf_set_all(&todo);
	for (size_t budget = 1; budget <= 4 * CK_CHUNK; budget *= 64) {
		run(st, hashes, &todo, budget, &s);
		CHECK_INT_EQ(s.calls, NP);
		CHECK(s.ordered);
		CHECK_INT_EQ(bf_count(&s.bad), 2);
		CHECK(bf_get(&s.bad, 2) && bf_get(&s.bad, NP - 1));
		CHECK_INT_EQ(bf_count(&s.ok), NP - 2);
		bf_release(&s.ok);
		bf_release(&s.bad);
	}
	bf_release(&todo);
	st_free(st);
	free(data);
}

static void
test_some_pieces(void)
{
	uint8_t *data = xmalloc(TOTAL);
	struct sha1 hashes[NP];
	struct storage *st = make_torrent(data, hashes);
	struct bt_err err = BT_ERR_INIT;
	struct bitfield todo;
	struct checker *ck;
	struct seen s;

	bf_init(&todo, NP);
	bf_set(&todo, 1);
	bf_set(&todo, 2);
	bf_set(&todo, 9);
	run(st, hashes, &todo, 1000, &s);
	CHECK_INT_EQ(s.calls, 3);
	CHECK(bf_get(&s.ok, 1) && bf_get(&s.bad, 2) && bf_get(&s.ok, 9));
	/* Bytes are counted exactly: three whole pieces. */
	ck = ck_new(st, hashes, PL, TOTAL, &todo);
	while (ck_step(ck, 1, on_piece, &s, &err) == 0)
		continue;
	CHECK_INT_EQ(ck_bytes(ck), 3 * PL);
	ck_free(ck);
	/* Nothing to do: done at once, nothing read. */
	bf_release(&todo);
	bf_init(&todo, NP);
	ck = ck_new(st, hashes, PL, TOTAL, &todo);
	CHECK_INT_EQ(ck_step(ck, 1, on_piece, &s, &err), 1);
	CHECK_INT_EQ(ck_bytes(ck), 0);
	ck_free(ck);
	bf_release(&s.ok);
	bf_release(&s.bad);
	bf_release(&todo);
	st_free(st);
	free(data);
}

/* A file cut short behind our back: a read error, not a crash. */
static void
test_read_error(void)
{
	uint8_t *data = xmalloc(TOTAL);
	struct sha1 hashes[NP];
	struct storage *st = make_torrent(data, hashes);
	struct bt_err err = BT_ERR_INIT;
	struct bitfield todo;
	struct checker *ck;
	struct seen s = { BF_INIT, BF_INIT, 0, -1, true };
	char path[160];
	int r;

	bf_init(&s.ok, NP);
	bf_init(&s.bad, NP);
	bf_init(&todo, NP);
	bf_set_all(&todo);
	ck = ck_new(st, hashes, PL, TOTAL, &todo);
	CHECK_OK(st_flush(st, &err));
	/* Truncate every file named sub/b below tmproot. */
	snprintf(path, sizeof(path), "find %s -path '*/sub/b' -exec "
	    "truncate -s 1000 {} +", tmproot);
	CHECK_INT_EQ(system(path), 0);
	while ((r = ck_step(ck, 1 << 20, on_piece, &s, &err)) == 0)
		continue;
	CHECK(r < 0);
	CHECK(strstr(err.msg, "sub/b") != NULL);
	ck_free(ck);
	bf_release(&todo);
	bf_release(&s.ok);
	bf_release(&s.bad);
	st_free(st);
	free(data);
}

/*
 * Pieces larger than a read chunk (1.5 chunks, the last one shorter), so
 * the two lanes read two streams and a piece spans several reads; each
 * sha1pair path (SHA extensions or not) must give the same verdicts.
 */
static void
large_pieces(bool accel)
{
	const uint32_t pl = CK_CHUNK / 2 * 3;
	const uint64_t total = 3 * (uint64_t)pl + CK_CHUNK / 2 + 123;
	const uint32_t np = 4;
	struct st_file file = { "big", total, false };
	struct bt_err err = BT_ERR_INIT;
	uint8_t *data = xmalloc(total);
	struct sha1 hashes[4];
	struct bitfield todo;
	struct seen s = { BF_INIT, BF_INIT, 0, -1, true };
	struct storage *st;
	struct checker *ck;
	char dir[128];
	uint8_t x;
	int r;

	sha1p_set_accel(accel);
	for (size_t i = 0; i < total; i++)
		data[i] = (uint8_t)check_rnd();
	for (uint32_t i = 0; i < np; i++) {
		uint64_t off = (uint64_t)i * pl;

		sha1(data + off, total - off < pl ? total - off : pl,
		    &hashes[i]);
	}
	snprintf(dir, sizeof(dir), "%s/big%d", tmproot, accel);
	st = st_new(dir, &file, 1, false, NULL, &err);
	CHECK(st != NULL);
	if (st == NULL) {
		free(data);
		return;
	}
	CHECK_OK(st_write(st, 0, data, total, &err));
	x = data[pl + CK_CHUNK + 7] ^ 1;	/* piece 1, its second read */
	CHECK_OK(st_write(st, pl + CK_CHUNK + 7, &x, 1, &err));
	bf_init(&s.ok, np);
	bf_init(&s.bad, np);
	bf_init(&todo, np);
	bf_set_all(&todo);
	ck = ck_new(st, hashes, pl, total, &todo);
	while ((r = ck_step(ck, 1, on_piece, &s, &err)) == 0)
		continue;
	CHECK_INT_EQ(r, 1);
	/* Order is not promised: lane 1's short last piece may end first. */
	CHECK_INT_EQ(s.calls, np);
	CHECK(bf_get(&s.ok, 0) && bf_get(&s.bad, 1) && bf_get(&s.ok, 2) &&
	    bf_get(&s.ok, 3));
	CHECK_INT_EQ(ck_bytes(ck), total);
	ck_free(ck);
	bf_release(&todo);
	bf_release(&s.ok);
	bf_release(&s.bad);
	st_free(st);
	free(data);
}

static void
test_large_pieces(void)
{
	large_pieces(true);
	large_pieces(false);
	sha1p_set_accel(true);
}

int
main(void)
{
	char cmd[128];
	int r;

	check_seed();
	snprintf(tmproot, sizeof(tmproot), "/tmp/test_checker.XXXXXX");
	if (mkdtemp(tmproot) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	{
		check_test_fn *const tests[] = { test_all_pieces,
		    test_some_pieces, test_read_error, test_large_pieces };

		r = check_run_(tests, sizeof(tests) / sizeof(tests[0]));
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmproot);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmproot);
	return r;
}

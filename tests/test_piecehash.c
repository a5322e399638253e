#include "piecehash.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bterr.h"
#include "check.h"
#include "sha.h"
#include "sha1pair.h"
#include "xmalloc.h"

/*
 * Every layout is hashed twice, with the SHA-extension lanes (when this
 * CPU has them) and with the portable path, and both must give the
 * digests sha.h gives over the same bytes held in memory, piece by piece.
 */

#define KiB	1024u
#define MiB	(1024u * 1024u)
#define MAXF	40

static char tmproot[64];
static unsigned ndirs;

/* Files of the given lengths in a new directory, random bytes. */
struct tree {
	struct ph_file f[MAXF];
	char *path[MAXF];
	size_t n;
	uint8_t *data;		/* their concatenation */
	uint64_t total;
};

static void
tree_make(struct tree *t, const uint64_t *len, size_t n)
{
	char dir[128];
	uint64_t off = 0;
	FILE *fp;

	memset(t, 0, sizeof(*t));
	snprintf(dir, sizeof(dir), "%s/t%u", tmproot, ndirs++);
	CHECK_INT_EQ(mkdir(dir, 0700), 0);
	for (size_t i = 0; i < n; i++)
		t->total += len[i];
	t->data = xmalloc(t->total + 1);
	for (uint64_t i = 0; i < t->total; i++)
		t->data[i] = (uint8_t)(check_rnd() >> 24);
	t->n = n;
	for (size_t i = 0; i < n; off += len[i], i++) {
		t->path[i] = xmalloc(strlen(dir) + 16);
		sprintf(t->path[i], "%s/f%zu", dir, i);
		t->f[i].path = t->path[i];
		t->f[i].length = len[i];
		fp = fopen(t->path[i], "wb");
		CHECK(fp != NULL);
		if (fp == NULL)
			continue;
		CHECK_INT_EQ(fwrite(t->data + off, 1, len[i], fp), len[i]);
		CHECK_INT_EQ(fclose(fp), 0);
	}
}

static void
tree_free(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		unlink(t->path[i]);
		free(t->path[i]);
	}
	free(t->data);
}

/* What the progress callback saw. */
struct seen {
	uint64_t last;
	unsigned calls;
	bool rising;
};

static void
on_progress(void *ctx, uint64_t done)
{
	struct seen *s = ctx;

	s->rising = s->rising && done > s->last;
	s->last = done;
	s->calls++;
}

/* Hash t in pieces of pl bytes both ways; name the layout on failure. */
static void
check_tree(const char *what, const struct tree *t, uint32_t pl)
{
	uint64_t np = ph_count(t->total, pl);
	uint8_t *want = xmalloc(np * SHA1_LEN + 1);
	uint8_t *got = xmalloc(np * SHA1_LEN + 1);
	unsigned failed = check_failed;

	for (uint64_t i = 0; i < np; i++) {
		uint64_t off = i * pl;

		sha1(t->data + off, t->total - off < pl ? t->total - off : pl,
		    (struct sha1 *)(want + SHA1_LEN * i));
	}
	for (int accel = 1; accel >= 0; accel--) {
		struct bt_err err = BT_ERR_INIT;
		struct seen s = { 0, 0, true };
		size_t bad = 99;

		sha1p_set_accel(accel);
		memset(got, 0, np * SHA1_LEN);
		CHECK_OK(ph_hash_files(t->f, t->n, pl, got, on_progress, &s,
		    &bad, &err));
		CHECK_MEM_EQ(got, want, np * SHA1_LEN);
		CHECK_INT_EQ(bad, 99);
		CHECK_INT_EQ(s.last, t->total);
		CHECK(s.rising);
		CHECK(s.calls >= (t->total > 0));
	}
	if (check_failed != failed)
		fprintf(stderr, "  in layout \"%s\", pieces of %u\n", what, pl);
	sha1p_set_accel(true);
	free(want);
	free(got);
}

static const struct layout {
	const char *what;
	uint32_t pl;
	size_t n;
	uint64_t len[12];
} layouts[] = {
	{ "one short piece", 32 * KiB, 1, { 10 } },
	{ "odd count, all whole", 32 * KiB, 1, { 7 * 32 * KiB } },
	{ "odd count, last short", 32 * KiB, 1, { 6 * 32 * KiB + 1 } },
	{ "even count, last short", 32 * KiB, 1, { 5 * 32 * KiB + 123 } },
	{ "straddling, empties", 32 * KiB, 9,
	    { 0, 1, 70000, 0, 0, 32 * KiB, 5, 99999, 0 } },
	{ "empties first and last", 64 * KiB, 5, { 0, 0, 300001, 0, 0 } },
	{ "one piece per read", 512 * KiB, 3, { 1 * MiB, 0, 512 * KiB } },
	{ "1 MiB, odd", 1 * MiB, 1, { 2 * MiB + 1 } },
	{ "1 MiB, even", 1 * MiB, 1, { 3 * MiB + 1 } },
	{ "1 MiB, straddling", 1 * MiB, 4,
	    { 700000, 0, 1500000, 900001 } },
	{ "2 MiB, even, last tiny", 2 * MiB, 4,
	    { 3 * MiB + 7, 0, 1 * MiB, 2 * MiB + 1 } },
	{ "2 MiB, odd", 2 * MiB, 1, { 5 * MiB + 3 } },
	{ "2 MiB, one whole piece", 2 * MiB, 3, { 0, 2 * MiB, 0 } },
	{ "4 MiB, many files", 4 * MiB, 9,
	    { 1, 2 * MiB, 0, 3, 1 * MiB + 5, 0, 3 * MiB, 64, 1 * MiB } },
	{ "larger than the data", 4 * MiB, 2, { 1000, 0 } },
	{ "not a power of 2", 100000, 3, { 350001, 0, 20000 } },
	{ "above PH_CHUNK, odd size", PH_CHUNK + 100, 2,
	    { 2 * MiB, 1 * MiB + 305 } },
};

static void
test_layouts(void)
{
	struct tree t;

	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		tree_make(&t, layouts[i].len, layouts[i].n);
		check_tree(layouts[i].what, &t, layouts[i].pl);
		tree_free(&t);
	}
}

/* Random trees: many small and empty files, pieces of every kind. */
static void
test_random(void)
{
	static const uint32_t pls[] = { 32 * KiB, 64 * KiB, 256 * KiB,
	    1 * MiB, 2 * MiB, 4 * MiB };
	uint64_t len[MAXF];
	struct tree t;
	char what[32];
	size_t n;
	uint32_t pl;

	for (int round = 0; round < 12; round++) {
		n = 1 + check_rnd() % MAXF;
		for (size_t i = 0; i < n; i++) {
			switch (check_rnd() % 4) {
			case 0:
				len[i] = 0;
				break;
			case 1:
				len[i] = check_rnd() % 5000;
				break;
			default:
				len[i] = check_rnd() % (400 * KiB);
				break;
			}
		}
		pl = check_rnd() % 5 == 0 ? (uint32_t)(1 + check_rnd() % (3 * MiB)) :
		    pls[check_rnd() % (sizeof(pls) / sizeof(pls[0]))];
		snprintf(what, sizeof(what), "random round %d", round);
		tree_make(&t, len, n);
		check_tree(what, &t, pl);
		tree_free(&t);
	}
}

/* Hash t expecting failure code at file index bad, message msg. */
static void
check_fails(const struct tree *t, uint32_t pl, int code, size_t bad,
    const char *msg)
{
	uint8_t *out = xmalloc(ph_count(t->total, pl) * SHA1_LEN + 1);

	for (int accel = 1; accel >= 0; accel--) {
		struct bt_err err = BT_ERR_INIT;
		size_t got = 99;

		sha1p_set_accel(accel);
		CHECK_INT_EQ(ph_hash_files(t->f, t->n, pl, out, NULL, NULL,
		    &got, &err), code);
		CHECK_INT_EQ(got, bad);
		CHECK_STR_EQ(err.msg, msg);
	}
	sha1p_set_accel(true);
	free(out);
}

static void
test_errors(void)
{
	static const uint64_t small[] = { 70000, 0, 50000, 0 };
	static const uint64_t large[] = { 2 * MiB, 2 * MiB, 1 * MiB };
	struct tree t;

	/* A missing file, a missing empty one, one missing at the end. */
	tree_make(&t, small, 4);
	unlink(t.path[2]);
	check_fails(&t, 32 * KiB, -ENOENT, 2, strerror(ENOENT));
	unlink(t.path[1]);
	check_fails(&t, 32 * KiB, -ENOENT, 1, strerror(ENOENT));
	tree_free(&t);
	tree_make(&t, small, 4);
	unlink(t.path[3]);
	check_fails(&t, 32 * KiB, -ENOENT, 3, strerror(ENOENT));
	/* Shorter than listed. */
	CHECK_INT_EQ(truncate(t.path[2], 1000), 0);
	check_fails(&t, 32 * KiB, -EIO, 2, "file shrank while hashing");
	tree_free(&t);

	/* Large pieces: the second stream is the one that fails. */
	tree_make(&t, large, 3);
	CHECK_INT_EQ(truncate(t.path[1], 1 * MiB), 0);
	check_fails(&t, 2 * MiB, -EIO, 1, "file shrank while hashing");
	unlink(t.path[1]);
	check_fails(&t, 2 * MiB, -ENOENT, 1, strerror(ENOENT));
	tree_free(&t);
}

int
main(void)
{
	char cmd[128];
	int r;

	check_seed();
	printf("SHA extensions: %s\n", sha1p_accel() ? "yes" : "no");
	snprintf(tmproot, sizeof(tmproot), "/tmp/test_piecehash.XXXXXX");
	if (mkdtemp(tmproot) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	{
		check_test_fn *const tests[] = { test_layouts, test_random,
		    test_errors };

		r = check_run_(tests, sizeof(tests) / sizeof(tests[0]));
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmproot);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmproot);
	return r;
}

#include "resume.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "bencode.h"
#include "bterr.h"
#include "check.h"
#include "xmalloc.h"

static char tmproot[64];
/* A three-file torrent of 10 pieces; file lengths 100000, 0, 227680. */
static const uint64_t lengths[3] = { 100000, 0, 227680 };
static struct sha1 hash = { { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
    14, 15, 16, 17, 18, 19, 20 } };

static struct resume_expect
expect(void)
{
	struct resume_expect ex = { &hash, 10, lengths, 3 };

	return ex;
}

static void
sample(struct resume *r)
{
	*r = (struct resume)RESUME_INIT;
	r->info_hash = hash;
	bf_init(&r->have, 10);
	bf_set(&r->have, 0);
	bf_set(&r->have, 7);
	bf_set(&r->have, 9);
	r->nfiles = 3;
	r->files = xcalloc(3, sizeof(*r->files));
	for (size_t i = 0; i < 3; i++) {
		r->files[i].size = lengths[i];
		r->files[i].mtime_sec = 1700000000 + (int64_t)i;
		r->files[i].mtime_nsec = 123456789 * (int32_t)(i != 1);
		r->files[i].exists = true;
	}
	r->uploaded = 5555;
}

static void
test_roundtrip(void)
{
	struct resume r, d;
	struct resume_expect ex = expect();
	struct bt_err err = BT_ERR_INIT;
	uint8_t *p;
	size_t n;

	sample(&r);
	p = resume_encode(&r, &n);
	CHECK_OK(resume_decode(p, n, &ex, &d, &err));
	CHECK_MEM_EQ(d.info_hash.b, hash.b, 20);
	CHECK_INT_EQ(d.have.n, 10);
	CHECK_INT_EQ(bf_count(&d.have), 3);
	CHECK(bf_get(&d.have, 7));
	CHECK_INT_EQ(d.nfiles, 3);
	CHECK_INT_EQ(d.uploaded, 5555);
	for (size_t i = 0; i < 3; i++)
		CHECK(resume_stat_same(&d.files[i], &r.files[i]));
	resume_release(&d);
	resume_release(&r);
	resume_release(&r);	/* twice is harmless */
	free(p);
}

/* Decoding text must fail with code, and leave *out empty. */
static void
expect_bad(const char *text, int code, const char *why)
{
	struct resume d;
	struct resume_expect ex = expect();
	struct bt_err err = BT_ERR_INIT;
	int r = resume_decode((const uint8_t *)text, strlen(text), &ex, &d,
	    &err);

	CHECK_INT_EQ(r, code);
	if (strstr(err.msg, why) == NULL)
		CHECK_STR_EQ(err.msg, why);
	CHECK(d.files == NULL && d.have.bits == NULL);
}

#define IH "20:\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e" \
	"\x0f\x10\x11\x12\x13\x14"
#define FILES "5:filesll" "i100000ei1ei2eeli0ei3ei4eeli227680ei5ei6eee"
#define HAVE "4:have2:\x80\x40"

static void
test_rejections(void)
{
	const char *good = "d" FILES HAVE "9:info hash" IH
	    "6:piecesi10e8:uploadedi0e7:versioni1ee";
	struct resume d;
	struct resume_expect ex = expect();

	CHECK_OK(resume_decode((const uint8_t *)good, strlen(good), &ex, &d,
	    NULL));
	CHECK_INT_EQ(bf_count(&d.have), 2);
	resume_release(&d);
	expect_bad("", -EILSEQ, "bencode");
	expect_bad("le", -EILSEQ, "not a dictionary");
	expect_bad("de", -EILSEQ, "0 keys");
	expect_bad("d" FILES HAVE "9:info hash" IH
	    "6:piecesi10e8:uploadedi0e7:versioni2ee", -EILSEQ, "version 2");
	expect_bad("d" FILES HAVE "9:info hash" IH
	    "6:piecesi11e8:uploadedi0e7:versioni1ee", -EINVAL, "11 pieces");
	expect_bad("d" FILES HAVE "9:info hash" "3:abc"
	    "6:piecesi10e8:uploadedi0e7:versioni1ee", -EILSEQ, "3 bytes");
	expect_bad("d" FILES HAVE "9:info hash" IH
	    "6:piecesi10e8:uploadedi-1e7:versioni1ee", -EILSEQ, "negative");
	expect_bad("d" FILES "4:have1:\x80" "9:info hash" IH
	    "6:piecesi10e8:uploadedi0e7:versioni1ee", -EILSEQ, "bitfield");
	/* A spare bit past piece 10 is set. */
	expect_bad("d" FILES "4:have2:\x80\x01" "9:info hash" IH
	    "6:piecesi10e8:uploadedi0e7:versioni1ee", -EILSEQ, "bitfield");
	expect_bad("d5:filesli0ee" HAVE "9:info hash" IH
	    "6:piecesi10e8:uploadedi0e7:versioni1ee", -EINVAL, "1 files");
	expect_bad("d5:filesll1:ai1ei2eeli0ei3ei4eeli227680ei5ei6eee" HAVE
	    "9:info hash" IH "6:piecesi10e8:uploadedi0e7:versioni1ee",
	    -EILSEQ, "files[0] is not");
	expect_bad("d5:fileslleli0ei3ei4eeli227680ei5ei6eee" HAVE
	    "9:info hash" IH "6:piecesi10e8:uploadedi0e7:versioni1ee",
	    -EILSEQ, "files[0] is not");
	expect_bad("d5:filesll100000ei1ei2eeli0ei3ei4eeli227681ei5ei6eee" HAVE
	    "9:info hash" IH "6:piecesi10e8:uploadedi0e7:versioni1ee",
	    -EILSEQ, "bencode");
	expect_bad("d5:fileslli100000ei1ei2eeli0ei3ei4eeli227681ei5ei6eee"
	    HAVE "9:info hash" IH "6:piecesi10e8:uploadedi0e7:versioni1ee",
	    -EINVAL, "files[2] size");
	expect_bad("d5:fileslli100000ei1ei2eeli0ei3ei1000000000eeli227680ei5e"
	    "i6eee" HAVE "9:info hash" IH
	    "6:piecesi10e8:uploadedi0e7:versioni1ee", -EILSEQ, "nanoseconds");
	/* Seven keys: one unknown. */
	expect_bad("d" FILES HAVE "9:info hash" IH
	    "6:piecesi10e8:uploadedi0e7:versioni1e1:zi0ee", -EILSEQ,
	    "7 keys");
	/* Six keys, one of them unknown in place of "uploaded". */
	expect_bad("d" FILES HAVE "9:info hash" IH
	    "6:piecesi10e8:uploadexi0e7:versioni1ee", -EILSEQ, "uploaded");
	expect_bad("d" FILES HAVE "9:info hash" IH
	    "6:pieces1:a8:uploadedi0e7:versioni1ee", -EILSEQ, "wrong type");
	/* Trailing bytes, unsorted keys. */
	expect_bad("d" FILES HAVE "9:info hash" IH
	    "6:piecesi10e8:uploadedi0e7:versioni1eex", -EILSEQ, "bencode");
	expect_bad("d" HAVE FILES "9:info hash" IH
	    "6:piecesi10e8:uploadedi0e7:versioni1ee", -EILSEQ, "bencode");
}

static void
test_other_torrent(void)
{
	struct resume r, d;
	struct resume_expect ex = expect();
	struct sha1 other = hash;
	struct bt_err err = BT_ERR_INIT;
	uint8_t *p;
	size_t n;

	sample(&r);
	p = resume_encode(&r, &n);
	other.b[19] ^= 1;
	ex.info_hash = &other;
	CHECK_INT_EQ(resume_decode(p, n, &ex, &d, &err), -EINVAL);
	CHECK(strstr(err.msg, "another torrent") != NULL);
	free(p);
	resume_release(&r);
}

/*
 * Every prefix and a few thousand random corruptions of a good file: no
 * crash, no leak (ASan), and whatever is accepted is consistent.
 */
static void
test_corruption(void)
{
	struct resume r, d;
	struct resume_expect ex = expect();
	uint8_t *p, *q;
	size_t n, accepted = 0;

	sample(&r);
	p = resume_encode(&r, &n);
	q = xmalloc(n);
	for (size_t k = 0; k < n; k++)
		CHECK(resume_decode(p, k, &ex, &d, NULL) < 0);
	for (int t = 0; t < 5000; t++) {
		memcpy(q, p, n);
		for (int flips = 1 + (int)(check_rnd() % 3); flips > 0; flips--)
			q[check_rnd() % n] ^= (uint8_t)(1u << (check_rnd() % 8));
		if (resume_decode(q, n, &ex, &d, NULL) == 0) {
			accepted++;
			CHECK_INT_EQ(d.have.n, 10);
			CHECK_INT_EQ(d.nfiles, 3);
			resume_release(&d);
		} else {
			CHECK(d.files == NULL);
		}
	}
	printf("corruption: %zu of 5000 accepted (bits of have, mtimes)\n",
	    accepted);
	free(q);
	free(p);
	resume_release(&r);
}

static void
test_paths(void)
{
	char *res, *lock;

	resume_paths("dl/movie.iso", &res, &lock);
	CHECK_STR_EQ(res, "dl/.movie.iso.btresume");
	CHECK_STR_EQ(lock, "dl/.movie.iso.btlock");
	free(res);
	free(lock);
	resume_paths("multi", &res, NULL);
	CHECK_STR_EQ(res, ".multi.btresume");
	free(res);
	resume_paths("/srv/a/dir/", &res, NULL);
	CHECK_STR_EQ(res, "/srv/a/.dir.btresume");
	free(res);
}

/* Plan over lengths {100000, 0, 227680} and 32 KiB pieces. */
static void
test_plan(void)
{
	struct bitfield claimed, trust, check;
	bool changed[3] = { false, true, false };
	uint32_t pl = 32768;

	bf_init(&claimed, 10);
	bf_init(&trust, 10);
	bf_init(&check, 10);
	bf_set_all(&claimed);
	bf_clear(&claimed, 5);
	/* An empty file that "changed" touches nothing. */
	resume_plan(&claimed, lengths, 3, changed, pl, &trust, &check);
	CHECK_INT_EQ(bf_count(&trust), 9);
	CHECK_INT_EQ(bf_count(&check), 0);
	CHECK(!bf_get(&trust, 5));
	/* File 0 is bytes [0, 100000): pieces 0-3 (piece 3 is shared). */
	changed[0] = true;
	resume_plan(&claimed, lengths, 3, changed, pl, &trust, &check);
	CHECK_INT_EQ(bf_count(&check), 4);
	CHECK(bf_get(&check, 3) && !bf_get(&check, 4));
	CHECK_INT_EQ(bf_count(&trust), 5);
	/* File 2 is [100000, 327680): pieces 3-9. */
	changed[0] = false;
	changed[2] = true;
	resume_plan(&claimed, lengths, 3, changed, pl, &trust, &check);
	CHECK_INT_EQ(bf_count(&check), 7);
	CHECK_INT_EQ(bf_count(&trust), 3);
	CHECK(bf_get(&trust, 2) && !bf_get(&trust, 3));
	/* No record at all: everything changed, nothing trusted. */
	changed[0] = true;
	resume_plan(NULL, lengths, 3, changed, pl, &trust, &check);
	CHECK_INT_EQ(bf_count(&check), 10);
	CHECK_INT_EQ(bf_count(&trust), 0);
	bf_release(&claimed);
	bf_release(&trust);
	bf_release(&check);
}

static void
write_file(const char *path, const char *s)
{
	FILE *fp = fopen(path, "w");

	CHECK(fp != NULL);
	if (fp != NULL) {
		fputs(s, fp);
		fclose(fp);
	}
}

static void
test_save_load(void)
{
	char path[128], tmp[140];
	struct resume r, d;
	struct resume_expect ex = expect();
	struct bt_err err = BT_ERR_INIT;
	struct stat sb;

	snprintf(path, sizeof(path), "%s/.x.btresume", tmproot);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	CHECK_INT_EQ(resume_load(path, &ex, &d, &err), -ENOENT);
	sample(&r);
	CHECK_OK(resume_save(path, &r, &err));
	CHECK(stat(tmp, &sb) < 0 && errno == ENOENT);
	CHECK_OK(resume_load(path, &ex, &d, &err));
	CHECK_INT_EQ(bf_count(&d.have), 3);
	resume_release(&d);
	/* Saving again replaces it. */
	bf_set(&r.have, 4);
	CHECK_OK(resume_save(path, &r, &err));
	CHECK_OK(resume_load(path, &ex, &d, &err));
	CHECK_INT_EQ(bf_count(&d.have), 4);
	resume_release(&d);
	write_file(path, "garbage");
	CHECK_INT_EQ(resume_load(path, &ex, &d, &err), -EILSEQ);
	/* A directory where the file should be, then a missing directory. */
	unlink(path);
	CHECK_OK(mkdir(path, 0755));
	CHECK(resume_load(path, &ex, &d, &err) < 0);
	CHECK(resume_save(path, &r, &err) < 0);
	rmdir(path);
	unlink(tmp);
	snprintf(path, sizeof(path), "%s/nodir/.x.btresume", tmproot);
	CHECK_INT_EQ(resume_save(path, &r, &err), -ENOENT);
	CHECK(strstr(err.msg, "nodir") != NULL);
	resume_release(&r);
}

static void
test_stat_files(void)
{
	char dir[128], f[160];
	const char *rel[3] = { "a", "sub/b", "missing" };
	struct resume_stat st[3], again[3];
	struct timespec ts[2] = { { 1000, 5 }, { 1000, 5 } };

	snprintf(dir, sizeof(dir), "%s/multi", tmproot);
	snprintf(f, sizeof(f), "%s/sub", dir);
	CHECK_OK(resume_mkdirs(f, NULL));
	snprintf(f, sizeof(f), "%s/a", dir);
	write_file(f, "hello");
	snprintf(f, sizeof(f), "%s/sub/b", dir);
	write_file(f, "xy");
	CHECK_OK(utimensat(AT_FDCWD, f, ts, 0));
	resume_stat_files(dir, false, rel, 3, st);
	CHECK(st[0].exists && st[0].size == 5);
	CHECK(st[1].exists && st[1].size == 2);
	CHECK_INT_EQ(st[1].mtime_sec, 1000);
	CHECK_INT_EQ(st[1].mtime_nsec, 5);
	CHECK(!st[2].exists);
	CHECK(!resume_stat_same(&st[2], &st[2]));
	resume_stat_files(dir, false, rel, 3, again);
	CHECK(resume_stat_same(&st[0], &again[0]));
	/* Touching a file changes its stat. */
	ts[1].tv_nsec = 6;
	CHECK_OK(utimensat(AT_FDCWD, f, ts, 0));
	resume_stat_files(dir, false, rel, 3, again);
	CHECK(!resume_stat_same(&st[1], &again[1]));
	/* Single file: the save path itself; a symlink is not followed. */
	resume_stat_files(f, true, NULL, 1, again);
	CHECK(again[0].exists && again[0].size == 2);
	snprintf(dir, sizeof(dir), "%s/link", tmproot);
	CHECK_OK(symlink(f, dir));
	resume_stat_files(dir, true, NULL, 1, again);
	CHECK(!again[0].exists);
}

static void
test_lock(void)
{
	char path[128];
	struct bt_err err = BT_ERR_INIT;
	long holder = -1;
	pid_t pid;
	int fd, st;

	snprintf(path, sizeof(path), "%s/deep/er/.x.btlock", tmproot);
	CHECK(resume_lock(path, &holder, &err) < 0);
	snprintf(path, sizeof(path), "%s/deep/er", tmproot);
	CHECK_OK(resume_mkdirs(path, &err));
	CHECK_OK(resume_mkdirs(path, &err));	/* exists: fine */
	snprintf(path, sizeof(path), "%s/deep/er/.x.btlock", tmproot);
	fd = resume_lock(path, &holder, &err);
	CHECK(fd >= 0);
	/* fcntl locks are per process: ask from a child. */
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int r = resume_lock(path, &holder, &err);

		_exit(r == -EAGAIN && holder == (long)getppid() &&
		    strstr(err.msg, "locked by process") != NULL ? 0 : 1);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(fd);
	/* Released: the child can have it now. */
	pid = fork();
	if (pid == 0)
		_exit(resume_lock(path, &holder, &err) >= 0 ? 0 : 1);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
setup(void)
{

	check_seed();
	snprintf(tmproot, sizeof(tmproot), "/tmp/test_resume.XXXXXX");
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
		fprintf(stderr, "cannot remove %s\n", tmproot);
}

int
main(void)
{
	int r;

	setup();
	r = 0;
	{
		check_test_fn *const tests[] = { test_roundtrip,
		    test_rejections, test_other_torrent, test_corruption,
		    test_paths, test_plan, test_save_load, test_stat_files,
		    test_lock };

		r = check_run_(tests, sizeof(tests) / sizeof(tests[0]));
	}
	teardown();
	return r;
}

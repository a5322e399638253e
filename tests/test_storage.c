#define _GNU_SOURCE	/* fallocate, mincore (Linux) */

#include "storage.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "bterr.h"
#include "check.h"

static char tmproot[64];

static void
fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)check_rnd();
}

static const char *
tpath(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", tmproot, rel);
	return buf;
}

static void
write_file(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "wb");

	CHECK(fp != NULL);
	if (fp == NULL)
		return;
	CHECK_INT_EQ(fwrite(p, 1, n, fp), n);
	fclose(fp);
}

/* Size of path, or -1 if it is missing. */
static long long
file_size(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) == -1)
		return -1;
	return (long long)sb.st_size;
}

static size_t
read_file(const char *path, uint8_t *buf, size_t max)
{
	FILE *fp = fopen(path, "rb");
	size_t n;

	if (fp == NULL)
		return 0;
	n = fread(buf, 1, max, fp);
	fclose(fp);
	return n;
}

static int
count_open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

/* Three data files with zero-length files between and after them. */
static const struct st_file multi[] = {
	{ "a.bin", 1000, false },
	{ "sub/empty", 0, false },
	{ "sub/b.bin", 3000, false },
	{ "c/d/e.bin", 1, false },
	{ "c/empty2", 0, false },
	{ "z.bin", 5000, false },
	{ "last-empty", 0, false },
};
#define NMULTI (sizeof(multi) / sizeof(multi[0]))
#define MULTI_TOTAL 9001

static void
test_multi_spanning(void)
{
	static uint8_t src[MULTI_TOTAL], got[MULTI_TOTAL];
	char dir[128], p[192];
	struct bt_err err = BT_ERR_INIT;
	struct storage *st;
	size_t off = 0, n;

	tpath(dir, sizeof(dir), "multi");
	st = st_new(dir, multi, NMULTI, false, NULL, &err);
	CHECK(st != NULL);
	if (st == NULL) {
		fprintf(stderr, "st_new: %s\n", err.msg);
		return;
	}
	CHECK_INT_EQ(st_total_len(st), MULTI_TOTAL);
	CHECK_INT_EQ(st_num_files(st), NMULTI);
	for (size_t i = 0; i < NMULTI; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, multi[i].path);
		CHECK_INT_EQ(file_size(p), multi[i].length);
		CHECK(!st_file_exists_full(st, i) || multi[i].length == 0);
	}
	CHECK(!st_range_existed(st, 0, 10));
	fill_random(src, sizeof(src));
	/* Uneven writes that straddle every boundary, then uneven reads. */
	while (off < MULTI_TOTAL) {
		n = 1 + check_rnd() % 1500;
		if (n > MULTI_TOTAL - off)
			n = MULTI_TOTAL - off;
		CHECK_OK(st_write(st, off, src + off, n, &err));
		off += n;
	}
	for (int i = 0; i < 200; i++) {
		off = check_rnd() % MULTI_TOTAL;
		n = check_rnd() % (MULTI_TOTAL - off + 1);
		memset(got, 0, n);
		CHECK_OK(st_read(st, off, got, n, &err));
		CHECK_MEM_EQ(got, src + off, n);
	}
	/* Exactly across a zero-length file: end of b.bin, e.bin, z.bin. */
	CHECK_OK(st_read(st, 3990, got, 20, &err));
	CHECK_MEM_EQ(got, src + 3990, 20);
	CHECK_OK(st_flush(st, &err));
	st_free(st);
	CHECK_INT_EQ(read_file(tpath(p, sizeof(p), "multi/sub/b.bin"), got,
	    sizeof(got)), 3000);
	CHECK_MEM_EQ(got, src + 1000, 3000);
	CHECK_INT_EQ(read_file(tpath(p, sizeof(p), "multi/c/d/e.bin"), got,
	    sizeof(got)), 1);
	CHECK_INT_EQ(got[0], src[4000]);

	/* Reopened: everything existed at full size now. */
	st = st_new(dir, multi, NMULTI, false, NULL, &err);
	CHECK(st != NULL);
	for (size_t i = 0; st != NULL && i < NMULTI; i++)
		CHECK(st_file_exists_full(st, i));
	CHECK(st != NULL && st_range_existed(st, 0, MULTI_TOTAL));
	CHECK(st != NULL && !st_range_existed(st, 1, MULTI_TOTAL));
	st_free(st);
}

static void
test_bounds_and_map(void)
{
	char dir[128];
	uint8_t buf[64], exp[64];
	struct bt_err err = BT_ERR_INIT;
	struct storage *st;
	int fd = -1;
	uint64_t fo = 0;
	size_t n = 0;

	st = st_new(tpath(dir, sizeof(dir), "multi"), multi, NMULTI, false,
	    NULL, &err);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT_EQ(st_read(st, MULTI_TOTAL - 1, buf, 2, &err), -EINVAL);
	CHECK(strstr(err.msg, "past the end") != NULL);
	CHECK_INT_EQ(st_read(st, UINT64_MAX, buf, 1, NULL), -EINVAL);
	CHECK_OK(st_read(st, MULTI_TOTAL, buf, 0, NULL));
	/* From the middle of b.bin the first segment ends at its end. */
	CHECK_OK(st_map(st, 3990, 30, &fd, &fo, &n, &err));
	CHECK_INT_EQ(fo, 2990);
	CHECK_INT_EQ(n, 10);
	CHECK_INT_EQ(pread(fd, buf, n, (off_t)fo), 10);
	CHECK_OK(st_read(st, 3990, exp, 10, &err));
	CHECK_MEM_EQ(buf, exp, 10);
	/* Starting at e.bin skips the zero-length file before it. */
	CHECK_OK(st_map(st, 4000, 5, &fd, &fo, &n, &err));
	CHECK_INT_EQ(fo, 0);
	CHECK_INT_EQ(n, 1);
	CHECK_OK(st_map(st, 4001, 5, &fd, &fo, &n, &err));
	CHECK_INT_EQ(n, 5);
	CHECK_INT_EQ(st_map(st, 0, 0, &fd, &fo, &n, NULL), -EINVAL);
	CHECK_INT_EQ(st_map(st, MULTI_TOTAL, 1, &fd, &fo, &n, NULL), -EINVAL);
	st_free(st);
}

static void
test_fd_pool(void)
{
	static const struct st_file five[] = {
		{ "f0", 100, false }, { "f1", 100, false },
		{ "f2", 100, false }, { "f3", 100, false },
		{ "f4", 100, false },
	};
	struct st_config cfg = ST_CONFIG_INIT;
	uint8_t src[500], got[500];
	char dir[128];
	struct bt_err err = BT_ERR_INIT;
	struct storage *st;
	int base = count_open_fds(), peak = 0, now;

	cfg.max_open_files = 2;
	st = st_new(tpath(dir, sizeof(dir), "pool"), five, 5, false, &cfg,
	    &err);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	fill_random(src, sizeof(src));
	for (int round = 0; round < 50; round++) {
		size_t off = check_rnd() % 500, n = check_rnd() % (500 - off + 1);

		CHECK_OK(st_write(st, off, src + off, n, &err));
		now = count_open_fds();
		peak = now > peak ? now : peak;
	}
	CHECK_OK(st_write(st, 0, src, 500, &err));
	CHECK_OK(st_read(st, 0, got, 500, &err));
	CHECK_MEM_EQ(got, src, 500);
	now = count_open_fds();
	peak = now > peak ? now : peak;
	/* The pool's 2 plus the directory fd, never more. */
	CHECK(peak <= base + 3);
	CHECK_OK(st_flush(st, &err));
	st_free(st);
	CHECK_INT_EQ(count_open_fds(), base);
}

static void
test_single_file(void)
{
	struct st_file one = { NULL, 777, false };
	uint8_t src[777], got[777];
	char path[128];
	struct bt_err err = BT_ERR_INIT;
	struct storage *st;

	/* The file is exactly the path given; its parents are created. */
	tpath(path, sizeof(path), "single/deeper/file.iso");
	st = st_new(path, &one, 1, true, NULL, &err);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_INT_EQ(file_size(path), 777);
	fill_random(src, sizeof(src));
	CHECK_OK(st_write(st, 0, src, 777, &err));
	st_free(st);
	CHECK_INT_EQ(read_file(path, got, sizeof(got)), 777);
	CHECK_MEM_EQ(got, src, 777);
	one.length = 500;	/* a longer file is cut to size */
	st = st_new(path, &one, 1, true, NULL, &err);
	CHECK(st != NULL);
	CHECK(st != NULL && st_file_exists_full(st, 0));
	CHECK_INT_EQ(st != NULL ? st_file_size_at_start(st, 0) : 0, 777);
	CHECK_INT_EQ(file_size(path), 500);
	st_free(st);
	tpath(path, sizeof(path), "single/");
	CHECK(st_new(path, &one, 1, true, NULL, &err) == NULL);
	CHECK_INT_EQ(err.code, -EISDIR);
}

static void
test_partial_existing(void)
{
	static const struct st_file two[] = {
		{ "p/x", 1000, false }, { "p/y", 1000, false },
	};
	uint8_t data[600];
	char dir[128], p[192];
	struct bt_err err = BT_ERR_INIT;
	struct storage *st;

	tpath(dir, sizeof(dir), "partial");
	mkdir(dir, 0777);
	mkdir(tpath(p, sizeof(p), "partial/p"), 0777);
	memset(data, 7, sizeof(data));
	write_file(tpath(p, sizeof(p), "partial/p/x"), data, 600);
	st = st_new(dir, two, 2, false, NULL, &err);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK(!st_file_exists_full(st, 0));
	CHECK(!st_file_exists_full(st, 1));
	CHECK_INT_EQ(st_file_size_at_start(st, 0), 600);
	CHECK_INT_EQ(file_size(p), 1000);	/* extended */
	CHECK(st_range_existed(st, 0, 600));
	CHECK(st_range_existed(st, 100, 500));
	CHECK(!st_range_existed(st, 0, 601));
	CHECK(!st_range_existed(st, 1000, 1));
	st_free(st);
}

static void
test_bad_paths(void)
{
	static const char *bad[] = {
		"../x", "/etc/passwd", "a//b", "./a", "a/.", "a/..", "", "a/",
	};
	struct st_file f[2] = { { "ok", 1, false }, { NULL, 1, false } };
	char dir[128];
	struct bt_err err = BT_ERR_INIT;

	tpath(dir, sizeof(dir), "bad");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f[1].path = bad[i];
		CHECK(st_new(dir, f, 2, false, NULL, &err) == NULL);
		CHECK_INT_EQ(err.code, -EINVAL);
		CHECK(strstr(err.msg, "unsafe file path") != NULL);
	}
	f[1].path = "ok";
	CHECK(st_new(dir, f, 2, false, NULL, &err) == NULL);
	CHECK(strstr(err.msg, "appears twice") != NULL);
	CHECK(st_new(dir, f, 0, false, NULL, &err) == NULL);
	CHECK(st_new(dir, f, 2, true, NULL, &err) == NULL);
	/* Nothing escaped the download directory. */
	CHECK_INT_EQ(file_size(tpath(dir, sizeof(dir), "x")), -1);
}

static void
test_unwritable_path(void)
{
	static const struct st_file f[] = { { "sub/b.bin", 10, false } };
	char dir[128], p[192];
	struct bt_err err = BT_ERR_INIT;

	/* A regular file where a directory must go (works even as root). */
	tpath(dir, sizeof(dir), "blocked");
	mkdir(dir, 0777);
	write_file(tpath(p, sizeof(p), "blocked/sub"), "x", 1);
	CHECK(st_new(dir, f, 1, false, NULL, &err) == NULL);
	CHECK_INT_EQ(err.code, -ENOTDIR);
	CHECK(strstr(err.msg, "blocked/sub/b.bin: ") != NULL);
	printf("  unwritable: %s\n", err.msg);
	/* The same under a single-file path. */
	tpath(p, sizeof(p), "blocked/sub/file");
	CHECK(st_new(p, f, 1, true, NULL, &err) == NULL);
	CHECK(strstr(err.msg, "blocked/sub") != NULL);
}

static void
test_write_errors(void)
{
	static const struct st_file f[] = { { "big.bin", 1 << 20, false } };
	struct rlimit old, lim;
	uint8_t buf[4096] = { 0 };
	char dir[128], p[192];
	struct bt_err err = BT_ERR_INIT;
	struct storage *st;

	st = st_new(tpath(dir, sizeof(dir), "fsize"), f, 1, false, NULL, &err);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	/* RLIMIT_FSIZE makes pwrite fail with EFBIG, like a full disk. */
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 65536;
	CHECK_OK(setrlimit(RLIMIT_FSIZE, &lim));
	CHECK_OK(st_write(st, 0, buf, sizeof(buf), &err));
	CHECK_INT_EQ(st_write(st, 100000, buf, sizeof(buf), &err), -EFBIG);
	CHECK(strstr(err.msg, "fsize/big.bin: ") != NULL);
	printf("  write error: %s\n", err.msg);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	/* A file removed behind our back is an error, not a crash. */
	st_free(st);
	st = st_new(dir, f, 1, false, NULL, &err);
	CHECK(st != NULL);
	unlink(tpath(p, sizeof(p), "fsize/big.bin"));
	CHECK_INT_EQ(st != NULL ? st_read(st, 0, buf, 10, &err) : 0, -ENOENT);
	CHECK(strstr(err.msg, "big.bin: No such file") != NULL);
	st_free(st);
}

static void
test_symlinks_refused(void)
{
	static const struct st_file f[] = { { "a.bin", 5, false } };
	static const struct st_file g[] = { { "sub/a.bin", 5, false } };
	struct st_file one = { NULL, 5, false };
	char dir[128], p[192], target[192];
	uint8_t got[16];
	struct bt_err err = BT_ERR_INIT;

	tpath(target, sizeof(target), "outside.txt");
	write_file(target, "precious", 8);
	tpath(dir, sizeof(dir), "links");
	mkdir(dir, 0777);
	CHECK_OK(symlink(target, tpath(p, sizeof(p), "links/a.bin")));
	CHECK(st_new(dir, f, 1, false, NULL, &err) == NULL);
	CHECK_INT_EQ(err.code, -ELOOP);
	CHECK(strstr(err.msg, "links/a.bin: ") != NULL);
	printf("  symlink: %s\n", err.msg);
	/* A symlinked directory inside the download is refused too. */
	CHECK_OK(symlink(tmproot, tpath(p, sizeof(p), "links/sub")));
	CHECK(st_new(dir, g, 1, false, NULL, &err) == NULL);
	/* And a single-file target that is a symlink. */
	CHECK(st_new(tpath(p, sizeof(p), "links/a.bin"), &one, 1, true, NULL,
	    &err) == NULL);
	CHECK_INT_EQ(err.code, -ELOOP);
	CHECK_INT_EQ(read_file(target, got, sizeof(got)), 8);
	CHECK_MEM_EQ(got, "precious", 8);
	CHECK_INT_EQ(file_size(tpath(p, sizeof(p), "a.bin")), -1);
}

/* Entries in dir other than "." and "..", or -1 if it cannot be read. */
static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/*
 * A directory inside the download replaced by a symlink to a directory
 * outside it, before start: st_new refuses, and nothing appears outside.
 */
static void
planted_before_start(bool walk)
{
	static const struct st_file f[] = {
		{ "top.bin", 10, false }, { "a/b/c.bin", 10, false },
	};
	struct st_config cfg = ST_CONFIG_INIT;
	char dir[128], p[192], out[128], name[32];
	struct bt_err err = BT_ERR_INIT;

	cfg.no_openat2 = walk;
	snprintf(name, sizeof(name), "planted%d", walk);
	tpath(dir, sizeof(dir), name);
	snprintf(name, sizeof(name), "outside%d", walk);
	tpath(out, sizeof(out), name);
	CHECK_OK(mkdir(out, 0777));
	snprintf(p, sizeof(p), "%s/a", dir);
	CHECK_OK(mkdir(dir, 0777));
	CHECK_OK(mkdir(p, 0777));
	snprintf(p, sizeof(p), "%s/a/b", dir);
	CHECK_OK(symlink(out, p));
	CHECK(st_new(dir, f, 2, false, &cfg, &err) == NULL);
	CHECK_INT_EQ(err.code, -ELOOP);
	CHECK(strstr(err.msg, "a/b/c.bin: a symbolic link") != NULL);
	CHECK_INT_EQ(count_entries(out), 0);
	/* The symlink as the first component, and a relative one. */
	CHECK_OK(unlink(p));
	snprintf(p, sizeof(p), "%s/a", dir);
	CHECK_OK(rmdir(p));
	CHECK_OK(symlink(walk ? "../outside1" : "../outside0", p));
	CHECK(st_new(dir, f, 2, false, &cfg, &err) == NULL);
	CHECK_INT_EQ(err.code, -ELOOP);
	CHECK_INT_EQ(count_entries(out), 0);
}

/*
 * The same swap made while the storage is open, after start-up: the next
 * open of a file below the swapped directory must fail with ELOOP and
 * neither read nor write the file the symlink leads to.  max_open_files 1
 * forces that reopen.
 */
static void
swapped_after_start(bool walk)
{
	static const struct st_file f[] = {
		{ "sub/deep/a.bin", 100, false }, { "b.bin", 100, false },
	};
	struct st_config cfg = ST_CONFIG_INIT;
	char dir[128], p[192], q[192], out[128], name[32];
	uint8_t buf[100], got[100];
	struct bt_err err = BT_ERR_INIT;
	struct storage *st;

	cfg.no_openat2 = walk;
	cfg.max_open_files = 1;
	snprintf(name, sizeof(name), "swap%d", walk);
	tpath(dir, sizeof(dir), name);
	snprintf(name, sizeof(name), "swapout%d", walk);
	tpath(out, sizeof(out), name);
	CHECK_OK(mkdir(out, 0777));
	snprintf(p, sizeof(p), "%s/deep", out);
	CHECK_OK(mkdir(p, 0777));
	memset(buf, 'P', sizeof(buf));
	snprintf(p, sizeof(p), "%s/deep/a.bin", out);
	write_file(p, buf, sizeof(buf));
	st = st_new(dir, f, 2, false, &cfg, &err);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	memset(buf, 'x', sizeof(buf));
	CHECK_OK(st_write(st, 0, buf, 100, &err));
	CHECK_OK(st_write(st, 100, buf, 100, &err));	/* evicts a.bin */
	snprintf(p, sizeof(p), "%s/sub", dir);
	snprintf(q, sizeof(q), "%s/sub.real", dir);
	CHECK_OK(rename(p, q));
	CHECK_OK(symlink(out, p));
	CHECK_INT_EQ(st_write(st, 0, buf, 100, &err), -ELOOP);
	CHECK(strstr(err.msg, "sub/deep/a.bin: a symbolic link") != NULL);
	CHECK_INT_EQ(st_read(st, 0, got, 100, &err), -ELOOP);
	/* The file itself swapped for a symlink is refused the same way. */
	CHECK_OK(unlink(p));
	CHECK_OK(rename(q, p));
	snprintf(p, sizeof(p), "%s/sub/deep/a.bin", dir);
	CHECK_OK(unlink(p));
	snprintf(q, sizeof(q), "%s/deep/a.bin", out);
	CHECK_OK(symlink(q, p));
	CHECK_INT_EQ(st_write(st, 0, buf, 100, &err), -ELOOP);
	st_free(st);
	CHECK_INT_EQ(read_file(q, got, sizeof(got)), 100);
	memset(buf, 'P', sizeof(buf));
	CHECK_MEM_EQ(got, buf, 100);
	CHECK_INT_EQ(count_entries(out), 1);
}

static void
test_planted_symlinks(void)
{
	planted_before_start(false);
	planted_before_start(true);
	swapped_after_start(false);
	swapped_after_start(true);
}

static void
test_readonly(void)
{
	uint8_t buf[100];
	char dir[128];
	struct bt_err err = BT_ERR_INIT;
	struct storage *st;
	int fd = -1;
	uint64_t fo;
	size_t n;

	st = st_new(tpath(dir, sizeof(dir), "multi"), multi, NMULTI, false,
	    NULL, &err);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK_OK(st_write(st, 0, "abc", 3, &err));
	CHECK_OK(st_map(st, 0, 3, &fd, &fo, &n, &err));
	CHECK_INT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	CHECK_OK(st_set_readonly(st, &err));
	CHECK_INT_EQ(st_write(st, 0, "abc", 3, &err), -EROFS);
	CHECK_OK(st_read(st, 0, buf, 3, &err));
	CHECK_MEM_EQ(buf, "abc", 3);
	CHECK_OK(st_map(st, 0, 3, &fd, &fo, &n, &err));
	CHECK_INT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	st_set_sequential(st, true);
	CHECK_OK(st_read(st, 0, buf, 100, &err));
	st_set_sequential(st, false);
	st_free(st);
	st_free(NULL);
}

static void
setup(void)
{
	check_seed();
	snprintf(tmproot, sizeof(tmproot), "/tmp/test_storage.XXXXXX");
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

/* Pages of [off, off + n) of fd that are in the page cache. */
static size_t
resident_pages(int fd, size_t off, size_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t np = (n + (size_t)pg - 1) / (size_t)pg, count = 0;
	unsigned char *vec = malloc(np);
	void *m = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, (off_t)off);

	CHECK(vec != NULL && m != MAP_FAILED);
	if (vec != NULL && m != MAP_FAILED && mincore(m, n, vec) == 0) {
		for (size_t i = 0; i < np; i++)
			count += vec[i] & 1;
	}
	if (m != MAP_FAILED)
		munmap(m, n);
	free(vec);
	return count;
}

/*
 * Written data: the first write gives the file all its blocks (where the
 * file system has fallocate), and every few MiB written (8 now) start
 * writeback and drop what is already on disk from the page cache, so a
 * download keeps only its last window or two in memory.
 */
static void
test_write_window(void)
{
	enum { MIB = 1 << 20, LEN = 48 * MIB };
	static const struct st_file one = { "w.bin", LEN, true };
	struct storage *st;
	struct bt_err err;
	struct stat sb;
	char p[256];
	uint8_t *buf = malloc(4 * MIB);
	long pg = sysconf(_SC_PAGESIZE);
	int fd, probe;
	bool can_alloc;

	CHECK(buf != NULL);
	if (buf == NULL)
		return;
	fill_random(buf, 4 * MIB);
	/* Does this file system allocate on request? */
	probe = open(tpath(p, sizeof(p), "probe"), O_RDWR | O_CREAT, 0600);
	CHECK(probe >= 0);
	can_alloc = probe >= 0 && fallocate(probe, 0, 0, MIB) == 0;
	if (probe >= 0)
		close(probe);
	st = st_new(tpath(p, sizeof(p), "w.bin"), &one, 1, true, NULL, &err);
	CHECK(st != NULL);
	if (st == NULL) {
		free(buf);
		return;
	}
	CHECK_INT_EQ(stat(p, &sb), 0);
	CHECK_INT_EQ(sb.st_blocks, 0);	/* sparse until written */
	CHECK_OK(st_write(st, 0, buf, 16384, &err));
	CHECK_INT_EQ(stat(p, &sb), 0);
	if (can_alloc)
		CHECK((uint64_t)sb.st_blocks * 512 >= LEN);
	else
		fprintf(stderr, "test_write_window: no fallocate here\n");
	/* Window one, made clean by a flush; window two drops it. */
	for (size_t off = 0; off < 16 * MIB; off += 4 * MIB)
		CHECK_OK(st_write(st, off, buf, 4 * MIB, &err));
	CHECK_OK(st_flush(st, &err));
	fd = open(p, O_RDONLY);
	CHECK(fd >= 0);
	for (size_t off = 16 * MIB; off < 32 * MIB; off += 4 * MIB)
		CHECK_OK(st_write(st, off, buf, 4 * MIB, &err));
	if (fd >= 0) {
		/* On disk and out of the cache: at most a few pages left. */
		CHECK(resident_pages(fd, 0, 16 * MIB) < 16);
		/* The last write was still dirty when it was issued. */
		CHECK(resident_pages(fd, 28 * MIB, 4 * MIB) >
		    (size_t)(3 * MIB / pg));
		close(fd);
	}
	/* Nothing was lost on the way. */
	CHECK_OK(st_flush(st, &err));
	for (size_t off = 0; off < 32 * MIB; off += 4 * MIB) {
		uint8_t got[4096];

		CHECK_OK(st_read(st, off + 4 * MIB - sizeof(got), got,
		    sizeof(got), &err));
		CHECK_MEM_EQ(got, buf + 4 * MIB - sizeof(got), sizeof(got));
	}
	st_free(st);
	free(buf);
}

int
main(void)
{
	setup();
	atexit(teardown);
	CHECK_RUN(test_multi_spanning, test_bounds_and_map, test_fd_pool,
	    test_single_file, test_partial_existing, test_bad_paths,
	    test_unwritable_path, test_write_errors, test_symlinks_refused,
	    test_planted_symlinks, test_readonly, test_write_window);
}

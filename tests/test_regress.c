/*
 * Regressions for hostile input.  The libFuzzer harnesses in fuzz/ are
 * compiled in here unchanged (each LLVMFuzzerTestOneInput renamed), and
 * every file of tests/regress/ and of the seed corpora fuzz/corpus/NAME/ is
 * fed to the harness of its name, so a crash a fuzzer once found stays
 * fixed under plain `make check` and `make asan`, with the same checks the
 * fuzzer makes (a broken invariant aborts).  tests/regress/ files are
 * named TARGET-WHAT, e.g. "metainfo-symlink-attr".
 *
 * It also feeds every tests/torrents/bad-*.torrent to btf_parse and checks
 * the reason against tests/torrents/bad-reasons.txt.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bterr.h"
#include "btformats.h"
#include "check.h"

#define LLVMFuzzerTestOneInput fuzz_bencode_one
#include "../fuzz/fuzz_bencode.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_metainfo_one
#include "../fuzz/fuzz_metainfo.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_announce_one
#include "../fuzz/fuzz_announce.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_http_one
#include "../fuzz/fuzz_http.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_url_one
#include "../fuzz/fuzz_url.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_peerwire_one
#include "../fuzz/fuzz_peerwire.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_udp_one
#include "../fuzz/fuzz_udp.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_parseargs_one
#include "../fuzz/fuzz_parseargs.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_resume_one
#include "../fuzz/fuzz_resume.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_argv_one
#include "../fuzz/fuzz_argv.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_sha1pair_one
#include "../fuzz/fuzz_sha1pair.c"
#undef LLVMFuzzerTestOneInput

typedef int harness_fn(const uint8_t *data, size_t size);

static const struct {
	const char *name;
	harness_fn *fn;
} harnesses[] = {
	{ "bencode", fuzz_bencode_one },
	{ "metainfo", fuzz_metainfo_one },
	{ "announce", fuzz_announce_one },
	{ "http", fuzz_http_one },
	{ "url", fuzz_url_one },
	{ "peerwire", fuzz_peerwire_one },
	{ "udp", fuzz_udp_one },
	{ "parseargs", fuzz_parseargs_one },
	{ "resume", fuzz_resume_one },
	{ "argv", fuzz_argv_one },
	{ "sha1pair", fuzz_sha1pair_one },
};

#define NHARNESS (sizeof(harnesses) / sizeof(harnesses[0]))

static bool
opendir_ok(const char *path)
{
	DIR *d = opendir(path);

	if (d != NULL)
		closedir(d);
	return d != NULL;
}

/* The repository's top directory: the cwd of `make unit`, or from here. */
static const char *
top(void)
{
	static char buf[4096];
	const char *slash;

	if (buf[0] != '\0')
		return buf;
	slash = strrchr(__FILE__, '/');
	if (opendir_ok("tests/regress") || slash == NULL)
		snprintf(buf, sizeof(buf), ".");
	else
		snprintf(buf, sizeof(buf), "%.*s/..", (int)(slash - __FILE__),
		    __FILE__);
	return buf;
}

/* The whole file at path, or NULL; *out_len gets its size. */
static uint8_t *
slurp(const char *path, size_t *out_len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *p = NULL;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 &&
	    fseek(fp, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) != NULL &&
	    fread(p, 1, (size_t)n, fp) == (size_t)n) {
		*out_len = (size_t)n;
	} else {
		free(p);
		p = NULL;
	}
	fclose(fp);
	return p;
}

/* The input being fed, named by the SIGABRT handler when a check fails. */
static char current[8192];

static void
on_abort(int sig)
{
	static const char pre[] = "test_regress: check failed on input ";

	(void)sig;
	if (write(2, pre, sizeof(pre) - 1) < 0 ||
	    write(2, current, strlen(current)) < 0 || write(2, "\n", 1) < 0)
		_exit(134);
	signal(SIGABRT, SIG_DFL);
}

/* Run fn on p with stdout sent to /dev/null (the argv harness may --help). */
static int
run_quiet(harness_fn *fn, const uint8_t *p, size_t n)
{
	int saved, null, r;

	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	null = open("/dev/null", O_WRONLY);
	if (saved >= 0 && null >= 0)
		dup2(null, STDOUT_FILENO);
	r = fn(p, n);
	fflush(stdout);
	if (saved >= 0 && null >= 0)
		dup2(saved, STDOUT_FILENO);
	if (saved >= 0)
		close(saved);
	if (null >= 0)
		close(null);
	return r;
}

/* Feed every regular file of dir to fn; the number fed. */
static size_t
feed_dir(const char *dir, const char *prefix, harness_fn *fn)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[8192];
	size_t fed = 0, n, plen = prefix != NULL ? strlen(prefix) : 0;
	uint8_t *p;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' ||
		    (prefix != NULL && strncmp(e->d_name, prefix, plen) != 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((p = slurp(path, &n)) == NULL)
			continue;
		snprintf(current, sizeof(current), "%s", path);
		/* A broken invariant aborts: the test run fails loudly. */
		CHECK_INT_EQ(run_quiet(fn, p, n), 0);
		free(p);
		fed++;
	}
	closedir(d);
	return fed;
}

/* Every tests/regress/TARGET-* file through its harness. */
static void
test_regress_inputs(void)
{
	char dir[4200], prefix[64];
	size_t fed = 0;

	snprintf(dir, sizeof(dir), "%s/tests/regress", top());
	for (size_t i = 0; i < NHARNESS; i++) {
		snprintf(prefix, sizeof(prefix), "%s-", harnesses[i].name);
		fed += feed_dir(dir, prefix, harnesses[i].fn);
	}
	CHECK(fed > 0);
}

/* Every seed of fuzz/corpus/TARGET through its harness. */
static void
test_seed_corpora(void)
{
	char dir[4200];

	for (size_t i = 0; i < NHARNESS; i++) {
		snprintf(dir, sizeof(dir), "%s/fuzz/corpus/%s", top(),
		    harnesses[i].name);
		CHECK(feed_dir(dir, NULL, harnesses[i].fn) > 0);
	}
}

/* btf_parse gives the reason gen_bad.py wrote for every bad torrent. */
static void
test_bad_torrents(void)
{
	char path[4200], line[1024], *tab;
	struct btf_metainfo mi;
	size_t n, count = 0;
	uint8_t *p;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/tests/torrents/bad-reasons.txt", top());
	fp = fopen(path, "r");
	CHECK(fp != NULL);
	if (fp == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		struct bt_err err = BT_ERR_INIT;

		line[strcspn(line, "\n")] = '\0';
		if ((tab = strchr(line, '\t')) == NULL)
			continue;
		*tab = '\0';
		snprintf(path, sizeof(path), "%s/tests/torrents/%s", top(), line);
		p = slurp(path, &n);
		CHECK(p != NULL);
		if (p == NULL)
			continue;
		CHECK(btf_parse(p, n, &mi, &err) < 0);
		CHECK_STR_EQ(err.msg, tab + 1);
		btf_release(&mi);
		free(p);
		count++;
	}
	fclose(fp);
	CHECK(count >= 40);
}

int
main(void)
{
	signal(SIGABRT, on_abort);
	CHECK_RUN(test_regress_inputs, test_seed_corpora, test_bad_torrents);
}

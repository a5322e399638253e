/*
 * btmakemetafile: make a .torrent for a file or a directory (mainline
 * btmakemetafile.py).
 *
 * The info dict holds exactly name, piece length, pieces and length or
 * files, so for the same content, piece length and tracker the info hash
 * equals the one mktorrent(1) makes; a BEP 12 announce-list
 * (--announce_list) lies outside info and does not change it.
 *
 * Directory walking follows mktorrent too: every file is included
 * (dot-files, core and CVS as well, unlike mainline), symlinks are
 * followed, other special files are skipped, and files are ordered by
 * their relative path compared with strcmp(3).
 */
/* realpath(3) is in the XSI part of POSIX.1-2008. */
#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bencode.h"
#include "bterr.h"
#include "btformats.h"
#include "piecehash.h"
#include "sha.h"
#include "xmalloc.h"

#define MK_CREATED_BY	"btdownload 0.1"
#define MK_MAX_DEPTH	256			/* directory nesting */
#define MK_POW2_MIN	15			/* 32 KiB pieces */
#define MK_POW2_MAX	26			/* 64 MiB, btformats' cap */
#define MK_AUTO_MIN	15			/* automatic choice: */
#define MK_AUTO_MAX	24			/* 32 KiB .. 16 MiB, */
#define MK_AUTO_PIECES	2048			/* at most this many */

struct mk_file {
	char *fspath;		/* as opened: input/rel */
	char *rel;		/* relative to the input directory */
	uint64_t length;
};

struct mk {
	/* Options. */
	const char *input;
	char *announce;
	struct btf_tier *tiers;	/* --announce_list (BEP 12), or none */
	size_t ntiers;
	const char *comment;
	const char *target;
	int pow2;		/* 0: choose */
	/* Derived. */
	char *name;
	char *out;		/* the .torrent to write */
	bool is_dir;
	struct mk_file *files;
	size_t nfiles;
	size_t cap;
	uint64_t total;
	uint8_t *pieces;
	size_t npieces;
	/* Directories on the walk's current path, to catch symlink loops. */
	struct {
		dev_t dev;
		ino_t ino;
	} dirs[MK_MAX_DEPTH];
	int ndirs;
	/* The failure: which path, and why. */
	char *errpath;
	char why[BT_ERR_MSGLEN];
};

/* Record a failure about path; returns -1 so callers can return it. */
static int mk_fail(struct mk *mk, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
mk_fail(struct mk *mk, const char *path, const char *fmt, ...)
{
	va_list ap;

	free(mk->errpath);
	mk->errpath = xstrdup(path);
	va_start(ap, fmt);
	vsnprintf(mk->why, sizeof(mk->why), fmt, ap);
	va_end(ap);
	return -1;
}

static char *
path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = xmalloc(la + 1 + lb + 1);

	memcpy(s, a, la);
	s[la] = '/';
	memcpy(s + la + 1, b, lb + 1);
	return s;
}

static void
mk_add_file(struct mk *mk, char *fspath, char *rel, uint64_t length)
{
	if (mk->nfiles == mk->cap) {
		mk->cap = mk->cap == 0 ? 64 : mk->cap * 2;
		mk->files = xreallocarray(mk->files, mk->cap,
		    sizeof(*mk->files));
	}
	mk->files[mk->nfiles].fspath = fspath;
	mk->files[mk->nfiles].rel = rel;
	mk->files[mk->nfiles].length = length;
	mk->nfiles++;
}

static int mk_walk(struct mk *mk, const char *fspath, const char *rel,
    const struct stat *st);

/* One directory entry: recurse into directories, add regular files. */
static int
mk_entry(struct mk *mk, const char *dirpath, const char *dirrel,
    const char *name)
{
	char *fspath = path_join(dirpath, name);
	char *rel = dirrel != NULL ? path_join(dirrel, name) : xstrdup(name);
	const char *why = btf_check_component((const uint8_t *)name,
	    strlen(name));
	struct stat st;
	int r = 0;

	if (stat(fspath, &st) < 0)
		r = mk_fail(mk, fspath, "%s", strerror(errno));
	else if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		r = 0;		/* fifos, sockets, devices: skipped */
	else if (why != NULL)
		r = mk_fail(mk, fspath, "file name %s, which a torrent "
		    "cannot hold", why);
	else if (S_ISDIR(st.st_mode))
		r = mk_walk(mk, fspath, rel, &st);
	else {
		mk_add_file(mk, fspath, rel, (uint64_t)st.st_size);
		return 0;
	}
	free(fspath);
	free(rel);
	return r;
}

static int
mk_read_dir(struct mk *mk, DIR *d, const char *fspath, const char *rel)
{
	struct dirent *de;

	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (mk_entry(mk, fspath, rel, de->d_name) < 0)
			return -1;
	}
	if (errno != 0)
		return mk_fail(mk, fspath, "%s", strerror(errno));
	return 0;
}

/* Walk directory fspath (rel NULL for the top) whose stat is st. */
static int
mk_walk(struct mk *mk, const char *fspath, const char *rel,
    const struct stat *st)
{
	DIR *d;
	int r;

	for (int i = 0; i < mk->ndirs; i++) {
		if (mk->dirs[i].dev == st->st_dev &&
		    mk->dirs[i].ino == st->st_ino)
			return mk_fail(mk, fspath, "symlink loop: this is "
			    "a directory above it");
	}
	if (mk->ndirs == MK_MAX_DEPTH)
		return mk_fail(mk, fspath, "directories nested deeper "
		    "than %d", MK_MAX_DEPTH);
	if ((d = opendir(fspath)) == NULL)
		return mk_fail(mk, fspath, "%s", strerror(errno));
	mk->dirs[mk->ndirs].dev = st->st_dev;
	mk->dirs[mk->ndirs++].ino = st->st_ino;
	r = mk_read_dir(mk, d, fspath, rel);
	mk->ndirs--;
	closedir(d);
	return r;
}

static int
mk_file_cmp(const void *a, const void *b)
{
	const struct mk_file *x = a, *y = b;

	return strcmp(x->rel, y->rel);
}

/* Find what to put in the torrent: one file, or a tree. */
static int
mk_collect(struct mk *mk)
{
	struct stat st;

	if (stat(mk->input, &st) < 0)
		return mk_fail(mk, mk->input, "%s", strerror(errno));
	if (S_ISREG(st.st_mode)) {
		mk_add_file(mk, xstrdup(mk->input), xstrdup(mk->name),
		    (uint64_t)st.st_size);
	} else if (S_ISDIR(st.st_mode)) {
		mk->is_dir = true;
		if (mk_walk(mk, mk->input, NULL, &st) < 0)
			return -1;
		if (mk->nfiles == 0)
			return mk_fail(mk, mk->input, "no files in directory");
		qsort(mk->files, mk->nfiles, sizeof(*mk->files), mk_file_cmp);
	} else {
		return mk_fail(mk, mk->input,
		    "neither a regular file nor a directory");
	}
	for (size_t i = 0; i < mk->nfiles; i++) {
		if (mk->files[i].length > (uint64_t)INT64_MAX - mk->total)
			return mk_fail(mk, mk->input, "total size overflows");
		mk->total += mk->files[i].length;
	}
	if (mk->total == 0)
		return mk_fail(mk, mk->input, "total size is 0; a torrent "
		    "needs at least one byte");
	return 0;
}

/* Aim for at most MK_AUTO_PIECES pieces, within MK_AUTO_MIN..MAX. */
static int
mk_auto_pow2(uint64_t total)
{
	int p = MK_AUTO_MIN;

	while (p < MK_AUTO_MAX &&
	    (total + ((uint64_t)1 << p) - 1) >> p > MK_AUTO_PIECES)
		p++;
	return p;
}

/* Progress on a terminal, in 0.1% steps. */
struct mk_shown {
	uint64_t total;
	int shown;		/* last printed, in 0.1%; -1: none yet */
};

static void
mk_progress(void *ctx, uint64_t done)
{
	struct mk_shown *s = ctx;
	int now = (int)(done * 1000 / s->total);

	if (now == s->shown)
		return;
	s->shown = now;
	fprintf(stderr, "%5.1f%% complete\r", now / 10.0);
}

/*
 * The piece hashes, two pieces side by side on the one thread
 * (piecehash.h; docs/architecture.md, "Hashing on one thread").
 */
static int
mk_hash_all(struct mk *mk)
{
	struct mk_shown shown = { mk->total, -1 };
	bool progress = isatty(STDERR_FILENO);
	uint32_t piece_len = (uint32_t)1 << mk->pow2;
	struct bt_err err = BT_ERR_INIT;
	struct ph_file *pf;
	uint64_t np = ph_count(mk->total, piece_len);
	size_t bad = 0;
	int r;

	if (np > BE_MAX_STR_LEN / SHA1_LEN)
		return mk_fail(mk, mk->input, "%llu pieces is too many; use "
		    "larger pieces", (unsigned long long)np);
	mk->pieces = xmalloc((size_t)np * SHA1_LEN);
	pf = xcalloc(mk->nfiles, sizeof(*pf));
	for (size_t i = 0; i < mk->nfiles; i++) {
		pf[i].path = mk->files[i].fspath;
		pf[i].length = mk->files[i].length;
	}
	r = ph_hash_files(pf, mk->nfiles, piece_len, mk->pieces,
	    progress ? mk_progress : NULL, &shown, &bad, &err);
	free(pf);
	if (progress && shown.shown >= 0)
		fputc('\n', stderr);
	if (r < 0)
		return mk_fail(mk, mk->files[bad].fspath, "%s", err.msg);
	mk->npieces = (size_t)np;
	return 0;
}

/* info: files | length, name, piece length, pieces; nothing else. */
static void
mk_put_info(struct mk *mk, struct be_buf *b)
{
	be_put_dict(b);
	if (mk->is_dir) {
		be_put_cstr(b, "files");
		be_put_list(b);
		for (size_t i = 0; i < mk->nfiles; i++) {
			char *s = mk->files[i].rel, *slash;

			be_put_dict(b);
			be_put_cstr(b, "length");
			be_put_int(b, (int64_t)mk->files[i].length);
			be_put_cstr(b, "path");
			be_put_list(b);
			while ((slash = strchr(s, '/')) != NULL) {
				be_put_str(b, s, (size_t)(slash - s));
				s = slash + 1;
			}
			be_put_cstr(b, s);
			be_put_end(b);
			be_put_end(b);
		}
		be_put_end(b);
	} else {
		be_put_cstr(b, "length");
		be_put_int(b, (int64_t)mk->total);
	}
	be_put_cstr(b, "name");
	be_put_cstr(b, mk->name);
	be_put_cstr(b, "piece length");
	be_put_int(b, (int64_t)1 << mk->pow2);
	be_put_cstr(b, "pieces");
	be_put_str(b, mk->pieces, mk->npieces * SHA1_LEN);
	be_put_end(b);
}

static void
mk_encode(struct mk *mk, struct be_buf *b)
{
	be_put_dict(b);
	be_put_cstr(b, "announce");
	be_put_cstr(b, mk->announce);
	/* BEP 12, outside info: the info hash does not depend on it. */
	if (mk->ntiers > 0) {
		be_put_cstr(b, "announce-list");
		be_put_list(b);
		for (size_t i = 0; i < mk->ntiers; i++) {
			be_put_list(b);
			for (size_t j = 0; j < mk->tiers[i].nurls; j++)
				be_put_cstr(b, mk->tiers[i].urls[j]);
			be_put_end(b);
		}
		be_put_end(b);
	}
	if (mk->comment != NULL) {
		be_put_cstr(b, "comment");
		be_put_cstr(b, mk->comment);
	}
	be_put_cstr(b, "created by");
	be_put_cstr(b, MK_CREATED_BY);
	be_put_cstr(b, "creation date");
	be_put_int(b, (int64_t)time(NULL));
	be_put_cstr(b, "info");
	mk_put_info(mk, b);
	be_put_end(b);
}

static int
mk_write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Write to a temporary file beside the target, then rename it over the
 * target, so a reader never sees half a torrent and a failure leaves
 * nothing behind.  Signals that would kill us are held meanwhile.
 */
static int
mk_write(struct mk *mk, const uint8_t *p, size_t n)
{
	char *tmp = xmalloc(strlen(mk->out) + 8);
	sigset_t block, old;
	mode_t mask;
	int fd, r = 0;

	sprintf(tmp, "%s.XXXXXX", mk->out);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	mask = umask(0);
	umask(mask);
	if ((fd = mkstemp(tmp)) < 0) {
		r = mk_fail(mk, mk->out, "%s", strerror(errno));
	} else {
		if ((r = mk_write_all(fd, p, n)) == 0 &&
		    fchmod(fd, 0666 & ~mask) < 0)
			r = -errno;
		if (r == 0 && fsync(fd) < 0)
			r = -errno;
		if (close(fd) < 0 && r == 0)
			r = -errno;
		if (r == 0 && rename(tmp, mk->out) < 0)
			r = -errno;
		if (r < 0) {
			unlink(tmp);
			mk_fail(mk, mk->out, "%s", strerror(-r));
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(tmp);
	return r < 0 ? -1 : 0;
}

/* Encode, check the result parses as a torrent, write it. */
static int
mk_output(struct mk *mk)
{
	struct be_buf b = BE_BUF_INIT;
	struct btf_metainfo mi;
	struct bt_err err = BT_ERR_INIT;
	int r;

	mk_encode(mk, &b);
	if (btf_parse(b.p, b.len, &mi, &err) < 0) {
		r = mk_fail(mk, mk->input, "made an invalid torrent: %s",
		    err.msg);
	} else {
		btf_release(&mi);
		r = mk_write(mk, b.p, b.len);
	}
	be_buf_release(&b);
	return r;
}

/*
 * The torrent's name is the input's last path component; "." and the like
 * are resolved first.  The default output is "<input>.torrent".
 */
static int
mk_names(struct mk *mk)
{
	size_t len = strlen(mk->input);
	char *in = xstrdup(mk->input), *base, *real = NULL;

	while (len > 1 && in[len - 1] == '/')
		in[--len] = '\0';
	base = strrchr(in, '/') != NULL ? strrchr(in, '/') + 1 : in;
	if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
	    *base == '\0') {
		if ((real = realpath(in, NULL)) == NULL) {
			free(in);
			return mk_fail(mk, mk->input, "%s", strerror(errno));
		}
		free(in);
		in = real;
		base = strrchr(in, '/') + 1;
	}
	mk->name = xstrdup(base);
	mk->out = mk->target != NULL ? xstrdup(mk->target) :
	    xmalloc(strlen(in) + sizeof(".torrent"));
	if (mk->target == NULL)
		sprintf(mk->out, "%s.torrent", in);
	free(in);
	if (btf_check_component((const uint8_t *)mk->name,
	    strlen(mk->name)) != NULL)
		return mk_fail(mk, mk->input, "name \"%s\" %s, which a "
		    "torrent cannot hold", mk->name, btf_check_component(
		    (const uint8_t *)mk->name, strlen(mk->name)));
	return 0;
}

static void
mk_free(struct mk *mk)
{
	for (size_t i = 0; i < mk->nfiles; i++) {
		free(mk->files[i].fspath);
		free(mk->files[i].rel);
	}
	free(mk->files);
	free(mk->pieces);
	free(mk->name);
	free(mk->out);
	free(mk->announce);
	for (size_t i = 0; i < mk->ntiers; i++) {
		for (size_t j = 0; j < mk->tiers[i].nurls; j++)
			free(mk->tiers[i].urls[j]);
		free(mk->tiers[i].urls);
	}
	free(mk->tiers);
	free(mk->errpath);
}

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: btmakemetafile FILE_OR_DIR ANNOUNCE_URL [options]\n"
	    "\n"
	    "  --piece_size_pow2 N, -l N  pieces of 2^N bytes (%d..%d);\n"
	    "                             default: automatic, 2^%d..2^%d\n"
	    "                             for at most %d pieces\n"
	    "  --announce_list TIERS      BEP 12 tracker tiers: tiers split\n"
	    "                             by '|', URLs in a tier by ','\n"
	    "                             (repeatable; appends tiers)\n"
	    "  --comment TEXT, -c TEXT    a human-readable comment\n"
	    "  --target PATH, -o PATH     where to write the torrent\n"
	    "                             (default: FILE_OR_DIR.torrent)\n"
	    "  --help, -h                 this text\n",
	    MK_POW2_MIN, MK_POW2_MAX, MK_AUTO_MIN, MK_AUTO_MAX,
	    MK_AUTO_PIECES);
}

/* Whitespace around the URL is dropped, as mainline does. */
static char *
strip(const char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	return xmemdup(s, n);
}

/*
 * Split s[0..n) at each sep into fields (n + 1 of them for n seps).
 * Free each field and the array.
 */
static char **
split(const char *s, size_t n, char sep, size_t *out_n)
{
	char **v = NULL;
	const char *end = s + n, *at;
	size_t k = 0;

	for (;;) {
		at = memchr(s, sep, (size_t)(end - s));
		v = xreallocarray(v, k + 1, sizeof(*v));
		v[k++] = xmemdup(s, (size_t)((at != NULL ? at : end) - s));
		if (at == NULL)
			break;
		s = at + 1;
	}
	*out_n = k;
	return v;
}

/* One tier, "url,url": every URL stripped, none empty; -1 if one is. */
static int
parse_tier(struct btf_tier *t, const char *s, size_t tier)
{
	t->urls = split(s, strlen(s), ',', &t->nurls);
	for (size_t j = 0; j < t->nurls; j++) {
		char *u = strip(t->urls[j]);

		free(t->urls[j]);
		t->urls[j] = u;
		if (*u == '\0') {
			fprintf(stderr, "btmakemetafile: --announce_list: "
			    "tier %zu: URL %zu is empty\n", tier, j + 1);
			return -1;
		}
	}
	return 0;
}

/*
 * --announce_list "a,b|c" (BitTornado's syntax): tiers are separated by
 * '|', the URLs of a tier by ','.  Each use appends its tiers.  Returns 0
 * or -1 after saying why: an empty tier or URL is refused, since a client
 * could only skip it.
 */
static int
parse_tiers(struct mk *mk, const char *arg)
{
	size_t n, base = mk->ntiers;
	char **v = split(arg, strlen(arg), '|', &n);
	int r = 0;

	mk->tiers = xreallocarray(mk->tiers, base + n, sizeof(*mk->tiers));
	memset(mk->tiers + base, 0, n * sizeof(*mk->tiers));
	mk->ntiers = base + n;
	for (size_t i = 0; i < n && r == 0; i++) {
		char *t = strip(v[i]);

		if (*t == '\0') {
			fprintf(stderr, "btmakemetafile: --announce_list: "
			    "tier %zu is empty\n", base + i + 1);
			r = -1;
		} else {
			r = parse_tier(&mk->tiers[base + i], t, base + i + 1);
		}
		free(t);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return r;
}

/* The --piece_size_pow2 value, or -1 (after saying why). */
static int
parse_pow2(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < MK_POW2_MIN ||
	    v > MK_POW2_MAX) {
		fprintf(stderr, "btmakemetafile: piece size power \"%s\" is "
		    "not in %d..%d\n", s, MK_POW2_MIN, MK_POW2_MAX);
		return -1;
	}
	return (int)v;
}

/* Returns 0, or the exit status for a usage error or --help. */
static int
parse_args(struct mk *mk, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "piece_size_pow2", required_argument, NULL, 'l' },
		{ "piece-size-pow2", required_argument, NULL, 'l' },
		{ "announce_list", required_argument, NULL, 'a' },
		{ "announce-list", required_argument, NULL, 'a' },
		{ "comment", required_argument, NULL, 'c' },
		{ "target", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "l:c:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if ((mk->pow2 = parse_pow2(optarg)) < 0)
				return 2;
			break;
		case 'a':
			if (parse_tiers(mk, optarg) < 0)
				return 2;
			break;
		case 'c':
			mk->comment = optarg;
			break;
		case 'o':
			mk->target = optarg;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	mk->input = argv[optind];
	mk->announce = strip(argv[optind + 1]);
	return 0;
}

/* A path on stderr, control bytes as \xNN so a name cannot drive the tty. */
static void
put_path(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
}

int
main(int argc, char **argv)
{
	struct mk mk;
	int r;

	memset(&mk, 0, sizeof(mk));
	if ((r = parse_args(&mk, argc, argv)) != 0) {
		mk_free(&mk);
		return r < 0 ? 0 : r;
	}
	if (mk.announce[0] == '\0')
		mk_fail(&mk, argv[optind + 1], "empty announce URL");
	else if (mk_names(&mk) == 0 && mk_collect(&mk) == 0) {
		if (mk.pow2 == 0)
			mk.pow2 = mk_auto_pow2(mk.total);
		if (mk_hash_all(&mk) == 0)
			mk_output(&mk);
	}
	r = mk.errpath != NULL;
	if (r) {
		fputs("btmakemetafile: ", stderr);
		put_path(mk.errpath);
		fprintf(stderr, ": %s\n", mk.why);
	}
	mk_free(&mk);
	return r;
}

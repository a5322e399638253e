/*
 * resume: see the header.  In order: encoding, the strict decoder, file
 * I/O (load, atomic save), paths and file stats, the trust plan, and the
 * lock.
 */
#include "resume.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bencode.h"
#include "bterr.h"
#include "log.h"
#include "xmalloc.h"

#define RESUME_NKEYS		6
#define RESUME_NSEC_MAX		999999999

void
resume_release(struct resume *r)
{
	if (r == NULL)
		return;
	bf_release(&r->have);
	free(r->files);
	*r = (struct resume)RESUME_INIT;
}

/*
 * "PATH: reason" with PATH escaped: it is made from the torrent's name,
 * which came from outside.
 */
static int
resume_path_err(struct bt_err *err, int code, const char *path,
    const char *why)
{
	char esc[LOG_ESC_LEN];

	return bt_err_set(err, code, "%s: %s", log_escape(esc, sizeof(esc),
	    path, strlen(path)), why);
}

/* ---- Encoding ---- */

uint8_t *
resume_encode(const struct resume *r, size_t *out_len)
{
	struct be_buf b = BE_BUF_INIT;
	const uint8_t *bits;
	size_t nbits;

	be_put_dict(&b);
	be_put_cstr(&b, "files");
	be_put_list(&b);
	for (size_t i = 0; i < r->nfiles; i++) {
		be_put_list(&b);
		be_put_int(&b, (int64_t)r->files[i].size);
		be_put_int(&b, r->files[i].mtime_sec);
		be_put_int(&b, r->files[i].mtime_nsec);
		be_put_end(&b);
	}
	be_put_end(&b);
	be_put_cstr(&b, "have");
	bits = bf_to_wire(&r->have, &nbits);
	be_put_str(&b, bits, nbits);
	be_put_cstr(&b, "info hash");
	be_put_str(&b, r->info_hash.b, SHA1_LEN);
	be_put_cstr(&b, "pieces");
	be_put_int(&b, r->have.n);
	be_put_cstr(&b, "uploaded");
	be_put_int(&b, (int64_t)r->uploaded);
	be_put_cstr(&b, "version");
	be_put_int(&b, RESUME_VERSION);
	be_put_end(&b);
	return be_buf_detach(&b, out_len);
}

/* ---- Decoding ---- */

/* The value under key, which must have type t; NULL (and err) if not. */
static const struct be_node *
resume_key(const struct be_node *root, const char *key, enum be_type t,
    struct bt_err *err)
{
	const struct be_node *v = be_dict_get(root, key);

	if (v == NULL)
		bt_err_set(err, -EILSEQ, "no \"%s\" key", key);
	else if (be_type(v) != t)
		bt_err_set(err, -EILSEQ, "\"%s\" has the wrong type", key);
	else
		return v;
	return NULL;
}

/* One "files" entry: [size, mtime seconds, mtime nanoseconds]. */
static int
resume_file_entry(const struct be_node *e, size_t i, uint64_t length,
    struct resume_stat *out, struct bt_err *err)
{
	const struct be_node *v[3];
	struct be_iter it;

	if (be_type(e) != BE_LIST || be_count(e) != 3)
		return bt_err_set(err, -EILSEQ, "files[%zu] is not a list of "
		    "three integers", i);
	be_iter_init(&it, e);
	for (int k = 0; k < 3; k++) {
		v[k] = be_iter_next(&it);
		if (be_type(v[k]) != BE_INT)
			return bt_err_set(err, -EILSEQ, "files[%zu] is not a "
			    "list of three integers", i);
	}
	if (be_int(v[0]) < 0 || (uint64_t)be_int(v[0]) != length)
		return bt_err_set(err, -EINVAL, "files[%zu] size %lld is not "
		    "the file's length in the torrent", i,
		    (long long)be_int(v[0]));
	if (be_int(v[2]) < 0 || be_int(v[2]) > RESUME_NSEC_MAX)
		return bt_err_set(err, -EILSEQ, "files[%zu] nanoseconds out "
		    "of range", i);
	out->size = length;
	out->mtime_sec = be_int(v[1]);
	out->mtime_nsec = (int32_t)be_int(v[2]);
	out->exists = true;
	return 0;
}

static int
resume_files(const struct be_node *list, const struct resume_expect *ex,
    struct resume *out, struct bt_err *err)
{
	const struct be_node *e;
	struct be_iter it;
	size_t i = 0;
	int r;

	if (be_count(list) != ex->nfiles)
		return bt_err_set(err, -EINVAL, "%zu files, the torrent has "
		    "%zu", be_count(list), ex->nfiles);
	out->files = xcalloc(ex->nfiles ? ex->nfiles : 1, sizeof(*out->files));
	out->nfiles = ex->nfiles;
	be_iter_init(&it, list);
	while ((e = be_iter_next(&it)) != NULL) {
		r = resume_file_entry(e, i, ex->lengths[i], &out->files[i],
		    err);
		if (r < 0)
			return r;
		i++;
	}
	return 0;
}

/* The scalar keys: version, info hash, pieces, uploaded. */
static int
resume_scalars(const struct be_node *root, const struct resume_expect *ex,
    struct resume *out, struct bt_err *err)
{
	const struct be_node *ver, *ih, *np, *up;
	const uint8_t *p;
	size_t n;

	if ((ver = resume_key(root, "version", BE_INT, err)) == NULL ||
	    (ih = resume_key(root, "info hash", BE_STR, err)) == NULL ||
	    (np = resume_key(root, "pieces", BE_INT, err)) == NULL ||
	    (up = resume_key(root, "uploaded", BE_INT, err)) == NULL)
		return -EILSEQ;
	if (be_int(ver) != RESUME_VERSION)
		return bt_err_set(err, -EILSEQ, "version %lld is not %d",
		    (long long)be_int(ver), RESUME_VERSION);
	p = be_str(ih, &n);
	if (n != SHA1_LEN)
		return bt_err_set(err, -EILSEQ, "info hash is %zu bytes", n);
	if (memcmp(p, ex->info_hash->b, SHA1_LEN) != 0)
		return bt_err_set(err, -EINVAL, "it is for another torrent");
	if (be_int(np) != (int64_t)ex->npieces)
		return bt_err_set(err, -EINVAL, "%lld pieces, the torrent has "
		    "%u", (long long)be_int(np), ex->npieces);
	if (be_int(up) < 0)
		return bt_err_set(err, -EILSEQ, "uploaded is negative");
	memcpy(out->info_hash.b, p, SHA1_LEN);
	out->uploaded = (uint64_t)be_int(up);
	return 0;
}

static int
resume_fields(const struct be_node *root, const struct resume_expect *ex,
    struct resume *out, struct bt_err *err)
{
	const struct be_node *have, *files;
	const uint8_t *p;
	size_t n;
	int r;

	if (be_type(root) != BE_DICT)
		return bt_err_set(err, -EILSEQ, "not a dictionary");
	if (be_count(root) != RESUME_NKEYS)
		return bt_err_set(err, -EILSEQ, "%zu keys, not %d",
		    be_count(root), RESUME_NKEYS);
	if ((r = resume_scalars(root, ex, out, err)) < 0)
		return r;
	if ((have = resume_key(root, "have", BE_STR, err)) == NULL ||
	    (files = resume_key(root, "files", BE_LIST, err)) == NULL)
		return -EILSEQ;
	p = be_str(have, &n);
	bf_init(&out->have, ex->npieces);
	if (bf_from_wire(&out->have, ex->npieces, p, n) < 0)
		return bt_err_set(err, -EILSEQ, "have is not a bitfield of %u "
		    "pieces", ex->npieces);
	return resume_files(files, ex, out, err);
}

int
resume_decode(const uint8_t *p, size_t n, const struct resume_expect *ex,
    struct resume *out, struct bt_err *err)
{
	struct be_doc *doc = NULL;
	struct bt_err e = BT_ERR_INIT;
	int r;

	*out = (struct resume)RESUME_INIT;
	if (n > RESUME_MAX_SIZE)
		return bt_err_set(err, -EFBIG, "larger than %u bytes",
		    RESUME_MAX_SIZE);
	r = be_decode(p, n, &doc, &e);
	if (r == 0)
		r = resume_fields(be_root(doc), ex, out, &e);
	be_doc_free(doc);
	if (r < 0) {
		resume_release(out);
		return bt_err_set(err, r, "%s", e.msg);
	}
	return 0;
}

/* ---- Files ---- */

/* Read the whole file at path, at most max bytes (-EFBIG beyond). */
static int
resume_read_file(const char *path, size_t max, uint8_t **out, size_t *out_n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat sb;
	uint8_t *buf = NULL;
	size_t got = 0;
	ssize_t k;
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	if ((uint64_t)sb.st_size > max) {
		r = -EFBIG;
		goto out;
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	while (got <= (size_t)sb.st_size) {
		k = read(fd, buf + got, (size_t)sb.st_size + 1 - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			goto out;
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	if (got > (size_t)sb.st_size)
		r = -EFBIG;	/* it grew while we read it */
out:
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	*out_n = got;
	return 0;
}

int
resume_load(const char *path, const struct resume_expect *ex,
    struct resume *out, struct bt_err *err)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	int r;

	*out = (struct resume)RESUME_INIT;
	r = resume_read_file(path, RESUME_MAX_SIZE, &buf, &n);
	if (r == -EFBIG)
		return bt_err_set(err, r, "larger than %u bytes",
		    RESUME_MAX_SIZE);
	if (r < 0)
		return bt_err_set(err, r, "%s", strerror(-r));
	r = resume_decode(buf, n, ex, out, err);
	free(buf);
	return r;
}

static int
resume_write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* The directory part of path ("." when there is none); a new string. */
static char *
resume_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xmemdup(path, (size_t)(slash - path));
}

/* fsync a directory, so that a rename in it is on disk. */
static int
resume_sync_dir(const char *path)
{
	char *dir = resume_dirname(path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	free(dir);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0 && errno != EINVAL)
		r = -errno;
	close(fd);
	return r;
}

/* Write p to a new file tmp and fsync it. */
static int
resume_write_tmp(const char *tmp, const uint8_t *p, size_t n)
{
	int fd, r;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd < 0)
		return -errno;
	r = resume_write_all(fd, p, n);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int
resume_save(const char *path, const struct resume *res, struct bt_err *err)
{
	size_t n, plen = strlen(path);
	uint8_t *p = resume_encode(res, &n);
	char *tmp = xmalloc(plen + sizeof(".tmp"));
	int r;

	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp", sizeof(".tmp"));
	r = resume_write_tmp(tmp, p, n);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	else
		r = resume_sync_dir(path);
	free(tmp);
	free(p);
	if (r < 0)
		return resume_path_err(err, r, path, strerror(-r));
	return 0;
}

/* ---- Paths and stats ---- */

/* "DIR/." + base + suffix for the save path DIR/BASE. */
static char *
resume_sibling(const char *save_path, const char *suffix)
{
	size_t len = strlen(save_path), blen, dlen;
	const char *base;
	char *out;

	while (len > 1 && save_path[len - 1] == '/')
		len--;
	base = save_path + len;
	while (base > save_path && base[-1] != '/')
		base--;
	blen = (size_t)(save_path + len - base);
	dlen = (size_t)(base - save_path);
	out = xmalloc(dlen + 1 + blen + strlen(suffix) + 1);
	memcpy(out, save_path, dlen);
	out[dlen] = '.';
	memcpy(out + dlen + 1, base, blen);
	strcpy(out + dlen + 1 + blen, suffix);
	return out;
}

void
resume_paths(const char *save_path, char **out_resume, char **out_lock)
{
	if (out_resume != NULL)
		*out_resume = resume_sibling(save_path, RESUME_SUFFIX);
	if (out_lock != NULL)
		*out_lock = resume_sibling(save_path, RESUME_LOCK_SUFFIX);
}

static void
resume_stat_one(const char *path, struct resume_stat *out)
{
	struct stat sb;

	memset(out, 0, sizeof(*out));
	if (fstatat(AT_FDCWD, path, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(sb.st_mode))
		return;
	out->size = (uint64_t)sb.st_size;
	out->mtime_sec = (int64_t)sb.st_mtim.tv_sec;
	out->mtime_nsec = (int32_t)sb.st_mtim.tv_nsec;
	out->exists = true;
}

void
resume_stat_files(const char *save_path, bool single,
    const char *const *relpaths, size_t n, struct resume_stat *out)
{
	size_t slen = strlen(save_path);

	for (size_t i = 0; i < n; i++) {
		size_t rlen;
		char *path;

		if (single) {
			resume_stat_one(save_path, &out[i]);
			continue;
		}
		rlen = strlen(relpaths[i]);
		path = xmalloc(slen + 1 + rlen + 1);
		memcpy(path, save_path, slen);
		path[slen] = '/';
		memcpy(path + slen + 1, relpaths[i], rlen + 1);
		resume_stat_one(path, &out[i]);
		free(path);
	}
}

bool
resume_stat_same(const struct resume_stat *a, const struct resume_stat *b)
{
	return a->exists && b->exists && a->size == b->size &&
	    a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec;
}

/* ---- The plan ---- */

/*
 * Whether any file overlapping [a, b) changed.  *f is the first file that
 * may overlap (files before it end at or before a); it is advanced past
 * files that end at or before a, so a walk over ascending pieces is
 * O(pieces + files).
 */
static bool
resume_touches_changed(const uint64_t *lengths, size_t nfiles,
    const bool *changed, size_t *f, uint64_t *fbegin, uint64_t a, uint64_t b)
{
	uint64_t begin;

	while (*f < nfiles && *fbegin + lengths[*f] <= a) {
		*fbegin += lengths[*f];
		(*f)++;
	}
	begin = *fbegin;
	for (size_t k = *f; k < nfiles && begin < b; k++) {
		if (lengths[k] > 0 && changed[k])
			return true;
		begin += lengths[k];
	}
	return false;
}

void
resume_plan(const struct bitfield *claimed, const uint64_t *lengths,
    size_t nfiles, const bool *changed, uint32_t piece_len,
    struct bitfield *out_trust, struct bitfield *out_check)
{
	uint64_t total = 0, fbegin = 0;
	size_t f = 0;

	for (size_t k = 0; k < nfiles; k++)
		total += lengths[k];
	for (uint32_t i = 0; i < out_trust->n; i++) {
		uint64_t a = (uint64_t)i * piece_len;
		uint64_t b = a + piece_len < total ? a + piece_len : total;

		bf_clear(out_trust, i);
		bf_clear(out_check, i);
		if (resume_touches_changed(lengths, nfiles, changed, &f,
		    &fbegin, a, b))
			bf_set(out_check, i);
		else if (claimed != NULL && bf_get(claimed, i))
			bf_set(out_trust, i);
	}
}

/* ---- The lock ---- */

static int
resume_lock_held(int fd, const char *path, long *out_holder,
    struct bt_err *err)
{
	struct flock fl;
	char why[64];

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	*out_holder = 0;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		*out_holder = (long)fl.l_pid;
	close(fd);
	if (*out_holder > 0)
		snprintf(why, sizeof(why), "locked by process %ld",
		    *out_holder);
	else
		snprintf(why, sizeof(why), "locked by another process");
	return resume_path_err(err, -EAGAIN, path, why);
}

int
resume_lock(const char *path, long *out_holder, struct bt_err *err)
{
	struct flock fl;
	char pid[32];
	bool ok;
	int fd, n;

	*out_holder = 0;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return resume_path_err(err, -errno, path, strerror(errno));
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		if (errno == EAGAIN || errno == EACCES)
			return resume_lock_held(fd, path, out_holder, err);
		n = errno;
		close(fd);
		return resume_path_err(err, -n, path, strerror(n));
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	ok = ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) == n;
	(void)ok;	/* the pid is for people looking; the lock counts */
	return fd;
}

int
resume_mkdirs(const char *dir, struct bt_err *err)
{
	char *p = xstrdup(dir);
	int r = 0;

	for (char *s = p + 1; r == 0; s++) {
		bool end = *s == '\0';

		if (*s != '/' && !end)
			continue;
		*s = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST)
			r = resume_path_err(err, -errno, p, strerror(errno));
		if (end)
			break;
		*s = '/';
	}
	free(p);
	return r;
}

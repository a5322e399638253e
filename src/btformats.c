#include "btformats.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bencode.h"
#include "bterr.h"
#include "xmalloc.h"

/*
 * Typed dict lookups.  `what` is the full dotted name used in messages
 * ("info.piece length").  A key that is present with the wrong type is an
 * error; an absent one leaves *out NULL and is an error only for btf_req.
 */
static const char *
type_name(enum be_type t)
{
	switch (t) {
	case BE_INT:
		return "an integer";
	case BE_STR:
		return "a string";
	case BE_LIST:
		return "a list";
	case BE_DICT:
		return "a dict";
	}
	return "a value";
}

static int
btf_opt(const struct be_node *dict, const char *key, enum be_type t,
    const char *what, const struct be_node **out, struct bt_err *err)
{
	*out = be_dict_get(dict, key);
	if (*out != NULL && be_type(*out) != t) {
		*out = NULL;
		return bt_err_set(err, -EINVAL, "%s is not %s", what,
		    type_name(t));
	}
	return 0;
}

static int
btf_req(const struct be_node *dict, const char *key, enum be_type t,
    const char *what, const struct be_node **out, struct bt_err *err)
{
	int r;

	if ((r = btf_opt(dict, key, t, what, out, err)) < 0)
		return r;
	if (*out == NULL)
		return bt_err_set(err, -EINVAL, "%s is missing", what);
	return 0;
}

/* A NUL-terminated copy of a string node. */
static char *
str_dup(const struct be_node *s)
{
	size_t len;
	const uint8_t *p = be_str(s, &len);

	return xmemdup(p, len);
}

/* Copy an optional string that must not contain NUL (URLs). */
static int
btf_url(const struct be_node *s, const char *what, char **out,
    struct bt_err *err)
{
	size_t len;
	const uint8_t *p = be_str(s, &len);

	if (memchr(p, 0, len) != NULL)
		return bt_err_set(err, -EINVAL, "%s contains a NUL byte", what);
	*out = xmemdup(p, len);
	return 0;
}

/* UTF-8 for U+0080-009F (C1 controls) and the bidi overrides. */
static bool
is_bad_utf8(const uint8_t *p, size_t left)
{
	if (p[0] == 0xc2 && left >= 2)
		return p[1] >= 0x80 && p[1] <= 0x9f;
	if (p[0] != 0xe2 || left < 3)
		return false;
	if (p[1] == 0x80)
		return p[2] >= 0xaa && p[2] <= 0xae;	/* U+202A-202E */
	if (p[1] == 0x81)
		return p[2] >= 0xa6 && p[2] <= 0xa9;	/* U+2066-2069 */
	return false;
}

const char *
btf_check_component(const uint8_t *p, size_t n)
{
	if (n == 0)
		return "is empty";
	if (n > BTF_MAX_COMPONENT)
		return "is longer than 255 bytes";
	if (n == 1 && p[0] == '.')
		return "is \".\"";
	if (n == 2 && p[0] == '.' && p[1] == '.')
		return "is \"..\"";
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '/')
			return "contains '/'";
		if (p[i] == '\\')
			return "contains '\\'";
		if (p[i] == 0)
			return "contains a NUL byte";
		if (p[i] < 0x20 || p[i] == 0x7f)
			return "contains a control character";
		if (is_bad_utf8(p + i, n - i)) {
			if (p[i] == 0xc2)
				return "contains a control character";
			return "contains a bidi control character";
		}
	}
	return NULL;
}

static int
btf_piece_length(const struct be_node *info, struct btf_metainfo *mi,
    struct bt_err *err)
{
	const struct be_node *pl;
	int64_t v;
	int r;

	if ((r = btf_req(info, "piece length", BE_INT, "info.piece length",
	    &pl, err)) < 0)
		return r;
	v = be_int(pl);
	if (v <= 0)
		return bt_err_set(err, -EINVAL,
		    "info.piece length %" PRId64 " is not positive", v);
	if (v > BTF_MAX_PIECE_LENGTH)
		return bt_err_set(err, -EFBIG, "info.piece length %" PRId64
		    " exceeds the %u MiB cap", v, BTF_MAX_PIECE_LENGTH >> 20);
	mi->piece_length = (uint32_t)v;
	return 0;
}

static int
btf_name(const struct be_node *info, struct btf_metainfo *mi,
    struct bt_err *err)
{
	const struct be_node *name;
	const uint8_t *p;
	const char *why;
	size_t len;
	int r;

	if ((r = btf_req(info, "name", BE_STR, "info.name", &name, err)) < 0)
		return r;
	p = be_str(name, &len);
	if ((why = btf_check_component(p, len)) != NULL)
		return bt_err_set(err, -EINVAL, "info.name %s", why);
	mi->name = str_dup(name);
	return 0;
}

/* A file length: a non-negative integer that keeps the total in 63 bits. */
static int
btf_add_length(const struct be_node *len, const char *what,
    struct btf_metainfo *mi, struct btf_file *f, struct bt_err *err)
{
	int64_t v = be_int(len);

	if (v < 0)
		return bt_err_set(err, -EINVAL, "%s %" PRId64 " is negative",
		    what, v);
	if ((uint64_t)v > (uint64_t)INT64_MAX - mi->total_length)
		return bt_err_set(err, -EFBIG,
		    "%s makes the total length overflow", what);
	f->offset = mi->total_length;
	f->length = (uint64_t)v;
	mi->total_length += (uint64_t)v;
	return 0;
}

/*
 * BEP 47 attributes: a symlink ('l') is refused, never created, since its
 * target could point anywhere; the other flags are ignored.
 */
static int
btf_attr(const struct be_node *d, const char *what, struct bt_err *err)
{
	const struct be_node *attr;
	const uint8_t *p;
	size_t len;
	int r;

	if ((r = btf_opt(d, "attr", BE_STR, what, &attr, err)) < 0 ||
	    attr == NULL)
		return r;
	p = be_str(attr, &len);
	if (memchr(p, 'l', len) != NULL)
		return bt_err_set(err, -EINVAL,
		    "%s: symlinks are not supported", what);
	return 0;
}

static int
btf_single(const struct be_node *length, struct btf_metainfo *mi,
    struct bt_err *err)
{
	struct btf_file *f;

	mi->files = xcalloc(1, sizeof(*mi->files));
	mi->nfiles = 1;
	f = &mi->files[0];
	f->path = xcalloc(1, sizeof(*f->path));
	f->path[0] = xstrdup(mi->name);
	f->npath = 1;
	f->relpath = xstrdup(mi->name);
	return btf_add_length(length, "info.length", mi, f, err);
}

/* Join the components of f into f->relpath. */
static void
btf_join(struct btf_file *f)
{
	size_t len = 0, off = 0;

	for (size_t i = 0; i < f->npath; i++)
		len += strlen(f->path[i]) + 1;
	f->relpath = xmalloc(len);
	for (size_t i = 0; i < f->npath; i++) {
		size_t cl = strlen(f->path[i]);

		memcpy(f->relpath + off, f->path[i], cl);
		off += cl;
		f->relpath[off++] = i + 1 < f->npath ? '/' : '\0';
	}
}

static int
btf_file_path(const struct be_node *path, size_t fi, struct btf_file *f,
    struct bt_err *err)
{
	struct be_iter it;
	const struct be_node *c;
	const uint8_t *p;
	const char *why;
	size_t len;

	if (be_count(path) == 0)
		return bt_err_set(err, -EINVAL, "info.files[%zu].path is empty",
		    fi);
	f->path = xcalloc(be_count(path), sizeof(*f->path));
	be_iter_init(&it, path);
	while ((c = be_iter_next(&it)) != NULL) {
		if (be_type(c) != BE_STR)
			return bt_err_set(err, -EINVAL,
			    "info.files[%zu].path[%zu] is not a string", fi,
			    f->npath);
		p = be_str(c, &len);
		if ((why = btf_check_component(p, len)) != NULL)
			return bt_err_set(err, -EINVAL,
			    "info.files[%zu].path[%zu] %s", fi, f->npath, why);
		f->path[f->npath++] = str_dup(c);
	}
	btf_join(f);
	if (strlen(f->relpath) > BTF_MAX_PATH)
		return bt_err_set(err, -EINVAL,
		    "info.files[%zu].path is longer than %d bytes", fi,
		    BTF_MAX_PATH);
	return 0;
}

static int
btf_file(const struct be_node *d, size_t fi, struct btf_metainfo *mi,
    struct bt_err *err)
{
	const struct be_node *len, *path;
	char what[64];
	int r;

	if (be_type(d) != BE_DICT)
		return bt_err_set(err, -EINVAL, "info.files[%zu] is not a dict",
		    fi);
	snprintf(what, sizeof(what), "info.files[%zu].length", fi);
	if ((r = btf_req(d, "length", BE_INT, what, &len, err)) < 0)
		return r;
	if ((r = btf_add_length(len, what, mi, &mi->files[fi], err)) < 0)
		return r;
	snprintf(what, sizeof(what), "info.files[%zu].path", fi);
	if ((r = btf_req(d, "path", BE_LIST, what, &path, err)) < 0)
		return r;
	if ((r = btf_file_path(path, fi, &mi->files[fi], err)) < 0)
		return r;
	snprintf(what, sizeof(what), "info.files[%zu].attr", fi);
	return btf_attr(d, what, err);
}

/* Order paths component by component, so "a" sorts right before "a/...". */
static int
btf_path_cmp(const void *a, const void *b)
{
	const struct btf_file *x = *(const struct btf_file *const *)a;
	const struct btf_file *y = *(const struct btf_file *const *)b;
	size_t n = x->npath < y->npath ? x->npath : y->npath;
	int c;

	for (size_t i = 0; i < n; i++) {
		if ((c = strcmp(x->path[i], y->path[i])) != 0)
			return c;
	}
	return x->npath < y->npath ? -1 : x->npath > y->npath;
}

/*
 * Two files may not share a path, and no file may sit below another file
 * ("a" and "a/b").  After sorting by components, a path's successor starts
 * with it whenever any path does, so neighbours suffice.
 */
static int
btf_check_clashes(struct btf_metainfo *mi, struct bt_err *err)
{
	struct btf_file **v = xcalloc(mi->nfiles, sizeof(*v));
	int r = 0;

	for (size_t i = 0; i < mi->nfiles; i++)
		v[i] = &mi->files[i];
	qsort(v, mi->nfiles, sizeof(*v), btf_path_cmp);
	for (size_t i = 1; i < mi->nfiles && r == 0; i++) {
		const struct btf_file *a = v[i - 1], *b = v[i];
		size_t ai = (size_t)(a - mi->files);
		size_t bi = (size_t)(b - mi->files);
		size_t k = 0;

		while (k < a->npath && strcmp(a->path[k], b->path[k]) == 0)
			k++;
		if (k < a->npath)
			continue;
		if (a->npath == b->npath)
			r = bt_err_set(err, -EINVAL, "info.files[%zu] has the "
			    "same path as info.files[%zu]", ai > bi ? ai : bi,
			    ai > bi ? bi : ai);
		else
			r = bt_err_set(err, -EINVAL, "info.files[%zu] is "
			    "inside info.files[%zu], which is a file", bi, ai);
	}
	free(v);
	return r;
}

static int
btf_multi(const struct be_node *files, struct btf_metainfo *mi,
    struct bt_err *err)
{
	struct be_iter it;
	const struct be_node *d;
	size_t n = be_count(files);
	int r;

	if (n == 0)
		return bt_err_set(err, -EINVAL, "info.files is empty");
	if (n > BTF_MAX_FILES)
		return bt_err_set(err, -EFBIG, "info.files has %zu entries, "
		    "more than %d", n, BTF_MAX_FILES);
	mi->multi_file = true;
	mi->files = xcalloc(n, sizeof(*mi->files));
	mi->nfiles = n;
	be_iter_init(&it, files);
	for (size_t i = 0; (d = be_iter_next(&it)) != NULL; i++) {
		if ((r = btf_file(d, i, mi, err)) < 0)
			return r;
	}
	return btf_check_clashes(mi, err);
}

static int
btf_layout(const struct be_node *info, struct btf_metainfo *mi,
    struct bt_err *err)
{
	const struct be_node *length, *files;
	int r;

	if ((r = btf_opt(info, "length", BE_INT, "info.length", &length,
	    err)) < 0)
		return r;
	if ((r = btf_opt(info, "files", BE_LIST, "info.files", &files,
	    err)) < 0)
		return r;
	if (length != NULL && files != NULL)
		return bt_err_set(err, -EINVAL,
		    "info has both length and files");
	if (length == NULL && files == NULL)
		return bt_err_set(err, -EINVAL,
		    "info has neither length nor files");
	if (length != NULL && (r = btf_attr(info, "info.attr", err)) < 0)
		return r;
	r = length != NULL ? btf_single(length, mi, err) :
	    btf_multi(files, mi, err);
	if (r == 0 && mi->total_length == 0)
		return bt_err_set(err, -EINVAL,
		    "total length is 0: nothing to share");
	return r;
}

static int
btf_pieces(const struct be_node *info, struct btf_metainfo *mi,
    struct bt_err *err)
{
	const struct be_node *pieces;
	const uint8_t *p;
	uint64_t want;
	size_t len;
	int r;

	if ((r = btf_req(info, "pieces", BE_STR, "info.pieces", &pieces,
	    err)) < 0)
		return r;
	p = be_str(pieces, &len);
	if (len % SHA1_LEN != 0)
		return bt_err_set(err, -EINVAL,
		    "info.pieces length %zu is not a multiple of 20", len);
	want = mi->total_length / mi->piece_length +
	    (mi->total_length % mi->piece_length != 0);
	if (want != len / SHA1_LEN)
		return bt_err_set(err, -EINVAL, "info.pieces holds %zu hashes, "
		    "expected %" PRIu64 " for %" PRIu64 " bytes in pieces of %"
		    PRIu32, len / SHA1_LEN, want, mi->total_length,
		    mi->piece_length);
	mi->npieces = len / SHA1_LEN;
	mi->pieces = xcalloc(mi->npieces, sizeof(*mi->pieces));
	memcpy(mi->pieces, p, len);
	return 0;
}

static int
btf_info(const struct be_node *root, struct btf_metainfo *mi,
    struct bt_err *err)
{
	const struct be_node *info, *priv;
	const uint8_t *raw;
	size_t rawlen;
	int r;

	if ((r = btf_req(root, "info", BE_DICT, "info", &info, err)) < 0)
		return r;
	raw = be_raw(info, &rawlen);
	sha1(raw, rawlen, &mi->info_hash);
	if ((r = btf_piece_length(info, mi, err)) < 0 ||
	    (r = btf_name(info, mi, err)) < 0 ||
	    (r = btf_layout(info, mi, err)) < 0 ||
	    (r = btf_pieces(info, mi, err)) < 0)
		return r;
	if ((r = btf_opt(info, "private", BE_INT, "info.private", &priv,
	    err)) < 0)
		return r;
	mi->private = priv != NULL && be_int(priv) == 1;
	return 0;
}

/* BEP 12: announce-list is a list of tiers, each a list of URL strings. */
static int
btf_tiers(const struct be_node *list, struct btf_metainfo *mi,
    struct bt_err *err)
{
	struct be_iter it, jt;
	const struct be_node *tier, *url;
	char what[64];
	int r;

	mi->tiers = xcalloc(be_count(list), sizeof(*mi->tiers));
	be_iter_init(&it, list);
	for (size_t i = 0; (tier = be_iter_next(&it)) != NULL; i++) {
		struct btf_tier *t = &mi->tiers[mi->ntiers++];

		if (be_type(tier) != BE_LIST)
			return bt_err_set(err, -EINVAL,
			    "announce-list[%zu] is not a list", i);
		t->urls = xcalloc(be_count(tier), sizeof(*t->urls));
		be_iter_init(&jt, tier);
		while ((url = be_iter_next(&jt)) != NULL) {
			snprintf(what, sizeof(what), "announce-list[%zu][%zu]",
			    i, t->nurls);
			if (be_type(url) != BE_STR)
				return bt_err_set(err, -EINVAL,
				    "%s is not a string", what);
			r = btf_url(url, what, &t->urls[t->nurls], err);
			if (r < 0)
				return r;
			t->nurls++;
		}
	}
	return 0;
}

/* The keys outside info: all optional, typed when present. */
static int
btf_outer(const struct be_node *root, struct btf_metainfo *mi,
    struct bt_err *err)
{
	const struct be_node *ann, *list, *comment, *by, *date;
	int r;

	if ((r = btf_opt(root, "announce", BE_STR, "announce", &ann,
	    err)) < 0 ||
	    (r = btf_opt(root, "announce-list", BE_LIST, "announce-list",
	    &list, err)) < 0 ||
	    (r = btf_opt(root, "comment", BE_STR, "comment", &comment,
	    err)) < 0 ||
	    (r = btf_opt(root, "created by", BE_STR, "created by", &by,
	    err)) < 0 ||
	    (r = btf_opt(root, "creation date", BE_INT, "creation date", &date,
	    err)) < 0)
		return r;
	if (ann != NULL && (r = btf_url(ann, "announce", &mi->announce,
	    err)) < 0)
		return r;
	if (list != NULL && (r = btf_tiers(list, mi, err)) < 0)
		return r;
	mi->comment = comment != NULL ? str_dup(comment) : NULL;
	mi->created_by = by != NULL ? str_dup(by) : NULL;
	mi->has_creation_date = date != NULL;
	mi->creation_date = date != NULL ? be_int(date) : 0;
	return 0;
}

/* Parse bytes (which mi takes ownership of) into mi. */
static int
btf_parse_owned(uint8_t *bytes, size_t n, struct btf_metainfo *mi,
    struct bt_err *err)
{
	struct be_doc *doc;
	const struct be_node *root;
	int r;

	memset(mi, 0, sizeof(*mi));
	mi->bytes_ = bytes;
	if ((r = be_decode(bytes, n, &doc, err)) < 0)
		goto fail;
	mi->doc = doc;
	root = be_root(doc);
	if (be_type(root) != BE_DICT) {
		r = bt_err_set(err, -EINVAL, "metainfo is not a dict");
		goto fail;
	}
	if ((r = btf_info(root, mi, err)) < 0 ||
	    (r = btf_outer(root, mi, err)) < 0)
		goto fail;
	return 0;
fail:
	btf_release(mi);
	return r;
}

int
btf_parse(const uint8_t *p, size_t n, struct btf_metainfo *out,
    struct bt_err *err)
{
	uint8_t *copy = xmalloc(n);

	if (n > 0)
		memcpy(copy, p, n);
	return btf_parse_owned(copy, n, out, err);
}

/* Read all of fd (a regular file) into *out, refusing more than the cap. */
static int
btf_read_all(int fd, uint8_t **out, size_t *out_len, struct bt_err *err)
{
	size_t cap = 64 * 1024, len = 0;
	uint8_t *buf = xmalloc(cap);
	ssize_t got;

	for (;;) {
		if (len == cap) {
			if (cap > BTF_MAX_FILE_SIZE) {
				free(buf);
				return bt_err_set(err, -EFBIG, "file is larger "
				    "than %u MiB", BTF_MAX_FILE_SIZE >> 20);
			}
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		got = read(fd, buf + len, cap - len);
		if (got == 0)
			break;
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;

			free(buf);
			return bt_err_set(err, -e, "%s", strerror(e));
		}
		len += (size_t)got;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

int
btf_load_file(const char *path, struct btf_metainfo *out,
    struct bt_err *err)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd, r, e;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		return bt_err_set(err, -e, "%s", strerror(e));
	}
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		return bt_err_set(err, -e, "%s", strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		close(fd);
		return bt_err_set(err, -e, S_ISDIR(st.st_mode) ?
		    "is a directory" : "not a regular file");
	}
	if (st.st_size > (off_t)BTF_MAX_FILE_SIZE) {
		close(fd);
		return bt_err_set(err, -EFBIG, "file is larger than %u MiB",
		    BTF_MAX_FILE_SIZE >> 20);
	}
	r = btf_read_all(fd, &buf, &len, err);
	close(fd);
	if (r < 0)
		return r;
	return btf_parse_owned(buf, len, out, err);
}

static void
btf_free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
btf_release(struct btf_metainfo *mi)
{
	if (mi == NULL)
		return;
	for (size_t i = 0; i < mi->nfiles; i++) {
		btf_free_strv(mi->files[i].path, mi->files[i].npath);
		free(mi->files[i].relpath);
	}
	free(mi->files);
	for (size_t i = 0; i < mi->ntiers; i++)
		btf_free_strv(mi->tiers[i].urls, mi->tiers[i].nurls);
	free(mi->tiers);
	free(mi->name);
	free(mi->pieces);
	free(mi->announce);
	free(mi->comment);
	free(mi->created_by);
	be_doc_free(mi->doc);
	free(mi->bytes_);
	memset(mi, 0, sizeof(*mi));
}

const struct be_node *
btf_root(const struct btf_metainfo *mi)
{
	return be_root(mi->doc);
}

/*
 * Tracker replies (BEP 3, BEP 7, BEP 23).  A tracker is a stranger: every
 * count is capped before allocating, and bad values are refused, never
 * trusted.
 */

/* A non-negative count; -1 when absent. */
static int
btf_count(const struct be_node *root, const char *key, int64_t *out,
    struct bt_err *err)
{
	const struct be_node *v;
	int r;

	*out = -1;
	if ((r = btf_opt(root, key, BE_INT, key, &v, err)) < 0 || v == NULL)
		return r;
	if (be_int(v) < 0)
		return bt_err_set(err, -EINVAL, "%s %" PRId64 " is negative",
		    key, be_int(v));
	*out = be_int(v);
	return 0;
}

/*
 * A non-negative interval, clamped to BTF_MAX_INTERVAL; -1 when absent.
 * Some trackers send 0: it is kept as 0 and the rerequester raises it to
 * its floor (RR_MIN_INTERVAL_S), so the reply's peers are not dropped
 * over it.  A negative interval is bad data.
 */
static int
btf_interval(const struct be_node *root, const char *key, int64_t *out,
    struct bt_err *err)
{
	int r = btf_count(root, key, out, err);

	if (r == 0 && *out > BTF_MAX_INTERVAL)
		*out = BTF_MAX_INTERVAL;
	return r;
}

/* Room for one more peer?  If not, count it as skipped. */
static struct btf_peer *
btf_next_peer(struct btf_announce *ann)
{
	struct btf_peer *pe;

	if (ann->npeers == BTF_MAX_PEERS) {
		ann->nskipped++;
		return NULL;
	}
	pe = &ann->peers[ann->npeers++];
	memset(pe, 0, sizeof(*pe));
	return pe;
}

static void
btf_peer4(struct btf_peer *pe, const uint8_t *ip, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&pe->addr;

	sin->sin_family = AF_INET;
	memcpy(&sin->sin_addr, ip, 4);
	sin->sin_port = htons(port);
	pe->addrlen = sizeof(*sin);
}

static void
btf_peer6(struct btf_peer *pe, const uint8_t *ip, uint16_t port)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&pe->addr;

	sin6->sin6_family = AF_INET6;
	memcpy(&sin6->sin6_addr, ip, 16);
	sin6->sin6_port = htons(port);
	pe->addrlen = sizeof(*sin6);
}

/* Compact peers: stride 6 (IPv4) or 18 (IPv6), address then port. */
static void
btf_compact(const struct be_node *s, size_t stride, struct btf_announce *ann)
{
	size_t len;
	const uint8_t *p = be_str(s, &len);
	struct btf_peer *pe;

	for (size_t off = 0; off + stride <= len; off += stride) {
		const uint8_t *e = p + off;
		uint16_t port = (uint16_t)(e[stride - 2] << 8 | e[stride - 1]);

		if (port == 0) {
			ann->nskipped++;
			continue;
		}
		if ((pe = btf_next_peer(ann)) == NULL)
			continue;
		if (stride == 6)
			btf_peer4(pe, e, port);
		else
			btf_peer6(pe, e, port);
	}
}

/* A numeric address into pe; false for a hostname or junk. */
static bool
btf_numeric_ip(const struct be_node *ip, uint16_t port, struct btf_peer *pe)
{
	char buf[INET6_ADDRSTRLEN];
	uint8_t a[16];
	size_t len;
	const uint8_t *p = be_str(ip, &len);

	if (len >= sizeof(buf) || memchr(p, 0, len) != NULL)
		return false;
	memcpy(buf, p, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, a) == 1)
		btf_peer4(pe, a, port);
	else if (inet_pton(AF_INET6, buf, a) == 1)
		btf_peer6(pe, a, port);
	else
		return false;
	return true;
}

/* One {ip, port, peer id?} dict: malformed is an error, a hostname not. */
static int
btf_dict_peer(const struct be_node *d, size_t i, struct btf_announce *ann,
    struct bt_err *err)
{
	const struct be_node *ip, *port, *id;
	struct btf_peer tmp, *pe;
	const uint8_t *idp;
	char what[64];
	size_t idlen = 0;
	int r;

	if (be_type(d) != BE_DICT)
		return bt_err_set(err, -EINVAL, "peers[%zu] is not a dict", i);
	snprintf(what, sizeof(what), "peers[%zu].ip", i);
	if ((r = btf_req(d, "ip", BE_STR, what, &ip, err)) < 0)
		return r;
	snprintf(what, sizeof(what), "peers[%zu].port", i);
	if ((r = btf_req(d, "port", BE_INT, what, &port, err)) < 0)
		return r;
	if (be_int(port) < 1 || be_int(port) > 65535)
		return bt_err_set(err, -EINVAL, "%s %" PRId64
		    " is out of range", what, be_int(port));
	snprintf(what, sizeof(what), "peers[%zu].peer id", i);
	if ((r = btf_opt(d, "peer id", BE_STR, what, &id, err)) < 0)
		return r;
	idp = id != NULL ? be_str(id, &idlen) : NULL;
	if (idp != NULL && idlen != 20)
		return bt_err_set(err, -EINVAL, "%s is %zu bytes, not 20",
		    what, idlen);
	memset(&tmp, 0, sizeof(tmp));
	if (!btf_numeric_ip(ip, (uint16_t)be_int(port), &tmp)) {
		ann->nskipped++;
		return 0;
	}
	if (idp != NULL) {
		memcpy(tmp.id, idp, 20);
		tmp.has_id = true;
	}
	if ((pe = btf_next_peer(ann)) != NULL)
		*pe = tmp;
	return 0;
}

static int
btf_peer_list(const struct be_node *peers, const struct be_node *peers6,
    struct btf_announce *ann, struct bt_err *err)
{
	struct be_iter it;
	const struct be_node *d;
	bool is_list = peers != NULL && be_type(peers) == BE_LIST;
	size_t len4 = 0, len6 = 0, want;
	int r;

	if (peers != NULL && !is_list)
		be_str(peers, &len4);
	if (peers6 != NULL)
		be_str(peers6, &len6);
	if (len4 % 6 != 0)
		return bt_err_set(err, -EINVAL,
		    "peers length %zu is not a multiple of 6", len4);
	if (len6 % 18 != 0)
		return bt_err_set(err, -EINVAL,
		    "peers6 length %zu is not a multiple of 18", len6);
	want = (is_list ? be_count(peers) : len4 / 6) + len6 / 18;
	ann->peers = xcalloc(want < BTF_MAX_PEERS ? want : BTF_MAX_PEERS,
	    sizeof(*ann->peers));
	if (is_list) {
		be_iter_init(&it, peers);
		for (size_t i = 0; (d = be_iter_next(&it)) != NULL; i++) {
			if ((r = btf_dict_peer(d, i, ann, err)) < 0)
				return r;
		}
	} else if (peers != NULL) {
		btf_compact(peers, 6, ann);
	}
	if (peers6 != NULL)
		btf_compact(peers6, 18, ann);
	return 0;
}

static int
btf_peers(const struct be_node *root, struct btf_announce *ann,
    struct bt_err *err)
{
	const struct be_node *peers, *peers6;
	int r;

	peers = be_dict_get(root, "peers");
	if (peers != NULL && be_type(peers) != BE_LIST &&
	    be_type(peers) != BE_STR)
		return bt_err_set(err, -EINVAL,
		    "peers is neither a list nor a string");
	if ((r = btf_opt(root, "peers6", BE_STR, "peers6", &peers6, err)) < 0)
		return r;
	if (peers == NULL && peers6 == NULL)
		return bt_err_set(err, -EINVAL, "reply has no peers");
	return btf_peer_list(peers, peers6, ann, err);
}

static int
btf_announce_fields(const struct be_node *root, struct btf_announce *ann,
    struct bt_err *err)
{
	const struct be_node *warn, *tid;
	size_t len;
	int r;

	if ((r = btf_opt(root, "warning message", BE_STR, "warning message",
	    &warn, err)) < 0 ||
	    (r = btf_opt(root, "tracker id", BE_STR, "tracker id", &tid,
	    err)) < 0 ||
	    (r = btf_interval(root, "interval", &ann->interval, err)) < 0 ||
	    (r = btf_interval(root, "min interval", &ann->min_interval,
	    err)) < 0 ||
	    (r = btf_count(root, "complete", &ann->complete, err)) < 0 ||
	    (r = btf_count(root, "incomplete", &ann->incomplete, err)) < 0)
		return r;
	if (warn != NULL)
		ann->warning_message = str_dup(warn);
	if (tid != NULL) {
		const uint8_t *p = be_str(tid, &len);

		ann->tracker_id = (uint8_t *)xmemdup(p, len);
		ann->tracker_id_len = len;
	}
	return btf_peers(root, ann, err);
}

int
btf_parse_announce(const uint8_t *p, size_t n, struct btf_announce *out,
    struct bt_err *err)
{
	struct be_doc *doc;
	const struct be_node *root, *fail;
	int r;

	memset(out, 0, sizeof(*out));
	out->interval = out->min_interval = -1;
	out->complete = out->incomplete = -1;
	if ((r = be_decode(p, n, &doc, err)) < 0)
		return r;
	root = be_root(doc);
	if (be_type(root) != BE_DICT) {
		r = bt_err_set(err, -EINVAL, "tracker reply is not a dict");
	} else if ((r = btf_opt(root, "failure reason", BE_STR,
	    "failure reason", &fail, err)) == 0) {
		/* A refusal is a valid reply; the rest is meaningless. */
		if (fail != NULL)
			out->failure_reason = str_dup(fail);
		else
			r = btf_announce_fields(root, out, err);
	}
	be_doc_free(doc);
	if (r < 0)
		btf_announce_release(out);
	return r;
}

void
btf_announce_release(struct btf_announce *ann)
{
	if (ann == NULL)
		return;
	free(ann->failure_reason);
	free(ann->warning_message);
	free(ann->tracker_id);
	free(ann->peers);
	memset(ann, 0, sizeof(*ann));
	ann->interval = ann->min_interval = -1;
	ann->complete = ann->incomplete = -1;
}

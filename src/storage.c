#define _GNU_SOURCE	/* syscall() for openat2, fallocate (Linux) */

#include "storage.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bterr.h"
#include "log.h"
#include "xmalloc.h"

#if defined(SYS_openat2) && defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define ST_HAVE_OPENAT2 1
#endif
#endif

/* Torrent offsets are 64-bit; a 32-bit off_t would silently wrap. */
_Static_assert(sizeof(off_t) >= 8, "build with a 64-bit off_t");

#define ST_WRITEBACK_BYTES (8u << 20)	/* see start_writeback */
#define ST_ALLOCATE_MIN (1u << 20)	/* see allocate_file */

struct st_ent {
	char *rel;		/* path relative to dirfd */
	uint64_t begin;		/* torrent offset of the first byte */
	uint64_t length;
	uint64_t start_size;	/* size at start-up (mainline tops) */
	uint64_t last_use;	/* LRU stamp, from storage.clock */
	int fd;			/* -1 when not in the pool */
	int slot;		/* index in storage.open when fd >= 0 */
	bool existed;		/* was there at start-up */
	bool fd_rw;		/* fd is O_RDWR */
	bool dirty;		/* written since the last st_flush */
	uint64_t unsent;	/* bytes written since writeback was started */
	bool allocated;		/* fallocate() tried in this run */
};

struct storage {
	struct st_ent *files;
	size_t nfiles;
	uint32_t *rng;		/* non-empty files, ascending begin */
	size_t nrng;
	uint64_t total;
	char *root;		/* the path given, for messages */
	bool single;
	int dirfd;		/* directory the relative paths start from */
	size_t *open;		/* files holding an fd, max_open slots */
	int nopen;
	int max_open;
	uint64_t clock;
	size_t ndirty;
	bool readonly;
	bool sequential;
	bool beneath;		/* openat2(RESOLVE_BENEATH) works here */
};

/* Last directory walked at start-up: files are usually grouped by dir. */
struct dir_cache {
	char *dir;
	int fd;
};

static void
ent_name(const struct storage *st, size_t k, char *buf, size_t len)
{
	if (st->single)
		snprintf(buf, len, "%s", st->root);
	else
		snprintf(buf, len, "%s/%s", st->root, st->files[k].rel);
}

/* "dir/a.bin: No space left on device" */
static int
ent_err(const struct storage *st, size_t k, int code, struct bt_err *err)
{
	char name[BT_ERR_MSGLEN];

	ent_name(st, k, name, sizeof(name));
	if (code == -ELOOP)
		return bt_err_set(err, code,
		    "%s: a symbolic link in the download, not followed", name);
	if (code == -EXDEV)
		return bt_err_set(err, code,
		    "%s: path leaves the download directory", name);
	return bt_err_set(err, code, "%s: %s", name, strerror(-code));
}

/* A relative path of components that are not empty, "." or "..". */
static bool
rel_path_ok(const char *rel)
{
	const char *p = rel, *slash;
	size_t n;

	if (rel == NULL || *rel == '\0' || *rel == '/')
		return false;
	for (;;) {
		slash = strchr(p, '/');
		n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (slash == NULL)
			return true;
		p = slash + 1;
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Two entries with one path would overwrite each other's bytes. */
static int
check_duplicates(const struct st_file *files, size_t n, struct bt_err *err)
{
	const char **v = xreallocarray(NULL, n, sizeof(*v));
	char esc[LOG_ESC_LEN];
	int r = 0;

	for (size_t i = 0; i < n; i++)
		v[i] = files[i].path;
	qsort(v, n, sizeof(*v), cmp_str);
	for (size_t i = 1; i < n && r == 0; i++) {
		if (strcmp(v[i - 1], v[i]) == 0) {
			log_escape(esc, sizeof(esc), v[i], strlen(v[i]));
			r = bt_err_set(err, -EINVAL, "file path \"%s\" "
			    "appears twice in the torrent", esc);
		}
	}
	free(v);
	return r;
}

static int
check_files(const char *path, const struct st_file *files, size_t nfiles,
    bool single, struct bt_err *err)
{
	char esc[LOG_ESC_LEN];
	uint64_t total = 0;

	if (path == NULL || *path == '\0')
		return bt_err_set(err, -EINVAL, "empty download path");
	if (nfiles == 0 || (single && nfiles != 1) || nfiles > UINT32_MAX)
		return bt_err_set(err, -EINVAL, "bad number of files (%zu)",
		    nfiles);
	for (size_t i = 0; i < nfiles; i++) {
		if (files[i].length > (uint64_t)INT64_MAX - total)
			return bt_err_set(err, -EFBIG,
			    "torrent is too large (over 2^63 bytes)");
		total += files[i].length;
		if (single || rel_path_ok(files[i].path))
			continue;
		if (files[i].path == NULL)
			return bt_err_set(err, -EINVAL, "missing file path");
		log_escape(esc, sizeof(esc), files[i].path,
		    strlen(files[i].path));
		return bt_err_set(err, -EINVAL,
		    "unsafe file path \"%s\" in torrent", esc);
	}
	return single ? 0 : check_duplicates(files, nfiles, err);
}

static struct storage *
st_alloc(const struct st_file *files, size_t nfiles, bool single,
    const struct st_config *cfg)
{
	struct storage *st = xcalloc(1, sizeof(*st));

	st->files = xcalloc(nfiles, sizeof(*st->files));
	st->rng = xcalloc(nfiles, sizeof(*st->rng));
	st->nfiles = nfiles;
	st->single = single;
	st->dirfd = -1;
	st->max_open = cfg != NULL && cfg->max_open_files > 0 ?
	    cfg->max_open_files : ST_DEFAULT_MAX_OPEN_FILES;
	st->open = xcalloc((size_t)st->max_open, sizeof(*st->open));
	for (size_t i = 0; i < nfiles; i++) {
		struct st_ent *f = &st->files[i];

		/* Single-file: rel is set to the basename by open_root(). */
		f->rel = single ? NULL : xstrdup(files[i].path);
		f->begin = st->total;
		f->length = files[i].length;
		f->allocated = !files[i].whole;	/* nothing to do */
		f->fd = -1;
		if (f->length > 0)
			st->rng[st->nrng++] = (uint32_t)i;
		st->total += f->length;
	}
	return st;
}

/* mkdir -p, following symlinks: the download path is the user's choice. */
static int
mkdir_p(const char *path, struct bt_err *err)
{
	char *p = xstrdup(path);
	char *s = p + 1;
	char c;
	int r = 0;

	for (;;) {
		s += strcspn(s, "/");
		c = *s;
		*s = '\0';
		if (mkdir(p, 0777) == -1 && errno != EEXIST) {
			r = bt_err_set(err, -errno, "%s: %s", p,
			    strerror(errno));
			break;
		}
		*s = c;
		if (c == '\0')
			break;
		s++;
	}
	free(p);
	return r;
}

/* Split "a/b/f" into the directory "a/b" (or "." or "/") and "f". */
static int
split_single(const char *path, char **out_dir, char **out_base,
    struct bt_err *err)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash != NULL ? slash + 1 : path;

	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return bt_err_set(err, -EISDIR, "%s: not a file name", path);
	if (slash == NULL)
		*out_dir = xstrdup(".");
	else if (slash == path)
		*out_dir = xstrdup("/");
	else
		*out_dir = xmemdup(path, (size_t)(slash - path));
	*out_base = xstrdup(base);
	return 0;
}

static int
open_root(struct storage *st, const char *path, struct bt_err *err)
{
	char *dir = NULL;
	int r;

	st->root = xstrdup(path);
	if (st->single) {
		r = split_single(path, &dir, &st->files[0].rel, err);
		if (r < 0)
			return r;
	} else {
		dir = xstrdup(path);
	}
	r = mkdir_p(dir, err);
	if (r == 0) {
		st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (st->dirfd == -1)
			r = bt_err_set(err, -errno, "%s: %s", dir,
			    strerror(errno));
	}
	free(dir);
	return r;
}

/* Why openat(O_NOFOLLOW | O_DIRECTORY) of comp failed: a symlink is ELOOP. */
static int
dir_open_errno(int fd, const char *comp, int e)
{
	struct stat sb;

	if (e == ENOTDIR && fstatat(fd, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(sb.st_mode))
		return -ELOOP;
	return -e;
}

/*
 * Find (and with create, make) each component of dirs below rootfd,
 * refusing symlinks, and return an fd for the last one in *out_fd.  dirs is
 * cut at each '/' while walking and restored.
 */
static int
walk_dirs(int rootfd, char *dirs, bool create, int *out_fd)
{
	int fd = rootfd, nfd, r;
	char *comp = dirs, *slash;

	for (;;) {
		slash = strchr(comp, '/');
		if (slash != NULL)
			*slash = '\0';
		r = 0;
		if (create && mkdirat(fd, comp, 0777) == -1 && errno != EEXIST)
			r = -errno;
		nfd = -1;
		if (r == 0)
			nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		if (r == 0 && nfd == -1)
			r = dir_open_errno(fd, comp, errno);
		if (fd != rootfd)
			close(fd);
		if (slash != NULL)
			*slash = '/';
		if (r < 0)
			return r;
		fd = nfd;
		if (slash == NULL)
			break;
		comp = slash + 1;
	}
	*out_fd = fd;
	return 0;
}

/*
 * openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS: one call in which the
 * kernel refuses every symlink on the way (ELOOP) and any escape from dirfd
 * (EXDEV).  -1 with errno ENOSYS where there is no openat2.  EAGAIN means
 * a rename raced the lookup: try again.
 */
static int
open_beneath(int dirfd, const char *rel, int flags)
{
#ifdef ST_HAVE_OPENAT2
	struct open_how how;
	int fd, tries = 0;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC);
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS;
	do {
		fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	} while (fd == -1 && (errno == EINTR ||
	    (errno == EAGAIN && ++tries < 16)));
	return fd;
#else
	(void)dirfd;
	(void)rel;
	(void)flags;
	errno = ENOSYS;
	return -1;
#endif
}

/* The same as open_beneath, by hand: walk the directories, then the file. */
static int
walk_open(int dirfd, const char *rel, int flags)
{
	char *dirs = xstrdup(rel);
	char *slash = strrchr(dirs, '/');
	const char *name = dirs;
	int dfd = dirfd, fd = -1, r = 0;

	if (slash != NULL) {
		*slash = '\0';
		name = slash + 1;
		r = walk_dirs(dirfd, dirs, false, &dfd);
	}
	if (r == 0) {
		fd = openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC);
		r = fd == -1 ? -errno : 0;
		if (dfd != dirfd)
			close(dfd);
	}
	free(dirs);
	if (r < 0)
		errno = -r;
	return fd;
}

/*
 * Use openat2 when a harmless probe shows that it works: the kernel may
 * predate it (ENOSYS) or a seccomp filter may refuse it (EPERM).
 */
static void
probe_beneath(struct storage *st, const struct st_config *cfg)
{
	int fd;

	if (cfg != NULL && cfg->no_openat2)
		return;
	fd = open_beneath(st->dirfd, ".", O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		close(fd);
		st->beneath = true;
	} else {
		log_debug("openat2: %s; opening files by a walk instead",
		    strerror(errno));
	}
}

/* The directory fd and the basename for rel, walking only on a new dir. */
static int
parent_fd(struct storage *st, struct dir_cache *dc, const char *rel,
    int *out_fd, const char **out_name)
{
	const char *slash = strrchr(rel, '/');
	size_t n;
	int r, fd = -1;

	*out_name = slash != NULL ? slash + 1 : rel;
	*out_fd = st->dirfd;
	if (slash == NULL)
		return 0;
	n = (size_t)(slash - rel);
	if (dc->dir != NULL && strlen(dc->dir) == n &&
	    memcmp(dc->dir, rel, n) == 0) {
		*out_fd = dc->fd;
		return 0;
	}
	if (dc->fd >= 0)
		close(dc->fd);
	free(dc->dir);
	dc->fd = -1;
	dc->dir = xmemdup(rel, n);
	r = walk_dirs(st->dirfd, dc->dir, true, &fd);
	if (r < 0) {
		free(dc->dir);
		dc->dir = NULL;
		return r;
	}
	dc->fd = fd;
	*out_fd = fd;
	return 0;
}

/* Open (creating if flags say so) and ftruncate to the final length. */
static int
size_file(struct storage *st, size_t k, int dfd, const char *name,
    int flags, struct bt_err *err)
{
	int fd, r = 0;

	fd = openat(dfd, name, flags | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (fd == -1)
		return ent_err(st, k, -errno, err);
	/* Sparse: the blocks appear as pieces are written in place. */
	if (ftruncate(fd, (off_t)st->files[k].length) == -1)
		r = ent_err(st, k, -errno, err);
	close(fd);
	return r;
}

static int
prepare_file(struct storage *st, size_t k, int dfd, const char *name,
    struct bt_err *err)
{
	struct st_ent *f = &st->files[k];
	struct stat sb;
	char name_buf[BT_ERR_MSGLEN];

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT)
			return ent_err(st, k, -errno, err);
		return size_file(st, k, dfd, name, O_CREAT | O_EXCL, err);
	}
	if (S_ISLNK(sb.st_mode))
		return ent_err(st, k, -ELOOP, err);
	if (S_ISDIR(sb.st_mode))
		return ent_err(st, k, -EISDIR, err);
	if (!S_ISREG(sb.st_mode)) {
		ent_name(st, k, name_buf, sizeof(name_buf));
		return bt_err_set(err, -EINVAL, "%s: not a regular file",
		    name_buf);
	}
	f->existed = true;
	f->start_size = (uint64_t)sb.st_size;
	if (f->start_size == f->length)
		return 0;
	return size_file(st, k, dfd, name, 0, err);
}

static int
prepare_all(struct storage *st, struct bt_err *err)
{
	struct dir_cache dc = { NULL, -1 };
	const char *name;
	int r = 0, dfd;

	for (size_t k = 0; k < st->nfiles && r == 0; k++) {
		r = parent_fd(st, &dc, st->files[k].rel, &dfd, &name);
		if (r < 0)
			r = ent_err(st, k, r, err);
		else
			r = prepare_file(st, k, dfd, name, err);
	}
	if (dc.fd >= 0)
		close(dc.fd);
	free(dc.dir);
	return r;
}

struct storage *
st_new(const char *path, const struct st_file *files, size_t nfiles,
    bool single_file, const struct st_config *cfg, struct bt_err *err)
{
	struct storage *st;
	int r;

	if (check_files(path, files, nfiles, single_file, err) < 0)
		return NULL;
	st = st_alloc(files, nfiles, single_file, cfg);
	r = open_root(st, path, err);
	if (r == 0) {
		probe_beneath(st, cfg);
		r = prepare_all(st, err);
	}
	if (r < 0) {
		st_free(st);
		return NULL;
	}
	return st;
}

static void
close_ent(struct storage *st, size_t k)
{
	struct st_ent *f = &st->files[k];
	size_t last = st->open[--st->nopen];

	/* Swap the last pool entry into the freed slot. */
	st->open[f->slot] = last;
	st->files[last].slot = f->slot;
	close(f->fd);
	f->fd = -1;
	f->slot = -1;
}

static void
evict_lru(struct storage *st)
{
	size_t victim = st->open[0];

	for (int i = 1; i < st->nopen; i++) {
		size_t k = st->open[i];

		if (st->files[k].last_use < st->files[victim].last_use)
			victim = k;
	}
	close_ent(st, victim);
}

void
st_free(struct storage *st)
{
	if (st == NULL)
		return;
	while (st->nopen > 0)
		close_ent(st, st->open[st->nopen - 1]);
	for (size_t i = 0; i < st->nfiles; i++)
		free(st->files[i].rel);
	if (st->dirfd >= 0)
		close(st->dirfd);
	free(st->files);
	free(st->rng);
	free(st->open);
	free(st->root);
	free(st);
}

uint64_t
st_total_len(const struct storage *st)
{
	return st->total;
}

size_t
st_num_files(const struct storage *st)
{
	return st->nfiles;
}

/*
 * Open rel below dirfd without following any symlink; when out of fds,
 * give back pool fds and retry.
 */
static int
open_rel(struct storage *st, const char *rel, int flags)
{
	int fd;

	for (;;) {
		if (st->beneath)
			fd = open_beneath(st->dirfd, rel, flags);
		else
			fd = walk_open(st->dirfd, rel, flags);
		if (fd >= 0 || (errno != EMFILE && errno != ENFILE) ||
		    st->nopen == 0)
			return fd;
		evict_lru(st);
	}
}

static int
open_ent(struct storage *st, size_t k, bool write, struct bt_err *err)
{
	struct st_ent *f = &st->files[k];
	int flags = st->readonly ? O_RDONLY : O_RDWR;
	int fd;

	if (st->nopen == st->max_open)
		evict_lru(st);
	fd = open_rel(st, f->rel, flags);
	/* Seeding from files we may not write is fine until we must. */
	if (fd == -1 && !write && flags == O_RDWR &&
	    (errno == EACCES || errno == EROFS || errno == EPERM)) {
		flags = O_RDONLY;
		fd = open_rel(st, f->rel, flags);
	}
	if (fd == -1)
		return ent_err(st, k, -errno, err);
	if (st->sequential)
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	f->fd = fd;
	f->fd_rw = flags == O_RDWR;
	f->slot = st->nopen;
	st->open[st->nopen++] = k;
	return 0;
}

/* An fd for file k from the pool, opened or upgraded as needed. */
static int
get_fd(struct storage *st, size_t k, bool write, struct bt_err *err)
{
	struct st_ent *f = &st->files[k];
	int r;

	if (write && st->readonly)
		return ent_err(st, k, -EROFS, err);
	if (f->fd >= 0 && write && !f->fd_rw)
		close_ent(st, k);
	if (f->fd < 0) {
		r = open_ent(st, k, write, err);
		if (r < 0)
			return r;
	}
	f->last_use = ++st->clock;
	return f->fd;
}

/* Index in rng of the file holding torrent byte off (off < total). */
static size_t
find_range(const struct storage *st, uint64_t off)
{
	size_t lo = 0, hi = st->nrng;

	/* Invariant: begin(rng[lo]) <= off < begin(rng[hi]) (hi may be end). */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (st->files[st->rng[mid]].begin <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* pread/pwrite until done; returns bytes moved (< n only at EOF) or -errno. */
static ssize_t
io_full(int fd, void *rbuf, const void *wbuf, size_t n, uint64_t off)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		if (rbuf != NULL)
			r = pread(fd, (char *)rbuf + done, n - done,
			    (off_t)(off + done));
		else
			r = pwrite(fd, (const char *)wbuf + done, n - done,
			    (off_t)(off + done));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -errno;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/*
 * Before the first write to a file that will be written whole (st_file's
 * `whole`: not a file that --only or --range leave partly unwanted, whose
 * unwanted bytes must stay holes), give it its blocks at once (as aria2's
 * --file-allocation=falloc does): the file system then
 * allocates each page's block when it writes the page back, instead of
 * reserving and accounting for every 4 KiB page as it is written, and
 * the file is not fragmented.  Holes only: existing data is untouched.
 * Best effort: a file system without fallocate() gets a sparse file, and
 * so does a file that would not fit in the free space (fallocate would
 * fill the disk for nothing) or is too small to matter.
 */
static void
allocate_file(struct storage *st, size_t k, int fd)
{
	struct st_ent *f = &st->files[k];
	struct statvfs vfs;

	f->allocated = true;
	if (f->length < ST_ALLOCATE_MIN || fstatvfs(fd, &vfs) == -1 ||
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < f->length)
		return;
#ifdef __linux__
	(void)fallocate(fd, 0, 0, (off_t)f->length);
#endif
}

/*
 * Every ST_WRITEBACK_BYTES written to a file, start writing its dirty
 * pages back without waiting, and drop the pages already written back
 * from the page cache (POSIX_FADV_DONTNEED does both on Linux).  So a
 * download keeps at most a few of these windows of its data in memory:
 * it does not evict the rest of the machine's cache, the disk writes
 * while the network reads, and the fdatasync that makes the download
 * complete has little left to wait for.  Reusing the same few pages is
 * also much cheaper than taking fresh ones (on a VM whose free memory
 * goes back to the host, several times cheaper).  Uploads of pieces no
 * longer cached read them from disk, as after a restart.
 */
static void
start_writeback(struct storage *st, size_t k, int fd, size_t n)
{
	struct st_ent *f = &st->files[k];

	f->unsent += n;
	if (f->unsent < ST_WRITEBACK_BYTES)
		return;
	f->unsent = 0;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

static int
io_file(struct storage *st, size_t k, uint64_t fo, void *rbuf,
    const void *wbuf, size_t n, struct bt_err *err)
{
	int fd = get_fd(st, k, rbuf == NULL, err);
	ssize_t r;
	char name[BT_ERR_MSGLEN];

	if (fd < 0)
		return fd;
	if (rbuf == NULL && !st->files[k].allocated)
		allocate_file(st, k, fd);
	r = io_full(fd, rbuf, wbuf, n, fo);
	if (r < 0)
		return ent_err(st, k, (int)r, err);
	if ((size_t)r < n) {
		/* Someone truncated the file under us: not our data. */
		ent_name(st, k, name, sizeof(name));
		return bt_err_set(err, -EIO, "%s: file is shorter than "
		    "expected", name);
	}
	if (rbuf == NULL && !st->files[k].dirty) {
		st->files[k].dirty = true;
		st->ndirty++;
	}
	if (rbuf == NULL)
		start_writeback(st, k, fd, n);
	return 0;
}

static int
st_io(struct storage *st, uint64_t off, void *rbuf, const void *wbuf,
    size_t n, struct bt_err *err)
{
	size_t r, chunk, done = 0;
	int ret;

	if (off > st->total || n > st->total - off)
		return bt_err_set(err, -EINVAL, "%s: bytes %" PRIu64 "+%zu "
		    "past the end (%" PRIu64 ")", st->root, off, n, st->total);
	if (n == 0)
		return 0;
	r = find_range(st, off);
	while (done < n) {
		const struct st_ent *f = &st->files[st->rng[r]];
		uint64_t fo = off + done - f->begin;

		chunk = f->length - fo < n - done ? (size_t)(f->length - fo) :
		    n - done;
		ret = io_file(st, st->rng[r], fo,
		    rbuf != NULL ? (char *)rbuf + done : NULL,
		    wbuf != NULL ? (const char *)wbuf + done : NULL, chunk,
		    err);
		if (ret < 0)
			return ret;
		done += chunk;
		r++;
	}
	return 0;
}

int
st_read(struct storage *st, uint64_t off, void *buf, size_t n,
    struct bt_err *err)
{
	return st_io(st, off, buf, NULL, n, err);
}

int
st_write(struct storage *st, uint64_t off, const void *buf, size_t n,
    struct bt_err *err)
{
	return st_io(st, off, NULL, buf, n, err);
}

int
st_map(struct storage *st, uint64_t off, size_t n, int *out_fd,
    uint64_t *out_file_off, size_t *out_n, struct bt_err *err)
{
	const struct st_ent *f;
	size_t k;
	uint64_t fo;
	int fd;

	if (n == 0 || off >= st->total || n > st->total - off)
		return bt_err_set(err, -EINVAL, "%s: bytes %" PRIu64 "+%zu "
		    "outside the torrent (%" PRIu64 ")", st->root, off, n,
		    st->total);
	k = st->rng[find_range(st, off)];
	f = &st->files[k];
	fd = get_fd(st, k, false, err);
	if (fd < 0)
		return fd;
	fo = off - f->begin;
	*out_fd = fd;
	*out_file_off = fo;
	*out_n = f->length - fo < n ? (size_t)(f->length - fo) : n;
	return 0;
}

static int
sync_fd(struct storage *st, size_t k, int fd, struct bt_err *err)
{
	while (fdatasync(fd) == -1) {
		if (errno != EINTR)
			return ent_err(st, k, -errno, err);
	}
	return 0;
}

int
st_flush(struct storage *st, struct bt_err *err)
{
	int fd, r;

	for (size_t k = 0; k < st->nfiles && st->ndirty > 0; k++) {
		if (!st->files[k].dirty)
			continue;
		fd = get_fd(st, k, true, err);
		if (fd < 0)
			return fd;
		r = sync_fd(st, k, fd, err);
		if (r < 0)
			return r;
		st->files[k].dirty = false;
		st->ndirty--;
	}
	return 0;
}

int
st_set_readonly(struct storage *st, struct bt_err *err)
{
	int r = st_flush(st, err);

	/* Walk backwards: close_ent moves the last slot into the hole. */
	for (int i = st->nopen - 1; i >= 0; i--) {
		if (st->files[st->open[i]].fd_rw)
			close_ent(st, st->open[i]);
	}
	st->readonly = true;
	return r;
}

bool
st_file_exists_full(const struct storage *st, size_t i)
{
	return st->files[i].existed &&
	    st->files[i].start_size >= st->files[i].length;
}

uint64_t
st_file_size_at_start(const struct storage *st, size_t i)
{
	return st->files[i].start_size;
}

bool
st_range_existed(const struct storage *st, uint64_t off, uint64_t n)
{
	if (n == 0)
		return true;
	if (off >= st->total || n > st->total - off)
		return false;
	for (size_t r = find_range(st, off); n > 0; r++) {
		const struct st_ent *f = &st->files[st->rng[r]];
		uint64_t fo = off - f->begin;
		uint64_t chunk = f->length - fo < n ? f->length - fo : n;

		if (!f->existed || fo + chunk > f->start_size)
			return false;
		off += chunk;
		n -= chunk;
	}
	return true;
}

void
st_set_sequential(struct storage *st, bool on)
{
	st->sequential = on;
	for (int i = 0; i < st->nopen; i++)
		posix_fadvise(st->files[st->open[i]].fd, 0, 0,
		    on ? POSIX_FADV_SEQUENTIAL : POSIX_FADV_NORMAL);
}

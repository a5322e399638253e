/*
 * download's set-up (see download_int.h): the save path, the lock, what to
 * download (--only, --skip, --range, and the .btparts mapping), the
 * storage, and which pieces the resume file vouches for and which to hash.
 */
#include "download_int.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parseargs.h"
#include "resume.h"
#include "selection.h"
#include "storage.h"
#include "storagewrapper.h"
#include "xmalloc.h"

/*
 * The save path, absolute (the working directory is prepended to a
 * relative one), so that hooks, logs and the resume file name the same
 * place whatever the process does later.
 */
static char *
download_abs_path(const char *path)
{
	char cwd[4096];
	size_t n, m;
	char *out;

	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return xstrdup(path);
	n = strlen(cwd);
	m = strlen(path);
	out = xmalloc(n + 1 + m + 1);
	memcpy(out, cwd, n);
	out[n] = '/';
	memcpy(out + n + 1, path, m + 1);
	return out;
}

/*
 * Take the lock next to the save path.  A place we cannot write to (a
 * read-only seed) runs without a lock and without a resume file.
 */
static int
download_lock(struct download *d, struct bt_err *err)
{
	char *lock, *dir, *slash, esc[LOG_ESC_LEN];
	long holder;
	int fd;

	resume_paths(d->save_path, &d->resume_path, &lock);
	dir = xstrdup(lock);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir)
		*slash = '\0';
	fd = resume_mkdirs(dir, err);
	free(dir);
	if (fd == 0)
		fd = resume_lock(lock, &holder, err);
	free(lock);
	if (fd == -EAGAIN) {
		bt_err_prefix(err, "another btdownload is working on %s",
		    d->path_esc);
		return DOWNLOAD_EXIT_LOCKED;
	}
	if (fd == -EROFS || fd == -EACCES || fd == -EPERM) {
		log_warn("%s; running without a lock or resume file",
		    log_safe(esc, sizeof(esc), err->msg));
		free(d->resume_path);
		d->resume_path = NULL;
		fd = -1;
	} else if (fd < 0) {
		return DOWNLOAD_EXIT_IO;
	}
	d->lock_fd = fd;
	return 0;
}

/* --- what to download ----------------------------------------------------- */

/* --range, checked against the content's size. */
static int
download_range(const struct download *d, uint64_t *start, uint64_t *end,
    struct bt_err *err)
{
	*start = 0;
	*end = UINT64_MAX;
	if (d->cfg->range[0] == '\0')
		return 0;
	if (pa_parse_range(d->cfg->range, start, end, err) < 0)
		return -EINVAL;
	if (*start >= d->mi.total_length)
		return bt_err_set(err, -ERANGE, "--range %s starts past the "
		    "end of the content (%" PRIu64 " bytes)", d->cfg->range,
		    d->mi.total_length);
	return 0;
}

/* Selected files and wanted pieces; an exit status on a bad selection. */
static int
download_select(struct download *d, struct bt_err *err)
{
	const struct pa_config *cfg = d->cfg;
	const char **paths = xcalloc(d->mi.nfiles, sizeof(*paths));
	uint64_t start, end;
	int r;

	for (size_t i = 0; i < d->mi.nfiles; i++)
		paths[i] = d->mi.files[i].relpath;
	d->selected = xcalloc(d->mi.nfiles, sizeof(*d->selected));
	r = sel_files(paths, d->mi.nfiles, cfg->only.v, cfg->only.n,
	    cfg->skip.v, cfg->skip.n, d->selected, err);
	free(paths);
	if (r == 0)
		r = download_range(d, &start, &end, err);
	if (r < 0)
		return DOWNLOAD_EXIT_USAGE;
	sel_range_files(d->lengths, d->mi.nfiles, start, end, d->selected);
	bf_init(&d->wanted, (uint32_t)d->mi.npieces);
	if (sel_pieces(d->lengths, d->selected, d->mi.nfiles,
	    d->mi.piece_length, start, end, &d->wanted) == 0) {
		bt_err_set(err, -EINVAL, "--only, --skip and --range leave "
		    "nothing to download");
		return DOWNLOAD_EXIT_USAGE;
	}
	return 0;
}

static bool
download_is_regular(const char *dir, const char *rel)
{
	size_t n = strlen(dir), m = strlen(rel);
	char *path = xmalloc(n + 1 + m + 1);
	struct stat sb;
	bool r;

	memcpy(path, dir, n);
	path[n] = '/';
	memcpy(path + n + 1, rel, m + 1);
	r = fstatat(AT_FDCWD, path, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(sb.st_mode);
	free(path);
	return r;
}

/*
 * Remove the .btparts/N files of files stored at their own path now (a
 * later run selected them), and .btparts itself once empty.  The
 * directory is opened without following a symlink, and only names of the
 * form N inside it are removed.
 */
static void
download_drop_parts(const struct download *d)
{
	size_t n = strlen(d->save_path);
	char *dir = xmalloc(n + sizeof("/.btparts"));
	char part[32];
	int fd;

	memcpy(dir, d->save_path, n);
	memcpy(dir + n, "/.btparts", sizeof("/.btparts"));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		for (size_t i = 0; i < d->mi.nfiles; i++) {
			if (strncmp(d->st_paths[i], ".btparts/", 9) == 0)
				continue;
			snprintf(part, sizeof(part), "%zu", i + 1);
			unlinkat(fd, part, 0);
		}
		close(fd);
		rmdir(dir);	/* fails, harmlessly, unless empty */
	}
	free(dir);
}

/*
 * Each file's path for the storage: its own, or .btparts/N (N counted
 * from 1) for a file that is not selected and not already on disk.
 */
static void
download_map_files(struct download *d)
{
	char part[32];

	d->st_paths = xcalloc(d->mi.nfiles, sizeof(*d->st_paths));
	for (size_t i = 0; i < d->mi.nfiles; i++) {
		const char *rel = d->mi.files[i].relpath;

		if (!d->mi.multi_file || d->selected[i] ||
		    download_is_regular(d->save_path, rel)) {
			d->st_paths[i] = xstrdup(rel);
			continue;
		}
		snprintf(part, sizeof(part), ".btparts/%zu", i + 1);
		d->st_paths[i] = xstrdup(part);
	}
	if (d->mi.multi_file)
		download_drop_parts(d);
}

/* --- storage -------------------------------------------------------------- */

/* Whether every piece holding a byte of [off, off + len) is wanted. */
static bool
download_wants_all(const struct download *d, uint64_t off, uint64_t len)
{
	uint64_t plen = d->mi.piece_length;

	if (len == 0)
		return false;
	for (uint64_t p = off / plen; p <= (off + len - 1) / plen; p++)
		if (!bf_get(&d->wanted, (uint32_t)p))
			return false;
	return true;
}

static int
download_open_storage(struct download *d, struct bt_err *err)
{
	const struct btf_metainfo *mi = &d->mi;
	struct st_file *files = xcalloc(mi->nfiles, sizeof(*files));
	struct st_config stc = ST_CONFIG_INIT;
	struct sw_config swc = SW_CONFIG_INIT;
	uint64_t off = 0;

	download_map_files(d);
	for (size_t i = 0; i < mi->nfiles; i++) {
		files[i].path = d->st_paths[i];
		files[i].length = mi->files[i].length;
		files[i].whole = download_wants_all(d, off,
		    mi->files[i].length);
		off += mi->files[i].length;
	}
	stc.max_open_files = (int)d->cfg->max_open_files;
	d->st = st_new(d->save_path, files, mi->nfiles, !mi->multi_file, &stc,
	    err);
	free(files);
	if (d->st == NULL)
		return err->code == -ENOSPC ? DOWNLOAD_EXIT_DISK_FULL :
		    DOWNLOAD_EXIT_IO;
	swc.block_size = (uint32_t)d->cfg->download_slice_size;
	d->sw = sw_new(d->st, mi->pieces, (uint32_t)mi->npieces,
	    mi->piece_length, mi->total_length, &swc, err);
	if (d->sw == NULL)
		return DOWNLOAD_EXIT_TORRENT;
	return 0;
}

/* The relative paths, for resume_stat_files(). */
void
download__stat_files(const struct download *d, struct resume_stat *out)
{
	resume_stat_files(d->save_path, !d->mi.multi_file,
	    (const char *const *)d->st_paths, d->mi.nfiles, out);
}

/*
 * Which files still match the resume record.  A file the storage had to
 * create or resize is changed whatever its record says.
 */
static bool *
download_changed_files(const struct download *d, const struct resume *rec)
{
	struct resume_stat *now = xcalloc(d->mi.nfiles, sizeof(*now));
	bool *changed = xcalloc(d->mi.nfiles, sizeof(*changed));
	size_t nchanged = 0;

	download__stat_files(d, now);
	for (size_t i = 0; i < d->mi.nfiles; i++) {
		changed[i] = rec == NULL || !st_file_exists_full(d->st, i) ||
		    !resume_stat_same(&now[i], &rec->files[i]);
		nchanged += changed[i] && d->lengths[i] > 0;
	}
	if (rec != NULL && nchanged > 0)
		log_info("%s: %zu file(s) changed since the resume file was "
		    "written; checking their pieces", d->name_esc, nchanged);
	free(now);
	return changed;
}

/* The resume file, if there is a good one; NULL otherwise (warned). */
static bool
download_load_resume(struct download *d, struct resume *rec)
{
	struct resume_expect ex = { &d->mi.info_hash,
	    (uint32_t)d->mi.npieces, d->lengths, d->mi.nfiles };
	struct bt_err err = BT_ERR_INIT;
	char esc[LOG_ESC_LEN];
	int r;

	if (d->resume_path == NULL || d->cfg->recheck)
		return false;
	r = resume_load(d->resume_path, &ex, rec, &err);
	if (r == -ENOENT)
		return false;
	if (r < 0) {
		log_warn("%s: ignoring the resume file (%s); checking all "
		    "data", log_escape(esc, sizeof(esc), d->resume_path,
		    strlen(d->resume_path)), err.msg);
		return false;
	}
	d->uploaded_before = rec->uploaded;
	return true;
}

/*
 * Decide what to trust and what to hash.  --check_hashes 0 trusts every
 * piece whose bytes existed (mainline, and how the tests build a corrupt
 * seeder); otherwise the resume plan, with hashing limited to pieces whose
 * bytes existed before we started (the rest are zeros we just created).
 */
static void
download_plan(struct download *d)
{
	uint32_t n = (uint32_t)d->mi.npieces;
	struct resume rec = RESUME_INIT;
	bool have_rec, *changed;

	bf_init(&d->trust, n);
	bf_init(&d->todo, n);
	have_rec = download_load_resume(d, &rec);
	changed = download_changed_files(d, have_rec ? &rec : NULL);
	resume_plan(have_rec ? &rec.have : NULL, d->lengths, d->mi.nfiles,
	    changed, d->mi.piece_length, &d->trust, &d->todo);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t off = (uint64_t)i * d->mi.piece_length;
		bool existed = st_range_existed(d->st, off,
		    sw_piece_len(d->sw, i));

		if (!d->cfg->check_hashes && existed)
			bf_set(&d->trust, i);
		if (!d->cfg->check_hashes || !existed)
			bf_clear(&d->todo, i);
	}
	free(changed);
	resume_release(&rec);
}

int
download__load(struct download *d, const char *torrent, const char *dir,
    struct bt_err *err)
{
	char esc[LOG_ESC_LEN], *joined = NULL;
	const char *save;
	int r;

	if (btf_load_file(torrent, &d->mi, err) < 0) {
		bt_err_prefix(err, "%s", log_escape(esc, sizeof(esc), torrent,
		    strlen(torrent)));
		return DOWNLOAD_EXIT_TORRENT;
	}
	sha1_hex(&d->mi.info_hash, d->hex);
	log_escape(d->name_esc, sizeof(d->name_esc), d->mi.name,
	    strlen(d->mi.name));
	if (dir != NULL) {
		joined = xmalloc(strlen(dir) + 1 + strlen(d->mi.name) + 1);
		sprintf(joined, "%s/%s", dir, d->mi.name);
		save = joined;
	} else {
		save = d->cfg->saveas[0] != '\0' ? d->cfg->saveas : d->mi.name;
	}
	log_escape(d->path_esc, sizeof(d->path_esc), save, strlen(save));
	d->save_path = download_abs_path(save);
	free(joined);
	d->lengths = xcalloc(d->mi.nfiles, sizeof(*d->lengths));
	for (size_t i = 0; i < d->mi.nfiles; i++)
		d->lengths[i] = d->mi.files[i].length;
	if ((r = download_select(d, err)) != 0)
		return r;
	if ((r = download_lock(d, err)) != 0)
		return r;
	if ((r = download_open_storage(d, err)) != 0)
		return r;
	download_plan(d);
	return 0;
}

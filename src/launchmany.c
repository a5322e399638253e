/*
 * launchmany: see the header.  In order: fair shares, the entries (one per
 * .torrent file) and their downloads, the directory scan, the status
 * display, and lm_run().
 */
#include "launchmany.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bterr.h"
#include "daemon.h"
#include "download.h"
#include "downloaderfeedback.h"
#include "listener.h"
#include "log.h"
#include "parseargs.h"
#include "rawserver.h"
#include "resolver.h"
#include "resume.h"
#include "run.h"
#include "xmalloc.h"

/* A hook still running at exit is waited for this long, then left. */
#define LM_HOOK_WAIT_MS	30000
/* Width of the name column of the terminal display. */
#define LM_NAME_COLS	24

/* ---- fair shares ---- */

void
lm_share(uint64_t cap, const uint64_t *want, size_t n, uint64_t *out)
{
	bool *done = xcalloc(n ? n : 1, sizeof(*done));
	uint64_t left = cap, fair = 0;
	size_t open = n;
	bool again = true;

	/* Water-filling: satisfy the small demands, split the rest. */
	while (again && open > 0) {
		again = false;
		fair = left / open;
		for (size_t i = 0; i < n; i++) {
			if (done[i] || want[i] > fair)
				continue;
			out[i] = want[i];
			left -= want[i];
			done[i] = true;
			open--;
			again = true;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!done[i])
			out[i] = fair;
		if (out[i] < LM_MIN_SHARE)
			out[i] = LM_MIN_SHARE;
	}
	free(done);
}

/* ---- entries ---- */

/* Add new states to the table in lm_state_str(). */
enum lm_state {
	LM_WAITING,	/* for its file to be stable, or a retry */
	LM_RUNNING,
	LM_STOPPING,
	LM_ENDED,	/* stopped; d kept while its hooks run */
};

struct launchmany;

struct lm_entry {
	struct launchmany *lm;
	char *file;			/* name in the directory */
	char *path;			/* directory/file */
	struct resume_stat seen;	/* at the last scan */
	unsigned stable;		/* scans in a row it did not change */
	bool present;			/* seen by the current scan */
	bool gone;			/* removed from the directory */
	bool restart;			/* changed while running */
	enum lm_state state;
	uint64_t retry_ms;		/* ENDED: start again then; 0 never */
	struct download *d;
	struct download_env env;
	uint64_t up_share, down_share;
	struct lm_entry *next;
};

struct launchmany {
	const struct pa_config *cfg;
	struct rawserver *rs;
	struct resolver *res;
	struct listener *ls;
	uint16_t port;
	char *save_dir;
	struct lm_entry *entries;
	int lock_fd;
	bool tty, display, stopping;
	int lines;			/* drawn last time on the terminal */
	uint64_t scan_task, display_task, caps_task;
	FILE *logfp;
};

static const char *
lm_state_str(enum lm_state s)
{
	static const char *const names[] = {
		[LM_WAITING] = "waiting", [LM_RUNNING] = "running",
		[LM_STOPPING] = "stopping", [LM_ENDED] = "ended",
	};

	return names[s];
}

static void
lm_enter_state(struct lm_entry *e, enum lm_state s)
{
	char esc[LOG_ESC_LEN];

	log_debug("%s: %s -> %s", log_safe(esc, sizeof(esc), e->file),
	    lm_state_str(e->state), lm_state_str(s));
	e->state = s;
}

/* The listener's lookup: a running download with that info hash. */
static struct encoder *
lm_lookup(void *ctx, const uint8_t info_hash[20])
{
	struct launchmany *lm = ctx;

	for (struct lm_entry *e = lm->entries; e != NULL; e = e->next)
		if (e->state == LM_RUNNING && memcmp(
		    download_info_hash(e->d), info_hash, 20) == 0)
			return download_encoder(e->d);
	return NULL;
}

static size_t
lm_active(const struct launchmany *lm)
{
	size_t n = 0;

	for (const struct lm_entry *e = lm->entries; e != NULL; e = e->next)
		n += e->state == LM_RUNNING || e->state == LM_STOPPING;
	return n;
}

/* download_stop() is over: say how it ended, decide about a restart. */
static void
lm_stopped(void *ctx, struct download *d)
{
	struct lm_entry *e = ctx;
	struct launchmany *lm = e->lm;
	int code = download_exit_code(d);
	char esc[LOG_ESC_LEN];

	if (lm->cfg->status_json)
		run__print_json(d);
	if (code > 0)
		log_warn("%s: %s (exit status %d)", log_safe(esc,
		    sizeof(esc), e->file), download_exit_message(d), code);
	else
		log_info("%s: %s", log_safe(esc, sizeof(esc), e->file),
		    download_exit_message(d));
	lm_enter_state(e, e->restart ? LM_WAITING : LM_ENDED);
	e->restart = false;
	e->retry_ms = 0;
	if (code == DOWNLOAD_EXIT_LOCKED)
		e->retry_ms = rs_now_ms(lm->rs) + LM_RETRY_LOCKED_MS;
	if (lm->stopping && lm_active(lm) == 0)
		rs_stop(lm->rs);
}

static void
lm_stop_entry(struct lm_entry *e)
{
	if (e->state != LM_RUNNING)
		return;
	lm_enter_state(e, LM_STOPPING);
	download_stop(e->d, lm_stopped, e);
}

/* The download is over (policy met, error): stop it. */
static void
lm_end(void *ctx, struct download *d)
{
	(void)d;
	lm_stop_entry(ctx);
}

static void
lm_start_entry(struct lm_entry *e)
{
	struct launchmany *lm = e->lm;
	struct bt_err err = BT_ERR_INIT;
	char esc[LOG_ESC_LEN], esc2[LOG_ESC_LEN];
	int code = 0;

	download_free(e->d);
	e->env.rs = lm->rs;
	e->env.res = lm->res;
	e->env.port = lm->port;
	e->env.end = lm_end;
	e->env.checked = NULL;
	e->env.ctx = e;
	e->env.quiet = true;
	e->d = download_new(lm->cfg, e->path, lm->save_dir, &e->env, &code,
	    &err);
	if (e->d == NULL) {
		log_warn("%s: %s (exit status %d)", log_safe(esc, sizeof(esc),
		    e->file), log_safe(esc2, sizeof(esc2), err.msg), code);
		lm_enter_state(e, LM_ENDED);
		e->retry_ms = code == DOWNLOAD_EXIT_LOCKED ?
		    rs_now_ms(lm->rs) + LM_RETRY_LOCKED_MS : 0;
		return;
	}
	log_info("%s: started", log_safe(esc, sizeof(esc), e->file));
	lm_enter_state(e, LM_RUNNING);
	download_start(e->d);
}

static struct lm_entry *
lm_entry_new(struct launchmany *lm, const char *file,
    const struct resume_stat *st)
{
	struct lm_entry *e = xcalloc(1, sizeof(*e));
	size_t dn = strlen(lm->cfg->torrent_dir), fn = strlen(file);

	e->lm = lm;
	e->file = xstrdup(file);
	e->path = xmalloc(dn + 1 + fn + 1);
	memcpy(e->path, lm->cfg->torrent_dir, dn);
	e->path[dn] = '/';
	memcpy(e->path + dn + 1, file, fn + 1);
	e->seen = *st;
	e->state = LM_WAITING;
	e->next = lm->entries;
	lm->entries = e;
	return e;
}

static void
lm_entry_free(struct lm_entry *e)
{
	download_free(e->d);
	free(e->file);
	free(e->path);
	free(e);
}

/* ---- the directory scan ---- */

static bool
lm_is_torrent_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 8 && strcmp(name + n - 8, ".torrent") == 0;
}

static struct lm_entry *
lm_find(struct launchmany *lm, const char *file)
{
	for (struct lm_entry *e = lm->entries; e != NULL; e = e->next)
		if (strcmp(e->file, file) == 0)
			return e;
	return NULL;
}

/* One .torrent file seen by the scan. */
static void
lm_saw(struct launchmany *lm, const char *file, const struct resume_stat *st)
{
	struct lm_entry *e = lm_find(lm, file);
	char esc[LOG_ESC_LEN];

	if (e == NULL) {
		e = lm_entry_new(lm, file, st);
	} else if (resume_stat_same(&e->seen, st)) {
		e->stable++;
	} else {
		e->seen = *st;
		e->stable = 0;
		if (e->state == LM_RUNNING) {
			log_info("%s: changed; restarting it", log_safe(esc,
			    sizeof(esc), file));
			e->restart = true;
			lm_stop_entry(e);
		} else if (e->state == LM_ENDED) {
			lm_enter_state(e, LM_WAITING);
		}
	}
	e->present = true;
}

static int
lm_read_dir(struct launchmany *lm)
{
	DIR *dir = opendir(lm->cfg->torrent_dir);
	struct dirent *de;
	struct stat sb;
	struct resume_stat st;

	if (dir == NULL)
		return -errno;
	while ((de = readdir(dir)) != NULL) {
		if (!lm_is_torrent_name(de->d_name) ||
		    fstatat(dirfd(dir), de->d_name, &sb, 0) < 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		memset(&st, 0, sizeof(st));
		st.size = (uint64_t)sb.st_size;
		st.mtime_sec = (int64_t)sb.st_mtim.tv_sec;
		st.mtime_nsec = (int32_t)sb.st_mtim.tv_nsec;
		st.exists = true;
		lm_saw(lm, de->d_name, &st);
	}
	closedir(dir);
	return 0;
}

/* After a scan: stop what disappeared, start what is ready, tidy up. */
static void
lm_settle(struct launchmany *lm)
{
	uint64_t now = rs_now_ms(lm->rs);
	struct lm_entry **pp = &lm->entries, *e;
	char esc[LOG_ESC_LEN];

	while ((e = *pp) != NULL) {
		if (!e->present && !e->gone) {
			e->gone = true;
			if (e->state == LM_RUNNING)
				log_info("%s: removed; stopping it", log_safe(
				    esc, sizeof(esc), e->file));
			lm_stop_entry(e);
		}
		if (e->state == LM_ENDED && e->retry_ms != 0 &&
		    now >= e->retry_ms)
			lm_enter_state(e, LM_WAITING);
		if (e->state == LM_WAITING && !e->gone && e->stable >= 1)
			lm_start_entry(e);
		if (e->state == LM_ENDED && e->d != NULL &&
		    !download_hooks_running(e->d)) {
			download_free(e->d);
			e->d = NULL;
		}
		if (e->gone && e->d == NULL && e->state != LM_STOPPING) {
			*pp = e->next;
			lm_entry_free(e);
			continue;
		}
		pp = &e->next;
	}
}

static void lm_caps(struct launchmany *lm);

static void
lm_scan_task(void *arg)
{
	struct launchmany *lm = arg;
	int r;

	for (struct lm_entry *e = lm->entries; e != NULL; e = e->next)
		e->present = false;
	r = lm_read_dir(lm);
	if (r < 0)
		log_warn("%s: %s", lm->cfg->torrent_dir, strerror(-r));
	else
		lm_settle(lm);
	/* A download just started must not run at the whole cap. */
	lm_caps(lm);
	lm->scan_task = rs_add_task(lm->rs,
	    (uint64_t)(lm->cfg->scan_interval * 1000), lm_scan_task, lm);
}

/* ---- shared rate caps ---- */

/* What a download wants: its rate with headroom, or all if it is capped. */
static uint64_t
lm_demand(double rate, uint64_t share)
{
	if (share == 0 || rate >= 0.8 * (double)share)
		return UINT64_MAX;
	return (uint64_t)(rate * 1.25) + 16 * 1024;
}

static void
lm_caps(struct launchmany *lm)
{
	size_t n = lm_active(lm), k = 0;
	uint64_t *w = xcalloc(4 * (n ? n : 1), sizeof(*w));
	struct lm_entry **es = xcalloc(n ? n : 1, sizeof(*es));
	uint64_t *up_want = w, *down_want = w + n, *up = w + 2 * n;
	uint64_t *down = w + 3 * n;
	struct download_status s;

	for (struct lm_entry *e = lm->entries; e != NULL; e = e->next) {
		if (e->state != LM_RUNNING || k == n)
			continue;
		download_get_status(e->d, &s);
		up_want[k] = lm_demand(s.up_rate, e->up_share);
		down_want[k] = lm_demand(s.down_rate, e->down_share);
		es[k++] = e;
	}
	lm_share(lm->cfg->max_upload_rate, up_want, k, up);
	lm_share(lm->cfg->max_download_rate, down_want, k, down);
	for (size_t i = 0; i < k; i++) {
		es[i]->up_share = lm->cfg->max_upload_rate ? up[i] : 0;
		es[i]->down_share = lm->cfg->max_download_rate ? down[i] : 0;
		download_set_rate_caps(es[i]->d, es[i]->up_share,
		    es[i]->down_share);
	}
	free(es);
	free(w);
}

static void
lm_caps_task(void *arg)
{
	struct launchmany *lm = arg;

	lm_caps(lm);
	lm->caps_task = rs_add_task(lm->rs, LM_CAPS_MS, lm_caps_task, lm);
}

/* ---- the status display ---- */

static void
lm_tty_line(struct lm_entry *e, int cols)
{
	struct download_status s;
	struct fb_status f;
	char line[FB_LINE_LEN], esc[LOG_ESC_LEN];

	download_get_status(e->d, &s);
	run__fb_status(&s, &f);
	fb_tty_line(line, sizeof(line), &f, cols > LM_NAME_COLS + 20 ?
	    cols - LM_NAME_COLS - 1 : 20);
	log_escape(esc, sizeof(esc), s.name, strlen(s.name));
	printf("\r\033[K%-*.*s %s\n", LM_NAME_COLS, LM_NAME_COLS, esc, line);
}

/* A line per torrent: redrawn in place on a terminal, JSON otherwise. */
static void
lm_display(struct launchmany *lm)
{
	int cols = run__cols(), lines = 0;

	if (lm->tty && lm->lines > 0)
		printf("\033[%dA", lm->lines);
	for (struct lm_entry *e = lm->entries; e != NULL; e = e->next) {
		if (e->state != LM_RUNNING)
			continue;
		if (lm->tty)
			lm_tty_line(e, cols);
		else
			run__print_json(e->d);
		lines++;
	}
	if (lm->tty)
		for (int i = lines; i < lm->lines; i++)
			printf("\r\033[K\n");
	if (lm->tty && lines < lm->lines)
		printf("\033[%dA", lm->lines - lines);
	lm->lines = lines;
	fflush(stdout);
}

static void
lm_display_task(void *arg)
{
	struct launchmany *lm = arg;
	double iv = run__display_interval(lm->cfg, lm->tty);

	lm_display(lm);
	lm->display_task = rs_add_task(lm->rs, (uint64_t)(iv * 1000),
	    lm_display_task, lm);
}

/* ---- lm_run ---- */

static int
lm_lock_dir(struct launchmany *lm, struct bt_err *err)
{
	const char *dir = lm->cfg->torrent_dir;
	char *path = xmalloc(strlen(dir) + sizeof("/" LM_LOCK_NAME));
	long holder;
	DIR *d = opendir(dir);

	if (d == NULL) {
		bt_err_set(err, -errno, "%s: %s", dir, strerror(errno));
		free(path);
		return DOWNLOAD_EXIT_ERROR;
	}
	closedir(d);
	sprintf(path, "%s/%s", dir, LM_LOCK_NAME);
	lm->lock_fd = resume_lock(path, &holder, err);
	free(path);
	if (lm->lock_fd == -EAGAIN) {
		bt_err_prefix(err, "another btlaunchmany works on %s", dir);
		return DOWNLOAD_EXIT_LOCKED;
	}
	return lm->lock_fd < 0 ? DOWNLOAD_EXIT_ERROR : 0;
}

/* Everything before the loop; an exit status on failure. */
static int
lm_setup(struct launchmany *lm, struct daemon_ctx *dc, struct bt_err *err)
{
	const struct pa_config *cfg = lm->cfg;
	int r, port;

	if (!cfg->daemon && run__logging(cfg, &lm->logfp, err) < 0)
		return DOWNLOAD_EXIT_ERROR;
	if ((r = lm_lock_dir(lm, err)) != 0)
		return r;
	if ((lm->rs = run__reactor(cfg, &r, err)) == NULL)
		return r;
	lm->res = res_new(lm->rs);
	port = run__listen(lm->rs, cfg, lm_lookup, lm, &lm->ls, err);
	if (port < 0)
		return DOWNLOAD_EXIT_ERROR;
	lm->port = (uint16_t)port;
	return run__ready(cfg, dc, &lm->logfp, err) < 0 ?
	    DOWNLOAD_EXIT_ERROR : 0;
}

/* A signal: stop every download, wait for them (bounded by theirs). */
static void
lm_shutdown(struct launchmany *lm, int sig)
{
	uint64_t *tasks[] = { &lm->scan_task, &lm->display_task,
	    &lm->caps_task };

	for (size_t i = 0; i < sizeof(tasks) / sizeof(tasks[0]); i++)
		if (*tasks[i] != 0)
			rs_cancel_task(lm->rs, *tasks[i]);
	lm->stopping = true;
	for (struct lm_entry *e = lm->entries; e != NULL; e = e->next) {
		if (e->state == LM_RUNNING)
			download_interrupted(e->d, sig > 0 ? sig : SIGTERM);
		lm_stop_entry(e);
	}
	if (lm_active(lm) > 0)
		rs_run(lm->rs);
	for (struct lm_entry *e = lm->entries; e != NULL; e = e->next)
		if (e->d != NULL)
			download_wait_hooks(e->d, LM_HOOK_WAIT_MS);
}

static void
lm_free(struct launchmany *lm)
{
	struct lm_entry *e;

	while ((e = lm->entries) != NULL) {
		lm->entries = e->next;
		lm_entry_free(e);
	}
	ls_free(lm->ls);
	res_free(lm->res);
	rs_free(lm->rs);
	if (lm->lock_fd >= 0)
		close(lm->lock_fd);
	if (lm->cfg->pidfile[0] != '\0')
		daemon_remove_pidfile(lm->cfg->pidfile);
	if (lm->logfp != NULL) {
		log_set_stream(NULL);
		fclose(lm->logfp);
	}
	free(lm->save_dir);
}

static void
lm_loop(struct launchmany *lm)
{
	int sig;

	lm->scan_task = rs_add_task(lm->rs, 0, lm_scan_task, lm);
	lm->caps_task = rs_add_task(lm->rs, LM_CAPS_MS, lm_caps_task, lm);
	if (lm->display)
		lm->display_task = rs_add_task(lm->rs, 1000, lm_display_task,
		    lm);
	sig = rs_run(lm->rs);
	if (sig < 0)
		log_warn("reactor failed: %s", strerror(-sig));
	lm_shutdown(lm, sig);
	log_info("stopped%s (exit status 0)", sig == SIGINT ? " by SIGINT" :
	    sig == SIGTERM ? " by SIGTERM" : "");
}

int
lm_run(const struct pa_config *cfg)
{
	struct daemon_ctx dc = DAEMON_CTX_INIT;
	struct bt_err err = BT_ERR_INIT;
	struct launchmany lm;
	char esc[LOG_ESC_LEN];
	bool parent;
	int code;

	memset(&lm, 0, sizeof(lm));
	lm.cfg = cfg;
	lm.lock_fd = -1;
	lm.save_dir = xstrdup(cfg->saveas_dir[0] != '\0' ? cfg->saveas_dir :
	    cfg->torrent_dir);
	if (cfg->daemon && daemon_start(&dc, &parent, &code, &err) < 0) {
		log_error("%s (exit status 1)", err.msg);
		free(lm.save_dir);
		return DOWNLOAD_EXIT_ERROR;
	}
	if (cfg->daemon && parent) {
		free(lm.save_dir);
		return code;
	}
	lm.tty = !cfg->daemon && isatty(STDOUT_FILENO) == 1;
	lm.display = !cfg->daemon || cfg->display_interval > 0;
	code = lm_setup(&lm, &dc, &err);
	if (code != 0)
		log_error("%s (exit status %d)", log_safe(esc, sizeof(esc),
		    err.msg), code);
	else
		lm_loop(&lm);
	lm_free(&lm);
	return code;
}

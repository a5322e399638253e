/*
 * run: see the header.  The status line and JSON first, then run_single().
 */
#include "run.h"

#include <sys/ioctl.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bterr.h"
#include "daemon.h"
#include "download.h"
#include "downloaderfeedback.h"
#include "encrypter.h"
#include "json.h"
#include "listener.h"
#include "log.h"
#include "parseargs.h"
#include "rawserver.h"
#include "resolver.h"
#include "xmalloc.h"

/* Keys are stable and documented in btdownload(1), STATUS OUTPUT. */
char *
run_status_json(const struct download_status *s)
{
	struct json j = JSON_INIT;
	char *out;

	json_begin(&j);
	json_str(&j, "name", s->name);
	json_str(&j, "info_hash", s->info_hash);
	json_str(&j, "path", s->path);
	json_str(&j, "state", s->state);
	json_u64(&j, "size", s->size);
	json_u64(&j, "done", s->done);
	json_u64(&j, "total", s->total);
	/* Rounded down: never 100.0 before the last byte is verified. */
	json_double(&j, "progress", s->total ? floor((double)s->done *
	    1000.0 / (double)s->total) / 10.0 : 0.0, 1);
	json_u64(&j, "downloaded", s->downloaded);
	json_u64(&j, "uploaded", s->uploaded);
	json_u64(&j, "uploaded_total", s->uploaded_total);
	json_double(&j, "down_rate", s->down_rate, 0);
	json_double(&j, "up_rate", s->up_rate, 0);
	json_u64(&j, "peers", s->peers);
	json_u64(&j, "seeds", s->seeds);
	json_double(&j, "ratio", s->ratio, 3);
	if (s->eta >= 0 && s->eta < 1e8)
		json_double(&j, "eta", s->eta, 0);
	else
		json_null(&j, "eta");
	json_u64(&j, "pieces", s->pieces);
	json_u64(&j, "pieces_have", s->pieces_have);
	json_u64(&j, "pieces_resumed", s->pieces_resumed);
	json_u64(&j, "pieces_checked", s->pieces_checked);
	json_u64(&j, "bytes_checked", s->bytes_checked);
	json_double(&j, "elapsed", s->elapsed, 1);
	if (s->exit_code >= 0) {
		json_i64(&j, "exit_code", s->exit_code);
		json_str(&j, "exit_reason", download_exit_str(s->exit_code));
	} else {
		json_null(&j, "exit_code");
		json_null(&j, "exit_reason");
	}
	json_str(&j, "message", s->exit_message);
	out = xstrdup(json_end(&j));
	json_release(&j);
	return out;
}


/* --- btdownload: one download on its own reactor ------------------------- */

/* A hook still running at exit is waited for this long, then left. */
#define DL_HOOK_WAIT_MS	30000

struct run {
	const struct pa_config *cfg;
	struct rawserver *rs;
	struct download_env env;
	struct download *d;
	struct listener *ls;
	FILE *logfp;
	bool tty, display, stopped;
	uint64_t display_task;
};

/*
 * The listener's lookup: an incoming peer for our torrent goes to its
 * encoder once it has one (not while checking); anything else is refused.
 */
static struct encoder *
run_lookup(void *ctx, const uint8_t info_hash[20])
{
	struct run *run = ctx;

	if (run->d == NULL ||
	    memcmp(download_info_hash(run->d), info_hash, 20) != 0)
		return NULL;
	return download_encoder(run->d);
}

static void
run_end(void *ctx, struct download *d)
{
	struct run *run = ctx;

	(void)d;
	rs_stop(run->rs);
}

static void run_display(struct run *run);

/* The first status line comes as soon as the check is over. */
static void
run_checked(void *ctx, struct download *d)
{
	struct run *run = ctx;

	(void)d;
	if (run->display)
		run_display(run);
}

static void
run_stopped(void *ctx, struct download *d)
{
	struct run *run = ctx;

	(void)d;
	run->stopped = true;
	rs_stop(run->rs);
}

int
run__cols(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

void
run__print_json(struct download *d)
{
	struct download_status s;
	char *line;

	download_get_status(d, &s);
	line = run_status_json(&s);
	printf("%s\n", line);
	fflush(stdout);
	free(line);
}

/*
 * --status-json when set-up failed (bad torrent, locked, ...): the same
 * keys, with nulls and zeros for what is not known.
 */
static void
run_print_failure_json(int code, const char *msg)
{
	struct download_status s;
	char esc[LOG_ESC_LEN], *line;

	memset(&s, 0, sizeof(s));
	s.state = "stopped";
	s.eta = -1;
	s.exit_code = code;
	s.exit_message = log_safe(esc, sizeof(esc), msg);
	line = run_status_json(&s);
	printf("%s\n", line);
	fflush(stdout);
	free(line);
}

void
run__fb_status(const struct download_status *s, struct fb_status *f)
{
	memset(f, 0, sizeof(*f));
	f->state = s->state;
	f->done = s->done;
	f->total = s->total;
	f->down_rate = s->down_rate;
	f->up_rate = s->up_rate;
	f->downloaded = s->downloaded;
	f->uploaded = s->uploaded;
	f->peers = s->peers;
	f->seeds = s->seeds;
	f->eta = s->eta;
}

double
run__display_interval(const struct pa_config *cfg, bool tty)
{
	if (cfg->display_interval > 0)
		return cfg->display_interval;
	return tty ? 0.5 : 1.0;
}

static void
run_display(struct run *run)
{
	struct download_status s;
	struct fb_status f;

	if (run->cfg->spew)
		download_spew(run->d, run->tty);
	if (run->cfg->status_json && !run->tty) {
		run__print_json(run->d);
		return;
	}
	download_get_status(run->d, &s);
	run__fb_status(&s, &f);
	fb_print(stdout, run->tty, &f, run__cols());
}

static void
run_display_task(void *arg)
{
	struct run *run = arg;

	run_display(run);
	run->display_task = rs_add_task(run->rs,
	    (uint64_t)(run__display_interval(run->cfg, run->tty) * 1000),
	    run_display_task,
	    run);
}

struct rawserver *
run__reactor(const struct pa_config *cfg, int *out_code, struct bt_err *err)
{
	struct rs_config rc = RS_CONFIG_DEFAULT;
	struct rawserver *rs;

	rc.timeout_ms = (uint32_t)(cfg->timeout * 1000);
	rc.timeout_check_ms = (uint32_t)(cfg->timeout_check_interval * 1000);
	rc.connect_timeout_ms = (uint32_t)(cfg->connect_timeout * 1000);
	rc.max_conns = cfg->max_allow_in;
	if (cfg->tcp_congestion[0] != '\0') {
		size_t n = strlen(cfg->tcp_congestion);
		int r = n < sizeof(rc.tcp_congestion) ?
		    rs_check_congestion(cfg->tcp_congestion) : -ENOENT;

		if (r < 0) {
			bt_err_set(err, r, "cannot use TCP congestion control "
			    "\"%s\": %s", cfg->tcp_congestion,
			    r == -ENOENT ? "not available here (see "
			    "/proc/sys/net/ipv4/tcp_available_congestion_control)" :
			    r == -EPERM ? "not allowed for this user (see "
			    "/proc/sys/net/ipv4/tcp_allowed_congestion_control)" :
			    strerror(-r));
			*out_code = DOWNLOAD_EXIT_USAGE;
			return NULL;
		}
		memcpy(rc.tcp_congestion, cfg->tcp_congestion, n + 1);
	}
	*out_code = DOWNLOAD_EXIT_ERROR;
	if ((rs = rs_new(&rc)) == NULL)
		bt_err_set(err, -errno, "cannot create the reactor: %s",
		    strerror(errno));
	return rs;
}

int
run__listen(struct rawserver *rs, const struct pa_config *cfg,
    ls_lookup_fn *lookup, void *ctx, struct listener **out_ls,
    struct bt_err *err)
{
	int port;

	*out_ls = ls_new(rs, lookup, ctx);
	ls_set_max_per_host(*out_ls, cfg->max_conns_per_ip);
	port = ls_listen(*out_ls, cfg->bind, (int)cfg->minport,
	    (int)cfg->maxport, err);
	if (port < 0) {
		bt_err_prefix(err, "cannot listen");
		return -1;
	}
	if (cfg->bind[0] != '\0' && rs_set_bind(rs, cfg->bind) < 0) {
		bt_err_set(err, -EINVAL, "cannot bind outgoing connections "
		    "to %s", cfg->bind);
		return -1;
	}
	log_info("listening on port %d", port);
	return port;
}

int
run__ready(const struct pa_config *cfg, struct daemon_ctx *dc, FILE **logfp,
    struct bt_err *err)
{
	/* The pid file exists by the time a --daemon parent returns. */
	if (cfg->pidfile[0] != '\0' &&
	    daemon_write_pidfile(cfg->pidfile, err) < 0)
		return -1;
	if (daemon_ready(dc, cfg->logfile[0] != '\0' ? cfg->logfile : NULL,
	    err) < 0)
		return -1;
	if (cfg->daemon && run__logging(cfg, logfp, err) < 0)
		return -1;
	return 0;
}

int
run__logging(const struct pa_config *cfg, FILE **out_fp, struct bt_err *err)
{
	*out_fp = NULL;
	if (cfg->daemon && cfg->logfile[0] == '\0') {
		log_set_syslog(true);
		return 0;
	}
	if (cfg->daemon || cfg->logfile[0] == '\0')
		return 0;
	*out_fp = fopen(cfg->logfile, "a");
	if (*out_fp == NULL)
		return bt_err_set(err, -errno, "%s: %s", cfg->logfile,
		    strerror(errno));
	log_set_stream(*out_fp);
	return 0;
}

/* Everything up to the reactor loop; an exit status on failure. */
static int
run_setup(struct run *run, struct daemon_ctx *dc, struct bt_err *err)
{
	const struct pa_config *cfg = run->cfg;
	int code = 0, port;

	if ((run->rs = run__reactor(cfg, &code, err)) == NULL)
		return code;
	run->env.rs = run->rs;
	run->env.res = res_new(run->rs);
	run->env.end = run_end;
	run->env.checked = run_checked;
	run->env.ctx = run;
	if (!cfg->daemon && run__logging(cfg, &run->logfp, err) < 0)
		return DOWNLOAD_EXIT_ERROR;
	run->d = download_new(cfg, cfg->responsefile, NULL, &run->env, &code,
	    err);
	if (run->d == NULL)
		return code;
	port = run__listen(run->rs, cfg, run_lookup, run, &run->ls, err);
	if (port < 0)
		return DOWNLOAD_EXIT_ERROR;
	run->env.port = (uint16_t)port;
	return run__ready(cfg, dc, &run->logfp, err) < 0 ?
	    DOWNLOAD_EXIT_ERROR : 0;
}

/* After the loop: the exit status, stop, hooks, the final lines. */
static int
run_finish(struct run *run, int sig)
{
	struct download *d = run->d;
	int code;

	if (sig > 0)
		download_interrupted(d, sig);
	else if (sig < 0 && download_exit_code(d) < 0)
		log_warn("reactor failed: %s", strerror(-sig));
	if (run->display_task != 0)
		rs_cancel_task(run->rs, run->display_task);
	if (run->tty && run->display)
		printf("\n");
	download_stop(d, run_stopped, run);
	if (!run->stopped)
		rs_run(run->rs);
	download_wait_hooks(d, DL_HOOK_WAIT_MS);
	if (run->cfg->status_json)
		run__print_json(d);
	code = download_exit_code(d);
	if (code < 0)
		code = DOWNLOAD_EXIT_ERROR;
	return code;
}

/* The last line on stderr says why (only on failure, unless -v). */
static void
run_say_why(const struct run *run, int code, const char *text)
{
	char esc[LOG_ESC_LEN];
	const char *msg = log_safe(esc, sizeof(esc), text);

	if (code == DOWNLOAD_EXIT_OK) {
		log_info("%s (exit status 0)", msg);
		return;
	}
	log_error("%s (exit status %d)", msg, code);
	if (run->logfp != NULL)
		fprintf(stderr, "%s: %s (exit status %d)\n", log_prog(), msg,
		    code);
}

static void
run_free(struct run *run)
{
	download_free(run->d);
	ls_free(run->ls);
	res_free(run->env.res);
	rs_free(run->rs);
	if (run->cfg->pidfile[0] != '\0')
		daemon_remove_pidfile(run->cfg->pidfile);
	if (run->logfp != NULL) {
		log_set_stream(NULL);
		fclose(run->logfp);
	}
}

int
run_single(const struct pa_config *cfg)
{
	struct daemon_ctx dc = DAEMON_CTX_INIT;
	struct bt_err err = BT_ERR_INIT;
	char msg[BT_ERR_MSGLEN];
	struct run run;
	bool parent;
	int code;

	memset(&run, 0, sizeof(run));
	run.cfg = cfg;
	if (cfg->daemon && daemon_start(&dc, &parent, &code, &err) < 0) {
		log_error("%s", err.msg);
		return DOWNLOAD_EXIT_ERROR;
	}
	if (cfg->daemon && parent)
		return code;
	run.tty = !cfg->daemon && isatty(STDOUT_FILENO) == 1;
	run.display = !cfg->daemon || cfg->display_interval > 0;
	code = run_setup(&run, &dc, &err);
	if (code != 0) {
		snprintf(msg, sizeof(msg), "%s", err.msg);
		if (cfg->status_json)
			run_print_failure_json(code, msg);
	} else {
		download_start(run.d);
		if (run.display)
			run.display_task = rs_add_task(run.rs,
			    (uint64_t)(run__display_interval(cfg, run.tty) * 1000),
			    run_display_task, &run);
		code = run_finish(&run, rs_run(run.rs));
		snprintf(msg, sizeof(msg), "%s", download_exit_message(run.d));
	}
	run_say_why(&run, code, msg);
	run_free(&run);
	return code;
}

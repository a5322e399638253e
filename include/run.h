/*
 * run: drive downloads on one reactor, for the programs.
 *
 * run_single() is btdownload: one download with its own reactor, listener
 * and resolver; --daemon, --pidfile and --logfile; the status display (a
 * redrawn line on a terminal, key=value or --status-json lines otherwise,
 * and one JSON object at exit); SIGINT and SIGTERM; and the exit status,
 * with the last line on stderr saying why.
 */
#ifndef BT_RUN_H
#define BT_RUN_H

#include <stdbool.h>
#include <stdio.h>

#include "listener.h"

struct download_status;
struct pa_config;

/* Run one download to the end; returns an enum download_exit value. */
int run_single(const struct pa_config *cfg);

/*
 * One JSON object (no newline) for s, the --status-json line; the keys
 * are stable and documented in btdownload(1).  A new string: free(3) it.
 */
char *run_status_json(const struct download_status *s);

/* Shared with launchmany.c. */
struct bt_err;
struct daemon_ctx;
struct download;
struct rawserver;
/* The reactor with btdownload's timeouts, connection cap and TCP
 * congestion control; NULL with err set and *out_code the exit status
 * (usage when --tcp_congestion names one this host does not let us use). */
struct rawserver *run__reactor(const struct pa_config *cfg, int *out_code,
    struct bt_err *err);
/*
 * Listen on --bind / --minport..--maxport for the torrents lookup()
 * finds, and make outgoing connections from --bind too.  The port, or
 * -1 with err set; *out_ls is set either way (ls_free() it).
 */
int run__listen(struct rawserver *rs, const struct pa_config *cfg,
    ls_lookup_fn *lookup, void *ctx,
    struct listener **out_ls, struct bt_err *err);
/*
 * The end of start-up: the pid file, daemon_ready() (the --daemon parent
 * returns), then the log (see run__logging).  0 or -1 with err set.
 */
int run__ready(const struct pa_config *cfg, struct daemon_ctx *dc,
    FILE **logfp, struct bt_err *err);
/* The terminal's width, 80 if unknown. */
int run__cols(void);
struct fb_status;
/* What the status display shows of a download's status s. */
void run__fb_status(const struct download_status *s, struct fb_status *f);
/* Seconds between status lines: --display_interval, else 0.5 on a
 * terminal and 1 otherwise. */
double run__display_interval(const struct pa_config *cfg, bool tty);
/* One --status-json line for d on stdout (btdownload and btlaunchmany). */
void run__print_json(struct download *d);
/*
 * Where log lines go: --logfile (opened into *out_fp; under --daemon
 * stderr already is the log file), else syslog under --daemon, else
 * stderr.  Call after daemon_ready() when daemonized.
 */
int run__logging(const struct pa_config *cfg, FILE **out_fp,
    struct bt_err *err);

#endif

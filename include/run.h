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

#include <stdio.h>

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
struct download;
struct rawserver;
/* The reactor with btdownload's timeouts and connection cap. */
struct rawserver *run__reactor(const struct pa_config *cfg);
/* The terminal's width, 80 if unknown. */
int run__cols(void);
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

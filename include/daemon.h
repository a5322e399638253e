/*
 * daemon: --daemon and --pidfile.
 *
 * daemon_start() forks once.  The child becomes a session leader (setsid:
 * no controlling terminal, no SIGHUP from it), keeps the working directory
 * and umask, and keeps stdin, stdout and stderr until daemon_ready(), so a
 * set-up error (bad torrent, locked) still reaches the terminal.  The
 * parent waits: it learns either that the child is ready (exit 0) or the
 * child's exit status when it died first, and returns that to be exited
 * with.  So "btdownload --daemon x.torrent || echo failed" works.
 */
#ifndef BT_DAEMON_H
#define BT_DAEMON_H

#include <stdbool.h>

struct bt_err;

struct daemon_ctx {
	int fd;		/* child: write end of the readiness pipe, or -1 */
};

#define DAEMON_CTX_INIT { -1 }

/*
 * Fork.  In the child returns 0 with *out_parent false.  In the parent
 * waits as above and returns 0 with *out_parent true and *out_code the
 * status to exit with.  -errno (err set) if the pipe or fork failed.
 */
int daemon_start(struct daemon_ctx *dc, bool *out_parent, int *out_code,
    struct bt_err *err);
/*
 * In the child, once set-up passed: stdin from /dev/null, stdout and
 * stderr to logfile (appended; NULL: /dev/null), then release the parent.
 * A no-op when dc was not started.  0 or -errno (err set).
 */
int daemon_ready(struct daemon_ctx *dc, const char *logfile,
    struct bt_err *err);

/* Write our pid to path (a temporary file renamed over it). */
int daemon_write_pidfile(const char *path, struct bt_err *err);
/* Remove path if it still holds our pid. */
void daemon_remove_pidfile(const char *path);

#endif

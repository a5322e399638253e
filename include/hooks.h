/*
 * hooks: run the user's commands when a download completes or its seeding
 * policy is met (--on-complete, --on-seed-done), without blocking the
 * reactor and without ever splicing our data into a command line.
 *
 * A hook runs as
 *
 *	/bin/sh -c CMD sh NAME INFOHASH PATH
 *
 * CMD is the user's text, parsed by the shell as written; the torrent's
 * name, its info hash (40 lowercase hex digits) and the save path are the
 * positional parameters $1, $2 and $3, and are also in the environment as
 * BT_NAME, BT_INFOHASH and BT_PATH.  A name holding quotes, spaces or ';'
 * is therefore only ever data.  stdin is /dev/null; stdout and stderr are
 * ours (the log file under --daemon).  Signal dispositions are reset.
 *
 * Children are reaped with waitpid(pid, WNOHANG) from hook_reap(), which
 * the owner calls from a periodic task; hook_wait() waits for the rest, a
 * bounded time, at exit.  Only our own children's pids are waited for.
 */
#ifndef BT_HOOKS_H
#define BT_HOOKS_H

#include <stddef.h>
#include <stdint.h>

struct hooks;

struct hook_args {
	const char *name;
	const char *info_hash;
	const char *path;
};

struct hooks *hook_new(void);
/* Forget the children still running (they go on); NULL is a no-op. */
void hook_free(struct hooks *hk);

/*
 * Start cmd.  what names it in log lines ("--on-complete").  Returns 0 or
 * the -errno of fork(); a command that cannot be run shows up as exit
 * status 127 when it is reaped.
 */
int hook_run(struct hooks *hk, const char *what, const char *cmd,
    const struct hook_args *a);
/* Reap the children that have exited (logging any failure); how many are
 * still running. */
size_t hook_reap(struct hooks *hk);
/* Wait up to timeout_ms for the running ones; how many are still running. */
size_t hook_wait(struct hooks *hk, uint32_t timeout_ms);

#endif

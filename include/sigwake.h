/*
 * sigwake: SIGINT and SIGTERM turned into bytes on a self-pipe, so that
 * the rawserver's poll() wakes up for them.  A signal that lands between
 * the loop's check of its stop flag and poll() still wakes it, since the
 * byte waits in the pipe.
 *
 * It owns the pipe, the two handlers (installed without SA_RESTART, so a
 * blocked poll() returns EINTR) and the handlers they replaced, which
 * sigwake_release() puts back.  Only one sigwake at a time owns the
 * signals: the handler reaches the pipe through the file's one global.
 * It knows nothing of poll(): the owner watches fds[0] and calls
 * sigwake_read() when it is readable.
 */
#ifndef BT_SIGWAKE_H
#define BT_SIGWAKE_H

#include <signal.h>
#include <stdbool.h>

struct sigwake {
	int fds[2];		/* [0] to poll, [1] for the handler; or -1 */
	bool owner;		/* our handlers are installed */
	struct sigaction old_int, old_term;
};

void sigwake_init(struct sigwake *sw);
/*
 * Make the pipe and install the handlers.  1: sw owns SIGINT/SIGTERM and
 * fds[0] is to be watched.  0: another sigwake owns them; nothing done.
 * -errno: no pipe.  Call sigwake_release() after any of them.
 */
int sigwake_take(struct sigwake *sw);
/* Drain the pipe: the last signal caught since the last call, or 0. */
int sigwake_read(struct sigwake *sw);
/* Put the old handlers back (when owned) and close the pipe. */
void sigwake_release(struct sigwake *sw);

#endif

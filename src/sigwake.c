/*
 * sigwake: the self-pipe trick for SIGINT and SIGTERM, see sigwake.h.
 */
#include "sigwake.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sockutil.h"

/*
 * The write end of the owner's pipe.  A signal handler can reach nothing
 * but file-scope state, so this (and not a stop flag) is the reactor's
 * one exception to "no mutable globals" (STYLE.md 8.2 rule 5).
 */
static volatile sig_atomic_t sigwake_wfd = -1;

static void
on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	if (sigwake_wfd >= 0)
		(void)!write(sigwake_wfd, &b, 1);
	errno = saved;
}

void
sigwake_init(struct sigwake *sw)
{
	memset(sw, 0, sizeof(*sw));
	sw->fds[0] = sw->fds[1] = -1;
}

int
sigwake_take(struct sigwake *sw)
{
	struct sigaction sa;

	if (sigwake_wfd >= 0) {
		log_debug("another reactor owns SIGINT/SIGTERM");
		return 0;
	}
	if (pipe(sw->fds) < 0)
		return -errno;
	if (sock_set_nonblock_cloexec(sw->fds[0]) < 0 ||
	    sock_set_nonblock_cloexec(sw->fds[1]) < 0)
		return -errno;
	sigwake_wfd = sw->fds[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: poll() returns EINTR */
	sigaction(SIGINT, &sa, &sw->old_int);
	sigaction(SIGTERM, &sa, &sw->old_term);
	sw->owner = true;
	return 1;
}

int
sigwake_read(struct sigwake *sw)
{
	unsigned char buf[64];
	ssize_t n;
	int sig = 0;

	for (;;) {
		n = read(sw->fds[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		sig = buf[n - 1];
	}
	return sig;
}

void
sigwake_release(struct sigwake *sw)
{
	if (sw->owner) {
		sigaction(SIGINT, &sw->old_int, NULL);
		sigaction(SIGTERM, &sw->old_term, NULL);
		sigwake_wfd = -1;
		sw->owner = false;
	}
	for (int i = 0; i < 2; i++) {
		if (sw->fds[i] >= 0)
			close(sw->fds[i]);
		sw->fds[i] = -1;
	}
}

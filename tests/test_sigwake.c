/*
 * test_sigwake: SIGINT/SIGTERM become bytes on the pipe (the last one
 * wins), only one sigwake owns the signals, the pipe is non-blocking and
 * close-on-exec, a blocked poll() wakes up, and release puts the previous
 * handlers back.
 */
#include "sigwake.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* The handlers a sigwake replaces: they count and keep the last signal. */
static volatile sig_atomic_t old_hits, old_last;

static void
old_handler(int sig)
{
	old_hits++;
	old_last = sig;
}

static void
set_handler(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void
test_take_read_release(void)
{
	struct sigwake a, b;
	struct sigaction cur;

	set_handler(SIGTERM, old_handler);
	set_handler(SIGINT, old_handler);
	sigwake_init(&a);
	sigwake_init(&b);
	CHECK(a.fds[0] == -1 && a.fds[1] == -1 && !a.owner);
	CHECK_INT_EQ(sigwake_take(&a), 1);
	CHECK(a.owner);
	CHECK(a.fds[0] >= 0 && a.fds[1] >= 0);
	for (int i = 0; i < 2; i++) {
		CHECK(fcntl(a.fds[i], F_GETFL) & O_NONBLOCK);
		CHECK(fcntl(a.fds[i], F_GETFD) & FD_CLOEXEC);
	}
	/* A second one does not take the signals from the first. */
	CHECK_INT_EQ(sigwake_take(&b), 0);
	CHECK(!b.owner && b.fds[0] == -1);
	sigwake_release(&b);
	/* Nothing caught yet; then the last of several wins. */
	CHECK_INT_EQ(sigwake_read(&a), 0);
	raise(SIGTERM);
	CHECK_INT_EQ(sigwake_read(&a), SIGTERM);
	CHECK_INT_EQ(sigwake_read(&a), 0);
	raise(SIGTERM);
	raise(SIGINT);
	CHECK_INT_EQ(sigwake_read(&a), SIGINT);
	CHECK_INT_EQ(old_hits, 0);
	sigwake_release(&a);
	CHECK(!a.owner && a.fds[0] == -1 && a.fds[1] == -1);
	sigwake_release(&a);	/* twice is harmless */
	/* The previous handlers are back. */
	sigaction(SIGTERM, NULL, &cur);
	CHECK(cur.sa_handler == old_handler);
	raise(SIGTERM);
	CHECK_INT_EQ(old_last, SIGTERM);
	raise(SIGINT);
	CHECK_INT_EQ(old_last, SIGINT);
	CHECK_INT_EQ(old_hits, 2);
	/* Once released, another may take them. */
	CHECK_INT_EQ(sigwake_take(&b), 1);
	raise(SIGINT);
	CHECK_INT_EQ(sigwake_read(&b), SIGINT);
	sigwake_release(&b);
	set_handler(SIGTERM, SIG_DFL);
	set_handler(SIGINT, SIG_DFL);
}

/*
 * A signal from another process during a blocked poll(): the poll ends
 * (EINTR, or readable) at once, and the byte is there to read.
 */
static void
test_wakes_poll(void)
{
	struct sigwake sw;
	struct pollfd pfd;
	struct timeval t0, t1;
	pid_t child;
	int r, st;

	sigwake_init(&sw);
	CHECK_INT_EQ(sigwake_take(&sw), 1);
	child = fork();
	if (child == 0) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		kill(getppid(), SIGTERM);
		_exit(0);
	}
	pfd.fd = sw.fds[0];
	pfd.events = POLLIN;
	gettimeofday(&t0, NULL);
	r = poll(&pfd, 1, 5000);
	gettimeofday(&t1, NULL);
	CHECK(r == 1 || (r < 0 && errno == EINTR));
	CHECK(t1.tv_sec - t0.tv_sec < 3);
	CHECK_INT_EQ(poll(&pfd, 1, 0), 1);
	CHECK_INT_EQ(sigwake_read(&sw), SIGTERM);
	CHECK_INT_EQ(waitpid(child, &st, 0), child);
	sigwake_release(&sw);
}

int
main(void)
{
	CHECK_RUN(test_take_read_release, test_wakes_poll);
}

/*
 * hooks: see the header.
 */
#include "hooks.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xmalloc.h"

#define HOOK_SHELL	"/bin/sh"
#define HOOK_POLL_MS	20

struct hook_child {
	pid_t pid;
	const char *what;	/* a literal from the caller */
};

struct hooks {
	struct hook_child *v;
	size_t n, cap;
};

struct hooks *
hook_new(void)
{
	return xcalloc(1, sizeof(struct hooks));
}

void
hook_free(struct hooks *hk)
{
	if (hk == NULL)
		return;
	free(hk->v);
	free(hk);
}

/* In the child: back to a plain process, then exec the shell. */
static _Noreturn void
hook_exec(const char *cmd, const struct hook_args *a)
{
	static const int sigs[] = { SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD };
	sigset_t none;
	int fd;

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != STDIN_FILENO) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	if (setenv("BT_NAME", a->name, 1) < 0 ||
	    setenv("BT_INFOHASH", a->info_hash, 1) < 0 ||
	    setenv("BT_PATH", a->path, 1) < 0)
		_exit(127);
	execl(HOOK_SHELL, "sh", "-c", cmd, "sh", a->name, a->info_hash,
	    a->path, (char *)NULL);
	_exit(127);
}

int
hook_run(struct hooks *hk, const char *what, const char *cmd,
    const struct hook_args *a)
{
	pid_t pid;

	/* Nothing buffered may be written twice. */
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_warn("%s: cannot start the hook: %s", what,
		    strerror(errno));
		return -errno;
	}
	if (pid == 0)
		hook_exec(cmd, a);
	if (hk->n == hk->cap) {
		hk->cap = hk->cap ? hk->cap * 2 : 4;
		hk->v = xreallocarray(hk->v, hk->cap, sizeof(*hk->v));
	}
	hk->v[hk->n].pid = pid;
	hk->v[hk->n].what = what;
	hk->n++;
	log_info("%s: started the hook (pid %ld)", what, (long)pid);
	return 0;
}

static void
hook_report(const struct hook_child *c, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("%s: the hook succeeded", c->what);
	else if (WIFEXITED(status))
		log_warn("%s: the hook exited with status %d", c->what,
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_warn("%s: the hook was killed by signal %d", c->what,
		    WTERMSIG(status));
}

size_t
hook_reap(struct hooks *hk)
{
	size_t k = 0;
	int status;
	pid_t r;

	for (size_t i = 0; i < hk->n; i++) {
		r = waitpid(hk->v[i].pid, &status, WNOHANG);
		if (r == hk->v[i].pid)
			hook_report(&hk->v[i], status);
		/* 0: still running; -1 (ECHILD): someone else reaped it. */
		if (r == 0)
			hk->v[k++] = hk->v[i];
	}
	hk->n = k;
	return k;
}

size_t
hook_wait(struct hooks *hk, uint32_t timeout_ms)
{
	struct timespec ts = { 0, HOOK_POLL_MS * 1000000L };
	uint32_t waited = 0;

	while (hook_reap(hk) > 0 && waited < timeout_ms) {
		nanosleep(&ts, NULL);
		waited += HOOK_POLL_MS;
	}
	for (size_t i = 0; i < hk->n; i++)
		log_warn("%s: the hook (pid %ld) is still running; leaving it",
		    hk->v[i].what, (long)hk->v[i].pid);
	return hk->n;
}

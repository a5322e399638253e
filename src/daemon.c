/*
 * daemon: see the header.
 */
#include "daemon.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bterr.h"
#include "xmalloc.h"

/* Parent: wait for the child's "ready" byte, or its death. */
static int
daemon_wait_child(int fd, pid_t pid)
{
	unsigned char b;
	ssize_t n;
	int st;

	do {
		n = read(fd, &b, 1);
	} while (n < 0 && errno == EINTR);
	close(fd);
	if (n == 1)
		return 0;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 1;
}

int
daemon_start(struct daemon_ctx *dc, bool *out_parent, int *out_code,
    struct bt_err *err)
{
	int p[2];
	pid_t pid;

	*out_parent = false;
	if (pipe(p) < 0)
		return bt_err_set(err, -errno, "cannot daemonize: %s",
		    strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return bt_err_set(err, -errno, "cannot daemonize: %s",
		    strerror(errno));
	}
	if (pid > 0) {
		close(p[1]);
		*out_parent = true;
		*out_code = daemon_wait_child(p[0], pid);
		return 0;
	}
	close(p[0]);
	if (fcntl(p[1], F_SETFD, FD_CLOEXEC) < 0 || setsid() < 0) {
		close(p[1]);
		return bt_err_set(err, -errno, "cannot daemonize: %s",
		    strerror(errno));
	}
	dc->fd = p[1];
	return 0;
}

static int
daemon_redirect(const char *path, int flags, int target)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	if (dup2(fd, target) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

int
daemon_ready(struct daemon_ctx *dc, const char *logfile, struct bt_err *err)
{
	const char *out = logfile != NULL ? logfile : "/dev/null";
	int flags = O_WRONLY | (logfile != NULL ? O_CREAT | O_APPEND : 0);
	unsigned char b = 0;
	int r;

	if (dc->fd < 0)
		return 0;
	fflush(NULL);
	r = daemon_redirect("/dev/null", O_RDONLY, STDIN_FILENO);
	if (r == 0)
		r = daemon_redirect(out, flags, STDOUT_FILENO);
	if (r == 0 && dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
		r = -errno;
	if (r < 0)
		return bt_err_set(err, r, "%s: %s", out, strerror(-r));
	while (write(dc->fd, &b, 1) < 0 && errno == EINTR)
		continue;
	close(dc->fd);
	dc->fd = -1;
	return 0;
}

int
daemon_write_pidfile(const char *path, struct bt_err *err)
{
	size_t n = strlen(path);
	char *tmp = xmalloc(n + sizeof(".tmp"));
	FILE *fp;
	int r = 0;

	memcpy(tmp, path, n);
	memcpy(tmp + n, ".tmp", sizeof(".tmp"));
	fp = fopen(tmp, "w");
	if (fp == NULL)
		r = -errno;
	else if (fprintf(fp, "%ld\n", (long)getpid()) < 0)
		r = -EIO;
	if (fp != NULL && fclose(fp) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		bt_err_set(err, r, "%s: %s", path, strerror(-r));
	}
	free(tmp);
	return r;
}

void
daemon_remove_pidfile(const char *path)
{
	FILE *fp = fopen(path, "r");
	long pid = 0;

	if (fp == NULL)
		return;
	if (fscanf(fp, "%ld", &pid) != 1)
		pid = 0;
	fclose(fp);
	if (pid == (long)getpid())
		unlink(path);
}

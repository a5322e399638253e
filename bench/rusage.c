/*
 * rusage: run a command and report what it cost until it was done.
 *
 *	rusage [-o OUT] [-l LOG] [-s STRING] [-d FILE] [-x] [-t SECONDS]
 *	    -- COMMAND [ARG...]
 *
 * The command runs with stdin from /dev/null and stdout and stderr to LOG
 * (default /dev/null).  It is "done" when LOG contains STRING (-s), when
 * FILE exists (-d), or, with -x, when it exits with status 0.  At that
 * moment the wall time since the fork is taken, and the CPU time (user and
 * system, all threads) and peak resident set come from /proc/PID/stat and
 * /proc/PID/status; a command that exits by itself is measured by wait4()
 * instead.  A done command that has not exited is sent SIGTERM (SIGKILL
 * 10 s later).  SIGINT and SIGTERM sent to rusage are passed on.
 *
 * One line goes to OUT (default stderr):
 *
 *	status=done wall=1.234 user=0.456 sys=0.789 maxrss_kib=10900
 *
 * status is done, exit=N, signal=N or timeout.  rusage exits 0 when the
 * command was done, 1 otherwise.  Benchmark helper: Linux only.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_NS		2000000L	/* 2 ms between checks */
#define SCAN_MAX	(1 << 16)	/* log bytes read per check */

struct cost {
	double wall, user, sys;
	long maxrss_kib;
};

struct opts {
	const char *out, *log, *str, *donefile;
	bool exit_ok;
	double timeout;
};

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User and system seconds of every thread of pid, from /proc/PID/stat. */
static int
proc_cpu(pid_t pid, double *user, double *sys)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	double hz = (double)sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces: fields count from the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	*user = (double)ut / hz;
	*sys = (double)st / hz;
	return 0;
}

/* VmHWM of pid in KiB, or -1. */
static long
proc_hwm(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/*
 * Look for the string in the log's new bytes.  The last strlen-1 bytes of
 * each read are kept so that a match split across reads is found.
 */
static bool
log_has(int fd, const char *str, char *win, size_t *have)
{
	size_t len = strlen(str);
	ssize_t r;

	for (;;) {
		r = read(fd, win + *have, SCAN_MAX - *have - 1);
		if (r <= 0)
			return false;
		*have += (size_t)r;
		win[*have] = '\0';
		if (memmem(win, *have, str, len) != NULL)
			return true;
		if (*have >= len) {
			memmove(win, win + *have - (len - 1), len - 1);
			*have = len - 1;
		}
	}
}

static pid_t
start(char **argv, const char *log)
{
	pid_t pid = fork();
	int fd;

	if (pid != 0)
		return pid;
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0)
		dup2(fd, 0);
	fd = open(log != NULL ? log : "/dev/null",
	    O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	execvp(argv[0], argv);
	fprintf(stderr, "rusage: %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static void
stop(pid_t pid, int *status, struct rusage *ru)
{
	kill(pid, SIGTERM);
	for (int i = 0; i < 5000; i++) {
		if (wait4(pid, status, WNOHANG, ru) == pid)
			return;
		nanosleep(&(struct timespec){ 0, POLL_NS }, NULL);
	}
	kill(pid, SIGKILL);
	wait4(pid, status, 0, ru);
}

static void
cost_from_rusage(struct cost *c, const struct rusage *ru)
{
	c->user = (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6;
	c->sys = (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
	c->maxrss_kib = ru->ru_maxrss;
}

/*
 * The command is done: its cost now, from /proc, then stop it.  One that
 * already exited (a zombie has no VmHWM) is measured by wait4() instead.
 */
static void
done_cost(pid_t pid, struct cost *c)
{
	struct rusage ru;
	int status;
	bool ok;

	if (wait4(pid, &status, WNOHANG, &ru) == pid) {
		cost_from_rusage(c, &ru);
		return;
	}
	ok = proc_cpu(pid, &c->user, &c->sys) == 0;
	c->maxrss_kib = proc_hwm(pid);
	stop(pid, &status, &ru);
	if (!ok || c->maxrss_kib < 0)
		cost_from_rusage(c, &ru);
}

/* Watch the command until it is done, exits or times out. */
static const char *
watch(pid_t pid, const struct opts *o, struct cost *c, char *stbuf,
    size_t stlen)
{
	static char win[SCAN_MAX];
	double t0 = now_s();
	size_t have = 0;
	int logfd = o->str != NULL && o->log != NULL ?
	    open(o->log, O_RDONLY) : -1;
	struct rusage ru;
	struct stat sb;
	int status;

	for (;;) {
		if (wait4(pid, &status, WNOHANG, &ru) == pid) {
			c->wall = now_s() - t0;
			cost_from_rusage(c, &ru);
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
			    (o->exit_ok || (logfd >= 0 &&
			    log_has(logfd, o->str, win, &have))))
				return "done";
			if (WIFEXITED(status))
				snprintf(stbuf, stlen, "exit=%d",
				    WEXITSTATUS(status));
			else
				snprintf(stbuf, stlen, "signal=%d",
				    WTERMSIG(status));
			return stbuf;
		}
		if ((logfd >= 0 && log_has(logfd, o->str, win, &have)) ||
		    (o->donefile != NULL && stat(o->donefile, &sb) == 0)) {
			c->wall = now_s() - t0;
			done_cost(pid, c);
			return "done";
		}
		if (got_signal != 0) {
			kill(pid, got_signal);
			got_signal = 0;
		}
		if (o->timeout > 0 && now_s() - t0 > o->timeout) {
			c->wall = now_s() - t0;
			proc_cpu(pid, &c->user, &c->sys);
			c->maxrss_kib = proc_hwm(pid);
			stop(pid, &status, &ru);
			return "timeout";
		}
		nanosleep(&(struct timespec){ 0, POLL_NS }, NULL);
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: rusage [-o OUT] [-l LOG] [-s STRING] "
	    "[-d FILE] [-x] [-t SECONDS] -- COMMAND [ARG...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct opts o = { NULL, NULL, NULL, NULL, false, 0 };
	struct cost c = { 0, 0, 0, 0 };
	struct sigaction sa;
	char stbuf[32];
	const char *st;
	FILE *out = stderr;
	pid_t pid;
	int ch;

	while ((ch = getopt(argc, argv, "o:l:s:d:xt:")) != -1) {
		switch (ch) {
		case 'o': o.out = optarg; break;
		case 'l': o.log = optarg; break;
		case 's': o.str = optarg; break;
		case 'd': o.donefile = optarg; break;
		case 'x': o.exit_ok = true; break;
		case 't': o.timeout = atof(optarg); break;
		default: usage();
		}
	}
	if (optind >= argc || (o.str != NULL && o.log == NULL))
		usage();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (o.log != NULL)
		close(open(o.log, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	pid = start(argv + optind, o.log);
	if (pid < 0) {
		perror("rusage: fork");
		return 1;
	}
	st = watch(pid, &o, &c, stbuf, sizeof(stbuf));
	if (o.out != NULL && (out = fopen(o.out, "w")) == NULL)
		out = stderr;
	fprintf(out, "status=%s wall=%.3f user=%.3f sys=%.3f maxrss_kib=%ld\n",
	    st, c.wall, c.user, c.sys, c.maxrss_kib);
	if (out != stderr)
		fclose(out);
	return strcmp(st, "done") == 0 ? 0 : 1;
}

#include "hooks.h"

#include <signal.h>
#include <unistd.h>

#include "check.h"

static char tmproot[64];

/* The whole of a small file, NUL-terminated, into buf. */
static const char *
slurp(const char *path, char *buf, size_t n)
{
	FILE *fp = fopen(path, "r");
	size_t got = 0;

	buf[0] = '\0';
	if (fp == NULL)
		return buf;
	got = fread(buf, 1, n - 1, fp);
	buf[got] = '\0';
	fclose(fp);
	return buf;
}

/* Arguments and environment reach the command as data, never as code. */
static void
test_arguments(void)
{
	struct hooks *hk = hook_new();
	char cmd[256], out[128], buf[512];
	const char *evil = "it's a \"name\"; touch pwned $(id) `id`";
	struct hook_args a = { evil, "0123456789abcdef0123456789abcdef01234567",
	    "/srv/dl/x y" };

	snprintf(out, sizeof(out), "%s/args", tmproot);
	snprintf(cmd, sizeof(cmd), "cd %s && printf '%%s|%%s|%%s|%%s|%%s|"
	    "%%s\\n' \"$1\" \"$2\" \"$3\" \"$BT_NAME\" \"$BT_INFOHASH\" "
	    "\"$BT_PATH\" > args", tmproot);
	CHECK_OK(hook_run(hk, "--on-complete", cmd, &a));
	CHECK_INT_EQ(hook_wait(hk, 5000), 0);
	snprintf(buf, sizeof(buf), "%s|%s|%s|%s|%s|%s\n", a.name,
	    a.info_hash, a.path, a.name, a.info_hash, a.path);
	CHECK_STR_EQ(slurp(out, cmd, sizeof(cmd)), buf);
	snprintf(out, sizeof(out), "%s/pwned", tmproot);
	CHECK(access(out, F_OK) != 0);
	snprintf(out, sizeof(out), "pwned");
	CHECK(access(out, F_OK) != 0);
	hook_free(hk);
}

static void
test_reap_and_wait(void)
{
	struct hooks *hk = hook_new();
	struct hook_args a = { "n", "h", "p" };
	char cmd[128];

	CHECK_OK(hook_run(hk, "--on-seed-done", "exit 3", &a));
	CHECK_OK(hook_run(hk, "--on-seed-done", "sleep 0.2", &a));
	CHECK_INT_EQ(hook_wait(hk, 5000), 0);
	CHECK_INT_EQ(hook_reap(hk), 0);
	/* A hook that runs too long is left running, not waited for. */
	CHECK_OK(hook_run(hk, "--on-complete", "sleep 3", &a));
	CHECK_INT_EQ(hook_reap(hk), 1);
	CHECK_INT_EQ(hook_wait(hk, 100), 1);
	hook_free(hk);
	/* A command that does not exist is status 127, not a crash. */
	hk = hook_new();
	snprintf(cmd, sizeof(cmd), "%s/no-such-program", tmproot);
	CHECK_OK(hook_run(hk, "--on-complete", cmd, &a));
	CHECK_INT_EQ(hook_wait(hk, 5000), 0);
	hook_free(hk);
	hook_free(NULL);
}

int
main(void)
{
	char cmd[128];
	int r;

	snprintf(tmproot, sizeof(tmproot), "/tmp/test_hooks.XXXXXX");
	if (mkdtemp(tmproot) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	/* The reactor ignores SIGPIPE; hooks must not inherit that. */
	signal(SIGPIPE, SIG_IGN);
	{
		check_test_fn *const tests[] = { test_arguments,
		    test_reap_and_wait };

		r = check_run_(tests, sizeof(tests) / sizeof(tests[0]));
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmproot);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmproot);
	return r;
}

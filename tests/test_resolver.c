#include "resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "rawserver.h"

struct answer {
	struct rawserver *rs;
	struct resolver *res;	/* freed by the callback when free_res */
	bool free_res;
	bool inside;		/* set while res_lookup runs */
	int calls;
	bool called_inside;
	int err;
	size_t naddrs;
	struct sockaddr_storage first;
	bool any_loopback;
};

static struct rawserver *
new_rs(void)
{
	struct rs_config cfg = RS_CONFIG_DEFAULT;

	cfg.close_on_signal = false;
	return rs_new(&cfg);
}

static void
stop_task(void *ctx)
{
	rs_stop(ctx);
}

/* Run the loop until a callback stops it, at most limit_ms. */
static void
run_for(struct rawserver *rs, uint64_t limit_ms)
{
	uint64_t t = rs_add_task(rs, limit_ms, stop_task, rs);

	rs_run(rs);
	rs_cancel_task(rs, t);
}

static bool
is_loopback(const struct sockaddr_storage *ss)
{
	static const uint8_t v6lo[16] = { [15] = 1 };

	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		    htonl(INADDR_LOOPBACK);
	if (ss->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr,
		    v6lo, 16) == 0;
	return false;
}

static void
on_answer(void *ctx, int err, const struct sockaddr_storage *addrs, size_t n)
{
	struct answer *a = ctx;

	a->calls++;
	a->called_inside |= a->inside;
	a->err = err;
	a->naddrs = n;
	if (n > 0)
		a->first = addrs[0];
	for (size_t i = 0; i < n; i++)
		a->any_loopback |= is_loopback(&addrs[i]);
	if (a->free_res) {
		res_free(a->res);
		a->res = NULL;
	}
	rs_stop(a->rs);
}

static void
lookup(struct answer *a, struct resolver *res, const char *host, uint16_t port)
{
	a->inside = true;
	res_lookup(res, host, port, on_answer, a);
	a->inside = false;
}

static uint16_t
port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void
test_numeric_pure(void)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;

	CHECK_OK(res_numeric("10.1.2.3", 6881, &ss, &len));
	CHECK_INT_EQ(ss.ss_family, AF_INET);
	CHECK_INT_EQ(len, sizeof(struct sockaddr_in));
	CHECK_INT_EQ(port_of(&ss), 6881);
	CHECK_OK(res_numeric("::1", 80, &ss, &len));
	CHECK_INT_EQ(ss.ss_family, AF_INET6);
	CHECK_INT_EQ(len, sizeof(struct sockaddr_in6));
	CHECK(is_loopback(&ss));
	CHECK_INT_EQ(res_numeric("localhost", 80, &ss, &len), -EINVAL);
	CHECK_INT_EQ(res_numeric("[::1]", 80, &ss, &len), -EINVAL);
	CHECK_INT_EQ(res_numeric("1.2.3.4.5", 80, &ss, &len), -EINVAL);
	CHECK_INT_EQ(res_numeric("", 80, &ss, &len), -EINVAL);
	CHECK_STR_EQ(res_strerror(-ENOENT), "name not found");
}

static void
test_numeric_deferred(void)
{
	struct rawserver *rs = new_rs();
	struct resolver *res = res_new(rs);
	struct answer a = { .rs = rs };

	lookup(&a, res, "127.0.0.1", 1234);
	CHECK_INT_EQ(a.calls, 0);
	run_for(rs, 2000);
	CHECK_INT_EQ(a.calls, 1);
	CHECK(!a.called_inside);
	CHECK_INT_EQ(a.err, 0);
	CHECK_INT_EQ(a.naddrs, 1);
	CHECK(is_loopback(&a.first));
	CHECK_INT_EQ(port_of(&a.first), 1234);
	/* Numeric lookups never start a child. */
	CHECK_INT_EQ(res__child_pid(res), -1);
	res_free(res);
	rs_free(rs);
}

static void
test_bad_names(void)
{
	struct rawserver *rs = new_rs();
	struct resolver *res = res_new(rs);
	struct answer a = { .rs = rs };
	char longname[400];

	lookup(&a, res, "", 1);
	run_for(rs, 2000);
	CHECK_INT_EQ(a.err, -EINVAL);
	lookup(&a, res, "a b", 1);
	run_for(rs, 2000);
	CHECK_INT_EQ(a.err, -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	lookup(&a, res, longname, 1);
	run_for(rs, 2000);
	CHECK_INT_EQ(a.err, -EINVAL);
	CHECK_INT_EQ(a.calls, 3);
	CHECK_INT_EQ(res__child_pid(res), -1);
	res_free(res);
	rs_free(rs);
}

static void
test_localhost_and_cache(void)
{
	struct rawserver *rs = new_rs();
	struct resolver *res = res_new(rs);
	struct answer a = { .rs = rs }, b = { .rs = rs };
	long pid;

	lookup(&a, res, "localhost", 8080);
	CHECK(res__child_pid(res) > 0);
	run_for(rs, 10000);
	CHECK_INT_EQ(a.calls, 1);
	CHECK(!a.called_inside);
	CHECK_INT_EQ(a.err, 0);
	CHECK(a.naddrs >= 1);
	CHECK(a.any_loopback);
	CHECK_INT_EQ(port_of(&a.first), 8080);
	/*
	 * Stop the child: a cached answer must not need it, and must carry
	 * the new port.
	 */
	pid = res__child_pid(res);
	kill((pid_t)pid, SIGSTOP);
	lookup(&b, res, "LOCALHOST", 99);
	run_for(rs, 2000);
	CHECK_INT_EQ(b.calls, 1);
	CHECK_INT_EQ(b.err, 0);
	CHECK_INT_EQ(port_of(&b.first), 99);
	kill((pid_t)pid, SIGCONT);
	res_free(res);
	rs_free(rs);
}

static void
test_timeout_and_restart(void)
{
	struct rawserver *rs = new_rs();
	struct resolver *res = res_new(rs);
	struct answer a = { .rs = rs }, b = { .rs = rs };
	long pid;

	res_set_timeouts(res, 300, 0);
	lookup(&a, res, "localhost", 1);
	run_for(rs, 10000);
	CHECK_INT_EQ(a.err, 0);
	pid = res__child_pid(res);
	CHECK(pid > 0);
	/* A stopped child answers nothing: the deadline fires. */
	kill((pid_t)pid, SIGSTOP);
	memset(&a, 0, sizeof(a));
	a.rs = rs;
	lookup(&a, res, "localhost", 1);
	run_for(rs, 5000);
	CHECK_INT_EQ(a.calls, 1);
	CHECK_INT_EQ(a.err, -ETIMEDOUT);
	/* A killed child is noticed and replaced for the next query. */
	kill((pid_t)pid, SIGKILL);
	res_set_timeouts(res, 10000, 0);
	lookup(&b, res, "localhost", 2);
	run_for(rs, 10000);
	CHECK_INT_EQ(b.calls, 1);
	CHECK_INT_EQ(b.err, 0);
	CHECK(res__child_pid(res) > 0);
	CHECK(res__child_pid(res) != pid);
	res_free(res);
	rs_free(rs);
}

static void
test_cancel(void)
{
	struct rawserver *rs = new_rs();
	struct resolver *res = res_new(rs);
	struct answer a = { .rs = rs }, b = { .rs = rs };
	uint64_t id1, id2;

	id1 = res_lookup(res, "localhost", 1, on_answer, &a);
	id2 = res_lookup(res, "127.0.0.1", 1, on_answer, &b);
	CHECK(id1 != 0 && id2 != 0 && id1 != id2);
	res_cancel(res, id1);
	res_cancel(res, id2);
	res_cancel(res, 12345);
	run_for(rs, 500);
	CHECK_INT_EQ(a.calls, 0);
	CHECK_INT_EQ(b.calls, 0);
	res_free(res);
	rs_free(rs);
}

static void
test_free_in_callback(void)
{
	struct rawserver *rs = new_rs();
	struct resolver *res = res_new(rs);
	struct answer a = { .rs = rs, .res = res, .free_res = true };
	struct answer b = { .rs = rs };

	/* Two answers are due; the first frees the resolver. */
	res_lookup(res, "127.0.0.1", 1, on_answer, &a);
	res_lookup(res, "::1", 1, on_answer, &b);
	res_lookup(res, "localhost", 1, on_answer, &b);
	run_for(rs, 2000);
	run_for(rs, 300);
	CHECK_INT_EQ(a.calls, 1);
	CHECK_INT_EQ(b.calls, 0);
	CHECK(a.res == NULL);
	rs_free(rs);
}

static void
test_free_with_pending(void)
{
	struct rawserver *rs = new_rs();
	struct resolver *res = res_new(rs);
	struct answer a = { .rs = rs };
	long pid;
	int st;

	res_lookup(res, "localhost", 1, on_answer, &a);
	pid = res__child_pid(res);
	res_free(res);
	/* The child was reaped by res_free. */
	CHECK(waitpid((pid_t)pid, &st, WNOHANG) < 0);
	run_for(rs, 300);
	CHECK_INT_EQ(a.calls, 0);
	rs_free(rs);
}

int
main(void)
{
	CHECK_RUN(test_numeric_pure, test_numeric_deferred, test_bad_names,
	    test_localhost_and_cache, test_timeout_and_restart, test_cancel,
	    test_free_in_callback, test_free_with_pending);
}

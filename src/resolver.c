#include "resolver.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bytes.h"
#include "log.h"
#include "rawserver.h"
#include "sockutil.h"
#include "xmalloc.h"

/*
 * Wire format between the reactor and the child, all integers big-endian:
 *
 *	request:  u32 len | u64 id | host (len - 8 bytes, no NUL)
 *	answer:   u32 len | u64 id | i32 err | u32 n | n * (u8 fam, 16 addr)
 *
 * The child is ours, but its answers are still length-checked: a frame
 * longer than RES_FRAME_MAX means the child is broken and is restarted.
 */
#define RES_ADDR_REC	17
#define RES_FRAME_MAX	(4 + 8 + 4 + 4 + RES_MAX_ADDRS * RES_ADDR_REC)
#define RES_REQ_MAX	(4 + 8 + RES_HOST_MAX)
#define RES_CACHE_MAX	32
#define RES_MAX_QUERIES	256	/* outstanding; more fail at once */
#define RES_MAX_TRIES	2	/* a query survives one child death */

struct res_query {
	struct res_query *next;
	struct resolver *res;
	uint64_t id;
	uint64_t task;		/* the deadline, or the delivery */
	res_fn *fn;
	void *ctx;
	uint16_t port;
	bool sent;		/* written to the current child */
	bool ready;		/* answered; delivery task pending */
	int tries;
	int err;
	size_t naddrs;
	struct sockaddr_storage addrs[RES_MAX_ADDRS];
	char host[RES_HOST_MAX + 1];
};

struct res_cache_ent {
	char host[RES_HOST_MAX + 1];	/* "" when the slot is free */
	uint64_t expires;
	size_t naddrs;
	struct sockaddr_storage addrs[RES_MAX_ADDRS];
};

struct resolver {
	struct rawserver *rs;
	struct res_query *queries;
	size_t nqueries;
	uint64_t next_id;
	uint32_t timeout_ms;
	uint32_t ttl_ms;
	pid_t pid;		/* -1: no child */
	unsigned gen;		/* bumped on every child stop */
	int req_fd;		/* we write requests here */
	int ans_fd;		/* and read answers here */
	size_t alen;
	uint8_t abuf[RES_FRAME_MAX * 4];
	struct res_cache_ent cache[RES_CACHE_MAX];
};

static rs_task_fn res_deliver;
static rs_task_fn res_timeout;
static rs_fd_fn res_readable;

struct resolver *
res_new(struct rawserver *rs)
{
	struct resolver *res = xcalloc(1, sizeof(*res));

	res->rs = rs;
	res->next_id = 1;
	res->timeout_ms = RES_TIMEOUT_MS;
	res->ttl_ms = RES_CACHE_TTL_MS;
	res->pid = -1;
	res->req_fd = -1;
	res->ans_fd = -1;
	return res;
}

void
res_set_timeouts(struct resolver *res, uint32_t timeout_ms, uint32_t ttl_ms)
{
	res->timeout_ms = timeout_ms;
	res->ttl_ms = ttl_ms;
}

long
res__child_pid(const struct resolver *res)
{
	return res->pid;
}

socklen_t
res_addrlen(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (ss->ss_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

const char *
res_strerror(int err)
{
	switch (err) {
	case 0:
		return "no error";
	case -ENOENT:
		return "name not found";
	case -ETIMEDOUT:
		return "name lookup timed out";
	case -EAGAIN:
		return "temporary name lookup failure";
	case -EINVAL:
		return "invalid host name";
	default:
		return "name lookup failed";
	}
}

/* Fill a sockaddr from a family and raw address bytes (4 or 16). */
static void
res_fill(struct sockaddr_storage *ss, int family, const uint8_t *a,
    uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a, 16);
	}
}

int
res_numeric(const char *host, uint16_t port, struct sockaddr_storage *out,
    socklen_t *out_len)
{
	uint8_t a[16];

	if (inet_pton(AF_INET, host, a) == 1) {
		res_fill(out, AF_INET, a, port);
	} else if (inet_pton(AF_INET6, host, a) == 1) {
		res_fill(out, AF_INET6, a, port);
	} else {
		return -EINVAL;
	}
	if (out_len != NULL)
		*out_len = res_addrlen(out);
	return 0;
}

/* Set every address's port (cached answers are stored with port 0). */
static void
res_set_port(struct sockaddr_storage *addrs, size_t n, uint16_t port)
{
	for (size_t i = 0; i < n; i++) {
		if (addrs[i].ss_family == AF_INET)
			((struct sockaddr_in *)&addrs[i])->sin_port =
			    htons(port);
		else
			((struct sockaddr_in6 *)&addrs[i])->sin6_port =
			    htons(port);
	}
}

/*
 * The cache.  Names compare case-insensitively; a full cache evicts the
 * entry closest to expiry.  Only successful answers are cached.
 */
static struct res_cache_ent *
res_cache_find(struct resolver *res, const char *host)
{
	uint64_t now = rs_now_ms(res->rs);

	for (size_t i = 0; i < RES_CACHE_MAX; i++) {
		struct res_cache_ent *e = &res->cache[i];

		if (e->host[0] == '\0')
			continue;
		if (e->expires <= now) {
			e->host[0] = '\0';
			continue;
		}
		if (strcasecmp(e->host, host) == 0)
			return e;
	}
	return NULL;
}

static void
res_cache_put(struct resolver *res, const struct res_query *q)
{
	struct res_cache_ent *e = res_cache_find(res, q->host);

	if (res->ttl_ms == 0)
		return;
	for (size_t i = 0; e == NULL && i < RES_CACHE_MAX; i++)
		if (res->cache[i].host[0] == '\0')
			e = &res->cache[i];
	if (e == NULL) {
		e = &res->cache[0];
		for (size_t i = 1; i < RES_CACHE_MAX; i++)
			if (res->cache[i].expires < e->expires)
				e = &res->cache[i];
	}
	memcpy(e->host, q->host, sizeof(e->host));
	e->expires = rs_now_ms(res->rs) + res->ttl_ms;
	e->naddrs = q->naddrs;
	memcpy(e->addrs, q->addrs, q->naddrs * sizeof(q->addrs[0]));
}

/* ---- The child process ---- */

static int
res_read_full(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
res_write_full(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
res_gai_errno(int rc)
{
	switch (rc) {
	case EAI_NONAME:
	case EAI_FAIL:
		return -ENOENT;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_SYSTEM:
		return errno != 0 ? -errno : -EIO;
	default:
		return -EIO;
	}
}

/* Resolve one name and build the answer frame; returns its length. */
static size_t
res_child_answer(const uint8_t *id, const char *host, uint8_t *out)
{
	struct addrinfo hints, *ai = NULL;
	uint32_t n = 0;
	int rc, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, NULL, &hints, &ai);
	if (rc != 0)
		err = res_gai_errno(rc);
	for (struct addrinfo *p = ai; p != NULL && n < RES_MAX_ADDRS;
	    p = p->ai_next) {
		uint8_t *rec = out + 20 + n * RES_ADDR_REC;

		memset(rec, 0, RES_ADDR_REC);
		if (p->ai_family == AF_INET) {
			rec[0] = 4;
			memcpy(rec + 1, &((struct sockaddr_in *)
			    (void *)p->ai_addr)->sin_addr, 4);
		} else if (p->ai_family == AF_INET6) {
			rec[0] = 6;
			memcpy(rec + 1, &((struct sockaddr_in6 *)
			    (void *)p->ai_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		n++;
	}
	if (ai != NULL)
		freeaddrinfo(ai);
	if (err == 0 && n == 0)
		err = -ENOENT;
	be32_put(out, 16 + n * RES_ADDR_REC);
	memcpy(out + 4, id, 8);
	be32_put(out + 12, (uint32_t)err);
	be32_put(out + 16, n);
	return 20 + n * RES_ADDR_REC;
}

/*
 * The child must not keep the parent's sockets open: a peer connection the
 * reactor closes would otherwise stay up in the child.  List the open
 * descriptors where the system shows them, else close a bounded range.
 */
static void
res_child_close_fds(int keep1, int keep2)
{
	DIR *d = opendir("/proc/self/fd");
	long max = 0;

	if (d == NULL)
		d = opendir("/dev/fd");
	if (d != NULL) {
		struct dirent *de;

		while ((de = readdir(d)) != NULL) {
			long fd = strtol(de->d_name, NULL, 10);

			if (fd > max)
				max = fd;
		}
		closedir(d);
	} else {
		max = sysconf(_SC_OPEN_MAX);
		if (max < 0 || max > 65536)
			max = 65536;
	}
	for (long fd = 3; fd <= max; fd++)
		if (fd != keep1 && fd != keep2)
			close((int)fd);
}

static void
res_child_setup(int in, int out)
{
	struct sigaction sa;
	sigset_t none;

	/*
	 * ^C reaches the whole process group; the child ignores it and exits
	 * when the parent closes the request pipe (or kills it).
	 */
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	res_child_close_fds(in, out);
}

static _Noreturn void
res_child_main(int in, int out)
{
	uint8_t req[RES_REQ_MAX], ans[RES_FRAME_MAX];
	char host[RES_HOST_MAX + 1];

	res_child_setup(in, out);
	for (;;) {
		uint32_t len;

		if (res_read_full(in, req, 4) != 0)
			_exit(0);
		len = be32_get(req);
		if (len < 8 || len > RES_REQ_MAX - 4 ||
		    res_read_full(in, req + 4, len) != 0)
			_exit(1);
		memcpy(host, req + 12, len - 8);
		host[len - 8] = '\0';
		if (res_write_full(out, ans,
		    res_child_answer(req + 4, host, ans)) != 0)
			_exit(1);
	}
}

/* ---- The parent side ---- */

static int
res_child_start(struct resolver *res)
{
	int req[2], ans[2];
	pid_t pid;

	if (pipe(req) != 0)
		return -errno;
	if (pipe(ans) != 0) {
		close(req[0]);
		close(req[1]);
		return -errno;
	}
	pid = fork();
	if (pid == 0)
		res_child_main(req[0], ans[1]);
	close(req[0]);
	close(ans[1]);
	if (pid < 0 || sock_set_nonblock_cloexec(req[1]) != 0 ||
	    sock_set_nonblock_cloexec(ans[0]) != 0 ||
	    rs_watch_fd(res->rs, ans[0], res_readable, res) != 0) {
		int e = pid < 0 ? errno : EIO;

		close(req[1]);
		close(ans[0]);
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		log_warn("cannot start the resolver process: %s", strerror(e));
		return -e;
	}
	res->pid = pid;
	res->req_fd = req[1];
	res->ans_fd = ans[0];
	res->alen = 0;
	log_debug("resolver process %ld started", (long)pid);
	return 0;
}

static void
res_child_stop(struct resolver *res)
{
	if (res->pid < 0)
		return;
	rs_unwatch_fd(res->rs, res->ans_fd);
	close(res->ans_fd);
	close(res->req_fd);
	kill(res->pid, SIGKILL);
	while (waitpid(res->pid, NULL, 0) < 0 && errno == EINTR)
		continue;
	res->pid = -1;
	res->req_fd = -1;
	res->ans_fd = -1;
	res->alen = 0;
	res->gen++;
}

/*
 * Write one request.  Requests are shorter than PIPE_BUF, so a write is
 * all or nothing.  SIGPIPE (a dead child) is blocked for the call and
 * swallowed if raised, so it cannot kill the program.
 */
static int
res_send(struct resolver *res, struct res_query *q)
{
	uint8_t buf[RES_REQ_MAX];
	size_t hl = strlen(q->host);
	sigset_t pipe_set, old, pend;
	ssize_t r;
	int e = 0, sig;

	be32_put(buf, (uint32_t)(8 + hl));
	be64_put(buf + 4, q->id);
	memcpy(buf + 12, q->host, hl);
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old);
	do {
		r = write(res->req_fd, buf, 12 + hl);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		e = -errno;
		sigpending(&pend);
		if (e == -EPIPE && sigismember(&pend, SIGPIPE) &&
		    !sigismember(&old, SIGPIPE))
			sigwait(&pipe_set, &sig);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (e == 0)
		q->sent = true;
	return e;
}

/* Mark q answered and hand it to a zero-delay delivery task. */
static void
res_ready(struct res_query *q, int err)
{
	struct resolver *res = q->res;

	if (q->task != 0)
		rs_cancel_task(res->rs, q->task);
	q->ready = true;
	q->err = err;
	if (err != 0)
		q->naddrs = 0;
	q->task = rs_add_task(res->rs, 0, res_deliver, q);
}

static void
res_unlink(struct resolver *res, struct res_query *q)
{
	for (struct res_query **pp = &res->queries; *pp != NULL;
	    pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			res->nqueries--;
			return;
		}
	}
}

/*
 * Delivery: unlink first, so that a callback that cancels its own id or
 * frees the resolver finds nothing of this query; then call and free.
 */
static void
res_deliver(void *arg)
{
	struct res_query *q = arg;

	res_unlink(q->res, q);
	q->fn(q->ctx, q->err, q->naddrs > 0 ? q->addrs : NULL, q->naddrs);
	free(q);
}

static void
res_timeout(void *arg)
{
	struct res_query *q = arg;

	log_debug("resolver: lookup of %s timed out", q->host);
	q->task = 0;
	q->err = -ETIMEDOUT;
	q->naddrs = 0;
	res_deliver(q);
}

/*
 * The child is gone: reap it.  Queries it held get one more try with a
 * fresh child (RES_MAX_TRIES), then fail with -EIO.
 */
static void
res_child_reset(struct resolver *res)
{
	res_child_stop(res);
	for (struct res_query *q = res->queries; q != NULL; q = q->next) {
		if (q->ready || !q->sent)
			continue;
		q->sent = false;
		if (++q->tries >= RES_MAX_TRIES)
			res_ready(q, -EIO);
	}
}

/*
 * Send every query not yet with the child, starting a child if need be.
 * A write that finds the child dead (EPIPE) restarts it and starts over;
 * the tries counter bounds that.
 */
static void
res_flush(struct resolver *res)
{
	struct res_query *q;
	int e;

again:
	for (q = res->queries; q != NULL; q = q->next) {
		if (q->ready || q->sent)
			continue;
		e = res->pid < 0 ? res_child_start(res) : 0;
		if (e == 0)
			e = res_send(res, q);
		if (e == -EPIPE && ++q->tries < RES_MAX_TRIES) {
			res_child_reset(res);
			goto again;
		}
		if (e != 0)
			res_ready(q, e == -EAGAIN ? -EAGAIN : -EIO);
	}
}

static struct res_query *
res_find(struct resolver *res, uint64_t id)
{
	for (struct res_query *q = res->queries; q != NULL; q = q->next)
		if (q->id == id)
			return q;
	return NULL;
}

/* One answer frame of len bytes (after the length word). */
static void
res_answer(struct resolver *res, const uint8_t *p, uint32_t len)
{
	struct res_query *q;
	int32_t err;
	uint32_t n;

	if (len < 16)
		return;
	q = res_find(res, be64_get(p));
	err = (int32_t)be32_get(p + 8);
	n = be32_get(p + 12);
	if (q == NULL || q->ready)
		return;		/* cancelled or timed out meanwhile */
	if (n > RES_MAX_ADDRS || len != 16 + n * RES_ADDR_REC || err > 0) {
		res_ready(q, -EIO);
		return;
	}
	q->naddrs = 0;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *rec = p + 16 + i * RES_ADDR_REC;

		if (rec[0] == 4 || rec[0] == 6)
			res_fill(&q->addrs[q->naddrs++],
			    rec[0] == 4 ? AF_INET : AF_INET6, rec + 1,
			    q->port);
	}
	if (err == 0 && q->naddrs == 0)
		err = -ENOENT;
	if (err == 0)
		res_cache_put(res, q);
	res_ready(q, err);
}

/* The child died or spoke nonsense: restart it for what is left. */
static void
res_child_died(struct resolver *res)
{
	log_warn("resolver process exited; restarting it");
	res_child_reset(res);
	res_flush(res);
}

static void
res_parse_frames(struct resolver *res)
{
	size_t off = 0;

	while (res->alen - off >= 4) {
		uint32_t len = be32_get(res->abuf + off);

		if (len > RES_FRAME_MAX - 4) {
			res_child_died(res);
			return;
		}
		if (res->alen - off - 4 < len)
			break;
		res_answer(res, res->abuf + off + 4, len);
		off += 4 + len;
	}
	memmove(res->abuf, res->abuf + off, res->alen - off);
	res->alen -= off;
}

static void
res_readable(void *ctx, int fd, short revents)
{
	struct resolver *res = ctx;
	unsigned gen = res->gen;

	(void)revents;
	while (gen == res->gen) {
		ssize_t r = read(fd, res->abuf + res->alen,
		    sizeof(res->abuf) - res->alen);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			res_child_died(res);
			return;
		}
		res->alen += (size_t)r;
		res_parse_frames(res);
	}
}

static bool
res_host_ok(const char *host)
{
	size_t n = strlen(host);

	if (n == 0 || n > RES_HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)host[i] <= ' ' ||
		    (unsigned char)host[i] >= 0x7f)
			return false;
	return true;
}

/* Answer from the numeric parser or the cache; false if neither knows. */
static bool
res_quick(struct resolver *res, struct res_query *q)
{
	struct res_cache_ent *e;

	if (res_numeric(q->host, q->port, &q->addrs[0], NULL) == 0) {
		q->naddrs = 1;
		return true;
	}
	e = res_cache_find(res, q->host);
	if (e == NULL)
		return false;
	q->naddrs = e->naddrs;
	memcpy(q->addrs, e->addrs, e->naddrs * sizeof(e->addrs[0]));
	res_set_port(q->addrs, q->naddrs, q->port);
	return true;
}

uint64_t
res_lookup(struct resolver *res, const char *host, uint16_t port, res_fn *fn,
    void *ctx)
{
	struct res_query *q = xcalloc(1, sizeof(*q));
	bool ok = res_host_ok(host);

	q->res = res;
	q->id = res->next_id++;
	q->fn = fn;
	q->ctx = ctx;
	q->port = port;
	if (ok)
		memcpy(q->host, host, strlen(host) + 1);
	q->next = res->queries;
	res->queries = q;
	res->nqueries++;
	if (!ok)
		res_ready(q, -EINVAL);
	else if (res_quick(res, q))
		res_ready(q, 0);
	else if (res->nqueries > RES_MAX_QUERIES)
		res_ready(q, -EAGAIN);
	else {
		q->task = rs_add_task(res->rs, res->timeout_ms, res_timeout, q);
		res_flush(res);
	}
	return q->id;
}

void
res_cancel(struct resolver *res, uint64_t id)
{
	struct res_query *q = res_find(res, id);

	if (q == NULL)
		return;
	if (q->task != 0)
		rs_cancel_task(res->rs, q->task);
	res_unlink(res, q);
	free(q);
}

void
res_free(struct resolver *res)
{
	if (res == NULL)
		return;
	while (res->queries != NULL)
		res_cancel(res, res->queries->id);
	res_child_stop(res);
	free(res);
}

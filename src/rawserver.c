/*
 * rawserver: the single poll() reactor (mainline RawServer.py).
 *
 * One loop pass (rs_run):
 *
 *	read the clock -> run due timers -> sweep closed objects ->
 *	poll() -> read the clock -> dispatch -> compact pollfds -> sweep
 *
 * Every object the loop watches (connection, listener, UDP socket, watched
 * fd, the signal self-pipe) begins with a struct rs_io whose ps_link
 * records its slot in the pollfd array (pollset.c), so adding, removing
 * and re-arming a descriptor is O(1).  While dispatch walks the array
 * nothing is moved: a removal only clears the slot's owner and sets its fd
 * to -1 (poll ignores negative fds), and the holes are compacted by
 * swap-remove after the walk (libuv posix-poll.c does the same).  Objects
 * themselves are freed only by the sweep, so a callback may close
 * anything, its own connection included.
 *
 * Writes made inside rs_run() (from any callback) are deferred: they are
 * copied into the connection's queue, small writes sharing a 64 KiB tail
 * chunk, and the connection goes on a pending list that is flushed with
 * one sendmsg() when the callback that wrote returns (after each data
 * callback, after each connection's dispatch, after the timers and after
 * the sweep).  So the dozens of 17-byte requests a leecher makes while it
 * parses 256 KiB of blocks leave in one system call and one TCP segment,
 * instead of two send()s each that wake the peer every time.  A file range
 * (rs_write_file) that the socket should take is read into the queue and
 * deferred too, so the blocks an uploader queues in a callback leave in
 * one sendmsg() per 512 KiB, in full-sized TCP segments (copy_frames
 * below).  Otherwise the deferred bytes before it go with MSG_MORE, then
 * the range with sendfile() at once.  Outside rs_run() writes go straight
 * to the kernel.
 * What the kernel does not take stays queued and POLLOUT is armed only
 * while that queue is non-empty.  The queue itself (chunks, file ranges,
 * sendmsg() of up to OQ_IOV_MAX pieces, sendfile()) is outqueue.c; the
 * timer heap is timerheap.c, the signal pipe sigwake.c and the socket
 * helpers sockutil.c.
 */
#define _GNU_SOURCE	/* accept4, SOCK_NONBLOCK (Linux) */

#include "rawserver.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bterr.h"
#include "log.h"
#include "outqueue.h"
#include "pollset.h"
#include "sigwake.h"
#include "sockutil.h"
#include "timerheap.h"
#include "xmalloc.h"

#define RS_RBUF_SIZE	(256 * 1024)	/* the one read buffer */
#define RS_READ_BUDGET	(1024 * 1024)	/* per connection per pass */
#define RS_DEFER_MAX	(512 * 1024)	/* deferred bytes flushed at once */
#define RS_COPY_UNSENT_MAX (32 * 1024)	/* no copies to a backed-up socket */
#define RS_UDP_BURST	64		/* datagrams per socket per pass */
#define RS_ACCEPT_PAUSE_MS 500		/* listener rest after EMFILE */
#define RS_NAME_LEN	64		/* "[v6 address]:port" */

enum rs_kind {
	RS_K_CONN,
	RS_K_LISTEN,
	RS_K_UDP,
	RS_K_WATCH,
	RS_K_SIGNAL,
};

/* The part of every watched object that the pollfd bookkeeping needs. */
struct rs_io {
	struct ps_link link;	/* first: the dispatcher casts back */
	enum rs_kind kind;
	int fd;
	struct rs_io *dead_next; /* sweep list (UDP sockets, fd watches) */
};

struct rs_conn {
	struct rs_io io;	/* first: the dispatcher casts back */
	struct rawserver *rs;
	const struct rs_handler *h;
	void *ctx;
	struct rs_conn *prev, *next;	/* rs->conns, all live connections */
	struct rs_conn *close_next;	/* rs->closing */
	struct rs_conn *pend_prev, *pend_next;	/* rs->pending */
	struct outqueue out;
	uint64_t last_hit;	/* rs_now_ms() of the last byte read */
	uint64_t connect_timer;
	int close_err;
	bool incoming;
	bool connected;
	bool closing;
	bool paused;
	bool parked;		/* hung up while paused: fd hidden from poll */
	bool pending;		/* queue holds deferred, unattempted bytes */
	bool room_known;	/* room is valid for this deferral */
	size_t room;		/* what to copy at most, from sock_send_state() */
	socklen_t addrlen;
	struct sockaddr_storage addr;
	char name[RS_NAME_LEN];
};

struct rs_listener {
	struct rs_io io;
	struct rawserver *rs;
	const struct rs_handler *h;
	void *ctx;
	struct rs_listener *next;
};

struct rs_udp {
	struct rs_io io;
	struct rawserver *rs;
	rs_udp_fn *fn;
	rs_udp_err_fn *errfn;	/* set by rs_udp_connect */
	void *ctx;
	struct rs_udp *next;
	bool dead;
	bool connected;
};

struct rs_watch {
	struct rs_io io;
	rs_fd_fn *fn;
	void *ctx;
	struct rs_watch *next;
	bool dead;
};

struct rawserver {
	struct rs_config cfg;
	uint64_t now;

	struct pollset ps;	/* owners are struct rs_io */

	struct timerheap timers;
	uint64_t idle_task;

	struct rs_conn *conns;
	struct rs_conn *closing, *closing_tail;
	struct rs_conn *pending;	/* connections with deferred writes */
	size_t nconns;		/* live and not closing */
	struct rs_listener *listeners;
	struct rs_udp *udps;
	struct rs_watch *watches;
	struct rs_io *dead;

	uint8_t *rbuf;
	struct oq_pool oqpool;	/* shared by every connection's queue */
	uint64_t copied;	/* file bytes read into queues (stats) */
	uint64_t copy_reads;	/* the reads that took them */

	bool has_bind;
	struct sockaddr_storage bind_ss;
	socklen_t bind_len;
	bool no_v6;		/* IPv6 listening failed once: v4 only */

	bool running;		/* inside rs_run(): rs->now is current */
	bool stop;
	int signo;
	struct sigwake sigs;	/* with close_on_signal */
	struct rs_io sigio;
};

static void conn_close_err(struct rs_conn *c, int err);
static int conn_flush(struct rs_conn *c);
static void conn_update_events(struct rs_conn *c);

/*
 * The clock.  Socket helpers are in sockutil.c.
 */

static uint64_t
clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Timers (timerheap.c).  Outside rs_run() the clock is read afresh, so a
 * delay counts from the call; inside, from the start of the pass.
 */

uint64_t
rs_add_task(struct rawserver *rs, uint64_t delay_ms, rs_task_fn *fn,
    void *ctx)
{
	if (!rs->running)
		rs->now = clock_ms();
	return th_add(&rs->timers, rs->now, delay_ms, fn, ctx);
}

void
rs_cancel_task(struct rawserver *rs, uint64_t id)
{
	(void)th_cancel(&rs->timers, id);
}

uint64_t
rs_now_ms(const struct rawserver *rs)
{
	return rs->now;
}

/*
 * Run the tasks due now.  A task added while this runs waits for the next
 * pass even with delay 0 (as in mainline, where the delay counts from the
 * next pass), so a task that re-adds itself cannot starve the poll.
 */
static void
run_timers(struct rawserver *rs)
{
	uint64_t limit = th_next_seq(&rs->timers);
	th_task_fn *fn;
	void *ctx;

	while (!rs->stop && th_pop_due(&rs->timers, rs->now, limit, &fn,
	    &ctx))
		fn(ctx);
}

static bool
is_again(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK;
}

/*
 * Output (outqueue.c keeps the bytes and makes the send calls).  Send
 * as much of the queue as the socket takes: 0 or -errno.
 */
static int
conn_flush(struct rs_conn *c)
{
	return oq_flush(&c->out, &c->rs->oqpool, c->io.fd);
}

/*
 * Deferred writes.  A connection with deferred bytes is on rs->pending
 * (doubly linked, so that closing one is O(1)); pending_flush() sends
 * them.  A queue that is non-empty and not pending is blocked: it waits
 * for POLLOUT.
 */
static void
pending_add(struct rs_conn *c)
{
	struct rawserver *rs = c->rs;

	if (c->pending)
		return;
	c->pending = true;
	c->pend_prev = NULL;
	c->pend_next = rs->pending;
	if (rs->pending != NULL)
		rs->pending->pend_prev = c;
	rs->pending = c;
}

static void
pending_remove(struct rs_conn *c)
{
	c->room_known = false;
	if (!c->pending)
		return;
	c->pending = false;
	if (c->pend_prev != NULL)
		c->pend_prev->pend_next = c->pend_next;
	else
		c->rs->pending = c->pend_next;
	if (c->pend_next != NULL)
		c->pend_next->pend_prev = c->pend_prev;
	c->pend_prev = c->pend_next = NULL;
}

/*
 * Send a pending connection's deferred bytes.  What the kernel refuses
 * stays queued behind POLLOUT.  With PF_NOTIFY a queue that drained fires
 * `flushed` (the uploader then queues more).  Not from inside a write,
 * where the writer's own loop is still running: with PF_LATER a queue
 * drained there stays pending, empty, so that `flushed` fires once the
 * callback returns.  PF_QUIET: no callback (the reactor is stopping).
 */
enum { PF_QUIET, PF_LATER, PF_NOTIFY };

static void
pending_flush(struct rs_conn *c, int how)
{
	int r;

	pending_remove(c);
	if (c->closing)
		return;
	r = conn_flush(c);
	if (r < 0) {
		conn_close_err(c, r);
		return;
	}
	if (!oq_is_empty(&c->out)) {
		conn_update_events(c);
		return;
	}
	if (how == PF_LATER)
		pending_add(c);
	else if (how == PF_NOTIFY && c->h->flushed != NULL)
		c->h->flushed(c->ctx, c);
}

/* Flush every pending connection; `flushed` may make more pending. */
static void
pending_flush_all(struct rawserver *rs)
{
	while (rs->pending != NULL)
		pending_flush(rs->pending, PF_NOTIFY);
}

/* Whether a write to c now is deferred rather than sent at once. */
static bool
conn_defers(const struct rs_conn *c)
{
	return c->rs->running && c->connected &&
	    (oq_is_empty(&c->out) || c->pending);
}

void
rs_write(struct rs_conn *c, const void *p, size_t n)
{
	const uint8_t *b = p;
	bool was_empty = oq_is_empty(&c->out);

	if (c->closing || n == 0)
		return;
	if (conn_defers(c) && (n < RS_DEFER_MAX || !was_empty)) {
		oq_mem(&c->out, &c->rs->oqpool, b, n);
		pending_add(c);
		if (c->out.queued >= RS_DEFER_MAX)
			pending_flush(c, PF_LATER);
		return;
	}
	if (was_empty && c->connected) {
		size_t sent;
		int w = oq_send_now(c->io.fd, b, n, &sent);

		if (w < 0) {
			conn_close_err(c, w);
			return;
		}
		b += sent;
		n -= sent;
		if (n == 0)
			return;
	}
	oq_mem(&c->out, &c->rs->oqpool, b, n);
	if (was_empty)
		conn_update_events(c);
}

/*
 * How many more bytes c's queue may take by copying: none unless writes
 * are deferred; no more than the socket should take at once (its room,
 * asked once per deferral) nor than cfg.copy_max leaves for all queues
 * together, so a slow or stalled peer pins no memory; none to a socket
 * that holds unsent bytes (its peer reads slower than we send): there the
 * kernel appends each sendfile() range to the unsent segment, so the
 * segments are big without the copy.
 */
static size_t
copy_allowance(struct rs_conn *c)
{
	struct rawserver *rs = c->rs;
	size_t mem = rs->oqpool.mem_queued;

	if (!conn_defers(c) || mem >= rs->cfg.copy_max)
		return 0;
	if (!c->pending)	/* a new deferral: ask again */
		c->room_known = false;
	if (!c->room_known) {
		size_t unsent;

		if (sock_send_state(c->io.fd, &c->room, &unsent) < 0 ||
		    unsent >= RS_COPY_UNSENT_MAX)
			c->room = 0;
		c->room_known = true;
	}
	if (c->out.queued >= c->room)
		return 0;
	return c->room - c->out.queued < rs->cfg.copy_max - mem ?
	    c->room - c->out.queued : rs->cfg.copy_max - mem;
}

/*
 * The copying send path: read as many of the frames as copy_allowance()
 * takes (up to one past RS_DEFER_MAX queued) into the deferred queue
 * between their headers, with one preadv(), so that they leave in one
 * sendmsg() with the bytes around them, in segments as large as the
 * kernel makes them.  That costs the sender far less than a sendfile()
 * and a TCP push per 16 KiB block (docs/performance.md).  The caller's fd
 * may be closed, or its number reused, right after the call, so the read
 * is done now.  Returns how many frames it took (0: none, nothing
 * changed); after a read error the connection is closing.
 */
static size_t
copy_frames(struct rs_conn *c, int fd, uint64_t off,
    const struct rs_frame *f, size_t n)
{
	struct oq_frame of[OQ_FRAMES_MAX];
	size_t allow = copy_allowance(c), take = 0, data = 0, m = 0;
	int w;

	while (m < n && m < OQ_FRAMES_MAX &&
	    c->out.queued + take < RS_DEFER_MAX &&
	    f[m].len <= RS_DEFER_MAX &&
	    take + f[m].hdrlen + f[m].len <= allow) {
		of[m].hdr = f[m].hdr;
		of[m].hdrlen = f[m].hdrlen;
		of[m].len = f[m].len;
		take += f[m].hdrlen + f[m].len;
		data += f[m].len;
		m++;
	}
	if (m == 0)
		return 0;
	if ((w = oq_read_frames(&c->out, &c->rs->oqpool, fd, off, of,
	    m)) < 0) {
		conn_close_err(c, w);
		return m;
	}
	c->rs->copied += data;
	c->rs->copy_reads++;
	pending_add(c);
	if (c->out.queued >= RS_DEFER_MAX)
		pending_flush(c, PF_LATER);
	return m;
}

void
rs_write_frames(struct rs_conn *c, int fd, uint64_t off,
    const struct rs_frame *f, size_t n)
{
	while (n > 0 && !c->closing) {
		size_t m = copy_frames(c, fd, off, f, n);

		if (m == 0) {	/* not copied: the first one on its own */
			rs_write(c, f->hdr, f->hdrlen);
			rs_write_file(c, fd, off, f->len);
			m = 1;
		}
		for (; m > 0; m--, f++, n--)
			off += f->len;
	}
}

int
rs_check_congestion(const char *name)
{
	return sock_check_congestion(name);
}

void
rs_write_file(struct rs_conn *c, int fd, uint64_t off, size_t n)
{
	struct oq_pool *pool = &c->rs->oqpool;
	struct rs_frame whole = { NULL, 0, n };
	bool was_empty;
	int w;

	if (c->closing || n == 0 || copy_frames(c, fd, off, &whole, 1) > 0)
		return;
	/* Deferred bytes go first, sharing the range's first segment. */
	if (c->pending && !oq_is_empty(&c->out)) {
		w = oq_send_mem(&c->out, pool, c->io.fd, true);
		if (w < 0) {
			conn_close_err(c, w);
			return;
		}
		if (!oq_is_empty(&c->out)) {
			pending_remove(c);
			conn_update_events(c);
		}
	}
	was_empty = oq_is_empty(&c->out);
	if (was_empty && c->connected) {
		bool no_sf = false;

		w = oq_send_file(pool, c->io.fd, fd, &off, &n, &no_sf);
		if (w < 0) {
			conn_close_err(c, w);
			return;
		}
		if (n == 0)
			return;
	}
	/* Kept for later on a dup() of fd (or read into memory). */
	w = oq_file(&c->out, pool, fd, off, n);
	if (w < 0) {
		conn_close_err(c, w);
		return;
	}
	if (was_empty)
		conn_update_events(c);
}

size_t
rs_queued_memory(const struct rawserver *rs)
{
	return rs->oqpool.mem_queued;
}

uint64_t
rs_file_bytes_copied(const struct rawserver *rs)
{
	return rs->copied;
}

uint64_t
rs_file_copy_reads(const struct rawserver *rs)
{
	return rs->copy_reads;
}

size_t
rs_conn_queued(const struct rs_conn *c)
{
	return c->out.queued;
}

bool
rs_conn_is_flushed(const struct rs_conn *c)
{
	return oq_is_empty(&c->out);
}

/*
 * Connections.
 */

static void
conn_update_events(struct rs_conn *c)
{
	short ev = 0;

	if (c->closing)
		return;
	if (!c->connected) {
		ev = POLLOUT;
	} else {
		if (!c->paused)
			ev |= POLLIN;
		if (!oq_is_empty(&c->out))
			ev |= POLLOUT;
	}
	ps_set_events(&c->rs->ps, &c->io.link, ev);
}

static struct rs_conn *
conn_new(struct rawserver *rs, int fd, const struct sockaddr *sa,
    socklen_t salen, const struct rs_handler *h, void *ctx, bool incoming)
{
	struct rs_conn *c = xcalloc(1, sizeof(*c));
	int one = 1;

	c->io.kind = RS_K_CONN;
	c->io.fd = fd;
	c->io.link.pidx = -1;
	c->rs = rs;
	c->h = h;
	c->ctx = ctx;
	c->incoming = incoming;
	c->connected = incoming;
	c->last_hit = rs->now;
	if (salen > sizeof(c->addr))
		salen = sizeof(c->addr);
	memcpy(&c->addr, sa, salen);
	c->addrlen = salen;
	sock_format_addr(sa, c->name, sizeof(c->name));
	/* Small protocol messages should leave at once; failure is harmless. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (rs->cfg.tcp_congestion[0] != '\0')
		(void)sock_set_congestion(fd, rs->cfg.tcp_congestion);
	c->next = rs->conns;
	if (rs->conns != NULL)
		rs->conns->prev = c;
	rs->conns = c;
	rs->nconns++;
	ps_add(&rs->ps, &c->io.link, c->io.fd, incoming ? POLLIN : POLLOUT);
	return c;
}

/*
 * Mark a connection dead; the sweep closes it and calls `lost`.  The first
 * reason given wins.  Its slot leaves the poll set at once, so no event for
 * it is dispatched after this.
 */
static void
conn_close_err(struct rs_conn *c, int err)
{
	struct rawserver *rs = c->rs;

	if (c->closing)
		return;
	/* Deferred bytes would have left already without the deferral. */
	if (c->pending && err == 0)
		(void)conn_flush(c);
	pending_remove(c);
	c->closing = true;
	c->close_err = err;
	rs->nconns--;
	ps_del(&rs->ps, &c->io.link);
	if (c->connect_timer != 0) {
		rs_cancel_task(rs, c->connect_timer);
		c->connect_timer = 0;
	}
	c->close_next = NULL;
	if (rs->closing_tail != NULL)
		rs->closing_tail->close_next = c;
	else
		rs->closing = c;
	rs->closing_tail = c;
}

void
rs_close(struct rs_conn *c)
{
	conn_close_err(c, 0);
}

bool
rs_conn_is_closing(const struct rs_conn *c)
{
	return c->closing;
}

static void
conn_unlink_free(struct rawserver *rs, struct rs_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		rs->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	oq_clear(&c->out, &rs->oqpool);
	if (c->io.fd >= 0)
		close(c->io.fd);
	free(c);
}

/*
 * Close what callbacks marked for closing.  `lost` may close further
 * connections; they join the end of the list and are handled here too.
 */
static void
sweep(struct rawserver *rs)
{
	while (rs->closing != NULL) {
		struct rs_conn *c = rs->closing;

		rs->closing = c->close_next;
		if (rs->closing == NULL)
			rs->closing_tail = NULL;
		if (c->prev != NULL)
			c->prev->next = c->next;
		else
			rs->conns = c->next;
		if (c->next != NULL)
			c->next->prev = c->prev;
		c->prev = c->next = NULL;
		close(c->io.fd);
		c->io.fd = -1;
		oq_clear(&c->out, &rs->oqpool);
		if (c->h->lost != NULL)
			c->h->lost(c->ctx, c, c->close_err);
		free(c);
	}
	while (rs->dead != NULL) {
		struct rs_io *io = rs->dead;

		rs->dead = io->dead_next;
		free(io);	/* the rs_io is the first member */
	}
}

void
rs_conn_set_handler(struct rs_conn *c, const struct rs_handler *h, void *ctx)
{
	c->h = h;
	c->ctx = ctx;
}

void *
rs_conn_ctx(const struct rs_conn *c)
{
	return c->ctx;
}

bool
rs_conn_is_incoming(const struct rs_conn *c)
{
	return c->incoming;
}

const struct sockaddr *
rs_conn_addr(const struct rs_conn *c, socklen_t *out_len)
{
	if (out_len != NULL)
		*out_len = c->addrlen;
	return (const struct sockaddr *)&c->addr;
}

const char *
rs_conn_name(const struct rs_conn *c)
{
	return c->name;
}

size_t
rs_num_conns(const struct rawserver *rs)
{
	return rs->nconns;
}

void
rs_conn_pause_read(struct rs_conn *c, bool paused)
{
	if (c->closing || c->paused == paused)
		return;
	c->paused = paused;
	if (!paused && c->parked) {
		c->parked = false;
		ps_set_fd(&c->rs->ps, &c->io.link, c->io.fd);
	}
	conn_update_events(c);
}

/*
 * Read while the socket fills the whole buffer, up to RS_READ_BUDGET per
 * pass so that one fast peer cannot starve the others.  Returns true when
 * the socket said EAGAIN (it is drained).
 */
static bool
conn_read(struct rawserver *rs, struct rs_conn *c)
{
	size_t budget = RS_READ_BUDGET;
	ssize_t n;

	for (;;) {
		n = recv(c->io.fd, rs->rbuf, RS_RBUF_SIZE, 0);
		if (n > 0) {
			c->last_hit = rs->now;
			if (c->h->data != NULL)
				c->h->data(c->ctx, c, rs->rbuf, (size_t)n);
			/* Answers (requests for more) leave before we read on. */
			if (c->pending)
				pending_flush(c, PF_NOTIFY);
			if (c->closing || c->paused ||
			    (size_t)n < RS_RBUF_SIZE || budget <= (size_t)n)
				return false;
			budget -= (size_t)n;
		} else if (n == 0) {
			conn_close_err(c, 0);
			return false;
		} else if (errno != EINTR) {
			if (is_again(errno))
				return true;
			conn_close_err(c, -errno);
			return false;
		}
	}
}

static void
conn_writable(struct rs_conn *c)
{
	int r;

	pending_remove(c);
	r = conn_flush(c);

	if (r < 0) {
		conn_close_err(c, r);
		return;
	}
	if (!oq_is_empty(&c->out))
		return;
	conn_update_events(c);
	if (c->h->flushed != NULL)
		c->h->flushed(c->ctx, c);
}

static void
connect_timeout(void *ctx)
{
	struct rs_conn *c = ctx;

	c->connect_timer = 0;
	conn_close_err(c, -ETIMEDOUT);
}

static void
conn_connected(struct rs_conn *c, short rev)
{
	int err = sock_error(c->io.fd);

	if (err == 0 && (rev & (POLLERR | POLLHUP)))
		err = -ECONNREFUSED;
	if (err != 0) {
		conn_close_err(c, err);
		return;
	}
	if (c->connect_timer != 0) {
		rs_cancel_task(c->rs, c->connect_timer);
		c->connect_timer = 0;
	}
	c->connected = true;
	c->last_hit = c->rs->now;
	conn_update_events(c);
	if (c->h->made != NULL)
		c->h->made(c->ctx, c);
	if (!c->closing && !oq_is_empty(&c->out))
		conn_writable(c);
}

/*
 * Reading comes first, as in mainline, so the peer's last words arrive
 * before its hangup is acted on.  A paused connection that hangs up is
 * parked (its fd hidden from poll, since POLLHUP cannot be masked) until
 * it is resumed; then its unread bytes and its end are delivered.
 */
static void
conn_dispatch(struct rawserver *rs, struct rs_conn *c, short rev)
{
	bool hup = (rev & (POLLERR | POLLHUP | POLLNVAL)) != 0;

	if (!c->connected) {
		conn_connected(c, rev);
		return;
	}
	if ((rev & POLLIN) || hup) {
		if (!c->paused) {
			bool drained = conn_read(rs, c);

			if (drained && hup && !c->closing) {
				int e = sock_error(c->io.fd);

				conn_close_err(c, e != 0 ? e : -ECONNRESET);
			}
		}
	}
	if (c->closing)
		return;
	if (c->pending)
		pending_flush(c, PF_NOTIFY);
	if (c->closing)
		return;
	if (!oq_is_empty(&c->out) && ((rev & POLLOUT) || hup))
		conn_writable(c);
	if (!c->closing && c->paused && hup) {
		c->parked = true;
		ps_set_fd(&rs->ps, &c->io.link, ~c->io.fd);
	}
}

/*
 * Outgoing connections.
 */

int
rs_set_bind(struct rawserver *rs, const char *bind_addr)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (bind_addr == NULL || bind_addr[0] == '\0') {
		rs->has_bind = false;
		return 0;
	}
	if (sock_parse_addr(bind_addr, 0, &ss, &len) < 0)
		return -EINVAL;
	rs->bind_ss = ss;
	rs->bind_len = len;
	rs->has_bind = true;
	return 0;
}

struct rs_conn *
rs_connect(struct rawserver *rs, const struct sockaddr *sa, socklen_t salen,
    const struct rs_handler *h, void *ctx)
{
	struct rs_conn *c;
	int fd, e;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
		errno = EAFNOSUPPORT;
		return NULL;
	}
	fd = sock_open(sa->sa_family, SOCK_STREAM);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	if (rs->has_bind && rs->bind_ss.ss_family == sa->sa_family &&
	    bind(fd, (const struct sockaddr *)&rs->bind_ss,
	    rs->bind_len) < 0)
		goto fail;
	if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS &&
	    errno != EINTR)
		goto fail;
	if (!rs->running)
		rs->now = clock_ms();
	c = conn_new(rs, fd, sa, salen, h, ctx, false);
	if (rs->cfg.connect_timeout_ms > 0)
		c->connect_timer = rs_add_task(rs, rs->cfg.connect_timeout_ms,
		    connect_timeout, c);
	return c;
fail:
	e = errno;
	close(fd);
	errno = e;
	return NULL;
}

/*
 * Listening.
 */

static void listener_resume(void *ctx);

static void
accept_one(struct rs_listener *l, int fd, const struct sockaddr *sa,
    socklen_t salen)
{
	struct rawserver *rs = l->rs;
	struct rs_conn *c;

	/* Mainline: sockets beyond max_allow_in are closed at once. */
	if (rs->cfg.max_conns > 0 && rs->nconns >= rs->cfg.max_conns) {
		close(fd);
		return;
	}
	c = conn_new(rs, fd, sa, salen, l->h, l->ctx, true);
	if (c->h->made != NULL)
		c->h->made(c->ctx, c);
}

/*
 * Accept until the backlog is empty.  Running out of descriptors would
 * make the listener readable forever, so it rests for a while instead.
 */
static void
listener_dispatch(struct rs_listener *l)
{
	struct rawserver *rs = l->rs;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	for (;;) {
		len = sizeof(ss);
#ifdef SOCK_NONBLOCK
		fd = accept4(l->io.fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
		fd = accept(l->io.fd, (struct sockaddr *)&ss, &len);
		if (fd >= 0 && sock_set_nonblock_cloexec(fd) < 0) {
			close(fd);
			continue;
		}
#endif
		if (fd >= 0) {
			accept_one(l, fd, (const struct sockaddr *)&ss, len);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED ||
		    errno == EPROTO || errno == EPERM)
			continue;
		if (is_again(errno))
			return;
		log_warn("accept: %s", strerror(errno));
		ps_set_events(&rs->ps, &l->io.link, 0);
		rs_add_task(rs, RS_ACCEPT_PAUSE_MS, listener_resume, l);
		return;
	}
}

static void
listener_resume(void *ctx)
{
	struct rs_listener *l = ctx;

	ps_set_events(&l->rs->ps, &l->io.link, POLLIN);
}

static void
listener_add(struct rawserver *rs, int fd, const struct rs_handler *h,
    void *ctx)
{
	struct rs_listener *l = xcalloc(1, sizeof(*l));

	l->io.kind = RS_K_LISTEN;
	l->io.fd = fd;
	l->io.link.pidx = -1;
	l->rs = rs;
	l->h = h;
	l->ctx = ctx;
	l->next = rs->listeners;
	rs->listeners = l;
	ps_add(&rs->ps, &l->io.link, l->io.fd, POLLIN);
}

int
rs_listen(struct rawserver *rs, const char *bind_addr, int minport,
    int maxport, const struct rs_handler *h, void *ctx, struct bt_err *err)
{
	struct sockaddr_storage single;
	socklen_t single_len = 0;
	bool has_single = bind_addr != NULL && bind_addr[0] != '\0';
	int fds[2], port = -EADDRINUSE;

	if (minport < 0 || maxport > 65535 || minport > maxport)
		return bt_err_set(err, -EINVAL, "bad port range %d-%d",
		    minport, maxport);
	if (has_single &&
	    sock_parse_addr(bind_addr, 0, &single, &single_len) < 0)
		return bt_err_set(err, -EINVAL, "bad bind address %s",
		    bind_addr);
	/* Port 0 asks the kernel; [::] may find its choice taken: retry. */
	for (int p = minport, tries = 0; p <= maxport; ) {
		port = sock_listen_pair(has_single ? &single : NULL,
		    single_len, p, &rs->no_v6, fds);
		if (port >= 0)
			break;
		if (port != -EADDRINUSE && port != -EACCES)
			return bt_err_set(err, port, "cannot listen on %s "
			    "port %d: %s", has_single ? bind_addr : "*", p,
			    strerror(-port));
		if (p == 0 && ++tries < 16)
			continue;
		p++;
	}
	if (port < 0)
		return bt_err_set(err, port, "no free port in %d-%d",
		    minport, maxport);
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			listener_add(rs, fds[i], h, ctx);
	return port;
}

/*
 * UDP sockets and watched descriptors.
 */

struct rs_udp *
rs_udp_open(struct rawserver *rs, int family, rs_udp_fn *fn, void *ctx)
{
	struct sockaddr_storage ss;
	struct rs_udp *u;
	int fd, e;

	if (family != AF_INET && family != AF_INET6) {
		errno = EAFNOSUPPORT;
		return NULL;
	}
	fd = sock_open(family, SOCK_DGRAM);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	sock_parse_addr(family == AF_INET ? "0.0.0.0" : "::", 0, &ss,
	    &(socklen_t){ 0 });
	if (bind(fd, (const struct sockaddr *)&ss, family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	u = xcalloc(1, sizeof(*u));
	u->io.kind = RS_K_UDP;
	u->io.fd = fd;
	u->io.link.pidx = -1;
	u->rs = rs;
	u->fn = fn;
	u->ctx = ctx;
	u->next = rs->udps;
	rs->udps = u;
	ps_add(&rs->ps, &u->io.link, u->io.fd, POLLIN);
	return u;
}

int
rs_udp_port(const struct rs_udp *u)
{
	return sock_port(u->io.fd);
}

int
rs_udp_connect(struct rs_udp *u, const struct sockaddr *sa, socklen_t salen,
    rs_udp_err_fn *errfn)
{
	if (u->dead)
		return -EBADF;
	if (u->connected)
		return -EISCONN;
	/* A datagram connect only records the peer: it never blocks. */
	if (connect(u->io.fd, sa, salen) < 0)
		return -errno;
	u->connected = true;
	u->errfn = errfn;
	return 0;
}

int
rs_udp_send(struct rs_udp *u, const struct sockaddr *to, socklen_t tolen,
    const void *p, size_t n)
{
	ssize_t r;

	if (u->dead)
		return -EBADF;
	do {
		r = sendto(u->io.fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT, to,
		    tolen);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

void
rs_udp_close(struct rs_udp *u)
{
	struct rawserver *rs;
	struct rs_udp **pp;

	if (u == NULL || u->dead)
		return;
	rs = u->rs;
	for (pp = &rs->udps; *pp != u; pp = &(*pp)->next)
		;
	*pp = u->next;
	u->dead = true;
	ps_del(&rs->ps, &u->io.link);
	close(u->io.fd);
	u->io.fd = -1;
	u->io.dead_next = rs->dead;
	rs->dead = &u->io;
}

static void
udp_dispatch(struct rawserver *rs, struct rs_udp *u)
{
	struct sockaddr_storage from;
	socklen_t fromlen;
	ssize_t n;

	for (int i = 0; i < RS_UDP_BURST && !u->dead; i++) {
		fromlen = sizeof(from);
		n = recvfrom(u->io.fd, rs->rbuf, RS_RBUF_SIZE, 0,
		    (struct sockaddr *)&from, &fromlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    u->errfn != NULL) {
			/* An ICMP error, on a connected socket only. */
			u->errfn(u->ctx, u, -errno);
			return;
		}
		if (n < 0)
			return;	/* EAGAIN, or an error no one asked for */
		u->fn(u->ctx, u, (const struct sockaddr *)&from, fromlen,
		    rs->rbuf, (size_t)n);
	}
}

int
rs_watch_fd(struct rawserver *rs, int fd, rs_fd_fn *fn, void *ctx)
{
	struct rs_watch *w;

	if (fd < 0)
		return -EBADF;
	for (w = rs->watches; w != NULL; w = w->next)
		if (w->io.fd == fd)
			return -EEXIST;
	w = xcalloc(1, sizeof(*w));
	w->io.kind = RS_K_WATCH;
	w->io.fd = fd;
	w->io.link.pidx = -1;
	w->fn = fn;
	w->ctx = ctx;
	w->next = rs->watches;
	rs->watches = w;
	ps_add(&rs->ps, &w->io.link, w->io.fd, POLLIN);
	return 0;
}

void
rs_unwatch_fd(struct rawserver *rs, int fd)
{
	struct rs_watch **pp, *w;

	for (pp = &rs->watches; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->io.fd != fd)
			continue;
		w = *pp;
		*pp = w->next;
		w->dead = true;
		ps_del(&rs->ps, &w->io.link);
		w->io.dead_next = rs->dead;
		rs->dead = &w->io;
		return;
	}
}

/* POLLNVAL: the caller closed the fd while watched; drop the watch. */
static void
watch_dispatch(struct rawserver *rs, struct rs_watch *w, short rev)
{
	w->fn(w->ctx, w->io.fd, rev);
	if ((rev & POLLNVAL) && !w->dead)
		rs_unwatch_fd(rs, w->io.fd);
}

/*
 * Signals (sigwake.c): the handlers write the signal number into a pipe
 * that poll() watches, so a signal that lands between the check of the
 * loop condition and poll() still wakes it up.
 */

static void
signal_dispatch(struct rawserver *rs)
{
	int sig = sigwake_read(&rs->sigs);

	if (sig != 0) {
		rs->signo = sig;
		rs->stop = true;
	}
}

static int
signals_take(struct rawserver *rs)
{
	int r = sigwake_take(&rs->sigs);

	if (r <= 0)
		return r;
	rs->sigio.kind = RS_K_SIGNAL;
	rs->sigio.fd = rs->sigs.fds[0];
	rs->sigio.link.pidx = -1;
	ps_add(&rs->ps, &rs->sigio.link, rs->sigio.fd, POLLIN);
	return 0;
}

/*
 * The loop.
 */

/*
 * Mainline's timeout_check_interval scan: close connections that read
 * nothing for timeout_ms.  A pending connect normally has its own timer;
 * without one (connect_timeout_ms 0) the scan covers it, as in mainline.
 */
static void
idle_scan(void *ctx)
{
	struct rawserver *rs = ctx;
	uint64_t limit = rs->cfg.timeout_ms;

	for (struct rs_conn *c = rs->conns; c != NULL; c = c->next)
		if (!c->closing && c->connect_timer == 0 &&
		    rs->now - c->last_hit >= limit)
			conn_close_err(c, -ETIMEDOUT);
	rs->idle_task = rs_add_task(rs, rs->cfg.timeout_check_ms, idle_scan,
	    rs);
}

/*
 * Before poll() sleeps: send every deferred write and close what was
 * closed.  A `lost` callback may write to other connections (a leecher
 * re-requests elsewhere), and `flushed` may close, hence the loop.
 */
static void
settle(struct rawserver *rs)
{
	do {
		pending_flush_all(rs);
		sweep(rs);
	} while (rs->pending != NULL);
}

static void
dispatch(struct rawserver *rs)
{
	size_t n = rs->ps.n;

	ps_walk_begin(&rs->ps);
	for (size_t i = 0; i < n; i++) {
		short rev = rs->ps.pfds[i].revents;
		struct rs_io *io = (struct rs_io *)rs->ps.owners[i];

		if (io == NULL || rev == 0)
			continue;
		rs->ps.pfds[i].revents = 0;
		switch (io->kind) {
		case RS_K_CONN:
			conn_dispatch(rs, (struct rs_conn *)io, rev);
			break;
		case RS_K_LISTEN:
			listener_dispatch((struct rs_listener *)io);
			break;
		case RS_K_UDP:
			udp_dispatch(rs, (struct rs_udp *)io);
			break;
		case RS_K_WATCH:
			watch_dispatch(rs, (struct rs_watch *)io, rev);
			break;
		case RS_K_SIGNAL:
			signal_dispatch(rs);
			break;
		}
	}
	ps_walk_end(&rs->ps);
}

int
rs_run(struct rawserver *rs)
{
	int r, ret = 0;

	rs->running = true;
	for (;;) {
		rs->now = clock_ms();
		run_timers(rs);
		settle(rs);
		if (rs->stop)
			break;
		r = poll(rs->ps.pfds, (nfds_t)rs->ps.n,
		    th_timeout_ms(&rs->timers, rs->now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			log_warn("poll: %s", strerror(errno));
			break;
		}
		rs->now = clock_ms();
		if (r > 0)
			dispatch(rs);
		settle(rs);
		if (rs->stop)
			break;
	}
	while (rs->pending != NULL)	/* no callbacks once stopped */
		pending_flush(rs->pending, PF_QUIET);
	if (ret == 0)
		ret = rs->signo;
	rs->running = false;
	rs->stop = false;
	rs->signo = 0;
	return ret;
}

void
rs_stop(struct rawserver *rs)
{
	rs->stop = true;
}

int
rs_pending_signal(struct rawserver *rs)
{
	if (rs->sigs.owner)
		signal_dispatch(rs);
	return rs->signo;
}

struct rawserver *
rs_new(const struct rs_config *cfg)
{
	static const struct rs_config defaults = RS_CONFIG_DEFAULT;
	struct rawserver *rs = xcalloc(1, sizeof(*rs));
	struct sigaction sa;

	rs->cfg = cfg != NULL ? *cfg : defaults;
	rs->now = clock_ms();
	ps_init(&rs->ps);
	th_init(&rs->timers);
	sigwake_init(&rs->sigs);
	rs->rbuf = xmalloc(RS_RBUF_SIZE);
	/*
	 * sendfile() has no MSG_NOSIGNAL, so a peer that resets would kill
	 * the process: SIGPIPE is ignored for good (EPIPE is handled).
	 */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
	if (rs->cfg.close_on_signal && signals_take(rs) < 0) {
		sigwake_release(&rs->sigs);
		free(rs->rbuf);
		ps_release(&rs->ps);
		free(rs);
		return NULL;
	}
	if (rs->cfg.timeout_ms > 0 && rs->cfg.timeout_check_ms > 0)
		rs->idle_task = rs_add_task(rs, rs->cfg.timeout_check_ms,
		    idle_scan, rs);
	return rs;
}

void
rs_free(struct rawserver *rs)
{
	if (rs == NULL)
		return;
	rs->pending = NULL;
	while (rs->conns != NULL)
		conn_unlink_free(rs, rs->conns);
	while (rs->listeners != NULL) {
		struct rs_listener *l = rs->listeners;

		rs->listeners = l->next;
		close(l->io.fd);
		free(l);
	}
	while (rs->udps != NULL)
		rs_udp_close(rs->udps);
	while (rs->watches != NULL)
		rs_unwatch_fd(rs, rs->watches->io.fd);
	rs->closing = rs->closing_tail = NULL;
	sweep(rs);
	sigwake_release(&rs->sigs);
	oq_pool_release(&rs->oqpool);
	free(rs->rbuf);
	ps_release(&rs->ps);
	th_release(&rs->timers);
	free(rs);
}

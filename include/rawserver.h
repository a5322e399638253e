/*
 * rawserver: the single-threaded poll() reactor (mainline RawServer).
 *
 * It owns every socket in the process: listening sockets (IPv4 and IPv6),
 * outgoing non-blocking connects, accepted connections, UDP sockets, and
 * any other descriptor a module wants watched (the resolver's pipe).  Upper
 * layers never call read, write or close on a socket; they register a
 * handler vtable plus a ctx pointer and receive callbacks.
 *
 * Re-entrancy: every callback may call any function here, including
 * rs_close() on any connection (its own too) and rs_cancel_task() on any
 * task.  Closing is deferred: rs_close() marks the connection, and after the
 * current dispatch pass the socket is closed, the handler's `lost` runs
 * exactly once, and the memory is freed.  After rs_close() no further
 * `data` or `flushed` callback arrives for that connection.
 *
 * Time: rs_now_ms() is CLOCK_MONOTONIC in milliseconds, read once per loop
 * pass.  Timers live in a binary min-heap keyed by (deadline, sequence),
 * see timerheap.h.
 */
#ifndef BT_RAWSERVER_H
#define BT_RAWSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct bt_err;
struct rawserver;
struct rs_conn;
struct rs_udp;

/* Outgoing connect completed, or an incoming connection was accepted. */
typedef void rs_conn_fn(void *ctx, struct rs_conn *c);
/*
 * Bytes arrived.  p points into the reactor's read buffer and is valid only
 * during the call: consume or copy.
 */
typedef void rs_data_fn(void *ctx, struct rs_conn *c, const uint8_t *p,
    size_t n);
/*
 * The connection is gone (closed by us, by the peer, by an error, by the
 * idle timeout, or a connect that failed).  err is 0 for an orderly close,
 * else a negative errno (-ETIMEDOUT for connect or idle timeouts).  Called
 * exactly once per connection, outside of any other callback of it; the
 * connection's memory is freed when it returns.
 */
typedef void rs_lost_fn(void *ctx, struct rs_conn *c, int err);
typedef void rs_task_fn(void *ctx);
/* A datagram arrived on a UDP socket. */
typedef void rs_udp_fn(void *ctx, struct rs_udp *u, const struct sockaddr *from,
    socklen_t fromlen, const uint8_t *p, size_t n);
/* A connected UDP socket got an error (-errno), see rs_udp_connect(). */
typedef void rs_udp_err_fn(void *ctx, struct rs_udp *u, int err);
/* A watched descriptor is readable (or hung up / in error). */
typedef void rs_fd_fn(void *ctx, int fd, short revents);

struct rs_handler {
	rs_conn_fn *made;	/* connected or accepted; may be NULL */
	rs_data_fn *data;
	rs_lost_fn *lost;
	rs_conn_fn *flushed;	/* output queue just became empty; may be NULL */
};

struct rs_config {
	uint32_t timeout_ms;		/* idle: close after no bytes read (300 s) */
	uint32_t timeout_check_ms;	/* period of the idle scan (60 s) */
	uint32_t connect_timeout_ms;	/* outgoing connect limit (15 s) */
	uint32_t max_conns;		/* accepted beyond this are closed (max_allow_in) */
	bool close_on_signal;		/* SIGINT/SIGTERM stop rs_run() (true in programs) */
	uint32_t copy_max;		/* file bytes all queues may hold copied (1 MiB) */
	char tcp_congestion[16];	/* TCP_CONGESTION of peer sockets; "": the system's */
};
/*
 * A zero timeout_ms, timeout_check_ms or connect_timeout_ms disables that
 * timeout; without a connect timeout the idle scan also ends connects
 * pending for timeout_ms (mainline).  max_conns 0 means no limit;
 * max_conns counts every open connection, outgoing ones included
 * (mainline counted all sockets).  close_on_signal installs SIGINT/SIGTERM
 * handlers (no SA_RESTART) until rs_free() restores the previous ones, so
 * a signal during a later rs_run() (a shutdown phase) stops that run too;
 * only one reactor at a time owns them (one created meanwhile does not
 * react to signals).  Every reactor ignores SIGPIPE for good: sendfile()
 * cannot suppress it.  copy_max bounds the memory of the copying send
 * path of rs_write_file() across all connections; 0 sends every file
 * range with sendfile().  A tcp_congestion name is set on every TCP
 * connection made or accepted (Linux; check it first with
 * rs_check_congestion(): a socket that refuses it keeps the system's).
 */

#define RS_CONFIG_DEFAULT_COPY_MAX	(1u << 20)
#define RS_CONFIG_DEFAULT { 300000, 60000, 15000, 55, true, \
	RS_CONFIG_DEFAULT_COPY_MAX, "" }

/* 0 if TCP sockets take congestion control `name`, else -errno: -ENOENT
 * not available, -EPERM not allowed for this user, -ENOSYS not Linux. */
int rs_check_congestion(const char *name);

/* Create a reactor.  Free with rs_free(), which closes everything without
 * calling `lost` (not from inside a callback).  cfg NULL: the defaults.
 * NULL with errno set only when close_on_signal cannot get its pipe. */
struct rawserver *rs_new(const struct rs_config *cfg);
void rs_free(struct rawserver *rs);

/*
 * Listen on the first free port in [minport, maxport], on IPv4 and IPv6
 * (IPV6_V6ONLY, the same port number on both), or only on `bind_addr` when
 * it is a non-empty numeric address.  Accepted connections get handler h
 * and ctx (both borrowed for the reactor's life; rs_conn_set_handler can
 * change them per connection).  Returns the port, or -errno with err set
 * ("no free port in 6881-6999").  May be called more than once.
 * minport 0 asks the kernel for any free port (tests).  A port in use on
 * IPv4 or on IPv6 is skipped; a host without IPv6 listens on IPv4 only.
 */
int rs_listen(struct rawserver *rs, const char *bind_addr, int minport,
    int maxport, const struct rs_handler *h, void *ctx, struct bt_err *err);

/*
 * Start a non-blocking connect to a numeric address; `bind_addr` from the
 * config is not applied here (rs_set_bind does).  Returns the connection
 * (owned by the reactor) or NULL with errno set when it failed at once (no
 * callback then).  Success is reported through h->made, failure through
 * h->lost (with the connect error or -ETIMEDOUT).
 */
struct rs_conn *rs_connect(struct rawserver *rs, const struct sockaddr *sa,
    socklen_t salen, const struct rs_handler *h, void *ctx);
/* Local address to bind outgoing sockets to ("" or NULL: none). */
int rs_set_bind(struct rawserver *rs, const char *bind_addr);

void rs_conn_set_handler(struct rs_conn *c, const struct rs_handler *h,
    void *ctx);
void *rs_conn_ctx(const struct rs_conn *c);
bool rs_conn_is_incoming(const struct rs_conn *c);
/* The peer's address; valid for the connection's life. */
const struct sockaddr *rs_conn_addr(const struct rs_conn *c, socklen_t *out_len);
/* "1.2.3.4:6881" or "[::1]:6881"; valid for the connection's life. */
const char *rs_conn_name(const struct rs_conn *c);

/*
 * Queue bytes for sending (copied).  Outside rs_run() they are sent at
 * once as far as the socket allows.  Inside rs_run() (from a callback)
 * they are deferred and sent, together with every other write of the
 * callback, when it returns: so rs_conn_queued() counts them meanwhile.
 * What the kernel does not take stays queued; POLLOUT is armed only while
 * the queue is non-empty.  A no-op on a closing connection.  Writes from
 * several calls stay in order.  `flushed` fires when a non-empty queue
 * drains, deferred writes included; a write the kernel takes whole at
 * once outside rs_run() fires nothing, so check rs_conn_is_flushed() after
 * writing.  A send error closes the connection (deferred, with the
 * error).  rs_close() sends deferred bytes it can at once, then discards
 * what is still queued.
 */
void rs_write(struct rs_conn *c, const void *p, size_t n);
/*
 * Queue n bytes of file fd starting at off, after anything already
 * queued.  Inside rs_run(), a range of up to 512 KiB that the socket
 * should take at once, when it holds under 32 KiB unsent, is read into
 * the queue and deferred like rs_write() (within cfg.copy_max for all
 * connections), so a run of 16 KiB blocks leaves in one sendmsg().
 * Otherwise the deferred bytes before it are sent (with MSG_MORE), then
 * the range with sendfile(2) at once.  The fd is borrowed for the
 * duration of the call only: what cannot be sent at once is kept on a
 * dup() of it.  A read error (-EIO when the file is shorter than the
 * range) closes the connection.
 */
void rs_write_file(struct rs_conn *c, int fd, uint64_t off, size_t n);
/*
 * One message of rs_write_frames(): hdrlen bytes at hdr, then len bytes
 * of the file.
 */
struct rs_frame {
	const uint8_t *hdr;
	size_t hdrlen, len;
};
/*
 * n messages whose file bytes are one range of fd from off, frame k's
 * from off plus the lengths before it: the same as rs_write() of each
 * header then rs_write_file() of its bytes, but the frames the copying
 * path takes are read with one preadv() for up to 512 KiB of them instead
 * of one pread() each.  The fd is borrowed for the duration of the call.
 */
void rs_write_frames(struct rs_conn *c, int fd, uint64_t off,
    const struct rs_frame *f, size_t n);
/* Bytes queued and not yet handed to the kernel. */
size_t rs_conn_queued(const struct rs_conn *c);
/* Bytes held in memory by every connection's queue, copies included. */
size_t rs_queued_memory(const struct rawserver *rs);
/* File bytes rs_write_file() and rs_write_frames() have read into queues
 * to send by copying. */
uint64_t rs_file_bytes_copied(const struct rawserver *rs);
/* The reads that took them: one per rs_write_file(), one per batch of
 * rs_write_frames(). */
uint64_t rs_file_copy_reads(const struct rawserver *rs);
bool rs_conn_is_flushed(const struct rs_conn *c);
/*
 * Stop or resume reading from this connection (download rate cap).  A
 * paused connection whose peer hangs up is noticed only once resumed (its
 * unread bytes are delivered first); the idle timeout still applies.
 */
void rs_conn_pause_read(struct rs_conn *c, bool paused);
/* Deferred close, see above.  Safe to call twice. */
void rs_close(struct rs_conn *c);
bool rs_conn_is_closing(const struct rs_conn *c);

/* Number of open connections (incoming and outgoing, not listeners). */
size_t rs_num_conns(const struct rawserver *rs);

/*
 * Timers.  Run fn(ctx) once, delay_ms from now.  Returns an id (never 0)
 * for rs_cancel_task(); cancelling an id that already ran is a no-op.
 * Periodic tasks re-add themselves, as in mainline.
 */
uint64_t rs_add_task(struct rawserver *rs, uint64_t delay_ms, rs_task_fn *fn,
    void *ctx);
void rs_cancel_task(struct rawserver *rs, uint64_t id);
uint64_t rs_now_ms(const struct rawserver *rs);

/*
 * UDP: open an unconnected datagram socket for family AF_INET or AF_INET6,
 * bound to an ephemeral port.  NULL with errno set on failure.  rs_udp_send
 * returns 0 or -errno (-EAGAIN counts as a lost datagram: UDP users retry;
 * on a connected socket, a pending -ECONNREFUSED may show up here too).
 */
struct rs_udp *rs_udp_open(struct rawserver *rs, int family, rs_udp_fn *fn,
    void *ctx);
int rs_udp_send(struct rs_udp *u, const struct sockaddr *to, socklen_t tolen,
    const void *p, size_t n);
/*
 * Connect u to one address (connect(2) on the datagram socket): the kernel
 * then passes on only datagrams from sa, and the ICMP errors that our
 * datagrams to it provoke come back as errfn(ctx, u, err), with the ctx of
 * rs_udp_open: -ECONNREFUSED when nothing listens on that port,
 * -EHOSTUNREACH and so on (an unconnected socket never hears of them).
 * errfn may be NULL (errors dropped) and may close u.  Send with to NULL
 * (or sa) afterwards.  Once per socket: a second call returns -EISCONN
 * (the local address picked for the first peer would stick; open another
 * socket for another peer).  Returns 0 or -errno.
 */
int rs_udp_connect(struct rs_udp *u, const struct sockaddr *sa,
    socklen_t salen, rs_udp_err_fn *errfn);
/* The local port (host order) the socket is bound to, or -errno. */
int rs_udp_port(const struct rs_udp *u);
/* Close at once; safe from inside its own callback (memory freed later). */
void rs_udp_close(struct rs_udp *u);

/*
 * Watch any descriptor for readability (the resolver's pipe).  The fd stays
 * owned by the caller; rs_unwatch_fd before closing it.  Returns 0/-errno
 * (-EEXIST when fd is already watched).  fn gets the revents; POLLHUP is
 * reported until the watch ends, and a watch whose fd turned out closed
 * (POLLNVAL) is dropped after its call.  rs_unwatch_fd is safe from inside
 * fn.
 */
int rs_watch_fd(struct rawserver *rs, int fd, rs_fd_fn *fn, void *ctx);
void rs_unwatch_fd(struct rawserver *rs, int fd);

/*
 * Run until rs_stop() or, with close_on_signal, SIGINT/SIGTERM.  Returns 0
 * when stopped by rs_stop(), the signal number when stopped by a signal, or
 * -errno when poll() failed fatally.
 */
int rs_run(struct rawserver *rs);
void rs_stop(struct rawserver *rs);
/*
 * With close_on_signal: the SIGINT/SIGTERM caught and not yet acted on, or
 * 0.  For long work done outside rs_run() (a startup hash check) to poll
 * now and then; a signal seen here still makes the next rs_run() return it
 * at once.
 */
int rs_pending_signal(struct rawserver *rs);

#endif

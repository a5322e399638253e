/*
 * outqueue: a connection's output queue and the sends that drain it (the
 * rawserver's write side).
 *
 * It owns the queued bytes: memory chunks (small writes share a 64 KiB
 * tail chunk, recycled through a pool shared by every queue of a reactor)
 * and file ranges: read into memory chunks at once (oq_read_file, and
 * oq_file when no descriptor is left for a dup), or kept on a dup() of the
 * caller's fd and sent with sendfile(2), or pread()+send() where sendfile
 * refuses the fd.  It also
 * owns the send calls: memory leaves with one sendmsg() of up to
 * OQ_IOV_MAX chunks.  It does not own the socket, poll() interest,
 * deferral or callbacks: rawserver.c decides when to call what, and acts
 * on the results (arm POLLOUT, close on error).
 *
 * Send functions return OQ_DONE when everything they were offered went
 * out, OQ_BLOCKED when the kernel took less (the socket buffer is full:
 * wait for POLLOUT), or -errno (the connection is broken; -EIO when a file
 * is shorter than its range).  EINTR is retried, EAGAIN is OQ_BLOCKED.
 * Sockets must be non-blocking or sent to with MSG_DONTWAIT semantics;
 * sendfile() can raise SIGPIPE, which the reactor ignores.
 *
 * `queued` counts the bytes not yet handed to the kernel, memory and file
 * ranges alike; it is kept by every function here.
 */
#ifndef BT_OUTQUEUE_H
#define BT_OUTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define OQ_CHUNK_SIZE	(64 * 1024)	/* tail chunk for small writes */
#define OQ_SMALL_CHUNK	1024		/* small writes behind a file range */
#define OQ_POOL_MAX	32		/* spare chunks kept for reuse */
#define OQ_IOV_MAX	64		/* chunks per sendmsg() */
#define OQ_WBUF_SIZE	(64 * 1024)	/* pread fallback for file ranges */
#define OQ_SENDFILE_MAX	(16 * 1024 * 1024)

enum { OQ_DONE = 0, OQ_BLOCKED = 1 };

struct oq_chunk {
	struct oq_chunk *next;
	bool is_file;
	bool no_sendfile;	/* sendfile refused this fd: use pread */
	int fd;			/* file chunk: our dup() of the caller's fd */
	uint64_t off;		/* file chunk: next offset to send */
	size_t start, end;	/* memory: unsent bytes are data[start, end) */
	size_t cap;		/* memory: size of data[]; file: bytes left */
	uint8_t data[];
};

/* Spare chunks and the pread buffer, shared by the queues of a reactor. */
struct oq_pool {
	struct oq_chunk *spare;
	size_t nspare;
	uint8_t *wbuf;		/* OQ_WBUF_SIZE, allocated on first use */
	size_t mem_queued;	/* bytes in memory chunks of every queue */
};

#define OQ_POOL_INIT { NULL, 0, NULL, 0 }

/* One connection's queue; all zero is empty. */
struct outqueue {
	struct oq_chunk *head, *tail;
	size_t queued;		/* bytes not yet handed to the kernel */
};

/* Frees the spare chunks and the buffer; the queues must be cleared. */
void oq_pool_release(struct oq_pool *pool);

static inline bool
oq_is_empty(const struct outqueue *q)
{
	return q->head == NULL;
}

/* Drop everything queued (file ranges close their dup). */
void oq_clear(struct outqueue *q, struct oq_pool *pool);

void oq__mem_slow(struct outqueue *q, struct oq_pool *pool, const uint8_t *p,
    size_t n);

/*
 * Copy n bytes onto the end of q, filling the tail chunk first.  The
 * common case (a small write that fits the tail) stays inline: it is on
 * the path of every protocol message.
 */
static inline void
oq_mem(struct outqueue *q, struct oq_pool *pool, const uint8_t *p, size_t n)
{
	struct oq_chunk *t = q->tail;

	if (t != NULL && !t->is_file && t->cap - t->end >= n) {
		memcpy(t->data + t->end, p, n);
		t->end += n;
		q->queued += n;
		pool->mem_queued += n;
		return;
	}
	oq__mem_slow(q, pool, p, n);
}

/*
 * Queue n bytes of file fd from off, on a dup() of fd (the caller keeps
 * fd).  With no descriptor left for the dup, the range is read into
 * memory instead.  0, or -errno (-EIO: the file is shorter) with nothing
 * queued.
 */
int oq_file(struct outqueue *q, struct oq_pool *pool, int fd, uint64_t off,
    size_t n);

/*
 * Read n bytes of file fd from off onto the end of q, filling the tail
 * chunk first (one preadv()), so they leave with the bytes around them in
 * one sendmsg().  0, or -errno (-EIO: the file is shorter) with nothing
 * queued.
 */
int oq_read_file(struct outqueue *q, struct oq_pool *pool, int fd,
    uint64_t off, size_t n);

/*
 * One message of oq_read_frames(): hdrlen bytes at hdr, then len bytes of
 * the file.
 */
struct oq_frame {
	const uint8_t *hdr;
	size_t hdrlen, len;
};
#define OQ_FRAMES_MAX	64	/* frames per oq_read_frames() */

/*
 * Queue n <= OQ_FRAMES_MAX messages whose file bytes are one range of fd
 * from off (frame k's from off + the lengths before it): each header is
 * copied in and the file bytes are read between them with one preadv(),
 * filling the tail chunk first.  0, or -errno (-EIO: the file is shorter)
 * with nothing queued.
 */
int oq_read_frames(struct outqueue *q, struct oq_pool *pool, int fd,
    uint64_t off, const struct oq_frame *f, size_t n);
/* Send p[0, n) on sock without queueing; *out_sent gets what went out. */
int oq_send_now(int sock, const uint8_t *p, size_t n, size_t *out_sent);
/*
 * Send the leading memory chunks of q with one sendmsg().  When more bytes
 * follow (a file range in q, or `more` from the caller) MSG_MORE lets them
 * share a segment: a block's header then leaves with its data.
 */
int oq_send_mem(struct outqueue *q, struct oq_pool *pool, int sock,
    bool more);
/*
 * Send a file range on sock until it is all gone or the socket is full,
 * advancing *off and *left.  *no_sendfile: start with (and, once sendfile
 * refuses fd, switch to) pread()+send() through pool's buffer.
 */
int oq_send_file(struct oq_pool *pool, int sock, int fd, uint64_t *off,
    size_t *left, bool *no_sendfile);
/* Send as much of q as the socket takes: 0 (done or blocked) or -errno. */
int oq_flush(struct outqueue *q, struct oq_pool *pool, int sock);

#endif

/*
 * outqueue: output chunks and the send calls, see outqueue.h.
 *
 * Chunks of OQ_CHUNK_SIZE are recycled through the pool, so a steady
 * stream of small writes allocates nothing; larger writes get a chunk of
 * their own size, freed when sent.  A file chunk has no data[]: cap counts
 * the bytes of its range still to send.
 */
#define _GNU_SOURCE	/* sendfile, MSG_MORE, F_DUPFD_CLOEXEC (Linux) */

#include "outqueue.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sendfile.h>
#endif

#include "xmalloc.h"

/*
 * A chunk for `want` bytes: a pooled OQ_CHUNK_SIZE one, one of its own
 * size when bigger, or with `small`, an OQ_SMALL_CHUNK one when that
 * holds them (a header queued behind a file range would otherwise take,
 * and keep resident, a whole pooled chunk).
 */
static struct oq_chunk *
chunk_new(struct oq_pool *pool, size_t want, bool small)
{
	struct oq_chunk *ch;
	size_t cap = want > OQ_CHUNK_SIZE ? want : OQ_CHUNK_SIZE;

	if (small && want <= OQ_SMALL_CHUNK)
		cap = OQ_SMALL_CHUNK;

	if (cap == OQ_CHUNK_SIZE && pool->spare != NULL) {
		ch = pool->spare;
		pool->spare = ch->next;
		pool->nspare--;
	} else {
		ch = xmalloc(sizeof(*ch) + cap);
	}
	ch->next = NULL;
	ch->is_file = false;
	ch->no_sendfile = false;
	ch->fd = -1;
	ch->off = 0;
	ch->start = ch->end = 0;
	ch->cap = cap;
	return ch;
}

static void
chunk_free(struct oq_pool *pool, struct oq_chunk *ch)
{
	if (ch->is_file) {
		close(ch->fd);
		free(ch);
	} else if (ch->cap == OQ_CHUNK_SIZE && pool->nspare < OQ_POOL_MAX) {
		ch->next = pool->spare;
		pool->spare = ch;
		pool->nspare++;
	} else {
		free(ch);
	}
}

void
oq_pool_release(struct oq_pool *pool)
{
	while (pool->spare != NULL) {
		struct oq_chunk *ch = pool->spare;

		pool->spare = ch->next;
		free(ch);
	}
	pool->nspare = 0;
	free(pool->wbuf);
	pool->wbuf = NULL;
}

static void
queue_push(struct outqueue *q, struct oq_chunk *ch)
{
	if (q->tail != NULL)
		q->tail->next = ch;
	else
		q->head = ch;
	q->tail = ch;
}

static void
queue_pop(struct outqueue *q, struct oq_pool *pool)
{
	struct oq_chunk *ch = q->head;

	q->head = ch->next;
	if (q->head == NULL)
		q->tail = NULL;
	chunk_free(pool, ch);
}

void
oq_clear(struct outqueue *q, struct oq_pool *pool)
{
	while (q->head != NULL) {
		if (!q->head->is_file)
			pool->mem_queued -= q->head->end - q->head->start;
		queue_pop(q, pool);
	}
	q->queued = 0;
}

/* oq_mem() when the bytes do not fit the tail: fill it, then a new chunk. */
void
oq__mem_slow(struct outqueue *q, struct oq_pool *pool, const uint8_t *p,
    size_t n)
{
	struct oq_chunk *t = q->tail;

	q->queued += n;
	pool->mem_queued += n;
	if (t != NULL && !t->is_file && t->end < t->cap) {
		size_t k = t->cap - t->end < n ? t->cap - t->end : n;

		memcpy(t->data + t->end, p, k);
		t->end += k;
		p += k;
		n -= k;
	}
	if (n > 0) {
		t = chunk_new(pool, n, t != NULL && t->is_file);
		memcpy(t->data, p, n);
		t->end = n;
		queue_push(q, t);
	}
}

/*
 * preadv() until iov[0, n) is full.  0, or -errno (-EIO: the file ended);
 * iov is consumed.
 */
static int
preadv_full(int fd, struct iovec *iov, int n, uint64_t off)
{
	while (n > 0) {
		ssize_t r = preadv(fd, iov, n, (off_t)off);
		size_t left;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		off += (uint64_t)r;
		for (left = (size_t)r; n > 0 && left >= iov->iov_len; n--)
			left -= (iov++)->iov_len;
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

/*
 * Make room for n bytes at the end of q, the tail chunk first, and note
 * where they go in iov (at most 2 entries); the caller fills them.
 */
static int
queue_reserve(struct outqueue *q, struct oq_pool *pool, size_t n,
    struct iovec *iov)
{
	struct oq_chunk *t = q->tail;
	size_t a = 0;
	int niov = 0;

	if (t != NULL && !t->is_file)
		a = t->cap - t->end < n ? t->cap - t->end : n;
	if (a > 0) {
		iov[niov].iov_base = t->data + t->end;
		iov[niov++].iov_len = a;
		t->end += a;
	}
	if (a < n) {
		t = chunk_new(pool, n - a, false);
		iov[niov].iov_base = t->data;
		iov[niov++].iov_len = n - a;
		t->end = n - a;
		queue_push(q, t);
	}
	q->queued += n;
	pool->mem_queued += n;
	return niov;
}

/* Undo what was queued after the tail `t` held `end` bytes. */
static void
queue_truncate(struct outqueue *q, struct oq_pool *pool, struct oq_chunk *t,
    size_t end, size_t queued, size_t mem_queued)
{
	struct oq_chunk *ch = t != NULL ? t->next : q->head;

	while (ch != NULL) {
		struct oq_chunk *next = ch->next;

		chunk_free(pool, ch);
		ch = next;
	}
	if (t != NULL) {
		t->next = NULL;
		if (!t->is_file)
			t->end = end;
	} else {
		q->head = NULL;
	}
	q->tail = t;
	q->queued = queued;
	pool->mem_queued = mem_queued;
}

int
oq_read_frames(struct outqueue *q, struct oq_pool *pool, int fd,
    uint64_t off, const struct oq_frame *f, size_t n)
{
	struct iovec iov[2 * OQ_FRAMES_MAX];
	struct oq_chunk *t = q->tail;
	size_t end = t != NULL ? t->end : 0;
	size_t queued = q->queued, mem_queued = pool->mem_queued;
	int niov = 0, r;

	if (n > OQ_FRAMES_MAX)
		return -EINVAL;
	for (size_t k = 0; k < n; k++) {
		if (f[k].hdrlen > 0)
			oq_mem(q, pool, f[k].hdr, f[k].hdrlen);
		if (f[k].len > 0)
			niov += queue_reserve(q, pool, f[k].len, iov + niov);
	}
	if (niov > 0 && (r = preadv_full(fd, iov, niov, off)) < 0) {
		queue_truncate(q, pool, t, end, queued, mem_queued);
		return r;
	}
	return 0;
}

int
oq_read_file(struct outqueue *q, struct oq_pool *pool, int fd, uint64_t off,
    size_t n)
{
	struct oq_frame f = { NULL, 0, n };

	return oq_read_frames(q, pool, fd, off, &f, 1);
}

int
oq_file(struct outqueue *q, struct oq_pool *pool, int fd, uint64_t off,
    size_t n)
{
	struct oq_chunk *ch;
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (dfd < 0)
		return oq_read_file(q, pool, fd, off, n);
	ch = xmalloc(sizeof(*ch));
	memset(ch, 0, sizeof(*ch));
	ch->is_file = true;
	ch->fd = dfd;
	ch->off = off;
	ch->cap = n;
	q->queued += n;
	queue_push(q, ch);
	return 0;
}

static bool
is_again(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK;
}

int
oq_send_now(int sock, const uint8_t *p, size_t n, size_t *out_sent)
{
	ssize_t r;

	*out_sent = 0;
	for (;;) {
		r = send(sock, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r >= 0)
			break;
		if (errno == EINTR)
			continue;
		return is_again(errno) ? OQ_BLOCKED : -errno;
	}
	*out_sent = (size_t)r;
	return (size_t)r == n ? OQ_DONE : OQ_BLOCKED;
}

int
oq_send_mem(struct outqueue *q, struct oq_pool *pool, int sock, bool more)
{
	struct iovec iov[OQ_IOV_MAX];
	struct msghdr msg;
	struct oq_chunk *ch;
	size_t total = 0, sent;
	int niov = 0, flags = MSG_NOSIGNAL | MSG_DONTWAIT;
	ssize_t r;

	for (ch = q->head; ch != NULL && !ch->is_file && niov < OQ_IOV_MAX;
	    ch = ch->next) {
		iov[niov].iov_base = ch->data + ch->start;
		iov[niov].iov_len = ch->end - ch->start;
		total += ch->end - ch->start;
		niov++;
	}
	if (more || ch != NULL)
		flags |= MSG_MORE;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = (size_t)niov;
	do {
		r = sendmsg(sock, &msg, flags);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return is_again(errno) ? OQ_BLOCKED : -errno;
	sent = (size_t)r;
	q->queued -= sent;
	pool->mem_queued -= sent;
	while (sent > 0) {
		ch = q->head;
		if (sent < ch->end - ch->start) {
			ch->start += sent;
			break;
		}
		sent -= ch->end - ch->start;
		queue_pop(q, pool);
	}
	return (size_t)r == total ? OQ_DONE : OQ_BLOCKED;
}

/* One pread()+send() step, for descriptors sendfile() refuses. */
static int
send_file_copy(struct oq_pool *pool, int sock, int fd, uint64_t *off,
    size_t *left)
{
	size_t want = *left < OQ_WBUF_SIZE ? *left : OQ_WBUF_SIZE;
	size_t sent;
	ssize_t r;
	int w;

	if (pool->wbuf == NULL)
		pool->wbuf = xmalloc(OQ_WBUF_SIZE);
	do {
		r = pread(fd, pool->wbuf, want, (off_t)*off);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -EIO;	/* the file is shorter than promised */
	w = oq_send_now(sock, pool->wbuf, (size_t)r, &sent);
	*off += sent;
	*left -= sent;
	return w;
}

#ifdef __linux__
/* One sendfile() call; *no_sendfile is set when the fd does not support it. */
static int
send_file_sf(int sock, int fd, uint64_t *off, size_t *left,
    bool *no_sendfile)
{
	size_t want = *left < OQ_SENDFILE_MAX ? *left : OQ_SENDFILE_MAX;
	off_t o = (off_t)*off;
	ssize_t r;

	do {
		r = sendfile(sock, fd, &o, want);
	} while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EINVAL || errno == ENOSYS)) {
		*no_sendfile = true;
		return OQ_DONE;
	}
	if (r < 0)
		return is_again(errno) ? OQ_BLOCKED : -errno;
	if (r == 0)
		return -EIO;	/* the file is shorter than promised */
	*off += (uint64_t)r;
	*left -= (size_t)r;
	return (size_t)r < want ? OQ_BLOCKED : OQ_DONE;
}
#endif

/*
 * A short sendfile() means the socket buffer filled up; a zero return
 * means the file ended early, which the connection cannot recover from.
 */
int
oq_send_file(struct oq_pool *pool, int sock, int fd, uint64_t *off,
    size_t *left, bool *no_sendfile)
{
	int w;

#ifndef __linux__
	*no_sendfile = true;
#endif
	while (*left > 0) {
#ifdef __linux__
		if (!*no_sendfile)
			w = send_file_sf(sock, fd, off, left, no_sendfile);
		else
#endif
			w = send_file_copy(pool, sock, fd, off, left);
		if (w != OQ_DONE)
			return *left > 0 || w < 0 ? w : OQ_DONE;
	}
	return OQ_DONE;
}

static int
flush_file(struct outqueue *q, struct oq_pool *pool, int sock)
{
	struct oq_chunk *ch = q->head;
	size_t before = ch->cap;
	int w = oq_send_file(pool, sock, ch->fd, &ch->off, &ch->cap,
	    &ch->no_sendfile);

	q->queued -= before - ch->cap;
	if (w == OQ_DONE)
		queue_pop(q, pool);
	return w;
}

int
oq_flush(struct outqueue *q, struct oq_pool *pool, int sock)
{
	while (q->head != NULL) {
		int w = q->head->is_file ? flush_file(q, pool, sock) :
		    oq_send_mem(q, pool, sock, false);

		if (w < 0)
			return w;
		if (w == OQ_BLOCKED)
			return 0;
	}
	return 0;
}

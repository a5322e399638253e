/*
 * test_outqueue: the output queue on its own, over a real non-blocking
 * socketpair with small buffers: byte accounting and chunk layout, the
 * chunk pool, partial sends (more than OQ_IOV_MAX chunks), file ranges by
 * sendfile and by pread, ranges past the end of a file, the in-memory
 * fallback when no descriptor is left for the dup, ranges read into the
 * queue (oq_read_file), and a peer that hangs up.  Every byte that arrives is compared with what was queued.
 */
#include "outqueue.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "xmalloc.h"

#define FILE_LEN 300000

static uint8_t
pat(size_t i)
{
	return (uint8_t)(i * 7 + (i >> 8) * 13 + (i >> 16));
}

static void
fill(uint8_t *p, size_t n, size_t base)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pat(base + i);
}

/* A non-blocking socketpair; sv[0] sends, sv[1] receives. */
static void
pair_open(int sv[2])
{
	int small = 16 * 1024;

	CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	for (int i = 0; i < 2; i++)
		CHECK_OK(fcntl(sv[i], F_SETFL, fcntl(sv[i], F_GETFL) |
		    O_NONBLOCK));
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
}

static void
pair_close(int sv[2])
{
	close(sv[0]);
	close(sv[1]);
}

/* Read what the socket holds, appending to buf at *len. */
static void
drain(int fd, uint8_t *buf, size_t cap, size_t *len)
{
	for (;;) {
		ssize_t r = read(fd, buf + *len, cap - *len);

		if (r <= 0)
			break;
		*len += (size_t)r;
	}
}

static size_t
nchunks(const struct outqueue *q)
{
	size_t n = 0;

	for (const struct oq_chunk *ch = q->head; ch != NULL; ch = ch->next)
		n++;
	return n;
}

/*
 * Flush and drain until q is empty (at most `rounds` rounds).  After each
 * round everything the kernel took has been read, so read + queued must
 * equal the total.  Returns how many flushes left bytes queued.
 */
static int
pump(struct outqueue *q, struct oq_pool *pool, int sv[2], uint8_t *buf,
    size_t cap, size_t *len, int rounds)
{
	size_t total = *len + q->queued;
	int partial = 0;
	bool balanced = true;

	for (int i = 0; i < rounds && !oq_is_empty(q); i++) {
		CHECK_OK(oq_flush(q, pool, sv[0]));
		if (!oq_is_empty(q))
			partial++;
		drain(sv[1], buf, cap, len);
		if (*len + q->queued != total)
			balanced = false;
	}
	CHECK(balanced);
	CHECK(oq_is_empty(q));
	CHECK_INT_EQ(q->queued, 0);
	return partial;
}

static void
test_accounting_and_pool(void)
{
	struct oq_pool pool = OQ_POOL_INIT;
	struct outqueue q = { NULL, NULL, 0 };
	static uint8_t big[200000];
	struct oq_chunk *seen[2];

	fill(big, sizeof(big), 0);
	for (int i = 0; i < 3; i++)
		oq_mem(&q, &pool, big, 100);
	CHECK_INT_EQ(q.queued, 300);
	CHECK_INT_EQ(nchunks(&q), 1);
	CHECK(q.head == q.tail && q.head->cap == OQ_CHUNK_SIZE);
	/* A write past the tail's room fills it, then spills over. */
	oq_mem(&q, &pool, big, OQ_CHUNK_SIZE);
	CHECK_INT_EQ(q.queued, 300 + OQ_CHUNK_SIZE);
	CHECK_INT_EQ(nchunks(&q), 2);
	CHECK_INT_EQ(q.head->end, OQ_CHUNK_SIZE);
	CHECK_INT_EQ(q.tail->end, 300);
	seen[0] = q.head;
	seen[1] = q.tail;
	/* A big write: the tail's room, then one chunk of the rest. */
	oq_mem(&q, &pool, big, sizeof(big));
	CHECK_INT_EQ(nchunks(&q), 3);
	CHECK_INT_EQ(q.tail->cap, sizeof(big) - (OQ_CHUNK_SIZE - 300));
	CHECK_INT_EQ(q.tail->end, q.tail->cap);
	CHECK_INT_EQ(q.queued, 300 + OQ_CHUNK_SIZE + sizeof(big));
	CHECK_MEM_EQ(q.tail->data, big + OQ_CHUNK_SIZE - 300, q.tail->cap);
	/* Clearing keeps the two standard chunks, frees the big one. */
	oq_clear(&q, &pool);
	CHECK(oq_is_empty(&q) && q.tail == NULL);
	CHECK_INT_EQ(q.queued, 0);
	CHECK_INT_EQ(pool.nspare, 2);
	oq_mem(&q, &pool, big, 10);
	CHECK(q.head == seen[0] || q.head == seen[1]);
	CHECK_INT_EQ(q.head->start, 0);
	CHECK_INT_EQ(q.head->end, 10);
	CHECK_INT_EQ(pool.nspare, 1);
	/* The pool keeps at most OQ_POOL_MAX spares. */
	for (int i = 0; i < OQ_POOL_MAX + 8; i++)
		oq_mem(&q, &pool, big, OQ_CHUNK_SIZE);
	CHECK_INT_EQ(pool.nspare, 0);
	oq_clear(&q, &pool);
	CHECK_INT_EQ(pool.nspare, OQ_POOL_MAX);
	oq_pool_release(&pool);
	CHECK_INT_EQ(pool.nspare, 0);
	CHECK(pool.spare == NULL);
}

/*
 * Many small writes and 70 big ones (each its own chunk, so one sendmsg
 * cannot take them all) through 16 KiB socket buffers.
 */
static void
test_partial_sends(void)
{
	struct oq_pool pool = OQ_POOL_INIT;
	struct outqueue q = { NULL, NULL, 0 };
	size_t total = 2000 * 17 + 70 * 70000, off = 0, len = 0;
	uint8_t *src = xmalloc(total), *dst = xmalloc(total);
	int sv[2], partial;

	fill(src, total, 0);
	pair_open(sv);
	for (int i = 0; i < 2000; i++, off += 17)
		oq_mem(&q, &pool, src + off, 17);
	for (int i = 0; i < 70; i++, off += 70000)
		oq_mem(&q, &pool, src + off, 70000);
	CHECK_INT_EQ(q.queued, total);
	CHECK(nchunks(&q) > OQ_IOV_MAX);
	/* The first sendmsg() is cut short by the socket buffer. */
	CHECK_INT_EQ(oq_send_mem(&q, &pool, sv[0], false), OQ_BLOCKED);
	CHECK(q.queued > 0 && q.queued < total);
	drain(sv[1], dst, total, &len);
	CHECK_INT_EQ(len + q.queued, total);
	partial = pump(&q, &pool, sv, dst, total, &len, 100000);
	CHECK(partial > 0);
	CHECK_INT_EQ(len, total);
	CHECK_MEM_EQ(dst, src, total);
	/* An empty queue flushes to nothing. */
	CHECK_OK(oq_flush(&q, &pool, sv[0]));
	pair_close(sv);
	oq_pool_release(&pool);
	free(src);
	free(dst);
}

/* An unlinked temporary file of FILE_LEN pattern bytes. */
static int
temp_file(void)
{
	char path[] = "/tmp/test_outqueue.XXXXXX";
	uint8_t *p = xmalloc(FILE_LEN);
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	unlink(path);
	fill(p, FILE_LEN, 0);
	CHECK_INT_EQ(write(fd, p, FILE_LEN), FILE_LEN);
	free(p);
	return fd;
}

/*
 * Memory, a file range, memory, a file range, in order: the ranges are
 * kept on dups (the caller's fd is closed before sending).
 */
static void
test_file_ranges(void)
{
	struct oq_pool pool = OQ_POOL_INIT;
	struct outqueue q = { NULL, NULL, 0 };
	size_t want_len = 3 + 200000 + 4 + 10, len = 0;
	uint8_t *want = xmalloc(want_len), *dst = xmalloc(want_len);
	int sv[2], fd = temp_file();

	memcpy(want, "HDR", 3);
	fill(want + 3, 200000, 1000);
	memcpy(want + 200003, "TAIL", 4);
	fill(want + 200007, 10, FILE_LEN - 10);
	pair_open(sv);
	oq_mem(&q, &pool, (const uint8_t *)"HDR", 3);
	CHECK_OK(oq_file(&q, &pool, fd, 1000, 200000));
	oq_mem(&q, &pool, (const uint8_t *)"TAIL", 4);
	CHECK_OK(oq_file(&q, &pool, fd, FILE_LEN - 10, 10));
	CHECK_INT_EQ(nchunks(&q), 4);
	CHECK(q.head->next->is_file && !q.tail->next);
	CHECK_INT_EQ(q.queued, want_len);
	close(fd);
	CHECK(pump(&q, &pool, sv, dst, want_len, &len, 100000) > 0);
	CHECK_INT_EQ(len, want_len);
	CHECK_MEM_EQ(dst, want, want_len);
	pair_close(sv);
	oq_pool_release(&pool);
	free(want);
	free(dst);
}

/* The pread()+send() path that descriptors sendfile() refuses take. */
static void
test_send_file_copy(void)
{
	struct oq_pool pool = OQ_POOL_INIT;
	uint8_t *want = xmalloc(150000), *dst = xmalloc(150000);
	uint64_t off = 5000;
	size_t left = 150000, len = 0;
	bool no_sf = true;
	int sv[2], fd = temp_file(), w, blocked = 0;

	fill(want, 150000, 5000);
	pair_open(sv);
	for (int i = 0; i < 100000 && left > 0; i++) {
		w = oq_send_file(&pool, sv[0], fd, &off, &left, &no_sf);
		CHECK(w == OQ_DONE || w == OQ_BLOCKED);
		if (w == OQ_BLOCKED)
			blocked++;
		drain(sv[1], dst, 150000, &len);
		if (len != off - 5000)
			break;
	}
	CHECK(pool.wbuf != NULL);
	CHECK(no_sf);
	CHECK(blocked > 0);
	CHECK_INT_EQ(left, 0);
	CHECK_INT_EQ(off, 155000);
	CHECK_INT_EQ(len, 150000);
	CHECK_MEM_EQ(dst, want, 150000);
	/* Past the end of the file: what exists goes out, then -EIO. */
	off = FILE_LEN - 100;
	left = 1000;
	w = oq_send_file(&pool, sv[0], fd, &off, &left, &no_sf);
	CHECK_INT_EQ(w, -EIO);
	CHECK_INT_EQ(off, FILE_LEN);
	CHECK_INT_EQ(left, 900);
	close(fd);
	pair_close(sv);
	oq_pool_release(&pool);
	CHECK(pool.wbuf == NULL);
	free(want);
	free(dst);
}

/* A queued range that runs past the end of the file fails the flush. */
static void
test_short_file(void)
{
	struct oq_pool pool = OQ_POOL_INIT;
	struct outqueue q = { NULL, NULL, 0 };
	static uint8_t dst[4096];
	size_t len = 0;
	int sv[2], fd = temp_file(), r = 0;

	pair_open(sv);
	CHECK_OK(oq_file(&q, &pool, fd, FILE_LEN - 1000, 3000));
	for (int i = 0; i < 1000 && r == 0; i++) {
		r = oq_flush(&q, &pool, sv[0]);
		drain(sv[1], dst, sizeof(dst), &len);
	}
	CHECK_INT_EQ(r, -EIO);
	CHECK_INT_EQ(len, 1000);
	CHECK_INT_EQ(q.queued, 2000);
	oq_clear(&q, &pool);
	close(fd);
	pair_close(sv);
	oq_pool_release(&pool);
}

/*
 * No descriptor left for the dup: the range is read into memory at once
 * (and a range past the end of the file is refused, nothing queued).
 */
static void
test_file_without_dup(void)
{
	struct oq_pool pool = OQ_POOL_INIT;
	struct outqueue q = { NULL, NULL, 0 };
	struct rlimit old, low;
	static int extra[256];
	static uint8_t want[5000], dst[5000];
	size_t len = 0;
	int sv[2], fd = temp_file(), nextra = 0, r;

	pair_open(sv);
	CHECK_OK(getrlimit(RLIMIT_NOFILE, &old));
	low = old;
	low.rlim_cur = 64;
	CHECK_OK(setrlimit(RLIMIT_NOFILE, &low));
	while (nextra < 256) {
		int e = open("/dev/null", O_RDONLY);

		if (e < 0)
			break;
		extra[nextra++] = e;
	}
	CHECK(nextra < 256);
	CHECK_OK(oq_file(&q, &pool, fd, 1234, 5000));
	r = oq_file(&q, &pool, fd, FILE_LEN - 10, 20);
	while (nextra > 0)
		close(extra[--nextra]);
	CHECK_OK(setrlimit(RLIMIT_NOFILE, &old));
	CHECK_INT_EQ(r, -EIO);
	CHECK_INT_EQ(nchunks(&q), 1);
	CHECK(!q.head->is_file);
	CHECK_INT_EQ(q.queued, 5000);
	close(fd);
	fill(want, sizeof(want), 1234);
	pump(&q, &pool, sv, dst, sizeof(dst), &len, 100000);
	CHECK_INT_EQ(len, sizeof(want));
	CHECK_MEM_EQ(dst, want, sizeof(want));
	pair_close(sv);
	oq_pool_release(&pool);
}

/*
 * oq_read_file: 16 KiB blocks from scattered offsets with 13-byte headers
 * between them pack into the tail chunk and then new ones (one block may
 * straddle two chunks); the caller's fd is closed before sending.  A
 * range past the end of the file, or a bad fd, queues nothing.  The
 * pool's mem_queued follows every memory byte queued, sent and cleared.
 */
static void
test_read_file(void)
{
	enum { NBLK = 12, BLK = 16384, HDR = 13 };
	struct oq_pool pool = OQ_POOL_INIT;
	struct outqueue q = { NULL, NULL, 0 };
	size_t want_len = NBLK * (HDR + BLK), len = 0, tail_end;
	uint8_t *want = xmalloc(want_len), *dst = xmalloc(want_len);
	uint8_t hdr[HDR];
	int sv[2], fd = temp_file();

	for (int k = 0; k < NBLK; k++) {
		/* Offsets out of order and not block aligned. */
		size_t off = (size_t)((k * 5) % NBLK) * BLK + (size_t)k;
		uint8_t *w = want + (size_t)k * (HDR + BLK);

		memset(hdr, 'a' + k, HDR);
		oq_mem(&q, &pool, hdr, HDR);
		CHECK_OK(oq_read_file(&q, &pool, fd, off, BLK));
		memcpy(w, hdr, HDR);
		fill(w + HDR, BLK, off);
	}
	close(fd);
	CHECK_INT_EQ(q.queued, want_len);
	CHECK_INT_EQ(pool.mem_queued, want_len);
	/* Packed: every chunk but the last is full. */
	CHECK_INT_EQ(nchunks(&q), (want_len + OQ_CHUNK_SIZE - 1) /
	    OQ_CHUNK_SIZE);
	for (const struct oq_chunk *ch = q.head; ch != NULL; ch = ch->next)
		CHECK(!ch->is_file && (ch->next == NULL ||
		    ch->end == OQ_CHUNK_SIZE));
	/* Failures leave the queue as it was. */
	fd = temp_file();
	tail_end = q.tail->end;
	CHECK_INT_EQ(oq_read_file(&q, &pool, fd, FILE_LEN - 10, 20), -EIO);
	CHECK_INT_EQ(oq_read_file(&q, &pool, fd, FILE_LEN - 10,
	    2 * OQ_CHUNK_SIZE), -EIO);
	CHECK_INT_EQ(oq_read_file(&q, &pool, -1, 0, 10), -EBADF);
	CHECK_OK(oq_read_file(&q, &pool, fd, 0, 0));
	close(fd);
	CHECK_INT_EQ(q.tail->end, tail_end);
	CHECK_INT_EQ(q.queued, want_len);
	CHECK_INT_EQ(pool.mem_queued, want_len);
	pair_open(sv);
	CHECK(pump(&q, &pool, sv, dst, want_len, &len, 100000) > 0);
	CHECK_INT_EQ(len, want_len);
	CHECK_MEM_EQ(dst, want, want_len);
	CHECK_INT_EQ(pool.mem_queued, 0);
	/* Clearing a queue gives its memory bytes back too. */
	oq_mem(&q, &pool, hdr, HDR);
	fd = temp_file();
	CHECK_OK(oq_file(&q, &pool, fd, 0, 100));
	/* A header behind a file range takes a small chunk, not a pooled one. */
	oq_mem(&q, &pool, hdr, HDR);
	CHECK(q.tail->cap == OQ_SMALL_CHUNK && q.tail->end == HDR);
	CHECK_OK(oq_read_file(&q, &pool, fd, 0, 2000));
	CHECK(q.tail->cap == OQ_CHUNK_SIZE &&
	    q.tail->end == 2000 - (OQ_SMALL_CHUNK - (size_t)HDR));
	close(fd);
	CHECK_INT_EQ(pool.mem_queued, 2 * HDR + 2000);
	CHECK_INT_EQ(q.queued, 2 * HDR + 2100);
	oq_clear(&q, &pool);
	CHECK_INT_EQ(pool.mem_queued, 0);
	pair_close(sv);
	oq_pool_release(&pool);
	free(want);
	free(dst);
}

/*
 * oq_read_frames: headers and a run of the file read between them, across
 * chunk boundaries (and a block bigger than a chunk), behind bytes already
 * queued and behind a file range; the same bytes as oq_mem() of each
 * header then oq_read_file() of its block.  A file that ends inside the
 * run, a bad fd and too many frames leave the queue as it was, headers
 * included.
 */
static void
test_read_frames(void)
{
	enum { NF = 9, HDR = 13 };
	static const size_t lens[NF] = { 16384, 16384, 16384, 1, 16384,
	    OQ_CHUNK_SIZE + 100, 0, 16384, 5000 };
	struct oq_pool pool = OQ_POOL_INIT;
	struct outqueue q = { NULL, NULL, 0 };
	struct oq_frame f[NF], many[OQ_FRAMES_MAX + 1];
	uint8_t hdrs[NF][HDR], *want, *dst;
	size_t want_len = 7, total = 0, len = 0, tail_end, queued, mem;
	uint64_t off = 1234;
	int sv[2], fd = temp_file();

	for (int k = 0; k < NF; k++) {
		memset(hdrs[k], 'A' + k, HDR);
		f[k].hdr = hdrs[k];
		f[k].hdrlen = k == 4 ? 0 : HDR;	/* one without a header */
		f[k].len = lens[k];
		want_len += f[k].hdrlen + lens[k];
		total += lens[k];
	}
	want = xmalloc(want_len);
	dst = xmalloc(want_len);
	/* Something queued first, so the run starts inside the tail. */
	oq_mem(&q, &pool, (const uint8_t *)"prefix!", 7);
	memcpy(want, "prefix!", 7);
	len = 7;
	for (int k = 0; k < NF; k++) {
		memcpy(want + len, f[k].hdr, f[k].hdrlen);
		len += f[k].hdrlen;
		fill(want + len, lens[k], off);
		len += lens[k];
		off += lens[k];
	}
	CHECK_OK(oq_read_frames(&q, &pool, fd, 1234, f, NF));
	CHECK_INT_EQ(q.queued, want_len);
	CHECK_INT_EQ(pool.mem_queued, want_len);
	/* Failures leave it as it was. */
	tail_end = q.tail->end;
	queued = q.queued;
	mem = pool.mem_queued;
	CHECK_INT_EQ(oq_read_frames(&q, &pool, fd, FILE_LEN - total + 1, f,
	    NF), -EIO);
	CHECK_INT_EQ(oq_read_frames(&q, &pool, -1, 0, f, NF), -EBADF);
	for (int k = 0; k <= OQ_FRAMES_MAX; k++)
		many[k] = f[0];
	CHECK_INT_EQ(oq_read_frames(&q, &pool, fd, 0, many,
	    OQ_FRAMES_MAX + 1), -EINVAL);
	CHECK_INT_EQ(q.tail->end, tail_end);
	CHECK_INT_EQ(q.queued, queued);
	CHECK_INT_EQ(pool.mem_queued, mem);
	pair_open(sv);
	len = 0;
	CHECK(pump(&q, &pool, sv, dst, want_len, &len, 100000) > 0);
	CHECK_INT_EQ(len, want_len);
	CHECK_MEM_EQ(dst, want, want_len);
	CHECK_INT_EQ(pool.mem_queued, 0);
	/* Behind a file range: the headers start a small chunk, the run
	 * follows; a failure there frees what it added. */
	CHECK_OK(oq_file(&q, &pool, fd, 0, 100));
	queued = q.queued;
	CHECK_INT_EQ(oq_read_frames(&q, &pool, fd, FILE_LEN - 10, f, 2),
	    -EIO);
	CHECK(q.tail->is_file);
	CHECK_INT_EQ(q.queued, queued);
	CHECK_INT_EQ(pool.mem_queued, 0);
	CHECK_OK(oq_read_frames(&q, &pool, fd, 0, f, 2));
	CHECK_INT_EQ(q.queued, 100 + 2 * (HDR + 16384));
	CHECK_INT_EQ(pool.mem_queued, 2 * (HDR + 16384));
	oq_clear(&q, &pool);
	CHECK_INT_EQ(pool.mem_queued, 0);
	close(fd);
	pair_close(sv);
	oq_pool_release(&pool);
	free(want);
	free(dst);
}

/* Direct sends: short when the buffer fills, nothing when full; EPIPE. */
static void
test_send_now_and_hangup(void)
{
	struct oq_pool pool = OQ_POOL_INIT;
	struct outqueue q = { NULL, NULL, 0 };
	static uint8_t buf[65536];
	size_t sent = 1, total = 0;
	int sv[2], w = OQ_DONE, fd = temp_file();

	pair_open(sv);
	for (int i = 0; i < 1000 && w == OQ_DONE; i++) {
		w = oq_send_now(sv[0], buf, sizeof(buf), &sent);
		total += sent;
	}
	CHECK_INT_EQ(w, OQ_BLOCKED);
	CHECK(sent < sizeof(buf));
	CHECK(total > 0);
	CHECK_INT_EQ(oq_send_now(sv[0], buf, 10, &sent), OQ_BLOCKED);
	CHECK_INT_EQ(sent, 0);
	/* The peer goes away: every send path reports -EPIPE. */
	close(sv[1]);
	CHECK_INT_EQ(oq_send_now(sv[0], buf, 10, &sent), -EPIPE);
	oq_mem(&q, &pool, buf, 100);
	CHECK_INT_EQ(oq_flush(&q, &pool, sv[0]), -EPIPE);
	CHECK_INT_EQ(q.queued, 100);
	oq_clear(&q, &pool);
	CHECK_OK(oq_file(&q, &pool, fd, 0, 100));
	CHECK_INT_EQ(oq_flush(&q, &pool, sv[0]), -EPIPE);
	oq_clear(&q, &pool);
	close(fd);
	close(sv[0]);
	oq_pool_release(&pool);
}

int
main(void)
{
	/* sendfile() has no MSG_NOSIGNAL; the reactor ignores SIGPIPE too. */
	signal(SIGPIPE, SIG_IGN);
	CHECK_RUN(test_accounting_and_pool, test_partial_sends,
	    test_file_ranges, test_send_file_copy, test_short_file,
	    test_file_without_dup, test_read_file, test_read_frames, test_send_now_and_hangup);
}

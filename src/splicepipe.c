/*
 * splicepipe: a pipe that gathers one connection's output for one
 * splice(2) into its socket.  See include/splicepipe.h.
 */
#define _GNU_SOURCE	/* pipe2, splice, F_SETPIPE_SZ (Linux) */

#include "splicepipe.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#ifdef __linux__

int
sp_open(struct splicepipe *sp)
{
	int fds[2], size;

	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1)
		return -errno;
	/* A bigger pipe holds a whole callback's blocks; failing is fine. */
	(void)fcntl(fds[1], F_SETPIPE_SZ, SP_PIPE_SIZE);
	size = fcntl(fds[1], F_GETPIPE_SZ);
	sp->r = fds[0];
	sp->w = fds[1];
	sp->bytes = 0;
	sp->cap = size > 0 ? (size_t)size : 0;
	return 0;
}

ssize_t
sp_put_mem(struct splicepipe *sp, const struct iovec *iov, int niov)
{
	ssize_t r;

	do {
		r = writev(sp->w, iov, niov);
	} while (r == -1 && errno == EINTR);
	if (r == -1)
		return errno == EAGAIN ? 0 : -errno;
	sp->bytes += (size_t)r;
	return r;
}

ssize_t
sp_put_file(struct splicepipe *sp, int fd, uint64_t off, size_t n)
{
	loff_t o = (loff_t)off;
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = splice(fd, &o, sp->w, NULL, n - done,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == EAGAIN)
			break;		/* the pipe is full */
		if (r == -1)
			return -errno;
		if (r == 0)
			return -EIO;	/* the file is shorter than promised */
		done += (size_t)r;
		sp->bytes += (size_t)r;
	}
	return (ssize_t)done;
}

ssize_t
sp_send(struct splicepipe *sp, int sock)
{
	ssize_t r;

	if (sp->bytes == 0)
		return 0;
	do {
		r = splice(sp->r, NULL, sock, NULL, sp->bytes,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	} while (r == -1 && errno == EINTR);
	if (r == -1)
		return errno == EAGAIN ? 0 : -errno;
	sp->bytes -= (size_t)r;
	return r;
}

int
sp_take(struct splicepipe *sp, uint8_t *buf)
{
	size_t got = 0;
	ssize_t r;

	while (got < sp->bytes) {
		r = read(sp->r, buf + got, sp->bytes - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r == 0 ? EIO : errno;

			sp_drop(sp);
			return -e;
		}
		got += (size_t)r;
	}
	sp->bytes = 0;
	return 0;
}

void
sp_drop(struct splicepipe *sp)
{
	uint8_t junk[16384];
	ssize_t r;

	while (sp->bytes > 0) {
		r = read(sp->r, junk, sizeof(junk));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		sp->bytes -= (size_t)r < sp->bytes ? (size_t)r : sp->bytes;
	}
	sp->bytes = 0;
}

#else	/* no splice: callers keep their own send path */

int
sp_open(struct splicepipe *sp)
{
	(void)sp;
	return -ENOSYS;
}

ssize_t
sp_put_mem(struct splicepipe *sp, const struct iovec *iov, int niov)
{
	(void)sp;
	(void)iov;
	(void)niov;
	return -ENOSYS;
}

ssize_t
sp_put_file(struct splicepipe *sp, int fd, uint64_t off, size_t n)
{
	(void)sp;
	(void)fd;
	(void)off;
	(void)n;
	return -ENOSYS;
}

ssize_t
sp_send(struct splicepipe *sp, int sock)
{
	(void)sp;
	(void)sock;
	return -ENOSYS;
}

int
sp_take(struct splicepipe *sp, uint8_t *buf)
{
	(void)sp;
	(void)buf;
	return -ENOSYS;
}

void
sp_drop(struct splicepipe *sp)
{
	sp->bytes = 0;
}

#endif

void
sp_close(struct splicepipe *sp)
{
	if (sp->r >= 0)
		close(sp->r);
	if (sp->w >= 0)
		close(sp->w);
	sp->r = sp->w = -1;
	sp->bytes = sp->cap = 0;
}

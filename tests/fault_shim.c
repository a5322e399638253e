/*
 * fault_shim: an LD_PRELOAD library that makes file writes fail, for the
 * disk-fault test (tests/e2e/diskfull.sh).  Built by the Makefile as
 * $(O)/tests/fault_shim.so; not part of any program.
 *
 *	BT_FAULT_AFTER=N	let N bytes of file writes through, then fail
 *				every later one (unset: never fail)
 *	BT_FAULT_ERRNO=E	ENOSPC (the default) or EIO
 *	BT_FAULT_SYNC=1		fsync and fdatasync fail too once spent
 *				(always, when BT_FAULT_AFTER is unset)
 *	BT_FAULT_DATA_ONLY=1	only the positional writes (the torrent's
 *				data) count and fail; write and writev (the
 *				resume file) always work
 *
 * Counted and failed: pwrite, pwrite64, pwritev, pwritev2, and write and
 * writev on regular files other than stdin, stdout and stderr (a log
 * redirected to a file keeps working).  A write that crosses the budget is
 * cut short, as a filling disk does, and the next one fails.  ftruncate is
 * left alone: it makes sparse files, which take no space.
 */
#define _GNU_SOURCE

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int64_t fault_left = -1;		/* bytes still allowed; -1: no limit */
static int fault_errno = ENOSPC;
static int fault_sync;
static int fault_data_only;
static int fault_ready;

static void
fault_init(void)
{
	const char *a, *e, *s, *d;

	if (__atomic_load_n(&fault_ready, __ATOMIC_ACQUIRE))
		return;
	a = getenv("BT_FAULT_AFTER");
	e = getenv("BT_FAULT_ERRNO");
	s = getenv("BT_FAULT_SYNC");
	d = getenv("BT_FAULT_DATA_ONLY");
	if (a != NULL && *a != '\0')
		fault_left = strtoll(a, NULL, 0);
	if (e != NULL && strcmp(e, "EIO") == 0)
		fault_errno = EIO;
	fault_sync = s != NULL && strcmp(s, "1") == 0;
	fault_data_only = d != NULL && strcmp(d, "1") == 0;
	__atomic_store_n(&fault_ready, 1, __ATOMIC_RELEASE);
}

static void *
fault_next(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (p == NULL)
		abort();
	return p;
}

/* How many of n bytes may be written now: n, fewer, or -1 (fail). */
static ssize_t
fault_take(size_t n)
{
	int64_t left;

	fault_init();
	if (fault_left < 0)
		return (ssize_t)n;
	left = __atomic_load_n(&fault_left, __ATOMIC_RELAXED);
	if (left == 0 && n > 0) {
		errno = fault_errno;
		return -1;
	}
	if ((uint64_t)left < n)
		n = (size_t)left;
	__atomic_fetch_sub(&fault_left, (int64_t)n, __ATOMIC_RELAXED);
	return (ssize_t)n;
}

/* Give back what a cut-down write did not use. */
static void
fault_refund(ssize_t allowed, ssize_t done)
{
	if (fault_left >= 0 && done >= 0 && done < allowed)
		__atomic_fetch_add(&fault_left, (int64_t)(allowed - done),
		    __ATOMIC_RELAXED);
	else if (fault_left >= 0 && done < 0)
		__atomic_fetch_add(&fault_left, (int64_t)allowed,
		    __ATOMIC_RELAXED);
}

/* write and writev count only on regular files, not on the log. */
static int
fault_is_file(int fd)
{
	struct stat sb;

	fault_init();
	return !fault_data_only && fd > 2 && fstat(fd, &sb) == 0 &&
	    S_ISREG(sb.st_mode);
}

static size_t
iov_len(const struct iovec *iov, int cnt)
{
	size_t n = 0;

	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

/*
 * A vectored write cut to k bytes: copy the iovecs that fit (the last one
 * shortened) into a private array.  At most 1024 (IOV_MAX) of them.
 */
static int
iov_cut(const struct iovec *iov, int cnt, size_t k, struct iovec *out)
{
	int m = 0;

	for (int i = 0; i < cnt && i < 1024 && k > 0; i++) {
		out[m] = iov[i];
		if (out[m].iov_len > k)
			out[m].iov_len = k;
		k -= out[m].iov_len;
		m++;
	}
	return m;
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	ssize_t k, r;

	if (real == NULL)
		real = (ssize_t (*)(int, const void *, size_t, off_t))
		    fault_next("pwrite");
	if ((k = fault_take(n)) < 0)
		return -1;
	r = real(fd, buf, (size_t)k, off);
	fault_refund(k, r);
	return r;
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off64_t);
	ssize_t k, r;

	if (real == NULL)
		real = (ssize_t (*)(int, const void *, size_t, off64_t))
		    fault_next("pwrite64");
	if ((k = fault_take(n)) < 0)
		return -1;
	r = real(fd, buf, (size_t)k, off);
	fault_refund(k, r);
	return r;
}

static ssize_t
fault_pwritev(const char *name, int fd, const struct iovec *iov, int cnt,
    off_t off, int flags)
{
	struct iovec cut[1024];
	ssize_t k, r;
	int m;

	if ((k = fault_take(iov_len(iov, cnt))) < 0)
		return -1;
	m = iov_cut(iov, cnt, (size_t)k, cut);
	if (strcmp(name, "pwritev2") == 0) {
		ssize_t (*real2)(int, const struct iovec *, int, off_t, int) =
		    (ssize_t (*)(int, const struct iovec *, int, off_t, int))
		    fault_next(name);
		r = real2(fd, cut, m, off, flags);
	} else {
		ssize_t (*real)(int, const struct iovec *, int, off_t) =
		    (ssize_t (*)(int, const struct iovec *, int, off_t))
		    fault_next(name);
		r = real(fd, cut, m, off);
	}
	fault_refund(k, r);
	return r;
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return fault_pwritev("pwritev", fd, iov, cnt, off, 0);
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	return fault_pwritev("pwritev64", fd, iov, cnt, off, 0);
}

ssize_t
pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return fault_pwritev("pwritev2", fd, iov, cnt, off, flags);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);
	ssize_t k, r;

	if (real == NULL)
		real = (ssize_t (*)(int, const void *, size_t))
		    fault_next("write");
	if (!fault_is_file(fd))
		return real(fd, buf, n);
	if ((k = fault_take(n)) < 0)
		return -1;
	r = real(fd, buf, (size_t)k);
	fault_refund(k, r);
	return r;
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	static ssize_t (*real)(int, const struct iovec *, int);
	struct iovec cut[1024];
	ssize_t k, r;
	int m;

	if (real == NULL)
		real = (ssize_t (*)(int, const struct iovec *, int))
		    fault_next("writev");
	if (!fault_is_file(fd))
		return real(fd, iov, cnt);
	if ((k = fault_take(iov_len(iov, cnt))) < 0)
		return -1;
	m = iov_cut(iov, cnt, (size_t)k, cut);
	r = real(fd, cut, m);
	fault_refund(k, r);
	return r;
}

static int
fault_sync_fails(void)
{
	fault_init();
	if (fault_sync && fault_left <= 0) {
		errno = fault_errno;
		return 1;
	}
	return 0;
}

int
fsync(int fd)
{
	static int (*real)(int);

	if (real == NULL)
		real = (int (*)(int))fault_next("fsync");
	return fault_sync_fails() ? -1 : real(fd);
}

int
fdatasync(int fd)
{
	static int (*real)(int);

	if (real == NULL)
		real = (int (*)(int))fault_next("fdatasync");
	return fault_sync_fails() ? -1 : real(fd);
}

/*
 * sendpath: what the kernel charges a sender for ways of sending a file
 * as 16 KiB BitTorrent blocks over loopback TCP.
 *
 *	sendpath FILE MODE
 *
 * Forks a receiver (recv() into a 256 KiB buffer until EOF), sends FILE
 * whole and prints the sender's and the receiver's CPU seconds:
 *
 *   0  send(13-byte header, MSG_MORE) + sendfile(16 KiB), per block:
 *      what btdownload's seeder did until it copied blocks
 *   1  sendfile(16 KiB) per block, no headers
 *   2  writev() of 32 (header, block) pairs from a read-only mapping of
 *      FILE: one call and one kernel copy per 512 KiB
 *   3  sendfile(256 KiB) at a time, no headers
 *   4  preadv() of 32 blocks into a buffer between their headers, then
 *      one send() of the 512 KiB: what btdownload's seeder does with a
 *      piece's consecutive blocks (rs_write_frames)
 *   5  mode 0 with TCP_CORK around each 32 blocks
 *   6  pread() per block into a buffer after its header, one send() per
 *      32 blocks: what btdownload's seeder did before it read runs
 *   7  write() of the header and splice() of the block into a pipe per
 *      block, one splice() of 32 blocks from the pipe into the socket
 *
 * On the development VM (Linux 6.18, 1 GiB in the page cache) the sender
 * spent per GiB: mode 0 0.45-0.62 s, mode 2 0.29-0.40, mode 4 0.33-0.42,
 * mode 5 0.69-0.75, mode 6 0.40-0.43 and mode 7 0.47-0.56; modes 4 and 6
 * with 4 blocks per send() 0.57, with 16 0.35.  The splice machinery
 * behind sendfile and one TCP push per block cost more than copying.
 * Those runs were pinned to one core, receiver and sender together; with
 * the receiver free to run on the other core (as a seeder's peer is) and
 * bbr, the kernel's default there, mode 3 cost 0.54-0.66 and mode 6
 * 0.42-0.55; under cubic 0.07-0.08 and 0.34-0.42: bbr paces every
 * segment with a timer, and the sender pays.  make bench runs modes 3 and
 * 6 next to the seeders.  See docs/performance.md.  Benchmark helper, not
 * a test.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCK	16384
#define BATCH	32		/* blocks per writev() in mode 2 */

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void
receive(const struct sockaddr_in *sa)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	char *buf = malloc(256 * 1024);
	long long total = 0;
	ssize_t n;

	if (s < 0 || buf == NULL ||
	    connect(s, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		die("receiver");
	while ((n = recv(s, buf, 256 * 1024, 0)) > 0)
		total += n;
	printf("receiver: %lld bytes, %.3f CPU s\n", total, cpu_seconds());
	exit(0);
}

/* Write all of iov[0..n), advancing through it on short writes. */
static void
writev_all(int s, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(s, iov, n);

		if (w <= 0)
			die("writev");
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
}

static void
send_all(int s, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(s, p, n, 0);

		if (w <= 0)
			die("send");
		p += w;
		n -= (size_t)w;
	}
}

static void
sendfile_all(int s, int fd, off_t off, size_t n)
{
	while (n > 0) {
		ssize_t w = sendfile(s, fd, &off, n);

		if (w <= 0)
			die("sendfile");
		n -= (size_t)w;
	}
}

static void
send_file(int s, int fd, off_t size, int mode)
{
	static unsigned char hdr[13] = { 0, 0, 0x40, 9, 7 };
	struct iovec iov[2 * BATCH];
	static char scratch[BATCH * (13 + BLOCK)];
	const char *map = NULL;
	int one = 1, zero = 0, pfd[2] = { -1, -1 };
	off_t o;
	int k;

	if (mode == 2 && (map = mmap(NULL, (size_t)size, PROT_READ,
	    MAP_SHARED, fd, 0)) == MAP_FAILED)
		die("mmap");
	for (o = 0; o < size;) {
		switch (mode) {
		case 0:
			if (send(s, hdr, sizeof(hdr), MSG_MORE) !=
			    (ssize_t)sizeof(hdr))
				die("send");
			/* FALLTHROUGH */
		case 1:
			sendfile_all(s, fd, o, BLOCK);
			o += BLOCK;
			break;
		case 2:
			for (k = 0; k < 2 * BATCH && o < size; k += 2) {
				iov[k].iov_base = hdr;
				iov[k].iov_len = sizeof(hdr);
				iov[k + 1].iov_base = (void *)(map + o);
				iov[k + 1].iov_len = BLOCK;
				o += BLOCK;
			}
			writev_all(s, iov, k);
			break;
		case 4:
			for (k = 0; k < BATCH && o + k * BLOCK < size; k++) {
				memcpy(scratch + k * (13 + BLOCK), hdr, 13);
				iov[k].iov_base = scratch + k * (13 + BLOCK) + 13;
				iov[k].iov_len = BLOCK;
			}
			if (preadv(fd, iov, k, o) != (ssize_t)k * BLOCK)
				die("preadv");
			send_all(s, scratch, (size_t)k * (13 + BLOCK));
			o += (off_t)k * BLOCK;
			break;
		case 6:
			for (k = 0; k < BATCH && o < size; k++) {
				char *b = scratch + k * (13 + BLOCK);

				memcpy(b, hdr, 13);
				if (pread(fd, b + 13, BLOCK, o) != BLOCK)
					die("pread");
				o += BLOCK;
			}
			send_all(s, scratch, (size_t)k * (13 + BLOCK));
			break;
		case 7:
			if (pfd[0] < 0) {
				if (pipe(pfd) < 0)
					die("pipe");
				if (fcntl(pfd[1], F_SETPIPE_SZ, 8 * BATCH * 4096) < 0)
					die("F_SETPIPE_SZ");
			}
			for (k = 0; k < BATCH && o < size; k++) {
				loff_t lo = o;

				if (write(pfd[1], hdr, 13) != 13)
					die("pipe write");
				for (ssize_t in = 0, r; in < BLOCK; in += r)
					if ((r = splice(fd, &lo, pfd[1], NULL,
					    (size_t)(BLOCK - in), 0)) <= 0)
						die("splice in");
				o += BLOCK;
			}
			for (ssize_t left = (ssize_t)k * (13 + BLOCK); left > 0;) {
				ssize_t w = splice(pfd[0], NULL, s, NULL, (size_t)left,
				    SPLICE_F_MORE);

				if (w <= 0)
					die("splice out");
				left -= w;
			}
			break;
		case 5:
			setsockopt(s, IPPROTO_TCP, TCP_CORK, &one, sizeof(one));
			for (k = 0; k < BATCH && o < size; k++) {
				if (send(s, hdr, sizeof(hdr), MSG_MORE) !=
				    (ssize_t)sizeof(hdr))
					die("send");
				sendfile_all(s, fd, o, BLOCK);
				o += BLOCK;
			}
			setsockopt(s, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero));
			break;
		default:
			sendfile_all(s, fd, o, 256 * 1024);
			o += 256 * 1024;
			break;
		}
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, lsn, s, mode, one = 1, status;
	off_t size;

	if (argc != 3) {
		fprintf(stderr, "usage: sendpath FILE MODE (0-7)\n");
		return 2;
	}
	mode = atoi(argv[2]);
	if ((fd = open(argv[1], O_RDONLY)) < 0)
		die(argv[1]);
	size = lseek(fd, 0, SEEK_END);
	/* Whole blocks (and whole 256 KiB steps) only. */
	size -= size % (256 * 1024);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lsn = socket(AF_INET, SOCK_STREAM, 0);
	if (lsn < 0 || bind(lsn, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(lsn, (struct sockaddr *)&sa, &len) < 0 ||
	    listen(lsn, 1) < 0)
		die("listen");
	if (fork() == 0)
		receive(&sa);
	if ((s = accept(lsn, NULL, NULL)) < 0)
		die("accept");
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	send_file(s, fd, size, mode);
	shutdown(s, SHUT_WR);
	printf("mode %d: sender %.3f CPU s for %.2f GiB\n", mode,
	    cpu_seconds(), (double)size / (1 << 30));
	fflush(stdout);
	wait(&status);
	return 0;
}

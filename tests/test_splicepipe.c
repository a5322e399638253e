/*
 * splicepipe: headers and file ranges assembled in the pipe arrive at a
 * real TCP peer on loopback byte for byte and in order; a full pipe and a
 * full socket give partial counts, and what the socket refused comes back
 * intact with sp_take; a short file is -EIO.
 */
#define _GNU_SOURCE

#include "splicepipe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

#define FILE_LEN (4u << 20)

static char dir[64];
static uint8_t *content;	/* FILE_LEN bytes, also in dir/data */

/* A connected TCP pair on 127.0.0.1: out[0] sends, out[1] receives. */
static int
tcp_pair(int out[2])
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(l, 1) < 0 || getsockname(l, (struct sockaddr *)&a, &len) < 0)
		return -1;
	out[1] = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(out[1], (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	out[0] = accept(l, NULL, NULL);
	close(l);
	if (out[0] < 0)
		return -1;
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	return 0;
}

/* Read exactly n bytes from fd into buf (blocking, 5 s at most). */
static bool
read_exact(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, 5000) != 1)
			return false;
		r = read(fd, buf + got, n - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static int
open_data(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/data", dir);
	return open(path, O_RDONLY);
}

static void
test_blocks_in_order(void)
{
	struct splicepipe sp = SPLICEPIPE_INIT;
	uint8_t hdr[13], want[8 * (13 + 16384)], got[sizeof(want)];
	size_t n = 0;
	int s[2], fd = open_data();

	CHECK(fd >= 0);
	CHECK_INT_EQ(tcp_pair(s), 0);
	CHECK_INT_EQ(sp_open(&sp), 0);
	CHECK(sp.cap >= 65536);
	/* Eight blocks out of order in the file, each behind a header. */
	for (int k = 0; k < 8; k++) {
		uint64_t off = (uint64_t)((k * 5) % 8) * 16384 + 1000;
		struct iovec iov = { hdr, sizeof(hdr) };

		memset(hdr, 'a' + k, sizeof(hdr));
		CHECK_INT_EQ(sp_put_mem(&sp, &iov, 1), sizeof(hdr));
		CHECK_INT_EQ(sp_put_file(&sp, fd, off, 16384), 16384);
		memcpy(want + n, hdr, sizeof(hdr));
		memcpy(want + n + sizeof(hdr), content + off, 16384);
		n += sizeof(hdr) + 16384;
	}
	CHECK_INT_EQ(sp.bytes, n);
	CHECK_INT_EQ(sp_send(&sp, s[0]), n);
	CHECK_INT_EQ(sp.bytes, 0);
	CHECK(read_exact(s[1], got, n));
	CHECK_MEM_EQ(got, want, n);
	/* Nothing to send is not an error. */
	CHECK_INT_EQ(sp_send(&sp, s[0]), 0);
	sp_close(&sp);
	sp_close(&sp);		/* twice: a no-op */
	CHECK_INT_EQ(sp.r, -1);
	close(s[0]);
	close(s[1]);
	close(fd);
}

/* The pipe fills: a partial count, and the bytes taken are the first. */
static void
test_full_pipe(void)
{
	struct splicepipe sp = SPLICEPIPE_INIT;
	int fd = open_data();
	ssize_t r;
	uint8_t *back = malloc(FILE_LEN);

	CHECK(fd >= 0 && back != NULL);
	CHECK_INT_EQ(sp_open(&sp), 0);
	r = sp_put_file(&sp, fd, 0, FILE_LEN);
	CHECK(r > 0 && (size_t)r < FILE_LEN);
	CHECK_INT_EQ(sp.bytes, r);
	CHECK_INT_EQ(sp_take(&sp, back), 0);
	CHECK_INT_EQ(sp.bytes, 0);
	CHECK_MEM_EQ(back, content, (size_t)r);
	sp_close(&sp);
	free(back);
	close(fd);
}

/* The socket fills: what it refused comes back with sp_take, in order. */
static void
test_full_socket(void)
{
	struct splicepipe sp = SPLICEPIPE_INIT;
	int s[2], fd = open_data(), small = 4096;
	uint8_t *sent = malloc(FILE_LEN), *back = malloc(FILE_LEN);
	size_t in = 0, out = 0;
	ssize_t r;

	CHECK(fd >= 0 && sent != NULL && back != NULL);
	CHECK_INT_EQ(tcp_pair(s), 0);
	setsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(s[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	CHECK_INT_EQ(sp_open(&sp), 0);
	r = sp_put_file(&sp, fd, 0, sp.cap < 262144 ? sp.cap : 262144);
	CHECK(r > 0);
	in = (size_t)r;
	/* Nobody reads: the socket takes a little, then nothing. */
	while ((r = sp_send(&sp, s[0])) > 0)
		out += (size_t)r;
	CHECK_INT_EQ(r, 0);
	CHECK(out < in);
	CHECK_INT_EQ(sp.bytes, in - out);
	CHECK_INT_EQ(sp_take(&sp, back), 0);
	CHECK(read_exact(s[1], sent, out));
	CHECK_MEM_EQ(sent, content, out);
	CHECK_MEM_EQ(back, content + out, in - out);
	sp_close(&sp);
	close(s[0]);
	close(s[1]);
	close(fd);
	free(sent);
	free(back);
}

static void
test_short_file_and_drop(void)
{
	struct splicepipe sp = SPLICEPIPE_INIT;
	int fd = open_data();
	uint8_t b[4] = { 1, 2, 3, 4 };
	struct iovec iov = { b, sizeof(b) };

	CHECK(fd >= 0);
	CHECK_INT_EQ(sp_open(&sp), 0);
	CHECK_INT_EQ(sp_put_file(&sp, fd, FILE_LEN - 100, 1000), -EIO);
	sp_drop(&sp);
	CHECK_INT_EQ(sp.bytes, 0);
	CHECK_INT_EQ(sp_put_mem(&sp, &iov, 1), 4);
	CHECK_INT_EQ(sp.bytes, 4);
	sp_drop(&sp);
	CHECK_INT_EQ(sp.bytes, 0);
	/* Really empty: a new byte is the first one read back. */
	b[0] = 9;
	CHECK_INT_EQ(sp_put_mem(&sp, &iov, 1), 4);
	CHECK_INT_EQ(sp_take(&sp, b), 0);
	CHECK_INT_EQ(b[0], 9);
	sp_close(&sp);
	close(fd);
}

static void
cleanup(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/data", dir);
	unlink(path);
	rmdir(dir);
	free(content);
}

int
main(void)
{
	char path[128];
	FILE *fp;

	snprintf(dir, sizeof(dir), "/tmp/test_splicepipe.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	content = malloc(FILE_LEN);
	if (content == NULL)
		return 1;
	for (size_t k = 0; k < FILE_LEN; k++)
		content[k] = (uint8_t)(k * 2654435761u >> 11);
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/data", dir);
	fp = fopen(path, "wb");
	if (fp == NULL || fwrite(content, 1, FILE_LEN, fp) != FILE_LEN)
		return 1;
	fclose(fp);
	CHECK_RUN(test_blocks_in_order, test_full_pipe, test_full_socket,
	    test_short_file_and_drop);
}

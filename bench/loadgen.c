/*
 * loadgen: many leechers in one process, to load a seeder.
 *
 *	loadgen -a ADDR:PORT -i INFOHASH -n CONNS -L TOTAL -l PIECELEN
 *	    [-q QUEUE] [-w WARMUP_S] [-T SECONDS] [-P SEEDER_PID]
 *
 * Opens CONNS connections to one seeder, does the BitTorrent handshake
 * with a distinct peer id on each, says INTERESTED, and once unchoked
 * keeps QUEUE 16 KiB requests (default 32) outstanding on every
 * connection: each block that arrives is answered with one new request,
 * so it asks "as fast as they come".  Connection k walks the torrent from
 * piece k * npieces / CONNS on, block by block, wrapping at the end.
 *
 * Payloads are discarded by the kernel (recv with MSG_TRUNC), so this
 * process costs little next to the seeder.  Once every connection is
 * unchoked (or WARMUP_S, default 10, has passed) it measures for SECONDS
 * (default 5) and prints one line:
 *
 *	conns=10 unchoked=10 secs=5.001 bytes=4294967296 mib_s=819.1
 *	    seeder_cpu=2.10 cpu_s_per_gib=0.525
 *
 * seeder_cpu (user + system seconds over the window, from
 * /proc/PID/stat) only with -P.  Exits 1 when no block arrived.
 * Benchmark helper: Linux only; single-threaded poll().
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BLOCK		16384u
#define MAX_QUEUE	256
#define OUT_CAP		(MAX_QUEUE * 17 + 128)
#define READ_BUDGET	(1u << 20)	/* bytes per connection per pass */

struct lg_conn {
	int fd;
	bool connected, handshaken, unchoked;
	uint8_t hs[68];			/* the peer's handshake */
	size_t hs_have;
	uint8_t hdr[13];		/* length, id, index, begin */
	size_t hdr_have;
	uint64_t skip;			/* message bytes still to discard */
	uint32_t piece, begin;		/* next block to ask for */
	uint8_t out[OUT_CAP];
	size_t out_len;
};

struct lg {
	struct sockaddr_in addr;
	uint8_t info_hash[20];
	int nconns;
	uint64_t total;
	uint32_t piece_len, npieces;
	int queue;
	double warmup, secs;
	int seeder_pid;
	struct lg_conn *c;
	struct pollfd *pfd;
	int nunchoked;
	uint64_t bytes;			/* payload bytes received */
};

static uint8_t sink[BLOCK * 4];		/* never written: MSG_TRUNC */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
proc_cpu(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
	    &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint32_t
piece_len(const struct lg *g, uint32_t i)
{
	uint64_t off = (uint64_t)i * g->piece_len;

	return g->total - off < g->piece_len ? (uint32_t)(g->total - off) :
	    g->piece_len;
}

static void
flush_out(struct lg_conn *c)
{
	ssize_t r;

	if (c->out_len == 0)
		return;
	r = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (r <= 0)
		return;
	memmove(c->out, c->out + r, c->out_len - (size_t)r);
	c->out_len -= (size_t)r;
}

static void
add_out(struct lg_conn *c, const void *p, size_t n)
{
	if (c->out_len + n > sizeof(c->out))
		return;		/* cannot happen: QUEUE bounds it */
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
}

static void
add_request(struct lg *g, struct lg_conn *c)
{
	uint8_t m[17];
	uint32_t plen = piece_len(g, c->piece);
	uint32_t len = plen - c->begin < BLOCK ? plen - c->begin : BLOCK;

	put32(m, 13);
	m[4] = 6;
	put32(m + 5, c->piece);
	put32(m + 9, c->begin);
	put32(m + 13, len);
	add_out(c, m, sizeof(m));
	c->begin += len;
	if (c->begin >= plen) {
		c->begin = 0;
		c->piece = (c->piece + 1) % g->npieces;
	}
}

static void
send_handshake(struct lg *g, struct lg_conn *c, int k)
{
	uint8_t hs[68 + 5];

	hs[0] = 19;
	memcpy(hs + 1, "BitTorrent protocol", 19);
	memset(hs + 20, 0, 8);
	memcpy(hs + 28, g->info_hash, 20);
	snprintf((char *)hs + 48, 21, "-LG0001-%012d", k);
	put32(hs + 68, 1);
	hs[72] = 2;		/* interested */
	add_out(c, hs, sizeof(hs));
	flush_out(c);
}

/*
 * A message header is at the front of c->hdr: its length and id, and for
 * a block the index and begin too.  Act on it and consume it; the rest of
 * the message is discarded.
 */
static void
got_header(struct lg *g, struct lg_conn *c, uint32_t len)
{
	uint8_t id = c->hdr[4];
	size_t used = id == 7 ? 13 : 5;

	if (id == 1 && !c->unchoked) {		/* unchoke */
		c->unchoked = true;
		g->nunchoked++;
		for (int q = 0; q < g->queue; q++)
			add_request(g, c);
	} else if (id == 0 && c->unchoked) {	/* choke: queue dropped */
		c->unchoked = false;
		g->nunchoked--;
	} else if (id == 7) {
		g->bytes += len - 9;
		if (c->unchoked)
			add_request(g, c);
	}
	c->skip = len + 4 - used;
	c->hdr_have -= used;
	memmove(c->hdr, c->hdr + used, c->hdr_have);
}

/*
 * Parse the headers at the front of c->hdr, dropping skipped bytes that
 * are there.  Returns how many more header bytes are needed (0: none,
 * the rest of a message is being skipped).
 */
static size_t
parse(struct lg *g, struct lg_conn *c)
{
	for (;;) {
		uint32_t len;
		size_t k;

		if (c->skip > 0) {
			k = c->skip < c->hdr_have ? (size_t)c->skip :
			    c->hdr_have;
			c->skip -= k;
			c->hdr_have -= k;
			memmove(c->hdr, c->hdr + k, c->hdr_have);
			if (c->skip > 0)
				return 0;
		}
		if (c->hdr_have < 4)
			return 13 - c->hdr_have;
		len = get32(c->hdr);
		if (len == 0) {			/* keepalive */
			c->hdr_have -= 4;
			memmove(c->hdr, c->hdr + 4, c->hdr_have);
			continue;
		}
		if (c->hdr_have < 5 || (c->hdr[4] == 7 && len > 9 &&
		    c->hdr_have < 13))
			return 13 - c->hdr_have;
		if (c->hdr[4] == 7 && len <= 9)
			c->hdr[4] = 0xff;	/* malformed: just skip it */
		got_header(g, c, len);
	}
}

/* Read what the socket has, up to READ_BUDGET; -1 when it closed. */
static int
conn_read(struct lg *g, struct lg_conn *c)
{
	size_t budget = READ_BUDGET, want;
	ssize_t r;

	while (budget > 0) {
		if (!c->handshaken) {
			r = recv(c->fd, c->hs + c->hs_have, 68 - c->hs_have, 0);
			if (r > 0 && (c->hs_have += (size_t)r) == 68)
				c->handshaken = true;
		} else if ((want = parse(g, c)) == 0) {
			want = c->skip < sizeof(sink) ? (size_t)c->skip :
			    sizeof(sink);
			r = recv(c->fd, sink, want, MSG_TRUNC);
			if (r > 0)
				c->skip -= (uint64_t)r;
		} else {
			r = recv(c->fd, c->hdr + c->hdr_have, want, 0);
			if (r > 0)
				c->hdr_have += (size_t)r;
		}
		if (r == 0)
			return -1;
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		budget -= (size_t)r < budget ? (size_t)r : budget;
	}
	return 0;
}

static int
open_all(struct lg *g)
{
	int one = 1;

	for (int k = 0; k < g->nconns; k++) {
		struct lg_conn *c = &g->c[k];
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

		if (fd < 0) {
			perror("loadgen: socket");
			return -1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, (struct sockaddr *)&g->addr,
		    sizeof(g->addr)) < 0 && errno != EINPROGRESS) {
			perror("loadgen: connect");
			return -1;
		}
		c->fd = fd;
		c->piece = (uint32_t)((uint64_t)k * g->npieces / g->nconns);
		g->pfd[k].fd = fd;
		g->pfd[k].events = POLLOUT;
	}
	return 0;
}

/* One poll() round over every connection. */
static int
pass(struct lg *g)
{
	int alive = 0;

	if (poll(g->pfd, (nfds_t)g->nconns, 50) < 0 && errno != EINTR)
		return -1;
	for (int k = 0; k < g->nconns; k++) {
		struct lg_conn *c = &g->c[k];
		short rev = g->pfd[k].revents;

		if (c->fd < 0)
			continue;
		alive++;
		if (!c->connected && (rev & POLLOUT)) {
			c->connected = true;
			send_handshake(g, c, k);
		} else if (rev & (POLLIN | POLLHUP | POLLERR)) {
			if (conn_read(g, c) < 0) {
				close(c->fd);
				c->fd = g->pfd[k].fd = -1;
				if (c->unchoked)
					g->nunchoked--;
				continue;
			}
		}
		flush_out(c);
		g->pfd[k].events = (short)(c->connected ? POLLIN : POLLOUT);
		if (c->out_len > 0)
			g->pfd[k].events |= POLLOUT;
	}
	return alive;
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen -a ADDR:PORT -i INFOHASH -n CONNS "
	    "-L TOTAL -l PIECELEN [-q QUEUE] [-w WARMUP_S] [-T SECONDS] "
	    "[-P SEEDER_PID]\n");
	exit(2);
}

static void
parse_args(struct lg *g, int argc, char **argv)
{
	char host[64], *colon;
	const char *hex = NULL;
	int ch;

	while ((ch = getopt(argc, argv, "a:i:n:L:l:q:w:T:P:")) != -1) {
		switch (ch) {
		case 'a':
			snprintf(host, sizeof(host), "%s", optarg);
			if ((colon = strrchr(host, ':')) == NULL)
				usage();
			*colon = '\0';
			g->addr.sin_family = AF_INET;
			g->addr.sin_port = htons((uint16_t)atoi(colon + 1));
			if (inet_pton(AF_INET, host, &g->addr.sin_addr) != 1)
				usage();
			break;
		case 'i': hex = optarg; break;
		case 'n': g->nconns = atoi(optarg); break;
		case 'L': g->total = strtoull(optarg, NULL, 10); break;
		case 'l': g->piece_len = (uint32_t)atol(optarg); break;
		case 'q': g->queue = atoi(optarg); break;
		case 'w': g->warmup = atof(optarg); break;
		case 'T': g->secs = atof(optarg); break;
		case 'P': g->seeder_pid = atoi(optarg); break;
		default: usage();
		}
	}
	if (hex == NULL || strlen(hex) != 40 || g->nconns <= 0 ||
	    g->total == 0 || g->piece_len == 0 || g->addr.sin_port == 0 ||
	    g->queue <= 0 || g->queue > MAX_QUEUE)
		usage();
	for (int i = 0; i < 20; i++)
		if (sscanf(hex + 2 * i, "%2hhx", &g->info_hash[i]) != 1)
			usage();
	g->npieces = (uint32_t)((g->total + g->piece_len - 1) / g->piece_len);
}

int
main(int argc, char **argv)
{
	struct lg g;
	struct rlimit rl;
	double t0, t_end, cpu0, secs;

	memset(&g, 0, sizeof(g));
	g.queue = 32;
	g.warmup = 10;
	g.secs = 5;
	parse_args(&g, argc, argv);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	g.c = calloc((size_t)g.nconns, sizeof(*g.c));
	g.pfd = calloc((size_t)g.nconns, sizeof(*g.pfd));
	if (g.c == NULL || g.pfd == NULL || open_all(&g) < 0)
		return 1;
	t0 = now_s();
	while (g.nunchoked < g.nconns && now_s() - t0 < g.warmup)
		if (pass(&g) <= 0)
			break;
	g.bytes = 0;
	cpu0 = proc_cpu(g.seeder_pid);
	t0 = now_s();
	t_end = t0 + g.secs;
	while (now_s() < t_end)
		if (pass(&g) <= 0)
			break;
	secs = now_s() - t0;
	cpu0 = proc_cpu(g.seeder_pid) - cpu0;
	printf("conns=%d unchoked=%d secs=%.3f bytes=%llu mib_s=%.1f "
	    "seeder_cpu=%.2f cpu_s_per_gib=%.3f\n", g.nconns, g.nunchoked,
	    secs, (unsigned long long)g.bytes, (double)g.bytes / secs / 1048576,
	    cpu0, g.bytes > 0 ? cpu0 / ((double)g.bytes / 1073741824.0) : 0);
	return g.bytes > 0 ? 0 : 1;
}

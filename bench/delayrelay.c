/*
 * delayrelay: a TCP relay that adds latency, for benchmarks on loopback
 * (these kernels have no netem).
 *
 *	delayrelay -l LISTEN_PORT -c ADDR:PORT [-d DELAY_MS]
 *
 * Listens on 127.0.0.1:LISTEN_PORT; each accepted connection is relayed to
 * ADDR:PORT, and every byte, in each direction, is held DELAY_MS (default
 * 50) after it was read before it is written on.  So a request and its
 * answer take 2 * DELAY_MS more, while the bytes per second the relay can
 * pass stay high.  At most RELAY_CAP bytes wait per direction; beyond that
 * it stops reading (which the sender sees as a full TCP window).  When one
 * side closes, what it sent is still delivered, then the other side is
 * shut down.  Single-threaded poll().  Benchmark helper.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK		(64 * 1024)
#define RELAY_CAP	(64u << 20)
#define MAX_PAIRS	64

struct chunk {
	struct chunk *next;
	uint64_t due_us;	/* when it may be written */
	size_t off, len;
	uint8_t data[CHUNK];
};

/* One direction: bytes read from `from`, held, then written to `to`. */
struct dir {
	int from, to;
	struct chunk *head, *tail;
	size_t queued;
	bool eof;		/* `from` closed: shut `to` once drained */
	bool done;
};

struct pair {
	struct dir d[2];	/* client to server, server to client */
	bool used;
};

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int
parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64], *colon;

	snprintf(host, sizeof(host), "%s", s);
	if ((colon = strrchr(host, ':')) == NULL)
		return -1;
	*colon = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* Read what `from` has into timestamped chunks. */
static void
dir_read(struct dir *d, uint64_t delay_us)
{
	while (!d->eof && d->queued < RELAY_CAP) {
		struct chunk *c = malloc(sizeof(*c));
		ssize_t r;

		if (c == NULL)
			return;
		r = recv(d->from, c->data, CHUNK, MSG_DONTWAIT);
		if (r <= 0) {
			free(c);
			if (r == 0 || (errno != EAGAIN && errno != EINTR))
				d->eof = true;
			return;
		}
		c->next = NULL;
		c->due_us = now_us() + delay_us;
		c->off = 0;
		c->len = (size_t)r;
		if (d->tail != NULL)
			d->tail->next = c;
		else
			d->head = c;
		d->tail = c;
		d->queued += (size_t)r;
		if ((size_t)r < CHUNK)
			return;
	}
}

/* Write the chunks that are due; the next due time, or 0 for none. */
static uint64_t
dir_write(struct dir *d)
{
	uint64_t now = now_us();
	struct chunk *c;
	ssize_t r;

	while ((c = d->head) != NULL && c->due_us <= now) {
		r = send(d->to, c->data + c->off, c->len - c->off,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (r < 0) {
			d->eof = true;
			d->done = true;
			return 0;
		}
		c->off += (size_t)r;
		d->queued -= (size_t)r;
		if (c->off < c->len)
			return 0;
		d->head = c->next;
		if (d->head == NULL)
			d->tail = NULL;
		free(c);
	}
	if (d->head == NULL && d->eof && !d->done) {
		shutdown(d->to, SHUT_WR);
		d->done = true;
	}
	return d->head != NULL ? d->head->due_us : 0;
}

static int
dial(const struct sockaddr_in *to)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void
pair_accept(struct pair *pairs, int lfd, const struct sockaddr_in *to)
{
	int one = 1;
	int cfd = accept(lfd, NULL, NULL);
	int sfd;

	if (cfd < 0)
		return;
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((sfd = dial(to)) < 0) {
		close(cfd);
		return;
	}
	for (int i = 0; i < MAX_PAIRS; i++) {
		if (pairs[i].used)
			continue;
		memset(&pairs[i], 0, sizeof(pairs[i]));
		pairs[i].used = true;
		pairs[i].d[0].from = pairs[i].d[1].to = cfd;
		pairs[i].d[0].to = pairs[i].d[1].from = sfd;
		return;
	}
	close(cfd);
	close(sfd);
}

static void
pair_close(struct pair *p)
{
	for (int k = 0; k < 2; k++) {
		while (p->d[k].head != NULL) {
			struct chunk *c = p->d[k].head;

			p->d[k].head = c->next;
			free(c);
		}
	}
	close(p->d[0].from);
	close(p->d[0].to);
	p->used = false;
}

/* Service every pair; returns the earliest due time of held bytes. */
static uint64_t
service(struct pair *pairs, const struct pollfd *pfd, int npfd,
    uint64_t delay_us)
{
	uint64_t next = 0;

	(void)npfd;
	for (int i = 0; i < MAX_PAIRS; i++) {
		struct pair *p = &pairs[i];

		if (!p->used)
			continue;
		for (int k = 0; k < 2; k++) {
			uint64_t due;

			if (pfd[1 + 2 * i + k].revents & (POLLIN | POLLHUP |
			    POLLERR))
				dir_read(&p->d[k], delay_us);
			due = dir_write(&p->d[k]);
			if (due != 0 && (next == 0 || due < next))
				next = due;
		}
		if (p->d[0].done && p->d[1].done)
			pair_close(p);
	}
	return next;
}

static int
listen_on(int port)
{
	struct sockaddr_in sa;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 16) < 0) {
		perror("delayrelay: listen");
		exit(1);
	}
	return fd;
}

int
main(int argc, char **argv)
{
	static struct pair pairs[MAX_PAIRS];
	struct pollfd pfd[1 + 2 * MAX_PAIRS];
	struct sockaddr_in to;
	uint64_t delay_us = 50000, next = 0;
	int port = 0, lfd, ch;
	bool have_to = false;

	while ((ch = getopt(argc, argv, "l:c:d:")) != -1) {
		switch (ch) {
		case 'l': port = atoi(optarg); break;
		case 'c': have_to = parse_addr(optarg, &to) == 0; break;
		case 'd': delay_us = (uint64_t)atol(optarg) * 1000; break;
		default: port = 0;
		}
	}
	if (port <= 0 || !have_to) {
		fprintf(stderr, "usage: delayrelay -l LISTEN_PORT -c ADDR:PORT "
		    "[-d DELAY_MS]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_on(port);
	for (;;) {
		int64_t wait = -1;

		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		for (int i = 0; i < MAX_PAIRS; i++) {
			for (int k = 0; k < 2; k++) {
				struct dir *d = &pairs[i].d[k];
				struct pollfd *q = &pfd[1 + 2 * i + k];

				q->fd = pairs[i].used && !d->eof &&
				    d->queued < RELAY_CAP ? d->from : -1;
				q->events = POLLIN;
				q->revents = 0;
			}
		}
		if (next != 0) {
			uint64_t now = now_us();

			wait = next > now ? (int64_t)((next - now + 999) / 1000) :
			    0;
		} else {
			/* Bytes may wait on a full socket: look again soon. */
			wait = 5;
		}
		if (poll(pfd, 1 + 2 * MAX_PAIRS, (int)wait) < 0 &&
		    errno != EINTR)
			return 1;
		if (pfd[0].revents & POLLIN)
			pair_accept(pairs, lfd, &to);
		next = service(pairs, pfd, 1 + 2 * MAX_PAIRS, delay_us);
	}
}

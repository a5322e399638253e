#include "fake_tracker.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rawserver.h"
#include "xmalloc.h"

#define FAKE_BUF 4096

struct fake_http_conn {
	struct fake_http_conn *next;
	struct fake_http *f;
	struct rs_conn *c;		/* NULL once lost */
	size_t len;
	bool answered;
	bool end;
	uint64_t stream;
	char buf[FAKE_BUF];
};

struct fake_http {
	struct rawserver *rs;
	fake_http_fn *fn;
	void *ctx;
	int port;
	unsigned nrequests;
	struct fake_http_conn *conns;
	char last[FAKE_BUF];
};

static rs_conn_fn fake_made;
static rs_data_fn fake_data;
static rs_lost_fn fake_lost;
static rs_conn_fn fake_flushed;

static const struct rs_handler fake_handler = {
	fake_made, fake_data, fake_lost, fake_flushed
};

struct fake_http *
fake_http_new(struct rawserver *rs, fake_http_fn *fn, void *ctx)
{
	struct fake_http *f = xcalloc(1, sizeof(*f));

	f->rs = rs;
	f->fn = fn;
	f->ctx = ctx;
	f->port = rs_listen(rs, "127.0.0.1", 20000 + (int)(rand() % 20000),
	    45000, &fake_handler, f, NULL);
	if (f->port < 0) {
		free(f);
		return NULL;
	}
	return f;
}

void
fake_http_free(struct fake_http *f)
{
	if (f == NULL)
		return;
	while (f->conns != NULL) {
		struct fake_http_conn *hc = f->conns;

		f->conns = hc->next;
		free(hc);
	}
	free(f);
}

int
fake_http_port(const struct fake_http *f)
{
	return f->port;
}

unsigned
fake_http_nrequests(const struct fake_http *f)
{
	return f->nrequests;
}

const char *
fake_http_last(const struct fake_http *f)
{
	return f->last;
}

static void
fake_made(void *ctx, struct rs_conn *c)
{
	struct fake_http *f = ctx;
	struct fake_http_conn *hc = xcalloc(1, sizeof(*hc));

	hc->f = f;
	hc->c = c;
	hc->next = f->conns;
	f->conns = hc;
	rs_conn_set_handler(c, &fake_handler, hc);
}

static void
fake_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	struct fake_http_conn *hc = ctx;
	struct fake_http *f = hc->f;
	char path[FAKE_BUF];

	(void)c;
	if (hc->answered || n > FAKE_BUF - 1 - hc->len)
		return;
	memcpy(hc->buf + hc->len, p, n);
	hc->len += n;
	hc->buf[hc->len] = '\0';
	if (strstr(hc->buf, "\r\n\r\n") == NULL)
		return;
	hc->answered = true;
	f->nrequests++;
	memcpy(f->last, hc->buf, hc->len + 1);
	if (sscanf(hc->buf, "GET %4000s", path) != 1)
		path[0] = '\0';
	f->fn(f->ctx, hc, path);
}

static void
fake_lost(void *ctx, struct rs_conn *c, int err)
{
	struct fake_http_conn *hc = ctx;

	(void)c;
	(void)err;
	hc->c = NULL;
}

static void
fake_pump(struct fake_http_conn *hc)
{
	char fill[16384];

	memset(fill, 'x', sizeof(fill));
	while (hc->c != NULL && hc->stream > 0 &&
	    rs_conn_is_flushed(hc->c)) {
		size_t n = sizeof(fill);

		if (hc->stream < n)
			n = (size_t)hc->stream;

		hc->stream -= n;
		rs_write(hc->c, fill, n);
	}
	if (hc->c != NULL && hc->end && hc->stream == 0 &&
	    rs_conn_is_flushed(hc->c))
		rs_close(hc->c);
}

static void
fake_flushed(void *ctx, struct rs_conn *c)
{
	(void)c;
	fake_pump(ctx);
}

void
fake_http_send(struct fake_http_conn *hc, const void *p, size_t n)
{
	if (hc->c != NULL)
		rs_write(hc->c, p, n);
}

void
fake_http_stream(struct fake_http_conn *hc, uint64_t n)
{
	hc->stream += n;
	fake_pump(hc);
}

void
fake_http_end(struct fake_http_conn *hc)
{
	hc->end = true;
	fake_pump(hc);
}

void
fake_http_reply(struct fake_http_conn *hc, int status, const void *body,
    size_t n)
{
	char head[256];
	int hl = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n\r\n", status, n);

	fake_http_send(hc, head, (size_t)hl);
	fake_http_send(hc, body, n);
	fake_http_end(hc);
}

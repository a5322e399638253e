/*
 * listener: see the header.  A connection waiting for its handshake is a
 * struct ls_pending on a list; it leaves the list when it is handed over,
 * closed, or timed out.
 */
#include "listener.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bterr.h"
#include "encrypter.h"
#include "log.h"
#include "rawserver.h"
#include "sockutil.h"
#include "xmalloc.h"

struct ls_pending {
	struct listener *ls;
	struct rs_conn *c;
	uint8_t buf[LS_PREFIX_LEN];
	size_t n;
	uint64_t timer;
	struct ls_pending *prev, *next;
};

struct listener {
	struct rawserver *rs;
	ls_lookup_fn *lookup;
	void *ctx;
	struct ls_pending *pending;
	unsigned int max_per_host;	/* 0: no limit */
	uint64_t host_full;
};

static rs_conn_fn ls_accepted;
static rs_data_fn ls_data, ls_no_data;
static rs_lost_fn ls_lost, ls_no_lost;

static const struct rs_handler ls_listen_handler = {
	ls_accepted, ls_no_data, ls_no_lost, NULL,
};
static const struct rs_handler ls_pending_handler = {
	NULL, ls_data, ls_lost, NULL,
};
/* For connections we let go of while closing them. */
static const struct rs_handler ls_dead_handler = {
	NULL, ls_no_data, ls_no_lost, NULL,
};

struct listener *
ls_new(struct rawserver *rs, ls_lookup_fn *lookup, void *ctx)
{
	struct listener *ls = xcalloc(1, sizeof(*ls));

	ls->rs = rs;
	ls->lookup = lookup;
	ls->ctx = ctx;
	return ls;
}

void
ls_set_max_per_host(struct listener *ls, unsigned int n)
{
	ls->max_per_host = n;
}

uint64_t
ls_host_full(const struct listener *ls)
{
	return ls->host_full;
}

int
ls_listen(struct listener *ls, const char *bind_addr, int minport,
    int maxport, struct bt_err *err)
{
	return rs_listen(ls->rs, bind_addr != NULL ? bind_addr : "", minport,
	    maxport, &ls_listen_handler, ls, err);
}

static void
ls_unlink(struct ls_pending *p)
{
	if (p->timer != 0)
		rs_cancel_task(p->ls->rs, p->timer);
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		p->ls->pending = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	free(p);
}

void
ls_free(struct listener *ls)
{
	struct ls_pending *p;

	if (ls == NULL)
		return;
	while ((p = ls->pending) != NULL) {
		rs_conn_set_handler(p->c, &ls_dead_handler, NULL);
		rs_close(p->c);
		ls_unlink(p);
	}
	free(ls);
}

static void
ls_timeout(void *arg)
{
	struct ls_pending *p = arg;

	p->timer = 0;
	log_debug("%s: no handshake in time", rs_conn_name(p->c));
	rs_close(p->c);
}

/* Whether max_per_host connections from c's host wait here already. */
static bool
ls_is_host_full(const struct listener *ls, const struct rs_conn *c)
{
	const struct sockaddr *sa = rs_conn_addr(c, NULL);
	unsigned int n = 0;

	if (ls->max_per_host == 0)
		return false;
	for (const struct ls_pending *p = ls->pending; p != NULL; p = p->next)
		if (sock_same_addr(rs_conn_addr(p->c, NULL), sa, false) &&
		    ++n >= ls->max_per_host)
			return true;
	return false;
}

static void
ls_accepted(void *ctx, struct rs_conn *c)
{
	struct listener *ls = ctx;
	struct ls_pending *p;

	if (ls_is_host_full(ls, c)) {
		log_debug("%s: refused, %u connections from that address wait "
		    "for their handshake already", rs_conn_name(c),
		    ls->max_per_host);
		ls->host_full++;
		rs_close(c);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->ls = ls;
	p->c = c;
	p->next = ls->pending;
	if (ls->pending != NULL)
		ls->pending->prev = p;
	ls->pending = p;
	p->timer = rs_add_task(ls->rs, LS_HANDSHAKE_MS, ls_timeout, p);
	rs_conn_set_handler(c, &ls_pending_handler, p);
}

/* BEP 3: the handshake starts with 19 and "BitTorrent protocol". */
static bool
ls_prefix_ok(const struct ls_pending *p)
{
	size_t n = p->n < 20 ? p->n : 20;

	if (n > 0 && p->buf[0] != 19)
		return false;
	return n <= 1 || memcmp(p->buf + 1, ENC_PROTOCOL, n - 1) == 0;
}

/* The prefix is complete: hand the connection to its torrent. */
static void
ls_route(struct ls_pending *p, const uint8_t *rest, size_t nrest)
{
	struct listener *ls = p->ls;
	struct rs_conn *c = p->c;
	struct encoder *enc = ls->lookup(ls->ctx, p->buf + 28);
	uint8_t *all;

	if (enc == NULL) {
		log_debug("%s: refused, not a torrent of ours",
		    rs_conn_name(c));
		rs_close(c);
		return;
	}
	all = xmalloc(LS_PREFIX_LEN + nrest);
	memcpy(all, p->buf, LS_PREFIX_LEN);
	memcpy(all + LS_PREFIX_LEN, rest, nrest);
	ls_unlink(p);
	enc_accept(enc, c, all, LS_PREFIX_LEN + nrest);
	free(all);
}

static void
ls_data(void *ctx, struct rs_conn *c, const uint8_t *data, size_t n)
{
	struct ls_pending *p = ctx;
	size_t take = LS_PREFIX_LEN - p->n;

	if (take > n)
		take = n;
	memcpy(p->buf + p->n, data, take);
	p->n += take;
	if (!ls_prefix_ok(p)) {
		log_debug("%s: not a BitTorrent handshake", rs_conn_name(c));
		rs_close(c);
		return;
	}
	if (p->n == LS_PREFIX_LEN)
		ls_route(p, data + take, n - take);
}

static void
ls_lost(void *ctx, struct rs_conn *c, int err)
{
	(void)c;
	(void)err;
	ls_unlink(ctx);
}

static void
ls_no_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	rs_close(c);
}

static void
ls_no_lost(void *ctx, struct rs_conn *c, int err)
{
	(void)ctx;
	(void)c;
	(void)err;
}

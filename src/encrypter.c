#include "encrypter.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "log.h"
#include "rawserver.h"
#include "sockutil.h"
#include "xmalloc.h"

/*
 * Framing follows mainline's (need, next) idea: each state wants exactly
 * `need` bytes, and its step function consumes them and picks the next
 * state.  Bytes are parsed in place from the reactor's read buffer when a
 * whole unit is there; only a unit split across reads is copied into the
 * connection's own buffer.  Add new states to enc_state_str too.
 */
enum enc_state {
	ENC_PSTRLEN,
	ENC_PSTR,
	ENC_RESERVED,
	ENC_HASH,
	ENC_ID,
	ENC_LEN,
	ENC_MSG,
};

#define ENC_MAX_BANS 1024

struct enc_conn {
	struct encoder *enc;
	struct rs_conn *c;
	void *uconn;
	enum enc_state state;
	size_t need;
	uint8_t *buf;		/* partial unit; owned */
	size_t have, cap;
	uint8_t id[ENC_ID_LEN];
	bool id_expected;
	bool complete;
	bool local;
	uint64_t hs_task;	/* handshake deadline, 0 when none */
	struct enc_conn *prev, *next;
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

struct enc_spare {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint8_t id[ENC_ID_LEN];
	bool has_id;
};

struct encoder {
	struct rawserver *rs;
	struct enc_config cfg;
	uint8_t info_hash[20];
	uint8_t my_id[20];
	const struct enc_upper *up;
	void *ctx;
	struct enc_conn *conns;	/* every connection, handshaken or not */
	size_t nconns, ncomplete;
	struct enc_spare *spares;
	size_t nspares;
	struct sockaddr_storage *bans;
	size_t nbans;
	uint64_t keepalive_task;
	bool ever_incoming;
	struct enc_stats stats;
};

static rs_conn_fn enc_accepted, enc_connected, enc_flushed;
static rs_data_fn enc_data;
static rs_lost_fn enc_lost, enc_lost_unmade;

static const struct rs_handler enc_listen_handler = {
	enc_accepted, enc_data, enc_lost_unmade, NULL
};
static const struct rs_handler enc_conn_handler = {
	enc_connected, enc_data, enc_lost, enc_flushed
};

static const char *
enc_state_str(enum enc_state s)
{
	static const char *const names[] = {
		"pstrlen", "pstr", "reserved", "info hash", "peer id",
		"length", "message",
	};

	return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* Same host and port; for bans only the host (port 0 in `b`). */
static bool
enc_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b,
    bool with_port)
{
	return sock_same_addr((const struct sockaddr *)a,
	    (const struct sockaddr *)b, with_port);
}

/* Connections to or from the host of ss (any port, any state), but not
 * `self`. */
static size_t
enc_host_conns(const struct encoder *enc, const struct sockaddr_storage *ss,
    const struct enc_conn *self)
{
	size_t n = 0;

	for (const struct enc_conn *ec = enc->conns; ec != NULL; ec = ec->next)
		if (ec != self && enc_same_addr(&ec->addr, ss, false))
			n++;
	return n;
}

static bool
enc_host_full(const struct encoder *enc, const struct sockaddr_storage *ss,
    const struct enc_conn *self)
{
	return enc->cfg.max_per_host > 0 &&
	    enc_host_conns(enc, ss, self) >= enc->cfg.max_per_host;
}

static bool
enc_is_banned(const struct encoder *enc, const struct sockaddr_storage *ss)
{
	for (size_t i = 0; i < enc->nbans; i++)
		if (enc_same_addr(&enc->bans[i], ss, false))
			return true;
	return false;
}

struct encoder *
enc_new(struct rawserver *rs, const struct enc_config *cfg,
    const uint8_t info_hash[20], const uint8_t my_id[20],
    const struct enc_upper *upper, void *ctx)
{
	struct encoder *enc = xcalloc(1, sizeof(*enc));

	enc->rs = rs;
	enc->cfg = *cfg;
	memcpy(enc->info_hash, info_hash, 20);
	memcpy(enc->my_id, my_id, 20);
	enc->up = upper;
	enc->ctx = ctx;
	return enc;
}

static void enc_keepalive(void *arg);

static void
enc_arm_keepalive(struct encoder *enc)
{
	if (enc->keepalive_task == 0 && enc->cfg.keepalive_ms > 0)
		enc->keepalive_task = rs_add_task(enc->rs, enc->cfg.keepalive_ms,
		    enc_keepalive, enc);
}

static void
enc_keepalive(void *arg)
{
	static const uint8_t zero[4];
	struct encoder *enc = arg;

	enc->keepalive_task = 0;
	for (struct enc_conn *ec = enc->conns; ec != NULL; ec = ec->next)
		if (ec->complete && !rs_conn_is_closing(ec->c))
			rs_write(ec->c, zero, sizeof(zero));
	enc_arm_keepalive(enc);
}

static void enc_drop(struct enc_conn *ec, int err);

/*
 * A connection that has not finished its handshake ENC_HANDSHAKE_MS after
 * it was made is dropped: otherwise idle sockets (max_allow_in of them)
 * would keep every real peer out until the 300 s idle timeout.
 */
static void
enc_hs_timeout(void *arg)
{
	struct enc_conn *ec = arg;

	ec->hs_task = 0;
	if (!ec->complete && !rs_conn_is_closing(ec->c))
		enc_drop(ec, -ETIMEDOUT);
}

static void
enc_hs_arm(struct enc_conn *ec)
{
	ec->hs_task = rs_add_task(ec->enc->rs, ENC_HANDSHAKE_MS,
	    enc_hs_timeout, ec);
}

static void
enc_hs_disarm(struct enc_conn *ec)
{
	if (ec->hs_task != 0)
		rs_cancel_task(ec->enc->rs, ec->hs_task);
	ec->hs_task = 0;
}

static void
enc_conn_free(struct enc_conn *ec)
{
	free(ec->buf);
	free(ec);
}

static void
enc_unlink(struct enc_conn *ec)
{
	struct encoder *enc = ec->enc;

	if (ec->prev != NULL)
		ec->prev->next = ec->next;
	else
		enc->conns = ec->next;
	if (ec->next != NULL)
		ec->next->prev = ec->prev;
	enc->nconns--;
	if (ec->complete)
		enc->ncomplete--;
}

void
enc_free(struct encoder *enc)
{
	struct enc_conn *ec, *next;

	if (enc == NULL)
		return;
	for (ec = enc->conns; ec != NULL; ec = next) {
		next = ec->next;
		/* Detach so the reactor's later lost() finds nothing of ours. */
		rs_conn_set_handler(ec->c, &enc_listen_handler, NULL);
		rs_close(ec->c);
		enc_hs_disarm(ec);
		enc_conn_free(ec);
	}
	if (enc->keepalive_task != 0)
		rs_cancel_task(enc->rs, enc->keepalive_task);
	free(enc->spares);
	free(enc->bans);
	free(enc);
}

const struct rs_handler *
enc_handler(void)
{
	return &enc_listen_handler;
}

static struct enc_conn *
enc_conn_new(struct encoder *enc, struct rs_conn *c, bool local)
{
	struct enc_conn *ec = xcalloc(1, sizeof(*ec));

	ec->enc = enc;
	ec->c = c;
	ec->local = local;
	ec->state = ENC_PSTRLEN;
	ec->need = 1;
	ec->next = enc->conns;
	if (enc->conns != NULL)
		enc->conns->prev = ec;
	enc->conns = ec;
	enc->nconns++;
	return ec;
}

static void
enc_send_handshake(struct enc_conn *ec)
{
	uint8_t hs[ENC_HANDSHAKE_LEN];

	hs[0] = 19;
	memcpy(hs + 1, ENC_PROTOCOL, 19);
	memset(hs + 20, 0, 8);
	memcpy(hs + 28, ec->enc->info_hash, 20);
	memcpy(hs + 48, ec->enc->my_id, 20);
	rs_write(ec->c, hs, sizeof(hs));
}

static bool
enc_already_connected(const struct encoder *enc,
    const struct sockaddr_storage *ss)
{
	for (const struct enc_conn *ec = enc->conns; ec != NULL; ec = ec->next)
		if (enc_same_addr(&ec->addr, ss, true))
			return true;
	return false;
}

static void
enc_queue_spare(struct encoder *enc, const struct sockaddr_storage *ss,
    socklen_t len, const uint8_t *id)
{
	struct enc_spare *sp;

	for (size_t i = 0; i < enc->nspares; i++)
		if (enc_same_addr(&enc->spares[i].addr, ss, true))
			return;
	if (enc->nspares >= ENC_MAX_SPARES)
		return;
	enc->spares = xreallocarray(enc->spares, enc->nspares + 1,
	    sizeof(*enc->spares));
	sp = &enc->spares[enc->nspares++];
	memset(sp, 0, sizeof(*sp));
	memcpy(&sp->addr, ss, len);
	sp->addrlen = len;
	sp->has_id = id != NULL;
	if (id != NULL)
		memcpy(sp->id, id, ENC_ID_LEN);
	enc->stats.spares_queued++;
}

void
enc_start_connection(struct encoder *enc, const struct sockaddr *sa,
    socklen_t salen, const uint8_t *id)
{
	struct sockaddr_storage ss;
	struct rs_conn *c;
	struct enc_conn *ec;

	if (salen > sizeof(ss) || salen == 0)
		return;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, sa, salen);
	if (id != NULL && memcmp(id, enc->my_id, ENC_ID_LEN) == 0)
		return;
	if (enc_is_banned(enc, &ss) || enc_already_connected(enc, &ss))
		return;
	/* A tracker listing one host many times must not make us flood it. */
	if (enc_host_full(enc, &ss, NULL)) {
		enc->stats.host_full++;
		return;
	}
	if (enc->nconns >= enc->cfg.max_initiate) {
		enc_queue_spare(enc, &ss, salen, id);
		return;
	}
	c = rs_connect(enc->rs, sa, salen, &enc_conn_handler, NULL);
	if (c == NULL)
		return;
	ec = enc_conn_new(enc, c, true);
	rs_conn_set_handler(c, &enc_conn_handler, ec);
	memcpy(&ec->addr, &ss, sizeof(ss));
	ec->addrlen = salen;
	if (id != NULL) {
		memcpy(ec->id, id, ENC_ID_LEN);
		ec->id_expected = true;
	}
}

static void
enc_dial_spares(struct encoder *enc)
{
	while (enc->nspares > 0 && enc->nconns < enc->cfg.max_initiate) {
		struct enc_spare sp = enc->spares[--enc->nspares];

		enc_start_connection(enc, (struct sockaddr *)&sp.addr,
		    sp.addrlen, sp.has_id ? sp.id : NULL);
	}
}

static void
enc_accepted(void *ctx, struct rs_conn *c)
{
	struct encoder *enc = ctx;
	struct enc_conn *ec;
	const struct sockaddr *sa;
	socklen_t len;

	if (enc == NULL) {
		rs_close(c);
		return;
	}
	sa = rs_conn_addr(c, &len);
	ec = enc_conn_new(enc, c, false);
	rs_conn_set_handler(c, &enc_conn_handler, ec);
	if (len <= sizeof(ec->addr)) {
		memcpy(&ec->addr, sa, len);
		ec->addrlen = len;
	}
	if (enc_is_banned(enc, &ec->addr)) {
		log_debug("%s: refused, banned", rs_conn_name(c));
		rs_close(c);
		return;
	}
	/* One host must not hold every slot (max_allow_in) by itself. */
	if (enc_host_full(enc, &ec->addr, ec)) {
		log_debug("%s: refused, %u connections with that address "
		    "already", rs_conn_name(c), enc->cfg.max_per_host);
		enc->stats.host_full++;
		rs_close(c);
		return;
	}
	enc_hs_arm(ec);
}

void
enc_accept(struct encoder *enc, struct rs_conn *c, const uint8_t *p,
    size_t n)
{
	enc_accepted(enc, c);
	if (!rs_conn_is_closing(c) && n > 0)
		enc_data(rs_conn_ctx(c), c, p, n);
}

static void
enc_connected(void *ctx, struct rs_conn *c)
{
	struct enc_conn *ec = ctx;

	(void)c;
	/*
	 * Mainline held back our peer id until the remote's arrived when it
	 * did not know it; every current client sends the whole handshake at
	 * once, and so do we.
	 */
	enc_send_handshake(ec);
	enc_hs_arm(ec);
}

static void
enc_flushed(void *ctx, struct rs_conn *c)
{
	struct enc_conn *ec = ctx;

	(void)c;
	if (ec->complete && ec->enc->up->flushed != NULL)
		ec->enc->up->flushed(ec->enc->ctx, ec->uconn);
}

static void
enc_lost_unmade(void *ctx, struct rs_conn *c, int err)
{
	(void)ctx;
	(void)c;
	(void)err;
}

static void
enc_lost(void *ctx, struct rs_conn *c, int err)
{
	struct enc_conn *ec = ctx;
	struct encoder *enc;

	if (ec == NULL)
		return;
	enc = ec->enc;
	log_debug("%s: connection lost in %s state (%s)", rs_conn_name(c),
	    enc_state_str(ec->state), err == 0 ? "closed" : strerror(-err));
	if (ec->complete)
		enc->up->lost(enc->ctx, ec->uconn);
	enc_hs_disarm(ec);
	enc_unlink(ec);
	enc_conn_free(ec);
	enc_dial_spares(enc);
}

static int
enc_check_id(struct enc_conn *ec, const uint8_t *id)
{
	struct encoder *enc = ec->enc;

	if (memcmp(id, enc->my_id, ENC_ID_LEN) == 0)
		return -ELOOP;		/* we dialed ourselves */
	if (ec->id_expected && memcmp(id, ec->id, ENC_ID_LEN) != 0)
		return -EPROTO;
	for (struct enc_conn *o = enc->conns; o != NULL; o = o->next)
		if (o != ec && o->complete &&
		    memcmp(o->id, id, ENC_ID_LEN) == 0)
			return -EEXIST;
	memcpy(ec->id, id, ENC_ID_LEN);
	return 0;
}

static int
enc_handshake_done(struct enc_conn *ec)
{
	struct encoder *enc = ec->enc;

	enc_hs_disarm(ec);
	ec->complete = true;
	enc->ncomplete++;
	if (!ec->local)
		enc->ever_incoming = true;
	enc->stats.conns_made++;
	enc_arm_keepalive(enc);
	ec->uconn = enc->up->made(enc->ctx, ec);
	if (ec->uconn == NULL) {
		ec->complete = false;
		enc->ncomplete--;
		return -ECONNREFUSED;
	}
	return 0;
}

/* Consume one unit of ec->need bytes at p; set the next state. */
static int
enc_step(struct enc_conn *ec, const uint8_t *p)
{
	struct encoder *enc = ec->enc;
	uint32_t len;
	int r;

	switch (ec->state) {
	case ENC_PSTRLEN:
		/* An MSE handshake starts with random bytes: drop it at once
		 * so the peer retries in plain (aria2 does after ~1 s). */
		if (p[0] != 19)
			return -EPROTO;
		ec->state = ENC_PSTR;
		ec->need = 19;
		return 0;
	case ENC_PSTR:
		if (memcmp(p, ENC_PROTOCOL, 19) != 0)
			return -EPROTO;
		ec->state = ENC_RESERVED;
		ec->need = 8;
		return 0;
	case ENC_RESERVED:
		ec->state = ENC_HASH;
		ec->need = 20;
		return 0;
	case ENC_HASH:
		if (memcmp(p, enc->info_hash, 20) != 0)
			return -EPROTO;
		if (!ec->local)
			enc_send_handshake(ec);
		ec->state = ENC_ID;
		ec->need = ENC_ID_LEN;
		return 0;
	case ENC_ID:
		if ((r = enc_check_id(ec, p)) < 0)
			return r;
		ec->state = ENC_LEN;
		ec->need = 4;
		return enc_handshake_done(ec);
	case ENC_LEN:
		len = be32_get(p);
		if (len > enc->cfg.max_message_length)
			return -EMSGSIZE;
		if (len > 0) {
			ec->state = ENC_MSG;
			ec->need = len;
		}
		return 0;
	case ENC_MSG:
		r = enc->up->got_message(enc->ctx, ec->uconn, p, ec->need);
		ec->state = ENC_LEN;
		ec->need = 4;
		return r;
	}
	return -EPROTO;
}

static const char *
enc_err_str(int err)
{
	switch (err) {
	case -ELOOP:
		return "connected to ourselves";
	case -EEXIST:
		return "already connected to this peer id";
	case -EMSGSIZE:
		return "message longer than max_message_length";
	case -ECONNREFUSED:
		return "refused by the upper layer";
	case -EPROTO:
		return "protocol violation";
	case -ETIMEDOUT:
		return "no handshake in time";
	default:
		return strerror(-err);
	}
}

static void
enc_drop(struct enc_conn *ec, int err)
{
	log_debug("%s: dropped in %s state: %s", rs_conn_name(ec->c),
	    enc_state_str(ec->state), enc_err_str(err));
	ec->enc->stats.conns_dropped++;
	rs_close(ec->c);
}

/*
 * Room for len bytes of a unit split across reads.  The buffer grows with
 * what has arrived (doubling, at most to the unit's size), so a peer that
 * sends an 8 MiB length prefix and then a few bytes costs a few bytes of
 * memory, not max_message_length.
 */
static void
enc_reserve(struct enc_conn *ec, size_t len)
{
	size_t cap = ec->cap > 0 ? ec->cap : 64;

	if (ec->cap >= len)
		return;
	while (cap < len)
		cap *= 2;
	if (cap > ec->need)
		cap = ec->need;
	ec->buf = xrealloc(ec->buf, cap);
	ec->cap = cap;
}

/*
 * Run the framing over n bytes; 0, or the error that drops the peer.  The
 * fuzzing hook's connection has no rs_conn (c NULL) and never closes.
 */
static int
enc_feed(struct enc_conn *ec, const uint8_t *p, size_t n)
{
	const uint8_t *unit;
	int r;

	while (n > 0 && (ec->c == NULL || !rs_conn_is_closing(ec->c))) {
		if (ec->have == 0 && n >= ec->need) {
			unit = p;
			p += ec->need;
			n -= ec->need;
		} else {
			size_t take = ec->need - ec->have;

			if (take > n)
				take = n;
			enc_reserve(ec, ec->have + take);
			memcpy(ec->buf + ec->have, p, take);
			ec->have += take;
			p += take;
			n -= take;
			if (ec->have < ec->need)
				break;
			unit = ec->buf;
			ec->have = 0;
		}
		if ((r = enc_step(ec, unit)) < 0)
			return r;
	}
	return 0;
}

static void
enc_data(void *ctx, struct rs_conn *c, const uint8_t *p, size_t n)
{
	struct enc_conn *ec = ctx;
	int r;

	(void)c;
	if ((r = enc_feed(ec, p, n)) < 0)
		enc_drop(ec, r);
}

int
enc__feed_for_fuzz(const struct enc_config *cfg, const uint8_t info_hash[20],
    const uint8_t my_id[20], const struct enc_upper *upper, void *ctx,
    const uint8_t *p, size_t n, size_t chunk)
{
	struct enc_config c = *cfg;
	struct encoder *enc;
	struct enc_conn *ec;
	size_t k;
	int r = 0;

	c.keepalive_ms = 0;		/* no reactor: no timers */
	enc = enc_new(NULL, &c, info_hash, my_id, upper, ctx);
	ec = enc_conn_new(enc, NULL, true);	/* local: sends nothing */
	if (chunk == 0)
		chunk = n;
	for (; n > 0 && r == 0; p += k, n -= k) {
		k = n < chunk ? n : chunk;
		r = enc_feed(ec, p, k);
	}
	if (ec->uconn != NULL && upper->lost != NULL)
		upper->lost(ctx, ec->uconn);
	enc_unlink(ec);
	enc_conn_free(ec);
	free(enc);
	return r;
}

void
enc_send(struct enc_conn *ec, const void *p, size_t n)
{
	uint8_t len[4];

	be32_put(len, (uint32_t)n);
	rs_write(ec->c, len, sizeof(len));
	rs_write(ec->c, p, n);
}

/* One message: hdr, then len bytes of file fd from off. */
static void
enc_send_file(struct enc_conn *ec, const void *hdr, size_t hdrlen, int fd,
    uint64_t off, size_t len)
{
	uint8_t l[4];

	be32_put(l, (uint32_t)(hdrlen + len));
	rs_write(ec->c, l, sizeof(l));
	rs_write(ec->c, hdr, hdrlen);
	rs_write_file(ec->c, fd, off, len);
}

void
enc_send_file_run(struct enc_conn *ec, const uint8_t *hdrs, size_t hdrlen,
    const uint32_t *lens, size_t n, int fd, uint64_t off)
{
	uint8_t buf[ENC_RUN_MAX][4 + ENC_RUN_HDR_MAX];
	struct rs_frame fr[ENC_RUN_MAX];

	while (n > 0) {
		size_t m = n < ENC_RUN_MAX ? n : ENC_RUN_MAX;
		uint64_t start = off;

		if (hdrlen > ENC_RUN_HDR_MAX) {		/* one at a time */
			enc_send_file(ec, hdrs, hdrlen, fd, off, *lens);
			off += *lens++;
			hdrs += hdrlen;
			n--;
			continue;
		}
		for (size_t k = 0; k < m; k++) {
			be32_put(buf[k], (uint32_t)(hdrlen + lens[k]));
			memcpy(buf[k] + 4, hdrs + k * hdrlen, hdrlen);
			fr[k].hdr = buf[k];
			fr[k].hdrlen = 4 + hdrlen;
			fr[k].len = lens[k];
			off += lens[k];
		}
		rs_write_frames(ec->c, fd, start, fr, m);
		hdrs += m * hdrlen;
		lens += m;
		n -= m;
	}
}

void
enc_close(struct enc_conn *ec)
{
	rs_close(ec->c);
}

void
enc_ban(struct enc_conn *ec)
{
	struct encoder *enc = ec->enc;

	if (enc->nbans < ENC_MAX_BANS && !enc_is_banned(enc, &ec->addr)) {
		enc->bans = xreallocarray(enc->bans, enc->nbans + 1,
		    sizeof(*enc->bans));
		enc->bans[enc->nbans++] = ec->addr;
	}
	rs_close(ec->c);
}

struct rs_conn *
enc_conn_rs(const struct enc_conn *ec)
{
	return ec->c;
}

const uint8_t *
enc_conn_id(const struct enc_conn *ec)
{
	return ec->id;
}

bool
enc_conn_is_local(const struct enc_conn *ec)
{
	return ec->local;
}

const char *
enc_conn_name(const struct enc_conn *ec)
{
	return rs_conn_name(ec->c);
}

size_t
enc_num_conns(const struct encoder *enc)
{
	return enc->ncomplete;
}

bool
enc_ever_incoming(const struct encoder *enc)
{
	return enc->ever_incoming;
}

void
enc_get_stats(const struct encoder *enc, struct enc_stats *out)
{
	*out = enc->stats;
}

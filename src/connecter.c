#include "connecter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "choker.h"
#include "downloader.h"
#include "encrypter.h"
#include "log.h"
#include "rawserver.h"
#include "storagewrapper.h"
#include "uploader.h"
#include "xmalloc.h"

/*
 * A token bucket per direction enforces the rate caps: one mechanism for
 * upload and download.  Tokens refill at `rate` bytes a second up to a
 * burst of a quarter second (at least one block); when they run out, the
 * upload side stops serving and the download side pauses reading until a
 * timer says the bucket is positive again.
 */
struct cn_bucket {
	uint64_t rate;		/* bytes/s; 0 = no cap */
	double tokens;
	uint64_t last_ms;
	uint64_t task;		/* refill timer, 0 when none */
};

struct cn_conn {
	struct connecter *cn;
	struct enc_conn *ec;
	struct upload *up;
	struct dl_peer *dl;
	bool got_anything;
	bool requests_full;	/* its upload queue is full: read no more */
	struct cn_conn *prev, *next;
};

struct connecter {
	struct rawserver *rs;
	struct cn_config cfg;
	struct uploader *ul;
	struct downloader *dl;
	struct choker *ch;
	struct cn_conn *conns;
	size_t nconns;
	struct cn_bucket up, down;
	bool reads_paused;
	uint8_t *scratch;	/* one block, for blocks spanning files */
	size_t scratch_len;
};

#define CN_MIN_BURST 32768.0

struct connecter *
cn_new(struct rawserver *rs, const struct cn_config *cfg, struct uploader *ul,
    struct downloader *dl, struct choker *ch)
{
	struct connecter *cn = xcalloc(1, sizeof(*cn));

	cn->rs = rs;
	cn->cfg = *cfg;
	cn->ul = ul;
	cn->dl = dl;
	cn->ch = ch;
	cn_set_rate_caps(cn, cfg->max_upload_rate, cfg->max_download_rate);
	return cn;
}

void
cn_free(struct connecter *cn)
{
	if (cn == NULL)
		return;
	if (cn->up.task != 0)
		rs_cancel_task(cn->rs, cn->up.task);
	if (cn->down.task != 0)
		rs_cancel_task(cn->rs, cn->down.task);
	while (cn->conns != NULL) {
		struct cn_conn *c = cn->conns;

		cn->conns = c->next;
		ul_upload_free(c->up);
		dl_peer_lost(c->dl);
		free(c);
	}
	free(cn->scratch);
	free(cn);
}

/* --- rate caps ---------------------------------------------------------- */

static double
cn_burst(const struct cn_bucket *b)
{
	double burst = (double)b->rate / 4;

	return burst < CN_MIN_BURST ? CN_MIN_BURST : burst;
}

static void
cn_bucket_refill(struct cn_bucket *b, uint64_t now)
{
	if (b->rate == 0)
		return;
	b->tokens += (double)(now - b->last_ms) * (double)b->rate / 1000;
	if (b->tokens > cn_burst(b))
		b->tokens = cn_burst(b);
	b->last_ms = now;
}

void
cn_set_rate_caps(struct connecter *cn, uint64_t up, uint64_t down)
{
	uint64_t now = rs_now_ms(cn->rs);

	cn->up.rate = up;
	cn->down.rate = down;
	cn->up.last_ms = cn->down.last_ms = now;
	cn->up.tokens = up > 0 ? cn_burst(&cn->up) : 0;
	cn->down.tokens = down > 0 ? cn_burst(&cn->down) : 0;
}

static uint64_t
cn_bucket_wait_ms(const struct cn_bucket *b)
{
	double need = -b->tokens + 1;

	return (uint64_t)(need * 1000 / (double)b->rate) + 1;
}

static void cn_uncap_up(void *arg);
static void cn_uncap_down(void *arg);

bool
cn_upload_allowed(const struct connecter *cn)
{
	return cn->up.rate == 0 || cn->up.tokens > 0;
}

bool
cn_upload_capped(const struct connecter *cn)
{
	return cn->up.rate != 0;
}

void
cn_note_uploaded(struct connecter *cn, size_t n)
{
	struct cn_bucket *b = &cn->up;

	if (b->rate == 0)
		return;
	cn_bucket_refill(b, rs_now_ms(cn->rs));
	b->tokens -= (double)n;
	if (b->tokens <= 0 && b->task == 0)
		b->task = rs_add_task(cn->rs, cn_bucket_wait_ms(b), cn_uncap_up,
		    cn);
}

/* Serve the flushed peers with queued requests, slowest first (mainline
 * _uncap), while the cap allows. */
static void
cn_uncap_up(void *arg)
{
	struct connecter *cn = arg;
	struct cn_conn *best;

	cn->up.task = 0;
	cn_bucket_refill(&cn->up, rs_now_ms(cn->rs));
	while (cn_upload_allowed(cn)) {
		best = NULL;
		for (struct cn_conn *c = cn->conns; c != NULL; c = c->next)
			if (ul_has_queries(c->up) && !ul_is_choked(c->up) &&
			    cn_conn_is_flushed(c) && (best == NULL ||
			    ul_upload_rate(c->up) < ul_upload_rate(best->up)))
				best = c;
		if (best == NULL)
			break;
		ul_flushed(best->up);
	}
	if (!cn_upload_allowed(cn) && cn->up.task == 0)
		cn->up.task = rs_add_task(cn->rs, cn_bucket_wait_ms(&cn->up),
		    cn_uncap_up, cn);
}

/* Reading stops for the download cap or for a full upload queue. */
static void
cn_update_pause(struct cn_conn *c)
{
	rs_conn_pause_read(enc_conn_rs(c->ec),
	    c->cn->reads_paused || c->requests_full);
}

static void
cn_pause_reads(struct connecter *cn, bool paused)
{
	cn->reads_paused = paused;
	for (struct cn_conn *c = cn->conns; c != NULL; c = c->next)
		cn_update_pause(c);
}

void
cn_pause_requests(struct cn_conn *c, bool full)
{
	if (c->requests_full == full)
		return;
	c->requests_full = full;
	cn_update_pause(c);
}

void
cn_note_downloaded(struct connecter *cn, size_t n)
{
	struct cn_bucket *b = &cn->down;

	if (b->rate == 0)
		return;
	cn_bucket_refill(b, rs_now_ms(cn->rs));
	b->tokens -= (double)n;
	if (b->tokens <= 0 && b->task == 0) {
		cn_pause_reads(cn, true);
		b->task = rs_add_task(cn->rs, cn_bucket_wait_ms(b),
		    cn_uncap_down, cn);
	}
}

static void
cn_uncap_down(void *arg)
{
	struct connecter *cn = arg;

	cn->down.task = 0;
	cn_bucket_refill(&cn->down, rs_now_ms(cn->rs));
	if (cn->down.tokens > 0)
		cn_pause_reads(cn, false);
	else
		cn->down.task = rs_add_task(cn->rs,
		    cn_bucket_wait_ms(&cn->down), cn_uncap_down, cn);
}

/* --- connections ---------------------------------------------------------- */

static void *
cn_made(void *ctx, struct enc_conn *ec)
{
	struct connecter *cn = ctx;
	struct cn_conn *c = xcalloc(1, sizeof(*c));

	c->cn = cn;
	c->ec = ec;
	c->next = cn->conns;
	if (cn->conns != NULL)
		cn->conns->prev = c;
	cn->conns = c;
	cn->nconns++;
	if (cn->reads_paused)
		rs_conn_pause_read(enc_conn_rs(ec), true);
	/* The upload sends our bitfield first (when we have anything),
	 * then the choker may unchoke. */
	c->up = ul_upload_new(cn->ul, c);
	c->dl = dl_peer_new(cn->dl, c);
	ch_connection_made(cn->ch, c);
	log_debug("%s: peer connected (%zu peers)", enc_conn_name(ec),
	    cn->nconns);
	return c;
}

static void
cn_lost(void *ctx, void *uconn)
{
	struct connecter *cn = ctx;
	struct cn_conn *c = uconn;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		cn->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	cn->nconns--;
	ch_connection_lost(cn->ch, c);
	ul_upload_free(c->up);
	dl_peer_lost(c->dl);
	free(c);
}

static void
cn_flushed(void *ctx, void *uconn)
{
	struct connecter *cn = ctx;
	struct cn_conn *c = uconn;

	if (cn_upload_allowed(cn))
		ul_flushed(c->up);
}

int
cn_parse(const uint8_t *p, size_t n, uint32_t npieces, struct cn_parsed *out)
{
	memset(out, 0, sizeof(*out));
	if (n == 0)
		return -EPROTO;
	out->id = (enum cn_msg)p[0];
	switch (p[0]) {
	case CN_MSG_CHOKE:
	case CN_MSG_UNCHOKE:
	case CN_MSG_INTERESTED:
	case CN_MSG_NOT_INTERESTED:
		return n == 1 ? 0 : -EPROTO;
	case CN_MSG_HAVE:
		if (n != 5)
			return -EPROTO;
		out->index = be32_get(p + 1);
		return out->index < npieces ? 0 : -EPROTO;
	case CN_MSG_BITFIELD:
		out->data = p + 1;
		out->datalen = n - 1;
		return n - 1 == ((size_t)npieces + 7) / 8 ? 0 : -EPROTO;
	case CN_MSG_REQUEST:
	case CN_MSG_CANCEL:
		if (n != 13)
			return -EPROTO;
		out->index = be32_get(p + 1);
		out->begin = be32_get(p + 5);
		out->length = be32_get(p + 9);
		return out->index < npieces ? 0 : -EPROTO;
	case CN_MSG_PIECE:
		if (n <= 9)
			return -EPROTO;
		out->index = be32_get(p + 1);
		out->begin = be32_get(p + 5);
		out->data = p + 9;
		out->datalen = n - 9;
		out->length = (uint32_t)(n - 9);
		return out->index < npieces ? 0 : -EPROTO;
	case CN_MSG_PORT:
		if (n != 3)
			return -EPROTO;
		out->port = be16_get(p + 1);
		return 0;
	default:
		return -EPROTO;
	}
}

static int
cn_route(struct connecter *cn, struct cn_conn *c, const struct cn_parsed *m)
{
	switch (m->id) {
	case CN_MSG_CHOKE:
		dl_got_choke(c->dl);
		return 0;
	case CN_MSG_UNCHOKE:
		dl_got_unchoke(c->dl);
		return 0;
	case CN_MSG_INTERESTED:
		if (ul_got_interested(c->up))
			ch_interested(cn->ch, c);
		return 0;
	case CN_MSG_NOT_INTERESTED:
		if (ul_got_not_interested(c->up))
			ch_not_interested(cn->ch, c);
		return 0;
	case CN_MSG_HAVE:
		return dl_got_have(c->dl, m->index);
	case CN_MSG_BITFIELD:
		return dl_got_bitfield(c->dl, m->data, m->datalen);
	case CN_MSG_REQUEST:
		return ul_got_request(c->up, m->index, m->begin, m->length);
	case CN_MSG_CANCEL:
		ul_got_cancel(c->up, m->index, m->begin, m->length);
		return 0;
	case CN_MSG_PIECE:
		cn_note_downloaded(cn, m->datalen);
		return dl_got_piece(c->dl, m->index, m->begin, m->data,
		    m->length);
	case CN_MSG_PORT:
		return 0;
	}
	return -EPROTO;
}

static int
cn_got_message(void *ctx, void *uconn, const uint8_t *p, size_t n)
{
	struct connecter *cn = ctx;
	struct cn_conn *c = uconn;
	struct cn_parsed m;
	int r;

	if ((r = cn_parse(p, n, cn->cfg.npieces, &m)) < 0) {
		log_debug("%s: bad message (id %u, %zu bytes)",
		    enc_conn_name(c->ec), n > 0 ? p[0] : 0u, n);
		return r;
	}
	/* BEP 3 wants the bitfield first; a later one (aria2 sends one
	 * mid-connection) replaces what we knew, so it is not an error. */
	c->got_anything = true;
	r = cn_route(cn, c, &m);
	if (r < 0)
		log_debug("%s: dropped after message id %u: %s",
		    enc_conn_name(c->ec), p[0], strerror(-r));
	return r;
}

static const struct enc_upper cn_upper = {
	cn_made, cn_got_message, cn_lost, cn_flushed
};

const struct enc_upper *
cn_enc_upper(void)
{
	return &cn_upper;
}

/* --- the choker's view ----------------------------------------------------- */

static bool
cn_ch_is_interested(void *peer)
{
	return ul_is_interested(((struct cn_conn *)peer)->up);
}

static bool
cn_ch_is_choked(void *peer)
{
	return ul_is_choked(((struct cn_conn *)peer)->up);
}

static void
cn_ch_choke(void *peer)
{
	ul_choke(((struct cn_conn *)peer)->up);
}

static void
cn_ch_unchoke(void *peer)
{
	ul_unchoke(((struct cn_conn *)peer)->up);
}

static double
cn_ch_upload_rate(void *peer)
{
	return ul_upload_rate(((struct cn_conn *)peer)->up);
}

static double
cn_ch_download_rate(void *peer)
{
	return dl_peer_rate(((struct cn_conn *)peer)->dl);
}

static bool
cn_ch_is_snubbed(void *peer)
{
	return dl_is_snubbed(((struct cn_conn *)peer)->dl);
}

static const struct ch_peer_ops cn_ch_ops = {
	cn_ch_is_interested, cn_ch_is_choked, cn_ch_choke, cn_ch_unchoke,
	cn_ch_upload_rate, cn_ch_download_rate, cn_ch_is_snubbed,
};

const struct ch_peer_ops *
cn_choker_ops(void)
{
	return &cn_ch_ops;
}

/* --- senders ------------------------------------------------------------- */

static void
cn_send_id(struct cn_conn *c, enum cn_msg id)
{
	uint8_t b = (uint8_t)id;

	enc_send(c->ec, &b, 1);
}

void
cn_send_choke(struct cn_conn *c)
{
	cn_send_id(c, CN_MSG_CHOKE);
}

void
cn_send_unchoke(struct cn_conn *c)
{
	cn_send_id(c, CN_MSG_UNCHOKE);
}

void
cn_send_interested(struct cn_conn *c)
{
	cn_send_id(c, CN_MSG_INTERESTED);
}

void
cn_send_not_interested(struct cn_conn *c)
{
	cn_send_id(c, CN_MSG_NOT_INTERESTED);
}

static void
cn_send_triple(struct cn_conn *c, enum cn_msg id, uint32_t i, uint32_t begin,
    uint32_t len)
{
	uint8_t m[13];

	m[0] = (uint8_t)id;
	be32_put(m + 1, i);
	be32_put(m + 5, begin);
	be32_put(m + 9, len);
	enc_send(c->ec, m, sizeof(m));
}

void
cn_send_request(struct cn_conn *c, uint32_t i, uint32_t begin, uint32_t len)
{
	cn_send_triple(c, CN_MSG_REQUEST, i, begin, len);
}

void
cn_send_cancel(struct cn_conn *c, uint32_t i, uint32_t begin, uint32_t len)
{
	cn_send_triple(c, CN_MSG_CANCEL, i, begin, len);
}

void
cn_send_bitfield(struct cn_conn *c, const uint8_t *bits, size_t len)
{
	uint8_t *m = xmalloc(len + 1);

	m[0] = CN_MSG_BITFIELD;
	memcpy(m + 1, bits, len);
	enc_send(c->ec, m, len + 1);
	free(m);
}

void
cn_broadcast_have(struct connecter *cn, uint32_t i)
{
	uint8_t m[5];

	m[0] = CN_MSG_HAVE;
	be32_put(m + 1, i);
	/*
	 * Not to peers that have the piece: it cannot change what they want
	 * from us, and to a seeder it would be one more message (and wake-up)
	 * per piece for nothing (libtorrent's send_redundant_have; such
	 * messages only feed a peer's statistics of our progress).
	 */
	for (struct cn_conn *c = cn->conns; c != NULL; c = c->next)
		if (!rs_conn_is_closing(enc_conn_rs(c->ec)) &&
		    (c->dl == NULL || !dl_peer_has(c->dl, i)))
			enc_send(c->ec, m, sizeof(m));
}

_Static_assert(CN_RUN_MAX <= ENC_RUN_MAX, "a run must fit the encrypter's");

/* A block that spans two files: read into the scratch buffer and sent. */
static int
cn_send_split(struct cn_conn *c, const uint8_t hdr[9], uint32_t len)
{
	struct connecter *cn = c->cn;
	int r;

	if (cn->scratch_len < (size_t)len + 9) {
		cn->scratch = xrealloc(cn->scratch, (size_t)len + 9);
		cn->scratch_len = (size_t)len + 9;
	}
	r = sw_get_piece(ul_storage(cn->ul), be32_get(hdr + 1),
	    be32_get(hdr + 5), len, cn->scratch + 9, NULL);
	if (r < 0)
		return r;
	memcpy(cn->scratch, hdr, 9);
	enc_send(c->ec, cn->scratch, (size_t)len + 9);
	return 0;
}

/*
 * Blocks that lie in one file, which is nearly always, are handed to the
 * reactor as a file range (enc_send_file_run -> rs_write_frames: read
 * into the queue or sent with sendfile); when the run crosses a file
 * boundary, each block goes the same way on its own, and a block that
 * spans two files is read into one scratch buffer.
 */
int
cn_send_pieces(struct cn_conn *c, uint32_t i, uint32_t begin,
    const uint32_t *lens, size_t n)
{
	struct storagewrapper *sw = ul_storage(c->cn->ul);
	uint8_t hdrs[CN_RUN_MAX][9];
	uint64_t total = 0, off;
	size_t got;
	int fd, r;

	if (n > CN_RUN_MAX)
		return -EINVAL;
	for (size_t k = 0; k < n; k++) {
		hdrs[k][0] = CN_MSG_PIECE;
		be32_put(hdrs[k] + 1, i);
		be32_put(hdrs[k] + 5, (uint32_t)(begin + total));
		total += lens[k];
	}
	if (total <= UINT32_MAX &&
	    sw_map_piece(sw, i, begin, (uint32_t)total, &fd, &off, &got,
	    NULL) == 0 && got == total) {
		enc_send_file_run(c->ec, &hdrs[0][0], 9, lens, n, fd, off);
		cn_note_uploaded(c->cn, (size_t)total);
		return 0;
	}
	for (size_t k = 0; k < n; k++) {
		uint32_t b = be32_get(hdrs[k] + 5);

		if (sw_map_piece(sw, i, b, lens[k], &fd, &off, &got,
		    NULL) == 0 && got == lens[k])
			enc_send_file_run(c->ec, hdrs[k], 9, &lens[k], 1, fd,
			    off);
		else if ((r = cn_send_split(c, hdrs[k], lens[k])) < 0)
			return r;
		cn_note_uploaded(c->cn, lens[k]);
	}
	return 0;
}

void
cn_close(struct cn_conn *c)
{
	enc_close(c->ec);
}

void
cn_ban(struct cn_conn *c)
{
	enc_ban(c->ec);
}

bool
cn_conn_is_flushed(const struct cn_conn *c)
{
	return rs_conn_is_flushed(enc_conn_rs(c->ec));
}

size_t
cn_conn_queued(const struct cn_conn *c)
{
	return rs_conn_queued(enc_conn_rs(c->ec));
}

bool
cn_conn_is_closing(const struct cn_conn *c)
{
	return rs_conn_is_closing(enc_conn_rs(c->ec));
}

size_t
cn_num_conns(const struct connecter *cn)
{
	return cn->nconns;
}

struct cn_conn *
cn_first(const struct connecter *cn)
{
	return cn->conns;
}

struct cn_conn *
cn_next(const struct cn_conn *c)
{
	return c->next;
}

struct upload *
cn_conn_upload(const struct cn_conn *c)
{
	return c->up;
}

struct dl_peer *
cn_conn_download(const struct cn_conn *c)
{
	return c->dl;
}

struct enc_conn *
cn_conn_enc(const struct cn_conn *c)
{
	return c->ec;
}

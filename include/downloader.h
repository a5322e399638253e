/*
 * downloader: what we fetch from each peer (mainline Downloader.py's
 * Downloader and SingleDownload): interest, whether the peer chokes us,
 * its bitfield, our outstanding requests, snubbing, endgame with cancels,
 * and the piece picker and storage wrapper behind them.
 */
#ifndef BT_DOWNLOADER_H
#define BT_DOWNLOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bitfield;
struct cn_conn;
struct piecepicker;
struct rawserver;
struct storagewrapper;
struct downloader;
struct dl_peer;

#define DL_MAX_BACKLOG 256	/* requests outstanding per peer at most */
#define DL_STRIKES 3		/* failed pieces before a peer is banned */
#define DL_MAX_UNEXPECTED 8	/* unasked-for blocks tolerated per peer */

struct dl_config {
	uint32_t backlog;		/* request_backlog: the floor, 5 */
	double queue_time;		/* seconds of a peer's rate to keep requested */
	double snub_time;		/* 30 s */
	double max_rate_period;		/* 20 s */
};

/*
 * A complete piece may wait this long to be hashed beside the next one to
 * complete (storagewrapper.h, sw_set_verified): at full speed the next one
 * comes within a millisecond, and a slow download loses no more than this.
 */
#define DL_VERIFY_WAIT_MS	5

struct dl_callbacks {
	void (*piece_verified)(void *ctx, uint32_t i);
	void (*piece_failed)(void *ctx, uint32_t i, uint32_t len);
	void (*finished)(void *ctx);
	/* A disk error: the download cannot go on. */
	void (*failed)(void *ctx, int err, const char *msg);
};

struct downloader *dl_new(struct rawserver *rs, struct storagewrapper *sw,
    struct piecepicker *pp, const struct dl_config *cfg,
    const struct dl_callbacks *cb, void *ctx);
void dl_free(struct downloader *dl);
/* Teardown is starting: losing peers no longer re-requests anything. */
void dl_shutdown(struct downloader *dl);
uint64_t dl_total(const struct downloader *dl);	/* payload bytes accepted */
double dl_rate(struct downloader *dl);			/* global, B/s */
size_t dl_num_seeds(const struct downloader *dl);

struct dl_peer *dl_peer_new(struct downloader *dl, struct cn_conn *c);
/* The connection is gone: give back its requests and free it. */
void dl_peer_lost(struct dl_peer *p);

void dl_got_choke(struct dl_peer *p);
void dl_got_unchoke(struct dl_peer *p);
/* i is already range-checked.  0, or -EPROTO to drop the peer. */
int dl_got_have(struct dl_peer *p, uint32_t i);
/* Wire bitfield of the right size; spare bits are checked here. */
int dl_got_bitfield(struct dl_peer *p, const uint8_t *bits, size_t len);
int dl_got_piece(struct dl_peer *p, uint32_t i, uint32_t begin,
    const uint8_t *data, uint32_t len);

bool dl_is_snubbed(const struct dl_peer *p);
bool dl_is_choked(const struct dl_peer *p);	/* it chokes us */
bool dl_is_interested(const struct dl_peer *p);	/* we want its data */
/* Whether the peer has said it has piece i. */
bool dl_peer_has(const struct dl_peer *p, uint32_t i);
bool dl_peer_is_seed(const struct dl_peer *p);
double dl_peer_rate(struct dl_peer *p);
uint64_t dl_peer_total(const struct dl_peer *p);
size_t dl_peer_num_requests(const struct dl_peer *p);
const struct bitfield *dl_peer_have(const struct dl_peer *p);

#endif

/*
 * uploader: our side of serving one peer (mainline Uploader.py's Upload):
 * whether we choke it, whether it is interested, its queue of requests,
 * served from storage when the socket has room, and its upload rate.
 */
#ifndef BT_UPLOADER_H
#define BT_UPLOADER_H

#include <stdbool.h>
#include <stdint.h>

struct cn_conn;
struct connecter;
struct rawserver;
struct storagewrapper;
struct uploader;
struct upload;

#define UL_MAX_QUEUE 32768	/* requests kept per peer; more are ignored */

struct ul_config {
	uint32_t max_slice_length;	/* 128 KiB: longer requests drop the peer */
	double max_rate_period;		/* 20 s */
	double fudge;			/* upload_rate_fudge, 5 s */
	uint32_t max_queued_bytes;	/* serve while less than this is queued */
};

/* Shared state for every upload of one torrent; sw and rs are borrowed. */
struct uploader *ul_new(struct rawserver *rs, struct storagewrapper *sw,
    const struct ul_config *cfg);
void ul_free(struct uploader *u);
void ul_set_connecter(struct uploader *u, struct connecter *cn);
uint64_t ul_total(const struct uploader *u);	/* payload bytes sent */
struct storagewrapper *ul_storage(const struct uploader *u);
double ul_rate(struct uploader *u);		/* global upload rate, B/s */

struct upload *ul_upload_new(struct uploader *u, struct cn_conn *c);
void ul_upload_free(struct upload *up);

/* Returns whether interest changed (the choker cares). */
bool ul_got_interested(struct upload *up);
bool ul_got_not_interested(struct upload *up);
/* 0, or -EPROTO to drop the peer (request past the piece, too long). */
int ul_got_request(struct upload *up, uint32_t i, uint32_t begin,
    uint32_t len);
void ul_got_cancel(struct upload *up, uint32_t i, uint32_t begin,
    uint32_t len);
void ul_choke(struct upload *up);
void ul_unchoke(struct upload *up);
bool ul_is_choked(const struct upload *up);
bool ul_is_interested(const struct upload *up);
double ul_upload_rate(struct upload *up);
uint64_t ul_upload_total(const struct upload *up);
/* The socket drained (or the rate cap lifted): send queued blocks. */
void ul_flushed(struct upload *up);
bool ul_has_queries(const struct upload *up);

#endif

/*
 * connecter: the peer-wire messages of BEP 3 (mainline Connecter.py).
 *
 * It sits between the encrypter (handshake and framing) and the per-peer
 * policy objects: for every handshaken connection it creates an upload
 * (uploader.c) and a download (downloader.c), parses and validates every
 * message with strict length and range checks, routes it, and offers the
 * send_* functions they use.  It also owns the global upload and download
 * rate caps.  Any malformed message drops that peer only.
 */
#ifndef BT_CONNECTER_H
#define BT_CONNECTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct choker;
struct downloader;
struct enc_conn;
struct enc_upper;
struct rawserver;
struct uploader;
struct connecter;
struct cn_conn;

enum cn_msg {
	CN_MSG_CHOKE = 0,
	CN_MSG_UNCHOKE = 1,
	CN_MSG_INTERESTED = 2,
	CN_MSG_NOT_INTERESTED = 3,
	CN_MSG_HAVE = 4,
	CN_MSG_BITFIELD = 5,
	CN_MSG_REQUEST = 6,
	CN_MSG_PIECE = 7,
	CN_MSG_CANCEL = 8,
	CN_MSG_PORT = 9,	/* BEP 5; accepted and ignored */
};

struct cn_config {
	uint32_t npieces;
	uint64_t max_upload_rate;	/* bytes/s, 0 = unlimited */
	uint64_t max_download_rate;	/* bytes/s, 0 = unlimited */
};

/*
 * Build the connecter over its neighbours (all borrowed).  The uploader,
 * downloader and choker must outlive it.
 */
struct connecter *cn_new(struct rawserver *rs, const struct cn_config *cfg,
    struct uploader *ul, struct downloader *dl, struct choker *ch);
void cn_free(struct connecter *cn);
/* The encrypter's upper-layer vtable; ctx is the connecter. */
const struct enc_upper *cn_enc_upper(void);
/* The choker's view of a peer; its peer pointers are struct cn_conn. */
struct ch_peer_ops;
const struct ch_peer_ops *cn_choker_ops(void);
void cn_set_rate_caps(struct connecter *cn, uint64_t up, uint64_t down);

size_t cn_num_conns(const struct connecter *cn);
/* Iterate connections: first, then next until NULL. */
struct cn_conn *cn_first(const struct connecter *cn);
struct cn_conn *cn_next(const struct cn_conn *c);
struct upload *cn_conn_upload(const struct cn_conn *c);
struct dl_peer *cn_conn_download(const struct cn_conn *c);
struct enc_conn *cn_conn_enc(const struct cn_conn *c);

/* Senders, used by the uploader, the downloader and the choker. */
void cn_send_choke(struct cn_conn *c);
void cn_send_unchoke(struct cn_conn *c);
void cn_send_interested(struct cn_conn *c);
void cn_send_not_interested(struct cn_conn *c);
void cn_send_request(struct cn_conn *c, uint32_t i, uint32_t begin,
    uint32_t len);
void cn_send_cancel(struct cn_conn *c, uint32_t i, uint32_t begin,
    uint32_t len);
/* Whether uploads run under a rate cap (--max_upload_rate). */
bool cn_upload_capped(const struct connecter *cn);
/*
 * Send n <= CN_RUN_MAX blocks we have of piece i that follow each other
 * from begin, of lens[0..n) bytes (n may be 1); when they lie in one file
 * they leave as one run (enc_send_file_run).  0 or -errno (an I/O error
 * reading a block that spans two files).
 */
#define CN_RUN_MAX	64	/* ENC_RUN_MAX */
int cn_send_pieces(struct cn_conn *c, uint32_t i, uint32_t begin,
    const uint32_t *lens, size_t n);
/* Our bitfield (wire form, already the right length). */
void cn_send_bitfield(struct cn_conn *c, const uint8_t *bits, size_t len);
/* HAVE to every connection. */
void cn_broadcast_have(struct connecter *cn, uint32_t i);
void cn_close(struct cn_conn *c);
void cn_ban(struct cn_conn *c);
/*
 * The peer's upload queue is full (or has room again): stop (resume)
 * reading from it, so that TCP holds back its further requests instead of
 * our dropping them (a peer that does not know our limit, Transmission,
 * would wait for them to time out).
 */
void cn_pause_requests(struct cn_conn *c, bool full);
/* Whether the global upload cap allows sending more now. */
bool cn_upload_allowed(const struct connecter *cn);
/* Note payload bytes for the global caps. */
void cn_note_uploaded(struct connecter *cn, size_t n);
void cn_note_downloaded(struct connecter *cn, size_t n);
bool cn_conn_is_flushed(const struct cn_conn *c);
/* Bytes waiting in the connection's output queue. */
size_t cn_conn_queued(const struct cn_conn *c);
bool cn_conn_is_closing(const struct cn_conn *c);

/* Message parsing, separated from the routing for tests and fuzzing. */
struct cn_parsed {
	enum cn_msg id;
	uint32_t index, begin, length;	/* have, request, cancel, piece */
	const uint8_t *data;		/* bitfield bits or piece block */
	size_t datalen;
	uint16_t port;
};
/*
 * Parse and validate one message (id byte and payload).  npieces bounds
 * every index.  Returns 0 or -EPROTO (wrong length, unknown id, index out
 * of range).  Piece-length checks need the torrent and are the caller's.
 */
int cn_parse(const uint8_t *p, size_t n, uint32_t npieces,
    struct cn_parsed *out);

#endif

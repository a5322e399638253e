/*
 * encrypter: the BitTorrent handshake and length-prefix framing (mainline
 * Encrypter.py's Encoder; despite the name there is no encryption).
 *
 * The encoder is the rawserver handler for peer connections.  It runs the
 * handshake both ways (protocol string, reserved bytes, info hash, peer id),
 * drops connections to ourselves and duplicate peer ids, frames messages
 * with a 4-byte big-endian length capped at max_message_length, sends
 * keepalives, caps outgoing connections (max_initiate, with a queue of
 * spare peers to dial later) and connections per host (max_per_host), and
 * remembers banned addresses.  Complete
 * messages go up to the `upper` layer (the connecter) through a vtable.
 */
#ifndef BT_ENCRYPTER_H
#define BT_ENCRYPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct rawserver;
struct rs_conn;
struct rs_handler;
struct encoder;
struct enc_conn;

#define ENC_PROTOCOL "BitTorrent protocol"
#define ENC_HANDSHAKE_LEN 68	/* 1 + 19 + 8 + 20 + 20 */
#define ENC_ID_LEN 20
#define ENC_MAX_SPARES 1000
/* A connection must complete its handshake this soon after it is made
 * (accepted, or our connect completed), or it is dropped. */
#define ENC_HANDSHAKE_MS 20000

/*
 * The layer above (the connecter).  made() returns the upper layer's
 * per-connection object, or NULL to refuse the peer.  got_message() gets
 * one complete message (id byte and payload, never a keepalive) and
 * returns 0, or a negative errno to drop the peer.  lost() runs exactly
 * once for every connection made() accepted.
 */
struct enc_upper {
	void *(*made)(void *ctx, struct enc_conn *ec);
	int (*got_message)(void *ctx, void *uconn, const uint8_t *p, size_t n);
	void (*lost)(void *ctx, void *uconn);
	void (*flushed)(void *ctx, void *uconn);
};

struct enc_config {
	uint32_t max_message_length;	/* 8 MiB */
	uint32_t keepalive_ms;		/* 120 s */
	uint32_t max_initiate;		/* 35 */
	/* At most this many connections with one host (IP address, any
	 * port), ours and theirs together: further incoming ones are closed
	 * at once and further addresses of it are not dialled.  0: no limit. */
	uint32_t max_per_host;		/* 8 (--max_conns_per_ip) */
};

/*
 * Create an encoder for one torrent.  info_hash and my_id are copied;
 * upper and ctx are borrowed for the encoder's life.
 */
struct encoder *enc_new(struct rawserver *rs, const struct enc_config *cfg,
    const uint8_t info_hash[20], const uint8_t my_id[20],
    const struct enc_upper *upper, void *ctx);
/* Close every connection (no callbacks) and free. */
void enc_free(struct encoder *enc);

/* The handler to give rs_listen() for incoming peers. */
const struct rs_handler *enc_handler(void);
/*
 * Take an incoming connection that a listener shared by several torrents
 * accepted, and whose first n bytes (the peer's handshake up to the info
 * hash it names) it has read already: the connection becomes ours, as if
 * accepted by enc_handler(), and the n bytes are processed as if they had
 * just arrived.  p is copied.  The connection may be closed by the time
 * this returns (banned, its host at max_per_host, bad handshake).
 */
void enc_accept(struct encoder *enc, struct rs_conn *c, const uint8_t *p,
    size_t n);

/*
 * Dial a peer (numeric address).  id, when not NULL, is the peer id the
 * tracker announced; a different id in the handshake drops the peer.
 * Skips banned addresses, addresses already connected and hosts with
 * max_per_host connections; at max_initiate connections the address
 * waits in the spare queue.
 */
void enc_start_connection(struct encoder *enc, const struct sockaddr *sa,
    socklen_t salen, const uint8_t *id);

/* Send one message: the length prefix is added here. */
void enc_send(struct enc_conn *ec, const void *p, size_t n);
/*
 * n framed messages, the k-th hdrlen bytes at hdrs + k * hdrlen then
 * lens[k] bytes of file fd, one range from off (rs_write_frames: read
 * into the queue, up to ENC_RUN_MAX of them with one preadv(), or sent
 * with sendfile; one at a time when hdrlen > ENC_RUN_HDR_MAX).
 */
#define ENC_RUN_MAX	64
#define ENC_RUN_HDR_MAX	16
void enc_send_file_run(struct enc_conn *ec, const uint8_t *hdrs,
    size_t hdrlen, const uint32_t *lens, size_t n, int fd, uint64_t off);
void enc_close(struct enc_conn *ec);
/* Close and never dial or accept this peer's address again. */
void enc_ban(struct enc_conn *ec);

struct rs_conn *enc_conn_rs(const struct enc_conn *ec);
const uint8_t *enc_conn_id(const struct enc_conn *ec);
bool enc_conn_is_local(const struct enc_conn *ec);	/* we dialed it */
const char *enc_conn_name(const struct enc_conn *ec);
size_t enc_num_conns(const struct encoder *enc);	/* handshaken */
/* Whether a peer ever dialled us and completed a handshake (mainline's
 * ever_got_incoming: then we are reachable and need fewer announces). */
bool enc_ever_incoming(const struct encoder *enc);

/* Bytes of framing state, for tests. */
struct enc_stats {
	uint64_t conns_made, conns_dropped, spares_queued;
	uint64_t host_full;	/* refused or not dialled: max_per_host */
};
void enc_get_stats(const struct encoder *enc, struct enc_stats *out);

/*
 * Test-only (fuzzing): run the handshake and framing state machine of one
 * outgoing connection over n bytes, delivered in pieces of `chunk` bytes
 * (0: all at once), without a reactor.  upper->made and got_message are
 * called as for a real peer, lost at the end if made accepted.  Returns 0,
 * or the negative error that would have dropped the peer.
 */
int enc__feed_for_fuzz(const struct enc_config *cfg,
    const uint8_t info_hash[20], const uint8_t my_id[20],
    const struct enc_upper *upper, void *ctx, const uint8_t *p, size_t n,
    size_t chunk);

#endif

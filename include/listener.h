/*
 * listener: one listening port for every torrent of the process
 * (btlaunchmany; btdownload uses it for its one torrent).
 *
 * An accepted connection is held here until the peer's handshake has
 * named the torrent: BEP 3's handshake is the protocol string (1 + 19
 * bytes), 8 reserved bytes and the 20-byte info hash, so after 48 bytes the
 * listener asks lookup() for that torrent's encoder and hands the
 * connection over with enc_accept(), bytes and all; the encrypter then
 * runs the handshake as usual (our reply, the peer id).  A connection
 * whose first bytes are not the BitTorrent protocol string, whose torrent
 * is unknown (or not ready: lookup returns NULL), or that has not sent 48
 * bytes within LS_HANDSHAKE_MS, is closed.  So is a connection from a
 * host that has max_per_host connections waiting here already (each
 * torrent's encoder then applies its own limit to the ones it is handed).
 */
#ifndef BT_LISTENER_H
#define BT_LISTENER_H

#include <stdint.h>

struct bt_err;
struct encoder;
struct rawserver;
struct listener;

#define LS_PREFIX_LEN	48	/* 1 + 19 + 8 + 20: through the info hash */
#define LS_HANDSHAKE_MS	20000

/* The encoder for this info hash, or NULL to refuse the peer. */
typedef struct encoder *ls_lookup_fn(void *ctx, const uint8_t info_hash[20]);

/* rs and ctx are borrowed for the listener's life.  Free with ls_free(). */
struct listener *ls_new(struct rawserver *rs, ls_lookup_fn *lookup,
    void *ctx);
/*
 * Listen as rs_listen() does (bind_addr may be NULL or "", minport 0 for
 * any port).  Returns the port or -errno with err set.
 */
int ls_listen(struct listener *ls, const char *bind_addr, int minport,
    int maxport, struct bt_err *err);
/* At most n connections from one IP address wait for their handshake at
 * once; more are closed as soon as they are accepted.  0 (the default):
 * no limit. */
void ls_set_max_per_host(struct listener *ls, unsigned int n);
/* How many connections that limit has closed. */
uint64_t ls_host_full(const struct listener *ls);
/* Close the connections still waiting for their handshake; NULL is ok. */
void ls_free(struct listener *ls);

#endif

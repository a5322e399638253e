/*
 * A peer's byte stream: the handshake and the length-prefixed framing of
 * src/encrypter.c (through its test-only enc__feed_for_fuzz, no sockets),
 * every complete message through cn_parse as the connecter does, bitfields
 * through bf_from_wire.  Input: 2 bytes of piece count, 1 byte of read
 * size (how the stream is cut into reads), then the stream as the peer
 * sent it.  Our info hash is 20 'H' bytes and our id 20 'M' bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "bitfield.h"
#include "connecter.h"
#include "encrypter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	uint32_t npieces;
	int made;
	size_t msgs;
};

static int dummy_conn;

static void *
made(void *arg, struct enc_conn *ec)
{
	struct ctx *c = arg;

	(void)ec;
	if (c->made++ != 0)
		abort();	/* one connection, one handshake */
	return &dummy_conn;
}

static int
got_message(void *arg, void *uconn, const uint8_t *p, size_t n)
{
	struct ctx *c = arg;
	struct cn_parsed m;
	struct bitfield bf = BF_INIT;
	int r;

	if (uconn != &dummy_conn || c->made != 1 || n == 0)
		abort();	/* no message before the handshake, no keepalive */
	c->msgs++;
	if ((r = cn_parse(p, n, c->npieces, &m)) < 0)
		return r;
	if (m.data != NULL && (m.data < p || m.data + m.datalen > p + n))
		abort();
	switch (m.id) {
	case CN_MSG_HAVE:
	case CN_MSG_REQUEST:
	case CN_MSG_CANCEL:
	case CN_MSG_PIECE:
		if (m.index >= c->npieces)
			abort();
		break;
	case CN_MSG_BITFIELD:
		r = bf_from_wire(&bf, c->npieces, m.data, m.datalen);
		if (r == 0 && bf_count(&bf) > c->npieces)
			abort();
		bf_release(&bf);
		return r < 0 ? -EPROTO : 0;
	default:
		break;
	}
	return 0;
}

static void
lost(void *arg, void *uconn)
{
	(void)arg;
	if (uconn != &dummy_conn)
		abort();
}

static const struct enc_upper upper = { made, got_message, lost, NULL };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct enc_config cfg = { 8u * 1024 * 1024, 0, 35, 0 };
	uint8_t hash[20], id[20];
	struct ctx c = { 0, 0, 0 };

	if (size < 3)
		return 0;
	for (int i = 0; i < 20; i++) {
		hash[i] = 'H';
		id[i] = 'M';
	}
	c.npieces = (uint32_t)data[0] << 8 | data[1];
	enc__feed_for_fuzz(&cfg, hash, id, &upper, &c, data + 3, size - 3,
	    data[2]);
	return 0;
}

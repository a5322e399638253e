/*
 * Connecter message parsing: every BEP 3 message with its exact length,
 * each wrong length, unknown ids and out-of-range indexes.
 */
#include "connecter.h"

#include <errno.h>

#include "bytes.h"
#include "check.h"

static int
parse(const uint8_t *p, size_t n, struct cn_parsed *m)
{
	return cn_parse(p, n, 10, m);
}

static void
test_fixed_length(void)
{
	struct cn_parsed m;
	uint8_t b[2] = { 0, 0 };

	for (uint8_t id = CN_MSG_CHOKE; id <= CN_MSG_NOT_INTERESTED; id++) {
		b[0] = id;
		CHECK_OK(parse(b, 1, &m));
		CHECK_INT_EQ(m.id, id);
		CHECK_INT_EQ(parse(b, 2, &m), -EPROTO);
	}
	CHECK_INT_EQ(parse(b, 0, &m), -EPROTO);
}

static void
test_have(void)
{
	struct cn_parsed m;
	uint8_t b[6] = { CN_MSG_HAVE };

	be32_put(b + 1, 9);
	CHECK_OK(parse(b, 5, &m));
	CHECK_INT_EQ(m.index, 9);
	be32_put(b + 1, 10);
	CHECK_INT_EQ(parse(b, 5, &m), -EPROTO);
	be32_put(b + 1, 0xffffffffu);
	CHECK_INT_EQ(parse(b, 5, &m), -EPROTO);
	CHECK_INT_EQ(parse(b, 4, &m), -EPROTO);
	CHECK_INT_EQ(parse(b, 6, &m), -EPROTO);
}

static void
test_bitfield(void)
{
	struct cn_parsed m;
	uint8_t b[4] = { CN_MSG_BITFIELD, 0xff, 0xc0, 0 };

	CHECK_OK(parse(b, 3, &m));	/* 10 pieces: 2 bytes */
	CHECK_INT_EQ(m.datalen, 2);
	CHECK(m.data == b + 1);
	CHECK_INT_EQ(parse(b, 2, &m), -EPROTO);
	CHECK_INT_EQ(parse(b, 4, &m), -EPROTO);
}

static void
test_request_cancel_piece(void)
{
	struct cn_parsed m;
	uint8_t b[32] = { CN_MSG_REQUEST };

	be32_put(b + 1, 3);
	be32_put(b + 5, 16384);
	be32_put(b + 9, 16384);
	CHECK_OK(parse(b, 13, &m));
	CHECK_INT_EQ(m.index, 3);
	CHECK_INT_EQ(m.begin, 16384);
	CHECK_INT_EQ(m.length, 16384);
	CHECK_INT_EQ(parse(b, 12, &m), -EPROTO);
	CHECK_INT_EQ(parse(b, 14, &m), -EPROTO);
	b[0] = CN_MSG_CANCEL;
	CHECK_OK(parse(b, 13, &m));
	CHECK_INT_EQ(m.id, CN_MSG_CANCEL);
	be32_put(b + 1, 11);
	CHECK_INT_EQ(parse(b, 13, &m), -EPROTO);
	b[0] = CN_MSG_PIECE;
	be32_put(b + 1, 2);
	CHECK_OK(parse(b, 20, &m));
	CHECK_INT_EQ(m.datalen, 11);
	CHECK(m.data == b + 9);
	CHECK_INT_EQ(parse(b, 9, &m), -EPROTO);	/* no payload */
	be32_put(b + 1, 10);
	CHECK_INT_EQ(parse(b, 20, &m), -EPROTO);
}

static void
test_unknown_and_port(void)
{
	struct cn_parsed m;
	uint8_t b[4] = { CN_MSG_PORT, 0x1a, 0xe1 };

	CHECK_OK(parse(b, 3, &m));
	CHECK_INT_EQ(m.port, 6881);
	CHECK_INT_EQ(parse(b, 2, &m), -EPROTO);
	for (int id = 10; id < 256; id++) {
		b[0] = (uint8_t)id;
		if (parse(b, 1, &m) != -EPROTO || parse(b, 3, &m) != -EPROTO)
			CHECK_FAIL_("id %d accepted", id);
	}
	check_passed++;
}

int
main(void)
{
	CHECK_RUN(test_fixed_length, test_have, test_bitfield,
	    test_request_cancel_piece, test_unknown_and_port);
}

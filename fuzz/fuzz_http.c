/*
 * A tracker's HTTP reply as it arrives on the socket: the head is found
 * with hg_head_end (1xx heads skipped, as httpget does), parsed with
 * hg_parse_head, the body delimited by Content-Length, chunked coding or
 * the end of the input, capped at the default max_reply, and handed to
 * btf_parse_announce.  The first input byte picks the slice size the
 * chunked decoder is fed in; the result must not depend on it (the whole
 * body decoded in one call must give the same bytes and the same verdict).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "btformats.h"
#include "bterr.h"
#include "fuzz.h"
#include "httpget.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REPLY	(2u * 1024 * 1024)	/* HG_CONFIG_DEFAULT */

/* Decode p[0..n) in slices of `slice` bytes into out; rc as the decoder. */
static int
dechunk(const uint8_t *p, size_t n, size_t slice, uint8_t *out,
    size_t *out_len)
{
	struct hg_chunked c = HG_CHUNKED_INIT;
	struct bt_err err = BT_ERR_INIT;
	size_t len = 0;
	int rc = 0;

	while (n > 0) {
		size_t k = n < slice ? n : slice, used, olen;

		rc = hg_chunked_feed(&c, p, k, &used, out + len, &olen, &err);
		if (used > k || olen > used)
			abort();
		if (rc < 0)
			fuzz_check_msg(err.msg);
		len += olen;
		if (rc != 0)
			break;
		if (used != k)
			abort();	/* 0 means "more input": all consumed */
		p += used;
		n -= used;
	}
	*out_len = len;
	return rc;
}

static void
announce(const uint8_t *body, size_t len)
{
	struct bt_err err = BT_ERR_INIT;
	struct btf_announce ann;

	btf_parse_announce(body, len, &ann, &err);
	btf_announce_release(&ann);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_err err = BT_ERR_INIT;
	struct hg_head *head;
	const uint8_t *p;
	size_t n, hlen, slice, len1, len2;
	uint8_t *b1, *b2;
	int rc1, rc2;

	if (size < 1)
		return 0;
	slice = (size_t)data[0] % 17 + 1;
	p = data + 1;
	n = size - 1;
	for (;;) {
		hlen = hg_head_end(p, n < HG_MAX_HEAD ? n : HG_MAX_HEAD);
		if (hlen == 0)
			return 0;
		if (hlen > n)
			abort();
		if (hlen >= 12 && memcmp(p, "HTTP/1.", 7) == 0 && p[9] == '1') {
			p += hlen;
			n -= hlen;
			continue;
		}
		break;
	}
	head = malloc(sizeof(*head));
	if (head == NULL)
		return 0;
	if (hg_parse_head(p, hlen, head, &err) != 0) {
		fuzz_check_msg(err.msg);
		free(head);
		return 0;
	}
	if (head->status < 100 || head->status > 599 ||
	    head->content_length < -1 ||
	    (head->has_location && strlen(head->location) >= HG_MAX_URL))
		abort();
	p += hlen;
	n -= hlen;
	if (head->chunked) {
		b1 = malloc(n + 1);
		b2 = malloc(n + 1);
		if (b1 != NULL && b2 != NULL) {
			rc1 = dechunk(p, n, slice, b1, &len1);
			rc2 = dechunk(p, n, n + 1, b2, &len2);
			if ((rc1 < 0) != (rc2 < 0))
				abort();
			if (rc1 >= 0 && (rc1 != rc2 || len1 != len2 ||
			    memcmp(b1, b2, len1) != 0))
				abort();
			if (rc1 == 1 && len1 <= MAX_REPLY)
				announce(b1, len1);
		}
		free(b1);
		free(b2);
	} else if (head->content_length >= 0) {
		if ((uint64_t)head->content_length <= n)
			announce(p, (size_t)head->content_length);
	} else if (n <= MAX_REPLY) {
		announce(p, n);
	}
	free(head);
	return 0;
}

/*
 * be_decode() on any bytes.  A document that decodes must also be
 * canonical: walking it and encoding every value again with the be_put_*
 * encoder (which asserts ascending keys) gives back exactly the input, and
 * every value's raw span lies inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bencode.h"
#include "bterr.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
reencode(struct be_buf *b, const struct be_node *v, const uint8_t *base,
    size_t size)
{
	struct be_iter it;
	const struct be_node *x;
	const uint8_t *raw, *k, *s;
	size_t rawlen, klen, slen;

	raw = be_raw(v, &rawlen);
	if (raw < base || rawlen > size || (size_t)(raw - base) > size - rawlen)
		abort();
	switch (be_type(v)) {
	case BE_INT:
		be_put_int(b, be_int(v));
		break;
	case BE_STR:
		s = be_str(v, &slen);
		be_put_str(b, s, slen);
		break;
	case BE_LIST:
		be_put_list(b);
		be_iter_init(&it, v);
		while ((x = be_iter_next(&it)) != NULL)
			reencode(b, x, base, size);
		be_put_end(b);
		break;
	case BE_DICT:
		be_put_dict(b);
		be_iter_init(&it, v);
		while (be_iter_pair(&it, &k, &klen, &x)) {
			be_put_str(b, k, klen);
			reencode(b, x, base, size);
			if (be_dict_getn(v, k, klen) != x)
				abort();
		}
		be_put_end(b);
		break;
	default:
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_err err = BT_ERR_INIT;
	struct be_doc *doc = NULL;
	struct be_buf b = BE_BUF_INIT;

	if (be_decode(data, size, &doc, &err) != 0) {
		if (doc != NULL)
			abort();
		fuzz_check_msg(err.msg);
		return 0;
	}
	/* Recursion here is bounded by BE_MAX_DEPTH. */
	reencode(&b, be_root(doc), data, size);
	if (b.len != size || memcmp(b.p, data, size) != 0)
		abort();
	be_buf_release(&b);
	be_doc_free(doc);
	return 0;
}

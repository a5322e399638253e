/*
 * bencode: a strict decoder and a small encoder (BEP 3).
 *
 * The decoder is as strict as mainline's bencode.py: no leading zeros, no
 * "-0", dict keys strictly ascending bytewise, nothing after the root value.
 * It never recurses (nesting uses an explicit stack capped at BE_MAX_DEPTH)
 * and never allocates per value: a decoded document is one flat array of
 * nodes in pre-order, and strings point into the caller's input (zero copy).
 *
 * Every value remembers its exact span in the input (be_raw()), so the info
 * hash is SHA-1 over the bytes the torrent really holds, never over a
 * re-encoding.
 */
#ifndef BT_BENCODE_H
#define BT_BENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bt_err;

/* Containers nested deeper than this are rejected. */
#define BE_MAX_DEPTH	256
/* A single string longer than this is rejected (bytes). */
#define BE_MAX_STR_LEN	(64u * 1024 * 1024)
/* Inputs longer than this are rejected (node offsets are 32-bit). */
#define BE_MAX_INPUT	(1u << 30)
/* A document with more values than this is rejected (24 bytes each). */
#define BE_MAX_NODES	(1u << 23)

enum be_type {
	BE_INT = 1,
	BE_STR,
	BE_LIST,
	BE_DICT,
};

/* A decoded document; opaque, free with be_doc_free(). */
struct be_doc;
/* One value inside a document; opaque, borrowed from its document. */
struct be_node;

/*
 * Decode the n bytes at p, which must hold exactly one value.  On success
 * *out is a new document that borrows p: the input must stay unchanged and
 * alive until be_doc_free().  On failure returns -EILSEQ (malformed),
 * -EFBIG (past a cap) and err says why and at which byte offset, e.g.
 * "bencode: leading zero in integer at offset 17"; *out is then NULL.
 */
int be_decode(const uint8_t *p, size_t n, struct be_doc **out,
    struct bt_err *err);
void be_doc_free(struct be_doc *doc);

/* The root value.  Never NULL for a decoded document. */
const struct be_node *be_root(const struct be_doc *doc);
/* Offset of a value's first byte from the start of the document's input. */
size_t be_offset(const struct be_doc *doc, const struct be_node *node);

enum be_type be_type(const struct be_node *node);
/* The value of a BE_INT; 0 for any other type. */
int64_t be_int(const struct be_node *node);
/*
 * The bytes of a BE_STR (not NUL-terminated; borrowed from the input) and
 * their count in *out_len; NULL and 0 for any other type.
 */
const uint8_t *be_str(const struct be_node *node, size_t *out_len);
/* Items in a list, pairs in a dict, 0 for anything else. */
size_t be_count(const struct be_node *node);
/* The exact input bytes of any value, e.g. "d3:fooi1ee" for a dict. */
const uint8_t *be_raw(const struct be_node *node, size_t *out_len);

/* Item i of a list (O(i): walk with be_iter for a whole list), or NULL. */
const struct be_node *be_list_at(const struct be_node *list, size_t i);
/* The value under key in a dict, or NULL (not a dict, or no such key). */
const struct be_node *be_dict_get(const struct be_node *dict, const char *key);
const struct be_node *be_dict_getn(const struct be_node *dict,
    const void *key, size_t keylen);

/*
 * Iteration over a list or a dict, in input order:
 *
 *	struct be_iter it;
 *	const struct be_node *v;
 *
 *	be_iter_init(&it, list);
 *	while ((v = be_iter_next(&it)) != NULL)
 *		...
 *
 * For a dict use be_iter_pair(&it, &key, &keylen, &v), which returns false
 * at the end.  Initialising on a non-container yields nothing.
 */
struct be_iter {
	const struct be_node *next;
	size_t left;
};

void be_iter_init(struct be_iter *it, const struct be_node *container);
const struct be_node *be_iter_next(struct be_iter *it);
bool be_iter_pair(struct be_iter *it, const uint8_t **out_key,
    size_t *out_keylen, const struct be_node **out_val);

/*
 * Encoder: a growable byte buffer that values are appended to.
 *
 *	struct be_buf b = BE_BUF_INIT;
 *
 *	be_put_dict(&b);
 *	be_put_cstr(&b, "a"); be_put_int(&b, 1);
 *	be_put_end(&b);
 *	... b.p, b.len ...
 *	be_buf_release(&b);
 *
 * Inside a dict, keys and values alternate and the caller must add keys in
 * strictly ascending bytewise order; the buffer checks this (and that every
 * list or dict is closed, every key has a value) with assert(), since a
 * violation is a programming error, not bad input.  Allocation cannot fail
 * (xmalloc).  The bytes b.p[0 .. b.len) are valid until the next put.
 */
struct be_frame;

struct be_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
	struct be_frame *stack;		/* open containers (private) */
	size_t depth;
	size_t stack_cap;
};

#define BE_BUF_INIT { NULL, 0, 0, NULL, 0, 0 }

void be_buf_init(struct be_buf *b);
/* Free the buffer and reset it to BE_BUF_INIT.  NULL-safe. */
void be_buf_release(struct be_buf *b);
/*
 * Hand the encoded bytes to the caller (free with free(3)) and reset b.
 * Every container must be closed.  *out_len gets the length.
 */
uint8_t *be_buf_detach(struct be_buf *b, size_t *out_len);

void be_put_int(struct be_buf *b, int64_t v);
void be_put_str(struct be_buf *b, const void *p, size_t n);
void be_put_cstr(struct be_buf *b, const char *s);
void be_put_list(struct be_buf *b);
void be_put_dict(struct be_buf *b);
/* Close the innermost open list or dict. */
void be_put_end(struct be_buf *b);
/* Append one already-encoded value verbatim (e.g. another doc's be_raw). */
void be_put_raw(struct be_buf *b, const void *p, size_t n);

#endif

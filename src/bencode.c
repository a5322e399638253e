#include "bencode.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bterr.h"
#include "xmalloc.h"

/*
 * A document is one array of nodes in pre-order: a list or dict node is
 * followed by its whole subtree (for a dict: key, value, key, value...), so
 * a container's next sibling is `skip` nodes further on.  Strings are the
 * last slen bytes of their raw span, which points into the caller's input.
 */
struct be_node {
	const uint8_t *raw;
	union {
		int64_t i;			/* BE_INT */
		uint32_t slen;			/* BE_STR */
		struct {
			uint32_t count;		/* items, or pairs */
			uint32_t skip;		/* nodes in subtree, self too */
		} c;				/* BE_LIST, BE_DICT */
	} u;
	uint32_t rawlen;
	uint8_t type;
};

struct be_doc {
	const uint8_t *base;
	struct be_node *nodes;
	size_t nnodes;
	size_t cap;
};

/* One open container while decoding. */
struct be_pframe {
	uint32_t node;			/* index of the container's node */
	bool is_dict;
	bool want_val;			/* dict: a key was read, value next */
	const uint8_t *lastkey;		/* dict: previous key, for ordering */
	size_t lastkeylen;
};

struct be_parser {
	const uint8_t *p;
	size_t n;
	size_t pos;
	struct be_doc *doc;
	struct bt_err *err;
	size_t depth;
	struct be_pframe stack[BE_MAX_DEPTH];
};

static int
be_fail(struct be_parser *ps, int code, size_t off, const char *why)
{
	return bt_err_set(ps->err, code, "bencode: %s at offset %zu", why, off);
}

static int
be_truncated(struct be_parser *ps)
{
	return be_fail(ps, -EILSEQ, ps->n, "unexpected end of input");
}

static bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Append a node of the given type starting at input offset start. */
static int
be_new_node(struct be_parser *ps, enum be_type type, size_t start,
    struct be_node **out)
{
	struct be_doc *doc = ps->doc;
	struct be_node *nd;

	if (doc->nnodes == doc->cap) {
		if (doc->cap >= BE_MAX_NODES)
			return be_fail(ps, -EFBIG, start,
			    "too many values in document");
		doc->cap = doc->cap == 0 ? 64 : doc->cap * 2;
		if (doc->cap > BE_MAX_NODES)
			doc->cap = BE_MAX_NODES;
		doc->nodes = xreallocarray(doc->nodes, doc->cap,
		    sizeof(*doc->nodes));
	}
	nd = &doc->nodes[doc->nnodes++];
	memset(nd, 0, sizeof(*nd));
	nd->type = (uint8_t)type;
	nd->raw = ps->p + start;
	*out = nd;
	return 0;
}

/* "i" [-] digits "e", with p[pos] == 'i'. */
static int
be_parse_int(struct be_parser *ps)
{
	const uint8_t *p = ps->p;
	size_t start = ps->pos, pos = start + 1, ds;
	uint64_t v = 0, limit = INT64_MAX;
	bool neg = false;
	struct be_node *nd;
	int r;

	if (pos < ps->n && p[pos] == '-') {
		neg = true;
		limit = (uint64_t)INT64_MAX + 1;
		pos++;
	}
	for (ds = pos; pos < ps->n && is_digit(p[pos]); pos++) {
		unsigned d = p[pos] - '0';

		if (v > (limit - d) / 10)
			return be_fail(ps, -EILSEQ, ds, "integer out of range");
		v = v * 10 + d;
	}
	if (pos >= ps->n)
		return be_truncated(ps);
	if (pos == ds && p[pos] == 'e')
		return be_fail(ps, -EILSEQ, start, "integer without digits");
	if (p[pos] != 'e')
		return be_fail(ps, -EILSEQ, pos, "bad character in integer");
	if (p[ds] == '0' && pos - ds > 1)
		return be_fail(ps, -EILSEQ, ds, "leading zero in integer");
	if (neg && p[ds] == '0')
		return be_fail(ps, -EILSEQ, start, "negative zero");
	if ((r = be_new_node(ps, BE_INT, start, &nd)) < 0)
		return r;
	/* Two's complement: -(2^63) comes out of the unsigned negation. */
	nd->u.i = neg ? (int64_t)(0 - v) : (int64_t)v;
	nd->rawlen = (uint32_t)(pos + 1 - start);
	ps->pos = pos + 1;
	return 0;
}

/* digits ":" bytes, with p[pos] a digit. */
static int
be_parse_str(struct be_parser *ps, struct be_node **out)
{
	const uint8_t *p = ps->p;
	size_t start = ps->pos, pos = start, len = 0;
	int r;

	for (; pos < ps->n && is_digit(p[pos]); pos++) {
		len = len * 10 + (size_t)(p[pos] - '0');
		if (len > BE_MAX_STR_LEN)
			return be_fail(ps, -EFBIG, start,
			    "string length exceeds cap");
	}
	if (pos >= ps->n)
		return be_truncated(ps);
	if (p[pos] != ':')
		return be_fail(ps, -EILSEQ, pos,
		    "bad character in string length");
	if (p[start] == '0' && pos - start > 1)
		return be_fail(ps, -EILSEQ, start,
		    "leading zero in string length");
	pos++;
	if (len > ps->n - pos)
		return be_fail(ps, -EILSEQ, start,
		    "string length past end of input");
	if ((r = be_new_node(ps, BE_STR, start, out)) < 0)
		return r;
	(*out)->u.slen = (uint32_t)len;
	(*out)->rawlen = (uint32_t)(pos + len - start);
	ps->pos = pos + len;
	return 0;
}

static int
be_open(struct be_parser *ps, enum be_type type)
{
	struct be_pframe *f;
	struct be_node *nd;
	int r;

	if (ps->depth == BE_MAX_DEPTH)
		return be_fail(ps, -EFBIG, ps->pos, "nesting too deep");
	if ((r = be_new_node(ps, type, ps->pos, &nd)) < 0)
		return r;
	f = &ps->stack[ps->depth++];
	memset(f, 0, sizeof(*f));
	f->node = (uint32_t)(ps->doc->nnodes - 1);
	f->is_dict = type == BE_DICT;
	ps->pos++;
	return 0;
}

/* p[pos] == 'e' closes the innermost container. */
static void
be_close(struct be_parser *ps)
{
	struct be_pframe *f = &ps->stack[--ps->depth];
	struct be_node *nd = &ps->doc->nodes[f->node];

	ps->pos++;
	nd->rawlen = (uint32_t)(ps->p + ps->pos - nd->raw);
	nd->u.c.skip = (uint32_t)(ps->doc->nnodes - f->node);
}

/* Bytewise order of two byte strings, shorter first on a common prefix. */
static int
be_keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* A dict key at p[pos]: a string above the previous key. */
static int
be_parse_key(struct be_parser *ps, struct be_pframe *f)
{
	size_t start = ps->pos, klen;
	const uint8_t *key;
	struct be_node *nd;
	int r, c;

	if (!is_digit(ps->p[start]))
		return be_fail(ps, -EILSEQ, start, "dict key is not a string");
	if ((r = be_parse_str(ps, &nd)) < 0)
		return r;
	key = be_str(nd, &klen);
	if (f->lastkey != NULL) {
		c = be_keycmp(f->lastkey, f->lastkeylen, key, klen);
		if (c == 0)
			return be_fail(ps, -EILSEQ, start,
			    "duplicate dict key");
		if (c > 0)
			return be_fail(ps, -EILSEQ, start,
			    "dict keys not sorted");
	}
	f->lastkey = key;
	f->lastkeylen = klen;
	f->want_val = true;
	return 0;
}

/* Any value at p[pos]; a list or dict is only opened. */
static int
be_parse_value(struct be_parser *ps)
{
	uint8_t c = ps->p[ps->pos];
	struct be_node *nd;
	char why[64];

	if (c == 'i')
		return be_parse_int(ps);
	if (is_digit(c))
		return be_parse_str(ps, &nd);
	if (c == 'l')
		return be_open(ps, BE_LIST);
	if (c == 'd')
		return be_open(ps, BE_DICT);
	if (c >= 0x20 && c < 0x7f)
		snprintf(why, sizeof(why), "unknown type byte '%c'", c);
	else
		snprintf(why, sizeof(why), "unknown type byte 0x%02x", c);
	return be_fail(ps, -EILSEQ, ps->pos, why);
}

/*
 * One step inside the innermost container: close it, read a dict key, or
 * read a value.  Sets *done when a value (scalar or closed container) was
 * completed, so the caller can count it in the parent.
 */
static int
be_step(struct be_parser *ps, bool *done)
{
	struct be_pframe *f = &ps->stack[ps->depth - 1];
	size_t before = ps->depth;
	int r;

	*done = false;
	if (ps->pos >= ps->n)
		return be_truncated(ps);
	if (ps->p[ps->pos] == 'e') {
		if (f->is_dict && f->want_val)
			return be_fail(ps, -EILSEQ, ps->pos,
			    "dict key without value");
		be_close(ps);
		*done = true;
		return 0;
	}
	if (f->is_dict && !f->want_val)
		return be_parse_key(ps, f);
	if ((r = be_parse_value(ps)) < 0)
		return r;
	*done = ps->depth == before;
	return 0;
}

/* Count a completed value in its container (if any). */
static void
be_completed(struct be_parser *ps)
{
	struct be_pframe *f;

	if (ps->depth == 0)
		return;
	f = &ps->stack[ps->depth - 1];
	ps->doc->nodes[f->node].u.c.count++;
	f->want_val = false;
}

static int
be_parse(struct be_parser *ps)
{
	bool done;
	int r;

	if (ps->n == 0)
		return be_truncated(ps);
	if ((r = be_parse_value(ps)) < 0)
		return r;
	while (ps->depth > 0) {
		if ((r = be_step(ps, &done)) < 0)
			return r;
		if (done)
			be_completed(ps);
	}
	if (ps->pos != ps->n)
		return be_fail(ps, -EILSEQ, ps->pos,
		    "trailing bytes after root value");
	return 0;
}

int
be_decode(const uint8_t *p, size_t n, struct be_doc **out,
    struct bt_err *err)
{
	struct be_parser *ps;
	struct be_doc *doc;
	int r;

	*out = NULL;
	if (n > BE_MAX_INPUT)
		return bt_err_set(err, -EFBIG,
		    "bencode: input of %zu bytes exceeds cap", n);
	doc = xcalloc(1, sizeof(*doc));
	doc->base = p;
	/* The parser holds a BE_MAX_DEPTH stack: keep it off the C stack. */
	ps = xcalloc(1, sizeof(*ps));
	ps->p = p;
	ps->n = n;
	ps->doc = doc;
	ps->err = err;
	r = be_parse(ps);
	free(ps);
	if (r < 0) {
		be_doc_free(doc);
		return r;
	}
	*out = doc;
	return 0;
}

void
be_doc_free(struct be_doc *doc)
{
	if (doc == NULL)
		return;
	free(doc->nodes);
	free(doc);
}

const struct be_node *
be_root(const struct be_doc *doc)
{
	return &doc->nodes[0];
}

size_t
be_offset(const struct be_doc *doc, const struct be_node *node)
{
	return (size_t)(node->raw - doc->base);
}

enum be_type
be_type(const struct be_node *node)
{
	return (enum be_type)node->type;
}

int64_t
be_int(const struct be_node *node)
{
	return node->type == BE_INT ? node->u.i : 0;
}

const uint8_t *
be_str(const struct be_node *node, size_t *out_len)
{
	if (node->type != BE_STR) {
		*out_len = 0;
		return NULL;
	}
	*out_len = node->u.slen;
	return node->raw + node->rawlen - node->u.slen;
}

size_t
be_count(const struct be_node *node)
{
	if (node->type != BE_LIST && node->type != BE_DICT)
		return 0;
	return node->u.c.count;
}

const uint8_t *
be_raw(const struct be_node *node, size_t *out_len)
{
	*out_len = node->rawlen;
	return node->raw;
}

/* The node after node's whole subtree. */
static const struct be_node *
be_skip(const struct be_node *node)
{
	if (node->type == BE_LIST || node->type == BE_DICT)
		return node + node->u.c.skip;
	return node + 1;
}

void
be_iter_init(struct be_iter *it, const struct be_node *container)
{
	it->next = container + 1;
	it->left = be_count(container);
}

const struct be_node *
be_iter_next(struct be_iter *it)
{
	const struct be_node *v;

	if (it->left == 0)
		return NULL;
	v = it->next;
	it->next = be_skip(v);
	it->left--;
	return v;
}

bool
be_iter_pair(struct be_iter *it, const uint8_t **out_key,
    size_t *out_keylen, const struct be_node **out_val)
{
	const struct be_node *k;

	if (it->left == 0)
		return false;
	k = it->next;
	*out_key = be_str(k, out_keylen);
	*out_val = k + 1;
	it->next = be_skip(k + 1);
	it->left--;
	return true;
}

const struct be_node *
be_list_at(const struct be_node *list, size_t i)
{
	struct be_iter it;
	const struct be_node *v;

	if (list->type != BE_LIST || i >= list->u.c.count)
		return NULL;
	be_iter_init(&it, list);
	do {
		v = be_iter_next(&it);
	} while (i-- > 0);
	return v;
}

const struct be_node *
be_dict_getn(const struct be_node *dict, const void *key, size_t keylen)
{
	struct be_iter it;
	const uint8_t *k;
	const struct be_node *v;
	size_t klen;
	int c;

	if (dict->type != BE_DICT)
		return NULL;
	be_iter_init(&it, dict);
	while (be_iter_pair(&it, &k, &klen, &v)) {
		/* Keys are sorted: stop once past where key would be. */
		c = be_keycmp(k, klen, key, keylen);
		if (c == 0)
			return v;
		if (c > 0)
			break;
	}
	return NULL;
}

const struct be_node *
be_dict_get(const struct be_node *dict, const char *key)
{
	return be_dict_getn(dict, key, strlen(key));
}

/*
 * Encoder.  Each open container has a frame; in a dict the frame remembers
 * where the previous key's bytes sit in the buffer, to assert ordering.
 */
struct be_frame {
	bool is_dict;
	bool want_val;
	bool has_key;
	size_t key_off;
	size_t key_len;
};

void
be_buf_init(struct be_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
be_buf_release(struct be_buf *b)
{
	if (b == NULL)
		return;
	free(b->p);
	free(b->stack);
	be_buf_init(b);
}

uint8_t *
be_buf_detach(struct be_buf *b, size_t *out_len)
{
	uint8_t *p;

	assert(b->depth == 0);
	p = b->p != NULL ? b->p : xmalloc(1);
	*out_len = b->len;
	b->p = NULL;
	be_buf_release(b);
	return p;
}

static void
be_buf_append(struct be_buf *b, const void *p, size_t n)
{
	if (n > b->cap - b->len) {
		size_t want = b->len + n;

		if (want < b->len)
			abort();
		if (b->cap == 0)
			b->cap = 256;
		while (b->cap < want)
			b->cap *= 2;
		b->p = xrealloc(b->p, b->cap);
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static struct be_frame *
be_top(struct be_buf *b)
{
	return b->depth > 0 ? &b->stack[b->depth - 1] : NULL;
}

/* A value (not a key) is about to be written. */
static void
be_value_begin(struct be_buf *b)
{
	struct be_frame *f = be_top(b);

	assert(f == NULL || !f->is_dict || f->want_val);
	(void)f;
}

/* A value was completed: in a dict, a key comes next. */
static void
be_value_end(struct be_buf *b)
{
	struct be_frame *f = be_top(b);

	if (f != NULL)
		f->want_val = false;
}

/*
 * Decimal digits of v, right-aligned so they end at end; returns the first.
 * (snprintf dominated the encoder's profile.)
 */
static char *
be_fmt_u64(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}

void
be_put_int(struct be_buf *b, int64_t v)
{
	char tmp[24], *end = tmp + sizeof(tmp), *s;
	uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	be_value_begin(b);
	*--end = 'e';
	s = be_fmt_u64(end, mag);
	if (v < 0)
		*--s = '-';
	*--s = 'i';
	be_buf_append(b, s, (size_t)(tmp + sizeof(tmp) - s));
	be_value_end(b);
}

static void
be_put_strbytes(struct be_buf *b, const void *p, size_t n)
{
	char tmp[24], *end = tmp + sizeof(tmp), *s;

	*--end = ':';
	s = be_fmt_u64(end, n);
	be_buf_append(b, s, (size_t)(tmp + sizeof(tmp) - s));
	be_buf_append(b, p, n);
}

/* Write a dict key, asserting it sorts after the previous one. */
static void
be_put_key(struct be_buf *b, struct be_frame *f, const void *p, size_t n)
{
	if (f->has_key)
		assert(be_keycmp(b->p + f->key_off, f->key_len, p, n) < 0);
	be_put_strbytes(b, p, n);
	f->has_key = true;
	f->key_off = b->len - n;
	f->key_len = n;
	f->want_val = true;
}

void
be_put_str(struct be_buf *b, const void *p, size_t n)
{
	struct be_frame *f = be_top(b);

	if (f != NULL && f->is_dict && !f->want_val) {
		be_put_key(b, f, p, n);
		return;
	}
	be_put_strbytes(b, p, n);
	be_value_end(b);
}

void
be_put_cstr(struct be_buf *b, const char *s)
{
	be_put_str(b, s, strlen(s));
}

static void
be_push(struct be_buf *b, bool is_dict)
{
	be_value_begin(b);
	if (b->depth == b->stack_cap) {
		b->stack_cap = b->stack_cap == 0 ? 8 : b->stack_cap * 2;
		b->stack = xreallocarray(b->stack, b->stack_cap,
		    sizeof(*b->stack));
	}
	memset(&b->stack[b->depth], 0, sizeof(b->stack[0]));
	b->stack[b->depth++].is_dict = is_dict;
	be_buf_append(b, is_dict ? "d" : "l", 1);
}

void
be_put_list(struct be_buf *b)
{
	be_push(b, false);
}

void
be_put_dict(struct be_buf *b)
{
	be_push(b, true);
}

void
be_put_end(struct be_buf *b)
{
	struct be_frame *f = be_top(b);

	assert(f != NULL && !(f->is_dict && f->want_val));
	(void)f;
	b->depth--;
	be_buf_append(b, "e", 1);
	be_value_end(b);
}

void
be_put_raw(struct be_buf *b, const void *p, size_t n)
{
	be_value_begin(b);
	be_buf_append(b, p, n);
	be_value_end(b);
}

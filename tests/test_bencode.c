#include "bencode.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bterr.h"
#include "xmalloc.h"

#include "check.h"

static const char *
str_of(const struct be_node *n, size_t *len)
{
	return (const char *)be_str(n, len);
}

/* Decode a C string; returns the code and leaves the reason in err. */
static int
decode_cstr(const char *s, struct bt_err *err)
{
	struct be_doc *doc = (struct be_doc *)1;
	int r;

	r = be_decode((const uint8_t *)s, strlen(s), &doc, err);
	if (r == 0)
		be_doc_free(doc);
	else
		CHECK(doc == NULL);
	return r;
}

struct reject_case {
	const char *in;
	int code;
	const char *msg;
};

static const struct reject_case rejects[] = {
	{ "", -EILSEQ, "unexpected end of input at offset 0" },
	{ "i01e", -EILSEQ, "leading zero in integer at offset 1" },
	{ "i-01e", -EILSEQ, "leading zero in integer at offset 2" },
	{ "i00e", -EILSEQ, "leading zero in integer at offset 1" },
	{ "i-0e", -EILSEQ, "negative zero at offset 0" },
	{ "ie", -EILSEQ, "integer without digits at offset 0" },
	{ "li1eie", -EILSEQ, "integer without digits at offset 4" },
	{ "i-e", -EILSEQ, "integer without digits at offset 0" },
	{ "i+1e", -EILSEQ, "bad character in integer at offset 1" },
	{ "i12x", -EILSEQ, "bad character in integer at offset 3" },
	{ "i1", -EILSEQ, "unexpected end of input at offset 2" },
	{ "i9223372036854775808e", -EILSEQ,
	    "integer out of range at offset 1" },
	{ "i-9223372036854775809e", -EILSEQ,
	    "integer out of range at offset 2" },
	{ "i99999999999999999999999e", -EILSEQ,
	    "integer out of range at offset 1" },
	{ "01:a", -EILSEQ, "leading zero in string length at offset 0" },
	{ "00:", -EILSEQ, "leading zero in string length at offset 0" },
	{ "5:abc", -EILSEQ, "string length past end of input at offset 0" },
	{ "l5:abe", -EILSEQ, "string length past end of input at offset 1" },
	{ "3x", -EILSEQ, "bad character in string length at offset 1" },
	{ "12", -EILSEQ, "unexpected end of input at offset 2" },
	{ "67108865:", -EFBIG, "string length exceeds cap at offset 0" },
	{ "99999999999999999999999:", -EFBIG,
	    "string length exceeds cap at offset 0" },
	{ "d1:b0:1:a0:e", -EILSEQ, "dict keys not sorted at offset 6" },
	{ "d2:ab0:1:a0:e", -EILSEQ, "dict keys not sorted at offset 7" },
	{ "d1:a0:1:a0:e", -EILSEQ, "duplicate dict key at offset 6" },
	{ "di1e0:e", -EILSEQ, "dict key is not a string at offset 1" },
	{ "dle0:e", -EILSEQ, "dict key is not a string at offset 1" },
	{ "d1:ae", -EILSEQ, "dict key without value at offset 4" },
	{ "d1:a", -EILSEQ, "unexpected end of input at offset 4" },
	{ "d1:ai1e", -EILSEQ, "unexpected end of input at offset 7" },
	{ "l1:a", -EILSEQ, "unexpected end of input at offset 4" },
	{ "l", -EILSEQ, "unexpected end of input at offset 1" },
	{ "i1ei2e", -EILSEQ, "trailing bytes after root value at offset 3" },
	{ "lee", -EILSEQ, "trailing bytes after root value at offset 2" },
	{ "0:\n", -EILSEQ, "trailing bytes after root value at offset 2" },
	{ "x", -EILSEQ, "unknown type byte 'x' at offset 0" },
	{ "-1:a", -EILSEQ, "unknown type byte '-' at offset 0" },
	{ "l\x01" "e", -EILSEQ, "unknown type byte 0x01 at offset 1" },
	{ "e", -EILSEQ, "unknown type byte 'e' at offset 0" },
	{ "d0:e", -EILSEQ, "dict key without value at offset 3" },
};

static void
test_rejects(void)
{
	for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
		const struct reject_case *c = &rejects[i];
		struct bt_err err = BT_ERR_INIT;
		char want[BT_ERR_MSGLEN];
		int r = decode_cstr(c->in, &err);

		snprintf(want, sizeof(want), "bencode: %s", c->msg);
		CHECK_INT_EQ(r, c->code);
		CHECK_INT_EQ(err.code, c->code);
		CHECK_STR_EQ(err.msg, want);
	}
}

/* Sequences of bytes with embedded NULs cannot go through a C string. */
static void
test_reject_nul_and_null_err(void)
{
	static const uint8_t in[] = { '1', ':', 'a', 0 };
	struct be_doc *doc;

	CHECK_INT_EQ(be_decode(in, sizeof(in), &doc, NULL), -EILSEQ);
	CHECK(doc == NULL);
	CHECK_OK(be_decode(in, 3, &doc, NULL));
	be_doc_free(doc);
	be_doc_free(NULL);
}

static void
test_int_limits(void)
{
	struct be_doc *doc;
	const char *max = "i9223372036854775807e";
	const char *min = "i-9223372036854775808e";

	CHECK_OK(be_decode((const uint8_t *)max, strlen(max), &doc, NULL));
	CHECK_INT_EQ(be_type(be_root(doc)), BE_INT);
	CHECK(be_int(be_root(doc)) == INT64_MAX);
	be_doc_free(doc);
	CHECK_OK(be_decode((const uint8_t *)min, strlen(min), &doc, NULL));
	CHECK(be_int(be_root(doc)) == INT64_MIN);
	be_doc_free(doc);
	CHECK_OK(decode_cstr("i0e", NULL));
	CHECK_OK(decode_cstr("i-1e", NULL));
	CHECK_OK(decode_cstr("0:", NULL));
}

static char *
nest(size_t depth)
{
	char *s = xmalloc(2 * depth + 1);

	memset(s, 'l', depth);
	memset(s + depth, 'e', depth);
	s[2 * depth] = '\0';
	return s;
}

static void
test_depth(void)
{
	struct bt_err err = BT_ERR_INIT;
	char *s;

	s = nest(BE_MAX_DEPTH);
	CHECK_OK(decode_cstr(s, &err));
	free(s);
	s = nest(BE_MAX_DEPTH + 1);
	CHECK_INT_EQ(decode_cstr(s, &err), -EFBIG);
	CHECK_STR_EQ(err.msg, "bencode: nesting too deep at offset 256");
	free(s);
	/* Far past the cap: must fail cleanly, not blow the C stack. */
	s = nest(1000000);
	CHECK_INT_EQ(decode_cstr(s, &err), -EFBIG);
	free(s);
}

static void
test_access(void)
{
	const char *in = "d1:ai-5e1:bl3:abcdei7ee1:cde2:zz0:e";
	struct be_doc *doc;
	const struct be_node *root, *b, *v;
	const uint8_t *k, *raw;
	struct be_iter it;
	size_t len, n = 0;

	CHECK_OK(be_decode((const uint8_t *)in, strlen(in), &doc, NULL));
	root = be_root(doc);
	CHECK_INT_EQ(be_type(root), BE_DICT);
	CHECK_INT_EQ(be_count(root), 4);
	CHECK_INT_EQ(be_int(be_dict_get(root, "a")), -5);
	CHECK(be_dict_get(root, "") == NULL);
	CHECK(be_dict_get(root, "aa") == NULL);
	CHECK(be_dict_get(root, "zzz") == NULL);
	CHECK(be_dict_getn(root, "zz", 2) != NULL);
	b = be_dict_get(root, "b");
	CHECK_INT_EQ(be_type(b), BE_LIST);
	CHECK_INT_EQ(be_count(b), 3);
	CHECK(memcmp(str_of(be_list_at(b, 0), &len), "abc", 3) == 0);
	CHECK_INT_EQ(len, 3);
	CHECK_INT_EQ(be_count(be_list_at(b, 1)), 0);
	CHECK_INT_EQ(be_int(be_list_at(b, 2)), 7);
	CHECK(be_list_at(b, 3) == NULL);
	CHECK(be_list_at(root, 0) == NULL);
	raw = be_raw(b, &len);
	CHECK_INT_EQ(len, strlen("l3:abcdei7ee"));
	CHECK_MEM_EQ(raw, "l3:abcdei7ee", len);
	CHECK_INT_EQ(be_offset(doc, b), 11);
	v = be_dict_get(root, "c");
	CHECK_INT_EQ(be_type(v), BE_DICT);
	CHECK_INT_EQ(be_count(v), 0);
	/* Type mismatches answer neutrally. */
	CHECK(be_str(v, &len) == NULL && len == 0);
	CHECK_INT_EQ(be_int(v), 0);
	CHECK_INT_EQ(be_count(be_dict_get(root, "a")), 0);
	CHECK(be_dict_get(b, "a") == NULL);
	be_iter_init(&it, root);
	while (be_iter_pair(&it, &k, &len, &v))
		n++;
	CHECK_INT_EQ(n, 4);
	be_iter_init(&it, be_dict_get(root, "a"));
	CHECK(be_iter_next(&it) == NULL);
	be_doc_free(doc);
}

/* A tiny deterministic PRNG (xorshift64*), so a seed replays a failure. */
static uint64_t rng_state;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static size_t
rng_below(size_t n)
{
	return (size_t)(rng() % n);
}

struct rkey {
	uint8_t b[8];
	size_t len;
};

static int
rkey_cmp(const void *a, const void *b)
{
	const struct rkey *x = a, *y = b;
	size_t m = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->b, y->b, m);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static void gen_value(struct be_buf *b, int depth);

static void
gen_dict(struct be_buf *b, int depth)
{
	struct rkey keys[8];
	size_t n = rng_below(8), m = 0;

	for (size_t i = 0; i < n; i++) {
		keys[i].len = rng_below(4);
		for (size_t j = 0; j < keys[i].len; j++)
			keys[i].b[j] = (uint8_t)("ab\0\xff"[rng_below(4)]);
	}
	qsort(keys, n, sizeof(keys[0]), rkey_cmp);
	be_put_dict(b);
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && rkey_cmp(&keys[m - 1], &keys[i]) == 0)
			continue;
		keys[m++] = keys[i];
		be_put_str(b, keys[i].b, keys[i].len);
		gen_value(b, depth + 1);
	}
	be_put_end(b);
}

static void
gen_value(struct be_buf *b, int depth)
{
	uint8_t s[40];
	size_t n;
	int64_t v;

	switch (rng_below(depth > 6 ? 3 : 5)) {
	case 0:
		v = (int64_t)rng() >> rng_below(64);
		be_put_int(b, rng_below(10) == 0 ? INT64_MIN : v);
		break;
	case 1:
	case 2:
		n = rng_below(sizeof(s));
		for (size_t i = 0; i < n; i++)
			s[i] = (uint8_t)rng();
		be_put_str(b, s, n);
		break;
	case 3:
		be_put_list(b);
		for (n = rng_below(6); n > 0; n--)
			gen_value(b, depth + 1);
		be_put_end(b);
		break;
	default:
		gen_dict(b, depth);
		break;
	}
}

/* Re-encode node into b and check its raw span equals what was written. */
static void
reencode(struct be_buf *b, const struct be_node *node)
{
	size_t start = b->len, len, klen;
	const uint8_t *raw, *p, *k;
	const struct be_node *v;
	struct be_iter it;

	switch (be_type(node)) {
	case BE_INT:
		be_put_int(b, be_int(node));
		break;
	case BE_STR:
		p = be_str(node, &len);
		be_put_str(b, p, len);
		break;
	case BE_LIST:
		be_put_list(b);
		be_iter_init(&it, node);
		while ((v = be_iter_next(&it)) != NULL)
			reencode(b, v);
		be_put_end(b);
		break;
	case BE_DICT:
		be_put_dict(b);
		be_iter_init(&it, node);
		while (be_iter_pair(&it, &k, &klen, &v)) {
			be_put_str(b, k, klen);
			CHECK(be_dict_getn(node, k, klen) == v);
			reencode(b, v);
		}
		be_put_end(b);
		break;
	}
	raw = be_raw(node, &len);
	CHECK_INT_EQ(len, b->len - start);
	CHECK_MEM_EQ(raw, b->p + start, len);
}

static void
test_round_trip(void)
{
	const char *env = getenv("SEED");
	uint64_t seed = env != NULL ? strtoull(env, NULL, 0) :
	    (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	unsigned before = check_failed;

	printf("test_round_trip: SEED=%llu\n", (unsigned long long)seed);
	rng_state = seed | 1;
	for (int round = 0; round < 2000; round++) {
		struct be_buf a = BE_BUF_INIT, b = BE_BUF_INIT;
		struct be_doc *doc;

		gen_value(&a, 0);
		CHECK_OK(be_decode(a.p, a.len, &doc, NULL));
		if (doc != NULL) {
			reencode(&b, be_root(doc));
			CHECK_INT_EQ(a.len, b.len);
			CHECK(a.len == b.len && memcmp(a.p, b.p, a.len) == 0);
			be_doc_free(doc);
		}
		be_buf_release(&a);
		be_buf_release(&b);
		if (check_failed != before) {
			printf("round %d failed, SEED=%llu\n", round,
			    (unsigned long long)seed);
			break;
		}
	}
}

static void
test_encoder(void)
{
	static const char want[] =
	    "d1:ai-9223372036854775808e1:bl3:x\0yi0ee2:badee";
	struct be_buf b;
	uint8_t *p;
	size_t len;

	be_buf_init(&b);
	be_put_dict(&b);
	be_put_cstr(&b, "a");
	be_put_int(&b, INT64_MIN);
	be_put_cstr(&b, "b");
	be_put_list(&b);
	be_put_str(&b, "x\0y", 3);
	be_put_raw(&b, "i0e", 3);
	be_put_end(&b);
	be_put_cstr(&b, "ba");
	be_put_dict(&b);
	be_put_end(&b);
	be_put_end(&b);
	p = be_buf_detach(&b, &len);
	CHECK_INT_EQ(len, sizeof(want) - 1);
	CHECK_MEM_EQ(p, want, sizeof(want) - 1);
	CHECK(b.p == NULL && b.len == 0);
	free(p);
	p = be_buf_detach(&b, &len);
	CHECK_INT_EQ(len, 0);
	free(p);
	be_buf_release(&b);
	be_buf_release(NULL);
}

/* Run fn in a child with stderr silenced; true if it died of SIGABRT. */
static bool
aborts(void (*fn)(void))
{
	int status, fd;
	pid_t pid = fork();

	if (pid == 0) {
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 2);
		fn();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return false;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void
put_unsorted(void)
{
	struct be_buf b = BE_BUF_INIT;

	be_put_dict(&b);
	be_put_cstr(&b, "b");
	be_put_int(&b, 1);
	be_put_cstr(&b, "a");
}

static void
put_duplicate(void)
{
	struct be_buf b = BE_BUF_INIT;

	be_put_dict(&b);
	be_put_cstr(&b, "a");
	be_put_int(&b, 1);
	be_put_cstr(&b, "a");
}

static void
put_int_key(void)
{
	struct be_buf b = BE_BUF_INIT;

	be_put_dict(&b);
	be_put_int(&b, 1);
}

static void
put_missing_value(void)
{
	struct be_buf b = BE_BUF_INIT;

	be_put_dict(&b);
	be_put_cstr(&b, "a");
	be_put_end(&b);
}

static void
test_encoder_asserts(void)
{
#ifdef NDEBUG
	printf("test_encoder_asserts: skipped, built with NDEBUG\n");
#else
	CHECK(aborts(put_unsorted));
	CHECK(aborts(put_duplicate));
	CHECK(aborts(put_int_key));
	CHECK(aborts(put_missing_value));
#endif
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
time_decode(const char *what, const struct be_buf *b, size_t want_nodes)
{
	struct be_doc *doc;
	double t0, t1;

	double best = 1e9;

	/* Best of three: the machine is shared, one run can be unlucky. */
	for (int i = 0; i < 3; i++) {
		t0 = now_ms();
		CHECK_OK(be_decode(b->p, b->len, &doc, NULL));
		t1 = now_ms();
		if (t1 - t0 < best)
			best = t1 - t0;
		if (doc != NULL)
			CHECK_INT_EQ(be_count(be_root(doc)), want_nodes);
		be_doc_free(doc);
	}
	printf("decode %s: %.1f MB in %.2f ms (best of 3)\n", what,
	    b->len / 1e6, best);
}

/* A 10 MB torrent-shaped document, and a 10 MB one made of small values. */
static void
test_large(void)
{
	struct be_buf b = BE_BUF_INIT;
	uint8_t *pieces = xcalloc(1, 10 * 1000 * 1000);
	size_t n;

	be_put_dict(&b);
	be_put_cstr(&b, "files");
	be_put_list(&b);
	for (int i = 0; i < 10000; i++) {
		be_put_dict(&b);
		be_put_cstr(&b, "length");
		be_put_int(&b, i);
		be_put_cstr(&b, "path");
		be_put_list(&b);
		be_put_cstr(&b, "dir");
		be_put_cstr(&b, "file");
		be_put_end(&b);
		be_put_end(&b);
	}
	be_put_end(&b);
	be_put_cstr(&b, "pieces");
	be_put_str(&b, pieces, 10 * 1000 * 1000);
	be_put_end(&b);
	time_decode("torrent-shaped", &b, 2);
	be_buf_release(&b);
	free(pieces);

	be_put_list(&b);
	for (n = 0; b.len < 10 * 1000 * 1000; n++) {
		be_put_int(&b, (int64_t)n);
		be_put_str(&b, "abc", 3);
	}
	be_put_end(&b);
	time_decode("small-values", &b, 2 * n);
	be_buf_release(&b);
}

int
main(void)
{
	CHECK_RUN(test_rejects, test_reject_nul_and_null_err, test_int_limits,
	    test_depth, test_access, test_round_trip, test_encoder,
	    test_encoder_asserts, test_large);
}

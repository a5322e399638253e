#include "btformats.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <unistd.h>

#include "bencode.h"
#include "bterr.h"
#include "sha.h"
#include "xmalloc.h"

#include "check.h"

/* A 20-byte pieces string, enough for a one-piece torrent. */
#define P20	"20:AAAAAAAAAAAAAAAAAAAA"
/* info for one byte in one-byte pieces, around a name. */
#define INFO1(name) \
	"4:infod6:lengthi1e4:name" name "12:piece lengthi1e6:pieces" P20 "e"

static int
parse_cstr(const char *s, struct btf_metainfo *mi, struct bt_err *err)
{
	return btf_parse((const uint8_t *)s, strlen(s), mi, err);
}

struct reject_case {
	const char *in;
	const char *msg;
};

static const struct reject_case rejects[] = {
	{ "le", "metainfo is not a dict" },
	{ "de", "info is missing" },
	{ "d4:infoi1ee", "info is not a dict" },
	{ "d4:info", "bencode: unexpected end of input at offset 7" },
	{ "d" INFO1("1:a") "e\n",
	    "bencode: trailing bytes after root value at offset 79" },
	{ "d4:infod6:lengthi1e4:name1:a12:piece lengthi1e"
	    "6:pieces41:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAee",
	    "info.pieces length 41 is not a multiple of 20" },
	{ "d4:infod6:lengthi2e4:name1:a12:piece lengthi1e6:pieces" P20 "ee",
	    "info.pieces holds 1 hashes, expected 2 for 2 bytes in pieces "
	    "of 1" },
	{ "d4:infod6:lengthi1e4:name1:a12:piece lengthi1e6:piecesi1eee",
	    "info.pieces is not a string" },
	{ "d4:infod6:lengthi1e4:name1:a6:pieces" P20 "ee",
	    "info.piece length is missing" },
	{ "d4:infod6:lengthi1e4:name1:a12:piece lengthi0e6:pieces" P20 "ee",
	    "info.piece length 0 is not positive" },
	{ "d4:infod6:lengthi1e4:name1:a12:piece lengthi-4e6:pieces" P20 "ee",
	    "info.piece length -4 is not positive" },
	{ "d4:infod6:lengthi1e4:name1:a12:piece lengthi67108865e6:pieces"
	    P20 "ee", "info.piece length 67108865 exceeds the 64 MiB cap" },
	{ "d" INFO1("2:..") "e", "info.name is \"..\"" },
	{ "d" INFO1("1:.") "e", "info.name is \".\"" },
	{ "d" INFO1("0:") "e", "info.name is empty" },
	{ "d" INFO1("4:/etc") "e", "info.name contains '/'" },
	{ "d" INFO1("3:a\\b") "e", "info.name contains '\\'" },
	{ "d" INFO1("3:a\tb") "e", "info.name contains a control character" },
	{ "d" INFO1("3:a\x7f" "b") "e",
	    "info.name contains a control character" },
	{ "d" INFO1("4:a\xc2\x9b" "b") "e",
	    "info.name contains a control character" },
	{ "d" INFO1("5:a\xe2\x80\xae" "b") "e",
	    "info.name contains a bidi control character" },
	{ "d" INFO1("5:a\xe2\x81\xa6" "b") "e",
	    "info.name contains a bidi control character" },
	{ "d" INFO1("i1e") "e", "info.name is not a string" },
	{ "d4:infod6:lengthi1e12:piece lengthi1e6:pieces" P20 "ee",
	    "info.name is missing" },
	{ "d4:infod5:filesle6:lengthi1e4:name1:a12:piece lengthi1e"
	    "6:pieces" P20 "ee", "info has both length and files" },
	{ "d4:infod4:name1:a12:piece lengthi1e6:pieces" P20 "ee",
	    "info has neither length nor files" },
	{ "d4:infod6:lengthi-1e4:name1:a12:piece lengthi1e6:pieces0:ee",
	    "info.length -1 is negative" },
	{ "d4:infod6:length1:14:name1:a12:piece lengthi1e6:pieces0:ee",
	    "info.length is not an integer" },
	{ "d4:infod6:lengthi0e4:name1:a12:piece lengthi1e6:pieces0:ee",
	    "total length is 0: nothing to share" },
	{ "d4:infod5:filesle4:name1:a12:piece lengthi1e6:pieces0:ee",
	    "info.files is empty" },
	{ "d4:infod5:filesi1e4:name1:a12:piece lengthi1e6:pieces0:ee",
	    "info.files is not a list" },
	{ "d4:infod5:filesli1ee4:name1:a12:piece lengthi1e6:pieces0:ee",
	    "info.files[0] is not a dict" },
	{ "d4:infod5:filesld4:pathl1:aeee4:name1:d12:piece lengthi1e"
	    "6:pieces0:ee", "info.files[0].length is missing" },
	{ "d4:infod5:filesld6:lengthi1eee4:name1:d12:piece lengthi1e"
	    "6:pieces0:ee", "info.files[0].path is missing" },
	{ "d4:infod5:filesld6:lengthi1e4:pathleee4:name1:d"
	    "12:piece lengthi1e6:pieces" P20 "ee",
	    "info.files[0].path is empty" },
	{ "d4:infod5:filesld6:lengthi1e4:pathli1eeee4:name1:d"
	    "12:piece lengthi1e6:pieces" P20 "ee",
	    "info.files[0].path[0] is not a string" },
	{ "d4:infod5:filesld6:lengthi1e4:pathl1:aeed6:lengthi1e"
	    "4:pathl1:b2:..eee4:name1:d12:piece lengthi1e6:pieces40:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAee",
	    "info.files[1].path[1] is \"..\"" },
	{ "d4:infod5:filesld6:lengthi1e4:pathl0:eee4:name1:d"
	    "12:piece lengthi1e6:pieces" P20 "ee",
	    "info.files[0].path[0] is empty" },
	{ "d4:infod5:filesld6:lengthi1e4:pathl3:a/beee4:name1:d"
	    "12:piece lengthi1e6:pieces" P20 "ee",
	    "info.files[0].path[0] contains '/'" },
	{ "d4:infod5:filesld6:lengthi1e4:pathl1:a1:beed6:lengthi1e"
	    "4:pathl1:a1:beee4:name1:d12:piece lengthi1e6:pieces40:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAee",
	    "info.files[1] has the same path as info.files[0]" },
	/* "a/b", "a-b", "a": "a" is a file, so "a/b" cannot exist. */
	{ "d4:infod5:filesld6:lengthi1e4:pathl1:a1:beed6:lengthi1e"
	    "4:pathl3:a-beed6:lengthi1e4:pathl1:aeee4:name1:d"
	    "12:piece lengthi1e6:pieces60:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAee",
	    "info.files[0] is inside info.files[2], which is a file" },
	{ "d4:infod5:filesld6:lengthi9223372036854775807e4:pathl1:aeed"
	    "6:lengthi1e4:pathl1:beee4:name1:d12:piece lengthi1e6:pieces0:ee",
	    "info.files[1].length makes the total length overflow" },
	{ "d8:announcei1e" INFO1("1:a") "e", "announce is not a string" },
	{ "d8:announce3:a\0b" INFO1("1:a") "e",
	    "announce contains a NUL byte" },
	{ "d8:announce1:u13:announce-listli1ee" INFO1("1:a") "e",
	    "announce-list[0] is not a list" },
	{ "d8:announce1:u13:announce-listll1:uel1:vi1eee" INFO1("1:a") "e",
	    "announce-list[1][1] is not a string" },
	{ "d13:announce-list1:u" INFO1("1:a") "e",
	    "announce-list is not a list" },
	{ "d7:comment1:u13:creation date1:x" INFO1("1:a") "e",
	    "creation date is not an integer" },
	{ "d4:infod6:lengthi1e4:name1:a12:piece lengthi1e6:pieces" P20
	    "7:private1:1ee", "info.private is not an integer" },
};

static void
test_rejects(void)
{
	for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
		const struct reject_case *c = &rejects[i];
		struct btf_metainfo mi;
		struct bt_err err = BT_ERR_INIT;
		/* The NUL case needs its true length; others are C strings. */
		size_t n = strstr(c->msg, "NUL") != NULL ?
		    strlen(c->in) + 1 + strlen(c->in + strlen(c->in) + 1) :
		    strlen(c->in);
		int r = btf_parse((const uint8_t *)c->in, n, &mi, &err);

		CHECK(r < 0);
		CHECK_INT_EQ(r, err.code);
		CHECK_STR_EQ(err.msg, c->msg);
		CHECK(mi.doc == NULL && mi.files == NULL && mi.name == NULL);
		btf_release(&mi);
	}
}

static void
test_component(void)
{
	CHECK(btf_check_component((const uint8_t *)"ok name.txt", 11) == NULL);
	/* Ordinary UTF-8 (here "é" and "…") is fine. */
	CHECK(btf_check_component((const uint8_t *)"\xc3\xa9\xe2\x80\xa6",
	    5) == NULL);
	CHECK(btf_check_component((const uint8_t *)"...", 3) == NULL);
	CHECK(btf_check_component((const uint8_t *)"a\0b", 3) != NULL);
	CHECK_STR_EQ(btf_check_component((const uint8_t *)"a\0b", 3),
	    "contains a NUL byte");
	/* A truncated bidi sequence at the end is not a bidi character. */
	CHECK(btf_check_component((const uint8_t *)"a\xe2\x80", 3) == NULL);
}

/* Build a torrent with the encoder.  hashes: NULL for a correct count. */
struct tfile {
	const char *path[3];
	int64_t length;
};

static void
put_info(struct be_buf *b, const char *name, const struct tfile *files,
    size_t nfiles, int64_t piece_length, bool private)
{
	int64_t total = 0;
	uint8_t *pieces;
	size_t np;

	be_put_cstr(b, "info");
	be_put_dict(b);
	be_put_cstr(b, "files");
	be_put_list(b);
	for (size_t i = 0; i < nfiles; i++) {
		be_put_dict(b);
		be_put_cstr(b, "length");
		be_put_int(b, files[i].length);
		be_put_cstr(b, "path");
		be_put_list(b);
		for (size_t j = 0; j < 3 && files[i].path[j] != NULL; j++)
			be_put_cstr(b, files[i].path[j]);
		be_put_end(b);
		be_put_end(b);
		total += files[i].length;
	}
	be_put_end(b);
	be_put_cstr(b, "name");
	be_put_cstr(b, name);
	be_put_cstr(b, "piece length");
	be_put_int(b, piece_length);
	np = (size_t)((total + piece_length - 1) / piece_length);
	pieces = xmalloc(np * 20);
	for (size_t i = 0; i < np * 20; i++)
		pieces[i] = (uint8_t)i;
	be_put_cstr(b, "pieces");
	be_put_str(b, pieces, np * 20);
	free(pieces);
	if (private) {
		be_put_cstr(b, "private");
		be_put_int(b, 1);
	}
	be_put_end(b);
}

/* A multi-file torrent with every optional key we know, and one more. */
static void
put_multi(struct be_buf *b)
{
	static const struct tfile files[] = {
		{ { "a", "b", NULL }, 3 },
		{ { "empty", NULL, NULL }, 0 },
		{ { "a", "c", "d" }, 5 },
	};

	be_put_dict(b);
	be_put_cstr(b, "announce");
	be_put_cstr(b, "http://t/announce");
	be_put_cstr(b, "announce-list");
	be_put_list(b);
	be_put_list(b);
	be_put_cstr(b, "http://a");
	be_put_cstr(b, "http://b");
	be_put_end(b);
	be_put_list(b);
	be_put_cstr(b, "udp://c");
	be_put_end(b);
	be_put_end(b);
	be_put_cstr(b, "comment");
	be_put_cstr(b, "hello");
	be_put_cstr(b, "created by");
	be_put_cstr(b, "test");
	be_put_cstr(b, "creation date");
	be_put_int(b, 1234567890);
	put_info(b, "dir", files, 3, 4, true);
	be_put_cstr(b, "url-list");
	be_put_cstr(b, "http://seed/");
	be_put_end(b);
}

static void
check_multi_extras(const struct btf_metainfo *mi)
{
	const struct be_node *info;
	struct sha1 want;
	const uint8_t *raw;
	size_t rawlen;

	CHECK(mi->private);
	CHECK_STR_EQ(mi->announce, "http://t/announce");
	CHECK_INT_EQ(mi->ntiers, 2);
	CHECK_INT_EQ(mi->tiers[0].nurls, 2);
	CHECK_STR_EQ(mi->tiers[0].urls[1], "http://b");
	CHECK_STR_EQ(mi->tiers[1].urls[0], "udp://c");
	CHECK_STR_EQ(mi->comment, "hello");
	CHECK_STR_EQ(mi->created_by, "test");
	CHECK(mi->has_creation_date && mi->creation_date == 1234567890);
	/* The info hash covers the raw info bytes. */
	info = be_dict_get(btf_root(mi), "info");
	raw = be_raw(info, &rawlen);
	sha1(raw, rawlen, &want);
	CHECK_MEM_EQ(want.b, mi->info_hash.b, 20);
	CHECK(be_dict_get(btf_root(mi), "url-list") != NULL);
}

static void
test_multi_file(void)
{
	struct be_buf b = BE_BUF_INIT;
	struct btf_metainfo mi;
	struct bt_err err = BT_ERR_INIT;

	put_multi(&b);
	CHECK_OK(btf_parse(b.p, b.len, &mi, &err));
	CHECK_STR_EQ(err.msg, "");
	CHECK_STR_EQ(mi.name, "dir");
	CHECK(mi.multi_file);
	CHECK_INT_EQ(mi.nfiles, 3);
	CHECK_INT_EQ(mi.total_length, 8);
	CHECK_INT_EQ(mi.piece_length, 4);
	CHECK_INT_EQ(mi.npieces, 2);
	CHECK_INT_EQ(mi.pieces[1].b[0], 20);
	CHECK_STR_EQ(mi.files[0].relpath, "a/b");
	CHECK_STR_EQ(mi.files[1].relpath, "empty");
	CHECK_STR_EQ(mi.files[2].relpath, "a/c/d");
	CHECK_INT_EQ(mi.files[2].npath, 3);
	CHECK_STR_EQ(mi.files[2].path[1], "c");
	CHECK_INT_EQ(mi.files[0].offset, 0);
	CHECK_INT_EQ(mi.files[1].offset, 3);
	CHECK_INT_EQ(mi.files[2].offset, 3);
	CHECK_INT_EQ(mi.files[2].length, 5);
	check_multi_extras(&mi);
	btf_release(&mi);
	btf_release(&mi);
	btf_release(NULL);
	be_buf_release(&b);
}

static void
test_single_file(void)
{
	const char *in = "d" INFO1("5:a.txt") "e";
	struct btf_metainfo mi;
	struct sha1 want;
	const char *info = strstr(in, "d6:length");

	CHECK_OK(parse_cstr(in, &mi, NULL));
	CHECK(!mi.multi_file);
	CHECK_INT_EQ(mi.nfiles, 1);
	CHECK_STR_EQ(mi.files[0].relpath, "a.txt");
	CHECK_STR_EQ(mi.files[0].path[0], "a.txt");
	CHECK_INT_EQ(mi.total_length, 1);
	CHECK_INT_EQ(mi.npieces, 1);
	CHECK(mi.announce == NULL && mi.ntiers == 0 && mi.comment == NULL);
	CHECK(!mi.private && !mi.has_creation_date);
	/* Hash of the literal bytes between "4:info" and the final "e". */
	sha1(info, strlen(info) - 1, &want);
	CHECK_MEM_EQ(want.b, mi.info_hash.b, 20);
	btf_release(&mi);
}

/* An unusual but valid layout: pieces of odd size, last piece short. */
static void
test_piece_math(void)
{
	static const struct tfile files[] = {
		{ { "x", NULL, NULL }, 1000 },
		{ { "y", NULL, NULL }, 1 },
	};
	struct be_buf b = BE_BUF_INIT;
	struct btf_metainfo mi;

	be_put_dict(&b);
	put_info(&b, "n", files, 2, 333, false);
	be_put_end(&b);
	CHECK_OK(btf_parse(b.p, b.len, &mi, NULL));
	CHECK_INT_EQ(mi.npieces, 4);
	btf_release(&mi);
	be_buf_release(&b);
}

static void
write_file(const char *path, const char *s, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	CHECK_INT_EQ(write(fd, s, n), (long long)n);
	close(fd);
}

static void
test_load_file(void)
{
	char dir[] = "/tmp/test_btformats.XXXXXX";
	char path[64], big[64];
	const char *in = "d" INFO1("1:a") "e";
	struct btf_metainfo mi;
	struct bt_err err = BT_ERR_INIT;
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/t.torrent", dir);
	snprintf(big, sizeof(big), "%s/big.torrent", dir);
	write_file(path, in, strlen(in));
	CHECK_OK(btf_load_file(path, &mi, &err));
	CHECK_STR_EQ(mi.name, "a");
	btf_release(&mi);
	write_file(path, in, strlen(in) - 1);
	CHECK_INT_EQ(btf_load_file(path, &mi, &err), -EILSEQ);
	CHECK_STR_EQ(err.msg, "bencode: unexpected end of input at offset 78");
	CHECK_INT_EQ(btf_load_file(dir, &mi, &err), -EISDIR);
	CHECK_STR_EQ(err.msg, "is a directory");
	fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, BTF_MAX_FILE_SIZE + 1) == 0);
	close(fd);
	CHECK_INT_EQ(btf_load_file(big, &mi, &err), -EFBIG);
	CHECK_STR_EQ(err.msg, "file is larger than 64 MiB");
	unlink(big);
	unlink(path);
	CHECK_INT_EQ(btf_load_file(path, &mi, &err), -ENOENT);
	CHECK_STR_EQ(err.msg, strerror(ENOENT));
	CHECK(mi.doc == NULL);
	rmdir(dir);
}

/* Tracker replies. */

static int
parse_ann(const char *s, struct btf_announce *ann, struct bt_err *err)
{
	return btf_parse_announce((const uint8_t *)s, strlen(s), ann, err);
}

static const struct reject_case ann_rejects[] = {
	{ "le", "tracker reply is not a dict" },
	{ "d8:intervali1", "bencode: unexpected end of input at offset 13" },
	{ "d14:failure reasoni1ee", "failure reason is not a string" },
	{ "d8:intervali-5e5:peers0:e", "interval -5 is negative" },
	{ "d12:min intervali-1e5:peers0:e", "min interval -1 is negative" },
	{ "d8:interval1:15:peers0:e", "interval is not an integer" },
	{ "d8:completei-1e5:peers0:e", "complete -1 is negative" },
	{ "d10:incompletei-2e5:peers0:e", "incomplete -2 is negative" },
	{ "d8:intervali5ee", "reply has no peers" },
	{ "d5:peersi1ee", "peers is neither a list nor a string" },
	{ "d5:peers7:1234567e", "peers length 7 is not a multiple of 6" },
	{ "d5:peers0:6:peers617:12345678901234567e",
	    "peers6 length 17 is not a multiple of 18" },
	{ "d5:peers0:6:peers6i1ee", "peers6 is not a string" },
	{ "d5:peersli1eee", "peers[0] is not a dict" },
	{ "d5:peersld4:porti1eeee", "peers[0].ip is missing" },
	{ "d5:peersld2:ip7:1.2.3.4eee", "peers[0].port is missing" },
	{ "d5:peersld2:ip7:1.2.3.44:porti0eeee",
	    "peers[0].port 0 is out of range" },
	{ "d5:peersld2:ip7:1.2.3.44:porti1eed2:ip7:1.2.3.44:porti65536eeee",
	    "peers[1].port 65536 is out of range" },
	{ "d5:peersld2:ip7:1.2.3.47:peer id3:abc4:porti1eeee",
	    "peers[0].peer id is 3 bytes, not 20" },
	{ "d5:peersld2:ipi1e4:porti1eeee", "peers[0].ip is not a string" },
	{ "d5:peers0:10:tracker idi1ee", "tracker id is not a string" },
	{ "d5:peers0:15:warning messagei1ee",
	    "warning message is not a string" },
};

static void
test_announce_rejects(void)
{
	for (size_t i = 0; i < sizeof(ann_rejects) / sizeof(ann_rejects[0]);
	    i++) {
		struct btf_announce ann;
		struct bt_err err = BT_ERR_INIT;

		CHECK(parse_ann(ann_rejects[i].in, &ann, &err) < 0);
		CHECK_STR_EQ(err.msg, ann_rejects[i].msg);
		CHECK(ann.peers == NULL && ann.npeers == 0);
		CHECK_INT_EQ(ann.interval, -1);
		btf_announce_release(&ann);
	}
}

static void
test_announce_failure(void)
{
	struct btf_announce ann;

	/* A refusal wins over anything else, however broken. */
	CHECK_OK(parse_ann("d14:failure reason7:go away8:intervali0ee", &ann,
	    NULL));
	CHECK_STR_EQ(ann.failure_reason, "go away");
	CHECK(ann.npeers == 0);
	btf_announce_release(&ann);
	btf_announce_release(NULL);
}

static const struct sockaddr_in *
sin_of(const struct btf_peer *pe)
{
	return (const struct sockaddr_in *)&pe->addr;
}

/* Three IPv4 peers (one with port 0) and one IPv6 peer, compact. */
static void
put_compact_reply(struct be_buf *b)
{
	static const uint8_t p4[] = {
		10, 0, 0, 1, 0x1a, 0xe1,	/* 10.0.0.1:6881 */
		10, 0, 0, 2, 0, 0,		/* port 0: skipped */
		192, 168, 1, 9, 0xff, 0xff,
	};
	uint8_t p6[18] = { 0 };

	p6[15] = 1;			/* [::1]:6882 */
	p6[16] = 0x1a;
	p6[17] = 0xe2;
	be_put_dict(b);
	be_put_cstr(b, "complete");
	be_put_int(b, 5);
	be_put_cstr(b, "interval");
	be_put_int(b, 1800);
	be_put_cstr(b, "min interval");
	be_put_int(b, 1000000000);
	be_put_cstr(b, "peers");
	be_put_str(b, p4, sizeof(p4));
	be_put_cstr(b, "peers6");
	be_put_str(b, p6, sizeof(p6));
	be_put_cstr(b, "tracker id");
	be_put_str(b, "t\0d", 3);
	be_put_cstr(b, "warning message");
	be_put_cstr(b, "careful");
	be_put_end(b);
}

static void
test_announce_compact(void)
{
	struct be_buf b = BE_BUF_INIT;
	struct btf_announce ann;
	const struct sockaddr_in6 *s6;
	char buf[INET6_ADDRSTRLEN];

	put_compact_reply(&b);
	CHECK_OK(btf_parse_announce(b.p, b.len, &ann, NULL));
	CHECK(ann.failure_reason == NULL);
	CHECK_STR_EQ(ann.warning_message, "careful");
	CHECK_INT_EQ(ann.interval, 1800);
	CHECK_INT_EQ(ann.min_interval, BTF_MAX_INTERVAL);
	CHECK_INT_EQ(ann.complete, 5);
	CHECK_INT_EQ(ann.incomplete, -1);
	CHECK_INT_EQ(ann.tracker_id_len, 3);
	CHECK_MEM_EQ(ann.tracker_id, "t\0d", 4);
	CHECK_INT_EQ(ann.npeers, 3);
	CHECK_INT_EQ(ann.nskipped, 1);
	CHECK_INT_EQ(sin_of(&ann.peers[0])->sin_family, AF_INET);
	CHECK_INT_EQ(ntohs(sin_of(&ann.peers[0])->sin_port), 6881);
	CHECK_INT_EQ(ann.peers[0].addrlen, sizeof(struct sockaddr_in));
	CHECK_STR_EQ(inet_ntop(AF_INET, &sin_of(&ann.peers[1])->sin_addr,
	    buf, sizeof(buf)), "192.168.1.9");
	CHECK_INT_EQ(ntohs(sin_of(&ann.peers[1])->sin_port), 65535);
	CHECK(!ann.peers[1].has_id);
	s6 = (const struct sockaddr_in6 *)&ann.peers[2].addr;
	CHECK_INT_EQ(s6->sin6_family, AF_INET6);
	CHECK_INT_EQ(ntohs(s6->sin6_port), 6882);
	CHECK_STR_EQ(inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof(buf)),
	    "::1");
	CHECK_INT_EQ(ann.peers[2].addrlen, sizeof(struct sockaddr_in6));
	btf_announce_release(&ann);
	be_buf_release(&b);
}

static void
test_announce_dicts(void)
{
	const char *in = "d8:intervali60e5:peersl"
	    "d2:ip7:1.2.3.47:peer id20:ABCDEFGHIJKLMNOPQRST4:porti6881ee"
	    "d2:ip11:example.com4:porti80ee"
	    "d2:ip9:fe80::1:24:porti443ee"
	    "d2:ip9:1.2.3.4\0"
	    "x4:porti80ee"
	    "ee";
	size_t n = strlen(in) + 1 + strlen(in + strlen(in) + 1);
	struct btf_announce ann;
	const struct sockaddr_in6 *s6;

	CHECK_OK(btf_parse_announce((const uint8_t *)in, n, &ann, NULL));
	CHECK_INT_EQ(ann.interval, 60);
	CHECK_INT_EQ(ann.npeers, 2);
	CHECK_INT_EQ(ann.nskipped, 2);
	CHECK(ann.peers[0].has_id);
	CHECK_MEM_EQ(ann.peers[0].id, "ABCDEFGHIJKLMNOPQRST", 20);
	CHECK_INT_EQ(ntohs(sin_of(&ann.peers[0])->sin_port), 6881);
	CHECK_INT_EQ(ntohl(sin_of(&ann.peers[0])->sin_addr.s_addr),
	    0x01020304);
	s6 = (const struct sockaddr_in6 *)&ann.peers[1].addr;
	CHECK_INT_EQ(s6->sin6_family, AF_INET6);
	CHECK_INT_EQ(ntohs(s6->sin6_port), 443);
	CHECK(!ann.peers[1].has_id);
	btf_announce_release(&ann);
}

/*
 * Interval 0 (some trackers send it) is accepted as 0, the peers kept; the
 * rerequester raises it to its floor.
 */
static void
test_announce_zero_interval(void)
{
	struct btf_announce ann;
	struct bt_err err = BT_ERR_INIT;
	static const char in[] = "d8:intervali0e12:min intervali0e"
	    "5:peers6:\x7f\x00\x00\x01\x1a\xe1" "e";

	CHECK_OK(btf_parse_announce((const uint8_t *)in, sizeof(in) - 1, &ann,
	    &err));
	CHECK_STR_EQ(err.msg, "");
	CHECK_INT_EQ(ann.interval, 0);
	CHECK_INT_EQ(ann.min_interval, 0);
	CHECK_INT_EQ(ann.npeers, 1);
	CHECK_INT_EQ(ntohs(sin_of(&ann.peers[0])->sin_port), 6881);
	btf_announce_release(&ann);
	CHECK_OK(parse_ann("d8:intervali0e5:peers0:e", &ann, NULL));
	CHECK_INT_EQ(ann.interval, 0);
	CHECK_INT_EQ(ann.min_interval, -1);
	CHECK_INT_EQ(ann.npeers, 0);
	btf_announce_release(&ann);
}

static void
test_announce_cap(void)
{
	size_t np = BTF_MAX_PEERS + 5;
	uint8_t *p = xcalloc(np, 6);
	struct be_buf b = BE_BUF_INIT;
	struct btf_announce ann;

	for (size_t i = 0; i < np; i++)
		p[i * 6 + 5] = 1;
	be_put_dict(&b);
	be_put_cstr(&b, "peers");
	be_put_str(&b, p, np * 6);
	be_put_end(&b);
	CHECK_OK(btf_parse_announce(b.p, b.len, &ann, NULL));
	CHECK_INT_EQ(ann.npeers, BTF_MAX_PEERS);
	CHECK_INT_EQ(ann.nskipped, 5);
	CHECK_INT_EQ(ann.interval, -1);
	btf_announce_release(&ann);
	be_buf_release(&b);
	free(p);
}

int
main(void)
{
	CHECK_RUN(test_rejects, test_component, test_multi_file,
	    test_single_file, test_piece_math, test_load_file,
	    test_announce_rejects, test_announce_failure,
	    test_announce_compact, test_announce_dicts,
	    test_announce_zero_interval, test_announce_cap);
}

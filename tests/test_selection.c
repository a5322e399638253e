#include "selection.h"

#include <errno.h>

#include "bitfield.h"
#include "bterr.h"
#include "check.h"

static const char *const paths[] = {
	"a.bin", "c.bin", "empty", "sub/b.bin", "sub/deep/x.iso", "3",
};
#define NF (sizeof(paths) / sizeof(paths[0]))

static int
sel(char *const *only, size_t nonly, char *const *skip, size_t nskip,
    bool *out, struct bt_err *err)
{
	return sel_files(paths, NF, only, nonly, skip, nskip, out, err);
}

static void
test_patterns(void)
{
	struct bt_err err = BT_ERR_INIT;
	bool s[NF];
	char *star_bin[] = { "*.bin" }, *iso[] = { "*.iso" };
	char *sub[] = { "sub/*" }, *two[] = { "2" }, *range[] = { "2-4" };
	char *three[] = { "[3]" }, *typo[] = { "*.mkv" }, *big[] = { "7" };
	char *zero[] = { "0" }, *back[] = { "4-2" };

	CHECK_OK(sel(NULL, 0, NULL, 0, s, &err));
	for (size_t i = 0; i < NF; i++)
		CHECK(s[i]);
	CHECK_OK(sel(star_bin, 1, NULL, 0, s, &err));
	CHECK(s[0] && s[1] && !s[2] && s[3] && !s[4] && !s[5]);
	/* '*' crosses '/': "*.iso" finds the deep file. */
	CHECK_OK(sel(iso, 1, NULL, 0, s, &err));
	CHECK(!s[0] && s[4]);
	CHECK_OK(sel(NULL, 0, sub, 1, s, &err));
	CHECK(s[0] && s[1] && s[2] && !s[3] && !s[4] && s[5]);
	CHECK_OK(sel(two, 1, NULL, 0, s, &err));
	CHECK(!s[0] && s[1] && !s[2]);
	CHECK_OK(sel(range, 1, two, 1, s, &err));
	CHECK(!s[0] && !s[1] && s[2] && s[3] && !s[4]);
	CHECK_OK(sel(three, 1, NULL, 0, s, &err));
	CHECK(s[5] && !s[2]);
	CHECK_INT_EQ(sel(typo, 1, NULL, 0, s, &err), -ENOENT);
	CHECK(strstr(err.msg, "--only") && strstr(err.msg, "*.mkv"));
	CHECK_INT_EQ(sel(NULL, 0, big, 1, s, &err), -ERANGE);
	CHECK(strstr(err.msg, "--skip") != NULL);
	CHECK_INT_EQ(sel(zero, 1, NULL, 0, s, &err), -ERANGE);
	CHECK_INT_EQ(sel(back, 1, NULL, 0, s, &err), -ERANGE);
}

/* Files 100000, 50000, 0, 200000 bytes; pieces of 32768. */
static void
test_pieces(void)
{
	const uint64_t len[4] = { 100000, 50000, 0, 200000 };
	bool s[4] = { true, true, true, true };
	struct bitfield w;

	bf_init(&w, 11);
	CHECK_INT_EQ(sel_pieces(len, s, 4, 32768, 0, UINT64_MAX, &w), 11);
	/* Only c.bin: bytes [100000, 150000) are pieces 3 and 4. */
	s[0] = s[3] = false;
	CHECK_INT_EQ(sel_pieces(len, s, 4, 32768, 0, UINT64_MAX, &w), 2);
	CHECK(bf_get(&w, 3) && bf_get(&w, 4));
	/* Only the empty file: nothing. */
	s[1] = false;
	CHECK_INT_EQ(sel_pieces(len, s, 4, 32768, 0, UINT64_MAX, &w), 0);
	/* A byte range: bytes 32768..65536 are pieces 1 and 2. */
	s[0] = s[1] = s[2] = s[3] = true;
	CHECK_INT_EQ(sel_pieces(len, s, 4, 32768, 32768, 65536, &w), 2);
	CHECK(bf_get(&w, 1) && bf_get(&w, 2));
	CHECK_INT_EQ(sel_pieces(len, s, 4, 32768, 349999, UINT64_MAX, &w), 1);
	CHECK(bf_get(&w, 10));
	/* A range and a selection together. */
	s[0] = false;
	CHECK_INT_EQ(sel_pieces(len, s, 4, 32768, 0, 120000, &w), 1);
	CHECK(bf_get(&w, 3));
	bf_release(&w);
}

static void
test_range_files(void)
{
	const uint64_t len[4] = { 100000, 50000, 0, 200000 };
	bool s[4] = { true, true, true, true };

	sel_range_files(len, 4, 100000, 100000, s);
	CHECK(!s[0] && s[1] && !s[2] && !s[3]);
	s[0] = s[1] = s[2] = s[3] = true;
	sel_range_files(len, 4, 99999, 150000, s);
	CHECK(s[0] && s[1] && s[2] && s[3]);
	s[0] = s[1] = s[2] = s[3] = true;
	sel_range_files(len, 4, 150001, UINT64_MAX, s);
	CHECK(!s[0] && !s[1] && !s[2] && s[3]);
}

int
main(void)
{
	CHECK_RUN(test_patterns, test_pieces, test_range_files);
}

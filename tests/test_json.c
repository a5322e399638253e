#include "json.h"

#include <math.h>

#include "check.h"

static void
test_object(void)
{
	struct json j = JSON_INIT;

	json_begin(&j);
	CHECK_STR_EQ(json_end(&j), "{}");
	json_begin(&j);
	json_str(&j, "state", "seeding");
	json_u64(&j, "done", UINT64_MAX);
	json_i64(&j, "eta", -1);
	json_double(&j, "ratio", 1.23456, 3);
	json_double(&j, "nan", NAN, 2);
	json_double(&j, "inf", INFINITY, 2);
	json_double(&j, "negzero", -0.0001, 2);
	json_bool(&j, "t", true);
	json_bool(&j, "f", false);
	json_str(&j, "none", NULL);
	CHECK_STR_EQ(json_end(&j), "{\"state\":\"seeding\","
	    "\"done\":18446744073709551615,\"eta\":-1,\"ratio\":1.235,"
	    "\"nan\":null,\"inf\":null,\"negzero\":0,\"t\":true,\"f\":false,"
	    "\"none\":null}");
	/* Begin again reuses the buffer. */
	json_begin(&j);
	json_u64(&j, "a", 1);
	CHECK_STR_EQ(json_end(&j), "{\"a\":1}");
	json_release(&j);
	json_release(&j);
}

static const char *
esc(struct json *j, const char *s, size_t n)
{
	j->len = 0;
	json_escape(j, s, n);
	return j->p;
}

static void
test_escape(void)
{
	struct json j = JSON_INIT;

	CHECK_STR_EQ(esc(&j, "a\"b\\c", 5), "a\\\"b\\\\c");
	CHECK_STR_EQ(esc(&j, "\n\t\r\x01\x1f", 5),
	    "\\n\\t\\r\\u0001\\u001f");
	CHECK_STR_EQ(esc(&j, "\0x", 2), "\\u0000x");
	/* Valid UTF-8 passes: é, €, 😀. */
	CHECK_STR_EQ(esc(&j, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9),
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	/* Invalid: a lone continuation, overlong, surrogate, truncated. */
	CHECK_STR_EQ(esc(&j, "\x80", 1), "\\ufffd");
	CHECK_STR_EQ(esc(&j, "\xc0\xaf", 2), "\\ufffd\\ufffd");
	CHECK_STR_EQ(esc(&j, "\xed\xa0\x80", 3), "\\ufffd\\ufffd\\ufffd");
	CHECK_STR_EQ(esc(&j, "a\xe2\x82", 3), "a\\ufffd\\ufffd");
	CHECK_STR_EQ(esc(&j, "\xf4\x90\x80\x80", 4),
	    "\\ufffd\\ufffd\\ufffd\\ufffd");
	CHECK_STR_EQ(esc(&j, "\x7f", 1), "\x7f");
	json_release(&j);
}

/* Every byte value alone and in pairs: the output never holds a raw
 * control character, quote or backslash outside an escape. */
static void
test_all_bytes(void)
{
	struct json j = JSON_INIT;
	char in[2];

	for (int a = 0; a < 256; a++) {
		for (int b = 0; b < 256; b += 17) {
			const char *out;

			in[0] = (char)a;
			in[1] = (char)b;
			out = esc(&j, in, 2);
			for (const char *p = out; *p != '\0'; p++) {
				if (*p == '\\') {
					p++;
					CHECK(strchr("\"\\ntru", *p) != NULL);
					continue;
				}
				CHECK((unsigned char)*p >= 0x20 && *p != '"');
			}
		}
	}
	json_release(&j);
}

int
main(void)
{
	CHECK_RUN(test_object, test_escape, test_all_bytes);
}

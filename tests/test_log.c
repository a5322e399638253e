/* log_escape: what reaches a terminal from a stranger is printable ASCII. */
#include "log.h"

#include "check.h"

static void
test_printable_kept(void)
{
	char b[LOG_ESC_LEN];

	CHECK_STR_EQ(log_escape(b, sizeof(b), "plain name.iso", 14),
	    "plain name.iso");
	CHECK_STR_EQ(log_escape(b, sizeof(b), "", 0), "");
}

static void
test_controls_escaped(void)
{
	char b[LOG_ESC_LEN];
	const char evil[] = "a\x1b[2Jb\x07\x9b" "c\\d\0e";

	CHECK_STR_EQ(log_escape(b, sizeof(b), evil, sizeof(evil) - 1),
	    "a\\x1b[2Jb\\x07\\x9bc\\x5cd\\x00e");
	for (const char *p = b; *p != '\0'; p++)
		CHECK(*p >= 0x20 && *p < 0x7f);
}

static void
test_truncation(void)
{
	char b[12];
	char big[100];

	memset(big, 'x', sizeof(big));
	log_escape(b, sizeof(b), big, sizeof(big));
	CHECK_INT_EQ(strlen(b), 11);
	CHECK(strcmp(b + 8, "...") == 0);
	/* An escape never gets cut in half. */
	memset(big, 0x01, sizeof(big));
	log_escape(b, sizeof(b), big, sizeof(big));
	CHECK(strncmp(b, "\\x01", 4) == 0);
	CHECK(strstr(b, "...") != NULL);
	CHECK(strlen(b) < sizeof(b));
	log_escape(b, 1, big, sizeof(big));
	CHECK_STR_EQ(b, "");
}

int
main(void)
{
	CHECK_RUN(test_printable_kept, test_controls_escaped, test_truncation);
}

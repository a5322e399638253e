#include "downloaderfeedback.h"

#include "check.h"

static void
test_sizes_rates_eta(void)
{
	char b[64];

	CHECK_STR_EQ(fb_size_str(b, sizeof(b), 0), "0 B");
	CHECK_STR_EQ(fb_size_str(b, sizeof(b), 1023), "1023 B");
	CHECK_STR_EQ(fb_size_str(b, sizeof(b), 1536), "1.5 KiB");
	CHECK_STR_EQ(fb_size_str(b, sizeof(b), 3ULL << 30), "3.0 GiB");
	CHECK_STR_EQ(fb_rate_str(b, sizeof(b), 2.5 * 1048576), "2.5 MiB/s");
	CHECK_STR_EQ(fb_rate_str(b, sizeof(b), -4), "0 B/s");
	CHECK_STR_EQ(fb_eta_str(b, sizeof(b), 65), "1:05");
	CHECK_STR_EQ(fb_eta_str(b, sizeof(b), 3723), "1:02:03");
	CHECK_STR_EQ(fb_eta_str(b, sizeof(b), -1), "?");
	CHECK_STR_EQ(fb_eta_str(b, sizeof(b), 1e12), "?");
	/* Truncation never overflows. */
	CHECK_STR_EQ(fb_rate_str(b, 4, 5e9), "4.7");
}

static void
test_plain_line(void)
{
	char b[FB_LINE_LEN];
	struct fb_status s = { "downloading", 485490688, 1073741824,
	    126353408.4, 0, 0, 0, 3, 1, 5.2 };

	CHECK_STR_EQ(fb_plain_line(b, sizeof(b), &s),
	    "status=downloading progress=45.2 done=485490688 total=1073741824 "
	    "down=126353408 up=0 peers=3 seeds=1 eta=5");
	/* 99.99% is not shown as 100 before the last byte. */
	s.done = s.total - 1;
	s.eta = -1;
	CHECK_STR_EQ(fb_plain_line(b, sizeof(b), &s),
	    "status=downloading progress=99.9 done=1073741823 total=1073741824 "
	    "down=126353408 up=0 peers=3 seeds=1 eta=-1");
}

static void
test_tty_line(void)
{
	char b[FB_LINE_LEN];
	struct fb_status s = { "downloading", 512, 1024, 2048, 0, 0, 0, 2, 0,
	    30 };

	fb_tty_line(b, sizeof(b), &s, 200);
	CHECK(strncmp(b, "[##########----------]  50.0% 512 B/1.0 KiB", 43) == 0);
	CHECK(strstr(b, "down 2.0 KiB/s") != NULL);
	CHECK(strstr(b, "eta 0:30") != NULL);
	fb_tty_line(b, sizeof(b), &s, 40);
	CHECK_INT_EQ(strlen(b), 39);
}

static void
test_spew_line(void)
{
	char b[FB_LINE_LEN];
	struct fb_peer p = { "127.0.0.1:6881", true, 1024, 0, true, true,
	    false, true, false, true, 5, 10 };

	fb_spew_line(b, sizeof(b), &p);
	CHECK(strncmp(b, "127.0.0.1:6881", 14) == 0);
	CHECK(strstr(b, " l up ") != NULL);
	CHECK(strstr(b, "*i ") != NULL);
	CHECK(strstr(b, " 50.0%") != NULL);
}

int
main(void)
{
	CHECK_RUN(test_sizes_rates_eta, test_plain_line, test_tty_line,
	    test_spew_line);
}

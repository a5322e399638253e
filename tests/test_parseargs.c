#include "parseargs.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "bterr.h"
#include "check.h"

/*
 * Calls take a NULL-terminated, writable array (getopt_long may reorder
 * it): ARGV("--x", "1") is { "btdownload", "--x", "1", NULL }.
 */
#define ARGV(...)	((char *[]){ "btdownload", __VA_ARGS__, NULL })

static int
argv_count(char **argv)
{
	int n = 0;

	while (argv[n] != NULL)
		n++;
	return n;
}

static int
parse(struct pa_config *c, struct bt_err *e, char **argv)
{
	memset(e, 0, sizeof(*e));
	return pa_parse_btdownload(argv_count(argv), argv, c, e);
}

/* Parse, expecting failure with exactly this message. */
static void
check_error_(const char *file, int line, char **argv, int code,
    const char *msg)
{
	struct pa_config c;
	struct bt_err e;
	int r = parse(&c, &e, argv);

	if (r == code && e.code == code && strcmp(e.msg, msg) == 0) {
		check_passed++;
		return;
	}
	check_failed++;
	fprintf(stderr, "%s:%d: got %d \"%s\", want %d \"%s\"\n", file, line,
	    r, e.msg, code, msg);
	if (r == 0)
		pa_config_release(&c);
}
#define CHECK_ERROR(argv, code, msg)					\
	check_error_(__FILE__, __LINE__, (argv), (code), (msg))

/* Run with stdout on /dev/null, for --help. */
static int
parse_quietly(struct pa_config *c, struct bt_err *e, char **argv)
{
	int saved, null, r;

	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	null = open("/dev/null", O_WRONLY);
	if (saved < 0 || null < 0)
		return -EIO;
	dup2(null, STDOUT_FILENO);
	close(null);
	r = parse(c, e, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	return r;
}

static void
test_defaults(void)
{
	struct pa_config c;
	struct bt_err e;

	CHECK_OK(parse(&c, &e, ARGV("x.torrent")));
	CHECK_INT_EQ(c.max_uploads, 7);
	CHECK(c.keepalive_interval == 120.0);
	CHECK_INT_EQ(c.download_slice_size, 16384);
	CHECK_INT_EQ(c.request_backlog, 5);
	CHECK_INT_EQ(c.max_message_length, 8 * 1024 * 1024);
	CHECK_STR_EQ(c.ip, "");
	CHECK_INT_EQ(c.minport, 6881);
	CHECK_INT_EQ(c.maxport, 6999);
	CHECK_STR_EQ(c.responsefile, "x.torrent");
	CHECK_STR_EQ(c.url, "");
	CHECK_STR_EQ(c.saveas, "");
	CHECK(c.timeout == 300.0);
	CHECK(c.timeout_check_interval == 60.0);
	CHECK_INT_EQ(c.max_slice_length, 131072);
	CHECK(c.max_rate_period == 20.0);
	CHECK_STR_EQ(c.bind, "");
	CHECK(c.upload_rate_fudge == 5.0);
	CHECK(c.display_interval < 0);
	CHECK(c.rerequest_interval < 0);	/* unset: the tracker's 300 s */
	CHECK_INT_EQ(c.min_peers, 20);
	CHECK(c.http_timeout == 60.0);
	CHECK_INT_EQ(c.max_initiate, 35);
	CHECK_INT_EQ(c.max_allow_in, 55);
	CHECK(c.check_hashes);
	CHECK_INT_EQ(c.max_upload_rate, 0);
	CHECK(c.snub_time == 30.0);
	CHECK(!c.spew);
	CHECK_INT_EQ(c.rarest_first_cutoff, 4);
	CHECK_INT_EQ(c.min_uploads, 4);
	CHECK(!c.report_hash_failures);
	CHECK_INT_EQ(c.max_download_rate, 0);
	CHECK_INT_EQ(c.peer.n, 0);
	CHECK(c.peer.v == NULL);
	CHECK(!c.no_seed && !c.verbose && !c.quiet);
	CHECK_INT_EQ(c.max_open_files, 50);
	CHECK_INT_EQ(c.numwant, 50);
	CHECK(c.connect_timeout == 15.0);
	CHECK(c.seed_ratio == 0 && c.seed_time == 0 && c.stall_timeout == 0);
	CHECK(!c.recheck && !c.status_json && !c.daemon && !c.sequential);
	CHECK(c.resume_interval == 5.0);
	CHECK_STR_EQ(c.on_complete, "");
	CHECK_STR_EQ(c.on_seed_done, "");
	CHECK_STR_EQ(c.pidfile, "");
	CHECK_STR_EQ(c.logfile, "");
	pa_config_release(&c);
	CHECK(c.responsefile == NULL && c.ip == NULL);
	pa_config_release(&c);
}

static void
check_rate_100(char **argv)
{
	struct pa_config c;
	struct bt_err e;

	CHECK_OK(parse(&c, &e, argv));
	CHECK_INT_EQ(c.max_upload_rate, 100 * 1024);
	CHECK_STR_EQ(c.responsefile, "x");
	pa_config_release(&c);
}

static void
test_spellings(void)
{
	struct pa_config c;
	struct bt_err e;

	check_rate_100(ARGV("--max_upload_rate", "100", "x"));
	check_rate_100(ARGV("--max-upload-rate", "100", "x"));
	check_rate_100(ARGV("--max-upload-rate=100", "x"));
	check_rate_100(ARGV("--max_upload_rate=100", "x"));
	check_rate_100(ARGV("x", "--max_upload_rate", "100"));
	/* Unique prefixes, as getopt_long allows. */
	check_rate_100(ARGV("--max-upload-r", "100", "x"));
	/* Last one wins. */
	check_rate_100(ARGV("--max_upload_rate", "5", "x",
	    "--max-upload-rate=100"));
	CHECK_OK(parse(&c, &e, ARGV("--no-seed", "x", "--rarest-first-cutoff",
	    "9", "--max_download_rate=1M")));
	CHECK(c.no_seed);
	CHECK_INT_EQ(c.rarest_first_cutoff, 9);
	CHECK_INT_EQ(c.max_download_rate, 1024 * 1024);
	pa_config_release(&c);
	CHECK_OK(parse(&c, &e, ARGV("--no_seed", "x")));
	CHECK(c.no_seed);
	pa_config_release(&c);
	/* Issue 5's options, in the spelling its text uses. */
	CHECK_OK(parse(&c, &e, ARGV("--seed-ratio", "1.5", "--seed-time",
	    "90m", "--stall-timeout=2h", "--on-complete", "echo \"$1\"",
	    "--on-seed-done", "true", "--status-json", "--recheck", "--daemon",
	    "--pidfile", "p", "--logfile", "l", "--sequential", "x")));
	CHECK(c.seed_ratio == 1.5);
	CHECK(c.seed_time == 5400.0);
	CHECK(c.stall_timeout == 7200.0);
	CHECK_STR_EQ(c.on_complete, "echo \"$1\"");
	CHECK_STR_EQ(c.on_seed_done, "true");
	CHECK(c.status_json && c.recheck && c.daemon && c.sequential);
	CHECK_STR_EQ(c.pidfile, "p");
	CHECK_STR_EQ(c.logfile, "l");
	pa_config_release(&c);
	CHECK(parse(&c, &e, ARGV("--seed-ratio", "-1", "x")) < 0);
	CHECK_OK(parse(&c, &e, ARGV("--only", "*.iso", "--only", "3-5",
	    "--skip", "x", "--range", "1M-2M", "x")));
	CHECK_INT_EQ(c.only.n, 2);
	CHECK_STR_EQ(c.only.v[1], "3-5");
	CHECK_INT_EQ(c.skip.n, 1);
	CHECK_STR_EQ(c.range, "1M-2M");
	pa_config_release(&c);
	CHECK(parse(&c, &e, ARGV("--range", "5-4", "x")) < 0);
	CHECK(parse(&c, &e, ARGV("--range", "-4", "x")) < 0);
	CHECK(parse(&c, &e, ARGV("--only", "", "x")) < 0);
	CHECK(parse(&c, &e, ARGV("--resume-interval", "0", "x")) < 0);
}

static int
parse_many(struct pa_config *c, struct bt_err *e, char **argv)
{
	memset(e, 0, sizeof(*e));
	return pa_parse_btlaunchmany(argv_count(argv), argv, c, e);
}

/* btlaunchmany: one directory; options naming one torrent are refused. */
static void
test_launchmany(void)
{
	struct pa_option opts[PA_LAUNCHMANY_MAX];
	size_t n = pa_btlaunchmany_options(opts, PA_LAUNCHMANY_MAX), found = 0;
	struct pa_config c;
	struct bt_err e;

	for (size_t i = 0; i < n; i++) {
		CHECK(strcmp(opts[i].name, "saveas") != 0);
		CHECK(strcmp(opts[i].name, "only") != 0);
		found += strcmp(opts[i].name, "saveas_dir") == 0 ||
		    strcmp(opts[i].name, "max_upload_rate") == 0;
	}
	CHECK_INT_EQ(found, 2);
	CHECK_OK(parse_many(&c, &e, ARGV("dir", "--saveas_dir", "out",
	    "--scan-interval", "5", "--seed-ratio", "2")));
	CHECK_STR_EQ(c.torrent_dir, "dir");
	CHECK_STR_EQ(c.saveas_dir, "out");
	CHECK(c.scan_interval == 5.0 && c.seed_ratio == 2.0);
	pa_config_release(&c);
	CHECK(c.torrent_dir == NULL);
	CHECK(parse_many(&c, &e, ARGV("--no-seed")) < 0);
	CHECK(strstr(e.msg, "no torrent directory") != NULL);
	CHECK(parse_many(&c, &e, ARGV("a", "b")) < 0);
	CHECK(parse_many(&c, &e, ARGV("a", "--responsefile", "x")) < 0);
	CHECK(parse_many(&c, &e, ARGV("a", "--only", "x")) < 0);
	/* btdownload does not take btlaunchmany's options. */
	CHECK(parse(&c, &e, ARGV("x", "--saveas_dir", "d")) < 0);
}

static void
test_parse_range(void)
{
	uint64_t a = 7, b = 7;
	struct bt_err e;

	CHECK_OK(pa_parse_range("0-1048575", &a, &b, &e));
	CHECK(a == 0 && b == 1048575);
	CHECK_OK(pa_parse_range("1G-", &a, &b, &e));
	CHECK(a == 1u << 30 && b == UINT64_MAX);
	CHECK_OK(pa_parse_range("1K-1K", &a, &b, &e));
	CHECK(a == 1024 && b == 1024);
	CHECK_INT_EQ(pa_parse_range("2-1", &a, &b, &e), -ERANGE);
	CHECK_INT_EQ(pa_parse_range("", &a, &b, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_range("-5", &a, &b, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_range("5", &a, &b, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_range("5-x", &a, &b, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_range("1-2-3", &a, &b, &e), -EINVAL);
	CHECK(strstr(e.msg, "1-2-3") != NULL);
}

static void
test_parse_int(void)
{
	struct bt_err e = BT_ERR_INIT;
	int v = 7;

	CHECK_OK(pa_parse_int("0", &v, &e));
	CHECK_INT_EQ(v, 0);
	CHECK_OK(pa_parse_int("-42", &v, &e));
	CHECK_INT_EQ(v, -42);
	CHECK_OK(pa_parse_int("007", &v, &e));
	CHECK_INT_EQ(v, 7);
	CHECK_OK(pa_parse_int("2147483647", &v, &e));
	CHECK_INT_EQ(v, 2147483647);
	CHECK_OK(pa_parse_int("-2147483648", &v, &e));
	CHECK_INT_EQ(v, -2147483647 - 1);
	CHECK_INT_EQ(pa_parse_int("2147483648", &v, &e), -ERANGE);
	CHECK_INT_EQ(pa_parse_int("-2147483649", &v, &e), -ERANGE);
	CHECK_INT_EQ(pa_parse_int("99999999999999999999999", &v, &e),
	    -ERANGE);
	CHECK_INT_EQ(v, -2147483647 - 1);
	CHECK_INT_EQ(pa_parse_int("12x", &v, &e), -EINVAL);
	CHECK_STR_EQ(e.msg, "'12x' is not a whole number");
	CHECK_INT_EQ(e.code, -EINVAL);
	CHECK_INT_EQ(pa_parse_int("", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_int("-", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_int("--1", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_int("+1", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_int(" 1", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_int("1 ", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_int("1.0", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_int("0x10", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_int("abc", &v, NULL), -EINVAL);
}

static void
test_parse_uint(void)
{
	struct bt_err e = BT_ERR_INIT;
	unsigned int v = 7;

	CHECK_OK(pa_parse_uint("4294967295", &v, &e));
	CHECK(v == 4294967295u);
	CHECK_INT_EQ(pa_parse_uint("4294967296", &v, &e), -ERANGE);
	CHECK_STR_EQ(e.msg,
	    "'4294967296' is out of range (at most 4294967295)");
	CHECK_INT_EQ(pa_parse_uint("-1", &v, &e), -ERANGE);
	CHECK_STR_EQ(e.msg, "'-1' must not be negative");
	CHECK_INT_EQ(pa_parse_uint("1.5", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_uint("", &v, &e), -EINVAL);
	CHECK(v == 4294967295u);
}

static void
test_parse_size(void)
{
	struct bt_err e = BT_ERR_INIT;
	uint64_t v = 0;

	CHECK_OK(pa_parse_size("16384", &v, &e));
	CHECK_INT_EQ(v, 16384);
	CHECK_OK(pa_parse_size("16K", &v, &e));
	CHECK_INT_EQ(v, 16384);
	CHECK_OK(pa_parse_size("16k", &v, &e));
	CHECK_INT_EQ(v, 16384);
	CHECK_OK(pa_parse_size("16KiB", &v, &e));
	CHECK_INT_EQ(v, 16384);
	CHECK_OK(pa_parse_size("16KB", &v, &e));
	CHECK_INT_EQ(v, 16384);
	CHECK_OK(pa_parse_size("8M", &v, &e));
	CHECK_INT_EQ(v, 8 << 20);
	CHECK_OK(pa_parse_size("1G", &v, &e));
	CHECK_INT_EQ(v, 1 << 30);
	CHECK_OK(pa_parse_size("1.5K", &v, &e));
	CHECK_INT_EQ(v, 1536);
	CHECK_OK(pa_parse_size("16.0", &v, &e));
	CHECK_INT_EQ(v, 16);
	CHECK_OK(pa_parse_size("0", &v, &e));
	CHECK_INT_EQ(v, 0);
	CHECK_OK(pa_parse_size("18446744073709551615", &v, &e));
	CHECK(v == UINT64_MAX);
	CHECK_OK(pa_parse_size("17179869183G", &v, &e));
	CHECK(v == UINT64_MAX - (UINT64_C(1) << 30) + 1);
}

static void
test_parse_size_bad(void)
{
	struct bt_err e = BT_ERR_INIT;
	uint64_t v = 42;

	CHECK_INT_EQ(pa_parse_size("18446744073709551616", &v, &e), -ERANGE);
	CHECK_INT_EQ(pa_parse_size("17179869184G", &v, &e), -ERANGE);
	CHECK_STR_EQ(e.msg, "'17179869184G' is too large");
	CHECK_INT_EQ(pa_parse_size("0.3K", &v, &e), -EINVAL);
	CHECK_STR_EQ(e.msg, "'0.3K' is not a whole number of bytes");
	CHECK_INT_EQ(pa_parse_size("1.5", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_size("1.0000000001K", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_size("12x", &v, &e), -EINVAL);
	CHECK_STR_EQ(e.msg, "'12x' is not a size (bytes, or a number with a "
	    "K, M or G suffix)");
	CHECK_INT_EQ(pa_parse_size("-1", &v, &e), -ERANGE);
	CHECK_INT_EQ(pa_parse_size("K", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_size("16Kb", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_size("16 K", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_size("16KK", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_size("1e3", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_size(".5K", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_size("5.K", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_size("", &v, &e), -EINVAL);
	CHECK_INT_EQ(v, 42);
}

static void
test_parse_rate(void)
{
	struct bt_err e = BT_ERR_INIT;
	uint64_t v = 1;

	CHECK_OK(pa_parse_rate("0", &v, &e));
	CHECK_INT_EQ(v, 0);
	CHECK_OK(pa_parse_rate("100", &v, &e));
	CHECK_INT_EQ(v, 102400);
	CHECK_OK(pa_parse_rate("100K", &v, &e));
	CHECK_INT_EQ(v, 102400);
	CHECK_OK(pa_parse_rate("2M", &v, &e));
	CHECK_INT_EQ(v, 2 << 20);
	CHECK_OK(pa_parse_rate("1G", &v, &e));
	CHECK_INT_EQ(v, 1 << 30);
	CHECK_OK(pa_parse_rate("0.5", &v, &e));
	CHECK_INT_EQ(v, 512);
	CHECK_OK(pa_parse_rate("1.5M", &v, &e));
	CHECK_INT_EQ(v, 1572864);
	/* Fractions of a byte round down. */
	CHECK_OK(pa_parse_rate("0.0013", &v, &e));
	CHECK_INT_EQ(v, 1);
	CHECK_OK(pa_parse_rate("0.000", &v, &e));
	CHECK_INT_EQ(v, 0);
	CHECK_OK(pa_parse_rate("18014398509481983", &v, &e));
	CHECK(v == UINT64_MAX - 1023);
	CHECK_INT_EQ(pa_parse_rate("18014398509481984", &v, &e), -ERANGE);
	CHECK_INT_EQ(pa_parse_rate("0.0001", &v, &e), -ERANGE);
	CHECK_STR_EQ(e.msg, "'0.0001' is less than 1 byte per second");
	CHECK_INT_EQ(pa_parse_rate("abc", &v, &e), -EINVAL);
	CHECK_STR_EQ(e.msg, "'abc' is not a rate (KiB/s, or a number with a "
	    "K, M or G suffix)");
	CHECK_INT_EQ(pa_parse_rate("-5", &v, &e), -ERANGE);
	CHECK_INT_EQ(pa_parse_rate("5T", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_rate("5K/s", &v, &e), -EINVAL);
	CHECK(v == UINT64_MAX - 1023);
}

static void
test_parse_duration(void)
{
	struct bt_err e = BT_ERR_INIT;
	double v = 0;

	CHECK_OK(pa_parse_duration("30", &v, &e));
	CHECK(v == 30.0);
	CHECK_OK(pa_parse_duration("45s", &v, &e));
	CHECK(v == 45.0);
	CHECK_OK(pa_parse_duration("90m", &v, &e));
	CHECK(v == 5400.0);
	CHECK_OK(pa_parse_duration("2h", &v, &e));
	CHECK(v == 7200.0);
	CHECK_OK(pa_parse_duration("1.5h", &v, &e));
	CHECK(v == 5400.0);
	CHECK_OK(pa_parse_duration("1d", &v, &e));
	CHECK(v == 86400.0);
	CHECK_OK(pa_parse_duration("0.5", &v, &e));
	CHECK(v == 0.5);
	CHECK_OK(pa_parse_duration("0.25m", &v, &e));
	CHECK(v == 15.0);
	CHECK_OK(pa_parse_duration("1000000000", &v, &e));
	CHECK(v == PA_DURATION_MAX);
	CHECK_INT_EQ(pa_parse_duration("1000000001", &v, &e), -ERANGE);
	CHECK_INT_EQ(pa_parse_duration("11575d", &v, &e), -ERANGE);
	CHECK_STR_EQ(e.msg, "'11575d' is too long (at most 1000000000 "
	    "seconds)");
	CHECK_INT_EQ(pa_parse_duration("99999999999999999999999", &v, &e),
	    -ERANGE);
	CHECK_INT_EQ(pa_parse_duration("-1", &v, &e), -ERANGE);
	CHECK_INT_EQ(pa_parse_duration("5x", &v, &e), -EINVAL);
	CHECK_STR_EQ(e.msg, "'5x' is not a duration (seconds, or a number "
	    "with an s, m, h or d suffix)");
	CHECK_INT_EQ(pa_parse_duration("h", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_duration("1hh", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_duration("1H", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_duration("1e3", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_duration(".5", &v, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_duration("", &v, &e), -EINVAL);
	CHECK(v == PA_DURATION_MAX);
}

static void
test_parse_double_and_bool(void)
{
	struct bt_err e = BT_ERR_INIT;
	double d = 0;
	bool b = false;

	CHECK_OK(pa_parse_double("2.5", &d, &e));
	CHECK(d == 2.5);
	CHECK_OK(pa_parse_double("1000000000000000", &d, &e));
	CHECK_INT_EQ(pa_parse_double("1000000000000001", &d, &e), -ERANGE);
	CHECK_INT_EQ(pa_parse_double("1000000000000000.5", &d, &e), -ERANGE);
	CHECK_INT_EQ(pa_parse_double("-1", &d, &e), -ERANGE);
	CHECK_INT_EQ(pa_parse_double("1e5", &d, &e), -EINVAL);
	CHECK_STR_EQ(e.msg, "'1e5' is not a number");
	CHECK_OK(pa_parse_bool("1", &b, &e));
	CHECK(b);
	CHECK_OK(pa_parse_bool("0", &b, &e));
	CHECK(!b);
	CHECK_INT_EQ(pa_parse_bool("yes", &b, &e), -EINVAL);
	CHECK_STR_EQ(e.msg, "'yes' is not 0 or 1");
	CHECK_INT_EQ(pa_parse_bool("", &b, &e), -EINVAL);
}

/* Hostile values stay one short line. */
static void
test_value_in_message(void)
{
	struct bt_err e = BT_ERR_INIT;
	char big[5000];
	int v;

	CHECK_INT_EQ(pa_parse_int("1\n2", &v, &e), -EINVAL);
	CHECK_STR_EQ(e.msg, "'1\\x0a2' is not a whole number");
	memset(big, '9', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT_EQ(pa_parse_int(big, &v, &e), -ERANGE);
	CHECK(strlen(e.msg) < 120);
	CHECK(strstr(e.msg, "...") != NULL);
	big[4000] = 'x';
	CHECK_INT_EQ(pa_parse_int(big, &v, &e), -EINVAL);
}

static void
test_option_errors(void)
{
	CHECK_ERROR(ARGV("--max_uploads", "abc", "x"), -EINVAL,
	    "--max_uploads: 'abc' is not a whole number");
	CHECK_ERROR(ARGV("--max-uploads=abc", "x"), -EINVAL,
	    "--max_uploads: 'abc' is not a whole number");
	CHECK_ERROR(ARGV("--max_uploads", "-1", "x"), -ERANGE,
	    "--max_uploads: '-1' must not be negative");
	CHECK_ERROR(ARGV("--max_uploads", "99999999999", "x"), -ERANGE,
	    "--max_uploads: '99999999999' is out of range (at most "
	    "4294967295)");
	CHECK_ERROR(ARGV("--download_slice_size", "16x", "x"), -EINVAL,
	    "--download_slice_size: '16x' is not a size (bytes, or a number "
	    "with a K, M or G suffix)");
	CHECK_ERROR(ARGV("--timeout", "5x", "x"), -EINVAL,
	    "--timeout: '5x' is not a duration (seconds, or a number with an "
	    "s, m, h or d suffix)");
	CHECK_ERROR(ARGV("--timeout", "0", "x"), -ERANGE,
	    "--timeout: '0' must not be zero");
	CHECK_ERROR(ARGV("--max_upload_rate", "fast", "x"), -EINVAL,
	    "--max_upload_rate: 'fast' is not a rate (KiB/s, or a number "
	    "with a K, M or G suffix)");
	CHECK_ERROR(ARGV("--bogus", "x"), -EINVAL,
	    "unrecognized option '--bogus'");
	CHECK_ERROR(ARGV("--bogus=3", "x"), -EINVAL,
	    "unrecognized option '--bogus'");
	CHECK_ERROR(ARGV("x", "-x"), -EINVAL, "unrecognized option '-x'");
	CHECK_ERROR(ARGV("--max", "3", "x"), -EINVAL,
	    "option '--max' is ambiguous");
	CHECK_ERROR(ARGV("x", "--max_uploads"), -EINVAL,
	    "--max_uploads: missing value");
	CHECK_ERROR(ARGV("--help=3"), -EINVAL,
	    "--help does not take a value");
	CHECK_ERROR(ARGV("--minport", "0", "x"), -ERANGE,
	    "--minport: '0' is not a port (1-65535)");
	CHECK_ERROR(ARGV("--maxport", "65536", "x"), -ERANGE,
	    "--maxport: '65536' is not a port (1-65535)");
	CHECK_ERROR(ARGV("--minport", "7000", "x"), -EINVAL,
	    "--minport 7000 is above --maxport 6999");
	CHECK_ERROR(ARGV("--display_interval", "0", "x"), -ERANGE,
	    "--display_interval: '0' must not be zero");
}

static void
test_bool_options(void)
{
	struct pa_config c;
	struct bt_err e;

	CHECK_OK(parse(&c, &e, ARGV("--spew", "--check_hashes=0",
	    "--report-hash-failures=1", "-v", "x")));
	CHECK(c.spew && !c.check_hashes && c.report_hash_failures);
	CHECK(c.verbose && !c.quiet);
	pa_config_release(&c);
	/* Mainline's "--check_hashes 0": a lone 0 or 1 is the value. */
	CHECK_OK(parse(&c, &e, ARGV("--check_hashes", "0", "x", "--spew",
	    "1")));
	CHECK(!c.check_hashes && c.spew);
	CHECK_STR_EQ(c.responsefile, "x");
	pa_config_release(&c);
	CHECK_OK(parse(&c, &e, ARGV("x", "--check_hashes", "1")));
	CHECK(c.check_hashes);
	pa_config_release(&c);
	/* A short flag never takes a value. */
	CHECK_OK(parse(&c, &e, ARGV("-q", "1")));
	CHECK(c.quiet);
	CHECK_STR_EQ(c.responsefile, "1");
	pa_config_release(&c);
	CHECK_OK(parse(&c, &e, ARGV("--no-seed", "./1")));
	CHECK(c.no_seed);
	CHECK_STR_EQ(c.responsefile, "./1");
	pa_config_release(&c);
	CHECK_ERROR(ARGV("--no-seed=2", "x"), -EINVAL,
	    "--no_seed: '2' is not 0 or 1");
	CHECK_ERROR(ARGV("-vq", "x"), -EINVAL,
	    "--verbose and --quiet cannot be used together");
}

static void
test_strings(void)
{
	struct pa_config c;
	struct bt_err e;

	CHECK_OK(parse(&c, &e, ARGV("--saveas", "a", "--saveas=b", "--ip",
	    "10.0.0.1", "--bind", "", "x")));
	CHECK_STR_EQ(c.saveas, "b");
	CHECK_STR_EQ(c.ip, "10.0.0.1");
	CHECK_STR_EQ(c.bind, "");
	pa_config_release(&c);
}

static void
test_peer_option(void)
{
	struct pa_config c;
	struct bt_err e;

	CHECK_OK(parse(&c, &e, ARGV("--peer", "10.0.0.2:6881", "x",
	    "--peer=[::1]:7000", "--peer", "seed.example.org:1")));
	CHECK_INT_EQ(c.peer.n, 3);
	CHECK_STR_EQ(c.peer.v[0], "10.0.0.2:6881");
	CHECK_STR_EQ(c.peer.v[1], "[::1]:7000");
	CHECK_STR_EQ(c.peer.v[2], "seed.example.org:1");
	pa_config_release(&c);
	CHECK_INT_EQ(c.peer.n, 0);
	CHECK_ERROR(ARGV("--peer", "host", "x"), -EINVAL,
	    "--peer: 'host' is not HOST:PORT or [IPv6]:PORT");
	CHECK_ERROR(ARGV("--peer", "a:1", "--peer", "a:0", "x"), -ERANGE,
	    "--peer: 'a:0' has a port outside 1-65535");
}

static void
test_parse_peer(void)
{
	struct bt_err e = BT_ERR_INIT;
	char host[PA_HOST_MAX], tiny[4];
	char longname[300];
	uint16_t port = 0;

	CHECK_OK(pa_parse_peer("10.0.0.2:6881", host, sizeof(host), &port,
	    &e));
	CHECK_STR_EQ(host, "10.0.0.2");
	CHECK_INT_EQ(port, 6881);
	CHECK_OK(pa_parse_peer("[2001:db8::1]:65535", host, sizeof(host),
	    &port, &e));
	CHECK_STR_EQ(host, "2001:db8::1");
	CHECK_INT_EQ(port, 65535);
	CHECK_OK(pa_parse_peer("my-host_1.example:80", host, sizeof(host),
	    &port, &e));
	CHECK_STR_EQ(host, "my-host_1.example");
	CHECK_OK(pa_parse_peer("a:1", NULL, 0, NULL, &e));
	CHECK_INT_EQ(pa_parse_peer("abcd:1", tiny, sizeof(tiny), &port, &e),
	    -ENAMETOOLONG);
	memset(longname, 'a', sizeof(longname));
	strcpy(longname + 253, ":1");
	CHECK_OK(pa_parse_peer(longname, host, sizeof(host), &port, &e));
	CHECK_INT_EQ(strlen(host), 253);
	strcpy(longname + 254, ":1");
	CHECK_INT_EQ(pa_parse_peer(longname, NULL, 0, NULL, &e), -EINVAL);
}

static void
test_parse_peer_bad(void)
{
	struct bt_err e = BT_ERR_INIT;

	CHECK_INT_EQ(pa_parse_peer("::1:5", NULL, 0, NULL, &e), -EINVAL);
	CHECK_STR_EQ(e.msg, "'::1:5' has more than one ':' (write an IPv6 "
	    "address as [ADDR]:PORT)");
	CHECK_INT_EQ(pa_parse_peer("[::1]5", NULL, 0, NULL, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_peer("[::1", NULL, 0, NULL, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_peer("[zz]:5", NULL, 0, NULL, &e), -EINVAL);
	CHECK_STR_EQ(e.msg, "'[zz]:5' has a bad IPv6 address");
	CHECK_INT_EQ(pa_parse_peer("[]:5", NULL, 0, NULL, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_peer("999.1.1.1:5", NULL, 0, NULL, &e),
	    -EINVAL);
	CHECK_STR_EQ(e.msg, "'999.1.1.1:5' has a bad IPv4 address");
	CHECK_INT_EQ(pa_parse_peer("a b:5", NULL, 0, NULL, &e), -EINVAL);
	CHECK_STR_EQ(e.msg, "'a b:5' has a bad host name");
	CHECK_INT_EQ(pa_parse_peer(":5", NULL, 0, NULL, &e), -EINVAL);
	CHECK_STR_EQ(e.msg, "':5' has no host");
	CHECK_INT_EQ(pa_parse_peer("a:", NULL, 0, NULL, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_peer("a:b", NULL, 0, NULL, &e), -EINVAL);
	CHECK_STR_EQ(e.msg, "'a:b' has a bad port");
	CHECK_INT_EQ(pa_parse_peer("a:+5", NULL, 0, NULL, &e), -EINVAL);
	CHECK_INT_EQ(pa_parse_peer("a:65536", NULL, 0, NULL, &e), -ERANGE);
	CHECK_INT_EQ(pa_parse_peer("a:99999999999999999999999", NULL, 0,
	    NULL, &e), -ERANGE);
	CHECK_INT_EQ(pa_parse_peer("", NULL, 0, NULL, &e), -EINVAL);
}

static void
test_positionals(void)
{
	struct pa_config c;
	struct bt_err e;

	CHECK_ERROR(((char *[]){ "btdownload", NULL }), -EINVAL,
	    "no torrent file given (see --help)");
	CHECK_ERROR(ARGV("--spew"), -EINVAL,
	    "no torrent file given (see --help)");
	CHECK_ERROR(ARGV("a.torrent", "b.torrent"), -EINVAL,
	    "unexpected argument 'b.torrent' (give one torrent file)");
	CHECK_ERROR(ARGV("--responsefile", "a", "b"), -EINVAL,
	    "give the torrent either as an argument or with --responsefile, "
	    "not both");
	CHECK_ERROR(ARGV("--responsefile", "a", "--url", "http://b/"),
	    -EINVAL, "give either --responsefile or --url, not both");
	CHECK_ERROR(ARGV(""), -EINVAL, "empty torrent file name");
	CHECK_OK(parse(&c, &e, ARGV("--responsefile", "a.torrent")));
	CHECK_STR_EQ(c.responsefile, "a.torrent");
	pa_config_release(&c);
	CHECK_OK(parse(&c, &e, ARGV("--url", "http://t/a.torrent")));
	CHECK_STR_EQ(c.url, "http://t/a.torrent");
	CHECK_STR_EQ(c.responsefile, "");
	pa_config_release(&c);
	CHECK_OK(parse(&c, &e, ARGV("https://t/a.torrent")));
	CHECK_STR_EQ(c.url, "https://t/a.torrent");
	pa_config_release(&c);
	/* "--" ends the options. */
	CHECK_OK(parse(&c, &e, ARGV("--spew", "--", "--odd.torrent")));
	CHECK_STR_EQ(c.responsefile, "--odd.torrent");
	CHECK(c.spew);
	pa_config_release(&c);
	CHECK_OK(parse(&c, &e, ARGV("-")));
	CHECK_STR_EQ(c.responsefile, "-");
	pa_config_release(&c);
}

static void
test_help_returns(void)
{
	struct pa_config c;
	struct bt_err e;

	CHECK_INT_EQ(parse_quietly(&c, &e, ARGV("--help")), PA_HELP);
	CHECK_INT_EQ(parse_quietly(&c, &e, ARGV("-h")), PA_HELP);
	CHECK_INT_EQ(parse_quietly(&c, &e, ARGV("x", "-vh")), PA_HELP);
	CHECK_INT_EQ(parse_quietly(&c, &e, ARGV("--max_uploads", "2",
	    "--he", "--bogus")), PA_HELP);
	CHECK(c.responsefile == NULL);
	CHECK_INT_EQ(parse_quietly(&c, &e, ARGV("--bogus", "--help")),
	    -EINVAL);
	pa_config_release(&c);
}

static void
test_help_text(void)
{
	const struct pa_option *opts;
	char line[256], want[64];
	size_t n, found = 0, longest = 0;
	FILE *fp = tmpfile();

	CHECK(fp != NULL);
	if (fp == NULL)
		return;
	opts = pa_btdownload_options(&n);
	pa_print_help(fp, "/usr/bin/btdownload");
	rewind(fp);
	CHECK(fgets(line, sizeof(line), fp) != NULL);
	CHECK_STR_EQ(line, "usage: btdownload [options] FILE.torrent\n");
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strlen(line) > longest)
			longest = strlen(line);
		for (size_t i = 0; i < n && strlen(line) > 6; i++) {
			size_t wl = (size_t)snprintf(want, sizeof(want),
			    "--%s", opts[i].name);

			if (strncmp(line + 6, want, wl) == 0 &&
			    (line[6 + wl] == ' ' || line[6 + wl] == '\n'))
				found++;
		}
	}
	fclose(fp);
	CHECK_INT_EQ(found, n);
	/* 79 characters and the newline. */
	CHECK(longest <= 80);
}

/* The table is what --help and the man page are made from. */
static void
test_table(void)
{
	const struct pa_option *opts;
	size_t n, dups = 0;

	opts = pa_btdownload_options(&n);
	CHECK(n >= 38);
	for (size_t i = 0; i < n; i++) {
		CHECK(opts[i].help != NULL && opts[i].help[0] != '\0');
		CHECK(strchr(opts[i].name, '-') == NULL);
		CHECK(opts[i].short_opt != 'h');
		for (size_t k = 0; k < i; k++) {
			dups += strcmp(opts[i].name, opts[k].name) == 0;
			dups += opts[i].short_opt != 0 &&
			    opts[i].short_opt == opts[k].short_opt;
		}
	}
	CHECK_INT_EQ(dups, 0);
}

/* The generic layer with a table of its own. */
struct tcfg {
	int level;
	double ratio;
	unsigned int count;
	char *name;
	struct pa_list tags;
	bool force;
};

static const struct pa_option topts[] = {
	{ .name = "level", .type = PA_INT, .short_opt = 'l', .def = "-1",
	    .offset = offsetof(struct tcfg, level), .help = "level" },
	{ .name = "ratio", .type = PA_DOUBLE, .def = "0.5",
	    .offset = offsetof(struct tcfg, ratio), .help = "ratio" },
	{ .name = "count", .type = PA_UINT, .flags = PA_F_NONZERO,
	    .offset = offsetof(struct tcfg, count), .help = "count" },
	{ .name = "name", .type = PA_STRING, .def = "anon",
	    .offset = offsetof(struct tcfg, name), .help = "name" },
	{ .name = "tag", .type = PA_LIST, .def = "first",
	    .offset = offsetof(struct tcfg, tags), .help = "tag" },
	{ .name = "force", .type = PA_BOOL, .short_opt = 'f',
	    .offset = offsetof(struct tcfg, force), .help = "force" },
};
#define NTOPTS	(sizeof(topts) / sizeof(topts[0]))

static void
test_generic(void)
{
	char **argv = ARGV("-l5", "one", "--tag", "b", "-f", "--ratio=2.25",
	    "--name", "n", "two", "-l", "-3");
	struct tcfg t = { 0 };
	struct bt_err e = BT_ERR_INIT;
	int first = -1;

	CHECK_OK(pa_set_defaults(topts, NTOPTS, &t, &e));
	CHECK_INT_EQ(t.level, -1);
	CHECK(t.ratio == 0.5);
	CHECK_STR_EQ(t.name, "anon");
	CHECK_INT_EQ(t.tags.n, 1);
	CHECK_OK(pa_parse(topts, NTOPTS, argv_count(argv), argv, &t, &first,
	    &e));
	CHECK_INT_EQ(t.level, -3);
	CHECK(t.ratio == 2.25);
	CHECK_STR_EQ(t.name, "n");
	CHECK_INT_EQ(t.tags.n, 2);
	CHECK_STR_EQ(t.tags.v[1], "b");
	CHECK(t.force);
	CHECK_INT_EQ(first, 10);
	CHECK_STR_EQ(argv[first], "one");
	CHECK_STR_EQ(argv[first + 1], "two");
	CHECK_INT_EQ(pa_parse(topts, NTOPTS, 3, ARGV("--count", "0"), &t,
	    NULL, &e), -ERANGE);
	CHECK_STR_EQ(e.msg, "--count: '0' must not be zero");
	pa_release(topts, NTOPTS, &t);
	CHECK(t.name == NULL && t.tags.v == NULL && t.tags.n == 0);
	pa_release(topts, NTOPTS, &t);
}

/* getopt state must not leak from one call into the next. */
static void
test_reentrant(void)
{
	struct pa_config c;
	struct bt_err e;

	for (int i = 0; i < 20; i++) {
		/* Stop in the middle of "-vx", then parse something else. */
		CHECK_ERROR(ARGV("a", "-vx", "b"), -EINVAL,
		    "unrecognized option '-x'");
		CHECK_OK(parse(&c, &e, ARGV("-q", "c.torrent")));
		CHECK(c.quiet && !c.verbose);
		CHECK_STR_EQ(c.responsefile, "c.torrent");
		pa_config_release(&c);
	}
}

int
main(void)
{
	CHECK_RUN(test_defaults, test_spellings, test_parse_range,
	    test_launchmany,
	    test_parse_int,
	    test_parse_uint, test_parse_size, test_parse_size_bad,
	    test_parse_rate,
	    test_parse_duration, test_parse_double_and_bool,
	    test_value_in_message, test_option_errors, test_bool_options,
	    test_strings, test_peer_option, test_parse_peer,
	    test_parse_peer_bad,
	    test_positionals, test_help_returns, test_help_text, test_table,
	    test_generic, test_reentrant);
}

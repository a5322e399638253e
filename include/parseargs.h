/*
 * parseargs: command-line options (mainline parseargs.py and the defaults
 * of download.py), on top of getopt_long(3).
 *
 * Two layers.  The generic one parses argv against a table of struct
 * pa_option, each naming a field of a config struct by offset; the value
 * parsers behind it are exported so they can be tested and fuzzed alone.
 * The btdownload layer holds the program's table, its struct pa_config and
 * the positional-argument rules.  The table is the single description of
 * the options: --help prints it, and the man page is written from --help.
 *
 * Every long option is accepted in mainline's spelling and with dashes
 * (--max_upload_rate, --max-upload-rate), its value as the next argument or
 * after '=' (--max-upload-rate=100).  Unique prefixes are accepted, as
 * getopt_long(3) does.  Options and positional arguments may be mixed; "--"
 * ends the options.  A PA_BOOL option is a flag ("--spew", "-v") or takes
 * "=0" / "=1"; for mainline's "--check_hashes 0", a long flag followed by a
 * lone "0" or "1" takes that as its value (a file named "1" is "./1").
 *
 * The parsers use getopt's global state (optind, optarg, opterr), so they
 * are not thread-safe, but they reset it on entry and may be called any
 * number of times.  getopt_long may reorder the pointers in argv (never the
 * strings).
 */
#ifndef BT_PARSEARGS_H
#define BT_PARSEARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct bt_err;

/* pa_parse() and pa_parse_btdownload() return this after --help / -h. */
#define PA_HELP		1

/* Largest duration accepted, in seconds (about 31 years). */
#define PA_DURATION_MAX	1e9
/* Largest PA_DOUBLE accepted. */
#define PA_DOUBLE_MAX	1e15
/* Room for a host name or address from pa_parse_peer(), with the NUL. */
#define PA_HOST_MAX	256

/* What an option's value is, and the C type of the field it fills. */
enum pa_type {
	PA_INT,		/* int; may be negative */
	PA_UINT,	/* unsigned int */
	PA_DOUBLE,	/* double >= 0, plain decimal ("2.5") */
	PA_SIZE,	/* uint64_t bytes; K, M, G suffixes are 1024 powers */
	PA_RATE,	/* uint64_t bytes per second; bare number is KiB/s */
	PA_DURATION,	/* double seconds; s, m, h, d suffixes */
	PA_STRING,	/* char *, owned; never NULL once defaults are set */
	PA_BOOL,	/* bool; a flag, or --name=0 / --name=1 */
	PA_LIST,	/* struct pa_list; each use appends one string */
};

/* PA_LIST storage: n strings, all owned by the config. */
struct pa_list {
	char **v;
	size_t n;
};

/* Extra checks on a parsed number (struct pa_option.flags). */
#define PA_F_NONZERO	0x1	/* 0 is refused */
#define PA_F_PORT	0x2	/* PA_UINT in 1..65535 */

/*
 * A value check run before a value is stored (PA_STRING, PA_LIST): 0 or a
 * -errno with the reason in err, written as "'VALUE' is ...".
 */
typedef int pa_check_fn(const char *s, struct bt_err *err);

struct pa_option {
	const char *name;	/* mainline spelling, underscores */
	enum pa_type type;
	size_t offset;		/* offsetof() the field in the config */
	const char *def;	/* default, parsed like a value; NULL: none */
	const char *help;	/* one sentence, no period; wrapped by us */
	int short_opt;		/* e.g. 'v', or 0 */
	const char *metavar;	/* "FILE" in --help; NULL: from the type */
	pa_check_fn *check;	/* NULL or an extra check of the value */
	unsigned flags;		/* PA_F_* */
};

/*
 * Value parsers.  Each takes a NUL-terminated string, accepts nothing but
 * the documented form (no spaces, no '+', no trailing junk), and returns 0
 * with *out set, or -EINVAL (malformed) / -ERANGE (too large, or negative
 * where that is not allowed) with *out untouched and err set to one line
 * such as "'12x' is not a whole number".  Safe on any input.
 */

/* Decimal integer in int range, e.g. "-3", "42". */
int pa_parse_int(const char *s, int *out, struct bt_err *err);
/* Decimal integer in 0..UINT_MAX. */
int pa_parse_uint(const char *s, unsigned int *out, struct bt_err *err);
/* Non-negative decimal such as "2" or "0.25", at most PA_DOUBLE_MAX. */
int pa_parse_double(const char *s, double *out, struct bt_err *err);
/*
 * Bytes: "16384", "16K", "8M", "1G" (also "16k", "16KB", "16KiB"); a
 * fraction is allowed if the result is whole bytes ("1.5K").
 */
int pa_parse_size(const char *s, uint64_t *out, struct bt_err *err);
/*
 * Bytes per second.  A bare number is KiB/s, as mainline's kB/s ("100" is
 * 102400); with a suffix, "100K" is 100 KiB/s, "2M" 2 MiB/s, "1G" 1 GiB/s.
 * Fractions round down ("0.5" is 512), but not to 0: "0" alone means
 * unlimited.
 */
int pa_parse_rate(const char *s, uint64_t *out, struct bt_err *err);
/*
 * Seconds: "30", "0.5", "45s", "90m", "2h", "1.5h", "1d"; at most
 * PA_DURATION_MAX.
 */
int pa_parse_duration(const char *s, double *out, struct bt_err *err);
/* "0" or "1". */
int pa_parse_bool(const char *s, bool *out, struct bt_err *err);
/*
 * A byte range "START-END" (both included) or "START-" (to the end), each
 * a size as pa_parse_size() takes it ("1G-2G", "0-1048575").  START must
 * not be above END.  *out_end is UINT64_MAX for "START-".
 */
int pa_parse_range(const char *s, uint64_t *out_start, uint64_t *out_end,
    struct bt_err *err);
/*
 * A peer address, "HOST:PORT" or "[IPv6]:PORT", port 1..65535.  HOST is a
 * dotted IPv4 address or a host name (letters, digits, '-', '.', '_', at
 * most 253 characters).  out_host (hostlen bytes, PA_HOST_MAX is always
 * enough; -ENAMETOOLONG if smaller) gets HOST without brackets; out_host
 * and out_port may be NULL to only validate.
 */
int pa_parse_peer(const char *s, char *out_host, size_t hostlen,
    uint16_t *out_port, struct bt_err *err);

/*
 * Generic layer.  pa_set_defaults() stores each option's default into cfg
 * (options with a NULL def are left alone); pa_parse() then applies
 * argv[1..argc-1].  An option given twice takes the last value, except
 * PA_LIST, which appends.  Returns 0 with *out_optind (may be NULL) the
 * index of the first positional argument in the reordered argv, PA_HELP if
 * --help or -h was seen (nothing printed, parsing stops there), or -EINVAL /
 * -ERANGE with err naming the option: "--max_uploads: 'abc' is not a whole
 * number", "unrecognized option '--bogus'".  Values already stored stay in
 * cfg either way; pa_release() frees them.
 */
int pa_set_defaults(const struct pa_option *opts, size_t nopts, void *cfg,
    struct bt_err *err);
int pa_parse(const struct pa_option *opts, size_t nopts, int argc,
    char **argv, void *cfg, int *out_optind, struct bt_err *err);
/* Free the strings and lists of cfg and reset them to NULL / empty. */
void pa_release(const struct pa_option *opts, size_t nopts, void *cfg);
/* The option list for --help: each option, its default, wrapped help. */
void pa_print_options(FILE *fp, const struct pa_option *opts, size_t nopts);

/*
 * btdownload's options: one field per option, named as the option.  Sizes
 * are bytes, rates bytes per second (0 = unlimited), durations seconds.
 */
struct pa_config {
	unsigned int max_uploads;		/* 7 */
	double keepalive_interval;		/* 120 */
	uint64_t download_slice_size;		/* 16384 */
	unsigned int request_backlog;		/* 5 */
	double request_queue_time;		/* 3 */
	uint64_t max_message_length;		/* 8 MiB */
	char *ip;				/* "" */
	unsigned int minport;			/* 6881 */
	unsigned int maxport;			/* 6999 */
	char *responsefile;			/* "": the .torrent path */
	char *url;				/* "": not fetched yet */
	char *saveas;				/* "" */
	double timeout;				/* 300 */
	double timeout_check_interval;		/* 60 */
	uint64_t max_slice_length;		/* 128 KiB */
	double max_rate_period;			/* 20 */
	char *bind;				/* "" */
	double upload_rate_fudge;		/* 5 */
	/*
	 * < 0 when not given: the program then uses 0.5 when stdout is a
	 * terminal and 1 when it is not.  > 0 when given.
	 */
	double display_interval;
	double rerequest_interval;		/* < 0 unset: 300 s */
	unsigned int min_peers;			/* 20 */
	double http_timeout;			/* 60 */
	unsigned int max_initiate;		/* 35 */
	unsigned int max_allow_in;		/* 55 */
	unsigned int max_conns_per_ip;		/* 8 */
	char *tcp_congestion;			/* "": the system's */
	bool check_hashes;			/* true */
	uint64_t max_upload_rate;		/* 0 */
	double snub_time;			/* 30 */
	bool spew;				/* false */
	unsigned int rarest_first_cutoff;	/* 4 */
	unsigned int min_uploads;		/* 4 */
	bool report_hash_failures;		/* false */
	/* Not in mainline 3.4.2. */
	uint64_t max_download_rate;		/* 0 */
	struct pa_list peer;			/* "HOST:PORT", validated */
	bool no_seed;				/* exit once complete */
	bool verbose;				/* -v: debug logging */
	bool quiet;				/* -q: errors only */
	unsigned int max_open_files;		/* 50 */
	unsigned int numwant;			/* 50 */
	double connect_timeout;			/* 15 */
	/* Cron and scripts (btdownload(1), EXIT STATUS). */
	double seed_ratio;			/* 0: no ratio limit */
	double seed_time;			/* 0: no time limit */
	double stall_timeout;			/* 0: never give up */
	bool recheck;				/* ignore the resume file */
	double resume_interval;			/* 5 */
	bool status_json;			/* JSON status lines */
	char *on_complete;			/* "": no hook */
	char *on_seed_done;			/* "": no hook */
	bool daemon;				/* detach */
	char *pidfile;				/* "" */
	char *logfile;				/* "": stderr, or syslog */
	/* Choosing what to download. */
	bool sequential;			/* pieces in order */
	struct pa_list only;			/* fnmatch patterns, numbers */
	struct pa_list skip;			/* the same */
	char *range;				/* "": all; else START-END */
	/* btlaunchmany only. */
	char *saveas_dir;			/* "": the torrent directory */
	double scan_interval;			/* 2 */
	char *torrent_dir;			/* the DIR argument */
};

/* btdownload's table (borrowed, static), for man pages and btlaunchmany. */
const struct pa_option *pa_btdownload_options(size_t *out_n);

/* Fill cfg with the defaults.  Release it with pa_config_release(). */
void pa_config_defaults(struct pa_config *cfg);

/*
 * Checks across options, run by pa_parse_btdownload(): minport <= maxport,
 * and not both --verbose and --quiet.
 */
int pa_config_check(const struct pa_config *cfg, struct bt_err *err);

/*
 * Parse btdownload's command line: defaults, then options, then the
 * positional arguments.  There must be exactly one torrent: a positional
 * path (one starting with http:// or https:// goes to url instead),
 * --responsefile or --url.  Returns 0 with *out filled (release it with
 * pa_config_release()); PA_HELP after printing the help to stdout; or
 * -EINVAL / -ERANGE with err set.  After PA_HELP or an error *out holds
 * nothing to free (releasing it again is harmless).
 */
int pa_parse_btdownload(int argc, char **argv, struct pa_config *out,
    struct bt_err *err);

/* Free the strings and lists of cfg.  Safe to call twice. */
void pa_config_release(struct pa_config *cfg);

/* The full --help text: usage, value syntax, then every option. */
void pa_print_help(FILE *fp, const char *prog);

/*
 * btlaunchmany: btdownload's options without those that name one torrent
 * (--responsefile, --url, --saveas, --only, --skip, --range), plus
 * --saveas_dir and --scan_interval.  The table is written into out (at
 * most cap entries, PA_LAUNCHMANY_MAX is enough); returns the count.
 */
#define PA_LAUNCHMANY_MAX	96
size_t pa_btlaunchmany_options(struct pa_option *out, size_t cap);
/*
 * Parse btlaunchmany's command line: options, then exactly one positional
 * argument, the torrent directory (out->torrent_dir).  Returns as
 * pa_parse_btdownload() does.
 */
int pa_parse_btlaunchmany(int argc, char **argv, struct pa_config *out,
    struct bt_err *err);
void pa_print_launchmany_help(FILE *fp, const char *prog);

#endif

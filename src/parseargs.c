/*
 * parseargs: see the header.  In order: the value parsers, the generic
 * table-driven driver on top of getopt_long(3), the --help printer, and
 * btdownload's table and positional-argument rules.
 */
#include "parseargs.h"

#include <sys/socket.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bterr.h"
#include "log.h"
#include "xmalloc.h"

/* A value is quoted in messages escaped and cut to this many bytes. */
#define PA_ESC_LEN	64
/* --help lines stay within this many columns; help text is indented. */
#define PA_COLS		79
#define PA_HELP_INDENT	8
/* Longest DNS name. */
#define PA_HOSTNAME_MAX	253

/*
 * Fail with "'VALUE' reason".  Every value parser reports this way and the
 * option layer puts the option's name in front.
 */
static int pa_bad(struct bt_err *err, int code, const char *s,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
pa_bad(struct bt_err *err, int code, const char *s, const char *fmt, ...)
{
	char esc[PA_ESC_LEN], why[BT_ERR_MSGLEN];
	va_list ap;

	if (err == NULL)
		return code;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_escape(esc, sizeof(esc), s, strlen(s));
	return bt_err_set(err, code, "'%s' %s", esc, why);
}

static bool
pa_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

/* "-" then a digit: a negative number, refused by the unsigned types. */
static bool
pa_is_negative(const char *s)
{
	return s[0] == '-' && pa_isdigit(s[1]);
}

/*
 * A decimal "123" or "12.5" at the start of a string, kept exact: the whole
 * part, and the first nine fraction digits as frac / scale.
 */
struct pa_dec {
	uint64_t whole;
	uint32_t frac;
	uint32_t scale;		/* 10^(fraction digits kept) */
	bool point;		/* there was a '.' */
	bool dropped;		/* nonzero digits past the ninth were cut */
	bool big;		/* the whole part does not fit in 64 bits */
	const char *end;	/* first byte after the number */
};

/* False unless s starts with digits, and a '.' is followed by digits. */
static bool
pa_scan_dec(const char *s, struct pa_dec *d)
{
	const char *p = s;

	memset(d, 0, sizeof(*d));
	d->scale = 1;
	if (!pa_isdigit(*p))
		return false;
	for (; pa_isdigit(*p); p++) {
		unsigned int dig = (unsigned int)(*p - '0');

		if (d->whole > (UINT64_MAX - dig) / 10)
			d->big = true;
		else
			d->whole = d->whole * 10 + dig;
	}
	if (*p == '.') {
		d->point = true;
		if (!pa_isdigit(*++p))
			return false;
		for (; pa_isdigit(*p); p++) {
			if (d->scale < 1000000000u) {
				d->frac = d->frac * 10 + (uint32_t)(*p - '0');
				d->scale *= 10;
			} else if (*p != '0') {
				d->dropped = true;
			}
		}
	}
	d->end = p;
	return true;
}

/*
 * d times unit, rounded down; *exact says whether that lost anything.
 * frac * unit stays below 10^9 * 2^30 < 2^60, so it cannot overflow.
 */
static int
pa_dec_scale(const struct pa_dec *d, uint64_t unit, uint64_t *out,
    bool *exact)
{
	uint64_t f, add;

	if (d->big || d->whole > UINT64_MAX / unit)
		return -ERANGE;
	f = (uint64_t)d->frac * unit;
	add = f / d->scale;
	if (d->whole * unit > UINT64_MAX - add)
		return -ERANGE;
	*out = d->whole * unit + add;
	*exact = f % d->scale == 0 && !d->dropped;
	return 0;
}

static bool
pa_dec_is_zero(const struct pa_dec *d)
{
	return d->whole == 0 && d->frac == 0 && !d->dropped && !d->big;
}

int
pa_parse_int(const char *s, int *out, struct bt_err *err)
{
	struct pa_dec d;
	bool neg = s[0] == '-';
	uint64_t lim = neg ? (uint64_t)INT_MAX + 1 : (uint64_t)INT_MAX;

	if (!pa_scan_dec(s + neg, &d) || d.point || *d.end != '\0')
		return pa_bad(err, -EINVAL, s, "is not a whole number");
	if (d.big || d.whole > lim)
		return pa_bad(err, -ERANGE, s, "is out of range (%d to %d)",
		    INT_MIN, INT_MAX);
	if (!neg)
		*out = (int)d.whole;
	else if (d.whole == lim)
		*out = INT_MIN;
	else
		*out = -(int)d.whole;
	return 0;
}

int
pa_parse_uint(const char *s, unsigned int *out, struct bt_err *err)
{
	struct pa_dec d;

	if (pa_is_negative(s))
		return pa_bad(err, -ERANGE, s, "must not be negative");
	if (!pa_scan_dec(s, &d) || d.point || *d.end != '\0')
		return pa_bad(err, -EINVAL, s, "is not a whole number");
	if (d.big || d.whole > UINT_MAX)
		return pa_bad(err, -ERANGE, s, "is out of range (at most %u)",
		    UINT_MAX);
	*out = (unsigned int)d.whole;
	return 0;
}

int
pa_parse_double(const char *s, double *out, struct bt_err *err)
{
	struct pa_dec d;
	double v;

	if (pa_is_negative(s))
		return pa_bad(err, -ERANGE, s, "must not be negative");
	if (!pa_scan_dec(s, &d) || *d.end != '\0')
		return pa_bad(err, -EINVAL, s, "is not a number");
	v = (double)d.whole + (double)d.frac / d.scale;
	if (d.big || v > PA_DOUBLE_MAX)
		return pa_bad(err, -ERANGE, s, "is too large (at most %g)",
		    PA_DOUBLE_MAX);
	*out = v;
	return 0;
}

/*
 * The multiplier of a size suffix: K, M or G in either case, alone or
 * followed by "B" or "iB"; dflt when there is no suffix; 0 when p is not a
 * suffix.
 */
static uint64_t
pa_size_unit(const char *p, uint64_t dflt)
{
	uint64_t unit;

	switch (*p) {
	case '\0':
		return dflt;
	case 'k':
	case 'K':
		unit = UINT64_C(1) << 10;
		break;
	case 'm':
	case 'M':
		unit = UINT64_C(1) << 20;
		break;
	case 'g':
	case 'G':
		unit = UINT64_C(1) << 30;
		break;
	default:
		return 0;
	}
	p++;
	if (*p == '\0' || strcmp(p, "B") == 0 || strcmp(p, "iB") == 0)
		return unit;
	return 0;
}

int
pa_parse_size(const char *s, uint64_t *out, struct bt_err *err)
{
	struct pa_dec d;
	uint64_t unit = 0, v;
	bool exact;

	if (pa_is_negative(s))
		return pa_bad(err, -ERANGE, s, "must not be negative");
	if (pa_scan_dec(s, &d))
		unit = pa_size_unit(d.end, 1);
	if (unit == 0)
		return pa_bad(err, -EINVAL, s, "is not a size (bytes, or a "
		    "number with a K, M or G suffix)");
	if (pa_dec_scale(&d, unit, &v, &exact) < 0)
		return pa_bad(err, -ERANGE, s, "is too large");
	if (!exact)
		return pa_bad(err, -EINVAL, s,
		    "is not a whole number of bytes");
	*out = v;
	return 0;
}

int
pa_parse_rate(const char *s, uint64_t *out, struct bt_err *err)
{
	struct pa_dec d;
	uint64_t unit = 0, v;
	bool exact;

	if (pa_is_negative(s))
		return pa_bad(err, -ERANGE, s, "must not be negative");
	/* Mainline's max_upload_rate was kB/s: a bare number is KiB/s. */
	if (pa_scan_dec(s, &d))
		unit = pa_size_unit(d.end, 1024);
	if (unit == 0)
		return pa_bad(err, -EINVAL, s, "is not a rate (KiB/s, or a "
		    "number with a K, M or G suffix)");
	if (pa_dec_scale(&d, unit, &v, &exact) < 0)
		return pa_bad(err, -ERANGE, s, "is too large");
	/* Rounding down to 0 would silently mean "unlimited". */
	if (v == 0 && !pa_dec_is_zero(&d))
		return pa_bad(err, -ERANGE, s,
		    "is less than 1 byte per second");
	*out = v;
	return 0;
}

/* Seconds per unit of a duration suffix; 0 when p is not one. */
static double
pa_duration_unit(const char *p)
{
	if (p[0] == '\0')
		return 1;
	if (p[1] != '\0')
		return 0;
	switch (p[0]) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 3600;
	case 'd':
		return 86400;
	default:
		return 0;
	}
}

int
pa_parse_duration(const char *s, double *out, struct bt_err *err)
{
	struct pa_dec d;
	double unit = 0, v;

	if (pa_is_negative(s))
		return pa_bad(err, -ERANGE, s, "must not be negative");
	if (pa_scan_dec(s, &d))
		unit = pa_duration_unit(d.end);
	if (unit == 0)
		return pa_bad(err, -EINVAL, s, "is not a duration (seconds, "
		    "or a number with an s, m, h or d suffix)");
	v = ((double)d.whole + (double)d.frac / d.scale) * unit;
	if (d.big || v > PA_DURATION_MAX)
		return pa_bad(err, -ERANGE, s, "is too long (at most %.0f "
		    "seconds)", PA_DURATION_MAX);
	*out = v;
	return 0;
}

int
pa_parse_bool(const char *s, bool *out, struct bt_err *err)
{
	if (strcmp(s, "0") == 0)
		*out = false;
	else if (strcmp(s, "1") == 0)
		*out = true;
	else
		return pa_bad(err, -EINVAL, s, "is not 0 or 1");
	return 0;
}

int
pa_parse_range(const char *s, uint64_t *out_start, uint64_t *out_end,
    struct bt_err *err)
{
	const char *dash = strchr(s, '-');
	char buf[64];
	uint64_t a, b = UINT64_MAX;
	size_t n;

	if (dash == NULL || dash == s || (size_t)(dash - s) >= sizeof(buf))
		return pa_bad(err, -EINVAL, s, "is not a range START-END "
		    "(or START-)");
	n = (size_t)(dash - s);
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (pa_parse_size(buf, &a, NULL) < 0 ||
	    (dash[1] != '\0' && pa_parse_size(dash + 1, &b, NULL) < 0))
		return pa_bad(err, -EINVAL, s, "is not a range of sizes "
		    "START-END (or START-)");
	if (a > b)
		return pa_bad(err, -ERANGE, s, "ends before it starts");
	*out_start = a;
	*out_end = b;
	return 0;
}

/* Find HOST (brackets stripped) and PORT in "HOST:PORT" / "[V6]:PORT". */
static int
pa_peer_split(const char *s, const char **host, size_t *len,
    const char **port, struct bt_err *err)
{
	const char *sep;

	if (s[0] == '[') {
		sep = strchr(s, ']');
		if (sep == NULL || sep[1] != ':')
			goto bad;
		*host = s + 1;
		*port = sep + 2;
	} else {
		sep = strchr(s, ':');
		if (sep == NULL)
			goto bad;
		if (strchr(sep + 1, ':') != NULL)
			return pa_bad(err, -EINVAL, s, "has more than one ':' "
			    "(write an IPv6 address as [ADDR]:PORT)");
		*host = s;
		*port = sep + 1;
	}
	*len = (size_t)(sep - *host);
	return 0;
bad:
	return pa_bad(err, -EINVAL, s, "is not HOST:PORT or [IPv6]:PORT");
}

/* HOST as an IPv6 address (in brackets), IPv4 address, or host name. */
static int
pa_peer_host(const char *s, const char *host, size_t len, bool v6,
    struct bt_err *err)
{
	static const char namechars[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._";
	char buf[PA_HOST_MAX];
	unsigned char addr[16];

	if (len == 0)
		return pa_bad(err, -EINVAL, s, "has no host");
	if (len > PA_HOSTNAME_MAX)
		return pa_bad(err, -EINVAL, s, "has a host name longer than "
		    "%d characters", PA_HOSTNAME_MAX);
	memcpy(buf, host, len);
	buf[len] = '\0';
	if (v6) {
		if (inet_pton(AF_INET6, buf, addr) != 1)
			return pa_bad(err, -EINVAL, s,
			    "has a bad IPv6 address");
	} else if (strspn(buf, "0123456789.") == len) {
		if (inet_pton(AF_INET, buf, addr) != 1)
			return pa_bad(err, -EINVAL, s,
			    "has a bad IPv4 address");
	} else if (strspn(buf, namechars) != len) {
		return pa_bad(err, -EINVAL, s, "has a bad host name");
	}
	return 0;
}

int
pa_parse_peer(const char *s, char *out_host, size_t hostlen,
    uint16_t *out_port, struct bt_err *err)
{
	const char *host = s, *port = "";
	struct pa_dec d;
	size_t len = 0;
	int r;

	r = pa_peer_split(s, &host, &len, &port, err);
	if (r == 0)
		r = pa_peer_host(s, host, len, host != s, err);
	if (r < 0)
		return r;
	if (!pa_scan_dec(port, &d) || d.point || *d.end != '\0')
		return pa_bad(err, -EINVAL, s, "has a bad port");
	if (d.big || d.whole < 1 || d.whole > 65535)
		return pa_bad(err, -ERANGE, s, "has a port outside 1-65535");
	if (out_host != NULL) {
		if (len >= hostlen)
			return pa_bad(err, -ENAMETOOLONG, s, "has a host name "
			    "too long for the buffer");
		memcpy(out_host, host, len);
		out_host[len] = '\0';
	}
	if (out_port != NULL)
		*out_port = (uint16_t)d.whole;
	return 0;
}

/*
 * Storing values.  The numeric types go through a union so the PA_F_*
 * checks can look at the value before the field is touched.
 */
union pa_num {
	int i;
	unsigned int u;
	double d;
	uint64_t q;
	bool b;
};

static int
pa_parse_num(enum pa_type t, const char *s, union pa_num *v,
    struct bt_err *err)
{
	switch (t) {
	case PA_INT:
		return pa_parse_int(s, &v->i, err);
	case PA_UINT:
		return pa_parse_uint(s, &v->u, err);
	case PA_DOUBLE:
		return pa_parse_double(s, &v->d, err);
	case PA_SIZE:
		return pa_parse_size(s, &v->q, err);
	case PA_RATE:
		return pa_parse_rate(s, &v->q, err);
	case PA_DURATION:
		return pa_parse_duration(s, &v->d, err);
	case PA_BOOL:
		return pa_parse_bool(s, &v->b, err);
	default:
		break;
	}
	fatal("parseargs: option type %d is not a number", (int)t);
}

static bool
pa_num_is_zero(enum pa_type t, const union pa_num *v)
{
	switch (t) {
	case PA_INT:
		return v->i == 0;
	case PA_UINT:
		return v->u == 0;
	case PA_DOUBLE:
	case PA_DURATION:
		return v->d == 0;
	case PA_SIZE:
	case PA_RATE:
		return v->q == 0;
	default:
		return !v->b;
	}
}

static void
pa_num_put(enum pa_type t, const union pa_num *v, void *field)
{
	switch (t) {
	case PA_INT:
		*(int *)field = v->i;
		break;
	case PA_UINT:
		*(unsigned int *)field = v->u;
		break;
	case PA_DOUBLE:
	case PA_DURATION:
		*(double *)field = v->d;
		break;
	case PA_SIZE:
	case PA_RATE:
		*(uint64_t *)field = v->q;
		break;
	default:
		*(bool *)field = v->b;
		break;
	}
}

static void
pa_list_add(struct pa_list *l, const char *s)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
}

/* Parse s as option o's value and store it in cfg. */
static int
pa_set_value(const struct pa_option *o, const char *s, void *cfg,
    struct bt_err *err)
{
	void *field = (char *)cfg + o->offset;
	union pa_num v;
	int r;

	r = o->check != NULL ? o->check(s, err) : 0;
	if (r < 0)
		return r;
	if (o->type == PA_STRING) {
		free(*(char **)field);
		*(char **)field = xstrdup(s);
		return 0;
	}
	if (o->type == PA_LIST) {
		pa_list_add(field, s);
		return 0;
	}
	memset(&v, 0, sizeof(v));
	r = pa_parse_num(o->type, s, &v, err);
	if (r < 0)
		return r;
	if ((o->flags & PA_F_NONZERO) && pa_num_is_zero(o->type, &v))
		return pa_bad(err, -ERANGE, s, "must not be zero");
	if ((o->flags & PA_F_PORT) && (v.u < 1 || v.u > 65535))
		return pa_bad(err, -ERANGE, s, "is not a port (1-65535)");
	pa_num_put(o->type, &v, field);
	return 0;
}

int
pa_set_defaults(const struct pa_option *opts, size_t nopts, void *cfg,
    struct bt_err *err)
{
	int r;

	for (size_t i = 0; i < nopts; i++) {
		if (opts[i].def == NULL ||
		    (opts[i].type == PA_LIST && opts[i].def[0] == '\0'))
			continue;
		r = pa_set_value(&opts[i], opts[i].def, cfg, err);
		if (r < 0) {
			bt_err_prefix(err, "default of --%s", opts[i].name);
			return r;
		}
	}
	return 0;
}

void
pa_release(const struct pa_option *opts, size_t nopts, void *cfg)
{
	for (size_t i = 0; i < nopts; i++) {
		void *field = (char *)cfg + opts[i].offset;
		struct pa_list *l = field;

		if (opts[i].type == PA_STRING) {
			free(*(char **)field);
			*(char **)field = NULL;
		} else if (opts[i].type == PA_LIST) {
			for (size_t k = 0; k < l->n; k++)
				free(l->v[k]);
			free(l->v);
			l->v = NULL;
			l->n = 0;
		}
	}
}

/*
 * The getopt_long(3) driver.  Table entry i answers as val PA_VAL0 + i,
 * above every char, so its long and short spellings map back to it.
 */
#define PA_VAL0		0x1000

struct pa_getopt {
	struct option *lo;	/* both spellings of each option, and help */
	char **dashed;		/* the dash spellings we allocated */
	size_t ndashed;
	char *shortopts;	/* ":h" then each short option */
};

static void
pa_getopt_add(struct pa_getopt *g, size_t *k, const char *name,
    const struct pa_option *o, int val)
{
	g->lo[*k].name = name;
	g->lo[*k].has_arg = o->type == PA_BOOL ? optional_argument :
	    required_argument;
	g->lo[*k].flag = NULL;
	g->lo[*k].val = val;
	(*k)++;
}

static void
pa_getopt_build(struct pa_getopt *g, const struct pa_option *opts,
    size_t n)
{
	size_t k = 0, s = 0;

	g->lo = xcalloc(2 * n + 2, sizeof(*g->lo));
	g->dashed = xcalloc(n + 1, sizeof(*g->dashed));
	g->ndashed = 0;
	g->shortopts = xmalloc(2 * n + 3);
	/* ':' first: a missing value is reported as ':', not '?'. */
	g->shortopts[s++] = ':';
	g->shortopts[s++] = 'h';
	for (size_t i = 0; i < n; i++) {
		int val = PA_VAL0 + (int)i;
		char *d;

		pa_getopt_add(g, &k, opts[i].name, &opts[i], val);
		if (strchr(opts[i].name, '_') != NULL) {
			d = xstrdup(opts[i].name);
			g->dashed[g->ndashed++] = d;
			pa_getopt_add(g, &k, d, &opts[i], val);
			for (; *d != '\0'; d++)
				*d = *d == '_' ? '-' : *d;
		}
		if (opts[i].short_opt != 0) {
			g->shortopts[s++] = (char)opts[i].short_opt;
			if (opts[i].type != PA_BOOL)
				g->shortopts[s++] = ':';
		}
	}
	g->lo[k].name = "help";
	g->lo[k].has_arg = no_argument;
	g->lo[k].val = 'h';
	g->shortopts[s] = '\0';
}

static void
pa_getopt_free(struct pa_getopt *g)
{
	for (size_t i = 0; i < g->ndashed; i++)
		free(g->dashed[i]);
	free(g->dashed);
	free(g->lo);
	free(g->shortopts);
}

/* One pa_parse() call. */
struct pa_run {
	const struct pa_option *opts;
	size_t n;
	int argc;
	char **argv;
	void *cfg;
	struct bt_err *err;
};

/* The table entry getopt_long answered with c, or NULL. */
static const struct pa_option *
pa_lookup(const struct pa_run *run, int c)
{
	if (c >= PA_VAL0 && (size_t)(c - PA_VAL0) < run->n)
		return &run->opts[c - PA_VAL0];
	for (size_t i = 0; i < run->n && c > 0; i++)
		if (run->opts[i].short_opt == c)
			return &run->opts[i];
	return NULL;
}

/* pre (n bytes) starts name, counting '-' and '_' as the same. */
static bool
pa_name_prefix(const char *name, const char *pre, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char a = name[i] == '-' ? '_' : name[i];
		char b = pre[i] == '-' ? '_' : pre[i];

		if (a == '\0' || a != b)
			return false;
	}
	return true;
}

/*
 * getopt_long rejected argv[optind - 1] as a long option: unknown, or a
 * prefix of several (getopt does not say which).
 */
static int
pa_unknown_long(const struct pa_run *run)
{
	const char *arg = "?", *name;
	char esc[PA_ESC_LEN];
	size_t len, matches = 0;

	if (optind >= 1 && optind - 1 < run->argc)
		arg = run->argv[optind - 1];
	name = arg + strspn(arg, "-");
	len = strcspn(name, "=");
	log_escape(esc, sizeof(esc), arg, (size_t)(name - arg) + len);
	for (size_t i = 0; i < run->n; i++)
		matches += pa_name_prefix(run->opts[i].name, name, len);
	matches += pa_name_prefix("help", name, len);
	if (len > 0 && matches > 1)
		return bt_err_set(run->err, -EINVAL,
		    "option '%s' is ambiguous", esc);
	return bt_err_set(run->err, -EINVAL, "unrecognized option '%s'", esc);
}

/* getopt_long returned '?' or ':'; optopt tells which option. */
static int
pa_getopt_error(const struct pa_run *run, int c)
{
	const struct pa_option *o = pa_lookup(run, optopt);
	char ch[2] = { (char)optopt, '\0' };
	char esc[PA_ESC_LEN];

	if (c == ':' && o != NULL)
		return bt_err_set(run->err, -EINVAL, "--%s: missing value",
		    o->name);
	if (optopt == 'h')
		return bt_err_set(run->err, -EINVAL,
		    "--help does not take a value");
	if (o != NULL)
		return bt_err_set(run->err, -EINVAL,
		    "--%s does not take a value", o->name);
	if (optopt > 0 && optopt < PA_VAL0) {
		log_escape(esc, sizeof(esc), ch, 1);
		return bt_err_set(run->err, -EINVAL,
		    "unrecognized option '-%s'", esc);
	}
	return pa_unknown_long(run);
}

static int
pa_apply(const struct pa_run *run, const struct pa_option *o, const char *s)
{
	int r;

	r = pa_set_value(o, s, run->cfg, run->err);
	if (r < 0)
		bt_err_prefix(run->err, "--%s", o->name);
	return r;
}

static bool
pa_is_01(const char *s)
{
	return strcmp(s, "0") == 0 || strcmp(s, "1") == 0;
}

/*
 * A PA_BOOL option: "--name", "--name=0" or "--name=1".  Mainline took
 * every option as "--name value", so a long flag followed by a lone "0" or
 * "1" takes it as its value and "--check_hashes 0" still works.  (A torrent
 * named "0" or "1" can be given as "./0".)  Stepping optind over the value
 * is what getopt_long itself does for a separate argument.
 */
static int
pa_flag(const struct pa_run *run, const struct pa_option *o, bool is_long)
{
	const char *s = optarg;

	if (s == NULL && is_long && optind < run->argc &&
	    pa_is_01(run->argv[optind]))
		s = run->argv[optind++];
	return pa_apply(run, o, s != NULL ? s : "1");
}

/* Act on one getopt_long answer: 0, PA_HELP or an error. */
static int
pa_one(const struct pa_run *run, int c, int longindex)
{
	const struct pa_option *o;

	if (c == 'h')
		return PA_HELP;
	if (c == '?' || c == ':')
		return pa_getopt_error(run, c);
	o = pa_lookup(run, c);
	if (o == NULL)
		fatal("parseargs: getopt_long returned %d", c);
	if (o->type == PA_BOOL)
		return pa_flag(run, o, longindex >= 0);
	return pa_apply(run, o, optarg);
}

int
pa_parse(const struct pa_option *opts, size_t nopts, int argc, char **argv,
    void *cfg, int *out_optind, struct bt_err *err)
{
	struct pa_run run = { opts, nopts, argc, argv, cfg, err };
	struct pa_getopt g;
	int c, li, r = 0, saved_opterr = opterr;

	pa_getopt_build(&g, opts, nopts);
	opterr = 0;
	/*
	 * optind = 0 is a full reset (glibc, musl and the BSDs): it also
	 * forgets the position inside "-abc" and the permutation state.
	 */
	optind = 0;
	for (;;) {
		li = -1;
		c = getopt_long(argc, argv, g.shortopts, g.lo, &li);
		if (c == -1)
			break;
		r = pa_one(&run, c, li);
		if (r != 0)
			break;
	}
	if (out_optind != NULL)
		*out_optind = optind > argc ? argc : optind;
	opterr = saved_opterr;
	pa_getopt_free(&g);
	return r;
}

/*
 * --help.  Text is wrapped at PA_COLS.  pa_word() puts one unbreakable
 * piece on a line that is already at column col (starting a new one if it
 * does not fit) and returns the new column.
 */
static int
pa_word(FILE *fp, int col, const char *w, int wl, int indent)
{
	if (col > indent && col + 1 + wl > PA_COLS) {
		fputc('\n', fp);
		col = 0;
	}
	if (col < indent) {
		fprintf(fp, "%*s", indent - col, "");
		col = indent;
	} else if (col > indent) {
		fputc(' ', fp);
		col++;
	}
	fwrite(w, 1, (size_t)wl, fp);
	return col + wl;
}

static int
pa_wrap(FILE *fp, int col, const char *text, int indent)
{
	const char *p = text;
	int wl;

	for (;;) {
		p += strspn(p, " ");
		if (*p == '\0')
			return col;
		wl = (int)strcspn(p, " ");
		col = pa_word(fp, col, p, wl, indent);
		p += wl;
	}
}

static const char *
pa_metavar(const struct pa_option *o)
{
	static const char *const names[] = {
		[PA_INT] = "N", [PA_UINT] = "N", [PA_DOUBLE] = "NUM",
		[PA_SIZE] = "SIZE", [PA_RATE] = "RATE", [PA_DURATION] = "TIME",
		[PA_STRING] = "STR", [PA_BOOL] = "", [PA_LIST] = "STR",
	};

	if (o->metavar != NULL)
		return o->metavar;
	/* A flag that is on by default is only ever turned off. */
	if (o->type == PA_BOOL)
		return o->def != NULL && strcmp(o->def, "1") == 0 ? "0|1" : "";
	return names[o->type];
}

static void
pa_print_option(FILE *fp, const struct pa_option *o)
{
	const char *mv = pa_metavar(o);
	char def[PA_COLS];
	int col, len;

	if (o->short_opt != 0)
		fprintf(fp, "  -%c, ", o->short_opt);
	else
		fputs("      ", fp);
	fprintf(fp, "--%s%s%s\n", o->name, *mv != '\0' ? " " : "", mv);
	col = pa_wrap(fp, 0, o->help, PA_HELP_INDENT);
	if (o->def != NULL && o->def[0] != '\0' &&
	    !(o->type == PA_BOOL && strcmp(o->def, "0") == 0)) {
		len = snprintf(def, sizeof(def), "(default: %s)", o->def);
		if (len >= (int)sizeof(def))
			len = (int)sizeof(def) - 1;
		pa_word(fp, col, def, len, PA_HELP_INDENT);
	}
	fputc('\n', fp);
}

void
pa_print_options(FILE *fp, const struct pa_option *opts, size_t nopts)
{
	static const struct pa_option help = {
		.name = "help", .type = PA_BOOL, .short_opt = 'h',
		.help = "print this help and exit",
	};

	pa_print_option(fp, &help);
	for (size_t i = 0; i < nopts; i++)
		pa_print_option(fp, &opts[i]);
}

/*
 * btdownload.  CFG() is the offset of a field of struct pa_config, and
 * refuses to compile unless the field has the C type T, so the table and
 * the struct cannot drift apart.
 */
#define CFG(f, T)							\
	(offsetof(struct pa_config, f) +				\
	    0 * _Generic(((struct pa_config *)0)->f, T: 1))
#define O_(f, t, T)	.name = #f, .type = t, .offset = CFG(f, T)
#define O_UINT(f)	O_(f, PA_UINT, unsigned int)
#define O_SIZE(f)	O_(f, PA_SIZE, uint64_t)
#define O_RATE(f)	O_(f, PA_RATE, uint64_t)
#define O_TIME(f)	O_(f, PA_DURATION, double)
#define O_STR(f)	O_(f, PA_STRING, char *)
#define O_BOOL(f)	O_(f, PA_BOOL, bool)
#define O_LIST(f)	O_(f, PA_LIST, struct pa_list)

static pa_check_fn pa_check_peer, pa_check_range, pa_check_pattern;

/* The defaults are mainline 3.4.2's (download.py). */
static const struct pa_option pa_btdownload_opts[] = {
	{ O_UINT(max_uploads), .def = "7",
	    .help = "the most peers to upload to at once" },
	{ O_TIME(keepalive_interval), .def = "120", .flags = PA_F_NONZERO,
	    .help = "send a keepalive after this long without sending "
	    "anything" },
	{ O_SIZE(download_slice_size), .def = "16384", .flags = PA_F_NONZERO,
	    .help = "how many bytes to ask a peer for in one request" },
	{ O_UINT(request_backlog), .def = "5", .flags = PA_F_NONZERO,
	    .help = "the fewest requests to keep outstanding with each peer" },
	{ O_TIME(request_queue_time), .def = "3",
	    .help = "keep this long of each peer's measured download rate "
	    "requested (from request_backlog up to 256 requests); 0 keeps "
	    "exactly request_backlog" },
	{ O_SIZE(max_message_length), .def = "8M", .flags = PA_F_NONZERO,
	    .help = "drop a peer that announces a longer message" },
	{ O_STR(ip), .def = "", .metavar = "ADDR",
	    .help = "the IP address or host name to report to the tracker" },
	{ O_UINT(minport), .def = "6881", .metavar = "PORT",
	    .flags = PA_F_PORT,
	    .help = "the lowest port to listen on; if it is busy the next "
	    "one is tried, up to maxport" },
	{ O_UINT(maxport), .def = "6999", .metavar = "PORT",
	    .flags = PA_F_PORT, .help = "the highest port to listen on" },
	{ O_STR(responsefile), .def = "", .metavar = "FILE",
	    .help = "the .torrent file to download (instead of the "
	    "argument)" },
	{ O_STR(url), .def = "", .metavar = "URL",
	    .help = "fetch the .torrent file from this URL (not supported "
	    "yet)" },
	{ O_STR(saveas), .def = "", .metavar = "PATH",
	    .help = "where to save the file or directory (default: the name "
	    "in the torrent)" },
	{ O_TIME(timeout), .def = "300", .flags = PA_F_NONZERO,
	    .help = "close a connection that has received nothing for this "
	    "long" },
	{ O_TIME(timeout_check_interval), .def = "60", .flags = PA_F_NONZERO,
	    .help = "how often to look for timed-out connections" },
	{ O_SIZE(max_slice_length), .def = "128K", .flags = PA_F_NONZERO,
	    .help = "drop a peer that asks for more than this in one "
	    "request" },
	{ O_TIME(max_rate_period), .def = "20", .flags = PA_F_NONZERO,
	    .help = "the longest window over which transfer rates are "
	    "measured" },
	{ O_STR(bind), .def = "", .metavar = "ADDR",
	    .help = "the local IP address to listen on" },
	{ O_TIME(upload_rate_fudge), .def = "5",
	    .help = "time added to the start of the upload-rate window, an "
	    "allowance for data still in TCP buffers" },
	/* No default: pa_config_defaults() leaves it negative, "unset". */
	{ O_TIME(display_interval), .flags = PA_F_NONZERO,
	    .help = "how often to update the status display (default: 0.5 "
	    "on a terminal, 1 otherwise)" },
	/* No default either: given, it may override the tracker's min
	 * interval while we are short of peers (rerequester.h). */
	{ O_TIME(rerequest_interval), .flags = PA_F_NONZERO,
	    .help = "how often to check whether to ask the tracker for more "
	    "peers; when given, announce this often while short of peers "
	    "even if the tracker's min interval is longer (default: 300)" },
	{ O_UINT(min_peers), .def = "20",
	    .help = "ask the tracker for more peers when connected to "
	    "fewer" },
	{ O_TIME(http_timeout), .def = "60", .flags = PA_F_NONZERO,
	    .help = "give up on a tracker request after this long" },
	{ O_UINT(max_initiate), .def = "35",
	    .help = "stop making connections once this many peers are "
	    "connected" },
	{ O_UINT(max_allow_in), .def = "55",
	    .help = "refuse connections once this many peers are "
	    "connected" },
	{ O_STR(tcp_congestion), .def = "", .metavar = "NAME",
	    .help = "the TCP congestion control of peer connections, as "
	    "listed in /proc/sys/net/ipv4/tcp_allowed_congestion_control; "
	    "empty means the system's default" },
	{ O_UINT(max_conns_per_ip), .def = "8",
	    .help = "at most this many connections with one IP address for "
	    "each torrent, incoming and outgoing together, and as many "
	    "waiting for their handshake; 0 means no limit" },
	{ O_BOOL(check_hashes), .def = "1",
	    .help = "at start-up, hash the existing data the resume file does "
	    "not vouch for; 0 trusts all existing data without hashing" },
	{ O_RATE(max_upload_rate), .def = "0",
	    .help = "the highest upload rate; 0 means unlimited" },
	{ O_TIME(snub_time), .def = "30", .flags = PA_F_NONZERO,
	    .help = "count a peer as snubbing us after this long without "
	    "data" },
	{ O_BOOL(spew), .def = "0",
	    .help = "show each peer's state in the status display" },
	{ O_UINT(rarest_first_cutoff), .def = "4",
	    .help = "how many pieces to pick at random before switching to "
	    "rarest first" },
	{ O_UINT(min_uploads), .def = "4",
	    .help = "upload to at least this many peers, adding optimistic "
	    "unchokes" },
	{ O_BOOL(report_hash_failures), .def = "0",
	    .help = "report each piece that fails its hash check (it is "
	    "downloaded again either way)" },
	/* Not in mainline 3.4.2. */
	{ O_RATE(max_download_rate), .def = "0",
	    .help = "the highest download rate; 0 means unlimited" },
	{ O_LIST(peer), .metavar = "HOST:PORT", .check = pa_check_peer,
	    .help = "also connect to this peer ([ADDR]:PORT for IPv6); may "
	    "be given more than once" },
	{ O_BOOL(no_seed), .def = "0",
	    .help = "exit once the download is complete and verified, "
	    "instead of seeding" },
	{ O_BOOL(verbose), .def = "0", .short_opt = 'v',
	    .help = "log debugging details" },
	{ O_BOOL(quiet), .def = "0", .short_opt = 'q',
	    .help = "log errors only" },
	{ O_UINT(max_open_files), .def = "50", .flags = PA_F_NONZERO,
	    .help = "the most files to keep open at once" },
	{ O_UINT(numwant), .def = "50",
	    .help = "how many peers to ask the tracker for" },
	{ O_TIME(connect_timeout), .def = "15", .flags = PA_F_NONZERO,
	    .help = "give up on connecting to a peer after this long" },
	/* Cron and scripts. */
	{ O_(seed_ratio, PA_DOUBLE, double), .def = "0", .metavar = "RATIO",
	    .help = "once complete, seed until uploaded / size reaches "
	    "RATIO (counted over all runs); 0 means no ratio limit" },
	{ O_TIME(seed_time), .def = "0",
	    .help = "once complete, seed for this long, then exit; 0 means "
	    "no time limit" },
	{ O_TIME(stall_timeout), .def = "0",
	    .help = "give up (exit status 6) when no data has arrived for "
	    "this long while incomplete; 0 means never" },
	{ O_BOOL(recheck), .def = "0",
	    .help = "ignore the resume file and hash all existing data" },
	{ O_TIME(resume_interval), .def = "5", .flags = PA_F_NONZERO,
	    .help = "how often to save the resume file while pieces arrive" },
	{ O_BOOL(status_json), .def = "0",
	    .help = "print the status as one JSON object per line when "
	    "standard output is not a terminal, and once at exit" },
	{ O_STR(on_complete), .def = "", .metavar = "CMD",
	    .help = "run CMD with /bin/sh when the download is complete and "
	    "verified; $1, $2, $3 are the name, info hash and save path" },
	{ O_STR(on_seed_done), .def = "", .metavar = "CMD",
	    .help = "run CMD with /bin/sh when the seeding policy is met, "
	    "with the same arguments" },
	{ O_BOOL(daemon), .def = "0",
	    .help = "run in the background, logging to --logfile or syslog" },
	{ O_STR(pidfile), .def = "", .metavar = "FILE",
	    .help = "write the process id to FILE" },
	{ O_STR(logfile), .def = "", .metavar = "FILE",
	    .help = "append log lines to FILE instead of standard error" },
	/* Choosing what to download. */
	{ O_BOOL(sequential), .def = "0",
	    .help = "download pieces in order, first to last (for "
	    "streaming), instead of rarest first" },
	{ O_LIST(only), .metavar = "PATTERN", .check = pa_check_pattern,
	    .help = "download only the files whose path in the torrent "
	    "matches this shell pattern, or whose number is N or in N-M "
	    "(from 1, in btshowmetainfo's order); may be given more than "
	    "once" },
	{ O_LIST(skip), .metavar = "PATTERN", .check = pa_check_pattern,
	    .help = "do not download the files this pattern or number "
	    "matches; may be given more than once" },
	{ O_STR(range), .def = "", .metavar = "START-END",
	    .check = pa_check_range,
	    .help = "download only the pieces holding bytes START to END "
	    "(included; sizes, END may be left out) of the torrent's "
	    "content" },
};

/* btlaunchmany's own options; the rest are btdownload's. */
static const struct pa_option pa_launchmany_extra[] = {
	{ O_STR(saveas_dir), .def = "", .metavar = "DIR",
	    .help = "save each torrent's data in DIR, under the name in the "
	    "torrent (default: the torrent directory)" },
	{ O_TIME(scan_interval), .def = "2", .flags = PA_F_NONZERO,
	    .help = "how often to look for new, changed and removed .torrent "
	    "files" },
};

/* btdownload's options that mean one torrent, left out of btlaunchmany. */
static const char *const pa_launchmany_omit[] = {
	"responsefile", "url", "saveas", "only", "skip", "range",
};

#define PA_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static int
pa_check_peer(const char *s, struct bt_err *err)
{
	return pa_parse_peer(s, NULL, 0, NULL, err);
}

static int
pa_check_range(const char *s, struct bt_err *err)
{
	uint64_t a, b;

	return s[0] == '\0' ? 0 : pa_parse_range(s, &a, &b, err);
}

static int
pa_check_pattern(const char *s, struct bt_err *err)
{
	if (s[0] == '\0')
		return pa_bad(err, -EINVAL, s, "is an empty pattern");
	return 0;
}

const struct pa_option *
pa_btdownload_options(size_t *out_n)
{
	*out_n = sizeof(pa_btdownload_opts) / sizeof(pa_btdownload_opts[0]);
	return pa_btdownload_opts;
}

size_t
pa_btlaunchmany_options(struct pa_option *out, size_t cap)
{
	const struct pa_option *opts;
	size_t n, k = 0;

	opts = pa_btdownload_options(&n);
	for (size_t i = 0; i < n; i++) {
		bool omit = false;

		for (size_t j = 0; j < PA_NELEM(pa_launchmany_omit); j++)
			omit = omit || strcmp(opts[i].name,
			    pa_launchmany_omit[j]) == 0;
		if (!omit && k < cap)
			out[k++] = opts[i];
	}
	for (size_t i = 0; i < PA_NELEM(pa_launchmany_extra) && k < cap; i++)
		out[k++] = pa_launchmany_extra[i];
	return k;
}

void
pa_config_defaults(struct pa_config *cfg)
{
	struct bt_err err = BT_ERR_INIT;
	const struct pa_option *opts;
	size_t n;

	opts = pa_btdownload_options(&n);
	*cfg = (struct pa_config){ 0 };
	cfg->display_interval = -1.0;
	cfg->rerequest_interval = -1.0;
	if (pa_set_defaults(opts, n, cfg, &err) < 0 ||
	    pa_set_defaults(pa_launchmany_extra,
	    PA_NELEM(pa_launchmany_extra), cfg, &err) < 0)
		fatal("parseargs: %s", err.msg);
}

void
pa_config_release(struct pa_config *cfg)
{
	const struct pa_option *opts;
	size_t n;

	opts = pa_btdownload_options(&n);
	pa_release(opts, n, cfg);
	pa_release(pa_launchmany_extra, PA_NELEM(pa_launchmany_extra), cfg);
	free(cfg->torrent_dir);
	cfg->torrent_dir = NULL;
}

int
pa_config_check(const struct pa_config *cfg, struct bt_err *err)
{
	if (cfg->minport > cfg->maxport)
		return bt_err_set(err, -EINVAL, "--minport %u is above "
		    "--maxport %u", cfg->minport, cfg->maxport);
	if (cfg->verbose && cfg->quiet)
		return bt_err_set(err, -EINVAL,
		    "--verbose and --quiet cannot be used together");
	return 0;
}

static bool
pa_is_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* The torrent: one positional argument, --responsefile or --url. */
static int
pa_take_torrent(struct pa_config *cfg, int n, char **args,
    struct bt_err *err)
{
	char esc[PA_ESC_LEN];
	char **field;
	bool file = cfg->responsefile[0] != '\0', url = cfg->url[0] != '\0';

	if (n > 1) {
		log_escape(esc, sizeof(esc), args[1], strlen(args[1]));
		return bt_err_set(err, -EINVAL, "unexpected argument '%s' "
		    "(give one torrent file)", esc);
	}
	if (n == 1 && (file || url))
		return bt_err_set(err, -EINVAL, "give the torrent either as "
		    "an argument or with --%s, not both",
		    file ? "responsefile" : "url");
	if (n == 1 && args[0][0] == '\0')
		return bt_err_set(err, -EINVAL, "empty torrent file name");
	if (n == 1) {
		field = pa_is_url(args[0]) ? &cfg->url : &cfg->responsefile;
		free(*field);
		*field = xstrdup(args[0]);
	} else if (file && url) {
		return bt_err_set(err, -EINVAL,
		    "give either --responsefile or --url, not both");
	} else if (!file && !url) {
		return bt_err_set(err, -EINVAL,
		    "no torrent file given (see --help)");
	}
	return 0;
}

int
pa_parse_btdownload(int argc, char **argv, struct pa_config *out,
    struct bt_err *err)
{
	const struct pa_option *opts;
	size_t n;
	int first = argc, r;

	opts = pa_btdownload_options(&n);
	pa_config_defaults(out);
	r = pa_parse(opts, n, argc, argv, out, &first, err);
	if (r == PA_HELP)
		pa_print_help(stdout, argc > 0 ? argv[0] : NULL);
	if (r == 0)
		r = pa_take_torrent(out, argc - first, argv + first, err);
	if (r == 0)
		r = pa_config_check(out, err);
	if (r != 0)
		pa_config_release(out);
	return r;
}

/* How option values are written, for both programs' --help. */
static const char *const pa_help_syntax[] = {
	"Options may be written with underscores or dashes "
	"(--max_upload_rate or --max-upload-rate) and take their "
	"value as the next argument or after '=' (--timeout=60).",
	"SIZE is bytes, or a number with a K, M or G suffix for KiB, "
	"MiB or GiB (16K, 8M).  RATE is KiB per second (100), or a "
	"number with a K, M or G suffix for KiB/s, MiB/s or GiB/s "
	"(2M); 0 means unlimited.  TIME is seconds (30), or a number "
	"with an s, m, h or d suffix (90m, 1.5h).",
};

static void
pa_print_usage(FILE *fp, const char *prog, const char *dflt,
    const char *args, const char *intro, const struct pa_option *opts,
    size_t n)
{
	const char *slash;

	if (prog == NULL || *prog == '\0')
		prog = dflt;
	slash = strrchr(prog, '/');
	if (slash != NULL && slash[1] != '\0')
		prog = slash + 1;
	fprintf(fp, "usage: %s [options] %s\n\n", prog, args);
	pa_wrap(fp, 0, intro, 0);
	fputs("\n\n", fp);
	for (size_t i = 0; i < PA_NELEM(pa_help_syntax); i++) {
		pa_wrap(fp, 0, pa_help_syntax[i], 0);
		fputs("\n\n", fp);
	}
	fputs("Options:\n", fp);
	pa_print_options(fp, opts, n);
}

void
pa_print_help(FILE *fp, const char *prog)
{
	const struct pa_option *opts;
	size_t n;

	opts = pa_btdownload_options(&n);
	pa_print_usage(fp, prog, "btdownload", "FILE.torrent",
	    "Download the files a .torrent file describes, then go on "
	    "uploading them to other peers until interrupted, or until "
	    "the seeding policy given by --no_seed, --seed_ratio or "
	    "--seed_time is met.", opts, n);
}

void
pa_print_launchmany_help(FILE *fp, const char *prog)
{
	struct pa_option opts[PA_LAUNCHMANY_MAX];
	size_t n = pa_btlaunchmany_options(opts, PA_LAUNCHMANY_MAX);

	pa_print_usage(fp, prog, "btlaunchmany", "DIR",
	    "Download and seed every .torrent file in DIR, in one process "
	    "with one listening port; a .torrent file added to DIR is "
	    "started once it is fully written, and one removed is "
	    "stopped.  Every option applies to each torrent, except the "
	    "rate caps, which are shared by all of them.", opts, n);
}

int
pa_parse_btlaunchmany(int argc, char **argv, struct pa_config *out,
    struct bt_err *err)
{
	struct pa_option opts[PA_LAUNCHMANY_MAX];
	size_t n = pa_btlaunchmany_options(opts, PA_LAUNCHMANY_MAX);
	int first = argc, r;
	char esc[PA_ESC_LEN];

	pa_config_defaults(out);
	r = pa_parse(opts, n, argc, argv, out, &first, err);
	if (r == PA_HELP)
		pa_print_launchmany_help(stdout, argc > 0 ? argv[0] : NULL);
	if (r == 0 && argc - first != 1) {
		if (argc - first > 1)
			log_escape(esc, sizeof(esc), argv[first + 1],
			    strlen(argv[first + 1]));
		r = argc - first == 0 ? bt_err_set(err, -EINVAL,
		    "no torrent directory given (see --help)") :
		    bt_err_set(err, -EINVAL, "unexpected argument '%s' (give "
		    "one directory)", esc);
	}
	if (r == 0 && argv[first][0] == '\0')
		r = bt_err_set(err, -EINVAL, "empty directory name");
	if (r == 0) {
		out->torrent_dir = xstrdup(argv[first]);
		r = pa_config_check(out, err);
	}
	if (r != 0)
		pa_config_release(out);
	return r;
}

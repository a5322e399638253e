/*
 * json: see the header.
 */
#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

static void
json_put(struct json *j, const void *p, size_t n)
{
	if (j->len + n + 1 > j->cap) {
		j->cap = (j->len + n + 1) * 2 > 256 ? (j->len + n + 1) * 2 :
		    256;
		j->p = xrealloc(j->p, j->cap);
	}
	memcpy(j->p + j->len, p, n);
	j->len += n;
	j->p[j->len] = '\0';
}

static void
json_putc(struct json *j, char c)
{
	json_put(j, &c, 1);
}

void
json_begin(struct json *j)
{
	j->len = 0;
	j->first = true;
	json_putc(j, '{');
}

/*
 * Length of the valid UTF-8 sequence at p (n bytes left), or 0: no
 * overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629).
 */
static size_t
json_utf8_len(const uint8_t *p, size_t n)
{
	size_t len;
	uint32_t c;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	/* The lead byte keeps 7 - len bits of the code point. */
	c = p[0] & (0x7fu >> len);
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return len;
}

static void
json_escape_ctl(struct json *j, uint8_t c)
{
	static const char hex[] = "0123456789abcdef";
	char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

	switch (c) {
	case '\n':
		json_put(j, "\\n", 2);
		break;
	case '\t':
		json_put(j, "\\t", 2);
		break;
	case '\r':
		json_put(j, "\\r", 2);
		break;
	default:
		json_put(j, u, sizeof(u));
		break;
	}
}

void
json_escape(struct json *j, const void *src, size_t n)
{
	const uint8_t *p = src;
	size_t k;

	for (size_t i = 0; i < n; i += k) {
		k = json_utf8_len(p + i, n - i);
		if (k == 0) {
			json_put(j, "\\ufffd", 6);
			k = 1;
		} else if (p[i] == '"' || p[i] == '\\') {
			json_putc(j, '\\');
			json_putc(j, (char)p[i]);
		} else if (p[i] < 0x20) {
			json_escape_ctl(j, p[i]);
		} else {
			json_put(j, p + i, k);
		}
	}
}

static void
json_key(struct json *j, const char *key)
{
	if (!j->first)
		json_putc(j, ',');
	j->first = false;
	json_putc(j, '"');
	json_put(j, key, strlen(key));
	json_put(j, "\":", 2);
}

void
json_strn(struct json *j, const char *key, const void *p, size_t n)
{
	json_key(j, key);
	json_putc(j, '"');
	json_escape(j, p, n);
	json_putc(j, '"');
}

void
json_str(struct json *j, const char *key, const char *s)
{
	if (s == NULL)
		json_null(j, key);
	else
		json_strn(j, key, s, strlen(s));
}

void
json_u64(struct json *j, const char *key, uint64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);

	json_key(j, key);
	json_put(j, buf, (size_t)n);
}

void
json_i64(struct json *j, const char *key, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRId64, v);

	json_key(j, key);
	json_put(j, buf, (size_t)n);
}

void
json_double(struct json *j, const char *key, double v, int decimals)
{
	char buf[64];
	int n;

	if (!isfinite(v) || fabs(v) >= 1e18) {
		json_null(j, key);
		return;
	}
	n = snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	/* "-0.00" is valid JSON, but say 0. */
	if (strspn(buf, "-0.") == (size_t)n)
		n = snprintf(buf, sizeof(buf), "0");
	json_key(j, key);
	json_put(j, buf, (size_t)n);
}

void
json_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	json_put(j, v ? "true" : "false", v ? 4 : 5);
}

void
json_null(struct json *j, const char *key)
{
	json_key(j, key);
	json_put(j, "null", 4);
}

const char *
json_end(struct json *j)
{
	json_putc(j, '}');
	return j->p;
}

void
json_release(struct json *j)
{
	free(j->p);
	*j = (struct json)JSON_INIT;
}

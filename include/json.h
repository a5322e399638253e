/*
 * json: build one JSON object (RFC 8259) on one line, for machine-readable
 * status output.
 *
 *	struct json j = JSON_INIT;
 *
 *	json_begin(&j);
 *	json_str(&j, "state", "seeding");
 *	json_u64(&j, "done", 42);
 *	puts(json_end(&j));
 *	json_release(&j);
 *
 * Strings are escaped: '"', '\\' and control characters as \" \\ \n \t
 * or \u00XX; bytes that are not valid UTF-8 become U+FFFD, so the output
 * is always valid JSON in UTF-8 whatever the input.  Keys are the
 * caller's literals and are written as they are.  Allocation cannot fail
 * (xmalloc).
 */
#ifndef BT_JSON_H
#define BT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json {
	char *p;
	size_t len, cap;
	bool first;	/* no member written yet */
};

#define JSON_INIT { NULL, 0, 0, true }

/* Start an object (the buffer is reset). */
void json_begin(struct json *j);
/* s may be NULL: null. */
void json_str(struct json *j, const char *key, const char *s);
void json_strn(struct json *j, const char *key, const void *p, size_t n);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
/* A number with at most `decimals` decimals; NaN and infinities: null. */
void json_double(struct json *j, const char *key, double v, int decimals);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);
/* Close the object; the NUL-terminated line (no newline), borrowed. */
const char *json_end(struct json *j);
void json_release(struct json *j);

/* Append n bytes as the body of a JSON string (no quotes) to j. */
void json_escape(struct json *j, const void *p, size_t n);

#endif

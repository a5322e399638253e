/*
 * Tracker URLs and redirects: the input is "URL\0LOCATION".  hg_parse_url
 * parses the URL (from a .torrent); when it is accepted, the Location
 * value (from the tracker) is resolved against it with
 * hg_resolve_location, and the result parsed again as the next URL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bterr.h"
#include "fuzz.h"
#include "httpget.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Printable ASCII without spaces: safe to log (resolver.c does). */
static void
check_text(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			abort();
}

static void
check_url(const struct hg_url *u)
{
	if (u->host[0] == '\0' || u->port == 0 || u->path[0] != '/' ||
	    strlen(u->host) > HG_HOST_MAX || strlen(u->path) >= HG_MAX_URL)
		abort();
	check_text(u->host);
	check_text(u->path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_err err = BT_ERR_INIT;
	struct hg_url *base, *next;
	char *s, *loc, out[HG_MAX_URL];

	if (size > 3 * HG_MAX_URL)
		return 0;
	s = malloc(size + 2);
	base = malloc(sizeof(*base));
	next = malloc(sizeof(*next));
	if (s == NULL || base == NULL || next == NULL)
		goto out;
	memcpy(s, data, size);
	s[size] = '\0';
	s[size + 1] = '\0';
	loc = s + strlen(s) + 1;
	if (hg_parse_url(s, base, &err) != 0) {
		fuzz_check_msg(err.msg);
		goto out;
	}
	check_url(base);
	if (hg_resolve_location(base, loc, out, sizeof(out)) == 0) {
		if (memchr(out, '\0', sizeof(out)) == NULL)
			abort();
		if (hg_parse_url(out, next, &err) == 0)
			check_url(next);
	}
out:
	free(s);
	free(base);
	free(next);
	return 0;
}

/*
 * selection: see the header.
 */
#include "selection.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "bitfield.h"
#include "bterr.h"
#include "log.h"

/* "N" or "N-M", decimal; false when s is not a number pattern. */
static bool
sel_numbers(const char *s, unsigned long long *lo, unsigned long long *hi)
{
	size_t a = strspn(s, "0123456789"), b;

	if (a == 0 || a > 18)
		return false;
	*lo = strtoull(s, NULL, 10);
	if (s[a] == '\0') {
		*hi = *lo;
		return true;
	}
	b = strspn(s + a + 1, "0123456789");
	if (s[a] != '-' || b == 0 || b > 18 || s[a + 1 + b] != '\0')
		return false;
	*hi = strtoull(s + a + 1, NULL, 10);
	return true;
}

/*
 * Apply one pattern: set[i] = value for each file it matches.  0, or an
 * error when it matches nothing.
 */
static int
sel_apply(const char *const *paths, size_t n, const char *pat, bool value,
    bool *set, struct bt_err *err)
{
	unsigned long long lo, hi;
	char esc[LOG_ESC_LEN];
	size_t hits = 0;

	log_escape(esc, sizeof(esc), pat, strlen(pat));
	if (sel_numbers(pat, &lo, &hi)) {
		if (lo < 1 || hi > n || lo > hi)
			return bt_err_set(err, -ERANGE, "'%s' is not a file "
			    "number from 1 to %zu", esc, n);
		for (unsigned long long i = lo; i <= hi; i++)
			set[i - 1] = value;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (fnmatch(pat, paths[i], 0) == 0) {
			set[i] = value;
			hits++;
		}
	}
	if (hits == 0)
		return bt_err_set(err, -ENOENT, "'%s' matches no file of the "
		    "torrent", esc);
	return 0;
}

int
sel_files(const char *const *paths, size_t n, char *const *only,
    size_t nonly, char *const *skip, size_t nskip, bool *out_selected,
    struct bt_err *err)
{
	int r;

	for (size_t i = 0; i < n; i++)
		out_selected[i] = nonly == 0;
	for (size_t k = 0; k < nonly; k++) {
		r = sel_apply(paths, n, only[k], true, out_selected, err);
		if (r < 0) {
			bt_err_prefix(err, "--only");
			return r;
		}
	}
	for (size_t k = 0; k < nskip; k++) {
		r = sel_apply(paths, n, skip[k], false, out_selected, err);
		if (r < 0) {
			bt_err_prefix(err, "--skip");
			return r;
		}
	}
	return 0;
}

void
sel_range_files(const uint64_t *lengths, size_t n, uint64_t start,
    uint64_t end, bool *selected)
{
	uint64_t off = 0;

	for (size_t i = 0; i < n; i++) {
		if (lengths[i] == 0 ? off < start || off > end :
		    off + lengths[i] - 1 < start || off > end)
			selected[i] = false;
		off += lengths[i];
	}
}

uint32_t
sel_pieces(const uint64_t *lengths, const bool *selected, size_t n,
    uint32_t piece_len, uint64_t start, uint64_t end, struct bitfield *out)
{
	uint64_t off = 0, a, b;

	for (uint32_t i = 0; i < out->n; i++)
		bf_clear(out, i);
	for (size_t f = 0; f < n; off += lengths[f], f++) {
		if (!selected[f] || lengths[f] == 0)
			continue;
		/* The selected file's bytes within [start, end]. */
		a = off > start ? off : start;
		b = off + lengths[f] - 1 < end ? off + lengths[f] - 1 : end;
		if (a > b)
			continue;
		for (uint64_t p = a / piece_len; p <= b / piece_len &&
		    p < out->n; p++)
			bf_set(out, (uint32_t)p);
	}
	return bf_count(out);
}

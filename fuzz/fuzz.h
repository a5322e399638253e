/*
 * fuzz.h: checks shared by the fuzz targets (and, through them, by
 * tests/test_regress.c).  A failed check calls abort(), which libFuzzer
 * reports as a crash.
 */
#ifndef BT_FUZZ_H
#define BT_FUZZ_H

#include <stdlib.h>

/*
 * A parser's error message must be one line of printable ASCII: reasons
 * name keys and offsets and never quote the stranger's bytes, so they are
 * safe to print as they are.
 */
static inline void
fuzz_check_msg(const char *msg)
{
	if (msg[0] == '\0')
		abort();
	for (const unsigned char *p = (const unsigned char *)msg; *p != '\0';
	    p++)
		if (*p < 0x20 || *p >= 0x7f)
			abort();
}

#endif

#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Set once in main(); the only mutable file-scope state besides signals. */
static const char *log_progname = "bt";
static enum log_level log_cur = LOG_LEVEL_WARN;
static FILE *log_fp;

void
log_set_prog(const char *prog)
{
	const char *slash = strrchr(prog, '/');

	log_progname = slash != NULL ? slash + 1 : prog;
}

const char *
log_prog(void)
{
	return log_progname;
}

void
log_set_level(enum log_level level)
{
	log_cur = level;
}

enum log_level
log_level(void)
{
	return log_cur;
}

void
log_set_stream(FILE *fp)
{
	log_fp = fp;
}

static void
log_vline(const char *fmt, va_list ap)
{
	FILE *fp = log_fp != NULL ? log_fp : stderr;

	fprintf(fp, "%s: ", log_progname);
	vfprintf(fp, fmt, ap);
	fputc('\n', fp);
	fflush(fp);
}

#define LOG_AT(level)				\
	do {					\
		va_list ap;			\
		if (log_cur < (level))		\
			return;			\
		va_start(ap, fmt);		\
		log_vline(fmt, ap);		\
		va_end(ap);			\
	} while (0)

void
log_warn(const char *fmt, ...)
{
	LOG_AT(LOG_LEVEL_WARN);
}

void
log_info(const char *fmt, ...)
{
	LOG_AT(LOG_LEVEL_INFO);
}

void
log_debug(const char *fmt, ...)
{
	LOG_AT(LOG_LEVEL_DEBUG);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(fmt, ap);
	va_end(ap);
	abort();
}

char *
log_escape(char *dst, size_t dstlen, const void *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = src;
	size_t o = 0;

	if (dstlen == 0)
		return dst;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		size_t need = (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;

		if (o + need + 4 > dstlen) {
			if (dstlen >= 4) {
				o = o + 4 > dstlen ? dstlen - 4 : o;
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o < dstlen ? o : dstlen - 1] = '\0';
	return dst;
}

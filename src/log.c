#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* Set once in main(); the only mutable file-scope state besides signals. */
static const char *log_progname = "bt";
static enum log_level log_cur = LOG_LEVEL_WARN;
static FILE *log_fp;
static bool log_syslog;

/* A line sent to syslog is cut to this many bytes. */
#define LOG_SYSLOG_LEN 1024

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

void
log_set_syslog(bool on)
{
	if (on && !log_syslog)
		openlog(log_progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!on && log_syslog)
		closelog();
	log_syslog = on;
}

static void log_vline(int prio, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
log_vline(int prio, const char *fmt, va_list ap)
{
	FILE *fp = log_fp != NULL ? log_fp : stderr;
	char line[LOG_SYSLOG_LEN];

	if (log_syslog) {
		vsnprintf(line, sizeof(line), fmt, ap);
		syslog(prio, "%s", line);
		return;
	}
	fprintf(fp, "%s: ", log_progname);
	vfprintf(fp, fmt, ap);
	fputc('\n', fp);
	fflush(fp);
}

#define LOG_AT(level, prio)			\
	do {					\
		va_list ap;			\
		if (log_cur < (level))		\
			return;			\
		va_start(ap, fmt);		\
		log_vline((prio), fmt, ap);	\
		va_end(ap);			\
	} while (0)

void
log_error(const char *fmt, ...)
{
	LOG_AT(LOG_LEVEL_QUIET, LOG_ERR);
}

void
log_warn(const char *fmt, ...)
{
	LOG_AT(LOG_LEVEL_WARN, LOG_WARNING);
}

void
log_info(const char *fmt, ...)
{
	LOG_AT(LOG_LEVEL_INFO, LOG_INFO);
}

void
log_debug(const char *fmt, ...)
{
	LOG_AT(LOG_LEVEL_DEBUG, LOG_DEBUG);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_CRIT, fmt, ap);
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

const char *
log_safe(char *dst, size_t dstlen, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p >= 0x7f)
			return log_escape(dst, dstlen, s, strlen(s));
	return s;
}

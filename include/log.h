/*
 * log: one-line diagnostics on stderr (or a log file), prefixed with the
 * program name.  The verbosity is set once in main().  Logging never
 * allocates.  Bytes that came from a peer, a tracker or a .torrent must go
 * through log_escape() before they reach a format argument; a format string
 * never comes from outside.
 */
#ifndef BT_LOG_H
#define BT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum log_level {
	LOG_LEVEL_QUIET,	/* only log_error() and fatal() */
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Program name used as the line prefix ("btdownload: ..."). Borrowed. */
void log_set_prog(const char *prog);
const char *log_prog(void);
void log_set_level(enum log_level level);
enum log_level log_level(void);
/* Where lines go; NULL means stderr.  Borrowed, not closed. */
void log_set_stream(FILE *fp);
/*
 * Send lines to syslog(3) instead (facility LOG_DAEMON, the program name
 * as ident, with the pid), at the priority of each function: LOG_ERR,
 * LOG_WARNING, LOG_INFO, LOG_DEBUG, LOG_CRIT for fatal().  false goes back
 * to the stream.
 */
void log_set_syslog(bool on);

/* The one line that must be seen, even with LOG_LEVEL_QUIET. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For broken invariants only: print and abort. Never for outside input. */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define LOG_ESC_LEN 256

/*
 * Copy n bytes of src into dst (dstlen bytes, always NUL-terminated) with
 * every byte outside printable ASCII, and the backslash, written as \xNN.
 * Truncates with "..." when dst is too small.  Returns dst.
 */
char *log_escape(char *dst, size_t dstlen, const void *src, size_t n);
/*
 * s itself when it is all printable ASCII (our own text, or text escaped
 * already), else log_escape() of it into dst.  For messages that may hold
 * a name or path from outside.
 */
const char *log_safe(char *dst, size_t dstlen, const char *s);

#endif

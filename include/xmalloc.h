/*
 * xmalloc: allocation that cannot fail.  On out-of-memory these print one
 * line and abort; use them only for sizes already checked against a named
 * cap (STYLE.md 8.5 rule 12), never for a size a stranger chose.
 */
#ifndef BT_XMALLOC_H
#define BT_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* realloc of nmemb * size with overflow checking. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
/* Copy n bytes and add a NUL after them (the copy is n + 1 bytes). */
char *xmemdup(const void *p, size_t n);

#endif

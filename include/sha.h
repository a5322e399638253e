/*
 * sha: SHA-1 (and later SHA-256) through OpenSSL's EVP interface.  This is
 * the only module that includes OpenSSL headers.
 */
#ifndef BT_SHA_H
#define BT_SHA_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN 20
#define SHA1_HEXLEN 41		/* 40 hex digits and a NUL */

struct sha1 {
	uint8_t b[SHA1_LEN];
};

/* An incremental SHA-1; opaque, create with sha1_new(). */
struct sha1_ctx;

/* Returns a fresh context (aborts on OOM); free with sha1_free(). */
struct sha1_ctx *sha1_new(void);
void sha1_free(struct sha1_ctx *ctx);
/* Start (or restart) a digest. */
void sha1_init(struct sha1_ctx *ctx);
void sha1_update(struct sha1_ctx *ctx, const void *p, size_t n);
/* Finish the digest into out; the context may then be re-initialised. */
void sha1_final(struct sha1_ctx *ctx, struct sha1 *out);

/* One-shot digest of n bytes. */
void sha1(const void *p, size_t n, struct sha1 *out);

/* Lowercase hex of a digest into buf (SHA1_HEXLEN bytes). Returns buf. */
char *sha1_hex(const struct sha1 *d, char buf[SHA1_HEXLEN]);

#endif

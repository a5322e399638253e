#include "sha.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "log.h"
#include "xmalloc.h"

#include <stdlib.h>

/*
 * EVP_MD_CTX is itself opaque; we wrap it so no OpenSSL type leaks into
 * our headers.  EVP_sha1() is fetched once per digest; with OpenSSL 3 the
 * implicit fetch is cached, and the low-level SHA1_* calls are deprecated.
 */
struct sha1_ctx {
	EVP_MD_CTX *md;
};

/*
 * SHA-1 needs nothing from openssl.cnf, and reading it (providers, engine
 * sections) costs about 0.6 MiB of resident memory in every process.  A
 * no-op once OpenSSL is initialised.
 */
static void
sha_lib_init(void)
{
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
}

struct sha1_ctx *
sha1_new(void)
{
	struct sha1_ctx *ctx = xmalloc(sizeof(*ctx));

	sha_lib_init();

	ctx->md = EVP_MD_CTX_new();
	if (ctx->md == NULL)
		fatal("EVP_MD_CTX_new failed");
	sha1_init(ctx);
	return ctx;
}

void
sha1_free(struct sha1_ctx *ctx)
{
	if (ctx == NULL)
		return;
	EVP_MD_CTX_free(ctx->md);
	free(ctx);
}

void
sha1_init(struct sha1_ctx *ctx)
{
	if (EVP_DigestInit_ex(ctx->md, EVP_sha1(), NULL) != 1)
		fatal("EVP_DigestInit_ex(sha1) failed");
}

void
sha1_update(struct sha1_ctx *ctx, const void *p, size_t n)
{
	if (EVP_DigestUpdate(ctx->md, p, n) != 1)
		fatal("EVP_DigestUpdate failed");
}

void
sha1_final(struct sha1_ctx *ctx, struct sha1 *out)
{
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(ctx->md, out->b, &len) != 1 || len != SHA1_LEN)
		fatal("EVP_DigestFinal_ex failed");
}

void
sha1(const void *p, size_t n, struct sha1 *out)
{
	unsigned int len = 0;

	sha_lib_init();
	if (EVP_Digest(p, n, out->b, &len, EVP_sha1(), NULL) != 1 ||
	    len != SHA1_LEN)
		fatal("EVP_Digest(sha1) failed");
}

char *
sha1_hex(const struct sha1 *d, char buf[SHA1_HEXLEN])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < SHA1_LEN; i++) {
		buf[2 * i] = hex[d->b[i] >> 4];
		buf[2 * i + 1] = hex[d->b[i] & 15];
	}
	buf[40] = '\0';
	return buf;
}

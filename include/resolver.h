/*
 * resolver: host name resolution that never blocks the reactor.
 *
 * getaddrinfo() blocks, and mainline ran it on a thread (STYLE.md 9).  We
 * have no threads, so:
 *
 *  - numeric addresses (inet_pton, IPv4 and IPv6) need no lookup at all;
 *  - other names go to a resolver child process, forked on the first such
 *    query and again whenever it has died.  It reads length-prefixed
 *    requests from one pipe, calls getaddrinfo() and writes length-prefixed
 *    answers to another, which the reactor watches with rs_watch_fd();
 *  - answers are cached for a while (RES_CACHE_TTL_MS), and every query
 *    has a deadline (RES_TIMEOUT_MS) after which it fails with -ETIMEDOUT.
 *
 * Callbacks never run inside res_lookup() (a numeric or cached answer is
 * delivered from a zero-delay reactor task), never after res_cancel() of
 * their id, and never after res_free().  A callback may call any function
 * here, res_free() included.
 */
#ifndef BT_RESOLVER_H
#define BT_RESOLVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct rawserver;
struct resolver;

#define RES_MAX_ADDRS		16	/* addresses kept per name */
#define RES_HOST_MAX		253	/* longest name (the DNS limit) */
#define RES_CACHE_TTL_MS	(5 * 60 * 1000)
#define RES_TIMEOUT_MS		(10 * 1000)

/*
 * The answer to one lookup: err is 0 and naddrs >= 1 addresses (AF_INET
 * and AF_INET6, in getaddrinfo order, each with the requested port), or a
 * negative errno and no addresses: -ENOENT (no such name), -ETIMEDOUT,
 * -EAGAIN (temporary DNS failure), -EINVAL (a name we refuse), -EIO.
 * addrs is borrowed for the duration of the call.
 */
typedef void res_fn(void *ctx, int err, const struct sockaddr_storage *addrs,
    size_t naddrs);

/* A resolver bound to a reactor (borrowed).  Free with res_free(). */
struct resolver *res_new(struct rawserver *rs);
/* Kill and reap the child, drop every query without calling back.  NULL ok. */
void res_free(struct resolver *res);
/* Change the per-query deadline and the cache lifetime (tests use these). */
void res_set_timeouts(struct resolver *res, uint32_t timeout_ms,
    uint32_t ttl_ms);

/*
 * Resolve host (a name or a numeric IPv4/IPv6 address without brackets)
 * and call fn(ctx, ...) later with addresses carrying port.  Returns the
 * query id (never 0) for res_cancel().  host is copied.
 */
uint64_t res_lookup(struct resolver *res, const char *host, uint16_t port,
    res_fn *fn, void *ctx);
/* Forget a query; its callback will not run.  Unknown ids are ignored. */
void res_cancel(struct resolver *res, uint64_t id);

/*
 * Parse a numeric IPv4 or IPv6 address into out (with port).  Returns 0 or
 * -EINVAL when host is not a numeric address.  Pure; no reactor needed.
 */
int res_numeric(const char *host, uint16_t port, struct sockaddr_storage *out,
    socklen_t *out_len);
/* The length of the sockaddr inside ss (by its family); 0 if unknown. */
socklen_t res_addrlen(const struct sockaddr_storage *ss);
/* A short text for a resolver error code ("name not found", ...). */
const char *res_strerror(int err);

/* For tests only: the resolver child's pid, or -1 when none is running. */
long res__child_pid(const struct resolver *res);

#endif

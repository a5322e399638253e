/*
 * fake_tracker: a tiny HTTP server on the reactor for the httpget and
 * rerequester tests.  It listens on 127.0.0.1, reads each request's head
 * and hands the path to a callback that answers with canned bytes.
 */
#ifndef BT_FAKE_TRACKER_H
#define BT_FAKE_TRACKER_H

#include <stddef.h>
#include <stdint.h>

struct rawserver;
struct fake_http;
struct fake_http_conn;

/* A request arrived; path is the request target ("/announce?..."). */
typedef void fake_http_fn(void *ctx, struct fake_http_conn *hc,
    const char *path);

/* Listen on a free port; NULL when none.  Free after rs_free(rs). */
struct fake_http *fake_http_new(struct rawserver *rs, fake_http_fn *fn,
    void *ctx);
void fake_http_free(struct fake_http *f);
int fake_http_port(const struct fake_http *f);
unsigned fake_http_nrequests(const struct fake_http *f);
/* The head of the last request, NUL-terminated (truncated at 4 KiB). */
const char *fake_http_last(const struct fake_http *f);

/* Queue raw bytes on the connection. */
void fake_http_send(struct fake_http_conn *hc, const void *p, size_t n);
/* Queue n filler bytes ('x'), fed as the socket drains. */
void fake_http_stream(struct fake_http_conn *hc, uint64_t n);
/* Close once everything queued is sent. */
void fake_http_end(struct fake_http_conn *hc);
/* A complete reply with Content-Length, then close. */
void fake_http_reply(struct fake_http_conn *hc, int status, const void *body,
    size_t n);

#endif

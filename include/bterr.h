/*
 * bterr: a one-line, human-readable reason that travels with a -errno code.
 *
 * Fallible functions return 0 or -errno.  Where the reason matters to a user
 * (bencode, btformats, parseargs, storage, rerequester) they also take an
 * optional last argument `struct bt_err *err`, which may be NULL.
 */
#ifndef BT_BTERR_H
#define BT_BTERR_H

#define BT_ERR_MSGLEN 200

struct bt_err {
	int code;			/* negative errno, 0 when unset */
	char msg[BT_ERR_MSGLEN];	/* one line, lowercase, no period */
};

#define BT_ERR_INIT { 0, "" }

/*
 * Fill err (when not NULL) with code and a formatted message and return code,
 * so a caller can write `return bt_err_set(err, -EILSEQ, "...", ...);`.
 */
int bt_err_set(struct bt_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message: "prefix: old message".  NULL err is a no-op. */
void bt_err_prefix(struct bt_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif

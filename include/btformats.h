/*
 * btformats: validate a .torrent (metainfo) and a tracker's announce reply
 * into plain value structs (mainline btformats.py check_info, check_message
 * and check_peers, made stricter).
 *
 * Everything a parser returns is owned by the struct and freed by the
 * matching release function; strings are NUL-terminated copies.  Reasons
 * are one line and name the key, e.g. "info.files[3].path[1] is \"..\"".
 */
#ifndef BT_BTFORMATS_H
#define BT_BTFORMATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sha.h"

struct be_doc;
struct be_node;
struct bt_err;

/* A piece longer than this is refused (BEP 3 allows any, clients cap it). */
#define BTF_MAX_PIECE_LENGTH	(64u * 1024 * 1024)
/* btf_load_file() refuses larger files. */
#define BTF_MAX_FILE_SIZE	(64u * 1024 * 1024)
/* Files in one torrent. */
#define BTF_MAX_FILES		1000000
/* Peers kept from one announce reply; any beyond are ignored. */
#define BTF_MAX_PEERS		10000
/* Longest path component or name (NAME_MAX), and joined path (PATH_MAX-1). */
#define BTF_MAX_COMPONENT	255
#define BTF_MAX_PATH		4095
/* Announce intervals above this (one year, seconds) are clamped to it. */
#define BTF_MAX_INTERVAL	(365 * 24 * 3600)

struct btf_file {
	char **path;		/* components, each NUL-terminated */
	size_t npath;
	char *relpath;		/* components joined with '/' */
	uint64_t length;
	uint64_t offset;	/* of the file's first byte in the torrent */
};

/* One BEP 12 tier: trackers to try in order before the next tier. */
struct btf_tier {
	char **urls;
	size_t nurls;
};

/*
 * A validated metainfo.  A single-file torrent has one file whose path is
 * just the name; a multi-file torrent's paths are below the directory
 * `name`.  A torrent of total length 0 is refused (it has no pieces and
 * nothing to transfer).  Optional keys (announce, announce-list, comment,
 * created by, creation date, info.private) may be absent, but when present
 * must have the right type, or the whole torrent is refused.  A joined
 * file path is at most BTF_MAX_PATH bytes.  A BEP 47 `attr` holding 'l'
 * (symlink) refuses the torrent; other attributes are ignored.
 */
struct btf_metainfo {
	char *name;
	bool multi_file;
	struct btf_file *files;
	size_t nfiles;
	uint64_t total_length;		/* < 2^63 */
	uint32_t piece_length;		/* 1 .. BTF_MAX_PIECE_LENGTH */
	size_t npieces;			/* ceil(total / piece_length) */
	struct sha1 *pieces;		/* npieces hashes */
	struct sha1 info_hash;		/* SHA-1 of the raw `info` bytes */
	bool private;			/* info.private == 1 (BEP 27) */
	char *announce;			/* NULL when absent (trackerless) */
	struct btf_tier *tiers;		/* announce-list, input order */
	size_t ntiers;
	char *comment;			/* NULL when absent */
	char *created_by;		/* NULL when absent */
	int64_t creation_date;		/* seconds since the epoch */
	bool has_creation_date;
	/*
	 * The whole decoded document, for keys not listed here (url-list,
	 * ...).  Borrowed from the struct; valid until btf_release().
	 */
	struct be_doc *doc;
	uint8_t *bytes_;		/* private: the input the doc borrows */
};

/*
 * Decode and validate the n bytes at p (copied: p may be freed after the
 * call).  On failure returns -EILSEQ (not bencode), -EINVAL (bencode but
 * not a valid torrent) or -EFBIG (past a cap), fills err, and leaves *out
 * zeroed so btf_release() on it is harmless.
 */
int btf_parse(const uint8_t *p, size_t n, struct btf_metainfo *out,
    struct bt_err *err);
/* Read path (at most BTF_MAX_FILE_SIZE bytes) and btf_parse() it. */
int btf_load_file(const char *path, struct btf_metainfo *out,
    struct bt_err *err);
/* Free everything the metainfo owns and zero it.  NULL-safe. */
void btf_release(struct btf_metainfo *mi);

/* The root dict of mi's document; mi->doc must be set. */
const struct be_node *btf_root(const struct btf_metainfo *mi);

struct btf_peer {
	struct sockaddr_storage addr;	/* AF_INET or AF_INET6, port set */
	socklen_t addrlen;
	uint8_t id[20];
	bool has_id;
};

/*
 * A tracker's announce reply.  When failure_reason is set the tracker
 * refused the request and no other field is filled in.  Optional integers
 * are -1 when absent.  interval and min_interval must not be negative; 0
 * is accepted (some trackers send it) and values above BTF_MAX_INTERVAL
 * are clamped to it: a silly interval is the rerequester's problem (it
 * clamps to [RR_MIN_INTERVAL_S, RR_MAX_INTERVAL_S]), not a reason to drop
 * the peers.
 */
struct btf_announce {
	char *failure_reason;
	char *warning_message;
	int64_t interval;
	int64_t min_interval;
	uint8_t *tracker_id;		/* opaque bytes, NUL added; or NULL */
	size_t tracker_id_len;
	int64_t complete;		/* seeders */
	int64_t incomplete;		/* leechers */
	struct btf_peer *peers;
	size_t npeers;
	/* Entries dropped: hostnames, port 0, beyond BTF_MAX_PEERS. */
	size_t nskipped;
};

/*
 * Parse and validate a reply body.  `peers` is a list of dicts {ip, port,
 * peer id?} or a compact string (6 bytes a peer, BEP 23); `peers6` a
 * compact string (18 bytes a peer, BEP 7).  ip must be a numeric IPv4 or
 * IPv6 address: hostnames are skipped (counted in nskipped), because
 * resolving them would block.  On failure returns -EILSEQ or -EINVAL,
 * fills err and leaves *out empty, as after btf_announce_release().
 */
int btf_parse_announce(const uint8_t *p, size_t n, struct btf_announce *out,
    struct bt_err *err);
/* Free what ann owns and reset it to empty.  NULL-safe. */
void btf_announce_release(struct btf_announce *ann);

/*
 * Check one path component or torrent name: not empty, ".", "..", nor
 * longer than BTF_MAX_COMPONENT bytes; no '/', '\\', NUL, control byte or
 * Unicode bidi override (U+202A-202E, U+2066-2069).  Returns NULL when safe, else a short reason ("is \"..\"",
 * "contains '/'") suitable after the key's name.
 */
const char *btf_check_component(const uint8_t *p, size_t n);

#endif

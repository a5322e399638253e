/*
 * download: the composition root (mainline download.py).
 *
 * A struct download is one torrent being downloaded and seeded on a
 * reactor it shares with its owner (and, in btlaunchmany, with other
 * downloads).  download_new() loads and checks the torrent, takes the lock
 * next to the save path, opens the storage and reads the resume file;
 * download_start() checks the data that needs it (a slice per reactor
 * pass), then wires the encrypter, connecter, uploader, downloader, choker,
 * piece picker and tracker client together; download_stop() saves the
 * resume file and says goodbye to the tracker; download_free() closes the
 * rest.  run.h drives downloads for the programs.
 */
#ifndef BT_DOWNLOAD_H
#define BT_DOWNLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bt_err;
struct download;
struct encoder;
struct pa_config;
struct rawserver;
struct resolver;

/* Exit statuses of btdownload; stable, documented in btdownload(1). */
enum download_exit {
	DOWNLOAD_EXIT_OK = 0,		/* complete (and seeding policy met) */
	DOWNLOAD_EXIT_ERROR = 1,	/* anything not listed below */
	DOWNLOAD_EXIT_USAGE = 2,	/* bad command line */
	DOWNLOAD_EXIT_TORRENT = 3,	/* bad or unreadable torrent */
	DOWNLOAD_EXIT_IO = 4,		/* I/O error on the download's files */
	DOWNLOAD_EXIT_DISK_FULL = 5,	/* no space left on device */
	DOWNLOAD_EXIT_STALLED = 6,	/* no payload for --stall-timeout */
	DOWNLOAD_EXIT_INTERRUPTED = 7,	/* signal before completion */
	DOWNLOAD_EXIT_LOCKED = 8,	/* another btdownload on this torrent */
	DOWNLOAD_EXIT_REJECTED = 9,	/* tracker rejected us, no peers */
};

/* A stable one-word name for an exit status ("stalled"), for JSON. */
const char *download_exit_str(int code);

/* The download is over: its exit status is set; the owner should stop it. */
typedef void download_end_fn(void *ctx, struct download *d);
/* download_stop() has finished; d may now be freed. */
typedef void download_stopped_fn(void *ctx, struct download *d);

/*
 * What a download shares with its owner.  Borrowed (the struct itself
 * too: port may be set after download_new(), before download_start()).
 */
struct download_env {
	struct rawserver *rs;
	struct resolver *res;
	uint16_t port;		/* where peers reach us, for the tracker */
	download_end_fn *end;
	download_end_fn *checked;	/* the check is over; may be NULL */
	void *ctx;
	/* Nothing on stdout: the owner shows status (log lines instead). */
	bool quiet;
};

/*
 * Load the torrent at torrent_path and prepare to save it as save_dir/NAME
 * (NAME the torrent's name), or when save_dir is NULL at --saveas, or
 * else NAME in the working directory.  cfg and env are borrowed and must
 * outlive the download.  Returns NULL with *out_code (an enum
 * download_exit) and err set when the torrent is bad, the selection is
 * bad, the save location is locked by another process, or the storage
 * cannot be opened.
 */
struct download *download_new(const struct pa_config *cfg,
    const char *torrent_path, const char *save_dir,
    const struct download_env *env, int *out_code, struct bt_err *err);
/* Check what needs checking, then download and seed. */
void download_start(struct download *d);
/*
 * A SIGINT or SIGTERM arrived: set the exit status it means now (7 before
 * the seeding policy is met, 0 when seeding without one).
 */
void download_interrupted(struct download *d, int sig);
/*
 * Stop: cancel everything, save the resume file, announce "stopped" (at
 * most a few seconds).  fn runs once, from a reactor task, when done.
 */
void download_stop(struct download *d, download_stopped_fn *fn, void *ctx);
/* Wait up to timeout_ms for hooks still running.  Blocks. */
void download_wait_hooks(struct download *d, uint32_t timeout_ms);
/* Reap finished hooks; whether any is still running.  Never blocks. */
bool download_hooks_running(struct download *d);
/*
 * Change the rate caps (bytes per second, 0 = unlimited), e.g. a share of
 * caps common to several downloads.  Kept for later if the peers are not
 * wired yet.
 */
void download_set_rate_caps(struct download *d, uint64_t up, uint64_t down);
void download_free(struct download *d);

/* The encoder for incoming peers, or NULL while checking or stopping. */
struct encoder *download_encoder(const struct download *d);
/* The 20-byte info hash; valid until download_free(). */
const uint8_t *download_info_hash(const struct download *d);
/* -1 while running; then an enum download_exit value. */
int download_exit_code(const struct download *d);
/* Why it ended, one line; "" while running.  Valid until free. */
const char *download_exit_message(const struct download *d);

/* A snapshot for status lines.  Strings are borrowed from the download. */
struct download_status {
	const char *name;
	const char *info_hash;		/* 40 hex digits */
	const char *path;		/* the save path */
	const char *state;		/* checking, downloading, ... */
	uint64_t size;			/* the torrent's content */
	uint64_t done, total;		/* of the selection, verified */
	uint64_t downloaded, uploaded;	/* payload this run */
	uint64_t uploaded_total;	/* all runs (resume file) */
	double down_rate, up_rate;	/* bytes per second */
	double ratio;			/* uploaded_total / total */
	double eta;			/* seconds, < 0 unknown */
	size_t peers, seeds;
	uint32_t pieces, pieces_have;
	uint32_t pieces_resumed;	/* trusted from the resume file */
	uint32_t pieces_checked;	/* hashed at start-up */
	uint64_t bytes_checked;		/* read and hashed at start-up */
	double elapsed;			/* seconds since download_new() */
	int exit_code;			/* -1 while running */
	const char *exit_message;	/* NULL while running */
};

void download_get_status(struct download *d, struct download_status *out);
/* The --spew lines, one per peer, to stdout. */
void download_spew(const struct download *d, bool tty);

#endif

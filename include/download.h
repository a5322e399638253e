/*
 * download: the composition root (mainline download.py).  It loads and
 * checks the torrent, builds storage and hash-checks existing data, listens,
 * wires the reactor, encrypter, connecter, uploader, downloader, choker,
 * piece picker and tracker client together, runs the reactor, and closes
 * everything cleanly.
 */
#ifndef BT_DOWNLOAD_H
#define BT_DOWNLOAD_H

struct pa_config;

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

/* Run one download to the end; returns an enum download_exit value. */
int download_run(const struct pa_config *cfg);

#endif

/*
 * launchmany: btlaunchmany (mainline btlaunchmany.py).  Every .torrent file
 * of a directory is downloaded and seeded in one process, on one reactor,
 * through one listening port (listener.h routes each incoming peer to its
 * torrent by info hash).
 *
 * The directory is scanned every --scan_interval: a new .torrent file is
 * started once it is fully written (the same size and mtime on two scans
 * in a row); one that disappears is stopped; one that changes is stopped
 * and started again once it is stable.  A torrent that ends (its seeding
 * policy met, or an error) is not started again until its file changes;
 * one that was locked by another process is tried again after a minute.
 *
 * --max_upload_rate and --max_download_rate are totals shared by all the
 * torrents: every few seconds the caps are shared out max-min fairly, each
 * torrent's demand being what it used (with some headroom) or, when it
 * used most of its share, as much as it can get (lm_share).
 */
#ifndef BT_LAUNCHMANY_H
#define BT_LAUNCHMANY_H

#include <stddef.h>
#include <stdint.h>

struct pa_config;

/* DIR/.btlaunchmany.lock keeps a second btlaunchmany off the directory. */
#define LM_LOCK_NAME		".btlaunchmany.lock"
#define LM_RETRY_LOCKED_MS	60000
#define LM_CAPS_MS		2000
#define LM_MIN_SHARE		1024	/* bytes per second; 0 is "no cap" */

/*
 * Run btlaunchmany on cfg->torrent_dir until SIGINT or SIGTERM.  Returns
 * an exit status: 0 when stopped by a signal, 1 (error: the directory
 * cannot be read, no free port), 8 (another btlaunchmany works on the
 * directory).
 */
int lm_run(const struct pa_config *cfg);

/*
 * Max-min fair shares of cap among n users wanting want[i] bytes per
 * second (UINT64_MAX: as much as they can get): nobody gets more than it
 * wants, and what is left is split equally among the rest.  Each share is
 * at least LM_MIN_SHARE.  For tests.
 */
void lm_share(uint64_t cap, const uint64_t *want, size_t n, uint64_t *out);

#endif

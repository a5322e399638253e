/*
 * downloaderfeedback: the headless status display (mainline
 * DownloaderFeedback plus btdownloadheadless's displayer).
 *
 * On a terminal: one status line redrawn in place (progress bar, percent,
 * done/total, rates, peers, ETA).  Otherwise: one plain line per interval
 * made of key=value fields that scripts can parse; the keys are stable:
 *
 *   status=downloading progress=45.3 done=485490688 total=1073741824
 *   down=126353408 up=0 peers=3 seeds=1 eta=5
 *
 * (rates in bytes per second, eta in seconds or -1 when unknown).
 */
#ifndef BT_DOWNLOADERFEEDBACK_H
#define BT_DOWNLOADERFEEDBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct fb_status {
	const char *state;	/* "checking", "downloading", "seeding", ... */
	uint64_t done, total;	/* verified bytes, torrent size */
	double down_rate, up_rate;	/* bytes per second */
	uint64_t downloaded, uploaded;	/* payload this session */
	size_t peers, seeds;
	double eta;		/* seconds, < 0 unknown */
};

/* One peer for --spew, in choker order. */
struct fb_peer {
	const char *addr;
	bool local;		/* we dialled it */
	double up_rate, down_rate;
	bool optimistic, peer_interested, we_choke;
	bool we_interested, peer_chokes, snubbed;
	uint32_t pieces, npieces;
};

#define FB_LINE_LEN 256

/* Human sizes and rates ("1.5 MiB", "120.3 KiB/s") into buf. */
char *fb_size_str(char *buf, size_t n, uint64_t bytes);
char *fb_rate_str(char *buf, size_t n, double bps);
/* "1:02:03", "4:05", "?" for unknown. */
char *fb_eta_str(char *buf, size_t n, double secs);

/* The terminal line (no \r, no newline) fitted to cols columns. */
char *fb_tty_line(char *buf, size_t n, const struct fb_status *s, int cols);
/* The key=value line (no newline). */
char *fb_plain_line(char *buf, size_t n, const struct fb_status *s);
/* One --spew line (no newline). */
char *fb_spew_line(char *buf, size_t n, const struct fb_peer *p);

/* Print a status to fp: redrawn in place when tty, else one line. */
void fb_print(FILE *fp, bool tty, const struct fb_status *s, int cols);

#endif

/*
 * download_int.h: the inside of struct download, shared by download.c
 * (the running download) and downloadsetup.c (loading, the lock, the
 * selection, the storage and the resume plan).  Private to those two
 * files: every other module sees download.h only.
 */
#ifndef BT_DOWNLOAD_INT_H
#define BT_DOWNLOAD_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "bitfield.h"
#include "bterr.h"
#include "btformats.h"
#include "download.h"
#include "log.h"
#include "ratemeasure.h"
#include "sha.h"

struct checker;
struct choker;
struct connecter;
struct downloader;
struct encoder;
struct hooks;
struct pa_config;
struct piecepicker;
struct rerequester;
struct resume_stat;
struct storage;
struct storagewrapper;
struct uploader;

/* Add new states to the table in download_state_str(). */
enum download_state {
	DS_CHECKING,
	DS_DOWNLOADING,
	DS_SEEDING,
	DS_STOPPING,
	DS_STOPPED,
};

struct download {
	const struct pa_config *cfg;
	const struct download_env *env;
	struct btf_metainfo mi;
	char hex[SHA1_HEXLEN];
	char *save_path, *resume_path;	/* absolute */
	/* For messages: the name, and the save path as the user gave it. */
	char name_esc[LOG_ESC_LEN], path_esc[LOG_ESC_LEN];
	int lock_fd;			/* -1: no lock (read-only place) */
	struct storage *st;
	struct storagewrapper *sw;
	/*
	 * What to download (--only, --skip, --range).  Files neither
	 * selected nor already on disk are stored as .btparts/N below a
	 * multi-file download, so that only the bytes of the pieces they
	 * share with selected files are kept, out of sight.
	 */
	bool *selected;			/* per file */
	char **st_paths;		/* each file's path for the storage */
	struct bitfield wanted;		/* pieces to download */
	uint32_t wanted_left;		/* wanted pieces not had yet */
	uint64_t wanted_bytes, wanted_left_bytes;
	/* Start-up check and resume. */
	struct checker *ck;
	struct bitfield trust, todo;
	uint64_t *lengths;		/* file lengths, for the resume file */
	uint64_t uploaded_before;	/* from the resume file */
	uint32_t pieces_resumed, pieces_checked;
	uint64_t bytes_checked;
	bool resume_dirty;
	uint64_t resume_saved_ms;
	uint64_t saved_uploaded;	/* this run's uploads, last saved */
	char resume_err[BT_ERR_MSGLEN];	/* last save error reported */
	/* The swarm. */
	struct piecepicker *pp;
	struct choker *ch;
	struct uploader *ul;
	struct downloader *dl;
	struct connecter *cn;
	struct encoder *enc;
	struct rerequester *rr;
	struct ratemeasure rm;
	uint8_t peer_id[20];
	/* Policy. */
	enum download_state state;
	bool complete_at_start, policy_met;
	uint64_t start_ms, complete_ms, last_data_ms, last_total;
	uint64_t rejected_ms;		/* 0: not rejected since last peers */
	uint64_t cap_up, cap_down;	/* rate caps, bytes per second */
	char rejected[BT_ERR_MSGLEN];
	struct hooks *hooks;
	int exit_code;			/* -1 while running */
	char exit_msg[BT_ERR_MSGLEN];
	uint64_t check_task, tick_task, choke_task, redial_task, stop_task;
	download_stopped_fn *stopped;
	void *stopped_ctx;
};

/*
 * downloadsetup.c.  Load the torrent at torrent (save it as dir/NAME, or
 * as download_new() says when dir is NULL), take the lock, choose the
 * pieces, open the storage and plan the check (d->trust, d->todo).  0 or
 * an enum download_exit value with err set.
 */
int download__load(struct download *d, const char *torrent, const char *dir,
    struct bt_err *err);
/* Each file's size and mtime now, at its storage path. */
void download__stat_files(const struct download *d, struct resume_stat *out);

#endif

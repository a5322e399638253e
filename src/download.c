/*
 * download: see the header.  In order: states and the end, download_new()
 * (whose set-up is in downloadsetup.c), the resume file, the start-up
 * check, hooks and the seeding policy, callbacks from the downloader, peers
 * and the tracker, the wiring, periodic tasks, status, stop and free.
 */
#include "download.h"
#include "download_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitfield.h"
#include "bterr.h"
#include "btformats.h"
#include "checker.h"
#include "choker.h"
#include "connecter.h"
#include "downloader.h"
#include "downloaderfeedback.h"
#include "encrypter.h"
#include "hooks.h"
#include "log.h"
#include "parseargs.h"
#include "piecepicker.h"
#include "ratemeasure.h"
#include "rawserver.h"
#include "rerequester.h"
#include "resolver.h"
#include "resume.h"
#include "sha.h"
#include "storage.h"
#include "storagewrapper.h"
#include "uploader.h"
#include "xmalloc.h"

#define DL_CHOKE_MS	10000
#define DL_REDIAL_MS	20000
#define DL_STOP_MS	3000
#define DL_TICK_MS	1000
/* While seeding, uploads are saved (for --seed-ratio) at most this often. */
#define DL_SEED_SAVE_MS	60000
/* Bytes hashed per reactor pass during the start-up check (~10 ms). */
#define DL_CHECK_BUDGET	(16u << 20)


static const char *
download_state_str(enum download_state s)
{
	static const char *const names[] = {
		[DS_CHECKING] = "checking",
		[DS_DOWNLOADING] = "downloading",
		[DS_SEEDING] = "seeding",
		[DS_STOPPING] = "stopping",
		[DS_STOPPED] = "stopped",
	};

	return names[s];
}

static void
download_enter_state(struct download *d, enum download_state s)
{
	log_debug("%s: %s -> %s", d->name_esc, download_state_str(d->state),
	    download_state_str(s));
	d->state = s;
}

const char *
download_exit_str(int code)
{
	static const char *const names[] = {
		"done", "error", "usage", "torrent", "io", "disk_full",
		"stalled", "interrupted", "locked", "rejected",
	};

	if (code < 0 || code >= (int)(sizeof(names) / sizeof(names[0])))
		return "error";
	return names[code];
}

static uint64_t
download_now_ms(const struct download *d)
{
	return rs_now_ms(d->env->rs);
}

/*
 * The download is over with this status (the first call wins); the owner
 * hears of it and stops us.
 */
static void download_end(struct download *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
download_end(struct download *d, int code, const char *fmt, ...)
{
	char msg[BT_ERR_MSGLEN], esc[LOG_ESC_LEN];
	va_list ap;

	/* The first reason is the one to report: later ones are echoes. */
	if (d->exit_code >= 0)
		return;
	d->exit_code = code;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(d->exit_msg, sizeof(d->exit_msg), "%s",
	    log_safe(esc, sizeof(esc), msg));
	if (d->env->end != NULL)
		d->env->end(d->env->ctx, d);
}

/* --- set-up --------------------------------------------------------------- */

static void
download_make_peer_id(uint8_t id[20])
{
	static const char alnum[] =
	    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	uint8_t rnd[12];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t got = fd >= 0 ? read(fd, rnd, sizeof(rnd)) : -1;

	if (fd >= 0)
		close(fd);
	if (got != (ssize_t)sizeof(rnd))
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (uint8_t)(getpid() * 31 + (int)i * 7);
	/* Azureus-style client id: -BD0100- then 12 random characters. */
	memcpy(id, "-BD0100-", 8);
	for (size_t i = 0; i < sizeof(rnd); i++)
		id[8 + i] = (uint8_t)alnum[rnd[i] % (sizeof(alnum) - 1)];
}

static uint64_t
download_seed(const uint8_t id[20])
{
	uint64_t s = 1469598103934665603ULL;

	for (int i = 0; i < 20; i++)
		s = (s ^ id[i]) * 1099511628211ULL;
	return s;
}

struct download *
download_new(const struct pa_config *cfg, const char *torrent_path,
    const char *save_dir, const struct download_env *env, int *out_code,
    struct bt_err *err)
{
	struct download *d = xcalloc(1, sizeof(*d));
	int r;

	d->cfg = cfg;
	d->env = env;
	d->lock_fd = -1;
	d->exit_code = -1;
	d->state = DS_CHECKING;
	d->hooks = hook_new();
	d->cap_up = cfg->max_upload_rate;
	d->cap_down = cfg->max_download_rate;
	d->start_ms = rs_now_ms(env->rs);
	download_make_peer_id(d->peer_id);
	r = download__load(d, torrent_path, save_dir, err);
	if (r != 0) {
		*out_code = r;
		download_free(d);
		return NULL;
	}
	return d;
}

/* --- the wanted pieces --------------------------------------------------- */

/* Recount the wanted pieces we lack (after the check, or for status). */
static void
download_count_wanted(struct download *d)
{
	d->wanted_left = 0;
	d->wanted_left_bytes = 0;
	d->wanted_bytes = 0;
	for (uint32_t i = 0; i < d->wanted.n; i++) {
		if (!bf_get(&d->wanted, i))
			continue;
		d->wanted_bytes += sw_piece_len(d->sw, i);
		if (sw_do_I_have(d->sw, i))
			continue;
		d->wanted_left++;
		d->wanted_left_bytes += sw_piece_len(d->sw, i);
	}
}

/* --- the resume file ------------------------------------------------------ */

static void
download_resume_failed(struct download *d, const char *msg)
{
	char esc[LOG_ESC_LEN];

	/* Say it once, not every few seconds. */
	if (strcmp(d->resume_err, msg) == 0)
		return;
	snprintf(d->resume_err, sizeof(d->resume_err), "%s", msg);
	log_warn("cannot save the resume file: %s", log_safe(esc,
	    sizeof(esc), msg));
}

/*
 * Flush the data to disk.  A failure means written pieces may be lost:
 * the download ends (status 4, or 5 for ENOSPC) naming the file.
 */
static int
download_flush(struct download *d)
{
	struct bt_err err = BT_ERR_INIT;
	int r = st_flush(d->st, &err);

	if (r < 0)
		download_end(d, r == -ENOSPC ? DOWNLOAD_EXIT_DISK_FULL :
		    DOWNLOAD_EXIT_IO, "%s", err.msg);
	return r;
}

/*
 * Save what we have.  The data is flushed first: a piece is claimed only
 * once its bytes are on disk.  Not during the start-up check, whose
 * unchecked files the old resume file still describes correctly.
 */
static void
download_save_resume(struct download *d)
{
	struct resume rec = RESUME_INIT;
	struct bt_err err = BT_ERR_INIT;

	if (d->resume_path == NULL || d->sw == NULL || d->ck != NULL ||
	    d->state == DS_CHECKING || download_flush(d) < 0)
		return;
	rec.info_hash = d->mi.info_hash;
	rec.have = *sw_have(d->sw);
	rec.nfiles = d->mi.nfiles;
	rec.files = xcalloc(d->mi.nfiles, sizeof(*rec.files));
	download__stat_files(d, rec.files);
	d->saved_uploaded = d->ul != NULL ? ul_total(d->ul) : 0;
	rec.uploaded = d->uploaded_before + d->saved_uploaded;
	if (resume_save(d->resume_path, &rec, &err) < 0)
		download_resume_failed(d, err.msg);
	else
		d->resume_err[0] = '\0';
	free(rec.files);
	d->resume_dirty = false;
	d->resume_saved_ms = download_now_ms(d);
}

/* --- the start-up check --------------------------------------------------- */

static void download_go(struct download *d);

static void
download_checked_piece(void *ctx, uint32_t i, bool ok)
{
	struct download *d = ctx;

	if (ok) {
		sw_mark_have(d->sw, i);
		d->pieces_checked++;
	}
}

static void
download_check_task(void *arg)
{
	struct download *d = arg;
	struct bt_err err = BT_ERR_INIT;
	int r;

	d->check_task = 0;
	r = ck_step(d->ck, DL_CHECK_BUDGET, download_checked_piece, d, &err);
	d->bytes_checked = ck_bytes(d->ck);
	if (r < 0) {
		download_end(d, r == -ENOSPC ? DOWNLOAD_EXIT_DISK_FULL :
		    DOWNLOAD_EXIT_IO, "%s", err.msg);
		return;
	}
	if (r == 0) {
		d->check_task = rs_add_task(d->env->rs, 0, download_check_task,
		    d);
		return;
	}
	log_info("%s: %" PRIu32 " pieces from the resume file, %" PRIu32
	    " of %" PRIu32 " checked pieces good, checked %" PRIu64 " bytes",
	    d->name_esc, d->pieces_resumed, d->pieces_checked, ck_total(d->ck),
	    d->bytes_checked);
	ck_free(d->ck);
	d->ck = NULL;
	download_go(d);
}

void
download_start(struct download *d)
{
	for (uint32_t i = 0; i < d->trust.n; i++)
		if (bf_get(&d->trust, i))
			sw_mark_have(d->sw, i);
	d->pieces_resumed = bf_count(&d->trust);
	d->ck = ck_new(d->st, d->mi.pieces, d->mi.piece_length,
	    d->mi.total_length, &d->todo);
	bf_release(&d->trust);
	bf_release(&d->todo);
	download_enter_state(d, DS_CHECKING);
	d->check_task = rs_add_task(d->env->rs, 0, download_check_task, d);
}

/* --- hooks and the seeding policy ----------------------------------------- */

static void
download_hook(struct download *d, const char *what, const char *cmd)
{
	struct hook_args a = { d->mi.name, d->hex, d->save_path };

	if (cmd[0] != '\0')
		hook_run(d->hooks, what, cmd, &a);
}

static double
download_ratio(const struct download *d)
{
	uint64_t up = d->uploaded_before + (d->ul != NULL ? ul_total(d->ul) :
	    0);

	return (double)up / (double)d->mi.total_length;
}

/*
 * Is the seeding policy met?  Without --no-seed, --seed-ratio or
 * --seed-time it never is: we seed until interrupted, as mainline did.
 * Given together, whichever comes first.
 */
static bool
download_policy_met(const struct download *d, char *why, size_t n)
{
	const struct pa_config *cfg = d->cfg;
	double secs = (double)(download_now_ms(d) - d->complete_ms) / 1000.0;

	if (d->state != DS_SEEDING)
		return false;
	if (cfg->no_seed) {
		snprintf(why, n, "download complete");
		return true;
	}
	if (cfg->seed_ratio > 0 && download_ratio(d) >= cfg->seed_ratio) {
		snprintf(why, n, "seeding policy met: ratio %.2f reached "
		    "%.2f", download_ratio(d), cfg->seed_ratio);
		return true;
	}
	if (cfg->seed_time > 0 && secs >= cfg->seed_time) {
		snprintf(why, n, "seeding policy met: seeded for %.0f s",
		    cfg->seed_time);
		return true;
	}
	return false;
}

static bool
download_has_policy(const struct download *d)
{
	return d->cfg->no_seed || d->cfg->seed_ratio > 0 ||
	    d->cfg->seed_time > 0;
}

/*
 * End the download once its seeding policy is met.  hook says whether
 * that is news worth --on-seed-done: not when the data was complete at
 * start and the policy was met before anything happened.
 */
static void
download_check_policy(struct download *d, bool hook)
{
	char why[BT_ERR_MSGLEN];

	if (d->policy_met || !download_policy_met(d, why, sizeof(why)))
		return;
	d->policy_met = true;
	if (hook)
		download_hook(d, "--on-seed-done", d->cfg->on_seed_done);
	download_end(d, DOWNLOAD_EXIT_OK, "%s", why);
}

/* --- callbacks from the downloader ---------------------------------------- */

static void download_finished(void *ctx);

static void
download_piece_verified(void *ctx, uint32_t i)
{
	struct download *d = ctx;

	rm_data_came_in(&d->rm, (double)download_now_ms(d) / 1000.0,
	    sw_piece_len(d->sw, i));
	cn_broadcast_have(d->cn, i);
	d->resume_dirty = true;
	if (!bf_get(&d->wanted, i) || d->wanted_left == 0)
		return;
	d->wanted_left--;
	d->wanted_left_bytes -= sw_piece_len(d->sw, i);
	/* With a selection the downloader never sees "all pieces". */
	if (d->wanted_left == 0)
		download_finished(d);
}

static void
download_piece_failed(void *ctx, uint32_t i, uint32_t len)
{
	struct download *d = ctx;

	(void)len;
	if (d->cfg->report_hash_failures)
		log_warn("piece %u failed the hash check, downloading it "
		    "again", i);
	else
		log_debug("piece %u failed the hash check", i);
}

static void
download_finished(void *ctx)
{
	struct download *d = ctx;
	char size[96], sel[32];

	if (d->state != DS_DOWNLOADING)
		return;		/* already done, through the selection */
	/* Complete means on disk: a failed flush is an I/O error. */
	if (download_flush(d) < 0)
		return;
	download_enter_state(d, DS_SEEDING);
	d->complete_ms = download_now_ms(d);
	ch_set_done(d->ch, true);
	download_save_resume(d);
	if (d->rr != NULL)
		rr_completed(d->rr);
	fb_size_str(size, sizeof(size), d->mi.total_length);
	if (d->wanted_bytes < d->mi.total_length) {
		fb_size_str(sel, sizeof(sel), d->wanted_bytes);
		snprintf(size + strlen(size), sizeof(size) - strlen(size),
		    ", %s of it selected", sel);
	}
	if (d->env->quiet) {
		log_info("download complete: %s (%s) saved as %s",
		    d->name_esc, size, d->path_esc);
	} else {
		printf("%sdownload complete: %s (%s) saved as %s\n",
		    isatty(STDOUT_FILENO) == 1 ? "\r\033[K" : "",
		    d->name_esc, size, d->path_esc);
		fflush(stdout);
	}
	download_hook(d, "--on-complete", d->cfg->on_complete);
	download_check_policy(d, true);
}

static void
download_failed(void *ctx, int err, const char *msg)
{
	struct download *d = ctx;

	download_end(d, err == -ENOSPC ? DOWNLOAD_EXIT_DISK_FULL :
	    DOWNLOAD_EXIT_IO, "%s", msg);
}

static const struct dl_callbacks download_dl_cb = {
	download_piece_verified, download_piece_failed, download_finished,
	download_failed,
};

/* --- peers ---------------------------------------------------------------- */

static void
download_resolved(void *ctx, int err, const struct sockaddr_storage *addrs,
    size_t n)
{
	struct download *d = ctx;

	if (err < 0) {
		log_warn("cannot resolve peer: %s", res_strerror(err));
		return;
	}
	if (d->enc == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		enc_start_connection(d->enc, (const struct sockaddr *)&addrs[i],
		    res_addrlen(&addrs[i]), NULL);
}

static void
download_add_peers(struct download *d)
{
	for (size_t i = 0; i < d->cfg->peer.n; i++) {
		char host[PA_HOST_MAX];
		uint16_t port;
		struct sockaddr_storage ss;
		socklen_t len;

		if (pa_parse_peer(d->cfg->peer.v[i], host, sizeof(host), &port,
		    NULL) < 0)
			continue;
		if (res_numeric(host, port, &ss, &len) == 0)
			enc_start_connection(d->enc, (struct sockaddr *)&ss,
			    len, NULL);
		else if (d->env->res != NULL)
			res_lookup(d->env->res, host, port, download_resolved,
			    d);
	}
}

/*
 * Peers given with --peer are dialled again now and then: one that went
 * away (a restarted seeder, a timeout) comes back without a tracker.
 * Connected and banned addresses are skipped by the encrypter.
 */
static void
download_redial(void *arg)
{
	struct download *d = arg;

	if (!d->cfg->no_seed || d->state != DS_SEEDING)
		download_add_peers(d);
	d->redial_task = rs_add_task(d->env->rs, DL_REDIAL_MS, download_redial,
	    d);
}

/* --- the tracker ---------------------------------------------------------- */

static void
download_tracker_peers(void *ctx, const struct btf_peer *peers, size_t n)
{
	struct download *d = ctx;

	d->rejected_ms = 0;
	/* Seeders dial too: Transmission and rtorrent leechers never dial
	 * a peer in 127/8 themselves (mainline dials either way). */
	for (size_t i = 0; i < n; i++)
		enc_start_connection(d->enc, (const struct sockaddr *)
		    &peers[i].addr, peers[i].addrlen,
		    peers[i].has_id ? peers[i].id : NULL);
}

static void
download_tracker_stats(void *ctx, uint64_t *out_up, uint64_t *out_down,
    uint64_t *out_left)
{
	struct download *d = ctx;

	*out_up = ul_total(d->ul);
	*out_down = dl_total(d->dl);
	*out_left = sw_amount_left(d->sw);
}

static size_t
download_tracker_conns(void *ctx)
{
	return cn_num_conns(((struct download *)ctx)->cn);
}

static bool
download_tracker_incoming(void *ctx)
{
	return enc_ever_incoming(((struct download *)ctx)->enc);
}

/* rerequester.h: a refusal is reported as "rejected by tracker - X". */
#define DL_REJECTED "rejected by tracker"

static void
download_tracker_error(void *ctx, const char *msg)
{
	struct download *d = ctx;
	char esc[LOG_ESC_LEN];

	log_warn("%s", log_safe(esc, sizeof(esc), msg));
	if (strncmp(msg, DL_REJECTED, strlen(DL_REJECTED)) == 0) {
		size_t len;

		d->rejected_ms = download_now_ms(d);
		snprintf(d->rejected, sizeof(d->rejected), "%s", msg);
		/* "...this tracker." reads badly before "; no peers". */
		len = strlen(d->rejected);
		if (len > 0 && d->rejected[len - 1] == '.')
			d->rejected[len - 1] = '\0';
	}
}

static const struct rr_callbacks download_rr_cb = {
	download_tracker_peers, download_tracker_stats, download_tracker_conns,
	download_tracker_incoming, download_tracker_error,
};

/* A torrent without a tracker is fine: peers come from --peer. */
static void
download_start_tracker(struct download *d)
{
	struct rr_config rc;
	struct bt_err err = BT_ERR_INIT;
	const struct pa_config *cfg = d->cfg;

	if (d->mi.announce == NULL && d->mi.ntiers == 0)
		return;
	rr_config_init(&rc);
	memcpy(rc.info_hash, d->mi.info_hash.b, 20);
	memcpy(rc.peer_id, d->peer_id, 20);
	rc.port = d->env->port;
	rc.ip = cfg->ip[0] != '\0' ? cfg->ip : NULL;
	rc.seed = download_seed(d->peer_id) ^ 0x5bd1e995ULL;
	rc.interval_explicit = cfg->rerequest_interval > 0;
	if (rc.interval_explicit)
		rc.interval_ms = (uint32_t)(cfg->rerequest_interval * 1000);
	rc.min_peers = cfg->min_peers;
	rc.max_initiate = cfg->max_initiate;
	rc.numwant = cfg->numwant;
	rc.http_timeout_ms = (uint32_t)(cfg->http_timeout * 1000);
	d->rr = rr_new(d->env->rs, d->env->res, &rc, d->mi.announce,
	    d->mi.tiers, d->mi.ntiers, &download_rr_cb, d, &err);
	if (d->rr == NULL) {
		log_warn("tracker: %s", err.msg);
		return;
	}
	rr_begin(d->rr);
}

/* --- the wiring ----------------------------------------------------------- */

/*
 * The longest message a peer may send us: a piece carries at most the
 * block we asked for (download_slice_size), a bitfield ceil(n/8) bytes, and
 * everything else is shorter.  A longer length prefix drops the peer before
 * anything is buffered, so a hostile peer cannot make us hold
 * max_message_length (8 MiB, mainline's cap) per connection.
 */
static uint32_t
download_max_message(const struct download *d)
{
	uint64_t need = 9 + d->cfg->download_slice_size;
	uint64_t bf = 1 + (d->mi.npieces + 7) / 8;

	if (bf > need)
		need = bf;
	if (need > d->cfg->max_message_length)
		need = d->cfg->max_message_length;
	return need > UINT32_MAX ? UINT32_MAX : (uint32_t)need;
}

static void
download_wire_policy(struct download *d, uint64_t seed)
{
	const struct pa_config *cfg = d->cfg;
	uint32_t n = (uint32_t)d->mi.npieces;

	d->pp = pp_new(n, cfg->rarest_first_cutoff, seed);
	pp_set_sequential(d->pp, cfg->sequential);
	/* Pieces we do not want are never offered, as if we had them. */
	for (uint32_t i = 0; i < n; i++) {
		if (!bf_get(&d->wanted, i))
			sw_set_unwanted(d->sw, i);
		if (sw_do_I_have(d->sw, i) || !bf_get(&d->wanted, i))
			pp_complete(d->pp, i);
	}
	d->ch = ch_new(cn_choker_ops(), (int)cfg->max_uploads,
	    (int)cfg->min_uploads, seed ^ 0x9e3779b97f4a7c15ULL);
	ch_set_done(d->ch, d->state == DS_SEEDING);
}

static void
download_wire(struct download *d)
{
	const struct pa_config *cfg = d->cfg;
	struct ul_config ulc;
	struct dl_config dlc;
	struct cn_config cnc;
	struct enc_config ec;

	download_wire_policy(d, download_seed(d->peer_id));
	ulc.max_slice_length = (uint32_t)cfg->max_slice_length;
	ulc.max_rate_period = cfg->max_rate_period;
	ulc.fudge = cfg->upload_rate_fudge;
	ulc.max_queued_bytes = 512 * 1024;
	d->ul = ul_new(d->env->rs, d->sw, &ulc);
	dlc.backlog = cfg->request_backlog;
	dlc.queue_time = cfg->request_queue_time;
	dlc.snub_time = cfg->snub_time;
	dlc.max_rate_period = cfg->max_rate_period;
	d->dl = dl_new(d->env->rs, d->sw, d->pp, &dlc, &download_dl_cb, d);
	cnc.npieces = (uint32_t)d->mi.npieces;
	cnc.max_upload_rate = d->cap_up;
	cnc.max_download_rate = d->cap_down;
	d->cn = cn_new(d->env->rs, &cnc, d->ul, d->dl, d->ch);
	ul_set_connecter(d->ul, d->cn);
	ec.max_message_length = download_max_message(d);
	ec.keepalive_ms = (uint32_t)(cfg->keepalive_interval * 1000);
	ec.max_initiate = cfg->max_initiate;
	ec.max_per_host = cfg->max_conns_per_ip;
	d->enc = enc_new(d->env->rs, &ec, d->mi.info_hash.b, d->peer_id,
	    cn_enc_upper(), d->cn);
}

/* --- periodic tasks ------------------------------------------------------- */

static void
download_choke_round(void *arg)
{
	struct download *d = arg;

	ch_round(d->ch);
	d->choke_task = rs_add_task(d->env->rs, DL_CHOKE_MS,
	    download_choke_round, d);
}

/* --stall-timeout: no payload byte for that long while incomplete. */
static void
download_check_stall(struct download *d, uint64_t now)
{
	uint64_t total = dl_total(d->dl);

	if (total != d->last_total || d->state != DS_DOWNLOADING) {
		d->last_total = total;
		d->last_data_ms = now;
		return;
	}
	if (d->cfg->stall_timeout > 0 &&
	    now - d->last_data_ms >= (uint64_t)(d->cfg->stall_timeout * 1000))
		download_end(d, DOWNLOAD_EXIT_STALLED, "stalled: no data "
		    "arrived for %.0f s while incomplete",
		    d->cfg->stall_timeout);
}

/*
 * Exit status 9: a tracker refused us, we have no connection, --peer gave
 * none, and no tracker has sent peers since.  Checked a tick later, so
 * that the other trackers of the list get their turn.
 */
static void
download_check_rejected(struct download *d, uint64_t now)
{
	if (d->rejected_ms == 0 || now - d->rejected_ms < DL_TICK_MS ||
	    cn_num_conns(d->cn) > 0 || d->cfg->peer.n > 0)
		return;
	download_end(d, DOWNLOAD_EXIT_REJECTED, "%s; no peers otherwise",
	    d->rejected);
}

/*
 * Save the resume file every --resume_interval while pieces arrive, and
 * while seeding every DL_SEED_SAVE_MS when uploads grew (the ratio counts
 * them over all runs).
 */
static bool
download_resume_due(struct download *d, uint64_t now)
{
	uint64_t since = now - d->resume_saved_ms;
	uint64_t up = d->ul != NULL ? ul_total(d->ul) : 0;

	if (d->resume_dirty)
		return since >= (uint64_t)(d->cfg->resume_interval * 1000);
	if (up == d->saved_uploaded)
		return false;
	return since >= DL_SEED_SAVE_MS &&
	    since >= (uint64_t)(d->cfg->resume_interval * 1000);
}

static void
download_tick(void *arg)
{
	struct download *d = arg;
	uint64_t now = download_now_ms(d);

	d->tick_task = rs_add_task(d->env->rs, DL_TICK_MS, download_tick, d);
	hook_reap(d->hooks);
	if (download_resume_due(d, now))
		download_save_resume(d);
	download_check_stall(d, now);
	download_check_rejected(d, now);
	download_check_policy(d, true);
}

/* The check is over: seed what we have, download the rest. */
static void
download_go(struct download *d)
{
	bool complete;

	download_count_wanted(d);
	complete = d->wanted_left == 0;
	d->complete_at_start = complete;
	d->complete_ms = download_now_ms(d);
	d->last_data_ms = download_now_ms(d);
	download_enter_state(d, complete ? DS_SEEDING : DS_DOWNLOADING);
	download_save_resume(d);
	rm_init(&d->rm, d->wanted_left_bytes);
	if (complete && d->env->quiet) {
		log_info("%s is complete; seeding", d->path_esc);
	} else if (complete) {
		printf("%s is complete; seeding\n", d->path_esc);
		fflush(stdout);
	}
	download_wire(d);
	if (d->env->checked != NULL)
		d->env->checked(d->env->ctx, d);
	d->tick_task = rs_add_task(d->env->rs, DL_TICK_MS, download_tick, d);
	/* Nothing to do (--no-seed and complete): no tracker, no peers. */
	download_check_policy(d, false);
	if (d->exit_code >= 0)
		return;
	download_add_peers(d);
	if (d->cfg->peer.n > 0)
		d->redial_task = rs_add_task(d->env->rs, DL_REDIAL_MS,
		    download_redial, d);
	d->choke_task = rs_add_task(d->env->rs, DL_CHOKE_MS,
	    download_choke_round, d);
	download_start_tracker(d);
}

/* --- status --------------------------------------------------------------- */

void
download_interrupted(struct download *d, int sig)
{
	const char *name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ?
	    "SIGTERM" : "a signal";

	if (d->state != DS_SEEDING)
		download_end(d, DOWNLOAD_EXIT_INTERRUPTED, "interrupted by %s "
		    "before the download was complete", name);
	else if (download_has_policy(d))
		download_end(d, DOWNLOAD_EXIT_INTERRUPTED, "interrupted by %s "
		    "while seeding, before the seeding policy was met", name);
	else
		download_end(d, DOWNLOAD_EXIT_OK, "stopped by %s while "
		    "seeding", name);
}

struct encoder *
download_encoder(const struct download *d)
{
	return d->state == DS_DOWNLOADING || d->state == DS_SEEDING ?
	    d->enc : NULL;
}

const uint8_t *
download_info_hash(const struct download *d)
{
	return d->mi.info_hash.b;
}

int
download_exit_code(const struct download *d)
{
	return d->exit_code;
}

const char *
download_exit_message(const struct download *d)
{
	return d->exit_msg;
}

static void
download_status_swarm(struct download *d, struct download_status *s)
{
	double now = (double)download_now_ms(d) / 1000.0;

	if (d->dl == NULL)
		return;
	s->downloaded = dl_total(d->dl);
	s->uploaded = ul_total(d->ul);
	s->down_rate = dl_rate(d->dl);
	s->up_rate = ul_rate(d->ul);
	s->peers = cn_num_conns(d->cn);
	s->seeds = dl_num_seeds(d->dl);
	s->eta = d->state == DS_SEEDING ? 0 : rm_get_time_left(&d->rm, now);
}

void
download_get_status(struct download *d, struct download_status *s)
{
	memset(s, 0, sizeof(*s));
	s->name = d->mi.name;
	s->info_hash = d->hex;
	s->path = d->save_path;
	s->state = download_state_str(d->state);
	if (d->state == DS_CHECKING)
		download_count_wanted(d);
	s->size = d->mi.total_length;
	s->total = d->wanted_bytes;
	s->done = d->wanted_bytes - d->wanted_left_bytes;
	s->eta = -1;
	download_status_swarm(d, s);
	s->uploaded_total = d->uploaded_before + s->uploaded;
	s->ratio = (double)s->uploaded_total / (double)s->size;
	s->pieces = (uint32_t)d->mi.npieces;
	s->pieces_have = bf_count(sw_have(d->sw));
	s->pieces_resumed = d->pieces_resumed;
	s->pieces_checked = d->pieces_checked;
	s->bytes_checked = d->ck != NULL ? ck_bytes(d->ck) : d->bytes_checked;
	s->elapsed = (double)(download_now_ms(d) - d->start_ms) / 1000.0;
	s->exit_code = d->exit_code;
	s->exit_message = d->exit_code >= 0 ? d->exit_msg : NULL;
}

void
download_spew(const struct download *d, bool tty)
{
	char line[FB_LINE_LEN];

	if (d->ch == NULL)
		return;
	for (size_t k = 0; k < ch_num_peers(d->ch); k++) {
		struct cn_conn *c = ch_peer_at(d->ch, k);
		struct upload *up = cn_conn_upload(c);
		struct dl_peer *dp = cn_conn_download(c);
		struct fb_peer p;

		p.addr = enc_conn_name(cn_conn_enc(c));
		p.local = enc_conn_is_local(cn_conn_enc(c));
		p.up_rate = ul_upload_rate(up);
		p.down_rate = dl_peer_rate(dp);
		p.optimistic = ch_is_optimistic(d->ch, c);
		p.peer_interested = ul_is_interested(up);
		p.we_choke = ul_is_choked(up);
		p.we_interested = dl_is_interested(dp);
		p.peer_chokes = dl_is_choked(dp);
		p.snubbed = dl_is_snubbed(dp);
		p.pieces = bf_count(dl_peer_have(dp));
		p.npieces = (uint32_t)d->mi.npieces;
		printf("%s%s\n", tty ? "\r\033[K" : "",
		    fb_spew_line(line, sizeof(line), &p));
	}
}

/* --- stop and free -------------------------------------------------------- */

static void
download_stopped(void *arg)
{
	struct download *d = arg;
	download_stopped_fn *fn = d->stopped;

	d->stop_task = 0;
	if (d->rr != NULL) {
		rr_free(d->rr);
		d->rr = NULL;
	}
	download_enter_state(d, DS_STOPPED);
	d->stopped = NULL;
	if (fn != NULL)
		fn(d->stopped_ctx, d);
}

static void
download_cancel_tasks(struct download *d)
{
	uint64_t *tasks[] = { &d->check_task, &d->tick_task, &d->choke_task,
	    &d->redial_task, &d->stop_task };

	for (size_t i = 0; i < sizeof(tasks) / sizeof(tasks[0]); i++) {
		if (*tasks[i] != 0)
			rs_cancel_task(d->env->rs, *tasks[i]);
		*tasks[i] = 0;
	}
}

void
download_stop(struct download *d, download_stopped_fn *fn, void *ctx)
{
	download_cancel_tasks(d);
	if (d->state != DS_CHECKING)
		download_save_resume(d);
	download_enter_state(d, DS_STOPPING);
	if (d->dl != NULL)
		dl_shutdown(d->dl);
	d->stopped = fn;
	d->stopped_ctx = ctx;
	/* Tell the tracker we are leaving, so the swarm forgets us. */
	if (d->rr != NULL)
		rr_stop(d->rr, download_stopped, d, DL_STOP_MS);
	else
		d->stop_task = rs_add_task(d->env->rs, 0, download_stopped, d);
}

void
download_wait_hooks(struct download *d, uint32_t timeout_ms)
{
	hook_wait(d->hooks, timeout_ms);
}

bool
download_hooks_running(struct download *d)
{
	return hook_reap(d->hooks) > 0;
}

void
download_set_rate_caps(struct download *d, uint64_t up, uint64_t down)
{
	d->cap_up = up;
	d->cap_down = down;
	if (d->cn != NULL)
		cn_set_rate_caps(d->cn, up, down);
}

void
download_free(struct download *d)
{
	struct bt_err err = BT_ERR_INIT;

	if (d == NULL)
		return;
	download_cancel_tasks(d);
	if (d->dl != NULL)
		dl_shutdown(d->dl);
	rr_free(d->rr);
	cn_free(d->cn);
	enc_free(d->enc);
	dl_free(d->dl);
	ul_free(d->ul);
	ch_free(d->ch);
	pp_free(d->pp);
	ck_free(d->ck);
	sw_free(d->sw);
	if (d->st != NULL && st_flush(d->st, &err) < 0)
		log_warn("%s", err.msg);
	st_free(d->st);
	bf_release(&d->trust);
	bf_release(&d->todo);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	hook_free(d->hooks);
	free(d->lengths);
	free(d->selected);
	for (size_t i = 0; d->st_paths != NULL && i < d->mi.nfiles; i++)
		free(d->st_paths[i]);
	free(d->st_paths);
	bf_release(&d->wanted);
	free(d->resume_path);
	free(d->save_path);
	btf_release(&d->mi);
	free(d);
}

#include "download.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bitfield.h"
#include "bterr.h"
#include "btformats.h"
#include "choker.h"
#include "connecter.h"
#include "downloader.h"
#include "downloaderfeedback.h"
#include "encrypter.h"
#include "log.h"
#include "parseargs.h"
#include "piecepicker.h"
#include "ratemeasure.h"
#include "rawserver.h"
#include "rerequester.h"
#include "resolver.h"
#include "sha.h"
#include "storage.h"
#include "storagewrapper.h"
#include "uploader.h"
#include "xmalloc.h"

#define DL_CHOKE_MS 10000
#define DL_REDIAL_MS 20000
#define DL_STOP_MS 3000

/*
 * Text for the terminal: as it is when it is all printable ASCII (our own
 * messages, and text escaped already, such as the rerequester's), else
 * through log_escape(): names and paths come from the torrent and must not
 * carry escape sequences to the user's terminal.
 */
static const char *
download_safe(char *buf, size_t len, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p >= 0x7f)
			return log_escape(buf, len, s, strlen(s));
	return s;
}

/* Everything one download owns; built in download_run(), torn down in
 * reverse order by download_close(). */
struct download {
	const struct pa_config *cfg;
	struct btf_metainfo mi;
	char *save_path;
	struct storage *st;
	struct storagewrapper *sw;
	struct rawserver *rs;
	struct resolver *res;
	struct piecepicker *pp;
	struct choker *ch;
	struct uploader *ul;
	struct downloader *dl;
	struct connecter *cn;
	struct encoder *enc;
	struct rerequester *rr;
	struct ratemeasure rm;
	uint8_t peer_id[20];
	int port;
	int exit_code;
	bool finished;
	bool complete_at_start;
	bool tty;
	double display_interval;
	uint64_t choke_task, display_task, redial_task;
};

static double
download_now(const struct download *d)
{
	return (double)rs_now_ms(d->rs) / 1000.0;
}

/* --- setup ---------------------------------------------------------------- */

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

static int
download_open_storage(struct download *d)
{
	const struct btf_metainfo *mi = &d->mi;
	struct st_file *files = xcalloc(mi->nfiles, sizeof(*files));
	struct st_config stc = ST_CONFIG_INIT;
	struct sw_config swc = SW_CONFIG_INIT;
	struct bt_err err = BT_ERR_INIT;
	char esc[LOG_ESC_LEN];

	for (size_t i = 0; i < mi->nfiles; i++) {
		files[i].path = mi->files[i].relpath;
		files[i].length = mi->files[i].length;
	}
	stc.max_open_files = (int)d->cfg->max_open_files;
	d->st = st_new(d->save_path, files, mi->nfiles, !mi->multi_file, &stc,
	    &err);
	free(files);
	if (d->st == NULL) {
		log_warn("%s", download_safe(esc, sizeof(esc), err.msg));
		return err.code == -ENOSPC ? DOWNLOAD_EXIT_DISK_FULL :
		    DOWNLOAD_EXIT_IO;
	}
	swc.block_size = (uint32_t)d->cfg->download_slice_size;
	d->sw = sw_new(d->st, mi->pieces, (uint32_t)mi->npieces,
	    mi->piece_length, mi->total_length, &swc, &err);
	if (d->sw == NULL) {
		log_warn("%s: %s", download_safe(esc, sizeof(esc),
		    d->cfg->responsefile), err.msg);
		return DOWNLOAD_EXIT_TORRENT;
	}
	return 0;
}

static void
download_check_progress(void *ctx, uint32_t done, uint32_t total)
{
	struct download *d = ctx;

	if (d->tty && (done % 64 == 0 || done == total)) {
		printf("\rchecking existing data: %5.1f%%\033[K",
		    total ? 100.0 * done / total : 100.0);
		fflush(stdout);
	}
}

/*
 * check_hashes 1 (the default) hashes every piece whose bytes exist on
 * disk.  check_hashes 0 trusts them unchecked, as mainline did: fast, and
 * wrong if the files were changed behind our back.
 */
static int
download_check_existing(struct download *d)
{
	struct bt_err err = BT_ERR_INIT;
	char esc[LOG_ESC_LEN];
	uint32_t n = (uint32_t)d->mi.npieces;

	if (!d->cfg->check_hashes) {
		for (uint32_t i = 0; i < n; i++) {
			uint64_t off = (uint64_t)i * d->mi.piece_length;

			if (st_range_existed(d->st, off, sw_piece_len(d->sw, i)))
				sw_mark_have(d->sw, i);
		}
		return 0;
	}
	if (sw_check_existing(d->sw, download_check_progress, d, &err) < 0) {
		log_warn("%s", download_safe(esc, sizeof(esc), err.msg));
		return DOWNLOAD_EXIT_IO;
	}
	if (d->tty)
		printf("\r\033[K");
	return 0;
}

/* --- callbacks from the downloader ------------------------------------- */

static void
download_piece_verified(void *ctx, uint32_t i)
{
	struct download *d = ctx;

	rm_data_came_in(&d->rm, download_now(d), sw_piece_len(d->sw, i));
	cn_broadcast_have(d->cn, i);
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

static void download_display(void *arg);
static void download_failed(void *ctx, int err, const char *msg);

static void
download_finished(void *ctx)
{
	struct download *d = ctx;
	char size[32];
	struct bt_err err = BT_ERR_INIT;
	char esc[LOG_ESC_LEN], esc2[LOG_ESC_LEN];

	d->finished = true;
	ch_set_done(d->ch, true);
	/* fdatasync failing means the data may not be on disk: not done. */
	if (st_flush(d->st, &err) < 0) {
		download_failed(d, err.code, err.msg);
		return;
	}
	download_display(d);
	if (d->tty)
		printf("\n");
	if (d->rr != NULL && !d->complete_at_start)
		rr_completed(d->rr);
	printf("download complete: %s (%s) saved as %s\n",
	    download_safe(esc, sizeof(esc), d->mi.name),
	    fb_size_str(size, sizeof(size), d->mi.total_length),
	    download_safe(esc2, sizeof(esc2), d->save_path));
	fflush(stdout);
	if (d->cfg->no_seed)
		rs_stop(d->rs);
}

static void
download_failed(void *ctx, int err, const char *msg)
{
	struct download *d = ctx;
	char esc[LOG_ESC_LEN];

	/* Blocks already read in this loop pass fail the same way: the
	 * first error is the one to report and exit with. */
	if (d->exit_code != 0) {
		log_debug("%s", download_safe(esc, sizeof(esc), msg));
		return;
	}
	log_warn("%s", download_safe(esc, sizeof(esc), msg));
	d->exit_code = err == -ENOSPC ? DOWNLOAD_EXIT_DISK_FULL :
	    DOWNLOAD_EXIT_IO;
	rs_stop(d->rs);
}

static const struct dl_callbacks download_dl_cb = {
	download_piece_verified, download_piece_failed, download_finished,
	download_failed,
};

/* --- periodic tasks ---------------------------------------------------- */

static void
download_choke_round(void *arg)
{
	struct download *d = arg;

	ch_round(d->ch);
	d->choke_task = rs_add_task(d->rs, DL_CHOKE_MS, download_choke_round,
	    d);
}

static int
download_cols(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

static void
download_spew(struct download *d)
{
	char line[FB_LINE_LEN];

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
		printf("%s%s\n", d->tty ? "\r\033[K" : "",
		    fb_spew_line(line, sizeof(line), &p));
	}
}

static void
download_status(struct download *d, struct fb_status *s)
{
	double now = download_now(d);

	s->state = d->finished ? "seeding" : "downloading";
	s->total = d->mi.total_length;
	s->done = s->total - sw_amount_left(d->sw);
	s->down_rate = dl_rate(d->dl);
	s->up_rate = ul_rate(d->ul);
	s->downloaded = dl_total(d->dl);
	s->uploaded = ul_total(d->ul);
	s->peers = cn_num_conns(d->cn);
	s->seeds = dl_num_seeds(d->dl);
	s->eta = d->finished ? 0 : rm_get_time_left(&d->rm, now);
}

static void
download_display(void *arg)
{
	struct download *d = arg;
	struct fb_status s;

	download_status(d, &s);
	if (d->cfg->spew)
		download_spew(d);
	fb_print(stdout, d->tty, &s, download_cols());
}

static void
download_display_task(void *arg)
{
	struct download *d = arg;

	download_display(d);
	d->display_task = rs_add_task(d->rs,
	    (uint64_t)(d->display_interval * 1000), download_display_task, d);
}

/* --- peers ----------------------------------------------------------------- */

static void
download_resolved(void *ctx, int err, const struct sockaddr_storage *addrs,
    size_t n)
{
	struct download *d = ctx;

	if (err < 0) {
		log_warn("cannot resolve peer: %s", res_strerror(err));
		return;
	}
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
		else
			res_lookup(d->res, host, port, download_resolved, d);
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

	if (!d->cfg->no_seed || !d->finished)
		download_add_peers(d);
	d->redial_task = rs_add_task(d->rs, DL_REDIAL_MS, download_redial, d);
}

/* --- the tracker ----------------------------------------------------------- */

static void
download_tracker_peers(void *ctx, const struct btf_peer *peers, size_t n)
{
	struct download *d = ctx;

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

static void
download_tracker_error(void *ctx, const char *msg)
{
	char esc[LOG_ESC_LEN];

	(void)ctx;
	log_warn("%s", download_safe(esc, sizeof(esc), msg));
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
	rc.port = (uint16_t)d->port;
	rc.ip = cfg->ip[0] != '\0' ? cfg->ip : NULL;
	rc.seed = download_seed(d->peer_id) ^ 0x5bd1e995ULL;
	rc.interval_ms = (uint32_t)(cfg->rerequest_interval * 1000);
	rc.min_peers = cfg->min_peers;
	rc.max_initiate = cfg->max_initiate;
	rc.numwant = cfg->numwant;
	rc.http_timeout_ms = (uint32_t)(cfg->http_timeout * 1000);
	d->rr = rr_new(d->rs, d->res, &rc, d->mi.announce, d->mi.tiers,
	    d->mi.ntiers, &download_rr_cb, d, &err);
	if (d->rr == NULL) {
		log_warn("tracker: %s", err.msg);
		return;
	}
	rr_begin(d->rr);
}

static void
download_tracker_stopped(void *ctx)
{
	struct download *d = ctx;

	rr_free(d->rr);
	d->rr = NULL;
	rs_stop(d->rs);
}

/*
 * Tell the tracker we are leaving (event=stopped), waiting at most a few
 * seconds for its answer, so the swarm forgets us at once.
 */
static void
download_stop_tracker(struct download *d)
{
	if (d->rr == NULL)
		return;
	rr_stop(d->rr, download_tracker_stopped, d, DL_STOP_MS);
	rs_run(d->rs);
	if (d->rr != NULL) {
		rr_free(d->rr);
		d->rr = NULL;
	}
}

/* --- the wiring ------------------------------------------------------------- */

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

static int
download_wire(struct download *d)
{
	const struct pa_config *cfg = d->cfg;
	uint64_t seed = download_seed(d->peer_id);
	struct ul_config ulc;
	struct dl_config dlc;
	struct cn_config cnc;
	struct enc_config ec;
	uint32_t n = (uint32_t)d->mi.npieces;

	d->pp = pp_new(n, cfg->rarest_first_cutoff, seed);
	for (uint32_t i = 0; i < n; i++)
		if (sw_do_I_have(d->sw, i))
			pp_complete(d->pp, i);
	d->ch = ch_new(cn_choker_ops(), (int)cfg->max_uploads,
	    (int)cfg->min_uploads, seed ^ 0x9e3779b97f4a7c15ULL);
	ch_set_done(d->ch, d->finished);
	ulc.max_slice_length = (uint32_t)cfg->max_slice_length;
	ulc.max_rate_period = cfg->max_rate_period;
	ulc.fudge = cfg->upload_rate_fudge;
	ulc.max_queued_bytes = 256 * 1024;
	d->ul = ul_new(d->rs, d->sw, &ulc);
	dlc.backlog = cfg->request_backlog;
	dlc.queue_time = 3.0;
	dlc.snub_time = cfg->snub_time;
	dlc.max_rate_period = cfg->max_rate_period;
	d->dl = dl_new(d->rs, d->sw, d->pp, &dlc, &download_dl_cb, d);
	cnc.npieces = n;
	cnc.max_upload_rate = cfg->max_upload_rate;
	cnc.max_download_rate = cfg->max_download_rate;
	d->cn = cn_new(d->rs, &cnc, d->ul, d->dl, d->ch);
	ul_set_connecter(d->ul, d->cn);
	ec.max_message_length = download_max_message(d);
	ec.keepalive_ms = (uint32_t)(cfg->keepalive_interval * 1000);
	ec.max_initiate = cfg->max_initiate;
	d->enc = enc_new(d->rs, &ec, d->mi.info_hash.b, d->peer_id,
	    cn_enc_upper(), d->cn);
	return 0;
}

static int
download_listen(struct download *d)
{
	struct bt_err err = BT_ERR_INIT;
	const struct pa_config *cfg = d->cfg;

	d->port = rs_listen(d->rs, cfg->bind, (int)cfg->minport,
	    (int)cfg->maxport, enc_handler(), d->enc, &err);
	if (d->port < 0) {
		log_warn("cannot listen: %s", err.msg);
		return DOWNLOAD_EXIT_ERROR;
	}
	if (cfg->bind[0] != '\0' && rs_set_bind(d->rs, cfg->bind) < 0) {
		log_warn("cannot bind outgoing connections to %s", cfg->bind);
		return DOWNLOAD_EXIT_ERROR;
	}
	log_info("listening on port %d", d->port);
	return 0;
}

static struct rawserver *
download_reactor(const struct pa_config *cfg)
{
	struct rs_config rc = RS_CONFIG_DEFAULT;

	rc.timeout_ms = (uint32_t)(cfg->timeout * 1000);
	rc.timeout_check_ms = (uint32_t)(cfg->timeout_check_interval * 1000);
	rc.connect_timeout_ms = (uint32_t)(cfg->connect_timeout * 1000);
	rc.max_conns = cfg->max_allow_in;
	return rs_new(&rc);
}

static void
download_close(struct download *d)
{
	struct bt_err err = BT_ERR_INIT;
	char esc[LOG_ESC_LEN];

	if (d->dl != NULL)
		dl_shutdown(d->dl);
	cn_free(d->cn);
	enc_free(d->enc);
	dl_free(d->dl);
	ul_free(d->ul);
	ch_free(d->ch);
	pp_free(d->pp);
	res_free(d->res);
	rs_free(d->rs);
	sw_free(d->sw);
	if (d->st != NULL && st_flush(d->st, &err) < 0)
		log_warn("%s", download_safe(esc, sizeof(esc), err.msg));
	st_free(d->st);
	free(d->save_path);
	btf_release(&d->mi);
}

static int
download_setup(struct download *d)
{
	struct bt_err err = BT_ERR_INIT;
	char esc[LOG_ESC_LEN];
	int r;

	if (btf_load_file(d->cfg->responsefile, &d->mi, &err) < 0) {
		log_warn("%s: %s", download_safe(esc, sizeof(esc),
		    d->cfg->responsefile), err.msg);
		return DOWNLOAD_EXIT_TORRENT;
	}
	d->save_path = xstrdup(d->cfg->saveas[0] != '\0' ? d->cfg->saveas :
	    d->mi.name);
	if ((r = download_open_storage(d)) != 0)
		return r;
	if ((r = download_check_existing(d)) != 0)
		return r;
	d->finished = sw_is_complete(d->sw);
	d->complete_at_start = d->finished;
	rm_init(&d->rm, sw_amount_left(d->sw));
	download_make_peer_id(d->peer_id);
	if ((d->rs = download_reactor(d->cfg)) == NULL) {
		log_warn("cannot create the reactor: %s", strerror(errno));
		return DOWNLOAD_EXIT_ERROR;
	}
	d->res = res_new(d->rs);
	download_wire(d);
	return download_listen(d);
}

int
download_run(const struct pa_config *cfg)
{
	struct download d;
	char esc[LOG_ESC_LEN];
	int r, sig;

	memset(&d, 0, sizeof(d));
	d.cfg = cfg;
	d.tty = isatty(STDOUT_FILENO) == 1;
	d.display_interval = cfg->display_interval > 0 ? cfg->display_interval :
	    (d.tty ? 0.5 : 1.0);
	if ((r = download_setup(&d)) != 0) {
		download_close(&d);
		return r;
	}
	if (d.finished) {
		printf("%s is complete; seeding\n",
		    download_safe(esc, sizeof(esc), d.save_path));
		fflush(stdout);
		if (cfg->no_seed) {
			download_close(&d);
			return DOWNLOAD_EXIT_OK;
		}
	}
	download_add_peers(&d);
	if (cfg->peer.n > 0)
		d.redial_task = rs_add_task(d.rs, DL_REDIAL_MS, download_redial,
		    &d);
	d.choke_task = rs_add_task(d.rs, DL_CHOKE_MS, download_choke_round, &d);
	download_start_tracker(&d);
	download_display_task(&d);
	sig = rs_run(d.rs);
	if (d.tty)
		printf("\n");
	rs_cancel_task(d.rs, d.display_task);
	rs_cancel_task(d.rs, d.choke_task);
	rs_cancel_task(d.rs, d.redial_task);
	download_stop_tracker(&d);
	if (d.exit_code == 0 && sig > 0 && !d.finished) {
		log_warn("interrupted before the download was complete");
		d.exit_code = DOWNLOAD_EXIT_INTERRUPTED;
	} else if (d.exit_code == 0 && sig < 0) {
		log_warn("reactor failed: %s", strerror(-sig));
		d.exit_code = DOWNLOAD_EXIT_ERROR;
	}
	r = d.exit_code;
	download_close(&d);
	return r;
}

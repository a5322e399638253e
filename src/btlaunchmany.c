/*
 * btlaunchmany: download and seed every .torrent file of a directory in one
 * process (mainline btlaunchmany.py).  Options are btdownload's, less
 * those that name one torrent, plus --saveas_dir and --scan_interval; the
 * work is lm_run().
 */
#include <stdio.h>

#include "bterr.h"
#include "download.h"
#include "launchmany.h"
#include "log.h"
#include "parseargs.h"

int
main(int argc, char **argv)
{
	struct pa_config cfg;
	struct bt_err err = BT_ERR_INIT;
	int r;

	log_set_prog("btlaunchmany");
	r = pa_parse_btlaunchmany(argc, argv, &cfg, &err);
	if (r == PA_HELP)
		return DOWNLOAD_EXIT_OK;
	if (r < 0) {
		log_error("%s (see btlaunchmany --help; exit status %d)",
		    err.msg, DOWNLOAD_EXIT_USAGE);
		return DOWNLOAD_EXIT_USAGE;
	}
	if (cfg.verbose)
		log_set_level(LOG_LEVEL_DEBUG);
	else if (cfg.quiet)
		log_set_level(LOG_LEVEL_QUIET);
	else
		log_set_level(LOG_LEVEL_WARN);
	r = lm_run(&cfg);
	pa_config_release(&cfg);
	return r;
}

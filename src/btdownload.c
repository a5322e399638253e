/*
 * btdownload: download a torrent and seed it (mainline
 * btdownloadheadless.py).  Options are parseargs' btdownload table; the
 * work is run_single().
 */
#include <stdio.h>

#include "bterr.h"
#include "download.h"
#include "log.h"
#include "parseargs.h"
#include "run.h"

int
main(int argc, char **argv)
{
	struct pa_config cfg;
	struct bt_err err = BT_ERR_INIT;
	int r;

	log_set_prog("btdownload");
	r = pa_parse_btdownload(argc, argv, &cfg, &err);
	if (r == PA_HELP)
		return DOWNLOAD_EXIT_OK;
	if (r < 0) {
		/* One line, the last on stderr: what was wrong. */
		log_error("%s (see btdownload --help; exit status %d)", err.msg,
		    DOWNLOAD_EXIT_USAGE);
		return DOWNLOAD_EXIT_USAGE;
	}
	if (cfg.verbose)
		log_set_level(LOG_LEVEL_DEBUG);
	else if (cfg.quiet)
		log_set_level(LOG_LEVEL_QUIET);
	else
		log_set_level(LOG_LEVEL_WARN);
	r = run_single(&cfg);
	pa_config_release(&cfg);
	return r;
}

/*
 * btdownload's whole command line through pa_parse_btdownload: the input
 * is the arguments separated by NUL bytes (at most 64).  Whatever it
 * returns, releasing the config must free everything (LeakSanitizer) and a
 * second release must be harmless.  --help output goes to stdout.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bterr.h"
#include "parseargs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARGV_MAX 64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_err err = BT_ERR_INIT;
	struct pa_config cfg;
	char *buf, *argv[ARGV_MAX + 2];
	int argc = 1, rc;

	if (size > 4096)
		return 0;
	buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = (char *)"btdownload";
	for (size_t i = 0; i <= size && argc <= ARGV_MAX; ) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;
	rc = pa_parse_btdownload(argc, argv, &cfg, &err);
	if (rc < 0 && err.msg[0] == '\0')
		abort();
	pa_config_release(&cfg);
	pa_config_release(&cfg);
	free(buf);
	return 0;
}

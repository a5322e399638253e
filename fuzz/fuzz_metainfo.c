/*
 * btf_parse() on any bytes (a .torrent from a stranger).  A torrent that
 * is accepted must be internally consistent: every path component and the
 * name pass btf_check_component, file offsets add up to the total length,
 * and the piece count matches it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "btformats.h"
#include "bterr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const char *s)
{
	if (btf_check_component((const uint8_t *)s, strlen(s)) != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_err err = BT_ERR_INIT;
	struct btf_metainfo mi;
	uint64_t off = 0;

	if (btf_parse(data, size, &mi, &err) != 0) {
		if (err.msg[0] == '\0' || mi.files != NULL || mi.name != NULL)
			abort();
		btf_release(&mi);
		return 0;
	}
	check_name(mi.name);
	if (mi.nfiles == 0 || mi.piece_length == 0 || mi.total_length == 0)
		abort();
	for (size_t i = 0; i < mi.nfiles; i++) {
		const struct btf_file *f = &mi.files[i];

		if (f->npath == 0 || f->offset != off)
			abort();
		for (size_t j = 0; j < f->npath; j++)
			check_name(f->path[j]);
		if (f->relpath[0] == '/' || strstr(f->relpath, "//") != NULL)
			abort();
		off += f->length;
	}
	if (off != mi.total_length ||
	    mi.npieces != (mi.total_length + mi.piece_length - 1) /
	    mi.piece_length)
		abort();
	btf_release(&mi);
	return 0;
}

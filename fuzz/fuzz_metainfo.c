/*
 * btf_parse() on any bytes (a .torrent from a stranger).  A torrent that
 * is accepted must be internally consistent: every path component and the
 * name pass btf_check_component, file offsets add up to the total length,
 * the piece count matches it, no joined path is longer than BTF_MAX_PATH
 * and no file is a BEP 47 symlink.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bencode.h"
#include "btformats.h"
#include "bterr.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* No attr holding 'l' (symlink) in d. */
static void
check_attr(const struct be_node *d)
{
	const struct be_node *a = be_dict_get(d, "attr");
	const uint8_t *p;
	size_t n;

	if (a != NULL && (p = be_str(a, &n)) != NULL && memchr(p, 'l', n))
		abort();
}

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
		if (mi.files != NULL || mi.name != NULL)
			abort();
		fuzz_check_msg(err.msg);
		btf_release(&mi);
		return 0;
	}
	check_name(mi.name);
	check_attr(be_dict_get(btf_root(&mi), "info"));
	if (mi.multi_file) {
		const struct be_node *info = be_dict_get(btf_root(&mi), "info");
		struct be_iter it;
		const struct be_node *f;

		be_iter_init(&it, be_dict_get(info, "files"));
		while ((f = be_iter_next(&it)) != NULL)
			check_attr(f);
	}
	if (mi.nfiles == 0 || mi.piece_length == 0 || mi.total_length == 0)
		abort();
	for (size_t i = 0; i < mi.nfiles; i++) {
		const struct btf_file *f = &mi.files[i];

		if (f->npath == 0 || f->offset != off)
			abort();
		for (size_t j = 0; j < f->npath; j++)
			check_name(f->path[j]);
		if (f->relpath[0] == '/' || strstr(f->relpath, "//") != NULL ||
		    strlen(f->relpath) > BTF_MAX_PATH)
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

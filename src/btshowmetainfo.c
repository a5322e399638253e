/*
 * btshowmetainfo: print what a .torrent holds (mainline btshowmetainfo.py,
 * without its banner, plus piece, tracker tier and private lines).
 *
 * Every torrent named is shown, even after a bad one; a bad one gets one
 * line "btshowmetainfo: FILE: reason" on stderr and makes the exit status 1.
 * Text from the torrent is printed as UTF-8 when it is valid and harmless;
 * control characters, bidi overrides and broken sequences come out as \xNN.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bterr.h"
#include "btformats.h"
#include "sha.h"

/* Length of the valid, printable UTF-8 sequence at p, or 0. */
static size_t
utf8_ok(const unsigned char *p)
{
	size_t n = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 :
	    p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : 0;
	uint32_t cp, min = n == 4 ? 0x10000 : n == 3 ? 0x800 : 0x80;

	if (n == 0 || p[0] > 0xf4)
		return 0;
	cp = p[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (cp <= 0x9f || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069))
		return 0;
	return n;
}

static void
put_text(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p != '\0') {
		if (*p >= 0x20 && *p < 0x7f) {
			fputc(*p++, fp);
		} else if (*p >= 0x80 && (n = utf8_ok(p)) > 0) {
			fwrite(p, 1, n, fp);
			p += n;
		} else {
			fprintf(fp, "\\x%02x", *p++);
		}
	}
}

static void
put_field(const char *label, const char *value)
{
	fputs(label, stdout);
	put_text(stdout, value);
	fputc('\n', stdout);
}

static void
show_date(int64_t when)
{
	time_t t = (time_t)when;
	struct tm tm;
	char buf[64];

	if ((int64_t)t == when && gmtime_r(&t, &tm) != NULL &&
	    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm) > 0)
		printf("creation date.: %s (%" PRId64 ")\n", buf, when);
	else
		printf("creation date.: %" PRId64 "\n", when);
}

/* "12345 (47 * 262144 + 1234)", as mainline writes sizes. */
static void
show_size(const char *label, const struct btf_metainfo *mi)
{
	printf("%s%" PRIu64 " (%" PRIu64 " * %" PRIu32 " + %" PRIu64 ")\n",
	    label, mi->total_length, mi->total_length / mi->piece_length,
	    mi->piece_length, mi->total_length % mi->piece_length);
}

static void
show_files(const struct btf_metainfo *mi)
{
	if (!mi->multi_file) {
		put_field("file name.....: ", mi->name);
		show_size("file size.....: ", mi);
		return;
	}
	put_field("directory name: ", mi->name);
	printf("files.........:\n");
	for (size_t i = 0; i < mi->nfiles; i++) {
		fputs("   ", stdout);
		put_text(stdout, mi->files[i].relpath);
		printf(" (%" PRIu64 ")\n", mi->files[i].length);
	}
	show_size("archive size..: ", mi);
}

static void
show_trackers(const struct btf_metainfo *mi)
{
	if (mi->announce != NULL)
		put_field("announce url..: ", mi->announce);
	else
		printf("announce url..: (none; trackerless)\n");
	for (size_t i = 0; i < mi->ntiers; i++) {
		/* "tier 1........: ", dotted like the other labels. */
		int n = printf("tier %zu", i + 1);

		for (; n < 14; n++)
			fputc('.', stdout);
		fputs(": ", stdout);
		for (size_t j = 0; j < mi->tiers[i].nurls; j++) {
			if (j > 0)
				fputc(' ', stdout);
			put_text(stdout, mi->tiers[i].urls[j]);
		}
		fputc('\n', stdout);
	}
}

static void
show(const char *path, const struct btf_metainfo *mi)
{
	char hex[SHA1_HEXLEN];

	put_field("metainfo file.: ", path);
	printf("info hash.....: %s\n", sha1_hex(&mi->info_hash, hex));
	show_files(mi);
	printf("piece length..: %" PRIu32 "\n", mi->piece_length);
	printf("pieces........: %zu\n", mi->npieces);
	show_trackers(mi);
	if (mi->comment != NULL)
		put_field("comment.......: ", mi->comment);
	if (mi->created_by != NULL)
		put_field("created by....: ", mi->created_by);
	if (mi->has_creation_date)
		show_date(mi->creation_date);
	printf("private.......: %s\n", mi->private ? "yes" : "no");
}

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: btshowmetainfo FILE.torrent...\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct btf_metainfo mi;
	struct bt_err err = BT_ERR_INIT;
	int c, status = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		usage(c == 'h' ? stdout : stderr);
		return c == 'h' ? 0 : 2;
	}
	if (optind == argc) {
		usage(stderr);
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		if (btf_load_file(argv[i], &mi, &err) < 0) {
			fflush(stdout);
			fputs("btshowmetainfo: ", stderr);
			put_text(stderr, argv[i]);
			fprintf(stderr, ": %s\n", err.msg);
			status = 1;
			continue;
		}
		if (i > optind)
			fputc('\n', stdout);
		show(argv[i], &mi);
		btf_release(&mi);
	}
	return status;
}

/*
 * selection: which files and pieces of a torrent to download (--only,
 * --skip, --range).  Pure functions over the file list; no I/O.
 *
 * A pattern is a file number N or a range of numbers N-M, counted from 1
 * in metainfo order (btshowmetainfo's order), or else an fnmatch(3)
 * pattern matched against the file's path in the torrent ("sub/b.bin";
 * without FNM_PATHNAME, so '*' matches '/' too and "*.iso" matches at any
 * depth).  A file whose name is all digits is matched by a bracket
 * pattern ("[3]").
 */
#ifndef BT_SELECTION_H
#define BT_SELECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bitfield;
struct bt_err;

/*
 * out_selected[i] for each of the n files (paths[i], relative): true when
 * it matches an --only pattern (or none is given) and no --skip pattern.
 * A pattern that matches no file, or a number out of range, is an error
 * (-ENOENT / -ERANGE, err names it): almost certainly a typo.
 */
int sel_files(const char *const *paths, size_t n, char *const *only,
    size_t nonly, char *const *skip, size_t nskip, bool *out_selected,
    struct bt_err *err);

/* Deselect the files with no byte in [start, end] (end included). */
void sel_range_files(const uint64_t *lengths, size_t n, uint64_t start,
    uint64_t end, bool *selected);

/*
 * The wanted pieces: those holding a byte of a selected, non-empty file
 * that lies in [start, end].  out must be initialised to the piece count;
 * it is cleared first.  Returns how many are wanted.
 */
uint32_t sel_pieces(const uint64_t *lengths, const bool *selected, size_t n,
    uint32_t piece_len, uint64_t start, uint64_t end, struct bitfield *out);

#endif

/*
 * resume_decode() on any bytes (a resume file someone else could have
 * written, or a torn one).  Input: 1 byte of file count (mod 8), 2 bytes
 * of piece count, 4 bytes of length per file, then the resume file; the
 * torrent's info hash is 20 'I' bytes.  An accepted file must match the
 * expectation and be canonical: resume_encode() gives back the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bitfield.h"
#include "bterr.h"
#include "fuzz.h"
#include "resume.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_err err = BT_ERR_INIT;
	struct resume r;
	struct resume_expect ex;
	struct sha1 hash;
	uint64_t lengths[8];
	uint8_t *enc;
	size_t nfiles, hdr, n;

	if (size < 3)
		return 0;
	nfiles = data[0] % 8;
	hdr = 3 + 4 * nfiles;
	if (size < hdr)
		return 0;
	for (size_t i = 0; i < nfiles; i++) {
		const uint8_t *q = data + 3 + 4 * i;

		lengths[i] = (uint64_t)q[0] << 24 | (uint64_t)q[1] << 16 |
		    (uint64_t)q[2] << 8 | q[3];
	}
	memset(hash.b, 'I', sizeof(hash.b));
	ex.info_hash = &hash;
	ex.npieces = (uint32_t)data[1] << 8 | data[2];
	ex.lengths = lengths;
	ex.nfiles = nfiles;
	if (resume_decode(data + hdr, size - hdr, &ex, &r, &err) != 0) {
		if (r.files != NULL || r.nfiles != 0)
			abort();
		fuzz_check_msg(err.msg);
		return 0;
	}
	if (r.have.n != ex.npieces || r.nfiles != nfiles ||
	    memcmp(r.info_hash.b, hash.b, sizeof(hash.b)) != 0 ||
	    bf_count(&r.have) > r.have.n)
		abort();
	for (size_t i = 0; i < nfiles; i++)
		if (r.files[i].size != lengths[i] || r.files[i].mtime_nsec < 0 ||
		    r.files[i].mtime_nsec > 999999999)
			abort();
	enc = resume_encode(&r, &n);
	if (n != size - hdr || memcmp(enc, data + hdr, n) != 0)
		abort();
	free(enc);
	resume_release(&r);
	return 0;
}

/*
 * A UDP tracker's datagram (BEP 15) through rr_udp_parse, as the
 * rerequester's receive path parses it.  The first byte picks IPv4 or
 * IPv6 compact peers; the rest is the datagram.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>

#include "btformats.h"
#include "bterr.h"
#include "fuzz.h"
#include "rerequester.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_err err = BT_ERR_INIT;
	struct rr_udp_msg m;
	const uint8_t *p;
	size_t n, each;
	bool v6;
	int rc;

	if (size < 1)
		return 0;
	v6 = data[0] & 1;
	each = v6 ? 18 : 6;
	p = data + 1;
	n = size - 1;
	rc = rr_udp_parse(p, n, v6, &m, &err);
	if (rc < 0)
		fuzz_check_msg(err.msg);
	if (rc == 0 && m.action == RR_UDP_ACT_ANNOUNCE) {
		if (n < 20 || m.npeers > BTF_MAX_PEERS ||
		    m.npeers > (n - 20) / each || m.stray != (n - 20) % each)
			abort();
		for (size_t i = 0; i < m.npeers; i++)
			if (m.peers[i].addr.ss_family !=
			    (v6 ? AF_INET6 : AF_INET))
				abort();
	}
	if (rc == 0 && m.action == RR_UDP_ACT_ERROR &&
	    (m.text != p + 8 || m.textlen != n - 8))
		abort();
	rr_udp_msg_release(&m);
	return 0;
}

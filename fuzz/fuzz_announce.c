/*
 * btf_parse_announce() on any bytes (an HTTP tracker's reply body).  An
 * accepted reply has a sane peer list: at most BTF_MAX_PEERS, each an
 * IPv4 or IPv6 address with a non-zero port.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>

#include "btformats.h"
#include "bterr.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_err err = BT_ERR_INIT;
	struct btf_announce ann;

	if (btf_parse_announce(data, size, &ann, &err) != 0) {
		if (ann.peers != NULL)
			abort();
		fuzz_check_msg(err.msg);
		btf_announce_release(&ann);
		return 0;
	}
	if (ann.npeers > 2 * BTF_MAX_PEERS)
		abort();
	for (size_t i = 0; i < ann.npeers; i++) {
		const struct btf_peer *pe = &ann.peers[i];
		const struct sockaddr_in *s4 = (const void *)&pe->addr;
		const struct sockaddr_in6 *s6 = (const void *)&pe->addr;

		if (pe->addr.ss_family == AF_INET) {
			if (s4->sin_port == 0)
				abort();
		} else if (pe->addr.ss_family == AF_INET6) {
			if (s6->sin6_port == 0)
				abort();
		} else {
			abort();
		}
	}
	btf_announce_release(&ann);
	return 0;
}

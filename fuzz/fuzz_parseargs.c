/*
 * Command-line values: the first byte picks the parser (size, rate,
 * duration, peer, int, uint, double, bool), the rest is the value as a
 * NUL-terminated string.  Accepted values must be in their documented
 * ranges; a rejected one leaves the output untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bterr.h"
#include "parseargs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_err err = BT_ERR_INIT;
	char *s, host[PA_HOST_MAX];
	uint64_t u64 = 12345;
	double d = -7;
	int i = -7;
	unsigned int ui = 7;
	bool b = false;
	uint16_t port = 0;
	int rc;

	if (size < 1 || size > 4096)
		return 0;
	s = malloc(size);
	if (s == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 8) {
	case 0:
		rc = pa_parse_size(s, &u64, &err);
		if (rc != 0 && u64 != 12345)
			abort();
		break;
	case 1:
		rc = pa_parse_rate(s, &u64, &err);
		if (rc != 0 && u64 != 12345)
			abort();
		break;
	case 2:
		rc = pa_parse_duration(s, &d, &err);
		if (rc == 0 && !(d >= 0 && d <= PA_DURATION_MAX))
			abort();
		if (rc != 0 && d != -7)
			abort();
		break;
	case 3:
		rc = pa_parse_peer(s, host, sizeof(host), &port, &err);
		if (rc == 0 && (port == 0 || host[0] == '\0' ||
		    memchr(host, '\0', sizeof(host)) == NULL))
			abort();
		break;
	case 4:
		rc = pa_parse_int(s, &i, &err);
		if (rc != 0 && i != -7)
			abort();
		break;
	case 5:
		rc = pa_parse_uint(s, &ui, &err);
		if (rc != 0 && ui != 7)
			abort();
		break;
	case 6:
		rc = pa_parse_double(s, &d, &err);
		if (rc == 0 && !(d >= 0 && d <= PA_DOUBLE_MAX))
			abort();
		break;
	default:
		rc = pa_parse_bool(s, &b, &err);
		if (rc == 0 && strcmp(s, "0") != 0 && strcmp(s, "1") != 0)
			abort();
		break;
	}
	if (rc != 0 && err.msg[0] == '\0')
		abort();
	free(s);
	return 0;
}

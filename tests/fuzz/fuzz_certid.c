/* libFuzzer target for the ARI certID parser (RFC 9773 §4.1) that reads the path of
 * GET /renewal-info/{certID}. Any bytes in: a serial or a problem, never a crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/lifecycle.h"
#include "problem.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The key identifier of the RFC 9773 §4.1 example, so inputs can get past it. */
	static const unsigned char keyid[] = {0x69, 0x88, 0x5b, 0x6b, 0x87, 0x46, 0x40, 0x41, 0xe1, 0xb3,
	                                      0x7b, 0x84, 0x7b, 0xa0, 0xae, 0x2c, 0xde, 0x01, 0xc8, 0xd4};
	char *s = str_copy(data, size);
	if (!s)
		return 0;
	char serial[128];
	struct problem *p = lifecycle_parse_certid(s, keyid, sizeof keyid, serial, sizeof serial);
	if (!p && strnlen(serial, sizeof serial) == sizeof serial)
		__builtin_trap();
	problem_free(p);
	free(s);
	return 0;
}

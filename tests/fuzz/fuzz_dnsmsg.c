/* libFuzzer target for the resolver's reading of a DNS response (dnsmsg_answer): the input is
 * the message; for a few record types, any verdict, never a crash or overread, and every
 * record handed back lies inside the message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "validation/dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned types[] = {1, 5, 16, 28, 257};
	/* An exact-size copy: ASan sees any read past the end. */
	unsigned char *msg = malloc(size ? size : 1);
	if (!msg)
		return 0;
	memcpy(msg, data, size);
	size_t cap = dnsmsg_ancount(msg, size);
	struct dnsmsg_rdata *rd = malloc((cap ? cap : 1) * sizeof *rd);
	for (size_t t = 0; rd && t < sizeof types / sizeof types[0]; t++) {
		size_t n = 0;
		int rcode = -1;
		if (dnsmsg_answer(msg, size, types[t], &rcode, rd, cap, &n) != 0)
			continue;
		if (n > cap || rcode < 0 || rcode > 15)
			__builtin_trap();
		for (size_t i = 0; i < n; i++)
			if (rd[i].off > size || rd[i].len > size - rd[i].off)
				__builtin_trap();
	}
	free(rd);
	free(msg);
	return 0;
}

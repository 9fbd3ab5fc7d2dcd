/* libFuzzer target for the stub resolver's answer parser (dnswire_answer): any message, read
 * against the question it would answer, for every answered type; never a crash or an overread
 * (the message is copied into a buffer of exactly its size), and records handed back always lie
 * inside the message. The first two bytes pick the question's id, the third its type. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "validation/dnswire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[] = {1, 16, 28, 257};
	static const char *const names[] = {"a.example.test", "example.test", "x.y.z.example.test"};
	uint8_t wname[DNSWIRE_NAME_MAX];
	if (size < 3)
		return 0;
	uint16_t id = (uint16_t)(data[0] << 8 | data[1]);
	int qtype = types[data[2] % 4];
	const char *name = names[data[2] / 4 % 3];
	int wl = dnswire_name(name, wname);
	uint8_t *msg = malloc(size - 3 ? size - 3 : 1);
	if (wl < 0 || !msg)
		__builtin_trap();
	memcpy(msg, data + 3, size - 3);
	/* The message's own id: the parser gets past the header more often. */
	if (size - 3 >= 2)
		id = (uint16_t)(msg[0] << 8 | msg[1]);
	struct dnswire_answer a;
	int rc = dnswire_answer(msg, size - 3, id, wname, (size_t)wl, qtype, &a);
	if (rc < -1 || rc > 1 || a.n > DNSWIRE_MAX_RRS)
		__builtin_trap();
	for (size_t k = 0; rc == 0 && k < a.n; k++)
		if (a.rdata[k] < msg || a.rdata[k] + a.len[k] > msg + (size - 3))
			__builtin_trap();
	if (rc == 0 && !a.truncated && (a.target_len == 0 || a.target_len > DNSWIRE_NAME_MAX))
		__builtin_trap();
	/* And a query for the name the answer aliases to, as the resolver would send next. */
	uint8_t q[512];
	if (rc == 0 && !a.truncated && a.aliased &&
	    dnswire_query(q, sizeof q, id, a.target, a.target_len, qtype) < 0)
		__builtin_trap();
	free(msg);
	return 0;
}

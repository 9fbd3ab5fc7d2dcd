/* libFuzzer target for httpc's response parser: byte 0 picks HEAD and small limits, byte 1 where
 * the rest is split into two reads; the remainder is the response, then end of stream. Any verdict,
 * but within the limits and never a crash or overread. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "httpmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	int head = data[0] & 1;
	struct httpc_limits lim = {0};
	if (data[0] & 2)
		lim = (struct httpc_limits){.max_headers = 4, .max_line = 32, .max_body = 16};
	const char *in = (const char *)data + 2;
	size_t len = size - 2;
	size_t split = len ? data[1] % (len + 1) : 0;

	struct httpc_response r;
	struct httpc_parser p;
	if (httpc_parser_init(&p, &lim, head, &r) != 0)
		return 0;
	size_t used = 0;
	int st = httpc_parser_feed(&p, in, split, &used);
	if (used > split)
		__builtin_trap();
	if (st == HTTPC_PARSE_MORE) {
		st = httpc_parser_feed(&p, in + split, len - split, &used);
		if (used > len - split)
			__builtin_trap();
	}
	if (st == HTTPC_PARSE_MORE)
		st = httpc_parser_eof(&p);
	if (st == HTTPC_PARSE_DONE) {
		if (r.status < 200 || r.status > 599 || r.nfields > p.lim.max_headers || r.body_len > p.lim.max_body ||
		    (r.body && r.body[r.body_len] != '\0') || (head && r.body_len))
			__builtin_trap();
		for (size_t i = 0; i < r.nfields; i++)
			if (!r.fields[i].name[0] || httpc_header(&r, r.fields[i].name) == NULL)
				__builtin_trap();
	} else if (st != HTTPC_PARSE_ERROR || !p.err[0]) {
		__builtin_trap();
	}
	httpc_parser_free(&p);
	httpc_response_clear(&r);
	return 0;
}

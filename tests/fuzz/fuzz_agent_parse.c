/* libFuzzer target for the agent's parsers of server responses: Retry-After, Link headers,
 * RFC 3339 timestamps and problem documents. Any bytes in, never a crash or a leak. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/acme/parse.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = str_copy(data, size);
	if (!s)
		return 0;
	(void)parse_retry_after(s, 1800000000);
	(void)parse_rfc3339(s);
	char *urls[4] = {0};
	size_t n = parse_link_rel(s, "alternate", urls, 4);
	if (n > 4)
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		free(urls[i]);
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	if (j) {
		char line[512];
		format_problem(j, line, sizeof line);
		if (strlen(line) >= sizeof line)
			__builtin_trap();
		json_decref(j);
	}
	free(s);
	return 0;
}

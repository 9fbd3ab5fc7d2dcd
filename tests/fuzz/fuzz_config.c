/* libFuzzer target for the JSON configuration parser (cobbled --config). Any bytes in:
 * applied or refused with a message naming the field, never a crash or a leak. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[256] = "";
	config_defaults(&c);
	int rc = config_apply_json(&c, (const char *)data, size, err, sizeof err);
	if (rc != 0 && err[0] == '\0')
		__builtin_trap(); /* a refusal always says why */
	config_free(&c);
	return 0;
}

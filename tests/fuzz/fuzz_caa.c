/* libFuzzer target for the CAA value parser and decision: input bytes split at NULs into
 * flags byte, tag and value for up to three records; any verdict, never a crash or overread. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "validation/caa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ids[] = {"cobble.test"};
	static char buf[4096];
	struct caa_record recs[3];
	size_t n = 0, i = 0;
	char why[128];

	if (size < 2 || size >= sizeof buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	while (n < 3 && i < size - 1) {
		recs[n].flags = data[0] & (n ? 0 : 0xff);
		recs[n].tag = buf + i;
		i += strlen(buf + i) + 1;
		recs[n].value = i < size - 1 ? buf + i : "";
		if (i < size - 1)
			i += strlen(buf + i) + 1;
		n++;
	}
	int rc = caa_check(recs, n, data[0] & 1, ids, 1, "https://ca.test/acct/1", "dns-01", why,
			   sizeof why);
	if (rc != 0 && rc != 1)
		__builtin_trap();
	return 0;
}

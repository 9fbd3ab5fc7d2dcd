/* libFuzzer target for a CAA RRset as the resolver hands it over (caa_records_from_rdata, then
 * caa_check on what it built): the input is a sequence of records, each a length byte and that
 * many RDATA bytes (RFC 8659 §4.1); any verdict, never a crash or overread. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "validation/caa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ids[] = {"cobble.test"};
	const unsigned char *rd[CAA_RRSET_MAX + 2];
	size_t len[CAA_RRSET_MAX + 2], n = 0, i = 0;
	struct caa_record *recs = NULL;
	char err[256], why[512];

	while (i < size && n < CAA_RRSET_MAX + 2) {
		size_t l = data[i++];
		if (l > size - i)
			l = size - i;
		rd[n] = data + i; /* exactly l bytes: ASan sees any overread */
		len[n++] = l;
		i += l;
	}
	if (caa_records_from_rdata(rd, len, n, &recs, err, sizeof err) != 0) {
		if (recs)
			__builtin_trap();
		return 0;
	}
	for (int wild = 0; wild < 2; wild++) {
		int rc = caa_check(recs, n, wild, ids, 1, "https://ca.test/acct/1", "tls-alpn-01", why, sizeof why);
		if (rc != 0 && rc != 1)
			__builtin_trap();
	}
	free(recs);
	return 0;
}

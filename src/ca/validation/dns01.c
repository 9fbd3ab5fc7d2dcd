/* dns-01 validation (RFC 8555 §8.4): the TXT record at _acme-challenge.<name>, looked up through
 * the CA's own DNSSEC-validating resolver, must hold base64url(SHA-256(key authorization)). */
#include "dns01.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include "b64url.h"

#define DNS01_LABEL "_acme-challenge." /* RFC 8555 §8.4 */
#define DNS01_SHOW 64                  /* bytes of a wrong record quoted in the problem */
#define DNS01_NAME_MAX 253             /* RFC 1035 §2.3.4 */

/* Printable ASCII only, at most DNS01_SHOW bytes: a TXT record is attacker-controlled text. */
static void show(const char *in, char *out, size_t outlen)
{
	size_t o = 0, i;
	for (i = 0; in[i] && i < DNS01_SHOW && o + 5 < outlen; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
	}
	if (in[i] && o + 4 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

int dns01_validate(struct resolver *r, const char *name, const char *keyauth, json_t **record,
                   struct problem **prob)
{
	char qname[DNS01_NAME_MAX + sizeof DNS01_LABEL];
	char want[64];
	unsigned char digest[32];
	unsigned int dlen = 0;
	char **txts = NULL;
	size_t n = 0;
	int ret = -1;

	*prob = NULL;
	*record = json_array();
	if (!*record) {
		*prob = problem_new("serverInternal", 500, "out of memory");
		return -1;
	}
	if (!r || !name || !*name || strlen(name) > DNS01_NAME_MAX || !keyauth) {
		*prob = problem_new("serverInternal", 500, "dns-01: invalid name or key authorization");
		return -1;
	}
	json_array_append_new(*record, json_pack("{s:s}", "hostname", name));
	/* The query name may exceed 253 characters for a long base name: the resolver refuses it
	 * with a dns problem, which is the right answer (the record cannot exist). */
	snprintf(qname, sizeof qname, DNS01_LABEL "%s", name);

	if (EVP_Digest(keyauth, strlen(keyauth), digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != 32) {
		*prob = problem_new("serverInternal", 500, "dns-01: SHA-256 failed");
		return -1;
	}
	b64url_encode_to(digest, sizeof digest, want);

	if (resolver_txt(r, qname, &txts, &n, prob) != 0)
		return -1; /* "dns": SERVFAIL, timeout, DNSSEC bogus (the resolver's problem says which) */
	if (n == 0) {
		*prob = problem_new("unauthorized", 403, "No TXT record found at %s", qname);
		goto out;
	}
	/* RFC 8555 §8.4: several TXT records may exist (several authorizations in flight); any
	 * one equal to the digest validates. Compare without early exit on the expected value. */
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(txts[i]);
		if (l == strlen(want) && CRYPTO_memcmp(txts[i], want, l) == 0) {
			ret = 0;
			goto out;
		}
	}
	char got[DNS01_SHOW * 4 + 8];
	show(txts[0], got, sizeof got);
	if (n == 1)
		*prob = problem_new("unauthorized", 403, "Incorrect TXT record \"%s\" found at %s (expected \"%s\")",
		                    got, qname, want);
	else
		*prob = problem_new("unauthorized", 403,
		                    "Incorrect TXT record \"%s\" (and %zu more) found at %s: none of the %zu "
		                    "records is \"%s\"", got, n - 1, qname, n, want);
out:
	resolver_strings_free(txts, n);
	return ret;
}

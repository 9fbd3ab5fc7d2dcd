/* libFuzzer target for request authentication's parsing half: any bytes in, a JWS or a problem
 * out, never a crash; a parsed JWS with an embedded key goes on through key policy and verify. */
#include <stddef.h>
#include <stdint.h>

#include "jose.h"
#include "problem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jws *j = NULL;
	struct problem *prob = NULL;
	int rc = jws_parse((const char *)data, size, &j, &prob);
	/* Exactly one of the two outputs is set. */
	if ((rc == 0) != (j != NULL) || (rc == 0) == (prob != NULL))
		__builtin_trap();
	if (rc == 0) {
		if (!j->nonce || !j->url || (j->jwk != NULL) == (j->kid != NULL) || !j->signing_input)
			__builtin_trap();
		if (j->jwk) {
			EVP_PKEY *key = jwk_to_pkey(j->jwk, &prob);
			if ((key != NULL) == (prob != NULL))
				__builtin_trap();
			char tp[44];
			if (key) {
				/* The CA binds accounts by thumbprint: every key it accepts must have one. */
				if (jwk_thumbprint(j->jwk, tp) != 0)
					__builtin_trap();
				if (jws_verify(j, key, &prob) != 0 && !prob)
					__builtin_trap();
			}
			EVP_PKEY_free(key);
		}
	}
	problem_free(prob);
	jws_free(j);
	return 0;
}

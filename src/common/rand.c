/* Random bytes and identifiers.
 * Everything random that reaches a client (ids, tokens, serials, nonces) comes from here. */
#include "rand.h"
#include "b64url.h"
#include <openssl/rand.h>

int rand_fill(void *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

int rand_id(char *out)
{
	unsigned char b[16];
	if (rand_fill(b, sizeof b))
		return -1;
	b64url_encode_to(b, sizeof b, out);
	return 0;
}

int rand_token(char *out)
{
	unsigned char b[32];
	if (rand_fill(b, sizeof b))
		return -1;
	b64url_encode_to(b, sizeof b, out);
	return 0;
}

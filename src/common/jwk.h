/* JWK for ACME (RFC 7517, 7518 §6, 7638, 8037): public keys from JWKs under ACME's account key
 * policy (RFC 8555 §6.2), JWKs from keys, and thumbprints. */
#ifndef COBBLE_JWK_H
#define COBBLE_JWK_H
#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>
#include "problem.h"

/* Public key from a JWK, applying ACME's account key policy: RSA 2048..4096 bits with
 * e >= 3 odd (at most 64 bits, n and e without leading zero octets), EC P-256 / P-384
 * (P-521 too) with full-length x and y on the curve, OKP Ed25519 (RFC 8037). A JWK carrying
 * "d" is refused. NULL with *prob (badPublicKey / malformed). */
EVP_PKEY *jwk_to_pkey(const json_t *jwk, struct problem **prob);
/* Public JWK for key (kty, crv/x/y or n/e only). NULL on unsupported key. */
json_t *jwk_from_pkey(EVP_PKEY *key);
/* RFC 7638 thumbprint: base64url(SHA-256(canonical JWK)) into out (44 bytes incl NUL). */
int jwk_thumbprint(const json_t *jwk, char *out);
/* Same, of a key's public half. */
int jwk_thumbprint_pkey(EVP_PKEY *key, char *out);

/* The key types and curves above, as jose.c pairs them with JWS algorithms. */
enum jwk_kind { JWK_KIND_NONE, JWK_KIND_RSA, JWK_KIND_EC, JWK_KIND_ED25519 };

struct jwk_curve {
	const char *crv; /* JWK name, RFC 7518 §6.2.1.1 */
	int nid;
	size_t len; /* field size in bytes: x, y, r and s are all this long */
	const char *alg;
};

/* JWK_KIND_NONE for NULL or a key type we do not speak. */
enum jwk_kind jwk_key_kind(EVP_PKEY *key);
/* The curve of an EC key, or NULL when it is not one we accept. */
const struct jwk_curve *jwk_key_curve(EVP_PKEY *key);

#endif

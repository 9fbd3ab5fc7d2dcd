/* The JWS algorithms ACME uses (RFC 7518 §3.1; RFC 8555 §6.2 forbids "none" and MACs on
 * requests) and the OpenSSL set-up of each: shared by verification (jose.c) and signing
 * (jws_sign.c). Internal to the common library. */
#ifndef COBBLE_JOSE_ALG_H
#define COBBLE_JOSE_ALG_H
#include <openssl/evp.h>
#include "jose.h"
#include "jwk.h"

struct jose_alg_info {
	const char *name;
	enum jws_alg alg;
	enum jwk_kind kind;
	int curve_nid;  /* ES*: the one curve the alg is defined for (RFC 7518 §3.4) */
	const char *md; /* NULL for EdDSA, which hashes internally */
};

/* The entry for a JWS "alg" name, or for an id; NULL if ACME does not accept it. */
const struct jose_alg_info *jose_alg_by_name(const char *name);
const struct jose_alg_info *jose_alg_by_id(enum jws_alg alg);
/* Sets up ctx for ai with key (RSA padding for RS256/PS256). verify selects DigestVerify over
 * DigestSign. 0 or -1. */
int jose_md_init(EVP_MD_CTX *ctx, const struct jose_alg_info *ai, EVP_PKEY *key, int verify);

#endif

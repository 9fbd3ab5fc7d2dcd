/* See jose_alg.h. */
#include "jose_alg.h"
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <string.h>

/* RFC 7518 §3.1 names the algorithms. */
static const struct jose_alg_info algs[] = {
    {"RS256", JWS_ALG_RS256, JWK_KIND_RSA, NID_undef, "SHA256"},
    {"ES256", JWS_ALG_ES256, JWK_KIND_EC, NID_X9_62_prime256v1, "SHA256"},
    {"ES384", JWS_ALG_ES384, JWK_KIND_EC, NID_secp384r1, "SHA384"},
    {"ES512", JWS_ALG_ES512, JWK_KIND_EC, NID_secp521r1, "SHA512"},
    {"PS256", JWS_ALG_PS256, JWK_KIND_RSA, NID_undef, "SHA256"},
    {"EdDSA", JWS_ALG_EDDSA, JWK_KIND_ED25519, NID_undef, NULL},
};

const struct jose_alg_info *jose_alg_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
		if (strcmp(algs[i].name, name) == 0)
			return &algs[i];
	return NULL;
}

const struct jose_alg_info *jose_alg_by_id(enum jws_alg alg)
{
	for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
		if (algs[i].alg == alg)
			return &algs[i];
	return NULL;
}

int jose_md_init(EVP_MD_CTX *ctx, const struct jose_alg_info *ai, EVP_PKEY *key, int verify)
{
	EVP_PKEY_CTX *pctx = NULL;
	int ok = verify ? EVP_DigestVerifyInit_ex(ctx, &pctx, ai->md, NULL, NULL, key, NULL)
	                : EVP_DigestSignInit_ex(ctx, &pctx, ai->md, NULL, NULL, key, NULL);
	if (ok != 1)
		return -1;
	if (ai->alg == JWS_ALG_RS256 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
		return -1;
	/* RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash. */
	if (ai->alg == JWS_ALG_PS256 &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) <= 0))
		return -1;
	return 0;
}

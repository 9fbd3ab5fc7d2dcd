/* JWS signing for the agent (RFC 7515 §7.2.2 flattened serialization; RFC 7518 §3 algorithms;
 * RFC 8555 §6.2 headers): plain keys, prepared signers, and HS256 for External Account
 * Binding. Declared in jose.h; verification is in jose.c. */
#include "jose.h"
#include "b64url.h"
#include "jose_alg.h"
#include "jwk.h"
#include <openssl/ec.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

/* The alg for a key of kind (and curve cv, for EC). */
static const char *alg_for(enum jwk_kind kind, const struct jwk_curve *cv)
{
	switch (kind) {
	case JWK_KIND_RSA:
		return "RS256";
	case JWK_KIND_EC:
		return cv ? cv->alg : NULL;
	case JWK_KIND_ED25519:
		return "EdDSA";
	default:
		return NULL;
	}
}

const char *jws_alg_for_key(EVP_PKEY *key)
{
	enum jwk_kind kind = jwk_key_kind(key);
	return alg_for(kind, kind == JWK_KIND_EC ? jwk_key_curve(key) : NULL);
}

/* Protected header = copy of extra plus alg; writes the b64url protected and payload parts. */
static int sign_parts(const json_t *extra, const char *alg, const char *payload, char **prot,
                      char **pay, char **input)
{
	json_t *h = extra ? json_deep_copy(extra) : json_object();
	char *htext = NULL;
	int rc = -1;
	*prot = *pay = *input = NULL;
	if (!json_is_object(h) || json_object_set_new(h, "alg", json_string(alg)))
		goto done;
	if (!(htext = json_dumps(h, JSON_COMPACT)))
		goto done;
	if (!payload)
		payload = "";
	*prot = b64url_encode((const uint8_t *)htext, strlen(htext));
	*pay = b64url_encode((const uint8_t *)payload, strlen(payload));
	if (!*prot || !*pay)
		goto done;
	size_t pl = strlen(*prot), yl = strlen(*pay);
	if (!(*input = malloc(pl + 1 + yl + 1)))
		goto done;
	memcpy(*input, *prot, pl);
	(*input)[pl] = '.';
	memcpy(*input + pl + 1, *pay, yl + 1);
	rc = 0;
done:
	if (rc != 0) {
		free(*prot);
		free(*pay);
		*prot = *pay = NULL;
	}
	free(htext);
	json_decref(h);
	return rc;
}

/* {"protected","payload","signature"} as a compact JSON string, built by jansson. */
static char *flattened(const char *prot, const char *pay, const uint8_t *sig, size_t sig_len)
{
	char *s = b64url_encode(sig, sig_len);
	json_t *o = s ? json_pack("{s:s,s:s,s:s}", "protected", prot, "payload", pay, "signature", s) : NULL;
	char *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	free(s);
	return out;
}

/* OpenSSL's DER ECDSA signature to JWS's fixed-width r||s (RFC 7518 §3.4). */
static int ec_der_to_raw(const unsigned char *der, size_t der_len, size_t flen, uint8_t *raw)
{
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	int rc = -1;
	if (!es)
		goto done;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, raw, (int)flen) < 0 || BN_bn2binpad(s, raw + flen, (int)flen) < 0)
		goto done;
	rc = 0;
done:
	ECDSA_SIG_free(es);
	return rc;
}

/* The signing itself, for a key whose kind and curve are known; tmpl NULL sets ctx up afresh. */
static char *sign_with(EVP_PKEY *key, enum jwk_kind kind, const struct jwk_curve *cv, const EVP_MD_CTX *tmpl,
                       const json_t *extra_header, const char *payload)
{
	char *prot = NULL, *pay = NULL, *input = NULL, *out = NULL;
	unsigned char *sig = NULL;
	uint8_t *raw = NULL;
	size_t sig_len = 0;
	EVP_MD_CTX *ctx = NULL;
	const char *alg = alg_for(kind, cv);
	const struct jose_alg_info *ai = alg ? jose_alg_by_name(alg) : NULL;
	if (!ai || sign_parts(extra_header, alg, payload, &prot, &pay, &input) != 0)
		goto done;
	size_t in_len = strlen(input);
	ctx = EVP_MD_CTX_new();
	if (!ctx || (tmpl ? EVP_MD_CTX_copy_ex(ctx, tmpl) != 1 : jose_md_init(ctx, ai, key, 0) != 0) ||
	    EVP_DigestSign(ctx, NULL, &sig_len, (const unsigned char *)input, in_len) != 1 ||
	    !(sig = malloc(sig_len)) ||
	    EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)input, in_len) != 1)
		goto done;
	if (ai->kind == JWK_KIND_EC) {
		if (!cv || !(raw = malloc(2 * cv->len)) || ec_der_to_raw(sig, sig_len, cv->len, raw) != 0)
			goto done;
		out = flattened(prot, pay, raw, 2 * cv->len);
	} else {
		out = flattened(prot, pay, sig, sig_len);
	}
done:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	free(raw);
	free(sig);
	free(input);
	free(prot);
	free(pay);
	return out;
}

char *jws_sign(EVP_PKEY *key, const json_t *extra_header, const char *payload)
{
	enum jwk_kind kind = jwk_key_kind(key);
	return sign_with(key, kind, kind == JWK_KIND_EC ? jwk_key_curve(key) : NULL, NULL, extra_header, payload);
}

/* A signing key made ready (jose.h): the DigestSign set-up of its one algorithm, copied per
 * signature. Each copy draws its own ECDSA nonce k when it signs. */
struct jws_signer {
	EVP_PKEY *key;
	enum jwk_kind kind;
	const struct jwk_curve *cv;
	EVP_MD_CTX *tmpl; /* NULL: set up per signature (EdDSA, or the set-up failed) */
};

struct jws_signer *jws_signer_new(EVP_PKEY *key)
{
	struct jws_signer *g = calloc(1, sizeof *g);
	if (!g || !key || EVP_PKEY_up_ref(key) != 1) {
		free(g);
		return NULL;
	}
	g->key = key;
	g->kind = jwk_key_kind(key);
	g->cv = g->kind == JWK_KIND_EC ? jwk_key_curve(key) : NULL;
	const char *alg = alg_for(g->kind, g->cv);
	const struct jose_alg_info *ai = alg ? jose_alg_by_name(alg) : NULL;
	if (ai && ai->md) {
		g->tmpl = EVP_MD_CTX_new();
		if (!g->tmpl || jose_md_init(g->tmpl, ai, key, 0) != 0) {
			EVP_MD_CTX_free(g->tmpl);
			g->tmpl = NULL;
		}
		ERR_clear_error();
	}
	return g;
}

void jws_signer_free(struct jws_signer *g)
{
	if (!g)
		return;
	EVP_MD_CTX_free(g->tmpl);
	EVP_PKEY_free(g->key);
	free(g);
}

EVP_PKEY *jws_signer_pkey(const struct jws_signer *g)
{
	return g ? g->key : NULL;
}

char *jws_signer_sign(const struct jws_signer *g, const json_t *extra_header, const char *payload)
{
	if (!g)
		return NULL;
	return sign_with(g->key, g->kind, g->cv, g->tmpl, extra_header, payload);
}

char *jws_sign_hs256(const unsigned char *mac_key, size_t key_len, const json_t *header,
                     const char *payload)
{
	char *prot = NULL, *pay = NULL, *input = NULL, *out = NULL;
	unsigned char mac[32];
	size_t mac_len = 0;
	/* RFC 7518 §3.2: the key must be at least as long as the hash; refusing an empty one is
	 * the least we can do without breaking CAs that hand out short keys. */
	if (!mac_key || key_len == 0 || sign_parts(header, "HS256", payload, &prot, &pay, &input) != 0)
		goto done;
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, mac_key, key_len, (const unsigned char *)input,
	               strlen(input), mac, sizeof mac, &mac_len) ||
	    mac_len != sizeof mac)
		goto done;
	out = flattened(prot, pay, mac, mac_len);
done:
	ERR_clear_error();
	OPENSSL_cleanse(mac, sizeof mac);
	free(input);
	free(prot);
	free(pay);
	return out;
}

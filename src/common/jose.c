/* JWS (flattened JSON serialization) and JWK for ACME: parsing under RFC 8555 §6.2's header rules,
 * verification, signing and RFC 7638 thumbprints, directly on OpenSSL 3 and jansson. */
#include "jose.h"
#include "b64url.h"
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCEPTED_ALGS "RS256, ES256, ES384, ES512, PS256, EdDSA"

/* RFC 7518 §3.1 names the algorithms; RFC 8555 §6.2 forbids "none" and MACs on requests. */
enum key_kind { KIND_NONE, KIND_RSA, KIND_EC, KIND_ED25519 };

struct alg_info {
	const char *name;
	enum jws_alg alg;
	enum key_kind kind;
	int curve_nid; /* ES*: the one curve the alg is defined for (RFC 7518 §3.4) */
	const char *md; /* NULL for EdDSA, which hashes internally */
};

static const struct alg_info algs[] = {
    {"RS256", JWS_ALG_RS256, KIND_RSA, NID_undef, "SHA256"},
    {"ES256", JWS_ALG_ES256, KIND_EC, NID_X9_62_prime256v1, "SHA256"},
    {"ES384", JWS_ALG_ES384, KIND_EC, NID_secp384r1, "SHA384"},
    {"ES512", JWS_ALG_ES512, KIND_EC, NID_secp521r1, "SHA512"},
    {"PS256", JWS_ALG_PS256, KIND_RSA, NID_undef, "SHA256"},
    {"EdDSA", JWS_ALG_EDDSA, KIND_ED25519, NID_undef, NULL},
};

struct curve {
	const char *crv; /* JWK name, RFC 7518 §6.2.1.1 */
	int nid;
	size_t len; /* field size in bytes: x, y, r and s are all this long */
	const char *alg;
};

static const struct curve curves[] = {
    {"P-256", NID_X9_62_prime256v1, 32, "ES256"},
    {"P-384", NID_secp384r1, 48, "ES384"},
    {"P-521", NID_secp521r1, 66, "ES512"},
};

/* RSA account key policy. The exponent cap matches OpenSSL's own for large moduli and bounds
 * the cost of a verification an unauthenticated client can ask for. */
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 4096
#define RSA_MAX_E_BYTES 8
#define ED25519_LEN 32 /* RFC 8032 §5.1.5 */

static const struct alg_info *alg_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
		if (strcmp(algs[i].name, name) == 0)
			return &algs[i];
	return NULL;
}

static const struct alg_info *alg_by_id(enum jws_alg alg)
{
	for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
		if (algs[i].alg == alg)
			return &algs[i];
	return NULL;
}

static const struct curve *curve_by_crv(const char *crv)
{
	for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++)
		if (strcmp(curves[i].crv, crv) == 0)
			return &curves[i];
	return NULL;
}

static const struct curve *curve_by_nid(int nid)
{
	for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++)
		if (curves[i].nid == nid)
			return &curves[i];
	return NULL;
}

static enum key_kind key_kind(EVP_PKEY *key)
{
	if (!key)
		return KIND_NONE;
	if (EVP_PKEY_is_a(key, "RSA"))
		return KIND_RSA;
	if (EVP_PKEY_is_a(key, "EC"))
		return KIND_EC;
	if (EVP_PKEY_is_a(key, "ED25519"))
		return KIND_ED25519;
	return KIND_NONE;
}

/* The curve of an EC key, or NULL when it is not one we accept. Providers report the group by
 * its short name ("prime256v1"); accept the NIST name too. */
static const struct curve *key_curve(EVP_PKEY *key)
{
	char name[64];
	if (key_kind(key) != KIND_EC || !EVP_PKEY_get_group_name(key, name, sizeof name, NULL))
		return NULL;
	int nid = OBJ_sn2nid(name);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(name);
	return curve_by_nid(nid);
}

static struct problem *malformed(const char *detail)
{
	return problem_new("malformed", 400, "%s", detail);
}

/* ---- JSON ---- */

static int too_deep(const json_t *j, int depth)
{
	if (!json_is_object(j) && !json_is_array(j))
		return 0;
	if (depth > JOSE_MAX_JSON_DEPTH)
		return 1;
	if (json_is_array(j)) {
		size_t i;
		const json_t *v;
		json_array_foreach(j, i, v)
		{
			if (too_deep(v, depth + 1))
				return 1;
		}
	} else {
		const char *k;
		const json_t *v;
		json_object_foreach((json_t *)j, k, v)
		{
			if (too_deep(v, depth + 1))
				return 1;
		}
	}
	return 0;
}

json_t *jose_json_loadb(const char *buf, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = NULL;
	if (!buf) {
		if (err && errlen)
			snprintf(err, errlen, "no input");
		goto fail;
	}
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		if (err && errlen)
			snprintf(err, errlen, "%s (line %d, column %d)", je.text, je.line, je.column);
		goto fail;
	}
	if (too_deep(j, 1)) {
		if (err && errlen)
			snprintf(err, errlen, "JSON nested deeper than %d levels", JOSE_MAX_JSON_DEPTH);
		goto fail;
	}
	return j;
fail:
	json_decref(j);
	return NULL;
}

/* ---- parsing ---- */

void jws_free(struct jws *j)
{
	if (!j)
		return;
	json_decref(j->header);
	free(j->payload);
	free(j->signing_input);
	free(j->sig);
	free(j);
}

static int is_b64url_token(const char *s)
{
	uint8_t *tmp = NULL;
	size_t n = 0;
	if (!s || !*s || b64url_decode(s, strlen(s), &tmp, &n) != 0)
		return 0;
	free(tmp);
	return 1;
}

/* Checks the decoded protected header against RFC 8555 §6.2 and fills j's header fields. */
static int check_header(struct jws *j, struct problem **prob)
{
	json_t *h = j->header;
	json_t *v = json_object_get(h, "alg");
	if (!v || !json_is_string(v)) {
		*prob = malformed("JWS protected header has no \"alg\" string");
		return -1;
	}
	const struct alg_info *ai = alg_by_name(json_string_value(v));
	if (!ai) {
		*prob = problem_new("badSignatureAlgorithm", 400,
		                    "JWS algorithm \"%.40s\" is not accepted; accepted algorithms: " ACCEPTED_ALGS,
		                    json_string_value(v));
		return -1;
	}
	j->alg = ai->alg;
	j->alg_name = json_string_value(v);

	/* RFC 7515 §4.1.11: we implement no extensions, so any "crit" must be refused. This also
	 * rules out the unencoded payload option (RFC 7797), which RFC 8555 §6.2 forbids. */
	if (json_object_get(h, "crit") || json_object_get(h, "b64")) {
		*prob = malformed("JWS protected header must not carry \"crit\" or \"b64\"");
		return -1;
	}

	json_t *jwk = json_object_get(h, "jwk");
	json_t *kid = json_object_get(h, "kid");
	if ((jwk != NULL) == (kid != NULL)) {
		*prob = malformed("JWS protected header must have exactly one of \"jwk\" and \"kid\"");
		return -1;
	}
	if (jwk && !json_is_object(jwk)) {
		*prob = malformed("JWS \"jwk\" header must be a JSON object");
		return -1;
	}
	if (kid && (!json_is_string(kid) || json_string_length(kid) == 0)) {
		*prob = malformed("JWS \"kid\" header must be a non-empty string");
		return -1;
	}
	j->jwk = jwk;
	j->kid = kid ? json_string_value(kid) : NULL;

	v = json_object_get(h, "nonce");
	if (!v) {
		*prob = problem_new("badNonce", 400, "JWS protected header has no \"nonce\"");
		return -1;
	}
	if (!json_is_string(v) || !is_b64url_token(json_string_value(v))) {
		*prob = problem_new("badNonce", 400, "JWS \"nonce\" header is not a base64url string");
		return -1;
	}
	j->nonce = json_string_value(v);

	v = json_object_get(h, "url");
	if (!v || !json_is_string(v)) {
		*prob = malformed("JWS protected header has no \"url\" string");
		return -1;
	}
	j->url = json_string_value(v);
	return 0;
}

static int looks_like_json_object(const char *body, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n')
			continue;
		return body[i] == '{';
	}
	return 0;
}

/* The flattened JWS of nearly every request is one flat JSON object holding three base64url
 * strings (RFC 7515 §7.2.2); scanning it as such costs a fraction of a general JSON parse
 * (issue 7: jansson's parse of request bodies was ~6% of the server's instructions). Fills
 * the three values (pointers into s) and returns 1 only for exactly that shape: JSON
 * whitespace, the members "protected", "payload" and "signature" once each in any order, and
 * values made of base64url characters alone. Anything else (escapes, other members or value
 * types, duplicates, bad syntax, trailing bytes) returns 0 and the caller parses the body with
 * jansson, whose verdict and error message the client then gets; so this path accepts nothing
 * that path would refuse and reads the same values from it. */
struct span {
	const char *p;
	size_t n;
};

static int flat_jws_scan(const char *s, size_t len, struct span out[3])
{
	static const char *const names[3] = {"protected", "payload", "signature"};
	size_t i = 0;
	unsigned seen = 0;
#define SKIP_WS()                                                                                  \
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))          \
	i++
	SKIP_WS();
	if (i >= len || s[i++] != '{')
		return 0;
	for (;;) {
		SKIP_WS();
		if (i >= len || s[i++] != '"')
			return 0;
		size_t k0 = i;
		while (i < len && s[i] >= 'a' && s[i] <= 'z')
			i++;
		if (i >= len || s[i] != '"')
			return 0;
		int which = -1;
		for (int n = 0; n < 3; n++)
			if (strlen(names[n]) == i - k0 && memcmp(s + k0, names[n], i - k0) == 0)
				which = n;
		if (which < 0 || (seen & (1u << which)))
			return 0;
		seen |= 1u << which;
		i++;
		SKIP_WS();
		if (i >= len || s[i++] != ':')
			return 0;
		SKIP_WS();
		if (i >= len || s[i++] != '"')
			return 0;
		size_t v0 = i;
		while (i < len && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		                   (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			i++;
		if (i >= len || s[i] != '"')
			return 0;
		out[which].p = s + v0;
		out[which].n = i - v0;
		i++;
		SKIP_WS();
		if (i >= len)
			return 0;
		if (s[i] == '}')
			break;
		if (s[i++] != ',')
			return 0;
	}
	i++;
	SKIP_WS();
#undef SKIP_WS
	return i == len && seen == 7;
}

int jws_parse(const char *body, size_t len, struct jws **out, struct problem **prob)
{
	json_t *root = NULL;
	struct jws *j = NULL;
	uint8_t *hdr = NULL;
	size_t hdr_len = 0;
	char err[160];

	*out = NULL;
	if (!body || len > JWS_MAX_BYTES) {
		*prob = problem_new("malformed", 400, "JWS is %zu bytes; the limit is %d", body ? len : 0,
		                    JWS_MAX_BYTES);
		goto fail;
	}
	if (!looks_like_json_object(body, len)) {
		/* Most likely the compact serialization. */
		*prob = malformed("JWS must use the flattened JSON serialization (RFC 8555 §6.2)");
		goto fail;
	}
	const char *prot, *pay, *sig;
	size_t prot_len, pay_len, sig_len;
	struct span flat[3];
	if (flat_jws_scan(body, len, flat)) {
		prot = flat[0].p, prot_len = flat[0].n;
		pay = flat[1].p, pay_len = flat[1].n;
		sig = flat[2].p, sig_len = flat[2].n;
		goto members;
	}
	root = jose_json_loadb(body, len, err, sizeof err);
	if (!root || !json_is_object(root)) {
		*prob = problem_new("malformed", 400, "JWS is not a JSON object: %s",
		                    root ? "wrong type" : err);
		goto fail;
	}
	if (json_object_get(root, "signatures")) {
		*prob = malformed("JWS general serialization is not accepted; use the flattened JSON "
		                  "serialization with one signature (RFC 8555 §6.2)");
		goto fail;
	}
	if (json_object_get(root, "header")) {
		*prob = malformed("JWS must not have an unprotected \"header\" (RFC 8555 §6.2)");
		goto fail;
	}
	const char *key;
	json_t *val;
	json_object_foreach(root, key, val)
	{
		if (strcmp(key, "protected") != 0 && strcmp(key, "payload") != 0 &&
		    strcmp(key, "signature") != 0) {
			*prob = problem_new("malformed", 400, "JWS has an unexpected member \"%.40s\"", key);
			goto fail;
		}
	}
	json_t *jprot = json_object_get(root, "protected");
	json_t *jpay = json_object_get(root, "payload");
	json_t *jsig = json_object_get(root, "signature");
	if (!json_is_string(jprot) || !json_is_string(jpay) || !json_is_string(jsig)) {
		*prob = malformed("JWS needs \"protected\", \"payload\" and \"signature\" strings");
		goto fail;
	}
	prot = json_string_value(jprot), pay = json_string_value(jpay), sig = json_string_value(jsig);
	prot_len = json_string_length(jprot), pay_len = json_string_length(jpay), sig_len = json_string_length(jsig);

members:
	j = calloc(1, sizeof *j);
	if (!j) {
		*prob = problem_new("serverInternal", 500, "out of memory");
		goto fail;
	}
	if (prot_len == 0 || b64url_decode(prot, prot_len, &hdr, &hdr_len) != 0) {
		*prob = malformed("JWS \"protected\" is not base64url");
		goto fail;
	}
	if (b64url_decode(pay, pay_len, &j->payload, &j->payload_len) != 0) {
		*prob = malformed("JWS \"payload\" is not base64url");
		goto fail;
	}
	if (sig_len == 0 || b64url_decode(sig, sig_len, &j->sig, &j->sig_len) != 0) {
		*prob = malformed("JWS \"signature\" is not base64url");
		goto fail;
	}
	j->header = jose_json_loadb((const char *)hdr, hdr_len, err, sizeof err);
	if (!j->header || !json_is_object(j->header)) {
		*prob = problem_new("malformed", 400, "JWS protected header is not a JSON object: %s",
		                    j->header ? "wrong type" : err);
		goto fail;
	}
	if (check_header(j, prob) != 0)
		goto fail;

	j->signing_input = malloc(prot_len + 1 + pay_len + 1);
	if (!j->signing_input) {
		*prob = problem_new("serverInternal", 500, "out of memory");
		goto fail;
	}
	memcpy(j->signing_input, prot, prot_len);
	j->signing_input[prot_len] = '.';
	memcpy(j->signing_input + prot_len + 1, pay, pay_len);
	j->signing_input[prot_len + 1 + pay_len] = '\0';

	free(hdr);
	json_decref(root);
	*out = j;
	return 0;
fail:
	free(hdr);
	json_decref(root);
	jws_free(j);
	return -1;
}

/* ---- verification ---- */

/* RFC 7518 §3.4: r||s, each the curve's field size, into the DER form OpenSSL verifies. */
static unsigned char *ec_raw_to_der(const unsigned char *raw, size_t flen, int *der_len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, (int)flen, NULL);
	BIGNUM *s = BN_bin2bn(raw + flen, (int)flen, NULL);
	unsigned char *der = NULL;
	if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s))
		goto done;
	r = s = NULL; /* owned by es now */
	*der_len = i2d_ECDSA_SIG(es, &der);
	if (*der_len <= 0) {
		OPENSSL_free(der);
		der = NULL;
	}
done:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return der;
}

/* Sets up ctx for alg (RSA padding for RS256/PS256). verify selects DigestVerify over DigestSign. */
static int md_init(EVP_MD_CTX *ctx, const struct alg_info *ai, EVP_PKEY *key, int verify)
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

int jws_verify(const struct jws *j, EVP_PKEY *key, struct problem **prob)
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char *der = NULL;
	int rc = -1;
	const struct alg_info *ai = j ? alg_by_id(j->alg) : NULL;
	if (!ai || !key || !j->signing_input || !j->sig) {
		*prob = malformed("JWS verification error");
		goto done;
	}
	enum key_kind kind = key_kind(key);
	const struct curve *cv = key_curve(key);
	if (kind != ai->kind || (ai->kind == KIND_EC && (!cv || cv->nid != ai->curve_nid))) {
		*prob = problem_new("badSignatureAlgorithm", 400,
		                    "JWS algorithm %s does not fit the %s key; accepted algorithms: " ACCEPTED_ALGS,
		                    ai->name,
		                    kind == KIND_RSA ? "RSA" : cv ? cv->crv : kind == KIND_ED25519 ? "Ed25519" : "given");
		goto done;
	}
	const unsigned char *sig = j->sig;
	size_t sig_len = j->sig_len;
	if (kind == KIND_EC) {
		int der_len = 0;
		if (sig_len != 2 * cv->len || !(der = ec_raw_to_der(sig, cv->len, &der_len))) {
			*prob = malformed("JWS verification error");
			goto done;
		}
		sig = der;
		sig_len = (size_t)der_len;
	} else if (kind == KIND_RSA && sig_len != (size_t)EVP_PKEY_get_size(key)) {
		/* RFC 8017 §8.2.2: the signature is exactly k octets. */
		*prob = malformed("JWS verification error");
		goto done;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx || md_init(ctx, ai, key, 1) != 0 ||
	    EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)j->signing_input,
	                     strlen(j->signing_input)) != 1) {
		*prob = malformed("JWS verification error");
		goto done;
	}
	rc = 0;
done:
	ERR_clear_error();
	OPENSSL_free(der);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* ---- JWK ---- */

/* Decodes the base64url string member name of jwk; -1 if absent, not a string or not b64url. */
static int jwk_bytes(const json_t *jwk, const char *name, uint8_t **out, size_t *len)
{
	json_t *v = json_object_get(jwk, name);
	if (!json_is_string(v) || json_string_length(v) == 0)
		return -1;
	return b64url_decode(json_string_value(v), json_string_length(v), out, len);
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	EVP_PKEY *pk = NULL;
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pk;
}

static EVP_PKEY *rsa_from_jwk(const json_t *jwk, struct problem **prob)
{
	uint8_t *nb = NULL, *eb = NULL;
	size_t nl = 0, el = 0;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pk = NULL;
	if (jwk_bytes(jwk, "n", &nb, &nl) != 0 || jwk_bytes(jwk, "e", &eb, &el) != 0 || nl == 0 ||
	    el == 0) {
		*prob = malformed("RSA JWK needs base64url \"n\" and \"e\"");
		goto done;
	}
	/* RFC 7518 §6.3.1.1-2: minimal octets. A leading zero would give the key a second
	 * encoding, and so a second thumbprint. */
	if (nb[0] == 0 || eb[0] == 0) {
		*prob = malformed("RSA JWK \"n\" and \"e\" must not have leading zero octets (RFC 7518 §6.3.1)");
		goto done;
	}
	if (!(n = BN_bin2bn(nb, (int)nl, NULL)) || !(e = BN_bin2bn(eb, (int)el, NULL))) {
		*prob = problem_new("serverInternal", 500, "out of memory");
		goto done;
	}
	int bits = BN_num_bits(n);
	if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
		*prob = problem_new("badPublicKey", 400, "RSA key is %d bits; accepted: %d to %d bits", bits,
		                    RSA_MIN_BITS, RSA_MAX_BITS);
		goto done;
	}
	if (!BN_is_odd(n)) {
		*prob = problem_new("badPublicKey", 400, "RSA modulus is even");
		goto done;
	}
	if (!BN_is_odd(e) || BN_num_bits(e) < 2 || el > RSA_MAX_E_BYTES) {
		*prob = problem_new("badPublicKey", 400,
		                    "RSA public exponent must be odd, at least 3 and at most %d bits",
		                    RSA_MAX_E_BYTES * 8);
		goto done;
	}
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) || !(pk = pkey_fromdata("RSA", bld))) {
		*prob = problem_new("badPublicKey", 400, "RSA key is not usable");
		goto done;
	}
done:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	free(nb);
	free(eb);
	return pk;
}

static EVP_PKEY *ec_from_jwk(const json_t *jwk, struct problem **prob)
{
	uint8_t *x = NULL, *y = NULL, *pt = NULL;
	size_t xl = 0, yl = 0;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *cctx = NULL;
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	if (!crv) {
		*prob = malformed("EC JWK has no \"crv\" string");
		goto fail;
	}
	const struct curve *cv = curve_by_crv(crv);
	if (!cv) {
		*prob = problem_new("badPublicKey", 400, "EC curve \"%.40s\" is not accepted; accepted: P-256, P-384, P-521",
		                    crv);
		goto fail;
	}
	/* RFC 7518 §6.2.1.2-3: x and y are the full field size. */
	if (jwk_bytes(jwk, "x", &x, &xl) != 0 || jwk_bytes(jwk, "y", &y, &yl) != 0 || xl != cv->len ||
	    yl != cv->len) {
		*prob = problem_new("malformed", 400, "EC JWK needs base64url \"x\" and \"y\" of %zu bytes each",
		                    cv->len);
		goto fail;
	}
	/* SEC 1 §2.3.3 uncompressed point. */
	pt = malloc(1 + 2 * cv->len);
	bld = OSSL_PARAM_BLD_new();
	if (!pt || !bld) {
		*prob = problem_new("serverInternal", 500, "out of memory");
		goto fail;
	}
	pt[0] = 0x04;
	memcpy(pt + 1, x, cv->len);
	memcpy(pt + 1 + cv->len, y, cv->len);
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(cv->nid), 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * cv->len) ||
	    !(pk = pkey_fromdata("EC", bld)) || !(cctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) ||
	    EVP_PKEY_public_check(cctx) != 1) {
		*prob = problem_new("badPublicKey", 400, "EC JWK point is not on curve %s", cv->crv);
		goto fail;
	}
	goto done;
fail:
	EVP_PKEY_free(pk);
	pk = NULL;
done:
	EVP_PKEY_CTX_free(cctx);
	OSSL_PARAM_BLD_free(bld);
	free(pt);
	free(x);
	free(y);
	return pk;
}

/* RFC 8037 §2: Ed25519 public keys as kty OKP. */
static EVP_PKEY *okp_from_jwk(const json_t *jwk, struct problem **prob)
{
	uint8_t *x = NULL;
	size_t xl = 0;
	EVP_PKEY *pk = NULL;
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	if (!crv) {
		*prob = malformed("OKP JWK has no \"crv\" string");
		goto done;
	}
	if (strcmp(crv, "Ed25519") != 0) {
		*prob = problem_new("badPublicKey", 400, "OKP curve \"%.40s\" is not accepted; accepted: Ed25519", crv);
		goto done;
	}
	if (jwk_bytes(jwk, "x", &x, &xl) != 0 || xl != ED25519_LEN) {
		*prob = problem_new("malformed", 400, "Ed25519 JWK needs a base64url \"x\" of %d bytes", ED25519_LEN);
		goto done;
	}
	pk = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, xl);
	if (!pk)
		*prob = problem_new("badPublicKey", 400, "Ed25519 key is not usable");
done:
	free(x);
	return pk;
}

EVP_PKEY *jwk_to_pkey(const json_t *jwk, struct problem **prob)
{
	EVP_PKEY *pk = NULL;
	if (!json_is_object(jwk)) {
		*prob = malformed("JWK must be a JSON object");
		goto done;
	}
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	if (!kty) {
		*prob = malformed("JWK has no \"kty\" string");
		goto done;
	}
	/* An account key is public; a JWK carrying "d" leaks the private key and is refused. */
	if (json_object_get(jwk, "d")) {
		*prob = malformed("JWK contains private key material (\"d\")");
		goto done;
	}
	if (strcmp(kty, "RSA") == 0)
		pk = rsa_from_jwk(jwk, prob);
	else if (strcmp(kty, "EC") == 0)
		pk = ec_from_jwk(jwk, prob);
	else if (strcmp(kty, "OKP") == 0)
		pk = okp_from_jwk(jwk, prob);
	else
		*prob = problem_new("badPublicKey", 400, "JWK key type \"%.40s\" is not accepted; accepted: RSA, EC, OKP",
		                    kty);
done:
	ERR_clear_error();
	return pk;
}

/* Sets member name of o to base64url(buf); 0 or -1. */
static int set_b64(json_t *o, const char *name, const uint8_t *buf, size_t len)
{
	char *s = b64url_encode(buf, len);
	int rc = s ? json_object_set_new(o, name, json_string(s)) : -1;
	free(s);
	return rc;
}

/* Sets member name of o to the big-endian bytes of key's BN param, padded to pad bytes (0: minimal). */
static int set_bn(json_t *o, const char *name, EVP_PKEY *key, const char *param, size_t pad)
{
	BIGNUM *bn = NULL;
	uint8_t *buf = NULL;
	int rc = -1;
	if (!EVP_PKEY_get_bn_param(key, param, &bn))
		goto done;
	size_t len = pad ? pad : (size_t)BN_num_bytes(bn);
	if (len == 0 || !(buf = malloc(len)) || BN_bn2binpad(bn, buf, (int)len) < 0)
		goto done;
	rc = set_b64(o, name, buf, len);
done:
	free(buf);
	BN_free(bn);
	return rc;
}

json_t *jwk_from_pkey(EVP_PKEY *key)
{
	json_t *o = json_object();
	const struct curve *cv;
	if (!o)
		goto fail;
	switch (key_kind(key)) {
	case KIND_RSA:
		if (json_object_set_new(o, "kty", json_string("RSA")) ||
		    set_bn(o, "n", key, OSSL_PKEY_PARAM_RSA_N, 0) || set_bn(o, "e", key, OSSL_PKEY_PARAM_RSA_E, 0))
			goto fail;
		break;
	case KIND_EC:
		if (!(cv = key_curve(key)) || json_object_set_new(o, "kty", json_string("EC")) ||
		    json_object_set_new(o, "crv", json_string(cv->crv)) ||
		    set_bn(o, "x", key, OSSL_PKEY_PARAM_EC_PUB_X, cv->len) ||
		    set_bn(o, "y", key, OSSL_PKEY_PARAM_EC_PUB_Y, cv->len))
			goto fail;
		break;
	case KIND_ED25519: {
		uint8_t x[ED25519_LEN];
		size_t xl = sizeof x;
		if (!EVP_PKEY_get_raw_public_key(key, x, &xl) || xl != sizeof x ||
		    json_object_set_new(o, "kty", json_string("OKP")) ||
		    json_object_set_new(o, "crv", json_string("Ed25519")) || set_b64(o, "x", x, xl))
			goto fail;
		break;
	}
	default:
		goto fail;
	}
	return o;
fail:
	ERR_clear_error();
	json_decref(o);
	return NULL;
}

/* Copies member name of src into dst after checking it is a non-empty base64url string. */
static int copy_b64_member(json_t *dst, const json_t *src, const char *name)
{
	json_t *v = json_object_get(src, name);
	if (!json_is_string(v) || !is_b64url_token(json_string_value(v)))
		return -1;
	return json_object_set_new(dst, name, json_string(json_string_value(v)));
}

/* Member name of src, a big-endian integer, re-encoded left-padded to len bytes (RFC 7638 §3.2
 * takes the members as the JWK has them; the JWA requires full length, which this restores). */
static int copy_padded_member(json_t *dst, const json_t *src, const char *name, size_t len)
{
	uint8_t *raw = NULL, *buf = NULL;
	size_t rl = 0;
	int rc = -1;
	if (jwk_bytes(src, name, &raw, &rl) != 0 || rl > len || !(buf = calloc(1, len)))
		goto done;
	memcpy(buf + (len - rl), raw, rl);
	rc = set_b64(dst, name, buf, len);
done:
	free(raw);
	free(buf);
	return rc;
}

int jwk_thumbprint(const json_t *jwk, char *out)
{
	json_t *c = json_object();
	char *text = NULL;
	int rc = -1;
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	if (!c || !kty || json_object_set_new(c, "kty", json_string(kty)))
		goto done;
	/* RFC 7638 §3.2: the required members only. */
	if (strcmp(kty, "RSA") == 0) {
		if (copy_b64_member(c, jwk, "n") || copy_b64_member(c, jwk, "e"))
			goto done;
	} else if (strcmp(kty, "EC") == 0) {
		const struct curve *cv = crv ? curve_by_crv(crv) : NULL;
		if (!cv || json_object_set_new(c, "crv", json_string(crv)) ||
		    copy_padded_member(c, jwk, "x", cv->len) || copy_padded_member(c, jwk, "y", cv->len))
			goto done;
	} else if (strcmp(kty, "OKP") == 0) {
		/* RFC 8037 §2. */
		if (!crv || json_object_set_new(c, "crv", json_string(crv)) || copy_b64_member(c, jwk, "x"))
			goto done;
	} else {
		goto done;
	}
	/* RFC 7638 §3.3: sorted member names, no whitespace. */
	text = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
	unsigned char md[32];
	unsigned int mdlen = 0;
	if (!text || EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		goto done;
	b64url_encode_to(md, mdlen, out);
	rc = 0;
done:
	free(text);
	json_decref(c);
	return rc;
}

int jwk_thumbprint_pkey(EVP_PKEY *key, char *out)
{
	json_t *jwk = jwk_from_pkey(key);
	int rc = jwk ? jwk_thumbprint(jwk, out) : -1;
	json_decref(jwk);
	return rc;
}

/* ---- signing ---- */

const char *jws_alg_for_key(EVP_PKEY *key)
{
	const struct curve *cv;
	switch (key_kind(key)) {
	case KIND_RSA:
		return "RS256";
	case KIND_EC:
		cv = key_curve(key);
		return cv ? cv->alg : NULL;
	case KIND_ED25519:
		return "EdDSA";
	default:
		return NULL;
	}
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

char *jws_sign(EVP_PKEY *key, const json_t *extra_header, const char *payload)
{
	char *prot = NULL, *pay = NULL, *input = NULL, *out = NULL;
	unsigned char *sig = NULL;
	uint8_t *raw = NULL;
	size_t sig_len = 0;
	EVP_MD_CTX *ctx = NULL;
	const char *alg = jws_alg_for_key(key);
	const struct alg_info *ai = alg ? alg_by_name(alg) : NULL;
	if (!ai || sign_parts(extra_header, alg, payload, &prot, &pay, &input) != 0)
		goto done;
	size_t in_len = strlen(input);
	ctx = EVP_MD_CTX_new();
	if (!ctx || md_init(ctx, ai, key, 0) != 0 ||
	    EVP_DigestSign(ctx, NULL, &sig_len, (const unsigned char *)input, in_len) != 1 ||
	    !(sig = malloc(sig_len)) ||
	    EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)input, in_len) != 1)
		goto done;
	if (ai->kind == KIND_EC) {
		const struct curve *cv = key_curve(key);
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

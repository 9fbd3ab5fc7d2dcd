/* JWS (flattened JSON serialization) for ACME: parsing under RFC 8555 §6.2's header rules and
 * verification, directly on OpenSSL 3 and jansson. Keys and JWKs are jwk.c's, the algorithm
 * table jose_alg.c's, signing jws_sign.c's. */
#include "jose.h"
#include "jose_alg.h"
#include "b64url.h"
#include "jwk.h"
#include <openssl/ec.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCEPTED_ALGS "RS256, ES256, ES384, ES512, PS256, EdDSA"

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

static size_t skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* A string of printable ASCII without escapes, s[i] its opening quote: the index after its
 * closing quote, its contents in *p and *len; 0 for anything else. */
static size_t plain_string(const char *s, size_t n, size_t i, const char **p, size_t *len)
{
	if (i >= n || s[i] != '"')
		return 0;
	size_t start = ++i;
	for (; i < n && s[i] != '"'; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e || s[i] == '\\')
			return 0;
	if (i >= n)
		return 0;
	*p = s + start;
	*len = i - start;
	return i + 1;
}

/* The usual shape of a JWS protected header under a kid and of most payloads (issue 7:
 * jansson's parser took ~24k instructions each, ~3% of cobbled's instructions under the
 * bench): one object whose keys and values are all strings of printable ASCII without
 * escapes, no key twice. Returns the object json_loadb would make of it, or NULL for any
 * other text, which jansson then parses and judges: this path only ever accepts what
 * jansson accepts (with JSON_REJECT_DUPLICATES), as the same value (test_jose, fuzz_jws). */
static json_t *flat_object(const char *s, size_t n)
{
	size_t i = skip_ws(s, n, 0);
	if (i >= n || s[i] != '{')
		return NULL;
	json_t *o = json_object();
	if (!o)
		return NULL;
	i = skip_ws(s, n, i + 1);
	if (i < n && s[i] == '}') {
		i++;
	} else {
		for (;;) {
			const char *k, *v;
			size_t kl, vl, next;
			if (!(next = plain_string(s, n, i, &k, &kl)))
				goto fail;
			i = skip_ws(s, n, next);
			if (i >= n || s[i] != ':')
				goto fail;
			i = skip_ws(s, n, i + 1);
			if (!(next = plain_string(s, n, i, &v, &vl)) || json_object_getn(o, k, kl) ||
			    json_object_setn_new_nocheck(o, k, kl, json_stringn_nocheck(v, vl)) != 0)
				goto fail;
			i = skip_ws(s, n, next);
			if (i < n && s[i] == ',') {
				i = skip_ws(s, n, i + 1);
				continue;
			}
			if (i < n && s[i] == '}') {
				i++;
				break;
			}
			goto fail;
		}
	}
	if (skip_ws(s, n, i) != n)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
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
	if ((j = flat_object(buf, len)) != NULL)
		return j; /* depth 1 */
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

/* Checks the decoded protected header against RFC 8555 §6.2 and fills j's header fields. */
static int check_header(struct jws *j, struct problem **prob)
{
	json_t *h = j->header;
	json_t *v = json_object_get(h, "alg");
	if (!v || !json_is_string(v)) {
		*prob = malformed("JWS protected header has no \"alg\" string");
		return -1;
	}
	const struct jose_alg_info *ai = jose_alg_by_name(json_string_value(v));
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
	if (!json_is_string(v) || !b64url_is_token(json_string_value(v))) {
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

/* One INTEGER of r||s (RFC 7518 §3.4: big-endian, the curve's field size) as DER (X.690
 * §8.3: minimal, a 0x00 first when the top bit is set). Returns its length. */
static size_t der_uint(const unsigned char *v, size_t n, unsigned char *out)
{
	while (n > 1 && v[0] == 0) {
		v++;
		n--;
	}
	size_t pad = (v[0] & 0x80) ? 1 : 0;
	out[0] = 0x02;
	out[1] = (unsigned char)(n + pad); /* n <= 66: short form */
	out[2] = 0;
	memcpy(out + 2 + pad, v, n);
	return 2 + pad + n;
}

/* RFC 7518 §3.4: r||s, each flen (<= 66) bytes, into the DER ECDSA-Sig-Value (RFC 3279
 * §2.2.3) OpenSSL verifies, written straight into der (at least 2 * flen + 9 bytes). */
static size_t ec_raw_to_der(const unsigned char *raw, size_t flen, unsigned char *der)
{
	unsigned char ints[2 * (66 + 3)];
	size_t n = der_uint(raw, flen, ints);
	n += der_uint(raw + flen, flen, ints + n);
	size_t h = 0;
	der[h++] = 0x30;
	if (n >= 0x80)
		der[h++] = 0x81;
	der[h++] = (unsigned char)n;
	memcpy(der + h, ints, n);
	return h + n;
}

/* A key made ready for checking signatures (jose.h). tmpl[alg] is a DigestVerify context set
 * up for that algorithm, copied for each check: setting one up fetches the digest and the
 * signature implementation by name (~6 us a time in OpenSSL 3.0), copying it ~0.3 us. */
struct jws_key {
	EVP_PKEY *key;
	enum jwk_kind kind;
	const struct jwk_curve *cv;
	EVP_MD_CTX *tmpl[JWS_ALG_EDDSA + 1];
	int refs; /* atomic */
};

struct jws_key *jws_key_new(EVP_PKEY *key)
{
	struct jws_key *k = calloc(1, sizeof *k);
	if (!k || !key || EVP_PKEY_up_ref(key) != 1) {
		free(k);
		return NULL;
	}
	k->key = key;
	k->refs = 1;
	k->kind = jwk_key_kind(key);
	k->cv = k->kind == JWK_KIND_EC ? jwk_key_curve(key) : NULL;
	/* EdDSA hashes inside the signature and gets no template: it is set up per check. */
	for (int id = JWS_ALG_RS256; id <= JWS_ALG_EDDSA; id++) {
		const struct jose_alg_info *ai = jose_alg_by_id((enum jws_alg)id);
		if (!ai || ai->kind != k->kind || !ai->md || (ai->kind == JWK_KIND_EC && (!k->cv || k->cv->nid != ai->curve_nid)))
			continue;
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		if (!c || jose_md_init(c, ai, key, 1) != 0) {
			EVP_MD_CTX_free(c); /* this alg is checked the slow way */
			ERR_clear_error();
			continue;
		}
		k->tmpl[ai->alg] = c;
	}
	return k;
}

struct jws_key *jws_key_ref(struct jws_key *k)
{
	if (k)
		__atomic_add_fetch(&k->refs, 1, __ATOMIC_RELAXED);
	return k;
}

void jws_key_free(struct jws_key *k)
{
	if (!k || __atomic_sub_fetch(&k->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (size_t i = 0; i < sizeof k->tmpl / sizeof k->tmpl[0]; i++)
		EVP_MD_CTX_free(k->tmpl[i]);
	EVP_PKEY_free(k->key);
	free(k);
}

EVP_PKEY *jws_key_pkey(const struct jws_key *k)
{
	return k ? k->key : NULL;
}

/* The check itself, for a key whose kind and curve are known; tmpl NULL sets ctx up afresh. */
static int verify_with(const struct jws *j, EVP_PKEY *key, enum jwk_kind kind, const struct jwk_curve *cv,
                       const EVP_MD_CTX *const *tmpl, struct problem **prob)
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char der[2 * 66 + 9];
	int rc = -1;
	const struct jose_alg_info *ai = j ? jose_alg_by_id(j->alg) : NULL;
	if (!ai || !key || !j->signing_input || !j->sig) {
		*prob = malformed("JWS verification error");
		goto done;
	}
	if (kind != ai->kind || (ai->kind == JWK_KIND_EC && (!cv || cv->nid != ai->curve_nid))) {
		*prob = problem_new("badSignatureAlgorithm", 400,
		                    "JWS algorithm %s does not fit the %s key; accepted algorithms: " ACCEPTED_ALGS,
		                    ai->name,
		                    kind == JWK_KIND_RSA ? "RSA"
		                    : cv ? cv->crv
		                    : kind == JWK_KIND_ED25519 ? "Ed25519" : "given");
		goto done;
	}
	const unsigned char *sig = j->sig;
	size_t sig_len = j->sig_len;
	if (kind == JWK_KIND_EC) {
		if (sig_len != 2 * cv->len || cv->len > 66) {
			*prob = malformed("JWS verification error");
			goto done;
		}
		sig_len = ec_raw_to_der(sig, cv->len, der);
		sig = der;
	} else if (kind == JWK_KIND_RSA && sig_len != (size_t)EVP_PKEY_get_size(key)) {
		/* RFC 8017 §8.2.2: the signature is exactly k octets. */
		*prob = malformed("JWS verification error");
		goto done;
	}
	const EVP_MD_CTX *t = tmpl ? tmpl[ai->alg] : NULL;
	ctx = EVP_MD_CTX_new();
	if (!ctx || (t ? EVP_MD_CTX_copy_ex(ctx, t) != 1 : jose_md_init(ctx, ai, key, 1) != 0) ||
	    EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)j->signing_input,
	                     strlen(j->signing_input)) != 1) {
		*prob = malformed("JWS verification error");
		goto done;
	}
	rc = 0;
done:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return rc;
}

int jws_verify(const struct jws *j, EVP_PKEY *key, struct problem **prob)
{
	enum jwk_kind kind = jwk_key_kind(key);
	return verify_with(j, key, kind, kind == JWK_KIND_EC ? jwk_key_curve(key) : NULL, NULL, prob);
}

int jws_verify_key(const struct jws *j, const struct jws_key *k, struct problem **prob)
{
	if (!k)
		return verify_with(j, NULL, JWK_KIND_NONE, NULL, NULL, prob);
	return verify_with(j, k->key, k->kind, k->cv, (const EVP_MD_CTX *const *)k->tmpl, prob);
}

/* JWS for ACME (RFC 7515, 7518; RFC 8555 §6.2).
 * Parsing of flattened JWS with ACME's header rules and verification (jose.c), and signing
 * (jws_sign.c).
 * JWKs, the account key policy and thumbprints are in jwk.h. */
#ifndef COBBLE_JOSE_H
#define COBBLE_JOSE_H
#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>
#include "problem.h"

/* Caps on untrusted input. */
#define JWS_MAX_BYTES (64 * 1024)
#define JOSE_MAX_JSON_DEPTH 16

/* Algorithms ACME accepts (RFC 8555 §6.2: MUST NOT be "none" or a MAC). */
enum jws_alg { JWS_ALG_RS256 = 1, JWS_ALG_ES256, JWS_ALG_ES384, JWS_ALG_ES512, JWS_ALG_PS256, JWS_ALG_EDDSA };

struct jws {
	json_t *header;        /* decoded protected header */
	enum jws_alg alg;
	const char *alg_name;  /* points into header */
	const char *nonce;     /* points into header; never NULL after a successful parse */
	const char *url;       /* points into header; never NULL after a successful parse */
	const char *kid;       /* points into header; exactly one of kid and jwk is set */
	json_t *jwk;           /* borrowed from header */
	unsigned char *payload; /* decoded payload, NUL-terminated; payload_len 0 for POST-as-GET */
	size_t payload_len;
	char *signing_input;   /* ASCII(protected "." payload), as signed */
	unsigned char *sig;    /* decoded signature */
	size_t sig_len;
};

/* Parses a flattened JSON JWS (RFC 7515 §7.2.2) of at most JWS_MAX_BYTES.
 * Checks the ACME header rules (§6.2): alg allowed (else badSignatureAlgorithm), exactly one
 * of jwk/kid, nonce and url present (nonce is checked for syntax only: b64url, non-empty).
 * No "header" (unprotected) member. On failure returns -1 and sets *prob (malformed,
 * badSignatureAlgorithm, badNonce). */
int jws_parse(const char *body, size_t len, struct jws **out, struct problem **prob);
void jws_free(struct jws *j);

/* Verifies j's signature with key (whose type must match alg). 0 ok; -1 with *prob
 * (malformed "JWS verification error" / badSignatureAlgorithm on key/alg mismatch). */
int jws_verify(const struct jws *j, EVP_PKEY *key, struct problem **prob);

/* A public key made ready for checking JWS signatures: its type and curve looked up once, and
 * the verification set up once per algorithm the key can carry, so each check copies that set-up
 * instead of fetching OpenSSL's implementations again (issue 7: ~6 us of every check). Immutable
 * once made: threads share it; counted references. jws_key_new takes its own reference to key;
 * NULL only when out of memory (a key no template fits is still checked, the slow way). */
struct jws_key;
struct jws_key *jws_key_new(EVP_PKEY *key);
struct jws_key *jws_key_ref(struct jws_key *k);
void jws_key_free(struct jws_key *k);
EVP_PKEY *jws_key_pkey(const struct jws_key *k);
/* jws_verify with a prepared key; the same answers. */
int jws_verify_key(const struct jws *j, const struct jws_key *k, struct problem **prob);

/* The alg a key signs with: ES256 for P-256, ES384 for P-384, ES512 for P-521, RS256 for RSA. */
const char *jws_alg_for_key(EVP_PKEY *key);
/* Signs payload (NULL or "" means empty payload, POST-as-GET) as a flattened JWS.
 * The protected header is alg (from the key) plus the members of extra_header
 * (nonce, url, and kid or jwk; the caller decides). Returns a malloc'd JSON string. */
char *jws_sign(EVP_PKEY *key, const json_t *extra_header, const char *payload);
/* A signing key made ready for jws_sign: its algorithm looked up and the signing set up once,
 * copied for each signature (issue 7: ~7 us of every request an agent signs). Never written
 * after jws_signer_new, so threads may share one. Takes its own reference to key.
 * jws_signer_sign answers as jws_sign(key, ...) would. */
struct jws_signer;
struct jws_signer *jws_signer_new(EVP_PKEY *key);
void jws_signer_free(struct jws_signer *g);
EVP_PKEY *jws_signer_pkey(const struct jws_signer *g);
char *jws_signer_sign(const struct jws_signer *g, const json_t *extra_header, const char *payload);
/* Same with HMAC-SHA256 (for External Account Binding, RFC 8555 §7.3.4); alg HS256.
 * Verification of HS256 is not offered: the server never accepts a MAC on a request. */
char *jws_sign_hs256(const unsigned char *mac_key, size_t key_len, const json_t *header,
                     const char *payload);

/* Parse JSON with a nesting cap (rejects deeper than JOSE_MAX_JSON_DEPTH). NULL on error;
 * err (if non-NULL, size errlen) gets a one-line reason. */
json_t *jose_json_loadb(const char *buf, size_t len, char *err, size_t errlen);

#endif

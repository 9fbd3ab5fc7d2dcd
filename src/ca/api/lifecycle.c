/* revokeCert (RFC 8555 §7.6) and the CRL shards: the revocation is durable before the
 * answer, and the next fetch of the certificate's shard lists it. */
#include "lifecycle.h"
#include "auth.h"
#include "b64url.h"
#include "issuance/crl.h"
#include "log.h"
#include "reply.h"
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/bn.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One cache per process: cobbled runs one event loop. */
static struct crl_cache *crls;

static struct crl_cache *cache_of(struct api *a)
{
	if (!crls)
		crls = crl_cache_new(ca_crl_shards(a->ca), LIFECYCLE_CRL_LIFETIME);
	return crls;
}

int lifecycle_serial_hex(const X509 *x, char *out, size_t outlen)
{
	const ASN1_INTEGER *si = X509_get0_serialNumber(x);
	BIGNUM *bn = si ? ASN1_INTEGER_to_BN(si, NULL) : NULL;
	char *hex = bn && !BN_is_negative(bn) ? BN_bn2hex(bn) : NULL;
	int rc = -1;
	if (hex && strlen(hex) < outlen) {
		size_t i;
		for (i = 0; hex[i]; i++)
			out[i] = (char)tolower((unsigned char)hex[i]);
		out[i] = '\0';
		rc = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

int lifecycle_parse_crl_name(const char *name, int nshards)
{
	if (!name || !isdigit((unsigned char)name[0]) || strlen(name) > 12)
		return -1;
	char *end;
	long v = strtol(name, &end, 10);
	if (strcmp(end, ".crl") != 0 || (name[0] == '0' && end != name + 1) || v < 0 || v >= nshards)
		return -1;
	return (int)v;
}

/* Parses the payload into a certificate and a reason; a problem otherwise. */
static struct problem *parse_revoke(const json_t *payload, X509 **out, int *reason)
{
	*out = NULL;
	*reason = 0;
	const json_t *cj = json_object_get(payload, "certificate");
	const char *b64 = json_string_value(cj);
	if (!b64)
		return problem_new("malformed", 400, "\"certificate\" must be a base64url string");
	size_t bl = strlen(b64);
	if (bl == 0 || bl > LIFECYCLE_CERT_B64_MAX)
		return problem_new("malformed", 400, "\"certificate\" is empty or longer than %d characters",
		                   LIFECYCLE_CERT_B64_MAX);
	const json_t *rj = json_object_get(payload, "reason");
	if (rj) {
		if (!json_is_integer(rj))
			return problem_new("badRevocationReason", 400, "\"reason\" must be an integer CRLReason code");
		json_int_t r = json_integer_value(rj);
		if (r < 0 || r > 10 || !crl_reason_subscriber_ok((int)r))
			return problem_new("badRevocationReason", 400,
			                   "reason %lld is not allowed: use 0 (unspecified), 1 (keyCompromise), "
			                   "4 (superseded) or 5 (cessationOfOperation)",
			                   (long long)r);
		*reason = (int)r;
	}
	uint8_t *der = NULL;
	size_t dl = 0;
	if (b64url_decode(b64, bl, &der, &dl) != 0)
		return problem_new("malformed", 400, "\"certificate\" is not valid base64url");
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)dl);
	if (!x || p != der + dl) {
		X509_free(x);
		free(der);
		return problem_new("malformed", 400, "\"certificate\" is not one DER certificate");
	}
	free(der);
	*out = x;
	return NULL;
}

void lifecycle_revoke_cert(struct api *a, struct evhttp_request *req, const char *url)
{
	struct auth au;
	struct problem *p = NULL;
	struct store_cert c;
	X509 *x = NULL;
	int reason = 0;
	char serial[STORE_ID_MAX];
	memset(&c, 0, sizeof c);
	if (auth_request(a, req, url, AUTH_EITHER, &au, &p)) {
		reply_problem(a, req, p);
		return;
	}
	if (au.post_as_get) {
		p = problem_new("malformed", 400, "revokeCert needs a payload with \"certificate\"");
		goto done;
	}
	if ((p = parse_revoke(au.payload, &x, &reason)))
		goto done;
	if (lifecycle_serial_hex(x, serial, sizeof serial) != 0) {
		p = problem_new("malformed", 404, "this CA did not issue that certificate");
		goto done;
	}
	int r = store_cert_get(a->store, serial, &c);
	int ours = r == STORE_OK;
	if (ours) {
		unsigned char *der = NULL;
		int dl = i2d_X509(x, &der);
		ours = dl > 0 && (size_t)dl == c.der_len && memcmp(der, c.der, c.der_len) == 0;
		OPENSSL_free(der);
	}
	if (r != STORE_OK && r != STORE_NOTFOUND) {
		p = problem_new("serverInternal", 500, "could not look up the certificate");
		goto done;
	}
	if (!ours) {
		p = problem_new("malformed", 404, "this CA did not issue that certificate");
		goto done;
	}
	/* §7.6: the account that holds the certificate, or the certificate's own key. */
	if (au.acct.id[0]) {
		if (strcmp(au.acct.id, c.account_id) != 0) {
			p = problem_new("unauthorized", 403, "this account may not revoke that certificate");
			goto done;
		}
	} else if (EVP_PKEY_eq(au.key, X509_get0_pubkey(x)) != 1) {
		p = problem_new("unauthorized", 403, "the JWS key is not the certificate's key");
		goto done;
	}
	if (c.revoked_at) {
		p = problem_new("alreadyRevoked", 400, "certificate %s is already revoked", serial);
		goto done;
	}
	r = store_cert_revoke(a->store, serial, reason, (int64_t)time(NULL));
	if (r == STORE_CONFLICT) {
		p = problem_new("alreadyRevoked", 400, "certificate %s is already revoked", serial);
		goto done;
	}
	if (r != STORE_OK) {
		p = problem_new("serverInternal", 500, "could not record the revocation");
		goto done;
	}
	crl_mark_dirty(cache_of(a));
	log_info("certificate %s revoked, reason %d (%s)", serial, reason,
	         au.acct.id[0] ? "account key" : "certificate key");
	reply_raw(a, req, 200, NULL, NULL, 0);
done:
	if (p)
		reply_problem(a, req, p);
	X509_free(x);
	store_cert_clear(&c);
	auth_clear(&au);
}

void lifecycle_crl(struct api *a, struct evhttp_request *req, const char *name)
{
	int shard = lifecycle_parse_crl_name(name, ca_crl_shards(a->ca));
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	if (shard < 0) {
		evhttp_send_error(req, 404, "no such CRL");
		return;
	}
	size_t len = 0;
	const unsigned char *der = crl_get(cache_of(a), a->ca, a->store, shard, (int64_t)time(NULL), &len);
	if (!der) {
		evhttp_send_error(req, 503, "CRL unavailable");
		return;
	}
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add(b, der, len);
	evhttp_add_header(h, "Content-Type", "application/pkix-crl");
	evhttp_add_header(h, "Cache-Control", "public, max-age=60");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

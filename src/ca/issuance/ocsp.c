/* OCSP responses: parse a bounded request, look every CertID up in storage, sign the basic
 * response with the intermediate (through the signer interface). */
#include "issuance/ocsp.h"
#include "issuance/signer.h"
#include "log.h"
#include <ctype.h>
#include <openssl/bn.h>
#include <openssl/ocsp.h>
#include <string.h>

static int encode(OCSP_RESPONSE *r, unsigned char **out, size_t *out_len)
{
	int n = r ? i2d_OCSP_RESPONSE(r, out) : -1;
	OCSP_RESPONSE_free(r);
	if (n <= 0) {
		*out = NULL;
		return -1;
	}
	*out_len = (size_t)n;
	return 0;
}

static int status_only(int status, unsigned char **out, size_t *out_len)
{
	return encode(OCSP_response_create(status, NULL), out, out_len);
}

/* 1 if cid names a certificate of our intermediate (same hash algorithm, name and key hash). */
static int our_issuer(OCSP_CERTID *cid, X509 *inter)
{
	ASN1_OBJECT *md_obj = NULL;
	ASN1_INTEGER *serial = NULL;
	if (!OCSP_id_get0_info(NULL, &md_obj, NULL, &serial, cid) || !md_obj || !serial)
		return 0;
	const EVP_MD *md = EVP_get_digestbyobj(md_obj);
	if (!md)
		return 0;
	OCSP_CERTID *ours = OCSP_cert_id_new(md, X509_get_subject_name(inter), X509_get0_pubkey_bitstr(inter), serial);
	int same = ours && OCSP_id_issuer_cmp(ours, cid) == 0;
	OCSP_CERTID_free(ours);
	return same;
}

static int serial_hex(OCSP_CERTID *cid, char *out, size_t outlen)
{
	ASN1_INTEGER *serial = NULL;
	if (!OCSP_id_get0_info(NULL, NULL, NULL, &serial, cid) || !serial)
		return -1;
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn && !BN_is_negative(bn) && !BN_is_zero(bn) ? BN_bn2hex(bn) : NULL;
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

int ocsp_respond(struct ca *ca, struct store *s, const unsigned char *req, size_t len, int64_t now,
                 unsigned char **out, size_t *out_len)
{
	OCSP_REQUEST *rq = NULL;
	OCSP_BASICRESP *bs = NULL;
	ASN1_TIME *this_upd = NULL, *next_upd = NULL;
	int rc;
	*out = NULL;
	*out_len = 0;
	const unsigned char *p = req;
	if (!req || len == 0 || len > OCSP_REQUEST_MAX || !(rq = d2i_OCSP_REQUEST(NULL, &p, (long)len)) ||
	    p != req + len) {
		OCSP_REQUEST_free(rq);
		return status_only(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, out, out_len);
	}
	int n = OCSP_request_onereq_count(rq);
	if (n <= 0 || n > OCSP_MAX_CERTIDS) {
		OCSP_REQUEST_free(rq);
		return status_only(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, out, out_len);
	}
	X509 *inter = ca_intermediate_cert(ca);
	if (!(bs = OCSP_BASICRESP_new()) || !(this_upd = ASN1_TIME_set(NULL, (time_t)now)) ||
	    !(next_upd = ASN1_TIME_set(NULL, (time_t)(now + OCSP_VALIDITY))))
		goto internal;
	for (int i = 0; i < n; i++) {
		OCSP_CERTID *cid = OCSP_onereq_get0_id(OCSP_request_onereq_get0(rq, i));
		char serial[STORE_ID_MAX];
		struct store_cert c;
		int status = V_OCSP_CERTSTATUS_UNKNOWN, reason = 0;
		ASN1_TIME *rev = NULL;
		memset(&c, 0, sizeof c);
		if (cid && our_issuer(cid, inter) && serial_hex(cid, serial, sizeof serial) == 0) {
			int r = store_cert_get(s, serial, &c);
			if (r == STORE_OK) {
				status = c.revoked_at ? V_OCSP_CERTSTATUS_REVOKED : V_OCSP_CERTSTATUS_GOOD;
				reason = c.revoked_reason;
				if (c.revoked_at && !(rev = ASN1_TIME_set(NULL, (time_t)c.revoked_at))) {
					store_cert_clear(&c);
					goto internal;
				}
			} else if (r != STORE_NOTFOUND) {
				goto internal;
			}
		}
		store_cert_clear(&c);
		/* RFC 5280 §5.3.1 via RFC 6960 §4.2.1: no reason is encoded as "unspecified" omitted. */
		OCSP_SINGLERESP *sr = OCSP_basic_add1_status(bs, cid, status, reason ? reason : -1, rev, this_upd, next_upd);
		ASN1_TIME_free(rev);
		if (!sr)
			goto internal;
	}
	OCSP_copy_nonce(bs, rq);
	if (signer_sign_ocsp(ca_intermediate_signer(ca), bs, inter) != 0)
		goto internal;
	rc = encode(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs), out, out_len);
	goto out;
internal:
	log_error("ocsp: could not build a response");
	rc = status_only(OCSP_RESPONSE_STATUS_INTERNALERROR, out, out_len);
out:
	ASN1_TIME_free(this_upd);
	ASN1_TIME_free(next_upd);
	OCSP_BASICRESP_free(bs);
	OCSP_REQUEST_free(rq);
	return rc;
}

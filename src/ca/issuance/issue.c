/* Leaf (end-entity) certificates: fresh serials, and ca_issue, which builds a leaf for a checked
 * CSR under the CA's intermediate (issuance/ca.h) and signs it. */
#include "issuance/issue.h"
#include "str.h"
#include "der.h"
#include "issuance/ca.h"
#include "issuance/certbuild.h"
#include "issuance/csrcheck.h"
#include "issuance/signer.h"
#include "rand.h"
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DAY 86400LL

static int add_crldp_shard(const struct ca *ca, X509 *x, const char *serial_hex)
{
	char url[700];
	if (ca_crl_url(ca, ca_crl_shard_of(serial_hex, ca_crl_shards(ca)), url, sizeof url) != 0)
		return -1;
	return certbuild_add_crldp(x, url);
}

int ca_new_serial(char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	/* The time in milliseconds (48 bits, big-endian), then 80 bits from the CSPRNG (CA/B BR
	 * §7.1: at least 64): serials sort by the time they were drawn, so a new certificate's index
	 * entries land on the right edge of the serial indexes (issue 7, millions stored).
	 * RFC 5280 §4.1.2.2: positive; the first byte is non-zero since 2004 and below 0x80 until
	 * about the year 6400, so the DER stays at 16 octets. */
	uint64_t ms = rand_now_ms();
	for (int i = 5; i >= 0; i--, ms >>= 8)
		b[i] = (unsigned char)(ms & 0xff);
	if (rand_fill(b + 6, sizeof b - 6) != 0)
		return -1;
	b[0] &= 0x7f;
	if (b[0] == 0)
		b[0] = 1;
	for (size_t i = 0; i < sizeof b; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[32] = '\0';
	return 0;
}

static int serial_from_hex(X509 *x, const char *hex)
{
	size_t l = hex ? strlen(hex) : 0;
	BIGNUM *bn = NULL;
	int rc = -1;
	if (l == 0 || l > 40) /* RFC 5280 §4.1.2.2: at most 20 octets */
		return -1;
	for (size_t i = 0; i < l; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f') ||
		      (hex[i] >= 'A' && hex[i] <= 'F')))
			return -1;
	if (!BN_hex2bn(&bn, hex) || BN_is_zero(bn))
		goto out;
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	rc = 0;
out:
	BN_free(bn);
	return rc;
}

/* The certificate's SubjectPublicKeyInfo, copied from the CSR's DER as it is (algorithm, its
 * parameters, the key bits). X509_set_pubkey would re-encode the decoded key through OpenSSL
 * 3's encoders and decode the result again (issue 7 profile: ~10% of cobbled's CPU per
 * issuance), and d2i_X509_PUBKEY would decode the key once more. csrcheck_verify decoded the
 * key and checked the signature before we get here; -1 for a form we do not copy (the caller
 * then falls back to X509_set_pubkey). */
static int copy_spki(X509 *x, const struct csr *csr)
{
	struct der oid_tlv, param_tlv, bits;
	if (der_spki((struct der){csr->spki, csr->spki_len}, &oid_tlv, &param_tlv, &bits))
		return -1;
	int ptype = V_ASN1_UNDEF;
	if (param_tlv.n && der_peek(&param_tlv) == DER_OID)
		ptype = V_ASN1_OBJECT;
	else if (param_tlv.n && der_peek(&param_tlv) == DER_NULL)
		ptype = V_ASN1_NULL;
	else if (param_tlv.n)
		return -1;
	const unsigned char *q = oid_tlv.p;
	ASN1_OBJECT *alg = d2i_ASN1_OBJECT(NULL, &q, (long)oid_tlv.n), *param = NULL;
	if (ptype == V_ASN1_OBJECT) {
		q = param_tlv.p;
		param = d2i_ASN1_OBJECT(NULL, &q, (long)param_tlv.n);
	}
	unsigned char *key = OPENSSL_memdup(bits.p, bits.n);
	if (!alg || (ptype == V_ASN1_OBJECT && !param) || !key ||
	    X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), alg, ptype, param, key, (int)bits.n) != 1) {
		ASN1_OBJECT_free(alg);
		ASN1_OBJECT_free(param);
		OPENSSL_free(key);
		return -1;
	}
	return 0;
}

int ca_issue(struct ca *ca, const struct csr *csr, const char *const *names, size_t nnames,
             const char *serial_hex, int64_t not_before, int64_t not_after,
             unsigned char **der, size_t *der_len, int64_t *nb_out, int64_t *na_out,
             char *err, size_t errlen)
{
	X509 *x = NULL;
	X509_NAME *subj = NULL;
	unsigned char *buf = NULL;
	int rc = -1;
	if (err && errlen)
		err[0] = '\0';
	*der = NULL;
	*der_len = 0;
	if (!ca || !csr || !names || nnames == 0) {
		str_seterr(err, errlen, "no names to issue for");
		return -1;
	}
	for (size_t i = 0; i < nnames; i++) {
		if (!names[i] || !*names[i]) {
			str_seterr(err, errlen, "name %zu is empty", i);
			return -1;
		}
	}
	X509 *inter = ca_intermediate_cert(ca);
	EVP_PKEY *pub = csr->key;
	if (!pub) {
		str_seterr(err, errlen, "the CSR's public key cannot be decoded");
		goto out;
	}
	int64_t nb = not_before ? not_before : (int64_t)time(NULL);
	int64_t na = not_after ? not_after : nb + (int64_t)ca_validity_days(ca) * DAY;
	na = certbuild_clamp_to_issuer(na, inter);
	if (na <= nb) {
		str_seterr(err, errlen, "validity is empty: notAfter is not after notBefore "
		                     "(or the intermediate has expired)");
		goto out;
	}

	if (!(x = X509_new()) || X509_set_version(x, X509_VERSION_3) != 1) {
		str_seterr(err, errlen, "out of memory");
		goto out;
	}
	if (serial_from_hex(x, serial_hex) != 0) {
		str_seterr(err, errlen, "serial \"%s\" is not a positive hex number of at most 20 octets",
		        serial_hex ? serial_hex : "");
		goto out;
	}
	/* CN: the first DNS name that fits (CA/B BR §7.1.4.3 allows an address there, but
	 * clients never need it); an IP-only certificate has an empty subject. RFC 5280 §4.2.1.6:
	 * with an empty subject the SAN extension is critical. */
	const char *cn = NULL;
	for (size_t i = 0; i < nnames && !cn; i++) {
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(names[i]);
		if (!ip && strlen(names[i]) <= CERTBUILD_CN_MAX)
			cn = names[i];
		ASN1_OCTET_STRING_free(ip);
	}
	int has_cn = cn != NULL;
	if (!(subj = certbuild_name_cn(cn)) || X509_set_subject_name(x, subj) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(inter)) != 1 ||
	    certbuild_set_times(x, nb, na) != 0 ||
	    (copy_spki(x, csr) != 0 && X509_set_pubkey(x, pub) != 1)) {
		str_seterr(err, errlen, "cannot set the certificate's names, validity or key");
		goto out;
	}
	const char *ku = EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA ? "critical,digitalSignature,keyEncipherment"
	                                                           : "critical,digitalSignature";
	if (certbuild_add_san(x, names, nnames, !has_cn) != 0 ||
	    certbuild_add_ext_conf(x, inter, NID_key_usage, ku) != 0 ||
	    certbuild_add_ext_conf(x, inter, NID_ext_key_usage, "serverAuth") != 0 ||
	    certbuild_add_ext_conf(x, inter, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    certbuild_add_ext_conf(x, inter, NID_subject_key_identifier, "hash") != 0 ||
	    certbuild_add_ext_conf(x, inter, NID_authority_key_identifier, "keyid:always") != 0 ||
	    (ca_aia_url(ca) && certbuild_add_aia(x, ca_aia_url(ca), ca_ocsp_url(ca)) != 0) ||
	    (ca_crl_url_prefix(ca) && add_crldp_shard(ca, x, serial_hex) != 0) ||
	    certbuild_add_policy(x, "2.23.140.1.2.1") != 0 /* CA/B BR §7.1.6.1: domain-validated */) {
		str_seterr(err, errlen, "cannot add the certificate's extensions");
		goto out;
	}
	if (signer_sign_x509(ca_intermediate_signer(ca), x) != 0) {
		str_seterr(err, errlen, "signing failed");
		goto out;
	}
	int len = i2d_X509(x, &buf);
	if (len <= 0) {
		str_seterr(err, errlen, "cannot encode the certificate");
		goto out;
	}
	*der = buf;
	*der_len = (size_t)len;
	buf = NULL;
	if (nb_out)
		*nb_out = nb;
	if (na_out)
		*na_out = na;
	rc = 0;
out:
	ERR_clear_error();
	OPENSSL_free(buf);
	X509_NAME_free(subj);
	X509_free(x);
	return rc;
}

/* X.509 building blocks for the certificates the CA signs (its own and leaves): subject names,
 * validity, and the extensions (SAN, AIA, CRLDP, policies, fixed ones in OpenSSL's syntax). */
#include "issuance/certbuild.h"
#include <openssl/x509v3.h>
#include <string.h>
#include <time.h>

int64_t certbuild_time_unix(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	return (int64_t)timegm(&tm);
}

int64_t certbuild_clamp_to_issuer(int64_t na, X509 *issuer)
{
	int64_t limit = certbuild_time_unix(X509_get0_notAfter(issuer));
	return (limit > 0 && na > limit) ? limit : na;
}

X509_NAME *certbuild_name_cn(const char *cn)
{
	X509_NAME *n = X509_NAME_new();
	if (!n)
		return NULL;
	if (cn && *cn &&
	    X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
	                               0) != 1) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

/* Adds an extension described in OpenSSL's config syntax; only for fixed strings, never input. */
int certbuild_add_ext_conf(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	int rc = X509_add_ext(cert, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

int certbuild_set_times(X509 *x, int64_t nb, int64_t na)
{
	if (!ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb))
		return -1;
	if (!ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na))
		return -1;
	return 0;
}

/* Adds an iPAddress GeneralName if name is an IPv4/IPv6 literal, else a dNSName. */
static int gens_add_name(GENERAL_NAMES *gens, const char *name)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	if (!gn)
		return -1;
	ASN1_OCTET_STRING *ip = a2i_IPADDRESS(name);
	if (ip) {
		GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
	} else {
		ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
		if (!ia5 || ASN1_STRING_set(ia5, name, (int)strlen(name)) != 1) {
			ASN1_IA5STRING_free(ia5);
			GENERAL_NAME_free(gn);
			return -1;
		}
		GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
	}
	if (!sk_GENERAL_NAME_push(gens, gn)) {
		GENERAL_NAME_free(gn);
		return -1;
	}
	return 0;
}

int certbuild_add_san(X509 *x, const char *const *names, size_t n, int critical)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	int rc = -1;
	if (!gens)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (gens_add_name(gens, names[i]) != 0)
			goto out;
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, critical, X509V3_ADD_DEFAULT) != 1)
		goto out;
	rc = 0;
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

static GENERAL_NAME *uri_name(const char *uri)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	if (!gn || !ia5 || ASN1_STRING_set(ia5, uri, (int)strlen(uri)) != 1) {
		GENERAL_NAME_free(gn);
		ASN1_IA5STRING_free(ia5);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, GEN_URI, ia5);
	return gn;
}

/* RFC 5280 §4.2.2.1: caIssuers pointing at the issuer's DER. */
int certbuild_add_aia(X509 *x, const char *url, const char *ocsp_url)
{
	AUTHORITY_INFO_ACCESS *aia = AUTHORITY_INFO_ACCESS_new();
	ACCESS_DESCRIPTION *ad = NULL;
	GENERAL_NAME *gn = NULL;
	int rc = -1;
	if (!aia)
		goto out;
	if (ocsp_url) {
		/* RFC 5280 §4.2.2.1: id-ad-ocsp, when the responder is on (issue 5). */
		if (!(ad = ACCESS_DESCRIPTION_new()) || !(gn = uri_name(ocsp_url)))
			goto out;
		ASN1_OBJECT_free(ad->method);
		ad->method = OBJ_nid2obj(NID_ad_OCSP);
		GENERAL_NAME_free(ad->location);
		ad->location = gn;
		gn = NULL;
		if (!sk_ACCESS_DESCRIPTION_push(aia, ad))
			goto out;
		ad = NULL;
	}
	ad = ACCESS_DESCRIPTION_new();
	gn = uri_name(url);
	if (!ad || !gn)
		goto out;
	ASN1_OBJECT_free(ad->method);
	ad->method = OBJ_nid2obj(NID_ad_ca_issuers);
	GENERAL_NAME_free(ad->location);
	ad->location = gn;
	gn = NULL;
	if (!sk_ACCESS_DESCRIPTION_push(aia, ad))
		goto out;
	ad = NULL;
	if (X509_add1_ext_i2d(x, NID_info_access, aia, 0, X509V3_ADD_DEFAULT) != 1)
		goto out;
	rc = 0;
out:
	GENERAL_NAME_free(gn);
	ACCESS_DESCRIPTION_free(ad);
	AUTHORITY_INFO_ACCESS_free(aia);
	return rc;
}

/* RFC 5280 §4.2.1.13: one distribution point with a full-name URI. */
int certbuild_add_crldp(X509 *x, const char *url)
{
	CRL_DIST_POINTS *dps = sk_DIST_POINT_new_null();
	DIST_POINT *dp = DIST_POINT_new();
	DIST_POINT_NAME *dpn = DIST_POINT_NAME_new();
	GENERAL_NAMES *full = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gn = uri_name(url);
	int rc = -1;
	if (!dps || !dp || !dpn || !full || !gn)
		goto out;
	if (!sk_GENERAL_NAME_push(full, gn))
		goto out;
	gn = NULL;
	dpn->type = 0;
	dpn->name.fullname = full;
	full = NULL;
	dp->distpoint = dpn;
	dpn = NULL;
	if (!sk_DIST_POINT_push(dps, dp))
		goto out;
	dp = NULL;
	if (X509_add1_ext_i2d(x, NID_crl_distribution_points, dps, 0, X509V3_ADD_DEFAULT) != 1)
		goto out;
	rc = 0;
out:
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(full);
	DIST_POINT_NAME_free(dpn);
	DIST_POINT_free(dp);
	CRL_DIST_POINTS_free(dps);
	return rc;
}

/* CA/B BR §7.1.6.1: a single policy OID, no qualifiers. */
int certbuild_add_policy(X509 *x, const char *oid)
{
	CERTIFICATEPOLICIES *pols = sk_POLICYINFO_new_null();
	POLICYINFO *pi = POLICYINFO_new();
	int rc = -1;
	if (!pols || !pi)
		goto out;
	ASN1_OBJECT_free(pi->policyid);
	if (!(pi->policyid = OBJ_txt2obj(oid, 1)))
		goto out;
	if (!sk_POLICYINFO_push(pols, pi))
		goto out;
	pi = NULL;
	if (X509_add1_ext_i2d(x, NID_certificate_policies, pols, 0, X509V3_ADD_DEFAULT) != 1)
		goto out;
	rc = 0;
out:
	POLICYINFO_free(pi);
	CERTIFICATEPOLICIES_free(pols);
	return rc;
}

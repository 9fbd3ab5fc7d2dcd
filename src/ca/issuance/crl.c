/* Sharded CRL generation: lists the unexpired revoked certificates of a shard, builds an
 * X.509 v2 CRL with reason codes, CRL number and IDP, and signs it with the intermediate. */
#include "issuance/crl.h"
#include "issuance/signer.h"
#include "log.h"
#include <openssl/bn.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRL_NUMBER_KEY "crl_number"

int crl_reason_subscriber_ok(int reason)
{
	return reason == COBBLE_CRL_REASON_UNSPECIFIED || reason == COBBLE_CRL_REASON_KEY_COMPROMISE ||
	       reason == COBBLE_CRL_REASON_SUPERSEDED || reason == COBBLE_CRL_REASON_CESSATION;
}

const char *crl_reason_name(int reason)
{
	static const char *const names[] = {"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
	                                    "superseded", "cessationOfOperation", "certificateHold", NULL,
	                                    "removeFromCRL", "privilegeWithdrawn", "aACompromise"};
	if (reason < 0 || reason >= (int)(sizeof names / sizeof names[0]))
		return NULL;
	return names[reason];
}

/* The next CRL number: one atomic increment in storage, so instances sharing a database
 * never issue two CRLs with one number and numbers only grow (RFC 5280 §5.2.3). */
static int next_number(struct store *s, uint64_t *out)
{
	int64_t n = 0;
	if (store_meta_incr(s, CRL_NUMBER_KEY, &n) != STORE_OK || n <= 0)
		return -1;
	*out = (uint64_t)n;
	return 0;
}

static int add_entry(X509_CRL *crl, const struct store_revoked *e)
{
	X509_REVOKED *rv = X509_REVOKED_new();
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *t = NULL;
	ASN1_ENUMERATED *reason = NULL;
	int rc = -1;
	if (!rv || !BN_hex2bn(&bn, e->serial) || !(serial = BN_to_ASN1_INTEGER(bn, NULL)) ||
	    !X509_REVOKED_set_serialNumber(rv, serial) || !(t = ASN1_TIME_set(NULL, (time_t)e->revoked_at)) ||
	    !X509_REVOKED_set_revocationDate(rv, t))
		goto out;
	/* RFC 5280 §5.3.1: omit the reasonCode extension rather than say "unspecified". */
	if (e->reason != COBBLE_CRL_REASON_UNSPECIFIED) {
		if (!(reason = ASN1_ENUMERATED_new()) || !ASN1_ENUMERATED_set(reason, e->reason) ||
		    X509_REVOKED_add1_ext_i2d(rv, NID_crl_reason, reason, 0, 0) != 1)
			goto out;
	}
	if (!X509_CRL_add0_revoked(crl, rv))
		goto out;
	rv = NULL;
	rc = 0;
out:
	X509_REVOKED_free(rv);
	BN_free(bn);
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(t);
	ASN1_ENUMERATED_free(reason);
	return rc;
}

/* CA/B BR §7.2.2: a partitioned CRL carries an issuingDistributionPoint naming the URL the
 * certificates' CRLDP names, and onlyContainsUserCerts. Critical (RFC 5280 §5.2.5). */
static int add_idp(X509_CRL *crl, const char *url)
{
	ISSUING_DIST_POINT *idp = ISSUING_DIST_POINT_new();
	DIST_POINT_NAME *dpn = DIST_POINT_NAME_new();
	GENERAL_NAMES *full = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *uri = ASN1_IA5STRING_new();
	int rc = -1;
	if (!idp || !dpn || !full || !gn || !uri || !ASN1_STRING_set(uri, url, (int)strlen(url)))
		goto out;
	GENERAL_NAME_set0_value(gn, GEN_URI, uri);
	uri = NULL;
	if (!sk_GENERAL_NAME_push(full, gn))
		goto out;
	gn = NULL;
	dpn->type = 0;
	dpn->name.fullname = full;
	full = NULL;
	idp->distpoint = dpn;
	dpn = NULL;
	idp->onlyuser = 0xff;
	if (X509_CRL_add1_ext_i2d(crl, NID_issuing_distribution_point, idp, 1, X509V3_ADD_DEFAULT) != 1)
		goto out;
	rc = 0;
out:
	ASN1_IA5STRING_free(uri);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(full);
	DIST_POINT_NAME_free(dpn);
	ISSUING_DIST_POINT_free(idp);
	return rc;
}

int crl_build(struct ca *ca, struct store *s, int shard, int64_t now, int64_t lifetime, unsigned char **der,
              size_t *der_len)
{
	X509_CRL *crl = NULL;
	struct store_revoked *list = NULL;
	size_t n = 0;
	ASN1_TIME *t1 = NULL, *t2 = NULL;
	ASN1_INTEGER *num = NULL;
	X509V3_CTX v3;
	X509_EXTENSION *aki = NULL;
	uint64_t number = 0;
	int rc = -1, nshards = ca_crl_shards(ca);
	X509 *inter = ca_intermediate_cert(ca);
	char url[700];
	*der = NULL;
	*der_len = 0;
	if (shard < 0 || shard >= nshards || !inter)
		goto out;
	if (store_cert_list_revoked(s, now, &list, &n) != STORE_OK) {
		log_error("crl: cannot list revoked certificates");
		goto out;
	}
	if (next_number(s, &number) != 0) {
		log_error("crl: cannot advance the CRL number");
		goto out;
	}
	if (!(crl = X509_CRL_new()) || !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(inter)) || !(t1 = ASN1_TIME_set(NULL, (time_t)now)) ||
	    !(t2 = ASN1_TIME_set(NULL, (time_t)(now + lifetime))) || !X509_CRL_set1_lastUpdate(crl, t1) ||
	    !X509_CRL_set1_nextUpdate(crl, t2))
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (ca_crl_shard_of(list[i].serial, nshards) == shard && add_entry(crl, &list[i]) != 0)
			goto fail;
	X509_CRL_sort(crl);
	X509V3_set_ctx(&v3, inter, NULL, NULL, crl, 0);
	if (!(aki = X509V3_EXT_conf_nid(NULL, &v3, NID_authority_key_identifier, "keyid:always")) ||
	    !X509_CRL_add_ext(crl, aki, -1))
		goto fail;
	if (!(num = ASN1_INTEGER_new()) || !ASN1_INTEGER_set_uint64(num, number) ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, X509V3_ADD_DEFAULT) != 1)
		goto fail;
	if (ca_crl_url(ca, shard, url, sizeof url) == 0 && add_idp(crl, url) != 0)
		goto fail;
	if (signer_sign_crl(ca_intermediate_signer(ca), crl) != 0)
		goto fail;
	int len = i2d_X509_CRL(crl, der);
	if (len <= 0) {
		*der = NULL;
		goto fail;
	}
	*der_len = (size_t)len;
	log_info("crl: shard %d number %llu", shard, (unsigned long long)number);
	rc = 0;
	goto out;
fail:
	log_error("crl: cannot build the CRL of shard %d", shard);
out:
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t1);
	ASN1_TIME_free(t2);
	X509_CRL_free(crl);
	free(list);
	return rc;
}

struct crl_shard {
	unsigned char *der;
	size_t len;
	int64_t built_at;
	unsigned gen; /* dirty generation it was built at */
};

struct crl_cache {
	int nshards;
	int64_t lifetime, max_age;
	unsigned gen;
	struct crl_shard *shard;
};

struct crl_cache *crl_cache_new(int nshards, int64_t lifetime, int64_t max_age)
{
	struct crl_cache *c = calloc(1, sizeof *c);
	if (!c || nshards <= 0 || !(c->shard = calloc((size_t)nshards, sizeof *c->shard))) {
		free(c);
		return NULL;
	}
	c->nshards = nshards;
	c->lifetime = lifetime;
	c->max_age = max_age > 0 && max_age < lifetime * 2 / 3 ? max_age : lifetime * 2 / 3;
	c->gen = 1;
	return c;
}

void crl_cache_free(struct crl_cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->nshards; i++)
		OPENSSL_free(c->shard[i].der);
	free(c->shard);
	free(c);
}

void crl_mark_dirty(struct crl_cache *c)
{
	if (c)
		c->gen++;
}

const unsigned char *crl_get(struct crl_cache *c, struct ca *ca, struct store *s, int shard, int64_t now,
                             size_t *len)
{
	if (!c || shard < 0 || shard >= c->nshards)
		return NULL;
	struct crl_shard *e = &c->shard[shard];
	int fresh = e->der && e->gen == c->gen && now >= e->built_at && now < e->built_at + c->max_age;
	if (!fresh) {
		unsigned char *der = NULL;
		size_t n = 0;
		/* Hook for multi-instance: store_lock_try(s, "crl") around this build once CRLs
		 * are published to shared storage; today each instance builds what it serves and
		 * the CRL number comes from the shared counter. */
		if (crl_build(ca, s, shard, now, c->lifetime, &der, &n) == 0) {
			OPENSSL_free(e->der);
			e->der = der;
			e->len = n;
			e->built_at = now;
			e->gen = c->gen;
		}
	}
	if (!e->der)
		return NULL;
	*len = e->len;
	return e->der;
}

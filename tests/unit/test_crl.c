/* CRL building (issue 5): reason codes, shard assignment, and a signed CRL from a real CA and
 * SQLite store: it verifies against the intermediate, carries IDP/AKI/number, and the number
 * grows across builds and across a reopen of the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "issuance/ca.h"
#include "issuance/crl.h"
#include "issuance/issue.h"
#include "issuance/ocsp.h"
#include <openssl/ocsp.h>
#include "storage/store.h"

static void test_reasons(void **state)
{
	(void)state;
	static const struct {
		int reason, ok;
		const char *name;
	} t[] = {
	    {0, 1, "unspecified"},  {1, 1, "keyCompromise"},          {2, 0, "cACompromise"},
	    {3, 0, "affiliationChanged"}, {4, 1, "superseded"},       {5, 1, "cessationOfOperation"},
	    {6, 0, "certificateHold"}, {7, 0, NULL},                  {8, 0, "removeFromCRL"},
	    {9, 0, "privilegeWithdrawn"}, {10, 0, "aACompromise"},    {11, 0, NULL},
	    {-1, 0, NULL},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		assert_int_equal(crl_reason_subscriber_ok(t[i].reason), t[i].ok);
		const char *n = crl_reason_name(t[i].reason);
		if (t[i].name)
			assert_string_equal(n, t[i].name);
		else
			assert_null(n);
	}
}

static void test_shards(void **state)
{
	(void)state;
	/* Stable, in range, and spread over all shards. */
	int seen[4] = {0};
	for (int i = 0; i < 64; i++) {
		char s[33];
		assert_int_equal(ca_new_serial(s), 0);
		int sh = ca_crl_shard_of(s, 4);
		assert_true(sh >= 0 && sh < 4);
		assert_int_equal(ca_crl_shard_of(s, 4), sh);
		seen[sh]++;
	}
	for (int i = 0; i < 4; i++)
		assert_true(seen[i] > 0);
	assert_int_equal(ca_crl_shard_of("00ff", 1), 0);
	assert_int_equal(ca_crl_shard_of("", 4), 0);
	assert_int_equal(ca_crl_shard_of("0003", 4), 3);
	assert_int_equal(ca_crl_shard_of("abcd0005", 4), 1);
}

static long crl_number(const unsigned char *der, size_t len, X509 *inter, int shard)
{
	const unsigned char *p = der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	assert_non_null(crl);
	assert_ptr_equal(p, der + len);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(inter)), 1);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(inter)), 0);
	assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	assert_true(ASN1_TIME_compare(X509_CRL_get0_lastUpdate(crl), X509_CRL_get0_nextUpdate(crl)) < 0);
	ISSUING_DIST_POINT *idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, NULL, NULL);
	assert_non_null(idp);
	assert_true(idp->onlyuser);
	GENERAL_NAME *gn = sk_GENERAL_NAME_value(idp->distpoint->name.fullname, 0);
	char want[128];
	snprintf(want, sizeof want, "https://127.0.0.1:14000/crl/%d.crl", shard);
	assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier), want);
	ISSUING_DIST_POINT_free(idp);
	ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	assert_non_null(n);
	long v = ASN1_INTEGER_get(n);
	ASN1_INTEGER_free(n);
	assert_true(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) <= 0); /* none revoked: no list */
	X509_CRL_free(crl);
	return v;
}

static void test_build(void **state)
{
	(void)state;
	char dir[] = "/tmp/cobble-test-crl.XXXXXX", data[300], spec[300], err[256] = "";
	assert_non_null(mkdtemp(dir));
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(spec, sizeof spec, "sqlite:%s/db.sqlite", dir);
	struct ca_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.data_dir = data;
	cfg.base_url = "https://127.0.0.1:14000";
	cfg.crl_shards = 3;
	struct ca *ca = NULL;
	assert_int_equal(ca_open(&cfg, &ca, err, sizeof err), 0);
	assert_int_equal(ca_crl_shards(ca), 3);
	struct store *s = NULL;
	assert_int_equal(store_open(spec, &s, err, sizeof err), STORE_OK);
	unsigned char *der = NULL;
	size_t len = 0;
	long last = 0;
	for (int shard = 0; shard < 3; shard++) {
		assert_int_equal(crl_build(ca, s, shard, 1800000000, 7 * 86400, &der, &len), 0);
		long n = crl_number(der, len, ca_intermediate_cert(ca), shard);
		assert_true(n > last);
		last = n;
		OPENSSL_free(der);
	}
	assert_int_equal(crl_build(ca, s, 3, 1800000000, 86400, &der, &len), -1);
	assert_int_equal(crl_build(ca, s, -1, 1800000000, 86400, &der, &len), -1);
	/* The number survives a restart. */
	store_close(s);
	assert_int_equal(store_open(spec, &s, err, sizeof err), STORE_OK);
	assert_int_equal(crl_build(ca, s, 1, 1800000000, 86400, &der, &len), 0);
	assert_true(crl_number(der, len, ca_intermediate_cert(ca), 1) > last);
	OPENSSL_free(der);
	/* The cache serves the same CRL until a revocation marks it dirty. */
	struct crl_cache *c = crl_cache_new(3, 86400, 60);
	size_t l1 = 0, l2 = 0;
	const unsigned char *d1 = crl_get(c, ca, s, 0, 1800000000, &l1);
	assert_non_null(d1);
	unsigned char *copy = malloc(l1);
	memcpy(copy, d1, l1);
	const unsigned char *d2 = crl_get(c, ca, s, 0, 1800000010, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(copy, d2, l1);
	crl_mark_dirty(c);
	d2 = crl_get(c, ca, s, 0, 1800000020, &l2);
	assert_true(crl_number(d2, l2, ca_intermediate_cert(ca), 0) > crl_number(copy, l1, ca_intermediate_cert(ca), 0));
	assert_null(crl_get(c, ca, s, 3, 1800000020, &l2));
	/* Rebuilt after max_age even without a local revocation (other instances). */
	long before = crl_number(d2, l2, ca_intermediate_cert(ca), 0);
	d2 = crl_get(c, ca, s, 0, 1800000020 + 61, &l2);
	assert_true(crl_number(d2, l2, ca_intermediate_cert(ca), 0) > before);
	free(copy);
	crl_cache_free(c);
	store_close(s);
	ca_free(ca);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static int resp_status(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	assert_non_null(r);
	int st = OCSP_response_status(r);
	OCSP_RESPONSE_free(r);
	return st;
}

/* The responder on every truncation and many bit flips of a real request: always a DER
 * OCSPResponse, malformedRequest or successful (unknown), never a crash (ASan build). */
static void test_ocsp_input(void **state)
{
	(void)state;
	char dir[] = "/tmp/cobble-test-ocsp.XXXXXX", data[300], spec[300], err[256] = "";
	assert_non_null(mkdtemp(dir));
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(spec, sizeof spec, "sqlite:%s/db.sqlite", dir);
	struct ca_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.data_dir = data;
	cfg.base_url = "https://127.0.0.1:14000";
	struct ca *ca = NULL;
	struct store *s = NULL;
	assert_int_equal(ca_open(&cfg, &ca, err, sizeof err), 0);
	assert_int_equal(store_open(spec, &s, err, sizeof err), STORE_OK);
	X509 *inter = ca_intermediate_cert(ca);
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	ASN1_INTEGER_set(serial, 0x1234567);
	OCSP_CERTID *cid = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(inter), X509_get0_pubkey_bitstr(inter),
	                                    serial);
	OCSP_REQUEST *rq = OCSP_REQUEST_new();
	assert_non_null(OCSP_request_add0_id(rq, cid));
	OCSP_request_add1_nonce(rq, NULL, 16);
	unsigned char *req = NULL;
	int rl = i2d_OCSP_REQUEST(rq, &req);
	assert_true(rl > 0);
	unsigned char *out = NULL;
	size_t ol = 0;
	/* The real request: successful, the serial unknown, signed by the intermediate. */
	assert_int_equal(ocsp_respond(ca, s, req, (size_t)rl, 1800000000, &out, &ol), 0);
	assert_int_equal(resp_status(out, ol), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	{
		const unsigned char *p = out;
		OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)ol);
		OCSP_BASICRESP *bs = OCSP_response_get1_basic(r);
		assert_non_null(bs);
		assert_int_equal(OCSP_check_nonce(rq, bs), 1);
		STACK_OF(X509) *certs = sk_X509_new_null();
		sk_X509_push(certs, inter);
		assert_int_equal(OCSP_basic_verify(bs, certs, NULL, OCSP_NOVERIFY), 1);
		sk_X509_free(certs);
		int st = -1, reason = -1;
		ASN1_GENERALIZEDTIME *rev = NULL, *tu = NULL, *nu = NULL;
		OCSP_CERTID *want = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(inter),
		                                     X509_get0_pubkey_bitstr(inter), serial);
		assert_int_equal(OCSP_resp_find_status(bs, want, &st, &reason, &rev, &tu, &nu), 1);
		assert_int_equal(st, V_OCSP_CERTSTATUS_UNKNOWN);
		OCSP_CERTID_free(want);
		OCSP_BASICRESP_free(bs);
		OCSP_RESPONSE_free(r);
	}
	OPENSSL_free(out);
	for (int cut = 0; cut < rl; cut++) {
		assert_int_equal(ocsp_respond(ca, s, req, (size_t)cut, 1800000000, &out, &ol), 0);
		assert_int_equal(resp_status(out, ol), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
		OPENSSL_free(out);
	}
	unsigned char *m = malloc((size_t)rl);
	for (int i = 0; i < rl * 8; i++) {
		memcpy(m, req, (size_t)rl);
		m[i / 8] ^= (unsigned char)(1u << (i % 8));
		assert_int_equal(ocsp_respond(ca, s, m, (size_t)rl, 1800000000, &out, &ol), 0);
		int st = resp_status(out, ol);
		assert_true(st == OCSP_RESPONSE_STATUS_MALFORMEDREQUEST || st == OCSP_RESPONSE_STATUS_SUCCESSFUL);
		OPENSSL_free(out);
	}
	free(m);
	unsigned char big[OCSP_REQUEST_MAX + 1];
	memset(big, 0x30, sizeof big);
	assert_int_equal(ocsp_respond(ca, s, big, sizeof big, 1800000000, &out, &ol), 0);
	assert_int_equal(resp_status(out, ol), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	OPENSSL_free(out);
	OPENSSL_free(req);
	OCSP_REQUEST_free(rq);
	ASN1_INTEGER_free(serial);
	store_close(s);
	ca_free(ca);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reasons),
	    cmocka_unit_test(test_shards),
	    cmocka_unit_test(test_build),
	    cmocka_unit_test(test_ocsp_input),
	};
	return cmocka_run_group_tests_name("crl", tests, NULL, NULL);
}

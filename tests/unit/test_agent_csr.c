/* The agent's X.509 pieces: the finalize CSR, chain splitting, the ARI CertID (RFC 9773
 * §4.1, including serials whose DER needs a leading zero) and the RFC 8737 tls-alpn-01
 * certificate. The modules are compiled in directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "../../src/agent/acme/csr.c"
#include "../../src/agent/solvers/tlsalpn01.c"
#include "../../src/agent/solvers/listener.c"

static EVP_PKEY *key;

static int setup(void **state)
{
	(void)state;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return key ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key);
	return 0;
}

/* A self-signed certificate with the given serial (big-endian bytes) and AKI. */
static char *make_pem(const unsigned char *serial, size_t slen, const unsigned char *aki, size_t alen, const char *cn)
{
	X509 *x = X509_new();
	BIGNUM *bn = BN_bin2bn(serial, (int)slen, NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 90 * 86400);
	X509_set_pubkey(x, key);
	if (aki) {
		AUTHORITY_KEYID *ak = AUTHORITY_KEYID_new();
		ak->keyid = ASN1_OCTET_STRING_new();
		ASN1_OCTET_STRING_set(ak->keyid, aki, (int)alen);
		X509_add1_ext_i2d(x, NID_authority_key_identifier, ak, 0, 0);
		AUTHORITY_KEYID_free(ak);
	}
	X509_sign(x, key, EVP_sha256());
	char *pem = x509_to_pem(x);
	X509_free(x);
	return pem;
}

static void test_csr(void **state)
{
	(void)state;
	const char *names[] = {"a.example", "*.b.example"};
	char *b64 = csr_build_b64(key, names, 2);
	assert_non_null(b64);
	uint8_t *der;
	size_t len;
	assert_int_equal(b64url_decode(b64, strlen(b64), &der, &len), 0);
	const unsigned char *p = der;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
	assert_non_null(req);
	assert_int_equal(X509_REQ_verify(req, key), 1);
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	GENERAL_NAMES *gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 2);
	for (int i = 0; i < 2; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		assert_int_equal(g->type, GEN_DNS);
		assert_string_equal((const char *)ASN1_STRING_get0_data(g->d.dNSName), names[i]);
	}
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	free(der);
	free(b64);
}

static void test_split(void **state)
{
	(void)state;
	const unsigned char s1[] = {1}, s2[] = {2}, s3[] = {3};
	char *a = make_pem(s1, 1, NULL, 0, "leaf"), *b = make_pem(s2, 1, NULL, 0, "mid"), *c = make_pem(s3, 1, NULL, 0, "top");
	char *all = NULL, *leaf, *chain;
	assert_true(asprintf(&all, "%s%s%s", a, b, c) > 0);
	assert_int_equal(pem_split_chain(all, &leaf, &chain), 0);
	assert_string_equal(leaf, a);
	char *bc = NULL;
	assert_true(asprintf(&bc, "%s%s", b, c) > 0);
	assert_string_equal(chain, bc);
	char *cn = chain_top_issuer_cn(all);
	assert_string_equal(cn, "top");
	free(cn);
	free(leaf);
	free(chain);
	/* a single certificate: empty chain */
	assert_int_equal(pem_split_chain(a, &leaf, &chain), 0);
	assert_string_equal(chain, "");
	free(leaf);
	free(chain);
	assert_int_equal(pem_split_chain("<html>oops</html>", &leaf, &chain), -1);
	assert_int_equal(pem_split_chain("", &leaf, &chain), -1);
	free(bc);
	free(all);
	free(a);
	free(b);
	free(c);
}

static void test_ari_id(void **state)
{
	(void)state;
	/* RFC 9773 §4.1 example: AKI 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4,
	 * serial 00:87:65:43:21 -> "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE" */
	const unsigned char aki[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
	                             0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
	const unsigned char serial[] = {0x87, 0x65, 0x43, 0x21};
	char *pem = make_pem(serial, sizeof serial, aki, sizeof aki, "ari");
	char *id = cert_ari_id(pem);
	assert_non_null(id);
	assert_string_equal(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
	free(id);
	free(pem);
	/* no AKI: no CertID */
	pem = make_pem(serial, sizeof serial, NULL, 0, "noaki");
	assert_null(cert_ari_id(pem));
	time_t nb, na;
	assert_int_equal(cert_validity(pem, &nb, &na), 0);
	assert_true(na - nb >= 90 * 86400 - 5 && na - nb <= 90 * 86400 + 5);
	free(pem);
}

static void test_tlsalpn_cert(void **state)
{
	(void)state;
	const char *keyauth = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.thumbprint";
	X509 *x = make_cert(key, "alpn.example", keyauth);
	assert_non_null(x);
	ASN1_OBJECT *oid = OBJ_txt2obj(OID_ACME_IDENTIFIER, 1);
	int idx = X509_get_ext_by_OBJ(x, oid, -1);
	assert_true(idx >= 0);
	X509_EXTENSION *ext = X509_get_ext(x, idx);
	assert_int_equal(X509_EXTENSION_get_critical(ext), 1); /* RFC 8737 §3: MUST be critical */
	const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
	unsigned char want[34] = {0x04, 0x20};
	SHA256((const unsigned char *)keyauth, strlen(keyauth), want + 2);
	assert_int_equal(ASN1_STRING_length(v), 34);
	assert_memory_equal(ASN1_STRING_get0_data(v), want, 34);
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
	assert_string_equal((const char *)ASN1_STRING_get0_data(sk_GENERAL_NAME_value(gens, 0)->d.dNSName),
	                    "alpn.example");
	GENERAL_NAMES_free(gens);
	ASN1_OBJECT_free(oid);
	X509_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csr),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_ari_id),
		cmocka_unit_test(test_tlsalpn_cert),
	};
	return cmocka_run_group_tests_name("agent_csr", tests, setup, teardown);
}

/* X.509 plumbing over OpenSSL for the agent. Everything here parses our own files or the
 * server's chain; inputs are capped by the caller (HTTP_MAX_BODY, file_read_all limits). */
#include "agent/acme/csr.h"
#include "b64url.h"
#include "str.h"
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

char *csr_build_b64(EVP_PKEY *key, const char *const *names, size_t n)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *subj = X509_NAME_new();
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	unsigned char *der = NULL;
	char *out = NULL;
	if (!req || !subj || !gens || !exts || n == 0)
		goto done;
	if (strlen(names[0]) <= 64 &&
	    !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)names[0], -1, -1, 0))
		goto done;
	for (size_t i = 0; i < n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		if (!g || !s || !ASN1_STRING_set(s, names[i], (int)strlen(names[i]))) {
			GENERAL_NAME_free(g);
			ASN1_IA5STRING_free(s);
			goto done;
		}
		GENERAL_NAME_set0_value(g, GEN_DNS, s);
		sk_GENERAL_NAME_push(gens, g);
	}
	X509_EXTENSION *ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
	if (!ext)
		goto done;
	sk_X509_EXTENSION_push(exts, ext);
	if (!X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, subj) || !X509_REQ_set_pubkey(req, key) ||
	    !X509_REQ_add_extensions(req, exts) || !X509_REQ_sign(req, key, EVP_sha256()))
		goto done;
	int len = i2d_X509_REQ(req, &der);
	if (len <= 0)
		goto done;
	out = b64url_encode(der, (size_t)len);
done:
	OPENSSL_free(der);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(gens);
	X509_NAME_free(subj);
	X509_REQ_free(req);
	return out;
}

static char *x509_to_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL, *p;
	if (b && PEM_write_bio_X509(b, x)) {
		long n = BIO_get_mem_data(b, &p);
		out = str_copy(p, (size_t)n);
	}
	BIO_free(b);
	return out;
}

/* Reads every certificate of pem into a stack. NULL when none or on garbage. */
static STACK_OF(X509) *read_chain(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *x;
	if (!b || !sk)
		goto fail;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	if (sk_X509_num(sk) == 0)
		goto fail;
	BIO_free(b);
	return sk;
fail:
	BIO_free(b);
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

int pem_split_chain(const char *pem, char **leaf, char **chain)
{
	STACK_OF(X509) *sk = read_chain(pem);
	if (!sk)
		return -1;
	*leaf = x509_to_pem(sk_X509_value(sk, 0));
	size_t cap = 1, len = 0;
	char *c = calloc(1, 1);
	for (int i = 1; c && i < sk_X509_num(sk); i++) {
		char *p = x509_to_pem(sk_X509_value(sk, i));
		if (!p) {
			free(c);
			c = NULL;
			break;
		}
		size_t pl = strlen(p);
		char *nc = realloc(c, cap + pl);
		if (!nc) {
			free(p);
			free(c);
			c = NULL;
			break;
		}
		c = nc;
		memcpy(c + len, p, pl + 1);
		len += pl;
		cap += pl;
		free(p);
	}
	*chain = c;
	sk_X509_pop_free(sk, X509_free);
	if (!*leaf || !*chain) {
		free(*leaf);
		free(*chain);
		return -1;
	}
	return 0;
}

static X509 *first_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return x;
}

static time_t asn1_time_t(const ASN1_TIME *t)
{
	struct tm tm;
	if (!ASN1_TIME_to_tm(t, &tm))
		return -1;
	return timegm(&tm);
}

int cert_validity(const char *pem, time_t *nb, time_t *na)
{
	X509 *x = first_cert(pem);
	if (!x)
		return -1;
	*nb = asn1_time_t(X509_get0_notBefore(x));
	*na = asn1_time_t(X509_get0_notAfter(x));
	X509_free(x);
	return (*nb == -1 || *na == -1) ? -1 : 0;
}

char *cert_ari_id(const char *pem)
{
	X509 *x = first_cert(pem);
	char *out = NULL, *a = NULL, *s = NULL;
	unsigned char *der = NULL;
	if (!x)
		return NULL;
	const ASN1_OCTET_STRING *kid = X509_get0_authority_key_id(x);
	const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
	if (!kid || !serial)
		goto done;
	a = b64url_encode(ASN1_STRING_get0_data(kid), (size_t)ASN1_STRING_length(kid));
	/* RFC 9773 §4.1: the DER encoding of the serial's INTEGER value, without tag and length */
	int len = i2d_ASN1_INTEGER((ASN1_INTEGER *)serial, &der);
	if (len < 3)
		goto done;
	size_t hdr = (der[1] & 0x80) ? 2 + (der[1] & 0x7f) : 2;
	if ((size_t)len <= hdr)
		goto done;
	s = b64url_encode(der + hdr, (size_t)len - hdr);
	if (a && s && asprintf(&out, "%s.%s", a, s) < 0)
		out = NULL;
done:
	free(a);
	free(s);
	OPENSSL_free(der);
	X509_free(x);
	return out;
}

char *chain_top_issuer_cn(const char *pem)
{
	STACK_OF(X509) *sk = read_chain(pem);
	char buf[256], *out = NULL;
	if (!sk)
		return NULL;
	X509 *top = sk_X509_value(sk, sk_X509_num(sk) - 1);
	if (X509_NAME_get_text_by_NID(X509_get_issuer_name(top), NID_commonName, buf, sizeof buf) > 0)
		out = strdup(buf);
	sk_X509_pop_free(sk, X509_free);
	return out;
}

char *cert_der_b64(const char *pem)
{
	X509 *x = first_cert(pem);
	unsigned char *der = NULL;
	char *out = NULL;
	if (!x)
		return NULL;
	int len = i2d_X509(x, &der);
	if (len > 0)
		out = b64url_encode(der, (size_t)len);
	OPENSSL_free(der);
	X509_free(x);
	return out;
}

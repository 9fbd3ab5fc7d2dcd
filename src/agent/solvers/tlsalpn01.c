/* tls-alpn-01 (RFC 8737): a listener that answers ALPN "acme-tls/1" with a self-signed
 * certificate per name, SAN = the name, critical id-pe-acmeIdentifier = SHA-256(keyauth). */
#include "agent/solvers/listener.h"
#include "agent/solvers/solver.h"
#include "keys.h"
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 8737 §3 / §6.1 */
#define ACME_TLS_ALPN "acme-tls/1"
#define OID_ACME_IDENTIFIER "1.3.6.1.5.5.7.1.31"

struct acert {
	char *name;
	char *token;
	X509 *cert;
	int seen; /* a handshake for this name completed (the CA's validation, presumably) */
	struct acert *next;
};

struct tlsalpn {
	int port;
	EVP_PKEY *key;
	SSL_CTX *ctx;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* signalled when a certificate is seen */
	struct acert *certs;
	struct listener *l;
};

static X509 *make_cert(EVP_PKEY *key, const char *name, const char *keyauth)
{
	unsigned char md[SHA256_DIGEST_LENGTH], val[2 + SHA256_DIGEST_LENGTH];
	X509 *x = X509_new();
	X509_EXTENSION *san = NULL, *acme = NULL;
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	ASN1_OBJECT *oid = OBJ_txt2obj(OID_ACME_IDENTIFIER, 1);
	char *sanv = NULL;
	if (!x || !os || !oid || !SHA256((const unsigned char *)keyauth, strlen(keyauth), md))
		goto fail;
	/* extnValue is the DER of an OCTET STRING holding the 32-byte digest (RFC 8737 §3) */
	val[0] = 0x04;
	val[1] = SHA256_DIGEST_LENGTH;
	memcpy(val + 2, md, SHA256_DIGEST_LENGTH);
	if (!ASN1_OCTET_STRING_set(os, val, sizeof val))
		goto fail;
	acme = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, os);
	if (asprintf(&sanv, "DNS:%s", name) < 0) {
		sanv = NULL;
		goto fail;
	}
	san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sanv);
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	if (!acme || !san || RAND_bytes(serial, sizeof serial) != 1 || !(bn = BN_bin2bn(serial, sizeof serial, NULL)))
		goto fail;
	BN_set_bit(bn, 0);
	BN_clear_bit(bn, 127);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"cobble tls-alpn-01", -1, -1, 0);
	if (!X509_set_version(x, 2) || !X509_set_issuer_name(x, n) || !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 7 * 86400) || !X509_set_pubkey(x, key) || !X509_add_ext(x, san, -1) ||
	    !X509_add_ext(x, acme, -1) || !X509_sign(x, key, EVP_sha256()))
		goto fail;
	X509_EXTENSION_free(san);
	X509_EXTENSION_free(acme);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(oid);
	free(sanv);
	return x;
fail:
	X509_EXTENSION_free(san);
	X509_EXTENSION_free(acme);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(oid);
	free(sanv);
	X509_free(x);
	return NULL;
}

static int on_sni(SSL *ssl, int *alert, void *arg)
{
	struct tlsalpn *t = arg;
	const char *sn = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	int found = 0;
	if (!sn)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	pthread_mutex_lock(&t->mu);
	for (struct acert *c = t->certs; c; c = c->next) {
		if (strcasecmp(c->name, sn) == 0) {
			found = SSL_use_certificate(ssl, c->cert) == 1 && SSL_use_PrivateKey(ssl, t->key) == 1;
			break;
		}
	}
	pthread_mutex_unlock(&t->mu);
	if (!found) {
		*alert = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned int inlen, void *arg)
{
	static const unsigned char proto[] = "\x0a" ACME_TLS_ALPN;
	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, proto, sizeof proto - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL; /* RFC 8737 §3: only acme-tls/1 */
	return SSL_TLSEXT_ERR_OK;
}

static void serve(int fd, void *arg)
{
	struct tlsalpn *t = arg;
	SSL *ssl = SSL_new(t->ctx);
	if (!ssl)
		return;
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) == 1) {
		const char *sn = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
		pthread_mutex_lock(&t->mu);
		for (struct acert *c = t->certs; c && sn; c = c->next)
			if (strcasecmp(c->name, sn) == 0)
				c->seen = 1;
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
		SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	ERR_clear_error();
}

static int ta_init(void **state, const struct solver_cfg *cfg, char *err, size_t errlen)
{
	struct tlsalpn *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	t->port = cfg->port ? cfg->port : 443;
	if (listener_seen_cond_init(&t->cv) != 0) {
		snprintf(err, errlen, "cannot set up the listener's condition variable");
		free(t);
		return -1;
	}
	pthread_mutex_init(&t->mu, NULL);
	t->key = key_generate("ec256");
	t->ctx = SSL_CTX_new(TLS_server_method());
	if (!t->key || !t->ctx) {
		snprintf(err, errlen, "cannot set up TLS for tls-alpn-01");
		EVP_PKEY_free(t->key);
		SSL_CTX_free(t->ctx);
		pthread_mutex_destroy(&t->mu);
		pthread_cond_destroy(&t->cv);
		free(t);
		return -1;
	}
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	SSL_CTX_set_tlsext_servername_callback(t->ctx, on_sni);
	SSL_CTX_set_tlsext_servername_arg(t->ctx, t);
	SSL_CTX_set_alpn_select_cb(t->ctx, on_alpn, t);
	*state = t;
	return 0;
}

static int ta_present(void *state, const char *identifier, const char *token, const char *keyauth, char *err,
                      size_t errlen)
{
	struct tlsalpn *t = state;
	if (strncmp(identifier, "*.", 2) == 0) {
		snprintf(err, errlen, "%s: tls-alpn-01 cannot validate wildcard names (RFC 8737 §3); use dns-01",
		         identifier);
		return -1;
	}
	struct acert *c = calloc(1, sizeof *c);
	if (!c || !(c->name = strdup(identifier)) || !(c->token = strdup(token)) ||
	    !(c->cert = make_cert(t->key, identifier, keyauth))) {
		if (c) {
			free(c->name);
			free(c->token);
		}
		free(c);
		snprintf(err, errlen, "cannot build the tls-alpn-01 certificate for %s", identifier);
		return -1;
	}
	pthread_mutex_lock(&t->mu);
	c->next = t->certs;
	t->certs = c;
	pthread_mutex_unlock(&t->mu);
	if (!t->l) {
		t->l = listener_start(t->port, serve, t, err, errlen);
		if (!t->l)
			return -1;
	}
	return 0;
}

static void free_cert(struct acert *c)
{
	X509_free(c->cert);
	free(c->name);
	free(c->token);
	free(c);
}

static void ta_cleanup(void *state, const char *identifier, const char *token, const char *keyauth)
{
	struct tlsalpn *t = state;
	(void)identifier;
	(void)keyauth;
	pthread_mutex_lock(&t->mu);
	for (struct acert **pp = &t->certs; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->token, token) == 0) {
			struct acert *c = *pp;
			*pp = c->next;
			free_cert(c);
			break;
		}
	}
	pthread_mutex_unlock(&t->mu);
}

static void ta_fini(void *state)
{
	struct tlsalpn *t = state;
	if (!t)
		return;
	listener_stop(t->l);
	while (t->certs) {
		struct acert *c = t->certs;
		t->certs = c->next;
		free_cert(c);
	}
	SSL_CTX_free(t->ctx);
	EVP_PKEY_free(t->key);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	free(t);
}

static const int *ta_find_seen(void *state, const char *token)
{
	struct tlsalpn *t = state;
	for (struct acert *c = t->certs; c; c = c->next)
		if (strcmp(c->token, token) == 0)
			return &c->seen;
	return NULL;
}

static int ta_wait_seen(void *state, const char *token, int timeout_ms)
{
	struct tlsalpn *t = state;
	return listener_seen_wait(&t->mu, &t->cv, ta_find_seen, t, token, timeout_ms);
}

const struct solver_impl solver_tlsalpn01_standalone = {ta_init, ta_present, ta_cleanup, ta_fini, ta_wait_seen};

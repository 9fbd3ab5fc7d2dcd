/* tlsalpn01: validation against a real OpenSSL TLS server on 127.0.0.1 (ephemeral port) that
 * picks its certificate by SNI (right, wrong digest, non-critical or missing acmeIdentifier,
 * two SANs, wrong SAN, IP SAN) and can decline ALPN, plus a silent listener and a closed port.
 * Names resolve through the real resolver (libunbound) forwarding to a tiny UDP DNS server on
 * 127.0.0.1 that answers A 127.0.0.1 for every name under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "validation/resolver.h"
#include "validation/tlsalpn01.h"

#define KEYAUTH "tok3n.Zm9vYmFyYmF6cXV4dGh1bWJwcmludGJhc2U2NHVybA"
#define ACME_OID "1.3.6.1.5.5.7.1.31"

/* ---- certificates ---- */
enum ext_mode { EXT_GOOD, EXT_NONCRIT, EXT_NONE, EXT_WRONG_DIGEST, EXT_SHORT, EXT_TWICE };

static EVP_PKEY *key;

static X509 *make_cert(const char *sans, enum ext_mode mode)
{
	X509 *x = X509_new();
	assert_non_null(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 7 * 86400);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"acme tls alpn test", -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, key);
	if (sans) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sans);
		assert_non_null(e);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	if (mode != EXT_NONE) {
		unsigned char der[2 + 32], d[32];
		unsigned int dl;
		const char *ka = mode == EXT_WRONG_DIGEST ? KEYAUTH "x" : KEYAUTH;
		EVP_Digest(ka, strlen(ka), d, &dl, EVP_sha256(), NULL);
		size_t dlen = mode == EXT_SHORT ? 20 : 32;
		der[0] = 0x04, der[1] = (unsigned char)dlen;
		memcpy(der + 2, d, dlen);
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		ASN1_OCTET_STRING_set(os, der, (int)(2 + dlen));
		ASN1_OBJECT *obj = OBJ_txt2obj(ACME_OID, 1);
		for (int i = 0; i < (mode == EXT_TWICE ? 2 : 1); i++) {
			X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, obj, mode != EXT_NONCRIT, os);
			assert_non_null(e);
			X509_add_ext(x, e, -1);
			X509_EXTENSION_free(e);
		}
		ASN1_OBJECT_free(obj);
		ASN1_OCTET_STRING_free(os);
	}
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

/* The server's certificate for each SNI. */
struct sni_cert {
	const char *sni;
	const char *sans;
	enum ext_mode mode;
	int alpn; /* 0 select acme-tls/1, 1 do not negotiate, 2 fatal no_application_protocol alert */
	X509 *cert;
};

static struct sni_cert certs[] = {
	{"good.test", "DNS:good.test", EXT_GOOD, 0, NULL},
	{"upper.test", "DNS:UpPer.TEST", EXT_GOOD, 0, NULL},
	{"digest.test", "DNS:digest.test", EXT_WRONG_DIGEST, 0, NULL},
	{"noncrit.test", "DNS:noncrit.test", EXT_NONCRIT, 0, NULL},
	{"noext.test", "DNS:noext.test", EXT_NONE, 0, NULL},
	{"short.test", "DNS:short.test", EXT_SHORT, 0, NULL},
	{"twice.test", "DNS:twice.test", EXT_TWICE, 0, NULL},
	{"twosans.test", "DNS:twosans.test,DNS:other.test", EXT_GOOD, 0, NULL},
	{"wrongsan.test", "DNS:other.test", EXT_GOOD, 0, NULL},
	{"nosan.test", NULL, EXT_GOOD, 0, NULL},
	{"ipsan.test", "IP:127.0.0.1", EXT_GOOD, 0, NULL},
	{"noalpn.test", "DNS:noalpn.test", EXT_GOOD, 1, NULL},
	{"alpnalert.test", "DNS:alpnalert.test", EXT_GOOD, 2, NULL},
	{"1.0.0.127.in-addr.arpa", "IP:127.0.0.1", EXT_GOOD, 0, NULL},
	{"fallback.test", "DNS:fallback.test", EXT_GOOD, 0, NULL},
	{"reverse-as-dns", "DNS:1.0.0.127.in-addr.arpa", EXT_GOOD, 0, NULL}, /* see force_sni */
	/* ::ffff:127.0.0.1, reached over IPv4 loopback through a dual-stack socket */
	{"1.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa", "IP:::ffff:127.0.0.1",
	 EXT_GOOD, 0, NULL},
};
#define NCERTS (sizeof certs / sizeof certs[0])

static struct sni_cert *cert_for(const char *sni)
{
	for (size_t i = 0; sni && i < NCERTS; i++)
		if (strcmp(certs[i].sni, sni) == 0)
			return &certs[i];
	return NULL;
}

/* ---- the TLS server ---- */
static int tls_fd = -1, tls_port, silent_fd = -1, silent_port, junk_fd = -1, junk_port, stop_pipe[2];
static int old_fd = -1, old_port; /* TLS 1.1 at most */
static SSL_CTX *old_ctx;
static pthread_t tls_thread;
static SSL_CTX *srv_ctx;
static pthread_mutex_t srv_mu = PTHREAD_MUTEX_INITIALIZER;
static int srv_conns;
static char srv_sni[128];
static unsigned char srv_alpn_offer[64];
static unsigned srv_alpn_offer_len;
static const char *force_sni; /* when set, the server answers as if the client sent this SNI */

static int on_sni(SSL *ssl, int *alert, void *arg)
{
	(void)alert, (void)arg;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	pthread_mutex_lock(&srv_mu);
	snprintf(srv_sni, sizeof srv_sni, "%s", sni ? sni : "");
	struct sni_cert *c = cert_for(force_sni ? force_sni : sni);
	pthread_mutex_unlock(&srv_mu);
	if (c) {
		SSL_use_certificate(ssl, c->cert);
		SSL_use_PrivateKey(ssl, key);
	}
	return SSL_TLSEXT_ERR_OK;
}

static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned int inlen, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&srv_mu);
	srv_alpn_offer_len = inlen < sizeof srv_alpn_offer ? inlen : 0;
	memcpy(srv_alpn_offer, in, srv_alpn_offer_len);
	pthread_mutex_unlock(&srv_mu);
	struct sni_cert *c = cert_for(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
	if (c && c->alpn == 1)
		return SSL_TLSEXT_ERR_NOACK;
	if (c && c->alpn == 2)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	if (inlen >= 11 && memcmp(in, "\x0a" "acme-tls/1", 11) == 0) {
		*out = in + 1;
		*outlen = 10;
		return SSL_TLSEXT_ERR_OK;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

static void *tls_main(void *arg)
{
	(void)arg;
	struct pollfd pfd[4] = {{.fd = tls_fd, .events = POLLIN}, {.fd = stop_pipe[0], .events = POLLIN},
	                        {.fd = junk_fd, .events = POLLIN}, {.fd = old_fd, .events = POLLIN}};
	for (;;) {
		if (poll(pfd, 4, -1) < 0)
			continue;
		if (pfd[1].revents)
			break;
		if (pfd[2].revents) {
			/* Not TLS at all: an HTTP error, then close. */
			int j = accept(junk_fd, NULL, NULL);
			if (j >= 0) {
				static const char resp[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
				if (send(j, resp, sizeof resp - 1, MSG_NOSIGNAL) < 0)
					perror("send");
				close(j);
			}
			continue;
		}
		if (!pfd[0].revents && !pfd[3].revents)
			continue;
		int old = !pfd[0].revents;
		int c = accept(old ? old_fd : tls_fd, NULL, NULL);
		if (c < 0)
			continue;
		pthread_mutex_lock(&srv_mu);
		srv_conns++;
		srv_sni[0] = '\0';
		srv_alpn_offer_len = 0;
		pthread_mutex_unlock(&srv_mu);
		struct timeval tv = {.tv_sec = 5};
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		SSL *ssl = SSL_new(old ? old_ctx : srv_ctx);
		SSL_set_fd(ssl, c);
		if (SSL_accept(ssl) == 1)
			SSL_shutdown(ssl);
		ERR_clear_error();
		SSL_free(ssl);
		close(c);
	}
	return NULL;
}

static int listen_loopback(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A port where nothing listens (bound, never listened, then closed). */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	bind(fd, (struct sockaddr *)&sa, sizeof sa);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd);
	return ntohs(sa.sin_port);
}

/* ---- the DNS server: A 127.0.0.1 for every *.test name, nothing else ---- */
static int dns_fd = -1, dns_port;
static pthread_t dns_thread;

static void dns_answer(const unsigned char *q, size_t qlen, struct sockaddr_in *from, socklen_t fl)
{
	unsigned char b[512];
	char name[256];
	size_t p = 12, o = 0;
	if (qlen < 12 || qlen > 300)
		return;
	while (p < qlen && q[p]) {
		size_t l = q[p++];
		if (l > 63 || p + l > qlen || o + l + 2 > sizeof name)
			return;
		if (o)
			name[o++] = '.';
		for (size_t i = 0; i < l; i++)
			name[o++] = (char)tolower(q[p + i]);
		p += l;
	}
	name[o] = '\0';
	if (p + 5 > qlen)
		return;
	size_t qend = p + 5;
	int qtype = q[p + 1] << 8 | q[p + 2];
	memcpy(b, q, qend);
	b[2] = 0x84 | (q[2] & 1);
	b[3] = 0x80;
	b[4] = 0, b[5] = 1;
	memset(b + 6, 0, 6);
	size_t n = strlen(name);
	int in_test = n > 5 && strcmp(name + n - 5, ".test") == 0;
	if (in_test && qtype == 1) {
		static const unsigned char rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1};
		memcpy(b + qend, rr, sizeof rr);
		qend += sizeof rr;
		b[7] = 1;
	} else if (strcmp(name, "fallback.test") == 0 && qtype == 28) {
		/* ::ffff:127.0.0.2: an IPv6 address where nothing listens, still on 127.0.0.0/8 */
		static const unsigned char rr[] = {0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0,
		                                   0, 0, 0, 0xff, 0xff, 127, 0, 0, 2};
		memcpy(b + qend, rr, sizeof rr);
		qend += sizeof rr;
		b[7] = 1;
	} else if (!in_test && strcmp(name, "test") != 0) {
		b[3] |= 3; /* NXDOMAIN */
	}
	sendto(dns_fd, b, qend, 0, (struct sockaddr *)from, fl);
}

static void *dns_main(void *arg)
{
	(void)arg;
	struct pollfd pfd[2] = {{.fd = dns_fd, .events = POLLIN}, {.fd = stop_pipe[0], .events = POLLIN}};
	for (;;) {
		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[1].revents)
			break;
		unsigned char q[512];
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(dns_fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
		if (n > 0)
			dns_answer(q, (size_t)n, &from, fl);
	}
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!key)
		return -1;
	for (size_t i = 0; i < NCERTS; i++)
		certs[i].cert = make_cert(certs[i].sans, certs[i].mode);
	srv_ctx = SSL_CTX_new(TLS_server_method());
	if (!srv_ctx || SSL_CTX_use_certificate(srv_ctx, certs[0].cert) != 1 ||
	    SSL_CTX_use_PrivateKey(srv_ctx, key) != 1)
		return -1;
	SSL_CTX_set_tlsext_servername_callback(srv_ctx, on_sni);
	SSL_CTX_set_alpn_select_cb(srv_ctx, on_alpn, NULL);
	old_ctx = SSL_CTX_new(TLS_server_method());
	if (!old_ctx || SSL_CTX_use_certificate(old_ctx, certs[0].cert) != 1 ||
	    SSL_CTX_use_PrivateKey(old_ctx, key) != 1)
		return -1;
	SSL_CTX_set_security_level(old_ctx, 0); /* else OpenSSL 3 will not speak TLS 1.1 at all */
	SSL_CTX_set_min_proto_version(old_ctx, TLS1_VERSION);
	SSL_CTX_set_max_proto_version(old_ctx, TLS1_1_VERSION);
	SSL_CTX_set_alpn_select_cb(old_ctx, on_alpn, NULL);
	if (pipe(stop_pipe) != 0 || (tls_fd = listen_loopback(&tls_port)) < 0 ||
	    (silent_fd = listen_loopback(&silent_port)) < 0 || (junk_fd = listen_loopback(&junk_port)) < 0 ||
	    (old_fd = listen_loopback(&old_port)) < 0)
		return -1;
	dns_fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	if (dns_fd < 0 || bind(dns_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    getsockname(dns_fd, (struct sockaddr *)&sa, &sl) != 0)
		return -1;
	dns_port = ntohs(sa.sin_port);
	if (pthread_create(&tls_thread, NULL, tls_main, NULL) != 0 ||
	    pthread_create(&dns_thread, NULL, dns_main, NULL) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (write(stop_pipe[1], "x", 1) == 1) {
		pthread_join(tls_thread, NULL);
		pthread_join(dns_thread, NULL);
	}
	close(tls_fd);
	close(silent_fd);
	close(junk_fd);
	close(old_fd);
	SSL_CTX_free(old_ctx);
	close(dns_fd);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	for (size_t i = 0; i < NCERTS; i++)
		X509_free(certs[i].cert);
	SSL_CTX_free(srv_ctx);
	EVP_PKEY_free(key);
	return 0;
}

/* ---- helpers ---- */
static struct resolver *res;

static struct resolver *resolver(void)
{
	if (!res) {
		char fwd[64], err[256];
		snprintf(fwd, sizeof fwd, "127.0.0.1:%d", dns_port);
		if (resolver_new(fwd, 3000, &res, err, sizeof err) != 0)
			fail_msg("resolver_new: %s", err);
	}
	return res;
}

static struct va_settings lab(void)
{
	struct va_settings s = {.http01_port = 80, .tlsalpn01_port = tls_port, .lab = 1, .timeout_ms = 3000};
	return s;
}

static int conns(void)
{
	pthread_mutex_lock(&srv_mu);
	int n = srv_conns;
	pthread_mutex_unlock(&srv_mu);
	return n;
}

static const char *rec_str(json_t *rec, const char *key_)
{
	return json_string_value(json_object_get(json_array_get(rec, 0), key_));
}

static int run(const struct va_settings *s, const char *type, const char *value, json_t **rec,
               struct problem **p)
{
	*rec = NULL;
	*p = NULL;
	int rc = tlsalpn01_validate(s, resolver(), type, value, KEYAUTH, rec, p);
	assert_non_null(*rec);
	assert_true(json_is_array(*rec));
	if (rc == 0)
		assert_null(*p);
	else
		assert_non_null(*p);
	return rc;
}

static void expect(struct problem *p, const char *type, const char *part)
{
	assert_non_null(p);
	if (strcmp(problem_short_type(p), type) != 0)
		fail_msg("type %s, want %s (%s)", problem_short_type(p), type, p->detail);
	if (!strstr(p->detail, part))
		fail_msg("detail \"%s\" lacks \"%s\"", p->detail, part);
}

/* ---- tests ---- */
static void test_good(void **state)
{
	(void)state;
	struct va_settings s = lab();
	json_t *rec;
	struct problem *p;
	int before = conns();
	if (run(&s, "dns", "good.test", &rec, &p) != 0)
		fail_msg("refused: %s", p->detail);
	assert_int_equal(conns(), before + 1);
	pthread_mutex_lock(&srv_mu);
	assert_string_equal(srv_sni, "good.test");
	/* ALPN offered: exactly acme-tls/1 (RFC 8737 §3) */
	assert_int_equal(srv_alpn_offer_len, 11);
	assert_memory_equal(srv_alpn_offer, "\x0a" "acme-tls/1", 11);
	pthread_mutex_unlock(&srv_mu);
	char port[16];
	snprintf(port, sizeof port, "%d", tls_port);
	assert_int_equal(json_array_size(rec), 1);
	assert_string_equal(rec_str(rec, "hostname"), "good.test");
	assert_string_equal(rec_str(rec, "port"), port);
	assert_string_equal(rec_str(rec, "addressUsed"), "127.0.0.1");
	json_t *resolved = json_object_get(json_array_get(rec, 0), "addressesResolved");
	assert_int_equal(json_array_size(resolved), 1);
	assert_string_equal(json_string_value(json_array_get(resolved, 0)), "127.0.0.1");
	json_decref(rec);

	/* dNSName comparison ignores case */
	assert_int_equal(run(&s, "dns", "upper.test", &rec, &p), 0);
	json_decref(rec);
	/* A wrong key authorization is refused by the same certificate. */
	assert_int_equal(tlsalpn01_validate(&s, resolver(), "dns", "good.test", KEYAUTH "x", &rec, &p), -1);
	expect(p, "unauthorized", "but SHA-256 of the key authorization is");
	problem_free(p);
	json_decref(rec);
}

struct bad {
	const char *name;
	const char *type;
	const char *detail;
};

static const struct bad bads[] = {
	{"digest.test", "unauthorized", "acmeIdentifier extension holds "},
	{"noncrit.test", "unauthorized", "acmeIdentifier extension is not critical"},
	{"noext.test", "unauthorized", "certificate has no acmeIdentifier extension"},
	{"short.test", "unauthorized", "acmeIdentifier extension holds 20 bytes"},
	{"twice.test", "unauthorized", "more than one acmeIdentifier extension"},
	{"twosans.test", "unauthorized",
	 "certificate has 2 subjectAltName entries (dNSName \"twosans.test\", dNSName \"other.test\")"},
	{"wrongsan.test", "unauthorized", "certificate's subjectAltName is dNSName \"other.test\", not "
	                                  "dNSName \"wrongsan.test\""},
	{"nosan.test", "unauthorized", "certificate has no subjectAltName extension"},
	{"ipsan.test", "unauthorized", "subjectAltName is iPAddress 127.0.0.1, not dNSName \"ipsan.test\""},
	{"noalpn.test", "unauthorized", "did not negotiate acme-tls/1"},
	{"alpnalert.test", "unauthorized", "did not negotiate acme-tls/1"},
	{"unknown.test", "unauthorized", "subjectAltName is dNSName \"good.test\""}, /* default cert */
	{"absent.invalid", "dns", "NXDOMAIN"},
};

static void test_bad(void **state)
{
	(void)state;
	struct va_settings s = lab();
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		json_t *rec;
		struct problem *p;
		if (run(&s, "dns", bads[i].name, &rec, &p) == 0)
			fail_msg("%s: accepted", bads[i].name);
		expect(p, bads[i].type, bads[i].detail);
		if (getenv("SHOW_DETAILS"))
			printf("%s: %s: %s\n", bads[i].name, problem_short_type(p), p->detail);
		assert_string_equal(rec_str(rec, "hostname"), bads[i].name);
		if (strcmp(bads[i].type, "dns") != 0) {
			assert_string_equal(rec_str(rec, "addressUsed"), "127.0.0.1");
			assert_non_null(strstr(p->detail, "127.0.0.1"));
		}
		problem_free(p);
		json_decref(rec);
	}
}

static void test_ip(void **state)
{
	(void)state;
	struct va_settings s = lab();
	json_t *rec;
	struct problem *p;
	if (run(&s, "ip", "127.0.0.1", &rec, &p) != 0)
		fail_msg("refused: %s", p->detail);
	pthread_mutex_lock(&srv_mu);
	assert_string_equal(srv_sni, "1.0.0.127.in-addr.arpa"); /* RFC 8738 §6 */
	pthread_mutex_unlock(&srv_mu);
	assert_string_equal(rec_str(rec, "hostname"), "127.0.0.1");
	assert_string_equal(rec_str(rec, "addressUsed"), "127.0.0.1");
	json_decref(rec);

	/* The SAN must be the iPAddress, not a dNSName of the reverse name. */
	pthread_mutex_lock(&srv_mu);
	force_sni = "reverse-as-dns";
	pthread_mutex_unlock(&srv_mu);
	assert_int_equal(run(&s, "ip", "127.0.0.1", &rec, &p), -1);
	pthread_mutex_lock(&srv_mu);
	force_sni = NULL;
	pthread_mutex_unlock(&srv_mu);
	expect(p, "unauthorized", "subjectAltName is dNSName \"1.0.0.127.in-addr.arpa\", not iPAddress 127.0.0.1");
	problem_free(p);
	json_decref(rec);

	/* A dns identifier that is an address, and an ip identifier that is not, are refused. */
	assert_int_equal(run(&s, "dns", "127.0.0.1", &rec, &p), -1);
	expect(p, "rejectedIdentifier", "use an ip identifier");
	problem_free(p);
	json_decref(rec);
	assert_int_equal(run(&s, "ip", "good.test", &rec, &p), -1);
	expect(p, "rejectedIdentifier", "not an IP address");
	problem_free(p);
	json_decref(rec);
	assert_int_equal(run(&s, "dns", "*.good.test", &rec, &p), -1);
	expect(p, "rejectedIdentifier", "not a DNS name tls-alpn-01 can validate");
	problem_free(p);
	json_decref(rec);
}

/* IPv6 reverse SNI (ip6.arpa nibbles): ::ffff:127.0.0.1 goes over IPv4 loopback through a
 * dual-stack socket, so the test stays on 127.0.0.0/8. */
static void test_ip6_reverse_sni(void **state)
{
	(void)state;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0)
		skip();
	close(fd);
	struct va_settings s = lab();
	json_t *rec;
	struct problem *p;
	if (run(&s, "ip", "::ffff:127.0.0.1", &rec, &p) != 0)
		fail_msg("refused: %s", p->detail);
	pthread_mutex_lock(&srv_mu);
	assert_string_equal(srv_sni, "1.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa");
	pthread_mutex_unlock(&srv_mu);
	json_decref(rec);
}

static void test_refused_outside_lab(void **state)
{
	(void)state;
	struct va_settings s = lab();
	s.lab = 0;
	json_t *rec;
	struct problem *p;
	int before = conns();
	assert_int_equal(run(&s, "ip", "127.0.0.1", &rec, &p), -1);
	expect(p, "connection", "127.0.0.1 is a loopback address; the CA does not connect to non-public");
	assert_null(rec_str(rec, "addressUsed"));
	problem_free(p);
	json_decref(rec);
	assert_int_equal(run(&s, "dns", "good.test", &rec, &p), -1);
	expect(p, "connection", "good.test resolves to 127.0.0.1, a loopback address");
	assert_null(rec_str(rec, "addressUsed"));
	problem_free(p);
	json_decref(rec);
	assert_int_equal(conns(), before); /* never connected */
}

static void test_timeout(void **state)
{
	(void)state;
	struct va_settings s = lab();
	s.tlsalpn01_port = silent_port; /* accepts by backlog, never answers */
	s.timeout_ms = 700;
	json_t *rec;
	struct problem *p;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(run(&s, "dns", "good.test", &rec, &p), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 600 && ms < 2500);
	expect(p, "connection", "timeout after 700 ms during the TLS handshake");
	assert_string_equal(rec_str(rec, "addressUsed"), "127.0.0.1");
	problem_free(p);
	json_decref(rec);
}

/* Not TLS on the port: a tls problem naming the handshake failure. */
static void test_not_tls(void **state)
{
	(void)state;
	struct va_settings s = lab();
	s.tlsalpn01_port = junk_port;
	json_t *rec;
	struct problem *p;
	assert_int_equal(run(&s, "ip", "127.0.0.1", &rec, &p), -1);
	expect(p, "tls", "TLS handshake with 127.0.0.1 port");
	expect(p, "tls", "(SNI 1.0.0.127.in-addr.arpa) failed: ");
	problem_free(p);
	json_decref(rec);
}

/* RFC 8737 §4: TLS 1.2 or later; a server that stops at TLS 1.1 fails with a tls problem. */
static void test_tls11_refused(void **state)
{
	(void)state;
	struct va_settings s = lab();
	s.tlsalpn01_port = old_port;
	json_t *rec;
	struct problem *p;
	int before = conns();
	assert_int_equal(run(&s, "dns", "good.test", &rec, &p), -1);
	assert_int_equal(conns(), before + 1); /* it did connect */
	expect(p, "tls", "TLS 1.2 or later is required");
	problem_free(p);
	json_decref(rec);
}

/* IPv6 first, IPv4 when IPv6 does not connect (as http-01 does); the record says so. */
static void test_ipv4_fallback(void **state)
{
	(void)state;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0)
		skip();
	close(fd);
	struct va_settings s = lab();
	json_t *rec;
	struct problem *p;
	if (run(&s, "dns", "fallback.test", &rec, &p) != 0)
		fail_msg("refused: %s", p->detail);
	assert_string_equal(rec_str(rec, "addressUsed"), "127.0.0.1");
	json_t *resolved = json_object_get(json_array_get(rec, 0), "addressesResolved");
	assert_int_equal(json_array_size(resolved), 2);
	assert_string_equal(json_string_value(json_array_get(resolved, 0)), "::ffff:127.0.0.2");
	json_t *tried = json_object_get(json_array_get(rec, 0), "addressesTried");
	assert_int_equal(json_array_size(tried), 1);
	assert_string_equal(json_string_value(json_array_get(tried, 0)), "::ffff:127.0.0.2");
	json_decref(rec);
}

static void test_connection_refused(void **state)
{
	(void)state;
	struct va_settings s = lab();
	s.tlsalpn01_port = closed_port();
	json_t *rec;
	struct problem *p;
	assert_int_equal(run(&s, "ip", "127.0.0.1", &rec, &p), -1);
	expect(p, "connection", "Connection refused");
	problem_free(p);
	json_decref(rec);
}

/* The certificate checks on DER, as the fuzz target drives them. */
static void test_check_cert_der(void **state)
{
	(void)state;
	char why[512];
	unsigned char *der = NULL;
	int len = i2d_X509(cert_for("good.test")->cert, &der);
	assert_true(len > 0);
	assert_int_equal(tlsalpn01_check_cert_der(der, (size_t)len, "dns", "good.test", KEYAUTH, why, sizeof why), 1);
	assert_int_equal(tlsalpn01_check_cert_der(der, (size_t)len, "dns", "bad.test", KEYAUTH, why, sizeof why), 0);
	assert_non_null(strstr(why, "not dNSName \"bad.test\""));
	/* every truncation is "not a certificate", never a crash */
	for (int i = 0; i < len; i++)
		assert_int_equal(tlsalpn01_check_cert_der(der, (size_t)i, "dns", "good.test", KEYAUTH, why, sizeof why), -1);
	assert_int_equal(tlsalpn01_check_cert_der(der, (size_t)len, "uri", "good.test", KEYAUTH, why, sizeof why), -1);
	OPENSSL_free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_ip),
	    cmocka_unit_test(test_ip6_reverse_sni),
	    cmocka_unit_test(test_refused_outside_lab),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_connection_refused),
	    cmocka_unit_test(test_not_tls),
	    cmocka_unit_test(test_tls11_refused),
	    cmocka_unit_test(test_ipv4_fallback),
	    cmocka_unit_test(test_check_cert_der),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	resolver_free(res);
	return rc;
}

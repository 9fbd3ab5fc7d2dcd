/* tls-alpn-01 validation (RFC 8737): a TLS handshake from the CA's vantage point that must
 * negotiate acme-tls/1 and show a certificate proving the key authorization. */
#include "tlsalpn01.h"
#include "deadline.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "netpolicy.h"

#define ALPN_PROTO "acme-tls/1"                  /* RFC 8737 §6.2 */
#define ALPN_WIRE "\x0a" ALPN_PROTO              /* RFC 7301 §3.1 protocol-name list */
#define ACME_IDENTIFIER_OID "1.3.6.1.5.5.7.1.31" /* id-pe-acmeIdentifier, RFC 8737 §6.1 */
#define TLSALPN01_DEFAULT_TIMEOUT_MS 10000
#define TLSALPN01_MAX_CERT_LIST (64 * 1024) /* bytes of certificate chain we accept */
#define NAME_MAX_LEN 253                    /* RFC 1035 §2.3.4 */
#define REVERSE_NAME_LEN 74                 /* 32 nibbles "x." + "ip6.arpa" + NUL */
#define SHOW_MAX 64                         /* bytes of a peer's string quoted in a detail */

/* What one identifier asks of the certificate. */
struct want {
	const char *name;     /* dNSName (dns) or the address text (ip) */
	int fam;              /* 0 for dns, AF_INET / AF_INET6 for ip */
	unsigned char ip[16]; /* binary address for ip */
	unsigned char digest[32];
};

static int ip_family(const char *s, unsigned char bin[16])
{
	if (inet_pton(AF_INET, s, bin) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, bin) == 1)
		return AF_INET6;
	return 0;
}

/* RFC 8738 §6: the SNI for an ip identifier is its reverse-mapping name (RFC 1035 §3.5,
 * RFC 3596 §2.5). */
static void reverse_name(int fam, const unsigned char *b, char out[REVERSE_NAME_LEN])
{
	if (fam == AF_INET) {
		snprintf(out, REVERSE_NAME_LEN, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
		return;
	}
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (int i = 15; i >= 0; i--) {
		out[o++] = hex[b[i] & 0x0f];
		out[o++] = '.';
		out[o++] = hex[b[i] >> 4];
		out[o++] = '.';
	}
	memcpy(out + o, "ip6.arpa", sizeof "ip6.arpa");
}

/* Printable ASCII only, at most SHOW_MAX bytes: certificate contents are the peer's. */
static void show(const unsigned char *in, size_t len, char *out, size_t outlen)
{
	size_t o = 0, i;
	for (i = 0; i < len && i < SHOW_MAX && o + 5 < outlen; i++) {
		unsigned char c = in[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
	}
	if (i < len && o + 4 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static void hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	out[2 * n] = '\0';
}

/* "dNSName \"x\"", "iPAddress 1.2.3.4", ... for the detail of a problem. */
static void describe_gen(const GENERAL_NAME *g, char *out, size_t outlen)
{
	char s[SHOW_MAX * 4 + 8];
	switch (g->type) {
	case GEN_DNS:
		show(ASN1_STRING_get0_data(g->d.dNSName), (size_t)ASN1_STRING_length(g->d.dNSName), s, sizeof s);
		snprintf(out, outlen, "dNSName \"%s\"", s);
		return;
	case GEN_IPADD: {
		const unsigned char *b = ASN1_STRING_get0_data(g->d.iPAddress);
		int l = ASN1_STRING_length(g->d.iPAddress);
		char a[INET6_ADDRSTRLEN] = "";
		if ((l == 4 && inet_ntop(AF_INET, b, a, sizeof a)) || (l == 16 && inet_ntop(AF_INET6, b, a, sizeof a)))
			snprintf(out, outlen, "iPAddress %s", a);
		else
			snprintf(out, outlen, "iPAddress of %d bytes", l);
		return;
	}
	case GEN_EMAIL: snprintf(out, outlen, "rfc822Name"); return;
	case GEN_URI: snprintf(out, outlen, "uniformResourceIdentifier"); return;
	case GEN_DIRNAME: snprintf(out, outlen, "directoryName"); return;
	case GEN_RID: snprintf(out, outlen, "registeredID"); return;
	case GEN_OTHERNAME: snprintf(out, outlen, "otherName"); return;
	default: snprintf(out, outlen, "a name of type %d", g->type); return;
	}
}

static void describe_want(const struct want *w, char *out, size_t outlen)
{
	if (w->fam)
		snprintf(out, outlen, "iPAddress %s", w->name);
	else
		snprintf(out, outlen, "dNSName \"%s\"", w->name);
}

static int gen_matches(const GENERAL_NAME *g, const struct want *w)
{
	if (w->fam) {
		if (g->type != GEN_IPADD)
			return 0;
		size_t want_len = w->fam == AF_INET ? 4 : 16;
		return (size_t)ASN1_STRING_length(g->d.iPAddress) == want_len &&
		       memcmp(ASN1_STRING_get0_data(g->d.iPAddress), w->ip, want_len) == 0;
	}
	if (g->type != GEN_DNS)
		return 0;
	const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
	size_t l = (size_t)ASN1_STRING_length(g->d.dNSName);
	/* A dNSName is IA5 text: an embedded NUL must not shorten it into a match. */
	return l == strlen(w->name) && !memchr(d, '\0', l) && strncasecmp((const char *)d, w->name, l) == 0;
}

/* RFC 8737 §3 on the certificate: 1 acceptable, 0 not (why says what was wrong). */
static int check_cert(X509 *cert, const struct want *w, char *why, size_t wl)
{
	char wants[300], got[SHOW_MAX * 4 + 32];
	int ok = 0, crit = 0;
	ASN1_OBJECT *oid = NULL;
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	describe_want(w, wants, sizeof wants);
	if (!gens) {
		if (crit == -1)
			snprintf(why, wl, "certificate has no subjectAltName extension (want exactly one "
			         "entry, %s)", wants);
		else if (crit == -2)
			snprintf(why, wl, "certificate has more than one subjectAltName extension");
		else
			snprintf(why, wl, "certificate's subjectAltName extension does not parse");
		goto out;
	}
	int n = sk_GENERAL_NAME_num(gens);
	if (n != 1) {
		char list[400] = "";
		size_t o = 0;
		for (int i = 0; i < n && i < 4 && o < sizeof list; i++) {
			describe_gen(sk_GENERAL_NAME_value(gens, i), got, sizeof got);
			o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", got);
		}
		if (n > 4 && o < sizeof list)
			snprintf(list + o, sizeof list - o, ", ...");
		snprintf(why, wl, "certificate has %d subjectAltName entries (%s); RFC 8737 §3 wants exactly "
		         "one, %s", n, n ? list : "none", wants);
		goto out;
	}
	const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, 0);
	if (!gen_matches(g, w)) {
		describe_gen(g, got, sizeof got);
		snprintf(why, wl, "certificate's subjectAltName is %s, not %s", got, wants);
		goto out;
	}

	oid = OBJ_txt2obj(ACME_IDENTIFIER_OID, 1);
	if (!oid) {
		snprintf(why, wl, "internal error: cannot build the acmeIdentifier OID");
		goto out;
	}
	int idx = X509_get_ext_by_OBJ(cert, oid, -1);
	if (idx < 0) {
		snprintf(why, wl, "certificate has no acmeIdentifier extension (" ACME_IDENTIFIER_OID ")");
		goto out;
	}
	if (X509_get_ext_by_OBJ(cert, oid, idx) >= 0) {
		snprintf(why, wl, "certificate has more than one acmeIdentifier extension");
		goto out;
	}
	X509_EXTENSION *ext = X509_get_ext(cert, idx);
	if (!X509_EXTENSION_get_critical(ext)) {
		snprintf(why, wl, "acmeIdentifier extension is not critical (RFC 8737 §3 requires it)");
		goto out;
	}
	/* RFC 8737 §6.1: Authorization ::= OCTET STRING (SIZE (32)), DER: 04 20 <32 bytes>. */
	const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
	const unsigned char *d = ASN1_STRING_get0_data(v), *p = d;
	long dl = ASN1_STRING_length(v);
	ASN1_OCTET_STRING *inner = d2i_ASN1_OCTET_STRING(NULL, &p, dl);
	if (!inner || p != d + dl) {
		ASN1_OCTET_STRING_free(inner);
		snprintf(why, wl, "acmeIdentifier extension value is not an ASN.1 OCTET STRING");
		goto out;
	}
	int il = ASN1_STRING_length(inner);
	if (il != 32 || dl != 34) {
		ASN1_OCTET_STRING_free(inner);
		if (il != 32)
			snprintf(why, wl, "acmeIdentifier extension holds %d bytes, not a 32-byte SHA-256 digest", il);
		else
			snprintf(why, wl, "acmeIdentifier extension value is not DER-encoded");
		goto out;
	}
	if (CRYPTO_memcmp(ASN1_STRING_get0_data(inner), w->digest, 32) != 0) {
		char h_got[65], h_want[65];
		hex(ASN1_STRING_get0_data(inner), 32, h_got);
		hex(w->digest, 32, h_want);
		ASN1_OCTET_STRING_free(inner);
		snprintf(why, wl, "acmeIdentifier extension holds %s, but SHA-256 of the key authorization is %s",
		         h_got, h_want);
		goto out;
	}
	ASN1_OCTET_STRING_free(inner);
	ok = 1;
out:
	ASN1_OBJECT_free(oid);
	GENERAL_NAMES_free(gens);
	return ok;
}

/* Fills w for the identifier; -1 with why if it is not one we validate this way. */
static int want_init(struct want *w, const char *ident_type, const char *value, const char *keyauth,
                     char *why, size_t wl)
{
	unsigned int dlen = 0;
	memset(w, 0, sizeof *w);
	if (!ident_type || !value || !*value || strlen(value) > NAME_MAX_LEN) {
		snprintf(why, wl, "tls-alpn-01: invalid identifier");
		return -1;
	}
	w->name = value;
	if (strcmp(ident_type, "ip") == 0) {
		w->fam = ip_family(value, w->ip);
		if (!w->fam) {
			snprintf(why, wl, "\"%.*s\" is not an IP address", NAME_MAX_LEN, value);
			return -1;
		}
	} else if (strcmp(ident_type, "dns") == 0) {
		unsigned char bin[16];
		if (ip_family(value, bin)) {
			snprintf(why, wl, "%s is an IP address: use an ip identifier (RFC 8738)", value);
			return -1;
		}
		for (const char *c = value; *c; c++) {
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
			      *c == '-' || *c == '.')) {
				/* RFC 8737 §3 / RFC 8555 §7.1.3: no tls-alpn-01 for wildcards. */
				snprintf(why, wl, "\"%.*s\" is not a DNS name tls-alpn-01 can validate", NAME_MAX_LEN,
				         value);
				return -1;
			}
		}
	} else {
		snprintf(why, wl, "tls-alpn-01 cannot validate identifiers of type \"%.20s\"", ident_type);
		return -1;
	}
	if (!keyauth || EVP_Digest(keyauth, strlen(keyauth), w->digest, &dlen, EVP_sha256(), NULL) != 1 ||
	    dlen != 32) {
		snprintf(why, wl, "tls-alpn-01: cannot hash the key authorization");
		return -1;
	}
	return 0;
}

int tlsalpn01_check_cert_der(const unsigned char *der, size_t len, const char *ident_type,
                             const char *value, const char *keyauth, char *why, size_t whylen)
{
	struct want w;
	if (want_init(&w, ident_type, value, keyauth, why, whylen) != 0)
		return -1;
	if (!der || len > TLSALPN01_MAX_CERT_LIST) {
		snprintf(why, whylen, der ? "certificate larger than %d bytes" : "no certificate",
		         TLSALPN01_MAX_CERT_LIST);
		return -1;
	}
	const unsigned char *p = der;
	X509 *cert = d2i_X509(NULL, &p, (long)len);
	if (!cert) {
		snprintf(why, whylen, "not a DER certificate");
		return -1;
	}
	int ok = check_cert(cert, &w, why, whylen);
	X509_free(cert);
	return ok;
}

/* ---- the connection ---- */

/* Waits for events on fd until deadline (monotonic ms): 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - deadline_now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* The OpenSSL error of a failed handshake, in words. */
static void ssl_reason(SSL *ssl, int rc, int *no_alpn, char *out, size_t outlen)
{
	int e = SSL_get_error(ssl, rc);
	unsigned long err = ERR_peek_last_error();
	*no_alpn = 0;
	if (err) {
		if (ERR_GET_LIB(err) == ERR_LIB_SSL && ERR_GET_REASON(err) == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL)
			*no_alpn = 1;
		char buf[256];
		ERR_error_string_n(err, buf, sizeof buf);
		const char *reason = ERR_reason_error_string(err);
		int r = ERR_GET_LIB(err) == ERR_LIB_SSL ? ERR_GET_REASON(err) : 0;
		int version = r == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION || r == SSL_R_UNSUPPORTED_PROTOCOL ||
		              r == SSL_R_WRONG_SSL_VERSION;
		snprintf(out, outlen, "%.200s%s", reason ? reason : buf,
		         version ? " (RFC 8737 §4: TLS 1.2 or later is required)" : "");
	} else if (e == SSL_ERROR_SYSCALL) {
		snprintf(out, outlen, "%s", errno ? strerror(errno) : "connection closed by the server");
	} else if (e == SSL_ERROR_ZERO_RETURN) {
		snprintf(out, outlen, "connection closed by the server");
	} else {
		snprintf(out, outlen, "TLS error %d", e);
	}
	ERR_clear_error();
}

/* One handshake with one address. On success returns 0 with *cert (the peer's leaf) and
 * *alpn_ok. On failure -1 with *prob; *no_connect says the TCP connection itself failed
 * (a reason to try another address). */
static int handshake(SSL_CTX *ctx, const char *addr, int port, const char *sni, long long connect_dl,
                     long long deadline, int timeout_ms, X509 **cert, int *alpn_ok, int *no_connect,
                     struct problem **prob)
{
	int fd = -1, ret = -1, rc;
	SSL *ssl = NULL;
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof ss);
	*cert = NULL;
	*alpn_ok = 0;
	*no_connect = 0;

	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		sl = sizeof *s4;
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		sl = sizeof *s6;
	} else {
		*prob = problem_new("serverInternal", 500, "tls-alpn-01: bad address %s", addr);
		return -1;
	}

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*prob = problem_new("serverInternal", 500, "tls-alpn-01: socket: %s", strerror(errno));
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
		*no_connect = 1;
		*prob = problem_new("connection", 400, "%s: connection to %s port %d failed: %s", addr, addr, port,
		                    strerror(errno));
		goto out;
	}
	rc = wait_fd(fd, POLLOUT, connect_dl);
	if (rc <= 0) {
		*no_connect = 1;
		if (rc == 0)
			*prob = problem_new("connection", 400,
			                    "%s: timeout after %lld ms connecting to %s port %d (likely a firewall "
			                    "problem)", addr, connect_dl - (deadline - timeout_ms), addr, port);
		else
			*prob = problem_new("connection", 400, "%s: connection to %s port %d failed: %s", addr, addr,
			                    port, strerror(errno));
		goto out;
	}
	int soerr = 0;
	socklen_t el = sizeof soerr;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) != 0 || soerr != 0) {
		*no_connect = 1;
		*prob = problem_new("connection", 400, "%s: connection to %s port %d failed: %s", addr, addr, port,
		                    strerror(soerr ? soerr : errno));
		goto out;
	}

	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_set_tlsext_host_name(ssl, sni) != 1) {
		*prob = problem_new("serverInternal", 500, "tls-alpn-01: cannot set up TLS for %s", sni);
		goto out;
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		rc = SSL_connect(ssl);
		if (rc == 1)
			break;
		int e = SSL_get_error(ssl, rc);
		short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
		if (!ev) {
			char why[256];
			int no_alpn;
			ssl_reason(ssl, rc, &no_alpn, why, sizeof why);
			if (no_alpn)
				*prob = problem_new("unauthorized", 403,
				                    "%s: the server at %s port %d did not negotiate " ALPN_PROTO
				                    " for %s (it refused the protocol with an alert: %s)",
				                    addr, addr, port, sni, why);
			else
				*prob = problem_new("tls", 400, "%s: TLS handshake with %s port %d (SNI %s) failed: %s",
				                    addr, addr, port, sni, why);
			goto out;
		}
		int w = wait_fd(fd, ev, deadline);
		if (w <= 0) {
			*prob = problem_new("connection", 400,
			                    "%s: timeout after %d ms during the TLS handshake with %s port %d",
			                    addr, timeout_ms, addr, port);
			goto out;
		}
	}
	const unsigned char *proto = NULL;
	unsigned int plen = 0;
	SSL_get0_alpn_selected(ssl, &proto, &plen);
	*alpn_ok = plen == strlen(ALPN_PROTO) && memcmp(proto, ALPN_PROTO, plen) == 0;
	*cert = SSL_get1_peer_certificate(ssl);
	if (!*cert) {
		*prob = problem_new("tls", 400, "%s: the server at %s port %d presented no certificate", addr,
		                    addr, port);
		goto out;
	}
	(void)SSL_shutdown(ssl); /* one close_notify, no wait for the reply */
	ret = 0;
out:
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	ERR_clear_error();
	return ret;
}

static SSL_CTX *client_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return NULL;
	/* RFC 8737 §4: TLS 1.2 or later. The chain is not verified: the certificate is
	 * self-signed by design; the acmeIdentifier extension is the proof. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_max_cert_list(ctx, TLSALPN01_MAX_CERT_LIST);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)ALPN_WIRE, sizeof ALPN_WIRE - 1) != 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int tlsalpn01_validate(const struct va_settings *set, struct resolver *r, const char *ident_type,
                       const char *value, const char *keyauth, json_t **record, struct problem **prob)
{
	struct want w;
	char why[512], sni[REVERSE_NAME_LEN > NAME_MAX_LEN + 1 ? REVERSE_NAME_LEN : NAME_MAX_LEN + 1];
	char addrs[RESOLVER_MAX_ADDRS][RESOLVER_ADDR_LEN];
	size_t naddrs = 0;
	int ret = -1;
	SSL_CTX *ctx = NULL;
	X509 *cert = NULL;
	json_t *rec = NULL, *resolved = NULL, *tried = NULL;

	*prob = NULL;
	*record = json_array();
	if (!*record) {
		*prob = problem_new("serverInternal", 500, "out of memory");
		return -1;
	}
	if (want_init(&w, ident_type, value, keyauth, why, sizeof why) != 0) {
		*prob = problem_new(keyauth ? "rejectedIdentifier" : "serverInternal", keyauth ? 400 : 500, "%s",
		                    why);
		return -1;
	}
	int port = set->tlsalpn01_port > 0 ? set->tlsalpn01_port : 443;
	int timeout = set->timeout_ms > 0 ? set->timeout_ms : TLSALPN01_DEFAULT_TIMEOUT_MS;
	char portstr[16];
	snprintf(portstr, sizeof portstr, "%d", port);
	rec = json_object();
	resolved = json_array();
	tried = json_array();
	if (!rec || !resolved || !tried) {
		*prob = problem_new("serverInternal", 500, "out of memory");
		goto out;
	}
	json_object_set_new(rec, "hostname", json_string(value));
	json_object_set_new(rec, "port", json_string(portstr));
	json_object_set(rec, "addressesResolved", resolved);
	json_array_append(*record, rec);

	if (w.fam) {
		reverse_name(w.fam, w.ip, sni);
		inet_ntop(w.fam, w.ip, addrs[0], sizeof addrs[0]);
		naddrs = 1;
	} else {
		snprintf(sni, sizeof sni, "%s", value);
		if (!r) {
			*prob = problem_new("dns", 400, "DNS problem: no resolver configured to look up %s", value);
			goto out;
		}
		if (resolver_addrs(r, value, addrs, RESOLVER_MAX_ADDRS, &naddrs, prob) != 0)
			goto out;
	}
	for (size_t i = 0; i < naddrs; i++)
		json_array_append_new(resolved, json_string(addrs[i]));

	const char *cand[2];
	if (netpolicy_pick(value, w.fam != 0, addrs, naddrs, set->lab, cand, prob) != 0)
		goto out;

	ctx = client_ctx();
	if (!ctx) {
		*prob = problem_new("serverInternal", 500, "tls-alpn-01: cannot set up a TLS client");
		goto out;
	}
	long long start = deadline_now_ms(), deadline = start + timeout;
	const char *used = NULL;
	int alpn_ok = 0;
	for (int i = 0; i < 2; i++) {
		if (!cand[i])
			continue;
		int fallback = i == 0 && cand[1];
		/* With an IPv4 fallback, an unreachable IPv6 address may take only half the time. */
		long long connect_dl = fallback ? start + timeout / 2 : deadline;
		int no_connect = 0;
		used = cand[i];
		if (handshake(ctx, cand[i], port, sni, connect_dl, deadline, timeout, &cert, &alpn_ok, &no_connect,
		              prob) == 0)
			break;
		if (fallback && no_connect) {
			log_info("tls-alpn-01: %s unreachable over IPv6 (%s), trying IPv4 %s", value, (*prob)->detail,
			         cand[1]);
			json_array_append_new(tried, json_string(cand[i]));
			problem_free(*prob);
			*prob = NULL;
			continue;
		}
		break;
	}
	json_object_set_new(rec, "addressUsed", json_string(used));
	if (json_array_size(tried))
		json_object_set(rec, "addressesTried", tried);
	if (*prob)
		goto out;
	if (!alpn_ok) {
		*prob = problem_new("unauthorized", 403,
		                    "%s: the server at %s port %d did not negotiate " ALPN_PROTO " for %s (RFC 8737 "
		                    "§3): it is not answering tls-alpn-01 challenges", used, used, port, sni);
		goto out;
	}
	if (!check_cert(cert, &w, why, sizeof why)) {
		*prob = problem_new("unauthorized", 403, "%s: incorrect tls-alpn-01 certificate from %s port %d for "
		                    "%s: %s", used, used, port, value, why);
		goto out;
	}
	ret = 0;
out:
	X509_free(cert);
	SSL_CTX_free(ctx);
	json_decref(rec);
	json_decref(resolved);
	json_decref(tried);
	return ret;
}

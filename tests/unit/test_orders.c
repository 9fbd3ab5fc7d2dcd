/* orders: newOrder's challenges per identifier kind (dns, wildcard, ip), authorization reuse,
 * one validation attempt per authorization, and finalize's CAA recheck for old validations,
 * on a real SQLite store, a real CA and the real resolver forwarding to a small UDP DNS server
 * on 127.0.0.1 that serves CAA records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sqlite3.h>
#include <unistd.h>
#include "b64url.h"
#include "config.h"
#include "issuance/ca.h"
#include "issuance/serials.h"
#include "orders/orders.h"
#include "storage/store.h"
#include "validation/resolver.h"

#define NOW 1900000000LL
#define T_CAA 257

/* ---- a UDP DNS server: CAA for forbid.test (another CA only) and ok.test (this CA);
 * SERVFAIL for anything under broken.test; empty answers elsewhere, those under hold.test only
 * once dns_hold is cleared ---- */
static int dns_fd = -1, dns_port, dns_stop[2];
static pthread_t dns_thread;
static pthread_mutex_t dns_mu = PTHREAD_MUTEX_INITIALIZER;
/* Queries for exactly this name (a recheck case's own). Counting every query did not do:
 * libunbound retries a SERVFAIL'd query on its own schedule, and such a retry from the
 * x.broken.test case once arrived during the next one (make test under ASan, session 7). */
static char dns_watch[128];
static int dns_watch_hits;
static int dns_hold; /* set: queries under hold.test wait (in the server) until it is cleared */

static size_t caa_rr(unsigned char *b, size_t o, const char *tag, const char *value)
{
	size_t tl = strlen(tag), vl = strlen(value), rdlen = 2 + tl + vl;
	unsigned char h[] = {0xc0, 12, T_CAA >> 8, T_CAA & 0xff, 0, 1, 0, 0, 0, 0,
	                     (unsigned char)(rdlen >> 8), (unsigned char)rdlen, 0, (unsigned char)tl};
	memcpy(b + o, h, sizeof h);
	o += sizeof h;
	memcpy(b + o, tag, tl);
	o += tl;
	memcpy(b + o, value, vl);
	return o + vl;
}

static void dns_answer(const unsigned char *q, size_t qlen, struct sockaddr_in *from, socklen_t fl)
{
	unsigned char b[1024];
	char name[256];
	size_t p = 12, o = 0;
	while (p < qlen && q[p] && o < 200) {
		size_t l = q[p++];
		if (p + l > qlen)
			return;
		if (o)
			name[o++] = '.';
		for (size_t i = 0; i < l && o < 250; i++)
			name[o++] = (char)tolower(q[p + i]);
		p += l;
	}
	name[o] = '\0';
	if (p + 5 > qlen)
		return;
	int qtype = q[p + 1] << 8 | q[p + 2];
	size_t qend = p + 5;
	pthread_mutex_lock(&dns_mu);
	if (dns_watch[0] && strcmp(name, dns_watch) == 0)
		dns_watch_hits++;
	size_t hl = strlen(name);
	while (dns_hold && hl >= 9 && strcmp(name + hl - 9, "hold.test") == 0) {
		pthread_mutex_unlock(&dns_mu);
		usleep(5000);
		pthread_mutex_lock(&dns_mu);
	}
	pthread_mutex_unlock(&dns_mu);
	memcpy(b, q, qend);
	b[2] = 0x84 | (q[2] & 1);
	b[3] = 0x80;
	memset(b + 6, 0, 6);
	b[5] = 1;
	o = qend;
	size_t nl = strlen(name);
	if (nl >= 11 && strcmp(name + nl - 11, "broken.test") == 0) {
		b[3] |= 2; /* SERVFAIL */
	} else if (qtype == T_CAA && strcmp(name, "forbid.test") == 0) {
		o = caa_rr(b, o, "issue", "other-ca.example");
		b[7] = 1;
	} else if (qtype == T_CAA && strcmp(name, "ok.test") == 0) {
		o = caa_rr(b, o, "issue", "cobble.test");
		b[7] = 1;
	}
	sendto(dns_fd, b, o, 0, (struct sockaddr *)from, fl);
}

static void *dns_main(void *arg)
{
	(void)arg;
	struct pollfd pfd[2] = {{.fd = dns_fd, .events = POLLIN}, {.fd = dns_stop[0], .events = POLLIN}};
	for (;;) {
		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[1].revents)
			break;
		unsigned char q[1024];
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(dns_fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
		if (n > 0)
			dns_answer(q, (size_t)n, &from, fl);
	}
	return NULL;
}

/* ---- fixture ---- */
struct fx {
	char dir[64];
	struct store *s;
	struct ca *ca;
	struct serials *serials;
	struct resolver *r;
	struct config c;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char err[256], spec[128], data[128];
	snprintf(f->dir, sizeof f->dir, "/tmp/cobble-test-orders-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(spec, sizeof spec, "sqlite:%s/t.db", f->dir);
	snprintf(data, sizeof data, "%s/ca", f->dir);
	if (store_open(spec, &f->s, err, sizeof err) != STORE_OK)
		fail_msg("store_open: %s", err);
	struct ca_config cc = {.data_dir = data, .base_url = "https://ca.test", .validity_days = 90};
	if (ca_open(&cc, &f->ca, err, sizeof err) != 0)
		fail_msg("ca_open: %s", err);
	f->serials = serials_new(3); /* small blocks: the tests cross refills */
	assert_non_null(f->serials);
	config_defaults(&f->c);
	free(f->c.base_url);
	f->c.base_url = strdup("https://ca.test");
	char fwd[64];
	snprintf(fwd, sizeof fwd, "127.0.0.1:%d", dns_port);
	if (resolver_new(fwd, 2000, &f->r, err, sizeof err) != 0)
		fail_msg("resolver_new: %s", err);
	const char *accts[] = {"acct1", "acct2"};
	for (int i = 0; i < 2; i++) {
		struct store_account a = {.jwk = "{}", .contact = "[]", .created_at = NOW};
		snprintf(a.id, sizeof a.id, "%s", accts[i]);
		snprintf(a.thumbprint, sizeof a.thumbprint, "tp-%s", accts[i]);
		snprintf(a.status, sizeof a.status, "valid");
		if (store_account_insert(f->s, &a) != STORE_OK)
			fail_msg("account");
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	resolver_free(f->r);
	serials_free(f->serials);
	ca_free(f->ca);
	store_close(f->s);
	config_free(&f->c);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	dns_fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (dns_fd < 0 || bind(dns_fd, (struct sockaddr *)&sa, sizeof sa) != 0 || pipe(dns_stop) != 0)
		return -1;
	socklen_t sl = sizeof sa;
	getsockname(dns_fd, (struct sockaddr *)&sa, &sl);
	dns_port = ntohs(sa.sin_port);
	return pthread_create(&dns_thread, NULL, dns_main, NULL);
}

static int group_teardown(void **state)
{
	(void)state;
	if (write(dns_stop[1], "x", 1) == 1)
		pthread_join(dns_thread, NULL);
	close(dns_fd);
	return 0;
}

/* newOrder with a JSON list of identifiers; returns 0 or -1 with *p. */
static int create(struct fx *f, const char *acct, const char *idents_json, int64_t now, struct store_order *o,
                  struct problem **p)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "{\"identifiers\": %s}", idents_json);
	json_t *payload = json_loads(buf, 0, NULL);
	assert_non_null(payload);
	*p = NULL;
	const char *st = "unset";
	int rc = orders_create(f->s, &f->c, acct, payload, now, o, &st, p);
	/* The status orders_create reports is what reading the order back gives. */
	if (rc == 0) {
		struct problem *perr = NULL;
		const char *back = orders_order_status(f->s, o, now, &perr);
		if (!st || strcmp(st, back) != 0)
			fail_msg("orders_create said %s, the store says %s", st ? st : "NULL", back);
		problem_free(perr);
	} else {
		assert_null(st);
	}
	json_decref(payload);
	return rc;
}

/* "http-01,dns-01" for an authorization. */
static void chall_types(const struct store_authz *az, char *out, size_t outlen)
{
	out[0] = '\0';
	for (size_t i = 0; i < az->nchall; i++) {
		if (i)
			strncat(out, ",", outlen - strlen(out) - 1);
		strncat(out, az->chall[i].type, outlen - strlen(out) - 1);
	}
}

/* Validates the authorization's challenge of the given type as the worker pool would. */
static void validate(struct fx *f, const char *authz_id, const char *type, int valid, int64_t when)
{
	struct store_authz az;
	assert_int_equal(store_authz_get(f->s, authz_id, &az), STORE_OK);
	const char *cid = NULL;
	for (size_t i = 0; i < az.nchall; i++)
		if (strcmp(az.chall[i].type, type) == 0)
			cid = az.chall[i].id;
	assert_non_null(cid);
	assert_int_equal(store_challenge_start(f->s, cid), STORE_OK);
	assert_int_equal(store_challenge_finish(f->s, cid, valid, valid ? NULL : "{\"type\":\"urn:ietf:params:acme:error:unauthorized\",\"detail\":\"no\",\"status\":403}",
	                                        "[]", when, valid ? when + f->c.valid_authz_lifetime : 0),
	                 STORE_OK);
	store_authz_clear(&az);
}

static void test_challenges_per_identifier(void **state)
{
	struct fx *f = *state;
	struct store_order o;
	struct problem *p;
	f->c.allow_ip = 1;
	f->c.lab = 1;
	assert_int_equal(create(f, "acct1",
	                        "[{\"type\":\"dns\",\"value\":\"WWW.Example.com\"},"
	                        "{\"type\":\"dns\",\"value\":\"*.example.com\"},"
	                        "{\"type\":\"ip\",\"value\":\"127.0.0.1\"},"
	                        "{\"type\":\"ip\",\"value\":\"::1\"},"
	                        "{\"type\":\"dns\",\"value\":\"www.example.com\"}]",
	                        NOW, &o, &p),
	                 0);
	/* Identifiers deduplicated, sorted, the wildcard kept as "*.". */
	assert_string_equal(o.identifiers, "[{\"type\":\"dns\",\"value\":\"*.example.com\"},"
	                                   "{\"type\":\"dns\",\"value\":\"www.example.com\"},"
	                                   "{\"type\":\"ip\",\"value\":\"127.0.0.1\"},"
	                                   "{\"type\":\"ip\",\"value\":\"::1\"}]");
	assert_int_equal(o.nauthz, 4);
	const struct {
		const char *type, *value;
		int wildcard;
		const char *challs;
	} want[] = {
		{"dns", "example.com", 1, "dns-01"},
		{"dns", "www.example.com", 0, "http-01,dns-01,tls-alpn-01"},
		{"ip", "127.0.0.1", 0, "http-01,tls-alpn-01"},
		{"ip", "::1", 0, "http-01,tls-alpn-01"},
	};
	for (size_t i = 0; i < 4; i++) {
		struct store_authz az;
		char types[64];
		assert_int_equal(store_authz_get(f->s, o.authz_ids[i], &az), STORE_OK);
		assert_string_equal(az.ident_type, want[i].type);
		assert_string_equal(az.ident_value, want[i].value);
		assert_int_equal(az.wildcard, want[i].wildcard);
		chall_types(&az, types, sizeof types);
		assert_string_equal(types, want[i].challs);
		assert_int_equal(az.expires, NOW + f->c.authz_lifetime);
		for (size_t k = 1; k < az.nchall; k++) /* each challenge its own token */
			assert_string_not_equal(az.chall[k].token, az.chall[0].token);
		store_authz_clear(&az);
	}
	store_order_clear(&o);

	/* ip identifiers are off by default: unsupportedIdentifier; non-canonical text refused. */
	f->c.allow_ip = 0;
	assert_int_equal(create(f, "acct1", "[{\"type\":\"ip\",\"value\":\"192.0.2.1\"}]", NOW, &o, &p), -1);
	assert_string_equal(problem_short_type(p), "unsupportedIdentifier");
	problem_free(p);
	f->c.allow_ip = 1;
	assert_int_equal(create(f, "acct1", "[{\"type\":\"ip\",\"value\":\"0:0::1\"},{\"type\":\"dns\",\"value\":\"*.co.uk\"}]",
	                        NOW, &o, &p), -1);
	assert_string_equal(problem_short_type(p), "rejectedIdentifier");
	assert_non_null(strstr(p->detail, "see subproblems"));
	json_t *j = problem_to_json(p);
	assert_int_equal(json_array_size(json_object_get(j, "subproblems")), 2);
	json_decref(j);
	problem_free(p);
	assert_int_equal(create(f, "acct1", "[{\"type\":\"email\",\"value\":\"a@b.example\"}]", NOW, &o, &p), -1);
	assert_string_equal(problem_short_type(p), "unsupportedIdentifier");
	problem_free(p);
}

static void test_reuse(void **state)
{
	struct fx *f = *state;
	struct store_order o1, o2;
	struct problem *p;
	const char *ids = "[{\"type\":\"dns\",\"value\":\"a.example.com\"},{\"type\":\"dns\",\"value\":\"*.a.example.com\"}]";
	assert_int_equal(create(f, "acct1", ids, NOW, &o1, &p), 0);
	/* Pending authorizations are not reused. */
	assert_int_equal(create(f, "acct1", ids, NOW + 1, &o2, &p), 0);
	assert_string_not_equal(o2.authz_ids[0], o1.authz_ids[0]);
	store_order_clear(&o2);

	/* o1: "*.a.example.com" (authz 0, dns-01) and "a.example.com" (authz 1) validated. */
	validate(f, o1.authz_ids[0], "dns-01", 1, NOW + 10);
	validate(f, o1.authz_ids[1], "http-01", 1, NOW + 10);
	assert_string_equal(orders_order_status(f->s, &o1, NOW + 20, NULL), "ready");
	struct store_authz az;
	assert_int_equal(store_authz_get(f->s, o1.authz_ids[1], &az), STORE_OK);
	assert_int_equal(az.expires, NOW + 10 + f->c.valid_authz_lifetime); /* valid: the reuse lifetime */
	store_authz_clear(&az);

	/* Same account, same identifiers, inside the window: both reused; the order is ready at
	 * once and expires no later than them. */
	int64_t later = NOW + 20 * 86400;
	assert_int_equal(create(f, "acct1", ids, later, &o2, &p), 0);
	assert_string_equal(o2.authz_ids[0], o1.authz_ids[0]);
	assert_string_equal(o2.authz_ids[1], o1.authz_ids[1]);
	assert_string_equal(orders_order_status(f->s, &o2, later, NULL), "ready");
	assert_true(o2.expires <= NOW + 10 + f->c.valid_authz_lifetime);
	store_order_clear(&o2);

	/* Only the base name: the wildcard authorization does not stand for it, the plain one does. */
	assert_int_equal(create(f, "acct1", "[{\"type\":\"dns\",\"value\":\"a.example.com\"}]", later, &o2, &p), 0);
	assert_string_equal(o2.authz_ids[0], o1.authz_ids[1]);
	store_order_clear(&o2);
	assert_int_equal(create(f, "acct1", "[{\"type\":\"dns\",\"value\":\"*.a.example.com\"}]", later, &o2, &p), 0);
	assert_string_equal(o2.authz_ids[0], o1.authz_ids[0]);
	store_order_clear(&o2);

	/* Another account never gets them. */
	assert_int_equal(create(f, "acct2", ids, later, &o2, &p), 0);
	assert_string_not_equal(o2.authz_ids[0], o1.authz_ids[0]);
	assert_string_not_equal(o2.authz_ids[1], o1.authz_ids[1]);
	assert_string_equal(orders_order_status(f->s, &o2, later, NULL), "pending");
	store_order_clear(&o2);

	/* A shorter window than their age, or reuse off: new authorizations. */
	f->c.authz_reuse = 10 * 86400;
	assert_int_equal(create(f, "acct1", ids, later, &o2, &p), 0);
	assert_string_not_equal(o2.authz_ids[0], o1.authz_ids[0]);
	store_order_clear(&o2);
	f->c.authz_reuse = 0;
	assert_int_equal(create(f, "acct1", ids, NOW + 100, &o2, &p), 0);
	assert_string_not_equal(o2.authz_ids[1], o1.authz_ids[1]);
	store_order_clear(&o2);
	/* Past the valid authorization's expiry: not reused (and o1 is no longer ready). */
	f->c.authz_reuse = 60 * 86400;
	int64_t expired = NOW + 10 + f->c.valid_authz_lifetime;
	assert_int_equal(create(f, "acct1", ids, expired, &o2, &p), 0);
	assert_string_not_equal(o2.authz_ids[1], o1.authz_ids[1]);
	store_order_clear(&o2);
	store_order_clear(&o1);
}

/* One validation attempt per authorization (as at Let's Encrypt): a failed challenge makes the
 * authorization invalid, its other challenges cannot be tried, the order is invalid. */
static void test_one_attempt(void **state)
{
	struct fx *f = *state;
	struct store_order o;
	struct problem *p = NULL;
	assert_int_equal(create(f, "acct1", "[{\"type\":\"dns\",\"value\":\"b.example.com\"}]", NOW, &o, &p), 0);
	validate(f, o.authz_ids[0], "http-01", 0, NOW + 5);
	struct store_authz az;
	assert_int_equal(store_authz_get(f->s, o.authz_ids[0], &az), STORE_OK);
	assert_string_equal(az.status, "invalid");
	for (size_t i = 0; i < az.nchall; i++)
		if (strcmp(az.chall[i].status, "pending") == 0)
			assert_int_equal(store_challenge_start(f->s, az.chall[i].id), STORE_CONFLICT);
	store_authz_clear(&az);
	assert_string_equal(orders_order_status(f->s, &o, NOW + 6, &p), "invalid");
	assert_string_equal(problem_short_type(p), "unauthorized");
	assert_non_null(strstr(p->detail, "b.example.com"));
	problem_free(p);
	store_order_clear(&o);
}

/* base64url DER of a CSR for names (comma list; "IP:" prefix for addresses). */
static char *csr_b64(const char *names)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509_REQ *req = X509_REQ_new();
	X509_REQ_set_pubkey(req, k);
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	char *copy = strdup(names), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		GENERAL_NAME *gn = GENERAL_NAME_new();
		if (strncmp(t, "IP:", 3) == 0) {
			GENERAL_NAME_set0_value(gn, GEN_IPADD, a2i_IPADDRESS(t + 3));
		} else {
			ASN1_IA5STRING *s = ASN1_IA5STRING_new();
			ASN1_STRING_set(s, t, (int)strlen(t));
			GENERAL_NAME_set0_value(gn, GEN_DNS, s);
		}
		sk_GENERAL_NAME_push(gens, gn);
	}
	free(copy);
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	sk_X509_EXTENSION_push(exts, X509V3_EXT_i2d(NID_subject_alt_name, 0, gens));
	X509_REQ_add_extensions(req, exts);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(gens);
	assert_true(X509_REQ_sign(req, k, EVP_sha256()) > 0);
	unsigned char *der = NULL;
	int len = i2d_X509_REQ(req, &der);
	char *out = b64url_encode(der, (size_t)len);
	OPENSSL_free(der);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
	return out;
}

static int finalize(struct fx *f, struct store_order *o, const char *names, int64_t now, struct problem **p)
{
	char *csr = csr_b64(names);
	json_t *payload = json_pack("{s:s}", "csr", csr);
	*p = NULL;
	int rc = orders_finalize(f->s, f->ca, f->serials, &f->c, f->r, o, payload, now, p, NULL);
	json_decref(payload);
	free(csr);
	return rc;
}

/* Starts counting the queries for name (lower case); returns how many came since. */
static void watch(const char *name)
{
	pthread_mutex_lock(&dns_mu);
	snprintf(dns_watch, sizeof dns_watch, "%s", name);
	dns_watch_hits = 0;
	pthread_mutex_unlock(&dns_mu);
}

static int watched(void)
{
	pthread_mutex_lock(&dns_mu);
	int n = dns_watch_hits;
	pthread_mutex_unlock(&dns_mu);
	return n;
}

/* Finalize rechecks CAA only for validations older than 8 hours (CA/B BR §3.2.2.8); a refusal
 * or a DNS failure fails the order with the caa or dns problem; fresh ones issue without DNS. */
static const struct recheck_case {
	const char *name;
	int64_t age;
	const char *type; /* NULL: issued */
	const char *detail;
	int lookups;      /* 1 if CAA must have been queried */
} recheck_cases[] = {
	{"www.forbid.test", 3600, NULL, NULL, 0},       /* fresh: no recheck */
	{"www.ok.test", 9 * 3600, NULL, NULL, 1},       /* old, CAA allows this CA */
	{"free.example.com", 9 * 3600, NULL, NULL, 1},  /* old, no CAA anywhere */
	{"www.forbid.test", 9 * 3600, "caa", "other-ca.example", 1},
	{"x.broken.test", 9 * 3600, "dns", "broken.test", 1}, /* fail closed */
};

/* One case; later: through orders_finalize_start's LATER (what cobbled's event loop does):
 * a due recheck returns once the order is processing, before any lookup, and
 * orders_finalize_later_run (a validation worker's part) ends the same way orders_finalize
 * does; a fresh validation finishes at once. */
static void recheck_case(struct fx *f, const struct recheck_case *c, int64_t t0, int later)
{
	struct store_order o;
	struct problem *p = NULL;
	char idents[256], names[128], name[100];
	/* A name of its own per pass: the resolver's cache would answer a repeated lookup. */
	snprintf(name, sizeof name, "%s%s", later ? "l." : "", c->name);
	snprintf(idents, sizeof idents, "[{\"type\":\"dns\",\"value\":\"%s\"},{\"type\":\"ip\",\"value\":\"127.0.0.1\"}]",
	         name);
	snprintf(names, sizeof names, "%s,IP:127.0.0.1", name);
	assert_int_equal(create(f, "acct1", idents, t0, &o, &p), 0);
	validate(f, o.authz_ids[0], "dns-01", 1, t0);
	validate(f, o.authz_ids[1], "http-01", 1, t0);
	watch(name);
	int rc;
	if (!later) {
		rc = finalize(f, &o, names, t0 + c->age, &p);
	} else {
		char *csr = csr_b64(names);
		json_t *payload = json_pack("{s:s}", "csr", csr);
		struct orders_finalize_later *job = NULL;
		rc = orders_finalize_start(f->s, f->ca, f->serials, &f->c, f->r, &o, payload, t0 + c->age, &p, NULL, &job);
		json_decref(payload);
		free(csr);
		if (c->lookups) {
			assert_int_equal(rc, ORDERS_FINALIZE_LATER);
			assert_non_null(job);
			assert_int_equal(watched(), 0); /* nothing looked up yet */
			assert_string_equal(o.status, "processing");
			struct store_order mid;
			assert_int_equal(store_order_get(f->s, o.id, &mid), STORE_OK);
			assert_string_equal(orders_order_status(f->s, &mid, t0 + c->age, NULL), "processing");
			store_order_clear(&mid);
			store_order_clear(&o);
			rc = orders_finalize_later_run(job, f->s, f->r, &o, &p);
		} else {
			assert_null(job);
		}
	}
	int asked = watched() > 0;
	if (asked != c->lookups)
		fail_msg("%s: CAA %s", c->name, asked ? "queried" : "not queried");
	if (!c->type) {
		if (rc != 0)
			fail_msg("%s: refused: %s", c->name, p ? p->detail : "?");
		assert_string_equal(o.status, "valid");
		assert_true(o.cert_serial[0] != '\0');
		struct store_order again;
		assert_int_equal(store_order_get(f->s, o.id, &again), STORE_OK);
		assert_string_equal(again.status, "valid");
		assert_string_equal(again.cert_serial, o.cert_serial);
		store_order_clear(&again);
	} else {
		if (rc == 0)
			fail_msg("%s: issued", c->name);
		assert_string_equal(problem_short_type(p), c->type);
		if (!strstr(p->detail, c->detail))
			fail_msg("%s: detail \"%s\" lacks \"%s\"", c->name, p->detail, c->detail);
		problem_free(p);
		/* As in Boulder, the order is invalid with that problem. */
		struct store_order again;
		assert_int_equal(store_order_get(f->s, o.id, &again), STORE_OK);
		assert_string_equal(orders_order_status(f->s, &again, t0 + c->age, &p), "invalid");
		assert_string_equal(problem_short_type(p), c->type);
		problem_free(p);
		store_order_clear(&again);
	}
	store_order_clear(&o);
}

static void test_finalize_caa_recheck(void **state)
{
	struct fx *f = *state;
	f->c.allow_ip = 1;
	f->c.lab = 1;
	f->c.authz_reuse = 0; /* each case validates its own authorizations */
	for (int later = 0; later < 2; later++)
		for (size_t i = 0; i < sizeof recheck_cases / sizeof recheck_cases[0]; i++)
			recheck_case(f, &recheck_cases[i], NOW + (int64_t)(later * 10 + i) * 100000, later);
}

/* A finalize handed on whose second half never runs (the pool stopped first): the job is
 * freed, the order stays processing until its processing_until, then reads as interrupted. */
static void test_finalize_later_dropped(void **state)
{
	struct fx *f = *state;
	struct store_order o;
	struct problem *p = NULL;
	f->c.authz_reuse = 0;
	int64_t t0 = NOW + 40 * 100000;
	assert_int_equal(create(f, "acct1", "[{\"type\":\"dns\",\"value\":\"drop.ok.test\"}]", t0, &o, &p), 0);
	validate(f, o.authz_ids[0], "http-01", 1, t0);
	char *csr = csr_b64("drop.ok.test");
	json_t *payload = json_pack("{s:s}", "csr", csr);
	struct orders_finalize_later *job = NULL;
	int64_t t = t0 + 9 * 3600;
	assert_int_equal(orders_finalize_start(f->s, f->ca, f->serials, &f->c, f->r, &o, payload, t, &p, NULL, &job),
	                 ORDERS_FINALIZE_LATER);
	orders_finalize_later_free(job);
	struct store_order again;
	assert_int_equal(store_order_get(f->s, o.id, &again), STORE_OK);
	assert_string_equal(orders_order_status(f->s, &again, t + 1, NULL), "processing");
	assert_string_equal(orders_order_status(f->s, &again, again.processing_until + 1, &p), "invalid");
	assert_non_null(p);
	problem_free(p);
	store_order_clear(&again);
	store_order_clear(&o);
	json_decref(payload);
	free(csr);
}

/* A wildcard order is issued with the wildcard SAN; an IP-only order without CN. */
static void test_finalize_names(void **state)
{
	struct fx *f = *state;
	struct store_order o;
	struct problem *p = NULL;
	f->c.allow_ip = 1;
	f->c.lab = 1;
	assert_int_equal(create(f, "acct1", "[{\"type\":\"dns\",\"value\":\"*.w.example.com\"},{\"type\":\"dns\",\"value\":\"w.example.com\"}]",
	                        NOW, &o, &p), 0);
	validate(f, o.authz_ids[0], "dns-01", 1, NOW);
	validate(f, o.authz_ids[1], "tls-alpn-01", 1, NOW);
	/* The CSR must carry the wildcard, not just the base name. */
	assert_int_equal(finalize(f, &o, "w.example.com", NOW + 1, &p), -1);
	assert_string_equal(problem_short_type(p), "badCSR");
	assert_non_null(strstr(p->detail, "missing *.w.example.com"));
	problem_free(p);
	assert_int_equal(finalize(f, &o, "*.w.example.com,w.example.com", NOW + 1, &p), 0);
	struct store_cert c;
	assert_int_equal(store_cert_get(f->s, o.cert_serial, &c), STORE_OK);
	const unsigned char *d = c.der;
	X509 *x = d2i_X509(NULL, &d, (long)c.der_len);
	assert_non_null(x);
	assert_int_equal(X509_check_host(x, "any.w.example.com", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "w.example.com", 0, 0, NULL), 1);
	X509_free(x);
	store_cert_clear(&c);
	store_order_clear(&o);

	assert_int_equal(create(f, "acct1", "[{\"type\":\"ip\",\"value\":\"::1\"}]", NOW, &o, &p), 0);
	validate(f, o.authz_ids[0], "http-01", 1, NOW);
	assert_int_equal(finalize(f, &o, "IP:::1", NOW + 1, &p), 0);
	assert_int_equal(store_cert_get(f->s, o.cert_serial, &c), STORE_OK);
	d = c.der;
	x = d2i_X509(NULL, &d, (long)c.der_len);
	assert_non_null(x);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	X509_free(x);
	store_cert_clear(&c);
	store_order_clear(&o);
}


/* Issue 7: serials come from blocks reserved durably before signing (serials.h). With blocks of
 * 3, four issuances reserve two blocks; every certificate's serial ends bound to its order, the
 * serials not handed out stay reserved in the database, and finalize's *o is the order as
 * stored without reading it back. */
static long long count_rows(const char *dir, const char *sql)
{
	char path[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	snprintf(path, sizeof path, "%s/t.db", dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	long long n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void test_finalize_serial_blocks(void **state)
{
	struct fx *f = *state;
	char serials[4][STORE_ID_MAX];
	size_t left[4];
	f->c.lab = 1;
	f->c.authz_reuse = 0;
	for (int i = 0; i < 4; i++) {
		struct store_order o, stored;
		struct problem *p = NULL;
		char name[64], idents[128];
		snprintf(name, sizeof name, "s%d.example.com", i);
		snprintf(idents, sizeof idents, "[{\"type\":\"dns\",\"value\":\"%s\"}]", name);
		assert_int_equal(create(f, "acct1", idents, NOW, &o, &p), 0);
		validate(f, o.authz_ids[0], "http-01", 1, NOW);
		if (finalize(f, &o, name, NOW + 1, &p) != 0)
			fail_msg("%s: %s", name, p ? p->detail : "?");
		left[i] = serials_left(f->serials);
		assert_int_equal(store_order_get(f->s, o.id, &stored), STORE_OK);
		assert_string_equal(o.status, "valid");
		assert_string_equal(stored.status, "valid");
		assert_string_equal(o.cert_serial, stored.cert_serial);
		snprintf(serials[i], sizeof serials[i], "%s", o.cert_serial);
		for (int k = 0; k < i; k++)
			assert_string_not_equal(serials[k], serials[i]);
		char sql[400];
		snprintf(sql, sizeof sql, "SELECT count(*) FROM serials s JOIN certs c USING (serial) "
		         "WHERE s.serial = '%s' AND s.order_id = '%s' AND c.order_id = '%s'",
		         o.cert_serial, o.id, o.id);
		assert_int_equal(count_rows(f->dir, sql), 1);
		store_order_clear(&o);
		store_order_clear(&stored);
	}
	assert_int_equal(left[0], 2);
	assert_int_equal(left[2], 0);
	assert_int_equal(left[3], 2); /* the second block */
	assert_int_equal(count_rows(f->dir, "SELECT count(*) FROM serial_reserve"), 2);
	assert_int_equal(count_rows(f->dir, "SELECT count(*) FROM serials"), 4);
}

static void set_hold(int on)
{
	pthread_mutex_lock(&dns_mu);
	dns_hold = on;
	pthread_mutex_unlock(&dns_mu);
}

/* A finalize of o at t in a child process of its own (its own store handle and resolver, as
 * another instance or the cobbled that crashes), for names whose CAA recheck waits on
 * hold.test. The child exits 0 if it issued, 1 if the certificate could not be stored, 2
 * otherwise. f->s is closed while the child runs (SQLite handles do not cross fork). */
static pid_t finalize_in_child(struct fx *f, struct store_order *o, const char *names, int64_t t)
{
	char spec[128], fwd[64], err[256];
	char *csr = csr_b64(names);
	snprintf(spec, sizeof spec, "sqlite:%s/t.db", f->dir);
	snprintf(fwd, sizeof fwd, "127.0.0.1:%d", dns_port);
	store_close(f->s);
	f->s = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *s = NULL;
		struct resolver *r = NULL;
		struct problem *p = NULL;
		if (store_open(spec, &s, err, sizeof err) != STORE_OK || resolver_new(fwd, 30000, &r, err, sizeof err))
			_exit(3);
		json_t *payload = json_pack("{s:s}", "csr", csr);
		int rc = orders_finalize(s, f->ca, f->serials, &f->c, r, o, payload, t, &p, NULL);
		int code = rc == 0 ? 0 : p && strstr(p->detail, "could not store the certificate") ? 1 : 2;
		if (code == 2)
			fprintf(stderr, "child finalize: %s\n", p ? p->detail : "?");
		_exit(code);
	}
	free(csr);
	assert_int_equal(store_open(spec, &f->s, err, sizeof err), STORE_OK);
	/* Wait until the child's finalize has moved the order to processing. */
	for (int i = 0; i < 2000; i++) {
		struct store_order now;
		assert_int_equal(store_order_get(f->s, o->id, &now), STORE_OK);
		int processing = strcmp(now.status, "processing") == 0;
		store_order_clear(&now);
		if (processing)
			return pid;
		usleep(5000);
	}
	kill(pid, SIGKILL);
	fail_msg("the child's finalize did not reach processing");
	return -1;
}

static int child_exit(pid_t pid)
{
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* The order as stored reads `want` at t; for "invalid", with the interrupted problem. */
static void assert_reads(struct fx *f, const char *id, int64_t t, const char *want)
{
	struct store_order o;
	struct problem *p = NULL;
	assert_int_equal(store_order_get(f->s, id, &o), STORE_OK);
	assert_string_equal(orders_order_status(f->s, &o, t, &p), want);
	if (strcmp(want, "invalid") == 0) {
		assert_non_null(p);
		assert_string_equal(problem_short_type(p), "serverInternal");
		assert_int_equal(p->status, 500);
		assert_string_equal(p->detail, "issuance was interrupted; create a new order");
	} else {
		assert_null(p);
	}
	problem_free(p);
	store_order_clear(&o);
}

/* RFC 8555 §7.1.6: processing is transient. A finalize killed (SIGKILL) between the order's
 * move to processing and its certificate leaves the order processing only until the bound
 * (orders_processing_seconds); a read after it stores the order invalid, once; a read before
 * it leaves a running finalize alone; a finalize that outlives its bound cannot store its
 * certificate; a normal finalize is unaffected. */
static void test_finalize_interrupted(void **state)
{
	struct fx *f = *state;
	struct store_order o, stored;
	struct problem *p = NULL;
	f->c.lab = 1;
	f->c.authz_reuse = 0;
	assert_int_equal(orders_processing_seconds(&f->c), 60); /* validationTimeoutMs 10000 */
	f->c.validation_timeout_ms = 45000;
	assert_int_equal(orders_processing_seconds(&f->c), 135);
	f->c.validation_timeout_ms = 10000;
	const int64_t bound = 60, old = 9 * 3600; /* validated 9 h ago: CAA is rechecked */

	/* A finalize killed while its CAA recheck waits on DNS. */
	assert_int_equal(create(f, "acct1", "[{\"type\":\"dns\",\"value\":\"a.hold.test\"}]", NOW, &o, &p), 0);
	validate(f, o.authz_ids[0], "dns-01", 1, NOW);
	int64_t t = NOW + old;
	set_hold(1);
	pid_t pid = finalize_in_child(f, &o, "a.hold.test", t);
	assert_int_equal(store_order_get(f->s, o.id, &stored), STORE_OK);
	assert_int_equal(stored.processing_until, t + bound);
	store_order_clear(&stored);
	assert_reads(f, o.id, t + bound - 1, "processing"); /* running: left alone */
	assert_reads(f, o.id, t, "processing");
	kill(pid, SIGKILL);
	assert_int_equal(child_exit(pid), 128 + SIGKILL);
	set_hold(0);
	assert_reads(f, o.id, t + bound - 1, "processing"); /* dead, but within the bound */
	assert_int_equal(store_order_get(f->s, o.id, &stored), STORE_OK);
	assert_string_equal(stored.status, "processing");
	assert_reads(f, o.id, t + bound, "invalid");
	/* Stored once: a reader still holding the processing order misses the compare-and-set
	 * and says processing (its client polls again), the stored problem is the first one. */
	assert_string_equal(orders_order_status(f->s, &stored, t + bound + 5, &p), "processing");
	assert_null(p);
	store_order_clear(&stored);
	assert_int_equal(store_order_get(f->s, o.id, &stored), STORE_OK);
	assert_string_equal(stored.status, "invalid");
	assert_non_null(strstr(stored.error, "issuance was interrupted; create a new order"));
	assert_non_null(strstr(stored.error, "serverInternal"));
	assert_reads(f, o.id, t + 10 * bound, "invalid");
	/* It cannot be finalized again, and a certificate for it is refused. */
	assert_int_equal(finalize(f, &stored, "a.hold.test", t + bound + 10, &p), -1);
	assert_string_equal(problem_short_type(p), "orderNotReady");
	problem_free(p);
	char serial[STORE_ID_MAX];
	assert_int_equal(serials_take(f->serials, f->s, t, serial), 0);
	unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x00};
	struct store_cert c = {.der = der, .der_len = sizeof der, .issued_at = t, .not_before = t, .not_after = t + 86400};
	snprintf(c.serial, sizeof c.serial, "%s", serial);
	snprintf(c.account_id, sizeof c.account_id, "acct1");
	snprintf(c.order_id, sizeof c.order_id, "%s", o.id);
	assert_int_equal(store_cert_insert_for_order(f->s, &c), STORE_CONFLICT);
	store_order_clear(&stored);
	assert_int_equal(store_order_get(f->s, o.id, &stored), STORE_OK);
	assert_string_equal(stored.status, "invalid");
	assert_string_equal(stored.cert_serial, "");
	store_order_clear(&stored);
	store_order_clear(&o);

	/* A finalize that outlives its bound (here: DNS held past it) is failed under it, and
	 * its certificate is refused when it comes. */
	assert_int_equal(create(f, "acct1", "[{\"type\":\"dns\",\"value\":\"b.hold.test\"}]", NOW, &o, &p), 0);
	validate(f, o.authz_ids[0], "dns-01", 1, NOW);
	set_hold(1);
	pid = finalize_in_child(f, &o, "b.hold.test", t);
	assert_reads(f, o.id, t + bound, "invalid");
	set_hold(0);
	assert_int_equal(child_exit(pid), 1); /* signed, but "could not store the certificate" */
	assert_reads(f, o.id, t + bound, "invalid");
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM certs WHERE order_id = '%s'", o.id);
	assert_int_equal(count_rows(f->dir, sql), 0);
	store_order_clear(&o);

	/* A normal finalize: valid, and stays valid long after its bound. */
	assert_int_equal(create(f, "acct1", "[{\"type\":\"dns\",\"value\":\"c.example.com\"}]", NOW, &o, &p), 0);
	validate(f, o.authz_ids[0], "http-01", 1, NOW);
	if (finalize(f, &o, "c.example.com", NOW + 1, &p) != 0)
		fail_msg("finalize: %s", p ? p->detail : "?");
	assert_int_equal(store_order_get(f->s, o.id, &stored), STORE_OK);
	assert_string_equal(stored.status, "valid");
	assert_int_equal(stored.processing_until, NOW + 1 + bound);
	assert_string_equal(orders_order_status(f->s, &stored, NOW + 1 + 100 * bound, &p), "valid");
	assert_null(p);
	assert_string_equal(stored.cert_serial, o.cert_serial);
	store_order_clear(&stored);
	assert_int_equal(store_order_get(f->s, o.id, &stored), STORE_OK);
	assert_string_equal(stored.status, "valid");
	store_order_clear(&stored);
	store_order_clear(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_challenges_per_identifier, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reuse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_attempt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_finalize_caa_recheck, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_finalize_later_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_finalize_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_finalize_serial_blocks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_finalize_interrupted, setup, teardown),
	};
	return cmocka_run_group_tests_name("orders", tests, group_setup, group_teardown);
}

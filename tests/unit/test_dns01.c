/* dns01: validation through the real resolver (libunbound) forwarding to a tiny authoritative
 * UDP DNS server on 127.0.0.1 (ephemeral port) that serves right, wrong, several, split and
 * CNAME'd TXT records, NXDOMAIN, SERVFAIL, silence, and an unsigned zone under a trust anchor
 * (DNSSEC bogus). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "b64url.h"
#include "validation/dns01.h"
#include "validation/resolver.h"

#define KEYAUTH "tok3n.Zm9vYmFyYmF6cXV4dGh1bWJwcmludGJhc2U2NHVybA"
#define T_TXT 16
#define T_CNAME 5

static char digest[64]; /* base64url(SHA-256(KEYAUTH)), computed at setup */

/* ---- the zone: what the server answers for each owner name ---- */
struct zrec {
	const char *name;  /* lower case, no trailing dot */
	int rcode;         /* 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN */
	int drop;          /* never answer */
	const char *cname; /* answer with a CNAME to this name */
	const char *txt[4];/* TXT records; "@" stands for the right digest */
	int split;         /* send each TXT as several 5-byte character-strings */
};

static const struct zrec zone[] = {
	{"_acme-challenge.good.test", 0, 0, NULL, {"@"}, 0},
	{"_acme-challenge.several.test", 0, 0, NULL, {"stale-value", "@", "other"}, 0},
	{"_acme-challenge.wrong.test", 0, 0, NULL, {"not-the-digest\x01\"x"}, 0},
	{"_acme-challenge.wrongs.test", 0, 0, NULL, {"one", "two"}, 0},
	{"_acme-challenge.split.test", 0, 0, NULL, {"@"}, 1},
	{"_acme-challenge.empty.test", 0, 0, NULL, {NULL}, 0},
	{"_acme-challenge.alias.test", 0, 0, "delegated.other.test", {NULL}, 0},
	{"delegated.other.test", 0, 0, NULL, {"@"}, 0},
	{"_acme-challenge.dangling.test", 0, 0, "nowhere.other.test", {NULL}, 0},
	{"_acme-challenge.broken.test", 2, 0, NULL, {NULL}, 0},
	{"_acme-challenge.silent.test", 0, 1, NULL, {NULL}, 0},
	{"_acme-challenge.x.signed.test", 0, 0, NULL, {"@"}, 0},
};

static int srv_fd = -1, srv_port, stop_pipe[2];
static pthread_t srv_thread;

static const struct zrec *lookup(const char *name)
{
	for (size_t i = 0; i < sizeof zone / sizeof zone[0]; i++)
		if (strcmp(zone[i].name, name) == 0)
			return &zone[i];
	return NULL;
}

/* Reads the question name at q (uncompressed, as resolvers send it) into out, lower case. */
static int qname(const unsigned char *m, size_t len, size_t *off, char *out, size_t outlen)
{
	size_t o = 0, p = *off;
	while (p < len && m[p]) {
		size_t l = m[p++];
		if (l > 63 || p + l > len || o + l + 2 > outlen)
			return -1;
		if (o)
			out[o++] = '.';
		for (size_t i = 0; i < l; i++)
			out[o++] = (char)tolower(m[p + i]);
		p += l;
	}
	if (p >= len)
		return -1;
	out[o] = '\0';
	*off = p + 1;
	return 0;
}

static size_t put_name(unsigned char *b, size_t o, const char *name)
{
	while (*name) {
		size_t l = strcspn(name, ".");
		b[o++] = (unsigned char)l;
		memcpy(b + o, name, l);
		o += l;
		name += l;
		if (*name == '.')
			name++;
	}
	b[o++] = 0;
	return o;
}

static size_t put_rr_head(unsigned char *b, size_t o, int type, size_t rdlen)
{
	unsigned char h[] = {0xc0, 12, 0, (unsigned char)type, 0, 1, 0, 0, 0, 0,
	                     (unsigned char)(rdlen >> 8), (unsigned char)rdlen};
	memcpy(b + o, h, sizeof h);
	return o + sizeof h;
}

static void answer(const unsigned char *q, size_t qlen, struct sockaddr_in *from, socklen_t fl)
{
	unsigned char b[1500];
	char name[256];
	size_t off = 12;
	if (qlen < 12 || qname(q, qlen, &off, name, sizeof name) != 0 || off + 4 > qlen)
		return;
	int qtype = q[off] << 8 | q[off + 1];
	size_t qend = off + 4;
	const struct zrec *z = lookup(name);
	if (z && z->drop)
		return;
	memcpy(b, q, qend); /* id, question */
	b[2] = 0x84 | (q[2] & 0x01); /* QR AA, RD copied */
	b[3] = 0x80;                 /* RA */
	b[4] = 0, b[5] = 1;
	memset(b + 6, 0, 6);
	size_t o = qend, an = 0;
	if (!z) {
		/* Names we know nothing about: NXDOMAIN, except zone apexes (DNSKEY/DS lookups of
		 * a validating resolver), which exist and are empty. */
		if (strchr(name, '.') && strchr(name, '.') != strrchr(name, '.'))
			b[3] |= 3;
	} else if (z->rcode) {
		b[3] |= (unsigned char)z->rcode;
	} else if (z->cname) {
		unsigned char rd[256];
		size_t l = put_name(rd, 0, z->cname);
		o = put_rr_head(b, o, T_CNAME, l);
		memcpy(b + o, rd, l);
		o += l;
		an++;
	} else if (qtype == T_TXT) {
		for (size_t i = 0; i < 4 && z->txt[i]; i++) {
			const char *t = strcmp(z->txt[i], "@") == 0 ? digest : z->txt[i];
			size_t tl = strlen(t), chunk = z->split ? 5 : 255;
			size_t rdlen = tl + (tl + chunk - 1) / chunk;
			o = put_rr_head(b, o, T_TXT, rdlen);
			for (size_t k = 0; k < tl; k += chunk) {
				size_t c = tl - k < chunk ? tl - k : chunk;
				b[o++] = (unsigned char)c;
				memcpy(b + o, t + k, c);
				o += c;
			}
			an++;
		}
	}
	b[7] = (unsigned char)an;
	sendto(srv_fd, b, o, 0, (struct sockaddr *)from, fl);
}

static void *srv_main(void *arg)
{
	(void)arg;
	struct pollfd pfd[2] = {{.fd = srv_fd, .events = POLLIN}, {.fd = stop_pipe[0], .events = POLLIN}};
	for (;;) {
		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[1].revents)
			break;
		unsigned char q[1500];
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(srv_fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
		if (n > 0)
			answer(q, (size_t)n, &from, fl);
	}
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	unsigned char d[32];
	unsigned int dl;
	EVP_Digest(KEYAUTH, strlen(KEYAUTH), d, &dl, EVP_sha256(), NULL);
	b64url_encode_to(d, 32, digest);
	srv_fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&sa, sizeof sa) != 0 || pipe(stop_pipe) != 0)
		return -1;
	socklen_t sl = sizeof sa;
	getsockname(srv_fd, (struct sockaddr *)&sa, &sl);
	srv_port = ntohs(sa.sin_port);
	return pthread_create(&srv_thread, NULL, srv_main, NULL);
}

static int teardown(void **state)
{
	(void)state;
	if (write(stop_pipe[1], "x", 1) == 1)
		pthread_join(srv_thread, NULL);
	close(srv_fd);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	return 0;
}

static struct resolver *new_resolver(int timeout_ms)
{
	char fwd[64], err[256];
	struct resolver *r = NULL;
	snprintf(fwd, sizeof fwd, "127.0.0.1:%d", srv_port);
	if (resolver_new(fwd, timeout_ms, &r, err, sizeof err) != 0)
		fail_msg("resolver_new: %s", err);
	return r;
}

struct dcase {
	const char *name;
	int ok;
	const char *type;   /* problem type (short) when refused */
	const char *detail; /* substring of the detail */
};

static const struct dcase cases[] = {
	{"good.test", 1, NULL, NULL},
	{"several.test", 1, NULL, NULL},
	{"split.test", 1, NULL, NULL},
	{"alias.test", 1, NULL, NULL},
	{"wrong.test", 0, "unauthorized", "Incorrect TXT record \"not-the-digest\\x01\\x22x\" found at "
	                                  "_acme-challenge.wrong.test"},
	{"wrongs.test", 0, "unauthorized", "(and 1 more)"},
	{"empty.test", 0, "unauthorized", "No TXT record found at _acme-challenge.empty.test"},
	{"absent.test", 0, "unauthorized", "No TXT record found"},
	{"dangling.test", 0, "unauthorized", "No TXT record found"},
	{"broken.test", 0, "dns", "SERVFAIL"},
};

static void test_table(void **state)
{
	(void)state;
	struct resolver *r = new_resolver(3000);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct dcase *c = &cases[i];
		json_t *rec = NULL;
		struct problem *p = NULL;
		int rc = dns01_validate(r, c->name, KEYAUTH, &rec, &p);
		if (c->ok && rc != 0)
			fail_msg("%s: refused: %s", c->name, p && p->detail ? p->detail : "?");
		if (!c->ok) {
			if (rc == 0 || !p)
				fail_msg("%s: accepted", c->name);
			if (strcmp(problem_short_type(p), c->type) != 0)
				fail_msg("%s: type %s, want %s (%s)", c->name, problem_short_type(p), c->type, p->detail);
			if (!strstr(p->detail, c->detail))
				fail_msg("%s: detail \"%s\" lacks \"%s\"", c->name, p->detail, c->detail);
		}
		/* The validationRecord names the identifier (RFC 8555 §8.4 has no addresses). */
		assert_true(json_is_array(rec));
		assert_string_equal(json_string_value(json_object_get(json_array_get(rec, 0), "hostname")), c->name);
		json_decref(rec);
		problem_free(p);
	}
	resolver_free(r);
}

/* A wrong key authorization must not validate against the published digest. */
static void test_wrong_keyauth(void **state)
{
	(void)state;
	struct resolver *r = new_resolver(3000);
	json_t *rec = NULL;
	struct problem *p = NULL;
	assert_int_equal(dns01_validate(r, "good.test", KEYAUTH "x", &rec, &p), -1);
	assert_string_equal(problem_short_type(p), "unauthorized");
	assert_non_null(strstr(p->detail, digest));
	json_decref(rec);
	problem_free(p);
	resolver_free(r);
}

static void test_timeout(void **state)
{
	(void)state;
	struct resolver *r = new_resolver(800);
	json_t *rec = NULL;
	struct problem *p = NULL;
	assert_int_equal(dns01_validate(r, "silent.test", KEYAUTH, &rec, &p), -1);
	assert_string_equal(problem_short_type(p), "dns");
	json_decref(rec);
	problem_free(p);
	resolver_free(r);
}

/* signed.test has a trust anchor but the server sends no signatures: the answer is bogus and
 * the challenge fails with a dns problem, even though the TXT value is right. */
static void test_dnssec_bogus(void **state)
{
	(void)state;
	struct resolver *r = new_resolver(3000);
	char err[256];
	assert_int_equal(resolver_add_trust_anchor(r, "signed.test. DS 12345 13 2 "
	                 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", err, sizeof err), 0);
	json_t *rec = NULL;
	struct problem *p = NULL;
	assert_int_equal(dns01_validate(r, "x.signed.test", KEYAUTH, &rec, &p), -1);
	assert_string_equal(problem_short_type(p), "dns");
	assert_non_null(strstr(p->detail, "DNSSEC"));
	json_decref(rec);
	problem_free(p);
	/* Names outside the anchored zone still validate (insecure, not bogus). */
	assert_int_equal(dns01_validate(r, "good.test", KEYAUTH, &rec, &p), 0);
	json_decref(rec);
	assert_int_equal(resolver_add_trust_anchor(r, "not a record", err, sizeof err) == 0, 0);
	resolver_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_wrong_keyauth),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_dnssec_bogus),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

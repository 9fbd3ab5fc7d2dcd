/* Identifier policy: which DNS names newOrder accepts, and the problem it gives otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "orders/policy.h"

struct policy_case {
	const char *name;
	int ok;
	const char *canon;  /* expected canonical form when ok */
	const char *detail; /* substring of the problem detail when refused */
	int wildcard;       /* expected *wildcard when ok */
};

static const struct policy_case cases[] = {
    {"example.com", 1, "example.com", NULL, 0},
    {"WWW.Example.COM", 1, "www.example.com", NULL, 0},
    {"a-b.c-d.example", 1, "a-b.c-d.example", NULL, 0},
    {"xn--bcher-kva.example", 1, "xn--bcher-kva.example", NULL, 0},
    {"123.example.com", 1, "123.example.com", NULL, 0},
    {"one.cobble.test", 1, "one.cobble.test", NULL, 0},
    {"", 0, NULL, "is empty", 0},
    {"localhost", 0, NULL, "only one label", 0},
    {"example.com.", 0, NULL, "ends in a dot", 0},
    {"exa_mple.com", 0, NULL, "character outside", 0},
    {"ex ample.com", 0, NULL, "character outside", 0},
    {"-lead.example.com", 0, NULL, "starts or ends with '-'", 0},
    {"trail-.example.com", 0, NULL, "starts or ends with '-'", 0},
    {"a..example.com", 0, NULL, "empty label", 0},
    {"ab--cd.example.com", 0, NULL, "reserved label", 0},
    {"xn--zzzzzzz-.example.com", 0, NULL, "starts or ends", 0},
    {"xn--a.example.com", 0, NULL, "invalid IDN A-label", 0},
    {"127.0.0.1", 0, NULL, "IP address", 0},
    {"10.1.2.3", 0, NULL, "IP address", 0},
    /* RFC 8555 §7.1.3: a wildcard is the whole leftmost label; the base is what is validated. */
    {"*.example.com", 1, "example.com", NULL, 1},
    {"*.WWW.Example.com", 1, "www.example.com", NULL, 1},
    {"*.cobble.test", 1, "cobble.test", NULL, 1},
    {"a.*.example.com", 0, NULL, "wildcard", 0},
    {"*.*.example.com", 0, NULL, "wildcard", 0},
    {"**.example.com", 0, NULL, "wildcard", 0},
    {"*example.com", 0, NULL, "wildcard", 0},
    {"*", 0, NULL, "wildcard", 0},
    {"*.", 0, NULL, "is empty", 0},
    {"*.com", 0, NULL, "only one label", 0},
    /* Public suffixes (libpsl, ICANN section): no wildcard right below, not the suffix itself. */
    {"*.co.uk", 0, NULL, "covers the public suffix \"co.uk\"", 0},
    {"*.github.io", 1, "github.io", NULL, 1}, /* a private-section suffix is a registrable name here */
    {"co.uk", 0, NULL, "is a public suffix", 0},
    {"example.co.uk", 1, "example.co.uk", NULL, 0},
    {"*.example.co.uk", 1, "example.co.uk", NULL, 1},
    {"*.denied.example", 0, NULL, "denied suffix", 0},
    {"bad.denied.example", 0, NULL, "denied suffix", 0},
    {"denied.example", 0, NULL, "denied suffix", 0},
    {"notdenied.example", 1, "notdenied.example", NULL, 0},
};

static void test_table(void **state)
{
	(void)state;
	struct config c;
	config_defaults(&c);
	c.denied_suffixes = calloc(1, sizeof(char *));
	c.denied_suffixes[0] = strdup("denied.example");
	c.ndenied = 1;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[POLICY_NAME_MAX + 1] = "";
		int wild = 0;
		struct problem *p = NULL;
		int rc = policy_check_dns(&c, cases[i].name, out, &wild, &p);
		if (cases[i].ok) {
			if (rc != 0)
				fail_msg("%s: refused: %s", cases[i].name, p ? p->detail : "?");
			assert_string_equal(out, cases[i].canon);
			assert_int_equal(wild, cases[i].wildcard);
			assert_null(p);
		} else {
			if (rc == 0)
				fail_msg("%s: accepted", cases[i].name);
			assert_non_null(p);
			assert_string_equal(p->type, "urn:ietf:params:acme:error:rejectedIdentifier");
			assert_int_equal(p->status, 400);
			if (!strstr(p->detail, cases[i].detail))
				fail_msg("%s: detail \"%s\" lacks \"%s\"", cases[i].name, p->detail, cases[i].detail);
			problem_free(p);
		}
	}
	config_free(&c);
}

static void test_lengths(void **state)
{
	(void)state;
	struct config c;
	config_defaults(&c);
	char name[400];
	char out[POLICY_NAME_MAX + 1];
	int wild;
	struct problem *p = NULL;
	/* 63-character label: fine; 64: refused. */
	memset(name, 'a', 63);
	strcpy(name + 63, ".example");
	assert_int_equal(policy_check_dns(&c, name, out, &wild, &p), 0);
	memset(name, 'a', 64);
	strcpy(name + 64, ".example");
	assert_int_equal(policy_check_dns(&c, name, out, &wild, &p), -1);
	assert_non_null(strstr(p->detail, "longer than 63"));
	problem_free(p);
	p = NULL;
	/* 253 characters total: fine; 254: refused. */
	/* 3 x (62 + dot) + 60 + ".com" = 253 */
	memset(name, 'b', sizeof name);
	name[62] = name[125] = name[188] = '.';
	memcpy(name + 249, ".com", 5);
	assert_int_equal(strlen(name), 253);
	assert_int_equal(policy_check_dns(&c, name, out, &wild, &p), 0);
	name[0] = 'x';
	memmove(name + 1, name, 254);
	assert_int_equal(strlen(name), 254);
	assert_int_equal(policy_check_dns(&c, name, out, &wild, &p), -1);
	problem_free(p);
	config_free(&c);
}

static void test_allowed_suffixes(void **state)
{
	(void)state;
	struct config c;
	config_defaults(&c);
	c.allowed_suffixes = calloc(1, sizeof(char *));
	c.allowed_suffixes[0] = strdup("cobble.test");
	c.nallowed = 1;
	char out[POLICY_NAME_MAX + 1];
	int wild;
	struct problem *p = NULL;
	assert_int_equal(policy_check_dns(&c, "a.cobble.test", out, &wild, &p), 0);
	assert_int_equal(policy_check_dns(&c, "cobble.test", out, &wild, &p), 0);
	assert_int_equal(policy_check_dns(&c, "evilcobble.test", out, &wild, &p), -1);
	assert_non_null(strstr(p->detail, "allowed suffix"));
	problem_free(p);
	config_free(&c);
}

/* RFC 8738 ip identifiers: off unless allowIP; canonical text only; public addresses only
 * outside lab mode. */
static void test_ip(void **state)
{
	(void)state;
	struct config c;
	config_defaults(&c);
	char out[POLICY_IP_MAX];
	struct problem *p = NULL;
	assert_int_equal(policy_check_ip(&c, "192.0.2.1", out, &p), -1);
	assert_string_equal(problem_short_type(p), "unsupportedIdentifier");
	assert_non_null(strstr(p->detail, "allowIP"));
	problem_free(p);
	c.allow_ip = 1;
	const struct {
		const char *in;
		int lab;
		const char *type; /* NULL: accepted */
		const char *detail;
	} t[] = {
		{"8.8.8.8", 0, NULL, NULL},
		{"2606:4700:4700::1111", 0, NULL, NULL},
		{"127.0.0.1", 1, NULL, NULL},
		{"::1", 1, NULL, NULL},
		{"127.0.0.1", 0, "rejectedIdentifier", "loopback"},
		{"10.0.0.1", 0, "rejectedIdentifier", "a private (RFC 1918) address"},
		{"::ffff:127.0.0.1", 0, "rejectedIdentifier", "policy forbids"},
		{"2606:4700:4700:0:0:0:0:1111", 0, "rejectedIdentifier", "write it as \"2606:4700:4700::1111\""},
		{"2606:4700:4700::AAAA", 0, "rejectedIdentifier", "canonical form"},
		{"008.8.8.8", 0, "rejectedIdentifier", "not an IPv4 or IPv6"},
		{"8.8.8", 0, "rejectedIdentifier", "not an IPv4 or IPv6"},
		{"8.8.8.8 ", 0, "rejectedIdentifier", "not an IPv4 or IPv6"},
		{"fe80::1%eth0", 1, "rejectedIdentifier", "not an IPv4 or IPv6"},
		{"[::1]", 1, "rejectedIdentifier", "not an IPv4 or IPv6"},
		{"example.com", 0, "rejectedIdentifier", "not an IPv4 or IPv6"},
		{"", 0, "rejectedIdentifier", "not an IPv4 or IPv6"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		c.lab = t[i].lab;
		p = NULL;
		int rc = policy_check_ip(&c, t[i].in, out, &p);
		if (!t[i].type) {
			if (rc != 0)
				fail_msg("%s: refused: %s", t[i].in, p ? p->detail : "?");
			assert_string_equal(out, t[i].in);
			continue;
		}
		if (rc == 0)
			fail_msg("%s: accepted", t[i].in);
		assert_string_equal(problem_short_type(p), t[i].type);
		if (!strstr(p->detail, t[i].detail))
			fail_msg("%s: detail \"%s\" lacks \"%s\"", t[i].in, p->detail, t[i].detail);
		problem_free(p);
	}
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_allowed_suffixes),
	    cmocka_unit_test(test_ip),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}

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
};

static const struct policy_case cases[] = {
    {"example.com", 1, "example.com", NULL},
    {"WWW.Example.COM", 1, "www.example.com", NULL},
    {"a-b.c-d.example", 1, "a-b.c-d.example", NULL},
    {"xn--bcher-kva.example", 1, "xn--bcher-kva.example", NULL},
    {"123.example.com", 1, "123.example.com", NULL},
    {"one.cobble.test", 1, "one.cobble.test", NULL},
    {"", 0, NULL, "is empty"},
    {"localhost", 0, NULL, "only one label"},
    {"example.com.", 0, NULL, "ends in a dot"},
    {"exa_mple.com", 0, NULL, "character outside"},
    {"ex ample.com", 0, NULL, "character outside"},
    {"-lead.example.com", 0, NULL, "starts or ends with '-'"},
    {"trail-.example.com", 0, NULL, "starts or ends with '-'"},
    {"a..example.com", 0, NULL, "empty label"},
    {"ab--cd.example.com", 0, NULL, "reserved label"},
    {"xn--zzzzzzz-.example.com", 0, NULL, "starts or ends"},
    {"xn--a.example.com", 0, NULL, "invalid IDN A-label"},
    {"127.0.0.1", 0, NULL, "IP address"},
    {"10.1.2.3", 0, NULL, "IP address"},
    {"*.example.com", 0, NULL, "needs dns-01"},
    {"a.*.example.com", 0, NULL, "wildcard"},
    {"bad.denied.example", 0, NULL, "denied suffix"},
    {"denied.example", 0, NULL, "denied suffix"},
    {"notdenied.example", 1, "notdenied.example", NULL},
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_allowed_suffixes),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}

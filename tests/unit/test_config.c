/* Configuration: flags, JSON fields, and errors that name the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "config.h"

static void test_defaults(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	char *argv[] = {"cobbled", NULL};
	config_defaults(&c);
	assert_int_equal(config_load(&c, 1, argv, err, sizeof err), 0);
	assert_string_equal(c.data_dir, "./cobble-data");
	assert_string_equal(c.listen_host, "127.0.0.1");
	assert_int_equal(c.listen_port, 14000);
	assert_string_equal(c.base_url, "https://127.0.0.1:14000");
	assert_string_equal(c.database, "sqlite:./cobble-data/cobble.db");
	assert_int_equal(c.http01_port, 80);
	assert_int_equal(c.lab, 0);
	config_free(&c);
}

static void test_flags(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	char *argv[] = {"cobbled", "--data-dir", "/tmp/x", "--listen", "[::1]:15000", "--http01-port", "5002",
	                "--lab", "--dns-resolver", "127.0.0.1:8053", NULL};
	config_defaults(&c);
	assert_int_equal(config_load(&c, 10, argv, err, sizeof err), 0);
	assert_string_equal(c.listen_host, "::1");
	assert_int_equal(c.listen_port, 15000);
	assert_string_equal(c.base_url, "https://[::1]:15000");
	assert_int_equal(c.http01_port, 5002);
	assert_int_equal(c.lab, 1);
	assert_string_equal(c.dns_resolver, "127.0.0.1:8053");
	config_free(&c);
}

static void test_bad_flags(void **state)
{
	(void)state;
	struct {
		char *arg1, *arg2;
		const char *want;
	} cases[] = {
	    {"--listen", "nonsense", "--listen"},
	    {"--http01-port", "99999", "--http01-port"},
	    {"--bogus", NULL, "--bogus"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct config c;
		char err[256] = "";
		char *argv[] = {"cobbled", cases[i].arg1, cases[i].arg2, NULL};
		config_defaults(&c);
		assert_int_equal(config_load(&c, cases[i].arg2 ? 3 : 2, argv, err, sizeof err), -1);
		if (!strstr(err, cases[i].want))
			fail_msg("error \"%s\" does not name %s", err, cases[i].want);
		config_free(&c);
	}
}

static void test_json(void **state)
{
	(void)state;
	struct {
		const char *json;
		int ok;
		const char *want;
	} cases[] = {
	    {"{\"termsOfService\":\"https://x/tos\",\"identifierPolicy\":{\"maxIdentifiers\":5}}", 1, NULL},
	    {"{\"termsOfServce\":\"x\"}", 0, "\"termsOfServce\" is unknown"},
	    {"{\"http01Port\":\"80\"}", 0, "\"http01Port\" must be an integer"},
	    {"{\"lab\":1}", 0, "\"lab\" must be true or false"},
	    {"{\"identifierPolicy\":{\"deniedSuffixes\":[1]}}", 0, "\"identifierPolicy.deniedSuffixes\""},
	    {"{\"identifierPolicy\":{\"nope\":1}}", 0, "\"identifierPolicy.nope\" is unknown"},
	    {"{\"certificateValidityDays\":1000}", 0, "\"certificateValidityDays\""},
	    {"[1,2]", 0, "must be a JSON object"},
	    {"{", 0, "not valid JSON"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct config c;
		char err[256] = "";
		config_defaults(&c);
		int rc = config_apply_json(&c, cases[i].json, strlen(cases[i].json), err, sizeof err);
		if (cases[i].ok) {
			assert_int_equal(rc, 0);
			assert_string_equal(c.tos_url, "https://x/tos");
			assert_int_equal(c.max_identifiers, 5);
		} else {
			assert_int_equal(rc, -1);
			if (!strstr(err, cases[i].want))
				fail_msg("%s: error \"%s\" lacks %s", cases[i].json, err, cases[i].want);
		}
		config_free(&c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_bad_flags),
	    cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}

/* renewal.json: what parses, what is refused (with the field named), and that what we
 * write reads back the same. The modules are compiled in directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "../../src/agent/store/renewal.c"
#include "../../src/agent/solvers/solver.c"

/* solver.c refers to the back ends; renewal parsing never calls them. */
static int no_init(void **s, const struct solver_cfg *c, char *e, size_t l)
{
	(void)s; (void)c; (void)e; (void)l;
	return -1;
}
static int no_present(void *s, const char *i, const char *t, const char *k, char *e, size_t l)
{
	(void)s; (void)i; (void)t; (void)k; (void)e; (void)l;
	return -1;
}
static void no_cleanup(void *s, const char *i, const char *t, const char *k) { (void)s; (void)i; (void)t; (void)k; }
static void no_fini(void *s) { (void)s; }
const struct solver_impl solver_http01_webroot = {no_init, no_present, no_cleanup, no_fini, NULL},
                         solver_http01_standalone = {no_init, no_present, no_cleanup, no_fini, NULL},
                         solver_dns01_hook = {no_init, no_present, no_cleanup, no_fini, NULL},
                         solver_dns01_rfc2136 = {no_init, no_present, no_cleanup, no_fini, NULL},
                         solver_tlsalpn01_standalone = {no_init, no_present, no_cleanup, no_fini, NULL};

#define GOOD_HEAD "{\"version\":1,\"server\":\"https://ca/dir\",\"domains\":[\"a.example\",\"*.a.example\"],"

static void test_good(void **state)
{
	(void)state;
	struct renewal r;
	char err[200];
	const char *txt = GOOD_HEAD "\"key_type\":\"rsa3072\",\"reuse_key\":true,\"profile\":\"shortlived\","
	                            "\"deploy_hook\":\"systemctl reload nginx\",\"solver\":{\"type\":\"dns01-hook\","
	                            "\"hook\":\"/usr/local/bin/dns-hook\"}}";
	assert_int_equal(renewal_parse(txt, strlen(txt), &r, err, sizeof err), 0);
	assert_string_equal(r.server, "https://ca/dir");
	assert_int_equal(r.ndomains, 2);
	assert_string_equal(r.domains[1], "*.a.example");
	assert_string_equal(r.key_type, "rsa3072");
	assert_true(r.reuse_key);
	assert_string_equal(r.profile, "shortlived");
	assert_null(r.preferred_chain);
	assert_int_equal(r.solver.kind, SOLVER_DNS01_HOOK);
	assert_string_equal(r.solver.hook, "/usr/local/bin/dns-hook");

	/* round trip */
	json_t *j = renewal_to_json(&r);
	char *again = json_dumps(j, 0);
	struct renewal r2;
	assert_int_equal(renewal_parse(again, strlen(again), &r2, err, sizeof err), 0);
	assert_string_equal(r2.deploy_hook, r.deploy_hook);
	assert_int_equal(r2.solver.kind, r.solver.kind);
	assert_int_equal(r2.reuse_key, 1);
	renewal_clear(&r2);
	free(again);
	json_decref(j);
	renewal_clear(&r);

	/* defaults: key_type ec256, reuse_key false, standalone port kept */
	txt = GOOD_HEAD "\"solver\":{\"type\":\"http01-standalone\",\"port\":8080}}";
	assert_int_equal(renewal_parse(txt, strlen(txt), &r, err, sizeof err), 0);
	assert_string_equal(r.key_type, "ec256");
	assert_false(r.reuse_key);
	assert_int_equal(r.solver.port, 8080);
	renewal_clear(&r);
}

static void test_bad(void **state)
{
	(void)state;
	static const struct {
		const char *txt, *err;
	} cases[] = {
		{"", "not JSON"},
		{"[]", "not a JSON object"},
		{"{\"version\":2}", "\"version\" must be 1"},
		{"{\"version\":1}", "\"server\" is missing"},
		{"{\"version\":1,\"server\":5}", "\"server\" must be a non-empty string"},
		{"{\"version\":1,\"server\":\"s\",\"domains\":[]}", "\"domains\" must be an array"},
		{"{\"version\":1,\"server\":\"s\",\"domains\":[\"a\",7]}", "\"domains\"[1]"},
		{GOOD_HEAD "\"key_type\":\"dsa1024\",\"solver\":{\"type\":\"http01-standalone\"}}", "\"key_type\""},
		{GOOD_HEAD "\"reuse_key\":\"yes\",\"solver\":{\"type\":\"http01-standalone\"}}", "\"reuse_key\""},
		{GOOD_HEAD "\"solver\":\"http01\"}", "\"solver\" must be an object"},
		{GOOD_HEAD "\"solver\":{\"type\":\"tls-sni-01\"}}", "\"solver.type\" \"tls-sni-01\""},
		{GOOD_HEAD "\"solver\":{\"type\":\"http01-webroot\"}}", "\"solver.webroot\" is missing"},
		{GOOD_HEAD "\"solver\":{\"type\":\"dns01-hook\",\"hook\":\"\"}}", "\"solver.hook\" must be"},
		{GOOD_HEAD "\"solver\":{\"type\":\"http01-standalone\",\"port\":70000}}", "\"solver.port\""},
		{GOOD_HEAD "\"solver\":{\"type\":\"dns01-rfc2136\"}}", "\"solver.server\" is missing"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct renewal r;
		char err[200] = "";
		if (renewal_parse(cases[i].txt, strlen(cases[i].txt), &r, err, sizeof err) == 0)
			fail_msg("case %zu parsed but should not: %s", i, cases[i].txt);
		if (!strstr(err, cases[i].err))
			fail_msg("case %zu: error \"%s\" does not mention %s", i, err, cases[i].err);
	}
}

static void test_dns01_helpers(void **state)
{
	(void)state;
	char *n = dns01_record_name("*.example.org");
	assert_string_equal(n, "_acme-challenge.example.org");
	free(n);
	n = dns01_record_name("www.example.org");
	assert_string_equal(n, "_acme-challenge.www.example.org");
	free(n);
	/* RFC 8555 §8.4 example shape: base64url of a SHA-256, 43 characters */
	char v[64];
	assert_int_equal(dns01_txt_value("token.thumbprint", v), 0);
	assert_int_equal(strlen(v), 43);
	assert_int_equal(solver_kind_from_name("tlsalpn01-standalone"), SOLVER_TLSALPN01_STANDALONE);
	assert_string_equal(solver_challenge_type(SOLVER_TLSALPN01_STANDALONE), "tls-alpn-01");
	assert_int_equal(solver_kind_from_name("nope"), SOLVER_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_dns01_helpers),
	};
	return cmocka_run_group_tests_name("agent_renewal", tests, NULL, NULL);
}

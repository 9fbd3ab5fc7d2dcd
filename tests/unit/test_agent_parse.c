/* The agent's parsers for server-controlled input: Retry-After, Link headers, problem
 * documents formatted as one line, RFC 3339 times. Table-driven. The module is compiled
 * in directly: the unit-test build links only libcacore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "../../src/agent/acme/parse.c"

static const time_t NOW = 1767225600; /* 2026-01-01T00:00:00Z */

static void test_retry_after(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		long want;
	} cases[] = {
		{NULL, -1},
		{"", -1},
		{"0", 0},
		{"5", 5},
		{"  30 ", 30},
		{"120", 120},
		{"-1", -1},
		{"1.5", -1},
		{"5s", -1},
		{"99999999999999999999999", -1},
		{"Thu, 01 Jan 2026 00:00:10 GMT", 10},
		{"Wed, 31 Dec 2025 23:59:00 GMT", 0}, /* in the past: no wait */
		{"Thu, 01 Jan 2026 00:01:00 GMT trailing", -1},
		{"Thu, 01 Jan 2026 00:01:00", -1},
		{"tomorrow", -1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		long got = parse_retry_after(cases[i].in, NOW);
		if (got != cases[i].want)
			fail_msg("Retry-After \"%s\": got %ld, want %ld", cases[i].in ? cases[i].in : "(null)", got,
			         cases[i].want);
	}
}

static void test_link(void **state)
{
	(void)state;
	static const struct {
		const char *hdr, *rel;
		size_t n;
		const char *first, *second;
	} cases[] = {
		{"<https://ca/dir>;rel=\"index\"", "index", 1, "https://ca/dir", NULL},
		{"<https://ca/dir>;rel=\"index\"", "alternate", 0, NULL, NULL},
		{"<https://ca/cert/1/1>; rel=\"alternate\", <https://ca/cert/1/2>; rel=\"alternate\"", "alternate", 2,
		 "https://ca/cert/1/1", "https://ca/cert/1/2"},
		{"<https://ca/a>;rel=alternate", "alternate", 1, "https://ca/a", NULL},
		{"<https://ca/a>; title=\"x, y\"; rel=\"up alternate\"", "alternate", 1, "https://ca/a", NULL},
		{"<https://ca/a>; rel=\"alternates\"", "alternate", 0, NULL, NULL},
		{"https://ca/a; rel=alternate", "alternate", 0, NULL, NULL},
		{"<https://ca/a", "alternate", 0, NULL, NULL},
		{"", "index", 0, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *out[4] = {0};
		size_t n = parse_link_rel(cases[i].hdr, cases[i].rel, out, 4);
		if (n != cases[i].n)
			fail_msg("Link \"%s\" rel=%s: %zu matches, want %zu", cases[i].hdr, cases[i].rel, n, cases[i].n);
		if (n > 0)
			assert_string_equal(out[0], cases[i].first);
		if (n > 1)
			assert_string_equal(out[1], cases[i].second);
		for (size_t k = 0; k < n; k++)
			free(out[k]);
	}
}

static void test_problem(void **state)
{
	(void)state;
	static const struct {
		const char *json, *want;
	} cases[] = {
		{"{\"type\":\"urn:ietf:params:acme:error:badNonce\",\"detail\":\"JWS has an invalid anti-replay nonce\"}",
		 "badNonce: JWS has an invalid anti-replay nonce"},
		{"{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\",\"detail\":\"Some names were refused\","
		 "\"subproblems\":[{\"type\":\"urn:ietf:params:acme:error:caa\",\"detail\":\"CAA forbids\","
		 "\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"}},{\"type\":\"urn:ietf:params:acme:error:"
		 "dns\",\"identifier\":{\"type\":\"dns\",\"value\":\"b.example\"}}]}",
		 "rejectedIdentifier: Some names were refused [a.example: caa: CAA forbids; b.example: dns]"},
		{"{\"type\":\"about:blank\",\"detail\":\"line one\\nline two\"}", "about:blank: line one line two"},
		{"{\"detail\":\"no type\"}", "unknown problem: no type"},
		{"[1,2]", "server sent an error without a problem document"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[300];
		json_t *j = json_loads(cases[i].json, 0, NULL);
		assert_non_null(j);
		assert_string_equal(format_problem(j, buf, sizeof buf), cases[i].want);
		json_decref(j);
	}
	/* truncation keeps a terminated string */
	char small[12];
	json_t *j = json_loads(cases[0].json, 0, NULL);
	format_problem(j, small, sizeof small);
	assert_int_equal(strlen(small), sizeof small - 1);
	json_decref(j);
}

static void test_rfc3339(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		time_t want;
	} cases[] = {
		{"2026-01-01T00:00:00Z", NOW},
		{"2026-01-01T00:00:10.123456Z", NOW + 10},
		{"2026-01-01T01:00:00+01:00", NOW},
		{"2025-12-31T19:00:00-05:00", NOW},
		{"2026-01-01T00:00:00", -1},
		{"2026-01-01 00:00:00Z", -1},
		{"2026-01-01T00:00:00Zjunk", -1},
		{"2026-01-01T00:00:00.Z", -1},
		{"", -1},
		{NULL, -1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		time_t got = parse_rfc3339(cases[i].in);
		if (got != cases[i].want)
			fail_msg("\"%s\": got %ld, want %ld", cases[i].in ? cases[i].in : "(null)", (long)got,
			         (long)cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_link),
		cmocka_unit_test(test_problem),
		cmocka_unit_test(test_rfc3339),
	};
	return cmocka_run_group_tests_name("agent_parse", tests, NULL, NULL);
}
